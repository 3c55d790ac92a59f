//! Ready-made `SELECT` statements over pgmq's functions, and the rows they return.
//!
//! Rows are selected by column name from the function (`SELECT msg_id, read_ct, ... FROM
//! pgmq.read($1, $2, $3) AS m`), so pgmq's column order never matters; payload and headers
//! come as JSON text, so loading never parses them and each row decodes on its own. Run a statement
//! with any `ConnectionTrait` and decode with the matching row type, e.g.
//! [`MessageRow`], whose [`MessageRow::decode`] gives a typed [`Message`].
//!
//! ```
//! use sea_orm::sea_query::PostgresQueryBuilder;
//! use sea_orm_pgmq::{query, BatchSize, QueueName, VisibilityTimeout};
//!
//! let q = QueueName::from_static("orders");
//! let (sql, _) = query::read(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE)
//!     .build(PostgresQueryBuilder);
//! assert_eq!(
//!     sql,
//!     r#"SELECT "msg_id", "read_ct", "enqueued_at", "last_read_at", "vt", CAST("message" AS text) AS "message", CAST("headers" AS text) AS "headers" FROM pgmq.read($1, $2, $3) AS "m""#
//! );
//! ```

use crate::functions;
use chrono::{DateTime, Utc};
use pgmq_orm_core::sql::columns;
use pgmq_orm_core::{
    BatchSize, Delay, Error, Message, Messages, NotifyThrottle, PollOptions, QueueInfo,
    QueueMetrics, QueueName, RawJson, RawJsonMessage, RoutingMatch, TopicBinding, TopicMessageId,
    VisibilityTimeout,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, FunctionCall, Query, SelectStatement};
use sea_orm::{DbErr, FromQueryResult, QueryResult};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

/// The alias of the set-returning function in the `FROM` clause.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::query;
/// let (sql, _) = query::list_queues().build(PostgresQueryBuilder);
/// assert!(sql.ends_with(&format!("AS \"{}\"", query::FROM_ALIAS)));
/// ```
pub const FROM_ALIAS: &str = "m";

