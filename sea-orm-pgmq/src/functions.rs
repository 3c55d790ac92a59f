//! Every pgmq function as a sea-query [`FunctionCall`], with all its arguments bound.
//!
//! Each builder returns the call expression only (`pgmq.send($1, $2, $3, $4)`), so it
//! composes into any statement you build: a select list, a `FROM` clause, a CTE. The
//! [`crate::query`] module wraps them into ready-made `SELECT`s that name their columns.
//!
//! Values are bound, never spliced: JSON binds as `jsonb`, `Vec<Value>` as `jsonb[]`,
//! message ids as `bigint` / `bigint[]`, delays and visibility timeouts as `integer` or
//! `timestamptz` (which picks pgmq's overload).
//!
//! Every argument of the message functions is an [`Arg`]: a plain value as above, or any
//! sea-query expression (a column, a function of columns, a subquery), so one statement
//! sends a message per row of your table (to a queue, or to a topic whose routing key is
//! a column) or archives every queued message that matches a filter. Queue names stay
//! [`QueueName`]s (a constant works: `const EVENTS: QueueName = ..`), validated before
//! any SQL, so no unchecked name reaches pgmq from a column; the administrative
//! arguments of `create_partitioned` / `convert_archive_partitioned` are plain values.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = pgmq_harness::TestDb::new();
//! # let conn = sea_orm::Database::connect(db.url()).await?;
//! use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, PostgresQueryBuilder, Query};
//! use sea_orm::{ConnectionTrait, EntityName};
//! use sea_orm_pgmq::{functions, PgmqConnectionExt, QueueName};
//!
//! sea_orm_pgmq::pgmq_entities! {
//!     /// Order events.
//!     pub mod order_events { queue: "q_order_events", archive: "a_order_events" }
//! }
//! use order_events::queue::{Column, Entity};
//!
//! const EVENTS: QueueName = order_events::QUEUE;
//! conn.create_queue(&EVENTS).await?;
//! conn.execute_unprepared("CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL)").await?;
//! conn.execute_unprepared("INSERT INTO orders VALUES (1, 'pending'), (2, 'done'), (3, 'pending')").await?;
//!
//! // One message per pending order, its payload the order id as JSON.
//! let to_jsonb = Func::cust("to_jsonb").arg(Expr::col((Alias::new("orders"), Alias::new("id"))));
//! let per_row = Query::select()
//!     .expr(functions::send(&EVENTS, to_jsonb))
//!     .from(Alias::new("orders"))
//!     .and_where(Expr::col(Alias::new("status")).eq("pending"))
//!     .to_owned();
//! assert_eq!(
//!     per_row.to_string(PostgresQueryBuilder),
//!     r#"SELECT pgmq.send('order_events', to_jsonb("orders"."id")) FROM "orders" WHERE "status" = 'pending'"#,
//! );
//! assert_eq!(conn.execute(&per_row).await?.rows_affected(), 2);
//!
//! // Archive every queued message whose payload is 3: one statement over the queue entity.
//! let by_filter = Query::select()
//!     .expr(functions::archive(&EVENTS, Expr::col((Entity, Column::MsgId))))
//!     .from(Entity.table_ref())
//!     .and_where(Expr::col((Entity, Column::Message)).eq(Expr::cust("'3'::jsonb")))
//!     .to_owned();
//! assert_eq!(conn.execute(&by_filter).await?.rows_affected(), 1);
//! assert_eq!(conn.metrics(&EVENTS).await?.queue_length, 1);
//! # Ok(())
//! # }
//! ```
//!
//! ```
//! use sea_orm::sea_query::{PostgresQueryBuilder, Query};
//! use sea_orm_pgmq::{functions, QueueName};
//!
//! let q = QueueName::from_static("orders");
//! let (sql, values) = Query::select()
//!     .expr(functions::send(&q, serde_json::json!({"id": 1})))
//!     .build(PostgresQueryBuilder);
//! assert_eq!(sql, "SELECT pgmq.send($1, $2)");
//! assert_eq!(values.0.len(), 2);
//! ```

use chrono::{DateTime, Utc};
use pgmq_orm_core::sql::function as f;
use pgmq_orm_core::{__int_seconds, Delay, PollOptions, QueueName, RawJson, VisibilityTimeout};
use sea_orm::sea_query::{Alias, ArrayType, Expr, ExprTrait, Func, FunctionCall, Value};
use serde_json::Value as Json;

fn call(name: &'static str) -> FunctionCall {
    Func::cust(name)
}

