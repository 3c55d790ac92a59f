//! Schema migrations for [sea-orm-migration]: install pgmq, create and drop queues.
//!
//! # Two ways to integrate
//!
//! 1. **Splice the steps into your own `Migrator`**: [`InstallPgmq`], [`CreateQueue`] and
//!    [`DropQueue`] are [`MigrationTrait`]s; list them in your `migrations()` before (or
//!    between) your own. They share your tracking table, so your `status`, `down` and
//!    `fresh` see them like any other migration.
//!
//!    ```
//!    use sea_orm_migration::prelude::*;
//!    use sea_orm_pgmq::migration::{CreateQueue, InstallPgmq, QueueSpec};
//!    use sea_orm_pgmq::QueueName;
//!
//!    pub struct Migrator;
//!
//!    #[async_trait::async_trait]
//!    impl MigratorTrait for Migrator {
//!        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
//!            vec![
//!                Box::new(InstallPgmq::new()),
//!                Box::new(CreateQueue::new(
//!                    QueueSpec::new(QueueName::from_static("orders")).notify_insert(),
//!                )),
//!                // ... your own migrations
//!            ]
//!        }
//!    }
//!    # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//!    # let test_db = pgmq_harness::TestDb::new();
//!    let db = sea_orm::Database::connect(test_db.url()).await?;
//!    sea_orm_pgmq::migration::up_locked::<Migrator>(&db, None).await?;
//!    # Ok::<(), sea_orm::DbErr>(()) }).unwrap();
//!    ```
//!
//! 2. **Run a separate migrator with its own tracking table**: sea-orm-migration's
//!    `status` (and the CLI) fail on applied migrations a `Migrator` does not list, so if you
//!    would rather keep pgmq out of your `Migrator`, use [`PgmqMigrator`] (installs pgmq,
//!    tracked in `pgmq_orm_migrations`) or [`PgmqQueueMigrator`] (a runtime-built list with
//!    a tracking table you name), and run it before your own.
//!
//! # Safety properties
//!
//! - Every step runs in a transaction (`use_transaction() == Some(true)`) and first takes
//!   `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`; a failed step rolls back whole, so no
//!   half-created queue stays behind. The SQL-only install (`install-sql`) is the exception:
//!   the upstream installer commits on its own connection.
//! - Every step is idempotent; running it twice changes nothing.
//! - sea-orm-migration records a step with a plain `INSERT`, and creates its tracking table
//!   with `CREATE TABLE IF NOT EXISTS`, neither race-free: workers that may start together
//!   should run [`up_locked`] (or [`PgmqQueueMigrator::up_locked`]), which holds the lock
//!   around the whole run.
//! - Every value is a bound parameter.

use std::borrow::Cow;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait, Value};
use sea_orm_migration::MigratorTraitSelf;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm;

use pgmq_orm_core::migrate::{self, Bind, Statement, install};
#[doc(no_inline)]
pub use pgmq_orm_core::migrate::{LOCK_KEY, QueueKind, QueueSpec, TableStorage};
use pgmq_orm_core::{Error, PgmqVersion};

/// The tracking table of [`PgmqMigrator`]: `pgmq_orm_migrations`.
///
/// ```
/// assert_eq!(sea_orm_pgmq::migration::PGMQ_MIGRATION_TABLE, "pgmq_orm_migrations");
/// ```
pub const PGMQ_MIGRATION_TABLE: &str = "pgmq_orm_migrations";

/// Installs pgmq: `CREATE EXTENSION IF NOT EXISTS pgmq` where the server offers it, nothing
/// when pgmq is installed already (either way), otherwise, with
/// [`with_sql_fallback`](Self::with_sql_fallback), the SQL scripts of the pinned upstream
/// `pgmq` crate, or without it an error naming the fix that applies (enable the
/// `install-sql` feature, or, when it is on, give the fallback). Then checks the version
/// ([`check_pgmq`]). `down` removes pgmq, with its queues, only if this step installed it.
///
/// ```
/// use sea_orm_migration::MigrationName;
/// assert_eq!(
///     sea_orm_pgmq::migration::InstallPgmq::new().name(),
///     "m00000000_000000_pgmq_install",
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct InstallPgmq {
    #[cfg(feature = "install-sql")]
    sql: Option<SqlSource>,
}

