//! End-to-end: `dtf publish` and `dtf baseline`, the real binary, against a small HTTP
//! server on 127.0.0.1 standing in for the GitHub API, and with the local provider.
//! Every request is recorded and compared; a request no route expects fails the test;
//! the token never appears in what dtf prints, even on errors.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

const TOKEN: &str = "ghs_E2Esecret0123456789abcdef";
const REPO: &str = "octo/widgets";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone)]
struct Route {
    method: &'static str,
    target: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn route(method: &'static str, target: &str, status: u16, body: Value) -> Route {
    Route {
        method,
        target: target.to_owned(),
        status,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.to_string().into_bytes(),
    }
}

/// A one-thread HTTP/1.1 server answering from a fixed table, one connection at a time
/// (`Connection: close` on every answer). Requests matching no route get a 500 and are
/// kept apart as unexpected.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    unexpected: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(routes: Vec<Route>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let unexpected = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, unexpected, stop) = (seen.clone(), unexpected.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let _ = serve(stream, &routes, &seen, &unexpected);
                }
            })
        };
        Server {
            port,
            seen,
            unexpected,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests, after checking none was unexpected.
    fn requests(&self) -> Vec<Seen> {
        let unexpected = self.unexpected.lock().expect("lock").clone();
        assert!(
            unexpected.is_empty(),
            "requests no route expects: {unexpected:#?}"
        );
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    routes: &[Route],
    seen: &Mutex<Vec<Seen>>,
    unexpected: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request = Seen {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body,
    };
    let found = routes
        .iter()
        .find(|r| r.method == request.method && r.target == request.target);
    let (status, extra, answer) = match found {
        Some(r) => {
            seen.lock().expect("lock").push(request);
            (r.status, r.headers.clone(), r.body.clone())
        }
        None => {
            unexpected.lock().expect("lock").push(request);
            (500, vec![], b"unexpected request".to_vec())
        }
    };
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(&answer)?;
    out.flush()
}

/// Runs dtf with exactly `env` (nothing inherited, so the machine's own CI variables
/// cannot leak in).
fn dtf(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dtf"));
    cmd.args(args).current_dir(dir).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("dtf runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_no_token(o: &Output) {
    let (out, err) = text(o);
    assert!(!out.contains(TOKEN), "the token is on stdout:\n{out}");
    assert!(!err.contains(TOKEN), "the token is on stderr:\n{err}");
}

/// A GitHub Actions pull request build (#7, head `headsha`, base `main`) talking to
/// `server`; its event payload and job summary file live in `dir`.
fn github_env(server: &Server, dir: &Path) -> Vec<(&'static str, String)> {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        json!({"pull_request": {
            "number": 7,
            "head": {"ref": "feature", "sha": "headsha", "repo": {"full_name": REPO}},
            "base": {"ref": "main", "repo": {"full_name": REPO}}
        }})
        .to_string(),
    )
    .expect("event written");
    vec![
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_REPOSITORY", REPO.to_owned()),
        ("GITHUB_API_URL", server.url()),
        ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
        ("GITHUB_TOKEN", TOKEN.to_owned()),
        ("GITHUB_RUN_ID", "99".to_owned()),
        ("GITHUB_SHA", "mergesha".to_owned()),
        ("GITHUB_REF", "refs/pull/7/merge".to_owned()),
        ("GITHUB_BASE_REF", "main".to_owned()),
        ("GITHUB_HEAD_REF", "feature".to_owned()),
        ("GITHUB_EVENT_NAME", "pull_request".to_owned()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("step_summary.md").display().to_string(),
        ),
    ]
}

/// A `dtf report` folder: comment, summary and a dtf.summary.v1 with one failure.
fn report_dir(dir: &Path) -> PathBuf {
    let report = dir.join("report");
    std::fs::create_dir_all(&report).expect("mkdir");
    std::fs::write(
        report.join("comment.md"),
        "<!-- dtf:report -->\n## Tests: 1 failed\n",
    )
    .expect("write");
    std::fs::write(
        report.join("summary.md"),
        "# Test report\n1 failed, 2 passed\n",
    )
    .expect("write");
    std::fs::write(
        report.join("summary.json"),
        json!({
            "schema": "dtf.summary.v1",
            "generated_by": "dtf test",
            "totals": {"tests": 3, "passed": 2, "failed": 1, "errored": 0, "skipped": 0,
                       "flaky": 0, "cases": 3, "duration_s": 1.5},
            "failures": [{"id": "tests.test_a::test_x", "suite": "tests", "name": "test_x",
                          "file": "tests/test_a.py", "line": 12, "status": "failed",
                          "attempts": 1, "message": "assert 1 == 2"}]
        })
        .to_string(),
    )
    .expect("write");
    report
}

