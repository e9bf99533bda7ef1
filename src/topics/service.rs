//! Topic use cases: validation of names, descriptions and colours; listing with document
//! counts; create, change and delete in a user's namespace or among system topics.
//!
//! Every change runs in one write transaction that first serialises changes to the
//! namespace (the owner's row lock for a user's topics, an advisory lock for system
//! topics on PostgreSQL; SQLite's write lock covers both), so the case-insensitive name
//! checks cannot race. The unique indexes on `lower(name)` are the last line of defence.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, ExprTrait, IntoActiveModel, JoinType, QueryFilter, QuerySelect, RelationTrait,
    Set,
};
use uuid::Uuid;

use crate::db::AdvisoryLock;
use crate::domain::{InvalidInput, TopicId, UserId};
use crate::entities::{DocumentStatus, document_topics, documents, topics, users};
use crate::error::ApiError;

/// The OpenAPI pattern for a topic name; it forbids exactly what [`TopicName::parse`]
/// rejects besides length (control characters, nothing but spaces), so a request the
/// schema allows never gets a 422. The space class is Unicode `White_Space` minus
/// control characters, which is what `str::trim` strips here.
pub const NAME_PATTERN: &str = r"^(?![\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$)[^\u0000-\u001F\u007F-\u009F]+$";

/// The OpenAPI pattern for a description: any text without control characters other
/// than tab, line feed and carriage return.
pub const DESCRIPTION_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// The OpenAPI pattern for a colour.
pub const COLOR_PATTERN: &str = r"^#[0-9A-Fa-f]{6}$";

fn invalid(e: InvalidInput) -> ApiError {
    ApiError::Unprocessable {
        code: crate::error::ErrorCode::ValidationFailed,
        message: e.0,
    }
}

/// A valid topic name: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicName(String);

impl TopicName {
    /// Longest name, in characters (Unicode scalar values, as JSON Schema counts).
    pub const MAX_CHARS: usize = 100;

    /// Checks the raw name (length, characters) and trims surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, InvalidInput> {
        let n = input.chars().count();
        if !(1..=Self::MAX_CHARS).contains(&n) {
            return Err(InvalidInput(format!(
                "name must be 1–{} characters",
                Self::MAX_CHARS
            )));
        }
        if input.chars().any(char::is_control) {
            return Err(InvalidInput(
                "name must not contain control characters".into(),
            ));
        }
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidInput("name must not be blank".into()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key names are compared by: names differing only in case, or in the spaces around
/// and between words, clash (they read the same in a list). The one rule for names: the
/// topics service, the classifier matching a reply to the user's topics, and the topics
/// classification creates ([`find_or_create_for`]) all compare with it.
pub fn clash_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2000;

/// Checks a description and trims it; a blank one is stored as none.
pub fn parse_description(input: &str) -> Result<Option<String>, InvalidInput> {
    if input.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(InvalidInput(format!(
            "description must be at most {DESCRIPTION_MAX_CHARS} characters"
        )));
    }
    if input
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(InvalidInput(
            "description must not contain control characters".into(),
        ));
    }
    let trimmed = input.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// Checks a `#RRGGBB` colour; stored in lower case.
pub fn parse_color(input: &str) -> Result<String, InvalidInput> {
    let hex = input.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InvalidInput("color must be #RRGGBB".into()));
    }
    Ok(input.to_ascii_lowercase())
}

/// Validated fields of a new topic.
#[derive(Debug, Clone)]
pub struct NewTopic {
    /// Name.
    pub name: TopicName,
    /// Description (none if blank).
    pub description: Option<String>,
    /// `#rrggbb`.
    pub color: Option<String>,
}

impl NewTopic {
    /// Validates raw request fields.
    pub fn parse(
        name: &str,
        description: Option<&str>,
        color: Option<&str>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            name: TopicName::parse(name).map_err(invalid)?,
            description: description
                .map(parse_description)
                .transpose()
                .map_err(invalid)?
                .flatten(),
            color: color.map(parse_color).transpose().map_err(invalid)?,
        })
    }
}

