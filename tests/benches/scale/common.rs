//! What every part shares: the payload, the admin connection (raw tokio-postgres, so the
//! set-up traffic does not go through the clients under test), the consumers under test
//! and the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use pgmq_orm_core::consumer::{CancellationToken, Consumer, ConsumerBackend, ConsumerConfig};
use pgmq_orm_core::migrate::TableStorage;
use pgmq_orm_core::{BatchSize, BoxError, Message, QueueHealth, QueueName, VisibilityTimeout};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

/// The message: a pad that makes the JSON 256 bytes, as the issue's workload has.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) pad: String,
}

impl Job {
    /// A job whose JSON text (`{"pad":"..."}`) is exactly 256 bytes.
    pub(crate) fn of_256_bytes() -> Self {
        Self {
            pad: "x".repeat(256 - r#"{"pad":""}"#.len()),
        }
    }
}

/// How a queue's table is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Storage {
    Plain,
    Unlogged,
    /// pg_partman's partitions of 10 000 ids; skipped where pg_partman is missing.
    Partitioned,
    /// A plain queue with the per-table autovacuum knobs of `TableStorage`.
    Tuned,
}

impl Storage {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Unlogged => "unlogged",
            Self::Partitioned => "partitioned",
            Self::Tuned => "plain + TableStorage",
        }
    }

    /// The settings [`Storage::Tuned`] applies: autovacuum after 1 % of the rows (plus 50)
    /// are dead, unthrottled.
    pub(crate) fn tuned() -> TableStorage {
        TableStorage::new()
            .autovacuum_vacuum_scale_factor(0.01)
            .autovacuum_vacuum_threshold(50)
            .autovacuum_vacuum_cost_delay_ms(0)
    }
}

/// The set-up connection.
pub(crate) struct Admin {
    pub(crate) client: Client,
}

impl Admin {
    pub(crate) async fn connect(url: &str) -> Self {
        let (client, conn) = tokio_postgres::connect(url, NoTls)
            .await
            .expect("admin connect");
        tokio::spawn(conn);
        Self { client }
    }

    /// Drops `queue` if it exists and makes it again with `storage`. `Err` says why the
    /// storage is unavailable here (pg_partman missing).
    pub(crate) async fn recreate(&self, queue: &str, storage: Storage) -> Result<(), String> {
        let exists: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pgmq.list_queues() WHERE queue_name = $1)",
                &[&queue],
            )
            .await
            .expect("list_queues")
            .get(0);
        if exists {
            self.client
                .execute("SELECT pgmq.drop_queue($1)", &[&queue])
                .await
                .expect("drop_queue");
        }
        let made = match storage {
            Storage::Plain | Storage::Tuned => {
                self.client
                    .execute("SELECT pgmq.create($1)", &[&queue])
                    .await
            }
            Storage::Unlogged => {
                self.client
                    .execute("SELECT pgmq.create_unlogged($1)", &[&queue])
                    .await
            }
            Storage::Partitioned => {
                if let Err(e) = self
                    .client
                    .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_partman")
                    .await
                {
                    return Err(format!("pg_partman unavailable: {e}"));
                }
                self.client
                    .execute(
                        "SELECT pgmq.create_partitioned($1, '10000', '100000')",
                        &[&queue],
                    )
                    .await
            }
        };
        made.map_err(|e| format!("creating {queue}: {e}"))?;
        if storage == Storage::Tuned {
            let options = Storage::tuned().options().expect("settings");
            let table = QueueName::new(queue).expect("name").quoted_table_name();
            self.client
                .batch_execute(&format!("ALTER TABLE {table} SET ({options})"))
                .await
                .expect("storage settings");
        }
        Ok(())
    }

    /// Sends `n` copies of `job` in statements of at most 1000.
    pub(crate) async fn fill(&self, queue: &str, n: usize, job: &Job) {
        let json = serde_json::to_value(job).expect("json");
        let mut left = n;
        while left > 0 {
            let count = left.min(1000) as i32;
            self.client
                .execute(
                    "SELECT pgmq.send_batch($1, array_fill($2::jsonb, ARRAY[$3::int]))",
                    &[&queue, &json, &count],
                )
                .await
                .expect("send_batch");
            left -= count as usize;
        }
    }

    /// Messages in the queue, visible or not.
    pub(crate) async fn depth(&self, queue: &str) -> i64 {
        self.client
            .query_one("SELECT queue_length FROM pgmq.metrics($1)", &[&queue])
            .await
            .expect("metrics")
            .get(0)
    }
}

