//! Document dates and pages (issue 17, item 5) over HTTP, on SQLite and PostgreSQL: the
//! date processing finds in a document's text or file name, the page count of a real
//! PDF, the date the user sets or clears (which re-classify never replaces), and the
//! list and search sorted and filtered by it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use docuvault::entities::documents;
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{self, Session, TestApp, body, document, wait_processed};

/// The real-document corpus (`.ci/fetch-corpus.sh`), or `None` (with a notice) when it
/// was not asked for and is not cached; a set `DOCUVAULT_TEST_CORPUS_DIR` without a
/// corpus fails.
fn corpus_pdf(name: &str) -> Option<Vec<u8>> {
    let asked = std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR").filter(|d| !d.is_empty());
    let dir = asked.clone().map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(".cache/docuvault-corpus/v1")
    });
    match std::fs::read(dir.join("pdf").join(name)) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            assert!(
                asked.is_none(),
                "DOCUVAULT_TEST_CORPUS_DIR={dir:?} lacks pdf/{name}: {e}"
            );
            eprintln!(
                "NOT RUN: no real-document corpus; export \
                 DOCUVAULT_TEST_CORPUS_DIR=\"$(bash .ci/fetch-corpus.sh)\""
            );
            None
        }
    }
}

/// Uploads a text document and waits until it is processed; returns its view.
async fn upload_text(app: &TestApp, s: &Session, filename: &str, text: &str) -> Value {
    let id = app
        .upload(s, filename, "text/plain", text.as_bytes().to_vec())
        .await;
    wait_processed(app, s, &id).await
}

fn date_of(doc: &Value) -> (Value, Value) {
    (
        doc["document_date"].clone(),
        doc["document_date_source"].clone(),
    )
}

async fn patch(app: &TestApp, s: &Session, id: &str, payload: Value) -> (u16, Value) {
    let res = app
        .patch_auth(&format!("/api/documents/{id}"), &s.access, &payload)
        .await;
    (res.status().as_u16(), body(res).await)
}

