//! Duplicates (issue 14): an upload whose bytes (SHA-256) its owner already has in a
//! live document is flagged (`duplicate_of` = the earliest such document, never shown to
//! share recipients) or, with `documents.duplicates = "reject"`, refused with 409 and
//! the existing document's id, the upload discarded and nothing charged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Session, TestApp, body};
use serde_json::{Value, json};

async fn get(app: &TestApp, s: &Session, path: &str) -> Value {
    let res = app.get_auth(path, &s.access).await;
    assert_eq!(res.status(), 200, "GET {path}");
    body(res).await
}

async fn duplicate_of(app: &TestApp, s: &Session, id: &str) -> Value {
    get(app, s, &format!("/api/documents/{id}")).await["duplicate_of"].clone()
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn upload(app: &TestApp, s: &Session, name: &str, bytes: &[u8]) -> String {
    app.upload(s, name, "text/plain", bytes.to_vec()).await
}

async fn trash(app: &TestApp, s: &Session, id: &str) {
    let res = app
        .client
        .delete(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

const SAME: &[u8] = b"the same invoice, uploaded again and again\n";

#[tokio::test]
async fn copies_are_flagged_against_the_earliest_live_original() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let first = upload(&app, &alice, "invoice.txt", SAME).await;
    let second = upload(&app, &alice, "invoice (copy).txt", SAME).await;
    let third = upload(&app, &alice, "invoice-again.txt", SAME).await;
    let unique = upload(&app, &alice, "other.txt", b"something else entirely").await;
    // Another account's identical bytes are nobody's duplicate.
    let bobs = upload(&app, &bob, "invoice.txt", SAME).await;

    assert_eq!(duplicate_of(&app, &alice, &first).await, Value::Null);
    assert_eq!(duplicate_of(&app, &alice, &second).await, first.as_str());
    assert_eq!(duplicate_of(&app, &alice, &third).await, first.as_str());
    assert_eq!(duplicate_of(&app, &alice, &unique).await, Value::Null);
    assert_eq!(duplicate_of(&app, &bob, &bobs).await, Value::Null);
    let doc = get(&app, &alice, &format!("/api/documents/{second}")).await;
    assert_eq!(
        doc["sha256"],
        get(&app, &bob, &format!("/api/documents/{bobs}")).await["sha256"]
    );

    // In lists too, and the filter finds the original and its copies.
    let listed = get(&app, &alice, "/api/documents").await;
    for d in listed["items"].as_array().unwrap() {
        let expected = if d["id"] == second.as_str() || d["id"] == third.as_str() {
            json!(first)
        } else {
            Value::Null
        };
        assert_eq!(d["duplicate_of"], expected, "{}", d["filename"]);
    }
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![first.clone(), second.clone(), third.clone()])
    );
    assert_eq!(
        get(&app, &bob, "/api/documents?duplicates=true").await["total"],
        0
    );

    // A recipient never learns about the owner's other documents.
    let res = app
        .post_json(
            &format!("/api/documents/{second}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(duplicate_of(&app, &bob, &second).await, Value::Null);
    let shared = get(&app, &bob, "/api/shared-with-me").await;
    assert_eq!(shared["items"][0]["document"]["id"], second.as_str());
    assert_eq!(shared["items"][0]["document"]["duplicate_of"], Value::Null);

    // A trashed original no longer counts: the next copy becomes the original.
    trash(&app, &alice, &first).await;
    assert_eq!(duplicate_of(&app, &alice, &second).await, Value::Null);
    assert_eq!(duplicate_of(&app, &alice, &third).await, second.as_str());
    assert_eq!(
        ids(&get(&app, &alice, "/api/documents?duplicates=true").await),
        sorted(vec![second.clone(), third.clone()])
    );
    trash(&app, &alice, &third).await;
    assert_eq!(duplicate_of(&app, &alice, &second).await, Value::Null);
    assert_eq!(
        get(&app, &alice, "/api/documents?duplicates=true").await["total"],
        0
    );

    // Restored, the first is the original again.
    let res = app
        .post_json(
            &format!("/api/documents/{first}/restore"),
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["duplicate_of"], Value::Null);
    assert_eq!(duplicate_of(&app, &alice, &second).await, first.as_str());
}

#[tokio::test]
async fn reject_mode_refuses_a_copy_discards_it_and_charges_nothing() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__DOCUMENTS__DUPLICATES".into(), "reject".into());
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let original = upload(&app, &alice, "invoice.txt", SAME).await;
    let size = SAME.len() as i64;
    let quota = || async { get(&app, &alice, "/api/auth/me/quota").await };
    assert_eq!(quota().await["used_bytes"], size);

    let ticket = app
        .upload_url(&alice, "again.txt", "text/plain", SAME.len())
        .await;
    let copy = ticket["document_id"].as_str().unwrap().to_owned();
    assert!(
        app.put_bytes(&ticket, SAME.to_vec())
            .await
            .status()
            .is_success()
    );
    assert_eq!(quota().await["reserved_bytes"], size);
    let res = app.confirm(&alice, &copy).await;
    assert_eq!(res.status(), 409);
    let b = body(res).await;
    assert_eq!(b["code"], "duplicate_document");
    assert_eq!(b["existing_id"], original.as_str());
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));

    // Discarded: no row, no objects, nothing charged or reserved.
    let q = quota().await;
    assert_eq!(q["used_bytes"], size, "{q}");
    assert_eq!(q["reserved_bytes"], 0, "{q}");
    assert_eq!(
        app.get_auth(&format!("/api/documents/{copy}"), &alice.access)
            .await
            .status(),
        404
    );
    let left = app
        .state
        .storage
        .list(&format!("{}/{copy}/", alice.user_id))
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "objects left (the staged upload too): {left:?}"
    );
    assert_eq!(get(&app, &alice, "/api/documents").await["total"], 1);

    // Other bytes, or another account: accepted.
    upload(&app, &alice, "other.txt", b"different bytes").await;
    upload(&app, &bob, "invoice.txt", SAME).await;

    // A trashed original does not count: the same bytes are accepted again.
    trash(&app, &alice, &original).await;
    let again = upload(&app, &alice, "invoice.txt", SAME).await;
    assert_eq!(duplicate_of(&app, &alice, &again).await, Value::Null);
    let fsck = docuvault::fsck::fsck(&app.state, false).await.unwrap();
    assert!(fsck.quota_mismatches.is_empty(), "{fsck}");
}
