//! `docuvault fsck [--repair]`: checks that quotas, document rows and stored objects
//! agree, and with `repair` fixes what is safe to fix.
//!
//! Checks: (a) each account's `quotas.used_bytes` equals the sum of the sizes of its
//! stored document versions (every version counts; a confirmed document without any
//! version record counts its own size), and `quotas.reserved_bytes` the sum of the
//! declared sizes of its pending uploads, of documents and of versions; (b) each
//! confirmed document's object exists with the recorded size, and so does every stored
//! version's; (c) no stored object older than the pending lifetime is unreferenced
//! (neither a document's or version's final key nor the staging key of a pending upload
//! or version); (d) the
//! local store holds no stale temporary files (partial uploads of a crashed process); (e)
//! each processed document (classified, unclassified or failed) whose own object is
//! there has its thumbnail: stored where its row says, or a recorded reason why none can
//! be made. A thumbnail is its document's object: with no document it is an orphan (c).
//! Repair sets quotas to the computed sums, deletes orphan objects, removes stale
//! temporary files and makes missing thumbnails again (in the extraction sandbox, like
//! the pipeline). Documents with a missing or resized object are only reported: their
//! bytes cannot be recreated, and deleting the row is the owner's decision.
//!
//! Exit codes of the command ([`exit`]): 0 nothing found, or everything found was
//! repaired; 1 problems found (dry run) or remaining after repair; 3 the check could not
//! complete (database or storage unreachable). Configuration errors exit 2, as for
//! every command.

use std::collections::{HashMap, HashSet};
use std::fmt;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::documents::files::staging_key;
use crate::documents::lifecycle::FINISHED;
use crate::documents::thumbnails::thumbnail_key;
use crate::domain::ObjectKey;
use crate::entities::{DocumentStatus, VersionStatus, document_versions, documents, quotas};
use crate::jobs::cleanup::pending_cutoff;
use crate::jobs::thumbnails::{self, Made, Subject};
use crate::state::AppState;

/// Exit codes of `docuvault fsck`.
pub mod exit {
    /// Nothing found, or everything found was repaired.
    pub const CLEAN: u8 = 0;
    /// Problems found in a dry run, or left after `--repair`.
    pub const PROBLEMS: u8 = 1;
    /// The check itself failed (database or storage unreachable, …).
    pub const FAILED: u8 = 3;
}

/// Document rows read per query.
const BATCH: u64 = 1000;

/// An account whose recorded usage differs from its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaMismatch {
    /// The account.
    pub user_id: Uuid,
    /// `quotas.used_bytes`; `None` when the account has no quota row at all.
    pub recorded: Option<i64>,
    /// Sum of the sizes of its confirmed documents.
    pub computed: i64,
    /// `quotas.reserved_bytes`; `None` when the account has no quota row at all.
    pub recorded_reserved: Option<i64>,
    /// Sum of the declared sizes of its pending uploads.
    pub computed_reserved: i64,
    /// Repair set the quota to `computed` and `computed_reserved`.
    pub repaired: bool,
}

/// A temporary file of the local store older than any live write can leave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleTempFile {
    /// Its name inside the objects directory's `.tmp`.
    pub name: String,
    /// Its size.
    pub size_bytes: u64,
    /// Last modification.
    pub modified: DateTime<Utc>,
    /// Repair removed it.
    pub deleted: bool,
    /// Why repair could not remove it.
    pub error: Option<String>,
}

/// What is wrong with a confirmed document's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectProblem {
    /// No object under the document's key.
    Missing,
    /// The object exists with a size other than the recorded one.
    SizeDiffers {
        /// Size in storage.
        stored_bytes: u64,
    },
}

/// A confirmed document (or a stored version of one) whose object is missing or has
/// another size (never repaired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentProblem {
    /// The document.
    pub document_id: Uuid,
    /// The version whose object it is, when it is not the document's current one.
    pub version_id: Option<Uuid>,
    /// Its owner.
    pub user_id: Uuid,
    /// Its object key.
    pub object_key: String,
    /// Recorded size.
    pub size_bytes: i64,
    /// What is wrong.
    pub problem: ObjectProblem,
}

