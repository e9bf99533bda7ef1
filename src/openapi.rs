//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! `openapi.json` at the repository root is this document, committed; a test fails
//! when the two differ.

use actix_web::App;
use utoipa::openapi::RefOr;
use utoipa::openapi::response::Response;
use utoipa::{OpenApi, ToResponse};
use utoipa_actix_web::AppExt;

use crate::error::ErrorBody;

/// Top-level document metadata and shared schemas; paths are collected from routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "DocuVault API",
        description = "Self-hosted multi-user document vault: uploads straight to object storage, text extraction, AI topics, search and sharing. Errors are JSON `{code, message, detail?}`; `code` is one of the `ErrorCode` enumeration.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    servers((url = "/", description = "The server that serves this document")),
    components(
        responses(Unauthorized, AdminOnly, RegularOnly, PasswordChangePending, SessionOnly),
        schemas(
        ErrorBody,
        crate::error::ErrorCode,
        crate::audit::AuditEvent,
        crate::documents::routes::DocumentStatus,
        crate::entities::StatusReason,
        crate::entities::DocumentDateSource,
        crate::documents::service::SortKey,
        crate::documents::service::SortOrder,
        crate::documents::search::CountMode
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health and service metadata"),
        (name = "auth", description = "Registration, sign-in, sessions, profile, two-factor authentication"),
        (name = "admin", description = "Account administration and the audit log (admins only)"),
        (name = "documents", description = "Uploads straight to storage, listing, download"),
        (name = "folders", description = "Each account's folder tree (regular accounts only)"),
        (name = "shares", description = "Sharing documents read-only with other accounts (regular accounts only)"),
        (name = "links", description = "Public links: anyone with a link's URL sees and downloads one document without an account, until it expires, is revoked or runs out of downloads"),
        (name = "account", description = "The caller's own data: a zip of every document with a manifest (regular accounts only)"),
        (name = "topics", description = "Topics documents are filed under: each account's own and the system topics (`/api/admin/topics`, admins only)"),
        (name = "ingest", description = "The watched folder: files dropped in the caller's folder on the server become documents (regular accounts only)"),
        (name = "webhooks", description = "Signed webhooks: events about your documents and shares POSTed to your endpoints (regular accounts only)"),
        (name = "intake", description = "E-mail intake: mail accounts (IMAP) whose attachments become documents (regular accounts only)"),
        (name = "notifications", description = "Notices for the caller: documents other accounts shared with them (regular accounts only)"),
        (name = "views", description = "Saved views: named document list queries shown in the sidebar (regular accounts only)")
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

/// The error responses many operations share, declared once under
/// `components.responses` and referenced by name (`response = Unauthorized` in a
/// `#[utoipa::path]`, or by [`share_common_responses`] for the inline spellings).
///
/// Each entry: the response type, and the inline descriptions handlers use for it.
fn shared_responses() -> [(SharedResponse, &'static [&'static str]); 5] {
    [
        (Unauthorized::response(), &["Not signed in"]),
        (AdminOnly::response(), &["Not an administrator"]),
        (
            RegularOnly::response(),
            &[
                "Administrators have no documents",
                "Administrators have no documents (or a password change is pending)",
                "Administrator account, or password change pending",
            ],
        ),
        (
            PasswordChangePending::response(),
            &["Password change required first"],
        ),
        (
            SessionOnly::response(),
            &["Password change required first, or called with an API token"],
        ),
    ]
}

type SharedResponse = (&'static str, RefOr<Response>);

/// An `ErrorBody` response with this description (the shape of every shared response).
fn error_response(description: &str) -> RefOr<Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// 401 `#/components/responses/Unauthorized`: no valid access token.
pub struct Unauthorized;

impl<'r> utoipa::ToResponse<'r> for Unauthorized {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "Unauthorized",
            error_response(
                "Not signed in: the access token is missing, invalid or expired, or the API token unknown, revoked or expired (`invalid_api_token`)",
            ),
        )
    }
}

/// 403 `#/components/responses/AdminOnly`: an administrator's operation called by
/// someone else (or by an administrator who must change the password first).
pub struct AdminOnly;

