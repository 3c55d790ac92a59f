//! The consumer runtime on SeaORM against a real pgmq: every scenario of
//! `consumer_support`, plus transactional acknowledgement on `&DatabaseTransaction`.

mod consumer_support;

use std::any::Any;
use std::time::Duration;

use consumer_support::*;
use pgmq_harness::TestDb;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement,
};
use sea_orm_pgmq::consumer::*;
use sea_orm_pgmq::dead_letter::{DeadLetterOps, DeadLetters};
use sea_orm_pgmq::{
    Batch, BatchSize, BoxError, Delay, Error, Message, PgmqConnectionExt, QueueName,
    VisibilityTimeout,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The fixture; `PINNED` runs the backend's per-batch statements on a held connection
/// (`SeaOrmBackend::with_pinned_connection`) instead of the pool.
struct SeaOrm<const PINNED: bool = false> {
    _db: Option<TestDb>,
    url: String,
    db: DatabaseConnection,
}

impl<const PINNED: bool> SeaOrm<PINNED> {
    async fn pinned_if_asked(backend: SeaOrmBackend) -> SeaOrmBackend {
        if PINNED {
            backend.with_pinned_connection().await.unwrap()
        } else {
            backend
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

impl<const PINNED: bool> Fixture for SeaOrm<PINNED> {
    type Backend = SeaOrmBackend;
    type Runtime = Async;

    async fn new() -> Self {
        let tdb = TestDb::new();
        let mut fx = Self::at(tdb.url()).await;
        fx._db = Some(tdb);
        fx
    }

    async fn at(url: &str) -> Self {
        let db = Database::connect(url).await.unwrap();
        db.create_queue(&queue()).await.unwrap();
        db.create_queue(&dlq()).await.unwrap();
        Self {
            _db: None,
            url: url.to_owned(),
            db,
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
    ) -> (SeaOrmBackend, Box<dyn Any + Send>) {
        let mut options = ConnectOptions::new(&self.url);
        options
            .max_connections(size)
            .min_connections(0)
            .acquire_timeout(timeout)
            .sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..hold {
            held.push(db.get_postgres_connection_pool().acquire().await.unwrap());
        }
        let backend = Self::pinned_if_asked(SeaOrmBackend::new(db)).await;
        (backend, Box::new(held))
    }

    fn transactional(
        &self,
        backend: SeaOrmBackend,
        cfg: ConsumerConfig,
        work: Duration,
    ) -> impl Startable {
        // A transactional handler as an async closure, with its state passed in.
        let sleeps = with_state(
            work,
            async |work: &Duration, _tx: &DatabaseTransaction, _m: Message<Value>| {
                tokio::time::sleep(*work).await;
                Ok::<(), BoxError>(())
            },
        );
        Transactional::consumer(backend, cfg, sleeps)
    }

    async fn backend(&self) -> SeaOrmBackend {
        Self::pinned_if_asked(SeaOrmBackend::new(self.db.clone())).await
    }

    async fn notify_backend(&self) -> SeaOrmBackend {
        let backend = SeaOrmBackend::with_notify(self.db.clone(), &queue())
            .await
            .unwrap();
        Self::pinned_if_asked(backend).await
    }

    async fn send(&self, q: &QueueName, msg: Value, headers: Option<Value>) {
        self.db
            .send_with(q, &msg, headers.as_ref(), Delay::Seconds(0))
            .await
            .unwrap();
    }

    async fn peek(&self, q: &QueueName) -> Batch<Message<Value>> {
        self.db
            .read(
                q,
                VisibilityTimeout::Seconds(0),
                BatchSize::new(100).unwrap(),
            )
            .await
            .unwrap()
    }

    async fn archived(&self, q: &QueueName) -> i64 {
        let sql = format!("SELECT count(*) AS n FROM pgmq.{}", q.archive_table_name());
        self.count(&sql).await
    }

    async fn stored(&self, q: &QueueName) -> i64 {
        let sql = format!("SELECT count(*) AS n FROM pgmq.{}", q.table_name());
        self.count(&sql).await
    }

    async fn kill_listeners(&self) -> i64 {
        self.count(KILL_LISTENERS).await
    }

    async fn query_n(&self, sql: &str) -> i64 {
        self.count(sql).await
    }
}

impl<const PINNED: bool> DeadLetterTools for SeaOrm<PINNED> {
    async fn dl_list(&self, after: i64, limit: usize) -> Result<Batch<DeadLetter>, Error> {
        DeadLetters::new(dlq())?
            .list(&self.db, after, BatchSize::new(limit)?)
            .await
    }

    async fn dl_inspect<T: DeserializeOwned>(
        &self,
        msg_id: i64,
    ) -> Result<Option<DeadLetter<T>>, Error> {
        DeadLetters::new(dlq())?.inspect(&self.db, msg_id).await
    }

    async fn dl_requeue(
        &self,
        target: Option<&QueueName>,
        ids: Option<&[i64]>,
    ) -> Result<Vec<Requeued>, Error> {
        let mut tools = DeadLetters::new(dlq())?;
        if let Some(t) = target {
            tools = tools.requeue_to(t)?;
        }
        match ids {
            Some(ids) => tools.requeue(&self.db, ids).await,
            None => tools.requeue_all(&self.db).await,
        }
    }
}

consumer_support::scenario_tests!(SeaOrm);

/// Every scenario again with the per-batch statements on one held connection.
mod pinned {
    use super::consumer_support;
    consumer_support::scenario_tests!(super::SeaOrm<true>);
}

/// Inserts the payload into `effects`, then fails if told to.
struct InsertThenMaybeFail {
    fail: bool,
}

impl TxHandler<i64> for InsertThenMaybeFail {
    fn handle<'a>(
        &'a self,
        tx: &'a DatabaseTransaction,
        m: Message<i64>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO effects(v) VALUES ($1)",
                [m.message.into()],
            ))
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
    let fx = SeaOrm::<false>::new().await;
    fx.db
        .execute_unprepared("CREATE TABLE effects(v bigint)")
        .await
        .unwrap();
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
        async |tx: &DatabaseTransaction, m: Message<i64>| {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO effects(v) VALUES ($1)",
                [m.message.into()],
            ))
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
    assert_eq!(fx.count("SELECT count(*) AS n FROM effects").await, 1);
    assert!(fx.peek(&queue()).await.is_empty());

    fx.send(&queue(), json!(43), None).await;
    let failing =
        Transactional::consumer(fx.backend().await, cfg, InsertThenMaybeFail { fail: true });
    let run = Running::start(failing);
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.dead_lettered == 1)
            .await,
        "{:?}",
        run.stats()
    );
    let stats = run.stop().await;
    assert_eq!(stats.retried, 1);
    assert_eq!(
        fx.count("SELECT count(*) AS n FROM effects").await,
        1,
        "failed attempts left no effect behind"
    );
    assert_eq!(fx.peek(&dlq()).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_mode_rolls_back_when_the_message_was_already_acknowledged() {
    let fx = SeaOrm::<false>::new().await;
    fx.db
        .execute_unprepared("CREATE TABLE effects(v bigint)")
        .await
        .unwrap();
    fx.send(&queue(), json!(1), None).await;

    /// Deletes its own message (as a second consumer would after the visibility
    /// timeout), then writes its effect.
    struct DeletedMeanwhile(QueueName);
    impl TxHandler<i64> for DeletedMeanwhile {
        fn handle<'a>(
            &'a self,
            tx: &'a DatabaseTransaction,
            m: Message<i64>,
        ) -> BoxFuture<'a, Result<(), BoxError>> {
            Box::pin(async move {
                tx.delete(&self.0, m.msg_id).await?;
                tx.execute_unprepared("INSERT INTO effects(v) VALUES (1)")
                    .await?;
                Ok(())
            })
        }
    }
    // The acknowledgement then finds nothing to delete, and everything rolls back.
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
    assert_eq!(fx.count("SELECT count(*) AS n FROM effects").await, 0);
}

/// `with_notify` on a misspelt queue fails with the typed error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notify_on_a_missing_queue_is_queue_missing() {
    let fx = SeaOrm::<false>::new().await;
    let typo = QueueName::from_static("jbos");
    let err = SeaOrmBackend::with_notify(fx.db.clone(), &typo)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "jbos"),
        "{err:?}"
    );
}

/// On a one-connection pool, `with_notify` holds the only connection for `LISTEN`: the
/// consumer says so at start instead of processing nothing, silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_takes_the_whole_pool_is_rejected_at_start() {
    let fx = SeaOrm::<false>::new().await;
    fx.send(&queue(), json!(1), None).await;
    let mut options = sea_orm::ConnectOptions::new(fx.url.clone());
    options.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await.unwrap();
    let backend = SeaOrmBackend::with_notify(db, &queue()).await.unwrap();
    let consumer = Consumer::new(backend, config(), |_m: Message<Value>| async {
        Ok::<(), BoxError>(())
    });
    let err = consumer.run(CancellationToken::new()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        sea_orm_pgmq::ErrorKind::InvalidArgument,
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("raise the pool's maximum size by 1"),
        "{err}"
    );
}