/// What is wrong with a processed document's thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThumbnailProblem {
    /// The row names a thumbnail that is not stored.
    Missing {
        /// The key the row names.
        key: String,
    },
    /// Neither a thumbnail nor a reason why none can be made (e.g. a document from
    /// before thumbnails; the cleanup job makes those a batch at a time).
    NotMade,
}

/// A processed document without its thumbnail; repair makes it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingThumbnail {
    /// The document.
    pub document_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// What is wrong.
    pub problem: ThumbnailProblem,
    /// Repair made it, or recorded why none can be made ([`MissingThumbnail::outcome`]).
    pub repaired: bool,
    /// What repair did, or why it could not.
    pub outcome: Option<String>,
}

/// A stored object no document references, older than the pending lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanObject {
    /// Its key.
    pub key: String,
    /// Its size.
    pub size_bytes: u64,
    /// Last modification in storage.
    pub modified: DateTime<Utc>,
    /// Repair deleted it.
    pub deleted: bool,
    /// Why repair could not delete it.
    pub error: Option<String>,
}

/// Everything one fsck run found (and repaired).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// Whether this run repaired.
    pub repair: bool,
    /// Accounts whose quota was checked.
    pub accounts_checked: u64,
    /// Confirmed documents whose object was checked.
    pub documents_checked: u64,
    /// Stored versions (other than documents' current ones) whose object was checked.
    pub versions_checked: u64,
    /// Objects listed in storage.
    pub objects_checked: u64,
    /// Listed objects whose key is not shaped like a document key; never touched.
    pub foreign_objects: u64,
    /// Objects younger than this are never called orphans (the pending lifetime).
    pub orphan_min_age_secs: u64,
    /// (a) Quota mismatches.
    pub quota_mismatches: Vec<QuotaMismatch>,
    /// (b) Confirmed documents (or their stored versions) with a missing or resized object.
    pub document_problems: Vec<DocumentProblem>,
    /// (c) Orphan objects.
    pub orphans: Vec<OrphanObject>,
    /// Temporary files younger than this are never called stale.
    pub temp_min_age_secs: u64,
    /// (d) Stale temporary files (local store only).
    pub stale_temp_files: Vec<StaleTempFile>,
    /// Processed documents whose thumbnail was checked.
    pub thumbnails_checked: u64,
    /// (e) Processed documents without their thumbnail.
    pub missing_thumbnails: Vec<MissingThumbnail>,
}

impl FsckReport {
    /// Problems found, repaired or not.
    pub fn problems_found(&self) -> usize {
        self.quota_mismatches.len()
            + self.document_problems.len()
            + self.orphans.len()
            + self.stale_temp_files.len()
            + self.missing_thumbnails.len()
    }

    /// Problems not repaired (all of them in a dry run).
    pub fn problems_remaining(&self) -> usize {
        self.quota_mismatches.iter().filter(|q| !q.repaired).count()
            + self.document_problems.len()
            + self.orphans.iter().filter(|o| !o.deleted).count()
            + self.stale_temp_files.iter().filter(|t| !t.deleted).count()
            + self
                .missing_thumbnails
                .iter()
                .filter(|t| !t.repaired)
                .count()
    }

    /// Nothing at all was found.
    pub fn is_clean(&self) -> bool {
        self.problems_found() == 0
    }

    /// The command's exit code: [`exit::CLEAN`] or [`exit::PROBLEMS`].
    pub fn exit_code(&self) -> u8 {
        if self.problems_remaining() == 0 {
            exit::CLEAN
        } else {
            exit::PROBLEMS
        }
    }
}

