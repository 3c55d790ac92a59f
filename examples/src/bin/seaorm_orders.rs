//! The order service with SeaORM and sea-orm-pgmq: entity inserts and their
//! `OrderCreated` events written in one statement (the outbox), inside a transaction;
//! then the consumer runtime handles the events (plain mode: acknowledged after the
//! handler returns).
//!
//! Run with `cargo run -p pgmq-orm-examples --bin seaorm_orders`
//! (`DATABASE_URL`, or a throwaway server).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, EntityTrait, Set, TransactionTrait};
use sea_orm_pgmq::consumer::{Consumer, ConsumerConfig, SeaOrmBackend, cancel_on_ctrl_c};
use sea_orm_pgmq::outbox::{Outbox, OutboxExt, Payload};
use sea_orm_pgmq::{BoxError, Message, PgmqConnectionExt, QueueName};
use serde::Deserialize;

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

/// The event other services consume; built in SQL by the outbox's payload.
#[derive(Debug, Deserialize)]
struct OrderCreated {
    order_id: i32,
    item: String,
}

/// The queue of order events, checked at compile time.
const ORDER_EVENTS: QueueName = QueueName::from_static("order_events");

fn new_order(item: &str) -> order::ActiveModel {
    order::ActiveModel {
        item: Set(item.to_owned()),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let db = Database::connect(pgmq_orm_test::database_url()).await?;
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS shop_orders (id serial PRIMARY KEY, item text NOT NULL)",
    )
    .await?;
    db.create_queue(ORDER_EVENTS).await?;
    let outbox = Outbox::new(ORDER_EVENTS)?.payload(
        Payload::fields([("order_id", "id"), ("item", "item")])?.with("type", "OrderCreated")?,
    );

    // Producer: the rows and their events commit together, in one statement.
    let txn = db.begin().await?;
    let placed: Vec<(order::Model, i64)> =
        order::Entity::insert_many([new_order("teapot"), new_order("kettle")])
            .enqueue(&outbox)
            .all(&txn)
            .await?;
    txn.commit().await?;
    for (order, msg_id) in &placed {
        println!(
            "producer: order {} ({}) saved, event {msg_id} queued",
            order.id, order.item
        );
    }

    // A rolled-back transaction leaves neither the order nor its event.
    let txn = db.begin().await?;
    order::Entity::insert(new_order("ghost"))
        .enqueue(&outbox)
        .all::<order::Model, _>(&txn)
        .await?;
    txn.rollback().await?;
    println!("producer: third order rolled back");

    // Consumer: a closure handler; the message is deleted once it returns Ok.
    let handled = Arc::new(AtomicU64::new(0));
    let backend = SeaOrmBackend::with_notify(db.clone(), &ORDER_EVENTS).await?;
    let config = ConsumerConfig::new(ORDER_EVENTS).with_poll_interval(Duration::from_secs(1));
    let consumer = Consumer::new(backend, config, {
        let (db, handled) = (db.clone(), Arc::clone(&handled));
        move |event: Message<OrderCreated>| {
            let (db, handled) = (db.clone(), Arc::clone(&handled));
            async move {
                let order = order::Entity::find_by_id(event.message.order_id)
                    .one(&db)
                    .await?
                    .ok_or("event for an order that does not exist")?;
                println!(
                    "consumer: order {} ({} / {}), event {}",
                    order.id, order.item, event.message.item, event.msg_id
                );
                handled.fetch_add(1, Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }
        }
    });
    // Handle what is queued now, then stop (a service would `run` until cancelled).
    let stats = consumer.run_until_empty(cancel_on_ctrl_c()).await?;

    let left = db.metrics(ORDER_EVENTS).await?.queue_length;
    println!(
        "done: {} event(s) handled, {left} left, stats {:?}",
        handled.load(Ordering::SeqCst),
        stats
    );
    if left != 0 || handled.load(Ordering::SeqCst) != placed.len() as u64 {
        return Err("every committed order's event should be handled once".into());
    }
    Ok(())
}
