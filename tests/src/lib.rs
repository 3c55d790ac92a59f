//! The in-house test harness: the published test kit [`pgmq_orm_test`] (re-exported
//! whole: [`TestDb`], [`PrivateCluster`], [`database_url`], ...) plus databases with any
//! pgmq version the crates support ([`PgmqVersions::with_pgmq_version`]), for the
//! cross-crate suites in `tests/tests/` and the benchmarks.
//!
//! The versioned installs stay here, out of the published kit: they read the SQL scripts
//! of two upstream releases from Cargo's registry (one of them an exact, never-built pin),
//! which only makes sense inside this workspace.
//!
//! ```
//! let db = pgmq_harness::TestDb::new();
//! assert!(db.url().starts_with("postgres://"));
//! assert!(pgmq_harness::pgmq_version().starts_with("1."));
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use pgmq_orm_test::*;
use sqlx::AssertSqlSafe;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Databases with exactly one pgmq version installed.
pub trait PgmqVersions {
    /// A fresh database with exactly pgmq `version` installed from SQL scripts (one of
    /// [`pgmq_versions`], e.g. `"1.11.0"`), for tests that prove an operation on every
    /// pgmq version the crates claim. The first call per version builds a template (the
    /// 1.11.0 install script of an older upstream release, then the pinned release's
    /// upgrade scripts up to `version`); later calls clone it. Panics with the reason
    /// when `version` cannot be installed: this is test support.
    ///
    /// ```
    /// use pgmq_harness::{PgmqVersions, TestDb};
    /// let db = TestDb::with_pgmq_version("1.11.0");
    /// assert!(db.url().starts_with("postgres://"));
    /// ```
    fn with_pgmq_version(version: &str) -> TestDb;
}

impl PgmqVersions for TestDb {
    fn with_pgmq_version(version: &str) -> Self {
        let name = format!("v{}", version.replace('.', "_"));
        let version = version.to_owned();
        Self::with_template(&name, move |url| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                // The template starts as a clone of the newest pgmq's.
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await?;
                sqlx::raw_sql(
                    "DROP EXTENSION IF EXISTS pgmq CASCADE; DROP SCHEMA IF EXISTS pgmq CASCADE",
                )
                .execute(&pool)
                .await?;
                pool.close().await;
                install_pgmq_version(url.to_owned(), &version).await
            })
        })
    }
}

/// The versions [`PgmqVersions::with_pgmq_version`] can install, oldest first: the base
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
