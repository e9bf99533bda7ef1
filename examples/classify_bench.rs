//! Accuracy of the builtin classifier on a labelled corpus laid out as one directory per
//! class holding one text file per document (see `bench/classify/README.md`).
//!
//!   cargo run --example classify_bench -- DIR [--train-per-class 20] [--rounds 5]
//!
//! Prints the majority-class baseline, zero-shot accuracy (topic names + one-line
//! descriptions only) and accuracy after N hand-labelled examples per class (held-out
//! documents only, averaged over several random draws), plus throughput.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use docuvault::classify::builtin::{BuiltinModel, Example};
use docuvault::classify::{Pick, TopicOption, bounded};
use uuid::Uuid;

/// The first characters of each document the classifier reads (as `ai.builtin_example_chars`).
const CHARS: usize = 4000;

/// Topic name and one-line description per class directory.
const TOPICS: &[(&str, &str, &str)] = &[
    (
        "business",
        "Business",
        "Companies, markets, the economy, trade, banks and finance",
    ),
    (
        "entertainment",
        "Entertainment",
        "Films, music, television, celebrities and the arts",
    ),
    (
        "politics",
        "Politics",
        "Government, parliament, elections, political parties and ministers",
    ),
    (
        "sports",
        "Sport",
        "Football, rugby, tennis, athletics: matches, players and championships",
    ),
    (
        "tech",
        "Technology",
        "Computers, the internet, software, mobile phones and video games",
    ),
];

struct Doc {
    class: usize,
    name: String,
    text: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .expect("usage: classify_bench DIR [--train-per-class N] [--rounds R]"),
    );
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    let per_class = flag("--train-per-class", 20);
    let rounds = flag("--rounds", 5);

    let topics: Vec<TopicOption> = TOPICS
        .iter()
        .enumerate()
        .map(|(i, (_, name, desc))| TopicOption {
            id: Uuid::from_u128(i as u128 + 1),
            name: (*name).into(),
            description: Some((*desc).into()),
        })
        .collect();
    let docs = load(&dir);
    let n = docs.len();
    let mut counts = vec![0usize; TOPICS.len()];
    for d in &docs {
        counts[d.class] += 1;
    }
    println!("corpus: {} documents in {} classes", n, TOPICS.len());
    for (i, (dirname, name, desc)) in TOPICS.iter().enumerate() {
        println!(
            "  {dirname:<14} {:>4} docs  topic {name:?}: {desc:?}",
            counts[i]
        );
    }
    let majority = *counts.iter().max().unwrap() as f64 / n as f64;
    println!("majority-class baseline: {:.1} %", 100.0 * majority);

    // Zero-shot.
    let model = BuiltinModel::train(&topics, &[]);
    let start = Instant::now();
    let all: Vec<usize> = (0..n).collect();
    let zs = evaluate(&model, &docs, &all, &topics);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "zero-shot (names + one-line descriptions): accuracy {:.1} % ({} of {}), \
         no topic for {:.1} %, top-scoring topic right {:.1} %  [{:.0} docs/s]",
        100.0 * zs.accuracy(),
        zs.correct,
        zs.total,
        100.0 * zs.abstained as f64 / zs.total as f64,
        100.0 * zs.top_correct as f64 / zs.total as f64,
        zs.total as f64 / secs
    );

    // Few-shot: `per_class` labelled examples per class, evaluated on the rest.
    let mut accs = Vec::new();
    let mut abstain = Vec::new();
    let mut top = Vec::new();
    let mut train_ms = Vec::new();
    for round in 0..rounds {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (round as u64 + 1));
        let mut train = Vec::new();
        for class in 0..TOPICS.len() {
            let mut idx: Vec<usize> = (0..n).filter(|&i| docs[i].class == class).collect();
            shuffle(&mut idx, &mut rng);
            train.extend(idx.into_iter().take(per_class));
        }
        let examples: Vec<Example> = train
            .iter()
            .map(|&i| Example {
                topics: vec![topics[docs[i].class].id],
                text: doc_text(&docs[i]),
            })
            .collect();
        let t = Instant::now();
        let model = BuiltinModel::train(&topics, &examples);
        train_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let held_out: Vec<usize> = (0..n).filter(|i| !train.contains(i)).collect();
        let r = evaluate(&model, &docs, &held_out, &topics);
        accs.push(r.accuracy());
        abstain.push(r.abstained as f64 / r.total as f64);
        top.push(r.top_correct as f64 / r.total as f64);
    }
    let mean = accs.iter().sum::<f64>() / accs.len() as f64;
    let min = accs.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "after {per_class} hand-labelled examples per class ({} held-out docs, {rounds} draws): \
         accuracy {:.1} % mean, {:.1} % worst draw, no topic for {:.1} %, \
         top-scoring topic right {:.1} %, training {:.0} ms",
        n - per_class * TOPICS.len(),
        100.0 * mean,
        100.0 * min,
        100.0 * abstain.iter().sum::<f64>() / abstain.len() as f64,
        100.0 * top.iter().sum::<f64>() / top.len() as f64,
        train_ms.iter().sum::<f64>() / train_ms.len() as f64
    );
    println!(
        "vs majority baseline: zero-shot {:.2}x, few-shot {:.2}x",
        zs.accuracy() / majority,
        mean / majority
    );
    // "None fits": each class in turn has no topic; how often do its documents get none
    // (rather than a wrong topic)? Zero-shot, and with the other classes' examples.
    let mut none_zs = 0usize;
    let mut none_fs = 0usize;
    let mut rng = XorShift(0x5151_5151);
    for missing in 0..TOPICS.len() {
        let kept: Vec<TopicOption> = topics
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, t)| t.clone())
            .collect();
        let mut train = Vec::new();
        for class in (0..TOPICS.len()).filter(|&c| c != missing) {
            let mut idx: Vec<usize> = (0..n).filter(|&i| docs[i].class == class).collect();
            shuffle(&mut idx, &mut rng);
            train.extend(idx.into_iter().take(per_class));
        }
        let examples: Vec<Example> = train
            .iter()
            .map(|&i| Example {
                topics: vec![topics[docs[i].class].id],
                text: doc_text(&docs[i]),
            })
            .collect();
        let zero = BuiltinModel::train(&kept, &[]);
        let few = BuiltinModel::train(&kept, &examples);
        for d in docs.iter().filter(|d| d.class == missing) {
            let text = doc_text(d);
            none_zs += usize::from(zero.classify(&text).is_empty());
            none_fs += usize::from(few.classify(&text).is_empty());
        }
    }
    println!(
        "documents whose class has no topic, answered \"none\": zero-shot {:.1} %, \
         after {per_class}/class of the other classes {:.1} %",
        100.0 * none_zs as f64 / n as f64,
        100.0 * none_fs as f64 / n as f64
    );
    let zs_ok = zs.accuracy() >= 0.60;
    let fs_ok = mean >= 0.90;
    println!(
        "target zero-shot >= 60 %: {}",
        if zs_ok { "PASS" } else { "FAIL" }
    );
    println!(
        "target after {per_class}/class >= 90 %: {}",
        if fs_ok { "PASS" } else { "FAIL" }
    );
    if !(zs_ok && fs_ok) {
        std::process::exit(2);
    }
}

