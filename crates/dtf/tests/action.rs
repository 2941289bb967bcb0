//! The GitHub Action (`actions/`), its shell steps run under a faked runner.
//!
//! Every step of `actions/action.yml` that does work is a script under
//! `actions/scripts/`, so these tests run the very files a runner would, with bash, in
//! the environment a runner gives them: `GITHUB_OUTPUT`, `GITHUB_PATH`, `GITHUB_ENV`,
//! `GITHUB_STEP_SUMMARY`, `RUNNER_OS`, `RUNNER_ARCH`, `RUNNER_TEMP`,
//! `GITHUB_ACTION_PATH` and the `INPUT_*` variables action.yml maps the inputs to. The
//! network is faked: `curl` and `cargo` are stand-ins (`tests/fixtures/action/`) that
//! serve release archives built here and log what they were asked. The plan, run and
//! report steps use the real dtf on the example suite; `dtf baseline` and `dtf publish`,
//! which would talk to GitHub, are answered by a stand-in that logs its calls.
//!
//! action.yml itself is read with a few lines of text matching (no YAML library is a
//! dependency): enough to check that every step runs a script that exists, that no
//! `${{ }}` expression is pasted into a script's text, and that every input a script
//! reads is mapped into that step's environment.
//!
//! Without bash the tests say so on standard error and check nothing else.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const DTF: &str = env!("CARGO_BIN_EXE_dtf");
const VERSION: &str = "0.1.0";
const LINUX_X64: &str = "dtf-x86_64-unknown-linux-musl.tar.gz";
const TOKEN: &str = "ghs_fakeTokenThatMustNeverBePrinted0123456789";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Returns from the test, saying why, when bash is missing.
macro_rules! require_bash {
    () => {
        if !have("bash") {
            eprintln!("SKIPPED: bash is not installed, so the action's scripts were not run");
            return;
        }
    };
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn make_executable(path: &Path) {
    let mut perms = fs::metadata(path).unwrap().permissions();
    perms.set_mode(0o755);
    fs::set_permissions(path, perms).unwrap();
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"sha256sum "$1" 2>/dev/null || shasum -a 256 "$1""#)
        .arg("sh")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "no sha256sum or shasum");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A job on a faked runner: its own temporary folder, a copy of the action (so a test
/// may change its checksums), a folder of stand-ins first on PATH, and the files
/// GitHub reads step results from.
struct Runner {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    action: PathBuf,
    env: BTreeMap<String, String>,
}

impl Runner {
    fn new() -> Runner {
        Runner::with_action_at("actions")
    }

    /// The action copied to `ROOT/<rel>`: `checkout/actions` puts it in a fake
    /// checkout of the dtf repository.
    fn with_action_at(rel: &str) -> Runner {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let action = root.join(rel);
        copy_tree(&repo().join("actions"), &action);
        let fakes = root.join("fakes");
        fs::create_dir_all(&fakes).unwrap();
        for name in ["curl", "cargo"] {
            let to = fakes.join(name);
            fs::copy(repo().join("tests/fixtures/action").join(name), &to).unwrap();
            make_executable(&to);
        }
        let fake_dtf = root.join("fake-dtf/dtf");
        fs::create_dir_all(fake_dtf.parent().unwrap()).unwrap();
        fs::copy(repo().join("tests/fixtures/action/dtf"), &fake_dtf).unwrap();
        make_executable(&fake_dtf);
        for dir in ["releases", "log", "runner-temp", "github", "work", "home"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in ["output", "path", "env", "step_summary"] {
            fs::write(root.join("github").join(file), "").unwrap();
        }
        let system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        let s = |p: PathBuf| p.to_str().unwrap().to_owned();
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), format!("{}:{system_path}", s(fakes)));
        env.insert("HOME".into(), s(root.join("home")));
        env.insert("CI".into(), "true".into());
        env.insert("GITHUB_ACTIONS".into(), "true".into());
        env.insert("GITHUB_OUTPUT".into(), s(root.join("github/output")));
        env.insert("GITHUB_PATH".into(), s(root.join("github/path")));
        env.insert("GITHUB_ENV".into(), s(root.join("github/env")));
        env.insert(
            "GITHUB_STEP_SUMMARY".into(),
            s(root.join("github/step_summary")),
        );
        env.insert("GITHUB_ACTION_PATH".into(), s(action.clone()));
        env.insert("RUNNER_OS".into(), "Linux".into());
        env.insert("RUNNER_ARCH".into(), "X64".into());
        env.insert("RUNNER_TEMP".into(), s(root.join("runner-temp")));
        env.insert("FAKE_LOG".into(), s(root.join("log")));
        env.insert("FAKE_RELEASES".into(), s(root.join("releases")));
        env.insert("REAL_DTF".into(), DTF.into());
        env.insert("DTF_BIN".into(), DTF.into());
        env.insert("INPUT_WORKING_DIRECTORY".into(), s(root.join("work")));
        Runner {
            _tmp: tmp,
            root,
            action,
            env,
        }
    }

    fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Runner {
        self.env.insert(key.into(), value.into());
        self
    }

    fn unset(&mut self, key: &str) -> &mut Runner {
        self.env.remove(key);
        self
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Runs `actions/scripts/<script>` as the action's step does: `bash <file>`, in a
    /// clean environment holding only what the runner and the step's `env:` give.
    fn step(&self, script: &str) -> Output {
        let out = Command::new("bash")
            .arg(self.action.join("scripts").join(script))
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.root)
            .output()
            .unwrap();
        eprintln!(
            "--- {script}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The step outputs written so far, in both of GitHub's forms (`k=v`, and
    /// `k<<DELIM` ... `DELIM`).
    fn outputs(&self) -> BTreeMap<String, String> {
        let text = fs::read_to_string(self.path("github/output")).unwrap();
        let mut outputs = BTreeMap::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let Some((key, delim)) = line.split_once("<<") {
                let mut value = Vec::new();
                for l in lines.by_ref() {
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                outputs.insert(key.to_owned(), value.join("\n"));
            } else if let Some((key, value)) = line.split_once('=') {
                outputs.insert(key.to_owned(), value.to_owned());
            } else {
                panic!("GITHUB_OUTPUT has a line GitHub cannot read: {line:?}");
            }
        }
        outputs
    }

    fn github_path(&self) -> Vec<String> {
        fs::read_to_string(self.path("github/path"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn log(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.path("log").join(name)).ok()
    }

    /// Makes `file` a release archive holding a `dtf` that prints `says`, returns its sha256.
    fn release(&self, file: &str, says: &str) -> String {
        let stage = self.path("stage");
        let _ = fs::remove_dir_all(&stage);
        fs::create_dir_all(&stage).unwrap();
        let exe = if file.ends_with(".zip") {
            "dtf.exe"
        } else {
            "dtf"
        };
        fs::write(
            stage.join(exe),
            format!("#!/bin/sh\necho \"dtf {VERSION} ({says})\"\n"),
        )
        .unwrap();
        make_executable(&stage.join(exe));
        let archive = self.path("releases").join(file);
        if file.ends_with(".zip") {
            let mut zip = zip::ZipWriter::new(fs::File::create(&archive).unwrap());
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
            zip.start_file(exe, options).unwrap();
            std::io::Write::write_all(&mut zip, &fs::read(stage.join(exe)).unwrap()).unwrap();
            zip.finish().unwrap();
        } else {
            let status = Command::new("tar")
                .arg("-czf")
                .arg(&archive)
                .arg("-C")
                .arg(&stage)
                .arg(exe)
                .status()
                .unwrap();
            assert!(status.success());
        }
        sha256(&archive)
    }

    /// Replaces the action's checksum table with these `(file, sha256)` lines for VERSION.
    fn checksums(&self, lines: &[(&str, &str)]) {
        let mut text = String::from("# test table\n");
        for (file, sum) in lines {
            text.push_str(&format!("{VERSION}  {sum}  {file}\n"));
        }
        fs::write(self.action.join("checksums.txt"), text).unwrap();
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------
// action.yml, read as text

/// One step of action.yml: its `run:` line (if any), `uses:`, and its `env:` keys
/// with their values.
#[derive(Debug, Default)]
struct Step {
    name: String,
    run: Option<String>,
    uses: Option<String>,
    env: BTreeMap<String, String>,
}

fn action_yml() -> String {
    fs::read_to_string(repo().join("actions/action.yml")).unwrap()
}

/// The steps under `runs: steps:`, from the indentation action.yml is written with
/// (steps at 4 spaces, their keys at 6, env entries at 8).
fn steps(text: &str) -> Vec<Step> {
    let body = text.split("\n  steps:\n").nth(1).expect("runs.steps");
    let mut steps: Vec<Step> = Vec::new();
    let mut in_env = false;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("    - ") {
            steps.push(Step::default());
            in_env = false;
            let (k, v) = rest.split_once(':').unwrap();
            assert_eq!(k, "name", "every step starts with its name: {line}");
            steps.last_mut().unwrap().name = v.trim().to_owned();
            continue;
        }
        let Some(step) = steps.last_mut() else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("        ")
            && in_env
        {
            let (k, v) = rest.split_once(':').unwrap();
            step.env.insert(k.trim().to_owned(), v.trim().to_owned());
            continue;
        }
        in_env = false;
        if let Some(rest) = line.strip_prefix("      ")
            && !rest.starts_with(' ')
            && let Some((k, v)) = rest.split_once(':')
        {
            match k {
                "run" => step.run = Some(v.trim().to_owned()),
                "uses" => step.uses = Some(v.trim().to_owned()),
                "env" => in_env = true,
                _ => {}
            }
        }
    }
    steps
}

/// The names under `inputs:`.
fn inputs(text: &str) -> BTreeSet<String> {
    let body = text.split("\ninputs:\n").nth(1).unwrap();
    let body = body.split("\noutputs:\n").next().unwrap();
    body.lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .map(|l| l.trim_end_matches(':').to_owned())
        .collect()
}

fn script_of(step: &Step) -> Option<String> {
    let run = step.run.as_deref()?;
    let rest = run.strip_prefix("bash \"$GITHUB_ACTION_PATH/scripts/")?;
    Some(rest.strip_suffix('"')?.to_owned())
}

#[test]
fn action_yml_runs_only_scripts_and_maps_every_input_through_env() {
    let text = action_yml();
    let steps = steps(&text);
    let declared = inputs(&text);
    assert!(steps.len() >= 8, "steps read: {steps:#?}");
    for required in ["command", "version", "shards", "config", "token", "shard"] {
        assert!(declared.contains(required), "input {required} missing");
    }

    let mut run_scripts = BTreeSet::new();
    for step in &steps {
        if let Some(run) = &step.run {
            // The rule the README states: an expression pasted into a script's text
            // runs whatever it expands to.
            assert!(
                !run.contains("${{"),
                "step {:?} pastes an expression into its script: {run}",
                step.name
            );
            let script = script_of(step)
                .unwrap_or_else(|| panic!("step {:?} runs more than one script: {run}", step.name));
            assert!(
                repo().join("actions/scripts").join(&script).is_file(),
                "step {:?} runs scripts/{script}, which does not exist",
                step.name
            );
            run_scripts.insert(script.clone());

            // Every INPUT_* the script reads is in this step's env, mapped from the
            // input of the same name.
            let source = fs::read_to_string(repo().join("actions/scripts").join(&script)).unwrap();
            for var in input_vars(&source) {
                let value = step.env.get(&var).unwrap_or_else(|| {
                    panic!(
                        "scripts/{script} reads {var}, which step {:?} does not set",
                        step.name
                    )
                });
                let input = var
                    .trim_start_matches("INPUT_")
                    .to_lowercase()
                    .replace('_', "-");
                assert_eq!(
                    value,
                    &format!("${{{{ inputs.{input} }}}}"),
                    "{var} in {:?}",
                    step.name
                );
            }
        } else {
            assert!(
                step.uses.is_some(),
                "step {:?} neither runs nor uses",
                step.name
            );
        }
        for (key, value) in &step.env {
            if let Some(input) = value
                .strip_prefix("${{ inputs.")
                .and_then(|v| v.strip_suffix(" }}"))
            {
                assert!(declared.contains(input), "{key} maps unknown input {input}");
            }
        }
    }
    // Every script is used by a step, except the library they all source.
    let on_disk: BTreeSet<String> = fs::read_dir(repo().join("actions/scripts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "lib.sh")
        .collect();
    assert_eq!(run_scripts, on_disk);

    // The token reaches only the steps that run dtf baseline or dtf publish.
    for step in &steps {
        if step.env.contains_key("INPUT_TOKEN") {
            let script = script_of(step).unwrap_or_default();
            assert!(
                ["plan.sh", "report.sh"].contains(&script.as_str()),
                "{step:?}"
            );
        }
    }
    // Bundles are uploaded after failed tests too, and their names never collide
    // with the plan's or the report's.
    let upload = steps
        .iter()
        .position(|s| s.name.contains("shard's bundle"))
        .unwrap();
    assert!(
        text.contains("if: always() && inputs.command == 'run' && steps.run.outputs.bundle != ''")
    );
    assert!(
        steps[upload]
            .uses
            .as_deref()
            .unwrap()
            .starts_with("actions/upload-artifact@v4")
    );
    assert!(text.contains("name: ${{ inputs.artifact-name }}-shard-${{ inputs.shard }}"));
    assert!(text.contains("pattern: ${{ inputs.artifact-name }}-shard-*"));
    assert!(text.contains("merge-multiple: true"));
}

/// The `INPUT_*` names a script reads.
fn input_vars(source: &str) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("INPUT_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(tail.len());
        vars.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    vars
}

// ---------------------------------------------------------------------------------
// check.sh and lib.sh

#[test]
fn an_unknown_command_stops_the_action() {
    require_bash!();
    let mut runner = Runner::new();
    runner.set("INPUT_COMMAND", "deploy");
    let out = runner.step("check.sh");
    assert!(!out.status.success());
    assert!(
        stdout(&out)
            .contains("::error title=dtf::input command must be plan, run or report; got: deploy")
    );
    runner.set("INPUT_COMMAND", "report");
    assert!(runner.step("check.sh").status.success());
}

/// Runs a bash snippet with lib.sh sourced.
fn with_lib(runner: &Runner, snippet: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". \"$GITHUB_ACTION_PATH/scripts/lib.sh\"\n{snippet}"
        ))
        .env_clear()
        .envs(&runner.env)
        .output()
        .unwrap()
}

#[test]
fn outputs_with_newlines_use_the_delimiter_form_and_messages_cannot_inject_commands() {
    require_bash!();
    let runner = Runner::new();
    let out = with_lib(
        &runner,
        r#"dtf_set_output one 'a=b'
dtf_set_output many $'first\nsecond\n::set-output name=x::y'
dtf_error $'line one\n::add-mask::oops 100%'"#,
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let outputs = runner.outputs();
    assert_eq!(outputs["one"], "a=b");
    assert_eq!(outputs["many"], "first\nsecond\n::set-output name=x::y");
    assert_eq!(outputs.len(), 2);
    // One workflow command, its newline and percent sign escaped.
    assert_eq!(
        stdout(&out),
        "::error title=dtf::line one%0A::add-mask::oops 100%25\n"
    );
}

#[test]
fn list_inputs_are_one_argument_a_line_and_never_evaluated() {
    require_bash!();
    let runner = Runner::new();
    let pwned = runner.path("pwned");
    let out = with_lib(
        &runner,
        &format!(
            "dtf_lines $'  --title\\r\\nmy  report \\n\\n$(touch {p})\\n`touch {p}`; rm -rf /\\n'\n\
             printf '[%s]\\n' \"${{DTF_LINES[@]}}\"",
            p = pwned.display()
        ),
    );
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "[--title]\n[my  report]\n[$(touch {p})]\n[`touch {p}`; rm -rf /]\n",
            p = pwned.display()
        )
    );
    assert!(!pwned.exists());
}

// ---------------------------------------------------------------------------------
// install.sh

#[test]
fn install_verifies_the_release_and_puts_dtf_on_path() {
    require_bash!();
    let mut runner = Runner::new();
    let sum = runner.release(LINUX_X64, "release");
    runner.checksums(&[(LINUX_X64, &sum)]);
    runner.set("INPUT_VERSION", format!("v{VERSION}"));
    let out = runner.step("install.sh");
    assert!(out.status.success());
    assert!(stdout(&out).contains(&format!("sha256 verified: {sum}  {LINUX_X64}")));

    let curl = runner.log("curl.log").unwrap();
    assert_eq!(curl.lines().count(), 1);
    assert!(curl.contains("--proto =https"), "{curl}");
    assert!(curl.contains("--fail"), "{curl}");
    assert!(curl.trim_end().ends_with(&format!(
        "https://github.com/dtf/dtf/releases/download/v{VERSION}/{LINUX_X64}"
    )));
    assert_eq!(runner.log("cargo.log"), None, "nothing was built");

    let outputs = runner.outputs();
    let bin_dir = runner.path(&format!("runner-temp/dtf-action/install/{VERSION}/bin"));
    assert_eq!(
        runner.github_path(),
        vec![bin_dir.to_str().unwrap().to_owned()]
    );
    assert_eq!(outputs["bin"], bin_dir.join("dtf").to_str().unwrap());
    assert_eq!(outputs["version"], format!("dtf {VERSION} (release)"));
    assert_eq!(outputs["source"], "release");
    // The archive is not left lying next to the binary.
    let left: Vec<_> = fs::read_dir(bin_dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec!["bin"]);
}

#[test]
fn a_tampered_archive_fails_loudly_and_installs_nothing() {
    require_bash!();
    let mut runner = Runner::new();
    let sum = runner.release(LINUX_X64, "release");
    runner.checksums(&[(LINUX_X64, &sum)]);
    // The same name, other bytes: what a swapped release asset looks like.
    let bad = runner.release(LINUX_X64, "evil");
    assert_ne!(sum, bad);
    runner.set("INPUT_VERSION", VERSION);
    let out = runner.step("install.sh");
    assert_eq!(out.status.code(), Some(1));
    let said = stdout(&out);
    assert!(
        said.contains(&format!(
            "::error title=dtf::sha256 mismatch for {LINUX_X64} (dtf {VERSION}): expected {sum}, got {bad}."
        )),
        "{said}"
    );
    assert!(said.contains("refusing to install it"));
    assert!(runner.github_path().is_empty());
    assert!(runner.outputs().is_empty());
    assert_eq!(
        runner.log("cargo.log"),
        None,
        "a mismatch is not worked around"
    );
    let bin = runner.path(&format!("runner-temp/dtf-action/install/{VERSION}/bin/dtf"));
    assert!(!bin.exists());
}

#[test]
fn without_a_checksum_dtf_is_built_with_cargo_never_downloaded() {
    require_bash!();
    // The action's own table, whose v0.1.0 entries are placeholders until released.
    let table = fs::read_to_string(repo().join("actions/checksums.txt")).unwrap();
    assert!(table.contains(&format!("{VERSION}  PLACEHOLDER")));
    let mut runner = Runner::new();
    runner.release(LINUX_X64, "release");
    runner.set("INPUT_VERSION", VERSION);
    let out = runner.step("install.sh");
    assert!(out.status.success());
    assert!(stdout(&out).contains("holds no sha256 for dtf 0.1.0"));
    assert_eq!(
        runner.log("curl.log"),
        None,
        "unverifiable bytes are not even fetched"
    );
    let root = runner.path(&format!("runner-temp/dtf-action/install/{VERSION}"));
    assert_eq!(
        runner.log("cargo.log").unwrap(),
        format!(
            "install --locked --root {} --git https://github.com/dtf/dtf --tag v{VERSION} dtf\n",
            root.display()
        )
    );
    let outputs = runner.outputs();
    assert_eq!(outputs["source"], "cargo");
    assert_eq!(outputs["version"], "dtf 0.1.0 (built by cargo)");
    assert_eq!(
        runner.github_path(),
        vec![root.join("bin").to_str().unwrap().to_owned()]
    );
}

#[test]
fn a_failed_download_falls_back_to_cargo() {
    require_bash!();
    let mut runner = Runner::new();
    // A checksum, but no asset behind the URL (curl --fail sees a 404).
    runner.checksums(&[(LINUX_X64, &"ab".repeat(32))]);
    runner.set("INPUT_VERSION", VERSION);
    let out = runner.step("install.sh");
    assert!(out.status.success());
    assert!(stdout(&out).contains("::warning title=dtf::could not download"));
    assert_eq!(runner.log("curl.log").unwrap().lines().count(), 1);
    assert!(
        runner
            .log("cargo.log")
            .unwrap()
            .contains("--git https://github.com/dtf/dtf --tag v0.1.0 dtf")
    );
    assert_eq!(runner.outputs()["source"], "cargo");
}

#[test]
fn inside_a_dtf_checkout_the_fallback_builds_that_checkout() {
    require_bash!();
    let mut runner = Runner::with_action_at("checkout/actions");
    let checkout = runner.path("checkout");
    fs::create_dir_all(checkout.join("crates/dtf")).unwrap();
    fs::write(
        checkout.join("crates/dtf/Cargo.toml"),
        "[package]\nname = \"dtf\"\n",
    )
    .unwrap();
    for version in [VERSION, "local"] {
        fs::remove_file(runner.path("log/cargo.log")).ok();
        runner.set("INPUT_VERSION", version);
        let out = runner.step("install.sh");
        assert!(out.status.success());
        let cargo = runner.log("cargo.log").unwrap();
        assert!(
            cargo.ends_with(&format!(
                "--path {}\n",
                checkout.join("crates/dtf").display()
            )),
            "{cargo}"
        );
    }
    assert_eq!(runner.log("curl.log"), None);
}

#[test]
fn version_local_needs_a_checkout_and_cargo_needs_to_exist() {
    require_bash!();
    let mut runner = Runner::new();
    runner.set("INPUT_VERSION", "local");
    let out = runner.step("install.sh");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("version local builds the dtf checkout that holds this action"));

    // No cargo at all: the fake one gone, and no real one on the runner's PATH.
    fs::remove_file(runner.path("fakes/cargo")).unwrap();
    let system_cargo = Command::new("sh")
        .arg("-c")
        .arg("command -v cargo")
        .env_clear()
        .env("PATH", &runner.env["PATH"])
        .output()
        .unwrap();
    if system_cargo.status.success() {
        eprintln!("SKIPPED the no-cargo half: cargo is installed system-wide here");
        return;
    }
    runner.set("INPUT_VERSION", VERSION);
    let out = runner.step("install.sh");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("cargo is not installed"));
    assert!(runner.github_path().is_empty());
}

#[test]
fn every_runner_platform_gets_its_own_archive() {
    require_bash!();
    let cases = [
        ("Linux", "X64", "dtf-x86_64-unknown-linux-musl.tar.gz"),
        ("Linux", "ARM64", "dtf-aarch64-unknown-linux-musl.tar.gz"),
        ("macOS", "X64", "dtf-x86_64-apple-darwin.tar.gz"),
        ("macOS", "ARM64", "dtf-aarch64-apple-darwin.tar.gz"),
        ("Windows", "X64", "dtf-x86_64-pc-windows-msvc.zip"),
        ("Windows", "ARM64", "dtf-aarch64-pc-windows-msvc.zip"),
    ];
    // The table the action ships lists the same six files.
    let table = fs::read_to_string(repo().join("actions/checksums.txt")).unwrap();
    for (_, _, file) in cases {
        assert!(
            table.contains(&format!("  {file}\n")),
            "checksums.txt lacks {file}"
        );
    }
    let have_unzip = have("unzip");
    for (os, arch, file) in cases {
        if file.ends_with(".zip") && !have_unzip {
            eprintln!("SKIPPED {os}/{arch}: unzip is not installed");
            continue;
        }
        let mut runner = Runner::new();
        let sum = runner.release(file, os);
        runner.checksums(&[(file, &sum)]);
        runner
            .set("INPUT_VERSION", VERSION)
            .set("RUNNER_OS", os)
            .set("RUNNER_ARCH", arch);
        let out = runner.step("install.sh");
        assert!(out.status.success(), "{os}/{arch}");
        let curl = runner.log("curl.log").unwrap();
        assert!(
            curl.trim_end().ends_with(&format!("/v{VERSION}/{file}")),
            "{os}/{arch}: {curl}"
        );
        let outputs = runner.outputs();
        assert_eq!(outputs["version"], format!("dtf {VERSION} ({os})"));
        if os == "Windows" {
            assert!(outputs["bin"].ends_with("\\dtf.exe"), "{}", outputs["bin"]);
        }
    }

    // A runner no release is built for (32-bit x86) is built from source.
    let mut runner = Runner::new();
    runner
        .set("INPUT_VERSION", VERSION)
        .set("RUNNER_ARCH", "X86");
    let out = runner.step("install.sh");
    assert!(out.status.success());
    assert!(stdout(&out).contains("no dtf release is built for Linux/X86"));
    assert_eq!(runner.log("curl.log"), None);
    assert!(runner.log("cargo.log").is_some());
}

#[test]
fn a_version_that_is_not_a_version_is_refused_before_anything_runs() {
    require_bash!();
    for bad in [
        "",
        "latest",
        "0.1",
        "1.0.0; rm -rf /",
        "../../evil",
        "1.0.0/../x",
    ] {
        let mut runner = Runner::new();
        runner.set("INPUT_VERSION", bad);
        let out = runner.step("install.sh");
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(
            stdout(&out).contains("input version must be a release"),
            "{bad:?}"
        );
        assert_eq!(runner.log("curl.log"), None);
        assert_eq!(runner.log("cargo.log"), None);
    }
}

// ---------------------------------------------------------------------------------
// plan.sh, run.sh, report.sh with the real dtf on the example suite

fn examples() -> String {
    repo().join("examples/shards").to_str().unwrap().to_owned()
}

fn plan(runner: &mut Runner, shards: u32) -> Value {
    runner
        .set("INPUT_SHARDS", shards.to_string())
        .set("INPUT_TIMINGS", format!("\n{}\n", examples()))
        .set("INPUT_BASELINE", "false");
    let out = runner.step("plan.sh");
    assert!(out.status.success());
    let text = fs::read_to_string(runner.path("github/output")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("matrix="))
        .expect("a matrix= line");
    // One line, as GitHub reads step outputs, and JSON that fromJSON accepts.
    serde_json::from_str(line.strip_prefix("matrix=").unwrap()).unwrap()
}

#[test]
fn plan_writes_a_one_line_matrix_and_the_plan() {
    require_bash!();
    let mut runner = Runner::new();
    let matrix = plan(&mut runner, 3);
    let include = matrix["include"].as_array().unwrap();
    assert_eq!(include.len(), 3);
    for (i, entry) in include.iter().enumerate() {
        assert_eq!(entry["shard"], i + 1);
        assert_eq!(entry["total"], 3);
        assert!(entry.get("runs-on").is_some());
    }
    let outputs = runner.outputs();
    let plan: Value = serde_json::from_str(&fs::read_to_string(&outputs["plan"]).unwrap()).unwrap();
    assert_eq!(plan["schema"], "dtf.plan.v1");
    assert_eq!(plan["shards"].as_array().unwrap().len(), 3);
    // Where the run step's download puts it: the same path.
    assert_eq!(
        PathBuf::from(&outputs["plan"]),
        runner.path("runner-temp/dtf-action/plan/plan.json")
    );
}

#[test]
fn plan_learns_durations_from_the_baseline_and_passes_args_through() {
    require_bash!();
    let mut runner = Runner::new();
    let baseline = runner.path("baseline-artifact");
    fs::create_dir_all(&baseline).unwrap();
    fs::copy(
        repo().join("examples/shards/shard-1.xml"),
        baseline.join("junit.xml"),
    )
    .unwrap();
    let fake = runner.path("fake-dtf/dtf").to_str().unwrap().to_owned();
    runner
        .set("DTF_BIN", fake)
        .set("FAKE_BASELINE", baseline.to_str().unwrap())
        .set("INPUT_TOKEN", TOKEN)
        .set("INPUT_ARTIFACT_NAME", "my-results")
        .set("INPUT_SHARDS", "2")
        .set("INPUT_BASELINE", "true")
        .set("INPUT_ARGS", "--strategy\nround-robin\n");
    let out = runner.step("plan.sh");
    assert!(out.status.success());
    let log = runner.log("dtf.log").unwrap();
    let fetched = runner.path("runner-temp/dtf-action/plan/baseline");
    assert!(
        log.contains(&format!(
            "argv: [baseline] [--artifact] [my-results] [--out] [{}]\ntoken: baseline\n",
            fetched.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "[--timings] [{}] [--strategy] [round-robin]",
            fetched.display()
        )),
        "{log}"
    );
    assert!(!all_output(&out).contains(TOKEN));
    let matrix: Value = serde_json::from_str(&runner.outputs()["matrix"]).unwrap();
    assert_eq!(matrix["include"].as_array().unwrap().len(), 2);
}

#[test]
fn plan_goes_on_without_a_baseline_and_fails_clearly_on_bad_input() {
    require_bash!();
    let mut runner = Runner::new();
    let fake = runner.path("fake-dtf/dtf").to_str().unwrap().to_owned();
    runner.set("DTF_BIN", fake).set("INPUT_BASELINE", "true");
    runner
        .set("INPUT_SHARDS", "2")
        .set("INPUT_TIMINGS", examples());
    let out = runner.step("plan.sh");
    assert!(out.status.success());
    assert!(stdout(&out).contains("::notice title=dtf::no baseline from the base branch"));

    for (key, value, says) in [
        ("INPUT_SHARDS", "two", "input shards must be a whole number"),
        (
            "INPUT_BASELINE",
            "sometimes",
            "input baseline must be true or false",
        ),
        ("INPUT_TIMINGS", "/does/not/exist", "dtf plan failed"),
    ] {
        let mut runner = Runner::new();
        runner
            .set("INPUT_SHARDS", "2")
            .set("INPUT_BASELINE", "false")
            .set("INPUT_TIMINGS", examples());
        runner.set(key, value);
        let out = runner.step("plan.sh");
        assert_eq!(out.status.code(), Some(1), "{key}={value}");
        assert!(stdout(&out).contains(says), "{key}={value}");
        assert!(!runner.outputs().contains_key("matrix"));
    }
}

/// The example suite as the shards' test command, as `dtf demo` runs it.
fn example_suite(runner: &Runner) -> String {
    format!(
        "'{DTF}' example-suite --tests-file {{tests_file}} --junit {{junit}} --state-dir '{}'",
        runner.path("suite-state").display()
    )
}

/// Runs shard `k` and returns its outputs (the runner's outputs file is emptied first,
/// as each job has its own).
fn run_shard(runner: &mut Runner, k: u32) -> (Output, BTreeMap<String, String>) {
    fs::write(runner.path("github/output"), "").unwrap();
    let template = example_suite(runner);
    runner
        .set("INPUT_SHARD", k.to_string())
        .set("INPUT_RUN_COMMAND", template)
        .set("INPUT_FRAMEWORK", "");
    let out = runner.step("run.sh");
    (out, runner.outputs())
}

#[test]
fn run_runs_the_shard_and_leaves_its_bundle_even_when_tests_fail() {
    require_bash!();
    let mut runner = Runner::new();
    plan(&mut runner, 3);
    let mut results = BTreeMap::new();
    for k in 1..=3 {
        let (out, outputs) = run_shard(&mut runner, k);
        let bundle = PathBuf::from(&outputs["bundle"]);
        assert_eq!(
            bundle.file_name().unwrap().to_str().unwrap(),
            format!("dtf-shard-{k}.zip")
        );
        assert!(bundle.is_file());
        let verify = Command::new(DTF)
            .args(["artifacts", "verify"])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(verify.status.success());
        assert!(PathBuf::from(&outputs["summary"]).is_file());
        // The step fails on failed tests (fail-on-failures), after writing every output.
        match outputs["result"].as_str() {
            "passed" => assert!(out.status.success()),
            "failed" => {
                assert_eq!(out.status.code(), Some(1));
                assert_eq!(outputs["exit-code"], "1");
                assert!(
                    stdout(&out).contains(&format!("::error title=dtf::shard {k}: tests failed"))
                );
            }
            other => panic!("result {other}"),
        }
        results.insert(k, outputs["result"].clone());
    }
    // The example suite has real failures.
    assert!(results.values().any(|r| r == "failed"), "{results:?}");

    // fail-on-failures: false keeps the job green and says so.
    let failed = results
        .iter()
        .find(|(_, r)| *r == "failed")
        .map(|(k, _)| *k)
        .unwrap();
    runner.set("INPUT_FAIL_ON_FAILURES", "false");
    // A flaky example test remembers it already failed once; forget, so it fails again.
    fs::remove_dir_all(runner.path("suite-state")).unwrap();
    let (out, outputs) = run_shard(&mut runner, failed);
    assert!(out.status.success());
    assert_eq!(outputs["result"], "failed");
    assert!(stdout(&out).contains("::warning title=dtf::shard"));
}

#[test]
fn a_cancelled_run_still_leaves_its_partial_bundle() {
    require_bash!();
    let mut runner = Runner::new();
    plan(&mut runner, 2);
    // Tests that would take minutes; the job is cancelled once they have started.
    runner
        .set("INPUT_SHARD", "1")
        .set("INPUT_RUN_COMMAND", "sleep 300");
    let child = Command::new("bash")
        .arg(runner.action.join("scripts/run.sh"))
        .env_clear()
        .envs(&runner.env)
        .current_dir(&runner.root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = runner.path("runner-temp/dtf-action/results/shard-1/logs");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !started.is_dir() {
        assert!(Instant::now() < deadline, "dtf run never started the tests");
        std::thread::sleep(Duration::from_millis(50));
    }
    // As the runner cancels a step: a signal to the step's shell only.
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    eprintln!("{}", all_output(&out));
    assert_eq!(out.status.code(), Some(6));
    assert!(stdout(&out).contains("::error title=dtf::shard 1: dtf run was cancelled"));
    let outputs = runner.outputs();
    assert_eq!(outputs["exit-code"], "6");
    assert_eq!(outputs["result"], "error");
    assert!(
        PathBuf::from(&outputs["bundle"]).is_file(),
        "the partial bundle is left for upload"
    );
}

#[test]
fn run_refuses_what_it_cannot_run_with_a_clear_message() {
    require_bash!();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("INPUT_SHARD", "")], "input shard is empty"),
        (
            &[("INPUT_SHARD", "0")],
            "input shard must be a whole number",
        ),
        (
            &[("INPUT_SHARD", "1; echo hi")],
            "input shard must be a whole number",
        ),
        (
            &[("INPUT_FRAMEWORK", "pytest")],
            "give either framework or run-command",
        ),
        (&[("INPUT_RUN_COMMAND", "")], "needs a framework"),
        (&[("INPUT_PLAN", "nowhere.json")], "no plan at nowhere.json"),
    ];
    for (changes, says) in cases {
        let mut runner = Runner::new();
        let template = example_suite(&runner);
        runner
            .set("INPUT_SHARD", "1")
            .set("INPUT_RUN_COMMAND", template);
        for (key, value) in changes {
            runner.set(key, *value);
        }
        let out = runner.step("run.sh");
        assert_eq!(out.status.code(), Some(1), "{changes:?}");
        assert!(stdout(&out).contains(says), "{changes:?}: {}", stdout(&out));
        assert!(!runner.outputs().contains_key("bundle"));
    }
}

/// Plans 3 shards, runs them, and lays their bundles where the report step's download
/// puts them.
fn three_shards(runner: &mut Runner) {
    plan(runner, 3);
    let bundles = runner.path("runner-temp/dtf-action/bundles");
    fs::create_dir_all(&bundles).unwrap();
    for k in 1..=3 {
        let (_, outputs) = run_shard(runner, k);
        fs::copy(
            &outputs["bundle"],
            bundles.join(format!("dtf-shard-{k}.zip")),
        )
        .unwrap();
    }
    fs::write(runner.path("github/output"), "").unwrap();
    for key in [
        "INPUT_SHARD",
        "INPUT_RUN_COMMAND",
        "INPUT_FRAMEWORK",
        "INPUT_SHARDS",
        "INPUT_TIMINGS",
    ] {
        runner.unset(key);
    }
}

#[test]
fn report_merges_the_bundles_and_writes_summary_and_result() {
    require_bash!();
    let mut runner = Runner::new();
    three_shards(&mut runner);
    runner
        .set("INPUT_BASELINE", "false")
        .set("INPUT_PUBLISH", "false");
    let out = runner.step("report.sh");
    // The example suite fails, so the step fails, after the outputs are written.
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("::error title=dtf::tests failed"));
    let outputs = runner.outputs();
    assert_eq!(outputs["result"], "failed");
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(&outputs["summary"]).unwrap()).unwrap();
    assert_eq!(summary["schema"], "dtf.summary.v1");
    assert_eq!(summary["totals"]["tests"], 52, "every shard's tests, once");
    let dir = PathBuf::from(&outputs["report-dir"]);
    for file in ["summary.md", "report.html", "junit.xml", "summary.json"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    // Each shard's timeline (from inside its bundle) is drawn in the HTML report.
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<section class=\"panel\" id=\"timeline\">"));
    // The history starts with this build, to travel in the report artifact.
    assert_eq!(history_builds(&dir.join("dtf-history.db")), 1);
    // Without dtf publish, the job summary is still written.
    let job_summary = fs::read_to_string(runner.path("github/step_summary")).unwrap();
    assert!(job_summary.contains("## Test report"), "{job_summary}");

    // fail-on-failures: false reports the same and passes.
    fs::write(runner.path("github/output"), "").unwrap();
    runner.set("INPUT_FAIL_ON_FAILURES", "false");
    let out = runner.step("report.sh");
    assert!(out.status.success());
    assert_eq!(runner.outputs()["result"], "failed");
}

