//! The quota statements: reserve a pending upload's declared size, settle it into a
//! charge on confirm, refund a charge or release a reservation. Each is one conditional
//! statement over `&impl ConnectionTrait`, so the caller runs it in the transaction that
//! changes the document row (see [`crate::documents::service`] for the bookkeeping).
//!
//! Each statement is built once with the query builder and rendered by the connection
//! for its backend (placeholders, `GREATEST` on PostgreSQL / `MAX` on SQLite): the same
//! code path on both, no SQL text rewritten per backend.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, DbErr};

use crate::domain::UserId;
use crate::entities::quotas;

/// `column - delta`, never below zero.
fn minus_floored_at_zero(column: quotas::Column, delta: i64) -> Expr {
    Func::greatest([Expr::val(0_i64), Expr::col(column).sub(delta)]).into()
}

/// Reserves `size` bytes for a new upload when `used + reserved + size <= limit`, in one
/// conditional statement; `false` when it does not fit.
pub async fn reserve_quota(
    db: &impl ConnectionTrait,
    user: UserId,
    size: i64,
) -> Result<bool, DbErr> {
    let stmt = Query::update()
        .table(quotas::Entity)
        .value(
            quotas::Column::ReservedBytes,
            Expr::col(quotas::Column::ReservedBytes).add(size),
        )
        .and_where(Expr::col(quotas::Column::UserId).eq(user))
        .and_where(
            Expr::col(quotas::Column::UsedBytes)
                .add(Expr::col(quotas::Column::ReservedBytes))
                .add(size)
                .lte(Expr::col(quotas::Column::LimitBytes)),
        )
        .to_owned();
    Ok(db.execute(&stmt).await?.rows_affected() == 1)
}

/// Turns the reservation of a confirmed upload (`declared` bytes) into a charge of its
/// stored `size`, if the limit still allows the charge (an administrator may have
/// lowered it since); the new `used_bytes`, or `None` when refused.
pub async fn settle_reservation(
    db: &impl ConnectionTrait,
    user: UserId,
    declared: i64,
    size: i64,
) -> Result<Option<i64>, DbErr> {
    let stmt = Query::update()
        .table(quotas::Entity)
        .value(
            quotas::Column::UsedBytes,
            Expr::col(quotas::Column::UsedBytes).add(size),
        )
        .value(
            quotas::Column::ReservedBytes,
            minus_floored_at_zero(quotas::Column::ReservedBytes, declared),
        )
        .and_where(Expr::col(quotas::Column::UserId).eq(user))
        .and_where(
            Expr::col(quotas::Column::UsedBytes)
                .add(size)
                .lte(Expr::col(quotas::Column::LimitBytes)),
        )
        .returning_col(quotas::Column::UsedBytes)
        .to_owned();
    Ok(match db.query_one(&stmt).await? {
        Some(r) => Some(r.try_get::<i64>("", "used_bytes")?),
        None => None,
    })
}

/// Gives back `delta` charged bytes, never going below zero.
pub async fn refund_quota(
    db: &impl ConnectionTrait,
    user: UserId,
    delta: i64,
) -> Result<(), DbErr> {
    give_back(db, user, quotas::Column::UsedBytes, delta).await
}

/// Releases `delta` reserved bytes (a pending upload went away), never below zero.
pub async fn release_reservation(
    db: &impl ConnectionTrait,
    user: UserId,
    delta: i64,
) -> Result<(), DbErr> {
    give_back(db, user, quotas::Column::ReservedBytes, delta).await
}

async fn give_back(
    db: &impl ConnectionTrait,
    user: UserId,
    column: quotas::Column,
    delta: i64,
) -> Result<(), DbErr> {
    let stmt = Query::update()
        .table(quotas::Entity)
        .value(column, minus_floored_at_zero(column, delta))
        .and_where(Expr::col(quotas::Column::UserId).eq(user))
        .to_owned();
    db.execute(&stmt).await?;
    Ok(())
}
