//! The processing pipeline: confirmed documents reach `classified`, `unclassified` or
//! `failed` on their own; hostile files fail with a reason without hurting the batch;
//! leases, attempts and the sweeper recover lost and crashed work; hand-assigned topics
//! and re-classification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::samples::*;
use common::{TestApp, create_topic, poll_until, text_of, wait_processed};
use docuvault::entities::{document_topics, documents};
use docuvault::jobs::pipeline;
use docuvault::jobs::worker::sweep;
use docuvault::queue::Job;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

async fn links(app: &TestApp, id: &str) -> Vec<document_topics::Model> {
    document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.eq(Uuid::parse_str(id).unwrap()))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn row(app: &TestApp, id: &str) -> documents::Model {
    documents::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn confirmed_documents_are_extracted_and_classified() {
    let app = TestApp::spawn().await;
    let s = app.register("pipe").await;
    let invoices = create_topic(&app, &s, "Invoices", Some("Bills and invoices to pay")).await;
    let text = "Invoices for March: the invoices from the plumber must be paid.\n".repeat(5);
    let doc = app
        .upload(&s, "march.txt", "text/plain", text.clone().into_bytes())
        .await;
    let pdf = app
        .upload(&s, "hello.pdf", "application/pdf", hello_pdf())
        .await;
    let docx = app.upload(&s, "report.docx", DOCX, sample_docx()).await;

    let view = wait_processed(&app, &s, &doc).await;
    assert_eq!(view["status"], "classified", "{view}");
    let l = links(&app, &doc).await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0].topic_id, invoices);
    assert_eq!(l[0].source, "ai");
    assert!(l[0].confidence.is_some());
    let r = row(&app, &doc).await;
    assert_eq!(r.attempts, 1);
    assert!(r.lease_expires_at.is_none());
    assert_eq!(
        r.sha256.as_deref(),
        Some(docuvault::extract::sha256_hex(text.as_bytes()).as_str())
    );
    let by = r.classified_by.unwrap();
    assert!(
        by["provider"].is_string() && by["model"].is_string(),
        "{by}"
    );
    assert!(by["prompt_version"].is_string(), "{by}");
    let t = text_of(&app, &s, &doc).await;
    assert!(
        t["text"]
            .as_str()
            .unwrap()
            .starts_with("Invoices for March")
    );
    assert_eq!(t["truncated"], false);

    for (id, phrase) in [(&pdf, "Hello PDF world"), (&docx, "Quarterly report")] {
        let view = wait_processed(&app, &s, id).await;
        assert!(
            ["classified", "unclassified"].contains(&view["status"].as_str().unwrap()),
            "{view}"
        );
        let t = text_of(&app, &s, id).await;
        assert!(t["text"].as_str().unwrap().contains(phrase), "{t}");
    }

    // Another user sees none of it.
    let other = app.register("pipe-other").await;
    let res = app
        .get_auth(&format!("/api/documents/{doc}/text"), &other.access)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn hostile_files_fail_with_a_reason_and_the_batch_completes() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__EXTRACT__TIMEOUT_SECS".into(), "20".into());
        env.insert("DOCUVAULT__JOBS__CONCURRENCY".into(), "3".into());
    })
    .await;
    // The files are built first: building the 64 MiB bomb blocks this test's runtime for
    // seconds, and a pooled connection idle across that may be closed by the server's
    // keep-alive timeout just as it is reused (a flaky "IncompleteMessage").
    let mut truncated = hello_pdf();
    truncated.truncate(truncated.len() / 3);
    let hostile: Vec<(&str, &str, Vec<u8>)> = vec![
        ("bomb.docx", DOCX, zip_bomb_docx(64)),
        ("laughs.docx", DOCX, billion_laughs_docx()),
        ("nested.pdf", "application/pdf", nested_array_pdf(50_000)),
        ("truncated.pdf", "application/pdf", truncated),
        (
            "fake.pdf",
            "application/pdf",
            b"just some text, not a PDF".to_vec(),
        ),
        ("fake.docx", DOCX, b"PK but not really a zip".to_vec()),
    ];
    let s = app.register("hostile").await;
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for (i, (name, ct, bytes)) in hostile.into_iter().enumerate() {
        bad.push((name, app.upload(&s, name, ct, bytes).await));
        let ok = format!("ordinary note number {i}\n");
        good.push(
            app.upload(&s, &format!("ok-{i}.txt"), "text/plain", ok.into_bytes())
                .await,
        );
    }
    // Each hostile file is stopped by the sandbox's own limits (wall clock, memory, CPU:
    // tests/it/extract.rs); here what matters is the outcome and that the batch completes.
    for (name, id) in &bad {
        let view = wait_processed(&app, &s, id).await;
        assert_eq!(view["status"], "failed", "{name}: {view}");
        let reason = view["last_error"].as_str().unwrap_or_default();
        assert!(reason.len() > 10, "{name}: {reason:?}");
        assert_eq!(
            row(&app, id).await.attempts,
            1,
            "{name}: a permanent failure"
        );
    }
    for id in &good {
        let view = wait_processed(&app, &s, id).await;
        assert_eq!(view["status"], "unclassified", "{view}");
    }
    let res = app.health().await;
    assert_eq!(res.status(), 200);
    // Health counts the failed documents (and nothing still open).
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["jobs"]["failed"], bad.len(), "{health}");
    assert_eq!(health["jobs"]["queued"], 0, "{health}");
    assert_eq!(health["jobs"]["processing"], 0, "{health}");
}

