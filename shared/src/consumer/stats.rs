//! Counters a running consumer keeps, its health, and their snapshot.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::RawJsonMessage;

/// A point-in-time copy of a consumer's counters, health and last error.
///
/// Every message read ends in exactly one of `processed`, `retried`, `dead_lettered`,
/// `released`, `ack_failed` or `abandoned`, so once [`Consumer::run`] has returned,
/// [`settled`](Self::settled) equals `read`.
///
/// [`Consumer::run`]: super::Consumer::run
///
/// ```
/// use pgmq_orm_core::consumer::{ConsumerStats, Health};
/// let s = ConsumerStats::default();
/// assert_eq!(s.processed, 0);
/// assert_eq!(s.health, Health::Healthy);
/// assert_eq!(s.settled(), s.read);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Messages read from the queue (each delivery counts once).
    pub read: u64,
    /// Messages whose handler succeeded and which were acknowledged (with batched
    /// acknowledgement, counted once their batch was sent).
    pub processed: u64,
    /// Failed attempts put back for a later retry.
    pub retried: u64,
    /// Messages moved to the dead-letter queue or archive: after their last attempt, or at
    /// once when their payload does not decode (those are also counted in
    /// `decode_failed`).
    pub dead_lettered: u64,
    /// Of `dead_lettered`, the messages whose payload did not decode.
    pub decode_failed: u64,
    /// Messages released (visible again) at shutdown.
    pub released: u64,
    /// Messages whose handler succeeded but whose acknowledgement failed; they are
    /// delivered again after their visibility timeout.
    pub ack_failed: u64,
    /// Messages whose state was unknown when the consumer stopped (a statement to the
    /// database could not finish within the shutdown bound); they come back after their
    /// visibility timeout.
    pub abandoned: u64,
    /// Database work that failed without being the handler's fault (a failed read, a
    /// pool timeout, a lost connection, a failed heartbeat, dead-letter move or retry
    /// scheduling, a statement past [`ConsumerConfig::statement_timeout`]). None of them
    /// costs a message an attempt: the work is retried after a pause.
    ///
    /// [`ConsumerConfig::statement_timeout`]: super::ConsumerConfig::statement_timeout
    pub infrastructure_errors: u64,
    /// When the last read that brought messages returned; `None` until one has.
    pub last_read_at: Option<SystemTime>,
    /// How old the oldest message of that read was when it came: from its `enqueued_at`
    /// (the server's clock) to the consumer's clock, zero if the clocks disagree the
    /// other way. Reads take messages oldest first, so it is how far behind its queue the
    /// consumer runs, known without a query. The queue's own view (depth, oldest
    /// message, dead tuples) is `queue_health` in either crate.
    pub pickup_lag: Option<Duration>,
    /// Whether reads are currently succeeding.
    pub health: Health,
    /// The last error the consumer met (handler errors excluded), and when.
    pub last_error: Option<LastError>,
}

impl ConsumerStats {
    /// The messages that reached an end state: the sum of `processed`, `retried`,
    /// `dead_lettered`, `released`, `ack_failed` and `abandoned`. Equal to `read` once
    /// the consumer has stopped; below it while messages are in flight.
    ///
    /// ```
    /// use pgmq_orm_core::consumer::ConsumerStats;
    /// let s = ConsumerStats { read: 3, processed: 2, dead_lettered: 1, decode_failed: 1, ..Default::default() };
    /// assert_eq!(s.settled(), 3);
    /// ```
    pub fn settled(&self) -> u64 {
        self.processed
            + self.retried
            + self.dead_lettered
            + self.released
            + self.ack_failed
            + self.abandoned
    }
}

/// Whether a consumer can read its queue; what a service exposes as its health check.
///
/// ```
/// use pgmq_orm_core::consumer::Health;
/// assert!(Health::Healthy.is_healthy());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Health {
    /// Reads succeed (or too few failed in a row to say otherwise).
    #[default]
    Healthy,
    /// [`ConsumerConfig::degraded_after`](super::ConsumerConfig::degraded_after) reads or
    /// more failed in a row.
    Degraded {
        /// When the first of those failures happened.
        since: SystemTime,
        /// The last of them.
        last_error: String,
    },
}

impl Health {
    /// Whether this is [`Health::Healthy`].
    ///
    /// ```
    /// use pgmq_orm_core::consumer::Health;
    /// let h = Health::Degraded { since: std::time::SystemTime::now(), last_error: "down".into() };
    /// assert!(!h.is_healthy());
    /// ```
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }
}

/// An error a consumer met, with its time.
///
/// ```
/// use pgmq_orm_core::consumer::LastError;
/// let e = LastError { at: std::time::SystemTime::now(), message: "pool timed out".into() };
/// assert!(e.message.contains("pool"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// When it happened.
    pub at: SystemTime,
    /// What happened, with the error's text.
    pub message: String,
}

/// The live counters; shared between the loop and its tasks.
// With `consumer-core` alone no driver keeps them.
#[cfg_attr(not(any(feature = "consumer", feature = "blocking")), allow(dead_code))]
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) read: AtomicU64,
    pub(crate) processed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) decode_failed: AtomicU64,
    pub(crate) released: AtomicU64,
    pub(crate) ack_failed: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    pub(crate) infrastructure_errors: AtomicU64,
    state: Mutex<State>,
}