/// An argument of a pgmq function: a plain value of the kind `K` expects (bound as a
/// parameter, see the [module](self)), or any sea-query expression ([`Expr`],
/// [`FunctionCall`], a [`SelectStatement`](sea_orm::sea_query::SelectStatement) subquery, a [`ColumnRef`](sea_orm::sea_query::ColumnRef)), used as it is.
///
/// ```
/// use sea_orm::sea_query::{Expr, PostgresQueryBuilder, Query};
/// use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("jobs");
/// let bound = functions::delete(&q, 7);
/// let column = functions::delete(&q, Expr::col("msg_id"));
/// let (a, _) = Query::select().expr(bound).build(PostgresQueryBuilder);
/// let (b, _) = Query::select().expr(column).build(PostgresQueryBuilder);
/// assert_eq!((a.as_str(), b.as_str()), ("SELECT pgmq.delete($1, CAST($2 AS bigint))", r#"SELECT pgmq.delete($1, "msg_id")"#));
/// ```
pub trait Arg<K> {
    /// The argument as an expression.
    fn into_arg(self) -> Expr;
}

/// The kinds of [`Arg`]: what a plain value of each binds as.
pub mod kind {
    /// A payload, headers or a filter: `serde_json::Value` binds as `jsonb`.
    #[derive(Debug)]
    pub struct Jsonb;
    /// Optional headers: `Option<serde_json::Value>` binds as `jsonb` or `NULL`.
    #[derive(Debug)]
    pub struct OptJsonb;
    /// Payloads: `Vec<serde_json::Value>` binds as `jsonb[]`.
    #[derive(Debug)]
    pub struct JsonbArray;
    /// Optional per-message headers: `Option<Vec<serde_json::Value>>`.
    #[derive(Debug)]
    pub struct OptJsonbArray;
    /// A message id: `i64` binds as `bigint`.
    #[derive(Debug)]
    pub struct MsgId;
    /// Message ids: `&[i64]` or `Vec<i64>` bind as `bigint[]`.
    #[derive(Debug)]
    pub struct MsgIds;
    /// A count (batch size, throttle interval): `i32` binds as `integer`.
    #[derive(Debug)]
    pub struct Count;
    /// A visibility timeout as whole seconds (`read` and its relatives).
    #[derive(Debug)]
    pub struct VtSeconds;
    /// A visibility timeout picking pgmq's `integer` or `timestamptz` overload (`set_vt`).
    #[derive(Debug)]
    pub struct Vt;
    /// A delay picking pgmq's `integer` or `timestamptz` overload.
    #[derive(Debug)]
    pub struct DelayArg;
    /// A delay as whole seconds (`send_topic`, whose only delay is `integer`).
    #[derive(Debug)]
    pub struct DelaySeconds;
    /// A routing key or topic pattern: `&str` and `String` bind as `text`.
    #[derive(Debug)]
    pub struct Text;
}

impl<K> Arg<K> for Expr {
    fn into_arg(self) -> Expr {
        self
    }
}

impl<K> Arg<K> for FunctionCall {
    fn into_arg(self) -> Expr {
        self.into()
    }
}

impl<K> Arg<K> for sea_orm::sea_query::SelectStatement {
    fn into_arg(self) -> Expr {
        self.into()
    }
}

impl<K> Arg<K> for sea_orm::sea_query::ColumnRef {
    fn into_arg(self) -> Expr {
        self.into()
    }
}

impl Arg<kind::Jsonb> for Json {
    fn into_arg(self) -> Expr {
        jsonb(self)
    }
}

impl Arg<kind::OptJsonb> for Option<Json> {
    fn into_arg(self) -> Expr {
        jsonb_opt(self)
    }
}

impl Arg<kind::JsonbArray> for Vec<Json> {
    fn into_arg(self) -> Expr {
        jsonb_array(self)
    }
}

impl Arg<kind::OptJsonbArray> for Option<Vec<Json>> {
    fn into_arg(self) -> Expr {
        match self {
            Some(h) => jsonb_array(h),
            None => Expr::val(Value::Array(ArrayType::Json, None)),
        }
    }
}

impl Arg<kind::MsgId> for i64 {
    fn into_arg(self) -> Expr {
        bigint(self)
    }
}

impl Arg<kind::MsgIds> for &[i64] {
    fn into_arg(self) -> Expr {
        bigint_array(self)
    }
}

impl Arg<kind::MsgIds> for Vec<i64> {
    fn into_arg(self) -> Expr {
        bigint_array(&self)
    }
}

impl<const N: usize> Arg<kind::MsgIds> for &[i64; N] {
    fn into_arg(self) -> Expr {
        bigint_array(self)
    }
}

impl Arg<kind::Count> for i32 {
    fn into_arg(self) -> Expr {
        int(self)
    }
}

impl Arg<kind::VtSeconds> for VisibilityTimeout {
    fn into_arg(self) -> Expr {
        int(vt_seconds(self))
    }
}

