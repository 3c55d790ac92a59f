//! The order service of the `diesel_orders` example, as a library so that its tests
//! (`examples/tests/orders.rs`) drive the same code with the test kit `pgmq-orm-test`.
//!
//! 1. Orders and their `OrderCreated` events are written in ONE statement
//!    (`insert_into(..).returning(..).enqueue(&outbox)`), inside the caller's
//!    transaction: both commit, or neither does.
//! 2. A consumer processes the events in transactional mode: the shipment it records and
//!    the deletion of the event commit together (exactly-once effects).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_pgmq::consumer::{Consumer, ConsumerConfig, DieselBackend, Transactional};
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
pub struct Order {
    /// Primary key.
    pub id: i32,
    /// What was ordered.
    pub item: String,
}

/// The event other services consume; built in SQL by the outbox's payload.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct OrderCreated {
    /// The order's id.
    pub order_id: i32,
    /// What was ordered.
    pub item: String,
    /// Always `"OrderCreated"`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The queue of order events, checked at compile time.
pub const ORDER_EVENTS: QueueName = QueueName::from_static("order_events");

/// Creates the service's tables and queue (its migrations, in short).
pub async fn setup(conn: &mut AsyncPgConnection) -> Result<(), BoxError> {
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS shop_orders (id serial PRIMARY KEY, item text NOT NULL)",
    )
    .execute(conn)
    .await?;
    diesel::sql_query("CREATE TABLE IF NOT EXISTS shipments (order_id int PRIMARY KEY)")
        .execute(conn)
        .await?;
    conn.create_queue(ORDER_EVENTS).await?;
    Ok(())
}

/// The outbox that turns each inserted order into an `OrderCreated` event: the order's id
/// and item plus a constant type tag, built in SQL.
pub fn outbox() -> Result<Outbox, diesel_pgmq::Error> {
    Ok(Outbox::new(ORDER_EVENTS)?.payload(
        Payload::fields([("order_id", "id"), ("item", "item")])?.with("type", "OrderCreated")?,
    ))
}

/// Saves `items` as orders and queues one `OrderCreated` per order, in one statement,
/// on the caller's connection (so inside the caller's transaction).
pub async fn place_orders(
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

/// The consumer's handler: records the shipment, inside the transaction that deletes the
/// event. A second delivery of the same order fails on the shipments' primary key.
pub async fn ship(
    conn: &mut AsyncPgConnection,
    event: Message<OrderCreated>,
) -> Result<(), BoxError> {
    diesel::insert_into(shipments::table)
        .values(shipments::order_id.eq(event.message.order_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// The service's consumer of order events: [`ship`] in transactional mode.
pub fn consumer(
    backend: DieselBackend,
    config: ConsumerConfig,
) -> Consumer<DieselBackend, OrderCreated, impl diesel_pgmq::consumer::Processor<OrderCreated>> {
    Transactional::consumer(backend, config, ship)
}

/// How many orders have been shipped.
pub async fn shipped(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    shipments::table.count().get_result(conn).await
}
