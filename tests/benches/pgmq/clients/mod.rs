//! The clients under test, the operations, and one timed measurement.

/// Reads every column of a message row as a typed client must, with the driver's own
/// `Json` wrapper in scope; returns `(msg_id, payload)`. A macro because the two raw
/// clients' row types share no trait.
macro_rules! decode_message_row {
    ($row:expr) => {{
        let row = $row;
        let id: i64 = row.get(0);
        let _read_ct: i32 = row.get(1);
        let _enqueued: DateTime<Utc> = row.get(2);
        let _last: Option<DateTime<Utc>> = row.get(3);
        let _vt: DateTime<Utc> = row.get(4);
        let Json(event): Json<BenchEvent> = row.get(5);
        let _headers: Option<serde_json::Value> = row.get(6);
        (id, event)
    }};
}

/// The message columns the raw clients select, in pgmq's order.
const MESSAGE_COLUMNS: &str = "msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers";

mod consumer;
mod raw;
mod sqlx_raw;
mod typed;
mod upstream;

pub(crate) use consumer::{RSS_QUEUE, RSS_URL_VAR, rss_child};

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;

/// Who talks to pgmq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// tokio-postgres with prepared statements: the ceiling.
    Raw,
    /// sqlx with the same SQL on one connection: the ceiling of the driver under SeaORM
    /// and the upstream crate.
    RawSqlx,
    /// The same through a one-connection sqlx pool, as a SeaORM `DatabaseConnection` uses.
    RawSqlxPool,
    /// The upstream `pgmq` crate (`PGMQueueExt`, sqlx).
    Upstream,
    /// diesel-pgmq on sync Diesel.
    DieselSync,
    /// diesel-pgmq on diesel-async.
    DieselAsync,
    /// sea-orm-pgmq on a `DatabaseConnection` (a pool).
    SeaOrm,
    /// sea-orm-pgmq on a `PinnedConnection` held out of that pool.
    SeaOrmPinned,
}

impl ClientKind {
    pub(crate) const ALL: [Self; 8] = [
        Self::Raw,
        Self::RawSqlx,
        Self::RawSqlxPool,
        Self::Upstream,
        Self::DieselSync,
        Self::DieselAsync,
        Self::SeaOrm,
        Self::SeaOrmPinned,
    ];

    /// The short name `BENCH_CLIENTS` selects it by (the raw ceiling always runs).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::RawSqlx => "sqlx",
            Self::RawSqlxPool => "sqlx_pool",
            Self::Upstream => "upstream",
            Self::DieselSync => "diesel_sync",
            Self::DieselAsync => "diesel_async",
            Self::SeaOrm => "seaorm",
            Self::SeaOrmPinned => "seaorm_pinned",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Raw => "raw (tokio-postgres)",
            Self::RawSqlx => "raw sqlx",
            Self::RawSqlxPool => "raw sqlx pool",
            Self::Upstream => "upstream pgmq crate",
            Self::DieselSync => "diesel-pgmq sync",
            Self::DieselAsync => "diesel-pgmq async",
            Self::SeaOrm => "sea-orm-pgmq",
            Self::SeaOrmPinned => "sea-orm-pgmq pinned",
        }
    }

    /// A hand-written client of the same SQL (a ceiling), not a library.
    pub(crate) fn is_raw(self) -> bool {
        matches!(self, Self::Raw | Self::RawSqlx | Self::RawSqlxPool)
    }

    /// Whether this client has something to measure for `op`: the consumer loop needs a
    /// consumer runtime, pipelining needs a connection that pipelines.
    pub(crate) fn runs(self, op: Op) -> bool {
        match op {
            Op::Consume => self.is_raw() || consumer::has_backend(self),
            Op::SendPipelined => matches!(self, Self::Raw | Self::DieselAsync),
            _ => true,
        }
    }
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `pgmq.send` of one message per call.
    Send,
    /// `pgmq.send_batch` of 100 messages per call.
    SendBatch,
    /// `pgmq.read` of one message, then `pgmq.delete` of it.
    ReadDelete,
    /// `pgmq.read` of 100 messages, then one `pgmq.delete` of their ids.
    ReadBatchDelete,
    /// `pgmq.pop` of one message.
    Pop,
    /// Fire-and-forget `pgmq.send`s, [`BATCH`] in flight on one connection (pipelined).
    SendPipelined,
    /// The consumer runtime draining a pre-loaded queue (handler, then one delete per
    /// message); the ceiling is a raw read(100) + delete(100) loop.
    Consume,
}

/// Messages per batch call.
pub(crate) const BATCH: usize = 100;

impl Op {
    pub(crate) const ALL: [Self; 7] = [
        Self::Send,
        Self::SendBatch,
        Self::ReadDelete,
        Self::ReadBatchDelete,
        Self::Pop,
        Self::SendPipelined,
        Self::Consume,
    ];

    /// The short name `BENCH_OPS` selects it by.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::SendBatch => "send_batch",
            Self::ReadDelete => "read",
            Self::ReadBatchDelete => "read_batch",
            Self::Pop => "pop",
            Self::SendPipelined => "pipelined",
            Self::Consume => "consumer",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::SendBatch => "send_batch(100)",
            Self::ReadDelete => "read 1 + delete 1",
            Self::ReadBatchDelete => "read 100 + delete 100",
            Self::Pop => "pop",
            Self::SendPipelined => "send, pipelined (100 in flight)",
            Self::Consume => "consumer loop (end to end)",
        }
    }

    /// Batch ops move more messages per measurement, so their timings are as long.
    pub(crate) fn scale(self) -> usize {
        match self {
            Self::SendBatch | Self::ReadBatchDelete => 20,
            Self::SendPipelined => 5,
            Self::Consume => 20,
            _ => 1,
        }
    }

    pub(crate) fn messages_moved(self, total: usize) -> usize {
        total
    }

    fn consumes(self) -> bool {
        matches!(
            self,
            Self::ReadDelete | Self::ReadBatchDelete | Self::Pop | Self::Consume
        )
    }

    fn queue(self) -> &'static str {
        match self {
            Self::Send => "bench_send",
            Self::SendBatch => "bench_send_batch",
            Self::ReadDelete => "bench_read",
            Self::ReadBatchDelete => "bench_read_batch",
            Self::Pop => "bench_pop",
            Self::SendPipelined => "bench_send_pipelined",
            Self::Consume => "bench_consume",
        }
    }
}

