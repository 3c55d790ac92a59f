//! The consumer scenarios, written once against a [`Fixture`] that each ORM suite
//! implements (a fresh database with the queues `jobs` and `jobs_dlq`, and the few
//! queue operations the checks need), over either consumer runtime ([`Runtime`]: the
//! tokio [`Consumer`] or the std-thread [`BlockingConsumer`]), and the dead-letter
//! toolkit scenarios against [`DeadLetterTools`]. The suites only add their
//! transactional handler and the `#[tokio::test]` entry points.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgmq_orm_core::consumer::blocking::{
    BlockingBackend, BlockingConsumer, BlockingProcessor, StopToken,
};
use pgmq_orm_core::consumer::{
    CancellationToken, Consumer, ConsumerBackend, ConsumerConfig, ConsumerStats, DeadLetter,
    DeadLetterInfo, FailureDestination, Health, Processor, Requeued, RetryPolicy,
    dead_letter_headers, failure_record,
};
use pgmq_orm_core::{Batch, BoxError, Error, ErrorKind, Message, QueueName, RawJsonMessage};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One `#[tokio::test]` per scenario of this module for the given [`Fixture`]: every
/// backend's suite runs the same list, so a new scenario cannot be left out of one.
macro_rules! scenario_tests {
    ($fixture:ty) => {
        consumer_support::scenario_tests!(@each $fixture;
            plain_mode_processes_and_deletes_each_message,
            plain_mode_batches_acknowledgements_and_shutdown_sends_the_rest,
            a_batch_that_does_not_fill_up_is_sent_after_its_linger,
            unbatched_acknowledgement_deletes_each_message_on_its_own,
            archive_on_success_keeps_processed_messages_in_the_archive,
            failed_handler_is_retried_no_sooner_than_the_backoff_then_dead_lettered,
            failed_messages_go_to_the_archive_when_that_is_the_destination,
            undecodable_payload_is_dead_lettered_at_once,
            a_payload_beyond_f64_is_dead_lettered_and_the_rest_of_its_batch_processed,
            reading_ahead_handles_every_message_once,
            reading_ahead_holds_one_batch_and_releases_it_at_shutdown,
            a_panicking_handler_is_retried_and_the_consumer_survives,
            heartbeat_keeps_a_slow_message_invisible_past_its_visibility_timeout,
            shutdown_past_the_deadline_releases_unfinished_messages_at_once,
            an_insert_notification_wakes_an_idle_consumer_long_before_its_poll_interval,
            wake_ups_resume_after_the_listening_connection_is_lost,
            fifo_mode_handles_each_group_in_order_while_groups_run_side_by_side,
            fifo_mode_holds_a_group_back_while_its_head_waits_for_a_retry,
            dead_lettering_copies_only_a_message_still_in_its_queue,
            dead_letters_are_listed_and_inspected_without_being_consumed,
            a_dead_letter_moved_back_is_consumed_again_with_its_original_headers,
            a_move_that_cannot_complete_moves_nothing,
            a_misspelt_queue_fails_fast_with_its_name,
            a_missing_dead_letter_queue_fails_fast_with_its_name,
            impossible_visibility_settings_are_rejected_naming_the_option,
            a_pool_too_small_for_transactional_concurrency_is_rejected_with_advice,
            pool_timeouts_never_cost_a_delivery_attempt,
            a_failed_dead_letter_move_is_retried_not_lost_or_counted_as_an_attempt,
            failed_reads_degrade_health_and_give_up_when_told,
            a_read_waiting_on_a_lock_times_out_and_cancellation_does_not_wait_for_it,
            shutdown_is_bounded_when_the_server_freezes,
            run_until_empty_processes_what_the_queue_holds_and_returns,
            stats_give_the_age_of_the_oldest_message_of_the_last_read,
            dead_letter_and_requeue_keep_payload_and_headers_exact,
            an_unparsable_dead_letter_is_listed_raw_and_blocks_nothing,
            foreign_rows_are_dead_lettered_one_by_one_and_the_good_processed,
        );
    };
    (@each $fixture:ty; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            consumer_support::$name::<$fixture>().await;
        }
    )*};
}
pub(crate) use scenario_tests;

/// A fresh database with `jobs` and `jobs_dlq`, seen through one ORM.
pub(crate) trait Fixture: Sized {
    /// The ORM's consumer backend.
    type Backend;
    /// The consumer runtime the backend serves: [`Async`] or [`Blocking`].
    type Runtime: Runtime<Self::Backend>;
    /// A new database with both queues created.
    fn new() -> impl Future<Output = Self>;
    /// A polling-only backend.
    fn backend(&self) -> impl Future<Output = Self::Backend>;
    /// A backend woken by insert notifications.
    fn notify_backend(&self) -> impl Future<Output = Self::Backend>;
    /// Sends a payload with optional headers.
    fn send(&self, q: &QueueName, msg: Value, headers: Option<Value>) -> impl Future<Output = ()>;
    /// Every visible message, read with a zero visibility timeout (those whose payload no
    /// `Value` holds are in the batch's `undecodable()`).
    fn peek(&self, q: &QueueName) -> impl Future<Output = Batch<Message<Value>>>;
    /// Rows in the queue's archive table.
    fn archived(&self, q: &QueueName) -> impl Future<Output = i64>;
    /// Rows in the queue's table, visible or not.
    fn stored(&self, q: &QueueName) -> impl Future<Output = i64>;
    /// Terminates the sessions listening for notifications (a lost connection); how many.
    fn kill_listeners(&self) -> impl Future<Output = i64>;
    /// Runs `sql`, which returns one row with one `bigint` column `n`; returns `n`.
    fn query_n(&self, sql: &str) -> impl Future<Output = i64>;
    /// The fixture on an existing database with pgmq (the queues are created).
    fn at(url: &str) -> impl Future<Output = Self>;
    /// The database's URL.
    fn url(&self) -> &str;
    /// A polling backend on a pool of its own with `size` connections and a pool timeout
    /// of `timeout`, and a guard holding `hold` of them until dropped.
    fn tight_backend(
        &self,
        size: u32,
        timeout: Duration,
        hold: u32,
    ) -> impl Future<Output = (Self::Backend, Box<dyn std::any::Any + Send>)>;
    /// A transactional consumer whose handler sleeps `work`, then succeeds.
    fn transactional(
        &self,
        backend: Self::Backend,
        cfg: ConsumerConfig,
        work: Duration,
    ) -> impl Startable;
}

/// A handler of the scenarios; the runtime then works (sleeps) the handler's `work`
/// before returning its result (asleep in the tokio runtime, blocking the handler's
/// thread in the std-thread one).
pub(crate) trait ScenarioHandler<T>:
    Fn(Message<T>) -> Result<(), BoxError> + Send + Sync + 'static
{
}
impl<T, H: Fn(Message<T>) -> Result<(), BoxError> + Send + Sync + 'static> ScenarioHandler<T>
    for H
{
}

/// A consumer runtime the scenarios run over, on its backend `B`.
pub(crate) trait Runtime<B> {
    /// Starts a plain-mode consumer whose handler calls `h`, then works `work`.
    fn start<T, H>(backend: B, cfg: ConsumerConfig, work: Duration, h: H) -> Running
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>;
    /// Runs a plain-mode consumer until it returns by itself (at most 5 s, as it fails
    /// fast): its result and counters.
    fn run_once<T, H>(
        backend: B,
        cfg: ConsumerConfig,
        h: H,
    ) -> impl Future<Output = (Result<(), Error>, ConsumerStats)>
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>;
    /// `run_until_empty` of a plain-mode consumer, at most 10 s.
    fn run_until_empty<T, H>(
        backend: B,
        cfg: ConsumerConfig,
        h: H,
    ) -> impl Future<Output = Result<ConsumerStats, Error>>
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>;
    /// The backend's read.
    fn read(
        backend: &B,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
    ) -> impl Future<Output = Result<Vec<RawJsonMessage>, Error>>;
    /// The backend's dead-letter move.
    fn dead_letter(
        backend: &B,
        queue: &QueueName,
        raw: &RawJsonMessage,
        error: &str,
        dest: &FailureDestination,
    ) -> impl Future<Output = Result<(), Error>>;
}

