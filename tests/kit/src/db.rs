//! The shared server, its pgmq template and the per-test databases.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::cluster::Cluster;

/// The template database every test database is cloned from.
const TEMPLATE_DB: &str = "pgmq_harness_template";
/// An advisory-lock key (any constant) serializing template creation and cloning, so that
/// processes sharing one `DATABASE_URL` server do not race.
const LOCK_KEY: i64 = 0x7067_6d71_6861_726e;
/// The prefix of the templates [`TestDb::with_template`] builds.
const TEMPLATE_PREFIX: &str = "pgmq_test_tpl_";

/// A server the harness can create databases on.
#[derive(Debug)]
struct Server {
    /// A URL of the maintenance database (the one `DATABASE_URL` names, or `postgres`).
    admin_url: String,
    /// The pgmq version installed in the template.
    pgmq_version: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
pub(crate) static COUNTER: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let admin_url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => Cluster::start()
                .map(|c| c.admin_url())
                .unwrap_or_else(|e| panic!("pgmq-orm-test: {e}")),
        };
        let pgmq_version = run(prepare_template(admin_url.clone()))
            .and_then(|r| r)
            .unwrap_or_else(|e| panic!("pgmq-orm-test: preparing the pgmq template: {e}"));
        Server {
            admin_url,
            pgmq_version,
        }
    })
}

/// The pgmq version installed on the test server, e.g. `"1.13.0"`.
///
/// ```
/// assert!(!pgmq_orm_test::pgmq_version().is_empty());
/// ```
pub fn pgmq_version() -> &'static str {
    &server().pgmq_version
}

