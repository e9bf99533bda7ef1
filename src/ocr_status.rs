//! What OCR can do on this instance, found once at start (`extract::ocr::probe_with`):
//! Tesseract's version and installed languages, orientation data and the PDF page
//! renderer. `/health` reports it, `GET /api/auth/config` lists the languages people may
//! choose, `PATCH /api/auth/me` checks a choice against them, and the pipeline builds each
//! document's [`OcrOptions`] from it. Missing OCR never stops the server: scans then end
//! `unclassified` with the reason `ocr_unavailable` and are processed again at the next
//! start that finds OCR.

use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::OcrOptions;
use crate::extract::ocr::Probe;
use crate::settings::{OcrLanguages, OcrSettings};

/// The probe's result and the OCR settings, shared by handlers and workers.
#[derive(Debug, Clone)]
pub struct OcrStatus {
    probe: Probe,
    settings: OcrSettings,
    /// `extract.memory_mb`: the extraction child's limit, which bounds each helper's.
    child_memory_bytes: u64,
}

/// OCR as `/health` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OcrHealth {
    /// Whether scans are read: Tesseract answers and the server's default languages are
    /// installed. `false` does not make `/health` fail: scans then wait as
    /// `unclassified` with the reason `ocr_unavailable`.
    pub available: bool,
    /// `tesseract`, when installed.
    #[schema(required = true, example = "tesseract")]
    pub engine: Option<String>,
    /// Its version, when installed.
    #[schema(required = true, example = "5.3.0")]
    pub version: Option<String>,
    /// Installed languages (Tesseract's names: `eng`, `deu`, …).
    pub languages: Vec<String>,
    /// The server's default languages (`ocr.languages`).
    #[schema(example = "eng")]
    pub default_languages: String,
    /// Whether orientation detection data (`osd`) is installed (sideways and upside-down
    /// pages).
    pub orientation: bool,
    /// Whether `pdftoppm` is installed (PDF pages without text are rendered with it).
    pub pdf_renderer: bool,
}

impl OcrStatus {
    /// Probes the tools (two short child processes; blocking) and logs what is missing.
    pub fn detect(settings: &OcrSettings, child_memory_bytes: u64) -> Self {
        let status = Self::from_probe(
            crate::extract::ocr::probe_with(&settings.tesseract_command),
            settings.clone(),
            child_memory_bytes,
        );
        status.log();
        status
    }

    /// The status for a known probe result (tests, and [`Self::detect`]).
    pub fn from_probe(probe: Probe, settings: OcrSettings, child_memory_bytes: u64) -> Self {
        Self {
            probe,
            settings,
            child_memory_bytes,
        }
    }

    fn log(&self) {
        let default = self.settings.languages.as_str();
        match &self.probe.engine {
            None => tracing::warn!(
                command = %self.settings.tesseract_command,
                "OCR unavailable: tesseract not found (install tesseract-ocr); scans end \
                 unclassified with the reason ocr_unavailable until a start finds it"
            ),
            Some(engine) => {
                let missing: Vec<&str> = self
                    .settings
                    .languages
                    .names()
                    .filter(|l| !self.probe.languages.iter().any(|i| i == l))
                    .collect();
                if missing.is_empty() {
                    tracing::info!(
                        version = %engine.version,
                        languages = %self.probe.languages.join(","),
                        default = %default,
                        "OCR available (tesseract)"
                    );
                } else {
                    tracing::warn!(
                        missing = %missing.join(","),
                        installed = %self.probe.languages.join(","),
                        "OCR unavailable: the default languages (ocr.languages = {default}) are \
                         not installed (install tesseract-ocr-<lang>)"
                    );
                }
                if !self.probe.orientation {
                    tracing::warn!(
                        "tesseract orientation data (osd) missing: pages upside down read \
                         poorly (install tesseract-ocr-osd)"
                    );
                }
            }
        }
        if self.probe.renderer.is_none() {
            tracing::warn!(
                "pdftoppm not found: PDF pages without text cannot be OCR'd (install \
                 poppler-utils); such PDFs end unclassified with the reason ocr_unavailable"
            );
        }
    }

    /// Whether scans can be read: Tesseract answers and the default languages are installed.
    pub fn available(&self) -> bool {
        self.probe.has_languages(self.settings.languages.as_str())
    }

    /// Installed languages (without `osd`), for the choice in the UI.
    pub fn languages(&self) -> &[String] {
        &self.probe.languages
    }

