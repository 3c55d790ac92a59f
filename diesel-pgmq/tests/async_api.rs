//! The same operations through `PgmqAsyncConnectionExt` on diesel-async (and bb8),
//! against real pgmq.
#![cfg(feature = "async")]

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_pgmq::{
    BatchSize, Delay, ErrorKind, PgmqAsyncConnectionExt, PollOptions, Queue, VisibilityTimeout,
    query,
};
use pgmq_harness::TestDb;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderCreated {
    order_id: i64,
}

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

async fn setup() -> (TestDb, AsyncPgConnection) {
    let db = TestDb::new();
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.create_queue("orders").await.unwrap();
    (db, conn)
}

fn batch(n: usize) -> BatchSize {
    BatchSize::new(n).unwrap()
}

#[tokio::test]
async fn send_read_delete_archive_round_trip() -> R {
    let (_db, mut conn) = setup().await;
    let id = conn.send("orders", &OrderCreated { order_id: 1 }).await?;
    let msgs = conn.read::<OrderCreated>("orders", VT, batch(5)).await?;
    assert_eq!((msgs[0].msg_id, msgs[0].message.order_id), (id, 1));
    assert!(conn.delete("orders", id).await?);
    let ids = conn.send_batch("orders", &[1, 2, 3]).await?;
    assert!(conn.archive("orders", ids[0]).await?);
    assert_eq!(conn.archive_batch("orders", &ids[1..2]).await?, ids[1..2]);
    assert_eq!(conn.delete_batch("orders", &ids[2..]).await?, ids[2..]);
    assert_eq!(conn.metrics("orders").await?.queue_length, 0);
    Ok(())
}

#[tokio::test]
async fn empty_batches_and_id_lists_do_nothing() -> R {
    let (_db, mut conn) = setup().await;
    let id = conn.send("orders", &1).await?;
    assert!(conn.send_batch::<i32>("orders", &[]).await?.is_empty());
    assert!(
        conn.send_batch_with::<i32, Value>("orders", &[], None, Delay::Seconds(5))
            .await?
            .is_empty()
    );
    assert!(
        conn.send_batch_topic::<i32, Value>("orders.x", &[], None, Delay::default())
            .await?
            .is_empty()
    );
    assert_eq!(
        conn.send_batch::<i32>("Bad-Name", &[])
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidQueueName
    );
    let orders: Queue<i32> = Queue::new("orders")?;
    let ids: Vec<i64> = orders.send_batch(&[])?.load(&mut conn).await?;
    assert!(ids.is_empty());
    assert!(conn.delete_batch("orders", &[]).await?.is_empty());
    assert!(conn.archive_batch("orders", &[]).await?.is_empty());
    assert!(
        conn.set_vt_batch::<i32>("orders", &[], VisibilityTimeout::Seconds(3600))
            .await?
            .is_empty()
    );
    let left = conn.read::<i32>("orders", VT, batch(10)).await?;
    assert_eq!(left.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [id]);
    Ok(())
}

#[tokio::test]
async fn conditional_reads_return_only_matching_messages() -> R {
    let (db, mut conn) = setup().await;
    let ids = conn
        .send_batch("orders", &[json!({"kind": "a"}), json!({"kind": "b"})])
        .await?;
    let filter = json!({"kind": "b"});
    let b = conn
        .read_conditional::<Value, _>("orders", VT, batch(10), &filter)
        .await?;
    assert_eq!(b.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [ids[1]]);
    // The polling form waits for a match sent by another connection meanwhile.
    let mut other = AsyncPgConnection::establish(db.url()).await?;
    let sender = async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other
            .send("orders", &json!({"kind": "b", "late": true}))
            .await
    };
    let poll = PollOptions::new(Duration::from_secs(10), Duration::from_millis(20));
    let (got, sent) = tokio::join!(
        conn.read_with_poll_conditional::<Value, _>("orders", VT, batch(10), poll, &filter),
        sender
    );
    let (got, sent) = (got?, sent?);
    assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [sent]);
    assert_eq!(got[0].message["late"], true);
    Ok(())
}

