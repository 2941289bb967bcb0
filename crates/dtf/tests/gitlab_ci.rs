//! The GitLab templates (`gitlab-templates/`), run end to end with gitlab-ci-local.
//!
//! GitLab is the one provider whose whole pipeline runs on this machine: gitlab-ci-local
//! (npm) reads a `.gitlab-ci.yml`, resolves `include: local:`, `extends`, `needs`,
//! `parallel: N` (CI_NODE_INDEX / CI_NODE_TOTAL) and artifacts, and runs every job with
//! the shell executor. So this test runs the real classic include on a fixture project
//! (`tests/fixtures/gitlab/project`, a tiny pytest suite): dtf-plan, three parallel
//! dtf-test jobs, dtf-report, with the dtf built here on PATH (`DTF_INSTALL: none`) and
//! `DTF_PROVIDER: local` so that nothing leaves the machine. It then checks what a
//! GitLab user would get: the merged JUnit (GitLab's test widget) holds every test
//! exactly once, and the report bundle verifies.
//!
//! gitlab-ci-local is required: without it the test fails and says how to install it,
//! unless DTF_SKIP_GITLAB_CI_LOCAL=1 (then it prints SKIPPED). `.ci/run` installs it.
//!
//! The CI/CD component runs the same way (`include: local:` with `inputs:`, which
//! gitlab-ci-local fills in as GitLab does), and a third test keeps the job scripts of
//! the two files identical.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DTF: &str = env!("CARGO_BIN_EXE_dtf");
const CLASSIC: &str = "gitlab-templates/dtf.gitlab-ci.yml";
const COMPONENT: &str = "gitlab-templates/templates/dtf/template.yml";
/// The pipeline takes a few seconds; this only stops a hung one.
const PIPELINE_LIMIT: Duration = Duration::from_secs(120);

