//! Every pgmq operation through `PgmqConnectionExt`, the `query` statements, the typed
//! `Queue` handle and the `functions` expressions, on sync Diesel against real pgmq.
#![cfg(feature = "sync")]

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_pgmq::{
    BatchSize, Delay, Error, ErrorKind, PgmqConnectionExt, PollOptions, Queue, QueueName,
    VisibilityTimeout, functions, query,
};
use pgmq_harness::TestDb;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type R = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderCreated {
    order_id: i64,
}

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

fn setup() -> (TestDb, PgConnection) {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.create_queue("orders").unwrap();
    (db, conn)
}

fn batch(n: usize) -> BatchSize {
    BatchSize::new(n).unwrap()
}

fn queue_len(conn: &mut PgConnection) -> i64 {
    conn.metrics("orders").unwrap().queue_length
}

#[test]
fn send_then_read_returns_the_typed_payload_and_hides_it() -> R {
    let (_db, mut conn) = setup();
    let id = conn.send("orders", &OrderCreated { order_id: 7 })?;
    let msgs = conn.read::<OrderCreated>("orders", VT, batch(10))?;
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].msg_id, msgs[0].read_ct), (id, 1));
    assert_eq!(msgs[0].message, OrderCreated { order_id: 7 });
    assert!(msgs[0].last_read_at.is_some());
    assert!(
        conn.read::<OrderCreated>("orders", VT, batch(10))?
            .is_empty()
    );
    Ok(())
}

#[test]
fn send_with_headers_round_trips_them() -> R {
    let (_db, mut conn) = setup();
    let h = json!({"trace": "abc"});
    conn.send_with("orders", &1, Some(&h), Delay::default())?;
    let m = conn
        .read::<i32>("orders", VT, batch(1))?
        .strict()?
        .remove(0);
    assert_eq!(m.headers, Some(h));
    Ok(())
}

#[test]
fn send_delay_in_seconds_and_as_timestamp_hides_until_due() -> R {
    let (_db, mut conn) = setup();
    let h = json!({"k": 1});
    let at = Utc::now() + chrono::Duration::hours(1);
    // All four delayed overloads: (no headers | headers) x (seconds | timestamp).
    conn.send_with::<_, Value>("orders", &1, None, Delay::Seconds(3600))?;
    conn.send_with::<_, Value>("orders", &2, None, Delay::Until(at))?;
    conn.send_with("orders", &3, Some(&h), Delay::Seconds(3600))?;
    conn.send_with("orders", &4, Some(&h), Delay::Until(at))?;
    assert!(conn.read::<i32>("orders", VT, batch(10))?.is_empty());
    assert_eq!(queue_len(&mut conn), 4);
    // A due delay is visible at once.
    conn.send_with::<_, Value>("orders", &5, None, Delay::Until(Utc::now()))?;
    let m = conn.read::<i32>("orders", VT, batch(10))?;
    assert_eq!(m.iter().map(|m| m.message).collect::<Vec<_>>(), [5]);
    Ok(())
}

#[test]
fn short_delay_becomes_visible_after_it_passes() -> R {
    let (_db, mut conn) = setup();
    conn.send_with::<_, Value>("orders", &1, None, Delay::Seconds(1))?;
    assert!(conn.read::<i32>("orders", VT, batch(1))?.is_empty());
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(conn.read::<i32>("orders", VT, batch(1))?.len(), 1);
    Ok(())
}

#[test]
fn send_batch_overloads_return_one_id_per_message() -> R {
    let (_db, mut conn) = setup();
    assert_eq!(conn.send_batch("orders", &[1, 2, 3])?, vec![1, 2, 3]);
    let hs = [json!({"a": 1}), json!({"a": 2})];
    let at = Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        conn.send_batch_with("orders", &[4, 5], Some(&hs), Delay::default())?
            .len(),
        2
    );
    assert_eq!(
        conn.send_batch_with::<_, Value>("orders", &[6], None, Delay::Seconds(3600))?
            .len(),
        1
    );
    assert_eq!(
        conn.send_batch_with::<_, Value>("orders", &[7], None, Delay::Until(at))?
            .len(),
        1
    );
    assert_eq!(
        conn.send_batch_with("orders", &[8], Some(&hs[..1]), Delay::Seconds(3600))?
            .len(),
        1
    );
    assert_eq!(
        conn.send_batch_with("orders", &[9], Some(&hs[..1]), Delay::Until(at))?
            .len(),
        1
    );
    let visible = conn.read::<i32>("orders", VT, batch(100))?;
    assert_eq!(
        visible.iter().map(|m| m.message).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(visible[4].headers, Some(json!({"a": 2})));
    assert_eq!(queue_len(&mut conn), 9);
    Ok(())
}

