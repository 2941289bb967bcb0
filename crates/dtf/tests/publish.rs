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
