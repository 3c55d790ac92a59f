//! Schema migrations for [diesel_migrations]: install pgmq, create and drop queues.
//!
//! [`PgmqMigrations`] is a [`MigrationSource<Pg>`]: build it with the steps your project
//! needs and run it with Diesel's own [`MigrationHarness`], next to your embedded
//! migrations.
//!
//! ```
//! use diesel::prelude::*;
//! use diesel_migrations::MigrationHarness;
//! use diesel_pgmq::migrations::{PgmqMigrations, QueueSpec};
//! use diesel_pgmq::QueueName;
//!
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! let pgmq = PgmqMigrations::new()
//!     .install()
//!     .create_queue(QueueSpec::new(QueueName::new("orders")?).unlogged().notify_insert());
//! conn.run_pending_migrations(pgmq.clone())?;
//! assert!(!conn.has_pending_migration(pgmq)?);
//! let version = diesel_pgmq::migrations::check_pgmq(&mut conn)?;
//! assert!(version >= diesel_pgmq::MIN_PGMQ_VERSION);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! # Two ways to integrate
//!
//! 1. **Run them beside your own migrations** (above): `run_pending_migrations` twice, ours
//!    first. Our versions (`00000000pgmq0001`, `00000000pgmq0002`, ...: the step's position
//!    in the builder) share `__diesel_schema_migrations` with yours; Diesel ignores applied
//!    versions it does not know, so the two sources coexist. Only ever *append* steps:
//!    the version is the position, like a migration directory's name.
//! 2. **Generate SQL files** for `diesel migration generate`: [`PgmqMigration::up_sql`] and
//!    [`PgmqMigration::down_sql`] render a queue step as plain SQL (the install step needs
//!    code, so keep it in Rust).
//!
//! **The diesel CLI revert caveat.** `diesel migration revert` and `redo` revert the
//! highest applied version; our versions sort below any timestamp, so the CLI reverts your
//! migrations first, but once it reaches ours it stops with "unknown migration version",
//! since the CLI only knows your `migrations/` directory. Revert ours from code
//! (`conn.revert_last_migration(pgmq)` / `revert_all_migrations`).
//!
//! # Safety properties
//!
//! - Every step runs in Diesel's per-migration transaction and first takes
//!   `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`, so workers starting together do not race;
//!   a worker that lost the race re-runs the (idempotent) step and re-records its version
//!   instead of failing on a duplicate `__diesel_schema_migrations` row.
//! - Every step is idempotent; a failed step rolls back whole (pgmq's DDL is
//!   transactional), so no half-created queue stays behind. The one exception is the
//!   SQL-only install (`install-sql`), which the upstream installer commits on its own
//!   connection.
//! - Every value is a bound parameter.
//!
//! # Connections
//!
//! The steps run on a sync `PgConnection` (feature `sync`, links libpq) or, for
//! diesel-async applications, on diesel-async's
//! [`AsyncConnectionWrapper`](diesel_async::async_connection_wrapper::AsyncConnectionWrapper)
//! over an `AsyncPgConnection` (feature `async`; no libpq). The wrapper blocks on its own
//! runtime, so from async code run it in `tokio::task::spawn_blocking`:
//!
//! ```
//! # #[cfg(feature = "async")] {
//! use diesel::Connection;
//! use diesel_async::AsyncPgConnection;
//! use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
//! use diesel_pgmq::migrations::{run_pending_locked, PgmqMigrations};
//! # let db = pgmq_harness::TestDb::new();
//! # let url = db.url().to_owned();
//! # let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! # rt.block_on(async {
//! let ran = tokio::task::spawn_blocking(move || {
//!     let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
//!     run_pending_locked(&mut conn, PgmqMigrations::new().install())
//! })
//! .await??;
//! assert_eq!(ran, ["00000000pgmq0001"]);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

