//! [`Consumer::run_until_empty_with_outcomes`]: what became of each message, for tests
//! and batch jobs that must tell which messages failed and why, not only how many.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use serde::de::DeserializeOwned;

use crate::{Error, Message, QueueName};

use super::policy::panic_text;
use super::{
    BoxFuture, CancellationToken, Consumer, ConsumerBackend, ConsumerStats, ProcessError,
    Processor, RetryPolicy,
};

/// What became of one message handed to the handler in
/// [`Consumer::run_until_empty_with_outcomes`].
///
/// ```
/// use pgmq_orm_core::consumer::{Outcome, OutcomeKind};
/// let o = Outcome { msg_id: 1, attempt: 1, kind: OutcomeKind::Processed };
/// assert!(o.kind.is_processed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The message's id.
    pub msg_id: i64,
    /// Which attempt this was (pgmq's `read_ct`, counting this read).
    pub attempt: i32,
    /// How it ended.
    pub kind: OutcomeKind,
}

/// How one handling of a message ended.
///
/// ```
/// use pgmq_orm_core::consumer::OutcomeKind;
/// let failed = OutcomeKind::Retried { error: "boom".into() };
/// assert_eq!(failed.error(), Some("boom"));
/// assert!(!failed.is_processed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// The handler succeeded and the message was acknowledged (deleted or archived; in
    /// transactional mode, in the handler's committed transaction).
    Processed,
    /// The handler failed (or panicked, or its transaction rolled back) with attempts
    /// left: the message is back in the queue after the retry policy's backoff.
    Retried {
        /// The handler's error, as text.
        error: String,
    },
    /// The handler failed on the last attempt the retry policy allows: the message was
    /// moved to the dead-letter queue or the archive, as the consumer's
    /// [`FailureDestination`](super::FailureDestination) says.
    DeadLettered {
        /// The handler's error, as text.
        error: String,
    },
}

impl OutcomeKind {
    /// Whether the handler succeeded.
    ///
    /// ```
    /// assert!(pgmq_orm_core::consumer::OutcomeKind::Processed.is_processed());
    /// ```
    pub fn is_processed(&self) -> bool {
        matches!(self, Self::Processed)
    }

    /// The handler's error, if it failed.
    ///
    /// ```
    /// assert_eq!(pgmq_orm_core::consumer::OutcomeKind::Processed.error(), None);
    /// ```
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Processed => None,
            Self::Retried { error } | Self::DeadLettered { error } => Some(error),
        }
    }
}

/// The result of [`Consumer::run_until_empty_with_outcomes`]: the run's counters and what
/// became of each message handed to the handler, in the order handlers finished.
///
/// A payload that does not decode never reaches the handler: it is moved away at once and
/// only counted ([`ConsumerStats::decode_failed`]). A message whose handler was still
/// running at a shutdown, or whose processing failed for the database's sake
/// ([`ProcessError::Infrastructure`], tried again), has no outcome of its own for that
/// try.
///
/// ```
/// use pgmq_orm_core::consumer::RunOutcomes;
/// let run = RunOutcomes::default();
/// assert!(run.outcomes.is_empty() && run.failed().next().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcomes {
    /// This run's counters (a consumer's own [`Consumer::stats`] do not include them).
    pub stats: ConsumerStats,
    /// One entry per handling, in the order handlers finished.
    pub outcomes: Vec<Outcome>,
}

impl RunOutcomes {
    /// The outcome of message `msg_id` (its last handling in this run), if it was handled.
    ///
    /// ```
    /// use pgmq_orm_core::consumer::{Outcome, OutcomeKind, RunOutcomes};
    /// let run = RunOutcomes {
    ///     outcomes: vec![Outcome { msg_id: 3, attempt: 1, kind: OutcomeKind::Processed }],
    ///     ..RunOutcomes::default()
    /// };
    /// assert!(run.of(3).is_some_and(|o| o.kind.is_processed()));
    /// assert!(run.of(4).is_none());
    /// ```
    pub fn of(&self, msg_id: i64) -> Option<&Outcome> {
        self.outcomes.iter().rev().find(|o| o.msg_id == msg_id)
    }

