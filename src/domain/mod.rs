//! Validated domain types: once constructed they are known to be well-formed.

mod object_key;

pub use object_key::{InvalidObjectKey, ObjectKey};
