//! Queue health for operators: depth, age, bloat and size of a queue's table in one
//! call, and archive retention in bounded batches. The SQL lives here; the ORM crates run
//! it (`queue_health`, `delete_archived_before`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::QueueName;

/// One queue's health: what a dashboard or an alert wants, read in one statement.
///
/// Depth and age come from `pgmq.metrics`; dead tuples, sizes and the last vacuum from
/// the server's statistics of the queue table (summed over its partitions for a
/// partitioned queue). Dead tuples are what an idle-in-transaction session or a long
/// `REPEATABLE READ` reader keeps vacuum from reclaiming: a number that keeps growing
/// while `depth` does not is the sign of bloat.
///
/// ```
/// # use pgmq_orm_core::QueueHealth;
/// let h = QueueHealth { queue_name: "jobs".into(), depth: 3, visible_depth: 1,
///     oldest_age_sec: Some(60), dead_tuples: 1_000, live_tuples: 3, table_bytes: 8192,
///     index_bytes: 16384, default_partition_length: None, last_vacuum: None };
/// assert_eq!(h.in_flight(), 2);
/// assert!(h.dead_tuple_ratio() > 0.99);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueHealth {
    /// The queue's name.
    pub queue_name: String,
    /// Messages in the queue, visible or not.
    pub depth: i64,
    /// Messages a read could return now.
    pub visible_depth: i64,
    /// Age of the oldest message in seconds; `None` when the queue is empty.
    pub oldest_age_sec: Option<i64>,
    /// Dead row versions in the queue table (and its partitions) not yet vacuumed.
    pub dead_tuples: i64,
    /// Live row versions, as the statistics count them.
    pub live_tuples: i64,
    /// Size of the queue table (with TOAST), in bytes.
    pub table_bytes: i64,
    /// Size of its indexes, in bytes.
    pub index_bytes: i64,
    /// For a partitioned queue, the rows in pg_partman's default partition: messages that
    /// overflowed the pre-made partitions (alarm when not 0). `None` for other queues.
    pub default_partition_length: Option<i64>,
    /// The last (auto)vacuum of the queue table, if any.
    pub last_vacuum: Option<DateTime<Utc>>,
}

impl QueueHealth {
    /// Reads the JSON that [`health_sql::QUEUE_HEALTH`] returns.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueHealth;
    /// let h = QueueHealth::from_json(r#"{"queue_name": "q", "depth": 1, "visible_depth": 1,
    ///     "oldest_age_sec": 3, "dead_tuples": 0, "live_tuples": 1, "table_bytes": 8192,
    ///     "index_bytes": 16384, "default_partition_length": null,
    ///     "last_vacuum": "2026-12-02T18:00:00.5+00:00"}"#)?;
    /// assert_eq!((h.depth, h.last_vacuum.is_some()), (1, true));
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, crate::Error> {
        serde_json::from_str(json).map_err(|e| {
            crate::Error::InvalidArgument(format!("queue_health returned unexpected JSON: {e}"))
        })
    }

    /// Messages read and not yet visible again: `depth - visible_depth`.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueHealth;
    /// # let h = QueueHealth { queue_name: "q".into(), depth: 5, visible_depth: 5, oldest_age_sec: None,
    /// #     dead_tuples: 0, live_tuples: 5, table_bytes: 0, index_bytes: 0, default_partition_length: None, last_vacuum: None };
    /// assert_eq!(h.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> i64 {
        self.depth - self.visible_depth
    }

    /// Dead tuples as a share of all tuples (0 when the table has none).
    ///
    /// ```
    /// # use pgmq_orm_core::QueueHealth;
    /// # let h = QueueHealth { queue_name: "q".into(), depth: 0, visible_depth: 0, oldest_age_sec: None,
    /// #     dead_tuples: 0, live_tuples: 0, table_bytes: 0, index_bytes: 0, default_partition_length: None, last_vacuum: None };
    /// assert_eq!(h.dead_tuple_ratio(), 0.0);
    /// ```
    pub fn dead_tuple_ratio(&self) -> f64 {
        let all = self.dead_tuples + self.live_tuples;
        if all == 0 {
            0.0
        } else {
            self.dead_tuples as f64 / all as f64
        }
    }
}

