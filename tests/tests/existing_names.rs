//! Queues other clients created under names pgmq accepts but `QueueName::new` refuses
//! (issue 16, point 11), used through `QueueName::existing` in both crates: send, read,
//! set_vt, archive, delete, pop, metrics, the dead-letter toolkit, the consumer, and the
//! exact `LISTEN` channel (pgmq 1.13.1 notifies `pgmq.q_<name as created>.INSERT`).

use std::time::Duration;

use pgmq_harness::TestDb;
use pgmq_orm_core::{BatchSize, Delay, ErrorKind, QueueName, VisibilityTimeout};
use serde_json::{Value, json};

/// Names pgmq accepts and `QueueName::new` refuses.
const NAMES: [&str; 4] = ["MixedCase", "with-dash", "dot.name", "ümlaut"];
const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

/// Creates the queues as another client would: pgmq's SQL with the name bound.
fn create_as_another_client(url: &str) {
    use diesel::sql_types::Text;
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let mut conn = PgConnection::establish(url).unwrap();
    for name in NAMES {
        diesel::sql_query("SELECT pgmq.create($1)")
            .bind::<Text, _>(name)
            .execute(&mut conn)
            .unwrap();
    }
}

/// The same operations for both crates: `$($aw)*` is `.await` or nothing.
macro_rules! use_existing {
    ($conn:expr, $($aw:tt)*) => {{
        for name in NAMES {
            let refused = $conn.send(name, &json!(0))$($aw)*.unwrap_err();
            assert_eq!(refused.kind(), ErrorKind::InvalidQueueName, "{name}");
            let q = QueueName::existing(name).unwrap();
            let ctx = |op: &str| format!("{name}: {op}");
            let id = $conn.send(&q, &json!({"n": 1}))$($aw)*.expect(&ctx("send"));
            let ids = $conn.send_batch(&q, &[json!(2), json!(3), json!(4)])$($aw)*.expect(&ctx("send_batch"));
            $conn.send_with(&q, &json!(5), Some(&json!({"h": 1})), Delay::Seconds(0))$($aw)*.expect(&ctx("send_with"));
            let read = $conn.read::<Value>(&q, VT, BatchSize::ONE)$($aw)*.expect(&ctx("read"));
            assert_eq!(read[0].msg_id, id, "{name}");
            let moved = $conn.set_vt::<Value>(&q, id, VisibilityTimeout::Seconds(0))$($aw)*.expect(&ctx("set_vt"));
            assert!(moved.is_some(), "{name}");
            assert!($conn.archive(&q, id)$($aw)*.expect(&ctx("archive")), "{name}");
            assert!($conn.delete(&q, ids[0])$($aw)*.expect(&ctx("delete")), "{name}");
            let popped = $conn.pop::<Value>(&q, BatchSize::ONE)$($aw)*.expect(&ctx("pop"));
            assert_eq!(popped[0].msg_id, ids[1], "{name}");
            let m = $conn.metrics(&q)$($aw)*.expect(&ctx("metrics"));
            assert_eq!((m.queue_name.as_str(), m.queue_length), (name, 2), "{name}");
            let all = $conn.metrics_all()$($aw)*.expect(&ctx("metrics_all"));
            assert!(all.iter().any(|m| m.queue_name == name), "{name}");
            $conn.enable_notify_insert(&q, Duration::ZERO)$($aw)*.expect(&ctx("enable_notify_insert"));
            $conn.disable_notify_insert(&q)$($aw)*.expect(&ctx("disable_notify_insert"));
            assert_eq!($conn.purge_queue(&q)$($aw)*.expect(&ctx("purge")), 2, "{name}");
        }
    }};
}

#[test]
fn diesel_sync_uses_queues_named_by_other_clients() {
    use diesel::{Connection, PgConnection};
    use diesel_pgmq::PgmqConnectionExt;
    let db = TestDb::new();
    create_as_another_client(db.url());
    let mut conn = PgConnection::establish(db.url()).unwrap();
    use_existing!(conn,);
}

#[tokio::test]
async fn diesel_async_uses_queues_named_by_other_clients() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use diesel_pgmq::PgmqAsyncConnectionExt;
    let db = TestDb::new();
    create_as_another_client(db.url());
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    use_existing!(conn, .await);
}

#[tokio::test]
async fn seaorm_uses_queues_named_by_other_clients() {
    use sea_orm_pgmq::PgmqConnectionExt;
    let db = TestDb::new();
    create_as_another_client(db.url());
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    use_existing!(conn, .await);
}

