//! Documents read page by page with OCR where needed: page images (JPEG, PNG, TIFF, WebP)
//! and PDFs whose pages lack a text layer.
//!
//! PDFs: the text layer of each page is read (pdf-extract; when it crashes or refuses the
//! file, poppler's `pdftotext`; when that is missing or fails too, every page is treated
//! as a scan). A page with fewer than [`MIN_TEXT_LAYER_CHARS`] letters or digits is
//! rendered (`pdftoppm -r 300 -gray`, one run per page with its own budget) and OCR'd;
//! a page with some text layer keeps it when the reading finds no more letters or digits,
//! or when OCR is unavailable (only pages without any text make a document wait for OCR).
//! Embedded JPEGs are not passed through yet: every scanned page is rendered.
//!
//! Page cap: a document with more than [`OcrOptions::max_pages`] pages to OCR fails with a
//! reason (nothing is OCR'd), so a thousand-page upload cannot hold a worker for hours and
//! nobody gets a silently partial text. Pages with a text layer are not counted.

use std::io::Write;

use super::images::{self, GreyPage};
use super::ocr::{OcrOptions, PageSource, PageText, Reader};
use super::vision::Picker;
use super::{ExtractError, child, pdf};
use crate::domain::document_type::ImageKind;

/// A page whose text layer has fewer letters or digits than this is OCR'd.
pub const MIN_TEXT_LAYER_CHARS: usize = 16;

/// Text read page by page, with where each page's text came from.
#[derive(Debug)]
pub(crate) struct PagedText {
    pub text: String,
    pub pages: Vec<PageSource>,
    /// Each page's text as read, in order, when the AI fallback is asked for
    /// ([`super::vision`]).
    pub page_texts: Vec<String>,
    /// Poorly read pages kept as images for the AI fallback, when asked for.
    pub vision: Picker,
}

impl PagedText {
    fn new(options: &OcrOptions) -> Self {
        Self {
            text: String::new(),
            pages: Vec::new(),
            page_texts: Vec::new(),
            vision: Picker::new(options.ai_fallback.as_ref()),
        }
    }
}

/// OCR of an image document, every page.
pub(crate) fn read_image(
    bytes: &[u8],
    kind: ImageKind,
    options: &OcrOptions,
) -> Result<PagedText, ExtractError> {
    // Type and size checks come before looking for tesseract: a bad file fails as bad even
    // where OCR is missing.
    let limits = options.image_limits();
    images::for_each_page(bytes, kind, &limits, |_, _| Ok(()))?;
    let reader = Reader::new(options)?;
    let mut out = PagedText::new(options);
    images::for_each_page(bytes, kind, &limits, |number, page| {
        let label = if kind == ImageKind::Tiff {
            format!("page {number}")
        } else {
            "the image".to_owned()
        };
        let reading = reader.read(&page, None, &label)?;
        push_page(&mut out, &reading.text);
        out.vision
            .offer(page_number(number), &page, reading.mean_confidence);
        out.pages
            .push(reader.provenance(page_number(number), &reading));
        Ok(())
    })?;
    Ok(out)
}

