//! Composing Diesel queries with pgmq: the row-returning functions as typed query sources
//! (`diesel_pgmq::sources`), joined with application tables and queue tables, used as
//! subqueries, on sync Diesel and diesel-async, against a real server and real pgmq.

use diesel::prelude::*;
use diesel_pgmq::sources::{self, messages, metrics, queues};
use diesel_pgmq::{BatchSize, PgmqConnectionExt, QueueName, VisibilityTimeout, query};
use pgmq_harness::{PgmqVersions, TestDb};
use serde_json::json;

type R = Result<(), Box<dyn std::error::Error>>;

diesel::table! {
    /// An application table whose rows point at messages.
    orders (id) {
        /// `serial` key.
        id -> Int4,
        /// What was ordered.
        item -> Text,
        /// The message announcing the order, if one was sent.
        msg_id -> Nullable<Int8>,
    }
}
diesel_pgmq::pgmq_tables! {
    /// The queue the tests send to.
    pub mod jobs { queue: q_jobs, archive: a_jobs }
}
diesel_pgmq::allow_pgmq_sources_in_same_query!(orders, messages, metrics);
diesel_pgmq::allow_pgmq_sources_in_same_query!(jobs::queue, metrics);

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);
const JOBS: QueueName = jobs::QUEUE;

fn batch(n: usize) -> BatchSize {
    BatchSize::new(n).unwrap()
}

/// A database with the `jobs` queue and an `orders` table whose rows point at messages.
fn setup() -> (TestDb, PgConnection) {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.create_queue(&JOBS).unwrap();
    diesel::sql_query(
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, msg_id bigint)",
    )
    .execute(&mut conn)
    .unwrap();
    (db, conn)
}

/// Sends one message per item and inserts its order pointing at it.
fn place(conn: &mut PgConnection, items: &[&str]) -> Vec<i64> {
    items
        .iter()
        .map(|item| {
            let id = conn.send(&JOBS, &json!({ "item": item })).unwrap();
            diesel::insert_into(orders::table)
                .values((orders::item.eq(*item), orders::msg_id.eq(id)))
                .execute(conn)
                .unwrap();
            id
        })
        .collect()
}

