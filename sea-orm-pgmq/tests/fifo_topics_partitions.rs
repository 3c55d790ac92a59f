//! The rest of the pgmq API on SeaORM against a real pgmq (via pgmq_harness): grouped
//! (FIFO) reads, conditional reads, batch visibility, notifications, topics, partitioned
//! and unlogged queues, the version check; each write also inside a committed and a
//! rolled-back `DatabaseTransaction`.

use chrono::{Duration as ChronoDuration, Utc};
use pgmq_harness::TestDb;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};
use sea_orm_pgmq::{
    BatchSize, Delay, Error, ErrorKind, MIN_PGMQ_VERSION, PgmqConnectionExt, PollOptions, Queue,
    QueueName, VisibilityTimeout, query,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);
const NO_DELAY: Delay = Delay::Seconds(0);

async fn setup(
    queue: &str,
) -> Result<(TestDb, DatabaseConnection), Box<dyn std::error::Error + Send + Sync>> {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.create_queue(queue).await?;
    Ok((db, conn))
}

fn batch(n: usize) -> BatchSize {
    BatchSize::new(n).expect("valid batch size")
}

fn short_poll() -> PollOptions {
    PollOptions::new(Duration::from_millis(300), Duration::from_millis(20))
}

fn group(g: &str) -> Value {
    json!({ "x-pgmq-group": g })
}

/// Sends `a1, a2, b3` in groups `a` and `b` (payloads are the numbers).
async fn send_groups(conn: &impl ConnectionTrait, q: &str) -> Result<Vec<i64>, Error> {
    let headers = [group("a"), group("a"), group("b")];
    conn.send_batch_with(q, &[1, 2, 3], Some(&headers), NO_DELAY)
        .await
}

fn payloads(msgs: &[sea_orm_pgmq::Message<i32>]) -> Vec<i32> {
    msgs.iter().map(|m| m.message).collect()
}

async fn scalar_i64(conn: &impl ConnectionTrait, sql: &str) -> i64 {
    conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .expect("query")
        .expect("row")
        .try_get_by_index(0)
        .expect("bigint")
}

async fn visible(conn: &impl ConnectionTrait, q: &str) -> i64 {
    conn.metrics(q).await.expect("metrics").queue_visible_length
}

