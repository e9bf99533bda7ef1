//! The limits of search over HTTP, on SQLite and PostgreSQL: the bounded total and the
//! exact count a client may ask for (`count=exact`), and query text built to hurt (1 000
//! words, unbalanced quotes, operators alone, control characters, thousands of `*`, very
//! long tokens) answering a 4xx or a result within a deadline, never a 5xx.
//!
//! Documents are inserted directly through the app's database handle, as the processing
//! pipeline would; every read goes over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::{self, Session, TestApp, body};
use docuvault::entities::documents;
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

/// Inserts a classified document of `owner` with `text`, uploaded `age_h` hours ago.
async fn insert(app: &TestApp, owner: &Session, filename: &str, text: &str, age_h: i64) -> Uuid {
    insert_with(app, owner, filename, text, age_h, "classified").await
}

async fn insert_with(
    app: &TestApp,
    owner: &Session,
    filename: &str,
    text: &str,
    age_h: i64,
    status: &str,
) -> Uuid {
    let mut row = common::document_row(Uuid::parse_str(&owner.user_id).unwrap());
    let id = *row.id.as_ref();
    let at = docuvault::time::now() - chrono::Duration::hours(age_h);
    row.filename = Set(filename.into());
    row.status = Set(status.parse().unwrap());
    row.attempts = Set(1);
    row.size_bytes = Set(1000);
    row.created_at = Set(at);
    row.updated_at = Set(at);
    documents::Entity::insert(row)
        .exec_without_returning(&app.state.db)
        .await
        .unwrap();
    common::set_text(app, id, text).await;
    id
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

/// `GET {path}` as `s`; asserts 200 and returns the body.
async fn ok(app: &TestApp, s: &Session, path: &str) -> Value {
    let res = app.get_auth(path, &s.access).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A search matching more documents than `documents.search_max_hits` (5 here) reports
/// that limit by default; with `count=exact` the same page carries the exact number of
/// matches, counted under every filter (status, trash, shared documents), on every page,
/// past the last one too, and in the ids of "select all".
#[tokio::test]
async fn count_exact_counts_every_match_beyond_the_hit_limit() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__DOCUMENTS__SEARCH_MAX_HITS".into(), "5".into());
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    for i in 0..12 {
        let text = format!("report {i}: the beacon was lit at dawn");
        insert(&app, &alice, &format!("report-{i}.txt"), &text, i).await;
    }
    for i in 0..2 {
        let f = format!("failed-{i}.txt");
        insert_with(&app, &alice, &f, "beacon in a failed one", 20, "failed").await;
    }
    for i in 0..3 {
        insert(&app, &alice, &format!("other-{i}.txt"), "nothing to see", i).await;
    }
    let trashed = insert(&app, &alice, "trashed.txt", "a trashed beacon", 1).await;
    let res = app
        .delete_auth(&format!("/api/documents/{trashed}"), &alice.access)
        .await;
    assert_eq!(res.status(), 204, "trash");
    let bobs = insert(&app, &bob, "bob.txt", "bob's beacon", 1).await;
    for i in 0..4 {
        insert(&app, &bob, &format!("bob-{i}.txt"), "beacon of bob", i).await;
    }

    // The bounded default: the limit, flagged inexact; `count=bounded` says the same.
    let bounded = ok(&app, &alice, "/api/documents?q=beacon").await;
    assert_eq!(bounded["total"], 5, "{bounded}");
    assert_eq!(bounded["total_exact"], false, "{bounded}");
    assert_eq!(bounded["max_hits"], 5, "{bounded}");
    let explicit = ok(&app, &alice, "/api/documents?q=beacon&count=bounded").await;
    assert_eq!(explicit["total"], 5);
    assert_eq!(explicit["total_exact"], false);
    assert_eq!(ids(&explicit), ids(&bounded));

    // Exact: 12 classified + 2 failed of alice's (not the trashed one, not bob's), and the
    // same five documents returned in the same order.
    let exact = ok(&app, &alice, "/api/documents?q=beacon&count=exact").await;
    assert_eq!(exact["total"], 14, "{exact}");
    assert_eq!(exact["total_exact"], true, "{exact}");
    assert_eq!(exact["max_hits"], 5);
    assert_eq!(ids(&exact), ids(&bounded), "the page does not change");

    // Every page, and a page past the returned hits, carries it.
    let mut paged = Vec::new();
    for p in 1..=4 {
        let path = format!("/api/documents?q=beacon&count=exact&per_page=2&page={p}");
        let page = ok(&app, &alice, &path).await;
        assert_eq!(page["total"], 14, "page {p}: {page}");
        assert_eq!(page["total_exact"], true, "page {p}: {page}");
        paged.extend(ids(&page));
    }
    assert_eq!(paged, ids(&bounded), "pages stop at the hit limit");
    let past = ok(&app, &alice, "/api/documents?q=beacon&per_page=2&page=4").await;
    assert_eq!(past["total"], 5, "bounded past the end: {past}");
    assert_eq!(past["total_exact"], false);

    // Under filters and sorts.
    let failed = ok(
        &app,
        &alice,
        "/api/documents?q=beacon&status=failed&count=exact",
    )
    .await;
    assert_eq!(failed["total"], 2, "{failed}");
    assert_eq!(failed["total_exact"], true);
    let sorted = ok(
        &app,
        &alice,
        "/api/documents?q=beacon&sort=name&order=asc&count=exact",
    )
    .await;
    assert_eq!(sorted["total"], 14, "{sorted}");
    assert_eq!(sorted["items"].as_array().unwrap().len(), 5);
    let in_trash = ok(
        &app,
        &alice,
        "/api/documents?q=beacon&trashed=true&count=exact",
    )
    .await;
    assert_eq!(in_trash["total"], 1, "{in_trash}");

    // With documents shared with the caller: bob's shared one counts, his others do not.
    let res = app
        .post_json(
            &format!("/api/documents/{bobs}/shares"),
            Some(&bob.access),
            &json!({ "recipient": "alice" }),
        )
        .await;
    assert_eq!(res.status(), 201, "share");
    let shared = ok(
        &app,
        &alice,
        "/api/documents?q=beacon&include_shared=true&count=exact",
    )
    .await;
    assert_eq!(shared["total"], 15, "{shared}");
    assert_eq!(shared["total_exact"], true);
    let bobs_own = ok(&app, &bob, "/api/documents?q=beacon&count=exact").await;
    assert_eq!(bobs_own["total"], 5, "{bobs_own}");
    assert_eq!(
        bobs_own["total_exact"], true,
        "under the limit it is exact anyway"
    );

    // Under the limit, and without q, the total is exact either way.
    let few = ok(
        &app,
        &alice,
        "/api/documents?q=dawn%20report%201&count=exact",
    )
    .await;
    assert_eq!(few["total"], 1, "{few}");
    assert_eq!(few["total_exact"], true);
    let list = ok(&app, &alice, "/api/documents?per_page=2").await;
    let list_exact = ok(&app, &alice, "/api/documents?per_page=2&count=exact").await;
    assert_eq!(list["total"], 17, "{list}");
    assert_eq!(list["total_exact"], true);
    assert_eq!(list["max_hits"], Value::Null, "no hit limit without q");
    assert_eq!(list_exact["total"], 17);
    assert_eq!(ids(&list_exact), ids(&list));

    // "Select all N matching" counts the same way.
    let sel = ok(&app, &alice, "/api/documents/ids?q=beacon").await;
    assert_eq!(sel["total"], 5, "{sel}");
    assert_eq!(sel["truncated"], true);
    let sel = ok(&app, &alice, "/api/documents/ids?q=beacon&count=exact").await;
    assert_eq!(sel["total"], 14, "{sel}");
    assert_eq!(sel["ids"].as_array().unwrap().len(), 5);
    assert_eq!(sel["truncated"], true);
}

/// `count` takes `bounded` or `exact`; anything else is a 400 `invalid_query`.
#[tokio::test]
async fn count_takes_bounded_or_exact_only() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    insert(&app, &alice, "a.txt", "beacon", 0).await;
    for path in [
        "/api/documents?q=beacon&count=fast",
        "/api/documents?q=beacon&count=",
        "/api/documents?q=beacon&count=EXACT",
        "/api/documents?q=beacon&count=1",
        "/api/documents?count=estimate",
        "/api/documents/ids?q=beacon&count=all",
    ] {
        let res = app.get_auth(path, &alice.access).await;
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(body(res).await["code"], "invalid_query", "{path}");
    }
    for path in [
        "/api/documents?q=beacon&count=exact",
        "/api/documents?q=beacon&count=bounded",
    ] {
        let page = ok(&app, &alice, path).await;
        assert_eq!(page["total"], 1, "{path}");
    }
}

