//! Metrics through the [`metrics`] facade (feature `metrics`).
//!
//! Nothing is recorded until the application installs a recorder (such as
//! `metrics-exporter-prometheus`); every metric carries `messaging.system = "pgmq"` and
//! `messaging.destination.name = <queue>`. Names follow OpenTelemetry's messaging
//! semantic conventions where one fits, and the `pgmq.` prefix where none does:
//!
//! | name | kind | unit | what | labels beyond the two |
//! |---|---|---|---|---|
//! | [`SENT`] `messaging.client.sent.messages` | counter | message | messages `send` / `send_batch` put into a statement (attempts: a failed statement counts too) | `messaging.operation.name` = `send` or `send_batch` |
//! | [`CONSUMED`] `messaging.client.consumed.messages` | counter | message | messages the consumer handed to processing | |
//! | [`PROCESS_DURATION`] `messaging.process.duration` | histogram | s | per message, from decode to acknowledgement or failure handling, handler included (in plain mode with batched acknowledgement, until the message is handed to the batch) | |
//! | [`PROCESSED`] `pgmq.consumer.processed.messages` | counter | message | = `ConsumerStats::processed` | |
//! | [`RETRIED`] `pgmq.consumer.retried.messages` | counter | message | = `ConsumerStats::retried` | |
//! | [`DEAD_LETTERED`] `pgmq.consumer.dead_lettered.messages` | counter | message | = `ConsumerStats::dead_lettered` | |
//! | [`LAG`] `pgmq.consumer.lag` | histogram | s | end-to-end lag: delivery time minus `enqueued_at` | |
//! | [`QUEUE_DEPTH`] `pgmq.queue.depth` | gauge | message | `queue_length` of `pgmq.metrics_all()` | |
//! | [`QUEUE_VISIBLE_DEPTH`] `pgmq.queue.visible_depth` | gauge | message | `queue_visible_length` (readable now) | |
//! | [`OLDEST_AGE`] `pgmq.queue.oldest_message.age` | gauge | s | `oldest_msg_age_sec`, 0 when the queue is empty | |
//!
//! The queue gauges come from `DepthPoller` (features `metrics` and `consumer`, on tokio)
//! or from [`record_queue_metrics`] on a schedule of your own (a thread, for sync Diesel). Prometheus exporters replace the
//! dots with underscores (`messaging_client_sent_messages`, ...).
//!
//! The lag depends on the two clocks agreeing: `enqueued_at` is the database server's
//! time, the delivery time is the consumer's.

#[cfg(any(feature = "consumer", feature = "blocking"))]
use std::time::Duration;

#[cfg(any(feature = "consumer", feature = "blocking"))]
use chrono::{DateTime, Utc};
#[cfg(any(feature = "consumer", feature = "blocking"))]
use metrics::histogram;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};

use crate::{QueueMetrics, QueueName};

/// `messaging.client.sent.messages`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::SENT, "messaging.client.sent.messages");
/// ```
pub const SENT: &str = "messaging.client.sent.messages";
/// `messaging.client.consumed.messages`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::CONSUMED, "messaging.client.consumed.messages");
/// ```
pub const CONSUMED: &str = "messaging.client.consumed.messages";
/// `messaging.process.duration`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::PROCESS_DURATION, "messaging.process.duration");
/// ```
pub const PROCESS_DURATION: &str = "messaging.process.duration";
/// `pgmq.consumer.processed.messages`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::PROCESSED, "pgmq.consumer.processed.messages");
/// ```
pub const PROCESSED: &str = "pgmq.consumer.processed.messages";
/// `pgmq.consumer.retried.messages`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::RETRIED, "pgmq.consumer.retried.messages");
/// ```
pub const RETRIED: &str = "pgmq.consumer.retried.messages";
/// `pgmq.consumer.dead_lettered.messages`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::DEAD_LETTERED, "pgmq.consumer.dead_lettered.messages");
/// ```
pub const DEAD_LETTERED: &str = "pgmq.consumer.dead_lettered.messages";
/// `pgmq.consumer.lag`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::LAG, "pgmq.consumer.lag");
/// ```
pub const LAG: &str = "pgmq.consumer.lag";
/// `pgmq.queue.depth`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::QUEUE_DEPTH, "pgmq.queue.depth");
/// ```
pub const QUEUE_DEPTH: &str = "pgmq.queue.depth";
/// `pgmq.queue.visible_depth`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::QUEUE_VISIBLE_DEPTH, "pgmq.queue.visible_depth");
/// ```
pub const QUEUE_VISIBLE_DEPTH: &str = "pgmq.queue.visible_depth";
/// `pgmq.queue.oldest_message.age`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::OLDEST_AGE, "pgmq.queue.oldest_message.age");
/// ```
pub const OLDEST_AGE: &str = "pgmq.queue.oldest_message.age";

