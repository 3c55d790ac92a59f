//! The SeaORM migrations on a real server, through sea-orm-migration's own migrators.
#![cfg(feature = "migration")]

use pgmq_harness::TestDb;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use sea_orm_migration::prelude::*;
use sea_orm_pgmq::QueueName;
use sea_orm_pgmq::migration::{
    CreateQueue, DropQueue, InstallPgmq, PGMQ_MIGRATION_TABLE, PgmqMigrator, PgmqQueueMigrator,
    PgmqSchema, QueueSpec, check_pgmq, up_locked,
};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

sea_orm_pgmq::pgmq_entities! {
    /// The queue the entity tests use.
    pub mod orders { queue: "q_orders", archive: "a_orders" }
}

fn steps() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(InstallPgmq::new()),
        Box::new(CreateQueue::new(
            QueueSpec::new(QueueName::from_static("orders"))
                .notify_insert()
                .fifo_index(),
        )),
        Box::new(CreateQueue::new(
            QueueSpec::new(QueueName::from_static("fast")).unlogged(),
        )),
        Box::new(CreateQueue::new(QueueSpec::new(QueueName::from_static(
            "legacy",
        )))),
        Box::new(DropQueue::new(QueueSpec::new(QueueName::from_static(
            "legacy",
        )))),
    ]
}

/// A user's own migrator with the pgmq steps spliced in.
struct AppMigrator;

#[async_trait::async_trait]
impl MigratorTrait for AppMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        steps()
    }
}

/// A user's migrator that knows nothing of pgmq.
struct OwnMigrator;

#[allow(non_camel_case_types)]
#[derive(DeriveMigrationName)]
struct m20250101_000001_users;

#[async_trait::async_trait]
impl MigrationTrait for m20250101_000001_users {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE TABLE users (id int PRIMARY KEY)")
            .await
            .map(drop)
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE users")
            .await
            .map(drop)
    }
}

#[async_trait::async_trait]
impl MigratorTrait for OwnMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20250101_000001_users)]
    }
}

async fn string(db: &DatabaseConnection, sql: &str) -> String {
    db.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        sql,
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<String>(0)
    .unwrap()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        sql,
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<i64>(0)
    .unwrap()
}

