//! Classification: files a document under the owner's topics (their own and the system
//! topics), or under none (README "Classification").
//!
//! [`classify_document`] is what the pipeline calls. It picks a [`Classifier`] per user
//! (`users.ai_provider` / `ai_model`, defaults `ai.default_provider` / `ai.default_model`):
//! - `builtin` ([`builtin`]): offline TF-IDF topic centroids over stemmed German and English
//!   words, seeded from topic names and descriptions, learned from the user's hand-filed
//!   documents, with per-topic bars calibrated on them ("none of these"), retrained for
//!   every document (a hand-filing counts from the next one);
//! - `ollama`, `openai` (any OpenAI-compatible server), `anthropic` ([`providers`]).
//!
//! Guards, applied before anything leaves the server:
//! - text with fewer than `ai.min_text_chars` letters/digits is never classified (no
//!   suggestions, a reason);
//! - an `ai_opt_out` document only ever goes to `builtin`;
//! - a model sees the filename and the first `ai.max_input_chars` characters only, and
//!   must answer within `ai.request_timeout_secs`;
//! - replies are a closed set: names are mapped to the user's topics ignoring case, other
//!   names are dropped, unless the user allowed new topics (then at most
//!   `ai.max_new_topics_per_document` become [`Pick::New`]).
//!
//! Doubtful results are not filed but offered to the owner as suggestions: the builtin's
//! topics under their bars but within reach of them, a model's topics under
//! `ai.suggest_below`. With each builtin result come the few words that weighed most.
//!
//! [`classify_document`] only reads (users, topics, documents, document_topics,
//! topic_rejections); the caller stores the [`Outcome`] through
//! [`feedback::apply_outcome`], which also keeps every topic the owner rejected for the
//! document out. [`feedback`] holds the owner's answers (accept, reject).

pub mod builtin;
pub mod feedback;
pub mod prompt;
pub mod providers;
pub mod routes;
pub mod text;
pub mod vision;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::crypto::Keys;
use crate::entities::{TopicSource, document_topics, documents, topics, users};
use crate::settings::{AiProviderSettings, AiSettings};
use crate::state::AppState;
use crate::topics::service::{clash_key, sort_topics};
use builtin::{BuiltinModel, Evidence, Example, Judgement};
use providers::{ProviderConfig, RetryPolicy};

/// Version of the model prompt ([`prompt`]); bump when the prompt or schema changes.
/// A custom `ai.system_prompt` is recorded as `"{PROMPT_VERSION}+custom-{hash}"`.
pub const PROMPT_VERSION: &str = "dv-prompt-1";
/// Version of the builtin algorithm, recorded as its prompt version.
pub const BUILTIN_VERSION: &str = "builtin-2";
/// What the builtin classifier records as its model.
pub const BUILTIN_MODEL: &str = "tfidf-centroids";
/// At most this many suggestions are kept from a model's reply.
pub const MAX_SUGGESTIONS: usize = 5;
/// Model suggestions below this confidence are dropped (the model itself doubts them).
pub const MIN_MODEL_CONFIDENCE: f64 = 0.2;
/// At most this many topics are listed to a model (sorted by name).
pub const MAX_PROMPT_TOPICS: usize = 300;
/// Longest name accepted for a proposed new topic, in characters.
pub const MAX_NEW_TOPIC_CHARS: usize = 64;

/// One topic the classifier may choose.
#[derive(Debug, Clone)]
pub struct TopicOption {
    /// Topic id.
    pub id: Uuid,
    /// Name, unique ignoring case among the options.
    pub name: String,
    /// Optional description (helps both builtin and models).
    pub description: Option<String>,
}

/// What a suggestion points at.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// One of the offered topics.
    Existing(Uuid),
    /// A new topic to create in the owner's namespace (only when the owner allows it).
    New(String),
}

/// One topic suggestion with its confidence in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The topic.
    pub pick: Pick,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
}

