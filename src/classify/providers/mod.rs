//! Model-based classifiers over HTTP: Ollama, OpenAI-compatible servers and Anthropic.
//!
//! Each provider is a small struct built from a [`ProviderConfig`] (base URL, model, key,
//! timeout, retry policy), so tests point it at a local fake server. They share
//! [`post_json`]: one request with a timeout, retried on transient failures (timeouts,
//! connection errors, 408/425/429, 5xx) with exponential backoff and full jitter, never on
//! other 4xx answers.
//!
//! The same providers read scan pages Tesseract reads poorly ([`vision`], the opt-in AI
//! fallback of OCR), with the same connection, key, timeout and retries.

pub mod anthropic;
pub mod ollama;
pub mod openai;
pub mod vision;

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use super::ClassifyError;

/// Retry policy for transient failures within one classification call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubles each time (with jitter).
    pub base_delay: Duration,
    /// Upper bound of one delay (also for a server's `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1-based): uniformly random in
    /// `[d/2, d]` with `d = min(max_delay, base · 2^(retry-1))`.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let d = exp.min(self.max_delay);
        let r: [u8; 8] = crate::crypto::random_bytes();
        let unit = (u64::from_le_bytes(r) >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(0.5 + 0.5 * unit)
    }
}

/// How to reach one provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Server base URL, e.g. `http://127.0.0.1:11434` (no trailing path needed).
    pub base_url: String,
    /// Model name sent in the request.
    pub model: String,
    /// API key; `None` sends no credentials (local servers).
    pub api_key: Option<SecretString>,
    /// Deadline of one HTTP request (connect + answer).
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

impl ProviderConfig {
    /// `base_url` joined with `path` (which starts with `/v1/` for OpenAI-style APIs): a base
    /// that already ends in `/v1` is not doubled.
    pub fn endpoint(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        match path.strip_prefix("/v1") {
            Some(rest) if base.ends_with("/v1") => format!("{base}{rest}"),
            _ => format!("{base}{path}"),
        }
    }

    /// An `Authorization: Bearer` header when a key is configured, else none.
    pub fn bearer_headers(&self) -> Vec<(&'static str, String)> {
        use secrecy::ExposeSecret;
        self.api_key
            .iter()
            .map(|key| ("authorization", format!("Bearer {}", key.expose_secret())))
            .collect()
    }
}

/// Turns a model's text answer into suggestions; an answer that is not the requested
/// JSON is a permanent error of `provider`.
pub fn suggestions_from(
    provider: &str,
    content: &str,
    input: &super::Input,
) -> Result<Vec<super::Suggestion>, ClassifyError> {
    let reply = super::prompt::parse_reply(content).ok_or_else(|| {
        ClassifyError::Permanent(format!(
            "{provider}: the model's answer is not the requested JSON"
        ))
    })?;
    Ok(input.resolve(reply))
}

/// One HTTP client for the whole process (connection pooling, TLS roots loaded once).
pub fn shared_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(new_client).clone()
}

/// A client with sane defaults; per-request timeouts come from [`ProviderConfig`].
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("docuvault/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// POSTs `body` to `url` with `headers`, retrying transient failures per `cfg.retry`, and
/// returns the decoded JSON of the first 2xx answer.
pub async fn post_json(
    client: &reqwest::Client,
    cfg: &ProviderConfig,
    provider: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &Value,
) -> Result<Value, ClassifyError> {
    let attempts = cfg.retry.attempts.max(1);
    let mut last = String::new();
    let mut retry_after: Option<Duration> = None;
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(retry_wait(cfg, attempt - 1, retry_after.take())).await;
        }
        let mut req = client.post(url).timeout(cfg.timeout).json(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match req.send().await {
            Err(e) => {
                last = describe_transport_error(provider, &e, cfg.timeout);
                tracing::warn!(provider, attempt, error = %last, "classifier request failed");
            }
            Ok(res) => {
                let status = res.status();
                let asked = res
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text = match res.text().await {
                    Ok(t) => t,
                    Err(e) => {
                        last = describe_transport_error(provider, &e, cfg.timeout);
                        continue;
                    }
                };
                if status.is_success() {
                    return serde_json::from_str(&text).map_err(|e| {
                        ClassifyError::Permanent(format!(
                            "{provider}: undecodable response body: {e}"
                        ))
                    });
                }
                let detail = error_detail(&text);
                let message = format!("{provider}: HTTP {}: {detail}", status.as_u16());
                if !is_transient(status) {
                    return Err(ClassifyError::Permanent(message));
                }
                tracing::warn!(provider, attempt, %status, "classifier request failed; transient");
                retry_after = asked;
                last = message;
            }
        }
    }
    Err(ClassifyError::Transient(format!(
        "{last} (after {attempts} attempt{})",
        if attempts == 1 { "" } else { "s" }
    )))
}

/// The backoff delay, or the server's `Retry-After` when longer (both capped).
fn retry_wait(cfg: &ProviderConfig, retry: u32, asked: Option<Duration>) -> Duration {
    let backoff = cfg.retry.delay(retry);
    backoff.max(asked.unwrap_or_default().min(cfg.retry.max_delay))
}

/// Whether an HTTP status is worth retrying.
pub fn is_transient(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429)
}

fn describe_transport_error(provider: &str, e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("{provider}: no answer within {} ms", timeout.as_millis())
    } else if e.is_connect() {
        format!("{provider}: cannot connect")
    } else {
        format!("{provider}: request failed: {}", without_url(e))
    }
}

/// reqwest errors print the URL; keep only the kind (URLs can hold keys).
fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut text = String::from("transport error");
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// A short, single-line excerpt of an error body: the provider's `error.message` or
/// `error` when it is JSON, else the first 200 characters.
fn error_detail(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str().map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| body.to_owned());
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = one_line.chars().take(200).collect();
    if short.is_empty() {
        "(empty body)".into()
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d2 = p.delay(2);
            assert!(d2 >= Duration::from_millis(100) && d2 <= Duration::from_millis(200));
            let d4 = p.delay(4);
            assert!(d4 >= Duration::from_millis(175) && d4 <= Duration::from_millis(350));
        }
        let spread: std::collections::HashSet<u128> =
            (0..20).map(|_| p.delay(3).as_micros()).collect();
        assert!(spread.len() > 1, "no jitter");
    }

    #[test]
    fn endpoint_does_not_double_v1() {
        let mut cfg = ProviderConfig {
            base_url: "http://h:1/".into(),
            model: "m".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        };
        assert_eq!(
            cfg.endpoint("/v1/chat/completions"),
            "http://h:1/v1/chat/completions"
        );
        cfg.base_url = "http://h:1/v1".into();
        assert_eq!(
            cfg.endpoint("/v1/chat/completions"),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(cfg.endpoint("/api/chat"), "http://h:1/v1/api/chat");
    }

    #[test]
    fn statuses() {
        use reqwest::StatusCode as S;
        for s in [S::SERVICE_UNAVAILABLE, S::TOO_MANY_REQUESTS, S::BAD_GATEWAY] {
            assert!(is_transient(s));
        }
        for s in [S::BAD_REQUEST, S::UNAUTHORIZED, S::NOT_FOUND, S::FORBIDDEN] {
            assert!(!is_transient(s));
        }
        assert_eq!(
            error_detail(r#"{"error":{"message":"bad model"}}"#),
            "bad model"
        );
        assert_eq!(
            error_detail(r#"{"error":"model not found"}"#),
            "model not found"
        );
    }
}
