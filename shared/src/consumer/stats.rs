//! Counters a running consumer keeps, and their snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// A point-in-time copy of a consumer's counters.
///
/// ```
/// use pgmq_orm_core::consumer::ConsumerStats;
/// let s = ConsumerStats::default();
/// assert_eq!(s.processed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Messages whose handler succeeded and which were acknowledged (with batched
    /// acknowledgement, counted once their batch was sent).
    pub processed: u64,
    /// Failed attempts put back for a later retry.
    pub retried: u64,
    /// Messages sent to the dead-letter queue or archive after their last attempt.
    pub dead_lettered: u64,
    /// Messages whose payload did not decode (also moved away at once).
    pub decode_failed: u64,
    /// Messages released (visible again) at shutdown.
    pub released: u64,
    /// Messages whose handler succeeded but whose acknowledgement failed; they are
    /// delivered again after their visibility timeout.
    pub ack_failed: u64,
}

/// The live counters; shared between the loop and its tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) processed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) decode_failed: AtomicU64,
    pub(crate) released: AtomicU64,
    pub(crate) ack_failed: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ConsumerStats {
        ConsumerStats {
            processed: self.processed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            decode_failed: self.decode_failed.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
            ack_failed: self.ack_failed.load(Ordering::Relaxed),
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
}
