//! A small order service on diesel-async and diesel-pgmq: the transactional outbox and
//! the consumer runtime, end to end. The service itself is `pgmq_orm_examples::orders`
//! (tested with the test kit in `examples/tests/orders.rs`).
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

use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_pgmq::consumer::{ConsumerConfig, DieselBackend, PgPool, cancel_on_ctrl_c};
use diesel_pgmq::{BoxError, PgmqAsyncConnectionExt};
use pgmq_orm_examples::orders::{self, ORDER_EVENTS};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = pgmq_orm_test::database_url();
    let pool: PgPool = PgPool::builder()
        .max_size(4)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(&url))
        .await?;
    let mut conn = pool.get().await?;
    orders::setup(&mut conn).await?;
    let outbox = orders::outbox()?;

    // Producer: orders and events commit together.
    let placed = conn
        .transaction(async |tx| orders::place_orders(tx, &outbox, &["teapot", "kettle"]).await)
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
            orders::place_orders(tx, &outbox, &["ghost"]).await?;
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
    let consumer = orders::consumer(backend, config);
    // Handle what is queued now, then stop (a service would `run` until cancelled).
    let stats = consumer.run_until_empty(cancel_on_ctrl_c()).await?;

    let mut conn = pool.get().await?;
    let shipped = orders::shipped(&mut conn).await?;
    let left = conn.metrics(ORDER_EVENTS).await?.queue_length;
    println!("done: {shipped} order(s) shipped, {left} event(s) left, stats {stats:?}");
    if shipped != placed.len() as i64 || left != 0 {
        return Err("every committed order should be shipped exactly once".into());
    }
    Ok(())
}