#[test]
fn mismatched_batch_headers_are_refused_before_sql() {
    let (_db, mut conn) = setup();
    let e = conn
        .send_batch_with("orders", &[1, 2], Some(&[json!({})]), Delay::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(queue_len(&mut conn), 0);
}

#[test]
fn empty_batches_send_nothing_and_return_no_ids() -> R {
    let (_db, mut conn) = setup();
    conn.bind_topic("orders.*", "orders")?;
    assert!(conn.send_batch::<i32>("orders", &[])?.is_empty());
    let at = Delay::Until(Utc::now());
    assert!(
        conn.send_batch_with::<i32, Value>("orders", &[], None, at)?
            .is_empty()
    );
    assert!(
        conn.send_batch_topic::<i32, Value>("orders.created", &[], None, Delay::default())?
            .is_empty()
    );
    // No SQL runs, so even a queue that does not exist is fine; a bad name is not.
    assert!(conn.send_batch::<i32>("nosuch", &[])?.is_empty());
    let e = conn.send_batch::<i32>("Bad-Name", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidQueueName);
    // The statements and the typed handle: a statement that returns no rows.
    let q = "orders".parse()?;
    let ids: Vec<i64> = query::send_batch::<i32>(&q, &[])?.load(&mut conn)?;
    assert!(ids.is_empty());
    let sent: Vec<query::TopicMessageIdRow> =
        query::send_batch_topic::<i32, Value>("orders.created", &[], None, Delay::default())?
            .load(&mut conn)?;
    assert!(sent.is_empty());
    let orders: Queue<OrderCreated> = Queue::new("orders")?;
    let ids: Vec<i64> = orders.send_batch(&[])?.load(&mut conn)?;
    assert!(ids.is_empty());
    assert_eq!(queue_len(&mut conn), 0);
    Ok(())
}

#[test]
fn empty_id_lists_touch_nothing() -> R {
    let (_db, mut conn) = setup();
    let id = conn.send("orders", &1)?;
    assert!(conn.delete_batch("orders", &[])?.is_empty());
    assert!(conn.archive_batch("orders", &[])?.is_empty());
    assert!(
        conn.set_vt_batch::<i32>("orders", &[], VisibilityTimeout::Seconds(3600))?
            .is_empty()
    );
    assert_eq!(conn.read::<i32>("orders", VT, batch(10))?[0].msg_id, id);
    Ok(())
}

#[test]
fn read_respects_batch_size() -> R {
    let (_db, mut conn) = setup();
    conn.send_batch("orders", &(0..5).collect::<Vec<i32>>())?;
    assert_eq!(conn.read::<i32>("orders", VT, batch(2))?.len(), 2);
    assert_eq!(conn.read::<i32>("orders", VT, batch(10))?.len(), 3);
    Ok(())
}

#[test]
fn conditional_read_filters_by_payload() -> R {
    let (_db, mut conn) = setup();
    conn.send_batch("orders", &[json!({"kind": "a"}), json!({"kind": "b"})])?;
    let stmt = query::read_conditional(&"orders".parse()?, VT, batch(10), &json!({"kind": "b"}))?;
    let rows: Vec<query::MessageRow> = stmt.load(&mut conn)?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message.to_value()?, json!({"kind": "b"}));
    Ok(())
}

