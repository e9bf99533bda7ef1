//! The IMAP side of the intake: connect (implicit TLS, STARTTLS or plain), log in, open
//! the mailbox, list the messages to take, fetch them, and mark or move them afterwards.
//!
//! TLS is rustls with the ring provider and the webpki root certificates: the server's
//! certificate must be valid for the host name. Messages are fetched with `BODY.PEEK`,
//! so reading alone never marks them seen; the size (`RFC822.SIZE`) and header come
//! first, the body only for messages within the size limit (and no more than that limit
//! is asked for).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::Fetch;
use futures_util::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// How the connection to the IMAP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS, usually port 993).
    Tls,
    /// Plain connection upgraded with `STARTTLS` before logging in (usually port 143).
    Starttls,
    /// No encryption (only for a server on a trusted network).
    None,
}

/// Where and as whom to log in. Sealed at rest; never returned by the API.
#[derive(Clone, Serialize, Deserialize)]
pub struct Server {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub tls: TlsMode,
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why talking to the server failed; the message is shown to the account's owner as
/// `last_error`, so it names the step and the server's answer, never the password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImapError(pub String);

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The byte stream under the IMAP client: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

/// A logged-in session with the mailbox selected.
pub struct Mailbox {
    session: async_imap::Session<Box<dyn Io>>,
    can_move: bool,
}

/// A message's size and header, fetched before deciding whether to read it.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Its UID in the selected mailbox.
    pub uid: u32,
    /// `RFC822.SIZE`.
    pub size: u64,
    /// The raw header.
    pub header: Vec<u8>,
}

fn tls_config() -> Result<Arc<ClientConfig>, ImapError> {
    let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ImapError(format!("TLS set-up failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn greeting(client: &mut async_imap::Client<Box<dyn Io>>) -> Result<(), ImapError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(ImapError(
            "the server closed the connection without a greeting".to_owned(),
        )),
        Ok(Err(e)) => Err(ImapError(format!(
            "reading the server greeting failed: {e}"
        ))),
        Err(_) => Err(ImapError(
            "the server sent no greeting in time (is this an IMAP port, and the right TLS mode?)"
                .to_owned(),
        )),
    }
}

/// Connects, logs in and selects `mailbox`. The host must be, and resolve to, public
/// addresses only, unless `allowed` (listed in `mail_intake.allowed_hosts`); the
/// connection goes to exactly the addresses checked.
///
/// # Errors
///
/// Forbidden address, connection, TLS, login or mailbox failures, each named.
pub async fn open(server: &Server, mailbox: &str, allowed: bool) -> Result<Mailbox, ImapError> {
    let address = format!("{}:{}", server.host, server.port);
    let addrs = crate::webhooks::target::resolve_host(&server.host, server.port, allowed)
        .await
        .map_err(|e| ImapError(e.to_string()))?;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| ImapError(format!("connecting to {address} timed out")))?
        .map_err(|e| ImapError(format!("could not connect to {address}: {e}")))?;
    let client = match server.tls {
        TlsMode::Tls => {
            let mut client = async_imap::Client::new(secure(Box::new(tcp), &server.host).await?);
            greeting(&mut client).await?;
            client
        }
        TlsMode::Starttls => {
            let mut plain = async_imap::Client::new(Box::new(tcp) as Box<dyn Io>);
            greeting(&mut plain).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ImapError(format!("the server refused STARTTLS: {e}")))?;
            // No greeting after STARTTLS.
            async_imap::Client::new(secure(plain.into_inner(), &server.host).await?)
        }
        TlsMode::None => {
            let mut client = async_imap::Client::new(Box::new(tcp) as Box<dyn Io>);
            greeting(&mut client).await?;
            client
        }
    };
    let mut session = client
        .login(&server.username, &server.password)
        .await
        .map_err(|(e, _)| match e {
            async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                ImapError(format!("the server refused the login: {}", text.trim()))
            }
            other => ImapError(format!("logging in failed: {other}")),
        })?;
    session
        .select(mailbox)
        .await
        .map_err(|e| ImapError(format!("mailbox {mailbox:?} could not be opened: {e}")))?;
    let can_move = session
        .capabilities()
        .await
        .map(|c| c.has_str("MOVE"))
        .unwrap_or(false);
    Ok(Mailbox { session, can_move })
}

