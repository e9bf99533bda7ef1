//! Re-filing a whole vault (`/api/topics/refile`): which documents a run touches (not
//! those filed by hand, in the trash, in the pipeline, or another account's), what they
//! end as, the progress and its counts, one run per account at a time (409), cancel,
//! the classifier's choice (422 for model providers), a run taken over from an instance
//! that stopped, uploads processed first, and the exclusion of rejected topics.
//!
//! Documents are set up in the database as the pipeline leaves them (a text, a status,
//! `ai` links); a document "in processing" with a live lease holds a run back (the run
//! waits while the pipeline has work), which makes "while it runs" deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{self, Session, TestApp, body, create_topic, poll_until};
use docuvault::entities::{
    DocumentStatus, audit_log, document_texts, document_topics, documents, refile_runs,
};
use docuvault::refile::batch::{self, Decision};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

const TAX: &[&str] = &[
    "Notice of assessment for income tax 2025. The tax office has reviewed your tax return. \
     Taxable income 48,200 EUR; income tax 9,120 EUR; the tax refund of 312.40 EUR follows.",
    "Tax office reminder: your income tax return for 2024 is due. Please file the tax return \
     with the tax office; late tax returns cost a surcharge on the income tax.",
    "Income tax prepayment notice from the tax office: quarterly tax payments for 2026 are \
     set at 1,200 EUR; the tax assessment of last year was the basis.",
    "Corrected tax assessment: the tax office accepted the deductions in your tax return; the \
     income tax is lowered and the tax refund is transferred.",
];

const HEALTH: &[&str] = &[
    "Discharge letter from the cardiology ward of the city hospital: the doctor prescribes \
     medication; the medical bill for the hospital stay follows separately.",
    "Prescription from your doctor: take the medication twice a day; the pharmacy bills the \
     health insurance. Next appointment at the doctor's practice in two weeks.",
    "Hospital invoice for the outpatient treatment: the doctor's examination, the blood test \
     and the medical report; please pay the hospital bill within 30 days.",
];

const CAR: &str = "Invoice from the garage for the car repair: new brakes, an oil change and \
     two tyres; the vehicle passed its inspection. Mileage 84,000 km.";

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
    "Second offer for the photovoltaic system: 20 solar modules, a smaller inverter and \
     no battery storage; roof mounting as in the first quote.",
    "Warranty certificate of the inverter and the solar modules of the photovoltaic \
     system on the roof; battery storage warranty of ten years.",
];

fn user_id(s: &Session) -> Uuid {
    Uuid::parse_str(&s.user_id).unwrap()
}

/// What a document is set up as.
struct Seed<'a> {
    text: &'a str,
    status: DocumentStatus,
    ai_topics: &'a [Uuid],
    hand_topics: &'a [Uuid],
    trashed: bool,
}

impl<'a> Seed<'a> {
    fn new(text: &'a str, status: DocumentStatus) -> Self {
        Self {
            text,
            status,
            ai_topics: &[],
            hand_topics: &[],
            trashed: false,
        }
    }
}

