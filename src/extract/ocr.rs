//! OCR with Tesseract, run as a child process (never linked): one run per page, image in a
//! scratch file (greyscale PGM; tesseract reads a file far faster than a 4 MB page on
//! stdin, about 90 ms per page, see bench/ocr), word table (`tsv`) on stdout,
//! `OMP_THREAD_LIMIT=1`, and a wall-clock, CPU and address-space budget per page.
//!
//! Orientation: a page is read once as laid out (`--psm 3`); Tesseract reads pages turned
//! 90° that way, but a page upside down (or turned 270°) comes out as confident-looking
//! garbage with a low mean confidence and hardly a confident word. Only when the mean
//! word confidence is below [`RETRY_BELOW_CONFIDENCE`] and few words were read confidently
//! ([`PageReading::looks_upright`]: upright pages with symbols, tables or a poor scan keep
//! their prose confident) does Tesseract's orientation detection run (`-l osd --psm 0`,
//! `tesseract-ocr-osd`), on a crop of the page around the words the first reading found
//! (a few dozen words are plenty). A page it finds turned is rotated here and read
//! again, and the more confident reading kept. Upright pages, the common case, pay
//! nothing for orientation.
//!
//! JPEGs (uploads, and full-page JPEGs of PDFs) go to tesseract as they are, checked
//! from their headers (size, completeness) but not decoded here: tesseract decodes them
//! anyway. Other images are decoded here (every check of `images`) and written as PGM.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ExtractError;
use super::child::{self, Budget, RunError};
use super::images::GreyPage;
use crate::domain::document_type::ImageKind;

/// A first reading less confident than this (mean word confidence, 0–100) is retried with
/// orientation detection.
pub const RETRY_BELOW_CONFIDENCE: f32 = 70.0;

/// Orientation detection's confidence (Tesseract's margin between the best and the
/// second-best orientation) from which a turned page is read again. Upright pages of real
/// text score well above 10 for "upright"; a turned page is re-read even on a weak
/// verdict, since the more confident of the two readings is kept anyway.
const MIN_ORIENTATION_CONFIDENCE: f32 = 1.0;

/// Words of the first reading that orientation detection looks at (a few hundred
/// characters; its classifier stops after 100).
const ORIENTATION_WORDS: usize = 60;

/// A word read with at least this confidence (0–100) is read confidently.
const CONFIDENT_WORD: f64 = 90.0;

/// Share of confidently read words from which a low-confidence reading counts as upright
/// ([`PageReading::looks_upright`]).
const UPRIGHT_CONFIDENT_SHARE: f32 = 0.15;

/// How OCR runs for one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OcrOptions {
    /// Tesseract languages, `+`-joined (`"eng"`, `"deu+eng"`).
    pub languages: String,
    /// Wall-clock budget of one page (tesseract run or page render), in seconds; also its
    /// CPU budget.
    pub page_timeout_secs: u64,
    /// Address-space limit of each tesseract / pdftoppm run, in bytes.
    pub page_memory_bytes: u64,
    /// Most pages OCR'd (or rendered) in one document; a document needing more fails.
    pub max_pages: usize,
    /// Largest page image accepted, in pixels.
    pub max_pixels: u64,
    /// Resolution PDF pages are rendered at for OCR.
    pub render_dpi: u32,
    /// The tesseract program: a name looked up on the helper search path, or an absolute
    /// path (`ocr.tesseract_command`).
    pub tesseract: String,
    /// Return poorly read pages as images for the owner's AI provider
    /// ([`super::vision`]); `None` (the default) returns none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_fallback: Option<super::vision::VisionRequest>,
    /// Its version as the start-up probe found it (provenance); `None` asks the program
    /// once per document.
    pub tesseract_version: Option<String>,
    /// Whether orientation data (`osd`) is installed: without it, low-confidence pages are
    /// not checked for being turned.
    pub orientation: bool,
}

