//! What was sent to a queue, seen from a diesel-async [`AsyncPgConnection`] (feature
//! `diesel-async`); the async twins of [`crate::diesel`]'s helpers, with the same rules.
//!
//! The helpers read the queue's table without taking anything (no `read_ct` or
//! visibility change) and see messages that are not visible yet. On the connection of an
//! open transaction they see that transaction's own uncommitted sends.
//!
//! ```
//! use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
//! use pgmq_orm_core::Message;
//! use pgmq_orm_test::diesel_async::{assert_sent, sent};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let db = pgmq_orm_test::TestDb::new();
//! let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
//! diesel::sql_query("SELECT pgmq.create('orders')").execute(&mut conn).await.unwrap();
//! conn.begin_test_transaction().await.unwrap();
//! diesel::sql_query(r#"SELECT pgmq.send('orders', '{"id": 7}')"#).execute(&mut conn).await.unwrap();
//! // Not committed, and already visible to the transaction's own connection.
//! assert_sent(&mut conn, "orders", |m: &Message<serde_json::Value>| m.message["id"] == 7).await;
//! assert_eq!(sent::<serde_json::Value>(&mut conn, "orders").await.unwrap().len(), 1);
//! # }
//! ```

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use pgmq_orm_core::{Error, IntoQueueName, Message, QueueName, RawJsonMessage};
use serde::de::DeserializeOwned;

use crate::diesel_rows::Rows;
use crate::peek;

async fn rows(
    conn: &mut AsyncPgConnection,
    queue: impl IntoQueueName,
) -> Result<(QueueName, Vec<RawJsonMessage>), Error> {
    let (queue, sql) = peek::prepare(queue)?;
    let loaded: Rows = diesel::sql_query(sql).get_result(conn).await?;
    Ok((queue, peek::parse(&loaded.rows)?))
}

/// Every message in `queue`, oldest first, decoded into `T` (headers as JSON), without
/// taking any. An error if the queue does not exist or a payload does not decode.
///
/// ```
/// # use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_orm_test::TestDb::new();
/// # let mut conn = AsyncPgConnection::establish(db.url()).await?;
/// diesel::sql_query("SELECT pgmq.create('jobs')").execute(&mut conn).await?;
/// diesel::sql_query("SELECT pgmq.send('jobs', '1')").execute(&mut conn).await?;
/// let jobs = pgmq_orm_test::diesel_async::sent::<u32>(&mut conn, "jobs").await?;
/// assert_eq!(jobs[0].message, 1);
/// # Ok(()) }
/// ```
pub async fn sent<T: DeserializeOwned>(
    conn: &mut AsyncPgConnection,
    queue: impl IntoQueueName,
) -> Result<Vec<Message<T>>, Error> {
    peek::decode_all(rows(conn, queue).await?.1)
}

/// The first message in `queue` that decodes into `T` and satisfies `predicate`. Panics
/// (listing what the queue holds) when there is none or the queue cannot be read.
///
/// ```
/// # use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let db = pgmq_orm_test::TestDb::new();
/// # let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
/// diesel::sql_query("SELECT pgmq.create('jobs')").execute(&mut conn).await.unwrap();
/// diesel::sql_query("SELECT pgmq.send('jobs', '5')").execute(&mut conn).await.unwrap();
/// let job = pgmq_orm_test::diesel_async::assert_sent(&mut conn, "jobs", |m: &pgmq_orm_core::Message<u32>| m.message == 5).await;
/// assert_eq!(job.read_ct, 0);
/// # }
/// ```
pub async fn assert_sent<T: DeserializeOwned>(
    conn: &mut AsyncPgConnection,
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
/// # use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let db = pgmq_orm_test::TestDb::new();
/// # let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
/// diesel::sql_query("SELECT pgmq.create('jobs')").execute(&mut conn).await.unwrap();
/// pgmq_orm_test::diesel_async::assert_not_sent(&mut conn, "jobs", |_: &pgmq_orm_core::Message<u32>| true).await;
/// # }
/// ```
pub async fn assert_not_sent<T: DeserializeOwned>(
    conn: &mut AsyncPgConnection,
    queue: impl IntoQueueName,
    predicate: impl Fn(&Message<T>) -> bool,
) {
    let (queue, rows) = rows(conn, queue)
        .await
        .unwrap_or_else(|e| panic!("assert_not_sent: {e}"));
    peek::none(&queue, rows, predicate);
}