impl Arg<kind::Vt> for VisibilityTimeout {
    fn into_arg(self) -> Expr {
        vt_value(self)
    }
}

impl Arg<kind::DelayArg> for Delay {
    fn into_arg(self) -> Expr {
        delay_value(self)
    }
}

impl Arg<kind::DelaySeconds> for Delay {
    fn into_arg(self) -> Expr {
        int(match self {
            Self::Seconds(s) => __int_seconds(s),
            Self::Until(t) => seconds_until(t),
        })
    }
}

impl Arg<kind::Text> for &str {
    fn into_arg(self) -> Expr {
        text(self)
    }
}

impl Arg<kind::Text> for String {
    fn into_arg(self) -> Expr {
        Expr::val(Value::String(Some(self)))
    }
}

fn int(i: i32) -> Expr {
    Expr::val(Value::Int(Some(i)))
}

// `bigint` and `bigint[]` overloads (delete, archive, set_vt) are cast for the same
// reason as above.
fn bigint(i: i64) -> Expr {
    cast(Expr::val(Value::BigInt(Some(i))), "bigint")
}

fn text(s: &str) -> Expr {
    Expr::val(Value::String(Some(s.to_owned())))
}

fn queue(q: &QueueName) -> Expr {
    text(q.as_str())
}

fn jsonb_value(v: Json) -> Value {
    Value::Json(Some(Box::new(v)))
}

fn jsonb(v: Json) -> Expr {
    Expr::val(jsonb_value(v))
}

fn jsonb_opt(v: Option<Json>) -> Expr {
    Expr::val(Value::Json(v.map(Box::new)))
}

fn jsonb_array(v: Vec<Json>) -> Expr {
    Expr::val(Value::Array(
        ArrayType::Json,
        Some(Box::new(v.into_iter().map(jsonb_value).collect())),
    ))
}

/// Serialized JSON bound as `text` and cast by the server: no `Value` tree on the client.
fn jsonb_text(v: RawJson) -> Expr {
    cast(Expr::val(Value::String(Some(v.into_text()))), "jsonb")
}

/// Serialized JSON bound as `text[]` and cast by the server: no `Value` tree per message
/// on the client (the server parses the text either way).
fn jsonb_text_array(v: Vec<RawJson>) -> Expr {
    let texts = v
        .into_iter()
        .map(|j| Value::String(Some(j.into_text())))
        .collect();
    cast(
        Expr::val(Value::Array(ArrayType::String, Some(Box::new(texts)))),
        "jsonb[]",
    )
}

fn bigint_array(ids: &[i64]) -> Expr {
    let v = Value::Array(
        ArrayType::BigInt,
        Some(Box::new(
            ids.iter().map(|&i| Value::BigInt(Some(i))).collect(),
        )),
    );
    cast(Expr::val(v), "bigint[]")
}

fn timestamptz(t: DateTime<Utc>) -> Expr {
    Expr::val(Value::ChronoDateTimeUtc(Some(t)))
}

/// Whole seconds from now until `t`, rounded up, never negative: for pgmq functions that
/// only take an `integer` number of seconds.
pub(crate) fn seconds_until(t: DateTime<Utc>) -> i32 {
    let ms = Ord::max((t - Utc::now()).num_milliseconds(), 0);
    i32::try_from((ms + 999) / 1000).unwrap_or(i32::MAX)
}

/// A visibility timeout as the `integer` seconds `read` and its relatives take.
pub(crate) fn vt_seconds(vt: VisibilityTimeout) -> i32 {
    match vt {
        VisibilityTimeout::Seconds(s) => __int_seconds(s),
        VisibilityTimeout::Until(t) => seconds_until(t),
    }
}

// The overloads that differ only in one argument's type (`integer` seconds or a
// `timestamptz`) get an explicit cast: it keeps the SQL text of the two forms apart, so
// a driver's prepared-statement cache (keyed by SQL text) never binds a timestamp where
// it prepared an integer.
fn cast(e: Expr, ty: &'static str) -> Expr {
    e.cast_as(Alias::new(ty))
}

fn delay_value(delay: Delay) -> Expr {
    match delay {
        Delay::Seconds(s) => cast(int(__int_seconds(s)), "integer"),
        Delay::Until(t) => cast(timestamptz(t), "timestamptz"),
    }
}

fn vt_value(vt: VisibilityTimeout) -> Expr {
    match vt {
        VisibilityTimeout::Seconds(s) => cast(int(__int_seconds(s)), "integer"),
        VisibilityTimeout::Until(t) => cast(timestamptz(t), "timestamptz"),
    }
}

