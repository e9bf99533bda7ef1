//! Scans and photos over HTTP, end to end through the real app (issue 13): a JPEG scan
//! made at test time from a real PDF page is uploaded, OCR'd in the sandbox, found by a
//! word that exists only in the image, and its text endpoint shows the OCR provenance;
//! OCR reported by `/health` and `GET /api/auth/config`; each account's languages; a
//! server without tesseract parks scans as `unclassified` / `ocr_unavailable` and, after
//! a restart that finds tesseract, reads them by itself; hostile images end `failed` with
//! a reason while the server stays healthy.
//!
//! Tests that read real scans need tesseract, poppler-utils, ImageMagick and the corpus
//! (like `ocr.rs`): they print a notice and pass without them, unless
//! `DOCUVAULT_TEST_OCR=1`, when they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::common::{Session, TestApp, body, poll_until, text_of, wait_processed};
use crate::ocr::{
    bomb_png, convert, jpeg_pdf, pdftotext_page, recall, run, scan, setup, small_jpeg,
};

const NO_TESSERACT: &str = "/nonexistent/docuvault-test/tesseract";

fn without_tesseract(env: &mut std::collections::HashMap<String, String>) {
    env.insert(
        "DOCUVAULT__OCR__TESSERACT_COMMAND".into(),
        NO_TESSERACT.into(),
    );
}

async fn patch_me(app: &TestApp, s: &Session, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url("/api/auth/me"))
        .bearer_auth(&s.access)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn search(app: &TestApp, s: &Session, q: &str) -> Vec<Value> {
    let res = app
        .get_auth(&format!("/api/documents?q={q}"), &s.access)
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

/// A word of the page's own text (pdftotext) that the OCR text has too: long, letters
/// only, and not in the file name, so a search hit can only come from the image.
fn shared_word(reference: &str, ocr: &str) -> String {
    let ocr_words: std::collections::HashSet<String> = ocr
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .collect();
    reference
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 8 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_lowercase)
        .find(|w| ocr_words.contains(w))
        .unwrap_or_else(|| panic!("no shared long word between the page and {ocr:?}"))
}

fn assert_ocr_pages(text: &Value, pages: usize, languages: &str) {
    assert_eq!(
        text["pages"].as_array().unwrap().len(),
        pages,
        "{}",
        text["pages"]
    );
    for page in text["pages"].as_array().unwrap() {
        assert_eq!(page["source"], "ocr", "{page}");
        assert_eq!(page["engine"], "tesseract", "{page}");
        assert!(
            page["version"]
                .as_str()
                .unwrap()
                .starts_with(|c: char| c.is_ascii_digit()),
            "{page}"
        );
        assert_eq!(page["languages"], languages, "{page}");
        let confidence = page["mean_confidence"].as_f64().unwrap();
        assert!((50.0..=100.0).contains(&confidence), "{page}");
    }
}