/// `SELECT <cols> FROM <func> AS m`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{functions, query, QueueName};
/// let q = QueueName::from_static("orders");
/// let stmt = query::select_from(functions::metrics(&q), &["queue_length"]);
/// let (sql, _) = stmt.build(PostgresQueryBuilder);
/// assert_eq!(sql, r#"SELECT "queue_length" FROM pgmq.metrics($1) AS "m""#);
/// ```
pub fn select_from(func: FunctionCall, cols: &[&'static str]) -> SelectStatement {
    let mut select = Query::select();
    for col in cols {
        match pgmq_orm_core::sql::late_column(col) {
            // A column some supported pgmq version lacks: NULL there, not an error.
            Some(expr) => select.expr_as(Expr::cust(expr), Alias::new(*col)),
            None => select.column(Alias::new(*col)),
        };
    }
    select
        .from_function(func, Alias::new(FROM_ALIAS))
        .to_owned()
}

/// `SELECT <func> AS <alias>`: for functions returning a scalar (or `SETOF` a scalar).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{functions, query, QueueName};
/// let q = QueueName::from_static("orders");
/// let stmt = query::select_scalar(functions::purge_queue(&q), "purged");
/// let (sql, _) = stmt.build(PostgresQueryBuilder);
/// assert_eq!(sql, r#"SELECT pgmq.purge_queue($1) AS "purged""#);
/// ```
pub fn select_scalar(func: FunctionCall, alias: &'static str) -> SelectStatement {
    Query::select().expr_as(func, Alias::new(alias)).to_owned()
}

/// The message columns, payload and headers cast to text (`message::text`: the server
/// renders jsonb as text either way), so every row loads whatever its JSON holds and each
/// payload is parsed once, on its own, straight into its type.
fn messages(func: FunctionCall) -> SelectStatement {
    let mut stmt = Query::select();
    for col in columns::MESSAGE {
        let name = Alias::new(col);
        if matches!(col, "message" | "headers") {
            stmt.expr_as(Expr::col(name.clone()).cast_as(Alias::new("text")), name);
        } else {
            stmt.column(name);
        }
    }
    stmt.from_function(func, Alias::new(FROM_ALIAS)).to_owned()
}

/// `pgmq.read`: up to `qty` messages, hidden for `vt`. Decode rows with [`MessageRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read($1, $2, $3) AS \"m\""));
/// ```
pub fn read(q: &QueueName, vt: VisibilityTimeout, qty: BatchSize) -> SelectStatement {
    messages(functions::read(q, vt, qty.get()))
}

/// `pgmq.read` with a jsonb containment filter on the payload.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, BatchSize};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_conditional(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE, json!({"kind": "email"})).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read($1, $2, $3, $4) AS \"m\""));
/// ```
pub fn read_conditional(
    q: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    conditional: Json,
) -> SelectStatement {
    messages(functions::read_conditional(q, vt, qty.get(), conditional))
}

/// `pgmq.read_with_poll`: waits up to `poll.max_wait` for messages.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, PollOptions, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_with_poll(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE, PollOptions::default()).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_with_poll($1, $2, $3, $4, $5) AS \"m\""));
/// ```
pub fn read_with_poll(
    q: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
) -> SelectStatement {
    messages(functions::read_with_poll(q, vt, qty.get(), poll))
}

/// `pgmq.read_grouped`: FIFO within message groups.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_grouped(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_grouped($1, $2, $3) AS \"m\""));
/// ```
pub fn read_grouped(q: &QueueName, vt: VisibilityTimeout, qty: BatchSize) -> SelectStatement {
    messages(functions::read_grouped(q, vt, qty.get()))
}

/// `pgmq.read_grouped_with_poll`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, PollOptions, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_grouped_with_poll(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE, PollOptions::default()).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_grouped_with_poll($1, $2, $3, $4, $5) AS \"m\""));
/// ```
pub fn read_grouped_with_poll(
    q: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
) -> SelectStatement {
    messages(functions::read_grouped_with_poll(q, vt, qty.get(), poll))
}

/// `pgmq.read_grouped_rr`: grouped FIFO, round-robin across groups.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_grouped_rr(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_grouped_rr($1, $2, $3) AS \"m\""));
/// ```
pub fn read_grouped_rr(q: &QueueName, vt: VisibilityTimeout, qty: BatchSize) -> SelectStatement {
    messages(functions::read_grouped_rr(q, vt, qty.get()))
}

/// `pgmq.read_grouped_rr_with_poll`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, PollOptions, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_grouped_rr_with_poll(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE, PollOptions::default()).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_grouped_rr_with_poll($1, $2, $3, $4, $5) AS \"m\""));
/// ```
pub fn read_grouped_rr_with_poll(
    q: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
) -> SelectStatement {
    messages(functions::read_grouped_rr_with_poll(q, vt, qty.get(), poll))
}

/// `pgmq.read_grouped_head`: at most the head (oldest) message of each group, and none
/// from a group whose head is in flight; what a concurrent FIFO consumer reads.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_grouped_head(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_grouped_head($1, $2, $3) AS \"m\""));
/// ```
pub fn read_grouped_head(q: &QueueName, vt: VisibilityTimeout, qty: BatchSize) -> SelectStatement {
    messages(functions::read_grouped_head(q, vt, qty.get()))
}

/// `pgmq.read_grouped_head_with_poll`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, PollOptions, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_grouped_head_with_poll(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE, PollOptions::default()).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_grouped_head_with_poll($1, $2, $3, $4, $5) AS \"m\""));
/// ```
pub fn read_grouped_head_with_poll(
    q: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
) -> SelectStatement {
    messages(functions::read_grouped_head_with_poll(
        q,
        vt,
        qty.get(),
        poll,
    ))
}

/// `pgmq.read_with_poll` with a jsonb containment filter on the payload.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout, PollOptions, BatchSize};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::read_with_poll_conditional(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE, PollOptions::default(), json!({"kind": "email"})).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.read_with_poll($1, $2, $3, $4, $5, $6) AS \"m\""));
/// ```
pub fn read_with_poll_conditional(
    q: &QueueName,
    vt: VisibilityTimeout,
    qty: BatchSize,
    poll: PollOptions,
    conditional: Json,
) -> SelectStatement {
    messages(functions::read_with_poll_conditional(
        q,
        vt,
        qty.get(),
        poll,
        conditional,
    ))
}

/// `pgmq.pop`: read and delete.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, BatchSize};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::pop(&q, BatchSize::ONE).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.pop($1, $2) AS \"m\""));
/// ```
pub fn pop(q: &QueueName, qty: BatchSize) -> SelectStatement {
    messages(functions::pop(q, qty.get()))
}

/// `pgmq.set_vt` for one message: zero rows if it does not exist.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::set_vt(&q, 7, VisibilityTimeout::Seconds(30)).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.set_vt($1, CAST($2 AS bigint), CAST($3 AS integer)) AS \"m\""));
/// ```
pub fn set_vt(q: &QueueName, msg_id: i64, vt: VisibilityTimeout) -> SelectStatement {
    messages(functions::set_vt(q, msg_id, vt))
}

/// `pgmq.set_vt` for many messages.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, VisibilityTimeout};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::set_vt_batch(&q, &[7, 8], VisibilityTimeout::Seconds(30)).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.set_vt($1, CAST($2 AS bigint[]), CAST($3 AS integer)) AS \"m\""));
/// ```
pub fn set_vt_batch(q: &QueueName, msg_ids: &[i64], vt: VisibilityTimeout) -> SelectStatement {
    messages(functions::set_vt_batch(q, msg_ids, vt))
}

/// `pgmq.send`: one row, column `msg_id` ([`MsgIdRow`]).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::send(&q, json!({"id": 1})).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send($1, $2) AS \"msg_id\"");
/// ```
pub fn send(q: &QueueName, msg: Json) -> SelectStatement {
    select_scalar(functions::send(q, msg), "msg_id")
}

/// `pgmq.send` with headers and delay: one row, column `msg_id`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, Delay};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::send_with(&q, json!({"id": 1}), Some(json!({"x-pgmq-group": "a"})), Delay::Seconds(5)).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send($1, $2, $3, CAST($4 AS integer)) AS \"msg_id\"");
/// ```
pub fn send_with(q: &QueueName, msg: Json, headers: Option<Json>, delay: Delay) -> SelectStatement {
    select_scalar(functions::send_with(q, msg, headers, delay), "msg_id")
}

/// `pgmq.send_batch`: one `msg_id` row per message.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::send_batch(&q, vec![json!(1), json!(2)]).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_batch($1, $2) AS \"msg_id\"");
/// ```
pub fn send_batch(q: &QueueName, msgs: Vec<Json>) -> SelectStatement {
    select_scalar(functions::send_batch(q, msgs), "msg_id")
}

/// `pgmq.send_batch` with headers and delay.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, Delay};
/// # use serde_json::json;
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::send_batch_with(&q, vec![json!(1), json!(2)], None, Delay::Seconds(5)).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_batch($1, $2, $3, CAST($4 AS integer)) AS \"msg_id\"");
/// ```
pub fn send_batch_with(
    q: &QueueName,
    msgs: Vec<Json>,
    headers: Option<Vec<Json>>,
    delay: Delay,
) -> SelectStatement {
    select_scalar(
        functions::send_batch_with(q, msgs, headers, delay),
        "msg_id",
    )
}

