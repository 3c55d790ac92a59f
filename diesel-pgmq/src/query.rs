//! Statements named after pgmq's functions, ready to run with Diesel's `RunQueryDsl`
//! (sync) or diesel-async's (async): one definition for both.
//!
//! Every statement selects pgmq's result columns **by name**
//! (`SELECT msg_id, read_ct, ... FROM pgmq.read($1, $2, $3)`) into a local row type
//! ([`MessageRow`], [`MetricsRow`], ...) that converts into the core's types, so pgmq's
//! column order never matters. Every value, queue names included, is a bound parameter;
//! the SQL text of each overload is fixed, so Diesel caches its prepared statement.
//!
//! ```
//! # #[cfg(feature = "sync")] {
//! use diesel::prelude::*;
//! use diesel_pgmq::{query, QueueName, VisibilityTimeout, BatchSize};
//! # let db = pgmq_harness::TestDb::new();
//! # let mut conn = PgConnection::establish(db.url())?;
//! let q = QueueName::new("jobs")?;
//! query::create(&q).execute(&mut conn)?;
//! let id: i64 = query::send(&q, &serde_json::json!({"n": 1}))?.get_result(&mut conn)?;
//! let rows: Vec<query::MessageRow> =
//!     query::read(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE).load(&mut conn)?;
//! let msg = rows.into_iter().next().unwrap().decode::<serde_json::Value>()?;
//! assert_eq!(msg.msg_id, id);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::marker::PhantomData;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, BigInt, Bool, Integer, Jsonb as JsonbSql, Nullable, Text, Timestamptz, Untyped,
};
use diesel::{QueryResult, Queryable, deserialize};
use pgmq_orm_core::{
    __int_seconds, BatchSize, Delay, Error, Message, Messages, NotifyThrottle, PollOptions,
    QueueInfo, QueueMetrics, QueueName, RawJson, RawJsonMessage, RoutingMatch, TopicBinding,
    TopicMessageId, VisibilityTimeout, encode_batch_json, encode_headers_json, encode_message_json,
    encode_send_batch_json, encode_send_json, sql,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::jsonb::{self, Jsonb};

/// A value bound to a `?` of a [`Statement`]'s SQL text.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i32),
    BigInt(i64),
    BigInts(Vec<i64>),
    Json(Jsonb),
    OptJson(Option<Jsonb>),
    Jsons(Vec<Jsonb>),
    OptJsons(Option<Vec<Jsonb>>),
    Time(DateTime<Utc>),
}

/// One pgmq call: fixed SQL text plus its bound values. `ST` is the SQL type of a row,
/// so Diesel knows what [`Queryable`] types it loads into.
///
/// Run it like any Diesel query (`.execute`, `.load`, `.get_result`, `.get_results`),
/// on `PgConnection` or any diesel-async connection.
///
/// ```
/// use diesel_pgmq::{query, QueueName};
/// let stmt = query::purge_queue(&QueueName::from_static("jobs"));
/// assert!(format!("{stmt:?}").contains("pgmq.purge_queue"));
/// ```
#[must_use = "a statement does nothing until it is executed"]
pub struct Statement<ST> {
    sql: &'static str,
    binds: Vec<Bind>,
    row: PhantomData<fn() -> ST>,
}

impl<ST> std::fmt::Debug for Statement<ST> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("sql", &self.sql)
            .field("binds", &self.binds)
            .finish()
    }
}

impl<ST> Clone for Statement<ST> {
    fn clone(&self) -> Self {
        Self::new(self.sql, self.binds.clone())
    }
}

impl<ST> Statement<ST> {
    fn new(sql: &'static str, binds: Vec<Bind>) -> Self {
        Self {
            sql,
            binds,
            row: PhantomData,
        }
    }

    /// The SQL text, with `?` where values are bound.
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName};
    /// let q = QueueName::from_static("jobs");
    /// assert_eq!(query::pop(&q, diesel_pgmq::BatchSize::ONE).sql(),
    ///     "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM pgmq.pop(?, ?)");
    /// ```
    pub fn sql(&self) -> &'static str {
        self.sql
    }
}

impl<ST> QueryId for Statement<ST> {
    type QueryId = ();
    // The text varies per overload, so there is no static id; Diesel still caches the
    // prepared statement keyed by its (fixed) SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: 'static> Query for Statement<ST>
where
    ST: diesel::sql_types::SqlType,
{
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for Statement<ST> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        walk_with_binds(self.sql, &self.binds, out)
    }
}

/// Writes `sql`, binding the next of `binds` at each `?`.
fn walk_with_binds<'b>(
    sql: &'static str,
    binds: &'b [Bind],
    mut out: AstPass<'_, 'b, Pg>,
) -> QueryResult<()> {
    let mut binds = binds.iter();
    let mut parts = sql.split('?');
    if let Some(first) = parts.next() {
        out.push_sql(first);
    }
    for part in parts {
        match binds.next().expect("one bind per placeholder") {
            Bind::Text(v) => out.push_bind_param::<Text, _>(v)?,
            Bind::Int(v) => out.push_bind_param::<Integer, _>(v)?,
            Bind::BigInt(v) => out.push_bind_param::<BigInt, _>(v)?,
            Bind::BigInts(v) => out.push_bind_param::<Array<BigInt>, _>(v)?,
            Bind::Json(v) => out.push_bind_param::<JsonbSql, _>(v)?,
            Bind::OptJson(v) => out.push_bind_param::<Nullable<JsonbSql>, _>(v)?,
            Bind::Jsons(v) => out.push_bind_param::<Array<JsonbSql>, _>(v)?,
            Bind::OptJsons(v) => out.push_bind_param::<Nullable<Array<JsonbSql>>, _>(v)?,
            Bind::Time(v) => out.push_bind_param::<Timestamptz, _>(v)?,
        }
        out.push_sql(part);
    }
    Ok(())
}

