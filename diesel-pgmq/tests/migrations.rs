//! The Diesel migrations on a real server, through Diesel's own `MigrationHarness`.
#![cfg(all(feature = "migrations", feature = "sync"))]

use std::sync::{Arc, Barrier};

use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text};
use diesel_pgmq::QueueName;
use diesel_pgmq::migrations::{
    MigrationHarness, PgmqMigrations, QueueSpec, check_pgmq, run_pending_locked,
};
use diesel_pgmq::schema::{ArchiveRow, QueueRow};
use pgmq_harness::TestDb;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

diesel_pgmq::pgmq_tables! {
    /// The queue the table tests use.
    pub mod orders { queue: q_orders, archive: a_orders }
}

#[derive(QueryableByName)]
struct S {
    #[diesel(sql_type = Text)]
    s: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Everything the migrations touch, as one comparable string.
fn snapshot(conn: &mut PgConnection) -> String {
    let has_pgmq: N = sql_query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'pgmq'")
        .get_result(conn)
        .unwrap();
    if has_pgmq.n == 0 {
        return "no pgmq".to_owned();
    }
    sql_query(
        "SELECT coalesce(string_agg(x, ',' ORDER BY x), '') AS s FROM (
           SELECT c.relkind::text || ':' || c.relname || ':' || c.relpersistence::text AS x
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'pgmq'
           UNION ALL SELECT 'meta:' || queue_name || ':' || is_unlogged || ':' || is_partitioned
             FROM pgmq.meta
           UNION ALL SELECT 'trigger:' || tgname || ':' || tgrelid::regclass::text
             FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'pgmq.%'
           UNION ALL SELECT 'throttle:' || queue_name || ':' || throttle_interval_ms
             FROM pgmq.notify_insert_throttle
         ) t",
    )
    .get_result::<S>(conn)
    .unwrap()
    .s
}

fn applied(conn: &mut PgConnection) -> Vec<String> {
    sql_query("SELECT version AS s FROM __diesel_schema_migrations ORDER BY version")
        .load::<S>(conn)
        .unwrap()
        .into_iter()
        .map(|r| r.s)
        .collect()
}

fn project() -> PgmqMigrations {
    PgmqMigrations::new()
        .install()
        .create_queue(
            QueueSpec::new(QueueName::from_static("orders"))
                .notify_insert()
                .fifo_index(),
        )
        .create_queue(QueueSpec::new(QueueName::from_static("fast")).unlogged())
        .create_queue(QueueSpec::new(QueueName::from_static("legacy")))
        .drop_queue(QueueSpec::new(QueueName::from_static("legacy")))
}

#[test]
fn up_down_up_is_clean_and_idempotent() -> R {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    let before = snapshot(&mut conn);

    let ran = conn.run_pending_migrations(project())?;
    assert_eq!(ran.len(), 5);
    let after_up = snapshot(&mut conn);
    for part in [
        "r:q_orders:p",
        "r:a_orders:p",
        "i:q_orders_fifo_idx:p",
        "trigger:trigger_notify_queue_insert_listeners:pgmq.q_orders",
        "throttle:orders:250",
        "r:q_fast:u",
        "meta:fast:true:false",
        "meta:orders:false:false",
    ] {
        assert!(after_up.contains(part), "{part} missing from {after_up}");
    }
    assert!(!after_up.contains("legacy"), "{after_up}");
    assert!(check_pgmq(&mut conn)? >= diesel_pgmq::MIN_PGMQ_VERSION);

    // Running again changes nothing: nothing pending, and each step re-run by hand is a no-op.
    assert!(!conn.has_pending_migration(project())?);
    assert!(conn.run_pending_migrations(project())?.is_empty());
    for step in project().steps() {
        conn.run_migration(step)?;
    }
    assert_eq!(applied(&mut conn).len(), 5);
    assert_eq!(snapshot(&mut conn), after_up);

    // Down reverts to exactly what was there (pgmq was there before, so it stays).
    let reverted = conn.revert_all_migrations(project())?;
    assert_eq!(reverted.len(), 5);
    assert_eq!(snapshot(&mut conn), before);
    assert!(applied(&mut conn).is_empty());

    // And up again.
    conn.run_pending_migrations(project())?;
    assert_eq!(snapshot(&mut conn), after_up);
    conn.revert_last_migration(project())?;
    assert!(snapshot(&mut conn).contains("legacy"));
    Ok(())
}

