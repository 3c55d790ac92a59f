//! The Diesel migrations on diesel-async's `AsyncConnectionWrapper` (no libpq): the same
//! steps, run, checked and reverted through Diesel's own `MigrationHarness`.
#![cfg(all(feature = "migrations", feature = "async"))]

use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_pgmq::migrations::{
    MigrationHarness, PgmqMigrations, QueueSpec, check_pgmq, pgmq_version, run_pending_locked,
};
use diesel_pgmq::{PgmqAsyncConnectionExt, QueueName};
use pgmq_harness::TestDb;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type Wrapper = AsyncConnectionWrapper<AsyncPgConnection>;

fn project() -> PgmqMigrations {
    PgmqMigrations::new()
        .install()
        .create_queue(QueueSpec::new(QueueName::from_static("async_orders")).notify_insert())
        .create_queue(QueueSpec::new(QueueName::from_static("async_logs")).unlogged())
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_run_check_and_revert_on_the_async_connection_wrapper() -> R {
    let db = TestDb::new();
    let url = db.url().to_owned();
    let ran = tokio::task::spawn_blocking({
        let url = url.clone();
        move || -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
            let mut conn = <Wrapper as Connection>::establish(&url)?;
            let ran = run_pending_locked(&mut conn, project())?;
            assert!(!conn.has_pending_migration(project())?);
            let version = check_pgmq(&mut conn)?;
            assert_eq!(pgmq_version(&mut conn)?, Some(version));
            Ok(ran)
        }
    })
    .await??;
    assert_eq!(
        ran,
        ["00000000pgmq0001", "00000000pgmq0002", "00000000pgmq0003"]
    );

    // The queues exist for the async API, and the notify trigger fires.
    let mut conn = AsyncPgConnection::establish(&url).await?;
    let queues: Vec<String> = conn
        .list_queues()
        .await?
        .into_iter()
        .map(|q| q.queue_name)
        .collect();
    assert!(queues.iter().any(|q| q == "async_orders"), "{queues:?}");
    assert!(queues.iter().any(|q| q == "async_logs"), "{queues:?}");
    #[derive(diesel::QueryableByName)]
    struct Kind {
        #[diesel(sql_type = diesel::sql_types::Text)]
        persistence: String,
    }
    let kind: Kind = diesel::sql_query(
        "SELECT relpersistence::text AS persistence FROM pg_class \
         WHERE oid = 'pgmq.q_async_logs'::regclass",
    )
    .get_result(&mut conn)
    .await?;
    assert_eq!(
        kind.persistence, "u",
        "the unlogged step made an unlogged table"
    );

    // Reverting the queue steps through the wrapper drops them again.
    tokio::task::spawn_blocking(move || -> R {
        let mut conn = <Wrapper as Connection>::establish(&url)?;
        conn.revert_last_migration(project())?;
        conn.revert_last_migration(project())?;
        Ok(())
    })
    .await??;
    let queues: Vec<String> = conn
        .list_queues()
        .await?
        .into_iter()
        .map(|q| q.queue_name)
        .collect();
    assert!(
        !queues.iter().any(|q| q.starts_with("async_")),
        "{queues:?}"
    );
    Ok(())
}
