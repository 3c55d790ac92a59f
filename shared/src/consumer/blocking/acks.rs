//! Acknowledgement of messages whose processor returned `Ok`: by the processor itself
//! (transactional mode), one statement per message, or batched by a flusher thread.
//!
//! Handlers hand their ids to the flusher through [`AckQueue`], which wakes the flusher
//! only when it has something to start on (the first id of a batch) or a full batch,
//! not once per id: with short handlers the flusher otherwise woke for every message.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tracing::warn;

use super::{BlockingBackend, Outcome, Shared, lock, timed};
use crate::consumer::ConsumerConfig;
use crate::consumer::stats::Counters;
use crate::observe::Settled;

/// What happens to a message whose processor returned `Ok`.
#[derive(Debug)]
pub(super) enum Ack {
    /// The processor acknowledged it (transactional mode).
    Done,
    /// Acknowledged now, on its own.
    Single,
    /// Handed to the flusher thread.
    Batched(Arc<AckQueue>),
}

impl Ack {
    pub(super) fn settle<B: BlockingBackend, P>(
        &self,
        shared: &Shared<B, P>,
        msg_id: i64,
    ) -> Outcome {
        let cfg = &shared.cfg;
        match self {
            Self::Done => {
                Outcome::Counted(|c| Counters::bump(&c.processed), Some(Settled::Processed))
            }
            Self::Single => {
                let (b, q, archive) = (
                    Arc::clone(&shared.backend),
                    cfg.queue.clone(),
                    cfg.archive_on_success,
                );
                match timed(cfg.statement_timeout, "acknowledgement", move || {
                    b.ack(&q, msg_id, archive)
                }) {
                    Ok(()) => {
                        Outcome::Counted(|c| Counters::bump(&c.processed), Some(Settled::Processed))
                    }
                    Err(e) => {
                        warn!(error = %e, "could not acknowledge; the message will be delivered again");
                        shared.counters.infrastructure("acknowledgement failed", &e);
                        Outcome::Counted(|c| Counters::bump(&c.ack_failed), None)
                    }
                }
            }
            Self::Batched(queue) => {
                if queue.push(msg_id) {
                    Outcome::Uncounted
                } else {
                    warn!(
                        "acknowledgement flusher has stopped; the message will be delivered again"
                    );
                    Outcome::Counted(|c| Counters::bump(&c.ack_failed), None)
                }
            }
        }
    }
}

/// The ids handed to the flusher thread.
#[derive(Debug)]
pub(super) struct AckQueue {
    state: Mutex<AckState>,
    changed: Condvar,
    /// Most ids per statement.
    max: usize,
}

#[derive(Debug, Default)]
struct AckState {
    /// Handed over, not yet taken by the flusher.
    ids: Vec<i64>,
    /// Handed over and not yet counted (queued, or in the flusher's statement): whoever
    /// counts them (the flusher after its statement, or the loop giving up on it) takes
    /// them under the lock, so they are counted once and before `run` returns.
    pending: usize,
    /// The loop has stopped: send what is queued and end.
    finishing: bool,
    /// No more ids are taken (the flusher ended, or the loop gave up on it).
    closed: bool,
    /// The flusher is waiting on `changed`.
    waiting: bool,
}

impl AckQueue {
    /// Queues `msg_id`; `false` once the flusher takes no more.
    fn push(&self, msg_id: i64) -> bool {
        let mut st = lock(&self.state);
        if st.closed {
            return false;
        }
        st.ids.push(msg_id);
        st.pending += 1;
        // The first id starts the flusher's linger; a full batch ends it early.
        let wake = st.waiting && (st.ids.len() == 1 || st.ids.len() >= self.max);
        drop(st);
        if wake {
            self.changed.notify_one();
        }
        true
    }

    fn wait<'a>(
        &self,
        mut st: MutexGuard<'a, AckState>,
        limit: Duration,
    ) -> MutexGuard<'a, AckState> {
        st.waiting = true;
        let mut st = self
            .changed
            .wait_timeout(st, limit)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        st.waiting = false;
        st
    }

    /// The next ids to acknowledge, once a batch is full, the linger after its first id
    /// passed, or the loop stopped (then every queued id); `None` once stopped and empty.
    fn next(&self, linger: Duration) -> Option<Vec<i64>> {
        let mut st = lock(&self.state);
        while st.ids.is_empty() {
            if st.finishing {
                st.closed = true;
                return None;
            }
            // Woken by the first id or the stop; the limit only bounds a lost wake-up.
            st = self.wait(st, Duration::from_secs(1));
        }
        let until = Instant::now() + linger;
        while !st.finishing && st.ids.len() < self.max {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self.wait(st, left);
        }
        let n = if st.finishing {
            st.ids.len()
        } else {
            st.ids.len().min(self.max)
        };
        Some(st.ids.drain(..n).collect())
    }
}

