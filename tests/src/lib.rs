//! A real PostgreSQL with the real upstream pgmq, for tests, doctests, examples and
//! benchmarks.
//!
//! - With `DATABASE_URL` set, that server is used (its user must be allowed to create
//!   databases).
//! - Otherwise a throwaway cluster is started once per process from the PostgreSQL server
//!   binaries found on `PATH` or under `/usr/lib/postgresql/*/bin`: `initdb` into a temp
//!   dir, `fsync` off, a free loopback port. When running as root, the server runs as the
//!   `postgres` OS user, since Postgres refuses root. A watchdog process stops the server
//!   and removes the directory once this process exits, however it exits.
//! - pgmq is installed once per server into a template database: `CREATE EXTENSION pgmq`
//!   where the server offers the extension, otherwise the SQL scripts embedded in the
//!   pinned upstream `pgmq` crate. Each [`TestDb`] is a fresh clone of that template
//!   (about 50 ms), dropped when the `TestDb` is dropped (set `PGMQ_KEEP_TEST_DB=1` to keep
//!   it for inspection).
//!
//! - [`PrivateCluster`] always starts a cluster of its own, for tests that stop, restart
//!   or freeze the server (`SIGSTOP`); data and port survive restarts.
//!
//! Why in-house rather than a crate: `pgtemp` shells out to `sudo` (absent here, and
//! needed as root), `postgresql_embedded` downloads binaries (no network here) and
//! `testcontainers` needs a Docker engine. What remains is about two hundred lines over
//! `initdb`/`pg_ctl`, with no dependency beyond the driver.
//!
//! ```
//! let db = pgmq_harness::TestDb::new();
//! assert!(db.url().starts_with("postgres://"));
//! assert!(pgmq_harness::pgmq_version().starts_with("1."));
//! ```

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The template database every test database is cloned from.
const TEMPLATE_DB: &str = "pgmq_harness_template";
/// An advisory-lock key (any constant) serializing template creation and cloning, so that
/// processes sharing one `DATABASE_URL` server do not race.
const LOCK_KEY: i64 = 0x7067_6d71_6861_726e;

/// A server the harness can create databases on.
#[derive(Debug)]
struct Server {
    /// A URL of the maintenance database (the one `DATABASE_URL` names, or `postgres`).
    admin_url: String,
    /// The pgmq version installed in the template.
    pgmq_version: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let admin_url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => Cluster::start()
                .map(|c| c.admin_url())
                .unwrap_or_else(|e| panic!("pgmq-harness: {e}")),
        };
        let pgmq_version = run(prepare_template(admin_url.clone()))
            .and_then(|r| r)
            .unwrap_or_else(|e| panic!("pgmq-harness: preparing the pgmq template: {e}"));
        Server {
            admin_url,
            pgmq_version,
        }
    })
}

/// The pgmq version installed on the test server, e.g. `"1.13.0"`.
///
/// ```
/// assert!(!pgmq_harness::pgmq_version().is_empty());
/// ```
pub fn pgmq_version() -> &'static str {
    &server().pgmq_version
}

/// A fresh database with pgmq installed, dropped on drop.
///
/// ```
/// let db = pgmq_harness::TestDb::new();
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

    /// A fresh database with exactly pgmq `version` installed from SQL scripts (one of
    /// [`pgmq_versions`], e.g. `"1.11.0"`), for tests that prove an operation on every
    /// pgmq version the crates claim. The first call per version builds a template (the
    /// 1.11.0 install script of an older upstream release, then the pinned release's
    /// upgrade scripts up to `version`); later calls clone it. Panics with the reason
    /// when `version` cannot be installed: this is test support.
    ///
    /// ```
    /// let db = pgmq_harness::TestDb::with_pgmq_version("1.11.0");
    /// assert!(db.url().starts_with("postgres://"));
    /// ```
    pub fn with_pgmq_version(version: &str) -> Self {
        let template = format!("{TEMPLATE_DB}_v{}", version.replace('.', "_"));
        if !template
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            panic!("pgmq-harness: not a pgmq version: {version:?}");
        }
        let admin_url = server().admin_url.clone();
        let installed = run(ensure_template(
            admin_url,
            template.clone(),
            Some(version.to_owned()),
        ))
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("pgmq-harness: installing pgmq {version}: {e}"));
        assert_eq!(installed, version, "pgmq-harness: template {template}");
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
            .unwrap_or_else(|e| panic!("pgmq-harness: creating {name}: {e}"));
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
    /// let db = pgmq_harness::TestDb::new();
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
///         && !pgmq_harness::skip_for_missing("needs_a_tool", "no-such-tool-here is not installed")
///     {
///         return;
///     }
/// }
/// # if std::env::var_os(pgmq_harness::REQUIRE_EXTENSIONS_VAR).is_none() { needs_a_tool(); }
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
            eprintln!("pgmq-harness: keeping {}", self.url);
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped =
            run(execute(server().admin_url.clone(), sql)).and_then(|r| r.map_err(Into::into));
        if let Err(e) = dropped {
            eprintln!("pgmq-harness: could not drop {}: {e}", self.name);
        }
    }
}

