//! Public links: the owner's `/api/documents/{id}/links` and `/api/links/{id}`, and the
//! anonymous `/api/public/links/{token}` (metadata, password) with its signed
//! `download` and `view` URLs. The page a link opens is the web UI's `/l/{token}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::extract::{RegularUser, client_info, regular_scope};
use crate::documents::files::{self, ViewKind};
use crate::documents::routes::absolute_url;
use crate::domain::{DocumentId, ObjectKey};
use crate::entities::public_links;
use crate::error::{ApiError, ErrorBody};
use crate::http::ApiJson;
use crate::links::service::{self, Delivery, LinkGrant, NewLink, OpenLink, Opened};
use crate::state::AppState;
use crate::storage::Disposition;

/// The header an anonymous client may send a link's password in.
pub const PASSWORD_HEADER: &str = "X-Link-Password";

/// `POST /api/documents/{id}/links` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// Hours until the link stops working: 1 to `links.max_expiry_hours` (default 720).
    #[schema(example = 168, minimum = 1)]
    #[serde(deserialize_with = "crate::serde_util::whole_i64")]
    pub expires_in_hours: i64,
    /// Password the recipient must give (1–256 characters); none: anyone with the URL.
    #[schema(max_length = 256, min_length = 1)]
    pub password: Option<String>,
    /// How many downloads the link serves; none: unlimited until it expires.
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(default, deserialize_with = "crate::serde_util::opt_whole_i64")]
    pub max_downloads: Option<i64>,
}

/// One public link, as its owner sees it (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// Link id (revoke with `DELETE /api/links/{id}`).
    pub id: Uuid,
    /// The linked document.
    pub document_id: Uuid,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Downloads it serves at most; null: unlimited.
    pub max_downloads: Option<i32>,
    /// Downloads served.
    pub download_count: i32,
    /// Times it was opened (password accepted, when it has one).
    pub access_count: i32,
    /// Whether it asks for a password.
    pub has_password: bool,
    /// Whether the owner revoked it.
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it answers now: not revoked, not expired, downloads left (a link of a
    /// trashed document is suspended: `active` but answering 404 until restored).
    pub active: bool,
}

impl From<public_links::Model> for LinkView {
    fn from(l: public_links::Model) -> Self {
        let active = l.revoked_at.is_none()
            && l.expires_at > crate::time::now()
            && l.max_downloads.is_none_or(|m| l.download_count < m);
        Self {
            id: l.id,
            document_id: l.document_id,
            created_at: l.created_at,
            expires_at: l.expires_at,
            max_downloads: l.max_downloads,
            download_count: l.download_count,
            access_count: l.access_count,
            has_password: l.password_hash.is_some(),
            revoked: l.revoked_at.is_some(),
            revoked_at: l.revoked_at,
            active,
        }
    }
}

/// A new link, with its URL: the only time the URL is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedLink {
    /// The link.
    #[serde(flatten)]
    pub link: LinkView,
    /// The page to hand out, `{public_url}/l/{token}`; shown once (only a hash of the
    /// token is kept).
    #[schema(example = "https://vault.example.com/l/3q2-7wAbC…")]
    pub url: String,
    /// The token alone (the last segment of `url`), for `GET /api/public/links/{token}`.
    pub token: String,
}

/// Every link of one document.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkList {
    /// Links, newest first (revoked and expired ones included).
    pub items: Vec<LinkView>,
}

