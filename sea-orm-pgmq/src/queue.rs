//! [`Queue`]: a typed handle on one queue.

use crate::connection::{encode_all, encode_opt_headers, fetch_one, flag, ids, messages, one_id};
use crate::query::{self, CountRow, MetricsRow};
use pgmq_orm_core::{
    BatchSize, Delay, Error, IntoQueueName, Message, PollOptions, QueueMetrics, QueueName,
    VisibilityTimeout, encode_message,
};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;

/// A queue whose messages are `T` and whose headers are `H`: `orders.send(&txn, &event)`
/// only accepts the queue's message type, and reads decode into it.
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
    pub fn new(name: impl IntoQueueName) -> Result<Self, Error> {
        Ok(Self::from_name(name.into_queue_name()?))
    }

    /// A handle on an already validated name.
    pub const fn from_name(name: QueueName) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &QueueName {
        &self.name
    }
}

impl<T, H> Queue<T, H>
where
    T: Serialize + DeserializeOwned,
    H: Serialize + DeserializeOwned,
{
    /// `pgmq.create` for this queue.
    pub async fn create(&self, conn: &impl ConnectionTrait) -> Result<(), Error> {
        crate::connection::exec(
            conn,
            query::select_scalar(crate::functions::create(&self.name), "ok"),
        )
        .await
    }

    /// `pgmq.drop_queue`: `true` if it existed.
    pub async fn drop_queue(&self, conn: &impl ConnectionTrait) -> Result<bool, Error> {
        flag(conn, query::drop_queue(&self.name)).await
    }

    /// `pgmq.purge_queue`: how many messages were deleted.
    pub async fn purge(&self, conn: &impl ConnectionTrait) -> Result<i64, Error> {
        Ok(
            fetch_one::<CountRow, _>(conn, query::purge_queue(&self.name))
                .await?
                .map_or(0, |r| r.count),
        )
    }

    /// `pgmq.metrics`.
    pub async fn metrics(&self, conn: &impl ConnectionTrait) -> Result<QueueMetrics, Error> {
        fetch_one::<MetricsRow, _>(conn, query::metrics(&self.name))
            .await?
            .map(Into::into)
            .ok_or_else(|| Error::InvalidArgument(format!("no metrics for {}", self.name)))
    }

    /// `pgmq.send`: returns the msg_id.
    pub async fn send(&self, conn: &impl ConnectionTrait, msg: &T) -> Result<i64, Error> {
        let stmt = query::send(&self.name, encode_message(msg)?);
        one_id(conn, stmt).await
    }

    /// `pgmq.send` with headers and a delay.
    pub async fn send_with(
        &self,
        conn: &impl ConnectionTrait,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> Result<i64, Error> {
        let stmt = query::send_with(
            &self.name,
            encode_message(msg)?,
            encode_opt_headers(headers)?,
            delay,
        );
        one_id(conn, stmt).await
    }

    /// `pgmq.send_batch`: one msg_id per message, in order.
    pub async fn send_batch(
        &self,
        conn: &impl ConnectionTrait,
        msgs: &[T],
    ) -> Result<Vec<i64>, Error> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        ids(conn, query::send_batch(&self.name, encode_all(msgs)?)).await
    }

    /// `pgmq.read`.
    pub async fn read(
        &self,
        conn: &impl ConnectionTrait,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Vec<Message<T, H>>, Error> {
        messages(conn, query::read(&self.name, vt, qty)).await
    }

    /// `pgmq.read_with_poll`.
    pub async fn read_with_poll(
        &self,
        conn: &impl ConnectionTrait,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> Result<Vec<Message<T, H>>, Error> {
        messages(conn, query::read_with_poll(&self.name, vt, qty, poll)).await
    }

    /// `pgmq.pop`.
    pub async fn pop(
        &self,
        conn: &impl ConnectionTrait,
        qty: BatchSize,
    ) -> Result<Vec<Message<T, H>>, Error> {
        messages(conn, query::pop(&self.name, qty)).await
    }

    /// `pgmq.set_vt` for one message.
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

    /// `pgmq.delete`.
    pub async fn delete(&self, conn: &impl ConnectionTrait, msg_id: i64) -> Result<bool, Error> {
        flag(conn, query::delete(&self.name, msg_id)).await
    }

    /// `pgmq.delete` for many ids.
    pub async fn delete_batch(
        &self,
        conn: &impl ConnectionTrait,
        msg_ids: &[i64],
    ) -> Result<Vec<i64>, Error> {
        ids(conn, query::delete_batch(&self.name, msg_ids)).await
    }

    /// `pgmq.archive`.
    pub async fn archive(&self, conn: &impl ConnectionTrait, msg_id: i64) -> Result<bool, Error> {
        flag(conn, query::archive(&self.name, msg_id)).await
    }

    /// `pgmq.archive` for many ids.
    pub async fn archive_batch(
        &self,
        conn: &impl ConnectionTrait,
        msg_ids: &[i64],
    ) -> Result<Vec<i64>, Error> {
        ids(conn, query::archive_batch(&self.name, msg_ids)).await
    }
}
