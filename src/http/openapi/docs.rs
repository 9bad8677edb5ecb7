//! Swagger UI at `/api/docs/`: its files are compiled into the binary (utoipa-swagger-ui's vendored
//! copy, gzipped), so the page works with no internet access. Clients that do not accept gzip get
//! the files inflated.
//!
//! The page is a place where people paste tokens, so it is locked down: a Content-Security-Policy
//! that lets it load scripts only from this server (the embedded files) and talk only to this
//! server, `X-Frame-Options: DENY` against framing, and no persisted authorization (Swagger UI would
//! keep pasted tokens in `localStorage`, readable by any script on the origin, for ever).

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::read::GzDecoder;
use utoipa_swagger_ui::Config;

use crate::http::error::ApiError;

/// The page's policy. Styles may be inline because the bundle injects `<style>` elements; scripts may not.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `/api/docs/` and the files beside it, reading the document from `schema_url`.
pub fn router<S: Clone + Send + Sync + 'static>(schema_url: &'static str) -> Router<S> {
    // `validator_url("none")`: Swagger UI would otherwise send the document to an online validator.
    let config = Arc::new(
        Config::from(schema_url)
            .validator_url("none")
            .persist_authorization(false),
    );
    Router::new()
        .route("/api/docs/", get(index))
        .route("/api/docs/{*file}", get(file))
        .with_state(config)
}

async fn index(State(config): State<Arc<Config<'static>>>, headers: HeaderMap) -> Response {
    serve(&config, "index.html", &headers)
}

async fn file(State(config): State<Arc<Config<'static>>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&config, &file, &headers)
}

fn serve(config: &Arc<Config<'static>>, name: &str, headers: &HeaderMap) -> Response {
    let found = match utoipa_swagger_ui::serve(name, config.clone()) {
        Ok(found) => found,
        Err(error) => return ApiError::Internal(anyhow::anyhow!("swagger-ui: {error}")).into_response(),
    };
    let Some(found) = found else {
        return ApiError::detail(StatusCode::NOT_FOUND, "Not found.").into_response();
    };
    let content_type = HeaderValue::from_str(&found.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = if !found.gzpipped {
        found.bytes.into_owned().into_response()
    } else if accepts_gzip(headers) {
        let mut response = found.bytes.into_owned().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        let mut inflated = Vec::new();
        if let Err(error) = GzDecoder::new(found.bytes.as_ref()).read_to_end(&mut inflated) {
            return ApiError::Internal(anyhow::anyhow!("swagger-ui: {name}: {error}")).into_response();
        }
        inflated.into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, content_type);
    response_headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response_headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if found.gzpipped {
        response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    response
}

/// Whether `Accept-Encoding` lists `gzip` (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "").trim_start_matches("q=").parse::<f32>() == Ok(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
