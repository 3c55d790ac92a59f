//! [`PgmqConnectionExt`]: pgmq's operations as async methods on every SeaORM connection.

use crate::error::into_pgmq_error;
use crate::query::{
    self, BoolRow, CountRow, MessageRow, MetricsRow, MsgIdRow, QueueInfoRow, TopicCountRow,
};
use pgmq_orm_core::{
    BatchSize, Delay, Error, IntoQueueName, Message, PollOptions, QueueInfo, QueueMetrics,
    QueueName, VisibilityTimeout, encode_headers, encode_message, sql,
};
use sea_orm::sea_query::SelectStatement;
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::future::Future;
use std::time::Duration;

pub(crate) async fn fetch_all<R: FromQueryResult, C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Vec<R>, Error> {
    let rows = conn.query_all(&stmt).await.map_err(into_pgmq_error)?;
    rows.iter()
        .map(|r| R::from_query_result(r, "").map_err(into_pgmq_error))
        .collect()
}

pub(crate) async fn fetch_one<R: FromQueryResult, C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Option<R>, Error> {
    let row = conn.query_one(&stmt).await.map_err(into_pgmq_error)?;
    row.map(|r| R::from_query_result(&r, "").map_err(into_pgmq_error))
        .transpose()
}

pub(crate) async fn exec<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<(), Error> {
    conn.execute(&stmt).await.map_err(into_pgmq_error)?;
    Ok(())
}

pub(crate) async fn messages<
    T: DeserializeOwned,
    H: DeserializeOwned,
    C: ConnectionTrait + ?Sized,
>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Vec<Message<T, H>>, Error> {
    fetch_all::<MessageRow, _>(conn, stmt)
        .await?
        .into_iter()
        .map(MessageRow::decode)
        .collect()
}

pub(crate) async fn one_id<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<i64, Error> {
    match fetch_one::<MsgIdRow, _>(conn, stmt).await? {
        Some(r) => Ok(r.msg_id),
        None => Err(Error::InvalidArgument(
            "pgmq.send returned no msg_id".to_owned(),
        )),
    }
}

pub(crate) async fn ids<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<Vec<i64>, Error> {
    Ok(fetch_all::<MsgIdRow, _>(conn, stmt)
        .await?
        .into_iter()
        .map(|r| r.msg_id)
        .collect())
}

pub(crate) async fn flag<C: ConnectionTrait + ?Sized>(
    conn: &C,
    stmt: SelectStatement,
) -> Result<bool, Error> {
    Ok(fetch_one::<BoolRow, _>(conn, stmt)
        .await?
        .is_some_and(|r| r.ok))
}

pub(crate) fn encode_all<T: Serialize>(msgs: &[T]) -> Result<Vec<Json>, Error> {
    msgs.iter().map(encode_message).collect()
}