    /// Checks an account's choice: every language installed. The reason when not.
    pub fn check_choice(&self, choice: &OcrLanguages) -> Result<(), String> {
        let missing: Vec<&str> = choice
            .names()
            .filter(|l| !self.probe.languages.iter().any(|i| i == l))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else if self.probe.languages.is_empty() {
            Err("OCR is not available on this server: no languages are installed".to_owned())
        } else {
            Err(format!(
                "not installed: {}; installed: {}",
                missing.join(", "),
                self.probe.languages.join(", ")
            ))
        }
    }

    /// The OCR options of one document of an account that chose `choice` (stored
    /// `users.ocr_languages`; `None` = the server default). A choice whose languages are no
    /// longer installed falls back to the default.
    pub fn options_for(&self, choice: Option<&str>) -> OcrOptions {
        let default = self.settings.languages.as_str();
        let languages = choice
            .and_then(|c| OcrLanguages::parse(c).ok())
            .filter(|c| self.probe.has_languages(c.as_str()))
            .map_or_else(|| default.to_owned(), |c| c.as_str().to_owned());
        let s = &self.settings;
        OcrOptions {
            languages,
            page_timeout_secs: s.page_timeout_secs,
            page_memory_bytes: s
                .page_memory_mb
                .saturating_mul(1024 * 1024)
                .min(self.child_memory_bytes),
            max_pages: s.max_pages,
            max_pixels: s.max_megapixels.saturating_mul(1_000_000),
            render_dpi: s.render_dpi,
            tesseract: s.tesseract_command.trim().to_owned(),
            ai_fallback: None,
            // Found once at start: no `tesseract --version` per document.
            tesseract_version: self.probe.engine.as_ref().map(|e| e.version.clone()),
            orientation: self.probe.orientation,
        }
    }

    /// What `/health` shows.
    pub fn health(&self) -> OcrHealth {
        OcrHealth {
            available: self.available(),
            engine: self.probe.engine.as_ref().map(|_| "tesseract".to_owned()),
            version: self.probe.engine.as_ref().map(|e| e.version.clone()),
            languages: self.probe.languages.clone(),
            default_languages: self.settings.languages.as_str().to_owned(),
            orientation: self.probe.orientation,
            pdf_renderer: self.probe.renderer.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::extract::ocr::Engine;

    fn settings() -> OcrSettings {
        OcrSettings {
            languages: OcrLanguages::parse("eng").unwrap(),
            max_pages: 200,
            page_timeout_secs: 60,
            page_memory_mb: 1024,
            max_megapixels: 50,
            render_dpi: 300,
            tesseract_command: "tesseract".into(),
            ai_fallback_below_confidence: 60.0,
            ai_fallback_max_pages: 3,
        }
    }

    fn status(engine: bool, languages: &[&str]) -> OcrStatus {
        OcrStatus::from_probe(
            Probe {
                engine: engine.then(|| Engine {
                    path: "/usr/bin/tesseract".into(),
                    version: "5.3.0".into(),
                }),
                languages: languages.iter().map(|l| (*l).to_owned()).collect(),
                orientation: true,
                renderer: Some("/usr/bin/pdftoppm".into()),
                pdftotext: None,
            },
            settings(),
            512 * 1024 * 1024,
        )
    }

    #[test]
    fn choices_are_checked_against_installed_languages() {
        let s = status(true, &["deu", "eng"]);
        assert!(s.available());
        assert!(
            s.check_choice(&OcrLanguages::parse("deu+eng").unwrap())
                .is_ok()
        );
        let err = s
            .check_choice(&OcrLanguages::parse("fra+eng").unwrap())
            .unwrap_err();
        assert!(err.contains("fra") && err.contains("deu, eng"), "{err}");
        assert!(
            status(false, &[])
                .check_choice(&OcrLanguages::parse("eng").unwrap())
                .is_err()
        );
    }

    #[test]
    fn options_use_the_choice_or_fall_back_to_the_default() {
        let s = status(true, &["deu", "eng"]);
        assert_eq!(s.options_for(Some("deu+eng")).languages, "deu+eng");
        assert_eq!(s.options_for(Some("fra")).languages, "eng");
        assert_eq!(s.options_for(None).languages, "eng");
        // Helpers never get more memory than the child that starts them has.
        assert_eq!(s.options_for(None).page_memory_bytes, 512 * 1024 * 1024);
        assert_eq!(s.options_for(None).max_pixels, 50_000_000);
        // The probe's findings travel with the options: nothing is asked per document.
        assert_eq!(
            s.options_for(None).tesseract_version.as_deref(),
            Some("5.3.0")
        );
        assert!(s.options_for(None).orientation);
    }

    #[test]
    fn missing_engine_or_default_language_is_unavailable() {
        assert!(!status(false, &[]).available());
        assert!(!status(true, &["deu"]).available());
        let h = status(false, &[]).health();
        assert!(!h.available && h.engine.is_none() && h.version.is_none());
    }
}
