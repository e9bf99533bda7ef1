//! Folder queries, always scoped to the owning account. Functions over
//! `&impl ConnectionTrait`, so they run on the pool or inside a transaction.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, QuerySelect, Select,
};
use uuid::Uuid;

use crate::domain::UserId;
use crate::entities::{documents, folders, users};
use crate::folders::name::clash_key;

/// Serialises folder changes per account until the transaction ends: on PostgreSQL a
/// row lock on the account; on SQLite the write transaction already holds the lock.
/// Without it two concurrent moves could each pass the cycle check and form a loop.
pub async fn lock_owner(db: &impl ConnectionTrait, user: UserId) -> Result<(), DbErr> {
    users::Entity::find_by_id(user)
        .select_only()
        .column(users::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(())
}

/// All folders of `user`.
pub async fn all_for_user(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Vec<folders::Model>, DbErr> {
    folders::Entity::find()
        .filter(folders::Column::UserId.eq(user))
        .all(db)
        .await
}

/// The folder `id` if `user` owns it; someone else's folder is as absent as a missing one.
pub async fn find_owned(
    db: &impl ConnectionTrait,
    user: UserId,
    id: Uuid,
) -> Result<Option<folders::Model>, DbErr> {
    folders::Entity::find_by_id(id)
        .filter(folders::Column::UserId.eq(user))
        .one(db)
        .await
}

fn in_parent(user: UserId, parent: Option<Uuid>) -> Select<folders::Entity> {
    let query = folders::Entity::find().filter(folders::Column::UserId.eq(user));
    match parent {
        Some(p) => query.filter(folders::Column::ParentId.eq(p)),
        None => query.filter(folders::Column::ParentId.is_null()),
    }
}

/// Folders directly under `parent` (`None`: the root).
pub async fn children(
    db: &impl ConnectionTrait,
    user: UserId,
    parent: Option<Uuid>,
) -> Result<Vec<folders::Model>, DbErr> {
    in_parent(user, parent).all(db).await
}

/// Clash keys of the names under `parent`, leaving out folder `except` (the one being
/// renamed or moved, which does not clash with itself).
pub async fn sibling_keys(
    db: &impl ConnectionTrait,
    user: UserId,
    parent: Option<Uuid>,
    except: Option<Uuid>,
) -> Result<Vec<String>, DbErr> {
    let mut query = in_parent(user, parent)
        .select_only()
        .column(folders::Column::Name);
    if let Some(id) = except {
        query = query.filter(folders::Column::Id.ne(id));
    }
    let names: Vec<String> = query.into_tuple().all(db).await?;
    Ok(names.iter().map(|n| clash_key(n)).collect())
}

/// Documents per folder of `user` (only `folder`, if given), in one grouped query;
/// folders without documents are absent. What the folder's listing shows is counted:
/// unconfirmed uploads and the trash are not. The condition is written as the live list
/// indexes' predicate (literals: SQLite uses a partial index only for a query that
/// repeats its terms), so the count reads `idx_documents_list_folder` alone.
pub async fn document_counts(
    db: &impl ConnectionTrait,
    user: UserId,
    folder: Option<Uuid>,
) -> Result<HashMap<Uuid, u64>, DbErr> {
    let mut query = documents::Entity::find()
        .select_only()
        .column(documents::Column::FolderId)
        .column_as(Expr::col(documents::Column::Id).count(), "n")
        .filter(documents::Column::UserId.eq(user))
        .filter(Expr::cust(crate::documents::access::LIVE_PREDICATE));
    query = match folder {
        Some(f) => query.filter(documents::Column::FolderId.eq(f)),
        None => query.filter(documents::Column::FolderId.is_not_null()),
    };
    let rows: Vec<(Option<Uuid>, i64)> = query
        .group_by(documents::Column::FolderId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, n)| Some((id?, u64::try_from(n).unwrap_or(0))))
        .collect())
}

/// Moves every document of `user` in folder `from` to `to` (`None`: no folder).
pub async fn move_documents(
    db: &impl ConnectionTrait,
    user: UserId,
    from: Uuid,
    to: Option<Uuid>,
) -> Result<u64, DbErr> {
    let res = documents::Entity::update_many()
        .col_expr(documents::Column::FolderId, Expr::value(to))
        .col_expr(
            documents::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::FolderId.eq(from))
        // Trashed documents stay: the folder's deletion puts them at the root (foreign
        // key, set null), where a restore brings them back.
        .filter(documents::Column::TrashedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Sets the parent and name of `user`'s folder `id`.
pub async fn place(
    db: &impl ConnectionTrait,
    user: UserId,
    id: Uuid,
    parent: Option<Uuid>,
    name: &str,
) -> Result<(), DbErr> {
    folders::Entity::update_many()
        .col_expr(folders::Column::ParentId, Expr::value(parent))
        .col_expr(folders::Column::Name, Expr::value(name))
        .col_expr(folders::Column::UpdatedAt, Expr::value(crate::time::now()))
        .filter(folders::Column::Id.eq(id))
        .filter(folders::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(())
}
