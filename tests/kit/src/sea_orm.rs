//! What was sent to a queue, seen from SeaORM (feature `sea-orm`): on any
//! [`ConnectionTrait`], so on a `DatabaseConnection` and on an open
//! `DatabaseTransaction` alike; the same rules as [`crate::diesel`]'s helpers.
//!
//! The helpers read the queue's table without taking anything (no `read_ct` or
//! visibility change) and see messages that are not visible yet. On an open transaction
//! they see its own uncommitted sends.
//!
//! ```
//! use pgmq_orm_core::Message;
//! use pgmq_orm_test::sea_orm::{assert_not_sent, assert_sent};
//! use sea_orm::{ConnectionTrait, Database, TransactionTrait};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sea_orm::DbErr> {
//! let db = pgmq_orm_test::TestDb::new();
//! let conn = Database::connect(db.url()).await?;
//! conn.execute_unprepared("SELECT pgmq.create('orders')").await?;
//! let tx = conn.begin().await?;
//! tx.execute_unprepared(r#"SELECT pgmq.send('orders', '{"id": 7}')"#).await?;
//! assert_sent(&tx, "orders", |m: &Message<serde_json::Value>| m.message["id"] == 7).await;
//! // Other connections do not see it before the commit.
//! assert_not_sent(&conn, "orders", |_: &Message<serde_json::Value>| true).await;
//! tx.rollback().await?;
//! # Ok(()) }
//! ```

use pgmq_orm_core::{Error, IntoQueueName, Message, QueueName, RawJsonMessage};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::de::DeserializeOwned;

use crate::peek;

async fn rows(
    conn: &impl ConnectionTrait,
    queue: impl IntoQueueName,
) -> Result<(QueueName, Vec<RawJsonMessage>), Error> {
    let (queue, sql) = peek::prepare(queue)?;
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| Error::InvalidArgument("pgmq-orm-test: the peek returned no row".into()))?;
    let text: String = row.try_get("", "rows")?;
    Ok((queue, peek::parse(&text)?))
}

/// Every message in `queue`, oldest first, decoded into `T` (headers as JSON), without
/// taking any. An error if the queue does not exist or a payload does not decode.
///
/// ```
/// # use sea_orm::{ConnectionTrait, Database};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_orm_test::TestDb::new();
/// # let conn = Database::connect(db.url()).await?;
/// conn.execute_unprepared("SELECT pgmq.create('jobs'); SELECT pgmq.send('jobs', '1')").await?;
/// let jobs = pgmq_orm_test::sea_orm::sent::<u32>(&conn, "jobs").await?;
/// assert_eq!(jobs[0].message, 1);
/// # Ok(()) }
/// ```
pub async fn sent<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    queue: impl IntoQueueName,
) -> Result<Vec<Message<T>>, Error> {
    peek::decode_all(rows(conn, queue).await?.1)
}

/// The first message in `queue` that decodes into `T` and satisfies `predicate`. Panics
/// (listing what the queue holds) when there is none or the queue cannot be read.
///
/// ```
/// # use sea_orm::{ConnectionTrait, Database};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let db = pgmq_orm_test::TestDb::new();
/// # let conn = Database::connect(db.url()).await.unwrap();
/// conn.execute_unprepared("SELECT pgmq.create('jobs'); SELECT pgmq.send('jobs', '5')").await.unwrap();
/// let job = pgmq_orm_test::sea_orm::assert_sent(&conn, "jobs", |m: &pgmq_orm_core::Message<u32>| m.message == 5).await;
/// assert_eq!(job.read_ct, 0);
/// # }
/// ```
pub async fn assert_sent<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    queue: impl IntoQueueName,
    predicate: impl Fn(&Message<T>) -> bool,
) -> Message<T> {
    let (queue, rows) = rows(conn, queue)
        .await
        .unwrap_or_else(|e| panic!("assert_sent: {e}"));
    peek::find(&queue, rows, predicate)
}

/// Panics (listing the offending messages) if a message in `queue` decodes into `T` and
/// satisfies `predicate`, or if the queue cannot be read.
///
/// ```
/// # use sea_orm::{ConnectionTrait, Database};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let db = pgmq_orm_test::TestDb::new();
/// # let conn = Database::connect(db.url()).await.unwrap();
/// conn.execute_unprepared("SELECT pgmq.create('jobs')").await.unwrap();
/// pgmq_orm_test::sea_orm::assert_not_sent(&conn, "jobs", |_: &pgmq_orm_core::Message<u32>| true).await;
/// # }
/// ```
pub async fn assert_not_sent<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    queue: impl IntoQueueName,
    predicate: impl Fn(&Message<T>) -> bool,
) {
    let (queue, rows) = rows(conn, queue)
        .await
        .unwrap_or_else(|e| panic!("assert_not_sent: {e}"));
    peek::none(&queue, rows, predicate);
}
