//! The commands each preset builds, ids there and back, hostile ids, and command
//! templates. Only templates are run (through `sh`); no framework is needed.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use dtf_run::preset::{
    Framework, GoJunitTool, GoTest, InvocationCtx, InvocationSpec, Nextest, PresetError,
    PresetOptions, Pytest, TestHint, by_name, by_name_with, filterset_escape, shell_quote,
    template, template_with,
};

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Builds one invocation in a fresh folder; paths under it are shown as `<W>`.
fn build(framework: &dyn Framework, tests: &[&str]) -> (InvocationSpec, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tests = ids(tests);
    let ctx = InvocationCtx {
        tests: &tests,
        work_dir: dir.path(),
        attempt: 2,
        slot: 3,
    };
    let spec = framework.invocation(&ctx).unwrap();
    (spec, dir)
}

fn shown(spec: &InvocationSpec, work: &Path) -> Vec<String> {
    let w = std::path::absolute(work).unwrap().display().to_string();
    std::iter::once(spec.program.clone())
        .chain(spec.args.iter().cloned())
        .map(|a| a.replace(&w, "<W>"))
        .collect()
}

fn env<'a>(spec: &'a InvocationSpec, key: &str) -> Option<&'a str> {
    spec.env
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn commands_for_each_preset() {
    let check = |framework: Box<dyn Framework>, tests: &[&str], want: &[&str], junit: &str| {
        let (spec, dir) = build(framework.as_ref(), tests);
        assert_eq!(shown(&spec, dir.path()), want, "{}", framework.name());
        let junits: Vec<String> = spec.junit.iter().map(|p| p.display().to_string()).collect();
        let w = std::path::absolute(dir.path())
            .unwrap()
            .display()
            .to_string();
        assert_eq!(junits, [junit.replace("<W>", &w)], "{}", framework.name());
        assert_eq!(env(&spec, "DTF_ATTEMPT"), Some("2"));
        assert_eq!(env(&spec, "DTF_SLOT"), Some("3"));
    };
    check(
        by_name("cargo-nextest").unwrap(),
        &[
            "dtf-core::merge::tests::basic",
            "dtf-core::merge::tests::flaky",
        ],
        &[
            "cargo",
            "nextest",
            "run",
            "--no-fail-fast",
            "--profile",
            "dtf",
            "--tool-config-file",
            "dtf:<W>/nextest.toml",
            "--retries",
            "0",
            "--no-tests=warn",
            "-E",
            "(binary_id(=dtf-core) & test(/^(?:merge::tests::basic|merge::tests::flaky)$/)) | \
             (binary_id(=dtf-core::merge) & test(/^(?:tests::basic|tests::flaky)$/))",
        ],
        "<W>/junit.xml",
    );
    check(
        Box::new(Pytest::with_python(PresetOptions::default(), "python3")),
        &[
            "tests.test_math::test_add",
            "tests.test_math.TestDiv::test_zero[0-1]",
        ],
        &[
            "python3",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--junitxml=<W>/junit.xml",
            "-o",
            "junit_family=xunit2",
            "-o",
            "junit_logging=out-err",
            "-o",
            "junit_log_passing_tests=false",
            "tests/test_math.py::test_add",
            "tests/test_math.py::TestDiv::test_zero[0-1]",
        ],
        "<W>/junit.xml",
    );
    check(
        Box::new(GoTest::with_tool(
            PresetOptions::default(),
            GoJunitTool::Gotestsum,
        )),
        &[
            "example.com/m/calc::TestAdd",
            "example.com/m/calc::TestSub",
            "example.com/m/io::TestRead",
        ],
        &[
            "sh",
            "-c",
            "rc=0\n\
             gotestsum --junitfile <W>/junit-1.xml --format standard-verbose -- -count=1 -run '^(TestAdd|TestSub)$' example.com/m/calc || rc=$?\n\
             gotestsum --junitfile <W>/junit-2.xml --format standard-verbose -- -count=1 -run '^(TestRead)$' example.com/m/io || rc=$?\n\
             exit $rc\n",
        ],
        "<W>/junit-*.xml",
    );
    check(
        Box::new(GoTest::with_tool(
            PresetOptions::default(),
            GoJunitTool::GoJunitReport,
        )),
        &["example.com/m/calc::TestAdd"],
        &[
            "sh",
            "-c",
            "rc=0\n\
             { go test -count=1 -v -run '^(TestAdd)$' example.com/m/calc 2>&1; echo $? > <W>/go-1.rc; } | tee <W>/go-1.out\n\
             go-junit-report < <W>/go-1.out > <W>/junit-1.xml || rc=$?\n\
             r=$(cat <W>/go-1.rc 2>/dev/null || echo 1); [ \"$r\" = 0 ] || rc=$r\n\
             exit $rc\n",
        ],
        "<W>/junit-*.xml",
    );
    check(
        by_name("jest").unwrap(),
        &["src/cart.test.js", "-odd.test.js"],
        &[
            "npx",
            "--no-install",
            "jest",
            "--ci",
            "--reporters=default",
            "--reporters=jest-junit",
            "--runTestsByPath",
            "src/cart.test.js",
            "./-odd.test.js",
        ],
        "<W>/junit.xml",
    );
    check(
        by_name("vitest").unwrap(),
        &["test/a.test.ts"],
        &[
            "npx",
            "--no-install",
            "vitest",
            "run",
            "--reporter=default",
            "--reporter=junit",
            "--outputFile.junit=<W>/junit.xml",
            "test/a.test.ts",
        ],
        "<W>/junit.xml",
    );
}

