//! dtf reports: a Markdown summary (for CI job summaries and pull-request comments)
//! and a self-contained HTML report, rendered with minijinja from the templates in
//! `report-templates/`.
//!
//! The templates are compiled into the binary so a report never depends on files
//! next to it, and a `--template-dir` can replace any of them by name, so teams can
//! restyle reports without rebuilding dtf. Undefined variables are errors rather than
//! empty strings, so a typo in a custom template fails loudly instead of silently
//! dropping a section.
//!
//! Escaping is on by default for both formats: `.html.j2` templates use minijinja's
//! HTML auto-escaping and `.md.j2` templates a Markdown auto-escape (see
//! [`filters::escape_markdown`]), so data printed with a bare `{{ value }}` is safe in
//! either; the `md`, `mdhtml`, `mdcode` and `json_script` filters cover the other
//! contexts (raw HTML inside Markdown, code fences, embedded JSON). Text that may come
//! from test output in the pull-request comment goes through `md_text`, `md_code` or
//! `md_cell`, which also cap its length (see [`filters`]).
//!
//! [`comment`] renders the pull-request comment within a size budget.

pub mod comment;
pub mod data;
pub mod filters;

mod comparison;
mod context;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

pub use comment::{CommentExtras, CommentLinks, CommentOptions, render_comment};
pub use data::{
    FailureGroupRow, InputProblem, QueryTable, ReportData, SuiteRow, TestRow, TimelineData,
    TimelineEntry, TimelineShard, Totals, Verdict,
};

/// The Markdown summary template's file name.
pub const MARKDOWN_TEMPLATE: &str = "summary.md.j2";
/// The HTML report template's file name.
pub const HTML_TEMPLATE: &str = "report.html.j2";
/// The pull-request comment template's file name.
pub const COMMENT_TEMPLATE: &str = "comment.md.j2";

/// Name of the custom auto-escape mode used for Markdown templates.
const MARKDOWN_ESCAPE: &str = "markdown";

/// Built-in templates, by file name.
const EMBEDDED: [(&str, &str); 3] = [
    (
        MARKDOWN_TEMPLATE,
        include_str!("../../../report-templates/summary.md.j2"),
    ),
    (
        HTML_TEMPLATE,
        include_str!("../../../report-templates/report.html.j2"),
    ),
    (
        COMMENT_TEMPLATE,
        include_str!("../../../report-templates/comment.md.j2"),
    ),
];

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read template directory {}", path.display())]
    TemplateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read template {}", path.display())]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A template failed to parse or to render. `template` is the override's path
    /// when it came from a template directory, else the built-in template's name.
    #[error("template {template}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template {
        template: String,
        line: Option<usize>,
        message: String,
    },
    /// The comment's marker and headline alone are longer than its budget.
    #[error(
        "comment budget of {budget} characters is too small: the marker and headline alone take {needed}"
    )]
    CommentBudget { budget: usize, needed: usize },
    /// The comment marker is not one HTML comment that hides its text.
    #[error(
        "comment marker {marker:?} is not of the form <!-- text --> (without --, > or line breaks in the text)"
    )]
    CommentMarker { marker: String },
}

/// The report templates, built in or overridden from a directory.
pub struct Templates {
    env: Environment<'static>,
    /// Where each overridden template was read from.
    overrides: BTreeMap<String, PathBuf>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-in templates.
    pub fn embedded() -> Result<Templates, ReportError> {
        Templates::new(None)
    }

    /// The built-in templates, with any file in `dir` named like one of them
    /// ([`MARKDOWN_TEMPLATE`], [`HTML_TEMPLATE`], [`COMMENT_TEMPLATE`]) replacing it.
    /// Other files are ignored.
    pub fn with_override_dir(dir: &Path) -> Result<Templates, ReportError> {
        Templates::new(Some(dir))
    }

