//! The blocking consumer runtime for sync Diesel (feature `sync-consumer`): std threads
//! on an r2d2 pool of `PgConnection`, no tokio, no diesel-async.
//!
//! The loop, retries, dead-lettering, heartbeat and shutdown are the core's
//! [`BlockingConsumer`] (the same policy as the async [`consumer`](crate#features)
//! runtime); this module supplies its database side ([`SyncBackend`], with `LISTEN`
//! wake-ups on a libpq connection through [`SyncListener`]) and the transactional
//! processor ([`SyncTransactional`] with [`SyncTxHandler`]), whose handler gets the
//! `&mut PgConnection` of the transaction that also deletes the message, so an
//! application's sync data layer runs unchanged inside it. What a consumer dead-lettered
//! is listed and moved back with [`crate::dead_letter::SyncDeadLetterOps`].
//!
//! # Wake-ups and their latency
//!
//! - Polling ([`SyncBackend::new`]): an idle consumer reads every
//!   [`ConsumerConfig::poll_interval`] (5 s by default), so a message sent to an idle
//!   queue waits up to that long.
//! - `LISTEN` ([`SyncBackend::with_notify`]): pgmq's insert trigger notifies a dedicated
//!   libpq connection, which the idle consumer checks every 10 ms without a round trip
//!   (libpq's buffered input): a message is picked up within about 10 ms plus the
//!   trigger's throttle ([`sql::DEFAULT_NOTIFY_THROTTLE`]). Polling stays the fallback for
//!   delayed messages and expired visibility timeouts, which never notify, and while the
//!   listening connection is being reopened.
//!
//! ```
//! use diesel::r2d2::{ConnectionManager, Pool};
//! use diesel::PgConnection;
//! use diesel_pgmq::sync_consumer::{BlockingConsumer, ConsumerConfig, StopToken, SyncBackend};
//! use diesel_pgmq::{BoxError, Message, PgmqConnectionExt, QueueName};
//! # let db = pgmq_harness::TestDb::new();
//! # let url = db.url();
//! let pool = Pool::builder().max_size(4).build(ConnectionManager::<PgConnection>::new(url))?;
//! let queue = QueueName::new("orders")?;
//! pool.get()?.create_queue(&queue)?;
//! pool.get()?.send(&queue, &41_u64)?;
//! let backend = SyncBackend::with_notify(pool, url, &queue)?;
//! let consumer = BlockingConsumer::new(backend, ConsumerConfig::new(queue), |m: Message<u64>| {
//!     println!("order {}", m.message);
//!     Ok::<(), BoxError>(())
//! });
//! // `run(&stop)` serves until `stop.stop()`; this one stops once the queue is empty.
//! let stats = consumer.run_until_empty(&StopToken::new())?;
//! assert_eq!(stats.processed, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::{Connection, PgConnection, RunQueryDsl};
pub use pgmq_orm_core::consumer::blocking::{
    BlockingBackend, BlockingConsumer, BlockingHandler, BlockingNotificationSource,
    BlockingProcessor, BlockingWakeups, StopToken,
};
pub use pgmq_orm_core::consumer::{
    AckAfter, ConsumerConfig, ConsumerStats, FailureDestination, Health, LastError, ProcessError,
    RetryPolicy,
};
use pgmq_orm_core::consumer::{acknowledged, listen_sql};
use pgmq_orm_core::{
    BatchSize, BoxError, Error, Message, PgmqVersion, QueueName, RawJsonMessage, VisibilityTimeout,
    sql,
};
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::PgmqConnectionExt;
use crate::consumer_shared::{Present, TxFail, dead_letter_move};
use crate::error::{from_diesel, from_r2d2};
use crate::query::{self, MessageRow};

/// The r2d2 pool of `PgConnection`s the blocking consumer runs on.
pub type SyncPool = Pool<ConnectionManager<PgConnection>>;

/// How often an idle [`SyncListener`] looks at its connection's input for a
/// notification; the added latency of a `LISTEN` wake-up.
const LISTEN_CHECK: Duration = Duration::from_millis(10);

/// The blocking consumer's database side on an r2d2 pool of `PgConnection`s; optionally
/// with a dedicated `LISTEN` connection that wakes the loop on inserts.
///
/// Checkouts wait at most the pool's `connection_timeout`; statements are bounded by the
/// consumer's statement timeout (see [`BlockingConsumer`]).
///
/// ```
/// # use diesel::r2d2::{ConnectionManager, Pool};
/// # let db = pgmq_harness::TestDb::new();
/// let pool = Pool::builder().build(ConnectionManager::<diesel::PgConnection>::new(db.url()))?;
/// let backend = diesel_pgmq::sync_consumer::SyncBackend::new(pool);
/// assert_eq!(backend.pool().max_size(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SyncBackend {
    pool: SyncPool,
    wakeups: Option<BlockingWakeups<SyncListener>>,
}

