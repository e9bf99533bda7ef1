//! Duplicates: documents of one owner with the same bytes (the SHA-256 recorded at
//! confirm). Only live documents (confirmed, not in the trash) count as originals: the
//! earliest-created one of a hash is the original, every later one a duplicate of it.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::UserId;
use crate::entities::{DocumentStatus, documents};

/// The condition of a live document: confirmed and not in the trash.
fn live() -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(documents::Column::Status.ne(DocumentStatus::Pending))
        .add(documents::Column::TrashedAt.is_null())
}

/// The earliest-created live document of `user` with hex SHA-256 `sha256`, other than
/// `except`: what an upload of those bytes duplicates.
pub async fn original_of(
    db: &impl ConnectionTrait,
    user: UserId,
    except: Uuid,
    sha256: &str,
) -> Result<Option<Uuid>, DbErr> {
    documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::Sha256.eq(sha256))
        .filter(documents::Column::Id.ne(except))
        .filter(live())
        .order_by_asc(documents::Column::CreatedAt)
        .order_by_asc(documents::Column::Id)
        .limit(1)
        .into_tuple::<Uuid>()
        .one(db)
        .await
}

/// For each of `user`'s documents in `docs` (`(id, sha256)` pairs), the earliest-created
/// *other* live document of `user` with the same SHA-256, if any; none for the original
/// itself. One query.
pub async fn originals(
    db: &impl ConnectionTrait,
    user: UserId,
    docs: &[(Uuid, String)],
) -> Result<HashMap<Uuid, Uuid>, DbErr> {
    let mut hashes: Vec<&str> = docs.iter().map(|(_, h)| h.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Option<String>)> = documents::Entity::find()
        .select_only()
        .column(documents::Column::Id)
        .column(documents::Column::Sha256)
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::Sha256.is_in(hashes))
        .filter(live())
        .order_by_asc(documents::Column::CreatedAt)
        .order_by_asc(documents::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    // The first two live documents of each hash, oldest first: the original, and the
    // original's own original would be the second (never needed: the original has none).
    let mut first: HashMap<String, Uuid> = HashMap::new();
    for (id, hash) in rows {
        if let Some(hash) = hash {
            first.entry(hash).or_insert(id);
        }
    }
    Ok(docs
        .iter()
        .filter_map(|(id, hash)| {
            first
                .get(hash)
                .filter(|original| *original != id)
                .map(|original| (*id, *original))
        })
        .collect())
}
