//! The OpenAPI document and its interactive page, both served from the binary with no network access:
//! `GET /api/schema/` (JSON, or YAML with `?format=yaml`) and Swagger UI at `/api/docs/`.
//!
//! The document is generated at compile time from the annotated operations in the submodules (the
//! handlers read untyped bodies, so the shapes are documentation-only structs in [`schemas`]), then
//! completed at start-up from the configuration: each alias path with its endpoint's operations,
//! `/metrics` only when served on this port, and the `Authorization` scheme actually accepted.

mod account;
mod cookies;
mod docs;
mod jwt;
mod mfa;
mod schemas;
mod service;
mod sessions;
mod users;
mod yaml;

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::error::ApiError;
use super::routes;
use crate::config::Settings;

/// The static part of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "imhotep",
        description = "A Djoser + SimpleJWT compatible authentication API. Bodies may be JSON or \
            form-encoded; every path also answers without its trailing slash."
    ),
    paths(
        users::users_list, users::users_create, users::users_me, users::users_me_update,
        users::users_me_partial_update, users::users_me_delete, users::users_activation,
        account::users_resend_activation, account::users_set_password, account::users_reset_password,
        account::users_reset_password_confirm, account::users_set_email, account::users_set_email_confirm,
        account::users_reset_email,
        account::users_reset_email_confirm,
        jwt::jwt_create, jwt::jwt_refresh, jwt::jwt_verify, jwt::jwt_blacklist, jwt::jwt_logout,
        users::users_read, users::users_update, users::users_partial_update, users::users_delete,
        sessions::sessions_list, sessions::sessions_revoke_others, sessions::sessions_detail,
        sessions::users_sessions_list, sessions::users_sessions_delete,
        mfa::jwt_create_mfa, mfa::mfa_totp, mfa::mfa_totp_confirm, mfa::mfa_factors, mfa::mfa_factor_detail,
        mfa::mfa_recovery_codes,
        service::healthz, service::readyz, service::metrics, service::schema, service::docs, service::jwks,
    ),
    components(
        schemas(
            schemas::BadRequestBody, schemas::FieldErrors, schemas::ErrorList, schemas::Detail, schemas::TokenError,
            schemas::SchemaFormat, schemas::Jwks, schemas::Jwk,
        ),
        responses(
            schemas::BadRequest, schemas::Unauthorized, schemas::UnsupportedMediaType, schemas::PayloadTooLarge,
            schemas::Unavailable, schemas::TooManyRequests,
        ),
    ),
    tags(
        (name = "users", description = "Djoser's user endpoints"),
        (name = "account", description = "Djoser's password and e-mail flows"),
        (name = "jwt", description = "SimpleJWT's token views"),
        (name = "sessions", description = "Logins and the refresh tokens rotated from them"),
        (name = "mfa", description = "Two-factor login: TOTP and recovery codes"),
        (name = "service", description = "Probes, metrics and this documentation"),
    )
)]
struct ApiDoc;

/// The document as served: JSON and YAML, rendered once at start-up.
struct Published {
    json: String,
    yaml: String,
}

/// `/api/schema/` and `/api/docs/`, with their own state, ready to merge into the API's router.
pub fn router<S: Clone + Send + Sync + 'static>(settings: &Settings, aliases: &[(String, String)]) -> Router<S> {
    let document = document(settings, aliases);
    let published = Arc::new(Published {
        json: document.to_string(),
        yaml: yaml::to_yaml(&document),
    });
    let schema = get(serve_schema).with_state(published);
    Router::new()
        .route("/api/schema/", schema.clone())
        .route("/api/schema", schema)
        .route("/api/docs", get(|| async { Redirect::permanent("/api/docs/") }))
        .merge(docs::router("/api/schema/"))
}

/// The operations `[throttle]` may answer 429: those of a per-client group, and those that check a
/// password (the account backoff).
const THROTTLED_OPERATIONS: &[&str] = &[
    "users_create",
    "users_activation",
    "users_resend_activation",
    "users_set_password",
    "users_reset_password",
    "users_reset_password_confirm",
    "users_set_email",
    "users_set_email_confirm",
    "users_reset_email",
    "users_reset_email_confirm",
    "users_me_delete",
    "users_delete",
    "jwt_create",
    "jwt_create_mfa",
    "mfa_totp",
    "mfa_totp_confirm",
    "mfa_factor_detail",
    "mfa_recovery_codes",
    "jwt_refresh",
    "jwt_verify",
];

