//! Outgoing e-mail: an SMTP relay when `smtp.host` is set, otherwise the log.
//!
//! The account system uses [`Mailer::send_alert`] for security notices (new sign-in,
//! password changed, two-factor turned off); delivery problems are logged, never
//! returned, so an alert can't break the request that triggered it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::settings::SmtpSettings;

/// Bound on connecting to the relay and, separately, on a whole send.
///
/// lettre's async transport only applies its timeout to connecting, so [`Mailer::send`]
/// also wraps the whole SMTP exchange in this deadline: a relay that accepts the
/// connection and then stalls can't hold a task forever.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an e-mail could not be prepared or delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A `smtp.*` setting is unusable; `key` names it.
    #[error("{key}: {reason}")]
    Setting {
        /// The settings key, e.g. `smtp.from`.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The SMTP transport needs a Tokio runtime (its connection pool spawns tasks).
    #[error("the SMTP transport must be created inside a Tokio runtime")]
    NoRuntime,
    /// The recipient is not an e-mail address.
    #[error("invalid recipient address {address:?}: {source}")]
    InvalidRecipient {
        /// The address as given.
        address: String,
        /// Why lettre refused it.
        source: lettre::address::AddressError,
    },
    /// The message could not be assembled.
    #[error("could not build the e-mail: {0}")]
    Build(#[from] lettre::error::Error),
    /// The relay refused the message or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The relay did not finish within [`SMTP_TIMEOUT`].
    #[error("SMTP delivery did not finish within {0:?}")]
    Timeout(Duration),
}

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (SMTPS, port 465): lettre's `relay`.
    Implicit,
    /// Plain connect, then STARTTLS, refusing to continue without it: `starttls_relay`.
    StartTls,
    /// No encryption at all: `builder_dangerous`; only for local relays and test servers.
    Plain,
}

impl TlsMode {
    /// Picks the TLS mode from the port and whether credentials are configured.
    ///
    /// - 465 → [`TlsMode::Implicit`];
    /// - 587 → [`TlsMode::StartTls`] (required, never opportunistic);
    /// - any other port (25, 1025, 2525, …) without credentials → [`TlsMode::Plain`],
    ///   for local relays and test servers;
    /// - any other port *with* credentials → [`TlsMode::StartTls`]: a password is never
    ///   sent over an unencrypted connection.
    pub fn for_relay(port: u16, has_credentials: bool) -> TlsMode {
        match port {
            465 => TlsMode::Implicit,
            587 => TlsMode::StartTls,
            _ if has_credentials => TlsMode::StartTls,
            _ => TlsMode::Plain,
        }
    }
}

/// Sends e-mail: through an SMTP relay, or into the log when no relay is configured.
///
/// Built once at start-up with [`Mailer::from_settings`]; cloning is cheap (shared
/// transport), so a clone can be moved into a spawned task.
///
/// With `smtp.host` set, the transport is chosen by [`TlsMode::for_relay`]:
/// port 465 uses implicit TLS, 587 requires STARTTLS, other ports are plain unless
/// `smtp.user` is set (then STARTTLS is required). `smtp.user`/`smtp.password` are
/// sent only when `smtp.user` is non-empty. Connecting and each whole send are
/// bounded by [`SMTP_TIMEOUT`]. With `smtp.host` empty (the embedded default),
/// e-mails are written to the log at INFO: recipient, subject and body.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    sink: Sink,
}

#[derive(Clone)]
enum Sink {
    Log,
    Smtp(Arc<SmtpSink>),
}