/// What an anonymous client learns from a link.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLinkInfo {
    /// The link asks for a password. Without it (header `X-Link-Password` or the `POST`
    /// body) only this and `expires_at` are given; every other field is null.
    pub needs_password: bool,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// The document's file name.
    pub filename: Option<String>,
    /// Its stored type.
    pub content_type: Option<String>,
    /// Its size in bytes.
    pub size_bytes: Option<i64>,
    /// Downloads left; null: unlimited (or locked).
    pub downloads_left: Option<i32>,
    /// URL downloading the file (an attachment), counted as one download when used.
    /// Short-lived (`documents.download_url_ttl_secs`; ask again for a fresh one) and
    /// checked against the link at every use: it stops when the link does.
    pub download_url: Option<String>,
    /// How the document can be shown in the browser (as `viewDocument` says).
    pub view_kind: Option<ViewKind>,
    /// URL showing it inline (pdf, image, text), not counted as a download. Only for
    /// links without a download limit (every fetch of a limited link's file counts).
    pub view_url: Option<String>,
    /// When `download_url` and `view_url` stop working.
    pub urls_expire_at: Option<DateTime<Utc>>,
}

/// `POST /api/public/links/{token}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockLinkRequest {
    /// The link's password.
    pub password: String,
}

/// The `access` query of a link's signed URLs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// The signature issued with the link's metadata.
    pub access: String,
}

/// The document's bytes, described for the OpenAPI document.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct LinkedFile(pub Vec<u8>);

/// Creates a public link to your document: anyone with its URL can see and download
/// the document without an account until it expires (required, capped by
/// `links.max_expiry_hours`), is revoked, or has served `max_downloads` downloads.
///
/// The URL (`{public_url}/l/{token}`) is in this answer only. Only the owner can create
/// links: a document shared with you is a 404 like any other document not yours.
#[utoipa::path(
    operation_id = "createPublicLink",
    tag = "links",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    request_body = CreateLinkRequest,
    responses(
        (status = 201, description = "Created; the URL is shown once", body = CreatedLink),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 404, description = "No such document (or not yours)", body = ErrorBody),
        (status = 409, description = "The document is in the trash (`document_trashed`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Expiry outside 1..`links.max_expiry_hours`, password or max_downloads out of range (`validation_failed`)", body = ErrorBody),
        (status = 503, description = "Too busy hashing passwords; retry", body = ErrorBody),
    )
)]
#[post("")]
pub async fn create_link(
    user: RegularUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<DocumentId>,
    body: ApiJson<CreateLinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let ApiJson(body) = body;
    let new = NewLink::parse(
        body.expires_in_hours,
        body.password,
        body.max_downloads,
        state.settings.links.max_expiry_hours,
    )?;
    let (token, row) =
        service::create(&state, user.id(), id.into_inner(), new, &user.0.client).await?;
    let url = absolute_url(&req, &state, format!("/l/{token}"));
    Ok(HttpResponse::Created().json(CreatedLink {
        link: LinkView::from(row),
        url,
        token,
    }))
}

/// Every public link of your document, with how often each was opened and downloaded.
#[utoipa::path(
    operation_id = "listPublicLinks",
    tag = "links",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document's links, newest first", body = LinkList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 404, description = "No such document (or not yours)", body = ErrorBody),
    )
)]
#[get("")]
pub async fn list_links(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<DocumentId>,
) -> Result<web::Json<LinkList>, ApiError> {
    let rows = service::list(&state.db, user.id(), id.into_inner()).await?;
    Ok(web::Json(LinkList {
        items: rows.into_iter().map(LinkView::from).collect(),
    }))
}