#[tokio::test]
async fn read_grouped_fills_from_the_oldest_group_and_respects_group_order() -> R {
    let (_db, conn) = setup("tasks").await?;
    send_groups(&conn, "tasks").await?;
    let first = conn.read_grouped::<i32>("tasks", VT, batch(2)).await?;
    assert_eq!(payloads(&first), [1, 2]);
    // Group a is in flight: its later messages wait; b is free.
    let next = conn.read_grouped::<i32>("tasks", VT, batch(2)).await?;
    assert_eq!(payloads(&next), [3]);
    assert!(
        conn.read_grouped::<i32>("tasks", VT, batch(2))
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn read_grouped_rr_takes_one_group_after_another() -> R {
    let (_db, conn) = setup("tasks").await?;
    send_groups(&conn, "tasks").await?;
    let got = conn.read_grouped_rr::<i32>("tasks", VT, batch(2)).await?;
    assert_eq!(payloads(&got), [1, 3]);
    Ok(())
}

#[tokio::test]
async fn read_grouped_head_returns_only_visible_group_heads() -> R {
    let (_db, conn) = setup("tasks").await?;
    send_groups(&conn, "tasks").await?;
    let heads = conn
        .read_grouped_head::<i32>("tasks", VT, batch(10))
        .await?;
    assert_eq!(payloads(&heads), [1, 3]);
    // Both heads are now invisible, so no group has a readable head, although 2 is visible.
    assert!(
        conn.read_grouped_head::<i32>("tasks", VT, batch(10))
            .await?
            .is_empty()
    );
    assert_eq!(visible(&conn, "tasks").await, 1);
    // Once a's head is deleted, 2 becomes a's head.
    conn.delete("tasks", heads[0].msg_id).await?;
    let next = conn
        .read_grouped_head::<i32>("tasks", VT, batch(10))
        .await?;
    assert_eq!(payloads(&next), [2]);
    Ok(())
}

#[tokio::test]
async fn grouped_polls_return_at_once_when_messages_wait_and_empty_after_the_wait() -> R {
    let (_db, conn) = setup("tasks").await?;
    send_groups(&conn, "tasks").await?;
    let got = conn
        .read_grouped_with_poll::<i32>("tasks", VT, batch(1), short_poll())
        .await?;
    assert_eq!(payloads(&got), [1]);
    let got = conn
        .read_grouped_rr_with_poll::<i32>("tasks", VT, batch(5), short_poll())
        .await?;
    assert_eq!(payloads(&got), [3]);
    conn.create_queue("idle").await?;
    for read in 0..3 {
        let started = Instant::now();
        let got = match read {
            0 => {
                conn.read_grouped_with_poll::<i32>("idle", VT, batch(1), short_poll())
                    .await?
            }
            1 => {
                conn.read_grouped_rr_with_poll::<i32>("idle", VT, batch(1), short_poll())
                    .await?
            }
            _ => {
                conn.read_grouped_head_with_poll::<i32>("idle", VT, batch(1), short_poll())
                    .await?
            }
        };
        assert!(got.is_empty());
        // The server waited for the poll window rather than returning at once.
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "read {read}"
        );
    }
    conn.create_queue("heads").await?;
    send_groups(&conn, "heads").await?;
    let got = conn
        .read_grouped_head_with_poll::<i32>("heads", VT, batch(5), short_poll())
        .await?;
    assert_eq!(payloads(&got), [1, 3]);
    Ok(())
}

#[tokio::test]
async fn conditional_reads_take_only_matching_payloads() -> R {
    let (_db, conn) = setup("jobs").await?;
    conn.send_batch(
        "jobs",
        &[
            json!({"kind": "sms", "n": 1}),
            json!({"kind": "email", "n": 2}),
        ],
    )
    .await?;
    let email = json!({"kind": "email"});
    let got = conn
        .read_conditional::<Value, _>("jobs", VT, batch(10), &email)
        .await?;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message["n"], 2);
    let none = conn
        .read_conditional::<Value, _>("jobs", VT, batch(10), &json!({"kind": "push"}))
        .await?;
    assert!(none.is_empty());
    let sms = conn
        .read_with_poll_conditional::<Value, _>(
            "jobs",
            VT,
            batch(10),
            short_poll(),
            &json!({"kind": "sms"}),
        )
        .await?;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].message["n"], 1);
    Ok(())
}

#[tokio::test]
async fn send_batch_with_headers_and_delays() -> R {
    let (_db, conn) = setup("jobs").await?;
    let headers = [json!({"trace": "a"}), json!({"trace": "b"})];
    let ids = conn
        .send_batch_with("jobs", &[1, 2], Some(&headers), NO_DELAY)
        .await?;
    assert_eq!(ids.len(), 2);
    let got = conn.read::<i32>("jobs", VT, batch(2)).await?;
    let traces: Vec<Value> = got
        .iter()
        .map(|m| m.headers.clone().expect("headers")["trace"].clone())
        .collect();
    assert_eq!(traces, [json!("a"), json!("b")]);

    conn.send_batch_with::<_, Value>("jobs", &[3], None, Delay::Seconds(60))
        .await?;
    let at = Utc::now() + ChronoDuration::minutes(1);
    conn.send_batch_with("jobs", &[4], Some(&[json!({})]), Delay::Until(at))
        .await?;
    let m = conn.metrics("jobs").await?;
    assert_eq!((m.queue_length, m.queue_visible_length), (4, 0));

    assert!(
        conn.send_batch_with::<i32, Value>("jobs", &[], None, NO_DELAY)
            .await?
            .is_empty()
    );
    let err = conn
        .send_batch_with("jobs", &[1, 2], Some(&[json!({})]), NO_DELAY)
        .await
        .expect_err("one header for two messages");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = conn
        .send_batch_with("jobs", &[1], Some(&[json!([1])]), NO_DELAY)
        .await
        .expect_err("headers must be objects");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        conn.metrics("jobs").await?.queue_length,
        4,
        "nothing sent on bad input"
    );
    Ok(())
}

#[tokio::test]
async fn send_batch_with_commits_and_rolls_back_with_the_transaction() -> R {
    let (_db, conn) = setup("jobs").await?;
    let txn = conn.begin().await?;
    txn.send_batch_with("jobs", &[1, 2], Some(&[group("a"), group("b")]), NO_DELAY)
        .await?;
    txn.rollback().await?;
    assert_eq!(conn.metrics("jobs").await?.queue_length, 0);
    let txn = conn.begin().await?;
    txn.send_batch_with("jobs", &[1, 2], Some(&[group("a"), group("b")]), NO_DELAY)
        .await?;
    txn.commit().await?;
    assert_eq!(conn.metrics("jobs").await?.queue_length, 2);
    Ok(())
}

