//! The one-statement outbox (`OutboxExt::enqueue`) on SeaORM, against a real server with
//! the real pgmq: rows and messages commit and roll back together, one message per
//! returned row, paired by id.

use pgmq_harness::TestDb;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, Set, TransactionTrait,
};
use sea_orm_pgmq::outbox::{Outbox, OutboxExt, Payload};
use sea_orm_pgmq::{BatchSize, Delay, ErrorKind, Message, PgmqConnectionExt, VisibilityTimeout};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub item: String,
        pub total_cents: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A row type of our own for sea-query statements.
#[derive(Debug, PartialEq, FromQueryResult)]
struct OrderId {
    id: i32,
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

async fn setup() -> Result<(TestDb, DatabaseConnection), Box<dyn std::error::Error + Send + Sync>> {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute_unprepared(
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, total_cents int4 NOT NULL)",
    )
    .await?;
    conn.create_queue(QUEUE).await?;
    Ok((db, conn))
}

fn outbox() -> Outbox {
    Outbox::new(QUEUE).expect("valid queue name")
}

fn new_order(item: &str, total_cents: i32) -> order::ActiveModel {
    order::ActiveModel {
        item: Set(item.to_owned()),
        total_cents: Set(total_cents),
        ..Default::default()
    }
}

fn new_orders(items: &[&str]) -> Vec<order::ActiveModel> {
    items
        .iter()
        .zip(1..)
        .map(|(item, n)| new_order(item, n * 100))
        .collect()
}

fn row_json(o: &order::Model) -> Value {
    json!({"id": o.id, "item": o.item, "total_cents": o.total_cents})
}

/// Every visible message of the queue, oldest first.
async fn read_all(conn: &impl ConnectionTrait) -> Vec<Message<Value>> {
    let mut msgs = conn
        .read::<Value>(QUEUE, VT, BatchSize::new(100).expect("batch"))
        .await
        .expect("read");
    msgs.sort_by_key(|m| m.msg_id);
    msgs.strict().expect("all decode")
}

async fn queue_len(conn: &impl ConnectionTrait) -> i64 {
    conn.metrics(QUEUE).await.expect("metrics").queue_length
}

async fn order_count(conn: &impl ConnectionTrait) -> u64 {
    order::Entity::find().count(conn).await.expect("count")
}

/// Each returned row has its own message, whose payload is what `expected` says.
fn assert_paired<M>(sent: &[(M, i64)], msgs: &[Message<Value>], expected: impl Fn(&M) -> Value) {
    assert_eq!(sent.len(), msgs.len(), "one message per row");
    for (row, msg_id) in sent {
        let msg = msgs
            .iter()
            .find(|m| m.msg_id == *msg_id)
            .expect("a message for each row");
        assert_eq!(msg.message, expected(row));
    }
}

#[tokio::test]
async fn commit_sends_exactly_one_message_with_the_returned_row() -> R {
    let (_db, conn) = setup().await?;
    let txn = conn.begin().await?;
    let sent: Vec<(order::Model, i64)> = order::Entity::insert(new_order("book", 100))
        .enqueue(&outbox())
        .all(&txn)
        .await?;
    assert_eq!(queue_len(&conn).await, 0, "not visible before commit");
    txn.commit().await?;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].0.item.as_str(), sent[0].0.total_cents),
        ("book", 100)
    );
    let msgs = read_all(&conn).await;
    assert_eq!(msgs.len(), 1);
    assert_paired(&sent, &msgs, row_json);
    assert_eq!(msgs[0].headers, None);
    Ok(())
}

#[tokio::test]
async fn rollback_leaves_neither_row_nor_message() -> R {
    let (_db, conn) = setup().await?;
    let txn = conn.begin().await?;
    let sent: Vec<(order::Model, i64)> = order::Entity::insert_many(new_orders(&["book", "pen"]))
        .enqueue(&outbox())
        .all(&txn)
        .await?;
    assert_eq!(sent.len(), 2);
    txn.rollback().await?;
    assert_eq!(order_count(&conn).await, 0);
    assert_eq!(queue_len(&conn).await, 0);
    Ok(())
}

