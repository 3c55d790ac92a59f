//! Insert-notification wake-ups on a dedicated connection, with reconnects; written once
//! for both ORM crates, which only say how to connect and how to wait for one
//! notification.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::{Instant, sleep_until, timeout_at};
use tracing::{debug, warn};

use crate::{Error, QueueName};

use super::BoxFuture;

/// How to open a `LISTEN`ing connection and wait on it; the ORM crates implement it
/// (diesel-async's notification stream, sqlx's `PgListener`).
///
/// ```
/// use pgmq_orm_core::consumer::{BoxFuture, NotificationSource};
/// use pgmq_orm_core::{Error, QueueName};
///
/// /// A source whose connection never hears anything (polling only).
/// #[derive(Debug)]
/// struct Silent;
/// impl NotificationSource for Silent {
///     type Connection = ();
///     fn connect<'a>(&'a self, _queue: &'a QueueName) -> BoxFuture<'a, Result<(), Error>> {
///         Box::pin(async { Ok(()) })
///     }
///     fn recv<'a>(&'a self, _conn: &'a mut ()) -> BoxFuture<'a, Result<(), Error>> {
///         Box::pin(std::future::pending())
///     }
/// }
/// ```
pub trait NotificationSource: Send + Sync + 'static {
    /// A connection that has run `LISTEN` on the channel.
    type Connection: Send + 'static;

    /// Opens a dedicated connection and listens on `queue`'s insert channel
    /// ([`QueueName::notify_channel`]; [`listen_sql`](super::listen_sql) is the statement).
    fn connect<'a>(
        &'a self,
        queue: &'a QueueName,
    ) -> BoxFuture<'a, Result<Self::Connection, Error>>;

    /// Waits for the next notification. `Err` means the connection is gone; it is then
    /// dropped and reopened by the next wait. Must be cancel-safe: a wait is cut short
    /// by the poll interval.
    fn recv<'a>(&'a self, conn: &'a mut Self::Connection) -> BoxFuture<'a, Result<(), Error>>;

    /// Discards notifications already delivered, without waiting, so that a burst which
    /// queued up while the consumer was busy costs one read rather than one per
    /// notification. The default keeps them (each then ends a later wait at once, which
    /// costs an empty read but loses nothing).
    fn drain(&self, conn: &mut Self::Connection) {
        let _ = conn;
    }
}

/// Waits for insert notifications of one queue, reconnecting after a lost connection.
///
/// Notifications sent while the connection was down are lost, so a wait that
/// reconnects returns at once and the loop reads (catch-up). Polling stays the fallback
/// for what never notifies: delayed messages and expired visibility timeouts.
///
/// ```no_run
/// # use pgmq_orm_core::consumer::{NotificationSource, Wakeups};
/// # async fn f<S: NotificationSource>(source: S) -> Result<(), pgmq_orm_core::Error> {
/// let queue = pgmq_orm_core::QueueName::new("orders")?;
/// let wakeups = Wakeups::connect(source, &queue).await?;
/// wakeups.wait(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
pub struct Wakeups<S: NotificationSource> {
    source: S,
    queue: QueueName,
    channel: String,
    conn: Mutex<Option<S::Connection>>,
}

