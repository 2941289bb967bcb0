//! Writes `report.html`, `summary.md` and `comment.md` for a made-up run of a few
//! hundred tests compared with a made-up baseline, to preview template changes:
//!
//! ```text
//! cargo run -p dtf-report --example sample_report -- OUT_DIR [TEMPLATE_DIR]
//! ```

use std::path::PathBuf;

use dtf_core::categorize::{Categorizer, group};
use dtf_core::metadata::{BuildMetadata, Provider};
use dtf_core::model::Status;
use dtf_core::model::{Detail, Outcome, OutcomeField, TestCase};
use dtf_history::model::{
    BuildInfo, BuildTotals, COMPARISON_SCHEMA, Change, Comparison, DurationChange, TestChange,
    Trend, TrendPoint,
};
use dtf_report::{
    CommentExtras, CommentOptions, FailureGroupRow, InputProblem, QueryTable, ReportData, SuiteRow,
    Templates, TestRow, TimelineData, TimelineEntry, TimelineShard, Totals,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: sample_report OUT_DIR [TEMPLATE_DIR]")?,
    );
    let template_dir = args.next().map(PathBuf::from);
    let templates = Templates::new(template_dir.as_deref())?;
    let data = sample();
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.html"), templates.render_html(&data)?)?;
    std::fs::write(out.join("summary.md"), templates.render_markdown(&data)?)?;
    if let Some(comparison) = &data.comparison {
        let comment = templates.render_comment(
            comparison,
            &CommentExtras {
                queries: data.queries.clone(),
                generated_by: Some(data.generated_by.clone()),
            },
            &CommentOptions::default(),
        )?;
        std::fs::write(out.join("comment.md"), comment)?;
    }
    Ok(())
}

