//! The std-thread consumer runtime (feature `blocking`): the same policy and behaviour as
//! the tokio [`Consumer`](super::Consumer), for applications without an async runtime
//! (sync Diesel on r2d2, Rocket's sync handlers, actix-web's `web::block`, plain worker
//! threads). No tokio is involved.
//!
//! [`BlockingConsumer`] reads in batches no larger than its free handler slots, runs each
//! message on a thread of its own, taken from a pool the process's consumers share and
//! started only when every pooled thread is busy (a panic is caught and treated as a
//! failure), extends
//! the visibility timeout of every running message from one heartbeat thread (one
//! statement for all of them), retries failures after the jittered backoff of
//! [`RetryPolicy`](super::RetryPolicy), moves messages whose attempts are used up (or
//! whose payload does not decode) to the dead-letter queue or archive, batches plain-mode
//! acknowledgements on a flusher thread, reads FIFO groups with `read_grouped_head`, and
//! stops gracefully when its [`StopToken`] is stopped. The ORM crates supply a
//! [`BlockingBackend`] for their pools, a [`BlockingNotificationSource`] for insert
//! wake-ups (driven by [`BlockingWakeups`]) and, for transactional acknowledgement, a
//! [`BlockingProcessor`]. Counters, health and the failure rules are the ones in
//! [`ConsumerStats`] and the crate's shared policy.
//!
//! # Bounds
//!
//! A thread blocked in a statement cannot be interrupted, so every statement the loop
//! sends itself (reads, visibility changes, acknowledgements, dead-letter moves) runs on
//! a pooled thread and is abandoned after
//! [`ConsumerConfig::statement_timeout`]: it counts as an infrastructure failure and the
//! loop goes on; the abandoned thread returns to the pool when the server answers or the
//! connection's own timeouts (the URL's `tcp_user_timeout` and keepalives) give up. A
//! pooled thread idle for 10 s ends. So, as with the
//! tokio runtime, [`BlockingConsumer::run`] returns within
//! `shutdown_deadline + 2 × statement_timeout` after [`StopToken::stop`], whatever the
//! server does.
//!
//! Handlers are not interrupted either: a handler still running at the shutdown deadline
//! keeps its thread, but its message is released at once (visible to other consumers)
//! and its outcome is discarded when it returns; a transactional processor sees the
//! hard stop ([`BlockingProcessor::process`]'s `hard_stop`) and rolls back.
//!
//! ```
//! use pgmq_orm_core::consumer::blocking::{BlockingConsumer, BlockingBackend, StopToken};
//! use pgmq_orm_core::consumer::ConsumerConfig;
//! use pgmq_orm_core::{BoxError, Message, QueueName};
//! fn serve<B: BlockingBackend>(backend: B, stop: &StopToken) -> Result<(), pgmq_orm_core::Error> {
//!     let config = ConsumerConfig::new(QueueName::new("orders")?);
//!     let consumer = BlockingConsumer::new(backend, config, |m: Message<u64>| {
//!         println!("order {}", m.message);
//!         Ok::<(), BoxError>(())
//!     });
//!     consumer.run(stop)
//! }
//! ```

use std::collections::{BTreeSet, VecDeque};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, info_span, warn};

use crate::message::decode_parts;
use crate::{BoxError, Error, Message, PgmqVersion, QueueName, RawJsonMessage};

use super::policy::{self, AfterFailure, AfterReadFailure};
use super::stats::Counters;
use super::{AckAfter, ConsumerConfig, ConsumerStats, FailureDestination, ProcessError};
use crate::observe::Settled;

mod acks;
mod threads;

use acks::{Ack, Flusher};

