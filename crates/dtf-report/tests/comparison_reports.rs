//! The comparison, trend and query sections of the Markdown summary and the HTML
//! report: snapshots, and checks that hostile text stays text and that reports without
//! a comparison do not change.

#![allow(clippy::unwrap_used)]

use dtf_core::categorize::Category;
use dtf_history::model::{Anomaly, Change, Comparison};
use dtf_report::{QueryTable, ReportData, Totals, render_html, render_markdown};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

mod common;

use common::*;

fn with_groups(mut c: Comparison) -> Comparison {
    c.groups = vec![group("pool", "linux-x64"), group("label", "chrome-webgpu")];
    c.groups[1].baseline = None;
    c
}

fn queries() -> Vec<QueryTable> {
    vec![
        QueryTable {
            name: "slowest_by_pool".to_owned(),
            title: "Slowest tests by pool".to_owned(),
            columns: vec!["pool".into(), "test".into(), "p95_s".into()],
            rows: vec![
                vec![
                    "linux-x64".into(),
                    "com.acme.SearchIT::full_index".into(),
                    "31.5".into(),
                ],
                // a short row is padded, a long one cut to the header's width
                vec!["mac-arm".into()],
                vec![
                    "a|b".into(),
                    "<script>alert(4)</script>".into(),
                    "@channel".into(),
                    "extra".into(),
                ],
            ],
        },
        QueryTable {
            name: "empty".to_owned(),
            title: String::new(),
            columns: vec!["x".into()],
            rows: Vec::new(),
        },
    ]
}

fn report(c: Comparison) -> ReportData {
    ReportData {
        title: "dtf test report".to_owned(),
        generated_by: "dtf 0.1.0".to_owned(),
        totals: Totals {
            tests: 1229,
            passed: 1200,
            failed: 3,
            errored: 0,
            skipped: 25,
            flaky: 1,
            cases: 1232,
            duration_s: 252.4,
        },
        comparison: Some(c),
        queries: queries(),
        ..ReportData::default()
    }
}

/// The HTML between `<section ... id="{id}">` and its `</section>`.
fn html_section(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\">")).unwrap();
    let start = html[..start].rfind("<section").unwrap();
    let len = html[start..].find("</section>").unwrap();
    html[start..start + len + "</section>".len()].to_owned()
}

/// The Markdown from `heading` to the next `### ` heading or the footer.
fn md_section(md: &str, heading: &str) -> String {
    let start = md.find(heading).unwrap();
    let rest = &md[start + heading.len()..];
    let end = [rest.find("\n### "), rest.find("\n<sub>")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    md[start..start + heading.len() + end].to_owned()
}

#[test]
fn html_comparison_snapshots() {
    let html = render_html(&report(with_groups(typical()))).unwrap();
    insta::assert_snapshot!("comparison_html", html_section(&html, "comparison"));
    insta::assert_snapshot!("trend_html", html_section(&html, "trend"));
    insta::assert_snapshot!("queries_html", html_section(&html, "queries"));
}

#[test]
fn markdown_comparison_snapshot() {
    let md = render_markdown(&report(with_groups(typical()))).unwrap();
    check_tables(&md);
    insta::assert_snapshot!(
        "comparison_md",
        md_section(&md, "### Compared with `main@abc1234`")
    );
    insta::assert_snapshot!("queries_md", md_section(&md, "### Slowest tests by pool"));
}

#[test]
fn first_build_shows_history_without_comparison() {
    let mut c = first_build();
    c.trend = trend(3);
    let data = report(c);
    let md = render_markdown(&data).unwrap();
    check_tables(&md);
    assert!(
        md.contains("### History\n\nFirst build in the history: nothing to compare against yet.\n"),
        "{md}"
    );
    assert!(
        md.contains("**Trend** (last 3 builds): pass rate `▁▅█`"),
        "{md}"
    );
    let html = render_html(&data).unwrap();
    let section = html_section(&html, "comparison");
    assert!(section.contains("first build in the history"));
    assert!(!section.contains("<dl class=\"stats\">"));
    assert_eq!(html_section(&html, "trend").matches("<figure").count(), 4);
    // one build is no trend
    let mut c = first_build();
    c.trend = trend(1);
    let html = render_html(&report(c)).unwrap();
    assert!(!html.contains("id=\"trend\""));
}

#[test]
fn reports_without_history_data_have_no_history_sections() {
    let data = ReportData {
        comparison: None,
        queries: Vec::new(),
        ..report(typical())
    };
    let html = render_html(&data).unwrap();
    for id in ["comparison", "trend", "queries"] {
        assert!(!html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    // the extra styles come only with the sections
    assert!(!html.contains(".trend-grid"));
    assert!(
        render_html(&report(typical()))
            .unwrap()
            .contains(".trend-grid")
    );
    let md = render_markdown(&data).unwrap();
    assert!(!md.contains("Compared with") && !md.contains("**Trend**"));
}

/// The typical comparison with hostile text in every field the reports print.
fn hostile() -> Comparison {
    let mut c = with_groups(typical());
    let evil = "<script>alert(1)</script>|@channel`#1`[x](javascript:alert(1))\n";
    if let Some(b) = c.baseline.as_mut() {
        b.branch = Some(evil.to_owned());
        b.url = Some("javascript:alert(1)".to_owned());
    }
    for t in &mut c.tests {
        t.id = format!("{evil}{}", t.id);
        t.message = Some(evil.to_owned());
    }
    c.tests.push(failure(
        &"x".repeat(10_000),
        Change::NewFailure,
        Category::Crash,
        evil,
    ));
    for d in &mut c.slower {
        d.id = evil.to_owned();
    }
    c.anomalies.push(Anomaly {
        id: evil.to_owned(),
        kind: evil.to_owned(),
        expected: evil.to_owned(),
        observed: evil.to_owned(),
        confidence: 0.5,
    });
    c.groups[0].name = evil.to_owned();
    c.trend.points[0].build_id = evil.to_owned();
    c
}

#[test]
fn hostile_history_data_stays_text_in_html() {
    let html = render_html(&report(hostile())).unwrap();
    // exactly the template's two script elements, and no link from the data
    assert_eq!(html.matches("<script").count(), 2);
    assert!(!html.contains("<script>alert"));
    assert!(!html.to_ascii_lowercase().contains("href=\"javascript"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    // the trend tooltips too
    let trend = html_section(&html, "trend");
    assert!(
        trend.contains("<title>build &lt;script&gt;alert(1)"),
        "{trend}"
    );
}

#[test]
fn hostile_history_data_stays_text_in_markdown() {
    let md = render_markdown(&report(hostile())).unwrap();
    check_tables(&md);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    for event in Parser::new_ext(&md, options) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => {
                assert!(["<sub>", "</sub>"].contains(&h.trim()), "HTML {h:?}");
            }
            Event::Start(Tag::Link { dest_url, .. }) => panic!("link to {dest_url}"),
            Event::Text(t) => {
                assert!(!t.contains("@channel"), "live mention in {t:?}");
            }
            _ => {}
        }
    }
    // the 10,000-character id is cut
    assert!(md.lines().all(|l| l.chars().count() < 2_000));
}

/// Every table has as many cells in each row as in its header, as a GFM parser
/// reads them.
fn check_tables(md: &str) {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    let mut width = None;
    let mut cells = 0;
    for event in Parser::new_ext(md, options) {
        match event {
            Event::Start(Tag::Table(aligns)) => width = Some(aligns.len()),
            Event::Start(Tag::TableHead | Tag::TableRow) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                assert_eq!(Some(cells), width, "row width in\n{md}");
            }
            _ => {}
        }
    }
}
