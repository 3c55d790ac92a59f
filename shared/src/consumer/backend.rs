//! The few database operations the consumer loop needs, implemented once per ORM.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::{Error, PgmqVersion, QueueName, RawJsonMessage};

use super::FailureDestination;

/// A boxed, sendable future; what backend and handler methods return so they can be
/// object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The database side of a consumer. The ORM crates implement it on their pools; the loop in
/// [`Consumer`](super::Consumer) only calls these methods.
///
/// ```
/// use pgmq_orm_core::consumer::ConsumerBackend;
/// fn assert_backend<B: ConsumerBackend>() {}
/// ```
pub trait ConsumerBackend: Send + Sync + 'static {
    /// Reads up to `qty` messages and hides them for `vt`. FIFO consumers read with
    /// `pgmq.read_grouped_head`: at most one message per group, and none from a group
    /// with a message in flight, so handlers running side by side never reorder a group.
    ///
    /// Payloads and headers come back as the JSON text of their `jsonb` columns: each
    /// handler's payload is parsed once, straight into its type, and one that does not
    /// parse fails on its own (and is dead-lettered) instead of failing the whole read.
    fn read(
        &self,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
        fifo: bool,
    ) -> BoxFuture<'_, Result<Vec<RawJsonMessage>, Error>>;

    /// Makes a message visible again after `delay` (zero releases it at once).
    fn set_vt(
        &self,
        queue: &QueueName,
        msg_id: i64,
        delay: Duration,
    ) -> BoxFuture<'_, Result<(), Error>>;

    /// Acknowledges a processed message: deletes it, or archives it when `archive`.
    fn ack(
        &self,
        queue: &QueueName,
        msg_id: i64,
        archive: bool,
    ) -> BoxFuture<'_, Result<(), Error>>;

    /// Acknowledges several processed messages in one statement (`pgmq.delete` or, when
    /// `archive`, `pgmq.archive` with an array of ids); returns the ids that were still in
    /// the queue. The consumer loop batches plain-mode acknowledgements through this.
    ///
    /// The default calls [`ack`](Self::ack) once per id (and so cannot tell which were
    /// gone); the ORM backends override it with the one-statement form.
    fn ack_many<'a>(
        &'a self,
        queue: &'a QueueName,
        msg_ids: &'a [i64],
        archive: bool,
    ) -> BoxFuture<'a, Result<Vec<i64>, Error>> {
        Box::pin(async move {
            for &id in msg_ids {
                self.ack(queue, id, archive).await?;
            }
            Ok(msg_ids.to_vec())
        })
    }

    /// Moves a message that cannot be processed to `dest`, recording `error`. For a
    /// dead-letter queue the delete and the send must commit together, a message no
    /// longer in its queue must not be copied, and the copy must be the stored row's
    /// payload and headers, not a re-serialization: run
    /// [`dead_letter_sql::move_to_queue`](super::dead_letter_sql::move_to_queue) with
    /// [`failure_record`](super::failure_record).
    fn dead_letter<'a>(
        &'a self,
        queue: &'a QueueName,
        message: &'a RawJsonMessage,
        error: &'a str,
        dest: &'a FailureDestination,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Whether `queue` exists; the consumer checks its queue and its dead-letter queue
    /// before the first read. The default answers `true` (no check); the ORM backends
    /// look the queue up in pgmq's list of queues.
    fn queue_exists<'a>(&'a self, queue: &'a QueueName) -> BoxFuture<'a, Result<bool, Error>> {
        let _ = queue;
        Box::pin(async { Ok(true) })
    }

    /// The installed pgmq version, checked against [`crate::MIN_PGMQ_VERSION`] before the
    /// first read (an older one is [`Error::PgmqTooOld`], none [`Error::PgmqMissing`]).
    /// The default answers `None` (no check).
    fn pgmq_version(&self) -> BoxFuture<'_, Result<Option<PgmqVersion>, Error>> {
        Box::pin(async { Ok(None) })
    }

    /// How many connections of its pool this backend can lend to the consumer at once
    /// (the pool's size less the connections it holds for good, such as a `LISTEN` or a
    /// pinned one); `None` when unbounded or unknown. The consumer compares it with what
    /// its processor needs before the first read.
    fn pool_capacity(&self) -> Option<usize> {
        None
    }

    /// Waits until a message may have arrived: an insert notification, or `timeout`.
    /// The default only sleeps, leaving polling as the sole wake-up.
    fn wait_for_messages(&self, queue: &QueueName, timeout: Duration) -> BoxFuture<'_, ()> {
        let _ = queue;
        Box::pin(tokio::time::sleep(timeout))
    }
}
