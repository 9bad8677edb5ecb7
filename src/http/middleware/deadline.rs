//! `server.request_timeout`: a request not answered in time is dropped (its handler with it) and
//! answered 503 with a JSON body and `Retry-After`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tokio::time::Timeout;
use tower::{Layer, Service};

use crate::http::error::ApiError;

/// The layer: every request below it gets `limit`.
#[derive(Clone, Copy)]
pub struct DeadlineLayer(pub Duration);

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline { limit: self.0, inner }
    }
}

/// The service `S` with a time limit.
#[derive(Clone)]
pub struct Deadline<S> {
    limit: Duration,
    inner: S,
}

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        DeadlineFuture {
            inner: tokio::time::timeout(self.limit, self.inner.call(request)),
            limit: self.limit,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer below, or 503 once the limit has passed.
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: Timeout<F>,
        limit: Duration,
    }
}

impl<F> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(Ok(match ready!(this.inner.poll(cx)) {
            Ok(Ok(response)) => response,
            Err(_) => ApiError::TimedOut(*this.limit).into_response(),
        }))
    }
}
