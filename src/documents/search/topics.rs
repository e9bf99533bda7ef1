//! The topics of listed documents, fetched for a whole page at once.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::{TopicSource, document_topics, topics};
use crate::error::ApiError;

/// A topic a document is filed under.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentTopic {
    /// Topic id.
    pub id: Uuid,
    /// Topic name.
    pub name: String,
    /// Display color.
    pub color: Option<String>,
    /// The classifier or the owner.
    pub source: TopicSource,
    /// Classifier confidence (AI only).
    pub confidence: Option<f64>,
}

/// The topics of every given document, in one query, each list sorted by name.
#[tracing::instrument(skip_all)]
pub async fn topics_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<DocumentTopic>>, ApiError> {
    let mut map: HashMap<Uuid, Vec<DocumentTopic>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let rows = document_topics::Entity::find()
        .filter(document_topics::Column::DocumentId.is_in(ids.iter().copied()))
        .find_also_related(topics::Entity)
        .order_by_asc(topics::Column::Name)
        .order_by_asc(topics::Column::Id)
        .all(db)
        .await?;
    for (link, topic) in rows {
        if let Some(t) = topic {
            map.entry(link.document_id)
                .or_default()
                .push(DocumentTopic {
                    id: t.id,
                    name: t.name,
                    color: t.color,
                    source: link.source,
                    confidence: link.confidence,
                });
        }
    }
    Ok(map)
}
