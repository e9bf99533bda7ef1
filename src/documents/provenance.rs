//! Where a document's text came from, page by page (`document_texts.pages`, written by
//! the pipeline from the extractor's `PageSource` list), as the text endpoint shows it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{PageSource, PageText};

/// How a page's text was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    /// The document's own text (a PDF's text layer).
    TextLayer,
    /// Optical character recognition of the page image (by Tesseract, or by the owner's
    /// AI model where Tesseract read the page poorly: `engine` says which).
    Ocr,
}

/// One page's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PageProvenance {
    /// 1-based page number.
    pub page: u32,
    /// `text_layer` or `ocr`.
    pub source: TextSource,
    /// Text layer only: the reader (`pdf-extract`, or `pdftotext` after a parser crash).
    #[schema(required = true)]
    pub extractor: Option<String>,
    /// OCR only: the engine, `tesseract`, or `ai` for a page Tesseract read poorly that
    /// the owner's vision-capable AI model read instead (opt-in, `ocr_ai_fallback`).
    #[schema(required = true, example = "tesseract")]
    pub engine: Option<String>,
    /// OCR by Tesseract only: the engine's version.
    #[schema(required = true, example = "5.3.0")]
    pub version: Option<String>,
    /// OCR only: the languages read (`deu+eng`).
    #[schema(required = true, example = "eng")]
    pub languages: Option<String>,
    /// OCR by Tesseract only: mean word confidence, 0–100 (null for `ai`: a model
    /// reports none).
    #[schema(required = true, minimum = 0, maximum = 100)]
    pub mean_confidence: Option<f32>,
    /// OCR by Tesseract only: whether the page was read with orientation detection
    /// (turned pages).
    #[schema(required = true)]
    pub orientation_detected: Option<bool>,
    /// Engine `ai` only: the provider that read the page (`openai`, `anthropic`, `ollama`).
    #[schema(required = true, example = "openai")]
    pub provider: Option<String>,
    /// Engine `ai` only: the model that read the page.
    #[schema(required = true, example = "gpt-4o-mini")]
    pub model: Option<String>,
    /// Engine `ai` only: mean word confidence of the Tesseract reading it replaced, 0–100.
    #[schema(required = true, minimum = 0, maximum = 100)]
    pub tesseract_confidence: Option<f32>,
}

impl From<PageSource> for PageProvenance {
    fn from(p: PageSource) -> Self {
        match p.how {
            PageText::TextLayer { extractor } => Self {
                page: p.page,
                source: TextSource::TextLayer,
                extractor: Some(extractor).filter(|e| !e.is_empty()),
                engine: None,
                version: None,
                languages: None,
                mean_confidence: None,
                orientation_detected: None,
                provider: None,
                model: None,
                tesseract_confidence: None,
            },
            PageText::Ocr {
                engine,
                version,
                languages,
                mean_confidence,
                orientation_detected,
                ..
            } => Self {
                page: p.page,
                source: TextSource::Ocr,
                extractor: None,
                engine: Some(engine),
                version: Some(version),
                languages: Some(languages),
                mean_confidence: Some(mean_confidence),
                orientation_detected: Some(orientation_detected),
                provider: None,
                model: None,
                tesseract_confidence: None,
            },
            PageText::Ai {
                provider,
                model,
                languages,
                tesseract_confidence,
            } => Self {
                page: p.page,
                source: TextSource::Ocr,
                extractor: None,
                engine: Some("ai".to_owned()),
                version: None,
                languages: Some(languages),
                mean_confidence: None,
                orientation_detected: None,
                provider: Some(provider),
                model: Some(model),
                tesseract_confidence: Some(tesseract_confidence),
            },
        }
    }
}

/// The stored provenance as shown; empty when there is none (or it does not read).
pub fn pages(stored: Option<&serde_json::Value>) -> Vec<PageProvenance> {
    stored
        .and_then(|v| serde_json::from_value::<Vec<PageSource>>(v.clone()).ok())
        .map(|pages| pages.into_iter().map(PageProvenance::from).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn stored_pages_read_back_flat() {
        let stored = serde_json::json!([
            {"page": 1, "source": "text_layer", "extractor": "pdf-extract"},
            {"page": 2, "source": "ocr", "engine": "tesseract", "version": "5.3.0",
             "languages": "deu+eng", "mean_confidence": 91.5, "orientation_detected": false}
        ]);
        let got = pages(Some(&stored));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].source, TextSource::TextLayer);
        assert_eq!(got[0].extractor.as_deref(), Some("pdf-extract"));
        assert_eq!(got[1].source, TextSource::Ocr);
        assert_eq!(got[1].languages.as_deref(), Some("deu+eng"));
        assert_eq!(got[1].mean_confidence, Some(91.5));
        assert!(pages(None).is_empty());

        let ai = serde_json::json!([{"page": 3, "source": "ai", "provider": "openai",
            "model": "gpt-4o-mini", "languages": "eng", "tesseract_confidence": 41.5}]);
        let got = pages(Some(&ai));
        assert_eq!(got[0].source, TextSource::Ocr);
        assert_eq!(got[0].engine.as_deref(), Some("ai"));
        assert_eq!(got[0].model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            got[0].mean_confidence, None,
            "a model reports no confidence"
        );
        let shown = serde_json::to_value(&got[0]).unwrap();
        assert_eq!(shown["mean_confidence"], serde_json::Value::Null);
        assert_eq!(shown["version"], serde_json::Value::Null);
        assert_eq!(shown["provider"], "openai");
        assert_eq!(shown["tesseract_confidence"], 41.5);
        assert!(pages(Some(&serde_json::json!({"not": "a list"}))).is_empty());
    }
}
