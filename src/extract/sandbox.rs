//! Out-of-process extraction: the same binary re-executed as `docuvault extract-worker`
//! (hidden subcommand) with resource limits, so that hostile or buggy input can only take
//! down the child.
//!
//! Protocol: the parent writes one JSON header line ([`WorkerRequest`]) followed by exactly
//! `len` raw bytes to the child's stdin; the child writes one JSON value,
//! `{"Ok": Extracted}` or `{"Err": ExtractError}`, to stdout and exits 0.
//!
//! Limits (set in the child between fork and exec with `setrlimit`, Linux/Unix only):
//! address space (`RLIMIT_AS`), CPU seconds (`RLIMIT_CPU`, SIGXCPU then SIGKILL), no core
//! dumps; plus a wall-clock timeout enforced by the parent, which kills the child. The child
//! gets an empty environment. Every way the child can die maps to
//! [`ExtractError::Failed`] with a human reason.
//!
//! OCR ([`extract_in_child_with_ocr`]): the child runs tesseract and pdftoppm as its own
//! children (found on a fixed search path, since its environment is empty). Address-space
//! and CPU limits are per process, so each helper gets its own page budget
//! ([`super::OcrOptions`]: by default 60 s and 1 GiB, clamped to the child's own hard
//! limits — 512 MiB and 30 s with the default [`SandboxLimits`], which leave tesseract room:
//! it needs about 90 MB resident and 250 MB of address space on a 300 dpi page).
//!
//! Wall clock with OCR: a 20-page scan needs far more than [`SandboxLimits::wall`], and
//! the parent cannot know the page count without parsing the file itself. So the worker
//! announces each helper run on stderr (a `docuvault-progress:` line, see
//! `child::PROGRESS_PREFIX`), and each announcement moves the deadline to at least
//! `now + page budget + wall`: every helper is killed by the worker after its page
//! budget, so a worker that keeps working keeps announcing, while one that hangs (in its
//! own code or waiting on nothing) is killed `wall` after its last helper ended. An
//! absolute cap of `2 × wall + 3 × max_pages × page budget` (render plus two readings per
//! page) bounds even a worker that announces forever. The CPU limit grows by one second
//! per page of the cap (decoding page images is the worker's own work; helpers have
//! their own budgets, clamped to the worker's hard limit).
//!
//! Thumbnails ([`thumbnail_in_child`]): the same worker, asked for a thumbnail instead of
//! text (`WorkerRequest::thumbnail`), answers `{"Ok": Thumbnail}` or `{"Err": …}` under the
//! same limits; `pdftoppm` runs as its child with the render budget of
//! [`ThumbnailOptions`]. A run of its own, so that a thumbnail can never cost a document
//! its text, nor a text that cannot be read its thumbnail.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::thumbnail::{Thumbnail, ThumbnailOptions, make_thumbnail};
use super::{
    DEFAULT_MAX_CHARS, ExtractError, ExtractOptions, Extracted, Kind, OcrOptions, extract_document,
};

/// Name of the hidden subcommand that runs the worker.
pub const WORKER_SUBCOMMAND: &str = "extract-worker";

/// Resource limits for one extraction child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Address-space limit (`RLIMIT_AS`) in bytes. Includes the mapped binary itself.
    pub memory_bytes: u64,
    /// CPU-time limit (`RLIMIT_CPU`) in seconds.
    pub cpu_secs: u64,
    /// Wall-clock limit; the child is killed after it.
    pub wall: Duration,
    /// Cap on the stored text, in characters.
    pub max_chars: usize,
    /// Test hook: makes the worker misbehave in a chosen way. Always `None` in production.
    #[doc(hidden)]
    pub fault: Option<Fault>,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 * 1024 * 1024,
            cpu_secs: 30,
            wall: Duration::from_secs(45),
            max_chars: DEFAULT_MAX_CHARS,
            fault: None,
        }
    }
}

