//! [`Queue<T, H>`]: a queue name bound to its payload and header types, so
//! `orders.send(&event)` only accepts an `OrderCreated` and reads decode into one.

use std::fmt;
use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Untyped};
use pgmq_orm_core::{
    BatchSize, Delay, Error, IntoQueueName, PollOptions, QueueName, VisibilityTimeout,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::query::{self, MessageSql, MetricsSql, Statement};

/// Carries the handle's payload and header types without owning either.
type Types<T, H> = fn(T, H) -> (T, H);

/// A typed handle on one queue. Cheap to clone; holds no connection.
///
/// Its methods build the statements of [`crate::query`] for this queue; reads return
/// [`MessageQuery<T, H>`], which run on a sync or async connection and decode each message
/// on its own into a [`Messages<T, H>`](pgmq_orm_core::Messages) batch: one that is not a
/// `T` is set apart with its msg_id and exact text and never hides the others.
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use diesel::prelude::*;
/// use diesel_pgmq::{BatchSize, Queue, VisibilityTimeout};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct OrderCreated { order_id: i64 }
///
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// let orders: Queue<OrderCreated> = Queue::new("orders")?;
/// orders.create().execute(&mut conn)?;
/// orders.send(&OrderCreated { order_id: 7 })?.execute(&mut conn)?;
/// let msgs = orders.read(VisibilityTimeout::Seconds(30), BatchSize::ONE).run(&mut conn)?;
/// assert_eq!(msgs[0].message, OrderCreated { order_id: 7 });
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T, H = Value> {
    name: QueueName,
    types: PhantomData<Types<T, H>>,
}

impl<T, H> fmt::Debug for Queue<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Queue").field(&self.name.as_str()).finish()
    }
}

impl<T, H> Clone for Queue<T, H> {
    fn clone(&self) -> Self {
        Self::from_name(self.name.clone())
    }
}