/// A database URL for examples and benchmarks (the "embedded default"): `DATABASE_URL`
/// when set, with pgmq installed into it if it is missing; otherwise a fresh database on
/// a throwaway server that lives as long as this process.
///
/// ```no_run
/// let url = pgmq_harness::database_url();
/// ```
pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            run(install_pgmq(url.clone()))
                .and_then(|r| r)
                .unwrap_or_else(|e| panic!("pgmq-harness: installing pgmq into DATABASE_URL: {e}"));
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs `f` to completion on a private thread with its own runtime, so the harness works
/// from sync code and from inside any async runtime alike.
fn run<F>(f: F) -> Result<F::Output, BoxError>
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

async fn execute(url: String, sql: String) -> Result<(), sqlx::Error> {
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
    ensure_template(admin_url, TEMPLATE_DB.to_owned(), None).await
}

/// Creates the template database `template` once per server, with the newest pgmq
/// (`version` `None`) or exactly `version`; returns the installed pgmq version.
async fn ensure_template(
    admin_url: String,
    template: String,
    version: Option<String>,
) -> Result<String, BoxError> {
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut admin)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await?;
    let template_url = with_database(&admin_url, &template);
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
        match &version {
            None => install_pgmq(building_url).await?,
            Some(v) => install_pgmq_version(building_url, v).await?,
        }
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
async fn install_pgmq(url: String) -> Result<(), BoxError> {
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

/// The versions [`TestDb::with_pgmq_version`] can install, oldest first: the base
/// script's version, then each version the pinned release's upgrade scripts lead to.
///
/// ```
/// let versions = pgmq_harness::pgmq_versions();
/// assert_eq!(versions[0], "1.11.0");
/// assert!(versions.iter().any(|v| v == "1.13.0"));
/// ```
pub fn pgmq_versions() -> Vec<String> {
    let scripts = scripts();
    let mut versions = vec![scripts.base_version.clone()];
    while let Some((_, to)) = scripts.upgrade_from(versions.last().map_or("", |v| v)) {
        versions.push(to);
    }
    versions
}

/// The upstream SQL scripts, read as data from the crates' sources.
#[derive(Debug)]
struct Scripts {
    /// `pgmq.sql` of the older release: installs [`Scripts::base_version`].
    base: PathBuf,
    /// The version `base` installs.
    base_version: String,
    /// The pinned release's directory of `pgmq--<from>--<to>.sql` upgrade scripts.
    upgrades: PathBuf,
}

/// The release whose embedded `pgmq.sql` is the base of every versioned install (see
/// tests/Cargo.toml).
const BASE_RELEASE: &str = "0.33.3";

fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| locate_scripts().unwrap_or_else(|e| panic!("pgmq-harness: {e}")))
}

/// Finds both upstream releases' sources with `cargo metadata` (which also downloads
/// the never-built base release when it is missing).
fn locate_scripts() -> Result<Scripts, String> {
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err("cargo metadata failed".to_owned());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let sql_dir = |pick: &dyn Fn(&str) -> bool| {
        meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == "pgmq" && p["version"].as_str().is_some_and(pick))
            .find_map(|p| {
                let manifest = Path::new(p["manifest_path"].as_str()?);
                Some(manifest.parent()?.join("src/install/embedded"))
            })
            .ok_or_else(|| "no upstream pgmq release found by cargo metadata".to_owned())
    };
    let base_dir = sql_dir(&|v| v == BASE_RELEASE)?;
    let pinned_dir = sql_dir(&|v| v != BASE_RELEASE)?;
    let control = std::fs::read_to_string(base_dir.join("pgmq.control"))
        .map_err(|e| format!("reading {}: {e}", base_dir.display()))?;
    let base_version = control
        .lines()
        .find_map(|l| l.strip_prefix("default_version"))
        .map(|v| v.trim_matches(|c: char| c == '=' || c == '\'' || c.is_whitespace()))
        .ok_or("no default_version in the base release's pgmq.control")?
        .to_owned();
    Ok(Scripts {
        base: base_dir.join("sql").join("pgmq.sql"),
        base_version,
        upgrades: pinned_dir.join("sql"),
    })
}