#[test]
fn concurrent_workers_do_not_race() -> R {
    let db = TestDb::new();
    let url = db.url().to_owned();
    let barrier = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || -> Result<usize, String> {
                let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
                barrier.wait();
                run_pending_locked(&mut conn, project())
                    .map(|v| v.len())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap()?;
    }
    let mut conn = PgConnection::establish(&url)?;
    let meta: N =
        sql_query("SELECT count(*) AS n FROM pgmq.meta WHERE queue_name IN ('orders', 'fast')")
            .get_result(&mut conn)?;
    assert_eq!(meta.n, 2);
    let versions = applied(&mut conn);
    assert_eq!(versions.len(), 5, "{versions:?}");
    Ok(())
}

#[test]
fn concurrent_plain_harness_runs_do_not_race_once_tracking_exists() -> R {
    let db = TestDb::new();
    let url = db.url().to_owned();
    // Diesel's own `CREATE TABLE IF NOT EXISTS __diesel_schema_migrations` is not
    // race-free; once it exists, the plain harness is safe with our steps.
    PgConnection::establish(&url)?.applied_migrations()?;
    let barrier = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || -> Result<usize, String> {
                let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
                barrier.wait();
                conn.run_pending_migrations(project())
                    .map(|v| v.len())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap()?;
    }
    let mut conn = PgConnection::establish(&url)?;
    assert_eq!(applied(&mut conn).len(), 5);
    let meta: N = sql_query("SELECT count(*) AS n FROM pgmq.meta").get_result(&mut conn)?;
    assert_eq!(meta.n, 2);
    Ok(())
}

#[test]
fn a_failing_step_leaves_no_half_created_queue() -> R {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    // An unrelated table squatting on the archive's name makes pgmq.create fail after it
    // created the queue table.
    sql_query("CREATE TABLE pgmq.a_clash (x int)").execute(&mut conn)?;
    let before = snapshot(&mut conn);
    let m = PgmqMigrations::new().create_queue(QueueSpec::new(QueueName::from_static("clash")));
    assert!(conn.run_pending_migrations(m).is_err());
    assert_eq!(snapshot(&mut conn), before);
    assert!(applied(&mut conn).is_empty());
    Ok(())
}

#[test]
fn partitioned_queue_with_pg_partman() -> R {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    if !db.optional_extension("pg_partman", "partitioned_queue_with_pg_partman") {
        return Ok(());
    }
    let before = snapshot(&mut conn);
    let m = PgmqMigrations::new().create_queue(
        QueueSpec::new(QueueName::from_static("parted")).partitioned("10000", "100000"),
    );
    conn.run_pending_migrations(m.clone())?;
    assert!(snapshot(&mut conn).contains("meta:parted:false:true"));
    conn.run_pending_migrations(m.clone())?;
    conn.revert_all_migrations(m)?;
    assert_eq!(snapshot(&mut conn), before);
    Ok(())
}

/// A database on the test server without pgmq, dropped afterwards.
struct BareDb {
    admin: String,
    name: String,
    url: String,
}

impl BareDb {
    fn new(db: &TestDb) -> Self {
        let name = format!("{}_bare", db.name());
        let mut admin = PgConnection::establish(db.url()).unwrap();
        sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let url = db.url().replace(db.name(), &name);
        Self {
            admin: db.url().to_owned(),
            name,
            url,
        }
    }
}

