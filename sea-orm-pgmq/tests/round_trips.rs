//! Each pgmq operation costs one round trip to the server: the crate adds no queries of
//! its own (no version checks, no per-call `SET`, no prepare after the first use).
//!
//! The connection goes through a transparent loopback TCP relay to the real test server
//! that counts the requests the client flushes. Inside a `DatabaseTransaction` the pool is
//! out of the picture (sqlx pings a pooled connection on release, and on acquire unless
//! `test_before_acquire(false)`; see the crate docs), so the count is the crate's own.

use pgmq_harness::TestDb;
use sea_orm::{ConnectOptions, Database, TransactionTrait};
use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, PinnedConnection, VisibilityTimeout};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Copies `from` to `to`; counts each read when `count` is given.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Option<Arc<AtomicUsize>>,
) {
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if let Some(c) = &count {
            c.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// A relay to `target` (`host:port`); returns its port and the request counter.
async fn counting_relay(target: String) -> std::io::Result<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&target).await else {
                break;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pipe(cr, sw, Some(counter.clone())));
            tokio::spawn(pipe(sr, cw, None));
        }
    });
    Ok((port, requests))
}

/// The harness URL rewritten to go through a counting relay.
async fn relayed(
    url: &str,
) -> Result<(String, Arc<AtomicUsize>), Box<dyn std::error::Error + Send + Sync>> {
    let at = url.rfind('@').ok_or("no @ in url")?;
    let slash = url[at..].find('/').ok_or("no database in url")? + at;
    let target = &url[at + 1..slash];
    let host = target.split(':').next().ok_or("no host")?;
    let (port, requests) = counting_relay(target.to_owned()).await?;
    Ok((
        format!("{}@{host}:{port}{}", &url[..at], &url[slash..]),
        requests,
    ))
}

/// Runs `op` once to prepare its statements, then `n` times, and returns the requests
/// per run.
async fn requests_per_call<C, F>(txn: &C, requests: &AtomicUsize, n: usize, op: F) -> f64
where
    F: AsyncFn(&C),
{
    op(txn).await;
    let before = requests.load(Ordering::SeqCst);
    for _ in 0..n {
        op(txn).await;
    }
    (requests.load(Ordering::SeqCst) - before) as f64 / n as f64
}

#[tokio::test]
async fn every_operation_is_one_round_trip() -> R {
    let db = TestDb::new();
    let (url, requests) = relayed(db.url()).await?;
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    let conn = Database::connect(options).await?;
    conn.create_queue("q").await?;
    let vt = VisibilityTimeout::Seconds(0);
    let txn = conn.begin().await?;
    let n = 20;

    let send = requests_per_call(&txn, &requests, n, async |t| {
        t.send("q", &json!({"n": 1})).await.expect("send");
    })
    .await;
    let batch = requests_per_call(&txn, &requests, n, async |t| {
        t.send_batch("q", &[1, 2, 3]).await.expect("send_batch");
    })
    .await;
    let read = requests_per_call(&txn, &requests, n, async |t| {
        let _ = t
            .read::<Value>("q", vt, BatchSize::ONE)
            .await
            .expect("read");
    })
    .await;
    let delete = requests_per_call(&txn, &requests, n, async |t| {
        t.delete("q", 1).await.expect("delete");
    })
    .await;
    let pop = requests_per_call(&txn, &requests, n, async |t| {
        let _ = t.pop::<Value>("q", BatchSize::ONE).await.expect("pop");
    })
    .await;
    let metrics = requests_per_call(&txn, &requests, n, async |t| {
        t.metrics("q").await.expect("metrics");
    })
    .await;
    txn.commit().await?;
    assert_eq!(
        [send, batch, read, delete, pop, metrics],
        [1.0; 6],
        "requests per send, send_batch, read, delete, pop, metrics"
    );
    Ok(())
}

/// Requests per `send` on a pool of one connection configured by `configure`.
async fn pooled_send_requests(
    url: &str,
    configure: impl FnOnce(&mut ConnectOptions),
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let (url, requests) = relayed(url).await?;
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    configure(&mut options);
    let conn = Database::connect(options).await?;
    conn.create_queue("q").await?;
    conn.send("q", &1).await?;
    let n = 20;
    let before = requests.load(Ordering::SeqCst);
    for _ in 0..n {
        conn.send("q", &1).await?;
    }
    // The last release ping may still be in flight: one more call waits for it (its
    // own few requests vanish in the integer division).
    conn.metrics("q").await?;
    Ok((requests.load(Ordering::SeqCst) - before) / n)
}

#[tokio::test]
async fn the_pool_adds_pings_that_test_before_acquire_false_halves() -> R {
    let db = TestDb::new();
    // SeaORM's default pings on acquire, and sqlx always pings on release.
    let default = pooled_send_requests(db.url(), |_| {}).await?;
    let tuned = pooled_send_requests(db.url(), |o| {
        o.test_before_acquire(false);
    })
    .await?;
    assert_eq!((default, tuned), (3, 2), "requests per pooled send");
    Ok(())
}

#[tokio::test]
async fn a_pinned_connection_costs_one_request_per_call_on_a_default_pool() -> R {
    let db = TestDb::new();
    let (url, requests) = relayed(db.url()).await?;
    // SeaORM's defaults: a ping on every acquire, and sqlx's on every release.
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    let conn = Database::connect(options).await?;
    conn.create_queue("q").await?;
    let pinned = PinnedConnection::acquire(&conn).await?;
    let vt = VisibilityTimeout::Seconds(0);
    let n = 20;

    let send = requests_per_call(&pinned, &requests, n, async |c| {
        c.send("q", &json!({"n": 1})).await.expect("send");
    })
    .await;
    let read = requests_per_call(&pinned, &requests, n, async |c| {
        let msgs = c
            .read::<Value>("q", vt, BatchSize::ONE)
            .await
            .expect("read");
        assert_eq!(msgs.len(), 1, "a message to read");
    })
    .await;
    let delete = requests_per_call(&pinned, &requests, n, async |c| {
        c.delete_batch("q", &[1, 2]).await.expect("delete_batch");
    })
    .await;
    assert_eq!(
        [send, read, delete],
        [1.0; 3],
        "requests per send, read, delete"
    );

    // Dropped, the connection is back in the one-connection pool for the next caller.
    drop(pinned);
    // n + 1 sends, and ids 1 and 2 deleted.
    assert_eq!(conn.metrics("q").await?.queue_length, (n + 1 - 2) as i64);
    Ok(())
}
