//! Child processes that cannot outlive their welcome.
//!
//! A test framework is a tree of processes (a runner, its workers, the servers a test
//! started), so every invocation gets its own process group and every stop goes to the
//! whole group: SIGINT, then SIGTERM, each with half the grace period, then SIGKILL.
//! SIGINT comes first because frameworks take it as Ctrl-C, "stop and report what you
//! have": pytest writes its JUnit on KeyboardInterrupt (on SIGTERM it dies without
//! one), and cargo-nextest stops its tests and writes its JUnit on either. SIGKILL
//! also goes to every descendant found under `/proc`, since some runners (nextest)
//! give each test a process group of its own. A leader that exits, on its own or
//! when told to, may leave orphans in its group (a server a test forgot to stop):
//! they are killed at once, since nothing will ever wait for them.
//!
//! Output goes straight from the child into files (the child writes them itself, dtf
//! copies nothing), so a test that prints 100 MB costs disk, not memory; only a
//! bounded tail of each stream is read back for messages.
//!
//! Timeouts: [`ExecOptions::timeout`] bounds the whole invocation; with one test per
//! invocation it is the per-test timeout. A batched invocation runs many tests, so its
//! per-test timeout is enforced as [`ExecOptions::idle_timeout`]: the invocation is
//! killed when none of its output streams nor its watched files (the JUnit it is
//! writing) grew for that long. A framework that prints a line per finished test (all
//! presets ask for that) thus makes progress visibly, and a hanging test stops the
//! stream. The cost of the rule is that a framework that stays silent for longer than
//! the test timeout while all is well is taken for hung; presets keep frameworks
//! talkative for that reason.
//!
//! The exit of the leader is noticed at once (a thread blocks in `wait`); the timers
//! and the cancellation flag are looked at every [`TICK`].

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[cfg(unix)]
use std::os::unix::process::{CommandExt, ExitStatusExt};

/// How often timers, watched files and the cancellation flag are looked at.
pub const TICK: Duration = Duration::from_millis(50);

/// How one invocation may run.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// The longest the invocation may run; `None` for no limit.
    pub timeout: Option<Duration>,
    /// Kill the invocation when no output and no watched file grew for this long.
    pub idle_timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Bytes of each stream's end kept in [`Stream::tail`].
    pub tail_bytes: usize,
    /// Files whose growth counts as progress for `idle_timeout` (missing ones are
    /// fine: they count from when they appear).
    pub watch: Vec<PathBuf>,
    /// Set from elsewhere (a signal handler) to stop the invocation.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            timeout: None,
            idle_timeout: None,
            grace: Duration::from_secs(5),
            tail_bytes: 16 << 10,
            watch: Vec::new(),
            cancel: None,
        }
    }
}

/// Where the two output streams go.
#[derive(Clone, Debug)]
pub struct Capture {
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

/// How the leader process ended, as the system reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

impl Exit {
    fn from_status(status: ExitStatus) -> Exit {
        #[cfg(unix)]
        let signal = status.signal();
        #[cfg(not(unix))]
        let signal = None;
        Exit {
            code: status.code(),
            signal,
        }
    }

    pub fn success(self) -> bool {
        self.code == Some(0)
    }

    /// "exited with code 2", "killed by signal 9 (SIGKILL)".
    pub fn describe(self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(s)) => format!("killed by signal {s} ({})", signal_name(s)),
            (None, None) => "ended without an exit status".to_owned(),
        }
    }
}

/// The conventional name of a signal number ("SIGSEGV"), or "unknown signal".
pub fn signal_name(signal: i32) -> &'static str {
    #[cfg(unix)]
    {
        nix::sys::signal::Signal::try_from(signal).map_or("unknown signal", |s| s.as_str())
    }
    #[cfg(not(unix))]
    {
        let _ = signal;
        "unknown signal"
    }
}

/// Why dtf stopped an invocation itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It ran past `limit`: the whole invocation (`idle == false`), or without any
    /// progress (`idle == true`, the per-test timeout of a batch).
    Timeout { limit: Duration, idle: bool },
    /// The cancellation flag was set.
    Cancelled,
}

