//! The one-step intake core (`documents::direct::store_new`), called as the watched
//! folder and e-mail intake call it: a real PDF stored from a stream ends exactly like a
//! three-step upload; the type comes from the extension when undeclared; the size limit
//! and the quota stop the stream and leave nothing stored, reserved or charged; the
//! duplicates rule and the pending limit hold; topics resolve by name or id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::common::samples::pdf_with_stream;
use crate::common::{Session, TestApp, body, create_topic, poll_until, text_of, wait_processed};
use docuvault::documents::direct::{NewDocument, resolve_topics, store_new};
use docuvault::documents::service::UploadError;
use docuvault::domain::{FolderId, TopicId, UserId};
use docuvault::entities::{DocumentStatus, document_topics};
use docuvault::error::{ApiError, ErrorCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};
use uuid::Uuid;

/// A real PDF: one from the test corpus when it is there, else a generated one-page PDF
/// with a text layer.
pub fn real_pdf() -> (String, Vec<u8>) {
    let dir = std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            std::path::Path::new(&home).join(".cache/docuvault-corpus/v1")
        });
    match std::fs::read(dir.join("pdf/euro.pdf")) {
        Ok(bytes) => ("euro.pdf".into(), bytes),
        Err(_) => (
            "statement.pdf".into(),
            pdf_with_stream(
                "BT /F1 14 Tf 72 700 Td (Bank statement for March: salary, rent and the \
                 electricity bill were booked on the current account.) Tj ET",
            ),
        ),
    }
}

fn user(s: &Session) -> UserId {
    UserId::from(Uuid::parse_str(&s.user_id).unwrap())
}

fn new_doc(filename: &str, content_type: Option<&str>, size: Option<u64>) -> NewDocument {
    NewDocument {
        filename: filename.into(),
        content_type: content_type.map(str::to_owned),
        size,
        folder_id: None,
        topic_ids: Vec::new(),
    }
}

async fn quota(app: &TestApp, s: &Session) -> Value {
    let res = app.get_auth("/api/auth/me/quota", &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await
}

/// Asserts the account has nothing reserved, `used` charged, no pending row, no document
/// object beyond the `expected` ones (thumbnails aside), no temporary file (local store) and a clean fsck.
async fn assert_nothing_left(app: &TestApp, s: &Session, used: i64, expected_objects: usize) {
    let q = quota(app, s).await;
    assert_eq!(q["used_bytes"], used, "{q}");
    assert_eq!(q["reserved_bytes"], 0, "{q}");
    let pending = app
        .get_auth("/api/documents?status=pending", &s.access)
        .await;
    assert_eq!(body(pending).await["total"], 0);
    let objects = app
        .state
        .storage
        .list(&format!("{}/", s.user_id))
        .await
        .unwrap();
    let documents: Vec<_> = objects
        .iter()
        .filter(|o| !o.key.contains(".thumbnail"))
        .collect();
    assert_eq!(documents.len(), expected_objects, "objects: {objects:?}");
    if let Some(local) = &app.state.local_store {
        // Background writes (thumbnails) pass through `.tmp` briefly; a leaked temporary
        // file stays.
        let dir = local.tmp_dir();
        poll_until(Duration::from_secs(10), "no temporary files", || async {
            let temps: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            temps.is_empty().then_some(())
        })
        .await;
    }
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");
    assert!(fsck.document_problems.is_empty(), "{fsck}");
}

fn api_error(e: UploadError) -> ApiError {
    match e {
        UploadError::Api(e) => e,
        UploadError::QuotaExceeded(d) => panic!("quota exceeded: {d:?}"),
    }
}

fn status_of(e: &ApiError) -> u16 {
    actix_web::ResponseError::status_code(e).as_u16()
}

/// A body that yields `good` bytes, then fails with `error`.
struct FailingBody {
    good: Cursor<Vec<u8>>,
    error: Option<std::io::Error>,
}

impl AsyncRead for FailingBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.good).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before => {
                let e = this.error.take().expect("not read again after failing");
                Poll::Ready(Err(e))
            }
            other => other,
        }
    }
}