/// Revokes a public link of yours, effective at once: the link and every download or
/// view URL it already issued stop working. Revoking again is harmless (204).
#[utoipa::path(
    operation_id = "revokePublicLink",
    tag = "links",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Link id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Administrators have no documents (or a password change is pending)", body = ErrorBody),
        (status = 404, description = "No such link (or not yours)", body = ErrorBody),
    )
)]
#[delete("/{id}")]
pub async fn revoke_link(
    user: RegularUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::revoke(&state.db, user.id(), id.into_inner(), &user.0.client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The answer for an opened (or locked) link, with freshly signed URLs.
fn info(state: &AppState, req: &HttpRequest, token: &str, opened: Opened) -> PublicLinkInfo {
    let OpenLink { link, document } = match opened {
        Opened::Locked(link) => {
            return PublicLinkInfo {
                needs_password: true,
                expires_at: link.expires_at,
                filename: None,
                content_type: None,
                size_bytes: None,
                downloads_left: None,
                download_url: None,
                view_kind: None,
                view_url: None,
                urls_expire_at: None,
            };
        }
        Opened::Open(found) => *found,
    };
    let ttl = i64::try_from(state.settings.documents.download_url_ttl_secs).unwrap_or(i64::MAX);
    let urls_expire_at = crate::time::now() + chrono::Duration::seconds(ttl);
    let url = |delivery: Delivery, route: &str| {
        let access = service::sign_grant(
            &state.keys,
            &LinkGrant {
                link: link.id,
                delivery,
                expires: urls_expire_at.timestamp(),
            },
        );
        absolute_url(
            req,
            state,
            format!("/api/public/links/{token}/{route}?access={access}"),
        )
    };
    let plan = files::view_of(&document.content_type);
    let viewable = link.max_downloads.is_none() && plan.kind != ViewKind::Download;
    PublicLinkInfo {
        needs_password: link.password_hash.is_some(),
        expires_at: link.expires_at,
        filename: Some(document.filename.clone()),
        content_type: Some(document.content_type.clone()),
        size_bytes: Some(document.size_bytes),
        downloads_left: link.max_downloads.map(|m| m - link.download_count),
        download_url: Some(url(Delivery::Download, "download")),
        view_kind: Some(plan.kind),
        view_url: viewable.then(|| url(Delivery::View, "view")),
        urls_expire_at: Some(urls_expire_at),
    }
}

async fn open_and_answer(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    password: Option<&str>,
) -> Result<web::Json<PublicLinkInfo>, ApiError> {
    let client = client_info(req, state);
    let opened = service::open(state, token, password, &client).await?;
    Ok(web::Json(info(state, req, token, opened)))
}

/// Opens a public link without an account: the document's name, type, size and the
/// link's expiry, with short-lived `download_url` and `view_url`.
///
/// A link with a password needs it in the `X-Link-Password` request header (not listed
/// as a parameter: some client generators cannot send an optional header) or the `POST`
/// form of this operation; without one only `needs_password` and `expires_at` are
/// answered. Password checks are limited per client IP and per link (429). Every link
/// that cannot be used — unknown, expired, out of downloads, revoked, or its document in
/// the trash — is the same 404.
#[utoipa::path(
    operation_id = "openPublicLink",
    tag = "links",
    security(),
    params(
        ("token" = String, Path, description = "The link's token (the last segment of its URL)"),
    ),
    responses(
        (status = 200, description = "The link's document", body = PublicLinkInfo),
        (status = 401, description = "Wrong password (`link_password_invalid`)", body = ErrorBody),
        (status = 404, description = "No usable link with this token", body = ErrorBody),
        (status = 429, description = "Too many password attempts (`rate_limited`, `Retry-After`)", body = ErrorBody),
        (status = 503, description = "Too busy checking passwords; retry", body = ErrorBody),
    )
)]
#[get("/{token}")]
pub async fn open_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<web::Json<PublicLinkInfo>, ApiError> {
    // A header that is not valid text is a password that cannot match.
    let password = req
        .headers()
        .get(PASSWORD_HEADER)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    open_and_answer(&state, &req, &token, password).await
}

/// `openPublicLink` with the password in a JSON body (`{"password": "…"}`), for
/// clients that cannot set headers or passwords that are not plain ASCII.
#[utoipa::path(
    operation_id = "unlockPublicLink",
    tag = "links",
    security(),
    params(("token" = String, Path, description = "The link's token")),
    request_body = UnlockLinkRequest,
    responses(
        (status = 200, description = "The link's document", body = PublicLinkInfo),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong password (`link_password_invalid`)", body = ErrorBody),
        (status = 404, description = "No usable link with this token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
        (status = 429, description = "Too many password attempts (`rate_limited`, `Retry-After`)", body = ErrorBody),
        (status = 503, description = "Too busy checking passwords; retry", body = ErrorBody),
    )
)]
#[post("/{token}")]
pub async fn unlock_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiJson<UnlockLinkRequest>,
) -> Result<web::Json<PublicLinkInfo>, ApiError> {
    open_and_answer(&state, &req, &token, Some(&body.password)).await
}