impl Stopped {
    pub fn describe(self) -> String {
        match self {
            Stopped::Timeout { limit, idle: false } => {
                format!("timed out after {} and was stopped", human(limit))
            }
            Stopped::Timeout { limit, idle: true } => format!(
                "made no progress for {} (no output, no results) and was stopped",
                human(limit)
            ),
            Stopped::Cancelled => "was stopped because the run was cancelled".to_owned(),
        }
    }
}

/// "1.5s", "2m 5s".
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        let t = format!("{s:.1}");
        format!("{}s", t.trim_end_matches(".0"))
    } else {
        let whole = d.as_secs();
        format!("{}m {}s", whole / 60, whole % 60)
    }
}

/// One captured output stream.
#[derive(Clone, Debug)]
pub struct Stream {
    pub path: PathBuf,
    pub bytes: u64,
    /// The last [`ExecOptions::tail_bytes`] of it, lossily decoded, starting at a line
    /// start when one is near.
    pub tail: String,
}

/// A finished invocation.
#[derive(Clone, Debug)]
pub struct Finished {
    pub pid: u32,
    pub exit: Exit,
    /// Set when dtf stopped the process itself.
    pub stopped: Option<Stopped>,
    pub started: Instant,
    pub elapsed: Duration,
    pub stdout: Stream,
    pub stderr: Stream,
    /// Processes were still in the group after the leader exited, and were killed.
    pub orphans_killed: bool,
}

impl Finished {
    /// Ended on its own with exit code 0.
    pub fn success(&self) -> bool {
        self.stopped.is_none() && self.exit.success()
    }

    /// Ended by a signal it did not get from dtf, or stopped by dtf: its results may
    /// be incomplete.
    pub fn abnormal(&self) -> bool {
        self.stopped.is_some() || self.exit.code.is_none()
    }

    /// "exited with code 1", "timed out after 2s and was killed", ...
    pub fn describe(&self) -> String {
        match self.stopped {
            Some(s) => s.describe(),
            None => self.exit.describe(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot create the log file {}: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A command from its parts, with the environment added to dtf's own.
pub fn command(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    cwd: Option<&Path>,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd
}

/// Runs `cmd` to its end (or dtf's), in its own process group, output into `capture`.
///
/// Stdin is closed. Fails only when the process or its log files cannot be created;
/// everything that happens after the start is in [`Finished`].
pub fn run(
    mut cmd: Command,
    capture: &Capture,
    options: &ExecOptions,
) -> Result<Finished, ExecError> {
    let out = create_log(&capture.stdout)?;
    let err = create_log(&capture.stderr)?;
    let log_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ExecError::Log { path, source }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(
            out.try_clone().map_err(log_err(&capture.stdout))?,
        ))
        .stderr(Stdio::from(
            err.try_clone().map_err(log_err(&capture.stderr))?,
        ));
    #[cfg(unix)]
    cmd.process_group(0);
    let started = Instant::now();
    let child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    // The command holds the parent's copies of the log descriptors; dropping it keeps
    // the files from staying open in dtf longer than needed.
    drop(cmd);
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .name(format!("dtf-wait-{pid}"))
        .spawn(move || wait_child(child, &tx));
    let status = match waiter {
        Ok(handle) => {
            let r = supervise(pid, &rx, &out, &err, options, started);
            // The waiter has sent (or failed to send) and is finishing.
            let _ = handle.join();
            r
        }
        // No thread: the child went with the closure; nothing to supervise. This is
        // out of memory territory and cannot be recovered well.
        Err(e) => {
            return Err(ExecError::Spawn {
                program: format!("(waiting for process {pid})"),
                source: e,
            });
        }
    };
    let elapsed = started.elapsed();
    let (exit, stopped) = status;
    // Orphans left in the group: nobody will wait for them.
    let orphans_killed = kill_group(pid, Signal::Kill);
    Ok(Finished {
        pid,
        exit,
        stopped,
        started,
        elapsed,
        stdout: stream(&capture.stdout, out, options.tail_bytes),
        stderr: stream(&capture.stderr, err, options.tail_bytes),
        orphans_killed,
    })
}

fn create_log(path: &Path) -> Result<File, ExecError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        fs::create_dir_all(dir).map_err(|source| ExecError::Log {
            path: path.to_owned(),
            source,
        })?;
    }
    File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| ExecError::Log {
            path: path.to_owned(),
            source,
        })
}