/// What a hostile query is expected to answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 400 `invalid_query`.
    Invalid,
    /// 200 with no match.
    Empty,
    /// 200 (whatever matches).
    Answer,
}

/// Query text built to be slow or to break the parser: each answers within the deadline
/// with a 400 `invalid_query` or a result (an empty one where nothing can match), never
/// a 5xx, over a few hundred documents full of common words (where a query of many
/// common words would cost the most); the server answers normally afterwards.
#[tokio::test]
async fn hostile_queries_answer_within_the_deadline_and_never_fail() {
    const DEADLINE: Duration = Duration::from_secs(2);
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let common_text = "the quick brown fox jumps over the lazy dog and then it is not \
                       to be or not to be that is the question of the budget "
        .repeat(20);
    for i in 0..300 {
        let name = format!("budget-{i}.txt");
        insert(&app, &alice, &name, &format!("{common_text} doc{i}"), i).await;
    }

    // Ten words of every document (none of them `or`, which is an operator).
    let stop_words = "the of to be not is it and that then"
        .split(' ')
        .collect::<Vec<_>>();
    let thousand_words = (0..1000)
        .map(|i| stop_words[i % stop_words.len()])
        .collect::<Vec<_>>()
        .join(" ");
    let words = |n: usize| (0..n).map(|i| stop_words[i % 10]).collect::<Vec<_>>();
    let cases: Vec<(String, Expect, &str)> = vec![
        (thousand_words, Expect::Invalid, "1 000 words"),
        (words(33).join(" "), Expect::Invalid, "33 words"),
        (words(32).join(" "), Expect::Answer, "32 common words"),
        (
            words(32).join(" or "),
            Expect::Answer,
            "32 common words or'ed",
        ),
        (
            format!("\"{}\"", words(32).join(" ")),
            Expect::Answer,
            "32-word phrase",
        ),
        (
            format!(
                "the {}",
                words(31)
                    .iter()
                    .map(|w| format!("-{w}x"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Expect::Answer,
            "31 exclusions",
        ),
        (
            "\"to be or not to be\"".into(),
            Expect::Answer,
            "stop-word phrase",
        ),
        ("\"the budget".into(), Expect::Answer, "unbalanced quote"),
        ("budget\"".into(), Expect::Answer, "trailing quote"),
        ("\"\"\"".into(), Expect::Empty, "three quotes"),
        (
            "\"a \"b \"c \"d".into(),
            Expect::Answer,
            "alternating quotes",
        ),
        ("-".into(), Expect::Empty, "minus alone"),
        ("OR".into(), Expect::Empty, "OR alone"),
        ("or or or".into(), Expect::Empty, "or or or"),
        ("\"".into(), Expect::Empty, "quote alone"),
        ("-\"".into(), Expect::Empty, "minus quote"),
        ("- - -".into(), Expect::Empty, "minuses"),
        ("*".into(), Expect::Empty, "star alone"),
        (
            "\u{1}\u{2}budget\u{7f}\u{1b}".into(),
            Expect::Answer,
            "control characters",
        ),
        ("\u{0}".repeat(400), Expect::Invalid, "only NUL"),
        (
            "\u{200B}\u{202E}\u{FEFF}".into(),
            Expect::Invalid,
            "only invisible characters",
        ),
        (
            "bud\u{200B}get".into(),
            Expect::Answer,
            "zero-width space inside a word",
        ),
        ("*".repeat(10_000), Expect::Invalid, "10 000 stars"),
        ("a*".repeat(5_000), Expect::Invalid, "5 000 prefixes"),
        ("*".repeat(500), Expect::Empty, "500 stars"),
        (vec!["budg*"; 32].join(" "), Expect::Answer, "32 prefixes"),
        ("x".repeat(500), Expect::Empty, "500-letter word"),
        ("x".repeat(10_000), Expect::Invalid, "10 000-letter word"),
        ("é".repeat(500), Expect::Empty, "500 accented letters"),
        ("a-".repeat(250), Expect::Invalid, "one token of 250 words"),
        (
            "the-quick-brown-fox".into(),
            Expect::Answer,
            "hyphenated words",
        ),
    ];
    for (q, expect, what) in &cases {
        let path = format!("/api/documents?q={}&count=exact", urlencode(q));
        let started = Instant::now();
        let res = app.get_auth(&path, &alice.access).await;
        let took = started.elapsed();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(!status.is_server_error(), "{what}: {status} {text}");
        assert!(took < DEADLINE, "{what}: took {took:?}");
        match expect {
            Expect::Invalid => {
                assert_eq!(status, 400, "{what}: {text}");
                let err: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(err["code"], "invalid_query", "{what}: {text}");
            }
            Expect::Empty => {
                assert_eq!(status, 200, "{what}: {text}");
                let page: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(page["total"], 0, "{what}: {text}");
            }
            Expect::Answer => assert_eq!(status, 200, "{what}: {text}"),
        }
    }
    // The server still answers, and the common queries found what they should.
    let all = ok(
        &app,
        &alice,
        &format!("/api/documents?q={}", urlencode(&words(32).join(" "))),
    )
    .await;
    assert_eq!(all["total"], 300, "{all}");
    let phrase = ok(
        &app,
        &alice,
        "/api/documents?q=%22to%20be%20or%20not%20to%20be%22",
    )
    .await;
    assert_eq!(phrase["total"], 300, "{phrase}");
    let zw = ok(
        &app,
        &alice,
        &format!("/api/documents?q={}", urlencode("bud\u{200B}get doc7")),
    )
    .await;
    assert_eq!(zw["total"], 1, "{zw}");
}