#[tokio::test]
async fn hand_assigned_topics_are_user_links_and_survive_reclassification() {
    let app = TestApp::spawn().await;
    let s = app.register("hand").await;
    let taxes = create_topic(&app, &s, "Taxes", Some("Tax returns")).await;
    let travel = create_topic(&app, &s, "Travel", Some("Trips and tickets")).await;
    let doc = app
        .upload(
            &s,
            "ticket.txt",
            "text/plain",
            b"Travel plans for the summer trip: a train ticket to Lyon, the hotel booking and the travel itinerary for the whole journey.".to_vec(),
        )
        .await;
    assert_eq!(wait_processed(&app, &s, &doc).await["status"], "classified");

    let patch = |body: Value| {
        let app = &app;
        let s = &s;
        let doc = doc.clone();
        async move {
            app.client
                .patch(app.url(&format!("/api/documents/{doc}")))
                .bearer_auth(&s.access)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = patch(json!({"topics": [taxes, travel]})).await;
    assert_eq!(res.status(), 200);
    let mut l = links(&app, &doc).await;
    l.sort_by_key(|l| l.topic_id.to_string());
    assert_eq!(l.len(), 2);
    assert!(
        l.iter()
            .all(|l| l.source == "user" && l.confidence.is_none())
    );

    // Another user's topic, or a random id, is refused and changes nothing.
    let other = app.register("hand-other").await;
    let foreign = create_topic(&app, &other, "Mine", Some("not yours")).await;
    for bad in [foreign, Uuid::new_v4()] {
        let res = patch(json!({"topics": [bad]})).await;
        assert_eq!(res.status(), 422);
        assert_eq!(links(&app, &doc).await.len(), 2);
    }
    let res = patch(json!({"topics": ["not-a-uuid"]})).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "validation_failed");

    // Re-classify: 202, runs again, keeps the hand-set links.
    let before = row(&app, &doc).await.updated_at;
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/classify"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert!(["queued", "processing"].contains(&body["status"].as_str().unwrap()));
    let view = poll_until(Duration::from_secs(60), "re-classification", || async {
        let r = row(&app, &doc).await;
        (r.updated_at > before && r.status == "classified").then_some(r)
    })
    .await;
    assert_eq!(view.attempts, 1);
    let l = links(&app, &doc).await;
    assert_eq!(l.iter().filter(|l| l.source == "user").count(), 2, "{l:?}");

    // Removing every topic by hand leaves the document unclassified.
    let res = patch(json!({"topics": []})).await;
    assert_eq!(res.status(), 200);
    assert!(links(&app, &doc).await.is_empty());
    assert_eq!(row(&app, &doc).await.status, "unclassified");

    // Not for others, not before confirmation.
    let res = app
        .post_json(
            &format!("/api/documents/{doc}/classify"),
            Some(&other.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let ticket = app.upload_url(&s, "later.txt", "text/plain", 3).await;
    let pending = ticket["document_id"].as_str().unwrap();
    let res = app
        .post_json(
            &format!("/api/documents/{pending}/classify"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
}

/// Every transition of the lifecycle moves a document only from the status it expects
/// (and a worker's only while its claim stands): from any other it refuses, changes
/// nothing and says so.
#[tokio::test]
async fn every_lifecycle_transition_refuses_a_document_in_the_wrong_state() {
    use docuvault::documents::lifecycle;
    use docuvault::entities::DocumentStatus;
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    let s = app.register("states").await;
    let ticket = app.upload_url(&s, "states.txt", "text/plain", 5).await;
    let doc = ticket["document_id"].as_str().unwrap().to_owned();
    let id = Uuid::parse_str(&doc).unwrap();
    let db = &app.state.db;
    let now = docuvault::time::now();
    let lease = now + chrono::Duration::minutes(5);
    let after_lease = lease + chrono::Duration::minutes(5);
    let by = || json!({"provider": "builtin", "model": "test"});
    let status = |d: documents::Model| d.status;

    // pending: nothing but confirm moves it.
    let pending = row(&app, &doc).await;
    assert_eq!(pending.status, DocumentStatus::Pending);
    assert!(
        lifecycle::claim(db, id, now, lease, 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!lifecycle::renew_lease(db, &pending, lease).await.unwrap());
    assert_eq!(
        lifecycle::finish(db, &pending, true, by()).await.unwrap(),
        None
    );
    assert!(!lifecycle::fail(db, &pending, "no").await.unwrap());
    assert!(
        !lifecycle::retry_later(db, &pending, "no", lease)
            .await
            .unwrap()
    );
    assert!(!lifecycle::requeue(db, id, lease).await.unwrap());
    assert!(
        !lifecycle::redispatch(db, id, after_lease, lease)
            .await
            .unwrap()
    );
    assert_eq!(
        lifecycle::fail_exhausted(db, after_lease, 0, "no")
            .await
            .unwrap()
            .len(),
        0
    );
    assert!(!lifecycle::follow_topics(db, id, true).await.unwrap());
    assert_eq!(status(row(&app, &doc).await), DocumentStatus::Pending);

    // pending → queued, once: confirming twice does not move it again.
    assert!(lifecycle::hold_pending(db, id).await.unwrap());
    assert!(lifecycle::confirm(db, id, 5, "00", lease).await.unwrap());
    assert!(!lifecycle::confirm(db, id, 5, "00", lease).await.unwrap());
    assert!(!lifecycle::hold_pending(db, id).await.unwrap());
    let queued = row(&app, &doc).await;
    assert_eq!(queued.status, DocumentStatus::Queued);
    // Not processing: no worker result may land on it.
    assert_eq!(
        lifecycle::finish(db, &queued, true, by()).await.unwrap(),
        None
    );
    assert!(!lifecycle::fail(db, &queued, "no").await.unwrap());
    assert!(
        !lifecycle::retry_later(db, &queued, "no", lease)
            .await
            .unwrap()
    );
    assert!(!lifecycle::requeue(db, id, lease).await.unwrap());
    assert!(!lifecycle::follow_topics(db, id, false).await.unwrap());
    // Its dispatch lease holds: the sweeper leaves it alone until then.
    assert!(!lifecycle::redispatch(db, id, now, lease).await.unwrap());
    assert_eq!(status(row(&app, &doc).await), DocumentStatus::Queued);

    // queued → processing, once while the lease holds.
    let claimed = lifecycle::claim(db, id, now, lease, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (claimed.status, claimed.attempts),
        (DocumentStatus::Processing, 1)
    );
    assert!(
        lifecycle::claim(db, id, now, lease, 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!lifecycle::confirm(db, id, 5, "00", lease).await.unwrap());
    assert!(!lifecycle::requeue(db, id, lease).await.unwrap());
    assert!(!lifecycle::follow_topics(db, id, true).await.unwrap());
    assert!(!lifecycle::redispatch(db, id, now, lease).await.unwrap());
    // A worker with an older claim (another attempt number) can no longer write.
    let stale = documents::Model {
        attempts: 0,
        ..claimed.clone()
    };
    assert!(!lifecycle::renew_lease(db, &stale, lease).await.unwrap());
    assert_eq!(
        lifecycle::finish(db, &stale, true, by()).await.unwrap(),
        None
    );
    assert!(!lifecycle::fail(db, &stale, "no").await.unwrap());
    assert!(
        !lifecycle::retry_later(db, &stale, "no", lease)
            .await
            .unwrap()
    );
    assert!(lifecycle::renew_lease(db, &claimed, lease).await.unwrap());

    // processing → queued (transient failure), redispatched only once the retry is due.
    assert!(
        lifecycle::retry_later(db, &claimed, "later", lease)
            .await
            .unwrap()
    );
    assert!(
        !lifecycle::retry_later(db, &claimed, "later", lease)
            .await
            .unwrap()
    );
    assert!(!lifecycle::redispatch(db, id, now, lease).await.unwrap());
    assert!(
        lifecycle::redispatch(db, id, after_lease, after_lease)
            .await
            .unwrap()
    );
    let claimed = lifecycle::claim(db, id, now, lease, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.attempts, 2);

    // processing → unclassified, once: a document that is not processing is not classified.
    assert_eq!(
        lifecycle::finish(db, &claimed, false, by()).await.unwrap(),
        Some(DocumentStatus::Unclassified)
    );
    assert_eq!(
        lifecycle::finish(db, &claimed, true, by()).await.unwrap(),
        None
    );
    assert!(!lifecycle::fail(db, &claimed, "late").await.unwrap());
    assert!(
        !lifecycle::retry_later(db, &claimed, "late", lease)
            .await
            .unwrap()
    );
    assert!(
        lifecycle::claim(db, id, after_lease, lease, 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!lifecycle::confirm(db, id, 5, "00", lease).await.unwrap());
    assert!(
        !lifecycle::redispatch(db, id, after_lease, lease)
            .await
            .unwrap()
    );
    assert_eq!(
        lifecycle::fail_exhausted(db, after_lease, 0, "no")
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(status(row(&app, &doc).await), DocumentStatus::Unclassified);

    // classified ⇄ unclassified follow the topics; a deleted last topic unclassifies once.
    assert!(lifecycle::follow_topics(db, id, true).await.unwrap());
    assert_eq!(status(row(&app, &doc).await), DocumentStatus::Classified);
    assert_eq!(lifecycle::unclassify_topicless(db, &[id]).await.unwrap(), 1);
    assert_eq!(lifecycle::unclassify_topicless(db, &[id]).await.unwrap(), 0);
    assert_eq!(status(row(&app, &doc).await), DocumentStatus::Unclassified);

    // finished → queued (re-classify), once, with fresh attempts.
    assert!(lifecycle::requeue(db, id, lease).await.unwrap());
    assert!(!lifecycle::requeue(db, id, lease).await.unwrap());
    let claimed = lifecycle::claim(db, id, now, lease, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.attempts, 1);

    // processing → failed, once; a failed document does not follow topics.
    assert!(lifecycle::fail(db, &claimed, "broken").await.unwrap());
    assert!(!lifecycle::fail(db, &claimed, "broken").await.unwrap());
    assert_eq!(
        lifecycle::finish(db, &claimed, true, by()).await.unwrap(),
        None
    );
    assert!(!lifecycle::follow_topics(db, id, true).await.unwrap());
    assert!(
        lifecycle::claim(db, id, after_lease, lease, 3)
            .await
            .unwrap()
            .is_none()
    );
    let failed = row(&app, &doc).await;
    assert_eq!(failed.status, DocumentStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("broken"));

    // Out of attempts: the sweeper fails a lapsed claim instead of dispatching it again.
    assert!(lifecycle::requeue(db, id, lease).await.unwrap());
    let claimed = lifecycle::claim(db, id, now, lease, 1)
        .await
        .unwrap()
        .unwrap();
    assert!(
        lifecycle::claim(db, id, after_lease, lease, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        lifecycle::fail_exhausted(db, now, 1, "gone")
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        lifecycle::fail_exhausted(db, after_lease, 1, "gone")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        lifecycle::fail_exhausted(db, after_lease, 1, "gone")
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        lifecycle::finish(db, &claimed, true, by()).await.unwrap(),
        None
    );
    assert_eq!(status(row(&app, &doc).await), DocumentStatus::Failed);
}

/// Forces a document's lease into the past, as if its holder had died long ago.
async fn lapse(app: &TestApp, id: &str) {
    documents::Entity::update_many()
        .col_expr(
            documents::Column::LeaseExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(documents::Column::Id.eq(Uuid::parse_str(id).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
}

/// Drains every job from the queue (as a Redis FLUSHALL or a crash before enqueue would).
async fn drain_queue(app: &TestApp) -> usize {
    let mut n = 0;
    while let Some(job) = app
        .state
        .queue
        .reserve("test-drain", Duration::from_millis(50))
        .await
        .unwrap()
    {
        app.state.queue.ack("test-drain", &job).await.unwrap();
        n += 1;
    }
    n
}

#[tokio::test]
async fn crashed_claims_count_as_attempts_and_the_third_one_fails_the_document() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    let s = app.register("poison").await;
    let doc = app
        .upload(
            &s,
            "poison.txt",
            "text/plain",
            b"crashes its worker".to_vec(),
        )
        .await;
    let id = Uuid::parse_str(&doc).unwrap();
    assert_eq!(drain_queue(&app).await, 1);
    for attempt in 1..=3 {
        // A worker claims the document and dies without a word.
        let claimed = pipeline::claim(&app.state, id).await.unwrap().unwrap();
        assert_eq!(claimed.attempts, attempt);
        assert_eq!(claimed.status, "processing");
        // While the lease holds, nobody else may claim it and the sweeper leaves it alone.
        assert!(pipeline::claim(&app.state, id).await.unwrap().is_none());
        assert_eq!(sweep(&app.state).await.unwrap().redispatched, 0);
        lapse(&app, &doc).await;
        let report = sweep(&app.state).await.unwrap();
        if attempt < 3 {
            assert_eq!(report.redispatched, 1, "attempt {attempt}");
            assert_eq!(row(&app, &doc).await.status, "queued");
            assert_eq!(drain_queue(&app).await, 1);
        } else {
            assert_eq!(report.failed, 1);
        }
    }
    let r = row(&app, &doc).await;
    assert_eq!(r.status, "failed");
    assert_eq!(r.attempts, 3);
    assert!(r.last_error.unwrap().contains("3 times"));
    assert!(pipeline::claim(&app.state, id).await.unwrap().is_none());
}

#[tokio::test]
async fn the_sweeper_redispatches_lost_jobs_and_crashed_work() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    let s = app.register("sweeper").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            app.upload(
                &s,
                &format!("n{i}.txt"),
                "text/plain",
                format!("note {i}").into_bytes(),
            )
            .await,
        );
    }
    // Every dispatch is lost; one document was claimed by a worker that then died.
    assert_eq!(drain_queue(&app).await, 6);
    pipeline::claim(&app.state, Uuid::parse_str(&ids[0]).unwrap())
        .await
        .unwrap()
        .unwrap();
    // Nothing happens before the leases lapse (no duplicate dispatch of live work).
    assert_eq!(sweep(&app.state).await.unwrap().redispatched, 0);
    for id in &ids {
        lapse(&app, id).await;
    }
    // Now start workers: the sweeper finds all six and they complete, the crashed one
    // on its second attempt.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    docuvault::jobs::worker::spawn(&app.state, &shutdown, &mut tasks);
    for id in &ids {
        let view = wait_processed(&app, &s, id).await;
        assert_eq!(view["status"], "unclassified", "{view}");
    }
    assert_eq!(row(&app, &ids[0]).await.attempts, 2);
    assert_eq!(row(&app, &ids[1]).await.attempts, 1);
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
}

#[tokio::test]
async fn a_thousand_documents_all_reach_a_terminal_state() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__JOBS__CONCURRENCY".into(), "4".into());
        env.insert(
            "DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES".into(),
            "100000000".into(),
        );
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "2000".into(),
        );
    })
    .await;
    let s = app.register("many").await;
    create_topic(&app, &s, "Apples", Some("fruit")).await;
    let total = 1000;
    let ids: Vec<String> = futures_util::future::join_all((0..8).map(|w| {
        let app = &app;
        let s = &s;
        async move {
            let mut ids = Vec::new();
            for i in (w..total).step_by(8) {
                let body = if i % 2 == 0 {
                    format!(
                        "Apples: a note about apples. We picked apples in the orchard and \
                         stored the apples in the cellar. Note {i}."
                    )
                } else {
                    format!(
                        "Meeting minutes about the budget and the weather. Nothing else \
                         to report today. Note {i}."
                    )
                };
                ids.push(
                    app.upload(s, &format!("doc-{i}.txt"), "text/plain", body.into_bytes())
                        .await,
                );
                // Half-way, the queue loses everything it holds (Redis FLUSHALL, a
                // restart of the in-process queue): the sweeper must recover it.
                if w == 0 && i == total / 2 {
                    drain_queue(app).await;
                }
            }
            ids
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(ids.len(), total);
    let deadline = Duration::from_secs(300);
    let db = &app.state.db;
    poll_until(deadline, "every document to finish", || async {
        let open = documents::Entity::find()
            .filter(documents::Column::Status.is_in(["queued", "processing", "pending"]))
            .all(db)
            .await
            .unwrap()
            .len();
        (open == 0).then_some(())
    })
    .await;
    let rows = documents::Entity::find().all(db).await.unwrap();
    assert_eq!(rows.len(), total);
    let failed: Vec<_> = rows.iter().filter(|r| r.status == "failed").collect();
    assert!(
        failed.is_empty(),
        "{:?}",
        failed.first().map(|r| &r.last_error)
    );
    let classified = rows.iter().filter(|r| r.status == "classified").count();
    assert_eq!(classified, total / 2);
}

#[tokio::test]
async fn metrics_and_health_report_processing() {
    let app = TestApp::spawn().await;
    let s = app.register("metrics").await;
    let doc = app
        .upload(&s, "m.txt", "text/plain", b"nothing to see".to_vec())
        .await;
    wait_processed(&app, &s, &doc).await;
    app.get_auth("/api/documents", &s.access).await;

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 401);
    let res = app.get_auth("/metrics", &s.access).await;
    assert_eq!(res.status(), 403);
    let admin = app.admin("metrics-admin").await;
    let res = app.get_auth("/metrics", &admin.access).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = res.text().await.unwrap();
    for needle in [
        "docuvault_http_request_duration_seconds_bucket{",
        "route=\"/api/documents\"",
        "route=\"/api/documents/{id}\"",
        "docuvault_jobs_total{outcome=\"unclassified\"} 1",
        "docuvault_queue_depth ",
        "docuvault_documents{status=\"unclassified\"} 1",
    ] {
        assert!(body.contains(needle), "{needle} missing in\n{body}");
    }
    // Raw paths (document ids) never become labels.
    assert!(!body.contains(&doc), "{body}");

    let health: Value = app.health().await.json().await.unwrap();
    assert_eq!(health["jobs"]["queued"], 0, "{health}");
    assert_eq!(health["jobs"]["processing"], 0);
    assert_eq!(health["jobs"]["failed"], 0);
    assert!(health["jobs"]["queue_depth"].is_u64());
}

#[tokio::test]
async fn metrics_can_move_to_their_own_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__METRICS__LISTEN".into(),
            format!("127.0.0.1:{port}"),
        );
    })
    .await;
    let admin = app.admin("metrics-admin2").await;
    assert_eq!(app.get_auth("/metrics", &admin.access).await.status(), 404);
    let body = poll_until(Duration::from_secs(10), "metrics listener", || async {
        let res = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .ok()?;
        (res.status() == 200).then_some(res.text().await.unwrap())
    })
    .await;
    assert!(body.contains("docuvault_queue_depth"), "{body}");
}

#[tokio::test]
async fn deleting_a_documents_last_topic_leaves_it_unclassified() {
    let app = TestApp::spawn().await;
    let s = app.register("deltopic").await;
    let bills = create_topic(&app, &s, "Bills", Some("bills")).await;
    let keep = create_topic(&app, &s, "Keep", Some("kept")).await;
    let one = app
        .upload(
            &s,
            "a.txt",
            "text/plain",
            b"Bills: electricity bills".to_vec(),
        )
        .await;
    let two = app
        .upload(&s, "b.txt", "text/plain", b"Bills and Keep this".to_vec())
        .await;
    // Filed by hand, so the classifier's opinion does not matter here.
    for (doc, topics) in [(&one, json!([bills])), (&two, json!([bills, keep]))] {
        wait_processed(&app, &s, doc).await;
        let res = app
            .client
            .patch(app.url(&format!("/api/documents/{doc}")))
            .bearer_auth(&s.access)
            .json(&json!({ "topics": topics }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(row(&app, doc).await.status, "classified");
    }
    assert_eq!(links(&app, &two).await.len(), 2);
    let res = app
        .client
        .delete(app.url(&format!("/api/topics/{bills}")))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(row(&app, &one).await.status, "unclassified");
    assert!(links(&app, &one).await.is_empty());
    assert_eq!(row(&app, &two).await.status, "classified");
    let l = links(&app, &two).await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].topic_id, keep);
}

fn job(n: u128) -> Job {
    Job::ProcessDocument {
        document_id: Uuid::from_u128(n),
    }
}

async fn take(app: &TestApp, worker: &str) -> Job {
    let reserved = app
        .state
        .queue
        .reserve(worker, Duration::from_secs(2))
        .await
        .unwrap()
        .expect("a job");
    app.state.queue.ack(worker, &reserved).await.unwrap();
    reserved.job
}

#[tokio::test]
async fn the_queue_serves_owners_in_turn() {
    // No workers: this test reserves the jobs itself (in-process queue, or Redis when
    // DOCUVAULT_TEST_REDIS_URL is set).
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    let queue = &app.state.queue;
    for n in 0..30 {
        queue.enqueue_for("alice", &job(n)).await.unwrap();
    }
    // Two workers each take one of Alice's jobs…
    assert_eq!(take(&app, "w1").await, job(0));
    assert_eq!(take(&app, "w2").await, job(1));
    // …then Bob's document arrives: it is next, ahead of Alice's 28 waiting jobs.
    queue.enqueue_for("bob", &job(1000)).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 29);
    assert_eq!(take(&app, "w1").await, job(1000));
    assert_eq!(take(&app, "w2").await, job(2));
    // Two more owners: one job each per round, in turn, each lane in its own order.
    queue.enqueue_for("carol", &job(2000)).await.unwrap();
    queue.enqueue_for("carol", &job(2001)).await.unwrap();
    queue.enqueue_for("bob", &job(1001)).await.unwrap();
    let mut order = Vec::new();
    for _ in 0..6 {
        order.push(take(&app, "w1").await);
    }
    assert_eq!(
        order,
        [job(2000), job(1001), job(3), job(2001), job(4), job(5)]
    );
    // An owner who sends one document at a time gets one turn per round, not all of
    // them: Alice's backlog still moves.
    for n in 0..5 {
        queue.enqueue_for("dave", &job(4000 + n)).await.unwrap();
        let pair = [take(&app, "w1").await, take(&app, "w1").await];
        assert!(pair.contains(&job(4000 + n)), "{pair:?}");
        assert!(
            pair.iter().any(
                |j| matches!(j, Job::ProcessDocument { document_id } if document_id.as_u128() < 30)
            ),
            "Alice starved: {pair:?}"
        );
    }
    // Jobs without an owner share one lane and still come out.
    queue.enqueue(&job(9000)).await.unwrap();
    let mut rest = Vec::new();
    while let Some(r) = queue
        .reserve("w1", Duration::from_millis(200))
        .await
        .unwrap()
    {
        queue.ack("w1", &r).await.unwrap();
        rest.push(r.job);
    }
    assert!(rest.contains(&job(9000)), "{rest:?}");
    assert_eq!(rest.len(), 30 - 11 + 1, "{rest:?}");
    assert_eq!(queue.depth().await.unwrap(), 0);
}

#[tokio::test]
async fn one_users_backlog_does_not_hold_up_another_users_document() {
    // One worker makes the order deterministic. The workers start only once everything
    // is queued, so Alice's whole backlog is waiting when Bob's document is.
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
        env.insert("DOCUVAULT__JOBS__CONCURRENCY".into(), "1".into());
    })
    .await;
    let alice = app.register("backlog").await;
    let bob = app.register("newcomer").await;
    let mut backlog = Vec::new();
    for i in 0..30 {
        let text = format!("note {i} of a long backlog\n");
        backlog.push(
            app.upload(
                &alice,
                &format!("a{i}.txt"),
                "text/plain",
                text.into_bytes(),
            )
            .await,
        );
    }
    let bobs = app
        .upload(&bob, "b.txt", "text/plain", b"bob's only note\n".to_vec())
        .await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    docuvault::jobs::worker::spawn(&app.state, &shutdown, &mut tasks);
    for id in backlog.iter().chain([&bobs]) {
        let view = wait_processed(&app, if *id == bobs { &bob } else { &alice }, id).await;
        assert_eq!(view["status"], "unclassified", "{view}");
    }
    shutdown.cancel();
    let done_at = row(&app, &bobs).await.updated_at;
    let mut before = 0;
    for id in &backlog {
        if row(&app, id).await.updated_at < done_at {
            before += 1;
        }
    }
    let workers = app.settings.jobs.concurrency;
    assert!(
        before <= workers as usize,
        "{before} of Alice's documents finished before Bob's (at most {workers}, one per worker)"
    );
}