/// Deliberate worker misbehaviour, for testing the parent's handling.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// `panic!` inside the extraction (caught in the child).
    Panic,
    /// `std::process::abort()`.
    Abort,
    /// Busy loop forever (CPU limit or wall clock).
    Spin,
    /// Sleep forever (wall clock only).
    Sleep,
    /// Allocate far beyond the memory limit.
    Oom,
    /// Unbounded recursion (stack overflow, like a recursive parser on nested input).
    StackOverflow,
}

/// The header line sent to the worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerRequest {
    /// Declared content type.
    pub content_type: String,
    /// Cap on the stored text, in characters.
    pub max_chars: usize,
    /// Number of raw bytes that follow the header line.
    pub len: u64,
    /// Test hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// OCR scans and PDF pages without text, with these options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrOptions>,
    /// Make a thumbnail with these options instead of extracting text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<ThumbnailOptions>,
}

/// Extracts in a child process of the running executable (`std::env::current_exe()`).
pub async fn extract_in_current_exe(
    content_type: &str,
    bytes: &[u8],
    limits: &SandboxLimits,
) -> Result<Extracted, ExtractError> {
    let exe = std::env::current_exe().map_err(|e| {
        ExtractError::Failed(format!("cannot locate the executable for extraction: {e}"))
    })?;
    extract_in_child(&exe, content_type, bytes, limits).await
}

/// Extracts `bytes` (declared as `content_type`) in a child process running
/// `exe extract-worker` under `limits`.
pub async fn extract_in_child(
    exe: &Path,
    content_type: &str,
    bytes: &[u8],
    limits: &SandboxLimits,
) -> Result<Extracted, ExtractError> {
    extract_in_child_with_ocr(exe, content_type, bytes, limits, None).await
}

/// [`extract_in_child`], OCR'ing scans and PDF pages without text when `ocr` is given.
pub async fn extract_in_child_with_ocr(
    exe: &Path,
    content_type: &str,
    bytes: &[u8],
    limits: &SandboxLimits,
    ocr: Option<&OcrOptions>,
) -> Result<Extracted, ExtractError> {
    extract_in_child_reporting(exe, content_type, bytes, limits, ocr, None).await
}

/// Which page of how many the worker is reading (OCR).
pub use super::child::PageProgress;

/// [`extract_in_child_with_ocr`], publishing each page the worker announces it is reading
/// to `pages` (the latest one wins; nothing for documents without OCR).
pub async fn extract_in_child_reporting(
    exe: &Path,
    content_type: &str,
    bytes: &[u8],
    limits: &SandboxLimits,
    ocr: Option<&OcrOptions>,
    pages: Option<&tokio::sync::watch::Sender<Option<PageProgress>>>,
) -> Result<Extracted, ExtractError> {
    run_child(exe, content_type, bytes, limits, ocr, None, pages).await
}

/// The thumbnail of `bytes` (declared as `content_type`), made in a child process running
/// `exe extract-worker` under `limits` ([`super::thumbnail`]).
pub async fn thumbnail_in_child(
    exe: &Path,
    content_type: &str,
    bytes: &[u8],
    limits: &SandboxLimits,
    options: &ThumbnailOptions,
) -> Result<Thumbnail, ExtractError> {
    run_child(exe, content_type, bytes, limits, None, Some(options), None).await
}