#[tokio::test]
async fn multi_row_insert_sends_one_message_per_row_paired_by_id() -> R {
    let (_db, conn) = setup().await?;
    let sent: Vec<(order::Model, i64)> =
        order::Entity::insert_many(new_orders(&["book", "pen", "lamp"]))
            .enqueue(&outbox())
            .all(&conn)
            .await?;
    assert_eq!(sent.len(), 3);
    let msgs = read_all(&conn).await;
    assert_paired(&sent, &msgs, row_json);
    Ok(())
}

#[tokio::test]
async fn sea_query_insert_decodes_into_a_row_type_of_ours() -> R {
    let (_db, conn) = setup().await?;
    let sent: Vec<(OrderId, i64)> = Query::insert()
        .into_table(Alias::new("orders"))
        .columns([Alias::new("item"), Alias::new("total_cents")])
        .values_panic(["book".into(), 5.into()])
        .values_panic(["pen".into(), 7.into()])
        .returning(Query::returning().column(Alias::new("id")))
        .to_owned()
        .enqueue(&outbox())
        .all(&conn)
        .await?;
    let msgs = read_all(&conn).await;
    assert_paired(&sent, &msgs, |r| json!({"id": r.id}));
    Ok(())
}

#[tokio::test]
async fn update_and_delete_returning_send_the_rows_they_touch() -> R {
    let (_db, conn) = setup().await?;
    order::Entity::insert_many(new_orders(&["book", "pen", "lamp"]))
        .exec(&conn)
        .await?;
    let updated: Vec<(order::Model, i64)> = order::Entity::update_many()
        .col_expr(
            order::Column::TotalCents,
            Expr::col(order::Column::TotalCents).add(1),
        )
        .filter(order::Column::TotalCents.gte(200))
        .enqueue(&outbox())
        .all(&conn)
        .await?;
    assert_eq!(updated.len(), 2);
    assert!(updated.iter().all(|(o, _)| o.total_cents % 100 == 1));
    let deleted: Vec<(order::Model, i64)> = order::Entity::delete_many()
        .filter(order::Column::Item.eq("book"))
        .enqueue(&outbox())
        .all(&conn)
        .await?;
    assert_eq!(deleted.len(), 1);
    let via_sea_query: Vec<(OrderId, i64)> = Query::update()
        .table(Alias::new("orders"))
        .value(Alias::new("item"), "LAMP")
        .and_where(Expr::col(Alias::new("item")).eq("lamp"))
        .returning(Query::returning().column(Alias::new("id")))
        .to_owned()
        .enqueue(&outbox())
        .all(&conn)
        .await?;
    assert_eq!(via_sea_query.len(), 1);
    let msgs = read_all(&conn).await;
    assert_eq!(msgs.len(), 4);
    let all: Vec<(order::Model, i64)> = updated.into_iter().chain(deleted).collect();
    let ids: Vec<i64> = all.iter().map(|(_, id)| *id).collect();
    let some: Vec<Message<Value>> = msgs
        .iter()
        .filter(|m| ids.contains(&m.msg_id))
        .cloned()
        .collect();
    assert_paired(&all, &some, row_json);
    assert_eq!(order_count(&conn).await, 2);
    Ok(())
}

#[tokio::test]
async fn write_returning_no_rows_sends_nothing() -> R {
    let (_db, conn) = setup().await?;
    let sent: Vec<(order::Model, i64)> = order::Entity::delete_many()
        .filter(order::Column::Id.eq(-1))
        .enqueue(&outbox())
        .all(&conn)
        .await?;
    assert!(sent.is_empty());
    let none: Vec<(OrderId, i64)> = Query::update()
        .table(Alias::new("orders"))
        .value(Alias::new("item"), "x")
        .returning_all()
        .to_owned()
        .enqueue(&outbox())
        .all(&conn)
        .await?;
    assert!(none.is_empty());
    assert_eq!(queue_len(&conn).await, 0);
    Ok(())
}