#[test]
fn report_compares_with_the_baseline_publishes_and_keeps_the_token_to_dtf() {
    require_bash!();
    let mut runner = Runner::new();
    three_shards(&mut runner);
    // Last build's report artifact: the example suite's recorded shards, merged.
    let baseline = runner.path("baseline-artifact");
    let made = Command::new(DTF)
        .args(["report", "-q", "--out-dir"])
        .arg(&baseline)
        .arg(examples())
        .output()
        .unwrap();
    assert!(made.status.code().is_some_and(|c| c == 0 || c == 1));
    // ... with the base branch's history in it.
    let ingest = Command::new(DTF)
        .args([
            "history",
            "ingest",
            "-q",
            "--build-id",
            "base-1",
            "--branch",
            "main",
            "--db",
        ])
        .arg(baseline.join("dtf-history.db"))
        .arg(examples())
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{}", all_output(&ingest));
    let fake = runner.path("fake-dtf/dtf").to_str().unwrap().to_owned();
    runner
        .set("DTF_BIN", fake)
        .set("FAKE_BASELINE", baseline.to_str().unwrap())
        .set("INPUT_TOKEN", TOKEN)
        .set("INPUT_BASELINE", "true")
        .set("INPUT_PUBLISH", "true")
        .set("INPUT_ARTIFACT_NAME", "dtf-results")
        .set("INPUT_FAIL_ON_FAILURES", "false");
    let out = runner.step("report.sh");
    assert!(out.status.success());
    let log = runner.log("dtf.log").unwrap();
    let scratch = runner.path("runner-temp/dtf-action");
    assert!(
        log.contains(&format!(
            "argv: [baseline] [--artifact] [dtf-results] [--out] [{}]\ntoken: baseline\n",
            scratch.join("baseline").display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "[--baseline] [{}]",
            scratch.join("baseline").display()
        )),
        "{log}"
    );
    let report_dir = scratch.join("report");
    assert!(
        log.contains(&format!(
            "argv: [publish] [--from-report] [{}]\ntoken: publish\n",
            report_dir.display()
        )),
        "{log}"
    );
    // Only the commands that talk to GitHub get the token.
    let with_token: BTreeSet<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("token: "))
        .collect();
    assert_eq!(with_token, BTreeSet::from(["baseline", "publish"]));

    let outputs = runner.outputs();
    assert_eq!(outputs["result"], "failed");
    let dir = PathBuf::from(&outputs["report-dir"]);
    assert!(
        dir.join("comparison.json").is_file(),
        "the comparison is in the report"
    );
    // dtf publish (here with the local provider) got the report's comment, summary
    // and results, and the action passed the comment's URL on.
    for file in ["comment.md", "summary.md", "results.json"] {
        assert!(runner.path("log/published").join(file).is_file(), "{file}");
    }
    let comment = fs::read_to_string(runner.path("log/published/comment.md")).unwrap();
    assert!(comment.contains("<!-- dtf:report"), "{comment}");
    assert_eq!(
        outputs["comment-url"],
        "https://github.com/octo/widgets/pull/7#issuecomment-42"
    );
    // The base branch's history judged this build, and now holds it too.
    assert!(
        log.contains(&format!(
            "[--db] [{}]",
            dir.join("dtf-history.db").display()
        )),
        "{log}"
    );
    assert_eq!(history_builds(&dir.join("dtf-history.db")), 2);

    // The token is nowhere: not in the log, the outputs, the job summary or any file
    // the step wrote.
    assert!(!all_output(&out).contains(TOKEN));
    assert!(!log.contains(TOKEN));
    assert_no_token_under(&runner.root);
}

