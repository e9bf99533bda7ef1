//! One batch of a re-file: which documents, what the builtin model says of them, and the
//! set-based write that files them.
//!
//! - **Candidates** ([`candidates`]): the owner's live (not trashed) documents that were
//!   processed (`classified` or `unclassified`, not parked waiting for OCR), have a text,
//!   and carry no topic set by hand. A document in the pipeline (`queued`, `processing`)
//!   is not one: the run never fights a worker's claim.
//! - **Read** ([`next_page`]): the next [`Candidate`]s in id order after a keyset
//!   position, with the prefix of their text the builtin classifier reads, one query.
//! - **Decide** ([`decide`]): pure CPU work over a trained [`Model`], the same guards and
//!   answers as `classify::classify_document` for a `builtin` account.
//! - **Write** ([`apply`]): in the caller's transaction, a few statements per batch:
//!   the documents' fresh status and `ai` links, then one conditional `UPDATE` per
//!   outcome that re-checks that each document is still a candidate (so a document
//!   filed by hand, trashed or re-queued since it was read is left alone), then the
//!   changed links (one `DELETE`, multi-row `INSERT`s).

use std::collections::{BTreeSet, HashMap, HashSet};

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::classify::{self, Builtin, Outcome, Pick, TopicOption};
use crate::documents::lifecycle;
use crate::entities::{
    DocumentStatus, TopicSource, document_topics, documents, topic_suggestions, topics,
};
use crate::settings::AiSettings;

/// The statuses a candidate is in: processed, and not in the pipeline.
const PROCESSED: [DocumentStatus; 2] = [DocumentStatus::Classified, DocumentStatus::Unclassified];

/// Ids per `IN` list.
const IDS_PER_STATEMENT: usize = 500;

/// The documents of `owner` a re-file looks at (over the table `documents`, unaliased):
/// live, processed, with a text, not parked, and without a topic set by hand.
pub fn candidates(owner: Uuid) -> Condition {
    Condition::all()
        .add(documents::Column::UserId.eq(owner))
        .add(documents::Column::TrashedAt.is_null())
        .add(documents::Column::Status.is_in(PROCESSED))
        .add(documents::Column::StatusReason.is_null())
        .add(Expr::cust(
            "EXISTS (SELECT 1 FROM document_texts t WHERE t.document_id = documents.id)",
        ))
        .add(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM document_topics l \
             WHERE l.document_id = documents.id AND l.source = 'user')",
        ))
}

/// How many documents of `owner` a re-file would look at now.
pub async fn count_candidates(db: &impl ConnectionTrait, owner: Uuid) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    documents::Entity::find()
        .filter(candidates(owner))
        .count(db)
        .await
}

/// One document to re-file, with the prefix of its text the builtin classifier reads.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Candidate {
    /// The document.
    pub id: Uuid,
    /// Its file name (the classifier reads it before the text).
    pub filename: String,
    /// The first `classify::builtin_text_chars` characters of its text.
    pub body: String,
}

/// Up to `limit` candidates of `owner` after `after` (id order), with the first `chars`
/// characters of each text: one query, served by `idx_documents_user_id_id`.
pub async fn next_page(
    db: &impl ConnectionTrait,
    owner: Uuid,
    after: Option<Uuid>,
    limit: u64,
    chars: usize,
) -> Result<Vec<Candidate>, DbErr> {
    let mut query = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .column(documents::Column::Filename)
        .column_as(
            Expr::cust(format!(
                "(SELECT SUBSTR(t.body, 1, {}) FROM document_texts t \
                 WHERE t.document_id = documents.id)",
                chars.max(1)
            )),
            "body",
        )
        .filter(candidates(owner));
    if let Some(after) = after {
        query = query.filter(documents::Column::Id.gt(after));
    }
    query
        .order_by_asc(documents::Column::Id)
        .limit(limit)
        .into_model::<Candidate>()
        .all(db)
        .await
}

/// The builtin classifier of one account, trained once for many documents: its topics
/// (own and system) and a model trained on them and on the hand-filed examples (`None`
/// when the account has no topic at all).
pub struct Model {
    builtin: Option<Builtin>,
    min_text_chars: usize,
}

impl Model {
    /// Trains on `topics` and `examples` (CPU work: call it on the re-file's thread).
    pub fn train(
        ai: &AiSettings,
        topics: &[TopicOption],
        examples: &[classify::builtin::Example],
    ) -> Self {
        Self {
            builtin: (!topics.is_empty()).then(|| Builtin::new(topics, examples)),
            min_text_chars: ai.min_text_chars,
        }
    }
}

