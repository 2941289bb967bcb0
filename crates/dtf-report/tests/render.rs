//! Renders crafted reports through the built-in templates: snapshots of both formats,
//! and checks that hostile test names stay text and the HTML loads nothing.

#![allow(clippy::unwrap_used)]

use dtf_core::metadata::{BuildMetadata, Provider};
use dtf_core::model::Status;
use dtf_report::{
    FailureGroupRow, InputProblem, ReportData, ReportError, SuiteRow, Templates, TestRow,
    TimelineData, TimelineEntry, TimelineShard, Totals, render_html, render_markdown,
};

fn test(id: &str, status: Status, duration: Option<f64>) -> TestRow {
    let (scope, name) = id.split_once("::").unwrap();
    TestRow {
        id: id.to_owned(),
        suite: "unit".to_owned(),
        classname: Some(scope.to_owned()),
        name: name.to_owned(),
        file: None,
        line: None,
        status,
        duration_s: duration,
        attempts: 1,
        message: None,
        failure_type: None,
        details: None,
        stdout: None,
        stderr: None,
        category: None,
    }
}

fn suite(name: &str, counts: [u64; 5], duration_s: f64) -> SuiteRow {
    let [passed, failed, errored, skipped, flaky] = counts;
    SuiteRow {
        name: name.to_owned(),
        tests: counts.iter().sum(),
        passed,
        failed,
        errored,
        skipped,
        flaky,
        duration_s,
    }
}

/// A small report with one test of each status and hostile names throughout.
fn crafted() -> ReportData {
    ReportData {
        title: "dtf test report".to_owned(),
        generated_by: "dtf 0.1.0".to_owned(),
        build: Some(BuildMetadata {
            provider: Provider::Github,
            repository: Some("acme/widgets".to_owned()),
            branch: Some("feature/cart".to_owned()),
            base_branch: Some("main".to_owned()),
            commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            change_request: Some(42),
            build_id: Some("987654".to_owned()),
            build_url: Some("https://github.com/acme/widgets/actions/runs/987654".to_owned()),
            job: Some("test".to_owned()),
            shard: None,
            runner_name: Some("runner-1".to_owned()),
            runner_labels: vec!["ubuntu-latest".to_owned()],
        }),
        totals: Totals {
            tests: 1234,
            passed: 1200,
            failed: 3,
            errored: 1,
            skipped: 25,
            flaky: 5,
            cases: 1245,
            duration_s: 252.4,
        },
        suites: vec![
            suite("com.acme.CartTest", [600, 2, 0, 10, 3], 120.5),
            suite("| pipe | suite", [400, 1, 1, 15, 2], 100.0),
            suite("integration", [200, 0, 0, 0, 0], 31.9),
        ],
        tests: vec![
            test("com.acme.CartTest::adds_item", Status::Passed, Some(0.012)),
            TestRow {
                file: Some("src/test/java/com/acme/CartTest.java".to_owned()),
                line: Some(42),
                message: Some("expected: <2> but was: <3>".to_owned()),
                failure_type: Some("org.opentest4j.AssertionFailedError".to_owned()),
                details: Some(
                    "org.opentest4j.AssertionFailedError: expected: <2> but was: <3>\n\
                     \tat com.acme.CartTest.removes_item(CartTest.java:42)\n\
                     \tat java.base/java.lang.reflect.Method.invoke(Method.java:580)"
                        .to_owned(),
                ),
                stdout: Some("cart size before: 3\n".to_owned()),
                ..test(
                    "com.acme.CartTest::removes_item",
                    Status::Failed,
                    Some(1.234),
                )
            },
            TestRow {
                message: Some("boom </script><script>alert(2)</script>".to_owned()),
                failure_type: Some("NullPointerException".to_owned()),
                details: Some("```\nnot a fence end\n````\n".to_owned()),
                stderr: Some("@channel see [link](http://x)".to_owned()),
                ..test(
                    "com.acme.Hostile::<script>alert(1)</script>",
                    Status::Errored,
                    Some(3.5),
                )
            },
            TestRow {
                message: Some("disabled on linux".to_owned()),
                ..test("com.acme.Hostile::[link](http://x)", Status::Skipped, None)
            },
            TestRow {
                attempts: 3,
                message: Some("timed out after 10s\nretrying".to_owned()),
                ..test("| pipe |::@channel **bold** ```", Status::Flaky, Some(12.5))
            },
            test("integration::full_checkout", Status::Passed, Some(187.3)),
        ],
        unreadable: vec![InputProblem {
            path: "shard-3/junit.xml".to_owned(),
            error: "unexpected end of file at line 12".to_owned(),
        }],
        truncated: true,
        failure_groups: Vec::new(),
        timeline: None,
        comparison: None,
        queries: Vec::new(),
    }
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("summary_md", render_markdown(&crafted()).unwrap());
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("report_html", render_html(&crafted()).unwrap());
}