/// The queue's health through diesel-async's `queue_health`, the call an operator has.
pub(crate) async fn health(url: &str, queue: &str) -> QueueHealth {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use diesel_pgmq::PgmqAsyncConnectionExt;
    // Dead tuples come from the server's statistics, which busy sessions report about
    // once a second: a figure may lag the table by that much.
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .expect("health connect");
    conn.queue_health(queue).await.expect("queue_health")
}

/// Keeps `queue` above `low` messages by topping it up with `batch` at a time, until
/// `stop`. The workers part uses it so no consumer ever sees an empty queue.
pub(crate) fn keep_full(
    url: String,
    queue: &'static str,
    low: i64,
    batch: usize,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let admin = Admin::connect(&url).await;
        let job = Job::of_256_bytes();
        while !stop.is_cancelled() {
            if admin.depth(queue).await < low {
                admin.fill(queue, batch, &job).await;
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
}

/// Which consumer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsumerKind {
    /// diesel-pgmq's consumer runtime on diesel-async (bb8).
    DieselAsync,
    /// sea-orm-pgmq's consumer runtime on a `DatabaseConnection`.
    SeaOrm,
    /// diesel-pgmq's blocking consumer on sync Diesel (r2d2), on a `spawn_blocking` thread.
    DieselSync,
    /// A loop of `read(qty = 1)`, handle, `delete` per worker, on diesel-async: the
    /// pattern that anti-scales.
    DieselAsyncOnePerRead,
    /// The same loop on SeaORM.
    SeaOrmOnePerRead,
    /// The same loop on sync Diesel: a thread per worker, sharing an r2d2 pool.
    DieselSyncOnePerRead,
}

impl ConsumerKind {
    pub(crate) const ALL: [Self; 6] = [
        Self::DieselAsync,
        Self::SeaOrm,
        Self::DieselSync,
        Self::DieselAsyncOnePerRead,
        Self::SeaOrmOnePerRead,
        Self::DieselSyncOnePerRead,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::DieselAsync => "diesel-async consumer",
            Self::SeaOrm => "SeaORM consumer",
            Self::DieselSync => "sync Diesel consumer",
            Self::DieselAsyncOnePerRead => "diesel-async read(1) loop",
            Self::SeaOrmOnePerRead => "SeaORM read(1) loop",
            Self::DieselSyncOnePerRead => "sync Diesel read(1) loop",
        }
    }
}

/// Connections of a consumer runtime's pool: 2 (one reads while the other sends the
/// batched acknowledgements), or `SCALE_POOL`.
pub(crate) fn pool_size() -> u32 {
    env_number("SCALE_POOL").unwrap_or(2) as u32
}

/// Connections the read(1) loops share: one per worker up to 64 (`SCALE_LOOP_POOL`), so
/// 256 workers do not take most of the server's 300 connections.
fn loop_pool_size(handlers: usize) -> u32 {
    handlers.min(env_number("SCALE_LOOP_POOL").unwrap_or(64)) as u32
}

/// A number from the environment, if set.
pub(crate) fn env_number(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

/// What the handlers record: messages handled, and each pickup's latency (insert to
/// handler start) with the moment it was seen.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) handled: AtomicU64,
    latencies: std::sync::Mutex<Vec<(Instant, f64)>>,
}

