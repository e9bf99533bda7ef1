//! OCR with Tesseract, run as a child process (never linked): one run per page, image in a
//! scratch file (greyscale PGM; tesseract reads a file far faster than a 4 MB page on
//! stdin, about 90 ms per page, see bench/ocr), word table (`tsv`) on stdout,
//! `OMP_THREAD_LIMIT=1`, and a wall-clock, CPU and address-space budget per page.
//!
//! Orientation: a page is read once as laid out (`--psm 3`); Tesseract reads pages turned
//! 90° or 270° that way, but a page upside down comes out as confident-looking garbage
//! with a low mean confidence. Only when the mean word confidence is below
//! [`RETRY_BELOW_CONFIDENCE`] is the page read again with orientation and script detection
//! (`--psm 1`, Tesseract's OSD, `tesseract-ocr-osd`), and the more confident reading
//! kept. Upright pages, the common case, so pay nothing for orientation.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ExtractError;
use super::child::{self, Budget, RunError};
use super::images::GreyPage;

/// A first reading less confident than this (mean word confidence, 0–100) is retried with
/// orientation detection.
pub const RETRY_BELOW_CONFIDENCE: f32 = 70.0;

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
        let out = child::run(&path, &["--version".as_ref()], &[], b"", budget).ok()?;
        // Tesseract 4/5 print the version on stdout ("tesseract 5.3.0"); some builds on stderr.
        let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), out.stderr);
        let version = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("tesseract "))?
            .trim()
            .trim_start_matches('v')
            .to_owned();
        Some(Engine { path, version })
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

/// One page read by tesseract.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageReading {
    pub text: String,
    pub mean_confidence: f32,
    pub words: usize,
    pub orientation_detected: bool,
}

/// A ready engine: tesseract plus the options of one document.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pub engine: Engine,
    pub options: &'a OcrOptions,
    languages: &'a str,
}

impl<'a> Reader<'a> {
    /// Finds tesseract; [`ExtractError::OcrUnavailable`] when missing.
    pub fn new(options: &'a OcrOptions) -> Result<Self, ExtractError> {
        let languages = options.checked_languages()?;
        let probe_budget = Budget {
            wall: Duration::from_secs(10),
            memory_bytes: 512 * 1024 * 1024,
            max_output: 4096,
        };
        let path = child::find_command(&options.tesseract).ok_or_else(|| {
            ExtractError::OcrUnavailable(
                "tesseract is not installed, so scans cannot be read".to_owned(),
            )
        })?;
        let version = child::run(&path, &["--version".as_ref()], &[], b"", probe_budget)
            .ok()
            .and_then(|out| {
                let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), out.stderr);
                text.lines()
                    .find_map(|l| l.trim().strip_prefix("tesseract "))
                    .map(|v| v.trim().trim_start_matches('v').to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(Self {
            engine: Engine { path, version },
            options,
            languages,
        })
    }

    /// Provenance of a page this reader read.
    pub fn provenance(&self, page: u32, reading: &PageReading) -> PageSource {
        PageSource {
            page,
            how: PageText::Ocr {
                engine: "tesseract".to_owned(),
                version: self.engine.version.clone(),
                languages: self.languages.to_owned(),
                mean_confidence: (reading.mean_confidence * 10.0).round() / 10.0,
                orientation_detected: reading.orientation_detected,
            },
        }
    }

    /// Reads one page; `dpi` when known (rendered PDF pages), else tesseract estimates it.
    pub fn read(
        &self,
        page: &GreyPage,
        dpi: Option<u32>,
        label: &str,
    ) -> Result<PageReading, ExtractError> {
        let file = scratch_page(page)?;
        let first = self.run(file.path(), page, dpi, 3, label)?;
        if first.mean_confidence >= RETRY_BELOW_CONFIDENCE {
            return Ok(first);
        }
        let second = self.run(file.path(), page, dpi, 1, label)?;
        Ok(if second.mean_confidence > first.mean_confidence {
            PageReading {
                orientation_detected: true,
                ..second
            }
        } else {
            first
        })
    }

    fn run(
        &self,
        image: &std::path::Path,
        page: &GreyPage,
        dpi: Option<u32>,
        psm: u8,
        label: &str,
    ) -> Result<PageReading, ExtractError> {
        let psm = psm.to_string();
        let dpi = dpi.map(|d| d.to_string());
        let mut args: Vec<&std::ffi::OsStr> = vec![
            image.as_os_str(),
            "stdout".as_ref(),
            "-l".as_ref(),
            self.languages.as_ref(),
            "--psm".as_ref(),
            psm.as_ref(),
        ];
        if let Some(dpi) = &dpi {
            args.push("--dpi".as_ref());
            args.push(dpi.as_ref());
        }
        args.push("tsv".as_ref());
        // A word row is at most a few hundred bytes; 64 MiB is far beyond any real page.
        let budget = self.options.page_budget(64 * 1024 * 1024);
        let out = child::run(
            &self.engine.path,
            &args,
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
        if !out.status.success() {
            return Err(ExtractError::Failed(format!(
                "OCR of {label}: {}",
                child::describe_exit("tesseract", &out)
            )));
        }
        if out.stdout_overflowed {
            return Err(ExtractError::Failed(format!(
                "OCR of {label} produced too much output"
            )));
        }
        let reading = parse_tsv(&String::from_utf8_lossy(&out.stdout));
        tracing::debug!(
            width = page.width,
            height = page.height,
            psm,
            words = reading.words,
            mean_confidence = reading.mean_confidence,
            "OCR of {label}"
        );
        Ok(reading)
    }
}

/// The page as a PGM scratch file (removed when dropped), for tesseract to read.
fn scratch_page(page: &GreyPage) -> Result<tempfile::NamedTempFile, ExtractError> {
    use std::io::Write;
    let fail =
        |e: std::io::Error| ExtractError::Failed(format!("cannot write the page for OCR: {e}"));
    let mut file = tempfile::Builder::new()
        .prefix("docuvault-ocr-")
        .suffix(".pgm")
        .tempfile()
        .map_err(fail)?;
    file.write_all(&page.pgm).map_err(fail)?;
    file.flush().map_err(fail)?;
    Ok(file)
}

/// Text and mean word confidence from tesseract's `tsv` output: words (level 5) joined by
/// spaces, lines by newlines, paragraphs and blocks by blank lines.
pub(crate) fn parse_tsv(tsv: &str) -> PageReading {
    let mut text = String::new();
    let mut last: Option<(&str, &str, &str, &str)> = None;
    let (mut sum, mut words) = (0f64, 0usize);
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
        if let Ok(conf) = cols[10].parse::<f64>()
            && conf >= 0.0
        {
            sum += conf;
            words += 1;
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
        orientation_detected: false,
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
            },
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"page": 2, "source": "ocr", "engine": "tesseract",
                "version": "5.3.0", "languages": "deu+eng", "mean_confidence": 91.5,
                "orientation_detected": false})
        );
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
        let file = scratch_page(&page).unwrap();
        let path = file.path().to_owned();
        assert_eq!(path.extension().unwrap(), "pgm");
        assert_eq!(std::fs::read(&path).unwrap(), pgm);
        drop(file);
        assert!(!path.exists());
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
