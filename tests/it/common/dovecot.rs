//! A private Dovecot IMAP server for one test: its own temporary directory (config,
//! passwd file, maildirs, runtime and state directories), 127.0.0.1 on a free port,
//! plain IMAP (`ssl = no`), one user with a random password, run in the foreground (`-F`)
//! and stopped when dropped. Nothing of the system-wide Dovecot set-up is used.
//!
//! Run as the current user; as root (CI), Dovecot refuses to run its login processes or
//! mail access as root, so those use the `dovenull` and `dovecot` users the Debian
//! package creates.
//!
//! `DOCUVAULT_TEST_DOVECOT=1` (CI) makes a missing Dovecot a failure; without it the mail
//! intake tests print a notice and pass on machines without Dovecot, like the OCR tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The Dovecot binary of Debian's `dovecot-core`.
const DOVECOT: &str = "/usr/sbin/dovecot";

/// How long Dovecot may take to answer on its port.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Whether a missing Dovecot fails the tests (`DOCUVAULT_TEST_DOVECOT=1`).
pub fn required() -> bool {
    std::env::var("DOCUVAULT_TEST_DOVECOT").is_ok_and(|v| v == "1")
}

/// A running private Dovecot.
pub struct Dovecot {
    dir: TempDir,
    child: Child,
    /// The IMAP port on 127.0.0.1.
    pub port: u16,
    /// The one user's login.
    pub username: String,
    /// Its password.
    pub password: String,
}

/// Login and mail users: the current user, or Dovecot's own users when that is root.
fn users() -> (String, String, u32, u32) {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if uid == 0 {
        let id = |flag: &str, user: &str| -> u32 {
            let out = std::process::Command::new("id")
                .args([flag, user])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "no user {user} (dovecot-core creates it)"
            );
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        (
            "dovenull".to_owned(),
            "dovecot".to_owned(),
            id("-u", "dovecot"),
            id("-g", "dovecot"),
        )
    } else {
        let out = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let me = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (me.clone(), me, uid, gid)
    }
}

impl Dovecot {
    /// Starts one, or returns `None` (after a notice) when Dovecot is not installed and
    /// not required.
    pub async fn start() -> Option<Dovecot> {
        if !Path::new(DOVECOT).exists() {
            let what = "the mail intake tests need Dovecot (apt-get install -y dovecot-imapd)";
            assert!(!required(), "DOCUVAULT_TEST_DOVECOT=1 but {what}");
            eprintln!("NOTICE: skipped: {what}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("dv-dovecot-")
            .tempdir()
            .unwrap();
        // Dovecot's unprivileged processes must reach their sockets in here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (login_user, internal_user, mail_uid, mail_gid) = users();
        let root = dir.path();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        std::os::unix::fs::chown(root.join("mail"), Some(mail_uid), Some(mail_gid)).unwrap();
        let username = "intake".to_owned();
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        std::fs::write(
            root.join("passwd"),
            format!("{username}:{{PLAIN}}{password}::::::\n"),
        )
        .unwrap();
        let port = super::smtp::free_port();
        let config = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = dv-test-{port}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_user}
first_valid_uid = 0
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"#,
            root = root.display()
        );
        let conf = root.join("dovecot.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let server = Dovecot {
            dir,
            child,
            port,
            username,
            password,
        };
        server.wait_ready().await;
        Some(server)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Waits until Dovecot greets on its port.
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)).await {
                let mut buf = [0u8; 64];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await
                    && buf[..n].starts_with(b"* OK")
                {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "dovecot did not answer on 127.0.0.1:{} within {START_DEADLINE:?}; log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The temporary directory (maildirs under `mail/<user>`).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A logged-in IMAP session of the test user.
    pub async fn session(&self) -> async_imap::Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login(&self.username, &self.password)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// Delivers `raw` (an RFC 5322 message) into `mailbox` by IMAP APPEND.
    pub async fn deliver(&self, mailbox: &str, raw: &[u8]) {
        let mut s = self.session().await;
        s.append(mailbox, None, None, raw).await.unwrap();
        s.logout().await.unwrap();
    }

    /// Creates `mailbox`.
    pub async fn create_mailbox(&self, mailbox: &str) {
        let mut s = self.session().await;
        s.create(mailbox).await.unwrap();
        s.logout().await.unwrap();
    }

    /// UIDs of the messages in `mailbox` matching the IMAP search `query`.
    pub async fn search(&self, mailbox: &str, query: &str) -> Vec<u32> {
        let mut s = self.session().await;
        s.select(mailbox).await.unwrap();
        let mut uids: Vec<u32> = s.uid_search(query).await.unwrap().into_iter().collect();
        uids.sort_unstable();
        s.logout().await.unwrap();
        uids
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; kill_on_drop is the fallback.
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling our own child by its pid.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
    }
}