impl Drop for BareDb {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.admin) {
            let _ = sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

#[cfg(not(feature = "install-sql"))]
#[test]
fn install_without_the_extension_fails_clearly() -> R {
    let db = TestDb::new();
    let bare = BareDb::new(&db);
    let mut conn = PgConnection::establish(&bare.url)?;
    let err = check_pgmq(&mut conn).unwrap_err();
    assert_eq!(err.kind(), diesel_pgmq::ErrorKind::PgmqMissing);

    let available: N =
        sql_query("SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'pgmq'")
            .get_result(&mut conn)?;
    if available.n > 0 {
        eprintln!("the server offers the pgmq extension; the error path is not reachable");
        return Ok(());
    }
    let err = conn
        .run_pending_migrations(PgmqMigrations::new().install())
        .unwrap_err();
    let core = err
        .downcast_ref::<diesel_pgmq::Error>()
        .expect("a pgmq_orm_core::Error");
    assert_eq!(core.kind(), diesel_pgmq::ErrorKind::PgmqMissing);
    let source = std::error::Error::source(core).unwrap().to_string();
    assert!(
        source.contains("enable the `install-sql` feature"),
        "{source}"
    );
    assert_eq!(snapshot(&mut conn), "no pgmq");
    Ok(())
}

/// With `install-sql` compiled in, a plain `install()` on a server without the extension
/// names the fallback to use (`install_or_sql`), not the feature that is already on.
#[cfg(feature = "install-sql")]
#[test]
fn install_without_a_fallback_names_install_or_sql() -> R {
    let db = TestDb::new();
    let bare = BareDb::new(&db);
    let mut conn = PgConnection::establish(&bare.url)?;
    let available: N =
        sql_query("SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'pgmq'")
            .get_result(&mut conn)?;
    assert_eq!(
        available.n, 0,
        "the test server must lack the pgmq extension"
    );
    let err = conn
        .run_pending_migrations(PgmqMigrations::new().install())
        .unwrap_err();
    let core = err
        .downcast_ref::<diesel_pgmq::Error>()
        .expect("a pgmq_orm_core::Error");
    assert_eq!(core.kind(), diesel_pgmq::ErrorKind::PgmqMissing);
    let source = std::error::Error::source(core).unwrap().to_string();
    assert!(
        source.contains("use `PgmqMigrations::install_or_sql(database_url)`"),
        "{source}"
    );
    assert!(!source.contains("enable the `install-sql`"), "{source}");
    assert_eq!(snapshot(&mut conn), "no pgmq");
    Ok(())
}

#[cfg(feature = "install-sql")]
#[test]
fn install_without_the_extension_uses_the_sql_scripts() -> R {
    let db = TestDb::new();
    let bare = BareDb::new(&db);
    let mut conn = PgConnection::establish(&bare.url)?;
    assert_eq!(snapshot(&mut conn), "no pgmq");
    let m = PgmqMigrations::new()
        .install_or_sql(bare.url.clone())
        .create_queue(QueueSpec::new(QueueName::from_static("orders")));
    conn.run_pending_migrations(m.clone())?;
    let version = check_pgmq(&mut conn)?;
    assert!(version >= diesel_pgmq::MIN_PGMQ_VERSION);
    assert!(snapshot(&mut conn).contains("meta:orders"));
    // Idempotent.
    assert!(conn.run_pending_migrations(m.clone())?.is_empty());
    // Down removes the pgmq it installed; up installs it again.
    conn.revert_all_migrations(m.clone())?;
    assert_eq!(snapshot(&mut conn), "no pgmq");
    conn.run_pending_migrations(m)?;
    assert_eq!(check_pgmq(&mut conn)?, version);
    Ok(())
}

#[test]
fn queue_tables_are_queryable_with_the_dsl() -> R {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    conn.run_pending_migrations(PgmqMigrations::new().create_queue(QueueSpec::new(orders::QUEUE)))?;
    for i in 0..3 {
        sql_query("SELECT pgmq.send('orders', jsonb_build_object('n', $1::int))")
            .bind::<diesel::sql_types::Int4, _>(i)
            .execute(&mut conn)?;
    }
    // Peek without claiming: read_ct stays 0.
    let rows: Vec<QueueRow> = orders::queue::table
        .filter(orders::queue::vt.le(diesel::dsl::now))
        .order(orders::queue::msg_id)
        .load(&mut conn)?;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.read_ct == 0));
    assert_eq!(rows[1].message, Some(serde_json::json!({"n": 1})));

    let count: i64 = orders::queue::table.count().get_result(&mut conn)?;
    assert_eq!(count, 3);
    let first = rows[0].msg_id;
    let found: QueueRow = orders::queue::table.find(first).first(&mut conn)?;
    assert_eq!(found, rows[0]);

    sql_query("SELECT pgmq.archive('orders', $1)")
        .bind::<BigInt, _>(first)
        .execute(&mut conn)?;
    let archived: Vec<ArchiveRow> = orders::archive::table.load(&mut conn)?;
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].msg_id, first);
    assert!(archived[0].archived_at >= archived[0].enqueued_at);
    let left: i64 = orders::queue::table.count().get_result(&mut conn)?;
    assert_eq!(left, 2);
    Ok(())
}