/// Requested changes; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Default, Clone)]
pub struct TopicChanges {
    /// New name.
    pub name: Option<TopicName>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New colour.
    pub color: Option<Option<String>>,
}

impl TopicChanges {
    /// Validates raw request fields.
    pub fn parse(
        name: Option<&str>,
        description: Option<Option<&str>>,
        color: Option<Option<&str>>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            name: name.map(TopicName::parse).transpose().map_err(invalid)?,
            description: description
                .map(|d| d.map(parse_description).transpose().map(Option::flatten))
                .transpose()
                .map_err(invalid)?,
            color: color
                .map(|c| c.map(parse_color).transpose())
                .transpose()
                .map_err(invalid)?,
        })
    }
}

/// A topic as a user sees it.
#[derive(Debug, Clone)]
pub struct TopicRow {
    /// The topic.
    pub topic: topics::Model,
    /// The caller's documents filed under it.
    pub document_count: u64,
}

fn not_found() -> ApiError {
    ApiError::NotFound("No such topic".into())
}

fn name_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::TopicExists,
        message: "A topic with this name (ignoring case) already exists".into(),
    }
}

/// A unique-index violation means a concurrent change took the name first.
fn name_taken_on_race(e: DbErr) -> ApiError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => name_taken(),
        _ => e.into(),
    }
}

/// Serialises changes to one namespace until the transaction ends (`None`: system).
async fn lock_namespace(db: &impl ConnectionTrait, owner: Option<UserId>) -> Result<(), DbErr> {
    match owner {
        Some(user) => {
            users::Entity::find_by_id(user)
                .select_only()
                .column(users::Column::Id)
                .lock(LockType::NoKeyUpdate)
                .into_tuple::<Uuid>()
                .one(db)
                .await?;
        }
        None if db.get_database_backend() == DatabaseBackend::Postgres => {
            db.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({})",
                AdvisoryLock::SystemTopics.id()
            ))
            .await?;
        }
        None => {}
    }
    Ok(())
}

fn in_namespace(owner: Option<UserId>) -> sea_orm::Select<topics::Entity> {
    let query = topics::Entity::find();
    match owner {
        Some(user) => query.filter(topics::Column::UserId.eq(user)),
        None => query.filter(topics::Column::UserId.is_null()),
    }
}

/// The topic `id` of the namespace (`None`: system); anything else is as absent as a
/// missing one.
async fn find_in(
    db: &impl ConnectionTrait,
    owner: Option<UserId>,
    id: TopicId,
) -> Result<Option<topics::Model>, DbErr> {
    in_namespace(owner)
        .filter(topics::Column::Id.eq(id))
        .one(db)
        .await
}

/// Whether `name` clashes with a topic the namespace can see, leaving out `except`:
/// a user's name clashes with their own topics and with system topics; a system name
/// only with other system topics.
async fn clashes(
    db: &impl ConnectionTrait,
    owner: Option<UserId>,
    name: &str,
    except: Option<TopicId>,
) -> Result<bool, DbErr> {
    Ok(clashing(db, owner, name, except).await?.is_some())
}

/// The topic the namespace can see whose name clashes with `name` (see [`clashes`]).
async fn clashing(
    db: &impl ConnectionTrait,
    owner: Option<UserId>,
    name: &str,
    except: Option<TopicId>,
) -> Result<Option<TopicId>, DbErr> {
    let mut query = topics::Entity::find()
        .select_only()
        .column(topics::Column::Id)
        .column(topics::Column::Name);
    query = match owner {
        Some(user) => query.filter(
            topics::Column::UserId
                .eq(user)
                .or(topics::Column::UserId.is_null()),
        ),
        None => query.filter(topics::Column::UserId.is_null()),
    };
    if let Some(id) = except {
        query = query.filter(topics::Column::Id.ne(id));
    }
    let names: Vec<(Uuid, String)> = query.into_tuple().all(db).await?;
    let key = clash_key(name);
    Ok(names
        .into_iter()
        .find(|(_, n)| clash_key(n) == key)
        .map(|(id, _)| id.into()))
}

