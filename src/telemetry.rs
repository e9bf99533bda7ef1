//! Logging setup: text or JSON lines on stderr, filtered by `log.level` or `RUST_LOG`.
//!
//! Logging never holds up or breaks a request. Formatted lines go through a bounded
//! queue to one writer thread; a line that finds the queue full (the log sink is slow or
//! blocked) or that the sink refuses (disk full, closed pipe) is dropped and counted in
//! `docuvault_log_lines_dropped_total`. Secrets that travel in URLs (signed storage
//! tokens, signature and token query parameters) are redacted from every line before it
//! is queued, whichever code logged it.

use std::borrow::Cow;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{LazyLock, Mutex, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::settings::{LogFormat, LogSettings};

/// Lines waiting for the writer thread; beyond this, new lines are dropped (and counted).
const QUEUE_LINES: usize = 8192;

/// How long [`flush`] waits for the queued lines to be written at exit.
const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// Log lines lost since start: the queue was full or the sink refused the write.
static DROPPED: LazyLock<Counter> = LazyLock::new(Counter::default);

/// The installed writer's queue and the signal its thread gives when it has drained it.
static SINK: Mutex<Option<(QueuedWriter, Receiver<()>)>> = Mutex::new(None);

/// The counter of dropped log lines, for the metrics registry (shared, not a copy).
pub fn dropped_lines_counter() -> Counter {
    DROPPED.clone()
}

/// Installs the global subscriber once; later calls are ignored (tests build many apps).
/// Call [`flush`] before the process exits so queued lines are written.
pub fn init(settings: &LogSettings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&settings.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let Ok(mut sink) = SINK.lock() else {
        return;
    };
    if sink.is_some() {
        return;
    }
    let Some((writer, drained)) = QueuedWriter::spawn(std::io::stderr) else {
        return;
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .log_internal_errors(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let installed = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() {
        *sink = Some((writer, drained));
    }
}

/// Writes out the lines still queued (waiting at most a few seconds for a blocked sink)
/// and stops the writer thread. Lines logged afterwards are dropped and counted.
pub fn flush() {
    let taken = SINK.lock().ok().and_then(|mut sink| sink.take());
    if let Some((writer, drained)) = taken {
        writer.close();
        let _ = drained.recv_timeout(FLUSH_DEADLINE);
    }
}

/// A `MakeWriter` that queues each formatted event for the writer thread and never
/// blocks or fails: what cannot be queued is counted in [`DROPPED`].
#[derive(Clone)]
struct QueuedWriter {
    queue: std::sync::Arc<RwLock<Option<SyncSender<Vec<u8>>>>>,
}

impl QueuedWriter {
    /// Starts the writer thread over the sink `open` returns; `None` if no thread could
    /// be started (then the caller installs nothing rather than fail).
    fn spawn<W: Write + 'static>(
        open: impl FnOnce() -> W + Send + 'static,
    ) -> Option<(Self, Receiver<()>)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUE_LINES);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let mut sink = open();
                for line in rx {
                    // One write per line, so a failure loses exactly that line.
                    if sink.write_all(&line).and_then(|()| sink.flush()).is_err() {
                        DROPPED.inc();
                    }
                }
                let _ = done_tx.send(());
            })
            .ok()?;
        let writer = Self {
            queue: std::sync::Arc::new(RwLock::new(Some(tx))),
        };
        Some((writer, done_rx))
    }

    /// Lets the thread finish what is queued and end.
    fn close(&self) {
        if let Ok(mut queue) = self.queue.write() {
            queue.take();
        }
    }

    fn send(&self, line: Vec<u8>) {
        let sent = match self.queue.read() {
            Ok(queue) => queue.as_ref().map(|tx| tx.try_send(line)),
            Err(_) => None,
        };
        match sent {
            Some(Ok(())) => {}
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                DROPPED.inc();
            }
        }
    }
}

/// One event's bytes on their way to the queue.
struct QueuedLine<'a> {
    writer: &'a QueuedWriter,
}

impl Write for QueuedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        let line = match redact(&line) {
            Cow::Borrowed(_) => buf.to_vec(),
            Cow::Owned(redacted) => redacted.into_bytes(),
        };
        self.writer.send(line);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueuedWriter {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine { writer: self }
    }
}

/// What replaces a secret in a log line.
pub const REDACTED: &str = "[redacted]";

/// Where the local store's signed URLs live; the rest of such a path is a bearer token.
const STORAGE_PREFIX: &str = "/storage/";