/// The tokio runtime ([`Consumer`]).
// Each suite (a test crate of its own) runs one of the two runtimes.
#[allow(dead_code)]
pub(crate) enum Async {}
/// The std-thread runtime ([`BlockingConsumer`]).
#[allow(dead_code)]
pub(crate) enum Blocking {}

impl<B: ConsumerBackend> Runtime<B> for Async {
    fn start<T, H>(backend: B, cfg: ConsumerConfig, work: Duration, h: H) -> Running
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>,
    {
        let h = Arc::new(h);
        Running::start(Consumer::new(backend, cfg, move |m: Message<T>| {
            let h = Arc::clone(&h);
            async move {
                let r = h(m);
                if !work.is_zero() {
                    tokio::time::sleep(work).await;
                }
                r
            }
        }))
    }

    async fn run_once<T, H>(
        backend: B,
        cfg: ConsumerConfig,
        h: H,
    ) -> (Result<(), Error>, ConsumerStats)
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>,
    {
        let c = Consumer::new(backend, cfg, move |m: Message<T>| std::future::ready(h(m)));
        c.run_once().await
    }

    async fn run_until_empty<T, H>(
        backend: B,
        cfg: ConsumerConfig,
        h: H,
    ) -> Result<ConsumerStats, Error>
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>,
    {
        let c = Consumer::new(backend, cfg, move |m: Message<T>| std::future::ready(h(m)));
        tokio::time::timeout(
            Duration::from_secs(10),
            c.run_until_empty(CancellationToken::new()),
        )
        .await
        .expect("returns once the queue is empty")
    }

    async fn read(
        backend: &B,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
    ) -> Result<Vec<RawJsonMessage>, Error> {
        backend.read(queue, vt, qty, false).await
    }

    async fn dead_letter(
        backend: &B,
        queue: &QueueName,
        raw: &RawJsonMessage,
        error: &str,
        dest: &FailureDestination,
    ) -> Result<(), Error> {
        backend.dead_letter(queue, raw, error, dest).await
    }
}

impl<B: BlockingBackend> Runtime<B> for Blocking {
    fn start<T, H>(backend: B, cfg: ConsumerConfig, work: Duration, h: H) -> Running
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>,
    {
        BlockingConsumer::new(backend, cfg, move |m: Message<T>| {
            let r = h(m);
            if !work.is_zero() {
                std::thread::sleep(work);
            }
            r
        })
        .start()
    }

    async fn run_once<T, H>(
        backend: B,
        cfg: ConsumerConfig,
        h: H,
    ) -> (Result<(), Error>, ConsumerStats)
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>,
    {
        BlockingConsumer::new(backend, cfg, h).run_once().await
    }

    async fn run_until_empty<T, H>(
        backend: B,
        cfg: ConsumerConfig,
        h: H,
    ) -> Result<ConsumerStats, Error>
    where
        T: DeserializeOwned + Send + 'static,
        H: ScenarioHandler<T>,
    {
        let c = BlockingConsumer::new(backend, cfg, h);
        let run = tokio::task::spawn_blocking(move || c.run_until_empty(&StopToken::new()));
        tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("returns once the queue is empty")
            .expect("does not panic")
    }

    async fn read(
        backend: &B,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
    ) -> Result<Vec<RawJsonMessage>, Error> {
        backend.read(queue, vt, qty, false)
    }

    async fn dead_letter(
        backend: &B,
        queue: &QueueName,
        raw: &RawJsonMessage,
        error: &str,
        dest: &FailureDestination,
    ) -> Result<(), Error> {
        backend.dead_letter(queue, raw, error, dest)
    }
}

/// A consumer of either runtime, ready to run.
pub(crate) trait Startable: Send + 'static {
    /// Runs it in the background until [`Running::stop`].
    fn start(self) -> Running;
    /// Runs it until it returns by itself (at most 5 s): its result and counters.
    fn run_once(self) -> impl Future<Output = (Result<(), Error>, ConsumerStats)>;
}

impl<B, T, P> Startable for Consumer<B, T, P>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    fn start(self) -> Running {
        Running::start(self)
    }

    async fn run_once(self) -> (Result<(), Error>, ConsumerStats) {
        let r = tokio::time::timeout(Duration::from_secs(5), self.run(CancellationToken::new()))
            .await
            .expect("returns by itself");
        (r, self.stats())
    }
}

impl<B, T, P> Startable for BlockingConsumer<B, T, P>
where
    B: BlockingBackend,
    T: DeserializeOwned + Send + 'static,
    P: BlockingProcessor<T>,
{
    fn start(self) -> Running {
        let consumer = Arc::new(self);
        let stop = StopToken::new();
        let task = tokio::task::spawn_blocking({
            let (c, s) = (Arc::clone(&consumer), stop.clone());
            move || c.run(&s)
        });
        Running {
            stats: Box::new(move || consumer.stats()),
            cancel: Box::new(move || stop.stop()),
            task,
        }
    }

    async fn run_once(self) -> (Result<(), Error>, ConsumerStats) {
        let consumer = Arc::new(self);
        let c = Arc::clone(&consumer);
        let run = tokio::task::spawn_blocking(move || c.run(&StopToken::new()));
        let r = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("returns by itself")
            .expect("does not panic");
        (r, consumer.stats())
    }
}

/// Starts a plain-mode consumer on the fixture's polling backend whose handler is `h`.
async fn start<F: Fixture, T, H>(fx: &F, cfg: ConsumerConfig, h: H) -> Running
where
    T: DeserializeOwned + Send + 'static,
    H: ScenarioHandler<T>,
{
    F::Runtime::start(fx.backend().await, cfg, Duration::ZERO, h)
}

/// [`start`] with a handler that works `work` after `h`.
async fn start_working<F: Fixture, T, H>(
    fx: &F,
    cfg: ConsumerConfig,
    work: Duration,
    h: H,
) -> Running
where
    T: DeserializeOwned + Send + 'static,
    H: ScenarioHandler<T>,
{
    F::Runtime::start(fx.backend().await, cfg, work, h)
}

/// Terminates this database's `LISTEN`ing sessions; one row, `n`, how many.
pub(crate) const KILL_LISTENERS: &str = "SELECT count(pg_terminate_backend(pid)) AS n \
    FROM pg_stat_activity WHERE datname = current_database() \
    AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()";

pub(crate) fn queue() -> QueueName {
    QueueName::from_static("jobs")
}

pub(crate) fn dlq() -> QueueName {
    QueueName::from_static("jobs_dlq")
}

/// Fast settings: 100 ms polls, retries after 2 s then 4 s, three attempts, then the DLQ.
pub(crate) fn config() -> ConsumerConfig {
    ConsumerConfig::new(queue())
        .with_poll_interval(Duration::from_millis(100))
        .with_shutdown_deadline(Duration::from_secs(5))
        .with_failure_destination(FailureDestination::DeadLetter(dlq()))
        .with_retry(RetryPolicy {
            initial: Duration::from_secs(2),
            jitter: 0.0,
            max_attempts: 3,
            ..RetryPolicy::default()
        })
}