#[tokio::test]
async fn health_and_config_report_ocr_without_failing_when_it_is_missing() {
    let app = TestApp::spawn_with(without_tesseract).await;
    let res = app.health().await;
    assert_eq!(res.status(), 200, "missing OCR does not make /health fail");
    let health = body(res).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["ocr"]["available"], false);
    assert_eq!(health["ocr"]["engine"], Value::Null);
    assert_eq!(health["ocr"]["languages"], json!([]));
    assert_eq!(health["ocr"]["default_languages"], "eng");

    let config = body(app.get("/api/auth/config").await).await;
    assert_eq!(config["ocr_languages"], json!([]));
    assert_eq!(config["ocr_default_languages"], "eng");
    let types: Vec<&str> = config["document_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["content_type"].as_str().unwrap())
        .collect();
    for image in ["image/jpeg", "image/png", "image/tiff", "image/webp"] {
        assert!(types.contains(&image), "{types:?}");
    }

    // Nothing to choose from: any choice is refused, the default stays.
    let s = app.register("nocr").await;
    let res = patch_me(&app, &s, &json!({"ocr_languages": "eng"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "validation_failed");
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(me["ocr_languages"], Value::Null);
}

#[tokio::test]
async fn each_account_chooses_among_the_installed_languages() {
    if setup().is_none() {
        return;
    }
    let app = TestApp::spawn().await;
    let health = body(app.health().await).await;
    assert_eq!(health["ocr"]["available"], true, "{health}");
    assert_eq!(health["ocr"]["engine"], "tesseract");
    let config = body(app.get("/api/auth/config").await).await;
    let installed: Vec<&str> = config["ocr_languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(installed.contains(&"eng") && installed.contains(&"deu"));
    assert!(!installed.contains(&"osd"), "osd is not a language");

    let s = app.register("polyglot").await;
    let res = patch_me(&app, &s, &json!({"ocr_languages": "deu+eng"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["ocr_languages"], "deu+eng");
    for bad in ["klingon_xx", "eng;rm -rf /", "deu+", "eng+eng", ""] {
        let res = patch_me(&app, &s, &json!({"ocr_languages": bad})).await;
        assert_eq!(res.status(), 422, "{bad:?}");
    }
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(
        me["ocr_languages"], "deu+eng",
        "refused choices change nothing"
    );

    // The pipeline reads this account's scans with its choice.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("zeile.png");
    run(Command::new(convert())
        .args(["-size", "1200x300", "xc:white", "-fill", "black"])
        .args(["-pointsize", "40", "-annotate", "+60+150"])
        .arg("Mit freundlichen Grüßen aus München")
        .arg(&png));
    let id = app
        .upload(&s, "zeile.png", "image/png", std::fs::read(&png).unwrap())
        .await;
    let doc = wait_processed(&app, &s, &id).await;
    assert_ne!(doc["status"], "failed", "{doc}");
    let text = text_of(&app, &s, &id).await;
    assert_ocr_pages(&text, 1, "deu+eng");
    assert!(
        text["text"].as_str().unwrap().contains("Grüßen"),
        "{}",
        text["text"]
    );

    // null = back to the server default.
    let res = patch_me(&app, &s, &json!({"ocr_languages": null})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["ocr_languages"], Value::Null);
}

#[tokio::test]
async fn a_jpeg_scan_is_found_by_a_word_from_the_image() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let jpg = scan(&pdf, 2, 1.5, dir.path());
    let bytes = std::fs::read(&jpg).unwrap();

    let app = TestApp::spawn().await;
    let s = app.register("scanner").await;
    let id = app
        .upload(&s, "receipt.jpg", "image/jpeg", bytes.clone())
        .await;
    let doc = wait_processed(&app, &s, &id).await;
    assert_ne!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["status_reason"], Value::Null);

    let text = text_of(&app, &s, &id).await;
    assert_ocr_pages(&text, 1, "eng");
    let got = text["text"].as_str().unwrap();
    let reference = pdftotext_page(&pdf, 2);
    let r = recall(&reference, got);
    assert!(r >= 0.9, "word recall {r:.3}");

    // Search and snippets work on OCR text as on extracted text.
    let word = shared_word(&reference, got);
    let hits = search(&app, &s, &word).await;
    let hit = hits
        .iter()
        .find(|d| d["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{word:?} does not find the scan: {hits:?}"));
    let snippet = hit["snippet"].as_array().unwrap();
    assert!(
        snippet
            .iter()
            .any(|seg| seg["highlight"] == true
                && seg["text"].as_str().unwrap().to_lowercase() == word),
        "{snippet:?}"
    );

    // The original is never changed.
    let key = docuvault::domain::ObjectKey::parse(
        &docuvault::entities::documents::Entity::find_by_id(id.parse::<uuid::Uuid>().unwrap())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .object_key,
    )
    .unwrap();
    let stored = app.state.storage.get(&key).await.unwrap().unwrap();
    assert!(stored == bytes, "the stored object differs from the upload");
    assert_eq!(
        doc["sha256"].as_str().unwrap(),
        docuvault::extract::sha256_hex(&bytes)
    );
}

#[tokio::test]
async fn without_tesseract_scans_wait_and_are_read_after_a_restart_with_it() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let jpg = std::fs::read(scan(&pdf, 2, 1.0, dir.path())).unwrap();
    let scanned_pdf = jpeg_pdf(&jpg, 200);

    let app = TestApp::spawn_with(without_tesseract).await;
    let s = app.register("patient").await;
    let image = app.upload(&s, "page.jpg", "image/jpeg", jpg.clone()).await;
    let scanned = app
        .upload(&s, "scan.pdf", "application/pdf", scanned_pdf)
        .await;
    let born_digital = app
        .upload(
            &s,
            "hello.pdf",
            "application/pdf",
            crate::common::samples::hello_pdf(),
        )
        .await;
    for id in [&image, &scanned] {
        let doc = wait_processed(&app, &s, id).await;
        assert_eq!(doc["status"], "unclassified", "never failed: {doc}");
        assert_eq!(doc["status_reason"], "ocr_unavailable", "{doc}");
        assert!(doc["last_error"].as_str().unwrap().contains("OCR"), "{doc}");
        let text = text_of(&app, &s, id).await;
        assert_eq!(text["text"], Value::Null);
        assert_eq!(text["pages"], json!([]));
    }
    // A PDF with a text layer does not need OCR.
    let doc = wait_processed(&app, &s, &born_digital).await;
    assert_eq!(doc["status_reason"], Value::Null, "{doc}");
    assert!(
        text_of(&app, &s, &born_digital).await["text"]
            .as_str()
            .unwrap()
            .contains("Hello PDF world")
    );
    assert_eq!(app.health().await.status(), 200);

    // Re-classify runs it again (still no OCR here: it waits again, still not failed).
    let res = app
        .post_json(
            &format!("/api/documents/{image}/classify"),
            Some(&s.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let doc = poll_until(
        Duration::from_secs(60),
        "re-classify of the scan",
        || async {
            let doc = body(
                app.get_auth(&format!("/api/documents/{image}"), &s.access)
                    .await,
            )
            .await;
            (doc["status"] == "unclassified" && doc["status_reason"] == "ocr_unavailable")
                .then_some(doc)
        },
    )
    .await;
    assert_eq!(doc["status"], "unclassified");

    // Restart on the same database with tesseract: both scans are read by themselves.
    let app = app
        .restart_with(|env| {
            env.remove("DOCUVAULT__OCR__TESSERACT_COMMAND");
        })
        .await;
    let s = app.login("patient", crate::common::PASSWORD).await;
    assert_eq!(body(app.health().await).await["ocr"]["available"], true);
    for id in [&image, &scanned] {
        let doc = poll_until(Duration::from_secs(120), "the scan to be read", || async {
            let doc = body(
                app.get_auth(&format!("/api/documents/{id}"), &s.access)
                    .await,
            )
            .await;
            (["classified", "unclassified", "failed"].contains(&doc["status"].as_str().unwrap())
                && doc["status_reason"].is_null())
            .then_some(doc)
        })
        .await;
        assert_ne!(doc["status"], "failed", "{doc}");
        let text = text_of(&app, &s, id).await;
        assert_ocr_pages(&text, 1, "eng");
        let r = recall(&pdftotext_page(&pdf, 2), text["text"].as_str().unwrap());
        assert!(r >= 0.9, "word recall {r:.3}");
    }
}

#[tokio::test]
async fn hostile_images_fail_with_a_reason_and_the_server_stays_healthy() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__OCR__MAX_PAGES".into(), "2".into());
    })
    .await;
    let s = app.register("mallory").await;
    let jpeg = small_jpeg();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("bomb.png", "image/png", bomb_png(), "60000 × 60000"),
        (
            "cut.jpg",
            "image/jpeg",
            jpeg[..jpeg.len() / 2].to_vec(),
            "truncated",
        ),
        // The existing rule: the declared type must match the bytes.
        ("lying.png", "image/png", jpeg.clone(), "not a valid PNG"),
        (
            "lying.jpg",
            "image/jpeg",
            b"\x89PNG\r\n\x1a\nnot really".to_vec(),
            "not a valid JPEG",
        ),
    ];
    let mut ids = Vec::new();
    for (name, content_type, bytes, _) in &cases {
        ids.push(app.upload(&s, name, content_type, bytes.clone()).await);
    }
    for ((name, _, _, reason), id) in cases.iter().zip(&ids) {
        let doc = wait_processed(&app, &s, id).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let error = doc["last_error"].as_str().unwrap();
        assert!(error.contains(reason), "{name}: {error}");
        assert_eq!(doc["status_reason"], Value::Null, "{name}");
    }

    // A TIFF over the page cap (needs ImageMagick to write it).
    let have_convert = Command::new(convert())
        .arg("-version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ImageMagick"));
    if have_convert {
        let dir = tempfile::tempdir().unwrap();
        let tiff = dir.path().join("many.tif");
        run(Command::new(convert())
            .args(["-size", "200x100", "xc:white", "xc:white", "xc:white"])
            .arg(&tiff));
        let id = app
            .upload(&s, "many.tif", "image/tiff", std::fs::read(&tiff).unwrap())
            .await;
        let doc = wait_processed(&app, &s, &id).await;
        assert_eq!(doc["status"], "failed", "{doc}");
        let error = doc["last_error"].as_str().unwrap();
        assert!(error.contains("more than 2 pages"), "{error}");
    } else {
        assert!(
            !crate::ocr::required(),
            "DOCUVAULT_TEST_OCR=1 but no ImageMagick"
        );
    }

    let res = app.health().await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["status"], "ok");
}

