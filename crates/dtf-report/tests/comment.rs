//! The pull-request comment: snapshots of typical cases, the size budget under
//! pressure, and hostile test output that must stay text.
//!
//! Every rendered comment also goes through [`check_markdown`], which parses it with a
//! real CommonMark/GFM parser (pulldown-cmark) and checks its structure.

#![allow(clippy::unwrap_used)]

use dtf_core::categorize::Category;
use dtf_history::model::{Anomaly, Change, Comparison, TestChange};
use dtf_report::comment::{DEFAULT_MARKER, GITHUB_COMMENT_LIMIT, GITLAB_NOTE_LIMIT};
use dtf_report::{
    CommentExtras, CommentLinks, CommentOptions, QueryTable, ReportError, Templates, render_comment,
};
use proptest::prelude::*;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

mod common;

use common::*;

fn options() -> CommentOptions {
    CommentOptions {
        links: CommentLinks {
            report: Some("https://ci.example.com/artifacts/9002/report.html".to_owned()),
            build: None,
        },
        ..CommentOptions::default()
    }
}

fn extras() -> CommentExtras {
    CommentExtras {
        queries: Vec::new(),
        generated_by: Some("dtf 0.1.0".to_owned()),
    }
}

/// Renders and checks the structure before anything else looks at it.
fn render(c: &Comparison, extra: &CommentExtras, opts: &CommentOptions) -> String {
    let md = render_comment(c, extra, opts).unwrap();
    check_markdown(&md, opts);
    md
}

// ---------------------------------------------------------------------------------
// Snapshots

#[test]
fn typical_pull_request() {
    let md = render(&typical(), &extras(), &options());
    insta::assert_snapshot!("comment_typical", md);
}

#[test]
fn first_build_has_no_baseline() {
    let md = render(&first_build(), &extras(), &options());
    insta::assert_snapshot!("comment_first_build", md);
}

#[test]
fn all_green_build() {
    let md = render(&all_green(), &extras(), &CommentOptions::default());
    insta::assert_snapshot!("comment_all_green", md);
}

// ---------------------------------------------------------------------------------
// The structural checker

/// HTML the comment may hold: the marker, and the tags the template writes.
const ALLOWED_HTML: [&str; 6] = [
    "<details>",
    "</details>",
    "<summary>",
    "</summary>",
    "<sub>",
    "</sub>",
];

/// Checks that `md` is what a comment must be: the marker alone on the first line,
/// within budget, fences and `<details>` balanced, every table row as wide as its
/// header, and no HTML but the marker and the allowed tags, as a GFM parser reads it.
fn check_markdown(md: &str, opts: &CommentOptions) {
    let chars = md.chars().count();
    assert!(chars <= opts.budget, "{chars} > {} characters", opts.budget);
    assert_eq!(md.lines().next(), Some(opts.marker.as_str()), "marker line");

    // Line-based checks, as a reviewer would read the text.
    let fences = md
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    assert!(fences % 2 == 0, "unbalanced code fences");
    check_tables_by_line(md);

    // The parser's view: which HTML it finds, and table shapes.
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut header_cells: Option<usize> = None;
    let mut cells = 0;
    let mut in_head = false;
    let mut details: i64 = 0;
    for event in Parser::new_ext(md, options) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                let html = html.trim();
                assert!(
                    html == opts.marker || ALLOWED_HTML.contains(&html) || is_allowed_block(html),
                    "unexpected HTML {html:?} in\n{md}"
                );
                details += html.matches("<details>").count() as i64;
                details -= html.matches("</details>").count() as i64;
                assert!(details >= 0, "</details> before <details>");
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {}
            Event::Start(Tag::Table(aligns)) => header_cells = Some(aligns.len()),
            Event::Start(Tag::TableHead) => {
                in_head = true;
                cells = 0;
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                assert_eq!(Some(cells), header_cells, "header width");
            }
            Event::Start(Tag::TableRow) => cells = 0,
            Event::End(TagEnd::TableRow) => {
                assert_eq!(Some(cells), header_cells, "row width in\n{md}");
            }
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::Table) => header_cells = None,
            _ => {}
        }
    }
    assert!(!in_head);
    assert_eq!(details, 0, "unbalanced <details>");
}

