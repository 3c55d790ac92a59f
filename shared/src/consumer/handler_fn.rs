//! Transactional handlers written as async closures: the glue both ORM crates use to
//! accept `async |conn, message| { .. }` (and, with state, `async |state, conn, message|`)
//! where their `TxHandler` trait is expected, without boxing or lifetimes in user code.
//!
//! An async closure that captures nothing works as is. One that needs state (a client,
//! a configuration) gets it as its first argument through [`with_state`]: async closures
//! that capture their environment cannot hand out `Send` futures on stable Rust.

use crate::{BoxError, Message};
use std::future::Future;

use super::BoxFuture;

/// A closure that handles a message on a transaction argument `A` (borrowed for `'a`).
/// Implemented for every `Fn(A, Message<T>) -> impl Future<Output = Result<(), E>>`;
/// the ORM crates' `TxHandler` is implemented for closures that are this for every `'a`.
///
/// ```
/// use pgmq_orm_core::consumer::TxFn;
/// use pgmq_orm_core::{BoxError, Message};
/// fn assert_tx_fn<F: for<'a> TxFn<'a, &'a mut String, u8>>(_: F) {}
/// assert_tx_fn(async |s: &mut String, m: Message<u8>| {
///     s.push(char::from(m.message));
///     Ok::<(), BoxError>(())
/// });
/// ```
pub trait TxFn<'a, A, T> {
    /// Runs the closure; its error boxed.
    fn call(&self, tx: A, message: Message<T>) -> BoxFuture<'a, Result<(), BoxError>>;
}

impl<'a, A, T, F, Fut, E> TxFn<'a, A, T> for F
where
    F: Fn(A, Message<T>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'a,
    E: Into<BoxError>,
{
    fn call(&self, tx: A, message: Message<T>) -> BoxFuture<'a, Result<(), BoxError>> {
        let fut = self(tx, message);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// A closure that handles a message with shared state `S` on a transaction argument `A`;
/// see [`with_state`].
///
/// ```
/// use pgmq_orm_core::consumer::TxStateFn;
/// use pgmq_orm_core::{BoxError, Message};
/// fn assert_fn<F: for<'a> TxStateFn<'a, u8, &'a mut String, u8>>(_: F) {}
/// assert_fn(async |limit: &u8, s: &mut String, m: Message<u8>| {
///     if m.message > *limit { return Err::<(), BoxError>("too big".into()); }
///     s.push(char::from(m.message));
///     Ok(())
/// });
/// ```
pub trait TxStateFn<'a, S, A, T> {
    /// Runs the closure; its error boxed.
    fn call(&self, state: &'a S, tx: A, message: Message<T>)
    -> BoxFuture<'a, Result<(), BoxError>>;
}

impl<'a, S, A, T, F, Fut, E> TxStateFn<'a, S, A, T> for F
where
    S: 'a,
    F: Fn(&'a S, A, Message<T>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'a,
    E: Into<BoxError>,
{
    fn call(
        &self,
        state: &'a S,
        tx: A,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        let fut = self(state, tx, message);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// A transactional handler made of shared state and an async closure that gets it as
/// its first argument: `with_state(client, async |client, conn, message| { .. })`. It is a
/// [`TxFn`], so the ORM crates' `TxHandler` accepts it like a closure.
///
/// ```
/// use pgmq_orm_core::consumer::{TxFn, with_state};
/// use pgmq_orm_core::{BoxError, Message};
/// fn assert_tx_fn<F: for<'a> TxFn<'a, &'a mut String, u8>>(_: F) {}
/// let h = with_state(10_u8, async |limit: &u8, s: &mut String, m: Message<u8>| {
///     if m.message > *limit { return Err::<(), BoxError>("too big".into()); }
///     s.push('x');
///     Ok(())
/// });
/// assert_eq!(*h.state(), 10);
/// assert_tx_fn(h);
/// ```
#[derive(Debug)]
pub struct WithState<S: 'static, F> {
    state: &'static S,
    f: F,
}

impl<S, F: Clone> Clone for WithState<S, F> {
    fn clone(&self) -> Self {
        Self {
            state: self.state,
            f: self.f.clone(),
        }
    }
}

impl<S, F: Copy> Copy for WithState<S, F> {}

/// Pairs `state` with an async closure that receives it (borrowed) before the transaction
/// and the message. The state is shared by every running handler and lives for the rest
/// of the program (it is allocated once and never freed, like a `static`): make one per
/// consumer, not one per message.
///
/// ```
/// let h = pgmq_orm_core::consumer::with_state(String::from("orders"), ());
/// assert_eq!(h.state().as_str(), "orders");
/// ```
pub fn with_state<S, F>(state: S, f: F) -> WithState<S, F> {
    WithState {
        state: Box::leak(Box::new(state)),
        f,
    }
}

impl<S, F> WithState<S, F> {
    /// The shared state.
    ///
    /// ```
    /// let h = pgmq_orm_core::consumer::with_state(3_u32, ());
    /// assert_eq!(*h.state(), 3);
    /// ```
    pub fn state(&self) -> &'static S {
        self.state
    }
}

impl<'a, S, A, T, F> TxFn<'a, A, T> for WithState<S, F>
where
    F: TxStateFn<'a, S, A, T>,
{
    fn call(&self, tx: A, message: Message<T>) -> BoxFuture<'a, Result<(), BoxError>> {
        self.f.call(self.state, tx, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> Message<u8> {
        Message {
            msg_id: 1,
            read_ct: 1,
            enqueued_at: chrono::Utc::now(),
            last_read_at: None,
            vt: chrono::Utc::now(),
            message: n,
            headers: None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stateful_closure_gets_its_state_and_its_error_is_boxed() {
        let h = with_state(5_u8, async |max: &u8, s: &mut String, m: Message<u8>| {
            if m.message > *max {
                return Err::<(), BoxError>("too big".into());
            }
            s.push_str(&m.message.to_string());
            Ok(())
        });
        let mut s = String::new();
        h.call(&mut s, message(3)).await.unwrap();
        assert_eq!(s, "3");
        let err = h.call(&mut s, message(9)).await.unwrap_err();
        assert_eq!(err.to_string(), "too big");
    }
}