// Without `sync` or `async` the steps can be built and rendered as SQL files, but there is
// no connection to run them on: the code that runs them is compiled and unused.
#![cfg_attr(not(any(feature = "sync", feature = "async")), allow(dead_code))]

use std::fmt;

use diesel::connection::{BoxableConnection, LoadConnection};
use diesel::migration::{self, Migration, MigrationMetadata, MigrationName, MigrationSource};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_query;
use diesel::sql_types::{Bool, Int4, Int8, Nullable, Text};
#[doc(no_inline)]
pub use diesel_migrations::MigrationHarness;
use pgmq_orm_core::migrate::{self, Bind, Statement, install};
#[doc(no_inline)]
pub use pgmq_orm_core::migrate::{LOCK_KEY, QueueKind, QueueSpec, TableStorage};
use pgmq_orm_core::{Error, PgmqVersion, sql};

/// The migrations of one project, in order: build with [`PgmqMigrations::new`], add steps,
/// run with [`MigrationHarness::run_pending_migrations`].
///
/// ```
/// use diesel_pgmq::migrations::{PgmqMigrations, QueueSpec};
/// use diesel_pgmq::QueueName;
///
/// let m = PgmqMigrations::new()
///     .install()
///     .create_queue(QueueSpec::new(QueueName::from_static("orders")).fifo_index())
///     .drop_queue(QueueSpec::new(QueueName::from_static("legacy")));
/// let names: Vec<String> = m.steps().iter().map(|s| s.to_string()).collect();
/// assert_eq!(names, [
///     "00000000pgmq0001_install_pgmq",
///     "00000000pgmq0002_create_queue_orders",
///     "00000000pgmq0003_drop_queue_legacy",
/// ]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct PgmqMigrations {
    steps: Vec<PgmqMigration>,
}

impl PgmqMigrations {
    /// No steps yet.
    ///
    /// ```
    /// assert!(diesel_pgmq::migrations::PgmqMigrations::new().steps().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, kind: StepKind) -> Self {
        let version = format!("00000000pgmq{:04}", self.steps.len() + 1);
        self.steps.push(PgmqMigration { version, kind });
        self
    }

    /// Adds the install step: `CREATE EXTENSION IF NOT EXISTS pgmq` where the server offers
    /// the extension; nothing when pgmq is already installed (either way); otherwise it
    /// fails with [`Error::PgmqMissing`], whose source names the fix (the `install-sql`
    /// feature, or with it on, `install_or_sql`). It then checks the version
    /// ([`Error::PgmqTooOld`]). Reverting it removes pgmq only if this step installed it.
    ///
    /// ```
    /// let m = diesel_pgmq::migrations::PgmqMigrations::new().install();
    /// assert_eq!(m.steps().len(), 1);
    /// ```
    pub fn install(self) -> Self {
        self.push(StepKind::Install { sql_url: None })
    }

    /// Like [`install`](Self::install), but where the server lacks the extension it
    /// installs pgmq from the SQL scripts embedded in the pinned upstream `pgmq` crate,
    /// over a separate connection to `database_url` (committed on its own).
    ///
    /// ```
    /// let m = diesel_pgmq::migrations::PgmqMigrations::new()
    ///     .install_or_sql("postgres://localhost/app");
    /// assert_eq!(m.steps()[0].to_string(), "00000000pgmq0001_install_pgmq");
    /// ```
    #[cfg(feature = "install-sql")]
    pub fn install_or_sql(self, database_url: impl Into<String>) -> Self {
        self.push(StepKind::Install {
            sql_url: Some(database_url.into()),
        })
    }

    /// Adds a step creating the queue (reverted by dropping it).
    ///
    /// ```
    /// # use diesel_pgmq::{migrations::{PgmqMigrations, QueueSpec}, QueueName};
    /// let m = PgmqMigrations::new().create_queue(QueueSpec::new(QueueName::from_static("a")));
    /// assert!(m.steps()[0].up_sql()?.unwrap().contains("pgmq.create(E'a')"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn create_queue(self, spec: QueueSpec) -> Self {
        self.push(StepKind::CreateQueue(spec))
    }

    /// Adds a step dropping the queue (reverted by re-creating it as `spec` says; its
    /// messages are gone).
    ///
    /// ```
    /// # use diesel_pgmq::{migrations::{PgmqMigrations, QueueSpec}, QueueName};
    /// let m = PgmqMigrations::new().drop_queue(QueueSpec::new(QueueName::from_static("a")));
    /// assert!(m.steps()[0].up_sql()?.unwrap().contains("pgmq.drop_queue(E'a')"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn drop_queue(self, spec: QueueSpec) -> Self {
        self.push(StepKind::DropQueue(spec))
    }

    /// The steps, in order.
    ///
    /// ```
    /// assert_eq!(diesel_pgmq::migrations::PgmqMigrations::new().install().steps().len(), 1);
    /// ```
    pub fn steps(&self) -> &[PgmqMigration] {
        &self.steps
    }
}

