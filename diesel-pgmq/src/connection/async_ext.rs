//! The async extension trait.

use std::future::Future;
use std::time::Duration;

use diesel::pg::Pg;
use diesel_async::{AsyncConnectionCore, RunQueryDsl};
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

/// pgmq's operations as methods of a diesel-async connection: `AsyncPgConnection`, a bb8
/// pooled connection, or the connection inside `conn.transaction(async |conn| ..)`.
///
/// Same names, arguments and errors as [`PgmqConnectionExt`](crate::PgmqConnectionExt);
/// every method returns a `Send` future.
///
/// ```
/// use diesel_async::{AsyncConnection, AsyncPgConnection};
/// use diesel_pgmq::{BatchSize, PgmqAsyncConnectionExt, VisibilityTimeout};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = AsyncPgConnection::establish(db.url()).await?;
/// conn.create_queue("orders").await?;
/// conn.transaction(async |conn| {
///     conn.send("orders", &serde_json::json!({"order_id": 1})).await?;
///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// }).await?;
/// let msgs = conn.read::<serde_json::Value>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
/// conn.delete("orders", msgs[0].msg_id).await?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub trait PgmqAsyncConnectionExt {
    /// Creates a queue (`pgmq.create`); idempotent.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// conn.create_queue("orders").await?;
    /// assert_eq!(conn.list_queues().await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_queue(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Creates an unlogged queue (`pgmq.create_unlogged`): faster, emptied by a crash.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// conn.create_unlogged_queue("events").await?;
    /// assert!(conn.list_queues().await?[0].is_unlogged);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_unlogged_queue(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Creates a partitioned queue (`pgmq.create_partitioned`); needs the pg_partman extension in the database.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # if !db.optional_extension("pg_partman", "PgmqAsyncConnectionExt::create_partitioned_queue") { return Ok(()); }
    /// conn.create_partitioned_queue("big", "10000", "100000").await?;
    /// assert!(conn.list_queues().await?[0].is_partitioned);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_partitioned_queue(
        &mut self,
        q: impl IntoQueueName + Send,
        partition_interval: &str,
        retention_interval: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Drops a queue and its archive (`pgmq.drop_queue`); whether it existed.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// assert!(conn.drop_queue("orders").await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn drop_queue(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Deletes every message of a queue (`pgmq.purge_queue`); how many there were.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.purge_queue("orders").await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn purge_queue(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// Lists the queues (`pgmq.list_queues`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// assert_eq!(conn.list_queues().await?[0].queue_name, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_queues(&mut self) -> impl Future<Output = Result<Vec<QueueInfo>, Error>> + Send;

    /// A queue's counters (`pgmq.metrics`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.metrics("orders").await?.queue_length, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn metrics(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<QueueMetrics, Error>> + Send;

    /// Every queue's counters (`pgmq.metrics_all`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// assert_eq!(conn.metrics_all().await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn metrics_all(&mut self) -> impl Future<Output = Result<Vec<QueueMetrics>, Error>> + Send;

    /// Sends one message (`pgmq.send`); its id.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &serde_json::json!({"order_id": 1})).await?;
    /// assert_eq!(id, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send<T: Serialize + ?Sized + Sync>(
        &mut self,
        q: impl IntoQueueName + Send,
        message: &T,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// Sends one message with optional headers and a delay (seconds or a timestamp): every `pgmq.send` overload.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let headers = serde_json::json!({"x-pgmq-group": "customer-7"});
    /// conn.send_with("orders", &1, Some(&headers), Delay::Seconds(60)).await?;
    /// assert!(conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE).await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_with<T: Serialize + ?Sized + Sync, H: Serialize + ?Sized + Sync>(
        &mut self,
        q: impl IntoQueueName + Send,
        message: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// Sends several messages in one statement (`pgmq.send_batch`); their ids, in order.
    /// An empty slice sends nothing and returns no ids, without a round trip.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// assert_eq!(conn.send_batch("orders", &[1, 2, 3]).await?, vec![1, 2, 3]);
    /// assert!(conn.send_batch::<i32>("orders", &[]).await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_batch<T: Serialize + Sync>(
        &mut self,
        q: impl IntoQueueName + Send,
        messages: &[T],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// Sends several messages with optional per-message headers and a delay: every `pgmq.send_batch` overload.
    /// `headers`, when given, must hold one object per message ([`Error::InvalidArgument`]
    /// otherwise, before any SQL runs); an empty slice of messages sends nothing.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let at = chrono::Utc::now() + chrono::Duration::minutes(5);
    /// let ids = conn.send_batch_with::<_, serde_json::Value>("orders", &[1, 2], None, Delay::Until(at)).await?;
    /// assert_eq!(ids.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_batch_with<T: Serialize + Sync, H: Serialize + Sync>(
        &mut self,
        q: impl IntoQueueName + Send,
        messages: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// Reads up to `qty` visible messages and hides them for `vt` (`pgmq.read`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &7).await?;
    /// let msgs = conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?).await?;
    /// assert_eq!(msgs[0].message, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// Like [`read`](Self::read), but only messages whose payload contains `conditional`
    /// (jsonb `@>`, `pgmq.read` with a filter).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &serde_json::json!({"kind": "sms"})).await?;
    /// conn.send("orders", &serde_json::json!({"kind": "email"})).await?;
    /// let filter = serde_json::json!({"kind": "email"});
    /// let msgs = conn.read_conditional::<serde_json::Value, _>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?, &filter).await?;
    /// assert_eq!(msgs.len(), 1);
    /// assert_eq!(msgs[0].message["kind"], "email");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_conditional<T: DeserializeOwned, F: Serialize + ?Sized + Sync>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
        conditional: &F,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// Like [`read`](Self::read), but waits server-side up to `poll.max_wait` for messages (`pgmq.read_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let poll = PollOptions::new(std::time::Duration::from_secs(1), std::time::Duration::from_millis(50));
    /// let msgs = conn.read_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll).await?;
    /// assert!(msgs.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// [`read_with_poll`](Self::read_with_poll) with a payload filter (see [`read_conditional`](Self::read_conditional)).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &serde_json::json!({"kind": "email"})).await?;
    /// let poll = PollOptions::new(std::time::Duration::from_secs(1), std::time::Duration::from_millis(50));
    /// let filter = serde_json::json!({"kind": "email"});
    /// let msgs = conn.read_with_poll_conditional::<serde_json::Value, _>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll, &filter).await?;
    /// assert_eq!(msgs.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_with_poll_conditional<T: DeserializeOwned, F: Serialize + ?Sized + Sync>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
        conditional: &F,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// Reads and deletes up to `qty` messages (`pgmq.pop`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others. pop deletes as it reads, so such a message is handed back
    /// whole in [`Messages::undecodable`](crate::Batch::undecodable) (msg_id and exact
    /// JSON text): its only copy. Archive or re-send it from there.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.pop::<i32>("orders", BatchSize::ONE).await?.len(), 1);
    /// assert_eq!(conn.metrics("orders").await?.queue_length, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn pop<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// Changes a message's visibility timeout (`pgmq.set_vt`); `None` if the message is gone.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// let m = conn.set_vt::<i32>("orders", id, VisibilityTimeout::Seconds(60)).await?.unwrap();
    /// assert!(m.vt > chrono::Utc::now());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set_vt<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Option<Message<T>>, Error>> + Send;

    /// Changes the visibility timeout of several messages (`pgmq.set_vt` with an id array);
    /// the ones that exist, updated (none for no ids).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let ids = conn.send_batch("orders", &[1, 2]).await?;
    /// let moved = conn.set_vt_batch::<i32>("orders", &ids, VisibilityTimeout::Seconds(60)).await?;
    /// assert_eq!(moved.len(), 2);
    /// assert!(conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?).await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set_vt_batch<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        msg_ids: &[i64],
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// Deletes a message (`pgmq.delete`); whether it was there.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// assert!(conn.delete("orders", id).await?);
    /// assert!(!conn.delete("orders", id).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn delete(
        &mut self,
        q: impl IntoQueueName + Send,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Deletes several messages (`pgmq.delete`); the ids that were there (none for no ids).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let ids = conn.send_batch("orders", &[1, 2]).await?;
    /// assert_eq!(conn.delete_batch("orders", &ids).await?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn delete_batch(
        &mut self,
        q: impl IntoQueueName + Send,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// Moves a message to the archive table (`pgmq.archive`); whether it was there.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// assert!(conn.archive("orders", id).await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn archive(
        &mut self,
        q: impl IntoQueueName + Send,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Archives several messages (`pgmq.archive`); the ids archived (none for no ids).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let ids = conn.send_batch("orders", &[1, 2]).await?;
    /// assert_eq!(conn.archive_batch("orders", &ids).await?, ids);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn archive_batch(
        &mut self,
        q: impl IntoQueueName + Send,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// FIFO read (`pgmq.read_grouped`): in order within each `x-pgmq-group` header, never two readers on one group.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let g = serde_json::json!({"x-pgmq-group": "a"});
    /// conn.send_with("orders", &1, Some(&g), Delay::default()).await?;
    /// conn.send_with("orders", &2, Some(&g), Delay::default()).await?;
    /// let msgs = conn.read_grouped::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?).await?;
    /// assert_eq!(msgs.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// FIFO read interleaving groups round-robin (`pgmq.read_grouped_rr`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send_with("orders", &1, Some(&serde_json::json!({"x-pgmq-group": "a"})), Delay::default()).await?;
    /// conn.send_with("orders", &2, Some(&serde_json::json!({"x-pgmq-group": "b"})), Delay::default()).await?;
    /// assert_eq!(conn.read_grouped_rr::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(2)?).await?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_rr<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// At most the head message of each group (`pgmq.read_grouped_head`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// let g = serde_json::json!({"x-pgmq-group": "a"});
    /// conn.send_batch_with("orders", &[1, 2], Some(&[g.clone(), g]), Delay::default()).await?;
    /// assert_eq!(conn.read_grouped_head::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?).await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_head<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// [`read_grouped`](Self::read_grouped), waiting up to `poll.max_wait` (`pgmq.read_grouped_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// let poll = PollOptions::default();
    /// assert_eq!(conn.read_grouped_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll).await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// [`read_grouped_rr`](Self::read_grouped_rr), waiting up to `poll.max_wait` (`pgmq.read_grouped_rr_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// let poll = PollOptions::default();
    /// assert_eq!(conn.read_grouped_rr_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll).await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_rr_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// [`read_grouped_head`](Self::read_grouped_head), waiting up to `poll.max_wait` (`pgmq.read_grouped_head_with_poll`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     conn.send_with("orders", &n, Some(&serde_json::json!({"x-pgmq-group": group})), Delay::default()).await?;
    /// }
    /// let poll = PollOptions::default();
    /// let heads = conn.read_grouped_head_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::new(10)?, poll).await?;
    /// assert_eq!(heads.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read_grouped_head_with_poll<T: DeserializeOwned>(
        &mut self,
        q: impl IntoQueueName + Send,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// Creates the GIN index on headers that speeds up the grouped reads (`pgmq.create_fifo_index`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.create_fifo_index("orders").await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_fifo_index(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// [`create_fifo_index`](Self::create_fifo_index) on every existing queue (`pgmq.create_fifo_indexes_all`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.create_queue("payments").await?;
    /// conn.create_fifo_indexes_all().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn create_fifo_indexes_all(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Makes inserts `NOTIFY` listeners, at most once per `throttle` (`pgmq.enable_notify_insert`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.enable_notify_insert("orders", std::time::Duration::from_millis(250)).await?;
    /// assert_eq!(conn.list_notify_insert_throttles().await?[0].throttle_interval_ms, 250);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn enable_notify_insert(
        &mut self,
        q: impl IntoQueueName + Send,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Changes the notification throttle (`pgmq.update_notify_insert`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.enable_notify_insert("orders", std::time::Duration::from_millis(250)).await?;
    /// conn.update_notify_insert("orders", std::time::Duration::from_secs(1)).await?;
    /// assert_eq!(conn.list_notify_insert_throttles().await?[0].throttle_interval_ms, 1000);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn update_notify_insert(
        &mut self,
        q: impl IntoQueueName + Send,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stops insert notifications (`pgmq.disable_notify_insert`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.enable_notify_insert("orders", std::time::Duration::ZERO).await?;
    /// conn.disable_notify_insert("orders").await?;
    /// assert!(conn.list_notify_insert_throttles().await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn disable_notify_insert(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The queues that notify on insert (`pgmq.list_notify_insert_throttles`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// assert!(conn.list_notify_insert_throttles().await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_notify_insert_throttles(
        &mut self,
    ) -> impl Future<Output = Result<Vec<NotifyThrottle>, Error>> + Send;

    /// Routes routing keys matching `pattern` to the queue (`pgmq.bind_topic`; `*` one word, `#` any).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert_eq!(conn.send_topic::<_, serde_json::Value>("orders.created", &1, None, Delay::default()).await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn bind_topic(
        &mut self,
        pattern: &str,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Removes a binding (`pgmq.unbind_topic`); whether it existed.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert!(conn.unbind_topic("orders.*", "orders").await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn unbind_topic(
        &mut self,
        pattern: &str,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Sends to every queue bound to a matching pattern (`pgmq.send_topic`); how many queues got it. pgmq takes the delay in seconds; a timestamp is rounded up from now.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.#", "orders").await?;
    /// let n = conn.send_topic("orders.eu.created", &1, Some(&serde_json::json!({"k": "v"})), Delay::Seconds(0)).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_topic<T: Serialize + ?Sized + Sync, H: Serialize + ?Sized + Sync>(
        &mut self,
        routing_key: &str,
        message: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i32, Error>> + Send;

    /// Sends several messages to every matching queue (`pgmq.send_batch_topic`); which queue got which id.
    /// An empty slice sends nothing and returns no ids, without a round trip.
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// let sent = conn.send_batch_topic::<_, serde_json::Value>("orders.created", &[1, 2], None, Delay::default()).await?;
    /// assert_eq!(sent.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send_batch_topic<T: Serialize + Sync, H: Serialize + Sync>(
        &mut self,
        routing_key: &str,
        messages: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> impl Future<Output = Result<Vec<TopicMessageId>, Error>> + Send;

    /// Every topic binding (`pgmq.list_topic_bindings()`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert_eq!(conn.list_topic_bindings().await?[0].pattern, "orders.*");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_topic_bindings(
        &mut self,
    ) -> impl Future<Output = Result<Vec<TopicBinding>, Error>> + Send;

    /// The bindings of one queue (`pgmq.list_topic_bindings(queue_name)`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert_eq!(conn.list_topic_bindings_for("orders").await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_topic_bindings_for(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<Vec<TopicBinding>, Error>> + Send;

    /// Which bindings a routing key would reach, without sending (`pgmq.test_routing`).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// # conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert_eq!(conn.test_routing("orders.created").await?[0].queue_name, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn test_routing(
        &mut self,
        routing_key: &str,
    ) -> impl Future<Output = Result<Vec<RoutingMatch>, Error>> + Send;

    /// The installed pgmq version; [`Error::PgmqMissing`] without pgmq, [`Error::PgmqTooOld`] below [`MIN_PGMQ_VERSION`](crate::MIN_PGMQ_VERSION).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// assert!(conn.pgmq_version().await? >= diesel_pgmq::MIN_PGMQ_VERSION);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn pgmq_version(&mut self) -> impl Future<Output = Result<PgmqVersion, Error>> + Send;

    /// The queue's [`QueueHealth`] in one statement (see
    /// [`PgmqConnectionExt::queue_health`](crate::PgmqConnectionExt::queue_health)).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.queue_health("orders").await?.depth, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn queue_health(
        &mut self,
        q: impl IntoQueueName + Send,
    ) -> impl Future<Output = Result<QueueHealth, Error>> + Send;

    /// Archive retention in bounded batches (see
    /// [`PgmqConnectionExt::delete_archived_older_than`](crate::PgmqConnectionExt::delete_archived_older_than)).
    ///
    /// ```
    /// # use diesel_async::{AsyncConnection, AsyncPgConnection};
    /// # use diesel_pgmq::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
    /// conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// conn.archive("orders", id).await?;
    /// let n = conn.delete_archived_older_than("orders", std::time::Duration::ZERO, BatchSize::new(100)?).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn delete_archived_older_than(
        &mut self,
        q: impl IntoQueueName + Send,
        age: Duration,
        batch: BatchSize,
    ) -> impl Future<Output = Result<i64, Error>> + Send;
}

