//! The offline classifier: TF-IDF topic centroids (Rocchio) over stemmed German and English
//! words, seeded from each topic's name and description, learned from the documents the
//! user filed by hand, with a per-topic acceptance bar calibrated on those same documents.
//!
//! - Text becomes stemmed terms ([`super::text`]): Unicode words, German and English function
//!   words dropped, Snowball stems in the text's language ("Rechnung"/"Rechnungen" meet).
//! - Every topic starts as a "seed" pseudo-document: its name (weighted up) and its
//!   description. With no labelled documents this is a zero-shot keyword matcher.
//! - Each hand-labelled document (`document_topics.source = 'user'`) is a unit TF-IDF vector
//!   (sublinear term frequency; IDF over the examples and the seeds) added to the centroid of
//!   each of its topics, so a topic whose name says nothing about its content ("Project
//!   Bluebird") is learned from examples.
//! - A document is scored by cosine similarity to every centroid, divided by the similarity a
//!   typical member reaches (the leave-one-out mean over the topic's own examples, or a fixed
//!   reference for seed-only topics), so learned and seed-only topics compare fairly.
//! - "None of these": a topic is only suggested when the document is at least as similar to
//!   it as most of its own examples are (leave-one-out, [`MEMBER_QUANTILE`]) — so a document
//!   of a kind the user never filed ends `unclassified` rather than under the nearest topic.
//!   Seed-only topics use the fixed [`MIN_RELATIVE_SCORE`].
//! - At most [`MAX_SUGGESTIONS`] topics close enough to the best are returned, each with a
//!   confidence in `[0, 1]`.
//! - Doubtful topics ([`BuiltinModel::judge`]): a topic under its bar but within reach of
//!   it ([`SUGGEST_FRACTION`]) is not filed; the owner gets it as a suggestion to accept
//!   (a hand-filing: a new example) or reject.
//! - Rejections: a document the user rejected a topic for is subtracted from that topic's
//!   centroid ([`REJECTED_WEIGHT`], all of a topic's together at most [`REJECTED_SHARE`]
//!   of its seed and members), so it and documents like it score lower there.
//! - [`BuiltinModel::explain`] names the words that weighed most for a topic: the document's
//!   terms with the largest weight in that topic's centroid beyond the other topics' mean.
//!
//! Bounds: training reads at most `ai.builtin_max_examples` documents (hand-filed and
//! rejected ones together) of at most `ai.builtin_example_chars` characters (the caller
//! caps both), so time and memory are O(examples × characters + topics × distinct terms
//! of the examples) per classification,
//! whatever the vault's size (400 × 4 000 characters by default: a few MB, well under a
//! second). Nothing is cached: a hand-filing counts from the next document classified.
//! Everything is deterministic (ordered maps, sums in term order, no randomness).

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::text::{content_words, stems_of, term_counts, terms_with_words};
use super::{Pick, Suggestion, TopicOption};

/// At most this many topics are suggested for one document.
pub const MAX_SUGGESTIONS: usize = 3;
/// The margin a seed-only topic needs (relative score over the others' mean, in units of
/// [`SEED_REFERENCE`]) to be suggested. Tuned on the BBC corpus (zero-shot).
pub const MIN_RELATIVE_SCORE: f64 = 0.1;
/// A learned topic's bar is the margin this fraction of its own examples stay below
/// (leave-one-out): about this fraction of documents of a known kind end unfiled, and a
/// document of a kind never filed usually falls under every bar. Tuned on the BBC corpus
/// so that at least 90 % of the documents of known kinds are still filed.
pub const MEMBER_QUANTILE: f64 = 0.08;
/// The bar of a learned topic never drops below this margin: the best topic must at least
/// beat the mean of the others.
const MIN_LEARNED_BAR: f64 = 0.0;
/// A second or third topic must score at least this fraction of the best one.
const RUNNER_UP_RATIO: f64 = 0.8;
/// How many times a name term counts relative to a description term in the seed.
const NAME_WEIGHT: f64 = 3.0;
/// The seed's weight in a centroid, in "examples".
const SEED_WEIGHT: f64 = 1.0;
/// Similarity a relevant document typically reaches with a seed-only centroid.
const SEED_REFERENCE: f64 = 0.09;
/// Floor of the learned reference similarity (a topic with one odd example).
const MIN_REFERENCE: f64 = 0.05;
/// A word explains a topic only when it weighs this many times more in the topic's
/// centroid than in any other's.
pub const DISTINCTIVE_RATIO: f64 = 2.0;
/// How many words [`BuiltinModel::explain`] returns at most.
pub const EXPLAIN_WORDS: usize = 5;
/// A document the user rejected a topic for is subtracted from that topic's centroid
/// with this weight (in "examples": a hand-filed document adds with weight 1), so the
/// topic loses the words of the rejected document it does not share with its members,
/// and the document itself and documents like it score lower for it.
pub const REJECTED_WEIGHT: f64 = 0.5;
/// All rejections of a topic together weigh at most this fraction of what speaks for it
/// (its seed and its members), so many rejections lower a topic without erasing it.
pub const REJECTED_SHARE: f64 = 0.5;
/// A topic the document falls short of is still offered as a suggestion (not filed)
/// when its margin reaches this fraction of the topic's bar (and is above zero: it beats
/// the other topics' mean). The bar lets about [`MEMBER_QUANTILE`] of a topic's own kind
/// fall; half the bar offers most of those their topic while offering documents of a kind
/// the user never filed far less often. On the tuning corpus (BBC, `bench/classify`):
/// 0.25 / 0.5 / 0.75 offer 92 / 80 / 54 % of the unfiled documents their own topic, and
/// 67 / 41 / 17 % of a never-filed kind's documents some topic (to reject).
pub const SUGGEST_FRACTION: f64 = 0.5;