/// Everything the migrations touch, as one comparable string.
async fn snapshot(db: &DatabaseConnection) -> String {
    if count(
        db,
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgmq'",
    )
    .await
        == 0
    {
        return "no pgmq".to_owned();
    }
    string(
        db,
        "SELECT coalesce(string_agg(x, ',' ORDER BY x), '') FROM (
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
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn spliced_up_down_up_is_clean_and_idempotent() -> R {
    let test_db = TestDb::new();
    let db = Database::connect(test_db.url()).await?;
    let before = snapshot(&db).await;

    AppMigrator::up(&db, None).await?;
    let after_up = snapshot(&db).await;
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
    assert!(check_pgmq(&db).await? >= sea_orm_pgmq::MIN_PGMQ_VERSION);
    AppMigrator::status(&db).await?;

    // Running again changes nothing; so does re-running every step by hand.
    AppMigrator::up(&db, None).await?;
    let manager = SchemaManager::new(&db);
    for step in steps() {
        step.up(&manager).await?;
    }
    assert_eq!(snapshot(&db).await, after_up);
    assert!(AppMigrator::get_pending_migrations(&db).await?.is_empty());

    // Down reverts to exactly what was there (pgmq was there before, so it stays).
    AppMigrator::down(&db, None).await?;
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(count(&db, "SELECT count(*) FROM seaql_migrations").await, 0);

    AppMigrator::up(&db, None).await?;
    assert_eq!(snapshot(&db).await, after_up);
    AppMigrator::down(&db, Some(1)).await?;
    assert!(snapshot(&db).await.contains("meta:legacy"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn separate_migrators_keep_their_own_tracking_tables() -> R {
    let test_db = TestDb::new();
    let db = Database::connect(test_db.url()).await?;

    PgmqMigrator::up(&db, None).await?;
    let queues = PgmqQueueMigrator::new("app_queue_migrations")
        .install()
        .create_queue(QueueSpec::new(QueueName::from_static("emails")).fifo_index());
    queues.up(&db, None).await?;
    OwnMigrator::up(&db, None).await?;

    // Neither migrator trips over the other's rows.
    OwnMigrator::status(&db).await?;
    PgmqMigrator::status(&db).await?;
    queues.status(&db).await?;
    let tracked = |t: &str| format!("SELECT count(*) FROM {t}");
    assert_eq!(count(&db, &tracked(PGMQ_MIGRATION_TABLE)).await, 1);
    assert_eq!(count(&db, &tracked("app_queue_migrations")).await, 2);
    assert_eq!(count(&db, &tracked("seaql_migrations")).await, 1);
    assert!(snapshot(&db).await.contains("meta:emails"));

    queues.down(&db, None).await?;
    assert!(!snapshot(&db).await.contains("emails"));
    PgmqMigrator::down(&db, None).await?;
    // pgmq was there before these migrations ran, so reverting the install keeps it.
    assert!(check_pgmq(&db).await.is_ok());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_workers_do_not_race() -> R {
    let test_db = TestDb::new();
    let url = test_db.url().to_owned();
    let mut tasks = Vec::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    for _ in 0..4 {
        let (url, barrier) = (url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let db = Database::connect(&url).await?;
            barrier.wait().await;
            up_locked::<AppMigrator>(&db, None).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    let db = Database::connect(&url).await?;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pgmq.meta WHERE queue_name IN ('orders', 'fast')"
        )
        .await,
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM pgmq.meta").await, 2);
    assert_eq!(count(&db, "SELECT count(*) FROM seaql_migrations").await, 5);
    AppMigrator::status(&db).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_leaves_no_half_created_queue() -> R {
    let test_db = TestDb::new();
    let db = Database::connect(test_db.url()).await?;
    // An unrelated table squatting on the archive's name makes pgmq.create fail after it
    // created the queue table.
    db.execute_unprepared("CREATE TABLE pgmq.a_clash (x int)")
        .await?;
    let before = snapshot(&db).await;
    let m = PgmqQueueMigrator::new("clash_migrations")
        .create_queue(QueueSpec::new(QueueName::from_static("clash")));
    assert!(m.up(&db, None).await.is_err());
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(count(&db, "SELECT count(*) FROM clash_migrations").await, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_helpers_report_queues() -> R {
    let test_db = TestDb::new();
    let db = Database::connect(test_db.url()).await?;
    let manager = SchemaManager::new(&db);
    let pgmq = PgmqSchema::new(&manager);
    let jobs = QueueSpec::new(QueueName::from_static("jobs"));
    assert!(!pgmq.has_queue(jobs.name()).await?);
    pgmq.create_queue(&jobs).await?;
    assert!(pgmq.has_queue(jobs.name()).await?);
    assert!(pgmq.check_pgmq().await.is_ok());
    pgmq.drop_queue(&jobs).await?;
    pgmq.drop_queue(&jobs).await?;
    assert!(!pgmq.has_queue(jobs.name()).await?);
    Ok(())
}

/// A database on the test server without pgmq, dropped afterwards.
struct BareDb {
    admin: String,
    name: String,
    url: String,
}

impl BareDb {
    async fn new(test_db: &TestDb) -> Self {
        let name = format!("{}_bare", test_db.name());
        let admin = Database::connect(test_db.url()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        Self {
            admin: test_db.url().to_owned(),
            url: test_db.url().replace(test_db.name(), &name),
            name,
        }
    }

    async fn drop(self) {
        let admin = Database::connect(&self.admin).await.unwrap();
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

#[cfg(not(feature = "install-sql"))]
#[tokio::test(flavor = "multi_thread")]
async fn install_without_the_extension_fails_clearly() -> R {
    let test_db = TestDb::new();
    let bare = BareDb::new(&test_db).await;
    let db = Database::connect(&bare.url).await?;
    let err = check_pgmq(&db).await.unwrap_err();
    assert_eq!(err.kind(), sea_orm_pgmq::ErrorKind::PgmqMissing);
    if count(
        &db,
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgmq'",
    )
    .await
        == 0
    {
        let err = PgmqMigrator::up(&db, None).await.unwrap_err().to_string();
        assert!(err.contains("pgmq is not installed"), "{err}");
        assert!(err.contains("enable the `install-sql` feature"), "{err}");
        assert_eq!(snapshot(&db).await, "no pgmq");
    }
    db.close().await?;
    bare.drop().await;
    Ok(())
}

/// With `install-sql` compiled in, an install step without a fallback names the fallback
/// to use, not the feature that is already on.
#[cfg(feature = "install-sql")]
#[tokio::test(flavor = "multi_thread")]
async fn install_without_a_fallback_names_with_sql_fallback() -> R {
    let test_db = TestDb::new();
    let bare = BareDb::new(&test_db).await;
    let db = Database::connect(&bare.url).await?;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgmq'"
        )
        .await,
        0,
        "the test server must lack the pgmq extension"
    );
    let err = PgmqMigrator::up(&db, None).await.unwrap_err().to_string();
    assert!(err.contains("pgmq is not installed"), "{err}");
    assert!(
        err.contains("use `InstallPgmq::with_sql_fallback(database_url)`"),
        "{err}"
    );
    assert!(err.contains("PgmqQueueMigrator"), "{err}");
    assert!(!err.contains("enable the `install-sql`"), "{err}");
    assert_eq!(snapshot(&db).await, "no pgmq");
    db.close().await?;
    bare.drop().await;
    Ok(())
}

/// The application's own migrator holds the fallback URL in a field (sea-orm-migration's
/// `MigratorTraitSelf`): no global is needed to install pgmq from the SQL scripts next to
/// the application's migrations.
#[cfg(feature = "install-sql")]
#[tokio::test(flavor = "multi_thread")]
async fn an_application_migrator_holds_the_sql_fallback_without_globals() -> R {
    use sea_orm_migration::MigratorTraitSelf;

    struct AppMigrator {
        database_url: String,
    }
    #[async_trait::async_trait]
    impl MigratorTraitSelf for AppMigrator {
        fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
            vec![
                Box::new(InstallPgmq::with_sql_fallback(self.database_url.clone())),
                Box::new(CreateQueue::new(QueueSpec::new(QueueName::from_static(
                    "orders",
                )))),
            ]
        }
    }

    let test_db = TestDb::new();
    let bare = BareDb::new(&test_db).await;
    let db = Database::connect(&bare.url).await?;
    assert_eq!(snapshot(&db).await, "no pgmq");
    let app = AppMigrator {
        database_url: bare.url.clone(),
    };
    MigratorTraitSelf::up(&app, &db, None).await?;
    check_pgmq(&db).await?;
    assert!(snapshot(&db).await.contains("meta:orders"));
    MigratorTraitSelf::down(&app, &db, None).await?;
    assert_eq!(snapshot(&db).await, "no pgmq");
    db.close().await?;
    bare.drop().await;
    Ok(())
}

#[cfg(feature = "install-sql")]
#[tokio::test(flavor = "multi_thread")]
async fn install_without_the_extension_uses_the_sql_scripts() -> R {
    let test_db = TestDb::new();
    let bare = BareDb::new(&test_db).await;
    let db = Database::connect(&bare.url).await?;
    assert_eq!(snapshot(&db).await, "no pgmq");
    let m = PgmqQueueMigrator::new("pgmq_install_migrations")
        .install_with(InstallPgmq::with_sql_fallback(bare.url.clone()))
        .create_queue(QueueSpec::new(QueueName::from_static("orders")));
    m.up(&db, None).await?;
    let version = check_pgmq(&db).await?;
    assert!(snapshot(&db).await.contains("meta:orders"));
    m.up(&db, None).await?;
    m.down(&db, None).await?;
    assert_eq!(snapshot(&db).await, "no pgmq");
    // Through SeaORM's own pool this time.
    let m = PgmqQueueMigrator::new("pgmq_install_migrations").install_with(
        InstallPgmq::with_sql_fallback_pool(db.get_postgres_connection_pool().clone()),
    );
    m.up(&db, None).await?;
    assert_eq!(check_pgmq(&db).await?, version);
    db.close().await?;
    bare.drop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_tables_are_queryable_through_entities() -> R {
    let test_db = TestDb::new();
    let db = Database::connect(test_db.url()).await?;
    PgmqQueueMigrator::new("m")
        .create_queue(QueueSpec::new(orders::QUEUE))
        .up(&db, None)
        .await?;
    for i in 0..3 {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pgmq.send('orders', jsonb_build_object('n', $1::int))",
            [i.into()],
        ))
        .await?;
    }
    let rows = orders::queue::Entity::find()
        .filter(orders::queue::Column::Vt.lte(chrono::Utc::now()))
        .order_by_asc(orders::queue::Column::MsgId)
        .all(&db)
        .await?;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.read_ct == 0));
    assert_eq!(rows[1].message, Some(serde_json::json!({"n": 1})));
    assert_eq!(orders::queue::Entity::find().count(&db).await?, 3);
    let first = rows[0].msg_id;
    let found = orders::queue::Entity::find_by_id(first).one(&db).await?;
    assert_eq!(found.as_ref(), Some(&rows[0]));

    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pgmq.archive('orders', $1)",
        [first.into()],
    ))
    .await?;
    let archived = orders::archive::Entity::find().all(&db).await?;
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].msg_id, first);
    assert!(archived[0].archived_at >= archived[0].enqueued_at);
    assert_eq!(orders::queue::Entity::find().count(&db).await?, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_pgmq_is_reported_as_too_old() -> R {
    let test_db = TestDb::new();
    let bare = BareDb::new(&test_db).await;
    let db = Database::connect(&bare.url).await?;
    // What the upstream SQL installer leaves behind, recording an old version.
    db.execute_unprepared(
        "CREATE SCHEMA pgmq; CREATE TABLE pgmq.__pgmq_migrations (name text, version text); \
         INSERT INTO pgmq.__pgmq_migrations VALUES ('pgmq--1.4.0.sql', '1.4.0')",
    )
    .await?;
    let err = check_pgmq(&db).await.unwrap_err();
    assert_eq!(err.kind(), sea_orm_pgmq::ErrorKind::PgmqTooOld);
    let err = PgmqMigrator::up(&db, None).await.unwrap_err().to_string();
    assert!(err.contains("pgmq 1.4.0 is installed"), "{err}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM pgmq_orm_migrations").await,
        0
    );
    db.close().await?;
    bare.drop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_settings_reach_the_queue_table_and_leave_the_archive_alone() -> R {
    use sea_orm_pgmq::migration::TableStorage;
    let test_db = TestDb::new();
    let db = Database::connect(test_db.url()).await?;
    let manager = SchemaManager::new(&db);
    let pgmq = PgmqSchema::new(&manager);
    let storage = TableStorage::new()
        .fillfactor(70)
        .autovacuum_vacuum_scale_factor(0.01)
        .autovacuum_vacuum_threshold(500)
        .autovacuum_vacuum_cost_delay_ms(0);
    for spec in [
        QueueSpec::new(QueueName::from_static("tuned")).storage(storage),
        QueueSpec::new(QueueName::from_static("tuned_u"))
            .unlogged()
            .storage(storage),
    ] {
        pgmq.create_queue(&spec).await?;
        // Idempotent like every step: running it again keeps the same settings.
        pgmq.create_queue(&spec).await?;
        let table = spec.name().table_name();
        let options = string(
            &db,
            &format!(
                "SELECT array_to_string(reloptions, ',') FROM pg_class \
                 WHERE oid = 'pgmq.{table}'::regclass"
            ),
        )
        .await;
        assert_eq!(
            options,
            "fillfactor=70,autovacuum_vacuum_scale_factor=0.01,\
             autovacuum_vacuum_threshold=500,autovacuum_vacuum_cost_delay=0"
        );
        let archive = spec.name().archive_table_name();
        let archive_options = count(
            &db,
            &format!(
                "SELECT count(*) FROM pg_class WHERE oid = 'pgmq.{archive}'::regclass \
                 AND reloptions IS NOT NULL"
            ),
        )
        .await;
        assert_eq!(archive_options, 0, "the archive keeps the defaults");
    }
    // Without settings the table keeps the server's defaults.
    pgmq.create_queue(&QueueSpec::new(QueueName::from_static("plain")))
        .await?;
    let plain = count(
        &db,
        "SELECT count(*) FROM pg_class WHERE oid = 'pgmq.q_plain'::regclass \
         AND reloptions IS NOT NULL",
    )
    .await;
    assert_eq!(plain, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_settings_on_a_partitioned_queue_fail_the_step_with_the_servers_reason() -> R {
    use sea_orm::TransactionTrait;
    use sea_orm_pgmq::migration::TableStorage;
    let test_db = TestDb::new();
    if !test_db.optional_extension(
        "pg_partman",
        "storage_settings_on_a_partitioned_queue_fail_the_step_with_the_servers_reason",
    ) {
        return Ok(());
    }
    let db = Database::connect(test_db.url()).await?;
    let spec = QueueSpec::new(QueueName::from_static("tuned_p"))
        .partitioned("10000", "100000")
        .storage(TableStorage::new().fillfactor(70));
    // The whole step runs in one transaction: the refusal leaves no queue behind.
    let txn = db.begin().await?;
    let manager = SchemaManager::new(&txn);
    let err = PgmqSchema::new(&manager)
        .create_queue(&spec)
        .await
        .unwrap_err();
    txn.rollback().await?;
    assert!(
        err.to_string()
            .contains("apply to plain and unlogged queues only"),
        "{err}"
    );
    let manager = SchemaManager::new(&db);
    assert!(!PgmqSchema::new(&manager).has_queue(spec.name()).await?);
    Ok(())
}
