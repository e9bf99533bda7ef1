//! One newtype per id, so a document id can never be passed where a user is meant. Each
//! is a plain `Uuid` underneath: it binds into queries as one (`From<…> for Value`), is
//! serialised as one (a JSON string, `format: uuid` in the spec), and converts back with
//! `Uuid::from` where an entity field or a foreign API needs the bare value.

/// Declares an id newtype around `Uuid` with its conversions; the ids differ only in
/// name and meaning.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh random id (for a row about to be inserted).
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4())
            }

            /// The bare id.
            pub const fn uuid(self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An account (`users.id`).
    UserId
);
id_type!(
    /// A document (`documents.id`).
    DocumentId
);
id_type!(
    /// A topic, a user's or a system one (`topics.id`).
    TopicId
);
id_type!(
    /// A folder (`folders.id`).
    FolderId
);
id_type!(
    /// A version of a document (`document_versions.id`).
    VersionId
);
id_type!(
    /// A webhook (`webhooks.id`).
    WebhookId
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_are_uuids_on_the_wire_and_in_queries() {
        let raw = uuid::Uuid::from_u128(7);
        let id = DocumentId::from(raw);
        assert_eq!(uuid::Uuid::from(id), raw);
        assert_eq!(id.to_string(), raw.to_string());
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            serde_json::to_string(&raw).unwrap()
        );
        let back: DocumentId = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
        assert_eq!(back, id);
        assert_eq!(sea_orm::Value::from(id), sea_orm::Value::from(raw));
    }
}