/// One hand-labelled document: its text, the topics the user filed it under and the
/// topics the user said it does not belong to.
#[derive(Debug, Clone)]
pub struct Example {
    /// Topics (ids) the user chose.
    pub topics: Vec<Uuid>,
    /// Topics (ids) the user rejected for it: it counts against each of them
    /// ([`REJECTED_WEIGHT`]).
    pub rejected: Vec<Uuid>,
    /// The document's text (already capped by the caller), filename included.
    pub text: String,
}

/// One word that weighed for a topic ([`BuiltinModel::explain`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The word as it appears in the document (lower case).
    pub word: String,
    /// Its share of the document's score for the topic beyond the other topics' mean.
    pub weight: f64,
}

/// What [`BuiltinModel::judge`] makes of one text.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// The topics to file it under, best first (empty: none of these).
    pub filed: Vec<Suggestion>,
    /// Plausible topics it is not filed under: under their bars but within reach of them
    /// ([`SUGGEST_FRACTION`]), or well above their bars yet far behind the best; best
    /// first. Offered to the owner as suggestions.
    pub doubtful: Vec<Suggestion>,
}

/// A sparse vector sorted by term id (so sums run in a fixed order: deterministic).
type Vector = Vec<(u32, f64)>;

struct Centroid {
    id: Uuid,
    /// Term weights (unit length) for lookup; documents are iterated in sorted order.
    vector: HashMap<u32, f64>,
    /// Similarity of a typical member; scores are divided by it.
    reference: f64,
    /// Margin a document needs to be filed here (see [`BuiltinModel::classify`]).
    bar: f64,
    /// Margin of a typical member (the median; seed-only: twice the bar): confidence 1.
    typical: f64,
}

/// A trained model for one user: build with [`BuiltinModel::train`], then
/// [`BuiltinModel::classify`] any number of documents.
pub struct BuiltinModel {
    vocabulary: HashMap<String, u32>,
    idf: Vec<f64>,
    unseen_idf: f64,
    centroids: Vec<Centroid>,
}