struct Score {
    correct: usize,
    top_correct: usize,
    abstained: usize,
    total: usize,
}

impl Score {
    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total as f64
    }
}

/// A prediction counts as right when the classifier's best suggestion is the document's
/// class; "no topic" counts as wrong.
fn evaluate(model: &BuiltinModel, docs: &[Doc], which: &[usize], topics: &[TopicOption]) -> Score {
    let mut s = Score {
        correct: 0,
        top_correct: 0,
        abstained: 0,
        total: which.len(),
    };
    for &i in which {
        let text = doc_text(&docs[i]);
        let want = topics[docs[i].class].id;
        match model.classify(&text).first().map(|s| &s.pick) {
            Some(Pick::Existing(id)) if *id == want => s.correct += 1,
            Some(_) => {}
            None => s.abstained += 1,
        }
        let scores = model.scores(&text);
        let best = scores
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| *id);
        if best == Some(want) {
            s.top_correct += 1;
        }
    }
    s
}

/// What `classify_document` gives the builtin classifier: filename, newline, capped text.
fn doc_text(d: &Doc) -> String {
    format!("{}\n{}", d.name, bounded(&d.text, CHARS))
}

fn load(dir: &Path) -> Vec<Doc> {
    let mut docs = Vec::new();
    for (class, (dirname, _, _)) in TOPICS.iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(dirname))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(dirname).display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            docs.push(Doc {
                class,
                // Neutral file names: the corpus's are numbers, real ones would be scans.
                name: format!("document-{:04}.txt", docs.len()),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
    }
    docs
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn shuffle(v: &mut [usize], rng: &mut XorShift) {
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
