//! Making thumbnails (issue 13) in the extraction sandbox
//! ([`crate::extract::sandbox::thumbnail_in_child`]) and storing them next to the original
//! ([`crate::documents::thumbnails`]).
//!
//! When:
//! - **after upload**: the first thing the pipeline does with a document's bytes, before
//!   reading its text, in a run of its own: the thumbnail shows within a second of the
//!   upload whatever OCR then takes, a file whose text cannot be read still gets one
//!   (a PDF the parser crashes on renders fine), and a thumbnail that cannot be made never
//!   costs the document its text;
//! - **on re-classify**, when it is missing (never made, or its object gone);
//! - **in the cleanup job**, a batch of at most [`BACKFILL_PER_RUN`], newest first: finished
//!   documents that have neither a thumbnail nor a recorded reason why none can be made
//!   (documents from before thumbnails existed, or whose thumbnail could not be stored);
//! - **by `docuvault fsck --repair`**, for every document fsck finds without one.
//!
//! A file no thumbnail can be made of (too large to decode, not what it claims to be, …)
//! gets its reason recorded and is not tried again automatically; re-classify tries again.
//! Storage failures are not recorded: the next cleanup run tries again.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::documents::files::delete_object_or_retry_later;
use crate::documents::lifecycle::FINISHED;
use crate::documents::thumbnails::{self, CONTENT_TYPE, record_failed, record_made};
use crate::domain::ObjectKey;
use crate::entities::documents;
use crate::extract::ExtractError;
use crate::extract::sandbox::thumbnail_in_child;
use crate::extract::thumbnail::ThumbnailOptions;
use crate::state::AppState;

/// Most thumbnails one cleanup run makes (about 0.1–0.3 s each).
pub const BACKFILL_PER_RUN: u64 = 100;

/// What became of one document's thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Stored, and recorded on the row.
    Stored {
        /// Size of the JPEG.
        bytes: usize,
    },
    /// None can be made of this file; the reason is recorded on the row.
    Impossible(String),
    /// Not now (storage or database unavailable, document deleted meanwhile); tried again
    /// later.
    Deferred(String),
}

/// The document a thumbnail is made of: what is needed of its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Document id.
    pub id: Uuid,
    /// Where its original is stored.
    pub object_key: String,
    /// Its stored type.
    pub content_type: String,
}

impl From<&documents::Model> for Subject {
    fn from(d: &documents::Model) -> Self {
        Self {
            id: d.id,
            object_key: d.object_key.clone(),
            content_type: d.content_type.clone(),
        }
    }
}

/// The limits a thumbnail is made under: those of OCR (image size, page render budget).
pub fn options(state: &AppState) -> ThumbnailOptions {
    ThumbnailOptions::from_ocr(&state.ocr.options_for(None))
}

/// Makes `doc`'s thumbnail from its `bytes` in the sandbox, stores it and records it on
/// the row. Never fails: what went wrong is in the answer (and logged).
pub async fn make(state: &AppState, doc: &Subject, bytes: &[u8]) -> Made {
    let made = make_inner(state, doc, bytes).await;
    match &made {
        Made::Stored { bytes } => {
            tracing::debug!(document = %doc.id, bytes, "thumbnail stored");
        }
        Made::Impossible(reason) => {
            tracing::info!(document = %doc.id, reason, "no thumbnail can be made");
        }
        Made::Deferred(reason) => {
            tracing::warn!(document = %doc.id, reason, "thumbnail not stored; tried again later");
        }
    }
    made
}