impl Scripts {
    /// The upgrade script from `version`, and the version it leads to.
    fn upgrade_from(&self, version: &str) -> Option<(PathBuf, String)> {
        let prefix = format!("pgmq--{version}--");
        std::fs::read_dir(&self.upgrades)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find_map(|name| {
                let to = name.strip_prefix(&prefix)?.strip_suffix(".sql")?.to_owned();
                Some((self.upgrades.join(name), to))
            })
    }
}

/// Installs exactly pgmq `version` into the empty database at `url`: the base release's
/// `pgmq.sql`, then the pinned release's upgrade scripts up to `version`, each recorded in
/// `pgmq.__pgmq_migrations` as the upstream installer records them.
async fn install_pgmq_version(url: String, version: &str) -> Result<(), BoxError> {
    let scripts = scripts();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let base = std::fs::read_to_string(&scripts.base)?;
    sqlx::raw_sql(AssertSqlSafe(base)).execute(&pool).await?;
    pgmq::install::init_migrations_table(&pool, scripts.base_version.parse()?).await?;
    let mut current = scripts.base_version.clone();
    while current != version {
        let (path, to) = scripts
            .upgrade_from(&current)
            .ok_or_else(|| format!("no upgrade script leads from pgmq {current} to {version}"))?;
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(AssertSqlSafe(std::fs::read_to_string(&path)?))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO pgmq.__pgmq_migrations (name, version) VALUES ($1, $2)")
            .bind(path.file_name().and_then(|n| n.to_str()))
            .bind(&to)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        current = to;
    }
    pool.close().await;
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
fn with_database(url: &str, db: &str) -> String {
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

/// A throwaway PostgreSQL cluster on disk: its directory, port and how to run `pg_ctl`.
#[derive(Debug)]
struct Cluster {
    pg_ctl: PathBuf,
    user: Option<(u32, u32)>,
    dir: PathBuf,
    port: u16,
}

/// The OS user to run the server as, when we are root: `(uid, gid)`.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok());
    if uid != Some(0) {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres") && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            "running as root, and there is no `postgres` OS user to run the server as \
             (install Debian's postgresql package)"
                .to_owned()
        })
}

/// Finds a PostgreSQL server binary: on `PATH`, then under `/usr/lib/postgresql/*/bin`
/// (newest version first).
fn find_binary(name: &str) -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    on_path
        .into_iter()
        .chain(versions)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no `{name}` on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL's \
                 server binaries (`apt-get install -y postgresql`) or set DATABASE_URL"
            )
        })
}

