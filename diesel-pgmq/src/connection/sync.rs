//! The sync extension trait.

use std::time::Duration;

use diesel::connection::LoadConnection;
use diesel::pg::Pg;
use diesel::{Connection, RunQueryDsl};
use pgmq_orm_core::{
    BatchSize, Delay, Error, IntoQueueName, Message, Messages, NotifyThrottle, PgmqVersion,
    PollOptions, QueueHealth, QueueInfo, QueueMetrics, RoutingMatch, TopicBinding, TopicMessageId,
    VisibilityTimeout,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{convert, decode_all, name, one};
use crate::error::from_diesel;
use crate::query::{
    self, MessageRow, MetricsRow, NotifyThrottleRow, QueueInfoRow, RoutingMatchRow,
    TopicBindingRow, TopicMessageIdRow,
};

/// pgmq's operations as methods of a sync Diesel connection: `PgConnection`, an r2d2
/// pooled connection, or the `&mut PgConnection` inside `conn.transaction(|conn| ..)`.
///
/// Queue arguments take anything [`IntoQueueName`] (`&str`, `String`, [`QueueName`](crate::QueueName));
/// an invalid name fails with [`Error::InvalidQueueName`] before any SQL runs. Every
/// method returns the core [`Error`].
///
/// ```
/// use diesel::prelude::*;
/// use diesel_pgmq::{BatchSize, PgmqConnectionExt, VisibilityTimeout};
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// conn.create_queue("orders")?;
/// conn.transaction(|conn| {
///     conn.send("orders", &serde_json::json!({"order_id": 1}))?;
///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// })?;
/// let msgs = conn.read::<serde_json::Value>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE)?;
/// conn.delete("orders", msgs[0].msg_id)?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub trait PgmqConnectionExt {
    /// Creates a queue (`pgmq.create`); idempotent.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_queue("orders")?;
    /// assert_eq!(conn.list_queues()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_queue(&mut self, q: impl IntoQueueName) -> Result<(), Error>;

    /// Creates an unlogged queue (`pgmq.create_unlogged`): faster, emptied by a crash.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_unlogged_queue("events")?;
    /// assert!(conn.list_queues()?[0].is_unlogged);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_unlogged_queue(&mut self, q: impl IntoQueueName) -> Result<(), Error>;

    /// Creates a partitioned queue (`pgmq.create_partitioned`); needs the pg_partman extension in the database.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # if !db.optional_extension("pg_partman", "PgmqConnectionExt::create_partitioned_queue") { return Ok(()); }
    /// conn.create_partitioned_queue("big", "10000", "100000")?;
    /// assert!(conn.list_queues()?[0].is_partitioned);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_partitioned_queue(
        &mut self,
        q: impl IntoQueueName,
        partition_interval: &str,
        retention_interval: &str,
    ) -> Result<(), Error>;

    /// Drops a queue and its archive (`pgmq.drop_queue`); whether it existed.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// assert!(conn.drop_queue("orders")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn drop_queue(&mut self, q: impl IntoQueueName) -> Result<bool, Error>;

    /// Deletes every message of a queue (`pgmq.purge_queue`); how many there were.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &1)?;
    /// assert_eq!(conn.purge_queue("orders")?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn purge_queue(&mut self, q: impl IntoQueueName) -> Result<i64, Error>;

    /// Lists the queues (`pgmq.list_queues`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// assert_eq!(conn.list_queues()?[0].queue_name, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_queues(&mut self) -> Result<Vec<QueueInfo>, Error>;

    /// A queue's counters (`pgmq.metrics`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &1)?;
    /// assert_eq!(conn.metrics("orders")?.queue_length, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn metrics(&mut self, q: impl IntoQueueName) -> Result<QueueMetrics, Error>;

    /// Every queue's counters (`pgmq.metrics_all`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// assert_eq!(conn.metrics_all()?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn metrics_all(&mut self) -> Result<Vec<QueueMetrics>, Error>;

    /// Sends one message (`pgmq.send`); its id.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let id = conn.send("orders", &serde_json::json!({"order_id": 1}))?;
    /// assert_eq!(id, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send<T: Serialize + ?Sized>(
        &mut self,
        q: impl IntoQueueName,
        message: &T,
    ) -> Result<i64, Error>;

    /// Sends one message with optional headers and a delay (seconds or a timestamp): every `pgmq.send` overload.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let headers = serde_json::json!({"x-pgmq-group": "customer-7"});
    /// conn.send_with("orders", &1, Some(&headers), Delay::Seconds(60))?;
    /// assert!(conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_with<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &mut self,
        q: impl IntoQueueName,
        message: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> Result<i64, Error>;

    /// Sends several messages in one statement (`pgmq.send_batch`); their ids, in order.
    /// An empty slice sends nothing and returns no ids, without a round trip.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// assert_eq!(conn.send_batch("orders", &[1, 2, 3])?, vec![1, 2, 3]);
    /// assert!(conn.send_batch::<i32>("orders", &[])?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_batch<T: Serialize>(
        &mut self,
        q: impl IntoQueueName,
        messages: &[T],
    ) -> Result<Vec<i64>, Error>;

    /// Sends several messages with optional per-message headers and a delay: every `pgmq.send_batch` overload.
    /// `headers`, when given, must hold one object per message ([`Error::InvalidArgument`]
    /// otherwise, before any SQL runs); an empty slice of messages sends nothing.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let at = chrono::Utc::now() + chrono::Duration::minutes(5);
    /// let ids = conn.send_batch_with::<_, serde_json::Value>("orders", &[1, 2], None, Delay::Until(at))?;
    /// assert_eq!(ids.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_batch_with<T: Serialize, H: Serialize>(
        &mut self,
        q: impl IntoQueueName,
        messages: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> Result<Vec<i64>, Error>;

    /// Reads up to `qty` visible messages and hides them for `vt` (`pgmq.read`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &7)?;
    /// let msgs = conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)?;
    /// assert_eq!(msgs[0].message, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T>, Error>;

    /// Like [`read`](Self::read), but only messages whose payload contains `conditional`
    /// (jsonb `@>`, `pgmq.read` with a filter).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &serde_json::json!({"kind": "sms"}))?;
    /// conn.send("orders", &serde_json::json!({"kind": "email"}))?;
    /// let filter = serde_json::json!({"kind": "email"});
    /// let msgs = conn.read_conditional::<serde_json::Value, _>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?, &filter)?;
    /// assert_eq!(msgs.len(), 1);
    /// assert_eq!(msgs[0].message["kind"], "email");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_conditional<T: DeserializeOwned, F: Serialize + ?Sized>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        conditional: &F,
    ) -> Result<Messages<T>, Error>;

    /// Like [`read`](Self::read), but waits server-side up to `poll.max_wait` for messages (`pgmq.read_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let poll = PollOptions::new(std::time::Duration::from_secs(1), std::time::Duration::from_millis(50));
    /// let msgs = conn.read_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll)?;
    /// assert!(msgs.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> Result<Messages<T>, Error>;

    /// [`read_with_poll`](Self::read_with_poll) with a payload filter (see [`read_conditional`](Self::read_conditional)).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &serde_json::json!({"kind": "email"}))?;
    /// let poll = PollOptions::new(std::time::Duration::from_secs(1), std::time::Duration::from_millis(50));
    /// let filter = serde_json::json!({"kind": "email"});
    /// let msgs = conn.read_with_poll_conditional::<serde_json::Value, _>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll, &filter)?;
    /// assert_eq!(msgs.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_with_poll_conditional<T: DeserializeOwned, F: Serialize + ?Sized>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
        conditional: &F,
    ) -> Result<Messages<T>, Error>;

    /// Reads and deletes up to `qty` messages (`pgmq.pop`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others. pop deletes as it reads, so such a message is handed back
    /// whole in [`Messages::undecodable`](crate::Batch::undecodable) (msg_id and exact
    /// JSON text): its only copy. Archive or re-send it from there.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &1)?;
    /// assert_eq!(conn.pop::<i32>("orders", BatchSize::ONE)?.len(), 1);
    /// assert_eq!(conn.metrics("orders")?.queue_length, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn pop<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        qty: BatchSize,
    ) -> Result<Messages<T>, Error>;

    /// Changes a message's visibility timeout (`pgmq.set_vt`); `None` if the message is gone.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let id = conn.send("orders", &1)?;
    /// let m = conn.set_vt::<i32>("orders", id, VisibilityTimeout::Seconds(60))?.unwrap();
    /// assert!(m.vt > chrono::Utc::now());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set_vt<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> Result<Option<Message<T>>, Error>;

    /// Changes the visibility timeout of several messages (`pgmq.set_vt` with an id array);
    /// the ones that exist, updated (none for no ids).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let ids = conn.send_batch("orders", &[1, 2])?;
    /// let moved = conn.set_vt_batch::<i32>("orders", &ids, VisibilityTimeout::Seconds(60))?;
    /// assert_eq!(moved.len(), 2);
    /// assert!(conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set_vt_batch<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
        vt: VisibilityTimeout,
    ) -> Result<Messages<T>, Error>;

    /// Deletes a message (`pgmq.delete`); whether it was there.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let id = conn.send("orders", &1)?;
    /// assert!(conn.delete("orders", id)?);
    /// assert!(!conn.delete("orders", id)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn delete(&mut self, q: impl IntoQueueName, msg_id: i64) -> Result<bool, Error>;

    /// Deletes several messages (`pgmq.delete`); the ids that were there (none for no ids).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let ids = conn.send_batch("orders", &[1, 2])?;
    /// assert_eq!(conn.delete_batch("orders", &ids)?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn delete_batch(&mut self, q: impl IntoQueueName, msg_ids: &[i64]) -> Result<Vec<i64>, Error>;

    /// Moves a message to the archive table (`pgmq.archive`); whether it was there.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let id = conn.send("orders", &1)?;
    /// assert!(conn.archive("orders", id)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn archive(&mut self, q: impl IntoQueueName, msg_id: i64) -> Result<bool, Error>;

    /// Archives several messages (`pgmq.archive`); the ids archived (none for no ids).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let ids = conn.send_batch("orders", &[1, 2])?;
    /// assert_eq!(conn.archive_batch("orders", &ids)?, ids);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn archive_batch(&mut self, q: impl IntoQueueName, msg_ids: &[i64]) -> Result<Vec<i64>, Error>;

    /// FIFO read (`pgmq.read_grouped`): in order within each `x-pgmq-group` header, never two readers on one group.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let g = serde_json::json!({"x-pgmq-group": "a"});
    /// conn.send_with("orders", &1, Some(&g), Delay::default())?;
    /// conn.send_with("orders", &2, Some(&g), Delay::default())?;
    /// let msgs = conn.read_grouped::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)?;
    /// assert_eq!(msgs.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T>, Error>;

    /// FIFO read interleaving groups round-robin (`pgmq.read_grouped_rr`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send_with("orders", &1, Some(&serde_json::json!({"x-pgmq-group": "a"})), Delay::default())?;
    /// conn.send_with("orders", &2, Some(&serde_json::json!({"x-pgmq-group": "b"})), Delay::default())?;
    /// assert_eq!(conn.read_grouped_rr::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(2)?)?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_rr<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T>, Error>;

    /// At most the head message of each group (`pgmq.read_grouped_head`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// let g = serde_json::json!({"x-pgmq-group": "a"});
    /// conn.send_batch_with("orders", &[1, 2], Some(&[g.clone(), g]), Delay::default())?;
    /// assert_eq!(conn.read_grouped_head::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_head<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> Result<Messages<T>, Error>;

    /// [`read_grouped`](Self::read_grouped), waiting up to `poll.max_wait` (`pgmq.read_grouped_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &1)?;
    /// let poll = PollOptions::default();
    /// assert_eq!(conn.read_grouped_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> Result<Messages<T>, Error>;

    /// [`read_grouped_rr`](Self::read_grouped_rr), waiting up to `poll.max_wait` (`pgmq.read_grouped_rr_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.send("orders", &1)?;
    /// let poll = PollOptions::default();
    /// assert_eq!(conn.read_grouped_rr_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_rr_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> Result<Messages<T>, Error>;

    /// [`read_grouped_head`](Self::read_grouped_head), waiting up to `poll.max_wait` (`pgmq.read_grouped_head_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     conn.send_with("orders", &n, Some(&serde_json::json!({"x-pgmq-group": group})), Delay::default())?;
    /// }
    /// let poll = PollOptions::default();
    /// let heads = conn.read_grouped_head_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?, poll)?;
    /// assert_eq!(heads.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_head_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> Result<Messages<T>, Error>;

    /// Creates the GIN index on headers that speeds up the grouped reads (`pgmq.create_fifo_index`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.create_fifo_index("orders")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_fifo_index(&mut self, q: impl IntoQueueName) -> Result<(), Error>;

    /// [`create_fifo_index`](Self::create_fifo_index) on every existing queue (`pgmq.create_fifo_indexes_all`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.create_queue("payments")?;
    /// conn.create_fifo_indexes_all()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_fifo_indexes_all(&mut self) -> Result<(), Error>;

    /// Makes inserts `NOTIFY` listeners, at most once per `throttle` (`pgmq.enable_notify_insert`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.enable_notify_insert("orders", std::time::Duration::from_millis(250))?;
    /// assert_eq!(conn.list_notify_insert_throttles()?[0].throttle_interval_ms, 250);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn enable_notify_insert(
        &mut self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> Result<(), Error>;

    /// Changes the notification throttle (`pgmq.update_notify_insert`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.enable_notify_insert("orders", std::time::Duration::from_millis(250))?;
    /// conn.update_notify_insert("orders", std::time::Duration::from_secs(1))?;
    /// assert_eq!(conn.list_notify_insert_throttles()?[0].throttle_interval_ms, 1000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn update_notify_insert(
        &mut self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> Result<(), Error>;

    /// Stops insert notifications (`pgmq.disable_notify_insert`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.enable_notify_insert("orders", std::time::Duration::ZERO)?;
    /// conn.disable_notify_insert("orders")?;
    /// assert!(conn.list_notify_insert_throttles()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn disable_notify_insert(&mut self, q: impl IntoQueueName) -> Result<(), Error>;

    /// The queues that notify on insert (`pgmq.list_notify_insert_throttles`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// assert!(conn.list_notify_insert_throttles()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_notify_insert_throttles(&mut self) -> Result<Vec<NotifyThrottle>, Error>;

    /// Routes routing keys matching `pattern` to the queue (`pgmq.bind_topic`; `*` one word, `#` any).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.*", "orders")?;
    /// assert_eq!(conn.send_topic::<_, serde_json::Value>("orders.created", &1, None, Delay::default())?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn bind_topic(&mut self, pattern: &str, q: impl IntoQueueName) -> Result<(), Error>;

    /// Removes a binding (`pgmq.unbind_topic`); whether it existed.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.*", "orders")?;
    /// assert!(conn.unbind_topic("orders.*", "orders")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn unbind_topic(&mut self, pattern: &str, q: impl IntoQueueName) -> Result<bool, Error>;

    /// Sends to every queue bound to a matching pattern (`pgmq.send_topic`); how many queues got it. pgmq takes the delay in seconds; a timestamp is rounded up from now.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.#", "orders")?;
    /// let n = conn.send_topic("orders.eu.created", &1, Some(&serde_json::json!({"k": "v"})), Delay::Seconds(0))?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_topic<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &mut self,
        routing_key: &str,
        message: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> Result<i32, Error>;

    /// Sends several messages to every matching queue (`pgmq.send_batch_topic`); which queue got which id.
    /// An empty slice sends nothing and returns no ids, without a round trip.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.*", "orders")?;
    /// let sent = conn.send_batch_topic::<_, serde_json::Value>("orders.created", &[1, 2], None, Delay::default())?;
    /// assert_eq!(sent.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_batch_topic<T: Serialize, H: Serialize>(
        &mut self,
        routing_key: &str,
        messages: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> Result<Vec<TopicMessageId>, Error>;

    /// Every topic binding (`pgmq.list_topic_bindings()`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.*", "orders")?;
    /// assert_eq!(conn.list_topic_bindings()?[0].pattern, "orders.*");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_topic_bindings(&mut self) -> Result<Vec<TopicBinding>, Error>;

    /// The bindings of one queue (`pgmq.list_topic_bindings(queue_name)`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.*", "orders")?;
    /// assert_eq!(conn.list_topic_bindings_for("orders")?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_topic_bindings_for(
        &mut self,
        q: impl IntoQueueName,
    ) -> Result<Vec<TopicBinding>, Error>;

    /// Which bindings a routing key would reach, without sending (`pgmq.test_routing`).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("orders")?;
    /// conn.bind_topic("orders.*", "orders")?;
    /// assert_eq!(conn.test_routing("orders.created")?[0].queue_name, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn test_routing(&mut self, routing_key: &str) -> Result<Vec<RoutingMatch>, Error>;

    /// The installed pgmq version; [`Error::PgmqMissing`] without pgmq, [`Error::PgmqTooOld`] below [`MIN_PGMQ_VERSION`](crate::MIN_PGMQ_VERSION).
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// assert!(conn.pgmq_version()? >= diesel_pgmq::MIN_PGMQ_VERSION);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn pgmq_version(&mut self) -> Result<PgmqVersion, Error>;

    /// The queue's [`QueueHealth`] in one statement: depth, visible depth, oldest
    /// message age, dead tuples, table and index size, last vacuum, and for a partitioned
    /// queue the length of pg_partman's default partition.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_queue("orders")?;
    /// conn.send("orders", &1)?;
    /// let health = conn.queue_health("orders")?;
    /// assert_eq!((health.depth, health.visible_depth, health.default_partition_length), (1, 1, None));
    /// assert!(health.table_bytes > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn queue_health(&mut self, q: impl IntoQueueName) -> Result<QueueHealth, Error>;

    /// Archive retention: deletes the queue's archived messages archived more than `age`
    /// ago, `batch` at a time (each batch one statement, oldest first, skipping rows
    /// another session holds), until none is left; returns how many it deleted. Outside
    /// a transaction each batch commits on its own, so no statement runs long or holds
    /// many locks.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::*;
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_queue("orders")?;
    /// let id = conn.send("orders", &1)?;
    /// conn.archive("orders", id)?;
    /// let week = std::time::Duration::from_secs(7 * 24 * 3600);
    /// assert_eq!(conn.delete_archived_older_than("orders", week, BatchSize::new(1000)?)?, 0);
    /// assert_eq!(conn.delete_archived_older_than("orders", std::time::Duration::ZERO, BatchSize::new(1000)?)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn delete_archived_older_than(
        &mut self,
        q: impl IntoQueueName,
        age: Duration,
        batch: BatchSize,
    ) -> Result<i64, Error>;
}

