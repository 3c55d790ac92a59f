//! What the schema migrations of both ORM crates do, as plain SQL with bound values.
//!
//! `diesel-pgmq` (feature `migrations`) and `sea-orm-pgmq` (feature `migration`) wrap these
//! plans in their ORM's migration machinery; the steps themselves live here once:
//!
//! - every plan starts with `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`, so workers that start
//!   together run the same migration one after the other, never interleaved;
//! - every step is idempotent (guarded by `pgmq.meta`, or idempotent in pgmq itself), so a
//!   second run changes nothing;
//! - every value (queue name, intervals, throttle) is a bound parameter; [`render`] inlines
//!   them as quoted literals only for SQL files (`diesel migration generate`).
//!
//! ```
//! use pgmq_orm_core::migrate::{Bind, QueueSpec};
//! use pgmq_orm_core::QueueName;
//!
//! let spec = QueueSpec::new(QueueName::new("orders")?).unlogged().notify_insert();
//! let up = spec.create_plan();
//! assert!(up[0].sql.contains("pg_advisory_xact_lock"));
//! assert!(up.iter().any(|s| s.sql.contains("pgmq.create_unlogged")));
//! assert_eq!(up[1].binds, vec![Bind::Text("orders".into())]);
//! // Dropping is the exact reverse.
//! assert!(spec.drop_plan().iter().any(|s| s.sql.contains("pgmq.drop_queue")));
//! # Ok::<(), pgmq_orm_core::QueueNameError>(())
//! ```

use std::time::Duration;

use crate::queue_name::QueueName;
use crate::sql::{self, function};

mod sql_file;
pub use sql_file::render;

/// The advisory-lock key every pgmq-orm migration takes first (`pg_advisory_xact_lock`):
/// the bytes of `"pgmqmigr"`. Any constant works; this one is unlikely to collide.
///
/// ```
/// assert_eq!(pgmq_orm_core::migrate::LOCK_KEY.to_be_bytes(), *b"pgmqmigr");
/// ```
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"pgmqmigr");

/// The comment the install migration puts on schema `pgmq` when it installed pgmq itself,
/// so that reverting it drops only a pgmq it installed (and leaves one that was there
/// before alone).
///
/// ```
/// assert!(pgmq_orm_core::migrate::INSTALL_MARKER.starts_with("pgmq-orm"));
/// ```
pub const INSTALL_MARKER: &str = "pgmq-orm: installed by the pgmq install migration";

/// One bound value of a [`Statement`].
///
/// ```
/// # use pgmq_orm_core::migrate::Bind;
/// assert_eq!(Bind::Int(4), Bind::Int(4));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// A `text` value.
    Text(String),
    /// An `integer` (`int4`) value.
    Int(i32),
    /// A `bigint` (`int8`) value.
    BigInt(i64),
}

/// One SQL statement with its bound values (`$1`, `$2`, ... in order). Run it with the
/// ORM's raw-SQL API and discard the rows.
///
/// ```
/// # use pgmq_orm_core::migrate::{Statement, Bind};
/// let s = Statement::lock();
/// assert_eq!(s.binds, vec![Bind::BigInt(pgmq_orm_core::migrate::LOCK_KEY)]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL, with `$n` placeholders.
    pub sql: String,
    /// The values, in placeholder order.
    pub binds: Vec<Bind>,
}

impl Statement {
    fn new(sql: impl Into<String>, binds: Vec<Bind>) -> Self {
        Self {
            sql: sql.into(),
            binds,
        }
    }

    /// `SELECT pg_advisory_xact_lock($1)` with [`LOCK_KEY`]: held until the migration's
    /// transaction ends.
    ///
    /// ```
    /// assert!(pgmq_orm_core::migrate::Statement::lock().sql.contains("xact"));
    /// ```
    pub fn lock() -> Self {
        Self::new(
            "SELECT pg_advisory_xact_lock($1)",
            vec![Bind::BigInt(LOCK_KEY)],
        )
    }
}