#[cfg(feature = "install-sql")]
#[derive(Debug, Clone)]
enum SqlSource {
    Url(String),
    Pool(sea_orm::sqlx::PgPool),
}

impl InstallPgmq {
    /// The extension-only install.
    ///
    /// ```
    /// let step = sea_orm_pgmq::migration::InstallPgmq::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Falls back to the SQL-only install, over a new connection to `database_url`.
    ///
    /// ```
    /// let step = sea_orm_pgmq::migration::InstallPgmq::with_sql_fallback("postgres://localhost/app");
    /// ```
    #[cfg(feature = "install-sql")]
    pub fn with_sql_fallback(database_url: impl Into<String>) -> Self {
        Self {
            sql: Some(SqlSource::Url(database_url.into())),
        }
    }

    /// Falls back to the SQL-only install on `pool`, e.g.
    /// `db.get_postgres_connection_pool().clone()`. The pool needs a connection free while
    /// the migration's own transaction holds one.
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) {
    /// use sea_orm_pgmq::migration::InstallPgmq;
    /// let step = InstallPgmq::with_sql_fallback_pool(db.get_postgres_connection_pool().clone());
    /// # }
    /// ```
    #[cfg(feature = "install-sql")]
    pub fn with_sql_fallback_pool(pool: sea_orm::sqlx::PgPool) -> Self {
        Self {
            sql: Some(SqlSource::Pool(pool)),
        }
    }

    #[cfg(feature = "install-sql")]
    async fn sql_install(&self) -> Result<bool, DbErr> {
        let err = |e: &dyn std::fmt::Display| DbErr::Migration(format!("pgmq SQL install: {e}"));
        match &self.sql {
            None => Ok(false),
            Some(SqlSource::Pool(pool)) => pgmq::install::install_sql_from_embedded(pool)
                .await
                .map(|()| true)
                .map_err(|e| err(&e)),
            Some(SqlSource::Url(url)) => {
                let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .map_err(|e| err(&e))?;
                let result = pgmq::install::install_sql_from_embedded(&pool).await;
                pool.close().await;
                result.map(|()| true).map_err(|e| err(&e))
            }
        }
    }

    #[cfg(not(feature = "install-sql"))]
    async fn sql_install(&self) -> Result<bool, DbErr> {
        Ok(false)
    }
}

/// How to ask for the SQL-only install, when it is compiled in (see
/// [`install::not_available`]).
#[cfg(feature = "install-sql")]
const SQL_FALLBACK: Option<&str> = Some(
    "`InstallPgmq::with_sql_fallback(database_url)` or \
     `InstallPgmq::with_sql_fallback_pool(pool)` instead of `InstallPgmq::new()` \
     (`PgmqMigrator` has no fallback: run `PgmqQueueMigrator::new(table).install_with(..)`, \
     or hold the fallback in your own `MigratorTraitSelf` migrator)",
);
#[cfg(not(feature = "install-sql"))]
const SQL_FALLBACK: Option<&str> = None;