impl BuiltinModel {
    /// Builds centroids for `topics` from their names and descriptions and `examples`.
    /// Examples naming topics not in `topics` only contribute to the IDF statistics.
    pub fn train(topics: &[TopicOption], examples: &[Example]) -> BuiltinModel {
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let count_df = |ids: &mut dyn Iterator<Item = u32>, df: &mut Vec<u32>| {
            for id in ids {
                let i = id as usize;
                if df.len() <= i {
                    df.resize(i + 1, 0);
                }
                df[i] += 1;
            }
        };

        // Example term counts, interned; document frequencies. Each distinct word (per
        // language) is stemmed and interned once for all examples; counts go to a dense
        // row indexed by term id, reset after each example.
        let mut word_terms: [HashMap<String, (u32, Option<u32>)>; 3] = Default::default();
        let mut row: Vec<u32> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        let mut example_counts: Vec<Vec<(u32, u32)>> = Vec::with_capacity(examples.len());
        for ex in examples {
            let (lang, words) = content_words(&ex.text);
            let cache = &mut word_terms[lang as usize];
            for w in words {
                let ids = match cache.get(w.as_ref()) {
                    Some(&ids) => ids,
                    None => {
                        let (first, other) = stems_of(&w, lang);
                        let ids = (
                            intern(first, &mut vocabulary),
                            other.map(|o| intern(o, &mut vocabulary)),
                        );
                        cache.insert(w.into_owned(), ids);
                        ids
                    }
                };
                for id in std::iter::once(ids.0).chain(ids.1) {
                    let i = id as usize;
                    if row.len() <= i {
                        row.resize(i + 1, 0);
                    }
                    if row[i] == 0 {
                        touched.push(id);
                    }
                    row[i] += 1;
                }
            }
            touched.sort_unstable();
            let counts: Vec<(u32, u32)> = touched
                .iter()
                .map(|&id| (id, std::mem::take(&mut row[id as usize])))
                .collect();
            touched.clear();
            count_df(&mut counts.iter().map(|&(id, _)| id), &mut df);
            example_counts.push(counts);
        }

        // Seeds: name terms weighted up, description terms once; each seed is a document
        // for the IDF, so words every topic mentions weigh little.
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
            count_df(&mut weights.keys().copied(), &mut df);
            seeds.push(weights);
        }
        let n_docs = (examples.len() + topics.len()) as f64;
        let idf_of = |df: u32| ((1.0 + n_docs) / (1.0 + f64::from(df))).ln() + 1.0;
        // A term no example has weighs as one only a single example has: a document's own
        // rare words (names, numbers) then count the same whether it is an example (left
        // out in the calibration below) or a new document, so the bars hold for new ones.
        let unseen_idf = idf_of(1);
        df.resize(vocabulary.len(), 0);
        let idf: Vec<f64> = df.iter().map(|&d| idf_of(d)).collect();

        let example_vectors: Vec<Vector> = example_counts
            .iter()
            .map(|counts| {
                normalized(
                    counts
                        .iter()
                        .map(|&(id, n)| (id, (1.0 + f64::from(n).ln()) * idf[id as usize])),
                )
            })
            .collect();

        let mut centroids = Vec::with_capacity(topics.len());
        // Per topic: its members (example indices) and their leave-one-out similarities.
        let mut members_of: Vec<Vec<usize>> = Vec::with_capacity(topics.len());
        let mut loo_of: Vec<Vec<f64>> = Vec::with_capacity(topics.len());
        let mut acc = vec![0.0_f64; vocabulary.len()];
        for (topic, seed) in topics.iter().zip(&seeds) {
            let seed_vec = normalized(
                seed.iter()
                    .map(|(&id, &w)| (id, (1.0 + w.ln().max(0.0)) * idf[id as usize])),
            );
            let members: Vec<usize> = examples
                .iter()
                .enumerate()
                .filter(|(_, ex)| ex.topics.contains(&topic.id))
                .map(|(i, _)| i)
                .collect();
            let rejected: Vec<usize> = examples
                .iter()
                .enumerate()
                .filter(|(_, ex)| ex.rejected.contains(&topic.id) && !ex.topics.contains(&topic.id))
                .map(|(i, _)| i)
                .collect();
            // The sum S of seed and members, less the rejected documents, in a dense row
            // (reset below).
            let mut add = |id: u32, w: f64| {
                let i = id as usize;
                if acc[i] == 0.0 {
                    touched.push(id);
                }
                acc[i] += w;
            };
            for &(id, w) in &seed_vec {
                add(id, SEED_WEIGHT * w);
            }
            for &i in &members {
                for &(id, w) in &example_vectors[i] {
                    add(id, w);
                }
            }
            if !rejected.is_empty() {
                let speaking_for = SEED_WEIGHT + members.len() as f64;
                let weight =
                    REJECTED_WEIGHT.min(REJECTED_SHARE * speaking_for / rejected.len() as f64);
                for &i in &rejected {
                    for &(id, w) in &example_vectors[i] {
                        add(id, -weight * w);
                    }
                }
            }
            touched.sort_unstable();
            touched.dedup();
            let sum_norm_sq: f64 = touched.iter().map(|&id| acc[id as usize].powi(2)).sum();
            // Each member against the centroid built without it (S − v), so a topic's own
            // examples do not flatter it.
            let loo: Vec<f64> = members
                .iter()
                .map(|&i| {
                    let v = &example_vectors[i];
                    let dot: f64 = v.iter().map(|&(id, w)| w * acc[id as usize]).sum();
                    let self_sq: f64 = v.iter().map(|(_, w)| w * w).sum();
                    let rest_sq = (sum_norm_sq - 2.0 * dot + self_sq).max(0.0);
                    if rest_sq > 0.0 {
                        (dot - self_sq) / rest_sq.sqrt()
                    } else {
                        0.0
                    }
                })
                .collect();
            let scale = if sum_norm_sq > 0.0 {
                1.0 / sum_norm_sq.sqrt()
            } else {
                0.0
            };
            let vector: HashMap<u32, f64> = touched
                .iter()
                .map(|&id| (id, std::mem::take(&mut acc[id as usize]) * scale))
                .collect();
            touched.clear();
            centroids.push(Centroid {
                id: topic.id,
                vector,
                reference: SEED_REFERENCE,
                bar: MIN_RELATIVE_SCORE,
                typical: 2.0 * MIN_RELATIVE_SCORE,
            });
            members_of.push(members);
            loo_of.push(loo);
        }