#[tokio::test]
async fn insert_on_conflict_do_nothing_sends_only_for_the_rows_inserted() -> R {
    use sea_orm::sea_query::OnConflict;
    let (_db, conn) = setup().await?;
    conn.execute_unprepared("CREATE UNIQUE INDEX orders_item ON orders (item)")
        .await?;
    let insert = |items: &'static [&'static str]| {
        order::Entity::insert_many(new_orders(items))
            .on_conflict(
                OnConflict::column(order::Column::Item)
                    .do_nothing()
                    .to_owned(),
            )
            .enqueue(&outbox())
    };
    let first: Vec<(order::Model, i64)> = insert(&["book", "pen"]).all(&conn).await?;
    assert_eq!(first.len(), 2);
    // A redelivered request: "book" is already there, only "lamp" is new.
    let again: Vec<(order::Model, i64)> = insert(&["book", "lamp"]).all(&conn).await?;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0.item, "lamp");
    // Fully duplicated: no row, no message.
    let none: Vec<(order::Model, i64)> = insert(&["pen", "lamp"]).all(&conn).await?;
    assert!(none.is_empty());
    let msgs = read_all(&conn).await;
    let items: Vec<&Value> = msgs.iter().map(|m| &m.message["item"]).collect();
    assert_eq!(items, [&json!("book"), &json!("pen"), &json!("lamp")]);
    assert_eq!(msgs[2].msg_id, again[0].1);
    assert_eq!(order_count(&conn).await, 3);
    Ok(())
}

#[tokio::test]
async fn mapped_payload_decodes_into_the_event_type() -> R {
    let (_db, conn) = setup().await?;
    let outbox = outbox().payload(
        Payload::fields([("order_id", "id"), ("total", "total_cents")])?
            .with("type", "OrderCreated")?,
    );
    let sent: Vec<(order::Model, i64)> = order::Entity::insert_many(new_orders(&["book", "pen"]))
        .enqueue(&outbox)
        .all(&conn)
        .await?;
    let mut msgs = conn
        .read::<OrderCreated>(QUEUE, VT, BatchSize::new(10)?)
        .await?;
    msgs.sort_by_key(|m| m.msg_id);
    let got: Vec<(i64, OrderCreated)> = msgs.into_iter().map(|m| (m.msg_id, m.message)).collect();
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
    assert_eq!(got, expected);
    Ok(())
}

#[tokio::test]
async fn custom_jsonb_expression_computes_the_payload() -> R {
    let (_db, conn) = setup().await?;
    let event = Func::cust("jsonb_build_object")
        .arg(Expr::val("label").cast_as("text"))
        .arg(Func::upper(Expr::col(Alias::new("item"))));
    let sent: Vec<(order::Model, i64)> = order::Entity::insert(new_order("book", 1))
        .enqueue_with(&outbox(), event.into())
        .all(&conn)
        .await?;
    let msgs = read_all(&conn).await;
    assert_paired(&sent, &msgs, |_| json!({"label": "BOOK"}));
    Ok(())
}

#[tokio::test]
async fn headers_are_stored_and_delay_hides_messages_until_due() -> R {
    let (_db, conn) = setup().await?;
    let headers = json!({"source": "checkout", "x-pgmq-group": "eu"});
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    // Both delay kinds on one connection: their SQL texts differ, so sqlx's statement
    // cache never binds a timestamp where it prepared an integer.
    for delay in [Delay::Seconds(3600), Delay::Until(at), Delay::Seconds(3600)] {
        let o = outbox().headers(&headers)?.delay(delay);
        let _: Vec<(order::Model, i64)> = order::Entity::insert(new_order("a", 1))
            .enqueue(&o)
            .all(&conn)
            .await?;
    }
    assert!(
        read_all(&conn).await.is_empty(),
        "delayed messages are hidden"
    );
    assert_eq!(queue_len(&conn).await, 3);
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT headers, vt > now() + interval '59 minutes' AS later FROM pgmq.q_order_events",
        ))
        .await?;
    for row in &rows {
        assert_eq!(
            row.try_get::<Option<Value>>("", "headers")?,
            Some(headers.clone())
        );
        assert!(row.try_get::<bool>("", "later")?);
    }
    let due = outbox().headers(&headers)?;
    let sent: Vec<(order::Model, i64)> = order::Entity::insert(new_order("b", 2))
        .enqueue(&due)
        .all(&conn)
        .await?;
    let msgs = read_all(&conn).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        (msgs[0].msg_id, msgs[0].headers.clone()),
        (sent[0].1, Some(headers))
    );
    Ok(())
}