/// The payload every client sends and decodes: a typed event of about the given size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BenchEvent {
    pub(crate) id: u64,
    pub(crate) kind: String,
    pub(crate) data: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Payload {
    pub(crate) event: BenchEvent,
    /// [`BATCH`] copies of `event`, built once: batch senders borrow a slice of it, as the
    /// raw client borrows `event`, so no client pays for copying payloads in the timing.
    pub(crate) batch: Vec<BenchEvent>,
}

impl Payload {
    pub(crate) fn of_size(bytes: usize) -> Self {
        let frame = r#"{"id":12345,"kind":"order_created","data":""}"#.len();
        let event = BenchEvent {
            id: 12345,
            kind: "order_created".into(),
            data: "x".repeat(bytes.saturating_sub(frame)),
        };
        Self {
            batch: vec![event.clone(); BATCH],
            event,
        }
    }
}

/// A connected async client worker, ready to run an op. (Sync Diesel runs on its own
/// thread; see [`measure`].)
enum Worker {
    Raw(Box<raw::Worker>),
    RawSqlx(sqlx_raw::Worker),
    Upstream(upstream::Worker),
    DieselAsync(Box<typed::DieselAsync>),
    SeaOrm(typed::SeaOrm),
    SeaOrmPinned(typed::SeaOrmPinned),
}

impl Worker {
    async fn connect(kind: ClientKind, url: &str, queue: &str) -> Self {
        match kind {
            ClientKind::Raw => Self::Raw(Box::new(raw::Worker::connect(url, queue).await)),
            ClientKind::RawSqlx => {
                Self::RawSqlx(sqlx_raw::Worker::connect(url, queue, false).await)
            }
            ClientKind::RawSqlxPool => {
                Self::RawSqlx(sqlx_raw::Worker::connect(url, queue, true).await)
            }
            ClientKind::Upstream => Self::Upstream(upstream::Worker::connect(url, queue).await),
            ClientKind::DieselAsync => {
                Self::DieselAsync(Box::new(typed::DieselAsync::connect(url, queue).await))
            }
            ClientKind::SeaOrm => Self::SeaOrm(typed::SeaOrm::connect(url, queue).await),
            ClientKind::SeaOrmPinned => {
                Self::SeaOrmPinned(typed::SeaOrmPinned::connect(url, queue).await)
            }
            ClientKind::DieselSync => unreachable!("sync Diesel runs on a blocking thread"),
        }
    }

    /// Moves `count` messages with `op`.
    async fn run(&mut self, op: Op, count: usize, payload: &Payload) {
        match self {
            Self::Raw(w) => w.run(op, count, payload).await,
            Self::RawSqlx(w) => w.run(op, count, payload).await,
            Self::Upstream(w) => w.run(op, count, payload).await,
            Self::DieselAsync(w) => w.run(op, count, payload).await,
            Self::SeaOrm(w) => w.run(op, count, payload).await,
            Self::SeaOrmPinned(w) => w.run(op, count, payload).await,
        }
    }
}

/// Resets the op's queue (and fills it for consuming ops), outside the timing.
async fn prepare(url: &str, op: Op, total: usize, payload: &Payload) {
    reset(
        url,
        op.queue(),
        if op.consumes() { total } else { 0 },
        payload,
    )
    .await;
}

/// Creates or empties `queue`, then loads `messages` copies of `payload` into it.
pub(crate) async fn reset(url: &str, queue: &str, messages: usize, payload: &Payload) {
    let mut admin = raw::Worker::connect(url, queue).await;
    admin.reset().await;
    admin.fill(messages, payload).await;
}

/// Times `total` messages moved by `clients` workers of `kind`.
pub(crate) async fn measure(
    url: &str,
    kind: ClientKind,
    op: Op,
    clients: usize,
    total: usize,
    payload: &Payload,
) -> Duration {
    prepare(url, op, total, payload).await;
    let barrier = Arc::new(Barrier::new(clients + 1));
    let done = consumer::Done::new(total);
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let share = total / clients + usize::from(i < total % clients);
        let (url, barrier, payload) = (url.to_owned(), barrier.clone(), payload.clone());
        if op == Op::Consume {
            let done = Arc::clone(&done);
            tasks.push(tokio::spawn(consumer::worker(
                kind,
                url,
                op.queue(),
                share,
                done,
                barrier,
            )));
        } else if kind == ClientKind::DieselSync {
            let runtime = tokio::runtime::Handle::current();
            tasks.push(tokio::task::spawn_blocking(move || {
                let mut worker = typed::DieselSync::connect(&url, op.queue());
                runtime.block_on(barrier.wait());
                worker.run(op, share, &payload);
                Instant::now()
            }));
        } else {
            tasks.push(tokio::spawn(async move {
                let mut worker = Worker::connect(kind, &url, op.queue()).await;
                barrier.wait().await;
                worker.run(op, share, &payload).await;
                Instant::now()
            }));
        }
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut end = start;
    for t in tasks {
        end = end.max(t.await.expect("worker panicked"));
    }
    end - start
}