impl fmt::Display for FsckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.repair {
            "repair"
        } else {
            "dry run; --repair fixes quotas, orphan objects, stale temporary files and \
             missing thumbnails"
        };
        writeln!(f, "docuvault fsck ({mode})")?;

        writeln!(
            f,
            "\nquotas: {} accounts checked, {} mismatched",
            self.accounts_checked,
            self.quota_mismatches.len()
        )?;
        for q in &self.quota_mismatches {
            let recorded = match (q.recorded, q.recorded_reserved) {
                (Some(used), Some(reserved)) => {
                    format!("{used} bytes recorded, {reserved} reserved")
                }
                _ => "no quota row".to_owned(),
            };
            let action = if q.repaired {
                "repaired"
            } else {
                "not repaired"
            };
            writeln!(
                f,
                "  account {}: {recorded}, documents sum to {} bytes confirmed and {} \
                 pending [{action}]",
                q.user_id, q.computed, q.computed_reserved
            )?;
        }

        writeln!(
            f,
            "\ndocuments: {} confirmed documents checked, {} with a missing or resized object",
            self.documents_checked,
            self.document_problems.len()
        )?;
        if self.versions_checked > 0 {
            writeln!(f, "  {} earlier versions checked", self.versions_checked)?;
        }
        for d in &self.document_problems {
            let what = match d.problem {
                ObjectProblem::Missing => "object missing".to_owned(),
                ObjectProblem::SizeDiffers { stored_bytes } => {
                    format!("object has {stored_bytes} bytes, {} recorded", d.size_bytes)
                }
            };
            let version = d
                .version_id
                .map(|v| format!(", version {v}"))
                .unwrap_or_default();
            writeln!(
                f,
                "  document {}{version} (account {}): {what}: {} [reported only]",
                d.document_id, d.user_id, d.object_key
            )?;
        }
        if !self.document_problems.is_empty() {
            writeln!(
                f,
                "  fsck never deletes documents: restore the objects from a backup, or let \
                 the owners delete those documents"
            )?;
        }

        writeln!(
            f,
            "\nobjects: {} listed, {} orphans older than {}s",
            self.objects_checked,
            self.orphans.len(),
            self.orphan_min_age_secs
        )?;
        if self.foreign_objects > 0 {
            writeln!(
                f,
                "  {} objects not shaped like document keys were ignored",
                self.foreign_objects
            )?;
        }
        for o in &self.orphans {
            let action = match (&o.deleted, &o.error) {
                (true, _) => "deleted".to_owned(),
                (false, Some(e)) => format!("not deleted: {e}"),
                (false, None) => "not deleted".to_owned(),
            };
            writeln!(
                f,
                "  {} ({} bytes, modified {}) [{action}]",
                o.key,
                o.size_bytes,
                o.modified.to_rfc3339()
            )?;
        }

        writeln!(
            f,
            "\ntemporary files: {} older than {}s",
            self.stale_temp_files.len(),
            self.temp_min_age_secs
        )?;
        for t in &self.stale_temp_files {
            let action = match (&t.deleted, &t.error) {
                (true, _) => "deleted".to_owned(),
                (false, Some(e)) => format!("not deleted: {e}"),
                (false, None) => "not deleted".to_owned(),
            };
            writeln!(
                f,
                "  .tmp/{} ({} bytes, modified {}) [{action}]",
                t.name,
                t.size_bytes,
                t.modified.to_rfc3339()
            )?;
        }

        writeln!(
            f,
            "\nthumbnails: {} processed documents checked, {} without their thumbnail",
            self.thumbnails_checked,
            self.missing_thumbnails.len()
        )?;
        for t in &self.missing_thumbnails {
            let what = match &t.problem {
                ThumbnailProblem::Missing { key } => format!("thumbnail missing: {key}"),
                ThumbnailProblem::NotMade => "no thumbnail made yet".to_owned(),
            };
            let action = match (t.repaired, &t.outcome) {
                (true, Some(o)) => o.clone(),
                (true, None) => "made again".to_owned(),
                (false, Some(e)) => format!("not repaired: {e}"),
                (false, None) => "not repaired".to_owned(),
            };
            writeln!(
                f,
                "  document {} (account {}): {what} [{action}]",
                t.document_id, t.user_id
            )?;
        }

        let found = self.problems_found();
        let remaining = self.problems_remaining();
        write!(f, "\nresult: ")?;
        if found == 0 {
            writeln!(f, "clean")
        } else if self.repair {
            writeln!(
                f,
                "{found} problems found, {} repaired, {remaining} remain",
                found - remaining
            )
        } else {
            writeln!(f, "{found} problems found")
        }
    }
}