impl SyncBackend {
    /// A backend that polls only.
    ///
    /// ```
    /// # use diesel::r2d2::{ConnectionManager, Pool};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let pool = Pool::builder().build(ConnectionManager::<diesel::PgConnection>::new(db.url()))?;
    /// let backend = diesel_pgmq::sync_consumer::SyncBackend::new(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(pool: SyncPool) -> Self {
        Self {
            pool,
            wakeups: None,
        }
    }

    /// A backend that also wakes on inserts into `queue`: enables pgmq's insert
    /// notifications (throttled to [`sql::DEFAULT_NOTIFY_THROTTLE`]) and listens on a
    /// dedicated libpq connection to `database_url`, outside the pool. A missing queue is
    /// [`Error::QueueMissing`] here.
    ///
    /// ```
    /// # use diesel::r2d2::{ConnectionManager, Pool};
    /// # use diesel_pgmq::PgmqConnectionExt;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let pool = Pool::builder().build(ConnectionManager::<diesel::PgConnection>::new(db.url()))?;
    /// # pool.get()?.create_queue("orders")?;
    /// let q = diesel_pgmq::QueueName::new("orders")?;
    /// let backend = diesel_pgmq::sync_consumer::SyncBackend::with_notify(pool, db.url(), &q)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_notify(
        pool: SyncPool,
        database_url: &str,
        queue: &QueueName,
    ) -> Result<Self, Error> {
        pool.get()
            .map_err(from_r2d2)?
            .enable_notify_insert(queue, sql::DEFAULT_NOTIFY_THROTTLE)?;
        let wakeups = BlockingWakeups::connect(SyncListener::new(database_url), queue)?;
        Ok(Self {
            pool,
            wakeups: Some(wakeups),
        })
    }

    /// The pool this backend uses.
    ///
    /// ```
    /// # use diesel::r2d2::{ConnectionManager, Pool};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let pool = Pool::builder().build(ConnectionManager::<diesel::PgConnection>::new(db.url()))?;
    /// let backend = diesel_pgmq::sync_consumer::SyncBackend::new(pool);
    /// let _conn = backend.pool().get()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool(&self) -> &SyncPool {
        &self.pool
    }

    fn conn(&self) -> Result<PooledConnection<ConnectionManager<PgConnection>>, Error> {
        self.pool.get().map_err(from_r2d2)
    }
}

