//! [`PinnedConnection`]: one PostgreSQL connection held out of a SeaORM pool, so that a
//! hot loop of queue calls pays one round trip per call instead of the pool's three.
//!
//! A `DatabaseConnection` checks a connection out of its sqlx pool for every statement and
//! gives it back afterwards; sqlx pings the connection on that return (always), and on the
//! checkout too unless `test_before_acquire(false)`. A worker that sends, reads and deletes
//! in a loop pays those pings on every call. A `PinnedConnection` checks one connection out
//! once and runs every statement on it directly: it implements SeaORM's
//! [`ConnectionTrait`], so [`PgmqConnectionExt`](crate::PgmqConnectionExt),
//! [`Queue`](crate::Queue) and your own entity queries all run on it unchanged.
//!
//! It is a connection, not a pool: calls through one `PinnedConnection` run one at a time
//! (they wait for each other), and it goes back to its pool when dropped. Use one per
//! worker task. A connection that breaks (server restart, `pg_terminate_backend`, network)
//! fails the call that finds it broken and is closed; the next call checks a fresh one
//! out of the pool. For a unit of work that must commit together, begin a transaction on
//! the `DatabaseConnection` as usual; a transaction holds its connection in the same way.
//!
//! A call never leaves the connection half-used: if its future is dropped mid-statement
//! (a `tokio::time::timeout`, a `select!`, a cancelled task) the connection is closed and
//! the next call takes a fresh one, instead of waiting behind the abandoned statement.
//! [`PinnedConnection::with_statement_timeout`] bounds every call on the client side, so
//! a lock wait, a frozen server or a dead network cannot hold a caller forever.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sea_query::Values;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Executor, PgPool, Postgres};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

/// One PostgreSQL connection checked out of a pool and held: every statement run through
/// it is one request, with none of the pool's liveness pings around it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_db = pgmq_harness::TestDb::new();
/// use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, PinnedConnection, VisibilityTimeout};
///
/// let db = sea_orm::Database::connect(test_db.url()).await?;
/// db.create_queue("jobs").await?;
///
/// let conn = PinnedConnection::acquire(&db).await?;
/// for n in 0..10 {
///     conn.send("jobs", &n).await?;
/// }
/// let jobs = conn
///     .read::<i32>("jobs", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)
///     .await?;
/// assert_eq!(jobs.len(), 10);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PinnedConnection {
    /// Where a broken connection's replacement comes from.
    pool: PgPool,
    /// The held connection; `None` after it broke, until the next call.
    conn: Mutex<Option<PoolConnection<Postgres>>>,
    /// Client-side limit on each call, if any.
    timeout: Option<Duration>,
}

