//! A dead-letter toolkit on diesel-async (feature `consumer`) and on sync Diesel
//! (feature `sync-consumer`): list and inspect what a consumer dead-lettered without
//! consuming it, and move messages back in one transaction.
//!
//! [`DeadLetters`] (which queue, and where messages go back to), the SQL and the move plan
//! are the core's; [`DeadLetterOps`] runs them on an `AsyncPgConnection` (or a bb8 pooled
//! one, through `&mut *pooled`), [`SyncDeadLetterOps`] on a `PgConnection` (or an r2d2
//! pooled one).
//!
//! ```
//! # #[cfg(feature = "sync-consumer")] {
//! use diesel::{Connection, PgConnection};
//! use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
//! use diesel_pgmq::{BatchSize, PgmqConnectionExt};
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! conn.create_queue("jobs")?;
//! conn.create_queue("jobs_dlq")?;
//! # let headers = serde_json::json!({"x-pgmq-dead-letter": {"source_queue": "jobs", "msg_id": 1, "read_ct": 5, "error": "boom"}});
//! # conn.send_with("jobs_dlq", &serde_json::json!({"order": 1}), Some(&headers), diesel_pgmq::Delay::Seconds(0))?;
//! // ... a blocking consumer dead-lettered a message into `jobs_dlq` ...
//! let dlq = DeadLetters::new("jobs_dlq")?;
//! let dead = dlq.list_sync(&mut conn, 0, BatchSize::new(50)?)?;
//! assert_eq!(dead[0].info.as_ref().unwrap().error, "boom");
//! let again = dlq.inspect_sync::<serde_json::Value>(&mut conn, dead[0].message.msg_id)?;
//! assert!(again.is_some());
//! let moved = dlq.requeue_sync(&mut conn, &[dead[0].message.msg_id])?;
//! assert_eq!(moved[0].queue.as_str(), "jobs");
//! assert!(dlq.requeue_all_sync(&mut conn)?.is_empty());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # #[cfg(feature = "consumer")] {
//! use diesel_async::{AsyncConnection, AsyncPgConnection};
//! use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
//! use diesel_pgmq::{BatchSize, PgmqAsyncConnectionExt};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = AsyncPgConnection::establish(db.url()).await?;
//! conn.create_queue("jobs").await?;
//! conn.create_queue("jobs_dlq").await?;
//! # let headers = serde_json::json!({"x-pgmq-dead-letter": {"source_queue": "jobs", "msg_id": 1, "read_ct": 5, "error": "boom"}});
//! # conn.send_with("jobs_dlq", &serde_json::json!({"order": 1}), Some(&headers), diesel_pgmq::Delay::Seconds(0)).await?;
//! // ... a consumer dead-lettered a message into `jobs_dlq` ...
//! let dlq = DeadLetters::new("jobs_dlq")?;
//! let dead = dlq.list(&mut conn, 0, BatchSize::new(50)?).await?;
//! assert_eq!(dead[0].info.as_ref().unwrap().error, "boom");
//! let moved = dlq.requeue(&mut conn, &[dead[0].message.msg_id]).await?;
//! assert_eq!(moved[0].queue.as_str(), "jobs");
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
#[cfg(feature = "consumer")]
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
#[cfg(feature = "consumer")]
use std::future::Future;

pub use pgmq_orm_core::consumer::{DeadLetter, DeadLetterInfo, DeadLetters, Requeued};
use pgmq_orm_core::consumer::{RequeueRun, dead_letter_sql, decode_dead_letters, requeued};
use pgmq_orm_core::{Batch, BatchSize, Error, RawJson, RawJsonMessage};
use serde::de::DeserializeOwned;

#[cfg(feature = "consumer")]
use crate::consumer::TxError;
#[cfg(feature = "consumer")]
use crate::error::from_diesel;

/// A locked dead letter's id and recorded source queue ([`dead_letter_sql::lock_sources`]).
#[derive(QueryableByName)]
struct SourceRow {
    #[diesel(sql_type = BigInt)]
    msg_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    source_queue: Option<String>,
}

/// What [`dead_letter_sql::move_back`] returns.
#[derive(QueryableByName)]
struct MovedRow {
    #[diesel(sql_type = Array<BigInt>)]
    dead: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    sent: Vec<i64>,
}

/// A row of a queue table, by column name, payload and headers as their exact JSON text
/// ([`dead_letter_sql`] selects them `::text`).
#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = BigInt)]
    msg_id: i64,
    #[diesel(sql_type = Integer)]
    read_ct: i32,
    #[diesel(sql_type = Timestamptz)]
    enqueued_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_read_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    vt: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    message: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    headers: Option<String>,
}

