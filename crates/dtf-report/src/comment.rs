//! The pull-request comment: what changed in this build against its baseline, short
//! enough to read on every pull request and always within the host's size limit.
//!
//! The comment is rendered from `report-templates/comment.md.j2`. Its size is bounded
//! by choosing how much of each section to show and rendering again, never by cutting
//! the text, so the Markdown is always whole (no open code span, fence, table or
//! `<details>`). Sections give way in a fixed order of priority, lowest first (see
//! [`render_comment`]); the marker and the headline always stay.
//!
//! Sizes are counted in characters (Unicode scalar values, as `str::chars` counts),
//! not bytes: GitHub limits a comment body to 65,536 characters, GitLab a note to
//! 1,000,000.

use serde::Serialize;

use dtf_history::model::Comparison;

use minijinja::Value;

use crate::comparison::{Head, QueryView, Split, TrendLine};
use crate::data::QueryTable;
use crate::filters::is_web_url;
use crate::{ReportError, Templates};

/// GitHub's limit on an issue or pull-request comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// GitLab's limit on a note (a merge-request comment), in characters.
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;
/// The hidden marker that finds dtf's comment again, to update it.
pub const DEFAULT_MARKER: &str = "<!-- dtf:report -->";

/// Longest marker accepted.
const MAX_MARKER_CHARS: usize = 200;
/// Longest link accepted; a longer one is left out rather than let it crowd the
/// headline, which is never dropped.
const MAX_LINK_CHARS: usize = 1_000;
/// Longest title; longer ones are cut.
const MAX_TITLE_CHARS: usize = 100;

/// How to render the comment.
#[derive(Clone, Debug, PartialEq)]
pub struct CommentOptions {
    /// The most characters the comment may have (see the module docs). Default:
    /// [`GITHUB_COMMENT_LIMIT`].
    pub budget: usize,
    /// An HTML comment on the first line, to find the comment again and update it.
    /// Default [`DEFAULT_MARKER`]; [`CommentOptions::marker_for`] makes one per key,
    /// so that several pipelines can keep a comment each.
    pub marker: String,
    /// The headline's name for the test run; "Tests" when `None`.
    pub title: Option<String>,
    pub links: CommentLinks,
    /// The most entries any one list shows, however much room there is: a comment
    /// is read, not searched; the full report has the rest. Default 50.
    pub max_items: usize,
    /// How many of the most recent builds the trend line covers. Default 20.
    pub trend_points: usize,
}

/// Links in the headline. Only `http(s)` URLs without spaces, quotes or angle
/// brackets, and at most 1,000 characters, are used; anything else is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommentLinks {
    /// The full HTML report.
    pub report: Option<String>,
    /// The CI build; the comparison's own `build.url` when `None`.
    pub build: Option<String>,
}

impl Default for CommentOptions {
    fn default() -> CommentOptions {
        CommentOptions {
            budget: GITHUB_COMMENT_LIMIT,
            marker: DEFAULT_MARKER.to_owned(),
            title: None,
            links: CommentLinks::default(),
            max_items: 50,
            trend_points: 20,
        }
    }
}

impl CommentOptions {
    /// The marker for `key`: `<!-- dtf:report -->` without one, else
    /// `<!-- dtf:report:KEY -->`. The key keeps ASCII letters, digits and `_ . : / -`
    /// (anything else becomes `_`, runs of `-` one `-`, so it cannot end the HTML
    /// comment) and at most 100 characters.
    pub fn marker_for(key: Option<&str>) -> String {
        let Some(key) = key else {
            return DEFAULT_MARKER.to_owned();
        };
        let mut clean = String::new();
        for c in key.chars().take(100) {
            let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-') {
                c
            } else {
                '_'
            };
            if !(c == '-' && clean.ends_with('-')) {
                clean.push(c);
            }
        }
        let clean = clean.trim_matches('-');
        if clean.is_empty() {
            DEFAULT_MARKER.to_owned()
        } else {
            format!("<!-- dtf:report:{clean} -->")
        }
    }
}

