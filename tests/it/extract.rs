//! Text extraction: formats, magic bytes, normalization, caps, and hostile input run in
//! the sandboxed child (`docuvault extract-worker`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use docuvault::extract::sandbox::{Fault, SandboxLimits, extract_in_child};
use docuvault::extract::{
    ExtractError, Extracted, ZipLimits, extract_text, extract_text_with, normalize, sha256_hex,
};

use crate::common;

use common::samples::*;

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_docuvault"))
}

fn limits() -> SandboxLimits {
    SandboxLimits {
        memory_bytes: 1024 * 1024 * 1024,
        cpu_secs: 20,
        wall: Duration::from_secs(30),
        max_chars: 100_000,
        fault: None,
    }
}

async fn in_child(content_type: &str, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    extract_in_child(exe(), content_type, bytes, &limits()).await
}

fn failed_reason(r: Result<Extracted, ExtractError>) -> String {
    match r {
        Err(ExtractError::Failed(reason)) => reason,
        other => panic!("expected Failed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Formats, in process.

#[test]
fn pdf_text_is_extracted() {
    let pdf = hello_pdf();
    let got = extract_text("application/pdf", &pdf, 10_000).unwrap();
    assert!(got.text.contains("Hello PDF world"), "{:?}", got.text);
    assert_eq!(got.sha256_hex, sha256_hex(&pdf));
    assert_eq!(got.sha256_hex.len(), 64);
    assert!(!got.truncated);
}

#[test]
fn docx_text_is_extracted_with_paragraphs() {
    let got = extract_text(DOCX, &sample_docx(), 10_000).unwrap();
    assert_eq!(
        got.text,
        "Quarterly report & summary\nSecond paragraph\nThird"
    );
}

#[test]
fn odt_text_is_extracted() {
    let got = extract_text(ODT, &sample_odt(), 10_000).unwrap();
    assert_eq!(
        got.text,
        "Meeting notes\nAlpha beta gamma\nLine one\nline two"
    );
}

#[test]
fn plain_markdown_csv_are_extracted() {
    let txt = extract_text(
        "text/plain; charset=utf-8",
        "\u{FEFF}Grüße  aus\tBerlin\r\n".as_bytes(),
        100,
    )
    .unwrap();
    assert_eq!(txt.text, "Grüße aus Berlin");
    let md = extract_text("text/markdown", b"# Title\n\nSome *text*.\n", 100).unwrap();
    assert_eq!(md.text, "# Title\n\nSome *text*.");
    let csv = extract_text("text/csv", b"name,amount\nrent,1200\n", 100).unwrap();
    assert_eq!(csv.text, "name,amount\nrent,1200");
}

#[test]
fn html_gives_visible_text_only() {
    let html = r#"<!DOCTYPE html><html><head><title>Invoice 42</title>
<style>body { color: red }</style><script>alert("x < y")</script></head>
<body><h1>Invoice</h1><p>Total:&nbsp;100&nbsp;&euro; &amp; more &#x263A;</p>
<!-- hidden comment --><SCRIPT type="text/javascript">var hidden = 1;</SCRIPT>
<ul><li>one</li><li>two</li></ul><p>a &lt; b</p></body></html>"#;
    let got = extract_text("text/html", html.as_bytes(), 10_000).unwrap();
    assert_eq!(
        got.text,
        "Invoice 42\n\nInvoice\n\nTotal: 100 € & more ☺\n\none\ntwo\n\na < b"
    );
    for hidden in ["color", "alert", "hidden", "var"] {
        assert!(
            !got.text.contains(hidden),
            "{hidden} leaked: {:?}",
            got.text
        );
    }
}

#[test]
fn unsupported_type_is_reported() {
    assert!(matches!(
        extract_text("image/png", b"\x89PNG", 100),
        Err(ExtractError::Unsupported(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Magic bytes.

#[test]
fn magic_bytes_must_match_the_declared_type() {
    let mismatch = |r: Result<Extracted, ExtractError>| {
        assert!(matches!(r, Err(ExtractError::TypeMismatch { .. })), "{r:?}")
    };
    mismatch(extract_text("application/pdf", b"just some text", 100));
    mismatch(extract_text(DOCX, &hello_pdf(), 100));
    mismatch(extract_text(ODT, b"plain", 100));
    // A zip, but not a Word document / not an ODT.
    mismatch(extract_text(DOCX, &sample_odt(), 100));
    mismatch(extract_text(ODT, &sample_docx(), 100));
    // Binary or non-UTF-8 declared as text.
    mismatch(extract_text("text/plain", b"a\0b", 100));
    mismatch(extract_text("text/plain", b"caf\xE9 latin-1", 100));
    mismatch(extract_text("text/csv", &sample_docx(), 100));
    mismatch(extract_text("text/html", b"\xFF\xFE<\0h\0", 100));
    let reason = extract_text("application/pdf", b"hello", 100)
        .unwrap_err()
        .to_string();
    assert!(reason.contains("PDF"), "{reason}");
}

// ---------------------------------------------------------------------------------------
// Normalization and cap.

#[test]
fn whitespace_is_normalized() {
    assert_eq!(
        normalize("  a  \t b \u{A0} c  \r\n\r\n\r\n\n\nd\u{AD}e\n\n"),
        "a b c\n\nde"
    );
}

#[test]
fn hyphenation_at_line_ends_is_joined_when_clear() {
    assert_eq!(
        normalize("an exam-\nple of hyphen-\nation"),
        "an example of hyphenation"
    );
    // Not clear: next line starts upper-case, a digit, or the hyphen follows a digit.
    assert_eq!(normalize("Jean-\nPaul"), "Jean-\nPaul");
    assert_eq!(normalize("pages 10-\n12"), "pages 10-\n12");
    assert_eq!(normalize("list -\nitem"), "list -\nitem");
    // Across a paragraph break it is not joined.
    assert_eq!(normalize("end-\n\nnext"), "end-\n\nnext");
}

#[test]
fn text_is_capped_at_max_chars_on_a_char_boundary() {
    let text = "äöü ".repeat(1000);
    let got = extract_text("text/plain", text.as_bytes(), 10).unwrap();
    assert!(got.truncated);
    assert!(got.text.chars().count() <= 10);
    assert_eq!(got.text, "äöü äöü äö");
    assert_eq!(got.sha256_hex, sha256_hex(text.as_bytes()));
    let whole = extract_text("text/plain", b"short", 10).unwrap();
    assert!(!whole.truncated);
}

// ---------------------------------------------------------------------------------------
// Hostile input.

#[tokio::test]
async fn zip_bomb_is_refused_fast() {
    let built = Instant::now();
    let bomb = zip_bomb_docx(BOMB_MIB);
    eprintln!("bomb: {} bytes built in {:?}", bomb.len(), built.elapsed());
    assert!(
        bomb.len() < BOMB_MIB * 1024 * 1024 / 200,
        "{} bytes",
        bomb.len()
    );
    let started = Instant::now();
    let reason = failed_reason(in_child(DOCX, &bomb).await);
    assert!(reason.contains("zip bomb"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // In process too: the ratio guard fires after ~100 × the compressed size.
    let reason = failed_reason(extract_text(DOCX, &bomb, 100));
    assert!(reason.contains("ratio"), "{reason}");
}

const BOMB_MIB: usize = 256;

#[test]
fn zip_guards_entry_count_and_total_size() {
    let many: Vec<(String, Vec<u8>)> = (0..50).map(|i| (format!("f{i}"), vec![b'x'; 10])).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("[Content_Types].xml", DOCX_TYPES.as_bytes())];
    entries.extend(many.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
    let docx = zip_of(&entries);
    let tight = ZipLimits {
        max_entries: 20,
        ..ZipLimits::default()
    };
    let reason = failed_reason(extract_text_with(DOCX, &docx, 100, &tight));
    assert!(reason.contains("entries"), "{reason}");

    // Total size: a legitimate-looking (incompressible-ish) document over the total cap.
    let body: String = (0..20_000)
        .map(|i| {
            format!(
                "<w:p><w:r><w:t>word{i} {}</w:t></w:r></w:p>",
                i * 7919 % 10007
            )
        })
        .collect();
    let docx = docx_with_body(&body);
    let small = ZipLimits {
        max_total_bytes: 64 * 1024,
        ..ZipLimits::default()
    };
    let reason = failed_reason(extract_text_with(DOCX, &docx, 100, &small));
    assert!(reason.contains("in total"), "{reason}");
    assert!(
        extract_text(DOCX, &docx, 1_000_000)
            .unwrap()
            .text
            .contains("word19999")
    );
}

#[tokio::test]
async fn billion_laughs_is_refused_without_expansion() {
    let docx = billion_laughs_docx();
    let started = Instant::now();
    let reason = failed_reason(in_child(DOCX, &docx).await);
    assert!(reason.contains("DTD"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Same in process, and a DTD-free document still works.
    let reason = failed_reason(extract_text(DOCX, &docx, 1_000_000));
    assert!(reason.contains("DTD"), "{reason}");
    assert!(extract_text(DOCX, &sample_docx(), 1000).is_ok());
}

#[test]
fn deeply_nested_pdf_objects_are_refused_before_parsing() {
    let reason = failed_reason(extract_text(
        "application/pdf",
        &nested_array_pdf(10_000),
        100,
    ));
    assert!(reason.contains("levels deep"), "{reason}");
    // Ordinary nesting, brackets inside strings and stream bodies are fine.
    let tricky = pdf_with_stream("BT /F1 24 Tf 72 700 Td ([[[[ <<<< \\( text) Tj ET");
    assert!(extract_text("application/pdf", &tricky, 1000).is_ok());
    assert!(extract_text("application/pdf", &nested_array_pdf(50), 100).is_ok());
}

#[test]
fn deeply_nested_xml_is_refused() {
    let body = format!(
        "<w:p><w:r><w:t>x</w:t></w:r></w:p>{}{}",
        "<w:sdt>".repeat(5_000),
        "</w:sdt>".repeat(5_000)
    );
    let reason = failed_reason(extract_text(DOCX, &docx_with_body(&body), 100));
    assert!(reason.contains("nested"), "{reason}");
}

#[tokio::test]
async fn deeply_nested_pdf_fails_cleanly_in_the_child() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let dicts = format!("{}{}", "<< /A ".repeat(depth), ">> ".repeat(depth));
    let in_object = pdf_from_objects(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Deep {nested} >>"),
    ]);
    let in_catalog = pdf_from_objects(&[
        format!("<< /Type /Catalog /Pages 2 0 R /Deep {dicts} >>"),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_owned(),
    ]);
    let in_content = pdf_with_stream(&format!("BT /F1 24 Tf 72 700 Td {nested} TJ ET"));
    for pdf in [in_object, in_catalog, in_content] {
        let started = Instant::now();
        // Either the parser copes (its own depth limit) and yields no text, or the child
        // dies/fails and that is reported as a reason: never a hang or a crash here.
        let outcome = in_child("application/pdf", &pdf).await;
        eprintln!("nested PDF: {outcome:?} after {:?}", started.elapsed());
        match outcome {
            Ok(got) => assert!(got.text.len() < 1000, "{}", got.text.len()),
            Err(ExtractError::Failed(reason)) => assert!(!reason.is_empty()),
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(35),
            "{:?}",
            started.elapsed()
        );
    }
    // The test process (the "server") is fine and the next job works.
    let ok = in_child("application/pdf", &hello_pdf()).await.unwrap();
    assert!(ok.text.contains("Hello PDF world"));
}

// ---------------------------------------------------------------------------------------
// The child process and its failure modes.

#[tokio::test]
async fn child_extracts_every_format() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("application/pdf", hello_pdf(), "Hello PDF world"),
        (DOCX, sample_docx(), "Quarterly report & summary"),
        (ODT, sample_odt(), "Meeting notes"),
        ("text/plain", b"plain  text".to_vec(), "plain text"),
        ("text/markdown", b"# Head".to_vec(), "# Head"),
        ("text/csv", b"a,b\n1,2".to_vec(), "a,b\n1,2"),
        ("text/html", b"<p>Hi <b>there</b></p>".to_vec(), "Hi there"),
    ];
    for (ct, bytes, expected) in cases {
        let got = in_child(ct, &bytes).await.unwrap();
        assert!(got.text.contains(expected), "{ct}: {:?}", got.text);
        assert_eq!(got.sha256_hex, sha256_hex(&bytes));
    }
    let r = in_child("application/pdf", b"not a pdf").await;
    assert!(matches!(r, Err(ExtractError::TypeMismatch { .. })), "{r:?}");
    let capped = extract_in_child(
        exe(),
        "text/plain",
        "word ".repeat(1000).as_bytes(),
        &SandboxLimits {
            max_chars: 12,
            ..limits()
        },
    )
    .await
    .unwrap();
    assert_eq!(capped.text, "word word wo");
    assert!(capped.truncated);
}

async fn with_fault(fault: Fault, tweak: impl FnOnce(&mut SandboxLimits)) -> String {
    let mut l = limits();
    l.fault = Some(fault);
    tweak(&mut l);
    failed_reason(extract_in_child(exe(), "application/pdf", &hello_pdf(), &l).await)
}

#[tokio::test]
async fn panicking_child_is_a_clean_error() {
    let reason = with_fault(Fault::Panic, |_| {}).await;
    assert_eq!(reason, "the PDF parser crashed");
}

#[tokio::test]
async fn aborting_child_is_a_clean_error() {
    let reason = with_fault(Fault::Abort, |_| {}).await;
    assert!(reason.contains("PDF parser crashed"), "{reason}");
}

#[tokio::test]
async fn out_of_memory_child_is_a_clean_error() {
    let reason = with_fault(Fault::Oom, |l| l.memory_bytes = 768 * 1024 * 1024).await;
    assert!(reason.contains("out of memory"), "{reason}");
}

#[tokio::test]
async fn stack_overflow_in_the_child_is_a_clean_error() {
    let reason = with_fault(Fault::StackOverflow, |_| {}).await;
    assert!(reason.contains("nested too deeply"), "{reason}");
}

#[tokio::test]
async fn default_limits_are_enough_for_ordinary_documents() {
    let l = SandboxLimits::default();
    assert_eq!(l.memory_bytes, 512 * 1024 * 1024);
    let got = extract_in_child(exe(), "application/pdf", &hello_pdf(), &l)
        .await
        .unwrap();
    assert!(got.text.contains("Hello PDF world"));
    let got = extract_in_child(exe(), DOCX, &sample_docx(), &l)
        .await
        .unwrap();
    assert!(got.text.contains("Quarterly"));
}

#[tokio::test]
async fn wall_clock_limit_kills_the_child() {
    let started = Instant::now();
    let reason = with_fault(Fault::Sleep, |l| l.wall = Duration::from_secs(2)).await;
    assert_eq!(reason, "extraction took longer than 2 s");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn cpu_limit_kills_the_child() {
    let started = Instant::now();
    let reason = with_fault(Fault::Spin, |l| l.cpu_secs = 1).await;
    assert!(reason.contains("CPU"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// Real PDFs, when the machine has some under /usr/share/doc (skipped otherwise): each
/// either yields text or fails with a reason, within the limits.
#[tokio::test]
async fn real_pdfs_when_available() {
    let mut found = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("/usr/share/doc")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "pdf") && found.len() < 4 {
                found.push(path);
            }
        }
    }
    for path in found {
        let bytes = std::fs::read(&path).unwrap();
        let started = Instant::now();
        let outcome = in_child("application/pdf", &bytes).await;
        eprintln!(
            "{}: {:?} in {:?}",
            path.display(),
            outcome.as_ref().map(|e| e.text.chars().count()),
            started.elapsed()
        );
        if let Ok(got) = outcome {
            assert_eq!(got.sha256_hex, sha256_hex(&bytes));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hostile shapes of about 2 MB: every extractor is linear in its input.

const TWO_MB: usize = 2 * 1024 * 1024;

/// `unit` repeated to about `TWO_MB` bytes, wrapped in `head`/`tail`.
fn fill(head: &str, unit: &str, tail: &str) -> String {
    let n = (TWO_MB - head.len() - tail.len()) / unit.len();
    format!("{head}{}{tail}", unit.repeat(n))
}

/// A zip whose entries are stored (not compressed), so a 2 MB part is a 2 MB upload and
/// no compression-ratio guard stops it before the XML parser sees it.
fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn stored_docx(body: &str) -> Vec<u8> {
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    stored_zip(&[
        ("[Content_Types].xml", DOCX_TYPES.as_bytes()),
        ("_rels/.rels", DOCX_RELS.as_bytes()),
        ("word/document.xml", document.as_bytes()),
    ])
}

fn stored_odt(text: &str) -> Vec<u8> {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>{text}</office:text></office:body></office:document-content>"#
    );
    stored_zip(&[
        ("mimetype", ODT.as_bytes()),
        ("content.xml", content.as_bytes()),
    ])
}

/// 2 MB hostile documents: (name, content type, bytes).
fn hostile_two_megabytes() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let html = "text/html";
    let mut many_entries: Vec<(String, Vec<u8>)> = vec![
        ("[Content_Types].xml".into(), DOCX_TYPES.as_bytes().to_vec()),
        (
            "word/document.xml".into(),
            b"<w:document xmlns:w=\"w\"><w:body/></w:document>".to_vec(),
        ),
    ];
    many_entries.extend((0..9_000).map(|i| (format!("e/{i}"), vec![b'x'; 120])));
    let many_entries: Vec<(&str, &[u8])> = many_entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    vec![
        (
            "unterminated-tags.html",
            html,
            fill("", "<a", "").into_bytes(),
        ),
        (
            "unterminated-divs.html",
            html,
            fill("", "<div ", "").into_bytes(),
        ),
        (
            "unterminated-attribute.html",
            html,
            fill("<p>x</p><a title=\"", "<b>y", "").into_bytes(),
        ),
        (
            "nested.html",
            html,
            fill("", "<div><span>", "deep").into_bytes(),
        ),
        (
            "huge-attribute.html",
            html,
            fill("<a href=\"", "x", "\">link</a>").into_bytes(),
        ),
        (
            "blocks.html",
            html,
            fill("", "</p>  <br> ", "end").into_bytes(),
        ),
        (
            "tiny-runs.docx",
            DOCX,
            stored_docx(&fill("<w:p>", "<w:r><w:t>a</w:t></w:r>", "</w:p>")),
        ),
        (
            "unterminated-tags.docx",
            DOCX,
            stored_docx(&fill("<w:p>", "<w:t", "</w:p>")),
        ),
        (
            "huge-attribute.docx",
            DOCX,
            stored_docx(&fill(
                "<w:p w:x=\"",
                "y",
                "\"><w:r><w:t>a</w:t></w:r></w:p>",
            )),
        ),
        ("nested.docx", DOCX, stored_docx(&fill("", "<w:p>", ""))),
        ("many-entries.docx", DOCX, stored_zip(&many_entries)),
        (
            "tiny-spans.odt",
            ODT,
            stored_odt(&fill(
                "<text:p>",
                "<text:span>a</text:span><text:s/>",
                "</text:p>",
            )),
        ),
        (
            "many-attributes.odt",
            ODT,
            stored_odt(&format!(
                "<text:p>a<text:s {}text:c=\"3\"/>b</text:p>",
                (0..180_000)
                    .map(|i| format!("a{i}=\"\" "))
                    .collect::<String>()
            )),
        ),
        (
            "unterminated.odt",
            ODT,
            stored_odt(&fill("<text:p>", "<text:span", "")),
        ),
    ]
}

#[test]
fn two_megabyte_hostile_shapes_give_the_expected_text_in_process() {
    let big = |name: &str| {
        let (_, ct, bytes) = hostile_two_megabytes()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .unwrap();
        extract_text(ct, &bytes, usize::MAX)
    };
    // An unterminated tag swallows the rest of the input, as in a browser.
    assert_eq!(big("unterminated-tags.html").unwrap().text, "");
    assert_eq!(big("unterminated-attribute.html").unwrap().text, "x");
    assert_eq!(big("huge-attribute.html").unwrap().text, "link");
    assert_eq!(big("blocks.html").unwrap().text, "end");
    assert_eq!(big("nested.html").unwrap().text, "deep");
    let runs = big("tiny-runs.docx").unwrap().text;
    assert!(
        runs.len() > 50_000 && runs.bytes().all(|b| b == b'a'),
        "{}",
        runs.len()
    );
    assert_eq!(big("huge-attribute.docx").unwrap().text, "a");
    assert_eq!(big("many-attributes.odt").unwrap().text, "a b");
    for failing in ["unterminated-tags.docx", "nested.docx", "unterminated.odt"] {
        assert!(
            matches!(big(failing), Err(ExtractError::Failed(_))),
            "{failing}"
        );
    }
}

#[tokio::test]
async fn two_megabyte_hostile_uploads_are_processed_promptly() {
    use common::{TERMINAL, TestApp};
    // Before extraction was linear, one such HTML file held a worker for the sandbox's
    // whole wall clock (45 s) and 100 of them stalled everyone for over half an hour.
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__JOBS__CONCURRENCY".into(), "2".into());
        env.insert("DOCUVAULT__EXTRACT__TIMEOUT_SECS".into(), "45".into());
    })
    .await;
    let s = app.register("hostile2mb").await;
    let mut ids = Vec::new();
    for (name, ct, bytes) in hostile_two_megabytes() {
        ids.push((name, app.upload(&s, name, ct, bytes).await));
    }
    let started = Instant::now();
    // Every document ends, well within one sandbox wall clock for the whole batch.
    let deadline = Duration::from_secs(40);
    for (name, id) in &ids {
        let view = common::poll_until(deadline.saturating_sub(started.elapsed()), name, || async {
            let res = app
                .get_auth(&format!("/api/documents/{id}"), &s.access)
                .await;
            let doc: serde_json::Value = res.json().await.unwrap();
            TERMINAL
                .contains(&doc["status"].as_str().unwrap_or_default())
                .then_some(doc)
        })
        .await;
        let reason = view["last_error"].as_str().unwrap_or_default();
        if view["status"] == "failed" {
            assert!(
                !reason.contains("longer than") && !reason.contains("CPU"),
                "{name} ran into the sandbox limits: {reason}"
            );
            assert!(reason.len() > 10, "{name}: {reason:?}");
        }
    }
}