impl<'r> utoipa::ToResponse<'r> for AdminOnly {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "AdminOnly",
            error_response("Not an administrator, or a password change is pending"),
        )
    }
}

/// 403 `#/components/responses/RegularOnly`: a regular account's operation (documents,
/// folders, topics, shares) called by an administrator, or with a password change pending.
pub struct RegularOnly;

impl<'r> utoipa::ToResponse<'r> for RegularOnly {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "RegularOnly",
            error_response(
                "Administrator account (administrators have no documents, folders, topics or shares), a password change is pending, or a personal API token without the scope needed (`insufficient_scope`) or not allowed here (`token_not_allowed`)",
            ),
        )
    }
}

/// 403 `#/components/responses/PasswordChangePending`: the account must change its
/// password before anything else.
pub struct PasswordChangePending;

impl<'r> utoipa::ToResponse<'r> for PasswordChangePending {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "PasswordChangePending",
            error_response("A password change is pending: change the password first"),
        )
    }
}

/// 403 `#/components/responses/SessionOnly`: an operation on the account's credentials
/// called with a personal API token, or with a password change pending.
pub struct SessionOnly;

impl<'r> utoipa::ToResponse<'r> for SessionOnly {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "SessionOnly",
            error_response(
                "Only a signed-in session may do this: called with a personal API token (`token_not_allowed`), or a password change is pending",
            ),
        )
    }
}

/// Replaces each inline 401/403 response spelled like a shared one (same content, a
/// description listed in [`shared_responses`]) by a reference to the shared response, so
/// the repeated responses are declared once and generated clients get one type for each.
pub fn share_common_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::Ref;
    let shared = shared_responses();
    let operations = api.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    });
    for operation in operations {
        for (status, response) in operation.responses.responses.iter_mut() {
            if status != "401" && status != "403" {
                continue;
            }
            let RefOr::T(inline) = response else {
                continue;
            };
            let found = shared.iter().find(|((_, canonical), aliases)| {
                let RefOr::T(canonical) = canonical else {
                    return false;
                };
                aliases.contains(&inline.description.as_str())
                    && inline.content == canonical.content
            });
            if let Some(((name, _), _)) = found {
                *response = RefOr::Ref(Ref::from_response_name(*name));
            }
        }
    }
}

/// The complete document for the current code.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    share_common_responses(&mut api);
    declare_api_tokens(&mut api);
    api
}

/// Declares the `api_token` security scheme and lists it, next to `bearer`, on exactly
/// the operations `auth::tokens::access_for` opens to API tokens, each with the scope it
/// needs in `x-api-token-scope` (`any`: every token). The other signed-in operations get
/// the shared 403 `TokenNotAllowed` when they declare no 403 of their own.
pub fn declare_api_tokens(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::extensions::ExtensionsBuilder;
    use utoipa::openapi::security::{
        HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("dvpat_...")
                .description(Some(API_TOKEN_SCHEME))
                .build(),
        ),
    );
    let (name, response) = TokenNotAllowed::response();
    components.responses.insert(name.to_owned(), response);
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    for (path, item) in api.paths.paths.iter_mut() {
        let operations = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let signed_in = operation
                .security
                .as_ref()
                .is_some_and(|s| s.contains(&bearer));
            if !signed_in {
                continue;
            }
            match crate::auth::tokens::access_for(method, path) {
                Some(access) => {
                    if let Some(security) = operation.security.as_mut() {
                        security.push(SecurityRequirement::new("api_token", Vec::<String>::new()));
                    }
                    let extension = ExtensionsBuilder::new()
                        .add("x-api-token-scope", access.as_str())
                        .build();
                    match operation.extensions.as_mut() {
                        Some(extensions) => extensions.merge(extension),
                        None => operation.extensions = Some(extension),
                    }
                }
                None => {
                    operation
                        .responses
                        .responses
                        .entry("403".to_owned())
                        .or_insert_with(|| {
                            RefOr::Ref(utoipa::openapi::Ref::from_response_name(name))
                        });
                }
            }
        }
    }
}

