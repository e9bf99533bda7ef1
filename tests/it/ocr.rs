//! OCR on scans made at test time from real PDFs (the corpus of tests/extract_real.rs:
//! Debian's texlive-fonts-recommended-doc), through the sandboxed worker exactly as the
//! pipeline will run it: grey JPEGs at 200 dpi, quality 70, turned 1.5°; pages turned 90°
//! and 180°; a multi-page TIFF; a PDF with a text page and a scanned page; a scanned PDF
//! whose page JPEG is passed straight through; a German page.
//! Word recall against pdftotext (or the rendered text) must average >= 0.9.
//!
//! Needs tesseract (eng, deu, osd), poppler-utils and ImageMagick. Without them these tests
//! print a notice and pass, unless `DOCUVAULT_TEST_OCR=1` is set: then they FAIL. The corpus
//! is found like tests/extract_real.rs finds it. The hostile-input tests need none of this.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use docuvault::extract::ocr::PageImage;
use docuvault::extract::sandbox::{SandboxLimits, extract_in_child_with_ocr};
use docuvault::extract::{ExtractError, Extracted, OcrOptions, PageText};

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_docuvault"))
}

fn limits() -> SandboxLimits {
    SandboxLimits {
        memory_bytes: 1024 * 1024 * 1024,
        cpu_secs: 300,
        wall: Duration::from_secs(600),
        max_chars: 1_000_000,
        fault: None,
    }
}

async fn ocr(content_type: &str, bytes: &[u8], languages: &str) -> Result<Extracted, ExtractError> {
    let options = OcrOptions {
        languages: languages.to_owned(),
        ..OcrOptions::default()
    };
    extract_in_child_with_ocr(exe(), content_type, bytes, &limits(), Some(&options)).await
}

pub(crate) fn required() -> bool {
    std::env::var("DOCUVAULT_TEST_OCR").is_ok_and(|v| v == "1")
}

/// ImageMagick's own `convert` (Debian puts it in /usr/bin; a stand-in elsewhere on PATH
/// may not be the real one).
pub(crate) fn convert() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/convert");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("convert")
    }
}

/// The tools and the corpus, or `None` (after a notice) when they are missing and not
/// required.
pub(crate) fn setup() -> Option<PathBuf> {
    let probe = docuvault::extract::ocr::probe();
    let mut missing = Vec::new();
    if probe.engine.is_none() {
        missing.push("tesseract".to_owned());
    }
    for lang in ["eng", "deu"] {
        if !probe.languages.iter().any(|l| l == lang) {
            missing.push(format!("tesseract language {lang}"));
        }
    }
    if !probe.orientation {
        missing.push("tesseract osd".to_owned());
    }
    if probe.renderer.is_none() || probe.pdftotext.is_none() {
        missing.push("poppler-utils".to_owned());
    }
    if Command::new(convert())
        .arg("-version")
        .output()
        .map(|o| !String::from_utf8_lossy(&o.stdout).contains("ImageMagick"))
        .unwrap_or(true)
    {
        missing.push("imagemagick".to_owned());
    }
    let corpus = std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/docuvault-corpus/v1"))
        })
        .filter(|d| d.join("STAMP").exists() && d.join("pdf/txfontsdoc.pdf").exists());
    if corpus.is_none() {
        missing.push("the real-document corpus (export DOCUVAULT_TEST_CORPUS_DIR=\"$(bash .ci/fetch-corpus.sh)\")".to_owned());
    }
    if missing.is_empty() {
        return corpus;
    }
    let what = format!(
        "OCR tests need: {} (apt-get install -y tesseract-ocr tesseract-ocr-eng \
         tesseract-ocr-deu tesseract-ocr-osd poppler-utils imagemagick)",
        missing.join(", ")
    );
    assert!(!required(), "DOCUVAULT_TEST_OCR=1 but {what}");
    eprintln!("NOTICE: skipped: {what}");
    None
}

