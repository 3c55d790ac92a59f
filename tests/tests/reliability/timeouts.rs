//! Pool exhaustion and a server that does not answer end in a typed timeout error, never
//! a hang. Every wait is guarded by a much longer limit, so a hang fails the test instead
//! of stalling the suite.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool};
use diesel::{Connection, PgConnection};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use pgmq_harness::{PrivateCluster, TestDb};
use pgmq_orm_core::{BoxError, Error, ErrorKind, QueueName};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, TransactionTrait};
use sea_orm_pgmq::PgmqConnectionExt;

use crate::dead_network::DeadNetwork;
use crate::support::{Job, Res};

/// What the pools are configured to wait.
const POOL_WAIT: Duration = Duration::from_millis(500);
/// How long a call may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(20);

/// Runs blocking `f` on a thread; `Err` if it has not returned within [`HANG`].
fn guarded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, BoxError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .map_err(|_| format!("no answer within {HANG:?}: a hang").into())
}

/// Awaits `f`; `Err` if it has not finished within [`HANG`].
async fn guarded_async<T>(f: impl Future<Output = T>) -> Result<T, BoxError> {
    tokio::time::timeout(HANG, f)
        .await
        .map_err(|_| format!("no answer within {HANG:?}: a hang").into())
}

async fn small_seaorm_pool(url: &str, lazy: bool) -> Result<DatabaseConnection, BoxError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(0)
        .acquire_timeout(POOL_WAIT)
        .connect_timeout(POOL_WAIT)
        .connect_lazy(lazy)
        .sqlx_logging(false);
    Ok(Database::connect(opts).await?)
}

fn r2d2_pool(url: &str) -> Pool<ConnectionManager<PgConnection>> {
    Pool::builder()
        .max_size(1)
        .connection_timeout(POOL_WAIT)
        .build_unchecked(ConnectionManager::<PgConnection>::new(url))
}

async fn bb8_pool(
    url: &str,
) -> Result<bb8::Pool<AsyncDieselConnectionManager<AsyncPgConnection>>, BoxError> {
    Ok(bb8::Pool::builder()
        .max_size(1)
        .connection_timeout(POOL_WAIT)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(url))
        .await?)
}

#[test]
fn exhausted_r2d2_pool_is_a_pool_error_and_recovers() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let pool = r2d2_pool(tdb.url());
    let mut held = pool.get()?;
    held.create_queue("jobs")?;
    let p = pool.clone();
    let second = guarded(move || p.get().map(drop).map_err(diesel_pgmq::error::from_r2d2))?;
    assert_eq!(second.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    drop(held);
    pool.get()?.send("jobs", &Job { id: 1 })?;
    Ok(())
}