/// The relay transport plus the runtime it was created on.
struct SmtpSink {
    /// Always `Some` until dropped.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    /// Dropping lettre's pool spawns a task, which panics outside a runtime.
    runtime: tokio::runtime::Handle,
    host: String,
    port: u16,
    tls: TlsMode,
    authenticated: bool,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // The last clone may be dropped after the runtime has gone (end of `main`);
        // entering the stored handle keeps lettre's drop-time spawn from panicking.
        let _guard = self.runtime.enter();
        drop(self.transport.take());
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mailer");
        d.field("from", &self.from.to_string());
        match &self.sink {
            Sink::Log => d.field("sink", &"log"),
            Sink::Smtp(s) => d
                .field("sink", &"smtp")
                .field("host", &s.host)
                .field("port", &s.port)
                .field("tls", &s.tls)
                .field("authenticated", &s.authenticated),
        };
        d.finish()
    }
}

impl Mailer {
    /// Builds the mailer the settings describe (see the type's documentation).
    ///
    /// Fails when `smtp.from` is not a mailbox, when `smtp.host` can't be used for TLS,
    /// or — for SMTP only — when called outside a Tokio runtime.
    pub fn from_settings(s: &SmtpSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = s.from.trim().parse().map_err(|e| MailError::Setting {
            key: "smtp.from",
            reason: format!(
                "{:?} is not an e-mail address (expected \"Name <user@host>\" or \"user@host\"): {e}",
                s.from
            ),
        })?;
        let host = s.host.trim();
        if host.is_empty() {
            return Ok(Mailer {
                from,
                sink: Sink::Log,
            });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MailError::NoRuntime)?;

        let authenticated = !s.user.is_empty();
        let tls = TlsMode::for_relay(s.port, authenticated);
        let tls_error = |e: lettre::transport::smtp::Error| MailError::Setting {
            key: "smtp.host",
            reason: format!("{host:?} can't be used for a TLS connection: {e}"),
        };
        let mut builder = match tls {
            TlsMode::Implicit => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_error)?
            }
            TlsMode::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls_error)?
            }
            TlsMode::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        }
        .port(s.port)
        .timeout(Some(SMTP_TIMEOUT))
        // Keep no idle connections: alerts are rare, and a fresh connection per e-mail
        // is made on the sending task's runtime (actix runs one runtime per worker)
        // and is never reused after a send was cut short by the deadline.
        .pool_config(PoolConfig::new().max_size(0));
        if authenticated {
            builder = builder.credentials(Credentials::new(
                s.user.clone(),
                s.password.expose_secret().to_owned(),
            ));
        }
        // `build` spawns the pool's housekeeping task, hence the runtime check above.
        let transport = builder.build();

        Ok(Mailer {
            from,
            sink: Sink::Smtp(Arc::new(SmtpSink {
                transport: Some(transport),
                runtime,
                host: host.to_owned(),
                port: s.port,
                tls,
                authenticated,
            })),
        })
    }

    /// Whether e-mails actually leave the instance (an SMTP relay is configured).
    pub fn delivers(&self) -> bool {
        matches!(self.sink, Sink::Smtp(_))
    }

    /// Sends one plain-text e-mail, or logs it when no relay is configured.
    ///
    /// The whole SMTP exchange is bounded by [`SMTP_TIMEOUT`].
    pub async fn send(&self, to: &str, subject: &str, text_body: &str) -> Result<(), MailError> {
        let recipient: Mailbox =
            to.trim()
                .parse()
                .map_err(|source| MailError::InvalidRecipient {
                    address: to.to_owned(),
                    source,
                })?;
        // lettre adds no Message-ID by itself; relays and spam filters expect one.
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), self.from.email.domain());
        let message = Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(text_body.to_owned())?;

        let transport = match &self.sink {
            Sink::Log => {
                tracing::info!(
                    to,
                    subject,
                    body = text_body,
                    "e-mail written to the log instead of sent (smtp.host is empty)"
                );
                return Ok(());
            }
            Sink::Smtp(smtp) => match &smtp.transport {
                Some(t) => t,
                None => return Ok(()), // unreachable: only taken in `drop`
            },
        };
        match tokio::time::timeout(SMTP_TIMEOUT, transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) => Err(MailError::Smtp(e)),
            Err(_elapsed) => Err(MailError::Timeout(SMTP_TIMEOUT)),
        }
    }

    /// Sends a security alert; a delivery failure is logged (warn), never returned.
    ///
    /// Meant to run in a spawned task so the triggering request doesn't wait for the relay.
    pub async fn send_alert(&self, to: &str, handle: &str, alert: &SecurityAlert) {
        if let Err(error) = self.send(to, &alert.subject(), &alert.body(handle)).await {
            tracing::warn!(
                %error,
                to,
                alert = alert.kind(),
                "security alert e-mail was not delivered"
            );
        }
    }
}