/// The result of classifying one document, with provenance.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The topics to file it under, best first; empty = "no topic fits" (the document
    /// becomes `unclassified`).
    pub suggestions: Vec<Suggestion>,
    /// Plausible topics the classifier doubts, best first: the builtin's under their bars
    /// but within reach ([`builtin::SUGGEST_FRACTION`]), a model's existing topics under
    /// `ai.suggest_below`. Not filed: offered to the owner ([`feedback`]).
    pub doubtful: Vec<Suggestion>,
    /// The words that weighed most for each topic of `suggestions` and `doubtful`
    /// (builtin only; models give none).
    pub evidence: BTreeMap<Uuid, Vec<Evidence>>,
    /// `builtin`, `ollama`, `openai` or `anthropic`.
    pub provider: String,
    /// Model name as sent (or [`BUILTIN_MODEL`]).
    pub model: String,
    /// [`PROMPT_VERSION`] (possibly `+custom-…`) or [`BUILTIN_VERSION`].
    pub prompt_version: String,
    /// Why nothing was suggested without asking a model (e.g. text too short).
    pub reason: Option<String>,
}

impl Outcome {
    /// What `documents.classified_by` records of it: provider, model, prompt version and,
    /// when nothing could be chosen, why.
    pub fn classified_by(&self) -> serde_json::Value {
        let mut classified_by = serde_json::json!({
            "provider": self.provider,
            "model": self.model,
            "prompt_version": self.prompt_version,
        });
        if let Some(reason) = &self.reason {
            classified_by["reason"] = serde_json::Value::String(reason.clone());
        }
        classified_by
    }
}

/// The reason recorded when the owner has no topic to file under.
pub const NO_TOPICS_REASON: &str = "no topics to choose from";

/// Why `text` is not classified at all (fewer than `min_text_chars`, the setting
/// `ai.min_text_chars`, letters or digits), as recorded in the outcome; `None` when it
/// may be classified.
pub fn too_short(min_text_chars: usize, text: &str) -> Option<String> {
    let meaningful = text::meaningful_chars(text);
    (meaningful < min_text_chars).then(|| {
        format!(
            "text too short to classify ({meaningful} letters or digits, at least \
             {min_text_chars} needed)"
        )
    })
}

/// How many characters of a document's text the builtin classifier reads.
pub fn builtin_text_chars(ai: &AiSettings) -> usize {
    ai.builtin_example_chars.max(ai.max_input_chars)
}

/// Why classification did not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Worth retrying later: timeouts, 429, 5xx, connection or database errors (after the
    /// in-call retries ran out).
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help: 4xx other than 429, bad configuration, undecodable reply.
    #[error("{0}")]
    Permanent(String),
}

impl From<sea_orm::DbErr> for ClassifyError {
    fn from(e: sea_orm::DbErr) -> Self {
        ClassifyError::Transient(format!("database: {e}"))
    }
}

/// Everything a classifier sees for one document.
#[derive(Debug, Clone)]
pub struct Input {
    /// The document's file name.
    pub filename: String,
    /// The document's text, already bounded.
    pub text: String,
    /// Topics to choose from (own + system), sorted by name.
    pub topics: Vec<TopicOption>,
    /// Whether a model may propose new topics.
    pub allow_new_topics: bool,
    /// How many new topics at most.
    pub max_new_topics: usize,
    /// System prompt for models.
    pub system_prompt: String,
}

impl Input {
    /// Maps a model's reply onto the topics: names match ignoring case and surrounding or
    /// repeated whitespace; unknown names are dropped unless new topics are allowed (then
    /// at most `max_new_topics` become [`Pick::New`]); duplicates keep their highest
    /// confidence; confidences are clamped to `[0, 1]` (0.5 when absent) and those below
    /// [`MIN_MODEL_CONFIDENCE`] dropped; best first, at most [`MAX_SUGGESTIONS`].
    pub fn resolve(&self, reply: prompt::Reply) -> Vec<Suggestion> {
        let by_name: HashMap<String, Uuid> = self
            .topics
            .iter()
            .map(|t| (clash_key(&t.name), t.id))
            .collect();
        let mut out: Vec<Suggestion> = Vec::new();
        let mut new_names: Vec<String> = Vec::new();
        for t in reply.topics {
            let confidence = match t.confidence {
                Some(c) if c.is_finite() => c.clamp(0.0, 1.0),
                Some(_) => continue,
                None => 0.5,
            };
            if confidence < MIN_MODEL_CONFIDENCE {
                continue;
            }
            let key = clash_key(&t.name);
            if key.is_empty() {
                continue;
            }
            let pick = if let Some(&id) = by_name.get(&key) {
                Pick::Existing(id)
            } else if self.allow_new_topics && valid_new_name(&t.name) {
                if !new_names.contains(&key) && new_names.len() >= self.max_new_topics {
                    tracing::debug!("dropping a proposed new topic over the cap");
                    continue;
                }
                if !new_names.contains(&key) {
                    new_names.push(key.clone());
                }
                Pick::New(t.name.split_whitespace().collect::<Vec<_>>().join(" "))
            } else {
                tracing::debug!("dropping a topic name that is not the user's");
                continue;
            };
            let same = |s: &Suggestion| match (&s.pick, &pick) {
                (Pick::Existing(a), Pick::Existing(b)) => a == b,
                (Pick::New(a), Pick::New(b)) => clash_key(a) == clash_key(b),
                _ => false,
            };
            match out.iter_mut().find(|s| same(s)) {
                Some(s) => s.confidence = s.confidence.max(confidence),
                None => out.push(Suggestion { pick, confidence }),
            }
        }
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out.truncate(MAX_SUGGESTIONS);
        out
    }
}