impl BlockingBackend for SyncBackend {
    fn read(
        &self,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
        fifo: bool,
    ) -> Result<Vec<RawJsonMessage>, Error> {
        let qty = BatchSize::new(qty)?;
        let vt = VisibilityTimeout::from(vt);
        let stmt = if fifo {
            query::read_grouped_head(queue, vt, qty)
        } else {
            query::read(queue, vt, qty)
        };
        let rows: Vec<MessageRow> = stmt.load(&mut *self.conn()?).map_err(from_diesel)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn set_vt(&self, queue: &QueueName, msg_id: i64, delay: Duration) -> Result<(), Error> {
        self.conn()?
            .set_vt::<IgnoredAny>(queue, msg_id, VisibilityTimeout::from(delay))
            .map(drop)
    }

    fn set_vt_many(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        delay: Duration,
    ) -> Result<(), Error> {
        self.conn()?
            .set_vt_batch::<IgnoredAny>(queue, msg_ids, VisibilityTimeout::from(delay))
            .map(drop)
    }

    fn ack(&self, queue: &QueueName, msg_id: i64, archive: bool) -> Result<(), Error> {
        let mut conn = self.conn()?;
        if archive {
            conn.archive(queue, msg_id)?;
        } else {
            conn.delete(queue, msg_id)?;
        }
        Ok(())
    }

    fn ack_many(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        archive: bool,
    ) -> Result<Vec<i64>, Error> {
        let mut conn = self.conn()?;
        if archive {
            conn.archive_batch(queue, msg_ids)
        } else {
            conn.delete_batch(queue, msg_ids)
        }
    }

    fn dead_letter(
        &self,
        queue: &QueueName,
        message: &RawJsonMessage,
        error: &str,
        dest: &FailureDestination,
    ) -> Result<(), Error> {
        let mut conn = self.conn()?;
        match dest {
            FailureDestination::Archive => {
                conn.archive(queue, message.msg_id)?;
            }
            FailureDestination::DeadLetter(dlq) => {
                dead_letter_move!(queue, message, error, dlq)
                    .execute(&mut *conn)
                    .map_err(from_diesel)?;
            }
        }
        Ok(())
    }

    fn queue_exists(&self, queue: &QueueName) -> Result<bool, Error> {
        // `to_regclass`, not `pgmq.list_queues()`: a least-privilege consumer role may not
        // execute the latter.
        let row: Present = diesel::sql_query(sql::QUEUE_TABLE_EXISTS)
            .bind::<diesel::sql_types::Text, _>(queue.quoted_table_name())
            .get_result(&mut *self.conn()?)
            .map_err(from_diesel)?;
        Ok(row.present)
    }

    fn pgmq_version(&self) -> Result<Option<PgmqVersion>, Error> {
        self.conn()?.pgmq_version().map(Some)
    }

    fn pool_capacity(&self) -> Option<usize> {
        // The `LISTEN` connection of `with_notify` is outside the pool.
        usize::try_from(self.pool.max_size()).ok()
    }

    fn wait_for_messages(&self, _queue: &QueueName, timeout: Duration, stop: &StopToken) {
        match &self.wakeups {
            Some(w) => w.wait(timeout, stop),
            None => {
                stop.wait_timeout(timeout);
            }
        }
    }
}

/// Insert notifications on a dedicated libpq `PgConnection` that ran `LISTEN`; used by
/// [`SyncBackend::with_notify`], public for use with [`BlockingWakeups`] elsewhere.
/// Waiting checks the connection's buffered input every 10 ms (no round trip); a lost
/// connection is noticed there and reopened by [`BlockingWakeups`].
///
/// ```
/// use diesel_pgmq::sync_consumer::{BlockingWakeups, StopToken, SyncListener};
/// use diesel_pgmq::PgmqConnectionExt;
/// # use diesel::Connection;
/// # let db = pgmq_harness::TestDb::new();
/// # diesel::PgConnection::establish(db.url())?.create_queue("orders")?;
/// let q = diesel_pgmq::QueueName::new("orders")?;
/// let wakeups = BlockingWakeups::connect(SyncListener::new(db.url()), &q)?;
/// wakeups.wait(std::time::Duration::from_millis(50), &StopToken::new());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SyncListener {
    url: String,
}

impl SyncListener {
    /// A listener that connects to `database_url`.
    ///
    /// ```
    /// let _ = diesel_pgmq::sync_consumer::SyncListener::new("postgres://localhost/app");
    /// ```
    pub fn new(database_url: &str) -> Self {
        Self {
            url: database_url.to_owned(),
        }
    }
}

impl BlockingNotificationSource for SyncListener {
    type Connection = PgConnection;

    fn connect(&self, queue: &QueueName) -> Result<PgConnection, Error> {
        let mut conn = PgConnection::establish(&self.url)
            .map_err(|e| Error::from_database(None, &e.to_string(), e))?;
        diesel::sql_query(listen_sql(queue))
            .execute(&mut conn)
            .map_err(from_diesel)?;
        Ok(conn)
    }

    fn recv(&self, conn: &mut PgConnection, limit: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + limit;
        loop {
            // Reads what arrived on the socket without blocking; an error is a lost
            // connection.
            match conn.notifications_iter().next() {
                Some(Ok(_)) => return Ok(true),
                Some(Err(e)) => return Err(from_diesel(e)),
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(left.min(LISTEN_CHECK));
        }
    }

    fn drain(&self, conn: &mut PgConnection) {
        // An error taken here is seen again by the next `recv`.
        while let Some(Ok(_)) = conn.notifications_iter().next() {}
    }
}

/// A handler that runs on the `&mut PgConnection` of the transaction which also deletes
/// (or archives) its message, so its writes and the acknowledgement commit together
/// (exactly-once effects). Returning `Err` (or panicking) rolls both back and the message
/// is retried. Any `Fn(&mut PgConnection, Message<T>) -> Result<(), E>` closure is one.
///
/// ```
/// use diesel::{PgConnection, RunQueryDsl};
/// use diesel_pgmq::sync_consumer::SyncTxHandler;
/// use diesel_pgmq::{BoxError, Message};
/// fn assert_tx_handler<T, H: SyncTxHandler<T>>(_: &H) {}
/// assert_tx_handler(&|conn: &mut PgConnection, m: Message<i64>| {
///     diesel::sql_query("INSERT INTO orders(id) VALUES ($1)")
///         .bind::<diesel::sql_types::BigInt, _>(m.message)
///         .execute(conn)?;
///     Ok::<(), BoxError>(())
/// });
/// ```
pub trait SyncTxHandler<T>: Send + Sync + 'static {
    /// Handles `message` on `conn`, inside the open transaction.
    fn handle(&self, conn: &mut PgConnection, message: Message<T>) -> Result<(), BoxError>;
}