/// A consumer of either runtime running in the background until [`stop`](Self::stop).
pub(crate) struct Running {
    stats: Box<dyn Fn() -> ConsumerStats + Send + Sync>,
    cancel: Box<dyn Fn() + Send + Sync>,
    task: JoinHandle<Result<(), Error>>,
}

impl Running {
    /// Runs a tokio consumer in a task of its own.
    pub(crate) fn start<B, T, P>(consumer: Consumer<B, T, P>) -> Self
    where
        B: ConsumerBackend,
        T: DeserializeOwned + Send + 'static,
        P: Processor<T>,
    {
        let consumer = Arc::new(consumer);
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let (c, t) = (Arc::clone(&consumer), cancel.clone());
            async move { c.run(t).await }
        });
        Self {
            stats: Box::new(move || consumer.stats()),
            cancel: Box::new(move || cancel.cancel()),
            task,
        }
    }

    pub(crate) fn stats(&self) -> ConsumerStats {
        (self.stats)()
    }

    /// Whether `done` holds for the counters within `limit`.
    pub(crate) async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&ConsumerStats) -> bool,
    ) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if done(&self.stats()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        done(&self.stats())
    }

    /// Cancels, waits for the run to return (it must, within 15 s) and gives the final
    /// counters, checking that they add up: every message read ended in exactly one
    /// outcome.
    pub(crate) async fn stop(self) -> ConsumerStats {
        (self.cancel)();
        self.finish().await.expect("run returns Ok")
    }

    /// Waits (at most 15 s) for the run to return by itself; its result and the final
    /// counters, checked to add up.
    pub(crate) async fn finish(self) -> Result<ConsumerStats, Error> {
        let Self { stats, task, .. } = self;
        let ran = tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("run returns")
            .expect("run task does not panic");
        let stats = stats();
        assert_counters_add_up(&stats);
        ran.map(|()| stats)
    }
}

/// Every message read ended in exactly one of the outcomes.
pub(crate) fn assert_counters_add_up(s: &ConsumerStats) {
    assert_eq!(
        s.settled(),
        s.read,
        "processed + retried + dead_lettered + released + ack_failed + abandoned must equal read: {s:?}"
    );
    assert!(s.decode_failed <= s.dead_lettered, "{s:?}");
}

fn counting_handler(seen: &Arc<AtomicU32>) -> impl ScenarioHandler<u32> {
    let seen = Arc::clone(seen);
    move |_m| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub(crate) async fn plain_mode_processes_and_deletes_each_message<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..5 {
        fx.send(&queue(), json!(i), None).await;
    }
    let seen = Arc::new(AtomicU32::new(0));
    let run = start(&fx, config(), counting_handler(&seen)).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 5)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    assert_eq!((stats.retried, stats.dead_lettered), (0, 0));
    assert!(fx.peek(&queue()).await.is_empty());
    assert_eq!(
        fx.stored(&queue()).await,
        0,
        "every processed message deleted"
    );
    assert_eq!(fx.archived(&queue()).await, 0, "deleted, not archived");
}

/// Acknowledgements go out in batches of 4 with a linger far beyond the test: the first
/// 4 of 6 processed messages are deleted together, the last 2 stay (invisible) in the
/// queue and are neither counted nor deleted until shutdown sends them.
pub(crate) async fn plain_mode_batches_acknowledgements_and_shutdown_sends_the_rest<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..6 {
        fx.send(&queue(), json!(i), None).await;
    }
    let seen = Arc::new(AtomicU32::new(0));
    let cfg = config().with_ack_batching(4, Duration::from_secs(600));
    let run = start(&fx, cfg, counting_handler(&seen)).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 4)
            .await,
        "a full batch is sent without waiting for the linger"
    );
    let start = Instant::now();
    while seen.load(Ordering::SeqCst) < 6 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen.load(Ordering::SeqCst), 6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.stats().processed, 4, "the last 2 wait for their batch");
    assert_eq!(fx.stored(&queue()).await, 2, "not deleted yet");
    assert!(fx.peek(&queue()).await.is_empty(), "but not visible either");
    let stats = run.stop().await;
    assert_eq!((stats.processed, stats.ack_failed), (6, 0));
    assert_eq!(seen.load(Ordering::SeqCst), 6, "nothing handled twice");
    assert_eq!(
        fx.stored(&queue()).await,
        0,
        "shutdown sent the pending batch"
    );
}

/// A short linger sends a batch that never fills up; archiving works batched too.
pub(crate) async fn a_batch_that_does_not_fill_up_is_sent_after_its_linger<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..3 {
        fx.send(&queue(), json!(i), None).await;
    }
    let seen = Arc::new(AtomicU32::new(0));
    let cfg = config()
        .with_ack_batching(1000, Duration::from_millis(50))
        .archive_on_success(true);
    let run = start(&fx, cfg, counting_handler(&seen)).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 3)
            .await
    );
    assert_eq!(fx.stored(&queue()).await, 0, "sent while still running");
    assert_eq!(fx.archived(&queue()).await, 3);
    let stats = run.stop().await;
    assert_eq!((stats.processed, stats.ack_failed), (3, 0));
}

/// Without batching, each message is deleted on its own as before.
pub(crate) async fn unbatched_acknowledgement_deletes_each_message_on_its_own<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..3 {
        fx.send(&queue(), json!(i), None).await;
    }
    let seen = Arc::new(AtomicU32::new(0));
    let cfg = config().with_ack_batching(1, Duration::from_secs(600));
    let run = start(&fx, cfg, counting_handler(&seen)).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 3)
            .await,
        "the long linger does not apply"
    );
    assert_eq!(fx.stored(&queue()).await, 0);
    let stats = run.stop().await;
    assert_eq!((stats.processed, stats.ack_failed), (3, 0));
}

pub(crate) async fn archive_on_success_keeps_processed_messages_in_the_archive<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..3 {
        fx.send(&queue(), json!(i), None).await;
    }
    let seen = Arc::new(AtomicU32::new(0));
    let cfg = config().archive_on_success(true);
    let run = start(&fx, cfg, counting_handler(&seen)).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 3)
            .await
    );
    run.stop().await;
    assert!(fx.peek(&queue()).await.is_empty());
    assert_eq!(fx.archived(&queue()).await, 3);
}

pub(crate) async fn failed_handler_is_retried_no_sooner_than_the_backoff_then_dead_lettered<
    F: Fixture,
>() {
    let fx = F::new().await;
    fx.send(&queue(), json!("x"), Some(json!({"trace": "t-1"})))
        .await;
    let attempts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let a = Arc::clone(&attempts);
    let run = start(&fx, config(), move |_m: Message<String>| {
        a.lock().unwrap().push(Instant::now());
        Err("always fails".into())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(20), |s| s.dead_lettered == 1)
            .await
    );
    let stats = run.stop().await;
    let times = attempts.lock().unwrap().clone();
    assert_eq!(times.len(), 3, "max_attempts = 3");
    // Backoff 2 s then 4 s; pgmq's vt has 1 s resolution, so allow 1 s less.
    let (first, second) = (times[1] - times[0], times[2] - times[1]);
    assert!(first >= Duration::from_secs(1), "{first:?}");
    assert!(second >= Duration::from_secs(3), "{second:?}");
    assert_eq!(stats.retried, 2);
    assert!(fx.peek(&queue()).await.is_empty());
    let dead = fx.peek(&dlq()).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message, json!("x"));
    let headers = dead[0].headers.as_ref();
    let info = DeadLetterInfo::from_headers(headers).expect("failure record");
    assert_eq!(
        (
            info.error.as_str(),
            info.read_ct,
            info.source_queue.as_str()
        ),
        ("always fails", 3, "jobs")
    );
    assert_eq!(headers.unwrap()["trace"], "t-1", "original headers kept");
}

