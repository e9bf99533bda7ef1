//! Documents read page by page with OCR where needed: page images (JPEG, PNG, TIFF, WebP)
//! and PDFs whose pages lack a text layer.
//!
//! PDFs: the text layer of each page is read (pdf-extract; when it crashes or refuses the
//! file, poppler's `pdftotext`; when that is missing or fails too, every page is treated
//! as a scan). A page with fewer than [`MIN_TEXT_LAYER_CHARS`] letters or digits is
//! OCR'd; a page with some text layer keeps it when the reading finds no more letters or
//! digits, or when OCR is unavailable (only pages without any text make a document wait
//! for OCR). The page image comes from the PDF itself where it can: a page that is
//! nothing but one JPEG drawn over the whole page (what scanners and `img2pdf` write) has
//! that JPEG passed straight through, at its own resolution ([`full_page_jpeg`]). Any
//! other page is rendered (`pdftoppm -r 300 -gray`, one run per page with its own budget).
//!
//! Page cap: a document with more than [`OcrOptions::max_pages`] pages to OCR fails with a
//! reason (nothing is OCR'd), so a thousand-page upload cannot hold a worker for hours and
//! nobody gets a silently partial text. Pages with a text layer are not counted. A TIFF's
//! pages are counted from its directories before any page is decoded.
//!
//! Progress: before each page it OCRs, the worker announces "page i of n" on stderr
//! (`child::announce_page`; n counts every page of the document), which the pipeline
//! shows on the document.

use std::collections::BTreeMap;
use std::io::Write;

use super::images::{self, GreyPage};
use super::ocr::{OcrOptions, PageImage, PageInput, PageSource, PageText, Reader};
use super::vision::Picker;
use super::{ExtractError, child, pdf};
use crate::domain::document_type::ImageKind;

/// A page whose text layer has fewer letters or digits than this is OCR'd.
pub const MIN_TEXT_LAYER_CHARS: usize = 16;

/// An embedded JPEG of a lower resolution than this is not passed through: the page is
/// rendered at `ocr.render_dpi` instead (Tesseract reads small type better upsampled).
pub const MIN_PASS_THROUGH_DPI: u32 = 150;

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
    let limits = options.image_limits();
    // Type, page cap and every page's size, from the headers, before anything is decoded.
    let pages = images::count_pages(bytes, kind, &limits)?;
    let reader = Reader::new(options);
    let mut out = PagedText::new(options);
    if let (ImageKind::Jpeg, Ok(reader)) = (kind, &reader) {
        // Checked from its header and handed to tesseract as it is: not decoded here.
        let size = images::check_jpeg(bytes, &limits)?;
        child::announce_page(1, 1);
        let input = PageInput::Jpeg {
            bytes,
            size,
            limits,
        };
        let reading = reader.read(input, None, "the image")?;
        push_page(&mut out, &reading.text);
        offer_jpeg(&mut out.vision, 1, bytes, &limits, reading.mean_confidence);
        out.pages
            .push(reader.provenance(1, &reading, PageImage::Upload));
        return Ok(out);
    }
    images::for_each_page(bytes, kind, &limits, |number, page| {
        // Without OCR the pages are still decoded: a bad file fails as bad even where OCR
        // is missing.
        let Ok(reader) = &reader else {
            return Ok(());
        };
        child::announce_page(number, pages);
        let label = if kind == ImageKind::Tiff {
            format!("page {number}")
        } else {
            "the image".to_owned()
        };
        let reading = reader.read(PageInput::Grey(&page), None, &label)?;
        push_page(&mut out, &reading.text);
        out.vision
            .offer(page_number(number), &page, reading.mean_confidence);
        out.pages
            .push(reader.provenance(page_number(number), &reading, PageImage::Upload));
        Ok(())
    })?;
    reader?;
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