impl<T, F, E> SyncTxHandler<T> for F
where
    F: Fn(&mut PgConnection, Message<T>) -> Result<(), E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    fn handle(&self, conn: &mut PgConnection, message: Message<T>) -> Result<(), BoxError> {
        self(conn, message).map_err(Into::into)
    }
}

/// The transactional [`BlockingProcessor`]: take a pooled connection, begin, run the
/// [`SyncTxHandler`], delete (or archive) the message in the same transaction, commit.
/// If the message was already acknowledged elsewhere, or the consumer's shutdown
/// deadline passed while the handler ran (its message was released), the transaction
/// rolls back instead.
///
/// Each running handler holds a pooled connection for its transaction, and reads and
/// heartbeats need one more: size the pool above the consumer's concurrency (checked
/// before the first read).
///
/// ```
/// use diesel::r2d2::{ConnectionManager, Pool};
/// use diesel::{PgConnection, RunQueryDsl};
/// use diesel_pgmq::sync_consumer::{ConsumerConfig, StopToken, SyncBackend, SyncTransactional};
/// use diesel_pgmq::{BoxError, Message, PgmqConnectionExt, QueueName};
/// # let db = pgmq_harness::TestDb::new();
/// let pool = Pool::builder().max_size(4).build(ConnectionManager::<PgConnection>::new(db.url()))?;
/// let queue = QueueName::new("orders")?;
/// let mut conn = pool.get()?;
/// conn.create_queue(&queue)?;
/// diesel::sql_query("CREATE TABLE shipped(id bigint)").execute(&mut conn)?;
/// conn.send(&queue, &7_i64)?;
/// drop(conn);
/// let consumer = SyncTransactional::consumer(
///     SyncBackend::new(pool.clone()),
///     ConsumerConfig::new(queue).with_concurrency(2),
///     |conn: &mut PgConnection, m: Message<i64>| {
///         diesel::sql_query("INSERT INTO shipped(id) VALUES ($1)")
///             .bind::<diesel::sql_types::BigInt, _>(m.message)
///             .execute(conn)?;
///         Ok::<(), BoxError>(())
///     },
/// );
/// assert_eq!(consumer.run_until_empty(&StopToken::new())?.processed, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SyncTransactional<H> {
    pool: SyncPool,
    handler: Arc<H>,
}

impl<H> SyncTransactional<H> {
    /// A blocking consumer whose handler runs in the acknowledging transaction.
    ///
    /// ```
    /// # use diesel_pgmq::sync_consumer::*;
    /// # fn f<H: SyncTxHandler<i64>>(pool: SyncPool, h: H, c: ConsumerConfig) {
    /// let consumer: BlockingConsumer<_, i64, _> = SyncTransactional::consumer(SyncBackend::new(pool), c, h);
    /// # }
    /// ```
    pub fn consumer<T>(
        backend: SyncBackend,
        config: ConsumerConfig,
        handler: H,
    ) -> BlockingConsumer<SyncBackend, T, Self>
    where
        T: DeserializeOwned + Send + 'static,
        H: SyncTxHandler<T>,
    {
        let pool = backend.pool().clone();
        BlockingConsumer::from_parts(
            Arc::new(backend),
            config,
            Self {
                pool,
                handler: Arc::new(handler),
            },
        )
    }
}

impl<T, H> BlockingProcessor<T> for SyncTransactional<H>
where
    T: Send + 'static,
    H: SyncTxHandler<T>,
{
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
        hard_stop: &StopToken,
    ) -> Result<(), ProcessError> {
        let mut conn = self.pool.get().map_err(from_r2d2)?;
        let msg_id = message.msg_id;
        // Only the handler's own error is a failed attempt; `BEGIN`, the
        // acknowledgement and `COMMIT` failing are infrastructure failures. A panic
        // leaves the transaction open, and r2d2 discards such a connection.
        conn.transaction(|tx| {
            self.handler
                .handle(tx, message)
                .map_err(|e| TxFail(ProcessError::Handler(e)))?;
            if hard_stop.is_stopped() {
                return Err(TxFail(ProcessError::Infrastructure(
                    Error::InvalidArgument(
                        "shutdown deadline passed; the message was released, rolling back".into(),
                    ),
                )));
            }
            let found = if archive {
                tx.archive(queue, msg_id)?
            } else {
                tx.delete(queue, msg_id)?
            };
            acknowledged(found, queue, msg_id).map_err(|e| TxFail(ProcessError::Handler(e)))
        })
        .map_err(|e: TxFail| e.0)
    }

    fn connections_per_handler(&self) -> usize {
        1
    }
}
