//! The peer: the upstream `pgmq` crate's `PGMQueueExt` (sqlx), one connection per worker.

use pgmq::PGMQueueExt;
use serde_json::Value;

use super::{BATCH, BenchEvent, Op, Payload};

pub(crate) struct Worker {
    pgmq: PGMQueueExt,
    queue: String,
}

impl Worker {
    pub(crate) async fn connect(url: &str, queue: &str) -> Self {
        // Its own URL parser rejects some valid URLs; a pool it is given has none of that.
        // sqlx's defaults otherwise, as `PGMQueueExt::new` would have them, including
        // `test_before_acquire` (a ping round trip on every acquire).
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .expect("upstream connect");
        let pgmq = PGMQueueExt::new_with_pool(pool).await;
        // Opens the pool's connection before the timing starts.
        pgmq.metrics(queue).await.expect("upstream warm-up");
        Self {
            pgmq,
            queue: queue.to_owned(),
        }
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        let (p, q) = (&self.pgmq, self.queue.as_str());
        match op {
            Op::Send => {
                for _ in 0..count {
                    p.send(q, &payload.event).await.expect("send");
                }
            }
            Op::SendBatch => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(BATCH);
                    let batch = &payload.batch[..n];
                    p.send_batch(q, batch).await.expect("send_batch");
                    left -= n;
                }
            }
            Op::ReadDelete => {
                let mut left = count;
                while left > 0 {
                    if let Some(m) = p.read::<BenchEvent, Value>(q, 30).await.expect("read") {
                        p.delete(q, m.msg_id).await.expect("delete");
                        left -= 1;
                    }
                }
            }
            Op::ReadBatchDelete => {
                let mut left = count;
                while left > 0 {
                    let n = i32::try_from(left.min(BATCH)).expect("batch");
                    let msgs = p
                        .read_batch::<BenchEvent, Value>(q, 30, n)
                        .await
                        .expect("read_batch");
                    let ids: Vec<i64> = msgs.iter().map(|m| m.msg_id).collect();
                    p.delete_batch(q, &ids).await.expect("delete_batch");
                    left -= ids.len();
                }
            }
            Op::Pop => {
                let mut left = count;
                while left > 0 {
                    if p.pop::<BenchEvent, Value>(q).await.expect("pop").is_some() {
                        left -= 1;
                    }
                }
            }
            Op::SendPipelined | Op::Consume => unreachable!("not run for upstream: {}", op.label()),
        }
    }
}
