//! diesel-pgmq (sync and async) and sea-orm-pgmq. The three share method names, so the op
//! loop is written once; the macro's only variable is whether each call is awaited.

use pgmq_orm_core::{BatchSize, QueueName, VisibilityTimeout};

use super::{BATCH, BenchEvent, Op, Payload};

/// Runs `count` messages of `op` through a connection with our crates' method names.
/// Pass `await` as the last argument for async connections.
macro_rules! run_ops {
    ($c:expr, $q:expr, $op:expr, $count:expr, $payload:expr $(, $aw:ident)?) => {{
        let (c, q, payload) = ($c, $q, $payload);
        let vt = VisibilityTimeout::Seconds(30);
        match $op {
            Op::Send => {
                for _ in 0..$count {
                    c.send(q, &payload.event)$(.$aw)?.expect("send");
                }
            }
            Op::SendBatch => {
                let mut left = $count;
                while left > 0 {
                    let n = left.min(BATCH);
                    let batch = &payload.batch[..n];
                    c.send_batch(q, batch)$(.$aw)?.expect("send_batch");
                    left -= n;
                }
            }
            Op::ReadDelete => {
                let mut left = $count;
                while left > 0 {
                    for m in c.read::<BenchEvent>(q, vt, BatchSize::ONE)$(.$aw)?.expect("read") {
                        c.delete(q, m.msg_id)$(.$aw)?.expect("delete");
                        left -= 1;
                    }
                }
            }
            Op::ReadBatchDelete => {
                let mut left = $count;
                while left > 0 {
                    let n = BatchSize::new(left.min(BATCH)).expect("batch");
                    let msgs = c.read::<BenchEvent>(q, vt, n)$(.$aw)?.expect("read");
                    let ids: Vec<i64> = msgs.iter().map(|m| m.msg_id).collect();
                    c.delete_batch(q, &ids)$(.$aw)?.expect("delete_batch");
                    left -= ids.len();
                }
            }
            Op::Pop => {
                let mut left = $count;
                while left > 0 {
                    left -= c.pop::<BenchEvent>(q, BatchSize::ONE)$(.$aw)?.expect("pop").len();
                }
            }
            Op::SendPipelined | Op::Consume => unreachable!("not a per-call op: {}", $op.label()),
        }
    }};
}

/// diesel-pgmq on sync Diesel: one `PgConnection` per worker thread.
pub(crate) struct DieselSync {
    conn: diesel::PgConnection,
    queue: QueueName,
}

impl DieselSync {
    pub(crate) fn connect(url: &str, queue: &str) -> Self {
        use diesel::Connection;
        use diesel_pgmq::PgmqConnectionExt;
        let mut conn = diesel::PgConnection::establish(url).expect("diesel connect");
        let queue = QueueName::new(queue).expect("queue name");
        conn.metrics(&queue).expect("diesel warm-up");
        Self { conn, queue }
    }

    pub(crate) fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        use diesel_pgmq::PgmqConnectionExt;
        run_ops!(&mut self.conn, &self.queue, op, count, payload);
    }
}

/// diesel-pgmq on diesel-async: one `AsyncPgConnection` per worker task.
pub(crate) struct DieselAsync {
    conn: diesel_async::AsyncPgConnection,
    queue: QueueName,
}

impl DieselAsync {
    pub(crate) async fn connect(url: &str, queue: &str) -> Self {
        use diesel_async::AsyncConnection;
        use diesel_pgmq::PgmqAsyncConnectionExt;
        let mut conn = diesel_async::AsyncPgConnection::establish(url)
            .await
            .expect("diesel-async connect");
        let queue = QueueName::new(queue).expect("queue name");
        conn.metrics(&queue).await.expect("diesel-async warm-up");
        Self { conn, queue }
    }

