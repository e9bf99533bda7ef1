//! Signed webhooks: an account's endpoints are told about its documents and shares.
//!
//! Features call the hooks after their commit ([`document_event`], [`before_deletion`] /
//! [`deleted_for_good`], [`share_created`]); each queues one `webhook_deliveries` row per
//! matching enabled webhook ([`emit`]) and never fails the caller's request. The delivery
//! task ([`delivery`]) sends them signed, retries with backoff and survives restarts;
//! [`target`] keeps webhooks off inner addresses (SSRF).

pub mod delivery;
pub mod routes;
pub mod service;
pub mod target;

pub use service::{
    WebhookEvent, before_deletion, deleted_for_good, document_event, document_events, emit,
    share_created,
};