impl MigrationName for InstallPgmq {
    fn name(&self) -> &str {
        "m00000000_000000_pgmq_install"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for InstallPgmq {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        exec(db, &Statement::lock()).await?;
        if !query_bool(db, install::SCHEMA_EXISTS, &[]).await? {
            if query_bool(db, install::EXTENSION_AVAILABLE, &[]).await? {
                db.execute_unprepared(install::CREATE_EXTENSION).await?;
            } else if !self.sql_install().await? {
                let fix = install::not_available(SQL_FALLBACK);
                return Err(DbErr::Migration(
                    Error::PgmqMissing { source: None }.to_string() + ": " + &fix,
                ));
            }
            db.execute_unprepared(install::MARK).await?;
        }
        check_pgmq(db)
            .await
            .map_err(|e| DbErr::Migration(e.to_string()))?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        exec(db, &Statement::lock()).await?;
        let marker = [Bind::Text(migrate::INSTALL_MARKER.to_owned())];
        if query_bool(db, install::INSTALLED_BY_US, &marker).await? {
            for sql in install::UNINSTALL {
                db.execute_unprepared(sql).await?;
            }
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Whether a queue step creates its queue on `up` (and drops it on `down`) or the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Create,
    Drop,
}

/// The one implementation behind [`CreateQueue`] and [`DropQueue`]: a queue, the name the
/// tracking table records, and which way `up` goes.
#[derive(Debug, Clone)]
struct QueueStep {
    spec: QueueSpec,
    name: Cow<'static, str>,
    direction: Direction,
}

impl QueueStep {
    fn new(spec: QueueSpec, direction: Direction) -> Self {
        let verb = match direction {
            Direction::Create => "create",
            Direction::Drop => "drop",
        };
        let name = format!("m00000000_000000_pgmq_{verb}_queue_{}", spec.name()).into();
        Self {
            spec,
            name,
            direction,
        }
    }

    async fn run(&self, manager: &SchemaManager<'_>, creating: bool) -> Result<(), DbErr> {
        let schema = PgmqSchema::new(manager);
        if creating {
            schema.create_queue(&self.spec).await
        } else {
            schema.drop_queue(&self.spec).await
        }
    }
}

impl MigrationName for QueueStep {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for QueueStep {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, self.direction == Direction::Create).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, self.direction == Direction::Drop).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// `MigrationName` and `MigrationTrait` for the public step types, by delegation to their
/// [`QueueStep`].
macro_rules! queue_step_traits {
    ($($ty:ident),*) => {$(
        impl MigrationName for $ty {
            fn name(&self) -> &str {
                self.0.name()
            }
        }

        #[async_trait::async_trait]
        impl MigrationTrait for $ty {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                self.0.up(manager).await
            }

            async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                self.0.down(manager).await
            }

            fn use_transaction(&self) -> Option<bool> {
                self.0.use_transaction()
            }
        }
    )*};
}

/// Creates a queue as its [`QueueSpec`] says; `down` drops it.
///
/// ```
/// use sea_orm_migration::MigrationName;
/// use sea_orm_pgmq::{migration::{CreateQueue, QueueSpec}, QueueName};
///
/// let step = CreateQueue::new(QueueSpec::new(QueueName::from_static("orders")).unlogged());
/// assert_eq!(step.name(), "m00000000_000000_pgmq_create_queue_orders");
/// ```
#[derive(Debug, Clone)]
pub struct CreateQueue(QueueStep);

impl CreateQueue {
    /// The step, named `m00000000_000000_pgmq_create_queue_<queue>`.
    ///
    /// ```
    /// # use sea_orm_pgmq::{migration::{CreateQueue, QueueSpec}, QueueName};
    /// let step = CreateQueue::new(QueueSpec::new(QueueName::from_static("jobs")));
    /// ```
    pub fn new(spec: QueueSpec) -> Self {
        Self(QueueStep::new(spec, Direction::Create))
    }

    /// Renames the step (the name is what the tracking table records), e.g. to create a
    /// queue again after a [`DropQueue`] of the same name.
    ///
    /// ```
    /// # use sea_orm_migration::MigrationName;
    /// # use sea_orm_pgmq::{migration::{CreateQueue, QueueSpec}, QueueName};
    /// let step = CreateQueue::new(QueueSpec::new(QueueName::from_static("jobs")))
    ///     .named("m20250101_000000_recreate_jobs");
    /// assert_eq!(step.name(), "m20250101_000000_recreate_jobs");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.0.name = name.into();
        self
    }
}