#[tokio::test]
async fn set_vt_batch_moves_every_id_and_returns_them() -> R {
    let (_db, mut conn) = setup().await;
    let ids = conn.send_batch("orders", &[1, 2, 3]).await?;
    let later = Utc::now() + chrono::Duration::minutes(59);
    let moved = conn
        .set_vt_batch::<i32>("orders", &ids[..2], VisibilityTimeout::Seconds(3600))
        .await?;
    let mut moved_ids: Vec<i64> = moved.iter().map(|m| m.msg_id).collect();
    moved_ids.sort_unstable();
    assert_eq!(moved_ids, ids[..2]);
    assert!(moved.iter().all(|m| m.vt > later));
    let visible = conn.read::<i32>("orders", VT, batch(10)).await?;
    assert_eq!(
        visible.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [ids[2]]
    );
    Ok(())
}

#[tokio::test]
async fn grouped_head_with_poll_and_fifo_indexes_on_every_queue() -> R {
    let (_db, mut conn) = setup().await;
    conn.create_queue("payments").await?;
    conn.create_fifo_indexes_all().await?;
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tablename: String,
    }
    let indexed: Vec<T> = diesel::sql_query(
        "SELECT tablename FROM pg_indexes WHERE schemaname = 'pgmq' \
         AND indexname LIKE '%fifo%' ORDER BY tablename",
    )
    .load(&mut conn)
    .await?;
    assert_eq!(
        indexed
            .iter()
            .map(|t| t.tablename.as_str())
            .collect::<Vec<_>>(),
        ["q_orders", "q_payments"]
    );

    for (n, g) in [(1, "a"), (2, "a"), (3, "b"), (4, "b")] {
        let h = json!({"x-pgmq-group": g});
        conn.send_with("orders", &n, Some(&h), Delay::default())
            .await?;
    }
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(20));
    let heads = conn
        .read_grouped_head_with_poll::<i32>("orders", VT, batch(10), poll)
        .await?;
    let mut got: Vec<i32> = heads.iter().map(|m| m.message).collect();
    got.sort_unstable();
    assert_eq!(got, [1, 3]);
    Ok(())
}

#[tokio::test]
async fn send_overloads_with_headers_and_delays() -> R {
    let (_db, mut conn) = setup().await;
    let h = json!({"x": 1});
    let at = Utc::now() + chrono::Duration::hours(1);
    conn.send_with("orders", &1, Some(&h), Delay::default())
        .await?;
    conn.send_with::<_, Value>("orders", &2, None, Delay::Seconds(3600))
        .await?;
    conn.send_with::<_, Value>("orders", &3, None, Delay::Until(at))
        .await?;
    conn.send_with("orders", &4, Some(&h), Delay::Seconds(3600))
        .await?;
    conn.send_with("orders", &5, Some(&h), Delay::Until(at))
        .await?;
    conn.send_batch_with(
        "orders",
        &[6],
        Some(std::slice::from_ref(&h)),
        Delay::Until(at),
    )
    .await?;
    conn.send_batch_with::<_, Value>("orders", &[7], None, Delay::Seconds(3600))
        .await?;
    let visible = conn.read::<i32>("orders", VT, batch(10)).await?;
    assert_eq!(visible.iter().map(|m| m.message).collect::<Vec<_>>(), [1]);
    assert_eq!(visible[0].headers, Some(h));
    assert_eq!(conn.metrics("orders").await?.queue_length, 7);
    Ok(())
}

#[tokio::test]
async fn set_vt_pop_and_poll_timeout() -> R {
    let (_db, mut conn) = setup().await;
    let id = conn.send("orders", &1).await?;
    let _ = conn
        .read::<i32>("orders", VisibilityTimeout::Seconds(3600), batch(1))
        .await?;
    assert!(conn.read::<i32>("orders", VT, batch(1)).await?.is_empty());
    conn.set_vt::<i32>("orders", id, VisibilityTimeout::Until(Utc::now()))
        .await?
        .unwrap();
    assert_eq!(conn.pop::<i32>("orders", batch(1)).await?[0].msg_id, id);
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(50));
    let start = Instant::now();
    assert!(
        conn.read_with_poll::<i32>("orders", VT, batch(1), poll)
            .await?
            .is_empty()
    );
    assert!(start.elapsed() >= Duration::from_millis(900));
    Ok(())
}