impl Tally {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The handler of every async consumer: record the pickup, work `work`, count it.
    async fn handle(&self, message: &Message<Job>, work: Duration, record: bool) {
        self.picked_up(message, record);
        if !work.is_zero() {
            tokio::time::sleep(work).await;
        }
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    /// [`Tally::handle`] on a thread: the work is a `thread::sleep`.
    fn handle_blocking(&self, message: &Message<Job>, work: Duration, record: bool) {
        self.picked_up(message, record);
        if !work.is_zero() {
            std::thread::sleep(work);
        }
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    fn picked_up(&self, message: &Message<Job>, record: bool) {
        if record {
            let ms = (Utc::now() - message.enqueued_at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            self.latencies
                .lock()
                .expect("latencies")
                .push((Instant::now(), ms));
        }
        std::hint::black_box(&message.message);
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// Latencies (ms) of the pickups seen between `from` and `to`.
    pub(crate) fn latencies_between(&self, from: Instant, to: Instant) -> Vec<f64> {
        self.latencies
            .lock()
            .expect("latencies")
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, ms)| *ms)
            .collect()
    }
}

/// How a consumer under test is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup {
    pub(crate) handlers: usize,
    pub(crate) work: Duration,
    /// Whether the handlers record pickup latencies.
    pub(crate) record: bool,
}

/// The consumer runtime's settings for `handlers` concurrent handlers: reads of up to
/// 100 (never more than free handlers), idle polls every 50 ms.
fn config(queue: QueueName, handlers: usize) -> ConsumerConfig {
    ConsumerConfig::new(queue)
        .with_concurrency(handlers)
        .with_batch_size(handlers.min(100))
        .with_poll_interval(Duration::from_millis(50))
        .with_shutdown_deadline(Duration::from_secs(5))
}

async fn run_consumer<B: ConsumerBackend + 'static>(
    backend: B,
    queue: QueueName,
    setup: Setup,
    tally: Arc<Tally>,
    cancel: CancellationToken,
) {
    let consumer = Consumer::new(backend, config(queue, setup.handlers), {
        move |m: Message<Job>| {
            let tally = Arc::clone(&tally);
            async move {
                tally.handle(&m, setup.work, setup.record).await;
                Ok::<(), BoxError>(())
            }
        }
    });
    consumer.run(cancel).await.expect("consumer run");
}

/// The blocking consumer of sync Diesel on a `spawn_blocking` thread, stopped by `cancel`.
fn run_blocking_consumer(
    url: &str,
    queue: QueueName,
    setup: Setup,
    tally: Arc<Tally>,
    cancel: CancellationToken,
) -> Vec<JoinHandle<()>> {
    use pgmq_orm_core::consumer::blocking::{BlockingConsumer, StopToken};
    let backend = diesel_pgmq::sync_consumer::SyncBackend::new(r2d2_pool(url, pool_size()));
    let consumer = BlockingConsumer::new(
        backend,
        config(queue, setup.handlers),
        move |m: Message<Job>| {
            tally.handle_blocking(&m, setup.work, setup.record);
            Ok::<(), BoxError>(())
        },
    );
    let stop = StopToken::new();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            stop.stop();
        })
    };
    let run = tokio::task::spawn_blocking(move || consumer.run(&stop).expect("consumer run"));
    vec![run, stopper]
}