/// Offers a page tesseract read straight from a JPEG to the AI fallback: decoded here
/// only when the picker may take it (a poorly read page, the fallback asked for).
fn offer_jpeg(
    vision: &mut Picker,
    number: u32,
    jpeg: &[u8],
    limits: &images::ImageLimits,
    confidence: f32,
) {
    if !vision.wants(confidence) {
        return;
    }
    let _ = images::for_each_page(jpeg, ImageKind::Jpeg, limits, |_, page| {
        vision.offer(number, &page, confidence);
        Ok(())
    });
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
    let mut reader = None;
    let mut source = PdfPages::new(bytes);
    for (index, layer) in layers.iter().enumerate() {
        let number = page_number(index + 1);
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
        if layer_chars >= MIN_TEXT_LAYER_CHARS {
            text_layer(&mut out);
            continue;
        }
        if reader.is_none() {
            match Reader::new(options) {
                Ok(ready) => reader = Some(ready),
                // Without OCR, a page with a little text keeps it (a born-digital page
                // with a short line); a page without any text makes the document wait.
                Err(ExtractError::OcrUnavailable(_)) if layer_chars > 0 => {
                    text_layer(&mut out);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let Some(reader) = reader.as_ref() else {
            continue;
        };
        child::announce_page(index + 1, layers.len());
        let label = format!("page {number}");
        let image = match source.page_image(number, options) {
            Err(ExtractError::OcrUnavailable(_)) if layer_chars > 0 => {
                text_layer(&mut out);
                continue;
            }
            Err(e) => return Err(e),
            Ok(image) => image,
        };
        let (reading, origin) = match &image {
            PdfPageImage::Embedded { bytes, size, dpi } => {
                let input = PageInput::Jpeg {
                    bytes,
                    size: *size,
                    limits: options.image_limits(),
                };
                (
                    reader.read(input, Some(*dpi), &label)?,
                    PageImage::EmbeddedJpeg,
                )
            }
            PdfPageImage::Rendered(grey) => (
                reader.read(PageInput::Grey(grey), Some(options.render_dpi), &label)?,
                PageImage::Rendered,
            ),
        };
        // A short text layer and an OCR reading: the reading, unless it found less.
        if layer_chars > 0 && alphanumerics(&reading.text) <= layer_chars {
            text_layer(&mut out);
            continue;
        }
        push_page(&mut out, &reading.text);
        out.pages.push(reader.provenance(number, &reading, origin));
        match &image {
            PdfPageImage::Embedded { bytes, .. } => offer_jpeg(
                &mut out.vision,
                number,
                bytes,
                &options.image_limits(),
                reading.mean_confidence,
            ),
            PdfPageImage::Rendered(grey) => {
                out.vision.offer(number, grey, reading.mean_confidence);
            }
        }
    }
    Ok(out)
}

fn alphanumerics(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Where the images of a PDF's pages come from: the parsed document (for embedded JPEGs)
/// and a scratch copy for `pdftoppm`, each made when first needed.
struct PdfPages<'a> {
    bytes: &'a [u8],
    /// The parsed document and its page ids; `Some(None)` when it did not parse.
    parsed: Option<Option<(pdf_extract::Document, BTreeMap<u32, pdf_extract::ObjectId>)>>,
    file: Option<tempfile::NamedTempFile>,
}

/// The image of a PDF page to OCR.
enum PdfPageImage<'a> {
    /// The page's own JPEG (checked, not decoded), its size and resolution.
    Embedded {
        bytes: &'a [u8],
        size: (u32, u32),
        dpi: u32,
    },
    /// The page rendered at `ocr.render_dpi`.
    Rendered(GreyPage),
}

impl<'a> PdfPages<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            parsed: None,
            file: None,
        }
    }

    /// The image of page `number`: its embedded JPEG when the page is one, else the page
    /// rendered.
    fn page_image(
        &mut self,
        number: u32,
        options: &OcrOptions,
    ) -> Result<PdfPageImage<'_>, ExtractError> {
        let Self {
            bytes,
            parsed,
            file,
        } = self;
        let parsed = parsed.get_or_insert_with(|| parse(bytes));
        if let Some((doc, pages)) = parsed.as_ref()
            && let Some((bytes, size, dpi)) = embedded(doc, pages, number, options)
        {
            return Ok(PdfPageImage::Embedded { bytes, size, dpi });
        }
        if file.is_none() {
            *file = Some(scratch_copy(bytes)?);
        }
        let Some(file) = file.as_ref() else {
            return Err(ExtractError::Failed(
                "the PDF scratch copy went missing".into(),
            ));
        };
        Ok(PdfPageImage::Rendered(render_page(
            file.path(),
            number,
            options,
        )?))
    }
}