/// What the comment shows besides the comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommentExtras {
    /// Named queries' results, shown last, each as a table.
    pub queries: Vec<QueryTable>,
    /// Tool and version for the footer, e.g. "dtf 0.1.0"; no footer when `None`.
    pub generated_by: Option<String>,
}

/// The comment for `c`, from the built-in template; see [`Templates::render_comment`].
pub fn render_comment(
    c: &Comparison,
    extra: &CommentExtras,
    opts: &CommentOptions,
) -> Result<String, ReportError> {
    Templates::embedded()?.render_comment(c, extra, opts)
}

/// A section's place in the order of priority, highest first; queries follow
/// [`Section::Groups`], one section each, then the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    NewFailures,
    StillFailing,
    Flaky,
    Fixed,
    Slower,
    Anomalies,
    Changes,
    Trend,
    Groups,
    Query(usize),
    Footer,
}

/// How much of a section is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// The first `n` entries (the whole section for one-line sections).
    Items(usize),
    /// One line with the count.
    Collapsed,
    /// Nothing.
    Hidden,
}

impl Level {
    fn state(self) -> &'static str {
        match self {
            Level::Items(_) => "full",
            Level::Collapsed => "collapsed",
            Level::Hidden => "hidden",
        }
    }
}

/// One section's limits: `cap` entries at most; `list` sections shrink entry by
/// entry and collapse to a count, the others are shown whole or not at all.
struct Spec {
    section: Section,
    total: usize,
    cap: usize,
    list: bool,
}

/// Everything the template sees. The variables are documented at the top of
/// `comment.md.j2`.
#[derive(Serialize)]
struct CommentContext<'a> {
    marker: &'a str,
    title: &'a str,
    report_url: Option<&'a str>,
    build_url: Option<&'a str>,
    generated_by: Option<&'a str>,
    c: &'a Head<'a>,
    new_failures: ListSection<'a>,
    still_failing: ListSection<'a>,
    flaky: ListSection<'a>,
    fixed: ListSection<'a>,
    slower: ListSection<'a>,
    anomalies: ListSection<'a>,
    changes: &'static str,
    trend: Option<&'a TrendLine>,
    groups: ListSection<'a>,
    queries: Vec<QuerySection<'a>>,
    footer: bool,
    /// Whether any section was collapsed or hidden to fit the budget.
    shortened: bool,
}

/// One list, cut to the entries shown. Entries are template values made once, so
/// that rendering again at another size does not convert them again.
#[derive(Serialize)]
struct ListSection<'a> {
    /// `full`, `collapsed` or `hidden`.
    state: &'static str,
    total: usize,
    items: &'a [Value],
    /// `total` less the entries shown.
    more: usize,
}

#[derive(Serialize)]
struct QuerySection<'a> {
    state: &'static str,
    total: usize,
    query: QueryHead<'a>,
    more: usize,
}

#[derive(Serialize)]
struct QueryHead<'a> {
    name: &'a str,
    title: &'a str,
    columns: &'a [&'a str],
    rows: &'a [Value],
}

/// Every list's entries as template values.
struct Lists {
    new_failures: Vec<Value>,
    still_failing: Vec<Value>,
    flaky: Vec<Value>,
    fixed: Vec<Value>,
    slower: Vec<Value>,
    anomalies: Vec<Value>,
    groups: Vec<Value>,
    query_rows: Vec<Vec<Value>>,
}

fn values<T: Serialize>(items: &[T]) -> Vec<Value> {
    items.iter().map(Value::from_serialize).collect()
}

fn list(items: &[Value], level: Level) -> ListSection<'_> {
    let shown = match level {
        Level::Items(n) => &items[..n.min(items.len())],
        _ => &items[..0],
    };
    ListSection {
        state: if items.is_empty() {
            "hidden"
        } else {
            level.state()
        },
        total: items.len(),
        items: shown,
        more: items.len() - shown.len(),
    }
}

/// What a comment renders from, prepared once and rendered at several sizes.
struct Prepared<'a> {
    opts: &'a CommentOptions,
    title: String,
    report_url: Option<&'a str>,
    build_url: Option<&'a str>,
    generated_by: Option<&'a str>,
    split: Split<'a>,
    lists: Lists,
    trend: Option<TrendLine>,
    queries: Vec<QueryView<'a>>,
    specs: Vec<Spec>,
}