/// The description of the `api_token` security scheme.
const API_TOKEN_SCHEME: &str = "Personal API tokens (`dvpat_...`), created while signed in with `POST /api/auth/tokens` and sent as `Authorization: Bearer dvpat_...`. A token acts for its owner only on the operations that list `api_token`, within its scopes (the operation's `x-api-token-scope`): `documents:read` (GET on documents, their text, downloads and versions, folders, shares, public links and saved views), `documents:write` (every other method there; includes `documents:read`), `topics:read`, `topics:write` (includes `topics:read`); `any` (`GET /api/auth/me`, `GET /api/auth/me/quota`) takes every token. Every other operation answers 403 `token_not_allowed` to a token; a token without the scope needed gets 403 `insufficient_scope`; an unknown, revoked or expired token gets 401 `invalid_api_token`. Tokens end when revoked, when they expire, and when the account is disabled, signs out everywhere or changes its password.";

/// 403 `#/components/responses/TokenNotAllowed`: a signed-in operation called with a
/// personal API token; only a session may call it.
pub struct TokenNotAllowed;

impl<'r> utoipa::ToResponse<'r> for TokenNotAllowed {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "TokenNotAllowed",
            error_response(
                "Called with a personal API token (`token_not_allowed`): only a signed-in session may do this",
            ),
        )
    }
}

/// The document as pretty JSON, exactly as committed in `openapi.json`.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// Which OpenAPI version a rendition of the document is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OpenApiVersion {
    /// OpenAPI 3.1 (the source document, `/api/openapi.json`).
    #[default]
    #[value(name = "3.1")]
    V3_1,
    /// OpenAPI 3.0.3 (`/api/openapi-3.0.json`), for tools that read only 3.0.
    #[value(name = "3.0")]
    V3_0,
}

/// The document in the given version as pretty JSON, ending in a newline.
pub fn rendition_json(version: OpenApiVersion) -> String {
    match version {
        OpenApiVersion::V3_1 => document_json(),
        OpenApiVersion::V3_0 => document_json_3_0(),
    }
}

/// The 3.0.3 rendition as pretty JSON: [`document`] converted by [`to_openapi_3_0`].
pub fn document_json_3_0() -> String {
    render_3_0(&document())
}

/// `api` converted to OpenAPI 3.0.3 by [`to_openapi_3_0`], as pretty JSON ending in a
/// newline.
pub fn render_3_0(api: &utoipa::openapi::OpenApi) -> String {
    let rendered = serde_json::to_value(api)
        .map(to_openapi_3_0)
        .and_then(|v| serde_json::to_string_pretty(&v));
    let mut json = rendered.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// Rewrites an OpenAPI 3.1 document as OpenAPI 3.0.3, for tools that read only 3.0.
///
/// Covers what 3.1 adds over 3.0 in schemas (JSON Schema 2020-12): `type` lists and
/// `null` (→ `nullable`), `oneOf`/`anyOf` with a `null` branch (→ `nullable`, a lone
/// `$ref` wrapped in `allOf` so the flag is not ignored), `const` (→ one-value `enum`),
/// `examples` (→ `example`), `contentMediaType`/`contentEncoding` (→ `format: binary` /
/// `byte`), numeric `exclusiveMinimum`/`exclusiveMaximum` (→ the 3.0 boolean form), and
/// drops keywords 3.0 lacks (`propertyNames`, `$schema`, `prefixItems`…) and the keys
/// 3.0 ignores next to a `$ref`; a nullable `allOf: [$ref]` gets the referenced
/// schema's `type` (3.0's `nullable` needs one). At the top level: `openapi: 3.0.3`,
/// `license.url` (the SPDX page) instead of `license.identifier`, no `info.summary`,
/// `webhooks` or `jsonSchemaDialect`.
pub fn to_openapi_3_0(mut doc: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let Some(root) = doc.as_object_mut() else {
        return doc;
    };
    root.insert("openapi".into(), Value::from("3.0.3"));
    for key in ["webhooks", "jsonSchemaDialect"] {
        root.remove(key);
    }
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        info.remove("summary");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            // 3.0 names a license by URL: the SPDX page of the 3.1 identifier.
            if let Some(Value::String(id)) = license.remove("identifier") {
                license
                    .entry("url")
                    .or_insert_with(|| format!("https://spdx.org/licenses/{id}.html").into());
            }
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("pathItems");
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            schemas.values_mut().for_each(schema_to_3_0);
        }
    }
    for (key, value) in root.iter_mut() {
        if key != "components" {
            convert_schemas_within(value);
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        for (key, value) in components.iter_mut() {
            if key != "schemas" {
                convert_schemas_within(value);
            }
        }
    }
    let component_types: std::collections::BTreeMap<String, Value> = root
        .get("components")
        .and_then(|c| c.get("schemas"))
        .and_then(Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .filter_map(|(name, s)| Some((name.clone(), s.get("type")?.clone())))
                .collect()
        })
        .unwrap_or_default();
    type_nullable_references(&mut doc, &component_types);
    doc
}