/// The document and its page ids, for finding embedded JPEGs; `None` when it does not
/// parse (the parser already read it once for the text layers; a panic here only means
/// no pass-through).
fn parse(bytes: &[u8]) -> Option<(pdf_extract::Document, BTreeMap<u32, pdf_extract::ObjectId>)> {
    std::panic::catch_unwind(|| {
        let mut doc = pdf_extract::Document::load_mem(bytes).ok()?;
        if doc.is_encrypted() {
            doc.decrypt("").ok()?;
        }
        let pages = doc.get_pages();
        Some((doc, pages))
    })
    .ok()
    .flatten()
}

/// Page `number`'s full-page JPEG ([`full_page_jpeg`]), checked like an uploaded JPEG
/// (complete, within the size limit, the size the PDF says), with its size and resolution;
/// `None` when the page is not one or its JPEG does not pass (the page is then rendered,
/// and the renderer has its say).
fn embedded<'d>(
    doc: &'d pdf_extract::Document,
    pages: &BTreeMap<u32, pdf_extract::ObjectId>,
    number: u32,
    options: &OcrOptions,
) -> Option<(&'d [u8], (u32, u32), u32)> {
    let page_id = *pages.get(&number)?;
    let (jpeg, width, height, dpi) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        full_page_jpeg(doc, page_id)
    }))
    .ok()??;
    if dpi < MIN_PASS_THROUGH_DPI {
        return None;
    }
    match images::check_jpeg(jpeg, &options.image_limits()) {
        Ok(size) if size == (width, height) => Some((jpeg, size, dpi)),
        checked => {
            tracing::debug!(?checked, "page {number}: the embedded JPEG is not used");
            None
        }
    }
}

