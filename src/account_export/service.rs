//! What a user's export holds (the plan: which originals under which names, and the
//! manifest), and the short-lived signed link a browser downloads it by.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::Keys;
use crate::domain::{ObjectKey, UserId};
use crate::entities::documents::{self, DocumentStatus};
use crate::entities::{
    DocumentDateSource, StatusReason, api_tokens, document_topics, folders, topics, users,
};
use crate::error::ApiError;
use crate::storage::ObjectStore;

/// Version of the `manifest.json` layout; raised when a field changes meaning or goes.
pub const MANIFEST_VERSION: u32 = 1;

/// Name of the manifest inside the zip (at its root; a document of that name at the root
/// is numbered instead).
pub const MANIFEST_NAME: &str = "manifest.json";

pub use super::zip_stream::ZipEntry;

/// Everything an export writes: the originals in order, then the manifest.
#[derive(Debug)]
pub struct ExportPlan {
    /// The originals (at `<folder path>/<file name>`), in the order they are written
    /// (index = `Manifest::documents` index).
    pub entries: Vec<ZipEntry>,
    /// The manifest, completed once the originals are written (missing ones marked).
    pub manifest: Manifest,
}

/// `manifest.json`: the caller's documents, folders and topics as they were at the
/// export. Documented in the README ("Your own export").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `docuvault-user-export`.
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// When the export started.
    pub exported_at: DateTime<Utc>,
    /// Whose documents these are.
    pub account: ManifestAccount,
    /// Every live, confirmed document, in zip order.
    pub documents: Vec<ManifestDocument>,
    /// Every folder of the account.
    pub folders: Vec<ManifestFolder>,
    /// The account's own topics and the system topics any of its documents is filed under.
    pub topics: Vec<ManifestTopic>,
    /// The account's saved views, by name.
    #[serde(default)]
    pub views: Vec<ManifestView>,
}

/// One saved view: a name and the list parameters it stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestView {
    /// View id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The parameters of `GET /api/documents` (`q`, `content_type`, `folder_id`, …).
    pub query: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// The exporting account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestAccount {
    /// Account id.
    pub id: Uuid,
    /// Handle.
    pub handle: String,
    /// E-mail address.
    pub email: String,
    /// How the account's searches match words (`simple`, `english`, `german`); absent in
    /// exports made before it existed.
    #[serde(default)]
    pub search_language: crate::entities::SearchLanguage,
}

/// One document in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestDocument {
    /// Document id.
    pub id: Uuid,
    /// Where its original is in the zip; null when the original could not be read
    /// (`included` false).
    pub path: Option<String>,
    /// Whether the original is in the zip (false only when storage lost it).
    pub included: bool,
    /// The file name as stored (the zip name may carry a ` (n)` to resolve a clash).
    pub filename: String,
    /// Folder id; null at the root.
    pub folder_id: Option<Uuid>,
    /// Folder path (`Tax/2024`); null at the root.
    pub folder_path: Option<String>,
    /// Stored type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the original (null for documents confirmed before
    /// hashes were recorded).
    pub sha256: Option<String>,
    /// Lifecycle status (`queued`, `processing`, `classified`, `unclassified`, `failed`).
    pub status: DocumentStatus,
    /// Why a processed document has no text yet, if so.
    pub status_reason: Option<StatusReason>,
    /// Whether AI classification is off for it.
    pub ai_opt_out: bool,
    /// Its own date (`YYYY-MM-DD`), when known.
    pub document_date: Option<chrono::NaiveDate>,
    /// Where that date came from (`content`, `filename`, `user`).
    pub document_date_source: Option<DocumentDateSource>,
    /// Pages, when counted (PDFs).
    pub page_count: Option<i32>,
    /// The topics it is filed under.
    pub topics: Vec<ManifestDocumentTopic>,
    /// The topics you said it does not belong to (ids, see `topics`): the classifier never
    /// files it there nor suggests them.
    #[serde(default)]
    pub rejected_topics: Vec<Uuid>,
    /// Uploaded.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A document's topic link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestDocumentTopic {
    /// Topic id (see `topics`).
    pub id: Uuid,
    /// Topic name.
    pub name: String,
    /// Who filed it there (`user`, `ai`, …).
    pub source: String,
    /// The classifier's confidence, when it filed it.
    pub confidence: Option<f64>,
}