impl<T, H> Queue<T, H> {
    /// A handle on the queue `name`; fails with [`Error::InvalidQueueName`].
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("Bad Name").is_err());
    /// ```
    pub fn new(name: impl IntoQueueName) -> Result<Self, Error> {
        Ok(Self::from_name(name.into_queue_name()?))
    }

    /// A handle from an already validated [`QueueName`].
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, QueueName};
    /// static NAME: QueueName = QueueName::from_static("orders");
    /// let q: Queue<i32> = Queue::from_name(NAME.clone());
    /// assert_eq!(q.name().as_str(), "orders");
    /// ```
    pub const fn from_name(name: QueueName) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    /// The queue's name.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert_eq!(Queue::<i32>::new("jobs")?.name().as_str(), "jobs");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn name(&self) -> &QueueName {
        &self.name
    }

    /// [`query::create`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.create().sql().contains("pgmq.create("));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn create(&self) -> Statement<Untyped> {
        query::create(&self.name)
    }

    /// [`query::create_unlogged`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.create_unlogged().sql().contains("unlogged"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn create_unlogged(&self) -> Statement<Untyped> {
        query::create_unlogged(&self.name)
    }

    /// [`query::drop_queue`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.drop_queue().sql().contains("drop_queue"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn drop_queue(&self) -> Statement<Bool> {
        query::drop_queue(&self.name)
    }

    /// [`query::purge_queue`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.purge().sql().contains("purge_queue"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn purge(&self) -> Statement<BigInt> {
        query::purge_queue(&self.name)
    }

    /// [`query::metrics`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.metrics().sql().contains("pgmq.metrics(?)"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn metrics(&self) -> Statement<MetricsSql> {
        query::metrics(&self.name)
    }

    /// [`query::delete`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.delete(1).sql().contains("pgmq.delete"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn delete(&self, msg_id: i64) -> Statement<Bool> {
        query::delete(&self.name, msg_id)
    }

    /// [`query::delete_batch`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.delete_batch(&[1, 2]).sql().contains("bigint[]"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn delete_batch(&self, msg_ids: &[i64]) -> Statement<BigInt> {
        query::delete_batch(&self.name, msg_ids)
    }

    /// [`query::archive`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.archive(1).sql().contains("pgmq.archive"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn archive(&self, msg_id: i64) -> Statement<Bool> {
        query::archive(&self.name, msg_id)
    }

    /// [`query::archive_batch`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert!(Queue::<i32>::new("jobs")?.archive_batch(&[1]).sql().contains("bigint[]"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn archive_batch(&self, msg_ids: &[i64]) -> Statement<BigInt> {
        query::archive_batch(&self.name, msg_ids)
    }

    /// [`query::read`] for this queue, decoding into `Message<T, H>`.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, VisibilityTimeout, BatchSize};
    /// let read = Queue::<i32>::new("jobs")?.read(VisibilityTimeout::Seconds(30), BatchSize::ONE);
    /// assert!(read.statement().sql().ends_with("pgmq.read(?, ?, ?)"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn read(&self, vt: VisibilityTimeout, qty: BatchSize) -> MessageQuery<T, H> {
        MessageQuery::new(query::read(&self.name, vt, qty))
    }

    /// [`query::read_with_poll`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, VisibilityTimeout, BatchSize, PollOptions};
    /// let q = Queue::<i32>::new("jobs")?;
    /// let read = q.read_with_poll(VisibilityTimeout::Seconds(30), BatchSize::ONE, PollOptions::default());
    /// assert!(read.statement().sql().contains("read_with_poll"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn read_with_poll(
        &self,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> MessageQuery<T, H> {
        MessageQuery::new(query::read_with_poll(&self.name, vt, qty, poll))
    }

    /// [`query::read_grouped`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, VisibilityTimeout, BatchSize};
    /// let read = Queue::<i32>::new("jobs")?.read_grouped(VisibilityTimeout::Seconds(30), BatchSize::ONE);
    /// assert!(read.statement().sql().contains("read_grouped("));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn read_grouped(&self, vt: VisibilityTimeout, qty: BatchSize) -> MessageQuery<T, H> {
        MessageQuery::new(query::read_grouped(&self.name, vt, qty))
    }

    /// [`query::read_grouped_rr`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, VisibilityTimeout, BatchSize};
    /// let read = Queue::<i32>::new("jobs")?.read_grouped_rr(VisibilityTimeout::Seconds(30), BatchSize::ONE);
    /// assert!(read.statement().sql().contains("read_grouped_rr("));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn read_grouped_rr(&self, vt: VisibilityTimeout, qty: BatchSize) -> MessageQuery<T, H> {
        MessageQuery::new(query::read_grouped_rr(&self.name, vt, qty))
    }

    /// [`query::pop`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, BatchSize};
    /// assert!(Queue::<i32>::new("jobs")?.pop(BatchSize::ONE).statement().sql().contains("pgmq.pop"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn pop(&self, qty: BatchSize) -> MessageQuery<T, H> {
        MessageQuery::new(query::pop(&self.name, qty))
    }

    /// [`query::set_vt`] for this queue.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, VisibilityTimeout};
    /// let s = Queue::<i32>::new("jobs")?.set_vt(1, VisibilityTimeout::Seconds(5));
    /// assert!(s.statement().sql().contains("pgmq.set_vt"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn set_vt(&self, msg_id: i64, vt: VisibilityTimeout) -> MessageQuery<T, H> {
        MessageQuery::new(query::set_vt(&self.name, msg_id, vt))
    }
}

impl<T: Serialize, H: Serialize> Queue<T, H> {
    /// [`query::send`] of a `T`.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// assert_eq!(Queue::<i32>::new("jobs")?.send(&5)?.sql(), "SELECT pgmq.send(?, ?)");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn send(&self, message: &T) -> Result<Statement<BigInt>, Error> {
        query::send(&self.name, message)
    }

    /// [`query::send_with`] of a `T` with `H` headers.
    ///
    /// ```
    /// # use diesel_pgmq::{Delay, Queue};
    /// let s = Queue::<i32>::new("jobs")?.send_with(&5, None, Delay::Seconds(3))?;
    /// assert_eq!(s.sql(), "SELECT pgmq.send(?, ?, ?::integer)");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn send_with(
        &self,
        message: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> Result<Statement<BigInt>, Error> {
        query::send_with(&self.name, message, headers, delay)
    }

    /// [`query::send_batch`] of `T`s. An empty slice gives a statement that returns no
    /// ids and sends nothing.
    ///
    /// ```
    /// # use diesel_pgmq::Queue;
    /// let jobs = Queue::<i32>::new("jobs")?;
    /// assert!(jobs.send_batch(&[1, 2])?.sql().contains("send_batch"));
    /// assert!(!jobs.send_batch(&[])?.sql().contains("pgmq."));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn send_batch(&self, messages: &[T]) -> Result<Statement<BigInt>, Error> {
        query::send_batch(&self.name, messages)
    }

    /// [`query::send_batch_with`] of `T`s with `H` headers (one per message); an empty
    /// slice sends nothing, as in [`send_batch`](Self::send_batch).
    ///
    /// ```
    /// # use diesel_pgmq::{Delay, Queue};
    /// let s = Queue::<i32>::new("jobs")?.send_batch_with(&[1], None, Delay::default())?;
    /// assert_eq!(s.sql(), "SELECT pgmq.send_batch(?, ?)");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn send_batch_with(
        &self,
        messages: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> Result<Statement<BigInt>, Error> {
        query::send_batch_with(&self.name, messages, headers, delay)
    }
}

