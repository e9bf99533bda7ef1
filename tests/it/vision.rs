//! The AI fallback of OCR (issue 13 item 7), end to end through the real app: a local
//! HTTP server speaking the OpenAI chat-completions wire format stands in for the
//! account's own vision-capable model. Scans are made at test time from real PDF pages
//! (like `scans.rs`); the confidence threshold is set high in the test environment so
//! that Tesseract's reading of a real scan counts as poor, or low so that it does not.
//!
//! - an opted-in account's worst-read page (of a PDF with a text page and two scanned
//!   pages, at most one page sent) ends with the model's text, provenance engine `ai`
//!   with the model and no confidence, and the fake received that page as a bounded
//!   greyscale JPEG with the account's key and model;
//! - nothing is sent for an account that did not opt in, for an `ai_opt_out` document,
//!   for an account whose provider is `builtin`, or for pages read above the threshold;
//! - a model answering 500 keeps Tesseract's text and the document still finishes;
//! - the other providers' page-reading wire formats against the same kind of server.
//!
//! Needs tesseract, poppler-utils, ImageMagick and the corpus like `ocr.rs` (the wire
//! tests need none of them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::fake_http::{FakeHttp, Recorded, Reply};
use crate::common::{Session, TestApp, body, text_of, wait_processed};
use crate::ocr::{convert, jpeg_pdf, pdftotext_page, recall, run, scan, setup};
use docuvault::classify::providers::anthropic::Anthropic;
use docuvault::classify::providers::ollama::Ollama;
use docuvault::classify::providers::openai::OpenAi;
use docuvault::classify::providers::vision::{PageImage, PageReader};
use docuvault::classify::providers::{ProviderConfig, RetryPolicy};

/// What the fake model "reads" on every page: words no real page has.
const MODEL_TEXT: &str = "Quokkafallback marmalade ledger\nInvoice number 4711 from Zebrafish Ltd";
const MODEL: &str = "vision-test-model";
const USER_KEY: &str = "sk-user-vision-key";

// ---------------------------------------------------------------------------------------
// A local HTTP/1.1 server speaking the OpenAI chat-completions format: requests that carry
// an image get `vision` (status, text); others (classification) get "no topic fits".

/// The `data:` URI of the image part of a chat request, if it carries one.
fn image_uri(request: &Recorded) -> Option<String> {
    request.body["messages"]
        .as_array()?
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|part| part["type"] == "image_url")
        .and_then(|part| part["image_url"]["url"].as_str().map(str::to_owned))
}

#[derive(Clone)]
struct FakeModel {
    base: String,
    http: FakeHttp,
}

impl FakeModel {
    async fn start(vision_status: u16, vision_text: &'static str) -> FakeModel {
        let http = FakeHttp::start(move |req| {
            if image_uri(req).is_none() {
                Reply::new(200, chat_reply(&json!({"topics": []}).to_string()))
            } else if vision_status == 200 {
                Reply::new(200, chat_reply(vision_text))
            } else {
                Reply::new(
                    vision_status,
                    json!({"error": {"message": "the model is overloaded"}}),
                )
            }
        })
        .await;
        FakeModel {
            base: http.base.clone(),
            http,
        }
    }

    fn image_requests(&self) -> Vec<Recorded> {
        self.http
            .requests()
            .into_iter()
            .filter(|r| image_uri(r).is_some())
            .collect()
    }
}

fn chat_reply(content: &str) -> Value {
    json!({
        "id": "chatcmpl-vision1",
        "object": "chat.completion",
        "created": 1_765_000_000,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 40, "total_tokens": 1240}
    })
}

// ---------------------------------------------------------------------------------------
// The app, accounts and scans.

async fn app_with(fake: &FakeModel, below_confidence: &str, max_pages: &str) -> TestApp {
    let base = fake.base.clone();
    let (below, max) = (below_confidence.to_owned(), max_pages.to_owned());
    TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__AI__OPENAI__BASE_URL".into(), base);
        env.insert("DOCUVAULT__AI__RETRY_ATTEMPTS".into(), "2".into());
        env.insert("DOCUVAULT__AI__RETRY_BASE_DELAY_MS".into(), "10".into());
        env.insert("DOCUVAULT__AI__RETRY_MAX_DELAY_MS".into(), "20".into());
        env.insert("DOCUVAULT__AI__REQUEST_TIMEOUT_SECS".into(), "10".into());
        env.insert("DOCUVAULT__OCR__AI_FALLBACK_BELOW_CONFIDENCE".into(), below);
        env.insert("DOCUVAULT__OCR__AI_FALLBACK_MAX_PAGES".into(), max);
    })
    .await
}