/// How often a wait checks its [`StopToken`] when it cannot be woken directly (a pool
/// slot, a statement thread): the most a stop waits on a busy loop.
const CHECK_EVERY: Duration = Duration::from_millis(20);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A stop signal for [`BlockingConsumer::run`], shared by cloning: stop it from a signal
/// handler, another thread or a web server's shutdown hook.
///
/// ```
/// use std::time::Duration;
/// use pgmq_orm_core::consumer::blocking::StopToken;
/// let stop = StopToken::new();
/// let s = stop.clone();
/// std::thread::spawn(move || s.stop());
/// assert!(stop.wait_timeout(Duration::from_secs(10)), "woken by the stop");
/// assert!(stop.is_stopped());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopToken {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl StopToken {
    /// A token not stopped yet.
    ///
    /// ```
    /// assert!(!pgmq_orm_core::consumer::blocking::StopToken::new().is_stopped());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops every consumer and wait holding a clone of this token.
    ///
    /// ```
    /// let t = pgmq_orm_core::consumer::blocking::StopToken::new();
    /// t.stop();
    /// assert!(t.is_stopped());
    /// ```
    pub fn stop(&self) {
        *lock(&self.inner.0) = true;
        self.inner.1.notify_all();
    }

    /// Whether [`stop`](Self::stop) was called.
    ///
    /// ```
    /// assert!(!pgmq_orm_core::consumer::blocking::StopToken::new().is_stopped());
    /// ```
    pub fn is_stopped(&self) -> bool {
        *lock(&self.inner.0)
    }

    /// Sleeps for `limit` or until stopped, whichever comes first; `true` if stopped.
    ///
    /// ```
    /// let t = pgmq_orm_core::consumer::blocking::StopToken::new();
    /// assert!(!t.wait_timeout(std::time::Duration::from_millis(10)));
    /// ```
    pub fn wait_timeout(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut stopped = lock(&self.inner.0);
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .inner
                .1
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// The database side of a [`BlockingConsumer`]; the ORM crates implement it on their
/// blocking pools. Methods block the calling thread; the consumer bounds each call by
/// its statement timeout (see the [module](self)).
///
/// ```
/// use pgmq_orm_core::consumer::blocking::BlockingBackend;
/// fn assert_backend<B: BlockingBackend>() {}
/// ```
pub trait BlockingBackend: Send + Sync + 'static {
    /// Reads up to `qty` messages and hides them for `vt`; with `fifo`, through
    /// `pgmq.read_grouped_head` (at most one message per group, none from a group with a
    /// message in flight). Payloads and headers come back as their JSON text.
    fn read(
        &self,
        queue: &QueueName,
        vt: Duration,
        qty: usize,
        fifo: bool,
    ) -> Result<Vec<RawJsonMessage>, Error>;

    /// Makes a message visible again after `delay` (zero releases it at once).
    fn set_vt(&self, queue: &QueueName, msg_id: i64, delay: Duration) -> Result<(), Error>;

    /// [`set_vt`](Self::set_vt) for several messages; the heartbeat extends every running
    /// message through it. The default calls `set_vt` once per id; the ORM backends send
    /// one statement.
    fn set_vt_many(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        delay: Duration,
    ) -> Result<(), Error> {
        for &id in msg_ids {
            self.set_vt(queue, id, delay)?;
        }
        Ok(())
    }

    /// Deletes a processed message, or archives it when `archive`.
    fn ack(&self, queue: &QueueName, msg_id: i64, archive: bool) -> Result<(), Error>;

    /// Acknowledges several messages in one statement; returns the ids still in the
    /// queue. The default calls [`ack`](Self::ack) per id.
    fn ack_many(
        &self,
        queue: &QueueName,
        msg_ids: &[i64],
        archive: bool,
    ) -> Result<Vec<i64>, Error> {
        for &id in msg_ids {
            self.ack(queue, id, archive)?;
        }
        Ok(msg_ids.to_vec())
    }

    /// Moves a message that cannot be processed to `dest`, recording `error`; as
    /// [`ConsumerBackend::dead_letter`](super::ConsumerBackend::dead_letter) says: with
    /// [`dead_letter_sql::move_to_queue`](super::dead_letter_sql::move_to_queue) and
    /// [`failure_record`](super::failure_record), atomic, copying the stored row.
    fn dead_letter(
        &self,
        queue: &QueueName,
        message: &RawJsonMessage,
        error: &str,
        dest: &FailureDestination,
    ) -> Result<(), Error>;

    /// Whether `queue` exists (checked before the first read); the default answers `true`.
    fn queue_exists(&self, queue: &QueueName) -> Result<bool, Error> {
        let _ = queue;
        Ok(true)
    }

    /// The installed pgmq version, checked before the first read; the default answers
    /// `None` (no check).
    fn pgmq_version(&self) -> Result<Option<PgmqVersion>, Error> {
        Ok(None)
    }

    /// How many pool connections this backend can lend the consumer at once; `None` when
    /// unknown.
    fn pool_capacity(&self) -> Option<usize> {
        None
    }

    /// Blocks until a message may have arrived (an insert notification), `timeout`
    /// passed, or `stop` was stopped. The default sleeps (polling only).
    fn wait_for_messages(&self, queue: &QueueName, timeout: Duration, stop: &StopToken) {
        let _ = queue;
        stop.wait_timeout(timeout);
    }
}

/// Processes one decoded message on the calling thread. Returning `Err` (or panicking)
/// leaves the message to the retry policy. Any `Fn(Message<T>) -> Result<(), E>`
/// closure is a handler.
///
/// ```
/// use pgmq_orm_core::{BoxError, Message, consumer::blocking::BlockingHandler};
/// fn assert_handler<T, H: BlockingHandler<T>>(_: &H) {}
/// assert_handler(&|m: Message<u32>| {
///     if m.message == 0 { return Err::<(), BoxError>("zero".into()); }
///     Ok(())
/// });
/// ```
pub trait BlockingHandler<T>: Send + Sync + 'static {
    /// Handles `message`; `Ok` lets it be acknowledged.
    fn handle(&self, message: Message<T>) -> Result<(), BoxError>;
}

impl<T, F, E> BlockingHandler<T> for F
where
    F: Fn(Message<T>) -> Result<(), E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    fn handle(&self, message: Message<T>) -> Result<(), BoxError> {
        self(message).map_err(Into::into)
    }
}

/// Runs one decoded message to completion, acknowledgement included unless
/// [`acknowledges`](Self::acknowledges) is `false`: the blocking form of
/// [`Processor`](super::Processor).
///
/// ```
/// use pgmq_orm_core::consumer::AckAfter;
/// use pgmq_orm_core::consumer::blocking::BlockingProcessor;
/// use pgmq_orm_core::{BoxError, Message};
/// let plain = AckAfter::new(|_m: Message<u8>| Ok::<(), BoxError>(()));
/// assert!(!BlockingProcessor::<u8>::acknowledges(&plain));
/// assert_eq!(BlockingProcessor::<u8>::connections_per_handler(&plain), 0);
/// ```
pub trait BlockingProcessor<T>: Send + Sync + 'static {
    /// Handles `message` and acknowledges it. `hard_stop` is stopped once the shutdown
    /// deadline has passed: the message has then been released, and a processor that
    /// acknowledges must roll back rather than commit (return
    /// [`ProcessError::Infrastructure`]).
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
        hard_stop: &StopToken,
    ) -> Result<(), ProcessError>;

    /// Pool connections each running handler holds (1 for a transactional processor).
    fn connections_per_handler(&self) -> usize {
        0
    }

    /// Whether [`process`](Self::process) acknowledges the message itself (the default).
    fn acknowledges(&self) -> bool {
        true
    }
}

