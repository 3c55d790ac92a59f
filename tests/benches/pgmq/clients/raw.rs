//! The ceiling: tokio-postgres, statements prepared once per connection.

use chrono::{DateTime, Utc};
use tokio_postgres::types::{Json, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::{BATCH, BenchEvent, MESSAGE_COLUMNS, Op, Payload};

pub(crate) struct Worker {
    client: Client,
    queue: String,
    send: Statement,
    send_batch: Statement,
    read: Statement,
    delete: Statement,
    delete_batch: Statement,
    pop: Statement,
}

/// Decodes every column, as a typed client must.
fn decode(row: &tokio_postgres::Row) -> (i64, BenchEvent) {
    decode_message_row!(row)
}

impl Worker {
    pub(crate) async fn connect(url: &str, queue: &str) -> Self {
        let (client, conn) = tokio_postgres::connect(url, NoTls)
            .await
            .expect("raw connect");
        tokio::spawn(conn);
        let prepare = async |sql: &str, types: &[Type]| {
            client
                .prepare_typed(sql, types)
                .await
                .unwrap_or_else(|e| panic!("preparing {sql}: {e}"))
        };
        let send = prepare(
            "SELECT * FROM pgmq.send($1, $2)",
            &[Type::TEXT, Type::JSONB],
        )
        .await;
        let send_batch = prepare(
            "SELECT * FROM pgmq.send_batch($1, $2)",
            &[Type::TEXT, Type::JSONB_ARRAY],
        )
        .await;
        let read = prepare(
            &format!("SELECT {MESSAGE_COLUMNS} FROM pgmq.read($1, $2, $3)"),
            &[Type::TEXT, Type::INT4, Type::INT4],
        )
        .await;
        let delete = prepare("SELECT pgmq.delete($1, $2)", &[Type::TEXT, Type::INT8]).await;
        let delete_batch = prepare(
            "SELECT * FROM pgmq.delete($1, $2)",
            &[Type::TEXT, Type::INT8_ARRAY],
        )
        .await;
        let pop = prepare(
            &format!("SELECT {MESSAGE_COLUMNS} FROM pgmq.pop($1, $2)"),
            &[Type::TEXT, Type::INT4],
        )
        .await;
        Self {
            queue: queue.to_owned(),
            send,
            send_batch,
            read,
            delete,
            delete_batch,
            pop,
            client,
        }
    }

    /// Creates the queue if needed and empties it (and vacuums it, so earlier rounds'
    /// dead rows do not slow later ones).
    pub(crate) async fn reset(&mut self) {
        self.client
            .execute("SELECT pgmq.create($1)", &[&self.queue])
            .await
            .expect("create");
        self.client
            .execute("SELECT pgmq.purge_queue($1)", &[&self.queue])
            .await
            .expect("purge");
        // The bench vacuums between measurements itself; autovacuum starting at a random
        // moment inside one would take a core from whichever client happens to run.
        for sql in [
            format!(
                "ALTER TABLE pgmq.q_{} SET (autovacuum_enabled = off)",
                self.queue
            ),
            format!("VACUUM pgmq.q_{}", self.queue),
        ] {
            self.client.batch_execute(&sql).await.expect(&sql);
        }
    }

    pub(crate) async fn fill(&mut self, total: usize, payload: &Payload) {
        let value = serde_json::to_value(&payload.event).expect("json");
        let mut left = total;
        while left > 0 {
            let n = left.min(1000);
            let batch = vec![value.clone(); n];
            self.client
                .query(&self.send_batch, &[&self.queue, &batch])
                .await
                .expect("fill");
            left -= n;
        }
        if total > 0 {
            // Every measurement starts from a vacuumed, analyzed table.
            self.client
                .batch_execute(&format!("VACUUM ANALYZE pgmq.q_{}", self.queue))
                .await
                .expect("vacuum analyze");
        }
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        let q = &self.queue;
        match op {
            Op::Send => {
                for _ in 0..count {
                    let value = Json(&payload.event);
                    self.client
                        .query_one(&self.send, &[q, &value])
                        .await
                        .expect("send");
                }
            }
            Op::SendPipelined => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(BATCH);
                    let value = Json(&payload.event);
                    let params: [&(dyn ToSql + Sync); 2] = [q, &value];
                    let sends = (0..n).map(|_| self.client.query_one(&self.send, &params));
                    futures_util::future::try_join_all(sends)
                        .await
                        .expect("pipelined send");
                    left -= n;
                }
            }
            Op::SendBatch => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(BATCH);
                    let batch: Vec<Json<&BenchEvent>> =
                        (0..n).map(|_| Json(&payload.event)).collect();
                    self.client
                        .query(&self.send_batch, &[q, &batch])
                        .await
                        .expect("send_batch");
                    left -= n;
                }
            }
            Op::ReadDelete => {
                let mut left = count;
                while left > 0 {
                    let rows = self
                        .client
                        .query(&self.read, &[q, &30i32, &1i32])
                        .await
                        .expect("read");
                    for row in &rows {
                        let (id, _event) = decode(row);
                        self.client
                            .query_one(&self.delete, &[q, &id])
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
                    let rows = self
                        .client
                        .query(&self.read, &[q, &30i32, &n])
                        .await
                        .expect("read");
                    let ids: Vec<i64> = rows.iter().map(|r| decode(r).0).collect();
                    self.client
                        .query(&self.delete_batch, &[q, &ids])
                        .await
                        .expect("delete batch");
                    left -= ids.len();
                }
            }
            Op::Pop => {
                let mut left = count;
                while left > 0 {
                    let rows = self
                        .client
                        .query(&self.pop, &[q, &1i32])
                        .await
                        .expect("pop");
                    left -= rows.iter().map(decode).count();
                }
            }
        }
    }
}
