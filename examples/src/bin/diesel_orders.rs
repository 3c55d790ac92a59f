//! The transactional outbox with sync Diesel and diesel-pgmq: an order row and its
//! `OrderCreated` event commit in one transaction (both or neither); a consumer then
//! reads the event through a typed queue handle, handles it and deletes it.
//!
//! Run with `cargo run -p pgmq-orm-examples --bin diesel_orders`
//! (`DATABASE_URL`, or a throwaway server).

use diesel::prelude::*;
use diesel_pgmq::{BatchSize, PgmqConnectionExt, Queue, VisibilityTimeout};
use serde::{Deserialize, Serialize};

diesel::table! {
    /// The application's own table.
    shop_orders (id) {
        /// Primary key.
        id -> Int4,
        /// What was ordered.
        item -> Text,
    }
}

/// Any error, for the example's brevity.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The event other services consume.
#[derive(Debug, Serialize, Deserialize)]
struct OrderCreated {
    order_id: i32,
    item: String,
}

/// Inserts an order and queues its event in the caller's transaction.
fn place_order(
    conn: &mut PgConnection,
    events: &Queue<OrderCreated>,
    item: &str,
) -> Result<(i32, i64), BoxError> {
    let order_id: i32 = diesel::insert_into(shop_orders::table)
        .values(shop_orders::item.eq(item))
        .returning(shop_orders::id)
        .get_result(conn)?;
    let event = OrderCreated {
        order_id,
        item: item.to_owned(),
    };
    // `send` builds a Diesel statement; it runs on whatever connection (or transaction)
    // the caller hands it.
    let msg_id: i64 = events.send(&event)?.get_result(conn)?;
    Ok((order_id, msg_id))
}

fn main() -> Result<(), BoxError> {
    let mut conn = PgConnection::establish(&pgmq_harness::database_url())?;
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS shop_orders (id serial PRIMARY KEY, item text NOT NULL)",
    )
    .execute(&mut conn)?;
    conn.create_queue("order_events")?;
    let events: Queue<OrderCreated> = Queue::new("order_events")?;

    // Producer: the row and the event commit together.
    let (order_id, msg_id) = conn.transaction(|c| place_order(c, &events, "teapot"))?;
    println!("order {order_id} saved, event {msg_id} queued");

    // A rolled-back order leaves no event behind.
    let rolled_back = conn.transaction(|c| {
        place_order(c, &events, "ghost")?;
        Err::<(), BoxError>("payment declined".into())
    });
    println!("second order rolled back: {}", rolled_back.unwrap_err());

    // Consumer: read with a visibility timeout, handle, then delete.
    let batch = events
        .read(VisibilityTimeout::Seconds(30), BatchSize::new(10)?)
        .run(&mut conn)?;
    assert_eq!(batch.len(), 1, "only the committed order's event is queued");
    for msg in batch {
        println!(
            "handling order {} ({}), read {} time(s)",
            msg.message.order_id, msg.message.item, msg.read_ct
        );
        conn.delete("order_events", msg.msg_id)?;
    }
    let left = conn.metrics("order_events")?.queue_length;
    println!("{left} event(s) left in the queue");
    Ok(())
}