impl MigrationSource<Pg> for PgmqMigrations {
    fn migrations(&self) -> migration::Result<Vec<Box<dyn Migration<Pg>>>> {
        Ok(self
            .steps
            .iter()
            .cloned()
            .map(|m| Box::new(m) as Box<dyn Migration<Pg>>)
            .collect())
    }
}

/// One step of [`PgmqMigrations`]: a Diesel [`Migration`] with a version and a name.
///
/// ```
/// # use diesel_pgmq::{migrations::{PgmqMigrations, QueueSpec}, QueueName};
/// let m = PgmqMigrations::new().create_queue(QueueSpec::new(QueueName::from_static("jobs")));
/// assert_eq!(m.steps()[0].to_string(), "00000000pgmq0001_create_queue_jobs");
/// ```
#[derive(Debug, Clone)]
pub struct PgmqMigration {
    version: String,
    kind: StepKind,
}

#[derive(Debug, Clone)]
enum StepKind {
    Install {
        #[cfg_attr(not(feature = "install-sql"), allow(dead_code))]
        sql_url: Option<String>,
    },
    CreateQueue(QueueSpec),
    DropQueue(QueueSpec),
}

impl fmt::Display for PgmqMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StepKind::Install { .. } => write!(f, "{}_install_pgmq", self.version),
            StepKind::CreateQueue(s) => write!(f, "{}_create_queue_{}", self.version, s.name()),
            StepKind::DropQueue(s) => write!(f, "{}_drop_queue_{}", self.version, s.name()),
        }
    }
}

impl MigrationName for PgmqMigration {
    fn version(&self) -> migration::MigrationVersion<'_> {
        self.version.as_str().into()
    }
}

#[derive(Debug)]
struct InTransaction;
impl MigrationMetadata for InTransaction {}

impl PgmqMigration {
    /// The queue step's `up` as plain SQL for a `diesel migration generate` file: the
    /// statements with their values inlined as quoted literals ([`migrate::render`]:
    /// `E'...'` strings, safe under either `standard_conforming_strings`). `Ok(None)` for
    /// the install step; [`Error::InvalidArgument`] for a value PostgreSQL text cannot
    /// hold (NUL).
    ///
    /// ```
    /// # use diesel_pgmq::{migrations::{PgmqMigrations, QueueSpec}, QueueName};
    /// let m = PgmqMigrations::new().create_queue(QueueSpec::new(QueueName::from_static("jobs")));
    /// std::fs::write(
    ///     std::env::temp_dir().join("pgmq_jobs_up.sql"),
    ///     m.steps()[0].up_sql()?.expect("a queue step"),
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn up_sql(&self) -> Result<Option<String>, Error> {
        match &self.kind {
            StepKind::Install { .. } => Ok(None),
            StepKind::CreateQueue(s) => migrate::render(&s.create_plan()).map(Some),
            StepKind::DropQueue(s) => migrate::render(&s.drop_plan()).map(Some),
        }
    }

