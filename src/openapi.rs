//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! `openapi.json` at the repository root is this document, committed; a test fails
//! when the two differ.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::error::ErrorBody;

/// Top-level document metadata and shared schemas; paths are collected from routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "DocuVault API",
        description = "Self-hosted multi-user document vault: uploads straight to object storage, text extraction, AI topics, search and sharing. Errors are JSON `{code, message}`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    servers((url = "/", description = "The server that serves this document")),
    components(schemas(
        ErrorBody,
        crate::audit::AuditEvent,
        crate::documents::routes::DocumentStatus,
        crate::documents::service::SortKey,
        crate::documents::service::SortOrder
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health and service metadata"),
        (name = "auth", description = "Registration, sign-in, sessions, profile, two-factor authentication"),
        (name = "admin", description = "Account administration and the audit log (admins only)"),
        (name = "documents", description = "Uploads straight to storage, listing, download"),
        (name = "folders", description = "Each account's folder tree (regular accounts only)"),
        (name = "shares", description = "Sharing documents read-only with other accounts (regular accounts only)"),
        (name = "topics", description = "Topics documents are filed under: each account's own and the system topics (`/api/admin/topics`, admins only)")
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme (JWT access tokens).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The complete document for the current code.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    api
}

/// The document as pretty JSON, exactly as committed in `openapi.json`.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}
