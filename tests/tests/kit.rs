//! The test kit `pgmq-orm-test` against the crates it serves: its peeks see what
//! diesel-pgmq (sync) and sea-orm-pgmq sent, inside open transactions too, and its inline
//! runs report the outcomes of SeaORM consumers in plain and transactional mode. (The
//! diesel-async side is tested with the order service in examples/tests/orders.rs.)

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use diesel::{Connection, PgConnection};
use pgmq_harness::TestDb;
use pgmq_orm_core::{BoxError, Delay, Message};
use pgmq_orm_test::inline::{self, OutcomeKind};
use sea_orm::{
    ConnectionTrait, Database, DatabaseTransaction, DbBackend, Statement, TransactionTrait,
};
use sea_orm_pgmq::consumer::{
    Consumer, ConsumerConfig, FailureDestination, RetryPolicy, SeaOrmBackend, Transactional,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Job {
    id: u32,
}

fn panic_text(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Sync Diesel: a delayed send with headers, inside an open transaction, is seen there
/// (payload, headers, not yet visible, unread) and nowhere else until the commit.
#[test]
fn sync_diesel_peeks_inside_the_uncommitted_transaction() {
    use diesel_pgmq::PgmqConnectionExt;
    use pgmq_orm_test::diesel::{assert_not_sent, assert_sent, sent};

    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    let mut other = PgConnection::establish(db.url()).unwrap();
    conn.create_queue("jobs").unwrap();
    conn.transaction::<_, diesel_pgmq::Error, _>(|tx| {
        let id = tx.send_with(
            "jobs",
            &Job { id: 1 },
            Some(&json!({"trace": "t1"})),
            Delay::Seconds(60),
        )?;
        let m = assert_sent(tx, "jobs", |m: &Message<Job>| m.message.id == 1);
        assert_eq!(m.msg_id, id);
        assert_eq!(m.headers, Some(json!({"trace": "t1"})));
        assert_eq!(m.read_ct, 0);
        assert!(m.vt > chrono::Utc::now(), "delayed messages are seen too");
        assert_not_sent(&mut other, "jobs", |_: &Message<Value>| true);
        Ok(())
    })
    .unwrap();
    let all = sent::<Job>(&mut other, "jobs").unwrap();
    assert_eq!(
        all.iter().map(|m| &m.message).collect::<Vec<_>>(),
        [&Job { id: 1 }]
    );
    // Peeking took nothing: the message is still unread.
    assert_eq!(all[0].read_ct, 0);
}

/// A failed assertion lists what the queue holds, with what does not decode as the
/// asserted type; a missing queue and an invalid name are failures, not passes.
#[test]
fn failed_assertions_say_what_the_queue_holds() {
    use diesel_pgmq::PgmqConnectionExt;
    use pgmq_orm_test::diesel::{assert_not_sent, assert_sent, sent};

    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.create_queue("jobs").unwrap();
    conn.send("jobs", &Job { id: 1 }).unwrap();
    conn.send("jobs", &json!("not a job")).unwrap();
    let text = panic_text(|| {
        assert_sent(&mut conn, "jobs", |m: &Message<Job>| m.message.id == 2);
    });
    assert!(text.contains("no message in queue `jobs`"), "{text}");
    assert!(text.contains(r#"{"id": 1}"#), "{text}");
    assert!(
        text.contains(r#""not a job" (does not decode as"#),
        "{text}"
    );
    let text = panic_text(|| {
        assert_not_sent(&mut conn, "jobs", |m: &Message<Job>| m.message.id == 1);
    });
    assert!(
        text.contains("1 message(s) in queue `jobs` match"),
        "{text}"
    );
    assert!(
        sent::<Job>(&mut conn, "jobs").is_err(),
        "a payload that does not decode"
    );
    assert!(sent::<Value>(&mut conn, "missing").is_err());
    assert!(sent::<Value>(&mut conn, "bad'name").is_err());
    let text = panic_text(|| {
        assert_not_sent(&mut conn, "missing", |_: &Message<Value>| true);
    });
    assert!(text.contains("assert_not_sent"), "{text}");
}

/// SeaORM: the peek sees a transaction's own sends; the plain consumer, run inline,
/// reports each message's outcome (a failing handler retried, then dead-lettered).
#[tokio::test]
async fn sea_orm_plain_consumer_inline() -> Result<(), BoxError> {
    use pgmq_orm_test::sea_orm::{assert_not_sent, assert_sent};
    use sea_orm_pgmq::PgmqConnectionExt;

    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.create_queue("jobs").await?;
    conn.create_queue("jobs_dlq").await?;
    let tx = conn.begin().await?;
    let ok = tx.send("jobs", &Job { id: 1 }).await?;
    let bad = tx.send("jobs", &Job { id: 2 }).await?;
    assert_sent(&tx, "jobs", |m: &Message<Job>| m.message.id == 2).await;
    assert_not_sent(&conn, "jobs", |_: &Message<Job>| true).await;
    tx.commit().await?;

    let consumer = Consumer::new(
        SeaOrmBackend::new(conn.clone()),
        ConsumerConfig::new(sea_orm_pgmq::QueueName::new("jobs")?)
            .with_retry(RetryPolicy {
                max_attempts: 2,
                initial: Duration::ZERO,
                max: Duration::ZERO,
                ..RetryPolicy::default()
            })
            .with_failure_destination(FailureDestination::DeadLetter(
                sea_orm_pgmq::QueueName::new("jobs_dlq")?,
            )),
        |m: Message<Job>| async move {
            if m.message.id == 2 {
                return Err::<(), BoxError>("job 2 always fails".into());
            }
            Ok(())
        },
    );
    let run = inline::run(&consumer).await?;
    assert_eq!(run.of(ok).map(|o| &o.kind), Some(&OutcomeKind::Processed));
    let tries: Vec<_> = run.outcomes.iter().filter(|o| o.msg_id == bad).collect();
    assert_eq!(
        tries
            .iter()
            .map(|o| (o.attempt, o.kind.clone()))
            .collect::<Vec<_>>(),
        [
            (
                1,
                OutcomeKind::Retried {
                    error: "job 2 always fails".into()
                }
            ),
            (
                2,
                OutcomeKind::DeadLettered {
                    error: "job 2 always fails".into()
                }
            ),
        ],
        "{run:?}"
    );
    assert_eq!(run.failed().count(), 2);
    assert_eq!(
        (
            run.stats.processed,
            run.stats.retried,
            run.stats.dead_lettered
        ),
        (1, 1, 1)
    );
    assert_not_sent(&conn, "jobs", |_: &Message<Value>| true).await;
    assert_sent(&conn, "jobs_dlq", |m: &Message<Job>| m.message.id == 2).await;
    Ok(())
}

/// SeaORM, transactional mode: the handler's write and the acknowledgement commit
/// together; a panicking handler is reported as a failure and its write rolled back.
#[tokio::test]
async fn sea_orm_transactional_consumer_inline() -> Result<(), BoxError> {
    use pgmq_orm_test::sea_orm::{assert_sent, sent};
    use sea_orm_pgmq::PgmqConnectionExt;

    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute_unprepared("CREATE TABLE effects (id int PRIMARY KEY)")
        .await?;
    conn.create_queue("jobs").await?;
    let ok = conn.send("jobs", &Job { id: 1 }).await?;
    let panics = conn.send("jobs", &Job { id: 2 }).await?;
    let consumer = Transactional::consumer(
        SeaOrmBackend::new(conn.clone()),
        ConsumerConfig::new(sea_orm_pgmq::QueueName::new("jobs")?).with_concurrency(1),
        async |tx: &DatabaseTransaction, m: Message<Job>| {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO effects VALUES ($1)",
                [i32::try_from(m.message.id)?.into()],
            ))
            .await?;
            assert!(m.message.id != 2, "job 2 panics");
            Ok::<(), BoxError>(())
        },
    );
    let run = inline::run(&consumer).await?;
    assert_eq!(run.of(ok).map(|o| &o.kind), Some(&OutcomeKind::Processed));
    let failed = run.of(panics).expect("job 2 was handled");
    assert!(
        matches!(&failed.kind, OutcomeKind::Retried { error } if error.contains("job 2 panics")),
        "{run:?}"
    );
    let effects = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM effects ORDER BY id",
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<i32>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(effects, [1], "job 2's write rolled back with its failure");
    // Job 1 acknowledged in its transaction; job 2 still queued, read once.
    let left = sent::<Job>(&conn, "jobs").await?;
    assert_eq!(left.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [panics]);
    assert_sent(&conn, "jobs", |m: &Message<Job>| m.read_ct == 1).await;
    Ok(())
}
