//! How a consumer reads, retries and stops.

use std::time::Duration;

use crate::{Error, QueueName};

use super::{FailureDestination, RetryPolicy};

/// A consumer's settings. Build with [`ConsumerConfig::new`] and the `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
/// let c = ConsumerConfig::new(QueueName::new("orders").unwrap())
///     .with_concurrency(8)
///     .with_poll_interval(Duration::from_secs(30));
/// assert_eq!(c.concurrency, 8);
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The queue read from.
    pub queue: QueueName,
    /// How long a read message stays hidden; the heartbeat renews it.
    pub visibility_timeout: Duration,
    /// Most messages read per round trip (never more than free handler slots).
    pub batch_size: usize,
    /// Most handlers running at once; also the most messages held in memory.
    pub concurrency: usize,
    /// Longest idle wait between reads when no notification arrives.
    pub poll_interval: Duration,
    /// How often a running handler's visibility timeout is extended; `None` disables it.
    pub heartbeat: Option<Duration>,
    /// How long running handlers may finish after cancellation before their messages
    /// are released.
    pub shutdown_deadline: Duration,
    /// Backoff and attempt limit.
    pub retry: RetryPolicy,
    /// Where failed and undecodable messages go.
    pub on_failure: FailureDestination,
    /// Archive instead of delete on success.
    pub archive_on_success: bool,
    /// Plain mode: most acknowledgements sent in one `pgmq.delete` (or `pgmq.archive`)
    /// statement. At 1 or less, each message is acknowledged on its own right after its
    /// handler. Transactional processors always acknowledge inside their transaction.
    pub ack_batch: usize,
    /// Plain mode: how long a succeeded message may wait for others to share its
    /// acknowledgement statement. Until then it stays invisible in the queue (so in FIFO
    /// mode its group waits too); pending acknowledgements are always sent before
    /// [`Consumer::run`](super::Consumer::run) returns.
    pub ack_linger: Duration,
    /// FIFO per message group (the `x-pgmq-group` header): one message of a group is
    /// handled at a time, in order; different groups run concurrently. A failing message
    /// holds its group back until it succeeds or leaves the queue.
    pub fifo: bool,
    /// Read the next batch while the handlers of the last one run, and hold it until
    /// their slots free up: the read's round trip and the server's work on it overlap the
    /// handlers, which matters most for one consumer on one connection with fast
    /// handlers. At most one batch is held; held messages are not extended by the
    /// heartbeat (their visibility timeout runs while they wait, so keep it well above a
    /// handler's duration) and are released at once on shutdown. Off by default: the
    /// loop then never holds more messages than free handler slots.
    pub read_ahead: bool,
    /// Client-side limit on every statement the loop sends itself (reads, visibility
    /// changes, acknowledgements, dead-letter moves): one that takes longer is abandoned
    /// and counted as an infrastructure failure, whatever the server or network does (a
    /// lock wait, a frozen server, a dead connection). It also bounds shutdown: after
    /// cancellation, [`Consumer::run`](super::Consumer::run) returns within
    /// `shutdown_deadline + 2 × statement_timeout` plus scheduling noise. 10 s by default.
    pub statement_timeout: Duration,
    /// Consecutive failed reads after which the failure is logged at error level and the
    /// consumer's [`Health`](super::Health) turns `Degraded` (3 by default; a successful
    /// read turns it back to `Healthy`).
    pub degraded_after: u32,
    /// Consecutive failed reads after which [`Consumer::run`](super::Consumer::run) stops
    /// and returns the last error instead of retrying; `None` (the default) retries
    /// forever.
    pub give_up_after: Option<u32>,
}