/// How a queue's tables are created.
///
/// ```
/// # use pgmq_orm_core::migrate::QueueKind;
/// assert_eq!(QueueKind::default(), QueueKind::Logged);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueKind {
    /// `pgmq.create`: ordinary (WAL-logged) tables.
    #[default]
    Logged,
    /// `pgmq.create_unlogged`: faster, but emptied after a crash.
    Unlogged,
    /// `pgmq.create_partitioned`: partitioned by pg_partman, which must already be
    /// installed (`CREATE EXTENSION pg_partman`).
    Partitioned {
        /// Partition size: a number of message ids (`"10000"`) or a time interval
        /// (`"1 day"`).
        partition_interval: String,
        /// How much to keep, in the same unit.
        retention_interval: String,
        /// How many partitions pg_partman creates ahead.
        premake: i32,
    },
}

/// A queue as a migration creates it: its name, its kind, and the optional insert
/// notifications and FIFO index.
///
/// ```
/// use std::time::Duration;
/// use pgmq_orm_core::{migrate::QueueSpec, QueueName};
///
/// let spec = QueueSpec::new(QueueName::from_static("events"))
///     .partitioned("10000", "100000")
///     .notify_insert_throttled(Duration::from_millis(100))
///     .fifo_index();
/// assert_eq!(spec.name().as_str(), "events");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    name: QueueName,
    kind: QueueKind,
    notify_throttle_ms: Option<i32>,
    fifo_index: bool,
    storage: TableStorage,
}

/// The statement that stops a partitioned queue's step that was given storage settings.
const PARTITIONED_STORAGE_REFUSED: &str = "DO $pgmq_orm$ BEGIN RAISE EXCEPTION \
    'pgmq storage settings (TableStorage) apply to plain and unlogged queues only' \
    USING HINT = 'A partitioned queue''s parent table holds no rows and PostgreSQL \
    refuses storage parameters on it; leave QueueSpec::storage unset for partitioned queues.'; \
    END $pgmq_orm$";

/// Storage settings for a queue's table (`ALTER TABLE pgmq.q_<name> SET (...)`): how much
/// room each page keeps for updates and how eagerly autovacuum cleans up behind the
/// deletes. A queue table is rewritten constantly (every read updates its row, every
/// acknowledgement deletes it), and a per-table autovacuum threshold keeps the dead rows
/// this leaves from piling up between the default global runs: that is the setting that
/// matters most for a busy queue. Unset settings keep the server's defaults.
///
/// A fillfactor below 100 does **not** make a read's update HOT (heap-only, no new index
/// entries): pgmq indexes `vt` and every read moves it, so every read adds an entry to
/// each of the table's indexes whatever the fillfactor. What the free room buys is
/// locality: the new row version stays on its page (measured with 200 reads of 256 B
/// messages: all 200 at fillfactor 50, about half at the default 100), which keeps the
/// table from growing while vacuum is held back. The test
/// `a_fillfactor_leaves_pgmq_reads_non_hot_on_a_plain_queue` (tests/tests/reliability)
/// checks both on the server's counters.
///
/// ```
/// use pgmq_orm_core::migrate::TableStorage;
/// let storage = TableStorage::new().fillfactor(70).autovacuum_vacuum_scale_factor(0.01);
/// assert_eq!(storage.options().unwrap(), "fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TableStorage {
    fillfactor: Option<u8>,
    vacuum_scale_factor: Option<f64>,
    vacuum_threshold: Option<u32>,
    vacuum_cost_delay_ms: Option<u32>,
}

// Every setting is a finite number (checked where it is set), so equality is total.
impl Eq for TableStorage {}

