//! The consumer runtime on a SeaORM [`DatabaseConnection`] (feature `consumer`).
//!
//! The loop, retries, dead-lettering, heartbeat and shutdown live in
//! [`pgmq_orm_core::consumer`]; this module supplies its database side
//! ([`SeaOrmBackend`], with `LISTEN` wake-ups through sqlx's `PgListener`) and the
//! transactional processor ([`Transactional`] with [`TxHandler`]), whose handler gets
//! the `&DatabaseTransaction` that also acknowledges the message. What a consumer
//! dead-lettered is listed and moved back with [`crate::dead_letter`].
//!
//! ```no_run
//! use sea_orm_pgmq::consumer::{SeaOrmBackend, ConsumerConfig, Consumer, cancel_on_ctrl_c};
//! use sea_orm_pgmq::{BoxError, Message, QueueName};
//! # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
//! let queue = QueueName::new("orders")?;
//! let backend = SeaOrmBackend::with_notify(db, &queue).await?;
//! let consumer = Consumer::new(backend, ConsumerConfig::new(queue), |m: Message<u64>| async move {
//!     println!("order {}", m.message);
//!     Ok::<(), BoxError>(())
//! });
//! consumer.run(cancel_on_ctrl_c()).await
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

pub use pgmq_orm_core::consumer::*;
use pgmq_orm_core::{
    BatchSize, BoxError, Error, Message, PgmqVersion, QueueName, RawJsonMessage, VisibilityTimeout,
    sql,
};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use serde_json::Value;

use crate::connection::raw_json_messages;
use crate::query;
use crate::{PgmqConnectionExt, PinnedConnection, into_pgmq_error};

fn listener_error(e: sea_orm::sqlx::Error) -> Error {
    Error::from_database(None, &e.to_string(), e)
}

/// The consumer's database side on a SeaORM pool; optionally with a `LISTEN` connection
/// that wakes the loop on inserts.
///
/// ```no_run
/// # async fn f(db: sea_orm::DatabaseConnection) {
/// let backend = sea_orm_pgmq::consumer::SeaOrmBackend::new(db);
/// # }
/// ```
#[derive(Debug)]
pub struct SeaOrmBackend {
    db: DatabaseConnection,
    /// Where reads, visibility extensions and acknowledgements run.
    hot: HotPath,
    wakeups: Option<Wakeups<SeaOrmListener>>,
}

/// The connection the per-batch statements run on: the pool, or one connection held out
/// of it ([`SeaOrmBackend::with_pinned_connection`]).
#[derive(Debug)]
enum HotPath {
    Pool(DatabaseConnection),
    Pinned(PinnedConnection),
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for HotPath {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pool(db) => db.get_database_backend(),
            Self::Pinned(conn) => conn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(db) => db.execute_raw(stmt).await,
            Self::Pinned(conn) => conn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(db) => db.execute_unprepared(sql).await,
            Self::Pinned(conn) => conn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pool(db) => db.query_one_raw(stmt).await,
            Self::Pinned(conn) => conn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pool(db) => db.query_all_raw(stmt).await,
            Self::Pinned(conn) => conn.query_all_raw(stmt).await,
        }
    }
}

