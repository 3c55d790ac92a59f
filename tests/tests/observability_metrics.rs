//! Metrics (feature `metrics`) against a real pgmq, read back through metrics-util's
//! debugging recorder: the consumer's `ConsumerStats` and the metrics agree, sends are
//! counted per queue by both ORMs, and the depth poller sets the queue gauges and stops.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_pgmq::consumer::{
    CancellationToken, Consumer, ConsumerConfig, DieselBackend, FailureDestination, PgPool,
    RetryPolicy,
};
use diesel_pgmq::observe::{DepthPoller, metrics as m};
use diesel_pgmq::{BoxError, Error, Message, PgmqAsyncConnectionExt, QueueName};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use pgmq_harness::TestDb;
use sea_orm_pgmq::PgmqConnectionExt as _;

/// What the recorder saw, summed over snapshots (a snapshot drains the recorder, and the
/// tests of this binary share it): counters summed, histograms as their sample count,
/// gauges as their last value. Keyed by metric name and queue label.
#[derive(Default)]
struct Seen {
    values: HashMap<(String, String), f64>,
    /// The labels each metric carried, for the label checks.
    labels: HashMap<String, Vec<(String, String)>>,
}

fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder in this binary");
        m::describe();
        snapshotter
    })
}

fn seen() -> &'static Mutex<Seen> {
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
}

/// The value of `name` for `queue` so far.
fn value(name: &str, queue: &str) -> f64 {
    let mut seen = seen().lock().unwrap();
    for (key, _, _, v) in snapshotter().snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let q = labels
            .iter()
            .find(|(k, _)| k == m::QUEUE_LABEL)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let slot = seen.values.entry((key.name().to_owned(), q)).or_default();
        match v {
            DebugValue::Counter(n) => *slot += n as f64,
            DebugValue::Histogram(xs) => *slot += xs.len() as f64,
            DebugValue::Gauge(g) => *slot = g.into_inner(),
        }
        seen.labels.insert(key.name().to_owned(), labels);
    }
    drop(seen);
    last(name, queue)
}

/// The value of `name` for `queue` as of the last snapshot (gauges read back as 0 in a
/// snapshot taken before the next tick sets them again).
fn last(name: &str, queue: &str) -> f64 {
    seen()
        .lock()
        .unwrap()
        .values
        .get(&(name.to_owned(), queue.to_owned()))
        .copied()
        .unwrap_or(0.0)
}

async fn pool(url: &str) -> PgPool {
    PgPool::builder()
        .max_size(4)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(url))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_stats_and_metrics_agree() {
    snapshotter();
    let db = TestDb::new();
    let pool = pool(db.url()).await;
    let mut conn = pool.get().await.unwrap();
    conn.create_queue("met_orders").await.unwrap();
    conn.create_queue("met_orders_dlq").await.unwrap();
    conn.send_batch("met_orders", &[1, 2, 3, 4, 5])
        .await
        .unwrap();
    // Does not decode as u64: dead-lettered at once.
    conn.send("met_orders", &"oops").await.unwrap();
    drop(conn);
    assert_eq!(value(m::SENT, "met_orders"), 6.0);

    let consumer = Consumer::new(
        DieselBackend::new(pool.clone()),
        ConsumerConfig::new(QueueName::new("met_orders").unwrap())
            .with_retry(RetryPolicy {
                initial: Duration::ZERO,
                max_attempts: 2,
                ..RetryPolicy::default()
            })
            .with_failure_destination(FailureDestination::DeadLetter(
                QueueName::new("met_orders_dlq").unwrap(),
            )),
        |msg: Message<u64>| async move {
            if msg.message == 3 {
                Err::<(), BoxError>("three always fails".into())
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(())
            }
        },
    );
    let stats = consumer
        .run_until_empty(CancellationToken::new())
        .await
        .unwrap();
    // 4 processed; "3" retried once, then dead-lettered with "oops".
    assert_eq!(
        (
            stats.read,
            stats.processed,
            stats.retried,
            stats.dead_lettered
        ),
        (7, 4, 1, 2),
        "{stats:?}"
    );
    let q = "met_orders";
    assert_eq!(value(m::PROCESSED, q), stats.processed as f64);
    assert_eq!(value(m::RETRIED, q), stats.retried as f64);
    assert_eq!(value(m::DEAD_LETTERED, q), stats.dead_lettered as f64);
    assert_eq!(
        value(m::CONSUMED, q),
        stats.read as f64,
        "no message was released"
    );
    assert_eq!(
        value(m::LAG, q),
        stats.read as f64,
        "one lag sample per delivery"
    );
    assert_eq!(value(m::PROCESS_DURATION, q), stats.read as f64);
    let labels = seen().lock().unwrap().labels[m::PROCESSED].clone();
    assert!(labels.contains(&(m::SYSTEM_LABEL.to_owned(), "pgmq".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaorm_sends_are_counted_per_queue() {
    snapshotter();
    let db = TestDb::new();
    let orm = sea_orm::Database::connect(db.url()).await.unwrap();
    orm.create_queue("met_sea").await.unwrap();
    orm.send("met_sea", &1).await.unwrap();
    orm.send_batch("met_sea", &[2, 3]).await.unwrap();
    orm.send_batch::<u8>("met_sea", &[]).await.unwrap();
    assert_eq!(value(m::SENT, "met_sea"), 3.0);
    let labels = seen().lock().unwrap().labels[m::SENT].clone();
    assert!(labels.iter().any(|(k, _)| k == m::OPERATION_LABEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_poller_sets_the_queue_gauges_and_stops() {
    snapshotter();
    let db = TestDb::new();
    let pool = pool(db.url()).await;
    let mut conn = pool.get().await.unwrap();
    conn.create_queue("met_depth").await.unwrap();
    conn.send_batch("met_depth", &[1, 2, 3]).await.unwrap();
    drop(conn);

    let reads = pool.clone();
    let poller = DepthPoller::new()
        .interval(Duration::from_millis(20))
        .query_timeout(Duration::from_secs(2))
        .spawn(move || {
            let pool = reads.clone();
            async move {
                let mut conn = pool
                    .get()
                    .await
                    .map_err(|e| Error::Pool(e.to_string().into()))?;
                conn.metrics_all().await
            }
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while value(m::QUEUE_DEPTH, "met_depth") != 3.0 {
        assert!(Instant::now() < deadline, "the poller never set the depth");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last(m::QUEUE_VISIBLE_DEPTH, "met_depth"), 3.0);
    assert!(last(m::OLDEST_AGE, "met_depth") >= 0.0);
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), poller.stop())
        .await
        .expect("stop returns within the read bound");
    assert!(stopping.elapsed() < Duration::from_secs(3));
}