impl ConsumerConfig {
    /// Defaults: vt 30 s with a heartbeat every 10 s, batch 10, concurrency 10, poll 5 s,
    /// shutdown deadline 30 s, [`RetryPolicy::default`], archive on failure,
    /// acknowledgements batched up to 100 per statement with a 5 ms linger, a 10 s
    /// statement timeout, `Degraded` after 3 failed reads in a row, and never giving up.
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// assert_eq!(ConsumerConfig::new(QueueName::new("q").unwrap()).batch_size, 10);
    /// ```
    pub fn new(queue: QueueName) -> Self {
        Self {
            queue,
            visibility_timeout: Duration::from_secs(30),
            batch_size: 10,
            concurrency: 10,
            poll_interval: Duration::from_secs(5),
            heartbeat: Some(Duration::from_secs(10)),
            shutdown_deadline: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            on_failure: FailureDestination::default(),
            archive_on_success: false,
            ack_batch: 100,
            ack_linger: Duration::from_millis(5),
            fifo: false,
            read_ahead: false,
            statement_timeout: Duration::from_secs(10),
            degraded_after: 3,
            give_up_after: None,
        }
    }

    /// Checks the settings that cannot work: a visibility timeout of zero (every message
    /// would be visible again as soon as it is read), a heartbeat not shorter than the
    /// visibility timeout (the message would reappear before its first extension), and a
    /// zero statement timeout. The consumer calls this before its first read.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::{ErrorKind, QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap());
    /// assert!(c.validate().is_ok());
    /// let bad = c.clone().with_visibility(Duration::ZERO, None);
    /// assert!(bad.validate().unwrap_err().to_string().contains("visibility_timeout"));
    /// let bad = c.with_visibility(Duration::from_secs(5), Some(Duration::from_secs(5)));
    /// assert_eq!(bad.validate().unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |s: String| Err(Error::InvalidArgument(s));
        // pgmq counts visibility timeouts in whole seconds (or milliseconds); anything
        // under a millisecond is zero.
        if self.visibility_timeout.as_millis() == 0 {
            return invalid(
                "consumer option `visibility_timeout` must be above zero: a message read \
                 with a zero visibility timeout is visible to every other read at once"
                    .to_owned(),
            );
        }
        if let Some(beat) = self.heartbeat
            && beat >= self.visibility_timeout
        {
            return invalid(format!(
                "consumer option `heartbeat` ({beat:?}) must be shorter than \
                 `visibility_timeout` ({:?}), or the message is visible again before \
                 its first extension",
                self.visibility_timeout
            ));
        }
        if self.heartbeat == Some(Duration::ZERO) {
            return invalid("consumer option `heartbeat` must be above zero".to_owned());
        }
        if self.statement_timeout.is_zero() {
            return invalid("consumer option `statement_timeout` must be above zero".to_owned());
        }
        Ok(())
    }

    /// Sets the client-side statement timeout (see the `statement_timeout` field).
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap())
    ///     .with_statement_timeout(Duration::from_secs(2));
    /// assert_eq!(c.statement_timeout, Duration::from_secs(2));
    /// ```
    pub fn with_statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = d;
        self
    }

    /// Sets after how many consecutive failed reads the consumer reports itself
    /// `Degraded` (at least 1) and, with `give_up_after`, after how many
    /// [`Consumer::run`](super::Consumer::run) returns the error instead of retrying.
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap()).with_read_failures(2, Some(5));
    /// assert_eq!((c.degraded_after, c.give_up_after), (2, Some(5)));
    /// ```
    pub fn with_read_failures(mut self, degraded_after: u32, give_up_after: Option<u32>) -> Self {
        self.degraded_after = degraded_after.max(1);
        self.give_up_after = give_up_after.map(|n| n.max(1));
        self
    }

    /// Sets the most handlers running at once (at least 1).
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// assert_eq!(ConsumerConfig::new(QueueName::new("q").unwrap()).with_concurrency(0).concurrency, 1);
    /// ```
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the batch size (at least 1).
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// assert_eq!(ConsumerConfig::new(QueueName::new("q").unwrap()).with_batch_size(5).batch_size, 5);
    /// ```
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the idle poll interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap()).with_poll_interval(Duration::from_secs(1));
    /// assert_eq!(c.poll_interval, Duration::from_secs(1));
    /// ```
    pub fn with_poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Sets the visibility timeout and heartbeat interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap())
    ///     .with_visibility(Duration::from_secs(2), Some(Duration::from_secs(1)));
    /// assert_eq!(c.heartbeat, Some(Duration::from_secs(1)));
    /// ```
    pub fn with_visibility(mut self, vt: Duration, heartbeat: Option<Duration>) -> Self {
        self.visibility_timeout = vt;
        self.heartbeat = heartbeat;
        self
    }

    /// Sets the retry policy.
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::{ConsumerConfig, RetryPolicy}};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap())
    ///     .with_retry(RetryPolicy { max_attempts: 2, ..RetryPolicy::default() });
    /// assert_eq!(c.retry.max_attempts, 2);
    /// ```
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets where failed messages go.
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::{ConsumerConfig, FailureDestination}};
    /// let dlq = QueueName::new("q_dlq").unwrap();
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap())
    ///     .with_failure_destination(FailureDestination::DeadLetter(dlq));
    /// assert!(matches!(c.on_failure, FailureDestination::DeadLetter(_)));
    /// ```
    pub fn with_failure_destination(mut self, dest: FailureDestination) -> Self {
        self.on_failure = dest;
        self
    }

    /// Archives (instead of deletes) successfully processed messages, keeping them in
    /// `pgmq.a_<queue>`.
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// assert!(ConsumerConfig::new(QueueName::new("q").unwrap()).archive_on_success(true).archive_on_success);
    /// ```
    pub fn archive_on_success(mut self, on: bool) -> Self {
        self.archive_on_success = on;
        self
    }

    /// Sets how plain-mode acknowledgements are batched: up to `max_ids` per statement,
    /// sent once that many are pending or `linger` after the first of them, and at
    /// shutdown. `max_ids` of 1 (or 0) acknowledges each message on its own.
    ///
    /// Batching turns the one delete per message into one per batch. A message whose
    /// handler succeeded stays (invisible) in the queue until its batch is sent; if that
    /// statement fails, it is logged, counted in [`ConsumerStats::ack_failed`] and the
    /// messages are delivered again after their visibility timeout (at-least-once).
    ///
    /// [`ConsumerStats::ack_failed`]: super::ConsumerStats::ack_failed
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap())
    ///     .with_ack_batching(50, Duration::from_millis(20));
    /// assert_eq!((c.ack_batch, c.ack_linger), (50, Duration::from_millis(20)));
    /// let unbatched = ConsumerConfig::new(QueueName::new("q").unwrap())
    ///     .with_ack_batching(0, Duration::ZERO);
    /// assert_eq!(unbatched.ack_batch, 1);
    /// ```
    pub fn with_ack_batching(mut self, max_ids: usize, linger: Duration) -> Self {
        self.ack_batch = max_ids.max(1);
        self.ack_linger = linger;
        self
    }

    /// Sets how long running handlers may finish after cancellation.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap()).with_shutdown_deadline(Duration::ZERO);
    /// assert_eq!(c.shutdown_deadline, Duration::ZERO);
    /// ```
    pub fn with_shutdown_deadline(mut self, d: Duration) -> Self {
        self.shutdown_deadline = d;
        self
    }

    /// Turns FIFO-per-group mode on (see the `fifo` field).
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// assert!(ConsumerConfig::new(QueueName::new("q").unwrap()).fifo(true).fifo);
    /// ```
    pub fn fifo(mut self, on: bool) -> Self {
        self.fifo = on;
        self
    }

    /// Turns reading ahead on (see the `read_ahead` field).
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, consumer::ConsumerConfig};
    /// let c = ConsumerConfig::new(QueueName::new("q").unwrap());
    /// assert!(!c.read_ahead);
    /// assert!(c.read_ahead(true).read_ahead);
    /// ```
    pub fn read_ahead(mut self, on: bool) -> Self {
        self.read_ahead = on;
        self
    }
}
