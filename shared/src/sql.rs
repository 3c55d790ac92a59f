//! Names and defaults of pgmq's SQL API, written once for every ORM crate.
//!
//! Function names are schema-qualified and go into SQL as they are (they are constants,
//! never user input); every value is bound as a parameter.

use std::time::Duration;

/// The schema pgmq lives in.
pub const SCHEMA: &str = "pgmq";

/// Fully qualified names of pgmq's public SQL functions.
///
/// ```
/// assert_eq!(pgmq_orm_core::sql::function::SEND, "pgmq.send");
/// ```
pub mod function {
    macro_rules! pgmq_functions {
        ($($(#[$doc:meta])* $const:ident = $name:literal;)*) => {
            $( $(#[$doc])* pub const $const: &str = concat!("pgmq.", $name); )*
        };
    }

    pgmq_functions! {
        /// `pgmq.create(queue_name)`
        CREATE = "create";
        /// `pgmq.create_unlogged(queue_name)`
        CREATE_UNLOGGED = "create_unlogged";
        /// `pgmq.create_partitioned(queue_name, partition_interval, retention_interval, premake)`
        CREATE_PARTITIONED = "create_partitioned";
        /// `pgmq.drop_queue(queue_name)`
        DROP_QUEUE = "drop_queue";
        /// `pgmq.purge_queue(queue_name)`
        PURGE_QUEUE = "purge_queue";
        /// `pgmq.detach_archive(queue_name)` (a no-op since pgmq 1.x; kept for completeness)
        DETACH_ARCHIVE = "detach_archive";
        /// `pgmq.list_queues()`
        LIST_QUEUES = "list_queues";
        /// `pgmq.metrics(queue_name)`
        METRICS = "metrics";
        /// `pgmq.metrics_all()`
        METRICS_ALL = "metrics_all";
        /// `pgmq.send(queue_name, msg [, headers] [, delay])`
        SEND = "send";
        /// `pgmq.send_batch(queue_name, msgs [, headers] [, delay])`
        SEND_BATCH = "send_batch";
        /// `pgmq.read(queue_name, vt, qty [, conditional])`
        READ = "read";
        /// `pgmq.read_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms [, conditional])`
        READ_WITH_POLL = "read_with_poll";
        /// `pgmq.pop(queue_name, qty)`
        POP = "pop";
        /// `pgmq.set_vt(queue_name, msg_id(s), vt)`
        SET_VT = "set_vt";
        /// `pgmq.delete(queue_name, msg_id(s))`
        DELETE = "delete";
        /// `pgmq.archive(queue_name, msg_id(s))`
        ARCHIVE = "archive";
        /// `pgmq.read_grouped(queue_name, vt, qty)`
        READ_GROUPED = "read_grouped";
        /// `pgmq.read_grouped_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms)`
        READ_GROUPED_WITH_POLL = "read_grouped_with_poll";
        /// `pgmq.read_grouped_rr(queue_name, vt, qty)`
        READ_GROUPED_RR = "read_grouped_rr";
        /// `pgmq.read_grouped_rr_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms)`
        READ_GROUPED_RR_WITH_POLL = "read_grouped_rr_with_poll";
        /// `pgmq.read_grouped_head(queue_name, vt, qty)`
        READ_GROUPED_HEAD = "read_grouped_head";
        /// `pgmq.read_grouped_head_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms)`
        READ_GROUPED_HEAD_WITH_POLL = "read_grouped_head_with_poll";
        /// `pgmq.create_fifo_index(queue_name)`
        CREATE_FIFO_INDEX = "create_fifo_index";
        /// `pgmq.create_fifo_indexes_all()`
        CREATE_FIFO_INDEXES_ALL = "create_fifo_indexes_all";
        /// `pgmq.convert_archive_partitioned(queue_name, partition_interval, retention_interval, leading_partition)`
        CONVERT_ARCHIVE_PARTITIONED = "convert_archive_partitioned";
        /// `pgmq.enable_notify_insert(queue_name, throttle_interval_ms)`
        ENABLE_NOTIFY_INSERT = "enable_notify_insert";
        /// `pgmq.disable_notify_insert(queue_name)`
        DISABLE_NOTIFY_INSERT = "disable_notify_insert";
        /// `pgmq.update_notify_insert(queue_name, throttle_interval_ms)`
        UPDATE_NOTIFY_INSERT = "update_notify_insert";
        /// `pgmq.list_notify_insert_throttles()`
        LIST_NOTIFY_INSERT_THROTTLES = "list_notify_insert_throttles";
        /// `pgmq.bind_topic(pattern, queue_name)`
        BIND_TOPIC = "bind_topic";
        /// `pgmq.unbind_topic(pattern, queue_name)`
        UNBIND_TOPIC = "unbind_topic";
        /// `pgmq.send_topic(routing_key, msg [, headers], delay)`
        SEND_TOPIC = "send_topic";
        /// `pgmq.send_batch_topic(routing_key, msgs [, headers] [, delay])`
        SEND_BATCH_TOPIC = "send_batch_topic";
        /// `pgmq.list_topic_bindings([queue_name])`
        LIST_TOPIC_BINDINGS = "list_topic_bindings";
        /// `pgmq.test_routing(routing_key)`
        TEST_ROUTING = "test_routing";
    }

    /// The functions (or overloads) that came after [`crate::MIN_PGMQ_VERSION`], as the
    /// start of the signature the server names in `function ... does not exist`, with the
    /// version that added them. Everything else both crates call is in every supported
    /// version. See [`crate::Error::for_installed_version`].
    ///
    /// ```
    /// use pgmq_orm_core::{sql::function::SINCE, PgmqVersion};
    /// assert!(SINCE.contains(&("pgmq.read_grouped_head_with_poll(", PgmqVersion::new(1, 12, 0))));
    /// ```
    pub const SINCE: [(&str, crate::PgmqVersion); 2] = [
        (
            "pgmq.read_grouped_head_with_poll(",
            crate::PgmqVersion::new(1, 12, 0),
        ),
        // The `premake` argument.
        (
            "pgmq.create_partitioned(text, text, text, integer)",
            crate::PgmqVersion::new(1, 13, 0),
        ),
    ];
}

/// Column names of the rows pgmq returns, in the order the core types declare them.
/// Select them by name (`SELECT <columns> FROM pgmq.read(...)`) so that pgmq's own column
/// order never matters.
///
/// ```
/// assert!(pgmq_orm_core::sql::columns::MESSAGE.contains(&"last_read_at"));
/// ```
pub mod columns {
    /// [`crate::Message`]: `pgmq.message_record`.
    pub const MESSAGE: [&str; 7] = [
        "msg_id",
        "read_ct",
        "enqueued_at",
        "last_read_at",
        "vt",
        "message",
        "headers",
    ];
    /// [`crate::QueueInfo`]: `pgmq.queue_record`.
    pub const QUEUE_INFO: [&str; 4] = ["queue_name", "is_partitioned", "is_unlogged", "created_at"];
    /// [`crate::QueueMetrics`]: `pgmq.metrics_result`.
    pub const METRICS: [&str; 8] = [
        "queue_name",
        "queue_length",
        "newest_msg_age_sec",
        "oldest_msg_age_sec",
        "total_messages",
        "scrape_time",
        "queue_visible_length",
        "default_partition_length",
    ];
    /// [`crate::TopicBinding`]: `pgmq.list_topic_bindings()`.
    pub const TOPIC_BINDING: [&str; 4] = ["pattern", "queue_name", "bound_at", "compiled_regex"];
    /// [`crate::RoutingMatch`]: `pgmq.test_routing()`.
    pub const ROUTING_MATCH: [&str; 3] = ["pattern", "queue_name", "compiled_regex"];
    /// [`crate::TopicMessageId`]: `pgmq.send_batch_topic()`.
    pub const TOPIC_MESSAGE_ID: [&str; 2] = ["queue_name", "msg_id"];
    /// [`crate::NotifyThrottle`]: `pgmq.list_notify_insert_throttles()`.
    pub const NOTIFY_THROTTLE: [&str; 3] =
        ["queue_name", "throttle_interval_ms", "last_notified_at"];

    /// Result columns that some pgmq version both crates support lacks: the column, its
    /// SQL type, and the version that added it. [`super::select_list`] selects them so
    /// that they read as NULL where the installed pgmq lacks them (the core types hold
    /// them as `Option`).
    ///
    /// ```
    /// use pgmq_orm_core::{sql::columns::LATE, PgmqVersion};
    /// assert_eq!(LATE[0], ("default_partition_length", "bigint", PgmqVersion::new(1, 13, 0)));
    /// ```
    pub const LATE: [(&str, &str, crate::PgmqVersion); 1] = [(
        "default_partition_length",
        "bigint",
        crate::PgmqVersion::new(1, 13, 0),
    )];
}

/// The alias both crates give a function's rows (`... FROM pgmq.metrics($1) AS m`), which
/// [`select_list`] and [`late_column`] refer to.
pub const ROW_ALIAS: &str = "m";

/// The select-list expression for `column` when it is one of [`columns::LATE`]: the
/// column looked up by name in the row [`ROW_ALIAS`] as JSON, so that it is NULL where the
/// installed pgmq lacks it instead of failing the statement (`column ... does not exist`).
/// `None` for every other column, which is selected as it is.
///
/// ```
/// use pgmq_orm_core::sql::late_column;
/// assert_eq!(
///     late_column("default_partition_length").as_deref(),
///     Some("(to_jsonb(m) ->> 'default_partition_length')::bigint"),
/// );
/// assert_eq!(late_column("queue_length"), None);
/// ```
pub fn late_column(column: &str) -> Option<String> {
    columns::LATE
        .iter()
        .find(|(name, ..)| *name == column)
        .map(|(name, ty, _)| format!("(to_jsonb({ROW_ALIAS}) ->> '{name}')::{ty}"))
}

/// The select list of `cols`, by name, from a function's rows aliased [`ROW_ALIAS`]:
/// late columns (see [`late_column`]) read as NULL where the installed pgmq lacks them,
/// so one statement works on every supported version.
///
/// ```
/// use pgmq_orm_core::sql::{columns, select_list};
/// let list = select_list(&columns::METRICS);
/// assert!(list.starts_with("queue_name, queue_length, "));
/// assert!(list.ends_with(" AS default_partition_length"));
/// ```
pub fn select_list(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| match late_column(c) {
            Some(expr) => format!("{expr} AS {c}"),
            None => (*c).to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The header pgmq's FIFO reads group messages by.
pub const FIFO_GROUP_HEADER: &str = "x-pgmq-group";

/// pgmq's default throttle for insert notifications, 250 ms.
pub const DEFAULT_NOTIFY_THROTTLE: Duration = Duration::from_millis(250);

/// pgmq's defaults for `create_partitioned`: partitions of 10,000 message ids, keeping
/// 100,000, four partitions made ahead.
pub const DEFAULT_PARTITION_INTERVAL: &str = "10000";
/// See [`DEFAULT_PARTITION_INTERVAL`].
pub const DEFAULT_RETENTION_INTERVAL: &str = "100000";
/// See [`DEFAULT_PARTITION_INTERVAL`].
pub const DEFAULT_PREMAKE: i32 = 4;

/// The SQL that finds the installed pgmq version when pgmq is an extension; no row when
/// it is not.
pub const EXTENSION_VERSION: &str = "SELECT extversion FROM pg_extension WHERE extname = 'pgmq'";
/// The SQL that tells whether pgmq was installed from SQL scripts (the upstream installer
/// records them in `pgmq.__pgmq_migrations`): one boolean.
pub const HAS_SQL_INSTALL: &str = "SELECT to_regclass('pgmq.__pgmq_migrations') IS NOT NULL";
/// The SQL that tells whether a queue's table exists, without needing any privilege on
/// pgmq's functions or catalog: bind the quoted `pgmq."<table>"` ([`crate::QueueName::quoted_table_name`]) as
/// its one text parameter; one boolean, `present`. The consumer checks its queues with it
/// before its first read.
pub const QUEUE_TABLE_EXISTS: &str = "SELECT to_regclass($1) IS NOT NULL AS present";
/// The SQL that lists the versions the upstream SQL installer applied; the highest, by
/// [`crate::PgmqVersion`]'s order, is the installed one.
pub const SQL_INSTALL_VERSIONS: &str = "SELECT version FROM pgmq.__pgmq_migrations";