impl SeaOrmBackend {
    /// A backend that polls only.
    ///
    /// ```no_run
    /// # fn f(db: sea_orm::DatabaseConnection) { let _ = sea_orm_pgmq::consumer::SeaOrmBackend::new(db); }
    /// ```
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            hot: HotPath::Pool(db.clone()),
            db,
            wakeups: None,
        }
    }

    /// Runs the per-batch statements (reads, visibility extensions, acknowledgements) on
    /// one connection held out of the pool, a [`PinnedConnection`]: one request per
    /// statement instead of three with sqlx's pool pings around each (see the crate docs,
    /// "Pool settings for throughput"). They then run one at a time; a broken connection
    /// is replaced on the next statement. Dead-lettering still takes a transaction from
    /// the pool, so leave it a connection more (and one for [`with_notify`](Self::with_notify)).
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// use sea_orm_pgmq::consumer::SeaOrmBackend;
    /// let backend = SeaOrmBackend::new(db).with_pinned_connection().await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_pinned_connection(mut self) -> Result<Self, Error> {
        let conn = PinnedConnection::acquire(&self.db)
            .await
            .map_err(into_pgmq_error)?;
        self.hot = HotPath::Pinned(conn);
        Ok(self)
    }

    /// A backend that also wakes on inserts into `queue`: enables pgmq's insert
    /// notifications (throttled to [`sql::DEFAULT_NOTIFY_THROTTLE`]) and listens on the
    /// queue's channel from a dedicated connection (held from the pool for good; size
    /// the pool for it), re-opened if lost. Polling stays as the fallback for delayed
    /// messages and expired visibility timeouts, which never notify.
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let q = sea_orm_pgmq::QueueName::new("orders")?;
    /// let backend = sea_orm_pgmq::consumer::SeaOrmBackend::with_notify(db, &q).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_notify(db: DatabaseConnection, queue: &QueueName) -> Result<Self, Error> {
        db.enable_notify_insert(queue, sql::DEFAULT_NOTIFY_THROTTLE)
            .await?;
        let listener = SeaOrmListener { db: db.clone() };
        Ok(Self {
            wakeups: Some(Wakeups::connect(listener, queue).await?),
            ..Self::new(db)
        })
    }

    /// The pool this backend uses.
    ///
    /// ```no_run
    /// # fn f(b: &sea_orm_pgmq::consumer::SeaOrmBackend) { let _db = b.connection(); }
    /// ```
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl ConsumerBackend for SeaOrmBackend {
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
            raw_json_messages(&self.hot, stmt).await
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
            self.hot
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
            if archive {
                self.hot.archive(&queue, msg_id).await?;
            } else {
                self.hot.delete(&queue, msg_id).await?;
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
            if archive {
                self.hot.archive_batch(queue, msg_ids).await
            } else {
                self.hot.delete_batch(queue, msg_ids).await
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
            match dest {
                FailureDestination::Archive => {
                    self.hot.archive(queue, message.msg_id).await?;
                }
                FailureDestination::DeadLetter(dlq) => {
                    // One statement copies the stored row itself: exact payload and
                    // headers, and nothing copied when the message is already gone.
                    let record = failure_record(queue, message.msg_id, message.read_ct, error);
                    let stmt = Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        dead_letter_sql::move_to_queue(queue),
                        [message.msg_id.into(), dlq.as_str().into(), record.into()],
                    );
                    self.hot.execute_raw(stmt).await.map_err(into_pgmq_error)?;
                }
            }
            Ok(())
        })
    }

    fn queue_exists<'a>(&'a self, queue: &'a QueueName) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            // `to_regclass`, not `pgmq.list_queues()`: a least-privilege consumer role may
            // not execute the latter.
            let stmt = Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql::QUEUE_TABLE_EXISTS,
                [queue.quoted_table_name().into()],
            );
            let row = self
                .hot
                .query_one_raw(stmt)
                .await
                .map_err(into_pgmq_error)?;
            match row {
                Some(row) => row.try_get_by_index::<bool>(0).map_err(into_pgmq_error),
                None => Ok(false),
            }
        })
    }

    fn pgmq_version(&self) -> BoxFuture<'_, Result<Option<PgmqVersion>, Error>> {
        Box::pin(async move { self.hot.pgmq_version().await.map(Some) })
    }

    fn pool_capacity(&self) -> Option<usize> {
        let max = self
            .db
            .get_postgres_connection_pool()
            .options()
            .get_max_connections();
        // The `LISTEN` connection is held for good. A pinned connection is held too, but
        // it serves the reads and acknowledgements the consumer counts one connection
        // for, so it stays in the count.
        let held = usize::from(self.wakeups.is_some());
        usize::try_from(max).ok().map(|m| m.saturating_sub(held))
    }

    fn wait_for_messages(&self, queue: &QueueName, timeout: Duration) -> BoxFuture<'_, ()> {
        let _ = queue;
        Box::pin(wait_or_sleep(self.wakeups.as_ref(), timeout))
    }
}

