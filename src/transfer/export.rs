//! `docuvault export --out DIR`: a consistent snapshot of the whole instance.
//!
//! Every table is read in one read transaction (PostgreSQL `REPEATABLE READ READ ONLY`,
//! SQLite a read transaction, which sees one snapshot in WAL mode), so the server may keep
//! running. Objects are immutable per key, so the stored versions and thumbnails the
//! snapshot names are copied afterwards, each distinct content once, verified against the
//! SHA-256 recorded at confirm while it is copied.

use std::path::Path;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use sea_orm::sea_query::Query;
use sea_orm::{
    AccessMode, ColumnTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, EntityTrait,
    FromQueryResult, IsolationLevel, Iterable, PaginatorTrait, PrimaryKeyToColumn, QueryFilter,
    QueryOrder, Select, TransactionTrait,
};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, BufWriter};
use uuid::Uuid;

use super::manifest::{self, Manifest, ObjectEntry, ObjectKind, ObjectsSummary, Source, TableFile};
use super::{Hashing, is_sha256_hex, object_path};
use crate::domain::ObjectKey;
use crate::entities::{
    DocumentStatus, VersionStatus, audit_log, backup_codes, cloud_connections, document_texts,
    document_topics, document_versions, documents, folders, groups, quotas, saved_views, shares,
    topic_rejections, topics, users,
};
use crate::storage::ObjectStore;

/// Rows read per query.
const PAGE: u64 = 500;

/// Buffer of an object being copied.
const COPY_BUFFER: usize = 1 << 20;

/// Writes a snapshot of the instance (`db`, `store`) to the empty or new directory `out`
/// and returns its manifest.
///
/// Documents still being uploaded (`pending`) and their reservations are left out: the
/// upload never finished, so there is nothing to keep.
///
/// # Errors
///
/// `out` not empty, database or storage errors, a missing object, or an object whose
/// bytes do not match the SHA-256 recorded for it (named in the error).
pub async fn export(
    db: &DatabaseConnection,
    store: &dyn ObjectStore,
    out: &Path,
) -> anyhow::Result<Manifest> {
    prepare_dir(out)?;
    let created_at = chrono::Utc::now();
    let tables = dump_tables(db, out).await?;
    let objects = copy_objects(store, out).await?;
    let manifest = Manifest {
        format: manifest::FORMAT.to_owned(),
        version: manifest::VERSION,
        docuvault_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        source: Source {
            database: crate::db::backend_name(db).to_owned(),
            storage: store.kind().to_owned(),
        },
        tables,
        objects,
    };
    // Written last and moved into place: its presence marks a finished export.
    let tmp = out.join(format!(".{}.tmp", manifest::FILE));
    let mut json = serde_json::to_vec_pretty(&manifest)?;
    json.push(b'\n');
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out.join(manifest::FILE))
        .with_context(|| format!("writing {}", out.join(manifest::FILE).display()))?;
    Ok(manifest)
}

/// Creates `out`, which must not exist or be empty.
fn prepare_dir(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out.join("objects"))
        .with_context(|| format!("creating {}", out.display()))?;
    let mut entries =
        std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
    if entries.any(|e| e.map_or(true, |e| e.file_name() != "objects"))
        || std::fs::read_dir(out.join("objects"))?.next().is_some()
    {
        bail!(
            "{} is not empty: export into a new or empty directory",
            out.display()
        );
    }
    Ok(())
}