/// Runs the worker on one request and reads its answer, `Result<T, ExtractError>`.
async fn run_child<T: DeserializeOwned>(
    exe: &Path,
    content_type: &str,
    bytes: &[u8],
    limits: &SandboxLimits,
    ocr: Option<&OcrOptions>,
    thumbnail: Option<&ThumbnailOptions>,
    pages: Option<&tokio::sync::watch::Sender<Option<PageProgress>>>,
) -> Result<T, ExtractError> {
    let kind = Kind::from_content_type(content_type)
        .ok_or_else(|| ExtractError::Unsupported(content_type.to_owned()))?;
    let what = kind.label();
    // Only PDFs and images are ever OCR'd: other formats keep the plain limits.
    let ocr = ocr.filter(|_| matches!(kind, Kind::Pdf | Kind::Image(_)));
    let request = WorkerRequest {
        content_type: content_type.to_owned(),
        max_chars: limits.max_chars,
        len: bytes.len() as u64,
        fault: limits.fault,
        ocr: ocr.cloned(),
        thumbnail: thumbnail.cloned(),
    };
    let mut header = serde_json::to_vec(&request)
        .map_err(|e| ExtractError::Failed(format!("cannot encode the extraction request: {e}")))?;
    header.push(b'\n');

    let clock = OcrClock::new(limits, ocr);
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg(WORKER_SUBCOMMAND)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    super::child::apply_rlimits(cmd.as_std_mut(), limits.memory_bytes, clock.cpu_secs);
    let mut child = cmd
        .spawn()
        .map_err(|e| ExtractError::Failed(format!("cannot start the extraction process: {e}")))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(ExtractError::Failed(
            "cannot talk to the extraction process".to_owned(),
        ));
    };
    // JSON of the capped text: at most 4 bytes per char, escapes at most double that.
    let out_limit = limits
        .max_chars
        .saturating_mul(8)
        .saturating_add(1024 * 1024)
        // Page images and page texts for the AI fallback, when asked for.
        .saturating_add(
            ocr.and_then(|o| o.ai_fallback.as_ref())
                .map_or(0, |v| v.output_bytes(limits.max_chars)),
        );

    let started = std::time::Instant::now();
    let (progress_tx, mut progress) =
        tokio::sync::mpsc::unbounded_channel::<Option<PageProgress>>();
    let io = async {
        let write = async move {
            // A child that dies early closes its stdin: the error is reported via its status.
            if stdin.write_all(&header).await.is_ok() {
                let _ = stdin.write_all(bytes).await;
            }
            drop(stdin);
        };
        let (_, out, err) = tokio::join!(
            write,
            read_bounded(stdout, out_limit),
            read_stderr(stderr, 64 * 1024, progress_tx)
        );
        let status = child.wait().await;
        (out, err, status)
    };
    let mut io = Box::pin(io);
    let cap = tokio::time::Instant::now() + clock.cap;
    let mut deadline = tokio::time::Instant::now() + limits.wall;
    let mut progressed = false;
    let outcome = loop {
        tokio::select! {
            v = &mut io => break Some(v),
            Some(page) = progress.recv() => {
                if let (Some(page), Some(pages)) = (page, pages) {
                    pages.send_replace(Some(page));
                }
                progressed = ocr.is_some();
                deadline = deadline
                    .max(tokio::time::Instant::now() + clock.per_helper)
                    .min(cap);
            }
            () = tokio::time::sleep_until(deadline) => break None,
        }
    };
    let (out, err, status) = match outcome {
        Some(v) => v,
        None => {
            drop(io);
            let _ = child.start_kill();
            let _ = child.wait().await;
            let elapsed = started.elapsed().as_secs_f64().round();
            return Err(ExtractError::Failed(if progressed {
                format!(
                    "extraction stopped making progress (nothing for {} s after its last \
                     page) and was stopped after {elapsed} s",
                    clock.per_helper.as_secs()
                )
            } else {
                format!(
                    "extraction took longer than {} s",
                    limits.wall.as_secs_f64().round()
                )
            }));
        }
    };
    let status =
        status.map_err(|e| ExtractError::Failed(format!("lost the extraction process: {e}")))?;
    let stderr_text = String::from_utf8_lossy(&err.0);
    if status.success() {
        if out.1 {
            return Err(ExtractError::Failed(
                "the extraction process produced too much output".to_owned(),
            ));
        }
        return serde_json::from_slice::<Result<T, ExtractError>>(&out.0).unwrap_or_else(|e| {
            Err(ExtractError::Failed(format!(
                "the extraction process answered garbage: {e}"
            )))
        });
    }
    tracing::debug!(
        status = %status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        stderr = %stderr_text,
        "extraction child failed"
    );
    Err(ExtractError::Failed(describe_failure(
        status,
        &stderr_text,
        what,
        limits,
    )))
}