/// Insert notifications through sqlx's `PgListener` on a connection taken from the
/// SeaORM pool. Used by [`SeaOrmBackend::with_notify`]; public for use with [`Wakeups`]
/// elsewhere.
///
/// ```no_run
/// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
/// use sea_orm_pgmq::consumer::{SeaOrmListener, Wakeups};
/// let q = sea_orm_pgmq::QueueName::new("orders")?;
/// let wakeups = Wakeups::connect(SeaOrmListener::new(db), &q).await?;
/// wakeups.wait(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SeaOrmListener {
    db: DatabaseConnection,
}

impl SeaOrmListener {
    /// A listener on a connection of `db`'s pool (a Postgres connection).
    ///
    /// ```no_run
    /// # fn f(db: sea_orm::DatabaseConnection) { let _ = sea_orm_pgmq::consumer::SeaOrmListener::new(db); }
    /// ```
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl NotificationSource for SeaOrmListener {
    type Connection = PgListener;

    fn connect<'a>(&'a self, queue: &'a QueueName) -> BoxFuture<'a, Result<PgListener, Error>> {
        Box::pin(async move {
            let mut listener = PgListener::connect_with(self.db.get_postgres_connection_pool())
                .await
                .map_err(listener_error)?;
            listener
                .listen(&queue.notify_channel())
                .await
                .map_err(listener_error)?;
            Ok(listener)
        })
    }

    fn recv<'a>(&'a self, conn: &'a mut PgListener) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            // `try_recv` answers `None` after re-establishing a lost connection (where
            // `recv` would wait on silently): a wake-up too, since notifications sent in
            // the gap are lost and the loop must read to catch up. A failed reconnect is
            // an error, and the shared code reconnects later.
            conn.try_recv().await.map_err(listener_error)?;
            Ok(())
        })
    }
}

/// A handler that runs inside the transaction which also acknowledges its message, so
/// its database writes and the delete commit together (exactly-once effects).
/// Returning `Err` rolls both back and the message is retried.
///
/// Usually an async closure: one that captures nothing is a handler as is, and one that
/// needs state gets it as its first argument through [`with_state`]:
///
/// ```
/// use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
/// use sea_orm_pgmq::consumer::{TxHandler, with_state};
/// use sea_orm_pgmq::{BoxError, Message};
/// fn assert_tx_handler<T, H: TxHandler<T>>(_: &H) {}
///
/// let record = async |tx: &DatabaseTransaction, m: Message<i64>| {
///     tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres,
///         "INSERT INTO orders(id) VALUES ($1)", [m.message.into()])).await?;
///     Ok::<(), BoxError>(())
/// };
/// assert_tx_handler(&record);
///
/// let limited = with_state(100_i64, async |max: &i64, tx: &DatabaseTransaction, m: Message<i64>| {
///     if m.message > *max {
///         return Err::<(), BoxError>("over the limit".into());
///     }
///     tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres,
///         "INSERT INTO orders(id) VALUES ($1)", [m.message.into()])).await?;
///     Ok(())
/// });
/// assert_tx_handler(&limited);
/// ```
///
/// The trait form, for handlers that are types of their own:
///
/// ```
/// use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, DbBackend};
/// use sea_orm_pgmq::consumer::{BoxFuture, TxHandler};
/// use sea_orm_pgmq::{BoxError, Message};
///
/// struct RecordOrder;
/// impl TxHandler<i64> for RecordOrder {
///     fn handle<'a>(&'a self, tx: &'a DatabaseTransaction, m: Message<i64>)
///         -> BoxFuture<'a, Result<(), BoxError>> {
///         Box::pin(async move {
///             tx.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres,
///                 "INSERT INTO orders(id) VALUES ($1)", [m.message.into()])).await?;
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait TxHandler<T>: Send + Sync + 'static {
    /// Handles `message` using `tx`; `Ok` lets the acknowledgement and commit follow.
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// A boxed transactional handler is one too, so handlers can be chosen at run time.
///
/// ```
/// # use sea_orm_pgmq::consumer::TxHandler;
/// fn assert_tx_handler<T, H: TxHandler<T>>(_: &H) {}
/// fn pick(h: Box<dyn TxHandler<i64>>) { assert_tx_handler(&h); }
/// ```
impl<T: 'static> TxHandler<T> for Box<dyn TxHandler<T>> {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        (**self).handle(tx, message)
    }
}