#[test]
fn conditional_read_returns_only_matching_messages() -> R {
    let (_db, mut conn) = setup();
    let ids = conn.send_batch(
        "orders",
        &[
            json!({"kind": "a", "n": 1}),
            json!({"kind": "b", "n": 2}),
            json!({"kind": "a", "n": 3}),
        ],
    )?;
    let a = conn.read_conditional::<Value, _>("orders", VT, batch(10), &json!({"kind": "a"}))?;
    assert_eq!(
        a.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    assert!(a.iter().all(|m| m.message["kind"] == "a"));
    // The non-matching message was left visible.
    let rest = conn.read::<Value>("orders", VT, batch(10))?;
    assert_eq!(rest.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [ids[1]]);
    Ok(())
}

#[test]
fn conditional_poll_waits_for_a_matching_message() -> R {
    let (db, mut conn) = setup();
    conn.send("orders", &json!({"kind": "b"}))?;
    let url = db.url().to_owned();
    let sender = std::thread::spawn(move || -> Result<i64, Error> {
        let mut other = PgConnection::establish(&url).expect("second connection");
        std::thread::sleep(Duration::from_millis(300));
        other.send("orders", &json!({"kind": "a"}))
    });
    let poll = PollOptions::new(Duration::from_secs(10), Duration::from_millis(20));
    let got = conn.read_with_poll_conditional::<Value, _>(
        "orders",
        VT,
        batch(10),
        poll,
        &json!({"kind": "a"}),
    )?;
    let sent = sender.join().expect("sender thread")?;
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [sent]);
    assert_eq!(got[0].message, json!({"kind": "a"}));
    Ok(())
}

#[test]
fn read_with_poll_returns_empty_after_about_max_wait() -> R {
    let (_db, mut conn) = setup();
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(50));
    let start = Instant::now();
    let msgs = conn.read_with_poll::<i32>("orders", VT, batch(1), poll)?;
    let waited = start.elapsed();
    assert!(msgs.is_empty());
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    Ok(())
}