/// The read(1) loop on sync Diesel: a thread per worker.
fn run_blocking_loop(
    url: &str,
    queue: &'static str,
    setup: Setup,
    tally: &Arc<Tally>,
    cancel: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    use diesel_pgmq::PgmqConnectionExt;
    let pool = r2d2_pool(url, loop_pool_size(setup.handlers));
    (0..setup.handlers)
        .map(|_| {
            let (pool, tally, cancel) = (pool.clone(), Arc::clone(tally), cancel.clone());
            tokio::task::spawn_blocking(move || {
                while !cancel.is_cancelled() {
                    let got = {
                        let mut conn = pool.get().expect("checkout");
                        conn.read::<Job>(queue, VisibilityTimeout::Seconds(30), one())
                            .expect("read")
                    };
                    if got.is_empty() {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    for m in got.iter() {
                        tally.handle_blocking(m, setup.work, setup.record);
                        let mut conn = pool.get().expect("checkout");
                        conn.delete(queue, m.msg_id).expect("delete");
                    }
                }
            })
        })
        .collect()
}

/// Starts `kind` on `queue`; it runs until `cancel`. Returns once its connections are
/// open.
pub(crate) async fn start(
    kind: ConsumerKind,
    url: &str,
    queue: &'static str,
    setup: Setup,
    tally: Arc<Tally>,
    cancel: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let name = QueueName::new(queue).expect("queue name");
    match kind {
        ConsumerKind::DieselAsync => {
            let backend =
                diesel_pgmq::consumer::DieselBackend::new(diesel_pool(url, pool_size()).await);
            vec![tokio::spawn(run_consumer(
                backend, name, setup, tally, cancel,
            ))]
        }
        ConsumerKind::SeaOrm => {
            let backend =
                sea_orm_pgmq::consumer::SeaOrmBackend::new(sea_pool(url, pool_size()).await);
            vec![tokio::spawn(run_consumer(
                backend, name, setup, tally, cancel,
            ))]
        }
        ConsumerKind::DieselSync => run_blocking_consumer(url, name, setup, tally, cancel),
        ConsumerKind::DieselSyncOnePerRead => run_blocking_loop(url, queue, setup, &tally, &cancel),
        ConsumerKind::DieselAsyncOnePerRead => {
            let pool = diesel_pool(url, loop_pool_size(setup.handlers)).await;
            (0..setup.handlers)
                .map(|_| {
                    let (pool, tally, cancel) = (pool.clone(), Arc::clone(&tally), cancel.clone());
                    tokio::spawn(async move {
                        use diesel_pgmq::PgmqAsyncConnectionExt;
                        while !cancel.is_cancelled() {
                            let got = {
                                let mut conn = pool.get().await.expect("checkout");
                                conn.read::<Job>(queue, VisibilityTimeout::Seconds(30), one())
                                    .await
                                    .expect("read")
                            };
                            if got.is_empty() {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            for m in got.iter() {
                                tally.handle(m, setup.work, setup.record).await;
                                let mut conn = pool.get().await.expect("checkout");
                                conn.delete(queue, m.msg_id).await.expect("delete");
                            }
                        }
                    })
                })
                .collect()
        }
        ConsumerKind::SeaOrmOnePerRead => {
            let db = sea_pool(url, loop_pool_size(setup.handlers)).await;
            (0..setup.handlers)
                .map(|_| {
                    let (db, tally, cancel) = (db.clone(), Arc::clone(&tally), cancel.clone());
                    tokio::spawn(async move {
                        use sea_orm_pgmq::PgmqConnectionExt;
                        while !cancel.is_cancelled() {
                            let got = db
                                .read::<Job>(queue, VisibilityTimeout::Seconds(30), one())
                                .await
                                .expect("read");
                            if got.is_empty() {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            for m in got.iter() {
                                tally.handle(m, setup.work, setup.record).await;
                                db.delete(queue, m.msg_id).await.expect("delete");
                            }
                        }
                    })
                })
                .collect()
        }
    }
}

/// An r2d2 pool of sync Diesel connections, all open.
fn r2d2_pool(
    url: &str,
    size: u32,
) -> diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::PgConnection>> {
    diesel::r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size))
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(30))
        .build(diesel::r2d2::ConnectionManager::new(url))
        .expect("r2d2 pool")
}

fn one() -> BatchSize {
    BatchSize::new(1).expect("1 is a batch size")
}

async fn diesel_pool(url: &str, size: u32) -> diesel_pgmq::consumer::PgPool {
    diesel_pgmq::consumer::PgPool::builder()
        .max_size(size)
        .min_idle(size)
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(30))
        .build(AsyncDieselConnectionManager::new(url))
        .await
        .expect("bb8 pool")
}

async fn sea_pool(url: &str, size: u32) -> sea_orm::DatabaseConnection {
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(size)
        .min_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .sqlx_logging(false);
    sea_orm::Database::connect(options)
        .await
        .expect("sea-orm connect")
}

/// Cancels `cancel` and waits for every task (bounded by the consumer's shutdown
/// deadline plus its statement timeout; a task still running after 60 s is a bug).
pub(crate) async fn stop(tasks: Vec<JoinHandle<()>>, cancel: &CancellationToken) {
    cancel.cancel();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("a consumer did not stop within 60 s")
            .expect("consumer task panicked");
    }
}

/// The `p`-th percentile (0..=100) of `values`, nearest rank; 0 for none.
pub(crate) fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A `key` line of `/proc/self/status`, in kB.
pub(crate) fn proc_status_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} missing from /proc/self/status"))
}

/// Bytes as MiB with one decimal.
pub(crate) fn mib(bytes: i64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}