pub(crate) async fn failed_messages_go_to_the_archive_when_that_is_the_destination<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    fx.send(&queue(), json!("not a number"), None).await;
    let cfg = config()
        .with_failure_destination(FailureDestination::Archive)
        .with_retry(RetryPolicy {
            max_attempts: 1,
            ..config().retry
        });
    let run = start(&fx, cfg, |_m: Message<u32>| Err("fails".into())).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.dead_lettered == 2
            && s.decode_failed == 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.retried, 0, "max_attempts = 1");
    assert!(fx.peek(&queue()).await.is_empty());
    assert!(fx.peek(&dlq()).await.is_empty());
    assert_eq!(fx.archived(&queue()).await, 2);
}

pub(crate) async fn undecodable_payload_is_dead_lettered_at_once<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!({"not": "a number"}), None).await;
    let called = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&called);
    let run = start(&fx, config(), move |_m: Message<u64>| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.decode_failed == 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!((stats.retried, stats.processed), (0, 0));
    assert_eq!(
        stats.dead_lettered, 1,
        "a decode failure is dead-lettered and counted there"
    );
    assert_eq!(called.load(Ordering::SeqCst), 0);
    let dead = fx.peek(&dlq()).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].message,
        json!({"not": "a number"}),
        "payload kept as sent"
    );
    let info = DeadLetterInfo::from_headers(dead[0].headers.as_ref()).unwrap();
    assert_eq!(info.read_ct, 1);
    assert!(info.error.starts_with("decode"), "{}", info.error);
}

/// A payload no `serde_json::Value` can hold (a number beyond `f64`, which only a producer
/// outside these crates can send) fails on its own: it is dead-lettered at once with its
/// text kept, and the messages read in the same batch are processed.
pub(crate) async fn a_payload_beyond_f64_is_dead_lettered_and_the_rest_of_its_batch_processed<
    F: Fixture,
>() {
    let fx = F::new().await;
    fx.send(&queue(), json!({"x": 1}), None).await;
    let poison = fx
        .query_n("SELECT pgmq.send('jobs', '{\"x\": 1e400}'::jsonb) AS n")
        .await;
    fx.send(&queue(), json!({"x": 2}), None).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let run = start(&fx, config(), move |m: Message<Value>| {
        s.lock().unwrap().push(m.message);
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.decode_failed == 1
            && s.processed == 2)
            .await,
        "the poison message must not hold up its batch"
    );
    let stats = run.stop().await;
    assert_eq!((stats.retried, stats.dead_lettered), (0, 1));
    let mut handled = seen.lock().unwrap().clone();
    handled.sort_by_key(|v| v["x"].as_i64());
    assert_eq!(handled, [json!({"x": 1}), json!({"x": 2})]);
    assert_eq!(fx.stored(&queue()).await, 0);
    let (decoded, dead) = fx.peek(&dlq()).await.into_parts();
    assert!(decoded.is_empty());
    assert_eq!(dead.len(), 1);
    // The copy is the stored number itself, not a string of it: moved in the server.
    let text = std::str::from_utf8(dead[0].message.as_bytes()).unwrap();
    assert!(
        text.starts_with("{\"x\": 1000") && text.len() > 400,
        "{text}"
    );
    let headers = dead[0].headers.as_ref().map(|h| h.to_value().unwrap());
    let info = DeadLetterInfo::from_headers(headers.as_ref()).unwrap();
    assert_eq!(info.msg_id, poison);
    assert!(info.error.contains("out of range"), "{}", info.error);
}

/// With `read_ahead`, batches read while the last one runs are handed out as slots free
/// up: every message is handled once and deleted.
pub(crate) async fn reading_ahead_handles_every_message_once<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..30 {
        fx.send(&queue(), json!(i), None).await;
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let cfg = config()
        .with_batch_size(4)
        .with_concurrency(4)
        .read_ahead(true);
    let run = start(&fx, cfg, move |m: Message<i64>| {
        s.lock().unwrap().push(m.message);
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 30)
            .await
    );
    let stats = run.stop().await;
    assert_eq!((stats.processed, stats.released, stats.retried), (30, 0, 0));
    let mut handled = seen.lock().unwrap().clone();
    handled.sort_unstable();
    assert_eq!(handled, (0..30).collect::<Vec<i64>>(), "each message once");
    assert_eq!(fx.stored(&queue()).await, 0);
}

/// With `read_ahead`, one batch is read while the last one runs and held (hidden, not
/// started); at shutdown the held batch is released at once along with the unfinished
/// handler's message.
pub(crate) async fn reading_ahead_holds_one_batch_and_releases_it_at_shutdown<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..3 {
        fx.send(&queue(), json!(i), None).await;
    }
    let started = Arc::new(AtomicU32::new(0));
    let s = Arc::clone(&started);
    let cfg = config()
        .with_batch_size(1)
        .with_concurrency(1)
        .with_shutdown_deadline(Duration::from_millis(300))
        .read_ahead(true);
    // The handler never finishes (an hour).
    let run = start_working(
        &fx,
        cfg,
        Duration::from_secs(3600),
        move |_m: Message<Value>| {
            s.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
    )
    .await;
    // One message runs (forever), one is held, one is left in the queue.
    let start = Instant::now();
    let mut visible = usize::MAX;
    while start.elapsed() < Duration::from_secs(10) {
        visible = fx.peek(&queue()).await.len();
        if started.load(Ordering::SeqCst) == 1 && visible == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(visible, 1, "one message running and one held");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the held one never starts"
    );
    let stats = run.stop().await;
    assert_eq!(stats.released, 2, "the running message and the held one");
    assert_eq!(
        fx.peek(&queue()).await.len(),
        3,
        "all three visible again at once"
    );
}

pub(crate) async fn a_panicking_handler_is_retried_and_the_consumer_survives<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let run = start(&fx, config(), move |_m: Message<u32>| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        assert!(n > 0, "first attempt panics");
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.processed == 1)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.retried, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

pub(crate) async fn heartbeat_keeps_a_slow_message_invisible_past_its_visibility_timeout<
    F: Fixture,
>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    let cfg = config().with_visibility(Duration::from_secs(2), Some(Duration::from_millis(500)));
    let run = start_working(&fx, cfg, Duration::from_secs(6), |_m: Message<u32>| Ok(())).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    // Well past the 2 s vt: without the heartbeat a reader would get it now.
    assert!(
        fx.peek(&queue()).await.is_empty(),
        "visible while its handler ran"
    );
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 1)
            .await
    );
    run.stop().await;
}