/// Every table in one snapshot, to `<table>.jsonl`.
async fn dump_tables(db: &DatabaseConnection, out: &Path) -> anyhow::Result<Vec<TableFile>> {
    let txn = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    };
    let live = || {
        Query::select()
            .column(documents::Column::Id)
            .from(documents::Entity)
            .and_where(documents::Column::Status.ne(DocumentStatus::Pending))
            .to_owned()
    };
    let mut files = Vec::new();
    for table in manifest::TABLES {
        let file = match table {
            "users" => dump(&txn, users::Entity::find(), out, table, same).await?,
            "quotas" => {
                // Reservations belong to uploads in flight, which are not exported.
                dump(
                    &txn,
                    quotas::Entity::find(),
                    out,
                    table,
                    |mut q: quotas::Model| {
                        q.reserved_bytes = 0;
                        q
                    },
                )
                .await?
            }
            "backup_codes" => dump(&txn, backup_codes::Entity::find(), out, table, same).await?,
            "groups" => dump(&txn, groups::Entity::find(), out, table, same).await?,
            "cloud_connections" => {
                dump(&txn, cloud_connections::Entity::find(), out, table, same).await?
            }
            "folders" => dump(&txn, folders::Entity::find(), out, table, same).await?,
            "topics" => dump(&txn, topics::Entity::find(), out, table, same).await?,
            "documents" => {
                let q = documents::Entity::find()
                    .filter(documents::Column::Status.ne(DocumentStatus::Pending));
                dump(&txn, q, out, table, same).await?
            }
            "document_texts" => {
                let q = document_texts::Entity::find()
                    .filter(document_texts::Column::DocumentId.in_subquery(live()));
                dump(&txn, q, out, table, same).await?
            }
            "document_versions" => {
                let q = document_versions::Entity::find()
                    .filter(document_versions::Column::Status.eq(VersionStatus::Stored))
                    .filter(document_versions::Column::DocumentId.in_subquery(live()));
                dump(&txn, q, out, table, same).await?
            }
            "document_topics" => {
                let q = document_topics::Entity::find()
                    .filter(document_topics::Column::DocumentId.in_subquery(live()));
                dump(&txn, q, out, table, same).await?
            }
            "shares" => {
                let q =
                    shares::Entity::find().filter(shares::Column::DocumentId.in_subquery(live()));
                dump(&txn, q, out, table, same).await?
            }
            "saved_views" => dump(&txn, saved_views::Entity::find(), out, table, same).await?,
            "topic_rejections" => {
                let q = topic_rejections::Entity::find()
                    .filter(topic_rejections::Column::DocumentId.in_subquery(live()));
                dump(&txn, q, out, table, same).await?
            }
            "audit_log" => dump(&txn, audit_log::Entity::find(), out, table, same).await?,
            other => bail!("no export for table {other}"),
        };
        files.push(file);
    }
    txn.commit().await?;
    Ok(files)
}

/// A row as stored.
fn same<T>(row: T) -> T {
    row
}

/// Streams the rows of `query`, in primary key order, page by page to `<table>.jsonl`.
async fn dump<E>(
    txn: &DatabaseTransaction,
    query: Select<E>,
    out: &Path,
    table: &str,
    map: impl Fn(E::Model) -> E::Model,
) -> anyhow::Result<TableFile>
where
    E: EntityTrait,
    E::Model: Serialize + FromQueryResult + Send + Sync,
{
    let mut query = query;
    for key in E::PrimaryKey::iter() {
        query = query.order_by_asc(key.into_column());
    }
    let name = format!("{table}.jsonl");
    let path = out.join(&name);
    let file = tokio::fs::File::create(&path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    let mut pages = query.paginate(txn, PAGE);
    let mut rows = 0u64;
    while let Some(page) = pages
        .fetch_and_next()
        .await
        .with_context(|| format!("reading table {table}"))?
    {
        for row in page {
            let mut line = serde_json::to_vec(&map(row))?;
            line.push(b'\n');
            w.write_all(&line).await?;
            rows += 1;
        }
    }
    w.flush().await?;
    Ok(TableFile {
        name: table.to_owned(),
        file: name,
        rows,
    })
}

/// Copies the objects the exported rows name: every stored version, then every thumbnail,
/// [`IN_FLIGHT`] at a time.
async fn copy_objects(store: &dyn ObjectStore, out: &Path) -> anyhow::Result<ObjectsSummary> {
    let index_path = out.join(manifest::OBJECTS_FILE);
    let index = tokio::fs::File::create(&index_path)
        .await
        .with_context(|| format!("creating {}", index_path.display()))?;
    let mut copier = Copier {
        store,
        out,
        index: BufWriter::new(index),
        summary: ObjectsSummary {
            file: manifest::OBJECTS_FILE.to_owned(),
            ..ObjectsSummary::default()
        },
        in_flight: FuturesUnordered::new(),
    };
    let mut versions = lines(out, "document_versions").await?;
    while let Some(line) = versions.next_line().await? {
        let v: document_versions::Model = serde_json::from_str(&line)?;
        copier
            .push(ObjectEntry {
                key: v.object_key,
                sha256: v.sha256.unwrap_or_default(),
                size_bytes: 0,
                content_type: v.content_type,
                kind: ObjectKind::Version,
                document_id: v.document_id,
                version_id: Some(v.id),
            })
            .await?;
    }
    let mut docs = lines(out, "documents").await?;
    while let Some(line) = docs.next_line().await? {
        let d: documents::Model = serde_json::from_str(&line)?;
        if let Some(key) = d.thumbnail_key {
            copier
                .push(ObjectEntry {
                    key,
                    sha256: String::new(),
                    size_bytes: 0,
                    content_type: crate::documents::thumbnails::CONTENT_TYPE.to_owned(),
                    kind: ObjectKind::Thumbnail,
                    document_id: d.id,
                    version_id: None,
                })
                .await?;
        }
    }
    copier.finish().await
}

/// Objects written to the export at once.
const IN_FLIGHT: usize = 4;

type Copying<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = anyhow::Result<Option<Copied>>> + Send + 'a>,
>;

/// Copies objects a few at a time and indexes them as they finish.
struct Copier<'a> {
    store: &'a dyn ObjectStore,
    out: &'a Path,
    index: BufWriter<tokio::fs::File>,
    summary: ObjectsSummary,
    in_flight: FuturesUnordered<Copying<'a>>,
}

