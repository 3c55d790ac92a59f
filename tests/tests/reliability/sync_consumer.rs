//! The blocking consumer (sync Diesel, r2d2, std threads) under faults: a server restart
//! mid-run, a backend killed under a transactional handler, and a consumer process
//! killed inside its transaction. Afterwards every message is processed exactly once
//! (the ledger) or back in its queue.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use diesel_pgmq::PgmqConnectionExt as _;
use diesel_pgmq::sync_consumer::{
    ConsumerConfig, RetryPolicy, StopToken, SyncBackend, SyncPool, SyncTransactional,
};
use pgmq_harness::{PrivateCluster, TestDb};
use pgmq_orm_core::{BoxError, Message, QueueName};
use sea_orm_pgmq::PgmqConnectionExt as _;

use crate::support::{Job, Res, create_ledger, ledger_counts, ledger_rows, seaorm, wait_until};

/// When set, the test binary was started by a test of this module as its child process.
const CHILD_URL: &str = "PGMQ_SYNC_CONSUMER_CHILD_URL";

pub(crate) fn pool(url: &str, max: u32) -> Result<SyncPool, BoxError> {
    Ok(Pool::builder()
        .max_size(max)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .build(ConnectionManager::<PgConnection>::new(url))?)
}

fn fast_config(q: &QueueName) -> ConsumerConfig {
    ConsumerConfig::new(q.clone())
        .with_batch_size(16)
        .with_concurrency(6)
        .with_poll_interval(Duration::from_millis(50))
        .with_visibility(Duration::from_secs(3), Some(Duration::from_secs(1)))
        .with_shutdown_deadline(Duration::from_secs(5))
        .with_statement_timeout(Duration::from_secs(5))
        .with_retry(RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(2),
            jitter: 0.0,
            max_attempts: 100,
            ..RetryPolicy::default()
        })
}

/// The ledger row of one processing, written on the transaction's `PgConnection`.
pub(crate) fn record(conn: &mut PgConnection, m: &Message<Job>, worker: &str) -> Res {
    diesel::sql_query("INSERT INTO processed (payload_id, msg_id, worker) VALUES ($1, $2, $3)")
        .bind::<BigInt, _>(m.message.id)
        .bind::<BigInt, _>(m.msg_id)
        .bind::<Text, _>(worker)
        .execute(conn)?;
    Ok(())
}

/// When the server's postmaster started: changes with every restart.
fn postmaster_start(url: &str) -> Result<String, BoxError> {
    #[derive(QueryableByName)]
    struct Started {
        #[diesel(sql_type = Text)]
        at: String,
    }
    let mut conn = PgConnection::establish(url)?;
    let row: Started =
        diesel::sql_query("SELECT pg_postmaster_start_time()::text AS at").get_result(&mut conn)?;
    Ok(row.at)
}