async fn patch_me(app: &TestApp, s: &Session, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url("/api/auth/me"))
        .bearer_auth(&s.access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An account using the fake as its own OpenAI-compatible provider, opted in or not.
async fn account(app: &TestApp, handle: &str, opted_in: bool) -> Session {
    let s = app.register(handle).await;
    let res = patch_me(
        app,
        &s,
        json!({"ai_provider": "openai", "ai_model": MODEL, "ai_api_key": USER_KEY,
               "ocr_ai_fallback": opted_in}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["ocr_ai_fallback"], opted_in);
    s
}

/// Uploads and waits; the document must not fail.
async fn processed(app: &TestApp, s: &Session, name: &str, ct: &str, bytes: Vec<u8>) -> Value {
    let id = app.upload(s, name, ct, bytes).await;
    let doc = wait_processed(app, s, &id).await;
    assert_ne!(doc["status"], "failed", "{doc}");
    text_of(app, s, &id).await
}

fn assert_read_by_tesseract(text: &Value) {
    let pages = text["pages"].as_array().unwrap();
    assert!(!pages.is_empty(), "{text}");
    for page in pages {
        assert_eq!(page["engine"], "tesseract", "{page}");
        assert!(page["mean_confidence"].is_number(), "{page}");
    }
    assert!(
        !text["text"].as_str().unwrap().contains("Quokkafallback"),
        "{text}"
    );
}

struct Scans {
    corpus: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl Scans {
    fn new() -> Option<Scans> {
        Some(Scans {
            corpus: setup()?,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    fn source(&self) -> std::path::PathBuf {
        self.corpus.join("pdf/txfontsdoc.pdf")
    }

    /// Page `page` of the source as a grey JPEG scan (200 dpi, quality 70, turned 1.5°).
    fn jpeg(&self, page: u32) -> Vec<u8> {
        std::fs::read(scan(&self.source(), page, 1.5, self.dir.path())).unwrap()
    }

    /// Page `page` as a worse scan: blurred, noisy, quality 40.
    fn poor_jpeg(&self, page: u32) -> Vec<u8> {
        let clean = scan(&self.source(), page, 1.5, self.dir.path());
        let out = self.dir.path().join(format!("poor-{page}.jpg"));
        run(Command::new(convert())
            .arg(&clean)
            .args(["-blur", "0x1.2", "-attenuate", "0.5", "+noise", "Gaussian"])
            .args(["-quality", "40"])
            .arg(&out));
        std::fs::read(out).unwrap()
    }

    /// A PDF: page 1 of euro.pdf (text layer), then `scans` as scanned pages.
    fn mixed_pdf(&self, scans: &[Vec<u8>]) -> Vec<u8> {
        let dir = self.dir.path();
        let first = dir.join("text-page.pdf");
        run(Command::new("pdfseparate")
            .args(["-f", "1", "-l", "1"])
            .arg(self.corpus.join("pdf/euro.pdf"))
            .arg(&first));
        let mut parts = vec![first];
        for (i, jpeg) in scans.iter().enumerate() {
            let part = dir.join(format!("scanned-{i}.pdf"));
            std::fs::write(&part, jpeg_pdf(jpeg, 200)).unwrap();
            parts.push(part);
        }
        let out = dir.join("mixed.pdf");
        run(Command::new("pdfunite").args(&parts).arg(&out));
        std::fs::read(out).unwrap()
    }
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_opted_in_accounts_worst_read_page_is_read_by_its_own_model() {
    let Some(scans) = Scans::new() else { return };
    // Made before any HTTP (blocking work would let pooled connections go stale).
    let pdf = scans.mixed_pdf(&[scans.jpeg(2), scans.poor_jpeg(3)]);
    let fake = FakeModel::start(200, MODEL_TEXT).await;
    // Every real scan counts as poorly read; one page per document at most.
    let app = app_with(&fake, "100", "1").await;
    let s = account(&app, "reader", true).await;

    let id = app.upload(&s, "mixed.pdf", "application/pdf", pdf).await;
    let doc = wait_processed(&app, &s, &id).await;
    assert_ne!(doc["status"], "failed", "{doc}");
    let text = text_of(&app, &s, &id).await;

    // The model received one page image, with the account's own key and model.
    let sent = fake.image_requests();
    assert_eq!(
        sent.len(),
        1,
        "at most ai_fallback_max_pages pages are sent"
    );
    let request = &sent[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {USER_KEY}")
    );
    assert_eq!(request.body["model"], MODEL);
    let uri = image_uri(request).unwrap();
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(uri.strip_prefix("data:image/jpeg;base64,").unwrap())
        .unwrap();
    let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!(image.color(), image::ColorType::L8, "greyscale");
    assert_eq!(
        image.width().max(image.height()),
        1600,
        "a 300 dpi page is scaled to 1600 px on its longest side"
    );
    assert!(jpeg.len() <= 1024 * 1024);

    // Page 1 keeps its text layer; of the two scanned pages, the less confident one was
    // read by the model, the other keeps Tesseract's reading.
    let pages = text["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3, "{text}");
    assert_eq!(pages[0]["source"], "text_layer");
    let (ai, tesseract): (Vec<&Value>, Vec<&Value>) =
        pages[1..].iter().partition(|p| p["engine"] == "ai");
    assert_eq!((ai.len(), tesseract.len()), (1, 1), "{text}");
    let (ai, tesseract) = (ai[0], tesseract[0]);
    assert_eq!(ai["source"], "ocr");
    assert_eq!(ai["provider"], "openai");
    assert_eq!(ai["model"], MODEL);
    assert_eq!(ai["languages"], "eng");
    assert_eq!(
        ai["mean_confidence"],
        Value::Null,
        "a model reports no confidence"
    );
    assert_eq!(ai["version"], Value::Null);
    let replaced = ai["tesseract_confidence"].as_f64().unwrap();
    assert!(replaced < 100.0);
    assert!(
        replaced <= tesseract["mean_confidence"].as_f64().unwrap(),
        "the least confident page goes first: {text}"
    );
    assert_eq!(tesseract["model"], Value::Null);

    // Search works on the model's reading.
    let res = app
        .get_auth("/api/documents?q=quokkafallback", &s.access)
        .await;
    let hits = body(res).await["items"].as_array().unwrap().clone();
    assert!(hits.iter().any(|d| d["id"] == id.as_str()), "{hits:?}");

    // The document's text: the text page, Tesseract's page and the model's page.
    let got = text["text"].as_str().unwrap();
    assert!(got.contains(MODEL_TEXT), "{got}");
    let kept = if ai["page"] == 2 { 3 } else { 2 };
    let r = recall(&pdftotext_page(&scans.source(), kept), got);
    assert!(r >= 0.8, "Tesseract's page kept: recall {r:.3}");
    let r = recall(&pdftotext_page(&scans.corpus.join("pdf/euro.pdf"), 1), got);
    assert!(r >= 0.9, "text page kept: recall {r:.3}");
}

#[tokio::test]
async fn nothing_is_sent_without_opt_in_for_opted_out_documents_or_with_builtin() {
    let Some(scans) = Scans::new() else { return };
    let jpeg = scans.jpeg(2);
    let fake = FakeModel::start(200, MODEL_TEXT).await;
    let app = app_with(&fake, "100", "3").await;

    // Off by default.
    let s = app.register("plain").await;
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(me["ocr_ai_fallback"], false);

    // An account with a model provider that did not opt in.
    let s = account(&app, "notopted", false).await;
    let text = processed(&app, &s, "scan.jpg", "image/jpeg", jpeg.clone()).await;
    assert_read_by_tesseract(&text);
    assert_eq!(fake.image_requests().len(), 0);

    // An opted-in account's document marked ai_opt_out before processing.
    let s = account(&app, "optout", true).await;
    let ticket = app
        .upload_url(&s, "private.jpg", "image/jpeg", jpeg.len())
        .await;
    assert!(
        app.put_bytes(&ticket, jpeg.clone())
            .await
            .status()
            .is_success()
    );
    let id = ticket["document_id"].as_str().unwrap().to_owned();
    let res = app
        .client
        .patch(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&s.access)
        .json(&json!({"ai_opt_out": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.confirm(&s, &id).await.status(), 200);
    let doc = wait_processed(&app, &s, &id).await;
    assert_ne!(doc["status"], "failed", "{doc}");
    assert_read_by_tesseract(&text_of(&app, &s, &id).await);
    assert_eq!(fake.image_requests().len(), 0);

    // builtin: turning the fallback on is refused; switching to builtin later keeps the
    // setting but nothing is sent.
    let s = app.register("builtin").await;
    let res = patch_me(&app, &s, json!({"ocr_ai_fallback": true})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "validation_failed");
    let res = patch_me(
        &app,
        &s,
        json!({"ai_provider": "builtin", "ocr_ai_fallback": true}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(
        me["ocr_ai_fallback"], false,
        "a refused change changes nothing"
    );
    let res = patch_me(
        &app,
        &s,
        json!({"ai_provider": "openai", "ocr_ai_fallback": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = patch_me(&app, &s, json!({"ai_provider": "builtin"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["ocr_ai_fallback"], true);
    let text = processed(&app, &s, "scan.jpg", "image/jpeg", jpeg.clone()).await;
    assert_read_by_tesseract(&text);
    assert_eq!(fake.image_requests().len(), 0);

    // The same scan of an opted-in account does go out: the cases above were guarded,
    // not unable to send.
    let s = account(&app, "opted", true).await;
    let text = processed(&app, &s, "scan.jpg", "image/jpeg", jpeg).await;
    assert_eq!(fake.image_requests().len(), 1);
    assert_eq!(text["pages"][0]["engine"], "ai", "{text}");
    assert_eq!(text["text"], MODEL_TEXT);
    // And turning it off again works.
    let res = patch_me(&app, &s, json!({"ocr_ai_fallback": false})).await;
    assert_eq!(body(res).await["ocr_ai_fallback"], false);
}

#[tokio::test]
async fn pages_read_above_the_threshold_are_not_sent() {
    let Some(scans) = Scans::new() else { return };
    let jpeg = scans.jpeg(2);
    let fake = FakeModel::start(200, MODEL_TEXT).await;
    let app = app_with(&fake, "20", "3").await;
    let s = account(&app, "confident", true).await;
    let text = processed(&app, &s, "scan.jpg", "image/jpeg", jpeg).await;
    assert_read_by_tesseract(&text);
    let confidence = text["pages"][0]["mean_confidence"].as_f64().unwrap();
    assert!(confidence >= 20.0, "{confidence}");
    assert_eq!(fake.image_requests().len(), 0);
}

#[tokio::test]
async fn a_failing_model_keeps_tesseracts_text_and_the_document_finishes() {
    let Some(scans) = Scans::new() else { return };
    let jpeg = scans.jpeg(2);
    let fake = FakeModel::start(500, "").await;
    let app = app_with(&fake, "100", "3").await;
    let s = account(&app, "unlucky", true).await;
    let text = processed(&app, &s, "scan.jpg", "image/jpeg", jpeg).await;
    assert_eq!(
        fake.image_requests().len(),
        2,
        "the page was sent, and retried per ai.retry_attempts"
    );
    assert_read_by_tesseract(&text);
    let r = recall(
        &pdftotext_page(&scans.source(), 2),
        text["text"].as_str().unwrap(),
    );
    assert!(r >= 0.9, "Tesseract's reading is kept: recall {r:.3}");
}

// ---------------------------------------------------------------------------------------
// The other providers' page-reading wire formats, against a local server.

/// A server answering every request with `reply`, recording the requests.
async fn wire_server(reply: Value) -> (String, FakeHttp) {
    let http = FakeHttp::start(move |_| Reply::new(200, reply.clone())).await;
    (http.base.clone(), http)
}

fn config(base: &str) -> ProviderConfig {
    ProviderConfig {
        base_url: base.to_owned(),
        model: MODEL.into(),
        api_key: Some(secrecy::SecretString::from(USER_KEY)),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
    }
}

const PAGE: PageImage<'static> = PageImage {
    jpeg: &[0xFF, 0xD8, 0xFF, 0xD9],
    languages: "deu+eng",
};

#[tokio::test]
async fn each_provider_reads_a_page_over_its_own_wire_format() {
    // OpenAI-compatible, with a fenced answer.
    let (base, requests) = wire_server(chat_reply("```\nLine one\nLine two\n```")).await;
    let got = OpenAi::new(config(&base)).read_page(&PAGE).await.unwrap();
    assert_eq!(got, "Line one\nLine two");
    let sent = requests.requests()[0].clone();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(image_uri(&sent).unwrap(), "data:image/jpeg;base64,/9j/2Q==");

    // Anthropic: a base64 image block; text blocks are the answer.
    let (base, requests) = wire_server(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text": "Sehr geehrte Damen und Herren"}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 1500, "output_tokens": 9}
    }))
    .await;
    let got = Anthropic::new(config(&base))
        .read_page(&PAGE)
        .await
        .unwrap();
    assert_eq!(got, "Sehr geehrte Damen und Herren");
    let sent = requests.requests()[0].clone();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], USER_KEY);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    let image = &sent.body["messages"][0]["content"][0];
    assert_eq!(image["type"], "image");
    assert_eq!(image["source"]["media_type"], "image/jpeg");
    assert_eq!(image["source"]["data"], "/9j/2Q==");

    // Ollama: images on the message.
    let (base, requests) = wire_server(json!({
        "model": MODEL, "created_at": "2026-12-06T10:00:00Z",
        "message": {"role": "assistant", "content": "Rechnung Nr. 12"},
        "done": true, "done_reason": "stop"
    }))
    .await;
    let got = Ollama::new(config(&base)).read_page(&PAGE).await.unwrap();
    assert_eq!(got, "Rechnung Nr. 12");
    let sent = requests.requests()[0].clone();
    assert_eq!(sent.path, "/api/chat");
    assert_eq!(sent.body["messages"][1]["images"], json!(["/9j/2Q=="]));
    assert_eq!(sent.body["stream"], false);
}
