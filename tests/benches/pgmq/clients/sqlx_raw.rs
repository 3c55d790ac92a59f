//! The ceilings of the sqlx driver, which sea-orm-pgmq (through SeaORM) and the upstream
//! crate run on: the raw client's SQL, statements prepared once (sqlx caches them per
//! connection), every column decoded; on one held `PgConnection` (the ceiling of
//! sea-orm-pgmq's `PinnedConnection`) or through a one-connection `PgPool` (the ceiling of
//! a SeaORM `DatabaseConnection`, whose pool pings each connection it gets back).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Connection, Postgres, Row};

use super::{BATCH, BenchEvent, MESSAGE_COLUMNS, Op, Payload};

/// Where the statements go.
enum Target {
    Conn(PgConnection),
    /// Configured as the sea-orm-pgmq client's pool: one connection, no ping before an
    /// acquire (sqlx still pings each connection returned to it).
    Pool(PgPool),
}

impl Target {
    async fn fetch_all(&mut self, q: Query<'_, Postgres, PgArguments>) -> Vec<PgRow> {
        match self {
            Self::Conn(c) => q.fetch_all(c).await,
            Self::Pool(p) => q.fetch_all(&*p).await,
        }
        .expect("sqlx query")
    }
}

pub(crate) struct Worker {
    target: Target,
    queue: String,
}

static READ: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {MESSAGE_COLUMNS} FROM pgmq.read($1, $2, $3)"));
static POP: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {MESSAGE_COLUMNS} FROM pgmq.pop($1, $2)"));

/// Decodes every column, as a typed client must.
fn decode(row: &PgRow) -> (i64, BenchEvent) {
    decode_message_row!(row)
}

impl Worker {
    pub(crate) async fn connect(url: &str, queue: &str, pooled: bool) -> Self {
        let target = if pooled {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .test_before_acquire(false)
                .connect(url)
                .await
                .expect("sqlx pool");
            Target::Pool(pool)
        } else {
            Target::Conn(PgConnection::connect(url).await.expect("sqlx connect"))
        };
        let mut w = Self {
            target,
            queue: queue.to_owned(),
        };
        // Prepares the read statement before the timing starts, as the raw client does.
        let warm_up = sqlx::query(AssertSqlSafe(READ.as_str()))
            .bind(queue)
            .bind(0i32)
            .bind(0i32);
        w.target.fetch_all(warm_up).await;
        w
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        let (t, q) = (&mut self.target, self.queue.as_str());
        match op {
            Op::Send => {
                for _ in 0..count {
                    let send = sqlx::query("SELECT * FROM pgmq.send($1, $2)")
                        .bind(q)
                        .bind(Json(&payload.event));
                    let _id: i64 = t.fetch_all(send).await[0].get(0);
                }
            }
            Op::SendBatch => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(BATCH);
                    let batch: Vec<Json<&BenchEvent>> =
                        payload.batch[..n].iter().map(Json).collect();
                    let send = sqlx::query("SELECT * FROM pgmq.send_batch($1, $2)")
                        .bind(q)
                        .bind(batch);
                    let ids: Vec<i64> = t.fetch_all(send).await.iter().map(|r| r.get(0)).collect();
                    left -= ids.len();
                }
            }
            Op::ReadDelete => {
                let mut left = count;
                while left > 0 {
                    let read = sqlx::query(AssertSqlSafe(READ.as_str()))
                        .bind(q)
                        .bind(30i32)
                        .bind(1i32);
                    for row in &t.fetch_all(read).await {
                        let (id, _) = decode(row);
                        let delete = sqlx::query("SELECT pgmq.delete($1, $2)").bind(q).bind(id);
                        t.fetch_all(delete).await;
                        left -= 1;
                    }
                }
            }
            Op::ReadBatchDelete | Op::Consume => {
                let mut left = count;
                while left > 0 {
                    let n = i32::try_from(left.min(BATCH)).expect("batch");
                    let read = sqlx::query(AssertSqlSafe(READ.as_str()))
                        .bind(q)
                        .bind(30i32)
                        .bind(n);
                    let ids: Vec<i64> = t
                        .fetch_all(read)
                        .await
                        .iter()
                        .map(|r| decode(r).0)
                        .collect();
                    let delete = sqlx::query("SELECT * FROM pgmq.delete($1, $2)")
                        .bind(q)
                        .bind(&ids);
                    t.fetch_all(delete).await;
                    left -= ids.len();
                }
            }
            Op::Pop => {
                let mut left = count;
                while left > 0 {
                    let pop = sqlx::query(AssertSqlSafe(POP.as_str())).bind(q).bind(1i32);
                    left -= t.fetch_all(pop).await.iter().map(decode).count();
                }
            }
            Op::SendPipelined => unreachable!("sqlx does not pipeline"),
        }
    }
}