// ---------------------------------------------------------------------------------------
// The sandbox's wall clock with OCR: it grows with the pages read, a hang is still killed.

fn short_wall(wall: Duration) -> docuvault::extract::sandbox::SandboxLimits {
    docuvault::extract::sandbox::SandboxLimits {
        memory_bytes: 1024 * 1024 * 1024,
        cpu_secs: 30,
        wall,
        max_chars: 1_000_000,
        fault: None,
    }
}

fn exe() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_docuvault"))
}

#[tokio::test]
async fn a_long_scan_outlives_the_base_wall_clock() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let pages: Vec<std::path::PathBuf> = (1..=4).map(|p| scan(&pdf, p, 1.0, dir.path())).collect();
    let tiff = dir.path().join("four.tif");
    run(Command::new(convert())
        .args(&pages)
        .args(["-compress", "lzw"])
        .arg(&tiff));
    let bytes = std::fs::read(&tiff).unwrap();
    let wall = Duration::from_secs(2);
    let options = docuvault::extract::OcrOptions::default();
    let started = std::time::Instant::now();
    let got = docuvault::extract::sandbox::extract_in_child_with_ocr(
        exe(),
        "image/tiff",
        &bytes,
        &short_wall(wall),
        Some(&options),
    )
    .await
    .unwrap_or_else(|e| panic!("a 4-page scan was cut short: {e}"));
    assert_eq!(got.pages.len(), 4);
    // The run took longer than the base wall clock: only the page progress kept it alive.
    assert!(
        started.elapsed() > wall,
        "4 pages OCR'd within {wall:?}: make the document longer"
    );
}

