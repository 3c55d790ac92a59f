//! [`PgmqConnectionExt`]: pgmq's operations as async methods on every SeaORM connection.

use crate::error::into_pgmq_error;
use crate::functions;
use crate::query::{
    self, BoolRow, CountRow, MetricsRow, MsgIdRow, NotifyThrottleRow, QueueInfoRow,
    RoutingMatchRow, TopicBindingRow, TopicCountRow, TopicMessageIdRow,
};
use pgmq_orm_core::health::{archive_retention_sql, health_binds, health_sql};
use pgmq_orm_core::{
    BatchSize, Delay, Error, IntoQueueName, Message, NotifyThrottle, PgmqVersion, PollOptions,
    QueueInfo, QueueMetrics, QueueName, RoutingMatch, TopicBinding, TopicMessageId,
    VisibilityTimeout, encode_batch, encode_headers, encode_message, encode_send_batch_json,
    encode_send_json, sql,
};
use pgmq_orm_core::{Messages, QueueHealth, RawJson, RawJsonMessage};
use sea_orm::sea_query::SelectStatement;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, QueryResult, Statement};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::Duration;

/// `err` as the core [`Error`], or the typed version error it stands for when it
/// [may come from an older pgmq](Error::may_need_newer_pgmq): the installed version is
/// looked up on this error path only (inside a failed transaction the lookup fails too,
/// and the error is returned as it is).
pub(crate) async fn db_error<C: ConnectionTrait + ?Sized>(conn: &C, err: DbErr) -> Error {
    let err = into_pgmq_error(err);
    if !err.may_need_newer_pgmq() {
        return err;
    }
    match installed_version(conn).await {
        Ok(version) => err.for_installed_version(version),
        Err(_) => err,
    }
}

pub(crate) async fn fetch_all<R: FromQueryResult, C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Vec<R>, Error> {
    let rows = match conn.query_all(&stmt).await {
        Ok(rows) => rows,
        Err(e) => return Err(db_error(conn, e).await),
    };
    rows.iter()
        .map(|r| R::from_query_result(r, "").map_err(into_pgmq_error))
        .collect()
}

pub(crate) async fn fetch_one<R: FromQueryResult, C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Option<R>, Error> {
    let row = match conn.query_one(&stmt).await {
        Ok(row) => row,
        Err(e) => return Err(db_error(conn, e).await),
    };
    row.map(|r| R::from_query_result(&r, "").map_err(into_pgmq_error))
        .transpose()
}