/// How long an extraction child may run: its CPU limit and, with OCR, how far each
/// helper run it announces extends its deadline and the absolute cap (module docs).
#[derive(Debug, Clone, Copy)]
struct OcrClock {
    cpu_secs: u64,
    per_helper: Duration,
    cap: Duration,
}

impl OcrClock {
    fn new(limits: &SandboxLimits, ocr: Option<&OcrOptions>) -> Self {
        match ocr {
            None => Self {
                cpu_secs: limits.cpu_secs,
                per_helper: Duration::ZERO,
                cap: limits.wall,
            },
            Some(ocr) => {
                let page = Duration::from_secs(ocr.page_timeout_secs.max(1));
                let runs = u32::try_from(ocr.max_pages.saturating_mul(3)).unwrap_or(u32::MAX);
                Self {
                    cpu_secs: limits
                        .cpu_secs
                        .saturating_add(u64::try_from(ocr.max_pages).unwrap_or(u64::MAX)),
                    per_helper: page.saturating_add(limits.wall),
                    cap: limits
                        .wall
                        .saturating_mul(2)
                        .saturating_add(page.saturating_mul(runs)),
                }
            }
        }
    }
}

/// Reads the child's stderr like [`read_bounded`], sending one message per progress line
/// (which is not kept): the page it announces, if any.
async fn read_stderr<R: AsyncRead + Unpin>(
    r: R,
    limit: usize,
    progress: tokio::sync::mpsc::UnboundedSender<Option<PageProgress>>,
) -> (Vec<u8>, bool) {
    use tokio::io::AsyncBufReadExt as _;
    let mut reader = tokio::io::BufReader::new(r);
    let mut kept = Vec::new();
    let mut overflow = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        // One line at a time, at most 64 KiB of it kept (the rest is drained with it).
        match (&mut reader)
            .take(64 * 1024)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.starts_with(super::child::PROGRESS_PREFIX.as_bytes()) {
            let _ = progress.send(PageProgress::parse(&line));
        } else if kept.len() + line.len() > limit {
            overflow = true;
        } else {
            kept.extend_from_slice(&line);
        }
    }
    (kept, overflow)
}

/// Human reason for a child that did not exit cleanly.
fn describe_failure(
    status: std::process::ExitStatus,
    stderr: &str,
    what: &str,
    limits: &SandboxLimits,
) -> String {
    let mib = limits.memory_bytes / (1024 * 1024);
    if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
        return format!("out of memory: the {what} needed more than {mib} MiB");
    }
    if stderr.contains("overflowed its stack") {
        return format!("the {what} is nested too deeply: the {what} parser overflowed its stack");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return match sig {
                libc::SIGXCPU => format!(
                    "extraction used more than {} s of CPU time",
                    limits.cpu_secs
                ),
                libc::SIGKILL => format!(
                    "the extraction process was killed (CPU limit {} s or memory limit {mib} MiB)",
                    limits.cpu_secs
                ),
                libc::SIGSEGV | libc::SIGBUS => {
                    format!("the {what} parser crashed (memory fault; possibly nested too deeply)")
                }
                _ => format!("the {what} parser crashed (signal {sig})"),
            };
        }
    }
    match status.code() {
        Some(code) => format!("the {what} parser crashed (exit code {code})"),
        None => format!("the {what} parser crashed"),
    }
}

/// Reads up to `limit` bytes, then drains the rest. Returns (bytes, overflowed).
async fn read_bounded<R: AsyncRead + Unpin>(mut r: R, limit: usize) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut overflow = false;
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if buf.len() + n > limit {
                    overflow = true;
                } else {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
    (buf, overflow)
}