/// Gives each `nullable` schema that is only `allOf: [{$ref}]` the `type` of the
/// component it references: in 3.0, `nullable` takes effect only next to `type`.
fn type_nullable_references(
    value: &mut serde_json::Value,
    component_types: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                let target = match map
                    .get("allOf")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                {
                    Some([only]) => only
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .and_then(|name| component_types.get(name)),
                    _ => None,
                };
                if let Some(t) = target.filter(|t| t.is_string()) {
                    map.insert("type".into(), t.clone());
                }
            }
            map.values_mut()
                .for_each(|v| type_nullable_references(v, component_types));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| type_nullable_references(v, component_types)),
        _ => {}
    }
}

/// Finds the schemas inside paths, parameters, responses and the like: every value of a
/// `schema` key (media types, parameters, headers).
fn convert_schemas_within(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "schema" {
                    schema_to_3_0(child);
                } else {
                    convert_schemas_within(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert_schemas_within),
        _ => {}
    }
}

/// Keywords of JSON Schema 2020-12 that OpenAPI 3.0's schema object does not have.
const KEYWORDS_NOT_IN_3_0: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$defs",
    "$comment",
    "$dynamicRef",
    "$dynamicAnchor",
    "propertyNames",
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "contains",
    "minContains",
    "maxContains",
    "if",
    "then",
    "else",
    "contentSchema",
];