/// Drops a queue; `down` creates it again as its [`QueueSpec`] says (empty).
///
/// ```
/// use sea_orm_migration::MigrationName;
/// use sea_orm_pgmq::{migration::{DropQueue, QueueSpec}, QueueName};
///
/// let step = DropQueue::new(QueueSpec::new(QueueName::from_static("legacy")));
/// assert_eq!(step.name(), "m00000000_000000_pgmq_drop_queue_legacy");
/// ```
#[derive(Debug, Clone)]
pub struct DropQueue(QueueStep);

impl DropQueue {
    /// The step, named `m00000000_000000_pgmq_drop_queue_<queue>`.
    ///
    /// ```
    /// # use sea_orm_pgmq::{migration::{DropQueue, QueueSpec}, QueueName};
    /// let step = DropQueue::new(QueueSpec::new(QueueName::from_static("jobs")));
    /// ```
    pub fn new(spec: QueueSpec) -> Self {
        Self(QueueStep::new(spec, Direction::Drop))
    }

    /// Renames the step (see [`CreateQueue::named`]).
    ///
    /// ```
    /// # use sea_orm_migration::MigrationName;
    /// # use sea_orm_pgmq::{migration::{DropQueue, QueueSpec}, QueueName};
    /// let step = DropQueue::new(QueueSpec::new(QueueName::from_static("jobs"))).named("m1_drop");
    /// assert_eq!(step.name(), "m1_drop");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.0.name = name.into();
        self
    }
}

queue_step_traits!(CreateQueue, DropQueue);

/// `SchemaManager`-style helpers for your own migrations: wrap the manager and call
/// them from `up`/`down`.
///
/// ```
/// use sea_orm_migration::prelude::*;
/// use sea_orm_pgmq::migration::{PgmqSchema, QueueSpec};
/// use sea_orm_pgmq::QueueName;
///
/// #[derive(DeriveMigrationName)]
/// pub struct Migration;
///
/// #[async_trait::async_trait]
/// impl MigrationTrait for Migration {
///     async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
///         // ... create your tables, then:
///         PgmqSchema::new(manager)
///             .create_queue(&QueueSpec::new(QueueName::from_static("emails")).fifo_index())
///             .await
///     }
///     async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
///         PgmqSchema::new(manager)
///             .drop_queue(&QueueSpec::new(QueueName::from_static("emails")))
///             .await
///     }
/// }
/// ```
#[derive(Clone, Copy)]
pub struct PgmqSchema<'a, 'c> {
    manager: &'a SchemaManager<'c>,
}

impl std::fmt::Debug for PgmqSchema<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgmqSchema").finish_non_exhaustive()
    }
}

impl<'a, 'c> PgmqSchema<'a, 'c> {
    /// Wraps a migration's manager.
    ///
    /// ```no_run
    /// # async fn f(manager: &sea_orm_migration::SchemaManager<'_>) {
    /// let pgmq = sea_orm_pgmq::migration::PgmqSchema::new(manager);
    /// # }
    /// ```
    pub fn new(manager: &'a SchemaManager<'c>) -> Self {
        Self { manager }
    }

    /// Creates the queue (idempotent; under the migration lock).
    ///
    /// ```no_run
    /// # async fn f(manager: &sea_orm_migration::SchemaManager<'_>) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::{migration::{PgmqSchema, QueueSpec}, QueueName};
    /// PgmqSchema::new(manager).create_queue(&QueueSpec::new(QueueName::from_static("a")).unlogged()).await
    /// # }
    /// ```
    pub async fn create_queue(&self, spec: &QueueSpec) -> Result<(), DbErr> {
        exec_all(self.manager.get_connection(), &spec.create_plan()).await
    }

