//! pgmq's scalar-returning SQL functions as Diesel expressions, for composing your own
//! statements: `diesel::select(..)`, a select list over your table (a message per row),
//! `INSERT ... SELECT`, subqueries, filters. (Diesel has no `WITH` builder; the
//! outbox's one-statement CTE is [`crate::outbox`].)
//!
//! Each pgmq overload has its own Rust name (Rust has no overloading), chosen after the
//! arguments it takes: `send_headers_delay_at` is `pgmq.send(queue, msg, headers, timestamptz)`.
//! Functions returning records (`pgmq.read`, `pgmq.metrics`, ...) are statements in
//! [`crate::query`], which selects their columns by name, and typed query sources in
//! [`crate::sources`], for `FROM`, joins and subqueries.
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
///
/// ```
/// use diesel_pgmq::functions::{create, Void};
/// use diesel_pgmq::QueueName;
/// fn returns_void<E: diesel::Expression<SqlType = Void>>(_: &E) {}
/// returns_void(&create(QueueName::from_static("jobs")));
/// ```
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(name = "void"))]
pub struct Void;

#[declare_sql_function]
extern "SQL" {
    /// `pgmq.create(queue_name)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::create;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// diesel::select(create(&jobs)).execute(&mut conn)?;
    /// assert_eq!(conn.list_queues()?.len(), 1);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.create"]
    fn create(queue_name: QueueNameText) -> Void;
    /// `pgmq.create_unlogged(queue_name)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::create_unlogged;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// diesel::select(create_unlogged(&jobs)).execute(&mut conn)?;
    /// assert!(conn.list_queues()?[0].is_unlogged);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.create_unlogged"]
    fn create_unlogged(queue_name: QueueNameText) -> Void;
    /// `pgmq.create_partitioned(queue_name, partition_interval, retention_interval, premake)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::create_partitioned;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # if !db.optional_extension("pg_partman", "functions::create_partitioned") { return Ok(()); }
    /// diesel::select(create_partitioned(&jobs, "10000", "100000", 10)).execute(&mut conn)?;
    /// assert!(conn.list_queues()?[0].is_partitioned);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.create_partitioned"]
    fn create_partitioned(
        queue_name: QueueNameText,
        partition_interval: Text,
        retention_interval: Text,
        premake: Integer,
    ) -> Void;
    /// `pgmq.drop_queue(queue_name)`: whether the queue existed.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::drop_queue;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let existed: bool = diesel::select(drop_queue(&jobs)).get_result(&mut conn)?;
    /// assert!(existed);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.drop_queue"]
    fn drop_queue(queue_name: QueueNameText) -> Bool;
    /// `pgmq.purge_queue(queue_name)`: how many messages were deleted.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::purge_queue;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::send(&jobs, json!(1))).execute(&mut conn)?;
    /// let purged: i64 = diesel::select(purge_queue(&jobs)).get_result(&mut conn)?;
    /// assert_eq!(purged, 1);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.purge_queue"]
    fn purge_queue(queue_name: QueueNameText) -> BigInt;
    /// `pgmq.detach_archive(queue_name)`: deprecated no-op in pgmq 1.13.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::detach_archive;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// diesel::select(detach_archive(&jobs)).execute(&mut conn)?;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.detach_archive"]
    fn detach_archive(queue_name: QueueNameText) -> Void;
    /// `pgmq.send(queue_name, msg)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// diesel::table! { orders (id) { id -> Int4 } }
    /// #[diesel::expression::functions::declare_sql_function]
    /// extern "SQL" { fn to_jsonb(x: diesel::sql_types::Int4) -> diesel::sql_types::Jsonb; }
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::sql_query("CREATE TABLE orders (id int PRIMARY KEY)").execute(&mut conn)?;
    /// # diesel::sql_query("INSERT INTO orders VALUES (1), (2), (3)").execute(&mut conn)?;
    /// let id: i64 = diesel::select(send(&jobs, json!({"n": 1}))).get_result(&mut conn)?;
    /// // A message per row, in one statement: the payload is an expression over the row.
    /// let ids: Vec<i64> = orders::table
    ///     .filter(orders::id.gt(1))
    ///     .select(send(&jobs, to_jsonb(orders::id)))
    ///     .load(&mut conn)?;
    /// assert_eq!((id, ids.len()), (1, 2));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send"]
    fn send(queue_name: QueueNameText, msg: Jsonb) -> BigInt;
    /// `pgmq.send(queue_name, msg, headers)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_headers;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let headers = Some(json!({"trace": "t1"}));
    /// let id: i64 = diesel::select(send_headers(&jobs, json!({"n": 1}), headers)).get_result(&mut conn)?;
    /// let msg = conn.read::<serde_json::Value>(&jobs, 30.into(), 1.try_into()?)?.strict()?.remove(0);
    /// assert_eq!((msg.msg_id, msg.headers), (id, Some(json!({"trace": "t1"}))));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send"]
    fn send_headers(queue_name: QueueNameText, msg: Jsonb, headers: Nullable<Jsonb>) -> BigInt;
    /// `pgmq.send(queue_name, msg, delay integer)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_delay;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// diesel::select(send_delay(&jobs, json!(1), 60)).execute(&mut conn)?;
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty()); // visible in 60 s
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send"]
    fn send_delay(queue_name: QueueNameText, msg: Jsonb, delay: Integer) -> BigInt;
    /// `pgmq.send(queue_name, msg, delay timestamptz)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_delay_at;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let at = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    /// diesel::select(send_delay_at(&jobs, json!(1), at)).execute(&mut conn)?;
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send"]
    fn send_delay_at(queue_name: QueueNameText, msg: Jsonb, delay: Timestamptz) -> BigInt;
    /// `pgmq.send(queue_name, msg, headers, delay integer)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_headers_delay;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let headers = Some(json!({"trace": "t1"}));
    /// diesel::select(send_headers_delay(&jobs, json!(1), headers, 60)).execute(&mut conn)?;
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send"]
    fn send_headers_delay(
        queue_name: QueueNameText,
        msg: Jsonb,
        headers: Nullable<Jsonb>,
        delay: Integer,
    ) -> BigInt;
    /// `pgmq.send(queue_name, msg, headers, delay timestamptz)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_headers_delay_at;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let at = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    /// diesel::select(send_headers_delay_at(&jobs, json!(1), None::<serde_json::Value>, at)).execute(&mut conn)?;
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send"]
    fn send_headers_delay_at(
        queue_name: QueueNameText,
        msg: Jsonb,
        headers: Nullable<Jsonb>,
        delay: Timestamptz,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_batch;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// // A set-returning function: one row per message id.
    /// let ids: Vec<i64> = diesel::select(send_batch(&jobs, vec![json!(1), json!(2)])).load(&mut conn)?;
    /// assert_eq!(ids, [1, 2]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_batch"]
    fn send_batch(queue_name: QueueNameText, msgs: Array<Jsonb>) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, headers)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_batch_headers;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let msgs = vec![json!(1), json!(2)];
    /// let headers = vec![json!({"k": "a"}), json!({"k": "b"})];
    /// let ids: Vec<i64> = diesel::select(send_batch_headers(&jobs, msgs, headers)).load(&mut conn)?;
    /// assert_eq!(ids.len(), 2);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_headers(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        headers: Array<Jsonb>,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, delay integer)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_batch_delay;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let ids: Vec<i64> = diesel::select(send_batch_delay(&jobs, vec![json!(1)], 60)).load(&mut conn)?;
    /// assert_eq!(ids.len(), 1);
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_delay(queue_name: QueueNameText, msgs: Array<Jsonb>, delay: Integer) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, delay timestamptz)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_batch_delay_at;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let at = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    /// let ids: Vec<i64> = diesel::select(send_batch_delay_at(&jobs, vec![json!(1)], at)).load(&mut conn)?;
    /// assert_eq!(ids.len(), 1);
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_delay_at(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        delay: Timestamptz,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, headers, delay integer)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_batch_headers_delay;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let q = send_batch_headers_delay(&jobs, vec![json!(1)], vec![json!({"k": "a"})], 60);
    /// let ids: Vec<i64> = diesel::select(q).load(&mut conn)?;
    /// assert_eq!(ids.len(), 1);
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_headers_delay(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        headers: Array<Jsonb>,
        delay: Integer,
    ) -> BigInt;
    /// `pgmq.send_batch(queue_name, msgs, headers, delay timestamptz)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_batch_headers_delay_at;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// let at = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    /// let q = send_batch_headers_delay_at(&jobs, vec![json!(1)], vec![json!({"k": "a"})], at);
    /// let ids: Vec<i64> = diesel::select(q).load(&mut conn)?;
    /// assert_eq!(ids.len(), 1);
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_batch"]
    fn send_batch_headers_delay_at(
        queue_name: QueueNameText,
        msgs: Array<Jsonb>,
        headers: Array<Jsonb>,
        delay: Timestamptz,
    ) -> BigInt;
    /// `pgmq.delete(queue_name, msg_id)`: whether it was there.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::delete;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # let id: i64 = diesel::select(diesel_pgmq::functions::send(&jobs, json!(1))).get_result(&mut conn)?;
    /// let deleted: bool = diesel::select(delete(&jobs, id)).get_result(&mut conn)?;
    /// assert!(deleted);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.delete"]
    fn delete(queue_name: QueueNameText, msg_id: BigInt) -> Bool;
    /// `pgmq.delete(queue_name, msg_ids)`: the ids deleted.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::delete_batch;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # let id: i64 = diesel::select(diesel_pgmq::functions::send(&jobs, json!(1))).get_result(&mut conn)?;
    /// let deleted: Vec<i64> = diesel::select(delete_batch(&jobs, vec![id, 99])).load(&mut conn)?;
    /// assert_eq!(deleted, [id]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.delete"]
    fn delete_batch(queue_name: QueueNameText, msg_ids: Array<BigInt>) -> BigInt;
    /// `pgmq.archive(queue_name, msg_id)`: whether it was there.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::archive;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # let id: i64 = diesel::select(diesel_pgmq::functions::send(&jobs, json!(1))).get_result(&mut conn)?;
    /// let archived: bool = diesel::select(archive(&jobs, id)).get_result(&mut conn)?;
    /// assert!(archived);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.archive"]
    fn archive(queue_name: QueueNameText, msg_id: BigInt) -> Bool;
    /// `pgmq.archive(queue_name, msg_ids)`: the ids archived.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::archive_batch;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # let id: i64 = diesel::select(diesel_pgmq::functions::send(&jobs, json!(1))).get_result(&mut conn)?;
    /// let archived: Vec<i64> = diesel::select(archive_batch(&jobs, vec![id, 99])).load(&mut conn)?;
    /// assert_eq!(archived, [id]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.archive"]
    fn archive_batch(queue_name: QueueNameText, msg_ids: Array<BigInt>) -> BigInt;
    /// `pgmq.create_fifo_index(queue_name)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::create_fifo_index;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// diesel::select(create_fifo_index(&jobs)).execute(&mut conn)?;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.create_fifo_index"]
    fn create_fifo_index(queue_name: QueueNameText) -> Void;
    /// `pgmq.create_fifo_indexes_all()`: `create_fifo_index` on every existing queue.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::create_fifo_indexes_all;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// diesel::select(create_fifo_indexes_all()).execute(&mut conn)?;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.create_fifo_indexes_all"]
    fn create_fifo_indexes_all() -> Void;
    /// `pgmq.enable_notify_insert(queue_name, throttle_interval_ms)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::enable_notify_insert;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// diesel::select(enable_notify_insert(&jobs, 250)).execute(&mut conn)?;
    /// assert_eq!(conn.list_notify_insert_throttles()?[0].throttle_interval_ms, 250);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.enable_notify_insert"]
    fn enable_notify_insert(queue_name: QueueNameText, throttle_interval_ms: Integer) -> Void;
    /// `pgmq.update_notify_insert(queue_name, throttle_interval_ms)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::update_notify_insert;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::enable_notify_insert(&jobs, 250)).execute(&mut conn)?;
    /// diesel::select(update_notify_insert(&jobs, 500)).execute(&mut conn)?;
    /// assert_eq!(conn.list_notify_insert_throttles()?[0].throttle_interval_ms, 500);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.update_notify_insert"]
    fn update_notify_insert(queue_name: QueueNameText, throttle_interval_ms: Integer) -> Void;
    /// `pgmq.disable_notify_insert(queue_name)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::disable_notify_insert;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::enable_notify_insert(&jobs, 250)).execute(&mut conn)?;
    /// diesel::select(disable_notify_insert(&jobs)).execute(&mut conn)?;
    /// assert!(conn.list_notify_insert_throttles()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.disable_notify_insert"]
    fn disable_notify_insert(queue_name: QueueNameText) -> Void;
    /// `pgmq.bind_topic(pattern, queue_name)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::bind_topic;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// diesel::select(bind_topic("jobs.*", &jobs)).execute(&mut conn)?;
    /// let n: i32 = diesel::select(diesel_pgmq::functions::send_topic("jobs.created", json!(1))).get_result(&mut conn)?;
    /// assert_eq!(n, 1);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.bind_topic"]
    fn bind_topic(pattern: Text, queue_name: QueueNameText) -> Void;
    /// `pgmq.unbind_topic(pattern, queue_name)`: whether a binding was removed.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::unbind_topic;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::bind_topic("jobs.*", &jobs)).execute(&mut conn)?;
    /// let removed: bool = diesel::select(unbind_topic("jobs.*", &jobs)).get_result(&mut conn)?;
    /// assert!(removed);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.unbind_topic"]
    fn unbind_topic(pattern: Text, queue_name: QueueNameText) -> Bool;
    /// `pgmq.send_topic(routing_key, msg)`: how many queues received it.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_topic;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::bind_topic("jobs.#", &jobs)).execute(&mut conn)?;
    /// let queues: i32 = diesel::select(send_topic("jobs.eu.created", json!(1))).get_result(&mut conn)?;
    /// assert_eq!(queues, 1);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_topic"]
    fn send_topic(routing_key: Text, msg: Jsonb) -> Integer;
    /// `pgmq.send_topic(routing_key, msg, delay)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_topic_delay;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::bind_topic("jobs.#", &jobs)).execute(&mut conn)?;
    /// let queues: i32 = diesel::select(send_topic_delay("jobs.created", json!(1), 60)).get_result(&mut conn)?;
    /// assert_eq!(queues, 1);
    /// assert!(conn.read::<serde_json::Value>(&jobs, 30.into(), 10.try_into()?)?.strict()?.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_topic"]
    fn send_topic_delay(routing_key: Text, msg: Jsonb, delay: Integer) -> Integer;
    /// `pgmq.send_topic(routing_key, msg, headers, delay)`
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::functions::send_topic_headers_delay;
    /// use diesel_pgmq::{PgmqConnectionExt, QueueName};
    /// use serde_json::json;
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// # diesel::select(diesel_pgmq::functions::create(&jobs)).execute(&mut conn)?;
    /// # diesel::select(diesel_pgmq::functions::bind_topic("jobs.#", &jobs)).execute(&mut conn)?;
    /// let headers = Some(json!({"k": "v"}));
    /// let q = send_topic_headers_delay("jobs.created", json!(1), headers, 0);
    /// let queues: i32 = diesel::select(q).get_result(&mut conn)?;
    /// assert_eq!(queues, 1);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[sql_name = "pgmq.send_topic"]
    fn send_topic_headers_delay(
        routing_key: Text,
        msg: Jsonb,
        headers: Nullable<Jsonb>,
        delay: Integer,
    ) -> Integer;
}