/// The function call a row-returning [`Statement`] selects from (`pgmq.read(?, ?, ?)`),
/// with its binds: what [`crate::sources`] puts in a `FROM` clause, so each source
/// reuses the statement's SQL text and argument handling instead of a copy of them.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    sql: &'static str,
    binds: Vec<Bind>,
}

impl Call {
    pub(crate) fn walk<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        walk_with_binds(self.sql, &self.binds, out)
    }
}

impl<ST> Statement<ST> {
    /// The call after `FROM`, without the row alias (`sql::ROW_ALIAS`) some statements give it.
    pub(crate) fn into_call(self) -> Call {
        let (_, call) = self
            .sql
            .split_once(" FROM ")
            .expect("row-returning statements select FROM a pgmq function");
        let call = call
            .strip_suffix(sql::ROW_ALIAS)
            .and_then(|c| c.strip_suffix(" AS "))
            .unwrap_or(call);
        Call {
            sql: call,
            binds: self.binds,
        }
    }
}

#[cfg(feature = "sync")]
impl<ST, C> diesel::RunQueryDsl<C> for Statement<ST> {}

/// A `pgmq.message_record` row selected by column name.
pub type MessageSql = (
    BigInt,
    Integer,
    Timestamptz,
    Nullable<Timestamptz>,
    Timestamptz,
    Nullable<JsonbSql>,
    Nullable<JsonbSql>,
);
/// A `pgmq.metrics_result` row selected by column name.
pub type MetricsSql = (
    Text,
    BigInt,
    Nullable<Integer>,
    Nullable<Integer>,
    BigInt,
    Timestamptz,
    BigInt,
    Nullable<BigInt>,
);
/// A `pgmq.queue_record` row selected by column name.
pub type QueueInfoSql = (Text, Bool, Bool, Timestamptz);
/// A `pgmq.list_topic_bindings()` row selected by column name.
pub type TopicBindingSql = (Text, Text, Timestamptz, Text);
/// A `pgmq.test_routing()` row selected by column name.
pub type RoutingMatchSql = (Text, Text, Text);
/// A `pgmq.send_batch_topic()` row selected by column name.
pub type TopicMessageIdSql = (Text, BigInt);
/// A `pgmq.list_notify_insert_throttles()` row selected by column name.
pub type NotifyThrottleSql = (Text, Integer, Timestamptz);

/// Declares a local row type mirroring a core type field for field (the orphan rule
/// keeps Diesel's traits off the core's types), with the conversion into it.
macro_rules! row_type {
    ($(#[$doc:meta])* $row:ident => $core:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Queryable)]
        pub struct $row {
            $(#[doc = concat!("`", stringify!($field), "`")] pub $field: $ty,)*
        }
        impl From<$row> for $core {
            fn from(r: $row) -> Self {
                Self { $($field: r.$field),* }
            }
        }
    };
}

row_type! {
    /// Metrics as loaded from [`MetricsSql`]; converts into [`QueueMetrics`].
    ///
    /// ```
    /// # use diesel_pgmq::{query::MetricsRow, QueueMetrics};
    /// fn convert(row: MetricsRow) -> QueueMetrics { row.into() }
    /// ```
    MetricsRow => QueueMetrics {
        queue_name: String, queue_length: i64, newest_msg_age_sec: Option<i32>,
        oldest_msg_age_sec: Option<i32>, total_messages: i64, scrape_time: DateTime<Utc>,
        queue_visible_length: i64, default_partition_length: Option<i64>,
    }
}
row_type! {
    /// A queue as loaded from [`QueueInfoSql`]; converts into [`QueueInfo`].
    ///
    /// ```
    /// # use diesel_pgmq::{query::QueueInfoRow, QueueInfo};
    /// fn convert(row: QueueInfoRow) -> QueueInfo { row.into() }
    /// ```
    QueueInfoRow => QueueInfo {
        queue_name: String, is_partitioned: bool, is_unlogged: bool, created_at: DateTime<Utc>,
    }
}
row_type! {
    /// A binding as loaded from [`TopicBindingSql`]; converts into [`TopicBinding`].
    ///
    /// ```
    /// # use diesel_pgmq::{query::TopicBindingRow, TopicBinding};
    /// fn convert(row: TopicBindingRow) -> TopicBinding { row.into() }
    /// ```
    TopicBindingRow => TopicBinding {
        pattern: String, queue_name: String, bound_at: DateTime<Utc>, compiled_regex: String,
    }
}
row_type! {
    /// A match as loaded from [`RoutingMatchSql`]; converts into [`RoutingMatch`].
    ///
    /// ```
    /// # use diesel_pgmq::{query::RoutingMatchRow, RoutingMatch};
    /// fn convert(row: RoutingMatchRow) -> RoutingMatch { row.into() }
    /// ```
    RoutingMatchRow => RoutingMatch { pattern: String, queue_name: String, compiled_regex: String }
}
row_type! {
    /// An id as loaded from [`TopicMessageIdSql`]; converts into [`TopicMessageId`].
    ///
    /// ```
    /// # use diesel_pgmq::{query::TopicMessageIdRow, TopicMessageId};
    /// fn convert(row: TopicMessageIdRow) -> TopicMessageId { row.into() }
    /// ```
    TopicMessageIdRow => TopicMessageId { queue_name: String, msg_id: i64 }
}
row_type! {
    /// A throttle as loaded from [`NotifyThrottleSql`]; converts into [`NotifyThrottle`].
    ///
    /// ```
    /// # use diesel_pgmq::{query::NotifyThrottleRow, NotifyThrottle};
    /// fn convert(row: NotifyThrottleRow) -> NotifyThrottle { row.into() }
    /// ```
    NotifyThrottleRow => NotifyThrottle {
        queue_name: String, throttle_interval_ms: i32, last_notified_at: DateTime<Utc>,
    }
}

/// A message as loaded from [`MessageSql`], its payload and headers still the exact JSON
/// text pgmq returned; [`MessageRow::decode`] types it, each row on its own, and
/// [`decode_rows`] types a whole result into a [`Messages`] batch.
///
/// Loading never parses JSON, so no payload can fail a load: not another producer's
/// shape, not a SQL `NULL` payload ([`RawJson::sql_null`]), not a number beyond `f64`.
///
/// ```
/// # use diesel_pgmq::query::MessageRow;
/// fn id(row: &MessageRow) -> i64 { row.msg_id }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// `msg_id`
    pub msg_id: i64,
    /// `read_ct`
    pub read_ct: i32,
    /// `enqueued_at`
    pub enqueued_at: DateTime<Utc>,
    /// `last_read_at`
    pub last_read_at: Option<DateTime<Utc>>,
    /// `vt`
    pub vt: DateTime<Utc>,
    /// `message`, as JSON text ([`RawJson::sql_null`] for a SQL `NULL`).
    pub message: RawJson,
    /// `headers`, as JSON text.
    pub headers: Option<RawJson>,
}

impl Queryable<MessageSql, Pg> for MessageRow {
    type Row = (
        i64,
        i32,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        Option<Jsonb>,
        Option<Jsonb>,
    );

    fn build(row: Self::Row) -> deserialize::Result<Self> {
        let (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers) = row;
        Ok(Self {
            msg_id,
            read_ct,
            enqueued_at,
            last_read_at,
            vt,
            message: message.map_or_else(RawJson::sql_null, |m| m.0),
            headers: headers.map(|h| h.0),
        })
    }
}

impl From<MessageRow> for RawJsonMessage {
    fn from(r: MessageRow) -> Self {
        Self {
            msg_id: r.msg_id,
            read_ct: r.read_ct,
            enqueued_at: r.enqueued_at,
            last_read_at: r.last_read_at,
            vt: r.vt,
            message: r.message,
            headers: r.headers,
        }
    }
}

impl MessageRow {
    /// Decodes the payload into `T` (headers stay JSON); on failure an
    /// [`Error::Decode`] keeps the id and the exact JSON text, and (after a read) the
    /// message stays queued.
    ///
    /// ```
    /// # use diesel_pgmq::{query::MessageRow, RawJson};
    /// # let row = MessageRow { msg_id: 1, read_ct: 1, enqueued_at: chrono::Utc::now(),
    /// #   last_read_at: None, vt: chrono::Utc::now(), message: RawJson::from_text(b"5".to_vec()), headers: None };
    /// assert_eq!(row.decode::<i32>()?.message, 5);
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn decode<T: DeserializeOwned>(self) -> Result<Message<T>, Error> {
        self.decode_with()
    }

    /// Decodes payload into `T` and headers into `H` (JSON `null` headers are none).
    ///
    /// ```
    /// # use diesel_pgmq::{query::MessageRow, RawJson};
    /// # let row = MessageRow { msg_id: 1, read_ct: 1, enqueued_at: chrono::Utc::now(),
    /// #   last_read_at: None, vt: chrono::Utc::now(), message: RawJson::from_text(b"5".to_vec()),
    /// #   headers: Some(RawJson::from_text(br#"{"k": "v"}"#.to_vec())) };
    /// let m = row.decode_with::<i32, std::collections::HashMap<String, String>>()?;
    /// assert_eq!(m.headers.unwrap()["k"], "v");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn decode_with<T: DeserializeOwned, H: DeserializeOwned>(
        self,
    ) -> Result<Message<T, H>, Error> {
        RawJsonMessage::from(self).decode()
    }
}

