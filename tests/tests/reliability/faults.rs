//! Faults: a server restart mid-run, a backend killed mid-transaction, a panicking
//! handler and a consumer process killed between read and delete. Afterwards every
//! message is processed once or back in its queue; pools recover on their own.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::{BigInt, Integer};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use pgmq_harness::{PrivateCluster, TestDb};
use pgmq_orm_core::{BatchSize, BoxError, ErrorKind, Message, QueueName, VisibilityTimeout};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use sea_orm_pgmq::PgmqConnectionExt;
use sea_orm_pgmq::consumer::{
    BoxFuture, CancellationToken, ConsumerConfig, RetryPolicy, SeaOrmBackend, Transactional,
    TxHandler,
};
use tokio::sync::{Notify, oneshot};

use crate::support::{
    Job, Record, Res, create_ledger, diesel_pool, ledger_counts, ledger_rows, record, seaorm,
    wait_until,
};

/// When set, the test binary was started by a test of this module as its child process,
/// and runs the child's part against this database URL.
const CHILD_URL: &str = "PGMQ_RELIABILITY_CHILD_URL";

fn retry_quickly() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(2),
        jitter: 0.0,
        max_attempts: 100,
        ..RetryPolicy::default()
    }
}

fn fast_config(q: &QueueName) -> ConsumerConfig {
    ConsumerConfig::new(q.clone())
        .with_batch_size(16)
        .with_concurrency(8)
        .with_poll_interval(Duration::from_millis(50))
        .with_visibility(Duration::from_secs(3), Some(Duration::from_secs(1)))
        .with_shutdown_deadline(Duration::from_secs(5))
        .with_retry(retry_quickly())
}

