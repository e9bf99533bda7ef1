//! Thumbnails (issue 13): one for every accepted type, made in the sandbox after upload,
//! carried as a short-lived signed `thumbnail_url` by every document answer (single,
//! list, search, shared), fetchable without a token but not guessable, not charged to
//! the quota, deleted with the document, known to fsck (missing ones reported and made
//! again by `--repair`, orphans deleted) and to the cleanup job (documents without one
//! get theirs), and never made of a hostile image, with the server staying healthy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use docuvault::domain::ObjectKey;
use docuvault::entities::documents;
use docuvault::fsck::{ThumbnailProblem, fsck};
use docuvault::state::AppState;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{self, TestApp, body, document, samples, wait_processed};

/// An app whose cleanup job stays off (tests run it themselves).
async fn spawn() -> TestApp {
    TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
    })
    .await
}

/// A real PDF of the corpus when it is there (`.ci/fetch-corpus.sh`), else the small
/// valid PDF of the samples.
fn pdf() -> Vec<u8> {
    let corpus = std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/docuvault-corpus/v1"))
        })
        .map(|d| d.join("pdf/txfontsdoc.pdf"))
        .filter(|p| p.exists());
    match corpus {
        Some(path) => std::fs::read(path).unwrap(),
        None => samples::hello_pdf(),
    }
}

fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A photo-like colour picture, `w` × `h`.
fn picture(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    }))
}

/// A two-page TIFF: a black first page, a white second one.
fn two_page_tiff() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut out).unwrap();
        for shade in [0u8, 255] {
            enc.write_image::<tiff::encoder::colortype::Gray8>(600, 800, &vec![shade; 600 * 800])
                .unwrap();
        }
    }
    out.into_inner()
}

/// One document of every accepted type: (file name, content type, bytes).
fn one_of_each() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut transparent = image::RgbaImage::from_pixel(500, 300, image::Rgba([0, 0, 0, 0]));
    for x in 0..250 {
        for y in 0..300 {
            transparent.put_pixel(x, y, image::Rgba([200, 30, 30, 255]));
        }
    }
    vec![
        ("paper.pdf", "application/pdf", pdf()),
        ("report.docx", samples::DOCX, samples::sample_docx()),
        ("notes.odt", samples::ODT, samples::sample_odt()),
        (
            "todo.txt",
            "text/plain",
            b"Groceries\nmilk, bread, eggs\ncall the plumber about the kitchen tap".to_vec(),
        ),
        (
            "readme.md",
            "text/markdown",
            b"# Project Kestrel\n\nA *short* overview of the plan.\n\n- one\n- two\n".to_vec(),
        ),
        (
            "budget.csv",
            "text/csv",
            b"month,amount\nJanuary,1200\nFebruary,950\n".to_vec(),
        ),
        (
            "page.html",
            "text/html",
            b"<html><head><title>t</title><script>evil()</script></head><body><h1>Invoice 4711</h1><p>Amount due: 99 EUR</p></body></html>".to_vec(),
        ),
        (
            "photo.jpg",
            "image/jpeg",
            encoded(picture(1600, 1200), image::ImageFormat::Jpeg),
        ),
        (
            "logo.png",
            "image/png",
            encoded(
                image::DynamicImage::ImageRgba8(transparent),
                image::ImageFormat::Png,
            ),
        ),
        ("scan.tiff", "image/tiff", two_page_tiff()),
        (
            "picture.webp",
            "image/webp",
            encoded(picture(800, 600), image::ImageFormat::WebP),
        ),
    ]
}

/// `GET url` without any token; (status, content type, body).
async fn fetch(app: &TestApp, url: &str) -> (u16, String, Vec<u8>) {
    let res = app.client.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, res.bytes().await.unwrap().to_vec())
}