/// How many builds a history database holds.
fn history_builds(db: &Path) -> usize {
    let out = Command::new(DTF)
        .args(["history", "list", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["builds"].as_array().unwrap().len()
}

#[test]
fn a_history_that_cannot_be_read_is_replaced_not_fatal() {
    require_bash!();
    let mut runner = Runner::new();
    three_shards(&mut runner);
    let baseline = runner.path("baseline-artifact");
    fs::create_dir_all(&baseline).unwrap();
    fs::copy(
        repo().join("examples/shards/shard-1.xml"),
        baseline.join("junit.xml"),
    )
    .unwrap();
    fs::write(baseline.join("dtf-history.db"), "not a database").unwrap();
    let fake = runner.path("fake-dtf/dtf").to_str().unwrap().to_owned();
    runner
        .set("DTF_BIN", fake)
        .set("FAKE_BASELINE", baseline.to_str().unwrap())
        .set("INPUT_BASELINE", "true")
        .set("INPUT_PUBLISH", "false")
        .set("INPUT_FAIL_ON_FAILURES", "false");
    let out = runner.step("report.sh");
    assert!(out.status.success());
    assert!(stdout(&out).contains("::warning title=dtf::the base branch's history cannot be read"));
    let dir = PathBuf::from(&runner.outputs()["report-dir"]);
    assert_eq!(history_builds(&dir.join("dtf-history.db")), 1);

    // history-builds: 0 keeps none.
    fs::write(runner.path("github/output"), "").unwrap();
    runner.set("INPUT_HISTORY_BUILDS", "0");
    assert!(runner.step("report.sh").status.success());
    assert!(!dir.join("dtf-history.db").exists());
}

fn assert_no_token_under(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            assert_no_token_under(&path);
        } else if let Ok(bytes) = fs::read(&path) {
            let found = bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes());
            assert!(!found, "the token was written into {}", path.display());
        }
    }
}

