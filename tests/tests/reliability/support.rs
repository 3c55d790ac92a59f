//! What the reliability scenarios share: connections, the `processed` ledger that proves
//! exactly-once effects, and small waiting helpers.

use std::time::{Duration, Instant};

use pgmq_orm_core::{BoxError, Message};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement,
};
use sea_orm_pgmq::consumer::{BoxFuture, TxHandler};
use serde::{Deserialize, Serialize};

pub(crate) type Res = Result<(), BoxError>;

/// The payload every scenario moves: `id` is unique per message, so the ledger can tell
/// a lost message (missing id) from a duplicate (an id twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) id: i64,
}

/// A SeaORM pool of at most `max` connections, quiet, failing fast when it cannot get one.
pub(crate) async fn seaorm(url: &str, max: u32) -> Result<DatabaseConnection, BoxError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Ok(Database::connect(opts).await?)
}

/// Creates the ledger: one row per processing of a message. No unique constraint on
/// purpose, so that a second processing would show up as a second row instead of an
/// error that hides it.
pub(crate) async fn create_ledger(db: &DatabaseConnection) -> Res {
    db.execute_unprepared(
        "CREATE TABLE processed (
             row_id bigserial PRIMARY KEY,
             payload_id bigint NOT NULL,
             msg_id bigint NOT NULL,
             worker text NOT NULL
         )",
    )
    .await?;
    Ok(())
}

/// `(rows, distinct payload ids)` in the ledger.
pub(crate) async fn ledger_counts(db: &DatabaseConnection) -> Result<(i64, i64), BoxError> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n, count(DISTINCT payload_id) AS d FROM processed",
        ))
        .await?
        .ok_or("no row")?;
    Ok((row.try_get("", "n")?, row.try_get("", "d")?))
}

/// Records a processing in the ledger on `conn` (inside the caller's transaction).
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    payload_id: i64,
    msg_id: i64,
    worker: &str,
) -> Res {
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO processed (payload_id, msg_id, worker) VALUES ($1, $2, $3)",
        [payload_id.into(), msg_id.into(), worker.into()],
    ))
    .await?;
    Ok(())
}

/// The transactional handler of the SeaORM consumers: writes the ledger row in the
/// transaction that also deletes the message.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) worker: &'static str,
}

impl TxHandler<Job> for Record {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        m: Message<Job>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { record(tx, m.message.id, m.msg_id, self.worker).await })
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
pub(crate) async fn wait_until<F, Fut>(limit: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ledger's row count, or -1 while the database cannot be reached.
pub(crate) async fn ledger_rows(db: &DatabaseConnection) -> i64 {
    ledger_counts(db).await.map(|(n, _)| n).unwrap_or(-1)
}

/// The SQLSTATE of a core error, when it carries one.
pub(crate) fn sqlstate(e: &pgmq_orm_core::Error) -> Option<&str> {
    match e {
        pgmq_orm_core::Error::Database { code, .. } => code.as_deref(),
        _ => None,
    }
}

impl diesel_pgmq::consumer::TxHandler<Job> for Record {
    fn handle<'a>(
        &'a self,
        conn: &'a mut diesel_async::AsyncPgConnection,
        m: Message<Job>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        use diesel::sql_types::{BigInt, Text};
        use diesel_async::RunQueryDsl;
        Box::pin(async move {
            diesel::sql_query(
                "INSERT INTO processed (payload_id, msg_id, worker) VALUES ($1, $2, $3)",
            )
            .bind::<BigInt, _>(m.message.id)
            .bind::<BigInt, _>(m.msg_id)
            .bind::<Text, _>(self.worker)
            .execute(conn)
            .await?;
            Ok(())
        })
    }
}

/// A bb8 pool of diesel-async connections, as the Diesel consumer runtime takes it.
pub(crate) async fn diesel_pool(
    url: &str,
    max: u32,
) -> Result<diesel_pgmq::consumer::PgPool, BoxError> {
    use diesel_async::pooled_connection::AsyncDieselConnectionManager;
    Ok(diesel_pgmq::consumer::PgPool::builder()
        .max_size(max)
        .connection_timeout(Duration::from_secs(5))
        .build(AsyncDieselConnectionManager::<
            diesel_async::AsyncPgConnection,
        >::new(url))
        .await?)
}
