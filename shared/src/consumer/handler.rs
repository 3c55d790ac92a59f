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

/// A boxed handler is a handler, so handlers can be chosen at run time.
///
/// ```
/// use pgmq_orm_core::{BoxError, Message, consumer::Handler};
/// fn assert_handler<T, H: Handler<T>>(_: &H) {}
/// let h: Box<dyn Handler<u32>> = if std::env::args().count() > 99 {
///     Box::new(|_m: Message<u32>| async { Ok::<(), BoxError>(()) })
/// } else {
///     Box::new(|_m: Message<u32>| async { Err::<(), BoxError>("off".into()) })
/// };
/// assert_handler(&h);
/// ```
impl<T: 'static> Handler<T> for Box<dyn Handler<T>> {
    fn handle(&self, message: Message<T>) -> BoxFuture<'static, Result<(), BoxError>> {
        (**self).handle(message)
    }
}

/// A shared handler is a handler, so one handler can serve several consumers.
///
/// ```
/// use std::sync::Arc;
/// use pgmq_orm_core::{BoxError, Message, consumer::Handler};
/// fn assert_handler<T, H: Handler<T>>(_: &H) {}
/// let h: Arc<dyn Handler<u32>> = Arc::new(|_m: Message<u32>| async { Ok::<(), BoxError>(()) });
/// assert_handler(&h);
/// ```
impl<T: 'static> Handler<T> for std::sync::Arc<dyn Handler<T>> {
    fn handle(&self, message: Message<T>) -> BoxFuture<'static, Result<(), BoxError>> {
        (**self).handle(message)
    }
}
