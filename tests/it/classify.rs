//! Classification, offline: each model provider against a local server speaking that
//! provider's wire format (success, none fits, unknown name, 503 then 200, 400, timeout),
//! the builtin classifier (zero-shot, learning from hand-filed documents, none), the
//! privacy guards (opt-out and near-empty text never reach the network) and the per-user
//! AI settings on `/api/auth/me` (write-only encrypted key).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::fake_http::{FakeHttp, Recorded, Reply};
use common::{Session, TestApp, create_topic};
use docuvault::classify::providers::anthropic::Anthropic;
use docuvault::classify::providers::ollama::Ollama;
use docuvault::classify::providers::openai::OpenAi;
use docuvault::classify::providers::{ProviderConfig, RetryPolicy};
use docuvault::classify::{self, Classifier, ClassifyError, Input, Outcome, Pick, TopicOption};
use docuvault::entities::{document_texts, document_topics, documents, users};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// A scripted provider: the replies in order, repeating the last one.

/// A server answering the scripted replies in order, repeating the last one.
async fn scripted(script: Vec<Reply>) -> FakeHttp {
    let script = Mutex::new(VecDeque::from(script));
    FakeHttp::start(move |_| {
        let mut s = script.lock().unwrap();
        if s.len() > 1 {
            s.pop_front().unwrap()
        } else {
            s.front().cloned().unwrap()
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The three providers' real wire formats.

#[derive(Clone, Copy, Debug)]
enum Wire {
    OpenAi,
    Ollama,
    Anthropic,
}

const KEY: &str = "sk-test-0123456789";
const MODEL: &str = "test-model-1";

impl Wire {
    fn path(self) -> &'static str {
        match self {
            Wire::OpenAi => "/v1/chat/completions",
            Wire::Ollama => "/api/chat",
            Wire::Anthropic => "/v1/messages",
        }
    }

    fn classifier(self, base: &str, timeout: Duration) -> Box<dyn Classifier> {
        let cfg = ProviderConfig {
            base_url: base.to_owned(),
            model: MODEL.into(),
            api_key: Some(SecretString::from(KEY)),
            timeout,
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(100),
            },
        };
        match self {
            Wire::OpenAi => Box::new(OpenAi::new(cfg)),
            Wire::Ollama => Box::new(Ollama::new(cfg)),
            Wire::Anthropic => Box::new(Anthropic::new(cfg)),
        }
    }

    /// A successful response whose answer is `answer` (the reply JSON).
    fn ok(self, answer: Value) -> Reply {
        let body = match self {
            Wire::OpenAi => json!({
                "id": "chatcmpl-AbC123",
                "object": "chat.completion",
                "created": 1_732_000_000,
                "model": "test-model-1-2024-07-18",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.to_string(), "refusal": null},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 312, "completion_tokens": 14, "total_tokens": 326},
                "system_fingerprint": "fp_0123456789"
            }),
            Wire::Ollama => json!({
                "model": MODEL,
                "created_at": "2026-11-24T18:00:00.000000Z",
                "message": {"role": "assistant", "content": answer.to_string()},
                "done_reason": "stop",
                "done": true,
                "total_duration": 512_000_000u64,
                "load_duration": 2_000_000u64,
                "prompt_eval_count": 312,
                "prompt_eval_duration": 100_000_000u64,
                "eval_count": 14,
                "eval_duration": 400_000_000u64
            }),
            Wire::Anthropic => json!({
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "type": "message",
                "role": "assistant",
                "model": "test-model-1-20241022",
                "content": [{
                    "type": "tool_use",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "file_document",
                    "input": answer
                }],
                "stop_reason": "tool_use",
                "stop_sequence": null,
                "usage": {"input_tokens": 420, "output_tokens": 30}
            }),
        };
        Reply::new(200, body)
    }

    fn error(self, status: u16) -> Reply {
        let body = match self {
            Wire::OpenAi => json!({"error": {
                "message": "Invalid schema for response_format",
                "type": "invalid_request_error", "param": "response_format", "code": null}}),
            Wire::Ollama => json!({"error": "invalid format"}),
            Wire::Anthropic => json!({"type": "error", "error": {
                "type": if status == 503 { "overloaded_error" } else { "invalid_request_error" },
                "message": "bad request"}}),
        };
        Reply::new(status, body)
    }

    /// Asserts the request is this provider's real shape, for `input`.
    fn assert_request(self, r: &Recorded, input: &Input) {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, self.path());
        assert_eq!(r.body["model"], MODEL);
        let names: Vec<&str> = input.topics.iter().map(|t| t.name.as_str()).collect();
        let (user_text, schema) = match self {
            Wire::OpenAi => {
                assert_eq!(r.headers["authorization"], format!("Bearer {KEY}"));
                assert_eq!(r.body["messages"][0]["role"], "system");
                assert_eq!(r.body["messages"][1]["role"], "user");
                let rf = &r.body["response_format"];
                assert_eq!(rf["type"], "json_schema");
                assert_eq!(rf["json_schema"]["strict"], true);
                assert!(rf["json_schema"]["name"].is_string());
                (
                    r.body["messages"][1]["content"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    rf["json_schema"]["schema"].clone(),
                )
            }
            Wire::Ollama => {
                assert_eq!(r.body["stream"], false);
                assert_eq!(r.body["messages"][0]["role"], "system");
                (
                    r.body["messages"][1]["content"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    r.body["format"].clone(),
                )
            }
            Wire::Anthropic => {
                assert_eq!(r.headers["x-api-key"], KEY);
                assert_eq!(r.headers["anthropic-version"], "2023-06-01");
                assert!(!r.headers.contains_key("authorization"));
                assert!(r.body["max_tokens"].as_u64().unwrap() > 0);
                assert!(r.body["system"].as_str().unwrap().contains("topics"));
                assert_eq!(r.body["messages"][0]["role"], "user");
                assert_eq!(r.body["tool_choice"]["type"], "tool");
                assert_eq!(r.body["tool_choice"]["name"], r.body["tools"][0]["name"]);
                (
                    r.body["messages"][0]["content"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    r.body["tools"][0]["input_schema"].clone(),
                )
            }
        };
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["topics"]));
        let name_schema = &schema["properties"]["topics"]["items"]["properties"]["name"];
        assert_eq!(name_schema["enum"], json!(names), "closed set as an enum");
        for name in names {
            assert!(user_text.contains(name), "topic {name} listed to the model");
        }
        assert!(user_text.contains(&input.filename));
        assert!(user_text.contains(&input.text));
    }
}

