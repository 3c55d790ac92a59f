//! What user code implements to process a message.

use crate::{BoxError, Message};

use super::BoxFuture;

/// Processes one decoded message. Returning `Err` (or panicking) leaves the message for a
/// retry under the consumer's [`RetryPolicy`](super::RetryPolicy).
///
/// Any `Fn(Message<T>) -> impl Future<Output = Result<(), E>>` closure is a handler.
///
/// ```
/// use pgmq_orm_core::{BoxError, Message, consumer::Handler};
/// fn assert_handler<T, H: Handler<T>>(_: &H) {}
/// let h = |m: Message<u32>| async move {
///     if m.message == 0 { return Err::<(), BoxError>("zero".into()); }
///     Ok(())
/// };
/// assert_handler(&h);
/// ```
pub trait Handler<T>: Send + Sync + 'static {
    /// Handles `message`; `Ok` acknowledges it.
    fn handle(&self, message: Message<T>) -> BoxFuture<'static, Result<(), BoxError>>;
}

impl<T, F, Fut, E> Handler<T> for F
where
    T: Send + 'static,
    F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    fn handle(&self, message: Message<T>) -> BoxFuture<'static, Result<(), BoxError>> {
        let fut = self(message);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}