impl<S: NotificationSource + std::fmt::Debug> std::fmt::Debug for Wakeups<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakeups")
            .field("source", &self.source)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl<S: NotificationSource> Wakeups<S> {
    /// Connects and listens on `queue`'s insert channel now, so a bad URL or missing
    /// permission surfaces here rather than as silent polling.
    ///
    /// ```no_run
    /// # use pgmq_orm_core::consumer::{NotificationSource, Wakeups};
    /// # async fn f<S: NotificationSource>(s: S, q: &pgmq_orm_core::QueueName) {
    /// let w = Wakeups::connect(s, q).await.expect("LISTEN");
    /// # }
    /// ```
    pub async fn connect(source: S, queue: &QueueName) -> Result<Self, Error> {
        let conn = source.connect(queue).await?;
        Ok(Self {
            source,
            queue: queue.clone(),
            channel: queue.notify_channel(),
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Returns after a notification, after `limit`, or at once after reconnecting.
    ///
    /// ```no_run
    /// # async fn f<S: pgmq_orm_core::consumer::NotificationSource>(w: &pgmq_orm_core::consumer::Wakeups<S>) {
    /// w.wait(std::time::Duration::from_millis(500)).await;
    /// # }
    /// ```
    pub async fn wait(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_mut() {
            match timeout_at(deadline, self.source.recv(conn)).await {
                Err(_) => return,
                Ok(Ok(())) => return self.source.drain(conn),
                Ok(Err(e)) => {
                    warn!(channel = %self.channel, error = %e, "LISTEN connection lost; reconnecting");
                    *slot = None;
                }
            }
        }
        // Not listening: reconnect, then return at once so the loop reads what arrived
        // while nobody listened; if that fails, poll.
        match timeout_at(deadline, self.source.connect(&self.queue)).await {
            Ok(Ok(conn)) => {
                debug!(channel = %self.channel, "LISTEN connection re-established");
                *slot = Some(conn);
            }
            Ok(Err(e)) => {
                warn!(channel = %self.channel, error = %e, "LISTEN reconnect failed; polling");
                sleep_until(deadline).await;
            }
            Err(_) => {}
        }
    }

    /// The channel listened on, `pgmq.q_<queue>.INSERT`.
    ///
    /// ```no_run
    /// # fn f<S: pgmq_orm_core::consumer::NotificationSource>(w: &pgmq_orm_core::consumer::Wakeups<S>) {
    /// assert!(w.channel().ends_with(".INSERT"));
    /// # }
    /// ```
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// What a backend's [`wait_for_messages`](super::ConsumerBackend::wait_for_messages)
/// does: wait on `wakeups` when the backend listens, else sleep out the poll interval.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use pgmq_orm_core::consumer::{NotificationSource, Wakeups, wait_or_sleep};
/// # #[derive(Debug)] struct Never;
/// # impl NotificationSource for Never { type Connection = ();
/// #   fn connect<'a>(&'a self, _: &'a pgmq_orm_core::QueueName) -> pgmq_orm_core::consumer::BoxFuture<'a, Result<(), pgmq_orm_core::Error>> { Box::pin(async { Ok(()) }) }
/// #   fn recv<'a>(&'a self, _: &'a mut ()) -> pgmq_orm_core::consumer::BoxFuture<'a, Result<(), pgmq_orm_core::Error>> { Box::pin(std::future::pending()) } }
/// let none: Option<&Wakeups<Never>> = None;
/// wait_or_sleep(none, std::time::Duration::from_millis(10)).await;
/// # }
/// ```
pub async fn wait_or_sleep<S: NotificationSource>(wakeups: Option<&Wakeups<S>>, limit: Duration) {
    match wakeups {
        Some(w) => w.wait(limit).await,
        None => tokio::time::sleep(limit).await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Connections that deliver `pending` notifications, then either hang or fail.
    #[derive(Debug, Default)]
    struct Fake {
        connects: AtomicUsize,
        pending: AtomicUsize,
        fail_when_empty: bool,
    }

    impl NotificationSource for Fake {
        type Connection = ();
        fn connect<'a>(&'a self, _: &'a QueueName) -> BoxFuture<'a, Result<(), Error>> {
            self.connects.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
        fn recv<'a>(&'a self, _: &'a mut ()) -> BoxFuture<'a, Result<(), Error>> {
            Box::pin(async move {
                let left = self.pending.load(Ordering::SeqCst);
                if left > 0 {
                    self.pending.store(left - 1, Ordering::SeqCst);
                    return Ok(());
                }
                if self.fail_when_empty {
                    return Err(Error::InvalidArgument("connection closed".into()));
                }
                std::future::pending().await
            })
        }
        fn drain(&self, _: &mut ()) {
            self.pending.store(0, Ordering::SeqCst);
        }
    }

    fn queue() -> QueueName {
        QueueName::new("q").unwrap()
    }

    #[tokio::test]
    async fn a_notification_ends_the_wait_and_the_backlog_is_drained() {
        let fake = Fake::default();
        fake.pending.store(5, Ordering::SeqCst);
        let w = Wakeups::connect(fake, &queue()).await.unwrap();
        let start = std::time::Instant::now();
        w.wait(Duration::from_secs(30)).await;
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(w.source.pending.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_notifications_the_wait_lasts_its_limit() {
        let w = Wakeups::connect(Fake::default(), &queue()).await.unwrap();
        let start = std::time::Instant::now();
        w.wait(Duration::from_millis(200)).await;
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_lost_connection_is_reopened_at_once() {
        let fake = Fake {
            fail_when_empty: true,
            ..Fake::default()
        };
        let w = Wakeups::connect(fake, &queue()).await.unwrap();
        let start = std::time::Instant::now();
        w.wait(Duration::from_secs(30)).await;
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "returns to catch up"
        );
        assert_eq!(w.source.connects.load(Ordering::SeqCst), 2);
        assert!(w.conn.lock().await.is_some());
    }
}