/// Inserts a document of `s` as the pipeline leaves it; returns its id.
async fn seed(app: &TestApp, s: &Session, name: &str, seed: Seed<'_>) -> Uuid {
    let mut row = common::document_row(user_id(s));
    let id = *row.id.as_ref();
    row.filename = Set(name.into());
    row.content_type = Set("text/plain".into());
    row.size_bytes = Set(seed.text.len() as i64);
    row.status = Set(seed.status);
    row.attempts = Set(1);
    row.sha256 = Set(Some(format!("{:064x}", id.as_u128())));
    row.classified_by = Set(Some(
        json!({"provider": "builtin", "model": "tfidf-centroids", "prompt_version": "builtin-1"}),
    ));
    if seed.trashed {
        row.trashed_at = Set(Some(docuvault::time::now()));
    }
    row.insert(&app.state.db).await.unwrap();
    document_texts::ActiveModel {
        document_id: Set(id),
        body: Set(seed.text.into()),
        pages: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    for (topics, source, confidence) in [
        (seed.ai_topics, "ai", Some(0.7)),
        (seed.hand_topics, "user", None),
    ] {
        for topic in topics {
            document_topics::ActiveModel {
                document_id: Set(id),
                topic_id: Set(*topic),
                source: Set(source.parse().unwrap()),
                confidence: Set(confidence),
                created_at: Set(docuvault::time::now()),
            }
            .insert(&app.state.db)
            .await
            .unwrap();
        }
    }
    id
}

/// A document "being processed" under a live lease: while it is, a run waits.
async fn hold_pipeline(app: &TestApp, s: &Session) -> Uuid {
    let mut row = common::document_row(user_id(s));
    let id = *row.id.as_ref();
    row.status = Set(DocumentStatus::Processing);
    row.attempts = Set(1);
    row.lease_expires_at = Set(Some(docuvault::time::now() + chrono::Duration::minutes(10)));
    row.insert(&app.state.db).await.unwrap();
    id
}

/// Lets the pipeline go: the held document fails.
async fn release_pipeline(app: &TestApp, held: Uuid) {
    let mut row: documents::ActiveModel = documents::Entity::find_by_id(held)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.status = Set(DocumentStatus::Failed);
    row.lease_expires_at = Set(None);
    row.update(&app.state.db).await.unwrap();
}

/// `(topic, source)` links of a document, sorted.
async fn links(app: &TestApp, doc: Uuid) -> Vec<(Uuid, String)> {
    let mut links: Vec<(Uuid, String)> = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.eq(doc))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.topic_id, l.source.as_str().to_owned()))
        .collect();
    links.sort();
    links
}

async fn row(app: &TestApp, doc: Uuid) -> documents::Model {
    documents::Entity::find_by_id(doc)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn start(app: &TestApp, s: &Session) -> reqwest::Response {
    app.post_json("/api/topics/refile", Some(&s.access), &json!({}))
        .await
}

async fn progress(app: &TestApp, s: &Session) -> reqwest::Response {
    app.get_auth("/api/topics/refile", &s.access).await
}

/// Polls `GET /api/topics/refile` until `ready` holds (60 s at most).
async fn wait_for(app: &TestApp, s: &Session, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    poll_until(Duration::from_secs(60), what, || async {
        let res = progress(app, s).await;
        assert_eq!(res.status(), 200);
        let run: Value = res.json().await.unwrap();
        ready(&run).then_some(run)
    })
    .await
}

async fn wait_ended(app: &TestApp, s: &Session) -> Value {
    wait_for(app, s, "the re-file run to end", |run| {
        run["state"] != "running"
    })
    .await
}

/// The audit events recorded for `user`, oldest first.
async fn audit_events(app: &TestApp, user: Uuid) -> Vec<(String, Value)> {
    audit_log::Entity::find()
        .filter(audit_log::Column::UserId.eq(user))
        .order_by_asc(audit_log::Column::CreatedAt)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type.starts_with("topics_refile"))
        .map(|e| (e.event_type, e.metadata.unwrap_or(Value::Null)))
        .collect()
}