fn page_number(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn push_page(out: &mut PagedText, page: &str) {
    if !out.text.is_empty() {
        out.text.push_str("\n\n");
    }
    out.text.push_str(page);
    if out.vision.requested() {
        out.page_texts.push(page.to_owned());
    }
}

/// A PDF, page by page: text layer where there is one, OCR where there is not.
pub(crate) fn read_pdf(bytes: &[u8], options: &OcrOptions) -> Result<PagedText, ExtractError> {
    pdf::check(bytes)?;
    let (layers, extractor) = match pdf::extract_pages(bytes) {
        Ok(pages) => (pages, "pdf-extract"),
        Err(first) => match pdf::pdftotext_pages(bytes) {
            Some(pages) => (pages, "pdftotext"),
            None => (vec![String::new(); page_count(bytes).ok_or(first)?], ""),
        },
    };
    let to_ocr: Vec<usize> = layers
        .iter()
        .enumerate()
        .filter(|(_, t)| alphanumerics(t) < MIN_TEXT_LAYER_CHARS)
        .map(|(i, _)| i)
        .collect();
    if to_ocr.len() > options.max_pages {
        return Err(ExtractError::Failed(format!(
            "the PDF has {} pages without text to OCR; at most {} are read from one document",
            to_ocr.len(),
            options.max_pages
        )));
    }
    let mut out = PagedText::new(options);
    let mut reader_and_file = None;
    for (index, layer) in layers.iter().enumerate() {
        let number = page_number(index + 1);
        if !to_ocr.contains(&index) {
            push_page(&mut out, layer);
            out.pages.push(PageSource {
                page: number,
                how: PageText::TextLayer {
                    extractor: extractor.to_owned(),
                },
            });
            continue;
        }
        let layer_chars = alphanumerics(layer);
        let text_layer = |out: &mut PagedText| {
            push_page(out, layer);
            out.pages.push(PageSource {
                page: number,
                how: PageText::TextLayer {
                    extractor: extractor.to_owned(),
                },
            });
        };
        if reader_and_file.is_none() {
            let ready = Reader::new(options).and_then(|r| Ok((r, scratch_copy(bytes)?)));
            match ready {
                Ok(ready) => reader_and_file = Some(ready),
                // Without OCR, a page with a little text keeps it (a born-digital page
                // with a short line); a page without any text makes the document wait.
                Err(ExtractError::OcrUnavailable(_)) if layer_chars > 0 => {
                    text_layer(&mut out);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let Some((reader, file)) = reader_and_file.as_ref() else {
            continue;
        };
        let image = match render_page(file.path(), number, options) {
            Err(ExtractError::OcrUnavailable(_)) if layer_chars > 0 => {
                text_layer(&mut out);
                continue;
            }
            image => image?,
        };
        let reading = reader.read(&image, Some(options.render_dpi), &format!("page {number}"))?;
        // A short text layer and an OCR reading: the reading, unless it found less.
        if layer_chars > 0 && alphanumerics(&reading.text) <= layer_chars {
            text_layer(&mut out);
            continue;
        }
        push_page(&mut out, &reading.text);
        out.vision.offer(number, &image, reading.mean_confidence);
        out.pages.push(reader.provenance(number, &reading));
    }
    Ok(out)
}

fn alphanumerics(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

fn scratch_copy(bytes: &[u8]) -> Result<tempfile::NamedTempFile, ExtractError> {
    let fail = |e: std::io::Error| {
        ExtractError::Failed(format!("cannot write a scratch copy of the PDF: {e}"))
    };
    let mut file = tempfile::Builder::new()
        .prefix("docuvault-ocr-")
        .suffix(".pdf")
        .tempfile()
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.flush().map_err(fail)?;
    Ok(file)
}

/// Number of pages, from the parser if it loads the file, else from `pdfinfo`.
fn page_count(bytes: &[u8]) -> Option<usize> {
    let parsed = std::panic::catch_unwind(|| {
        pdf_extract::Document::load_mem(bytes)
            .ok()
            .map(|d| d.get_pages().len())
    })
    .ok()
    .flatten()
    .filter(|n| *n > 0);
    parsed.or_else(|| {
        let pdfinfo = child::find_program("pdfinfo")?;
        let out = child::run(
            &pdfinfo,
            &["-".as_ref()],
            &[],
            bytes,
            child::Budget {
                wall: std::time::Duration::from_secs(30),
                memory_bytes: 1024 * 1024 * 1024,
                max_output: 64 * 1024,
            },
        )
        .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
    })
}

/// Renders one page as 8-bit grey PGM with `pdftoppm`, under the page budget.
fn render_page(
    path: &std::path::Path,
    number: u32,
    options: &OcrOptions,
) -> Result<GreyPage, ExtractError> {
    let pdftoppm = child::find_program("pdftoppm").ok_or_else(|| {
        ExtractError::OcrUnavailable(
            "pdftoppm (poppler-utils) is not installed, so scanned PDF pages cannot be rendered"
                .to_owned(),
        )
    })?;
    let (dpi, n) = (options.render_dpi.to_string(), number.to_string());
    let args: [&std::ffi::OsStr; 10] = [
        "-r".as_ref(),
        dpi.as_ref(),
        "-gray".as_ref(),
        "-f".as_ref(),
        n.as_ref(),
        "-l".as_ref(),
        n.as_ref(),
        "-singlefile".as_ref(),
        "-q".as_ref(),
        path.as_os_str(),
    ];
    let max_output = usize::try_from(options.max_pixels)
        .unwrap_or(usize::MAX)
        .saturating_add(64);
    let budget = options.page_budget(max_output);
    let out = child::run(&pdftoppm, &args, &[], b"", budget).map_err(|e| match e {
        child::RunError::Timeout => ExtractError::Failed(format!(
            "rendering page {number} took longer than {} s",
            budget.wall.as_secs()
        )),
        child::RunError::Spawn(e) => {
            ExtractError::Failed(format!("pdftoppm could not be started: {e}"))
        }
    })?;
    if out.stdout_overflowed {
        return Err(ExtractError::Failed(format!(
            "page {number} is too large to read: more than {} megapixels at {dpi} dpi",
            options.max_pixels / 1_000_000
        )));
    }
    if !out.status.success() {
        return Err(ExtractError::Failed(format!(
            "rendering page {number}: {}",
            child::describe_exit("pdftoppm", &out)
        )));
    }
    GreyPage::from_pgm(out.stdout)
        .ok_or_else(|| ExtractError::Failed(format!("rendering page {number} produced no image")))
}