/// The rows of `stmt` as the core's type `X`.
pub(crate) async fn rows<R, X, C>(conn: &C, stmt: SelectStatement) -> Result<Vec<X>, Error>
where
    R: FromQueryResult + Into<X>,
    C: ConnectionTrait + ?Sized,
{
    Ok(fetch_all::<R, _>(conn, stmt)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The one row a scalar pgmq function returns.
pub(crate) async fn one<R: FromQueryResult, C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<R, Error> {
    fetch_one(conn, stmt).await?.ok_or_else(|| {
        Error::from_database(
            None,
            "pgmq returned no row",
            sea_orm::DbErr::RecordNotFound("pgmq returned no row".to_owned()),
        )
    })
}

pub(crate) async fn exec<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<(), Error> {
    match conn.execute(&stmt).await {
        Ok(_) => Ok(()),
        Err(e) => Err(db_error(conn, e).await),
    }
}

/// Runs a [`query`] statement that returns messages and decodes them into `T` and `H`,
/// each on its own (see [`Messages`]). The payload and headers are selected as text
/// (`message::text`; the server renders jsonb as text either way) and parsed once,
/// straight into `T`, with no `Value` tree.
pub(crate) async fn messages<
    T: DeserializeOwned,
    H: DeserializeOwned,
    C: ConnectionTrait + ?Sized,
>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Messages<T, H>, Error> {
    Ok(Messages::decode(raw_json_messages(conn, stmt).await?))
}

/// Runs a [`query`] statement that returns messages, payload and headers as JSON text
/// left undecoded (see [`messages`]).
pub(crate) async fn raw_json_messages<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Vec<RawJsonMessage>, Error> {
    // The query module selects the two jsonb columns as text.
    let rows = match conn.query_all(&stmt).await {
        Ok(rows) => rows,
        Err(e) => return Err(db_error(conn, e).await),
    };
    rows.iter()
        .map(|r| text_message(r).map_err(into_pgmq_error))
        .collect()
}

/// A row of the columns [`raw_json_messages`] selects, in their order (read by position
/// rather than looked up by name on every row), as a message still in JSON text.
fn text_message(r: &QueryResult) -> Result<RawJsonMessage, DbErr> {
    let text = |s: String| RawJson::from_text(s.into_bytes());
    Ok(RawJsonMessage {
        msg_id: r.try_get_by_index(0)?,
        read_ct: r.try_get_by_index(1)?,
        enqueued_at: r.try_get_by_index(2)?,
        last_read_at: r.try_get_by_index(3)?,
        vt: r.try_get_by_index(4)?,
        message: r
            .try_get_by_index::<Option<String>>(5)?
            .map_or_else(RawJson::sql_null, text),
        headers: r.try_get_by_index::<Option<String>>(6)?.map(text),
    })
}

pub(crate) async fn one_id<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<i64, Error> {
    Ok(one::<MsgIdRow, _>(conn, stmt).await?.msg_id)
}

/// The ids a statement that selects only them returns (`send_batch`, `delete`/`archive`
/// of many), read by position rather than looked up by column name on every row.
pub(crate) async fn ids<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Vec<i64>, Error> {
    let rows = match conn.query_all(&stmt).await {
        Ok(rows) => rows,
        Err(e) => return Err(db_error(conn, e).await),
    };
    rows.iter()
        .map(|r| r.try_get_by_index::<i64>(0).map_err(into_pgmq_error))
        .collect()
}

pub(crate) async fn flag<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<bool, Error> {
    Ok(fetch_one::<BoolRow, _>(conn, stmt)
        .await?
        .is_some_and(|r| r.ok))
}

pub(crate) fn encode_opt_headers<H: Serialize + ?Sized>(
    headers: Option<&H>,
) -> Result<Option<serde_json::Value>, Error> {
    headers.map(encode_headers).transpose()
}

/// `pgmq.send` of one message, serialized straight to text (no `Value` tree).
pub(crate) fn send_stmt<T: Serialize + ?Sized, H: Serialize + ?Sized>(
    q: &QueueName,
    msg: &T,
    headers: Option<&H>,
    delay: Delay,
) -> Result<SelectStatement, Error> {
    let (msg, headers) = encode_send_json(q, msg, headers)?;
    Ok(query::select_scalar(
        functions::send_encoded(q, msg, headers, delay),
        "msg_id",
    ))
}

/// `pgmq.send_batch` with headers and delay, or `None` for an empty batch (nothing to send).
pub(crate) fn send_batch_stmt<T: Serialize, H: Serialize>(
    q: &QueueName,
    msgs: &[T],
    headers: Option<&[H]>,
    delay: Delay,
) -> Result<Option<SelectStatement>, Error> {
    if msgs.is_empty() {
        return Ok(None);
    }
    // Serialized straight to text (no `Value` tree per message).
    let (msgs, headers) = encode_send_batch_json(q, msgs, headers)?;
    Ok(Some(query::select_scalar(
        functions::send_batch_encoded(q, msgs, headers, delay),
        "msg_id",
    )))
}

/// Runs an optional batch statement: no statement, no ids.
pub(crate) async fn batch_ids<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: Option<SelectStatement>,
) -> Result<Vec<i64>, Error> {
    match stmt {
        Some(stmt) => ids(conn, stmt).await,
        None => Ok(Vec::new()),
    }
}

pub(crate) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Validates the queue name and builds the statement on it, before any future exists:
/// a bad name fails without SQL, and no argument is held across an `.await`.
fn on(
    q: impl IntoQueueName,
    build: impl FnOnce(&QueueName) -> SelectStatement,
) -> Result<SelectStatement, Error> {
    Ok(build(&q.into_queue_name()?))
}

/// Like [`on`] for builders that can fail (payload encoding).
fn try_on<S>(
    q: impl IntoQueueName,
    build: impl FnOnce(&QueueName) -> Result<S, Error>,
) -> Result<S, Error> {
    build(&q.into_queue_name()?)
}

fn raw(sql: &str) -> Statement {
    Statement::from_string(DbBackend::Postgres, sql.to_owned())
}

/// The installed pgmq version: the extension's, else the highest the SQL installer
/// recorded; `None` when pgmq is not installed.
pub(crate) async fn installed_version<C: ConnectionTrait + ?Sized>(
    conn: &C,
) -> Result<Option<PgmqVersion>, Error> {
    let ext = conn
        .query_one_raw(raw(sql::EXTENSION_VERSION))
        .await
        .map_err(into_pgmq_error)?;
    if let Some(row) = ext {
        let v: String = row.try_get_by_index(0).map_err(into_pgmq_error)?;
        return match PgmqVersion::installed(Some(&v), [""; 0]) {
            Some(v) => Ok(Some(v)),
            None => Err(Error::InvalidArgument(format!("not a pgmq version: {v:?}"))),
        };
    }
    let has_sql = conn
        .query_one_raw(raw(&format!(
            "SELECT ({}) AS present",
            sql::HAS_SQL_INSTALL
        )))
        .await
        .map_err(into_pgmq_error)?
        .map(|r| r.try_get_by_index::<bool>(0))
        .transpose()
        .map_err(into_pgmq_error)?;
    if has_sql != Some(true) {
        return Ok(None);
    }
    let rows = conn
        .query_all_raw(raw(sql::SQL_INSTALL_VERSIONS))
        .await
        .map_err(into_pgmq_error)?;
    let versions = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok());
    Ok(PgmqVersion::installed(None, versions))
}

