//! Transactional acknowledgement: the handler runs inside the transaction that deletes
//! (or archives) its message.

use std::sync::Arc;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use pgmq_orm_core::consumer::{
    BoxFuture, Consumer, ConsumerConfig, ProcessError, Processor, TxFn, acknowledged,
};
use pgmq_orm_core::{BoxError, Message, QueueName};

use super::{DieselBackend, PgPool};
use crate::PgmqAsyncConnectionExt;
use crate::consumer_shared::TxFail;
use crate::error::from_bb8;

/// A handler that runs on the connection of the transaction which also acknowledges its
/// message, so its database writes and the delete commit together (exactly-once
/// effects). Returning `Err` (or panicking) rolls both back and the message is retried.
///
/// Usually an async closure: one that captures nothing is a handler as is, and one that
/// needs state gets it as its first argument through
/// [`with_state`](pgmq_orm_core::consumer::with_state):
///
/// ```
/// use diesel_async::{AsyncPgConnection, RunQueryDsl};
/// use diesel_pgmq::consumer::{TxHandler, with_state};
/// use diesel_pgmq::{BoxError, Message};
/// fn assert_tx_handler<T, H: TxHandler<T>>(_: &H) {}
///
/// let record = async |conn: &mut AsyncPgConnection, m: Message<i64>| {
///     diesel::sql_query("INSERT INTO orders(id) VALUES ($1)")
///         .bind::<diesel::sql_types::BigInt, _>(m.message)
///         .execute(conn)
///         .await?;
///     Ok::<(), BoxError>(())
/// };
/// assert_tx_handler(&record);
///
/// let limited = with_state(100_i64, async |max: &i64, conn: &mut AsyncPgConnection, m: Message<i64>| {
///     if m.message > *max {
///         return Err::<(), BoxError>("over the limit".into());
///     }
///     diesel::sql_query("INSERT INTO orders(id) VALUES ($1)")
///         .bind::<diesel::sql_types::BigInt, _>(m.message)
///         .execute(conn)
///         .await?;
///     Ok(())
/// });
/// assert_tx_handler(&limited);
/// ```
///
/// The trait form, for handlers that are types of their own:
///
/// ```
/// use diesel_async::{AsyncPgConnection, RunQueryDsl};
/// use diesel_pgmq::consumer::{BoxFuture, TxHandler};
/// use diesel_pgmq::{BoxError, Message};
///
/// struct RecordOrder;
/// impl TxHandler<i64> for RecordOrder {
///     fn handle<'a>(&'a self, conn: &'a mut AsyncPgConnection, m: Message<i64>)
///         -> BoxFuture<'a, Result<(), BoxError>> {
///         Box::pin(async move {
///             diesel::sql_query("INSERT INTO orders(id) VALUES ($1)")
///                 .bind::<diesel::sql_types::BigInt, _>(m.message)
///                 .execute(conn)
///                 .await?;
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait TxHandler<T>: Send + Sync + 'static {
    /// Handles `message` on `conn`, inside the open transaction; `Ok` lets the
    /// acknowledgement and commit follow.
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// A boxed transactional handler is one too, so handlers can be chosen at run time.
///
/// ```
/// # use diesel_pgmq::consumer::TxHandler;
/// fn assert_tx_handler<T, H: TxHandler<T>>(_: &H) {}
/// fn pick(h: Box<dyn TxHandler<i64>>) { assert_tx_handler(&h); }
/// ```
impl<T: 'static> TxHandler<T> for Box<dyn TxHandler<T>> {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        (**self).handle(conn, message)
    }
}

