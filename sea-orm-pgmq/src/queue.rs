//! [`Queue`]: a typed handle on one queue.

use crate::connection::{
    batch_ids, exec, flag, ids, messages, one, one_id, send_batch_stmt, send_stmt,
};
use crate::query::{self, CountRow, MetricsRow};
use pgmq_orm_core::{
    BatchSize, Delay, Error, IntoQueueName, Message, Messages, PollOptions, QueueMetrics,
    QueueName, VisibilityTimeout,
};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;

/// A queue whose messages are `T` and whose headers are `H`: `orders.send(&txn, &event)`
/// only accepts the queue's message type, and reads decode into it, each message on its
/// own: reads and pops return a [`Messages`] batch in which a message that is not a `T`
/// is set apart with its msg_id and exact text
/// ([`undecodable`](pgmq_orm_core::Batch::undecodable)) and never hides the others.
///
/// Every method takes the connection to run on, so the same handle works on a
/// `DatabaseConnection` and inside a `DatabaseTransaction`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm_pgmq::{BatchSize, Queue, VisibilityTimeout};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct OrderCreated { order_id: i64 }
///
/// let orders: Queue<OrderCreated> = Queue::new("orders")?;
/// orders.create(&conn).await?;
/// orders.send(&conn, &OrderCreated { order_id: 1 }).await?;
/// let got = orders.read(&conn, VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
/// assert_eq!(got[0].message, OrderCreated { order_id: 1 });
/// # Ok(())
/// # }
/// ```
pub struct Queue<T, H = serde_json::Value> {
    name: QueueName,
    _types: PhantomData<fn() -> (T, H)>,
}

impl<T, H> fmt::Debug for Queue<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("name", &self.name).finish()
    }
}

impl<T, H> Clone for Queue<T, H> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            _types: PhantomData,
        }
    }
}

impl<T, H> Queue<T, H> {
    /// A handle on the queue `name` (validated; nothing is created).
    ///
    /// ```
    /// use sea_orm_pgmq::{ErrorKind, Queue};
    /// let orders: Queue<i64> = Queue::new("orders")?;
    /// assert_eq!(Queue::<i64>::new("Bad Name").unwrap_err().kind(), ErrorKind::InvalidQueueName);
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    pub fn new(name: impl IntoQueueName) -> Result<Self, Error> {
        Ok(Self::from_name(name.into_queue_name()?))
    }

    /// A handle on an already validated name.
    ///
    /// ```
    /// use sea_orm_pgmq::{Queue, QueueName};
    /// let orders: Queue<i64> = Queue::from_name(QueueName::from_static("orders"));
    /// ```
    pub const fn from_name(name: QueueName) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    /// The queue's name.
    ///
    /// ```
    /// let orders: sea_orm_pgmq::Queue<i64> = sea_orm_pgmq::Queue::new("orders")?;
    /// assert_eq!(orders.name().as_str(), "orders");
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    pub fn name(&self) -> &QueueName {
        &self.name
    }
}

