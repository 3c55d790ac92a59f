//! The consumer runtime (`pgmq_orm_core::consumer`) as a client. Each worker is one
//! `Consumer` on its own one-connection backend, all draining the same pre-loaded queue; a
//! run ends when the workers together have acknowledged every message.
//!
//! A client kind takes part once [`backend`] can build its `ConsumerBackend`: add it to
//! [`WITH_BACKEND`] and give it a match arm there. Sync Diesel runs the blocking consumer
//! (`BlockingConsumer` on an r2d2 pool, std threads) instead: [`consume_blocking`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgmq_orm_core::consumer::blocking::{BlockingBackend, BlockingConsumer, StopToken};
use pgmq_orm_core::consumer::{
    BoxFuture, CancellationToken, Consumer, ConsumerBackend, ConsumerConfig, FailureDestination,
};
use pgmq_orm_core::{BoxError, Error, Message, QueueName, RawJsonMessage};
use tokio::sync::Barrier;

use super::{BATCH, BenchEvent, ClientKind, Op, Payload, raw, sqlx_raw, typed};

/// The clients with a consumer backend.
const WITH_BACKEND: &[ClientKind] = &[
    ClientKind::DieselSync,
    ClientKind::DieselAsync,
    ClientKind::SeaOrm,
    ClientKind::SeaOrmPinned,
];

pub(super) fn has_backend(kind: ClientKind) -> bool {
    WITH_BACKEND.contains(&kind)
}

/// Connections in each consumer's pool: 1 (as the raw loop has), or `BENCH_CONSUMER_POOL`.
/// With two, the runtime's reads and its batched acknowledgements run side by side.
fn pool_size() -> u32 {
    std::env::var("BENCH_CONSUMER_POOL")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A connected consumer backend of `kind`, its connections already open.
async fn backend(kind: ClientKind, url: &str, queue: &QueueName) -> Box<dyn ConsumerBackend> {
    let size = pool_size();
    match kind {
        ClientKind::SeaOrm => Box::new(sea_orm_pgmq::consumer::SeaOrmBackend::new(
            typed::SeaOrm::pool(url, queue, size).await,
        )),
        ClientKind::SeaOrmPinned => Box::new(
            sea_orm_pgmq::consumer::SeaOrmBackend::new(typed::SeaOrm::pool(url, queue, size).await)
                .with_pinned_connection()
                .await
                .expect("pinned connection"),
        ),
        ClientKind::DieselAsync => Box::new(diesel_pgmq::consumer::DieselBackend::new(
            typed::DieselAsync::pool(url, queue, size).await,
        )),
        // Runs the blocking consumer instead (`consume_blocking`).
        other => unreachable!("{} has no consumer backend", other.label()),
    }
}

/// Counts acknowledgements across all workers of a run and stops them at the last one.
#[derive(Debug)]
pub(crate) struct Done {
    left: AtomicUsize,
    cancel: CancellationToken,
    /// The same stop for blocking consumers.
    stop: StopToken,
}

impl Done {
    pub(crate) fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            left: AtomicUsize::new(total),
            cancel: CancellationToken::new(),
            stop: StopToken::new(),
        })
    }

    /// Counts `n` acknowledged messages; stops every worker at the last one.
    fn acked(&self, n: usize) {
        if self.left.fetch_sub(n, Ordering::AcqRel) <= n {
            self.cancel.cancel();
            self.stop.stop();
        }
    }
}

/// A backend that counts its successful acknowledgements into [`Done`]; everything else
/// is passed through.
struct Counting {
    inner: Box<dyn ConsumerBackend>,
    done: Arc<Done>,
}