#[tokio::test]
async fn grouped_reads_are_fifo_per_group() -> R {
    let (_db, mut conn) = setup().await;
    for (n, g) in [(1, "a"), (2, "b"), (3, "a"), (4, "b")] {
        conn.send_with(
            "orders",
            &n,
            Some(&json!({"x-pgmq-group": g})),
            Delay::default(),
        )
        .await?;
    }
    let rr = conn
        .read_grouped_rr::<i32>("orders", VisibilityTimeout::Seconds(0), batch(4))
        .await?;
    assert_eq!(
        rr.iter().map(|m| m.message).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let g = conn
        .read_grouped::<i32>("orders", VisibilityTimeout::Seconds(0), batch(2))
        .await?;
    assert_eq!(g.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 3]);
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(50));
    assert_eq!(
        conn.read_grouped_with_poll::<i32>("orders", VT, batch(1), poll)
            .await?[0]
            .message,
        1
    );
    assert_eq!(
        conn.read_grouped_rr_with_poll::<i32>("orders", VT, batch(1), poll)
            .await?[0]
            .message,
        2
    );
    assert_eq!(
        conn.read_grouped_head::<i32>("orders", VT, batch(10))
            .await?
            .len(),
        0
    );
    Ok(())
}

#[tokio::test]
async fn topics_notify_queues_and_version() -> R {
    let (_db, mut conn) = setup().await;
    conn.create_unlogged_queue("audit").await?;
    conn.bind_topic("orders.#", "audit").await?;
    assert_eq!(
        conn.test_routing("orders.created").await?[0].queue_name,
        "audit"
    );
    assert_eq!(conn.list_topic_bindings().await?.len(), 1);
    assert_eq!(
        conn.send_topic::<_, Value>("orders.created", &1, None, Delay::default())
            .await?,
        1
    );
    assert_eq!(
        conn.send_batch_topic::<_, Value>("orders.x", &[2, 3], None, Delay::default())
            .await?
            .len(),
        2
    );
    assert!(conn.unbind_topic("orders.#", "audit").await?);
    assert_eq!(conn.metrics_all().await?.len(), 2);
    assert_eq!(conn.purge_queue("audit").await?, 3);
    conn.enable_notify_insert("orders", Duration::from_millis(100))
        .await?;
    assert_eq!(
        conn.list_notify_insert_throttles().await?[0].throttle_interval_ms,
        100
    );
    conn.disable_notify_insert("orders").await?;
    assert!(conn.list_notify_insert_throttles().await?.is_empty());
    assert!(conn.drop_queue("audit").await?);
    assert_eq!(conn.list_queues().await?.len(), 1);
    assert!(conn.pgmq_version().await? >= diesel_pgmq::MIN_PGMQ_VERSION);
    Ok(())
}

