//! Plain-mode acknowledgement: each message whose handler succeeded is deleted (or
//! archived) either at once on its own, or collected and sent with others in one
//! [`ConsumerBackend::ack_many`] statement by a flusher task.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::Error;

use super::stats::Counters;
use super::{ConsumerBackend, ConsumerConfig};
use crate::observe::Settled;

/// What the loop does with a message whose processor returned `Ok`.
#[derive(Debug, Clone)]
pub(crate) enum Ack {
    /// The processor acknowledged it already (transactional mode).
    Done,
    /// Acknowledge it now, on its own.
    Single,
    /// Hand its id to the flusher.
    Batched(mpsc::UnboundedSender<i64>, Arc<AtomicUsize>),
}

impl Ack {
    /// Acknowledges `msg_id` as this mode says and counts it once acknowledged.
    pub(crate) async fn settle<B: ConsumerBackend>(
        &self,
        backend: &B,
        cfg: &ConsumerConfig,
        counters: &Counters,
        msg_id: i64,
    ) {
        match self {
            Self::Done => {
                Counters::bump(&counters.processed);
                crate::observe::settled(&cfg.queue, Settled::Processed, 1);
            }
            Self::Single => {
                let acked = tokio::time::timeout(
                    cfg.statement_timeout,
                    backend.ack(&cfg.queue, msg_id, cfg.archive_on_success),
                )
                .await
                .unwrap_or(Err(Error::Timeout {
                    what: "acknowledgement",
                    after: cfg.statement_timeout,
                }));
                match acked {
                    Ok(()) => {
                        Counters::bump(&counters.processed);
                        crate::observe::settled(&cfg.queue, Settled::Processed, 1);
                    }
                    Err(e) => {
                        warn!(error = %e, "could not acknowledge; the message will be delivered again");
                        counters.infrastructure("acknowledgement failed", &e);
                        Counters::bump(&counters.ack_failed);
                    }
                }
            }
            Self::Batched(tx, pending) => {
                pending.fetch_add(1, Ordering::Relaxed);
                if tx.send(msg_id).is_err() {
                    pending.fetch_sub(1, Ordering::Relaxed);
                    // Only when the flusher is gone, which the loop never lets happen
                    // while a message runs; the message comes back after its vt.
                    warn!(
                        "acknowledgement flusher has stopped; the message will be delivered again"
                    );
                    Counters::bump(&counters.ack_failed);
                }
            }
        }
    }
}

/// The flusher of batched acknowledgements; ends (after a last flush) once every sender
/// is dropped.
#[derive(Debug)]
pub(crate) struct Flusher {
    task: JoinHandle<()>,
    /// Ids handed over and not yet counted (processed or ack_failed).
    pending: Arc<AtomicUsize>,
    counters: Arc<Counters>,
}

impl Flusher {
    /// Starts the flusher and returns it with the sending side for [`Ack::Batched`].
    pub(crate) fn start<B: ConsumerBackend>(
        backend: Arc<B>,
        cfg: Arc<ConsumerConfig>,
        counters: Arc<Counters>,
    ) -> (Self, Ack) {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(flush_loop(
            backend,
            cfg,
            Arc::clone(&counters),
            Arc::clone(&pending),
            rx,
        ));
        let ack = Ack::Batched(tx, Arc::clone(&pending));
        (
            Self {
                task,
                pending,
                counters,
            },
            ack,
        )
    }

    /// Waits until everything sent has been flushed; every sender must be dropped first.
    /// Gives up after `limit` (a server that does not answer): what was not sent is
    /// counted in `ack_failed` and comes back after its visibility timeout.
    pub(crate) async fn finish(mut self, limit: Duration) {
        match tokio::time::timeout(limit, &mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "acknowledgement flusher ended abnormally"),
            Err(_) => {
                self.task.abort();
                let _ = (&mut self.task).await;
                let lost = self.pending.swap(0, Ordering::Relaxed);
                warn!(
                    count = lost,
                    "pending acknowledgements not sent at shutdown; those messages will be delivered again"
                );
                Counters::add(&self.counters.ack_failed, lost);
            }
        }
    }
}

async fn flush_loop<B: ConsumerBackend>(
    backend: Arc<B>,
    cfg: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
    pending: Arc<AtomicUsize>,
    mut rx: mpsc::UnboundedReceiver<i64>,
) {
    let max = cfg.ack_batch.max(1);
    let mut ids = Vec::with_capacity(max);
    // `recv_many` returns 0 only once the channel is closed and empty.
    while rx.recv_many(&mut ids, max).await > 0 {
        let until = Instant::now() + cfg.ack_linger;
        while ids.len() < max {
            let room = max - ids.len();
            match tokio::time::timeout_at(until, rx.recv_many(&mut ids, room)).await {
                Ok(0) | Err(_) => break, // closed (shutting down) or linger over
                Ok(_) => {}
            }
        }
        flush(&*backend, &cfg, &counters, &ids).await;
        pending.fetch_sub(ids.len(), Ordering::Relaxed);
        ids.clear();
    }
}

/// One `ack_many` for `ids`. A failure loses no message: they were processed and come
/// back after their visibility timeout.
async fn flush<B: ConsumerBackend>(
    backend: &B,
    cfg: &ConsumerConfig,
    counters: &Counters,
    ids: &[i64],
) {
    let acked = tokio::time::timeout(
        cfg.statement_timeout,
        backend.ack_many(&cfg.queue, ids, cfg.archive_on_success),
    )
    .await
    .unwrap_or(Err(Error::Timeout {
        what: "batched acknowledgement",
        after: cfg.statement_timeout,
    }));
    match acked {
        Ok(acked) => {
            if acked.len() < ids.len() {
                debug!(
                    queue = %cfg.queue,
                    gone = ids.len() - acked.len(),
                    "some acknowledged messages had already left the queue"
                );
            }
            Counters::add(&counters.processed, ids.len());
            crate::observe::settled(&cfg.queue, Settled::Processed, ids.len());
        }
        Err(e) => {
            warn!(
                queue = %cfg.queue,
                count = ids.len(),
                error = %e,
                "could not acknowledge a batch; its messages will be delivered again"
            );
            counters.infrastructure("batched acknowledgement failed", &e);
            Counters::add(&counters.ack_failed, ids.len());
        }
    }
}
