//! A SeaORM project's migrations with sea-orm-pgmq: pgmq's steps spliced into the
//! project's own `Migrator`, run with sea-orm-migration's `MigratorTrait`, and the queue
//! tables then queried through generated entities. The end shows the alternative: a
//! separate migrator with its own tracking table.
//!
//! Run with `cargo run -p pgmq-orm-examples --bin migrations_seaorm`
//! (`DATABASE_URL`, or a throwaway server).

use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryOrder};
use sea_orm_migration::prelude::*;
use sea_orm_pgmq::QueueName;
use sea_orm_pgmq::migration::{
    CreateQueue, InstallPgmq, PgmqQueueMigrator, PgmqSchema, QueueSpec, up_locked,
};

// The queue's tables as entities: `orders::queue::Entity`, `orders::archive::Entity`.
sea_orm_pgmq::pgmq_entities! {
    /// Order events.
    pub mod orders { queue: "q_orders", archive: "a_orders" }
}

/// One of the project's own migrations, using the schema helpers.
#[derive(DeriveMigrationName)]
struct CreateEmailQueue;

#[async_trait::async_trait]
impl MigrationTrait for CreateEmailQueue {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        PgmqSchema::new(manager).create_queue(&emails()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        PgmqSchema::new(manager).drop_queue(&emails()).await
    }
}

fn emails() -> QueueSpec {
    QueueSpec::new(QueueName::from_static("emails"))
        .unlogged()
        .fifo_index()
}

/// The project's `Migrator`, with pgmq's steps spliced in first.
struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(InstallPgmq::new()),
            Box::new(CreateQueue::new(
                QueueSpec::new(orders::QUEUE).notify_insert(),
            )),
            Box::new(CreateEmailQueue),
        ]
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = pgmq_orm_test::database_url();
    let db = Database::connect(&url).await?;

    // `Migrator::up(&db, None)` works; `up_locked` also keeps workers that start together
    // from racing on the tracking table.
    up_locked::<Migrator>(&db, None).await?;
    Migrator::status(&db).await?;
    println!("pgmq {}", sea_orm_pgmq::migration::check_pgmq(&db).await?);

    db.execute_unprepared(r#"SELECT pgmq.send('orders', '{"order": 42}')"#)
        .await?;
    let waiting = orders::queue::Entity::find()
        .order_by_asc(orders::queue::Column::MsgId)
        .all(&db)
        .await?;
    let count = orders::queue::Entity::find().count(&db).await?;
    println!(
        "{count} waiting in {}; first: {:?}",
        orders::QUEUE,
        waiting[0].message
    );

    Migrator::down(&db, None).await?;
    println!("reverted: queues dropped (pgmq stays if it was there before)");

    // The alternative: keep pgmq out of your `Migrator`, in a migrator with its own
    // tracking table (sea-orm-migration's status fails on rows a Migrator does not list).
    let queues = PgmqQueueMigrator::new("pgmq_queue_migrations")
        // With the `install-sql` feature: the SQL-only install where the extension is missing.
        .install_with(InstallPgmq::with_sql_fallback(url.clone()))
        .create_queue(QueueSpec::new(orders::QUEUE));
    queues.up_locked(&db, None).await?;
    queues.status(&db).await?;
    println!("separate migrator: applied, tracked in pgmq_queue_migrations");
    queues.down(&db, None).await?;
    Ok(())
}
