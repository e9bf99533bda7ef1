//! The offline classifier: TF-IDF prototypes per topic (Rocchio), seeded from each topic's
//! name and description and learned from the documents the user filed by hand.
//!
//! - Every topic starts as a "seed" pseudo-document: its name (weighted up) and its
//!   description. With no labelled documents this is a zero-shot keyword matcher.
//! - Each hand-labelled document (`document_topics.source = 'user'`) adds its TF-IDF vector
//!   to the prototype of each of its topics, so a topic whose name says nothing about its
//!   content ("Project Bluebird") is learned from examples.
//! - A document is scored by cosine similarity to every prototype. The score is divided by
//!   the similarity a typical member reaches (measured on the topic's own examples, or a
//!   fixed reference for seed-only topics), so learned and seed-only topics compare fairly.
//!   Topics above [`MIN_RELATIVE_SCORE`] and close enough to the best are returned, at most
//!   [`MAX_SUGGESTIONS`], each with a confidence in `[0, 1]`; otherwise none.
//!
//! Everything is deterministic (sorted iteration, no randomness). The cost is linear in
//! the text loaded, which the caller caps (examples count and length).

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::text::term_counts;
use super::{Pick, Suggestion, TopicOption};

/// At most this many topics are suggested for one document.
pub const MAX_SUGGESTIONS: usize = 3;
/// A topic must reach this fraction of a typical member's similarity to be suggested.
pub const MIN_RELATIVE_SCORE: f64 = 0.45;
/// A second or third topic must score at least this fraction of the best one.
const RUNNER_UP_RATIO: f64 = 0.8;
/// How many times a name term counts relative to a description term in the seed.
const NAME_WEIGHT: f64 = 3.0;
/// The seed's weight in a prototype, in "examples".
const SEED_WEIGHT: f64 = 1.0;
/// Similarity a relevant document typically reaches with a seed-only prototype.
const SEED_REFERENCE: f64 = 0.09;
/// Floor of the learned reference similarity (a topic with one odd example).
const MIN_REFERENCE: f64 = 0.05;

/// One hand-labelled document: its text and the topics the user filed it under.
#[derive(Debug, Clone)]
pub struct Example {
    /// Topics (ids) the user chose.
    pub topics: Vec<Uuid>,
    /// The document's text (already capped by the caller), filename included.
    pub text: String,
}

/// A sparse vector sorted by term id (so sums run in a fixed order: deterministic).
type Vector = Vec<(u32, f64)>;

struct Prototype {
    id: Uuid,
    /// Term weights for lookup; documents are iterated in sorted order against it.
    vector: HashMap<u32, f64>,
    /// Similarity of a typical member; scores are divided by it.
    reference: f64,
}

/// A trained model for one user: build with [`BuiltinModel::train`], then
/// [`BuiltinModel::classify`] any number of documents.
pub struct BuiltinModel {
    vocabulary: HashMap<String, u32>,
    idf: Vec<f64>,
    unseen_idf: f64,
    prototypes: Vec<Prototype>,
}