/// A fresh database with pgmq installed, dropped on drop.
///
/// ```
/// let db = pgmq_orm_test::TestDb::new();
/// println!("testing against {}", db.url());
/// ```
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Clones the pgmq template into a new database. Panics with the reason when no
    /// server can be had: this is test support.
    pub fn new() -> Self {
        Self::clone_of(TEMPLATE_DB)
    }

    /// A fresh database cloned from the template `name`, which is built once per server
    /// by `setup`: a clone of the pgmq template (so pgmq is installed) into which `setup`
    /// puts what every test needs, such as the application's schema migrations. Tests
    /// then start from that state in about 50 ms instead of migrating each time.
    ///
    /// `setup` gets the URL of the template being built and runs on a thread of its own
    /// (with no async runtime, so it may start one). A template is kept on the server
    /// under the name `pgmq_test_tpl_<name>`: on a throwaway server it goes away with the
    /// process, on a `DATABASE_URL` server it stays, so give `name` a new suffix when
    /// `setup` changes (or drop the database). Processes sharing a server build it once
    /// between them. Panics with the reason if `name` is not 1 to 30 characters of
    /// `[a-z0-9_]` or `setup` fails: this is test support.
    ///
    /// ```
    /// use pgmq_orm_test::TestDb;
    /// use diesel::{Connection, PgConnection, RunQueryDsl};
    ///
    /// let migrate = |url: &str| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    ///     let mut conn = PgConnection::establish(url)?;
    ///     diesel::sql_query("CREATE TABLE orders (id int PRIMARY KEY)").execute(&mut conn)?;
    ///     Ok(())
    /// };
    /// let db = TestDb::with_template("doc_orders_v1", migrate);
    /// let mut conn = PgConnection::establish(db.url()).unwrap();
    /// diesel::sql_query("INSERT INTO orders VALUES (1)").execute(&mut conn).unwrap();
    /// // A second database from the same template starts empty again.
    /// let other = TestDb::with_template("doc_orders_v1", migrate);
    /// let mut conn = PgConnection::establish(other.url()).unwrap();
    /// assert_eq!(diesel::sql_query("SELECT * FROM orders").execute(&mut conn).unwrap(), 0);
    /// ```
    pub fn with_template<F>(name: &str, setup: F) -> Self
    where
        F: FnOnce(&str) -> Result<(), BoxError> + Send,
    {
        let valid = !name.is_empty()
            && name.len() <= 30
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            panic!("pgmq-orm-test: a template name is 1 to 30 of [a-z0-9_], not {name:?}");
        }
        let template = format!("{TEMPLATE_PREFIX}{name}");
        build_template(&template, setup)
            .unwrap_or_else(|e| panic!("pgmq-orm-test: building template {name}: {e}"));
        Self::clone_of(&template)
    }

    fn clone_of(template: &str) -> Self {
        let server = server();
        let name = format!(
            "pgmq_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
        run(locked(server.admin_url.clone(), sql))
            .and_then(|r| r.map_err(Into::into))
            .unwrap_or_else(|e| panic!("pgmq-orm-test: creating {name}: {e}"));
        let url = with_database(&server.admin_url, &name);
        Self { name, url }
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the optional server extension `extension` (such as `pg_partman`) in this
    /// database and returns `true`; where the server does not have it, reports
    /// `SKIPPED: <test>: ...` with the reason on the terminal (past the test runner's
    /// output capture, so a skip is always seen) and returns `false`, so the caller
    /// returns early. With [`REQUIRE_EXTENSIONS_VAR`] set (CI sets it) a missing
    /// extension panics instead: CI never tests less.
    ///
    /// ```
    /// let db = pgmq_orm_test::TestDb::new();
    /// if !db.optional_extension("pg_partman", "doc example") {
    ///     return; // reported as skipped
    /// }
    /// ```
    pub fn optional_extension(&self, extension: &str, test: &str) -> bool {
        let sql = format!("CREATE EXTENSION IF NOT EXISTS \"{extension}\"");
        let Err(e) = run(execute(self.url.clone(), sql)).and_then(|r| r.map_err(Into::into)) else {
            return true;
        };
        let hint = match extension {
            "pg_partman" => "; on Debian: apt-get install postgresql-15-partman",
            _ => "",
        };
        skip_for_missing(
            test,
            &format!("the server lacks the optional extension {extension} ({e}){hint}"),
        )
    }
}

/// Reports that `test` cannot run here for want of an optional requirement (`reason`):
/// `SKIPPED: <test>: <reason>` on the terminal, past the test runner's output capture, and
/// `false` so the caller returns early. With [`REQUIRE_EXTENSIONS_VAR`] set (CI sets it) it
/// panics instead: CI never tests less.
///
/// ```
/// fn needs_a_tool() {
///     if std::process::Command::new("no-such-tool-here").output().is_err()
///         && !pgmq_orm_test::skip_for_missing("needs_a_tool", "no-such-tool-here is not installed")
///     {
///         return;
///     }
/// }
/// # if std::env::var_os(pgmq_orm_test::REQUIRE_EXTENSIONS_VAR).is_none() { needs_a_tool(); }
/// ```
pub fn skip_for_missing(test: &str, reason: &str) -> bool {
    if std::env::var_os(REQUIRE_EXTENSIONS_VAR).is_some_and(|v| !v.is_empty()) {
        panic!("{test}: {reason}; {REQUIRE_EXTENSIONS_VAR} is set, so this is a failure");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
    false
}

/// Set (to anything non-empty) to make [`TestDb::optional_extension`] and
/// [`skip_for_missing`] fail a test whose optional requirement (a server extension such as
/// pg_partman, the `nft` tool) is missing instead of skipping it. `.ci/run` sets it.
pub const REQUIRE_EXTENSIONS_VAR: &str = "PGMQ_REQUIRE_OPTIONAL_EXTENSIONS";

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("PGMQ_KEEP_TEST_DB").is_some() {
            eprintln!("pgmq-orm-test: keeping {}", self.url);
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped =
            run(execute(server().admin_url.clone(), sql)).and_then(|r| r.map_err(Into::into));
        if let Err(e) = dropped {
            eprintln!("pgmq-orm-test: could not drop {}: {e}", self.name);
        }
    }
}

/// A database URL for examples and benchmarks (the "embedded default"): `DATABASE_URL`
/// when set, with pgmq installed into it if it is missing; otherwise a fresh database on
/// a throwaway server that lives as long as this process.
///
/// ```no_run
/// let url = pgmq_orm_test::database_url();
/// ```
pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            run(install_pgmq(url.clone()))
                .and_then(|r| r)
                .unwrap_or_else(|e| {
                    panic!("pgmq-orm-test: installing pgmq into DATABASE_URL: {e}")
                });
            url
        }
        _ => {
            let db = TestDb::new();
            let url = db.url().to_owned();
            // The throwaway server (and this database) go away when the process exits.
            std::mem::forget(db);
            url
        }
    }
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs `f` to completion on a private thread with its own runtime, so the harness works
/// from sync code and from inside any async runtime alike.
pub(crate) fn run<F>(f: F) -> Result<F::Output, BoxError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
    })
    .join()
    .map_err(|_| "harness thread panicked")?
    .map_err(Into::into)
}

pub(crate) async fn execute(url: String, sql: String) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute(AssertSqlSafe(sql)).await?;
    conn.close().await
}

