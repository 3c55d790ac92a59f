//! Rows that pgmq's functions return, other than messages.
//!
//! Each ORM crate decodes these by column name (the `columns` constants in
//! [`crate::sql`] list them), never by position.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One queue, as `pgmq.list_queues()` lists it.
///
/// `queue_name` is a plain `String`: a database may hold queues created by other clients
/// under names this crate would refuse (mixed case, for example).
///
/// ```
/// # use pgmq_orm_core::QueueInfo;
/// let q = QueueInfo { queue_name: "orders".into(), is_partitioned: false,
///     is_unlogged: false, created_at: chrono::Utc::now() };
/// assert_eq!(q.queue_name, "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// The queue's name.
    pub queue_name: String,
    /// Whether the queue table is partitioned (pg_partman).
    pub is_partitioned: bool,
    /// Whether the queue table is unlogged.
    pub is_unlogged: bool,
    /// When the queue was created.
    pub created_at: DateTime<Utc>,
}

/// A queue's counters, from `pgmq.metrics(queue)` or `pgmq.metrics_all()`.
///
/// ```
/// # use pgmq_orm_core::QueueMetrics;
/// let m = QueueMetrics { queue_name: "orders".into(), queue_length: 3,
///     newest_msg_age_sec: Some(1), oldest_msg_age_sec: Some(9), total_messages: 10,
///     scrape_time: chrono::Utc::now(), queue_visible_length: 2, default_partition_length: None };
/// assert_eq!(m.queue_length - m.queue_visible_length, 1); // one message in flight
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMetrics {
    /// The queue's name.
    pub queue_name: String,
    /// Messages in the queue, visible or not.
    pub queue_length: i64,
    /// Age of the newest message in seconds; `None` when the queue is empty.
    pub newest_msg_age_sec: Option<i32>,
    /// Age of the oldest message in seconds; `None` when the queue is empty.
    pub oldest_msg_age_sec: Option<i32>,
    /// Messages ever sent to the queue.
    pub total_messages: i64,
    /// When the counters were read.
    pub scrape_time: DateTime<Utc>,
    /// Messages that a read could return now.
    pub queue_visible_length: i64,
    /// For partitioned queues, the partition length (pgmq 1.13+); otherwise `None`.
    pub default_partition_length: Option<i64>,
}

/// A topic binding, from `pgmq.list_topic_bindings()`.
///
/// ```
/// # use pgmq_orm_core::TopicBinding;
/// let b = TopicBinding { pattern: "orders.*".into(), queue_name: "orders".into(),
///     bound_at: chrono::Utc::now(), compiled_regex: "^orders\\.[^.]+$".into() };
/// assert!(b.pattern.ends_with('*'));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicBinding {
    /// The pattern (`*` matches one dot-separated word, `#` any number).
    pub pattern: String,
    /// The queue that receives matching messages.
    pub queue_name: String,
    /// When the binding was made.
    pub bound_at: DateTime<Utc>,
    /// The regular expression pgmq compiled from the pattern.
    pub compiled_regex: String,
}

/// A queue a routing key would reach, from `pgmq.test_routing(routing_key)`.
///
/// ```
/// # use pgmq_orm_core::RoutingMatch;
/// let m = RoutingMatch { pattern: "orders.#".into(), queue_name: "audit".into(),
///     compiled_regex: String::new() };
/// assert_eq!(m.queue_name, "audit");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingMatch {
    /// The matching pattern.
    pub pattern: String,
    /// The queue bound to it.
    pub queue_name: String,
    /// The regular expression pgmq compiled from the pattern.
    pub compiled_regex: String,
}

/// One message sent by `pgmq.send_batch_topic`: which queue got which id.
///
/// ```
/// # use pgmq_orm_core::TopicMessageId;
/// let t = TopicMessageId { queue_name: "orders".into(), msg_id: 1 };
/// assert_eq!(t.msg_id, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopicMessageId {
    /// The queue the message went to.
    pub queue_name: String,
    /// Its id in that queue.
    pub msg_id: i64,
}

/// A queue's insert-notification throttle, from `pgmq.list_notify_insert_throttles()`.
///
/// ```
/// # use pgmq_orm_core::NotifyThrottle;
/// let t = NotifyThrottle { queue_name: "orders".into(), throttle_interval_ms: 250,
///     last_notified_at: chrono::Utc::now() };
/// assert_eq!(t.throttle_interval_ms, 250);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyThrottle {
    /// The queue.
    pub queue_name: String,
    /// At most one notification per this many milliseconds.
    pub throttle_interval_ms: i32,
    /// When the last notification went out.
    pub last_notified_at: DateTime<Utc>,
}