fn valid_new_name(name: &str) -> bool {
    let trimmed = name.trim();
    let n = trimmed.chars().count();
    (1..=MAX_NEW_TOPIC_CHARS).contains(&n) && !trimmed.chars().any(char::is_control)
}

/// A way of choosing topics for one document.
#[async_trait]
pub trait Classifier: Send + Sync {
    /// Provider name recorded with the result.
    fn provider(&self) -> &'static str;
    /// Model name recorded with the result.
    fn model(&self) -> &str;
    /// Suggestions for `input`, best first (empty = none fits).
    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError>;
}

/// The offline classifier as a [`Classifier`]: a model trained on construction.
pub struct Builtin {
    model: BuiltinModel,
}

impl Builtin {
    /// Trains on `topics` (names and descriptions) and hand-labelled `examples`.
    pub fn new(topics: &[TopicOption], examples: &[Example]) -> Self {
        Self {
            model: BuiltinModel::train(topics, examples),
        }
    }

    /// Suggestions for `input` (file name and text), synchronously.
    pub fn suggest(&self, input: &Input) -> Vec<Suggestion> {
        self.suggest_text(&input.filename, &input.text)
    }

    /// Suggestions for a document named `filename` whose (bounded) text is `text`: what
    /// [`Self::suggest`] answers for an [`Input`] of them, without building one per
    /// document (a re-file classifies thousands with one model).
    pub fn suggest_text(&self, filename: &str, text: &str) -> Vec<Suggestion> {
        self.model.classify(&format!("{filename}\n{text}"))
    }

    /// The topics to file `input` under and the doubtful ones ([`BuiltinModel::judge`]),
    /// with the words that weighed most for each of them.
    pub fn judge(&self, input: &Input) -> (Judgement, BTreeMap<Uuid, Vec<Evidence>>) {
        let text = Self::text_of(input);
        let judgement = self.model.judge(&text);
        let evidence = judgement
            .filed
            .iter()
            .chain(&judgement.doubtful)
            .filter_map(|s| match s.pick {
                Pick::Existing(id) => Some((id, self.model.explain(&text, id))),
                Pick::New(_) => None,
            })
            .filter(|(_, words)| !words.is_empty())
            .collect();
        (judgement, evidence)
    }

    /// The few words of `input` that weighed most for `topic` (best first).
    pub fn explain(&self, input: &Input, topic: Uuid) -> Vec<Evidence> {
        self.model.explain(&Self::text_of(input), topic)
    }

    /// What the model reads: the file name, a newline, the text.
    fn text_of(input: &Input) -> String {
        format!("{}\n{}", input.filename, input.text)
    }
}

#[async_trait]
impl Classifier for Builtin {
    fn provider(&self) -> &'static str {
        "builtin"
    }

    fn model(&self) -> &str {
        BUILTIN_MODEL
    }

    async fn classify(&self, input: &Input) -> Result<Vec<Suggestion>, ClassifyError> {
        Ok(self.suggest(input))
    }
}

