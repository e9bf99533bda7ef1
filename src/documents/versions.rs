//! Document versions: every stored revision of a document, the current one included
//! (`entities::document_versions`). The document row carries the current version's name,
//! type, size and hash; the current version is the one whose object key is the
//! document's. Every stored version is charged against the owner's quota.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

use crate::entities::{VersionStatus, document_versions, documents};

/// Records the first version of a document confirmed at `size_bytes` with hex SHA-256
/// `sha256`: the document's own id, object key, name and type. Runs in the confirming
/// transaction.
pub async fn record_first(
    db: &impl ConnectionTrait,
    doc: &documents::Model,
    size_bytes: i64,
    sha256: &str,
) -> Result<(), DbErr> {
    let now = crate::time::now();
    document_versions::ActiveModel {
        id: Set(doc.id),
        document_id: Set(doc.id),
        user_id: Set(doc.user_id),
        object_key: Set(doc.object_key.clone()),
        filename: Set(doc.filename.clone()),
        content_type: Set(doc.content_type.clone()),
        size_bytes: Set(size_bytes),
        sha256: Set(Some(sha256.to_owned())),
        status: Set(VersionStatus::Stored),
        created_at: Set(doc.created_at),
        confirmed_at: Set(Some(now)),
    }
    .insert(db)
    .await?;
    Ok(())
}