impl TableStorage {
    /// No settings: the server's defaults.
    ///
    /// ```
    /// # use pgmq_orm_core::migrate::TableStorage;
    /// assert_eq!(TableStorage::new().options(), None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// `fillfactor`, a percentage clamped to PostgreSQL's range for tables, 10 to 100.
    ///
    /// ```
    /// # use pgmq_orm_core::migrate::TableStorage;
    /// assert_eq!(TableStorage::new().fillfactor(5).options().unwrap(), "fillfactor = 10");
    /// ```
    pub fn fillfactor(mut self, percent: u8) -> Self {
        self.fillfactor = Some(percent.clamp(10, 100));
        self
    }

    /// `autovacuum_vacuum_scale_factor`: the fraction of the table's rows that may be dead
    /// before autovacuum runs (the server default is 0.2). Clamped to 0 to 100; a NaN
    /// leaves the setting unset.
    ///
    /// ```
    /// # use pgmq_orm_core::migrate::TableStorage;
    /// let s = TableStorage::new().autovacuum_vacuum_scale_factor(0.0);
    /// assert_eq!(s.options().unwrap(), "autovacuum_vacuum_scale_factor = 0");
    /// ```
    pub fn autovacuum_vacuum_scale_factor(mut self, fraction: f64) -> Self {
        self.vacuum_scale_factor = (!fraction.is_nan()).then(|| fraction.clamp(0.0, 100.0));
        self
    }

    /// `autovacuum_vacuum_threshold`: dead rows allowed on top of the scale factor (the
    /// server default is 50). Saturates at PostgreSQL's maximum, `i32::MAX`.
    ///
    /// ```
    /// # use pgmq_orm_core::migrate::TableStorage;
    /// let s = TableStorage::new().autovacuum_vacuum_threshold(1000);
    /// assert_eq!(s.options().unwrap(), "autovacuum_vacuum_threshold = 1000");
    /// ```
    pub fn autovacuum_vacuum_threshold(mut self, rows: u32) -> Self {
        self.vacuum_threshold = Some(rows.min(i32::MAX as u32));
        self
    }

    /// `autovacuum_vacuum_cost_delay` in milliseconds (0 lets autovacuum run on this
    /// table unthrottled). Clamped to PostgreSQL's maximum, 100 ms.
    ///
    /// ```
    /// # use pgmq_orm_core::migrate::TableStorage;
    /// let s = TableStorage::new().autovacuum_vacuum_cost_delay_ms(0);
    /// assert_eq!(s.options().unwrap(), "autovacuum_vacuum_cost_delay = 0");
    /// ```
    pub fn autovacuum_vacuum_cost_delay_ms(mut self, ms: u32) -> Self {
        self.vacuum_cost_delay_ms = Some(ms.min(100));
        self
    }

