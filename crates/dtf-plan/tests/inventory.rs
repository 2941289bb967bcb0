//! Inventory, durations from history, and discovery presets, on captured outputs and
//! JUnit fixtures (tests/fixtures/inventory), plus one real run of cargo-nextest.
#![allow(clippy::unwrap_used)]
// Case tables spell their row types out, which is the point of a table.
#![allow(clippy::type_complexity)]

use std::path::{Path, PathBuf};

use dtf_core::merge::{Input, MergeOptions, merge};
use dtf_core::summary::{Summary, SummaryLimits};
use dtf_plan::discover::{
    self, DiscoverError, DiscoverOptions, Preset, is_js_test_file, looks_like_pytest_nodeid,
    parse_go_list, parse_jest_list, parse_nextest_list, parse_pytest_collect, parse_vitest_list,
    pytest_nodeid_to_id,
};
use dtf_plan::durations::{
    BuildTimes, History, HistoryOptions, KEEP_BUILDS, Source, TestTimes, Timings, expand_junit,
    load_timings, median, parse_json_timings, suite_overheads, weighted_median,
};
use dtf_plan::inventory::{Inventory, Item, Unit, derive_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventory")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------------------------------------------------------------- list files

#[test]
fn list_formats() {
    let cases: &[(&str, &[&str])] = &[
        ("a::one\nb::two\n", &["a::one", "b::two"]),
        (
            "# generated\n\n  a::one  \r\n\t# indented comment\nb::two",
            &["a::one", "b::two"],
        ),
        ("\u{feff}a::one\n", &["a::one"]),
        ("a::one\na::one\nb::two\n", &["a::one", "b::two"]),
        ("a::test[#1]\n", &["a::test[#1]"]),
        ("", &[]),
        ("[\"a::one\", \"b::two\"]", &["a::one", "b::two"]),
        (
            "  [{\"id\": \"a::one\", \"file\": \"src/a.py\"}, \"b::two\", {\"id\": \"c::x\", \"suite\": \"c\", \"file\": null}]",
            &["a::one", "b::two", "c::x"],
        ),
        ("[]", &[]),
        (
            r#"{"schema": "dtf.plan.v1", "strategy": "timing", "shards": [
                {"index": 1, "pool": "default", "labels": [], "wave": 0, "tests": ["b::2", "a::1"], "predicted_s": 3.0},
                {"index": 2, "pool": "default", "labels": [], "wave": 0, "tests": ["c::3"], "predicted_s": 3.0}],
              "totals": {"tests": 3, "shards": 2, "work_s": 6.0, "estimated": 0},
              "lower_bound_s": 3.0, "predicted_wall_s": 3.0, "imbalance": 0.0, "estimated": []}"#,
            &["b::2", "a::1", "c::3"],
        ),
    ];
    for (text, want) in cases {
        let inv = Inventory::parse_list(text, "list").unwrap();
        assert_eq!(ids(&inv.items), *want, "{text:?}");
    }
}

#[test]
fn list_items_keep_file_and_suite() {
    let inv = Inventory::parse_list(
        "[{\"id\": \"a::one\", \"file\": \"./src\\\\a.py\", \"suite\": \"a\"}, \"tests/t.py::test_x\", \"pkg::T\"]",
        "l",
    )
    .unwrap();
    let got: Vec<(Option<&str>, Option<&str>)> = inv
        .items
        .iter()
        .map(|i| (i.file.as_deref(), i.suite.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("src/a.py"), Some("a")),
            (Some("tests/t.py"), None),
            (None, None)
        ]
    );
}

#[test]
fn list_errors_name_file_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "[\n  \"a::one\",\n  {\"id\": \"b::two\"},\n  \"c\",\n  \"d\",\n  \"e\",\n  \"\"\n]",
            "list.json:7:4: empty test id",
        ),
        (
            "[\n  \"a::one\"\n  \"c::d\"\n]",
            "list.json:3:3: invalid JSON: expected `,` or `]`",
        ),
        (
            "[\n  {\"file\": \"x.py\"}\n]",
            "list.json:2:18: an entry without `id`",
        ),
        (
            "[{\"id\": \"a\", \"name\": \"x\"}]",
            "list.json:1:19: unknown key `name` (expected id, file, suite)",
        ),
        (
            "[{\"id\": \"a\", \"id\": \"b\"}]",
            "list.json:1:17: key `id` given twice",
        ),
        (
            "[\"a\", 3]",
            "list.json:1:7: invalid type: integer `3`, expected a test id",
        ),
        (
            "[\"a\"",
            "list.json:1:4: invalid JSON: EOF while parsing a list",
        ),
        (
            "{\"tests\": [\"a\"]}",
            "list.json: expected a JSON array of test ids or of {\"id\": ...} objects, or a dtf.plan.v1 document (found an object)",
        ),
        (
            "{\"schema\": \"dtf.summary.v1\"}",
            "(found schema `dtf.summary.v1`)",
        ),
        (
            "a::one\n\n\nb::\u{7}bell\n",
            "list.json:4: control character in test id",
        ),
    ];
    for (text, want) in cases {
        let err = Inventory::parse_list(text, "list.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{text:?}\n got: {err}\nwant: {want}");
    }
}

#[test]
fn repeated_ids_are_kept_once_with_a_warning() {
    let inv = Inventory::parse_list("a\nb\na\nb\nc\n", "l").unwrap();
    assert_eq!(ids(&inv.items), ["a", "b", "c"]);
    assert_eq!(inv.warnings, ["2 repeated ids kept once (first: `a`)"]);
}

#[test]
fn list_file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tests.txt");
    std::fs::write(&path, "ok::1\n\u{1b}[0m\n").unwrap();
    let err = Inventory::read_list(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}:2: control character in test id", path.display())
    );
    let missing = Inventory::read_list(&dir.path().join("nope.txt")).unwrap_err();
    assert!(missing.to_string().contains("nope.txt"), "{missing}");
}

// ---------------------------------------------------------------- units and files

