//! Validated domain types: once constructed they are known to be well-formed.

mod account;
mod object_key;

pub use account::{Email, Handle, InvalidInput, Password};
pub use object_key::{InvalidObjectKey, ObjectKey};