#[tokio::test]
async fn a_real_pdf_stored_from_a_stream_ends_like_a_three_step_upload() {
    let app = TestApp::spawn().await;
    let s = app.register("direct").await;
    let (name, pdf) = real_pdf();
    let size = pdf.len() as i64;

    let three_step = app.upload(&s, &name, "application/pdf", pdf.clone()).await;
    let doc = store_new(
        &app.state,
        user(&s),
        new_doc(&name, None, None),
        Cursor::new(pdf.clone()),
    )
    .await
    .map_err(api_error)
    .unwrap();
    // Queued, or already taken by a worker.
    let has_text = docuvault::documents::texts::get(&app.state.db, doc.id)
        .await
        .unwrap()
        .is_some();
    assert!(
        [DocumentStatus::Queued, DocumentStatus::Processing].contains(&doc.status) || has_text,
        "{:?}",
        doc.status
    );
    // Hashed while streaming (confirm does not read the bytes back): the file's own hash.
    let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf));
    assert_eq!(doc.sha256.as_deref(), Some(expected.as_str()));
    assert_eq!(doc.content_type, "application/pdf", "from the extension");
    assert_eq!(doc.size_bytes, size);
    assert_eq!(doc.filename, name);
    let stored = app
        .state
        .storage
        .get(&docuvault::domain::ObjectKey::parse(&doc.object_key).unwrap())
        .await
        .unwrap()
        .expect("the object is stored under its final key");
    assert_eq!(stored, pdf);
    let q = quota(&app, &s).await;
    assert_eq!(q["used_bytes"], 2 * size, "both charged: {q}");
    assert_eq!(
        q["reserved_bytes"], 0,
        "the bound reserved while streaming is settled: {q}"
    );

    let id = doc.id.to_string();
    let one = wait_processed(&app, &s, &id).await;
    let three = wait_processed(&app, &s, &three_step).await;
    for key in ["status", "content_type", "size_bytes", "filename"] {
        assert_eq!(one[key], three[key], "{key}: {one} vs {three}");
    }
    assert_ne!(one["status"], "failed", "{one}");
    let (t1, t3) = (
        text_of(&app, &s, &id).await,
        text_of(&app, &s, &three_step).await,
    );
    assert!(
        t1["text"].as_str().is_some_and(|t| t.len() > 20),
        "text extracted: {t1}"
    );
    assert_eq!(t1["text"], t3["text"]);
    // The first version is recorded as for a confirmed upload.
    let versions = app
        .get_auth(&format!("/api/documents/{id}/versions"), &s.access)
        .await;
    assert_eq!(versions.status(), 200);
    let versions = body(versions).await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1, "{versions}");
    assert_nothing_left(&app, &s, 2 * size, 2).await;
}

