//! `PinnedConnection`: the held connection behaves like any SeaORM connection — errors
//! classified as on a pool, entity queries, concurrent callers, transactions beside it.

use pgmq_harness::TestDb;
use sea_orm::{ConnectionTrait, Database, FromQueryResult, Statement, TransactionTrait};
use sea_orm_pgmq::{
    BatchSize, Error, PgmqConnectionExt, PinnedConnection, Queue, VisibilityTimeout,
};
use serde::{Deserialize, Serialize};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Job {
    n: i32,
}

#[tokio::test]
async fn errors_are_classified_as_on_a_pool() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    let pinned = PinnedConnection::acquire(&conn).await?;
    let err = pinned.send("missing", &Job { n: 1 }).await.unwrap_err();
    assert!(matches!(err, Error::QueueMissing { .. }), "{err:?}");
    // The connection survives the failed statement.
    pinned.create_queue("jobs").await?;
    assert!(pinned.send("jobs", &Job { n: 1 }).await? > 0);
    Ok(())
}

#[tokio::test]
async fn typed_queue_and_plain_statements_run_on_it() -> R {
    #[derive(Debug, FromQueryResult)]
    struct Count {
        n: i64,
    }
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    let pinned = PinnedConnection::acquire(&conn).await?;
    pinned.create_queue("jobs").await?;
    let jobs: Queue<Job> = Queue::new("jobs")?;
    let ids = jobs
        .send_batch(&pinned, &[Job { n: 1 }, Job { n: 2 }])
        .await?;
    let read = jobs
        .read(&pinned, VisibilityTimeout::Seconds(30), BatchSize::new(10)?)
        .await?;
    assert_eq!(
        read.iter()
            .map(|m| (m.msg_id, m.message.n))
            .collect::<Vec<_>>(),
        vec![(ids[0], 1), (ids[1], 2)]
    );
    let count = Count::find_by_statement(Statement::from_sql_and_values(
        pinned.get_database_backend(),
        "SELECT count(*) AS n FROM pgmq.q_jobs WHERE read_ct = $1",
        [1.into()],
    ))
    .one(&pinned)
    .await?
    .ok_or("no row")?;
    assert_eq!(count.n, 2);
    Ok(())
}

#[tokio::test]
async fn concurrent_callers_take_turns() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.create_queue("jobs").await?;
    let pinned = PinnedConnection::acquire(&conn).await?;
    let jobs: Vec<Job> = (0..20).map(|n| Job { n }).collect();
    let sends = jobs.iter().map(|job| pinned.send("jobs", job));
    let ids = futures_util::future::try_join_all(sends).await?;
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    assert_eq!(conn.metrics("jobs").await?.queue_length, 20);
    Ok(())
}

#[tokio::test]
async fn a_transaction_on_the_pool_commits_beside_it() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.create_queue("jobs").await?;
    let pinned = PinnedConnection::acquire(&conn).await?;
    let txn = conn.begin().await?;
    txn.send("jobs", &Job { n: 1 }).await?;
    // Not committed: the pinned connection (another session) does not see it.
    assert_eq!(pinned.metrics("jobs").await?.queue_length, 0);
    txn.commit().await?;
    assert_eq!(pinned.metrics("jobs").await?.queue_length, 1);
    Ok(())
}

#[tokio::test]
async fn a_full_pool_times_out_as_a_pool_error() -> R {
    let db = TestDb::new();
    let mut options = sea_orm::ConnectOptions::new(db.url());
    options
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(300));
    let conn = Database::connect(options).await?;
    let _held = PinnedConnection::acquire(&conn).await?;
    let err = PinnedConnection::acquire(&conn).await.unwrap_err();
    assert!(
        matches!(err, sea_orm::DbErr::ConnectionAcquire(_)),
        "{err:?}"
    );
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct Pid {
    pid: i32,
}

async fn backend_pid(conn: &impl ConnectionTrait) -> Result<i32, sea_orm::DbErr> {
    let row = Pid::find_by_statement(Statement::from_string(
        conn.get_database_backend(),
        "SELECT pg_backend_pid() AS pid",
    ))
    .one(conn)
    .await?;
    Ok(row.expect("one row").pid)
}

#[tokio::test]
async fn a_terminated_connection_is_replaced_on_the_next_call() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.create_queue("jobs").await?;
    let pinned = PinnedConnection::acquire(&conn).await?;
    let first = backend_pid(&pinned).await?;
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT pg_terminate_backend($1)",
        [first.into()],
    ))
    .await?;
    // The call that finds the session gone fails (nothing was sent)...
    let err = pinned.send("jobs", &Job { n: 1 }).await.unwrap_err();
    assert!(!matches!(err, Error::QueueMissing { .. }), "{err:?}");
    // ...and the next one runs on a fresh connection from the pool.
    let id = pinned.send("jobs", &Job { n: 2 }).await?;
    assert_ne!(backend_pid(&pinned).await?, first);
    let read = pinned
        .read::<Job>("jobs", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)
        .await?;
    assert_eq!(
        read.iter()
            .map(|m| (m.msg_id, m.message.n))
            .collect::<Vec<_>>(),
        vec![(id, 2)]
    );
    Ok(())
}
