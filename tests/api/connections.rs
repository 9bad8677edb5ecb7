//! Connection limits (`[server]` `header_read_timeout`, `keep_alive_timeout`, `max_connections`), seen
//! from raw sockets: slow and silent clients are cut off, idle keep-alive connections live their
//! time, and clients beyond the cap wait in the backlog until a slot frees. No database is involved:
//! the scenarios run on SQLite only.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, spawn_app_with};

/// Longest any scenario waits for the server to act; far above every configured timeout.
const PATIENCE: Duration = Duration::from_secs(20);

async fn app(header_read_timeout: Duration, keep_alive_timeout: Duration, max_connections: usize) -> TestApp {
    spawn_app_with(Backend::Sqlite, |s| {
        s.server.header_read_timeout = header_read_timeout;
        s.server.keep_alive_timeout = keep_alive_timeout;
        s.server.max_connections = max_connections;
    })
    .await
    .expect("SQLite is always available")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connected")
}

/// Reads until the server closes the connection (or resets it); returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
        }
    }
}

/// Sends one keep-alive `GET /healthz` and reads its whole answer (whose body is 15 bytes).
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("request sent");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&received).ends_with(r#"{"status":"ok"}"#) {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .expect("readable");
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_head_is_cut_off_at_the_header_timeout() {
    let header = Duration::from_secs(1);
    let app = app(header, Duration::from_secs(60), 100).await;
    // The header clock starts when the server accepts, which can be before `connect` returns here.
    let started = Instant::now();
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    // One more header line every 200 ms, never the blank line that ends the head.
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "a slowloris head was still open after {PATIENCE:?}");
    assert!(started.elapsed() >= header, "closed before the header timeout");
    // The server still answers everyone else.
    assert_eq!(
        app.send(|c| c.get(format!("{}/healthz", app.address))).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_at_the_header_timeout() {
    let header = Duration::from_secs(1);
    let app = app(header, Duration::from_secs(60), 100).await;
    let started = Instant::now();
    let mut stream = connect(&app).await;
    let received = read_until_closed(&mut stream).await;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    let elapsed = started.elapsed();
    assert!(elapsed >= header && elapsed < PATIENCE / 2, "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_lives_for_the_keep_alive_timeout_then_closes() {
    let keep_alive = Duration::from_secs(5);
    let app = app(Duration::from_millis(500), keep_alive, 100).await;
    let mut stream = connect(&app).await;
    assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for four header timeouts: still open, because idle is not a slow head.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Taken before the request: the server's idle clock starts later, when its answer is ready.
    let idle_since = Instant::now();
    assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    assert!(read_until_closed(&mut stream).await.is_empty());
    assert!(idle_since.elapsed() >= keep_alive, "{:?}", idle_since.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = app(Duration::from_secs(30), Duration::from_secs(30), 2).await;
    let mut first = connect(&app).await;
    let mut second = connect(&app).await;
    assert!(healthz(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(healthz(&mut second).await.starts_with("HTTP/1.1 200"));
    // The third connects (the kernel's backlog accepts it) but is not served while both slots are held.
    let mut third = connect(&app).await;
    let waiting = tokio::spawn(async move {
        let answer = healthz(&mut third).await;
        (answer, third)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served beyond max_connections = 2"
    );
    drop(first);
    let (answer, _third) = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("served once a slot was free")
        .expect("the waiting client");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(healthz(&mut second).await.starts_with("HTTP/1.1 200"));
}