/// The topic `owner` can use whose name clashes with `name` (their own or a system
/// topic), else a new topic of `owner` called `name`: how classification files a
/// document under a topic it proposed. Runs in the caller's write transaction and takes
/// the namespace lock first, like every other change to topics.
#[tracing::instrument(skip_all)]
pub async fn find_or_create_for(
    db: &impl ConnectionTrait,
    owner: UserId,
    name: &TopicName,
) -> Result<TopicId, DbErr> {
    lock_namespace(db, Some(owner)).await?;
    if let Some(id) = clashing(db, Some(owner), name.as_str(), None).await? {
        return Ok(id);
    }
    let id = TopicId::new();
    topics::Entity::insert(topics::ActiveModel {
        id: Set(id.into()),
        user_id: Set(Some(owner.into())),
        name: Set(name.as_str().to_owned()),
        description: Set(None),
        color: Set(None),
        created_at: Set(crate::time::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// Documents of `user` per topic (only `topic`, if given), in one grouped query; topics
/// without documents are absent. Unconfirmed uploads are not counted.
async fn document_counts(
    db: &impl ConnectionTrait,
    user: UserId,
    topic: Option<TopicId>,
) -> Result<HashMap<Uuid, u64>, DbErr> {
    let mut query = document_topics::Entity::find()
        .select_only()
        .column(document_topics::Column::TopicId)
        .column_as(Expr::col(document_topics::Column::DocumentId).count(), "n")
        .join(
            JoinType::InnerJoin,
            document_topics::Relation::Document.def(),
        )
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::Status.ne(DocumentStatus::Pending));
    if let Some(t) = topic {
        query = query.filter(document_topics::Column::TopicId.eq(t));
    }
    let rows: Vec<(Uuid, i64)> = query
        .group_by(document_topics::Column::TopicId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Display order: by name ignoring case, system topics first on a tie, then exact name,
/// then id.
pub fn sort_topics<T>(rows: &mut [T], topic: impl Fn(&T) -> &topics::Model) {
    rows.sort_by_cached_key(|r| {
        let t = topic(r);
        (
            clash_key(&t.name),
            t.user_id.is_some(),
            t.name.clone(),
            t.id,
        )
    });
}

/// The caller's own topics and the system topics, sorted by name, with the number of
/// the caller's documents under each.
#[tracing::instrument(skip_all)]
pub async fn list_for_user(
    db: &impl ConnectionTrait,
    user: UserId,
) -> Result<Vec<TopicRow>, ApiError> {
    let topics = topics::Entity::find()
        .filter(
            topics::Column::UserId
                .eq(user)
                .or(topics::Column::UserId.is_null()),
        )
        .all(db)
        .await?;
    let counts = document_counts(db, user, None).await?;
    let mut rows: Vec<TopicRow> = topics
        .into_iter()
        .map(|topic| TopicRow {
            document_count: counts.get(&topic.id).copied().unwrap_or(0),
            topic,
        })
        .collect();
    sort_topics(&mut rows, |r| &r.topic);
    Ok(rows)
}

/// Every system topic, sorted by name.
#[tracing::instrument(skip_all)]
pub async fn list_system(db: &impl ConnectionTrait) -> Result<Vec<topics::Model>, ApiError> {
    let mut rows = in_namespace(None).all(db).await?;
    sort_topics(&mut rows, |t| t);
    Ok(rows)
}

/// Creates a topic in `owner`'s namespace (`None`: a system topic).
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &DatabaseConnection,
    owner: Option<UserId>,
    new: NewTopic,
) -> Result<topics::Model, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    lock_namespace(&txn, owner).await?;
    if clashes(&txn, owner, new.name.as_str(), None).await? {
        return Err(name_taken());
    }
    let topic = topics::ActiveModel {
        id: Set(TopicId::new().into()),
        user_id: Set(owner.map(Uuid::from)),
        name: Set(new.name.as_str().to_owned()),
        description: Set(new.description),
        color: Set(new.color),
        created_at: Set(crate::time::now()),
    }
    .insert(&txn)
    .await
    .map_err(name_taken_on_race)?;
    txn.commit().await?;
    Ok(topic)
}

/// Changes topic `id` of `owner`'s namespace (`None`: a system topic).
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &DatabaseConnection,
    owner: Option<UserId>,
    id: TopicId,
    changes: TopicChanges,
) -> Result<topics::Model, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    lock_namespace(&txn, owner).await?;
    let topic = find_in(&txn, owner, id).await?.ok_or_else(not_found)?;
    let mut active = topic.clone().into_active_model();
    if let Some(name) = changes.name
        && name.as_str() != topic.name
    {
        if clashes(&txn, owner, name.as_str(), Some(id)).await? {
            return Err(name_taken());
        }
        active.name = Set(name.as_str().to_owned());
    }
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(color) = changes.color {
        active.color = Set(color);
    }
    let topic = if active.is_changed() {
        active.update(&txn).await.map_err(name_taken_on_race)?
    } else {
        topic
    };
    txn.commit().await?;
    Ok(topic)
}

/// Deletes topic `id` of `owner`'s namespace (`None`: a system topic); its document
/// links go with it (foreign-key cascade). Returns how many links were removed.
#[tracing::instrument(skip_all)]
pub async fn delete(
    db: &DatabaseConnection,
    owner: Option<UserId>,
    id: TopicId,
) -> Result<u64, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    lock_namespace(&txn, owner).await?;
    find_in(&txn, owner, id).await?.ok_or_else(not_found)?;
    // The cascade removes these too; deleting them explicitly keeps the behaviour
    // independent of SQLite's per-connection `foreign_keys` setting.
    let affected: Vec<Uuid> = document_topics::Entity::find()
        .select_only()
        .column(document_topics::Column::DocumentId)
        .filter(document_topics::Column::TopicId.eq(id))
        .into_tuple()
        .all(&txn)
        .await?;
    let links = document_topics::Entity::delete_many()
        .filter(document_topics::Column::TopicId.eq(id))
        .exec(&txn)
        .await?
        .rows_affected;
    topics::Entity::delete_by_id(id).exec(&txn).await?;
    // Documents left without any topic are no longer classified.
    crate::documents::lifecycle::unclassify_topicless(&txn, &affected).await?;
    txn.commit().await?;
    tracing::info!(links, system = owner.is_none(), "topic deleted");
    Ok(links)
}

