//! The consumer runtime on diesel-async with a bb8 pool (feature `consumer`).
//!
//! The loop, retries, dead-lettering, heartbeat and shutdown live in
//! [`pgmq_orm_core::consumer`]; this module supplies its database side
//! ([`DieselBackend`], with `LISTEN` wake-ups through diesel-async's notification stream)
//! and the transactional processor ([`Transactional`] with [`TxHandler`]), whose handler
//! gets the `&mut AsyncPgConnection` of the transaction that also acknowledges the message.
//! What a consumer dead-lettered is listed and moved back with [`crate::dead_letter`].
//!
//! ```no_run
//! use diesel_async::AsyncPgConnection;
//! use diesel_async::pooled_connection::AsyncDieselConnectionManager;
//! use diesel_pgmq::consumer::{cancel_on_ctrl_c, Consumer, ConsumerConfig, DieselBackend, PgPool};
//! use diesel_pgmq::{BoxError, Message, QueueName};
//! # async fn f(url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let pool: PgPool = PgPool::builder()
//!     .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(url))
//!     .await?;
//! let queue = QueueName::new("orders")?;
//! let backend = DieselBackend::with_notify(pool, url, &queue).await?;
//! let consumer = Consumer::new(backend, ConsumerConfig::new(queue), |m: Message<u64>| async move {
//!     println!("order {}", m.message);
//!     Ok::<(), BoxError>(())
//! });
//! consumer.run(cancel_on_ctrl_c()).await?;
//! # Ok(()) }
//! ```

use std::pin::pin;
use std::time::Duration;

use diesel_async::pooled_connection::bb8::PooledConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};
pub use pgmq_orm_core::consumer::*;
use pgmq_orm_core::{
    BatchSize, Error, PgmqVersion, QueueName, RawJsonMessage, VisibilityTimeout, sql,
};
use serde_json::Value;

use crate::PgmqAsyncConnectionExt;
use crate::consumer_shared::{Present, dead_letter_move};
use crate::error::{from_bb8, from_diesel};
use crate::query::{self, MessageRow};

mod transactional;

pub use transactional::{Transactional, TxHandler};

/// The bb8 pool of diesel-async connections the consumer runs on.
pub type PgPool = diesel_async::pooled_connection::bb8::Pool<AsyncPgConnection>;

/// A diesel error inside a transaction closure, or one of ours: diesel-async's
/// `transaction` needs an error type built from `diesel::result::Error`.
#[derive(Debug)]
pub(crate) struct TxError(pub(crate) Error);

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        Self(from_diesel(e))
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// The consumer's database side on a bb8 pool of `AsyncPgConnection`s; optionally with a
/// dedicated `LISTEN` connection that wakes the loop on inserts.
///
/// ```no_run
/// # fn f(pool: diesel_pgmq::consumer::PgPool) {
/// let backend = diesel_pgmq::consumer::DieselBackend::new(pool);
/// # }
/// ```
#[derive(Debug)]
pub struct DieselBackend {
    pool: PgPool,
    wakeups: Option<Wakeups<DieselListener>>,
}

impl DieselBackend {
    /// A backend that polls only.
    ///
    /// ```no_run
    /// # fn f(pool: diesel_pgmq::consumer::PgPool) { let _ = diesel_pgmq::consumer::DieselBackend::new(pool); }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            wakeups: None,
        }
    }

    /// A backend that also wakes on inserts into `queue`: enables pgmq's insert
    /// notifications (throttled to [`sql::DEFAULT_NOTIFY_THROTTLE`]) and listens on a
    /// dedicated connection to `database_url`, outside the pool (pools recycle
    /// connections, and an idle pooled connection would buffer notifications forever).
    /// The connection is re-opened if lost; polling stays the fallback for delayed
    /// messages and expired visibility timeouts, which never notify.
    ///
    /// ```no_run
    /// # async fn f(pool: diesel_pgmq::consumer::PgPool, url: &str) -> Result<(), diesel_pgmq::Error> {
    /// let q = diesel_pgmq::QueueName::new("orders")?;
    /// let backend = diesel_pgmq::consumer::DieselBackend::with_notify(pool, url, &q).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_notify(
        pool: PgPool,
        database_url: &str,
        queue: &QueueName,
    ) -> Result<Self, Error> {
        pool.get()
            .await
            .map_err(from_bb8)?
            .enable_notify_insert(queue, sql::DEFAULT_NOTIFY_THROTTLE)
            .await?;
        let listener = DieselListener::new(database_url);
        Ok(Self {
            pool,
            wakeups: Some(Wakeups::connect(listener, queue).await?),
        })
    }

    /// The pool this backend uses.
    ///
    /// ```no_run
    /// # fn f(b: &diesel_pgmq::consumer::DieselBackend) { let _pool = b.pool(); }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn conn(&self) -> Result<PooledConnection<'_, AsyncPgConnection>, Error> {
        self.pool.get().await.map_err(from_bb8)
    }
}

