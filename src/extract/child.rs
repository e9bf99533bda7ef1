//! Helper programs (tesseract, pdftoppm, pdftotext) run as child processes of the
//! extraction worker: looked up on a fixed search path (the sandbox clears the
//! environment), fed through stdin, read with bounded output, under a wall-clock timeout
//! and their own `setrlimit` budgets. Synchronous: the worker is a plain process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where helper programs are looked up when `PATH` is unset (the sandbox child runs with
/// an empty environment).
const DEFAULT_SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The absolute path of `name` on `PATH` (or [`DEFAULT_SEARCH_PATH`]), if executable.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_SEARCH_PATH.into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// `command` as configured: an absolute path (if executable) or a name looked up like
/// [`find_program`].
pub(crate) fn find_command(command: &str) -> Option<PathBuf> {
    let command = command.trim();
    if command.starts_with('/') {
        let path = PathBuf::from(command);
        is_executable(&path).then_some(path)
    } else if command.is_empty() || command.contains('/') {
        None
    } else {
        find_program(command)
    }
}

/// Whether helper runs announce themselves on stderr ([`PROGRESS_PREFIX`] lines): set
/// by the extraction worker, whose parent extends its wall clock on each one.
static REPORT_PROGRESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Start of the stderr line the extraction worker writes before each helper run.
pub const PROGRESS_PREFIX: &str = "docuvault-progress:";

/// Turns on progress lines for this process (the extraction worker only).
pub(crate) fn report_progress() {
    REPORT_PROGRESS.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn announce(program: &Path) {
    let name = program
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    progress_line(&name);
}

/// Announces that page `page` of `pages` is being read (OCR), for the parent to show:
/// a [`PROGRESS_PREFIX`] line `page 3 of 12` ([`PageProgress::parse`]).
pub(crate) fn announce_page(page: usize, pages: usize) {
    progress_line(&format!("page {page} of {pages}"));
}

fn progress_line(what: &str) {
    if REPORT_PROGRESS.load(std::sync::atomic::Ordering::Relaxed) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{PROGRESS_PREFIX} {what}");
        let _ = err.flush();
    }
}

/// Which page of how many the extraction worker is reading (OCR), as it announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageProgress {
    /// 1-based page number.
    pub page: u32,
    /// Pages in the document.
    pub pages: u32,
}

impl PageProgress {
    /// Reads a progress line of the worker's stderr (`docuvault-progress: page 3 of 12`);
    /// `None` for any other line, including the announcement of a helper run.
    pub fn parse(line: &[u8]) -> Option<Self> {
        let rest = std::str::from_utf8(line.strip_prefix(PROGRESS_PREFIX.as_bytes())?).ok()?;
        let (page, pages) = rest.trim().strip_prefix("page ")?.split_once(" of ")?;
        let (page, pages) = (page.parse().ok()?, pages.parse().ok()?);
        (page >= 1 && page <= pages).then_some(Self { page, pages })
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Budgets of one helper run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Killed after this long.
    pub wall: Duration,
    /// Address-space limit (`RLIMIT_AS`), clamped to this process's own hard limit.
    pub memory_bytes: u64,
    /// Cap on what is kept of stdout (the rest is drained).
    pub max_output: usize,
}

/// What a helper run produced.
#[derive(Debug)]
pub(crate) struct Finished {
    pub stdout: Vec<u8>,
    pub stdout_overflowed: bool,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

/// Why a helper run produced nothing usable.
#[derive(Debug)]
pub(crate) enum RunError {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It ran past its wall-clock budget and was killed.
    Timeout,
}

/// Runs `program args…` with `env` only, writing `input` to its stdin, under `budget`.
pub(crate) fn run(
    program: &Path,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    input: &[u8],
    budget: Budget,
) -> Result<Finished, RunError> {
    announce(program);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The wall budget, rounded up, doubles as the CPU budget: a single-threaded helper
    // cannot use more CPU than wall time.
    apply_rlimits(
        &mut cmd,
        budget.memory_bytes,
        budget.wall.as_secs().saturating_add(1),
    );
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let pid = child.id();
    let (mut stdin, stdout, stderr) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take());

    std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            if let Some(stdin) = stdin.as_mut() {
                // A helper that exits early closes its stdin: reported through its status.
                let _ = stdin.write_all(input);
            }
            drop(stdin);
        });
        let out = scope.spawn(move || read_bounded(stdout, budget.max_output));
        let err = scope.spawn(move || read_bounded(stderr, 16 * 1024));

        // Wait for the exit without reaping (WNOWAIT), so that the pid stays ours until
        // `child.wait()` below: a kill after the timeout can never hit a reused pid.
        let (tx, rx) = mpsc::channel();
        scope.spawn(move || {
            wait_exited_not_reaped(pid);
            let _ = tx.send(());
        });
        let timed_out = rx.recv_timeout(budget.wall).is_err();
        if timed_out {
            let _ = child.kill();
        }
        let status = child.wait();
        let _ = writer.join();
        let (stdout, stdout_overflowed) = out.join().unwrap_or_default();
        let (stderr, _) = err.join().unwrap_or_default();
        if timed_out {
            return Err(RunError::Timeout);
        }
        let status = status.map_err(RunError::Spawn)?;
        Ok(Finished {
            stdout,
            stdout_overflowed,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            status,
        })
    })
}

#[cfg(unix)]
fn wait_exited_not_reaped(pid: u32) {
    // SAFETY: waitid only writes into `info`, a valid siginfo_t; WNOWAIT leaves the child
    // to be reaped by its `Child` handle.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        loop {
            let r = libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            );
            if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

