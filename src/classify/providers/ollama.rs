//! Ollama: `POST {base}/api/chat` with `stream: false` and the reply's JSON schema as
//! `format` (structured outputs), temperature 0.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::vision::{self, PageImage, PageReader};
use super::{ProviderConfig, post_json, suggestions_from};
use crate::classify::prompt;
use crate::classify::{Classifier, ClassifyError, Input, Suggestion};

/// Model used when neither the user nor the settings name one.
pub const DEFAULT_MODEL: &str = "llama3.2";

/// An Ollama server.
pub struct Ollama {
    cfg: ProviderConfig,
    client: reqwest::Client,
}

impl Ollama {
    /// A client for `cfg` with its own connection pool.
    pub fn new(cfg: ProviderConfig) -> Self {
        Self::with_client(cfg, super::new_client())
    }

    /// A client for `cfg` sharing `client`'s connection pool.
    pub fn with_client(cfg: ProviderConfig, client: reqwest::Client) -> Self {
        Self { cfg, client }
    }

    /// The request body for `input`.
    pub fn request_body(&self, input: &Input) -> Value {
        json!({
            "model": self.cfg.model,
            "stream": false,
            "format": prompt::reply_schema(input),
            "options": {"temperature": 0},
            "messages": [
                {"role": "system", "content": input.system_prompt},
                {"role": "user", "content": prompt::user_message(input)},
            ],
        })
    }
}

impl Ollama {
    /// The request body that asks the model to read one page image (AI fallback of OCR):
    /// the image, base64, in the user message's `images`.
    pub fn vision_body(&self, page: &PageImage<'_>) -> Value {
        json!({
            "model": self.cfg.model,
            "stream": false,
            "options": {"temperature": 0, "num_predict": vision::MAX_OUTPUT_TOKENS},
            "messages": [
                {"role": "system", "content": vision::SYSTEM_PROMPT},
                {"role": "user", "content": page.instruction(), "images": [page.base64()]},
            ],
        })
    }

    async fn chat(&self, body: &Value) -> Result<String, ClassifyError> {
        // Ollama itself has no keys; a key is sent as a bearer token for servers behind
        // an authenticating proxy.
        let headers = self.cfg.bearer_headers();
        let url = self.cfg.endpoint("/api/chat");
        let res = post_json(&self.client, &self.cfg, "ollama", &url, &headers, body).await?;
        res.pointer("/message/content")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClassifyError::Permanent("ollama: response has no message".into()))
    }
}

#[async_trait]
impl PageReader for Ollama {
    fn provider(&self) -> &'static str {
        "ollama"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn read_page(&self, page: &PageImage<'_>) -> Result<String, ClassifyError> {
        let content = self.chat(&self.vision_body(page)).await?;
        Ok(vision::clean_transcript(&content))
    }
}

#[async_trait]
impl Classifier for Ollama {
    fn provider(&self) -> &'static str {
        "ollama"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError> {
        let content = self.chat(&self.request_body(input)).await?;
        suggestions_from("ollama", &content, input)
    }
}