#[test]
fn markdown_keeps_hostile_names_as_text() {
    let md = render_markdown(&crafted()).unwrap();
    // Outside code fences, data may only appear escaped; inside fences it may be raw.
    let prose = strip_fences(&md);
    for raw in ["<script", "[link", "**bold", "| pipe", "```"] {
        assert_eq!(
            unescaped(&prose, raw),
            0,
            "raw {raw:?} in markdown prose:\n{prose}"
        );
    }
    for linkish in ["@channel", "http://x"] {
        assert!(
            !prose.contains(linkish),
            "{linkish:?} in markdown prose:\n{prose}"
        );
    }
    for escaped in [
        "com.acme.Hostile::\\<script\\>alert\\(1\\)\\</script\\>",
        "\\| pipe \\|::@\u{200D}channel \\*\\*bold\\*\\* \\`\\`\\`",
        // inside raw HTML (<summary>) the escaping is HTML's
        "<summary>errored: com.acme.Hostile::&lt;script&gt;alert(1)&lt;/script&gt;</summary>",
    ] {
        assert!(
            prose.contains(escaped),
            "{escaped:?} missing from:\n{prose}"
        );
    }
    // the errored test's trace holds a four-backtick run, so its fence has five
    assert!(
        md.contains("`````text\n```\nnot a fence end\n````\n`````"),
        "{md}"
    );
}

/// How often `needle` occurs in `text` without a backslash right before it.
fn unescaped(text: &str, needle: &str) -> usize {
    text.match_indices(needle)
        .filter(|(i, _)| !text[..*i].ends_with('\\'))
        .count()
}

/// The Markdown with the content of fenced code blocks removed.
fn strip_fences(md: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in md.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(f) if line == f.as_str() => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    assert!(fence.is_none(), "unclosed fence");
    out
}

#[test]
fn html_loads_nothing_from_the_network() {
    let html = render_html(&crafted()).unwrap();
    let lower = html.to_ascii_lowercase();
    for needle in [
        "src=", "<link", "@import", "url(", "<iframe", "<img", "<object",
    ] {
        assert!(!lower.contains(needle), "{needle:?} in the html");
    }
    // the only network reference is the link to the build
    let hrefs: Vec<&str> = lower
        .match_indices("href=")
        .map(|(i, _)| &html[i..])
        .collect();
    assert_eq!(hrefs.len(), 1, "{hrefs:?}");
    assert!(hrefs[0].starts_with("href=\"https:&#x2f;&#x2f;github.com&#x2f;acme"));
    let anchor_start = html[..html.find("href=").unwrap()].rfind('<').unwrap();
    assert!(html[anchor_start..].starts_with("<a "));
}

#[test]
fn html_keeps_hostile_names_as_text() {
    let html = render_html(&crafted()).unwrap();
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("</script><script>"));
    // exactly the template's two script elements
    assert_eq!(html.matches("<script").count(), 2);
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
}

#[test]
fn html_embeds_the_test_index_as_json() {
    let html = render_html(&crafted()).unwrap();
    let open = "<script type=\"application/json\" id=\"dtf-tests\">";
    let start = html.find(open).unwrap() + open.len();
    let len = html[start..].find("</script>").unwrap();
    let json = &html[start..start + len];
    assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
    let rows: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    let data = crafted();
    assert_eq!(rows.len(), data.tests.len());
    let names: Vec<&str> = rows.iter().map(|r| r["n"].as_str().unwrap()).collect();
    let expected: Vec<&str> = data.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, expected);
    let keys: Vec<Option<u64>> = rows.iter().map(|r| r["k"].as_u64()).collect();
    assert_eq!(keys, [None, Some(0), Some(1), None, Some(2), None]);
    assert_eq!(rows[2]["m"], "boom </script><script>alert(2)</script>");
    assert_eq!(rows[1]["l"], "src/test/java/com/acme/CartTest.java:42");
    // every details element the keys point at exists
    for k in 0..3 {
        assert!(html.contains(&format!("id=\"d{k}\"")), "d{k}");
    }
}