async fn send_jobs(db: &sea_orm::DatabaseConnection, q: &QueueName, n: i64) -> Res {
    let jobs: Vec<Job> = (0..n).map(|id| Job { id }).collect();
    for chunk in jobs.chunks(500) {
        db.send_batch(q, chunk).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_consumer_run_loses_and_duplicates_nothing() -> Res {
    const N: i64 = 2_000;
    let cluster = Arc::new(PrivateCluster::start());
    let db = seaorm(cluster.url(), 10).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    db.create_queue(&q).await?;
    send_jobs(&db, &q, N).await?;

    // One consumer per ORM on the same queue, each on its own pool.
    let consumer = Arc::new(Transactional::consumer(
        SeaOrmBackend::new(db.clone()),
        fast_config(&q),
        Record { worker: "seaorm" },
    ));
    let diesel_consumer = Arc::new(diesel_pgmq::consumer::Transactional::consumer(
        diesel_pgmq::consumer::DieselBackend::new(diesel_pool(cluster.url(), 10).await?),
        fast_config(&q),
        Record { worker: "diesel" },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (c, t) = (Arc::clone(&consumer), cancel.clone());
        async move { c.run(t).await }
    });
    let diesel_run = tokio::spawn({
        let (c, t) = (Arc::clone(&diesel_consumer), cancel.clone());
        async move { c.run(t).await }
    });
    assert!(
        wait_until(Duration::from_secs(60), || async {
            ledger_rows(&db).await >= N / 5
        })
        .await
    );
    let c = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.restart()).await?;
    let after_restart = ledger_rows(&db).await;
    // The same consumers, on the same pools, finish the queue.
    let finished = wait_until(Duration::from_secs(90), || async {
        ledger_rows(&db).await >= N && db.metrics(&q).await.is_ok_and(|m| m.queue_length == 0)
    })
    .await;
    cancel.cancel();
    run.await??;
    diesel_run.await??;
    assert!(finished, "the consumers did not finish after the restart");
    let (rows, distinct) = ledger_counts(&db).await?;
    assert_eq!(distinct, N, "messages lost");
    assert_eq!(rows, N, "messages processed twice");
    assert!(
        after_restart < N,
        "the restart came after the run ({after_restart})"
    );
    eprintln!(
        "restart: {N} messages, {} processed before the restart, the rest after it on the same \
         pools; SeaORM {:?}, diesel-async {:?}",
        after_restart,
        consumer.stats(),
        diesel_consumer.stats()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_of_every_client_recover_after_a_server_restart() -> Res {
    let cluster = Arc::new(PrivateCluster::start());
    let url = cluster.url().to_owned();
    let sea = seaorm(&url, 4).await?;
    let q = QueueName::new("jobs")?;
    sea.create_queue(&q).await?;
    let r2d2 = Pool::builder()
        .max_size(2)
        .connection_timeout(Duration::from_secs(5))
        .build(ConnectionManager::<PgConnection>::new(&url))?;
    let bb8 = bb8::Pool::builder()
        .max_size(2)
        .connection_timeout(Duration::from_secs(5))
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(&url))
        .await?;

    async fn send_on_each(
        sea: &sea_orm::DatabaseConnection,
        r2d2: &Pool<ConnectionManager<PgConnection>>,
        bb8: &bb8::Pool<AsyncDieselConnectionManager<AsyncPgConnection>>,
        id: i64,
    ) -> Res {
        use diesel_pgmq::{PgmqAsyncConnectionExt, PgmqConnectionExt as _};
        sea.send("jobs", &Job { id }).await?;
        let pool = r2d2.clone();
        tokio::task::spawn_blocking(move || -> Result<i64, BoxError> {
            let mut conn = pool.get().map_err(diesel_pgmq::error::from_r2d2)?;
            Ok(conn.send("jobs", &Job { id: id + 1 })?)
        })
        .await??;
        let mut conn = bb8.get().await.map_err(diesel_pgmq::error::from_bb8)?;
        conn.send("jobs", &Job { id: id + 2 }).await?;
        Ok(())
    }

    send_on_each(&sea, &r2d2, &bb8, 0).await?;
    let c = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.restart()).await?;
    // Every pooled connection died with the server; the pools notice and reconnect on
    // the first use, without the application doing anything.
    send_on_each(&sea, &r2d2, &bb8, 10).await?;
    assert_eq!(sea.metrics(&q).await?.queue_length, 6);
    Ok(())
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn terminate(admin: &mut PgConnection, pid: i32) -> Res {
    diesel::sql_query("SELECT pg_terminate_backend($1) AS terminated")
        .bind::<Integer, _>(pid)
        .execute(admin)?;
    Ok(())
}

#[test]
fn terminated_backend_mid_transaction_rolls_back_and_the_pool_hands_out_a_live_connection() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let mut admin = PgConnection::establish(tdb.url())?;
    diesel::sql_query("CREATE TABLE processed (payload_id bigint NOT NULL, msg_id bigint NOT NULL, worker text NOT NULL)")
        .execute(&mut admin)?;
    admin.create_queue("jobs")?;
    let sent = admin.send("jobs", &Job { id: 7 })?;
    let pool = Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_secs(5))
        .build(ConnectionManager::<PgConnection>::new(tdb.url()))?;

    let mut conn = pool.get().map_err(diesel_pgmq::error::from_r2d2)?;
    let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut conn)?
        .pid;
    let mut delete_error = None;
    let attempt = conn.transaction(|c| {
        let m = c.read::<Job>("jobs", VisibilityTimeout::Seconds(30), BatchSize::ONE)?;
        diesel::sql_query("INSERT INTO processed VALUES ($1, $2, 'first')")
            .bind::<BigInt, _>(m[0].message.id)
            .bind::<BigInt, _>(m[0].msg_id)
            .execute(c)?;
        terminate(&mut admin, pid)?;
        let deleted = c.delete("jobs", m[0].msg_id);
        delete_error = deleted.as_ref().err().map(pgmq_orm_core::Error::kind);
        deleted?;
        Ok::<_, BoxError>(())
    });
    // Diesel reports the failed rollback rather than the closure's error; the closure saw
    // the typed one.
    assert!(attempt.is_err(), "the delete ran on a terminated backend");
    assert_eq!(delete_error, Some(ErrorKind::Database));
    drop(conn);

    let rows =
        diesel::sql_query("SELECT count(*) AS n FROM processed").get_result::<Count>(&mut admin)?;
    assert_eq!(rows.n, 0, "the handler's write survived the rollback");
    // The read was rolled back with the rest: the message is visible at once, unread.
    let mut conn = pool.get().map_err(diesel_pgmq::error::from_r2d2)?;
    let again = conn.transaction(|c| {
        let m = c.read::<Job>("jobs", VisibilityTimeout::Seconds(30), BatchSize::ONE)?;
        diesel::sql_query("INSERT INTO processed VALUES ($1, $2, 'second')")
            .bind::<BigInt, _>(m[0].message.id)
            .bind::<BigInt, _>(m[0].msg_id)
            .execute(c)?;
        c.delete("jobs", m[0].msg_id)?;
        Ok::<_, BoxError>(m)
    })?;
    assert_eq!(
        (again[0].msg_id, again[0].read_ct, again[0].message),
        (sent, 1, Job { id: 7 })
    );
    let rows =
        diesel::sql_query("SELECT count(*) AS n FROM processed").get_result::<Count>(&mut admin)?;
    assert_eq!(rows.n, 1);
    assert_eq!(admin.metrics("jobs")?.queue_length, 0);
    Ok(())
}