/// `pgmq."<table>"`, quoted as pgmq names its tables.
fn qualified(table: &str) -> String {
    format!("pgmq.{}", crate::queue_name::quote_identifier(table))
}

/// The statement behind `queue_health`: one row, one `text` column `health`, the
/// [`QueueHealth`] as JSON (read it with [`QueueHealth::from_json`], so neither ORM needs
/// a row type of its own). Binds: `$1` the queue name (`text`), `$2` its table and `$3` its default partition,
/// each as a qualified name (`text`, resolved with `to_regclass`), from [`health_binds`].
///
/// ```
/// # use pgmq_orm_core::health::health_sql;
/// assert!(health_sql::QUEUE_HEALTH.contains("FROM pgmq.metrics($1::text)"));
/// ```
pub mod health_sql {
    /// See the [module](self).
    pub const QUEUE_HEALTH: &str = "SELECT to_jsonb(h)::text AS health FROM (\
         SELECT m.queue_name::text AS queue_name, \
         m.queue_length::bigint AS depth, \
         m.queue_visible_length::bigint AS visible_depth, \
         m.oldest_msg_age_sec::bigint AS oldest_age_sec, \
         st.dead_tuples, st.live_tuples, st.table_bytes, st.index_bytes, st.last_vacuum, \
         CASE WHEN to_regclass($3::text) IS NULL THEN NULL::bigint ELSE \
         (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s', \
         to_regclass($3::text)), false, true, '')))[1]::text::bigint END AS default_partition_length \
         FROM pgmq.metrics($1::text) m, LATERAL ( \
         WITH rel AS (SELECT to_regclass($2::text) AS oid \
         UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass($2::text)) \
         SELECT COALESCE(sum(s.n_dead_tup), 0)::bigint AS dead_tuples, \
         COALESCE(sum(s.n_live_tup), 0)::bigint AS live_tuples, \
         COALESCE(sum(pg_table_size(rel.oid)), 0)::bigint AS table_bytes, \
         COALESCE(sum(pg_indexes_size(rel.oid)), 0)::bigint AS index_bytes, \
         max(GREATEST(s.last_vacuum, s.last_autovacuum)) AS last_vacuum \
         FROM rel LEFT JOIN pg_stat_all_tables s ON s.relid = rel.oid) st) h";
}

/// The three bound values of [`health_sql::QUEUE_HEALTH`] for `queue`: its name, its
/// table and its default partition as qualified names.
///
/// ```
/// # use pgmq_orm_core::{health::health_binds, QueueName};
/// let [name, table, default] = health_binds(&QueueName::from_static("jobs"));
/// assert_eq!((name.as_str(), table.as_str(), default.as_str()), ("jobs", r#"pgmq."q_jobs""#, r#"pgmq."q_jobs_default""#));
/// ```
pub fn health_binds(queue: &QueueName) -> [String; 3] {
    [
        queue.as_str().to_owned(),
        queue.quoted_table_name(),
        qualified(&format!("{}_default", queue.table_name())),
    ]
}

/// One batch of archive retention for `queue`: deletes up to `$2` (`bigint`) archived
/// messages archived more than `$1` seconds (`double precision`) ago, oldest ids first,
/// skipping rows another session holds; its row count is how many it deleted. Run it until
/// a batch deletes fewer than `$2` rows, each batch in its own transaction, so no
/// statement holds many row locks or runs long.
///
/// For large archives a partitioned archive (`pgmq.convert_archive_partitioned`, with
/// pg_partman's retention) drops whole partitions instead, which leaves no dead tuples.
///
/// ```
/// # use pgmq_orm_core::{health::archive_retention_sql, QueueName};
/// let sql = archive_retention_sql(&QueueName::from_static("jobs"));
/// assert!(sql.contains(r#"DELETE FROM pgmq."a_jobs""#));
/// ```
pub fn archive_retention_sql(queue: &QueueName) -> String {
    let table = qualified(&queue.archive_table_name());
    format!(
        "WITH doomed AS (SELECT msg_id FROM {table} \
         WHERE archived_at < now() - make_interval(secs => $1::double precision) \
         ORDER BY msg_id LIMIT $2::bigint FOR UPDATE SKIP LOCKED) \
         DELETE FROM {table} a USING doomed WHERE a.msg_id = doomed.msg_id"
    )
}
