//! Runs the builtin classifier over a labelled corpus on given splits, exactly as the app
//! drives it, and writes its answers as JSON (scored by `bench/classify/bench.py`, which
//! scores the baselines on the same splits).
//!
//!   cargo run --example classify_bench -- CORPUS_DIR SPLITS_JSON OUT_JSON
//!
//! CORPUS_DIR holds `topics.tsv` (class directory, topic name, description) and one
//! directory per class with one text file per document. SPLITS_JSON is
//! `{"draws": [{"train": [path, ...]}], "held_out": [{"missing": class, "train": [...]}]}`
//! with paths relative to CORPUS_DIR. For every draw the model is trained on the `train`
//! documents as hand-filed examples (the topic of their class) and asked about every other
//! document; for every held-out case the class `missing` has no topic at all. Zero-shot
//! (names and descriptions only) is asked about every document.
//!
//! The text is what `classify_document` gives the builtin classifier: a neutral file name,
//! a newline, the first `ai.builtin_example_chars` (4 000) characters; examples are built
//! the way `load_examples` builds them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use docuvault::classify::builtin::{BuiltinModel, Example};
use docuvault::classify::{Pick, TopicOption, bounded};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// The first characters of each document the classifier reads (`ai.builtin_example_chars`).
const CHARS: usize = 4000;

#[derive(Deserialize)]
struct Splits {
    draws: Vec<Draw>,
    held_out: Vec<HeldOut>,
}

#[derive(Deserialize)]
struct Draw {
    train: Vec<String>,
}

#[derive(Deserialize)]
struct HeldOut {
    missing: String,
    train: Vec<String>,
}

struct Doc {
    class: usize,
    path: String,
    text: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: classify_bench CORPUS_DIR SPLITS_JSON OUT_JSON");
        std::process::exit(1);
    }
    let dir = PathBuf::from(&args[1]);
    let splits: Splits =
        serde_json::from_slice(&std::fs::read(&args[2]).expect("splits file")).expect("splits");
    let (classes, topics) = load_topics(&dir);
    let docs = load(&dir, &classes);
    let by_path: BTreeMap<&str, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.path.as_str(), i))
        .collect();
    let examples_of = |paths: &[String]| -> (Vec<bool>, Vec<Example>) {
        let mut in_train = vec![false; docs.len()];
        let examples = paths
            .iter()
            .map(|p| {
                let i = *by_path
                    .get(p.as_str())
                    .unwrap_or_else(|| panic!("unknown {p}"));
                in_train[i] = true;
                Example {
                    topics: vec![topics[docs[i].class].id],
                    rejected: Vec::new(),
                    text: text_of(i, &docs[i]),
                }
            })
            .collect();
        (in_train, examples)
    };

    let mut report = serde_json::Map::new();
    // Zero-shot: every document.
    let model = BuiltinModel::train(&topics, &[]);
    let t = Instant::now();
    let zero = answers(&model, &docs, &[], &classes, &topics);
    let secs = t.elapsed().as_secs_f64();
    report.insert("zero_shot".into(), zero);
    report.insert(
        "zero_shot_docs_per_sec".into(),
        json!(docs.len() as f64 / secs),
    );

    let mut draws = Vec::new();
    let mut draws_best = Vec::new();
    let mut draws_offered = Vec::new();
    let mut train_ms = Vec::new();
    for draw in &splits.draws {
        let (in_train, examples) = examples_of(&draw.train);
        let t = Instant::now();
        let model = BuiltinModel::train(&topics, &examples);
        train_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        draws.push(answers(&model, &docs, &in_train, &classes, &topics));
        draws_best.push(best_topics(&model, &docs, &in_train, &classes, &topics));
        draws_offered.push(offered(&model, &docs, &in_train, &classes, &topics));
    }
    report.insert("draws".into(), Value::Array(draws));
    report.insert("draws_best".into(), Value::Array(draws_best));
    report.insert("draws_offered".into(), Value::Array(draws_offered));
    report.insert("train_ms".into(), json!(train_ms));

    let mut held = Vec::new();
    let mut held_offered = Vec::new();
    for case in &splits.held_out {
        let missing = classes
            .iter()
            .position(|c| *c == case.missing)
            .expect("missing class");
        let kept: Vec<TopicOption> = topics
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, t)| t.clone())
            .collect();
        let (in_train, examples) = examples_of(&case.train);
        let model = BuiltinModel::train(&kept, &examples);
        held.push(answers(&model, &docs, &in_train, &classes, &topics));
        held_offered.push(offered(&model, &docs, &in_train, &classes, &topics));
    }
    report.insert("held_out".into(), Value::Array(held));
    report.insert("held_out_offered".into(), Value::Array(held_offered));
    std::fs::write(
        &args[3],
        serde_json::to_vec(&Value::Object(report)).expect("json"),
    )
    .expect("write report");
}