/// What the classifier decided for one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The document.
    pub id: Uuid,
    /// Topics to file it under (`ai` links), best first, with their confidence.
    pub topics: Vec<(Uuid, f64)>,
    /// What `documents.classified_by` records (`Outcome::classified_by`).
    pub classified_by: serde_json::Value,
}

/// Classifies `page` with `model` (CPU work: call it on the re-file's thread): for each
/// document what `classify::classify_document` answers for a `builtin` account, with the
/// same guards (too little text, no topic) and the same record.
pub fn decide(model: &Model, page: &[Candidate]) -> Vec<Decision> {
    page.iter()
        .map(|doc| {
            let mut outcome = Outcome {
                suggestions: Vec::new(),
                provider: "builtin".into(),
                model: classify::BUILTIN_MODEL.into(),
                prompt_version: classify::BUILTIN_VERSION.into(),
                reason: None,
                doubtful: Vec::new(),
                evidence: Default::default(),
            };
            // The body is the prefix the classifier reads; as the pipeline counts the
            // whole text, a text whose first characters hold almost no letters or digits
            // is only called too short when that prefix is all there is.
            if let Some(reason) = classify::too_short(model.min_text_chars, &doc.body) {
                outcome.reason = Some(reason);
            } else if let Some(builtin) = &model.builtin {
                outcome.suggestions = builtin.suggest_text(&doc.filename, &doc.body);
            } else {
                outcome.reason = Some(classify::NO_TOPICS_REASON.into());
            }
            let mut topics: Vec<(Uuid, f64)> = Vec::new();
            for s in &outcome.suggestions {
                if let Pick::Existing(id) = s.pick
                    && !topics.iter().any(|(t, _)| *t == id)
                {
                    topics.push((id, s.confidence.clamp(0.0, 1.0)));
                }
            }
            Decision {
                id: doc.id,
                topics,
                classified_by: outcome.classified_by(),
            }
        })
        .collect()
}

/// The `(document, topic)` pairs of `owner`'s `documents` that must never be filed
/// again: the topics the owner rejected for a document
/// (`classify::feedback::rejected_pairs`, the exclusion every filing path applies).
/// [`apply`] takes them as a parameter; this is where the runner reads them.
pub async fn rejected_pairs(
    db: &impl ConnectionTrait,
    owner: Uuid,
    documents: &[Uuid],
) -> Result<HashSet<(Uuid, Uuid)>, DbErr> {
    // Rejections are the owner's own: `documents` are the owner's (read by `next_page`).
    let _ = owner;
    Ok(classify::feedback::rejected_pairs(db, documents)
        .await?
        .into_iter()
        .flat_map(|(doc, topics)| topics.into_iter().map(move |t| (doc, t)))
        .collect())
}

/// What [`apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Documents written (status, record or links), in id order.
    pub written: Vec<Uuid>,
    /// Those whose set of topics changed, in id order.
    pub changed: Vec<Uuid>,
}

/// A document's state read inside the write transaction.
#[derive(Debug, Clone, FromQueryResult)]
struct Current {
    id: Uuid,
    status: DocumentStatus,
    classified_by: Option<serde_json::Value>,
}