#[tokio::test]
async fn a_hung_ocr_child_is_still_killed() {
    let mut limits = short_wall(Duration::from_secs(1));
    limits.fault = Some(docuvault::extract::sandbox::Fault::Sleep);
    let options = docuvault::extract::OcrOptions::default();
    let started = std::time::Instant::now();
    let got = docuvault::extract::sandbox::extract_in_child_with_ocr(
        exe(),
        "image/jpeg",
        &small_jpeg(),
        &limits,
        Some(&options),
    )
    .await;
    match got {
        Err(docuvault::extract::ExtractError::Failed(reason)) => {
            assert!(reason.contains("took longer than 1 s"), "{reason}")
        }
        other => panic!("expected a kill, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_scanned_invoice_is_classified_from_its_ocr_text() {
    if setup().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("invoice.png");
    let lines = "Invoices for March: the invoices from the plumber must be paid.\n".repeat(4);
    run(Command::new(convert())
        .args(["-size", "1700x700", "xc:white", "-fill", "black"])
        .args(["-pointsize", "32", "-annotate", "+60+120"])
        .arg(&lines)
        .args(["-colorspace", "Gray"])
        .arg(&png));
    let app = TestApp::spawn().await;
    let s = app.register("billing").await;
    let invoices =
        crate::common::create_topic(&app, &s, "Invoices", Some("Bills and invoices to pay")).await;
    let id = app
        .upload(&s, "photo.png", "image/png", std::fs::read(&png).unwrap())
        .await;
    let doc = wait_processed(&app, &s, &id).await;
    assert_eq!(doc["status"], "classified", "{doc}");
    let topics: Vec<&str> = doc["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(topics, [invoices.to_string().as_str()], "{doc}");
    assert_eq!(doc["topics"][0]["source"], "ai");
}

#[tokio::test]
async fn a_multi_page_tiff_and_a_webp_photo_are_read_page_by_page() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/euro.pdf");
    let jpgs: Vec<std::path::PathBuf> = [1u32, 2]
        .iter()
        .map(|p| scan(&pdf, *p, 1.0, dir.path()))
        .collect();
    let tiff = dir.path().join("two.tif");
    run(Command::new(convert())
        .args(&jpgs)
        .args(["-compress", "lzw"])
        .arg(&tiff));
    let webp = dir.path().join("photo.webp");
    run(Command::new(convert())
        .arg(&jpgs[0])
        .args(["-quality", "80"])
        .arg(&webp));

    let app = TestApp::spawn().await;
    let s = app.register("photographer").await;
    let tiff_id = app
        .upload(&s, "two.tiff", "image/tiff", std::fs::read(&tiff).unwrap())
        .await;
    let webp_id = app
        .upload(
            &s,
            "photo.webp",
            "image/webp",
            std::fs::read(&webp).unwrap(),
        )
        .await;
    for (id, pages) in [(&tiff_id, 2usize), (&webp_id, 1)] {
        let doc = wait_processed(&app, &s, id).await;
        assert_ne!(doc["status"], "failed", "{doc}");
        let text = text_of(&app, &s, id).await;
        assert_ocr_pages(&text, pages, "eng");
        let numbers: Vec<u64> = text["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["page"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=pages as u64).collect::<Vec<_>>());
        let got = text["text"].as_str().unwrap();
        let reference: String = (1..=pages as u32)
            .map(|p| pdftotext_page(&pdf, p))
            .collect::<Vec<_>>()
            .join("\n");
        let r = recall(&reference, got);
        assert!(r >= 0.9, "word recall {r:.3}");
    }
}

// ---------------------------------------------------------------------------------------
// Progress while a scan is read, and documents with thousands of pages.

/// A stand-in for tesseract that answers the start-up probe at once and otherwise waits,
/// before running the real one, for as long as the test holds `lock` (flock(1)): the
/// worker stops inside a page for exactly as long as the test wants, without sleeps.
fn gated_tesseract(dir: &std::path::Path, lock: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = docuvault::extract::ocr::probe()
        .engine
        .expect("tesseract")
        .path;
    let script = dir.join("tesseract");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version|--list-langs) exec {real} \"$@\";; esac\n\
             /usr/bin/flock {lock} /bin/true\nexec {real} \"$@\"\n",
            real = real.display(),
            lock = lock.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[tokio::test]
async fn processing_shows_which_page_of_how_many_is_being_read() {
    let Some(corpus) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pdf = corpus.join("pdf/txfontsdoc.pdf");
    let jpgs: Vec<std::path::PathBuf> = (2..=4).map(|p| scan(&pdf, p, 1.0, dir.path())).collect();
    let tiff = dir.path().join("three.tif");
    run(Command::new(convert())
        .args(&jpgs)
        .args(["-compress", "lzw"])
        .arg(&tiff));
    let lock_path = dir.path().join("gate.lock");
    let tesseract = gated_tesseract(dir.path(), &lock_path);
    // Held from before the upload: the worker waits inside page 1.
    let gate = std::fs::File::create(&lock_path).unwrap();
    gate.lock().unwrap();

    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__OCR__TESSERACT_COMMAND".into(),
            tesseract.display().to_string(),
        );
    })
    .await;
    assert_eq!(body(app.health().await).await["ocr"]["available"], true);
    let s = app.register("progress").await;
    let id = app
        .upload(
            &s,
            "three.tiff",
            "image/tiff",
            std::fs::read(&tiff).unwrap(),
        )
        .await;
    let doc = poll_until(Duration::from_secs(60), "progress to show", || async {
        let doc = body(
            app.get_auth(&format!("/api/documents/{id}"), &s.access)
                .await,
        )
        .await;
        (!doc["progress"].is_null()).then_some(doc)
    })
    .await;
    assert_eq!(doc["status"], "processing", "{doc}");
    assert_eq!(doc["progress"], json!({"page": 1, "pages": 3}), "{doc}");
    // The list shows it too.
    let listed = body(app.get_auth("/api/documents", &s.access).await).await;
    let item = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["progress"], json!({"page": 1, "pages": 3}), "{item}");

    gate.unlock().unwrap();
    let doc = wait_processed(&app, &s, &id).await;
    assert_ne!(doc["status"], "failed", "{doc}");
    assert_eq!(
        doc["progress"],
        Value::Null,
        "cleared when processing ends: {doc}"
    );
    let row = docuvault::entities::documents::Entity::find_by_id(id.parse::<uuid::Uuid>().unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.progress_page, row.progress_pages), (None, None));
    assert_ocr_pages(&text_of(&app, &s, &id).await, 3, "eng");
    // Documents that are not read page by page never show progress.
    let plain = app
        .upload(
            &s,
            "hello.pdf",
            "application/pdf",
            crate::common::samples::hello_pdf(),
        )
        .await;
    assert_eq!(
        wait_processed(&app, &s, &plain).await["progress"],
        Value::Null
    );
}

