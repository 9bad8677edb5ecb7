//! The browser-mode demo page (`cookies.demo_page`): one static HTML file with vanilla JavaScript,
//! embedded in the binary, that registers, logs in, shows `users/me/`, refreshes and logs out
//! through the cookies without ever reading a token. The browser tests drive it.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::state::AppState;

/// Where the page is served.
pub const PATH: &str = "/api/auth/demo/";

/// [`PATH`] without its trailing slash (reserved against `[routes]` aliases).
pub const PATH_WITHOUT_SLASH: &str = "/api/auth/demo";

const PAGE: &str = include_str!("demo.html");

/// The page's route; the page calls the API relative to its own URL, so it works behind a prefix.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}
