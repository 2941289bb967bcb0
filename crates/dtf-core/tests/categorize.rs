//! Error categories from what real frameworks write, user rules, signatures and
//! failure groups.

#![allow(clippy::unwrap_used)]

use dtf_core::categorize::{
    Categorizer, Category, Field, Rule, RuleConfig, RuleError, group, headline, normalize_message,
    signature, top_frame,
};
use dtf_core::model::{Detail, Outcome, OutcomeField, Rerun, TestCase};

fn case(
    outcome: Outcome,
    failure_type: Option<&str>,
    message: Option<&str>,
    details: Option<&str>,
) -> TestCase {
    TestCase {
        suite: "s".into(),
        classname: Some("pkg.Mod".into()),
        name: "t".into(),
        outcome: OutcomeField(outcome),
        detail: Detail {
            message: message.map(str::to_owned),
            failure_type: failure_type.map(str::to_owned),
            details: details.map(str::to_owned),
        },
        ..TestCase::default()
    }
}

fn failed(failure_type: Option<&str>, message: &str, details: Option<&str>) -> TestCase {
    case(Outcome::Failed, failure_type, Some(message), details)
}

/// (type, message, details, expected)
type Row<'a> = (Option<&'a str>, &'a str, Option<&'a str>, Category);

fn check_table(categorizer: &Categorizer, rows: &[Row<'_>]) {
    let mut wrong = Vec::new();
    for (t, message, details, want) in rows {
        let got = categorizer.categorize(&failed(*t, message, *details));
        if got != *want {
            wrong.push(format!(
                "{t:?} {message:?} {details:?}: got {got}, want {want}"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn builtin_categories_from_messages() {
    use Category::*;
    let rows: &[Row] = &[
        // assertions
        (Some("AssertionError"), "assert 1 == 2", None, Assertion),
        (None, "AssertionError: one\nassert 1 == 2", None, Assertion),
        (
            Some("org.opentest4j.AssertionFailedError"),
            "expected: <2> but was: <3>",
            None,
            Assertion,
        ),
        (
            Some("junit.framework.ComparisonFailure"),
            "strings differ",
            None,
            Assertion,
        ),
        (None, "expected 3 but got 4", None, Assertion),
        (None, "Expected: 3, actual: 4", None, Assertion),
        (
            None,
            "expect(received).toBe(expected) // Object.is equality",
            None,
            Assertion,
        ),
        (
            None,
            "expected [ 1, 2 ] to deeply equal [ 1, 3 ]",
            None,
            Assertion,
        ),
        (None, "calc_test.go:17: got 3, want 4", None, Assertion),
        (Some("AssertionError"), "Values not equal", None, Assertion),
        // errors and exceptions
        (Some("KeyError"), "'missing'", None, Error),
        (
            None,
            "TypeError: Cannot read properties of undefined (reading 'x')",
            None,
            Error,
        ),
        (Some("java.lang.NullPointerException"), "", None, Error),
        (None, "ZeroDivisionError: division by zero", None, Error),
        (None, "something odd happened", None, Error),
        // timeouts
        (None, "Timeout >5.0s", None, Timeout),
        (
            None,
            "Exceeded timeout of 5000 ms for a test.",
            None,
            Timeout,
        ),
        (None, "Test timed out in 5000ms.", None, Timeout),
        (
            Some("TimeoutError"),
            "operation took too long",
            None,
            Timeout,
        ),
        (None, "context deadline exceeded", None, Timeout),
        (
            None,
            "rpc error: code = DEADLINE_EXCEEDED desc = slow",
            None,
            Timeout,
        ),
        (Some("test timeout"), "", None, Timeout),
        (None, "panic: test timed out after 10m0s", None, Timeout),
        (
            Some("org.junit.runners.model.TestTimedOutException"),
            "test timed out after 100 milliseconds",
            None,
            Timeout,
        ),
        (None, "Error: Timeout of 2000ms exceeded.", None, Timeout),
        // crashes
        (
            Some("test abort"),
            "process aborted with signal 11 (SIGSEGV)",
            None,
            Crash,
        ),
        (
            Some("test abort"),
            "process aborted with signal 6 (SIGABRT)",
            None,
            Crash,
        ),
        (None, "Fatal Python error: Segmentation fault", None, Crash),
        (None, "Aborted (core dumped)", None, Crash),
        (None, "container was OOMKilled", None, Crash),
        (
            None,
            "memory allocation of 1099511627776 bytes failed",
            None,
            Crash,
        ),
        (Some("MemoryError"), "", None, Crash),
        (
            Some("java.lang.OutOfMemoryError"),
            "Java heap space",
            None,
            Crash,
        ),
        (
            None,
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            None,
            Crash,
        ),
        (Some("test failure with exit code 137"), "", None, Crash),
        (None, "process exited with exit code 139", None, Crash),
        (None, "killed by signal 9", None, Crash),
        (None, "thread 'main' has overflowed its stack", None, Crash),
        (None, "fatal error: runtime: out of memory", None, Crash),
        (
            None,
            "Jest worker encountered 4 child process exceptions, exceeding retry limit",
            None,
            Crash,
        ),
        (None, "node down: Not properly terminated", None, Crash),
        // infrastructure
        (
            None,
            "ConnectionRefusedError: [Errno 111] Connection refused",
            None,
            Infrastructure,
        ),
        (
            None,
            "connect ECONNREFUSED 127.0.0.1:5432",
            None,
            Infrastructure,
        ),
        (None, "read ECONNRESET", None, Infrastructure),
        (None, "Connection reset by peer", None, Infrastructure),
        (
            None,
            "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.example.com', port=443): Max retries exceeded",
            None,
            Infrastructure,
        ),
        (
            None,
            "socket.gaierror: [Errno -2] Name or service not known",
            None,
            Infrastructure,
        ),
        (
            None,
            "getaddrinfo ENOTFOUND registry.npmjs.org",
            None,
            Infrastructure,
        ),
        (
            None,
            "dial tcp: lookup db on 10.0.0.2:53: no such host",
            None,
            Infrastructure,
        ),
        (
            None,
            "Temporary failure in name resolution",
            None,
            Infrastructure,
        ),
        (
            Some("java.net.UnknownHostException"),
            "db.internal",
            None,
            Infrastructure,
        ),
        (
            Some("java.net.ConnectException"),
            "Connection refused",
            None,
            Infrastructure,
        ),
        (
            None,
            "OSError: [Errno 28] No space left on device",
            None,
            Infrastructure,
        ),
        (
            None,
            "ENOSPC: no space left on device, write",
            None,
            Infrastructure,
        ),
        (None, "HTTP 503 Service Unavailable", None, Infrastructure),
        (None, "502 Bad Gateway", None, Infrastructure),
        (
            None,
            "net/http: TLS handshake timeout",
            None,
            Infrastructure,
        ),
        (None, "429 Too Many Requests", None, Infrastructure),
        (
            None,
            "API rate limit exceeded for 1.2.3.4",
            None,
            Infrastructure,
        ),
        (
            None,
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
            None,
            Infrastructure,
        ),
        (
            None,
            "dial tcp 10.1.2.3:443: i/o timeout",
            None,
            Infrastructure,
        ),
        (
            None,
            "connect: network is unreachable",
            None,
            Infrastructure,
        ),
        (
            None,
            "ssh: connect to host x port 22: Connection timed out",
            None,
            Infrastructure,
        ),
        // setup and teardown
        (
            None,
            "failed on setup with \"RuntimeError: boom\"",
            None,
            Setup,
        ),
        (
            None,
            "failed on teardown with \"ValueError: x\"",
            None,
            Setup,
        ),
        (None, "error at setup of test_x", None, Setup),
        (None, "setUpClass (tests.test_db.DbTest)", None, Setup),
        (None, "Exception in @BeforeAll method", None, Setup),
        (None, "\"before all\" hook for \"works\"", None, Setup),
        (None, "fixture 'db' not found", None, Setup),
        // setup that could not connect is infrastructure, so it is retried
        (
            None,
            "failed on setup with \"ConnectionRefusedError: [Errno 111] Connection refused\"",
            None,
            Infrastructure,
        ),
        // lost, as the engine writes it
        (
            Some("lost"),
            "the framework never reported this test",
            None,
            Lost,
        ),
        (Some("timeout"), "killed after 60s", None, Timeout),
    ];
    check_table(&Categorizer::builtin(), rows);
}

#[test]
fn categories_from_stack_traces_when_the_message_says_little() {
    use Category::*;
    let rust_assert = "thread 'asserts_eq' (20508) panicked at tests/faults.rs:5:27:\n\
        assertion `left == right` failed\n  left: 2\n right: 3\nstack backtrace:\n   0: __rustc::rust_begin_unwind";
    let rust_unwrap = "thread 'panics_unwrap' (20517) panicked at tests/faults.rs:3:58:\n\
        called `Option::unwrap()` on a `None` value\nstack backtrace:";
    let rust_refused = "thread 't' panicked at src/db.rs:9:5:\ncalled `Result::unwrap()` on an `Err` value: \
        Os { code: 111, kind: ConnectionRefused, message: \"Connection refused\" }";
    let java_cause = "java.lang.IllegalStateException: could not start\n\tat com.acme.A.b(A.java:3)\n\
        Caused by: java.net.ConnectException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)";
    // pytest quotes the test's source: mentions of timeouts there do not count
    let pytest_source = "    def test_x(client):\n        # this used to time out\n        with pytest.raises(ConnectionRefusedError):\n\
        >       assert client.get('/') == 200\nE       AssertionError: assert 500 == 200\n\ntests/test_x.py:12: AssertionError";
    let rows: &[Row] = &[
        (
            Some("test failure with exit code 101"),
            "thread 'asserts_eq' (20508) panicked at tests/faults.rs:5:27",
            Some(rust_assert),
            Assertion,
        ),
        (
            Some("test failure with exit code 101"),
            "thread 'panics_unwrap' (20517) panicked at tests/faults.rs:3:58",
            Some(rust_unwrap),
            Error,
        ),
        (
            Some("test failure with exit code 101"),
            "thread 't' panicked at src/db.rs:9:5",
            Some(rust_refused),
            Infrastructure,
        ),
        (
            Some("java.lang.IllegalStateException"),
            "could not start",
            Some(java_cause),
            Infrastructure,
        ),
        (
            None,
            "AssertionError: assert 500 == 200",
            Some(pytest_source),
            Assertion,
        ),
        (
            None,
            "Failed",
            Some("    calc_test.go:17: got 3, want 4"),
            Assertion,
        ),
    ];
    check_table(&Categorizer::builtin(), rows);
}

#[test]
fn output_is_consulted_only_for_environmental_evidence() {
    let check = |message: &str, stderr: &str, want: Category| {
        let mut c = failed(None, message, None);
        c.stderr = Some(stderr.to_owned());
        assert_eq!(
            Categorizer::builtin().categorize(&c),
            want,
            "{message:?} / {stderr:?}"
        );
    };
    check(
        "exit status 1",
        "dial tcp 127.0.0.1:6379: connect: connection refused",
        Category::Infrastructure,
    );
    check(
        "worker exited",
        "Segmentation fault (core dumped)",
        Category::Crash,
    );
    check("Failed", "assert x == y", Category::Error);
    // an assertion in the message wins over noise in the output
    check(
        "AssertionError: 1 != 2",
        "retrying after: connection refused",
        Category::Assertion,
    );
}

#[test]
fn non_failures_and_empty_failures() {
    let b = Categorizer::builtin();
    assert_eq!(
        b.categorize(&case(Outcome::Passed, None, None, None)),
        Category::Unknown
    );
    assert_eq!(
        b.categorize(&case(Outcome::Skipped, None, Some("skip"), None)),
        Category::Unknown
    );
    assert_eq!(
        b.categorize(&case(Outcome::Failed, None, None, None)),
        Category::Unknown
    );
    assert_eq!(
        b.categorize(&case(Outcome::Errored, None, Some(""), None)),
        Category::Unknown
    );
    // a flaky test is categorized by its last failed attempt
    let mut flaky = case(Outcome::Passed, None, None, None);
    flaky.reruns = vec![
        Rerun {
            outcome: Outcome::Failed,
            detail: Detail {
                message: Some("AssertionError".into()),
                ..Detail::default()
            },
            stdout: None,
            stderr: None,
            duration: None,
        },
        Rerun {
            outcome: Outcome::Errored,
            detail: Detail {
                message: Some("Connection reset by peer".into()),
                ..Detail::default()
            },
            stdout: None,
            stderr: None,
            duration: None,
        },
    ];
    assert_eq!(b.categorize(&flaky), Category::Infrastructure);
}

#[test]
fn transient_categories() {
    let transient: Vec<Category> = Category::ALL
        .into_iter()
        .filter(|c| c.is_transient())
        .collect();
    assert_eq!(
        transient,
        [
            Category::Timeout,
            Category::Crash,
            Category::Infrastructure,
            Category::Lost
        ]
    );
}

#[test]
fn names_serde_and_display_agree() {
    for c in Category::ALL {
        assert_eq!(c.to_string(), c.as_str());
        assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        assert_eq!(
            serde_json::from_str::<Category>(&format!("\"{c}\"")).unwrap(),
            c
        );
        assert_eq!(c.as_str().to_uppercase().parse::<Category>().unwrap(), c);
    }
    assert_eq!(
        "infra".parse::<Category>().unwrap(),
        Category::Infrastructure
    );
    assert!(matches!(
        "flaky".parse::<Category>(),
        Err(RuleError::UnknownCategory { .. })
    ));
}

#[test]
fn user_rules_come_first_and_look_at_their_field() {
    let rules = vec![
        Rule::new(
            Category::Infrastructure,
            r"(?i)database is starting up",
            Field::Output,
        )
        .unwrap(),
        Rule::new(Category::Setup, r"FixtureError", Field::Message).unwrap(),
        Rule::new(Category::Timeout, r"slow lane", Field::Any).unwrap(),
    ];
    let c = Categorizer::with_rules(rules).unwrap();
    let check = |message: &str, stdout: Option<&str>, want: Category| {
        let mut t = failed(None, message, None);
        t.stdout = stdout.map(str::to_owned);
        assert_eq!(c.categorize(&t), want, "{message:?} {stdout:?}");
    };
    // output rule: matches output, not the message
    check(
        "AssertionError",
        Some("FATAL: the database is starting up"),
        Category::Infrastructure,
    );
    check("the database is starting up", None, Category::Error);
    // message rule beats the built-in assertion rule
    check(
        "AssertionError: FixtureError in conftest",
        None,
        Category::Setup,
    );
    check("AssertionError", Some("FixtureError"), Category::Assertion);
    // any
    check("boom", Some("in the slow lane"), Category::Timeout);
    check("slow lane", None, Category::Timeout);
    // the engine's own verdict is not overridden
    let mut lost = failed(Some("lost"), "never reported", None);
    lost.stdout = Some("slow lane".into());
    assert_eq!(c.categorize(&lost), Category::Lost);
}

#[test]
fn rule_config_from_toml_like_json() {
    let check = |json: &str, want: Result<(Category, Field), &str>| {
        let cfg: Result<Vec<RuleConfig>, _> = serde_json::from_str(json);
        let got = cfg
            .map_err(|e| e.to_string())
            .and_then(|c| Categorizer::from_config(&c).map_err(|e| e.to_string()))
            .map(|c| (c.rules()[0].category, c.rules()[0].field));
        match (&got, &want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{json}"),
            (Err(g), Err(w)) => assert!(g.contains(w), "{json}: {g}"),
            _ => panic!("{json}: got {got:?}, want {want:?}"),
        }
    };
    check(
        r#"[{"category": "infrastructure", "pattern": "x"}]"#,
        Ok((Category::Infrastructure, Field::Any)),
    );
    check(
        r#"[{"category": "Setup", "pattern": "x", "field": "output"}]"#,
        Ok((Category::Setup, Field::Output)),
    );
    check(
        r#"[{"category": "crash", "pattern": "x", "field": "message"}]"#,
        Ok((Category::Crash, Field::Message)),
    );
    check(
        r#"[{"category": "crash", "pattern": "x"}, {"category": "nope", "pattern": "x"}]"#,
        Err("[[category]] entry 2: unknown category `nope`"),
    );
    check(
        r#"[{"category": "crash", "pattern": "x", "field": "stdout"}]"#,
        Err("entry 1: unknown field `stdout`"),
    );
    check(
        r#"[{"category": "crash", "pattern": "(unclosed"}]"#,
        Err("entry 1: bad pattern `(unclosed`"),
    );
    check(
        r#"[{"category": "crash", "pattern": ""}]"#,
        Err("entry 1: empty pattern"),
    );
    check(
        r#"[{"category": "crash", "pattern": "x", "colour": "red"}]"#,
        Err("unknown field `colour`"),
    );
}

#[test]
fn masking_keeps_what_identifies_a_failure() {
    let check = |raw: &str, want: &str| assert_eq!(normalize_message(raw), want, "{raw:?}");
    check(
        "connect ECONNREFUSED 127.0.0.1:5432",
        "connect ECONNREFUSED <ip>",
    );
    check(
        "[Errno 111] Connection refused",
        "[Errno <n>] Connection refused",
    );
    check(
        "object at 0x7f02d0661bd0 is gone",
        "object at 0x<hex> is gone",
    );
    check(
        "run 3fa85f64-5717-4562-b3fc-2c963f66afa6 failed",
        "run <uuid> failed",
    );
    check("commit 0123abcd4567ef89 missing", "commit <hex> missing");
    check("KeyError: 'user_1234'", "KeyError: '<str>'");
    check(
        "expected \"a\" but got \"b\"",
        "expected \"<str>\" but got \"<str>\"",
    );
    check("can't open /tmp/pytest-1/x.txt", "can't open <path>");
    check(r"cannot open C:\build\x.dat", "cannot open <path>");
    check(
        "GET https://api.example.com:8443/v1/users/17 returned 500",
        "GET <url> returned <n>",
    );
    check(
        "took 1.53s, limit 500 ms",
        "took <duration>, limit <duration>",
    );
    check("timed out after 10m0s", "timed out after <duration>");
    check(
        "retry in 1m30s or 2 minutes",
        "retry in <duration> or <duration>",
    );
    check("worker_12 died", "worker_<n> died");
    check("int32 overflow in v2", "int32 overflow in v2");
    check("  many\n\tspaces  ", "many spaces");
    check(
        "thread 'asserts_eq' (20508) panicked at tests/faults.rs:5:27",
        "thread '<str>' (<n>) panicked at <path>:<n>:<n>",
    );
    let long = "x".repeat(1000);
    assert_eq!(normalize_message(&long).chars().count(), 301);
}

#[test]
fn headlines() {
    let check = |t: Option<&str>, message: Option<&str>, details: Option<&str>, want: &str| {
        let d = Detail {
            message: message.map(str::to_owned),
            failure_type: t.map(str::to_owned),
            details: details.map(str::to_owned),
        };
        assert_eq!(headline(&d), want);
    };
    check(
        None,
        Some("AssertionError: one\nassert 1 == 2"),
        None,
        "AssertionError: one",
    );
    check(
        Some("java.net.ConnectException"),
        Some("Connection refused"),
        None,
        "java.net.ConnectException: Connection refused",
    );
    check(
        Some("ConnectException"),
        Some("java.net.ConnectException: refused"),
        None,
        "java.net.ConnectException: refused",
    );
    check(
        Some("test failure with exit code 101"),
        None,
        Some("\n\nfirst line\nsecond"),
        "first line",
    );
    check(Some("test timeout"), None, None, "test timeout");
    check(None, None, None, "");
    check(
        Some("test failure with exit code 101"),
        Some("thread 'a' panicked at src/x.rs:1:2"),
        Some("thread 'a' panicked at src/x.rs:1:2:\nassertion `left == right` failed\n  left: 1"),
        "thread 'a' panicked at src/x.rs:1:2: assertion `left == right` failed",
    );
}

#[test]
fn top_frames() {
    let check =
        |trace: &str, want: Option<&str>| assert_eq!(top_frame(trace).as_deref(), want, "{trace}");
    // Python: innermost (last) project frame; library frames skipped
    check(
        "Traceback (most recent call last):\n  File \"/home/ci/repo/tests/test_api.py\", line 12, in test_get\n    client.get()\n  File \"/home/ci/repo/app/client.py\", line 40, in get\n    return requests.get(url)\n  File \"/usr/lib/python3.11/site-packages/requests/api.py\", line 73, in get",
        Some("app/client.py:40"),
    );
    // pytest's long format ends with the innermost location
    check(
        "    def test_x():\n>       helper()\n\ntests/test_x.py:5: \n\n    def helper():\n>       assert 1 == 2\nE       assert 1 == 2\n\ntests/helpers.py:9: AssertionError",
        Some("tests/helpers.py:9"),
    );
    // JavaScript and Java: innermost first
    check(
        "Error: boom\n    at Object.<anonymous> (/repo/node_modules/x/index.js:1:1)\n    at fetchUser (src/api/user.ts:31:9)\n    at Object.<anonymous> (src/api/user.test.ts:10:5)",
        Some("api/user.ts:31"),
    );
    check(
        "java.lang.IllegalStateException\n\tat org.junit.Assert.fail(Assert.java:89)\n\tat com.acme.Cart.add(Cart.java:42)\n\tat com.acme.CartTest.adds(CartTest.java:17)",
        Some("Cart.java:42"),
    );
    // Rust: the panic location
    check(
        "thread 'x' panicked at tests/faults.rs:5:27:\nassertion failed",
        Some("tests/faults.rs:5"),
    );
    check("no frames at all", None);
}

#[test]
fn signatures_group_environment_by_message_and_code_by_place() {
    let with_trace = |message: &str, trace: &str| failed(None, message, Some(trace));
    // the same refused connection at two places in the tests: one signature
    let a = with_trace(
        "ConnectionRefusedError: [Errno 111] Connection refused (port 5432)",
        "Traceback (most recent call last):\n  File \"tests/test_a.py\", line 3, in test_a",
    );
    let b = with_trace(
        "ConnectionRefusedError: [Errno 111] Connection refused (port 6543)",
        "Traceback (most recent call last):\n  File \"tests/test_b.py\", line 90, in test_b",
    );
    assert_eq!(signature(&a), signature(&b));
    assert_eq!(
        signature(&a),
        "ConnectionRefusedError: [Errno <n>] Connection refused (port <n>)"
    );
    // the same assertion message at two places: two signatures
    let c = with_trace(
        "AssertionError: assert 1 == 2",
        "tests/test_a.py:3: AssertionError",
    );
    let d = with_trace(
        "AssertionError: assert 3 == 4",
        "tests/test_b.py:9: AssertionError",
    );
    assert_eq!(
        signature(&c),
        "AssertionError: assert <n> == <n> @ tests/test_a.py:3"
    );
    assert_ne!(signature(&c), signature(&d));
    assert_eq!(signature(&case(Outcome::Passed, None, None, None)), "");
}

fn named(name: &str, mut c: TestCase) -> TestCase {
    c.name = name.to_owned();
    c
}

#[test]
fn thirty_seven_refused_connections_are_one_group() {
    let mut cases = Vec::new();
    for i in 0..37 {
        let port = 5000 + i;
        cases.push(named(
            &format!("test_{i:02}"),
            failed(
                Some("requests.exceptions.ConnectionError"),
                &format!(
                    "HTTPConnectionPool(host='10.0.0.{i}', port={port}): Max retries exceeded with url: /api/v{i} \
                     (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f{i:04x}beef>: \
                     Failed to establish a new connection: [Errno 111] Connection refused'))"
                ),
                Some(&format!(
                    "Traceback (most recent call last):\n  File \"tests/test_{i}.py\", line {i}, in test_{i}"
                )),
            ),
        ));
    }
    for i in 0..3 {
        cases.push(named(
            &format!("assert_{i}"),
            failed(
                Some("AssertionError"),
                &format!("assert {i} == 42"),
                Some("tests/test_math.py:7: AssertionError"),
            ),
        ));
    }
    cases.push(named("slow", failed(Some("test timeout"), "", None)));
    cases.push(named("fine", case(Outcome::Passed, None, None, None)));
    cases.push(named(
        "skipped",
        case(Outcome::Skipped, None, Some("later"), None),
    ));
    // the same failing test passed twice counts once
    cases.push(cases[0].clone());

    let groups = group(&cases);
    let summary: Vec<(usize, Category)> = groups.iter().map(|g| (g.count(), g.category)).collect();
    assert_eq!(
        summary,
        [
            (37, Category::Infrastructure),
            (3, Category::Assertion),
            (1, Category::Timeout)
        ]
    );
    let big = &groups[0];
    assert_eq!(big.members.len(), 37);
    assert_eq!(big.members[0], "pkg.Mod::test_00");
    assert_eq!(big.members[36], "pkg.Mod::test_36");
    assert!(big.message.starts_with(
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='10.0.0.0', port=5000)"
    ));
    assert_eq!(
        big.signature,
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='<str>', port=<n>): Max retries exceeded \
         with url: <path> (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x<hex>>: \
         Failed to establish a new connection: [Errno <n>] Connection refused'))"
    );
    assert_eq!(
        groups[1].members,
        [
            "pkg.Mod::assert_0",
            "pkg.Mod::assert_1",
            "pkg.Mod::assert_2"
        ]
    );
}

#[test]
fn grouper_accepts_ids_from_the_caller() {
    let c = Categorizer::builtin();
    let mut g = c.grouper();
    g.add_as("merged::a", &failed(None, "Connection reset by peer", None));
    g.add_as("merged::b", &failed(None, "Connection reset by peer", None));
    g.add_as("merged::c", &case(Outcome::Passed, None, None, None));
    let groups = g.finish();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].members, ["merged::a", "merged::b"]);
    let json = serde_json::to_value(&groups[0]).unwrap();
    assert_eq!(json["category"], "infrastructure");
}

#[test]
fn huge_output_is_searched_only_at_its_end() {
    let mut c = failed(None, "exit status 1", None);
    let mut out = String::from("Connection refused early on\n");
    out.push_str(&"é".repeat(400_000));
    c.stdout = Some(out);
    assert_eq!(Categorizer::builtin().categorize(&c), Category::Error);
    c.stdout.as_mut().unwrap().push_str("\nSegmentation fault");
    assert_eq!(Categorizer::builtin().categorize(&c), Category::Crash);
}