impl ConsumerBackend for DieselBackend {
    fn read(
        &self,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
        fifo: bool,
    ) -> BoxFuture<'_, Result<Vec<RawJsonMessage>, Error>> {
        let queue = queue.clone();
        Box::pin(async move {
            let qty = BatchSize::new(qty)?;
            let vt = VisibilityTimeout::from(vt);
            let stmt = if fifo {
                query::read_grouped_head(&queue, vt, qty)
            } else {
                query::read(&queue, vt, qty)
            };
            let rows: Vec<MessageRow> = stmt
                .load(&mut *self.conn().await?)
                .await
                .map_err(from_diesel)?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    fn set_vt(
        &self,
        queue: &QueueName,
        msg_id: i64,
        delay: Duration,
    ) -> BoxFuture<'_, Result<(), Error>> {
        let queue = queue.clone();
        Box::pin(async move {
            self.conn()
                .await?
                .set_vt::<Value>(&queue, msg_id, VisibilityTimeout::from(delay))
                .await
                .map(drop)
        })
    }

    fn ack(
        &self,
        queue: &QueueName,
        msg_id: i64,
        archive: bool,
    ) -> BoxFuture<'_, Result<(), Error>> {
        let queue = queue.clone();
        Box::pin(async move {
            let mut conn = self.conn().await?;
            if archive {
                conn.archive(&queue, msg_id).await?;
            } else {
                conn.delete(&queue, msg_id).await?;
            }
            Ok(())
        })
    }

    fn ack_many<'a>(
        &'a self,
        queue: &'a QueueName,
        msg_ids: &'a [i64],
        archive: bool,
    ) -> BoxFuture<'a, Result<Vec<i64>, Error>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            if archive {
                conn.archive_batch(queue, msg_ids).await
            } else {
                conn.delete_batch(queue, msg_ids).await
            }
        })
    }

    fn dead_letter<'a>(
        &'a self,
        queue: &'a QueueName,
        message: &'a RawJsonMessage,
        error: &'a str,
        dest: &'a FailureDestination,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            match dest {
                FailureDestination::Archive => {
                    conn.archive(queue, message.msg_id).await?;
                }
                FailureDestination::DeadLetter(dlq) => {
                    dead_letter_move!(queue, message, error, dlq)
                        .execute(&mut *conn)
                        .await
                        .map_err(from_diesel)?;
                }
            }
            Ok(())
        })
    }

    fn queue_exists<'a>(&'a self, queue: &'a QueueName) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            // `to_regclass`, not `pgmq.list_queues()`: a least-privilege consumer role may
            // not execute the latter.
            let row: Present = diesel::sql_query(sql::QUEUE_TABLE_EXISTS)
                .bind::<diesel::sql_types::Text, _>(queue.quoted_table_name())
                .get_result(&mut *self.conn().await?)
                .await
                .map_err(from_diesel)?;
            Ok(row.present)
        })
    }

    fn pgmq_version(&self) -> BoxFuture<'_, Result<Option<PgmqVersion>, Error>> {
        Box::pin(async move { self.conn().await?.pgmq_version().await.map(Some) })
    }

    fn pool_capacity(&self) -> Option<usize> {
        // The `LISTEN` connection of `with_notify` is outside the pool.
        usize::try_from(self.pool.config().max_size).ok()
    }

    fn wait_for_messages(&self, queue: &QueueName, timeout: Duration) -> BoxFuture<'_, ()> {
        let _ = queue;
        Box::pin(wait_or_sleep(self.wakeups.as_ref(), timeout))
    }
}

/// Insert notifications through diesel-async: a dedicated `AsyncPgConnection` that ran
/// `LISTEN`, read through its notification stream. Used by
/// [`DieselBackend::with_notify`]; public for use with [`Wakeups`] elsewhere.
///
/// ```no_run
/// # async fn f(url: &str) -> Result<(), diesel_pgmq::Error> {
/// use diesel_pgmq::consumer::{DieselListener, Wakeups};
/// let q = diesel_pgmq::QueueName::new("orders")?;
/// let wakeups = Wakeups::connect(DieselListener::new(url), &q).await?;
/// wakeups.wait(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DieselListener {
    url: String,
}

impl DieselListener {
    /// A listener that connects to `database_url`.
    ///
    /// ```
    /// let _ = diesel_pgmq::consumer::DieselListener::new("postgres://localhost/app");
    /// ```
    pub fn new(database_url: &str) -> Self {
        Self {
            url: database_url.to_owned(),
        }
    }
}

impl NotificationSource for DieselListener {
    type Connection = AsyncPgConnection;

    fn connect<'a>(
        &'a self,
        queue: &'a QueueName,
    ) -> BoxFuture<'a, Result<AsyncPgConnection, Error>> {
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(&self.url)
                .await
                .map_err(|e| Error::from_database(None, &e.to_string(), e))?;
            diesel::sql_query(listen_sql(queue))
                .execute(&mut conn)
                .await
                .map_err(from_diesel)?;
            Ok(conn)
        })
    }

    fn recv<'a>(&'a self, conn: &'a mut AsyncPgConnection) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut stream = pin!(conn.notifications_stream());
            match stream.next().await {
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(from_diesel(e)),
                None => Err(Error::from_database(
                    None,
                    "LISTEN connection closed",
                    "notification stream ended",
                )),
            }
        })
    }

    fn drain(&self, conn: &mut AsyncPgConnection) {
        // The stream is fed through a channel, so polling it once takes only what has
        // already arrived. An error taken here ends the stream, and the next `recv`
        // reports the lost connection.
        let mut stream = pin!(conn.notifications_stream());
        while let Some(Some(Ok(_))) = stream.next().now_or_never() {}
    }
}