/// A transactional handler whose first attempt reports its backend pid and waits to be
/// released (the test terminates that backend meanwhile); every attempt records.
struct StallFirst {
    pid: Mutex<Option<oneshot::Sender<i32>>>,
    go: Arc<Notify>,
}

impl TxHandler<Job> for StallFirst {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        m: Message<Job>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let first = self.pid.lock().expect("not poisoned").take();
            if let Some(report) = first {
                let row = tx
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT pg_backend_pid() AS pid",
                    ))
                    .await?
                    .ok_or("no row")?;
                let _ = report.send(row.try_get("", "pid")?);
                self.go.notified().await;
            }
            record(tx, m.message.id, m.msg_id, "seaorm").await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_terminated_under_a_transactional_handler_is_retried_and_recorded_once() -> Res {
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 4).await?;
    let admin = seaorm(tdb.url(), 1).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    db.create_queue(&q).await?;
    send_jobs(&db, &q, 5).await?;
    let (tx, rx) = oneshot::channel();
    let go = Arc::new(Notify::new());
    let consumer = Arc::new(Transactional::consumer(
        SeaOrmBackend::new(db.clone()),
        fast_config(&q).with_concurrency(3),
        StallFirst {
            pid: Mutex::new(Some(tx)),
            go: Arc::clone(&go),
        },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (c, t) = (Arc::clone(&consumer), cancel.clone());
        async move { c.run(t).await }
    });
    let pid: i32 = tokio::time::timeout(Duration::from_secs(30), rx).await??;
    admin
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_terminate_backend($1)",
            [pid.into()],
        ))
        .await?;
    go.notify_one();
    let done = wait_until(Duration::from_secs(30), || async {
        ledger_rows(&db).await >= 5 && db.metrics(&q).await.is_ok_and(|m| m.queue_length == 0)
    })
    .await;
    cancel.cancel();
    run.await??;
    assert!(
        done,
        "not every message was processed: {:?}",
        consumer.stats()
    );
    assert_eq!(ledger_counts(&db).await?, (5, 5));
    let stats = consumer.stats();
    assert_eq!(stats.retried, 1, "{stats:?}");
    assert_eq!(stats.processed, 5, "{stats:?}");
    Ok(())
}

/// Records, then panics on a message's first attempt.
struct PanicFirst;

impl TxHandler<Job> for PanicFirst {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        m: Message<Job>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            record(tx, m.message.id, m.msg_id, "seaorm").await?;
            assert!(
                m.read_ct > 1,
                "injected panic after the write, before the commit"
            );
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_transactional_handler_leaves_no_effect_and_each_message_is_recorded_once() -> Res
{
    const N: i64 = 20;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 10).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    db.create_queue(&q).await?;
    send_jobs(&db, &q, N).await?;
    let consumer = Arc::new(Transactional::consumer(
        SeaOrmBackend::new(db.clone()),
        fast_config(&q),
        PanicFirst,
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (c, t) = (Arc::clone(&consumer), cancel.clone());
        async move { c.run(t).await }
    });
    let done = wait_until(Duration::from_secs(30), || async {
        consumer.stats().processed == N as u64
    })
    .await;
    cancel.cancel();
    run.await??;
    assert!(done, "{:?}", consumer.stats());
    assert_eq!(
        ledger_counts(&db).await?,
        (N, N),
        "a panicked write survived"
    );
    assert_eq!(consumer.stats().retried, N as u64);
    assert_eq!(db.metrics(&q).await?.queue_length, 0);
    Ok(())
}

/// Starts this test binary again, running only `test`, as a child with `CHILD_URL` set;
/// returns it and what follows `marker` on the first stdout line that has it.
fn spawn_child(
    test: &str,
    url: &str,
    marker: &str,
) -> Result<(std::process::Child, String), BoxError> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = marker.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may have printed the test's name on the same line first.
            if let Some(at) = line.find(&wanted) {
                let _ = tx.send(line[at + wanted.len()..].to_owned());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => Ok((child, line)),
        Err(e) => {
            let _ = child.kill();
            Err(format!("the child never reported `{marker}`: {e}").into())
        }
    }
}

fn kill(mut child: std::process::Child) -> Res {
    child.kill()?;
    let status = child.wait()?;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    Ok(())
}

