//! One connection's deadline: when it must have sent a complete request head, or, between
//! requests, when its keep-alive ends. No deadline while a request is being handled (the request
//! timeout bounds that).
//!
//! The connection's I/O and service only write the phase; nothing wakes the watchdog when it moves.
//! The watchdog instead never sleeps past the earliest deadline a later move could set (see
//! [`Deadline::expired`]), looks again when it wakes, and sleeps on. A request therefore costs three
//! uncontended locks, and no timer, wake-up or extra poll of its connection's task; in exchange an
//! idle connection's watchdog looks once every `header_read_timeout` until its keep-alive ends.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What the connection is doing, and so which deadline applies.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Receiving a request head (or waiting for the first one on a new connection): closed at `until`.
    Head { until: Instant },
    /// A request is being handled: no deadline.
    Busy,
    /// Between requests, no byte of the next one yet: closed at `until`.
    Idle { until: Instant },
}

/// The deadline shared by a connection's I/O, its service and its watchdog.
#[derive(Debug)]
pub struct Deadline {
    phase: Mutex<Phase>,
    header_read_timeout: Duration,
    keep_alive_timeout: Duration,
}

impl Deadline {
    /// A new connection: its first request head must arrive within `header_read_timeout`.
    pub fn new(header_read_timeout: Duration, keep_alive_timeout: Duration) -> Deadline {
        Deadline {
            phase: Mutex::new(Phase::Head {
                until: Instant::now() + header_read_timeout,
            }),
            header_read_timeout,
            keep_alive_timeout,
        }
    }

    /// Bytes arrived: if the connection was idle, they begin a request head, which now has
    /// `header_read_timeout` to complete.
    fn bytes_received(&self) {
        let mut phase = self.lock();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head {
                until: Instant::now() + self.header_read_timeout,
            };
        }
    }

    /// hyper has parsed a request head and called the service.
    pub fn request_started(&self) {
        *self.lock() = Phase::Busy;
    }

    /// The response is ready: the connection is idle until the next request or its keep-alive ends.
    pub fn response_ready(&self) {
        *self.lock() = Phase::Idle {
            until: Instant::now() + self.keep_alive_timeout,
        };
    }

    /// Completes once the current deadline has passed.
    ///
    /// Each sleep ends no later than any deadline the phase can reach while it lasts, so none is
    /// missed: a head's deadline only moves later (the next head starts after this one); a head
    /// that starts during the sleep has `header_read_timeout` from a moment after the sleep began,
    /// an idle spell that starts during it has `keep_alive_timeout`.
    pub async fn expired(&self) {
        loop {
            let now = Instant::now();
            let phase = *self.lock();
            let wake = match phase {
                Phase::Head { until } | Phase::Idle { until } if until <= now => return,
                Phase::Head { until } => until,
                Phase::Idle { until } => until.min(now + self.header_read_timeout),
                Phase::Busy => now + self.header_read_timeout.min(self.keep_alive_timeout),
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A stream that tells its [`Deadline`] when bytes arrive.
#[derive(Debug)]
pub struct Watched<S> {
    inner: S,
    deadline: std::sync::Arc<Deadline>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, deadline: std::sync::Arc<Deadline>) -> Self {
        Self { inner, deadline }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.deadline.bytes_received();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const HEAD: Duration = Duration::from_millis(150);
    const KEEP_ALIVE: Duration = Duration::from_millis(400);
    /// A keep-alive so long that a deadline firing before it must be the header deadline.
    const LONG: Duration = Duration::from_secs(30);

    // A loaded machine can make a deadline fire late, never early: upper bounds are generous.
    #[tokio::test]
    async fn a_new_connection_must_send_its_whole_first_head_in_time() {
        let started = Instant::now();
        let deadline = Deadline::new(HEAD, LONG);
        // More bytes of the same head do not extend it.
        deadline.bytes_received();
        deadline.expired().await;
        let elapsed = started.elapsed();
        assert!(elapsed >= HEAD && elapsed < LONG / 3, "{elapsed:?}");
    }

    #[tokio::test]
    async fn a_busy_connection_has_no_deadline_and_an_idle_one_keeps_alive() {
        let deadline = Arc::new(Deadline::new(HEAD, KEEP_ALIVE));
        deadline.request_started();
        let watcher = tokio::spawn({
            let deadline = deadline.clone();
            async move { deadline.expired().await }
        });
        tokio::time::sleep(2 * KEEP_ALIVE).await;
        assert!(!watcher.is_finished(), "a request in progress has no deadline");
        let idle_since = Instant::now();
        deadline.response_ready();
        watcher.await.unwrap();
        assert!(idle_since.elapsed() >= KEEP_ALIVE);
    }

    #[tokio::test]
    async fn a_watchdog_asleep_on_a_long_keep_alive_still_enforces_the_next_head() {
        let deadline = Arc::new(Deadline::new(HEAD, LONG));
        deadline.request_started();
        deadline.response_ready();
        let watcher = tokio::spawn({
            let deadline = deadline.clone();
            async move { deadline.expired().await }
        });
        tokio::time::sleep(HEAD / 3).await;
        assert!(!watcher.is_finished());
        let first_byte = Instant::now();
        deadline.bytes_received();
        watcher.await.unwrap();
        let elapsed = first_byte.elapsed();
        assert!(elapsed >= HEAD && elapsed < LONG / 3, "{elapsed:?}");
    }

    #[tokio::test]
    async fn the_first_byte_of_the_next_request_starts_the_header_clock() {
        let deadline = Arc::new(Deadline::new(HEAD, LONG));
        deadline.request_started();
        deadline.response_ready();
        let first_byte = Instant::now();
        deadline.bytes_received();
        deadline.expired().await;
        let elapsed = first_byte.elapsed();
        assert!(elapsed >= HEAD && elapsed < LONG / 3, "{elapsed:?}");
    }
}
