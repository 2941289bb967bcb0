//! Comparisons made by hand, shared by the comment and report tests.

#![allow(dead_code, clippy::unwrap_used)]

use dtf_core::categorize::Category;
use dtf_core::model::Status;
use dtf_history::model::{
    Anomaly, BuildInfo, BuildTotals, COMPARISON_SCHEMA, Change, Comparison, DurationChange,
    GroupComparison, TestChange, Trend, TrendPoint,
};

pub fn build(id: &str, branch: &str, commit: &str) -> BuildInfo {
    BuildInfo {
        build_id: id.to_owned(),
        provider: "github".to_owned(),
        repository: Some("acme/widgets".to_owned()),
        branch: Some(branch.to_owned()),
        base_branch: None,
        commit: Some(commit.to_owned()),
        change_request: None,
        url: Some(format!("https://github.com/acme/widgets/actions/runs/{id}")),
        time_unix: 1_760_000_000,
        wall_s: Some(95.0),
    }
}

pub fn totals(passed: u64, failed: u64, errored: u64, skipped: u64, flaky: u64) -> BuildTotals {
    BuildTotals {
        tests: passed + failed + errored + skipped + flaky,
        passed,
        failed,
        errored,
        skipped,
        flaky,
        duration_s: 252.4,
        wall_s: Some(95.0),
    }
}

pub fn change(id: &str, change: Change, status: Status, baseline: Option<Status>) -> TestChange {
    TestChange {
        id: id.to_owned(),
        change,
        status: Some(status),
        baseline_status: baseline,
        duration_s: Some(1.5),
        baseline_duration_s: baseline.map(|_| 1.2),
        category: None,
        message: None,
        flip_rate: None,
        confidence: 1.0,
    }
}

pub fn failure(id: &str, kind: Change, category: Category, message: &str) -> TestChange {
    let baseline = if kind == Change::NewFailure {
        Status::Passed
    } else {
        Status::Failed
    };
    TestChange {
        category: Some(category),
        message: Some(message.to_owned()),
        ..change(id, kind, Status::Failed, Some(baseline))
    }
}

pub fn slower(id: &str, expected_s: f64, observed_s: f64, confidence: f64) -> DurationChange {
    DurationChange {
        id: id.to_owned(),
        expected_s,
        observed_s,
        ratio: observed_s / expected_s,
        score: 6.2,
        confidence,
    }
}

pub fn trend(n: usize) -> Trend {
    Trend {
        points: (0..n)
            .map(|i| TrendPoint {
                build_id: format!("{}", 1000 + i),
                time_unix: 1_760_000_000 + i as i64 * 3600,
                pass_rate: [0.995, 0.998, 1.0, 0.997, 0.999, 1.0, 0.996, 0.992][i % 8],
                duration_s: 200.0 + 7.0 * i as f64,
                tests: 1200 + 5 * i as u64,
                flaky: [1, 0, 2, 1, 0, 0, 3, 1][i % 8],
            })
            .collect(),
    }
}

/// A typical pull request: 2 new failures, 1 still failing, 1 flaky, 1 fixed, 2
/// slower tests, trend of 8 builds.
pub fn typical() -> Comparison {
    let mut flaky = change(
        "tests/test_api.py::test_upload_retry",
        Change::Flaky,
        Status::Flaky,
        Some(Status::Passed),
    );
    flaky.flip_rate = Some(0.35);
    flaky.confidence = 0.82;
    flaky.message = Some("ConnectionResetError: [Errno 104] Connection reset by peer".to_owned());
    flaky.category = Some(Category::Infrastructure);
    Comparison {
        schema: COMPARISON_SCHEMA.to_owned(),
        build: BuildInfo {
            change_request: Some(42),
            base_branch: Some("main".to_owned()),
            ..build("9002", "feature/cart", "0123456789abcdef")
        },
        baseline: Some(build("9001", "main", "abc1234def567890")),
        totals: totals(1200, 3, 0, 25, 1),
        baseline_totals: Some(BuildTotals {
            duration_s: 225.0,
            ..totals(1201, 1, 0, 25, 0)
        }),
        tests: vec![
            failure(
                "com.acme.CartTest::removes_item",
                Change::NewFailure,
                Category::Assertion,
                "expected: <2> but was: <3>\n\tat com.acme.CartTest.removes_item(CartTest.java:42)",
            ),
            failure(
                "com.acme.CheckoutIT::pays_with_card",
                Change::NewFailure,
                Category::Timeout,
                "TimeoutError: waited 30000ms for `#pay-button`",
            ),
            failure(
                "com.acme.LegacyTest::old_tax_rules",
                Change::StillFailing,
                Category::Error,
                "NullPointerException",
            ),
            change(
                "com.acme.PriceTest::rounds_half_up",
                Change::Fixed,
                Status::Passed,
                Some(Status::Failed),
            ),
            change(
                "com.acme.NewTest::brand_new",
                Change::New,
                Status::Passed,
                None,
            ),
            TestChange {
                status: None,
                ..change(
                    "com.acme.OldTest::gone",
                    Change::Removed,
                    Status::Passed,
                    Some(Status::Passed),
                )
            },
            flaky,
        ],
        slower: vec![
            slower("com.acme.SearchIT::full_index", 12.0, 31.5, 0.97),
            slower("com.acme.CartTest::bulk_add", 0.8, 1.9, 0.74),
        ],
        faster: vec![slower("com.acme.ImageTest::resize", 4.0, 2.0, 0.9)],
        suite_duration: Some(DurationChange {
            id: String::new(),
            expected_s: 226.0,
            observed_s: 252.4,
            ratio: 252.4 / 226.0,
            score: 3.1,
            confidence: 0.88,
        }),
        groups: Vec::new(),
        anomalies: vec![Anomaly {
            id: "com.acme.SearchIT::full_index".to_owned(),
            kind: "duration".to_owned(),
            expected: "12.00s ± 0.40s".to_owned(),
            observed: "31.50s".to_owned(),
            confidence: 0.97,
        }],
        trend: trend(8),
    }
}

pub fn first_build() -> Comparison {
    Comparison {
        schema: COMPARISON_SCHEMA.to_owned(),
        build: build("1", "main", "fedcba9876543210"),
        baseline: None,
        totals: totals(340, 0, 0, 2, 0),
        baseline_totals: None,
        tests: Vec::new(),
        slower: Vec::new(),
        faster: Vec::new(),
        suite_duration: None,
        groups: Vec::new(),
        anomalies: Vec::new(),
        trend: trend(1),
    }
}

pub fn all_green() -> Comparison {
    Comparison {
        baseline: Some(build("9001", "main", "abc1234def567890")),
        baseline_totals: Some(totals(1229, 0, 0, 5, 0)),
        totals: totals(1229, 0, 0, 5, 0),
        trend: trend(8),
        ..first_build()
    }
}

pub fn group(kind: &str, name: &str) -> GroupComparison {
    GroupComparison {
        kind: kind.to_owned(),
        name: name.to_owned(),
        now: totals(100, 2, 0, 1, 1),
        baseline: Some(totals(101, 1, 0, 1, 0)),
        new_failures: 1,
    }
}