/// An HTML block the parser reports as one piece: allowed tags only, and
/// `<details><summary>text</summary>` with plain text inside.
fn is_allowed_block(html: &str) -> bool {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            return false;
        };
        let tag = &rest[start..start + len + 1];
        if !ALLOWED_HTML.contains(&tag) {
            return false;
        }
        rest = &rest[start + len + 1..];
    }
    true
}

/// Every table's rows, read line by line, have as many unescaped `|` as its header.
fn check_tables_by_line(md: &str) {
    let mut width: Option<usize> = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            width = None;
            continue;
        }
        let pipes = unescaped_pipes(line);
        match width {
            None => width = Some(pipes),
            Some(w) => assert_eq!(pipes, w, "row {line:?}"),
        }
    }
}

fn unescaped_pipes(line: &str) -> usize {
    let mut count = 0;
    let mut backslashes = 0;
    for c in line.chars() {
        if c == '|' && backslashes % 2 == 0 {
            count += 1;
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    count
}

/// Text the reader sees outside code (after Markdown unescaping) must hold no
/// mention, issue reference or bare link that GitHub would make live, and the only
/// links are the report and build links.
fn check_inert(md: &str, opts: &CommentOptions) {
    let mut allowed: Vec<&str> = opts.links.report.iter().map(String::as_str).collect();
    allowed.extend(opts.links.build.as_deref());
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    for event in Parser::new_ext(md, options) {
        match event {
            Event::Text(text) => {
                let chars: Vec<char> = text.chars().collect();
                for (i, w) in chars.windows(2).enumerate() {
                    assert!(
                        !(w[0] == '@' && w[1].is_alphanumeric()),
                        "live mention in {text:?}"
                    );
                    assert!(
                        !(w[0] == '#' && w[1].is_ascii_digit()),
                        "live issue reference in {text:?}"
                    );
                    let rest: String = chars[i..].iter().take(8).collect();
                    let lower = rest.to_ascii_lowercase();
                    assert!(
                        !lower.starts_with("://") && !lower.starts_with("www."),
                        "bare link in {text:?}"
                    );
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                assert!(
                    allowed.contains(&dest_url.as_ref())
                        || dest_url.starts_with("https://github.com/acme/"),
                    "unexpected link {dest_url:?}"
                );
            }
            Event::Start(Tag::Image { .. }) => panic!("image in\n{md}"),
            _ => {}
        }
    }
    assert!(
        !md.chars().any(|c| c.is_control() && c != '\n'),
        "control character in the comment"
    );
    assert!(!md.contains('\u{202E}'), "bidi override in the comment");
}

// ---------------------------------------------------------------------------------
// Budget

/// `n` tests with one change, with messages long enough to matter.
fn many(prefix: &str, kind: Change, n: usize) -> Vec<TestChange> {
    (0..n)
        .map(|i| TestChange {
            flip_rate: (kind == Change::Flaky).then_some(0.25),
            ..failure(
                &format!("{prefix}::test_{i:05}"),
                kind,
                Category::Assertion,
                &format!(
                    "AssertionError: expected value {i} to equal {} after the retry loop settled",
                    i + 1
                ),
            )
        })
        .collect()
}

/// 10,000 new failures and every other section full.
fn huge() -> Comparison {
    let mut c = typical();
    let mut tests = many("nf", Change::NewFailure, 10_000);
    tests.extend(many("sf", Change::StillFailing, 500));
    tests.extend(many("fl", Change::Flaky, 500));
    tests.extend(many("fx", Change::Fixed, 500));
    tests.extend(many("nw", Change::New, 500));
    c.tests = tests;
    c.slower = (0..500)
        .map(|i| slower(&format!("sl::test_{i:05}"), 1.0, 2.0, 0.9))
        .collect();
    c.anomalies = (0..500)
        .map(|i| Anomaly {
            id: format!("an::test_{i:05}"),
            kind: "failure".to_owned(),
            expected: "fails 1% of runs".to_owned(),
            observed: "failed".to_owned(),
            confidence: 0.99,
        })
        .collect();
    c.groups = (0..100)
        .map(|i| group("pool", &format!("pool-{i}")))
        .collect();
    c.trend = trend(30);
    c
}

fn huge_extras() -> CommentExtras {
    CommentExtras {
        queries: (0..2)
            .map(|q| QueryTable {
                name: format!("q{q}"),
                title: format!("Slowest tests by pool {q}"),
                columns: vec!["pool".into(), "test".into(), "p95".into()],
                rows: (0..1000)
                    .map(|i| vec![format!("pool-{i}"), format!("t::{i}"), format!("{i}.5s")])
                    .collect(),
            })
            .collect(),
        generated_by: Some("dtf 0.1.0".to_owned()),
    }
}

/// Rows of the table that lists ids starting with `prefix`.
fn rows_of(md: &str, prefix: &str) -> usize {
    md.lines()
        .filter(|l| l.starts_with(&format!("| `{prefix}::")))
        .count()
}

fn thousands(n: usize) -> String {
    dtf_report::filters::format_thousands(n as i128)
}

#[test]
fn ten_thousand_new_failures_fit_the_budget() {
    let c = huge();
    let opts = CommentOptions {
        max_items: usize::MAX,
        ..options()
    };
    let md = render(&c, &huge_extras(), &opts);
    check_inert(&md, &opts);
    let shown = rows_of(&md, "nf");
    assert!(shown > 100, "only {shown} new failures shown");
    assert!(
        md.contains(&format!(
            "…and {} more new failures in the [full report]",
            thousands(10_000 - shown)
        )),
        "{shown} shown"
    );
    // every other section gave way first: collapsed to a count
    for collapsed in [
        "**Still failing: 500**",
        "**Flaky: 500**",
        "**Fixed: 500**",
        "**Slower: 500**",
        "**Anomalies: 500**",
        "**Runner pools and labels: 100**",
        "**Slowest tests by pool 0**: 1,000 rows (not listed)",
    ] {
        assert!(md.contains(collapsed), "{collapsed}");
    }
    assert!(md.contains("Some sections were shortened"));
    // what is left over after the new failures cannot hold one more of them
    let remaining = opts.budget - md.chars().count();
    assert!(remaining < 200, "{remaining} characters unused");
    // the comment still ends as it should
    assert!(
        md.ends_with("<sub>Generated by dtf 0\\.1\\.0</sub>\n"),
        "{}",
        &md[md.len() - 200..]
    );
}

#[test]
fn lists_stop_at_max_items_when_there_is_room() {
    let opts = CommentOptions {
        budget: GITLAB_NOTE_LIMIT,
        ..options()
    };
    let md = render(&huge(), &huge_extras(), &opts);
    assert_eq!(rows_of(&md, "nf"), 50);
    assert!(md.contains("…and 9,950 more new failures"));
    assert_eq!(rows_of(&md, "sf"), 50);
    assert!(md.contains("…and 450 more still failing"));
    // nothing was collapsed, so no note about it
    assert!(!md.contains("Some sections were shortened"));
    // the first ten new failures are in view, the other forty folded away
    assert!(md.contains("<details><summary>40 more new failures</summary>"));
}

#[test]
fn every_budget_from_tiny_to_default_holds() {
    let c = huge();
    for budget in [
        1_000,
        1_500,
        2_000,
        3_000,
        5_000,
        10_000,
        20_000,
        40_000,
        GITHUB_COMMENT_LIMIT,
    ] {
        let opts = CommentOptions {
            budget,
            max_items: usize::MAX,
            ..options()
        };
        let md = render(&c, &huge_extras(), &opts);
        check_inert(&md, &opts);
        assert!(
            md.starts_with(&format!("{DEFAULT_MARKER}\n## ❌ Tests: 3 failed")),
            "{budget}\n{md}"
        );
        // new failures are the last to go: listed or at least counted
        assert!(
            md.contains("### 🔴 New failures (10,000)") || md.contains("**New failures: 10,000**"),
            "{budget}\n{md}"
        );
    }
}

#[test]
fn lower_sections_collapse_before_new_failures_shrink() {
    // Room for the headline, the collapsed counts and a few new failures.
    let opts = CommentOptions {
        budget: 3_000,
        max_items: usize::MAX,
        ..options()
    };
    let md = render(&huge(), &huge_extras(), &opts);
    let shown = rows_of(&md, "nf");
    assert!(shown >= 1, "{md}");
    assert!(md.contains(&format!(
        "…and {} more new failures",
        thousands(10_000 - shown)
    )));
    assert!(md.contains("Some sections were shortened"), "{md}");
    for collapsed in ["**Still failing: 500**", "**Runner pools and labels: 100**"] {
        assert!(md.contains(collapsed), "{collapsed} in\n{md}");
    }
}

#[test]
fn no_section_shows_while_one_above_it_is_left_out() {
    // From barely more than the headline up: whenever flaky or fixed tests are
    // mentioned at all, the new failures are too.
    let mut seen_lower = false;
    for budget in (200..2_000).step_by(25) {
        let opts = CommentOptions {
            budget,
            ..options()
        };
        let Ok(md) = render_comment(&typical(), &extras(), &opts) else {
            continue;
        };
        let lower = md.contains("Flaky") || md.contains("Fixed");
        seen_lower |= lower;
        if lower {
            assert!(md.contains("New failures"), "budget {budget}:\n{md}");
        }
    }
    assert!(seen_lower, "no budget showed the lower sections");
}

#[test]
fn a_budget_below_the_headline_is_an_error() {
    let opts = CommentOptions {
        budget: 100,
        ..options()
    };
    let err = render_comment(&typical(), &extras(), &opts).unwrap_err();
    match &err {
        ReportError::CommentBudget { budget, needed } => {
            assert_eq!(*budget, 100);
            assert!(*needed > 100, "{needed}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("comment budget of 100 characters is too small")
    );
}

#[test]
fn markers_take_a_key_and_bad_ones_are_refused() {
    let opts = CommentOptions {
        marker: CommentOptions::marker_for(Some("e2e")),
        ..options()
    };
    let md = render(&typical(), &extras(), &opts);
    assert!(md.starts_with("<!-- dtf:report:e2e -->\n"));
    let opts = CommentOptions {
        marker: "<!-- x --><script>".to_owned(),
        ..options()
    };
    let err = render_comment(&typical(), &extras(), &opts).unwrap_err();
    assert!(matches!(err, ReportError::CommentMarker { .. }), "{err:?}");
}

#[test]
fn links_must_be_plain_web_urls() {
    let opts = CommentOptions {
        links: CommentLinks {
            report: Some("javascript:alert(1)".to_owned()),
            build: Some("https://ci.example.com/a b".to_owned()),
        },
        ..CommentOptions::default()
    };
    let md = render(&typical(), &extras(), &opts);
    assert!(
        !md.contains("javascript") && !md.contains("[build]") && !md.contains("[full report]"),
        "{md}"
    );
    // without a build link of its own, the comparison's build URL is used
    let md = render(&typical(), &extras(), &CommentOptions::default());
    assert!(md.contains("[build](<https://github.com/acme/widgets/actions/runs/9002>)"));
}

#[test]
fn an_overriding_template_is_used_and_still_bounded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("comment.md.j2"),
        "{{ marker | safe }}\ncustom {{ c.totals.tests | thousands }} {{ title }}\n{% for t in new_failures.items %}- {{ t.id | md_code }}\n{% endfor %}{% if new_failures.more %}…and {{ new_failures.more }} more\n{% endif %}",
    )
    .unwrap();
    let templates = Templates::with_override_dir(dir.path()).unwrap();
    let opts = CommentOptions {
        budget: 2_000,
        max_items: usize::MAX,
        title: Some("a_b".to_owned()),
        ..options()
    };
    let md = templates.render_comment(&huge(), &extras(), &opts).unwrap();
    assert!(
        md.starts_with("<!-- dtf:report -->\ncustom 1,229 a\\_b\n- `nf::test_00000`\n"),
        "{md}"
    );
    assert!(md.chars().count() <= 2_000);
    let shown = md.lines().filter(|l| l.starts_with("- ")).count();
    assert!(
        md.ends_with(&format!("…and {} more\n", 10_000 - shown)),
        "{md}"
    );
}

// ---------------------------------------------------------------------------------
// Hostile test output

const HOSTILE: [&str; 12] = [
    "<script>alert(1)</script>",
    "a|b|c",
    "```",
    "`` ` ``",
    "@channel",
    "#1",
    "[x](javascript:alert(1))",
    "line1\nline2\r\n| x | y |",
    "nul\0bell\u{7}esc\u{1b}[31m",
    "\u{202E}evil\u{202C}",
    "<details><summary>x</summary>",
    "</details><!-- -->",
];

fn hostile_name(i: usize) -> String {
    format!(
        "{}::{}",
        HOSTILE[i % HOSTILE.len()],
        HOSTILE[(i + 5) % HOSTILE.len()]
    )
}

/// Every field that can come from test output or CI configuration, made hostile.
fn hostile() -> Comparison {
    let mut c = typical();
    let long = "x".repeat(10_000);
    c.build.branch = Some("@channel/`evil`|branch".to_owned());
    if let Some(b) = c.baseline.as_mut() {
        b.branch = Some("main`@channel|<script>".to_owned());
        b.commit = Some("``` #1 \n".to_owned());
    }
    let mut tests = Vec::new();
    for kind in [
        Change::NewFailure,
        Change::StillFailing,
        Change::Flaky,
        Change::Fixed,
    ] {
        for i in 0..HOSTILE.len() {
            let mut t = failure(
                &hostile_name(i),
                kind,
                Category::Error,
                HOSTILE[(i + 3) % HOSTILE.len()],
            );
            if kind == Change::Flaky {
                t.flip_rate = Some(0.5);
            }
            tests.push(t);
        }
        tests.push(failure(
            &format!("long::{long}"),
            kind,
            Category::Error,
            &long,
        ));
    }
    c.tests = tests;
    c.slower = (0..HOSTILE.len())
        .map(|i| slower(&hostile_name(i), 1.0, 3.0, 0.9))
        .collect();
    c.anomalies = (0..HOSTILE.len())
        .map(|i| Anomaly {
            id: hostile_name(i),
            kind: HOSTILE[i].to_owned(),
            expected: HOSTILE[(i + 1) % HOSTILE.len()].to_owned(),
            observed: HOSTILE[(i + 2) % HOSTILE.len()].to_owned(),
            confidence: 0.5,
        })
        .collect();
    c.groups = HOSTILE.iter().map(|h| group("label", h)).collect();
    c.groups.push(group("pool", &long));
    c.trend.points[0].build_id = "<script>@channel".to_owned();
    c
}

fn hostile_extras() -> CommentExtras {
    CommentExtras {
        queries: vec![QueryTable {
            name: "q|<script>".to_owned(),
            title: "@channel [x](javascript:alert(1)) | #1".to_owned(),
            columns: HOSTILE.iter().take(4).map(|h| (*h).to_owned()).collect(),
            rows: (0..HOSTILE.len())
                .map(|i| {
                    (0..5)
                        .map(|j| HOSTILE[(i + j) % HOSTILE.len()].to_owned())
                        .collect()
                })
                .collect(),
        }],
        generated_by: Some("dtf <b>@channel</b>".to_owned()),
    }
}

#[test]
fn hostile_names_stay_text_at_every_budget() {
    let c = hostile();
    for budget in [1_000, 2_500, 5_000, 10_000, 30_000, GITHUB_COMMENT_LIMIT] {
        let opts = CommentOptions {
            budget,
            title: Some("title @channel <script>".to_owned()),
            ..options()
        };
        let md = render(&c, &hostile_extras(), &opts);
        check_inert(&md, &opts);
        // no field runs on: the 10,000-character name is cut to 300
        let longest = md.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(longest < 1_500, "a line of {longest} characters");
    }
}

#[test]
fn hostile_names_render_like_this() {
    let opts = CommentOptions {
        title: Some("title @channel <script>".to_owned()),
        ..options()
    };
    let md = render(&hostile(), &hostile_extras(), &opts);
    for expected in [
        // a name in a table cell: a code span, pipes escaped, newlines flattened
        "| `a\\|b\\|c::[x](javascript:alert(1))` |",
        // backtick runs get a longer fence, and a space when they touch it
        "| ```` ```::line1 line2 \\| x \\| y \\| ```` |",
        // control characters become spaces
        "| ``` `` ` ``::nul bell esc [31m ``` |",
        // a bidi override shows as a replacement character
        "| `@channel::\u{FFFD}evil\u{FFFD}` |",
        // the long name is cut to 300 characters with an ellipsis
        &format!("`long::{}…`", "x".repeat(293)),
        // text outside code: escaped, mentions broken
        "## ❌ title @\u{200D}channel \\<script\\>: ",
        "<sub>Generated by dtf \\<b\\>@\u{200D}channel\\</b\\></sub>",
    ] {
        assert!(md.contains(expected), "{expected:?} missing from\n{md}");
    }
}

// ---------------------------------------------------------------------------------
// Property: random hostile comparisons keep every promise

fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<script>".to_owned()),
        Just("|".to_owned()),
        Just("`".to_owned()),
        Just("```".to_owned()),
        Just("\\".to_owned()),
        Just("\\|".to_owned()),
        Just("@channel".to_owned()),
        Just("#1".to_owned()),
        Just("[x](javascript:alert(1))".to_owned()),
        Just("http://evil".to_owned()),
        Just("www.evil.com".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\0".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("<details>".to_owned()),
        Just("</details>".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("&amp;".to_owned()),
        Just(" ".to_owned()),
        Just("😀".to_owned()),
        Just("*_~".to_owned()),
        "[a-z]{1,8}",
        "x{200,600}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

fn hostile_change(kind: Change) -> impl Strategy<Value = TestChange> {
    (
        hostile_text(),
        hostile_text(),
        prop::option::of(0.0..1.0f64),
    )
        .prop_map(move |(id, msg, flip)| TestChange {
            flip_rate: flip,
            ..failure(&id, kind, Category::Unknown, &msg)
        })
}

fn hostile_comparison() -> impl Strategy<Value = (Comparison, CommentExtras)> {
    let lists = (
        prop::collection::vec(hostile_change(Change::NewFailure), 0..40),
        prop::collection::vec(hostile_change(Change::StillFailing), 0..15),
        prop::collection::vec(hostile_change(Change::Flaky), 0..15),
        prop::collection::vec(hostile_change(Change::Fixed), 0..15),
        prop::collection::vec(hostile_change(Change::NewlySkipped), 0..3),
    );
    let others = (
        prop::collection::vec((hostile_text(), 0.1..10.0f64), 0..10),
        prop::collection::vec((hostile_text(), hostile_text()), 0..6),
        prop::collection::vec(hostile_text(), 0..6),
        prop::collection::vec(
            (
                hostile_text(),
                prop::collection::vec(prop::collection::vec(hostile_text(), 0..4), 0..20),
            ),
            0..3,
        ),
        hostile_text(),
        0usize..12,
    );
    (lists, others).prop_map(|((nf, sf, fl, fx, sk), (sl, an, gr, qs, branch, points))| {
        let mut c = typical();
        if let Some(b) = c.baseline.as_mut() {
            b.branch = Some(branch.clone());
        }
        c.tests = [nf, sf, fl, fx, sk].concat();
        c.slower = sl
            .iter()
            .map(|(id, f)| slower(id, 1.0, 1.0 + f, 0.9))
            .collect();
        c.anomalies = an
            .into_iter()
            .map(|(id, text)| Anomaly {
                id,
                kind: "duration".to_owned(),
                expected: text.clone(),
                observed: text,
                confidence: 0.7,
            })
            .collect();
        c.groups = gr.iter().map(|g| group("label", g)).collect();
        c.trend = trend(points);
        let extras = CommentExtras {
            queries: qs
                .into_iter()
                .map(|(title, rows)| QueryTable {
                    name: "q".to_owned(),
                    title,
                    columns: vec!["a|b".to_owned(), branch.clone(), "c".to_owned()],
                    rows,
                })
                .collect(),
            generated_by: Some(branch),
        };
        (c, extras)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_hostile_comments_keep_their_promises(
        (c, extra) in hostile_comparison(),
        budget in 1_000usize..70_000,
        max_items in 1usize..60,
    ) {
        let opts = CommentOptions { budget, max_items, ..options() };
        let md = render_comment(&c, &extra, &opts).unwrap();
        check_markdown(&md, &opts);
        check_inert(&md, &opts);
    }
}