/// Runs `sql` while holding the harness's advisory lock.
async fn locked(url: String, sql: String) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(&url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut conn)
        .await?;
    let result = conn.execute(AssertSqlSafe(sql)).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut conn)
        .await?;
    result?;
    conn.close().await
}

/// Creates the template database with pgmq once per server; returns the pgmq version.
async fn prepare_template(admin_url: String) -> Result<String, BoxError> {
    let template = TEMPLATE_DB;
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut admin)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut admin)
            .await?;
    let template_url = with_database(&admin_url, template);
    if !exists {
        // Built under another name and renamed when complete, so a crash never leaves a
        // half-installed template behind.
        let building = format!("{template}_building");
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
            )))
            .await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .await?;
        let building_url = with_database(&admin_url, &building);
        install_pgmq(building_url).await?;
        admin
            .execute(AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {template}"
            )))
            .await?;
    }
    let installed = installed_version(&template_url).await?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(installed)
}

/// Installs pgmq into the database at `url` unless it is there already:
/// `CREATE EXTENSION` where the server has it, else the upstream crate's embedded scripts.
pub(crate) async fn install_pgmq(url: String) -> Result<(), BoxError> {
    let mut conn = PgConnection::connect(&url).await?;
    let has_schema: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'pgmq')")
            .fetch_one(&mut conn)
            .await?;
    if !has_schema {
        let available: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pgmq')",
        )
        .fetch_one(&mut conn)
        .await?;
        if available {
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgmq").await?;
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await?;
            pgmq::install::install_sql_from_embedded(&pool).await?;
            pool.close().await;
        }
    }
    conn.close().await?;
    Ok(())
}

async fn installed_version(url: &str) -> Result<String, BoxError> {
    let mut conn = PgConnection::connect(url).await?;
    let ext: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pgmq'")
            .fetch_optional(&mut conn)
            .await?;
    let version = match ext {
        Some(v) => v,
        None => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await?;
            let v = pgmq::install::installed_version(&pool)
                .await?
                .ok_or("pgmq is not installed")?;
            pool.close().await;
            v.to_string()
        }
    };
    conn.close().await?;
    Ok(version)
}

/// `url` with its database replaced by `db`.
pub(crate) fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Builds the template database `template` (a clone of the pgmq template, then `setup`)
/// unless it exists. Built under a name of this process's own and renamed when complete,
/// so a crash or a failed `setup` never leaves a half-built template behind; no lock is
/// held while `setup` runs, and when two processes build it at once the first rename wins.
fn build_template<F>(template: &str, setup: F) -> Result<(), BoxError>
where
    F: FnOnce(&str) -> Result<(), BoxError> + Send,
{
    let admin_url = server().admin_url.clone();
    if run(database_exists(admin_url.clone(), template.to_owned()))?? {
        return Ok(());
    }
    let building = format!(
        "{template}_b{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    run(locked(
        admin_url.clone(),
        format!("CREATE DATABASE {building} TEMPLATE {TEMPLATE_DB}"),
    ))??;
    let building_url = with_database(&admin_url, &building);
    // A thread of its own: `setup` may start an async runtime, which it could not do on a
    // thread already inside one (the caller's `#[tokio::test]`).
    let done = std::thread::scope(|s| {
        s.spawn(|| setup(&building_url))
            .join()
            .unwrap_or_else(|_| Err("the setup panicked".into()))
    });
    let finished = done.and_then(|()| {
        run(rename_template(
            admin_url.clone(),
            building.clone(),
            template.to_owned(),
        ))?
    });
    if finished.is_err() {
        let _ = run(execute(
            admin_url,
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        ));
    }
    finished
}

async fn database_exists(admin_url: String, name: String) -> Result<bool, sqlx::Error> {
    let mut conn = PgConnection::connect(&admin_url).await?;
    let exists = sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(exists)
}

/// Renames the finished `building` database to `template`, under the harness's lock; if
/// another process got there first, drops `building` instead.
async fn rename_template(
    admin_url: String,
    building: String,
    template: String,
) -> Result<(), BoxError> {
    let mut conn = PgConnection::connect(&admin_url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut conn)
        .await?;
    // Connections `setup` left open (a pool not yet closed) would block the rename.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&building)
        .execute(&mut conn)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut conn)
            .await?;
    let sql = if exists {
        format!("DROP DATABASE {building} WITH (FORCE)")
    } else {
        format!("ALTER DATABASE {building} RENAME TO {template}")
    };
    let result = conn.execute(AssertSqlSafe(sql)).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut conn)
        .await?;
    result?;
    conn.close().await?;
    Ok(())
}