/// `{path: class answered or null}` for every document not in training.
fn answers(
    model: &BuiltinModel,
    docs: &[Doc],
    in_train: &[bool],
    classes: &[String],
    topics: &[TopicOption],
) -> Value {
    let mut out = serde_json::Map::new();
    for (i, d) in docs.iter().enumerate() {
        if in_train.get(i).copied().unwrap_or(false) {
            continue;
        }
        let answer = match model.classify(&text_of(i, d)).first().map(|s| &s.pick) {
            Some(Pick::Existing(id)) => topics
                .iter()
                .position(|t| t.id == *id)
                .map(|k| json!(classes[k])),
            _ => None,
        };
        out.insert(d.path.clone(), answer.unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// `{path: class}` of the best-scoring topic for every document not in training, whether
/// or not it clears its bar (how much the "none of these" decision costs).
fn best_topics(
    model: &BuiltinModel,
    docs: &[Doc],
    in_train: &[bool],
    classes: &[String],
    topics: &[TopicOption],
) -> Value {
    let mut out = serde_json::Map::new();
    for (i, d) in docs.iter().enumerate() {
        if in_train.get(i).copied().unwrap_or(false) {
            continue;
        }
        let best = model
            .scores(&text_of(i, d))
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .and_then(|(id, _)| topics.iter().position(|t| t.id == id))
            .map(|k| json!(classes[k]));
        out.insert(d.path.clone(), best.unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// `{path: [class, …]}` of the topics offered as suggestions (`BuiltinModel::judge`'s
/// doubtful ones) for every document not in training that is filed under none.
fn offered(
    model: &BuiltinModel,
    docs: &[Doc],
    in_train: &[bool],
    classes: &[String],
    topics: &[TopicOption],
) -> Value {
    let mut out = serde_json::Map::new();
    for (i, d) in docs.iter().enumerate() {
        if in_train.get(i).copied().unwrap_or(false) {
            continue;
        }
        let judgement = model.judge(&text_of(i, d));
        if !judgement.filed.is_empty() {
            continue;
        }
        let offered: Vec<Value> = judgement
            .doubtful
            .iter()
            .filter_map(|s| match &s.pick {
                Pick::Existing(id) => topics.iter().position(|t| t.id == *id),
                Pick::New(_) => None,
            })
            .map(|k| json!(classes[k]))
            .collect();
        out.insert(d.path.clone(), Value::Array(offered));
    }
    Value::Object(out)
}

/// What `classify_document` gives the builtin classifier: file name, newline, capped text.
/// File names are neutral (real ones would be scans; the corpus's carry no signal).
fn text_of(i: usize, d: &Doc) -> String {
    format!("document-{i:04}.txt\n{}", bounded(&d.text, CHARS))
}

fn load_topics(dir: &Path) -> (Vec<String>, Vec<TopicOption>) {
    let tsv = std::fs::read_to_string(dir.join("topics.tsv")).expect("topics.tsv");
    let mut classes = Vec::new();
    let mut topics = Vec::new();
    for (i, line) in tsv.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "topics.tsv: class, name, description");
        classes.push(cols[0].to_owned());
        topics.push(TopicOption {
            id: Uuid::from_u128(i as u128 + 1),
            name: cols[1].to_owned(),
            description: Some(cols[2].to_owned()),
        });
    }
    (classes, topics)
}

fn load(dir: &Path, classes: &[String]) -> Vec<Doc> {
    let mut docs = Vec::new();
    for (class, name) in classes.iter().enumerate() {
        let mut files: Vec<String> = std::fs::read_dir(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(dir.join(name).join(&f)).unwrap();
            docs.push(Doc {
                class,
                path: format!("{name}/{f}"),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
    }
    docs
}