impl BuiltinModel {
    /// Builds prototypes for `topics` from their names and descriptions and `examples`.
    /// Examples naming topics not in `topics` only contribute to the IDF statistics.
    pub fn train(topics: &[TopicOption], examples: &[Example]) -> BuiltinModel {
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();

        // Example term counts, interned; document frequencies.
        let mut example_counts: Vec<BTreeMap<u32, u32>> = Vec::with_capacity(examples.len());
        for ex in examples {
            let mut counts = BTreeMap::new();
            for (term, n) in term_counts(&ex.text) {
                let id = intern(term, &mut vocabulary);
                counts.insert(id, n);
            }
            for &id in counts.keys() {
                let i = id as usize;
                if df.len() <= i {
                    df.resize(i + 1, 0);
                }
                df[i] += 1;
            }
            example_counts.push(counts);
        }
        let n_docs = examples.len() as f64;
        let idf_of = |df: u32| ((1.0 + n_docs) / (1.0 + f64::from(df))).ln() + 1.0;
        let unseen_idf = idf_of(0);

        // Seeds: name terms weighted up, description terms once.
        let mut seeds: Vec<BTreeMap<u32, f64>> = Vec::with_capacity(topics.len());
        for topic in topics {
            let mut weights: BTreeMap<u32, f64> = BTreeMap::new();
            for (term, n) in term_counts(&topic.name) {
                let id = intern(term, &mut vocabulary);
                *weights.entry(id).or_insert(0.0) += NAME_WEIGHT * f64::from(n);
            }
            if let Some(desc) = &topic.description {
                for (term, n) in term_counts(desc) {
                    let id = intern(term, &mut vocabulary);
                    *weights.entry(id).or_insert(0.0) += f64::from(n);
                }
            }
            seeds.push(weights);
        }
        df.resize(vocabulary.len(), 0);
        let idf: Vec<f64> = df.iter().map(|&d| idf_of(d)).collect();

        let example_vectors: Vec<Vector> = example_counts
            .iter()
            .map(|counts| {
                normalized(
                    counts
                        .iter()
                        .map(|(&id, &n)| (id, (1.0 + f64::from(n).ln()) * idf[id as usize])),
                )
            })
            .collect();

        let mut prototypes = Vec::with_capacity(topics.len());
        for (topic, seed) in topics.iter().zip(&seeds) {
            let seed_vec = normalized(
                seed.iter()
                    .map(|(&id, &w)| (id, (1.0 + w.ln().max(0.0)) * idf[id as usize])),
            );
            let members: Vec<&Vector> = examples
                .iter()
                .zip(&example_vectors)
                .filter(|(ex, _)| ex.topics.contains(&topic.id))
                .map(|(_, v)| v)
                .collect();
            let mut sum: BTreeMap<u32, f64> = BTreeMap::new();
            for &(id, w) in &seed_vec {
                *sum.entry(id).or_insert(0.0) += SEED_WEIGHT * w;
            }
            for v in &members {
                for &(id, w) in v.iter() {
                    *sum.entry(id).or_insert(0.0) += w;
                }
            }
            let sum_norm_sq: f64 = sum.values().map(|w| w * w).sum();
            let vector: HashMap<u32, f64> =
                normalized(sum.clone().into_iter()).into_iter().collect();
            // Typical member similarity, leave-one-out: each member against the prototype
            // built without it (S − v), so a topic's own examples do not flatter it.
            let reference = if members.is_empty() {
                SEED_REFERENCE
            } else {
                let loo = members.iter().map(|v| {
                    let dot: f64 = v
                        .iter()
                        .filter_map(|(id, w)| sum.get(id).map(|x| w * x))
                        .sum();
                    let self_sq: f64 = v.iter().map(|(_, w)| w * w).sum();
                    let rest_sq = (sum_norm_sq - 2.0 * dot + self_sq).max(0.0);
                    if rest_sq > 0.0 {
                        (dot - self_sq) / rest_sq.sqrt()
                    } else {
                        0.0
                    }
                });
                (loo.sum::<f64>() / members.len() as f64).max(MIN_REFERENCE)
            };
            prototypes.push(Prototype {
                id: topic.id,
                vector,
                reference,
            });
        }

        BuiltinModel {
            vocabulary,
            idf,
            unseen_idf,
            prototypes,
        }
    }

    /// Relative score of every topic for `text` (cosine ÷ typical member similarity),
    /// in topic order. Exposed for the benchmark and tests.
    pub fn scores(&self, text: &str) -> Vec<(Uuid, f64)> {
        let doc = self.vectorize(text);
        self.prototypes
            .iter()
            .map(|p| (p.id, cosine(&doc, &p.vector) / p.reference))
            .collect()
    }