impl<T, H> BlockingProcessor<T> for AckAfter<H>
where
    H: BlockingHandler<T>,
{
    fn process(
        &self,
        _queue: &QueueName,
        message: Message<T>,
        _archive: bool,
        _hard_stop: &StopToken,
    ) -> Result<(), ProcessError> {
        self.handler.handle(message).map_err(ProcessError::Handler)
    }

    fn acknowledges(&self) -> bool {
        false
    }
}

/// How to open a `LISTEN`ing connection and wait on it without an async runtime; the ORM
/// crates implement it (a libpq `PgConnection` for sync Diesel).
///
/// ```
/// use std::time::Duration;
/// use pgmq_orm_core::consumer::blocking::BlockingNotificationSource;
/// use pgmq_orm_core::{Error, QueueName};
/// /// Never hears anything: polling only.
/// #[derive(Debug)]
/// struct Silent;
/// impl BlockingNotificationSource for Silent {
///     type Connection = ();
///     fn connect(&self, _q: &QueueName) -> Result<(), Error> { Ok(()) }
///     fn recv(&self, _c: &mut (), limit: Duration) -> Result<bool, Error> {
///         std::thread::sleep(limit);
///         Ok(false)
///     }
/// }
/// ```
pub trait BlockingNotificationSource: Send + Sync + 'static {
    /// A connection that has run `LISTEN` ([`listen_sql`](super::listen_sql)).
    type Connection: Send + 'static;

    /// Opens a dedicated connection and listens on `queue`'s insert channel.
    fn connect(&self, queue: &QueueName) -> Result<Self::Connection, Error>;

    /// Waits at most `limit` for a notification: `Ok(true)` if one came, `Ok(false)` if
    /// none did; `Err` means the connection is gone (it is reopened by the next wait).
    fn recv(&self, conn: &mut Self::Connection, limit: Duration) -> Result<bool, Error>;

    /// Discards notifications already delivered, so a burst costs one read.
    fn drain(&self, conn: &mut Self::Connection) {
        let _ = conn;
    }
}

/// Waits for insert notifications of one queue on a blocking connection, reconnecting
/// after a loss (and returning at once then, so the loop reads what arrived meanwhile).
/// Polling stays the fallback for what never notifies: delayed messages and expired
/// visibility timeouts.
///
/// ```no_run
/// # use pgmq_orm_core::consumer::blocking::{BlockingNotificationSource, BlockingWakeups, StopToken};
/// # fn f<S: BlockingNotificationSource>(source: S) -> Result<(), pgmq_orm_core::Error> {
/// let queue = pgmq_orm_core::QueueName::new("orders")?;
/// let wakeups = BlockingWakeups::connect(source, &queue)?;
/// wakeups.wait(std::time::Duration::from_secs(5), &StopToken::new());
/// # Ok(()) }
/// ```
pub struct BlockingWakeups<S: BlockingNotificationSource> {
    source: S,
    queue: QueueName,
    conn: Mutex<Option<S::Connection>>,
}

impl<S: BlockingNotificationSource + std::fmt::Debug> std::fmt::Debug for BlockingWakeups<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingWakeups")
            .field("source", &self.source)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl<S: BlockingNotificationSource> BlockingWakeups<S> {
    /// Connects and listens now, so a bad URL or missing permission surfaces here.
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::blocking::{BlockingNotificationSource, BlockingWakeups};
    /// # fn f<S: BlockingNotificationSource>(s: S, q: &pgmq_orm_core::QueueName) {
    /// let w = BlockingWakeups::connect(s, q).expect("LISTEN");
    /// # }
    /// ```
    pub fn connect(source: S, queue: &QueueName) -> Result<Self, Error> {
        let conn = source.connect(queue)?;
        Ok(Self {
            source,
            queue: queue.clone(),
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Returns after a notification, after `limit`, once `stop` is stopped (checked at
    /// least every 20 ms), or at once after reconnecting a lost connection.
    ///
    /// ```no_run
    /// # fn f<S: pgmq_orm_core::consumer::blocking::BlockingNotificationSource>(w: &pgmq_orm_core::consumer::blocking::BlockingWakeups<S>) {
    /// w.wait(std::time::Duration::from_millis(500), &pgmq_orm_core::consumer::blocking::StopToken::new());
    /// # }
    /// ```
    pub fn wait(&self, limit: Duration, stop: &StopToken) {
        let deadline = Instant::now() + limit;
        let mut slot = lock(&self.conn);
        if let Some(conn) = slot.as_mut() {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || stop.is_stopped() {
                    return;
                }
                match self.source.recv(conn, left.min(CHECK_EVERY)) {
                    Ok(true) => return self.source.drain(conn),
                    Ok(false) => {}
                    Err(e) => {
                        warn!(queue = %self.queue, error = %e, "LISTEN connection lost; reconnecting");
                        *slot = None;
                        break;
                    }
                }
            }
        }
        match self.source.connect(&self.queue) {
            Ok(conn) => {
                debug!(queue = %self.queue, "LISTEN connection re-established");
                *slot = Some(conn);
            }
            Err(e) => {
                warn!(queue = %self.queue, error = %e, "LISTEN reconnect failed; polling");
                drop(slot);
                stop.wait_timeout(deadline.saturating_duration_since(Instant::now()));
            }
        }
    }
}

/// Runs `f` on a pool thread ([`threads`]) and waits at most `limit` for it (and, given `stop`,
/// no longer than until it is stopped: `None`). A statement past its limit is abandoned
/// to its thread and reported as [`Error::Timeout`].
fn timed_until<R: Send + 'static>(
    limit: Duration,
    what: &'static str,
    stop: Option<&StopToken>,
    f: impl FnOnce() -> Result<R, Error> + Send + 'static,
) -> Option<Result<R, Error>> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = threads::shared().run(move || {
        let _ = tx.send(f());
    });
    if let Err(e) = spawned {
        return Some(Err(Error::from_database(None, &e.to_string(), e)));
    }
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(Err(Error::Timeout { what, after: limit }));
        }
        let step = if stop.is_some() {
            left.min(CHECK_EVERY)
        } else {
            left
        };
        match rx.recv_timeout(step) {
            Ok(r) => return Some(r),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let msg = format!("{what} panicked");
                return Some(Err(Error::from_database(None, &msg, msg.clone())));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if stop.is_some_and(StopToken::is_stopped) {
                    return None;
                }
            }
        }
    }
}