impl<'a> Prepared<'a> {
    fn new(c: &'a Comparison, extra: &'a CommentExtras, opts: &'a CommentOptions) -> Self {
        let link = |url: Option<&'a str>| {
            url.filter(|u| is_web_url(u) && u.chars().count() <= MAX_LINK_CHARS)
        };
        let split = Split::new(c);
        let trend = TrendLine::new(split.trend, opts.trend_points);
        let queries: Vec<QueryView> = extra.queries.iter().map(QueryView::new).collect();
        // A list never shows more entries than could fit: each takes a line of at
        // least a few characters.
        let cap = |total: usize| total.min(opts.max_items).min(opts.budget / 4);
        let mut specs = vec![];
        let mut add = |section, total: usize, list: bool| {
            specs.push(Spec {
                section,
                total,
                cap: if list { cap(total) } else { total.min(1) },
                list,
            });
        };
        add(Section::NewFailures, split.new_failures.len(), true);
        add(Section::StillFailing, split.still_failing.len(), true);
        add(Section::Flaky, split.flaky.len(), true);
        add(Section::Fixed, split.fixed.len(), true);
        add(Section::Slower, split.slower.len(), true);
        add(Section::Anomalies, split.anomalies.len(), true);
        let counts = &split.head.counts;
        let changes = counts.new_tests + counts.removed + counts.newly_skipped + counts.faster;
        add(Section::Changes, changes.min(1), false);
        add(Section::Trend, usize::from(trend.is_some()), false);
        add(Section::Groups, split.groups.len(), true);
        for (i, q) in queries.iter().enumerate() {
            // An empty result still takes a line ("0 rows"), which may have to go.
            add(Section::Query(i), q.rows.len().max(1), true);
        }
        add(
            Section::Footer,
            usize::from(extra.generated_by.is_some()),
            false,
        );
        Prepared {
            opts,
            title: crate::filters::one_line(
                opts.title.as_deref().unwrap_or("Tests"),
                MAX_TITLE_CHARS,
            ),
            report_url: link(opts.links.report.as_deref()),
            build_url: link(opts.links.build.as_deref().or(c.build.url.as_deref())),
            generated_by: extra.generated_by.as_deref(),
            lists: Lists {
                new_failures: values(&split.new_failures),
                still_failing: values(&split.still_failing),
                flaky: values(&split.flaky),
                fixed: values(&split.fixed),
                slower: values(split.slower),
                anomalies: values(split.anomalies),
                groups: values(&split.groups),
                query_rows: queries.iter().map(|q| values(&q.rows)).collect(),
            },
            split,
            trend,
            queries,
            specs,
        }
    }

    fn context(&self, levels: &[Level]) -> CommentContext<'_> {
        let level = |s: Section| {
            self.specs
                .iter()
                .zip(levels)
                .find(|(spec, _)| spec.section == s)
                .map_or(Level::Hidden, |(_, l)| *l)
        };
        let shown = |s: Section| matches!(level(s), Level::Items(n) if n > 0);
        let lists = &self.lists;
        CommentContext {
            marker: &self.opts.marker,
            title: &self.title,
            report_url: self.report_url,
            build_url: self.build_url,
            generated_by: self.generated_by,
            c: &self.split.head,
            new_failures: list(&lists.new_failures, level(Section::NewFailures)),
            still_failing: list(&lists.still_failing, level(Section::StillFailing)),
            flaky: list(&lists.flaky, level(Section::Flaky)),
            fixed: list(&lists.fixed, level(Section::Fixed)),
            slower: list(&lists.slower, level(Section::Slower)),
            anomalies: list(&lists.anomalies, level(Section::Anomalies)),
            changes: if shown(Section::Changes) {
                "full"
            } else {
                "hidden"
            },
            trend: self.trend.as_ref().filter(|_| shown(Section::Trend)),
            groups: list(&lists.groups, level(Section::Groups)),
            queries: self
                .queries
                .iter()
                .enumerate()
                .zip(&lists.query_rows)
                .map(|((i, q), rows)| {
                    let l = level(Section::Query(i));
                    let n = match l {
                        Level::Items(n) => n.min(rows.len()),
                        _ => 0,
                    };
                    QuerySection {
                        state: if q.rows.is_empty() && l != Level::Hidden {
                            // An empty result still says so, in one line.
                            "collapsed"
                        } else {
                            l.state()
                        },
                        total: q.rows.len(),
                        query: QueryHead {
                            name: q.name,
                            title: q.title,
                            columns: &q.columns,
                            rows: &rows[..n],
                        },
                        more: q.rows.len() - n,
                    }
                })
                .collect(),
            footer: shown(Section::Footer) && self.generated_by.is_some(),
            shortened: self
                .specs
                .iter()
                .zip(levels)
                .any(|(s, l)| s.total > 0 && !matches!(l, Level::Items(_))),
        }
    }
}

