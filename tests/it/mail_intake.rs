//! E-mail intake over IMAP (`/api/intake/mail`), end to end against a private Dovecot
//! (`common::dovecot`): real RFC 5322 messages are delivered by IMAP APPEND, checked, and
//! end as documents or as failed/skipped items with reasons; each part once.
//!
//! Without Dovecot the IMAP tests print a notice and pass, unless
//! `DOCUVAULT_TEST_DOVECOT=1` (CI): then they fail.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::dovecot::Dovecot;
use crate::common::{Session, TestApp, body, create_topic, poll_until, samples};

/// A real PDF: one of the corpus (`DOCUVAULT_TEST_CORPUS_DIR`, `.ci/fetch-corpus.sh`) when
/// present, else the generated one of the samples.
fn real_pdf() -> Vec<u8> {
    let dir = std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".cache/docuvault-corpus/v1"))
        });
    dir.and_then(|d| std::fs::read(d.join("pdf/euro.pdf")).ok())
        .unwrap_or_else(samples::hello_pdf)
}

/// A small real PNG.
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 99])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Base64 in 76-character lines, as MIME wants it.
fn b64(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A message: headers, then `body` (CRLF line ends).
fn message(subject: &str, message_id: Option<&str>, headers: &str, body: &str) -> Vec<u8> {
    let mut out = String::new();
    out.push_str("From: Sender <sender@example.org>\r\n");
    out.push_str("To: intake@example.org\r\n");
    out.push_str(&format!("Subject: {subject}\r\n"));
    out.push_str("Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n");
    if let Some(id) = message_id {
        out.push_str(&format!("Message-ID: <{id}>\r\n"));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(headers);
    out.push_str("\r\n");
    out.push_str(&body.replace("\r\n", "\n").replace('\n', "\r\n"));
    out.into_bytes()
}

/// `multipart/mixed` with a text part and the given attachments
/// (`content-type header value`, `content-disposition header value`, bytes).
fn mixed(subject: &str, id: Option<&str>, text: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = format!("--outer\nContent-Type: text/plain; charset=utf-8\n\n{text}\n");
    for (ctype, disposition, bytes) in parts {
        body.push_str(&format!(
            "--outer\nContent-Type: {ctype}\nContent-Disposition: {disposition}\n\
             Content-Transfer-Encoding: base64\n\n{}\n",
            b64(bytes)
        ));
    }
    body.push_str("--outer--\n");
    message(
        subject,
        id,
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n",
        &body,
    )
}

async fn create_account(app: &TestApp, s: &Session, input: &Value) -> Value {
    let res = app
        .post_json("/api/intake/mail", Some(&s.access), input)
        .await;
    assert_eq!(res.status(), 201, "create mail account");
    body(res).await
}

fn account_input(server: &Dovecot, extra: Value) -> Value {
    let mut input = json!({
        "name": "Invoices",
        "host": "127.0.0.1",
        "port": server.port,
        "tls": "none",
        "username": server.username,
        "password": server.password,
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    input
}

/// Lets mail accounts name the test IMAP server on 127.0.0.1.
fn allow_loopback(env: &mut std::collections::HashMap<String, String>) {
    env.insert(
        "DOCUVAULT__MAIL_INTAKE__ALLOWED_HOSTS".into(),
        "127.0.0.1".into(),
    );
}

async fn check(app: &TestApp, s: &Session, id: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/intake/mail/{id}/check"),
        Some(&s.access),
        &json!({}),
    )
    .await
}

async fn check_ok(app: &TestApp, s: &Session, id: &str) -> Value {
    let res = check(app, s, id).await;
    assert_eq!(res.status(), 200, "check");
    body(res).await
}

async fn items(app: &TestApp, s: &Session, id: &str) -> Vec<Value> {
    let res = app
        .get_auth(&format!("/api/intake/mail/{id}/items"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

async fn documents(app: &TestApp, s: &Session) -> Vec<Value> {
    let res = app.get_auth("/api/documents?per_page=100", &s.access).await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

fn names(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["filename"].as_str().unwrap().to_owned())
        .collect()
}

async fn patch(app: &TestApp, s: &Session, path: &str, body: &Value) -> reqwest::Response {
    app.patch_auth(path, &s.access, body).await
}

async fn delete(app: &TestApp, s: &Session, path: &str) -> reqwest::Response {
    app.delete_auth(path, &s.access).await
}

#[tokio::test]
async fn mail_accounts_are_the_owners_alone_and_never_show_the_password() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let secret = "imap-password-that-must-not-leak";
    let input = json!({
        "name": "Invoices", "host": "imap.example.org", "port": 993, "tls": "tls",
        "username": "alice@example.org", "password": secret,
    });
    let created = create_account(&app, &alice, &input).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["mailbox"], "INBOX");
    assert_eq!(created["after"], "seen");
    assert_eq!(created["include_body"], false);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["last_error"], Value::Null);
    assert_eq!(created["topic_ids"], json!([]));
    assert!(created.get("password").is_none());
    for path in [
        "/api/intake/mail".to_owned(),
        format!("/api/intake/mail/{id}"),
    ] {
        let res = app.get_auth(&path, &alice.access).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(!text.contains(secret), "{path} shows the password");
        assert!(!text.contains("\"password\""), "{path}: {text}");
    }
    // The stored credentials are sealed, not plain.
    let row = docuvault::entities::cloud_connections::Entity::find_by_id(
        uuid::Uuid::parse_str(&id).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.provider, "imap");
    assert!(!row.credentials_enc.contains(secret));
    assert!(!row.credentials_enc.contains("imap.example.org"));

    // PATCH without a password keeps it; the answer never has it.
    let res = patch(
        &app,
        &alice,
        &format!("/api/intake/mail/{id}"),
        &json!({"name": "Bills", "enabled": false}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let changed = body(res).await;
    assert_eq!(changed["name"], "Bills");
    assert_eq!(changed["enabled"], false);
    let account = docuvault::intake::service::get(
        &app.state.db,
        &app.state.keys,
        uuid::Uuid::parse_str(&alice.user_id).unwrap().into(),
        uuid::Uuid::parse_str(&id).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(account.server.password, secret);

    // Another user: as missing as an unknown id.
    for path in [
        format!("/api/intake/mail/{id}"),
        format!("/api/intake/mail/{id}/items"),
    ] {
        assert_eq!(
            app.get_auth(&path, &bob.access).await.status(),
            404,
            "{path}"
        );
    }
    assert_eq!(check(&app, &bob, &id).await.status(), 404);
    assert_eq!(
        patch(
            &app,
            &bob,
            &format!("/api/intake/mail/{id}"),
            &json!({"name": "x"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        delete(&app, &bob, &format!("/api/intake/mail/{id}"))
            .await
            .status(),
        404
    );
    let listed = body(app.get_auth("/api/intake/mail", &bob.access).await).await;
    assert_eq!(listed["accounts"], json!([]));

    // Administrators have no mail intake; no token, no access.
    let admin = app.admin("root").await;
    let res = app.get_auth("/api/intake/mail", &admin.access).await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_json("/api/intake/mail", Some(&admin.access), &input)
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/api/intake/mail").await.status(), 401);

    // Validation: move needs a target; unknown folder 404; someone else's topic 422.
    let mut bad = input.clone();
    bad["after"] = json!("move");
    let res = app
        .post_json("/api/intake/mail", Some(&alice.access), &bad)
        .await;
    assert_eq!(res.status(), 422);
    let mut bad = input.clone();
    bad["port"] = json!(0);
    assert_eq!(
        app.post_json("/api/intake/mail", Some(&alice.access), &bad)
            .await
            .status(),
        422
    );
    let mut bad = input.clone();
    bad["tls"] = json!("ssl3");
    assert!(
        app.post_json("/api/intake/mail", Some(&alice.access), &bad)
            .await
            .status()
            .is_client_error()
    );
    let mut bad = input.clone();
    bad["folder_id"] = json!(uuid::Uuid::new_v4());
    assert_eq!(
        app.post_json("/api/intake/mail", Some(&alice.access), &bad)
            .await
            .status(),
        404
    );
    let bobs_topic = create_topic(&app, &bob, "Bob only", None).await;
    let mut bad = input.clone();
    bad["topic_ids"] = json!([bobs_topic]);
    let res = app
        .post_json("/api/intake/mail", Some(&alice.access), &bad)
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "unknown_topic");

    // `docuvault rotate-secret` re-seals the login (and back again, for this app).
    let other = docuvault::crypto::Keys::derive("another root secret, long enough for a rotation");
    let report = docuvault::secret_key::reseal_all(&app.state.db, &app.state.keys, &other)
        .await
        .unwrap();
    assert_eq!(report.mail_accounts, 1);
    let row = docuvault::entities::cloud_connections::Entity::find_by_id(
        uuid::Uuid::parse_str(&id).unwrap(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap();
    assert!(docuvault::intake::service::open(&app.state.keys, row.clone()).is_err());
    assert_eq!(
        docuvault::intake::service::open(&other, row)
            .unwrap()
            .server
            .password,
        secret
    );
    let back = docuvault::secret_key::reseal_all(&app.state.db, &other, &app.state.keys)
        .await
        .unwrap();
    assert_eq!(back.mail_accounts, 1);
    assert_eq!(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await
            .status(),
        200
    );

    // Delete: gone, and audited.
    assert_eq!(
        delete(&app, &alice, &format!("/api/intake/mail/{id}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await
            .status(),
        404
    );
    use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
    for event in ["mail_account_created", "mail_account_deleted"] {
        let n = docuvault::entities::audit_log::Entity::find()
            .filter(docuvault::entities::audit_log::Column::EventType.eq(event))
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 1, "{event}");
    }
}

#[tokio::test]
async fn attachments_become_documents_once_and_everything_else_is_recorded_with_a_reason() {
    let Some(server) = Dovecot::start().await else {
        return;
    };
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__MAIL_INTAKE__MAX_MESSAGE_BYTES".into(),
            (2 * 1024 * 1024).to_string(),
        );
        env.insert("DOCUVAULT__MAIL_INTAKE__MAX_PARTS".into(), "100".into());
        allow_loopback(env);
    })
    .await;
    let alice = app.register("alice").await;
    let folder = body(
        app.post_json(
            "/api/folders",
            Some(&alice.access),
            &json!({"name": "Mail"}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let topic = create_topic(&app, &alice, "From mail", None).await;

    let pdf = real_pdf();
    let other_pdf = samples::pdf_with_stream("BT /F1 18 Tf 72 700 Td (Rechnung Maerz) Tj ET");
    // 1. multipart/mixed with a real PDF.
    server
        .deliver(
            "INBOX",
            &mixed(
                "Invoice 4711",
                Some("invoice-4711@example.org"),
                "Please find the invoice attached.",
                &[(
                    "application/pdf; name=\"invoice-4711.pdf\"",
                    "attachment; filename=\"invoice-4711.pdf\"",
                    &pdf,
                )],
            ),
        )
        .await;
    // 2. multipart/related: HTML with an inline image that has a file name.
    let image = png();
    let related = format!(
        "--rel\nContent-Type: text/html; charset=utf-8\n\n<p>Scan: <img src=\"cid:scan1\"></p>\n\
         --rel\nContent-Type: image/png; name=\"scan.png\"\nContent-ID: <scan1>\n\
         Content-Disposition: inline; filename=\"scan.png\"\nContent-Transfer-Encoding: base64\n\n{}\n--rel--\n",
        b64(&image)
    );
    server
        .deliver(
            "INBOX",
            &message(
                "Scan",
                Some("scan@example.org"),
                "Content-Type: multipart/related; boundary=\"rel\"; type=\"text/html\"\r\n",
                &related,
            ),
        )
        .await;
    // 3. Non-ASCII names: RFC 2231 and an encoded word.
    server
        .deliver(
            "INBOX",
            &mixed(
                "Umlaute",
                Some("umlaute@example.org"),
                "Two files.",
                &[
                    (
                        "application/octet-stream",
                        "attachment;\n filename*=UTF-8''Rechnung%20M%C3%A4rz%20%E2%82%AC.pdf",
                        &other_pdf,
                    ),
                    (
                        "text/csv; name=\"=?UTF-8?B?R3LDvMOfZS5jc3Y=?=\"",
                        "attachment; filename=\"=?UTF-8?B?R3LDvMOfZS5jc3Y=?=\"",
                        b"Datum,Betrag\n2026-03-01,12.50\n",
                    ),
                ],
            ),
        )
        .await;
    // 4. Text only (include_body is off): nothing to import.
    server
        .deliver(
            "INBOX",
            &message(
                "Just text",
                Some("text@example.org"),
                "Content-Type: text/plain; charset=utf-8\r\n",
                "Hello, no files.\n",
            ),
        )
        .await;
    // 5. An attachment of a type not accepted.
    server
        .deliver(
            "INBOX",
            &mixed(
                "Program",
                Some("exe@example.org"),
                "Run me.",
                &[(
                    "application/x-msdownload; name=\"setup.exe\"",
                    "attachment; filename=\"setup.exe\"",
                    b"MZ\x90\x00 not really a program",
                )],
            ),
        )
        .await;
    // 6. A zip bomb (64 MiB of zeros deflated): refused by type, never opened.
    let bomb = samples::zip_bomb_docx(64);
    server
        .deliver(
            "INBOX",
            &mixed(
                "Archive",
                None,
                "See archive.",
                &[(
                    "application/zip; name=\"bomb.zip\"",
                    "attachment; filename=\"bomb.zip\"",
                    &bomb,
                )],
            ),
        )
        .await;
    // 7. Over the size limit (2 MiB).
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    server
        .deliver(
            "INBOX",
            &mixed(
                "Huge",
                Some("huge@example.org"),
                "Too big.",
                &[(
                    "application/pdf; name=\"huge.pdf\"",
                    "attachment; filename=\"huge.pdf\"",
                    &big,
                )],
            ),
        )
        .await;
    // 8. Thousands of parts.
    let mut many = String::new();
    for i in 0..3000 {
        many.push_str(&format!("--many\nContent-Type: text/plain\n\npart {i}\n"));
    }
    many.push_str("--many--\n");
    server
        .deliver(
            "INBOX",
            &message(
                "Many parts",
                Some("many@example.org"),
                "Content-Type: multipart/mixed; boundary=\"many\"\r\n",
                &many,
            ),
        )
        .await;
    assert_eq!(server.search("INBOX", "UNSEEN").await.len(), 8);

    let account = create_account(
        &app,
        &alice,
        &account_input(&server, json!({"folder_id": folder, "topic_ids": [topic]})),
    )
    .await;
    let id = account["id"].as_str().unwrap().to_owned();

    // Two checks at once (as two instances would): each part is imported once.
    let (a, b) = tokio::join!(check_ok(&app, &alice, &id), check_ok(&app, &alice, &id));
    let sum = |k: &str| a[k].as_u64().unwrap() + b[k].as_u64().unwrap();
    assert_eq!(sum("imported"), 4, "{a} {b}");
    assert_eq!(sum("skipped"), 3, "{a} {b}");
    assert_eq!(sum("failed"), 2, "{a} {b}");

    let docs = documents(&app, &alice).await;
    assert_eq!(
        names(&docs),
        [
            "Grüße.csv",
            "Rechnung März €.pdf",
            "invoice-4711.pdf",
            "scan.png"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<BTreeSet<_>>(),
        "{docs:#?}"
    );
    for doc in &docs {
        assert_eq!(doc["folder_id"], json!(folder), "{doc}");
        let topics: Vec<&str> = doc["topics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["id"].as_str().or(t.as_str()))
            .collect();
        assert!(!topics.is_empty(), "no topic on {doc}");
    }
    let invoice = docs
        .iter()
        .find(|d| d["filename"] == "invoice-4711.pdf")
        .unwrap();
    assert_eq!(invoice["content_type"], "application/pdf");
    assert_eq!(invoice["size_bytes"], json!(pdf.len()));
    let scan = docs.iter().find(|d| d["filename"] == "scan.png").unwrap();
    assert_eq!(scan["content_type"], "image/png");

    let listed = items(&app, &alice, &id).await;
    assert_eq!(listed.len(), 9, "{listed:#?}");
    let item = |filename: Option<&str>, subject: &str| -> Value {
        listed
            .iter()
            .find(|i| i["subject"] == subject && i["filename"].as_str() == filename)
            .unwrap_or_else(|| panic!("no item {filename:?} of {subject:?}: {listed:#?}"))
            .clone()
    };
    let imported = item(Some("invoice-4711.pdf"), "Invoice 4711");
    assert_eq!(imported["status"], "imported");
    assert_eq!(imported["message_id"], "invoice-4711@example.org");
    assert_eq!(imported["document_id"], invoice["id"]);
    assert_eq!(imported["reason"], Value::Null);
    let text_only = item(None, "Just text");
    assert_eq!(text_only["status"], "skipped");
    assert!(
        text_only["reason"]
            .as_str()
            .unwrap()
            .contains("nothing to import")
    );
    let exe = item(Some("setup.exe"), "Program");
    assert_eq!(exe["status"], "skipped");
    assert!(
        exe["reason"]
            .as_str()
            .unwrap()
            .contains("application/x-msdownload is not an accepted type"),
        "{exe}"
    );
    let zip = item(Some("bomb.zip"), "Archive");
    assert_eq!(zip["status"], "skipped");
    assert!(
        zip["reason"]
            .as_str()
            .unwrap()
            .contains("application/zip is not an accepted type"),
        "{zip}"
    );
    assert!(
        zip["message_id"].as_str().unwrap().starts_with("sha256:"),
        "{zip}"
    );
    let huge = item(None, "Huge");
    assert_eq!(huge["status"], "failed");
    assert!(
        huge["reason"].as_str().unwrap().contains("too large"),
        "{huge}"
    );
    let many = item(None, "Many parts");
    assert_eq!(many["status"], "failed");
    assert!(
        many["reason"]
            .as_str()
            .unwrap()
            .contains("too many MIME parts"),
        "{many}"
    );

    // Every message is marked seen (the failed ones too: not retried forever).
    assert_eq!(server.search("INBOX", "UNSEEN").await, Vec::<u32>::new());
    assert_eq!(server.search("INBOX", "ALL").await.len(), 8);
    let again = check_ok(&app, &alice, &id).await;
    assert_eq!(
        again,
        json!({"messages": 0, "imported": 0, "failed": 0, "skipped": 0})
    );

    // Even when they come back unseen, nothing is taken twice.
    {
        let mut s = server.session().await;
        s.select("INBOX").await.unwrap();
        use futures_util::TryStreamExt as _;
        let _: Vec<_> = s
            .uid_store("1:*", "-FLAGS.SILENT (\\Seen)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        s.logout().await.unwrap();
    }
    assert_eq!(server.search("INBOX", "UNSEEN").await.len(), 8);
    let again = check_ok(&app, &alice, &id).await;
    assert_eq!(
        again,
        json!({"messages": 8, "imported": 0, "failed": 0, "skipped": 0})
    );
    assert_eq!(documents(&app, &alice).await.len(), 4);
    assert_eq!(items(&app, &alice, &id).await.len(), 9);

    // The server stayed healthy, and the account shows the successful check.
    assert_eq!(app.health().await.status(), 200);
    let shown = body(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await,
    )
    .await;
    assert_eq!(shown["last_error"], Value::Null);
    assert!(shown["last_checked_at"].is_string());
}

#[tokio::test]
async fn move_after_import_body_documents_and_the_background_poll() {
    let Some(server) = Dovecot::start().await else {
        return;
    };
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__MAIL_INTAKE__POLL_SECS".into(), "1".into());
        allow_loopback(env);
    })
    .await;
    let alice = app.register("alice").await;
    server.create_mailbox("Imported").await;
    server
        .deliver(
            "INBOX",
            &message(
                "Meeting notes",
                Some("notes@example.org"),
                "Content-Type: text/plain; charset=utf-8\r\n",
                "Notes: buy milk, file taxes.\n",
            ),
        )
        .await;
    server
        .deliver(
            "INBOX",
            &message(
                "Newsletter",
                Some("news@example.org"),
                "Content-Type: text/html; charset=utf-8\r\n",
                "<html><body><h1>News</h1><p>Hello</p></body></html>\n",
            ),
        )
        .await;
    // Disabled: the background poll leaves it alone; the check works all the same.
    let account = create_account(
        &app,
        &alice,
        &account_input(
            &server,
            json!({"after": "move", "move_to": "Imported", "include_body": true, "enabled": false}),
        ),
    )
    .await;
    let id = account["id"].as_str().unwrap().to_owned();
    let result = check_ok(&app, &alice, &id).await;
    assert_eq!(
        result,
        json!({"messages": 2, "imported": 2, "failed": 0, "skipped": 0})
    );
    assert_eq!(server.search("INBOX", "ALL").await, Vec::<u32>::new());
    assert_eq!(server.search("Imported", "ALL").await.len(), 2);
    let docs = documents(&app, &alice).await;
    assert_eq!(
        names(&docs),
        ["Meeting notes.txt", "Newsletter.html"]
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    );
    let txt = docs
        .iter()
        .find(|d| d["filename"] == "Meeting notes.txt")
        .unwrap();
    assert_eq!(txt["content_type"], "text/plain");
    let items = items(&app, &alice, &id).await;
    assert!(
        items.iter().all(|i| i["status"] == "imported"),
        "{items:#?}"
    );

    // Enabled, the background poll (every second here) takes new mail by itself.
    let res = patch(
        &app,
        &alice,
        &format!("/api/intake/mail/{id}"),
        &json!({"enabled": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    server
        .deliver(
            "INBOX",
            &mixed(
                "Receipt",
                Some("receipt@example.org"),
                "",
                &[(
                    "application/pdf; name=\"receipt.pdf\"",
                    "attachment; filename=\"receipt.pdf\"",
                    &samples::hello_pdf(),
                )],
            ),
        )
        .await;
    poll_until(
        Duration::from_secs(30),
        "the poller to import receipt.pdf",
        || async {
            names(&documents(&app, &alice).await)
                .contains("receipt.pdf")
                .then_some(())
        },
    )
    .await;
    poll_until(
        Duration::from_secs(30),
        "the poller to move the message",
        || async { (server.search("Imported", "ALL").await.len() == 3).then_some(()) },
    )
    .await;
    // The body of that message is blank: only the PDF became a document.
    assert_eq!(documents(&app, &alice).await.len(), 3);
}

#[tokio::test]
async fn connection_and_login_failures_are_shown_as_last_error() {
    let Some(server) = Dovecot::start().await else {
        return;
    };
    let app = TestApp::spawn_with(allow_loopback).await;
    let alice = app.register("alice").await;
    server
        .deliver(
            "INBOX",
            &mixed(
                "Invoice",
                Some("inv@example.org"),
                "x",
                &[(
                    "application/pdf",
                    "attachment; filename=\"a.pdf\"",
                    &samples::hello_pdf(),
                )],
            ),
        )
        .await;
    let account = create_account(
        &app,
        &alice,
        &account_input(
            &server,
            json!({"password": "wrong-password", "enabled": false}),
        ),
    )
    .await;
    let id = account["id"].as_str().unwrap().to_owned();
    let res = check(&app, &alice, &id).await;
    assert_eq!(res.status(), 422);
    let err = body(res).await;
    assert_eq!(err["code"], "mail_check_failed");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("refused the login"),
        "{err}"
    );
    let shown = body(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await,
    )
    .await;
    assert!(
        shown["last_error"]
            .as_str()
            .unwrap()
            .contains("refused the login"),
        "{shown}"
    );
    assert!(shown["last_checked_at"].is_string());
    assert!(!shown.to_string().contains("wrong-password"));
    assert_eq!(
        server.search("INBOX", "UNSEEN").await.len(),
        1,
        "nothing was touched"
    );

    // A missing mailbox, with the right password.
    let res = patch(
        &app,
        &alice,
        &format!("/api/intake/mail/{id}"),
        &json!({"password": server.password, "mailbox": "Nowhere"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await["last_error"],
        Value::Null,
        "a new login clears the old error"
    );
    assert_eq!(check(&app, &alice, &id).await.status(), 422);
    let shown = body(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await,
    )
    .await;
    assert!(
        shown["last_error"].as_str().unwrap().contains("Nowhere"),
        "{shown}"
    );

    // Nothing listening: a connection error.
    let res = patch(
        &app,
        &alice,
        &format!("/api/intake/mail/{id}"),
        &json!({"mailbox": "INBOX", "port": crate::common::smtp::free_port()}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(check(&app, &alice, &id).await.status(), 422);
    let shown = body(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await,
    )
    .await;
    assert!(
        shown["last_error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{shown}"
    );

    // Fixed: the check succeeds and the error is cleared.
    let res = patch(
        &app,
        &alice,
        &format!("/api/intake/mail/{id}"),
        &json!({"port": server.port}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(check_ok(&app, &alice, &id).await["imported"], 1);
    let shown = body(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await,
    )
    .await;
    assert_eq!(shown["last_error"], Value::Null);
}

#[tokio::test]
async fn imap_hosts_at_inner_addresses_are_refused_unless_allowed() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let port = crate::common::smtp::free_port();
    let input = |host: &str| {
        json!({
            "name": "Inner", "host": host, "port": port, "tls": "none",
            "username": "alice", "password": "secret",
        })
    };
    for (host, kind) in [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
    ] {
        let res = app
            .post_json("/api/intake/mail", Some(&alice.access), &input(host))
            .await;
        assert_eq!(res.status(), 422, "{host}");
        let err = body(res).await;
        assert_eq!(err["code"], "validation_failed", "{host}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(kind),
            "{host}: {err}"
        );
    }
    let listed = body(app.get_auth("/api/intake/mail", &alice.access).await).await;
    assert_eq!(listed["accounts"], json!([]), "nothing was stored");

    // Listed by the operator: accepted, and checked (nothing listens: a connection error).
    let app = app.restart_with(allow_loopback).await;
    let account = create_account(&app, &alice, &input("127.0.0.1")).await;
    let id = account["id"].as_str().unwrap().to_owned();
    let res = check(&app, &alice, &id).await;
    assert_eq!(res.status(), 422);
    let err = body(res).await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{err}"
    );
    // A change of host to an inner address that is not listed is refused, the account
    // stays as it was.
    let res = patch(
        &app,
        &alice,
        &format!("/api/intake/mail/{id}"),
        &json!({"host": "10.0.0.5"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let shown = body(
        app.get_auth(&format!("/api/intake/mail/{id}"), &alice.access)
            .await,
    )
    .await;
    assert_eq!(shown["host"], "127.0.0.1");

    // No longer listed: every connection checks again, so the stored account is refused
    // before any connection is made.
    let app = app
        .restart_with(|env| {
            env.remove("DOCUVAULT__MAIL_INTAKE__ALLOWED_HOSTS");
        })
        .await;
    let res = check(&app, &alice, &id).await;
    assert_eq!(res.status(), 422);
    let err = body(res).await;
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("loopback"), "{err}");
    assert!(!message.contains("could not connect"), "{err}");
}
