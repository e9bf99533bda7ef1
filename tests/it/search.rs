//! The documents read path over HTTP, on SQLite and PostgreSQL: full-text search
//! (ranking, highlighted snippets, owner isolation, filters and paging, hostile query
//! text), the search index following inserts/updates/deletes and existing rows, list
//! sorts that are stable and complete across pages, and topics/provenance in views.
//!
//! Documents are inserted (or their extracted text set) directly through the app's
//! database handle, as the processing pipeline would; every read goes over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use std::collections::HashSet;

use chrono::{Duration, Utc};
use common::{Session, TestApp};
use docuvault::entities::{document_topics, documents};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

/// What a test document looks like; `Default` gives a classified PDF at the root.
#[derive(Clone)]
struct Doc {
    filename: String,
    text: Option<String>,
    status: &'static str,
    folder: Option<Uuid>,
    size: i64,
    created_at: chrono::DateTime<Utc>,
}

impl Default for Doc {
    fn default() -> Self {
        Self {
            filename: "doc.pdf".into(),
            text: None,
            status: "classified",
            folder: None,
            size: 1000,
            created_at: docuvault::time::now(),
        }
    }
}

fn named(filename: &str, text: &str) -> Doc {
    Doc {
        filename: filename.into(),
        text: Some(text.into()),
        ..Doc::default()
    }
}

/// Inserts `doc` for `owner` as the processing pipeline leaves it; returns its id.
async fn insert(app: &TestApp, owner: &Session, doc: Doc) -> Uuid {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    let id = *row.id.as_ref();
    row.folder_id = Set(doc.folder);
    row.filename = Set(doc.filename);
    row.size_bytes = Set(doc.size);
    row.status = Set(doc.status.parse().unwrap());
    row.attempts = Set(1);
    row.created_at = Set(doc.created_at);
    row.updated_at = Set(doc.created_at);
    // No RETURNING: also works on an older schema (below).
    documents::Entity::insert(row)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
    if let Some(text) = doc.text {
        common::set_text(app, id, text).await;
    }
    id
}

/// `GET /api/documents?{query}` as `s`; asserts 200 and returns the page.
async fn page(app: &TestApp, s: &Session, query: &str) -> Value {
    let res = app
        .get_auth(&format!("/api/documents?{query}"), &s.access)
        .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "GET /api/documents?{query}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Search `q` (URL-encoded here) with extra parameters; returns the page.
async fn search(app: &TestApp, s: &Session, q: &str, extra: &str) -> Value {
    let q = urlencode(q);
    page(app, s, &format!("q={q}{extra}")).await
}

fn urlencode(s: &str) -> String {
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

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn item(page: &Value, id: Uuid) -> &Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id.to_string())
        .unwrap_or_else(|| panic!("{id} not in {page}"))
}

/// The highlighted words of a hit's snippet, lower-cased.
fn highlights(hit: &Value) -> Vec<String> {
    hit["snippet"]
        .as_array()
        .unwrap_or_else(|| panic!("no snippet in {hit}"))
        .iter()
        .filter(|s| s["highlight"] == true)
        .map(|s| s["text"].as_str().unwrap().to_lowercase())
        .collect()
}