impl Templates {
    /// The pull-request comment for `c`, at most `opts.budget` characters.
    ///
    /// Content, in order: the marker (first line), a headline (verdict, counts, time,
    /// change against the baseline, links), then new failures, still failing, flaky,
    /// fixed, slower tests, anomalies, other changes (new, removed, newly skipped,
    /// faster), the trend line, results by runner pool or label, the named queries and
    /// a footer. Each list shows at most `opts.max_items` entries. When that does not
    /// fit, the comment gives way in this order: entries are dropped from the end of
    /// the lowest-priority list first, each list down to one entry and saying
    /// "…and N more"; then whole sections collapse to a one-line count, lowest
    /// first; only then do new failures lose entries, and then collapse; last,
    /// sections are left out, lowest first. Room that is left over then goes back to
    /// the highest-priority sections first; a section that cannot grow caps the
    /// ones below it, so no section ever shows more than one above it. The marker and the headline are never
    /// dropped: when they alone exceed the budget the result is
    /// [`ReportError::CommentBudget`].
    pub fn render_comment(
        &self,
        c: &Comparison,
        extra: &CommentExtras,
        opts: &CommentOptions,
    ) -> Result<String, ReportError> {
        check_marker(&opts.marker)?;
        let prepared = Prepared::new(c, extra, opts);
        let template = crate::COMMENT_TEMPLATE;
        let render = |levels: &[Level]| -> Result<String, ReportError> {
            self.render_value(template, &prepared.context(levels))
        };
        let fits = |levels: &[Level]| -> Result<Option<String>, ReportError> {
            self.render_within(template, &prepared.context(levels), opts.budget)
        };

        let specs = &prepared.specs;
        let full: Vec<Level> = specs.iter().map(|s| Level::Items(s.cap)).collect();
        if let Some(text) = fits(&full)? {
            return Ok(text);
        }
        // Each step on the path only shortens the comment, so the first step at
        // which it fits can be found by bisection rather than by walking.
        let path = shrink_path(specs);
        let after = |steps: usize| -> Vec<Level> {
            let mut levels: Vec<Level> = specs.iter().map(|s| Level::Items(s.cap)).collect();
            for step in &path[..steps] {
                match *step {
                    Step::Shrink(i) => levels[i] = Level::Items(specs[i].cap.min(1)),
                    Step::Collapse(i) if specs[i].list => levels[i] = Level::Collapsed,
                    Step::Collapse(i) | Step::Hide(i) => levels[i] = Level::Hidden,
                }
            }
            levels
        };
        if fits(&after(path.len()))?.is_none() {
            let minimal: Vec<Level> = specs.iter().map(|_| Level::Hidden).collect();
            return Err(ReportError::CommentBudget {
                budget: opts.budget,
                needed: render(&minimal)?.chars().count(),
            });
        }
        // After `bad` steps the comment does not fit, after `good` steps it does.
        let (mut bad, mut good) = (0, path.len());
        while good - bad > 1 {
            let mid = bad + (good - bad) / 2;
            if fits(&after(mid))?.is_some() {
                good = mid;
            } else {
                bad = mid;
            }
        }
        let mut levels = after(good);
        // The step that made it fit took a list down to one entry: it keeps as many as
        // fit.
        if let Some(Step::Shrink(i)) = good.checked_sub(1).map(|j| path[j]) {
            let best = largest_fitting(specs[i].cap.min(1), specs[i].cap, |n| {
                levels[i] = Level::Items(n);
                Ok(fits(&levels)?.is_some())
            })?;
            levels[i] = Level::Items(best);
        }
        // Room a section could not use may still hold more of another: give it to
        // the highest priority first, one level up at a time.
        // A section that could not grow caps the ones below it: none shows more.
        let mut ceiling = 2u8;
        // A one-line section shown counts as a count line, not as a list.
        let rank = |l: Level, list: bool| match l {
            Level::Hidden => 0u8,
            Level::Collapsed => 1,
            Level::Items(_) if list => 2,
            Level::Items(_) => 1,
        };
        for i in 0..specs.len() {
            if specs[i].total == 0 {
                continue;
            }
            let before = levels[i];
            let better = match before {
                Level::Items(_) => before,
                Level::Collapsed => Level::Items(specs[i].cap.min(1)),
                Level::Hidden if specs[i].list => Level::Collapsed,
                Level::Hidden => Level::Items(specs[i].cap),
            };
            // The footer is not content: it takes whatever room is left.
            let footer = matches!(specs[i].section, Section::Footer);
            if !footer && rank(better, specs[i].list) > ceiling {
                continue;
            }
            levels[i] = better;
            if better != before && fits(&levels)?.is_none() {
                levels[i] = before;
                ceiling = ceiling.min(rank(before, specs[i].list));
                continue;
            }
            if let (Level::Items(k), true) = (levels[i], specs[i].list) {
                let best = largest_fitting(k, specs[i].cap, |n| {
                    levels[i] = Level::Items(n);
                    Ok(fits(&levels)?.is_some())
                })?;
                levels[i] = Level::Items(best);
            }
        }
        match fits(&levels)? {
            Some(text) => Ok(text),
            // Only a template whose output does not shrink with its lists gets here.
            None => Err(ReportError::CommentBudget {
                budget: opts.budget,
                needed: render(&levels)?.chars().count(),
            }),
        }
    }
}

