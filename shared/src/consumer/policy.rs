//! The rules both consumer runtimes follow, written once: what the tokio driver
//! ([`Consumer`](super::Consumer), feature `consumer`) and the std-thread driver
//! ([`blocking::BlockingConsumer`](super::blocking::BlockingConsumer), feature `blocking`)
//! decide is decided here, so the two cannot drift apart. The drivers only wait, spawn
//! and send statements.

// With `consumer-core` alone no driver is built, and the rules below have no caller yet.
#![cfg_attr(not(any(feature = "consumer", feature = "blocking")), allow(dead_code))]

use std::any::Any;
use std::fmt;
use std::time::Duration;

use tracing::{error, warn};

use crate::{BoxError, Error, PgmqVersion, QueueName};

use super::stats::Counters;
use super::{ConsumerConfig, FailureDestination};

/// Back-off after a failed read, so a database outage does not spin the loop.
const READ_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause after failed reads in a row, or between tries of one message's
/// database work.
const MAX_READ_ERROR_PAUSE: Duration = Duration::from_secs(10);

/// Plain acknowledgement: the handler runs, then the consumer loop deletes (or archives)
/// the message in a separate statement, shared with other messages that succeeded around
/// the same time. A crash between the two re-delivers the message (at-least-once).
///
/// The same wrapper serves both runtimes: around an async handler it is the tokio
/// consumer's processor, around a blocking one the std-thread consumer's.
///
/// ```
/// use pgmq_orm_core::consumer::AckAfter;
/// use pgmq_orm_core::{BoxError, Message};
/// let plain = AckAfter::new(|_m: Message<u8>| std::future::ready(Ok::<(), BoxError>(())));
/// ```
#[derive(Debug)]
pub struct AckAfter<H> {
    pub(crate) handler: H,
}

impl<H> AckAfter<H> {
    /// Wraps `handler`; the consumer loop acknowledges its successes.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::AckAfter;
    /// let _ = AckAfter::new(());
    /// ```
    pub fn new(handler: H) -> Self {
        Self { handler }
    }
}

/// The check a transactional processor makes after deleting (or archiving) its message
/// inside the handler's transaction: if the message was already gone (its visibility
/// timeout ran out and another consumer acknowledged it), the transaction must roll back
/// so the handler's effects do not commit twice.
///
/// ```
/// use pgmq_orm_core::{QueueName, consumer::acknowledged};
/// let q = QueueName::new("jobs").unwrap();
/// assert!(acknowledged(true, &q, 1).is_ok());
/// assert!(acknowledged(false, &q, 1).unwrap_err().to_string().contains("no longer"));
/// ```
pub fn acknowledged(found: bool, queue: &QueueName, msg_id: i64) -> Result<(), BoxError> {
    if found {
        Ok(())
    } else {
        Err(format!("message {msg_id} is no longer in queue {queue}; rolling back").into())
    }
}

/// Why a processor did not complete a message.
///
/// ```
/// use pgmq_orm_core::{Error, consumer::ProcessError};
/// let e = ProcessError::from(Error::Pool("timed out".into()));
/// assert!(matches!(e, ProcessError::Infrastructure(_)));
/// assert!(e.to_string().contains("timed out"));
/// ```
#[derive(Debug)]
pub enum ProcessError {
    /// The handler returned an error or its message was already acknowledged elsewhere: a
    /// failed attempt, retried after the backoff and dead-lettered once attempts run out.
    Handler(BoxError),
    /// The database work around the handler failed (no pool connection, a lost
    /// connection, a failed `BEGIN` or `COMMIT`): not the handler's failure. The consumer
    /// pauses and processes the message again, keeping it hidden, without counting an
    /// attempt against it.
    Infrastructure(Error),
}

impl From<Error> for ProcessError {
    fn from(e: Error) -> Self {
        Self::Infrastructure(e)
    }
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handler(e) => write!(f, "handler failed: {e}"),
            Self::Infrastructure(e) => write!(f, "infrastructure failure: {e}"),
        }
    }
}

impl std::error::Error for ProcessError {}

