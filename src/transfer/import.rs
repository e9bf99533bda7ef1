//! `docuvault import --from DIR`: loads an export into an empty instance, on any backends.
//!
//! All or nothing: the manifest, the target's emptiness and every sealed secret are checked
//! first; then every object is written, its SHA-256 verified while it streams; then every
//! row is written in one transaction. A failure removes the objects written so far and
//! leaves no row, and the error names the item.

use std::collections::HashSet;
use std::path::Path;

use uuid::Uuid;

use anyhow::{Context as _, bail};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait,
};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::export::lines;
use super::manifest::{self, Manifest, ObjectEntry};
use super::{Hashing, is_sha256_hex, object_path};
use crate::crypto::Keys;
use crate::domain::ObjectKey;
use crate::entities::{
    audit_log, backup_codes, cloud_connections, document_texts, document_topics, document_versions,
    documents, folders, groups, quotas, saved_views, shares, topic_rejections, topics, users,
};
use crate::storage::ObjectStore;

/// Rows per `INSERT`.
const BATCH: usize = 100;

/// Objects written at once.
const IN_FLIGHT: usize = 8;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows written per table, in load order.
    pub tables: Vec<(String, u64)>,
    /// Objects written.
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Sealed values re-sealed under the target's key.
    pub resealed: u64,
    /// Backup codes left out (keyed by the source's key; users generate new ones).
    pub backup_codes_dropped: u64,
}

/// Imports the export in `dir` into the empty instance (`db`, `store`) whose secret key
/// gives `target`. With `source`, the keys of the exporting instance's secret key, sealed
/// secrets are re-sealed under `target` (backup codes, hashed under the source's key, are
/// then left out); without it they are carried as they are and must open under `target`.
///
/// # Errors
///
/// An unknown manifest version, a target that has accounts, a sealed value that will not
/// open, a missing or damaged original (named), database or storage errors. Nothing is
/// left half-imported: objects written are removed again and no row is written.
pub async fn import(
    db: &DatabaseConnection,
    store: &dyn ObjectStore,
    dir: &Path,
    target: &Keys,
    source: Option<&Keys>,
) -> anyhow::Result<ImportReport> {
    let manifest = Manifest::read(dir)?;
    for table in &manifest.tables {
        let path = dir.join(&table.file);
        if !path.is_file() {
            bail!("{} (table {}) is missing", path.display(), table.name);
        }
    }
    let accounts = users::Entity::find().count(db).await?;
    if accounts > 0 {
        bail!(
            "the target instance is not empty: it has {accounts} account(s); import only into \
             a new instance (empty database and object store); nothing was imported"
        );
    }
    let documents = documents::Entity::find().count(db).await?;
    if documents > 0 {
        bail!(
            "the target instance is not empty: it has {documents} document(s); nothing was imported"
        );
    }
    check_sealed(dir, target, source)
        .await
        .context("nothing was imported")?;

    let mut report = ImportReport::default();
    let written = match write_objects(store, dir, &mut report).await {
        Ok(n) => n,
        Err((e, written)) => {
            let removed = remove_objects(store, dir, written).await;
            return Err(e.context(format!(
                "nothing was imported ({removed} object(s) written before the failure were removed)"
            )));
        }
    };
    if let Err(e) = write_rows(db, dir, &manifest, target, source, &mut report).await {
        let removed = remove_objects(store, dir, written).await;
        return Err(e.context(format!(
            "no row was imported ({removed} of {written} object(s) written were removed again)"
        )));
    }
    Ok(report)
}