fn comments_route(status: u16, body: Value) -> Route {
    route(
        "GET",
        &format!("/repos/{REPO}/issues/7/comments?per_page=100&page=1"),
        status,
        body,
    )
}

#[test]
fn publish_to_github_sends_the_check_the_comment_and_writes_the_summary() {
    let tmp = tempfile::tempdir().expect("temp");
    let server = Server::start(vec![
        comments_route(200, json!([{"id": 1, "body": "hello"}])),
        route(
            "POST",
            &format!("/repos/{REPO}/issues/7/comments"),
            201,
            json!({"id": 2, "html_url": "https://github.com/octo/widgets/pull/7#issuecomment-2"}),
        ),
        route(
            "POST",
            &format!("/repos/{REPO}/check-runs"),
            201,
            json!({"id": 3, "html_url": "https://github.com/octo/widgets/runs/3"}),
        ),
    ]);
    let report = report_dir(tmp.path());
    let o = dtf(
        tmp.path(),
        &["publish", "--from-report", report.to_str().expect("utf-8")],
        &github_env(&server, tmp.path()),
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_token(&o);
    assert!(
        err.contains("publishing to github octo/widgets, pull request #7 (commit headsha)"),
        "{err}"
    );
    assert!(
        err.contains("comment: created https://github.com/octo/widgets/pull/7#issuecomment-2"),
        "{err}"
    );
    assert!(
        err.contains("results: 1 failed, 2 passed (failure), 1 annotation(s) in 1 request(s)"),
        "{err}"
    );

    let requests = server.requests();
    let order: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("POST", "/repos/octo/widgets/check-runs"),
            (
                "GET",
                "/repos/octo/widgets/issues/7/comments?per_page=100&page=1"
            ),
            ("POST", "/repos/octo/widgets/issues/7/comments"),
        ]
    );
    for r in &requests {
        assert_eq!(
            r.headers.get("authorization"),
            Some(&format!("Bearer {TOKEN}"))
        );
        assert_eq!(
            r.headers.get("accept").map(String::as_str),
            Some("application/vnd.github+json")
        );
        assert_eq!(
            r.headers.get("x-github-api-version").map(String::as_str),
            Some("2022-11-28")
        );
    }
    let check = requests[0].json();
    assert_eq!(check["head_sha"], "headsha");
    assert_eq!(check["conclusion"], "failure");
    assert_eq!(check["external_id"], "99");
    assert_eq!(check["output"]["title"], "1 failed, 2 passed");
    assert_eq!(
        check["output"]["text"],
        "# Test report\n1 failed, 2 passed\n"
    );
    assert_eq!(
        check["output"]["annotations"],
        json!([{"path": "tests/test_a.py", "start_line": 12, "end_line": 12,
                "annotation_level": "failure", "message": "assert 1 == 2",
                "title": "tests.test_a::test_x failed"}])
    );
    assert_eq!(
        requests[2].json(),
        json!({"body": "<!-- dtf:report -->\n## Tests: 1 failed\n"})
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("step_summary.md")).expect("summary written"),
        "# Test report\n1 failed, 2 passed\n"
    );
}