/// An async closure that captures nothing, `async |conn: &mut AsyncPgConnection, m| { .. }`,
/// is a transactional handler, and so is one with state from
/// [`with_state`](pgmq_orm_core::consumer::with_state).
///
/// ```
/// # use diesel_async::AsyncPgConnection;
/// # use diesel_pgmq::{BoxError, Message, consumer::{TxHandler, with_state}};
/// fn assert_tx_handler<T, H: TxHandler<T>>(_: &H) {}
/// assert_tx_handler(&async |_c: &mut AsyncPgConnection, _m: Message<u8>| Ok::<(), BoxError>(()));
/// let h = with_state(String::from("audit"), async |_s: &String, _c: &mut AsyncPgConnection, _m: Message<u8>| {
///     Ok::<(), BoxError>(())
/// });
/// assert_tx_handler(&h);
/// ```
impl<T, F> TxHandler<T> for F
where
    T: 'static,
    F: for<'a> TxFn<'a, &'a mut AsyncPgConnection, T> + Copy + Send + Sync + 'static,
{
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.call(conn, message)
    }
}

/// The transactional [`Processor`]: take a pooled connection, begin, run the
/// [`TxHandler`], delete (or archive) the message in the same transaction, commit. If the
/// message was already acknowledged elsewhere (its visibility timeout ran out), the
/// transaction rolls back instead.
///
/// Each running handler holds a pooled connection for its whole transaction, and reads
/// and heartbeats need one more: size the pool above the consumer's concurrency.
///
/// ```no_run
/// # use diesel_pgmq::consumer::*;
/// # fn f<H: TxHandler<i64>>(pool: PgPool, h: H, c: ConsumerConfig) {
/// let consumer = Transactional::consumer(DieselBackend::new(pool), c, h);
/// # }
/// ```
#[derive(Debug)]
pub struct Transactional<H> {
    pool: PgPool,
    handler: Arc<H>,
}

impl<H> Transactional<H> {
    /// A consumer whose handler runs in the acknowledging transaction.
    ///
    /// ```no_run
    /// # use diesel_pgmq::consumer::*;
    /// # fn f<H: TxHandler<i64>>(pool: PgPool, h: H, c: ConsumerConfig) {
    /// let consumer: Consumer<_, i64, _> = Transactional::consumer(DieselBackend::new(pool), c, h);
    /// # }
    /// ```
    pub fn consumer<T>(
        backend: DieselBackend,
        config: ConsumerConfig,
        handler: H,
    ) -> Consumer<DieselBackend, T, Self>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        H: TxHandler<T>,
    {
        let pool = backend.pool().clone();
        Consumer::from_parts(
            Arc::new(backend),
            config,
            Self {
                pool,
                handler: Arc::new(handler),
            },
        )
    }
}

impl<T, H> Processor<T> for Transactional<H>
where
    T: Send + 'static,
    H: TxHandler<T>,
{
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
    ) -> BoxFuture<'static, Result<(), ProcessError>> {
        let pool = self.pool.clone();
        let handler = Arc::clone(&self.handler);
        let queue = queue.clone();
        Box::pin(async move {
            let mut pooled = pool.get_owned().await.map_err(from_bb8)?;
            let conn: &mut AsyncPgConnection = &mut pooled;
            let msg_id = message.msg_id;
            // An error, or the task being aborted at shutdown, rolls back the handler's
            // writes with the acknowledgement (an aborted transaction also marks the
            // pooled connection broken, so bb8 discards it).
            // Only the handler's own error is a failed attempt; `BEGIN`, the
            // acknowledgement and `COMMIT` failing are infrastructure failures.
            conn.transaction(async |tx| {
                handler
                    .handle(tx, message)
                    .await
                    .map_err(|e| TxFail(ProcessError::Handler(e)))?;
                let found = if archive {
                    tx.archive(&queue, msg_id).await?
                } else {
                    tx.delete(&queue, msg_id).await?
                };
                acknowledged(found, &queue, msg_id).map_err(|e| TxFail(ProcessError::Handler(e)))
            })
            .await
            .map_err(|e: TxFail| e.0)
        })
    }

    fn connections_per_handler(&self) -> usize {
        1
    }
}