/// Decodes loaded rows into a [`Messages`] batch: each row on its own, so one that does
/// not decode is set apart ([`Messages::undecodable`](pgmq_orm_core::Batch::undecodable))
/// and never hides the others. What the extension traits and [`Queue`](crate::Queue) do
/// with every read.
///
/// ```
/// # use diesel_pgmq::{query::{self, MessageRow}, RawJson};
/// # let row = |id, text: &str| MessageRow { msg_id: id, read_ct: 1, enqueued_at: chrono::Utc::now(),
/// #   last_read_at: None, vt: chrono::Utc::now(), message: RawJson::from_text(text.into()), headers: None };
/// let batch = query::decode_rows::<u8, serde_json::Value>(vec![row(1, "1"), row(2, "\"x\"")]);
/// assert_eq!((batch.len(), batch.undecodable()[0].msg_id), (1, 2));
/// # let _ = batch.into_parts();
/// ```
pub fn decode_rows<T: DeserializeOwned, H: DeserializeOwned>(
    rows: Vec<MessageRow>,
) -> Messages<T, H> {
    Messages::decode(rows.into_iter().map(Into::into).collect())
}

const MSG: &str = "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM ";

/// Builds the fixed SQL text `SELECT <message columns> FROM pgmq.<f>(<args>)`.
macro_rules! messages_from {
    ($call:literal) => {
        concat!(
            "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM ",
            $call
        )
    };
}

fn json(text: pgmq_orm_core::RawJson) -> Bind {
    Bind::Json(Jsonb(text))
}

fn text(q: &QueueName) -> Bind {
    Bind::Text(q.as_str().to_owned())
}

fn vt_seconds(vt: VisibilityTimeout) -> Bind {
    match vt {
        VisibilityTimeout::Seconds(s) => Bind::Int(__int_seconds(s)),
        // pgmq's read takes whole seconds; an absolute time is rounded up from now.
        VisibilityTimeout::Until(at) => {
            let secs = ((at - Utc::now()).num_milliseconds().max(0) + 999) / 1000;
            Bind::Int(i32::try_from(secs).unwrap_or(i32::MAX))
        }
    }
}

/// `SELECT pgmq.create($1)`
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::create(&QueueName::from_static("jobs")).sql().contains("pgmq.create("));
/// ```
pub fn create(queue: &QueueName) -> Statement<Untyped> {
    Statement::new("SELECT pgmq.create(?)", vec![text(queue)])
}

