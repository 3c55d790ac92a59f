//! The order service (`pgmq_orm_examples::orders`) tested the way an application tests its
//! own code with the test kit `pgmq-orm-test`: a real database per test, assertions on
//! what a transaction sent before it commits, and the service's own consumer run inline.

use std::time::Duration;

use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_pgmq::consumer::{
    ConsumerConfig, DieselBackend, FailureDestination, PgPool, RetryPolicy,
};
use diesel_pgmq::{BoxError, Message, PgmqAsyncConnectionExt, QueueName};
use pgmq_orm_examples::orders::{self, ORDER_EVENTS, OrderCreated};
use pgmq_orm_test::TestDb;
use pgmq_orm_test::diesel_async::{assert_not_sent, assert_sent, sent};
use pgmq_orm_test::inline::{self, OutcomeKind};

/// A fresh database with the service's schema.
async fn service() -> Result<(TestDb, AsyncPgConnection), BoxError> {
    let db = TestDb::new();
    let mut conn = AsyncPgConnection::establish(db.url()).await?;
    orders::setup(&mut conn).await?;
    Ok((db, conn))
}

async fn pool(db: &TestDb) -> Result<PgPool, BoxError> {
    Ok(PgPool::builder()
        .max_size(3)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(
            db.url(),
        ))
        .await?)
}

fn is_order(item: &'static str) -> impl Fn(&Message<OrderCreated>) -> bool {
    move |m| m.message.item == item && m.message.kind == "OrderCreated"
}

