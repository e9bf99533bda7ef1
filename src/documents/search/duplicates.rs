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

/// Sets `original_id` on `user`'s own listed rows that duplicate an earlier live
/// document: only rows whose `hash_live_count` says another live document has their
/// bytes (a live row in a count of two or more, a trashed one in a count of one or more)
/// are looked up, in one query ([`originals`]); most pages need none.
pub async fn mark_originals(
    db: &impl ConnectionTrait,
    user: UserId,
    items: &mut [super::Listed],
) -> Result<(), DbErr> {
    let owner = Uuid::from(user);
    let others_alive = |d: &super::DocumentRow| {
        let count = d.hash_live_count.unwrap_or(0);
        if d.trashed_at.is_some() {
            count >= 1
        } else {
            count >= 2
        }
    };
    let candidates: Vec<(Uuid, String)> = items
        .iter()
        .map(|i| &i.doc)
        .filter(|d| d.user_id == owner && d.status != DocumentStatus::Pending && others_alive(d))
        .filter_map(|d| d.sha256.clone().map(|h| (d.id, h)))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let found = originals(db, user, &candidates).await?;
    for i in items.iter_mut() {
        i.doc.original_id = found.get(&i.doc.id).copied();
    }
    Ok(())
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
    // No ORDER BY: SQLite would then walk the owner's whole list index in upload order
    // (every live document: 50 ms at 100 000) instead of seeking the hashes on
    // `idx_documents_live_sha256`; the earliest of each hash is picked here.
    let rows: Vec<(Uuid, Option<String>, chrono::DateTime<chrono::Utc>)> =
        documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .column(documents::Column::Sha256)
            .column(documents::Column::CreatedAt)
            .filter(documents::Column::UserId.eq(user))
            .filter(documents::Column::Sha256.is_in(hashes))
            .filter(live())
            .into_tuple()
            .all(db)
            .await?;
    // The earliest-created live document of each hash (ties by id): the original.
    let mut first: HashMap<String, (chrono::DateTime<chrono::Utc>, Uuid)> = HashMap::new();
    for (id, hash, created_at) in rows {
        let Some(hash) = hash else { continue };
        let earliest = first.entry(hash).or_insert((created_at, id));
        if (created_at, id) < *earliest {
            *earliest = (created_at, id);
        }
    }
    let first: HashMap<String, Uuid> = first.into_iter().map(|(h, (_, id))| (h, id)).collect();
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

/// The total of a list asking for the owner's live duplicates and nothing else (the home
/// page's `duplicates=true`): the sum of the owner's counts above one in
/// `document_hash_counts`, read off its partial index, rather than a count of the
/// matching documents (one probe per duplicated hash). `None` for any other filter.
pub(super) fn only_duplicates_total(
    backend: sea_orm::DatabaseBackend,
    user: UserId,
    filter: &super::ListFilter,
) -> Option<super::sql::Sql> {
    // Every field named: a new filter must decide here whether it narrows the list.
    let super::ListFilter {
        topic,
        folder_id,
        status,
        q,
        trashed,
        duplicates,
        include_subfolders: _,
        include_shared: _,
        content_types,
        created_from,
        created_to,
        size_min,
        size_max,
        document_date_from,
        document_date_to,
    } = filter;
    let only = *duplicates
        && !*trashed
        && topic.is_none()
        && folder_id.is_none()
        && status.is_none()
        && q.is_none()
        && content_types.is_empty()
        && created_from.is_none()
        && created_to.is_none()
        && size_min.is_none()
        && size_max.is_none()
        && document_date_from.is_none()
        && document_date_to.is_none();
    if !only {
        return None;
    }
    let mut sql = super::sql::Sql::new(backend);
    sql.push(
        "SELECT CAST(COALESCE(SUM(h.live_count), 0) AS BIGINT) AS n \
         FROM document_hash_counts h WHERE h.user_id = ",
    )
    .bind(user)
    .push(" AND h.live_count > 1");
    Some(sql)
}
