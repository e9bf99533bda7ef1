//! The AI fallback of OCR around the pipeline (issue 13 item 7). The extraction child has
//! no network and no keys, so the work is split:
//! 1. [`prepare`]: when the owner's guards allow it ([`crate::classify::vision`]) and the
//!    server has not turned it off (`ocr.ai_fallback_max_pages = 0`), the child is asked
//!    for the images of the pages Tesseract read below `ocr.ai_fallback_below_confidence`
//!    (at most `ocr.ai_fallback_max_pages`, the least confident; made in the sandbox,
//!    [`crate::extract::vision`]);
//! 2. [`apply`]: the parent sends each image to the owner's model, one request per page,
//!    and puts each reading in place of that page's Tesseract text, recording the page as
//!    read by `ai` (provider, model, languages, the replaced reading's confidence).
//!
//! It never fails a document: a provider error, an empty answer or anything unexpected
//! keeps Tesseract's reading of that page, and is logged.

use crate::classify::providers::vision::{PageImage, PageReader};
use crate::domain::document_type::Format;
use crate::entities::{documents, users};
use crate::extract::vision::{VisionRequest, compose};
use crate::extract::{Extracted, OcrOptions, PageText, normalize};
use crate::state::AppState;

/// The owner's model, ready to read the pages the child returns.
pub struct Fallback {
    reader: Box<dyn PageReader>,
    languages: String,
}

/// Asks for page images in `ocr` (and returns the model to read them with) when the AI
/// fallback applies to `doc` of `owner`; `None` leaves `ocr` as it is.
pub fn prepare(
    state: &AppState,
    owner: &users::Model,
    doc: &documents::Model,
    ocr: &mut OcrOptions,
) -> Option<Fallback> {
    let settings = &state.settings.ocr;
    let may_ocr = Format::from_content_type(&doc.content_type).is_some_and(Format::may_ocr);
    if settings.ai_fallback_max_pages == 0 || doc.ai_opt_out || !may_ocr {
        return None;
    }
    match crate::classify::vision::page_reader(&state.settings.ai, &state.keys, owner, doc) {
        Ok(Some(reader)) => {
            ocr.ai_fallback = Some(VisionRequest {
                below_confidence: settings.ai_fallback_below_confidence,
                max_pages: settings.ai_fallback_max_pages,
            });
            Some(Fallback {
                reader,
                languages: ocr.languages.clone(),
            })
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(document = %doc.id, error = %e, "AI fallback of OCR not possible; Tesseract's reading is kept");
            None
        }
    }
}

/// Reads the pages the child returned with the owner's model and puts each reading in
/// place of Tesseract's (text and provenance); the text is composed again and capped at
/// `max_chars`. Without a fallback or pages, `extracted` comes back as it is (its page
/// images dropped).
pub async fn apply(
    fallback: Option<Fallback>,
    doc: &documents::Model,
    max_chars: usize,
    mut extracted: Extracted,
) -> Extracted {
    let candidates = extracted.vision.take();
    let (Some(fallback), Some(candidates)) = (fallback, candidates) else {
        return extracted;
    };
    let mut texts = candidates.page_texts;
    if texts.len() != extracted.pages.len() {
        tracing::warn!(document = %doc.id, "page texts do not match the pages; AI fallback skipped");
        return extracted;
    }
    let mut replaced = 0usize;
    for page in &candidates.pages {
        let Some(index) = extracted
            .pages
            .iter()
            .position(|p| p.page == page.page && matches!(p.how, PageText::Ocr { .. }))
        else {
            continue;
        };
        let image = PageImage {
            jpeg: &page.jpeg,
            languages: &fallback.languages,
        };
        let (provider, model) = (fallback.reader.provider(), fallback.reader.model());
        match fallback.reader.read_page(&image).await {
            Ok(answer) => {
                let text = normalize(&answer);
                if text.is_empty() {
                    tracing::info!(document = %doc.id, page = page.page, provider, model,
                        "the AI model read no text on the page; Tesseract's reading is kept");
                    continue;
                }
                tracing::info!(document = %doc.id, page = page.page, provider, model,
                    tesseract_confidence = page.tesseract_confidence, "page read by the AI fallback of OCR");
                texts[index] = text;
                extracted.pages[index].how = PageText::Ai {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    languages: fallback.languages.clone(),
                    tesseract_confidence: page.tesseract_confidence,
                };
                replaced += 1;
            }
            Err(e) => {
                tracing::warn!(document = %doc.id, page = page.page, provider, model, error = %e,
                    "the AI fallback of OCR failed; Tesseract's reading is kept");
            }
        }
    }
    if replaced > 0 {
        // At the text cap, pages after it were cut in the child and stay cut.
        let (text, truncated) = compose(&texts, max_chars);
        extracted.text = text;
        extracted.truncated = truncated;
    }
    extracted
}
