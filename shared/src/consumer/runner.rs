//! The consumer loop: read within free slots, run each message in its own task, apply the
//! failure policy, and drain on shutdown.

use std::any::Any;
use std::collections::VecDeque;
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
use tracing::{Instrument, debug, info_span, warn};

use crate::message::decode_parts;
use crate::{Error, Message, RawJsonMessage};

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
        let cfg = &self.config;
        // Settings that make no sense are refused before anything is read.
        cfg.retry.validate()?;
        let batch = cfg.batch_size.max(1);
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
        let shared = Arc::new(Shared {
            backend: Arc::clone(&self.backend),
            processor: Arc::clone(&self.processor),
            cfg: Arc::clone(cfg),
            counters: Arc::clone(&self.counters),
            hard_stop: hard_stop.clone(),
            ack,
        });
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
                // Not raced against `cancel`: a read cut short could hide messages it
                // already took, until their visibility timeout.
                self.backend
                    .read(
                        &cfg.queue,
                        cfg.visibility_timeout,
                        permits.num_permits(),
                        cfg.fifo,
                    )
                    .await
            } else {
                let n = permits.num_permits().min(held.len());
                Ok(held.drain(..n).collect())
            };
            let messages = match messages {
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
                let Some(permit) = permits.split(1) else {
                    // The backend returned more than asked; release it rather than hold it
                    // without a slot.
                    release(&*self.backend, cfg, raw.msg_id).await;
                    continue;
                };
                tasks.spawn(run_one(Arc::clone(&shared), raw, permit));
            }
            if cfg.read_ahead && held.is_empty() {
                // The next batch, read while these handlers run; handed out as their slots
                // free up. Not raced against `cancel`, as above.
                match self
                    .backend
                    .read(&cfg.queue, cfg.visibility_timeout, batch, cfg.fifo)
                    .await
                {
                    Ok(next) => held.extend(next),
                    Err(e) => warn!(queue = %cfg.queue, error = %e, "pgmq read ahead failed"),
                }
            }
        }
        // Messages read ahead and never started go back at once, for any consumer.
        for raw in held.drain(..) {
            release(&*self.backend, cfg, raw.msg_id).await;
            Counters::bump(&self.counters.released);
        }
        let drained = tokio::time::timeout(cfg.shutdown_deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            hard_stop.cancel();
            while tasks.join_next().await.is_some() {}
        }
        // Every task (and its share of `shared`) is gone; dropping the last one drops the
        // acknowledgement sender, which lets the flusher send what is pending and stop.
        drop(shared);
        if let Some(flusher) = flusher {
            flusher.finish().await;
        }
        Ok(())
    }
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

/// Makes a message visible again at once.
async fn release<B: ConsumerBackend>(backend: &B, cfg: &ConsumerConfig, msg_id: i64) {
    if let Err(e) = backend.set_vt(&cfg.queue, msg_id, Duration::ZERO).await {
        warn!(queue = %cfg.queue, msg_id, error = %e, "could not release message");
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
        hard_stop,
        ack,
    } = shared;
    // Straight from the JSON text into `T`; `raw` keeps the text for the dead-letter
    // queue, and only a message that does not decode is copied (into its error).
    let message: Message<T, Value> = match decode_parts(raw) {
        Ok(m) => m,
        Err(e) => {
            warn!(error = %e, "payload does not decode; moving it away");
            let why = format!("decode: {e}");
            match backend
                .dead_letter(&cfg.queue, raw, &why, &cfg.on_failure)
                .await
            {
                Ok(()) => Counters::bump(&counters.decode_failed),
                Err(e) => warn!(error = %e, "could not dead-letter undecodable message"),
            }
            return;
        }
    };
    let outcome = {
        // A panic of the handler, in `process` itself or while its future runs, is caught
        // here and treated as a failure; the task and the loop go on.
        let job = AssertUnwindSafe(async {
            processor
                .process(&cfg.queue, message, cfg.archive_on_success)
                .await
        })
        .catch_unwind();
        let mut job = pin!(job);
        // Created at the first wait, so a handler that is done when first polled costs
        // no timer.
        let mut beat = None;
        loop {
            tokio::select! {
                biased;
                r = &mut job => break Some(r),
                _ = hard_stop.cancelled() => break None,
                _ = tick(&mut beat, cfg.heartbeat) => {
                    if let Err(e) = backend.set_vt(&cfg.queue, raw.msg_id, cfg.visibility_timeout).await {
                        warn!(error = %e, "heartbeat failed");
                    }
                }
            }
        }
        // The handler's future is dropped here; on a hard stop that also drops (rolls
        // back) any transaction it held.
    };
    let error = match outcome {
        None => {
            release(&**backend, cfg, raw.msg_id).await;
            Counters::bump(&counters.released);
            return;
        }
        Some(Ok(Ok(()))) => {
            debug!("processed");
            // The heartbeat stops here; a batched message stays hidden until its
            // batch is sent (or, should that fail, until its visibility timeout).
            ack.settle(&**backend, cfg, counters, raw.msg_id).await;
            return;
        }
        Some(Ok(Err(e))) => e.to_string(),
        Some(Err(panic)) => format!("handler panicked: {}", panic_text(&*panic)),
    };
    if cfg.retry.exhausted(raw.read_ct) {
        warn!(%error, "attempts used up; moving message away");
        match backend
            .dead_letter(&cfg.queue, raw, &error, &cfg.on_failure)
            .await
        {
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

fn panic_text(payload: &(dyn Any + Send)) -> String {
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