impl From<TableRow> for RawJsonMessage {
    fn from(r: TableRow) -> Self {
        let text = |t: String| RawJson::from_text(t.into_bytes());
        Self {
            msg_id: r.msg_id,
            read_ct: r.read_ct,
            enqueued_at: r.enqueued_at,
            last_read_at: r.last_read_at,
            vt: r.vt,
            message: r.message.map_or_else(RawJson::sql_null, text),
            headers: r.headers.map(text),
        }
    }
}

/// Decodes the rows of a listing.
fn decoded(rows: Vec<TableRow>) -> Batch<DeadLetter> {
    let rows: Vec<RawJsonMessage> = rows.into_iter().map(Into::into).collect();
    decode_dead_letters(&rows)
}

/// Decodes the row of an inspection, if there is one.
fn inspected<T: DeserializeOwned>(rows: Vec<TableRow>) -> Result<Option<DeadLetter<T>>, Error> {
    rows.into_iter()
        .next()
        .map(|r| DeadLetter::decode(&r.into()).map_err(Error::Decode))
        .transpose()
}

/// Plans the move of the locked `rows`.
fn plan(dead: &DeadLetters, rows: Vec<SourceRow>) -> Result<Vec<RequeueRun>, Error> {
    dead.plan(
        rows.into_iter()
            .map(|r| (r.msg_id, r.source_queue))
            .collect(),
    )
}

/// Checks what one run's move returned.
fn run_moved(run: &RequeueRun, rows: Vec<MovedRow>) -> Result<Vec<Requeued>, Error> {
    let (gone, sent) = rows
        .into_iter()
        .next()
        .map_or_else(Default::default, |r| (r.dead, r.sent));
    requeued(run, &gone, &sent)
}

/// The dead-letter toolkit on diesel-async, as methods of [`DeadLetters`].
#[cfg(feature = "consumer")]
///
/// ```no_run
/// use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
/// # async fn f(conn: &mut diesel_async::AsyncPgConnection) -> Result<(), diesel_pgmq::Error> {
/// let moved = DeadLetters::new("jobs_dlq")?.requeue_all(conn).await?;
/// # Ok(()) }
/// ```
pub trait DeadLetterOps {
    /// Up to `limit` dead letters with `msg_id > after` (0 for the first page), oldest
    /// first. Reads the queue's table, so nothing is hidden and no `read_ct` changes. An
    /// entry whose payload no `Value` holds (another producer's `1e400`) is kept raw in
    /// [`Batch::undecodable`] and never hides the others; page on with the largest msg_id
    /// of both halves.
    ///
    /// ```no_run
    /// # use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(conn: &mut diesel_async::AsyncPgConnection) -> Result<(), diesel_pgmq::Error> {
    /// for dead in DeadLetters::new("jobs_dlq")?.list(conn, 0, diesel_pgmq::BatchSize::new(100)?).await? {
    ///     println!("{} failed: {:?}", dead.message.msg_id, dead.info.map(|i| i.error));
    /// }
    /// # Ok(()) }
    /// ```
    fn list(
        &self,
        conn: &mut AsyncPgConnection,
        after: i64,
        limit: BatchSize,
    ) -> impl Future<Output = Result<Batch<DeadLetter>, Error>> + Send;

    /// One dead letter with its payload decoded into `T`; `None` if no such id.
    ///
    /// ```no_run
    /// # use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(conn: &mut diesel_async::AsyncPgConnection) -> Result<(), diesel_pgmq::Error> {
    /// if let Some(dead) = DeadLetters::new("jobs_dlq")?.inspect::<serde_json::Value>(conn, 7).await? {
    ///     println!("{:?}", dead.info);
    /// }
    /// # Ok(()) }
    /// ```
    fn inspect<T: DeserializeOwned>(
        &self,
        conn: &mut AsyncPgConnection,
        msg_id: i64,
    ) -> impl Future<Output = Result<Option<DeadLetter<T>>, Error>> + Send;