/// Converts one schema (and the schemas inside it) from 3.1 to 3.0.
fn schema_to_3_0(schema: &mut serde_json::Value) {
    use serde_json::{Map, Value};
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    for key in KEYWORDS_NOT_IN_3_0 {
        map.remove(*key);
    }
    let mut nullable = false;

    // `type: [x, "null"]` and `type: "null"`.
    match map.remove("type") {
        Some(Value::Array(types)) => {
            let mut kept: Vec<Value> = Vec::new();
            for t in types {
                if t == "null" {
                    nullable = true;
                } else if !kept.contains(&t) {
                    kept.push(t);
                }
            }
            match kept.len() {
                0 => {}
                1 => {
                    map.insert("type".into(), kept.remove(0));
                }
                _ => {
                    let branches = kept
                        .into_iter()
                        .map(|t| Value::Object(Map::from_iter([("type".to_owned(), t)])))
                        .collect();
                    map.insert("anyOf".into(), Value::Array(branches));
                }
            }
        }
        Some(t) if t == "null" => nullable = true,
        Some(t) => {
            map.insert("type".into(), t);
        }
        None => {}
    }

    // `oneOf`/`anyOf` with a `{"type": "null"}` branch.
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(mut branches)) = map.remove(key) else {
            continue;
        };
        let before = branches.len();
        branches.retain(|b| !is_null_schema(b));
        if branches.len() < before {
            nullable = true;
        }
        if branches.len() == 1 && before > 1 {
            // One real branch left: merge it in (a `$ref` goes under `allOf`, where the
            // `nullable` next to it is honoured; its description moves up).
            let mut only = branches.remove(0);
            if let Some(branch) = only.as_object_mut() {
                if branch.contains_key("$ref") {
                    let description = branch.remove("description");
                    if let (Some(d), false) = (description, map.contains_key("description")) {
                        map.insert("description".into(), d);
                    }
                    map.insert("allOf".into(), Value::Array(vec![only]));
                } else {
                    for (k, v) in std::mem::take(branch) {
                        map.entry(k).or_insert(v);
                    }
                }
            }
        } else if !branches.is_empty() {
            map.insert(key.into(), Value::Array(branches));
        }
    }
    // A `nullable` flag next to `$ref` is ignored in 3.0: move the reference under `allOf`.
    if nullable && let Some(reference) = map.remove("$ref") {
        let reference = Value::Object(Map::from_iter([("$ref".to_owned(), reference)]));
        map.insert("allOf".into(), Value::Array(vec![reference]));
    }

    if let Some(value) = map.remove("const") {
        map.insert("enum".into(), Value::Array(vec![value]));
    }
    if nullable {
        if let Some(Value::Array(values)) = map.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
        map.insert("nullable".into(), Value::Bool(true));
    } else if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(mut examples)) = map.remove("examples")
        && !examples.is_empty()
        && !map.contains_key("example")
    {
        map.insert("example".into(), examples.remove(0));
    }
    if map.remove("contentMediaType").is_some() && !map.contains_key("format") {
        map.insert("format".into(), Value::from("binary"));
    }
    if let Some(encoding) = map.remove("contentEncoding")
        && encoding == "base64"
        && !map.contains_key("format")
    {
        map.insert("format".into(), Value::from("byte"));
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(limit) = map.get(exclusive).filter(|v| v.is_number()).cloned() {
            map.insert(bound.into(), limit);
            map.insert(exclusive.into(), Value::Bool(true));
        }
    }

    // In 3.0 a `$ref` object has no other keys (any would be ignored; linters reject them).
    if map.contains_key("$ref") {
        map.retain(|k, _| k == "$ref");
        return;
    }

    // The schemas inside this one.
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(properties)) = map.get_mut(key) {
            properties.values_mut().for_each(schema_to_3_0);
        }
    }
    map.remove("patternProperties");
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child @ Value::Object(_)) = map.get_mut(key) {
            schema_to_3_0(child);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            branches.iter_mut().for_each(schema_to_3_0);
        }
    }
}