fn command(program: &Path, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

impl Cluster {
    /// Creates the cluster's directory (watched: removed with the server once this
    /// process is gone), runs `initdb` and starts the server on a free port.
    fn start() -> Result<Self, String> {
        let initdb = find_binary("initdb")?;
        let pg_ctl = find_binary("pg_ctl")?;
        let user = server_user()?;
        let dir = std::env::temp_dir().join(format!(
            "pgmq-harness-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = user {
            chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        Self::watch(&pg_ctl, &dir, user)?;
        let out = command(&initdb, user)
            .args(["-D"])
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut cluster = Self {
            pg_ctl,
            user,
            dir,
            port: 0,
        };
        // The chosen port can be taken between the check and the start: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// `pg_ctl start` on this cluster's port, waiting until it accepts connections.
    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -F -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300 -c shared_buffers=128MB",
            self.port,
            self.dir.display()
        );
        let out = command(&self.pg_ctl, self.user)
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(format!("the server did not start:\n{log}"))
    }

    /// `pg_ctl stop` with `mode` (`fast` or `immediate`), waiting until it is down.
    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let out = command(&self.pg_ctl, self.user)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-t", "60", "-m", mode, "stop"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts a detached watchdog that stops the server and deletes `dir` once this process
    /// is gone, whether it returned, panicked or was killed.
    fn watch(pg_ctl: &Path, dir: &Path, user: Option<(u32, u32)>) -> Result<(), String> {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 0.5; done; \
             '{pg_ctl}' -D '{dir}/data' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            dir = dir.display(),
        );
        command(Path::new("/bin/sh"), user)
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map(drop)
            .map_err(|e| format!("starting the watchdog: {e}"))
    }
}

/// A PostgreSQL cluster of its own, for tests that stop, restart or freeze the server.
///
/// Always started from the local server binaries (even when `DATABASE_URL` is set),
/// with one database that has pgmq installed ([`url`](Self::url)). The data and the
/// port survive [`stop`](Self::stop)/[`start`](Self::start)/[`restart`](Self::restart),
/// so clients and pools can reconnect to the same URL. Dropping it stops the server
/// (thawing it first if [`freeze`](Self::freeze)d) and deletes its directory; a watchdog
/// does the same if the process dies first.
///
/// ```no_run
/// let cluster = pgmq_harness::PrivateCluster::start();
/// let url = cluster.url().to_owned();
/// cluster.restart();
/// assert_eq!(url, cluster.url());
/// ```
#[derive(Debug)]
pub struct PrivateCluster {
    cluster: Cluster,
    url: String,
}

impl PrivateCluster {
    /// Initializes and starts a new cluster and installs pgmq into its database `pgmq`.
    /// Panics with the reason when the server binaries are missing: this is test support.
    pub fn start() -> Self {
        let cluster = Cluster::start().unwrap_or_else(|e| panic!("pgmq-harness: {e}"));
        let admin = cluster.admin_url();
        let url = with_database(&admin, "pgmq");
        let installed = run(execute(admin, "CREATE DATABASE pgmq".to_owned()))
            .and_then(|r| r.map_err(Into::into))
            .and_then(|()| run(install_pgmq(url.clone())).and_then(|r| r));
        if let Err(e) = installed {
            panic!("pgmq-harness: installing pgmq into the private cluster: {e}");
        }
        Self { cluster, url }
    }

    /// The URL of the cluster's database, which has pgmq installed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the cluster's `postgres` database, as its superuser.
    pub fn admin_url(&self) -> String {
        self.cluster.admin_url()
    }

    /// The TCP port the server listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are terminated, transactions in
    /// flight roll back), waiting until it is down.
    pub fn stop(&self) {
        self.cluster
            .pg_ctl_stop("fast")
            .unwrap_or_else(|e| panic!("pgmq-harness: {e}"));
    }

    /// Starts the stopped server again on the same port, waiting until it accepts
    /// connections.
    pub fn start_again(&self) {
        self.cluster
            .pg_ctl_start()
            .unwrap_or_else(|e| panic!("pgmq-harness: {e}"));
    }

    /// [`stop`](Self::stop) then [`start_again`](Self::start_again).
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// The server's log so far (its stderr): with `log_statement = 'all'`, every statement
    /// it received, for tests that check what reached the server as SQL text.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.cluster.dir.join("server.log")).unwrap_or_default()
    }

    /// The process ids of the postmaster and all its children (backends and background
    /// workers).
    pub fn server_pids(&self) -> Vec<u32> {
        let pid_file = self.cluster.dir.join("data").join("postmaster.pid");
        let Some(postmaster) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
        else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        let children = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        for entry in children {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid ...`; comm may hold spaces, so split after the `)`.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Freezes the whole server with `SIGSTOP`: connections stay open (the kernel still
    /// accepts and acknowledges) but nothing answers, as with a hung host.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Thaws a [`freeze`](Self::freeze)d server with `SIGCONT`.
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pids = self.server_pids();
        let Some((postmaster, children)) = pids.split_first() else {
            return;
        };
        let kill = |pid: &u32| {
            Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !kill(postmaster) {
            eprintln!("pgmq-harness: kill -{sig} {postmaster} (the postmaster) failed");
        }
        // A child may exit between listing and signalling; that is fine.
        for pid in children {
            kill(pid);
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.thaw();
        let _ = self.cluster.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.cluster.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "t"),
            "postgres://u@h:5/t"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t"),
            "postgres://u:p@h/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t"), "postgres://h/t");
    }
}