/// Re-classify and wait for the run to end.
async fn reclassify(app: &TestApp, s: &Session, id: &str) -> Value {
    let res = app
        .post_json(
            &format!("/api/documents/{id}/classify"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    wait_processed(app, s, id).await
}

#[tokio::test]
async fn a_real_pdf_gets_its_page_count_and_the_date_on_its_title_page() {
    let (Some(euro), Some(wasysym)) = (corpus_pdf("euro.pdf"), corpus_pdf("wasysym.pdf")) else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    // "The euro package / Melchior FRANZ / March 7, 2005" (15 pages, pdfinfo);
    // "version v2.4 – 2020/01/19" (4 pages).
    for (name, bytes, pages, date) in [
        ("euro.pdf", euro, 15, "2005-03-07"),
        ("wasysym.pdf", wasysym, 4, "2020-01-19"),
    ] {
        let id = app.upload(&alice, name, "application/pdf", bytes).await;
        let doc = wait_processed(&app, &alice, &id).await;
        assert_ne!(doc["status"], "failed", "{name}: {doc}");
        assert_eq!(doc["page_count"], pages, "{name}");
        assert_eq!(date_of(&doc), (json!(date), json!("content")), "{name}");
    }
}

#[tokio::test]
async fn dates_come_from_the_text_else_the_file_name_and_impossible_ones_never() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;

    let letter = upload_text(
        &app,
        &alice,
        "Rechnung.txt",
        "Stadtwerke Musterstadt\nBerlin, den 01.03.2024\nRechnung Nr. 4711 über Strom",
    )
    .await;
    assert_eq!(date_of(&letter), (json!("2024-03-01"), json!("content")));
    // Only PDFs (and images) have pages.
    assert_eq!(letter["page_count"], Value::Null);

    let scan = upload_text(&app, &alice, "scan_20240301.txt", "no date in here").await;
    assert_eq!(date_of(&scan), (json!("2024-03-01"), json!("filename")));
    let named = upload_text(
        &app,
        &alice,
        "2023-05-06 invoice.txt",
        "Invoice for services",
    )
    .await;
    assert_eq!(date_of(&named), (json!("2023-05-06"), json!("filename")));
    // The text wins over the file name.
    let both = upload_text(
        &app,
        &alice,
        "2023-05-06 letter.txt",
        "Dear Sir, 1 March 2024",
    )
    .await;
    assert_eq!(date_of(&both), (json!("2024-03-01"), json!("content")));

    let bogus = upload_text(
        &app,
        &alice,
        "99.99.9999.txt",
        "Aktenzeichen 99.99.9999, Termin 31.02.2024, gültig bis 01.01.2999",
    )
    .await;
    assert_eq!(date_of(&bogus), (Value::Null, Value::Null));
    // Nor can anyone set it or filter by it.
    let id = bogus["id"].as_str().unwrap();
    let (status, err) = patch(&app, &alice, id, json!({"document_date": "99.99.9999"})).await;
    assert_eq!((status, &err["code"]), (422, &json!("validation_failed")));
    for bad in ["9999-99-99", "2024-02-30", "2024-3-1"] {
        let (status, err) = patch(&app, &alice, id, json!({"document_date": bad})).await;
        assert_eq!(status, 422, "{bad}: {err}");
    }
    assert_eq!(
        date_of(&document(&app, &alice, id).await),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn a_date_the_user_sets_or_clears_survives_reclassify_which_re_derives_the_others() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let doc = upload_text(
        &app,
        &alice,
        "letter.txt",
        "Hamburg, 3. Januar 2022\nSehr geehrte",
    )
    .await;
    let id = doc["id"].as_str().unwrap().to_owned();
    assert_eq!(date_of(&doc), (json!("2022-01-03"), json!("content")));

    // Another account cannot change it (the same 404 as a missing document).
    let (status, _) = patch(&app, &bob, &id, json!({"document_date": "2020-01-01"})).await;
    assert_eq!(status, 404);

    let (status, set) = patch(&app, &alice, &id, json!({"document_date": "2021-12-24"})).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(date_of(&set), (json!("2021-12-24"), json!("user")));
    let again = reclassify(&app, &alice, &id).await;
    assert_eq!(date_of(&again), (json!("2021-12-24"), json!("user")));

    // Cleared: the user says it has no date, and re-classify does not bring one back.
    let (status, cleared) = patch(&app, &alice, &id, json!({"document_date": null})).await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(date_of(&cleared), (Value::Null, json!("user")));
    let again = reclassify(&app, &alice, &id).await;
    assert_eq!(date_of(&again), (Value::Null, json!("user")));
    // Other changes leave it alone.
    let (_, renamed) = patch(
        &app,
        &alice,
        &id,
        json!({"filename": "2019-01-01 letter.txt"}),
    )
    .await;
    assert_eq!(date_of(&renamed), (Value::Null, json!("user")));
    // And the user can set one again.
    let (_, set) = patch(&app, &alice, &id, json!({"document_date": "2022-01-04"})).await;
    assert_eq!(date_of(&set), (json!("2022-01-04"), json!("user")));

    // A date processing found is derived again by re-classify: a new name dates an
    // undated document, and a date no longer found goes.
    let plain = upload_text(&app, &alice, "notes.txt", "no date here").await;
    let plain_id = plain["id"].as_str().unwrap().to_owned();
    assert_eq!(date_of(&plain), (Value::Null, Value::Null));
    patch(
        &app,
        &alice,
        &plain_id,
        json!({"filename": "2019-07-08 notes.txt"}),
    )
    .await;
    let dated = reclassify(&app, &alice, &plain_id).await;
    assert_eq!(date_of(&dated), (json!("2019-07-08"), json!("filename")));
    patch(&app, &alice, &plain_id, json!({"filename": "notes.txt"})).await;
    let undated = reclassify(&app, &alice, &plain_id).await;
    assert_eq!(date_of(&undated), (Value::Null, Value::Null));
}

/// Inserts a classified document of `owner` (text "alpha …") with this date.
async fn insert(app: &TestApp, owner: &Session, name: &str, date: Option<&str>) -> String {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    let id = *row.id.as_ref();
    row.filename = Set(name.into());
    row.status = Set("classified".parse().unwrap());
    row.attempts = Set(1);
    row.document_date = Set(date.map(|d| d.parse().unwrap()));
    row.document_date_source = Set(date.map(|_| documents::DocumentDateSource::Content));
    documents::Entity::insert(row)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
    common::set_text(app, id, format!("alpha words of {name}")).await;
    id.to_string()
}

/// The names of `GET /api/documents?{query}` (status asserted 200), in order, and the
/// total.
async fn names(app: &TestApp, s: &Session, query: &str) -> (Vec<String>, u64) {
    let res = app
        .get_auth(&format!("/api/documents?{query}"), &s.access)
        .await;
    assert_eq!(res.status(), 200, "?{query}");
    let page = body(res).await;
    let names = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["filename"].as_str().unwrap().to_owned())
        .collect();
    (names, page["total"].as_u64().unwrap())
}

#[tokio::test]
async fn lists_and_searches_sort_by_document_date_undated_last_and_filter_a_range() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    for (name, date) in [
        ("b.pdf", Some("2024-03-01")),
        ("none1.pdf", None),
        ("a.pdf", Some("2023-12-31")),
        ("c.pdf", Some("2024-03-02")),
        ("none2.pdf", None),
        ("d.pdf", Some("2025-01-01")),
    ] {
        insert(&app, &alice, name, date).await;
    }
    insert(&app, &bob, "bobs.pdf", Some("2024-03-01")).await;

    let asc = ["a.pdf", "b.pdf", "c.pdf", "d.pdf"];
    let desc = ["d.pdf", "c.pdf", "b.pdf", "a.pdf"];
    for search in ["", "q=alpha&"] {
        for (order, dated) in [("asc", asc), ("desc", desc)] {
            let query = format!("{search}sort=document_date&order={order}");
            let (got, total) = names(&app, &alice, &query).await;
            assert_eq!(total, 6, "{query}");
            assert_eq!(&got[..4], dated, "{query}");
            // Undated last, both ways (ties by id, in the same direction).
            let mut undated = got[4..].to_vec();
            undated.sort();
            assert_eq!(undated, ["none1.pdf", "none2.pdf"], "{query}");
            // Pages across the undated boundary neither overlap nor skip.
            let mut paged = Vec::new();
            for page in 1..=3 {
                let (part, _) =
                    names(&app, &alice, &format!("{query}&per_page=2&page={page}")).await;
                paged.extend(part);
            }
            assert_eq!(paged, got, "{query} in pages of 2");
        }

        // The range is inclusive on both ends; undated documents never match it.
        let query = format!(
            "{search}sort=document_date&order=asc&document_date_from=2024-03-01&document_date_to=2024-03-02"
        );
        assert_eq!(
            names(&app, &alice, &query).await,
            (vec!["b.pdf".into(), "c.pdf".into()], 2)
        );
        let query = format!("{search}sort=document_date&order=asc&document_date_from=2024-03-02");
        assert_eq!(names(&app, &alice, &query).await.0, ["c.pdf", "d.pdf"]);
        let query = format!("{search}sort=document_date&order=desc&document_date_to=2024-03-01");
        assert_eq!(names(&app, &alice, &query).await.0, ["b.pdf", "a.pdf"]);
        let query = format!("{search}document_date_from=2026-01-01");
        assert_eq!(names(&app, &alice, &query).await.1, 0);
    }
    // Another account's documents never take part.
    let (got, _) = names(&app, &bob, "sort=document_date&document_date_to=2030-01-01").await;
    assert_eq!(got, ["bobs.pdf"]);
    // The list views carry the date and its source.
    let res = app
        .get_auth(
            "/api/documents?sort=document_date&order=asc&per_page=1",
            &alice.access,
        )
        .await;
    let page = body(res).await;
    assert_eq!(page["items"][0]["document_date"], "2023-12-31");
    assert_eq!(page["items"][0]["document_date_source"], "content");
    assert_eq!(page["items"][0]["page_count"], Value::Null);
    // A saved view keeps the range.
    let res = app
        .post_json(
            "/api/views",
            Some(&alice.access),
            &json!({"name": "Early 2024", "query": {"document_date_from": "2024-01-01", "document_date_to": "2024-03-31", "sort": "document_date"}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", body(res).await);
}

#[tokio::test]
async fn bad_document_date_filters_are_400_invalid_query() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    for query in [
        "document_date_from=99.99.9999",
        "document_date_from=2024-13-01",
        "document_date_to=2024-02-30",
        "document_date_to=2024-3-1",
        "document_date_from=yesterday",
        "document_date_from=2024-03-01T00:00:00Z",
        "document_date_from=2024-03-02&document_date_to=2024-03-01",
        "q=alpha&document_date_to=01.03.2024",
    ] {
        let res = app
            .get_auth(&format!("/api/documents?{query}"), &alice.access)
            .await;
        assert_eq!(res.status(), 400, "?{query}");
        let err = body(res).await;
        assert_eq!(err["code"], "invalid_query", "?{query}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains("document_date_"),
            "?{query}: {err}"
        );
    }
    // A bad sort key is a 400 too; the date sort alone is fine on an empty vault.
    let res = app
        .get_auth("/api/documents?sort=document_day", &alice.access)
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .get_auth("/api/documents?sort=document_date&order=asc", &alice.access)
        .await;
    assert_eq!(res.status(), 200);
    // A saved view with a bad range is refused as the list refuses it.
    let res = app
        .post_json(
            "/api/views",
            Some(&alice.access),
            &json!({"name": "Bad", "query": {"document_date_from": "99.99.9999"}}),
        )
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());
}