#[test]
fn a_read_only_token_degrades_to_the_job_summary() {
    let tmp = tempfile::tempdir().expect("temp");
    let denied = json!({"message": "Resource not accessible by integration"});
    let server = Server::start(vec![
        comments_route(200, json!([])),
        route(
            "POST",
            &format!("/repos/{REPO}/issues/7/comments"),
            403,
            denied.clone(),
        ),
        route("POST", &format!("/repos/{REPO}/check-runs"), 403, denied),
    ]);
    let report = report_dir(tmp.path());
    let o = dtf(
        tmp.path(),
        &[
            "publish",
            "--from-report",
            report.to_str().expect("utf-8"),
            "--fail-on-error",
        ],
        &github_env(&server, tmp.path()),
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "a refusal is not an error: {err}");
    assert_no_token(&o);
    assert!(err.contains("notice: comment not posted: the token may not write (403: Resource not accessible by integration)"), "{err}");
    assert!(err.contains("notice: results not published"), "{err}");
    let summary =
        std::fs::read_to_string(tmp.path().join("step_summary.md")).expect("summary written");
    assert!(
        summary.contains("dtf could not post its pull-request comment"),
        "{summary}"
    );
    assert!(
        summary.contains("## Tests: 1 failed"),
        "the comment is in the summary: {summary}"
    );
    assert!(
        summary.ends_with("# Test report\n1 failed, 2 passed\n"),
        "{summary}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn errors_never_show_the_token() {
    let tmp = tempfile::tempdir().expect("temp");
    // A server that echoes the credential back in its error message.
    let echo = json!({"message": format!("Bad credentials: Bearer {TOKEN}")});
    let server = Server::start(vec![
        comments_route(401, echo.clone()),
        route("POST", &format!("/repos/{REPO}/check-runs"), 401, echo),
    ]);
    let report = report_dir(tmp.path());
    let env = github_env(&server, tmp.path());
    let args = ["publish", "--from-report", report.to_str().expect("utf-8")];
    let o = dtf(tmp.path(), &args, &env);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_no_token(&o);
    assert!(err.contains("warning: posting the comment:"), "{err}");
    assert!(err.contains("401: Bad credentials: Bearer ***"), "{err}");

    let o = dtf(
        tmp.path(),
        &[&args[..], &["--fail-on-error"]].concat(),
        &env,
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o).1);
    assert_no_token(&o);
    // The summary written in the job summary file carries no token either.
    let summary = std::fs::read_to_string(tmp.path().join("step_summary.md")).expect("written");
    assert!(!summary.contains(TOKEN), "{summary}");
}