    /// The queue step's `down` as plain SQL (see [`up_sql`](Self::up_sql)).
    ///
    /// ```
    /// # use diesel_pgmq::{migrations::{PgmqMigrations, QueueSpec}, QueueName};
    /// let m = PgmqMigrations::new().create_queue(QueueSpec::new(QueueName::from_static("jobs")));
    /// assert!(m.steps()[0].down_sql()?.unwrap().contains("pgmq.drop_queue(E'jobs')"));
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn down_sql(&self) -> Result<Option<String>, Error> {
        match &self.kind {
            StepKind::Install { .. } => Ok(None),
            StepKind::CreateQueue(s) => migrate::render(&s.drop_plan()).map(Some),
            StepKind::DropQueue(s) => migrate::render(&s.create_plan()).map(Some),
        }
    }
}

/// Which way a step runs.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Up,
    Down,
}

impl PgmqMigration {
    /// Runs the step on the connection Diesel's harness hands over, whichever of the
    /// supported connection types it is.
    fn dispatch(
        &self,
        direction: Direction,
        conn: &mut dyn BoxableConnection<Pg>,
    ) -> Result<(), Error> {
        let any = conn.as_any_mut();
        #[cfg(feature = "sync")]
        if let Some(conn) = any.downcast_mut::<PgConnection>() {
            return self.apply(direction, conn);
        }
        #[cfg(feature = "async")]
        if let Some(conn) = any.downcast_mut::<AsyncWrapper>() {
            return self.apply(direction, conn);
        }
        let _ = (any, direction);
        Err(Error::InvalidArgument(
            "pgmq migrations run on a diesel::PgConnection (feature `sync`) or on \
             diesel-async's AsyncConnectionWrapper<AsyncPgConnection> (feature `async`)"
                .to_owned(),
        ))
    }