/// [`timed_until`] without a stop.
fn timed<R: Send + 'static>(
    limit: Duration,
    what: &'static str,
    f: impl FnOnce() -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    timed_until(limit, what, None, f).unwrap_or(Err(Error::Timeout { what, after: limit }))
}

/// A std-thread queue consumer: `T` is the payload type, `P` the [`BlockingProcessor`]
/// (usually [`AckAfter`] around a [`BlockingHandler`]). See the [module](self).
///
/// ```
/// # use pgmq_orm_core::consumer::blocking::*;
/// # use pgmq_orm_core::consumer::ConsumerConfig;
/// # use pgmq_orm_core::{BoxError, Message, QueueName};
/// # fn f<B: BlockingBackend>(backend: B) -> Result<(), pgmq_orm_core::Error> {
/// let consumer = BlockingConsumer::new(backend, ConsumerConfig::new(QueueName::new("orders")?),
///     |m: Message<u64>| { println!("{}", m.message); Ok::<(), BoxError>(()) });
/// let stats = consumer.run_until_empty(&StopToken::new())?;
/// println!("{} processed", stats.processed);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BlockingConsumer<B, T, P> {
    backend: Arc<B>,
    processor: Arc<P>,
    config: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
    payload: PhantomData<fn() -> T>,
}

impl<B, T, H> BlockingConsumer<B, T, AckAfter<H>>
where
    B: BlockingBackend,
    T: DeserializeOwned + Send + 'static,
    H: BlockingHandler<T>,
{
    /// A consumer in plain mode: `handler` runs, then the message is acknowledged,
    /// batched as [`ConsumerConfig::with_ack_batching`] says.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::blocking::*;
    /// # use pgmq_orm_core::{BoxError, Message, QueueName, consumer::ConsumerConfig};
    /// # fn f<B: BlockingBackend>(backend: B) {
    /// let c = BlockingConsumer::new(backend, ConsumerConfig::new(QueueName::new("q").unwrap()),
    ///     |_m: Message<serde_json::Value>| Ok::<(), BoxError>(()));
    /// # }
    /// ```
    pub fn new(backend: B, config: ConsumerConfig, handler: H) -> Self {
        Self::from_parts(Arc::new(backend), config, AckAfter::new(handler))
    }
}