fn wait_child(mut child: Child, tx: &mpsc::Sender<io::Result<ExitStatus>>) {
    let _ = tx.send(child.wait());
}

/// Waits for the leader, enforcing the timers and the cancellation flag.
fn supervise(
    pid: u32,
    rx: &mpsc::Receiver<io::Result<ExitStatus>>,
    out: &File,
    err: &File,
    options: &ExecOptions,
    started: Instant,
) -> (Exit, Option<Stopped>) {
    let mut progress = Progress::new(options.watch.len());
    let mut last_progress = started;
    loop {
        match rx.recv_timeout(TICK) {
            Ok(status) => return (exit_of(status), None),
            Err(mpsc::RecvTimeoutError::Disconnected) => return (lost_exit(), None),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        let stop = if options
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            Some(Stopped::Cancelled)
        } else if let Some(limit) = options.timeout
            && now.duration_since(started) >= limit
        {
            Some(Stopped::Timeout { limit, idle: false })
        } else if let Some(limit) = options.idle_timeout {
            if progress.grew(out, err, &options.watch) {
                last_progress = now;
            }
            (now.duration_since(last_progress) >= limit)
                .then_some(Stopped::Timeout { limit, idle: true })
        } else {
            None
        };
        if let Some(stop) = stop {
            return (terminate(pid, rx, options.grace), Some(stop));
        }
    }
}