/// `pgmq.delete` (one id): column `ok` ([`BoolRow`]).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::delete(&q, 7).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.delete($1, CAST($2 AS bigint)) AS \"ok\"");
/// ```
pub fn delete(q: &QueueName, msg_id: i64) -> SelectStatement {
    select_scalar(functions::delete(q, msg_id), "ok")
}

/// `pgmq.delete` (many ids): the deleted ids, column `msg_id`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::delete_batch(&q, &[7, 8]).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.delete($1, CAST($2 AS bigint[])) AS \"msg_id\"");
/// ```
pub fn delete_batch(q: &QueueName, msg_ids: &[i64]) -> SelectStatement {
    select_scalar(functions::delete_batch(q, msg_ids), "msg_id")
}

/// `pgmq.archive` (one id): column `ok`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::archive(&q, 7).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.archive($1, CAST($2 AS bigint)) AS \"ok\"");
/// ```
pub fn archive(q: &QueueName, msg_id: i64) -> SelectStatement {
    select_scalar(functions::archive(q, msg_id), "ok")
}

/// `pgmq.archive` (many ids): the archived ids, column `msg_id`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::archive_batch(&q, &[7, 8]).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.archive($1, CAST($2 AS bigint[])) AS \"msg_id\"");
/// ```
pub fn archive_batch(q: &QueueName, msg_ids: &[i64]) -> SelectStatement {
    select_scalar(functions::archive_batch(q, msg_ids), "msg_id")
}

