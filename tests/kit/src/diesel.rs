//! What was sent to a queue, seen from a sync Diesel [`PgConnection`] (feature `diesel`).
//!
//! The helpers read the queue's table without taking anything (no `read_ct` or
//! visibility change) and see messages that are not visible yet. On the connection of an
//! open transaction they see that transaction's own uncommitted sends, so a test can check
//! what the code under test queued before deciding to commit or roll back.
//!
//! ```
//! use diesel::{Connection, PgConnection, RunQueryDsl};
//! use pgmq_orm_test::diesel::{assert_not_sent, assert_sent, sent};
//!
//! let db = pgmq_orm_test::TestDb::new();
//! let mut conn = PgConnection::establish(db.url()).unwrap();
//! diesel::sql_query("SELECT pgmq.create('orders')").execute(&mut conn).unwrap();
//! conn.test_transaction::<_, diesel::result::Error, _>(|tx| {
//!     // The code under test sends inside the transaction (here, plain SQL).
//!     diesel::sql_query(r#"SELECT pgmq.send('orders', '{"id": 7}')"#).execute(tx)?;
//!     let order = assert_sent(tx, "orders", |m: &pgmq_orm_core::Message<serde_json::Value>| {
//!         m.message["id"] == 7
//!     });
//!     assert_eq!(order.read_ct, 0, "peeking does not read the message");
//!     assert_not_sent(tx, "orders", |m: &pgmq_orm_core::Message<serde_json::Value>| {
//!         m.message["id"] == 8
//!     });
//!     Ok(())
//! });
//! // `test_transaction` rolled back: nothing was sent after all.
//! assert!(sent::<serde_json::Value>(&mut conn, "orders").unwrap().is_empty());
//! ```

use diesel::{PgConnection, RunQueryDsl};
use pgmq_orm_core::{Error, IntoQueueName, Message, QueueName};
use serde::de::DeserializeOwned;

use crate::diesel_rows::Rows;
use crate::peek;

fn rows(
    conn: &mut PgConnection,
    queue: impl IntoQueueName,
) -> Result<(QueueName, Vec<pgmq_orm_core::RawJsonMessage>), Error> {
    let (queue, sql) = peek::prepare(queue)?;
    let loaded: Rows = diesel::sql_query(sql).get_result(conn)?;
    Ok((queue, peek::parse(&loaded.rows)?))
}

/// Every message in `queue`, oldest first, decoded into `T` (headers as JSON), without
/// taking any. An error if the queue does not exist or a payload does not decode.
///
/// ```
/// # use diesel::{Connection, PgConnection, RunQueryDsl};
/// # let db = pgmq_orm_test::TestDb::new();
/// # let mut conn = PgConnection::establish(db.url()).unwrap();
/// diesel::sql_query("SELECT pgmq.create('jobs')").execute(&mut conn)?;
/// diesel::sql_query("SELECT pgmq.send('jobs', '1'), pgmq.send('jobs', '2')").execute(&mut conn)?;
/// let jobs = pgmq_orm_test::diesel::sent::<u32>(&mut conn, "jobs")?;
/// assert_eq!(jobs.iter().map(|m| m.message).collect::<Vec<_>>(), [1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sent<T: DeserializeOwned>(
    conn: &mut PgConnection,
    queue: impl IntoQueueName,
) -> Result<Vec<Message<T>>, Error> {
    peek::decode_all(rows(conn, queue)?.1)
}

/// The first message in `queue` that decodes into `T` and satisfies `predicate`. Panics
/// (listing what the queue holds) when there is none or the queue cannot be read.
///
/// ```
/// # use diesel::{Connection, PgConnection, RunQueryDsl};
/// # let db = pgmq_orm_test::TestDb::new();
/// # let mut conn = PgConnection::establish(db.url()).unwrap();
/// diesel::sql_query("SELECT pgmq.create('jobs')").execute(&mut conn).unwrap();
/// diesel::sql_query("SELECT pgmq.send('jobs', '5')").execute(&mut conn).unwrap();
/// let job = pgmq_orm_test::diesel::assert_sent(&mut conn, "jobs", |m: &pgmq_orm_core::Message<u32>| m.message == 5);
/// assert_eq!(job.read_ct, 0);
/// ```
pub fn assert_sent<T: DeserializeOwned>(
    conn: &mut PgConnection,
    queue: impl IntoQueueName,
    predicate: impl Fn(&Message<T>) -> bool,
) -> Message<T> {
    let (queue, rows) = rows(conn, queue).unwrap_or_else(|e| panic!("assert_sent: {e}"));
    peek::find(&queue, rows, predicate)
}

/// Panics (listing the offending messages) if a message in `queue` decodes into `T` and
/// satisfies `predicate`, or if the queue cannot be read.
///
/// ```
/// # use diesel::{Connection, PgConnection, RunQueryDsl};
/// # let db = pgmq_orm_test::TestDb::new();
/// # let mut conn = PgConnection::establish(db.url()).unwrap();
/// diesel::sql_query("SELECT pgmq.create('jobs')").execute(&mut conn).unwrap();
/// pgmq_orm_test::diesel::assert_not_sent(&mut conn, "jobs", |_: &pgmq_orm_core::Message<u32>| true);
/// ```
pub fn assert_not_sent<T: DeserializeOwned>(
    conn: &mut PgConnection,
    queue: impl IntoQueueName,
    predicate: impl Fn(&Message<T>) -> bool,
) {
    let (queue, rows) = rows(conn, queue).unwrap_or_else(|e| panic!("assert_not_sent: {e}"));
    peek::none(&queue, rows, predicate);
}
