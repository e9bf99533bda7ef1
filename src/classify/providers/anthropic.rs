//! Anthropic's Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version`, forcing one tool call whose `input_schema` is the reply schema
//! (the tool input is the answer). A plain-text JSON answer is accepted too.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::vision::{self, PageImage, PageReader};
use super::{ProviderConfig, post_json};
use crate::classify::prompt::{self, Reply, parse_reply};
use crate::classify::{Classifier, ClassifyError, Input, Suggestion};

/// Model used when neither the user nor the settings name one.
pub const DEFAULT_MODEL: &str = "claude-3-5-haiku-latest";
/// The API version header value this client speaks.
pub const API_VERSION: &str = "2023-06-01";
/// Name of the tool the model is made to call.
pub const TOOL_NAME: &str = "file_document";
/// Upper bound of the answer's length.
const MAX_TOKENS: u32 = 512;

/// Anthropic's API (or a compatible proxy).
pub struct Anthropic {
    cfg: ProviderConfig,
    client: reqwest::Client,
}

impl Anthropic {
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
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
            "system": input.system_prompt,
            "messages": [
                {"role": "user", "content": prompt::user_message(input)},
            ],
            "tools": [{
                "name": TOOL_NAME,
                "description": "Record the topics the document belongs to (an empty list when none fits).",
                "input_schema": prompt::reply_schema(input),
            }],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        })
    }
}

impl Anthropic {
    /// The request body that asks the model to read one page image (AI fallback of OCR):
    /// the image as a base64 `image` block before the instruction.
    pub fn vision_body(&self, page: &PageImage<'_>) -> Value {
        json!({
            "model": self.cfg.model,
            "max_tokens": vision::MAX_OUTPUT_TOKENS,
            "temperature": 0,
            "system": vision::SYSTEM_PROMPT,
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {
                    "type": "base64",
                    "media_type": "image/jpeg",
                    "data": page.base64(),
                }},
                {"type": "text", "text": page.instruction()},
            ]}],
        })
    }

    async fn messages(&self, body: &Value) -> Result<Value, ClassifyError> {
        let Some(key) = &self.cfg.api_key else {
            return Err(ClassifyError::Permanent(
                "anthropic: no API key configured (ai.anthropic.api_key or the user's key)".into(),
            ));
        };
        let headers = [
            ("x-api-key", key.expose_secret().to_owned()),
            ("anthropic-version", API_VERSION.to_owned()),
        ];
        let url = self.cfg.endpoint("/v1/messages");
        post_json(&self.client, &self.cfg, "anthropic", &url, &headers, body).await
    }
}

#[async_trait]
impl PageReader for Anthropic {
    fn provider(&self) -> &'static str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn read_page(&self, page: &PageImage<'_>) -> Result<String, ClassifyError> {
        let res = self.messages(&self.vision_body(page)).await?;
        let blocks = res
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| ClassifyError::Permanent("anthropic: response has no content".into()))?;
        let text: Vec<&str> = blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        Ok(vision::clean_transcript(&text.join("\n")))
    }
}

#[async_trait]
impl Classifier for Anthropic {
    fn provider(&self) -> &'static str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.cfg.model
    }

    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError> {
        let res = self.messages(&self.request_body(input)).await?;
        let reply = reply_from_content(&res).ok_or_else(|| {
            ClassifyError::Permanent(
                "anthropic: the model's answer is not the requested JSON".into(),
            )
        })?;
        Ok(input.resolve(reply))
    }
}

/// The tool call's `input`, or else a text block holding the JSON.
fn reply_from_content(res: &Value) -> Option<Reply> {
    let blocks = res.get("content")?.as_array()?;
    for block in blocks {
        if block.get("type").and_then(Value::as_str) == Some("tool_use")
            && block.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
            && let Some(input) = block.get("input")
        {
            return serde_json::from_value(input.clone()).ok();
        }
    }
    blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .find_map(parse_reply)
}
