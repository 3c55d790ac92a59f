//! Run a consumer's handler inline over what a test enqueued, and get what became of each
//! message (feature `consumer`).
//!
//! The consumer is the application's own, built as in production (plain or
//! transactional, with its retry policy and dead-letter queue): [`run`] processes what
//! the queue holds now, then stops and returns a [`RunOutcomes`]: for each message handed
//! to the handler, whether it was processed, put back for a retry or moved away, with the
//! handler's error. Messages put back for a retry stay hidden for their backoff, so one
//! call handles each message once; call it again after the backoff to see the next
//! attempt (a test sets a zero backoff with `RetryPolicy`).
//!
//! Every run is bounded: [`run`] by [`DEFAULT_LIMIT`], [`run_within`] by the caller's
//! limit. Past it the consumer is stopped as on a shutdown and the run is an
//! [`Error::Timeout`], so a handler that hangs fails the test instead of hanging it.
//!
//! ```no_run
//! use pgmq_orm_core::consumer::{Consumer, ConsumerBackend, OutcomeKind, Processor};
//!
//! // `consumer` is the application's, e.g. diesel-pgmq's `Transactional::consumer(..)`
//! // (examples/tests/orders.rs in the repository shows one end to end).
//! async fn every_order_ships<B, P>(consumer: &Consumer<B, u32, P>)
//! where
//!     B: ConsumerBackend,
//!     P: Processor<u32>,
//! {
//!     let run = pgmq_orm_test::inline::run(consumer).await.unwrap();
//!     assert!(run.outcomes.iter().all(|o| o.kind == OutcomeKind::Processed), "{run:?}");
//!     assert_eq!(run.stats.dead_lettered, 0);
//! }
//! ```

use std::time::Duration;

use pgmq_orm_core::Error;
use pgmq_orm_core::consumer::{CancellationToken, Consumer, ConsumerBackend, Processor};
pub use pgmq_orm_core::consumer::{Outcome, OutcomeKind, RunOutcomes};
use serde::de::DeserializeOwned;

/// The bound of [`run`]: 30 seconds.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(30);

/// Processes what `consumer`'s queue holds now with its own handler and settings, then
/// stops; returns what became of each message. An [`Error::Timeout`] after
/// [`DEFAULT_LIMIT`]; otherwise the errors of the consumer's start-up checks (queue
/// missing, pool too small, ...).
///
/// ```no_run
/// # use pgmq_orm_core::consumer::{Consumer, ConsumerBackend, Processor};
/// # async fn f<B: ConsumerBackend, P: Processor<u32>>(consumer: Consumer<B, u32, P>) {
/// let run = pgmq_orm_test::inline::run(&consumer).await.unwrap();
/// for o in run.failed() {
///     println!("message {} failed on attempt {}: {:?}", o.msg_id, o.attempt, o.kind.error());
/// }
/// # }
/// ```
pub async fn run<B, T, P>(consumer: &Consumer<B, T, P>) -> Result<RunOutcomes, Error>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    run_within(consumer, DEFAULT_LIMIT).await
}

/// [`run`] bounded by `limit` instead of [`DEFAULT_LIMIT`]. Once `limit` has passed the
/// consumer shuts down (running handlers get its `shutdown_deadline`, as in production)
/// and the result is [`Error::Timeout`].
///
/// ```no_run
/// # use std::time::Duration;
/// # use pgmq_orm_core::consumer::{Consumer, ConsumerBackend, Processor};
/// # async fn f<B: ConsumerBackend, P: Processor<u32>>(consumer: Consumer<B, u32, P>) {
/// let run = pgmq_orm_test::inline::run_within(&consumer, Duration::from_secs(5)).await;
/// assert!(run.is_ok(), "the handler should finish within 5 s: {run:?}");
/// # }
/// ```
pub async fn run_within<B, T, P>(
    consumer: &Consumer<B, T, P>,
    limit: Duration,
) -> Result<RunOutcomes, Error>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    let cancel = CancellationToken::new();
    let timer = {
        let cancel = cancel.clone();
        async move {
            tokio::time::sleep(limit).await;
            cancel.cancel();
        }
    };
    let run = consumer.run_until_empty_with_outcomes(cancel.clone());
    tokio::pin!(run);
    tokio::select! {
        result = &mut run => result,
        () = timer => {
            // Let the consumer shut down cleanly (release what is running) before
            // reporting the timeout.
            let _ = run.await;
            Err(Error::Timeout { what: "inline consumer run", after: limit })
        }
    }
}