/// An async closure that captures nothing, `async |tx: &DatabaseTransaction, m| { .. }`, is
/// a transactional handler, and so is one with state from [`with_state`].
///
/// ```
/// # use sea_orm::DatabaseTransaction;
/// # use sea_orm_pgmq::{BoxError, Message, consumer::{TxHandler, with_state}};
/// fn assert_tx_handler<T, H: TxHandler<T>>(_: &H) {}
/// assert_tx_handler(&async |_tx: &DatabaseTransaction, _m: Message<u8>| Ok::<(), BoxError>(()));
/// let h = with_state(String::from("audit"), async |_s: &String, _tx: &DatabaseTransaction, _m: Message<u8>| {
///     Ok::<(), BoxError>(())
/// });
/// assert_tx_handler(&h);
/// ```
impl<T, F> TxHandler<T> for F
where
    T: 'static,
    F: for<'a> TxFn<'a, &'a DatabaseTransaction, T> + Copy + Send + Sync + 'static,
{
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        message: Message<T>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.call(tx, message)
    }
}

/// The transactional [`Processor`]: begin, run the [`TxHandler`], delete (or archive) the
/// message in the same transaction, commit. If the message was already acknowledged
/// elsewhere (its visibility timeout ran out), the transaction rolls back instead.
///
/// Each running handler holds a pooled connection for its whole transaction, and reads
/// and heartbeats need one more: size the pool above the consumer's concurrency.
///
/// ```no_run
/// # use sea_orm_pgmq::consumer::*;
/// # fn f<H: TxHandler<i64>>(db: sea_orm::DatabaseConnection, h: H, c: ConsumerConfig) {
/// let consumer = Transactional::consumer(SeaOrmBackend::new(db), c, h);
/// # }
/// ```
#[derive(Debug)]
pub struct Transactional<H> {
    db: DatabaseConnection,
    handler: Arc<H>,
}

impl<H> Transactional<H> {
    /// A consumer whose handler runs in the acknowledging transaction.
    ///
    /// ```no_run
    /// # use sea_orm_pgmq::consumer::*;
    /// # fn f<H: TxHandler<i64>>(db: sea_orm::DatabaseConnection, h: H, c: ConsumerConfig) {
    /// let consumer: Consumer<_, i64, _> = Transactional::consumer(SeaOrmBackend::new(db), c, h);
    /// # }
    /// ```
    pub fn consumer<T>(
        backend: SeaOrmBackend,
        config: ConsumerConfig,
        handler: H,
    ) -> Consumer<SeaOrmBackend, T, Self>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        H: TxHandler<T>,
    {
        let db = backend.db.clone();
        Consumer::from_parts(
            Arc::new(backend),
            config,
            Self {
                db,
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
        let db = self.db.clone();
        let handler = Arc::clone(&self.handler);
        let queue = queue.clone();
        Box::pin(async move {
            // Only the handler's own error is a failed attempt; `BEGIN`, the
            // acknowledgement and `COMMIT` failing are infrastructure failures.
            let tx = db.begin().await.map_err(into_pgmq_error)?;
            let msg_id = message.msg_id;
            // An early return drops `tx`, which rolls back the handler's writes too.
            handler
                .handle(&tx, message)
                .await
                .map_err(ProcessError::Handler)?;
            let found = if archive {
                tx.archive(&queue, msg_id).await?
            } else {
                tx.delete(&queue, msg_id).await?
            };
            acknowledged(found, &queue, msg_id).map_err(ProcessError::Handler)?;
            tx.commit().await.map_err(into_pgmq_error)?;
            Ok(())
        })
    }

    fn connections_per_handler(&self) -> usize {
        1
    }
}
