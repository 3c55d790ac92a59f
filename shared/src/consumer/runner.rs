//! The consumer loop: read within free slots, run each message in its own task, apply the
//! failure policy, and drain on shutdown.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info_span, warn};

use crate::message::decode_parts;
use crate::{Error, Message, RawJsonMessage};

use super::acknowledger::{Ack, Flusher};
use super::policy::{self, AfterFailure, AfterReadFailure};
use super::stats::Counters;
use super::{
    AckAfter, ConsumerBackend, ConsumerConfig, ConsumerStats, Handler, ProcessError, Processor,
};
use crate::observe::Settled;

/// A queue consumer: `T` is the payload type, `P` the [`Processor`] (usually
/// [`AckAfter`] around a [`Handler`]).
///
/// ```no_run
/// # use pgmq_orm_core::consumer::*;
/// # use pgmq_orm_core::{BoxError, Message, QueueName};
/// # async fn f<B: ConsumerBackend>(backend: B) -> Result<(), pgmq_orm_core::Error> {
/// let config = ConsumerConfig::new(QueueName::new("orders")?);
/// let consumer = Consumer::new(backend, config, |m: Message<u64>| async move {
///     println!("order {}", m.message);
///     Ok::<(), BoxError>(())
/// });
/// consumer.run(cancel_on_ctrl_c()).await
/// # }
/// ```
#[derive(Debug)]
pub struct Consumer<B, T, P> {
    backend: Arc<B>,
    processor: Arc<P>,
    config: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
    payload: PhantomData<fn() -> T>,
}

impl<B, T, H> Consumer<B, T, AckAfter<H>>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    H: Handler<T>,
{
    /// A consumer in plain mode: `handler` runs, then the message is acknowledged,
    /// batched with others as [`ConsumerConfig::with_ack_batching`] says.
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::*;
    /// # use pgmq_orm_core::{BoxError, Message, QueueName};
    /// # fn f<B: ConsumerBackend>(backend: B) {
    /// let c = Consumer::new(backend, ConsumerConfig::new(QueueName::new("q").unwrap()),
    ///     |_m: Message<serde_json::Value>| async { Ok::<(), BoxError>(()) });
    /// # }
    /// ```
    pub fn new(backend: B, config: ConsumerConfig, handler: H) -> Self {
        let backend = Arc::new(backend);
        Self::from_parts(backend, config, AckAfter::new(handler))
    }
}

