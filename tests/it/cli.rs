//! The real binary: embedded-default start, config errors, JSON logs, SIGTERM, migrate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::docuvault_command as docuvault;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A command with a clean environment (no developer or CI settings leak in).
/// A running server process whose stderr lines arrive on a channel.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`, returning it.
    fn wait_for_line(&mut self, needle: &str, deadline: Duration) -> String {
        let end = Instant::now() + deadline;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line with {needle:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    fn port(&mut self) -> u16 {
        let line = self.wait_for_line("listening on http://", Duration::from_secs(60));
        let after = line.split("listening on http://").nth(1).unwrap();
        let addr = after.split_whitespace().next().unwrap();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < end, "server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get_health(port: u16) -> (u16, serde_json::Value) {
    let res = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn starts_on_embedded_defaults_in_an_empty_directory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = docuvault(dir.path());
    cmd.env("DOCUVAULT__SERVER__PORT", "0");
    let mut server = Server::start(cmd);
    let port = server.port();
    let listening = server.seen.last().unwrap().clone();
    assert!(
        listening.contains("database: sqlite, storage: local, queue: memory"),
        "{listening}"
    );
    assert!(listening.contains("127.0.0.1"), "{listening}");
    assert!(dir.path().join("data/docuvault.db").is_file());
    assert!(dir.path().join("data/objects").is_dir());

    let (status, body) = get_health(port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"]["backend"], "sqlite");

    let exit = server.terminate();
    assert!(exit.success(), "{exit:?}");
    server.wait_for_line("shutdown complete", Duration::from_secs(5));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port still open after shutdown"
    );

    // Restarting on the same data directory re-applies nothing and serves again.
    let mut cmd = docuvault(dir.path());
    cmd.env("DOCUVAULT__SERVER__PORT", "0");
    let mut again = Server::start(cmd);
    let port = again.port();
    assert_eq!(get_health(port).await.0, 200);
    assert!(again.terminate().success());
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = docuvault(dir.path());
    cmd.env("DOCUVAULT__SERVER__PORT", "0")
        .env("DOCUVAULT__LOG__FORMAT", "json");
    let mut server = Server::start(cmd);
    let port = server.port();
    let listening: serde_json::Value =
        serde_json::from_str(server.seen.last().unwrap()).expect("JSON log line");
    assert_eq!(listening["level"], "INFO");

    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/missing"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let line = server.wait_for_line("trace-me-42", Duration::from_secs(10));
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["span"]["request_id"], "trace-me-42");
    assert_eq!(entry["status"], 404);
    assert!(server.terminate().success());
}

#[test]
fn configuration_errors_exit_non_zero_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("DOCUVAULT__SERVER__PORT", "not-a-port")], "server.port"),
        (
            &[("DOCUVAULT__STORAGE__BACKEND", "s3")],
            "storage.s3.endpoint",
        ),
        (
            &[("DOCUVAULT__ENVIRONMENT", "production")],
            "security.secret_key (SECRET_KEY)",
        ),
        (
            &[("DATABASE_URL", "mysql://db/x")],
            "database.url (DATABASE_URL)",
        ),
        (
            &[("SECRET_KEY", docuvault::crypto::PUBLISHED_DEVELOPMENT_KEY)],
            "the development key published in DocuVault's repository",
        ),
        (
            &[
                ("DOCUVAULT__ENVIRONMENT", "production"),
                (
                    "SECRET_KEY",
                    "a-production-key-that-is-long-enough-0123456789",
                ),
            ],
            "server.public_url: required in production",
        ),
        (&[("DOCUVAULT__QUEUE__BACKEND", "kafka")], "backend"),
    ];
    for (vars, key) in cases {
        let mut cmd = docuvault(dir.path());
        cmd.arg("serve");
        for (k, v) in *vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{vars:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(key), "{key} not in {stderr}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing created before config is valid"
    );

    let out = docuvault(dir.path())
        .args(["--config", "missing.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn an_unusable_data_directory_fails_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("occupied"), b"a file, not a directory").unwrap();
    let out = docuvault(dir.path())
        .env("DOCUVAULT__DATA_DIR", "occupied/data")
        .env("DOCUVAULT__SERVER__PORT", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("data directory occupied/data"), "{stderr}");
}

#[test]
fn migrate_is_idempotent_and_openapi_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = docuvault(dir.path()).arg("migrate").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("data/docuvault.db").is_file());

    let out = docuvault(dir.path()).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["info"]["title"], "DocuVault API");
    assert_eq!(printed["openapi"], "3.1.0");
    let out = docuvault(dir.path())
        .args(["openapi", "--openapi-version", "3.0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // Byte for byte what `GET /api/openapi-3.0.json` serves (tests/it/api.rs).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        docuvault::openapi::document_json_3_0()
    );

    let version = docuvault(dir.path()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
    let help = docuvault(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in ["serve", "migrate", "openapi", "--config"] {
        assert!(help.contains(word), "{word} missing from --help");
    }
}

#[test]
fn openapi_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    // `docuvault openapi | head -c 100`: the document is larger than a pipe buffer, so the
    // writer meets a closed pipe; that is the reader's choice, not a crash.
    let mut child = docuvault(dir.path())
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(String::from_utf8_lossy(&first).contains("openapi") || first.starts_with(b"{"));
}

#[tokio::test]
async fn admin_create_makes_an_admin_who_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = docuvault(dir.path())
        .args([
            "admin",
            "create",
            "--email",
            "Root@Example.com",
            "--handle",
            "root",
        ])
        .env("DOCUVAULT_ADMIN_PASSWORD", "cli admin password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin root"));

    let again = docuvault(dir.path())
        .args([
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--handle",
            "root2",
        ])
        .env("DOCUVAULT_ADMIN_PASSWORD", "cli admin password")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "duplicate e-mail is refused");

    let mut cmd = docuvault(dir.path());
    cmd.env("DOCUVAULT__SERVER__PORT", "0");
    let mut server = Server::start(cmd);
    let port = server.port();
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/auth/login"))
        .json(&serde_json::json!({"login": "root@example.com", "password": "cli admin password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["password_must_change"], false);
    assert!(server.terminate().success());
}

/// `POST path` with JSON to a server on `port`; returns (status, body).
async fn post(
    port: u16,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn me(port: u16, access: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs `handle` in with password and a TOTP code; returns the status. Enrolment spent
/// the step of its moment, so the next step's code (accepted: ±1 step) is used.
async fn totp_login(port: u16, handle: &str, secret: &[u8]) -> u16 {
    let code = docuvault::auth::totp::code_at(secret, common::now() + 30);
    post(
        port,
        "/api/auth/login",
        None,
        serde_json::json!({"login": handle, "password": common::PASSWORD, "totp_code": code}),
    )
    .await
    .0
}

/// Registers `handle` and turns TOTP on; returns the session, the TOTP secret and one
/// backup code.
async fn enrol(port: u16, handle: &str) -> (common::Session, Vec<u8>, String) {
    let (status, body) = post(
        port,
        "/api/auth/register",
        None,
        serde_json::json!({"handle": handle, "email": format!("{handle}@example.com"), "password": common::PASSWORD}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let session = common::Session::from_body(body);
    let (status, setup) = post(
        port,
        "/api/auth/totp/setup",
        Some(&session.access),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let secret = common::base32_decode(setup["secret"].as_str().unwrap());
    let code = docuvault::auth::totp::code_at(&secret, common::now());
    let (status, enabled) = post(
        port,
        "/api/auth/totp/enable",
        Some(&session.access),
        serde_json::json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200);
    let backup = enabled["backup_codes"][0].as_str().unwrap().to_owned();
    (session, secret, backup)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_secret_key_is_generated_once_kept_across_restarts_and_rotated_without_losing_totp() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("data/secret.key");
    let serve = || {
        let mut cmd = docuvault(dir.path());
        cmd.env("DOCUVAULT__SERVER__PORT", "0");
        cmd
    };

    // First start: a private key file with 32 random bytes in hex; the log names the
    // file, never the key.
    let mut server = Server::start(serve());
    let port = server.port();
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(mode(&key_file), 0o600);
    let hex = key.trim_end_matches('\n');
    assert_eq!(hex.len(), 64, "{key:?}");
    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        server
            .seen
            .iter()
            .any(|l| l.contains("generated a new random secret key") && l.contains("secret.key")),
        "{:?}",
        server.seen
    );

    let (first, secret, backup_code) = enrol(port, "keeper").await;
    // A second account with TOTP, signing in only after the second rotation.
    let (_, second_secret, _) = enrol(port, "keeper2").await;
    assert!(server.terminate().success());

    // Second start: the same key, so the token from the first run still works.
    let mut server = Server::start(serve());
    let port = server.port();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    assert!(server.seen.iter().any(|l| l.contains("secret key from")));
    assert_eq!(me(port, &first.access).await, 200);
    assert!(server.terminate().success());
    for line in &server.seen {
        assert!(!line.contains(hex), "the key was logged: {line}");
    }

    // Rotation with the key file: a new key, sealed data follows, sessions end.
    let out = docuvault(dir.path()).arg("rotate-secret").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-sealed 2 TOTP secret(s)"), "{stdout}");
    assert!(!stdout.contains(hex));
    let rotated = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(rotated, key);
    assert_eq!(rotated.trim_end().len(), 64);
    assert_eq!(mode(&key_file), 0o600);
    assert!(!stdout.contains(rotated.trim_end()));
    assert!(!dir.path().join("data/secret.key.new").exists());

    let mut server = Server::start(serve());
    let port = server.port();
    assert_eq!(me(port, &first.access).await, 401, "old access token");
    let (status, _) = post(
        port,
        "/api/auth/refresh",
        None,
        serde_json::json!({"refresh_token": first.refresh}),
    )
    .await;
    assert_eq!(status, 401, "old refresh token");
    let (status, _) = post(
        port,
        "/api/auth/login",
        None,
        serde_json::json!({"login": "keeper", "password": common::PASSWORD, "backup_code": backup_code}),
    )
    .await;
    assert_eq!(
        status, 401,
        "backup codes end with the key that hashed them"
    );
    // Enabling spent the step of `now`; the next step's code is accepted once.
    assert_eq!(totp_login(port, "keeper", &secret).await, 200);
    assert!(server.terminate().success());

    // Rotation with SECRET_KEY: the new key must be given; then SECRET_KEY is set to it.
    let current = rotated.trim_end().to_owned();
    let out = docuvault(dir.path())
        .arg("rotate-secret")
        .env("SECRET_KEY", &current)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DOCUVAULT_NEW_SECRET_KEY"));
    let next = "an-operator-chosen-key-0123456789abcdef0123456789";
    let out = docuvault(dir.path())
        .arg("rotate-secret")
        .env("SECRET_KEY", &current)
        .env("DOCUVAULT_NEW_SECRET_KEY", next)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("set SECRET_KEY"));
    let mut cmd = serve();
    cmd.env("SECRET_KEY", next);
    let mut server = Server::start(cmd);
    let port = server.port();
    assert_eq!(totp_login(port, "keeper2", &second_secret).await, 200);
    assert!(server.terminate().success());
}

/// `N` distinct free local ports (bound together, read and released) for a server whose
/// log cannot be read.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<_> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// Registers an account on the server at `base` and returns its access token.
async fn register(client: &reqwest::Client, base: &str, handle: &str) -> String {
    let res = client
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({
            "handle": handle,
            "email": format!("{handle}@example.com"),
            "password": "correct horse battery staple",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_request_log_never_records_a_signed_storage_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = docuvault(dir.path());
    cmd.env("DOCUVAULT__SERVER__PORT", "0")
        .env("DOCUVAULT__STORAGE__BACKEND", "local")
        .env("DOCUVAULT__LOG__LEVEL", "debug");
    let mut server = Server::start(cmd);
    let base = format!("http://127.0.0.1:{}", server.port());
    let client = reqwest::Client::new();
    let access = register(&client, &base, "logreader").await;

    let bytes = b"the log must not be a key to this file".to_vec();
    let ticket: serde_json::Value = client
        .post(format!("{base}/api/documents/upload-url"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"filename": "secret.txt", "content_type": "text/plain", "size_bytes": bytes.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload_url = ticket["upload_url"].as_str().unwrap().to_owned();
    let mut put = client.put(&upload_url);
    for (k, v) in ticket["headers"].as_object().unwrap() {
        put = put.header(k.as_str(), v.as_str().unwrap());
    }
    assert!(
        put.body(bytes.clone())
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let id = ticket["document_id"].as_str().unwrap();
    let confirm = client
        .post(format!("{base}/api/documents/{id}/confirm"))
        .bearer_auth(&access)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let download: serde_json::Value = client
        .get(format!("{base}/api/documents/{id}/download"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let download_url = download["url"].as_str().unwrap().to_owned();
    let fetched = client.get(&download_url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Secrets in a query string are not logged either, wherever they are sent.
    let queried = client
        .get(format!(
            "{base}/api/documents?token=querysecret1&X-Amz-Signature=querysecret2&sig=querysecret3"
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(queried.status(), 200);

    // Every line logged before this request's completion line has been read.
    client
        .get(format!("{base}/health"))
        .header("x-request-id", "end-of-log-check")
        .send()
        .await
        .unwrap();
    server.wait_for_line("end-of-log-check", Duration::from_secs(10));
    let log = server.seen.join("\n");

    let token_of = |url: &str| url.split("/storage/").nth(1).unwrap().to_owned();
    let (up, down) = (token_of(&upload_url), token_of(&download_url));
    for secret in [
        up.as_str(),
        down.as_str(),
        up.rsplit('.').next().unwrap(),
        down.rsplit('.').next().unwrap(),
        "querysecret1",
        "querysecret2",
        "querysecret3",
        access.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    let storage_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("route=/storage/{token}") && l.contains("request completed"))
        .collect();
    assert_eq!(storage_lines.len(), 2, "PUT and GET of the file:\n{log}");
    assert!(
        storage_lines
            .iter()
            .all(|l| l.contains("path=/storage/[redacted]")),
        "{storage_lines:?}"
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_log_on_a_full_disk_never_takes_a_request_down() {
    let dir = tempfile::tempdir().unwrap();
    let [port, metrics_port] = free_ports();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    // Every write to stdout and stderr fails with ENOSPC, as on a full log disk.
    let child = docuvault(dir.path())
        .env("DOCUVAULT__SERVER__PORT", port.to_string())
        .env(
            "DOCUVAULT__METRICS__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("DOCUVAULT__LOG__LEVEL", "debug")
        .stdout(full())
        .stderr(full())
        .spawn()
        .unwrap();
    let (_, lines) = mpsc::channel();
    let mut server = Server {
        child,
        lines,
        seen: Vec::new(),
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if let Ok(res) = client.get(format!("{base}/health")).send().await {
            break res;
        }
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the server exited: {:?}",
            server.child.try_wait()
        );
        assert!(Instant::now() < deadline, "no answer on {base}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health.status(), 200);
    let access = register(&client, &base, "fulldisk").await;
    let login = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"login": "fulldisk", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let listed = client
        .get(format!("{base}/api/documents"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let metrics = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("docuvault_log_lines_dropped_total "))
        .unwrap_or_else(|| panic!("no dropped-lines counter in:\n{metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert!(dropped > 0, "{metrics}");
    assert!(server.terminate().success());
}