#[test]
fn headlines() {
    let check = |totals: Totals, unreadable: usize, expected: &str| {
        let data = ReportData {
            title: "t".to_owned(),
            generated_by: "dtf".to_owned(),
            totals,
            unreadable: vec![
                InputProblem {
                    path: "p".to_owned(),
                    error: "e".to_owned()
                };
                unreadable
            ],
            ..ReportData::default()
        };
        let md = render_markdown(&data).unwrap();
        let headline = md.lines().nth(2).unwrap();
        assert_eq!(headline, expected, "\n{md}");
        render_html(&data).unwrap();
    };
    let totals = |tests, failed, errored, skipped, flaky| Totals {
        tests,
        passed: tests - failed - errored - skipped - flaky,
        failed,
        errored,
        skipped,
        flaky,
        cases: tests,
        duration_s: 252.0,
    };
    check(
        totals(1234, 3, 1, 0, 0),
        0,
        "**FAILED**: 3 failed, 1 errored of 1,234 tests in 4m 12s",
    );
    check(
        totals(10, 3, 0, 0, 0),
        2,
        "**FAILED**: 3 failed of 10 tests in 4m 12s",
    );
    check(
        totals(1, 0, 1, 0, 0),
        0,
        "**FAILED**: 1 errored of 1 test in 4m 12s",
    );
    check(
        totals(1234, 0, 0, 0, 0),
        0,
        "**PASSED**: 1,234 tests in 4m 12s",
    );
    check(
        totals(1234, 0, 0, 10, 2),
        0,
        "**PASSED**: 1,234 tests in 4m 12s (2 flaky, 10 skipped)",
    );
    check(
        totals(5, 0, 0, 5, 0),
        0,
        "**PASSED**: 5 tests in 4m 12s (5 skipped)",
    );
    check(
        totals(7, 0, 0, 0, 0),
        1,
        "**INCOMPLETE**: 1 input could not be read; 7 tests passed in 4m 12s",
    );
    check(
        totals(0, 0, 0, 0, 0),
        2,
        "**INCOMPLETE**: 2 inputs could not be read; no tests were found",
    );
    check(
        totals(0, 0, 0, 0, 0),
        0,
        "**NO TESTS**: no test results were found",
    );
}

#[test]
fn empty_report_renders() {
    let data = ReportData::default();
    insta::assert_snapshot!("empty_md", render_markdown(&data).unwrap());
    let html = render_html(&data).unwrap();
    assert!(html.contains("No test results were found."));
    assert!(html.contains("<script type=\"application/json\" id=\"dtf-tests\">[]</script>"));
}

#[test]
fn override_dir_replaces_only_templates_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("summary.md.j2"),
        "custom {{ totals.tests | thousands }} {{ title }}",
    )
    .unwrap();
    std::fs::write(dir.path().join("unknown.j2"), "{% broken").unwrap();
    let templates = Templates::with_override_dir(dir.path()).unwrap();
    let data = ReportData {
        title: "a_b".to_owned(),
        ..crafted()
    };
    // the override is still Markdown-escaped
    assert_eq!(
        templates.render_markdown(&data).unwrap(),
        "custom 1,234 a\\_b"
    );
    assert_eq!(
        templates.render_html(&data).unwrap(),
        Templates::embedded().unwrap().render_html(&data).unwrap()
    );
    assert_eq!(
        templates.overrides().keys().collect::<Vec<_>>(),
        ["summary.md.j2"]
    );
}