/// `SELECT pgmq.create_unlogged($1)`
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::create_unlogged(&QueueName::from_static("jobs")).sql().contains("unlogged"));
/// ```
pub fn create_unlogged(queue: &QueueName) -> Statement<Untyped> {
    Statement::new("SELECT pgmq.create_unlogged(?)", vec![text(queue)])
}

/// `SELECT pgmq.create_partitioned($1, $2, $3)` (needs pg_partman in the database).
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// let s = query::create_partitioned(&QueueName::from_static("jobs"), "10000", "100000");
/// assert!(s.sql().contains("create_partitioned"));
/// ```
pub fn create_partitioned(
    queue: &QueueName,
    partition_interval: &str,
    retention_interval: &str,
) -> Statement<Untyped> {
    Statement::new(
        "SELECT pgmq.create_partitioned(?, ?, ?)",
        vec![
            text(queue),
            Bind::Text(partition_interval.to_owned()),
            Bind::Text(retention_interval.to_owned()),
        ],
    )
}

/// `SELECT pgmq.drop_queue($1)`: whether the queue existed.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::drop_queue(&QueueName::from_static("jobs")).sql().contains("drop_queue"));
/// ```
pub fn drop_queue(queue: &QueueName) -> Statement<Bool> {
    Statement::new("SELECT pgmq.drop_queue(?)", vec![text(queue)])
}

/// `SELECT pgmq.purge_queue($1)`: how many messages were deleted.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::purge_queue(&QueueName::from_static("jobs")).sql().contains("purge"));
/// ```
pub fn purge_queue(queue: &QueueName) -> Statement<BigInt> {
    Statement::new("SELECT pgmq.purge_queue(?)", vec![text(queue)])
}

/// `SELECT pgmq.detach_archive($1)`: deprecated no-op kept for completeness.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::detach_archive(&QueueName::from_static("jobs")).sql().contains("detach"));
/// ```
pub fn detach_archive(queue: &QueueName) -> Statement<Untyped> {
    Statement::new("SELECT pgmq.detach_archive(?)", vec![text(queue)])
}

/// `pgmq.list_queues()` as [`QueueInfoRow`]s.
///
/// ```
/// assert!(diesel_pgmq::query::list_queues().sql().contains("list_queues()"));
/// ```
pub fn list_queues() -> Statement<QueueInfoSql> {
    Statement::new(
        "SELECT queue_name, is_partitioned, is_unlogged, created_at FROM pgmq.list_queues()",
        vec![],
    )
}

/// `SELECT <metrics columns> FROM pgmq.<function> AS m`, with the columns some
/// supported pgmq version lacks selected so that they read as NULL there.
fn metrics_sql(function: &str) -> String {
    format!(
        "SELECT {} FROM {function} AS {}",
        sql::select_list(&sql::columns::METRICS),
        sql::ROW_ALIAS
    )
}

/// `pgmq.metrics($1)` as a [`MetricsRow`]; `default_partition_length` is `None` on pgmq
/// before 1.13, which lacks it.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::metrics(&QueueName::from_static("jobs")).sql().contains("pgmq.metrics(?)"));
/// ```
pub fn metrics(queue: &QueueName) -> Statement<MetricsSql> {
    static SQL: LazyLock<String> = LazyLock::new(|| metrics_sql("pgmq.metrics(?)"));
    Statement::new(SQL.as_str(), vec![text(queue)])
}

/// `pgmq.metrics_all()` as [`MetricsRow`]s; `default_partition_length` is `None` on pgmq
/// before 1.13, which lacks it.
///
/// ```
/// assert!(diesel_pgmq::query::metrics_all().sql().contains("metrics_all()"));
/// ```
pub fn metrics_all() -> Statement<MetricsSql> {
    static SQL: LazyLock<String> = LazyLock::new(|| metrics_sql("pgmq.metrics_all()"));
    Statement::new(SQL.as_str(), vec![])
}

/// `pgmq.send($1, $2)`: the new message's id. Fails only if `payload` does not serialize.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// let s = query::send(&QueueName::from_static("jobs"), &42)?;
/// assert_eq!(s.sql(), "SELECT pgmq.send(?, ?)");
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn send<T: Serialize + ?Sized>(
    queue: &QueueName,
    payload: &T,
) -> Result<Statement<BigInt>, Error> {
    // One path for every send, so the trace context and the sent count are added once.
    send_with::<T, Value>(queue, payload, None, Delay::Seconds(0))
}

/// `pgmq.send` with optional headers and a delay: picks the overload that matches
/// (`delay` in seconds or as a timestamp), so all six overloads are reachable.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, Delay};
/// let q = QueueName::from_static("jobs");
/// let s = query::send_with(&q, &1, Some(&serde_json::json!({"x-pgmq-group": "a"})), Delay::Seconds(5))?;
/// assert_eq!(s.sql(), "SELECT pgmq.send(?, ?, ?, ?::integer)");
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn send_with<T: Serialize + ?Sized, H: Serialize + ?Sized>(
    queue: &QueueName,
    payload: &T,
    headers: Option<&H>,
    delay: Delay,
) -> Result<Statement<BigInt>, Error> {
    let (payload, headers) = encode_send_json(queue, payload, headers)?;
    let mut binds = vec![text(queue), json(payload)];
    let headers = headers.map(Jsonb);
    let sql = match (headers, delay) {
        (None, Delay::Seconds(0)) => "SELECT pgmq.send(?, ?)",
        (None, Delay::Seconds(s)) => {
            binds.push(Bind::Int(__int_seconds(s)));
            "SELECT pgmq.send(?, ?, ?::integer)"
        }
        (None, Delay::Until(at)) => {
            binds.push(Bind::Time(at));
            "SELECT pgmq.send(?, ?, ?::timestamptz)"
        }
        (Some(h), Delay::Seconds(0)) => {
            binds.push(Bind::Json(h));
            "SELECT pgmq.send(?, ?, ?::jsonb)"
        }
        (Some(h), Delay::Seconds(s)) => {
            binds.extend([Bind::Json(h), Bind::Int(__int_seconds(s))]);
            "SELECT pgmq.send(?, ?, ?, ?::integer)"
        }
        (Some(h), Delay::Until(at)) => {
            binds.extend([Bind::Json(h), Bind::Time(at)]);
            "SELECT pgmq.send(?, ?, ?, ?::timestamptz)"
        }
    };
    Ok(Statement::new(sql, binds))
}

