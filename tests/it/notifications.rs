//! Share notices: a new share leaves the recipient a notice (and an e-mail through a
//! real SMTP server, aiosmtpd), only the recipient sees it, it can be marked read, and
//! it shows nothing of a document that was trashed or unshared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{SmtpServer, aiosmtpd_python, as_read};
use common::{Session, TestApp, body};
use reqwest::Method;
use serde_json::{Value, json};

const NAME: &str = "Rechnung März 2026.pdf";

async fn share(app: &TestApp, owner: &Session, doc: &str, recipient: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/documents/{doc}/shares"),
        Some(&owner.access),
        &json!({"recipient": recipient}),
    )
    .await
}

async fn notices(app: &TestApp, s: &Session) -> Value {
    let res = app.get_auth("/api/notifications", &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await
}

async fn mark_read(app: &TestApp, s: &Session, payload: &Value) -> reqwest::Response {
    app.send(
        Method::POST,
        "/api/notifications/read",
        &s.access,
        Some(payload),
    )
    .await
}

async fn upload(app: &TestApp, owner: &Session) -> String {
    app.upload(owner, NAME, "application/pdf", common::samples::hello_pdf())
        .await
}

#[tokio::test]
async fn a_share_leaves_the_recipient_a_notice_and_an_email() {
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let mut smtp = SmtpServer::start(&python).await;
    let port = smtp.port;
    let app = TestApp::spawn_with(|env| {
        env.insert("SMTP_HOST".into(), "127.0.0.1".into());
        env.insert("SMTP_PORT".into(), port.to_string());
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let doc = upload(&app, &alice).await;

    let empty = notices(&app, &bob).await;
    assert_eq!(empty, json!({"items": [], "unread": 0}));

    assert_eq!(share(&app, &alice, &doc, "bob").await.status(), 201);
    // Sharing again is the same share: no second notice.
    assert_eq!(
        share(&app, &alice, &doc, "BOB@example.com").await.status(),
        200
    );

    let list = notices(&app, &bob).await;
    assert_eq!(list["unread"], 1, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let notice = &items[0];
    assert_eq!(notice["kind"], "share_received");
    assert_eq!(notice["document_id"], doc.as_str());
    assert_eq!(notice["filename"], NAME);
    assert_eq!(notice["from_handle"], "alice");
    assert!(notice["read_at"].is_null());
    assert!(notice["created_at"].is_string());
    let id = notice["id"].as_str().unwrap().to_owned();

    // Only the recipient sees it, and only the recipient can mark it read.
    for other in [&alice, &carol] {
        assert_eq!(
            notices(&app, other).await,
            json!({"items": [], "unread": 0})
        );
        assert_eq!(
            mark_read(&app, other, &json!({"ids": [id]})).await.status(),
            204
        );
        assert_eq!(mark_read(&app, other, &json!({})).await.status(), 204);
    }
    assert_eq!(
        notices(&app, &bob).await["unread"],
        1,
        "untouched by others"
    );

    // The e-mail: who, what, and the link to the document.
    let mail = as_read(&smtp.wait_for_message("To: bob@example.com").await);
    assert!(
        mail.contains("Subject: alice shared a document with you on DocuVault"),
        "{mail}"
    );
    assert!(
        mail.contains(NAME),
        "the file name, letters intact:\n{mail}"
    );
    assert!(
        mail.contains(&format!("{}/documents/{doc}", app.address)),
        "{mail}"
    );

    // Marked read by id.
    assert_eq!(
        mark_read(&app, &bob, &json!({"ids": [id]})).await.status(),
        204
    );
    let list = notices(&app, &bob).await;
    assert_eq!(list["unread"], 0);
    let read_at = list["items"][0]["read_at"].as_str().unwrap().to_owned();
    // Marking all again keeps the first time.
    assert_eq!(
        mark_read(&app, &bob, &json!({"ids": null})).await.status(),
        204
    );
    assert_eq!(
        notices(&app, &bob).await["items"][0]["read_at"],
        read_at.as_str()
    );

    // A second share, marked read with "all".
    let other = upload(&app, &carol).await;
    assert_eq!(share(&app, &carol, &other, "bob").await.status(), 201);
    let list = notices(&app, &bob).await;
    assert_eq!(list["unread"], 1);
    assert_eq!(list["items"][0]["from_handle"], "carol", "newest first");
    assert_eq!(list["items"][1]["from_handle"], "alice");
    assert_eq!(mark_read(&app, &bob, &json!({})).await.status(), 204);
    assert_eq!(notices(&app, &bob).await["unread"], 0);
    smtp.wait_for_message("carol shared a document").await;
}

#[tokio::test]
async fn a_notice_shows_nothing_of_a_trashed_or_unshared_document() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let doc = upload(&app, &alice).await;
    let res = share(&app, &alice, &doc, "bob").await;
    assert_eq!(res.status(), 201);
    let share_id = body(res).await["id"].as_str().unwrap().to_owned();
    assert_eq!(notices(&app, &bob).await["unread"], 1);

    // In the trash: hidden (name included), and back on restore.
    assert_eq!(
        app.delete_auth(&format!("/api/documents/{doc}"), &alice.access)
            .await
            .status(),
        204
    );
    let hidden = notices(&app, &bob).await;
    assert_eq!(hidden, json!({"items": [], "unread": 0}));
    assert!(!hidden.to_string().contains("März"));
    let restored = app
        .send(
            Method::POST,
            &format!("/api/documents/{doc}/restore"),
            &alice.access,
            None,
        )
        .await;
    assert!(restored.status().is_success(), "{}", restored.status());
    assert_eq!(notices(&app, &bob).await["items"][0]["filename"], NAME);

    // Unshared: gone for good; a new share is a new notice.
    assert_eq!(
        app.delete_auth(&format!("/api/shares/{share_id}"), &alice.access)
            .await
            .status(),
        204
    );
    assert_eq!(notices(&app, &bob).await, json!({"items": [], "unread": 0}));
    assert_eq!(share(&app, &alice, &doc, "bob").await.status(), 201);
    assert_eq!(notices(&app, &bob).await["unread"], 1);

    // Deleted for good: gone.
    assert_eq!(
        app.delete_auth(&format!("/api/documents/{doc}"), &alice.access)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete_auth(
            &format!("/api/documents/{doc}?permanent=true"),
            &alice.access
        )
        .await
        .status()
        .as_u16()
            / 100,
        2
    );
    assert_eq!(notices(&app, &bob).await, json!({"items": [], "unread": 0}));
    use sea_orm::{EntityTrait, PaginatorTrait};
    let rows = docuvault::entities::notifications::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 0, "the notices went with the document");
}

#[tokio::test]
async fn notices_are_for_regular_accounts_and_bad_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let bob = app.register("bob").await;

    let res = app.get_auth("/api/notifications", &admin.access).await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/api/notifications").await.status(), 401);

    let too_many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let res = mark_read(&app, &bob, &json!({"ids": too_many})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "validation_failed");
    let res = mark_read(&app, &bob, &json!({"ids": ["not-a-uuid"]})).await;
    assert_eq!(res.status(), 422);
    let res = mark_read(&app, &bob, &json!({"unknown": true})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        mark_read(&app, &bob, &json!({"ids": []})).await.status(),
        204
    );
}

#[tokio::test]
async fn a_bulk_share_sends_one_digest_email_naming_the_new_shares() {
    use sea_orm::{EntityTrait, Set};
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let mut smtp = SmtpServer::start(&python).await;
    let port = smtp.port;
    let app = TestApp::spawn_with(|env| {
        env.insert("SMTP_HOST".into(), "127.0.0.1".into());
        env.insert("SMTP_PORT".into(), port.to_string());
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let owner = uuid::Uuid::parse_str(&alice.user_id).unwrap();
    // 23 processed documents: one shared on its own first, 22 new in the bulk share.
    let mut ids = Vec::new();
    for i in 1..=23 {
        let mut row = common::document_row(owner);
        ids.push(row.id.as_ref().to_string());
        row.filename = Set(format!("doc-{i:02}.pdf"));
        row.status = Set("classified".parse().unwrap());
        docuvault::entities::documents::Entity::insert(row)
            .exec_without_returning(&app.state.db)
            .await
            .unwrap();
    }
    assert_eq!(share(&app, &alice, &ids[0], "bob").await.status(), 201);
    smtp.wait_for_message("alice shared a document with you")
        .await;

    let res = app
        .post_json(
            "/api/documents/bulk",
            Some(&alice.access),
            &json!({"ids": ids, "action": "share", "recipient": "bob@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer = body(res).await;
    let statuses: Vec<u64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses[0], 200, "already shared: {answer}");
    assert!(statuses[1..].iter().all(|s| *s == 201), "{answer}");

    let mail = as_read(
        &smtp
            .wait_for_message("alice shared 22 documents with you")
            .await,
    );
    assert!(mail.contains("To: bob@example.com"), "{mail}");
    // The first 20 by name, each with its link; the rest counted; the shared list.
    for (i, id) in ids.iter().enumerate().skip(1).take(20) {
        assert!(mail.contains(&format!("doc-{:02}.pdf", i + 1)), "{mail}");
        assert!(
            mail.contains(&format!("{}/documents/{id}", app.address)),
            "{mail}"
        );
    }
    assert!(
        !mail.contains("doc-22.pdf") && !mail.contains("doc-23.pdf"),
        "{mail}"
    );
    assert!(!mail.contains("doc-01.pdf"), "not new: {mail}");
    assert!(mail.contains("and 2 more"), "{mail}");
    assert!(mail.contains(&format!("{}/shared", app.address)), "{mail}");
    // No message per document: the single share's was the only one.
    assert_eq!(
        smtp.transcript()
            .matches("shared a document with you on DocuVault")
            .count(),
        1,
        "{}",
        smtp.transcript()
    );
    // In the app, a notice per document as with single shares.
    assert_eq!(notices(&app, &bob).await["unread"], 23);
}