impl Default for OcrOptions {
    fn default() -> Self {
        Self {
            languages: "eng".to_owned(),
            page_timeout_secs: 60,
            page_memory_bytes: 1024 * 1024 * 1024,
            max_pages: 200,
            max_pixels: 50_000_000,
            render_dpi: 300,
            tesseract: "tesseract".to_owned(),
            ai_fallback: None,
            tesseract_version: None,
            orientation: true,
        }
    }
}

impl OcrOptions {
    pub(crate) fn page_budget(&self, max_output: usize) -> Budget {
        Budget {
            wall: Duration::from_secs(self.page_timeout_secs.max(1)),
            memory_bytes: self.page_memory_bytes,
            max_output,
        }
    }

    pub(crate) fn image_limits(&self) -> super::images::ImageLimits {
        super::images::ImageLimits {
            max_pixels: self.max_pixels,
            max_pages: self.max_pages,
        }
    }

    /// The languages, checked: `+`-joined names of letters, digits and `_` (they become a
    /// command-line argument).
    fn checked_languages(&self) -> Result<&str, ExtractError> {
        let ok = !self.languages.is_empty()
            && self.languages.split('+').all(|l| {
                !l.is_empty()
                    && l.len() <= 32
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if ok {
            Ok(&self.languages)
        } else {
            Err(ExtractError::Failed(format!(
                "the OCR languages {:?} are not valid",
                self.languages
            )))
        }
    }
}

/// Where a page's text came from; stored as JSON next to the text (provenance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageSource {
    /// 1-based page number.
    pub page: u32,
    /// How the text was obtained.
    #[serde(flatten)]
    pub how: PageText,
}

/// How a page's text was obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum PageText {
    /// The document's own text (PDF text layer).
    TextLayer {
        /// Which reader produced it: `"pdf-extract"` or `"pdftotext"` (after a crash).
        extractor: String,
    },
    /// Optical character recognition.
    Ocr {
        /// Always `"tesseract"`.
        engine: String,
        /// Engine version (`tesseract --version`), e.g. `"5.3.0"`.
        version: String,
        /// Languages used, e.g. `"deu+eng"`.
        languages: String,
        /// Mean word confidence, 0–100 (one decimal); 0 for a page without words.
        mean_confidence: f32,
        /// Whether the page was read with orientation detection (turned or poor pages).
        orientation_detected: bool,
        /// Where the page image came from (stored with the provenance, not shown by the
        /// API); absent in provenance stored before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<PageImage>,
    },
    /// Read by the owner's vision-capable AI model, because Tesseract read the page
    /// poorly (its reading was replaced; [`super::vision`]).
    Ai {
        /// The provider (`openai`, `anthropic`, `ollama`).
        provider: String,
        /// The model, as sent.
        model: String,
        /// Languages the page was expected in, e.g. `"deu+eng"`.
        languages: String,
        /// Mean word confidence of the Tesseract reading that was replaced, 0–100.
        tesseract_confidence: f32,
    },
}

/// Where an OCR'd page image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageImage {
    /// The uploaded image file itself (JPEG, PNG, TIFF page, WebP).
    Upload,
    /// A PDF page that is one full-page JPEG: that JPEG, passed straight through.
    EmbeddedJpeg,
    /// A PDF page rendered with `pdftoppm`.
    Rendered,
}

/// Tesseract as found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    /// Absolute path of the `tesseract` executable.
    pub path: PathBuf,
    /// Its version, e.g. `"5.3.0"`.
    pub version: String,
}

/// What OCR can do on this machine: for `/health`, the UI's language choice and the
/// pipeline's decision to OCR or to park a scan as `ocr_unavailable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Tesseract, if installed and answering.
    pub engine: Option<Engine>,
    /// Installed languages (`tesseract --list-langs`), without `osd`.
    pub languages: Vec<String>,
    /// Whether orientation detection data (`osd`) is installed.
    pub orientation: bool,
    /// `pdftoppm` (renders PDF pages without a text layer), if installed.
    pub renderer: Option<PathBuf>,
    /// `pdftotext` (reads PDFs the built-in parser crashes on), if installed.
    pub pdftotext: Option<PathBuf>,
}