impl<B, T, P> BlockingConsumer<B, T, P>
where
    B: BlockingBackend,
    T: DeserializeOwned + Send + 'static,
    P: BlockingProcessor<T>,
{
    /// A consumer with a custom processor, such as an ORM crate's transactional one.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::blocking::*;
    /// # use pgmq_orm_core::consumer::ConsumerConfig;
    /// # use std::sync::Arc;
    /// # fn f<B: BlockingBackend, P: BlockingProcessor<u8>>(b: Arc<B>, p: P, c: ConsumerConfig) {
    /// let consumer: BlockingConsumer<B, u8, P> = BlockingConsumer::from_parts(b, c, p);
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

    /// The counters so far; may be read from another thread while [`run`](Self::run)
    /// is going.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::blocking::*;
    /// # fn f<B: BlockingBackend, P: BlockingProcessor<u8>>(c: &BlockingConsumer<B, u8, P>) {
    /// let s = c.stats();
    /// assert!(s.settled() <= s.read);
    /// # }
    /// ```
    pub fn stats(&self) -> ConsumerStats {
        self.counters.snapshot()
    }

    /// The settings this consumer runs with.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::blocking::*;
    /// # fn f<B: BlockingBackend, P: BlockingProcessor<u8>>(c: &BlockingConsumer<B, u8, P>) { let _ = c.config().concurrency; }
    /// ```
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Consumes on the calling thread until `stop` is stopped, then lets running handlers
    /// finish within the shutdown deadline, releases the messages of those that did not,
    /// sends pending acknowledgements and returns. Checks before the first read what
    /// cannot work, as [`Consumer::run`](super::Consumer::run) does (settings, pool size,
    /// pgmq version, the queue and dead-letter queue), and returns the typed error.
    /// Returns within `shutdown_deadline + 2 × statement_timeout` after the stop.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::blocking::*;
    /// # fn f<B: BlockingBackend, P: BlockingProcessor<u8>>(c: BlockingConsumer<B, u8, P>) -> Result<(), pgmq_orm_core::Error> {
    /// let stop = StopToken::new();
    /// let s = stop.clone();
    /// std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_secs(60)); s.stop() });
    /// c.run(&stop)?;
    /// # Ok(()) }
    /// ```
    pub fn run(&self, stop: &StopToken) -> Result<(), Error> {
        self.consume(stop, false)
    }

    /// Processes what the queue holds now, then stops as on a stop and returns the
    /// counters: for scripts, tests and batch jobs. `stop` ends it earlier.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::blocking::*;
    /// # fn f<B: BlockingBackend, P: BlockingProcessor<u8>>(c: BlockingConsumer<B, u8, P>) -> Result<(), pgmq_orm_core::Error> {
    /// let stats = c.run_until_empty(&StopToken::new())?;
    /// println!("{} processed, {} dead-lettered", stats.processed, stats.dead_lettered);
    /// # Ok(()) }
    /// ```
    pub fn run_until_empty(&self, stop: &StopToken) -> Result<ConsumerStats, Error> {
        self.consume(stop, true)?;
        Ok(self.stats())
    }

    fn preflight(&self) -> Result<(), Error> {
        let cfg = &self.config;
        policy::check_settings(
            cfg,
            self.backend.pool_capacity(),
            self.processor.connections_per_handler(),
        )?;
        let limit = cfg.statement_timeout;
        let b = Arc::clone(&self.backend);
        policy::check_version(timed(limit, "pgmq version check", move || b.pgmq_version()))?;
        for q in policy::required_queues(cfg) {
            let (b, owned) = (Arc::clone(&self.backend), q.clone());
            if !timed(limit, "queue check", move || b.queue_exists(&owned))? {
                return Err(policy::queue_missing(cfg, q));
            }
        }
        Ok(())
    }

    fn read(
        &self,
        qty: usize,
        what: &'static str,
        stop: &StopToken,
    ) -> Option<Result<Vec<RawJsonMessage>, Error>> {
        let cfg = &self.config;
        let (b, q, vt, fifo) = (
            Arc::clone(&self.backend),
            cfg.queue.clone(),
            cfg.visibility_timeout,
            cfg.fifo,
        );
        timed_until(cfg.statement_timeout, what, Some(stop), move || {
            b.read(&q, vt, qty, fifo)
        })
    }

    fn consume(&self, stop: &StopToken, until_empty: bool) -> Result<(), Error> {
        self.preflight()?;
        let cfg = &self.config;
        let batch = cfg.batch_size.max(1);
        let counters = &self.counters;
        let (ack, flusher) = if self.processor.acknowledges() {
            (Ack::Done, None)
        } else if cfg.ack_batch <= 1 {
            (Ack::Single, None)
        } else {
            let (flusher, ack) = Flusher::start(
                Arc::clone(&self.backend),
                Arc::clone(cfg),
                Arc::clone(counters),
            );
            (ack, Some(flusher))
        };
        let shared = Arc::new(Shared {
            backend: Arc::clone(&self.backend),
            processor: Arc::clone(&self.processor),
            cfg: Arc::clone(cfg),
            counters: Arc::clone(counters),
            hard_stop: StopToken::new(),
            slots: Slots::default(),
            in_flight: Mutex::default(),
            beat: Mutex::default(),
            ack,
        });
        let beat_stop = StopToken::new();
        let heartbeat = cfg.heartbeat.map(|every| {
            let (s, b) = (Arc::clone(&shared), beat_stop.clone());
            thread::spawn(move || heartbeat_loop(&s, every, &b))
        });
        let concurrency = cfg.concurrency.max(1);
        let mut fatal = None;
        let mut held: VecDeque<RawJsonMessage> = VecDeque::new();
        while let Some(mut free) = shared.slots.reserve(concurrency, batch, stop) {
            let messages = if held.is_empty() {
                let Some(r) = self.read(free, "read", stop) else {
                    shared.slots.give_back(free);
                    break;
                };
                if let Ok(m) = &r {
                    counters.record_read(m);
                    counters.read_succeeded();
                }
                r
            } else {
                let n = free.min(held.len());
                Ok(held.drain(..n).collect())
            };
            let messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    shared.slots.give_back(free);
                    match policy::read_failed(counters, cfg, &e) {
                        AfterReadFailure::GiveUp => {
                            fatal = Some(e);
                            break;
                        }
                        AfterReadFailure::Pause(pause) => {
                            if stop.wait_timeout(pause) {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            if messages.is_empty() {
                shared.slots.give_back(free);
                if until_empty {
                    if shared.slots.running() == 0 {
                        break;
                    }
                    // Wait for a handler to finish (it may retry or free a FIFO group).
                    shared.slots.wait_change(cfg.poll_interval, stop);
                } else {
                    self.backend
                        .wait_for_messages(&cfg.queue, cfg.poll_interval, stop);
                }
                if stop.is_stopped() {
                    break;
                }
                continue;
            }
            for raw in messages {
                if free == 0 {
                    // The backend returned more than asked: release it rather than hold
                    // it without a slot.
                    shared.release(&[raw.msg_id]);
                    continue;
                }
                free -= 1;
                spawn_one::<B, T, P>(&shared, raw);
            }
            shared.slots.give_back(free);
            if cfg.read_ahead && held.is_empty() {
                match self.read(batch, "read ahead", stop) {
                    None => break,
                    Some(Ok(next)) => {
                        counters.record_read(&next);
                        held.extend(next);
                    }
                    Some(Err(e)) => {
                        counters.infrastructure("read ahead failed", &e);
                        warn!(queue = %cfg.queue, error = %e, "pgmq read ahead failed");
                    }
                }
            }
        }
        // One budget for the drain, the release of what was read ahead included (the
        // tokio runtime releases those alongside its draining tasks).
        let drain_until = Instant::now() + cfg.shutdown_deadline;
        if !held.is_empty() {
            let ids: Vec<i64> = held.drain(..).map(|m| m.msg_id).collect();
            shared.release(&ids);
        }
        if !shared
            .slots
            .wait_idle(drain_until.saturating_duration_since(Instant::now()))
        {
            shared.hard_stop.stop();
            // Handlers still running keep their threads; their messages are released
            // now and their outcomes discarded when they return. Threads that settled
            // their own message finish its statement meanwhile: one statement timeout
            // for both.
            let cleanup_until = Instant::now() + cfg.statement_timeout;
            shared.disown_running();
            if !shared
                .slots
                .wait_idle(cleanup_until.saturating_duration_since(Instant::now()))
            {
                warn!(queue = %cfg.queue, "shutdown left messages to their visibility timeout");
            }
        }
        // The heartbeat wakes on this and ends after its statement, if one is under way;
        // nothing waits for it.
        beat_stop.stop();
        drop(heartbeat);
        // Whatever is still running now is counted abandoned; a late outcome is dropped.
        shared.slots.close(counters);
        if let Some(flusher) = flusher {
            flusher.finish(cfg.statement_timeout);
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Handler slots: how many message threads run, and which of them were disowned at the
/// hard stop (their messages already released and counted).
#[derive(Debug, Default)]
struct Slots {
    state: Mutex<SlotState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    running: usize,
    disowned: usize,
    closed: bool,
    /// Threads waiting on `changed` (the loop): a finishing handler wakes it only then,
    /// so a batch of short handlers costs the loop one wake-up, not one each.
    waiters: usize,
}

impl Slots {
    /// Waits on `changed` for at most `limit`, counted in `waiters`.
    fn wait<'a>(
        &self,
        mut st: MutexGuard<'a, SlotState>,
        limit: Duration,
    ) -> MutexGuard<'a, SlotState> {
        st.waiters += 1;
        let mut st = self
            .changed
            .wait_timeout(st, limit)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        st.waiters -= 1;
        st
    }

    /// Wakes the waiters, if any, once `st` is released.
    fn notify(&self, st: MutexGuard<'_, SlotState>) {
        let waiting = st.waiters > 0;
        drop(st);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// Waits for a free slot and reserves every free one, up to `batch`; `None` once
    /// `stop` is stopped.
    ///
    /// Handlers that finish together give their slots back one by one, and the first of
    /// them wakes the loop: reading right then would fetch one message, and the next read
    /// the rest. So while slots keep coming back and the batch is not full, the loop
    /// yields to the finishing threads first (as the tokio driver does).
    fn reserve(&self, concurrency: usize, batch: usize, stop: &StopToken) -> Option<usize> {
        let mut st = lock(&self.state);
        loop {
            if stop.is_stopped() {
                return None;
            }
            if st.running < concurrency {
                let mut free = concurrency - st.running;
                while free < batch.min(concurrency) {
                    drop(st);
                    thread::yield_now();
                    st = lock(&self.state);
                    let now = concurrency.saturating_sub(st.running);
                    if now <= free {
                        break;
                    }
                    free = now;
                }
                let n = concurrency.saturating_sub(st.running).min(batch);
                if n == 0 {
                    continue;
                }
                st.running += n;
                return Some(n);
            }
            st = self.wait(st, CHECK_EVERY);
        }
    }

    fn give_back(&self, n: usize) {
        if n > 0 {
            let mut st = lock(&self.state);
            st.running -= n;
            self.notify(st);
        }
    }

    fn running(&self) -> usize {
        lock(&self.state).running
    }

    /// Waits until a slot is given back, `limit` passed, or `stop`.
    fn wait_change(&self, limit: Duration, stop: &StopToken) {
        let deadline = Instant::now() + limit;
        let mut st = lock(&self.state);
        let start = st.running;
        while st.running >= start && !stop.is_stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            st = self.wait(st, left.min(CHECK_EVERY));
        }
    }

    /// Waits up to `limit` until no message thread runs, or only disowned ones; whether
    /// that happened.
    fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = lock(&self.state);
        while st.running > st.disowned {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.wait(st, left);
        }
        true
    }

    /// A message thread's end: counts its outcome unless the run has returned (it was
    /// counted abandoned then) or it was disowned (counted released).
    fn finish(&self, counters: &Counters, queue: &QueueName, outcome: Outcome) {
        let mut st = lock(&self.state);
        st.running -= 1;
        match outcome {
            Outcome::Disowned => st.disowned -= 1,
            _ if st.closed => {}
            Outcome::Counted(counter, metric) => {
                counter(counters);
                if let Some(m) = metric {
                    crate::observe::settled(queue, m, 1);
                }
            }
            Outcome::Uncounted => {}
        }
        self.notify(st);
    }

    /// The run returns: message threads still running that were not disowned are
    /// counted abandoned (their messages come back after their visibility timeout).
    fn close(&self, counters: &Counters) {
        let mut st = lock(&self.state);
        st.closed = true;
        Counters::add(&counters.abandoned, st.running - st.disowned);
    }
}

/// How a message thread ended.
#[derive(Clone, Copy)]
enum Outcome {
    /// Count it with this (and the metric, where one matches: see `observe`).
    Counted(fn(&Counters), Option<Settled>),
    /// Already counted elsewhere (a batched acknowledgement the flusher counts).
    Uncounted,
    /// Its message was released at the hard stop, and counted then.
    Disowned,
}

/// What every message thread shares with the loop.
struct Shared<B, P> {
    backend: Arc<B>,
    processor: Arc<P>,
    cfg: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
    hard_stop: StopToken,
    slots: Slots,
    /// Messages whose handler (or whose pause between tries) is under way: extended by
    /// the heartbeat, and released at the hard stop.
    in_flight: Mutex<BTreeSet<i64>>,
    /// Held by the heartbeat across its statement, and by retry scheduling.
    beat: Mutex<()>,
    ack: Ack,
}

impl<B: BlockingBackend, P> Shared<B, P> {
    /// Makes messages visible again at once: counted released, or abandoned if the
    /// statement failed (they then come back after their visibility timeout).
    fn release(&self, ids: &[i64]) {
        let cfg = &self.cfg;
        let (b, q, owned) = (Arc::clone(&self.backend), cfg.queue.clone(), ids.to_vec());
        match timed(cfg.statement_timeout, "release", move || {
            b.set_vt_many(&q, &owned, Duration::ZERO)
        }) {
            Ok(()) => Counters::add(&self.counters.released, ids.len()),
            Err(e) => {
                warn!(queue = %cfg.queue, count = ids.len(), error = %e, "could not release messages; they come back after their visibility timeout");
                self.counters.infrastructure("release failed", &e);
                Counters::add(&self.counters.abandoned, ids.len());
            }
        }
    }

    /// The hard stop: releases every in-flight message at once and disowns its thread.
    fn disown_running(&self) {
        let mut in_flight = lock(&self.in_flight);
        let ids: Vec<i64> = std::mem::take(&mut *in_flight).into_iter().collect();
        if ids.is_empty() {
            return;
        }
        lock(&self.slots.state).disowned += ids.len();
        drop(in_flight);
        self.release(&ids);
    }

    /// Takes `msg_id` out of the in-flight set; `false` if the hard stop disowned it.
    fn settle(&self, msg_id: i64) -> bool {
        lock(&self.in_flight).remove(&msg_id)
    }

    /// Keeps `msg_id` in flight (hidden by the heartbeat) through a pause before another
    /// try; `Some` outcome once the hard stop came instead: the message was released by
    /// this thread (and counted then) or by the loop (disowned).
    fn pause(&self, msg_id: i64, pause: Duration) -> Option<Outcome> {
        lock(&self.in_flight).insert(msg_id);
        if !self.hard_stop.wait_timeout(pause) {
            return None;
        }
        if self.settle(msg_id) {
            self.release(&[msg_id]);
            Some(Outcome::Uncounted)
        } else {
            Some(Outcome::Disowned)
        }
    }

    /// Moves a message away (dead-letter queue or archive), trying again after an
    /// infrastructure failure until it succeeds or the hard stop. The message is not in
    /// flight when this is called.
    fn move_away(&self, raw: &RawJsonMessage, why: &str, undecodable: bool) -> Outcome {
        let cfg = &self.cfg;
        let mut failures = 0;
        loop {
            let (b, q, m, w, d) = (
                Arc::clone(&self.backend),
                cfg.queue.clone(),
                raw.clone(),
                why.to_owned(),
                cfg.on_failure.clone(),
            );
            let moved = timed(cfg.statement_timeout, "dead-letter move", move || {
                b.dead_letter(&q, &m, &w, &d)
            });
            let e = match moved {
                Ok(()) => {
                    return Outcome::Counted(
                        if undecodable {
                            |c: &Counters| {
                                Counters::bump(&c.dead_lettered);
                                Counters::bump(&c.decode_failed);
                            }
                        } else {
                            |c: &Counters| Counters::bump(&c.dead_lettered)
                        },
                        Some(Settled::DeadLettered),
                    );
                }
                Err(e) => e,
            };
            failures += 1;
            let pause = policy::infrastructure_pause(failures);
            tracing::error!(error = %e, retry_in = ?pause, "could not move the message away; trying again");
            self.counters.infrastructure("dead-letter move failed", &e);
            if let Some(stopped) = self.pause(raw.msg_id, pause) {
                return stopped;
            }
            if !self.settle(raw.msg_id) {
                return Outcome::Disowned;
            }
        }
    }
}

/// Starts one message on a pool thread ([`threads`]); its slot is reserved.
fn spawn_one<B, T, P>(shared: &Arc<Shared<B, P>>, raw: RawJsonMessage)
where
    B: BlockingBackend,
    T: DeserializeOwned + Send + 'static,
    P: BlockingProcessor<T>,
{
    lock(&shared.in_flight).insert(raw.msg_id);
    let s = Arc::clone(shared);
    let msg_id = raw.msg_id;
    let spawned = threads::shared().run(move || {
        let span = info_span!(
            "pgmq.message",
            queue = %s.cfg.queue,
            msg_id = raw.msg_id,
            attempt = raw.read_ct
        );
        let _delivery = crate::observe::Delivery::start(&span, &s.cfg.queue, &raw);
        let outcome = span.in_scope(|| handle_one::<B, T, P>(&s, &raw));
        s.slots.finish(&s.counters, &s.cfg.queue, outcome);
    });
    if let Err(e) = spawned {
        warn!(error = %e, "could not start a handler thread; releasing the message");
        shared.counters.infrastructure("handler thread", &e);
        if shared.settle(msg_id) {
            shared.release(&[msg_id]);
        }
        shared.slots.give_back(1);
    }
}

fn handle_one<B, T, P>(shared: &Shared<B, P>, raw: &RawJsonMessage) -> Outcome
where
    B: BlockingBackend,
    T: DeserializeOwned + Send + 'static,
    P: BlockingProcessor<T>,
{
    let cfg = &shared.cfg;
    let mut infrastructure_failures = 0;
    let error = loop {
        let message: Message<T, Value> = match decode_parts(raw) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "payload does not decode; moving it away");
                if !shared.settle(raw.msg_id) {
                    return Outcome::Disowned;
                }
                return shared.move_away(raw, &format!("decode: {e}"), true);
            }
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            shared.processor.process(
                &cfg.queue,
                message,
                cfg.archive_on_success,
                &shared.hard_stop,
            )
        }));
        // Whatever happened, the hard stop may have released the message meanwhile: then
        // its outcome is no longer this thread's.
        if !shared.settle(raw.msg_id) {
            return Outcome::Disowned;
        }
        match result {
            Ok(Ok(())) => {
                debug!("processed");
                return shared.ack.settle(shared, raw.msg_id);
            }
            Ok(Err(ProcessError::Infrastructure(e))) => {
                infrastructure_failures += 1;
                let pause = policy::infrastructure_pause(infrastructure_failures);
                warn!(error = %e, retry_in = ?pause, "infrastructure failure around the handler; processing again");
                shared.counters.infrastructure("processing failed", &e);
                if let Some(stopped) = shared.pause(raw.msg_id, pause) {
                    return stopped;
                }
            }
            Ok(Err(ProcessError::Handler(e))) => break e.to_string(),
            Err(panic) => break policy::panic_text(&*panic),
        }
    };
    match policy::after_failure(cfg, raw.read_ct) {
        AfterFailure::MoveAway => {
            warn!(%error, "attempts used up; moving message away");
            shared.move_away(raw, &error, false)
        }
        AfterFailure::RetryIn(delay) => {
            warn!(%error, retry_in = ?delay, "handler failed; will retry");
            let (b, q, id) = (Arc::clone(&shared.backend), cfg.queue.clone(), raw.msg_id);
            // After any heartbeat extension of this message already under way.
            let beat = lock(&shared.beat);
            let scheduled = timed(cfg.statement_timeout, "retry scheduling", move || {
                b.set_vt(&q, id, delay)
            });
            drop(beat);
            // Either way the failed attempt stands: without the new visibility timeout
            // the message comes back after the one it was read with.
            if let Err(e) = scheduled {
                warn!(error = %e, "could not schedule retry; the message comes back after its visibility timeout");
                shared
                    .counters
                    .infrastructure("retry scheduling failed", &e);
            }
            Outcome::Counted(|c| Counters::bump(&c.retried), Some(Settled::Retried))
        }
    }
}