#[test]
fn read_with_poll_returns_a_waiting_message_at_once() -> R {
    let (_db, mut conn) = setup();
    conn.send("orders", &1)?;
    let poll = PollOptions::new(Duration::from_secs(5), Duration::from_millis(50));
    let start = Instant::now();
    assert_eq!(
        conn.read_with_poll::<i32>("orders", VT, batch(1), poll)?
            .len(),
        1
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    Ok(())
}

#[test]
fn pop_reads_and_deletes() -> R {
    let (_db, mut conn) = setup();
    conn.send_batch("orders", &[1, 2])?;
    let popped = conn.pop::<i32>("orders", batch(1))?;
    assert_eq!(popped[0].message, 1);
    assert_eq!(queue_len(&mut conn), 1);
    Ok(())
}

#[test]
fn set_vt_extends_and_shortens_visibility() -> R {
    let (_db, mut conn) = setup();
    let id = conn.send("orders", &1)?;
    let _ = conn.read::<i32>("orders", VisibilityTimeout::Seconds(3600), batch(1))?;
    // Seconds overload: make it visible now.
    let m = conn
        .set_vt::<i32>("orders", id, VisibilityTimeout::Seconds(0))?
        .unwrap();
    assert!(m.vt <= Utc::now() + chrono::Duration::seconds(1));
    assert_eq!(conn.read::<i32>("orders", VT, batch(1))?.len(), 1);
    // Timestamp overload: extend the lease an hour.
    let until = Utc::now() + chrono::Duration::hours(1);
    let m = conn
        .set_vt::<i32>("orders", id, VisibilityTimeout::Until(until))?
        .unwrap();
    assert!((m.vt - until).num_milliseconds().abs() < 5);
    assert!(conn.read::<i32>("orders", VT, batch(1))?.is_empty());
    assert!(conn.set_vt::<i32>("orders", 999, VT)?.is_none());
    Ok(())
}

#[test]
fn set_vt_batch_overloads_update_every_message() -> R {
    let (_db, mut conn) = setup();
    let q = "orders".parse()?;
    let ids = conn.send_batch("orders", &[1, 2])?;
    let rows: Vec<query::MessageRow> =
        query::set_vt_batch(&q, &ids, VisibilityTimeout::Seconds(3600)).load(&mut conn)?;
    assert_eq!(rows.len(), 2);
    assert!(conn.read::<i32>("orders", VT, batch(10))?.is_empty());
    let rows: Vec<query::MessageRow> =
        query::set_vt_batch(&q, &ids, VisibilityTimeout::Until(Utc::now())).load(&mut conn)?;
    assert_eq!(rows.len(), 2);
    assert_eq!(conn.read::<i32>("orders", VT, batch(10))?.len(), 2);
    Ok(())
}

#[test]
fn set_vt_batch_moves_every_id_and_returns_them() -> R {
    let (_db, mut conn) = setup();
    let ids = conn.send_batch("orders", &[1, 2, 3])?;
    let hour = Utc::now() + chrono::Duration::minutes(59);
    let moved = conn.set_vt_batch::<i32>("orders", &ids[..2], VisibilityTimeout::Seconds(3600))?;
    let mut moved_ids: Vec<i64> = moved.iter().map(|m| m.msg_id).collect();
    moved_ids.sort_unstable();
    assert_eq!(moved_ids, ids[..2]);
    assert!(moved.iter().all(|m| m.vt > hour));
    let visible = conn.read::<i32>("orders", VisibilityTimeout::Seconds(0), batch(10))?;
    assert_eq!(
        visible.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [ids[2]]
    );
    // The timestamp overload brings them back, typed; a missing id is skipped.
    let back = conn.set_vt_batch::<i32>(
        "orders",
        &[ids[0], ids[1], 999],
        VisibilityTimeout::Until(Utc::now()),
    )?;
    let mut payloads: Vec<i32> = back.iter().map(|m| m.message).collect();
    payloads.sort_unstable();
    assert_eq!(payloads, [1, 2]);
    assert_eq!(conn.read::<i32>("orders", VT, batch(10))?.len(), 3);
    Ok(())
}

#[test]
fn delete_and_archive_one_and_many() -> R {
    let (_db, mut conn) = setup();
    let ids = conn.send_batch("orders", &[1, 2, 3, 4, 5, 6])?;
    assert!(conn.delete("orders", ids[0])?);
    assert!(!conn.delete("orders", ids[0])?);
    assert_eq!(conn.delete_batch("orders", &ids[1..3])?, ids[1..3]);
    assert!(conn.archive("orders", ids[3])?);
    assert_eq!(
        conn.archive_batch("orders", &[ids[4], ids[5], 999])?,
        ids[4..6]
    );
    assert_eq!(queue_len(&mut conn), 0);
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let archived: N =
        diesel::sql_query("SELECT count(*) AS n FROM pgmq.a_orders").get_result(&mut conn)?;
    assert_eq!(archived.n, 3);
    Ok(())
}

#[test]
fn purge_drop_and_list_queues() -> R {
    let (_db, mut conn) = setup();
    conn.create_unlogged_queue("scratch")?;
    let mut names: Vec<_> = conn
        .list_queues()?
        .into_iter()
        .map(|q| (q.queue_name, q.is_unlogged))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [("orders".to_owned(), false), ("scratch".to_owned(), true)]
    );
    conn.send_batch("orders", &[1, 2])?;
    assert_eq!(conn.purge_queue("orders")?, 2);
    assert!(conn.drop_queue("scratch")?);
    assert_eq!(conn.list_queues()?.len(), 1);
    diesel::RunQueryDsl::execute(query::detach_archive(&"orders".parse()?), &mut conn)?;
    Ok(())
}

#[test]
fn metrics_count_visible_and_total_messages() -> R {
    let (_db, mut conn) = setup();
    conn.create_queue("other")?;
    conn.send_batch("orders", &[1, 2, 3])?;
    let _ = conn.read::<i32>("orders", VT, batch(1))?;
    let m = conn.metrics("orders")?;
    assert_eq!(
        (
            m.queue_name.as_str(),
            m.queue_length,
            m.queue_visible_length,
            m.total_messages
        ),
        ("orders", 3, 2, 3)
    );
    assert!(m.oldest_msg_age_sec.is_some());
    let all = conn.metrics_all()?;
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .any(|m| m.queue_name == "other" && m.queue_length == 0)
    );
    Ok(())
}