        // Learned topics share one reference, the mean member similarity over all of them,
        // so that among them the most similar centroid wins; seed-only topics keep the
        // fixed one.
        let learned: Vec<f64> = loo_of.iter().flatten().copied().collect();
        if learned.is_empty() {
            return BuiltinModel {
                vocabulary,
                idf,
                unseen_idf,
                centroids,
            };
        }
        let reference = (learned.iter().sum::<f64>() / learned.len() as f64).max(MIN_REFERENCE);
        for (c, members) in centroids.iter_mut().zip(&members_of) {
            if !members.is_empty() {
                c.reference = reference;
            }
        }
        // Calibration on the user's own examples: the margin of each member (its
        // leave-one-out similarity minus its mean similarity to the other topics), the
        // same statistic `classify` compares with the bar.
        // Every example's relative score for every topic, one centroid at a time spread
        // into a dense scratch row (as long as the vocabulary): topics × (vocabulary +
        // example terms) array reads, examples × topics numbers kept.
        let n = centroids.len();
        let mut scores = vec![0.0_f64; examples.len() * n];
        let mut dense = vec![0.0_f64; vocabulary.len()];
        for (u, c) in centroids.iter().enumerate() {
            for (&id, &w) in &c.vector {
                dense[id as usize] = w;
            }
            for (i, v) in example_vectors.iter().enumerate() {
                let dot: f64 = v.iter().map(|&(id, w)| w * dense[id as usize]).sum();
                scores[i * n + u] = dot / c.reference;
            }
            for &id in c.vector.keys() {
                dense[id as usize] = 0.0;
            }
        }
        for t in 0..n {
            if members_of[t].is_empty() {
                continue;
            }
            let mut margins: Vec<f64> = members_of[t]
                .iter()
                .zip(&loo_of[t])
                .map(|(&i, &own)| {
                    let others = if n > 1 {
                        let row = &scores[i * n..(i + 1) * n];
                        (row.iter().sum::<f64>() - row[t]) / (n - 1) as f64
                    } else {
                        0.0
                    };
                    own / reference - others
                })
                .collect();
            margins.sort_by(f64::total_cmp);
            centroids[t].bar = quantile(&margins, MEMBER_QUANTILE).max(MIN_LEARNED_BAR);
            centroids[t].typical = quantile(&margins, 0.5);
        }
        BuiltinModel {
            vocabulary,
            idf,
            unseen_idf,
            centroids,
        }
    }

    /// Relative score of every topic for `text` (cosine ÷ typical member similarity),
    /// in topic order. Exposed for the benchmark and tests.
    pub fn scores(&self, text: &str) -> Vec<(Uuid, f64)> {
        let doc = self.vectorize(text);
        self.centroids
            .iter()
            .map(|c| (c.id, cosine(&doc, &c.vector) / c.reference))
            .collect()
    }

    /// The topics `text` belongs to, best first, or none ([`BuiltinModel::judge`]'s
    /// `filed`).
    pub fn classify(&self, text: &str) -> Vec<Suggestion> {
        self.judge(text).filed
    }

    /// What the model makes of `text`: the topics it belongs to and the ones it might.
    ///
    /// The best topic is filed when its margin — its relative score minus the mean
    /// relative score of the other topics — reaches the topic's bar; topics scoring at
    /// least [`RUNNER_UP_RATIO`] of the best come with it (at most [`MAX_SUGGESTIONS`]).
    /// Every other topic among the best [`MAX_SUGGESTIONS`] whose margin is above zero and
    /// reaches [`SUGGEST_FRACTION`] of its bar is `doubtful`: a suggestion for the owner.
    pub fn judge(&self, text: &str) -> Judgement {
        let mut scored: Vec<(Uuid, f64, &Centroid)> = self
            .scores(text)
            .into_iter()
            .zip(&self.centroids)
            .map(|((id, s), c)| (id, s, c))
            .collect();
        // Best first; ties broken by id so the order never depends on hashing.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut judgement = Judgement::default();
        let Some(&(_, best, _)) = scored.first() else {
            return judgement;
        };
        let total: f64 = scored.iter().map(|(_, s, _)| *s).sum();
        let others = scored.len().saturating_sub(1);
        let margin = |s: f64| {
            if others == 0 {
                s
            } else {
                s - (total - s) / others as f64
            }
        };
        let best_passes = margin(best) >= scored[0].2.bar;
        let positive: f64 = scored.iter().map(|(_, s, _)| s.max(0.0)).sum();
        for &(id, s, c) in scored.iter().take(MAX_SUGGESTIONS) {
            if s <= 0.0 {
                break;
            }
            let m = margin(s);
            let suggestion = Suggestion {
                pick: Pick::Existing(id),
                confidence: confidence(m, c, s / positive),
            };
            if best_passes && s >= best * RUNNER_UP_RATIO && m >= c.bar {
                judgement.filed.push(suggestion);
            } else if m > 0.0 && m >= SUGGEST_FRACTION * c.bar {
                judgement.doubtful.push(suggestion);
            }
        }
        judgement
    }

    /// The few words of `text` that weighed most for `topic` (at most [`EXPLAIN_WORDS`]),
    /// heaviest first: each term's weight in the document times its weight in the topic's
    /// centroid beyond the heaviest other topic's, counting only terms distinctive of the
    /// topic (at least [`DISTINCTIVE_RATIO`] times their weight in any other topic), so
    /// words every topic shares never show. Each word once (its stems merged); none for an
    /// unknown topic.
    pub fn explain(&self, text: &str, topic: Uuid) -> Vec<Evidence> {
        let Some(target) = self.centroids.iter().find(|c| c.id == topic) else {
            return Vec::new();
        };
        // The first surface form of each term, for display.
        let mut surface: BTreeMap<u32, String> = BTreeMap::new();
        for (term, word) in terms_with_words(text) {
            if let Some(&id) = self.vocabulary.get(&term) {
                surface.entry(id).or_insert(word);
            }
        }
        let mut by_word: BTreeMap<String, f64> = BTreeMap::new();
        for (id, w) in self.vectorize(text) {
            let own = target.vector.get(&id).copied().unwrap_or(0.0);
            let rest = self
                .centroids
                .iter()
                .filter(|c| c.id != topic)
                .map(|c| c.vector.get(&id).copied().unwrap_or(0.0))
                .fold(0.0, f64::max);
            if own <= 0.0 || own < DISTINCTIVE_RATIO * rest {
                continue;
            }
            if let Some(word) = surface.get(&id) {
                *by_word.entry(word.clone()).or_insert(0.0) += w * (own - rest) / target.reference;
            }
        }
        let mut evidence: Vec<Evidence> = by_word
            .into_iter()
            .map(|(word, weight)| Evidence {
                word,
                weight: (weight * 1000.0).round() / 1000.0,
            })
            .collect();
        evidence.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.word.cmp(&b.word))
        });
        evidence.truncate(EXPLAIN_WORDS);
        evidence
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