#[test]
fn options_add_arguments_parallelism_environment_and_cwd() {
    let options = PresetOptions {
        root: Some("/repo".into()),
        args: ids(&["--workspace"]),
        env: vec![("RUST_LOG".into(), "debug".into())],
        jobs: Some(4),
        shard: Some(2),
        ..PresetOptions::default()
    };
    let (spec, dir) = build(
        by_name_with("nextest", options.clone()).unwrap().as_ref(),
        &["c::t"],
    );
    let args = shown(&spec, dir.path());
    let at = |a: &str| args.iter().position(|x| x == a).unwrap();
    assert_eq!(args[at("--test-threads") + 1], "4");
    assert!(at("--workspace") < at("-E"));
    assert_eq!(spec.cwd.as_deref(), Some(Path::new("/repo")));
    assert_eq!(env(&spec, "RUST_LOG"), Some("debug"));
    assert_eq!(env(&spec, "DTF_SHARD"), Some("2"));

    let (spec, _dir) = build(
        by_name_with("jest", options.clone()).unwrap().as_ref(),
        &["a.test.js"],
    );
    assert!(spec.args.contains(&"--maxWorkers=4".to_owned()));
    assert_eq!(env(&spec, "JEST_JUNIT_CLASSNAME"), Some("{filepath}"));
    assert_eq!(
        env(&spec, "JEST_JUNIT_REPORT_TEST_SUITE_ERRORS"),
        Some("true")
    );
    assert!(
        env(&spec, "JEST_JUNIT_OUTPUT_FILE")
            .unwrap()
            .ends_with("/junit.xml")
    );
}

#[test]
fn nextest_writes_a_tool_config_with_the_junit_path() {
    let (spec, dir) = build(by_name("cargo-nextest").unwrap().as_ref(), &["c::t"]);
    let w = std::path::absolute(dir.path()).unwrap();
    let config = std::fs::read_to_string(w.join("nextest.toml")).unwrap();
    assert!(
        config.contains("[profile.dtf]\nfail-fast = false\nretries = 0\n"),
        "{config}"
    );
    assert!(
        config.contains(&format!(
            "[profile.dtf.junit]\npath = \"{}\"\n",
            w.join("junit.xml").display()
        )),
        "{config}"
    );
    assert_eq!(spec.junit, [w.join("junit.xml")]);
}