#[test]
fn decode_error_keeps_the_message_in_the_queue() -> R {
    let (_db, mut conn) = setup();
    let id = conn.send("orders", &json!({"order_id": "not a number"}))?;
    let (read, mut bad) = conn
        .read::<OrderCreated>("orders", VisibilityTimeout::Seconds(0), batch(1))?
        .into_parts();
    assert!(read.is_empty());
    let e = bad.remove(0);
    assert_eq!(e.msg_id, id);
    assert_eq!(e.message.to_value()?, json!({"order_id": "not a number"}));
    assert_eq!(queue_len(&mut conn), 1);
    let again = conn.read::<Value>("orders", VT, batch(1))?;
    assert_eq!((again[0].msg_id, again[0].read_ct), (id, 2));
    Ok(())
}

#[test]
fn missing_queue_and_invalid_name_map_to_their_kinds() {
    let (_db, mut conn) = setup();
    let e = conn.send("nosuch", &1).unwrap_err();
    assert!(
        matches!(e, Error::QueueMissing { ref queue, .. } if queue == "nosuch"),
        "{e}"
    );
    let e = conn.read::<i32>("Bad-Name", VT, batch(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidQueueName);
}

#[test]
fn grouped_reads_keep_fifo_within_a_group() -> R {
    let (_db, mut conn) = setup();
    conn.create_fifo_index("orders")?;
    let g = |g: &str| json!({"x-pgmq-group": g});
    for (n, grp) in [(1, "a"), (2, "b"), (3, "a"), (4, "b"), (5, "a")] {
        conn.send_with("orders", &n, Some(&g(grp)), Delay::default())?;
    }
    // read_grouped fills from the oldest group first, in order.
    let first = conn.read_grouped::<i32>("orders", VT, batch(2))?;
    assert_eq!(first.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 3]);
    // Group a is now in flight, so only b may be read, again in order.
    let next = conn.read_grouped::<i32>("orders", VT, batch(10))?;
    assert_eq!(next.iter().map(|m| m.message).collect::<Vec<_>>(), [2, 4]);
    Ok(())
}

#[test]
fn round_robin_interleaves_groups_in_order() -> R {
    let (_db, mut conn) = setup();
    let g = |g: &str| json!({"x-pgmq-group": g});
    for (n, grp) in [(1, "a"), (2, "a"), (3, "b"), (4, "b")] {
        conn.send_with("orders", &n, Some(&g(grp)), Delay::default())?;
    }
    let msgs = conn.read_grouped_rr::<i32>("orders", VT, batch(4))?;
    assert_eq!(
        msgs.iter().map(|m| m.message).collect::<Vec<_>>(),
        [1, 3, 2, 4]
    );
    Ok(())
}

#[test]
fn grouped_head_and_polling_forms() -> R {
    let (_db, mut conn) = setup();
    let g = json!({"x-pgmq-group": "a"});
    conn.send_batch_with("orders", &[1, 2], Some(&[g.clone(), g]), Delay::default())?;
    let head = conn.read_grouped_head::<i32>("orders", VisibilityTimeout::Seconds(0), batch(10))?;
    assert_eq!(head.iter().map(|m| m.message).collect::<Vec<_>>(), [1]);
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(50));
    let a = conn.read_grouped_with_poll::<i32>(
        "orders",
        VisibilityTimeout::Seconds(0),
        batch(1),
        poll,
    )?;
    assert_eq!(a[0].message, 1);
    let b = conn.read_grouped_rr_with_poll::<i32>("orders", VT, batch(1), poll)?;
    assert_eq!(b[0].message, 1);
    let rows: Vec<query::MessageRow> =
        query::read_grouped_head_with_poll(&"orders".parse()?, VT, batch(1), poll)
            .load(&mut conn)?;
    assert!(rows.is_empty(), "the group is in flight");
    Ok(())
}