/// One folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFolder {
    /// Folder id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Parent folder; null at the root.
    pub parent_id: Option<Uuid>,
    /// Full path from the root (`Tax/2024`), as used in the zip.
    pub path: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// One topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestTopic {
    /// Topic id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Colour (`#rrggbb`).
    pub color: Option<String>,
    /// Whether it is a system topic (shared by every account) rather than the account's own.
    pub system: bool,
}

/// The columns an export reads (never the extracted text).
#[derive(Debug, FromQueryResult)]
struct DocumentRow {
    id: Uuid,
    folder_id: Option<Uuid>,
    filename: String,
    object_key: String,
    content_type: String,
    size_bytes: i64,
    sha256: Option<String>,
    status: DocumentStatus,
    status_reason: Option<StatusReason>,
    ai_opt_out: bool,
    document_date: Option<chrono::NaiveDate>,
    document_date_source: Option<DocumentDateSource>,
    page_count: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Live (not trashed) and confirmed (not `pending`) documents of `user`.
fn live_documents(user: UserId) -> sea_orm::Select<documents::Entity> {
    documents::Entity::find()
        .filter(documents::Column::UserId.eq(user))
        .filter(documents::Column::TrashedAt.is_null())
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
}

/// Reads what the export of `user` holds and names every original. The account's data
/// is read in a handful of queries (documents without their text); the bytes are read
/// later, one original at a time, while the zip is written.
#[tracing::instrument(skip_all)]
pub async fn plan(db: &impl ConnectionTrait, user: &users::Model) -> Result<ExportPlan, ApiError> {
    let user_id: UserId = user.id.into();
    let folder_rows = crate::folders::repo::all_for_user(db, user_id).await?;
    let paths = folder_paths(&folder_rows);
    let rows: Vec<DocumentRow> = live_documents(user_id)
        .select_only()
        .columns([
            documents::Column::Id,
            documents::Column::FolderId,
            documents::Column::Filename,
            documents::Column::ObjectKey,
            documents::Column::ContentType,
            documents::Column::SizeBytes,
            documents::Column::Sha256,
            documents::Column::Status,
            documents::Column::StatusReason,
            documents::Column::AiOptOut,
            documents::Column::DocumentDate,
            documents::Column::DocumentDateSource,
            documents::Column::PageCount,
            documents::Column::CreatedAt,
            documents::Column::UpdatedAt,
        ])
        .order_by_asc(documents::Column::CreatedAt)
        .order_by_asc(documents::Column::Id)
        .into_model::<DocumentRow>()
        .all(db)
        .await?;
    let links: Vec<document_topics::Model> = document_topics::Entity::find()
        .join(
            JoinType::InnerJoin,
            document_topics::Relation::Document.def(),
        )
        .filter(documents::Column::UserId.eq(user_id))
        .filter(documents::Column::TrashedAt.is_null())
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .all(db)
        .await?;
    let mut rejected_of = crate::classify::feedback::rejections_of(db, user_id.into()).await?;
    let used_topics: HashSet<Uuid> = links
        .iter()
        .map(|l| l.topic_id)
        .chain(rejected_of.values().flatten().copied())
        .collect();
    let mut topic_rows: Vec<topics::Model> = topics::Entity::find()
        .filter(
            topics::Column::UserId
                .eq(user_id)
                .or(topics::Column::Id.is_in(used_topics.iter().copied())),
        )
        .all(db)
        .await?;
    crate::topics::service::sort_topics(&mut topic_rows, |t| t);
    let topic_names: HashMap<Uuid, &str> =
        topic_rows.iter().map(|t| (t.id, t.name.as_str())).collect();
    let mut topics_of: HashMap<Uuid, Vec<ManifestDocumentTopic>> = HashMap::new();
    for link in &links {
        topics_of
            .entry(link.document_id)
            .or_default()
            .push(ManifestDocumentTopic {
                id: link.topic_id,
                name: topic_names
                    .get(&link.topic_id)
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
                source: link.source.as_str().to_owned(),
                confidence: link.confidence,
            });
    }
    for list in topics_of.values_mut() {
        list.sort_by_cached_key(|t| (crate::topics::service::clash_key(&t.name), t.id));
    }

    let mut names = ZipNames::default();
    names.reserve(MANIFEST_NAME);
    for path in paths.values() {
        names.reserve(path);
    }
    let mut entries = Vec::with_capacity(rows.len());
    let mut manifest_documents = Vec::with_capacity(rows.len());
    for row in rows {
        let folder_path = row.folder_id.and_then(|f| paths.get(&f).cloned());
        let path = names.claim(folder_path.as_deref(), &row.filename);
        let object_key =
            ObjectKey::parse(&row.object_key).map_err(|e| ApiError::Internal(e.into()))?;
        let size_bytes = u64::try_from(row.size_bytes).unwrap_or_default();
        entries.push(ZipEntry {
            path: path.clone(),
            object_key,
            content_type: row.content_type.clone(),
            size_bytes,
            modified: row.created_at,
        });
        manifest_documents.push(ManifestDocument {
            id: row.id,
            path: Some(path),
            included: true,
            filename: row.filename,
            folder_id: row.folder_id,
            folder_path,
            content_type: row.content_type,
            size_bytes,
            sha256: row.sha256,
            status: row.status,
            status_reason: row.status_reason,
            ai_opt_out: row.ai_opt_out,
            document_date: row.document_date,
            document_date_source: row.document_date_source,
            page_count: row.page_count,
            topics: topics_of.remove(&row.id).unwrap_or_default(),
            rejected_topics: rejected_of.remove(&row.id).unwrap_or_default(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        });
    }
    let mut manifest_folders: Vec<ManifestFolder> = folder_rows
        .into_iter()
        .map(|f| ManifestFolder {
            path: paths.get(&f.id).cloned().unwrap_or_default(),
            id: f.id,
            name: f.name,
            parent_id: f.parent_id,
            created_at: f.created_at,
        })
        .collect();
    manifest_folders.sort_by_cached_key(|f| (f.path.to_lowercase(), f.id));
    let views = crate::saved_views::service::list(db, user_id)
        .await?
        .into_iter()
        .map(|v| ManifestView {
            id: v.id,
            name: v.name,
            query: v.query,
            created_at: v.created_at,
        })
        .collect();
    Ok(ExportPlan {
        entries,
        manifest: Manifest {
            format: "docuvault-user-export".into(),
            version: MANIFEST_VERSION,
            exported_at: crate::time::now(),
            account: ManifestAccount {
                id: user.id,
                handle: user.handle.clone(),
                email: user.email.clone(),
                search_language: user.search_language,
            },
            documents: manifest_documents,
            folders: manifest_folders,
            topics: topic_rows
                .into_iter()
                .map(|t| ManifestTopic {
                    system: t.user_id.is_none(),
                    id: t.id,
                    name: t.name,
                    description: t.description,
                    color: t.color,
                })
                .collect(),
            views,
        },
    })
}

/// One path component as it may appear in a zip name: no separators of any platform.
fn zip_component(name: &str) -> String {
    name.replace(['/', '\\'], "_")
}

/// Each folder's full path from the root (`Tax/2024`). A loop in stored data (never
/// written by the folder service) ends the path where it repeats.
fn folder_paths(rows: &[folders::Model]) -> HashMap<Uuid, String> {
    let by_id: HashMap<Uuid, &folders::Model> = rows.iter().map(|f| (f.id, f)).collect();
    rows.iter()
        .map(|folder| {
            let mut parts = Vec::new();
            let mut seen = HashSet::new();
            let mut current = Some(folder);
            while let Some(f) = current {
                if !seen.insert(f.id) {
                    break;
                }
                parts.push(zip_component(&f.name));
                current = f.parent_id.and_then(|p| by_id.get(&p).copied());
            }
            parts.reverse();
            (folder.id, parts.join("/"))
        })
        .collect()
}

/// The names taken inside one zip, compared ignoring case (two names differing only in
/// case would overwrite each other when unpacked on most desktops).
#[derive(Debug, Default)]
pub struct ZipNames {
    taken: HashSet<String>,
}

impl ZipNames {
    /// Marks `path` as taken (the manifest, folders).
    pub fn reserve(&mut self, path: &str) {
        self.taken.insert(path.to_lowercase());
    }

    /// The zip path of `filename` in `folder` (`None`: the root): `folder/filename`, or
    /// when that is taken `folder/name (2).ext`, `(3)`, … (the folders' clash rule,
    /// `folders::name::numbered`, applied before the extension).
    pub fn claim(&mut self, folder: Option<&str>, filename: &str) -> String {
        let filename = zip_component(filename);
        let join = |name: &str| match folder {
            Some(dir) if !dir.is_empty() => format!("{dir}/{name}"),
            _ => name.to_owned(),
        };
        let mut candidate = join(&filename);
        let (stem, ext) = split_extension(&filename);
        let mut n = 2;
        while self.taken.contains(&candidate.to_lowercase()) {
            let numbered = crate::folders::name::numbered(stem, n);
            candidate = join(&format!("{numbered}{ext}"));
            n += 1;
        }
        self.taken.insert(candidate.to_lowercase());
        candidate
    }
}

/// `("report", ".pdf")`; a name without a dot, or whose only dot leads, has no extension.
fn split_extension(filename: &str) -> (&str, &str) {
    match filename.rfind('.') {
        Some(i) if i > 0 => filename.split_at(i),
        _ => (filename, ""),
    }
}

/// `docuvault-export-<handle>-<YYYY-MM-DD>.zip`.
pub fn archive_name(handle: &str, at: DateTime<Utc>) -> String {
    format!("docuvault-export-{handle}-{}.zip", at.format("%Y-%m-%d"))
}

/// What an export link allows: this account's export, from this session, until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportGrant {
    /// The exporting account.
    pub user_id: Uuid,
    /// The session that asked for the link; revoking it (logout) voids the link.
    pub session_id: Uuid,
    /// When it was issued, Unix microseconds: "sign out everywhere" and a password change
    /// (`users.tokens_valid_after`) void links issued before them.
    pub issued_us: i64,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// Whether a personal API token asked for the link (`session_id` is then the
    /// token's id, and deleting the token voids the link).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api_token: bool,
}

impl ExportGrant {
    /// When the link stops working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.expires, 0).unwrap_or_default()
    }
}