/// One way to make the comment shorter, applied to section `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Fewer entries, down to one.
    Shrink(usize),
    /// A count instead of the list (one-line sections are hidden instead).
    Collapse(usize),
    Hide(usize),
}

/// The order in which the comment gives way, least loss first: entries of every
/// list but the new failures, lowest priority first; then those sections collapsed,
/// lowest first; then new failures' entries, then their list; then sections hidden,
/// lowest first. The comment is taken at the first point on this path where it
/// fits.
fn shrink_path(specs: &[Spec]) -> Vec<Step> {
    let present = |i: &usize| specs[*i].total > 0;
    let lower = || (1..specs.len()).rev().filter(present);
    let mut path: Vec<Step> = lower()
        .filter(|i| specs[*i].list)
        .map(Step::Shrink)
        .collect();
    path.extend(lower().map(Step::Collapse));
    if specs.first().is_some_and(|s| s.total > 0) {
        path.push(Step::Shrink(0));
        path.push(Step::Collapse(0));
    }
    path.extend((0..specs.len()).rev().filter(present).map(Step::Hide));
    path
}

/// The largest `n` in `lo..=hi` for which `fits(n)` holds, given that it holds for
/// `lo`, assuming that longer lists are longer text. The search gallops up from `lo`
/// so that it never renders much more than fits.
fn largest_fitting(
    lo: usize,
    hi: usize,
    mut fits: impl FnMut(usize) -> Result<bool, ReportError>,
) -> Result<usize, ReportError> {
    if hi <= lo {
        return Ok(lo);
    }
    let mut good = lo;
    let mut step = 1;
    let bad = loop {
        let probe = good.saturating_add(step).min(hi);
        if fits(probe)? {
            good = probe;
            if good == hi {
                return Ok(hi);
            }
            step = step.saturating_mul(2);
        } else {
            break probe;
        }
    };
    let (mut good, mut bad) = (good, bad);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if fits(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(good)
}

/// A marker must stay one hidden HTML comment: `<!--`, then text without `--`, `>`
/// or control characters, then `-->`.
fn check_marker(marker: &str) -> Result<(), ReportError> {
    let inner = marker
        .strip_prefix("<!--")
        .and_then(|m| m.strip_suffix("-->"));
    let ok = inner.is_some_and(|inner| {
        !inner.contains("--")
            && !inner.contains('>')
            && !inner.ends_with('-')
            && !inner.chars().any(char::is_control)
    }) && marker.chars().count() <= MAX_MARKER_CHARS;
    if ok {
        Ok(())
    } else {
        Err(ReportError::CommentMarker {
            marker: marker.chars().take(MAX_MARKER_CHARS).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn markers() {
        let check = |key: Option<&str>, expected: &str| {
            let marker = CommentOptions::marker_for(key);
            assert_eq!(marker, expected, "{key:?}");
            check_marker(&marker).unwrap();
        };
        check(None, "<!-- dtf:report -->");
        check(Some("unit"), "<!-- dtf:report:unit -->");
        check(Some("e2e/chrome:1.2"), "<!-- dtf:report:e2e/chrome:1.2 -->");
        check(Some("a --> b"), "<!-- dtf:report:a_-__b -->");
        check(Some("x-->"), "<!-- dtf:report:x-_ -->");
        check(Some("---"), "<!-- dtf:report -->");
        check(Some(""), "<!-- dtf:report -->");
        check(Some("ünï"), "<!-- dtf:report:_n_ -->");
        assert_eq!(
            CommentOptions::marker_for(Some(&"k".repeat(500))).len(),
            "<!-- dtf:report: -->".len() + 100
        );
    }

    #[test]
    fn bad_markers_are_refused() {
        for bad in [
            "",
            "dtf",
            "<!-- a -- b -->",
            "<!-- a --><script>x</script><!-- -->",
            "<!-- a\n -->",
            "<!-- a > b -->",
            "<!--->",
        ] {
            let err = check_marker(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("comment marker "),
                "{bad:?}: {err}"
            );
        }
        check_marker(DEFAULT_MARKER).unwrap();
        check_marker(&format!("<!-- {} -->", "k".repeat(300))).unwrap_err();
    }

    #[test]
    fn gallop_then_bisect() {
        let check = |lo: usize, hi: usize, limit: usize, expected: usize| {
            let mut probes = 0;
            let got = largest_fitting(lo, hi, |n| {
                probes += 1;
                assert!((lo..=hi).contains(&n), "probe {n} outside {lo}..={hi}");
                assert!(
                    n <= limit.saturating_mul(2) + 2,
                    "probe {n} far past {limit}"
                );
                Ok(n <= limit)
            })
            .unwrap();
            assert_eq!(got, expected, "{lo} {hi} {limit}");
            assert!(probes <= 2 * (usize::BITS as usize), "{probes} probes");
        };
        check(0, 0, 5, 0);
        check(1, 1, 0, 1);
        check(0, 10, 100, 10);
        check(0, 10, 0, 0);
        check(1, 10_000, 1, 1);
        check(1, 10_000, 2, 2);
        check(1, 10_000, 337, 337);
        check(5, 10_000, 9_999, 9_999);
        check(0, usize::MAX, 1_000_000, 1_000_000);
    }

    #[test]
    fn shrink_order() {
        let spec = |section, total, list| Spec {
            section,
            total,
            cap: if list { total } else { total.min(1) },
            list,
        };
        let specs = [
            spec(Section::NewFailures, 5, true),
            spec(Section::Flaky, 0, true),
            spec(Section::Fixed, 2, true),
            spec(Section::Trend, 1, false),
            spec(Section::Groups, 3, true),
        ];
        use Step::*;
        assert_eq!(
            shrink_path(&specs),
            [
                Shrink(4),
                Shrink(2),
                Collapse(4),
                Collapse(3),
                Collapse(2),
                Shrink(0),
                Collapse(0),
                Hide(4),
                Hide(3),
                Hide(2),
                Hide(0),
            ]
        );
    }
}
