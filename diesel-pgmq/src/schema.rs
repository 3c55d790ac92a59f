//! Typed Diesel tables for a queue's `pgmq.q_<name>` and `pgmq.a_<name>` tables, so you
//! can query a queue and its archive with Diesel's DSL: peek without claiming, count,
//! find by `msg_id`, join with your own tables.
//!
//! Declare them with [`pgmq_tables!`](crate::pgmq_tables) and load rows as [`QueueRow`] /
//! [`ArchiveRow`]. Reading these tables never changes a message's visibility; to claim
//! messages use pgmq's functions (`pgmq.read`), which keep the visibility-timeout contract.
//!
//! ```
//! use diesel::prelude::*;
//! use diesel_pgmq::schema::{ArchiveRow, QueueRow};
//!
//! diesel_pgmq::pgmq_tables! {
//!     /// The `orders` queue.
//!     pub mod orders { queue: q_orders, archive: a_orders }
//! }
//!
//! # #[cfg(feature = "sync")] {
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! diesel::sql_query("SELECT pgmq.create('orders')").execute(&mut conn)?;
//! diesel::sql_query(r#"SELECT pgmq.send('orders', '{"id": 1}')"#).execute(&mut conn)?;
//!
//! // Peek: the oldest visible messages, without claiming them.
//! let visible: Vec<QueueRow> = orders::queue::table
//!     .filter(orders::queue::vt.le(diesel::dsl::now))
//!     .order(orders::queue::msg_id)
//!     .limit(10)
//!     .load(&mut conn)?;
//! assert_eq!(visible[0].message, Some(serde_json::json!({"id": 1})));
//! let archived: i64 = orders::archive::table.count().get_result(&mut conn)?;
//! assert_eq!(archived, 0);
//! assert_eq!(orders::QUEUE.as_str(), "orders");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Joining with your own tables
//!
//! The tables are Diesel tables in the `pgmq` schema, so they join with yours once
//! Diesel is told they may appear in the same query
//! (`allow_tables_to_appear_in_same_query!`, which takes the tables' own identifiers:
//! `q_<name>` / `a_<name>`, imported from the queue's module). Here each order keeps the
//! id of the message that announced it:
//!
//! ```
//! use diesel::prelude::*;
//! use diesel_pgmq::PgmqConnectionExt;
//!
//! diesel_pgmq::pgmq_tables! {
//!     /// Order events.
//!     pub mod order_events { queue: q_order_events, archive: a_order_events }
//! }
//! diesel::table! { orders (id) { id -> Int4, item -> Text, msg_id -> Int8 } }
//! use order_events::q_order_events;
//! diesel::allow_tables_to_appear_in_same_query!(orders, q_order_events);
//!
//! # #[cfg(feature = "sync")] {
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, msg_id bigint NOT NULL)").execute(&mut conn)?;
//! conn.create_queue(order_events::QUEUE)?;
//! let msg_id = conn.send(order_events::QUEUE, &serde_json::json!({"item": "book"}))?;
//! diesel::insert_into(orders::table)
//!     .values((orders::item.eq("book"), orders::msg_id.eq(msg_id)))
//!     .execute(&mut conn)?;
//!
//! // Orders whose announcement is still queued, with how often it was read.
//! let pending: Vec<(String, i32)> = orders::table
//!     .inner_join(order_events::queue::table.on(order_events::queue::msg_id.eq(orders::msg_id)))
//!     .select((orders::item, order_events::queue::read_ct))
//!     .load(&mut conn)?;
//! assert_eq!(pending, [("book".to_owned(), 0)]);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Utc};
use diesel::Queryable;
use serde_json::Value;

/// A row of a queue table `pgmq.q_<name>`, in column order (load it from
/// `<queue>::queue::table`).
///
/// ```
/// # use diesel_pgmq::schema::QueueRow;
/// fn visible(row: &QueueRow) -> bool { row.vt <= chrono::Utc::now() }
/// ```
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct QueueRow {
    /// The message id.
    pub msg_id: i64,
    /// How often the message was read.
    pub read_ct: i32,
    /// When it was sent.
    pub enqueued_at: DateTime<Utc>,
    /// When it was last read, if ever.
    pub last_read_at: Option<DateTime<Utc>>,
    /// When it becomes (or became) visible.
    pub vt: DateTime<Utc>,
    /// The payload.
    pub message: Option<Value>,
    /// The headers.
    pub headers: Option<Value>,
}

/// A row of an archive table `pgmq.a_<name>`, in column order (load it from
/// `<queue>::archive::table`).
///
/// ```
/// # use diesel_pgmq::schema::ArchiveRow;
/// fn age(row: &ArchiveRow) -> chrono::TimeDelta { row.archived_at - row.enqueued_at }
/// ```
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct ArchiveRow {
    /// The message id.
    pub msg_id: i64,
    /// How often the message was read.
    pub read_ct: i32,
    /// When it was sent.
    pub enqueued_at: DateTime<Utc>,
    /// When it was last read, if ever.
    pub last_read_at: Option<DateTime<Utc>>,
    /// When it was archived.
    pub archived_at: DateTime<Utc>,
    /// Its visibility timeout when archived.
    pub vt: DateTime<Utc>,
    /// The payload.
    pub message: Option<Value>,
    /// The headers.
    pub headers: Option<Value>,
}