impl Probe {
    /// Whether `languages` (`+`-joined) are all installed.
    pub fn has_languages(&self, languages: &str) -> bool {
        self.engine.is_some()
            && languages
                .split('+')
                .all(|l| self.languages.iter().any(|i| i == l))
    }
}

/// Finds tesseract, its version and languages, and the PDF helpers. Runs two short child
/// processes; call once at start (or per health check), not per page.
pub fn probe() -> Probe {
    probe_with("tesseract")
}

/// [`probe`] with the tesseract program named by `tesseract_command` (a name looked up
/// like every helper, or an absolute path).
pub fn probe_with(tesseract_command: &str) -> Probe {
    let budget = Budget {
        wall: Duration::from_secs(10),
        memory_bytes: 512 * 1024 * 1024,
        max_output: 64 * 1024,
    };
    let engine = child::find_command(tesseract_command).and_then(|path| {
        Some(Engine {
            version: version_of(&path)?,
            path,
        })
    });
    let mut languages: Vec<String> = engine
        .as_ref()
        .and_then(|e| child::run(&e.path, &["--list-langs".as_ref()], &[], b"", budget).ok())
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip_while(|l| !l.starts_with("List of available languages"))
                .skip(1)
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let orientation = languages.iter().any(|l| l == "osd");
    languages.retain(|l| l != "osd");
    Probe {
        engine,
        languages,
        orientation,
        renderer: child::find_program("pdftoppm"),
        pdftotext: child::find_program("pdftotext"),
    }
}

/// `tesseract --version` (a short child process): "5.3.0", or `None` when it does not
/// answer like Tesseract.
fn version_of(path: &std::path::Path) -> Option<String> {
    let budget = Budget {
        wall: Duration::from_secs(10),
        memory_bytes: 512 * 1024 * 1024,
        max_output: 64 * 1024,
    };
    let out = child::run(path, &["--version".as_ref()], &[], b"", budget).ok()?;
    // Tesseract 4/5 print the version on stdout ("tesseract 5.3.0"); some builds on stderr.
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), out.stderr);
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tesseract "))?
        .trim()
        .trim_start_matches('v')
        .to_owned();
    Some(version)
}

/// A page image as it is handed to tesseract.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PageInput<'a> {
    /// Decoded grey pixels (written as PGM).
    Grey(&'a GreyPage),
    /// A JPEG, checked from its header ([`super::images::check_jpeg`]: size `size`,
    /// complete), as it is: tesseract decodes it. Decoded here (within `limits`) only if
    /// the page has to be turned.
    Jpeg {
        bytes: &'a [u8],
        size: (u32, u32),
        limits: super::images::ImageLimits,
    },
}

/// One page read by tesseract.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageReading {
    pub text: String,
    pub mean_confidence: f32,
    pub words: usize,
    /// Words read with a confidence of at least [`CONFIDENT_WORD`].
    pub confident_words: usize,
    pub orientation_detected: bool,
    /// Where the words were found, in pixels of the page read.
    pub boxes: Vec<WordBox>,
}

impl PageReading {
    /// Whether a low-confidence reading is still plainly of an upright page: at least
    /// [`UPRIGHT_CONFIDENT_SHARE`] of its (20 or more) words read confidently. Pages
    /// turned 180° or 270° read as garbage with hardly a confident word (at most 8 % of
    /// the words of 17 turned real pages), while upright pages with a low mean (symbol
    /// fonts, tables, poor scans) keep their prose confident (24–56 % of the words of the
    /// benchmark's pages below 70); such pages skip orientation detection.
    fn looks_upright(&self) -> bool {
        self.words >= 20
            && self.confident_words as f32 >= UPRIGHT_CONFIDENT_SHARE * self.words as f32
    }
}