/// The complete document for these settings and aliases.
pub fn document(settings: &Settings, aliases: &[(String, String)]) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    let paths = doc["paths"].as_object_mut().expect("paths");
    if !settings.metrics.on_main_port() {
        paths.remove("/metrics");
    }
    for (path, item) in paths.iter_mut() {
        for operation in item.as_object_mut().into_iter().flat_map(|ops| ops.values_mut()) {
            complete(operation, path.starts_with("/api/auth/"));
        }
    }
    if settings.throttle.enabled {
        for operation in paths
            .values_mut()
            .flat_map(|item| item.as_object_mut())
            .flat_map(|ops| ops.values_mut())
        {
            let id = operation["operationId"].as_str().unwrap_or_default();
            if THROTTLED_OPERATIONS.contains(&id) {
                operation["responses"]["429"] = json!({ "$ref": "#/components/responses/TooManyRequests" });
            }
        }
    }
    if !settings.djoser.send_activation_email
        && let Some(responses) = paths
            .get_mut("/api/auth/users/resend_activation/")
            .map(|i| &mut i["post"]["responses"])
    {
        // Djoser answers a bare 400 here, so a 400 may have no body at all.
        responses["400"] = json!({ "description": "Invalid input (a `BadRequest` body), or with \
            `djoser.send_activation_email` off a bare 400 with no body" });
    }
    cookies::describe(paths, settings);
    for (alias, name) in aliases {
        let item = alias_item(paths, name, alias);
        paths.insert(routes::mounted(alias, name), item);
    }
    doc["components"]["securitySchemes"] = json!({ "jwt": security_scheme(settings) });
    doc
}

/// Adds what every operation shares: form-encoded bodies beside JSON ones, 413/415 for operations
/// with a body, 503 for those that use the database.
fn complete(operation: &mut Value, uses_database: bool) {
    let has_body = operation.get("requestBody").is_some();
    if let Some(content) = operation
        .pointer_mut("/requestBody/content")
        .and_then(Value::as_object_mut)
        && let Some(json) = content.get("application/json").cloned()
    {
        content.insert("application/x-www-form-urlencoded".into(), json);
    }
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut shared = Vec::new();
    if has_body {
        shared.extend([("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
    }
    if uses_database {
        shared.push(("503", "Unavailable"));
    }
    for (status, name) in shared {
        let reference = json!({ "$ref": format!("#/components/responses/{name}") });
        responses.entry(status).or_insert(reference);
    }
}

/// The operations of endpoint `name` (by operation id: `name` itself or `name_<method>`), copied to
/// `alias` with operation ids made unique.
fn alias_item(paths: &Map<String, Value>, name: &str, alias: &str) -> Value {
    let path = routes::path_of(name).unwrap_or_default();
    let suffix = alias
        .trim_matches('/')
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let mut item = Map::new();
    for (method, operation) in paths.get(path).and_then(Value::as_object).into_iter().flatten() {
        let id = operation["operationId"].as_str().unwrap_or_default();
        if id != name && !id.starts_with(&format!("{name}_")) {
            continue;
        }
        let mut operation = operation.clone();
        operation["operationId"] = json!(format!("{id}__{suffix}"));
        let description = operation["description"].as_str().unwrap_or_default();
        operation["description"] = json!(format!("Alias of `{path}`. {description}").trim_end().to_owned());
        item.insert(method.clone(), operation);
    }
    Value::Object(item)
}

/// Bearer when `Bearer` is an accepted `Authorization` type; otherwise the header itself, since
/// Swagger UI's bearer scheme always sends `Bearer`.
fn security_scheme(settings: &Settings) -> Value {
    let types = &settings.simple_jwt.auth_header_types;
    if types.iter().any(|t| t == "Bearer") {
        json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token from `jwt/create/`." })
    } else {
        let first = types.first().map_or("Bearer", String::as_str);
        json!({ "type": "apiKey", "in": "header", "name": "Authorization",
                "description": format!("`{first} <access token>`, the token from `jwt/create/`.") })
    }
}

async fn serve_schema(State(published): State<Arc<Published>>, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let format = pairs
        .iter()
        .rev()
        .find(|(key, _)| key == "format")
        .map(|(_, value)| value.as_str());
    match format {
        None | Some("json") => ([(header::CONTENT_TYPE, "application/json")], published.json.clone()).into_response(),
        Some("yaml") => (
            [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
            published.yaml.clone(),
        )
            .into_response(),
        Some(_) => ApiError::detail(StatusCode::NOT_FOUND, "Not found.").into_response(),
    }
}

#[cfg(test)]
mod tests;
