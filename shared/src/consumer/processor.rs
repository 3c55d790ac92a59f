//! The step that runs a handler and acknowledges its message.
//!
//! The loop only knows "process this message; `Ok` means it is acknowledged", unless the
//! processor says it leaves the acknowledgement to the loop. Plain mode ([`AckAfter`])
//! does: the loop acknowledges after the handler returns, batching the deletes. The ORM
//! crates add a transactional processor that hands the handler an open transaction and
//! acknowledges inside it.

use crate::{Message, QueueName};

use super::{AckAfter, BoxFuture, Handler, ProcessError};

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