    /// [`Templates::embedded`] or [`Templates::with_override_dir`], for a CLI option.
    pub fn new(override_dir: Option<&Path>) -> Result<Templates, ReportError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(auto_escape_for);
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == AutoEscape::Custom(MARKDOWN_ESCAPE) && !value.is_safe() {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                out.write_str(&filters::escape_markdown(&text))
                    .map_err(minijinja::Error::from)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        filters::register(&mut env);

        let mut overrides = BTreeMap::new();
        let mut sources: Vec<(&'static str, String)> = Vec::new();
        if let Some(dir) = override_dir {
            // Reading the directory first makes a missing or unreadable directory an
            // error even when it holds no template.
            std::fs::read_dir(dir).map_err(|source| ReportError::TemplateDir {
                path: dir.to_owned(),
                source,
            })?;
            for (name, _) in EMBEDDED {
                let path = dir.join(name);
                if !path.exists() {
                    continue;
                }
                let source =
                    std::fs::read_to_string(&path).map_err(|source| ReportError::ReadTemplate {
                        path: path.clone(),
                        source,
                    })?;
                overrides.insert(name.to_owned(), path);
                sources.push((name, source));
            }
        }

        for (name, embedded) in EMBEDDED {
            let result = match sources.iter().position(|(n, _)| *n == name) {
                Some(i) => env.add_template_owned(name, sources.swap_remove(i).1),
                None => env.add_template(name, embedded),
            };
            result.map_err(|e| template_error(&overrides, e))?;
        }
        Ok(Templates { env, overrides })
    }

    /// Which templates were replaced, and from where.
    pub fn overrides(&self) -> &BTreeMap<String, PathBuf> {
        &self.overrides
    }

    /// The Markdown summary.
    pub fn render_markdown(&self, data: &ReportData) -> Result<String, ReportError> {
        self.render(MARKDOWN_TEMPLATE, data)
    }

    /// The self-contained HTML report.
    pub fn render_html(&self, data: &ReportData) -> Result<String, ReportError> {
        self.render(HTML_TEMPLATE, data)
    }

    fn render(&self, name: &str, data: &ReportData) -> Result<String, ReportError> {
        self.render_value(name, &context::Context::new(data))
    }

    fn render_value<S: serde::Serialize>(
        &self,
        name: &str,
        ctx: &S,
    ) -> Result<String, ReportError> {
        let error = |e| template_error(&self.overrides, e);
        let template = self.env.get_template(name).map_err(error)?;
        template.render(ctx).map_err(error)
    }

    /// Renders `name`, or `None` as soon as the output passes `limit` characters, so
    /// that trying a size that is far too big costs no more than the limit.
    fn render_within<S: serde::Serialize>(
        &self,
        name: &str,
        ctx: &S,
        limit: usize,
    ) -> Result<Option<String>, ReportError> {
        let error = |e| template_error(&self.overrides, e);
        let template = self.env.get_template(name).map_err(error)?;
        let mut out = LimitedWriter {
            buf: Vec::new(),
            chars: 0,
            limit,
            over: false,
        };
        match template.render_captured_to(ctx, &mut out) {
            Ok(_) => {}
            Err(_) if out.over => return Ok(None),
            Err(e) => return Err(error(e)),
        }
        // Templates write whole strings, so the bytes are UTF-8.
        Ok(Some(String::from_utf8_lossy(&out.buf).into_owned()))
    }
}

/// Collects output and fails once it holds more than `limit` characters.
struct LimitedWriter {
    buf: Vec<u8>,
    chars: usize,
    limit: usize,
    over: bool,
}

impl std::io::Write for LimitedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // A character starts at every byte that is not a UTF-8 continuation byte.
        self.chars += bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count();
        if self.chars > self.limit {
            self.over = true;
            return Err(std::io::Error::other("over the size limit"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Names the template file (the override's path when there is one) and line.
fn template_error(overrides: &BTreeMap<String, PathBuf>, e: minijinja::Error) -> ReportError {
    let name = e.name().unwrap_or("<unknown>");
    let template = match overrides.get(name) {
        Some(path) => path.display().to_string(),
        None => name.to_owned(),
    };
    let message = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    ReportError::Template {
        template,
        line: e.line(),
        message,
    }
}

/// HTML templates escape HTML, Markdown templates escape Markdown; decided by file
/// name so that a renamed or added template gets the right rules without a flag.
fn auto_escape_for(name: &str) -> AutoEscape {
    let name = name.strip_suffix(".j2").unwrap_or(name);
    if name.ends_with(".html") || name.ends_with(".htm") {
        AutoEscape::Html
    } else if name.ends_with(".md") {
        AutoEscape::Custom(MARKDOWN_ESCAPE)
    } else {
        AutoEscape::None
    }
}

/// The Markdown summary, from the built-in template.
pub fn render_markdown(data: &ReportData) -> Result<String, ReportError> {
    Templates::embedded()?.render_markdown(data)
}

/// The HTML report, from the built-in template.
pub fn render_html(data: &ReportData) -> Result<String, ReportError> {
    Templates::embedded()?.render_html(data)
}
