//! Why a topic, and the owner's answer (issue 18, "why this topic").
//!
//! - **Filing** ([`apply_outcome`]): the one function that writes a classification's
//!   topics onto a document: the previous automatic links go, the chosen topics are
//!   linked (`source = ai`), with the words that weighed most for each
//!   (`topic_evidence`, builtin only), and the doubtful ones replace the document's
//!   pending suggestions (`topic_suggestions`). Whatever the owner rejected for the
//!   document ([`rejected_pairs`]) is neither filed nor suggested: every path that
//!   applies an outcome (processing, re-classify, bulk re-classify, a re-file of the whole
//!   vault) goes through it or through [`rejected_pairs`].
//! - **Answers** ([`accept`], [`reject`]): accepting a suggestion or an automatic topic
//!   makes it the owner's (`source = user`: a training example from the next document
//!   on); rejecting one removes it and records a `topic_rejections` row, which the builtin
//!   classifier learns from (the document counts against the topic, see
//!   `builtin::REJECTED_WEIGHT`). Taking an automatic topic off by hand (`PATCH`, bulk
//!   remove) is a rejection too ([`record_rejections`]); filing by hand lifts one
//!   ([`record_filed_by_hand`]).
//! - **Reading** ([`evidence_of`], [`suggestions_of`]): what the document view shows.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::sea_query::{LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::builtin::Evidence;
use super::{Outcome, Pick, Suggestion};
use crate::audit::{AuditEntry, AuditEvent};
use crate::domain::{DocumentId, TopicId, UserId};
use crate::entities::{
    TopicSource, document_topics, documents, topic_evidence, topic_rejections, topic_suggestions,
    topics,
};
use crate::error::ApiError;
use crate::topics::service::{self as topics_service, TopicName};

/// Ids per `IN (…)` list (far below both backends' bound-parameter limits).
const IDS_PER_QUERY: usize = 500;

/// One word that weighed for a topic, as the API shows and the database stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceTerm {
    /// The word as it appears in the document (lower case).
    #[schema(example = "invoice")]
    pub term: String,
    /// Its share of the document's score for the topic (relative: the heaviest word of
    /// a topic weighs most; only the order and proportions mean something).
    #[schema(minimum = 0)]
    pub weight: f64,
}

impl From<&Evidence> for EvidenceTerm {
    fn from(e: &Evidence) -> Self {
        Self {
            term: e.word.clone(),
            weight: e.weight,
        }
    }
}

/// The stored JSON of a list of words.
fn terms_json(words: &[Evidence]) -> serde_json::Value {
    serde_json::Value::Array(
        words
            .iter()
            .map(|e| serde_json::json!({ "term": e.word, "weight": e.weight }))
            .collect(),
    )
}

/// Reads stored words back (anything unreadable reads as none).
fn terms_of(json: &serde_json::Value) -> Vec<EvidenceTerm> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