#[tokio::test]
async fn a_run_refiles_only_documents_not_filed_by_hand_with_progress_and_counts() {
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
    let car = create_topic(
        &app,
        &s,
        "Car",
        Some("Vehicle insurance, repairs, registration"),
    )
    .await;

    // Candidates: unfiled tax letters (become Taxes), health letters filed under Car by an
    // earlier run (move to Health), a tax letter already under Taxes (unchanged), a
    // too-short text under Taxes (loses it).
    let mut unfiled = Vec::new();
    for (i, text) in TAX[..3].iter().enumerate() {
        unfiled.push(
            seed(
                &app,
                &s,
                &format!("scan-{i}.pdf"),
                Seed::new(text, DocumentStatus::Unclassified),
            )
            .await,
        );
    }
    let mut misfiled = Vec::new();
    for (i, text) in HEALTH.iter().enumerate() {
        misfiled.push(
            seed(
                &app,
                &s,
                &format!("letter-{i}.pdf"),
                Seed {
                    ai_topics: &[car],
                    ..Seed::new(text, DocumentStatus::Classified)
                },
            )
            .await,
        );
    }
    let kept = seed(
        &app,
        &s,
        "tax-kept.pdf",
        Seed {
            ai_topics: &[taxes],
            ..Seed::new(TAX[3], DocumentStatus::Classified)
        },
    )
    .await;
    let short = seed(
        &app,
        &s,
        "x.pdf",
        Seed {
            ai_topics: &[taxes],
            ..Seed::new("OK 12", DocumentStatus::Classified)
        },
    )
    .await;
    // Left alone: filed by hand (also under Health by an earlier run), in the trash, in
    // the pipeline.
    let by_hand = seed(
        &app,
        &s,
        "by-hand.pdf",
        Seed {
            hand_topics: &[car],
            ai_topics: &[health],
            ..Seed::new(CAR, DocumentStatus::Classified)
        },
    )
    .await;
    let trashed = seed(
        &app,
        &s,
        "trashed.pdf",
        Seed {
            trashed: true,
            ..Seed::new(TAX[1], DocumentStatus::Unclassified)
        },
    )
    .await;
    let queued = seed(
        &app,
        &s,
        "queued.pdf",
        Seed::new(TAX[2], DocumentStatus::Queued),
    )
    .await;
    // Dispatched a while ago (its dispatch lease runs): the sweeper leaves it to its job.
    let mut q: documents::ActiveModel = row(&app, queued).await.into();
    q.lease_expires_at = Set(Some(docuvault::time::now() + chrono::Duration::minutes(10)));
    q.update(&app.state.db).await.unwrap();
    let untouched = [by_hand, trashed, queued];
    let before: Vec<(documents::Model, Vec<(Uuid, String)>)> = {
        let mut v = Vec::new();
        for id in untouched {
            v.push((row(&app, id).await, links(&app, id).await));
        }
        v
    };

    // The pipeline is busy: the run starts and waits.
    let held = hold_pipeline(&app, &s).await;
    let res = start(&app, &s).await;
    assert_eq!(res.status(), 202);
    let run = body(res).await;
    assert_eq!(run["state"], "running");
    assert_eq!(run["total"], 8, "{run}");
    assert_eq!(run["done"], 0);
    assert_eq!(run["changed"], 0);
    assert!(
        run["finished_at"].is_null() && run["error"].is_null(),
        "{run}"
    );

    // One run per account at a time.
    let again = start(&app, &s).await;
    assert_eq!(again.status(), 409);
    assert_eq!(body(again).await["code"], "refile_running");
    // Taken by the runner, it still waits for the pipeline: nothing done yet.
    poll_until(Duration::from_secs(30), "the run to be claimed", || async {
        let r =
            refile_runs::Entity::find_by_id(Uuid::parse_str(run["id"].as_str().unwrap()).unwrap())
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap();
        r.claimed_by.is_some().then_some(())
    })
    .await;
    let waiting = body(progress(&app, &s).await).await;
    assert_eq!(
        (waiting["state"].as_str(), waiting["done"].as_i64()),
        (Some("running"), Some(0)),
        "{waiting}"
    );

    release_pipeline(&app, held).await;
    let ended = wait_ended(&app, &s).await;
    assert_eq!(ended["state"], "done", "{ended}");
    assert_eq!(ended["id"], run["id"]);
    assert_eq!(ended["total"], 8, "{ended}");
    assert_eq!(ended["done"], 8, "{ended}");
    // 3 unfiled + 3 misfiled + the short one; the kept one stays as it was.
    assert_eq!(ended["changed"], 7, "{ended}");
    assert!(ended["finished_at"].is_string(), "{ended}");

    for id in &unfiled {
        assert_eq!(links(&app, *id).await, vec![(taxes, "ai".to_owned())]);
        let doc = row(&app, *id).await;
        assert_eq!(doc.status, DocumentStatus::Classified);
        assert_eq!(
            doc.classified_by.as_ref().unwrap()["prompt_version"],
            docuvault::classify::BUILTIN_VERSION
        );
    }
    for id in &misfiled {
        assert_eq!(
            links(&app, *id).await,
            vec![(health, "ai".to_owned())],
            "a health letter"
        );
        assert_eq!(row(&app, *id).await.status, DocumentStatus::Classified);
    }
    assert_eq!(links(&app, kept).await, vec![(taxes, "ai".to_owned())]);
    assert!(links(&app, short).await.is_empty());
    let short_row = row(&app, short).await;
    assert_eq!(short_row.status, DocumentStatus::Unclassified);
    assert!(
        short_row.classified_by.unwrap()["reason"]
            .as_str()
            .unwrap()
            .starts_with("text too short"),
    );
    // The API shows the same: the letter is filed under Health by the classifier.
    let view = common::document(&app, &s, &misfiled[0].to_string()).await;
    assert_eq!(view["status"], "classified");
    assert_eq!(view["topics"][0]["id"], health.to_string());
    assert_eq!(view["topics"][0]["source"], "ai");

    for (id, (doc, doc_links)) in untouched.iter().zip(before) {
        let now = row(&app, *id).await;
        assert_eq!(
            (now.status, &now.classified_by, now.updated_at),
            (doc.status, &doc.classified_by, doc.updated_at),
            "{}",
            doc.filename
        );
        assert_eq!(links(&app, *id).await, doc_links, "{}", doc.filename);
    }

    // The start and the end are in the audit log.
    let events = audit_events(&app, user_id(&s)).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "topics_refile_started");
    assert_eq!(events[0].1["total"], 8);
    assert_eq!(events[1].0, "topics_refile_finished");
    assert_eq!(
        (
            events[1].1["state"].as_str(),
            events[1].1["done"].as_i64(),
            events[1].1["changed"].as_i64()
        ),
        (Some("done"), Some(8), Some(7))
    );

    // Once ended, another run may start; it changes nothing now.
    let res = start(&app, &s).await;
    assert_eq!(res.status(), 202);
    let second = wait_ended(&app, &s).await;
    assert_ne!(second["id"], run["id"]);
    assert_eq!(
        (
            second["state"].as_str(),
            second["done"].as_i64(),
            second["changed"].as_i64()
        ),
        (Some("done"), Some(8), Some(0)),
        "{second}"
    );
    // Only the latest run is kept.
    let runs = refile_runs::Entity::find()
        .filter(refile_runs::Column::UserId.eq(user_id(&s)))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
}

