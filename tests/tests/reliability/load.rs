//! Load: producers on all three clients and consumers on both ORMs (hand-written batch
//! consumers on Diesel sync and diesel-async, the blocking consumer on sync Diesel, the
//! consumer runtime on SeaORM and on
//! diesel-async, all transactional) move 100,000 messages; the ledger proves each was
//! processed exactly once and the queue ends empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::{Array, BigInt, Text};
use diesel::{Connection, PgConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use pgmq_harness::TestDb;
use pgmq_orm_core::{BatchSize, BoxError, QueueName, VisibilityTimeout};
use sea_orm_pgmq::consumer::{CancellationToken, ConsumerConfig, SeaOrmBackend, Transactional};

use crate::support::{Job, Record, Res, create_ledger, diesel_pool, ledger_counts, seaorm};

/// Messages moved by [`hundred_thousand_messages_processed_exactly_once`].
const TOTAL: i64 = 100_000;
const QUEUE: &str = "load";
/// Producers: two per client (diesel sync, diesel-async, SeaORM).
const PRODUCERS: i64 = 6;
/// Messages per `send_batch` call.
const SEND_CHUNK: usize = 1_000;
/// Messages per read of the hand-written Diesel consumers.
const READ_BATCH: usize = 250;
const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

fn jobs(producer: i64) -> Vec<Job> {
    let per = TOTAL / PRODUCERS;
    let start = producer * per;
    let end = if producer == PRODUCERS - 1 {
        TOTAL
    } else {
        start + per
    };
    (start..end).map(|id| Job { id }).collect()
}

const INSERT_BATCH: &str = "INSERT INTO processed (payload_id, msg_id, worker) \
     SELECT p, m, $3 FROM unnest($1::bigint[], $2::bigint[]) AS t(p, m)";

/// A Diesel (sync) consumer: in one transaction, read a batch, record it, delete it.
fn diesel_sync_consumer(url: &str, stop: &AtomicBool, done: &AtomicU64) -> Res {
    use diesel::RunQueryDsl;
    use diesel_pgmq::PgmqConnectionExt;
    let mut conn = PgConnection::establish(url)?;
    let qty = BatchSize::new(READ_BATCH)?;
    while !stop.load(Ordering::Relaxed) {
        let n = conn.transaction(|c| {
            let msgs = c.read::<Job>(QUEUE, VT, qty)?;
            let msg_ids: Vec<i64> = msgs.iter().map(|m| m.msg_id).collect();
            let payload_ids: Vec<i64> = msgs.iter().map(|m| m.message.id).collect();
            if msgs.is_empty() {
                return Ok::<_, BoxError>(0);
            }
            diesel::sql_query(INSERT_BATCH)
                .bind::<Array<BigInt>, _>(&payload_ids)
                .bind::<Array<BigInt>, _>(&msg_ids)
                .bind::<Text, _>("diesel-sync")
                .execute(c)?;
            let deleted = c.delete_batch(QUEUE, &msg_ids)?;
            if deleted.len() != msg_ids.len() {
                return Err("a read message was already gone".into());
            }
            Ok(msgs.len())
        })?;
        done.fetch_add(n as u64, Ordering::Relaxed);
        if n == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// The same consumer on diesel-async.
async fn diesel_async_consumer(url: String, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> Res {
    use diesel_pgmq::PgmqAsyncConnectionExt;
    let mut conn = AsyncPgConnection::establish(&url).await?;
    let qty = BatchSize::new(READ_BATCH)?;
    while !stop.load(Ordering::Relaxed) {
        let n = conn
            .transaction(async |c| {
                use diesel_async::RunQueryDsl;
                let msgs = c.read::<Job>(QUEUE, VT, qty).await?;
                let msg_ids: Vec<i64> = msgs.iter().map(|m| m.msg_id).collect();
                let payload_ids: Vec<i64> = msgs.iter().map(|m| m.message.id).collect();
                if msgs.is_empty() {
                    return Ok::<_, BoxError>(0);
                }
                diesel::sql_query(INSERT_BATCH)
                    .bind::<Array<BigInt>, _>(&payload_ids)
                    .bind::<Array<BigInt>, _>(&msg_ids)
                    .bind::<Text, _>("diesel-async")
                    .execute(c)
                    .await?;
                let deleted = c.delete_batch(QUEUE, &msg_ids).await?;
                if deleted.len() != msg_ids.len() {
                    return Err("a read message was already gone".into());
                }
                Ok(msgs.len())
            })
            .await?;
        done.fetch_add(n as u64, Ordering::Relaxed);
        if n == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_thousand_messages_processed_exactly_once() -> Res {
    let tdb = TestDb::new();
    let url = tdb.url().to_owned();
    let db = seaorm(&url, 4).await?;
    create_ledger(&db).await?;
    let queue = QueueName::new(QUEUE)?;
    {
        use sea_orm_pgmq::PgmqConnectionExt;
        db.create_unlogged_queue(&queue).await?;
    }
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let cancel = CancellationToken::new();

    // Consumers first, so they run while the producers send.
    let sync_done = Arc::new(AtomicU64::new(0));
    let sync_consumer = std::thread::spawn({
        let (url, stop, done) = (url.clone(), Arc::clone(&stop), Arc::clone(&sync_done));
        move || diesel_sync_consumer(&url, &stop, &done).map_err(|e| e.to_string())
    });
    let async_done = Arc::new(AtomicU64::new(0));
    let async_consumer = tokio::spawn(diesel_async_consumer(
        url.clone(),
        Arc::clone(&stop),
        Arc::clone(&async_done),
    ));
    let mut seaorm_consumers = Vec::new();
    for worker in ["seaorm-1", "seaorm-2"] {
        let pool = seaorm(&url, 10).await?;
        let config = ConsumerConfig::new(queue.clone())
            .with_batch_size(16)
            .with_concurrency(8)
            .with_poll_interval(Duration::from_millis(50));
        let consumer = Arc::new(Transactional::consumer(
            SeaOrmBackend::new(pool),
            config,
            Record { worker },
        ));
        let run = tokio::spawn({
            let (c, t) = (Arc::clone(&consumer), cancel.clone());
            async move { c.run(t).await }
        });
        seaorm_consumers.push((consumer, run));
    }
    let mut diesel_consumers = Vec::new();
    for worker in ["diesel-runtime-1", "diesel-runtime-2"] {
        let pool = diesel_pool(&url, 10).await?;
        let config = ConsumerConfig::new(queue.clone())
            .with_batch_size(16)
            .with_concurrency(8)
            .with_poll_interval(Duration::from_millis(50));
        let consumer = Arc::new(diesel_pgmq::consumer::Transactional::consumer(
            diesel_pgmq::consumer::DieselBackend::new(pool),
            config,
            Record { worker },
        ));
        let run = tokio::spawn({
            let (c, t) = (Arc::clone(&consumer), cancel.clone());
            async move { c.run(t).await }
        });
        diesel_consumers.push((consumer, run));
    }

    // The blocking consumer on sync Diesel: std threads on an r2d2 pool, recording on the
    // `&mut PgConnection` of the transaction that deletes the message.
    let blocking_stop = diesel_pgmq::sync_consumer::StopToken::new();
    let blocking = Arc::new(diesel_pgmq::sync_consumer::SyncTransactional::consumer(
        diesel_pgmq::sync_consumer::SyncBackend::new(crate::sync_consumer::pool(&url, 10)?),
        ConsumerConfig::new(queue.clone())
            .with_batch_size(16)
            .with_concurrency(8)
            .with_poll_interval(Duration::from_millis(50)),
        |conn: &mut PgConnection, m: pgmq_orm_core::Message<Job>| {
            crate::sync_consumer::record(conn, &m, "diesel-blocking")
        },
    ));
    let blocking_run = tokio::task::spawn_blocking({
        let (c, s) = (Arc::clone(&blocking), blocking_stop.clone());
        move || c.run(&s)
    });

    // Producers: two per client, each sending its own range of ids in batches.
    let mut sync_producers = Vec::new();
    for p in 0..2 {
        let url = url.clone();
        sync_producers.push(std::thread::spawn(move || -> Result<(), String> {
            use diesel_pgmq::PgmqConnectionExt;
            let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
            for chunk in jobs(p).chunks(SEND_CHUNK) {
                conn.send_batch(QUEUE, chunk).map_err(|e| e.to_string())?;
            }
            Ok(())
        }));
    }
    let mut async_producers = Vec::new();
    for p in 2..4 {
        let url = url.clone();
        async_producers.push(tokio::spawn(async move {
            use diesel_pgmq::PgmqAsyncConnectionExt;
            let mut conn = AsyncPgConnection::establish(&url).await?;
            for chunk in jobs(p).chunks(SEND_CHUNK) {
                conn.send_batch(QUEUE, chunk).await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for p in 4..6 {
        let db = db.clone();
        async_producers.push(tokio::spawn(async move {
            use sea_orm_pgmq::PgmqConnectionExt;
            for chunk in jobs(p).chunks(SEND_CHUNK) {
                db.send_batch(QUEUE, chunk).await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for p in sync_producers {
        p.join().map_err(|_| "producer panicked")??;
    }
    for p in async_producers {
        p.await??;
    }
    let sent_in = started.elapsed();

    // Wait for the ledger to hold every message (or give up after a generous limit).
    let limit = Instant::now() + Duration::from_secs(170);
    while ledger_counts(&db).await?.0 < TOTAL && Instant::now() < limit {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained_in = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    cancel.cancel();
    blocking_stop.stop();
    blocking_run.await??;
    let blocking_stats = blocking.stats();
    assert_eq!(
        blocking_stats.dead_lettered + blocking_stats.decode_failed,
        0,
        "{blocking_stats:?}"
    );
    sync_consumer.join().map_err(|_| "consumer panicked")??;
    async_consumer.await??;
    let mut seaorm_processed = Vec::new();
    for (consumer, run) in seaorm_consumers {
        run.await??;
        let stats = consumer.stats();
        assert_eq!(stats.dead_lettered + stats.decode_failed, 0, "{stats:?}");
        seaorm_processed.push(stats.processed);
    }
    let mut runtime_processed = Vec::new();
    for (consumer, run) in diesel_consumers {
        run.await??;
        let stats = consumer.stats();
        assert_eq!(stats.dead_lettered + stats.decode_failed, 0, "{stats:?}");
        runtime_processed.push(stats.processed);
    }

    let (rows, distinct) = ledger_counts(&db).await?;
    assert_eq!(distinct, TOTAL, "messages lost");
    assert_eq!(rows, TOTAL, "messages processed twice");
    let span: (i64, i64) = {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let r = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT min(payload_id) AS lo, max(payload_id) AS hi FROM processed",
            ))
            .await?
            .ok_or("no row")?;
        (r.try_get("", "lo")?, r.try_get("", "hi")?)
    };
    assert_eq!(span, (0, TOTAL - 1));
    {
        use sea_orm_pgmq::PgmqConnectionExt;
        let m = db.metrics(QUEUE).await?;
        assert_eq!(m.queue_length, 0, "messages left in the queue");
        assert_eq!(m.total_messages, TOTAL, "every send was counted once");
    }
    let by_worker = (
        sync_done.load(Ordering::Relaxed),
        async_done.load(Ordering::Relaxed),
        seaorm_processed,
        runtime_processed,
    );
    eprintln!(
        "load: {TOTAL} messages, {PRODUCERS} producers (diesel sync, diesel-async, SeaORM), \
         7 consumers; sent in {sent_in:.1?}, all processed in {drained_in:.1?}; processed by \
         batch diesel-sync {}, batch diesel-async {}, SeaORM runtime {:?}, diesel-async \
         runtime {:?}, blocking diesel-sync runtime {}; lost 0, twice 0, left 0",
        by_worker.0, by_worker.1, by_worker.2, by_worker.3, blocking_stats.processed
    );
    Ok(())
}