/// `{"type": "null"}` (possibly with a description): the 3.1 spelling of "may be null".
fn is_null_schema(schema: &serde_json::Value) -> bool {
    schema.get("type").is_some_and(|t| t == "null")
        && schema
            .as_object()
            .is_some_and(|m| m.keys().all(|k| k == "type" || k == "description"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::to_openapi_3_0;

    #[test]
    fn references_in_3_0_have_no_siblings_and_nullable_ones_a_type() {
        // Redocly's 3.0 rules (and 3.0 itself): `$ref` stands alone, and `nullable`
        // needs a `type` beside it.
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"post": {
                "requestBody": {"content": {"application/json": {"schema":
                    {"oneOf": [{"$ref": "#/components/schemas/Body"}, {"type": "null"}]}}}},
                "responses": {"200": {"description": "ok"}}
            }}},
            "components": {"schemas": {
                "Role": {"type": "string", "enum": ["user", "admin"]},
                "Body": {"type": "object", "properties": {
                    "role": {"$ref": "#/components/schemas/Role", "description": "d"},
                    "maybe": {"oneOf": [{"$ref": "#/components/schemas/Role"}, {"type": "null"}]}
                }}
            }}
        });
        let out = to_openapi_3_0(doc);
        let body = &out["components"]["schemas"]["Body"]["properties"];
        assert_eq!(body["role"], json!({"$ref": "#/components/schemas/Role"}));
        assert_eq!(
            body["maybe"],
            json!({"allOf": [{"$ref": "#/components/schemas/Role"}], "nullable": true, "type": "string"})
        );
        assert_eq!(
            out["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]["schema"],
            json!({"allOf": [{"$ref": "#/components/schemas/Body"}], "nullable": true, "type": "object"})
        );
    }

    #[test]
    fn repeated_401_and_403_responses_are_shared() {
        // An inline 401/403 that three or more operations spell the same way belongs in
        // `components.responses` (a new spelling of a shared one: add it to
        // `shared_responses`, or write `response = Unauthorized` in the path).
        let spec = serde_json::to_value(super::document()).unwrap();
        let mut seen = std::collections::HashMap::<String, Vec<String>>::new();
        let mut references = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for status in ["401", "403"] {
                    let Some(response) = op["responses"].get(status) else {
                        continue;
                    };
                    if response.get("$ref").is_some() {
                        references += 1;
                    } else {
                        seen.entry(format!("{status} {response}"))
                            .or_default()
                            .push(format!("{method} {path}"));
                    }
                }
            }
        }
        let repeated: Vec<_> = seen.iter().filter(|(_, ops)| ops.len() > 2).collect();
        assert!(
            repeated.is_empty(),
            "repeated inline responses: {repeated:#?}"
        );
        assert!(references >= 40, "only {references} shared references");
        for name in [
            "Unauthorized",
            "AdminOnly",
            "RegularOnly",
            "PasswordChangePending",
            "SessionOnly",
            "TokenNotAllowed",
        ] {
            assert!(spec["components"]["responses"][name]["description"].is_string());
        }
    }

    #[test]
    fn converts_the_3_1_schema_keywords_to_their_3_0_spelling() {
        let doc = json!({
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
            "info": {"title": "t", "version": "1", "summary": "s",
                     "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {"/x": {"get": {
                "parameters": [{"name": "n", "in": "query",
                                "schema": {"type": ["integer", "null"], "exclusiveMinimum": 0}}],
                "responses": {"200": {"description": "ok", "content": {
                    "application/octet-stream": {"schema": {"type": "string",
                        "contentMediaType": "application/octet-stream"}}}}}
            }}},
            "components": {"schemas": {
                "A": {"type": "object", "properties": {
                    "const": {"const": "PUT", "examples": ["PUT"]},
                    "maybe": {"oneOf": [{"$ref": "#/components/schemas/B", "description": "d"},
                                        {"type": "null"}]},
                    "either": {"oneOf": [{"type": "null"}, {"type": "string"}, {"type": "integer"}]},
                    "map": {"type": "object", "additionalProperties": {"type": ["string", "null"]},
                            "propertyNames": {"type": "string"}},
                    "kind": {"type": ["string", "null"], "enum": ["a", "b", null]},
                    "bytes": {"type": "string", "contentEncoding": "base64"}
                }},
                "B": {"type": "null"}
            }}
        });
        let out = to_openapi_3_0(doc);
        assert_eq!(out["openapi"], "3.0.3");
        assert!(out.get("jsonSchemaDialect").is_none());
        assert_eq!(
            out["info"],
            json!({"title": "t", "version": "1",
                   "license": {"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"}})
        );
        let param = &out["paths"]["/x"]["get"]["parameters"][0]["schema"];
        assert_eq!(
            param,
            &json!({"type": "integer", "nullable": true, "minimum": 0, "exclusiveMinimum": true})
        );
        let body = &out["paths"]["/x"]["get"]["responses"]["200"]["content"]["application/octet-stream"]
            ["schema"];
        assert_eq!(body, &json!({"type": "string", "format": "binary"}));
        let a = &out["components"]["schemas"]["A"]["properties"];
        assert_eq!(a["const"], json!({"enum": ["PUT"], "example": "PUT"}));
        assert_eq!(
            a["maybe"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "description": "d", "nullable": true})
        );
        assert_eq!(
            a["either"],
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})
        );
        assert_eq!(
            a["map"],
            json!({"type": "object", "additionalProperties": {"type": "string", "nullable": true}})
        );
        assert_eq!(
            a["kind"],
            json!({"type": "string", "enum": ["a", "b", null], "nullable": true})
        );
        assert_eq!(a["bytes"], json!({"type": "string", "format": "byte"}));
        assert_eq!(out["components"]["schemas"]["B"], json!({"nullable": true}));
    }
}