pub(crate) fn encode_opt_headers<H: Serialize + ?Sized>(
    headers: Option<&H>,
) -> Result<Option<Json>, Error> {
    headers.map(encode_headers).transpose()
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn named(q: impl IntoQueueName) -> Result<QueueName, Error> {
    Ok(q.into_queue_name()?)
}

/// pgmq's operations on any SeaORM connection: a `DatabaseConnection`, a
/// `DatabaseTransaction` (so a message commits or rolls back with your other writes), or
/// anything else implementing [`ConnectionTrait`].
///
/// Queue arguments take any [`IntoQueueName`]; an invalid name fails with
/// [`Error::InvalidQueueName`] before any SQL runs. Database errors are classified by
/// [`crate::into_pgmq_error`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = pgmq_harness::TestDb::new();
/// # let conn = sea_orm::Database::connect(db.url()).await?;
/// use sea_orm::TransactionTrait;
/// use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, VisibilityTimeout};
///
/// conn.create_queue("orders").await?;
/// let txn = conn.begin().await?;
/// let id = txn.send("orders", &serde_json::json!({"order_id": 7})).await?;
/// txn.commit().await?;
///
/// let msgs = conn
///     .read::<serde_json::Value>("orders", VisibilityTimeout::Seconds(30), BatchSize::ONE)
///     .await?;
/// assert_eq!(msgs[0].msg_id, id);
/// assert!(conn.delete("orders", id).await?);
/// # Ok(())
/// # }
/// ```
pub trait PgmqConnectionExt: ConnectionTrait {
    /// `pgmq.create`: creates the queue (idempotent).
    fn create_queue(&self, q: impl IntoQueueName)
    -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.create_unlogged`: creates an unlogged queue.
    fn create_unlogged_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.create_partitioned` (needs pg_partman), with pgmq's default `premake`.
    fn create_partitioned_queue(
        &self,
        q: impl IntoQueueName,
        partition_interval: &str,
        retention_interval: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.drop_queue`: `true` if the queue existed.
    fn drop_queue(&self, q: impl IntoQueueName)
    -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.purge_queue`: deletes all messages, returns how many.
    fn purge_queue(&self, q: impl IntoQueueName)
    -> impl Future<Output = Result<i64, Error>> + Send;

    /// `pgmq.list_queues`.
    fn list_queues(&self) -> impl Future<Output = Result<Vec<QueueInfo>, Error>> + Send;

    /// `pgmq.metrics` for one queue.
    fn metrics(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<QueueMetrics, Error>> + Send;

    /// `pgmq.metrics_all`.
    fn metrics_all(&self) -> impl Future<Output = Result<Vec<QueueMetrics>, Error>> + Send;

    /// `pgmq.send`: serializes `msg` to JSON and returns its msg_id.
    fn send<T: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// `pgmq.send` with optional headers and a delay (seconds or a timestamp).
    fn send_with<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// `pgmq.send_batch`: one msg_id per message, in order. An empty slice sends nothing.
    fn send_batch<T: Serialize>(
        &self,
        q: impl IntoQueueName,
        msgs: &[T],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.read`: up to `qty` messages, invisible to others for `vt`.
    ///
    /// If a payload does not decode into `T`, the call fails with [`Error::Decode`]
    /// (msg_id and raw JSON included); the messages read stay in the queue and become
    /// visible again when `vt` ends. Read as [`serde_json::Value`] to inspect them.
    fn read<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Vec<Message<T>>, Error>> + Send;

    /// `pgmq.read_with_poll`: waits up to `poll`'s max wait for messages; empty on timeout.
    fn read_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Vec<Message<T>>, Error>> + Send;

    /// `pgmq.pop`: reads and deletes up to `qty` messages.
    fn pop<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Vec<Message<T>>, Error>> + Send;

    /// `pgmq.set_vt`: the updated message, or `None` if no such message.
    fn set_vt<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Option<Message<T>>, Error>> + Send;

    /// `pgmq.delete`: `true` if the message existed.
    fn delete(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.delete` for many ids: the ids actually deleted.
    fn delete_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.archive`: `true` if the message existed and moved to the archive.
    fn archive(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// `pgmq.archive` for many ids: the ids actually archived.
    fn archive_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send;

    /// `pgmq.enable_notify_insert`: `NOTIFY` on insert, at most once per `throttle`.
    fn enable_notify_insert(
        &self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.disable_notify_insert`.
    fn disable_notify_insert(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.bind_topic`: routes keys matching `pattern` (`*` one word, `#` any) to `q`.
    fn bind_topic(
        &self,
        pattern: &str,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `pgmq.send_topic`: sends to every bound queue, returns how many got it.
    fn send_topic<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        routing_key: &str,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i32, Error>> + Send;
}

impl<C: ConnectionTrait + ?Sized> PgmqConnectionExt for C {
    fn create_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let q = named(q);
        async move {
            exec(
                self,
                query::select_scalar(crate::functions::create(&q?), "ok"),
            )
            .await
        }
    }

    fn create_unlogged_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let q = named(q);
        async move {
            exec(
                self,
                query::select_scalar(crate::functions::create_unlogged(&q?), "ok"),
            )
            .await
        }
    }

    fn create_partitioned_queue(
        &self,
        q: impl IntoQueueName,
        partition_interval: &str,
        retention_interval: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt = named(q).map(|q| {
            query::select_scalar(
                crate::functions::create_partitioned(
                    &q,
                    partition_interval,
                    retention_interval,
                    sql::DEFAULT_PREMAKE,
                ),
                "ok",
            )
        });
        async move { exec(self, stmt?).await }
    }

    fn drop_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let q = named(q);
        async move { flag(self, query::drop_queue(&q?)).await }
    }

    fn purge_queue(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let q = named(q);
        async move {
            Ok(fetch_one::<CountRow, _>(self, query::purge_queue(&q?))
                .await?
                .map_or(0, |r| r.count))
        }
    }

    async fn list_queues(&self) -> Result<Vec<QueueInfo>, Error> {
        Ok(fetch_all::<QueueInfoRow, _>(self, query::list_queues())
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    fn metrics(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<QueueMetrics, Error>> + Send {
        let q = named(q);
        async move {
            let q = q?;
            match fetch_one::<MetricsRow, _>(self, query::metrics(&q)).await? {
                Some(r) => Ok(r.into()),
                None => Err(Error::InvalidArgument(format!(
                    "pgmq.metrics returned no row for {q}"
                ))),
            }
        }
    }

    async fn metrics_all(&self) -> Result<Vec<QueueMetrics>, Error> {
        Ok(fetch_all::<MetricsRow, _>(self, query::metrics_all())
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    fn send<T: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let stmt = named(q).and_then(|q| Ok(query::send(&q, encode_message(msg)?)));
        async move { one_id(self, stmt?).await }
    }

    fn send_with<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        q: impl IntoQueueName,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i64, Error>> + Send {
        let stmt = named(q).and_then(|q| {
            Ok(query::send_with(
                &q,
                encode_message(msg)?,
                encode_opt_headers(headers)?,
                delay,
            ))
        });
        async move { one_id(self, stmt?).await }
    }

    fn send_batch<T: Serialize>(
        &self,
        q: impl IntoQueueName,
        msgs: &[T],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = named(q).and_then(|q| {
            (!msgs.is_empty())
                .then(|| encode_all(msgs).map(|m| query::send_batch(&q, m)))
                .transpose()
        });
        async move {
            match stmt? {
                Some(stmt) => ids(self, stmt).await,
                None => Ok(Vec::new()),
            }
        }
    }

    fn read<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Vec<Message<T>>, Error>> + Send {
        let q = named(q);
        async move { messages(self, query::read(&q?, vt, qty)).await }
    }

    fn read_with_poll<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        vt: VisibilityTimeout,
        qty: BatchSize,
        poll: PollOptions,
    ) -> impl Future<Output = Result<Vec<Message<T>>, Error>> + Send {
        let q = named(q);
        async move { messages(self, query::read_with_poll(&q?, vt, qty, poll)).await }
    }

    fn pop<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        qty: BatchSize,
    ) -> impl Future<Output = Result<Vec<Message<T>>, Error>> + Send {
        let q = named(q);
        async move { messages(self, query::pop(&q?, qty)).await }
    }

    fn set_vt<T: DeserializeOwned>(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
        vt: VisibilityTimeout,
    ) -> impl Future<Output = Result<Option<Message<T>>, Error>> + Send {
        let q = named(q);
        async move {
            Ok(messages(self, query::set_vt(&q?, msg_id, vt))
                .await?
                .into_iter()
                .next())
        }
    }

    fn delete(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let q = named(q);
        async move { flag(self, query::delete(&q?, msg_id)).await }
    }

    fn delete_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = named(q).map(|q| query::delete_batch(&q, msg_ids));
        async move { ids(self, stmt?).await }
    }

    fn archive(
        &self,
        q: impl IntoQueueName,
        msg_id: i64,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        let q = named(q);
        async move { flag(self, query::archive(&q?, msg_id)).await }
    }

    fn archive_batch(
        &self,
        q: impl IntoQueueName,
        msg_ids: &[i64],
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send {
        let stmt = named(q).map(|q| query::archive_batch(&q, msg_ids));
        async move { ids(self, stmt?).await }
    }

    fn enable_notify_insert(
        &self,
        q: impl IntoQueueName,
        throttle: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let q = named(q);
        async move {
            exec(
                self,
                query::select_scalar(
                    crate::functions::enable_notify_insert(&q?, millis(throttle)),
                    "ok",
                ),
            )
            .await
        }
    }

    fn disable_notify_insert(
        &self,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let q = named(q);
        async move {
            exec(
                self,
                query::select_scalar(crate::functions::disable_notify_insert(&q?), "ok"),
            )
            .await
        }
    }

    fn bind_topic(
        &self,
        pattern: &str,
        q: impl IntoQueueName,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let stmt =
            named(q).map(|q| query::select_scalar(crate::functions::bind_topic(pattern, &q), "ok"));
        async move { exec(self, stmt?).await }
    }

    fn send_topic<T: Serialize + ?Sized, H: Serialize + ?Sized>(
        &self,
        routing_key: &str,
        msg: &T,
        headers: Option<&H>,
        delay: Delay,
    ) -> impl Future<Output = Result<i32, Error>> + Send {
        let stmt = encode_message(msg).and_then(|m| {
            Ok(query::send_topic(
                routing_key,
                m,
                encode_opt_headers(headers)?,
                delay,
            ))
        });
        async move {
            Ok(fetch_one::<TopicCountRow, _>(self, stmt?)
                .await?
                .map_or(0, |r| r.count))
        }
    }
}
