//! pgmq's scalar-returning SQL functions as Diesel expressions, for composing your own
//! statements: `diesel::select(..)`, `INSERT ... SELECT`, CTEs, subqueries, filters.
//!
//! Each pgmq overload has its own Rust name (Rust has no overloading), chosen after the
//! arguments it takes: `send_headers_delay_at` is `pgmq.send(queue, msg, headers, timestamptz)`.
//! Functions returning records (`pgmq.read`, `pgmq.metrics`, ...) live in [`crate::query`],
//! which selects their columns by name.
//!
//! Queue names are [`QueueName`](crate::QueueName)s (SQL type [`QueueNameText`]): a
//! plain `&str` does not compile, so no unchecked name reaches pgmq from here either.
//!
//! ```
//! # #[cfg(feature = "sync")] {
//! use diesel::prelude::*;
//! use diesel_pgmq::functions::{create, send};
//! use diesel_pgmq::QueueName;
//! # let db = pgmq_harness::TestDb::new();
//! # let mut conn = PgConnection::establish(db.url())?;
//! let jobs = QueueName::new("jobs")?;
//! diesel::select(create(&jobs)).execute(&mut conn)?;
//! let id: i64 = diesel::select(send(&jobs, serde_json::json!({"n": 1}))).get_result(&mut conn)?;
//! assert_eq!(id, 1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A string is not a queue name here:
//!
//! ```compile_fail
//! diesel::select(diesel_pgmq::functions::create("Jobs; DROP TABLE x"));
//! ```
#![allow(missing_docs)] // the macro's generated helper items carry the docs of their fn

use diesel::expression::functions::declare_sql_function;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};

pub use pgmq_orm_core::diesel_arg::{QueueNameBind, QueueNameText};

/// The SQL type of pgmq's `void` results; select such a function only to run it.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(name = "void"))]
pub struct Void;