pub(crate) async fn shutdown_past_the_deadline_releases_unfinished_messages_at_once<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    let cfg = config()
        .with_visibility(Duration::from_secs(300), None)
        .with_shutdown_deadline(Duration::from_millis(300));
    let run = start_working(&fx, cfg, Duration::from_secs(3600), |_m: Message<u32>| {
        Ok(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(fx.peek(&queue()).await.is_empty(), "taken by the consumer");
    let stats = run.stop().await;
    assert_eq!((stats.released, stats.processed), (1, 0));
    assert_eq!(
        fx.peek(&queue()).await.len(),
        1,
        "released message is visible at once"
    );
}

/// With a 30 s poll interval, anything processed within 5 s was woken by NOTIFY.
const IDLE_POLL: Duration = Duration::from_secs(30);
const WOKEN_WITHIN: Duration = Duration::from_secs(5);

pub(crate) async fn an_insert_notification_wakes_an_idle_consumer_long_before_its_poll_interval<
    F: Fixture,
>() {
    let fx = F::new().await;
    let seen = Arc::new(AtomicU32::new(0));
    let cfg = config().with_poll_interval(IDLE_POLL);
    let run = F::Runtime::start(
        fx.notify_backend().await,
        cfg,
        Duration::ZERO,
        counting_handler(&seen),
    );
    // Let the consumer find the queue empty and start its 30 s wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    fx.send(&queue(), json!(7), None).await;
    assert!(
        run.wait_for(WOKEN_WITHIN, |s| s.processed == 1).await,
        "not woken by NOTIFY"
    );
    run.stop().await;
}

pub(crate) async fn wake_ups_resume_after_the_listening_connection_is_lost<F: Fixture>() {
    let fx = F::new().await;
    let seen = Arc::new(AtomicU32::new(0));
    let cfg = config().with_poll_interval(IDLE_POLL);
    let run = F::Runtime::start(
        fx.notify_backend().await,
        cfg,
        Duration::ZERO,
        counting_handler(&seen),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fx.kill_listeners().await, 1, "one LISTEN session");
    // The consumer notices the loss, reconnects, reads once and waits again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    fx.send(&queue(), json!(1), None).await;
    assert!(
        run.wait_for(WOKEN_WITHIN, |s| s.processed == 1).await,
        "not woken after reconnect"
    );
    run.stop().await;
}

pub(crate) async fn fifo_mode_handles_each_group_in_order_while_groups_run_side_by_side<
    F: Fixture,
>() {
    let fx = F::new().await;
    for i in 0..4 {
        for group in ["a", "b", "c"] {
            fx.send(
                &queue(),
                json!([group, i]),
                Some(json!({"x-pgmq-group": group})),
            )
            .await;
        }
    }
    let log = Arc::new(Mutex::new(Vec::<(String, u32, Instant, Instant)>::new()));
    let l = Arc::clone(&log);
    let cfg = config().fifo(true).with_concurrency(6).with_batch_size(6);
    // Each handler works 150 ms after it logged its start and (coming) end.
    let work = Duration::from_millis(150);
    let run = start_working(&fx, cfg, work, move |m: Message<(String, u32)>| {
        let start = Instant::now();
        let (group, i) = m.message;
        l.lock().unwrap().push((group, i, start, start + work));
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(20), |s| s.processed == 12)
            .await
    );
    run.stop().await;
    let log = log.lock().unwrap().clone();
    for group in ["a", "b", "c"] {
        let runs: Vec<_> = log.iter().filter(|r| r.0 == group).collect();
        let order: Vec<u32> = runs.iter().map(|r| r.1).collect();
        assert_eq!(order, [0, 1, 2, 3], "group {group} out of order");
        for pair in runs.windows(2) {
            assert!(
                pair[1].2 >= pair[0].3,
                "group {group}: two messages handled at once"
            );
        }
    }
    let overlapping = log
        .iter()
        .any(|x| log.iter().any(|y| x.0 != y.0 && x.2 < y.3 && y.2 < x.3));
    assert!(overlapping, "different groups never ran side by side");
}

pub(crate) async fn fifo_mode_holds_a_group_back_while_its_head_waits_for_a_retry<F: Fixture>() {
    let fx = F::new().await;
    for (group, i) in [("a", 0), ("a", 1), ("b", 0)] {
        fx.send(
            &queue(),
            json!([group, i]),
            Some(json!({"x-pgmq-group": group})),
        )
        .await;
    }
    let done = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let d = Arc::clone(&done);
    let cfg = config().fifo(true);
    let run = start(&fx, cfg, move |m: Message<(String, u32)>| {
        let first_try_of_a0 = m.message == ("a".to_owned(), 0) && m.read_ct == 1;
        if first_try_of_a0 {
            return Err("a0 fails once".into());
        }
        d.lock().unwrap().push(m.message);
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.processed == 3)
            .await
    );
    let stats = run.stop().await;
    assert_eq!(stats.retried, 1);
    let done = done.lock().unwrap().clone();
    let a: Vec<u32> = done.iter().filter(|m| m.0 == "a").map(|m| m.1).collect();
    assert_eq!(a, [0, 1], "a1 waited for a0's retry");
    assert_eq!(done[0], ("b".to_owned(), 0), "group b was not held back");
}

pub(crate) async fn dead_lettering_copies_only_a_message_still_in_its_queue<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    let backend = fx.backend().await;
    let dest = FailureDestination::DeadLetter(dlq());
    let mut raw = F::Runtime::read(&backend, &queue(), Duration::from_secs(30), 1)
        .await
        .unwrap()
        .remove(0);
    F::Runtime::dead_letter(&backend, &queue(), &raw, "e", &dest)
        .await
        .unwrap();
    assert_eq!(fx.peek(&dlq()).await.len(), 1);
    // Once more, as a consumer whose message someone else already took would.
    F::Runtime::dead_letter(&backend, &queue(), &raw, "e", &dest)
        .await
        .unwrap();
    raw.msg_id = 424_242;
    F::Runtime::dead_letter(&backend, &queue(), &raw, "e", &dest)
        .await
        .unwrap();
    assert_eq!(
        fx.peek(&dlq()).await.len(),
        1,
        "no copies of messages already gone"
    );
}

/// The dead-letter toolkit of one ORM, on the fixture's database and `jobs_dlq`.
pub(crate) trait DeadLetterTools: Fixture {
    /// `DeadLetters::list(after, limit)`.
    fn dl_list(
        &self,
        after: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Batch<DeadLetter>, Error>>;
    /// `DeadLetters::inspect::<T>(msg_id)`.
    fn dl_inspect<T: DeserializeOwned>(
        &self,
        msg_id: i64,
    ) -> impl Future<Output = Result<Option<DeadLetter<T>>, Error>>;
    /// `requeue(ids)` (or `requeue_all` for `None`), to `target` if given.
    fn dl_requeue(
        &self,
        target: Option<&QueueName>,
        ids: Option<&[i64]>,
    ) -> impl Future<Output = Result<Vec<Requeued>, Error>>;
}

/// Puts a dead letter into `jobs_dlq` as a consumer of `source` would have.
async fn dead_letter<F: Fixture>(fx: &F, source: &str, payload: Value, headers: Option<Value>) {
    let record = failure_record(&QueueName::new(source).unwrap(), 1000, 5, "boom");
    let h = dead_letter_headers(headers.as_ref(), record);
    fx.send(&dlq(), payload, Some(h)).await;
}

pub(crate) async fn dead_letters_are_listed_and_inspected_without_being_consumed<
    F: DeadLetterTools,
>() {
    let fx = F::new().await;
    for i in 0..3 {
        dead_letter(&fx, "jobs", json!(i), Some(json!({"trace": i}))).await;
    }
    let all = fx.dl_list(0, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    let info = all[0].info.as_ref().expect("failure record");
    assert_eq!(
        (
            info.source_queue.as_str(),
            info.error.as_str(),
            info.read_ct
        ),
        ("jobs", "boom", 5)
    );
    assert!(info.failed_at.is_some());
    assert_eq!(
        all.iter()
            .map(|d| d.message.message.clone())
            .collect::<Vec<_>>(),
        [json!(0), json!(1), json!(2)]
    );
    let page = fx.dl_list(all[0].message.msg_id, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(
        page[0].message.msg_id, all[1].message.msg_id,
        "keyset paging"
    );
    // Looking consumed nothing: still visible, never read.
    assert_eq!(fx.dl_list(0, 10).await.unwrap(), all);
    let visible = fx.peek(&dlq()).await;
    assert_eq!(visible.len(), 3);
    assert!(all.iter().all(|d| d.message.read_ct == 0));

    let one = fx
        .dl_inspect::<u32>(all[2].message.msg_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.message.message, 2);
    assert_eq!(one.info.unwrap().msg_id, 1000);
    assert!(fx.dl_inspect::<u32>(9999).await.unwrap().is_none());
    let wrong = fx
        .dl_inspect::<String>(all[0].message.msg_id)
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Decode);
}

pub(crate) async fn a_dead_letter_moved_back_is_consumed_again_with_its_original_headers<
    F: DeadLetterTools,
>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), Some(json!({"trace": "t-1"})))
        .await;
    fx.send(&queue(), json!(2), None).await;
    fx.send(&queue(), json!(3), None).await;
    let healed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(u32, Option<Value>)>::new()));
    let (h, s) = (Arc::clone(&healed), Arc::clone(&seen));
    let cfg = config().with_retry(RetryPolicy {
        max_attempts: 1,
        ..config().retry
    });
    let run = start(&fx, cfg, move |m: Message<u32>| {
        let ok = h.load(Ordering::SeqCst);
        if !ok {
            return Err("not yet".into());
        }
        s.lock().unwrap().push((m.message, m.headers));
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.dead_lettered == 3)
            .await
    );
    let dead = fx.dl_list(0, 10).await.unwrap();
    let ids: Vec<i64> = dead.iter().map(|d| d.message.msg_id).collect();

    healed.store(true, Ordering::SeqCst);
    let moved = fx
        .dl_requeue(None, Some(&[ids[0], ids[2], 424_242]))
        .await
        .unwrap();
    assert_eq!(
        moved.iter().map(|r| r.dead_msg_id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    assert!(moved.iter().all(|r| r.queue == queue()));
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 2)
            .await
    );
    assert_eq!(
        fx.dl_list(0, 10).await.unwrap().len(),
        1,
        "the third stays dead"
    );

    let rest = fx.dl_requeue(None, None).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed == 3)
            .await
    );
    run.stop().await;
    assert!(fx.dl_list(0, 10).await.unwrap().is_empty());
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by_key(|x| x.0);
    assert_eq!(
        seen,
        vec![(1, Some(json!({"trace": "t-1"}))), (2, None), (3, None)],
        "original headers back, failure record gone"
    );
}