#[tokio::test]
async fn set_vt_batch_hides_and_releases_many_and_rolls_back() -> R {
    let (_db, conn) = setup("jobs").await?;
    let ids = conn.send_batch("jobs", &[1, 2, 3]).await?;
    let moved = conn
        .set_vt_batch::<i32>(
            "jobs",
            &[ids[0], ids[1], 999_999],
            VisibilityTimeout::Seconds(60),
        )
        .await?;
    let mut moved_ids: Vec<i64> = moved.iter().map(|m| m.msg_id).collect();
    moved_ids.sort_unstable();
    assert_eq!(moved_ids, ids[..2]);
    assert_eq!(visible(&conn, "jobs").await, 1);
    let at = Utc::now() - ChronoDuration::seconds(1);
    let _ = conn
        .set_vt_batch::<i32>("jobs", &ids, VisibilityTimeout::Until(at))
        .await?;
    assert_eq!(visible(&conn, "jobs").await, 3);

    let txn = conn.begin().await?;
    let _ = txn
        .set_vt_batch::<i32>("jobs", &ids, VisibilityTimeout::Seconds(60))
        .await?;
    assert_eq!(visible(&txn, "jobs").await, 0);
    txn.rollback().await?;
    assert_eq!(visible(&conn, "jobs").await, 3);
    Ok(())
}

#[tokio::test]
async fn fifo_indexes_are_created_and_roll_back() -> R {
    let (_db, conn) = setup("tasks").await?;
    conn.create_queue("other").await?;
    let count_idx =
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'pgmq' AND indexname LIKE '%_fifo_idx'";
    let txn = conn.begin().await?;
    txn.create_fifo_index("tasks").await?;
    assert_eq!(scalar_i64(&txn, count_idx).await, 1);
    txn.rollback().await?;
    assert_eq!(scalar_i64(&conn, count_idx).await, 0);

    let txn = conn.begin().await?;
    txn.create_fifo_index("tasks").await?;
    txn.commit().await?;
    assert_eq!(scalar_i64(&conn, count_idx).await, 1);
    conn.create_fifo_index("tasks").await?;
    assert_eq!(scalar_i64(&conn, count_idx).await, 1);
    conn.create_fifo_indexes_all().await?;
    assert_eq!(scalar_i64(&conn, count_idx).await, 2);
    let err = conn
        .create_fifo_index("missing")
        .await
        .expect_err("no such queue");
    assert_eq!(err.kind(), ErrorKind::QueueMissing, "{err:?}");
    Ok(())
}