/// Declares Diesel tables for a queue: a module named after the queue holding
/// `queue` (`pgmq.q_<name>`), `archive` (`pgmq.a_<name>`) and the const `QUEUE`, a
/// [`QueueName`](crate::QueueName).
///
/// The table identifiers are spelled out (`macro_rules!` cannot glue identifiers) and
/// checked at compile time against the module name, as is the queue name itself. Your
/// crate needs `diesel` as a dependency (Diesel's `table!` refers to it).
///
/// ```
/// diesel_pgmq::pgmq_tables! {
///     /// Billing events.
///     pub mod billing_events { queue: q_billing_events, archive: a_billing_events }
/// }
/// use diesel::prelude::*;
/// let query = billing_events::queue::table.filter(billing_events::queue::msg_id.eq(7_i64));
/// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
/// assert!(sql.contains(r#""pgmq"."q_billing_events""#));
/// ```
///
/// A pgmq call per row of the queue table, in one statement: here every queued message
/// whose payload marks it obsolete is archived (`SELECT pgmq.archive($1, msg_id) FROM
/// pgmq.q_billing_events WHERE ..`):
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use diesel::prelude::*;
/// use diesel_pgmq::{functions, PgmqConnectionExt};
/// use serde_json::json;
/// diesel_pgmq::pgmq_tables! {
///     /// Billing events.
///     pub mod billing_events { queue: q_billing_events, archive: a_billing_events }
/// }
/// use billing_events::{archive, queue, QUEUE};
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// conn.create_queue(QUEUE)?;
/// for obsolete in [false, true, true] {
///     conn.send(QUEUE, &json!({ "obsolete": obsolete }))?;
/// }
/// let archived: Vec<bool> = queue::table
///     .filter(queue::message.contains(json!({"obsolete": true})))
///     .select(functions::archive(QUEUE, queue::msg_id))
///     .load(&mut conn)?;
/// assert_eq!(archived, [true, true]);
/// assert_eq!(archive::table.count().get_result::<i64>(&mut conn)?, 2);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A mismatch does not compile:
///
/// ```compile_fail
/// diesel_pgmq::pgmq_tables! { pub mod orders { queue: q_order, archive: a_orders } }
/// ```
#[macro_export]
macro_rules! pgmq_tables {
    ($(#[$attr:meta])* $vis:vis mod $queue:ident { queue: $q:ident, archive: $a:ident $(,)? }) => {
        $(#[$attr])*
        #[allow(missing_docs)]
        $vis mod $queue {
            /// The queue's name.
            pub const QUEUE: $crate::QueueName =
                $crate::QueueName::from_static(::core::stringify!($queue));

            const _: () = ::core::assert!(
                $crate::__table_matches(::core::stringify!($q), "q_", ::core::stringify!($queue)),
                "pgmq_tables!: the queue table must be named q_<module name>"
            );
            const _: () = ::core::assert!(
                $crate::__table_matches(::core::stringify!($a), "a_", ::core::stringify!($queue)),
                "pgmq_tables!: the archive table must be named a_<module name>"
            );

            ::diesel::table! {
                /// The queue table: one row per message not yet deleted or archived.
                pgmq.$q (msg_id) {
                    /// The message id.
                    msg_id -> Int8,
                    /// How often the message was read.
                    read_ct -> Int4,
                    /// When it was sent.
                    enqueued_at -> Timestamptz,
                    /// When it was last read.
                    last_read_at -> Nullable<Timestamptz>,
                    /// When it becomes visible.
                    vt -> Timestamptz,
                    /// The payload.
                    message -> Nullable<Jsonb>,
                    /// The headers.
                    headers -> Nullable<Jsonb>,
                }
            }

            ::diesel::table! {
                /// The archive table: messages moved there by `pgmq.archive`.
                pgmq.$a (msg_id) {
                    /// The message id.
                    msg_id -> Int8,
                    /// How often the message was read.
                    read_ct -> Int4,
                    /// When it was sent.
                    enqueued_at -> Timestamptz,
                    /// When it was last read.
                    last_read_at -> Nullable<Timestamptz>,
                    /// When it was archived.
                    archived_at -> Timestamptz,
                    /// Its visibility timeout when archived.
                    vt -> Timestamptz,
                    /// The payload.
                    message -> Nullable<Jsonb>,
                    /// The headers.
                    headers -> Nullable<Jsonb>,
                }
            }

            pub use self::$a as archive;
            pub use self::$q as queue;
        }
    };
}