/// A security-relevant account event the owner is told about by e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityAlert {
    /// Someone signed in to the account.
    NewLogin {
        /// Client IP address.
        ip: String,
        /// The client's `User-Agent`, if it sent one.
        user_agent: Option<String>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account password was changed.
    PasswordChanged {
        /// Client IP address.
        ip: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// TOTP two-factor authentication was turned off.
    TotpDisabled {
        /// Client IP address.
        ip: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An administrator set a temporary password for the account.
    PasswordResetByAdmin {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An administrator turned off the account's two-factor authentication.
    TotpDisabledByAdmin {
        /// When it happened.
        at: DateTime<Utc>,
    },
}

// Longest client-supplied text put into an alert, per field.
const MAX_IP_CHARS: usize = 64;
const MAX_USER_AGENT_CHARS: usize = 160;
const MAX_HANDLE_CHARS: usize = 64;

impl SecurityAlert {
    /// The e-mail subject line.
    pub fn subject(&self) -> String {
        match self {
            SecurityAlert::NewLogin { .. } => "New sign-in to your DocuVault account",
            SecurityAlert::PasswordChanged { .. } => "Your DocuVault password was changed",
            SecurityAlert::TotpDisabled { .. } | SecurityAlert::TotpDisabledByAdmin { .. } => {
                "Two-factor authentication was turned off for your DocuVault account"
            }
            SecurityAlert::PasswordResetByAdmin { .. } => {
                "An administrator reset your DocuVault password"
            }
        }
        .to_owned()
    }

    /// The plain-text body for the account `handle`: what happened, when (UTC), from
    /// which IP, and what to do if it wasn't them. Contains no secrets.
    ///
    /// Client-supplied text (IP, user agent) is reduced to one line of printable ASCII
    /// and shortened, so it can't forge extra lines in the message.
    pub fn body(&self, handle: &str) -> String {
        let handle = one_line(handle, MAX_HANDLE_CHARS);
        let (what, details, if_not_you) = match self {
            SecurityAlert::NewLogin { ip, user_agent, at } => {
                let mut details = facts(*at, Some(ip));
                if let Some(ua) = user_agent.as_deref().filter(|ua| !ua.trim().is_empty()) {
                    details.push_str(&format!(
                        "  Browser: \"{}\" (as reported by the browser)\n",
                        one_line(ua, MAX_USER_AGENT_CHARS)
                    ));
                }
                (
                    "Someone just signed in to your DocuVault account.",
                    details,
                    "If this was you, there is nothing to do.\n\
                     \n\
                     If it wasn't you, someone else knows your password. Sign in,\n\
                     change your password right away (this signs out all other\n\
                     sessions) and turn on two-factor authentication. If you can't\n\
                     sign in any more, contact the administrator of this DocuVault\n\
                     instance.",
                )
            }
            SecurityAlert::PasswordChanged { ip, at } => (
                "The password of your DocuVault account was just changed.",
                facts(*at, Some(ip)),
                "If this was you, there is nothing to do.\n\
                 \n\
                 If it wasn't you, someone else has access to your account.\n\
                 Contact the administrator of this DocuVault instance right away\n\
                 so they can lock the account and set a new password.",
            ),
            SecurityAlert::TotpDisabled { ip, at } => (
                "Two-factor authentication (codes from an authenticator app) was\n\
                 just turned off for your DocuVault account. From now on, your\n\
                 password alone is enough to sign in.",
                facts(*at, Some(ip)),
                "If this was you, there is nothing to do.\n\
                 \n\
                 If it wasn't you, someone else has access to your account. Sign\n\
                 in, change your password right away (this signs out all other\n\
                 sessions) and turn two-factor authentication back on. If you\n\
                 can't sign in any more, contact the administrator of this\n\
                 DocuVault instance.",
            ),
            SecurityAlert::PasswordResetByAdmin { at } => (
                "An administrator of this DocuVault instance set a temporary\n\
                 password for your account and signed it out everywhere. Your\n\
                 administrator gives you the temporary password; you choose a\n\
                 new one of your own when you next sign in.",
                facts(*at, None),
                "If you asked for this, there is nothing else to do.\n\
                 \n\
                 If you didn't, contact the administrator of this DocuVault\n\
                 instance right away.",
            ),
            SecurityAlert::TotpDisabledByAdmin { at } => (
                "An administrator of this DocuVault instance turned off\n\
                 two-factor authentication (codes from an authenticator app)\n\
                 for your account. From now on, your password alone is enough\n\
                 to sign in.",
                facts(*at, None),
                "Turn two-factor authentication back on in your account\n\
                 settings when you can.\n\
                 \n\
                 If you didn't ask for this, change your password and contact\n\
                 the administrator of this DocuVault instance right away.",
            ),
        };
        format!(
            "Hi {handle},\n\
             \n\
             {what}\n\
             \n\
             {details}\n\
             {if_not_you}\n\
             \n\
             DocuVault will never ask for your password or codes by e-mail.\n\
             This message was sent automatically; replies are not read.\n"
        )
    }

    /// A short name for logs.
    fn kind(&self) -> &'static str {
        match self {
            SecurityAlert::NewLogin { .. } => "new_login",
            SecurityAlert::PasswordChanged { .. } => "password_changed",
            SecurityAlert::TotpDisabled { .. } => "totp_disabled",
            SecurityAlert::PasswordResetByAdmin { .. } => "password_reset_by_admin",
            SecurityAlert::TotpDisabledByAdmin { .. } => "totp_disabled_by_admin",
        }
    }
}

/// The "when" line every alert has, and "from which IP" when the account's own client
/// did it.
fn facts(at: DateTime<Utc>, ip: Option<&str>) -> String {
    let when = format!("  When:    {}\n", at.format("%Y-%m-%d %H:%M:%S UTC"));
    match ip {
        Some(ip) => format!("{when}  From IP: {}\n", one_line(ip, MAX_IP_CHARS)),
        None => when,
    }
}

/// Client-supplied text as one line of printable ASCII, at most `max_chars` long (for
/// what a client sent about itself: IPs, user agents, handles).
pub fn one_line(text: &str, max_chars: usize) -> String {
    clean_line(text, max_chars, |c| c.is_ascii_graphic() || c == ' ')
}

/// Text a person wrote (a file name) as one line, at most `max_chars` long: letters of
/// any script stay, while control, line-separating and invisible direction or
/// zero-width characters (which could forge lines or disguise an extension) become `?`.
pub fn one_line_text(text: &str, max_chars: usize) -> String {
    clean_line(text, max_chars, |c| {
        !c.is_control()
            && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
    })
}

fn clean_line(text: &str, max_chars: usize, keep: impl Fn(char) -> bool) -> String {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| if keep(c) { c } else { '?' })
        .collect();
    if cleaned.chars().count() <= max_chars {
        cleaned
    } else {
        let mut cut: String = cleaned.chars().take(max_chars.saturating_sub(3)).collect();
        cut.push_str("...");
        cut
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Write;
    use std::sync::Mutex;

    use chrono::TimeZone;
    use secrecy::SecretString;

    use super::*;

    fn settings(host: &str, port: u16, user: &str, from: &str) -> SmtpSettings {
        SmtpSettings {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            password: SecretString::from("smtp-password-value"),
            from: from.to_owned(),
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26).unwrap()
    }

    fn all_alerts() -> Vec<SecurityAlert> {
        vec![
            SecurityAlert::NewLogin {
                ip: "203.0.113.7".into(),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into()),
                at: at(),
            },
            SecurityAlert::PasswordChanged {
                ip: "203.0.113.7".into(),
                at: at(),
            },
            SecurityAlert::TotpDisabled {
                ip: "203.0.113.7".into(),
                at: at(),
            },
        ]
    }

    #[test]
    fn tls_mode_follows_the_port_and_never_sends_credentials_in_clear() {
        assert_eq!(TlsMode::for_relay(465, false), TlsMode::Implicit);
        assert_eq!(TlsMode::for_relay(465, true), TlsMode::Implicit);
        assert_eq!(TlsMode::for_relay(587, false), TlsMode::StartTls);
        assert_eq!(TlsMode::for_relay(587, true), TlsMode::StartTls);
        for port in [25, 1025, 2525, 8025] {
            assert_eq!(TlsMode::for_relay(port, false), TlsMode::Plain, "{port}");
            assert_eq!(TlsMode::for_relay(port, true), TlsMode::StartTls, "{port}");
        }
    }

    #[test]
    fn empty_host_means_the_log_sink_and_needs_no_runtime() {
        let mailer =
            Mailer::from_settings(&settings("", 587, "", "DocuVault <docuvault@localhost>"))
                .unwrap();
        assert!(!mailer.delivers());
        assert!(format!("{mailer:?}").contains("log"));
    }

    #[test]
    fn an_invalid_sender_names_smtp_from() {
        for from in ["", "not an address", "DocuVault <nobody>"] {
            let e = Mailer::from_settings(&settings("", 587, "", from)).unwrap_err();
            assert!(e.to_string().starts_with("smtp.from: "), "{e}");
        }
    }

    #[test]
    fn smtp_outside_a_runtime_is_an_error_not_a_panic() {
        let e = Mailer::from_settings(&settings("smtp.example.com", 587, "", "a@example.com"))
            .unwrap_err();
        assert!(matches!(e, MailError::NoRuntime), "{e}");
    }

    #[tokio::test]
    async fn smtp_transport_is_chosen_from_the_settings_and_hides_the_password() {
        for (port, user, tls) in [
            (465, "mailer", TlsMode::Implicit),
            (587, "", TlsMode::StartTls),
            (1025, "", TlsMode::Plain),
            (2525, "mailer", TlsMode::StartTls),
        ] {
            let mailer =
                Mailer::from_settings(&settings("smtp.example.com", port, user, "a@example.com"))
                    .unwrap();
            assert!(mailer.delivers());
            let debug = format!("{mailer:?}");
            assert!(debug.contains(&format!("{tls:?}")), "{debug}");
            assert!(!debug.contains("smtp-password-value"), "{debug}");
        }
    }

    #[test]
    fn dropping_the_smtp_mailer_after_its_runtime_is_gone_does_not_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mailer = runtime.block_on(async {
            Mailer::from_settings(&settings("127.0.0.1", 1025, "", "a@example.com")).unwrap()
        });
        drop(runtime);
        drop(mailer);
    }

    #[test]
    fn alerts_say_what_when_and_from_where_without_secrets() {
        for alert in all_alerts() {
            let subject = alert.subject();
            assert!(subject.contains("DocuVault"), "{subject}");
            let body = alert.body("alice");
            assert!(body.starts_with("Hi alice,\n"), "{body}");
            assert!(body.contains("203.0.113.7"), "{body}");
            assert!(body.contains("2025-03-14 15:09:26 UTC"), "{body}");
            assert!(body.contains("If it wasn't you"), "{body}");
            assert!(body.is_ascii(), "{body}");
            // Our own lines stay short; only the user agent may be long (lettre then
            // picks quoted-printable).
            for line in body.lines().filter(|l| !l.contains("Browser:")) {
                assert!(line.len() <= 76, "line too long: {line:?}");
            }
            let lower = body.to_lowercase();
            for secret_word in ["token", "secret", "otpauth", "backup code"] {
                assert!(!lower.contains(secret_word), "{secret_word} in {body}");
            }
        }
        let [login, password, totp] = &all_alerts()[..] else {
            unreachable!()
        };
        assert!(login.body("alice").contains("Firefox/128.0"));
        assert!(login.body("alice").contains("signed in"));
        assert!(password.body("alice").contains("password"));
        assert!(totp.body("alice").contains("Two-factor authentication"));
        assert_ne!(login.subject(), password.subject());
        assert_ne!(password.subject(), totp.subject());
    }

    #[test]
    fn client_supplied_text_cannot_add_lines_to_an_alert() {
        let alert = SecurityAlert::NewLogin {
            ip: "203.0.113.7\r\nBcc: evil@example.com".into(),
            user_agent: Some(format!(
                "x\n\nClick http://evil.example now{}",
                "A".repeat(500)
            )),
            at: at(),
        };
        let body = alert.body("alice\nmallory");
        assert!(!body.contains("\nBcc:"), "{body}");
        assert!(!body.contains("\nClick"), "{body}");
        assert!(!body.contains('\r'), "{body}");
        assert!(body.starts_with("Hi alice?mallory,\n"), "{body}");
        assert!(body.contains("AAA..."), "shortened: {body}");
        assert!(body.lines().all(|l| l.len() <= 220), "{body}");
    }

    /// A `tracing` writer that keeps everything for inspection.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn file_names_keep_their_letters_but_not_line_breaks_or_direction_marks() {
        assert_eq!(one_line_text("Rechnung März.pdf", 80), "Rechnung März.pdf");
        assert_eq!(one_line_text("a\r\nBcc: x", 80), "a??Bcc: x");
        assert_eq!(
            one_line_text("invoice\u{202e}fdp.exe", 80),
            "invoice?fdp.exe"
        );
        assert_eq!(one_line_text("x\u{2028}y", 80), "x?y");
        assert_eq!(
            one_line_text(&"ä".repeat(100), 10),
            format!("{}...", "ä".repeat(7))
        );
    }

    #[test]
    fn alerts_about_an_administrators_action_name_no_address() {
        for alert in [
            SecurityAlert::PasswordResetByAdmin { at: at() },
            SecurityAlert::TotpDisabledByAdmin { at: at() },
        ] {
            let body = alert.body("alice");
            assert!(body.starts_with("Hi alice,\n"), "{body}");
            assert!(body.contains("administrator"), "{body}");
            assert!(body.contains("2025-03-14 15:09:26 UTC"), "{body}");
            assert!(!body.contains("From IP"), "{body}");
            assert!(!alert.subject().is_empty());
        }
    }

    #[tokio::test]
    async fn the_log_sink_writes_recipient_subject_and_body() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        // `#[tokio::test]` polls on this thread, so a thread-local default is enough.
        let _guard = tracing::subscriber::set_default(subscriber);

        let mailer =
            Mailer::from_settings(&settings("", 587, "", "DocuVault <docuvault@localhost>"))
                .unwrap();
        mailer
            .send("bob@example.com", "Hello there", "The body text")
            .await
            .unwrap();
        let alert = &all_alerts()[1];
        mailer.send_alert("carol@example.com", "carol", alert).await;

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for expected in [
            "bob@example.com",
            "Hello there",
            "The body text",
            "carol@example.com",
            "Your DocuVault password was changed",
            "203.0.113.7",
        ] {
            assert!(log.contains(expected), "{expected} missing from {log}");
        }
    }

    #[tokio::test]
    async fn an_invalid_recipient_is_refused_even_by_the_log_sink() {
        let mailer = Mailer::from_settings(&settings("", 587, "", "a@example.com")).unwrap();
        let e = mailer.send("not an address", "s", "b").await.unwrap_err();
        assert!(matches!(e, MailError::InvalidRecipient { .. }), "{e}");
    }
}