/// The `LISTEN` statement for `queue`'s insert channel ([`QueueName::notify_channel`]),
/// quoted exactly: case kept, inner double quotes doubled, as `LISTEN` takes no bound
/// parameters.
///
/// ```
/// use pgmq_orm_core::{QueueName, consumer::listen_sql};
/// assert_eq!(listen_sql(&QueueName::new("jobs").unwrap()), r#"LISTEN "pgmq.q_jobs.INSERT""#);
/// let mixed = QueueName::existing("My\"Queue").unwrap();
/// assert_eq!(listen_sql(&mixed), r#"LISTEN "pgmq.q_My""Queue.INSERT""#);
/// ```
pub fn listen_sql(queue: &QueueName) -> String {
    format!(
        "LISTEN {}",
        crate::queue_name::quote_identifier(&queue.notify_channel())
    )
}

/// What becomes of a message whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Attempts used up: to the dead-letter queue or the archive.
    MoveAway,
    /// Visible again after this delay.
    RetryIn(Duration),
}

/// The failure policy for a message read `read_ct` times: move it away once its attempts
/// are used up, else retry after the jittered backoff.
pub(crate) fn after_failure(cfg: &ConsumerConfig, read_ct: i32) -> AfterFailure {
    if cfg.retry.exhausted(read_ct) {
        AfterFailure::MoveAway
    } else {
        AfterFailure::RetryIn(cfg.retry.backoff(read_ct, fastrand::f64()))
    }
}

/// What the loop does after a failed read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterReadFailure {
    /// Pause this long, then read again.
    Pause(Duration),
    /// [`ConsumerConfig::give_up_after`] failures in a row: stop and return the error.
    GiveUp,
}

/// Counts and logs a failed read (error level once the consumer is degraded) and says
/// whether to pause or give up.
pub(crate) fn read_failed(
    counters: &Counters,
    cfg: &ConsumerConfig,
    e: &Error,
) -> AfterReadFailure {
    let (in_row, newly) = counters.read_failed(e, cfg.degraded_after);
    if newly || in_row >= cfg.degraded_after {
        error!(queue = %cfg.queue, error = %e, in_row, "pgmq read failed; consumer degraded");
    } else {
        warn!(queue = %cfg.queue, error = %e, in_row, "pgmq read failed");
    }
    if cfg.give_up_after.is_some_and(|n| in_row >= n) {
        error!(queue = %cfg.queue, in_row, "giving up after consecutive failed reads");
        return AfterReadFailure::GiveUp;
    }
    AfterReadFailure::Pause(read_pause(in_row))
}

/// The pause after the `in_row`-th consecutive failed read: 1 s, doubling, at most 10 s.
pub(crate) fn read_pause(in_row: u32) -> Duration {
    READ_ERROR_PAUSE
        .saturating_mul(1 << in_row.saturating_sub(1).min(4))
        .min(MAX_READ_ERROR_PAUSE)
}

/// The pause before trying again after the `n`-th infrastructure failure around one
/// message: 0.5 s, doubling, at most 10 s.
pub(crate) fn infrastructure_pause(n: u32) -> Duration {
    Duration::from_millis(500)
        .saturating_mul(1 << n.saturating_sub(1).min(5))
        .min(MAX_READ_ERROR_PAUSE)
}

/// The settings and pool checks made before the first read, which need no database:
/// [`ConsumerConfig::validate`], the retry policy, and a pool that can lend `capacity`
/// connections against `concurrency × per + 1`.
pub(crate) fn check_settings(
    cfg: &ConsumerConfig,
    capacity: Option<usize>,
    per: usize,
) -> Result<(), Error> {
    cfg.validate()?;
    cfg.retry.validate()?;
    if let Some(capacity) = capacity {
        let need = cfg.concurrency.max(1) * per + 1;
        if capacity < need {
            return Err(Error::InvalidArgument(pool_too_small(
                capacity,
                need,
                per,
                cfg.concurrency,
            )));
        }
    }
    Ok(())
}

/// Judges the answer of the pgmq version check: missing or too old stops the consumer;
/// any other failure (a role without access to the version's tables, a slow server) is
/// logged and left to the reads.
pub(crate) fn check_version(answer: Result<Option<PgmqVersion>, Error>) -> Result<(), Error> {
    match answer {
        Ok(Some(v)) => v.check().map(drop),
        Ok(None) => Ok(()),
        Err(e @ (Error::PgmqMissing { .. } | Error::PgmqTooOld { .. })) => Err(e),
        Err(e) => {
            warn!(error = %e, "could not check the pgmq version");
            Ok(())
        }
    }
}