/// `SELECT <func> AS ok`: for pgmq functions returning `void` (the row's value is SQL
/// `NULL`; run it with `execute`).
fn void(func: FunctionCall) -> SelectStatement {
    select_scalar(func, "ok")
}

/// `pgmq.create`: creates the queue (idempotent).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::create(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create($1) AS \"ok\"");
/// ```
pub fn create(q: &QueueName) -> SelectStatement {
    void(functions::create(q))
}

/// `pgmq.create_unlogged`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::create_unlogged(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_unlogged($1) AS \"ok\"");
/// ```
pub fn create_unlogged(q: &QueueName) -> SelectStatement {
    void(functions::create_unlogged(q))
}

/// `pgmq.create_partitioned` with pgmq's default `premake` (needs pg_partman); works on
/// every supported pgmq version.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::create_partitioned(&q, "10000", "100000").build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_partitioned($1, $2, $3) AS \"ok\"");
/// ```
pub fn create_partitioned(
    q: &QueueName,
    partition_interval: &str,
    retention_interval: &str,
) -> SelectStatement {
    void(functions::create_partitioned(
        q,
        partition_interval,
        retention_interval,
        None,
    ))
}

/// `pgmq.create_fifo_index`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::create_fifo_index(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_fifo_index($1) AS \"ok\"");
/// ```
pub fn create_fifo_index(q: &QueueName) -> SelectStatement {
    void(functions::create_fifo_index(q))
}

/// `pgmq.create_fifo_indexes_all`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let (sql, _) = query::create_fifo_indexes_all().build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.create_fifo_indexes_all() AS \"ok\"");
/// ```
pub fn create_fifo_indexes_all() -> SelectStatement {
    void(functions::create_fifo_indexes_all())
}

/// `pgmq.detach_archive` (a no-op in pgmq 1.x).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::detach_archive(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.detach_archive($1) AS \"ok\"");
/// ```
pub fn detach_archive(q: &QueueName) -> SelectStatement {
    void(functions::detach_archive(q))
}

/// `pgmq.convert_archive_partitioned` (needs pg_partman).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::convert_archive_partitioned(&q, "10000", "100000", 10).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.convert_archive_partitioned($1, $2, $3, $4) AS \"ok\"");
/// ```
pub fn convert_archive_partitioned(
    q: &QueueName,
    partition_interval: &str,
    retention_interval: &str,
    leading_partition: i32,
) -> SelectStatement {
    void(functions::convert_archive_partitioned(
        q,
        partition_interval,
        retention_interval,
        leading_partition,
    ))
}

/// `pgmq.enable_notify_insert`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::enable_notify_insert(&q, 250).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.enable_notify_insert($1, $2) AS \"ok\"");
/// ```
pub fn enable_notify_insert(q: &QueueName, throttle_interval_ms: i32) -> SelectStatement {
    void(functions::enable_notify_insert(q, throttle_interval_ms))
}

/// `pgmq.update_notify_insert`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::update_notify_insert(&q, 1000).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.update_notify_insert($1, $2) AS \"ok\"");
/// ```
pub fn update_notify_insert(q: &QueueName, throttle_interval_ms: i32) -> SelectStatement {
    void(functions::update_notify_insert(q, throttle_interval_ms))
}

/// `pgmq.disable_notify_insert`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::disable_notify_insert(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.disable_notify_insert($1) AS \"ok\"");
/// ```
pub fn disable_notify_insert(q: &QueueName) -> SelectStatement {
    void(functions::disable_notify_insert(q))
}