/// SIGINT, then SIGTERM, to the group, each with half of `grace`; then SIGKILL to the
/// group and to every descendant of the leader.
fn terminate(pid: u32, rx: &mpsc::Receiver<io::Result<ExitStatus>>, grace: Duration) -> Exit {
    let first = grace / 2;
    for (signal, wait) in [(Signal::Int, first), (Signal::Term, grace - first)] {
        kill_group(pid, signal);
        match rx.recv_timeout(wait) {
            Ok(status) => return exit_of(status),
            Err(mpsc::RecvTimeoutError::Disconnected) => return lost_exit(),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    // Found before the kill: once the leader is gone its children move to init.
    let tree = descendants(pid);
    kill_group(pid, Signal::Kill);
    for p in tree {
        kill_one(p, Signal::Kill);
    }
    match rx.recv() {
        Ok(status) => exit_of(status),
        Err(_) => lost_exit(),
    }
}

/// Every descendant of `pid`, from `/proc` (empty where there is none).
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for entry in entries.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok())
        {
            children.entry(ppid).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if !out.contains(&c) && c != pid {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

fn exit_of(status: io::Result<ExitStatus>) -> Exit {
    match status {
        Ok(s) => Exit::from_status(s),
        Err(_) => lost_exit(),
    }
}

fn lost_exit() -> Exit {
    Exit {
        code: None,
        signal: None,
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Int,
    Term,
    Kill,
}

#[cfg(unix)]
fn nix_signal(signal: Signal) -> nix::sys::signal::Signal {
    use nix::sys::signal::Signal as S;
    match signal {
        Signal::Int => S::SIGINT,
        Signal::Term => S::SIGTERM,
        Signal::Kill => S::SIGKILL,
    }
}

/// Signals one process.
#[cfg(unix)]
fn kill_one(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 1
    {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), nix_signal(signal));
    }
}

#[cfg(not(unix))]
fn kill_one(_pid: u32, _signal: Signal) {}

/// Signals the process group led by `pid`; whether anything was there to signal.
#[cfg(unix)]
fn kill_group(pid: u32, signal: Signal) -> bool {
    use nix::sys::signal::killpg;
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // Never 0 or 1: killpg(0) would hit dtf's own group.
    if raw <= 1 {
        return false;
    }
    killpg(Pid::from_raw(raw), nix_signal(signal)).is_ok()
}

#[cfg(not(unix))]
fn kill_group(_pid: u32, _signal: Signal) -> bool {
    false
}

/// Sizes seen last, to notice growth.
struct Progress {
    out: u64,
    err: u64,
    watched: Vec<u64>,
}

impl Progress {
    fn new(watched: usize) -> Progress {
        Progress {
            out: 0,
            err: 0,
            watched: vec![0; watched],
        }
    }

    fn grew(&mut self, out: &File, err: &File, watch: &[PathBuf]) -> bool {
        let mut grew = false;
        let mut check = |seen: &mut u64, now: Option<u64>| {
            if let Some(now) = now
                && now != *seen
            {
                *seen = now;
                grew = true;
            }
        };
        check(&mut self.out, out.metadata().ok().map(|m| m.len()));
        check(&mut self.err, err.metadata().ok().map(|m| m.len()));
        for (seen, path) in self.watched.iter_mut().zip(watch) {
            check(seen, fs::metadata(path).ok().map(|m| m.len()));
        }
        grew
    }
}

fn stream(path: &Path, mut file: File, tail_bytes: usize) -> Stream {
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    Stream {
        path: path.to_owned(),
        bytes,
        tail: read_tail(&mut file, bytes, tail_bytes).unwrap_or_default(),
    }
}

/// The last `max` bytes of a file as text: cut at a line start when one is in the
/// first quarter, never inside a character.
pub fn read_tail(file: &mut File, len: u64, max: usize) -> io::Result<String> {
    let from = len.saturating_sub(max as u64);
    file.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::with_capacity(max.min(len as usize));
    file.take(max as u64).read_to_end(&mut buf)?;
    let mut start = 0;
    if from > 0 {
        match buf[..buf.len() / 4].iter().position(|&b| b == b'\n') {
            Some(nl) => start = nl + 1,
            // Skip continuation bytes of a character cut in two.
            None => {
                while start < buf.len() && (buf[start] & 0xC0) == 0x80 {
                    start += 1;
                }
            }
        }
    }
    Ok(String::from_utf8_lossy(&buf[start..]).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    fn run_sh(script: &str, options: &ExecOptions) -> (Finished, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let capture = Capture {
            stdout: dir.path().join("out.log"),
            stderr: dir.path().join("err.log"),
        };
        let f = run(sh(script), &capture, options).unwrap();
        (f, dir)
    }

    #[test]
    fn endings() {
        let quick = ExecOptions {
            timeout: Some(Duration::from_millis(600)),
            grace: Duration::from_millis(200),
            ..ExecOptions::default()
        };
        // (script, exit, stopped, stdout tail)
        type Case<'a> = (&'a str, Exit, Option<Stopped>, &'a str);
        let cases: &[Case] = &[
            (
                "echo hi; echo oops >&2",
                Exit {
                    code: Some(0),
                    signal: None,
                },
                None,
                "hi\n",
            ),
            (
                "exit 3",
                Exit {
                    code: Some(3),
                    signal: None,
                },
                None,
                "",
            ),
            (
                "echo before; kill -SEGV $$",
                Exit {
                    code: None,
                    signal: Some(11),
                },
                None,
                "before\n",
            ),
            (
                // SIGINT first: the shell and its sleep end there.
                "echo start; sleep 30",
                Exit {
                    code: None,
                    signal: Some(2),
                },
                Some(Stopped::Timeout {
                    limit: Duration::from_millis(600),
                    idle: false,
                }),
                "start\n",
            ),
            (
                // Ignores SIGINT and SIGTERM: only SIGKILL ends it.
                "trap '' INT TERM; echo stubborn; while :; do sleep 0.05; done",
                Exit {
                    code: None,
                    signal: Some(9),
                },
                Some(Stopped::Timeout {
                    limit: Duration::from_millis(600),
                    idle: false,
                }),
                "stubborn\n",
            ),
        ];
        for (script, exit, stopped, out) in cases {
            let (f, _dir) = run_sh(script, &quick);
            assert_eq!(f.exit, *exit, "{script}: {}", f.describe());
            assert_eq!(f.stopped, *stopped, "{script}");
            assert_eq!(f.stdout.tail, *out, "{script}");
        }
    }

    #[test]
    fn a_stubborn_descendant_in_another_group_is_killed_too() {
        // Like cargo-nextest, which gives each test a process group of its own; here
        // the descendant also ignores SIGINT and SIGTERM, so only SIGKILL ends it.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "trap '' INT TERM; setsid sh -c 'trap \"\" INT TERM; echo $$ > {}; exec sleep 30' & \
             while :; do sleep 0.05; done",
            pidfile.display()
        );
        let options = ExecOptions {
            timeout: Some(Duration::from_millis(500)),
            grace: Duration::from_millis(200),
            ..ExecOptions::default()
        };
        let (f, _d) = run_sh(&script, &options);
        assert_eq!(f.exit.signal, Some(9));
        let pid: u32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !gone(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(pid), "the descendant {pid} survived");
    }

    /// Gone, or a zombie nobody reaped yet.
    fn gone(pid: u32) -> bool {
        fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
    }

    #[test]
    fn idle_timeout_spares_a_talkative_process() {
        let options = ExecOptions {
            idle_timeout: Some(Duration::from_millis(400)),
            grace: Duration::from_millis(100),
            ..ExecOptions::default()
        };
        // 1 s of work, a line every 100 ms: never idle for 400 ms.
        let (f, _d) = run_sh(
            "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.1; done",
            &options,
        );
        assert_eq!(f.stopped, None);
        assert!(f.success());
        // Silent after one line: killed after about 400 ms.
        let (f, _d) = run_sh("echo one; sleep 5", &options);
        assert_eq!(
            f.stopped,
            Some(Stopped::Timeout {
                limit: Duration::from_millis(400),
                idle: true
            })
        );
        assert!(f.elapsed < Duration::from_secs(3), "{:?}", f.elapsed);
    }

    #[test]
    fn cancellation_stops_the_group() {
        let cancel = Arc::new(AtomicBool::new(false));
        let options = ExecOptions {
            cancel: Some(Arc::clone(&cancel)),
            grace: Duration::from_millis(200),
            ..ExecOptions::default()
        };
        let flag = Arc::clone(&cancel);
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            flag.store(true, Ordering::Relaxed);
        });
        let (f, _d) = run_sh("sleep 20", &options);
        setter.join().unwrap();
        assert_eq!(f.stopped, Some(Stopped::Cancelled));
        assert!(f.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn tails_start_at_a_line_and_stay_small() {
        let options = ExecOptions {
            tail_bytes: 100,
            ..ExecOptions::default()
        };
        let (f, _d) = run_sh(
            "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done",
            &options,
        );
        assert!(f.stdout.tail.len() <= 100);
        assert!(f.stdout.tail.starts_with("line"), "{:?}", f.stdout.tail);
        assert!(f.stdout.tail.ends_with("line199\n"));
        assert!(f.stdout.bytes > 1000);
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let dir = tempfile::tempdir().unwrap();
        let capture = Capture {
            stdout: dir.path().join("o"),
            stderr: dir.path().join("e"),
        };
        let e = run(
            Command::new("/nonexistent/dtf-no-such-program"),
            &capture,
            &ExecOptions::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot start `/nonexistent/dtf-no-such-program`"),
            "{e}"
        );
    }

    #[test]
    fn descriptions() {
        let cases: &[(Exit, &str)] = &[
            (
                Exit {
                    code: Some(1),
                    signal: None,
                },
                "exited with code 1",
            ),
            (
                Exit {
                    code: None,
                    signal: Some(9),
                },
                "killed by signal 9 (SIGKILL)",
            ),
        ];
        for (exit, want) in cases {
            assert_eq!(exit.describe(), *want);
        }
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_secs(125)), "2m 5s");
    }
}
