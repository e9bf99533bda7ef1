//! Why this topic (issue 18, item 4): the words behind each automatic topic, doubtful
//! results offered as suggestions instead of filed, and the owner's answers
//! (`POST /api/documents/{id}/topics/{topic_id}/accept` / `…/reject`), which teach the
//! builtin classifier; a rejected topic never comes back for its document (re-classify,
//! bulk re-classify, a hand edit), model providers' doubts below `ai.suggest_below`.

use std::collections::HashMap;

use docuvault::classify::builtin::BuiltinModel;
use docuvault::classify::{Pick, TopicOption};
use docuvault::entities::{audit_log, document_topics, topic_evidence, topic_rejections};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::fake_http::{FakeHttp, Reply};
use crate::common::{self, Session, TestApp, body, create_topic};

const TAX_TEXT: &str = "Notice of assessment for income tax 2025. The tax office has \
    reviewed your tax return. Taxable income 48,200 EUR; income tax 9,120 EUR; the tax \
    refund of 312.40 EUR will be transferred to your account.";

/// Alice's three topics (zero-shot: names and descriptions), by name.
struct Vault {
    s: Session,
    taxes: Uuid,
    health: Uuid,
    options: Vec<TopicOption>,
}

async fn vault(app: &TestApp, handle: &str) -> Vault {
    let s = app.register(handle).await;
    let described = [
        ("Car", "Vehicle insurance, repairs, registration"),
        ("Health", "Doctors, hospitals, medical bills, prescriptions"),
        ("Taxes", "Tax returns, tax office letters, assessments"),
    ];
    let mut ids = HashMap::new();
    let mut options = Vec::new();
    for (name, description) in described {
        let id = create_topic(app, &s, name, Some(description)).await;
        ids.insert(name, id);
        options.push(TopicOption {
            id,
            name: name.into(),
            description: Some(description.into()),
        });
    }
    Vault {
        s,
        taxes: ids["Taxes"],
        health: ids["Health"],
        options,
    }
}

/// Uploads `text` as a text file and waits until it is processed; its view.
async fn upload_text(app: &TestApp, s: &Session, name: &str, text: &str) -> (String, Value) {
    let id = app
        .upload(s, name, "text/plain", text.as_bytes().to_vec())
        .await;
    let view = common::wait_processed(app, s, &id).await;
    (id, view)
}

async fn answer(app: &TestApp, s: &Session, doc: &str, topic: Uuid, verb: &str) -> (u16, Value) {
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/topics/{topic}/{verb}"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    let status = res.status().as_u16();
    (status, body(res).await)
}

async fn reclassify(app: &TestApp, s: &Session, doc: &str) -> Value {
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/classify"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    common::wait_processed(app, s, doc).await
}

