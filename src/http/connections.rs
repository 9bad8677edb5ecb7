//! Serving a router on a TCP listener, one task per connection (hyper's HTTP/1 connection driver),
//! with the limits that keep idle and slow clients from exhausting memory and descriptors:
//!
//! - at most `server.max_connections` connections are open at once; the listener stops accepting at
//!   the cap, so further clients wait in the kernel's backlog instead of failing in an accept loop;
//! - a request head (request line and headers) must arrive whole within `server.header_read_timeout`
//!   of its first byte, and a new connection must deliver its first head within that time of being
//!   accepted (slowloris and silent sockets are closed);
//! - a connection idle between requests is closed after `server.keep_alive_timeout`.
//!
//! hyper's own `header_read_timeout` cannot express the last two separately (its clock also runs
//! while a kept-alive connection waits for the next request), so each connection has a small
//! watchdog: its I/O reports the first byte of a request head, its service reports when a request
//! starts and when its response is ready. Handlers see the peer as axum's `ConnectInfo<SocketAddr>`,
//! as `into_make_service_with_connect_info` would provide it.

mod deadline;
mod descriptors;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::Service;

use deadline::{Deadline, Watched};

/// The `[server]` limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` until `shutdown` completes, then stops accepting, lets every connection finish
/// its current request, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let max_connections = descriptors::connection_budget(limits.max_connections);
    let permits = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(permits as usize));
    let (stop, stopping) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let (stream, peer, slot) = accepted;
        let router = router.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, limits, stopping).await;
            drop(slot);
        });
    }
    drop(listener);
    drop(stop);
    // Every connection holds a slot until it is closed.
    let _ = slots.acquire_many(permits).await;
}

/// Waits for a free slot, then for a connection. Accept errors (a descriptor limit reached by
/// something else, a connection reset before it was accepted) are logged and retried after a pause.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit) {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, peer, slot),
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let deadline = Arc::new(Deadline::new(limits.header_read_timeout, limits.keep_alive_timeout));
    let io = TokioIo::new(Watched::new(stream, deadline.clone()));
    let service = {
        let deadline = deadline.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            deadline.request_started();
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            // A Router is always ready, so `call` needs no `poll_ready` first.
            let response = router.clone().call(request);
            let deadline = deadline.clone();
            async move {
                let response = response.await;
                deadline.response_ready();
                response
            }
        })
    };
    let connection = http1::Builder::new().serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = deadline.expired() => {
                tracing::debug!(%peer, "closing a connection that was idle or too slow to send a request head");
                return;
            }
            _ = stopping.changed(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::{ConnectionLimits, serve};

    #[tokio::test]
    async fn handlers_see_the_peer_address_as_connect_info() {
        let router = Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(10),
            max_connections: 10,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, limits, async move {
            let _ = stopped.await;
        }));
        let client = tokio::net::TcpSocket::new_v4().unwrap();
        client.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut stream = client.connect(address).await.unwrap();
        let local = stream.local_addr().unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with(&local.to_string()),
            "{answer} does not end with {local}"
        );
        let _ = stop.send(());
        server.await.unwrap();
    }
}