/// What an empty batch runs: no rows of the batch's row type, and no pgmq call (Diesel
/// renders an insert of no rows the same way).
const NO_IDS: &str = "SELECT 0::bigint WHERE false";
const NO_TOPIC_IDS: &str = "SELECT ''::text AS queue_name, 0::bigint AS msg_id WHERE false";

/// `pgmq.send_batch($1, $2)`: one id per payload, in order.
///
/// An empty batch builds a statement that returns no rows without calling pgmq (the way
/// Diesel renders an insert of no rows), so it sends nothing.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// let q = QueueName::from_static("jobs");
/// assert_eq!(query::send_batch(&q, &[1, 2, 3])?.sql(), "SELECT pgmq.send_batch(?, ?)");
/// assert!(!query::send_batch::<i32>(&q, &[])?.sql().contains("pgmq."));
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn send_batch<T: Serialize>(
    queue: &QueueName,
    payloads: &[T],
) -> Result<Statement<BigInt>, Error> {
    send_batch_with::<T, Value>(queue, payloads, None, Delay::default())
}

/// `pgmq.send_batch` with optional headers (one per payload) and a delay: all six
/// overloads. Headers that are not one JSON object per payload fail with
/// [`Error::InvalidArgument`]; an empty batch is a statement returning no rows, as in
/// [`send_batch`].
///
/// ```
/// # use diesel_pgmq::{query, QueueName, Delay};
/// let at = chrono::Utc::now();
/// let s = query::send_batch_with::<_, serde_json::Value>(&QueueName::from_static("jobs"), &[1], None, Delay::Until(at))?;
/// assert_eq!(s.sql(), "SELECT pgmq.send_batch(?, ?, ?::timestamptz)");
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn send_batch_with<T: Serialize, H: Serialize>(
    queue: &QueueName,
    payloads: &[T],
    headers: Option<&[H]>,
    delay: Delay,
) -> Result<Statement<BigInt>, Error> {
    if payloads.is_empty() {
        return Ok(Statement::new(NO_IDS, vec![]));
    }
    let (payloads, headers) = encode_send_batch_json(queue, payloads, headers)?;
    let headers = headers.map(jsonb::wrap_all);
    let mut binds = vec![text(queue), Bind::Jsons(jsonb::wrap_all(payloads))];
    let sql = match (headers, delay) {
        (None, Delay::Seconds(0)) => "SELECT pgmq.send_batch(?, ?)",
        (None, Delay::Seconds(s)) => {
            binds.push(Bind::Int(__int_seconds(s)));
            "SELECT pgmq.send_batch(?, ?, ?::integer)"
        }
        (None, Delay::Until(at)) => {
            binds.push(Bind::Time(at));
            "SELECT pgmq.send_batch(?, ?, ?::timestamptz)"
        }
        (Some(h), Delay::Seconds(0)) => {
            binds.push(Bind::Jsons(h));
            "SELECT pgmq.send_batch(?, ?, ?::jsonb[])"
        }
        (Some(h), Delay::Seconds(s)) => {
            binds.extend([Bind::Jsons(h), Bind::Int(__int_seconds(s))]);
            "SELECT pgmq.send_batch(?, ?, ?, ?::integer)"
        }
        (Some(h), Delay::Until(at)) => {
            binds.extend([Bind::Jsons(h), Bind::Time(at)]);
            "SELECT pgmq.send_batch(?, ?, ?, ?::timestamptz)"
        }
    };
    Ok(Statement::new(sql, binds))
}

/// `pgmq.read($1, $2, $3)` as [`MessageRow`]s.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, BatchSize};
/// let s = query::read(&QueueName::from_static("jobs"), 30.into(), BatchSize::new(10)?);
/// assert!(s.sql().ends_with("pgmq.read(?, ?, ?)"));
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn read(queue: &QueueName, vt: VisibilityTimeout, qty: BatchSize) -> Statement<MessageSql> {
    Statement::new(
        messages_from!("pgmq.read(?, ?, ?)"),
        vec![text(queue), vt_seconds(vt), Bind::Int(qty.get())],
    )
}

/// `pgmq.read($1, $2, $3, conditional)`: only messages whose payload contains
/// `conditional` (JSONB `@>`).
///
/// ```
/// # use diesel_pgmq::{query, QueueName, BatchSize};
/// let s = query::read_conditional(&QueueName::from_static("jobs"), 30.into(), BatchSize::ONE,
///     &serde_json::json!({"kind": "a"}))?;
/// assert!(s.sql().ends_with("pgmq.read(?, ?, ?, ?)"));
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn read_conditional<C: Serialize + ?Sized>(
    queue: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    conditional: &C,
) -> Result<Statement<MessageSql>, Error> {
    Ok(Statement::new(
        messages_from!("pgmq.read(?, ?, ?, ?)"),
        vec![
            text(queue),
            vt_seconds(vt),
            Bind::Int(qty.get()),
            json(encode_message_json(conditional)?),
        ],
    ))
}

fn poll_binds(
    queue: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
) -> Vec<Bind> {
    vec![
        text(queue),
        vt_seconds(vt),
        Bind::Int(qty.get()),
        Bind::Int(poll.max_poll_seconds()),
        Bind::Int(poll.poll_interval_ms()),
    ]
}

/// `pgmq.read_with_poll(...)`: waits up to `poll.max_wait` for messages, server side.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, BatchSize, PollOptions};
/// let s = query::read_with_poll(&QueueName::from_static("jobs"), 30.into(), BatchSize::ONE,
///     PollOptions::default());
/// assert!(s.sql().ends_with("pgmq.read_with_poll(?, ?, ?, ?, ?)"));
/// ```
pub fn read_with_poll(
    queue: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
) -> Statement<MessageSql> {
    Statement::new(
        messages_from!("pgmq.read_with_poll(?, ?, ?, ?, ?)"),
        poll_binds(queue, vt, qty, poll),
    )
}