pub(crate) fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn pdftotext_page(pdf: &Path, page: u32) -> String {
    let n = page.to_string();
    let out = Command::new("pdftotext")
        .args(["-q", "-enc", "UTF-8", "-f", &n, "-l", &n])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Page `page` of `pdf` as a grey JPEG scan: 200 dpi, quality 70, turned `degrees`.
pub(crate) fn scan(pdf: &Path, page: u32, degrees: f32, dir: &Path) -> PathBuf {
    let n = page.to_string();
    let root = dir.join(format!("p{page}"));
    run(Command::new("pdftoppm")
        .args(["-r", "200", "-gray", "-singlefile", "-f", &n, "-l", &n])
        .arg(pdf)
        .arg(&root));
    let out = dir.join(format!("p{page}-{degrees}.jpg"));
    run(Command::new(convert())
        .arg(root.with_extension("pgm"))
        .args([
            "-background",
            "white",
            "-rotate",
            &degrees.to_string(),
            "-quality",
            "70",
        ])
        .arg(&out));
    out
}

pub(crate) fn words(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(w.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// Share of the reference's words (with multiplicity) found in `got`.
pub(crate) fn recall(reference: &str, got: &str) -> f64 {
    let (want, have) = (words(reference), words(got));
    let total: usize = want.values().sum();
    let hit: usize = want
        .iter()
        .map(|(w, n)| (*n).min(have.get(w).copied().unwrap_or(0)))
        .sum();
    hit as f64 / total.max(1) as f64
}

fn assert_ocr_page(got: &Extracted, index: usize, languages: &str) -> f32 {
    let page = &got.pages[index];
    assert_eq!(page.page as usize, index + 1);
    match &page.how {
        PageText::Ocr {
            engine,
            version,
            languages: used,
            mean_confidence,
            ..
        } => {
            assert_eq!(engine, "tesseract");
            assert!(
                version.starts_with(|c: char| c.is_ascii_digit()),
                "{version}"
            );
            assert_eq!(used, languages);
            assert!((0.0..=100.0).contains(mean_confidence));
            *mean_confidence
        }
        other => panic!("page {} not OCR'd: {other:?}", index + 1),
    }
}

#[tokio::test]
async fn scans_of_real_pages_read_back() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let mut recalls = Vec::new();
    // Prose pages. (Page 1, a table of contents of numbers and dot leaders, reads at 0.72
    // word recall with plain `tesseract IMG out` as with this engine.)
    for page in [2u32, 3, 4] {
        let jpg = scan(&pdf, page, 1.5, dir.path());
        let got = ocr("image/jpeg", &std::fs::read(&jpg).unwrap(), "eng")
            .await
            .unwrap();
        assert_eq!(got.pages.len(), 1);
        let confidence = assert_ocr_page(&got, 0, "eng");
        let r = recall(&pdftotext_page(&pdf, page), &got.text);
        eprintln!("page {page}: recall {r:.3}, mean confidence {confidence}");
        recalls.push(r);
    }
    let mean = recalls.iter().sum::<f64>() / recalls.len() as f64;
    assert!(mean >= 0.9, "mean word recall {mean:.3} ({recalls:?})");
}

#[tokio::test]
async fn pages_turned_90_and_180_degrees_still_read() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let reference = pdftotext_page(&pdf, 2);
    let mut recalls = Vec::new();
    for degrees in [90.0, 180.0, 270.0] {
        let jpg = scan(&pdf, 2, degrees, dir.path());
        let got = ocr("image/jpeg", &std::fs::read(&jpg).unwrap(), "eng")
            .await
            .unwrap();
        assert_ocr_page(&got, 0, "eng");
        let r = recall(&reference, &got.text);
        eprintln!("turned {degrees}°: recall {r:.3}");
        recalls.push(r);
        // Upside down and turned 270° read as garbage as laid out: orientation detection
        // found the turn and the page was read again, upright.
        if degrees != 90.0 {
            assert!(
                matches!(
                    got.pages[0].how,
                    PageText::Ocr {
                        orientation_detected: true,
                        ..
                    }
                ),
                "turned {degrees}°: {:?}",
                got.pages[0]
            );
        }
    }
    let mean = recalls.iter().sum::<f64>() / recalls.len() as f64;
    assert!(mean >= 0.9, "mean word recall {mean:.3} ({recalls:?})");
}

#[tokio::test]
async fn a_multi_page_tiff_is_read_page_by_page() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/euro.pdf");
    let pages = [1u32, 2];
    let jpgs: Vec<PathBuf> = pages
        .iter()
        .map(|p| scan(&pdf, *p, 1.0, dir.path()))
        .collect();
    let tiff = dir.path().join("scan.tif");
    run(Command::new(convert())
        .args(&jpgs)
        .args(["-compress", "lzw"])
        .arg(&tiff));
    let got = ocr("image/tiff", &std::fs::read(&tiff).unwrap(), "eng")
        .await
        .unwrap();
    assert_eq!(got.pages.len(), 2, "{:?}", got.pages);
    let mut recalls = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        assert_ocr_page(&got, i, "eng");
        recalls.push(recall(&pdftotext_page(&pdf, *page), &got.text));
    }
    let mean = recalls.iter().sum::<f64>() / recalls.len() as f64;
    assert!(mean >= 0.9, "mean word recall {mean:.3} ({recalls:?})");
}