#[tokio::test]
async fn notify_insert_throttles_enable_update_disable_and_roll_back() -> R {
    let (_db, conn) = setup("jobs").await?;
    assert!(conn.list_notify_insert_throttles().await?.is_empty());
    conn.enable_notify_insert("jobs", Duration::from_millis(250))
        .await?;
    let t = conn.list_notify_insert_throttles().await?;
    assert_eq!(
        (t[0].queue_name.as_str(), t[0].throttle_interval_ms),
        ("jobs", 250)
    );

    let txn = conn.begin().await?;
    txn.update_notify_insert("jobs", Duration::from_secs(2))
        .await?;
    assert_eq!(
        txn.list_notify_insert_throttles().await?[0].throttle_interval_ms,
        2000
    );
    txn.rollback().await?;
    assert_eq!(
        conn.list_notify_insert_throttles().await?[0].throttle_interval_ms,
        250
    );

    let txn = conn.begin().await?;
    txn.update_notify_insert("jobs", Duration::from_secs(1))
        .await?;
    txn.commit().await?;
    assert_eq!(
        conn.list_notify_insert_throttles().await?[0].throttle_interval_ms,
        1000
    );
    conn.disable_notify_insert("jobs").await?;
    assert!(conn.list_notify_insert_throttles().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn topic_bindings_list_test_and_unbind() -> R {
    let (_db, conn) = setup("orders").await?;
    conn.create_queue("audit").await?;
    conn.bind_topic("orders.*", "orders").await?;
    conn.bind_topic("#", "audit").await?;
    let mut all: Vec<String> = conn
        .list_topic_bindings()
        .await?
        .into_iter()
        .map(|b| b.pattern)
        .collect();
    all.sort();
    assert_eq!(all, ["#", "orders.*"]);
    let audit = conn.list_topic_bindings_for("audit").await?;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].pattern, "#");

    let mut routes: Vec<String> = conn
        .test_routing("orders.paid")
        .await?
        .into_iter()
        .map(|r| r.queue_name)
        .collect();
    routes.sort();
    assert_eq!(routes, ["audit", "orders"]);
    let routes = conn.test_routing("users.created").await?;
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].queue_name, "audit");

    let txn = conn.begin().await?;
    assert!(txn.unbind_topic("#", "audit").await?);
    txn.rollback().await?;
    assert_eq!(conn.list_topic_bindings_for("audit").await?.len(), 1);
    let txn = conn.begin().await?;
    assert!(txn.unbind_topic("#", "audit").await?);
    txn.commit().await?;
    assert!(!conn.unbind_topic("#", "audit").await?);
    assert!(conn.test_routing("users.created").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn send_batch_topic_routes_every_message_and_rolls_back() -> R {
    let (_db, conn) = setup("orders").await?;
    conn.create_queue("audit").await?;
    conn.bind_topic("orders.*", "orders").await?;
    conn.bind_topic("#", "audit").await?;
    let sent = conn
        .send_batch_topic::<_, Value>("orders.paid", &[1, 2], None, NO_DELAY)
        .await?;
    assert_eq!(sent.len(), 4);
    assert_eq!(sent.iter().filter(|s| s.queue_name == "orders").count(), 2);
    let read = conn.read::<i32>("orders", VT, batch(5)).await?;
    let mut ids: Vec<i64> = sent
        .iter()
        .filter(|s| s.queue_name == "orders")
        .map(|s| s.msg_id)
        .collect();
    ids.sort_unstable();
    assert_eq!(read.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids);

    let sent = conn
        .send_batch_topic(
            "users.created",
            &[3],
            Some(&[json!({"h": 1})]),
            Delay::Seconds(60),
        )
        .await?;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].queue_name, "audit");
    assert!(
        conn.send_batch_topic::<i32, Value>("orders.paid", &[], None, NO_DELAY)
            .await?
            .is_empty()
    );
    let err = conn
        .send_batch_topic("orders.paid", &[1, 2], Some(&[json!({})]), NO_DELAY)
        .await
        .expect_err("header count");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    let before = conn.metrics("audit").await?.queue_length;
    let txn = conn.begin().await?;
    txn.send_batch_topic::<_, Value>("orders.paid", &[5], None, NO_DELAY)
        .await?;
    txn.rollback().await?;
    assert_eq!(conn.metrics("audit").await?.queue_length, before);
    let txn = conn.begin().await?;
    txn.send_batch_topic::<_, Value>("orders.paid", &[5], None, NO_DELAY)
        .await?;
    txn.commit().await?;
    assert_eq!(conn.metrics("audit").await?.queue_length, before + 1);
    Ok(())
}

#[tokio::test]
async fn partitioned_queue_is_created_usable_and_rolls_back() -> R {
    let (db, conn) = setup("plain").await?;
    if !db.optional_extension(
        "pg_partman",
        "partitioned_queue_is_created_usable_and_rolls_back",
    ) {
        return Ok(());
    }
    let txn = conn.begin().await?;
    txn.create_partitioned_queue("big", "10000", "100000")
        .await?;
    txn.rollback().await?;
    assert!(
        !conn
            .list_queues()
            .await?
            .iter()
            .any(|q| q.queue_name == "big")
    );

    conn.create_partitioned_queue("big", "10000", "100000")
        .await?;
    let info = conn
        .list_queues()
        .await?
        .into_iter()
        .find(|q| q.queue_name == "big")
        .expect("listed");
    assert!(info.is_partitioned);
    let txn = conn.begin().await?;
    let id = txn.send("big", &json!({"n": 1})).await?;
    txn.commit().await?;
    let got = conn.read::<Value>("big", VT, batch(1)).await?;
    assert_eq!(got[0].msg_id, id);
    assert!(conn.archive("big", id).await?);
    let m = conn.metrics("big").await?;
    assert_eq!(m.queue_length, 0);
    assert_eq!(m.total_messages, 1);
    Ok(())
}

