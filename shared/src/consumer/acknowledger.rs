//! Plain-mode acknowledgement: each message whose handler succeeded is deleted (or
//! archived) either at once on its own, or collected and sent with others in one
//! [`ConsumerBackend::ack_many`] statement by a flusher task.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::stats::Counters;
use super::{ConsumerBackend, ConsumerConfig};

/// What the loop does with a message whose processor returned `Ok`.
#[derive(Debug, Clone)]
pub(crate) enum Ack {
    /// The processor acknowledged it already (transactional mode).
    Done,
    /// Acknowledge it now, on its own.
    Single,
    /// Hand its id to the flusher.
    Batched(mpsc::UnboundedSender<i64>),
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
            Self::Done => Counters::bump(&counters.processed),
            Self::Single => match backend
                .ack(&cfg.queue, msg_id, cfg.archive_on_success)
                .await
            {
                Ok(()) => Counters::bump(&counters.processed),
                Err(e) => {
                    warn!(error = %e, "could not acknowledge; the message will be delivered again");
                    Counters::bump(&counters.ack_failed);
                }
            },
            Self::Batched(tx) => {
                if tx.send(msg_id).is_err() {
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
}

impl Flusher {
    /// Starts the flusher and returns it with the sending side for [`Ack::Batched`].
    pub(crate) fn start<B: ConsumerBackend>(
        backend: Arc<B>,
        cfg: Arc<ConsumerConfig>,
        counters: Arc<Counters>,
    ) -> (Self, mpsc::UnboundedSender<i64>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(flush_loop(backend, cfg, counters, rx));
        (Self { task }, tx)
    }

    /// Waits until everything sent has been flushed; every sender must be dropped first.
    pub(crate) async fn finish(self) {
        if let Err(e) = self.task.await {
            warn!(error = %e, "acknowledgement flusher ended abnormally");
        }
    }
}

async fn flush_loop<B: ConsumerBackend>(
    backend: Arc<B>,
    cfg: Arc<ConsumerConfig>,
    counters: Arc<Counters>,
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
    match backend
        .ack_many(&cfg.queue, ids, cfg.archive_on_success)
        .await
    {
        Ok(acked) => {
            if acked.len() < ids.len() {
                debug!(
                    queue = %cfg.queue,
                    gone = ids.len() - acked.len(),
                    "some acknowledged messages had already left the queue"
                );
            }
            Counters::add(&counters.processed, ids.len());
        }
        Err(e) => {
            warn!(
                queue = %cfg.queue,
                count = ids.len(),
                error = %e,
                "could not acknowledge a batch; its messages will be delivered again"
            );
            Counters::add(&counters.ack_failed, ids.len());
        }
    }
}
