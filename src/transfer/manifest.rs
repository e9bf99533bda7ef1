//! `manifest.json` of an export directory: what it holds and in which format version.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `manifest.format` of every DocuVault export.
pub const FORMAT: &str = "docuvault-export";

/// The format version this build writes. Raise it on any change (a table added, a
/// table's rows change meaning, a file moves); an import reads every version from
/// [`OLDEST_READ`] up to this one (a table added later is empty in an older export) and
/// refuses newer ones.
pub const VERSION: u32 = 4;

/// The oldest format version this build still imports.
pub const OLDEST_READ: u32 = 1;

/// File name of the manifest.
pub const FILE: &str = "manifest.json";

/// File name of the object index.
pub const OBJECTS_FILE: &str = "objects.jsonl";

/// The exported tables, in the order an import loads them (a row only points at rows of
/// tables before it; `folders.parent_id` is set in a second pass). Sessions
/// (`refresh_tokens`), personal API tokens (`api_tokens`, keyed hashes under the source's
/// key), public links (`public_links`, likewise: their tokens are keyed hashes under the
/// source's key), password reset links (`password_reset_tokens`), in-app notices
/// (`notifications`: a moment's news, the shares themselves are exported), the object
/// deletion queue and job ticks are not exported: they belong to the source instance.
/// Of the classifier's feedback only the owners' rejections (`topic_rejections`) are: the
/// words behind automatic topics and pending suggestions are the classifier's, made again
/// by re-classifying.
pub const TABLES: [&str; 15] = [
    "users",
    "quotas",
    "backup_codes",
    "groups",
    "cloud_connections",
    "folders",
    "topics",
    "documents",
    "document_texts",
    "document_versions",
    "document_topics",
    "shares",
    "saved_views",
    "topic_rejections",
    "audit_log",
];

/// The format version that added each table written after version 1; every other table
/// of [`TABLES`] is in every version. Before version 3 a document's text was part of its
/// row in `documents.jsonl` (`extracted_text`, `text_pages`).
const ADDED_IN: [(&str, u32); 3] = [
    ("saved_views", 2),
    ("document_texts", 3),
    ("topic_rejections", 4),
];

/// Whether an export of format `version` holds `table`.
pub fn holds(version: u32, table: &str) -> bool {
    ADDED_IN
        .iter()
        .find(|(name, _)| *name == table)
        .is_none_or(|(_, since)| version >= *since)
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// DocuVault version that wrote it.
    pub docuvault_version: String,
    /// When the snapshot was taken.
    pub created_at: DateTime<Utc>,
    /// The backends it came from.
    pub source: Source,
    /// One JSON Lines file per table, in [`TABLES`] order.
    pub tables: Vec<TableFile>,
    /// The object index and the distinct contents stored.
    pub objects: ObjectsSummary,
}

/// Backends of the exported instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `sqlite` or `postgres`.
    pub database: String,
    /// `local` or `s3`.
    pub storage: String,
}

/// One table's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFile {
    /// Table name.
    pub name: String,
    /// File name in the export directory (`<name>.jsonl`).
    pub file: String,
    /// Rows in it.
    pub rows: u64,
}

/// `objects.jsonl` and `objects/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectsSummary {
    /// File name of the index ([`OBJECTS_FILE`]).
    pub file: String,
    /// Lines in the index (object keys).
    pub entries: u64,
    /// Distinct contents under `objects/`.
    pub files: u64,
    /// Bytes under `objects/`.
    pub bytes: u64,
}

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A stored version of a document (the current one included).
    Version,
    /// A document's thumbnail.
    Thumbnail,
}

/// One line of `objects.jsonl`: the object stored under `key` has the content
/// `objects/<sha256[0..2]>/<sha256>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// Object key in the store (the same in the target).
    pub key: String,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size.
    pub size_bytes: u64,
    /// Content type to store it with.
    pub content_type: String,
    /// What it is.
    pub kind: ObjectKind,
    /// The document it belongs to.
    pub document_id: Uuid,
    /// The version it is (for [`ObjectKind::Version`]).
    pub version_id: Option<Uuid>,
}

impl ObjectEntry {
    /// Names the entry in errors: `version <v> of document <d> (object <key>)`.
    pub fn describe(&self) -> String {
        match (self.kind, self.version_id) {
            (ObjectKind::Version, Some(v)) => format!(
                "version {v} of document {} (object {})",
                self.document_id, self.key
            ),
            _ => format!(
                "thumbnail of document {} (object {})",
                self.document_id, self.key
            ),
        }
    }
}

impl Manifest {
    /// Reads and checks `dir/manifest.json`: the format and a version this build reads.
    ///
    /// # Errors
    ///
    /// Missing or unreadable manifest, another format, an unknown version, a table missing.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is this a finished `docuvault export` directory?)",
                path.display()
            )
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            bail!("{} is not a DocuVault export manifest", path.display());
        }
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if (u64::from(OLDEST_READ)..=u64::from(VERSION)).contains(&v) => {}
            Some(v) => bail!(
                "{}: manifest version {v} is not supported (this DocuVault {} reads versions \
                 {OLDEST_READ} to {VERSION}); import it with the DocuVault version that wrote it",
                path.display(),
                env!("CARGO_PKG_VERSION")
            ),
            None => bail!("{}: no manifest version", path.display()),
        }
        let manifest: Manifest = serde_json::from_value(value)
            .with_context(|| format!("{} is malformed", path.display()))?;
        for table in TABLES.into_iter().filter(|t| holds(manifest.version, t)) {
            if !manifest.tables.iter().any(|t| t.name == table) {
                bail!("{}: table {table} is missing", path.display());
            }
        }
        Ok(manifest)
    }

    /// The file of `table`.
    pub fn table_file(&self, table: &str) -> Option<&TableFile> {
        self.tables.iter().find(|t| t.name == table)
    }
}