    /// Moves the dead letters with these ids back, in one transaction: each is sent
    /// with its payload and original headers exactly as they were (copied inside the
    /// server, never parsed) and deleted here, or nothing happens. Ids not in the
    /// queue are skipped; the result lists what moved and the new ids.
    ///
    /// ```no_run
    /// # use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(conn: &mut diesel_async::AsyncPgConnection) -> Result<(), diesel_pgmq::Error> {
    /// let moved = DeadLetters::new("jobs_dlq")?.requeue(conn, &[3, 4]).await?;
    /// # Ok(()) }
    /// ```
    fn requeue(
        &self,
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> impl Future<Output = Result<Vec<Requeued>, Error>> + Send;

    /// Moves every message of the dead-letter queue back, in one transaction.
    ///
    /// ```no_run
    /// # use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
    /// # async fn f(conn: &mut diesel_async::AsyncPgConnection) -> Result<(), diesel_pgmq::Error> {
    /// let moved = DeadLetters::new("jobs_dlq")?.requeue_all(conn).await?;
    /// println!("{} messages back in their queues", moved.len());
    /// # Ok(()) }
    /// ```
    fn requeue_all(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> impl Future<Output = Result<Vec<Requeued>, Error>> + Send;
}

#[cfg(feature = "consumer")]
impl DeadLetterOps for DeadLetters {
    async fn list(
        &self,
        conn: &mut AsyncPgConnection,
        after: i64,
        limit: BatchSize,
    ) -> Result<Batch<DeadLetter>, Error> {
        let rows: Vec<TableRow> = diesel::sql_query(dead_letter_sql::list(self.queue()))
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(i64::from(limit.get()))
            .load(conn)
            .await
            .map_err(from_diesel)?;
        Ok(decoded(rows))
    }

    async fn inspect<T: DeserializeOwned>(
        &self,
        conn: &mut AsyncPgConnection,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        let rows: Vec<TableRow> = diesel::sql_query(dead_letter_sql::get(self.queue()))
            .bind::<BigInt, _>(msg_id)
            .load(conn)
            .await
            .map_err(from_diesel)?;
        inspected(rows)
    }

    async fn requeue(
        &self,
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> Result<Vec<Requeued>, Error> {
        let sql = dead_letter_sql::lock_sources(self.queue());
        conn.transaction(async |tx| {
            let rows: Vec<SourceRow> = diesel::sql_query(sql)
                .bind::<Array<BigInt>, _>(ids)
                .load(tx)
                .await?;
            move_back(self, tx, rows).await
        })
        .await
        .map_err(|e| e.0)
    }

    async fn requeue_all(&self, conn: &mut AsyncPgConnection) -> Result<Vec<Requeued>, Error> {
        let sql = dead_letter_sql::lock_all_sources(self.queue());
        conn.transaction(async |tx| {
            let rows: Vec<SourceRow> = diesel::sql_query(sql).load(tx).await?;
            move_back(self, tx, rows).await
        })
        .await
        .map_err(|e| e.0)
    }
}

/// Moves the locked `rows` back, one statement per run of messages going to the same
/// queue, inside `tx`; payloads and headers are copied in the server, never parsed.
#[cfg(feature = "consumer")]
async fn move_back(
    dead: &DeadLetters,
    tx: &mut AsyncPgConnection,
    rows: Vec<SourceRow>,
) -> Result<Vec<Requeued>, TxError> {
    let sql = dead_letter_sql::move_back(dead.queue());
    let mut moved = Vec::new();
    for run in plan(dead, rows)? {
        let rows: Vec<MovedRow> = diesel::sql_query(&sql)
            .bind::<Array<BigInt>, _>(&run.dead_ids)
            .bind::<Text, _>(run.queue.as_str())
            .load(tx)
            .await?;
        moved.extend(run_moved(&run, rows)?);
    }
    Ok(moved)
}

/// The dead-letter toolkit on sync Diesel (feature `sync-consumer`), as methods of
/// [`DeadLetters`]: the same operations as [`DeadLetterOps`], on a `PgConnection`.
///
/// ```
/// # use diesel::{Connection, PgConnection};
/// # use diesel_pgmq::PgmqConnectionExt;
/// use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
/// # let db = pgmq_harness::TestDb::new();
/// # let mut conn = PgConnection::establish(db.url())?;
/// # conn.create_queue("jobs_dlq")?;
/// let moved = DeadLetters::new("jobs_dlq")?.requeue_all_sync(&mut conn)?;
/// assert!(moved.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "sync-consumer")]
pub trait SyncDeadLetterOps {
    /// Up to `limit` dead letters with `msg_id > after`, oldest first, read from the
    /// table (nothing hidden, no `read_ct` changed); undecodable entries are kept raw in
    /// [`Batch::undecodable`].
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::{BatchSize, PgmqConnectionExt};
    /// # use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("jobs_dlq")?;
    /// assert!(DeadLetters::new("jobs_dlq")?.list_sync(&mut conn, 0, BatchSize::new(10)?)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn list_sync(
        &self,
        conn: &mut diesel::PgConnection,
        after: i64,
        limit: BatchSize,
    ) -> Result<Batch<DeadLetter>, Error>;

    /// One dead letter with its payload decoded into `T`; `None` if no such id.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::PgmqConnectionExt;
    /// # use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("jobs_dlq")?;
    /// assert!(DeadLetters::new("jobs_dlq")?.inspect_sync::<serde_json::Value>(&mut conn, 7)?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn inspect_sync<T: DeserializeOwned>(
        &self,
        conn: &mut diesel::PgConnection,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error>;

    /// Moves the dead letters with these ids back in one transaction (payload and
    /// original headers copied in the server); ids not in the queue are skipped.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::PgmqConnectionExt;
    /// # use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("jobs_dlq")?;
    /// assert!(DeadLetters::new("jobs_dlq")?.requeue_sync(&mut conn, &[3, 4])?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn requeue_sync(
        &self,
        conn: &mut diesel::PgConnection,
        ids: &[i64],
    ) -> Result<Vec<Requeued>, Error>;

    /// Moves every message of the dead-letter queue back, in one transaction.
    ///
    /// ```
    /// # use diesel::{Connection, PgConnection};
    /// # use diesel_pgmq::PgmqConnectionExt;
    /// # use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
    /// # let db = pgmq_harness::TestDb::new();
    /// # let mut conn = PgConnection::establish(db.url())?;
    /// # conn.create_queue("jobs_dlq")?;
    /// assert!(DeadLetters::new("jobs_dlq")?.requeue_all_sync(&mut conn)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn requeue_all_sync(&self, conn: &mut diesel::PgConnection) -> Result<Vec<Requeued>, Error>;
}

#[cfg(feature = "sync-consumer")]
impl SyncDeadLetterOps for DeadLetters {
    fn list_sync(
        &self,
        conn: &mut diesel::PgConnection,
        after: i64,
        limit: BatchSize,
    ) -> Result<Batch<DeadLetter>, Error> {
        let rows: Vec<TableRow> = diesel::RunQueryDsl::load(
            diesel::sql_query(dead_letter_sql::list(self.queue()))
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(i64::from(limit.get())),
            conn,
        )?;
        Ok(decoded(rows))
    }