    /// Drops the queue (idempotent; under the migration lock).
    ///
    /// ```no_run
    /// # async fn f(manager: &sea_orm_migration::SchemaManager<'_>) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::{migration::{PgmqSchema, QueueSpec}, QueueName};
    /// PgmqSchema::new(manager).drop_queue(&QueueSpec::new(QueueName::from_static("a"))).await
    /// # }
    /// ```
    pub async fn drop_queue(&self, spec: &QueueSpec) -> Result<(), DbErr> {
        exec_all(self.manager.get_connection(), &spec.drop_plan()).await
    }

    /// Whether the queue exists (is listed in `pgmq.meta`).
    ///
    /// ```no_run
    /// # async fn f(manager: &sea_orm_migration::SchemaManager<'_>) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::{migration::PgmqSchema, QueueName};
    /// let exists = PgmqSchema::new(manager).has_queue(&QueueName::from_static("a")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn has_queue(&self, queue: &pgmq_orm_core::QueueName) -> Result<bool, DbErr> {
        query_bool(
            self.manager.get_connection(),
            "SELECT EXISTS (SELECT FROM pgmq.meta WHERE queue_name = $1)",
            &[Bind::Text(queue.as_str().to_owned())],
        )
        .await
    }

    /// The installed pgmq version, checked against the minimum (see [`check_pgmq`]).
    ///
    /// ```no_run
    /// # async fn f(manager: &sea_orm_migration::SchemaManager<'_>) {
    /// let version = sea_orm_pgmq::migration::PgmqSchema::new(manager).check_pgmq().await;
    /// # }
    /// ```
    pub async fn check_pgmq(&self) -> Result<PgmqVersion, Error> {
        check_pgmq(self.manager.get_connection()).await
    }
}

/// A separate migrator that installs pgmq, tracked in its own table
/// ([`PGMQ_MIGRATION_TABLE`]), so your own `Migrator` never sees it. Run it first.
///
/// Its `migrations()` is static, so it installs the extension only; for the SQL fallback
/// (`install-sql`) or queues, build a [`PgmqQueueMigrator`] with
/// `install_with(InstallPgmq::with_sql_fallback(url))`, or list
/// `InstallPgmq::with_sql_fallback(self.url.clone())` in your own migrator that implements
/// [`MigratorTraitSelf`] (whose `migrations(&self)` reads the URL from a field: no global).
///
/// ```
/// use sea_orm_migration::MigratorTrait;
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// # let test_db = pgmq_harness::TestDb::new();
/// let db = sea_orm::Database::connect(test_db.url()).await?;
/// sea_orm_pgmq::migration::PgmqMigrator::up(&db, None).await?;
/// // ... then `Migrator::up(&db, None)` for your own.
/// # Ok::<(), sea_orm::DbErr>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PgmqMigrator;

#[async_trait::async_trait]
impl MigratorTrait for PgmqMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(InstallPgmq::new())]
    }

    fn migration_table_name() -> DynIden {
        Alias::new(PGMQ_MIGRATION_TABLE).into_iden()
    }
}

/// A separate migrator built at run time (install, queues), tracked in a table you name.
/// It implements sea-orm-migration's [`MigratorTraitSelf`] (for `fresh`, `refresh`,
/// `reset`, ...), and has `up`, `down` and `status` as its own methods too, so they need no
/// trait import (importing `MigratorTraitSelf` next to `MigratorTrait` makes
/// `Migrator::up` ambiguous).
///
/// ```
/// use sea_orm_pgmq::migration::{PgmqQueueMigrator, QueueSpec};
/// use sea_orm_pgmq::QueueName;
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// # let test_db = pgmq_harness::TestDb::new();
/// let db = sea_orm::Database::connect(test_db.url()).await?;
/// let queues = PgmqQueueMigrator::new("app_queue_migrations")
///     .install()
///     .create_queue(QueueSpec::new(QueueName::from_static("orders")));
/// queues.up_locked(&db, None).await?;
/// queues.status(&db).await?;
/// queues.down(&db, None).await?;
/// # Ok::<(), sea_orm::DbErr>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PgmqQueueMigrator {
    table: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Install(InstallPgmq),
    Queue(QueueStep),
}