/// `pgmq.read_with_poll(..., conditional)`.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, BatchSize, PollOptions};
/// let s = query::read_with_poll_conditional(&QueueName::from_static("jobs"), 30.into(),
///     BatchSize::ONE, PollOptions::default(), &serde_json::json!({}))?;
/// assert!(s.sql().ends_with("(?, ?, ?, ?, ?, ?)"));
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn read_with_poll_conditional<C: Serialize + ?Sized>(
    queue: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
    conditional: &C,
) -> Result<Statement<MessageSql>, Error> {
    let mut binds = poll_binds(queue, vt, qty, poll);
    binds.push(json(encode_message_json(conditional)?));
    Ok(Statement::new(
        messages_from!("pgmq.read_with_poll(?, ?, ?, ?, ?, ?)"),
        binds,
    ))
}

/// Declares the FIFO read statements, which all share `(queue, vt, qty)` or the polling
/// arguments.
macro_rules! grouped_reads {
    ($($(#[$doc:meta])* $name:ident => $call:literal;)*) => {$(
        $(#[$doc])*
        pub fn $name(queue: &QueueName, vt: VisibilityTimeout, qty: BatchSize) -> Statement<MessageSql> {
            Statement::new(messages_from!($call), vec![text(queue), vt_seconds(vt), Bind::Int(qty.get())])
        }
    )*};
    (poll $($(#[$doc:meta])* $name:ident => $call:literal;)*) => {$(
        $(#[$doc])*
        pub fn $name(queue: &QueueName, vt: VisibilityTimeout, qty: BatchSize, poll: PollOptions) -> Statement<MessageSql> {
            Statement::new(messages_from!($call), poll_binds(queue, vt, qty, poll))
        }
    )*};
}

grouped_reads! {
    /// `pgmq.read_grouped(...)`: FIFO within each `x-pgmq-group`, filling the batch from
    /// the oldest group first.
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName, BatchSize};
    /// let s = query::read_grouped(&QueueName::from_static("jobs"), 30.into(), BatchSize::ONE);
    /// assert!(s.sql().ends_with("pgmq.read_grouped(?, ?, ?)"));
    /// ```
    read_grouped => "pgmq.read_grouped(?, ?, ?)";
    /// `pgmq.read_grouped_rr(...)`: FIFO within groups, round-robin across groups.
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName, BatchSize};
    /// let s = query::read_grouped_rr(&QueueName::from_static("jobs"), 30.into(), BatchSize::ONE);
    /// assert!(s.sql().ends_with("pgmq.read_grouped_rr(?, ?, ?)"));
    /// ```
    read_grouped_rr => "pgmq.read_grouped_rr(?, ?, ?)";
    /// `pgmq.read_grouped_head(...)`: at most the head message of each group.
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName, BatchSize};
    /// let s = query::read_grouped_head(&QueueName::from_static("jobs"), 30.into(), BatchSize::ONE);
    /// assert!(s.sql().ends_with("pgmq.read_grouped_head(?, ?, ?)"));
    /// ```
    read_grouped_head => "pgmq.read_grouped_head(?, ?, ?)";
}

grouped_reads! { poll
    /// `pgmq.read_grouped_with_poll(...)`
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName, BatchSize, PollOptions};
    /// let s = query::read_grouped_with_poll(&QueueName::from_static("jobs"), 30.into(),
    ///     BatchSize::ONE, PollOptions::default());
    /// assert!(s.sql().contains("read_grouped_with_poll"));
    /// ```
    read_grouped_with_poll => "pgmq.read_grouped_with_poll(?, ?, ?, ?, ?)";
    /// `pgmq.read_grouped_rr_with_poll(...)`
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName, BatchSize, PollOptions};
    /// let s = query::read_grouped_rr_with_poll(&QueueName::from_static("jobs"), 30.into(),
    ///     BatchSize::ONE, PollOptions::default());
    /// assert!(s.sql().contains("read_grouped_rr_with_poll"));
    /// ```
    read_grouped_rr_with_poll => "pgmq.read_grouped_rr_with_poll(?, ?, ?, ?, ?)";
    /// `pgmq.read_grouped_head_with_poll(...)`
    ///
    /// ```
    /// # use diesel_pgmq::{query, QueueName, BatchSize, PollOptions};
    /// let s = query::read_grouped_head_with_poll(&QueueName::from_static("jobs"), 30.into(),
    ///     BatchSize::ONE, PollOptions::default());
    /// assert!(s.sql().contains("read_grouped_head_with_poll"));
    /// ```
    read_grouped_head_with_poll => "pgmq.read_grouped_head_with_poll(?, ?, ?, ?, ?)";
}

/// `pgmq.pop($1, $2)`: read and delete in one step.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, BatchSize};
/// assert!(query::pop(&QueueName::from_static("jobs"), BatchSize::ONE).sql().contains("pgmq.pop"));
/// ```
pub fn pop(queue: &QueueName, qty: BatchSize) -> Statement<MessageSql> {
    Statement::new(
        messages_from!("pgmq.pop(?, ?)"),
        vec![text(queue), Bind::Int(qty.get())],
    )
}

fn vt_bind(vt: VisibilityTimeout) -> (Bind, bool) {
    match vt {
        VisibilityTimeout::Seconds(s) => (Bind::Int(__int_seconds(s)), false),
        VisibilityTimeout::Until(at) => (Bind::Time(at), true),
    }
}