#[test]
fn grouped_head_with_poll_returns_one_head_per_group() -> R {
    let (_db, mut conn) = setup();
    let g = |g: &str| json!({"x-pgmq-group": g});
    for (n, grp) in [(1, "a"), (2, "b"), (3, "a"), (4, "c"), (5, "b")] {
        conn.send_with("orders", &n, Some(&g(grp)), Delay::default())?;
    }
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(20));
    let heads = conn.read_grouped_head_with_poll::<i32>("orders", VT, batch(10), poll)?;
    let mut got: Vec<i32> = heads.iter().map(|m| m.message).collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2, 4]);
    // Every group's head is in flight now, so the poll ends empty.
    let poll = PollOptions::new(Duration::from_millis(200), Duration::from_millis(20));
    assert!(
        conn.read_grouped_head_with_poll::<i32>("orders", VT, batch(10), poll)?
            .is_empty()
    );
    Ok(())
}

#[test]
fn create_fifo_indexes_all_indexes_every_existing_queue() -> R {
    let (_db, mut conn) = setup();
    conn.create_queue("payments")?;
    assert!(fifo_indexed_tables(&mut conn).is_empty());
    conn.create_fifo_indexes_all()?;
    assert_eq!(fifo_indexed_tables(&mut conn), ["q_orders", "q_payments"]);
    // Idempotent.
    conn.create_fifo_indexes_all()?;
    assert_eq!(fifo_indexed_tables(&mut conn).len(), 2);
    // The same call as a composable SQL function picks up a queue created since.
    conn.create_queue("refunds")?;
    diesel::select(functions::create_fifo_indexes_all()).execute(&mut conn)?;
    assert_eq!(
        fifo_indexed_tables(&mut conn),
        ["q_orders", "q_payments", "q_refunds"]
    );
    Ok(())
}

/// The pgmq tables that carry a FIFO index, per `pg_indexes`.
fn fifo_indexed_tables(conn: &mut PgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Text)]
        tablename: String,
    }
    diesel::sql_query(
        "SELECT tablename FROM pg_indexes WHERE schemaname = 'pgmq' \
         AND indexname LIKE '%fifo%' ORDER BY tablename",
    )
    .load::<T>(conn)
    .unwrap()
    .into_iter()
    .map(|t| t.tablename)
    .collect()
}

#[test]
fn topic_routing_binds_sends_and_unbinds() -> R {
    let (_db, mut conn) = setup();
    conn.create_queue("audit")?;
    conn.bind_topic("orders.*", "orders")?;
    conn.bind_topic("orders.#", "audit")?;
    let routes = conn.test_routing("orders.created")?;
    let mut queues: Vec<_> = routes.iter().map(|r| r.queue_name.as_str()).collect();
    queues.sort();
    assert_eq!(queues, ["audit", "orders"]);
    assert_eq!(conn.test_routing("orders.eu.created")?.len(), 1);
    assert_eq!(conn.list_topic_bindings()?.len(), 2);
    assert_eq!(
        conn.list_topic_bindings_for("audit")?[0].pattern,
        "orders.#"
    );

    let h = json!({"k": "v"});
    assert_eq!(
        conn.send_topic("orders.created", &1, Some(&h), Delay::default())?,
        2
    );
    assert_eq!(
        conn.send_topic::<_, Value>("orders.eu.created", &2, None, Delay::Seconds(3600))?,
        1
    );
    let sent =
        conn.send_batch_topic::<_, Value>("orders.created", &[3, 4], None, Delay::default())?;
    assert_eq!(sent.len(), 4);
    let hs = [json!({"n": 5})];
    let sent = conn.send_batch_topic("orders.x", &[5], Some(&hs), Delay::Seconds(0))?;
    assert_eq!(sent.len(), 2);
    let orders = conn.read::<i32>("orders", VT, batch(10))?;
    assert_eq!(
        orders.iter().map(|m| m.message).collect::<Vec<_>>(),
        [1, 3, 4, 5]
    );
    assert_eq!(orders[0].headers, Some(h));
    assert_eq!(conn.metrics("audit")?.queue_length, 5);

    assert!(conn.unbind_topic("orders.*", "orders")?);
    assert!(!conn.unbind_topic("orders.*", "orders")?);
    assert_eq!(
        conn.send_topic::<_, Value>("orders.created", &6, None, Delay::default())?,
        1
    );
    Ok(())
}

