//! Validated domain types: once constructed they are known to be well-formed.

mod account;
pub mod document_date;
pub mod document_type;
mod id;
mod object_key;

pub use account::{Email, Handle, InvalidInput, Password};
pub use document_type::{DOCUMENT_TYPES, DocumentType};
pub use id::{DocumentId, FolderId, TopicId, UserId, VersionId, WebhookId};
pub use object_key::{InvalidObjectKey, ObjectKey};