    /// The handlings that failed.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::RunOutcomes;
    /// assert_eq!(RunOutcomes::default().failed().count(), 0);
    /// ```
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.kind.is_processed())
    }
}

impl<B, T, P> Consumer<B, T, P>
where
    B: ConsumerBackend,
    T: DeserializeOwned + Send + 'static,
    P: Processor<T>,
{
    /// [`run_until_empty`](Self::run_until_empty), recording what became of each
    /// message: processed, put back for a retry, or moved away, with the handler's error
    /// (see [`RunOutcomes`]). The same backend, settings and processor (plain or
    /// transactional) run, with the same failure policy; the counters start from zero
    /// and come back in [`RunOutcomes::stats`].
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::*;
    /// # async fn f<B: ConsumerBackend, P: Processor<u8>>(c: Consumer<B, u8, P>) -> Result<(), pgmq_orm_core::Error> {
    /// let run = c.run_until_empty_with_outcomes(CancellationToken::new()).await?;
    /// for failed in run.failed() {
    ///     println!("message {} failed: {:?}", failed.msg_id, failed.kind.error());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn run_until_empty_with_outcomes(
        &self,
        cancel: CancellationToken,
    ) -> Result<RunOutcomes, Error> {
        let (backend, config, processor) = self.parts();
        let log = Arc::new(Mutex::new(Vec::new()));
        let recording = Recording {
            retry: config.retry.clone(),
            inner: processor,
            log: Arc::clone(&log),
        };
        let run = Consumer::<B, T, _>::from_parts(backend, (*config).clone(), recording);
        let stats = run.run_until_empty(cancel).await?;
        drop(run);
        let outcomes = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(RunOutcomes { stats, outcomes })
    }
}

/// A processor that runs another and records how each message ended. It changes nothing
/// in what the consumer does: errors and panics pass through to the loop as they came.
struct Recording<P> {
    inner: Arc<P>,
    retry: RetryPolicy,
    log: Arc<Mutex<Vec<Outcome>>>,
}

impl<P> Recording<P> {
    fn record(log: &Mutex<Vec<Outcome>>, outcome: Outcome) {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(outcome);
    }
}

impl<T, P> Processor<T> for Recording<P>
where
    T: Send + 'static,
    P: Processor<T>,
{
    fn process(
        &self,
        queue: &QueueName,
        message: Message<T>,
        archive: bool,
    ) -> BoxFuture<'static, Result<(), ProcessError>> {
        let (msg_id, attempt) = (message.msg_id, message.read_ct);
        // The loop decides on the same rule once the handler has failed.
        let last = self.retry.exhausted(attempt);
        let log = Arc::clone(&self.log);
        let failed = move |error: String| Outcome {
            msg_id,
            attempt,
            kind: if last {
                OutcomeKind::DeadLettered { error }
            } else {
                OutcomeKind::Retried { error }
            },
        };
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.inner.process(queue, message, archive)
        }));
        Box::pin(async move {
            let result = match started {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            match &result {
                Ok(Ok(())) => Self::record(
                    &log,
                    Outcome {
                        msg_id,
                        attempt,
                        kind: OutcomeKind::Processed,
                    },
                ),
                Ok(Err(ProcessError::Handler(e))) => Self::record(&log, failed(e.to_string())),
                Ok(Err(ProcessError::Infrastructure(_))) => {}
                Err(panic) => Self::record(&log, failed(panic_text(&**panic))),
            }
            result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn connections_per_handler(&self) -> usize {
        self.inner.connections_per_handler()
    }

    fn acknowledges(&self) -> bool {
        self.inner.acknowledges()
    }
}