#[tokio::test]
async fn folder_and_topics_are_applied_by_hand_and_topics_resolve_by_name_or_id() {
    let app = TestApp::spawn().await;
    let s = app.register("filer").await;
    let other = app.register("other").await;
    let tax = create_topic(&app, &s, "Tax Returns", None).await;
    let bank = create_topic(&app, &s, "Bank", None).await;
    let theirs = create_topic(&app, &other, "Secret", None).await;
    let res = app
        .post_json(
            "/api/folders",
            Some(&s.access),
            &json!({"name": "2026", "parent_id": null}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let folder: Uuid = body(res).await["id"].as_str().unwrap().parse().unwrap();

    // Names compare like the topics service compares them; ids work; commas list.
    let db = &app.state.db;
    let got = resolve_topics(db, user(&s), &["  tax   returns ".into(), bank.to_string()])
        .await
        .unwrap();
    assert_eq!(got, vec![TopicId::from(tax), TopicId::from(bank)]);
    let got = resolve_topics(db, user(&s), &["Bank, Tax Returns".into(), "bank".into()])
        .await
        .unwrap();
    assert_eq!(got, vec![TopicId::from(bank), TopicId::from(tax)]);
    for bad in ["Nope", "Bank, Nope"] {
        let e = resolve_topics(db, user(&s), &[bad.into()])
            .await
            .unwrap_err();
        assert_eq!(status_of(&e), 422);
        assert!(e.to_string().contains("Nope"), "{e}");
    }
    // Another account's topic, by id or by name, is unknown.
    for bad in [theirs.to_string(), "Secret".into()] {
        let e = resolve_topics(db, user(&s), &[bad]).await.unwrap_err();
        assert_eq!(status_of(&e), 422, "{e}");
    }

    let text = "Tax return 2026: income, deductions and the refund from the tax office.\n";
    let mut new = new_doc("return.txt", Some("text/plain"), Some(text.len() as u64));
    new.folder_id = Some(FolderId::from(folder));
    new.topic_ids = vec![TopicId::from(tax)];
    let doc = store_new(
        &app.state,
        user(&s),
        new,
        Cursor::new(text.as_bytes().to_vec()),
    )
    .await
    .map_err(api_error)
    .unwrap();
    assert_eq!(doc.folder_id, Some(folder));
    let view = wait_processed(&app, &s, &doc.id.to_string()).await;
    assert_eq!(view["status"], "classified", "{view}");
    assert_eq!(view["folder_id"], folder.to_string());
    let links = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.eq(doc.id))
        .filter(document_topics::Column::TopicId.eq(tax))
        .one(db)
        .await
        .unwrap()
        .expect("filed under the topic");
    assert_eq!(links.source, "user", "a hand-filing: {links:?}");

    // An unknown folder is a 404 before anything is stored.
    let mut new = new_doc("x.txt", None, None);
    new.folder_id = Some(FolderId::new());
    let e = store_new(&app.state, user(&s), new, Cursor::new(b"abc".to_vec()))
        .await
        .map_err(api_error)
        .unwrap_err();
    assert_eq!(status_of(&e), 404);
    assert_nothing_left(&app, &s, text.len() as i64, 1).await;
}

#[tokio::test]
async fn the_type_comes_from_the_extension_only_when_undeclared() {
    let app = TestApp::spawn().await;
    let s = app.register("types").await;
    let doc = store_new(
        &app.state,
        user(&s),
        new_doc("notes.MD", Some("application/octet-stream"), None),
        Cursor::new(b"# Notes\n".to_vec()),
    )
    .await
    .map_err(api_error)
    .unwrap();
    assert_eq!(doc.content_type, "text/markdown");
    assert!(doc.object_key.ends_with(".md"), "{}", doc.object_key);

    // Unknown extension, or a declared type that is not accepted: 415, nothing kept.
    for (name, ct) in [
        ("tool.exe", None),
        ("a.pdf", Some("application/x-msdownload")),
    ] {
        let e = store_new(
            &app.state,
            user(&s),
            new_doc(name, ct, None),
            Cursor::new(b"MZ".to_vec()),
        )
        .await
        .map_err(api_error)
        .unwrap_err();
        assert_eq!(status_of(&e), 415, "{name}: {e}");
    }
    assert_nothing_left(&app, &s, 8, 1).await;
}

#[tokio::test]
async fn the_size_limit_stops_the_stream_and_leaves_nothing() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__STORAGE__MAX_OBJECT_BYTES".into(),
            (64 * 1024).to_string(),
        );
        env.insert(
            "DOCUVAULT__STORAGE__MAX_INFLIGHT_UPLOAD_BYTES".into(),
            (64 * 1024).to_string(),
        );
    })
    .await;
    let s = app.register("big").await;
    let big = vec![b'a'; 200 * 1024];
    // Unknown size: stopped once past the limit.
    let e = store_new(
        &app.state,
        user(&s),
        new_doc("big.txt", None, None),
        Cursor::new(big.clone()),
    )
    .await
    .map_err(api_error)
    .unwrap_err();
    assert_eq!(status_of(&e), 413, "{e}");
    assert_eq!(
        serde_json::to_value(ErrorCode::PayloadTooLarge).unwrap(),
        "payload_too_large"
    );
    // Declared too large: refused before reading.
    let e = store_new(
        &app.state,
        user(&s),
        new_doc("big.txt", None, Some(big.len() as u64)),
        Cursor::new(big.clone()),
    )
    .await
    .map_err(api_error)
    .unwrap_err();
    assert_eq!(status_of(&e), 413, "{e}");
    // Exactly at the limit is fine.
    let doc = store_new(
        &app.state,
        user(&s),
        new_doc("fits.txt", None, None),
        Cursor::new(vec![b'b'; 64 * 1024]),
    )
    .await
    .map_err(api_error)
    .unwrap();
    assert_eq!(doc.size_bytes, 64 * 1024);
    assert_nothing_left(&app, &s, 64 * 1024, 1).await;
}

