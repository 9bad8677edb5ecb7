//! The framework ceiling: axum on tokio's multi-threaded runtime (as imhotep runs it), answering
//! `200 {}` to any method and path after reading the request body. Nothing else: no database, no
//! JWT, no middleware. `ceiling PORT` listens on 127.0.0.1:PORT until killed.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use serde_json::{Value, json};

async fn empty(_body: Bytes) -> Json<Value> {
    Json(json!({}))
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .expect("usage: ceiling PORT");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind 127.0.0.1:PORT");
    let app = Router::new().fallback(empty);
    axum::serve(listener, app).await.expect("serve");
}
