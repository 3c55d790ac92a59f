//! Extension traits with one plain method per pgmq operation:
//! [`PgmqConnectionExt`] for sync Diesel and [`PgmqAsyncConnectionExt`] for diesel-async.
//!
//! Both run the statements of [`crate::query`] and convert rows and errors into the
//! core's types; the method names and argument orders are the same in `sea-orm-pgmq`.

use pgmq_orm_core::{Error, IntoQueueName, Messages, QueueName};

use serde::de::DeserializeOwned;

use crate::query::MessageRow;

pub(crate) fn name(q: impl IntoQueueName) -> Result<QueueName, Error> {
    Ok(q.into_queue_name()?)
}

pub(crate) fn decode_all<T: DeserializeOwned, H: DeserializeOwned>(
    rows: Vec<MessageRow>,
) -> Result<Messages<T, H>, Error> {
    Ok(crate::query::decode_rows(rows))
}

pub(crate) fn convert<R: Into<C>, C>(rows: Vec<R>) -> Vec<C> {
    rows.into_iter().map(Into::into).collect()
}

/// The installed pgmq version, `None` without pgmq: the extension's version, else the
/// highest the SQL installer recorded (see [`PgmqVersion::installed`]). `$load` is the
/// caller's plain runner macro (a sync call or `.await`, `?` on errors), so the body is
/// written once for sync and async; it expands to a `Result<Option<PgmqVersion>, Error>`.
macro_rules! installed_version {
    ($conn:expr, $load:ident) => {{
        use pgmq_orm_core::{PgmqVersion, sql};
        use $crate::connection::version_rows::{ExtVersion, HasSql, SqlVersion};
        let ext = $load!($conn, diesel::sql_query(sql::EXTENSION_VERSION), ExtVersion);
        if let Some(v) = ext.into_iter().next() {
            Ok::<_, Error>(PgmqVersion::installed(Some(&v.extversion), [""; 0]))
        } else {
            let present = format!("SELECT ({}) AS present", sql::HAS_SQL_INSTALL);
            let has = $crate::connection::one($load!($conn, diesel::sql_query(present), HasSql))?;
            if has.present {
                let rows = $load!(
                    $conn,
                    diesel::sql_query(sql::SQL_INSTALL_VERSIONS),
                    SqlVersion
                );
                Ok(PgmqVersion::installed(
                    None,
                    rows.iter().map(|r| r.version.as_str()),
                ))
            } else {
                Ok(None)
            }
        }
    }};
}
pub(crate) use installed_version;

/// Row types for the version check (the core keeps its SQL as plain text).
pub(crate) mod version_rows {
    use diesel::QueryableByName;
    use diesel::sql_types::{Bool, Text};

    #[derive(QueryableByName)]
    pub(crate) struct ExtVersion {
        #[diesel(sql_type = Text)]
        pub(crate) extversion: String,
    }
    #[derive(QueryableByName)]
    pub(crate) struct HasSql {
        #[diesel(sql_type = Bool)]
        pub(crate) present: bool,
    }
    #[derive(QueryableByName)]
    pub(crate) struct SqlVersion {
        #[diesel(sql_type = Text)]
        pub(crate) version: String,
    }
}