#[test]
fn files_are_derived_in_order() {
    let cases: &[(&str, Option<&str>, Option<&str>, Option<&str>)] = &[
        // explicit file wins
        ("a.B::t", Some("./src\\a.py"), Some("a.B"), Some("src/a.py")),
        // pytest node id
        (
            "tests/test_a.py::TestC::test_x",
            None,
            None,
            Some("tests/test_a.py"),
        ),
        // vitest: classname is the file
        (
            "src/a.test.ts::adds",
            None,
            Some("src/a.test.ts"),
            Some("src/a.test.ts"),
        ),
        // go package, java class, nextest binary: the scope
        (
            "example.com/calc::TestAdd",
            None,
            Some("example.com/calc"),
            Some("example.com/calc"),
        ),
        ("demo::api::one", None, Some("demo::api"), Some("demo::api")),
        // nothing known
        ("plain", None, None, None),
        ("scope::name", None, None, None),
    ];
    for (id, file, scope, want) in cases {
        assert_eq!(derive_file(id, *file, *scope).as_deref(), *want, "{id}");
    }
}

#[test]
fn unit_names() {
    let cases: &[(&str, Option<Unit>)] = &[
        ("test", Some(Unit::Test)),
        ("Tests", Some(Unit::Test)),
        ("file", Some(Unit::File)),
        ("files", Some(Unit::File)),
        ("suite", None),
    ];
    for (s, want) in cases {
        assert_eq!(s.parse::<Unit>().ok(), *want, "{s}");
    }
}

// ---------------------------------------------------------------- discovery parsers

#[test]
fn pytest_node_ids_become_junit_ids() {
    let cases: &[(&str, &str)] = &[
        ("tests/test_a.py::test_x", "tests.test_a::test_x"),
        ("test_a.py::test_x", "test_a::test_x"),
        (
            "tests/test_a.py::TestC::test_x",
            "tests.test_a.TestC::test_x",
        ),
        (
            "tests/test_a.py::TestC::TestD::test_x",
            "tests.test_a.TestC.TestD::test_x",
        ),
        ("tests/test_a.py::test_x[1-2]", "tests.test_a::test_x[1-2]"),
        // parameters are split off first, so `::` and `/` inside them stay in the name
        (
            "tests/test_a.py::test_x[a::b/c.py]",
            "tests.test_a::test_x[a::b/c.py]",
        ),
        (
            "pkg/sub.dir/test_b.py::test_y",
            "pkg.sub.dir.test_b::test_y",
        ),
        // not a node id: left as it is
        ("tests.test_a", "tests.test_a"),
    ];
    for (nodeid, want) in cases {
        assert_eq!(pytest_nodeid_to_id(nodeid), *want, "{nodeid}");
    }
    assert!(looks_like_pytest_nodeid("tests/test_a.py::t"));
    assert!(!looks_like_pytest_nodeid("tests.test_a::t"));
    assert!(!looks_like_pytest_nodeid("tests/test_a.py"));
}

/// The ids dtf reads back from a JUnit file, sorted.
fn junit_ids(path: &Path) -> Vec<String> {
    let inv = Inventory::from_inputs(&[Input::file(path)]).unwrap();
    let mut ids = inv.ids();
    ids.sort();
    ids
}

fn sorted(items: &[Item]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    v.sort();
    v
}

#[test]
fn pytest_collection_matches_pytest_junit() {
    let items = parse_pytest_collect(&read("pytest-collect.txt"));
    assert_eq!(
        ids(&items),
        [
            "tests.test_api::test_health",
            "tests.test_api.TestUsers::test_create",
            "tests.test_api.TestUsers::test_delete[admin]",
            "tests.test_api.TestUsers::test_delete[guest-a::b]",
            "tests.unit.test_math::test_add[1-2-3]",
            "tests.unit.test_math::test_add[-1-1-0]",
            "tests.unit.test_math.TestNested.TestInner::test_deep",
        ]
    );
    assert_eq!(sorted(&items), junit_ids(&fixture("pytest-junit.xml")));
    let shape: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.file.as_deref().unwrap(), i.suite.as_deref().unwrap()))
        .collect();
    assert_eq!(shape[3], ("tests/test_api.py", "tests.test_api.TestUsers"));
    assert_eq!(
        shape[6],
        (
            "tests/unit/test_math.py",
            "tests.unit.test_math.TestNested.TestInner"
        )
    );
}

#[test]
fn pytest_collection_edge_outputs() {
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        ("no tests collected in 0.01s\n", &[]),
        ("\n\na.py::t\n\nb.py::u\n", &["a::t"]),
        ("plugin banner: x\na.py::t\n", &["a::t"]),
    ];
    for (out, want) in cases {
        assert_eq!(ids(&parse_pytest_collect(out)), *want, "{out:?}");
    }
}

#[test]
fn nextest_list_matches_nextest_junit() {
    let items = parse_nextest_list(&read("nextest-list.json")).unwrap();
    // The ignored test is not listed: nextest does not run it by default.
    assert_eq!(
        ids(&items),
        [
            "demo::tests::adds",
            "demo::api::nested::three",
            "demo::api::one",
            "demo::api::two"
        ]
    );
    assert_eq!(sorted(&items), junit_ids(&fixture("nextest-junit.xml")));
    assert_eq!(items[1].suite.as_deref(), Some("demo::api"));
    assert_eq!(items[1].group(), "demo::api");
}

#[test]
fn nextest_list_variants() {
    let cases: &[(&str, Result<&[&str], &str>)] = &[
        (r#"{"rust-suites": {}}"#, Ok(&[])),
        (
            // cargo's own output before the document
            "   Compiling x v0.1.0\n{\"rust-suites\": {\"x\": {\"binary-id\": \"x\", \"testcases\": {\"t\": {\"ignored\": false}}}}}",
            Ok(&["x::t"]),
        ),
        (
            r#"{"rust-suites": {"x::it": {"binary-id": "x::it", "testcases": {
                "a": {"ignored": true},
                "b": {"ignored": false, "filter-match": {"status": "mismatch", "reason": "string"}},
                "c": {"ignored": false, "filter-match": {"status": "matches"}}}}}}"#,
            Ok(&["x::it::c"]),
        ),
        (
            "{\"rust-suites\": [",
            Err("cargo nextest list output: line 1, column 16"),
        ),
        (
            "not json",
            Err("cargo nextest list output: line 1, column 2: invalid JSON: expected ident"),
        ),
    ];
    for (out, want) in cases {
        match (parse_nextest_list(out), want) {
            (Ok(items), Ok(want)) => assert_eq!(ids(&items), *want, "{out}"),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
            (got, _) => panic!("{out}: unexpected {got:?}"),
        }
    }
}