/// The first `max` characters of `text`.
pub fn bounded(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The prompt version for a system prompt setting.
pub fn prompt_version(system_prompt_setting: &str) -> String {
    if system_prompt_setting.trim().is_empty() {
        PROMPT_VERSION.to_owned()
    } else {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(system_prompt_setting.as_bytes());
        format!("{PROMPT_VERSION}+custom-{}", hex::encode(&digest[..4]))
    }
}

/// Classifies one document for its owner `user` (provider/model/key,
/// allow_new_topics): loads the user's topics (own + system) and the builtin training examples;
/// applies every guard; retries transient provider errors in-call with exponential
/// backoff + jitter; maps reply names → topic ids case-insensitively, drops unknown names,
/// returns [`Pick::New`] only when the user allowed it (capped per document).
#[tracing::instrument(skip_all, fields(document_id = %doc.id))]
pub async fn classify_document(
    state: &AppState,
    user: &users::Model,
    doc: &documents::Model,
    text: &str,
) -> Result<Outcome, ClassifyError> {
    let ai = &state.settings.ai;

    let provider = if doc.ai_opt_out {
        "builtin".to_owned()
    } else {
        chosen_provider(ai, user)
    };
    let model = resolve_model(ai, user, &provider)?;
    let version = if provider == "builtin" {
        BUILTIN_VERSION.to_owned()
    } else {
        prompt_version(&ai.system_prompt)
    };
    let none = |reason: String| Outcome {
        suggestions: Vec::new(),
        doubtful: Vec::new(),
        evidence: BTreeMap::new(),
        provider: provider.clone(),
        model: model.clone(),
        prompt_version: version.clone(),
        reason: Some(reason),
    };

    if let Some(reason) = too_short(ai.min_text_chars, text) {
        return Ok(none(reason));
    }

    let options = load_topics(&state.db, user.id).await?;
    let allow_new = user.ai_allow_new_topics && provider != "builtin";
    if options.is_empty() && !(allow_new && ai.max_new_topics_per_document > 0) {
        return Ok(none(NO_TOPICS_REASON.into()));
    }

    let limit = if provider == "builtin" {
        builtin_text_chars(ai)
    } else {
        ai.max_input_chars
    };
    let system_prompt = if ai.system_prompt.trim().is_empty() {
        prompt::DEFAULT_SYSTEM_PROMPT.to_owned()
    } else {
        ai.system_prompt.clone()
    };
    let input = Input {
        filename: doc.filename.clone(),
        text: bounded(text, limit).to_owned(),
        topics: options,
        allow_new_topics: allow_new,
        max_new_topics: ai.max_new_topics_per_document,
        system_prompt,
    };
    let (suggestions, doubtful, evidence) = if provider == "builtin" {
        let examples = load_examples(&state.db, ai, user.id, doc.id, &input.topics).await?;
        // Training reads up to builtin_max_examples × builtin_example_chars of text: CPU
        // work, kept off the async threads.
        let (judgement, evidence) = tokio::task::spawn_blocking(move || {
            Builtin::new(&input.topics, &examples).judge(&input)
        })
        .await
        .map_err(|e| {
            if e.is_panic() {
                ClassifyError::Permanent("the builtin classifier panicked".into())
            } else {
                ClassifyError::Transient("the builtin classifier was cancelled".into())
            }
        })?;
        (judgement.filed, judgement.doubtful, evidence)
    } else {
        let key = user_api_key(&state.keys, user)?;
        let replied = model_classifier(ai, &provider, model.clone(), key)?
            .classify(&input)
            .await?;
        let (filed, doubtful) = split_doubtful(replied, ai.suggest_below);
        (filed, doubtful, BTreeMap::new())
    };
    Ok(Outcome {
        suggestions,
        doubtful,
        evidence,
        provider,
        model,
        prompt_version: version,
        reason: None,
    })
}

/// A model's suggestions split at `suggest_below`: those at or above it are filed, the
/// existing topics under it are doubtful (offered to the owner); a new topic the model
/// doubts is dropped (nothing is created for a doubt). Order kept (best first).
pub fn split_doubtful(
    suggestions: Vec<Suggestion>,
    suggest_below: f64,
) -> (Vec<Suggestion>, Vec<Suggestion>) {
    let (filed, doubtful): (Vec<Suggestion>, Vec<Suggestion>) = suggestions
        .into_iter()
        .partition(|s| s.confidence >= suggest_below);
    let doubtful = doubtful
        .into_iter()
        .filter(|s| matches!(s.pick, Pick::Existing(_)))
        .collect();
    (filed, doubtful)
}

/// The provider the user chose, else the server default.
pub fn chosen_provider(ai: &AiSettings, user: &users::Model) -> String {
    user.ai_provider
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ai.default_provider.clone())
}