/// Runs every check; with `repair`, fixes quotas and deletes orphans. Safe next to
/// running servers: detection reads one consistent snapshot per check, and each quota
/// is recomputed under the same lock confirm and delete take before it is written.
pub async fn fsck(state: &AppState, repair: bool) -> anyhow::Result<FsckReport> {
    let mut report = FsckReport {
        repair,
        orphan_min_age_secs: state.settings.documents.pending_ttl_secs,
        temp_min_age_secs: state
            .local_store
            .as_ref()
            .map_or(0, |l| l.stale_temp_age().as_secs()),
        ..FsckReport::default()
    };

    // Listed before the rows are read: an object in this listing had its row created
    // before, so the scan below sees every row that could reference it.
    let listed = state
        .storage
        .list("")
        .await
        .context("listing stored objects")?;
    report.objects_checked = listed.len() as u64;
    let sizes: HashMap<&str, u64> = listed
        .iter()
        .map(|o| (o.key.as_str(), o.size_bytes))
        .collect();

    check_quotas(state, &mut report).await?;
    let mut referenced = check_documents(state, &sizes, &mut report).await?;
    check_versions(state, &sizes, &mut referenced, &mut report).await?;

    let cutoff = pending_cutoff(&state.settings, Utc::now());
    for object in &listed {
        if !looks_like_document_key(&object.key) {
            report.foreign_objects += 1;
            continue;
        }
        let old_enough = cutoff.is_some_and(|c| object.modified <= c);
        if old_enough && !referenced.contains(object.key.as_str()) {
            report.orphans.push(OrphanObject {
                key: object.key.clone(),
                size_bytes: object.size_bytes,
                modified: object.modified,
                deleted: false,
                error: None,
            });
        }
    }

    if let Some(local) = &state.local_store {
        let stale = local
            .stale_temp_files()
            .await
            .context("listing temporary files")?;
        report.stale_temp_files = stale
            .into_iter()
            .map(|t| StaleTempFile {
                name: t.name,
                size_bytes: t.size_bytes,
                modified: t.modified,
                deleted: false,
                error: None,
            })
            .collect();
    }

    if repair {
        for q in &mut report.quota_mismatches {
            (q.computed, q.computed_reserved) = repair_quota(state, q.user_id).await?;
            q.repaired = true;
        }
        if let Some(local) = &state.local_store {
            for t in &mut report.stale_temp_files {
                match local.remove_temp_file(&t.name).await {
                    Ok(()) => t.deleted = true,
                    Err(e) => t.error = Some(e.to_string()),
                }
            }
        }
        for o in &mut report.orphans {
            match ObjectKey::parse(&o.key) {
                Ok(key) => match state.storage.delete(&key).await {
                    Ok(()) => o.deleted = true,
                    Err(e) => o.error = Some(e.to_string()),
                },
                Err(e) => o.error = Some(e.to_string()),
            }
        }
        for t in &mut report.missing_thumbnails {
            repair_thumbnail(state, t).await?;
        }
    }
    Ok(report)
}

/// Makes a missing thumbnail again from the document's original (in the sandbox).
async fn repair_thumbnail(state: &AppState, t: &mut MissingThumbnail) -> anyhow::Result<()> {
    let Some(doc) = documents::Entity::find_by_id(t.document_id)
        .one(&state.db)
        .await
        .context("reading a document")?
    else {
        t.repaired = true;
        t.outcome = Some("the document was deleted meanwhile".to_owned());
        return Ok(());
    };
    match thumbnails::regenerate(state, &Subject::from(&doc)).await {
        Made::Stored { bytes } => {
            t.repaired = true;
            t.outcome = Some(format!("made again, {bytes} bytes"));
        }
        Made::Impossible(reason) => {
            t.repaired = true;
            t.outcome = Some(format!("none can be made: {reason} (recorded)"));
        }
        Made::Deferred(reason) => t.outcome = Some(reason),
    }
    Ok(())
}

/// `{user}/{document}/{name}`, both ids UUIDs: only such objects can be orphans, so a
/// shared bucket or directory never loses anything that is not docuvault's.
fn looks_like_document_key(key: &str) -> bool {
    let mut parts = key.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(user), Some(doc), Some(name), None)
            if Uuid::parse_str(user).is_ok() && Uuid::parse_str(doc).is_ok() && !name.is_empty()
    )
}

/// `(user_id, size_bytes)` of everything charged: every stored version, and a confirmed
/// document without any version record (rows from before versions) at its own size.
fn charged_sizes() -> String {
    format!(
        "SELECT user_id, size_bytes FROM document_versions WHERE status = '{stored}' \
         UNION ALL \
         SELECT d.user_id, d.size_bytes FROM documents d WHERE d.status <> '{pending}' \
         AND NOT EXISTS (SELECT 1 FROM document_versions v \
                         WHERE v.document_id = d.id AND v.status = '{stored}')",
        stored = VersionStatus::Stored.as_str(),
        pending = DocumentStatus::Pending.as_str()
    )
}