/// A deterministic pseudo-random sequence, so the sample is the same every time.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn sample() -> ReportData {
    let mut rng = Lcg(7);
    let suites = [
        (
            "com.acme.cart.CartServiceTest",
            "src/test/java/com/acme/cart/CartServiceTest.java",
        ),
        (
            "com.acme.checkout.CheckoutFlowIT",
            "src/it/java/com/acme/checkout/CheckoutFlowIT.java",
        ),
        (
            "com.acme.pricing.DiscountRulesTest",
            "src/test/java/com/acme/pricing/DiscountRulesTest.java",
        ),
        ("tests.api.test_orders", "tests/api/test_orders.py"),
        ("tests.api.test_users", "tests/api/test_users.py"),
        (
            "web/components/Button.test.tsx",
            "web/components/Button.test.tsx",
        ),
    ];
    let verbs = [
        "adds",
        "removes",
        "updates",
        "rejects",
        "renders",
        "retries",
        "computes",
        "validates",
    ];
    let nouns = [
        "item", "coupon", "order", "user", "address", "payment", "discount", "session",
    ];
    let mut tests = Vec::new();
    let mut suite_rows = Vec::new();
    for (si, (suite, file)) in suites.iter().enumerate() {
        let mut row = SuiteRow {
            name: (*suite).to_owned(),
            ..SuiteRow::default()
        };
        for i in 0..(40 + si * 17) {
            let r = rng.next();
            let status = match r {
                r if r < 0.012 => Status::Failed,
                r if r < 0.016 => Status::Errored,
                r if r < 0.03 => Status::Flaky,
                r if r < 0.07 => Status::Skipped,
                _ => Status::Passed,
            };
            let scale = if suite.ends_with("IT") { 20.0 } else { 0.4 };
            let duration = (rng.next().powi(3) * scale * 10.0 + rng.next() * 0.05) * scale.min(1.0);
            let name = format!(
                "{}_{}_{}",
                verbs[(rng.next() * 8.0) as usize],
                nouns[(rng.next() * 8.0) as usize],
                i
            );
            let broken = status != Status::Passed && status != Status::Skipped;
            let test = TestRow {
                id: format!("{suite}::{name}"),
                suite: (*suite).to_owned(),
                classname: Some((*suite).to_owned()),
                name,
                file: Some((*file).to_owned()),
                line: Some(20 + i as u32 * 7),
                status,
                duration_s: if status == Status::Skipped { None } else { Some(duration) },
                attempts: if status == Status::Flaky { 2 } else { 1 },
                message: match status {
                    Status::Skipped => Some("requires a database".to_owned()),
                    _ if broken && i % 3 == 1 => Some(format!(
                        "Connection refused: db-{}.internal/10.0.3.{}:5432",
                        i % 4,
                        i
                    )),
                    _ if broken && i % 3 == 2 => Some(format!("timed out after {}s", 20 + i)),
                    _ if broken => Some(format!(
                        "expected: <{}> but was: <{}>",
                        (r * 1000.0) as u32,
                        (r * 1000.0) as u32 + 1
                    )),
                    _ => None,
                },
                failure_type: broken.then(|| {
                    match i % 3 {
                        1 => "java.net.ConnectException",
                        2 => "java.util.concurrent.TimeoutException",
                        _ => "org.opentest4j.AssertionFailedError",
                    }
                    .to_owned()
                }),
                details: broken.then(|| {
                    format!(
                        "org.opentest4j.AssertionFailedError: expected: <1> but was: <2>\n\
                         \tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:150)\n\
                         \tat {suite}.test(Test.java:{})\n\
                         \tat java.base/java.lang.reflect.Method.invoke(Method.java:580)",
                        20 + i * 7
                    )
                }),
                stdout: broken.then(|| "[main] INFO  starting\n[main] DEBUG cart=3 items\n".to_owned()),
                stderr: None,
                category: None,
            };
            row.tests += 1;
            match status {
                Status::Passed => row.passed += 1,
                Status::Failed => row.failed += 1,
                Status::Errored => row.errored += 1,
                Status::Skipped => row.skipped += 1,
                Status::Flaky => row.flaky += 1,
            }
            row.duration_s += test.duration_s.unwrap_or(0.0);
            tests.push(test);
        }
        suite_rows.push(row);
    }
    let mut totals = Totals::default();
    for s in &suite_rows {
        totals.tests += s.tests;
        totals.passed += s.passed;
        totals.failed += s.failed;
        totals.errored += s.errored;
        totals.skipped += s.skipped;
        totals.flaky += s.flaky;
        totals.duration_s += s.duration_s;
    }
    totals.cases = totals.tests + totals.flaky;

    // Categories and failure groups, as `dtf run` and `dtf report` compute them.
    let cases: Vec<TestCase> = tests
        .iter()
        .filter(|t| t.status.is_failure() || t.status == Status::Flaky)
        .map(|t| TestCase {
            suite: t.suite.clone(),
            classname: t.classname.clone(),
            name: t.name.clone(),
            outcome: OutcomeField(if t.status.is_failure() {
                Outcome::Failed
            } else {
                Outcome::Passed
            }),
            detail: Detail {
                message: t.message.clone(),
                failure_type: t.failure_type.clone(),
                details: t.details.clone(),
            },
            ..TestCase::default()
        })
        .collect();
    let categorizer = Categorizer::builtin();
    for (t, c) in tests
        .iter_mut()
        .filter(|t| t.status.is_failure())
        .zip(cases.iter().filter(|c| c.outcome().is_failure()))
    {
        t.category = Some(categorizer.categorize(c).to_string());
    }
    let failure_groups = group(&cases)
        .iter()
        .map(FailureGroupRow::from_group)
        .collect();

    // Three shards of four worker slots, each slot taking the next test when free.
    let mut shards: Vec<TimelineShard> = (1..=3)
        .map(|shard| TimelineShard {
            shard,
            slots: 4,
            entries: Vec::new(),
        })
        .collect();
    let mut free = [[0.0f64; 4]; 3];
    for (i, t) in tests.iter().enumerate() {
        let shard = i % 3;
        let slot = (0..4)
            .min_by(|a, b| free[shard][*a].total_cmp(&free[shard][*b]))
            .unwrap_or(0);
        let attempts = t.attempts.max(1);
        for attempt in 1..=attempts {
            let start = free[shard][slot];
            let end = start + t.duration_s.unwrap_or(0.0) + 0.02;
            let status = match t.status {
                Status::Flaky if attempt < attempts => "failed",
                Status::Flaky => "passed",
                s => s.as_str(),
            };
            shards[shard].entries.push(TimelineEntry {
                test: t.id.clone(),
                slot: slot as u32,
                start_s: start,
                end_s: end,
                status: status.to_owned(),
                attempt,
            });
            free[shard][slot] = end;
        }
    }
    let comparison = compare(&tests, &totals);
    ReportData {
        title: "dtf test report".to_owned(),
        generated_by: format!("dtf {}", env!("CARGO_PKG_VERSION")),
        build: Some(BuildMetadata {
            provider: Provider::Github,
            repository: Some("acme/shop".to_owned()),
            branch: Some("feature/faster-checkout".to_owned()),
            base_branch: Some("main".to_owned()),
            commit: Some("9f2c4e1a7b3d5f60812ab34cd56ef7890a1b2c3d".to_owned()),
            change_request: Some(1287),
            build_id: Some("8812345".to_owned()),
            build_url: Some("https://github.com/acme/shop/actions/runs/8812345".to_owned()),
            job: Some("test".to_owned()),
            shard: None,
            runner_name: None,
            runner_labels: Vec::new(),
        }),
        totals,
        suites: suite_rows,
        tests,
        unreadable: vec![InputProblem {
            path: "artifacts/shard-4/junit.xml".to_owned(),
            error: "unexpected end of file at line 812".to_owned(),
        }],
        truncated: false,
        failure_groups,
        timeline: Some(TimelineData { shards }),
        comparison: Some(comparison),
        queries: vec![QueryTable {
            name: "slowest_suites".to_owned(),
            title: "Slowest suites over the last 20 builds".to_owned(),
            columns: vec!["suite".to_owned(), "median".to_owned(), "p95".to_owned()],
            rows: vec![
                vec![
                    "com.acme.checkout.CheckoutFlowIT".into(),
                    "3m 2s".into(),
                    "3m 40s".into(),
                ],
                vec![
                    "tests.api.test_orders".into(),
                    "41.20s".into(),
                    "52.03s".into(),
                ],
            ],
        }],
    }
}

