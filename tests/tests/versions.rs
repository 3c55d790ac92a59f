//! Every operation of both crates on every pgmq version they claim (issue 16, points 9
//! and 10): each version is installed for real ([`TestDb::with_pgmq_version`]), and the
//! same operations run through diesel-pgmq (sync and async) and sea-orm-pgmq. Functions
//! a version lacks fail with a typed [`Error::PgmqTooOld`] naming the function, the
//! installed and the needed version.

use std::time::Duration;

use pgmq_harness::{PgmqVersions, TestDb};
use pgmq_orm_core::{
    BatchSize, Delay, Error, ErrorKind, PgmqVersion, PollOptions, VisibilityTimeout,
};
use serde_json::{Value, json};

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

fn versions() -> Vec<String> {
    pgmq_harness::pgmq_versions()
}

/// The function-level gate: `Ok` where `version` has the function, else the typed error.
fn expect_gate<T: std::fmt::Debug>(
    r: Result<T, Error>,
    version: PgmqVersion,
    function: &str,
    since: PgmqVersion,
) -> Option<T> {
    if version >= since {
        Some(r.unwrap_or_else(|e| panic!("pgmq {version}: {function}: {e}")))
    } else {
        let e = r.expect_err(function);
        assert_eq!(
            e.kind(),
            ErrorKind::PgmqTooOld,
            "pgmq {version}: {function}: {e}"
        );
        let text = e.to_string();
        for part in [function.to_owned(), version.to_string(), since.to_string()] {
            assert!(text.contains(&part), "{text:?} does not name {part}");
        }
        None
    }
}