#[test]
fn an_old_pgmq_is_reported_as_too_old() -> R {
    let db = TestDb::new();
    let bare = BareDb::new(&db);
    let mut conn = PgConnection::establish(&bare.url)?;
    // What the upstream SQL installer leaves behind, recording an old version.
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "CREATE SCHEMA pgmq; CREATE TABLE pgmq.__pgmq_migrations (name text, version text); \
         INSERT INTO pgmq.__pgmq_migrations VALUES ('pgmq--1.4.0.sql', '1.4.0')",
    )?;
    let err = check_pgmq(&mut conn).unwrap_err();
    assert_eq!(err.kind(), diesel_pgmq::ErrorKind::PgmqTooOld);
    assert!(err.to_string().contains("1.4.0"), "{err}");
    // The install step sees pgmq present, checks it, and fails without recording anything.
    let err = conn
        .run_pending_migrations(PgmqMigrations::new().install())
        .unwrap_err();
    let core = err.downcast_ref::<diesel_pgmq::Error>().unwrap();
    assert_eq!(core.kind(), diesel_pgmq::ErrorKind::PgmqTooOld);
    assert!(applied(&mut conn).is_empty());
    Ok(())
}

#[test]
fn storage_settings_are_set_by_the_step_and_rendered_into_sql_files() -> R {
    use diesel_pgmq::migrations::TableStorage;
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    let spec = QueueSpec::new(QueueName::from_static("tuned")).storage(
        TableStorage::new()
            .fillfactor(80)
            .autovacuum_vacuum_threshold(200),
    );
    let m = PgmqMigrations::new().create_queue(spec);
    conn.run_pending_migrations(m.clone())?;
    let options: S = sql_query(
        "SELECT array_to_string(reloptions, ',') AS s FROM pg_class \
         WHERE oid = 'pgmq.q_tuned'::regclass",
    )
    .get_result(&mut conn)?;
    assert_eq!(options.s, "fillfactor=80,autovacuum_vacuum_threshold=200");
    let up = m.steps()[0].up_sql()?.expect("a queue step");
    assert!(
        up.contains(
            r#"ALTER TABLE pgmq."q_tuned" SET (fillfactor = 80, autovacuum_vacuum_threshold = 200)"#
        ),
        "{up}"
    );
    // The rendered file does the same on a fresh database.
    let other = TestDb::new();
    let mut conn = PgConnection::establish(other.url())?;
    diesel::connection::SimpleConnection::batch_execute(&mut conn, &up)?;
    let options: S = sql_query(
        "SELECT array_to_string(reloptions, ',') AS s FROM pg_class \
         WHERE oid = 'pgmq.q_tuned'::regclass",
    )
    .get_result(&mut conn)?;
    assert_eq!(options.s, "fillfactor=80,autovacuum_vacuum_threshold=200");
    Ok(())
}