/// `pgmq.bind_topic`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::bind_topic("orders.*", &q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.bind_topic($1, $2) AS \"ok\"");
/// ```
pub fn bind_topic(pattern: &str, q: &QueueName) -> SelectStatement {
    void(functions::bind_topic(pattern, q))
}

/// `pgmq.unbind_topic`: column `ok` ([`BoolRow`]), `true` if the binding existed.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::unbind_topic("orders.*", &q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.unbind_topic($1, $2) AS \"ok\"");
/// ```
pub fn unbind_topic(pattern: &str, q: &QueueName) -> SelectStatement {
    select_scalar(functions::unbind_topic(pattern, q), "ok")
}

/// `pgmq.drop_queue`: column `ok`.
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::drop_queue(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.drop_queue($1) AS \"ok\"");
/// ```
pub fn drop_queue(q: &QueueName) -> SelectStatement {
    select_scalar(functions::drop_queue(q), "ok")
}

/// `pgmq.purge_queue`: column `count` ([`CountRow`]).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::purge_queue(&q).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.purge_queue($1) AS \"count\"");
/// ```
pub fn purge_queue(q: &QueueName) -> SelectStatement {
    select_scalar(functions::purge_queue(q), "count")
}

/// `pgmq.list_queues`: decode with [`QueueInfoRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let (sql, _) = query::list_queues().build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.list_queues() AS \"m\""));
/// ```
pub fn list_queues() -> SelectStatement {
    select_from(functions::list_queues(), &columns::QUEUE_INFO)
}

/// `pgmq.metrics`: decode with [`MetricsRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::metrics(&q).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.metrics($1) AS \"m\""));
/// ```
pub fn metrics(q: &QueueName) -> SelectStatement {
    select_from(functions::metrics(q), &columns::METRICS)
}

/// `pgmq.metrics_all`: decode with [`MetricsRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let (sql, _) = query::metrics_all().build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.metrics_all() AS \"m\""));
/// ```
pub fn metrics_all() -> SelectStatement {
    select_from(functions::metrics_all(), &columns::METRICS)
}

/// `pgmq.list_topic_bindings`: decode with [`TopicBindingRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let q = QueueName::from_static("orders");
/// let (sql, _) = query::list_topic_bindings(Some(&q)).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.list_topic_bindings($1) AS \"m\""));
/// ```
pub fn list_topic_bindings(q: Option<&QueueName>) -> SelectStatement {
    select_from(functions::list_topic_bindings(q), &columns::TOPIC_BINDING)
}

/// `pgmq.test_routing`: decode with [`RoutingMatchRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let (sql, _) = query::test_routing("orders.paid").build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.test_routing($1) AS \"m\""));
/// ```
pub fn test_routing(routing_key: &str) -> SelectStatement {
    select_from(
        functions::test_routing(routing_key),
        &columns::ROUTING_MATCH,
    )
}

/// `pgmq.send_topic`: column `count` as `integer` ([`TopicCountRow`]).
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, Delay};
/// # use serde_json::json;
/// let (sql, _) = query::send_topic("orders.paid", json!({"id": 1}), None, Delay::Seconds(0)).build(PostgresQueryBuilder);
/// assert_eq!(sql, "SELECT pgmq.send_topic($1, $2, $3, $4) AS \"count\"");
/// ```
pub fn send_topic(
    routing_key: &str,
    msg: Json,
    headers: Option<Json>,
    delay: Delay,
) -> SelectStatement {
    select_scalar(
        functions::send_topic(routing_key, msg, headers, delay),
        "count",
    )
}

/// `pgmq.send_batch_topic`: decode with [`TopicMessageIdRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName, Delay};
/// # use serde_json::json;
/// let (sql, _) = query::send_batch_topic("orders.paid", vec![json!(1)], None, Delay::Seconds(0)).build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.send_batch_topic($1, $2, $3, CAST($4 AS integer)) AS \"m\""));
/// ```
pub fn send_batch_topic(
    routing_key: &str,
    msgs: Vec<Json>,
    headers: Option<Vec<Json>>,
    delay: Delay,
) -> SelectStatement {
    select_from(
        functions::send_batch_topic(routing_key, msgs, headers, delay),
        &columns::TOPIC_MESSAGE_ID,
    )
}

