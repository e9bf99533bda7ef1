//! E-mail delivery against a real SMTP server — Python's aiosmtpd, one process per test.
//!
//! `DOCUVAULT_TEST_PYTHON` names a Python with aiosmtpd installed (CI sets it; the
//! version verified is 1.4.6). When it's set and aiosmtpd doesn't work, the tests fail.
//! When it's unset, `python3` is used if it can import aiosmtpd; otherwise the delivery
//! test only exercises the log sink. The unreachable- and stalled-relay tests need no
//! Python.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::Utc;
use common::smtp::{SmtpServer, aiosmtpd_python, free_port};
use docuvault::mail::{MailError, Mailer, SMTP_TIMEOUT, SecurityAlert};
use docuvault::settings::{Settings, SmtpSettings};
use tokio::time::Instant;

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