/// `(user_id, size_bytes)` of everything reserved: pending uploads of documents and of
/// versions, at their declared sizes.
fn reserved_sizes() -> String {
    format!(
        "SELECT user_id, size_bytes FROM documents WHERE status = '{pending}' \
         UNION ALL \
         SELECT user_id, size_bytes FROM document_versions WHERE status = '{pending_version}'",
        pending = DocumentStatus::Pending.as_str(),
        pending_version = VersionStatus::Pending.as_str()
    )
}

/// (a) One query, so recorded and computed come from the same snapshot (confirm and
/// delete change both in one transaction).
async fn check_quotas(state: &AppState, report: &mut FsckReport) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT u.id AS user_id, q.used_bytes AS recorded, COALESCE(s.total, 0) AS computed, \
                q.reserved_bytes AS recorded_reserved, \
                COALESCE(p.total, 0) AS computed_reserved \
         FROM users u \
         LEFT JOIN quotas q ON q.user_id = u.id \
         LEFT JOIN (SELECT user_id, CAST(SUM(size_bytes) AS BIGINT) AS total \
                    FROM ({charged}) c GROUP BY user_id) s ON s.user_id = u.id \
         LEFT JOIN (SELECT user_id, CAST(SUM(size_bytes) AS BIGINT) AS total \
                    FROM ({reserved}) r GROUP BY user_id) p ON p.user_id = u.id \
         ORDER BY u.id",
        charged = charged_sizes(),
        reserved = reserved_sizes(),
    );
    let backend = state.db.get_database_backend();
    let rows = state
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .context("reading quotas and document sizes")?;
    report.accounts_checked = rows.len() as u64;
    for row in rows {
        let user_id: Uuid = row.try_get("", "user_id")?;
        let recorded: Option<i64> = row.try_get("", "recorded")?;
        let computed: i64 = row.try_get("", "computed")?;
        let recorded_reserved: Option<i64> = row.try_get("", "recorded_reserved")?;
        let computed_reserved: i64 = row.try_get("", "computed_reserved")?;
        if recorded != Some(computed) || recorded_reserved != Some(computed_reserved) {
            report.quota_mismatches.push(QuotaMismatch {
                user_id,
                recorded,
                computed,
                recorded_reserved,
                computed_reserved,
                repaired: false,
            });
        }
    }
    Ok(())
}

/// (b) Checks every confirmed document against the listing (re-checking a miss with
/// `stat`, as the listing may predate a confirm) and returns every referenced key.
async fn check_documents(
    state: &AppState,
    sizes: &HashMap<&str, u64>,
    report: &mut FsckReport,
) -> anyhow::Result<HashSet<String>> {
    let mut referenced = HashSet::new();
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = documents::Entity::find()
            .select_only()
            .columns([
                documents::Column::Id,
                documents::Column::UserId,
                documents::Column::ObjectKey,
                documents::Column::SizeBytes,
                documents::Column::Status,
                documents::Column::ThumbnailKey,
                documents::Column::ThumbnailError,
            ])
            .order_by_asc(documents::Column::Id)
            .limit(BATCH);
        if let Some(last) = after {
            query = query.filter(documents::Column::Id.gt(last));
        }
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            Uuid,
            Uuid,
            String,
            i64,
            DocumentStatus,
            Option<String>,
            Option<String>,
        )> = query
            .into_tuple()
            .all(&state.db)
            .await
            .context("reading documents")?;
        let full = rows.len() as u64 == BATCH;
        after = rows.last().map(|r| r.0);
        for (id, user_id, key, size_bytes, doc_status, thumbnail, thumbnail_error) in rows {
            if doc_status == DocumentStatus::Pending {
                if let Ok(k) = ObjectKey::parse(&key) {
                    referenced.insert(staging_key(&k)?.as_str().to_owned());
                }
                referenced.insert(key);
                continue;
            }
            report.documents_checked += 1;
            let expected = u64::try_from(size_bytes).ok();
            let mut object_problem = false;
            if sizes.get(key.as_str()).copied() != expected
                && let Some(problem) = recheck_object(state, id, &key, size_bytes).await?
            {
                object_problem = problem == ObjectProblem::Missing;
                report.document_problems.push(DocumentProblem {
                    document_id: id,
                    version_id: None,
                    user_id,
                    object_key: key.clone(),
                    size_bytes,
                    problem,
                });
            }
            // (e) Its thumbnail; never asked of a document whose original is gone.
            if let Ok(t) = ObjectKey::parse(&key).map(|k| thumbnail_key(&k)) {
                referenced.extend(t.ok().map(|t| t.as_str().to_owned()));
            }
            if FINISHED.contains(&doc_status) && !object_problem {
                report.thumbnails_checked += 1;
                let problem = match (thumbnail, thumbnail_error) {
                    (Some(t), _) if sizes.contains_key(t.as_str()) => None,
                    (Some(t), _) => recheck_thumbnail(state, id, &t).await?,
                    (None, Some(_)) => None,
                    (None, None) => Some(ThumbnailProblem::NotMade),
                };
                if let Some(problem) = problem {
                    report.missing_thumbnails.push(MissingThumbnail {
                        document_id: id,
                        user_id,
                        problem,
                        repaired: false,
                        outcome: None,
                    });
                }
            }
            referenced.insert(key);
        }
        if !full {
            break;
        }
    }
    Ok(referenced)
}

