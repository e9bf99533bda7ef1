//! Folder use cases: list the tree, create, rename/move, delete. Every change runs in
//! one write transaction that first locks the owner's folder changes (see
//! [`repo::lock_owner`]), so the sibling-name and cycle checks cannot race.

use std::collections::{HashMap, HashSet};

use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Set};
use uuid::Uuid;

use crate::domain::{FolderId, UserId};
use crate::entities::folders;
use crate::error::ApiError;
use crate::folders::name::{FolderName, clash_key, numbered};
use crate::folders::repo;

/// A folder with the number of documents directly in it.
#[derive(Debug, Clone)]
pub struct FolderRow {
    /// The folder.
    pub folder: folders::Model,
    /// Documents in it (not in its sub-folders; unconfirmed uploads not counted).
    pub document_count: u64,
}

/// Requested changes to a folder; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct FolderChanges {
    /// New name.
    pub name: Option<FolderName>,
    /// New parent: `Some(None)` moves the folder to the root.
    pub parent_id: Option<Option<FolderId>>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("No such folder".into())
}

fn parent_not_found() -> ApiError {
    ApiError::NotFound("No such parent folder".into())
}

fn name_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::FolderExists,
        message: "A folder with this name (ignoring case) already exists there".into(),
    }
}

/// A unique-index violation means a concurrent change took the name first.
fn name_taken_on_race(e: DbErr) -> ApiError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => name_taken(),
        _ => e.into(),
    }
}

/// Whether `folder` is `ancestor` or lies somewhere below it, following `parents`
/// (folder → parent). A loop in stored data counts as "below", so it is never extended.
fn is_within(parents: &HashMap<Uuid, Option<Uuid>>, folder: Uuid, ancestor: Uuid) -> bool {
    let mut current = Some(folder);
    for _ in 0..=parents.len() {
        match current {
            None => return false,
            Some(id) if id == ancestor => return true,
            Some(id) => current = parents.get(&id).copied().flatten(),
        }
    }
    true
}

/// Display order: by name ignoring case, then exact name, then id, on every database.
fn sort_rows(rows: &mut [FolderRow]) {
    rows.sort_by_cached_key(|r| {
        (
            clash_key(&r.folder.name),
            r.folder.name.clone(),
            r.folder.id,
        )
    });
}

/// The caller's whole tree, flat, sorted by name, with document counts (one query for
/// the folders, one grouped query for the counts).
#[tracing::instrument(skip_all)]
pub async fn list(db: &impl ConnectionTrait, user: UserId) -> Result<Vec<FolderRow>, ApiError> {
    let folders = repo::all_for_user(db, user).await?;
    let counts = repo::document_counts(db, user, None).await?;
    let mut rows: Vec<FolderRow> = folders
        .into_iter()
        .map(|folder| FolderRow {
            document_count: counts.get(&folder.id).copied().unwrap_or(0),
            folder,
        })
        .collect();
    sort_rows(&mut rows);
    Ok(rows)
}

/// Creates a folder under `parent` (`None`: at the root), which must be the caller's.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &DatabaseConnection,
    user: UserId,
    name: FolderName,
    parent: Option<FolderId>,
) -> Result<FolderRow, ApiError> {
    let parent = parent.map(Uuid::from);
    let txn = crate::db::begin_write(db).await?;
    repo::lock_owner(&txn, user).await?;
    if let Some(p) = parent {
        repo::find_owned(&txn, user, p)
            .await?
            .ok_or_else(parent_not_found)?;
    }
    if repo::sibling_keys(&txn, user, parent, None)
        .await?
        .contains(&name.clash_key())
    {
        return Err(name_taken());
    }
    let now = crate::time::now();
    let folder = folders::ActiveModel {
        id: Set(FolderId::new().into()),
        user_id: Set(user.into()),
        parent_id: Set(parent),
        name: Set(name.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(name_taken_on_race)?;
    txn.commit().await?;
    Ok(FolderRow {
        folder,
        document_count: 0,
    })
}

/// Renames and/or moves the caller's folder `id`. Moving under itself or any of its
/// descendants is a `folder_cycle` conflict; a sibling with the same name (ignoring
/// case) at the destination is a `folder_exists` conflict.
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &DatabaseConnection,
    user: UserId,
    id: FolderId,
    changes: FolderChanges,
) -> Result<FolderRow, ApiError> {
    let id = Uuid::from(id);
    let txn = crate::db::begin_write(db).await?;
    repo::lock_owner(&txn, user).await?;
    let folder = repo::find_owned(&txn, user, id)
        .await?
        .ok_or_else(not_found)?;
    let parent = changes
        .parent_id
        .map_or(folder.parent_id, |p| p.map(Uuid::from));
    if let Some(p) = parent
        && parent != folder.parent_id
    {
        repo::find_owned(&txn, user, p)
            .await?
            .ok_or_else(parent_not_found)?;
        let parents: HashMap<Uuid, Option<Uuid>> = repo::all_for_user(&txn, user)
            .await?
            .into_iter()
            .map(|f| (f.id, f.parent_id))
            .collect();
        if is_within(&parents, p, id) {
            return Err(ApiError::Conflict {
                code: crate::error::ErrorCode::FolderCycle,
                message: "A folder cannot move into itself or one of its sub-folders".into(),
            });
        }
    }
    let name = changes
        .name
        .map_or_else(|| folder.name.clone(), |n| n.as_str().to_owned());
    if parent != folder.parent_id || name != folder.name {
        if repo::sibling_keys(&txn, user, parent, Some(id))
            .await?
            .contains(&clash_key(&name))
        {
            return Err(name_taken());
        }
        repo::place(&txn, user, id, parent, &name)
            .await
            .map_err(name_taken_on_race)?;
    }
    let folder = repo::find_owned(&txn, user, id)
        .await?
        .ok_or_else(not_found)?;
    let document_count = repo::document_counts(&txn, user, Some(id))
        .await?
        .get(&id)
        .copied()
        .unwrap_or(0);
    txn.commit().await?;
    Ok(FolderRow {
        folder,
        document_count,
    })
}

/// What a deletion moved up to the deleted folder's parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Documents moved.
    pub documents: u64,
    /// Sub-folders moved.
    pub folders: u64,
}

