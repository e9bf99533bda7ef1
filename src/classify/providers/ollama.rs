//! Ollama: `POST {base}/api/chat` with `stream: false` and the reply's JSON schema as
//! `format` (structured outputs), temperature 0.

use async_trait::async_trait;
use serde_json::{Value, json};

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

#[async_trait]
impl Classifier for Ollama {
    fn provider(&self) -> &'static str {
        "ollama"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError> {
        // Ollama itself has no keys; a key is sent as a bearer token for servers behind
        // an authenticating proxy.
        let headers = self.cfg.bearer_headers();
        let url = self.cfg.endpoint("/api/chat");
        let body = self.request_body(input);
        let res = post_json(&self.client, &self.cfg, "ollama", &url, &headers, &body).await?;
        let content = res
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| ClassifyError::Permanent("ollama: response has no message".into()))?;
        suggestions_from("ollama", content, input)
    }
}