#[tokio::test]
async fn partitioned_queue_on_async() -> R {
    let (db, mut conn) = setup().await;
    if !db.optional_extension("pg_partman", "partitioned_queue_on_async") {
        return Ok(());
    }
    conn.create_partitioned_queue("big", "10000", "100000")
        .await?;
    conn.send("big", &1).await?;
    assert_eq!(conn.read::<i32>("big", VT, batch(1)).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn decode_error_keeps_the_message_async() -> R {
    let (_db, mut conn) = setup().await;
    let id = conn.send("orders", &"text").await?;
    let mut read = conn
        .read::<OrderCreated>("orders", VisibilityTimeout::Seconds(0), batch(1))
        .await?;
    assert!(read.is_empty());
    let e = read.take_undecodable().remove(0);
    assert_eq!((e.msg_id, e.message.as_bytes()), (id, &br#""text""#[..]));
    assert_eq!(conn.metrics("orders").await?.queue_length, 1);
    assert_eq!(
        conn.send("missing", &1).await.unwrap_err().kind(),
        ErrorKind::QueueMissing
    );
    Ok(())
}

async fn setup_orders_table(conn: &mut AsyncPgConnection) {
    diesel::sql_query("CREATE TABLE orders (id bigint PRIMARY KEY)")
        .execute(conn)
        .await
        .unwrap();
}

async fn count_orders(conn: &mut AsyncPgConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM public.orders")
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn async_commit_keeps_sent_message_with_domain_write() -> R {
    let (_db, mut conn) = setup().await;
    setup_orders_table(&mut conn).await;
    conn.transaction(async |conn| {
        diesel::sql_query("INSERT INTO orders VALUES (1)")
            .execute(conn)
            .await?;
        conn.send("orders", &OrderCreated { order_id: 1 }).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .await?;
    assert_eq!(count_orders(&mut conn).await, 1);
    assert_eq!(
        conn.read::<OrderCreated>("orders", VT, batch(1))
            .await?
            .len(),
        1
    );
    Ok(())
}

#[tokio::test]
async fn async_rollback_discards_sent_message() -> R {
    let (_db, mut conn) = setup().await;
    setup_orders_table(&mut conn).await;
    let r = conn
        .transaction(async |conn| {
            diesel::sql_query("INSERT INTO orders VALUES (1)")
                .execute(conn)
                .await?;
            conn.send("orders", &OrderCreated { order_id: 1 }).await?;
            Err::<(), Box<dyn std::error::Error + Send + Sync>>("abort".into())
        })
        .await;
    assert!(r.is_err());
    assert_eq!(count_orders(&mut conn).await, 0);
    assert_eq!(conn.metrics("orders").await?.queue_length, 0);
    Ok(())
}

#[tokio::test]
async fn typed_queue_runs_on_async() -> R {
    let (_db, mut conn) = setup().await;
    let orders: Queue<OrderCreated> = Queue::new("orders")?;
    let id: i64 = orders
        .send(&OrderCreated { order_id: 9 })?
        .get_result(&mut conn)
        .await?;
    let got = orders.read(VT, batch(1)).run_async(&mut conn).await?;
    assert_eq!((got[0].msg_id, got[0].message.order_id), (id, 9));
    orders
        .send(&OrderCreated { order_id: 10 })?
        .execute(&mut conn)
        .await?;
    // The first message is in flight; pop takes the visible second one.
    let rows: Vec<query::MessageRow> = query::pop(orders.name(), batch(5)).load(&mut conn).await?;
    assert_eq!(rows.len(), 1);
    Ok(())
}

#[cfg(feature = "bb8")]
#[tokio::test]
async fn bb8_pooled_connections_use_the_same_methods() -> R {
    use diesel_async::pooled_connection::AsyncDieselConnectionManager;
    let db = TestDb::new();
    let pool = bb8::Pool::builder()
        .max_size(2)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(
            db.url(),
        ))
        .await?;
    let mut conn = pool.get().await.map_err(diesel_pgmq::error::from_bb8)?;
    conn.create_queue("jobs").await?;
    conn.send("jobs", &1).await?;
    assert_eq!(conn.pop::<i32>("jobs", batch(1)).await?[0].message, 1);
    Ok(())
}

/// The same on diesel-async: `?` on Diesel queries and pgmq calls in one transaction
/// closure, with either error type.
#[tokio::test]
async fn an_async_transaction_closure_mixes_diesel_and_pgmq_calls_with_either_error_type() -> R {
    let (_db, mut conn) = setup().await;
    diesel::sql_query("CREATE TABLE shop (id int PRIMARY KEY)")
        .execute(&mut conn)
        .await?;
    conn.transaction(async |tx| {
        diesel::sql_query("INSERT INTO shop VALUES (1)")
            .execute(tx)
            .await?;
        tx.send("orders", &1).await?;
        Ok::<_, diesel::result::Error>(())
    })
    .await?;
    conn.transaction(async |tx| {
        diesel::sql_query("INSERT INTO shop VALUES (2)")
            .execute(tx)
            .await?;
        tx.send("orders", &2).await?;
        Ok::<_, diesel_pgmq::Error>(())
    })
    .await?;
    let err = conn
        .transaction(async |tx| {
            diesel::sql_query("INSERT INTO shop VALUES (3)")
                .execute(tx)
                .await?;
            tx.send("no_such_queue", &3).await?;
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        diesel_pgmq::Error::from(err).kind(),
        ErrorKind::QueueMissing
    );
    assert_eq!(conn.metrics("orders").await?.queue_length, 2);
    Ok(())
}