pub(crate) async fn a_move_that_cannot_complete_moves_nothing<F: DeadLetterTools>() {
    let fx = F::new().await;
    dead_letter(&fx, "jobs", json!(1), None).await;
    dead_letter(&fx, "no_such_queue", json!(2), None).await;
    fx.send(&dlq(), json!(3), None).await; // no failure record
    let before = fx.dl_list(0, 10).await.unwrap();

    // No source for the third: refused before anything is sent.
    let e = fx.dl_requeue(None, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // The first goes to `jobs`, then the send to a missing queue fails: rolled back.
    let ids = [before[0].message.msg_id, before[1].message.msg_id];
    let e = fx.dl_requeue(None, Some(&ids)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QueueMissing, "{e}");
    assert!(fx.peek(&queue()).await.is_empty(), "nothing sent");
    assert_eq!(fx.dl_list(0, 10).await.unwrap(), before, "nothing deleted");

    // A named target takes them all.
    let moved = fx.dl_requeue(Some(&queue()), None).await.unwrap();
    assert_eq!(moved.len(), 3);
    let back = fx.peek(&queue()).await;
    assert_eq!(
        back.iter().map(|m| m.message.clone()).collect::<Vec<_>>(),
        [json!(1), json!(2), json!(3)]
    );
    assert!(fx.dl_list(0, 10).await.unwrap().is_empty());
}

/// A consumer of a queue that does not exist returns at once with a typed error naming
/// it, instead of polling it forever.
pub(crate) async fn a_misspelt_queue_fails_fast_with_its_name<F: Fixture>() {
    let fx = F::new().await;
    let typo = QueueName::from_static("jbos");
    let cfg = ConsumerConfig {
        queue: typo,
        ..config()
    };
    let started = Instant::now();
    let (ran, stats) =
        F::Runtime::run_once(fx.backend().await, cfg, |_m: Message<Value>| Ok(())).await;
    let err = ran.unwrap_err();
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "jbos"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(stats.read, 0);
}

/// A dead-letter queue that does not exist is reported before the first read, not found
/// out when the first message fails for good.
pub(crate) async fn a_missing_dead_letter_queue_fails_fast_with_its_name<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    let cfg = config().with_failure_destination(FailureDestination::DeadLetter(
        QueueName::from_static("jobs_dead"),
    ));
    let (ran, _) = F::Runtime::run_once(fx.backend().await, cfg, |_m: Message<Value>| {
        Err("fails".into())
    })
    .await;
    let err = ran.unwrap_err();
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "jobs_dead"),
        "{err:?}"
    );
    assert_eq!(fx.peek(&queue()).await.len(), 1, "nothing was read");
}

/// A zero visibility timeout, or a heartbeat no shorter than it, cannot work; the
/// consumer says which option is wrong before reading.
pub(crate) async fn impossible_visibility_settings_are_rejected_naming_the_option<F: Fixture>() {
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    for (vt, beat, option) in [
        (Duration::ZERO, None, "visibility_timeout"),
        (
            Duration::from_secs(5),
            Some(Duration::from_secs(5)),
            "heartbeat",
        ),
    ] {
        let (ran, _) = F::Runtime::run_once(
            fx.backend().await,
            config().with_visibility(vt, beat),
            |_m: Message<Value>| Ok(()),
        )
        .await;
        let err = ran.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(option), "{err}");
    }
    assert_eq!(fx.peek(&queue()).await.len(), 1, "nothing was read");
}

/// Transactional handlers each hold a pool connection: a pool that cannot serve the
/// configured concurrency is rejected at start with what to change, instead of stalling.
pub(crate) async fn a_pool_too_small_for_transactional_concurrency_is_rejected_with_advice<
    F: Fixture,
>() {
    let fx = F::new().await;
    let (backend, _held) = fx.tight_backend(2, Duration::from_secs(1), 0).await;
    let consumer = fx.transactional(
        backend,
        config().with_concurrency(4),
        Duration::from_millis(10),
    );
    let err = consumer.run_once().await.0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let text = err.to_string();
    assert!(text.contains("needs 5"), "{text}");
    assert!(text.contains("maximum size by"), "{text}");
}

/// Handlers that cannot get a pool connection (the application holds the rest of the
/// pool for a while) are not failed attempts: with one attempt allowed, nothing is
/// dead-lettered and everything is processed once connections come back.
pub(crate) async fn pool_timeouts_never_cost_a_delivery_attempt<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..4 {
        fx.send(&queue(), json!(i), None).await;
    }
    let (backend, held) = fx.tight_backend(4, Duration::from_millis(300), 3).await;
    let cfg = config()
        .with_concurrency(2)
        .with_visibility(Duration::from_secs(5), Some(Duration::from_secs(1)))
        .with_retry(RetryPolicy {
            max_attempts: 1,
            ..config().retry
        });
    let run = fx
        .transactional(backend, cfg, Duration::from_millis(600))
        .start();
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.infrastructure_errors >= 2)
            .await,
        "handlers time out on the pool: {:?}",
        run.stats()
    );
    drop(held);
    assert!(
        run.wait_for(Duration::from_secs(20), |s| s.processed == 4)
            .await,
        "{:?}",
        run.stats()
    );
    let stats = run.stop().await;
    assert_eq!((stats.dead_lettered, stats.retried), (0, 0), "{stats:?}");
    assert!(fx.peek(&dlq()).await.is_empty());
    assert_eq!(fx.stored(&queue()).await, 0);
    let last = stats.last_error.expect("the pool timeouts are recorded");
    assert!(last.message.contains("processing failed"), "{last:?}");
}

