//! The queue-depth poller: `pgmq.metrics_all()` on an interval, into the queue gauges.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::{Error, QueueMetrics};

/// Reads queue depth and oldest-message age on an interval and sets the gauges of
/// [`record_queue_metrics`](super::metrics::record_queue_metrics).
///
/// The poller does not know the ORM: [`spawn`](Self::spawn) takes the read as a closure
/// (`metrics_all()` of either crate, on a pool). Each read is bounded by
/// [`query_timeout`](Self::query_timeout): a read that takes longer is dropped, logged and
/// tried again at the next tick, so a frozen server never stalls the poller nor its
/// [`stop`](DepthPollerHandle::stop). Dropping the future does not stop the statement on
/// the server; give the pool's connections a `statement_timeout` for that. A failed read
/// is logged at warn level and leaves the gauges at their last values.
///
/// ```
/// # use std::time::Duration;
/// use pgmq_orm_core::observe::DepthPoller;
/// let p = DepthPoller::new().interval(Duration::from_secs(30)).query_timeout(Duration::from_secs(2));
/// assert_eq!((p.every(), p.timeout()), (Duration::from_secs(30), Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthPoller {
    interval: Duration,
    query_timeout: Duration,
}

impl Default for DepthPoller {
    fn default() -> Self {
        Self::new()
    }
}

impl DepthPoller {
    /// Every 15 s, each read bounded to 5 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use pgmq_orm_core::observe::DepthPoller;
    /// assert_eq!(DepthPoller::new().every(), Duration::from_secs(15));
    /// ```
    pub fn new() -> Self {
        Self {
            interval: Duration::from_secs(15),
            query_timeout: Duration::from_secs(5),
        }
    }

    /// Reads every `interval` (at least 1 ms).
    ///
    /// ```
    /// # use std::time::Duration;
    /// use pgmq_orm_core::observe::DepthPoller;
    /// assert_eq!(DepthPoller::new().interval(Duration::ZERO).every(), Duration::from_millis(1));
    /// ```
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Gives each read at most `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use pgmq_orm_core::observe::DepthPoller;
    /// assert_eq!(DepthPoller::new().query_timeout(Duration::from_secs(1)).timeout(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// The interval between reads.
    ///
    /// ```
    /// # use pgmq_orm_core::observe::DepthPoller;
    /// assert!(!DepthPoller::new().every().is_zero());
    /// ```
    pub fn every(&self) -> Duration {
        self.interval
    }

    /// The bound on each read.
    ///
    /// ```
    /// # use pgmq_orm_core::observe::DepthPoller;
    /// assert!(!DepthPoller::new().timeout().is_zero());
    /// ```
    pub fn timeout(&self) -> Duration {
        self.query_timeout
    }

    /// Starts polling on the current tokio runtime: `read` at once, then every
    /// [`interval`](Self::interval), until the handle is stopped or dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use pgmq_orm_core::observe::DepthPoller;
    /// use pgmq_orm_core::{Error, QueueMetrics};
    /// // With an ORM: `move || { let pool = pool.clone(); async move { pool.get().await?.metrics_all().await } }`.
    /// let poller = DepthPoller::new().interval(Duration::from_millis(10))
    ///     .spawn(|| async { Ok::<Vec<QueueMetrics>, Error>(vec![]) });
    /// tokio::time::sleep(Duration::from_millis(30)).await;
    /// poller.stop().await;
    /// # }
    /// ```
    pub fn spawn<F, Fut>(self, mut read: F) -> DepthPollerHandle
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<QueueMetrics>, Error>> + Send,
    {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    _ = stopped.changed() => return,
                    _ = tick.tick() => {}
                }
                let polled = tokio::select! {
                    biased;
                    _ = stopped.changed() => return,
                    r = tokio::time::timeout(self.query_timeout, read()) => r,
                };
                match polled {
                    Ok(Ok(rows)) => super::metrics::record_queue_metrics(&rows),
                    Ok(Err(e)) => warn!(error = %e, "queue depth read failed"),
                    Err(_) => warn!(timeout = ?self.query_timeout, "queue depth read timed out"),
                }
            }
        });
        DepthPollerHandle { stop, task }
    }
}

/// A running [`DepthPoller`]; dropping it stops the poller too (without waiting).
///
/// ```
/// fn is_send<T: Send>() {}
/// is_send::<pgmq_orm_core::observe::DepthPollerHandle>();
/// ```
#[derive(Debug)]
pub struct DepthPollerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DepthPollerHandle {
    /// Stops the poller and waits for it: a read in flight is dropped, so this returns
    /// at once (never later than the read's bound).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use pgmq_orm_core::observe::DepthPoller;
    /// use pgmq_orm_core::{Error, QueueMetrics};
    /// let p = DepthPoller::new().spawn(|| std::future::pending::<Result<Vec<QueueMetrics>, Error>>());
    /// p.stop().await; // returns although the read never finishes
    /// # }
    /// ```
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for DepthPollerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