/// This run against a made-up baseline: every failure new but the first, which was
/// failing already; a few fixed tests and slower ones; a trend of 12 builds.
fn compare(tests: &[TestRow], totals: &Totals) -> Comparison {
    let info = |id: &str, branch: &str| BuildInfo {
        build_id: id.to_owned(),
        provider: "github".to_owned(),
        branch: Some(branch.to_owned()),
        commit: Some(format!("{id:0>12}")),
        url: Some(format!("https://github.com/acme/shop/actions/runs/{id}")),
        ..BuildInfo::default()
    };
    let now = BuildTotals {
        tests: totals.tests,
        passed: totals.passed,
        failed: totals.failed,
        errored: totals.errored,
        skipped: totals.skipped,
        flaky: totals.flaky,
        duration_s: totals.duration_s,
        wall_s: None,
    };
    let mut changes = Vec::new();
    let mut slower = Vec::new();
    let mut broken = 0;
    for t in tests {
        let change = match t.status {
            Status::Failed | Status::Errored => {
                broken += 1;
                if broken == 1 {
                    Change::StillFailing
                } else {
                    Change::NewFailure
                }
            }
            Status::Flaky => Change::Flaky,
            _ => continue,
        };
        changes.push(TestChange {
            id: t.id.clone(),
            change,
            status: Some(t.status),
            baseline_status: Some(if change == Change::StillFailing {
                Status::Failed
            } else {
                Status::Passed
            }),
            duration_s: t.duration_s,
            baseline_duration_s: t.duration_s.map(|d| d * 0.9),
            category: None,
            message: t.message.clone(),
            flip_rate: (change == Change::Flaky).then_some(0.2),
            confidence: 1.0,
        });
    }
    for t in tests.iter().filter(|t| t.status == Status::Passed).take(3) {
        changes.push(TestChange {
            change: Change::Fixed,
            status: Some(Status::Passed),
            baseline_status: Some(Status::Failed),
            flip_rate: None,
            message: None,
            ..changes[0].clone()
        });
        if let Some(last) = changes.last_mut() {
            last.id = t.id.clone();
        }
    }
    for t in tests
        .iter()
        .filter_map(|t| Some((t, t.duration_s?)))
        .take(4)
    {
        let (t, observed_s) = t;
        slower.push(DurationChange {
            id: t.id.clone(),
            expected_s: observed_s / 2.5,
            observed_s,
            ratio: 2.5,
            score: 5.0,
            confidence: 0.9,
        });
    }
    changes.sort_by(|a, b| a.change.cmp(&b.change).then_with(|| a.id.cmp(&b.id)));
    Comparison {
        schema: COMPARISON_SCHEMA.to_owned(),
        build: info("8812345", "feature/faster-checkout"),
        baseline: Some(info("8812001", "main")),
        totals: now.clone(),
        baseline_totals: Some(BuildTotals {
            duration_s: now.duration_s * 0.93,
            ..now
        }),
        tests: changes,
        slower,
        faster: Vec::new(),
        suite_duration: None,
        groups: Vec::new(),
        anomalies: Vec::new(),
        trend: Trend {
            points: (0..12)
                .map(|i| TrendPoint {
                    build_id: format!("{}", 8812000 + i),
                    time_unix: 1_760_000_000 + i * 3600,
                    pass_rate: 0.97 + (i % 4) as f64 / 100.0,
                    duration_s: 600.0 + 9.0 * i as f64,
                    tests: 400 + i as u64,
                    flaky: (i % 3) as u64,
                })
                .collect(),
        },
    }
}