#[tokio::test]
async fn dead_letter_toolkit_lists_and_requeues_queues_named_by_other_clients() {
    use sea_orm_pgmq::PgmqConnectionExt;
    use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    let db = TestDb::new();
    create_as_another_client(db.url());
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let dlq = QueueName::existing("MixedCase").unwrap();
    let source = QueueName::existing("dot.name").unwrap();
    let record =
        json!({"x-pgmq-dead-letter": {"source_queue": "dot.name", "error": "boom", "attempts": 1}});
    conn.send_with(&dlq, &json!({"n": 1}), Some(&record), Delay::Seconds(0))
        .await
        .unwrap();
    let letters = DeadLetters::new(&dlq).unwrap();
    let listed = letters
        .list(&conn, 0, BatchSize::new(10).unwrap())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let moved = letters
        .requeue_to(&source)
        .unwrap()
        .requeue_all(&conn)
        .await
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(conn.metrics(&source).await.unwrap().queue_length, 1);
}

#[tokio::test]
async fn seaorm_consumer_with_notify_processes_queues_named_by_other_clients() {
    use sea_orm_pgmq::PgmqConnectionExt;
    use sea_orm_pgmq::consumer::{CancellationToken, Consumer, ConsumerConfig, SeaOrmBackend};
    let db = TestDb::new();
    create_as_another_client(db.url());
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    for name in NAMES {
        let q = QueueName::existing(name).unwrap();
        conn.enable_notify_insert(&q, Duration::ZERO).await.unwrap();
        let backend = SeaOrmBackend::with_notify(conn.clone(), &q).await.unwrap();
        let config = ConsumerConfig::new(q.clone()).with_poll_interval(Duration::from_millis(100));
        let consumer = std::sync::Arc::new(Consumer::new(
            backend,
            config,
            |_m: pgmq_orm_core::Message<Value>| {
                std::future::ready(Ok::<(), pgmq_orm_core::BoxError>(()))
            },
        ));
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let (c, t) = (consumer.clone(), cancel.clone());
            async move { c.run(t).await }
        });
        conn.send_batch(&q, &[json!(1), json!(2)]).await.unwrap();
        let start = std::time::Instant::now();
        while consumer.stats().processed < 2 && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        cancel.cancel();
        task.await.unwrap().unwrap();
        assert_eq!(consumer.stats().processed, 2, "{name}");
        assert_eq!(conn.metrics(&q).await.unwrap().queue_length, 0, "{name}");
    }
}

/// `listen_sql` listens on the exact channel, case kept: what pgmq 1.13.0's trigger
/// sends for every name without capitals, and what pgmq 1.13.1 sends for every name
/// (simulated for `MixedCase` with `pg_notify`, since 1.13.1 is not released in a crate).
#[test]
fn listen_sql_listens_on_the_exact_channel_pgmq_notifies() {
    use diesel::sql_types::Text;
    use diesel::{Connection, PgConnection, RunQueryDsl};
    use diesel_pgmq::PgmqConnectionExt;
    let db = TestDb::new();
    create_as_another_client(db.url());
    let mut sender = PgConnection::establish(db.url()).unwrap();
    let mut listener = PgConnection::establish(db.url()).unwrap();
    let received = |listener: &mut PgConnection| {
        std::thread::sleep(Duration::from_millis(200));
        diesel::sql_query("SELECT 1").execute(listener).unwrap();
        listener
            .notifications_iter()
            .map(|n| n.unwrap().channel)
            .collect::<Vec<_>>()
    };
    for name in ["with-dash", "dot.name", "ümlaut"] {
        let q = QueueName::existing(name).unwrap();
        diesel::sql_query(pgmq_orm_core::consumer::listen_sql(&q))
            .execute(&mut listener)
            .unwrap();
        sender.enable_notify_insert(&q, Duration::ZERO).unwrap();
        sender.send(&q, &json!(1)).unwrap();
        assert_eq!(received(&mut listener), [q.notify_channel()], "{name}");
    }
    // pgmq 1.13.1's channel for a mixed-case name keeps the case.
    let q = QueueName::existing("MixedCase").unwrap();
    diesel::sql_query(pgmq_orm_core::consumer::listen_sql(&q))
        .execute(&mut listener)
        .unwrap();
    for channel in ["pgmq.q_mixedcase.INSERT", "pgmq.q_MixedCase.INSERT"] {
        diesel::sql_query("SELECT pg_notify($1, NULL)")
            .bind::<Text, _>(channel)
            .execute(&mut sender)
            .unwrap();
    }
    assert_eq!(received(&mut listener), ["pgmq.q_MixedCase.INSERT"]);
}