impl ConsumerBackend for Counting {
    fn read(
        &self,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
        fifo: bool,
    ) -> BoxFuture<'_, Result<Vec<RawJsonMessage>, Error>> {
        self.inner.read(queue, vt, qty, fifo)
    }

    fn set_vt(
        &self,
        queue: &QueueName,
        msg_id: i64,
        delay: Duration,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.inner.set_vt(queue, msg_id, delay)
    }

    fn ack(
        &self,
        queue: &QueueName,
        msg_id: i64,
        archive: bool,
    ) -> BoxFuture<'_, Result<(), Error>> {
        let ack = self.inner.ack(queue, msg_id, archive);
        Box::pin(async move {
            ack.await?;
            self.done.acked(1);
            Ok(())
        })
    }

    fn ack_many<'a>(
        &'a self,
        queue: &'a QueueName,
        msg_ids: &'a [i64],
        archive: bool,
    ) -> BoxFuture<'a, Result<Vec<i64>, Error>> {
        Box::pin(async move {
            let acked = self.inner.ack_many(queue, msg_ids, archive).await?;
            self.done.acked(msg_ids.len());
            Ok(acked)
        })
    }

    fn dead_letter<'a>(
        &'a self,
        queue: &'a QueueName,
        message: &'a RawJsonMessage,
        error: &'a str,
        dest: &'a FailureDestination,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.inner.dead_letter(queue, message, error, dest)
    }

    fn wait_for_messages(&self, queue: &QueueName, timeout: Duration) -> BoxFuture<'_, ()> {
        self.inner.wait_for_messages(queue, timeout)
    }
}

/// [`Counting`] for the blocking consumer's backend.
struct CountingBlocking {
    inner: diesel_pgmq::sync_consumer::SyncBackend,
    done: Arc<Done>,
}

impl BlockingBackend for CountingBlocking {
    fn read(
        &self,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
        fifo: bool,
    ) -> Result<Vec<RawJsonMessage>, Error> {
        self.inner.read(queue, vt, qty, fifo)
    }

    fn set_vt(&self, queue: &QueueName, msg_id: i64, delay: Duration) -> Result<(), Error> {
        self.inner.set_vt(queue, msg_id, delay)
    }

    fn set_vt_many(&self, queue: &QueueName, ids: &[i64], delay: Duration) -> Result<(), Error> {
        self.inner.set_vt_many(queue, ids, delay)
    }

    fn ack(&self, queue: &QueueName, msg_id: i64, archive: bool) -> Result<(), Error> {
        self.inner.ack(queue, msg_id, archive)?;
        self.done.acked(1);
        Ok(())
    }

    fn ack_many(&self, queue: &QueueName, ids: &[i64], archive: bool) -> Result<Vec<i64>, Error> {
        let acked = self.inner.ack_many(queue, ids, archive)?;
        self.done.acked(ids.len());
        Ok(acked)
    }

    fn dead_letter(
        &self,
        queue: &QueueName,
        message: &RawJsonMessage,
        error: &str,
        dest: &FailureDestination,
    ) -> Result<(), Error> {
        self.inner.dead_letter(queue, message, error, dest)
    }

    fn wait_for_messages(&self, queue: &QueueName, timeout: Duration, stop: &StopToken) {
        self.inner.wait_for_messages(queue, timeout, stop);
    }
}

/// The blocking consumer on sync Diesel: built on a blocking thread, passes `barrier`,
/// and consumes on that thread until `done` has counted every message.
fn consume_blocking(url: &str, queue: &str, done: &Arc<Done>, barrier: &Barrier) -> Instant {
    use diesel::r2d2::{ConnectionManager, Pool};
    let queue = QueueName::new(queue).expect("queue name");
    let size = pool_size();
    let pool = Pool::builder()
        .max_size(size)
        .min_idle(Some(size))
        .test_on_check_out(false)
        .build(ConnectionManager::<diesel::PgConnection>::new(url))
        .expect("r2d2 pool");
    let backend = CountingBlocking {
        inner: diesel_pgmq::sync_consumer::SyncBackend::new(pool),
        done: Arc::clone(done),
    };
    let consumer = BlockingConsumer::new(backend, config(queue), |m: Message<BenchEvent>| {
        std::hint::black_box(&m);
        Ok::<(), BoxError>(())
    });
    tokio::runtime::Handle::current().block_on(barrier.wait());
    consumer.run(&done.stop).expect("consumer run");
    Instant::now()
}