fn topic(n: u128, name: &str, description: &str) -> TopicOption {
    TopicOption {
        id: Uuid::from_u128(n),
        name: name.into(),
        description: Some(description.into()),
    }
}

fn sample_input() -> Input {
    Input {
        filename: "tax-assessment-2025.pdf".into(),
        text: "Income tax assessment 2025. Your refund is 312.40 EUR.".into(),
        topics: vec![
            topic(1, "Taxes", "Tax returns, assessments, tax office letters"),
            topic(2, "Health", "Doctors, hospitals, prescriptions"),
            topic(3, "Car", "Insurance, repairs, registration"),
        ],
        allow_new_topics: false,
        max_new_topics: 1,
        system_prompt: classify::prompt::DEFAULT_SYSTEM_PROMPT.into(),
    }
}

async fn run(
    wire: Wire,
    script: Vec<Reply>,
) -> (Result<Vec<classify::Suggestion>, ClassifyError>, FakeHttp) {
    let server = scripted(script).await;
    let c = wire.classifier(&server.base, Duration::from_secs(5));
    let got = c.classify(&sample_input()).await;
    (got, server)
}

async fn success(wire: Wire) {
    let (got, server) = run(
        wire,
        vec![wire.ok(json!({"topics": [{"name": "Taxes", "confidence": 0.93}]}))],
    )
    .await;
    let got = got.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].pick, Pick::Existing(Uuid::from_u128(1)));
    assert!((got[0].confidence - 0.93).abs() < 1e-9);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    wire.assert_request(&requests[0], &sample_input());
}

