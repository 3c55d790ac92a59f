//! A Diesel project's migrations with diesel-pgmq: pgmq's steps (install pgmq, create the
//! queues) run through Diesel's own `MigrationHarness`, beside the project's own
//! migrations, and the queue tables are then queried with Diesel's DSL.
//!
//! Run with `cargo run -p pgmq-orm-examples --bin migrations_diesel`
//! (`DATABASE_URL`, or a throwaway server).

use diesel::prelude::*;
use diesel_pgmq::QueueName;
use diesel_pgmq::migrations::{MigrationHarness, PgmqMigrations, QueueSpec, run_pending_locked};
use diesel_pgmq::schema::QueueRow;

// The queue's tables, typed: `orders::queue` is pgmq.q_orders, `orders::archive` pgmq.a_orders.
diesel_pgmq::pgmq_tables! {
    /// Order events.
    pub mod orders { queue: q_orders, archive: a_orders }
}

/// The project's pgmq migrations. Append steps, never reorder them: a step's version is
/// its position (`00000000pgmq0001`, ...).
fn pgmq_migrations(database_url: &str) -> PgmqMigrations {
    PgmqMigrations::new()
        // CREATE EXTENSION where the server offers it, else the SQL-only install.
        .install_or_sql(database_url)
        .create_queue(QueueSpec::new(orders::QUEUE).notify_insert())
        .create_queue(
            QueueSpec::new(QueueName::from_static("emails"))
                .unlogged()
                .fifo_index(),
        )
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = pgmq_orm_test::database_url();
    let mut conn = PgConnection::establish(&url)?;
    let pgmq = pgmq_migrations(&url);

    // At startup, before the project's own `conn.run_pending_migrations(MIGRATIONS)`:
    // the lock keeps workers that start together from racing.
    let ran = run_pending_locked(&mut conn, pgmq.clone())?;
    println!("applied: {ran:?}");
    println!("pgmq {}", diesel_pgmq::migrations::check_pgmq(&mut conn)?);
    // A second start finds nothing to do.
    assert!(!conn.has_pending_migration(pgmq.clone())?);

    // Send through pgmq, then peek through the typed table (nothing is claimed).
    diesel::sql_query("SELECT pgmq.send($1, '{\"order\": 42}')")
        .bind::<diesel::sql_types::Text, _>(orders::QUEUE.as_str())
        .execute(&mut conn)?;
    let waiting: Vec<QueueRow> = orders::queue::table
        .filter(orders::queue::vt.le(diesel::dsl::now))
        .order(orders::queue::msg_id)
        .limit(10)
        .load(&mut conn)?;
    let count: i64 = orders::queue::table.count().get_result(&mut conn)?;
    println!(
        "{count} waiting in {}; first: {:?}",
        orders::QUEUE,
        waiting[0].message
    );

    // Reverting is done from code (the diesel CLI does not know these versions).
    conn.revert_last_migration(pgmq)?;
    println!("reverted the last step (dropped `emails`)");
    Ok(())
}