/// A word's bounding box in a page image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WordBox {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// What orientation detection says: turn the page `rotate` degrees clockwise to make it
/// upright, with this confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Orientation {
    pub rotate: u32,
    pub confidence: f32,
}

/// A ready engine: tesseract plus the options of one document.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pub engine: Engine,
    pub options: &'a OcrOptions,
    languages: &'a str,
}

impl<'a> Reader<'a> {
    /// Finds tesseract; [`ExtractError::OcrUnavailable`] when missing. Its version comes
    /// from the options (the start-up probe), else from asking it once.
    pub fn new(options: &'a OcrOptions) -> Result<Self, ExtractError> {
        let languages = options.checked_languages()?;
        let path = child::find_command(&options.tesseract).ok_or_else(|| {
            ExtractError::OcrUnavailable(
                "tesseract is not installed, so scans cannot be read".to_owned(),
            )
        })?;
        let version = match &options.tesseract_version {
            Some(version) => version.clone(),
            None => version_of(&path).unwrap_or_else(|| "unknown".to_owned()),
        };
        Ok(Self {
            engine: Engine { path, version },
            options,
            languages,
        })
    }

    /// Provenance of a page this reader read from an image of `origin`.
    pub fn provenance(&self, page: u32, reading: &PageReading, origin: PageImage) -> PageSource {
        PageSource {
            page,
            how: PageText::Ocr {
                engine: "tesseract".to_owned(),
                version: self.engine.version.clone(),
                languages: self.languages.to_owned(),
                mean_confidence: (reading.mean_confidence * 10.0).round() / 10.0,
                orientation_detected: reading.orientation_detected,
                image: Some(origin),
            },
        }
    }

    /// Reads one page; `dpi` when known (rendered PDF pages, embedded JPEGs), else
    /// tesseract estimates it (or takes it from the JPEG). A low-confidence reading that
    /// does not look upright is checked for a turned page (module docs).
    pub fn read(
        &self,
        input: PageInput<'_>,
        dpi: Option<u32>,
        label: &str,
    ) -> Result<PageReading, ExtractError> {
        let first = match &input {
            PageInput::Grey(page) => {
                let file = scratch_file(&page.pgm, ".pgm")?;
                self.read_file(file.path(), (page.width, page.height), dpi, label)?
            }
            PageInput::Jpeg {
                bytes,
                size,
                limits,
            } => {
                let file = scratch_file(bytes, ".jpg")?;
                match self.read_file(file.path(), *size, dpi, label) {
                    Ok(reading) => reading,
                    // Tesseract's JPEG decoder gave up: ours has its say (pixels to read
                    // after all, or a reason).
                    Err(failed) => {
                        tracing::debug!(%failed, "{label}: read again from decoded pixels");
                        let page = decode_jpeg(bytes, limits)?;
                        return self.read(PageInput::Grey(&page), dpi, label);
                    }
                }
            }
        };
        if first.mean_confidence >= RETRY_BELOW_CONFIDENCE
            || !self.options.orientation
            || first.looks_upright()
        {
            return Ok(first);
        }
        // Turning needs the pixels: a JPEG passed as it is is decoded now.
        let decoded;
        let page = match input {
            PageInput::Grey(page) => page,
            PageInput::Jpeg { bytes, limits, .. } => match decode_jpeg(bytes, &limits) {
                Ok(page) => {
                    decoded = page;
                    &decoded
                }
                Err(e) => {
                    tracing::debug!(%e, "{label}: not decoded for orientation detection");
                    return Ok(first);
                }
            },
        };
        let Some(turn) = self.orientation(page, &first, dpi, label) else {
            return Ok(first);
        };
        let upright = page.rotated_clockwise(turn);
        let file = scratch_file(&upright.pgm, ".pgm")?;
        let second = self.read_file(file.path(), (upright.width, upright.height), dpi, label)?;
        Ok(if second.mean_confidence > first.mean_confidence {
            PageReading {
                orientation_detected: true,
                ..second
            }
        } else {
            first
        })
    }