#[tokio::test]
async fn bad_input_is_a_typed_error_and_writes_nothing() -> R {
    let (_db, conn) = setup().await?;
    assert_eq!(
        Outbox::new("Order Events").unwrap_err().kind(),
        ErrorKind::InvalidQueueName
    );
    let missing = order::Entity::insert(new_order("book", 1))
        .enqueue(&Outbox::new("no_such_queue")?)
        .all::<order::Model, _>(&conn)
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::QueueMissing);
    let no_returning = Query::insert()
        .into_table(Alias::new("orders"))
        .columns([Alias::new("item"), Alias::new("total_cents")])
        .values_panic(["book".into(), 5.into()])
        .to_owned()
        .enqueue(&outbox())
        .all::<OrderId, _>(&conn)
        .await
        .unwrap_err();
    assert_eq!(no_returning.kind(), ErrorKind::Database);
    assert_eq!(order_count(&conn).await, 0);
    assert_eq!(queue_len(&conn).await, 0);
    Ok(())
}

#[tokio::test]
async fn empty_insert_many_writes_and_sends_nothing() -> R {
    let (_db, conn) = setup().await?;
    let stmt = order::Entity::insert_many(Vec::<order::ActiveModel>::new()).enqueue(&outbox());
    assert!(stmt.query().is_none(), "nothing to run");
    let sent: Vec<(order::Model, i64)> = stmt.all(&conn).await?;
    assert!(sent.is_empty());
    assert_eq!(order_count(&conn).await, 0);
    assert_eq!(queue_len(&conn).await, 0);
    Ok(())
}

/// `Payload::fields` naming a column the write does not return fails before the
/// statement runs, for entity writes (their columns) and for sea-query statements with a
/// `RETURNING` list of plain columns; `RETURNING *` leaves it to the server, which fails
/// the whole statement.
#[tokio::test]
async fn payload_fields_are_checked_against_the_returned_columns() -> R {
    let (_db, conn) = setup().await?;
    let typo = outbox().payload(Payload::fields([("order_id", "idd")])?);
    let unreturned = outbox().payload(Payload::fields([("total", "total_cents")])?);
    let entity = order::Entity::insert(new_order("book", 1))
        .enqueue(&typo)
        .all::<order::Model, _>(&conn)
        .await
        .unwrap_err();
    assert_eq!(entity.kind(), ErrorKind::InvalidArgument, "{entity}");
    assert!(entity.to_string().contains("`idd`"), "{entity}");
    let update = order::Entity::update_many()
        .col_expr(order::Column::Item, Expr::value("x"))
        .enqueue(&typo)
        .all::<order::Model, _>(&conn)
        .await
        .unwrap_err();
    assert_eq!(update.kind(), ErrorKind::InvalidArgument);
    let insert = || {
        Query::insert()
            .into_table(Alias::new("orders"))
            .columns([Alias::new("item"), Alias::new("total_cents")])
            .values_panic(["book".into(), 5.into()])
            .to_owned()
    };
    let listed = insert()
        .returning(Query::returning().columns([Alias::new("id")]))
        .to_owned();
    assert_eq!(listed.returned_columns(), Some(vec!["id".to_owned()]));
    let err = listed
        .enqueue(&unreturned)
        .all::<OrderId, _>(&conn)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // `RETURNING *`: not known before the server, which refuses the whole statement.
    let star = insert()
        .returning_all()
        .to_owned()
        .enqueue(&typo)
        .all::<OrderId, _>(&conn)
        .await
        .unwrap_err();
    assert_eq!(star.kind(), ErrorKind::Database, "{star}");
    assert_eq!(order_count(&conn).await, 0);
    assert_eq!(queue_len(&conn).await, 0);

    // The columns the fields name are returned: it runs.
    let sent: Vec<(order::Model, i64)> = order::Entity::insert(new_order("book", 7))
        .enqueue(&unreturned)
        .all(&conn)
        .await?;
    assert_eq!(sent.len(), 1);
    assert_eq!(read_all(&conn).await[0].message, json!({"total": 7}));
    Ok(())
}