#[test]
fn template_errors_name_the_file_and_line() {
    let check = |source: &str, line: usize, message: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html.j2");
        std::fs::write(&path, source).unwrap();
        let err = Templates::with_override_dir(dir.path())
            .and_then(|t| t.render_html(&crafted()))
            .unwrap_err();
        match &err {
            ReportError::Template {
                template,
                line: Some(l),
                message: m,
            } => {
                assert_eq!(template, &path.display().to_string());
                assert_eq!(*l, line, "{err}");
                assert!(m.contains(message), "{err}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("template {} line {line}: ", path.display())),
            "{shown}"
        );
    };
    check("ok\n{{ no_such_variable }}", 2, "undefined value");
    check("ok\n\n{{ totals.nope }}", 3, "undefined value");
    check("{% if %}", 1, "syntax error");
    check("{{ title | no_such_filter }}", 1, "unknown filter");
    check(
        "a\n{{ title | thousands }}",
        2,
        "thousands expects an integer",
    );
}

#[test]
fn missing_or_unreadable_overrides_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = Templates::with_override_dir(&missing).unwrap_err();
    assert!(matches!(&err, ReportError::TemplateDir { path, .. } if *path == missing));
    assert!(
        err.to_string()
            .starts_with("cannot read template directory ")
    );

    std::fs::write(dir.path().join("summary.md.j2"), [0xff, 0xfe, 0x00]).unwrap();
    let err = Templates::with_override_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, ReportError::ReadTemplate { path, .. } if path.ends_with("summary.md.j2")),
        "{err:?}"
    );
}