/// The child's part: read five messages for three seconds, report them, hang.
fn read_and_hang(url: &str) -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let mut conn = PgConnection::establish(url)?;
    let msgs = conn.read::<Job>("jobs", VisibilityTimeout::Seconds(3), BatchSize::new(5)?)?;
    let ids: Vec<String> = msgs.iter().map(|m| m.msg_id.to_string()).collect();
    println!("READ {}", ids.join(","));
    std::thread::sleep(Duration::from_secs(120));
    Ok(())
}

#[test]
fn consumer_process_killed_between_read_and_delete_loses_nothing() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    if let Ok(url) = std::env::var(CHILD_URL) {
        return read_and_hang(&url);
    }
    let tdb = TestDb::new();
    let mut conn = PgConnection::establish(tdb.url())?;
    conn.create_queue("jobs")?;
    let jobs: Vec<Job> = (0..10).map(|id| Job { id }).collect();
    let sent = conn.send_batch("jobs", &jobs)?;
    let (child, line) = spawn_child(
        "faults::consumer_process_killed_between_read_and_delete_loses_nothing",
        tdb.url(),
        "READ ",
    )?;
    let taken: Vec<i64> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
    assert_eq!(taken, sent[..5]);
    kill(child)?;

    // The killed reader's messages stay hidden until their visibility timeout...
    let vt = VisibilityTimeout::Seconds(30);
    let rest = conn.read::<Job>("jobs", vt, BatchSize::new(10)?)?;
    let rest_ids: Vec<i64> = rest.iter().map(|m| m.msg_id).collect();
    assert_eq!(rest_ids, sent[5..]);
    assert_eq!(conn.delete_batch("jobs", &rest_ids)?, rest_ids);
    // ...then come back, read once before, payload intact.
    let mut back = Vec::new();
    for _ in 0..100 {
        back = conn
            .read::<Job>("jobs", vt, BatchSize::new(10)?)?
            .strict()?;
        if !back.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let back_ids: Vec<i64> = back.iter().map(|m| m.msg_id).collect();
    assert_eq!(back_ids, taken);
    assert!(back.iter().all(|m| m.read_ct == 2));
    assert_eq!(
        back.iter().map(|m| m.message).collect::<Vec<_>>(),
        jobs[..5]
    );
    conn.delete_batch("jobs", &back_ids)?;
    assert_eq!(conn.metrics("jobs")?.queue_length, 0);
    Ok(())
}

/// A transactional handler that records, reports, and never finishes.
struct RecordAndHang;

impl TxHandler<Job> for RecordAndHang {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        m: Message<Job>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            record(tx, m.message.id, m.msg_id, "killed").await?;
            println!("IN_TX {}", m.msg_id);
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_process_killed_inside_its_transaction_commits_nothing_and_the_message_returns()
-> Res {
    if let Ok(url) = std::env::var(CHILD_URL) {
        let db = seaorm(&url, 2).await?;
        let config = ConsumerConfig::new(QueueName::new("jobs")?)
            .with_batch_size(1)
            .with_concurrency(1)
            .with_visibility(Duration::from_secs(3), None);
        let consumer = Transactional::consumer(SeaOrmBackend::new(db), config, RecordAndHang);
        consumer.run(CancellationToken::new()).await?;
        return Ok(());
    }
    const N: i64 = 3;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 10).await?;
    let q = QueueName::new("jobs")?;
    create_ledger(&db).await?;
    db.create_queue(&q).await?;
    send_jobs(&db, &q, N).await?;
    let url = tdb.url().to_owned();
    let (child, line) = tokio::task::spawn_blocking(move || {
        spawn_child(
            "faults::consumer_process_killed_inside_its_transaction_commits_nothing_and_the_message_returns",
            &url,
            "IN_TX ",
        )
        .map_err(|e| e.to_string())
    })
    .await??;
    let in_flight: i64 = line.parse()?;
    kill(child)?;

    let consumer = Arc::new(Transactional::consumer(
        SeaOrmBackend::new(db.clone()),
        fast_config(&q),
        Record { worker: "survivor" },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (c, t) = (Arc::clone(&consumer), cancel.clone());
        async move { c.run(t).await }
    });
    let done = wait_until(Duration::from_secs(30), || async {
        db.metrics(&q).await.is_ok_and(|m| m.queue_length == 0)
    })
    .await;
    cancel.cancel();
    run.await??;
    assert!(done, "{:?}", consumer.stats());
    assert_eq!(
        ledger_counts(&db).await?,
        (N, N),
        "the killed transaction left a row"
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT worker FROM processed WHERE msg_id = $1",
            [in_flight.into()],
        ))
        .await?
        .ok_or("the killed consumer's message was never processed")?;
    assert_eq!(row.try_get::<String>("", "worker")?, "survivor");
    Ok(())
}
