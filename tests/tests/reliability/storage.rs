//! What `TableStorage`'s fillfactor does and does not do for a pgmq queue table, measured
//! on the server's own counters. pgmq indexes `vt` (`q_<name>_vt_idx`) and every read
//! moves `vt`, so no read's UPDATE can be HOT (a HOT update must leave every indexed column
//! alone), whatever the fillfactor. What the free room does buy is locality: the new row
//! version lands on the same page instead of extending the table.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Bool};
use diesel_pgmq::migrations::{MigrationHarness, PgmqMigrations, QueueSpec, TableStorage};
use diesel_pgmq::{PgmqConnectionExt, QueueName, VisibilityTimeout};
use pgmq_harness::TestDb;
use pgmq_orm_core::BatchSize;

use crate::support::Res;

#[derive(QueryableByName, Debug, PartialEq)]
struct Updates {
    #[diesel(sql_type = BigInt)]
    upd: i64,
    #[diesel(sql_type = BigInt)]
    hot: i64,
}

#[derive(QueryableByName)]
struct Page {
    #[diesel(sql_type = BigInt)]
    msg_id: i64,
    #[diesel(sql_type = BigInt)]
    page: i64,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Each message's heap page, by id.
fn pages(conn: &mut PgConnection, table: &str) -> QueryResult<Vec<(i64, i64)>> {
    let rows: Vec<Page> = sql_query(format!(
        "SELECT msg_id, (ctid::text::point)[0]::bigint AS page FROM pgmq.{table} ORDER BY msg_id"
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|p| (p.msg_id, p.page)).collect())
}

/// The table's update counters once the server has counted `expected` updates (bounded
/// wait: statistics reach the server at the session's next report).
fn updates(conn: &mut PgConnection, table: &str, expected: i64) -> QueryResult<Updates> {
    let start = Instant::now();
    loop {
        sql_query("SELECT pg_stat_force_next_flush()").execute(conn)?;
        sql_query("SELECT 1").execute(conn)?;
        let u: Updates = sql_query(format!(
            "SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_all_tables \
             WHERE relid = 'pgmq.{table}'::regclass"
        ))
        .get_result(conn)?;
        if u.upd >= expected || start.elapsed() > Duration::from_secs(10) {
            return Ok(u);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One queue with `storage` in a database of its own (the migrations record their
/// steps), 200 messages of 256 B, every one read once. Returns the update counters and
/// how many rows' new versions stayed on their page.
fn read_all_once(name: &'static str, storage: TableStorage) -> QueryResult<(Updates, usize)> {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).expect("connect");
    let spec = QueueSpec::new(QueueName::from_static(name)).storage(storage);
    conn.run_pending_migrations(PgmqMigrations::new().create_queue(spec))
        .expect("migrations");
    let table = format!("q_{name}");
    let payload = "x".repeat(256);
    conn.send_batch(name, &vec![payload; 200]).expect("send");
    let before = pages(&mut conn, &table)?;
    let mut read = 0;
    while read < 200 {
        let batch = conn
            .read::<String>(
                name,
                VisibilityTimeout::Seconds(60),
                BatchSize::new(10).expect("10"),
            )
            .expect("read");
        assert!(!batch.is_empty(), "all 200 are visible");
        read += batch.len();
    }
    let after = pages(&mut conn, &table)?;
    assert_eq!(before.len(), after.len());
    let stayed = before
        .iter()
        .zip(&after)
        .filter(|((id_a, page_a), (id_b, page_b))| id_a == id_b && page_a == page_b)
        .count();
    Ok((updates(&mut conn, &table, 200)?, stayed))
}

#[test]
fn a_fillfactor_leaves_pgmq_reads_non_hot_on_a_plain_queue() -> Res {
    let (default, stayed_default) = read_all_once("packed", TableStorage::new())?;
    let (roomy, stayed_roomy) = read_all_once("roomy", TableStorage::new().fillfactor(50))?;
    // Every read updated its row once, and none of those updates was HOT, with or without
    // room on the page: `vt` is indexed and every read changes it.
    assert_eq!(default, Updates { upd: 200, hot: 0 });
    assert_eq!(roomy, Updates { upd: 200, hot: 0 });
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url())?;
    conn.create_queue("roomy")?;
    let vt_indexed: Flag = sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a \
         ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         WHERE i.indrelid = 'pgmq.q_roomy'::regclass AND a.attname = 'vt') AS flag",
    )
    .get_result(&mut conn)?;
    assert!(vt_indexed.flag, "the reason: pgmq indexes vt");
    // What the room does do: new row versions stay on their page instead of moving
    // elsewhere in the table. Packed pages keep some (pruning the versions earlier reads
    // left dead frees a little room), measured at about half.
    assert!(
        stayed_roomy >= 190 && stayed_default <= 160,
        "rows whose new version stayed on its page: {stayed_roomy} of 200 with fillfactor 50, \
         {stayed_default} of 200 with the default 100"
    );
    Ok(())
}