    fn apply<C>(&self, direction: Direction, conn: &mut C) -> Result<(), Error>
    where
        C: Connection<Backend = Pg> + LoadConnection,
    {
        exec(conn, &Statement::lock())?;
        if let Direction::Up = direction {
            forget_version(conn, &self.version)?;
        }
        match (direction, &self.kind) {
            (Direction::Up, StepKind::Install { sql_url }) => run_install(conn, sql_url.as_deref()),
            (Direction::Up, StepKind::CreateQueue(s))
            | (Direction::Down, StepKind::DropQueue(s)) => exec_all(conn, &s.create_plan()),
            (Direction::Up, StepKind::DropQueue(s))
            | (Direction::Down, StepKind::CreateQueue(s)) => exec_all(conn, &s.drop_plan()),
            (Direction::Down, StepKind::Install { .. }) => {
                let ours = query_bool(
                    conn,
                    install::INSTALLED_BY_US,
                    &[Bind::Text(migrate::INSTALL_MARKER.to_owned())],
                )?;
                if ours {
                    for sql in install::UNINSTALL {
                        sql_query(sql).execute(conn).map_err(db_error)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// diesel-async's blocking wrapper over an `AsyncPgConnection`: migrations without libpq.
#[cfg(feature = "async")]
type AsyncWrapper =
    diesel_async::async_connection_wrapper::AsyncConnectionWrapper<diesel_async::AsyncPgConnection>;

impl Migration<Pg> for PgmqMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<Pg>) -> migration::Result<()> {
        Ok(self.dispatch(Direction::Up, conn)?)
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<Pg>) -> migration::Result<()> {
        Ok(self.dispatch(Direction::Down, conn)?)
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &InTransaction
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

/// Deletes this version's row from `__diesel_schema_migrations` when a worker that raced us
/// recorded it already (we hold the lock now, so it committed): the harness inserts it
/// again after this step, instead of failing on a duplicate key.
fn forget_version<C: Connection<Backend = Pg> + LoadConnection>(
    conn: &mut C,
    version: &str,
) -> Result<(), Error> {
    let tracked = query_bool(
        conn,
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL",
        &[],
    )?;
    if tracked {
        sql_query("DELETE FROM __diesel_schema_migrations WHERE version = $1")
            .bind::<Text, _>(version)
            .execute(conn)
            .map_err(db_error)?;
    }
    Ok(())
}

/// How to ask for the SQL-only install, when it is compiled in (see
/// [`install::not_available`]).
#[cfg(feature = "install-sql")]
const SQL_FALLBACK: Option<&str> =
    Some("`PgmqMigrations::install_or_sql(database_url)` instead of `install()`");
#[cfg(not(feature = "install-sql"))]
const SQL_FALLBACK: Option<&str> = None;

fn run_install<C>(conn: &mut C, sql_url: Option<&str>) -> Result<(), Error>
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    if !query_bool(conn, install::SCHEMA_EXISTS, &[])? {
        if query_bool(conn, install::EXTENSION_AVAILABLE, &[])? {
            sql_query(install::CREATE_EXTENSION)
                .execute(conn)
                .map_err(db_error)?;
        } else {
            match sql_url {
                #[cfg(feature = "install-sql")]
                Some(url) => sql_install(url)?,
                _ => {
                    let _ = sql_url;
                    return Err(Error::PgmqMissing {
                        source: Some(install::not_available(SQL_FALLBACK).into()),
                    });
                }
            }
        }
        sql_query(install::MARK).execute(conn).map_err(db_error)?;
    }
    check_pgmq(conn)?;
    Ok(())
}

/// Runs the upstream SQL installer on its own thread and runtime (so this works from sync
/// code and from inside an async runtime alike).
#[cfg(feature = "install-sql")]
fn sql_install(url: &str) -> Result<(), Error> {
    let url = url.to_owned();
    std::thread::spawn(move || -> Result<(), pgmq_orm_core::BoxError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await?;
            let result = pgmq::install::install_sql_from_embedded(&pool).await;
            pool.close().await;
            result.map_err(Into::into)
        })
    })
    .join()
    .map_err(|_| Error::InvalidArgument("the pgmq SQL installer panicked".to_owned()))?
    .map_err(|source| Error::Database { code: None, source })
}

/// [`MigrationHarness::run_pending_migrations`] under a session advisory lock
/// ([`LOCK_KEY`]), so that workers starting together on a fresh database do not race on
/// Diesel's own `CREATE TABLE IF NOT EXISTS __diesel_schema_migrations` (which is not
/// race-free). Once that table exists, the plain harness is safe with our steps too.
/// Works for any migration source, yours included.
///
/// ```
/// use diesel::prelude::*;
/// use diesel_pgmq::migrations::{run_pending_locked, PgmqMigrations};
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// let ran = run_pending_locked(&mut conn, PgmqMigrations::new().install())?;
/// assert_eq!(ran, ["00000000pgmq0001"]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn run_pending_locked<C, S>(conn: &mut C, source: S) -> migration::Result<Vec<String>>
where
    C: MigrationHarness<Pg> + Connection<Backend = Pg>,
    S: MigrationSource<Pg>,
{
    sql_query("SELECT pg_advisory_lock($1)")
        .bind::<Int8, _>(LOCK_KEY)
        .execute(conn)?;
    let result = conn
        .run_pending_migrations(source)
        .map(|v| v.iter().map(ToString::to_string).collect());
    let unlocked = sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<Int8, _>(LOCK_KEY)
        .execute(conn);
    let ran = result?;
    unlocked?;
    Ok(ran)
}

/// The installed pgmq version: the extension's, else the highest the SQL installer
/// recorded; `None` when pgmq is not installed.
///
/// ```
/// use diesel::prelude::*;
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// assert!(diesel_pgmq::migrations::pgmq_version(&mut conn)?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pgmq_version<C>(conn: &mut C) -> Result<Option<PgmqVersion>, Error>
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = Nullable<Text>)]
        v: Option<String>,
    }
    let parse = |s: &str| {
        s.parse::<PgmqVersion>()
            .map_err(|e| Error::InvalidArgument(e.to_string()))
    };
    let ext: Vec<V> = sql_query(format!("SELECT ({}) AS v", sql::EXTENSION_VERSION))
        .load(conn)
        .map_err(db_error)?;
    if let Some(v) = ext.into_iter().next().and_then(|r| r.v) {
        return parse(&v).map(Some);
    }
    if !query_bool(conn, sql::HAS_SQL_INSTALL, &[])? {
        return Ok(None);
    }
    let rows: Vec<V> = sql_query(format!(
        "SELECT version AS v FROM ({}) t",
        sql::SQL_INSTALL_VERSIONS
    ))
    .load(conn)
    .map_err(db_error)?;
    let mut best = None;
    for v in rows.into_iter().filter_map(|r| r.v) {
        // The installer also records non-version rows; skip what does not parse.
        if let Ok(v) = v.parse::<PgmqVersion>() {
            best = best.max(Some(v));
        }
    }
    Ok(best)
}