/// The flusher thread of batched acknowledgements.
#[derive(Debug)]
pub(super) struct Flusher {
    queue: Arc<AckQueue>,
    done: mpsc::Receiver<()>,
    counters: Arc<Counters>,
}

impl Flusher {
    pub(super) fn start<B: BlockingBackend>(
        backend: Arc<B>,
        cfg: Arc<ConsumerConfig>,
        counters: Arc<Counters>,
    ) -> (Self, Ack) {
        let queue = Arc::new(AckQueue {
            state: Mutex::default(),
            changed: Condvar::new(),
            max: cfg.ack_batch.max(1),
        });
        let (done_tx, done) = mpsc::channel();
        let (q, c) = (Arc::clone(&queue), Arc::clone(&counters));
        thread::spawn(move || {
            while let Some(ids) = q.next(cfg.ack_linger) {
                for chunk in ids.chunks(q.max) {
                    flush(&backend, &cfg, &c, &q, chunk);
                }
            }
            let _ = done_tx.send(());
        });
        let ack = Ack::Batched(Arc::clone(&queue));
        (
            Self {
                queue,
                done,
                counters,
            },
            ack,
        )
    }

    /// Sends what is pending and waits at most `limit`; what was not sent by then is
    /// counted in `ack_failed` (it comes back after its visibility timeout).
    pub(super) fn finish(self, limit: Duration) {
        lock(&self.queue.state).finishing = true;
        self.queue.changed.notify_one();
        if self.done.recv_timeout(limit).is_err() {
            let mut st = lock(&self.queue.state);
            st.closed = true;
            let lost = std::mem::take(&mut st.pending);
            warn!(
                count = lost,
                "pending acknowledgements not sent at shutdown; those messages will be delivered again"
            );
            Counters::add(&self.counters.ack_failed, lost);
        }
    }
}

/// One `ack_many` for `ids`, counted unless the loop has already given them up.
fn flush<B: BlockingBackend>(
    backend: &Arc<B>,
    cfg: &ConsumerConfig,
    counters: &Counters,
    queue: &AckQueue,
    ids: &[i64],
) {
    let (b, q, owned, archive) = (
        Arc::clone(backend),
        cfg.queue.clone(),
        ids.to_vec(),
        cfg.archive_on_success,
    );
    let acked = timed(
        cfg.statement_timeout,
        "batched acknowledgement",
        move || b.ack_many(&q, &owned, archive),
    );
    // Counted only if still pending: past the shutdown bound the loop counted them.
    let mut st = lock(&queue.state);
    let Some(left) = st.pending.checked_sub(ids.len()) else {
        return;
    };
    st.pending = left;
    // Counted under the lock, so that a shutdown that gives up on the flusher counts
    // these either here or not at all.
    match acked {
        Ok(_) => {
            Counters::add(&counters.processed, ids.len());
            crate::observe::settled(&cfg.queue, Settled::Processed, ids.len());
        }
        Err(e) => {
            warn!(queue = %cfg.queue, count = ids.len(), error = %e, "could not acknowledge a batch; its messages will be delivered again");
            counters.infrastructure("batched acknowledgement failed", &e);
            Counters::add(&counters.ack_failed, ids.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(max: usize) -> Arc<AckQueue> {
        Arc::new(AckQueue {
            state: Mutex::default(),
            changed: Condvar::new(),
            max,
        })
    }

    #[test]
    fn a_full_batch_goes_at_once_and_a_partial_one_after_the_linger() {
        let q = queue(3);
        for id in 1..=4 {
            assert!(q.push(id));
        }
        let started = Instant::now();
        assert_eq!(q.next(Duration::from_secs(30)), Some(vec![1, 2, 3]));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a full batch did not wait"
        );
        let started = Instant::now();
        assert_eq!(q.next(Duration::from_millis(50)), Some(vec![4]));
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "a partial batch lingers"
        );
    }

    #[test]
    fn a_waiting_flusher_is_woken_by_the_first_id_and_by_a_full_batch() {
        let q = queue(2);
        let (tx, rx) = mpsc::channel();
        let flusher = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let _ = tx.send(q.next(Duration::from_secs(30)));
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(q.push(7));
        assert!(q.push(8));
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("woken");
        assert_eq!(got, Some(vec![7, 8]));
        flusher.join().unwrap();
    }

    #[test]
    fn finishing_sends_everything_queued_then_takes_no_more() {
        let q = queue(2);
        for id in 1..=5 {
            assert!(q.push(id));
        }
        lock(&q.state).finishing = true;
        assert_eq!(q.next(Duration::from_secs(30)), Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(q.next(Duration::from_secs(30)), None);
        assert!(!q.push(6), "a closed queue refuses ids");
        assert_eq!(lock(&q.state).pending, 5, "nothing counted yet");
    }
}
