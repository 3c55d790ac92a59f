//! PGMQ for Diesel: every pgmq function as a typed, composable Diesel query, for sync
//! Diesel (`PgConnection`, r2d2) and diesel-async (`AsyncPgConnection`, bb8).
//!
//! Three layers, each built on the one below:
//!
//! - [`functions`]: pgmq's scalar SQL functions declared with
//!   `#[diesel::declare_sql_function]`, one Rust name per overload (`send`, `send_delay`,
//!   `send_headers_delay_at`, ...), for `diesel::select(..)`, CTEs and subqueries.
//! - [`query`]: one statement per row-returning function, selecting pgmq's columns by
//!   name (`SELECT msg_id, read_ct, ... FROM pgmq.read($1, $2, $3)`), runnable with sync
//!   Diesel's and diesel-async's `RunQueryDsl` alike.
//! - [`PgmqConnectionExt`] / [`PgmqAsyncConnectionExt`] (one method per operation,
//!   returning core types and the core [`Error`]) and the typed [`Queue`] handle.
//!
//! [`OutboxExt::enqueue`] turns an `insert_into` / `update` / `delete` into a
//! transactional outbox of one statement: every returned row is also sent to a queue,
//! and comes back paired with its message id (see [`outbox`]).
//!
//! Everything runs on the connection you pass, so a send inside
//! `conn.transaction(..)` commits or rolls back with your own writes.
//!
//! | feature | gives | links libpq |
//! |---|---|---|
//! | `sync` | [`PgmqConnectionExt`] for `PgConnection`, r2d2 pool errors | yes |
//! | `async` | [`PgmqAsyncConnectionExt`] for diesel-async connections | no |
//! | `bb8` | bb8 pool errors (`error::from_bb8`) | no |
//! | `consumer` | the tokio consumer runtime on a bb8 pool (`consumer`) and the dead-letter toolkit (`dead_letter`) | no |
//! | `migrations` | pgmq steps for `diesel_migrations`, run on a `PgConnection` (`sync`) or diesel-async's `AsyncConnectionWrapper` (`async`) | only with `sync` |
//! | `install-sql` | pgmq's SQL-only install for servers without the extension | only with `sync` |
//!
//! Compared with writing the SQL by hand, the statements here bind every value, pick the
//! right overload from [`Delay`] / [`VisibilityTimeout`], validate queue names before any
//! SQL, and decode rows by column name into [`Message<T, H>`]. Compared with the upstream
//! `pgmq` crate's Diesel support, this crate works on sync Diesel without an async
//! runtime, documents every expression, covers each overload under its own name, offers a
//! typed queue handle, and leaves libpq out unless `sync` is enabled.
//!
//! ```
//! # #[cfg(feature = "sync")] {
//! use diesel::{Connection, PgConnection};
//! use diesel_pgmq::{BatchSize, PgmqConnectionExt, VisibilityTimeout};
//! # let db = pgmq_harness::TestDb::new();
//! # let mut conn = PgConnection::establish(db.url())?;
//! conn.create_queue("orders")?;
//! conn.send("orders", &serde_json::json!({"order_id": 1}))?;
//! let msgs = conn.read::<serde_json::Value>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE)?;
//! assert!(conn.delete("orders", msgs[0].msg_id)?);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use pgmq_orm_core::api::*;

#[cfg(any(feature = "sync", feature = "async"))]
pub mod connection;
#[cfg(feature = "consumer")]
pub mod consumer;
#[cfg(feature = "consumer")]
pub mod dead_letter;
pub mod error;
pub mod functions;
mod jsonb;
pub mod outbox;
pub mod query;
pub mod queue;
pub mod sources;

#[cfg(feature = "async")]
pub use connection::PgmqAsyncConnectionExt;
#[cfg(feature = "sync")]
pub use connection::PgmqConnectionExt;
pub use outbox::{Outbox, OutboxExt, Payload};
pub use queue::Queue;

#[cfg(feature = "migrations")]
pub mod migrations;
pub mod schema;

// Observability (features `opentelemetry` and `metrics`): the core's module, whole.
#[cfg(any(feature = "opentelemetry", feature = "metrics"))]
pub use pgmq_orm_core::observe;