/// Files `owner`'s documents as `decisions` say, in the caller's (write) transaction,
/// leaving out the topics of `exclude` (`(document, topic)` pairs never to file again,
/// [`rejected_pairs`]) and topics that are no longer the owner's or a system topic.
///
/// A document whose topics, confidences, status and record would not change is not
/// written. The others are written by one conditional `UPDATE … RETURNING id` per
/// outcome, each re-checking that the document is still a candidate ([`candidates`]: not
/// filed by hand, trashed, re-queued or claimed since it was read); only the documents it
/// returned get their `ai` links replaced (the `user` links are never touched). The
/// status follows the topics: `classified` with at least one, else `unclassified`.
pub async fn apply(
    db: &impl ConnectionTrait,
    owner: Uuid,
    decisions: &[Decision],
    exclude: &HashSet<(Uuid, Uuid)>,
) -> Result<Applied, DbErr> {
    if decisions.is_empty() {
        return Ok(Applied::default());
    }
    let ids: Vec<Uuid> = decisions.iter().map(|d| d.id).collect();
    let usable = usable_topics(db, owner, decisions).await?;
    let mut current: HashMap<Uuid, Current> = HashMap::with_capacity(ids.len());
    let mut links: HashMap<Uuid, Vec<(Uuid, Option<f64>)>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let rows: Vec<Current> = documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .column(documents::Column::Status)
            .column(documents::Column::ClassifiedBy)
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .filter(documents::Column::UserId.eq(owner))
            .into_model::<Current>()
            .all(db)
            .await?;
        current.extend(rows.into_iter().map(|r| (r.id, r)));
        let rows: Vec<(Uuid, Uuid, Option<f64>)> = document_topics::Entity::find()
            .select_only()
            .column(document_topics::Column::DocumentId)
            .column(document_topics::Column::TopicId)
            .column(document_topics::Column::Confidence)
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .filter(document_topics::Column::Source.eq(TopicSource::Ai))
            .into_tuple()
            .all(db)
            .await?;
        for (doc, topic, confidence) in rows {
            links.entry(doc).or_default().push((topic, confidence));
        }
    }

    // What each document becomes; grouped by the statement that writes it.
    let mut groups: HashMap<(DocumentStatus, String), Vec<Uuid>> = HashMap::new();
    let mut records: HashMap<String, &serde_json::Value> = HashMap::new();
    let mut new_links: HashMap<Uuid, Vec<(Uuid, f64)>> = HashMap::new();
    let mut topics_changed: HashSet<Uuid> = HashSet::new();
    for d in decisions {
        let Some(now) = current.get(&d.id) else {
            continue;
        };
        if !PROCESSED.contains(&now.status) {
            continue;
        }
        let topics: Vec<(Uuid, f64)> = d
            .topics
            .iter()
            .filter(|(t, _)| usable.contains(t) && !exclude.contains(&(d.id, *t)))
            .copied()
            .collect();
        let old = links.get(&d.id).map(Vec::as_slice).unwrap_or_default();
        let old_set: BTreeSet<Uuid> = old.iter().map(|(t, _)| *t).collect();
        let new_set: BTreeSet<Uuid> = topics.iter().map(|(t, _)| *t).collect();
        let same_links = old_set == new_set
            && topics.iter().all(|(t, c)| {
                old.iter()
                    .any(|(o, oc)| o == t && oc.is_some_and(|oc| (oc - c).abs() < 1e-9))
            });
        let status = if topics.is_empty() {
            DocumentStatus::Unclassified
        } else {
            DocumentStatus::Classified
        };
        if same_links
            && now.status == status
            && now.classified_by.as_ref() == Some(&d.classified_by)
        {
            continue;
        }
        let record = d.classified_by.to_string();
        records.entry(record.clone()).or_insert(&d.classified_by);
        groups.entry((status, record)).or_default().push(d.id);
        if !same_links {
            new_links.insert(d.id, topics);
        }
        if old_set != new_set {
            topics_changed.insert(d.id);
        }
    }

    let now = crate::time::now();
    let mut written: Vec<Uuid> = Vec::new();
    for ((status, record), ids) in groups {
        let classified_by = records.get(&record).map(|v| (*v).clone());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let statement = documents::Entity::update_many()
                .col_expr(documents::Column::Status, Expr::value(status))
                .col_expr(
                    documents::Column::ClassifiedBy,
                    Expr::value(classified_by.clone()),
                )
                .col_expr(
                    documents::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(documents::Column::UpdatedAt, Expr::value(now))
                .filter(documents::Column::Id.is_in(chunk.to_vec()))
                .filter(candidates(owner));
            written.extend(lifecycle::updated_ids(db, statement).await?);
        }
    }
    written.sort_unstable();

    let relink: Vec<Uuid> = written
        .iter()
        .copied()
        .filter(|id| new_links.contains_key(id))
        .collect();
    for chunk in relink.chunks(IDS_PER_STATEMENT) {
        document_topics::Entity::delete_many()
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .filter(document_topics::Column::Source.eq(TopicSource::Ai))
            .exec(db)
            .await?;
    }
    let rows: Vec<document_topics::ActiveModel> = relink
        .iter()
        .flat_map(|id| {
            new_links
                .get(id)
                .into_iter()
                .flatten()
                .map(move |(topic, confidence)| document_topics::ActiveModel {
                    document_id: Set(*id),
                    topic_id: Set(*topic),
                    source: Set(TopicSource::Ai),
                    confidence: Set(Some(*confidence)),
                    created_at: Set(now),
                })
        })
        .collect();
    for chunk in rows.chunks(IDS_PER_STATEMENT) {
        document_topics::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    document_topics::Column::DocumentId,
                    document_topics::Column::TopicId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    // A topic a document is filed under is never also suggested for it.
    for chunk in relink.chunks(IDS_PER_STATEMENT) {
        topic_suggestions::Entity::delete_many()
            .filter(topic_suggestions::Column::DocumentId.is_in(chunk.to_vec()))
            .filter(Expr::cust(
                "EXISTS (SELECT 1 FROM document_topics l \
                 WHERE l.document_id = topic_suggestions.document_id \
                 AND l.topic_id = topic_suggestions.topic_id)",
            ))
            .exec(db)
            .await?;
    }
    let changed = written
        .iter()
        .copied()
        .filter(|id| topics_changed.contains(id))
        .collect();
    Ok(Applied { written, changed })
}

