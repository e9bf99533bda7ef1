//! E-mail delivery against a real SMTP server — Python's aiosmtpd, one process per test.
//!
//! `DOCUVAULT_TEST_PYTHON` names a Python with aiosmtpd installed (CI sets it; the
//! version verified is 1.4.6). When it's set and aiosmtpd doesn't work, the tests fail.
//! When it's unset, `python3` is used if it can import aiosmtpd; otherwise the delivery
//! test only exercises the log sink. The unreachable- and stalled-relay tests need no
//! Python.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use docuvault::mail::{MailError, Mailer, SMTP_TIMEOUT, SecurityAlert};
use docuvault::settings::{Settings, SmtpSettings};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

/// How long aiosmtpd may take to start listening, and to print a received message.
const SERVER_DEADLINE: Duration = Duration::from_secs(20);

/// Interval between connection attempts while waiting for aiosmtpd to listen.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Slack on top of [`SMTP_TIMEOUT`] for a failing send to come back.
const TIMEOUT_SLACK: Duration = Duration::from_secs(5);

/// The `smtp` settings the public loader produces for this environment.
fn smtp_settings(env: &[(&str, String)]) -> SmtpSettings {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Settings::load(None, &env).unwrap().smtp
}

fn relay_at(port: u16) -> SmtpSettings {
    let settings = smtp_settings(&[
        ("SMTP_HOST", "127.0.0.1".to_owned()),
        ("SMTP_PORT", port.to_string()),
    ]);
    assert!(settings.user.is_empty(), "no credentials → plain SMTP");
    settings
}

fn new_login(ip: &str) -> SecurityAlert {
    SecurityAlert::NewLogin {
        ip: ip.to_owned(),
        user_agent: Some("DocuVaultIntegrationTest/1.0".to_owned()),
        at: Utc::now(),
    }
}

/// A port nothing listens on (bound once by us, then released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `aiosmtpd.__version__` as `python` sees it.
fn aiosmtpd_version(python: &str) -> Result<String, String> {
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
fn aiosmtpd_python() -> Option<String> {
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
struct SmtpServer {
    port: u16,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: tempfile::NamedTempFile,
}

impl SmtpServer {
    /// Starts aiosmtpd on a free port and returns once it accepts connections.
    async fn start(python: &str) -> SmtpServer {
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

    fn stderr_text(&self) -> String {
        let mut text = String::new();
        let _ = self
            .stderr
            .reopen()
            .and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Reads stdout until a whole message containing `needle` has been printed.
    async fn wait_for_message(&mut self, needle: &str) -> String {
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

#[tokio::test]
async fn a_security_alert_reaches_a_real_smtp_server() {
    let Some(python) = aiosmtpd_python() else {
        // No aiosmtpd here: at least the embedded default (log sink) must work.
        let mailer = Mailer::from_settings(&smtp_settings(&[])).unwrap();
        assert!(!mailer.delivers());
        mailer
            .send("alice@example.com", "Hello", "Body")
            .await
            .unwrap();
        mailer
            .send_alert("alice@example.com", "alice", &new_login("198.51.100.23"))
            .await;
        return;
    };
    let mut server = SmtpServer::start(&python).await;
    let mailer = Mailer::from_settings(&relay_at(server.port)).unwrap();
    assert!(mailer.delivers());

    // The path the account system uses: a fire-and-forget alert.
    let alert = new_login("198.51.100.23");
    mailer
        .send_alert("alice@example.com", "alice", &alert)
        .await;
    let message = server.wait_for_message(&alert.subject()).await;
    for expected in [
        "To: alice@example.com".to_owned(),
        format!("Subject: {}", alert.subject()),
        "From: DocuVault <docuvault@localhost>".to_owned(),
        "Hi alice,".to_owned(),
        "198.51.100.23".to_owned(),
        "DocuVaultIntegrationTest/1.0".to_owned(),
    ] {
        assert!(
            message.contains(&expected),
            "{expected:?} missing from:\n{message}"
        );
    }
    assert!(
        message
            .lines()
            .any(|l| l.starts_with("Message-ID: <") && l.ends_with("@localhost>")),
        "Message-ID in the sender's domain missing from:\n{message}"
    );

    // And a plain `send` reports success.
    mailer
        .send(
            "bob@example.com",
            "Plain text check",
            "Just a line of text.",
        )
        .await
        .unwrap();
    let message = server.wait_for_message("Plain text check").await;
    assert!(message.contains("To: bob@example.com"), "{message}");
    assert!(message.contains("Just a line of text."), "{message}");
}

#[tokio::test]
async fn an_unreachable_relay_is_an_error_and_alerts_still_return() {
    let mailer = Mailer::from_settings(&relay_at(free_port())).unwrap();

    let result = tokio::time::timeout(
        SMTP_TIMEOUT + TIMEOUT_SLACK,
        mailer.send("alice@example.com", "Hello", "Body"),
    )
    .await
    .expect("send must give up within the SMTP timeout");
    let error = result.unwrap_err();
    assert!(matches!(error, MailError::Smtp(_)), "{error}");

    tokio::time::timeout(
        SMTP_TIMEOUT + TIMEOUT_SLACK,
        mailer.send_alert("alice@example.com", "alice", &new_login("198.51.100.23")),
    )
    .await
    .expect("send_alert must give up within the SMTP timeout");
}

#[tokio::test]
async fn a_relay_that_never_answers_times_out() {
    // Accepts connections but never sends the SMTP greeting.
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mailer = Mailer::from_settings(&relay_at(port)).unwrap();

    let started = Instant::now();
    let result = tokio::time::timeout(
        SMTP_TIMEOUT + TIMEOUT_SLACK,
        mailer.send("alice@example.com", "Hello", "Body"),
    )
    .await
    .expect("send must give up within the SMTP timeout");
    let error = result.unwrap_err();
    assert!(matches!(error, MailError::Timeout(_)), "{error}");
    assert!(started.elapsed() >= SMTP_TIMEOUT, "gave up early: {error}");
    silent.abort();
}
