//! A second origin for the browser tests: a tiny HTTP server whose one page is a blank document on
//! another port. Reached as `127.0.0.1:<port>` it is the same *site* as the API (cookies ignore
//! ports, so `SameSite` lets them through) but another *origin*; reached as `localhost:<port>` it
//! is another site too.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tokio::sync::oneshot;

/// A running second-origin server; it stops when dropped.
pub struct SecondOrigin {
    port: u16,
    _stop: oneshot::Sender<()>,
}

impl SecondOrigin {
    pub async fn start() -> SecondOrigin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let app = Router::new().route(
            "/",
            get(|| async { Html("<!doctype html><title>second origin</title><p id=\"who\">second origin</p>") }),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        SecondOrigin { port, _stop: stop }
    }

    /// The same site as an API on `127.0.0.1`, another origin.
    pub fn same_site(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Another site and origin than an API on `127.0.0.1`.
    pub fn cross_site(&self) -> String {
        format!("http://localhost:{}", self.port)
    }
}
