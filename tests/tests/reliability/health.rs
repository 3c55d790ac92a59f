//! Queue health and archive retention, through every client: what an operator watches
//! (depth, age, dead tuples, sizes, the default partition) and the bounded clean-up of an
//! archive.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use pgmq_harness::TestDb;
use pgmq_orm_core::{BatchSize, QueueHealth};
use sea_orm::ConnectionTrait;

use crate::support::{Res, seaorm};

/// The health of `q` as each client reads it: diesel sync, diesel-async, SeaORM.
async fn health_everywhere(
    url: &str,
    q: &str,
) -> Result<[QueueHealth; 3], Box<dyn std::error::Error + Send + Sync>> {
    let sync = {
        use diesel_pgmq::PgmqConnectionExt;
        PgConnection::establish(url)?.queue_health(q)?
    };
    let asynch = {
        use diesel_pgmq::PgmqAsyncConnectionExt;
        AsyncPgConnection::establish(url)
            .await?
            .queue_health(q)
            .await?
    };
    let sea = {
        use sea_orm_pgmq::PgmqConnectionExt;
        seaorm(url, 1).await?.queue_health(q).await?
    };
    Ok([sync, asynch, sea])
}

#[tokio::test]
async fn queue_health_sees_depth_age_dead_tuples_and_vacuum_in_every_client() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    conn.create_queue("watched")?;
    let ids = conn.send_batch("watched", &(0..200).collect::<Vec<i32>>())?;
    assert_eq!(conn.delete_batch("watched", &ids[..150])?.len(), 150);
    let _ = conn.read::<i32>(
        "watched",
        diesel_pgmq::VisibilityTimeout::Seconds(60),
        BatchSize::new(10)?,
    )?;
    // The deleting session's statistics reach the server at its next report.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_stat_force_next_flush()"),
        &mut conn,
    )?;
    diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut conn)?;
    let start = Instant::now();
    let mut seen = health_everywhere(db.url(), "watched").await?;
    while seen[0].dead_tuples < 150 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = health_everywhere(db.url(), "watched").await?;
    }
    for h in &seen {
        assert_eq!(
            (h.queue_name.as_str(), h.depth, h.visible_depth),
            ("watched", 50, 40)
        );
        assert_eq!(h.in_flight(), 10);
        assert!(h.oldest_age_sec.is_some_and(|a| a >= 0));
        assert!(h.dead_tuples >= 150, "{h:?}");
        assert!(h.table_bytes > 0 && h.index_bytes > 0, "{h:?}");
        assert_eq!(h.default_partition_length, None);
    }
    assert!(seen[0].last_vacuum.is_none());
    let sea = seaorm(db.url(), 1).await?;
    sea.execute_unprepared("VACUUM pgmq.q_watched").await?;
    let start = Instant::now();
    let mut after = health_everywhere(db.url(), "watched").await?;
    while after[2].last_vacuum.is_none() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = health_everywhere(db.url(), "watched").await?;
    }
    for h in &after {
        assert!(h.last_vacuum.is_some(), "{h:?}");
        assert_eq!(h.dead_tuples, 0, "vacuum reclaimed them: {h:?}");
    }
    Ok(())
}

#[tokio::test]
async fn a_partitioned_queue_reports_its_default_partition() -> Res {
    use sea_orm_pgmq::PgmqConnectionExt;
    let db = TestDb::new();
    if !db.optional_extension(
        "pg_partman",
        "a_partitioned_queue_reports_its_default_partition",
    ) {
        return Ok(());
    }
    let sea = seaorm(db.url(), 1).await?;
    sea.create_partitioned_queue("parted", "10", "1000").await?;
    sea.send_batch("parted", &(0..200).collect::<Vec<i32>>())
        .await?;
    for h in health_everywhere(db.url(), "parted").await? {
        assert_eq!(h.depth, 200);
        // Only a few partitions of 10 ids are made ahead: the rest overflowed.
        let overflow = h.default_partition_length.expect("a partitioned queue");
        assert!(overflow > 0 && overflow < 200, "{h:?}");
        assert!(h.table_bytes > 0, "summed over the partitions: {h:?}");
    }
    Ok(())
}

#[tokio::test]
async fn archive_retention_deletes_only_old_rows_in_bounded_batches_in_every_client() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let db = TestDb::new();
    let mut sync = PgConnection::establish(db.url())?;
    let sea = seaorm(db.url(), 1).await?;
    let week = Duration::from_secs(7 * 24 * 3600);
    let batch = BatchSize::new(7)?;
    for (n, q) in ["kept_sync", "kept_async", "kept_sea"]
        .into_iter()
        .enumerate()
    {
        sync.create_queue(q)?;
        let ids = sync.send_batch(q, &(0..30).collect::<Vec<i32>>())?;
        assert_eq!(sync.archive_batch(q, &ids)?.len(), 30);
        // Twenty were archived long ago.
        sea.execute_unprepared(&format!(
            "UPDATE pgmq.a_{q} SET archived_at = now() - interval '30 days' WHERE msg_id <= {}",
            ids[19]
        ))
        .await?;
        let deleted = match n {
            0 => sync.delete_archived_older_than(q, week, batch)?,
            1 => {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                AsyncPgConnection::establish(db.url())
                    .await?
                    .delete_archived_older_than(q, week, batch)
                    .await?
            }
            _ => {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.delete_archived_older_than(q, week, batch).await?
            }
        };
        assert_eq!(deleted, 20, "{q}");
        let left = sea
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT count(*) AS n, min(msg_id) AS low FROM pgmq.a_{q}"),
            ))
            .await?
            .ok_or("no row")?;
        let (n_left, low): (i64, i64) = (left.try_get("", "n")?, left.try_get("", "low")?);
        assert_eq!((n_left, low), (10, ids[20]), "{q}: the recent ten stay");
    }
    Ok(())
}
