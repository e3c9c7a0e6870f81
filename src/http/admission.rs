//! A line for the requests that work on the store: at most so many at once, the others wait
//! their turn, first come first served (tokio's semaphore is fair).
//!
//! Why: on a store where every operation is a network round trip (MongoDB), requests let in
//! all at once share the connections one operation at a time, so each of N requests takes
//! about N times as long as it would alone. When the store is slow, that is longer than
//! clients wait, or than a process lives: no request finishes, each is retried from its first
//! operation, and the work done is lost (congestion collapse). The crash test saw exactly
//! that: a server restarted onto the MongoDB emulator with ~50 webhook redeliveries in flight
//! answered none of them before its next kill, life after life, until the redeliveries gave
//! up. In line, the first ones run at the full speed of the store and finish.
//!
//! The HTTP layer lets each store-bound request [`Line::run`] (`http::admit`); the size comes
//! from the store (`Store::requests_at_once`: the MongoDB connection pool; SQLite, whose group
//! commit gathers concurrent writes, has none). A request gives its place up while it waits
//! for a payment provider ([`outside`]), so a slow provider never holds the line: the server
//! wraps its provider in [`OutsideLine`] when it builds its state, and the service never
//! knows there is a line.

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::PaymentRef;
use crate::payment::{
    AccountLinkRequest, AccountRequest, CheckoutRequest, CheckoutSession, PaymentError,
    PaymentProvider, RefundRequest, RefundResult, TransferRequest, TransferResult,
};

/// The places; cheap to clone (all clones are one line).
#[derive(Debug, Clone)]
pub struct Line {
    places: Arc<Semaphore>,
    size: usize,
}

/// The place the current request holds (`None` while it is [`outside`]).
struct Held {
    line: Line,
    place: Mutex<Option<OwnedSemaphorePermit>>,
}

tokio::task_local! {
    static HELD: Arc<Held>;
}

impl Line {
    /// A line with `places` places (at least one).
    pub fn new(places: usize) -> Line {
        let size = places.max(1);
        Line {
            places: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// How many places the line has.
    pub fn places(&self) -> usize {
        self.size
    }

    /// How many places are free now.
    pub fn free(&self) -> usize {
        self.places.available_permits()
    }

    async fn place(&self) -> OwnedSemaphorePermit {
        self.places
            .clone()
            .acquire_owned()
            .await
            .expect("the line's semaphore is never closed")
    }

    /// Waits for a place, then runs `work` holding it. Dropping the future (the client went
    /// away, the route timed out) leaves the line or frees the place.
    pub async fn run<F: Future>(&self, work: F) -> F::Output {
        let held = Arc::new(Held {
            line: self.clone(),
            place: Mutex::new(Some(self.place().await)),
        });
        HELD.scope(held, work).await
    }
}

/// Runs `work` (a call to a payment provider, which may take seconds) without the current
/// request's place, then waits in line again. Outside a [`Line::run`] (the recovery step,
/// `escrowctl`), it just runs `work`.
pub async fn outside<F: Future>(work: F) -> F::Output {
    let Ok(held) = HELD.try_with(Arc::clone) else {
        return work.await;
    };
    let place = held.place.lock().expect("never poisoned").take();
    if place.is_none() {
        // Already outside.
        return work.await;
    }
    drop(place);
    let out = work.await;
    let place = held.line.place().await;
    *held.place.lock().expect("never poisoned") = Some(place);
    out
}

/// A payment provider whose every call is made [`outside`] the line.
pub struct OutsideLine(pub Arc<dyn PaymentProvider>);

#[async_trait]
impl PaymentProvider for OutsideLine {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        outside(self.0.create_checkout(request)).await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, PaymentError> {
        outside(self.0.refund(request)).await
    }

    async fn intent_of_session(
        &self,
        session: &PaymentRef,
    ) -> Result<Option<PaymentRef>, PaymentError> {
        outside(self.0.intent_of_session(session)).await
    }

    async fn create_connected_account(
        &self,
        request: &AccountRequest,
    ) -> Result<String, PaymentError> {
        outside(self.0.create_connected_account(request)).await
    }

    async fn create_account_link(
        &self,
        request: &AccountLinkRequest,
    ) -> Result<String, PaymentError> {
        outside(self.0.create_account_link(request)).await
    }

    async fn create_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferResult, PaymentError> {
        outside(self.0.create_transfer(request)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn a_place_is_held_in_turn_and_given_up_outside() {
        let line = Line::new(1);
        let (went_outside, outside_now) = oneshot::channel();
        let (come_back, back) = oneshot::channel::<()>();
        let first = tokio::spawn({
            let line = line.clone();
            async move {
                line.run(async {
                    assert_eq!(line.free(), 0, "the only place is held");
                    outside(async {
                        went_outside.send(()).unwrap();
                        back.await.unwrap();
                    })
                    .await;
                    line.free()
                })
                .await
            }
        });
        outside_now.await.unwrap();
        assert_eq!(
            line.free(),
            1,
            "the place is free while its holder is outside"
        );
        // Another request gets in meanwhile and finishes.
        assert_eq!(line.run(async { line.free() }).await, 0);
        come_back.send(()).unwrap();
        assert_eq!(first.await.unwrap(), 0, "back in, holding the place again");
        assert_eq!(line.free(), 1, "and it was freed at the end");
        // Without a line, `outside` just runs.
        assert_eq!(outside(async { 7 }).await, 7);
    }
}
