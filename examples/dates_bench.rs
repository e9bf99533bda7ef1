//! Cost of deriving a document's own date (`docuvault::extract::dates::derive`, what the
//! pipeline runs on every processed document) on real extracted texts: one `.txt` file
//! per document in a directory, named after the original (`bench/dates/run.sh` makes
//! them from real PDFs with pdftotext).
//!
//!   cargo run --release --example dates_bench -- DIR [--rounds 5]
//!
//! Each text is normalized as the pipeline stores it (not timed); then `derive(text, file
//! name)` is timed `--rounds` times per document and the document's cost is the median of
//! its rounds. Prints the median, p95 and maximum over the documents against the target
//! (median < 5 ms), how many documents got a date (from the text or the file name), and a
//! sample of what was found. Exit code: 0 target met, 2 missed, 1 bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use docuvault::extract::dates::{DateOrder, FoundIn, derive};

/// The target: median cost per document.
const TARGET: Duration = Duration::from_millis(5);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn fmt(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: dates_bench DIR [--rounds N]");
        std::process::exit(1);
    };
    let mut rounds = 5usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).unwrap_or(5),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(1);
            }
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    if files.is_empty() {
        eprintln!("no .txt files in {dir:?}");
        std::process::exit(1);
    }
    let today = chrono::Utc::now().date_naive();
    let mut costs = Vec::with_capacity(files.len());
    let (mut from_text, mut from_name) = (0usize, 0usize);
    let mut total_chars = 0usize;
    let mut sample = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let text = docuvault::extract::normalize(&String::from_utf8_lossy(&raw));
        total_chars += text.chars().count();
        // The original's name: `name.pdf.txt` → `name.pdf`.
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut runs = Vec::with_capacity(rounds);
        let mut found = None;
        for _ in 0..rounds {
            let start = Instant::now();
            found = std::hint::black_box(derive(
                std::hint::black_box(&text),
                std::hint::black_box(&name),
                today,
                DateOrder::Dmy,
            ));
            runs.push(start.elapsed());
        }
        runs.sort();
        costs.push(runs[runs.len() / 2]);
        match found {
            Some(f) => {
                match f.found_in {
                    FoundIn::Content => from_text += 1,
                    FoundIn::FileName => from_name += 1,
                }
                sample.push(format!(
                    "  {:<40} {} ({})",
                    name,
                    f.date,
                    match f.found_in {
                        FoundIn::Content => "text",
                        FoundIn::FileName => "file name",
                    }
                ));
            }
            None => sample.push(format!("  {name:<40} -")),
        }
    }
    let mut slowest: Vec<(Duration, &PathBuf)> = costs.iter().copied().zip(&files).collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut sorted = costs.clone();
    sorted.sort();
    let median = percentile(&sorted, 0.5);
    let p95 = percentile(&sorted, 0.95);
    let max = *sorted.last().unwrap();
    let n = files.len();
    println!("Document date extraction (docuvault::extract::dates::derive)");
    println!(
        "  corpus: {n} documents in {}, {:.1} M characters of text (median {} per document)",
        dir.display(),
        total_chars as f64 / 1e6,
        {
            let mut lens: Vec<usize> = files
                .iter()
                .map(|p| std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0))
                .collect();
            lens.sort();
            format!("{} KB", lens[lens.len() / 2] / 1024)
        }
    );
    println!("  rounds per document: {rounds} (a document's cost is the median of its rounds)");
    println!(
        "  cost per document: median {}  p95 {}  max {}   target: median < {}",
        fmt(median),
        fmt(p95),
        fmt(max),
        fmt(TARGET)
    );
    let slow: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(d, p)| format!("{} {}", p.file_stem().unwrap().to_string_lossy(), fmt(*d)))
        .collect();
    println!("  slowest: {}", slow.join(", "));
    println!(
        "  dated: {} of {n} ({from_text} from the text, {from_name} from the file name)",
        from_text + from_name
    );
    println!("  sample (every {}th document):", (n / 25).max(1));
    for line in sample.iter().step_by((n / 25).max(1)) {
        println!("{line}");
    }
    if median < TARGET {
        println!("TARGET MET");
    } else {
        println!("TARGET MISSED");
        std::process::exit(2);
    }
}
