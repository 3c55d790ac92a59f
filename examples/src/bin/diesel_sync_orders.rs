//! A small order service on sync Diesel, r2d2 and diesel-pgmq, with no async runtime:
//! the transactional outbox and the blocking consumer, end to end.
//!
//! 1. Orders and their `OrderCreated` events are written in ONE statement
//!    (`insert_into(..).returning(..).enqueue(&outbox)`), inside the caller's
//!    transaction: both commit, or neither does.
//! 2. A blocking consumer (std threads) processes the events in transactional mode: the
//!    handler gets the `&mut PgConnection` of the transaction that deletes the event, so
//!    the shipment it records with ordinary sync Diesel code and the acknowledgement
//!    commit together (exactly-once effects).
//!
//! Run with `cargo run -p pgmq-orm-examples --bin diesel_sync_orders`
//! (`DATABASE_URL`, or a throwaway server).

use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel_pgmq::outbox::{Outbox, OutboxExt, Payload};
use diesel_pgmq::sync_consumer::{ConsumerConfig, StopToken, SyncBackend, SyncTransactional};
use diesel_pgmq::{BoxError, Message, PgmqConnectionExt, QueueName};
use serde::Deserialize;

diesel::table! {
    /// The application's orders.
    sync_orders (id) {
        /// Primary key.
        id -> Int4,
        /// What was ordered.
        item -> Text,
    }
}

diesel::table! {
    /// What the consumer records for each order event.
    sync_shipments (order_id) {
        /// The order shipped (primary key: a second delivery would fail).
        order_id -> Int4,
    }
}

/// A saved order, as the insert returns it.
#[derive(Debug, Queryable)]
struct Order {
    id: i32,
    item: String,
}

/// The event other services consume; built in SQL by the outbox's payload.
#[derive(Debug, Deserialize)]
struct OrderCreated {
    order_id: i32,
    item: String,
}

/// The queue of order events, checked at compile time.
const ORDER_EVENTS: QueueName = QueueName::from_static("sync_order_events");

/// Saves `items` as orders and queues one `OrderCreated` per order, in one statement,
/// on the caller's connection (so inside the caller's transaction).
fn place_orders(
    conn: &mut PgConnection,
    outbox: &Outbox,
    items: &[&str],
) -> QueryResult<Vec<(Order, i64)>> {
    let rows: Vec<_> = items.iter().map(|i| sync_orders::item.eq(*i)).collect();
    diesel::insert_into(sync_orders::table)
        .values(rows)
        .returning((sync_orders::id, sync_orders::item))
        .enqueue(outbox)
        .get_results(conn)
}

/// The application's sync data layer: what the consumer's handler calls, unchanged.
fn record_shipment(conn: &mut PgConnection, order_id: i32) -> QueryResult<usize> {
    diesel::insert_into(sync_shipments::table)
        .values(sync_shipments::order_id.eq(order_id))
        .execute(conn)
}

fn main() -> Result<(), BoxError> {
    let url = pgmq_orm_test::database_url();
    let pool = Pool::builder()
        .max_size(4)
        .build(ConnectionManager::<PgConnection>::new(&url))?;
    let mut conn = pool.get()?;
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS sync_orders (id serial PRIMARY KEY, item text NOT NULL)",
    )
    .execute(&mut conn)?;
    diesel::sql_query("CREATE TABLE IF NOT EXISTS sync_shipments (order_id int PRIMARY KEY)")
        .execute(&mut conn)?;
    conn.create_queue(ORDER_EVENTS)?;

    // The event is the order's id and item plus a constant type tag, built in SQL.
    let outbox = Outbox::new(ORDER_EVENTS)?.payload(
        Payload::fields([("order_id", "id"), ("item", "item")])?.with("type", "OrderCreated")?,
    );

    // Producer: orders and events commit together.
    let placed = conn.transaction(|tx| place_orders(tx, &outbox, &["teapot", "kettle"]))?;
    for (order, msg_id) in &placed {
        println!(
            "producer: order {} ({}) saved, event {msg_id} queued",
            order.id, order.item
        );
    }

    // A rolled-back transaction leaves neither orders nor events behind.
    let declined = conn.transaction(|tx| {
        place_orders(tx, &outbox, &["ghost"])?;
        Err::<(), BoxError>("payment declined".into())
    });
    println!(
        "producer: third order rolled back ({})",
        declined.unwrap_err()
    );
    drop(conn);

    // Consumer: wakes on insert notifications (LISTEN on a libpq connection), ships each
    // order in the transaction that deletes its event. Three handler threads at once,
    // each holding one of the pool's four connections and leaving one for reads: the
    // consumer checks this at start.
    let backend = SyncBackend::with_notify(pool.clone(), &url, &ORDER_EVENTS)?;
    let config = ConsumerConfig::new(ORDER_EVENTS)
        .with_concurrency(3)
        .with_poll_interval(Duration::from_secs(1));
    let consumer = SyncTransactional::consumer(
        backend,
        config,
        |conn: &mut PgConnection, event: Message<OrderCreated>| {
            let order = &event.message;
            record_shipment(conn, order.order_id)?;
            println!(
                "consumer: shipped order {} ({}), event {} (attempt {})",
                order.order_id, order.item, event.msg_id, event.read_ct
            );
            Ok::<(), BoxError>(())
        },
    );
    // Handle what is queued now, then stop. A service would call `consumer.run(&stop)`
    // on a thread of its own and `stop.stop()` from its shutdown hook.
    let stop = StopToken::new();
    let stats = consumer.run_until_empty(&stop)?;

    let mut conn = pool.get()?;
    let shipped: i64 = sync_shipments::table.count().get_result(&mut conn)?;
    let left = conn.metrics(ORDER_EVENTS)?.queue_length;
    println!("done: {shipped} order(s) shipped, {left} event(s) left, stats {stats:?}");
    if shipped != placed.len() as i64 || left != 0 {
        return Err("every committed order should be shipped exactly once".into());
    }
    Ok(())
}