/// Every sealed value must open: under `source` when given (it is re-sealed), else under
/// `target`.
async fn check_sealed(dir: &Path, target: &Keys, source: Option<&Keys>) -> anyhow::Result<()> {
    let mut rows = lines(dir, "users").await?;
    while let Some(line) = rows.next_line().await? {
        let mut user: users::Model = serde_json::from_str(&line).context("users.jsonl")?;
        match source {
            Some(source) => {
                crate::secret_key::reseal_user(&mut user, source, target).with_context(|| {
                    format!(
                        "user {} ({}): wrong --source-secret-key?",
                        user.id, user.handle
                    )
                })?;
            }
            None => crate::secret_key::check_user_sealed(&user, target).context(
                "the target does not use the source's SECRET_KEY: set it to the same key, or \
                 give the source's key with --source-secret-key to re-seal",
            )?,
        }
    }
    Ok(())
}

/// Writes every indexed object, verifying its SHA-256 and size while it streams,
/// [`IN_FLIGHT`] at a time (a store's latency per object, and the local store's flush to
/// disk, overlap). On error, also returns how many objects (index lines) were started
/// before it; those still in flight are finished first, so none is left half-written.
async fn write_objects(
    store: &dyn ObjectStore,
    dir: &Path,
    report: &mut ImportReport,
) -> Result<u64, (anyhow::Error, u64)> {
    use futures_util::StreamExt as _;
    use futures_util::stream::FuturesUnordered;
    let mut index = match index_lines(dir).await {
        Ok(i) => i,
        Err(e) => return Err((e, 0)),
    };
    let mut started = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    let mut in_flight = FuturesUnordered::new();
    loop {
        while failure.is_none() && in_flight.len() < IN_FLIGHT {
            match index.next_line().await {
                Ok(Some(line)) => {
                    started += 1;
                    in_flight.push(async move { write_one(store, dir, &line).await });
                }
                Ok(None) => break,
                Err(e) => failure = Some(e.into()),
            }
        }
        let Some(result) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(bytes) => {
                report.objects += 1;
                report.bytes += bytes;
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err((e, started)),
        None => Ok(started),
    }
}

async fn index_lines(dir: &Path) -> anyhow::Result<tokio::io::Lines<BufReader<tokio::fs::File>>> {
    let path = dir.join(manifest::OBJECTS_FILE);
    let file = tokio::fs::File::open(&path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 16, file).lines())
}

/// Writes one object of the index; the bytes written.
async fn write_one(store: &dyn ObjectStore, dir: &Path, line: &str) -> anyhow::Result<u64> {
    let entry: ObjectEntry = serde_json::from_str(line).context("objects.jsonl")?;
    let what = entry.describe();
    if !is_sha256_hex(&entry.sha256) {
        bail!("{what}: the index names no valid SHA-256");
    }
    let key = ObjectKey::parse(&entry.key).with_context(|| format!("{what}: bad key"))?;
    let path = object_path(dir, &entry.sha256);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "the original of {what} is missing from the export ({})",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut source = Hashing::new(BufReader::with_capacity(1 << 20, file));
    store
        .write_from(&key, &mut source, &entry.content_type)
        .await
        .with_context(|| format!("storing {what}"))?;
    let (sha, size) = source.finish();
    if sha != entry.sha256 || size != entry.size_bytes {
        let _ = store.delete(&key).await;
        bail!(
            "the original of {what} is corrupt in the export ({}): SHA-256 {sha} and {size} \
             bytes, expected {} and {} bytes",
            path.display(),
            entry.sha256,
            entry.size_bytes
        );
    }
    Ok(size)
}