/// The operations, written once for both crates: `$($aw)*` is `.await` or nothing.
macro_rules! exercise {
    ($conn:expr, $version:expr, $partman:expr, $($aw:tt)*) => {{
        let v: PgmqVersion = $version;
        let partman: bool = $partman;
        let ctx = |op: &str| format!("pgmq {v}: {op}");
        $conn.create_queue("jobs")$($aw)*.expect(&ctx("create"));
        $conn.create_unlogged_queue("fast")$($aw)*.expect(&ctx("create_unlogged"));
        if partman {
            $conn.create_partitioned_queue("big", "10000", "100000")$($aw)*.expect(&ctx("create_partitioned"));
        }
        let id = $conn.send("jobs", &json!({"n": 1}))$($aw)*.expect(&ctx("send"));
        $conn
            .send_with("jobs", &json!({"n": 2}), Some(&json!({"x-pgmq-group": "g"})), Delay::Seconds(0))$($aw)*
            .expect(&ctx("send_with"));
        let ids = $conn.send_batch("jobs", &[json!(3), json!(4)])$($aw)*.expect(&ctx("send_batch"));
        assert_eq!(ids.len(), 2);
        if partman {
            $conn.send("big", &json!("p"))$($aw)*.expect(&ctx("send partitioned"));
        }

        let m = $conn.metrics("jobs")$($aw)*.expect(&ctx("metrics"));
        assert_eq!((m.queue_name.as_str(), m.queue_length, m.total_messages), ("jobs", 4, 4));
        assert_eq!(m.default_partition_length, None);
        if partman {
            let big = $conn.metrics("big")$($aw)*.expect(&ctx("metrics partitioned"));
            assert_eq!(big.queue_length, 1);
            // Only pgmq 1.13 reports default partitions.
            assert_eq!(big.default_partition_length.is_some(), v >= PgmqVersion::new(1, 13, 0), "{}", ctx("default_partition_length"));
        }
        let queues_made = if partman { 3 } else { 2 };
        let all = $conn.metrics_all()$($aw)*.expect(&ctx("metrics_all"));
        assert_eq!(all.len(), queues_made);
        let queues = $conn.list_queues()$($aw)*.expect(&ctx("list_queues"));
        assert_eq!(queues.len(), queues_made);

        let read = $conn.read::<Value>("jobs", VT, BatchSize::ONE)$($aw)*.expect(&ctx("read"));
        assert_eq!(read[0].msg_id, id);
        assert_eq!(read[0].read_ct, 1);
        assert!(read[0].last_read_at.is_some(), "{}", ctx("last_read_at"));
        let moved = $conn.set_vt::<Value>("jobs", id, VisibilityTimeout::Seconds(0))$($aw)*.expect(&ctx("set_vt"));
        assert_eq!(moved.map(|m| m.msg_id), Some(id));
        let _ = $conn.set_vt_batch::<Value>("jobs", &[id], VisibilityTimeout::Seconds(0))$($aw)*.expect(&ctx("set_vt_batch"));
        let _ = $conn.read_conditional::<Value, _>("jobs", VT, BatchSize::ONE, &json!({"n": 1}))$($aw)*.expect(&ctx("read_conditional"));
        let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(10));
        let _ = $conn.read_with_poll::<Value>("jobs", VT, BatchSize::ONE, poll)$($aw)*.expect(&ctx("read_with_poll"));
        let _ = $conn.read_with_poll_conditional::<Value, _>("jobs", VT, BatchSize::ONE, poll, &json!({}))$($aw)*.expect(&ctx("read_with_poll_conditional"));
        assert!($conn.archive("jobs", id)$($aw)*.expect(&ctx("archive")));
        $conn.archive_batch("jobs", &[ids[0]])$($aw)*.expect(&ctx("archive_batch"));
        $conn.delete("jobs", ids[1])$($aw)*.expect(&ctx("delete"));
        $conn.delete_batch("jobs", &[ids[1]])$($aw)*.expect(&ctx("delete_batch"));
        $conn.send_batch("fast", &[json!(1), json!(2), json!(3)])$($aw)*.expect(&ctx("send_batch unlogged"));
        let popped = $conn.pop::<Value>("fast", BatchSize::ONE)$($aw)*.expect(&ctx("pop"));
        assert_eq!(popped.len(), 1);
        assert_eq!($conn.purge_queue("fast")$($aw)*.expect(&ctx("purge")), 2);

        $conn.create_fifo_index("jobs")$($aw)*.expect(&ctx("create_fifo_index"));
        $conn.create_fifo_indexes_all()$($aw)*.expect(&ctx("create_fifo_indexes_all"));
        let _ = $conn.read_grouped::<Value>("jobs", VisibilityTimeout::Seconds(0), BatchSize::ONE)$($aw)*.expect(&ctx("read_grouped"));
        let _ = $conn.read_grouped_rr::<Value>("jobs", VisibilityTimeout::Seconds(0), BatchSize::ONE)$($aw)*.expect(&ctx("read_grouped_rr"));
        let _ = $conn.read_grouped_with_poll::<Value>("jobs", VisibilityTimeout::Seconds(0), BatchSize::ONE, poll)$($aw)*.expect(&ctx("read_grouped_with_poll"));
        let _ = $conn.read_grouped_rr_with_poll::<Value>("jobs", VisibilityTimeout::Seconds(0), BatchSize::ONE, poll)$($aw)*.expect(&ctx("read_grouped_rr_with_poll"));
        let _ = $conn.read_grouped_head::<Value>("jobs", VisibilityTimeout::Seconds(0), BatchSize::ONE)$($aw)*.expect(&ctx("read_grouped_head"));
        let r = $conn.read_grouped_head_with_poll::<Value>("jobs", VisibilityTimeout::Seconds(0), BatchSize::ONE, poll)$($aw)*;
        expect_gate(r, v, "pgmq.read_grouped_head_with_poll", PgmqVersion::new(1, 12, 0));

        $conn.enable_notify_insert("jobs", Duration::from_millis(100))$($aw)*.expect(&ctx("enable_notify_insert"));
        $conn.update_notify_insert("jobs", Duration::from_millis(200))$($aw)*.expect(&ctx("update_notify_insert"));
        let throttles = $conn.list_notify_insert_throttles()$($aw)*.expect(&ctx("list_notify_insert_throttles"));
        assert_eq!(throttles.len(), 1);
        $conn.disable_notify_insert("jobs")$($aw)*.expect(&ctx("disable_notify_insert"));

        $conn.bind_topic("orders.*", "jobs")$($aw)*.expect(&ctx("bind_topic"));
        assert_eq!($conn.send_topic::<_, Value>("orders.new", &json!(1), None, Delay::Seconds(0))$($aw)*.expect(&ctx("send_topic")), 1);
        let sent = $conn.send_batch_topic::<_, Value>("orders.new", &[json!(1)], None, Delay::Seconds(0))$($aw)*.expect(&ctx("send_batch_topic"));
        assert_eq!(sent.len(), 1);
        assert_eq!($conn.list_topic_bindings()$($aw)*.expect(&ctx("list_topic_bindings")).len(), 1);
        assert_eq!($conn.list_topic_bindings_for("jobs")$($aw)*.expect(&ctx("list_topic_bindings_for")).len(), 1);
        assert_eq!($conn.test_routing("orders.new")$($aw)*.expect(&ctx("test_routing")).len(), 1);
        assert!($conn.unbind_topic("orders.*", "jobs")$($aw)*.expect(&ctx("unbind_topic")));

        assert_eq!($conn.pgmq_version()$($aw)*.expect(&ctx("pgmq_version")), v);
        assert!($conn.drop_queue("fast")$($aw)*.expect(&ctx("drop_queue")));
    }};
}