impl<B, T, P> Consumer<B, T, P>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    /// A consumer with a custom processor, such as an ORM crate's transactional one.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::*;
    /// # use std::sync::Arc;
    /// # fn f<B: ConsumerBackend, P: Processor<u8>>(b: Arc<B>, p: P, c: ConsumerConfig) {
    /// let consumer: Consumer<B, u8, P> = Consumer::from_parts(b, c, p);
    /// # }
    /// ```
    pub fn from_parts(backend: Arc<B>, config: ConsumerConfig, processor: P) -> Self {
        Self {
            backend,
            processor: Arc::new(processor),
            config: Arc::new(config),
            counters: Arc::default(),
            payload: PhantomData,
        }
    }

    /// The counters so far; may be read while [`run`](Self::run) is going.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::*;
    /// # fn f<B: ConsumerBackend, P: Processor<u8>>(c: &Consumer<B, u8, P>) {
    /// assert!(c.stats().processed >= c.stats().processed.min(0));
    /// # }
    /// ```
    pub fn stats(&self) -> ConsumerStats {
        self.counters.snapshot()
    }

    /// The settings this consumer runs with.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::*;
    /// # fn f<B: ConsumerBackend, P: Processor<u8>>(c: &Consumer<B, u8, P>) { let _ = c.config().concurrency; }
    /// ```
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// What it runs with, shared, for [`super::outcomes`].
    pub(super) fn parts(&self) -> (Arc<B>, Arc<ConsumerConfig>, Arc<P>) {
        let (b, c, p) = (&self.backend, &self.config, &self.processor);
        (Arc::clone(b), Arc::clone(c), Arc::clone(p))
    }

    /// Consumes until `cancel` fires, then lets running handlers finish within the
    /// shutdown deadline, releases the messages of those that did not (visible at once),
    /// sends the acknowledgements still pending (plain mode) and returns.
    ///
    /// Before the first read it checks what cannot work and returns a typed error naming
    /// it: invalid settings ([`ConsumerConfig::validate`]), pgmq missing or too old, the
    /// queue or the dead-letter queue missing ([`Error::QueueMissing`]), a pool too small
    /// for a transactional consumer's concurrency ([`Error::InvalidArgument`]). A
    /// database that does not answer these checks within the statement timeout is an
    /// error too ([`Error::Timeout`]), so a service learns at start that it cannot work.
    ///
    /// While running, failed reads are retried after a pause and reported in
    /// [`ConsumerStats::health`]; with [`ConsumerConfig::give_up_after`] set, `run`
    /// returns the error after that many in a row (shutting down as on cancellation).
    ///
    /// Always stops: reads are raced against `cancel`, every statement the loop sends is
    /// bounded by [`ConsumerConfig::statement_timeout`], and after cancellation `run`
    /// returns within `shutdown_deadline + 2 × statement_timeout` whatever the server
    /// does. Messages whose state is then unknown are left to their visibility timeout
    /// (counted in [`ConsumerStats::abandoned`]).
    ///
    /// Never holds more messages than free handler slots (plus one batch read ahead with
    /// [`ConsumerConfig::read_ahead()`]), so memory does not grow with the queue's depth.
    /// A [`RetryPolicy`](super::RetryPolicy) that makes no sense is
    /// [`Error::InvalidArgument`] before anything is read
    /// ([`RetryPolicy::validate`](super::RetryPolicy::validate)).
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::*;
    /// # async fn f<B: ConsumerBackend, P: Processor<u8>>(c: Consumer<B, u8, P>) {
    /// let cancel = tokio_util::sync::CancellationToken::new();
    /// c.run(cancel.clone()).await.unwrap();
    /// # }
    /// ```
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), Error> {
        self.consume(cancel, false).await
    }

    /// Processes what the queue holds now, then stops as on cancellation and returns the
    /// counters: for scripts, tests and batch jobs. Returns once a read finds nothing
    /// visible and no handler is running (messages put back for a retry later, or
    /// delayed, are left for another run); `cancel` stops it earlier. Fails fast like
    /// [`run`](Self::run).
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::*;
    /// # async fn f<B: ConsumerBackend, P: Processor<u8>>(c: Consumer<B, u8, P>) -> Result<(), pgmq_orm_core::Error> {
    /// let stats = c.run_until_empty(CancellationToken::new()).await?;
    /// println!("{} processed, {} dead-lettered", stats.processed, stats.dead_lettered);
    /// # Ok(()) }
    /// ```
    pub async fn run_until_empty(&self, cancel: CancellationToken) -> Result<ConsumerStats, Error> {
        self.consume(cancel, true).await?;
        Ok(self.stats())
    }

    /// The checks made before the first read; see [`run`](Self::run).
    async fn preflight(&self) -> Result<(), Error> {
        let cfg = &self.config;
        // First, as the checks below need a connection of the pool themselves.
        policy::check_settings(
            cfg,
            self.backend.pool_capacity(),
            self.processor.connections_per_handler(),
        )?;
        let limit = cfg.statement_timeout;
        policy::check_version(
            timed(limit, "pgmq version check", self.backend.pgmq_version()).await,
        )?;
        for q in policy::required_queues(cfg) {
            if !timed(limit, "queue check", self.backend.queue_exists(q)).await? {
                return Err(policy::queue_missing(cfg, q));
            }
        }
        Ok(())
    }

    async fn consume(&self, cancel: CancellationToken, until_empty: bool) -> Result<(), Error> {
        self.preflight().await?;
        let cfg = &self.config;
        let batch = cfg.batch_size.max(1);
        let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let hard_stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let (ack, flusher) = if self.processor.acknowledges() {
            (Ack::Done, None)
        } else if cfg.ack_batch <= 1 {
            (Ack::Single, None)
        } else {
            let (flusher, ack) = Flusher::start(
                Arc::clone(&self.backend),
                Arc::clone(cfg),
                Arc::clone(&self.counters),
            );
            (ack, Some(flusher))
        };
        let shared = Arc::new(Shared {
            backend: Arc::clone(&self.backend),
            processor: Arc::clone(&self.processor),
            cfg: Arc::clone(cfg),
            counters: Arc::clone(&self.counters),
            hard_stop: hard_stop.clone(),
            ack,
        });
        let counters = &self.counters;
        let mut fatal = None;
        // With `read_ahead`: the next batch, read while the last one runs.
        let mut held: VecDeque<RawJsonMessage> = VecDeque::new();
        loop {
            while tasks.try_join_next().is_some() {}
            let first = tokio::select! {
                _ = cancel.cancelled() => break,
                p = Arc::clone(&slots).acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let mut permits = free_slots(&slots, first, batch).await;
            let messages = if held.is_empty() {
                // Raced against `cancel`: a read cut short may have taken messages, which
                // then come back after their visibility timeout.
                let read = timed(
                    cfg.statement_timeout,
                    "read",
                    self.backend.read(
                        &cfg.queue,
                        cfg.visibility_timeout,
                        permits.num_permits(),
                        cfg.fifo,
                    ),
                );
                let r = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
                    r = read => r,
                };
                if let Ok(m) = &r {
                    counters.record_read(m);
                    counters.read_succeeded();
                }
                r
            } else {
                let n = permits.num_permits().min(held.len());
                Ok(held.drain(..n).collect())
            };
            let messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    drop(permits);
                    match policy::read_failed(counters, cfg, &e) {
                        AfterReadFailure::GiveUp => {
                            fatal = Some(e);
                            break;
                        }
                        AfterReadFailure::Pause(pause) => tokio::select! {
                            _ = cancel.cancelled() => break,
                            _ = tokio::time::sleep(pause) => continue,
                        },
                    }
                }
            };
            if messages.is_empty() {
                drop(permits);
                if until_empty && tasks.is_empty() {
                    break;
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tasks.join_next(), if until_empty => continue,
                    _ = self.backend.wait_for_messages(&cfg.queue, cfg.poll_interval) => continue,
                }
            }
            for raw in messages {
                let Some(permit) = permits.split(1) else {
                    // The backend returned more than asked; release it rather than hold it
                    // without a slot.
                    tasks.spawn(release_one(Arc::clone(&shared), raw));
                    continue;
                };
                tasks.spawn(run_one(Arc::clone(&shared), raw, permit));
            }
            if cfg.read_ahead && held.is_empty() {
                // The next batch, read while these handlers run; handed out as their slots
                // free up. Raced against `cancel`, as above.
                let read = timed(
                    cfg.statement_timeout,
                    "read ahead",
                    self.backend
                        .read(&cfg.queue, cfg.visibility_timeout, batch, cfg.fifo),
                );
                let next = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
                    r = read => r,
                };
                match next {
                    Ok(next) => {
                        counters.record_read(&next);
                        held.extend(next);
                    }
                    Err(e) => {
                        counters.infrastructure("read ahead failed", &e);
                        warn!(queue = %cfg.queue, error = %e, "pgmq read ahead failed");
                    }
                }
            }
        }
        // Messages read ahead and never started go back at once, for any consumer; in
        // tasks of their own, so the shutdown bound covers them too.
        for raw in held.drain(..) {
            tasks.spawn(release_one(Arc::clone(&shared), raw));
        }
        let drained = tokio::time::timeout(cfg.shutdown_deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            hard_stop.cancel();
            // Handlers are stopped now; their tasks only release their messages, each
            // statement bounded by the statement timeout. What still has not finished
            // then (a frozen server) is left to its visibility timeout.
            let cleaned = tokio::time::timeout(cfg.statement_timeout, async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            if cleaned.is_err() {
                tasks.abort_all();
                while let Some(done) = tasks.join_next().await {
                    if done.is_err_and(|e| e.is_cancelled()) {
                        Counters::bump(&counters.abandoned);
                    }
                }
                warn!(queue = %cfg.queue, "shutdown left messages to their visibility timeout");
            }
        }
        // Every task (and its share of `shared`) is gone; dropping the last one drops the
        // acknowledgement sender, which lets the flusher send what is pending and stop.
        drop(shared);
        if let Some(flusher) = flusher {
            flusher.finish(cfg.statement_timeout).await;
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// `fut`, or [`Error::Timeout`] once `limit` has passed (the future is dropped).
async fn timed<T>(
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or(Err(Error::Timeout { what, after: limit }))
}

/// Adds to `permit` the slots that are free, up to `max` in all.
///
/// Handlers that finish together give their slots back one by one, and the first of them
/// wakes the loop. Reading right then would fetch one message, and the next read the
/// rest: two statements for one batch. So while slots keep coming back and the batch is
/// not full, the loop yields to let the other finishing tasks run first.
async fn free_slots(
    slots: &Arc<Semaphore>,
    mut permit: OwnedSemaphorePermit,
    max: usize,
) -> OwnedSemaphorePermit {
    let mut yielded = false;
    loop {
        let free = slots
            .available_permits()
            .min(max.saturating_sub(permit.num_permits()));
        let took = u32::try_from(free)
            .ok()
            .filter(|&n| n > 0)
            .and_then(|n| Arc::clone(slots).try_acquire_many_owned(n).ok());
        let grew = took.is_some();
        if let Some(more) = took {
            permit.merge(more);
        }
        if permit.num_permits() >= max || (yielded && !grew) {
            return permit;
        }
        tokio::task::yield_now().await;
        yielded = true;
    }
}

/// What the task of every message shares with the loop; one `Arc` clone per message.
struct Shared<B, P> {
    backend: Arc<B>,
    processor: Arc<P>,
    cfg: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
    hard_stop: CancellationToken,
    ack: Ack,
}

impl<B: ConsumerBackend, P> Shared<B, P> {
    /// Makes a message visible again at once and counts it released (or abandoned, if
    /// the statement failed: it then comes back after its visibility timeout).
    async fn release(&self, msg_id: i64) {
        let cfg = &self.cfg;
        let released = timed(
            cfg.statement_timeout,
            "release",
            self.backend.set_vt(&cfg.queue, msg_id, Duration::ZERO),
        )
        .await;
        match released {
            Ok(()) => Counters::bump(&self.counters.released),
            Err(e) => {
                warn!(queue = %cfg.queue, msg_id, error = %e, "could not release message; it comes back after its visibility timeout");
                self.counters.infrastructure("release failed", &e);
                Counters::bump(&self.counters.abandoned);
            }
        }
    }

    /// Runs `fut` while the heartbeat keeps message `msg_id` hidden; `None` if the hard
    /// stop came first (`fut` is then dropped).
    async fn beating<F: Future>(&self, msg_id: i64, fut: F) -> Option<F::Output> {
        let cfg = &self.cfg;
        let mut fut = pin!(fut);
        // Created at the first wait, so work that is done when first polled costs no
        // timer.
        let mut beat = None;
        loop {
            tokio::select! {
                biased;
                r = &mut fut => break Some(r),
                _ = self.hard_stop.cancelled() => break None,
                _ = tick(&mut beat, cfg.heartbeat) => {
                    let extend = timed(
                        cfg.statement_timeout,
                        "heartbeat",
                        self.backend.set_vt(&cfg.queue, msg_id, cfg.visibility_timeout),
                    );
                    if let Err(e) = extend.await {
                        self.counters.infrastructure("heartbeat failed", &e);
                        warn!(error = %e, "heartbeat failed");
                    }
                }
            }
        }
    }

    /// Moves a message away (dead-letter queue or archive), trying again after an
    /// infrastructure failure until it succeeds or the hard stop (which releases it).
    async fn move_away(&self, raw: &RawJsonMessage, why: &str, undecodable: bool) {
        let cfg = &self.cfg;
        let mut failures = 0;
        loop {
            let moved = timed(
                cfg.statement_timeout,
                "dead-letter move",
                self.backend
                    .dead_letter(&cfg.queue, raw, why, &cfg.on_failure),
            )
            .await;
            let e = match moved {
                Ok(()) => {
                    Counters::bump(&self.counters.dead_lettered);
                    crate::observe::settled(&cfg.queue, Settled::DeadLettered, 1);
                    if undecodable {
                        Counters::bump(&self.counters.decode_failed);
                    }
                    return;
                }
                Err(e) => e,
            };
            failures += 1;
            let pause = policy::infrastructure_pause(failures);
            error!(error = %e, retry_in = ?pause, "could not move the message away; trying again");
            self.counters.infrastructure("dead-letter move failed", &e);
            if self
                .beating(raw.msg_id, tokio::time::sleep(pause))
                .await
                .is_none()
            {
                self.release(raw.msg_id).await;
                return;
            }
        }
    }
}

/// Releases a message that will not be handled (read ahead, or beyond what was asked).
async fn release_one<B: ConsumerBackend, P>(shared: Arc<Shared<B, P>>, raw: RawJsonMessage) {
    shared.release(raw.msg_id).await;
}

/// One message, from decode to acknowledgement or failure handling; its slot is given
/// back once all of that is done.
async fn run_one<B, T, P>(
    shared: Arc<Shared<B, P>>,
    raw: RawJsonMessage,
    permit: OwnedSemaphorePermit,
) where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    let span = info_span!(
        "pgmq.message",
        queue = %shared.cfg.queue,
        msg_id = raw.msg_id,
        attempt = raw.read_ct
    );
    let _delivery = crate::observe::Delivery::start(&span, &shared.cfg.queue, &raw);
    handle_one::<B, T, P>(&shared, &raw).instrument(span).await;
    drop(permit);
}

async fn handle_one<B, T, P>(shared: &Shared<B, P>, raw: &RawJsonMessage)
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    let Shared {
        backend,
        processor,
        cfg,
        counters,
        ack,
        ..
    } = shared;
    let mut infrastructure_failures = 0;
    let error = loop {
        // Straight from the JSON text into `T`; `raw` keeps the text for the dead-letter
        // queue, and only a message that does not decode is copied (into its error). A
        // message processed again after an infrastructure failure decodes again.
        let message: Message<T, Value> = match decode_parts(raw) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "payload does not decode; moving it away");
                shared.move_away(raw, &format!("decode: {e}"), true).await;
                return;
            }
        };
        // A panic of the handler, in `process` itself or while its future runs, is caught
        // here and treated as a failure; the task and the loop go on.
        let job = AssertUnwindSafe(async {
            processor
                .process(&cfg.queue, message, cfg.archive_on_success)
                .await
        })
        .catch_unwind();
        // On a hard stop the handler's future is dropped, which also drops (rolls back)
        // any transaction it held.
        match shared.beating(raw.msg_id, job).await {
            None => {
                shared.release(raw.msg_id).await;
                return;
            }
            Some(Ok(Ok(()))) => {
                debug!("processed");
                // The heartbeat stops here; a batched message stays hidden until its
                // batch is sent (or, should that fail, until its visibility timeout).
                ack.settle(&**backend, cfg, counters, raw.msg_id).await;
                return;
            }
            Some(Ok(Err(ProcessError::Infrastructure(e)))) => {
                // Not the handler's failure: no attempt is counted, the message stays
                // hidden (heartbeat) and is processed again after a pause.
                infrastructure_failures += 1;
                let pause = policy::infrastructure_pause(infrastructure_failures);
                warn!(error = %e, retry_in = ?pause, "infrastructure failure around the handler; processing again");
                counters.infrastructure("processing failed", &e);
                if shared
                    .beating(raw.msg_id, tokio::time::sleep(pause))
                    .await
                    .is_none()
                {
                    shared.release(raw.msg_id).await;
                    return;
                }
            }
            Some(Ok(Err(ProcessError::Handler(e)))) => break e.to_string(),
            Some(Err(panic)) => break policy::panic_text(&*panic),
        }
    };
    let delay = match policy::after_failure(cfg, raw.read_ct) {
        AfterFailure::MoveAway => {
            warn!(%error, "attempts used up; moving message away");
            shared.move_away(raw, &error, false).await;
            return;
        }
        AfterFailure::RetryIn(delay) => delay,
    };
    warn!(%error, retry_in = ?delay, "handler failed; will retry");
    let scheduled = timed(
        cfg.statement_timeout,
        "retry scheduling",
        backend.set_vt(&cfg.queue, raw.msg_id, delay),
    )
    .await;
    // Either way the failed attempt stands: without the new visibility timeout the
    // message comes back after the one it was read with.
    if let Err(e) = scheduled {
        warn!(error = %e, "could not schedule retry; the message comes back after its visibility timeout");
        counters.infrastructure("retry scheduling failed", &e);
    }
    Counters::bump(&counters.retried);
    crate::observe::settled(&cfg.queue, Settled::Retried, 1);
}

