//! Search that finds what people mean (issue 17, item 3), over HTTP on SQLite and
//! PostgreSQL: prefix search (`invoi*`) and its bounds, phrases of short common words,
//! suggestions of the word being typed from the caller's own documents only, and
//! similar documents among the caller's own and shared documents only.
//!
//! Documents go through the real upload and processing pipeline (text files), so the
//! vocabulary behind suggestions is the one extraction records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Session, TestApp, body, poll_until, wait_processed};

/// Uploads a text document and waits until it is processed; returns its id.
async fn text_doc(app: &TestApp, s: &Session, name: &str, text: &str) -> String {
    let id = app
        .upload(s, name, "text/plain", text.as_bytes().to_vec())
        .await;
    wait_processed(app, s, &id).await;
    id
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /api/documents?q=…` as `s`: the status and the body.
async fn search(app: &TestApp, s: &Session, q: &str) -> (u16, Value) {
    let res = app
        .get_auth(&format!("/api/documents?q={}", enc(q)), &s.access)
        .await;
    let status = res.status().as_u16();
    (status, body(res).await)
}

/// The ids a search found (asserting 200).
async fn found(app: &TestApp, s: &Session, q: &str) -> Vec<String> {
    let (status, page) = search(app, s, q).await;
    assert_eq!(status, 200, "q={q}: {page}");
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn prefix_search_matches_words_starting_with_it_and_short_prefixes_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let a = text_doc(&app, &alice, "a.txt", "Invoice number 42 for the garden").await;
    let b = text_doc(&app, &alice, "b.txt", "All invoices are due in March").await;
    let c = text_doc(&app, &alice, "c.txt", "An invoicing system for the shop").await;
    let _d = text_doc(&app, &alice, "d.txt", "An inventory of the shed").await;
    let _bobs = text_doc(&app, &bob, "e.txt", "Invoice of bob, invoices of bob").await;

    assert_eq!(found(&app, &alice, "invoi*").await, sorted(&[&a, &b, &c]));
    assert_eq!(found(&app, &alice, "INVOI*").await, sorted(&[&a, &b, &c]));
    assert_eq!(found(&app, &alice, "invoi* garden").await, sorted(&[&a]));
    assert_eq!(
        found(&app, &alice, "invoi* -invoices").await,
        sorted(&[&a, &c])
    );
    assert_eq!(
        found(&app, &alice, "garden or invoici*").await,
        sorted(&[&a, &c])
    );
    // Quoted, the star is literal text: no word "invoi".
    assert!(found(&app, &alice, "\"invoi*\"").await.is_empty());
    // The match is highlighted in the snippet.
    let (_, page) = search(&app, &alice, "invoici*").await;
    let marked: Vec<String> = page["items"][0]["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["highlight"] == true)
        .map(|s| s["text"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(marked, ["invoicing"], "{page}");

    // Short prefixes and too many prefixes: a clear 400, at once. `*` alone is no word.
    let started = Instant::now();
    for q in ["a*", "in*", "x* invoice", "abc* abd* abe* abf* abg*"] {
        let (status, err) = search(&app, &alice, q).await;
        assert_eq!(status, 400, "q={q}: {err}");
        assert_eq!(err["code"], "invalid_query", "{err}");
    }
    let (status, page) = search(&app, &alice, "*").await;
    assert_eq!((status, page["total"].clone()), (200, json!(0)), "{page}");
    let stars = "*".repeat(500);
    let (status, page) = search(&app, &alice, &stars).await;
    assert_eq!((status, page["total"].clone()), (200, json!(0)), "{page}");
    let (status, _) = search(&app, &alice, &"* ".repeat(10_000)).await;
    assert_eq!(status, 400);
    let (status, _) = search(&app, &alice, &"a*".repeat(10_000)).await;
    assert_eq!(status, 400);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bad prefixes took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_phrase_of_short_common_words_is_found() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let hamlet = text_doc(
        &app,
        &alice,
        "hamlet.txt",
        "Hamlet asks: to be or not to be, that is the question.",
    )
    .await;
    let _other = text_doc(
        &app,
        &alice,
        "other.txt",
        "Not to be confused: it is to be done or not.",
    )
    .await;
    assert_eq!(
        found(&app, &alice, "\"to be or not to be\"").await,
        sorted(&[&hamlet])
    );
    assert_eq!(
        found(&app, &alice, "\"that is the\"").await,
        sorted(&[&hamlet])
    );
}

/// `GET /api/documents/suggest?q=…` as `s`: the status and the body.
async fn suggest(app: &TestApp, s: &Session, q: &str) -> (u16, Value) {
    let res = app
        .get_auth(&format!("/api/documents/suggest?q={}", enc(q)), &s.access)
        .await;
    let status = res.status().as_u16();
    (status, body(res).await)
}

fn words(page: &Value) -> Vec<String> {
    page["suggestions"]
        .as_array()
        .unwrap_or_else(|| panic!("no suggestions in {page}"))
        .iter()
        .map(|s| s["word"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn suggestions_complete_the_last_word_from_the_callers_own_documents_only() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let first = text_doc(
        &app,
        &alice,
        "zanzibar-notes.txt",
        "Zanzibarian spices and Zanzibarites trading.",
    )
    .await;
    let _second = text_doc(&app, &alice, "trip.txt", "Back to zanzibar again.").await;
    let bobs = text_doc(
        &app,
        &bob,
        "secret.txt",
        "Zanzibob met zanzibarbob in Zanzibar.",
    )
    .await;
    // Shared with alice: she may search it, but its words are not her vocabulary.
    let res = app
        .post_json(
            &format!("/api/documents/{bobs}/shares"),
            Some(&bob.access),
            &json!({ "recipient": "alice" }),
        )
        .await;
    assert_eq!(res.status(), 201);

    let (status, page) = suggest(&app, &alice, "tax Zanzi").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["prefix"], "zanzi");
    assert_eq!(
        words(&page),
        ["zanzibar", "zanzibarian", "zanzibarites"],
        "alice's words, the one in both her documents first: {page}"
    );
    assert_eq!(page["suggestions"][0]["query"], "tax zanzibar");
    assert_eq!(page["suggestions"][0]["documents"], 2);

    let (_, page) = suggest(&app, &bob, "zanzi").await;
    assert_eq!(
        words(&page),
        ["zanzibar", "zanzibarbob", "zanzibob"],
        "{page}"
    );

    // Nothing to complete: no word at the end, or a single letter.
    for q in ["zanzibar ", "z", "", "tax -"] {
        let (status, page) = suggest(&app, &alice, q).await;
        assert_eq!(status, 200, "q={q:?}: {page}");
        assert!(words(&page).is_empty(), "q={q:?}: {page}");
    }
    let (status, page) = suggest(&app, &alice, &"a".repeat(201)).await;
    assert_eq!(
        (status, page["code"].clone()),
        (400, json!("invalid_query"))
    );
    let res = app
        .get_auth("/api/documents/suggest?q=zan&limit=0", &alice.access)
        .await;
    assert_eq!(res.status(), 400);
    // Administrators have no documents, hence no vocabulary.
    let admin = app.admin("root").await;
    let res = app
        .get_auth("/api/documents/suggest?q=zan", &admin.access)
        .await;
    assert_eq!(res.status(), 403);

    // A document moved to the trash takes its words with it (a background rebuild).
    let res = app
        .delete_auth(&format!("/api/documents/{first}"), &alice.access)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    poll_until(
        Duration::from_secs(30),
        "the trashed document's words to leave alice's suggestions",
        || async {
            let (_, page) = suggest(&app, &alice, "zanzi").await;
            (words(&page) == ["zanzibar"]).then_some(())
        },
    )
    .await;
}

/// `GET /api/documents/{id}/similar` as `s`: the status and the body.
async fn similar(app: &TestApp, s: &Session, id: &str) -> (u16, Value) {
    let res = app
        .get_auth(&format!("/api/documents/{id}/similar"), &s.access)
        .await;
    let status = res.status().as_u16();
    (status, body(res).await)
}

fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn similar_documents_come_from_the_callers_own_and_shared_documents_only() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let volcano = "The volcano erupted: lava, magma and crater ash everywhere.";
    let a = text_doc(&app, &alice, "etna.txt", volcano).await;
    let b = text_doc(
        &app,
        &alice,
        "vesuvius.txt",
        "Vesuvius, a volcano with magma under its crater and lava flows.",
    )
    .await;
    let c = text_doc(
        &app,
        &alice,
        "garden.txt",
        "Roses and tulips in the garden, watered daily.",
    )
    .await;
    let bobs_private = text_doc(&app, &bob, "private.txt", volcano).await;
    let bobs_shared = text_doc(
        &app,
        &bob,
        "shared.txt",
        "Fuji: a volcano whose crater holds snow; old lava and magma below.",
    )
    .await;
    let res = app
        .post_json(
            &format!("/api/documents/{bobs_shared}/shares"),
            Some(&bob.access),
            &json!({ "recipient": "alice" }),
        )
        .await;
    assert_eq!(res.status(), 201);

    let (status, page) = similar(&app, &alice, &a).await;
    assert_eq!(status, 200, "{page}");
    let ids = item_ids(&page);
    assert!(ids.contains(&b), "her similar document: {page}");
    assert!(
        ids.contains(&bobs_shared),
        "a document shared with her: {page}"
    );
    assert!(!ids.contains(&bobs_private), "never bob's own: {page}");
    assert!(!ids.contains(&a), "never the document itself: {page}");
    assert!(!ids.contains(&c), "nothing in common: {page}");
    assert!(
        page["terms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "volcano" || t == "magma" || t == "lava"),
        "{page}"
    );

    // From a document shared with her: her own documents, still never bob's private one.
    let (status, page) = similar(&app, &alice, &bobs_shared).await;
    assert_eq!(status, 200, "{page}");
    let ids = item_ids(&page);
    assert!(ids.contains(&a) && ids.contains(&b), "{page}");
    assert!(
        !ids.contains(&bobs_private) && !ids.contains(&bobs_shared),
        "{page}"
    );

    // Bob's private document is not hers to ask about: the same 404 as a missing one.
    let (status, _) = similar(&app, &alice, &bobs_private).await;
    assert_eq!(status, 404);
    let (status, _) = similar(&app, &alice, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(status, 404);
    // Bob's view of his own document: alice's documents never appear.
    let (status, page) = similar(&app, &bob, &bobs_private).await;
    assert_eq!(status, 200, "{page}");
    let ids = item_ids(&page);
    assert!(ids.contains(&bobs_shared), "{page}");
    assert!(!ids.contains(&a) && !ids.contains(&b), "{page}");

    let res = app
        .get_auth(
            &format!("/api/documents/{a}/similar?limit=0"),
            &alice.access,
        )
        .await;
    assert_eq!(res.status(), 400);
}