/// `pgmq.set_vt($1, msg_id, vt)` (seconds or timestamp overload): the updated message,
/// none if it is gone.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, VisibilityTimeout};
/// let s = query::set_vt(&QueueName::from_static("jobs"), 7, VisibilityTimeout::Seconds(60));
/// assert!(s.sql().ends_with("pgmq.set_vt(?, ?::bigint, ?::integer)"));
/// ```
pub fn set_vt(queue: &QueueName, msg_id: i64, vt: VisibilityTimeout) -> Statement<MessageSql> {
    let (vt, at) = vt_bind(vt);
    let sql = if at {
        messages_from!("pgmq.set_vt(?, ?::bigint, ?::timestamptz)")
    } else {
        messages_from!("pgmq.set_vt(?, ?::bigint, ?::integer)")
    };
    Statement::new(sql, vec![text(queue), Bind::BigInt(msg_id), vt])
}

/// `pgmq.set_vt($1, msg_ids, vt)` (seconds or timestamp overload): the updated messages.
///
/// ```
/// # use diesel_pgmq::{query, QueueName, VisibilityTimeout};
/// let s = query::set_vt_batch(&QueueName::from_static("jobs"), &[1, 2], VisibilityTimeout::Seconds(0));
/// assert!(s.sql().ends_with("pgmq.set_vt(?, ?::bigint[], ?::integer)"));
/// ```
pub fn set_vt_batch(
    queue: &QueueName,
    msg_ids: &[i64],
    vt: VisibilityTimeout,
) -> Statement<MessageSql> {
    let (vt, at) = vt_bind(vt);
    let sql = if at {
        messages_from!("pgmq.set_vt(?, ?::bigint[], ?::timestamptz)")
    } else {
        messages_from!("pgmq.set_vt(?, ?::bigint[], ?::integer)")
    };
    Statement::new(sql, vec![text(queue), Bind::BigInts(msg_ids.to_vec()), vt])
}

/// `pgmq.delete($1, msg_id)`: whether the message was there.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::delete(&QueueName::from_static("jobs"), 1).sql().contains("pgmq.delete"));
/// ```
pub fn delete(queue: &QueueName, msg_id: i64) -> Statement<Bool> {
    Statement::new(
        "SELECT pgmq.delete(?, ?::bigint)",
        vec![text(queue), Bind::BigInt(msg_id)],
    )
}

/// `pgmq.delete($1, msg_ids)`: the ids that were deleted.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::delete_batch(&QueueName::from_static("jobs"), &[1]).sql().contains("bigint[]"));
/// ```
pub fn delete_batch(queue: &QueueName, msg_ids: &[i64]) -> Statement<BigInt> {
    Statement::new(
        "SELECT pgmq.delete(?, ?::bigint[])",
        vec![text(queue), Bind::BigInts(msg_ids.to_vec())],
    )
}

/// `pgmq.archive($1, msg_id)`: whether the message was moved to the archive.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::archive(&QueueName::from_static("jobs"), 1).sql().contains("pgmq.archive"));
/// ```
pub fn archive(queue: &QueueName, msg_id: i64) -> Statement<Bool> {
    Statement::new(
        "SELECT pgmq.archive(?, ?::bigint)",
        vec![text(queue), Bind::BigInt(msg_id)],
    )
}

/// `pgmq.archive($1, msg_ids)`: the ids archived.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::archive_batch(&QueueName::from_static("jobs"), &[1]).sql().contains("bigint[]"));
/// ```
pub fn archive_batch(queue: &QueueName, msg_ids: &[i64]) -> Statement<BigInt> {
    Statement::new(
        "SELECT pgmq.archive(?, ?::bigint[])",
        vec![text(queue), Bind::BigInts(msg_ids.to_vec())],
    )
}

/// `pgmq.create_fifo_index($1)`: a GIN index on headers for the grouped reads.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::create_fifo_index(&QueueName::from_static("jobs")).sql().contains("fifo"));
/// ```
pub fn create_fifo_index(queue: &QueueName) -> Statement<Untyped> {
    Statement::new("SELECT pgmq.create_fifo_index(?)", vec![text(queue)])
}

/// `pgmq.create_fifo_indexes_all()`: [`create_fifo_index`] on every existing queue.
///
/// ```
/// assert_eq!(diesel_pgmq::query::create_fifo_indexes_all().sql(), "SELECT pgmq.create_fifo_indexes_all()");
/// ```
pub fn create_fifo_indexes_all() -> Statement<Untyped> {
    Statement::new("SELECT pgmq.create_fifo_indexes_all()", vec![])
}

fn throttle_ms(throttle: Duration) -> Bind {
    Bind::Int(i32::try_from(throttle.as_millis()).unwrap_or(i32::MAX))
}

/// `pgmq.enable_notify_insert($1, throttle_ms)`: `NOTIFY` on insert, at most once per
/// `throttle`.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// let s = query::enable_notify_insert(&QueueName::from_static("jobs"), std::time::Duration::from_millis(250));
/// assert!(s.sql().contains("enable_notify_insert"));
/// ```
pub fn enable_notify_insert(queue: &QueueName, throttle: Duration) -> Statement<Untyped> {
    Statement::new(
        "SELECT pgmq.enable_notify_insert(?, ?)",
        vec![text(queue), throttle_ms(throttle)],
    )
}

/// `pgmq.update_notify_insert($1, throttle_ms)`
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// let s = query::update_notify_insert(&QueueName::from_static("jobs"), std::time::Duration::ZERO);
/// assert!(s.sql().contains("update_notify_insert"));
/// ```
pub fn update_notify_insert(queue: &QueueName, throttle: Duration) -> Statement<Untyped> {
    Statement::new(
        "SELECT pgmq.update_notify_insert(?, ?)",
        vec![text(queue), throttle_ms(throttle)],
    )
}

/// `pgmq.disable_notify_insert($1)`
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::disable_notify_insert(&QueueName::from_static("jobs")).sql().contains("disable"));
/// ```
pub fn disable_notify_insert(queue: &QueueName) -> Statement<Untyped> {
    Statement::new("SELECT pgmq.disable_notify_insert(?)", vec![text(queue)])
}

