//! The step that runs a handler and acknowledges its message.
//!
//! The loop only knows "process this message; `Ok` means it is acknowledged". Plain mode
//! ([`AckAfter`]) acknowledges after the handler returns; the ORM crates add a transactional
//! processor that hands the handler an open transaction and acknowledges inside it.

use std::sync::Arc;

use crate::{BoxError, Message, QueueName};

use super::{BoxFuture, ConsumerBackend, Handler};

/// Runs one decoded message to completion, acknowledgement included.
///
/// ```
/// use pgmq_orm_core::consumer::Processor;
/// fn assert_processor<T, P: Processor<T>>() {}
/// ```
pub trait Processor<T>: Send + Sync + 'static {
    /// Handles `message` and acknowledges it; `Err` leaves it to the failure policy.
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
    ) -> BoxFuture<'static, Result<(), BoxError>>;
}

/// Plain acknowledgement: the handler runs, then the message is deleted (or archived) in a
/// separate statement. A crash between the two re-delivers the message (at-least-once).
///
/// ```
/// use pgmq_orm_core::consumer::{AckAfter, ConsumerBackend};
/// use pgmq_orm_core::{BoxError, Message};
/// use std::sync::Arc;
/// fn plain<B: ConsumerBackend>(b: Arc<B>) -> AckAfter<B, impl Fn(Message<u8>) -> std::future::Ready<Result<(), BoxError>>> {
///     AckAfter::new(b, |_m: Message<u8>| std::future::ready(Ok(())))
/// }
/// ```
#[derive(Debug)]
pub struct AckAfter<B, H> {
    backend: Arc<B>,
    handler: H,
}

impl<B, H> AckAfter<B, H> {
    /// Wraps `handler`, acknowledging through `backend`.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::{AckAfter, ConsumerBackend};
    /// # use std::sync::Arc;
    /// # fn f<B: ConsumerBackend>(b: Arc<B>) { let _ = AckAfter::new(b, ()); }
    /// ```
    pub fn new(backend: Arc<B>, handler: H) -> Self {
        Self { backend, handler }
    }
}

impl<T, B, H> Processor<T> for AckAfter<B, H>
where
    B: ConsumerBackend,
    H: Handler<T>,
{
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
    ) -> BoxFuture<'static, Result<(), BoxError>> {
        let msg_id = message.msg_id;
        let handled = self.handler.handle(message);
        let backend = Arc::clone(&self.backend);
        let queue = queue.clone();
        Box::pin(async move {
            handled.await?;
            backend.ack(&queue, msg_id, archive).await?;
            Ok(())
        })
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