/// TLS over `inner` (a fresh connection, or one after STARTTLS), checked for `host`.
async fn secure(inner: Box<dyn Io>, host: &str) -> Result<Box<dyn Io>, ImapError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| ImapError(format!("{host:?} is not a valid TLS server name")))?;
    let connector = TlsConnector::from(tls_config()?);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, inner))
        .await
        .map_err(|_| ImapError("the TLS handshake timed out".to_owned()))?
        .map_err(|e| ImapError(format!("the TLS handshake failed: {e}")))?;
    Ok(Box::new(stream))
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Mailbox {
    /// UIDs of the messages to take, oldest first, at most `limit`: unseen ones when
    /// `unseen_only`, else every message not marked deleted.
    ///
    /// # Errors
    ///
    /// The search failed.
    pub async fn candidates(
        &mut self,
        unseen_only: bool,
        limit: usize,
    ) -> Result<Vec<u32>, ImapError> {
        let query = if unseen_only {
            "UNSEEN UNDELETED"
        } else {
            "UNDELETED"
        };
        let mut uids: Vec<u32> = self
            .session
            .uid_search(query)
            .await
            .map_err(|e| ImapError(format!("searching the mailbox failed: {e}")))?
            .into_iter()
            .collect();
        uids.sort_unstable();
        uids.truncate(limit);
        Ok(uids)
    }

    /// Size and header of each message in `uids`.
    ///
    /// # Errors
    ///
    /// The fetch failed.
    pub async fn envelopes(&mut self, uids: &[u32]) -> Result<Vec<Envelope>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let fetches: Vec<Fetch> = self
            .session
            .uid_fetch(uid_set(uids), "(UID RFC822.SIZE BODY.PEEK[HEADER])")
            .await
            .map_err(|e| ImapError(format!("fetching message headers failed: {e}")))?
            .try_collect()
            .await
            .map_err(|e| ImapError(format!("fetching message headers failed: {e}")))?;
        let mut out: Vec<Envelope> = fetches
            .iter()
            .filter_map(|f| {
                Some(Envelope {
                    uid: f.uid?,
                    size: u64::from(f.size.unwrap_or(0)),
                    header: f.header().unwrap_or_default().to_vec(),
                })
            })
            .collect();
        out.sort_by_key(|e| e.uid);
        out.dedup_by_key(|e| e.uid);
        Ok(out)
    }

    /// The whole message `uid`, at most `max_bytes` of it.
    ///
    /// # Errors
    ///
    /// The fetch failed or returned no body (the message vanished meanwhile).
    pub async fn message(&mut self, uid: u32, max_bytes: u64) -> Result<Vec<u8>, ImapError> {
        let fetches: Vec<Fetch> = self
            .session
            .uid_fetch(uid.to_string(), format!("(UID BODY.PEEK[]<0.{max_bytes}>)"))
            .await
            .map_err(|e| ImapError(format!("fetching message {uid} failed: {e}")))?
            .try_collect()
            .await
            .map_err(|e| ImapError(format!("fetching message {uid} failed: {e}")))?;
        fetches
            .iter()
            .filter(|f| f.uid == Some(uid) || f.uid.is_none())
            .find_map(|f| f.body().map(<[u8]>::to_vec))
            .ok_or_else(|| ImapError(format!("message {uid} has no body (gone meanwhile?)")))
    }

    /// Marks message `uid` seen.
    ///
    /// # Errors
    ///
    /// The server refused.
    pub async fn mark_seen(&mut self, uid: u32) -> Result<(), ImapError> {
        let _: Vec<Fetch> = self
            .session
            .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)")
            .await
            .map_err(|e| ImapError(format!("marking message {uid} seen failed: {e}")))?
            .try_collect()
            .await
            .map_err(|e| ImapError(format!("marking message {uid} seen failed: {e}")))?;
        Ok(())
    }

    /// Moves message `uid` to `target` (MOVE, or COPY + \Deleted + EXPUNGE where the
    /// server has no MOVE); it is marked seen first.
    ///
    /// # Errors
    ///
    /// The server refused (say, `target` does not exist).
    pub async fn move_to(&mut self, uid: u32, target: &str) -> Result<(), ImapError> {
        self.mark_seen(uid).await?;
        let failed = |e: async_imap::error::Error| {
            ImapError(format!("moving message {uid} to {target:?} failed: {e}"))
        };
        if self.can_move {
            return self
                .session
                .uid_mv(uid.to_string(), target)
                .await
                .map_err(failed);
        }
        self.session
            .uid_copy(uid.to_string(), target)
            .await
            .map_err(failed)?;
        let _: Vec<Fetch> = self
            .session
            .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        let _: Vec<u32> = self
            .session
            .expunge()
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Logs out (best effort).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}
