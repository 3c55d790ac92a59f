//! A dead-letter toolkit on SeaORM (feature `consumer`): list and inspect what a
//! consumer dead-lettered without consuming it, and move messages back in one
//! transaction.
//!
//! The SQL and the move plan are the core's ([`dead_letter_sql`], [`plan_requeue`]);
//! this module runs them on any SeaORM connection (a `DatabaseConnection`, or your
//! `DatabaseTransaction`, in which the move then nests as a savepoint).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = pgmq_harness::TestDb::new();
//! # let conn = sea_orm::Database::connect(db.url()).await?;
//! use sea_orm_pgmq::dead_letter::DeadLetters;
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

pub use pgmq_orm_core::consumer::{
    DeadLetter, DeadLetterInfo, Requeued, dead_letter_sql, plan_requeue, requeued,
};
use pgmq_orm_core::{BatchSize, Delay, Error, IntoQueueName, QueueName, RawMessage};
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

/// One dead-letter queue: list, inspect, and move messages back to their source queue
/// (or to [`requeue_to`](Self::requeue_to)'s queue).
///
/// ```
/// let dlq = sea_orm_pgmq::dead_letter::DeadLetters::new("jobs_dlq")?.requeue_to("jobs_retry")?;
/// # Ok::<(), sea_orm_pgmq::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetters {
    dlq: QueueName,
    target: Option<QueueName>,
}

impl DeadLetters {
    /// The toolkit for dead-letter queue `dlq`; messages go back to the queue recorded
    /// in their failure record.
    ///
    /// ```
    /// assert!(sea_orm_pgmq::dead_letter::DeadLetters::new("Bad Name").is_err());
    /// ```
    pub fn new(dlq: impl IntoQueueName) -> Result<Self, Error> {
        Ok(Self {
            dlq: dlq.into_queue_name()?,
            target: None,
        })
    }

    /// Sends moved messages to `queue` instead of their recorded source queue (also the
    /// way to move messages that carry no failure record).
    ///
    /// ```
    /// let dlq = sea_orm_pgmq::dead_letter::DeadLetters::new("jobs_dlq")?.requeue_to("jobs")?;
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    pub fn requeue_to(mut self, queue: impl IntoQueueName) -> Result<Self, Error> {
        self.target = Some(queue.into_queue_name()?);
        Ok(self)
    }

    /// Up to `limit` dead letters with `msg_id > after` (0 for the first page), oldest
    /// first. Reads the queue's table, so nothing is hidden and no `read_ct` changes.
    ///
    /// ```no_run
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let dlq = sea_orm_pgmq::dead_letter::DeadLetters::new("jobs_dlq")?;
    /// for dead in dlq.list(db, 0, sea_orm_pgmq::BatchSize::new(100)?).await? {
    ///     println!("{} failed: {:?}", dead.message.msg_id, dead.info.map(|i| i.error));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list<C: ConnectionTrait>(
        &self,
        conn: &C,
        after: i64,
        limit: BatchSize,
    ) -> Result<Vec<DeadLetter>, Error> {
        let values = vec![after.into(), i64::from(limit.get()).into()];
        rows(conn, dead_letter_sql::list(&self.dlq), values)
            .await?
            .into_iter()
            .map(DeadLetter::decode)
            .collect()
    }

    /// One dead letter with its payload decoded into `T`; `None` if no such id.
    ///
    /// ```no_run
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let dlq = sea_orm_pgmq::dead_letter::DeadLetters::new("jobs_dlq")?;
    /// if let Some(dead) = dlq.inspect::<serde_json::Value, _>(db, 7).await? {
    ///     println!("{:?}", dead.info);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn inspect<T: DeserializeOwned, C: ConnectionTrait>(
        &self,
        conn: &C,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        rows(conn, dead_letter_sql::get(&self.dlq), vec![msg_id.into()])
            .await?
            .into_iter()
            .next()
            .map(DeadLetter::decode)
            .transpose()
    }

    /// Moves the dead letters with these ids back, in one transaction: each is sent
    /// with its original headers and deleted here, or nothing happens. Ids not in the
    /// queue are skipped; the result lists what moved and the new ids.
    ///
    /// ```no_run
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let moved = sea_orm_pgmq::dead_letter::DeadLetters::new("jobs_dlq")?.requeue(db, &[3, 4]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn requeue<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
        ids: &[i64],
    ) -> Result<Vec<Requeued>, Error> {
        let ids = Value::Array(
            ArrayType::BigInt,
            Some(Box::new(ids.iter().map(|&i| i.into()).collect())),
        );
        let tx = conn.begin().await.map_err(into_pgmq_error)?;
        let dead = rows(&tx, dead_letter_sql::lock_ids(&self.dlq), vec![ids]).await?;
        self.send_back(tx, dead).await
    }

    /// Moves every message of the dead-letter queue back, in one transaction.
    ///
    /// ```no_run
    /// # async fn f(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm_pgmq::Error> {
    /// let moved = sea_orm_pgmq::dead_letter::DeadLetters::new("jobs_dlq")?.requeue_all(db).await?;
    /// println!("{} messages back in their queues", moved.len());
    /// # Ok(()) }
    /// ```
    pub async fn requeue_all<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
    ) -> Result<Vec<Requeued>, Error> {
        let tx = conn.begin().await.map_err(into_pgmq_error)?;
        let dead = rows(&tx, dead_letter_sql::lock_all(&self.dlq), Vec::new()).await?;
        self.send_back(tx, dead).await
    }

    /// Sends and deletes `dead` in `tx`, then commits; an early return drops `tx`, which
    /// rolls everything back.
    async fn send_back(
        &self,
        tx: DatabaseTransaction,
        dead: Vec<RawMessage>,
    ) -> Result<Vec<Requeued>, Error> {
        let mut moved = Vec::new();
        for batch in plan_requeue(dead, self.target.as_ref())? {
            let send = query::send_batch_with(
                &batch.queue,
                batch.messages.clone(),
                batch.headers.clone(),
                Delay::Seconds(0),
            );
            let sent = ids(&tx, send).await?;
            let deleted = tx.delete_batch(&self.dlq, &batch.dead_ids).await?;
            moved.extend(requeued(&batch, &sent, &deleted)?);
        }
        tx.commit().await.map_err(into_pgmq_error)?;
        Ok(moved)
    }
}