#[cfg(not(unix))]
fn wait_exited_not_reaped(_pid: u32) {
    // Off Unix only the output pipes closing tell; the caller's timeout still applies.
}

fn read_bounded<R: Read>(reader: Option<R>, limit: usize) -> (Vec<u8>, bool) {
    let Some(mut reader) = reader else {
        return (Vec::new(), false);
    };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut overflow = false;
    loop {
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) if buf.len() + n > limit => overflow = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    (buf, overflow)
}

/// Limits a child to `memory_bytes` of address space and `cpu_secs` of CPU (SIGXCPU at
/// the soft limit, SIGKILL two seconds later) and no core dumps; used for the helper
/// programs here and for the sandbox worker itself (`sandbox.rs`). A child may not raise a
/// hard limit above ours (setrlimit would fail and the spawn with it), so both are clamped
/// to what this process has, read before the fork.
#[cfg(unix)]
pub(crate) fn apply_rlimits(cmd: &mut Command, memory_bytes: u64, cpu_secs: u64) {
    use std::os::unix::process::CommandExt;
    let hard = |resource| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into `lim`, a valid rlimit.
        if unsafe { libc::getrlimit(resource, &mut lim) } == 0 {
            #[allow(clippy::useless_conversion)] // rlim_t is not u64 everywhere
            u64::try_from(lim.rlim_max).unwrap_or(u64::MAX)
        } else {
            u64::MAX
        }
    };
    let memory = memory_bytes.min(hard(libc::RLIMIT_AS));
    let cpu_hard = cpu_secs.saturating_add(2).min(hard(libc::RLIMIT_CPU));
    let cpu_soft = cpu_secs.min(cpu_hard);
    let set = move |resource, soft: u64, hard: u64| -> std::io::Result<()> {
        let lim = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit is async-signal-safe and `lim` is a valid rlimit.
        if unsafe { libc::setrlimit(resource, &lim) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: the closure only calls setrlimit (async-signal-safe), allocates nothing and
    // touches no locks, as required between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            set(libc::RLIMIT_AS, memory, memory)?;
            set(libc::RLIMIT_CPU, cpu_soft, cpu_hard)?;
            set(libc::RLIMIT_CORE, 0, 0)?;
            Ok(())
        });
    }
}

/// Only the wall-clock limit applies off Unix.
#[cfg(not(unix))]
pub(crate) fn apply_rlimits(_cmd: &mut Command, _memory_bytes: u64, _cpu_secs: u64) {}

/// A one-line reason for a helper that exited unsuccessfully (signal, exit code, and the
/// last line of its stderr).
pub(crate) fn describe_exit(what: &str, finished: &Finished) -> String {
    let last = finished
        .stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = finished.status.signal() {
            let why = match sig {
                libc::SIGXCPU | libc::SIGKILL => " (time or memory budget)",
                libc::SIGSEGV | libc::SIGBUS | libc::SIGABRT => {
                    " (crashed; possibly out of memory)"
                }
                _ => "",
            };
            return format!("{what} was stopped by signal {sig}{why}");
        }
    }
    let code = finished.status.code().unwrap_or(-1);
    if last.is_empty() {
        format!("{what} failed (exit code {code})")
    } else {
        format!("{what} failed (exit code {code}): {last}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn budget(wall_ms: u64) -> Budget {
        Budget {
            wall: Duration::from_millis(wall_ms),
            memory_bytes: 256 * 1024 * 1024,
            max_output: 1024,
        }
    }

    #[test]
    fn runs_with_stdin_and_bounded_output() {
        let cat = find_program("cat").expect("cat");
        let got = run(&cat, &[], &[], b"hello", budget(10_000)).unwrap();
        assert!(got.status.success());
        assert_eq!(got.stdout, b"hello");
        let big = vec![b'x'; 10_000];
        let got = run(&cat, &[], &[], &big, budget(10_000)).unwrap();
        assert!(got.stdout_overflowed);
        assert!(got.stdout.len() <= 1024);
    }

    #[test]
    fn a_hanging_helper_is_killed_at_its_deadline() {
        let sh = find_program("sh").expect("sh");
        let started = std::time::Instant::now();
        let got = run(
            &sh,
            &["-c".as_ref(), "exec sleep 30".as_ref()],
            &[],
            b"",
            budget(300),
        );
        assert!(matches!(got, Err(RunError::Timeout)), "{got:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn environment_is_only_what_is_given() {
        let sh = find_program("sh").expect("sh");
        let got = run(
            &sh,
            &["-c".as_ref(), "echo \"$OMP_THREAD_LIMIT:$HOME\"".as_ref()],
            &[("OMP_THREAD_LIMIT", "1")],
            b"",
            budget(10_000),
        )
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "1:");
    }

    #[test]
    fn page_progress_lines_parse() {
        assert_eq!(
            PageProgress::parse(b"docuvault-progress: page 3 of 12\n"),
            Some(PageProgress { page: 3, pages: 12 })
        );
        assert_eq!(
            PageProgress::parse(b"docuvault-progress: tesseract\n"),
            None
        );
        assert_eq!(
            PageProgress::parse(b"docuvault-progress: page 13 of 12"),
            None
        );
        assert_eq!(
            PageProgress::parse(b"docuvault-progress: page 0 of 12"),
            None
        );
        assert_eq!(PageProgress::parse(b"page 1 of 2"), None);
    }

    #[test]
    fn missing_program_is_none() {
        assert!(find_program("docuvault-no-such-program").is_none());
    }
}