/// `pgmq.list_notify_insert_throttles()` as [`NotifyThrottleRow`]s.
///
/// ```
/// assert!(diesel_pgmq::query::list_notify_insert_throttles().sql().contains("throttles()"));
/// ```
pub fn list_notify_insert_throttles() -> Statement<NotifyThrottleSql> {
    Statement::new(
        "SELECT queue_name, throttle_interval_ms, last_notified_at FROM pgmq.list_notify_insert_throttles()",
        vec![],
    )
}

/// `pgmq.bind_topic(pattern, $queue)`: route keys matching `pattern` to the queue.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::bind_topic("orders.*", &QueueName::from_static("jobs")).sql().contains("bind_topic"));
/// ```
pub fn bind_topic(pattern: &str, queue: &QueueName) -> Statement<Untyped> {
    Statement::new(
        "SELECT pgmq.bind_topic(?, ?)",
        vec![Bind::Text(pattern.to_owned()), text(queue)],
    )
}

/// `pgmq.unbind_topic(pattern, $queue)`: whether a binding was removed.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::unbind_topic("orders.*", &QueueName::from_static("jobs")).sql().contains("unbind"));
/// ```
pub fn unbind_topic(pattern: &str, queue: &QueueName) -> Statement<Bool> {
    Statement::new(
        "SELECT pgmq.unbind_topic(?, ?)",
        vec![Bind::Text(pattern.to_owned()), text(queue)],
    )
}

/// `pgmq.send_topic(routing_key, msg, headers, delay)`: how many queues got the message.
/// pgmq's topic sends take the delay in seconds; a timestamp is rounded up from now.
///
/// ```
/// # use diesel_pgmq::{query, Delay};
/// let s = query::send_topic::<_, serde_json::Value>("orders.created", &1, None, Delay::default())?;
/// assert_eq!(s.sql(), "SELECT pgmq.send_topic(?, ?, ?, ?)");
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn send_topic<T: Serialize + ?Sized, H: Serialize + ?Sized>(
    routing_key: &str,
    payload: &T,
    headers: Option<&H>,
    delay: Delay,
) -> Result<Statement<Integer>, Error> {
    Ok(Statement::new(
        "SELECT pgmq.send_topic(?, ?, ?, ?)",
        vec![
            Bind::Text(routing_key.to_owned()),
            json(encode_message_json(payload)?),
            Bind::OptJson(headers.map(encode_headers_json).transpose()?.map(Jsonb)),
            delay_seconds(delay),
        ],
    ))
}

fn delay_seconds(delay: Delay) -> Bind {
    match delay {
        Delay::Seconds(s) => Bind::Int(__int_seconds(s)),
        Delay::Until(at) => vt_seconds(VisibilityTimeout::Until(at)),
    }
}

/// `pgmq.send_batch_topic(routing_key, msgs, headers, delay)`: one row per queue and
/// message. An empty batch returns no rows without calling pgmq, as in [`send_batch`].
///
/// ```
/// # use diesel_pgmq::{query, Delay};
/// let s = query::send_batch_topic::<_, serde_json::Value>("orders.created", &[1, 2], None, Delay::default())?;
/// assert!(s.sql().contains("send_batch_topic(?, ?, ?, ?)"));
/// # Ok::<(), diesel_pgmq::Error>(())
/// ```
pub fn send_batch_topic<T: Serialize, H: Serialize>(
    routing_key: &str,
    payloads: &[T],
    headers: Option<&[H]>,
    delay: Delay,
) -> Result<Statement<TopicMessageIdSql>, Error> {
    if payloads.is_empty() {
        return Ok(Statement::new(NO_TOPIC_IDS, vec![]));
    }
    let (payloads, headers) = encode_batch_json(payloads, headers)?;
    let at = match delay {
        Delay::Until(at) => at,
        Delay::Seconds(s) => Utc::now() + chrono::Duration::seconds(i64::from(s)),
    };
    // One fixed text: NULL headers are a typed NULL jsonb[], which pgmq treats as none.
    let sql = "SELECT queue_name, msg_id FROM pgmq.send_batch_topic(?, ?, ?, ?)";
    let headers = Bind::OptJsons(headers.map(jsonb::wrap_all));
    Ok(Statement::new(
        sql,
        vec![
            Bind::Text(routing_key.to_owned()),
            Bind::Jsons(jsonb::wrap_all(payloads)),
            headers,
            Bind::Time(at),
        ],
    ))
}

/// `pgmq.list_topic_bindings()` as [`TopicBindingRow`]s.
///
/// ```
/// assert!(diesel_pgmq::query::list_topic_bindings().sql().contains("list_topic_bindings()"));
/// ```
pub fn list_topic_bindings() -> Statement<TopicBindingSql> {
    Statement::new(
        "SELECT pattern, queue_name, bound_at, compiled_regex FROM pgmq.list_topic_bindings()",
        vec![],
    )
}

/// `pgmq.list_topic_bindings($queue)`: the bindings of one queue.
///
/// ```
/// # use diesel_pgmq::{query, QueueName};
/// assert!(query::list_topic_bindings_for(&QueueName::from_static("jobs")).sql().contains("(?)"));
/// ```
pub fn list_topic_bindings_for(queue: &QueueName) -> Statement<TopicBindingSql> {
    Statement::new(
        "SELECT pattern, queue_name, bound_at, compiled_regex FROM pgmq.list_topic_bindings(?)",
        vec![text(queue)],
    )
}

/// `pgmq.test_routing(routing_key)`: which bindings a key would reach.
///
/// ```
/// assert!(diesel_pgmq::query::test_routing("orders.created").sql().contains("test_routing"));
/// ```
pub fn test_routing(routing_key: &str) -> Statement<RoutingMatchSql> {
    Statement::new(
        "SELECT pattern, queue_name, compiled_regex FROM pgmq.test_routing(?)",
        vec![Bind::Text(routing_key.to_owned())],
    )
}

#[allow(dead_code)]
const _MSG_PREFIX_MATCHES_MACRO: () = assert!(MSG.len() == messages_from!("").len());
