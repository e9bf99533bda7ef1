//! Language-aware search (issue 17) over HTTP, on SQLite and PostgreSQL: each account's
//! `search_language` (`simple`, `english`, `german`; `GET`/`PATCH /api/auth/me`), other
//! forms of a word found and ranked below the word as written, phrases and prefixes
//! exact, `simple` accounts unaffected, documents stemmed again after a change of
//! language and at start, and the setting carried by exports.
//!
//! Documents are inserted with their text set directly, as the pipeline stores it; every
//! read goes over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::{self, Session, TestApp, body};
use docuvault::entities::{document_stems, documents};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

/// Unrelated documents, so that the words searched for are rare in the vault (BM25 and
/// `ts_rank` rank a word every document holds as worthless).
const FILLER: [&str; 6] = [
    "garden hose and watering can",
    "holiday photos from the mountains",
    "recipe for apple pie with cinnamon",
    "minutes of the annual meeting",
    "car insurance renewal letter",
    "library card application form",
];

async fn set_language(app: &TestApp, s: &Session, language: &str) -> reqwest::Response {
    app.client
        .patch(app.url("/api/auth/me"))
        .bearer_auth(&s.access)
        .json(&json!({ "search_language": language }))
        .send()
        .await
        .unwrap()
}

async fn speaking(app: &TestApp, handle: &str, language: &str) -> Session {
    let s = app.register(handle).await;
    let res = set_language(app, &s, language).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["search_language"], language);
    s
}

/// Inserts a processed document of `owner` named `filename` with `text`.
async fn insert(app: &TestApp, owner: &Session, filename: &str, text: &str) -> String {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    let id = *row.id.as_ref();
    row.filename = Set(filename.into());
    row.status = Set("classified".parse().unwrap());
    row.attempts = Set(1);
    documents::Entity::insert(row)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
    common::set_text(app, id, text).await;
    id.to_string()
}

