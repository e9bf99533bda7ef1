//! Every route the server answers, in one place; OpenAPI paths are collected from here.

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::http::api_fallback;

/// Registers the documented routes: operations at the root and the `/api` scope.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(crate::health::health).service(
        scope::scope("/api")
            // API answers are per-user and often carry tokens: never cache them.
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .configure(crate::auth::routes::configure)
            .configure(crate::auth::token_routes::configure)
            .configure(crate::auth::reset_routes::configure)
            .configure(crate::admin::routes::configure)
            // Features only regular accounts use guard their own scopes
            // (`auth::extract::regular_scope`). Shares first: `/documents/{id}/shares`
            // lies inside the documents scope's prefix, as `/documents/{id}/versions`.
            // Bulk edit before the documents scope too: its zip link takes no bearer.
            .configure(crate::documents::bulk_routes::configure)
            .configure(crate::shares::routes::configure)
            .configure(crate::links::routes::configure)
            .configure(crate::documents::version_routes::configure)
            .configure(crate::documents::routes::configure)
            .configure(crate::folders::routes::configure)
            .configure(crate::saved_views::routes::configure)
            // Before the topics scope, whose `/{id}` routes would take `/topics/refile`.
            .configure(crate::refile::routes::configure)
            .configure(crate::topics::routes::configure)
            .configure(crate::account_export::routes::configure)
            .configure(crate::ingest::routes::configure)
            .configure(crate::webhooks::routes::configure)
            .configure(crate::intake::routes::configure)
            .configure(crate::notifications::routes::configure)
            .default_service(web::to(api_fallback)),
    );
}