/// The caller's view of one of their topics after a change.
pub async fn row_for_user(
    db: &impl ConnectionTrait,
    user: UserId,
    topic: topics::Model,
) -> Result<TopicRow, ApiError> {
    let document_count = document_counts(db, user, Some(topic.id.into()))
        .await?
        .get(&topic.id)
        .copied()
        .unwrap_or(0);
    Ok(TopicRow {
        topic,
        document_count,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(TopicName::parse("  Tax ").unwrap().as_str(), "Tax");
        assert_eq!(TopicName::parse("\u{3000}Ä\u{a0}").unwrap().as_str(), "Ä");
        let longest = "é".repeat(100);
        assert_eq!(TopicName::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(TopicName::parse("a/b.").unwrap().as_str(), "a/b.");
        for bad in [
            "",
            " ",
            "\u{3000}",
            "tab\there",
            "\nname",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
            &"x".repeat(101),
        ] {
            assert!(TopicName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_and_colors_are_checked() {
        assert_eq!(parse_description("  ").unwrap(), None);
        assert_eq!(
            parse_description(" a\n\tb ").unwrap().as_deref(),
            Some("a\n\tb")
        );
        assert!(parse_description("nul\0").is_err());
        assert!(parse_description(&"d".repeat(2001)).is_err());
        assert_eq!(parse_color("#A0b1C2").unwrap(), "#a0b1c2");
        for bad in [
            "", "#", "a0b1c2", "#a0b1c", "#a0b1c2d", "#g0b1c2", "#ａ0b1c",
        ] {
            assert!(parse_color(bad).is_err(), "{bad:?}");
        }
    }
}