#[tokio::test]
async fn exhausted_bb8_pool_is_a_pool_error_and_recovers() -> Res {
    use diesel_pgmq::PgmqAsyncConnectionExt;
    let tdb = TestDb::new();
    let pool = bb8_pool(tdb.url()).await?;
    let mut held = pool.get().await?;
    held.create_queue("jobs").await?;
    let second = guarded_async(pool.get()).await?;
    let err = second.map(drop).map_err(diesel_pgmq::error::from_bb8);
    assert_eq!(err.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    drop(held);
    pool.get().await?.send("jobs", &Job { id: 1 }).await?;
    Ok(())
}

#[tokio::test]
async fn exhausted_seaorm_pool_is_a_pool_error_and_recovers() -> Res {
    let tdb = TestDb::new();
    let db = small_seaorm_pool(tdb.url(), false).await?;
    let q = QueueName::new("jobs")?;
    db.create_queue(&q).await?;
    let held = db.begin().await?;
    let sent = guarded_async(db.send(&q, &Job { id: 1 })).await?;
    assert_eq!(sent.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    held.rollback().await?;
    db.send(&q, &Job { id: 2 }).await?;
    assert_eq!(
        db.metrics(&q).await?.queue_length,
        1,
        "only the second send happened"
    );
    Ok(())
}

/// A "server" that accepts connections and never says a word.
fn silent_server() -> Result<u16, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    Ok(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_timeout_error_for_every_client() -> Res {
    let port = silent_server()?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/pgmq");

    // libpq's connect_timeout bounds the whole handshake.
    let with_timeout = format!("{url}?connect_timeout=1");
    let direct = guarded(move || PgConnection::establish(&with_timeout).map(drop))?;
    assert!(direct.is_err());

    let pool = r2d2_pool(&url);
    let got = guarded(move || pool.get().map(drop).map_err(diesel_pgmq::error::from_r2d2))?;
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Pool));

    let pool = bb8_pool(&url).await?;
    let got = guarded_async(pool.get()).await?;
    let got = got.map(drop).map_err(diesel_pgmq::error::from_bb8);
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Pool));

    let db = small_seaorm_pool(&url, true).await?;
    let sent = guarded_async(db.send("jobs", &Job { id: 1 })).await?;
    assert_eq!(sent.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_is_a_pool_timeout_and_the_pools_work_again_once_it_thaws() -> Res {
    use diesel_pgmq::PgmqAsyncConnectionExt;
    let cluster = Arc::new(PrivateCluster::start());
    let url = cluster.url().to_owned();
    let sea = small_seaorm_pool(&url, false).await?;
    let q = QueueName::new("jobs")?;
    sea.create_queue(&q).await?;
    let bb8 = bb8_pool(&url).await?;
    bb8.get().await?.send("jobs", &Job { id: 0 }).await?;

    cluster.freeze();
    // Pooled connections are checked before use, under the pool's timeout.
    let sent = guarded_async(sea.send(&q, &Job { id: 1 })).await;
    let got = guarded_async(bb8.get()).await;
    let direct = {
        let url = format!("{url}?connect_timeout=1");
        guarded(move || PgConnection::establish(&url).map(drop))
    };
    cluster.thaw();
    let sent: Result<i64, Error> = sent?;
    assert_eq!(sent.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    let got = got?.map(drop).map_err(diesel_pgmq::error::from_bb8);
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    assert!(direct?.is_err(), "connected to a frozen server");

    sea.send(&q, &Job { id: 2 }).await?;
    bb8.get().await?.send("jobs", &Job { id: 3 }).await?;
    assert_eq!(sea.metrics(&q).await?.queue_length, 3);
    Ok(())
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Sync Diesel has no client-side timeout; a server-side `statement_timeout` set in the
/// connection URL (libpq's `options`) ends a call waiting on a lock another session
/// holds, as RELIABILITY.md recommends, and the connection stays usable.
#[test]
fn a_sync_diesel_call_waiting_on_a_lock_ends_at_the_url_statement_timeout() -> Res {
    use diesel::connection::SimpleConnection;
    use diesel_pgmq::PgmqConnectionExt as _;
    let db = TestDb::new();
    let mut setup = PgConnection::establish(db.url())?;
    setup.create_queue("locked")?;
    setup.batch_execute("BEGIN; LOCK TABLE pgmq.q_locked IN ACCESS EXCLUSIVE MODE")?;
    let url = with_param(
        db.url(),
        "options=-c%20statement_timeout%3D1000&tcp_user_timeout=5000&keepalives_idle=5",
    );
    let started = std::time::Instant::now();
    let (sent, mut conn) = guarded(move || -> Result<_, String> {
        let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
        let sent = conn.send("locked", &Job { id: 1 });
        Ok((sent, conn))
    })??;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let err = sent.unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    setup.batch_execute("ROLLBACK")?;
    conn.send("locked", &Job { id: 2 })?;
    Ok(())
}

/// A `PinnedConnection` with a statement timeout answers within it even when the server
/// is frozen (SIGSTOP: TCP keepalives are still answered by the kernel, so only a
/// client-side limit helps), and works again on a fresh connection once it thaws. A held
/// diesel-async connection is bounded the documented way, `tokio::time::timeout`, and is
/// usable again after the thaw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_calls_on_a_frozen_server_end_at_their_client_side_timeout() -> Res {
    use diesel_async::AsyncConnection;
    use diesel_pgmq::PgmqAsyncConnectionExt;
    let cluster = Arc::new(tokio::task::spawn_blocking(PrivateCluster::start).await?);
    let db = small_seaorm_pool(cluster.url(), false).await?;
    db.create_queue("frozen").await?;
    drop(db);
    let mut opts = ConnectOptions::new(cluster.url().to_owned());
    opts.max_connections(2).sqlx_logging(false);
    let db = Database::connect(opts).await?;
    let conn = sea_orm_pgmq::PinnedConnection::acquire(&db)
        .await?
        .with_statement_timeout(Duration::from_secs(1));
    conn.send("frozen", &Job { id: 1 }).await?;
    let mut held = AsyncPgConnection::establish(cluster.url()).await?;
    held.send("frozen", &Job { id: 10 }).await?;
    let c = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.freeze()).await?;
    let started = std::time::Instant::now();
    let sent = guarded_async(conn.send("frozen", &Job { id: 2 })).await?;
    let took = started.elapsed();
    let started = std::time::Instant::now();
    let async_sent = guarded_async(tokio::time::timeout(
        Duration::from_secs(1),
        held.send("frozen", &Job { id: 11 }),
    ))
    .await?;
    let async_took = started.elapsed();
    let c = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.thaw()).await?;
    assert!(sent.is_err(), "a frozen server cannot have answered");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(async_sent.is_err(), "the diesel-async call timed out");
    assert!(async_took < Duration::from_secs(3), "took {async_took:?}");
    conn.send("frozen", &Job { id: 3 }).await?;
    held.send("frozen", &Job { id: 12 }).await?;
    Ok(())
}

/// libpq settings in the URL that end calls on a dead network: unacknowledged data gives
/// up after a second (`tcp_user_timeout`), an idle connection is probed after a second
/// (`keepalives_*`) and a connection attempt gives up after two (`connect_timeout`).
const DEAD_NETWORK_PARAMS: &str = "tcp_user_timeout=1000&keepalives_idle=1&keepalives_interval=1\
                                   &keepalives_count=2&connect_timeout=2";