#[test]
fn go_list_matches_go_junit_report() {
    let items = parse_go_list(&read("go-list.txt")).unwrap();
    assert_eq!(
        ids(&items),
        [
            "example.com/calc::TestAdd",
            "example.com/calc::TestSub",
            "example.com/calc::ExampleAdd",
            "example.com/calc::FuzzParse",
            "example.com/calc/server::TestServe",
            "example.com/calc/server::TestServe_Timeout",
        ]
    );
    assert_eq!(sorted(&items), junit_ids(&fixture("go-junit.xml")));
    assert_eq!(items[4].group(), "example.com/calc/server");
}

#[test]
fn go_list_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "TestA\nFAIL\texample.com/x [build failed]\n",
            "line 2: FAIL\texample.com/x [build failed]",
        ),
        (
            "TestA\nTestB\n",
            "`TestA` and others are listed without a package",
        ),
        ("ok\n", "line 1: `ok` without a package"),
    ];
    for (out, want) in cases {
        let err = parse_go_list(out).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    // Lines that are not names or package lines (downloads, notes) are skipped.
    let items = parse_go_list("go: downloading x v1\nTestA\nok  \tm/p\t0.1s\n").unwrap();
    assert_eq!(ids(&items), ["m/p::TestA"]);
}

#[test]
fn jest_and_vitest_list_files_relative_to_the_root() {
    let root = Path::new("/home/ci/app");
    let cases: &[(&str, bool, &[&str])] = &[
        (
            "jest-list.json",
            false,
            &[
                "src/components/Button.test.tsx",
                "src/utils/math.test.ts",
                "src/__tests__/api.js",
            ],
        ),
        (
            "jest-list.txt",
            false,
            &[
                "src/components/Button.test.tsx",
                "src/utils/math.test.ts",
                "src/__tests__/api.js",
            ],
        ),
        (
            "vitest-list.json",
            true,
            &["src/utils/math.test.ts", "test/e2e/login.spec.ts"],
        ),
        (
            "vitest-list.txt",
            true,
            &["src/utils/math.test.ts", "test/e2e/login.spec.ts"],
        ),
    ];
    for (name, vitest, want) in cases {
        let out = read(name);
        let items = if *vitest {
            parse_vitest_list(&out, root).unwrap()
        } else {
            parse_jest_list(&out, root).unwrap()
        };
        assert_eq!(ids(&items), *want, "{name}");
        assert!(
            items
                .iter()
                .all(|i| i.unit == Unit::File && i.file.as_deref() == Some(&i.id))
        );
    }
    // A path outside the root stays absolute.
    let items = parse_jest_list("[\"/elsewhere/x.test.js\"]", root).unwrap();
    assert_eq!(ids(&items), ["/elsewhere/x.test.js"]);
    let err = parse_jest_list("[\"a\",", root).unwrap_err().to_string();
    assert!(err.starts_with("jest --listTests output: line 1"), "{err}");
}

#[test]
fn js_test_files_by_name() {
    let cases: &[(&str, bool, bool)] = &[
        ("a.test.ts", false, true),
        ("a.spec.jsx", false, true),
        ("a.test.mjs", false, true),
        ("a.ts", false, false),
        ("a.ts", true, true),
        ("a.test.py", false, false),
        ("test.ts", false, false),
        ("README.md", true, false),
    ];
    for (name, under, want) in cases {
        assert_eq!(is_js_test_file(name, *under), *want, "{name} {under}");
    }
}

#[test]
fn js_files_preset_walks_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "src/a.test.ts",
        "src/b.ts",
        "src/__tests__/c.js",
        "src/__tests__/deep/d.tsx",
        "node_modules/lib/x.test.js",
        ".cache/y.test.js",
        "e2e/z.spec.ts",
    ] {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }
    let options = DiscoverOptions {
        root: dir.path().to_path_buf(),
        ..DiscoverOptions::default()
    };
    let inv = discover::discover(Preset::JsFiles, &options).unwrap();
    assert_eq!(
        ids(&inv.items),
        [
            "e2e/z.spec.ts",
            "src/__tests__/c.js",
            "src/__tests__/deep/d.tsx",
            "src/a.test.ts"
        ]
    );
}

#[test]
fn preset_names() {
    let cases: &[(&str, Option<Preset>)] = &[
        ("cargo-nextest", Some(Preset::CargoNextest)),
        ("nextest", Some(Preset::CargoNextest)),
        ("pytest", Some(Preset::Pytest)),
        ("go", Some(Preset::Go)),
        ("Jest", Some(Preset::Jest)),
        ("vitest", Some(Preset::Vitest)),
        ("js-files", Some(Preset::JsFiles)),
        ("mocha", None),
    ];
    for (name, want) in cases {
        assert_eq!(name.parse::<Preset>().ok(), *want, "{name}");
    }
    let err = "mocha".parse::<Preset>().unwrap_err().to_string();
    assert!(
        err.starts_with("unknown discovery preset `mocha` (known: cargo-nextest"),
        "{err}"
    );
    for p in Preset::ALL {
        assert_eq!(p.name().parse::<Preset>().unwrap(), p);
    }
}

// ---------------------------------------------------------------- running commands

#[test]
fn discover_cmd_reads_its_output_as_a_list() {
    let options = DiscoverOptions::default();
    let cases: &[(&str, &[&str])] = &[
        ("printf 'a::1\\n# note\\n\\nb::2\\n'", &["a::1", "b::2"]),
        ("echo '[\"x::1\", {\"id\": \"y::2\"}]'", &["x::1", "y::2"]),
        ("true", &[]),
    ];
    for (cmd, want) in cases {
        let inv = discover::discover_cmd(cmd, &options).unwrap();
        assert_eq!(ids(&inv.items), *want, "{cmd}");
    }
}