    /// Reads the page image in `image` (a scratch file) as laid out (`--psm 3`).
    fn read_file(
        &self,
        image: &std::path::Path,
        size: (u32, u32),
        dpi: Option<u32>,
        label: &str,
    ) -> Result<PageReading, ExtractError> {
        let out = self.run(
            image,
            size,
            dpi,
            &["-l", self.languages, "--psm", "3"],
            "tsv",
            label,
        )?;
        let reading = parse_tsv(&String::from_utf8_lossy(&out.stdout));
        tracing::debug!(
            width = size.0,
            height = size.1,
            words = reading.words,
            mean_confidence = reading.mean_confidence,
            "OCR of {label}"
        );
        Ok(reading)
    }

    /// How far to turn `page` clockwise to make it upright, when orientation detection
    /// says it is turned: first on a crop around the words of `first`, then, when that
    /// crop has too little text to tell, on the whole page. `None` for an upright page or
    /// when detection fails (the first reading then stands).
    fn orientation(
        &self,
        page: &GreyPage,
        first: &PageReading,
        dpi: Option<u32>,
        label: &str,
    ) -> Option<u32> {
        let detect = |image: &GreyPage| -> Option<Orientation> {
            let file = scratch_file(&image.pgm, ".pgm").ok()?;
            let out = self
                .run(
                    file.path(),
                    (image.width, image.height),
                    dpi,
                    // The characters looked at: up to 5 × 20 (Tesseract's default, 5 × 50,
                    // takes twice as long for the same verdict on real pages).
                    &["-l", "osd", "--psm", "0", "-c", "min_characters_to_try=20"],
                    "",
                    label,
                )
                .ok()?;
            // "Too few characters" exits 1: nothing to tell.
            out.status
                .success()
                .then(|| parse_osd(&String::from_utf8_lossy(&out.stdout)))?
        };
        let found = match orientation_crop(page.width, page.height, &first.boxes) {
            Some(crop) => detect(&page.cropped(crop.left, crop.top, crop.width, crop.height))
                .or_else(|| detect(page)),
            None => detect(page),
        };
        tracing::debug!(?found, "orientation of {label}");
        found
            .filter(|o| o.rotate % 360 != 0 && o.confidence >= MIN_ORIENTATION_CONFIDENCE)
            .map(|o| o.rotate % 360)
    }

    /// Runs tesseract on `image` (a scratch file of a page of `size` pixels) with `args`,
    /// writing `output` (a config such as `tsv`, or nothing) to stdout, under the page
    /// budget.
    fn run(
        &self,
        image: &std::path::Path,
        size: (u32, u32),
        dpi: Option<u32>,
        args: &[&str],
        output: &str,
        label: &str,
    ) -> Result<child::Finished, ExtractError> {
        let dpi = dpi.map(|d| d.to_string());
        let mut argv: Vec<&std::ffi::OsStr> = vec![image.as_os_str(), "stdout".as_ref()];
        argv.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        if let Some(dpi) = &dpi {
            argv.push("--dpi".as_ref());
            argv.push(dpi.as_ref());
        }
        if !output.is_empty() {
            argv.push(output.as_ref());
        }
        // A word row is at most a few hundred bytes; 64 MiB is far beyond any real page.
        let budget = self.options.page_budget(64 * 1024 * 1024);
        let out = child::run(
            &self.engine.path,
            &argv,
            &[("OMP_THREAD_LIMIT", "1")],
            b"",
            budget,
        )
        .map_err(|e| match e {
            RunError::Timeout => ExtractError::Failed(format!(
                "OCR of {label} took longer than {} s",
                budget.wall.as_secs()
            )),
            RunError::Spawn(e) => {
                ExtractError::Failed(format!("tesseract could not be started: {e}"))
            }
        })?;
        if output.is_empty() {
            return Ok(out);
        }
        if !out.status.success() {
            return Err(ExtractError::Failed(format!(
                "OCR of {label} ({} × {} pixels): {}",
                size.0,
                size.1,
                child::describe_exit("tesseract", &out)
            )));
        }
        if out.stdout_overflowed {
            return Err(ExtractError::Failed(format!(
                "OCR of {label} produced too much output"
            )));
        }
        Ok(out)
    }
}