/// The bodies of both extension traits' methods, written once. `$load` and `$exec` are
/// the caller's runner macros (plain calls for sync, `.await` for async); `$kw` is
/// `async` or nothing; `$send` / `$sync` are the extra bounds async futures need.
macro_rules! ext_methods {
    ($load:ident, $exec:ident, [$($kw:tt)?], [$($send:tt)*], [$($sync:tt)*]) => {
        $($kw)? fn create_queue(&mut self, q: impl IntoQueueName $($send)*) -> Result<(), Error> {
            $exec!(self, query::create(&name(q)?));
            Ok(())
        }

        $($kw)? fn create_unlogged_queue(&mut self, q: impl IntoQueueName $($send)*) -> Result<(), Error> {
            $exec!(self, query::create_unlogged(&name(q)?));
            Ok(())
        }

        $($kw)? fn create_partitioned_queue(
            &mut self,
            q: impl IntoQueueName $($send)*,
            partition_interval: &str,
            retention_interval: &str,
        ) -> Result<(), Error> {
            $exec!(self, query::create_partitioned(&name(q)?, partition_interval, retention_interval));
            Ok(())
        }

        $($kw)? fn drop_queue(&mut self, q: impl IntoQueueName $($send)*) -> Result<bool, Error> {
            one($load!(self, query::drop_queue(&name(q)?), bool))
        }

        $($kw)? fn purge_queue(&mut self, q: impl IntoQueueName $($send)*) -> Result<i64, Error> {
            one($load!(self, query::purge_queue(&name(q)?), i64))
        }

        $($kw)? fn list_queues(&mut self) -> Result<Vec<QueueInfo>, Error> {
            Ok(convert($load!(self, query::list_queues(), QueueInfoRow)))
        }

        $($kw)? fn metrics(&mut self, q: impl IntoQueueName $($send)*) -> Result<QueueMetrics, Error> {
            one(convert($load!(self, query::metrics(&name(q)?), MetricsRow)))
        }

        $($kw)? fn metrics_all(&mut self) -> Result<Vec<QueueMetrics>, Error> {
            Ok(convert($load!(self, query::metrics_all(), MetricsRow)))
        }

        $($kw)? fn send<T: Serialize + ?Sized $($sync)*>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            message: &T,
        ) -> Result<i64, Error> {
            let stmt = query::send(&name(q)?, message)?;
            one($load!(self, stmt, i64))
        }

        $($kw)? fn send_with<T: Serialize + ?Sized $($sync)*, H: Serialize + ?Sized $($sync)*>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            message: &T,
            headers: Option<&H>,
            delay: Delay,
        ) -> Result<i64, Error> {
            let stmt = query::send_with(&name(q)?, message, headers, delay)?;
            one($load!(self, stmt, i64))
        }

        $($kw)? fn send_batch<T: Serialize $($sync)*>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            messages: &[T],
        ) -> Result<Vec<i64>, Error> {
            let q = name(q)?;
            if messages.is_empty() {
                return Ok(Vec::new());
            }
            Ok($load!(self, query::send_batch(&q, messages)?, i64))
        }

        $($kw)? fn send_batch_with<T: Serialize $($sync)*, H: Serialize $($sync)*>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            messages: &[T],
            headers: Option<&[H]>,
            delay: Delay,
        ) -> Result<Vec<i64>, Error> {
            let q = name(q)?;
            if messages.is_empty() {
                return Ok(Vec::new());
            }
            Ok($load!(self, query::send_batch_with(&q, messages, headers, delay)?, i64))
        }

        $($kw)? fn read<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::read(&name(q)?, vt, qty), MessageRow))
        }

        $($kw)? fn read_conditional<T: DeserializeOwned, F: Serialize + ?Sized $($sync)*>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
            conditional: &F,
        ) -> Result<Messages<T>, Error> {
            let stmt = query::read_conditional(&name(q)?, vt, qty, conditional)?;
            decode_all($load!(self, stmt, MessageRow))
        }

        $($kw)? fn read_with_poll<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
            poll: PollOptions,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::read_with_poll(&name(q)?, vt, qty, poll), MessageRow))
        }

        $($kw)? fn read_with_poll_conditional<T: DeserializeOwned, F: Serialize + ?Sized $($sync)*>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
            poll: PollOptions,
            conditional: &F,
        ) -> Result<Messages<T>, Error> {
            let stmt = query::read_with_poll_conditional(&name(q)?, vt, qty, poll, conditional)?;
            decode_all($load!(self, stmt, MessageRow))
        }

        $($kw)? fn pop<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            qty: BatchSize,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::pop(&name(q)?, qty), MessageRow))
        }

        $($kw)? fn set_vt<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            msg_id: i64,
            vt: VisibilityTimeout,
        ) -> Result<Option<Message<T>>, Error> {
            let rows = $load!(self, query::set_vt(&name(q)?, msg_id, vt), MessageRow);
            rows.into_iter().next().map(MessageRow::decode_with).transpose()
        }

        $($kw)? fn set_vt_batch<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            msg_ids: &[i64],
            vt: VisibilityTimeout,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::set_vt_batch(&name(q)?, msg_ids, vt), MessageRow))
        }

        $($kw)? fn delete(&mut self, q: impl IntoQueueName $($send)*, msg_id: i64) -> Result<bool, Error> {
            one($load!(self, query::delete(&name(q)?, msg_id), bool))
        }

        $($kw)? fn delete_batch(
            &mut self,
            q: impl IntoQueueName $($send)*,
            msg_ids: &[i64],
        ) -> Result<Vec<i64>, Error> {
            Ok($load!(self, query::delete_batch(&name(q)?, msg_ids), i64))
        }

        $($kw)? fn archive(&mut self, q: impl IntoQueueName $($send)*, msg_id: i64) -> Result<bool, Error> {
            one($load!(self, query::archive(&name(q)?, msg_id), bool))
        }

        $($kw)? fn archive_batch(
            &mut self,
            q: impl IntoQueueName $($send)*,
            msg_ids: &[i64],
        ) -> Result<Vec<i64>, Error> {
            Ok($load!(self, query::archive_batch(&name(q)?, msg_ids), i64))
        }

        $($kw)? fn read_grouped<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::read_grouped(&name(q)?, vt, qty), MessageRow))
        }

        $($kw)? fn read_grouped_rr<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::read_grouped_rr(&name(q)?, vt, qty), MessageRow))
        }

        $($kw)? fn read_grouped_head<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
        ) -> Result<Messages<T>, Error> {
            decode_all($load!(self, query::read_grouped_head(&name(q)?, vt, qty), MessageRow))
        }

        $($kw)? fn read_grouped_with_poll<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
            poll: PollOptions,
        ) -> Result<Messages<T>, Error> {
            let stmt = query::read_grouped_with_poll(&name(q)?, vt, qty, poll);
            decode_all($load!(self, stmt, MessageRow))
        }

        $($kw)? fn read_grouped_rr_with_poll<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
            poll: PollOptions,
        ) -> Result<Messages<T>, Error> {
            let stmt = query::read_grouped_rr_with_poll(&name(q)?, vt, qty, poll);
            decode_all($load!(self, stmt, MessageRow))
        }

        $($kw)? fn read_grouped_head_with_poll<T: DeserializeOwned>(
            &mut self,
            q: impl IntoQueueName $($send)*,
            vt: VisibilityTimeout,
            qty: BatchSize,
            poll: PollOptions,
        ) -> Result<Messages<T>, Error> {
            let stmt = query::read_grouped_head_with_poll(&name(q)?, vt, qty, poll);
            decode_all($load!(self, stmt, MessageRow))
        }

        $($kw)? fn create_fifo_index(&mut self, q: impl IntoQueueName $($send)*) -> Result<(), Error> {
            $exec!(self, query::create_fifo_index(&name(q)?));
            Ok(())
        }

        $($kw)? fn create_fifo_indexes_all(&mut self) -> Result<(), Error> {
            $exec!(self, query::create_fifo_indexes_all());
            Ok(())
        }

        $($kw)? fn enable_notify_insert(
            &mut self,
            q: impl IntoQueueName $($send)*,
            throttle: Duration,
        ) -> Result<(), Error> {
            $exec!(self, query::enable_notify_insert(&name(q)?, throttle));
            Ok(())
        }

        $($kw)? fn update_notify_insert(
            &mut self,
            q: impl IntoQueueName $($send)*,
            throttle: Duration,
        ) -> Result<(), Error> {
            $exec!(self, query::update_notify_insert(&name(q)?, throttle));
            Ok(())
        }

        $($kw)? fn disable_notify_insert(&mut self, q: impl IntoQueueName $($send)*) -> Result<(), Error> {
            $exec!(self, query::disable_notify_insert(&name(q)?));
            Ok(())
        }

        $($kw)? fn list_notify_insert_throttles(&mut self) -> Result<Vec<NotifyThrottle>, Error> {
            Ok(convert($load!(self, query::list_notify_insert_throttles(), NotifyThrottleRow)))
        }

        $($kw)? fn bind_topic(&mut self, pattern: &str, q: impl IntoQueueName $($send)*) -> Result<(), Error> {
            $exec!(self, query::bind_topic(pattern, &name(q)?));
            Ok(())
        }

        $($kw)? fn unbind_topic(&mut self, pattern: &str, q: impl IntoQueueName $($send)*) -> Result<bool, Error> {
            one($load!(self, query::unbind_topic(pattern, &name(q)?), bool))
        }

        $($kw)? fn send_topic<T: Serialize + ?Sized $($sync)*, H: Serialize + ?Sized $($sync)*>(
            &mut self,
            routing_key: &str,
            message: &T,
            headers: Option<&H>,
            delay: Delay,
        ) -> Result<i32, Error> {
            let stmt = query::send_topic(routing_key, message, headers, delay)?;
            one($load!(self, stmt, i32))
        }

        $($kw)? fn send_batch_topic<T: Serialize $($sync)*, H: Serialize $($sync)*>(
            &mut self,
            routing_key: &str,
            messages: &[T],
            headers: Option<&[H]>,
            delay: Delay,
        ) -> Result<Vec<TopicMessageId>, Error> {
            if messages.is_empty() {
                return Ok(Vec::new());
            }
            let stmt = query::send_batch_topic(routing_key, messages, headers, delay)?;
            Ok(convert($load!(self, stmt, TopicMessageIdRow)))
        }

        $($kw)? fn list_topic_bindings(&mut self) -> Result<Vec<TopicBinding>, Error> {
            Ok(convert($load!(self, query::list_topic_bindings(), TopicBindingRow)))
        }

        $($kw)? fn list_topic_bindings_for(&mut self, q: impl IntoQueueName $($send)*) -> Result<Vec<TopicBinding>, Error> {
            Ok(convert($load!(self, query::list_topic_bindings_for(&name(q)?), TopicBindingRow)))
        }

        $($kw)? fn test_routing(&mut self, routing_key: &str) -> Result<Vec<RoutingMatch>, Error> {
            Ok(convert($load!(self, query::test_routing(routing_key), RoutingMatchRow)))
        }

        $($kw)? fn pgmq_version(&mut self) -> Result<PgmqVersion, Error> {
            $crate::connection::installed_version!(self, $load)?
                .ok_or(Error::PgmqMissing { source: None })?
                .check()
        }

        $($kw)? fn queue_health(&mut self, q: impl IntoQueueName $($send)*) -> Result<QueueHealth, Error> {
            use diesel::sql_types::Text;
            use pgmq_orm_core::health::{health_binds, health_sql};
            let [queue, table, default] = health_binds(&name(q)?);
            let stmt = diesel::sql_query(health_sql::QUEUE_HEALTH)
                .bind::<Text, _>(queue)
                .bind::<Text, _>(table)
                .bind::<Text, _>(default);
            QueueHealth::from_json(&one($load!(self, stmt, $crate::connection::health_row::HealthRow))?.health)
        }

        $($kw)? fn delete_archived_older_than(
            &mut self,
            q: impl IntoQueueName $($send)*,
            age: Duration,
            batch: BatchSize,
        ) -> Result<i64, Error> {
            use diesel::sql_types::{BigInt, Double};
            let sql = pgmq_orm_core::health::archive_retention_sql(&name(q)?);
            let mut total = 0;
            loop {
                let stmt = diesel::sql_query(sql.clone())
                    .bind::<Double, _>(age.as_secs_f64())
                    .bind::<BigInt, _>(i64::from(batch.get()));
                let deleted = $exec!(self, stmt);
                total += i64::try_from(deleted).unwrap_or(i64::MAX);
                if deleted < usize::try_from(batch.get()).unwrap_or(usize::MAX) {
                    return Ok(total);
                }
            }
        }
    };
}

/// The one column of [`pgmq_orm_core::health::health_sql::QUEUE_HEALTH`].
pub(crate) mod health_row {
    use diesel::QueryableByName;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    pub(crate) struct HealthRow {
        #[diesel(sql_type = Text)]
        pub(crate) health: String,
    }
}

/// The one row a scalar pgmq function returns.
pub(crate) fn one<T>(rows: Vec<T>) -> Result<T, Error> {
    rows.into_iter().next().ok_or_else(|| {
        Error::from_database(
            None,
            "pgmq returned no row",
            diesel::result::Error::NotFound,
        )
    })
}

#[cfg(feature = "sync")]
mod sync;
#[cfg(feature = "sync")]
pub use sync::PgmqConnectionExt;
#[cfg(feature = "sync")]
pub(crate) use sync::version_error;

#[cfg(feature = "async")]
mod async_ext;
#[cfg(feature = "async")]
pub use async_ext::PgmqAsyncConnectionExt;
#[cfg(feature = "async")]
pub(crate) use async_ext::version_error as version_error_async;