#[tokio::test]
async fn changed_topics_follow_a_hand_filing_made_before_the_run() {
    let app = TestApp::spawn_with(|env| {
        // Several batches: the model is trained once and used for all.
        env.insert("DOCUVAULT__AI__REFILE_BATCH_SIZE".into(), "2".into());
    })
    .await;
    let s = app.register("bob").await;
    // The name says nothing about the content: only hand-filings teach it.
    let bluebird = create_topic(&app, &s, "Project Bluebird", None).await;
    let taxes = create_topic(&app, &s, "Taxes", Some("Tax returns, tax office letters")).await;
    create_topic(
        &app,
        &s,
        "Health",
        Some("Doctors, hospitals, medical bills"),
    )
    .await;

    let mut solar = Vec::new();
    for (i, text) in SOLAR.iter().enumerate() {
        solar.push(
            seed(
                &app,
                &s,
                &format!("pv-{i}.pdf"),
                Seed::new(text, DocumentStatus::Unclassified),
            )
            .await,
        );
    }
    let tax = seed(
        &app,
        &s,
        "tax.pdf",
        Seed::new(TAX[0], DocumentStatus::Unclassified),
    )
    .await;

    // Filed by hand through the API before the run.
    for id in &solar[..4] {
        let res = app
            .patch_auth(
                &format!("/api/documents/{id}"),
                &s.access,
                &json!({"topics": [bluebird]}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = start(&app, &s).await;
    assert_eq!(res.status(), 202);
    assert_eq!(
        body(res).await["total"],
        4,
        "three unfiled solar documents and the tax letter"
    );
    let ended = wait_ended(&app, &s).await;
    assert_eq!(
        (
            ended["state"].as_str(),
            ended["done"].as_i64(),
            ended["changed"].as_i64()
        ),
        (Some("done"), Some(4), Some(4)),
        "{ended}"
    );
    for id in &solar[4..] {
        assert_eq!(
            links(&app, *id).await,
            vec![(bluebird, "ai".to_owned())],
            "learned from the hand-filings"
        );
    }
    assert_eq!(links(&app, tax).await, vec![(taxes, "ai".to_owned())]);
    for id in &solar[..4] {
        assert_eq!(
            links(&app, *id).await,
            vec![(bluebird, "user".to_owned())],
            "hand-filed stays"
        );
    }
}

#[tokio::test]
async fn another_accounts_documents_and_progress_are_untouched() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    create_topic(
        &app,
        &alice,
        "Taxes",
        Some("Tax returns, tax office letters, assessments"),
    )
    .await;
    let bobs_taxes = create_topic(
        &app,
        &bob,
        "Taxes",
        Some("Tax returns, tax office letters, assessments"),
    )
    .await;
    let bobs_car = create_topic(
        &app,
        &bob,
        "Car",
        Some("Vehicle insurance, repairs, registration"),
    )
    .await;
    seed(
        &app,
        &alice,
        "a.pdf",
        Seed::new(TAX[0], DocumentStatus::Unclassified),
    )
    .await;
    let bobs_unfiled = seed(
        &app,
        &bob,
        "b.pdf",
        Seed::new(TAX[1], DocumentStatus::Unclassified),
    )
    .await;
    let bobs_misfiled = seed(
        &app,
        &bob,
        "c.pdf",
        Seed {
            ai_topics: &[bobs_car],
            ..Seed::new(TAX[2], DocumentStatus::Classified)
        },
    )
    .await;
    let bob_before = [
        row(&app, bobs_unfiled).await,
        row(&app, bobs_misfiled).await,
    ];

    // Never run: 404 for both.
    for s in [&alice, &bob] {
        let res = progress(&app, s).await;
        assert_eq!(res.status(), 404);
        assert_eq!(body(res).await["code"], "not_found");
    }
    assert_eq!(start(&app, &alice).await.status(), 202);
    let ended = wait_ended(&app, &alice).await;
    assert_eq!(
        (ended["done"].as_i64(), ended["changed"].as_i64()),
        (Some(1), Some(1)),
        "{ended}"
    );

    assert_eq!(
        progress(&app, &bob).await.status(),
        404,
        "bob never re-filed"
    );
    assert_eq!(
        app.delete_auth("/api/topics/refile", &bob.access)
            .await
            .status(),
        404,
        "bob has nothing to cancel"
    );
    for before in bob_before {
        let now = row(&app, before.id).await;
        assert_eq!(
            (now.status, now.updated_at),
            (before.status, before.updated_at)
        );
    }
    assert!(links(&app, bobs_unfiled).await.is_empty());
    assert_eq!(
        links(&app, bobs_misfiled).await,
        vec![(bobs_car, "ai".to_owned())]
    );
    // Bob's own run files his documents, alice's run is still hers.
    assert_eq!(start(&app, &bob).await.status(), 202);
    let bobs = wait_ended(&app, &bob).await;
    assert_ne!(bobs["id"], ended["id"]);
    assert_eq!(
        (bobs["done"].as_i64(), bobs["changed"].as_i64()),
        (Some(2), Some(2)),
        "{bobs}"
    );
    assert_eq!(
        links(&app, bobs_misfiled).await,
        vec![(bobs_taxes, "ai".to_owned())]
    );
    assert_eq!(body(progress(&app, &alice).await).await["id"], ended["id"]);
}

#[tokio::test]
async fn an_upload_made_while_a_run_is_running_is_processed_first() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__AI__REFILE_BATCH_SIZE".into(), "3".into());
    })
    .await;
    let s = app.register("carol").await;
    create_topic(
        &app,
        &s,
        "Taxes",
        Some("Tax returns, tax office letters, assessments"),
    )
    .await;
    create_topic(
        &app,
        &s,
        "Health",
        Some("Doctors, hospitals, medical bills, prescriptions"),
    )
    .await;
    let mut seeded = 0;
    for round in 0..4 {
        for (i, text) in TAX.iter().chain(HEALTH).enumerate() {
            seed(
                &app,
                &s,
                &format!("old-{round}-{i}.pdf"),
                Seed::new(text, DocumentStatus::Unclassified),
            )
            .await;
            seeded += 1;
        }
    }
    let held = hold_pipeline(&app, &s).await;
    assert_eq!(start(&app, &s).await.status(), 202);

    // A new upload while the run is running: it is processed, the run waits for it.
    let id = app
        .upload(
            &s,
            "hospital.txt",
            "text/plain",
            HEALTH[0].as_bytes().to_vec(),
        )
        .await;
    let processed = common::wait_processed(&app, &s, &id).await;
    assert_eq!(processed["status"], "classified", "{processed}");
    let during = body(progress(&app, &s).await).await;
    assert_eq!(
        (during["state"].as_str(), during["done"].as_i64()),
        (Some("running"), Some(0)),
        "{during}"
    );

    release_pipeline(&app, held).await;
    let ended = wait_ended(&app, &s).await;
    // The upload, processed by then, is one of the documents looked at.
    assert_eq!(ended["state"], "done", "{ended}");
    assert_eq!(ended["done"], seeded + 1, "{ended}");
    assert_eq!(ended["total"], ended["done"]);
    assert_eq!(ended["changed"], seeded, "every seeded letter was unfiled");
}