fn send_jobs(url: &str, q: &QueueName, n: i64) -> Res {
    let mut conn = PgConnection::establish(url)?;
    conn.create_queue(q)?;
    let jobs: Vec<Job> = (0..n).map(|id| Job { id }).collect();
    for chunk in jobs.chunks(500) {
        conn.send_batch(q, chunk)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_consumer_finishes_after_a_server_restart_losing_and_duplicating_nothing() -> Res {
    const N: i64 = 1_000;
    let cluster = Arc::new(PrivateCluster::start());
    let db = seaorm(cluster.url(), 2).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    send_jobs(cluster.url(), &q, N)?;

    let consumer = Arc::new(SyncTransactional::consumer(
        SyncBackend::new(pool(cluster.url(), 8)?),
        fast_config(&q),
        |conn: &mut PgConnection, m: Message<Job>| record(conn, &m, "diesel-sync"),
    ));
    let stop = StopToken::new();
    let run = tokio::task::spawn_blocking({
        let (c, s) = (Arc::clone(&consumer), stop.clone());
        move || c.run(&s)
    });
    assert!(
        wait_until(Duration::from_secs(60), || async {
            ledger_rows(&db).await >= N / 5
        })
        .await
    );
    let started_before = postmaster_start(cluster.url())?;
    let c = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.restart()).await?;
    let after_restart = ledger_rows(&db).await;
    // The same consumer, on the same pool, finishes the queue.
    let finished = wait_until(Duration::from_secs(90), || async {
        ledger_rows(&db).await >= N && db.metrics(&q).await.is_ok_and(|m| m.queue_length == 0)
    })
    .await;
    stop.stop();
    run.await??;
    assert!(
        finished,
        "not finished after the restart: {:?}",
        consumer.stats()
    );
    let (rows, distinct) = ledger_counts(&db).await?;
    assert_eq!(distinct, N, "messages lost");
    assert_eq!(rows, N, "messages processed twice");
    assert!(after_restart < N, "the restart came after the run");
    // The server really restarted mid-run. Whether the consumer sees an error depends on
    // where its threads are: r2d2 checks a connection on checkout and replaces a dead one
    // without an error, so a restart between statements is invisible to the stats.
    assert_ne!(
        postmaster_start(cluster.url())?,
        started_before,
        "the server did not restart"
    );
    let stats = consumer.stats();
    eprintln!(
        "sync restart: {N} messages, {after_restart} before the restart, the rest after it; {stats:?}"
    );
    Ok(())
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_terminated_under_a_sync_transactional_handler_is_retried_and_recorded_once() -> Res
{
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    send_jobs(tdb.url(), &q, 5)?;
    // The first handler reports its backend's pid, then waits until it was terminated.
    let (pid_tx, pid_rx) = mpsc::channel::<i32>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let stall = Mutex::new(Some((pid_tx, go_rx)));
    let consumer = Arc::new(SyncTransactional::consumer(
        SyncBackend::new(pool(tdb.url(), 4)?),
        fast_config(&q).with_concurrency(3),
        move |conn: &mut PgConnection, m: Message<Job>| {
            let first = stall.lock().expect("not poisoned").take();
            if let Some((report, go)) = first {
                let row: Pid =
                    diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(conn)?;
                report.send(row.pid)?;
                go.recv()?;
            }
            record(conn, &m, "diesel-sync")
        },
    ));
    let stop = StopToken::new();
    let run = tokio::task::spawn_blocking({
        let (c, s) = (Arc::clone(&consumer), stop.clone());
        move || c.run(&s)
    });
    let pid =
        tokio::task::spawn_blocking(move || pid_rx.recv_timeout(Duration::from_secs(30))).await??;
    let mut admin = PgConnection::establish(tdb.url())?;
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<Integer, _>(pid)
        .execute(&mut admin)?;
    go_tx.send(())?;
    let done = wait_until(Duration::from_secs(30), || async {
        ledger_rows(&db).await >= 5 && db.metrics(&q).await.is_ok_and(|m| m.queue_length == 0)
    })
    .await;
    stop.stop();
    run.await??;
    assert!(
        done,
        "not every message was processed: {:?}",
        consumer.stats()
    );
    assert_eq!(ledger_counts(&db).await?, (5, 5));
    let stats = consumer.stats();
    assert_eq!((stats.retried, stats.processed), (1, 5), "{stats:?}");
    Ok(())
}

/// The child's part: a blocking transactional consumer that records each message,
/// reports it and never finishes its transaction.
fn record_and_hang(url: &str) -> Res {
    let consumer = SyncTransactional::consumer(
        SyncBackend::new(pool(url, 2)?),
        ConsumerConfig::new(QueueName::new("jobs")?)
            .with_concurrency(1)
            .with_visibility(Duration::from_secs(3), None),
        |conn: &mut PgConnection, m: Message<Job>| {
            record(conn, &m, "child")?;
            println!("RECORDED {}", m.msg_id);
            std::thread::sleep(Duration::from_secs(120));
            Ok::<(), BoxError>(())
        },
    );
    consumer.run(&StopToken::new())?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_consumer_process_killed_inside_its_transaction_commits_nothing() -> Res {
    if let Ok(url) = std::env::var(CHILD_URL) {
        return tokio::task::spawn_blocking(move || record_and_hang(&url)).await?;
    }
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    send_jobs(tdb.url(), &q, 1)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "sync_consumer::sync_consumer_process_killed_inside_its_transaction_commits_nothing",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, tdb.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.find("RECORDED ").map(|at| l[at + 9..].to_owned()))
    })
    .await?
    .ok_or("the child never recorded")?;
    let msg_id: i64 = line.trim().parse()?;
    child.kill()?;
    child.wait()?;
    // Its transaction died with it: no ledger row, and the message comes back after its
    // visibility timeout, read once before.
    assert_eq!(ledger_counts(&db).await?, (0, 0));
    let mut conn = PgConnection::establish(tdb.url())?;
    let mut back = Vec::new();
    for _ in 0..100 {
        back = conn
            .read::<Job>(
                &q,
                diesel_pgmq::VisibilityTimeout::Seconds(30),
                diesel_pgmq::BatchSize::ONE,
            )?
            .strict()?;
        if !back.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(back.len(), 1, "the message came back");
    assert_eq!((back[0].msg_id, back[0].read_ct), (msg_id, 2));
    Ok(())
}
