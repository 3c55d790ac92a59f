//! The ORM-agnostic core of [`diesel-pgmq`] and [`sea-orm-pgmq`]: what is the same
//! whichever ORM talks to PGMQ.
//!
//! - [`QueueName`]: a validated queue name: 1 to 47 characters of `[a-z0-9_]` for new
//!   queues ([`QueueName::new`]), or anything pgmq accepts for queues that already exist
//!   ([`QueueName::existing`]).
//! - [`Message`] (and [`RawMessage`], or [`RawJsonMessage`] whose payload is still JSON
//!   text), [`QueueMetrics`], [`QueueInfo`] and the topic and
//!   notification rows: what pgmq's functions return, decoded by column name.
//! - [`VisibilityTimeout`], [`Delay`], [`PollOptions`], [`BatchSize`]: the arguments.
//! - [`Error`] and [`ErrorKind`]: one error type for both ORM crates.
//! - [`outbox`]: the options and SQL pieces of the one-statement transactional outbox.
//! - [`health`]: [`QueueHealth`] (depth, age, dead tuples, sizes) and archive retention.
//! - [`sql`]: pgmq's function names, column names and defaults, and [`PgmqVersion`] with
//!   the minimum version both crates need and the functions that came later
//!   ([`sql::function::SINCE`]).
//!
//! Nothing here talks to a database; the ORM crates do.
//!
//! [`diesel-pgmq`]: https://docs.rs/diesel-pgmq
//! [`sea-orm-pgmq`]: https://docs.rs/sea-orm-pgmq

mod batch;
#[cfg(feature = "consumer")]
pub mod consumer;
#[cfg(feature = "diesel")]
pub mod diesel_arg;
#[cfg(feature = "diesel")]
mod diesel_error;
mod error;
mod finite;
pub mod health;
mod message;
pub mod migrate;
// Public with a feature that gives it something to offer; the send and consumer hooks
// inside are always there (empty without the features).
#[cfg(any(feature = "opentelemetry", feature = "metrics"))]
pub mod observe;
#[cfg(not(any(feature = "opentelemetry", feature = "metrics")))]
mod observe;
pub mod outbox;
mod queue_name;
mod rows;
#[cfg(feature = "sea-orm")]
mod sea_orm_error;
pub mod sql;
mod timing;
mod version;

pub use batch::{Batch, Messages};
pub use error::{BoxError, DecodeError, DecodedPart, Error, ErrorKind};
pub use health::QueueHealth;
pub use message::{
    Message, RawJson, RawJsonMessage, RawMessage, encode_batch, encode_batch_json, encode_headers,
    encode_headers_json, encode_message, encode_message_json,
};
pub use message::{encode_send_batch_json, encode_send_json};
#[doc(hidden)]
pub use queue_name::__table_matches;
pub use queue_name::{IntoQueueName, MAX_QUEUE_NAME_LEN, QueueName, QueueNameError};
pub use rows::{
    NotifyThrottle, QueueInfo, QueueMetrics, RoutingMatch, TopicBinding, TopicMessageId,
};
#[doc(hidden)]
pub use timing::__int_seconds;
pub use timing::{
    BatchSize, DEFAULT_POLL_INTERVAL, DEFAULT_POLL_MAX_WAIT, DEFAULT_VISIBILITY_TIMEOUT, Delay,
    PollOptions, VisibilityTimeout,
};
pub use version::{MIN_PGMQ_VERSION, ParseVersionError, PgmqVersion};

/// What `diesel-pgmq` and `sea-orm-pgmq` re-export at their roots: the types an
/// application names (queue names, messages, options, errors, result rows), and not the
/// plumbing the two crates share (`sql`, `migrate`, the `encode_*` functions), which stays
/// here.
///
/// ```
/// use pgmq_orm_core::api::*;
/// let q = QueueName::new("orders")?;
/// assert_eq!(q.as_str(), "orders");
/// # Ok::<(), QueueNameError>(())
/// ```
pub mod api {
    #[doc(hidden)]
    pub use crate::queue_name::__table_matches;
    #[doc(hidden)]
    pub use crate::timing::__int_seconds;
    pub use crate::{
        Batch, BatchSize, BoxError, DEFAULT_POLL_INTERVAL, DEFAULT_POLL_MAX_WAIT,
        DEFAULT_VISIBILITY_TIMEOUT, DecodeError, DecodedPart, Delay, Error, ErrorKind,
        IntoQueueName, MAX_QUEUE_NAME_LEN, MIN_PGMQ_VERSION, Message, Messages, NotifyThrottle,
        ParseVersionError, PgmqVersion, PollOptions, QueueHealth, QueueInfo, QueueMetrics,
        QueueName, QueueNameError, RawJson, RawJsonMessage, RawMessage, Result, RoutingMatch,
        TopicBinding, TopicMessageId, VisibilityTimeout,
    };
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