/// A grant carried by a signed link (the export's, a selection's zip): signed under its
/// own purpose string, so no kind of link can stand in for another.
pub trait LinkGrant: Serialize + serde::de::DeserializeOwned {
    /// The purpose string the signature is keyed with.
    const PURPOSE: &'static str;
    /// The account, session and lifetime the link is bound to.
    fn link(&self) -> &ExportGrant;
}

impl LinkGrant for ExportGrant {
    const PURPOSE: &'static str = "account-export-url:";
    fn link(&self) -> &ExportGrant {
        self
    }
}

/// The token of `grant`, signed under the server keys (a different purpose string from
/// every other signed token, so none can stand in for another).
pub fn sign_grant<G: LinkGrant>(keys: &Keys, grant: &G) -> String {
    keys.sign_payload(G::PURPOSE, grant)
}

/// The grant in `token` when its signature is right and it has not expired at `now`.
pub fn verify_grant<G: LinkGrant>(keys: &Keys, token: &str, now: i64) -> Option<G> {
    let grant: G = keys.verify_payload(G::PURPOSE, token)?;
    (grant.link().expires > now).then_some(grant)
}

/// A grant for `user`'s current session (or API token), valid `ttl_secs` from now.
pub fn grant_for(user: &crate::auth::extract::AuthSession, ttl_secs: u64) -> ExportGrant {
    let now = crate::time::now();
    let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
    ExportGrant {
        user_id: user.user.id,
        session_id: user.session_id,
        issued_us: now.timestamp_micros(),
        expires: (now + chrono::Duration::seconds(ttl)).timestamp(),
        api_token: matches!(
            user.credential,
            crate::auth::extract::Credential::ApiToken { .. }
        ),
    }
}

