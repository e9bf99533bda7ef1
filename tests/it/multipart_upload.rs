//! `POST /api/documents` with `multipart/form-data`: one request stores a document like
//! the three-step flow (processing, folder, hand-filed topics sent before or after the
//! file); malformed forms, unknown topics or folders, the size limit, the quota and the
//! duplicates rule answer as documented and leave nothing stored, reserved or charged; a
//! file of several MiB streams through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::{Session, TestApp, body, create_topic, poll_until, text_of, wait_processed};
use crate::direct_upload::real_pdf;
use docuvault::entities::document_topics;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

/// A `multipart/form-data` body built part by part, in the order given.
struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Form {
    fn new() -> Self {
        Self {
            boundary: format!("dvtest{}", Uuid::new_v4().simple()),
            body: Vec::new(),
        }
    }

    fn part(mut self, headers: &str, value: &[u8]) -> Self {
        self.body
            .extend_from_slice(format!("--{}\r\n{headers}\r\n\r\n", self.boundary).as_bytes());
        self.body.extend_from_slice(value);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    fn text(self, name: &str, value: &str) -> Self {
        self.part(
            &format!("Content-Disposition: form-data; name=\"{name}\""),
            value.as_bytes(),
        )
    }

    fn file(self, filename: &str, content_type: Option<&str>, bytes: &[u8]) -> Self {
        let mut headers =
            format!("Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"");
        if let Some(ct) = content_type {
            headers.push_str(&format!("\r\nContent-Type: {ct}"));
        }
        self.part(&headers, bytes)
    }

    fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

async fn post_form(app: &TestApp, s: &Session, form: Form) -> reqwest::Response {
    let (content_type, bytes) = form.finish();
    app.post_raw("/api/documents", Some(&s.access), &content_type, bytes)
        .await
}

async fn quota(app: &TestApp, s: &Session) -> Value {
    let res = app.get_auth("/api/auth/me/quota", &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await
}

/// Asserts `used` charged, nothing reserved, no pending row, `expected` document
/// objects (thumbnails aside) and a clean fsck.
async fn assert_left(app: &TestApp, s: &Session, used: i64, expected: usize) {
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
    assert_eq!(documents.len(), expected, "objects: {objects:?}");
    if let Some(local) = &app.state.local_store {
        let dir = local.tmp_dir();
        poll_until(Duration::from_secs(10), "no temporary files", || async {
            std::fs::read_dir(&dir)
                .unwrap()
                .next()
                .is_none()
                .then_some(())
        })
        .await;
    }
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");
    assert!(fsck.document_problems.is_empty(), "{fsck}");
}

async fn error_code(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    let b = body(res).await;
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    b
}

#[tokio::test]
async fn a_real_pdf_in_one_request_is_processed_like_a_three_step_upload() {
    let app = TestApp::spawn().await;
    let s = app.register("onereq").await;
    let tax = create_topic(&app, &s, "Tax", None).await;
    let bank = create_topic(&app, &s, "Bank Statements", None).await;
    let res = app
        .post_json(
            "/api/folders",
            Some(&s.access),
            &json!({"name": "Inbox", "parent_id": null}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let folder = body(res).await["id"].as_str().unwrap().to_owned();
    let (name, pdf) = real_pdf();

    // Folder before the file, topics after it (as `curl -F file=@x -F topics=…` sends).
    let res = post_form(
        &app,
        &s,
        Form::new()
            .text("folder_id", &folder)
            .file(&name, Some("application/pdf"), &pdf)
            .text("topics", "tax")
            .text("topics", &format!("{bank}, Tax")),
    )
    .await;
    assert_eq!(res.status(), 201);
    let location = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let view = body(res).await;
    let id = view["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/documents/{id}"));
    assert_ne!(view["status"], "pending", "{view}");
    assert_eq!(view["size_bytes"], pdf.len());
    assert_eq!(view["filename"], name.as_str());
    assert_eq!(view["content_type"], "application/pdf");
    assert_eq!(view["folder_id"], folder.as_str());

    let three_step = app.upload(&s, &name, "application/pdf", pdf.clone()).await;
    let one = wait_processed(&app, &s, &id).await;
    let three = wait_processed(&app, &s, &three_step).await;
    assert_eq!(one["status"], "classified", "hand-filed: {one}");
    assert_ne!(three["status"], "failed", "{three}");
    let t1 = text_of(&app, &s, &id).await["text"].clone();
    let t3 = text_of(&app, &s, &three_step).await["text"].clone();
    assert!(t1.as_str().is_some_and(|t| t.len() > 20), "{t1}");
    assert_eq!(t1, t3, "the same text as the three-step upload");
    let user_links: Vec<Uuid> = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.eq(Uuid::parse_str(&id).unwrap()))
        .filter(document_topics::Column::Source.eq("user"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.topic_id)
        .collect();
    assert_eq!(user_links.len(), 2, "{user_links:?}");
    assert!(user_links.contains(&tax) && user_links.contains(&bank));

    // No declared type (or octet-stream): the extension decides.
    let res = post_form(
        &app,
        &s,
        Form::new().file(
            "notes.txt",
            Some("application/octet-stream"),
            b"plain notes",
        ),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(body(res).await["content_type"], "text/plain");
    assert_left(&app, &s, 2 * pdf.len() as i64 + 11, 3).await;
}

#[tokio::test]
async fn malformed_forms_unknown_topics_and_folders_store_nothing() {
    let app = TestApp::spawn().await;
    let s = app.register("badforms").await;
    create_topic(&app, &s, "Tax", None).await;
    let pdf = real_pdf().1;

    let cases: Vec<(Form, u16, &str)> = vec![
        (Form::new().text("topics", "Tax"), 400, "multipart_invalid"),
        (
            Form::new()
                .file("a.pdf", Some("application/pdf"), &pdf)
                .file("b.pdf", Some("application/pdf"), &pdf),
            400,
            "multipart_invalid",
        ),
        (
            Form::new()
                .file("a.pdf", Some("application/pdf"), &pdf)
                .text("colour", "red"),
            400,
            "multipart_invalid",
        ),
        (
            Form::new().text("folder_id", "not-a-uuid"),
            400,
            "multipart_invalid",
        ),
        (
            Form::new()
                .file("a.pdf", Some("application/pdf"), &pdf)
                .text("topics", "Tax, Holidays"),
            422,
            "unknown_topic",
        ),
        (
            Form::new()
                .text("topics", "Holidays")
                .file("a.pdf", Some("application/pdf"), &pdf),
            422,
            "unknown_topic",
        ),
        (
            Form::new()
                .file("a.pdf", Some("application/pdf"), &pdf)
                .text("folder_id", &Uuid::new_v4().to_string()),
            404,
            "not_found",
        ),
        (
            Form::new().file("tool.exe", None, b"MZ\x90\x00"),
            415,
            "unsupported_media_type",
        ),
    ];
    for (i, (form, status, code)) in cases.into_iter().enumerate() {
        let b = error_code(post_form(&app, &s, form).await, status).await;
        assert_eq!(b["code"], code, "case {i}: {b}");
    }
    // Not a form at all; the JSON upload-URL flow is where it was.
    let res = app
        .post_json(
            "/api/documents",
            Some(&s.access),
            &json!({"filename": "a.pdf"}),
        )
        .await;
    assert_eq!(error_code(res, 415).await["code"], "unsupported_media_type");
    let ticket = app.upload_url(&s, "a.txt", "text/plain", 3).await;
    assert!(ticket["upload_url"].is_string());
    let res = app
        .client
        .delete(app.url(&format!(
            "/api/documents/{}",
            ticket["document_id"].as_str().unwrap()
        )))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_left(&app, &s, 0, 0).await;
}

#[tokio::test]
async fn over_the_size_limit_is_a_413_that_keeps_nothing() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__STORAGE__MAX_OBJECT_BYTES".into(),
            (1 << 20).to_string(),
        );
    })
    .await;
    let s = app.register("huge").await;
    let before = quota(&app, &s).await;
    let big = "Quarterly report, page after page of figures.\n".repeat(70_000);
    assert!(big.len() > 3 << 20);
    let res = post_form(
        &app,
        &s,
        Form::new().file("report.txt", Some("text/plain"), big.as_bytes()),
    )
    .await;
    assert_eq!(error_code(res, 413).await["code"], "payload_too_large");
    assert_eq!(quota(&app, &s).await, before);
    assert_left(&app, &s, 0, 0).await;
}

#[tokio::test]
async fn over_quota_is_the_quota_body_and_duplicates_are_rejected() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES".into(),
            "500000".into(),
        );
        env.insert("DOCUVAULT__DOCUMENTS__DUPLICATES".into(), "reject".into());
    })
    .await;
    let s = app.register("quota").await;
    let first = "Electricity bill for January.\n".repeat(7000);
    let res = post_form(
        &app,
        &s,
        Form::new().file("bill.txt", None, first.as_bytes()),
    )
    .await;
    assert_eq!(res.status(), 201);
    let original = body(res).await["id"].as_str().unwrap().to_owned();
    let used = first.len() as i64;

    let second = "Water bill for February.\n".repeat(12000);
    let res = post_form(
        &app,
        &s,
        Form::new().file("water.txt", None, second.as_bytes()),
    )
    .await;
    let b = error_code(res, 413).await;
    assert_eq!(b["code"], "quota_exceeded", "{b}");
    assert_eq!(b["detail"]["used_bytes"], used, "{b}");
    assert_eq!(b["detail"]["limit_bytes"], 500000, "{b}");
    assert_eq!(b["detail"]["reserved_bytes"], 0, "{b}");
    assert!(b["detail"]["rejected_bytes"].as_i64().unwrap() > 500000 - used);

    let res = post_form(
        &app,
        &s,
        Form::new().file("copy.txt", None, first.as_bytes()),
    )
    .await;
    let b = error_code(res, 409).await;
    assert_eq!(b["code"], "duplicate_document");
    assert_eq!(b["existing_id"], original.as_str());
    assert_left(&app, &s, used, 1).await;
}