#[test]
fn a_source_renders_the_call_with_bound_arguments_and_qualified_columns() {
    let source = sources::messages(query::read(&JOBS, VT, batch(5)));
    let q = source
        .filter(messages::read_ct.gt(1))
        .select(messages::msg_id);
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string();
    assert!(
        sql.starts_with(
            r#"SELECT "pgmq_messages"."msg_id" FROM pgmq.read($1, $2, $3) AS "pgmq_messages" WHERE ("pgmq_messages"."read_ct" > $4)"#
        ),
        "{sql}"
    );
    assert!(sql.contains(r#"binds: ["jobs", 30, 5, 1]"#), "{sql}");
}

#[test]
fn a_read_joined_with_an_app_table_claims_and_returns_typed_columns() -> R {
    let (_db, mut conn) = setup();
    let ids = place(&mut conn, &["book", "pen", "lamp"]);
    let rows: Vec<(String, i64, i32, Option<serde_json::Value>)> = orders::table
        .inner_join(
            sources::messages(query::read(&JOBS, VT, batch(2)))
                .on(messages::msg_id.nullable().eq(orders::msg_id)),
        )
        .select((
            orders::item,
            messages::msg_id,
            messages::read_ct,
            messages::message,
        ))
        .order(messages::msg_id)
        .load(&mut conn)?;
    assert_eq!(
        rows,
        [
            ("book".to_owned(), ids[0], 1, Some(json!({"item": "book"}))),
            ("pen".to_owned(), ids[1], 1, Some(json!({"item": "pen"}))),
        ]
    );
    // The read claimed them: only the third is still visible.
    let visible = conn.read::<serde_json::Value>(&JOBS, VT, batch(10))?;
    assert_eq!(
        visible.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        [ids[2]]
    );
    Ok(())
}

#[test]
fn an_app_table_left_joined_with_a_source_sees_null_for_rows_without_a_match() -> R {
    let (_db, mut conn) = setup();
    place(&mut conn, &["book"]);
    diesel::insert_into(orders::table)
        .values(orders::item.eq("unsent"))
        .execute(&mut conn)?;
    let rows: Vec<(String, Option<i32>)> = orders::table
        .left_join(
            sources::messages(query::read(&JOBS, VT, batch(10)))
                .on(messages::msg_id.nullable().eq(orders::msg_id)),
        )
        .select((orders::item, messages::read_ct.nullable()))
        .order(orders::id)
        .load(&mut conn)?;
    assert_eq!(
        rows,
        [("book".to_owned(), Some(1)), ("unsent".to_owned(), None)]
    );
    Ok(())
}

#[test]
fn a_pop_as_subquery_deletes_the_orders_of_the_popped_messages_in_one_statement() -> R {
    let (_db, mut conn) = setup();
    let ids = place(&mut conn, &["book", "pen", "lamp"]);
    let popped = sources::messages(query::pop(&JOBS, batch(2))).select(messages::msg_id.nullable());
    let deleted: Vec<String> = diesel::delete(orders::table.filter(orders::msg_id.eq_any(popped)))
        .returning(orders::item)
        .get_results(&mut conn)?;
    assert_eq!(deleted.len(), 2);
    let left: Vec<Option<i64>> = orders::table.select(orders::msg_id).load(&mut conn)?;
    assert_eq!(left, [Some(ids[2])]);
    assert_eq!(conn.metrics(&JOBS)?.queue_length, 1);
    Ok(())
}

#[test]
fn two_sources_join_and_a_queue_table_joins_a_source() -> R {
    let (_db, mut conn) = setup();
    conn.create_queue("idle")?;
    place(&mut conn, &["book", "pen"]);
    let lengths: Vec<(String, i64)> = sources::queues(query::list_queues())
        .inner_join(
            sources::metrics(query::metrics_all()).on(metrics::queue_name.eq(queues::queue_name)),
        )
        .select((queues::queue_name, metrics::queue_length))
        .order(queues::queue_name)
        .load(&mut conn)?;
    assert_eq!(lengths, [("idle".to_owned(), 0), ("jobs".to_owned(), 2)]);

    // The queue table of `pgmq_tables!` beside its metrics: each message with the
    // queue's length, without claiming anything.
    let rows: Vec<(i64, i64)> = jobs::queue::table
        .inner_join(
            sources::metrics(query::metrics(&JOBS)).on(metrics::queue_name.eq(JOBS.as_str())),
        )
        .select((jobs::queue::msg_id, metrics::queue_length))
        .order(jobs::queue::msg_id)
        .load(&mut conn)?;
    assert_eq!(rows, [(1, 2), (2, 2)]);
    Ok(())
}

/// One source type stands for several pgmq functions (read, pop, set_vt ...): each must
/// run its own SQL, never a prepared statement cached for another under the same type.
#[test]
fn statements_of_one_source_type_never_share_a_prepared_statement() -> R {
    let (_db, mut conn) = setup();
    place(&mut conn, &["book", "pen"]);
    for _ in 0..2 {
        let read: Vec<i64> =
            sources::messages(query::read(&JOBS, VisibilityTimeout::Seconds(0), batch(1)))
                .select(messages::msg_id)
                .load(&mut conn)?;
        assert_eq!(read.len(), 1);
    }
    let popped: Vec<i64> = sources::messages(query::pop(&JOBS, batch(10)))
        .select(messages::msg_id)
        .load(&mut conn)?;
    assert_eq!(popped.len(), 2, "a pop, not the read prepared before it");
    assert_eq!(conn.metrics(&JOBS)?.queue_length, 0);
    Ok(())
}

/// `default_partition_length` came with pgmq 1.13; on 1.11 the column reads as NULL
/// instead of failing the statement.
#[test]
fn a_late_metrics_column_reads_as_null_on_a_pgmq_that_lacks_it() -> R {
    let db = TestDb::with_pgmq_version("1.11.0");
    let mut conn = PgConnection::establish(db.url())?;
    conn.create_queue(&JOBS)?;
    let rows: Vec<(String, Option<i64>)> = sources::metrics(query::metrics(&JOBS))
        .select((metrics::queue_name, metrics::default_partition_length))
        .load(&mut conn)?;
    assert_eq!(rows, [("jobs".to_owned(), None)]);
    Ok(())
}

/// The whole row loads into `query::MessageRow`, which decodes each message on its own.
#[test]
fn all_columns_of_a_message_source_load_into_message_rows() -> R {
    let (_db, mut conn) = setup();
    place(&mut conn, &["book"]);
    let rows: Vec<query::MessageRow> = sources::messages(query::read(&JOBS, VT, batch(10)))
        .select(messages::all_columns)
        .load(&mut conn)?;
    let msg = rows
        .into_iter()
        .next()
        .unwrap()
        .decode::<serde_json::Value>()?;
    assert_eq!(msg.message, json!({"item": "book"}));
    Ok(())
}

mod on_async {
    use super::*;
    // The async `RunQueryDsl`, shadowing the sync one of Diesel's prelude.
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    #[test]
    fn sources_run_on_diesel_async() -> R {
        let (db, mut sync_conn) = setup();
        place(&mut sync_conn, &["book", "pen"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let mut conn = AsyncPgConnection::establish(db.url()).await?;
            let items: Vec<String> = orders::table
                .inner_join(
                    sources::messages(query::read(&JOBS, VT, batch(10)))
                        .on(messages::msg_id.nullable().eq(orders::msg_id)),
                )
                .select(orders::item)
                .order(orders::id)
                .load(&mut conn)
                .await?;
            assert_eq!(items, ["book", "pen"]);
            Ok(())
        })
    }
}

/// A `QueueName` constant (`const` or `static`) goes wherever a queue argument does: in
/// `functions` by value or by reference, in `query` and `sources`, in a statement built
/// once and run later.
#[test]
fn queue_name_constants_are_queue_arguments_everywhere() -> R {
    use diesel_pgmq::functions;
    static EVENTS: QueueName = QueueName::from_static("events");
    let (_db, mut conn) = setup();
    diesel::select(functions::create(&EVENTS)).execute(&mut conn)?;
    // Built now, run below: the statement owns its bound name.
    let stored = diesel::select(functions::send(JOBS, json!({"n": 1})));
    let by_ref = diesel::select(functions::send(&JOBS, json!({"n": 2})));
    let first: i64 = stored.get_result(&mut conn)?;
    let second: i64 = by_ref.get_result(&mut conn)?;
    let third: i64 =
        diesel::select(functions::send(&EVENTS, json!({"n": 3}))).get_result(&mut conn)?;
    assert_eq!((first, second, third), (1, 2, 1));
    let per_queue: Vec<(String, i64)> = sources::metrics(query::metrics_all())
        .select((metrics::queue_name, metrics::queue_length))
        .order(metrics::queue_name)
        .load(&mut conn)?;
    assert_eq!(
        per_queue,
        [("events".to_owned(), 1), ("jobs".to_owned(), 2)]
    );
    Ok(())
}