#[test]
fn no_baseline_on_a_first_build_is_not_an_error() {
    let tmp = tempfile::tempdir().expect("temp");
    let server = Server::start(vec![
        route(
            "GET",
            &format!("/repos/{REPO}/actions/runs/99"),
            200,
            json!({"id": 99, "workflow_id": 5}),
        ),
        route(
            "GET",
            &format!(
                "/repos/{REPO}/actions/workflows/5/runs?branch=main&status=success&per_page=10"
            ),
            200,
            json!({"total_count": 0, "workflow_runs": []}),
        ),
    ]);
    let o = dtf(
        tmp.path(),
        &["baseline", "--out", "base"],
        &github_env(&server, tmp.path()),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_token(&o);
    assert_eq!(out, "");
    assert!(err.contains("no baseline: first build on main"), "{err}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn the_baseline_is_downloaded_without_sending_the_token_to_storage() {
    let tmp = tempfile::tempdir().expect("temp");
    let mut zip = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut zip);
        w.start_file("summary.json", zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(b"{\"schema\":\"dtf.summary.v1\"}")
            .expect("write");
        w.finish().expect("finish");
    }
    let mut routes = vec![
        route(
            "GET",
            &format!("/repos/{REPO}/actions/runs/99"),
            200,
            json!({"workflow_id": 5}),
        ),
        route(
            "GET",
            &format!(
                "/repos/{REPO}/actions/workflows/5/runs?branch=main&status=success&per_page=10"
            ),
            200,
            json!({"workflow_runs": [{"id": 50, "head_sha": "basesha", "head_branch": "main",
                                      "head_repository": {"full_name": REPO}}]}),
        ),
        route(
            "GET",
            &format!("/repos/{REPO}/actions/runs/50/artifacts?name=dtf-results&per_page=10"),
            200,
            json!({"artifacts": [{"id": 6, "name": "dtf-results", "expired": false}]}),
        ),
        Route {
            method: "GET",
            target: "/storage/blob?sig=SIGNED".to_owned(),
            status: 200,
            headers: vec![],
            body: zip.into_inner(),
        },
    ];
    // A relative Location, resolved against the API's host (as GHES storage may be);
    // the download still goes through the client without credentials.
    routes.push(Route {
        method: "GET",
        target: format!("/repos/{REPO}/actions/artifacts/6/zip"),
        status: 302,
        headers: vec![("location".to_owned(), "/storage/blob?sig=SIGNED".to_owned())],
        body: vec![],
    });
    let server = Server::start(routes);
    let o = dtf(
        tmp.path(),
        &["baseline", "--out", "base"],
        &github_env(&server, tmp.path()),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_token(&o);
    assert_eq!(out.trim(), "base");
    assert!(
        err.contains("baseline: dtf-results from build 50 on main (commit basesha) → base"),
        "{err}"
    );
    assert!(
        !err.contains("SIGNED"),
        "the signed URL is a credential too: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("base/summary.json")).expect("unpacked"),
        "{\"schema\":\"dtf.summary.v1\"}"
    );
    let requests = server.requests();
    let storage = requests
        .iter()
        .find(|r| r.target.starts_with("/storage/"))
        .expect("downloaded");
    assert!(
        !storage.headers.contains_key("authorization"),
        "{storage:?}"
    );
    assert!(!storage.headers.contains_key("x-github-api-version"));
    let api: Vec<_> = requests
        .iter()
        .filter(|r| r.target.starts_with("/repos/"))
        .collect();
    assert_eq!(api.len(), 4);
    assert!(
        api.iter()
            .all(|r| r.headers.get("authorization") == Some(&format!("Bearer {TOKEN}")))
    );
}

#[test]
fn the_local_provider_keeps_one_comment_per_marker() {
    let tmp = tempfile::tempdir().expect("temp");
    let report = report_dir(tmp.path());
    let args = [
        "publish",
        "--provider",
        "local",
        "--from-report",
        report.to_str().expect("utf-8"),
        "--out",
        "published",
    ];
    let first = dtf(tmp.path(), &args, &[]);
    assert!(first.status.success(), "{}", text(&first).1);
    assert!(
        text(&first).1.contains("comment: created"),
        "{}",
        text(&first).1
    );
    std::fs::write(
        report.join("comment.md"),
        "<!-- dtf:report -->\n## Tests: all passed\n",
    )
    .expect("write");
    let second = dtf(tmp.path(), &args, &[]);
    assert!(
        text(&second).1.contains("comment: updated"),
        "{}",
        text(&second).1
    );
    let out = tmp.path().join("published");
    assert_eq!(
        std::fs::read_to_string(out.join("comment.md")).expect("comment"),
        "<!-- dtf:report -->\n## Tests: all passed\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("summary.md")).expect("summary"),
        "# Test report\n1 failed, 2 passed\n"
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results"))
            .expect("JSON");
    assert_eq!(results["schema"], "dtf.results.v1");
    assert_eq!(results["results"]["conclusion"], "failure");
    assert_eq!(
        results["results"]["annotations"][0]["path"],
        "tests/test_a.py"
    );

    // A keyed comment lives beside it.
    let keyed = dtf(
        tmp.path(),
        &[&args[..], &["--marker-key", "linux"]].concat(),
        &[],
    );
    assert!(keyed.status.success());
    let text_keyed = std::fs::read_to_string(out.join("comment-linux.md")).expect("keyed comment");
    assert!(
        text_keyed.starts_with("<!-- dtf:report:linux -->\n"),
        "{text_keyed}"
    );
}

#[test]
fn the_local_baseline_comes_from_a_folder() {
    let tmp = tempfile::tempdir().expect("temp");
    let report = report_dir(tmp.path());
    let o = dtf(
        tmp.path(),
        &[
            "baseline",
            "--provider",
            "local",
            "--from",
            report.to_str().expect("utf-8"),
            "--out",
            "b",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.trim(), "b");
    assert!(tmp.path().join("b/summary.json").is_file());

    let o = dtf(
        tmp.path(),
        &["baseline", "--provider", "local", "--out", "c"],
        &[],
    );
    assert!(o.status.success());
    assert!(
        text(&o)
            .1
            .contains("no baseline: no baseline source was given"),
        "{}",
        text(&o).1
    );
}

#[test]
fn nothing_to_publish_is_bad_input() {
    let tmp = tempfile::tempdir().expect("temp");
    let o = dtf(tmp.path(), &["publish", "--provider", "local"], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).1.contains("nothing to publish"), "{}", text(&o).1);
    let o = dtf(tmp.path(), &["publish", "--comment", "missing.md"], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).1.contains("reading the comment missing.md"),
        "{}",
        text(&o).1
    );
}

// GitLab CI: the same binary under `GITLAB_CI=true`, the API at `CI_API_V4_URL`.

const GL_NOTE_TOKEN: &str = "glpat-E2Enote0123456789abcdef";
const GL_JOB_TOKEN: &str = "glcbt-E2Ejob0123456789abcdef";

fn assert_no_gitlab_token(o: &Output) {
    let (out, err) = text(o);
    for t in [GL_NOTE_TOKEN, GL_JOB_TOKEN] {
        assert!(!out.contains(t), "a token is on stdout:\n{out}");
        assert!(!err.contains(t), "a token is on stderr:\n{err}");
    }
}

/// A GitLab merge request pipeline (!7 of project 42, `feature` into `main`) talking to
/// `server`, with the job token and, when `note_token`, the project access token.
fn gitlab_env(server: &Server, note_token: bool) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("GITLAB_CI", "true".to_owned()),
        ("CI", "true".to_owned()),
        ("CI_API_V4_URL", format!("{}/api/v4", server.url())),
        ("CI_SERVER_URL", server.url()),
        ("CI_PROJECT_ID", "42".to_owned()),
        ("CI_PROJECT_PATH", "group/app".to_owned()),
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_MERGE_REQUEST_IID", "7".to_owned()),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".to_owned()),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature".to_owned()),
        ("CI_DEFAULT_BRANCH", "main".to_owned()),
        ("CI_COMMIT_SHA", "headsha".to_owned()),
        ("CI_COMMIT_REF_NAME", "feature".to_owned()),
        ("CI_PIPELINE_ID", "9001".to_owned()),
        ("CI_JOB_ID", "555".to_owned()),
        ("CI_JOB_TOKEN", GL_JOB_TOKEN.to_owned()),
    ];
    if note_token {
        env.push(("DTF_GITLAB_TOKEN", GL_NOTE_TOKEN.to_owned()));
    }
    env
}

