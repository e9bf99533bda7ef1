//! The quota statements: reserve a pending upload's declared size, settle it into a
//! charge on confirm, refund a charge or release a reservation. Each is one conditional
//! statement over `&impl ConnectionTrait`, so the caller runs it in the transaction that
//! changes the document row (see [`crate::documents::service`] for the bookkeeping).

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};
use uuid::Uuid;

/// `sql` written with PostgreSQL's `$n` placeholders, for the connection's backend
/// (SQLite spells them `?n`).
pub(crate) fn for_backend(backend: DatabaseBackend, sql: &str) -> String {
    if backend == DatabaseBackend::Postgres {
        sql.to_owned()
    } else {
        sql.replace('$', "?").replace("GREATEST(", "MAX(")
    }
}

/// Reserves `size` bytes for a new upload when `used + reserved + size <= limit`, in one
/// conditional statement; `false` when it does not fit.
pub async fn reserve_quota(
    db: &impl ConnectionTrait,
    user: Uuid,
    size: i64,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = for_backend(
        backend,
        "UPDATE quotas SET reserved_bytes = reserved_bytes + $1 WHERE user_id = $2 \
         AND used_bytes + reserved_bytes + $1 <= limit_bytes",
    );
    let res = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [size.into(), user.into()],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Turns the reservation of a confirmed upload (`declared` bytes) into a charge of its
/// stored `size`, if the limit still allows the charge (an administrator may have
/// lowered it since); the new `used_bytes`, or `None` when refused.
pub async fn settle_reservation(
    db: &impl ConnectionTrait,
    user: Uuid,
    declared: i64,
    size: i64,
) -> Result<Option<i64>, DbErr> {
    let backend = db.get_database_backend();
    let sql = for_backend(
        backend,
        "UPDATE quotas SET used_bytes = used_bytes + $1, \
         reserved_bytes = GREATEST(0, reserved_bytes - $2) \
         WHERE user_id = $3 AND used_bytes + $1 <= limit_bytes RETURNING used_bytes",
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [size.into(), declared.into(), user.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<i64>("", "used_bytes")?),
        None => None,
    })
}

/// Gives back `delta` charged bytes, never going below zero.
pub async fn refund_quota(db: &impl ConnectionTrait, user: Uuid, delta: i64) -> Result<(), DbErr> {
    give_back(db, user, "used_bytes", delta).await
}

/// Releases `delta` reserved bytes (a pending upload went away), never below zero.
pub async fn release_reservation(
    db: &impl ConnectionTrait,
    user: Uuid,
    delta: i64,
) -> Result<(), DbErr> {
    give_back(db, user, "reserved_bytes", delta).await
}

async fn give_back(
    db: &impl ConnectionTrait,
    user: Uuid,
    column: &'static str,
    delta: i64,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = for_backend(
        backend,
        &format!("UPDATE quotas SET {column} = GREATEST(0, {column} - $1) WHERE user_id = $2"),
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [delta.into(), user.into()],
    ))
    .await?;
    Ok(())
}