/// Those of the topics `decisions` name that are still the owner's or system topics (a
/// topic deleted since the model was trained is dropped).
async fn usable_topics(
    db: &impl ConnectionTrait,
    owner: Uuid,
    decisions: &[Decision],
) -> Result<HashSet<Uuid>, DbErr> {
    let named: BTreeSet<Uuid> = decisions
        .iter()
        .flat_map(|d| d.topics.iter().map(|(t, _)| *t))
        .collect();
    if named.is_empty() {
        return Ok(HashSet::new());
    }
    let named: Vec<Uuid> = named.into_iter().collect();
    let mut usable = HashSet::with_capacity(named.len());
    for chunk in named.chunks(IDS_PER_STATEMENT) {
        let rows: Vec<Uuid> = topics::Entity::find()
            .select_only()
            .column(topics::Column::Id)
            .filter(topics::Column::Id.is_in(chunk.to_vec()))
            .filter(
                Condition::any()
                    .add(topics::Column::UserId.eq(owner))
                    .add(topics::Column::UserId.is_null()),
            )
            .into_tuple()
            .all(db)
            .await?;
        usable.extend(rows);
    }
    Ok(usable)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ai() -> AiSettings {
        crate::settings::Settings::load(None, &Default::default())
            .unwrap()
            .ai
    }

    fn topic(n: u128, name: &str, description: &str) -> TopicOption {
        TopicOption {
            id: Uuid::from_u128(n),
            name: name.into(),
            description: Some(description.into()),
        }
    }

    fn candidate(n: u128, filename: &str, body: &str) -> Candidate {
        Candidate {
            id: Uuid::from_u128(n),
            filename: filename.into(),
            body: body.into(),
        }
    }

    #[test]
    fn decide_answers_as_the_pipeline_does_for_a_builtin_account() {
        let ai = ai();
        let topics = vec![
            topic(1, "Taxes", "Tax returns, tax office letters, assessments"),
            topic(
                2,
                "Health",
                "Doctors, hospitals, medical bills, prescriptions",
            ),
        ];
        let model = Model::train(&ai, &topics, &[]);
        let tax = "Notice of assessment for income tax 2025. The tax office has reviewed \
                   your tax return; the tax refund will be transferred to your account.";
        let page = vec![
            candidate(10, "scan.pdf", tax),
            candidate(11, "short.txt", "a b c"),
        ];
        let got = decide(&model, &page);
        let builtin = Builtin::new(&topics, &[]);
        let expected: Vec<Uuid> = builtin
            .suggest_text("scan.pdf", tax)
            .iter()
            .filter_map(|s| match s.pick {
                Pick::Existing(id) => Some(id),
                Pick::New(_) => None,
            })
            .collect();
        assert_eq!(
            got[0].topics.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(expected.first(), Some(&Uuid::from_u128(1)));
        assert_eq!(got[0].classified_by["provider"], "builtin");
        assert_eq!(
            got[0].classified_by["prompt_version"],
            classify::BUILTIN_VERSION
        );
        assert!(got[0].classified_by.get("reason").is_none());
        assert!(got[1].topics.is_empty());
        assert_eq!(
            got[1].classified_by["reason"],
            classify::too_short(ai.min_text_chars, "a b c").unwrap()
        );

        let none = decide(&Model::train(&ai, &[], &[]), &page[..1]);
        assert!(none[0].topics.is_empty());
        assert_eq!(none[0].classified_by["reason"], classify::NO_TOPICS_REASON);
    }
}