impl<'a> Copier<'a> {
    async fn push(&mut self, entry: ObjectEntry) -> anyhow::Result<()> {
        while self.in_flight.len() >= IN_FLIGHT {
            self.next().await?;
        }
        let (store, out) = (self.store, self.out);
        self.in_flight
            .push(Box::pin(async move { copy_one(store, out, entry).await }));
        Ok(())
    }

    /// Waits for one copy and indexes it. On error the other copies are dropped (their
    /// temporary files stay in the export directory, which is unfinished anyway).
    async fn next(&mut self) -> anyhow::Result<()> {
        if let Some(done) = self.in_flight.next().await
            && let Some(copied) = done?
        {
            if let Some(bytes) = copied.new_file {
                self.summary.files += 1;
                self.summary.bytes += bytes;
            }
            let mut line = serde_json::to_vec(&copied.entry)?;
            line.push(b'\n');
            self.index.write_all(&line).await?;
            self.summary.entries += 1;
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<ObjectsSummary> {
        while !self.in_flight.is_empty() {
            self.next().await?;
        }
        self.index.flush().await?;
        Ok(self.summary)
    }
}

/// An object copied: its index line, and its size when its content was new.
struct Copied {
    entry: ObjectEntry,
    new_file: Option<u64>,
}

/// The lines of `<table>.jsonl` in `dir`.
pub(super) async fn lines(
    dir: &Path,
    table: &str,
) -> anyhow::Result<tokio::io::Lines<BufReader<tokio::fs::File>>> {
    let path = dir.join(format!("{table}.jsonl"));
    let file = tokio::fs::File::open(&path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 16, file).lines())
}

/// Copies one object into `objects/` (unless its content is there already); `None` for a
/// thumbnail missing from the store. `entry.sha256` is the recorded hash (empty when none
/// was recorded).
async fn copy_one(
    store: &dyn ObjectStore,
    out: &Path,
    mut entry: ObjectEntry,
) -> anyhow::Result<Option<Copied>> {
    let what = entry.describe();
    let known = is_sha256_hex(&entry.sha256).then(|| object_path(out, &entry.sha256));
    if let Some(Ok(meta)) = known.as_deref().map(std::fs::metadata) {
        entry.size_bytes = meta.len();
        return Ok(Some(Copied {
            entry,
            new_file: None,
        }));
    }
    let key = ObjectKey::parse(&entry.key).with_context(|| format!("{what}: bad key"))?;
    let tmp = out
        .join("objects")
        .join(format!(".{}.tmp", Uuid::new_v4().simple()));
    let copied = copy_to_file(store, &key, &tmp).await;
    let (sha, size) = match copied {
        Ok(Some(done)) => done,
        Ok(None) if entry.kind == ObjectKind::Thumbnail => {
            // Made again by the cleanup job or `fsck --repair`; not worth failing for.
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!("{what} is missing from the object store; left out");
            return Ok(None);
        }
        Ok(None) => {
            let _ = std::fs::remove_file(&tmp);
            bail!(
                "{what} is missing from the object store (deleted meanwhile? run the export again)"
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.context(format!("copying {what}")));
        }
    };
    if !entry.sha256.is_empty() && entry.sha256 != sha {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "{what} does not match its recorded SHA-256 {} (read {sha}): the stored original \
             is damaged",
            entry.sha256
        );
    }
    let dest = object_path(out, &sha);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A link fails if the content is there already (copied meanwhile): stored once.
    let new_file = match std::fs::hard_link(&tmp, &dest) {
        Ok(()) => Some(size),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("writing {}", dest.display()));
        }
    };
    std::fs::remove_file(&tmp)?;
    entry.sha256 = sha;
    entry.size_bytes = size;
    Ok(Some(Copied { entry, new_file }))
}

/// Streams object `key` into the new file `path`, hashing it; `None` when it is missing.
async fn copy_to_file(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    path: &Path,
) -> anyhow::Result<Option<(String, u64)>> {
    let file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let mut sink = Hashing::new(BufWriter::with_capacity(COPY_BUFFER, file));
    if !store.read_to(key, &mut sink).await? {
        return Ok(None);
    }
    sink.flush().await?;
    Ok(Some(sink.finish()))
}
