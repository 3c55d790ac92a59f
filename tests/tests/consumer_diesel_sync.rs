//! The blocking consumer runtime on sync Diesel (r2d2, `PgConnection`, std threads)
//! against a real pgmq: every scenario of `consumer_support`, run over the std-thread
//! runtime, plus transactional acknowledgement on `&mut PgConnection`.

mod consumer_support;

use std::any::Any;
use std::time::Duration;

use consumer_support::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::BigInt;
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use diesel_pgmq::dead_letter::{DeadLetters, SyncDeadLetterOps};
use diesel_pgmq::sync_consumer::*;
use diesel_pgmq::{
    Batch, BatchSize, BoxError, Delay, Error, Message, PgmqConnectionExt, QueueName,
    VisibilityTimeout,
};
use pgmq_harness::TestDb;
use pgmq_orm_core::consumer::{DeadLetter, Requeued};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

struct DieselSync {
    _db: Option<TestDb>,
    url: String,
    pool: SyncPool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn pool(url: &str, size: u32, timeout: Duration) -> SyncPool {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .build(ConnectionManager::<PgConnection>::new(url))
        .unwrap()
}

impl DieselSync {
    fn count(&self, sql: &str) -> i64 {
        let row: Count = diesel::sql_query(sql)
            .get_result(&mut self.pool.get().unwrap())
            .unwrap();
        row.n
    }

    fn run_sql(&self, sql: &str) {
        diesel::sql_query(sql)
            .execute(&mut self.pool.get().unwrap())
            .unwrap();
    }
}

impl Fixture for DieselSync {
    type Backend = SyncBackend;
    type Runtime = Blocking;

    async fn new() -> Self {
        let db = TestDb::new();
        let mut fx = Self::at(db.url()).await;
        fx._db = Some(db);
        fx
    }

    async fn at(url: &str) -> Self {
        let pool = pool(url, 8, Duration::from_secs(10));
        let mut conn = pool.get().unwrap();
        conn.create_queue(queue()).unwrap();
        conn.create_queue(dlq()).unwrap();
        drop(conn);
        Self {
            _db: None,
            url: url.to_owned(),
            pool,
        }
    }

    fn url(&self) -> &str {
        &self.url
    }

    async fn tight_backend(
        &self,
        size: u32,
        timeout: Duration,
        hold: u32,
    ) -> (SyncBackend, Box<dyn Any + Send>) {
        let pool = pool(&self.url, size, timeout);
        let held: Vec<_> = (0..hold).map(|_| pool.get().unwrap()).collect();
        (SyncBackend::new(pool), Box::new(held))
    }

    fn transactional(
        &self,
        backend: SyncBackend,
        cfg: ConsumerConfig,
        work: Duration,
    ) -> impl Startable {
        SyncTransactional::consumer(
            backend,
            cfg,
            move |_conn: &mut PgConnection, _m: Message<Value>| {
                std::thread::sleep(work);
                Ok::<(), BoxError>(())
            },
        )
    }

    async fn backend(&self) -> SyncBackend {
        SyncBackend::new(self.pool.clone())
    }

    async fn notify_backend(&self) -> SyncBackend {
        SyncBackend::with_notify(self.pool.clone(), &self.url, &queue()).unwrap()
    }

    async fn send(&self, q: &QueueName, msg: Value, headers: Option<Value>) {
        self.pool
            .get()
            .unwrap()
            .send_with(q, &msg, headers.as_ref(), Delay::Seconds(0))
            .unwrap();
    }

    async fn peek(&self, q: &QueueName) -> Batch<Message<Value>> {
        self.pool
            .get()
            .unwrap()
            .read(
                q,
                VisibilityTimeout::Seconds(0),
                BatchSize::new(100).unwrap(),
            )
            .unwrap()
    }

    async fn archived(&self, q: &QueueName) -> i64 {
        self.count(&format!(
            "SELECT count(*) AS n FROM pgmq.{}",
            q.archive_table_name()
        ))
    }

    async fn stored(&self, q: &QueueName) -> i64 {
        self.count(&format!(
            "SELECT count(*) AS n FROM pgmq.{}",
            q.table_name()
        ))
    }

    async fn kill_listeners(&self) -> i64 {
        self.count(KILL_LISTENERS)
    }

    async fn query_n(&self, sql: &str) -> i64 {
        self.count(sql)
    }
}

impl DeadLetterTools for DieselSync {
    async fn dl_list(&self, after: i64, limit: usize) -> Result<Batch<DeadLetter>, Error> {
        DeadLetters::new(dlq())?.list_sync(
            &mut self.pool.get().unwrap(),
            after,
            BatchSize::new(limit)?,
        )
    }

    async fn dl_inspect<T: DeserializeOwned>(
        &self,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        DeadLetters::new(dlq())?.inspect_sync(&mut self.pool.get().unwrap(), msg_id)
    }