/// An inherited page attribute (`Rotate`, `MediaBox`, `CropBox`, `Resources`): the page's
/// own or its nearest ancestor's, references followed.
fn inherited<'d>(
    doc: &'d pdf_extract::Document,
    page: &'d pdf_extract::Dictionary,
    key: &[u8],
) -> Option<&'d pdf_extract::Object> {
    let mut node = page;
    for _ in 0..32 {
        if let Ok(value) = node.get(key) {
            return doc.dereference(value).ok().map(|(_, v)| v);
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// The JPEG of a page that shows nothing else, with its size in pixels and its
/// resolution: a content stream that only draws one image (`q`, `cm`, one `Do`, `Q`),
/// upright and covering the page box (within 3 % on each side) on a page not turned by
/// `/Rotate`, the image an 8-bit grey or RGB `/DCTDecode` stream without masks or a
/// decode array. Anything else (text, vector drawing, several images, CMYK) is `None`
/// and the page is rendered.
fn full_page_jpeg(
    doc: &pdf_extract::Document,
    page_id: pdf_extract::ObjectId,
) -> Option<(&[u8], u32, u32, u32)> {
    use pdf_extract::Object;
    let page = doc.get_dictionary(page_id).ok()?;
    if let Some(rotate) = inherited(doc, page, b"Rotate")
        && rotate.as_i64().ok()? % 360 != 0
    {
        return None;
    }
    let page_box: Vec<f32> = inherited(doc, page, b"CropBox")
        .or_else(|| inherited(doc, page, b"MediaBox"))?
        .as_array()
        .ok()?
        .iter()
        .map(|v| doc.dereference(v).ok().and_then(|(_, v)| v.as_float().ok()))
        .collect::<Option<_>>()?;
    let [x0, y0, x1, y1] = page_box[..] else {
        return None;
    };
    let (left, right, bottom, top) = (x0.min(x1), x0.max(x1), y0.min(y1), y0.max(y1));

    // The one image drawn, and the transformation it is drawn with.
    let content = doc.get_and_decode_page_content(page_id).ok()?;
    let mut ctm = [1f32, 0., 0., 1., 0., 0.];
    let mut saved = Vec::new();
    let mut drawn = None;
    for op in &content.operations {
        match op.operator.as_str() {
            "q" => saved.push(ctm),
            "Q" => ctm = saved.pop()?,
            "cm" => {
                let m: Vec<f32> = op
                    .operands
                    .iter()
                    .map(|o| o.as_float().ok())
                    .collect::<Option<_>>()?;
                let [a, b, c, d, e, f] = m[..] else {
                    return None;
                };
                let [a2, b2, c2, d2, e2, f2] = ctm;
                ctm = [
                    a * a2 + b * c2,
                    a * b2 + b * d2,
                    c * a2 + d * c2,
                    c * b2 + d * d2,
                    e * a2 + f * c2 + e2,
                    e * b2 + f * d2 + f2,
                ];
            }
            "Do" if drawn.is_none() => drawn = Some((op.operands.first()?.as_name().ok()?, ctm)),
            _ => return None,
        }
    }
    let (name, [a, b, c, d, e, f]) = drawn?;
    let (w, h) = (right - left, top - bottom);
    let near = |got: f32, want: f32, span: f32| (got - want).abs() <= span * 0.03;
    let upright = b.abs() < 1e-3 * a.abs() && c.abs() < 1e-3 * d.abs() && a > 0.0 && d > 0.0;
    let covers =
        near(e, left, w) && near(e + a, right, w) && near(f, bottom, h) && near(f + d, top, h);
    if !(upright && covers && w > 0.0 && h > 0.0) {
        return None;
    }

    // The image itself.
    let resources = inherited(doc, page, b"Resources")?.as_dict().ok()?;
    let xobjects = doc
        .dereference(resources.get(b"XObject").ok()?)
        .ok()?
        .1
        .as_dict()
        .ok()?;
    let stream = doc
        .dereference(xobjects.get(name).ok()?)
        .ok()?
        .1
        .as_stream()
        .ok()?;
    let dict = &stream.dict;
    let name_of = |key: &[u8]| -> Option<&[u8]> {
        let value = doc.dereference(dict.get(key).ok()?).ok()?.1;
        match value {
            Object::Name(n) => Some(n.as_slice()),
            Object::Array(a) if a.len() == 1 => a[0].as_name().ok(),
            _ => None,
        }
    };
    let int_of = |key: &[u8]| doc.dereference(dict.get(key).ok()?).ok()?.1.as_i64().ok();
    let colour_ok = match doc.dereference(dict.get(b"ColorSpace").ok()?).ok()?.1 {
        Object::Name(n) => n == b"DeviceGray" || n == b"DeviceRGB",
        // An ICC profile with 1 or 3 components: grey or RGB.
        Object::Array(a) if a.len() == 2 && a[0].as_name().ok() == Some(b"ICCBased") => doc
            .dereference(&a[1])
            .ok()
            .and_then(|(_, s)| s.as_stream().ok())
            .and_then(|s| s.dict.get(b"N").ok()?.as_i64().ok())
            .is_some_and(|n| n == 1 || n == 3),
        _ => false,
    };
    let plain = ["SMask", "Mask", "Decode", "DecodeParms"]
        .iter()
        .all(|k| dict.get(k.as_bytes()).is_err())
        && !matches!(dict.get(b"ImageMask"), Ok(Object::Boolean(true)));
    if name_of(b"Subtype")? != b"Image"
        || name_of(b"Filter")? != b"DCTDecode"
        || int_of(b"BitsPerComponent")? != 8
        || !colour_ok
        || !plain
    {
        return None;
    }
    let width = u32::try_from(int_of(b"Width")?).ok()?;
    let height = u32::try_from(int_of(b"Height")?).ok()?;
    // Pixels per inch along each side (a PDF unit is 1/72 inch); their mean.
    let dpi = (width as f32 * 72.0 / a + height as f32 * 72.0 / d) / 2.0;
    if !(1.0..=10_000.0).contains(&dpi) {
        return None;
    }
    Some((stream.content.as_slice(), width, height, dpi.round() as u32))
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
