//! The consumer runtime on diesel-async (bb8) against a real pgmq: every scenario of
//! `consumer_support`, plus transactional acknowledgement on `&mut AsyncPgConnection`.

mod consumer_support;

use std::any::Any;
use std::time::Duration;

use consumer_support::*;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_pgmq::consumer::*;
use diesel_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
use diesel_pgmq::{
    Batch, BatchSize, BoxError, Delay, Error, Message, PgmqAsyncConnectionExt, QueueName,
    VisibilityTimeout,
};
use pgmq_harness::TestDb;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

struct Diesel {
    _db: Option<TestDb>,
    url: String,
    pool: PgPool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Diesel {
    async fn count(&self, sql: String) -> i64 {
        let mut conn = self.pool.get().await.unwrap();
        let row: Count = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
        row.n
    }

    async fn run_sql(&self, sql: &str) {
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
}

impl Fixture for Diesel {
    type Backend = DieselBackend;
    type Runtime = Async;

    async fn new() -> Self {
        let db = TestDb::new();
        let mut fx = Self::at(db.url()).await;
        fx._db = Some(db);
        fx
    }

    async fn at(url: &str) -> Self {
        let url = url.to_owned();
        let pool = PgPool::builder()
            .max_size(8)
            .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(&url))
            .await
            .unwrap();
        let mut conn = pool.get().await.unwrap();
        conn.create_queue(&queue()).await.unwrap();
        conn.create_queue(&dlq()).await.unwrap();
        drop(conn);
        Self {
            _db: None,
            url,
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
    ) -> (DieselBackend, Box<dyn Any + Send>) {
        let pool = PgPool::builder()
            .max_size(size)
            .connection_timeout(timeout)
            .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(
                &self.url,
            ))
            .await
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..hold {
            held.push(pool.get_owned().await.unwrap());
        }
        (DieselBackend::new(pool), Box::new(held))
    }

    fn transactional(
        &self,
        backend: DieselBackend,
        cfg: ConsumerConfig,
        work: Duration,
    ) -> impl Startable {
        // A transactional handler as an async closure, with its state passed in.
        let sleeps = with_state(
            work,
            async |work: &Duration, _conn: &mut AsyncPgConnection, _m: Message<Value>| {
                tokio::time::sleep(*work).await;
                Ok::<(), BoxError>(())
            },
        );
        Transactional::consumer(backend, cfg, sleeps)
    }

    async fn backend(&self) -> DieselBackend {
        DieselBackend::new(self.pool.clone())
    }

    async fn notify_backend(&self) -> DieselBackend {
        DieselBackend::with_notify(self.pool.clone(), &self.url, &queue())
            .await
            .unwrap()
    }

    async fn send(&self, q: &QueueName, msg: Value, headers: Option<Value>) {
        let mut conn = self.pool.get().await.unwrap();
        conn.send_with(q, &msg, headers.as_ref(), Delay::Seconds(0))
            .await
            .unwrap();
    }

    async fn peek(&self, q: &QueueName) -> Batch<Message<Value>> {
        let mut conn = self.pool.get().await.unwrap();
        conn.read(
            q,
            VisibilityTimeout::Seconds(0),
            BatchSize::new(100).unwrap(),
        )
        .await
        .unwrap()
    }

    async fn archived(&self, q: &QueueName) -> i64 {
        self.count(format!(
            "SELECT count(*) AS n FROM pgmq.{}",
            q.archive_table_name()
        ))
        .await
    }

    async fn stored(&self, q: &QueueName) -> i64 {
        self.count(format!("SELECT count(*) AS n FROM pgmq.{}", q.table_name()))
            .await
    }

    async fn kill_listeners(&self) -> i64 {
        self.count(KILL_LISTENERS.to_owned()).await
    }

    async fn query_n(&self, sql: &str) -> i64 {
        self.count(sql.to_owned()).await
    }
}

impl DeadLetterTools for Diesel {
    async fn dl_list(&self, after: i64, limit: usize) -> Result<Batch<DeadLetter>, Error> {
        let mut conn = self.pool.get().await.unwrap();
        DeadLetters::new(dlq())?
            .list(&mut conn, after, BatchSize::new(limit)?)
            .await
    }