/// Within what a call on a dead network must fail with those settings.
const DEAD_NETWORK_BOUND: Duration = Duration::from_secs(6);

/// On a dead network (packets to and from the server dropped, so neither an answer nor a
/// reset comes), the libpq URL settings RELIABILITY.md recommends end a sync Diesel call
/// and an r2d2 checkout (whose validity check runs a query) with an error within
/// [`DEAD_NETWORK_BOUND`]; the same call on a connection without them is still waiting
/// at the bound (so the bound proves the settings work), and once the network is back a
/// new connection works.
#[test]
fn a_dead_network_ends_sync_diesel_and_r2d2_calls_at_the_url_tcp_timeouts() -> Res {
    use diesel::RunQueryDsl as _;
    use diesel::connection::SimpleConnection as _;
    use diesel_pgmq::PgmqConnectionExt as _;
    if let Err(e) = DeadNetwork::available() {
        let reason = format!("cannot drop packets here ({e}); needs root and nftables");
        if !pgmq_harness::skip_for_missing(
            "a_dead_network_ends_sync_diesel_and_r2d2_calls_at_the_url_tcp_timeouts",
            &reason,
        ) {
            return Ok(());
        }
    }
    let cluster = PrivateCluster::start();
    let url = with_param(cluster.url(), DEAD_NETWORK_PARAMS);
    let mut conn = PgConnection::establish(&url)?;
    conn.create_queue("jobs")?;
    let mut plain = PgConnection::establish(cluster.url())?;
    plain.send("jobs", &Job { id: 1 })?;
    let pool = Pool::builder()
        .max_size(1)
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(2))
        .build(ConnectionManager::<PgConnection>::new(&url))?;
    pool.get()?.send("jobs", &Job { id: 2 })?;
    // A call already at the server, waiting on a lock, on a connection with keepalives
    // only: no data is in flight when the network dies, so only the probes notice.
    let mut locker = PgConnection::establish(cluster.url())?;
    locker.batch_execute("BEGIN; LOCK TABLE pgmq.q_jobs IN ACCESS EXCLUSIVE MODE")?;
    let keepalive_url = with_param(
        cluster.url(),
        "keepalives_idle=1&keepalives_interval=1&keepalives_count=2",
    );
    let mut waiting = PgConnection::establish(&keepalive_url)?;
    let (waiting_tx, waiting_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sent = waiting.send("jobs", &Job { id: 6 }).map_err(|e| e.kind());
        let _ = waiting_tx.send((sent, std::time::Instant::now()));
    });
    let lock_waited = std::time::Instant::now();
    let waiting_on_lock = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT FROM pg_locks WHERE NOT granted)",
    ));
    while !waiting_on_lock.clone().get_result::<bool>(&mut locker)? {
        assert!(
            lock_waited.elapsed() < HANG,
            "the call never waited on the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the server's (delayed) acknowledgement of the call arrive: unacknowledged data
    // is tcp_user_timeout's case, not the keepalives'.
    std::thread::sleep(Duration::from_millis(500));

    let dead = DeadNetwork::cut(cluster.port())?;
    let started = std::time::Instant::now();
    let (plain_tx, plain_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = plain_tx.send(plain.send("jobs", &Job { id: 3 }).is_ok());
    });
    let direct = guarded(move || {
        let started = std::time::Instant::now();
        (conn.send("jobs", &Job { id: 4 }), started.elapsed())
    })?;
    let checkout = guarded(move || {
        let started = std::time::Instant::now();
        let got = pool.get().map(drop).map_err(diesel_pgmq::error::from_r2d2);
        (got, started.elapsed())
    })?;
    let waited = waiting_rx.recv_timeout(DEAD_NETWORK_BOUND.saturating_sub(started.elapsed()));
    let (waited, waited_took) = match waited {
        Ok((sent, at)) => (Ok(sent), at.duration_since(started)),
        Err(e) => (Err(e), started.elapsed()),
    };
    let plain = plain_rx.recv_timeout(DEAD_NETWORK_BOUND.saturating_sub(started.elapsed()));
    drop(dead);
    eprintln!(
        "dead network: direct call {direct:?}, r2d2 checkout {checkout:?}, \
         call waiting on a lock {waited:?} after {waited_took:?}"
    );

    let (sent, took) = direct;
    assert_eq!(sent.map_err(|e| e.kind()), Err(ErrorKind::Database));
    assert!(took < DEAD_NETWORK_BOUND, "direct call took {took:?}");
    let (got, took) = checkout;
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Pool));
    assert!(took < DEAD_NETWORK_BOUND, "checkout took {took:?}");
    assert_eq!(
        waited,
        Ok(Err(ErrorKind::Database)),
        "after {waited_took:?}"
    );
    assert!(
        plain.is_err(),
        "without the settings the call ended within the bound too ({plain:?}): it proves nothing"
    );

    locker.batch_execute("ROLLBACK")?;
    let mut fresh = PgConnection::establish(&url)?;
    fresh.send("jobs", &Job { id: 5 })?;
    Ok(())
}
