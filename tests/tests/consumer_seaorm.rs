//! The consumer runtime on SeaORM against a real pgmq: retries, dead-lettering, panics,
//! heartbeat, shutdown, notify wake-ups and transactional acknowledgement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pgmq_harness::TestDb;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
};
use sea_orm_pgmq::consumer::*;
use sea_orm_pgmq::{BatchSize, BoxError, Message, PgmqConnectionExt, QueueName, VisibilityTimeout};
use serde_json::Value;

type Res = Result<(), Box<dyn std::error::Error>>;

async fn setup()
-> Result<(TestDb, DatabaseConnection, QueueName, QueueName), Box<dyn std::error::Error>> {
    let tdb = TestDb::new();
    let db = Database::connect(tdb.url()).await?;
    let q = QueueName::new("jobs")?;
    let dlq = QueueName::new("jobs_dlq")?;
    db.create_queue(&q).await?;
    db.create_queue(&dlq).await?;
    Ok((tdb, db, q, dlq))
}

fn config(q: &QueueName, dlq: &QueueName) -> ConsumerConfig {
    ConsumerConfig::new(q.clone())
        .with_poll_interval(Duration::from_millis(100))
        .with_shutdown_deadline(Duration::from_secs(5))
        .with_failure_destination(FailureDestination::DeadLetter(dlq.clone()))
        .with_retry(RetryPolicy {
            initial: Duration::from_secs(2),
            jitter: 0.0,
            max_attempts: 3,
            ..RetryPolicy::default()
        })
}

async fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