/// The model for `provider`: the user's `ai_model` (it goes with the user's provider, or
/// the default one when they chose none), else `ai.default_model` for the default provider,
/// else the provider's configured model, else its built-in default.
fn resolve_model(
    ai: &AiSettings,
    user: &users::Model,
    provider: &str,
) -> Result<String, ClassifyError> {
    if provider == "builtin" {
        return Ok(BUILTIN_MODEL.to_owned());
    }
    let (settings, fallback) = provider_settings(ai, provider)?;
    let nonempty = |m: &str| Some(m.trim().to_owned()).filter(|m| !m.is_empty());
    let chosen = user
        .ai_model
        .as_deref()
        .and_then(nonempty)
        .or_else(|| {
            (provider == ai.default_provider)
                .then(|| nonempty(&ai.default_model))
                .flatten()
        })
        .or_else(|| nonempty(&settings.model))
        .unwrap_or_else(|| fallback.to_owned());
    Ok(chosen)
}

fn provider_settings<'a>(
    ai: &'a AiSettings,
    provider: &str,
) -> Result<(&'a AiProviderSettings, &'static str), ClassifyError> {
    match provider {
        "ollama" => Ok((&ai.ollama, providers::ollama::DEFAULT_MODEL)),
        "openai" => Ok((&ai.openai, providers::openai::DEFAULT_MODEL)),
        "anthropic" => Ok((&ai.anthropic, providers::anthropic::DEFAULT_MODEL)),
        other => Err(ClassifyError::Permanent(format!(
            "unknown classifier provider {other:?}"
        ))),
    }
}

/// A model-based classifier from the server settings, with the user's key when set.
fn model_classifier(
    ai: &AiSettings,
    provider: &str,
    model: String,
    user_key: Option<SecretString>,
) -> Result<Box<dyn Classifier>, ClassifyError> {
    let cfg = provider_config(ai, provider, model, user_key)?;
    let client = providers::shared_client();
    Ok(match provider {
        "ollama" => Box::new(providers::ollama::Ollama::with_client(cfg, client)),
        "openai" => Box::new(providers::openai::OpenAi::with_client(cfg, client)),
        _ => Box::new(providers::anthropic::Anthropic::with_client(cfg, client)),
    })
}

/// How to reach `provider` for `model`: the server's connection, the user's key (else the
/// server's), and the `ai.*` timeout and retry policy.
fn provider_config(
    ai: &AiSettings,
    provider: &str,
    model: String,
    user_key: Option<SecretString>,
) -> Result<ProviderConfig, ClassifyError> {
    let (settings, _) = provider_settings(ai, provider)?;
    let server_key = Some(settings.api_key.clone()).filter(|k| !k.expose_secret().is_empty());
    Ok(ProviderConfig {
        base_url: settings.base_url.clone(),
        model,
        api_key: user_key.or(server_key),
        timeout: Duration::from_secs(ai.request_timeout_secs),
        retry: RetryPolicy {
            attempts: ai.retry_attempts,
            base_delay: Duration::from_millis(ai.retry_base_delay_ms),
            max_delay: Duration::from_millis(ai.retry_max_delay_ms.max(ai.retry_base_delay_ms)),
        },
    })
}

/// The user's own API key, decrypted.
fn user_api_key(keys: &Keys, user: &users::Model) -> Result<Option<SecretString>, ClassifyError> {
    let Some(sealed) = &user.ai_api_key_enc else {
        return Ok(None);
    };
    let bytes = keys
        .decrypt(sealed, &crate::crypto::api_key_aad(user.id))
        .map_err(|e| {
            ClassifyError::Permanent(format!(
                "the account's AI API key cannot be decrypted ({e}); set it again"
            ))
        })?;
    let key = String::from_utf8(bytes)
        .map_err(|_| ClassifyError::Permanent("the account's AI API key is not text".into()))?;
    Ok(Some(SecretString::from(key)))
}