#[test]
fn notify_insert_enable_update_disable_show_in_throttles() -> R {
    let (_db, mut conn) = setup();
    conn.enable_notify_insert("orders", Duration::from_millis(250))?;
    let t = conn.list_notify_insert_throttles()?;
    assert_eq!(
        (t[0].queue_name.as_str(), t[0].throttle_interval_ms),
        ("orders", 250)
    );
    conn.update_notify_insert("orders", Duration::from_millis(1000))?;
    assert_eq!(
        conn.list_notify_insert_throttles()?[0].throttle_interval_ms,
        1000
    );
    conn.disable_notify_insert("orders")?;
    assert!(conn.list_notify_insert_throttles()?.is_empty());
    Ok(())
}

#[test]
fn notify_insert_delivers_a_notification_on_send() -> R {
    let (_db, mut conn) = setup();
    conn.enable_notify_insert("orders", Duration::ZERO)?;
    diesel::sql_query("LISTEN \"pgmq.q_orders.INSERT\"").execute(&mut conn)?;
    conn.send("orders", &1)?;
    let n = conn.notifications_iter().next().transpose()?;
    assert_eq!(
        n.map(|n| n.channel),
        Some("pgmq.q_orders.INSERT".to_owned())
    );
    Ok(())
}

#[test]
fn partitioned_queue_is_created_and_usable() -> R {
    let (db, mut conn) = setup();
    if !db.optional_extension("pg_partman", "partitioned_queue_is_created_and_usable") {
        return Ok(());
    }
    conn.create_partitioned_queue("big", "10000", "100000")?;
    let info = conn
        .list_queues()?
        .into_iter()
        .find(|q| q.queue_name == "big")
        .unwrap();
    assert!(info.is_partitioned);
    let id = conn.send("big", &1)?;
    assert_eq!(conn.read::<i32>("big", VT, batch(1))?[0].msg_id, id);
    assert!(conn.archive("big", id)?);
    Ok(())
}

#[test]
fn pgmq_version_reports_the_installed_version() -> R {
    let (_db, mut conn) = setup();
    let v = conn.pgmq_version()?;
    assert!(v >= diesel_pgmq::MIN_PGMQ_VERSION, "{v}");
    Ok(())
}

#[test]
fn pgmq_version_without_pgmq_is_pgmq_missing() -> R {
    let (_db, mut conn) = setup();
    // The template has pgmq; a fresh database from template0 does not.
    let name = format!("nopgmq_{}", std::process::id());
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE template0")).execute(&mut conn)?;
    let url = format!("{}/{}", conn_base(_db.url()), name);
    let result = PgConnection::establish(&url).map(|mut bare| bare.pgmq_version());
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn)?;
    assert_eq!(result?.unwrap_err().kind(), ErrorKind::PgmqMissing);
    Ok(())
}

fn conn_base(url: &str) -> &str {
    let path = url.rfind('/').unwrap();
    &url[..path]
}

#[test]
fn rollback_discards_sent_message() -> R {
    let (_db, mut conn) = setup();
    diesel::sql_query("CREATE TABLE orders (id bigint PRIMARY KEY)").execute(&mut conn)?;
    // An application error type that both Diesel's and pgmq's errors convert into.
    let r: Result<(), Box<dyn std::error::Error + Send + Sync>> = conn.transaction(|conn| {
        diesel::sql_query("INSERT INTO orders VALUES (1)").execute(conn)?;
        conn.send("orders", &OrderCreated { order_id: 1 })?;
        Err("abort".into())
    });
    assert!(r.is_err());
    assert_eq!(queue_len(&mut conn), 0);
    assert_eq!(count_orders(&mut conn), 0);
    Ok(())
}