#[test]
fn discover_cmd_runs_in_the_root_with_the_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ids.txt"), "from::root\n").unwrap();
    let options = DiscoverOptions {
        root: dir.path().to_path_buf(),
        env: vec![("DTF_TEST_EXTRA".into(), "from::env".into())],
        ..DiscoverOptions::default()
    };
    let inv = discover::discover_cmd("cat ids.txt; echo \"$DTF_TEST_EXTRA\"", &options).unwrap();
    assert_eq!(ids(&inv.items), ["from::root", "from::env"]);
}

#[test]
fn failing_commands_say_what_failed() {
    let options = DiscoverOptions::default();
    let cmd = "for i in $(seq 1 30); do echo \"line $i\" >&2; done; exit 3";
    let err = discover::discover_cmd(cmd, &options).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DiscoverError::Failed { .. }));
    assert!(
        text.starts_with(&format!(
            "`sh -c '{cmd}'` failed (exit code 3); the end of its stderr:"
        )),
        "{text}"
    );
    assert!(
        text.contains("\n  line 11\n") && text.ends_with("\n  line 30"),
        "{text}"
    );
    assert!(!text.contains("line 10\n"), "{text}");

    let err = discover::discover_cmd("exit 1", &options)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "`sh -c 'exit 1'` failed (exit code 1) and wrote nothing to stderr"
    );

    let err = discover::discover_cmd("printf 'ok\\n\\001\\n'", &options)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "the output of `printf 'ok\\n\\001\\n'`:2: control character in test id"
    );

    let err = discover::run_command(
        &["dtf-no-such-program-here".into()],
        Path::new("."),
        &[],
        |c| c == Some(0),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("cannot start `dtf-no-such-program-here`: ")
            && err.ends_with("(is it installed and on PATH?)"),
        "{err}"
    );
}

// ---------------------------------------------------------------- durations

#[test]
fn weighted_medians() {
    let cases: &[(&[(f64, f64)], Option<f64>)] = &[
        (&[], None),
        (&[(3.0, 1.0)], Some(3.0)),
        (&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)], Some(2.0)),
        (&[(4.0, 1.0), (1.0, 1.0), (3.0, 1.0), (2.0, 1.0)], Some(2.5)),
        (&[(1.0, 1.0), (10.0, 3.0)], Some(10.0)),
        (&[(1.0, 3.0), (10.0, 1.0)], Some(1.0)),
        (&[(1.0, 0.0), (5.0, 1.0)], Some(5.0)),
        (&[(f64::NAN, 5.0), (2.0, 1.0)], Some(2.0)),
        // one slow outlier in the newest build does not move the median (decay 0.8)
        (
            &[(1.0, 0.512), (1.0, 0.64), (1.0, 0.8), (10.0, 1.0)],
            Some(1.0),
        ),
        // two recent builds that agree do
        (
            &[(1.0, 0.512), (1.0, 0.64), (10.0, 0.8), (10.0, 1.0)],
            Some(10.0),
        ),
    ];
    for (samples, want) in cases {
        assert_eq!(weighted_median(samples), *want, "{samples:?}");
    }
    assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
}

fn history_fixture() -> History {
    let builds: Vec<String> = ["build-1", "build-2", "build-3"]
        .iter()
        .map(|b| fixture(&format!("history/{b}")).display().to_string())
        .collect();
    History::from_timing_args(&builds, &HistoryOptions::default()).unwrap()
}

#[test]
fn durations_from_junit_history() {
    let h = history_fixture();
    assert_eq!(h.builds(), 3);
    assert_eq!(h.len(), 4);
    let cases: &[(&str, f64, bool)] = &[
        // 1, 1, 5 (newest): one slow build is an outlier
        ("tests.test_api::test_health", 1.0, false),
        // 2, 4, 4: the recent value
        ("tests.test_api.TestUsers::test_create", 4.0, false),
        // newest build only: 3 (failed) then 1 (rerun), each half the build's weight
        ("tests.test_api.TestUsers::test_delete[admin]", 2.0, false),
        // only ever skipped: its skip time
        ("tests.unit.test_math::test_add[1-2-3]", 0.0, false),
        // found by its pytest node id too
        ("tests/test_api.py::TestUsers::test_create", 4.0, false),
        // unknown, same class: median of 4 and 2
        ("tests.test_api.TestUsers::test_new", 3.0, true),
        // unknown node id: its file's tests 1, 4, 2
        ("tests/test_api.py::TestUsers::test_other", 2.0, true),
        // unknown anywhere: median of all known, 0 1 2 4
        ("brand::new", 1.5, true),
    ];
    let ids: Vec<String> = cases.iter().map(|c| c.0.to_owned()).collect();
    for ((id, want, est), (got, got_est)) in cases.iter().zip(h.durations(&ids)) {
        assert!(
            close(got, *want) && got_est == *est,
            "{id}: {got} {got_est}"
        );
    }
    // The caller's file beats the scope.
    let (d, est) = h.predict(
        "tests.test_api.TestUsers::test_new",
        Some("tests/test_api.py"),
        None,
    );
    assert!(close(d, 2.0) && est);
    // Start-up: 5-3 = 2, 7.5-5 = 2.5, 14-12 = 2 (the rerun's 1-1 teaches nothing).
    assert_eq!(h.startup_estimate(), Some(2.0));
}

#[test]
fn file_durations_from_history() {
    let h = history_fixture();
    let cases: &[(&str, f64, bool)] = &[
        // newest build: 5 + 4 + mean(3, 1)
        ("tests/test_api.py", 11.0, false),
        ("./tests/test_api.py", 11.0, false),
        ("/home/ci/app/tests/test_api.py", 11.0, false),
        ("tests/unit/test_math.py", 0.0, false),
        // the median file
        ("tests/test_new.py", 1.0, true),
    ];
    let files: Vec<String> = cases.iter().map(|c| c.0.to_owned()).collect();
    for ((f, want, est), (got, got_est)) in cases.iter().zip(h.file_durations(&files)) {
        assert!(close(got, *want) && got_est == *est, "{f}: {got} {got_est}");
    }
}

