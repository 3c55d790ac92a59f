//! The one-statement outbox (`OutboxExt::enqueue`) on sync Diesel and diesel-async,
//! against a real server with the real pgmq: rows and messages commit and roll back
//! together, one message per returned row, paired by id.
#![cfg(all(feature = "sync", feature = "async"))]

use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Nullable};
use diesel_pgmq::outbox::{Outbox, OutboxExt, Payload};
use diesel_pgmq::{BatchSize, Delay, ErrorKind, Message, PgmqConnectionExt, VisibilityTimeout};
use pgmq_harness::TestDb;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

diesel::table! {
    /// The domain table the outbox writes to.
    orders (id) {
        /// `serial` key.
        id -> Int4,
        /// What was ordered.
        item -> Text,
        /// The total, in cents.
        total_cents -> Int4,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
struct Order {
    id: i32,
    item: String,
    total_cents: i32,
}

#[derive(Insertable)]
#[diesel(table_name = orders)]
struct NewOrder<'a> {
    item: &'a str,
    total_cents: i32,
}

#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct OrderCreated {
    #[serde(rename = "type")]
    kind: String,
    order_id: i32,
    total: i32,
}

const QUEUE: &str = "order_events";
const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);
const TABLE: &str =
    "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, total_cents int4 NOT NULL)";

fn setup() -> (TestDb, PgConnection) {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query(TABLE).execute(&mut conn).unwrap();
    conn.create_queue(QUEUE).unwrap();
    (db, conn)
}

fn outbox() -> Outbox {
    Outbox::new(QUEUE).unwrap()
}

fn new_orders(items: &[&'static str]) -> Vec<NewOrder<'static>> {
    items
        .iter()
        .zip(1..)
        .map(|(item, n)| NewOrder {
            item,
            total_cents: n * 100,
        })
        .collect()
}

/// Every visible message of the queue, oldest first.
fn read_all(conn: &mut PgConnection) -> Vec<Message<Value>> {
    let mut msgs = conn
        .read::<Value>(QUEUE, VT, BatchSize::new(100).unwrap())
        .unwrap();
    msgs.sort_by_key(|m| m.msg_id);
    msgs.strict().unwrap()
}

fn queue_len(conn: &mut PgConnection) -> i64 {
    conn.metrics(QUEUE).unwrap().queue_length
}

fn order_count(conn: &mut PgConnection) -> i64 {
    orders::table.count().get_result(conn).unwrap()
}

fn row_json(o: &Order) -> Value {
    json!({"id": o.id, "item": o.item, "total_cents": o.total_cents})
}

#[test]
fn commit_sends_exactly_one_message_with_the_returned_row() -> R {
    let (_db, mut conn) = setup();
    let sent: Vec<(Order, i64)> = conn.transaction(|conn| {
        diesel::insert_into(orders::table)
            .values(&new_orders(&["book"])[0])
            .returning(Order::as_returning())
            .enqueue(&outbox())
            .get_results(conn)
    })?;
    assert_eq!(sent.len(), 1);
    let (order, msg_id) = &sent[0];
    assert_eq!((order.item.as_str(), order.total_cents), ("book", 100));
    let msgs = read_all(&mut conn);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].msg_id, *msg_id);
    assert_eq!(msgs[0].message, row_json(order));
    assert_eq!(msgs[0].headers, None);
    Ok(())
}

