//! Test harness: spawns the real application on a random port with a fresh database
//! (SQLite always; PostgreSQL, Redis and S3 when `DOCUVAULT_TEST_*` say so).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod db;
pub mod dovecot;
pub mod fake_http;
pub mod samples;
pub mod smtp;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use docuvault::settings::Settings;
use docuvault::startup::Application;
use docuvault::state::AppState;
use tempfile::TempDir;

pub use db::TestDb;

/// A running application and the resources it owns for one test.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// Bound port.
    pub port: u16,
    /// HTTP client (no redirects followed).
    pub client: reqwest::Client,
    /// The application's state, for reaching backends directly.
    pub state: AppState,
    /// Settings the app runs with.
    pub settings: Settings,
    handle: ServerHandle,
    _db: TestDb,
    _dir: TempDir,
    env: HashMap<String, String>,
}

/// Environment the test backends need, from `DOCUVAULT_TEST_*`.
pub fn backend_env(data_dir: &std::path::Path, db_url: &str) -> HashMap<String, String> {
    let mut env = HashMap::new();
    let id = uuid::Uuid::new_v4().simple().to_string();
    env.insert("DOCUVAULT__DATA_DIR".into(), data_dir.display().to_string());
    env.insert("DOCUVAULT__SERVER__HOST".into(), "127.0.0.1".into());
    env.insert("DOCUVAULT__SERVER__PORT".into(), "0".into());
    env.insert("DOCUVAULT__SERVER__WORKERS".into(), "2".into());
    env.insert("DOCUVAULT__DATABASE__URL".into(), db_url.into());
    env.insert("DOCUVAULT__DATABASE__MAX_CONNECTIONS".into(), "5".into());
    env.insert("DOCUVAULT__LOG__LEVEL".into(), "warn".into());
    // The test binary is not docuvault: extraction children run the real binary.
    env.insert(
        "DOCUVAULT__EXTRACT__EXECUTABLE".into(),
        env!("CARGO_BIN_EXE_docuvault").into(),
    );
    env.insert("DOCUVAULT__JOBS__SWEEP_INTERVAL_SECS".into(), "1".into());
    env.insert("DOCUVAULT__JOBS__LEASE_SECS".into(), "5".into());
    if let Ok(url) = std::env::var("DOCUVAULT_TEST_REDIS_URL") {
        env.insert("DOCUVAULT__QUEUE__REDIS_URL".into(), url);
        env.insert(
            "DOCUVAULT__QUEUE__KEY_PREFIX".into(),
            format!("dvtest:{id}:"),
        );
    }
    if let Ok(endpoint) = std::env::var("DOCUVAULT_TEST_S3_ENDPOINT") {
        let var = |name: &str| {
            std::env::var(name)
                .unwrap_or_else(|_| panic!("{name} must be set with DOCUVAULT_TEST_S3_ENDPOINT"))
        };
        env.insert("DOCUVAULT__STORAGE__S3__ENDPOINT".into(), endpoint);
        env.insert(
            "DOCUVAULT__STORAGE__S3__ACCESS_KEY".into(),
            var("DOCUVAULT_TEST_S3_ACCESS_KEY"),
        );
        env.insert(
            "DOCUVAULT__STORAGE__S3__SECRET_KEY".into(),
            var("DOCUVAULT_TEST_S3_SECRET_KEY"),
        );
        env.insert(
            "DOCUVAULT__STORAGE__S3__REGION".into(),
            std::env::var("DOCUVAULT_TEST_S3_REGION").unwrap_or_else(|_| "dv-test".into()),
        );
        env.insert(
            "DOCUVAULT__STORAGE__S3__BUCKET".into(),
            // Short: s3s-fs names a multipart upload's metadata file after the base64 of
            // bucket and key, and a document's keys are long (255-byte file names).
            format!("dvt{}", &id[..8]),
        );
    }
    env
}