#[test]
fn empty_history_estimates_every_test_the_same() {
    let h = History::empty();
    assert_eq!(h.durations(&["a::b".into()]), [(1.0, true)]);
    assert_eq!(h.file_durations(&["a.py".into()]), [(1.0, true)]);
    assert_eq!(h.startup_estimate(), None);
}

#[test]
fn only_the_last_builds_count_and_newer_weigh_more() {
    let build = |secs: f64| BuildTimes {
        tests: vec![TestTimes {
            id: "s::t".into(),
            attempts: vec![secs],
            ..TestTimes::default()
        }],
        startup: vec![secs / 10.0],
    };
    // 5 builds at 100 s, then 10 at 1 s: the old ones are dropped entirely.
    let mut builds: Vec<BuildTimes> = (0..5).map(|_| build(100.0)).collect();
    builds.extend((0..KEEP_BUILDS).map(|_| build(1.0)));
    let h = History::new(&builds);
    assert_eq!(h.builds(), KEEP_BUILDS);
    assert_eq!(h.durations(&["s::t".into()]), [(1.0, false)]);
    assert_eq!(h.startup_estimate(), Some(0.1));
    // 6 old at 1 s, 4 new at 9 s: the 4 newest hold two thirds of the weight.
    let mut builds: Vec<BuildTimes> = (0..6).map(|_| build(1.0)).collect();
    builds.extend((0..4).map(|_| build(9.0)));
    assert_eq!(
        History::new(&builds).durations(&["s::t".into()]),
        [(9.0, false)]
    );
    // 3 hold just over half (2.44 of 4.46): they move it too; 2 (1.8) do not.
    let mut builds: Vec<BuildTimes> = (0..7).map(|_| build(1.0)).collect();
    builds.extend((0..3).map(|_| build(9.0)));
    assert_eq!(
        History::new(&builds).durations(&["s::t".into()]),
        [(9.0, false)]
    );
    let mut builds: Vec<BuildTimes> = (0..8).map(|_| build(1.0)).collect();
    builds.extend((0..2).map(|_| build(9.0)));
    assert_eq!(
        History::new(&builds).durations(&["s::t".into()]),
        [(1.0, false)]
    );
}

#[test]
fn every_attempt_counts_including_reruns_inside_one_element() {
    // Surefire records earlier attempts inside the element that passed.
    let doc = br#"<testsuite name="S" time="9"><testcase classname="c.T" name="t" time="2.0"><flakyFailure message="x" time="4.0"/><flakyFailure message="y" time="6.0"/></testcase></testsuite>"#;
    let h = History::from_sources(
        &[vec![Source::bytes("surefire.xml", &doc[..])]],
        &HistoryOptions::default(),
    )
    .unwrap();
    // 2, 4 and 6 s, a third of the build's weight each
    assert_eq!(h.durations(&["c.T::t".into()]), [(4.0, false)]);
    // 9 - (2 + 4 + 6) < 0: nothing learned about start-up
    assert_eq!(h.startup_estimate(), None);
}

