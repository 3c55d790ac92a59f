//! The consumer loop: read within free slots, run each message in its own task, apply the
//! failure policy, and drain on shutdown.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span, warn};

use crate::{Error, Message, RawMessage};

use super::acknowledger::{Ack, Flusher};
use super::stats::Counters;
use super::{AckAfter, ConsumerBackend, ConsumerConfig, ConsumerStats, Handler, Processor};

/// Back-off after a failed read, so a database outage does not spin the loop.
const READ_ERROR_PAUSE: Duration = Duration::from_secs(1);

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

    /// Consumes until `cancel` fires, then lets running handlers finish within the
    /// shutdown deadline, releases the messages of those that did not (visible at once),
    /// sends the acknowledgements still pending (plain mode) and returns.
    ///
    /// Never holds more messages than free handler slots, so memory does not grow with
    /// the queue's depth.
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::*;
    /// # async fn f<B: ConsumerBackend, P: Processor<u8>>(c: Consumer<B, u8, P>) {
    /// let cancel = tokio_util::sync::CancellationToken::new();
    /// c.run(cancel.clone()).await.unwrap();
    /// # }
    /// ```
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), Error> {
        let cfg = &self.config;
        let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let hard_stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let (ack, flusher) = if self.processor.acknowledges() {
            (Ack::Done, None)
        } else if cfg.ack_batch <= 1 {
            (Ack::Single, None)
        } else {
            let (flusher, tx) = Flusher::start(
                Arc::clone(&self.backend),
                Arc::clone(cfg),
                Arc::clone(&self.counters),
            );
            (Ack::Batched(tx), Some(flusher))
        };
        loop {
            while tasks.try_join_next().is_some() {}
            let first = tokio::select! {
                _ = cancel.cancelled() => break,
                p = Arc::clone(&slots).acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let mut permits = vec![first];
            while permits.len() < cfg.batch_size.max(1) {
                match Arc::clone(&slots).try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            // Not raced against `cancel`: a read cut short could hide messages it already
            // took, until their visibility timeout.
            let read = self
                .backend
                .read(&cfg.queue, cfg.visibility_timeout, permits.len(), cfg.fifo)
                .await;
            let messages = match read {
                Ok(m) => m,
                Err(e) => {
                    warn!(queue = %cfg.queue, error = %e, "pgmq read failed");
                    drop(permits);
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(READ_ERROR_PAUSE) => continue,
                    }
                }
            };
            if messages.is_empty() {
                drop(permits);
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.backend.wait_for_messages(&cfg.queue, cfg.poll_interval) => continue,
                }
            }
            for raw in messages {
                let Some(permit) = permits.pop() else {
                    // The backend returned more than asked; release it rather than hold it
                    // without a slot.
                    release(&*self.backend, cfg, raw.msg_id).await;
                    continue;
                };
                let ctx = MessageCtx {
                    backend: Arc::clone(&self.backend),
                    processor: Arc::clone(&self.processor),
                    cfg: Arc::clone(cfg),
                    counters: Arc::clone(&self.counters),
                    hard_stop: hard_stop.clone(),
                    ack: ack.clone(),
                };
                tasks.spawn(run_one(ctx, raw, permit));
            }
        }
        let drained = tokio::time::timeout(cfg.shutdown_deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            hard_stop.cancel();
            while tasks.join_next().await.is_some() {}
        }
        // Every task (and its sender) is gone; dropping the last one lets the flusher send
        // what is pending and stop.
        drop(ack);
        if let Some(flusher) = flusher {
            flusher.finish().await;
        }
        Ok(())
    }
}

/// Makes a message visible again at once.
async fn release<B: ConsumerBackend>(backend: &B, cfg: &ConsumerConfig, msg_id: i64) {
    if let Err(e) = backend.set_vt(&cfg.queue, msg_id, Duration::ZERO).await {
        warn!(queue = %cfg.queue, msg_id, error = %e, "could not release message");
    }
}

/// What the task of one message shares with the loop that spawned it.
struct MessageCtx<B, P> {
    backend: Arc<B>,
    processor: Arc<P>,
    cfg: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
    hard_stop: CancellationToken,
    ack: Ack,
}

/// One message, from decode to acknowledgement or failure handling.
async fn run_one<B, T, P>(ctx: MessageCtx<B, P>, raw: RawMessage, permit: OwnedSemaphorePermit)
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    let MessageCtx {
        backend,
        processor,
        cfg,
        counters,
        hard_stop,
        ack,
    } = ctx;
    let span =
        info_span!("pgmq.message", queue = %cfg.queue, msg_id = raw.msg_id, attempt = raw.read_ct);
    async move {
        let _permit = permit;
        let message: Message<T, Value> = match raw.clone().decode() {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "payload does not decode; moving it away");
                let why = format!("decode: {e}");
                match backend.dead_letter(&cfg.queue, &raw, &why, &cfg.on_failure).await {
                    Ok(()) => Counters::bump(&counters.decode_failed),
                    Err(e) => warn!(error = %e, "could not dead-letter undecodable message"),
                }
                return;
            }
        };
        // Its own task so that a panic ends that task only and surfaces as a JoinError.
        let mut job =
            tokio::spawn(processor.process(&cfg.queue, message, cfg.archive_on_success));
        let mut beat = cfg.heartbeat.map(|every| {
            tokio::time::interval_at(tokio::time::Instant::now() + every, every)
        });
        let outcome = loop {
            tokio::select! {
                r = &mut job => break Some(r),
                _ = hard_stop.cancelled() => { job.abort(); break None; }
                _ = tick(&mut beat) => {
                    if let Err(e) = backend.set_vt(&cfg.queue, raw.msg_id, cfg.visibility_timeout).await {
                        warn!(error = %e, "heartbeat failed");
                    }
                }
            }
        };
        let error = match outcome {
            None => {
                // Aborting the task also drops (rolls back) any transaction it held.
                let _ = job.await;
                release(&*backend, &cfg, raw.msg_id).await;
                Counters::bump(&counters.released);
                return;
            }
            Some(Ok(Ok(()))) => {
                debug!("processed");
                // The heartbeat stops here; a batched message stays hidden until its
                // batch is sent (or, should that fail, until its visibility timeout).
                ack.settle(&*backend, &cfg, &counters, raw.msg_id).await;
                return;
            }
            Some(Ok(Err(e))) => e.to_string(),
            Some(Err(join)) if join.is_panic() => format!("handler panicked: {}", panic_text(join)),
            Some(Err(join)) => format!("handler task ended: {join}"),
        };
        if cfg.retry.exhausted(raw.read_ct) {
            warn!(%error, "attempts used up; moving message away");
            match backend.dead_letter(&cfg.queue, &raw, &error, &cfg.on_failure).await {
                Ok(()) => Counters::bump(&counters.dead_lettered),
                Err(e) => warn!(error = %e, "could not dead-letter message"),
            }
        } else {
            let delay = cfg.retry.backoff(raw.read_ct, fastrand::f64());
            warn!(%error, retry_in = ?delay, "handler failed; will retry");
            match backend.set_vt(&cfg.queue, raw.msg_id, delay).await {
                Ok(()) => Counters::bump(&counters.retried),
                Err(e) => warn!(error = %e, "could not schedule retry"),
            }
        }
    }
    .instrument(span)
    .await
}

async fn tick(beat: &mut Option<tokio::time::Interval>) {
    match beat {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn panic_text(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
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