#[tokio::test]
async fn a_large_file_streams_through() {
    let app = TestApp::spawn().await;
    let s = app.register("large").await;
    // Real text, larger than the parser's buffers and the channel to the store, and on
    // S3 larger than rust-s3's 8 MiB part size: a multipart upload server-side.
    let target = (9 << 20) + 12345;
    let paragraph = "Minutes of the annual meeting of the allotment association. The \
        treasurer reported the accounts for the year; the members approved the budget, \
        elected a new board and agreed on the rules for the shared tool shed.\n";
    let mut text = String::new();
    let mut n = 0;
    while text.len() < target {
        n += 1;
        text.push_str(&format!("{n}. {paragraph}"));
    }
    assert!(text.len() > 5 << 20);
    let res = post_form(
        &app,
        &s,
        Form::new()
            .file("minutes.txt", Some("text/plain"), text.as_bytes())
            .text("topics", ""),
    )
    .await;
    let status = res.status();
    let view = body(res).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["size_bytes"], text.len());
    let doc = docuvault::entities::documents::Entity::find_by_id(
        Uuid::parse_str(view["id"].as_str().unwrap()).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap();
    let stored = app
        .state
        .storage
        .get(&docuvault::domain::ObjectKey::parse(&doc.object_key).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored == text.as_bytes(), "the stored bytes are the file's");
    let processed = wait_processed(&app, &s, view["id"].as_str().unwrap()).await;
    assert_ne!(processed["status"], "failed", "{processed}");
    assert_left(&app, &s, text.len() as i64, 1).await;
}