/// Health and last error, which change together and rarely.
#[derive(Debug, Default)]
struct State {
    failed_reads: u32,
    first_failure: Option<SystemTime>,
    health: Health,
    last_error: Option<LastError>,
    last_read_at: Option<SystemTime>,
    pickup_lag: Option<Duration>,
}

#[cfg_attr(not(any(feature = "consumer", feature = "blocking")), allow(dead_code))]
impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an infrastructure failure: counted, and kept as the last error.
    pub(crate) fn infrastructure(&self, what: &str, error: &dyn std::fmt::Display) {
        Self::bump(&self.infrastructure_errors);
        self.state().last_error = Some(LastError {
            at: SystemTime::now(),
            message: format!("{what}: {error}"),
        });
    }

    /// Records a failed read; returns how many failed in a row, and whether this one
    /// turned the health to `Degraded`.
    pub(crate) fn read_failed(
        &self,
        error: &dyn std::fmt::Display,
        degraded_after: u32,
    ) -> (u32, bool) {
        self.infrastructure("read failed", error);
        let mut st = self.state();
        st.failed_reads = st.failed_reads.saturating_add(1);
        let since = *st.first_failure.get_or_insert_with(SystemTime::now);
        let degrade = st.failed_reads >= degraded_after;
        let newly = degrade && st.health.is_healthy();
        if degrade {
            st.health = Health::Degraded {
                since,
                last_error: error.to_string(),
            };
        }
        (st.failed_reads, newly)
    }

    /// Records the messages a read (or a read ahead) brought: counted and, when there are
    /// any, the time and the age of the oldest.
    pub(crate) fn record_read(&self, messages: &[RawJsonMessage]) {
        Self::add(&self.read, messages.len());
        let Some(oldest) = messages.iter().map(|m| m.enqueued_at).min() else {
            return;
        };
        let lag = (chrono::Utc::now() - oldest).to_std().unwrap_or_default();
        let mut st = self.state();
        st.last_read_at = Some(SystemTime::now());
        st.pickup_lag = Some(lag);
    }

    /// Records a successful read: healthy again.
    pub(crate) fn read_succeeded(&self) {
        let mut st = self.state();
        if st.failed_reads > 0 {
            st.failed_reads = 0;
            st.first_failure = None;
            st.health = Health::Healthy;
        }
    }

    pub(crate) fn snapshot(&self) -> ConsumerStats {
        let st = self.state();
        ConsumerStats {
            read: self.read.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            decode_failed: self.decode_failed.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
            ack_failed: self.ack_failed.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
            infrastructure_errors: self.infrastructure_errors.load(Ordering::Relaxed),
            last_read_at: st.last_read_at,
            pickup_lag: st.pickup_lag,
            health: st.health.clone(),
            last_error: st.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reflects_each_counter() {
        let c = Counters::default();
        Counters::bump(&c.processed);
        Counters::bump(&c.retried);
        Counters::bump(&c.retried);
        Counters::bump(&c.decode_failed);
        Counters::add(&c.ack_failed, 3);
        let s = c.snapshot();
        assert_eq!(
            (s.processed, s.retried, s.dead_lettered, s.decode_failed),
            (1, 2, 0, 1)
        );
        assert_eq!(s.ack_failed, 3);
    }

    fn sent_ago(msg_id: i64, ago: chrono::Duration) -> RawJsonMessage {
        let now = chrono::Utc::now();
        RawJsonMessage {
            msg_id,
            read_ct: 1,
            enqueued_at: now - ago,
            last_read_at: Some(now),
            vt: now,
            message: crate::RawJson::from_text(b"1".to_vec()),
            headers: None,
        }
    }

    #[test]
    fn a_read_records_the_age_of_its_oldest_message_and_an_empty_one_keeps_the_last() {
        let c = Counters::default();
        assert_eq!(
            (c.snapshot().pickup_lag, c.snapshot().last_read_at),
            (None, None)
        );
        let before = SystemTime::now();
        c.record_read(&[
            sent_ago(2, chrono::Duration::seconds(5)),
            sent_ago(1, chrono::Duration::seconds(90)),
        ]);
        let s = c.snapshot();
        let lag = s.pickup_lag.expect("a read that brought messages");
        assert!(
            (Duration::from_secs(90)..Duration::from_secs(100)).contains(&lag),
            "{lag:?}"
        );
        assert!(s.last_read_at.expect("read at") >= before);
        assert_eq!(s.read, 2);
        c.record_read(&[]);
        assert_eq!(
            c.snapshot().pickup_lag,
            Some(lag),
            "an empty read changes nothing"
        );
        // A message stamped ahead of this clock (a server clock ahead) is no lag.
        c.record_read(&[sent_ago(3, chrono::Duration::seconds(-30))]);
        assert_eq!(c.snapshot().pickup_lag, Some(Duration::ZERO));
    }

    #[test]
    fn failed_reads_degrade_health_after_the_threshold_and_a_read_restores_it() {
        let c = Counters::default();
        assert_eq!(c.read_failed(&"down", 2), (1, false));
        assert!(c.snapshot().health.is_healthy());
        assert_eq!(c.read_failed(&"still down", 2), (2, true));
        let s = c.snapshot();
        assert!(
            matches!(&s.health, Health::Degraded { last_error, .. } if last_error == "still down")
        );
        assert_eq!(s.infrastructure_errors, 2);
        assert!(s.last_error.unwrap().message.contains("still down"));
        assert_eq!(c.read_failed(&"again", 2), (3, false), "degraded once");
        c.read_succeeded();
        assert_eq!(c.snapshot().health, Health::Healthy);
    }
}
