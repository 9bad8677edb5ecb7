//! Operations outside `/api/auth/`: probes, metrics and this documentation (documentation only).
#![allow(dead_code)]

use super::schemas::{Detail, Health, Jwks, Ready, SchemaFormat, TokenError};

/// Liveness
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "service",
    responses((status = 200, description = "The process is up", body = Health)))]
fn healthz() {}

/// Readiness
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "service",
    responses(
        (status = 200, description = "The database answers", body = Ready),
        (status = 503, description = "The database is unreachable", body = Detail),
    ))]
fn readyz() {}

/// Prometheus metrics (OpenMetrics text)
///
/// Served here only when `metrics.bearer_token` is set (then asking for `Authorization: Bearer
/// <metrics.bearer_token>`) or `metrics.public` is true; otherwise on `metrics.bind` alone.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "service",
    responses(
        (status = 200, description = "OpenMetrics text, which Prometheus scrapes", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "The metrics token is missing or wrong", body = TokenError),
    ))]
fn metrics() {}

/// This OpenAPI document
#[utoipa::path(get, path = "/api/schema/", operation_id = "schema", tag = "service",
    params(("format" = Option<SchemaFormat>, Query, description = "`json` (the default) or `yaml`")),
    responses(
        (status = 200, description = "The OpenAPI document", content(
            (Object = "application/json"),
            (String = "application/yaml"),
        )),
        (status = 404, description = "An unknown format", body = Detail),
    ))]
fn schema() {}

/// Interactive documentation (Swagger UI)
#[utoipa::path(get, path = "/api/docs/", operation_id = "docs", tag = "service",
    responses((status = 200, description = "An HTML page", body = String, content_type = "text/html")))]
fn docs() {}

/// The public signing keys (JWK Set)
///
/// Every non-HMAC key of the key ring, signing or verifying, for services that verify access tokens
/// offline (match a token's `kid` header). Empty with the default HS256 configuration. Cacheable for
/// ten minutes; also served at any alias of the endpoint name `jwks`.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "jwks", tag = "service",
    responses((status = 200, description = "The JWK Set", body = Jwks,
        headers(("Cache-Control" = String, description = "`public, max-age=600`")))))]
fn jwks() {}