/// The event is queued by the order's own transaction: visible inside it before the
/// commit, invisible to every other connection until then.
#[tokio::test]
async fn an_order_queues_its_event_in_the_same_transaction() -> Result<(), BoxError> {
    let (db, mut conn) = service().await?;
    let mut other = AsyncPgConnection::establish(db.url()).await?;
    let outbox = orders::outbox()?;
    conn.transaction(async |tx| {
        let placed = orders::place_orders(tx, &outbox, &["teapot"]).await?;
        let event = assert_sent(tx, ORDER_EVENTS, is_order("teapot")).await;
        assert_eq!(event.message.order_id, placed[0].0.id);
        assert_eq!(event.msg_id, placed[0].1);
        assert_eq!(event.read_ct, 0, "looking does not read the event");
        // Not committed yet: no one else sees it.
        assert_not_sent(&mut other, ORDER_EVENTS, is_order("teapot")).await;
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_sent(&mut other, ORDER_EVENTS, is_order("teapot")).await;
    Ok(())
}

/// A rolled-back order leaves no event behind.
#[tokio::test]
async fn a_declined_order_sends_nothing() -> Result<(), BoxError> {
    let (_db, mut conn) = service().await?;
    let outbox = orders::outbox()?;
    let declined = conn
        .transaction(async |tx| {
            orders::place_orders(tx, &outbox, &["ghost"]).await?;
            assert_sent(tx, ORDER_EVENTS, is_order("ghost")).await;
            Err::<(), BoxError>("payment declined".into())
        })
        .await;
    assert!(declined.is_err());
    assert_not_sent(&mut conn, ORDER_EVENTS, is_order("ghost")).await;
    assert!(
        sent::<OrderCreated>(&mut conn, ORDER_EVENTS)
            .await?
            .is_empty()
    );
    Ok(())
}

/// The service's transactional consumer, run inline over what the test placed: every
/// order shipped once, every event acknowledged.
#[tokio::test]
async fn the_consumer_ships_every_order_once() -> Result<(), BoxError> {
    let (db, mut conn) = service().await?;
    let outbox = orders::outbox()?;
    let placed = orders::place_orders(&mut conn, &outbox, &["teapot", "kettle"]).await?;
    let consumer = orders::consumer(
        DieselBackend::new(pool(&db).await?),
        ConsumerConfig::new(ORDER_EVENTS).with_concurrency(2),
    );
    let run = inline::run(&consumer).await?;
    let mut handled: Vec<i64> = run.outcomes.iter().map(|o| o.msg_id).collect();
    handled.sort_unstable();
    let mut expected: Vec<i64> = placed.iter().map(|(_, id)| *id).collect();
    expected.sort_unstable();
    assert_eq!(handled, expected, "{run:?}");
    assert!(
        run.outcomes
            .iter()
            .all(|o| o.kind == OutcomeKind::Processed),
        "{run:?}"
    );
    assert_eq!(run.stats.processed, 2);
    assert_eq!(orders::shipped(&mut conn).await?, 2);
    assert!(
        sent::<OrderCreated>(&mut conn, ORDER_EVENTS)
            .await?
            .is_empty()
    );
    Ok(())
}

/// A shipment that cannot be recorded fails its attempt (the transaction rolls back, so
/// the event stays queued and comes back), and on the last attempt the event goes to the
/// dead-letter queue.
#[tokio::test]
async fn a_failing_shipment_is_retried_then_dead_lettered() -> Result<(), BoxError> {
    let (db, mut conn) = service().await?;
    let dlq = QueueName::from_static("order_events_dlq");
    conn.create_queue(&dlq).await?;
    let outbox = orders::outbox()?;
    let placed = orders::place_orders(&mut conn, &outbox, &["anvil"]).await?;
    let (order, msg_id) = (&placed[0].0, placed[0].1);
    // Already shipped by hand: the handler's insert hits the primary key.
    diesel::sql_query("INSERT INTO shipments VALUES ($1)")
        .bind::<diesel::sql_types::Int4, _>(order.id)
        .execute(&mut conn)
        .await?;
    // No backoff, so the retry comes within the same run.
    let consumer = orders::consumer(
        DieselBackend::new(pool(&db).await?),
        ConsumerConfig::new(ORDER_EVENTS)
            .with_concurrency(1)
            .with_retry(RetryPolicy {
                max_attempts: 2,
                initial: Duration::ZERO,
                max: Duration::ZERO,
                ..RetryPolicy::default()
            })
            .with_failure_destination(FailureDestination::DeadLetter(dlq.clone())),
    );

    let run = inline::run(&consumer).await?;
    let attempts: Vec<_> = run.outcomes.iter().filter(|o| o.msg_id == msg_id).collect();
    assert_eq!(attempts.len(), 2, "{run:?}");
    assert_eq!(attempts[0].attempt, 1);
    let OutcomeKind::Retried { error } = &attempts[0].kind else {
        panic!("expected a retry first: {run:?}");
    };
    assert!(error.contains("duplicate key"), "{error}");
    assert_eq!(attempts[1].attempt, 2);
    assert!(
        matches!(&attempts[1].kind, OutcomeKind::DeadLettered { error } if error.contains("duplicate key")),
        "{run:?}"
    );
    assert_eq!((run.stats.retried, run.stats.dead_lettered), (1, 1));
    assert_eq!(
        orders::shipped(&mut conn).await?,
        1,
        "only the hand-made shipment"
    );
    assert_not_sent(&mut conn, ORDER_EVENTS, is_order("anvil")).await;
    assert_sent(&mut conn, &dlq, |m: &Message<serde_json::Value>| {
        m.message["item"] == "anvil"
    })
    .await;
    Ok(())
}

/// A handler that never returns fails the run at the caller's bound instead of hanging
/// the test.
#[tokio::test]
async fn an_inline_run_is_bounded() -> Result<(), BoxError> {
    let (db, mut conn) = service().await?;
    let outbox = orders::outbox()?;
    orders::place_orders(&mut conn, &outbox, &["sloth"]).await?;
    let consumer = diesel_pgmq::consumer::Consumer::new(
        DieselBackend::new(pool(&db).await?),
        ConsumerConfig::new(ORDER_EVENTS).with_shutdown_deadline(Duration::from_millis(100)),
        |_m: Message<OrderCreated>| async {
            std::future::pending::<()>().await;
            Ok::<(), BoxError>(())
        },
    );
    let started = std::time::Instant::now();
    let run = inline::run_within(&consumer, Duration::from_millis(500)).await;
    assert!(
        matches!(run, Err(diesel_pgmq::Error::Timeout { .. })),
        "{run:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Released at the shutdown: the event is back, visible, for the next consumer.
    let event = assert_sent(&mut conn, ORDER_EVENTS, is_order("sloth")).await;
    assert!(event.vt <= chrono::Utc::now(), "{event:?}");
    Ok(())
}