/// The part of a page that orientation detection looks at: the [`ORIENTATION_WORDS`]
/// words found closest together top to bottom (the densest text), with a margin of a
/// word's height. `None` when the first reading found too few words to choose from.
pub(crate) fn orientation_crop(width: u32, height: u32, boxes: &[WordBox]) -> Option<WordBox> {
    let mut words: Vec<&WordBox> = boxes.iter().filter(|b| b.height >= 6).collect();
    if words.len() < ORIENTATION_WORDS / 3 {
        return None;
    }
    let middle = |b: &WordBox| u64::from(b.top) * 2 + u64::from(b.height);
    words.sort_by_key(|b| middle(b));
    let n = ORIENTATION_WORDS.min(words.len());
    let start = (0..=words.len() - n)
        .min_by_key(|&i| middle(words[i + n - 1]) - middle(words[i]))
        .unwrap_or(0);
    let chosen = &words[start..start + n];
    let mut heights: Vec<u32> = chosen.iter().map(|b| b.height).collect();
    heights.sort_unstable();
    let margin = heights[heights.len() / 2];
    let left = chosen.iter().map(|b| b.left).min()?.saturating_sub(margin);
    let top = chosen.iter().map(|b| b.top).min()?.saturating_sub(margin);
    let right = chosen
        .iter()
        .map(|b| b.left.saturating_add(b.width))
        .max()?
        .saturating_add(margin)
        .min(width);
    let bottom = chosen
        .iter()
        .map(|b| b.top.saturating_add(b.height))
        .max()?
        .saturating_add(margin)
        .min(height);
    (right > left && bottom > top).then(|| WordBox {
        left,
        top,
        width: right - left,
        height: bottom - top,
    })
}

/// Tesseract's orientation report (`--psm 0`): `Rotate: 180` and `Orientation confidence:
/// 12.3`.
pub(crate) fn parse_osd(out: &str) -> Option<Orientation> {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
    };
    let rotate: u32 = field("Rotate:")?.parse().ok()?;
    let confidence: f32 = field("Orientation confidence:")?.parse().ok()?;
    matches!(rotate, 0 | 90 | 180 | 270).then_some(Orientation { rotate, confidence })
}

/// A JPEG decoded to grey, with every check of an uploaded one.
fn decode_jpeg(
    bytes: &[u8],
    limits: &super::images::ImageLimits,
) -> Result<GreyPage, ExtractError> {
    let mut decoded = None;
    super::images::for_each_page(bytes, ImageKind::Jpeg, limits, |_, page| {
        decoded = Some(page);
        Ok(())
    })?;
    decoded.ok_or_else(|| ExtractError::Failed("the JPEG image has no page".to_owned()))
}

/// A page image (`bytes`, a file ending in `suffix`: `.pgm`, `.jpg`) as a scratch file
/// (removed when dropped), for tesseract to read.
fn scratch_file(bytes: &[u8], suffix: &str) -> Result<tempfile::NamedTempFile, ExtractError> {
    use std::io::Write;
    let fail =
        |e: std::io::Error| ExtractError::Failed(format!("cannot write the page for OCR: {e}"));
    let mut file = tempfile::Builder::new()
        .prefix("docuvault-ocr-")
        .suffix(suffix)
        .tempfile()
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.flush().map_err(fail)?;
    Ok(file)
}