const GL_NOTES: &str = "/api/v4/projects/42/merge_requests/7/notes";

#[test]
fn publish_to_gitlab_writes_the_note_and_the_summary_file() {
    let tmp = tempfile::tempdir().expect("temp");
    let server = Server::start(vec![
        Route {
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-next-page".to_owned(), "2".to_owned()),
            ],
            ..route(
                "GET",
                &format!("{GL_NOTES}?per_page=100&page=1"),
                200,
                json!([{"id": 1, "body": "hello", "system": false}]),
            )
        },
        Route {
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-next-page".to_owned(), String::new()),
            ],
            ..route(
                "GET",
                &format!("{GL_NOTES}?per_page=100&page=2"),
                200,
                json!([{"id": 2, "body": "<!-- dtf:report -->\nold", "system": false}]),
            )
        },
        route("PUT", &format!("{GL_NOTES}/2"), 200, json!({"id": 2})),
    ]);
    let report = report_dir(tmp.path());
    let o = dtf(
        tmp.path(),
        &[
            "publish",
            "--from-report",
            report.to_str().expect("utf-8"),
            "--out",
            "published",
        ],
        &gitlab_env(&server, true),
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_gitlab_token(&o);
    assert!(
        err.contains("publishing to gitlab group/app, merge request !7 (commit headsha)"),
        "{err}"
    );
    assert!(
        err.contains("notice: results not published: GitLab shows test results"),
        "{err}"
    );
    assert!(err.contains("comment: updated"), "{err}");
    assert!(err.contains("published/dtf-summary.md"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("published/dtf-summary.md")).expect("written"),
        "# Test report\n1 failed, 2 passed\n"
    );
    let requests = server.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect::<Vec<_>>(),
        [
            format!("GET {GL_NOTES}?per_page=100&page=1"),
            format!("GET {GL_NOTES}?per_page=100&page=2"),
            format!("PUT {GL_NOTES}/2"),
        ]
    );
    for r in &requests {
        assert_eq!(
            r.headers.get("private-token").map(String::as_str),
            Some(GL_NOTE_TOKEN)
        );
        assert!(!r.headers.contains_key("job-token"), "{r:?}");
    }
    let put = &requests[2];
    assert_eq!(
        put.headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    let body = String::from_utf8_lossy(&put.body);
    assert_eq!(
        body,
        "body=%3C%21--+dtf%3Areport+--%3E%0A%23%23+Tests%3A+1+failed%0A"
    );
}

