//! A real SMTP server for tests: Python's aiosmtpd printing every message to stdout.
//!
//! `DOCUVAULT_TEST_PYTHON` names a Python with aiosmtpd installed (CI sets it). When it
//! is set and aiosmtpd doesn't work, tests fail; when unset, `python3` is tried.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

/// How long aiosmtpd may take to start listening, and to print a received message.
pub const SERVER_DEADLINE: Duration = Duration::from_secs(20);

/// Interval between connection attempts while waiting for aiosmtpd to listen.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// A port nothing listens on (bound once by us, then released).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `aiosmtpd.__version__` as `python` sees it.
pub fn aiosmtpd_version(python: &str) -> Result<String, String> {
    let out = std::process::Command::new(python)
        .args(["-c", "import aiosmtpd; print(aiosmtpd.__version__)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("can't run {python}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{python} can't import aiosmtpd ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The Python to run aiosmtpd with, or `None` when there is none and none was asked for.
pub fn aiosmtpd_python() -> Option<String> {
    match std::env::var("DOCUVAULT_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => match aiosmtpd_version(&python) {
            Ok(version) => {
                eprintln!("using aiosmtpd {version} from DOCUVAULT_TEST_PYTHON={python}");
                Some(python)
            }
            Err(e) => panic!("DOCUVAULT_TEST_PYTHON is set but aiosmtpd doesn't work: {e}"),
        },
        _ => match aiosmtpd_version("python3") {
            Ok(version) => {
                eprintln!("using aiosmtpd {version} from python3");
                Some("python3".to_owned())
            }
            Err(e) => {
                eprintln!(
                    "SKIPPING real SMTP delivery ({e}); set DOCUVAULT_TEST_PYTHON to a Python with aiosmtpd"
                );
                None
            }
        },
    }
}

/// A running `python -m aiosmtpd` that prints every message it receives to stdout.
/// Killed when dropped.
pub struct SmtpServer {
    /// Port it listens on.
    pub port: u16,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: tempfile::NamedTempFile,
    /// Everything read from stdout so far (every message, wanted or not).
    transcript: String,
}

impl SmtpServer {
    /// Starts aiosmtpd on a free port and returns once it accepts connections.
    pub async fn start(python: &str) -> SmtpServer {
        let port = free_port();
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Debugging", "stdout"])
            // The Debugging handler doesn't flush; without this, output sits in a buffer.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("can't start {python} -m aiosmtpd: {e}"));
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut server = SmtpServer {
            port,
            child,
            stdout,
            stderr,
            transcript: String::new(),
        };

        let deadline = Instant::now() + SERVER_DEADLINE;
        loop {
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok()
            {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("aiosmtpd exited with {status}: {}", server.stderr_text());
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd didn't listen on port {port} within {SERVER_DEADLINE:?}: {}",
                server.stderr_text()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    pub fn stderr_text(&self) -> String {
        let mut text = String::new();
        let _ = self
            .stderr
            .reopen()
            .and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Every line the server printed that [`Self::wait_for_message`] has read so far: the
    /// messages before the one waited for included (to check one was *not* sent).
    pub fn transcript(&self) -> &str {
        &self.transcript
    }

    /// Reads stdout until a whole message containing `needle` has been printed.
    pub async fn wait_for_message(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + SERVER_DEADLINE;
        let mut seen = String::new();
        let mut message = String::new();
        loop {
            let line = match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => panic!(
                    "aiosmtpd closed stdout; output so far:\n{seen}\nstderr:\n{}",
                    self.stderr_text()
                ),
                Ok(Err(e)) => panic!("reading aiosmtpd's stdout: {e}"),
                Err(_) => panic!(
                    "no message containing {needle:?} within {SERVER_DEADLINE:?}; output so far:\n{seen}\nstderr:\n{}",
                    self.stderr_text()
                ),
            };
            seen.push_str(&line);
            seen.push('\n');
            self.transcript.push_str(&line);
            self.transcript.push('\n');
            if line.contains("MESSAGE FOLLOWS") {
                message.clear();
            }
            message.push_str(&line);
            message.push('\n');
            if line.contains("END MESSAGE") && message.contains(needle) {
                return message;
            }
        }
    }
}

/// A printed message as a mail client shows it: lettre sends bodies with long lines or
/// non-ASCII text quoted-printable, so such a message has its soft line breaks joined
/// and `=XX` escapes decoded (as UTF-8); any other message comes back as it is.
pub fn as_read(message: &str) -> String {
    if !message.contains("Content-Transfer-Encoding: quoted-printable") {
        return message.to_owned();
    }
    let text = message;
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
