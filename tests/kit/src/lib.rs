//! A test kit for applications that use [`diesel-pgmq`] or [`sea-orm-pgmq`]: a real
//! PostgreSQL with the real pgmq for every test, assertions on what the code under test
//! sent to a queue, and the application's consumer run inline.
//!
//! - **A database per test** ([`TestDb`]): with `DATABASE_URL` set, that server is used
//!   (its user must be allowed to create databases); otherwise a throwaway cluster is
//!   started once per test process from the PostgreSQL server binaries on `PATH` or under
//!   `/usr/lib/postgresql/*/bin` (`initdb` into a temp dir, `fsync` off, a free loopback
//!   port; as root, the server runs as the `postgres` OS user). A watchdog stops it and
//!   removes its directory once the process exits, however it exits. pgmq is installed
//!   once per server into a template (`CREATE EXTENSION pgmq` where the server has it,
//!   else the SQL scripts of the upstream `pgmq` crate); each [`TestDb`] is a fresh clone
//!   of it (about 50 ms), dropped with the `TestDb` (`PGMQ_KEEP_TEST_DB=1` keeps it).
//!   [`TestDb::with_template`] clones a template of the application's own (its schema
//!   migrated once). [`PrivateCluster`] is a server of the test's own, to stop, restart
//!   or freeze.
//! - **What was sent** ([`diesel`], [`diesel_async`], [`sea_orm`]): `sent::<T>(conn,
//!   queue)`, `assert_sent(conn, queue, predicate)` and `assert_not_sent` read the queue's
//!   table without consuming anything, on the test's connection, so also inside an open,
//!   uncommitted transaction.
//! - **The consumer inline** ([`inline`]): the application's consumer (plain or
//!   transactional) processes what the test enqueued, and the test gets each message's
//!   outcome.
//!
//! | feature | gives |
//! |---|---|
//! | `diesel` | [`diesel`]: the helpers on sync Diesel's `PgConnection` (links libpq) |
//! | `diesel-async` | [`diesel_async`]: the helpers on diesel-async's `AsyncPgConnection` |
//! | `sea-orm` | [`sea_orm`]: the helpers on any SeaORM `ConnectionTrait` |
//! | `consumer` | [`inline`]: a consumer run inline, with outcomes |
//!
//! Everything here is test support: it panics with the reason when no server can be had,
//! and the assertions panic with what the queue holds.
//!
//! ```
//! let db = pgmq_orm_test::TestDb::new();
//! assert!(db.url().starts_with("postgres://"));
//! assert!(pgmq_orm_test::pgmq_version().starts_with("1."));
//! ```
//!
//! [`diesel-pgmq`]: https://docs.rs/diesel-pgmq
//! [`sea-orm-pgmq`]: https://docs.rs/sea-orm-pgmq

mod cluster;
mod db;
#[cfg(feature = "diesel")]
pub mod diesel;
#[cfg(feature = "diesel-async")]
pub mod diesel_async;
#[cfg(any(feature = "diesel", feature = "diesel-async"))]
mod diesel_rows;
#[cfg(feature = "consumer")]
pub mod inline;
#[cfg_attr(
    not(any(feature = "diesel", feature = "diesel-async", feature = "sea-orm")),
    allow(dead_code)
)]
mod peek;
#[cfg(feature = "sea-orm")]
pub mod sea_orm;

pub use cluster::PrivateCluster;
pub use db::{REQUIRE_EXTENSIONS_VAR, TestDb, database_url, pgmq_version, skip_for_missing};

/// The README's example, run as a doctest so that it stays true.
#[cfg(all(doctest, feature = "diesel"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
