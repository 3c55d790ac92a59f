//! Consumer runtimes for pgmq queues, written once for both ORM crates: the policy
//! (feature `consumer-core`: settings, retry schedule, dead-letter records, counters),
//! a tokio driver ([`Consumer`], feature `consumer`) and a std-thread driver
//! ([`blocking::BlockingConsumer`], feature `blocking`, no tokio) that follow it alike.
//!
//! The loop ([`Consumer`]) reads in batches no larger than its free handler slots (or, with
//! [`ConsumerConfig::read_ahead()`], reads one batch ahead while the last one runs), runs
//! each message in its own task (so a panic is caught and treated as a failure), extends
//! the visibility timeout while a handler runs (heartbeat), and on failure either puts the
//! message back after an exponential, jittered backoff or, once `read_ct` reaches
//! [`RetryPolicy::max_attempts`], moves it to a dead-letter queue or the archive. A payload
//! that does not decode into `T` is moved there at once. The ORM crates supply a
//! [`ConsumerBackend`] for their pools, a [`NotificationSource`] for insert wake-ups
//! (driven, with reconnects, by [`Wakeups`]) and, for transactional acknowledgement, a
//! [`Processor`].
//!
//! The dead-letter toolkits of the ORM crates share [`DeadLetter`], [`dead_letter_sql`]
//! (looking at a dead-letter queue without consuming it, and the in-server moves that keep
//! payloads and headers exact) and [`DeadLetters::plan`] (moving messages back).
//!
//! # Delivery semantics
//!
//! - **At-least-once** in every mode: a message is only deleted after its handler
//!   succeeded, so a crash, a lost connection or an expired visibility timeout re-delivers
//!   it. Handlers with effects outside the database must be idempotent.
//! - **Exactly-once effects** for handlers whose effects are all in the same database and
//!   which use the transactional processor: the handler's writes and the delete (or
//!   archive) of the message commit in one transaction, so either both happen or neither
//!   does and the message is retried. The handler may still *run* more than once.
//! - In plain mode ([`AckAfter`]) the acknowledgement is a separate statement after the
//!   handler; a crash between the two runs the handler again. To save round trips the
//!   loop batches these statements: ids of succeeded messages are collected and deleted
//!   (or archived) together, up to [`ConsumerConfig::ack_batch`] per statement and at most
//!   [`ConsumerConfig::ack_linger`] after the first (100 and 5 ms by default; see
//!   [`ConsumerConfig::with_ack_batching`]). Until then the message stays invisible; a
//!   failed batch is logged and counted ([`ConsumerStats::ack_failed`]) and its messages
//!   come back after their visibility timeout.
//!
//! # Failing fast, failing visibly
//!
//! Before its first read, [`Consumer::run`] checks what cannot work and returns a typed
//! error: settings ([`ConsumerConfig::validate`]: a zero visibility timeout, a heartbeat
//! not shorter than it), a pool too small for the processor
//! ([`ConsumerBackend::pool_capacity`]: a transactional handler holds a connection, and
//! reads need one more), pgmq missing or too old, and the queue or the dead-letter queue
//! missing ([`crate::Error::QueueMissing`] naming it).
//!
//! While running, database trouble is never the handler's failure: a failed read, a pool
//! timeout or a `BEGIN`/`COMMIT` that fails around a transactional handler
//! ([`ProcessError::Infrastructure`]), a failed dead-letter move or acknowledgement is
//! retried after a pause and counted in [`ConsumerStats::infrastructure_errors`], without
//! costing the message an attempt. [`ConsumerStats::health`] turns
//! [`Health::Degraded`] after [`ConsumerConfig::degraded_after`] failed reads in a row
//! (logged at error level), [`ConsumerStats::last_error`] keeps the latest error and its
//! time, and [`ConsumerConfig::give_up_after`] makes `run` return the error instead of
//! retrying forever.
//!
//! Every message read ends in exactly one of processed, retried, dead-lettered (decode
//! failures included, also counted apart), released, ack-failed or abandoned:
//! [`ConsumerStats::settled`] equals [`ConsumerStats::read`] once `run` has returned.
//!
//! # Shutdown
//!
//! When the [`CancellationToken`] passed to
//! [`Consumer::run`] fires, no new messages are read (a read in flight is abandoned; what
//! it took comes back after its visibility timeout), running handlers get
//! [`ConsumerConfig::shutdown_deadline`] to finish, and the messages of those still running
//! are released (visibility timeout set to now) so another consumer takes them at once.
//! Pending batched acknowledgements are sent before `run` returns.
//!
//! Every statement the loop sends is bounded by [`ConsumerConfig::statement_timeout`], so
//! `run` returns within `shutdown_deadline + 2 × statement_timeout` after cancellation
//! whatever the server does (a lock wait, a frozen server, a dead network); what could not
//! be released in that time is left to its visibility timeout
//! ([`ConsumerStats::abandoned`]). [`Consumer::run_until_empty`] processes what the queue
//! holds and stops by itself.
//!
//! ```
//! use pgmq_orm_core::consumer::{ConsumerConfig, RetryPolicy, FailureDestination};
//! use pgmq_orm_core::QueueName;
//! let config = ConsumerConfig::new(QueueName::new("orders").unwrap())
//!     .with_retry(RetryPolicy { max_attempts: 3, ..RetryPolicy::default() })
//!     .with_failure_destination(FailureDestination::DeadLetter(QueueName::new("orders_dlq").unwrap()));
//! assert_eq!(config.retry.max_attempts, 3);
//! assert_eq!(config.ack_batch, 100, "plain-mode acknowledgements are batched by default");
//! ```

#[cfg(feature = "consumer")]
mod acknowledger;
#[cfg(feature = "consumer")]
mod backend;
#[cfg(feature = "blocking")]
pub mod blocking;
mod config;
mod dead_letter;
mod dead_letter_requeue;
#[cfg(feature = "consumer")]
mod handler;
#[cfg(feature = "consumer")]
mod handler_fn;
#[cfg(feature = "consumer")]
mod outcomes;
mod policy;
#[cfg(feature = "consumer")]
mod processor;
mod retry;
#[cfg(feature = "consumer")]
mod runner;
mod stats;
#[cfg(feature = "consumer")]
mod wakeup;

#[cfg(feature = "consumer")]
pub use backend::{BoxFuture, ConsumerBackend};
pub use config::ConsumerConfig;
pub use dead_letter::{
    DEAD_LETTER_HEADER, DeadLetter, DeadLetterInfo, dead_letter_headers, decode_dead_letters,
    failure_record, sanitize_error,
};
pub use dead_letter_requeue::{DeadLetters, RequeueRun, Requeued, dead_letter_sql, requeued};
#[cfg(feature = "consumer")]
pub use handler::Handler;
#[cfg(feature = "consumer")]
pub use handler_fn::{TxFn, TxStateFn, WithState, with_state};
#[cfg(feature = "consumer")]
pub use outcomes::{Outcome, OutcomeKind, RunOutcomes};
pub use policy::{AckAfter, ProcessError, acknowledged, listen_sql};
#[cfg(feature = "consumer")]
pub use processor::Processor;
pub use retry::{FailureDestination, RetryPolicy};
#[cfg(feature = "consumer")]
pub use runner::{Consumer, cancel_on_ctrl_c};
pub use stats::{ConsumerStats, Health, LastError};
#[cfg(feature = "consumer")]
pub use tokio_util::sync::CancellationToken;
#[cfg(feature = "consumer")]
pub use wakeup::{NotificationSource, Wakeups, wait_or_sleep};
