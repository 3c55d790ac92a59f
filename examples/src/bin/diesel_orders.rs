//! A small order service on diesel-async and diesel-pgmq: the transactional outbox and
//! the consumer runtime, end to end.
//!
//! 1. Orders and their `OrderCreated` events are written in ONE statement
//!    (`insert_into(..).returning(..).enqueue(&outbox)`), inside the caller's
//!    transaction: both commit, or neither does.
//! 2. A consumer processes the events in transactional mode: the shipment it records and
//!    the deletion of the event commit together (exactly-once effects).
//!
//! Run with `cargo run -p pgmq-orm-examples --bin diesel_orders`
//! (`DATABASE_URL`, or a throwaway server).

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_pgmq::consumer::{
    ConsumerConfig, DieselBackend, PgPool, Transactional, cancel_on_ctrl_c,
};
use diesel_pgmq::outbox::{Outbox, OutboxExt, Payload};
use diesel_pgmq::{BoxError, Message, PgmqAsyncConnectionExt, QueueName};
use serde::Deserialize;

diesel::table! {
    /// The application's orders.
    shop_orders (id) {
        /// Primary key.
        id -> Int4,
        /// What was ordered.
        item -> Text,
    }
}

diesel::table! {
    /// What the consumer records for each order event.
    shipments (order_id) {
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
const ORDER_EVENTS: QueueName = QueueName::from_static("order_events");

/// Saves `items` as orders and queues one `OrderCreated` per order, in one statement,
/// on the caller's connection (so inside the caller's transaction).
async fn place_orders(
    conn: &mut AsyncPgConnection,
    outbox: &Outbox,
    items: &[&str],
) -> QueryResult<Vec<(Order, i64)>> {
    let rows: Vec<_> = items.iter().map(|i| shop_orders::item.eq(*i)).collect();
    diesel::insert_into(shop_orders::table)
        .values(rows)
        .returning((shop_orders::id, shop_orders::item))
        .enqueue(outbox)
        .get_results(conn)
        .await
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = pgmq_orm_test::database_url();
    let pool: PgPool = PgPool::builder()
        .max_size(4)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(&url))
        .await?;
    let mut conn = pool.get().await?;
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS shop_orders (id serial PRIMARY KEY, item text NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    diesel::sql_query("CREATE TABLE IF NOT EXISTS shipments (order_id int PRIMARY KEY)")
        .execute(&mut conn)
        .await?;
    conn.create_queue(ORDER_EVENTS).await?;

    // The event is the order's id and item plus a constant type tag, built in SQL.
    let outbox = Outbox::new(ORDER_EVENTS)?.payload(
        Payload::fields([("order_id", "id"), ("item", "item")])?.with("type", "OrderCreated")?,
    );

    // Producer: orders and events commit together.
    let placed = conn
        .transaction(async |tx| place_orders(tx, &outbox, &["teapot", "kettle"]).await)
        .await?;
    for (order, msg_id) in &placed {
        println!(
            "producer: order {} ({}) saved, event {msg_id} queued",
            order.id, order.item
        );
    }

    // A rolled-back transaction leaves neither orders nor events behind.
    let declined = conn
        .transaction(async |tx| {
            place_orders(tx, &outbox, &["ghost"]).await?;
            Err::<(), BoxError>("payment declined".into())
        })
        .await;
    println!(
        "producer: third order rolled back ({})",
        declined.unwrap_err()
    );
    drop(conn);

    // Consumer: wakes on insert notifications, ships each order in the transaction that
    // deletes its event, so the shipment and the acknowledgement commit together. Three
    // handlers at once, each holding one of the pool's four connections and leaving one
    // for reads: the consumer checks this at start.
    let backend = DieselBackend::with_notify(pool.clone(), &url, &ORDER_EVENTS).await?;
    let config = ConsumerConfig::new(ORDER_EVENTS)
        .with_concurrency(3)
        .with_poll_interval(Duration::from_secs(1));
    let consumer = Transactional::consumer(
        backend,
        config,
        async |conn: &mut AsyncPgConnection, event: Message<OrderCreated>| {
            let order = &event.message;
            diesel::insert_into(shipments::table)
                .values(shipments::order_id.eq(order.order_id))
                .execute(conn)
                .await?;
            println!(
                "consumer: shipped order {} ({}), event {} (attempt {})",
                order.order_id, order.item, event.msg_id, event.read_ct
            );
            Ok::<(), BoxError>(())
        },
    );
    // Handle what is queued now, then stop (a service would `run` until cancelled).
    let stats = consumer.run_until_empty(cancel_on_ctrl_c()).await?;

    let mut conn = pool.get().await?;
    let shipped: i64 = shipments::table.count().get_result(&mut conn).await?;
    let left = conn.metrics(ORDER_EVENTS).await?.queue_length;
    println!("done: {shipped} order(s) shipped, {left} event(s) left, stats {stats:?}");
    if shipped != placed.len() as i64 || left != 0 {
        return Err("every committed order should be shipped exactly once".into());
    }
    Ok(())
}