/// (b, c) Checks every stored version that is not its document's current one (those were
/// checked as documents) against the listing, and adds every version's keys (a pending
/// version's staging key too) to `referenced`.
async fn check_versions(
    state: &AppState,
    sizes: &HashMap<&str, u64>,
    referenced: &mut HashSet<String>,
    report: &mut FsckReport,
) -> anyhow::Result<()> {
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = document_versions::Entity::find()
            .select_only()
            .columns([
                document_versions::Column::Id,
                document_versions::Column::DocumentId,
                document_versions::Column::UserId,
                document_versions::Column::ObjectKey,
                document_versions::Column::SizeBytes,
                document_versions::Column::Status,
            ])
            .order_by_asc(document_versions::Column::Id)
            .limit(BATCH);
        if let Some(last) = after {
            query = query.filter(document_versions::Column::Id.gt(last));
        }
        let rows: Vec<(Uuid, Uuid, Uuid, String, i64, VersionStatus)> = query
            .into_tuple()
            .all(&state.db)
            .await
            .context("reading document versions")?;
        let full = rows.len() as u64 == BATCH;
        after = rows.last().map(|r| r.0);
        for (id, document_id, user_id, key, size_bytes, status) in rows {
            if status == VersionStatus::Pending {
                if let Ok(k) = ObjectKey::parse(&key) {
                    referenced.insert(staging_key(&k)?.as_str().to_owned());
                }
                referenced.insert(key);
                continue;
            }
            // A document's current version: checked (and referenced) as the document.
            if referenced.contains(key.as_str()) {
                continue;
            }
            report.versions_checked += 1;
            let expected = u64::try_from(size_bytes).ok();
            if sizes.get(key.as_str()).copied() != expected
                && let Some(problem) = recheck_version(state, id, &key, size_bytes).await?
            {
                report.document_problems.push(DocumentProblem {
                    document_id,
                    version_id: Some(id),
                    user_id,
                    object_key: key.clone(),
                    size_bytes,
                    problem,
                });
            }
            referenced.insert(key);
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// The problem of a stored object under `key` recorded at `size_bytes`, looked at now
/// (`stat`); `None` when it is there at that size.
async fn object_problem_now(
    state: &AppState,
    key: &str,
    size_bytes: i64,
) -> anyhow::Result<Option<ObjectProblem>> {
    let stored = match ObjectKey::parse(key) {
        Ok(k) => state
            .storage
            .stat(&k)
            .await
            .with_context(|| format!("checking object {key}"))?,
        Err(_) => None,
    };
    Ok(match stored {
        None => Some(ObjectProblem::Missing),
        Some(meta) if i64::try_from(meta.size_bytes).ok() == Some(size_bytes) => None,
        Some(meta) => Some(ObjectProblem::SizeDiffers {
            stored_bytes: meta.size_bytes,
        }),
    })
}

/// Looks at one suspicious version again, now: its object, and whether the version is
/// still stored (a delete may have raced the scan).
async fn recheck_version(
    state: &AppState,
    id: Uuid,
    key: &str,
    size_bytes: i64,
) -> anyhow::Result<Option<ObjectProblem>> {
    let Some(problem) = object_problem_now(state, key, size_bytes).await? else {
        return Ok(None);
    };
    let still_there = document_versions::Entity::find_by_id(id)
        .filter(document_versions::Column::Status.eq(VersionStatus::Stored))
        .one(&state.db)
        .await?
        .is_some();
    Ok(still_there.then_some(problem))
}

/// Looks at one suspicious document again, now: its object via `stat`, and whether the
/// row still exists (a delete may have raced the scan).
async fn recheck_object(
    state: &AppState,
    id: Uuid,
    key: &str,
    size_bytes: i64,
) -> anyhow::Result<Option<ObjectProblem>> {
    let stored = match ObjectKey::parse(key) {
        Ok(k) => state
            .storage
            .stat(&k)
            .await
            .with_context(|| format!("checking object {key}"))?,
        Err(_) => None,
    };
    let problem = match stored {
        None => ObjectProblem::Missing,
        Some(meta) if i64::try_from(meta.size_bytes).ok() == Some(size_bytes) => return Ok(None),
        Some(meta) => ObjectProblem::SizeDiffers {
            stored_bytes: meta.size_bytes,
        },
    };
    let still_there = documents::Entity::find_by_id(id)
        .filter(documents::Column::Status.ne(DocumentStatus::Pending))
        .one(&state.db)
        .await?
        .is_some();
    Ok(still_there.then_some(problem))
}

/// Looks at a thumbnail missing from the listing again, now (it may have been stored
/// since): `stat`, and whether the row still names it.
async fn recheck_thumbnail(
    state: &AppState,
    id: Uuid,
    key: &str,
) -> anyhow::Result<Option<ThumbnailProblem>> {
    let stored = match ObjectKey::parse(key) {
        Ok(k) => state
            .storage
            .stat(&k)
            .await
            .with_context(|| format!("checking thumbnail {key}"))?,
        Err(_) => None,
    };
    if stored.is_some() {
        return Ok(None);
    }
    let still_named = documents::Entity::find_by_id(id)
        .filter(documents::Column::ThumbnailKey.eq(key))
        .one(&state.db)
        .await?
        .is_some();
    Ok(still_named.then(|| ThumbnailProblem::Missing {
        key: key.to_owned(),
    }))
}

/// Sets one account's usage to the sum of its stored versions (see [`charged_sizes`])
/// and its reservation to the sum of its pending uploads (of documents and versions), computed after taking the quota row's lock
/// (PostgreSQL `FOR UPDATE`; SQLite's write lock), so a concurrent upload-url, confirm
/// or delete is counted exactly once. Returns the sums written `(used, reserved)`.
async fn repair_quota(state: &AppState, user: Uuid) -> anyhow::Result<(i64, i64)> {
    let txn = crate::db::begin_write(&state.db).await?;
    let backend = txn.get_database_backend();
    let existing = if backend == DatabaseBackend::Postgres {
        txn.query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT used_bytes FROM quotas WHERE user_id = $1 FOR UPDATE",
            [user.into()],
        ))
        .await?
        .is_some()
    } else {
        quotas::Entity::find_by_id(user).one(&txn).await?.is_some()
    };
    let placeholder = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let mut sums = [0_i64; 2];
    for (sum, sizes) in sums.iter_mut().zip([charged_sizes(), reserved_sizes()]) {
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS total \
                     FROM ({sizes}) s WHERE user_id = {placeholder}"
                ),
                [user.into()],
            ))
            .await?;
        if let Some(row) = row {
            *sum = row.try_get::<Option<i64>>("", "total")?.unwrap_or(0);
        }
    }
    let [used, reserved] = sums;
    if existing {
        quotas::Entity::update_many()
            .col_expr(
                quotas::Column::UsedBytes,
                sea_orm::sea_query::Expr::value(used),
            )
            .col_expr(
                quotas::Column::ReservedBytes,
                sea_orm::sea_query::Expr::value(reserved),
            )
            .filter(quotas::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
    } else {
        quotas::ActiveModel {
            user_id: Set(user),
            limit_bytes: Set(state.settings.quota.default_limit_bytes),
            used_bytes: Set(used),
            reserved_bytes: Set(reserved),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok((used, reserved))
}
