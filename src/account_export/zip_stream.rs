//! Writing a zip of stored originals while it is sent, in bounded memory: the user's
//! export (`account_export`) and the download of a selection (`documents::bulk`).
//!
//! Three parts joined by bounded channels:
//! - a task reads each original from the object store (`ObjectStore::read_to`) into
//!   [`ChunkSink`], which forwards the bytes as [`Input`] messages;
//! - a blocking thread runs the `zip` crate's streaming writer (data descriptors, no
//!   seeking; zip64 where sizes need it), taking those messages and writing each entry,
//!   then the [`Trailer`] (the export's manifest) if any, into [`BodyWriter`];
//! - [`BodyWriter`] hands the zip's bytes in chunks to the response body.
//!
//! A failure of storage, or a client that goes away, ends all three: the body ends with
//! an error (the client sees a cut transfer, never a zip that looks complete).

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use chrono::{DateTime, Utc};

use crate::domain::ObjectKey;
use crate::domain::document_type::{self, Format};
use crate::storage::ObjectStore;

/// One original to put into a zip.
#[derive(Debug, Clone)]
pub struct ZipEntry {
    /// Path inside the zip, unique ignoring case (`service::ZipNames`).
    pub path: String,
    /// Where the original is stored.
    pub object_key: ObjectKey,
    /// Its stored type (decides whether it is compressed).
    pub content_type: String,
    /// Its size as recorded (decides whether zip64 sizes are needed).
    pub size_bytes: u64,
    /// The entry's modification time: when the document was uploaded.
    pub modified: DateTime<Utc>,
}

/// The last file of a zip, made once the originals are written: given the indexes of
/// the entries storage no longer had (left out of the zip), its name and bytes.
pub type Trailer = Box<dyn FnOnce(&[usize]) -> std::io::Result<(String, Vec<u8>)> + Send>;

/// Size of the chunks handed to the response body and read from storage.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight in each channel: memory per export is about 2 × 8 × 64 KiB.
const IN_FLIGHT: usize = 8;
/// From this size on an entry carries zip64 sizes (4 GiB less a margin for deflate's
/// worst case).
const ZIP64_FROM: u64 = 0xF000_0000;

/// What the reading task tells the zip thread, per entry in plan order.
enum Input {
    /// The next bytes of the current original.
    Data(Bytes),
    /// The current original is complete (`true`) or does not exist (`false`).
    End(bool),
}

/// The zip of `entries` (an original storage no longer has is left out) and then
/// `trailer`, as a stream of body chunks.
pub fn stream(
    storage: Arc<dyn ObjectStore>,
    entries: Vec<ZipEntry>,
    trailer: Option<Trailer>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    let (body_tx, body_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(IN_FLIGHT);
    let (input_tx, input_rx) = mpsc::channel::<Input>(IN_FLIGHT);
    let keys: Vec<_> = entries.iter().map(|e| e.object_key.clone()).collect();
    tokio::spawn(async move {
        let mut sink = ChunkSink(PollSender::new(input_tx));
        for key in keys {
            let found = match storage.read_to(&key, &mut sink).await {
                Ok(found) => found,
                Err(e) => {
                    // The zip thread sees the channel close before `End` and fails the body.
                    tracing::warn!(error = %e, key = key.as_str(), "zip: reading an original failed");
                    return;
                }
            };
            if sink.send(Input::End(found)).await.is_err() {
                return;
            }
        }
    });
    let errors = body_tx.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let body = BodyWriter {
            tx: body_tx,
            buf: Vec::with_capacity(CHUNK),
        };
        write_zip(body, &entries, trailer, input_rx)
    });
    tokio::spawn(async move {
        let failure = match writer.await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(e) => std::io::Error::other(format!("zip writer panicked: {e}")),
        };
        if failure.kind() != std::io::ErrorKind::BrokenPipe {
            tracing::warn!(error = %failure, "zip: the zip could not be completed");
        }
        let _ = errors.send(Err(failure)).await;
    });
    futures_util::stream::unfold(body_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// Stored for types that are compressed already (PDF, images, office zips); deflated for
/// text.
fn compression_for(content_type: &str) -> CompressionMethod {
    match document_type::accepted(content_type).map(|t| t.format) {
        Some(Format::Text | Format::Html) => CompressionMethod::Deflated,
        _ => CompressionMethod::Stored,
    }
}

fn options_for(entry: &ZipEntry) -> SimpleFileOptions {
    use chrono::{Datelike, Timelike};
    let at = entry.modified;
    let modified = zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980),
        u8::try_from(at.month()).unwrap_or(1),
        u8::try_from(at.day()).unwrap_or(1),
        u8::try_from(at.hour()).unwrap_or(0),
        u8::try_from(at.minute()).unwrap_or(0),
        u8::try_from(at.second()).unwrap_or(0),
    )
    .unwrap_or_default();
    SimpleFileOptions::default()
        .compression_method(compression_for(&entry.content_type))
        .last_modified_time(modified)
        .unix_permissions(0o644)
        .large_file(entry.size_bytes >= ZIP64_FROM)
}