    /// The settings as the body of `SET (...)`, `None` when nothing is set. Storage
    /// parameters are part of the DDL and cannot be bound parameters; every value here is
    /// a number this type has range-checked, printed by Rust (never exponent notation),
    /// so nothing else can reach the statement.
    ///
    /// ```
    /// # use pgmq_orm_core::migrate::TableStorage;
    /// let s = TableStorage::new().autovacuum_vacuum_scale_factor(1e-7);
    /// assert_eq!(s.options().unwrap(), "autovacuum_vacuum_scale_factor = 0.0000001");
    /// ```
    pub fn options(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(v) = self.fillfactor {
            parts.push(format!("fillfactor = {v}"));
        }
        if let Some(v) = self.vacuum_scale_factor {
            parts.push(format!("autovacuum_vacuum_scale_factor = {v}"));
        }
        if let Some(v) = self.vacuum_threshold {
            parts.push(format!("autovacuum_vacuum_threshold = {v}"));
        }
        if let Some(v) = self.vacuum_cost_delay_ms {
            parts.push(format!("autovacuum_vacuum_cost_delay = {v}"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl QueueSpec {
    /// A plain (logged) queue without notifications or FIFO index.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::{QueueKind, QueueSpec}, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs"));
    /// assert_eq!(spec.kind(), &QueueKind::Logged);
    /// ```
    pub fn new(name: QueueName) -> Self {
        Self {
            name,
            kind: QueueKind::Logged,
            notify_throttle_ms: None,
            fifo_index: false,
            storage: TableStorage::new(),
        }
    }

    /// Creates the queue with unlogged tables.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::{QueueKind, QueueSpec}, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs")).unlogged();
    /// assert_eq!(spec.kind(), &QueueKind::Unlogged);
    /// ```
    pub fn unlogged(mut self) -> Self {
        self.kind = QueueKind::Unlogged;
        self
    }

    /// Creates the queue partitioned by pg_partman (which must be installed), with
    /// [`sql::DEFAULT_PREMAKE`] partitions made ahead.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::{QueueKind, QueueSpec}, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs")).partitioned("1 day", "7 days");
    /// assert!(matches!(spec.kind(), QueueKind::Partitioned { premake: 4, .. }));
    /// ```
    pub fn partitioned(
        mut self,
        partition_interval: impl Into<String>,
        retention_interval: impl Into<String>,
    ) -> Self {
        self.kind = QueueKind::Partitioned {
            partition_interval: partition_interval.into(),
            retention_interval: retention_interval.into(),
            premake: sql::DEFAULT_PREMAKE,
        };
        self
    }

    /// Enables insert notifications (`pgmq.enable_notify_insert`) with pgmq's default
    /// throttle, [`sql::DEFAULT_NOTIFY_THROTTLE`].
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::QueueSpec, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs")).notify_insert();
    /// assert!(spec.create_plan().iter().any(|s| s.sql.contains("enable_notify_insert")));
    /// ```
    pub fn notify_insert(self) -> Self {
        self.notify_insert_throttled(sql::DEFAULT_NOTIFY_THROTTLE)
    }

    /// Enables insert notifications with at most one notification per `throttle`
    /// (saturating at `i32::MAX` milliseconds).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use pgmq_orm_core::{migrate::{Bind, QueueSpec}, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs"))
    ///     .notify_insert_throttled(Duration::from_millis(10));
    /// assert!(spec.create_plan().iter().any(|s| s.binds.contains(&Bind::Int(10))));
    /// ```
    pub fn notify_insert_throttled(mut self, throttle: Duration) -> Self {
        self.notify_throttle_ms = Some(i32::try_from(throttle.as_millis()).unwrap_or(i32::MAX));
        self
    }

    /// Creates the GIN index on `headers` that speeds up pgmq's FIFO (grouped) reads.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::QueueSpec, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs")).fifo_index();
    /// assert!(spec.create_plan().iter().any(|s| s.sql.contains("create_fifo_index")));
    /// ```
    pub fn fifo_index(mut self) -> Self {
        self.fifo_index = true;
        self
    }

    /// Sets storage parameters on the queue's table (see [`TableStorage`]) for plain and
    /// unlogged queues. The archive table, which only grows, keeps the defaults. A
    /// partitioned queue's parent table holds no rows and PostgreSQL refuses storage
    /// parameters on it: the step then fails, saying so, and creates nothing (pg_partman's
    /// partitions are bounded by their interval instead).
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::{QueueSpec, TableStorage}, QueueName};
    /// let spec = QueueSpec::new(QueueName::from_static("jobs"))
    ///     .storage(TableStorage::new().fillfactor(70).autovacuum_vacuum_threshold(1000));
    /// let alter = &spec.create_plan()[2];
    /// assert!(alter.sql.contains("fillfactor = 70, autovacuum_vacuum_threshold = 1000"));
    /// ```
    pub fn storage(mut self, storage: TableStorage) -> Self {
        self.storage = storage;
        self
    }

    /// The queue's name.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::QueueSpec, QueueName};
    /// assert_eq!(QueueSpec::new(QueueName::from_static("a")).name().as_str(), "a");
    /// ```
    pub fn name(&self) -> &QueueName {
        &self.name
    }

    /// How the queue's tables are created.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::{QueueKind, QueueSpec}, QueueName};
    /// assert_eq!(QueueSpec::new(QueueName::from_static("a")).kind(), &QueueKind::Logged);
    /// ```
    pub fn kind(&self) -> &QueueKind {
        &self.kind
    }

    /// The statements that create the queue (and its notifications and index). A queue
    /// already listed in `pgmq.meta` is left as it is, so the plan is idempotent.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::QueueSpec, QueueName};
    /// let plan = QueueSpec::new(QueueName::from_static("a")).create_plan();
    /// assert!(plan[1].sql.contains("NOT EXISTS"));
    /// ```
    pub fn create_plan(&self) -> Vec<Statement> {
        let name = || Bind::Text(self.name.as_str().to_owned());
        let guard = "WHERE NOT EXISTS (SELECT FROM pgmq.meta WHERE queue_name = $1)";
        let create = match &self.kind {
            QueueKind::Logged => Statement::new(
                format!("SELECT {}($1) {guard}", function::CREATE),
                vec![name()],
            ),
            QueueKind::Unlogged => Statement::new(
                format!("SELECT {}($1) {guard}", function::CREATE_UNLOGGED),
                vec![name()],
            ),
            QueueKind::Partitioned {
                partition_interval,
                retention_interval,
                premake,
            } => {
                let mut binds = vec![
                    name(),
                    Bind::Text(partition_interval.clone()),
                    Bind::Text(retention_interval.clone()),
                ];
                // `premake` came with pgmq 1.13; the default is left out so that the
                // statement works on every supported version.
                let args = if *premake == sql::DEFAULT_PREMAKE {
                    "$1, $2, $3"
                } else {
                    binds.push(Bind::Int(*premake));
                    "$1, $2, $3, $4"
                };
                Statement::new(
                    format!("SELECT {}({args}) {guard}", function::CREATE_PARTITIONED),
                    binds,
                )
            }
        };
        let mut plan = vec![Statement::lock(), create];
        if let Some(options) = self.storage.options() {
            let sql = if matches!(self.kind, QueueKind::Partitioned { .. }) {
                // PostgreSQL's own refusal ("unrecognized parameter") does not say why.
                PARTITIONED_STORAGE_REFUSED.to_owned()
            } else {
                format!(
                    "ALTER TABLE {} SET ({options})",
                    self.name.quoted_table_name()
                )
            };
            plan.push(Statement::new(sql, Vec::new()));
        }
        if let Some(ms) = self.notify_throttle_ms {
            // Idempotent in pgmq: it drops and re-creates the trigger.
            plan.push(Statement::new(
                format!("SELECT {}($1, $2)", function::ENABLE_NOTIFY_INSERT),
                vec![name(), Bind::Int(ms)],
            ));
        }
        if self.fifo_index {
            // `CREATE INDEX IF NOT EXISTS` inside pgmq.
            plan.push(Statement::new(
                format!("SELECT {}($1)", function::CREATE_FIFO_INDEX),
                vec![name()],
            ));
        }
        plan
    }

    /// The statements that drop the queue: its insert-notification throttle row, then its
    /// tables (with their trigger and indexes) and `pgmq.meta` row. A queue that does not
    /// exist is left alone, so the plan is idempotent.
    ///
    /// ```
    /// # use pgmq_orm_core::{migrate::QueueSpec, QueueName};
    /// let plan = QueueSpec::new(QueueName::from_static("a")).drop_plan();
    /// assert!(plan.last().unwrap().sql.contains("pgmq.drop_queue"));
    /// ```
    pub fn drop_plan(&self) -> Vec<Statement> {
        let name = || Bind::Text(self.name.as_str().to_owned());
        let guard = "WHERE EXISTS (SELECT FROM pgmq.meta WHERE queue_name = $1)";
        vec![
            Statement::lock(),
            // pgmq.drop_queue leaves the throttle row behind; remove it first.
            Statement::new(
                format!("SELECT {}($1) {guard}", function::DISABLE_NOTIFY_INSERT),
                vec![name()],
            ),
            Statement::new(
                format!("SELECT {}($1) {guard}", function::DROP_QUEUE),
                vec![name()],
            ),
        ]
    }
}

/// SQL the install migration runs (no bound values needed).
pub mod install {
    /// One boolean: does schema `pgmq` exist (pgmq installed either way)?
    pub const SCHEMA_EXISTS: &str =
        "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'pgmq')";
    /// One boolean: does the server offer the pgmq extension?
    pub const EXTENSION_AVAILABLE: &str =
        "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pgmq')";
    /// Installs the extension.
    pub const CREATE_EXTENSION: &str = "CREATE EXTENSION IF NOT EXISTS pgmq";
    /// One boolean: was pgmq installed by the install migration (see
    /// [`super::INSTALL_MARKER`])? Bind the marker as `$1`.
    pub const INSTALLED_BY_US: &str = "SELECT COALESCE((SELECT obj_description(oid, 'pg_namespace') = $1 FROM pg_namespace WHERE nspname = 'pgmq'), false)";
    /// Marks schema `pgmq` as installed by the migration. `COMMENT` takes no parameters;
    /// the marker is a constant.
    pub const MARK: &str =
        "COMMENT ON SCHEMA pgmq IS 'pgmq-orm: installed by the pgmq install migration'";
    /// Removes pgmq (extension or SQL install) with all its queues.
    pub const UNINSTALL: [&str; 2] = [
        "DROP EXTENSION IF EXISTS pgmq CASCADE",
        "DROP SCHEMA IF EXISTS pgmq CASCADE",
    ];
    /// The error text when pgmq can be installed neither way, naming the fix that applies.
    /// `sql_fallback` is how the calling crate asks for the SQL-only install when its
    /// `install-sql` feature is on (e.g. "`PgmqMigrations::install_or_sql(database_url)`
    /// instead of `install()`"); `None` when the feature is off, and the text says to
    /// enable it.
    ///
    /// ```
    /// use pgmq_orm_core::migrate::install::not_available;
    /// assert!(not_available(None).contains("enable the `install-sql` feature"));
    /// let on = not_available(Some("`install_or_sql(database_url)`"));
    /// assert!(on.contains("use `install_or_sql(database_url)`"));
    /// assert!(!on.contains("enable the `install-sql` feature"));
    /// ```
    pub fn not_available(sql_fallback: Option<&str>) -> String {
        const NO_EXTENSION: &str =
            "the server does not offer the pgmq extension (see pg_available_extensions)";
        const OR: &str = "install pgmq's extension on the server, or install pgmq yourself";
        match sql_fallback {
            None => format!(
                "{NO_EXTENSION}, and the SQL-only install is not compiled in: enable the \
                 `install-sql` feature, {OR}"
            ),
            Some(fallback) => format!(
                "{NO_EXTENSION}, and this install step has no SQL-only fallback: use \
                 {fallback} (the `install-sql` feature is on), {OR}"
            ),
        }
    }

    #[cfg(test)]
    #[test]
    fn mark_uses_the_marker() {
        assert!(MARK.contains(super::INSTALL_MARKER));
    }
}

#[cfg(test)]
mod partitioned_tests {
    use super::*;
    use crate::QueueName;

    #[test]
    fn partitioned_queues_leave_the_default_premake_out_so_every_supported_pgmq_accepts_them() {
        let spec = QueueSpec::new(QueueName::from_static("big")).partitioned("10000", "100000");
        let plan = spec.create_plan();
        assert!(
            plan[1]
                .sql
                .starts_with("SELECT pgmq.create_partitioned($1, $2, $3) "),
            "{}",
            plan[1].sql
        );
        assert_eq!(plan[1].binds.len(), 3);
    }
}