/// Whether pg_partman is there for the partitioned-queue calls (an optional extension:
/// a reported skip of those calls without it, a failure where CI requires it).
fn with_partman(db: &TestDb, test: &str) -> bool {
    db.optional_extension("pg_partman", test)
}

#[test]
fn diesel_sync_every_operation_on_every_claimed_pgmq_version() {
    use diesel::{Connection, PgConnection};
    use diesel_pgmq::PgmqConnectionExt;
    for version in versions() {
        let db = TestDb::with_pgmq_version(&version);
        let partman = with_partman(&db, "versions: diesel sync partitioned queue");
        let mut conn = PgConnection::establish(db.url()).unwrap();
        exercise!(conn, version.parse().unwrap(), partman,);
        let jobs = diesel_pgmq::Queue::<Value>::new("jobs").unwrap();
        let m: diesel_pgmq::query::MetricsRow =
            diesel::RunQueryDsl::get_result(jobs.metrics(), &mut conn).unwrap();
        assert_eq!(
            (m.queue_name.as_str(), m.default_partition_length),
            ("jobs", None)
        );
        let read = jobs
            .read(VT, BatchSize::new(10).unwrap())
            .run(&mut conn)
            .unwrap();
        assert_eq!(read.len() as i64, m.queue_visible_length);
    }
}

#[tokio::test]
async fn diesel_async_every_operation_on_every_claimed_pgmq_version() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use diesel_pgmq::PgmqAsyncConnectionExt;
    for version in versions() {
        let db = TestDb::with_pgmq_version(&version);
        let partman = with_partman(&db, "versions: diesel-async partitioned queue");
        let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
        exercise!(conn, version.parse().unwrap(), partman, .await);
    }
}

#[tokio::test]
async fn seaorm_every_operation_on_every_claimed_pgmq_version() {
    use sea_orm_pgmq::PgmqConnectionExt;
    for version in versions() {
        let db = TestDb::with_pgmq_version(&version);
        let partman = with_partman(&db, "versions: sea-orm partitioned queue");
        let conn = sea_orm::Database::connect(db.url()).await.unwrap();
        let v: PgmqVersion = version.parse().unwrap();
        exercise!(conn, v, partman, .await);
        let jobs = sea_orm_pgmq::Queue::<Value>::new("jobs").unwrap();
        let m = jobs.metrics(&conn).await.unwrap();
        assert_eq!(
            (m.queue_name.as_str(), m.default_partition_length),
            ("jobs", None)
        );
        // `premake` is an argument since pgmq 1.13 only.
        let q = sea_orm_pgmq::QueueName::new("premade").unwrap();
        let stmt = sea_orm::sea_query::Query::select()
            .expr(sea_orm_pgmq::functions::create_partitioned(
                &q, "10000", "100000", 2,
            ))
            .to_owned();
        let r = sea_orm::ConnectionTrait::execute(&conn, &stmt)
            .await
            .map_err(sea_orm_pgmq::into_pgmq_error);
        // Run by hand, the statement's error is classified without the version lookup.
        if v < PgmqVersion::new(1, 13, 0) {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::PgmqMissing);
        } else if partman {
            r.unwrap();
        }
    }
}