/// Removes the objects of the first `count` index lines; how many were removed.
async fn remove_objects(store: &dyn ObjectStore, dir: &Path, count: u64) -> u64 {
    let Ok(mut index) = index_lines(dir).await else {
        return 0;
    };
    let mut removed = 0;
    for _ in 0..count {
        let Ok(Some(line)) = index.next_line().await else {
            break;
        };
        let Ok(entry) = serde_json::from_str::<ObjectEntry>(&line) else {
            continue;
        };
        if let Ok(key) = ObjectKey::parse(&entry.key)
            && store.delete(&key).await.is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Every row, in one transaction.
async fn write_rows(
    db: &DatabaseConnection,
    dir: &Path,
    manifest: &Manifest,
    target: &Keys,
    source: Option<&Keys>,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    let txn = crate::db::begin_write(db).await?;
    for table in manifest::TABLES {
        let Some(file) = manifest.table_file(table) else {
            if !manifest::holds(manifest.version, table) {
                // Added after the export's version: nothing to load.
                continue;
            }
            bail!("manifest: table {table} is missing");
        };
        let path = dir.join(&file.file);
        let rows = match table {
            "users" => {
                load::<users::Entity, users::ActiveModel>(&txn, &path, |mut u| {
                    if let Some(source) = source {
                        report.resealed +=
                            u64::from(crate::secret_key::reseal_user(&mut u, source, target)?);
                    }
                    Ok(Some(u))
                })
                .await?
            }
            "quotas" => {
                load::<quotas::Entity, quotas::ActiveModel>(&txn, &path, |r| Ok(Some(r))).await?
            }
            "backup_codes" => {
                load::<backup_codes::Entity, backup_codes::ActiveModel>(&txn, &path, |r| {
                    if source.is_some() {
                        report.backup_codes_dropped += 1;
                        return Ok(None);
                    }
                    Ok(Some(r))
                })
                .await?
            }
            "groups" => {
                load::<groups::Entity, groups::ActiveModel>(&txn, &path, |r| Ok(Some(r))).await?
            }
            "cloud_connections" => {
                load::<cloud_connections::Entity, cloud_connections::ActiveModel>(
                    &txn,
                    &path,
                    |mut r| {
                        if let Some(source) = source
                            && crate::secret_key::reseal_connection(&mut r, source, target)?
                        {
                            report.resealed += 1;
                        }
                        Ok(Some(r))
                    },
                )
                .await?
            }
            "folders" => load_folders(&txn, &path).await?,
            "topics" => {
                load::<topics::Entity, topics::ActiveModel>(&txn, &path, |r| Ok(Some(r))).await?
            }
            "documents" => {
                let rows =
                    load::<documents::Entity, documents::ActiveModel>(&txn, &path, |r| Ok(Some(r)))
                        .await?;
                if manifest.table_file("document_texts").is_none() {
                    // Written before texts had a table of their own: they are in the rows.
                    load_texts_in_documents(&txn, &path).await?;
                }
                rows
            }
            "document_texts" => {
                load::<document_texts::Entity, document_texts::ActiveModel>(&txn, &path, |r| {
                    Ok(Some(r))
                })
                .await?
            }
            "document_versions" => {
                load::<document_versions::Entity, document_versions::ActiveModel>(
                    &txn,
                    &path,
                    |r| Ok(Some(r)),
                )
                .await?
            }
            "document_topics" => {
                load::<document_topics::Entity, document_topics::ActiveModel>(&txn, &path, |r| {
                    Ok(Some(r))
                })
                .await?
            }
            "shares" => {
                load::<shares::Entity, shares::ActiveModel>(&txn, &path, |r| Ok(Some(r))).await?
            }
            "saved_views" => {
                load::<saved_views::Entity, saved_views::ActiveModel>(&txn, &path, |r| Ok(Some(r)))
                    .await?
            }
            "topic_rejections" => {
                load::<topic_rejections::Entity, topic_rejections::ActiveModel>(&txn, &path, |r| {
                    Ok(Some(r))
                })
                .await?
            }
            "audit_log" => {
                load::<audit_log::Entity, audit_log::ActiveModel>(&txn, &path, |r| Ok(Some(r)))
                    .await?
            }
            other => bail!("no import for table {other}"),
        };
        if rows != file.rows && table != "backup_codes" {
            bail!(
                "{} holds {rows} row(s), the manifest says {}: the export is damaged",
                path.display(),
                file.rows
            );
        }
        report.tables.push((table.to_owned(), rows));
    }
    txn.commit().await?;
    Ok(())
}

/// Streams `path` (JSON Lines of `E`'s rows) into `E`, `BATCH` rows per `INSERT`, each row
/// passed through `map` first (`None`: left out). The rows written.
async fn load<E, A>(
    txn: &DatabaseTransaction,
    path: &Path,
    mut map: impl FnMut(E::Model) -> anyhow::Result<Option<E::Model>>,
) -> anyhow::Result<u64>
where
    E: EntityTrait,
    E::Model: DeserializeOwned + IntoActiveModel<A>,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let mut lines = BufReader::with_capacity(1 << 16, file).lines();
    let mut batch: Vec<A> = Vec::with_capacity(BATCH);
    let mut rows = 0u64;
    let mut number = 0u64;
    while let Some(line) = lines.next_line().await? {
        number += 1;
        let row: E::Model = serde_json::from_str(&line)
            .with_context(|| format!("{} line {number}", path.display()))?;
        let Some(row) = map(row).with_context(|| format!("{} line {number}", path.display()))?
        else {
            continue;
        };
        batch.push(row.into_active_model().reset_all());
        if batch.len() == BATCH {
            rows += insert(txn, &mut batch, path).await?;
        }
    }
    rows += insert(txn, &mut batch, path).await?;
    Ok(rows)
}

/// The text of a `documents.jsonl` row written before format version 3.
#[derive(serde::Deserialize)]
struct TextInDocument {
    id: uuid::Uuid,
    extracted_text: Option<String>,
    text_pages: Option<serde_json::Value>,
}

/// Moves the texts of an older export's `documents.jsonl` to `document_texts`.
async fn load_texts_in_documents(txn: &DatabaseTransaction, path: &Path) -> anyhow::Result<()> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let mut lines = BufReader::with_capacity(1 << 16, file).lines();
    let mut batch: Vec<document_texts::ActiveModel> = Vec::with_capacity(BATCH);
    let mut number = 0u64;
    while let Some(line) = lines.next_line().await? {
        number += 1;
        let row: TextInDocument = serde_json::from_str(&line)
            .with_context(|| format!("{} line {number}", path.display()))?;
        let Some(body) = row.extracted_text else {
            continue;
        };
        batch.push(document_texts::ActiveModel {
            document_id: sea_orm::Set(row.id),
            body: sea_orm::Set(body),
            pages: sea_orm::Set(row.text_pages),
        });
        if batch.len() == BATCH {
            insert(txn, &mut batch, path).await?;
        }
    }
    insert(txn, &mut batch, path).await?;
    Ok(())
}

