//! Runnable examples for `diesel-pgmq` and `sea-orm-pgmq`; see `src/bin/`. Each starts a
//! throwaway PostgreSQL with pgmq when `DATABASE_URL` is not set.

use std::time::Duration;

use pgmq_orm_core::BoxError;
use pgmq_orm_core::consumer::{
    CancellationToken, Consumer, ConsumerBackend, ConsumerStats, Processor,
};
use serde::de::DeserializeOwned;

/// Runs `consumer` until it has processed `expected` messages, then shuts it down
/// gracefully and returns its counters; an error if that takes longer than `within`.
///
/// ```no_run
/// # async fn f<B: pgmq_orm_core::consumer::ConsumerBackend, P: pgmq_orm_core::consumer::Processor<u8>>(
/// #     consumer: pgmq_orm_core::consumer::Consumer<B, u8, P>,
/// # ) -> Result<(), pgmq_orm_core::BoxError> {
/// let stats = pgmq_orm_examples::run_until_processed(&consumer, 2, std::time::Duration::from_secs(30)).await?;
/// assert_eq!(stats.processed, 2);
/// # Ok(()) }
/// ```
pub async fn run_until_processed<B, T, P>(
    consumer: &Consumer<B, T, P>,
    expected: u64,
    within: Duration,
) -> Result<ConsumerStats, BoxError>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    let stop = CancellationToken::new();
    let watch = async {
        let deadline = tokio::time::Instant::now() + within;
        while consumer.stats().processed < expected && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.cancel();
    };
    let (ran, ()) = tokio::join!(consumer.run(stop.clone()), watch);
    ran?;
    let stats = consumer.stats();
    if stats.processed < expected {
        return Err(format!(
            "the consumer processed {} of {expected} messages within {within:?}",
            stats.processed
        )
        .into());
    }
    Ok(stats)
}