async fn peek_all(db: &DatabaseConnection, q: &QueueName) -> Vec<Message<Value>> {
    db.read::<Value>(
        q,
        VisibilityTimeout::Seconds(0),
        BatchSize::new(100).unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_processes_and_deletes_each_message() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    for i in 0..5 {
        db.send(&q, &i).await?;
    }
    let seen = Arc::new(AtomicU32::new(0));
    let s = Arc::clone(&seen);
    let consumer = Arc::new(Consumer::new(
        SeaOrmBackend::new(db.clone()),
        config(&q, &dlq),
        move |_m: Message<u32>| {
            let s = Arc::clone(&s);
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }
        },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    assert!(wait_until(Duration::from_secs(10), || consumer.stats().processed == 5).await);
    cancel.cancel();
    run.await??;
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    assert!(peek_all(&db, &q).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handler_is_retried_no_sooner_than_the_backoff_then_dead_lettered_with_error() -> Res
{
    let (_t, db, q, dlq) = setup().await?;
    db.send(&q, &"x").await?;
    let attempts = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let a = Arc::clone(&attempts);
    let consumer = Arc::new(Consumer::new(
        SeaOrmBackend::new(db.clone()),
        config(&q, &dlq),
        move |_m: Message<String>| {
            a.lock().unwrap().push(Instant::now());
            async { Err::<(), BoxError>("always fails".into()) }
        },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    assert!(
        wait_until(Duration::from_secs(20), || consumer.stats().dead_lettered
            == 1)
        .await
    );
    cancel.cancel();
    run.await??;
    let times = attempts.lock().unwrap().clone();
    assert_eq!(times.len(), 3, "max_attempts = 3");
    // Backoff 2 s then 4 s; pgmq's vt has 1 s resolution, so allow 1 s less.
    assert!(
        times[1] - times[0] >= Duration::from_secs(1),
        "{:?}",
        times[1] - times[0]
    );
    assert!(
        times[2] - times[1] >= Duration::from_secs(3),
        "{:?}",
        times[2] - times[1]
    );
    assert_eq!(consumer.stats().retried, 2);
    assert!(peek_all(&db, &q).await.is_empty());
    let dead = peek_all(&db, &dlq).await;
    assert_eq!(dead.len(), 1);
    let info = DeadLetterInfo::from_headers(dead[0].headers.as_ref()).expect("failure record");
    assert_eq!(info.error, "always fails");
    assert_eq!(info.read_ct, 3);
    assert_eq!(info.source_queue, "jobs");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_payload_goes_to_the_dead_letter_queue_at_once() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    db.send(&q, &serde_json::json!({"not": "a number"})).await?;
    let consumer = Arc::new(Consumer::new(
        SeaOrmBackend::new(db.clone()),
        config(&q, &dlq),
        |_m: Message<u64>| async { Ok::<(), BoxError>(()) },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    assert!(
        wait_until(Duration::from_secs(10), || consumer.stats().decode_failed
            == 1)
        .await
    );
    cancel.cancel();
    run.await??;
    let dead = peek_all(&db, &dlq).await;
    assert_eq!(dead.len(), 1);
    let info = DeadLetterInfo::from_headers(dead[0].headers.as_ref()).unwrap();
    assert_eq!(info.read_ct, 1);
    assert!(info.error.starts_with("decode"), "{}", info.error);
    assert_eq!(consumer.stats().retried, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_retried_and_the_consumer_survives() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    db.send(&q, &1).await?;
    let calls = Arc::new(AtomicU32::new(0));
    let c2 = Arc::clone(&calls);
    let consumer = Arc::new(Consumer::new(
        SeaOrmBackend::new(db.clone()),
        config(&q, &dlq),
        move |_m: Message<u32>| {
            let n = c2.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(n > 0, "first attempt panics");
                Ok::<(), BoxError>(())
            }
        },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    assert!(wait_until(Duration::from_secs(15), || consumer.stats().processed == 1).await);
    cancel.cancel();
    run.await??;
    assert_eq!(consumer.stats().retried, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_keeps_a_slow_message_invisible_past_its_visibility_timeout() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    db.send(&q, &1).await?;
    let cfg =
        config(&q, &dlq).with_visibility(Duration::from_secs(2), Some(Duration::from_millis(500)));
    let consumer = Arc::new(Consumer::new(
        SeaOrmBackend::new(db.clone()),
        cfg,
        |_m: Message<u32>| async {
            tokio::time::sleep(Duration::from_secs(6)).await;
            Ok::<(), BoxError>(())
        },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    tokio::time::sleep(Duration::from_millis(4500)).await;
    // Well past the 2 s vt: without the heartbeat a reader would get it now.
    let stolen = db
        .read::<Value>(&q, VisibilityTimeout::Seconds(30), BatchSize::ONE)
        .await?;
    assert!(
        stolen.is_empty(),
        "message became visible while its handler ran"
    );
    assert!(wait_until(Duration::from_secs(10), || consumer.stats().processed == 1).await);
    cancel.cancel();
    run.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_past_the_deadline_releases_unfinished_messages_at_once() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    db.send(&q, &1).await?;
    let cfg = config(&q, &dlq)
        .with_visibility(Duration::from_secs(300), None)
        .with_shutdown_deadline(Duration::from_millis(300));
    let consumer = Arc::new(Consumer::new(
        SeaOrmBackend::new(db.clone()),
        cfg,
        |_m: Message<u32>| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<(), BoxError>(())
        },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        db.read::<Value>(&q, VisibilityTimeout::Seconds(0), BatchSize::ONE)
            .await?
            .is_empty()
    );
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), run).await???;
    assert_eq!(consumer.stats().released, 1);
    assert_eq!(
        peek_all(&db, &q).await.len(),
        1,
        "released message is visible at once"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_notification_wakes_an_idle_consumer_long_before_its_poll_interval() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    let backend = SeaOrmBackend::with_notify(db.clone(), &q).await?;
    let cfg = config(&q, &dlq).with_poll_interval(Duration::from_secs(30));
    let consumer = Arc::new(Consumer::new(backend, cfg, |_m: Message<u32>| async {
        Ok::<(), BoxError>(())
    }));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&consumer);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    // Let the consumer find the queue empty and start its 30 s wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    db.send(&q, &7).await?;
    assert!(
        wait_until(Duration::from_secs(5), || consumer.stats().processed == 1).await,
        "not woken by NOTIFY"
    );
    cancel.cancel();
    run.await??;
    Ok(())
}

struct InsertThenMaybeFail {
    fail: bool,
}

impl TxHandler<i64> for InsertThenMaybeFail {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        m: Message<i64>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO effects(v) VALUES ($1)",
                [m.message.into()],
            ))
            .await?;
            if self.fail {
                return Err("after the insert".into());
            }
            Ok(())
        })
    }
}

async fn effects(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM effects",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_mode_commits_effects_and_ack_together_and_rolls_both_back_on_error() -> Res {
    let (_t, db, q, dlq) = setup().await?;
    db.execute_unprepared("CREATE TABLE effects(v bigint)")
        .await?;
    db.send(&q, &42i64).await?;
    let cfg = config(&q, &dlq).with_retry(RetryPolicy {
        max_attempts: 2,
        initial: Duration::from_secs(1),
        jitter: 0.0,
        ..RetryPolicy::default()
    });
    let ok = Arc::new(Transactional::consumer(
        SeaOrmBackend::new(db.clone()),
        cfg.clone(),
        InsertThenMaybeFail { fail: false },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&ok);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    assert!(wait_until(Duration::from_secs(10), || ok.stats().processed == 1).await);
    cancel.cancel();
    run.await??;
    assert_eq!(effects(&db).await, 1);
    assert!(peek_all(&db, &q).await.is_empty());

    db.send(&q, &43i64).await?;
    let failing = Arc::new(Transactional::consumer(
        SeaOrmBackend::new(db.clone()),
        cfg,
        InsertThenMaybeFail { fail: true },
    ));
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let c = Arc::clone(&failing);
        let t = cancel.clone();
        async move { c.run(t).await }
    });
    assert!(
        wait_until(Duration::from_secs(15), || failing.stats().dead_lettered
            == 1)
        .await
    );
    cancel.cancel();
    run.await??;
    assert_eq!(failing.stats().retried, 1);
    assert_eq!(
        effects(&db).await,
        1,
        "failed attempts left no effect behind"
    );
    assert_eq!(peek_all(&db, &dlq).await.len(), 1);
    Ok(())
}
