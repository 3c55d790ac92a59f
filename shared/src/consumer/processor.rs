//! The step that runs a handler and acknowledges its message.
//!
//! The loop only knows "process this message; `Ok` means it is acknowledged", unless the
//! processor says it leaves the acknowledgement to the loop. Plain mode ([`AckAfter`])
//! does: the loop acknowledges after the handler returns, batching the deletes. The ORM
//! crates add a transactional processor that hands the handler an open transaction and
//! acknowledges inside it.

use std::fmt;

use crate::{BoxError, Error, Message, QueueName};

use super::{BoxFuture, Handler};

/// Runs one decoded message to completion, acknowledgement included (unless
/// [`acknowledges`](Self::acknowledges) is `false`).
///
/// ```
/// use pgmq_orm_core::consumer::Processor;
/// fn assert_processor<T, P: Processor<T>>() {}
/// ```
pub trait Processor<T>: Send + Sync + 'static {
    /// Handles `message` and acknowledges it. [`ProcessError::Handler`] leaves it to the
    /// failure policy; [`ProcessError::Infrastructure`] (the database work around the
    /// handler failed) makes the consumer try again after a pause, without counting an
    /// attempt.
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
    ) -> BoxFuture<'static, Result<(), ProcessError>>;

    /// Pool connections each running handler holds (1 for a transactional processor,
    /// 0 by default); the consumer checks its backend's
    /// [`pool_capacity`](super::ConsumerBackend::pool_capacity) against
    /// `concurrency × this + 1` before its first read.
    ///
    /// ```
    /// use pgmq_orm_core::consumer::{AckAfter, Processor};
    /// use pgmq_orm_core::{BoxError, Message};
    /// let plain = AckAfter::new(|_m: Message<u8>| std::future::ready(Ok::<(), BoxError>(())));
    /// assert_eq!(Processor::<u8>::connections_per_handler(&plain), 0);
    /// ```
    fn connections_per_handler(&self) -> usize {
        0
    }

    /// Whether [`process`](Self::process) acknowledges the message itself (the default).
    /// When `false`, `Ok` only means the handler succeeded, and the consumer loop deletes
    /// (or archives) the message afterwards, batched as
    /// [`ConsumerConfig::with_ack_batching`](super::ConsumerConfig::with_ack_batching) says.
    ///
    /// ```
    /// use pgmq_orm_core::consumer::{AckAfter, Processor};
    /// use pgmq_orm_core::{BoxError, Message};
    /// let plain = AckAfter::new(|_m: Message<u8>| std::future::ready(Ok::<(), BoxError>(())));
    /// assert!(!Processor::<u8>::acknowledges(&plain));
    /// ```
    fn acknowledges(&self) -> bool {
        true
    }
}

/// Plain acknowledgement: the handler runs, then the consumer loop deletes (or archives)
/// the message in a separate statement, shared with other messages that succeeded around
/// the same time. A crash between the two re-delivers the message (at-least-once).
///
/// ```
/// use pgmq_orm_core::consumer::AckAfter;
/// use pgmq_orm_core::{BoxError, Message};
/// let plain = AckAfter::new(|_m: Message<u8>| std::future::ready(Ok::<(), BoxError>(())));
/// ```
#[derive(Debug)]
pub struct AckAfter<H> {
    handler: H,
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

impl<T, H> Processor<T> for AckAfter<H>
where
    H: Handler<T>,
{
    fn process(
        &self,
        _queue: &QueueName,
        message: Message<T>,
        _archive: bool,
    ) -> BoxFuture<'static, Result<(), ProcessError>> {
        let fut = self.handler.handle(message);
        Box::pin(async move { fut.await.map_err(ProcessError::Handler) })
    }

    fn acknowledges(&self) -> bool {
        false
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

/// Why a [`Processor`] did not complete a message.
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