#[test]
fn rollback_leaves_neither_row_nor_message() -> R {
    let (_db, mut conn) = setup();
    let result: Result<(), diesel::result::Error> = conn.transaction(|conn| {
        let sent: Vec<(Order, i64)> = diesel::insert_into(orders::table)
            .values(&new_orders(&["book", "pen"]))
            .returning(Order::as_returning())
            .enqueue(&outbox())
            .get_results(conn)?;
        assert_eq!(sent.len(), 2);
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(result.is_err());
    assert_eq!(order_count(&mut conn), 0);
    assert_eq!(queue_len(&mut conn), 0);
    Ok(())
}

#[test]
fn multi_row_insert_sends_one_message_per_row_paired_by_id() -> R {
    let (_db, mut conn) = setup();
    let sent: Vec<(Order, i64)> = diesel::insert_into(orders::table)
        .values(&new_orders(&["book", "pen", "lamp"]))
        .returning(Order::as_returning())
        .enqueue(&outbox())
        .get_results(&mut conn)?;
    assert_eq!(sent.len(), 3);
    let msgs = read_all(&mut conn);
    assert_eq!(msgs.len(), 3);
    for (order, msg_id) in &sent {
        let msg = msgs
            .iter()
            .find(|m| m.msg_id == *msg_id)
            .expect("a message per row");
        assert_eq!(msg.message, row_json(order));
    }
    let mut ids: Vec<i64> = sent.iter().map(|(_, id)| *id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    Ok(())
}

#[test]
fn insert_without_returning_sends_all_columns() -> R {
    let (_db, mut conn) = setup();
    let (row, msg_id): ((i32, String, i32), i64) = diesel::insert_into(orders::table)
        .values(&new_orders(&["book"])[0])
        .enqueue(&outbox())
        .get_result(&mut conn)?;
    let msg = read_all(&mut conn).remove(0);
    assert_eq!(msg.msg_id, msg_id);
    assert_eq!(
        msg.message,
        json!({"id": row.0, "item": "book", "total_cents": 100})
    );
    Ok(())
}

#[test]
fn update_and_delete_returning_send_the_rows_they_touch() -> R {
    let (_db, mut conn) = setup();
    diesel::insert_into(orders::table)
        .values(&new_orders(&["book", "pen", "lamp"]))
        .execute(&mut conn)?;
    let updated: Vec<(Order, i64)> =
        diesel::update(orders::table.filter(orders::total_cents.ge(200)))
            .set(orders::total_cents.eq(orders::total_cents + 1))
            .returning(Order::as_returning())
            .enqueue(&outbox())
            .get_results(&mut conn)?;
    assert_eq!(updated.len(), 2);
    assert!(updated.iter().all(|(o, _)| o.total_cents % 100 == 1));
    let deleted: Vec<(i32, i64)> = diesel::delete(orders::table.filter(orders::item.eq("book")))
        .returning(orders::id)
        .enqueue(&outbox())
        .get_results(&mut conn)?;
    assert_eq!(deleted.len(), 1);
    let msgs = read_all(&mut conn);
    assert_eq!(msgs.len(), 3);
    for (order, msg_id) in &updated {
        let msg = msgs.iter().find(|m| m.msg_id == *msg_id).unwrap();
        assert_eq!(msg.message, row_json(order));
    }
    let msg = msgs.iter().find(|m| m.msg_id == deleted[0].1).unwrap();
    assert_eq!(msg.message, json!({"id": deleted[0].0}));
    assert_eq!(order_count(&mut conn), 2);
    Ok(())
}

#[test]
fn write_returning_no_rows_sends_nothing() -> R {
    let (_db, mut conn) = setup();
    let sent: Vec<(Order, i64)> = diesel::update(orders::table.filter(orders::id.eq(-1)))
        .set(orders::item.eq("none"))
        .returning(Order::as_returning())
        .enqueue(&outbox())
        .get_results(&mut conn)?;
    assert!(sent.is_empty());
    assert_eq!(queue_len(&mut conn), 0);
    Ok(())
}

#[test]
fn insert_on_conflict_do_nothing_sends_only_for_the_rows_inserted() -> R {
    let (_db, mut conn) = setup();
    diesel::sql_query("CREATE UNIQUE INDEX orders_item ON orders (item)").execute(&mut conn)?;
    let insert = |conn: &mut PgConnection, items: &[&'static str]| {
        diesel::insert_into(orders::table)
            .values(&new_orders(items))
            .on_conflict(orders::item)
            .do_nothing()
            .returning(Order::as_returning())
            .enqueue(&outbox())
            .get_results::<(Order, i64)>(conn)
    };
    let first = insert(&mut conn, &["book", "pen"])?;
    assert_eq!(first.len(), 2);
    // A redelivered request: "book" is already there, only "lamp" is new.
    let again = insert(&mut conn, &["book", "lamp"])?;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0.item, "lamp");
    // Fully duplicated: no row, no message.
    assert!(insert(&mut conn, &["pen", "lamp"])?.is_empty());
    let msgs = read_all(&mut conn);
    let items: Vec<&Value> = msgs.iter().map(|m| &m.message["item"]).collect();
    assert_eq!(items, [&json!("book"), &json!("pen"), &json!("lamp")]);
    assert_eq!(msgs[2].msg_id, again[0].1);
    assert_eq!(order_count(&mut conn), 3);
    Ok(())
}

#[test]
fn mapped_payload_decodes_into_the_event_type() -> R {
    let (_db, mut conn) = setup();
    let outbox = outbox().payload(
        Payload::fields([("order_id", "id"), ("total", "total_cents")])?
            .with("type", "OrderCreated")?,
    );
    let sent: Vec<(Order, i64)> = diesel::insert_into(orders::table)
        .values(&new_orders(&["book", "pen"]))
        .returning(Order::as_returning())
        .enqueue(&outbox)
        .get_results(&mut conn)?;
    let mut msgs = conn.read::<OrderCreated>(QUEUE, VT, BatchSize::new(10)?)?;
    msgs.sort_by_key(|m| m.msg_id);
    let expected: Vec<(i64, OrderCreated)> = sent
        .iter()
        .map(|(o, id)| {
            let ev = OrderCreated {
                kind: "OrderCreated".into(),
                order_id: o.id,
                total: o.total_cents,
            };
            (*id, ev)
        })
        .collect();
    let got: Vec<(i64, OrderCreated)> = msgs.into_iter().map(|m| (m.msg_id, m.message)).collect();
    assert_eq!(got, expected);
    Ok(())
}

#[test]
fn whole_row_with_a_constant_type_field() -> R {
    let (_db, mut conn) = setup();
    let outbox = outbox().payload(Payload::row().with("type", "OrderCreated")?);
    let (order, _): (Order, i64) = diesel::insert_into(orders::table)
        .values(&new_orders(&["book"])[0])
        .returning(Order::as_returning())
        .enqueue(&outbox)
        .get_result(&mut conn)?;
    let mut expected = row_json(&order);
    expected["type"] = json!("OrderCreated");
    assert_eq!(read_all(&mut conn)[0].message, expected);
    Ok(())
}

#[test]
fn custom_jsonb_expression_computes_the_payload() -> R {
    let (_db, mut conn) = setup();
    let event =
        diesel::dsl::sql::<Jsonb>("jsonb_build_object('order_id', id, 'label', upper(item))");
    let (order, msg_id): (Order, i64) = diesel::insert_into(orders::table)
        .values(&new_orders(&["book"])[0])
        .returning(Order::as_returning())
        .enqueue_with(&outbox(), |_| event)
        .get_result(&mut conn)?;
    let msg = read_all(&mut conn).remove(0);
    assert_eq!(msg.msg_id, msg_id);
    assert_eq!(msg.message, json!({"order_id": order.id, "label": "BOOK"}));
    Ok(())
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// `upper(text)`
    fn upper(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The payload over typed columns of the returned row: `w.col(orders::x)` reads the
/// returned row (no `missing FROM-clause entry`), with Diesel functions and constants.
#[test]
fn typed_payload_over_the_written_row_columns() -> R {
    let (_db, mut conn) = setup();
    let sent: Vec<(Order, i64)> = diesel::insert_into(orders::table)
        .values(&new_orders(&["book", "pen"]))
        .returning(Order::as_returning())
        .enqueue_with(&outbox(), |w| {
            w.object()
                .field("order_id", w.col(orders::id))
                .field("label", upper(w.col(orders::item)))
                .field("double", w.col(orders::total_cents) * 2)
                .constant("type", json!("OrderCreated"))
        })
        .get_results(&mut conn)?;
    let msgs = read_all(&mut conn);
    assert_eq!(msgs.len(), 2);
    for ((order, msg_id), msg) in sent.iter().zip(&msgs) {
        assert_eq!(msg.msg_id, *msg_id);
        assert_eq!(
            msg.message,
            json!({"order_id": order.id, "label": order.item.to_uppercase(),
                   "double": order.total_cents * 2, "type": "OrderCreated"})
        );
    }
    // The whole row merged with a constant, on an update.
    let (order, _): (Order, i64) = diesel::update(orders::table.find(sent[0].0.id))
        .set(orders::item.eq("lamp"))
        .returning(Order::as_returning())
        .enqueue_with(&outbox(), |w| {
            w.row()
                .concat(w.object().constant("type", json!("OrderChanged")))
        })
        .get_result(&mut conn)?;
    let mut expected = row_json(&order);
    expected["type"] = json!("OrderChanged");
    assert_eq!(read_all(&mut conn)[0].message, expected); // the first two are claimed
    Ok(())
}

/// `Payload::fields` naming a column the write does not return fails before the
/// statement reaches the server, for each way Diesel lists the returned columns; a
/// correct list runs.
#[test]
fn payload_fields_are_checked_against_the_returned_columns_before_any_sql() -> R {
    let (_db, mut conn) = setup();
    let typo = outbox().payload(Payload::fields([("order_id", "idd")])?);
    let unreturned = outbox().payload(Payload::fields([("total", "total_cents")])?);
    let errors = [
        // Diesel's default: every column of the table.
        diesel::insert_into(orders::table)
            .values(&new_orders(&["book"])[0])
            .enqueue(&typo)
            .get_result::<((i32, String, i32), i64)>(&mut conn)
            .map(drop),
        // A tuple of columns.
        diesel::insert_into(orders::table)
            .values(&new_orders(&["book"])[0])
            .returning((orders::id, orders::item))
            .enqueue(&unreturned)
            .get_result::<((i32, String), i64)>(&mut conn)
            .map(drop),
        // A single column.
        diesel::delete(orders::table)
            .returning(orders::id)
            .enqueue(&unreturned)
            .get_results::<(i32, i64)>(&mut conn)
            .map(drop),
        // `as_returning()`.
        diesel::update(orders::table)
            .set(orders::item.eq("x"))
            .returning(Order::as_returning())
            .enqueue(&typo)
            .get_results::<(Order, i64)>(&mut conn)
            .map(drop),
    ];
    for err in errors {
        let err = diesel_pgmq::Error::from(err.unwrap_err());
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    let msg = diesel_pgmq::Error::from(
        diesel::insert_into(orders::table)
            .values(&new_orders(&["book"])[0])
            .returning((orders::id, orders::item))
            .enqueue(&unreturned)
            .get_result::<((i32, String), i64)>(&mut conn)
            .unwrap_err(),
    )
    .to_string();
    assert!(
        msg.contains("`total_cents`") && msg.contains("id, item"),
        "{msg}"
    );
    assert_eq!((order_count(&mut conn), queue_len(&mut conn)), (0, 0));

    // Returned columns that cover the fields run.
    let ok = diesel::insert_into(orders::table)
        .values(&new_orders(&["book"])[0])
        .returning((orders::id, orders::total_cents))
        .enqueue(&unreturned)
        .get_result::<((i32, i32), i64)>(&mut conn)?;
    assert_eq!(read_all(&mut conn)[0].message, json!({"total": ok.0.1}));
    Ok(())
}

#[test]
fn headers_are_stored_and_delay_hides_messages_until_due() -> R {
    let (_db, mut conn) = setup();
    let headers = json!({"source": "checkout", "x-pgmq-group": "eu"});
    let later = outbox().headers(&headers)?.delay(Delay::Seconds(3600));
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    let until = outbox().headers(&headers)?.delay(Delay::Until(at));
    let due = outbox().headers(&headers)?.delay(Delay::Seconds(0));
    for (o, item) in [(&later, "a"), (&until, "b")] {
        let _: Vec<(Order, i64)> = diesel::insert_into(orders::table)
            .values(&new_orders(&[item]))
            .returning(Order::as_returning())
            .enqueue(o)
            .get_results(&mut conn)?;
    }
    assert!(
        read_all(&mut conn).is_empty(),
        "delayed messages are hidden"
    );
    assert_eq!(queue_len(&mut conn), 2);
    let stored: Vec<Option<Value>> =
        diesel::dsl::sql::<Nullable<Jsonb>>("SELECT headers FROM pgmq.q_order_events")
            .load(&mut conn)?;
    assert_eq!(stored, vec![Some(headers.clone()); 2]);
    let vt_ok: bool = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "SELECT bool_and(vt > now() + interval '59 minutes') FROM pgmq.q_order_events",
    )
    .get_result(&mut conn)?;
    assert!(vt_ok);
    let (_, msg_id): (Order, i64) = diesel::insert_into(orders::table)
        .values(&new_orders(&["c"])[0])
        .returning(Order::as_returning())
        .enqueue(&due)
        .get_result(&mut conn)?;
    let msgs = read_all(&mut conn);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        (msgs[0].msg_id, msgs[0].headers.clone()),
        (msg_id, Some(headers))
    );
    Ok(())
}

#[test]
fn invalid_queue_name_is_a_typed_error_before_any_sql() {
    let err = Outbox::new("Order Events").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQueueName);
    assert_eq!(
        Payload::fields([("k", "")]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn missing_queue_fails_the_whole_statement_and_writes_nothing() -> R {
    let (_db, mut conn) = setup();
    let err = diesel::insert_into(orders::table)
        .values(&new_orders(&["book"]))
        .returning(Order::as_returning())
        .enqueue(&Outbox::new("no_such_queue")?)
        .get_results::<(Order, i64)>(&mut conn)
        .unwrap_err();
    assert_eq!(
        diesel_pgmq::error::from_diesel(err).kind(),
        ErrorKind::QueueMissing
    );
    assert_eq!(order_count(&mut conn), 0);
    Ok(())
}

mod async_diesel {
    use super::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    async fn setup() -> (TestDb, AsyncPgConnection) {
        let db = TestDb::new();
        let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
        diesel::sql_query(TABLE).execute(&mut conn).await.unwrap();
        diesel_pgmq::PgmqAsyncConnectionExt::create_queue(&mut conn, QUEUE)
            .await
            .unwrap();
        (db, conn)
    }

    async fn read_all(conn: &mut AsyncPgConnection) -> Vec<Message<Value>> {
        let mut msgs = diesel_pgmq::PgmqAsyncConnectionExt::read::<Value>(
            conn,
            QUEUE,
            VT,
            BatchSize::new(100).unwrap(),
        )
        .await
        .unwrap();
        msgs.sort_by_key(|m| m.msg_id);
        msgs.strict().unwrap()
    }

    #[tokio::test]
    async fn commit_sends_one_message_per_row_paired_by_id() -> R {
        let (_db, mut conn) = setup().await;
        let outbox = outbox();
        let sent: Vec<(Order, i64)> = conn
            .transaction(async |conn| {
                diesel::insert_into(orders::table)
                    .values(&new_orders(&["book", "pen"]))
                    .returning(Order::as_returning())
                    .enqueue(&outbox)
                    .get_results(conn)
                    .await
            })
            .await?;
        assert_eq!(sent.len(), 2);
        let msgs = read_all(&mut conn).await;
        assert_eq!(msgs.len(), 2);
        for (order, msg_id) in &sent {
            let msg = msgs.iter().find(|m| m.msg_id == *msg_id).unwrap();
            assert_eq!(msg.message, row_json(order));
        }
        Ok(())
    }

    #[tokio::test]
    async fn rollback_leaves_neither_row_nor_message() -> R {
        let (_db, mut conn) = setup().await;
        let outbox = outbox();
        let result: Result<(), diesel::result::Error> = conn
            .transaction(async |conn| {
                let sent: Vec<(Order, i64)> = diesel::insert_into(orders::table)
                    .values(&new_orders(&["book"]))
                    .returning(Order::as_returning())
                    .enqueue(&outbox)
                    .get_results(conn)
                    .await?;
                assert_eq!(sent.len(), 1);
                Err(diesel::result::Error::RollbackTransaction)
            })
            .await;
        assert!(result.is_err());
        assert!(read_all(&mut conn).await.is_empty());
        let n: i64 = orders::table.count().get_result(&mut conn).await?;
        assert_eq!(n, 0);
        let len = diesel_pgmq::PgmqAsyncConnectionExt::metrics(&mut conn, QUEUE)
            .await?
            .queue_length;
        assert_eq!(len, 0);
        Ok(())
    }

    #[tokio::test]
    async fn empty_write_sends_nothing_and_headers_with_delay_apply() -> R {
        let (_db, mut conn) = setup().await;
        let none: Vec<(i32, i64)> = diesel::delete(orders::table)
            .returning(orders::id)
            .enqueue(&outbox())
            .get_results(&mut conn)
            .await?;
        assert!(none.is_empty());
        let headers = json!({"trace": "t-1"});
        let delayed = outbox().headers(&headers)?.delay(Delay::Seconds(3600));
        let sent: Vec<(Order, i64)> = diesel::insert_into(orders::table)
            .values(&new_orders(&["book"]))
            .returning(Order::as_returning())
            .enqueue(&delayed)
            .get_results(&mut conn)
            .await?;
        assert_eq!(sent.len(), 1);
        assert!(read_all(&mut conn).await.is_empty());
        let stored: Option<Value> =
            diesel::dsl::sql::<Nullable<Jsonb>>("SELECT headers FROM pgmq.q_order_events")
                .get_result(&mut conn)
                .await?;
        assert_eq!(stored, Some(headers));
        Ok(())
    }
}