    /// A one-connection bb8 pool, opened, for the consumer backend. bb8 runs a test query
    /// on every checkout unless `test_on_check_out` is off (a round trip per call, like
    /// sqlx's ping); off, as for sea-orm-pgmq.
    /// A bb8 pool of `size` connections, opened.
    pub(crate) async fn pool(
        url: &str,
        queue: &QueueName,
        size: u32,
    ) -> diesel_pgmq::consumer::PgPool {
        use diesel_async::pooled_connection::AsyncDieselConnectionManager;
        use diesel_pgmq::PgmqAsyncConnectionExt;
        let pool = diesel_pgmq::consumer::PgPool::builder()
            .max_size(size)
            .min_idle(size)
            .test_on_check_out(false)
            .build(AsyncDieselConnectionManager::new(url))
            .await
            .expect("bb8 pool");
        let mut conn = pool.get().await.expect("bb8 checkout");
        conn.metrics(queue).await.expect("diesel-async warm-up");
        drop(conn);
        pool
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        use diesel_pgmq::PgmqAsyncConnectionExt;
        if op == Op::SendPipelined {
            self.send_pipelined(count, payload).await;
            return;
        }
        run_ops!(&mut self.conn, &self.queue, op, count, payload, await);
    }

    /// Sends in windows of [`BATCH`] statements polled together: diesel-async writes them
    /// all before reading the first reply, so one connection keeps the server busy.
    async fn send_pipelined(&self, count: usize, payload: &Payload) {
        use diesel_async::RunQueryDsl;
        let conn = &self.conn;
        let mut left = count;
        while left > 0 {
            let n = left.min(BATCH);
            let sends = (0..n).map(|_| {
                diesel_pgmq::query::send(&self.queue, &payload.event)
                    .expect("encode")
                    .get_result::<i64>(&mut &*conn)
            });
            futures_util::future::try_join_all(sends)
                .await
                .expect("pipelined send");
            left -= n;
        }
    }
}

/// sea-orm-pgmq: a `DatabaseConnection` with a one-connection pool per worker task.
pub(crate) struct SeaOrm {
    conn: sea_orm::DatabaseConnection,
    queue: QueueName,
}

impl SeaOrm {
    /// A pool of `size` connections, opened. sqlx pings a pooled connection on every
    /// acquire unless `test_before_acquire` is off: an extra round trip per call. Off, as
    /// sea-orm-pgmq's docs recommend; `BENCH_SQLX_PING=1` turns it back on to compare.
    pub(crate) async fn pool(
        url: &str,
        queue: &QueueName,
        size: u32,
    ) -> sea_orm::DatabaseConnection {
        use sea_orm_pgmq::PgmqConnectionExt;
        let mut options = sea_orm::ConnectOptions::new(url.to_owned());
        options
            .max_connections(size)
            .min_connections(size)
            .test_before_acquire(std::env::var_os("BENCH_SQLX_PING").is_some())
            .sqlx_logging(false);
        let conn = sea_orm::Database::connect(options)
            .await
            .expect("sea-orm connect");
        conn.metrics(queue).await.expect("sea-orm warm-up");
        conn
    }

    pub(crate) async fn connect(url: &str, queue: &str) -> Self {
        let queue = QueueName::new(queue).expect("queue name");
        let conn = Self::pool(url, &queue, 1).await;
        Self { conn, queue }
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        use sea_orm_pgmq::PgmqConnectionExt;
        run_ops!(&self.conn, &self.queue, op, count, payload, await);
    }
}

/// sea-orm-pgmq on a [`sea_orm_pgmq::PinnedConnection`]: the connection of a one-connection
/// pool held by the worker, so no pool pings around each call.
pub(crate) struct SeaOrmPinned {
    conn: sea_orm_pgmq::PinnedConnection,
    queue: QueueName,
    /// The pool the connection goes back to; dropped after it.
    _pool: sea_orm::DatabaseConnection,
}

impl SeaOrmPinned {
    pub(crate) async fn connect(url: &str, queue: &str) -> Self {
        let queue = QueueName::new(queue).expect("queue name");
        let pool = SeaOrm::pool(url, &queue, 1).await;
        let conn = sea_orm_pgmq::PinnedConnection::acquire(&pool)
            .await
            .expect("pinned connection");
        Self {
            conn,
            queue,
            _pool: pool,
        }
    }

    pub(crate) async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        use sea_orm_pgmq::PgmqConnectionExt;
        run_ops!(&self.conn, &self.queue, op, count, payload, await);
    }
}
