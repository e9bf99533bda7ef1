//! Reading one scanned page with a vision-capable model (the AI fallback for pages
//! Tesseract reads poorly, issue 13 item 7). Each provider sends the page as an image in
//! its own wire format — OpenAI-compatible: an `image_url` part with a `data:` URI;
//! Anthropic: a base64 `image` block; Ollama: `images` on the message — with the same
//! instruction, and answers the page's text. The requests go through
//! [`super::post_json`], so the classifier's timeout and retry policy apply unchanged.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::classify::ClassifyError;

/// The instruction given as the system prompt (or system message).
pub const SYSTEM_PROMPT: &str = "You transcribe scanned document pages. Answer with the \
    text printed or written on the page, exactly as it appears, in reading order, one line \
    of the page per line, with a blank line between paragraphs or columns. Do not \
    translate, summarise, correct or explain anything, and add no commentary or \
    formatting. If the page has no text, answer with nothing.";
/// Upper bound of a reply, in tokens (a dense page is about 1 000).
pub const MAX_OUTPUT_TOKENS: u32 = 4096;
/// Longest reading kept for one page, in characters; the rest is dropped.
pub const MAX_PAGE_CHARS: usize = 20_000;

/// One page image to read.
#[derive(Debug, Clone, Copy)]
pub struct PageImage<'a> {
    /// Greyscale JPEG bytes.
    pub jpeg: &'a [u8],
    /// Tesseract language codes the page is expected in, `+`-joined (`deu+eng`).
    pub languages: &'a str,
}

impl PageImage<'_> {
    /// The JPEG as base64 (Anthropic's and Ollama's form).
    pub fn base64(&self) -> String {
        STANDARD.encode(self.jpeg)
    }

    /// The JPEG as a `data:` URI (OpenAI's form).
    pub fn data_uri(&self) -> String {
        format!("data:image/jpeg;base64,{}", self.base64())
    }

    /// The user message that goes with the image.
    pub fn instruction(&self) -> String {
        format!(
            "Transcribe the text of this scanned page. Expected language(s) \
             (Tesseract codes): {}.",
            self.languages.replace('+', ", ")
        )
    }
}

/// A model that can read a page image.
#[async_trait]
pub trait PageReader: Send + Sync {
    /// Provider name recorded with the page (`openai`, `anthropic`, `ollama`).
    fn provider(&self) -> &'static str;
    /// Model name recorded with the page.
    fn model(&self) -> &str;
    /// The page's text as the model read it ([`clean_transcript`] applied; may be empty).
    async fn read_page(&self, page: &PageImage<'_>) -> Result<String, ClassifyError>;
}

/// What may follow the opening fence of a fenced answer.
const FENCE_TAGS: [&str; 6] = ["", "text", "txt", "plaintext", "markdown", "md"];

/// A model's answer as page text: a Markdown code fence around the whole answer is
/// removed, and the text is cut at [`MAX_PAGE_CHARS`].
pub fn clean_transcript(answer: &str) -> String {
    let trimmed = answer.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map_or(trimmed, |inner| {
            // The fence's first line is empty or names a language (```text).
            match inner.split_once('\n') {
                Some((first, body)) if FENCE_TAGS.contains(&first.trim()) => body,
                _ => inner,
            }
            .trim()
        });
    match unfenced.char_indices().nth(MAX_PAGE_CHARS) {
        Some((cut, _)) => unfenced[..cut].to_owned(),
        None => unfenced.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::classify::providers::anthropic::Anthropic;
    use crate::classify::providers::ollama::Ollama;
    use crate::classify::providers::openai::OpenAi;
    use crate::classify::providers::{ProviderConfig, RetryPolicy};

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00];

    fn cfg() -> ProviderConfig {
        ProviderConfig {
            base_url: "http://h:1".into(),
            model: "vision-model".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        }
    }

    fn page() -> PageImage<'static> {
        PageImage {
            jpeg: JPEG,
            languages: "deu+eng",
        }
    }

    #[test]
    fn openai_sends_the_page_as_a_data_uri_image_part() {
        let body = OpenAi::new(cfg()).vision_body(&page());
        assert_eq!(
            body,
            json!({
                "model": "vision-model",
                "temperature": 0,
                "max_tokens": MAX_OUTPUT_TOKENS,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": [
                        {"type": "text", "text": page().instruction()},
                        {"type": "image_url", "image_url": {
                            "url": "data:image/jpeg;base64,/9j/4AA=",
                            "detail": "high",
                        }},
                    ]},
                ],
            })
        );
        assert!(page().instruction().contains("deu, eng"));
    }

    #[test]
    fn anthropic_sends_a_base64_image_block() {
        let body = Anthropic::new(cfg()).vision_body(&page());
        assert_eq!(
            body,
            json!({
                "model": "vision-model",
                "max_tokens": MAX_OUTPUT_TOKENS,
                "temperature": 0,
                "system": SYSTEM_PROMPT,
                "messages": [{"role": "user", "content": [
                    {"type": "image", "source": {
                        "type": "base64",
                        "media_type": "image/jpeg",
                        "data": "/9j/4AA=",
                    }},
                    {"type": "text", "text": page().instruction()},
                ]}],
            })
        );
    }

    #[test]
    fn ollama_sends_images_on_the_message() {
        let body = Ollama::new(cfg()).vision_body(&page());
        assert_eq!(
            body,
            json!({
                "model": "vision-model",
                "stream": false,
                "options": {"temperature": 0, "num_predict": MAX_OUTPUT_TOKENS},
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": page().instruction(), "images": ["/9j/4AA="]},
                ],
            })
        );
    }

    #[test]
    fn transcripts_lose_a_surrounding_fence_and_are_capped() {
        assert_eq!(clean_transcript("  Hello\nworld \n"), "Hello\nworld");
        assert_eq!(clean_transcript("```\nHello\n```"), "Hello");
        assert_eq!(
            clean_transcript("```text\nHello\nworld\n```"),
            "Hello\nworld"
        );
        assert_eq!(clean_transcript("Use ``` fences"), "Use ``` fences");
        assert_eq!(clean_transcript("```Invoice\nNo 12```"), "Invoice\nNo 12");
        let long = "x".repeat(MAX_PAGE_CHARS + 10);
        assert_eq!(clean_transcript(&long).len(), MAX_PAGE_CHARS);
    }
}