/// Text and mean word confidence from tesseract's `tsv` output: words (level 5) joined by
/// spaces, lines by newlines, paragraphs and blocks by blank lines.
pub(crate) fn parse_tsv(tsv: &str) -> PageReading {
    let mut text = String::new();
    let mut last: Option<(&str, &str, &str, &str)> = None;
    let (mut sum, mut words, mut confident) = (0f64, 0usize, 0usize);
    let mut boxes = Vec::new();
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let word = cols[11].trim();
        if word.is_empty() {
            continue;
        }
        let (page, block, par, line) = (cols[1], cols[2], cols[3], cols[4]);
        if let Some((p, b, pa, l)) = last {
            if (p, b, pa) != (page, block, par) {
                text.push_str("\n\n");
            } else if l != line {
                text.push('\n');
            } else {
                text.push(' ');
            }
        }
        text.push_str(word);
        last = Some((page, block, par, line));
        let px = |i: usize| cols[i].parse::<u32>().unwrap_or(0);
        boxes.push(WordBox {
            left: px(6),
            top: px(7),
            width: px(8),
            height: px(9),
        });
        if let Ok(conf) = cols[10].parse::<f64>()
            && conf >= 0.0
        {
            sum += conf;
            words += 1;
            confident += usize::from(conf >= CONFIDENT_WORD);
        }
    }
    PageReading {
        text,
        mean_confidence: if words == 0 {
            0.0
        } else {
            (sum / words as f64) as f32
        },
        words,
        confident_words: confident,
        orientation_detected: false,
        boxes,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn tsv_words_lines_and_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
            5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello\n\
            5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tworld\n\
            5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tnext\n\
            5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t60\tblock\n\
            5\t1\t2\t1\t1\t2\t0\t0\t1\t1\t95\t \n";
        let got = parse_tsv(tsv);
        assert_eq!(got.text, "Hello world\nnext\n\nblock");
        assert_eq!(got.words, 4);
        assert_eq!(got.confident_words, 1);
        assert!((got.mean_confidence - 75.0).abs() < 0.01);
        assert_eq!(parse_tsv("").mean_confidence, 0.0);
    }

    #[test]
    fn provenance_serialises_flat() {
        let json = serde_json::to_value(PageSource {
            page: 2,
            how: PageText::Ocr {
                engine: "tesseract".into(),
                version: "5.3.0".into(),
                languages: "deu+eng".into(),
                mean_confidence: 91.5,
                orientation_detected: false,
                image: Some(PageImage::EmbeddedJpeg),
            },
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"page": 2, "source": "ocr", "engine": "tesseract",
                "version": "5.3.0", "languages": "deu+eng", "mean_confidence": 91.5,
                "orientation_detected": false, "image": "embedded_jpeg"})
        );
        // Provenance stored before the image was recorded still reads.
        let old: PageSource = serde_json::from_value(serde_json::json!({"page": 1,
            "source": "ocr", "engine": "tesseract", "version": "5.3.0", "languages": "eng",
            "mean_confidence": 90.0, "orientation_detected": true}))
        .unwrap();
        assert!(matches!(old.how, PageText::Ocr { image: None, .. }));
        let layer = serde_json::to_value(PageSource {
            page: 1,
            how: PageText::TextLayer {
                extractor: "pdf-extract".into(),
            },
        })
        .unwrap();
        assert_eq!(
            layer,
            serde_json::json!({"page": 1, "source": "text_layer", "extractor": "pdf-extract"})
        );
    }

    #[test]
    fn a_page_goes_to_tesseract_as_a_scratch_file_removed_afterwards() {
        let mut pgm = b"P5\n2 1\n255\n".to_vec();
        pgm.extend_from_slice(&[0, 255]);
        let page = GreyPage::from_pgm(pgm.clone()).unwrap();
        let file = scratch_file(&page.pgm, ".pgm").unwrap();
        let path = file.path().to_owned();
        assert_eq!(path.extension().unwrap(), "pgm");
        assert_eq!(std::fs::read(&path).unwrap(), pgm);
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn tsv_keeps_word_boxes() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            5\t1\t1\t1\t1\t1\t10\t20\t30\t40\t90\tHello\n";
        assert_eq!(
            parse_tsv(tsv).boxes,
            vec![WordBox {
                left: 10,
                top: 20,
                width: 30,
                height: 40
            }]
        );
    }

    #[test]
    fn only_readings_without_confident_words_look_turned() {
        let reading = |words: usize, confident_words: usize| PageReading {
            text: String::new(),
            mean_confidence: 50.0,
            words,
            confident_words,
            orientation_detected: false,
            boxes: Vec::new(),
        };
        // A page turned 180°: garbage, hardly a confident word.
        assert!(!reading(360, 11).looks_upright());
        // An upright page of symbols with its prose read confidently.
        assert!(reading(133, 32).looks_upright());
        // Too few words to tell.
        assert!(!reading(10, 10).looks_upright());
    }

    #[test]
    fn osd_report_parses() {
        let out = "Page number: 0\nOrientation in degrees: 90\nRotate: 270\n\
            Orientation confidence: 24.51\nScript: Latin\nScript confidence: 1.52\n";
        assert_eq!(
            parse_osd(out),
            Some(Orientation {
                rotate: 270,
                confidence: 24.51
            })
        );
        assert_eq!(parse_osd("Too few characters. Skipping this page"), None);
        assert_eq!(parse_osd("Rotate: 45\nOrientation confidence: 3"), None);
    }

    fn word(left: u32, top: u32) -> WordBox {
        WordBox {
            left,
            top,
            width: 50,
            height: 20,
        }
    }

    #[test]
    fn orientation_looks_at_the_densest_words() {
        // Too few words to choose from: the whole page.
        let few: Vec<WordBox> = (0..10).map(|i| word(100, 100 + i * 30)).collect();
        assert_eq!(orientation_crop(2000, 3000, &few), None);
        // A sparse heading, then a dense paragraph of 6 lines × 10 words.
        let mut words: Vec<WordBox> = (0..10).map(|i| word(100, 100 + i * 200)).collect();
        for line in 0..6 {
            for w in 0..10 {
                words.push(word(100 + w * 60, 2300 + line * 25));
            }
        }
        let crop = orientation_crop(2000, 3000, &words).unwrap();
        // The paragraph, with a margin of one word height, and not the heading.
        assert_eq!(crop.top, 2300 - 20);
        assert_eq!(crop.left, 100 - 20);
        assert_eq!(crop.top + crop.height, 2300 + 5 * 25 + 20 + 20);
        assert_eq!(crop.left + crop.width, 100 + 9 * 60 + 50 + 20);
        // Clamped to the page.
        let edge: Vec<WordBox> = (0..60).map(|i| word(1990, 2990 - i % 3)).collect();
        let crop = orientation_crop(2000, 3000, &edge).unwrap();
        assert!(crop.left + crop.width <= 2000 && crop.top + crop.height <= 3000);
    }

    #[test]
    fn languages_are_checked() {
        let bad = OcrOptions {
            languages: "eng;rm -rf".into(),
            ..OcrOptions::default()
        };
        assert!(bad.checked_languages().is_err());
        let empty_part = OcrOptions {
            languages: "deu+".into(),
            ..OcrOptions::default()
        };
        assert!(empty_part.checked_languages().is_err());
        let ok = OcrOptions {
            languages: "deu+eng+chi_sim".into(),
            ..OcrOptions::default()
        };
        assert_eq!(ok.checked_languages().unwrap(), "deu+eng+chi_sim");
    }
}