impl PgmqQueueMigrator {
    /// No steps yet; tracked in `table`.
    ///
    /// ```
    /// let m = sea_orm_pgmq::migration::PgmqQueueMigrator::new("queue_migrations");
    /// ```
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            steps: Vec::new(),
        }
    }

    /// Adds [`InstallPgmq`].
    ///
    /// ```
    /// let m = sea_orm_pgmq::migration::PgmqQueueMigrator::new("q").install();
    /// ```
    pub fn install(self) -> Self {
        self.install_with(InstallPgmq::new())
    }

    /// Adds a configured [`InstallPgmq`] (e.g. with the SQL fallback).
    ///
    /// ```
    /// use sea_orm_pgmq::migration::{InstallPgmq, PgmqQueueMigrator};
    /// let m = PgmqQueueMigrator::new("q").install_with(InstallPgmq::new());
    /// ```
    pub fn install_with(mut self, step: InstallPgmq) -> Self {
        self.steps.push(Step::Install(step));
        self
    }

    /// Adds a [`CreateQueue`].
    ///
    /// ```
    /// # use sea_orm_pgmq::{migration::{PgmqQueueMigrator, QueueSpec}, QueueName};
    /// let m = PgmqQueueMigrator::new("q").create_queue(QueueSpec::new(QueueName::from_static("a")));
    /// ```
    pub fn create_queue(mut self, spec: QueueSpec) -> Self {
        self.steps
            .push(Step::Queue(QueueStep::new(spec, Direction::Create)));
        self
    }

    /// Adds a [`DropQueue`].
    ///
    /// ```
    /// # use sea_orm_pgmq::{migration::{PgmqQueueMigrator, QueueSpec}, QueueName};
    /// let m = PgmqQueueMigrator::new("q").drop_queue(QueueSpec::new(QueueName::from_static("a")));
    /// ```
    pub fn drop_queue(mut self, spec: QueueSpec) -> Self {
        self.steps
            .push(Step::Queue(QueueStep::new(spec, Direction::Drop)));
        self
    }

    /// Applies pending steps ([`MigratorTraitSelf::up`]).
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::migration::PgmqQueueMigrator;
    /// PgmqQueueMigrator::new("q").install().up(&db, None).await
    /// # }
    /// ```
    pub async fn up<C: ConnectionTrait + TransactionTrait>(
        &self,
        db: &C,
        steps: Option<u32>,
    ) -> Result<(), DbErr>
    where
        for<'c> &'c C: sea_orm_migration::IntoSchemaManagerConnection<'c>,
    {
        MigratorTraitSelf::up(self, db, steps).await
    }

    /// Reverts applied steps, the last first ([`MigratorTraitSelf::down`]).
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::migration::PgmqQueueMigrator;
    /// PgmqQueueMigrator::new("q").install().down(&db, None).await
    /// # }
    /// ```
    pub async fn down<C: ConnectionTrait + TransactionTrait>(
        &self,
        db: &C,
        steps: Option<u32>,
    ) -> Result<(), DbErr>
    where
        for<'c> &'c C: sea_orm_migration::IntoSchemaManagerConnection<'c>,
    {
        MigratorTraitSelf::down(self, db, steps).await
    }

    /// Checks the tracking table against the steps ([`MigratorTraitSelf::status`]).
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::migration::PgmqQueueMigrator;
    /// PgmqQueueMigrator::new("q").install().status(&db).await
    /// # }
    /// ```
    pub async fn status<C: ConnectionTrait>(&self, db: &C) -> Result<(), DbErr> {
        MigratorTraitSelf::status(self, db).await
    }

    /// `up` under the migration lock, so workers that start together do not race (see
    /// [`up_locked`]).
    ///
    /// ```no_run
    /// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    /// # use sea_orm_pgmq::migration::PgmqQueueMigrator;
    /// PgmqQueueMigrator::new("q").install().up_locked(&db, None).await
    /// # }
    /// ```
    pub async fn up_locked(
        &self,
        db: &DatabaseConnection,
        steps: Option<u32>,
    ) -> Result<(), DbErr> {
        let txn = db.begin().await?;
        exec(&txn, &Statement::lock()).await?;
        MigratorTraitSelf::up(self, &txn, steps).await?;
        txn.commit().await
    }
}