async fn make_inner(state: &AppState, doc: &Subject, bytes: &[u8]) -> Made {
    let key = match ObjectKey::parse(&doc.object_key).map(|k| thumbnails::thumbnail_key(&k)) {
        Ok(Ok(key)) => key,
        _ => return Made::Deferred("the document's object key is invalid".to_owned()),
    };
    let limits = crate::jobs::pipeline::sandbox_limits(state);
    let exe = match state.settings.extract.executable.as_str() {
        "" => match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return Made::Deferred(format!("cannot locate the executable: {e}")),
        },
        exe => std::path::PathBuf::from(exe),
    };
    let thumbnail =
        match thumbnail_in_child(&exe, &doc.content_type, bytes, &limits, &options(state)).await {
            Ok(t) => t,
            Err(e) => {
                let reason = match e {
                    ExtractError::OcrUnavailable(why) => why,
                    other => other.to_string(),
                };
                return match record_failed(&state.db, doc.id, &doc.object_key, &reason).await {
                    Ok(_) => Made::Impossible(reason),
                    Err(e) => Made::Deferred(format!("cannot record that: {e}")),
                };
            }
        };
    let size = thumbnail.jpeg.len();
    // A document deleted while its thumbnail was made gets none stored (the check and
    // the put are a millisecond apart; a delete between them is undone below).
    match still_there(state, doc.id).await {
        Ok(true) => {}
        Ok(false) => return Made::Deferred("the document was deleted meanwhile".to_owned()),
        Err(e) => return Made::Deferred(e.to_string()),
    }
    if let Err(e) = state.storage.put(&key, thumbnail.jpeg, CONTENT_TYPE).await {
        return Made::Deferred(e.to_string());
    }
    match record_made(&state.db, doc.id, &key).await {
        Ok(true) => Made::Stored { bytes: size },
        Ok(false) => {
            // Deleted meanwhile (its delete may have run before this put), or another
            // version became current: this thumbnail belongs to nothing.
            if let Err(e) =
                delete_object_or_retry_later(&state.db, state.storage.as_ref(), &key).await
            {
                tracing::warn!(error = %e, key = %key, "cannot delete a deleted document's thumbnail");
            }
            Made::Deferred("the document was deleted meanwhile".to_owned())
        }
        Err(e) => Made::Deferred(format!("cannot record the thumbnail: {e}")),
    }
}

async fn still_there(state: &AppState, id: Uuid) -> Result<bool, sea_orm::DbErr> {
    let found: Option<Uuid> = documents::Entity::find_by_id(id)
        .select_only()
        .column(documents::Column::Id)
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok(found.is_some())
}

/// Makes `doc`'s thumbnail again from its stored original (fsck, the cleanup job).
pub async fn regenerate(state: &AppState, doc: &Subject) -> Made {
    let bytes = match ObjectKey::parse(&doc.object_key) {
        Ok(key) => state.storage.get(&key).await,
        Err(_) => return Made::Deferred("the document's object key is invalid".to_owned()),
    };
    match bytes {
        Ok(Some(bytes)) => make(state, doc, &bytes).await,
        Ok(None) => {
            let reason = "the stored file is missing".to_owned();
            match record_failed(&state.db, doc.id, &doc.object_key, &reason).await {
                Ok(_) => Made::Impossible(reason),
                Err(e) => Made::Deferred(e.to_string()),
            }
        }
        Err(e) => Made::Deferred(e.to_string()),
    }
}

/// On re-classify: makes `doc`'s thumbnail again when it has none, or its object is gone
/// (one `stat`). Tries again even when an earlier attempt recorded that none can be made.
pub async fn ensure(state: &AppState, doc: &documents::Model) {
    if let Some(key) = doc
        .thumbnail_key
        .as_deref()
        .and_then(|k| ObjectKey::parse(k).ok())
    {
        match state.storage.stat(&key).await {
            Ok(Some(_)) => return,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, document = %doc.id, "cannot check the thumbnail");
                return;
            }
        }
    }
    regenerate(state, &Subject::from(doc)).await;
}

/// What one backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    /// Thumbnails made and stored.
    pub made: u64,
    /// Documents of which none can be made (reason recorded).
    pub impossible: u64,
    /// Attempts put off (storage unavailable, …).
    pub deferred: u64,
}

/// Makes the thumbnails of up to `limit` finished documents that have none and no
/// recorded reason why, newest first.
pub async fn backfill(state: &AppState, limit: u64) -> Result<Backfill, sea_orm::DbErr> {
    let docs: Vec<(Uuid, String, String)> = documents::Entity::find()
        .select_only()
        .columns([
            documents::Column::Id,
            documents::Column::ObjectKey,
            documents::Column::ContentType,
        ])
        .filter(documents::Column::Status.is_in(FINISHED))
        .filter(documents::Column::ThumbnailKey.is_null())
        .filter(documents::Column::ThumbnailError.is_null())
        .order_by_desc(documents::Column::CreatedAt)
        .order_by_desc(documents::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut done = Backfill::default();
    for (id, object_key, content_type) in docs {
        let doc = Subject {
            id,
            object_key,
            content_type,
        };
        match regenerate(state, &doc).await {
            Made::Stored { .. } => done.made += 1,
            Made::Impossible(_) => done.impossible += 1,
            Made::Deferred(_) => done.deferred += 1,
        }
    }
    Ok(done)
}
