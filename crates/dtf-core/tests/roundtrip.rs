//! Model → JUnit → model: whatever the writer writes, the reader reads back the same.

use dtf_core::junit::read_all;
use dtf_core::junit::write::{JunitWriter, SuiteCounts, WriteLimits};
use dtf_core::model::{Detail, Outcome, OutcomeField, Rerun, TestCase};
use proptest::prelude::*;

/// Text that exercises escaping (markup characters, quotes, whitespace, non-ASCII)
/// but holds no `.` or `:`, so the reader's stack-trace file inference stays out of
/// the way: it is tested on its own.
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 <>&\"'\\n\\t\\r=/é中😀\\]\\[{}|*_#-]{1,40}")
        .expect("valid regex")
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn word() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z_][a-zA-Z0-9_.$/-]{0,20}").expect("valid regex")
}

fn seconds() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of((0u32..10_000_000).prop_map(|ms| f64::from(ms) / 1000.0))
}

fn detail() -> impl Strategy<Value = Detail> {
    (
        proptest::option::of(text()),
        proptest::option::of(word()),
        proptest::option::of(text()),
    )
        .prop_map(|(message, failure_type, details)| Detail {
            message,
            failure_type,
            details,
        })
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Passed),
        Just(Outcome::Failed),
        Just(Outcome::Errored),
        Just(Outcome::Skipped)
    ]
}

fn rerun() -> impl Strategy<Value = Rerun> {
    (
        prop_oneof![Just(Outcome::Failed), Just(Outcome::Errored)],
        detail(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        seconds(),
    )
        .prop_map(|(outcome, detail, stdout, stderr, duration)| Rerun {
            outcome,
            detail,
            stdout,
            stderr,
            duration,
        })
}

fn case() -> impl Strategy<Value = TestCase> {
    (
        (word(), word(), text(), proptest::option::of(word())),
        (
            proptest::option::of(1u32..100_000),
            seconds(),
            outcome(),
            detail(),
        ),
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::collection::vec((word(), text()), 0..3),
            proptest::collection::vec(rerun(), 0..3),
        ),
    )
        .prop_map(
            |(
                (suite, classname, name, file),
                (line, duration, outcome, detail),
                (stdout, stderr, properties, reruns),
            )| {
                TestCase {
                    suite,
                    classname: Some(classname),
                    name,
                    // A line without a file is not something JUnit can say.
                    line: file.as_ref().and(line),
                    file,
                    duration,
                    outcome: OutcomeField(outcome),
                    // A passed test has no result element to carry a message.
                    detail: if outcome == Outcome::Passed {
                        Detail::default()
                    } else {
                        detail
                    },
                    stdout,
                    stderr,
                    properties,
                    reruns: representable(outcome, reruns),
                    file_inferred: false,
                }
            },
        )
}

/// JUnit writes the reruns of a test that failed Surefire's way: the first failure
/// is the result element itself, which has no place for its own output or time.
fn representable(outcome: Outcome, mut reruns: Vec<Rerun>) -> Vec<Rerun> {
    if outcome.is_failure()
        && let Some(first) = reruns.first_mut()
    {
        first.stdout = None;
        first.stderr = None;
        first.duration = None;
    }
    reruns
}

fn write(cases: &[TestCase]) -> Vec<u8> {
    let mut w = JunitWriter::new(Vec::new(), WriteLimits::default());
    w.start("roundtrip", &SuiteCounts::default())
        .expect("write to memory");
    // Consecutive cases of one suite share a <testsuite>.
    let mut i = 0;
    while i < cases.len() {
        let suite = &cases[i].suite;
        let j = cases[i..]
            .iter()
            .position(|c| &c.suite != suite)
            .map_or(cases.len(), |k| i + k);
        let mut counts = SuiteCounts::default();
        for c in &cases[i..j] {
            counts.add(c.outcome(), c.duration);
        }
        w.start_suite(suite, &counts, &[]).expect("write to memory");
        for c in &cases[i..j] {
            w.write_case(c, &[]).expect("write to memory");
        }
        w.end_suite().expect("write to memory");
        i = j;
    }
    w.finish().expect("write to memory")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn model_junit_model(cases in proptest::collection::vec(case(), 0..12)) {
        let xml = write(&cases);
        let read = read_all(&xml[..], "roundtrip.xml");
        prop_assert!(read.is_ok(), "{:?}\n{}", read.err(), String::from_utf8_lossy(&xml));
        let read = read.unwrap_or_default();
        prop_assert_eq!(read.len(), cases.len());
        for (got, want) in read.iter().zip(&cases) {
            prop_assert_eq!(got, want, "\n{}", String::from_utf8_lossy(&xml));
        }
    }
}