/// Runs a statement into rows, `?` on errors, without the version lookup of [`load`].
macro_rules! plain_load {
    ($conn:expr, $stmt:expr, $row:ty) => {
        RunQueryDsl::load::<$row>($stmt, $conn).map_err(from_diesel)?
    };
}

fn installed<C>(conn: &mut C) -> Result<Option<PgmqVersion>, Error>
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    installed_version!(conn, plain_load)
}

/// `err`, or the typed version error it stands for when it
/// [may come from an older pgmq](Error::may_need_newer_pgmq): the installed version is
/// looked up on this error path only (inside a failed transaction the lookup fails too,
/// and `err` is returned as it is).
pub(crate) fn version_error<C>(conn: &mut C, err: Error) -> Error
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    if !err.may_need_newer_pgmq() {
        return err;
    }
    match installed(conn) {
        Ok(version) => err.for_installed_version(version),
        Err(_) => err,
    }
}

macro_rules! load {
    ($conn:expr, $stmt:expr, $row:ty) => {
        match RunQueryDsl::load::<$row>($stmt, &mut *$conn) {
            Ok(rows) => rows,
            Err(e) => return Err(version_error(&mut *$conn, from_diesel(e))),
        }
    };
}

macro_rules! exec {
    ($conn:expr, $stmt:expr) => {
        match RunQueryDsl::execute($stmt, &mut *$conn) {
            Ok(n) => n,
            Err(e) => return Err(version_error(&mut *$conn, from_diesel(e))),
        }
    };
}

impl<C> PgmqConnectionExt for C
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    ext_methods!(load, exec, [], [], []);
}