/// Fetches and decodes a thumbnail, checking what every thumbnail must be.
async fn thumbnail(app: &TestApp, url: &str, what: &str) -> image::RgbImage {
    let (status, ct, jpeg) = fetch(app, url).await;
    assert_eq!(status, 200, "{what}: GET {url}");
    assert!(ct.starts_with("image/jpeg"), "{what}: {ct}");
    assert!(
        (500..=200 * 1024).contains(&jpeg.len()),
        "{what}: {} bytes",
        jpeg.len()
    );
    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| panic!("{what}: not a JPEG: {e}"))
        .into_rgb8();
    assert_eq!(img.width(), 320, "{what}");
    assert!(
        (1..=640).contains(&img.height()),
        "{what}: {}",
        img.height()
    );
    img
}

/// Share of pixels darker than mid grey.
fn dark_share(img: &image::RgbImage) -> f64 {
    let dark = img
        .pixels()
        .filter(|p| u32::from(p.0[0]) + u32::from(p.0[1]) + u32::from(p.0[2]) < 3 * 128)
        .count();
    dark as f64 / f64::from(img.width() * img.height())
}

async fn row(app: &TestApp, id: &str) -> documents::Model {
    documents::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

async fn stored(app: &TestApp, key: &str) -> bool {
    app.state
        .storage
        .stat(&ObjectKey::parse(key).unwrap())
        .await
        .unwrap()
        .is_some()
}

/// The app's state with another pending lifetime (0: every unreferenced object is an
/// orphan at once).
fn with_pending_ttl(state: &AppState, secs: u64) -> AppState {
    let mut settings = (*state.settings).clone();
    settings.documents.pending_ttl_secs = secs;
    let mut state = state.clone();
    state.settings = Arc::new(settings);
    state
}

#[tokio::test]
async fn every_accepted_type_gets_a_thumbnail_in_every_answer() {
    let app = spawn().await;
    let s = app.register("tina").await;
    let docs = one_of_each();
    // Every type DocuVault accepts is covered here.
    for t in docuvault::domain::DOCUMENT_TYPES {
        assert!(
            docs.iter().any(|(_, ct, _)| *ct == t.content_type),
            "no thumbnail test for {}",
            t.content_type
        );
    }
    let mut ids = Vec::new();
    for (name, ct, bytes) in docs {
        ids.push((name, app.upload(&s, name, ct, bytes).await));
    }
    for (name, id) in &ids {
        let doc = wait_processed(&app, &s, id).await;
        let url = doc["thumbnail_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no thumbnail_url in {doc}"));
        let img = thumbnail(&app, url, name).await;
        let dark = dark_share(&img);
        match *name {
            // The first TIFF page is black; the image, not a card.
            "scan.tiff" => assert!(dark > 0.9, "{name}: {dark}"),
            // Transparency lands on white: the red half stays, the rest is paper.
            "logo.png" => {
                assert_eq!(img.height(), 192, "{name}");
                let (left, right) = (img.get_pixel(40, 96).0, img.get_pixel(280, 96).0);
                assert!(left[0] > 150 && left[1] < 90, "{name}: {left:?}");
                assert!(right.iter().all(|c| *c > 235), "{name}: {right:?}");
            }
            "photo.jpg" => assert_eq!(img.height(), 240, "{name}"),
            "picture.webp" => assert_eq!(img.height(), 240, "{name}"),
            // Pages and cards: mostly paper, with some ink.
            _ => assert!((0.001..0.5).contains(&dark), "{name}: {dark}"),
        }
        let r = row(&app, id).await;
        assert!(
            r.thumbnail_error.is_none(),
            "{name}: {:?}",
            r.thumbnail_error
        );
    }
    // The list and a search carry them too.
    let list = body(app.get_auth("/api/documents?per_page=100", &s.access).await).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), ids.len());
    for item in items {
        let url = item["thumbnail_url"]
            .as_str()
            .expect("listed thumbnail_url");
        thumbnail(&app, url, item["filename"].as_str().unwrap()).await;
    }
    let found = body(app.get_auth("/api/documents?q=plumber", &s.access).await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    let url = found["items"][0]["thumbnail_url"].as_str().unwrap();
    thumbnail(&app, url, "search hit").await;
}