/// The account a verified link still speaks for: active, a regular account without a
/// pending password change, the link issued after its last "sign out everywhere" or
/// password change, and its session (or API token) not ended. `None`: the link is void.
pub async fn link_holder(
    db: &impl ConnectionTrait,
    grant: &ExportGrant,
) -> Result<Option<users::Model>, ApiError> {
    let Some(user) = users::Entity::find_by_id(grant.user_id).one(db).await? else {
        return Ok(None);
    };
    let usable = user.is_active
        && user.role == users::Role::User
        && !user.password_must_change
        && grant.issued_us >= user.tokens_valid_after.timestamp_micros();
    let ended = if grant.api_token {
        api_tokens::Entity::find_by_id(grant.session_id)
            .one(db)
            .await?
            .is_none_or(|t| t.user_id != user.id)
    } else {
        crate::auth::sessions::is_revoked(db, grant.session_id).await?
    };
    Ok((usable && !ended).then_some(user))
}

/// What a link `token` grants and the account it still speaks for; `None` when the
/// token is forged, of another purpose, expired, or its holder can no longer use it
/// ([`link_holder`]).
pub async fn redeem<G: LinkGrant>(
    db: &impl ConnectionTrait,
    keys: &Keys,
    token: &str,
) -> Result<Option<(G, users::Model)>, ApiError> {
    let Some(grant) = verify_grant::<G>(keys, token, chrono::Utc::now().timestamp()) else {
        return Ok(None);
    };
    Ok(link_holder(db, grant.link())
        .await?
        .map(|user| (grant, user)))
}