async fn none_fits(wire: Wire) {
    let (got, server) = run(wire, vec![wire.ok(json!({"topics": []}))]).await;
    assert!(got.unwrap().is_empty());
    assert_eq!(server.count(), 1);
}

async fn unknown_name_dropped(wire: Wire) {
    let (got, _server) = run(
        wire,
        vec![wire.ok(json!({"topics": [
            {"name": "Holidays", "confidence": 0.97},
            {"name": "health", "confidence": 0.6}
        ]}))],
    )
    .await;
    let got = got.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].pick,
        Pick::Existing(Uuid::from_u128(2)),
        "matched ignoring case"
    );
}

async fn retried_after_503(wire: Wire) {
    let (got, server) = run(
        wire,
        vec![
            wire.error(503),
            wire.ok(json!({"topics": [{"name": "Taxes", "confidence": 0.8}]})),
        ],
    )
    .await;
    let got = got.unwrap();
    assert_eq!(got[0].pick, Pick::Existing(Uuid::from_u128(1)));
    assert_eq!(server.count(), 2, "one retry");
}

async fn bad_request_not_retried(wire: Wire) {
    let (got, server) = run(wire, vec![wire.error(400)]).await;
    match got {
        Err(ClassifyError::Permanent(m)) => assert!(m.contains("400"), "{m}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert_eq!(server.count(), 1, "not retried");
}

async fn timeout_is_transient_and_bounded(wire: Wire) {
    let mut slow = wire.ok(json!({"topics": []}));
    slow.delay = Duration::from_secs(30);
    let server = scripted(vec![slow]).await;
    let c = wire.classifier(&server.base, Duration::from_millis(300));
    let start = Instant::now();
    let got = c.classify(&sample_input()).await;
    let elapsed = start.elapsed();
    match got {
        Err(ClassifyError::Transient(m)) => assert!(m.contains("no answer"), "{m}"),
        other => panic!("expected Transient, got {other:?}"),
    }
    // 3 attempts × 300 ms + 2 short backoffs.
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(900), "took {elapsed:?}");
    assert_eq!(server.count(), 3, "timeouts are retried");
}

macro_rules! provider_tests {
    ($($name:ident => $wire:expr;)*) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test]
                async fn success() { super::success($wire).await }
                #[tokio::test]
                async fn none_fits() { super::none_fits($wire).await }
                #[tokio::test]
                async fn unknown_name_dropped() { super::unknown_name_dropped($wire).await }
                #[tokio::test]
                async fn retried_after_503() { super::retried_after_503($wire).await }
                #[tokio::test]
                async fn bad_request_not_retried() { super::bad_request_not_retried($wire).await }
                #[tokio::test]
                async fn timeout_is_transient_and_bounded() {
                    super::timeout_is_transient_and_bounded($wire).await
                }
            }
        )*
    };
}

provider_tests! {
    openai => Wire::OpenAi;
    ollama => Wire::Ollama;
    anthropic => Wire::Anthropic;
}