#[tokio::test]
async fn null_until_made_fetchable_when_shared_and_never_guessable() {
    // No workers at first: documents wait in the queue.
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert("DOCUVAULT__SERVER__RUN_WORKERS".into(), "false".into());
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    // An upload that is not confirmed, and one not processed yet, have no thumbnail.
    app.upload_url(&alice, "later.pdf", "application/pdf", 100)
        .await;
    let a = app
        .upload(&alice, "paper.pdf", "application/pdf", pdf())
        .await;
    assert_eq!(document(&app, &alice, &a).await["status"], "queued");
    for query in ["", "?status=pending"] {
        let list = body(
            app.get_auth(&format!("/api/documents{query}"), &alice.access)
                .await,
        )
        .await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{list}");
        assert!(items[0]["thumbnail_url"].is_null(), "{list}");
    }
    let app = app
        .restart_with(|env| {
            env.remove("DOCUVAULT__SERVER__RUN_WORKERS");
        })
        .await;
    let b = app
        .upload(&bob, "mine.txt", "text/plain", b"bob's own notes".to_vec())
        .await;
    let a_doc = wait_processed(&app, &alice, &a).await;
    let b_doc = wait_processed(&app, &bob, &b).await;
    let a_url = a_doc["thumbnail_url"].as_str().unwrap().to_owned();
    let b_url = b_doc["thumbnail_url"].as_str().unwrap().to_owned();
    thumbnail(&app, &a_url, "alice's").await;
    thumbnail(&app, &b_url, "bob's").await;

    // Bob cannot get at Alice's thumbnail: her document is a 404 to him, her key alone
    // opens nothing, and his own signed URL does not open her key.
    assert_eq!(
        app.get_auth(&format!("/api/documents/{a}"), &bob.access)
            .await
            .status(),
        404
    );
    let a_key = row(&app, &a).await.thumbnail_key.unwrap();
    let b_key = row(&app, &b).await.thumbnail_key.unwrap();
    assert!(a_key.starts_with(&alice.user_id), "{a_key}");
    let guesses: Vec<String> = if let Some((base, token)) = b_url.split_once("/storage/") {
        // Local store: Bob's grant with Alice's key (signature kept), and her bare key.
        let (payload, mac) = token.split_once('.').unwrap();
        let mut grant: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(grant["key"], b_key.as_str());
        grant["key"] = json!(a_key);
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&grant).unwrap());
        vec![
            format!("{base}/storage/{forged}.{mac}"),
            format!("{base}/storage/{a_key}"),
        ]
    } else {
        // S3: Bob's query string on Alice's key, and her key unsigned.
        let (path, query) = b_url.split_once('?').unwrap();
        assert!(path.ends_with(&b_key), "{b_url}");
        let a_path = path.replace(&b_key, &a_key);
        vec![format!("{a_path}?{query}"), a_path]
    };
    for guess in guesses {
        let (status, _, _) = fetch(&app, &guess).await;
        assert!(
            status == 403 || status == 404 || status == 401,
            "{guess} answered {status}"
        );
    }

    // Shared with Bob: his shared-with-me answer carries a working thumbnail URL.
    let res = app
        .post_json(
            &format!("/api/documents/{a}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let shared = body(app.get_auth("/api/shared-with-me", &bob.access).await).await;
    let url = shared["items"][0]["document"]["thumbnail_url"]
        .as_str()
        .unwrap();
    thumbnail(&app, url, "shared").await;
    let one = document(&app, &bob, &a).await;
    thumbnail(
        &app,
        one["thumbnail_url"].as_str().unwrap(),
        "shared, single",
    )
    .await;
}

#[tokio::test]
async fn not_charged_to_the_quota_and_deleted_with_the_document() {
    let app = spawn().await;
    let s = app.register("quinn").await;
    let bytes = encoded(picture(1200, 900), image::ImageFormat::Jpeg);
    let size = bytes.len() as i64;
    let id = app.upload(&s, "photo.jpg", "image/jpeg", bytes).await;
    let doc = wait_processed(&app, &s, &id).await;
    assert!(doc["thumbnail_url"].is_string(), "{doc}");
    let key = row(&app, &id).await.thumbnail_key.unwrap();
    assert!(stored(&app, &key).await);
    let quota = body(app.get_auth("/api/auth/me/quota", &s.access).await).await;
    assert_eq!(quota["used_bytes"].as_i64(), Some(size), "{quota}");
    let report = fsck(&with_pending_ttl(&app.state, 0), false).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.thumbnails_checked, 1);

    let res = app
        .client
        .delete(app.url(&format!("/api/documents/{id}?permanent=true")))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        !stored(&app, &key).await,
        "the thumbnail outlived its document"
    );
    let (status, _, _) = fetch(&app, doc["thumbnail_url"].as_str().unwrap()).await;
    assert!(status == 403 || status == 404, "{status}");
    let quota = body(app.get_auth("/api/auth/me/quota", &s.access).await).await;
    assert_eq!(quota["used_bytes"], 0, "{quota}");
    let report = fsck(&with_pending_ttl(&app.state, 0), false).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn fsck_reports_missing_thumbnails_and_repair_cleanup_and_reclassify_make_them() {
    let app = spawn().await;
    let s = app.register("fred").await;
    let lost = app.upload(&s, "paper.pdf", "application/pdf", pdf()).await;
    let never = app
        .upload(&s, "notes.odt", samples::ODT, samples::sample_odt())
        .await;
    let reread = app
        .upload(&s, "todo.txt", "text/plain", b"water the plants".to_vec())
        .await;
    for id in [&lost, &never, &reread] {
        wait_processed(&app, &s, id).await;
    }
    let state = with_pending_ttl(&app.state, 0);
    assert!(fsck(&state, false).await.unwrap().is_clean());

    // Damage: a thumbnail object lost, a document that never had one (as from before
    // thumbnails), an orphan thumbnail whose document is gone.
    let lost_key = row(&app, &lost).await.thumbnail_key.unwrap();
    app.state
        .storage
        .delete(&ObjectKey::parse(&lost_key).unwrap())
        .await
        .unwrap();
    let never_key = row(&app, &never).await.thumbnail_key.unwrap();
    app.state
        .storage
        .delete(&ObjectKey::parse(&never_key).unwrap())
        .await
        .unwrap();
    documents::Entity::update_many()
        .col_expr(
            documents::Column::ThumbnailKey,
            Expr::value(Option::<String>::None),
        )
        .filter(documents::Column::Id.eq(Uuid::parse_str(&never).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    assert!(document(&app, &s, &never).await["thumbnail_url"].is_null());
    let orphan = format!(
        "{}/{}/{}.pdf.thumbnail.jpg",
        s.user_id,
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    app.state
        .storage
        .put(
            &ObjectKey::parse(&orphan).unwrap(),
            b"jpeg".to_vec(),
            "image/jpeg",
        )
        .await
        .unwrap();

    let dry = fsck(&state, false).await.unwrap();
    assert_eq!(dry.thumbnails_checked, 3, "{dry}");
    assert_eq!(dry.missing_thumbnails.len(), 2, "{dry}");
    let problem_of = |id: &str| {
        dry.missing_thumbnails
            .iter()
            .find(|t| t.document_id.to_string() == id)
            .unwrap()
            .problem
            .clone()
    };
    assert_eq!(
        problem_of(&lost),
        ThumbnailProblem::Missing {
            key: lost_key.clone()
        }
    );
    assert_eq!(problem_of(&never), ThumbnailProblem::NotMade);
    assert_eq!(dry.orphans.len(), 1, "{dry}");
    assert_eq!(dry.orphans[0].key, orphan);
    assert_eq!(dry.exit_code(), 1);
    let text = dry.to_string();
    assert!(text.contains("thumbnail missing"), "{text}");
    assert!(text.contains("no thumbnail made yet"), "{text}");
    assert!(!stored(&app, &lost_key).await, "a dry run makes nothing");

    let repaired = fsck(&state, true).await.unwrap();
    assert_eq!(repaired.problems_remaining(), 0, "{repaired}");
    assert!(repaired.missing_thumbnails.iter().all(|t| t.repaired));
    assert!(stored(&app, &lost_key).await);
    assert!(!stored(&app, &orphan).await);
    for id in [&lost, &never] {
        let url = document(&app, &s, id).await["thumbnail_url"]
            .as_str()
            .unwrap()
            .to_owned();
        thumbnail(&app, &url, id).await;
    }
    assert!(fsck(&state, false).await.unwrap().is_clean());

    // The cleanup job makes those of documents that have none.
    documents::Entity::update_many()
        .col_expr(
            documents::Column::ThumbnailKey,
            Expr::value(Option::<String>::None),
        )
        .filter(documents::Column::Id.eq(Uuid::parse_str(&never).unwrap()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let report = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(report.thumbnails_made, 1, "{report:?}");
    assert!(row(&app, &never).await.thumbnail_key.is_some());
    let again = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(again.thumbnails_made, 0, "{again:?}");

    // Re-classify makes a lost one again (the text is reused).
    let reread_key = row(&app, &reread).await.thumbnail_key.unwrap();
    app.state
        .storage
        .delete(&ObjectKey::parse(&reread_key).unwrap())
        .await
        .unwrap();
    let res = app
        .post_json(
            &format!("/api/documents/{reread}/classify"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    common::poll_until(
        std::time::Duration::from_secs(90),
        "the thumbnail to be made again",
        || async { stored(&app, &reread_key).await.then_some(()) },
    )
    .await;
    let doc = wait_processed(&app, &s, &reread).await;
    thumbnail(
        &app,
        doc["thumbnail_url"].as_str().unwrap(),
        "re-classified",
    )
    .await;
    assert!(fsck(&state, false).await.unwrap().is_clean());
}

#[tokio::test]
async fn hostile_images_get_no_thumbnail_and_the_server_stays_healthy() {
    let app = spawn().await;
    let s = app.register("mallory").await;
    let started = std::time::Instant::now();
    // 60 000 × 60 000 pixels claimed by a tiny PNG: a decompression bomb.
    let bomb = app
        .upload(&s, "bomb.png", "image/png", crate::ocr::bomb_png())
        .await;
    // A JPEG sent as a PNG.
    let lying = app
        .upload(
            &s,
            "lying.png",
            "image/png",
            encoded(picture(64, 48), image::ImageFormat::Jpeg),
        )
        .await;
    for (id, why) in [(&bomb, "too large"), (&lying, "JPEG")] {
        let doc = wait_processed(&app, &s, id).await;
        assert_eq!(doc["status"], "failed", "{doc}");
        assert!(doc["thumbnail_url"].is_null(), "{doc}");
        let error = row(&app, id).await.thumbnail_error.unwrap();
        assert!(error.contains(why), "{error}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.health().await.status(), 200);
    // Recorded, so neither fsck nor the cleanup job keeps trying.
    assert!(fsck(&app.state, false).await.unwrap().is_clean());
    let report = docuvault::jobs::cleanup::run_cleanup(&app.state)
        .await
        .unwrap();
    assert_eq!(
        (report.thumbnails_made, report.thumbnails_impossible),
        (0, 0)
    );
    // And the next document is served as usual.
    let ok = app
        .upload(&s, "fine.txt", "text/plain", b"all is well".to_vec())
        .await;
    let doc = wait_processed(&app, &s, &ok).await;
    thumbnail(
        &app,
        doc["thumbnail_url"].as_str().unwrap(),
        "after the bomb",
    )
    .await;
}

#[tokio::test]
async fn a_document_whose_text_cannot_be_read_still_gets_its_thumbnail() {
    // No tesseract: a scan waits for OCR (unclassified, ocr_unavailable), but shows.
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__CLEANUP__ENABLED".into(), "false".into());
        env.insert(
            "DOCUVAULT__OCR__TESSERACT_COMMAND".into(),
            "/nonexistent/docuvault-test/tesseract".into(),
        );
    })
    .await;
    let s = app.register("olga").await;
    let id = app
        .upload(
            &s,
            "scan.jpg",
            "image/jpeg",
            encoded(picture(1000, 1400), image::ImageFormat::Jpeg),
        )
        .await;
    let doc = wait_processed(&app, &s, &id).await;
    assert_eq!(doc["status"], "unclassified", "{doc}");
    assert_eq!(doc["status_reason"], "ocr_unavailable", "{doc}");
    let img = thumbnail(&app, doc["thumbnail_url"].as_str().unwrap(), "scan").await;
    assert_eq!(img.height(), 448);
}