fn zip_error(e: zip::result::ZipError) -> std::io::Error {
    match e {
        zip::result::ZipError::Io(io) => io,
        other => std::io::Error::other(other),
    }
}

fn storage_gone() -> std::io::Error {
    std::io::Error::other("reading the originals stopped")
}

/// The zip thread: every entry in order, then the trailer (told which originals storage
/// no longer had), then the central directory.
fn write_zip(
    body: BodyWriter,
    entries: &[ZipEntry],
    trailer: Option<Trailer>,
    mut input: mpsc::Receiver<Input>,
) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new_stream(body);
    let mut missing = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        // The entry starts with its first message, so a missing original leaves no trace.
        let mut started = false;
        loop {
            match input.blocking_recv().ok_or_else(storage_gone)? {
                Input::Data(bytes) => {
                    if !started {
                        zip.start_file(entry.path.as_str(), options_for(entry))
                            .map_err(zip_error)?;
                        started = true;
                    }
                    zip.write_all(&bytes)?;
                }
                Input::End(true) => {
                    if !started {
                        zip.start_file(entry.path.as_str(), options_for(entry))
                            .map_err(zip_error)?;
                    }
                    break;
                }
                Input::End(false) => {
                    tracing::warn!(
                        key = entry.object_key.as_str(),
                        "zip: an original is missing from storage"
                    );
                    missing.push(index);
                    break;
                }
            }
        }
    }
    if let Some(trailer) = trailer {
        let (name, bytes) = trailer(&missing)?;
        zip.start_file(
            name,
            SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .unix_permissions(0o644),
        )
        .map_err(zip_error)?;
        zip.write_all(&bytes)?;
    }
    let mut body = zip.finish().map_err(zip_error)?.into_inner();
    body.flush()
}

/// The response side: the zip's bytes in chunks of [`CHUNK`] over a bounded channel.
/// Blocks while the client is slower than the zip; a client that went away is a
/// `BrokenPipe`, which stops the zip.
struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl BodyWriter {
    fn send_buffer(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send_buffer()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buffer()
    }
}

/// The reading side: what `read_to` writes becomes [`Input::Data`] messages, waiting
/// (asynchronously) while the zip thread is behind.
struct ChunkSink(PollSender<Input>);

impl ChunkSink {
    async fn send(&mut self, item: Input) -> Result<(), ()> {
        futures_util::future::poll_fn(|cx| self.0.poll_reserve(cx))
            .await
            .map_err(|_| ())?;
        self.0.send_item(item).map_err(|_| ())
    }
}

impl AsyncWrite for ChunkSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let gone = || std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        match self.0.poll_reserve(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(Err(gone())),
            Poll::Ready(Ok(())) => {}
        }
        let n = buf.len().min(CHUNK);
        self.0
            .send_item(Input::Data(Bytes::copy_from_slice(&buf[..n])))
            .map_err(|_| gone())?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