    async fn dl_inspect<T: DeserializeOwned>(
        &self,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        let mut conn = self.pool.get().await.unwrap();
        DeadLetters::new(dlq())?.inspect(&mut conn, msg_id).await
    }

    async fn dl_requeue(
        &self,
        target: Option<&QueueName>,
        ids: Option<&[i64]>,
    ) -> Result<Vec<Requeued>, Error> {
        let mut conn = self.pool.get().await.unwrap();
        let mut tools = DeadLetters::new(dlq())?;
        if let Some(t) = target {
            tools = tools.requeue_to(t)?;
        }
        match ids {
            Some(ids) => tools.requeue(&mut conn, ids).await,
            None => tools.requeue_all(&mut conn).await,
        }
    }
}

consumer_support::scenario_tests!(Diesel);

/// Inserts the payload into `effects`, then fails if told to.
struct InsertThenMaybeFail {
    fail: bool,
}

impl TxHandler<i64> for InsertThenMaybeFail {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        m: Message<i64>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            diesel::sql_query("INSERT INTO effects(v) VALUES ($1)")
                .bind::<BigInt, _>(m.message)
                .execute(conn)
                .await?;
            if self.fail {
                return Err("after the insert".into());
            }
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_mode_commits_effects_and_ack_together_and_rolls_both_back_on_error() {
    let fx = Diesel::new().await;
    fx.run_sql("CREATE TABLE effects(v bigint)").await;
    let effects = || fx.count("SELECT count(*) AS n FROM effects".to_owned());
    let cfg = config().with_concurrency(4).with_retry(RetryPolicy {
        max_attempts: 2,
        initial: Duration::from_secs(1),
        jitter: 0.0,
        ..RetryPolicy::default()
    });

    fx.send(&queue(), json!(42), None).await;
    let ok = Transactional::consumer(
        fx.backend().await,
        cfg.clone(),
        // The closure form; the failing run below uses the trait form.
        async |conn: &mut AsyncPgConnection, m: Message<i64>| {
            diesel::sql_query("INSERT INTO effects(v) VALUES ($1)")
                .bind::<BigInt, _>(m.message)
                .execute(conn)
                .await?;
            Ok::<(), BoxError>(())
        },
    );
    let run = Running::start(ok);
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 1)
            .await
    );
    run.stop().await;
    assert_eq!(effects().await, 1);
    assert!(fx.peek(&queue()).await.is_empty());

    fx.send(&queue(), json!(43), None).await;
    let failing =
        Transactional::consumer(fx.backend().await, cfg, InsertThenMaybeFail { fail: true });
    let run = Running::start(failing);
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.dead_lettered == 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.retried, 1);
    assert_eq!(effects().await, 1, "failed attempts left no effect behind");
    assert_eq!(fx.peek(&dlq()).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_mode_rolls_back_when_the_message_was_already_acknowledged() {
    let fx = Diesel::new().await;
    fx.run_sql("CREATE TABLE effects(v bigint)").await;
    fx.send(&queue(), json!(1), None).await;

    /// Deletes its own message behind the consumer's back (as a second consumer would
    /// after the visibility timeout), then writes its effect.
    struct DeletedMeanwhile(QueueName);
    impl TxHandler<i64> for DeletedMeanwhile {
        fn handle<'a>(
            &'a self,
            conn: &'a mut AsyncPgConnection,
            m: Message<i64>,
        ) -> BoxFuture<'a, Result<(), BoxError>> {
            Box::pin(async move {
                conn.delete(&self.0, m.msg_id).await?;
                diesel::sql_query("INSERT INTO effects(v) VALUES (1)")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        }
    }
    // The handler's own delete runs in the same transaction, so the acknowledgement
    // finds nothing to delete and everything rolls back.
    let run = Running::start(Transactional::consumer(
        fx.backend().await,
        config().with_concurrency(4),
        DeletedMeanwhile(queue()),
    ));
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.retried >= 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.processed, 0);
    assert_eq!(
        fx.count("SELECT count(*) AS n FROM effects".to_owned())
            .await,
        0
    );
}

/// `with_notify` on a misspelt queue fails with the typed error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notify_on_a_missing_queue_is_queue_missing() {
    let fx = Diesel::new().await;
    let typo = QueueName::from_static("jbos");
    let err = DieselBackend::with_notify(fx.pool.clone(), &fx.url, &typo)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "jbos"),
        "{err:?}"
    );
}