async fn with_filler(app: &TestApp, owner: &Session) {
    for (i, text) in FILLER.iter().enumerate() {
        insert(app, owner, &format!("filler-{i}.pdf"), text).await;
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The ids a search for `q` by `s` finds, best first.
async fn found(app: &TestApp, s: &Session, q: &str) -> Vec<String> {
    let res = app
        .get_auth(&format!("/api/documents?q={}", urlencode(q)), &s.access)
        .await;
    let status = res.status();
    let page: Value = body(res).await;
    assert_eq!(status, 200, "q={q}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn english_finds_other_forms_below_the_word_as_written() {
    let app = TestApp::spawn().await;
    let alice = speaking(&app, "alice", "english").await;
    with_filler(&app, &alice).await;
    let exact = insert(&app, &alice, "a.pdf", "please pay this invoice by friday").await;
    let plural = insert(&app, &alice, "b.pdf", "all invoices of the last quarter").await;
    let phrase = insert(&app, &alice, "c.pdf", "to be or not to be, that is it").await;
    let other = insert(&app, &alice, "d.pdf", "to being or not to being").await;

    assert_eq!(
        found(&app, &alice, "invoice").await,
        [exact.as_str(), plural.as_str()]
    );
    assert_eq!(
        found(&app, &alice, "invoices").await,
        [plural.as_str(), exact.as_str()]
    );
    assert_eq!(
        found(&app, &alice, "INVOICES").await,
        [plural.as_str(), exact.as_str()]
    );
    // Another word along: both still required.
    assert_eq!(
        found(&app, &alice, "invoices quarter").await,
        [plural.as_str()]
    );
    // An excluded word is excluded as written only.
    assert_eq!(found(&app, &alice, "pay -invoices").await, [exact.as_str()]);
    assert_eq!(
        found(&app, &alice, "invoices -quarter").await,
        [exact.as_str()]
    );
    // Prefixes and quoted words stay exact.
    let mut prefixed = found(&app, &alice, "invoi*").await;
    prefixed.sort();
    let mut both = vec![exact.clone(), plural.clone()];
    both.sort();
    assert_eq!(prefixed, both);
    assert_eq!(found(&app, &alice, "\"invoices\"").await, [plural.as_str()]);
    // A phrase of stop words is found as written, and only so.
    assert_eq!(
        found(&app, &alice, "\"to be or not to be\"").await,
        [phrase.as_str()]
    );
    assert_eq!(found(&app, &alice, "\"to being\"").await, [other.as_str()]);
    // A stop word alone is one exact word.
    assert_eq!(found(&app, &alice, "quarter the").await, [plural.as_str()]);
}

#[tokio::test]
async fn german_finds_other_forms_with_umlauts() {
    let app = TestApp::spawn().await;
    let anna = speaking(&app, "anna", "german").await;
    with_filler(&app, &anna).await;
    let rechnungen = insert(&app, &anna, "r.pdf", "Alle Rechnungen des Jahres").await;
    let rechnung = insert(&app, &anna, "s.pdf", "Die Rechnung ist bezahlt").await;
    let haeuser = insert(&app, &anna, "h.pdf", "Zwei Häuser am See").await;
    let kuendigung = insert(&app, &anna, "k.pdf", "Kündigungen der Verträge").await;

    assert_eq!(
        found(&app, &anna, "Rechnung").await,
        [rechnung.as_str(), rechnungen.as_str()]
    );
    assert_eq!(
        found(&app, &anna, "rechnungen").await,
        [rechnungen.as_str(), rechnung.as_str()]
    );
    assert_eq!(found(&app, &anna, "Haus").await, [haeuser.as_str()]);
    assert_eq!(found(&app, &anna, "Kündigung").await, [kuendigung.as_str()]);
    assert_eq!(found(&app, &anna, "Vertrag").await, [kuendigung.as_str()]);
    // The German account stems no English ("running" is no German form of "runs").
    let runs = insert(&app, &anna, "e.pdf", "she runs").await;
    assert_eq!(found(&app, &anna, "running").await, Vec::<String>::new());
    assert_eq!(found(&app, &anna, "runs").await, [runs.as_str()]);
}

#[tokio::test]
async fn a_simple_account_matches_words_as_written_whatever_the_others_do() {
    let app = TestApp::spawn().await;
    let alice = speaking(&app, "alice", "english").await;
    let bob = speaking(&app, "bob", "simple").await;
    for s in [&alice, &bob] {
        with_filler(&app, s).await;
    }
    let bobs_exact = insert(&app, &bob, "a.pdf", "one invoice").await;
    insert(&app, &bob, "b.pdf", "two invoices").await;
    let alices_exact = insert(&app, &alice, "a.pdf", "one invoice").await;
    let alices_plural = insert(&app, &alice, "b.pdf", "two invoices").await;

    assert_eq!(found(&app, &bob, "invoice").await, [bobs_exact.as_str()]);
    assert_eq!(
        found(&app, &alice, "invoice").await,
        [alices_exact.as_str(), alices_plural.as_str()]
    );
    assert_eq!(
        document_stems::Entity::find()
            .filter(document_stems::Column::DocumentId.eq(Uuid::parse_str(&bobs_exact).unwrap()))
            .count(&app.state.db)
            .await
            .unwrap(),
        0,
        "a simple account's documents have no stems"
    );
}

#[tokio::test]
async fn the_language_is_validated_shown_and_defaults_to_the_server_setting() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__SEARCH__DEFAULT_LANGUAGE".into(),
            "german".into(),
        );
    })
    .await;
    let s = app.register("carol").await;
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(me["search_language"], "german");
    for bad in ["french", "English", ""] {
        let res = set_language(&app, &s, bad).await;
        assert_eq!(res.status(), 422, "{bad:?}");
        let err = body(res).await;
        assert_eq!(err["code"], "validation_failed", "{err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("simple, english, german"),
            "{err}"
        );
    }
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(me["search_language"], "german", "unchanged by refusals");
    // null leaves it as it is.
    let res = app
        .client
        .patch(app.url("/api/auth/me"))
        .bearer_auth(&s.access)
        .json(&json!({ "search_language": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(body(res).await["search_language"], "german");
}

#[tokio::test]
async fn a_change_of_language_stems_the_documents_again() {
    let app = TestApp::spawn().await;
    let alice = speaking(&app, "alice", "english").await;
    let bob = speaking(&app, "bob", "english").await;
    for s in [&alice, &bob] {
        with_filler(&app, s).await;
    }
    let runs = insert(&app, &alice, "i.pdf", "she runs").await;
    let rechnungen = insert(&app, &alice, "r.pdf", "Rechnungen").await;
    let bobs = insert(&app, &bob, "i.pdf", "she runs").await;
    assert_eq!(found(&app, &alice, "running").await, [runs.as_str()]);
    assert!(found(&app, &alice, "Rechnung").await.is_empty());

    assert_eq!(set_language(&app, &alice, "german").await.status(), 200);
    common::poll_until(Duration::from_secs(20), "German stems", || async {
        (found(&app, &alice, "Rechnung").await == [rechnungen.clone()]).then_some(())
    })
    .await;
    assert!(found(&app, &alice, "running").await.is_empty());
    let german = document_stems::Entity::find()
        .filter(document_stems::Column::DocumentId.eq(Uuid::parse_str(&runs).unwrap()))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(german.language, docuvault::entities::SearchLanguage::German);
    // Bob's language and documents are his own.
    assert_eq!(found(&app, &bob, "running").await, [bobs.as_str()]);

    // Back to simple: the stems go.
    assert_eq!(set_language(&app, &alice, "simple").await.status(), 200);
    common::poll_until(Duration::from_secs(20), "no stems", || async {
        let alices = document_stems::Entity::find()
            .filter(document_stems::Column::DocumentId.is_in([
                Uuid::parse_str(&runs).unwrap(),
                Uuid::parse_str(&rechnungen).unwrap(),
            ]))
            .count(&app.state.db)
            .await
            .unwrap();
        (alices == 0).then_some(())
    })
    .await;
    assert!(found(&app, &alice, "Rechnung").await.is_empty());
    assert_eq!(
        found(&app, &alice, "Rechnungen").await,
        [rechnungen.as_str()]
    );
}

#[tokio::test]
async fn texts_without_stems_are_found_exactly_and_stemmed_at_start() {
    let app = TestApp::spawn().await;
    let alice = speaking(&app, "alice", "english").await;
    with_filler(&app, &alice).await;
    let exact = insert(&app, &alice, "a.pdf", "one invoice").await;
    let plural = insert(&app, &alice, "b.pdf", "two invoices").await;
    // As a migration or an import leaves them: texts without stems.
    document_stems::Entity::delete_many()
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(found(&app, &alice, "invoice").await, [exact.as_str()]);
    assert_eq!(found(&app, &alice, "invoices").await, [plural.as_str()]);

    let app = app.restart_with(|_| {}).await;
    common::poll_until(
        Duration::from_secs(20),
        "stems written at start",
        || async {
            (found(&app, &alice, "invoice").await == [exact.clone(), plural.clone()]).then_some(())
        },
    )
    .await;
    assert_eq!(
        document_stems::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        (FILLER.len() + 2) as u64
    );
}

#[tokio::test]
async fn exports_carry_the_language_and_imports_stem_again() {
    let source = TestApp::spawn().await;
    let alice = speaking(&source, "alice", "german").await;
    let bob = speaking(&source, "bob", "english").await;
    with_filler(&source, &alice).await;
    let doc = insert(&source, &alice, "r.pdf", "Rechnungen").await;

    // The account's own export names its language.
    let res = source.get_auth("/api/me/export", &alice.access).await;
    assert_eq!(res.status(), 200);
    let zip = res.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let manifest: Value =
        serde_json::from_reader(archive.by_name("manifest.json").unwrap()).unwrap();
    assert_eq!(manifest["account"]["search_language"], "german");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let (ok, _, stderr) = common::run_cli(&source, &["export", "--out", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let key = std::fs::read_to_string(
        std::path::Path::new(&source.env()["DOCUVAULT__DATA_DIR"]).join("secret.key"),
    )
    .unwrap();
    // An export from before the setting: bob's row without it imports as `simple`.
    let users_file = out.join("users.jsonl");
    let rows: Vec<String> = std::fs::read_to_string(&users_file)
        .unwrap()
        .lines()
        .map(|l| {
            let mut row: Value = serde_json::from_str(l).unwrap();
            if row["handle"] == "bob" {
                row.as_object_mut().unwrap().remove("search_language");
            }
            row.to_string()
        })
        .collect();
    std::fs::write(&users_file, rows.join("\n") + "\n").unwrap();
    let key = key.trim().to_owned();
    let target = TestApp::spawn_with(move |env| {
        env.insert("DOCUVAULT__SECURITY__SECRET_KEY".into(), key);
    })
    .await;
    let (ok, _, stderr) = common::run_cli(&target, &["import", "--from", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // Started on the imported vault: the texts are stemmed in their owners' languages.
    let target = target.restart_with(|_| {}).await;
    let alice = target.login("alice", common::PASSWORD).await;
    let me = body(target.get_auth("/api/auth/me", &alice.access).await).await;
    assert_eq!(me["search_language"], "german");
    drop(bob);
    let bob = target.login("bob", common::PASSWORD).await;
    let me = body(target.get_auth("/api/auth/me", &bob.access).await).await;
    assert_eq!(me["search_language"], "simple");
    common::poll_until(
        Duration::from_secs(20),
        "imported texts stemmed",
        || async { (found(&target, &alice, "Rechnung").await == [doc.clone()]).then_some(()) },
    )
    .await;
}