#[tokio::test]
async fn a_run_can_be_cancelled_and_model_providers_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.register("dave").await;
    create_topic(
        &app,
        &s,
        "Taxes",
        Some("Tax returns, tax office letters, assessments"),
    )
    .await;
    let doc = seed(
        &app,
        &s,
        "a.pdf",
        Seed::new(TAX[0], DocumentStatus::Unclassified),
    )
    .await;
    let held = hold_pipeline(&app, &s).await;
    let run = body(start(&app, &s).await).await;

    let res = app.delete_auth("/api/topics/refile", &s.access).await;
    assert_eq!(res.status(), 200);
    let cancelled = body(res).await;
    assert_eq!(
        (cancelled["id"].clone(), cancelled["state"].as_str()),
        (run["id"].clone(), Some("cancelled"))
    );
    assert!(cancelled["finished_at"].is_string());
    assert_eq!(body(progress(&app, &s).await).await["state"], "cancelled");
    assert_eq!(
        app.delete_auth("/api/topics/refile", &s.access)
            .await
            .status(),
        404
    );
    release_pipeline(&app, held).await;
    // Nothing was filed, and a new run may start.
    assert!(links(&app, doc).await.is_empty());
    assert_eq!(start(&app, &s).await.status(), 202);
    assert_eq!(wait_ended(&app, &s).await["changed"], 1);
    let events: Vec<String> = audit_events(&app, user_id(&s))
        .await
        .into_iter()
        .map(|(e, m)| format!("{e}:{}", m["state"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        events,
        [
            "topics_refile_started:-",
            "topics_refile_finished:cancelled",
            "topics_refile_started:-",
            "topics_refile_finished:done"
        ]
    );

    // An account on a model provider is told to use the builtin classifier.
    let res = app
        .client
        .patch(app.url("/api/auth/me"))
        .bearer_auth(&s.access)
        .json(&json!({"ai_provider": "openai"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = start(&app, &s).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "refile_needs_builtin");
    // Other methods on the path are 405, and admins get 403.
    let res = app
        .client
        .put(app.url("/api/topics/refile"))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let admin = app.admin("root").await;
    assert_eq!(start(&app, &admin).await.status(), 403);
}

#[tokio::test]
async fn a_run_whose_instance_stopped_is_taken_over_where_it_stopped() {
    let app = TestApp::spawn().await;
    let s = app.register("erin").await;
    let owner = user_id(&s);
    let taxes = create_topic(
        &app,
        &s,
        "Taxes",
        Some("Tax returns, tax office letters, assessments"),
    )
    .await;
    let mut ids = Vec::new();
    for round in 0..3 {
        for (i, text) in TAX.iter().enumerate() {
            ids.push(
                seed(
                    &app,
                    &s,
                    &format!("t-{round}-{i}.pdf"),
                    Seed::new(text, DocumentStatus::Unclassified),
                )
                .await,
            );
        }
    }
    ids.sort();
    // Another instance had done the first 5 (committed) and stopped: its lease lapsed.
    let run_id = Uuid::new_v4();
    refile_runs::ActiveModel {
        id: Set(run_id),
        user_id: Set(owner),
        state: Set(refile_runs::RefileState::Running),
        total: Set(ids.len() as i64),
        done: Set(5),
        changed: Set(5),
        after_id: Set(Some(ids[4])),
        claimed_by: Set(Some("gone-instance".into())),
        claimed_until: Set(Some(docuvault::time::now() - chrono::Duration::seconds(1))),
        error: Set(None),
        started_at: Set(docuvault::time::now()),
        finished_at: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let ended = wait_ended(&app, &s).await;
    assert_eq!(ended["id"], run_id.to_string());
    assert_eq!(
        (
            ended["state"].as_str(),
            ended["done"].as_i64(),
            ended["changed"].as_i64()
        ),
        (Some("done"), Some(12), Some(12)),
        "{ended}"
    );
    // It carried on after the last committed batch: the first five are as they were.
    for id in &ids[..5] {
        assert!(links(&app, *id).await.is_empty());
    }
    for id in &ids[5..] {
        assert_eq!(links(&app, *id).await, vec![(taxes, "ai".to_owned())]);
    }
    let taken = refile_runs::Entity::find_by_id(run_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(taken.claimed_by.as_deref(), Some("gone-instance"));
    assert!(taken.claimed_until.is_none(), "released when it ended");
}

#[tokio::test]
async fn apply_never_files_an_excluded_pair_and_leaves_hand_filed_documents() {
    let app = TestApp::spawn().await;
    let s = app.register("frank").await;
    let owner = user_id(&s);
    let taxes = create_topic(&app, &s, "Taxes", None).await;
    let health = create_topic(&app, &s, "Health", None).await;
    let rejected = seed(
        &app,
        &s,
        "a.pdf",
        Seed::new(TAX[0], DocumentStatus::Unclassified),
    )
    .await;
    let partly = seed(
        &app,
        &s,
        "b.pdf",
        Seed {
            ai_topics: &[health],
            ..Seed::new(TAX[1], DocumentStatus::Classified)
        },
    )
    .await;
    let by_hand = seed(
        &app,
        &s,
        "c.pdf",
        Seed {
            hand_topics: &[health],
            ..Seed::new(TAX[2], DocumentStatus::Classified)
        },
    )
    .await;
    let record =
        json!({"provider": "builtin", "model": "tfidf-centroids", "prompt_version": "builtin-2"});
    let decision = |id: Uuid, topics: Vec<(Uuid, f64)>| Decision {
        id,
        topics,
        classified_by: record.clone(),
    };
    let decisions = vec![
        decision(rejected, vec![(taxes, 0.9)]),
        decision(partly, vec![(taxes, 0.9), (health, 0.8)]),
        decision(by_hand, vec![(taxes, 0.9)]),
    ];
    let exclude: HashSet<(Uuid, Uuid)> = [(rejected, taxes), (partly, health)].into();
    let txn = app.state.db.begin().await.unwrap();
    let applied = batch::apply(&txn, owner, &decisions, &exclude)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let mut expected_written = vec![rejected, partly];
    expected_written.sort();
    assert_eq!(
        applied.written, expected_written,
        "the hand-filed one is not written"
    );
    assert_eq!(applied.changed, vec![partly], "{applied:?}");
    assert!(links(&app, rejected).await.is_empty());
    let r = row(&app, rejected).await;
    assert_eq!(r.status, DocumentStatus::Unclassified);
    assert_eq!(r.classified_by, Some(record.clone()));
    assert_eq!(links(&app, partly).await, vec![(taxes, "ai".to_owned())]);
    assert_eq!(row(&app, partly).await.status, DocumentStatus::Classified);
    assert_eq!(
        links(&app, by_hand).await,
        vec![(health, "user".to_owned())]
    );

    // Applying the same decisions again writes nothing.
    let txn = app.state.db.begin().await.unwrap();
    let again = batch::apply(&txn, owner, &decisions, &exclude)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(again, batch::Applied::default());
}

#[tokio::test]
async fn a_run_is_held_by_one_instance_at_a_time_and_taken_over_after_its_lease() {
    use docuvault::refile::service::{self, BatchProgress};
    // No runner here: the test plays the instances.
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    let s = app.register("gina").await;
    create_topic(&app, &s, "Taxes", None).await;
    seed(
        &app,
        &s,
        "a.pdf",
        Seed::new(TAX[0], DocumentStatus::Unclassified),
    )
    .await;
    let run = body(start(&app, &s).await).await;
    let run_id = Uuid::parse_str(run["id"].as_str().unwrap()).unwrap();
    let db = &app.state.db;
    let now = docuvault::time::now;
    let minute = chrono::Duration::minutes(1);
    let step = |n| BatchProgress {
        looked_at: n,
        changed: 0,
        last: Uuid::max(),
    };

    // Two instances look at once: one gets it.
    let (a, b) = tokio::join!(
        service::claim_next(db, "a", now() + minute),
        service::claim_next(db, "b", now() + minute)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_some() != b.is_some(), "{a:?} {b:?}");
    let (holder, other) = if a.is_some() { ("a", "b") } else { ("b", "a") };
    assert_eq!(a.or(b).unwrap().id, run_id);
    assert!(
        service::claim_next(db, other, now() + minute)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !service::record_batch(db, run_id, other, step(1), now() + minute)
            .await
            .unwrap()
    );
    assert!(
        service::record_batch(db, run_id, holder, step(1), now() + minute)
            .await
            .unwrap()
    );
    assert!(
        service::renew(db, run_id, holder, now() - minute)
            .await
            .unwrap()
    );

    // Its lease lapsed: the other takes it over, and the first one's writes change nothing.
    let taken = service::claim_next(db, other, now() + minute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.id, taken.done), (run_id, 1));
    assert!(
        !service::record_batch(db, run_id, holder, step(5), now() + minute)
            .await
            .unwrap()
    );
    assert!(
        !service::renew(db, run_id, holder, now() + minute)
            .await
            .unwrap()
    );
    assert!(
        service::end(db, run_id, holder, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        service::record_batch(db, run_id, other, step(1), now() + minute)
            .await
            .unwrap()
    );

    // Released (the instance stops): taken at once by the next look.
    service::release(db, run_id, other).await.unwrap();
    let again = service::claim_next(db, holder, now() + minute)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.done, 2);

    // Cancelled by its owner: the holder's next write changes nothing.
    assert_eq!(
        app.delete_auth("/api/topics/refile", &s.access)
            .await
            .status(),
        200
    );
    assert!(
        !service::record_batch(db, run_id, holder, step(1), now() + minute)
            .await
            .unwrap()
    );
    assert!(
        service::end(db, run_id, holder, None)
            .await
            .unwrap()
            .is_none()
    );
    let ended = body(progress(&app, &s).await).await;
    assert_eq!(
        (ended["state"].as_str(), ended["done"].as_i64()),
        (Some("cancelled"), Some(2))
    );
    assert!(
        service::claim_next(db, other, now() + minute)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_topic_rejected_through_the_api_is_never_filed_again_by_a_run() {
    let app = TestApp::spawn().await;
    let s = app.register("carol").await;
    let taxes = create_topic(&app, &s, "Taxes", Some("Tax returns, tax office letters")).await;
    create_topic(
        &app,
        &s,
        "Health",
        Some("Doctors, hospitals, medical bills"),
    )
    .await;
    let ai = [taxes];
    // Letters filed by hand: the topic speaks strongly for tax letters, rejection or not.
    for (i, text) in TAX[1..].iter().enumerate() {
        seed(
            &app,
            &s,
            &format!("filed-{i}.pdf"),
            Seed {
                hand_topics: &ai,
                ..Seed::new(text, DocumentStatus::Classified)
            },
        )
        .await;
    }
    let rejected = seed(
        &app,
        &s,
        "tax-1.pdf",
        Seed {
            ai_topics: &ai,
            ..Seed::new(TAX[0], DocumentStatus::Classified)
        },
    )
    .await;
    let kept = seed(
        &app,
        &s,
        "tax-2.pdf",
        Seed::new(TAX[0], DocumentStatus::Unclassified),
    )
    .await;
    let res = app
        .post_json(
            &format!("/api/documents/{rejected}/topics/{taxes}/reject"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "reject answered {}", res.status());
    assert!(links(&app, rejected).await.is_empty());

    let res = start(&app, &s).await;
    assert_eq!(res.status(), 202);
    let ended = wait_ended(&app, &s).await;
    assert_eq!(
        (ended["state"].as_str(), ended["done"].as_i64()),
        (Some("done"), Some(2)),
        "both were looked at: {ended}"
    );
    // The same letter is filed under the topic where nobody rejected it...
    assert_eq!(links(&app, kept).await, vec![(taxes, "ai".to_owned())]);
    // ...and never where the owner did.
    assert!(
        !links(&app, rejected).await.iter().any(|(t, _)| *t == taxes),
        "{:?}",
        links(&app, rejected).await
    );
}