/// The installed pgmq version, or [`Error::PgmqMissing`] when pgmq is absent and
/// [`Error::PgmqTooOld`] when it is older than [`MIN_PGMQ_VERSION`](crate::MIN_PGMQ_VERSION).
///
/// ```
/// use diesel::prelude::*;
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// println!("pgmq {}", diesel_pgmq::migrations::check_pgmq(&mut conn)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_pgmq<C>(conn: &mut C) -> Result<PgmqVersion, Error>
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    match pgmq_version(conn)? {
        Some(v) => v.check(),
        None => Err(Error::PgmqMissing { source: None }),
    }
}

fn bind_all(
    mut q: BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery>,
    binds: &[Bind],
) -> BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s.clone()),
            Bind::Int(v) => q.bind::<Int4, _>(*v),
            Bind::BigInt(v) => q.bind::<Int8, _>(*v),
        };
    }
    q
}

fn exec<C: Connection<Backend = Pg>>(conn: &mut C, st: &Statement) -> Result<(), Error> {
    bind_all(sql_query(st.sql.clone()).into_boxed(), &st.binds)
        .execute(conn)
        .map(drop)
        .map_err(db_error)
}

fn exec_all<C: Connection<Backend = Pg>>(conn: &mut C, plan: &[Statement]) -> Result<(), Error> {
    plan.iter().try_for_each(|st| exec(conn, st))
}

fn query_bool<C>(conn: &mut C, sql: &str, binds: &[Bind]) -> Result<bool, Error>
where
    C: Connection<Backend = Pg> + LoadConnection,
{
    #[derive(QueryableByName)]
    struct B {
        #[diesel(sql_type = Bool)]
        b: bool,
    }
    let row: B = bind_all(
        sql_query(format!("SELECT ({sql}) AS b")).into_boxed(),
        binds,
    )
    .get_result(conn)
    .map_err(db_error)?;
    Ok(row.b)
}

/// Diesel's error, classified by the core (`QueueMissing`, `PgmqMissing`, `Database`).
fn db_error(e: diesel::result::Error) -> Error {
    match &e {
        diesel::result::Error::DatabaseError(_, info) => {
            let message = info.message().to_owned();
            // Diesel does not expose the SQLSTATE; classify by message alone.
            let code = if message.contains("does not exist") && message.contains("\"pgmq") {
                if message.starts_with("schema") {
                    Some("3F000")
                } else if message.starts_with("function") {
                    Some("42883")
                } else {
                    Some("42P01")
                }
            } else {
                None
            };
            Error::from_database(code, &message, e)
        }
        _ => Error::Database {
            code: None,
            source: Box::new(e),
        },
    }
}