#[test]
fn suite_overheads_from_suite_times() {
    let cases: &[(&str, &[f64])] = &[
        (
            r#"<testsuite time="5"><testcase time="1"/><testcase time="2"></testcase></testsuite>"#,
            &[2.0],
        ),
        // nested: only the leaf suite teaches
        (
            r#"<testsuites time="100"><testsuite name="outer" time="50"><testsuite time="3"><testcase time="1"/></testsuite></testsuite></testsuites>"#,
            &[2.0],
        ),
        // a case without time: the difference would be wrong
        (
            r#"<testsuite time="5"><testcase time="1"/><testcase/></testsuite>"#,
            &[],
        ),
        // no time on the suite, no cases, or no positive difference
        (r#"<testsuite><testcase time="1"/></testsuite>"#, &[]),
        (r#"<testsuite time="5"></testsuite>"#, &[]),
        (
            r#"<testsuite time="1.0005"><testcase time="1"/></testsuite>"#,
            &[],
        ),
        (
            r#"<testsuite time="1"><testcase time="3"/></testsuite>"#,
            &[],
        ),
        // markup that is not a tag: comments, CDATA, doctype, processing instructions, quotes
        (
            "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a \"<testcase time='9'>\">]><!-- <testcase time=\"9\"/> ---><testsuite time=\"4\" name=\"a > b\"><testcase time=\"1\"><system-out><![CDATA[<testcase time=\"9\"/> ]] ]]></system-out></testcase></testsuite>",
            &[3.0],
        ),
        // Surefire's reruns are timed inside the element
        (
            r#"<testsuite time="15"><testcase time="2"><flakyFailure time="4"/><rerunFailure time="6"><stackTrace>x</stackTrace></rerunFailure></testcase><flakyFailure time="100"/></testsuite>"#,
            &[3.0],
        ),
        // namespaces and decimal commas
        (
            r#"<j:testsuite time="2,5"><j:testcase time="0,5"/></j:testsuite>"#,
            &[2.0],
        ),
        // truncated: what was complete
        (
            r#"<testsuites><testsuite time="3"><testcase time="1"/></testsuite><testsuite time="9"><testcase"#,
            &[2.0],
        ),
    ];
    for (doc, want) in cases {
        let got = suite_overheads(doc.as_bytes());
        assert_eq!(got.len(), want.len(), "{doc}: {got:?}");
        for (g, w) in got.iter().zip(*want) {
            assert!(close(*g, *w), "{doc}: {got:?}");
        }
    }
}

#[test]
fn dtf_merged_output_teaches_no_startup() {
    // A merge rewrites suite times as the sum of its cases.
    let files: Vec<Input> = ["build-3/shard-1.xml", "build-3/shard-1-rerun.xml"]
        .iter()
        .map(|f| Input::file(fixture(&format!("history/{f}"))))
        .collect();
    let run = merge(&files, &MergeOptions::default()).unwrap();
    let mut out = Vec::new();
    run.write_junit(&mut out, Default::default()).unwrap();
    assert_eq!(suite_overheads(&out[..]), Vec::<f64>::new());
    let h = History::from_sources(
        &[vec![Source::bytes("merged.xml", out)]],
        &HistoryOptions::default(),
    )
    .unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(h.startup_estimate(), None);
}

#[test]
fn history_through_merge_inputs() {
    let builds: Vec<Vec<Input>> = [
        "build-1/junit.xml",
        "build-2/junit.xml",
        "build-3/shard-1.xml",
    ]
    .iter()
    .map(|f| vec![Input::file(fixture(&format!("history/{f}")))])
    .collect();
    let h = History::from_inputs(&builds).unwrap();
    let got = h.durations(&[
        "tests.test_api::test_health".into(),
        "tests.test_api.TestUsers::test_create".into(),
        "tests.test_api.TestUsers::test_delete[admin]".into(),
    ]);
    assert_eq!(got, [(1.0, false), (4.0, false), (3.0, false)]);
    assert_eq!(h.startup_estimate(), None);
}

#[test]
fn timings_formats_are_told_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let pairs = write("pairs", r#"[["a::1", 1.5], ["b::2", 0]]"#);
    let junit_named_json = write(
        "results.json",
        "<testsuite><testcase name='t' classname='c' time='2'/></testsuite>",
    );
    let map = fixture("test_durations.json").display().to_string();
    let folder = fixture("history/build-3").display().to_string();
    let glob = format!("{}/history/build-*/junit.xml", fixture("").display());
    let kind = |t: &Timings| match t {
        Timings::Junit(s) => format!("junit {}", s.len()),
        Timings::Summary(_) => "summary".to_owned(),
        Timings::Map(m) => format!("map {}", m.len()),
    };
    let cases: &[(&str, &str)] = &[
        (&map, "map 4"),
        (&pairs, "map 2"),
        (&junit_named_json, "junit 1"),
        // the coverage report in the folder is not JUnit and is left out
        (&folder, "junit 2"),
        (&glob, "junit 2"),
    ];
    for (arg, want) in cases {
        assert_eq!(kind(&load_timings(arg).unwrap()), *want, "{arg}");
    }
}

#[test]
fn timings_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cases: Vec<(String, String)> = vec![
        (
            write("neg.json", "{\n  \"a::1\": 1.0,\n  \"b::2\": -3\n}"),
            "line 3, column 12: the duration of `b::2` is -3, expected seconds as a number of at least 0".into(),
        ),
        (
            write("str.json", "{\"a::1\": \"fast\"}"),
            "line 1, column 15: invalid type: string \"fast\", expected seconds as a number for `a::1`".into(),
        ),
        (write("empty.json", "{\"\": 1}"), "line 1, column 3: empty test id".into()),
        (
            write("pairs.json", "[\n  [\"a::1\", 1],\n  [\"b::2\", null]\n]"),
            "line 3, column 15: invalid type: null, expected seconds as a number for `b::2`".into(),
        ),
        (
            write("triple.json", "[[\"a::1\", 1, 2]]"),
            "more than [id, seconds] for `a::1`".into(),
        ),
        (
            write("schema.json", "{\"schema\": \"dtf.summary.v9\"}"),
            "schema `dtf.summary.v9` is not `dtf.summary.v1` (written by a newer dtf? upgrade dtf to read it)".into(),
        ),
        (
            write("comma.json", "{\"a::1\": 1,\n}"),
            "comma.json: line 2, column 1: invalid JSON: trailing comma".into(),
        ),
        (write("text.txt", "a::1 3.0\n"), "not a timing file".into()),
        (write("bundle.zip", ""), "a dtf bundle".into()),
        (format!("{}/nothing-*.xml", dir.path().display()), "matched no file".into()),
        (dir.path().display().to_string(), "the folder holds no JUnit file".into()),
        (format!("{}/missing.xml", dir.path().display()), "missing.xml: ".into()),
    ];
    for (arg, want) in cases {
        let err = load_timings(&arg)
            .and_then(|t| t.into_history(&HistoryOptions::default()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&want), "{arg}\n got: {err}\nwant: {want}");
    }
}

#[test]
fn pytest_split_durations_feed_pytest_discovery() {
    let h = History::from_timing_args(
        &[fixture("test_durations.json").display().to_string()],
        &HistoryOptions::default(),
    )
    .unwrap();
    // The inventory from the timings keeps their keys.
    let inv = Inventory::from_history(&h);
    assert_eq!(inv.len(), 4);
    assert_eq!(inv.items[0].id, "tests/test_api.py::test_health");
    assert_eq!(inv.items[0].file.as_deref(), Some("tests/test_api.py"));
    // Discovered ids (pytest's JUnit form) find the same durations.
    let discovered = Inventory::from_items(parse_pytest_collect(&read("pytest-collect.txt")));
    let tests = discovered.plan_tests(Unit::Test, &h);
    let got: Vec<(&str, f64, bool)> = tests
        .iter()
        .map(|t| (t.id.as_str(), t.duration, t.estimated))
        .collect();
    assert_eq!(
        got,
        [
            ("tests.test_api::test_health", 0.5, false),
            ("tests.test_api.TestUsers::test_create", 1.25, false),
            ("tests.test_api.TestUsers::test_delete[admin]", 0.75, false),
            // same file: median of 0.5, 1.25, 0.75
            (
                "tests.test_api.TestUsers::test_delete[guest-a::b]",
                0.75,
                true
            ),
            ("tests.unit.test_math::test_add[1-2-3]", 0.001, false),
            ("tests.unit.test_math::test_add[-1-1-0]", 0.001, true),
            (
                "tests.unit.test_math.TestNested.TestInner::test_deep",
                0.001,
                true
            ),
        ]
    );
}

#[test]
fn summary_timings_know_only_the_tests_they_name() {
    let doc = br#"<testsuite name="s"><testcase classname="c" name="slow" time="30"/><testcase classname="c" name="bad" time="2"><failure message="x"/></testcase><testcase classname="c" name="quick" time="0.1"/></testsuite>"#;
    let run = merge(&[Input::bytes("r.xml", &doc[..])], &MergeOptions::default()).unwrap();
    let limits = SummaryLimits {
        slowest: 1,
        ..SummaryLimits::default()
    };
    let summary = Summary::from_run(&run, None, "test", limits).unwrap();
    let text = serde_json::to_string(&summary).unwrap();
    let Timings::Summary(s) = parse_json_timings(&text, "summary.json").unwrap() else {
        panic!("not read as a summary");
    };
    let h = History::new(&[BuildTimes::from_summary(&s)]);
    assert_eq!(
        h.durations(&["c::slow".into(), "c::bad".into(), "c::quick".into()]),
        [(30.0, false), (2.0, false), (16.0, true)]
    );
}

// ---------------------------------------------------------------- planning units

#[test]
fn plan_tests_by_test_and_by_file() {
    let h = history_fixture();
    let inv = Inventory::from_items(parse_pytest_collect(&read("pytest-collect.txt")));
    let by_test: Vec<(String, f64, bool)> = inv
        .plan_tests(Unit::Test, &h)
        .into_iter()
        .map(|t| (t.id, t.duration, t.estimated))
        .collect();
    let want: &[(&str, f64, bool)] = &[
        ("tests.test_api::test_health", 1.0, false),
        ("tests.test_api.TestUsers::test_create", 4.0, false),
        ("tests.test_api.TestUsers::test_delete[admin]", 2.0, false),
        (
            "tests.test_api.TestUsers::test_delete[guest-a::b]",
            2.0,
            true,
        ),
        ("tests.unit.test_math::test_add[1-2-3]", 0.0, false),
        ("tests.unit.test_math::test_add[-1-1-0]", 0.0, true),
        (
            "tests.unit.test_math.TestNested.TestInner::test_deep",
            0.0,
            true,
        ),
    ];
    assert_eq!(by_test.len(), want.len());
    for (got, want) in by_test.iter().zip(want) {
        assert!(
            got.0 == want.0 && close(got.1, want.1) && got.2 == want.2,
            "{got:?} {want:?}"
        );
    }
    let by_file = inv.plan_tests(Unit::File, &h);
    let got: Vec<(&str, f64, bool, Option<&str>)> = by_file
        .iter()
        .map(|t| (t.id.as_str(), t.duration, t.estimated, t.file.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("tests/test_api.py", 9.0, true, Some("tests/test_api.py")),
            (
                "tests/unit/test_math.py",
                0.0,
                true,
                Some("tests/unit/test_math.py")
            ),
        ]
    );
}

#[test]
fn file_items_and_unknown_groups() {
    let h = history_fixture();
    let inv = Inventory::from_items(vec![
        Item::file("tests/test_api.py"),
        Item::file("tests/test_new.py"),
        // none of its tests known, but the file is: the file's time
        Item::test("x::a").with_file(Some("tests/unit/test_math.py".into())),
    ]);
    for unit in [Unit::Test, Unit::File] {
        let got: Vec<(String, f64, bool)> = inv
            .plan_tests(unit, &h)
            .into_iter()
            .map(|t| (t.id, t.duration, t.estimated))
            .collect();
        let third = match unit {
            Unit::Test => ("x::a".to_owned(), 0.0, true),
            Unit::File => ("tests/unit/test_math.py".to_owned(), 0.0, false),
        };
        assert_eq!(
            got,
            [
                ("tests/test_api.py".to_owned(), 11.0, false),
                ("tests/test_new.py".to_owned(), 1.0, true),
                third
            ],
            "{unit}"
        );
    }
}

#[test]
fn nextest_and_go_group_by_binary_and_package() {
    let mut items = parse_nextest_list(&read("nextest-list.json")).unwrap();
    items.extend(parse_go_list(&read("go-list.txt")).unwrap());
    let inv = Inventory::from_items(items);
    let groups: Vec<String> = inv
        .plan_tests(Unit::File, &History::empty())
        .into_iter()
        .map(|t| format!("{} {}", t.id, t.duration))
        .collect();
    assert_eq!(
        groups,
        [
            "demo 1",
            "demo::api 3",
            "example.com/calc 4",
            "example.com/calc/server 2"
        ]
    );
}

// ---------------------------------------------------------------- earlier results

const SHARD_A: &[u8] = br#"<testsuites>
<testsuite name="a"><testcase classname="m.A" name="passes" time="1"/><testcase classname="m.A" name="fails" time="1"><failure message="no"/></testcase><testcase classname="m.A" name="errors" file="m/a.py" time="1"><error message="boom"/></testcase><testcase classname="m.A" name="flaky" time="1"><failure message="once"/></testcase><testcase classname="m.A" name="skips"><skipped/></testcase></testsuite>
</testsuites>"#;
const SHARD_A_RETRY: &[u8] =
    br#"<testsuite name="a"><testcase classname="m.A" name="flaky" time="1"/></testsuite>"#;

#[test]
fn inventory_from_results() {
    let inputs = [
        Input::bytes("a.xml", SHARD_A),
        Input::bytes("b.xml", SHARD_A_RETRY),
    ];
    let inv = Inventory::from_inputs(&inputs).unwrap();
    assert_eq!(
        ids(&inv.items),
        [
            "m.A::passes",
            "m.A::fails",
            "m.A::errors",
            "m.A::flaky",
            "m.A::skips"
        ]
    );
    assert_eq!(inv.items[2].file.as_deref(), Some("m/a.py"));
    assert_eq!(inv.items[2].suite.as_deref(), Some("m.A"));
}

#[test]
fn rerun_failed_and_lost_from_junit() {
    let inputs = [
        Input::bytes("a.xml", SHARD_A),
        Input::bytes("b.xml", SHARD_A_RETRY),
    ];
    let planned: Vec<String> = ["m.A::passes", "m.A::fails", "m.A::gone", "tests/x.py::t"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let inv = Inventory::rerun_from_inputs(&inputs, &planned).unwrap();
    assert_eq!(
        ids(&inv.items),
        ["m.A::fails", "m.A::errors", "m.A::gone", "tests/x.py::t"]
    );
    assert_eq!(inv.items[3].file.as_deref(), Some("tests/x.py"));
    assert_eq!(
        inv.warnings,
        ["2 planned tests had no result (lost) and will run again"]
    );

    // A truncated shard: what it holds is used, and the problem is reported.
    let truncated = &SHARD_A[..SHARD_A.len() - 40];
    let inputs = [Input::bytes("cut.xml", truncated)];
    let inv = Inventory::rerun_from_inputs(&inputs, &[]).unwrap();
    assert_eq!(ids(&inv.items), ["m.A::fails", "m.A::errors", "m.A::flaky"]);
    assert!(
        inv.warnings[0].starts_with("cut.xml: "),
        "{:?}",
        inv.warnings
    );
}

#[test]
fn rerun_failed_from_a_summary_or_junit_path() {
    let dir = tempfile::tempdir().unwrap();
    let run = merge(
        &[
            Input::bytes("a.xml", SHARD_A),
            Input::bytes("b.xml", SHARD_A_RETRY),
        ],
        &MergeOptions::default(),
    )
    .unwrap();
    let write_summary = |name: &str, limits: SummaryLimits| {
        let s = Summary::from_run(&run, None, "test", limits).unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string_pretty(&s).unwrap()).unwrap();
        p.display().to_string()
    };
    let full = write_summary("summary.json", SummaryLimits::default());
    let planned: Vec<String> = (0..7).map(|i| format!("m.A::t{i}")).collect();
    let inv = Inventory::rerun_from_path(&full, &planned).unwrap();
    assert_eq!(ids(&inv.items), ["m.A::fails", "m.A::errors"]);
    assert_eq!(inv.items[1].file.as_deref(), Some("m/a.py"));
    assert_eq!(inv.warnings.len(), 1);
    assert!(
        inv.warnings[0].contains("2 planned tests have no result, but a summary cannot name them")
    );

    let cut = write_summary(
        "cut.json",
        SummaryLimits {
            failures: 1,
            ..SummaryLimits::default()
        },
    );
    let err = Inventory::rerun_from_path(&cut, &[])
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("the summary names 1 of its failed tests and omits 1; rerun from the JUnit results instead"), "{err}");

    let junit = dir.path().join("results");
    std::fs::create_dir(&junit).unwrap();
    std::fs::write(junit.join("a.xml"), SHARD_A).unwrap();
    std::fs::write(junit.join("b.xml"), SHARD_A_RETRY).unwrap();
    let inv = Inventory::rerun_from_path(&junit.display().to_string(), &[]).unwrap();
    assert_eq!(ids(&inv.items), ["m.A::fails", "m.A::errors"]);
}