/// The `q` quantile of sorted `values` (linear interpolation); 0 when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = pos - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

/// Confidence in `[0, 1]`: 0.5 at the topic's bar rising to 1 at a typical member's
/// margin, times how much of the total score the topic holds (a document matching several
/// topics equally is less certain).
fn confidence(margin: f64, centroid: &Centroid, share: f64) -> f64 {
    let span = (centroid.typical - centroid.bar).max(1e-6);
    let strength = (0.5 + 0.5 * (margin - centroid.bar) / span).clamp(0.0, 1.0);
    let c = strength * (0.5 + 0.5 * share.clamp(0.0, 1.0));
    if c.is_finite() {
        (c * 1000.0).round() / 1000.0
    } else {
        0.0
    }
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

/// Dot product of a unit document vector with a unit centroid (their cosine).
fn cosine(doc: &Vector, centroid: &HashMap<u32, f64>) -> f64 {
    doc.iter()
        .filter_map(|(id, w)| centroid.get(id).map(|x| w * x))
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

    /// A small made corpus: documents of a kind share its vocabulary, every document shares
    /// filler words, German and English side by side.
    fn document(kind: &str, i: usize) -> String {
        let words: &[&str] = match kind {
            "invoice_de" => &[
                "Rechnungen",
                "Rechnung",
                "Betrag",
                "Zahlung",
                "Mehrwertsteuer",
                "Kunde",
                "fällig",
                "Überweisung",
                "Rechnungsnummer",
                "bezahlen",
            ],
            "invoice_en" => &[
                "invoice", "invoices", "amount", "payment", "VAT", "customer", "due", "transfer",
                "billing", "paid",
            ],
            "health" => &[
                "doctor",
                "Arzt",
                "hospital",
                "Krankenhaus",
                "prescription",
                "Rezept",
                "patient",
                "diagnosis",
                "Behandlung",
                "medicine",
            ],
            "car" => &[
                "vehicle",
                "Fahrzeug",
                "garage",
                "repair",
                "Reparatur",
                "tyres",
                "engine",
                "Werkstatt",
                "mileage",
                "brakes",
            ],
            _ => &[
                "football",
                "match",
                "goal",
                "Tor",
                "league",
                "Mannschaft",
                "striker",
                "stadium",
                "referee",
                "Spieler",
            ],
        };
        let filler = [
            "Dokument", "page", "Seite", "date", "Datum", "Herr", "letter", "Brief",
        ];
        // A fixed pseudo-random walk (deterministic): documents of a kind vary in which of
        // its words they use and how often, as real ones do.
        let mut seed = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ kind.len() as u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as usize) % n
        };
        let mut out = format!("scan-{kind}-{i}.pdf\n");
        for _ in 0..30 {
            let w = words[next(words.len())];
            let f = filler[next(filler.len())];
            out.push_str(&format!("{w} {f} {} ", 1000 + next(9000)));
        }
        out
    }

    fn examples(kinds: &[(&str, Uuid)], per_kind: usize) -> Vec<Example> {
        kinds
            .iter()
            .flat_map(|&(kind, id)| {
                (0..per_kind).map(move |i| Example {
                    topics: vec![id],
                    rejected: Vec::new(),
                    text: document(kind, i),
                })
            })
            .collect()
    }

    #[test]
    fn german_and_english_documents_side_by_side() {
        let topics = vec![
            topic("Rechnungen", "Rechnungen und Zahlungen"),
            topic("Health", "Doctor, hospital, prescriptions"),
            topic("Car", "Vehicle repairs and garage bills"),
        ];
        // The topic is learned from German invoices only and from English ones only.
        let ex = examples(
            &[
                ("invoice_de", topics[0].id),
                ("health", topics[1].id),
                ("car", topics[2].id),
            ],
            12,
        );
        let model = BuiltinModel::train(&topics, &ex);
        let mut filed = 0;
        for i in 100..120 {
            let text = document("invoice_de", i);
            let scores = model.scores(&text);
            assert!(scores[0].1 > scores[1].1.max(scores[2].1), "{scores:?}");
            if model.classify(&text).first().map(|s| &s.pick) == Some(&Pick::Existing(topics[0].id))
            {
                filed += 1;
            }
        }
        // A few may fall under the topic's bar (it lets about 5 % of its own examples fall).
        assert!(filed >= 16, "only {filed} of 20 German invoices filed");
        // Plurals in a new document meet the examples' words ("Rechnungen"/"Rechnung",
        // "Beträge"/"Betrag", "Zahlungen"/"Zahlung"): a short German letter scores best
        // for the topic, on those words.
        let letter = "brief.pdf\nSehr geehrter Herr Maier, anbei die offenen Rechnungen, \
                      die Beträge und die Zahlungen der letzten Monate.";
        let scores = model.scores(letter);
        assert!(
            scores[0].1 > scores[1].1 && scores[0].1 > scores[2].1,
            "{scores:?}"
        );
        let why: Vec<String> = model
            .explain(letter, topics[0].id)
            .into_iter()
            .map(|e| e.word)
            .collect();
        for w in ["rechnungen", "beträge", "zahlungen"] {
            assert!(why.contains(&w.to_owned()), "{w} not in {why:?}");
        }
        // English health documents among German ones.
        let got = model.classify(&document("health", 200));
        assert_eq!(
            got.first().map(|s| &s.pick),
            Some(&Pick::Existing(topics[1].id))
        );
    }

    #[test]
    fn documents_of_a_kind_never_filed_end_unclassified() {
        let topics = vec![
            topic("Invoices", "Bills to pay"),
            topic("Health", "Doctor and hospital"),
            topic("Car", "The car"),
        ];
        let ex = examples(
            &[
                ("invoice_en", topics[0].id),
                ("health", topics[1].id),
                ("car", topics[2].id),
            ],
            20,
        );
        let model = BuiltinModel::train(&topics, &ex);
        // The bar: at least 80 % of a kind never filed end unclassified while the
        // others are still filed (the bars let about MEMBER_QUANTILE of them fall).
        let unfiled = (0..50)
            .filter(|&i| model.classify(&document("sport", 300 + i)).is_empty())
            .count();
        assert!(
            unfiled >= 45,
            "only {unfiled} of 50 football documents unclassified"
        );
        for (kind, topic) in [
            ("invoice_en", &topics[0]),
            ("health", &topics[1]),
            ("car", &topics[2]),
        ] {
            let filed = (0..50)
                .filter(|&i| {
                    let got = model.classify(&document(kind, 400 + i));
                    got.first().map(|s| &s.pick) == Some(&Pick::Existing(topic.id))
                })
                .count();
            assert!(
                filed >= 40,
                "only {filed} of 50 {kind} documents filed right"
            );
        }
    }

    #[test]
    fn explain_names_the_discriminative_words() {
        let topics = vec![topic("Rechnungen", "Rechnungen"), topic("Car", "Vehicle")];
        let ex = examples(&[("invoice_de", topics[0].id), ("car", topics[1].id)], 10);
        let model = BuiltinModel::train(&topics, &ex);
        let text = "Rechnungen Werkstatt Rechnung Betrag Dokument Seite Datum Brief";
        let why = model.explain(text, topics[0].id);
        assert!(!why.is_empty() && why.len() <= EXPLAIN_WORDS, "{why:?}");
        let words: Vec<&str> = why.iter().map(|e| e.word.as_str()).collect();
        assert!(
            words.contains(&"rechnungen") || words.contains(&"rechnung"),
            "{words:?}"
        );
        assert!(words.contains(&"betrag"), "{words:?}");
        // Filler every topic shares and the other topic's word never speak for it.
        for w in ["dokument", "seite", "datum", "brief", "werkstatt"] {
            assert!(!words.contains(&w), "{w} in {words:?}");
        }
        assert!(why.windows(2).all(|p| p[0].weight >= p[1].weight));
        let why = model.explain(text, topics[1].id);
        assert_eq!(
            why.first().map(|e| e.word.as_str()),
            Some("werkstatt"),
            "{why:?}"
        );
        assert!(model.explain(text, Uuid::new_v4()).is_empty());
    }

    fn filed_under(model: &BuiltinModel, text: &str, topic: Uuid) -> bool {
        model.classify(text).first().map(|s| &s.pick) == Some(&Pick::Existing(topic))
    }

    fn doubts(judgement: &Judgement, topic: Uuid) -> bool {
        judgement
            .doubtful
            .iter()
            .any(|s| s.pick == Pick::Existing(topic))
    }

    #[test]
    fn documents_under_the_bar_of_their_kind_become_suggestions() {
        let topics = vec![
            topic("Invoices", "Bills to pay"),
            topic("Health", "Doctor and hospital"),
            topic("Car", "The car"),
        ];
        let ex = examples(
            &[
                ("invoice_en", topics[0].id),
                ("health", topics[1].id),
                ("car", topics[2].id),
            ],
            20,
        );
        let model = BuiltinModel::train(&topics, &ex);
        let (mut unfiled, mut offered, mut offered_wrong) = (0, 0, 0);
        for (kind, topic) in [
            ("invoice_en", &topics[0]),
            ("health", &topics[1]),
            ("car", &topics[2]),
        ] {
            for i in 0..100 {
                let text = document(kind, 500 + i);
                let j = model.judge(&text);
                // `classify` is `judge`'s filed topics; a topic is never both.
                assert_eq!(
                    format!("{:?}", j.filed),
                    format!("{:?}", model.classify(&text))
                );
                assert!(
                    j.doubtful
                        .iter()
                        .all(|d| !j.filed.iter().any(|f| f.pick == d.pick))
                );
                assert!(j.filed.len() + j.doubtful.len() <= MAX_SUGGESTIONS);
                if j.filed.is_empty() {
                    unfiled += 1;
                    if doubts(&j, topic.id) {
                        offered += 1;
                    }
                }
                offered_wrong += j
                    .doubtful
                    .iter()
                    .filter(|d| d.pick != Pick::Existing(topic.id))
                    .count();
                for d in &j.doubtful {
                    assert!(d.confidence > 0.0 && d.confidence < 1.0, "{d:?}");
                }
            }
        }
        // The bars leave a few documents of known kinds unfiled; most of those get their
        // topic as a suggestion, and wrong topics are rarely offered.
        assert!(
            unfiled > 0,
            "the bars left nothing unfiled: nothing was tried"
        );
        assert!(
            offered * 10 >= unfiled * 8,
            "only {offered} of {unfiled} unfiled offered their topic"
        );
        assert!(
            offered_wrong <= 5,
            "{offered_wrong} wrong suggestions in 300 documents"
        );

        // Documents of a kind never filed are mostly offered nothing.
        let offered_football = (0..100)
            .filter(|&i| {
                let j = model.judge(&document("sport", 600 + i));
                j.filed.is_empty() && !j.doubtful.is_empty()
            })
            .count();
        assert!(
            offered_football <= 10,
            "{offered_football} of 100 football documents offered a topic"
        );
    }

    #[test]
    fn a_rejection_lowers_the_topic_for_the_document_and_documents_like_it() {
        let topics = vec![
            topic("Invoices", "Bills to pay"),
            topic("Health", "Doctor and hospital"),
            topic("Car", "The car"),
        ];
        let mut ex = examples(
            &[
                ("invoice_en", topics[0].id),
                ("health", topics[1].id),
                ("car", topics[2].id),
            ],
            10,
        );
        let before = BuiltinModel::train(&topics, &ex);
        // A garage bill the classifier took for an invoice; the user says it is not one.
        let garage_bill = |i: usize| {
            format!(
                "garage-bill-{i}.pdf\ninvoice amount due payment garage repair brakes engine \
                 Werkstatt tyres mileage invoice amount {i}"
            )
        };
        let score = |m: &BuiltinModel, text: &str, t: usize| m.scores(text)[t].1;
        assert!(
            score(&before, &garage_bill(0), 0) > 0.0,
            "the bill speaks for invoices before"
        );
        ex.push(Example {
            topics: Vec::new(),
            rejected: vec![topics[0].id],
            text: garage_bill(0),
        });
        let after = BuiltinModel::train(&topics, &ex);
        for i in 0..5 {
            let text = garage_bill(i);
            assert!(
                score(&after, &text, 0) < score(&before, &text, 0),
                "bill {i}: {} → {}",
                score(&before, &text, 0),
                score(&after, &text, 0)
            );
        }
        assert!(!filed_under(&after, &garage_bill(0), topics[0].id));
        // True invoices keep their topic.
        let filed = (0..50)
            .filter(|&i| filed_under(&after, &document("invoice_en", 700 + i), topics[0].id))
            .count();
        assert!(filed >= 40, "only {filed} of 50 invoices still filed");
        // Rejecting a topic for a document that is also an example of it does nothing.
        let mut contradictory = ex.clone();
        contradictory[0].rejected.push(topics[0].id);
        let same = BuiltinModel::train(&topics, &contradictory);
        let text = document("invoice_en", 900);
        assert_eq!(
            format!("{:?}", same.scores(&text)),
            format!("{:?}", after.scores(&text))
        );
    }

    #[test]
    fn many_rejections_lower_a_topic_without_erasing_it() {
        let topics = vec![
            topic("Invoices", "Invoice amount payment due"),
            topic("Health", "Doctor and hospital"),
        ];
        let mut ex: Vec<Example> = (0..200)
            .map(|i| Example {
                topics: Vec::new(),
                rejected: vec![topics[0].id],
                text: document("car", i),
            })
            .collect();
        ex.extend(examples(&[("health", topics[1].id)], 5));
        let model = BuiltinModel::train(&topics, &ex);
        let text = "invoice.pdf\nInvoice: the amount of the payment is due on receipt.";
        assert!(
            filed_under(&model, text, topics[0].id),
            "{:?}",
            model.scores(text)
        );
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