/// Which backends this test run uses, as `/health` names them.
pub fn expected_backends() -> (&'static str, &'static str, &'static str) {
    let set = |name: &str| std::env::var(name).is_ok();
    (
        if set("DOCUVAULT_TEST_POSTGRES_URL") {
            "postgres"
        } else {
            "sqlite"
        },
        if set("DOCUVAULT_TEST_S3_ENDPOINT") {
            "s3"
        } else {
            "local"
        },
        if set("DOCUVAULT_TEST_REDIS_URL") {
            "redis"
        } else {
            "memory"
        },
    )
}

impl TestApp {
    /// Spawns the app on the test backends.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns the app after `customize` edits its environment.
    pub async fn spawn_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        let db = TestDb::fresh().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = backend_env(&dir.path().join("data"), &db.url);
        customize(&mut env);
        Self::spawn_on(db, dir, env).await
    }

    /// Stops this app and starts another on the same database, data directory and
    /// backends (a restart), after `customize` edits its environment.
    pub async fn restart_with(self, customize: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        self.stop().await;
        let TestApp {
            _db, _dir, mut env, ..
        } = self;
        customize(&mut env);
        Self::spawn_on(_db, _dir, env).await
    }

    async fn spawn_on(db: TestDb, dir: TempDir, env: HashMap<String, String>) -> Self {
        let settings = Settings::load(None, &env).expect("test settings load");
        let app = Application::build(settings.clone())
            .await
            .expect("application builds");
        let port = app.port();
        let state = app.state().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        // Idle connections are dropped well before the server's keep-alive (actix: 5 s)
        // closes them, so a request never races the server's close on a reused
        // connection (`IncompleteMessage` under load).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client,
            state,
            settings,
            handle,
            _db: db,
            _dir: dir,
            env,
        }
    }

    /// Absolute URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// `GET /health`.
    pub async fn health(&self) -> reqwest::Response {
        self.get("/health").await
    }

    /// `POST path` with a JSON body and an optional bearer token.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// `POST path` with a raw body sent as `content_type` (malformed JSON, wrong media
    /// type) and an optional bearer token.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// `method path` with a bearer token and an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        payload: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(p) = payload {
            req = req.json(p);
        }
        req.send().await.expect("request")
    }

    /// `PATCH path` with a JSON body and a bearer token.
    pub async fn patch_auth(
        &self,
        path: &str,
        token: &str,
        payload: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, token, Some(payload))
            .await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, token, None).await
    }

    /// `GET path` with a bearer token.
    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Registers `handle` (e-mail `handle@example.com`, password [`PASSWORD`]) and
    /// returns the session (access and refresh token, user id).
    pub async fn register(&self, handle: &str) -> Session {
        let res = self
            .post_json(
                "/api/auth/register",
                None,
                &serde_json::json!({
                    "handle": handle,
                    "email": format!("{handle}@example.com"),
                    "password": PASSWORD,
                }),
            )
            .await;
        assert_eq!(res.status(), 201, "register {handle}");
        Session::from_body(res.json().await.unwrap())
    }

    /// Logs in with `login` / `password` (no second factor) and returns the session.
    pub async fn login(&self, login: &str, password: &str) -> Session {
        let res = self
            .post_json(
                "/api/auth/login",
                None,
                &serde_json::json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(res.status(), 200, "login {login}");
        Session::from_body(res.json().await.unwrap())
    }

    /// Creates an admin account directly through the service layer and logs it in.
    pub async fn admin(&self, handle: &str) -> Session {
        use docuvault::domain::{Email, Handle, Password};
        docuvault::auth::service::create_account(
            &self.state,
            &Handle::parse(handle).unwrap(),
            &Email::parse(&format!("{handle}@example.com")).unwrap(),
            &Password::parse(PASSWORD).unwrap(),
            docuvault::entities::users::Role::Admin,
            false,
        )
        .await
        .unwrap();
        self.login(handle, PASSWORD).await
    }

    /// `POST /api/documents/upload-url`; returns the response body (status asserted 200).
    pub async fn upload_url(
        &self,
        s: &Session,
        filename: &str,
        content_type: &str,
        size: usize,
    ) -> serde_json::Value {
        let res = self
            .post_json(
                "/api/documents/upload-url",
                Some(&s.access),
                &serde_json::json!({"filename": filename, "content_type": content_type, "size_bytes": size}),
            )
            .await;
        assert_eq!(res.status(), 200, "upload-url {filename}");
        res.json().await.unwrap()
    }

    /// `PUT`s `bytes` to a ticket's URL exactly as a browser would.
    pub async fn put_bytes(&self, ticket: &serde_json::Value, bytes: Vec<u8>) -> reqwest::Response {
        let mut req = self.client.put(ticket["upload_url"].as_str().unwrap());
        for (k, v) in ticket["headers"].as_object().unwrap() {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
        req.body(bytes).send().await.expect("PUT")
    }

    /// `POST /api/documents/{id}/confirm`.
    pub async fn confirm(&self, s: &Session, id: &str) -> reqwest::Response {
        self.post_json(
            &format!("/api/documents/{id}/confirm"),
            Some(&s.access),
            &serde_json::json!({}),
        )
        .await
    }

    /// The whole upload flow; returns the document id.
    pub async fn upload(
        &self,
        s: &Session,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        let ticket = self
            .upload_url(s, filename, content_type, bytes.len())
            .await;
        let put = self.put_bytes(&ticket, bytes).await;
        assert!(put.status().is_success(), "PUT {}", put.status());
        let id = ticket["document_id"].as_str().unwrap().to_owned();
        let res = self.confirm(s, &id).await;
        assert_eq!(res.status(), 200, "confirm {filename}");
        id
    }

    /// The environment the app was configured from (to run the real binary on the same
    /// database, data directory and backends).
    pub fn env(&self) -> &HashMap<String, String> {
        &self.env
    }

    /// Stops the server gracefully.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// The password test accounts are created with.
pub const PASSWORD: &str = "correct horse battery staple";

/// Tokens of a signed-in test account.
#[derive(Debug, Clone)]
pub struct Session {
    /// Bearer access token.
    pub access: String,
    /// Refresh token (body delivery).
    pub refresh: String,
    /// Account id.
    pub user_id: String,
}

impl Session {
    /// Reads a token response body.
    pub fn from_body(body: serde_json::Value) -> Self {
        Session {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            user_id: body["user"]["id"].as_str().expect("user.id").to_owned(),
        }
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// RFC 4648 base32 (padding optional) to bytes.
pub fn base32_decode(s: &str) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(s.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("{s:?} is not base32: {e:?}"))
        .as_bytes()
        .to_vec()
}

/// The JSON body of a response (every API response is JSON).
pub async fn body(res: reqwest::Response) -> serde_json::Value {
    let status = res.status();
    res.json()
        .await
        .unwrap_or_else(|e| panic!("a JSON body with {status}: {e}"))
}

/// The real `docuvault` binary, as a command run in `cwd` with an empty environment but
/// `PATH` (the caller adds the settings it means), stdin closed.
pub fn docuvault_command(cwd: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_docuvault"));
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs the real binary with `app`'s settings from a temporary directory (a CLI command
/// such as `export` or `import`); (success, stdout, stderr).
pub fn run_cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let cwd = tempfile::tempdir().unwrap();
    let out = docuvault_command(cwd.path())
        .envs(app.env())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small tmpfs mounted on a directory for one test, unmounted (lazily) when dropped.
/// Each test mounts on its own temporary directory, so tests in one process never share
/// one. Needs root / CAP_SYS_ADMIN (CI runs tests as root): without it the test fails
/// here, naming what is missing, instead of skipping.
pub struct Tmpfs {
    dir: std::path::PathBuf,
    _owned: Option<TempDir>,
}

impl Tmpfs {
    /// Mounts `size` (e.g. `512k`, `48m`) of tmpfs on a new temporary directory.
    pub fn mount(size: &str) -> Tmpfs {
        let owned = tempfile::tempdir().unwrap();
        let mut tmpfs = Tmpfs::mount_on(owned.path(), size);
        tmpfs._owned = Some(owned);
        tmpfs
    }

    /// Mounts `size` of tmpfs on `dir` (created if missing).
    pub fn mount_on(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a {size} tmpfs and needs root (mount -t tmpfs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_owned(),
            _owned: None,
        }
    }

    /// The mounted directory.
    pub fn path(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

/// Creates the topic `name` for `s` (`POST /api/topics`, 201) and returns its id.
pub async fn create_topic(
    app: &TestApp,
    s: &Session,
    name: &str,
    description: Option<&str>,
) -> uuid::Uuid {
    let res = app
        .post_json(
            "/api/topics",
            Some(&s.access),
            &serde_json::json!({"name": name, "description": description}),
        )
        .await;
    assert_eq!(res.status(), 201, "create topic {name}");
    body(res).await["id"].as_str().unwrap().parse().unwrap()
}

/// Enrols TOTP for the session; returns (secret bytes, backup codes).
pub async fn enable_totp(app: &TestApp, s: &Session) -> (Vec<u8>, Vec<String>) {
    let setup = app
        .post_json(
            "/api/auth/totp/setup",
            Some(&s.access),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(setup.status(), 200);
    let setup = setup.json::<serde_json::Value>().await.unwrap();
    assert!(setup["qr_svg"].as_str().unwrap().contains("</svg>"));
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let secret = base32_decode(setup["secret"].as_str().unwrap());
    let code = docuvault::auth::totp::code_at(&secret, now());
    let enabled = app
        .post_json(
            "/api/auth/totp/enable",
            Some(&s.access),
            &serde_json::json!({"code": code}),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let codes: Vec<String> = enabled.json::<serde_json::Value>().await.unwrap()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Statuses a document can end in.
pub const TERMINAL: [&str; 3] = ["classified", "unclassified", "failed"];

/// `GET /api/documents/{id}` as `s`, which must answer 200.
pub async fn document(app: &TestApp, s: &Session, id: &str) -> serde_json::Value {
    let res = app
        .get_auth(&format!("/api/documents/{id}"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `GET /api/documents/{id}/text` (text and per-page provenance) as `s`, which must
/// answer 200.
pub async fn text_of(app: &TestApp, s: &Session, id: &str) -> serde_json::Value {
    let res = app
        .get_auth(&format!("/api/documents/{id}/text"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits (up to 90 s) until the document reaches a terminal status; returns its view.
pub async fn wait_processed(app: &TestApp, s: &Session, id: &str) -> serde_json::Value {
    poll_until(
        Duration::from_secs(90),
        &format!("document {id} to be processed"),
        || async {
            let res = app
                .get_auth(&format!("/api/documents/{id}"), &s.access)
                .await;
            assert_eq!(res.status(), 200);
            let doc: serde_json::Value = res.json().await.unwrap();
            TERMINAL
                .contains(&doc["status"].as_str().unwrap_or_default())
                .then_some(doc)
        },
    )
    .await
}

/// Polls `probe` until it returns `Some`, or panics after `deadline`.
pub async fn poll_until<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stores `text` as the extracted text of document `id`, as the pipeline does.
pub async fn set_text(app: &TestApp, id: uuid::Uuid, text: impl Into<String>) {
    docuvault::documents::texts::store(&app.state.db, id, text.into(), None)
        .await
        .unwrap();
}

/// A document row of `owner` as the upload flow leaves it (`pending`, an empty `x.pdf`
/// under a key of its own), for tests that set up state directly: callers change the
/// fields they need, then insert. Columns not set here keep their database defaults, so
/// a new column needs no change in the tests.
pub fn document_row(owner: uuid::Uuid) -> docuvault::entities::documents::ActiveModel {
    use sea_orm::Set;
    let id = uuid::Uuid::new_v4();
    let now = docuvault::time::now();
    docuvault::entities::documents::ActiveModel {
        id: Set(id),
        user_id: Set(owner),
        filename: Set("x.pdf".into()),
        object_key: Set(format!("{owner}/{id}/{}.pdf", uuid::Uuid::new_v4())),
        content_type: Set("application/pdf".into()),
        storage_backend: Set("local".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}
