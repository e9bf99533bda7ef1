//! Classification interface (placeholder until the full classifier layer lands).

use uuid::Uuid;

/// Version of the prompt and scoring rules recorded with each result.
pub const PROMPT_VERSION: &str = "builtin-0";

/// A topic the classifier may choose.
#[derive(Debug, Clone)]
pub struct TopicOption {
    /// Topic id.
    pub id: Uuid,
    /// Topic name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
}

/// What a suggestion points at.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// One of the user's (or system) topics.
    Existing(Uuid),
    /// A new topic to create in the user's namespace.
    New(String),
}

/// One suggested topic.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The topic.
    pub pick: Pick,
    /// Confidence in [0, 1].
    pub confidence: f64,
}

/// A classification result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Suggested topics; empty means no topic fits.
    pub suggestions: Vec<Suggestion>,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Prompt version.
    pub prompt_version: String,
    /// Why nothing was sent or chosen, when that is the case.
    pub reason: Option<String>,
}

/// Classification failures.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Worth retrying later.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help.
    #[error("{0}")]
    Permanent(String),
}

/// Classifies a document for its owner.
pub async fn classify_document(
    state: &crate::state::AppState,
    doc: &crate::entities::documents::Model,
    text: &str,
) -> Result<Outcome, ClassifyError> {
    use crate::entities::topics;
    use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
    let options = topics::Entity::find()
        .filter(
            Condition::any()
                .add(topics::Column::UserId.eq(doc.user_id))
                .add(topics::Column::UserId.is_null()),
        )
        .all(&state.db)
        .await
        .map_err(|e| ClassifyError::Transient(e.to_string()))?;
    let lower = text.to_lowercase();
    let suggestions = options
        .into_iter()
        .filter(|t| lower.contains(&t.name.to_lowercase()))
        .map(|t| Suggestion {
            pick: Pick::Existing(t.id),
            confidence: 0.5,
        })
        .collect();
    Ok(Outcome {
        suggestions,
        provider: "builtin".into(),
        model: "keywords".into(),
        prompt_version: PROMPT_VERSION.into(),
        reason: None,
    })
}