    async fn dl_requeue(
        &self,
        target: Option<&QueueName>,
        ids: Option<&[i64]>,
    ) -> Result<Vec<Requeued>, Error> {
        let mut conn = self.pool.get().unwrap();
        let mut tools = DeadLetters::new(dlq())?;
        if let Some(t) = target {
            tools = tools.requeue_to(t)?;
        }
        match ids {
            Some(ids) => tools.requeue_sync(&mut conn, ids),
            None => tools.requeue_all_sync(&mut conn),
        }
    }
}

consumer_support::scenario_tests!(DieselSync);

/// Inserts the payload into `effects` on the transaction's connection, then fails if
/// told to: the application's own sync Diesel code, run inside the acknowledging
/// transaction.
fn insert_then_maybe_fail(
    fail: bool,
) -> impl Fn(&mut PgConnection, Message<i64>) -> Result<(), BoxError> + Send + Sync + 'static {
    move |conn, m| {
        diesel::sql_query("INSERT INTO effects(v) VALUES ($1)")
            .bind::<BigInt, _>(m.message)
            .execute(conn)?;
        if fail {
            return Err("after the insert".into());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_mode_commits_effects_and_ack_together_and_rolls_both_back_on_error() {
    let fx = DieselSync::new().await;
    fx.run_sql("CREATE TABLE effects(v bigint)");
    let effects = || fx.count("SELECT count(*) AS n FROM effects");
    let cfg = config().with_concurrency(4).with_retry(RetryPolicy {
        max_attempts: 2,
        initial: Duration::from_secs(1),
        jitter: 0.0,
        ..RetryPolicy::default()
    });

    fx.send(&queue(), json!(42), None).await;
    let run = SyncTransactional::consumer(
        fx.backend().await,
        cfg.clone(),
        insert_then_maybe_fail(false),
    )
    .start();
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 1)
            .await
    );
    run.stop().await;
    assert_eq!(effects(), 1);
    assert!(fx.peek(&queue()).await.is_empty());

    fx.send(&queue(), json!(43), None).await;
    let run =
        SyncTransactional::consumer(fx.backend().await, cfg, insert_then_maybe_fail(true)).start();
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.dead_lettered == 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.retried, 1);
    assert_eq!(effects(), 1, "failed attempts left no effect behind");
    assert_eq!(fx.peek(&dlq()).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_mode_rolls_back_when_the_message_was_already_acknowledged() {
    let fx = DieselSync::new().await;
    fx.run_sql("CREATE TABLE effects(v bigint)");
    fx.send(&queue(), json!(1), None).await;
    // The handler deletes its own message in the same transaction (as a second consumer
    // would after the visibility timeout), so the acknowledgement finds nothing to
    // delete and everything rolls back.
    let run = SyncTransactional::consumer(
        fx.backend().await,
        config().with_concurrency(4),
        |conn: &mut PgConnection, m: Message<i64>| {
            conn.delete(queue(), m.msg_id)?;
            diesel::sql_query("INSERT INTO effects(v) VALUES (1)").execute(conn)?;
            Ok::<(), BoxError>(())
        },
    )
    .start();
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.retried >= 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.processed, 0);
    assert_eq!(fx.count("SELECT count(*) AS n FROM effects"), 0);
}

/// A transactional handler still running at the shutdown deadline: its message is
/// released at once and its transaction rolls back when it returns, so its effect never
/// commits and the message is not deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactional_handler_past_the_shutdown_deadline_rolls_back() {
    let fx = DieselSync::new().await;
    fx.run_sql("CREATE TABLE effects(v bigint)");
    fx.send(&queue(), json!(1), None).await;
    let cfg = config()
        .with_concurrency(4)
        .with_visibility(Duration::from_secs(300), None)
        .with_shutdown_deadline(Duration::from_millis(300));
    let run = SyncTransactional::consumer(
        fx.backend().await,
        cfg,
        |conn: &mut PgConnection, _m: Message<i64>| {
            diesel::sql_query("INSERT INTO effects(v) VALUES (1)").execute(conn)?;
            std::thread::sleep(Duration::from_secs(2));
            Ok::<(), BoxError>(())
        },
    )
    .start();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = run.stop().await;
    assert_eq!((stats.released, stats.processed), (1, 0), "{stats:?}");
    assert_eq!(fx.peek(&queue()).await.len(), 1, "visible again at once");
    // Let the handler return and its transaction end.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fx.count("SELECT count(*) AS n FROM effects"), 0);
    assert_eq!(fx.stored(&queue()).await, 1, "not acknowledged");
}

/// `with_notify` on a misspelt queue fails with the typed error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notify_on_a_missing_queue_is_queue_missing() {
    let fx = DieselSync::new().await;
    let typo = QueueName::from_static("jbos");
    let err = SyncBackend::with_notify(fx.pool.clone(), &fx.url, &typo).unwrap_err();
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "jbos"),
        "{err:?}"
    );
}

/// The blocking consumer needs no async runtime: it runs on a plain thread.
#[test]
fn the_blocking_consumer_runs_without_any_async_runtime() {
    let db = TestDb::new();
    let pool = pool(db.url(), 4, Duration::from_secs(10));
    let mut conn = pool.get().unwrap();
    conn.create_queue(queue()).unwrap();
    for i in 0..20 {
        conn.send(queue(), &i).unwrap();
    }
    drop(conn);
    let consumer = BlockingConsumer::new(
        SyncBackend::new(pool),
        ConsumerConfig::new(queue()).with_concurrency(3),
        |m: Message<i64>| {
            assert!(tokio::runtime::Handle::try_current().is_err());
            if m.message < 0 {
                return Err::<(), BoxError>("negative".into());
            }
            Ok(())
        },
    );
    let stats = std::thread::spawn(move || consumer.run_until_empty(&StopToken::new()))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!((stats.read, stats.processed), (20, 20));
}