/// Waits for the next heartbeat, if there is one; the first call starts the interval.
async fn tick(beat: &mut Option<tokio::time::Interval>, every: Option<Duration>) {
    let Some(every) = every else {
        return std::future::pending().await;
    };
    let interval = beat.get_or_insert_with(|| {
        tokio::time::interval_at(tokio::time::Instant::now() + every, every)
    });
    interval.tick().await;
}

/// A token cancelled on Ctrl-C (SIGINT), for [`Consumer::run`].
///
/// Must be called inside a tokio runtime.
///
/// ```no_run
/// # async fn f() {
/// let cancel = pgmq_orm_core::consumer::cancel_on_ctrl_c();
/// cancel.cancelled().await;
/// # }
/// ```
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            t.cancel();
        }
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(message: &str) -> RawJsonMessage {
        RawJsonMessage {
            msg_id: 4,
            read_ct: 2,
            enqueued_at: chrono::Utc::now(),
            last_read_at: None,
            vt: chrono::Utc::now(),
            message: crate::RawJson::from_text(message.as_bytes().to_vec()),
            headers: Some(crate::RawJson::from_text(br#"{"h": 1}"#.to_vec())),
        }
    }

    /// Slots given back by tasks that are about to run are taken into the same read.
    #[tokio::test(flavor = "current_thread")]
    async fn free_slots_waits_for_handlers_finishing_together() {
        let slots = Arc::new(Semaphore::new(10));
        let first = Arc::clone(&slots).acquire_owned().await.unwrap();
        for _ in 0..9 {
            // Spawned, not yet run: each gives its slot back once the loop yields.
            let held = Arc::clone(&slots).try_acquire_owned().unwrap();
            tokio::spawn(async move { drop(held) });
        }
        let taken = free_slots(&slots, first, 10).await;
        assert_eq!(taken.num_permits(), 10);
    }

    /// Held slots are not waited for, and no more than `max` are taken.
    #[tokio::test(flavor = "current_thread")]
    async fn free_slots_takes_what_is_free_up_to_max() {
        let slots = Arc::new(Semaphore::new(10));
        let busy = Arc::clone(&slots).try_acquire_many_owned(6).unwrap();
        let first = Arc::clone(&slots).acquire_owned().await.unwrap();
        assert_eq!(free_slots(&slots, first, 10).await.num_permits(), 4);
        drop(busy);
        let first = Arc::clone(&slots).acquire_owned().await.unwrap();
        let taken = free_slots(&slots, first, 3).await;
        assert_eq!((taken.num_permits(), slots.available_permits()), (3, 7));
    }

    #[test]
    fn decode_leaves_the_raw_message_whole() {
        let r = raw("7");
        let m: Message<u32> = decode_parts(&r).unwrap();
        assert_eq!((m.msg_id, m.read_ct, m.message), (4, 2, 7));
        assert_eq!(m.headers, Some(serde_json::json!({"h": 1})));
        assert_eq!(r.message.as_bytes(), b"7");
    }

    #[test]
    fn decode_failure_is_the_typed_error_with_the_raw_json() {
        let Err(e) = decode_parts::<_, u32, Value>(&raw("\"seven\"")) else {
            panic!("expected a decode error");
        };
        assert_eq!((e.msg_id, e.message.as_bytes()), (4, &b"\"seven\""[..]));
    }

    /// A number no `Value` can hold fails this message alone, keeping its text.
    #[test]
    fn a_number_beyond_f64_is_a_decode_error_of_its_message() {
        let Err(e) = decode_parts::<_, Value, Value>(&raw("[1e400]")) else {
            panic!("expected a decode error");
        };
        assert_eq!((e.msg_id, e.message.as_bytes()), (4, &b"[1e400]"[..]));
    }
}