/// Every test of the fixture suite, as `classname::name` (pytest's JUnit ids).
const FIXTURE_TESTS: [&str; 11] = [
    "tests.test_alpha::test_add",
    "tests.test_alpha::test_concat",
    "tests.test_alpha::test_square_is_positive[1]",
    "tests.test_alpha::test_square_is_positive[2]",
    "tests.test_alpha::test_square_is_positive[3]",
    "tests.test_beta::test_sleeps_briefly",
    "tests.test_beta::test_sorts",
    "tests.test_beta::test_splits",
    "tests.test_gamma::test_skipped",
    "tests.test_gamma.TestStrings::test_upper",
    "tests.test_gamma.TestStrings::test_strip",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What the pipeline needs besides dtf; the first missing one, with how to get it.
fn missing_tool() -> Option<&'static str> {
    if !works("gitlab-ci-local", &["--version"]) {
        return Some(
            "gitlab-ci-local is not installed (npm install -g gitlab-ci-local@4.73.0; .ci/run does this)",
        );
    }
    if !works("rsync", &["--version"]) {
        return Some(
            "rsync is not installed; gitlab-ci-local's --shell-isolation needs it (apt-get install rsync; .ci/run does this)",
        );
    }
    if !works("git", &["--version"]) {
        return Some("git is not installed; gitlab-ci-local reads the project's git repository");
    }
    if !works("python3", &["-m", "pytest", "--version"]) {
        return Some(
            "pytest is not installed; the fixture suite is a pytest suite (pip install pytest; .ci/run does this)",
        );
    }
    None
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            // Left behind by a local pytest run of the fixture.
            if entry.file_name() == "__pycache__" || entry.file_name() == ".pytest_cache" {
                continue;
            }
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=dtf test",
            "-c",
            "user.email=dtf@example.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of `attr="..."` in one XML start tag, entities decoded.
fn attribute(tag: &str, attr: &str) -> Option<String> {
    let needle = format!(" {attr}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = start + tag[start..].find('"')?;
    Some(
        tag[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// How often each test id (`classname::name`) appears as a `<testcase>`.
fn testcase_ids(junit: &str) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for (at, _) in junit.match_indices("<testcase ") {
        let tag = &junit[at..at + junit[at..].find('>').unwrap()];
        let id = format!(
            "{}::{}",
            attribute(tag, "classname").unwrap_or_default(),
            attribute(tag, "name").unwrap_or_default()
        );
        *ids.entry(id).or_insert(0) += 1;
    }
    ids
}

/// Which template the fixture project's pipeline includes.
enum Template {
    /// The fixture's own .gitlab-ci.yml, including the classic file.
    Classic,
    /// tests/fixtures/gitlab/component.gitlab-ci.yml, including the component with
    /// inputs. Its jobs name an image (a required input), so gitlab-ci-local is told
    /// to use the shell executor anyway.
    Component,
}

#[test]
fn classic_include_runs_plan_three_parallel_shards_and_report() {
    run_pipeline(Template::Classic);
}

#[test]
fn component_runs_plan_three_parallel_shards_and_report() {
    run_pipeline(Template::Component);
}

/// Runs the fixture project's whole pipeline and checks what a GitLab user would get.
fn run_pipeline(template: Template) {
    if let Some(why) = missing_tool() {
        if std::env::var("DTF_SKIP_GITLAB_CI_LOCAL").as_deref() == Ok("1") {
            eprintln!("SKIPPED: {why} (DTF_SKIP_GITLAB_CI_LOCAL=1)");
            return;
        }
        panic!(
            "{why}. This test runs the GitLab pipeline end to end; set DTF_SKIP_GITLAB_CI_LOCAL=1 to skip it"
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    copy_tree(&repo().join("tests/fixtures/gitlab/project"), &project);
    // The real template, at the path the pipeline's `include: local:` names.
    let mut flags = vec!["--shell-isolation", "--no-color"];
    match template {
        Template::Classic => {
            fs::create_dir_all(project.join("gitlab-templates")).unwrap();
            fs::copy(repo().join(CLASSIC), project.join(CLASSIC)).unwrap();
        }
        Template::Component => {
            fs::create_dir_all(project.join("templates/dtf")).unwrap();
            fs::copy(
                repo().join(COMPONENT),
                project.join("templates/dtf/template.yml"),
            )
            .unwrap();
            fs::copy(
                repo().join("tests/fixtures/gitlab/component.gitlab-ci.yml"),
                project.join(".gitlab-ci.yml"),
            )
            .unwrap();
            flags.push("--force-shell-executor");
        }
    }
    git(&project, &["init", "-q"]);
    // gitlab-ci-local derives CI_PROJECT_PATH and friends from the remote; it is never
    // contacted.
    git(
        &project,
        &[
            "remote",
            "add",
            "origin",
            "https://gitlab.example.invalid/dtf/fixture.git",
        ],
    );
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "fixture"]);
    // The remote's default branch, which gitlab-ci-local asks git for.
    git(
        &project,
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );
    git(
        &project,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );

    let bin_dir = Path::new(DTF).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log_path = tmp.path().join("gitlab-ci-local.log");
    let log = fs::File::create(&log_path).unwrap();
    let started = Instant::now();
    let mut child = Command::new("gitlab-ci-local")
        // gitlab-ci-local takes --cwd only relative; run it in the project instead.
        .current_dir(&project)
        .args(&flags)
        .arg("--home")
        .arg(tmp.path().join("home"))
        // No token: had the provider been gitlab, publish would only print a notice.
        .env_remove("DTF_GITLAB_TOKEN")
        .env("PATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PIPELINE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "gitlab-ci-local ran longer than {PIPELINE_LIMIT:?}:\n{}",
                fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = fs::read_to_string(&log_path).unwrap();
    eprintln!(
        "gitlab-ci-local finished in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "the pipeline failed ({status}):\n{output}"
    );

    // Every job ran and passed: the plan, three parallel shards, the report.
    for job in [
        "dtf-plan",
        "dtf-test: [1/3]",
        "dtf-test: [2/3]",
        "dtf-test: [3/3]",
        "dtf-report",
    ] {
        assert!(
            output
                .lines()
                .any(|l| l.contains("PASS") && l.contains(job)),
            "job {job} did not pass:\n{output}"
        );
    }
    // Each shard ran its own part of the plan and kept its bundle as an artifact.
    for k in 1..=3 {
        assert!(
            output.contains(&format!("dtf: shard {k}: running")),
            "shard {k} did not run:\n{output}"
        );
        let bundle = project.join(format!("dtf-bundles/dtf-shard-{k}.zip"));
        assert!(bundle.is_file(), "{} is missing", bundle.display());
    }

    // The merged JUnit, as GitLab's test widget reads it: every test exactly once.
    let junit = fs::read_to_string(project.join("report/junit.xml")).unwrap();
    let ids = testcase_ids(&junit);
    let expected: BTreeMap<String, usize> =
        FIXTURE_TESTS.iter().map(|id| (id.to_string(), 1)).collect();
    assert_eq!(
        ids, expected,
        "report/junit.xml does not hold every fixture test exactly once"
    );
    for file in ["summary.json", "summary.md", "report.html", "comment.md"] {
        assert!(
            project.join("report").join(file).is_file(),
            "report/{file} is missing"
        );
    }

    // The report bundle (the report job's artifact) verifies.
    let verify = Command::new(DTF)
        .args(["artifacts", "verify"])
        .arg(project.join("dtf-report.zip"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "dtf artifacts verify dtf-report.zip failed: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // The publish step ran (the local provider: files, no network) and wrote the note.
    assert!(
        output.contains("comment: created"),
        "dtf publish wrote no comment:\n{output}"
    );
}

/// The text between the `# -- scripts` and `# -- end scripts` lines.
fn scripts_section(text: &str, file: &str) -> String {
    let start = text
        .find("\n# -- scripts")
        .unwrap_or_else(|| panic!("{file} has no `# -- scripts` line"));
    let body = &text[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body
        .find("\n# -- end scripts")
        .unwrap_or_else(|| panic!("{file} has no `# -- end scripts` line"));
    body[..end].to_owned()
}

#[test]
fn component_and_classic_include_run_the_same_scripts() {
    let classic = fs::read_to_string(repo().join(CLASSIC)).unwrap();
    let component = fs::read_to_string(repo().join(COMPONENT)).unwrap();
    let a = scripts_section(&classic, CLASSIC);
    let b = scripts_section(&component, COMPONENT);
    assert!(!a.trim().is_empty());
    if a != b {
        let line = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or_else(|| a.lines().count().min(b.lines().count()));
        panic!(
            "the scripts of {CLASSIC} and {COMPONENT} differ (first at line {} of the section): keep them identical",
            line + 1
        );
    }
    // Inputs and settings reach the scripts as variables only: no interpolation of an
    // input into script text.
    assert!(
        !b.contains("$[["),
        "{COMPONENT}: an input is interpolated into the scripts; map it to a variable"
    );
}