/// The topics rejected for each of `documents` (only documents with a rejection appear).
/// The exclusion every path that files or suggests topics applies: a rejected
/// (document, topic) is never filed automatically nor suggested again.
pub async fn rejected_pairs(
    db: &impl ConnectionTrait,
    documents: &[Uuid],
) -> Result<HashMap<Uuid, HashSet<Uuid>>, DbErr> {
    let mut out: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    for chunk in documents.chunks(IDS_PER_QUERY) {
        let rows: Vec<(Uuid, Uuid)> = topic_rejections::Entity::find()
            .select_only()
            .column(topic_rejections::Column::DocumentId)
            .column(topic_rejections::Column::TopicId)
            .filter(topic_rejections::Column::DocumentId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        for (doc, topic) in rows {
            out.entry(doc).or_default().insert(topic);
        }
    }
    Ok(out)
}

/// `suggestions` without the topics in `rejected` (existing topics only can be rejected).
pub fn without_rejected(suggestions: &[Suggestion], rejected: &HashSet<Uuid>) -> Vec<Suggestion> {
    suggestions
        .iter()
        .filter(|s| !matches!(s.pick, Pick::Existing(id) if rejected.contains(&id)))
        .cloned()
        .collect()
}

/// Writes `outcome`'s topics onto `document` (owned by `owner`), in the caller's
/// transaction: drops the previous automatic links (their evidence goes with them),
/// resolves the suggestions to topics (existing ones while still the owner's or system
/// topics; new ones found or created under the topic name rule), leaves out what the
/// owner rejected for the document, links the rest as `ai` (a topic the owner set by
/// hand keeps its `user` link) with the words that weighed most for each, and replaces
/// the pending suggestions with the doubtful topics that are neither linked nor
/// rejected. The document's status is the caller's business.
pub async fn apply_outcome(
    db: &impl ConnectionTrait,
    document: Uuid,
    owner: Uuid,
    outcome: &Outcome,
) -> Result<(), DbErr> {
    hold_document(db, document).await?;
    let rejected = rejected_pairs(db, &[document])
        .await?
        .remove(&document)
        .unwrap_or_default();
    drop_ai_links(db, document).await?;
    let chosen = chosen_topics(
        db,
        owner,
        &without_rejected(&outcome.suggestions, &rejected),
    )
    .await?
    .into_iter()
    .filter(|(topic, _)| !rejected.contains(topic))
    .collect::<Vec<_>>();
    link_ai_topics(db, document, &chosen).await?;

    let links = links_of(db, document).await?;
    let evidence: Vec<topic_evidence::ActiveModel> = links
        .iter()
        .filter(|(_, source)| *source == TopicSource::Ai)
        .filter_map(|(topic, _)| {
            let words = outcome.evidence.get(topic).filter(|w| !w.is_empty())?;
            Some(topic_evidence::ActiveModel {
                document_id: Set(document),
                topic_id: Set(*topic),
                terms: Set(terms_json(words)),
            })
        })
        .collect();
    if !evidence.is_empty() {
        topic_evidence::Entity::insert_many(evidence)
            .on_conflict(
                OnConflict::columns([
                    topic_evidence::Column::DocumentId,
                    topic_evidence::Column::TopicId,
                ])
                .update_column(topic_evidence::Column::Terms)
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }

    topic_suggestions::Entity::delete_many()
        .filter(topic_suggestions::Column::DocumentId.eq(document))
        .exec(db)
        .await?;
    let linked: HashSet<Uuid> = links.iter().map(|(t, _)| *t).collect();
    let doubtful: Vec<Suggestion> = without_rejected(&outcome.doubtful, &rejected)
        .into_iter()
        .filter(|s| matches!(s.pick, Pick::Existing(id) if !linked.contains(&id)))
        .collect();
    let usable = usable_topics(db, owner, &doubtful).await?;
    let now = crate::time::now();
    let mut seen = HashSet::new();
    let rows: Vec<topic_suggestions::ActiveModel> = doubtful
        .iter()
        .filter_map(|s| match s.pick {
            Pick::Existing(id) if usable.contains(&id) && seen.insert(id) => {
                Some(topic_suggestions::ActiveModel {
                    document_id: Set(document),
                    topic_id: Set(id),
                    confidence: Set(s.confidence.clamp(0.0, 1.0)),
                    terms: Set(outcome
                        .evidence
                        .get(&id)
                        .filter(|w| !w.is_empty())
                        .map(|w| terms_json(w))),
                    created_at: Set(now),
                })
            }
            _ => None,
        })
        .collect();
    if !rows.is_empty() {
        topic_suggestions::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Takes the rows of `documents` for this transaction, in id order (PostgreSQL `FOR NO
/// KEY UPDATE`, which foreign-key checks do not wait for; SQLite's write transaction
/// holds the database already): whatever changes a document's topics takes its row
/// first (filing an outcome, accept/reject, `PATCH` topics, the bulk topic edit), so two
/// of them on one document serialise in one lock order, and a rejection committed
/// meanwhile is seen, never overwritten.
pub async fn hold_documents(db: &impl ConnectionTrait, documents: &[Uuid]) -> Result<(), DbErr> {
    let mut ids = documents.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .filter(documents::Column::Id.is_in(chunk.to_vec()))
            .order_by_asc(documents::Column::Id)
            .lock(LockType::NoKeyUpdate)
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
    }
    Ok(())
}

/// [`hold_documents`] of one.
async fn hold_document(db: &impl ConnectionTrait, document: Uuid) -> Result<(), DbErr> {
    hold_documents(db, &[document]).await
}

/// Removes the document's links from an earlier classification; the user's stay.
async fn drop_ai_links(db: &impl ConnectionTrait, document: Uuid) -> Result<(), DbErr> {
    document_topics::Entity::delete_many()
        .filter(document_topics::Column::DocumentId.eq(document))
        .filter(document_topics::Column::Source.eq(TopicSource::Ai))
        .exec(db)
        .await?;
    Ok(())
}

/// Which of the existing topics `suggestions` name are still `owner`'s or system topics.
async fn usable_topics(
    db: &impl ConnectionTrait,
    owner: Uuid,
    suggestions: &[Suggestion],
) -> Result<HashSet<Uuid>, DbErr> {
    let existing: Vec<Uuid> = suggestions
        .iter()
        .filter_map(|s| match s.pick {
            Pick::Existing(id) => Some(id),
            Pick::New(_) => None,
        })
        .collect();
    if existing.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .filter(topics::Column::Id.is_in(existing))
        .filter(
            Condition::any()
                .add(topics::Column::UserId.eq(owner))
                .add(topics::Column::UserId.is_null()),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// The topics the suggestions name, with their confidence, each once: existing ones
/// only while they are still the owner's (or system topics), new ones found or created
/// through the topics service under its name rule.
async fn chosen_topics(
    db: &impl ConnectionTrait,
    owner: Uuid,
    suggestions: &[Suggestion],
) -> Result<Vec<(Uuid, f64)>, DbErr> {
    let still_usable = usable_topics(db, owner, suggestions).await?;
    let mut chosen: Vec<(Uuid, f64)> = Vec::new();
    for s in suggestions {
        match &s.pick {
            Pick::Existing(id) if still_usable.contains(id) => chosen.push((*id, s.confidence)),
            Pick::Existing(_) => {}
            Pick::New(name) => {
                let Ok(name) = TopicName::parse(name) else {
                    tracing::debug!("dropping a proposed topic name that is not valid");
                    continue;
                };
                let id = topics_service::find_or_create_for(db, owner.into(), &name).await?;
                chosen.push((id.into(), s.confidence));
            }
        }
    }
    let mut seen = HashSet::new();
    chosen.retain(|(id, _)| seen.insert(*id));
    Ok(chosen)
}

/// Files the document under `chosen` as `ai` links; a topic the user set by hand keeps
/// its `user` link.
async fn link_ai_topics(
    db: &impl ConnectionTrait,
    document: Uuid,
    chosen: &[(Uuid, f64)],
) -> Result<(), DbErr> {
    let now = crate::time::now();
    for (topic_id, confidence) in chosen {
        let link = document_topics::ActiveModel {
            document_id: Set(document),
            topic_id: Set(*topic_id),
            source: Set(TopicSource::Ai),
            confidence: Set(Some(confidence.clamp(0.0, 1.0))),
            created_at: Set(now),
        };
        document_topics::Entity::insert(link)
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
    Ok(())
}

/// The document's links: topic and who set it.
async fn links_of(
    db: &impl ConnectionTrait,
    document: Uuid,
) -> Result<Vec<(Uuid, TopicSource)>, DbErr> {
    document_topics::Entity::find()
        .select_only()
        .column(document_topics::Column::TopicId)
        .column(document_topics::Column::Source)
        .filter(document_topics::Column::DocumentId.eq(document))
        .into_tuple()
        .all(db)
        .await
}

/// The automatic links among `documents` × `topics` (all topics when `topics` is
/// `None`): what a hand edit about to take topics off finds, `(document, topic)`.
pub async fn automatic_links(
    db: &impl ConnectionTrait,
    documents: &[Uuid],
    topics: Option<&[Uuid]>,
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    let mut out = Vec::new();
    for chunk in documents.chunks(IDS_PER_QUERY) {
        let mut q = document_topics::Entity::find()
            .select_only()
            .column(document_topics::Column::DocumentId)
            .column(document_topics::Column::TopicId)
            .filter(document_topics::Column::DocumentId.is_in(chunk.to_vec()))
            .filter(document_topics::Column::Source.eq(TopicSource::Ai));
        if let Some(topics) = topics {
            q = q.filter(document_topics::Column::TopicId.is_in(topics.to_vec()));
        }
        out.extend(q.into_tuple::<(Uuid, Uuid)>().all(db).await?);
    }
    Ok(out)
}

/// Records that the owner took each `(document, topic)` of `pairs` off (an automatic
/// link removed by hand, or a suggestion rejected): rejections of documents of `owner`
/// (one already recorded stays), and their suggestions dropped. In the caller's
/// transaction; `PATCH /api/documents/{id}` and the bulk topic edit call it for the
/// automatic topics they take off.
pub async fn record_rejections(
    db: &impl ConnectionTrait,
    owner: Uuid,
    pairs: &[(Uuid, Uuid)],
) -> Result<(), DbErr> {
    insert_rejections(db, owner, pairs).await?;
    for chunk in pairs.chunks(IDS_PER_QUERY) {
        topic_suggestions::Entity::delete_many()
            .filter(pairs_condition(
                chunk,
                topic_suggestions::Column::DocumentId,
                topic_suggestions::Column::TopicId,
            ))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The owner filed each of `documents` under each of `topics` by hand: any rejection of
/// those pairs is lifted and their suggestions dropped (they are the owner's links now).
pub async fn record_filed_by_hand(
    db: &impl ConnectionTrait,
    documents: &[Uuid],
    topics: &[Uuid],
) -> Result<(), DbErr> {
    if topics.is_empty() {
        return Ok(());
    }
    for topic_chunk in topics.chunks(IDS_PER_QUERY) {
        for chunk in documents.chunks(IDS_PER_QUERY) {
            topic_rejections::Entity::delete_many()
                .filter(topic_rejections::Column::DocumentId.is_in(chunk.to_vec()))
                .filter(topic_rejections::Column::TopicId.is_in(topic_chunk.to_vec()))
                .exec(db)
                .await?;
            topic_suggestions::Entity::delete_many()
                .filter(topic_suggestions::Column::DocumentId.is_in(chunk.to_vec()))
                .filter(topic_suggestions::Column::TopicId.is_in(topic_chunk.to_vec()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// Drops the stored words of `documents`' links: their automatic links became the
/// owner's (the bulk topic edit makes every remaining link `user`), which have none.
pub async fn forget_evidence(db: &impl ConnectionTrait, documents: &[Uuid]) -> Result<(), DbErr> {
    for chunk in documents.chunks(IDS_PER_QUERY) {
        topic_evidence::Entity::delete_many()
            .filter(topic_evidence::Column::DocumentId.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// `(doc = a AND topic = b) OR …` for each pair.
fn pairs_condition<C: ColumnTrait>(pairs: &[(Uuid, Uuid)], doc: C, topic: C) -> Condition {
    pairs.iter().fold(Condition::any(), |any, &(d, t)| {
        any.add(Condition::all().add(doc.eq(d)).add(topic.eq(t)))
    })
}

/// Records rejections of `pairs` (documents of `owner`); one already recorded stays.
async fn insert_rejections(
    db: &impl ConnectionTrait,
    owner: Uuid,
    pairs: &[(Uuid, Uuid)],
) -> Result<(), DbErr> {
    let now = crate::time::now();
    for chunk in pairs.chunks(IDS_PER_QUERY) {
        let rows: Vec<topic_rejections::ActiveModel> = chunk
            .iter()
            .map(|&(document, topic)| topic_rejections::ActiveModel {
                document_id: Set(document),
                topic_id: Set(topic),
                user_id: Set(owner),
                created_at: Set(now),
            })
            .collect();
        topic_rejections::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    topic_rejections::Column::DocumentId,
                    topic_rejections::Column::TopicId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The 404 of a topic that is neither a suggestion nor a link of the document.
fn no_such_topic() -> ApiError {
    ApiError::NotFound("No such suggestion or automatic topic on this document".into())
}

/// What the owner's answer found: a pending suggestion, the document's link, a rejection.
struct Standing {
    suggested: bool,
    link: Option<TopicSource>,
    rejected: bool,
}

async fn standing(
    db: &impl ConnectionTrait,
    document: Uuid,
    topic: Uuid,
) -> Result<Standing, DbErr> {
    let suggested = topic_suggestions::Entity::find_by_id((document, topic))
        .count(db)
        .await?
        > 0;
    let link = document_topics::Entity::find_by_id((document, topic))
        .one(db)
        .await?
        .map(|l| l.source);
    let rejected = topic_rejections::Entity::find_by_id((document, topic))
        .count(db)
        .await?
        > 0;
    Ok(Standing {
        suggested,
        link,
        rejected,
    })
}

/// Accepts `topic` for the caller's document `id`: a pending suggestion or an automatic
/// topic becomes the owner's link (`source = user`, a training example of the builtin
/// classifier from the next document on), the suggestion and any rejection of it go, and
/// the status follows (a finished document is classified). Accepting a topic the owner
/// already set is a no-op. 404 when the document is not the caller's (409 when trashed)
/// or the topic is neither suggested nor linked. Audited (`document_topic_accepted`).
pub async fn accept(
    db: &DatabaseConnection,
    user: UserId,
    id: DocumentId,
    topic: TopicId,
    ip: Option<&str>,
) -> Result<documents::Model, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    hold_document(&txn, id.into()).await?;
    let doc = crate::documents::access::changeable(&txn, user, id).await?;
    let topic = Uuid::from(topic);
    let now_standing = standing(&txn, doc.id, topic).await?;
    let was = match (now_standing.link, now_standing.suggested) {
        (Some(TopicSource::User), _) => {
            txn.commit().await?;
            return Ok(doc);
        }
        (Some(TopicSource::Ai), _) => "automatic",
        (None, true) => "suggestion",
        (None, false) => return Err(no_such_topic()),
    };
    let now = crate::time::now();
    let link = document_topics::ActiveModel {
        document_id: Set(doc.id),
        topic_id: Set(topic),
        source: Set(TopicSource::User),
        confidence: Set(None),
        created_at: Set(now),
    };
    document_topics::Entity::insert(link)
        .on_conflict(
            OnConflict::columns([
                document_topics::Column::DocumentId,
                document_topics::Column::TopicId,
            ])
            .update_columns([
                document_topics::Column::Source,
                document_topics::Column::Confidence,
                document_topics::Column::CreatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    topic_evidence::Entity::delete_by_id((doc.id, topic))
        .exec(&txn)
        .await?;
    record_filed_by_hand(&txn, &[doc.id], &[topic]).await?;
    crate::documents::lifecycle::touch_following_topics(&txn, &[doc.id], true, now).await?;
    finish(
        txn,
        user,
        id,
        topic,
        was,
        AuditEvent::DocumentTopicAccepted,
        ip,
    )
    .await
}

/// The end of an accept or a reject of `topic` for the caller's document `id`: the
/// audit entry (`event`, with the topic and what it `was`), then the document as it now
/// stands, read in the same transaction before it commits.
async fn finish(
    txn: sea_orm::DatabaseTransaction,
    user: UserId,
    id: DocumentId,
    topic: Uuid,
    was: &str,
    event: AuditEvent,
    ip: Option<&str>,
) -> Result<documents::Model, ApiError> {
    let doc = crate::documents::access::owned(&txn, user, id).await?;
    AuditEntry::new(event, crate::audit::Outcome::Success, Some(doc.user_id), ip)
        .resource(doc.id)
        .detail("topic_id", topic.to_string())
        .detail("was", was)
        .record(&txn)
        .await?;
    txn.commit().await?;
    Ok(doc)
}

/// Rejects `topic` for the caller's document `id`: the pending suggestion or the
/// automatic link goes, a rejection is recorded (the document is never filed under nor
/// offered the topic again, and the builtin classifier learns from it), and the status
/// follows (a finished document left without topics is unclassified). Rejecting again is
/// a no-op. 404 when the document is not the caller's (409 when trashed), or the topic is
/// neither suggested nor an automatic link (a topic the owner set by hand is taken off
/// with `PATCH`). Audited (`document_topic_rejected`).
pub async fn reject(
    db: &DatabaseConnection,
    user: UserId,
    id: DocumentId,
    topic: TopicId,
    ip: Option<&str>,
) -> Result<documents::Model, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    hold_document(&txn, id.into()).await?;
    let doc = crate::documents::access::changeable(&txn, user, id).await?;
    let topic = Uuid::from(topic);
    let now_standing = standing(&txn, doc.id, topic).await?;
    let was = match (now_standing.link, now_standing.suggested) {
        (Some(TopicSource::Ai), _) => "automatic",
        (None, true) => "suggestion",
        (None, false) if now_standing.rejected => {
            txn.commit().await?;
            return Ok(doc);
        }
        (Some(TopicSource::User), _) | (None, false) => return Err(no_such_topic()),
    };
    document_topics::Entity::delete_many()
        .filter(document_topics::Column::DocumentId.eq(doc.id))
        .filter(document_topics::Column::TopicId.eq(topic))
        .filter(document_topics::Column::Source.eq(TopicSource::Ai))
        .exec(&txn)
        .await?;
    record_rejections(&txn, doc.user_id, &[(doc.id, topic)]).await?;
    let has_topics = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.eq(doc.id))
        .count(&txn)
        .await?
        > 0;
    let now = crate::time::now();
    crate::documents::lifecycle::touch_following_topics(&txn, &[doc.id], has_topics, now).await?;
    finish(
        txn,
        user,
        id,
        topic,
        was,
        AuditEvent::DocumentTopicRejected,
        ip,
    )
    .await
}

/// The words stored for each automatic topic of `document`, by topic (links set by hand
/// and topics filed by a model have none).
pub async fn evidence_of(
    db: &impl ConnectionTrait,
    document: Uuid,
) -> Result<HashMap<Uuid, Vec<EvidenceTerm>>, DbErr> {
    let rows = topic_evidence::Entity::find()
        .filter(topic_evidence::Column::DocumentId.eq(document))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.topic_id, terms_of(&r.terms)))
        .collect())
}

/// A pending suggestion with its topic, as the document view shows it.
#[derive(Debug, Clone)]
pub struct PendingSuggestion {
    /// The topic suggested.
    pub topic: topics::Model,
    /// The classifier's confidence, 0–1.
    pub confidence: f64,
    /// The words that weighed most for it (builtin only).
    pub evidence: Vec<EvidenceTerm>,
}

/// The pending suggestions of `document`, most confident first (ties by topic name).
pub async fn suggestions_of(
    db: &impl ConnectionTrait,
    document: Uuid,
) -> Result<Vec<PendingSuggestion>, DbErr> {
    let rows = topic_suggestions::Entity::find()
        .filter(topic_suggestions::Column::DocumentId.eq(document))
        .find_also_related(topics::Entity)
        .order_by_desc(topic_suggestions::Column::Confidence)
        .order_by_asc(topics::Column::Name)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, topic)| {
            Some(PendingSuggestion {
                topic: topic?,
                confidence: s.confidence,
                evidence: s.terms.as_ref().map(terms_of).unwrap_or_default(),
            })
        })
        .collect())
}

/// The rejections of `owner`'s documents: the topics rejected for each document, by
/// document (what the account export lists).
pub async fn rejections_of(
    db: &impl ConnectionTrait,
    owner: Uuid,
) -> Result<BTreeMap<Uuid, Vec<Uuid>>, DbErr> {
    let rows: Vec<(Uuid, Uuid)> = topic_rejections::Entity::find()
        .select_only()
        .column(topic_rejections::Column::DocumentId)
        .column(topic_rejections::Column::TopicId)
        .filter(topic_rejections::Column::UserId.eq(owner))
        .order_by_asc(topic_rejections::Column::DocumentId)
        .order_by_asc(topic_rejections::Column::TopicId)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for (doc, topic) in rows {
        out.entry(doc).or_default().push(topic);
    }
    Ok(out)
}

/// The newest rejections of `owner` whose documents have a text, at most `limit`:
/// `(document, topic)`, newest first (`idx_topic_rejections_user_created`). What the
/// builtin classifier learns from besides the hand-filed documents.
pub async fn newest_rejections(
    db: &impl ConnectionTrait,
    owner: Uuid,
    limit: u64,
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    topic_rejections::Entity::find()
        .select_only()
        .column(topic_rejections::Column::DocumentId)
        .column(topic_rejections::Column::TopicId)
        .filter(topic_rejections::Column::UserId.eq(owner))
        .filter(sea_orm::sea_query::Expr::cust(
            "EXISTS (SELECT 1 FROM document_texts t \
             WHERE t.document_id = topic_rejections.document_id)",
        ))
        .order_by_desc(topic_rejections::Column::CreatedAt)
        .order_by_asc(topic_rejections::Column::DocumentId)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn s(id: u128, confidence: f64) -> Suggestion {
        Suggestion {
            pick: Pick::Existing(Uuid::from_u128(id)),
            confidence,
        }
    }

    #[test]
    fn rejected_topics_are_left_out_and_new_names_kept() {
        let rejected: HashSet<Uuid> = [Uuid::from_u128(2)].into_iter().collect();
        let mut all = vec![s(1, 0.9), s(2, 0.8), s(3, 0.4)];
        all.push(Suggestion {
            pick: Pick::New("Travel".into()),
            confidence: 0.7,
        });
        let kept: Vec<Pick> = without_rejected(&all, &rejected)
            .into_iter()
            .map(|s| s.pick)
            .collect();
        assert_eq!(
            kept,
            vec![
                Pick::Existing(Uuid::from_u128(1)),
                Pick::Existing(Uuid::from_u128(3)),
                Pick::New("Travel".into()),
            ]
        );
        assert_eq!(without_rejected(&all, &HashSet::new()).len(), 4);
    }

    #[test]
    fn evidence_round_trips_through_its_stored_json() {
        let words = vec![
            Evidence {
                word: "rechnung".into(),
                weight: 0.25,
            },
            Evidence {
                word: "betrag".into(),
                weight: 0.125,
            },
        ];
        let json = terms_json(&words);
        assert_eq!(
            terms_of(&json),
            vec![
                EvidenceTerm {
                    term: "rechnung".into(),
                    weight: 0.25
                },
                EvidenceTerm {
                    term: "betrag".into(),
                    weight: 0.125
                },
            ]
        );
        assert!(terms_of(&serde_json::json!({"not": "a list"})).is_empty());
    }
}