/// The entry of `topic` in a view's `topics`, if any.
fn topic_entry(view: &Value, topic: Uuid) -> Option<&Value> {
    view["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == topic.to_string())
}

/// The entry of `topic` in a view's `suggested_topics`, if any.
fn suggestion_entry(view: &Value, topic: Uuid) -> Option<&Value> {
    view["suggested_topics"]
        .as_array()
        .unwrap_or_else(|| panic!("no suggested_topics in {view}"))
        .iter()
        .find(|t| t["topic_id"] == topic.to_string())
}

fn terms(evidence: &Value) -> Vec<String> {
    evidence
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["term"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_count(app: &TestApp, event: &str, doc: &str) -> u64 {
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq(event))
        .filter(audit_log::Column::ResourceId.eq(doc))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn rejected(app: &TestApp, doc: &str, topic: Uuid) -> bool {
    topic_rejections::Entity::find_by_id((doc.parse::<Uuid>().unwrap(), topic))
        .one(&app.state.db)
        .await
        .unwrap()
        .is_some()
}

/// A text about taxes the builtin classifier (zero-shot, over `options`) doubts: a tax
/// letter that also speaks of the other topics' things, so Taxes stands above the others'
/// mean by less than its bar but by more than half of it. Found with the model itself
/// (so it follows the model), the candidate whose margin sits mid-way in that range, so
/// the text's handling on the way in cannot tip it.
fn doubtful_tax_text(options: &[TopicOption], filename: &str, taxes: Uuid) -> String {
    use docuvault::classify::builtin::{MIN_RELATIVE_SCORE, SUGGEST_FRACTION};
    let model = BuiltinModel::train(options, &[]);
    let text_with = |others: usize, filler: usize| {
        let mut text = String::from("A letter from the tax office about the tax return.");
        for i in 0..others {
            text.push_str(
                [
                    " The doctor at the hospital",
                    " sent a prescription;",
                    " the vehicle needs repairs",
                    " and its registration.",
                ][i % 4],
            );
        }
        for i in 0..filler {
            text.push_str(
                [
                    " Greetings",
                    " from",
                    " the",
                    " garden",
                    " and",
                    " the",
                    " river.",
                ][i % 7],
            );
        }
        text
    };
    let target = (1.0 + SUGGEST_FRACTION) / 2.0 * MIN_RELATIVE_SCORE;
    let mut best: Option<(f64, String)> = None;
    for others in 0..40 {
        for filler in [0, 7, 21, 49] {
            let text = text_with(others, filler);
            let input = format!("{filename}\n{text}");
            let judgement = model.judge(&input);
            let doubted = judgement.filed.is_empty()
                && judgement
                    .doubtful
                    .iter()
                    .any(|s| s.pick == Pick::Existing(taxes));
            if !doubted {
                continue;
            }
            let scores = model.scores(&input);
            let own = scores.iter().find(|(id, _)| *id == taxes).unwrap().1;
            let rest: f64 = scores.iter().map(|(_, s)| s).sum::<f64>() - own;
            let margin = own - rest / (scores.len() - 1) as f64;
            let off = (margin - target).abs();
            if best.as_ref().is_none_or(|(o, _)| off < *o) {
                best = Some((off, text));
            }
        }
    }
    best.expect("no text the model doubts").1
}

#[tokio::test]
async fn builtin_topics_show_the_words_that_weighed_most() {
    let app = TestApp::spawn().await;
    let v = vault(&app, "alice").await;
    let (doc, view) = upload_text(&app, &v.s, "scan-0001.txt", TAX_TEXT).await;
    assert_eq!(view["status"], "classified", "{view}");
    let taxes = topic_entry(&view, v.taxes).unwrap_or_else(|| panic!("not filed: {view}"));
    assert_eq!(taxes["source"], "ai");
    let words = terms(&taxes["evidence"]);
    assert!((1..=5).contains(&words.len()), "{words:?}");
    assert!(words.contains(&"tax".to_owned()), "{words:?}");
    let weights: Vec<f64> = taxes["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["weight"].as_f64().unwrap())
        .collect();
    assert!(weights.iter().all(|w| *w > 0.0), "{weights:?}");
    assert!(weights.windows(2).all(|p| p[0] >= p[1]), "{weights:?}");
    // Stored when it was filed: the view reads them, no retraining.
    let stored = topic_evidence::Entity::find_by_id((doc.parse::<Uuid>().unwrap(), v.taxes))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("evidence stored with the link");
    assert_eq!(stored.terms, taxes["evidence"]);
    assert_eq!(view["suggested_topics"], json!([]));

    // Lists carry neither words nor suggestions.
    let list = body(app.get_auth("/api/documents", &v.s.access).await).await;
    let item = &list["items"][0];
    assert_eq!(item["id"], doc.as_str());
    assert!(item["topics"][0].get("evidence").is_none(), "{item}");
    assert!(item.get("suggested_topics").is_none(), "{item}");

    // Someone it is shared with sees the words, not the owner's suggestions.
    let bob = app.register("bob").await;
    let share = app
        .post_json(
            &format!("/api/documents/{doc}/shares"),
            Some(&v.s.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(share.status(), 201);
    let shared = common::document(&app, &bob, &doc).await;
    assert_eq!(
        topic_entry(&shared, v.taxes).unwrap()["evidence"],
        taxes["evidence"]
    );
    assert!(shared.get("suggested_topics").is_none(), "{shared}");

    // Filed by hand, a topic has no words.
    let res = app
        .patch_auth(
            &format!("/api/documents/{doc}"),
            &v.s.access,
            &json!({"topics": [v.taxes]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let view = body(res).await;
    let taxes = topic_entry(&view, v.taxes).unwrap();
    assert_eq!(taxes["source"], "user");
    assert!(taxes.get("evidence").is_none(), "{taxes}");
}

#[tokio::test]
async fn a_doubtful_topic_is_a_suggestion_and_accepting_it_teaches() {
    let app = TestApp::spawn().await;
    let v = vault(&app, "carol").await;
    let text = doubtful_tax_text(&v.options, "letter-1.txt", v.taxes);
    let (doc, view) = upload_text(&app, &v.s, "letter-1.txt", &text).await;
    // Not filed: offered.
    assert_eq!(view["status"], "unclassified", "{view}");
    assert_eq!(view["topics"], json!([]));
    let suggestion =
        suggestion_entry(&view, v.taxes).unwrap_or_else(|| panic!("not suggested: {view}"));
    assert_eq!(suggestion["name"], "Taxes");
    let confidence = suggestion["confidence"].as_f64().unwrap();
    assert!(confidence > 0.0 && confidence < 0.5, "{suggestion}");
    assert!(
        terms(&suggestion["evidence"]).contains(&"tax".to_owned()),
        "{suggestion}"
    );
    assert_eq!(
        document_topics::Entity::find()
            .filter(document_topics::Column::DocumentId.eq(doc.parse::<Uuid>().unwrap()))
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );

    // Another document like it, before any answer: a suggestion too.
    let (_, before) = upload_text(&app, &v.s, "letter-2.txt", &text).await;
    assert!(topic_entry(&before, v.taxes).is_none(), "{before}");
    assert!(suggestion_entry(&before, v.taxes).is_some(), "{before}");

    // Accept: filed by hand, the suggestion gone, the status follows.
    let (status, view) = answer(&app, &v.s, &doc, v.taxes, "accept").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "classified");
    let filed = topic_entry(&view, v.taxes).unwrap();
    assert_eq!(filed["source"], "user");
    assert_eq!(filed["confidence"], Value::Null);
    assert_eq!(view["suggested_topics"], json!([]));
    assert_eq!(audit_count(&app, "document_topic_accepted", &doc).await, 1);
    // Accepting again changes nothing.
    let (status, again) = answer(&app, &v.s, &doc, v.taxes, "accept").await;
    assert_eq!(status, 200);
    assert_eq!(again["topics"], view["topics"]);
    assert_eq!(audit_count(&app, "document_topic_accepted", &doc).await, 1);

    // The next document like it is filed there (the accepted one is an example now).
    let (_, next) = upload_text(&app, &v.s, "letter-3.txt", &text).await;
    let filed = topic_entry(&next, v.taxes).unwrap_or_else(|| panic!("not learned: {next}"));
    assert_eq!(filed["source"], "ai");
    assert_eq!(next["status"], "classified");

    // Re-classifying keeps the owner's link, and offers nothing it is filed under.
    let view = reclassify(&app, &v.s, &doc).await;
    assert_eq!(topic_entry(&view, v.taxes).unwrap()["source"], "user");
    assert!(suggestion_entry(&view, v.taxes).is_none(), "{view}");
}

#[tokio::test]
async fn a_rejected_topic_never_comes_back_and_lowers_it_for_documents_like_it() {
    let app = TestApp::spawn().await;
    let v = vault(&app, "dora").await;
    let (doc, view) = upload_text(&app, &v.s, "scan-0001.txt", TAX_TEXT).await;
    let before = topic_entry(&view, v.taxes).unwrap_or_else(|| panic!("not filed: {view}"));
    assert_eq!(before["source"], "ai");
    let confidence_before = before["confidence"].as_f64().unwrap();

    let (status, view) = answer(&app, &v.s, &doc, v.taxes, "reject").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["topics"], json!([]));
    assert_eq!(view["status"], "unclassified");
    assert!(suggestion_entry(&view, v.taxes).is_none());
    assert!(rejected(&app, &doc, v.taxes).await);
    assert_eq!(audit_count(&app, "document_topic_rejected", &doc).await, 1);
    // Rejecting again changes nothing.
    let (status, _) = answer(&app, &v.s, &doc, v.taxes, "reject").await;
    assert_eq!(status, 200);
    assert_eq!(audit_count(&app, "document_topic_rejected", &doc).await, 1);

    // Re-classify, alone and in bulk: never filed there again, nor offered.
    let view = reclassify(&app, &v.s, &doc).await;
    assert!(topic_entry(&view, v.taxes).is_none(), "{view}");
    assert!(suggestion_entry(&view, v.taxes).is_none(), "{view}");
    let res = app
        .post_json(
            "/api/documents/bulk",
            Some(&v.s.access),
            &json!({"ids": [doc], "action": "reclassify"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let view = common::wait_processed(&app, &v.s, &doc).await;
    assert!(topic_entry(&view, v.taxes).is_none(), "{view}");
    assert!(suggestion_entry(&view, v.taxes).is_none(), "{view}");

    // The account's export names it.
    let files = crate::account_export::unzip(&crate::account_export::export(&app, &v.s).await);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let entry = manifest["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == doc.as_str())
        .unwrap();
    assert_eq!(entry["rejected_topics"], json!([v.taxes]), "{entry}");

    // The classifier learned: the same letter again scores lower for Taxes.
    let (_, like_it) = upload_text(&app, &v.s, "scan-0002.txt", TAX_TEXT).await;
    let confidence_after = topic_entry(&like_it, v.taxes)
        .or_else(|| suggestion_entry(&like_it, v.taxes))
        .map_or(0.0, |t| t["confidence"].as_f64().unwrap());
    assert!(
        confidence_after < confidence_before,
        "{confidence_before} → {confidence_after}: {like_it}"
    );

    // Filing it by hand lifts the rejection.
    let res = app
        .patch_auth(
            &format!("/api/documents/{doc}"),
            &v.s.access,
            &json!({"topics": [v.taxes]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(!rejected(&app, &doc, v.taxes).await);
}

#[tokio::test]
async fn taking_an_automatic_topic_off_by_hand_is_a_rejection() {
    let app = TestApp::spawn().await;
    let v = vault(&app, "emil").await;
    // Both filed before any rejection teaches the classifier otherwise.
    let (doc, view) = upload_text(&app, &v.s, "scan-0001.txt", TAX_TEXT).await;
    assert_eq!(topic_entry(&view, v.taxes).unwrap()["source"], "ai");
    let (other, view) = upload_text(&app, &v.s, "scan-0002.txt", TAX_TEXT).await;
    assert_eq!(topic_entry(&view, v.taxes).unwrap()["source"], "ai");
    // PATCH with the automatic topic left out.
    let res = app
        .patch_auth(
            &format!("/api/documents/{doc}"),
            &v.s.access,
            &json!({"topics": [v.health]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(rejected(&app, &doc, v.taxes).await);
    assert!(!rejected(&app, &doc, v.health).await);
    let view = reclassify(&app, &v.s, &doc).await;
    assert!(topic_entry(&view, v.taxes).is_none(), "{view}");
    assert!(suggestion_entry(&view, v.taxes).is_none(), "{view}");
    assert_eq!(topic_entry(&view, v.health).unwrap()["source"], "user");

    // The bulk edit's "remove topics" on an automatic topic, too.
    let res = app
        .post_json(
            "/api/documents/bulk",
            Some(&v.s.access),
            &json!({"ids": [other], "action": "remove_topics", "topic_ids": [v.taxes]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(rejected(&app, &other, v.taxes).await);
    // And "add topics" lifts it.
    let res = app
        .post_json(
            "/api/documents/bulk",
            Some(&v.s.access),
            &json!({"ids": [other], "action": "add_topics", "topic_ids": [v.taxes]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(!rejected(&app, &other, v.taxes).await);
}

#[tokio::test]
async fn answers_are_404_for_other_accounts_and_for_topics_not_offered() {
    let app = TestApp::spawn().await;
    let v = vault(&app, "fritz").await;
    let (doc, view) = upload_text(&app, &v.s, "scan-0001.txt", TAX_TEXT).await;
    assert!(topic_entry(&view, v.taxes).is_some(), "{view}");
    let mallory = app.register("mallory").await;
    for verb in ["accept", "reject"] {
        let (status, err) = answer(&app, &mallory, &doc, v.taxes, verb).await;
        assert_eq!(status, 404, "{verb}: {err}");
        assert_eq!(err["code"], "not_found");
    }
    // Shared with mallory: still not hers to change.
    let share = app
        .post_json(
            &format!("/api/documents/{doc}/shares"),
            Some(&v.s.access),
            &json!({"recipient": "mallory"}),
        )
        .await;
    assert_eq!(share.status(), 201);
    for verb in ["accept", "reject"] {
        let (status, _) = answer(&app, &mallory, &doc, v.taxes, verb).await;
        assert_eq!(status, 404, "{verb}");
        // A missing document answers the same.
        let (status, _) = answer(&app, &v.s, &Uuid::new_v4().to_string(), v.taxes, verb).await;
        assert_eq!(status, 404, "{verb}");
        // A topic that is neither suggested nor one of the document's.
        let (status, _) = answer(&app, &v.s, &doc, v.health, verb).await;
        assert_eq!(status, 404, "{verb} health");
        let (status, _) = answer(&app, &v.s, &doc, Uuid::new_v4(), verb).await;
        assert_eq!(status, 404, "{verb} unknown topic");
    }
    // Nothing changed for mallory's attempts.
    let view = common::document(&app, &v.s, &doc).await;
    assert_eq!(topic_entry(&view, v.taxes).unwrap()["source"], "ai");
    assert!(!rejected(&app, &doc, v.taxes).await);

    // A topic set by hand is not rejected here (PATCH takes it off).
    let res = app
        .patch_auth(
            &format!("/api/documents/{doc}"),
            &v.s.access,
            &json!({"topics": [v.health, v.taxes]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, _) = answer(&app, &v.s, &doc, v.health, "reject").await;
    assert_eq!(status, 404);
    // Administrators have no documents.
    let admin = app.admin("root").await;
    let (status, _) = answer(&app, &admin, &doc, v.taxes, "accept").await;
    assert_eq!(status, 403);
    // In the trash: restore it first.
    let res = app
        .delete_auth(&format!("/api/documents/{doc}"), &v.s.access)
        .await;
    assert_eq!(res.status(), 204);
    let (status, err) = answer(&app, &v.s, &doc, v.taxes, "accept").await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["code"], "document_trashed");
}

/// A fake OpenAI-compatible server whose every answer names these topics.
async fn openai_answering(topics: Value) -> FakeHttp {
    let content = json!({ "topics": topics }).to_string();
    FakeHttp::start(move |_| {
        Reply::new(
            200,
            json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_732_000_000,
                "model": "test-model",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop"
                }]
            }),
        )
    })
    .await
}

#[tokio::test]
async fn a_models_doubts_under_suggest_below_are_suggestions_without_words() {
    let server = openai_answering(json!([
        {"name": "Taxes", "confidence": 0.9},
        {"name": "Health", "confidence": 0.35},
        {"name": "Car", "confidence": 0.1}
    ]))
    .await;
    let base = server.base.clone();
    let app = TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__AI__OPENAI__BASE_URL".into(), base);
        env.insert("DOCUVAULT__AI__OPENAI__API_KEY".into(), "server-key".into());
    })
    .await;
    assert_eq!(app.settings.ai.suggest_below, 0.5, "the default");
    let v = vault(&app, "gina").await;
    let res = app
        .patch_auth(
            "/api/auth/me",
            &v.s.access,
            &json!({"ai_provider": "openai"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (doc, view) = upload_text(&app, &v.s, "letter.txt", TAX_TEXT).await;
    assert!(server.count() >= 1);
    let taxes = topic_entry(&view, v.taxes).unwrap_or_else(|| panic!("{view}"));
    assert_eq!(taxes["source"], "ai");
    assert_eq!(taxes["confidence"], 0.9);
    assert!(
        taxes.get("evidence").is_none(),
        "models give no words: {taxes}"
    );
    assert!(topic_entry(&view, v.health).is_none(), "{view}");
    let health = suggestion_entry(&view, v.health).unwrap_or_else(|| panic!("{view}"));
    assert_eq!(health["confidence"], 0.35);
    assert_eq!(health["evidence"], json!([]));
    // Under the model's own floor (0.2): nothing at all.
    assert_eq!(view["suggested_topics"].as_array().unwrap().len(), 1);

    // Rejected, the model's same answer is not offered again.
    let (status, view) = answer(&app, &v.s, &doc, v.health, "reject").await;
    assert_eq!(status, 200);
    assert_eq!(view["suggested_topics"], json!([]));
    let view = reclassify(&app, &v.s, &doc).await;
    assert!(suggestion_entry(&view, v.health).is_none(), "{view}");
    assert!(topic_entry(&view, v.taxes).is_some(), "{view}");
    // Rejecting the automatic topic the model keeps naming: gone for good as well.
    let (status, _) = answer(&app, &v.s, &doc, v.taxes, "reject").await;
    assert_eq!(status, 200);
    let view = reclassify(&app, &v.s, &doc).await;
    assert_eq!(view["topics"], json!([]), "{view}");
    assert_eq!(view["status"], "unclassified");
}

/// The fixture of the browser e2e's "why this topic" step (`frontend/e2e/why-this-topic.json`):
/// with its topics, the builtin classifier files the letter under one topic (with words)
/// and only doubts another (a suggestion). Checked with the model itself, so a change of
/// the classifier that would break the browser step fails here first.
#[test]
fn the_browser_steps_letter_is_filed_under_one_topic_and_suggests_another() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend/e2e/why-this-topic.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let options: Vec<TopicOption> = fixture["topics"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, t)| TopicOption {
            id: Uuid::from_u128(i as u128 + 1),
            name: t["name"].as_str().unwrap().into(),
            description: Some(t["description"].as_str().unwrap().into()),
        })
        .collect();
    let letter = &fixture["letter"];
    let id_of = |key: &str| {
        let name = letter[key].as_str().unwrap();
        options.iter().find(|t| t.name == name).unwrap().id
    };
    let model = BuiltinModel::train(&options, &[]);
    let input = format!(
        "{}\n{}",
        letter["filename"].as_str().unwrap(),
        letter["text"].as_str().unwrap()
    );
    let judgement = model.judge(&input);
    let scores = model.scores(&input);
    assert_eq!(
        judgement.filed.iter().map(|s| &s.pick).collect::<Vec<_>>(),
        vec![&Pick::Existing(id_of("filed"))],
        "{judgement:?} {scores:?}"
    );
    assert_eq!(
        judgement
            .doubtful
            .iter()
            .map(|s| &s.pick)
            .collect::<Vec<_>>(),
        vec![&Pick::Existing(id_of("suggested"))],
        "{judgement:?} {scores:?}"
    );
    assert!(!model.explain(&input, id_of("filed")).is_empty());
}