/// The dead-letter queue disappearing while the consumer runs does not lose the message
/// or count an attempt: the move is tried again (counted, visible in the last error)
/// until the queue is back.
pub(crate) async fn a_failed_dead_letter_move_is_retried_not_lost_or_counted_as_an_attempt<
    F: Fixture,
>() {
    let fx = F::new().await;
    let cfg = config().with_retry(RetryPolicy {
        max_attempts: 1,
        ..config().retry
    });
    let run = start(&fx, cfg, |_m: Message<Value>| Err("fails".into())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    fx.query_n("SELECT pgmq.drop_queue('jobs_dlq')::int::bigint AS n")
        .await;
    fx.send(&queue(), json!(1), None).await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.infrastructure_errors >= 2)
            .await,
        "{:?}",
        run.stats()
    );
    let now = run.stats();
    assert_eq!((now.dead_lettered, now.retried), (0, 0));
    assert_eq!(fx.stored(&queue()).await, 1, "the message is kept");
    assert!(
        now.last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("dead-letter move failed")),
        "{now:?}"
    );
    fx.query_n("SELECT 1::bigint AS n FROM (SELECT pgmq.create('jobs_dlq')) AS created")
        .await;
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.dead_lettered == 1)
            .await,
        "{:?}",
        run.stats()
    );
    let stats = run.stop().await;
    assert_eq!(stats.read, 1, "moved on the first delivery: {stats:?}");
    assert_eq!(fx.peek(&dlq()).await.len(), 1);
}

/// Failed reads are visible without a tracing subscriber: the health turns `Degraded`
/// with the error after `degraded_after` in a row, and with `give_up_after` `run`
/// returns the error.
pub(crate) async fn failed_reads_degrade_health_and_give_up_when_told<F: Fixture>() {
    let fx = F::new().await;
    let run = start(
        &fx,
        config().with_read_failures(2, Some(3)),
        |_m: Message<Value>| Ok(()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(run.stats().health.is_healthy());
    fx.query_n("SELECT pgmq.drop_queue('jobs')::int::bigint AS n")
        .await;
    assert!(
        run.wait_for(Duration::from_secs(5), |s| !s.health.is_healthy())
            .await
    );
    let Health::Degraded { last_error, .. } = run.stats().health else {
        panic!("degraded");
    };
    assert!(last_error.contains("jobs"), "{last_error}");
    let err = run.finish().await.unwrap_err();
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "jobs"),
        "{err:?}"
    );
}

/// Another session holds the queue's table locked: the consumer's read waits on the lock.
/// The statement timeout abandons it (counted, in the last error) and cancellation does
/// not wait for it either.
pub(crate) async fn a_read_waiting_on_a_lock_times_out_and_cancellation_does_not_wait_for_it<
    F: Fixture,
>() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let fx = F::new().await;
    fx.send(&queue(), json!(1), None).await;
    let mut locker = AsyncPgConnection::establish(fx.url()).await.unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE pgmq.q_jobs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let cfg = config()
        .with_statement_timeout(Duration::from_secs(1))
        .with_shutdown_deadline(Duration::from_secs(1));
    let run = start(&fx, cfg, |_m: Message<Value>| Ok(())).await;
    assert!(
        run.wait_for(Duration::from_secs(5), |s| s.infrastructure_errors >= 1)
            .await,
        "{:?}",
        run.stats()
    );
    let last = run.stats().last_error.expect("the timed-out read");
    assert!(last.message.contains("did not finish within"), "{last:?}");
    let started = Instant::now();
    let stats = run.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        started.elapsed()
    );
    assert_eq!(stats.processed, 0);
    locker.batch_execute("ROLLBACK").await.unwrap();
}

/// With the server frozen (SIGSTOP) while handlers run, `run` still returns after
/// cancellation within the shutdown deadline plus twice the statement timeout; what it
/// could not release is left to its visibility timeout and counted.
pub(crate) async fn shutdown_is_bounded_when_the_server_freezes<F: Fixture>() {
    let cluster = tokio::task::spawn_blocking(pgmq_harness::PrivateCluster::start)
        .await
        .unwrap();
    let fx = F::at(cluster.url()).await;
    for i in 0..6 {
        fx.send(&queue(), json!(i), None).await;
    }
    let cfg = config()
        .with_concurrency(3)
        .with_visibility(Duration::from_secs(5), Some(Duration::from_millis(500)))
        .with_statement_timeout(Duration::from_secs(1))
        .with_shutdown_deadline(Duration::from_secs(1));
    let run = start_working(
        &fx,
        cfg,
        Duration::from_millis(700),
        |_m: Message<Value>| Ok(()),
    )
    .await;
    assert!(
        run.wait_for(Duration::from_secs(10), |s| s.processed >= 3)
            .await,
        "{:?}",
        run.stats()
    );
    cluster.freeze();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let stats = run.stop().await;
    let took = started.elapsed();
    cluster.thaw();
    assert!(
        took < Duration::from_secs(4),
        "deadline 1 s + 2 × statement timeout 1 s, took {took:?}"
    );
    assert!(stats.processed >= 3, "{stats:?}");
    drop(fx);
    drop(cluster);
}

/// `run_until_empty` handles what the queue holds, then returns the counters by itself.
pub(crate) async fn run_until_empty_processes_what_the_queue_holds_and_returns<F: Fixture>() {
    let fx = F::new().await;
    for i in 0..7 {
        fx.send(&queue(), json!(i), None).await;
    }
    fx.send(&queue(), json!("not a number"), None).await;
    let seen = Arc::new(AtomicU32::new(0));
    let stats = F::Runtime::run_until_empty(
        fx.backend().await,
        config().with_batch_size(3),
        counting_handler(&seen),
    )
    .await
    .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 7);
    assert_eq!(
        (stats.processed, stats.dead_lettered, stats.decode_failed),
        (7, 1, 1)
    );
    assert_counters_add_up(&stats);
    assert_eq!(fx.stored(&queue()).await, 0);
}

/// `pickup_lag` is the age of the oldest message of the last read that brought any: one
/// message another session made an hour old, read in one batch with a fresh one, gives an
/// hour; a consumer that has read nothing has none.
pub(crate) async fn stats_give_the_age_of_the_oldest_message_of_the_last_read<F: Fixture>() {
    let fx = F::new().await;
    let seen = Arc::new(AtomicU32::new(0));
    let idle = F::Runtime::run_until_empty(fx.backend().await, config(), counting_handler(&seen))
        .await
        .unwrap();
    assert_eq!(
        (idle.pickup_lag, idle.last_read_at),
        (None, None),
        "{idle:?}"
    );
    fx.send(&queue(), json!(1), None).await;
    fx.send(&queue(), json!(2), None).await;
    let aged = fx
        .query_n(
            "WITH aged AS (UPDATE pgmq.q_jobs SET enqueued_at = now() - interval '1 hour' \
             WHERE msg_id = (SELECT min(msg_id) FROM pgmq.q_jobs) RETURNING 1) \
             SELECT count(*) AS n FROM aged",
        )
        .await;
    assert_eq!(aged, 1);
    let before = std::time::SystemTime::now();
    let stats = F::Runtime::run_until_empty(
        fx.backend().await,
        config().with_batch_size(10),
        counting_handler(&seen),
    )
    .await
    .unwrap();
    assert_eq!(stats.processed, 2);
    let lag = stats.pickup_lag.expect("a read brought messages");
    assert!(
        (Duration::from_secs(3600)..Duration::from_secs(3660)).contains(&lag),
        "an hour, read at once: {lag:?}"
    );
    assert!(stats.last_read_at.expect("read at") >= before);
}