#[tokio::test]
async fn openai_base_url_with_v1_and_429_retry_and_undecodable_answer() {
    let server = scripted(vec![
        Reply::new(
            429,
            json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        ),
        Wire::OpenAi.ok(json!("I think this is about taxes.")),
    ])
    .await;
    let c = Wire::OpenAi.classifier(&format!("{}/v1/", server.base), Duration::from_secs(5));
    match c.classify(&sample_input()).await {
        Err(ClassifyError::Permanent(m)) => assert!(m.contains("not the requested JSON"), "{m}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "429 retried, undecodable answer not");
    assert!(requests.iter().all(|r| r.path == "/v1/chat/completions"));
}

#[tokio::test]
async fn anthropic_without_a_key_is_a_permanent_error_without_a_request() {
    let server = scripted(vec![Wire::Anthropic.ok(json!({"topics": []}))]).await;
    let c = Anthropic::new(ProviderConfig {
        base_url: server.base.clone(),
        model: MODEL.into(),
        api_key: None,
        timeout: Duration::from_secs(5),
        retry: RetryPolicy::default(),
    });
    assert!(matches!(
        c.classify(&sample_input()).await,
        Err(ClassifyError::Permanent(_))
    ));
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn new_topics_only_when_allowed_and_capped() {
    let answer = json!({"topics": [
        {"name": "Pets", "confidence": 0.9},
        {"name": "Garden", "confidence": 0.8},
        {"name": "Taxes", "confidence": 0.4}
    ]});
    let server = scripted(vec![Wire::Ollama.ok(answer)]).await;
    let c = Wire::Ollama.classifier(&server.base, Duration::from_secs(5));
    let mut input = sample_input();
    let got = c.classify(&input).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].pick, Pick::Existing(Uuid::from_u128(1)));

    input.allow_new_topics = true;
    let got = c.classify(&input).await.unwrap();
    let picks: Vec<Pick> = got.iter().map(|s| s.pick.clone()).collect();
    assert_eq!(
        picks,
        vec![Pick::New("Pets".into()), Pick::Existing(Uuid::from_u128(1))],
        "at most one new topic per document"
    );
    let requests = server.requests();
    // With new topics allowed the schema no longer restricts names, and the prompt says so.
    let schema_name =
        &requests[1].body["format"]["properties"]["topics"]["items"]["properties"]["name"];
    assert!(schema_name.get("enum").is_none());
    assert!(
        requests[1].body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("new topic")
    );
}

// ---------------------------------------------------------------------------------------
// Through `classify_document`, with the database.

async fn app_with_openai(server: &FakeHttp) -> TestApp {
    let base = server.base.clone();
    TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__AI__OPENAI__BASE_URL".into(), base);
        env.insert("DOCUVAULT__AI__OPENAI__API_KEY".into(), "server-key".into());
        env.insert("DOCUVAULT__AI__RETRY_BASE_DELAY_MS".into(), "10".into());
        env.insert("DOCUVAULT__AI__REQUEST_TIMEOUT_SECS".into(), "5".into());
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

async fn insert_doc(
    app: &TestApp,
    s: &Session,
    filename: &str,
    text: &str,
    opt_out: bool,
) -> documents::Model {
    let user_id = Uuid::parse_str(&s.user_id).unwrap();
    let mut row = common::document_row(user_id);
    row.filename = Set(filename.into());
    row.content_type = Set("text/plain".into());
    row.size_bytes = Set(text.len() as i64);
    row.status = Set("processing".parse().unwrap());
    row.attempts = Set(1);
    row.ai_opt_out = Set(opt_out);
    let doc = row.insert(&app.state.db).await.unwrap();
    common::set_text(app, doc.id, text).await;
    doc
}

async fn file_by_hand(app: &TestApp, doc: Uuid, topic: Uuid) {
    document_topics::ActiveModel {
        document_id: Set(doc),
        topic_id: Set(topic),
        source: Set("user".parse().unwrap()),
        confidence: Set(None),
        created_at: Set(docuvault::time::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn classify(app: &TestApp, doc: &documents::Model) -> Outcome {
    let text = docuvault::documents::texts::get(&app.state.db, doc.id)
        .await
        .unwrap()
        .unwrap()
        .body;
    classify_text(app, doc, &text).await
}

/// Classifies `doc` as if its text were `text`, for its owner as stored now.
async fn classify_text(app: &TestApp, doc: &documents::Model, text: &str) -> Outcome {
    let owner = users::Entity::find_by_id(doc.user_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    classify::classify_document(&app.state, &owner, doc, text)
        .await
        .unwrap()
}

fn picked(o: &Outcome) -> Vec<Uuid> {
    o.suggestions
        .iter()
        .map(|s| match &s.pick {
            Pick::Existing(id) => *id,
            Pick::New(n) => panic!("unexpected new topic {n}"),
        })
        .collect()
}

const TAX_TEXT: &str = "Notice of assessment for income tax 2025. The tax office has \
    reviewed your tax return. Taxable income 48,200 EUR; income tax 9,120 EUR; the tax \
    refund of 312.40 EUR will be transferred to your account.";

#[tokio::test]
async fn builtin_zero_shot_picks_the_obvious_topic_and_none_for_unrelated_text() {
    let app = TestApp::spawn().await;
    let s = app.register("alice").await;
    let taxes = create_topic(
        &app,
        &s,
        "Taxes",
        Some("Tax returns, tax office letters, assessments"),
    )
    .await;
    let health = create_topic(
        &app,
        &s,
        "Health",
        Some("Doctors, hospitals, medical bills, prescriptions"),
    )
    .await;
    create_topic(
        &app,
        &s,
        "Car",
        Some("Vehicle insurance, repairs, registration"),
    )
    .await;

    let doc = insert_doc(&app, &s, "scan-0001.pdf", TAX_TEXT, false).await;
    let out = classify(&app, &doc).await;
    assert_eq!(out.provider, "builtin");
    assert_eq!(out.model, classify::BUILTIN_MODEL);
    assert_eq!(out.prompt_version, classify::BUILTIN_VERSION);
    assert_eq!(picked(&out), vec![taxes], "{out:?}");
    assert!(out.suggestions[0].confidence > 0.0 && out.suggestions[0].confidence <= 1.0);

    let doc = insert_doc(
        &app,
        &s,
        "letter.pdf",
        "Discharge letter from the cardiology ward of the city hospital: the doctor \
         prescribes medication; the medical bill follows separately.",
        false,
    )
    .await;
    assert_eq!(picked(&classify(&app, &doc).await), vec![health]);

    let doc = insert_doc(
        &app,
        &s,
        "poem.txt",
        "The quick brown fox jumps over the lazy dog while swallows circle above the old \
         barn and the river murmurs softly under the willow trees.",
        false,
    )
    .await;
    let out = classify(&app, &doc).await;
    assert!(out.suggestions.is_empty(), "{out:?}");
    assert_eq!(out.reason, None, "it was classified, with no match");
}

const SOLAR: &[&str] = &[
    "Quote for the photovoltaic installation: 24 solar modules, 9.6 kWp, hybrid inverter \
     and battery storage of 10 kWh, mounting on the south roof.",
    "Grid connection request for the photovoltaic system: inverter data sheet, module \
     layout on the roof, feed-in meter.",
    "Invoice: solar modules delivered, inverter installed, battery storage commissioned. \
     Roof mounting rails and cabling included.",
    "Yield report for the photovoltaic system in June: 1,240 kWh produced by the solar \
     modules, inverter efficiency 97 percent, battery cycles 28.",
    "Maintenance visit: the installer cleaned the solar modules on the roof and updated \
     the inverter firmware; battery storage checked.",
];

#[tokio::test]
async fn builtin_learns_a_topic_from_hand_filed_documents() {
    let app = TestApp::spawn().await;
    let s = app.register("bob").await;
    // The name says nothing about the content.
    let bluebird = create_topic(&app, &s, "Project Bluebird", None).await;
    let taxes = create_topic(&app, &s, "Taxes", Some("Tax returns, tax office letters")).await;
    create_topic(
        &app,
        &s,
        "Health",
        Some("Doctors, hospitals, medical bills"),
    )
    .await;

    let new_doc = insert_doc(
        &app,
        &s,
        "offer-2.pdf",
        "Second offer for the photovoltaic system: 20 solar modules, a smaller inverter and \
         no battery storage; roof mounting as in the first quote.",
        false,
    )
    .await;
    let before = classify(&app, &new_doc).await;
    assert!(!picked(&before).contains(&bluebird), "{before:?}");

    for (i, text) in SOLAR.iter().enumerate() {
        let d = insert_doc(&app, &s, &format!("pv-{i}.pdf"), text, false).await;
        file_by_hand(&app, d.id, bluebird).await;
    }
    let t = insert_doc(&app, &s, "tax.pdf", TAX_TEXT, false).await;
    file_by_hand(&app, t.id, taxes).await;
    // AI-filed links teach nothing.
    let ai_doc = insert_doc(&app, &s, "x.pdf", "Tax office tax return assessment", false).await;
    document_topics::ActiveModel {
        document_id: Set(ai_doc.id),
        topic_id: Set(bluebird),
        source: Set("ai".parse().unwrap()),
        confidence: Set(Some(0.9)),
        created_at: Set(docuvault::time::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();

    let after = classify(&app, &new_doc).await;
    assert_eq!(picked(&after), vec![bluebird], "{after:?}");
    // Still files tax documents under Taxes.
    let tax_doc = insert_doc(&app, &s, "tax-2.pdf", TAX_TEXT, false).await;
    assert_eq!(picked(&classify(&app, &tax_doc).await), vec![taxes]);

    // Another user's hand-filed documents teach this user nothing.
    let eve = app.register("eve").await;
    let eve_topic = create_topic(&app, &eve, "Project Bluebird", None).await;
    let eve_doc = insert_doc(&app, &eve, "offer.pdf", SOLAR[0], false).await;
    let out = classify(&app, &eve_doc).await;
    assert!(!picked(&out).contains(&eve_topic), "{out:?}");
}

#[tokio::test]
async fn builtin_stays_fast_with_thousands_of_labelled_documents() {
    let app = TestApp::spawn().await;
    let s = app.register("carol").await;
    let mut topics = Vec::new();
    for i in 0..10 {
        topics.push(create_topic(&app, &s, &format!("Topic {i}"), None).await);
    }
    let user_id = Uuid::parse_str(&s.user_id).unwrap();
    let now = docuvault::time::now();
    let body: String = (0..2000).map(|i| format!("word{} ", i % 997)).collect();
    let mut docs = Vec::new();
    let mut texts = Vec::new();
    let mut links = Vec::new();
    for i in 0..3000usize {
        let mut row = common::document_row(user_id);
        let id = *row.id.as_ref();
        row.filename = Set(format!("d{i}.txt"));
        row.content_type = Set("text/plain".into());
        row.size_bytes = Set(1);
        row.status = Set("classified".parse().unwrap());
        row.attempts = Set(1);
        docs.push(row);
        texts.push(document_texts::ActiveModel {
            document_id: Set(id),
            body: Set(format!("topic{} {body}", i % 10)),
            pages: Set(None),
        });
        links.push(document_topics::ActiveModel {
            document_id: Set(id),
            topic_id: Set(topics[i % 10]),
            source: Set("user".parse().unwrap()),
            confidence: Set(None),
            created_at: Set(now),
        });
    }
    for chunk in docs.chunks(200) {
        documents::Entity::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    for chunk in texts.chunks(200) {
        document_texts::Entity::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    for chunk in links.chunks(500) {
        document_topics::Entity::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let doc = insert_doc(&app, &s, "new.txt", &format!("topic3 {body}"), false).await;
    let start = Instant::now();
    let out = classify(&app, &doc).await;
    let elapsed = start.elapsed();
    assert_eq!(out.provider, "builtin");
    eprintln!("one classification with 3000 labelled documents: {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(4),
        "one classification took {elapsed:?}"
    );
}

#[tokio::test]
async fn opt_out_and_near_empty_documents_never_reach_the_network() {
    let server = scripted(vec![
        Wire::OpenAi.ok(json!({"topics": [{"name": "Taxes", "confidence": 0.9}]})),
    ])
    .await;
    let app = app_with_openai(&server).await;
    let s = app.register("dora").await;
    let taxes = create_topic(&app, &s, "Taxes", Some("Tax returns, tax office letters")).await;
    let res = patch_me(
        &app,
        &s,
        json!({"ai_provider": "openai", "ai_model": "my-model"}),
    )
    .await;
    assert_eq!(res.status(), 200);

    let private = insert_doc(&app, &s, "private.pdf", TAX_TEXT, true).await;
    let out = classify(&app, &private).await;
    assert_eq!(out.provider, "builtin");
    assert_eq!(picked(&out), vec![taxes], "classified offline");
    assert_eq!(server.count(), 0, "an opted-out document was sent out");

    for text in ["", "   \n\t ", "... -- !! 12 34", "Scan 1"] {
        let empty = insert_doc(&app, &s, "empty.pdf", text, false).await;
        let out = classify_text(&app, &empty, text).await;
        assert!(out.suggestions.is_empty());
        assert!(
            out.reason.as_deref().unwrap().contains("too short"),
            "{out:?}"
        );
        assert_eq!(out.provider, "openai");
    }
    assert_eq!(server.count(), 0, "near-empty text was sent out");

    // Control: the same user's ordinary document does go to the provider.
    let doc = insert_doc(&app, &s, "tax.pdf", TAX_TEXT, false).await;
    let out = classify(&app, &doc).await;
    assert_eq!(out.provider, "openai");
    assert_eq!(out.model, "my-model");
    assert_eq!(out.prompt_version, classify::PROMPT_VERSION);
    assert_eq!(picked(&out), vec![taxes]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["authorization"], "Bearer server-key");
    assert_eq!(requests[0].body["model"], "my-model");
}

#[tokio::test]
async fn only_the_first_max_input_chars_are_sent() {
    let server = scripted(vec![Wire::OpenAi.ok(json!({"topics": []}))]).await;
    let base = server.base.clone();
    let app = TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__AI__OPENAI__BASE_URL".into(), base);
        env.insert("DOCUVAULT__AI__DEFAULT_PROVIDER".into(), "openai".into());
        env.insert("DOCUVAULT__AI__MAX_INPUT_CHARS".into(), "100".into());
    })
    .await;
    let s = app.register("erin").await;
    create_topic(&app, &s, "Taxes", None).await;
    let text = format!("{} SECRET-TAIL-MARKER", "tax ".repeat(100));
    let doc = insert_doc(&app, &s, "long.txt", &text, false).await;
    let out = classify(&app, &doc).await;
    assert_eq!(out.provider, "openai");
    assert_eq!(
        out.model,
        docuvault::classify::providers::openai::DEFAULT_MODEL
    );
    let content = server.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.contains("long.txt"));
    assert!(content.contains(&"tax ".repeat(25)));
    assert!(!content.contains(&"tax ".repeat(26)));
    assert!(!content.contains("SECRET-TAIL-MARKER"));
}

#[tokio::test]
async fn user_api_key_is_write_only_encrypted_and_overrides_the_server_key() {
    let server = scripted(vec![Wire::OpenAi.ok(json!({"topics": []}))]).await;
    let app = app_with_openai(&server).await;
    let s = app.register("frank").await;
    create_topic(&app, &s, "Taxes", None).await;

    let me: Value = app
        .get_auth("/api/auth/me", &s.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["ai_api_key_set"], false);
    assert_eq!(me["ai_allow_new_topics"], false);
    assert!(me.get("ai_api_key").is_none());

    let secret = "sk-user-very-secret-4242";
    let res = patch_me(
        &app,
        &s,
        json!({"ai_provider": "openai", "ai_api_key": secret, "ai_allow_new_topics": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains(secret));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["ai_api_key_set"], true);
    assert_eq!(body["ai_allow_new_topics"], true);

    let res = app.get_auth("/api/auth/me", &s.access).await;
    let text = res.text().await.unwrap();
    assert!(!text.contains(secret));
    let me: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(me["ai_api_key_set"], true);

    let user_id = Uuid::parse_str(&s.user_id).unwrap();
    let row = users::Entity::find_by_id(user_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.ai_api_key_enc.clone().unwrap();
    assert!(!sealed.contains(secret) && sealed != secret);
    assert!(row.ai_allow_new_topics);

    let doc = insert_doc(&app, &s, "tax.pdf", TAX_TEXT, false).await;
    classify(&app, &doc).await;
    assert_eq!(
        server.requests()[0].headers["authorization"],
        format!("Bearer {secret}"),
        "the user's key overrides the server's"
    );

    // Invalid keys are refused; null removes the key.
    for bad in [json!(""), json!("a\nb"), json!("x".repeat(1001)), json!(5)] {
        let res = patch_me(&app, &s, json!({"ai_api_key": bad})).await;
        assert!(
            res.status() == 422 || res.status() == 400,
            "{bad}: {}",
            res.status()
        );
    }
    let res = patch_me(&app, &s, json!({"ai_api_key": null})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ai_api_key_set"], false);
    let row = users::Entity::find_by_id(user_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.ai_api_key_enc.is_none());
    classify(&app, &doc).await;
    assert_eq!(
        server.requests()[1].headers["authorization"],
        "Bearer server-key"
    );
}

#[tokio::test]
async fn new_topic_proposals_follow_the_users_setting() {
    let server = scripted(vec![Wire::OpenAi.ok(json!({"topics": [
        {"name": "Solar Power", "confidence": 0.9},
        {"name": "Home", "confidence": 0.8},
        {"name": "Garden", "confidence": 0.7}
    ]}))])
    .await;
    let app = app_with_openai(&server).await;
    let s = app.register("gina").await;
    let home = create_topic(&app, &s, "home", None).await;
    let res = patch_me(&app, &s, json!({"ai_provider": "openai"})).await;
    assert_eq!(res.status(), 200);
    let doc = insert_doc(&app, &s, "pv.pdf", SOLAR[0], false).await;

    // Off by default: only the existing topic survives.
    assert_eq!(picked(&classify(&app, &doc).await), vec![home]);

    let res = patch_me(&app, &s, json!({"ai_allow_new_topics": true})).await;
    assert_eq!(res.status(), 200);
    let out = classify(&app, &doc).await;
    let picks: Vec<Pick> = out.suggestions.iter().map(|s| s.pick.clone()).collect();
    assert_eq!(
        picks,
        vec![Pick::New("Solar Power".into()), Pick::Existing(home)],
        "one new topic per document (ai.max_new_topics_per_document = 1)"
    );
}

#[test]
fn ai_settings_are_validated_with_the_key_named() {
    use docuvault::settings::Settings;
    let load = |pairs: &[(&str, &str)]| {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(None, &env)
    };
    let ok = load(&[
        ("DEFAULT_AI_PROVIDER", "ollama"),
        ("DEFAULT_AI_MODEL", "qwen2.5:7b"),
        ("DOCUVAULT__AI__OLLAMA__BASE_URL", "http://gpu-box:11434"),
        ("DOCUVAULT__AI__OPENAI__API_KEY", "sk-server"),
    ])
    .unwrap();
    assert_eq!(ok.ai.default_provider, "ollama");
    assert_eq!(ok.ai.default_model, "qwen2.5:7b");
    assert_eq!(ok.ai.ollama.base_url, "http://gpu-box:11434");
    assert!(
        !format!("{:?}", ok.ai).contains("sk-server"),
        "keys never print"
    );

    let err = load(&[("DEFAULT_AI_PROVIDER", "gpt")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ai.default_provider (DEFAULT_AI_PROVIDER)"),
        "{err}"
    );
    let err = load(&[("DOCUVAULT__AI__OPENAI__BASE_URL", "ftp://x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("ai.openai.base_url"), "{err}");
    for key in [
        "DOCUVAULT__AI__REQUEST_TIMEOUT_SECS",
        "DOCUVAULT__AI__RETRY_ATTEMPTS",
    ] {
        let err = load(&[(key, "0")]).unwrap_err().to_string();
        assert!(err.contains("must be > 0"), "{key}: {err}");
    }
}