#[test]
fn a_fork_pull_request_gets_a_notice_and_the_results_still_decide() {
    require_bash!();
    let mut runner = Runner::new();
    three_shards(&mut runner);
    let fake = runner.path("fake-dtf/dtf").to_str().unwrap().to_owned();
    runner
        .set("DTF_BIN", fake)
        .set("INPUT_TOKEN", TOKEN)
        .set("INPUT_BASELINE", "true")
        .set("INPUT_PUBLISH", "true")
        .set(
            "FAKE_PUBLISH_NOTICE",
            "comment not posted: the token may not write (a pull request from a fork?)",
        );
    let out = runner.step("report.sh");
    // No baseline (a first build), a comment refused: neither fails the step; the
    // failed tests do.
    assert_eq!(out.status.code(), Some(1));
    let said = stdout(&out);
    assert!(
        said.contains("::notice title=dtf::no baseline from the base branch"),
        "{said}"
    );
    assert!(
        said.contains(
            "::notice title=dtf::dtf publish: comment not posted: the token may not write"
        ),
        "{said}"
    );
    let outputs = runner.outputs();
    assert_eq!(outputs["result"], "failed");
    // A first build still gets its comment: the comparison against an empty history.
    let dir = PathBuf::from(&outputs["report-dir"]);
    assert!(dir.join("comment.md").is_file());
}

#[test]
fn report_without_bundles_says_where_it_looked() {
    require_bash!();
    let mut runner = Runner::new();
    runner
        .set("INPUT_BASELINE", "false")
        .set("INPUT_PUBLISH", "false");
    let out = runner.step("report.sh");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("no shard bundles in"));
    assert!(stdout(&out).contains("same artifact-name"));
}