/// Reads up to [`BATCH`] at a time with as many handlers, like the raw ceiling's
/// read(100); polls every 100 ms when the queue is empty (it only is at the very end).
/// `BENCH_CONSUMER_READ_AHEAD=1` turns on [`ConsumerConfig::read_ahead()`].
fn config(queue: QueueName) -> ConsumerConfig {
    ConsumerConfig::new(queue)
        .with_batch_size(BATCH)
        .with_concurrency(BATCH)
        .with_poll_interval(Duration::from_millis(100))
        .read_ahead(std::env::var_os("BENCH_CONSUMER_READ_AHEAD").is_some())
}

/// Builds a consumer of `kind` on `queue`, passes `barrier`, and consumes until `done`
/// has counted every message. Returns when it stopped.
async fn consume(
    kind: ClientKind,
    url: &str,
    queue: &str,
    done: Arc<Done>,
    barrier: Arc<Barrier>,
) -> Instant {
    let queue = QueueName::new(queue).expect("queue name");
    let backend = Counting {
        inner: backend(kind, url, &queue).await,
        done: Arc::clone(&done),
    };
    let consumer = Consumer::new(
        backend,
        config(queue),
        |m: Message<BenchEvent>| async move {
            std::hint::black_box(&m);
            Ok::<(), BoxError>(())
        },
    );
    barrier.wait().await;
    consumer
        .run(done.cancel.clone())
        .await
        .expect("consumer run");
    Instant::now()
}

/// One worker of a consumer-loop measurement: the raw ceilings move their `share` with
/// read(100) + delete(100); the others run the consumer runtime until all are done.
pub(super) async fn worker(
    kind: ClientKind,
    url: String,
    queue: &'static str,
    share: usize,
    done: Arc<Done>,
    barrier: Arc<Barrier>,
) -> Instant {
    if kind == ClientKind::Raw {
        let mut w = raw::Worker::connect(&url, queue).await;
        barrier.wait().await;
        w.run(Op::Consume, share, &Payload::of_size(0)).await;
        Instant::now()
    } else if matches!(kind, ClientKind::RawSqlx | ClientKind::RawSqlxPool) {
        let pooled = kind == ClientKind::RawSqlxPool;
        let mut w = sqlx_raw::Worker::connect(&url, queue, pooled).await;
        barrier.wait().await;
        w.run(Op::Consume, share, &Payload::of_size(0)).await;
        Instant::now()
    } else if kind == ClientKind::DieselSync {
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let _entered = runtime.enter();
            consume_blocking(&url, queue, &done, &barrier)
        })
        .await
        .expect("blocking consumer panicked")
    } else {
        consume(kind, &url, queue, done, barrier).await
    }
}

/// The child process of the memory measurement: `--rss-child <client index> <messages>`.
/// Drains the pre-loaded queue [`RSS_QUEUE`] with one worker and prints
/// `<VmRSS before, kB> <VmHWM after, kB> <seconds>`.
pub(crate) fn rss_child(kind: ClientKind, messages: usize) {
    let url = std::env::var(RSS_URL_VAR).expect("the parent passes the URL");
    let runtime = crate::runtime();
    let (before, took) = runtime.block_on(async {
        let done = Done::new(messages);
        let barrier = Arc::new(Barrier::new(2));
        let task = tokio::spawn(worker(
            kind,
            url,
            RSS_QUEUE,
            messages,
            Arc::clone(&done),
            Arc::clone(&barrier),
        ));
        // Connected and ready: what the process holds before any message.
        barrier.wait().await;
        let before = proc_status_kb("VmRSS");
        let start = Instant::now();
        let end = task.await.expect("consumer panicked");
        (before, end - start)
    });
    println!(
        "{before} {} {:.3}",
        proc_status_kb("VmHWM"),
        took.as_secs_f64()
    );
}

/// The queue the memory measurement drains.
pub(crate) const RSS_QUEUE: &str = "bench_rss";
/// The environment variable carrying the database URL to the child.
pub(crate) const RSS_URL_VAR: &str = "BENCH_RSS_URL";

/// A line of `/proc/self/status`, in kB.
fn proc_status_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} missing from /proc/self/status"))
}