/// pgmq's operations on any SeaORM connection: a `DatabaseConnection`, a
/// `DatabaseTransaction` (so a message commits or rolls back with your other writes), or
/// anything else implementing [`ConnectionTrait`].
///
/// The method names, arguments and results are those of diesel-pgmq's
/// `PgmqConnectionExt` and `PgmqAsyncConnectionExt` (there on `&mut` connections).
/// Queue arguments take any [`IntoQueueName`]; an invalid name fails
/// with [`Error::InvalidQueueName`] before any SQL runs. Database errors are classified
/// by [`crate::into_pgmq_error`]. Each method is one statement, one round trip; an empty
/// batch of messages sends nothing and makes none.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::TransactionTrait;
/// use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, VisibilityTimeout};
///
/// conn.create_queue("orders").await?;
/// let txn = conn.begin().await?;
/// let id = txn.send("orders", &serde_json::json!({"order_id": 7})).await?;
/// txn.commit().await?;
///
/// let msgs = conn
///     .read::<serde_json::Value>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE)
///     .await?;
/// assert_eq!(msgs[0].msg_id, id);
/// assert!(conn.delete("orders", id).await?);
/// # Ok(())
/// # }
/// ```
pub trait PgmqConnectionExt: ConnectionTrait {
    /// `pgmq.create`: creates the queue and its archive (idempotent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// assert_eq!(conn.list_queues().await?[0].queue_name, "orders");
    /// # Ok(())
    /// # }
    /// ```
    fn create_queue(&self, q: impl IntoQueueName)
    -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.create_unlogged`: an unlogged queue, faster but emptied by a crash.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_unlogged_queue("events").await?;
    /// assert!(conn.list_queues().await?[0].is_unlogged);
    /// # Ok(())
    /// # }
    /// ```
    fn create_unlogged_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.create_partitioned` with pgmq's default `premake`; needs the pg_partman
    /// extension in the database. Intervals are msg_id counts (`"10000"`) or time spans
    /// (`"1 day"`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// # if !db.optional_extension("pg_partman", "sea_orm_pgmq::PgmqConnectionExt::create_partitioned_queue") { return Ok(()); }
    /// conn.create_partitioned_queue("big", "10000", "100000").await?;
    /// assert!(conn.list_queues().await?[0].is_partitioned);
    /// # Ok(())
    /// # }
    /// ```
    fn create_partitioned_queue(
        &self,
        q: impl IntoQueueName,
        partition_interval: &str,
        retention_interval: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.drop_queue`: drops the queue and its archive; `true` if it existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// assert!(conn.drop_queue("orders").await?);
    /// # Ok(())
    /// # }
    /// ```
    fn drop_queue(&self, q: impl IntoQueueName)
    -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.purge_queue`: deletes every message; how many there were.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.purge_queue("orders").await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn purge_queue(&self, q: impl IntoQueueName)
    -> impl Future<Output = Result<i64, Error>> + Send;

    /// `pgmq.list_queues`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// assert_eq!(conn.list_queues().await?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    fn list_queues(&self) -> impl Future<Output = Result<Vec<QueueInfo>, Error>> + Send;

    /// `pgmq.metrics`: one queue's counters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.metrics("orders").await?.queue_length, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn metrics(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<QueueMetrics, Error>> + Send;

    /// `pgmq.metrics_all`: every queue's counters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// assert_eq!(conn.metrics_all().await?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    fn metrics_all(&self) -> impl Future<Output = Result<Vec<QueueMetrics>, Error>> + Send;

    /// `pgmq.send`: serializes `msg` to JSON; its msg_id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &serde_json::json!({"order_id": 1})).await?;
    /// assert_eq!(id, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn send<T: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// `pgmq.send` with optional headers (a JSON object) and a delay in seconds or until a
    /// timestamp: every `pgmq.send` overload.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let headers = serde_json::json!({"x-pgmq-group": "customer-7"});
    /// conn.send_with("orders", &1, Some(&headers), Delay::Seconds(60)).await?;
    /// let visible = conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
    /// assert!(visible.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    fn send_with<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// `pgmq.send_batch`: one statement, one msg_id per message, in order. An empty slice
    /// sends nothing and returns no ids.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// assert_eq!(conn.send_batch("orders", &[1, 2, 3]).await?, vec![1, 2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    fn send_batch<T: Serialize>(
        &self,
        q: impl IntoQueueName,
        msgs: &[T],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.send_batch` with optional per-message headers and a delay: every
    /// `pgmq.send_batch` overload. `headers`, when given, must hold one entry per message
    /// ([`Error::InvalidArgument`] otherwise, before any SQL runs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let at = chrono::Utc::now() + chrono::Duration::minutes(5);
    /// let ids = conn
    ///     .send_batch_with::<_, serde_json::Value>("orders", &[1, 2], None, Delay::Until(at))
    ///     .await?;
    /// assert_eq!(ids.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn send_batch_with<T: Serialize, H: Serialize>(
        &self,
        q: impl IntoQueueName,
        msgs: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.read`: up to `qty` visible messages, hidden from other readers for `vt`.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.send("orders", &7).await?;
    /// let msgs = conn.read::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
    /// assert_eq!(msgs[0].message, 7);
    /// # Ok(())
    /// # }
    /// ```
    fn read<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read` with a filter: only messages whose payload contains `conditional`
    /// (jsonb `@>`).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("jobs").await?;
    /// conn.send("jobs", &serde_json::json!({"kind": "sms"})).await?;
    /// conn.send("jobs", &serde_json::json!({"kind": "email"})).await?;
    /// let filter = serde_json::json!({"kind": "email"});
    /// let msgs = conn
    ///     .read_conditional::<serde_json::Value, _>("jobs", VisibilityTimeout::Seconds(30), BatchSize::ONE, &filter)
    ///     .await?;
    /// assert_eq!(msgs[0].message["kind"], "email");
    /// # Ok(())
    /// # }
    /// ```
    fn read_conditional<T: DeserializeOwned, F: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        conditional: &F,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_with_poll`: waits in the server up to `poll`'s max wait for messages;
    /// empty on timeout.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let poll = PollOptions::new(std::time::Duration::from_millis(100), std::time::Duration::from_millis(10));
    /// let msgs = conn
    ///     .read_with_poll::<i32>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll)
    ///     .await?;
    /// assert!(msgs.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    fn read_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_with_poll` with a payload filter (see [`Self::read_conditional`]).
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("jobs").await?;
    /// conn.send("jobs", &serde_json::json!({"kind": "email"})).await?;
    /// let poll = PollOptions::new(std::time::Duration::from_millis(100), std::time::Duration::from_millis(10));
    /// let filter = serde_json::json!({"kind": "email"});
    /// let msgs = conn
    ///     .read_with_poll_conditional::<serde_json::Value, _>("jobs", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll, &filter)
    ///     .await?;
    /// assert_eq!(msgs.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    fn read_with_poll_conditional<T: DeserializeOwned, F: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
        conditional: &F,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.pop`: reads and deletes up to `qty` messages in one step.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others. pop deletes as it reads, so such a message is handed back
    /// whole in [`Messages::undecodable`](crate::Batch::undecodable) (msg_id and exact
    /// JSON text): its only copy. Archive or re-send it from there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// assert_eq!(conn.pop::<i32>("orders", BatchSize::ONE).await?[0].message, 1);
    /// assert_eq!(conn.metrics("orders").await?.queue_length, 0);
    /// # Ok(())
    /// # }
    /// ```
    fn pop<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.set_vt`: moves one message's visibility timeout; the updated message, or
    /// `None` if there is no such message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// let m = conn.set_vt::<i32>("orders", id, VisibilityTimeout::Seconds(60)).await?;
    /// assert_eq!(m.map(|m| m.msg_id), Some(id));
    /// # Ok(())
    /// # }
    /// ```
    fn set_vt<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Option<Message<T>>, Error>> + Send;

    /// `pgmq.set_vt` for many messages; the ones that exist, updated.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let ids = conn.send_batch("orders", &[1, 2]).await?;
    /// let moved = conn.set_vt_batch::<i32>("orders", &ids, VisibilityTimeout::Seconds(60)).await?;
    /// assert_eq!(moved.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn set_vt_batch<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.delete`: `true` if the message existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// assert!(conn.delete("orders", id).await?);
    /// assert!(!conn.delete("orders", id).await?);
    /// # Ok(())
    /// # }
    /// ```
    fn delete(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.delete` for many ids: the ids actually deleted.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let ids = conn.send_batch("orders", &[1, 2]).await?;
    /// assert_eq!(conn.delete_batch("orders", &ids).await?.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn delete_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.archive`: moves the message to the archive (`pgmq.a_<name>`); `true` if it
    /// existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// assert!(conn.archive("orders", id).await?);
    /// # Ok(())
    /// # }
    /// ```
    fn archive(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.archive` for many ids: the ids actually archived.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let ids = conn.send_batch("orders", &[1, 2]).await?;
    /// assert_eq!(conn.archive_batch("orders", &ids).await?.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn archive_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.read_grouped`: FIFO within message groups (the `x-pgmq-group` header): fills
    /// the batch from the oldest group first, and never returns a message while an older one
    /// of its group is invisible.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     let headers = serde_json::json!({"x-pgmq-group": group});
    ///     conn.send_with("tasks", &n, Some(&headers), Delay::Seconds(0)).await?;
    /// }
    /// let got = conn.read_grouped::<i32>("tasks", VisibilityTimeout::Seconds(30), BatchSize::new(2)?).await?;
    /// assert_eq!(got.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    fn read_grouped<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_grouped_rr`: grouped FIFO, taking round-robin across groups.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     let headers = serde_json::json!({"x-pgmq-group": group});
    ///     conn.send_with("tasks", &n, Some(&headers), Delay::Seconds(0)).await?;
    /// }
    /// let got = conn.read_grouped_rr::<i32>("tasks", VisibilityTimeout::Seconds(30), BatchSize::new(2)?).await?;
    /// assert_eq!(got.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 3]);
    /// # Ok(())
    /// # }
    /// ```
    fn read_grouped_rr<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_grouped_head`: at most one message per group, each group's oldest, and
    /// only while it is visible.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     let headers = serde_json::json!({"x-pgmq-group": group});
    ///     conn.send_with("tasks", &n, Some(&headers), Delay::Seconds(0)).await?;
    /// }
    /// let got = conn.read_grouped_head::<i32>("tasks", VisibilityTimeout::Seconds(30), BatchSize::new(10)?).await?;
    /// assert_eq!(got.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 3]);
    /// # Ok(())
    /// # }
    /// ```
    fn read_grouped_head<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_grouped_with_poll`: [`Self::read_grouped`], waiting for messages.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     let headers = serde_json::json!({"x-pgmq-group": group});
    ///     conn.send_with("tasks", &n, Some(&headers), Delay::Seconds(0)).await?;
    /// }
    /// let poll = PollOptions::new(std::time::Duration::from_millis(100), std::time::Duration::from_millis(10));
    /// let got = conn.read_grouped_with_poll::<i32>("tasks", VisibilityTimeout::Seconds(30), BatchSize::ONE, poll).await?;
    /// assert_eq!(got[0].message, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn read_grouped_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_grouped_rr_with_poll`: [`Self::read_grouped_rr`], waiting for messages.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     let headers = serde_json::json!({"x-pgmq-group": group});
    ///     conn.send_with("tasks", &n, Some(&headers), Delay::Seconds(0)).await?;
    /// }
    /// let poll = PollOptions::new(std::time::Duration::from_millis(100), std::time::Duration::from_millis(10));
    /// let got = conn.read_grouped_rr_with_poll::<i32>("tasks", VisibilityTimeout::Seconds(30), BatchSize::new(2)?, poll).await?;
    /// assert_eq!(got.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn read_grouped_rr_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.read_grouped_head_with_poll`: [`Self::read_grouped_head`], waiting for messages.
    ///
    /// Each message is decoded on its own: one that does not decode never fails the call
    /// or hides the others; it is set apart in
    /// [`Messages::undecodable`](crate::Batch::undecodable) with its msg_id and exact JSON
    /// text, and stays in the queue until you delete, archive or dead-letter it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
    ///     let headers = serde_json::json!({"x-pgmq-group": group});
    ///     conn.send_with("tasks", &n, Some(&headers), Delay::Seconds(0)).await?;
    /// }
    /// let poll = PollOptions::new(std::time::Duration::from_millis(100), std::time::Duration::from_millis(10));
    /// let got = conn.read_grouped_head_with_poll::<i32>("tasks", VisibilityTimeout::Seconds(30), BatchSize::new(10)?, poll).await?;
    /// assert_eq!(got.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn read_grouped_head_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send;

    /// `pgmq.create_fifo_index`: an index on the group header that speeds up grouped reads
    /// (idempotent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// conn.create_fifo_index("tasks").await?;
    /// # Ok(())
    /// # }
    /// ```
    fn create_fifo_index(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.create_fifo_indexes_all`: [`Self::create_fifo_index`] on every queue.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("tasks").await?;
    /// conn.create_fifo_indexes_all().await?;
    /// # Ok(())
    /// # }
    /// ```
    fn create_fifo_indexes_all(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.enable_notify_insert`: a `NOTIFY` on channel `pgmq.q_<name>.INSERT` for each
    /// insert, at most once per `throttle` (whole milliseconds).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.enable_notify_insert("orders", std::time::Duration::from_millis(250)).await?;
    /// assert_eq!(conn.list_notify_insert_throttles().await?[0].throttle_interval_ms, 250);
    /// # Ok(())
    /// # }
    /// ```
    fn enable_notify_insert(
        &self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.update_notify_insert`: changes the throttle of an enabled notification.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.enable_notify_insert("orders", std::time::Duration::from_millis(250)).await?;
    /// conn.update_notify_insert("orders", std::time::Duration::from_secs(1)).await?;
    /// assert_eq!(conn.list_notify_insert_throttles().await?[0].throttle_interval_ms, 1000);
    /// # Ok(())
    /// # }
    /// ```
    fn update_notify_insert(
        &self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.disable_notify_insert`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.enable_notify_insert("orders", std::time::Duration::ZERO).await?;
    /// conn.disable_notify_insert("orders").await?;
    /// assert!(conn.list_notify_insert_throttles().await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    fn disable_notify_insert(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.list_notify_insert_throttles`: the queues with insert notifications.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// assert!(conn.list_notify_insert_throttles().await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    fn list_notify_insert_throttles(
        &self,
    ) -> impl Future<Output = Result<Vec<NotifyThrottle>, Error>> + Send;

    /// `pgmq.bind_topic`: routes keys matching `pattern` (`*` one word, `#` any number) to
    /// `q` (idempotent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert_eq!(conn.send_topic::<_, serde_json::Value>("orders.paid", &1, None, Delay::Seconds(0)).await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn bind_topic(
        &self,
        pattern: &str,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.unbind_topic`: `true` if the binding existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert!(conn.unbind_topic("orders.*", "orders").await?);
    /// assert!(!conn.unbind_topic("orders.*", "orders").await?);
    /// # Ok(())
    /// # }
    /// ```
    fn unbind_topic(
        &self,
        pattern: &str,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.send_topic`: sends to every queue bound to a matching pattern; how many got it.
    /// pgmq takes the delay in seconds, so [`Delay::Until`] is rounded up to whole seconds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.create_queue("audit").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// conn.bind_topic("#", "audit").await?;
    /// assert_eq!(conn.send_topic::<_, serde_json::Value>("orders.paid", &1, None, Delay::Seconds(0)).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    fn send_topic<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        routing_key: &str,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i32, Error>> + Send;

    /// `pgmq.send_batch_topic`: every message to every matching queue; which queue got which
    /// msg_id. `headers`, when given, must hold one entry per message. An empty slice sends
    /// nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// let sent = conn
    ///     .send_batch_topic::<_, serde_json::Value>("orders.paid", &[1, 2], None, Delay::Seconds(0))
    ///     .await?;
    /// assert_eq!(sent.len(), 2);
    /// assert_eq!(sent[0].queue_name, "orders");
    /// # Ok(())
    /// # }
    /// ```
    fn send_batch_topic<T: Serialize, H: Serialize>(
        &self,
        routing_key: &str,
        msgs: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> impl Future<Output = Result<Vec<TopicMessageId>, Error>> + Send;

    /// `pgmq.list_topic_bindings()`: every binding.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.#", "orders").await?;
    /// assert_eq!(conn.list_topic_bindings().await?[0].pattern, "orders.#");
    /// # Ok(())
    /// # }
    /// ```
    fn list_topic_bindings(&self) -> impl Future<Output = Result<Vec<TopicBinding>, Error>> + Send;

    /// `pgmq.list_topic_bindings(queue_name)`: one queue's bindings.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.create_queue("audit").await?;
    /// conn.bind_topic("orders.#", "orders").await?;
    /// conn.bind_topic("#", "audit").await?;
    /// assert_eq!(conn.list_topic_bindings_for("audit").await?[0].pattern, "#");
    /// # Ok(())
    /// # }
    /// ```
    fn list_topic_bindings_for(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<Vec<TopicBinding>, Error>> + Send;

    /// `pgmq.test_routing`: the bindings a routing key would match, without sending.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.bind_topic("orders.*", "orders").await?;
    /// assert_eq!(conn.test_routing("orders.paid").await?[0].queue_name, "orders");
    /// assert!(conn.test_routing("users.created").await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    fn test_routing(
        &self,
        routing_key: &str,
    ) -> impl Future<Output = Result<Vec<RoutingMatch>, Error>> + Send;

    /// The installed pgmq version (the extension's, else the highest the SQL install
    /// recorded): [`Error::PgmqMissing`] when pgmq is absent, [`Error::PgmqTooOld`] below
    /// [`MIN_PGMQ_VERSION`](crate::MIN_PGMQ_VERSION).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// assert!(conn.pgmq_version().await? >= MIN_PGMQ_VERSION);
    /// # Ok(())
    /// # }
    /// ```
    fn pgmq_version(&self) -> impl Future<Output = Result<PgmqVersion, Error>> + Send;

    /// The queue's [`QueueHealth`] in one statement: depth, visible depth, oldest
    /// message age, dead tuples, table and index size, last vacuum, and for a partitioned
    /// queue the length of pg_partman's default partition.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// conn.send("orders", &1).await?;
    /// let health = conn.queue_health("orders").await?;
    /// assert_eq!((health.depth, health.visible_depth), (1, 1));
    /// # Ok(())
    /// # }
    /// ```
    fn queue_health(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<QueueHealth, Error>> + Send;

    /// Archive retention: deletes the queue's archived messages archived more than `age`
    /// ago, `batch` at a time (each batch one statement, oldest first, skipping rows
    /// another session holds), until none is left; returns how many it deleted.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm_pgmq::*;
    /// conn.create_queue("orders").await?;
    /// let id = conn.send("orders", &1).await?;
    /// conn.archive("orders", id).await?;
    /// let n = conn.delete_archived_older_than("orders", std::time::Duration::ZERO, BatchSize::new(100)?).await?;
    /// assert_eq!(n, 1);
    /// # Ok(())
    /// # }
    /// ```
    fn delete_archived_older_than(
        &self,
        q: impl IntoQueueName,
        age: Duration,
        batch: BatchSize,
    ) -> impl Future<Output = Result<i64, Error>> + Send;
}

impl<C: ConnectionTrait + ?Sized> PgmqConnectionExt for C {
    fn create_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, query::create);
        async move { exec(self, stmt?).await }
    }

    fn create_unlogged_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, query::create_unlogged);
        async move { exec(self, stmt?).await }
    }

    fn create_partitioned_queue(
        &self,
        q: impl IntoQueueName,
        partition_interval: &str,
        retention_interval: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, |q| {
            query::create_partitioned(q, partition_interval, retention_interval)
        });
        async move { exec(self, stmt?).await }
    }

    fn drop_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let stmt = on(q, query::drop_queue);
        async move { flag(self, stmt?).await }
    }

    fn purge_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let stmt = on(q, query::purge_queue);
        async move { Ok(one::<CountRow, _>(self, stmt?).await?.count) }
    }

    async fn list_queues(&self) -> Result<Vec<QueueInfo>, Error> {
        rows::<QueueInfoRow, _, _>(self, query::list_queues()).await
    }

    fn metrics(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<QueueMetrics, Error>> + Send {
        let stmt = on(q, query::metrics);
        async move { Ok(one::<MetricsRow, _>(self, stmt?).await?.into()) }
    }

    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>, Error> {
        rows::<MetricsRow, _, _>(self, query::metrics_all()).await
    }

    fn send<T: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let stmt = try_on(q, |q| send_stmt(q, msg, None::<&()>, Delay::Seconds(0)));
        async move { one_id(self, stmt?).await }
    }

    fn send_with<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let stmt = try_on(q, |q| send_stmt(q, msg, headers, delay));
        async move { one_id(self, stmt?).await }
    }

    fn send_batch<T: Serialize>(
        &self,
        q: impl IntoQueueName,
        msgs: &[T],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = try_on(q, |q| {
            send_batch_stmt::<T, serde_json::Value>(q, msgs, None, Delay::Seconds(0))
        });
        async move { batch_ids(self, stmt?).await }
    }

    fn send_batch_with<T: Serialize, H: Serialize>(
        &self,
        q: impl IntoQueueName,
        msgs: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = try_on(q, |q| send_batch_stmt(q, msgs, headers, delay));
        async move { batch_ids(self, stmt?).await }
    }

    fn read<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read(q, vt, qty));
        async move { messages(self, stmt?).await }
    }

    fn read_conditional<T: DeserializeOwned, F: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        conditional: &F,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = try_on(q, |q| {
            Ok(query::read_conditional(
                q,
                vt,
                qty,
                encode_message(conditional)?,
            ))
        });
        async move { messages(self, stmt?).await }
    }

    fn read_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_with_poll(q, vt, qty, poll));
        async move { messages(self, stmt?).await }
    }

    fn read_with_poll_conditional<T: DeserializeOwned, F: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
        conditional: &F,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = try_on(q, |q| {
            Ok(query::read_with_poll_conditional(
                q,
                vt,
                qty,
                poll,
                encode_message(conditional)?,
            ))
        });
        async move { messages(self, stmt?).await }
    }

    fn pop<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::pop(q, qty));
        async move { messages(self, stmt?).await }
    }

    fn set_vt<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Option<Message<T>>, Error>> + Send {
        let stmt = on(q, |q| query::set_vt(q, msg_id, vt));
        async move { Ok(messages(self, stmt?).await?.into_iter().next()) }
    }

    fn set_vt_batch<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::set_vt_batch(q, msg_ids, vt));
        async move { messages(self, stmt?).await }
    }

    fn delete(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let stmt = on(q, |q| query::delete(q, msg_id));
        async move { flag(self, stmt?).await }
    }

    fn delete_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = on(q, |q| query::delete_batch(q, msg_ids));
        async move { ids(self, stmt?).await }
    }

    fn archive(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let stmt = on(q, |q| query::archive(q, msg_id));
        async move { flag(self, stmt?).await }
    }

    fn archive_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = on(q, |q| query::archive_batch(q, msg_ids));
        async move { ids(self, stmt?).await }
    }

    fn read_grouped<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_grouped(q, vt, qty));
        async move { messages(self, stmt?).await }
    }

    fn read_grouped_rr<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_grouped_rr(q, vt, qty));
        async move { messages(self, stmt?).await }
    }

    fn read_grouped_head<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_grouped_head(q, vt, qty));
        async move { messages(self, stmt?).await }
    }

    fn read_grouped_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_grouped_with_poll(q, vt, qty, poll));
        async move { messages(self, stmt?).await }
    }

    fn read_grouped_rr_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_grouped_rr_with_poll(q, vt, qty, poll));
        async move { messages(self, stmt?).await }
    }

    fn read_grouped_head_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Messages<T>, Error>> + Send {
        let stmt = on(q, |q| query::read_grouped_head_with_poll(q, vt, qty, poll));
        async move { messages(self, stmt?).await }
    }

    fn create_fifo_index(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, query::create_fifo_index);
        async move { exec(self, stmt?).await }
    }

    async fn create_fifo_indexes_all(&self) -> Result<(), Error> {
        exec(self, query::create_fifo_indexes_all()).await
    }

    fn enable_notify_insert(
        &self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, |q| query::enable_notify_insert(q, millis(throttle)));
        async move { exec(self, stmt?).await }
    }

    fn update_notify_insert(
        &self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, |q| query::update_notify_insert(q, millis(throttle)));
        async move { exec(self, stmt?).await }
    }

    fn disable_notify_insert(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, query::disable_notify_insert);
        async move { exec(self, stmt?).await }
    }

    async fn list_notify_insert_throttles(&self) -> Result<Vec<NotifyThrottle>, Error> {
        rows::<NotifyThrottleRow, _, _>(self, query::list_notify_insert_throttles()).await
    }

    fn bind_topic(
        &self,
        pattern: &str,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = on(q, |q| query::bind_topic(pattern, q));
        async move { exec(self, stmt?).await }
    }

    fn unbind_topic(
        &self,
        pattern: &str,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let stmt = on(q, |q| query::unbind_topic(pattern, q));
        async move { flag(self, stmt?).await }
    }

    fn send_topic<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        routing_key: &str,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i32, Error>> + Send {
        let stmt = encode_message(msg).and_then(|m| {
            let headers = encode_opt_headers(headers)?;
            Ok(query::send_topic(routing_key, m, headers, delay))
        });
        async move { Ok(one::<TopicCountRow, _>(self, stmt?).await?.count) }
    }

    fn send_batch_topic<T: Serialize, H: Serialize>(
        &self,
        routing_key: &str,
        msgs: &[T],
        headers: Option<&[H]>,
        delay: Delay,
    ) -> impl Future<Output = Result<Vec<TopicMessageId>, Error>> + Send {
        let stmt = (!msgs.is_empty())
            .then(|| {
                let (msgs, headers) = encode_batch(msgs, headers)?;
                Ok::<_, Error>(query::send_batch_topic(routing_key, msgs, headers, delay))
            })
            .transpose();
        async move {
            match stmt? {
                Some(stmt) => rows::<TopicMessageIdRow, _, _>(self, stmt).await,
                None => Ok(Vec::new()),
            }
        }
    }

    async fn list_topic_bindings(&self) -> Result<Vec<TopicBinding>, Error> {
        rows::<TopicBindingRow, _, _>(self, query::list_topic_bindings(None)).await
    }

    fn list_topic_bindings_for(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<Vec<TopicBinding>, Error>> + Send {
        let stmt = on(q, |q| query::list_topic_bindings(Some(q)));
        async move { rows::<TopicBindingRow, _, _>(self, stmt?).await }
    }

    fn test_routing(
        &self,
        routing_key: &str,
    ) -> impl Future<Output = Result<Vec<RoutingMatch>, Error>> + Send {
        let stmt = query::test_routing(routing_key);
        async move { rows::<RoutingMatchRow, _, _>(self, stmt).await }
    }

    async fn pgmq_version(&self) -> Result<PgmqVersion, Error> {
        installed_version(self)
            .await?
            .ok_or(Error::PgmqMissing { source: None })?
            .check()
    }
    fn queue_health(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<QueueHealth, Error>> + Send {
        let binds = name_of(q).map(|q| health_binds(&q));
        async move {
            let values: Vec<sea_orm::Value> = binds?.into_iter().map(Into::into).collect();
            let stmt = Statement::from_sql_and_values(
                DbBackend::Postgres,
                health_sql::QUEUE_HEALTH,
                values,
            );
            let row = self
                .query_one_raw(stmt)
                .await
                .map_err(into_pgmq_error)?
                .ok_or_else(|| Error::InvalidArgument("queue_health returned no row".into()))?;
            let json: String = row.try_get_by_index(0).map_err(into_pgmq_error)?;
            QueueHealth::from_json(&json)
        }
    }

    fn delete_archived_older_than(
        &self,
        q: impl IntoQueueName,
        age: Duration,
        batch: BatchSize,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let sql = name_of(q).map(|q| archive_retention_sql(&q));
        async move {
            let sql = sql?;
            let mut total = 0;
            loop {
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql.clone(),
                    [age.as_secs_f64().into(), i64::from(batch.get()).into()],
                );
                let deleted = self
                    .execute_raw(stmt)
                    .await
                    .map_err(into_pgmq_error)?
                    .rows_affected();
                total += i64::try_from(deleted).unwrap_or(i64::MAX);
                if deleted < u64::try_from(batch.get()).unwrap_or(u64::MAX) {
                    return Ok(total);
                }
            }
        }
    }
}

fn name_of(q: impl IntoQueueName) -> Result<QueueName, Error> {
    Ok(q.into_queue_name()?)
}