#[declare_sql_function]
extern "SQL" {
    /// `pgmq.create(queue_name)`
    #[sql_name = "pgmq.create"]
    fn create(queue_name: QueueNameText) -> Void;
    /// `pgmq.create_unlogged(queue_name)`
    #[sql_name = "pgmq.create_unlogged"]
    fn create_unlogged(queue_name: QueueNameText) -> Void;
    /// `pgmq.create_partitioned(queue_name, partition_interval, retention_interval, premake)`
    #[sql_name = "pgmq.create_partitioned"]
    fn create_partitioned(
        queue_name: QueueNameText,
        partition_interval: Text,
        retention_interval: Text,
        premake: Integer,
    ) -> Void;
    /// `pgmq.drop_queue(queue_name)`: whether the queue existed.
    #[sql_name = "pgmq.drop_queue"]
    fn drop_queue(queue_name: QueueNameText) -> Bool;
    /// `pgmq.purge_queue(queue_name)`: how many messages were deleted.
    #[sql_name = "pgmq.purge_queue"]
    fn purge_queue(queue_name: QueueNameText) -> BigInt;
    /// `pgmq.detach_archive(queue_name)`: deprecated no-op in pgmq 1.13.
    #[sql_name = "pgmq.detach_archive"]
    fn detach_archive(queue_name: QueueNameText) -> Void;
    /// `pgmq.send(queue_name, msg)`
    #[sql_name = "pgmq.send"]
    fn send(queue_name: QueueNameText, msg: Jsonb) -> BigInt;
    /// `pgmq.send(queue_name, msg, headers)`
    #[sql_name = "pgmq.send"]
    fn send_headers(queue_name: QueueNameText, msg: Jsonb, headers: Nullable<Jsonb>) -> BigInt;
    /// `pgmq.send(queue_name, msg, delay integer)`
    #[sql_name = "pgmq.send"]
    fn send_delay(queue_name: QueueNameText, msg: Jsonb, delay: Integer) -> BigInt;
    /// `pgmq.send(queue_name, msg, delay timestamptz)`
    #[sql_name = "pgmq.send"]
    fn send_delay_at(queue_name: QueueNameText, msg: Jsonb, delay: Timestamptz) -> BigInt;
    /// `pgmq.send(queue_name, msg, headers, delay integer)`
    #[sql_name = "pgmq.send"]
    fn send_headers_delay(
        queue_name: QueueNameText,
        msg: Jsonb,
        headers: Nullable<Jsonb>,
        delay: Integer,
    ) -> BigInt;
    /// `pgmq.send(queue_name, msg, headers, delay timestamptz)`
    #[sql_name = "pgmq.send"]
    fn send_headers_delay_at(
        queue_name: QueueNameText,
        msg: Jsonb,
        headers: Nullable<Jsonb>,
        delay: Timestamptz,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs)`
    #[sql_name = "pgmq.send_batch"]
    fn send_batch(queue_name: QueueNameText, msgs: Array<Jsonb>) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, headers)`
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_headers(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        headers: Array<Jsonb>,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, delay integer)`
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_delay(queue_name: QueueNameText, msgs: Array<Jsonb>, delay: Integer) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, delay timestamptz)`
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_delay_at(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        delay: Timestamptz,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, headers, delay integer)`
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_headers_delay(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        headers: Array<Jsonb>,
        delay: Integer,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, headers, delay timestamptz)`
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_headers_delay_at(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        headers: Array<Jsonb>,
        delay: Timestamptz,
    ) -> BigInt;
    /// `pgmq.delete(queue_name, msg_id)`: whether it was there.
    #[sql_name = "pgmq.delete"]
    fn delete(queue_name: QueueNameText, msg_id: BigInt) -> Bool;
    /// `pgmq.delete(queue_name, msg_ids)`: the ids deleted.
    #[sql_name = "pgmq.delete"]
    fn delete_batch(queue_name: QueueNameText, msg_ids: Array<BigInt>) -> BigInt;
    /// `pgmq.archive(queue_name, msg_id)`: whether it was there.
    #[sql_name = "pgmq.archive"]
    fn archive(queue_name: QueueNameText, msg_id: BigInt) -> Bool;
    /// `pgmq.archive(queue_name, msg_ids)`: the ids archived.
    #[sql_name = "pgmq.archive"]
    fn archive_batch(queue_name: QueueNameText, msg_ids: Array<BigInt>) -> BigInt;
    /// `pgmq.create_fifo_index(queue_name)`
    #[sql_name = "pgmq.create_fifo_index"]
    fn create_fifo_index(queue_name: QueueNameText) -> Void;
    /// `pgmq.create_fifo_indexes_all()`: `create_fifo_index` on every existing queue.
    #[sql_name = "pgmq.create_fifo_indexes_all"]
    fn create_fifo_indexes_all() -> Void;
    /// `pgmq.enable_notify_insert(queue_name, throttle_interval_ms)`
    #[sql_name = "pgmq.enable_notify_insert"]
    fn enable_notify_insert(queue_name: QueueNameText, throttle_interval_ms: Integer) -> Void;
    /// `pgmq.update_notify_insert(queue_name, throttle_interval_ms)`
    #[sql_name = "pgmq.update_notify_insert"]
    fn update_notify_insert(queue_name: QueueNameText, throttle_interval_ms: Integer) -> Void;
    /// `pgmq.disable_notify_insert(queue_name)`
    #[sql_name = "pgmq.disable_notify_insert"]
    fn disable_notify_insert(queue_name: QueueNameText) -> Void;
    /// `pgmq.bind_topic(pattern, queue_name)`
    #[sql_name = "pgmq.bind_topic"]
    fn bind_topic(pattern: Text, queue_name: QueueNameText) -> Void;
    /// `pgmq.unbind_topic(pattern, queue_name)`: whether a binding was removed.
    #[sql_name = "pgmq.unbind_topic"]
    fn unbind_topic(pattern: Text, queue_name: QueueNameText) -> Bool;
    /// `pgmq.send_topic(routing_key, msg)`: how many queues received it.
    #[sql_name = "pgmq.send_topic"]
    fn send_topic(routing_key: Text, msg: Jsonb) -> Integer;
    /// `pgmq.send_topic(routing_key, msg, delay)`
    #[sql_name = "pgmq.send_topic"]
    fn send_topic_delay(routing_key: Text, msg: Jsonb, delay: Integer) -> Integer;
    /// `pgmq.send_topic(routing_key, msg, headers, delay)`
    #[sql_name = "pgmq.send_topic"]
    fn send_topic_headers_delay(
        routing_key: Text,
        msg: Jsonb,
        headers: Nullable<Jsonb>,
        delay: Integer,
    ) -> Integer;
}