/// `pgmq.list_notify_insert_throttles`: decode with [`NotifyThrottleRow`].
///
/// ```
/// # use sea_orm::sea_query::PostgresQueryBuilder;
/// # use sea_orm_pgmq::{query, QueueName};
/// let (sql, _) = query::list_notify_insert_throttles().build(PostgresQueryBuilder);
/// assert!(sql.ends_with(" FROM pgmq.list_notify_insert_throttles() AS \"m\""));
/// ```
pub fn list_notify_insert_throttles() -> SelectStatement {
    select_from(
        functions::list_notify_insert_throttles(),
        &columns::NOTIFY_THROTTLE,
    )
}

/// A `pgmq.message_record` row, payload and headers still JSON.
///
/// Use it with SeaORM's own `find_by_statement` on any pgmq message query, including
/// ones you extended with extra conditions:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::query::{self, MessageRow};
/// use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, QueueName, VisibilityTimeout};
///
/// let q = QueueName::from_static("jobs");
/// conn.create_queue(&q).await?;
/// conn.send(&q, &serde_json::json!({"kind": "email"})).await?;
/// let stmt = query::read_conditional(
///     &q,
///     VisibilityTimeout::Seconds(30),
///     BatchSize::ONE,
///     serde_json::json!({"kind": "email"}),
/// );
/// let rows = MessageRow::find_by_statement(DbBackend::Postgres.build(&stmt))
///     .all(&conn)
///     .await?;
/// let msg = rows.into_iter().next().unwrap().decode::<serde_json::Value, serde_json::Value>()?;
/// assert_eq!(msg.message["kind"], "email");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow(pub RawJsonMessage);

impl FromQueryResult for MessageRow {
    fn from_query_result(r: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let col = |c: &str| format!("{pre}{c}");
        let text = |c: &str| -> Result<Option<RawJson>, DbErr> {
            Ok(r.try_get::<Option<String>>("", &col(c))?
                .map(|t| RawJson::from_text(t.into_bytes())))
        };
        Ok(Self(RawJsonMessage {
            msg_id: r.try_get("", &col("msg_id"))?,
            read_ct: r.try_get("", &col("read_ct"))?,
            enqueued_at: r.try_get("", &col("enqueued_at"))?,
            last_read_at: r.try_get("", &col("last_read_at"))?,
            vt: r.try_get("", &col("vt"))?,
            message: text("message")?.unwrap_or_else(RawJson::sql_null),
            headers: text("headers")?,
        }))
    }
}

impl From<MessageRow> for RawJsonMessage {
    fn from(r: MessageRow) -> Self {
        r.0
    }
}

impl MessageRow {
    /// Decodes payload and headers (JSON `null` headers are none); on failure the error
    /// keeps the msg_id and the exact JSON text.
    ///
    /// ```
    /// # use chrono::Utc;
    /// use sea_orm_pgmq::{query::MessageRow, ErrorKind, RawJson, RawJsonMessage};
    /// let row = MessageRow(RawJsonMessage { msg_id: 1, read_ct: 1, enqueued_at: Utc::now(), last_read_at: None,
    ///     vt: Utc::now(), message: RawJson::from_text(br#"{"id": 7}"#.to_vec()), headers: None });
    /// let msg = row.clone().decode::<serde_json::Value, serde_json::Value>()?;
    /// assert_eq!(msg.message["id"], 7);
    /// let err = row.decode::<String, serde_json::Value>().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Decode);
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    pub fn decode<T: DeserializeOwned, H: DeserializeOwned>(self) -> Result<Message<T, H>, Error> {
        self.0.decode()
    }
}