/// Whether a query parameter named `name` carries a credential: `token`, `sig`,
/// `signature` and anything ending so (`access_token`, `X-Goog-Signature`), and every
/// `X-Amz-*` parameter of an S3 presigned URL.
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "sig"
        || name.ends_with("token")
        || name.ends_with("signature")
        || name.starts_with("x-amz-")
}

/// Ends a URL component in a log line: query separators, quotes, whitespace and the
/// escapes around them in JSON or debug output.
fn ends_url_part(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | ';' | '#' | '"' | '\'' | '\\' | '<' | '>' | '`' | ',' | ')'
        )
}

/// Redacts the credentials a URL can carry anywhere in `text`: the token of a signed
/// `/storage/…` path and the values of secret query parameters ([`is_secret_param`]).
/// Route patterns such as `/storage/{token}` are left as they are.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains(STORAGE_PREFIX) && !text.contains('=') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with(STORAGE_PREFIX) {
            out.push_str(STORAGE_PREFIX);
            rest = &rest[STORAGE_PREFIX.len()..];
            let end = rest
                .find(|c: char| {
                    !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '=' | '%'))
                })
                .unwrap_or(rest.len());
            if end > 0 {
                out.push_str(REDACTED);
                changed = true;
            }
            rest = &rest[end..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
        if matches!(c, '?' | '&' | ';') {
            // A query parameter: `name=value`.
            let name_end = rest
                .find(|c: char| c == '=' || ends_url_part(c) || c == '?' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            if !name.is_empty() && rest[name_end..].starts_with('=') && is_secret_param(name) {
                out.push_str(name);
                out.push('=');
                let value = &rest[name_end + 1..];
                let value_end = value.find(ends_url_part).unwrap_or(value.len());
                if value_end > 0 {
                    out.push_str(REDACTED);
                    changed = true;
                }
                rest = &value[value_end..];
            }
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn signed_storage_paths_lose_their_token() {
        let line = r#"http_request{method=GET path=/storage/eyJrIjoiYSJ9.0a1b2c route=/storage/{token}}: request completed"#;
        let redacted = redact(line);
        assert_eq!(
            redacted,
            "http_request{method=GET path=/storage/[redacted] route=/storage/{token}}: request completed"
        );
        let json =
            r#"{"path":"/storage/abc_DEF-1.ff00","url":"https://v.example/storage/x.y?z=1"}"#;
        assert_eq!(
            redact(json),
            r#"{"path":"/storage/[redacted]","url":"https://v.example/storage/[redacted]?z=1"}"#
        );
    }

    #[test]
    fn secret_query_parameters_are_redacted_and_others_kept() {
        let url = "GET https://s3.example/b/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F2026&\
                   X-Amz-Signature=deadbeef&response-content-disposition=attachment&page=2";
        assert_eq!(
            redact(url),
            "GET https://s3.example/b/k?X-Amz-Algorithm=[redacted]&X-Amz-Credential=[redacted]&\
             X-Amz-Signature=[redacted]&response-content-disposition=attachment&page=2"
        );
        assert_eq!(
            redact("/x?token=abc#frag and /y?sig=1&access_token=q;signature=z\""),
            "/x?token=[redacted]#frag and /y?sig=[redacted]&access_token=[redacted];signature=[redacted]\""
        );
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        for line in [
            "request completed status=200 latency_ms=3",
            "route=/storage/{token} path=/api/documents/1?page=2&per_page=25",
            "token budget exhausted tokens=4",
            "/storage/",
        ] {
            assert!(matches!(redact(line), Cow::Borrowed(_)), "{line}");
        }
    }

    /// A sink that fails every write, like a file on a full disk.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A sink whose writes hang until released, like a pipe nobody reads.
    struct Stuck(std::sync::mpsc::Receiver<()>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_sink_never_blocks_the_caller_and_overflow_is_counted() {
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let (writer, drained) = QueuedWriter::spawn(move || Stuck(stuck)).unwrap();
        let before = DROPPED.get();
        let started = std::time::Instant::now();
        for _ in 0..QUEUE_LINES + 100 {
            writer.make_writer().write_all(b"a line\n").unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(DROPPED.get() >= before + 99);
        drop(release);
        writer.close();
        drained.recv_timeout(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn lines_the_sink_refuses_are_dropped_and_counted_without_an_error() {
        let (writer, drained) = QueuedWriter::spawn(|| Full).unwrap();
        let before = DROPPED.get();
        for _ in 0..3 {
            writer.make_writer().write_all(b"a line\n").unwrap();
        }
        writer.close();
        drained.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(DROPPED.get() >= before + 3);
        // Closed: further lines are counted, never an error for the caller.
        writer.make_writer().write_all(b"late\n").unwrap();
        assert!(DROPPED.get() >= before + 4);
    }
}