/// Runs a statement into rows, `?` on errors, without the version lookup of [`load`].
macro_rules! plain_load {
    ($conn:expr, $stmt:expr, $row:ty) => {
        RunQueryDsl::load::<$row>($stmt, $conn)
            .await
            .map_err(from_diesel)?
    };
}

async fn installed<C>(conn: &mut C) -> Result<Option<PgmqVersion>, Error>
where
    C: AsyncConnectionCore<Backend = Pg>,
{
    installed_version!(conn, plain_load)
}

/// `err`, or the typed version error it stands for when it
/// [may come from an older pgmq](Error::may_need_newer_pgmq): the installed version is
/// looked up on this error path only (inside a failed transaction the lookup fails too,
/// and `err` is returned as it is).
pub(crate) async fn version_error<C>(conn: &mut C, err: Error) -> Error
where
    C: AsyncConnectionCore<Backend = Pg>,
{
    if !err.may_need_newer_pgmq() {
        return err;
    }
    match installed(conn).await {
        Ok(version) => err.for_installed_version(version),
        Err(_) => err,
    }
}

macro_rules! load {
    ($conn:expr, $stmt:expr, $row:ty) => {
        match RunQueryDsl::load::<$row>($stmt, &mut *$conn).await {
            Ok(rows) => rows,
            Err(e) => return Err(version_error(&mut *$conn, from_diesel(e)).await),
        }
    };
}

macro_rules! exec {
    ($conn:expr, $stmt:expr) => {
        match RunQueryDsl::execute($stmt, &mut *$conn).await {
            Ok(n) => n,
            Err(e) => return Err(version_error(&mut *$conn, from_diesel(e)).await),
        }
    };
}

impl<C> PgmqAsyncConnectionExt for C
where
    C: AsyncConnectionCore<Backend = Pg>,
{
    ext_methods!(load, exec, [async], [+ Send], [+ Sync]);
}
