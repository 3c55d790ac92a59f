//! PGMQ for SeaORM 2: every pgmq function as a sea-query expression, run on any
//! `ConnectionTrait` (a `DatabaseConnection` or your `DatabaseTransaction`).
//!
//! [PGMQ](https://github.com/pgmq/pgmq) keeps each queue in a table (`pgmq.q_<name>`)
//! and drives it with SQL functions (`pgmq.send`, `pgmq.read`, ...). Because a queue is
//! just tables, a message can be sent in the same transaction as your entity writes: it
//! commits with them or disappears with a rollback. This crate makes that natural in
//! SeaORM, in three layers:
//!
//! - [`functions`]: each pgmq function (every overload) as a sea-query
//!   [`FunctionCall`](sea_orm::sea_query::FunctionCall) with bound arguments, to compose
//!   into your own statements.
//! - [`query`]: ready-made `SELECT`s that name their columns (`SELECT msg_id, read_ct, ...
//!   FROM pgmq.read(...)`), and `FromQueryResult` row types for them.
//! - [`PgmqConnectionExt`] (methods on every connection and transaction) and the typed
//!   [`Queue<T, H>`](Queue) handle, returning the shared [`Error`]; [`into_pgmq_error`]
//!   classifies SeaORM's `DbErr` by SQLSTATE ([`Error::QueueMissing`], ...).
//!
//! [`OutboxExt::enqueue`] turns an entity insert (or any sea-query insert, update or
//! delete with `RETURNING`) into a transactional outbox of one statement: every returned
//! row is also sent to a queue, and comes back paired with its message id (see
//! [`outbox`]).
//!
//! The crate picks no async runtime or TLS backend: enable SeaORM's `runtime-*` feature
//! in your application as usual. The `migration` feature adds sea-orm-migration steps
//! that install pgmq and create queues.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = pgmq_harness::TestDb::new();
//! # let conn = sea_orm::Database::connect(db.url()).await?;
//! use sea_orm::TransactionTrait;
//! use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, Queue, VisibilityTimeout};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct OrderCreated { order_id: i64 }
//!
//! conn.create_queue("orders").await?;
//! let orders: Queue<OrderCreated> = Queue::new("orders")?;
//!
//! // Sent inside a transaction (next to your ActiveModel inserts): visible on commit.
//! let txn = conn.begin().await?;
//! orders.send(&txn, &OrderCreated { order_id: 42 }).await?;
//! txn.commit().await?;
//!
//! let msgs = orders.read(&conn, VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
//! assert_eq!(msgs[0].message, OrderCreated { order_id: 42 });
//! orders.delete(&conn, msgs[0].msg_id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Pool settings for throughput
//!
//! Every method is one statement and one round trip (the `round_trips` test counts them).
//! On a `DatabaseConnection`, though, each call also acquires a pooled connection and
//! gives it back, and with the defaults that costs two more round trips: SeaORM's
//! `test_before_acquire` (on by default) pings the connection before the call, and sqlx
//! always pings it again when it returns to the pool. Measured through a relay that adds
//! about 5 ms to each request (one bare round trip took 7.2-7.6 ms), one `send` took:
//!
//! | pool | per `send` | requests per `send` |
//! |---|---|---|
//! | 1 connection, SeaORM defaults | 24 ms | 3 |
//! | 1 connection, `test_before_acquire(false)` | 15-17 ms | 2 |
//! | 2 connections, `test_before_acquire(true)` | 15-17 ms | 3 |
//! | 2 connections, `test_before_acquire(false)` | 8.8-9.0 ms | 2 |
//! | 2 connections, `test_before_acquire_if_idle_for(30 s)` | 8.7-9.0 ms | 2 |
//! | raw sqlx `PgConnection`, no pool | 7.2-7.6 ms | 1 |
//!
//! So for queue workers: turn the per-acquire ping off (or use
//! `test_before_acquire_if_idle_for`, which only pings connections idle that long). Where
//! latency is the limit, also give the pool at least one connection more than the tasks
//! that call it concurrently, so that the release ping of one connection overlaps the next
//! call on another; where the server's CPU is the limit (many workers on few cores) the
//! extra connections buy nothing, but the per-acquire ping still costs a request per call.
//! Batches (`send_batch`, `read` of many then `delete_batch`) and several calls inside one
//! `DatabaseTransaction` (one acquire, one release) amortise the rest.
//!
//! A worker that loops over queue calls can skip the pool altogether: a
//! [`PinnedConnection`] checks one connection out of the `DatabaseConnection` once and
//! runs every statement on it, one request per call with any pool settings (the
//! `round_trips` test counts them), and goes back to the pool when dropped. It implements
//! `ConnectionTrait`, so the extension methods, [`Queue`] and entity queries take it as
//! they take the pool.
//!
//! ```no_run
//! # async fn f() -> Result<(), sea_orm::DbErr> {
//! use std::time::Duration;
//! let workers = 8;
//! let mut options = sea_orm::ConnectOptions::new("postgres://app@localhost/app");
//! options
//!     .max_connections(workers + 1)
//!     .min_connections(workers + 1)
//!     .test_before_acquire_if_idle_for(Duration::from_secs(30));
//! let db = sea_orm::Database::connect(options).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Compared with other clients
//!
//! No other SeaORM integration for pgmq exists; the upstream `pgmq` crate uses its own
//! sqlx pool and cannot join a SeaORM transaction. pgmq-sqlalchemy (Python) maps rows by
//! position and broke when pgmq 1.10 added `last_read_at`; here every row is selected and
//! decoded by column name, so pgmq adding or reordering columns changes nothing.

pub use pgmq_orm_core::api::*;

mod connection;
#[cfg(feature = "consumer")]
pub mod consumer;
#[cfg(feature = "consumer")]
pub mod dead_letter;
mod error;
pub mod functions;
pub mod outbox;
mod pinned;
pub mod query;
mod queue;

pub use connection::PgmqConnectionExt;
pub use error::into_pgmq_error;
pub use outbox::{Outbox, OutboxExt, Payload};
pub use pinned::PinnedConnection;
pub use queue::Queue;

pub mod entity;
#[cfg(feature = "migration")]
pub mod migration;

// Observability (features `opentelemetry` and `metrics`): the core's module, whole.
#[cfg(any(feature = "opentelemetry", feature = "metrics"))]
pub use pgmq_orm_core::observe;