/// A message-returning statement that decodes into [`Messages<T, H>`](pgmq_orm_core::Messages): run it with
/// [`run`](Self::run) (sync) or [`run_async`](Self::run_async), or compose the
/// [`statement`](Self::statement) and decode the [`MessageRow`](query::MessageRow)s yourself.
///
/// ```
/// # use diesel_pgmq::{Queue, BatchSize};
/// let pop = Queue::<i32>::new("jobs")?.pop(BatchSize::ONE);
/// assert!(format!("{pop:?}").contains("pgmq.pop"));
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
#[must_use = "a statement does nothing until it is run"]
pub struct MessageQuery<T, H = Value> {
    statement: Statement<MessageSql>,
    types: PhantomData<fn() -> (T, H)>,
}

impl<T, H> fmt::Debug for MessageQuery<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MessageQuery")
            .field(&self.statement)
            .finish()
    }
}

impl<T, H> MessageQuery<T, H> {
    fn new(statement: Statement<MessageSql>) -> Self {
        Self {
            statement,
            types: PhantomData,
        }
    }

    /// The untyped statement, loading [`MessageRow`](query::MessageRow)s.
    ///
    /// ```
    /// # use diesel_pgmq::{Queue, BatchSize};
    /// let s = Queue::<i32>::new("jobs")?.pop(BatchSize::ONE).statement();
    /// assert!(s.sql().contains("pgmq.pop"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn statement(self) -> Statement<MessageSql> {
        self.statement
    }
}

impl<T: DeserializeOwned, H: DeserializeOwned> MessageQuery<T, H> {
    /// Runs on a sync connection and decodes every row on its own (a call the installed
    /// pgmq is too old for is [`Error::PgmqTooOld`]): rows that do not
    /// decode are set apart in the batch's
    /// [`undecodable`](pgmq_orm_core::Batch::undecodable) list, with their exact JSON text,
    /// and never hide the others (see [`Messages`](pgmq_orm_core::Messages)).
    ///
    /// ```
    /// # use diesel::prelude::*;
    /// # use diesel_pgmq::{Queue, BatchSize};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = Queue::<i32>::new("jobs")?;
    /// jobs.create().execute(&mut conn)?;
    /// jobs.send(&3)?.execute(&mut conn)?;
    /// assert_eq!(jobs.pop(BatchSize::ONE).run(&mut conn)?[0].message, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "sync")]
    pub fn run<C>(self, conn: &mut C) -> Result<pgmq_orm_core::Messages<T, H>, Error>
    where
        C: diesel::Connection<Backend = Pg> + diesel::connection::LoadConnection,
    {
        let rows: Vec<query::MessageRow> = match diesel::RunQueryDsl::load(self.statement, conn) {
            Ok(rows) => rows,
            Err(e) => {
                let e = crate::error::from_diesel(e);
                return Err(crate::connection::version_error(conn, e));
            }
        };
        crate::connection::decode_all(rows)
    }

    /// Runs on a diesel-async connection and decodes every row on its own, as
    /// [`run`](Self::run) does.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    /// # use diesel_pgmq::{Queue, BatchSize};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// let jobs = Queue::<i32>::new("jobs")?;
    /// jobs.create().execute(&mut conn).await?;
    /// jobs.send(&3)?.execute(&mut conn).await?;
    /// assert_eq!(jobs.pop(BatchSize::ONE).run_async(&mut conn).await?[0].message, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "async")]
    pub async fn run_async<C>(self, conn: &mut C) -> Result<pgmq_orm_core::Messages<T, H>, Error>
    where
        C: diesel_async::AsyncConnectionCore<Backend = Pg>,
    {
        let rows: Vec<query::MessageRow> =
            match diesel_async::RunQueryDsl::load(self.statement, conn).await {
                Ok(rows) => rows,
                Err(e) => {
                    let e = crate::error::from_diesel(e);
                    return Err(crate::connection::version_error_async(conn, e).await);
                }
            };
        crate::connection::decode_all(rows)
    }
}

impl<T, H> QueryId for MessageQuery<T, H> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T, H> QueryFragment<Pg> for MessageQuery<T, H> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.statement.walk_ast(pass)
    }
}

impl<T: 'static, H: 'static> Query for MessageQuery<T, H> {
    type SqlType = MessageSql;
}
