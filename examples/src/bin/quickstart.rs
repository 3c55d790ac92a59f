//! The smallest round trip: create a queue, send, read and delete a message through pgmq's
//! SQL functions, on the harness's database (`DATABASE_URL`, or a throwaway server).
//!
//! Run with `cargo run -p pgmq-orm-examples --bin quickstart`.

use sqlx::{Connection, PgConnection, Row};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = pgmq_orm_test::database_url();
    let mut conn = PgConnection::connect(&url).await?;
    let queue = pgmq_orm_core::QueueName::new("quickstart")?;

    sqlx::query("SELECT pgmq.create($1)")
        .bind(queue.as_str())
        .execute(&mut conn)
        .await?;
    let msg_id: i64 = sqlx::query_scalar("SELECT * FROM pgmq.send($1, $2)")
        .bind(queue.as_str())
        .bind(serde_json::json!({"hello": "pgmq"}))
        .fetch_one(&mut conn)
        .await?;
    println!("sent message {msg_id} to {queue}");

    let row = sqlx::query("SELECT msg_id, message FROM pgmq.read($1, 30, 1)")
        .bind(queue.as_str())
        .fetch_one(&mut conn)
        .await?;
    let message: serde_json::Value = row.try_get("message")?;
    println!(
        "read message {}: {message}",
        row.try_get::<i64, _>("msg_id")?
    );

    let deleted: bool = sqlx::query_scalar("SELECT pgmq.delete($1, $2)")
        .bind(queue.as_str())
        .bind(msg_id)
        .fetch_one(&mut conn)
        .await?;
    println!("deleted: {deleted}");
    Ok(())
}