fn filler(n: usize, seed: usize) -> String {
    const WORDS: &[&str] = &[
        "meeting", "garden", "window", "river", "letter", "station", "market", "yellow", "quiet",
        "paper", "number", "winter", "travel", "kitchen", "bridge", "summer",
    ];
    (0..n)
        .map(|i| WORDS[(i * 7 + seed) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn search_ranks_highlights_and_stays_within_the_owners_documents() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    let many = insert(
        &app,
        &alice,
        named(
            "notes.txt",
            &format!(
                "{} budget review: the budget is tight, budget cuts, budget again. {}",
                filler(30, 1),
                filler(30, 2)
            ),
        ),
    )
    .await;
    let once = insert(
        &app,
        &alice,
        named(
            "minutes.txt",
            &format!(
                "{} a word about the Budget here. {}",
                filler(40, 3),
                filler(40, 4)
            ),
        ),
    )
    .await;
    let in_name = insert(&app, &alice, named("budget-2025.pdf", &filler(50, 5))).await;
    let _unrelated = insert(&app, &alice, named("other.txt", &filler(60, 6))).await;
    let bobs = insert(
        &app,
        &bob,
        named("budget.txt", "budget budget budget budget secretword"),
    )
    .await;

    let hits = search(&app, &alice, "budget", "").await;
    assert_eq!(hits["total"], 3, "{hits}");
    let order = ids(&hits);
    assert_eq!(order.len(), 3);
    assert!(
        !order.contains(&bobs.to_string()),
        "another user's document"
    );
    let pos = |id: Uuid| order.iter().position(|x| *x == id.to_string()).unwrap();
    assert!(
        pos(many) < pos(once),
        "many mentions rank above one: {order:?}"
    );
    assert!(
        pos(in_name) < pos(once),
        "a filename match ranks above one mention in the text: {order:?}"
    );

    // Snippets: plain text segments with the matched word highlighted.
    for id in [many, once, in_name] {
        let hit = item(&hits, id);
        let marked = highlights(hit);
        assert!(!marked.is_empty(), "highlighted segment in {hit}");
        assert!(marked.iter().all(|w| w.contains("budget")), "{marked:?}");
        for seg in hit["snippet"].as_array().unwrap() {
            let text = seg["text"].as_str().unwrap();
            assert!(
                !text.contains('<') && !text.contains('\u{E000}'),
                "plain text: {text:?}"
            );
        }
    }
    let once_text: String = item(&hits, once)["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert!(
        once_text.contains("Budget"),
        "snippet shows the original case: {once_text}"
    );
    // Plain listings carry no snippet.
    let plain = page(&app, &alice, "per_page=10").await;
    assert!(
        plain["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["snippet"].is_null())
    );

    // Owner isolation, both ways, in hits and totals.
    let theirs = search(&app, &alice, "secretword", "").await;
    assert_eq!(theirs["total"], 0);
    assert!(ids(&theirs).is_empty());
    let bob_hits = search(&app, &bob, "budget", "").await;
    assert_eq!(bob_hits["total"], 1);
    assert_eq!(ids(&bob_hits), vec![bobs.to_string()]);

    // The query language: phrases, or, exclusion, case-insensitive.
    let phrase = search(&app, &alice, "\"budget cuts\"", "").await;
    assert_eq!(ids(&phrase), vec![many.to_string()]);
    let either = search(&app, &alice, "tight or here", "").await;
    assert_eq!(either["total"], 2);
    let excluded = search(&app, &alice, "BUDGET -tight", "").await;
    assert_eq!(excluded["total"], 2);
    assert!(!ids(&excluded).contains(&many.to_string()));
    let both = search(&app, &alice, "budget tight", "").await;
    assert_eq!(ids(&both), vec![many.to_string()]);
}

/// The text of a hit's snippet, all segments joined.
fn snippet_text(hit: &Value) -> String {
    hit["snippet"]
        .as_array()
        .unwrap_or_else(|| panic!("no snippet in {hit}"))
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn snippets_show_a_match_far_into_a_long_text() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    // About 12 000 characters before the first match, and more after it: the snippet
    // must come from where the words are, not from the text's start.
    let text = format!(
        "{} The Quarterly zebrafish census counted nine tanks; the zebrafish thrived. {} \
         Later the ocelot enclosure opened. {}",
        filler(1_800, 1),
        filler(300, 2),
        filler(900, 3)
    );
    assert!(text.find("zebrafish").unwrap() > 11_000);
    let long = insert(&app, &alice, named("notes.txt", &text)).await;

    for (q, word, near) in [
        ("zebrafish", "zebrafish", "Quarterly"),
        ("zebra*", "zebrafish", "census"),
        // The second word is written first: the snippet still shows both.
        ("ocelot zebrafish", "zebrafish", "tanks"),
        ("\"zebrafish census\"", "zebrafish", "Quarterly"),
    ] {
        let hits = search(&app, &alice, q, "").await;
        assert_eq!(ids(&hits), [long.to_string()], "{q}: {hits}");
        let hit = item(&hits, long);
        let marked = highlights(hit);
        assert!(
            marked.iter().any(|w| w.contains(word)),
            "{q}: {word} highlighted in {hit}"
        );
        let shown = snippet_text(hit);
        assert!(shown.contains(near), "{q}: {near} shown around it: {shown}");
    }
}

#[tokio::test]
async fn search_combines_with_folder_topic_status_filters_sorts_and_paging() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let res = app
        .post_json(
            "/api/folders",
            Some(&alice.access),
            &json!({"name": "Harbour"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let folder = Uuid::parse_str(body(res).await["id"].as_str().unwrap()).unwrap();
    let res = app
        .post_json(
            "/api/topics",
            Some(&alice.access),
            &json!({"name": "Boats"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let topic = Uuid::parse_str(body(res).await["id"].as_str().unwrap()).unwrap();

    let mut all = Vec::new();
    let mut in_folder = HashSet::new();
    let mut with_topic = HashSet::new();
    let mut failed = HashSet::new();
    for i in 0..25usize {
        let mut d = named(
            &format!("file-{i:02}.txt"),
            &format!("{} {} {}", "anchor ".repeat(1 + i % 5), filler(20, i), i),
        );
        d.folder = (i % 3 == 0).then_some(folder);
        d.status = if i % 4 == 0 { "failed" } else { "classified" };
        let id = insert(&app, &alice, d).await;
        if i % 3 == 0 {
            in_folder.insert(id.to_string());
        }
        if i % 4 == 0 {
            failed.insert(id.to_string());
        }
        if i % 2 == 0 {
            document_topics::ActiveModel {
                document_id: Set(id),
                topic_id: Set(topic),
                source: Set("user".parse().unwrap()),
                confidence: Set(None),
                created_at: Set(docuvault::time::now()),
            }
            .insert(&app.state.db)
            .await
            .unwrap();
            with_topic.insert(id.to_string());
        }
        all.push(id.to_string());
    }
    // Noise that must never show up: no match, pending upload, another account.
    insert(&app, &alice, named("x.txt", &filler(20, 99))).await;
    let mut pending = named("pending.txt", "anchor anchor");
    pending.status = "pending";
    insert(&app, &alice, pending).await;
    let bob = app.register("bob").await;
    insert(&app, &bob, named("bob.txt", "anchor")).await;

    // Paging through all hits: complete, no duplicates, same total on every page.
    let mut seen = Vec::new();
    for p in 1..=3 {
        let hits = search(&app, &alice, "anchor", &format!("&per_page=10&page={p}")).await;
        assert_eq!(hits["total"], 25, "page {p}");
        assert_eq!(hits["page"], p);
        seen.extend(ids(&hits));
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 25);
    assert_eq!(unique, all.iter().cloned().collect::<HashSet<_>>());
    let beyond = search(&app, &alice, "anchor", "&per_page=10&page=4").await;
    assert_eq!(beyond["total"], 25);
    assert!(ids(&beyond).is_empty());

    let check = |hits: &Value, want: &HashSet<String>| {
        let got: HashSet<String> = ids(hits).into_iter().collect();
        assert_eq!(&got, want, "{hits}");
        assert_eq!(hits["total"], want.len());
    };
    let hits = search(
        &app,
        &alice,
        "anchor",
        &format!("&folder_id={folder}&per_page=100"),
    )
    .await;
    check(&hits, &in_folder);
    let hits = search(
        &app,
        &alice,
        "anchor",
        &format!("&topic={topic}&per_page=100"),
    )
    .await;
    check(&hits, &with_topic);
    let hits = search(&app, &alice, "anchor", "&status=failed&per_page=100").await;
    check(&hits, &failed);
    let both: HashSet<String> = with_topic.intersection(&in_folder).cloned().collect();
    let hits = search(
        &app,
        &alice,
        "anchor",
        &format!("&topic={topic}&folder_id={folder}&per_page=100"),
    )
    .await;
    check(&hits, &both);

    // An explicit sort replaces relevance.
    let hits = search(&app, &alice, "anchor", "&sort=name&order=asc&per_page=100").await;
    let names: Vec<String> = hits["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["filename"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 25);
    // Relevance: more mentions first.
    let hits = search(&app, &alice, "anchor", "&per_page=100").await;
    let first = hits["items"][0]["filename"].as_str().unwrap().to_owned();
    let n: usize = first[5..7].parse().unwrap();
    assert_eq!(
        n % 5,
        4,
        "a document with the most mentions comes first, got {first}"
    );
}

/// A query matching more documents than `documents.search_max_hits` returns that many:
/// by relevance the most recently uploaded matches, ranked; with a sort, the first ones
/// in that order. The total reads the limit and says it is not exact, on every page.
#[tokio::test]
async fn a_search_returns_at_most_max_hits() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__DOCUMENTS__SEARCH_MAX_HITS".into(), "5".into());
    })
    .await;
    let alice = app.register("alice").await;
    let base = Utc::now() - Duration::days(10);
    // Eight matches, uploaded oldest first. The oldest mentions the word most (it would
    // rank first) but is not among the five newest; of those, #6 mentions it most.
    let mut by_age = Vec::new();
    for i in 0..8i64 {
        let text = match i {
            0 => "beacon beacon beacon beacon beacon",
            6 => "beacon beacon beacon filler",
            _ => "one beacon among many other ordinary words here",
        };
        let d = Doc {
            filename: format!("doc-{i}.txt"),
            text: Some(text.into()),
            created_at: base + Duration::hours(i),
            size: 100 * (8 - i),
            ..Doc::default()
        };
        by_age.push(insert(&app, &alice, d).await.to_string());
    }
    for i in 0..3 {
        insert(&app, &alice, named(&format!("l{i}.txt"), "lantern")).await;
    }
    let bob = app.register("bob").await;
    insert(&app, &bob, named("b.txt", "beacon")).await;

    let hits = search(&app, &alice, "beacon", "").await;
    assert_eq!(hits["total"], 5, "{hits}");
    assert_eq!(hits["total_exact"], false, "{hits}");
    let got = ids(&hits);
    assert_eq!(
        got.iter().cloned().collect::<HashSet<_>>(),
        by_age[3..].iter().cloned().collect::<HashSet<_>>(),
        "the five newest matches"
    );
    assert_eq!(got[0], by_age[6], "ranked among themselves: {hits}");

    // Paging stops at the limit; a page past it is empty with the same total.
    let mut paged = Vec::new();
    for p in 1..=4 {
        let hits = search(&app, &alice, "beacon", &format!("&per_page=2&page={p}")).await;
        assert_eq!(hits["total"], 5, "page {p}: {hits}");
        assert_eq!(hits["total_exact"], false, "page {p}: {hits}");
        paged.extend(ids(&hits));
    }
    assert_eq!(
        paged, got,
        "pages of 2 give the same five in the same order"
    );

    // With a sort: the first five in that order, the oldest included.
    let by_size = search(&app, &alice, "beacon", "&sort=size&order=desc").await;
    assert_eq!(ids(&by_size), by_age[..5].to_vec(), "{by_size}");
    assert_eq!(by_size["total"], 5);
    assert_eq!(by_size["total_exact"], false);
    let oldest = search(
        &app,
        &alice,
        "beacon",
        "&sort=created_at&order=asc&per_page=3",
    )
    .await;
    assert_eq!(ids(&oldest), by_age[..3].to_vec(), "{oldest}");
    let rest = search(
        &app,
        &alice,
        "beacon",
        "&sort=created_at&order=asc&per_page=3&page=2",
    )
    .await;
    assert_eq!(ids(&rest), by_age[3..5].to_vec(), "{rest}");

    // Under the limit, and without q, totals are exact.
    let few = search(&app, &alice, "lantern", "").await;
    assert_eq!(few["total"], 3);
    assert_eq!(few["total_exact"], true);
    let either = search(&app, &alice, "lantern or filler", "").await;
    assert_eq!(either["total"], 4);
    assert_eq!(either["total_exact"], true);
    let all = page(&app, &alice, "per_page=2").await;
    assert_eq!(all["total"], 11);
    assert_eq!(all["total_exact"], true);
}

#[tokio::test]
async fn hostile_query_text_is_never_a_server_error() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    insert(
        &app,
        &alice,
        named(
            "budget.txt",
            "the budget and the plan or not, café crème — 東京 report",
        ),
    )
    .await;

    let literal_finds = [
        "budget*",
        "budget:",
        "(budget)",
        "\"budget",
        "budget\"",
        "budget AND",
        "NOT budget",
        "budget  plan",
        "{budget}",
        "budget^",
        "budget + plan",
        "budget \\",
        "budget 😀",
        "budget\u{0}",
        "budget -missingword",
        "budget or missingword",
        "café",
        "CAFÉ",
        "東京",
    ];
    for q in literal_finds {
        let hits = search(&app, &alice, q, "").await;
        assert_eq!(hits["total"], 1, "q={q:?}: {hits}");
    }
    let no_match_but_fine = [
        "\"",
        "\"\"",
        "''",
        "*",
        "***",
        ":",
        "-",
        "- -",
        "(",
        ")",
        "()",
        "AND OR NOT",
        "NEAR(a b)",
        "^",
        "😀",
        "😀 🎉",
        "\\",
        "%",
        "%%",
        "_",
        "a:b:c",
        "col:value",
        "filename:budget2",
        "{filename}: x",
        "x\u{E000}y\u{E001}",
        "\u{202E}evil",
        "budget' OR '1'='1",
        "budget; DROP TABLE documents; --",
        "x' UNION SELECT extracted_text FROM documents --",
    ];
    for q in no_match_but_fine {
        let res = app
            .get_auth(&format!("/api/documents?q={}", urlencode(q)), &alice.access)
            .await;
        assert_eq!(res.status(), 200, "q={q:?}");
    }
    // The longest queries still work: 32 words (the most a query may have), 471 characters.
    let long = format!("budget{}", " or missingword".repeat(31));
    assert_eq!(long.chars().count(), 471);
    let hits = search(&app, &alice, &long, "").await;
    assert_eq!(hits["total"], 1);

    for (q, what) in [
        ("", "empty"),
        ("   ", "blank"),
        ("\u{0}\u{0}", "only NUL"),
        ("-budget", "only excluded words"),
    ] {
        let res = app
            .get_auth(&format!("/api/documents?q={}", urlencode(q)), &alice.access)
            .await;
        assert_eq!(res.status(), 400, "{what}");
        let err = body(res).await;
        assert_eq!(err["code"], "invalid_query", "{what}");
    }
    for n in [501, 1000, 5000] {
        let q = "x".repeat(n);
        let res = app
            .get_auth(&format!("/api/documents?q={q}"), &alice.access)
            .await;
        assert_eq!(res.status(), 400, "{n} characters");
    }
    let mixed: String = "a\"(*:-) ".repeat(125);
    let res = app
        .get_auth(
            &format!("/api/documents?q={}", urlencode(&mixed)),
            &alice.access,
        )
        .await;
    assert!(
        res.status().is_client_error(),
        "1000 mixed characters: {}",
        res.status()
    );
    // Every query above left the server healthy.
    assert_eq!(app.health().await.status(), 200);
}

#[tokio::test]
async fn the_search_index_follows_uploads_text_renames_deletes_and_existing_rows() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;

    // A real upload; its text arrives later, as from the pipeline.
    let id = app
        .upload(&alice, "draft.txt", "text/plain", b"hello".to_vec())
        .await;
    assert_eq!(
        search(&app, &alice, "draft", "").await["total"],
        1,
        "by name at once"
    );
    // The pipeline stores the upload's own text ("hello"); the text set below must not
    // race with it.
    common::wait_processed(&app, &alice, &id).await;
    let id = Uuid::parse_str(&id).unwrap();
    assert_eq!(search(&app, &alice, "zeppelin", "").await["total"], 0);
    let doc = documents::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    common::set_text(&app, id, "the zeppelin landed at noon").await;
    let mut active: documents::ActiveModel = doc.into();
    active.status = Set("unclassified".parse().unwrap());
    active.update(&app.state.db).await.unwrap();
    let hits = search(&app, &alice, "zeppelin", "").await;
    assert_eq!(ids(&hits), vec![id.to_string()]);
    assert_eq!(highlights(&hits["items"][0]), vec!["zeppelin"]);

    // Rename through the API: the new name is found, the old one no longer.
    let res = app
        .client
        .patch(app.url(&format!("/api/documents/{id}")))
        .bearer_auth(&alice.access)
        .json(&json!({"filename": "final-report.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(search(&app, &alice, "final", "").await["total"], 1);
    assert_eq!(search(&app, &alice, "draft", "").await["total"], 0);

    // Pending uploads are not listed nor found.
    app.upload_url(&alice, "pendingname.txt", "text/plain", 5)
        .await;
    assert_eq!(search(&app, &alice, "pendingname", "").await["total"], 0);

    // Deleted through the API: gone from the index.
    let res = app
        .client
        .delete(app.url(&format!("/api/documents/{id}?permanent=true")))
        .bearer_auth(&alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(search(&app, &alice, "zeppelin", "").await["total"], 0);
    assert_eq!(search(&app, &alice, "final", "").await["total"], 0);

    // Texts stored in `documents` before they had a table of their own are moved there
    // and stay found.
    use migration::MigratorTrait;
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let db = &app.state.db;
    let names: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let texts_table = names
        .iter()
        .position(|n| n == "m20261207_000025_document_texts")
        .expect("the texts table migration");
    let steps = u32::try_from(names.len() - texts_table).unwrap();
    migration::Migrator::down(db, Some(steps)).await.unwrap();
    let legacy = Doc {
        filename: "legacy.txt".into(),
        text: None,
        ..Doc::default()
    };
    let old = insert(&app, &alice, legacy).await;
    let legacy_text = Query::update()
        .table(Alias::new("documents"))
        .value(Alias::new("extracted_text"), "an old walrus document")
        .and_where(Expr::col(Alias::new("id")).eq(old))
        .to_owned();
    db.execute(&legacy_text).await.unwrap();
    migration::Migrator::up(db, None).await.unwrap();
    let hits = search(&app, &alice, "walrus", "").await;
    assert_eq!(ids(&hits), vec![old.to_string()]);
    // ...and later rows still get indexed.
    let newer = insert(&app, &alice, named("new.txt", "a newer walrus")).await;
    let hits = search(&app, &alice, "walrus", "").await;
    assert_eq!(hits["total"], 2);
    assert!(ids(&hits).contains(&newer.to_string()));

    // A text replaced, then cleared (a new version made current): only the name is left.
    common::set_text(&app, newer, "a newer narwhal").await;
    assert_eq!(search(&app, &alice, "walrus", "").await["total"], 1);
    assert_eq!(
        ids(&search(&app, &alice, "narwhal", "").await),
        vec![newer.to_string()]
    );
    docuvault::documents::texts::clear(db, newer).await.unwrap();
    assert_eq!(search(&app, &alice, "narwhal", "").await["total"], 0);
    assert_eq!(
        ids(&search(&app, &alice, "new", "").await),
        vec![newer.to_string()]
    );
    // SQLite checks every entry of the index against the view it indexes: the triggers
    // removed each old entry with exactly the values it was indexed with.
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared(
            "INSERT INTO documents_fts (documents_fts, rank) VALUES ('integrity-check', 1)",
        )
        .await
        .expect("the FTS index matches its content");
    }
}

#[tokio::test]
async fn every_sort_is_stable_and_complete_across_pages() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let base = Utc::now() - Duration::days(10);
    let mut all = HashSet::new();
    for i in 0..23i64 {
        // Many ties on every key, so only the id tie-breaker keeps pages apart.
        let d = Doc {
            filename: format!("name-{}.pdf", i % 5),
            size: 100 * (i % 4),
            created_at: base + Duration::seconds(i % 3),
            ..Doc::default()
        };
        all.insert(insert(&app, &alice, d).await.to_string());
    }
    let pending = Doc {
        status: "pending",
        ..Doc::default()
    };
    insert(&app, &alice, pending).await;
    let other = app.register("bob").await;
    insert(&app, &other, Doc::default()).await;

    for sort in ["created_at", "name", "size"] {
        for order in ["asc", "desc"] {
            let mut seen = Vec::new();
            let mut keys = Vec::new();
            for p in 1..=5 {
                let got = page(
                    &app,
                    &alice,
                    &format!("sort={sort}&order={order}&per_page=5&page={p}"),
                )
                .await;
                assert_eq!(got["total"], 23, "{sort} {order} page {p}");
                for d in got["items"].as_array().unwrap() {
                    seen.push(d["id"].as_str().unwrap().to_owned());
                    keys.push(match sort {
                        "created_at" => json!(
                            chrono::DateTime::parse_from_rfc3339(d["created_at"].as_str().unwrap())
                                .unwrap()
                                .timestamp_micros()
                        ),
                        "name" => d["filename"].clone(),
                        _ => d["size_bytes"].clone(),
                    });
                }
            }
            assert_eq!(seen.len(), 23, "{sort} {order}");
            assert_eq!(
                seen.iter().cloned().collect::<HashSet<_>>(),
                all,
                "{sort} {order}"
            );
            let ordered = keys.windows(2).all(|w| {
                let cmp = match (&w[0], &w[1]) {
                    (Value::String(a), Value::String(b)) => a.cmp(b),
                    (a, b) => a.as_i64().unwrap().cmp(&b.as_i64().unwrap()),
                };
                if order == "asc" {
                    cmp.is_le()
                } else {
                    cmp.is_ge()
                }
            });
            assert!(ordered, "{sort} {order}: {keys:?}");
            // The same request twice gives the same order (ties broken by id).
            let a = page(
                &app,
                &alice,
                &format!("sort={sort}&order={order}&per_page=100"),
            )
            .await;
            let b = page(
                &app,
                &alice,
                &format!("sort={sort}&order={order}&per_page=100"),
            )
            .await;
            assert_eq!(ids(&a), ids(&b));
            assert_eq!(ids(&a).len(), 23);
        }
    }
    let empty = page(&app, &alice, "per_page=5&page=6").await;
    assert_eq!(empty["total"], 23);
    assert!(ids(&empty).is_empty());
    let last = page(&app, &alice, "per_page=5&page=5").await;
    assert_eq!(ids(&last).len(), 3);
    assert_eq!(last["total"], 23);
}

#[tokio::test]
async fn topics_provenance_and_checksum_appear_in_every_view() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut topic_ids = Vec::new();
    for (name, color) in [("Taxes", "#ff0000"), ("Bank", "#00ff00")] {
        let res = app
            .post_json(
                "/api/topics",
                Some(&alice.access),
                &json!({"name": name, "color": color}),
            )
            .await;
        assert_eq!(res.status(), 201);
        topic_ids.push(Uuid::parse_str(body(res).await["id"].as_str().unwrap()).unwrap());
    }
    let id = insert(
        &app,
        &alice,
        named("statement.pdf", "quarterly bank statement"),
    )
    .await;
    let plain = insert(&app, &alice, named("plain.pdf", "nothing")).await;
    let doc = documents::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut active: documents::ActiveModel = doc.into();
    active.sha256 = Set(Some("ab".repeat(32)));
    active.classified_by = Set(Some(
        json!({"provider": "builtin", "model": "naive-bayes", "prompt_version": "3"}),
    ));
    active.update(&app.state.db).await.unwrap();
    for (topic, source, confidence) in [
        (topic_ids[0], "ai", Some(0.87)),
        (topic_ids[1], "user", None),
    ] {
        document_topics::ActiveModel {
            document_id: Set(id),
            topic_id: Set(topic),
            source: Set(source.parse().unwrap()),
            confidence: Set(confidence),
            created_at: Set(docuvault::time::now()),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }

    let check = |view: &Value| {
        assert_eq!(view["sha256"], "ab".repeat(32));
        assert_eq!(
            view["classified_by"],
            json!({"provider": "builtin", "model": "naive-bayes", "prompt_version": "3"})
        );
        let topics = view["topics"].as_array().unwrap();
        assert_eq!(topics.len(), 2, "{view}");
        // Sorted by name: Bank, Taxes.
        assert_eq!(topics[0]["name"], "Bank");
        assert_eq!(topics[0]["id"], topic_ids[1].to_string());
        assert_eq!(topics[0]["color"], "#00ff00");
        assert_eq!(topics[0]["source"], "user");
        assert!(topics[0]["confidence"].is_null());
        assert_eq!(topics[1]["name"], "Taxes");
        assert_eq!(topics[1]["source"], "ai");
        assert!((topics[1]["confidence"].as_f64().unwrap() - 0.87).abs() < 1e-9);
    };
    let listed = page(&app, &alice, "").await;
    check(item(&listed, id));
    let bare = item(&listed, plain);
    assert_eq!(bare["topics"], json!([]));
    assert!(bare["classified_by"].is_null());
    assert!(bare["sha256"].is_null());
    let one = body(
        app.get_auth(&format!("/api/documents/{id}"), &alice.access)
            .await,
    )
    .await;
    check(&one);
    let hits = search(&app, &alice, "statement", "").await;
    check(item(&hits, id));
    let filtered = page(&app, &alice, &format!("topic={}", topic_ids[0])).await;
    assert_eq!(ids(&filtered), vec![id.to_string()]);
    check(item(&filtered, id));

    // The recipient of a share sees the same metadata.
    let res = app
        .post_json(
            &format!("/api/documents/{id}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert!(res.status().is_success());
    let shared = body(app.get_auth("/api/shared-with-me", &bob.access).await).await;
    check(&shared["items"][0]["document"]);
    let one = body(
        app.get_auth(&format!("/api/documents/{id}"), &bob.access)
            .await,
    )
    .await;
    check(&one);
    // Search stays within the caller's own documents, even for shared ones.
    assert_eq!(search(&app, &bob, "statement", "").await["total"], 0);
}