#[tokio::test]
async fn a_pdf_with_a_text_page_and_a_scanned_page() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let text_pdf = corpus.join("pdf/euro.pdf");
    let scanned_from = corpus.join("pdf/txfontsdoc.pdf");
    let first = dir.path().join("first.pdf");
    run(Command::new("pdfseparate")
        .args(["-f", "1", "-l", "1"])
        .arg(&text_pdf)
        .arg(&first));
    let jpg = scan(&scanned_from, 3, 1.5, dir.path());
    let scanned = dir.path().join("scanned.pdf");
    std::fs::write(&scanned, jpeg_pdf(&std::fs::read(&jpg).unwrap(), 200)).unwrap();
    let mixed = dir.path().join("mixed.pdf");
    run(Command::new("pdfunite")
        .arg(&first)
        .arg(&scanned)
        .arg(&mixed));

    let got = ocr("application/pdf", &std::fs::read(&mixed).unwrap(), "eng")
        .await
        .unwrap();
    assert_eq!(got.pages.len(), 2, "{:?}", got.pages);
    assert!(
        matches!(&got.pages[0].how, PageText::TextLayer { extractor } if extractor == "pdf-extract"),
        "{:?}",
        got.pages[0]
    );
    assert_ocr_page(&got, 1, "eng");
    let text_recall = recall(&pdftotext_page(&text_pdf, 1), &got.text);
    let scan_recall = recall(&pdftotext_page(&scanned_from, 3), &got.text);
    eprintln!("text page recall {text_recall:.3}, scanned page recall {scan_recall:.3}");
    assert!(
        (text_recall + scan_recall) / 2.0 >= 0.9,
        "{text_recall} {scan_recall}"
    );
    // The same PDF without OCR: the text page only, as before.
    let plain = docuvault::extract::extract_text(
        "application/pdf",
        &std::fs::read(&mixed).unwrap(),
        1_000_000,
    )
    .unwrap();
    assert!(plain.pages.is_empty());
    assert!(recall(&pdftotext_page(&scanned_from, 3), &plain.text) < 0.5);
}

#[tokio::test]
async fn a_scanned_pdf_page_passes_its_jpeg_straight_through() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let jpeg = std::fs::read(scan(&pdf, 3, 1.5, dir.path())).unwrap();

    // One JPEG over the whole page, as scanners and img2pdf write it: read as it is.
    let got = ocr("application/pdf", &jpeg_pdf(&jpeg, 200), "eng")
        .await
        .unwrap();
    assert_eq!(got.pages.len(), 1, "{:?}", got.pages);
    assert_ocr_page(&got, 0, "eng");
    assert!(
        matches!(
            got.pages[0].how,
            PageText::Ocr {
                image: Some(PageImage::EmbeddedJpeg),
                ..
            }
        ),
        "{:?}",
        got.pages[0]
    );
    let r = recall(&pdftotext_page(&pdf, 3), &got.text);
    eprintln!("embedded JPEG passed through: recall {r:.3}");
    assert!(r >= 0.9, "word recall {r:.3}");

    // The same JPEG drawn over only part of the page is not the page: rendered.
    let got = ocr("application/pdf", &jpeg_pdf_drawn(&jpeg, 200, 0.5), "eng")
        .await
        .unwrap();
    assert!(
        matches!(
            got.pages[0].how,
            PageText::Ocr {
                image: Some(PageImage::Rendered),
                ..
            }
        ),
        "{:?}",
        got.pages[0]
    );
    assert!(!got.text.trim().is_empty());
}

/// A one-page PDF showing a grey JPEG at `dpi`, like a scanner writes (no text layer).
pub(crate) fn jpeg_pdf(jpeg: &[u8], dpi: u32) -> Vec<u8> {
    jpeg_pdf_drawn(jpeg, dpi, 1.0)
}

