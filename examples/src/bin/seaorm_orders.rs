//! The transactional outbox with SeaORM and sea-orm-pgmq: an order row and its
//! `OrderCreated` event are written in one transaction (both or neither), then a consumer
//! reads the event, handles it and deletes it.
//!
//! Run with `cargo run -p pgmq-orm-examples --bin seaorm_orders`
//! (`DATABASE_URL`, or a throwaway server).

use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, EntityTrait, Set, TransactionTrait};
use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, Queue, VisibilityTimeout};
use serde::{Deserialize, Serialize};

/// The application's own table.
mod order {
    use sea_orm::entity::prelude::*;

    /// An order.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shop_orders")]
    pub(crate) struct Model {
        /// Primary key.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// What was ordered.
        pub item: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The event other services consume.
#[derive(Debug, Serialize, Deserialize)]
struct OrderCreated {
    order_id: i32,
    item: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = Database::connect(pgmq_harness::database_url()).await?;
    conn.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS shop_orders (id serial PRIMARY KEY, item text NOT NULL)",
    )
    .await?;
    conn.create_queue("order_events").await?;
    let events: Queue<OrderCreated> = Queue::new("order_events")?;

    // Producer: the row and the event commit together.
    let txn = conn.begin().await?;
    let row = order::ActiveModel {
        item: Set("teapot".to_owned()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let msg_id = events
        .send(
            &txn,
            &OrderCreated {
                order_id: row.id,
                item: row.item.clone(),
            },
        )
        .await?;
    txn.commit().await?;
    println!("order {} saved, event {msg_id} queued", row.id);

    // A rolled-back order leaves no event behind.
    let txn = conn.begin().await?;
    let ghost = order::ActiveModel {
        item: Set("ghost".to_owned()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    events
        .send(
            &txn,
            &OrderCreated {
                order_id: ghost.id,
                item: ghost.item,
            },
        )
        .await?;
    txn.rollback().await?;

    // Consumer: read, handle, delete.
    for msg in events
        .read(&conn, VisibilityTimeout::Seconds(30), BatchSize::new(10)?)
        .await?
    {
        let order = order::Entity::find_by_id(msg.message.order_id)
            .one(&conn)
            .await?;
        println!("handling {:?} for {:?}", msg.message, order);
        events.delete(&conn, msg.msg_id).await?;
    }
    let left = conn.metrics("order_events").await?.queue_length;
    println!("messages left: {left}");
    assert_eq!(left, 0);
    Ok(())
}