async fn insert<E, A>(
    txn: &DatabaseTransaction,
    batch: &mut Vec<A>,
    path: &Path,
) -> anyhow::Result<u64>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    if batch.is_empty() {
        return Ok(0);
    }
    let n = batch.len() as u64;
    E::insert_many(std::mem::take(batch))
        .exec_without_returning(txn)
        .await
        .with_context(|| format!("writing the rows of {}", path.display()))?;
    Ok(n)
}

/// Folders, parents before children: each pass over `folders.jsonl` writes the folders
/// whose parent is written (one pass per tree level). Holds only the folders' ids.
async fn load_folders(txn: &DatabaseTransaction, path: &Path) -> anyhow::Result<u64> {
    let mut written: HashSet<Uuid> = HashSet::new();
    loop {
        let before = written.len();
        let mut waiting = 0u64;
        let done = written.clone();
        load::<folders::Entity, folders::ActiveModel>(txn, path, |f| {
            if done.contains(&f.id) {
                return Ok(None);
            }
            if f.parent_id.is_none_or(|p| done.contains(&p)) {
                written.insert(f.id);
                Ok(Some(f))
            } else {
                waiting += 1;
                Ok(None)
            }
        })
        .await?;
        if waiting == 0 {
            return Ok(written.len() as u64);
        }
        if written.len() == before {
            bail!(
                "{}: {waiting} folder(s) whose parent is not in the export",
                path.display()
            );
        }
    }
}
