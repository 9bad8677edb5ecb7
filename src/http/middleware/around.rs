//! [`Around`]: a middleware that sees each request before the service below it and each response
//! after, as a plain tower layer.
//!
//! `axum::middleware::from_fn` does the same with an `async fn`, but for every request it clones the
//! whole stack below it, boxes that clone, and boxes both its own future and the one below; with seven
//! of them on every request, those allocations and the moves of the boxed futures were the largest
//! cost of `jwt/verify/` that was imhotep's own (bench/history.md). An [`Around`] costs a clone of
//! itself (a reference count at most) and nothing else.

use std::convert::Infallible;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service};

/// What a middleware does before and after the service below it.
pub trait Around: Clone + Send + Sync + 'static {
    /// What [`Around::before`] hands to [`Around::after`] for the same request.
    type Carry: Send + 'static;

    /// Looks at (or changes) the request. `Break` answers it without calling the service below;
    /// [`Around::after`] does not see that answer.
    fn before(&self, request: &mut Request) -> ControlFlow<Response, Self::Carry>;

    /// Looks at (or changes) the answer of the service below; by default leaves it as it is.
    fn after(&self, carry: Self::Carry, response: &mut Response) {
        let _ = (carry, response);
    }
}

/// The tower layer of an [`Around`].
#[derive(Clone)]
pub struct AroundLayer<A>(pub A);

impl<A: Around, S> Layer<S> for AroundLayer<A> {
    type Service = AroundService<A, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            around: self.0.clone(),
            inner,
        }
    }
}

/// An [`Around`] in front of the service `S`.
#[derive(Clone)]
pub struct AroundService<A, S> {
    around: A,
    inner: S,
}

impl<A, S> Service<Request> for AroundService<A, S>
where
    A: Around,
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AroundFuture<A, A::Carry, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match self.around.before(&mut request) {
            ControlFlow::Continue(carry) => AroundFuture::Inner {
                future: self.inner.call(request),
                after: Some((self.around.clone(), carry)),
            },
            ControlFlow::Break(response) => AroundFuture::Answered {
                response: Some(response),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of an [`AroundService`]: the service below's, passed through [`Around::after`],
    /// or the one [`Around::before`] gave.
    #[project = Projected]
    pub enum AroundFuture<A, C, F> {
        Inner { #[pin] future: F, after: Option<(A, C)> },
        Answered { response: Option<Response> },
    }
}

impl<A, F> Future for AroundFuture<A, A::Carry, F>
where
    A: Around,
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Inner { future, after } => {
                let Ok(mut response) = ready!(future.poll(cx));
                if let Some((around, carry)) = after.take() {
                    around.after(carry, &mut response);
                }
                Poll::Ready(Ok(response))
            }
            Projected::Answered { response } => {
                Poll::Ready(Ok(response.take().expect("an answered request is polled once")))
            }
        }
    }
}