/// [`jpeg_pdf`] with the image drawn at `scale` of the page's size (from its lower left
/// corner).
fn jpeg_pdf_drawn(jpeg: &[u8], dpi: u32, scale: f32) -> Vec<u8> {
    let (w, h) =
        image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg)
            .into_dimensions()
            .unwrap();
    let (pw, ph) = (w * 72 / dpi, h * 72 / dpi);
    let (dw, dh) = (pw as f32 * scale, ph as f32 * scale);
    let content = format!("q {dw} 0 0 {dh} 0 0 cm /Im0 Do Q");
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |pdf: &mut Vec<u8>, body: &[u8]| {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    object(&mut pdf, b"<</Type/Catalog/Pages 2 0 R>>");
    object(&mut pdf, b"<</Type/Pages/Kids[3 0 R]/Count 1>>");
    object(
        &mut pdf,
        format!("<</Type/Page/Parent 2 0 R/MediaBox[0 0 {pw} {ph}]/Resources<</XObject<</Im0 4 0 R>>>>/Contents 5 0 R>>").as_bytes(),
    );
    let mut image = format!(
        "<</Type/XObject/Subtype/Image/Width {w}/Height {h}/ColorSpace/DeviceGray/BitsPerComponent 8/Filter/DCTDecode/Length {}>>\nstream\n",
        jpeg.len()
    )
    .into_bytes();
    image.extend_from_slice(jpeg);
    image.extend_from_slice(b"\nendstream");
    object(&mut pdf, &image);
    object(
        &mut pdf,
        format!(
            "<</Length {}>>\nstream\n{content}\nendstream",
            content.len()
        )
        .as_bytes(),
    );
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<</Size {}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

const GERMAN: &str = "Sehr geehrte Damen und Herren,\n\
    hiermit kündige ich meinen Vertrag fristgerecht zum nächsten möglichen Termin.\n\
    Bitte bestätigen Sie mir die Kündigung schriftlich und teilen Sie mir\n\
    das genaue Datum mit, an dem der Vertrag endet. Die Rückzahlung des\n\
    Guthabens überweisen Sie bitte auf mein bekanntes Konto.\n\
    Für Ihre Bemühungen bedanke ich mich im Voraus.\n\
    Mit freundlichen Grüßen\nJürgen Müller, Straße des 17. Juni 112, Berlin";

#[tokio::test]
async fn a_german_page_reads_with_deu() {
    if setup().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let font = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ]
    .into_iter()
    .find(|f| Path::new(f).exists());
    let png = dir.path().join("brief.png");
    let mut cmd = Command::new(convert());
    cmd.args([
        "-size",
        "1700x1100",
        "xc:white",
        "-fill",
        "black",
        "-pointsize",
        "30",
    ]);
    if let Some(font) = font {
        cmd.args(["-font", font]);
    }
    cmd.args([
        "-annotate",
        "+100+150",
        GERMAN,
        "-colorspace",
        "Gray",
        "-rotate",
        "1",
    ]);
    run(cmd.arg(&png));
    let got = ocr("image/png", &std::fs::read(&png).unwrap(), "deu+eng")
        .await
        .unwrap();
    assert_ocr_page(&got, 0, "deu+eng");
    let r = recall(GERMAN, &got.text);
    eprintln!("German page recall {r:.3}: {:?}", got.text);
    assert!(r >= 0.9, "recall {r:.3}: {:?}", got.text);
    assert!(got.text.contains("Grüßen"), "{:?}", got.text);
}

// ---------------------------------------------------------------------------------------
// Hostile input: refused with a reason, fast, with bounded memory; no tesseract needed.

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A valid PNG header claiming 60000 × 60000 grey pixels (3.6 gigapixels), with a tiny
/// compressed stream: a decoder that trusted it would allocate gigabytes.
pub(crate) fn bomb_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    png
}

pub(crate) fn small_jpeg() -> Vec<u8> {
    let img = image::GrayImage::from_fn(320, 240, |x, y| image::Luma([((x * y) % 251) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn failed(r: Result<Extracted, ExtractError>) -> String {
    match r {
        Err(ExtractError::Failed(reason)) => reason,
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_decompression_bomb_png_is_refused_fast() {
    let started = Instant::now();
    let reason = failed(ocr("image/png", &bomb_png(), "eng").await);
    assert!(reason.contains("too large"), "{reason}");
    assert!(reason.contains("60000 × 60000"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_truncated_jpeg_fails_with_a_reason() {
    let jpeg = small_jpeg();
    let reason = failed(ocr("image/jpeg", &jpeg[..jpeg.len() / 2], "eng").await);
    assert!(reason.contains("truncated"), "{reason}");
}

#[tokio::test]
async fn an_image_with_a_lying_type_is_a_mismatch() {
    let got = ocr("image/png", &small_jpeg(), "eng").await;
    assert!(
        matches!(&got, Err(ExtractError::TypeMismatch { declared, detail }) if declared == "PNG" && detail.contains("JPEG")),
        "{got:?}"
    );
    let got = ocr("image/jpeg", b"%PDF-1.4 not an image", "eng").await;
    assert!(
        matches!(got, Err(ExtractError::TypeMismatch { .. })),
        "{got:?}"
    );
    // Without OCR options (the in-process extractor), images stay unsupported.
    let plain = docuvault::extract::extract_text("image/jpeg", &small_jpeg(), 100);
    assert!(
        matches!(plain, Err(ExtractError::Unsupported(_))),
        "{plain:?}"
    );
}