#[test]
fn nextest_uses_the_plans_binary_id_when_known() {
    let mut options = PresetOptions::default();
    options.hints.insert(
        "dtf-core::merge::tests::basic".into(),
        TestHint {
            file: None,
            suite: Some("dtf-core::merge".into()),
        },
    );
    let n = Nextest::new(options);
    let check = |tests: &[&str], want: &[&str]| {
        assert_eq!(n.filtersets(&ids(tests)).unwrap(), want, "{tests:?}");
    };
    check(
        &["dtf-core::merge::tests::basic"],
        &["(binary_id(=dtf-core::merge) & test(/^(?:tests::basic)$/))"],
    );
    check(
        &["dtf-core::only"],
        &["(binary_id(=dtf-core) & test(/^(?:only)$/))"],
    );
    check(
        &["app::bin/cli::tests::x"],
        &[
            r"(binary_id(=app) & test(/^(?:bin\/cli::tests::x)$/)) | (binary_id(=app::bin/cli) & test(/^(?:tests::x)$/))",
        ],
    );
    for bad in ["no-separator", "::x", "c::"] {
        assert!(
            matches!(
                n.filtersets(&ids(&[bad])),
                Err(PresetError::BadTestId { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn nextest_escapes_hostile_names_and_splits_large_selections() {
    let check = |raw: &str, want: &str| assert_eq!(filterset_escape(raw), want);
    check("plain::name", "plain::name");
    check("a)|all()", r"a\)|all(\)");
    check(r"back\slash,comma", r"back\\slash\,comma");
    check("line\nbreak\ttab", r"line\nbreak\ttab");
    check("bell\u{7}", r"bell\u{7}");

    let many: Vec<String> = (0..3000)
        .map(|i| format!("big-crate::module_{}::tests::case_number_{i}", i % 7))
        .collect();
    let sets = Nextest::new(PresetOptions::default())
        .filtersets(&many)
        .unwrap();
    assert!(sets.len() > 1, "{}", sets.len());
    for s in &sets {
        assert!(s.len() <= 17 * 1024, "{}", s.len());
        assert_eq!(s.matches('(').count(), s.matches(')').count());
    }
    // every test is selected, under both readings, exactly once: the alternatives of
    // every `test(/^(?:…)$/)` regex, counted
    let mut alternatives: HashMap<String, usize> = HashMap::new();
    for s in &sets {
        for part in s.split("test(/^(?:").skip(1) {
            let body = part.split(")$/)").next().unwrap();
            for alt in body.split('|') {
                *alternatives.entry(alt.to_owned()).or_default() += 1;
            }
        }
    }
    for id in &many {
        let (_, name) = id.split_once("::").unwrap();
        assert_eq!(alternatives.get(name).copied(), Some(1), "{name}");
    }
}

#[test]
fn pytest_ids_round_trip_through_node_ids() {
    let root = tempfile::tempdir().unwrap();
    for f in [
        "tests/unit/test_models.py",
        "tests/v1.2/test_api.py",
        "test_top.py",
    ] {
        let p = root.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }
    let mut options = PresetOptions {
        root: Some(root.path().to_owned()),
        ..PresetOptions::default()
    };
    options.hints.insert(
        "tests.v1.2.test_api.TestGet::test_ok".into(),
        TestHint {
            file: Some("tests/v1.2/test_api.py".into()),
            suite: None,
        },
    );
    let p = Pytest::with_python(options, "python");
    let check = |id: &str, nodeid: &str| {
        assert_eq!(p.nodeid(id).unwrap(), nodeid, "{id}");
        if !dtf_plan::discover::looks_like_pytest_nodeid(id) {
            assert_eq!(
                dtf_plan::discover::pytest_nodeid_to_id(nodeid),
                id,
                "{nodeid}"
            );
        }
    };
    // found on disk, whatever the class names look like
    check(
        "tests.unit.test_models::test_save",
        "tests/unit/test_models.py::test_save",
    );
    check(
        "tests.unit.test_models.TestUser.Nested::test_x[a.b-c::d]",
        "tests/unit/test_models.py::TestUser::Nested::test_x[a.b-c::d]",
    );
    check(
        "test_top.lowercase_class::test_y",
        "test_top.py::lowercase_class::test_y",
    );
    // dots in a folder name: only the plan's file can tell
    check(
        "tests.v1.2.test_api.TestGet::test_ok",
        "tests/v1.2/test_api.py::TestGet::test_ok",
    );
    // not on disk: trailing capitalised parts are classes
    check(
        "pkg.sub.test_gone.TestA::test_b",
        "pkg/sub/test_gone.py::TestA::test_b",
    );
    check("pkg.test_gone::test_c", "pkg/test_gone.py::test_c");
    // node ids pass through
    check(
        "tests/unit/test_models.py::test_save",
        "tests/unit/test_models.py::test_save",
    );
    for bad in ["no_separator", "::test", "TestOnly::test_x"] {
        assert!(
            matches!(p.nodeid(bad), Err(PresetError::BadTestId { .. })),
            "{bad}"
        );
    }
}

#[test]
fn pytest_maps_junit_back_to_node_id_plans_and_uses_an_argument_file_for_long_lists() {
    let p = Pytest::with_python(PresetOptions::default(), "python");
    let (spec, _dir) = build(
        &p,
        &["tests/test_a.py::TestX::test_p[1]", "tests.test_b::test_c"],
    );
    assert!(spec.args.ends_with(&ids(&[
        "tests/test_a.py::TestX::test_p[1]",
        "tests/test_b.py::test_c"
    ])));
    // the JUnit names the first in pytest's dotted form; it maps back to the node id
    assert_eq!(
        p.planned_id("tests.test_a.TestX::test_p[1]"),
        "tests/test_a.py::TestX::test_p[1]"
    );
    assert_eq!(p.planned_id("tests.test_b::test_c"), "tests.test_b::test_c");

    let many: Vec<String> = (0..2000)
        .map(|i| format!("tests.test_generated_module_{i}::test_case_with_a_long_name_{i}"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    // Thousands of node ids: pytest gets their files and dtf's selection plugin,
    // which keeps the listed node ids in order.
    let (spec, dir) = build(&p, &refs);
    let at = spec
        .args
        .iter()
        .position(|a| a == "dtf_select")
        .expect("the plugin is loaded");
    assert_eq!(spec.args[at - 1], "-p");
    assert_eq!(spec.args.len() - at - 1, 2000, "one argument per file");
    assert_eq!(spec.args[at + 1], "tests/test_generated_module_0.py");
    let work = std::path::absolute(dir.path()).unwrap();
    let env: HashMap<&str, &str> = spec
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let list = work.join("dtf-selected.txt");
    assert_eq!(env["DTF_PYTEST_SELECT"], list.display().to_string());
    assert!(env["PYTHONPATH"].starts_with(&work.display().to_string()));
    assert!(work.join("dtf_select.py").is_file());
    let listed = std::fs::read_to_string(list).unwrap();
    assert_eq!(listed.lines().count(), 2000);
    assert_eq!(
        listed.lines().next().unwrap(),
        "tests/test_generated_module_0.py::test_case_with_a_long_name_0"
    );
    for bad in ["-p.py::x", "@evil.py::x", "tests/a.py::test\nb"] {
        let tests = ids(&[bad]);
        let dir = tempfile::tempdir().unwrap();
        let ctx = InvocationCtx {
            tests: &tests,
            work_dir: dir.path(),
            attempt: 1,
            slot: 0,
        };
        assert!(
            matches!(p.invocation(&ctx), Err(PresetError::BadTestId { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn file_presets_map_every_case_of_a_file_to_it() {
    for name in ["jest", "vitest"] {
        let f = by_name(name).unwrap();
        let (_spec, _dir) = build(f.as_ref(), &["src/cart.test.js", "./web/ui.spec.ts"]);
        let check = |junit_id: &str, want: &str| {
            assert_eq!(f.planned_id(junit_id), want, "{name} {junit_id}")
        };
        check("src/cart.test.js::Cart adds an item", "src/cart.test.js");
        check(
            "src/cart.test.js::Cart > nested > removes",
            "src/cart.test.js",
        );
        check(
            "Test suite failed to run::src/cart.test.js",
            "src/cart.test.js",
        );
        check("web/ui.spec.ts::renders", "./web/ui.spec.ts");
        // a path relative to another root still finds its planned file
        check("packages/shop/src/cart.test.js::x", "src/cart.test.js");
        check("other.test.js::x", "other.test.js");
    }
}

#[test]
fn go_maps_short_class_names_back() {
    let g = GoTest::with_tool(PresetOptions::default(), GoJunitTool::GoJunitReport);
    let (_spec, _dir) = build(
        &g,
        &["example.com/m/calc::TestAdd", "example.com/x/calc::TestMul"],
    );
    assert_eq!(g.planned_id("calc::TestAdd"), "example.com/m/calc::TestAdd");
    assert_eq!(
        g.planned_id("example.com/m/calc::TestAdd"),
        "example.com/m/calc::TestAdd"
    );
    assert_eq!(g.planned_id("calc::TestMul"), "example.com/x/calc::TestMul");
    for bad in [
        "no-separator",
        "pkg::Test/sub",
        "pkg::Test Name",
        "-pkg::TestA",
    ] {
        let tests = ids(&[bad]);
        let dir = tempfile::tempdir().unwrap();
        let ctx = InvocationCtx {
            tests: &tests,
            work_dir: dir.path(),
            attempt: 1,
            slot: 0,
        };
        assert!(
            matches!(g.invocation(&ctx), Err(PresetError::BadTestId { .. })),
            "{bad}"
        );
    }
}

#[test]
fn unknown_presets_and_empty_invocations_are_errors() {
    let err = by_name("mocha").err().unwrap();
    assert_eq!(
        err.to_string(),
        "unknown preset `mocha` (known: cargo-nextest, pytest, go, jest, vitest; or a command template)"
    );
    for name in [
        "nextest",
        "cargo-nextest",
        "pytest",
        "go",
        "go-test",
        "jest",
        "vitest",
        " Jest ",
    ] {
        assert!(by_name(name).is_ok(), "{name}");
    }
    let dir = tempfile::tempdir().unwrap();
    let ctx = InvocationCtx {
        tests: &[],
        work_dir: dir.path(),
        attempt: 1,
        slot: 0,
    };
    for name in ["nextest", "pytest", "jest", "vitest"] {
        assert!(matches!(
            by_name(name).unwrap().invocation(&ctx),
            Err(PresetError::NoTests)
        ));
    }
    assert!(matches!(
        template("echo {tests}").unwrap().invocation(&ctx),
        Err(PresetError::NoTests)
    ));
    let nul = ids(&["a::b\0c"]);
    let ctx = InvocationCtx { tests: &nul, ..ctx };
    assert!(matches!(
        by_name("jest").unwrap().invocation(&ctx),
        Err(PresetError::BadTestId { .. })
    ));
}

/// Ids no shell may interpret.
const HOSTILE: &[&str] = &[
    "plain::id",
    "with space::and  two",
    "quote'single::x",
    "quote\"double::x",
    "$(touch pwned)::x",
    "`touch pwned`::x",
    "semi;colon && or || pipe | amp &::x",
    "glob*?[a]::x",
    "~tilde::x",
    "back\\slash::x",
    "brace{tests}::x",
    "-dash::x",
    "ünïcødé::测试",
    "",
];

#[test]
fn shell_quoting_survives_hostile_ids() {
    assert_eq!(
        shell_quote("plain-word_1.2/x:y=z@%+,"),
        "plain-word_1.2/x:y=z@%+,"
    );
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
    let dir = tempfile::tempdir().unwrap();
    let t = template("cd {work_dir} && printf '%s\\n' {tests} > out.txt").unwrap();
    let tests = ids(HOSTILE);
    let ctx = InvocationCtx {
        tests: &tests,
        work_dir: dir.path(),
        attempt: 1,
        slot: 0,
    };
    let spec = t.invocation(&ctx).unwrap();
    let status = Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    let got: Vec<&str> = out.split('\n').collect();
    assert_eq!(&got[..got.len() - 1], HOSTILE);
    assert!(!dir.path().join("pwned").exists());
}

#[test]
fn templates_expand_placeholders() {
    let options = PresetOptions {
        shard: Some(4),
        ..PresetOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let check = |cmd: &str, want: &str| {
        let t = template_with(cmd, options.clone()).unwrap();
        let tests = ids(&["a::one", "b::two words"]);
        let ctx = InvocationCtx {
            tests: &tests,
            work_dir: dir.path(),
            attempt: 3,
            slot: 1,
        };
        let spec = t.invocation(&ctx).unwrap();
        assert_eq!(spec.program, "sh");
        assert_eq!(spec.args[0], "-c");
        let w = std::path::absolute(dir.path())
            .unwrap()
            .display()
            .to_string();
        assert_eq!(spec.args[1].replace(&w, "<W>"), want, "{cmd}");
        spec
    };
    check("run {tests}", "run a::one 'b::two words'");
    check(
        "run --list {tests_file} --out {junit}",
        "run --list <W>/tests.txt --out <W>/junit.xml",
    );
    check(
        "cd {work_dir}; echo shard {shard} slot {slot} attempt {attempt}",
        "cd <W>; echo shard 4 slot 1 attempt 3",
    );
    check("echo ${HOME} {{literal}} }}", "echo ${HOME} {literal} }");
    let unknown = template("echo {shard}").unwrap();
    let tests = ids(&["a::one"]);
    let ctx = InvocationCtx {
        tests: &tests,
        work_dir: dir.path(),
        attempt: 1,
        slot: 0,
    };
    assert_eq!(
        unknown.invocation(&ctx).unwrap().args[1],
        "echo \"${DTF_SHARD}\""
    );
    check(
        "awk '{print $1}' {tests_file}",
        "awk '{print $1}' <W>/tests.txt",
    );
    check("for f in a{b,c}; do :; done", "for f in a{b,c}; do :; done");
    let spec = check("true", "true");
    let w = std::path::absolute(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(w.join("tests.txt")).unwrap(),
        "a::one\nb::two words\n"
    );
    assert_eq!(spec.junit, [w.join("junit.xml")]);
    assert_eq!(
        env(&spec, "DTF_TESTS_FILE"),
        Some(w.join("tests.txt").to_str().unwrap())
    );
    assert_eq!(
        env(&spec, "DTF_JUNIT"),
        Some(w.join("junit.xml").to_str().unwrap())
    );
    assert_eq!(env(&spec, "DTF_SHARD"), Some("4"));
}

#[test]
fn bad_templates_are_refused_at_once() {
    let check = |cmd: &str, message: &str| {
        let err = template(cmd).err().unwrap();
        assert!(err.to_string().contains(message), "{cmd}: {err}");
    };
    check("", "the command is empty");
    check(
        "run {test}",
        "unknown placeholder {test} (known: {tests}, {tests_file}, {junit}",
    );
    let dir = tempfile::tempdir().unwrap();
    let tests = ids(&["a::line\nbreak"]);
    let ctx = InvocationCtx {
        tests: &tests,
        work_dir: dir.path(),
        attempt: 1,
        slot: 0,
    };
    let err = template("run {tests}")
        .unwrap()
        .invocation(&ctx)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "template: test id `a::line\\nbreak` cannot be run: it contains a line break"
    );
}

#[test]
fn command_lines_for_logs() {
    let spec = InvocationSpec {
        program: "cargo".into(),
        args: ids(&["nextest", "run", "-E", "test(=a) | test(=b)"]),
        env: Vec::new(),
        cwd: None,
        junit: Vec::new(),
    };
    assert_eq!(
        spec.command_line(),
        "cargo nextest run -E 'test(=a) | test(=b)'"
    );
}