/// `n` for one row of `jobs` or `jobs_dlq` matching `cond` (a SQL condition on the row).
async fn rows_where<F: Fixture>(fx: &F, table: &str, cond: &str) -> i64 {
    fx.query_n(&format!(
        "SELECT count(*) AS n FROM pgmq.{table} WHERE {cond}"
    ))
    .await
}

/// The dead-letter move copies the stored row in the server and a requeue restores it:
/// payloads byte for byte (an integer beyond `i64`, numbers beyond `f64`, deep nesting)
/// and headers exactly (`{}` stays `{}`, a user header named `original` stays the user's,
/// none stays none). An error text with NUL is still recorded.
pub(crate) async fn dead_letter_and_requeue_keep_payload_and_headers_exact<F: DeadLetterTools>() {
    let fx = F::new().await;
    let deep = format!("{}1{}", "[".repeat(150), "]".repeat(150));
    let payload =
        format!(r#"{{"big": 123456789012345678901234567890, "huge": 1e400, "deep": {deep}}}"#);
    let cases = [
        ("'{}'::jsonb", "headers = '{}'::jsonb"),
        (
            r#"'{"original": {"x": 1}, "k": 2}'::jsonb"#,
            r#"headers = '{"original": {"x": 1}, "k": 2}'::jsonb"#,
        ),
        ("NULL::jsonb", "headers IS NULL"),
        ("'null'::jsonb", "headers IS NULL"),
    ];
    for (headers, _) in cases {
        fx.query_n(&format!(
            "SELECT pgmq.send('jobs', '{payload}'::jsonb, {headers}) AS n"
        ))
        .await;
    }
    let backend = fx.backend().await;
    let dest = FailureDestination::DeadLetter(dlq());
    let raws = F::Runtime::read(&backend, &queue(), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(raws.len(), 4);
    for raw in &raws {
        F::Runtime::dead_letter(&backend, &queue(), raw, "boom\0tail", &dest)
            .await
            .unwrap();
    }
    let same_payload = format!("message = '{payload}'::jsonb");
    assert_eq!(rows_where(&fx, "q_jobs_dlq", &same_payload).await, 4);
    assert_eq!(
        rows_where(
            &fx,
            "q_jobs_dlq",
            r#"headers->'x-pgmq-dead-letter'->>'error' = E'boom\uFFFDtail'"#
        )
        .await,
        4,
        "the NUL is replaced, the record written"
    );
    assert_eq!(fx.stored(&queue()).await, 0);

    let moved = fx.dl_requeue(None, None).await.unwrap();
    assert_eq!(moved.len(), 4);
    assert_eq!(rows_where(&fx, "q_jobs", &same_payload).await, 4);
    for (_, restored) in cases {
        assert!(rows_where(&fx, "q_jobs", restored).await >= 1, "{restored}");
    }
    assert_eq!(
        rows_where(&fx, "q_jobs", "headers IS NULL").await,
        2,
        "none and JSON null both come back as none"
    );
}

/// One dead letter no `Value` can hold (another producer's `1e400`) neither hides the
/// others from `list` nor blocks a requeue; it is listed raw and moved exactly.
pub(crate) async fn an_unparsable_dead_letter_is_listed_raw_and_blocks_nothing<
    F: DeadLetterTools,
>() {
    let fx = F::new().await;
    dead_letter(&fx, "jobs", json!(1), None).await;
    let bad = fx
        .query_n(
            r#"SELECT pgmq.send('jobs_dlq', '{"n": 1e400}'::jsonb,
               '{"x-pgmq-dead-letter": {"source_queue": "jobs", "msg_id": 9, "read_ct": 3, "error": "e"}}'::jsonb) AS n"#,
        )
        .await;
    dead_letter(&fx, "jobs", json!(3), None).await;

    let (listed, raw) = fx.dl_list(0, 10).await.unwrap().into_parts();
    assert_eq!(
        listed
            .iter()
            .map(|d| d.message.message.clone())
            .collect::<Vec<_>>(),
        [json!(1), json!(3)]
    );
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].msg_id, bad);
    assert!(
        std::str::from_utf8(raw[0].message.as_bytes())
            .unwrap()
            .starts_with("{\"n\": 1000")
    );
    let e = fx.dl_inspect::<Value>(bad).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(
        fx.dl_inspect::<Value>(listed[0].message.msg_id)
            .await
            .unwrap()
            .is_some()
    );

    let moved = fx.dl_requeue(None, None).await.unwrap();
    assert_eq!(moved.len(), 3);
    assert_eq!(
        rows_where(&fx, "q_jobs", r#"message = '{"n": 1e400}'::jsonb"#).await,
        1,
        "moved exactly"
    );
    assert!(fx.dl_list(0, 10).await.unwrap().is_empty());
}

/// Rows other producers write, through the consumer: a batch holding another service's
/// shape, a SQL `NULL` payload, JSON deeper than 128 levels and numbers no `Job` holds is
/// still handled message by message. The good ones are processed, each bad one is
/// dead-lettered on its own as the stored row (its exact payload, `NULL` included), and
/// the counters add up.
pub(crate) async fn foreign_rows_are_dead_lettered_one_by_one_and_the_good_processed<F: Fixture>() {
    let fx = F::new().await;
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let payloads = [
        r#"'{"id": 1}'::jsonb"#.to_owned(),
        r#"'{"ident": "another service"}'::jsonb"#.to_owned(),
        "NULL::jsonb".to_owned(),
        format!("'{deep}'::jsonb"),
        r#"'{"id": 2}'::jsonb"#.to_owned(),
        r#"'{"id": 1e400}'::jsonb"#.to_owned(),
        r#"'{"id": 123456789012345678901234567890}'::jsonb"#.to_owned(),
    ];
    for p in &payloads {
        fx.query_n(&format!("SELECT pgmq.send('jobs', {p}) AS n"))
            .await;
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    #[derive(serde::Deserialize)]
    struct Job {
        id: i64,
    }
    let run = start(&fx, config(), move |m: Message<Job>| {
        s.lock().unwrap().push(m.message.id);
        Ok(())
    })
    .await;
    assert!(
        run.wait_for(Duration::from_secs(15), |s| s.processed == 2
            && s.dead_lettered == 5)
            .await,
        "each foreign row dead-lettered on its own, the good ones processed"
    );
    let stats = run.stop().await;
    assert_eq!((stats.decode_failed, stats.retried), (5, 0));
    let mut handled = seen.lock().unwrap().clone();
    handled.sort_unstable();
    assert_eq!(handled, [1, 2]);
    assert_eq!(fx.stored(&queue()).await, 0);
    assert_eq!(fx.stored(&dlq()).await, 5);
    for p in &payloads[1..4] {
        let cond = if p.starts_with("NULL") {
            "message IS NULL".to_owned()
        } else {
            format!("message = {p}")
        };
        assert_eq!(rows_where(&fx, "q_jobs_dlq", &cond).await, 1, "{cond}");
    }
    for p in &payloads[5..] {
        assert_eq!(
            rows_where(&fx, "q_jobs_dlq", &format!("message = {p}")).await,
            1,
            "{p}"
        );
    }
}