/// The owner's topics and the system topics, sorted by name (ignoring case).
pub async fn load_topics(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<TopicOption>, ClassifyError> {
    let mut rows = topics::Entity::find()
        .filter(
            Condition::any()
                .add(topics::Column::UserId.eq(user_id))
                .add(topics::Column::UserId.is_null()),
        )
        .all(db)
        .await?;
    sort_topics(&mut rows, |t| t);
    Ok(rows
        .into_iter()
        .map(|t| TopicOption {
            id: t.id,
            name: t.name,
            description: t.description,
        })
        .collect())
}

/// At most this fraction of `ai.builtin_max_examples` goes to rejected documents
/// (the newest rejections); the hand-filed documents get the rest.
pub const REJECTIONS_SHARE_OF_EXAMPLES: f64 = 0.25;

/// What the builtin classifier learns from: the user's hand-filed documents
/// (`document_topics.source = 'user'`), newest labels first, no topic taking more than its
/// fair share, `exclude` (the document being classified) left out; and the documents the
/// user rejected topics for (`topic_rejections`, newest first, at most
/// [`REJECTIONS_SHARE_OF_EXAMPLES`] of the budget; the document being classified
/// included: it then scores lower for what it was rejected from). Together at most
/// `ai.builtin_max_examples` documents of `ai.builtin_example_chars` characters each.
pub async fn load_examples(
    db: &impl ConnectionTrait,
    ai: &AiSettings,
    user_id: Uuid,
    exclude: Uuid,
    options: &[TopicOption],
) -> Result<Vec<Example>, ClassifyError> {
    let max_docs = ai.builtin_max_examples;
    if max_docs == 0 || options.is_empty() {
        return Ok(Vec::new());
    }
    let rejection_budget = (max_docs as f64 * REJECTIONS_SHARE_OF_EXAMPLES) as u64;
    let mut rejected_order: Vec<Uuid> = Vec::new();
    let mut rejected_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (doc, topic) in feedback::newest_rejections(db, user_id, rejection_budget).await? {
        rejected_of
            .entry(doc)
            .or_insert_with(|| {
                rejected_order.push(doc);
                Vec::new()
            })
            .push(topic);
    }

    let links: Vec<(Uuid, Uuid)> = document_topics::Entity::find()
        .select_only()
        .column(document_topics::Column::DocumentId)
        .column(document_topics::Column::TopicId)
        .join(
            JoinType::InnerJoin,
            document_topics::Relation::Document.def(),
        )
        .filter(documents::Column::UserId.eq(user_id))
        .filter(document_topics::Column::Source.eq(TopicSource::User))
        .filter(document_topics::Column::DocumentId.ne(exclude))
        .filter(Expr::cust(
            "EXISTS (SELECT 1 FROM document_texts t WHERE t.document_id = documents.id)",
        ))
        .order_by_desc(document_topics::Column::CreatedAt)
        .order_by_asc(document_topics::Column::DocumentId)
        .limit(max_docs.saturating_mul(4))
        .into_tuple()
        .all(db)
        .await?;

    // Group per document in label order; cap each topic at a fair share so one big topic
    // cannot crowd the others out.
    let mut order: Vec<Uuid> = Vec::new();
    let mut by_doc: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (doc, topic) in links {
        let entry = by_doc.entry(doc).or_insert_with(|| {
            order.push(doc);
            Vec::new()
        });
        entry.push(topic);
    }
    let distinct_topics = {
        let mut all: Vec<Uuid> = by_doc.values().flatten().copied().collect();
        all.sort();
        all.dedup();
        all.len().max(1)
    };
    let max_docs = usize::try_from(max_docs).unwrap_or(usize::MAX);
    let max_labelled = max_docs.saturating_sub(rejected_order.len());
    let per_topic = (max_labelled / distinct_topics).max(20);
    let mut per_topic_count: HashMap<Uuid, usize> = HashMap::new();
    let mut chosen: Vec<Uuid> = Vec::new();
    for doc in order {
        if chosen.len() >= max_labelled {
            break;
        }
        let topics = &by_doc[&doc];
        if topics
            .iter()
            .all(|t| per_topic_count.get(t).copied().unwrap_or(0) >= per_topic)
        {
            continue;
        }
        for t in topics {
            *per_topic_count.entry(*t).or_insert(0) += 1;
        }
        chosen.push(doc);
    }
    // Rejected documents that are not hand-filed examples too come after those.
    let labelled: std::collections::HashSet<Uuid> = chosen.iter().copied().collect();
    chosen.extend(rejected_order.into_iter().filter(|d| !labelled.contains(d)));
    if chosen.is_empty() {
        return Ok(Vec::new());
    }

    let chars = ai.builtin_example_chars.max(1);
    let names: Vec<(Uuid, String)> = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .column(documents::Column::Filename)
        .filter(documents::Column::Id.is_in(chosen.clone()))
        .filter(documents::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut bodies =
        crate::documents::texts::prefixes(db, names.iter().map(|(id, _)| *id).collect(), chars)
            .await?;
    let mut texts: HashMap<Uuid, String> = names
        .into_iter()
        .map(|(id, filename)| {
            let body = bodies.remove(&id).unwrap_or_default();
            (id, format!("{filename}\n{body}"))
        })
        .collect();
    Ok(chosen
        .into_iter()
        .filter_map(|id| {
            let text = texts.remove(&id)?;
            let topics = if labelled.contains(&id) {
                by_doc.remove(&id).unwrap_or_default()
            } else {
                Vec::new()
            };
            Some(Example {
                topics,
                rejected: rejected_of.remove(&id).unwrap_or_default(),
                text,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use prompt::{Reply, ReplyTopic};

    fn input(allow_new: bool) -> Input {
        Input {
            filename: "a.txt".into(),
            text: "text".into(),
            topics: vec![
                TopicOption {
                    id: Uuid::from_u128(1),
                    name: "Taxes".into(),
                    description: None,
                },
                TopicOption {
                    id: Uuid::from_u128(2),
                    name: "Home  Insurance".into(),
                    description: None,
                },
            ],
            allow_new_topics: allow_new,
            max_new_topics: 1,
            system_prompt: String::new(),
        }
    }

    fn reply(items: &[(&str, Option<f64>)]) -> Reply {
        Reply {
            topics: items
                .iter()
                .map(|(n, c)| ReplyTopic {
                    name: (*n).into(),
                    confidence: *c,
                })
                .collect(),
        }
    }

    #[test]
    fn resolve_maps_names_ignoring_case_and_drops_unknown() {
        let got = input(false).resolve(reply(&[
            ("taxes", Some(0.9)),
            (" home insurance ", Some(1.7)),
            ("Holidays", Some(0.99)),
            ("TAXES", Some(0.95)),
            ("Taxes", Some(0.1)),
        ]));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].pick, Pick::Existing(Uuid::from_u128(2)));
        assert_eq!(got[0].confidence, 1.0);
        assert_eq!(got[1].pick, Pick::Existing(Uuid::from_u128(1)));
        assert_eq!(got[1].confidence, 0.95);
    }

    #[test]
    fn resolve_allows_capped_new_topics_only_when_enabled() {
        let r = || {
            reply(&[
                ("Holidays", Some(0.8)),
                ("Travel", Some(0.7)),
                ("taxes", None),
            ])
        };
        let got = input(true).resolve(r());
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].pick, Pick::New("Holidays".into()));
        assert_eq!(got[1].pick, Pick::Existing(Uuid::from_u128(1)));
        assert_eq!(got[1].confidence, 0.5);
        let got = input(false).resolve(r());
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn builtin_explains_its_choice_from_the_input() {
        let mut inp = input(false);
        inp.topics[0].description = Some("Tax office letters, tax assessment, income tax".into());
        inp.topics[1].description = Some("Home insurance policy, premium, claims".into());
        inp.filename = "steuer.pdf".into();
        inp.text = "Your income tax assessment from the tax office".into();
        let builtin = Builtin::new(&inp.topics, &[]);
        let got = builtin.suggest(&inp);
        assert_eq!(
            got.first().map(|s| &s.pick),
            Some(&Pick::Existing(inp.topics[0].id))
        );
        let words: Vec<String> = builtin
            .explain(&inp, inp.topics[0].id)
            .into_iter()
            .map(|e| e.word)
            .collect();
        assert!(words.contains(&"tax".to_owned()), "{words:?}");
        assert!(builtin.explain(&inp, inp.topics[1].id).is_empty());
    }

    #[test]
    fn bounded_counts_characters() {
        assert_eq!(bounded("héllo", 2), "hé");
        assert_eq!(bounded("hi", 10), "hi");
    }

    #[test]
    fn prompt_version_marks_custom_prompts() {
        assert_eq!(prompt_version(""), PROMPT_VERSION);
        let v = prompt_version("Be terse.");
        assert!(v.starts_with("dv-prompt-1+custom-") && v.len() == PROMPT_VERSION.len() + 16);
    }
}