/// `pgmq.create(queue_name)`: creates the queue and its archive.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::create(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create($1)");
/// ```
pub fn create(q: &QueueName) -> FunctionCall {
    call(f::CREATE).arg(queue(q))
}

/// `pgmq.create_unlogged(queue_name)`: an unlogged queue (fast, lost on crash).
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::create_unlogged(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_unlogged($1)");
/// ```
pub fn create_unlogged(q: &QueueName) -> FunctionCall {
    call(f::CREATE_UNLOGGED).arg(queue(q))
}

/// `pgmq.create_partitioned(queue_name, partition_interval, retention_interval [, premake])`
/// (needs pg_partman). The intervals are msg_id counts (`"10000"`) or time spans
/// (`"1 day"`); see [`pgmq_orm_core::sql::DEFAULT_PARTITION_INTERVAL`] and friends.
/// `premake` came with pgmq 1.13: `None` leaves it out (pgmq's default, 4 on 1.13), which
/// works on every supported version.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::create_partitioned(&q, "10000", "100000", 4);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_partitioned($1, $2, $3, $4)");
/// let call = functions::create_partitioned(&q, "10000", "100000", None);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_partitioned($1, $2, $3)");
/// ```
pub fn create_partitioned(
    q: &QueueName,
    partition_interval: &str,
    retention_interval: &str,
    premake: impl Into<Option<i32>>,
) -> FunctionCall {
    let mut args = vec![queue(q), text(partition_interval), text(retention_interval)];
    args.extend(premake.into().map(int));
    call(f::CREATE_PARTITIONED).args(args)
}

/// `pgmq.drop_queue(queue_name)`: drops the queue and its archive; returns `boolean`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::drop_queue(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.drop_queue($1)");
/// ```
pub fn drop_queue(q: &QueueName) -> FunctionCall {
    call(f::DROP_QUEUE).arg(queue(q))
}

/// `pgmq.purge_queue(queue_name)`: deletes every message; returns the count (`bigint`).
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::purge_queue(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.purge_queue($1)");
/// ```
pub fn purge_queue(q: &QueueName) -> FunctionCall {
    call(f::PURGE_QUEUE).arg(queue(q))
}

/// `pgmq.detach_archive(queue_name)`: deprecated no-op in pgmq 1.x, kept for completeness.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::detach_archive(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.detach_archive($1)");
/// ```
pub fn detach_archive(q: &QueueName) -> FunctionCall {
    call(f::DETACH_ARCHIVE).arg(queue(q))
}

/// `pgmq.list_queues()`: `SETOF pgmq.queue_record`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let call = functions::list_queues();
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.list_queues()");
/// ```
pub fn list_queues() -> FunctionCall {
    call(f::LIST_QUEUES)
}

/// `pgmq.metrics(queue_name)`: one `pgmq.metrics_result`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::metrics(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.metrics($1)");
/// ```
pub fn metrics(q: &QueueName) -> FunctionCall {
    call(f::METRICS).arg(queue(q))
}

/// `pgmq.metrics_all()`: `SETOF pgmq.metrics_result`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let call = functions::metrics_all();
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.metrics_all()");
/// ```
pub fn metrics_all() -> FunctionCall {
    call(f::METRICS_ALL)
}

/// `pgmq.send(queue_name, msg)`: returns the new msg_id.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let call = functions::send(&q, json!({"id": 1}));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send($1, $2)");
/// ```
pub fn send(q: &QueueName, msg: impl Arg<kind::Jsonb>) -> FunctionCall {
    call(f::SEND).args([queue(q), msg.into_arg()])
}

/// `pgmq.send(queue_name, msg, headers, delay)`: the full form. `headers: None` binds SQL
/// `NULL`; [`Delay::Seconds`] picks the `integer` overload, [`Delay::Until`] the
/// `timestamptz` one.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, Delay};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let call = functions::send_with(&q, json!({"id": 1}), Some(json!({"x-pgmq-group": "a"})), Delay::Seconds(5));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send($1, $2, $3, CAST($4 AS integer))");
/// ```
pub fn send_with(
    q: &QueueName,
    msg: impl Arg<kind::Jsonb>,
    headers: impl Arg<kind::OptJsonb>,
    delay: impl Arg<kind::DelayArg>,
) -> FunctionCall {
    call(f::SEND).args([
        queue(q),
        msg.into_arg(),
        headers.into_arg(),
        delay.into_arg(),
    ])
}

/// `pgmq.send_batch(queue_name, msgs)`: returns one msg_id per message, in order.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let call = functions::send_batch(&q, vec![json!(1), json!(2)]);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_batch($1, $2)");
/// ```
pub fn send_batch(q: &QueueName, msgs: impl Arg<kind::JsonbArray>) -> FunctionCall {
    call(f::SEND_BATCH).args([queue(q), msgs.into_arg()])
}

/// `pgmq.send_batch(queue_name, msgs, headers, delay)`: `headers`, when given, must hold
/// one entry per message (pgmq checks).
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, Delay};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let call = functions::send_batch_with(&q, vec![json!(1), json!(2)], None, Delay::Seconds(5));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_batch($1, $2, $3, CAST($4 AS integer))");
/// ```
pub fn send_batch_with(
    q: &QueueName,
    msgs: impl Arg<kind::JsonbArray>,
    headers: impl Arg<kind::OptJsonbArray>,
    delay: impl Arg<kind::DelayArg>,
) -> FunctionCall {
    call(f::SEND_BATCH).args([
        queue(q),
        msgs.into_arg(),
        headers.into_arg(),
        delay.into_arg(),
    ])
}

/// [`send`] / [`send_with`] for a payload and headers already serialized
/// (`encode_message_json`, `encode_headers_json`), as the extension methods send them:
/// bound as text and cast to `jsonb`.
pub(crate) fn send_encoded(
    q: &QueueName,
    msg: RawJson,
    headers: Option<RawJson>,
    delay: Delay,
) -> FunctionCall {
    let headers = headers.map(jsonb_text);
    plain_or_full(
        f::SEND,
        q,
        jsonb_text(msg),
        headers,
        Value::Json(None),
        delay,
    )
}

/// [`send_batch`] / [`send_batch_with`] for payloads and headers already serialized
/// (`encode_batch_json`), as the extension methods send them: the same overloads, the
/// arrays bound as `text[]` and cast to `jsonb[]`.
pub(crate) fn send_batch_encoded(
    q: &QueueName,
    msgs: Vec<RawJson>,
    headers: Option<Vec<RawJson>>,
    delay: Delay,
) -> FunctionCall {
    let headers = headers.map(jsonb_text_array);
    let no_headers = Value::Array(ArrayType::Json, None);
    plain_or_full(
        f::SEND_BATCH,
        q,
        jsonb_text_array(msgs),
        headers,
        no_headers,
        delay,
    )
}

/// `name(queue, payload)` without headers or delay, else the full `name(queue, payload,
/// headers, delay)` with `no_headers` (a typed SQL `NULL`) standing for absent headers:
/// the overloads `pgmq.send` and `pgmq.send_batch` share.
fn plain_or_full(
    name: &'static str,
    q: &QueueName,
    payload: Expr,
    headers: Option<Expr>,
    no_headers: Value,
    delay: Delay,
) -> FunctionCall {
    match (headers, delay) {
        (None, Delay::Seconds(0)) => call(name).args([queue(q), payload]),
        (headers, delay) => call(name).args([
            queue(q),
            payload,
            headers.unwrap_or_else(|| Expr::val(no_headers)),
            delay_value(delay),
        ]),
    }
}

/// `pgmq.read(queue_name, vt, qty)`: `SETOF pgmq.message_record`. pgmq takes the
/// visibility timeout in seconds, so [`VisibilityTimeout::Until`] is converted here.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let call = functions::read(&q, VisibilityTimeout::Seconds(30), 10);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read($1, $2, $3)");
/// ```
pub fn read(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
) -> FunctionCall {
    plain_call(f::READ, q, vt, qty)
}

/// `pgmq.read(queue_name, vt, qty, conditional)`: only messages whose payload contains
/// `conditional` (jsonb `@>`).
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let call = functions::read_conditional(&q, VisibilityTimeout::Seconds(30), 10, json!({"kind": "email"}));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read($1, $2, $3, $4)");
/// ```
pub fn read_conditional(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    conditional: impl Arg<kind::Jsonb>,
) -> FunctionCall {
    read(q, vt, qty).arg(conditional.into_arg())
}

/// `pgmq.read_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms)`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout, PollOptions};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_with_poll(&q, VisibilityTimeout::Seconds(30), 10, PollOptions::default());
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_with_poll($1, $2, $3, $4, $5)");
/// ```
pub fn read_with_poll(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    poll: PollOptions,
) -> FunctionCall {
    poll_call(f::READ_WITH_POLL, q, vt, qty, poll)
}

/// `pgmq.read_with_poll(..., conditional)`: polling, with a payload filter.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout, PollOptions};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let call = functions::read_with_poll_conditional(&q, VisibilityTimeout::Seconds(30), 10, PollOptions::default(), json!({"kind": "email"}));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_with_poll($1, $2, $3, $4, $5, $6)");
/// ```
pub fn read_with_poll_conditional(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    poll: PollOptions,
    conditional: impl Arg<kind::Jsonb>,
) -> FunctionCall {
    read_with_poll(q, vt, qty, poll).arg(conditional.into_arg())
}

fn plain_call(
    name: &'static str,
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
) -> FunctionCall {
    call(name).args([queue(q), vt.into_arg(), qty.into_arg()])
}

fn poll_call(
    name: &'static str,
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    poll: PollOptions,
) -> FunctionCall {
    plain_call(name, q, vt, qty)
        .arg(int(poll.max_poll_seconds()))
        .arg(int(poll.poll_interval_ms()))
}

/// `pgmq.read_grouped(queue_name, vt, qty)`: FIFO within `x-pgmq-group` header groups.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_grouped(&q, VisibilityTimeout::Seconds(30), 10);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_grouped($1, $2, $3)");
/// ```
pub fn read_grouped(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
) -> FunctionCall {
    plain_call(f::READ_GROUPED, q, vt, qty)
}

/// `pgmq.read_grouped_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms)`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout, PollOptions};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_grouped_with_poll(&q, VisibilityTimeout::Seconds(30), 10, PollOptions::default());
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_grouped_with_poll($1, $2, $3, $4, $5)");
/// ```
pub fn read_grouped_with_poll(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    poll: PollOptions,
) -> FunctionCall {
    poll_call(f::READ_GROUPED_WITH_POLL, q, vt, qty, poll)
}

/// `pgmq.read_grouped_rr(queue_name, vt, qty)`: grouped FIFO, round-robin across groups.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_grouped_rr(&q, VisibilityTimeout::Seconds(30), 10);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_grouped_rr($1, $2, $3)");
/// ```
pub fn read_grouped_rr(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
) -> FunctionCall {
    plain_call(f::READ_GROUPED_RR, q, vt, qty)
}

/// `pgmq.read_grouped_rr_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms)`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout, PollOptions};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_grouped_rr_with_poll(&q, VisibilityTimeout::Seconds(30), 10, PollOptions::default());
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_grouped_rr_with_poll($1, $2, $3, $4, $5)");
/// ```
pub fn read_grouped_rr_with_poll(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    poll: PollOptions,
) -> FunctionCall {
    poll_call(f::READ_GROUPED_RR_WITH_POLL, q, vt, qty, poll)
}

/// `pgmq.read_grouped_head(queue_name, vt, qty)`: the head message of each group.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_grouped_head(&q, VisibilityTimeout::Seconds(30), 10);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_grouped_head($1, $2, $3)");
/// ```
pub fn read_grouped_head(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
) -> FunctionCall {
    plain_call(f::READ_GROUPED_HEAD, q, vt, qty)
}

/// `pgmq.read_grouped_head_with_poll(queue_name, vt, qty, max_poll_seconds,
/// poll_interval_ms)`: [`read_grouped_head`], waiting for messages.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout, PollOptions};
/// let q = QueueName::from_static("orders");
/// let call = functions::read_grouped_head_with_poll(&q, VisibilityTimeout::Seconds(30), 10, PollOptions::default());
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.read_grouped_head_with_poll($1, $2, $3, $4, $5)");
/// ```
pub fn read_grouped_head_with_poll(
    q: &QueueName,
    vt: impl Arg<kind::VtSeconds>,
    qty: impl Arg<kind::Count>,
    poll: PollOptions,
) -> FunctionCall {
    poll_call(f::READ_GROUPED_HEAD_WITH_POLL, q, vt, qty, poll)
}

/// `pgmq.pop(queue_name, qty)`: reads and deletes in one step.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::pop(&q, 10);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.pop($1, $2)");
/// ```
pub fn pop(q: &QueueName, qty: impl Arg<kind::Count>) -> FunctionCall {
    call(f::POP).args([queue(q), qty.into_arg()])
}

/// `pgmq.set_vt(queue_name, msg_id, vt)`: seconds from now or an absolute time.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let call = functions::set_vt(&q, 7, VisibilityTimeout::Seconds(30));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.set_vt($1, CAST($2 AS bigint), CAST($3 AS integer))");
/// ```
pub fn set_vt(
    q: &QueueName,
    msg_id: impl Arg<kind::MsgId>,
    vt: impl Arg<kind::Vt>,
) -> FunctionCall {
    call(f::SET_VT).args([queue(q), msg_id.into_arg(), vt.into_arg()])
}

/// `pgmq.set_vt(queue_name, msg_ids, vt)`: the `bigint[]` overload.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let call = functions::set_vt_batch(&q, &[7, 8], VisibilityTimeout::Seconds(30));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.set_vt($1, CAST($2 AS bigint[]), CAST($3 AS integer))");
/// ```
pub fn set_vt_batch(
    q: &QueueName,
    msg_ids: impl Arg<kind::MsgIds>,
    vt: impl Arg<kind::Vt>,
) -> FunctionCall {
    call(f::SET_VT).args([queue(q), msg_ids.into_arg(), vt.into_arg()])
}

/// `pgmq.delete(queue_name, msg_id)`: returns `boolean`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::delete(&q, 7);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.delete($1, CAST($2 AS bigint))");
/// ```
pub fn delete(q: &QueueName, msg_id: impl Arg<kind::MsgId>) -> FunctionCall {
    call(f::DELETE).args([queue(q), msg_id.into_arg()])
}

/// `pgmq.delete(queue_name, msg_ids)`: returns the ids actually deleted.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::delete_batch(&q, &[7, 8]);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.delete($1, CAST($2 AS bigint[]))");
/// ```
pub fn delete_batch(q: &QueueName, msg_ids: impl Arg<kind::MsgIds>) -> FunctionCall {
    call(f::DELETE).args([queue(q), msg_ids.into_arg()])
}

/// `pgmq.archive(queue_name, msg_id)`: moves the message to the archive; `boolean`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::archive(&q, 7);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.archive($1, CAST($2 AS bigint))");
/// ```
pub fn archive(q: &QueueName, msg_id: impl Arg<kind::MsgId>) -> FunctionCall {
    call(f::ARCHIVE).args([queue(q), msg_id.into_arg()])
}

/// `pgmq.archive(queue_name, msg_ids)`: returns the ids actually archived.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::archive_batch(&q, &[7, 8]);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.archive($1, CAST($2 AS bigint[]))");
/// ```
pub fn archive_batch(q: &QueueName, msg_ids: impl Arg<kind::MsgIds>) -> FunctionCall {
    call(f::ARCHIVE).args([queue(q), msg_ids.into_arg()])
}

/// `pgmq.create_fifo_index(queue_name)`: a GIN index on headers for grouped reads.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::create_fifo_index(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_fifo_index($1)");
/// ```
pub fn create_fifo_index(q: &QueueName) -> FunctionCall {
    call(f::CREATE_FIFO_INDEX).arg(queue(q))
}

/// `pgmq.create_fifo_indexes_all()`: [`create_fifo_index`] on every queue.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let call = functions::create_fifo_indexes_all();
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_fifo_indexes_all()");
/// ```
pub fn create_fifo_indexes_all() -> FunctionCall {
    call(f::CREATE_FIFO_INDEXES_ALL)
}

/// `pgmq.convert_archive_partitioned(queue_name, partition_interval, retention_interval,
/// leading_partition)`: turns a queue's archive table into a pg_partman partitioned one
/// (needs pg_partman; a no-op if it already is). The old table stays as
/// `pgmq.a_<name>_old`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::convert_archive_partitioned(&q, "10000", "100000", 10);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.convert_archive_partitioned($1, $2, $3, $4)");
/// ```
pub fn convert_archive_partitioned(
    q: &QueueName,
    partition_interval: &str,
    retention_interval: &str,
    leading_partition: i32,
) -> FunctionCall {
    call(f::CONVERT_ARCHIVE_PARTITIONED).args([
        queue(q),
        text(partition_interval),
        text(retention_interval),
        int(leading_partition),
    ])
}

/// `pgmq.enable_notify_insert(queue_name, throttle_interval_ms)`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::enable_notify_insert(&q, 250);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.enable_notify_insert($1, $2)");
/// ```
pub fn enable_notify_insert(
    q: &QueueName,
    throttle_interval_ms: impl Arg<kind::Count>,
) -> FunctionCall {
    call(f::ENABLE_NOTIFY_INSERT).args([queue(q), throttle_interval_ms.into_arg()])
}

/// `pgmq.disable_notify_insert(queue_name)`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::disable_notify_insert(&q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.disable_notify_insert($1)");
/// ```
pub fn disable_notify_insert(q: &QueueName) -> FunctionCall {
    call(f::DISABLE_NOTIFY_INSERT).arg(queue(q))
}

/// `pgmq.update_notify_insert(queue_name, throttle_interval_ms)`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::update_notify_insert(&q, 1000);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.update_notify_insert($1, $2)");
/// ```
pub fn update_notify_insert(
    q: &QueueName,
    throttle_interval_ms: impl Arg<kind::Count>,
) -> FunctionCall {
    call(f::UPDATE_NOTIFY_INSERT).args([queue(q), throttle_interval_ms.into_arg()])
}

/// `pgmq.list_notify_insert_throttles()`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let call = functions::list_notify_insert_throttles();
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.list_notify_insert_throttles()");
/// ```
pub fn list_notify_insert_throttles() -> FunctionCall {
    call(f::LIST_NOTIFY_INSERT_THROTTLES)
}

/// `pgmq.bind_topic(pattern, queue_name)`: routes keys matching `pattern` to the queue.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::bind_topic("orders.*", &q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.bind_topic($1, $2)");
/// ```
pub fn bind_topic(pattern: impl Arg<kind::Text>, q: &QueueName) -> FunctionCall {
    call(f::BIND_TOPIC).args([pattern.into_arg(), queue(q)])
}

/// `pgmq.unbind_topic(pattern, queue_name)`: returns `boolean`.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::unbind_topic("orders.*", &q);
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.unbind_topic($1, $2)");
/// ```
pub fn unbind_topic(pattern: impl Arg<kind::Text>, q: &QueueName) -> FunctionCall {
    call(f::UNBIND_TOPIC).args([pattern.into_arg(), queue(q)])
}

/// `pgmq.send_topic(routing_key, msg, headers, delay)`: returns how many queues got the
/// message. pgmq takes the delay in seconds only, so [`Delay::Until`] is converted here.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, Delay};
/// # use serde_json::json;
/// let call = functions::send_topic("orders.paid", json!({"id": 1}), None, Delay::Seconds(0));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_topic($1, $2, $3, $4)");
/// ```
pub fn send_topic(
    routing_key: impl Arg<kind::Text>,
    msg: impl Arg<kind::Jsonb>,
    headers: impl Arg<kind::OptJsonb>,
    delay: impl Arg<kind::DelaySeconds>,
) -> FunctionCall {
    call(f::SEND_TOPIC).args([
        routing_key.into_arg(),
        msg.into_arg(),
        headers.into_arg(),
        delay.into_arg(),
    ])
}

/// `pgmq.send_batch_topic(routing_key, msgs, headers, delay)`: returns `(queue_name,
/// msg_id)` rows, one per message per bound queue. [`Delay::Seconds`] picks the
/// `integer` overload, [`Delay::Until`] the `timestamptz` one.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName, Delay};
/// # use serde_json::json;
/// let call = functions::send_batch_topic("orders.paid", vec![json!(1)], None, Delay::Seconds(0));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_batch_topic($1, $2, $3, CAST($4 AS integer))");
/// ```
pub fn send_batch_topic(
    routing_key: impl Arg<kind::Text>,
    msgs: impl Arg<kind::JsonbArray>,
    headers: impl Arg<kind::OptJsonbArray>,
    delay: impl Arg<kind::DelayArg>,
) -> FunctionCall {
    call(f::SEND_BATCH_TOPIC).args([
        routing_key.into_arg(),
        msgs.into_arg(),
        headers.into_arg(),
        delay.into_arg(),
    ])
}

/// `pgmq.list_topic_bindings()`, or `pgmq.list_topic_bindings(queue_name)` for one queue.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let q = QueueName::from_static("orders");
/// let call = functions::list_topic_bindings(Some(&q));
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.list_topic_bindings($1)");
/// ```
pub fn list_topic_bindings(q: Option<&QueueName>) -> FunctionCall {
    match q {
        Some(q) => call(f::LIST_TOPIC_BINDINGS).arg(queue(q)),
        None => call(f::LIST_TOPIC_BINDINGS),
    }
}

/// `pgmq.test_routing(routing_key)`: which bindings a key would match.
///
/// ```
/// # use sea_orm::sea_query::{PostgresQueryBuilder, Query};
/// # use sea_orm_pgmq::{functions, QueueName};
/// let call = functions::test_routing("orders.paid");
/// let (sql, _) = Query::select().expr(call).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.test_routing($1)");
/// ```
pub fn test_routing(routing_key: impl Arg<kind::Text>) -> FunctionCall {
    call(f::TEST_ROUTING).arg(routing_key.into_arg())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{PostgresQueryBuilder, Query};

    fn sql(f: FunctionCall) -> String {
        Query::select().expr(f).build(PostgresQueryBuilder).0
    }

    #[test]
    fn overloads_differing_in_one_type_render_different_sql() {
        let q = QueueName::from_static("q");
        assert_ne!(sql(delete(&q, 1)), sql(delete_batch(&q, &[1])));
        assert_ne!(sql(archive(&q, 1)), sql(archive_batch(&q, &[1])));
        assert_ne!(
            sql(send_with(&q, Json::Null, None, Delay::Seconds(1))),
            sql(send_with(&q, Json::Null, None, Delay::Until(Utc::now())))
        );
        assert_ne!(
            sql(set_vt(&q, 1, VisibilityTimeout::Seconds(1))),
            sql(set_vt(&q, 1, VisibilityTimeout::Until(Utc::now())))
        );
    }
}