impl<T, H> Queue<T, H>
where
    T: Serialize + DeserializeOwned,
    H: Serialize + DeserializeOwned,
{
    /// `pgmq.create` for this queue (idempotent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// assert_eq!(jobs.metrics(&conn).await?.queue_length, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(&self, conn: &impl ConnectionTrait) -> Result<(), Error> {
        exec(conn, query::create(&self.name)).await
    }

    /// `pgmq.create_unlogged` for this queue: faster, emptied by a crash.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create_unlogged(&conn).await?;
    /// jobs.send(&conn, &Job { id: 1 }).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_unlogged(&self, conn: &impl ConnectionTrait) -> Result<(), Error> {
        exec(conn, query::create_unlogged(&self.name)).await
    }

    /// `pgmq.drop_queue`: drops the queue and its archive; `true` if it existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// assert!(jobs.drop_queue(&conn).await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn drop_queue(&self, conn: &impl ConnectionTrait) -> Result<bool, Error> {
        flag(conn, query::drop_queue(&self.name)).await
    }

    /// `pgmq.purge_queue`: deletes every message; how many there were.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert_eq!(jobs.purge(&conn).await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn purge(&self, conn: &impl ConnectionTrait) -> Result<i64, Error> {
        Ok(one::<CountRow, _>(conn, query::purge_queue(&self.name))
            .await?
            .count)
    }

    /// `pgmq.metrics`: the queue's counters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert_eq!(jobs.metrics(&conn).await?.queue_length, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn metrics(&self, conn: &impl ConnectionTrait) -> Result<QueueMetrics, Error> {
        Ok(one::<MetricsRow, _>(conn, query::metrics(&self.name))
            .await?
            .into())
    }

    /// `pgmq.send`: its msg_id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let id = jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert_eq!(id, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&self, conn: &impl ConnectionTrait, msg: &T) -> Result<i64, Error> {
        let stmt = send_stmt(&self.name, msg, None::<&H>, Delay::Seconds(0))?;
        one_id(conn, stmt).await
    }

    /// `pgmq.send` with headers and a delay.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// jobs.send_with(&conn, &Job { id: 1 }, None, Delay::Seconds(60)).await?;
    /// assert!(jobs.read(&conn, VisibilityTimeout::Seconds(30), BatchSize::ONE).await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_with(
        &self,
        conn: &impl ConnectionTrait,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> Result<i64, Error> {
        let stmt = send_stmt(&self.name, msg, headers, delay)?;
        one_id(conn, stmt).await
    }

    /// `pgmq.send_batch`: one msg_id per message, in order; an empty slice sends nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let ids = jobs.send_batch(&conn, &[Job { id: 1 }, Job { id: 2 }]).await?;
    /// assert_eq!(ids, [1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_batch(
        &self,
        conn: &impl ConnectionTrait,
        msgs: &[T],
    ) -> Result<Vec<i64>, Error> {
        self.send_batch_with(conn, msgs, None, Delay::Seconds(0))
            .await
    }

    /// `pgmq.send_batch` with per-message headers (one per message) and a delay.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let at = chrono::Utc::now() + chrono::Duration::minutes(5);
    /// let ids = jobs.send_batch_with(&conn, &[Job { id: 1 }], None, Delay::Until(at)).await?;
    /// assert_eq!(ids.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_batch_with(
        &self,
        conn: &impl ConnectionTrait,
        msgs: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> Result<Vec<i64>, Error> {
        batch_ids(conn, send_batch_stmt(&self.name, msgs, headers, delay)?).await
    }

    /// `pgmq.read`: up to `qty` messages, hidden for `vt`, decoded into `T` and `H`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// jobs.send(&conn, &Job { id: 1 }).await?;
    /// let got = jobs.read(&conn, VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
    /// assert_eq!(got[0].message, Job { id: 1 });
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read(
        &self,
        conn: &impl ConnectionTrait,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T, H>, Error> {
        messages(conn, query::read(&self.name, vt, qty)).await
    }

    /// `pgmq.read_with_poll`: waits up to `poll`'s max wait; empty on timeout.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let poll = PollOptions::new(std::time::Duration::from_millis(100), std::time::Duration::from_millis(10));
    /// assert!(jobs.read_with_poll(&conn, VisibilityTimeout::Seconds(30), BatchSize::ONE, poll).await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read_with_poll(
        &self,
        conn: &impl ConnectionTrait,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> Result<Messages<T, H>, Error> {
        messages(conn, query::read_with_poll(&self.name, vt, qty, poll)).await
    }

    /// `pgmq.read_grouped`: FIFO within the `x-pgmq-group` header's groups, oldest group first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let group = |g: &str| serde_json::json!({"x-pgmq-group": g});
    /// jobs.send_with(&conn, &Job { id: 1 }, Some(&group("a")), Delay::Seconds(0)).await?;
    /// jobs.send_with(&conn, &Job { id: 2 }, Some(&group("a")), Delay::Seconds(0)).await?;
    /// jobs.send_with(&conn, &Job { id: 3 }, Some(&group("b")), Delay::Seconds(0)).await?;
    /// let got = jobs.read_grouped(&conn, VisibilityTimeout::Seconds(30), BatchSize::new(2)?).await?;
    /// assert_eq!(got.iter().map(|m| m.message.id).collect::<Vec<_>>(), [1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read_grouped(
        &self,
        conn: &impl ConnectionTrait,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T, H>, Error> {
        messages(conn, query::read_grouped(&self.name, vt, qty)).await
    }

    /// `pgmq.read_grouped_rr`: grouped FIFO, round-robin across groups.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let group = |g: &str| serde_json::json!({"x-pgmq-group": g});
    /// jobs.send_with(&conn, &Job { id: 1 }, Some(&group("a")), Delay::Seconds(0)).await?;
    /// jobs.send_with(&conn, &Job { id: 2 }, Some(&group("a")), Delay::Seconds(0)).await?;
    /// jobs.send_with(&conn, &Job { id: 3 }, Some(&group("b")), Delay::Seconds(0)).await?;
    /// let got = jobs.read_grouped_rr(&conn, VisibilityTimeout::Seconds(30), BatchSize::new(2)?).await?;
    /// assert_eq!(got.iter().map(|m| m.message.id).collect::<Vec<_>>(), [1, 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read_grouped_rr(
        &self,
        conn: &impl ConnectionTrait,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T, H>, Error> {
        messages(conn, query::read_grouped_rr(&self.name, vt, qty)).await
    }

    /// `pgmq.pop`: reads and deletes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert_eq!(jobs.pop(&conn, BatchSize::ONE).await?[0].message, Job { id: 1 });
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pop(
        &self,
        conn: &impl ConnectionTrait,
        qty: BatchSize,
    ) -> Result<Messages<T, H>, Error> {
        messages(conn, query::pop(&self.name, qty)).await
    }

    /// `pgmq.set_vt` for one message: the updated message, or `None` if there is none.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let id = jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert!(jobs.set_vt(&conn, id, VisibilityTimeout::Seconds(60)).await?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_vt(
        &self,
        conn: &impl ConnectionTrait,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> Result<Option<Message<T, H>>, Error> {
        Ok(messages(conn, query::set_vt(&self.name, msg_id, vt))
            .await?
            .into_iter()
            .next())
    }

    /// `pgmq.delete`: `true` if the message existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let id = jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert!(jobs.delete(&conn, id).await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete(&self, conn: &impl ConnectionTrait, msg_id: i64) -> Result<bool, Error> {
        flag(conn, query::delete(&self.name, msg_id)).await
    }

    /// `pgmq.delete` for many ids: the ids actually deleted.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let ids = jobs.send_batch(&conn, &[Job { id: 1 }, Job { id: 2 }]).await?;
    /// assert_eq!(jobs.delete_batch(&conn, &ids).await?.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_batch(
        &self,
        conn: &impl ConnectionTrait,
        msg_ids: &[i64],
    ) -> Result<Vec<i64>, Error> {
        ids(conn, query::delete_batch(&self.name, msg_ids)).await
    }

    /// `pgmq.archive`: `true` if the message existed and moved to the archive.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let id = jobs.send(&conn, &Job { id: 1 }).await?;
    /// assert!(jobs.archive(&conn, id).await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn archive(&self, conn: &impl ConnectionTrait, msg_id: i64) -> Result<bool, Error> {
        flag(conn, query::archive(&self.name, msg_id)).await
    }

    /// `pgmq.archive` for many ids: the ids actually archived.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::{BatchSize, Delay, PollOptions, Queue, VisibilityTimeout};
    /// # #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// # struct Job { id: i64 }
    /// let jobs: Queue<Job> = Queue::new("jobs")?;
    /// jobs.create(&conn).await?;
    /// let ids = jobs.send_batch(&conn, &[Job { id: 1 }, Job { id: 2 }]).await?;
    /// assert_eq!(jobs.archive_batch(&conn, &ids).await?.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn archive_batch(
        &self,
        conn: &impl ConnectionTrait,
        msg_ids: &[i64],
    ) -> Result<Vec<i64>, Error> {
        ids(conn, query::archive_batch(&self.name, msg_ids)).await
    }
}