/// Extends every in-flight message's visibility timeout each `every`, in one statement,
/// until `stop`. The beat lock, held across the statement, keeps a retry delay from
/// being scheduled while an extension of the same message is under way (which would
/// overwrite it); the in-flight set itself is only held to copy it, so the hard stop
/// never waits for a heartbeat.
fn heartbeat_loop<B: BlockingBackend, P>(shared: &Shared<B, P>, every: Duration, stop: &StopToken) {
    let cfg = &shared.cfg;
    while !stop.wait_timeout(every) {
        let beat = lock(&shared.beat);
        let ids: Vec<i64> = lock(&shared.in_flight).iter().copied().collect();
        if ids.is_empty() {
            continue;
        }
        let (b, q, vt) = (
            Arc::clone(&shared.backend),
            cfg.queue.clone(),
            cfg.visibility_timeout,
        );
        if let Err(e) = timed(cfg.statement_timeout, "heartbeat", move || {
            b.set_vt_many(&q, &ids, vt)
        }) {
            shared.counters.infrastructure("heartbeat failed", &e);
            warn!(error = %e, "heartbeat failed");
        }
        drop(beat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_wakes_a_waiter_and_stays_stopped() {
        let t = StopToken::new();
        let s = t.clone();
        let h = thread::spawn(move || s.wait_timeout(Duration::from_secs(30)));
        thread::sleep(Duration::from_millis(50));
        t.stop();
        assert!(h.join().unwrap());
        assert!(t.wait_timeout(Duration::from_secs(30)));
    }

    #[test]
    fn a_statement_past_its_limit_is_a_timeout_and_a_stop_ends_the_wait() {
        let slow = || {
            thread::sleep(Duration::from_secs(2));
            Ok(())
        };
        let started = Instant::now();
        let e = timed(Duration::from_millis(100), "read", slow).unwrap_err();
        assert!(matches!(e, Error::Timeout { what: "read", .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(1));
        let stop = StopToken::new();
        stop.stop();
        assert!(timed_until(Duration::from_secs(5), "read", Some(&stop), slow).is_none());
        assert_eq!(timed(Duration::from_secs(5), "x", || Ok(3)).unwrap(), 3);
    }

    #[test]
    fn slots_reserve_what_is_free_up_to_the_batch() {
        let slots = Slots::default();
        let stop = StopToken::new();
        assert_eq!(slots.reserve(10, 4, &stop), Some(4));
        assert_eq!(slots.reserve(10, 8, &stop), Some(6));
        slots.give_back(3);
        assert_eq!(slots.reserve(10, 8, &stop), Some(3));
        stop.stop();
        assert_eq!(slots.reserve(10, 8, &stop), None);
    }
}