    /// The topics `text` belongs to, best first, or none.
    pub fn classify(&self, text: &str) -> Vec<Suggestion> {
        let mut scored = self.scores(text);
        // Best first; ties broken by id so the order never depends on hashing.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let Some(&(_, best)) = scored.first() else {
            return Vec::new();
        };
        if best < MIN_RELATIVE_SCORE {
            return Vec::new();
        }
        let total: f64 = scored.iter().map(|(_, s)| s.max(0.0)).sum();
        scored
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .filter(|&(_, s)| s >= MIN_RELATIVE_SCORE && s >= best * RUNNER_UP_RATIO)
            .map(|(id, s)| Suggestion {
                pick: Pick::Existing(id),
                confidence: confidence(s, total),
            })
            .collect()
    }

    fn vectorize(&self, text: &str) -> Vector {
        let counts = term_counts(text);
        normalized(counts.iter().map(|(term, &n)| {
            // Terms no topic and no example has cannot match; they become the sentinel,
            // which keeps their weight in the norm so long unrelated texts score low.
            let weight = 1.0 + f64::from(n).ln();
            match self.vocabulary.get(term) {
                Some(&id) => (id, weight * self.idf[id as usize]),
                None => (u32::MAX, weight * self.unseen_idf),
            }
        }))
    }
}

/// Confidence in `[0, 1]`: how far above the bar the topic is (saturating), times its share
/// of the total score (a document matching several topics equally is less certain).
fn confidence(score: f64, total: f64) -> f64 {
    let strength = (score / (2.0 * MIN_RELATIVE_SCORE)).min(1.0);
    let share = if total > 0.0 { score / total } else { 0.0 };
    let c = strength * (0.5 + 0.5 * share);
    (c * 1000.0).round() / 1000.0
}

/// L2-normalizes `(id, weight)` pairs; entries with the sentinel id `u32::MAX` count in
/// the norm and are then dropped (they cannot match anything).
fn normalized(items: impl Iterator<Item = (u32, f64)>) -> Vector {
    let mut v: BTreeMap<u32, f64> = BTreeMap::new();
    let mut sentinel = 0.0;
    for (id, w) in items {
        if id == u32::MAX {
            sentinel += w * w;
        } else {
            *v.entry(id).or_insert(0.0) += w;
        }
    }
    let norm = (v.values().map(|w| w * w).sum::<f64>() + sentinel).sqrt();
    let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    v.into_iter().map(|(id, w)| (id, w * scale)).collect()
}

/// The id of `term`, adding it to the vocabulary when new.
fn intern(term: String, vocabulary: &mut HashMap<String, u32>) -> u32 {
    let next = u32::try_from(vocabulary.len()).unwrap_or(u32::MAX - 1);
    *vocabulary.entry(term).or_insert(next)
}

/// Dot product of a unit document vector with a unit prototype (their cosine).
fn cosine(doc: &Vector, prototype: &HashMap<u32, f64>) -> f64 {
    doc.iter()
        .filter_map(|(id, w)| prototype.get(id).map(|x| w * x))
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn topic(name: &str, description: &str) -> TopicOption {
        TopicOption {
            id: Uuid::new_v4(),
            name: name.into(),
            description: Some(description.into()),
        }
    }

    #[test]
    fn zero_shot_picks_the_obvious_topic() {
        let topics = vec![
            topic("Taxes", "Tax returns, tax office letters, assessments"),
            topic("Health", "Doctor, hospital, medical bills, prescriptions"),
            topic("Car", "Vehicle insurance, repairs, registration"),
        ];
        let model = BuiltinModel::train(&topics, &[]);
        let got = model.classify(
            "Your tax assessment for 2023: the tax office has reviewed your income tax return \
             and the refund of 312 EUR will be paid.",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].pick, Pick::Existing(topics[0].id));
        assert!(got[0].confidence > 0.0 && got[0].confidence <= 1.0);
    }

    #[test]
    fn unrelated_text_gets_no_topic() {
        let topics = vec![
            topic("Taxes", "Tax returns, tax office letters, assessments"),
            topic("Health", "Doctor, hospital, medical bills, prescriptions"),
        ];
        let model = BuiltinModel::train(&topics, &[]);
        let got = model.classify(
            "The quick brown fox jumps over the lazy dog while the cat sleeps on the warm \
             windowsill and birds sing in the garden.",
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn deterministic() {
        let topics = vec![topic("Taxes", "tax"), topic("Tax office", "tax")];
        let model = BuiltinModel::train(&topics, &[]);
        let a = model.classify("tax tax tax office letter");
        for _ in 0..20 {
            let m = BuiltinModel::train(&topics, &[]);
            let b = m.classify("tax tax tax office letter");
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }
}