#[tokio::test]
async fn the_quota_bounds_the_stream_and_a_refusal_charges_nothing() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES".into(),
            "10000".into(),
        );
    })
    .await;
    let s = app.register("tight").await;
    let first = store_new(
        &app.state,
        user(&s),
        new_doc("a.txt", None, None),
        Cursor::new(vec![b'a'; 6000]),
    )
    .await
    .map_err(api_error)
    .unwrap();
    assert_eq!(first.size_bytes, 6000);
    // Unknown size: the reservation is what the quota has left, the stream stops past it.
    let Err(UploadError::QuotaExceeded(detail)) = store_new(
        &app.state,
        user(&s),
        new_doc("b.txt", None, None),
        Cursor::new(vec![b'b'; 6000]),
    )
    .await
    else {
        panic!("over quota must be refused");
    };
    assert_eq!(detail.used_bytes, 6000);
    assert_eq!(detail.limit_bytes, 10000);
    assert_eq!(detail.reserved_bytes, 0, "released: {detail:?}");
    assert!(detail.rejected_bytes > 4000, "{detail:?}");
    // Known size: refused up front.
    let Err(UploadError::QuotaExceeded(detail)) = store_new(
        &app.state,
        user(&s),
        new_doc("c.txt", None, Some(6000)),
        Cursor::new(vec![b'c'; 6000]),
    )
    .await
    else {
        panic!("over quota must be refused");
    };
    assert_eq!(detail.rejected_bytes, 6000);
    // What still fits is accepted.
    store_new(
        &app.state,
        user(&s),
        new_doc("d.txt", None, None),
        Cursor::new(vec![b'd'; 4000]),
    )
    .await
    .map_err(api_error)
    .unwrap();
    assert_nothing_left(&app, &s, 10000, 2).await;
}

#[tokio::test]
async fn duplicates_failing_bodies_and_the_pending_limit_leave_nothing() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__DOCUMENTS__DUPLICATES".into(), "reject".into());
        env.insert(
            "DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER".into(),
            "1".into(),
        );
    })
    .await;
    let s = app.register("dupes").await;
    let bytes = b"The same invoice twice.".to_vec();
    let original = app
        .upload(&s, "invoice.txt", "text/plain", bytes.clone())
        .await;
    let e = store_new(
        &app.state,
        user(&s),
        new_doc("again.txt", None, None),
        Cursor::new(bytes.clone()),
    )
    .await
    .map_err(api_error)
    .unwrap_err();
    match e {
        ApiError::Duplicate { existing_id } => assert_eq!(existing_id.to_string(), original),
        other => panic!("expected a duplicate: {other:?}"),
    }
    let size = bytes.len() as i64;
    assert_nothing_left(&app, &s, size, 1).await;

    // A body failing midway: the ApiError it wraps is the answer; a plain I/O error is
    // a 400. Nothing of either is kept.
    let e = store_new(
        &app.state,
        user(&s),
        new_doc("cut.txt", None, None),
        FailingBody {
            good: Cursor::new(vec![b'x'; 100_000]),
            error: Some(std::io::Error::other(ApiError::RequestTimeout(
                "too slow".into(),
            ))),
        },
    )
    .await
    .map_err(api_error)
    .unwrap_err();
    assert_eq!(status_of(&e), 408, "{e}");
    let e = store_new(
        &app.state,
        user(&s),
        new_doc("cut.txt", None, Some(100_000)),
        FailingBody {
            good: Cursor::new(vec![b'y'; 50_000]),
            error: Some(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        },
    )
    .await
    .map_err(api_error)
    .unwrap_err();
    assert_eq!(status_of(&e), 400, "{e}");
    assert_nothing_left(&app, &s, size, 1).await;

    // The pending-per-user limit: one open upload URL already.
    app.upload_url(&s, "open.txt", "text/plain", 3).await;
    let e = store_new(
        &app.state,
        user(&s),
        new_doc("more.txt", None, None),
        Cursor::new(b"abc".to_vec()),
    )
    .await
    .map_err(api_error)
    .unwrap_err();
    assert_eq!(status_of(&e), 429, "{e}");
}