/// The queues that must exist before the first read: the consumer's, and its
/// dead-letter queue if it has one.
pub(crate) fn required_queues(cfg: &ConsumerConfig) -> Vec<&QueueName> {
    let mut needed = vec![&cfg.queue];
    if let FailureDestination::DeadLetter(dlq) = &cfg.on_failure {
        needed.push(dlq);
    }
    needed
}

/// The error for a required queue pgmq does not list.
pub(crate) fn queue_missing(cfg: &ConsumerConfig, q: &QueueName) -> Error {
    Error::QueueMissing {
        queue: q.as_str().to_owned(),
        source: format!(
            "the consumer of `{}` needs queue `{q}`, which pgmq does not list",
            cfg.queue
        )
        .into(),
    }
}

/// What to change when a pool lends `capacity` connections and the consumer needs `need`.
fn pool_too_small(capacity: usize, need: usize, per: usize, concurrency: usize) -> String {
    let more = need - capacity;
    if per == 0 {
        return format!(
            "the pool can lend this consumer {capacity} connection(s) (the rest are held \
             for good, e.g. by a LISTEN or pinned connection) but it needs 1 for reads and \
             acknowledgements: raise the pool's maximum size by {more}"
        );
    }
    let fits = capacity.saturating_sub(1) / per;
    let lower = if fits > 0 {
        format!(", or lower `concurrency` to {fits}")
    } else {
        String::new()
    };
    format!(
        "the pool can lend this consumer {capacity} connection(s) but concurrency \
         {concurrency} needs {need} ({per} per running transactional handler, 1 more for \
         reads, heartbeats and dead-letter moves): raise the pool's maximum size by \
         {more}{lower}"
    )
}

/// The text of a handler's panic, for its failure record.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    };
    format!("handler panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::RetryPolicy;

    fn cfg() -> ConsumerConfig {
        ConsumerConfig::new(QueueName::new("q").unwrap())
    }

    #[test]
    fn pauses_double_and_are_capped() {
        assert_eq!(read_pause(1), Duration::from_secs(1));
        assert_eq!(read_pause(3), Duration::from_secs(4));
        assert_eq!(read_pause(50), Duration::from_secs(10));
        assert_eq!(infrastructure_pause(1), Duration::from_millis(500));
        assert_eq!(infrastructure_pause(40), Duration::from_secs(10));
    }

    #[test]
    fn failure_moves_away_only_when_attempts_are_used_up() {
        let c = cfg().with_retry(RetryPolicy {
            max_attempts: 2,
            jitter: 0.0,
            ..RetryPolicy::default()
        });
        assert_eq!(
            after_failure(&c, 1),
            AfterFailure::RetryIn(Duration::from_secs(1))
        );
        assert_eq!(after_failure(&c, 2), AfterFailure::MoveAway);
    }

    #[test]
    fn a_small_pool_is_refused_with_advice() {
        let c = cfg().with_concurrency(4);
        let e = check_settings(&c, Some(2), 1).unwrap_err().to_string();
        assert!(
            e.contains("needs 5") && e.contains("lower `concurrency` to 1"),
            "{e}"
        );
        assert!(check_settings(&c, Some(5), 1).is_ok());
        assert!(check_settings(&c, Some(1), 0).is_ok());
        assert!(check_settings(&c, Some(0), 0).is_err());
    }

    #[test]
    fn reads_give_up_after_the_set_number_in_a_row() {
        let counters = Counters::default();
        let c = cfg().with_read_failures(1, Some(2));
        let e = Error::InvalidArgument("down".into());
        assert_eq!(
            read_failed(&counters, &c, &e),
            AfterReadFailure::Pause(Duration::from_secs(1))
        );
        assert_eq!(read_failed(&counters, &c, &e), AfterReadFailure::GiveUp);
    }

    #[test]
    fn the_dead_letter_queue_is_required_only_as_destination() {
        assert_eq!(required_queues(&cfg()).len(), 1);
        let c = cfg()
            .with_failure_destination(FailureDestination::DeadLetter(QueueName::new("d").unwrap()));
        assert_eq!(required_queues(&c)[1].as_str(), "d");
        assert!(matches!(
            queue_missing(&c, &c.queue),
            Error::QueueMissing { .. }
        ));
    }
}