/// The body of an export: the zip, written while it is sent (see `zip_stream`), then the
/// manifest (originals storage no longer had marked as not included).
pub fn stream(
    storage: Arc<dyn ObjectStore>,
    plan: ExportPlan,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, std::io::Error>> + 'static {
    let ExportPlan {
        entries,
        mut manifest,
    } = plan;
    let trailer: super::zip_stream::Trailer = Box::new(move |missing: &[usize]| {
        for &index in missing {
            if let Some(doc) = manifest.documents.get_mut(index) {
                doc.included = false;
                doc.path = None;
            }
        }
        let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        Ok((MANIFEST_NAME.to_owned(), json))
    });
    super::zip_stream::stream(storage, entries, Some(trailer))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn clashing_names_are_numbered_before_the_extension_ignoring_case() {
        let mut names = ZipNames::default();
        names.reserve(MANIFEST_NAME);
        names.reserve("Tax");
        assert_eq!(names.claim(None, "a.pdf"), "a.pdf");
        assert_eq!(names.claim(None, "A.PDF"), "A (2).PDF");
        assert_eq!(names.claim(None, "a.pdf"), "a (3).pdf");
        assert_eq!(names.claim(Some("Tax"), "a.pdf"), "Tax/a.pdf");
        assert_eq!(names.claim(None, "tax"), "tax (2)");
        assert_eq!(names.claim(None, "manifest.json"), "manifest (2).json");
        assert_eq!(names.claim(None, ".env"), ".env");
        assert_eq!(names.claim(None, ".env"), ".env (2)");
        assert_eq!(names.claim(None, "a\\b.txt"), "a_b.txt");
    }

    #[test]
    fn folder_paths_follow_parents_and_survive_loops() {
        let now = crate::time::now();
        let folder = |id: Uuid, parent: Option<Uuid>, name: &str| folders::Model {
            id,
            user_id: Uuid::nil(),
            parent_id: parent,
            name: name.into(),
            created_at: now,
            updated_at: now,
        };
        let (a, b, c, d) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let paths = folder_paths(&[
            folder(a, None, "Tax"),
            folder(b, Some(a), "2024"),
            folder(c, Some(d), "x"),
            folder(d, Some(c), "y"),
        ]);
        assert_eq!(paths[&a], "Tax");
        assert_eq!(paths[&b], "Tax/2024");
        assert_eq!(paths[&c], "y/x");
    }

    #[test]
    fn grants_verify_until_they_expire_and_only_under_their_key() {
        let keys = Keys::derive("k");
        let grant = ExportGrant {
            user_id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
            issued_us: 1_000_000,
            expires: 2_000,
            api_token: false,
        };
        let token = sign_grant(&keys, &grant);
        assert_eq!(verify_grant(&keys, &token, 1_999), Some(grant.clone()));
        assert_eq!(verify_grant::<ExportGrant>(&keys, &token, 2_000), None);
        assert_eq!(
            verify_grant::<ExportGrant>(&Keys::derive("other"), &token, 0),
            None
        );
        let (_, mac) = token.split_once('.').unwrap();
        let mut other = grant;
        other.user_id = Uuid::new_v4();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        assert_eq!(
            verify_grant::<ExportGrant>(&keys, &format!("{forged}.{mac}"), 0),
            None
        );
    }

    #[test]
    fn the_archive_is_named_after_the_handle_and_day() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            archive_name("alice", at),
            "docuvault-export-alice-2026-12-06.zip"
        );
    }
}