/// Deletes the caller's folder `id` without deleting anything in it: its documents and
/// its sub-folders move to its parent (or the root). A moved sub-folder whose name is
/// taken there becomes `name (2)`, `name (3)`, …. One transaction.
#[tracing::instrument(skip_all)]
pub async fn delete(
    db: &DatabaseConnection,
    user: UserId,
    id: FolderId,
) -> Result<Deleted, ApiError> {
    let id = Uuid::from(id);
    let txn = crate::db::begin_write(db).await?;
    repo::lock_owner(&txn, user).await?;
    let folder = repo::find_owned(&txn, user, id)
        .await?
        .ok_or_else(not_found)?;
    let target = folder.parent_id;
    let documents = repo::move_documents(&txn, user, id, target).await?;

    // Vacate the name first, so a sub-folder named like its parent can take it over.
    // No real name contains '/', so the placeholder clashes with nothing.
    repo::place(&txn, user, id, target, &format!("/{id}")).await?;
    let mut taken: HashSet<String> = repo::sibling_keys(&txn, user, target, Some(id))
        .await?
        .into_iter()
        .collect();
    let mut moving = repo::children(&txn, user, Some(id)).await?;
    moving.sort_by_cached_key(|f| (clash_key(&f.name), f.name.clone(), f.id));
    // Names that are free keep them; only then are numbers handed out, so "a (2)"
    // moving up is never pushed aside by "a" becoming "a (2)".
    let (keep, rename): (Vec<_>, Vec<_>) = moving
        .into_iter()
        .partition(|f| !taken.contains(&clash_key(&f.name)));
    let mut placed = Vec::with_capacity(keep.len() + rename.len());
    for f in keep {
        taken.insert(clash_key(&f.name));
        placed.push((f.id, f.name));
    }
    for f in rename {
        // One more candidate than names taken: at least one of them is free.
        let name = (2..)
            .take(taken.len() + 1)
            .map(|n| numbered(&f.name, n))
            .find(|candidate| !taken.contains(&clash_key(candidate)))
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no free folder name")))?;
        taken.insert(clash_key(&name));
        placed.push((f.id, name));
    }
    for (child, name) in &placed {
        repo::place(&txn, user, *child, target, name)
            .await
            .map_err(name_taken_on_race)?;
    }
    folders::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    let deleted = Deleted {
        documents,
        folders: placed.len() as u64,
    };
    tracing::info!(
        documents = deleted.documents,
        folders = deleted.folders,
        "folder deleted; contents moved up"
    );
    Ok(deleted)
}

/// The caller's folder at `path` (names from the root down; empty = the root, `None`),
/// creating the missing steps with [`create`]. An existing folder is matched by the
/// sibling-name rule (ignoring case: `tax` files into `Tax`), and a folder another
/// request created meanwhile is found again rather than refused: what intake paths (the
/// watched folder's sub-folders) file new documents under.
#[tracing::instrument(skip_all)]
pub async fn ensure_path(
    db: &DatabaseConnection,
    user: UserId,
    path: &[FolderName],
) -> Result<Option<FolderId>, ApiError> {
    async fn existing(
        db: &DatabaseConnection,
        user: UserId,
        parent: Option<Uuid>,
        key: &str,
    ) -> Result<Option<Uuid>, ApiError> {
        Ok(repo::children(db, user, parent)
            .await?
            .into_iter()
            .find(|f| clash_key(&f.name) == key)
            .map(|f| f.id))
    }
    let mut parent: Option<Uuid> = None;
    for name in path {
        let key = name.clash_key();
        let id = match existing(db, user, parent, &key).await? {
            Some(id) => id,
            None => match create(db, user, name.clone(), parent.map(FolderId::from)).await {
                Ok(row) => row.folder.id,
                Err(ApiError::Conflict {
                    code: crate::error::ErrorCode::FolderExists,
                    ..
                }) => existing(db, user, parent, &key)
                    .await?
                    .ok_or_else(name_taken)?,
                Err(e) => return Err(e),
            },
        };
        parent = Some(id);
    }
    Ok(parent.map(FolderId::from))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn within_follows_parents_and_stops_on_loops() {
        let (a, b, c, other) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        // a / b / c, and `other` at the root.
        let tree = HashMap::from([(a, None), (b, Some(a)), (c, Some(b)), (other, None)]);
        assert!(is_within(&tree, a, a));
        assert!(is_within(&tree, c, a));
        assert!(is_within(&tree, b, a));
        assert!(!is_within(&tree, a, c));
        assert!(!is_within(&tree, other, a));
        let looped = HashMap::from([(a, Some(b)), (b, Some(a))]);
        assert!(is_within(&looped, a, other));
    }
}