/// The label naming the messaging system; always `pgmq`.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::SYSTEM_LABEL, "messaging.system");
/// ```
pub const SYSTEM_LABEL: &str = "messaging.system";
/// The label naming the queue.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::QUEUE_LABEL, "messaging.destination.name");
/// ```
pub const QUEUE_LABEL: &str = "messaging.destination.name";
/// The label naming the producer operation on [`SENT`].
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::metrics::OPERATION_LABEL, "messaging.operation.name");
/// ```
pub const OPERATION_LABEL: &str = "messaging.operation.name";

/// Gives every metric above its unit and description in the installed recorder; call it
/// once after installing one (exporters print them as `# HELP` / `# TYPE` lines).
///
/// ```
/// pgmq_orm_core::observe::metrics::describe(); // no recorder: does nothing
/// ```
pub fn describe() {
    describe_counter!(
        SENT,
        Unit::Count,
        "Messages put into a pgmq send statement."
    );
    describe_counter!(
        CONSUMED,
        Unit::Count,
        "Messages the consumer handed to processing."
    );
    describe_histogram!(
        PROCESS_DURATION,
        Unit::Seconds,
        "Per-message processing time, handler and acknowledgement included."
    );
    describe_counter!(PROCESSED, Unit::Count, "Messages handled and acknowledged.");
    describe_counter!(
        RETRIED,
        Unit::Count,
        "Failed attempts put back for a retry."
    );
    describe_counter!(
        DEAD_LETTERED,
        Unit::Count,
        "Messages moved to the dead-letter queue or archive."
    );
    describe_histogram!(LAG, Unit::Seconds, "Delivery time minus enqueued_at.");
    describe_gauge!(
        QUEUE_DEPTH,
        Unit::Count,
        "Messages in the queue, visible or not."
    );
    describe_gauge!(
        QUEUE_VISIBLE_DEPTH,
        Unit::Count,
        "Messages a read could return now."
    );
    describe_gauge!(
        OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest message; 0 when empty."
    );
}

/// Counts `n` messages put into a send statement to `queue`.
pub(crate) fn sent(queue: &QueueName, n: usize, operation: &'static str) {
    counter!(SENT, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => queue.as_str().to_owned(), OPERATION_LABEL => operation)
        .increment(n as u64);
}

#[cfg(any(feature = "consumer", feature = "blocking"))]
/// A message handed to processing: counted, and its end-to-end lag recorded.
pub(crate) fn consumed(queue: &QueueName, enqueued_at: DateTime<Utc>) {
    let q = queue.as_str().to_owned();
    counter!(CONSUMED, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => q.clone()).increment(1);
    let lag = (Utc::now() - enqueued_at)
        .to_std()
        .unwrap_or(Duration::ZERO);
    histogram!(LAG, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => q).record(lag.as_secs_f64());
}

#[cfg(any(feature = "consumer", feature = "blocking"))]
/// A message's processing took `took`.
pub(crate) fn processing_took(queue: &QueueName, took: Duration) {
    histogram!(PROCESS_DURATION, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => queue.as_str().to_owned())
        .record(took.as_secs_f64());
}

#[cfg(any(feature = "consumer", feature = "blocking"))]
/// `n` messages reached the end state `name` (one of the consumer counters).
pub(crate) fn settled(queue: &QueueName, name: &'static str, n: usize) {
    counter!(name, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => queue.as_str().to_owned())
        .increment(n as u64);
}

/// Sets the queue gauges from `metrics_all()` (or `metrics(queue)`) rows: what
/// `DepthPoller` does on every tick. Call it yourself to poll on a
/// thread of your own (sync Diesel without tokio).
///
/// ```
/// use pgmq_orm_core::QueueMetrics;
/// let row = QueueMetrics { queue_name: "orders".into(), queue_length: 3,
///     newest_msg_age_sec: Some(1), oldest_msg_age_sec: Some(9), total_messages: 10,
///     scrape_time: chrono::Utc::now(), queue_visible_length: 2, default_partition_length: None };
/// pgmq_orm_core::observe::metrics::record_queue_metrics(&[row]); // no recorder: does nothing
/// ```
pub fn record_queue_metrics(rows: &[QueueMetrics]) {
    for m in rows {
        let q = || m.queue_name.clone();
        gauge!(QUEUE_DEPTH, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => q()).set(m.queue_length as f64);
        gauge!(QUEUE_VISIBLE_DEPTH, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => q())
            .set(m.queue_visible_length as f64);
        gauge!(OLDEST_AGE, SYSTEM_LABEL => "pgmq", QUEUE_LABEL => q())
            .set(f64::from(m.oldest_msg_age_sec.unwrap_or(0)));
    }
}