#[test]
fn junit_arguments_expand_in_path_order() {
    let got: Vec<String> = expand_junit(&fixture("history").display().to_string())
        .unwrap()
        .iter()
        .map(|s| {
            Path::new(s.name())
                .strip_prefix(fixture("history"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        got,
        [
            "build-1/junit.xml",
            "build-2/junit.xml",
            "build-3/shard-1-rerun.xml",
            "build-3/shard-1.xml"
        ]
    );
}

// ---------------------------------------------------------------- a real framework

fn nextest_available() -> bool {
    std::process::Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn nextest_discovery_end_to_end() {
    if !nextest_available() {
        eprintln!(
            "skipped: `cargo nextest --version` failed; install cargo-nextest to run this test"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dtfdemo");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::create_dir_all(root.join(".config")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"dtfdemo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(root.join("src/lib.rs"), "pub fn one() -> u32 { 1 }\n").unwrap();
    std::fs::write(
        root.join("tests/api.rs"),
        "#[test]\nfn first() { assert_eq!(dtfdemo::one(), 1); }\n\
         #[test]\nfn second() {}\n\
         mod nested {\n    #[test]\n    fn third() {}\n    #[test]\n    #[ignore]\n    fn not_run() {}\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join(".config/nextest.toml"),
        "[profile.default.junit]\npath = \"junit.xml\"\n",
    )
    .unwrap();
    let target = dir.path().join("target");
    let options = DiscoverOptions {
        root: root.clone(),
        args: Vec::new(),
        // Its own target folder: the outer cargo may hold the shared one.
        env: vec![("CARGO_TARGET_DIR".into(), target.display().to_string())],
    };
    let inv = discover::discover(Preset::CargoNextest, &options).unwrap();
    let mut found = inv.ids();
    found.sort();
    assert_eq!(
        found,
        [
            "dtfdemo::api::first",
            "dtfdemo::api::nested::third",
            "dtfdemo::api::second"
        ]
    );

    // The ids are the ones nextest's own JUnit gives the same tests.
    let run = std::process::Command::new("cargo")
        .args(["nextest", "run", "--no-fail-fast"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let junit = find_file(dir.path(), "junit.xml").expect("nextest wrote no junit.xml");
    assert_eq!(junit_ids(&junit), found);
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

#[test]
fn keep_going_reads_what_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        "<testsuite><testcase classname=\"c\" name=\"kept\" time=\"2\"/><testcase classname=\"c\" name=\"lost\" time=\"9\">",
    )
    .unwrap();
    let args = vec![
        fixture("test_durations.json").display().to_string(),
        broken.display().to_string(),
        dir.path().join("missing.json").display().to_string(),
    ];
    let err = History::from_timing_args(&args, &HistoryOptions::default()).unwrap_err();
    assert!(err.to_string().contains("broken.xml:1:"), "{err}");
    let h = History::from_timing_args(&args, &HistoryOptions { keep_going: true }).unwrap();
    assert_eq!(h.builds(), 3);
    assert_eq!(h.warnings().len(), 2, "{:?}", h.warnings());
    assert!(h.warnings()[0].contains("broken.xml"));
    assert!(h.warnings()[1].contains("missing.json"));
    assert_eq!(
        h.durations(&["c::kept".into(), "tests/test_api.py::test_health".into()]),
        [(2.0, false), (0.5, false)]
    );
}