impl PinnedConnection {
    /// Checks one connection out of `db`'s pool and holds it until dropped. Fails with
    /// [`DbErr::ConnectionAcquire`] when the pool has none free in its acquire timeout,
    /// and with [`DbErr::Conn`] when `db` is not a PostgreSQL pool.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_db = pgmq_harness::TestDb::new();
    /// use sea_orm::ConnectionTrait;
    ///
    /// let db = sea_orm::Database::connect(test_db.url()).await?;
    /// let conn = sea_orm_pgmq::PinnedConnection::acquire(&db).await?;
    /// conn.execute_unprepared("SELECT 1").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire(db: &DatabaseConnection) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Err(DbErr::Conn(RuntimeErr::Internal(
                "a PinnedConnection needs a PostgreSQL DatabaseConnection".into(),
            )));
        }
        Self::acquire_from(db.get_postgres_connection_pool()).await
    }

    /// Checks one connection out of a sqlx [`PgPool`] (the one under a SeaORM
    /// `DatabaseConnection`, or your own) and holds it until dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_db = pgmq_harness::TestDb::new();
    /// use sea_orm_pgmq::PgmqConnectionExt;
    ///
    /// let pool = sea_orm::sqlx::PgPool::connect(test_db.url()).await?;
    /// let conn = sea_orm_pgmq::PinnedConnection::acquire_from(&pool).await?;
    /// conn.create_queue("jobs").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire_from(pool: &PgPool) -> Result<Self, DbErr> {
        let conn = pool.acquire().await.map_err(acquire_error)?;
        Ok(Self {
            pool: pool.clone(),
            conn: Mutex::new(Some(conn)),
            timeout: None,
        })
    }

    /// Bounds every call on the client side: one that has not finished after `limit`
    /// (waiting for the connection included) fails, and its connection is closed (the
    /// server may still be running the statement) and replaced on the next call. This is
    /// what stops a lock wait, a frozen server or a dead network from holding the caller;
    /// TCP keepalives do not help against a frozen server, whose kernel still answers
    /// them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let test_db = pgmq_harness::TestDb::new();
    /// use std::time::Duration;
    /// use sea_orm::ConnectionTrait;
    ///
    /// let db = sea_orm::Database::connect(test_db.url()).await?;
    /// let conn = sea_orm_pgmq::PinnedConnection::acquire(&db)
    ///     .await?
    ///     .with_statement_timeout(Duration::from_millis(200));
    /// assert!(conn.execute_unprepared("SELECT pg_sleep(5)").await.is_err());
    /// conn.execute_unprepared("SELECT 1").await?; // on a fresh connection
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_statement_timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Runs `run` on the held connection, checking a new one out first if the last one
    /// broke, and closing this one if `run` finds it broken, runs past the timeout, or is
    /// dropped before it finishes.
    async fn with_conn<T>(
        &self,
        run: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, Failure> {
        let call = async {
            let mut held = self.conn.lock().await;
            let conn = match held.take() {
                Some(conn) => conn,
                None => self.pool.acquire().await.map_err(Failure::Acquire)?,
            };
            // Closed if this future is dropped mid-statement: the connection would
            // otherwise carry the abandoned statement's reply into the next call.
            let mut guard = CloseUnlessReturned(Some(conn));
            let result = match guard.0.as_mut() {
                Some(conn) => run(conn).await,
                None => unreachable!("the guard holds the connection until returned"),
            };
            if let Some(mut conn) = guard.0.take() {
                if result.as_ref().is_err_and(is_broken) {
                    conn.close_on_drop();
                } else {
                    *held = Some(conn);
                }
            }
            result.map_err(Failure::Run)
        };
        match self.timeout {
            None => call.await,
            Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
                Err(Failure::Run(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("statement did not finish within {limit:?} (client-side timeout)"),
                ))))
            }),
        }
    }

    /// Runs `stmt` with its values bound, handing the statement's values to sqlx without
    /// copying them (a `DatabaseConnection` clones them first).
    async fn with_query<T>(
        &self,
        stmt: Statement,
        run: impl AsyncFnOnce(
            sqlx::query::Query<'_, Postgres, SqlxValues>,
            &mut sqlx::PgConnection,
        ) -> Result<T, sqlx::Error>,
    ) -> Result<T, Failure> {
        let Statement { sql, values, .. } = stmt;
        let query = sqlx::query_with(
            sqlx::AssertSqlSafe(sql.as_str()),
            SqlxValues(values.unwrap_or(Values(Vec::new()))),
        );
        self.with_conn(async |conn| run(query, conn).await).await
    }
}

/// Holds the connection while a statement runs; closes it if dropped still holding it.
struct CloseUnlessReturned(Option<PoolConnection<Postgres>>);

impl Drop for CloseUnlessReturned {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// Why a call failed: no connection to run on, or the statement failed.
enum Failure {
    Acquire(sqlx::Error),
    Run(sqlx::Error),
}

impl Failure {
    /// As SeaORM reports it: acquire failures as such, `as_db_err` for the statement's.
    fn into_db_err(self, as_db_err: fn(RuntimeErr) -> DbErr) -> DbErr {
        match self {
            Self::Acquire(err) => acquire_error(err),
            Self::Run(err) => as_db_err(RuntimeErr::SqlxError(Arc::new(err))),
        }
    }
}

/// Whether `err` leaves the connection unusable: the transport failed, or the server
/// ended the session (SQLSTATE class 08, connection exception; 57P, operator intervention).
fn is_broken(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed)
        }
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for PinnedConnection {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.with_query(stmt, async |q, c| q.execute(c).await)
            .await
            .map(ExecResult::from)
            .map_err(|f| f.into_db_err(DbErr::Exec))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.with_conn(async |c| c.execute(sqlx::AssertSqlSafe(sql.to_owned())).await)
            .await
            .map(ExecResult::from)
            .map_err(|f| f.into_db_err(DbErr::Exec))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.with_query(stmt, async |q, c| q.fetch_optional(c).await)
            .await
            .map(|row| row.map(QueryResult::from))
            .map_err(|f| f.into_db_err(DbErr::Query))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.with_query(stmt, async |q, c| q.fetch_all(c).await)
            .await
            .map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(|f| f.into_db_err(DbErr::Query))
    }
}
