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
use pgmq_orm_core::consumer::{dead_letter_sql, decode_dead_letters, requeued};
use pgmq_orm_core::{Batch, BatchSize, Error, RawJsonMessage};
use sea_orm::sea_query::{ArrayType, Value};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, Statement, TransactionTrait,
};
use serde::de::DeserializeOwned;

use crate::into_pgmq_error;
use crate::query::MessageRow;

async fn load<R: FromQueryResult, C: ConnectionTrait>(
    conn: &C,
    sql: String,
    values: Vec<Value>,
) -> Result<Vec<R>, Error> {
    let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    R::find_by_statement(stmt)
        .all(conn)
        .await
        .map_err(into_pgmq_error)
}

/// Rows of a dead-letter queue's table, payload and headers as their exact JSON text.
async fn rows<C: ConnectionTrait>(
    conn: &C,
    sql: String,
    values: Vec<Value>,
) -> Result<Vec<RawJsonMessage>, Error> {
    let rows: Vec<MessageRow> = load(conn, sql, values).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A locked dead letter's id and recorded source queue ([`dead_letter_sql::lock_sources`]).
#[derive(FromQueryResult)]
struct SourceRow {
    msg_id: i64,
    source_queue: Option<String>,
}

/// What [`dead_letter_sql::move_back`] returns.
#[derive(FromQueryResult)]
struct MovedRow {
    dead: Vec<i64>,
    sent: Vec<i64>,
}

fn id_array(ids: &[i64]) -> Value {
    Value::Array(
        ArrayType::BigInt,
        Some(Box::new(ids.iter().map(|&i| i.into()).collect())),
    )
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
    ) -> impl Future<Output = Result<Batch<DeadLetter>, Error>> + Send;

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
    ) -> Result<Batch<DeadLetter>, Error> {
        let values = vec![after.into(), i64::from(limit.get()).into()];
        let rows = rows(conn, dead_letter_sql::list(self.queue()), values).await?;
        Ok(decode_dead_letters(&rows))
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
        .first()
        .map(|r| DeadLetter::decode(r).map_err(Error::Decode))
        .transpose()
    }

    async fn requeue<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
        ids: &[i64],
    ) -> Result<Vec<Requeued>, Error> {
        let tx = conn.begin().await.map_err(into_pgmq_error)?;
        let sql = dead_letter_sql::lock_sources(self.queue());
        let dead = load(&tx, sql, vec![id_array(ids)]).await?;
        move_back(self, tx, dead).await
    }

    async fn requeue_all<C: TransactionTrait<Transaction = DatabaseTransaction>>(
        &self,
        conn: &C,
    ) -> Result<Vec<Requeued>, Error> {
        let tx = conn.begin().await.map_err(into_pgmq_error)?;
        let sql = dead_letter_sql::lock_all_sources(self.queue());
        let dead = load(&tx, sql, Vec::new()).await?;
        move_back(self, tx, dead).await
    }
}

/// Moves the locked `rows` back in `tx`, one statement per run of messages going to the
/// same queue (payloads and headers copied in the server, never parsed), then commits; an
/// early return drops `tx`, which rolls everything back.
async fn move_back(
    dead: &DeadLetters,
    tx: DatabaseTransaction,
    rows: Vec<SourceRow>,
) -> Result<Vec<Requeued>, Error> {
    let plan = dead.plan(
        rows.into_iter()
            .map(|r| (r.msg_id, r.source_queue))
            .collect(),
    )?;
    let sql = dead_letter_sql::move_back(dead.queue());
    let mut moved = Vec::new();
    for run in plan {
        let values = vec![id_array(&run.dead_ids), run.queue.as_str().into()];
        let rows: Vec<MovedRow> = load(&tx, sql.clone(), values).await?;
        let (gone, sent) = rows
            .into_iter()
            .next()
            .map_or_else(Default::default, |r| (r.dead, r.sent));
        moved.extend(requeued(&run, &gone, &sent)?);
    }
    tx.commit().await.map_err(into_pgmq_error)?;
    Ok(moved)
}