/// A TIFF of `pages` tiny grey pages.
fn many_page_tiff(pages: usize) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut bytes).unwrap();
        let data = vec![255u8; 8 * 8];
        for _ in 0..pages {
            enc.write_image::<tiff::encoder::colortype::Gray8>(8, 8, &data)
                .unwrap();
        }
    }
    bytes.into_inner()
}

/// A PDF of `pages` empty pages (no text layer: every page would need OCR).
fn many_page_pdf(pages: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |pdf: &mut Vec<u8>, body: String| {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", offsets.len()).as_bytes());
    };
    object(&mut pdf, "<</Type/Catalog/Pages 2 0 R>>".into());
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", i + 3)).collect();
    object(
        &mut pdf,
        format!("<</Type/Pages/Kids[{}]/Count {pages}>>", kids.join(" ")),
    );
    for _ in 0..pages {
        object(
            &mut pdf,
            "<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>".into(),
        );
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<</Size {}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[tokio::test]
async fn thousands_of_pages_stop_at_the_page_cap_with_a_reason() {
    // The default cap (ocr.max_pages = 200), the default sandbox limits.
    let app = TestApp::spawn().await;
    let s = app.register("hoarder").await;
    let started = std::time::Instant::now();
    let tiff = app
        .upload(&s, "many.tiff", "image/tiff", many_page_tiff(3000))
        .await;
    let pdf = app
        .upload(&s, "many.pdf", "application/pdf", many_page_pdf(3000))
        .await;
    for (id, reason) in [
        (&tiff, "the TIFF image has more than 200 pages"),
        (
            &pdf,
            "the PDF has 3000 pages without text to OCR; at most 200",
        ),
    ] {
        let doc = wait_processed(&app, &s, id).await;
        assert_eq!(doc["status"], "failed", "{doc}");
        assert_eq!(doc["status_reason"], Value::Null, "{doc}");
        assert_eq!(doc["progress"], Value::Null, "{doc}");
        let error = doc["last_error"].as_str().unwrap();
        // The cap, not a memory or time limit, stopped it.
        assert!(error.contains(reason), "{error}");
    }
    // Nothing was OCR'd: both were refused before any page was read.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let res = app.health().await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["status"], "ok");
}