#[async_trait::async_trait]
impl MigratorTraitSelf for PgmqQueueMigrator {
    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        self.steps
            .iter()
            .map(|s| -> Box<dyn MigrationTrait> {
                match s {
                    Step::Install(m) => Box::new(m.clone()),
                    Step::Queue(m) => Box::new(m.clone()),
                }
            })
            .collect()
    }

    fn migration_table_name(&self) -> DynIden {
        Alias::new(self.table.as_str()).into_iden()
    }
}

/// Runs `M::up` inside one transaction that first takes `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`:
/// workers that start together run one after the other, and the later ones find nothing
/// pending. Each migration's own transaction becomes a savepoint; the whole run commits
/// or rolls back together.
///
/// ```no_run
/// # async fn f(db: sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// use sea_orm_pgmq::migration::{up_locked, PgmqMigrator};
/// up_locked::<PgmqMigrator>(&db, None).await
/// # }
/// ```
pub async fn up_locked<M: MigratorTrait>(
    db: &DatabaseConnection,
    steps: Option<u32>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    exec(&txn, &Statement::lock()).await?;
    M::up(&txn, steps).await?;
    txn.commit().await
}

/// The installed pgmq version: the extension's, else the highest the SQL installer
/// recorded; `None` when pgmq is not installed.
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// # let test_db = pgmq_harness::TestDb::new();
/// let db = sea_orm::Database::connect(test_db.url()).await?;
/// assert!(sea_orm_pgmq::migration::pgmq_version(&db).await?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn pgmq_version<C: ConnectionTrait>(db: &C) -> Result<Option<PgmqVersion>, Error> {
    crate::connection::installed_version(db).await
}

/// The installed pgmq version, or [`Error::PgmqMissing`] when pgmq is absent and
/// [`Error::PgmqTooOld`] when it is older than [`MIN_PGMQ_VERSION`](crate::MIN_PGMQ_VERSION).
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// # let test_db = pgmq_harness::TestDb::new();
/// let db = sea_orm::Database::connect(test_db.url()).await?;
/// let version = sea_orm_pgmq::migration::check_pgmq(&db).await?;
/// assert!(version >= sea_orm_pgmq::MIN_PGMQ_VERSION);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub async fn check_pgmq<C: ConnectionTrait>(db: &C) -> Result<PgmqVersion, Error> {
    match pgmq_version(db).await? {
        Some(v) => v.check(),
        None => Err(Error::PgmqMissing { source: None }),
    }
}

fn raw(sql: &str, binds: &[Bind]) -> sea_orm::Statement {
    let values = binds.iter().map(|b| match b {
        Bind::Text(s) => Value::from(s.clone()),
        Bind::Int(v) => Value::from(*v),
        Bind::BigInt(v) => Value::from(*v),
    });
    sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

async fn exec<C: ConnectionTrait>(db: &C, st: &Statement) -> Result<(), DbErr> {
    db.execute_raw(raw(&st.sql, &st.binds)).await.map(drop)
}

async fn exec_all<C: ConnectionTrait>(db: &C, plan: &[Statement]) -> Result<(), DbErr> {
    for st in plan {
        exec(db, st).await?;
    }
    Ok(())
}

async fn query_bool<C: ConnectionTrait>(db: &C, sql: &str, binds: &[Bind]) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(raw(sql, binds))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(sql.to_owned()))?;
    row.try_get_by_index(0)
}