#[test]
fn commit_keeps_sent_message_with_domain_write() -> R {
    let (_db, mut conn) = setup();
    diesel::sql_query("CREATE TABLE orders (id bigint PRIMARY KEY)").execute(&mut conn)?;
    conn.transaction(|conn| {
        diesel::sql_query("INSERT INTO orders VALUES (1)").execute(conn)?;
        conn.send("orders", &OrderCreated { order_id: 1 })?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .map_err(|e| e as Box<dyn std::error::Error>)?;
    assert_eq!(count_orders(&mut conn), 1);
    assert_eq!(
        conn.read::<OrderCreated>("orders", VT, batch(1))?[0]
            .message
            .order_id,
        1
    );
    Ok(())
}

fn count_orders(conn: &mut PgConnection) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM public.orders")
        .get_result::<N>(conn)
        .unwrap()
        .n
}

#[test]
fn typed_queue_handle_sends_and_reads_its_type() -> R {
    let (_db, mut conn) = setup();
    let orders: Queue<OrderCreated> = Queue::new("orders")?;
    let id: i64 = orders
        .send(&OrderCreated { order_id: 3 })?
        .get_result(&mut conn)?;
    let got = orders.read(VT, batch(1)).run(&mut conn)?;
    assert_eq!((got[0].msg_id, got[0].message.order_id), (id, 3));
    let extended = orders
        .set_vt(id, VisibilityTimeout::Seconds(0))
        .run(&mut conn)?;
    assert_eq!(extended.len(), 1);
    assert!(orders.archive(id).get_result::<bool>(&mut conn)?);
    assert_eq!(
        orders.metrics().load::<query::MetricsRow>(&mut conn)?[0].queue_length,
        0
    );
    Ok(())
}

#[test]
fn statements_compose_inside_ctes_and_subqueries() -> R {
    let (_db, mut conn) = setup();
    // Raw function expressions compose with diesel::select and the rest of the DSL.
    let orders = QueueName::new("orders")?;
    let id: i64 =
        diesel::select(functions::send(&orders, json!({"n": 1}))).get_result(&mut conn)?;
    let id2: i64 = diesel::select(functions::send_headers_delay(
        &orders,
        json!({"n": 2}),
        Some(json!({"h": 1})),
        0,
    ))
    .get_result(&mut conn)?;
    assert_eq!((id, id2), (1, 2));
    let ids: Vec<i64> =
        diesel::select(functions::send_batch(&orders, vec![json!(3), json!(4)])).load(&mut conn)?;
    assert_eq!(ids, [3, 4]);
    // A batch delete driven by a subquery in a CTE, in one statement.
    #[derive(QueryableByName)]
    struct Deleted {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ok: bool,
    }
    let deleted: Vec<Deleted> = diesel::sql_query(
        "WITH old AS (SELECT msg_id FROM pgmq.q_orders WHERE msg_id <= $1) \
         SELECT pgmq.delete($2, msg_id) AS ok FROM old",
    )
    .bind::<BigInt, _>(2)
    .bind::<Text, _>("orders")
    .load(&mut conn)?;
    assert_eq!(deleted.iter().filter(|d| d.ok).count(), 2);
    assert!(diesel::select(functions::archive(&orders, 3_i64)).get_result::<bool>(&mut conn)?);
    assert_eq!(queue_len(&mut conn), 1);
    Ok(())
}

/// `?` works on Diesel queries and pgmq calls in one transaction closure, whichever of the
/// two error types it returns; a pgmq failure rolls the insert back and stays typed.
#[test]
fn a_transaction_closure_mixes_diesel_and_pgmq_calls_with_either_error_type() -> R {
    let (_db, mut conn) = setup();
    diesel::sql_query("CREATE TABLE shop (id int PRIMARY KEY)").execute(&mut conn)?;
    conn.transaction(|tx| {
        diesel::sql_query("INSERT INTO shop VALUES (1)").execute(tx)?;
        tx.send("orders", &1)?;
        Ok::<_, diesel::result::Error>(())
    })?;
    conn.transaction(|tx| {
        diesel::sql_query("INSERT INTO shop VALUES (2)").execute(tx)?;
        tx.send("orders", &2)?;
        Ok::<_, diesel_pgmq::Error>(())
    })?;
    let err = conn
        .transaction(|tx| {
            diesel::sql_query("INSERT INTO shop VALUES (3)").execute(tx)?;
            tx.send("no_such_queue", &3)?;
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap_err();
    assert_eq!(
        diesel_pgmq::Error::from(err).kind(),
        ErrorKind::QueueMissing
    );
    let rows: i64 = diesel::select(diesel::dsl::sql::<BigInt>("(SELECT count(*) FROM shop)"))
        .get_result(&mut conn)?;
    assert_eq!((rows, queue_len(&mut conn)), (2, 2));
    Ok(())
}
