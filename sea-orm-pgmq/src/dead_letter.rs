//! A dead-letter toolkit on SeaORM (feature `consumer`): list and inspect what a
//! consumer dead-lettered without consuming it, and move messages back in one
//! transaction.
//!
//! [`DeadLetters`] (which queue, and where messages go back to), the SQL and the move plan
//! are the core's; [`DeadLetterOps`] runs them on any SeaORM connection (a
//! `DatabaseConnection`, or your `DatabaseTransaction`, in which a move then nests as a
//! savepoint).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = pgmq_harness::TestDb::new();
//! # let conn = sea_orm::Database::connect(db.url()).await?;
//! use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
//! use sea_orm_pgmq::{BatchSize, PgmqConnectionExt};
//! conn.create_queue("jobs").await?;
//! conn.create_queue("jobs_dlq").await?;
//! # let headers = serde_json::json!({"x-pgmq-dead-letter": {"source_queue": "jobs", "msg_id": 1, "read_ct": 5, "error": "boom"}});
//! # conn.send_with("jobs_dlq", &serde_json::json!({"order": 1}), Some(&headers), sea_orm_pgmq::Delay::Seconds(0)).await?;
//! // ... a consumer dead-lettered a message into `jobs_dlq` ...
//! let dlq = DeadLetters::new("jobs_dlq")?;
//! let dead = dlq.list(&conn, 0, BatchSize::new(50)?).await?;
//! assert_eq!(dead[0].info.as_ref().unwrap().error, "boom");
//! let moved = dlq.requeue(&conn, &[dead[0].message.msg_id]).await?;
//! assert_eq!(moved[0].queue.as_str(), "jobs");
//! # Ok(())
//! # }
//! ```

use std::future::Future;

pub use pgmq_orm_core::consumer::{DeadLetter, DeadLetterInfo, DeadLetters, Requeued};
use pgmq_orm_core::consumer::{dead_letter_sql, requeued};
use pgmq_orm_core::{BatchSize, Delay, Error, RawMessage};
use sea_orm::sea_query::{ArrayType, Value};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, Statement, TransactionTrait,
};
use serde::de::DeserializeOwned;

use crate::connection::ids;
use crate::query::{self, MessageRow};
use crate::{PgmqConnectionExt, into_pgmq_error};

async fn rows<C: ConnectionTrait>(
    conn: &C,
    sql: String,
    values: Vec<Value>,
) -> Result<Vec<RawMessage>, Error> {
    let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    let rows = MessageRow::find_by_statement(stmt)
        .all(conn)
        .await
        .map_err(into_pgmq_error)?;
    Ok(rows.into_iter().map(RawMessage::from).collect())
}

/// The dead-letter toolkit on SeaORM, as methods of [`DeadLetters`].
///
/// ```no_run
/// use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
/// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
/// let moved = DeadLetters::new("jobs_dlq")?.requeue_all(db).await?;
/// # Ok(()) }
/// ```
pub trait DeadLetterOps {
    /// Up to `limit` dead letters with `msg_id > after` (0 for the first page), oldest
    /// first. Reads the queue's table, so nothing is hidden and no `read_ct` changes.
    ///
    /// ```no_run
    /// # use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// for dead in DeadLetters::new("jobs_dlq")?.list(db, 0, sea_orm_pgmq::BatchSize::new(100)?).await? {
    ///     println!("{} failed: {:?}", dead.message.msg_id, dead.info.map(|i| i.error));
    /// }
    /// # Ok(()) }
    /// ```
    fn list<C: ConnectionTrait>(
        &self,
        conn: &C,
        after: i64,
        limit: BatchSize,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, Error>> + Send;

    /// One dead letter with its payload decoded into `T`; `None` if no such id.
    ///
    /// ```no_run
    /// # use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// if let Some(dead) = DeadLetters::new("jobs_dlq")?.inspect::<serde_json::Value, _>(db, 7).await? {
    ///     println!("{:?}", dead.info);
    /// }
    /// # Ok(()) }
    /// ```
    fn inspect<T: DeserializeOwned, C: ConnectionTrait>(
        &self,
        conn: &C,
        msg_id: i64,
    ) -> impl Future<Output = Result<Option<DeadLetter<T>>, Error>> + Send;

    /// Moves the dead letters with these ids back, in one transaction: each is sent
    /// with its original headers and deleted here, or nothing happens. Ids not in the
    /// queue are skipped; the result lists what moved and the new ids.
    ///
    /// ```no_run
    /// # use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let moved = DeadLetters::new("jobs_dlq")?.requeue(db, &[3, 4]).await?;
    /// # Ok(()) }
    /// ```
    fn requeue<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
        ids: &[i64],
    ) -> impl Future<Output = Result<Vec<Requeued>, Error>> + Send;

    /// Moves every message of the dead-letter queue back, in one transaction.
    ///
    /// ```no_run
    /// # use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let moved = DeadLetters::new("jobs_dlq")?.requeue_all(db).await?;
    /// println!("{} messages back in their queues", moved.len());
    /// # Ok(()) }
    /// ```
    fn requeue_all<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
    ) -> impl Future<Output = Result<Vec<Requeued>, Error>> + Send;
}

impl DeadLetterOps for DeadLetters {
    async fn list<C: ConnectionTrait>(
        &self,
        conn: &C,
        after: i64,
        limit: BatchSize,
    ) -> Result<Vec<DeadLetter>, Error> {
        let values = vec![after.into(), i64::from(limit.get()).into()];
        rows(conn, dead_letter_sql::list(self.queue()), values)
            .await?
            .into_iter()
            .map(DeadLetter::decode)
            .collect()
    }

    async fn inspect<T: DeserializeOwned, C: ConnectionTrait>(
        &self,
        conn: &C,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        rows(
            conn,
            dead_letter_sql::get(self.queue()),
            vec![msg_id.into()],
        )
        .await?
        .into_iter()
        .next()
        .map(DeadLetter::decode)
        .transpose()
    }

    async fn requeue<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
        ids: &[i64],
    ) -> Result<Vec<Requeued>, Error> {
        let ids = Value::Array(
            ArrayType::BigInt,
            Some(Box::new(ids.iter().map(|&i| i.into()).collect())),
        );
        let tx = conn.begin().await.map_err(into_pgmq_error)?;
        let dead = rows(&tx, dead_letter_sql::lock_ids(self.queue()), vec![ids]).await?;
        send_back(self, tx, dead).await
    }

    async fn requeue_all<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
    ) -> Result<Vec<Requeued>, Error> {
        let tx = conn.begin().await.map_err(into_pgmq_error)?;
        let dead = rows(&tx, dead_letter_sql::lock_all(self.queue()), Vec::new()).await?;
        send_back(self, tx, dead).await
    }
}

/// Sends and deletes `rows` in `tx`, then commits; an early return drops `tx`, which
/// rolls everything back.
async fn send_back(
    dead: &DeadLetters,
    tx: DatabaseTransaction,
    rows: Vec<RawMessage>,
) -> Result<Vec<Requeued>, Error> {
    let mut moved = Vec::new();
    for batch in dead.plan(rows)? {
        let send = query::send_batch_with(
            &batch.queue,
            batch.messages.clone(),
            batch.headers.clone(),
            Delay::Seconds(0),
        );
        let sent = ids(&tx, send).await?;
        let deleted = tx.delete_batch(dead.queue(), &batch.dead_ids).await?;
        moved.extend(requeued(&batch, &sent, &deleted)?);
    }
    tx.commit().await.map_err(into_pgmq_error)?;
    Ok(moved)
}