fn group(count: u64, category: &str, message: &str, tests: &[&str]) -> FailureGroupRow {
    FailureGroupRow {
        signature: format!("{category}: {message}"),
        category: category.to_owned(),
        message: message.to_owned(),
        count,
        tests: tests.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn entry(
    test: &str,
    slot: u32,
    start_s: f64,
    end_s: f64,
    status: &str,
    attempt: u32,
) -> TimelineEntry {
    TimelineEntry {
        test: test.to_owned(),
        slot,
        start_s,
        end_s,
        status: status.to_owned(),
        attempt,
    }
}

/// `crafted()` with categories, failure groups and a timeline of two shards.
fn with_run_data() -> ReportData {
    let mut data = crafted();
    data.tests[1].category = Some("assertion".to_owned());
    data.tests[2].category = Some("infrastructure".to_owned());
    data.tests[4].category = Some("timeout".to_owned());
    let many: Vec<String> = (0..20).map(|i| format!("api::test_{i:02}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    data.failure_groups = vec![
        group(
            37,
            "infrastructure",
            "ConnectionRefusedError: [Errno 111] Connection refused",
            &many,
        ),
        group(
            2,
            "assertion",
            "expected: <2> but was: <3>",
            &["com.acme.CartTest::removes_item", "x::y"],
        ),
        group(
            1,
            "error",
            "boom </script><script>alert(3)</script>",
            &["com.acme.Hostile::<script>alert(1)</script>"],
        ),
    ];
    data.timeline = Some(TimelineData {
        shards: vec![
            TimelineShard {
                shard: 2,
                slots: 1,
                entries: vec![entry(
                    "integration::full_checkout",
                    0,
                    0.5,
                    187.8,
                    "passed",
                    1,
                )],
            },
            TimelineShard {
                shard: 1,
                slots: 2,
                entries: vec![
                    entry("com.acme.CartTest::adds_item", 0, 0.0, 0.012, "passed", 1),
                    entry(
                        "com.acme.CartTest::removes_item",
                        1,
                        0.0,
                        1.234,
                        "failed",
                        1,
                    ),
                    entry(
                        "com.acme.Hostile::<script>alert(1)</script>",
                        0,
                        0.1,
                        3.6,
                        "errored",
                        1,
                    ),
                    entry("| pipe |::@channel **bold** ```", 1, 1.3, 11.3, "failed", 1),
                    entry(
                        "| pipe |::@channel **bold** ```",
                        1,
                        11.8,
                        24.3,
                        "passed",
                        2,
                    ),
                    entry("never::reported", 0, 4.0, 60.0, "lost", 1),
                ],
            },
        ],
    });
    data
}

/// The HTML between `<section ... id="{id}">` and its `</section>`.
fn html_section(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\">")).unwrap();
    let start = html[..start].rfind("<section").unwrap();
    let len = html[start..].find("</section>").unwrap();
    html[start..start + len + "</section>".len()].to_owned()
}

#[test]
fn failure_groups_and_timeline_snapshots() {
    let data = with_run_data();
    let md = render_markdown(&data).unwrap();
    insta::assert_snapshot!("summary_md_with_groups", md);
    let html = render_html(&data).unwrap();
    insta::assert_snapshot!("groups_html", html_section(&html, "groups"));
    insta::assert_snapshot!("timeline_html", html_section(&html, "timeline"));
}

#[test]
fn run_data_stays_text_and_shows_categories() {
    let data = with_run_data();
    let html = render_html(&data).unwrap();
    assert_eq!(html.matches("<script").count(), 2);
    assert!(!html.contains("alert(3)</script>"));
    // one rectangle per timeline entry, with its tooltip
    let timeline = html_section(&html, "timeline");
    assert_eq!(timeline.matches("<rect ").count(), 7);
    assert!(timeline.contains("<title>| pipe |::@channel **bold** ```: passed, attempt 2, 12.50s (at 11.80s on shard 1, slot 1)</title>"), "{timeline}");
    assert!(timeline.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;: errored"));
    for label in ["shard 1 · slot 0", "shard 1 · slot 1", "shard 2 · slot 0"] {
        assert!(timeline.contains(label), "{label}");
    }
    assert!(timeline.contains("<span class=\"dot c-lost\"></span>lost"));
    // categories in the failure details and the test index
    assert!(html.contains("<div><dt>Category</dt><dd>infrastructure</dd></div>"));
    assert!(html.contains("\"g\":\"timeout\""));
    let md = render_markdown(&data).unwrap();
    assert!(md.contains("**Category**: assertion"));
    // without run data, neither section appears
    let plain = render_html(&crafted()).unwrap();
    assert!(!plain.contains("id=\"timeline\"") && !plain.contains("id=\"groups\""));
    assert!(
        !render_markdown(&crafted())
            .unwrap()
            .contains("Failure groups")
    );
}

#[test]
fn timelines_are_capped() {
    let mut data = ReportData::default();
    let entries: Vec<TimelineEntry> = (0..25_000)
        .map(|i| {
            let start = i as f64 * 0.01;
            let status = if i % 1000 == 0 { "failed" } else { "passed" };
            // every tenth test is long, so the longest are kept
            let len = if i % 10 == 0 { 0.05 } else { 0.005 };
            entry(
                &format!("t::{i}"),
                (i % 8) as u32,
                start,
                start + len,
                status,
                1,
            )
        })
        .collect();
    data.timeline = Some(TimelineData {
        shards: vec![TimelineShard {
            shard: 1,
            slots: 8,
            entries,
        }],
    });
    let html = render_html(&data).unwrap();
    let timeline = html_section(&html, "timeline");
    assert_eq!(timeline.matches("<rect ").count(), 20_000);
    assert!(timeline.contains("20,000 of 25,000 attempts drawn"));
    // the failures and the long tests are all kept
    assert_eq!(timeline.matches("class=\"tb s-failed\"").count(), 25);
    assert!(timeline.contains("<title>t::24990: passed"));
    assert!(html.len() < 6_000_000, "{}", html.len());
    // an empty timeline draws nothing
    data.timeline = Some(TimelineData::default());
    assert!(!render_html(&data).unwrap().contains("id=\"timeline\""));
}

#[test]
fn failure_group_rows_from_core_groups() {
    use dtf_core::categorize::{Category, FailureGroup};
    let g = FailureGroup {
        signature: "sig".into(),
        category: Category::Infrastructure,
        message: "Connection refused".into(),
        members: (0..37).map(|i| format!("t::{i}")).collect(),
    };
    let row = FailureGroupRow::from_group(&g);
    assert_eq!(row.count, 37);
    assert_eq!(row.tests.len(), FailureGroupRow::MAX_TESTS);
    assert_eq!(row.category, "infrastructure");
    // older report data without the new fields still reads
    let old = serde_json::json!({
        "title": "t", "generated_by": "g", "build": null,
        "totals": {"tests": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0, "flaky": 0, "cases": 0, "duration_s": 0.0},
        "suites": [], "tests": [], "unreadable": [], "truncated": false
    });
    let data: ReportData = serde_json::from_value(old).unwrap();
    assert!(data.failure_groups.is_empty() && data.timeline.is_none());
}