#[tokio::test]
async fn archive_of_a_plain_queue_converts_to_partitioned() -> R {
    let (db, conn) = setup("jobs").await?;
    if !db.optional_extension(
        "pg_partman",
        "archive_of_a_plain_queue_converts_to_partitioned",
    ) {
        return Ok(());
    }
    let q = QueueName::from_static("jobs");
    conn.execute(&query::convert_archive_partitioned(
        &q, "10000", "100000", 10,
    ))
    .await?;
    let kind = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                WHERE n.nspname = 'pgmq' AND c.relname = 'a_jobs' AND c.relkind = 'p'";
    assert_eq!(scalar_i64(&conn, kind).await, 1);
    let id = conn.send("jobs", &1).await?;
    assert!(conn.archive("jobs", id).await?);
    assert_eq!(
        scalar_i64(&conn, "SELECT count(*) FROM pgmq.a_jobs").await,
        1
    );
    // detach_archive is a no-op kept by pgmq for compatibility: it must still run.
    conn.execute(&query::detach_archive(&q)).await?;
    Ok(())
}

#[tokio::test]
async fn unlogged_queue_through_the_ext_and_the_typed_handle() -> R {
    let (_db, conn) = setup("plain").await?;
    let txn = conn.begin().await?;
    txn.create_unlogged_queue("fast").await?;
    txn.rollback().await?;
    assert!(
        !conn
            .list_queues()
            .await?
            .iter()
            .any(|q| q.queue_name == "fast")
    );

    let fast: Queue<i32> = Queue::new("fast")?;
    let txn = conn.begin().await?;
    fast.create_unlogged(&txn).await?;
    fast.send(&txn, &5).await?;
    txn.commit().await?;
    let info = conn
        .list_queues()
        .await?
        .into_iter()
        .find(|q| q.queue_name == "fast")
        .expect("listed");
    assert!(info.is_unlogged);
    assert_eq!(fast.pop(&conn, batch(1)).await?[0].message, 5);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Task {
    n: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskHeaders {
    #[serde(rename = "x-pgmq-group")]
    group: String,
}

#[tokio::test]
async fn typed_queue_grouped_reads_and_batches_with_headers() -> R {
    let (_db, conn) = setup("plain").await?;
    let tasks: Queue<Task, TaskHeaders> = Queue::new("tasks")?;
    tasks.create(&conn).await?;
    let h = |g: &str| TaskHeaders { group: g.into() };
    let txn = conn.begin().await?;
    tasks
        .send_batch_with(
            &txn,
            &[Task { n: 1 }, Task { n: 2 }, Task { n: 3 }],
            Some(&[h("a"), h("a"), h("b")]),
            NO_DELAY,
        )
        .await?;
    txn.rollback().await?;
    assert_eq!(tasks.metrics(&conn).await?.queue_length, 0);

    tasks
        .send_batch_with(
            &conn,
            &[Task { n: 1 }, Task { n: 2 }, Task { n: 3 }],
            Some(&[h("a"), h("a"), h("b")]),
            NO_DELAY,
        )
        .await?;
    let rr = tasks
        .read_grouped_rr(&conn, VisibilityTimeout::Seconds(0), batch(2))
        .await?;
    assert_eq!(rr.iter().map(|m| m.message.n).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(rr[1].headers, Some(h("b")));
    let fifo = tasks.read_grouped(&conn, VT, batch(2)).await?;
    assert_eq!(fifo.iter().map(|m| m.message.n).collect::<Vec<_>>(), [1, 2]);

    let err = tasks
        .send_batch_with(&conn, &[Task { n: 4 }], Some(&[]), NO_DELAY)
        .await
        .expect_err("header count");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    Ok(())
}

#[tokio::test]
async fn pgmq_version_reports_the_installed_version() -> R {
    let (_db, conn) = setup("plain").await?;
    let v = conn.pgmq_version().await?;
    assert!(v >= MIN_PGMQ_VERSION, "{v}");
    let txn = conn.begin().await?;
    assert_eq!(txn.pgmq_version().await?, v);
    txn.commit().await?;
    Ok(())
}

#[tokio::test]
async fn pgmq_version_without_pgmq_is_pgmq_missing() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute_unprepared("DROP EXTENSION IF EXISTS pgmq CASCADE")
        .await?;
    conn.execute_unprepared("DROP SCHEMA IF EXISTS pgmq CASCADE")
        .await?;
    let err = conn.pgmq_version().await.expect_err("no pgmq");
    assert_eq!(err.kind(), ErrorKind::PgmqMissing, "{err:?}");
    Ok(())
}