#[test]
fn gitlab_with_only_the_job_token_skips_the_note_and_keeps_it_in_the_summary_file() {
    let tmp = tempfile::tempdir().expect("temp");
    let server = Server::start(vec![]);
    let report = report_dir(tmp.path());
    let o = dtf(
        tmp.path(),
        &[
            "publish",
            "--provider",
            "auto",
            "--from-report",
            report.to_str().expect("utf-8"),
            "--out",
            "published",
            "--fail-on-error",
        ],
        &gitlab_env(&server, false),
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_gitlab_token(&o);
    assert!(
        err.contains("notice: comment not posted: only CI_JOB_TOKEN"),
        "{err}"
    );
    assert!(err.contains("DTF_GITLAB_TOKEN"), "{err}");
    let summary =
        std::fs::read_to_string(tmp.path().join("published/dtf-summary.md")).expect("written");
    assert!(summary.contains("## Tests: 1 failed"), "{summary}");
    assert!(summary.contains("# Test report"), "{summary}");
    assert!(server.requests().is_empty());
}

#[test]
fn gitlab_errors_never_show_the_tokens() {
    let tmp = tempfile::tempdir().expect("temp");
    let server = Server::start(vec![route(
        "GET",
        &format!("{GL_NOTES}?per_page=100&page=1"),
        400,
        json!({"message": format!("bad token {GL_NOTE_TOKEN} and {GL_JOB_TOKEN}")}),
    )]);
    let report = report_dir(tmp.path());
    let o = dtf(
        tmp.path(),
        &[
            "publish",
            "--provider",
            "gitlab",
            "--comment",
            report.join("comment.md").to_str().expect("utf-8"),
            "--out",
            "published",
            "--fail-on-error",
        ],
        &gitlab_env(&server, true),
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert_no_gitlab_token(&o);
    assert!(err.contains("400"), "{err}");
    assert!(err.contains("***"), "{err}");
}

fn zip_of(name: &str, text: &str) -> Vec<u8> {
    let mut zip = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut zip);
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(text.as_bytes()).expect("write");
        w.finish().expect("finish");
    }
    zip.into_inner()
}

#[test]
fn the_gitlab_baseline_follows_the_redirect_without_any_token() {
    let tmp = tempfile::tempdir().expect("temp");
    let storage = Server::start(vec![Route {
        method: "GET",
        target: "/bucket/artifacts.zip?X-Amz-Signature=SIGNED".to_owned(),
        status: 200,
        headers: vec![],
        body: zip_of("dtf-report/summary.json", "{\"schema\":\"dtf.summary.v1\"}"),
    }]);
    let api = Server::start(vec![Route {
        method: "GET",
        target: "/api/v4/projects/42/jobs/artifacts/main/download?job=report".to_owned(),
        status: 302,
        headers: vec![(
            "location".to_owned(),
            format!(
                "{}/bucket/artifacts.zip?X-Amz-Signature=SIGNED",
                storage.url()
            ),
        )],
        body: vec![],
    }]);
    let o = dtf(
        tmp.path(),
        &[
            "baseline",
            "--provider",
            "gitlab",
            "--job",
            "report",
            "--out",
            "base",
        ],
        &gitlab_env(&api, true),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_gitlab_token(&o);
    assert_eq!(out.trim(), "base");
    assert!(
        err.contains("baseline from gitlab group/app, branch main"),
        "{err}"
    );
    assert!(!err.contains("SIGNED"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("base/dtf-report/summary.json")).expect("unpacked"),
        "{\"schema\":\"dtf.summary.v1\"}"
    );
    let api_requests = api.requests();
    assert_eq!(api_requests.len(), 1);
    assert_eq!(
        api_requests[0].headers.get("job-token").map(String::as_str),
        Some(GL_JOB_TOKEN)
    );
    assert!(!api_requests[0].headers.contains_key("private-token"));
    let stored = storage.requests();
    assert_eq!(stored.len(), 1);
    for (k, v) in &stored[0].headers {
        assert!(
            !v.contains(GL_JOB_TOKEN) && !v.contains(GL_NOTE_TOKEN),
            "storage got a token in {k}"
        );
    }
    assert!(!stored[0].headers.contains_key("job-token"));
    assert!(!stored[0].headers.contains_key("private-token"));
    assert!(!stored[0].headers.contains_key("authorization"));
}

#[test]
fn no_gitlab_baseline_on_a_first_build_is_not_an_error() {
    let tmp = tempfile::tempdir().expect("temp");
    let server = Server::start(vec![route(
        "GET",
        "/api/v4/projects/42/jobs/artifacts/main/download?job=dtf-report",
        404,
        json!({"message": "404 Not found"}),
    )]);
    let o = dtf(
        tmp.path(),
        &["baseline", "--job", "dtf-report", "--out", "base"],
        &gitlab_env(&server, false),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_no_gitlab_token(&o);
    assert_eq!(out, "");
    assert!(err.contains("no baseline: first build on main"), "{err}");
    assert_eq!(server.requests().len(), 1);
}