/// Decodes loaded rows into a [`Messages`] batch, each on its own: one that does not
/// decode is set apart with its exact text and never hides the others. What the
/// extension traits and [`Queue`](crate::Queue) do with every read.
///
/// ```
/// # use chrono::Utc;
/// use sea_orm_pgmq::{query::{self, MessageRow}, RawJson, RawJsonMessage};
/// let row = |id, text: &str| MessageRow(RawJsonMessage { msg_id: id, read_ct: 1, enqueued_at: Utc::now(),
///     last_read_at: None, vt: Utc::now(), message: RawJson::from_text(text.into()), headers: None });
/// let batch = query::decode_rows::<u8, serde_json::Value>(vec![row(1, "1"), row(2, "\"x\"")]);
/// assert_eq!((batch.len(), batch.undecodable()[0].msg_id), (1, 2));
/// # let _ = batch.into_parts();
/// ```
pub fn decode_rows<T: DeserializeOwned, H: DeserializeOwned>(
    rows: Vec<MessageRow>,
) -> Messages<T, H> {
    Messages::decode(rows.into_iter().map(|r| r.0).collect())
}

/// A row with a `msg_id` column.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, MsgIdRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// let rows = MsgIdRow::find_by_statement(DbBackend::Postgres.build(&query::send(&q, json!({"id": 1})))).one(&conn).await?;
/// assert_eq!(rows.map(|r| r.msg_id), Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct MsgIdRow {
    /// The message id.
    pub msg_id: i64,
}

/// A row with a boolean `ok` column.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, BoolRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// let rows = BoolRow::find_by_statement(DbBackend::Postgres.build(&query::delete(&q, 42))).one(&conn).await?;
/// assert_eq!(rows.map(|r| r.ok), Some(false));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct BoolRow {
    /// The function's result.
    pub ok: bool,
}

/// A row with a `bigint` `count` column.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, CountRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.send(&q, &1).await?;
/// let rows = CountRow::find_by_statement(DbBackend::Postgres.build(&query::purge_queue(&q))).one(&conn).await?;
/// assert_eq!(rows.map(|r| r.count), Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct CountRow {
    /// The count.
    pub count: i64,
}

/// A row with an `integer` `count` column (`send_topic`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, TopicCountRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.bind_topic("orders.*", &q).await?;
/// let stmt = query::send_topic("orders.paid", json!(1), None, sea_orm_pgmq::Delay::Seconds(0));
/// let rows = TopicCountRow::find_by_statement(DbBackend::Postgres.build(&stmt)).one(&conn).await?;
/// assert_eq!(rows.map(|r| r.count), Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct TopicCountRow {
    /// The count.
    pub count: i32,
}

/// A `pgmq.queue_record` row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, QueueInfoRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// let rows = QueueInfoRow::find_by_statement(DbBackend::Postgres.build(&query::list_queues())).all(&conn).await?;
/// let info: sea_orm_pgmq::QueueInfo = rows.into_iter().next().unwrap().into();
/// assert_eq!(info.queue_name, "orders");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct QueueInfoRow {
    /// Queue name.
    pub queue_name: String,
    /// Partitioned?
    pub is_partitioned: bool,
    /// Unlogged?
    pub is_unlogged: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<QueueInfoRow> for QueueInfo {
    fn from(r: QueueInfoRow) -> Self {
        Self {
            queue_name: r.queue_name,
            is_partitioned: r.is_partitioned,
            is_unlogged: r.is_unlogged,
            created_at: r.created_at,
        }
    }
}

/// A `pgmq.metrics_result` row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, MetricsRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.send(&q, &1).await?;
/// let rows = MetricsRow::find_by_statement(DbBackend::Postgres.build(&query::metrics(&q))).one(&conn).await?;
/// let m: sea_orm_pgmq::QueueMetrics = rows.unwrap().into();
/// assert_eq!(m.queue_length, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct MetricsRow {
    /// Queue name.
    pub queue_name: String,
    /// Messages in the queue.
    pub queue_length: i64,
    /// Age of the newest message.
    pub newest_msg_age_sec: Option<i32>,
    /// Age of the oldest message.
    pub oldest_msg_age_sec: Option<i32>,
    /// Messages ever sent.
    pub total_messages: i64,
    /// When measured.
    pub scrape_time: DateTime<Utc>,
    /// Messages visible now.
    pub queue_visible_length: i64,
    /// Rows in the default partition (partitioned queues).
    pub default_partition_length: Option<i64>,
}