/// Entry point of `docuvault extract-worker`: reads a [`WorkerRequest`] line and the bytes
/// from stdin, writes the JSON result to stdout. Exit code 0 whenever a result was
/// written (including extraction errors and caught panics).
pub fn run_worker() -> ExitCode {
    // Panics are reported as results; stderr keeps a one-line note for the parent's logs.
    std::panic::set_hook(Box::new(|info| eprintln!("extract-worker: {info}")));
    // Each helper run is announced, so that the parent extends the wall clock (OCR).
    super::child::report_progress();
    let result = match read_request() {
        Ok((req, bytes)) if req.thumbnail.is_some() => {
            return write_answer(&thumbnail(&req, &bytes));
        }
        Ok((req, bytes)) => {
            let fault = req.fault;
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inject(fault);
                let options = ExtractOptions {
                    ocr: req.ocr.clone(),
                    ..ExtractOptions::default()
                };
                extract_document(&req.content_type, &bytes, req.max_chars, &options)
            })) {
                Ok(r) => r,
                Err(_) => Err(ExtractError::Failed(format!(
                    "the {} parser crashed",
                    Kind::from_content_type(&req.content_type).map_or("document", Kind::label)
                ))),
            }
        }
        Err(reason) => Err(ExtractError::Failed(reason)),
    };
    write_answer(&result)
}

/// The worker's thumbnail run: a panic is an answer too.
fn thumbnail(req: &WorkerRequest, bytes: &[u8]) -> Result<Thumbnail, ExtractError> {
    let options = req.thumbnail.clone().unwrap_or_default();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        inject(req.fault);
        make_thumbnail(&req.content_type, bytes, &options)
    }))
    .unwrap_or_else(|_| {
        Err(ExtractError::Failed(
            "the thumbnail renderer crashed".to_owned(),
        ))
    })
}

/// Writes the worker's one JSON answer to stdout; exit code 0 when it was written.
fn write_answer<T: Serialize>(result: &T) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match serde_json::to_writer(&mut stdout, result)
        .and_then(|()| stdout.flush().map_err(serde_json::Error::io))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("docuvault extract-worker: cannot write the result: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_request() -> Result<(WorkerRequest, Vec<u8>), String> {
    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    (&mut stdin)
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("cannot read the extraction request: {e}"))?;
    let req: WorkerRequest =
        serde_json::from_slice(&line).map_err(|e| format!("malformed extraction request: {e}"))?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(req.len).unwrap_or(usize::MAX))
        .map_err(|_| "out of memory: the document does not fit the memory limit".to_owned())?;
    stdin
        .take(req.len)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the document: {e}"))?;
    if bytes.len() as u64 != req.len {
        return Err("the document was truncated in transit".to_owned());
    }
    Ok((req, bytes))
}

fn inject(fault: Option<Fault>) {
    match fault {
        None => {}
        Some(Fault::Panic) => panic!("injected panic"),
        Some(Fault::Abort) => std::process::abort(),
        Some(Fault::Spin) => loop {
            std::hint::black_box(0u64);
        },
        Some(Fault::Sleep) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        Some(Fault::StackOverflow) => {
            std::hint::black_box(recurse(0));
        }
        Some(Fault::Oom) => {
            let mut hog: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 64 * 1024 * 1024];
                block[0] = 1;
                hog.push(std::hint::black_box(block));
            }
        }
    }
}

fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 64]);
    if pad[1] == u64::MAX {
        return 0;
    }
    recurse(pad[0] + 1).wrapping_add(pad[63])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ocr_clock_grows_with_the_page_budget_and_is_capped() {
        let limits = SandboxLimits::default();
        let plain = OcrClock::new(&limits, None);
        assert_eq!(plain.cpu_secs, 30);
        assert_eq!(plain.per_helper, Duration::ZERO);
        assert_eq!(plain.cap, Duration::from_secs(45));
        let ocr = OcrOptions {
            max_pages: 20,
            page_timeout_secs: 60,
            ..OcrOptions::default()
        };
        let clock = OcrClock::new(&limits, Some(&ocr));
        // Each helper run buys its own budget plus the base wall clock …
        assert_eq!(clock.per_helper, Duration::from_secs(60 + 45));
        // … up to render + two readings of every page allowed.
        assert_eq!(clock.cap, Duration::from_secs(2 * 45 + 3 * 20 * 60));
        assert_eq!(clock.cpu_secs, 30 + 20);
    }
}