/// Streams the linked document's current version with `disposition`.
fn file_response(
    state: &AppState,
    found: &OpenLink,
    content_type: &str,
    disposition: Disposition,
) -> Result<HttpResponse, ApiError> {
    let doc = &found.document;
    let key = ObjectKey::parse(&doc.object_key).map_err(|e| ApiError::Internal(e.into()))?;
    let len = u64::try_from(doc.size_bytes).unwrap_or_default();
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, content_type.to_owned()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            disposition.header_value(&doc.filename),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if disposition == Disposition::Inline {
        // As the local store's view URLs: the bytes never run with this origin.
        res.insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"));
    }
    Ok(res
        .no_chunking(len)
        .streaming(crate::storage::stream_object(state.storage.clone(), key)))
}

/// Downloads a public link's document (the URL `openPublicLink` issued as
/// `download_url`). Each use counts one download; the link is checked again at every
/// use, so the URL stops working when the link is revoked, expires, runs out of
/// downloads or its document goes to the trash.
#[utoipa::path(
    operation_id = "downloadPublicLink",
    tag = "links",
    security(),
    params(
        ("token" = String, Path, description = "The link's token"),
        AccessQuery,
    ),
    responses(
        (status = 200, description = "The document's current version (`Content-Disposition: attachment`)", content_type = "application/octet-stream", body = LinkedFile),
        (status = 400, description = "No `access` parameter", body = ErrorBody),
        (status = 404, description = "The link or this URL is not usable (any reason)", body = ErrorBody),
    )
)]
#[get("/{token}/download")]
pub async fn download_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<AccessQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = service::check_grant(&state, &token, &query.access, Delivery::Download).await?;
    let client = client_info(&req, &state);
    service::count_download(&state.db, &found.link, &client).await?;
    file_response(
        &state,
        &found,
        files::served_type(&found.document.content_type),
        Disposition::Attachment,
    )
}

/// Shows a public link's document in the browser (the URL `openPublicLink` issued as
/// `view_url`), as `viewDocument` serves it: inline for pdf, image and text (text always
/// as `text/plain`), with `nosniff` and `Content-Security-Policy: sandbox`. Not counted
/// as a download; checked against the link at every use.
#[utoipa::path(
    operation_id = "viewPublicLink",
    tag = "links",
    security(),
    params(
        ("token" = String, Path, description = "The link's token"),
        AccessQuery,
    ),
    responses(
        (status = 200, description = "The document's current version (`Content-Disposition: inline`)", content_type = "application/octet-stream", body = LinkedFile),
        (status = 400, description = "No `access` parameter", body = ErrorBody),
        (status = 404, description = "The link or this URL is not usable (any reason)", body = ErrorBody),
    )
)]
#[get("/{token}/view")]
pub async fn view_link(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<AccessQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = service::check_grant(&state, &token, &query.access, Delivery::View).await?;
    let plan = files::view_of(&found.document.content_type);
    file_response(&state, &found, plan.content_type, plan.disposition)
}

/// Registers the link routes (inside the `/api` scope). The owner's routes come before
/// the documents feature: `/documents/{id}/links` lies inside the documents scope's
/// prefix. The public ones check no account: the token (and the signed `access`) are
/// the authorisation.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        regular_scope("/documents/{id}/links")
            .service(create_link)
            .service(list_links),
    )
    .service(regular_scope("/links").service(revoke_link))
    .service(
        utoipa_actix_web::scope::scope("/public/links")
            // Unknown methods on these paths: 405 with the documented `Allow`, not the
            // app's default (the web UI's files).
            .default_service(web::to(crate::http::api_fallback))
            .service(open_link)
            .service(unlock_link)
            .service(download_link)
            .service(view_link),
    );
}