impl From<MetricsRow> for QueueMetrics {
    fn from(r: MetricsRow) -> Self {
        Self {
            queue_name: r.queue_name,
            queue_length: r.queue_length,
            newest_msg_age_sec: r.newest_msg_age_sec,
            oldest_msg_age_sec: r.oldest_msg_age_sec,
            total_messages: r.total_messages,
            scrape_time: r.scrape_time,
            queue_visible_length: r.queue_visible_length,
            default_partition_length: r.default_partition_length,
        }
    }
}

/// A `pgmq.list_topic_bindings` row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, TopicBindingRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.bind_topic("orders.#", &q).await?;
/// let rows = TopicBindingRow::find_by_statement(DbBackend::Postgres.build(&query::list_topic_bindings(None))).all(&conn).await?;
/// assert_eq!(rows[0].pattern, "orders.#");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct TopicBindingRow {
    /// Pattern.
    pub pattern: String,
    /// Queue.
    pub queue_name: String,
    /// Bound at.
    pub bound_at: DateTime<Utc>,
    /// Compiled regex.
    pub compiled_regex: String,
}

impl From<TopicBindingRow> for TopicBinding {
    fn from(r: TopicBindingRow) -> Self {
        Self {
            pattern: r.pattern,
            queue_name: r.queue_name,
            bound_at: r.bound_at,
            compiled_regex: r.compiled_regex,
        }
    }
}

/// A `pgmq.test_routing` row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, RoutingMatchRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.bind_topic("orders.*", &q).await?;
/// let rows = RoutingMatchRow::find_by_statement(DbBackend::Postgres.build(&query::test_routing("orders.paid"))).all(&conn).await?;
/// assert_eq!(rows[0].queue_name, "orders");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct RoutingMatchRow {
    /// Pattern.
    pub pattern: String,
    /// Queue.
    pub queue_name: String,
    /// Compiled regex.
    pub compiled_regex: String,
}

impl From<RoutingMatchRow> for RoutingMatch {
    fn from(r: RoutingMatchRow) -> Self {
        Self {
            pattern: r.pattern,
            queue_name: r.queue_name,
            compiled_regex: r.compiled_regex,
        }
    }
}

/// A `pgmq.list_notify_insert_throttles` row.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, NotifyThrottleRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.enable_notify_insert(&q, std::time::Duration::from_millis(100)).await?;
/// let rows = NotifyThrottleRow::find_by_statement(DbBackend::Postgres.build(&query::list_notify_insert_throttles())).all(&conn).await?;
/// assert_eq!(rows[0].throttle_interval_ms, 100);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct NotifyThrottleRow {
    /// Queue.
    pub queue_name: String,
    /// Throttle in milliseconds.
    pub throttle_interval_ms: i32,
    /// Last notification.
    pub last_notified_at: DateTime<Utc>,
}

impl From<NotifyThrottleRow> for NotifyThrottle {
    fn from(r: NotifyThrottleRow) -> Self {
        Self {
            queue_name: r.queue_name,
            throttle_interval_ms: r.throttle_interval_ms,
            last_notified_at: r.last_notified_at,
        }
    }
}

/// A `pgmq.send_batch_topic` row: which queue got which msg_id.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::{DbBackend, FromQueryResult};
/// use sea_orm_pgmq::{query::{self, TopicMessageIdRow}, PgmqConnectionExt, QueueName};
/// use serde_json::json;
/// let q = QueueName::from_static("orders");
/// conn.create_queue(&q).await?;
/// conn.bind_topic("orders.*", &q).await?;
/// let stmt = query::send_batch_topic("orders.paid", vec![json!(1), json!(2)], None, sea_orm_pgmq::Delay::Seconds(0));
/// let rows = TopicMessageIdRow::find_by_statement(DbBackend::Postgres.build(&stmt)).all(&conn).await?;
/// assert_eq!(rows.len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct TopicMessageIdRow {
    /// Queue.
    pub queue_name: String,
    /// Message id in that queue.
    pub msg_id: i64,
}

impl From<TopicMessageIdRow> for TopicMessageId {
    fn from(r: TopicMessageIdRow) -> Self {
        Self {
            queue_name: r.queue_name,
            msg_id: r.msg_id,
        }
    }
}
