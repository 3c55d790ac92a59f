//! The ceiling of the sqlx driver, which sea-orm-pgmq (through SeaORM) and the upstream
//! crate run on: the raw client's SQL on one `PgConnection`, statements prepared once (sqlx
//! caches them per connection), every column decoded.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::types::Json;
use sqlx::{Connection, Row};

use super::{BATCH, BenchEvent, Op, Payload};

pub(crate) struct Worker {
    conn: PgConnection,
    queue: String,
}

const READ: &str = "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers \
                    FROM pgmq.read($1, $2, $3)";
const POP: &str = "SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers \
                   FROM pgmq.pop($1, $2)";

/// Decodes every column, as a typed client must.
fn decode(row: &PgRow) -> (i64, BenchEvent) {
    let id: i64 = row.get(0);
    let _read_ct: i32 = row.get(1);
    let _enqueued: DateTime<Utc> = row.get(2);
    let _last: Option<DateTime<Utc>> = row.get(3);
    let _vt: DateTime<Utc> = row.get(4);
    let Json(event): Json<BenchEvent> = row.get(5);
    let _headers: Option<serde_json::Value> = row.get(6);
    (id, event)
}

impl Worker {
    pub(crate) async fn connect(url: &str, queue: &str) -> Self {
        let mut conn = PgConnection::connect(url).await.expect("sqlx connect");
        // Prepares the read statement before the timing starts, as the raw client does.
        sqlx::query(READ)
            .bind(queue)
            .bind(0i32)
            .bind(0i32)
            .fetch_all(&mut conn)
            .await
            .expect("sqlx warm-up");
        Self {
            conn,
            queue: queue.to_owned(),
        }
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        let (c, q) = (&mut self.conn, self.queue.as_str());
        match op {
            Op::Send => {
                for _ in 0..count {
                    let (_id,): (i64,) = sqlx::query_as("SELECT * FROM pgmq.send($1, $2)")
                        .bind(q)
                        .bind(Json(&payload.event))
                        .fetch_one(&mut *c)
                        .await
                        .expect("send");
                }
            }
            Op::SendBatch => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(BATCH);
                    let batch: Vec<Json<&BenchEvent>> =
                        payload.batch[..n].iter().map(Json).collect();
                    let ids: Vec<(i64,)> = sqlx::query_as("SELECT * FROM pgmq.send_batch($1, $2)")
                        .bind(q)
                        .bind(batch)
                        .fetch_all(&mut *c)
                        .await
                        .expect("send_batch");
                    left -= ids.len();
                }
            }
            Op::ReadDelete => {
                let mut left = count;
                while left > 0 {
                    let rows = sqlx::query(READ)
                        .bind(q)
                        .bind(30i32)
                        .bind(1i32)
                        .fetch_all(&mut *c)
                        .await
                        .expect("read");
                    for row in &rows {
                        let (id, _) = decode(row);
                        sqlx::query("SELECT pgmq.delete($1, $2)")
                            .bind(q)
                            .bind(id)
                            .execute(&mut *c)
                            .await
                            .expect("delete");
                        left -= 1;
                    }
                }
            }
            Op::ReadBatchDelete | Op::Consume => {
                let mut left = count;
                while left > 0 {
                    let n = i32::try_from(left.min(BATCH)).expect("batch");
                    let rows = sqlx::query(READ)
                        .bind(q)
                        .bind(30i32)
                        .bind(n)
                        .fetch_all(&mut *c)
                        .await
                        .expect("read");
                    let ids: Vec<i64> = rows.iter().map(|r| decode(r).0).collect();
                    sqlx::query("SELECT * FROM pgmq.delete($1, $2)")
                        .bind(q)
                        .bind(&ids)
                        .execute(&mut *c)
                        .await
                        .expect("delete batch");
                    left -= ids.len();
                }
            }
            Op::Pop => {
                let mut left = count;
                while left > 0 {
                    let rows = sqlx::query(POP)
                        .bind(q)
                        .bind(1i32)
                        .fetch_all(&mut *c)
                        .await
                        .expect("pop");
                    left -= rows.iter().map(decode).count();
                }
            }
            Op::SendPipelined => unreachable!("sqlx does not pipeline"),
        }
    }
}