    fn inspect_sync<T: DeserializeOwned>(
        &self,
        conn: &mut diesel::PgConnection,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        let rows: Vec<TableRow> = diesel::RunQueryDsl::load(
            diesel::sql_query(dead_letter_sql::get(self.queue())).bind::<BigInt, _>(msg_id),
            conn,
        )?;
        inspected(rows)
    }

    fn requeue_sync(
        &self,
        conn: &mut diesel::PgConnection,
        ids: &[i64],
    ) -> Result<Vec<Requeued>, Error> {
        let sql = dead_letter_sql::lock_sources(self.queue());
        diesel::Connection::transaction(conn, |tx| {
            let rows: Vec<SourceRow> = diesel::RunQueryDsl::load(
                diesel::sql_query(sql).bind::<Array<BigInt>, _>(ids),
                tx,
            )?;
            move_back_sync(self, tx, rows)
        })
    }

    fn requeue_all_sync(&self, conn: &mut diesel::PgConnection) -> Result<Vec<Requeued>, Error> {
        let sql = dead_letter_sql::lock_all_sources(self.queue());
        diesel::Connection::transaction(conn, |tx| {
            let rows: Vec<SourceRow> = diesel::RunQueryDsl::load(diesel::sql_query(sql), tx)?;
            move_back_sync(self, tx, rows)
        })
    }
}

/// [`move_back`] on a sync connection.
#[cfg(feature = "sync-consumer")]
fn move_back_sync(
    dead: &DeadLetters,
    tx: &mut diesel::PgConnection,
    rows: Vec<SourceRow>,
) -> Result<Vec<Requeued>, Error> {
    let sql = dead_letter_sql::move_back(dead.queue());
    let mut moved = Vec::new();
    for run in plan(dead, rows)? {
        let rows: Vec<MovedRow> = diesel::RunQueryDsl::load(
            diesel::sql_query(&sql)
                .bind::<Array<BigInt>, _>(&run.dead_ids)
                .bind::<Text, _>(run.queue.as_str()),
            tx,
        )?;
        moved.extend(run_moved(&run, rows)?);
    }
    Ok(moved)
}
