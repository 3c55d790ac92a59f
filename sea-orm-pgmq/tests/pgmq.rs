//! The SeaORM client against a real pgmq (via pgmq_harness): no mocks.

use chrono::{Duration as ChronoDuration, Utc};
use pgmq_harness::TestDb;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, Set, TransactionTrait,
};
use sea_orm_pgmq::{
    BatchSize, Delay, Error, ErrorKind, PgmqConnectionExt, PollOptions, Queue, QueueName,
    VisibilityTimeout, functions, query,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub item: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderCreated {
    order_id: i32,
    item: String,
}

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

async fn setup() -> Result<(TestDb, DatabaseConnection), Box<dyn std::error::Error + Send + Sync>> {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute_unprepared("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)")
        .await?;
    conn.create_queue("orders").await?;
    Ok((db, conn))
}

fn batch(n: usize) -> BatchSize {
    BatchSize::new(n).expect("valid batch size")
}

async fn queue_len(conn: &impl ConnectionTrait, q: &str) -> i64 {
    conn.metrics(q).await.expect("metrics").queue_length
}

#[tokio::test]
async fn send_read_delete_archive_round_trip_on_connection() -> R {
    let (_db, conn) = setup().await?;
    let ev = OrderCreated {
        order_id: 1,
        item: "book".into(),
    };
    let id = conn.send("orders", &ev).await?;
    let got = conn
        .read::<OrderCreated>("orders", VT, BatchSize::ONE)
        .await?;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg_id, id);
    assert_eq!(got[0].message, ev);
    assert_eq!(got[0].read_ct, 1);
    assert!(got[0].headers.is_none());
    // Invisible while the visibility timeout runs.
    assert!(
        conn.read::<OrderCreated>("orders", VT, BatchSize::ONE)
            .await?
            .is_empty()
    );
    assert!(conn.delete("orders", id).await?);
    assert!(!conn.delete("orders", id).await?);

    let id2 = conn.send("orders", &ev).await?;
    assert!(conn.archive("orders", id2).await?);
    assert!(!conn.archive("orders", id2).await?);
    let archived: i64 = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM pgmq.a_orders",
        ))
        .await?
        .expect("row")
        .try_get("", "n")?;
    assert_eq!(archived, 1);
    assert_eq!(queue_len(&conn, "orders").await, 0);
    Ok(())
}

#[tokio::test]
async fn batches_send_read_delete_and_archive_in_order() -> R {
    let (_db, conn) = setup().await?;
    let msgs: Vec<Value> = (0..5).map(|i| json!({ "n": i })).collect();
    let ids = conn.send_batch("orders", &msgs).await?;
    assert_eq!(ids.len(), 5);
    assert!(conn.send_batch::<Value>("orders", &[]).await?.is_empty());

    let got = conn.read::<Value>("orders", VT, batch(3)).await?;
    assert_eq!(got.len(), 3);
    let got_ids: Vec<i64> = got.iter().map(|m| m.msg_id).collect();
    assert_eq!(got_ids, ids[..3]);

    let mut deleted = conn.delete_batch("orders", &ids[..3]).await?;
    deleted.sort_unstable();
    assert_eq!(deleted, ids[..3]);
    let mut archived = conn
        .archive_batch("orders", &[ids[3], ids[4], 999_999])
        .await?;
    archived.sort_unstable();
    assert_eq!(archived, vec![ids[3], ids[4]]);
    assert_eq!(queue_len(&conn, "orders").await, 0);
    Ok(())
}

#[tokio::test]
async fn empty_batches_and_id_lists_do_nothing() -> R {
    let (_db, conn) = setup().await?;
    let id = conn.send("orders", &1).await?;
    assert!(conn.send_batch::<i32>("orders", &[]).await?.is_empty());
    assert!(
        conn.send_batch_with::<i32, Value>("orders", &[], None, Delay::Seconds(5))
            .await?
            .is_empty()
    );
    assert!(
        conn.send_batch_topic::<i32, Value>("orders.x", &[], None, Delay::Seconds(0))
            .await?
            .is_empty()
    );
    assert_eq!(
        conn.send_batch::<i32>("Bad-Name", &[])
            .await
            .expect_err("bad name")
            .kind(),
        ErrorKind::InvalidQueueName
    );
    let orders: Queue<i32> = Queue::new("orders")?;
    assert!(orders.send_batch(&conn, &[]).await?.is_empty());
    assert!(conn.delete_batch("orders", &[]).await?.is_empty());
    assert!(conn.archive_batch("orders", &[]).await?.is_empty());
    assert!(
        conn.set_vt_batch::<i32>("orders", &[], VisibilityTimeout::Seconds(3600))
            .await?
            .is_empty()
    );
    let left = conn.read::<i32>("orders", VT, batch(10)).await?;
    assert_eq!(left.iter().map(|m| m.msg_id).collect::<Vec<_>>(), [id]);
    Ok(())
}

#[tokio::test]
async fn headers_and_delays_in_seconds_and_timestamps() -> R {
    let (_db, conn) = setup().await?;
    let headers = json!({ "trace": "abc" });
    let now_id = conn
        .send_with(
            "orders",
            &json!({"a": 1}),
            Some(&headers),
            Delay::Seconds(0),
        )
        .await?;
    let sec_id = conn
        .send_with::<_, Value>("orders", &json!({"a": 2}), None, Delay::Seconds(60))
        .await?;
    let ts_id = conn
        .send_with(
            "orders",
            &json!({"a": 3}),
            Some(&headers),
            Delay::Until(Utc::now() + ChronoDuration::minutes(5)),
        )
        .await?;
    let got = conn.read::<Value>("orders", VT, batch(10)).await?;
    assert_eq!(got.len(), 1, "delayed messages stay invisible");
    assert_eq!(got[0].msg_id, now_id);
    assert_eq!(got[0].headers, Some(headers));
    let m = conn.metrics("orders").await?;
    assert_eq!(m.queue_length, 3);
    assert_eq!(m.queue_visible_length, 0);
    assert!(sec_id < ts_id);

    // Make the timestamp-delayed one visible now via set_vt with a timestamp.
    let moved = conn
        .set_vt::<Value>("orders", ts_id, VisibilityTimeout::Until(Utc::now()))
        .await?
        .expect("message exists");
    assert_eq!(moved.msg_id, ts_id);
    let got = conn.read::<Value>("orders", VT, batch(10)).await?;
    assert_eq!(
        got.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
        vec![ts_id]
    );
    Ok(())
}

#[tokio::test]
async fn set_vt_in_seconds_and_missing_message() -> R {
    let (_db, conn) = setup().await?;
    let id = conn.send("orders", &json!(1)).await?;
    let _ = conn.read::<Value>("orders", VT, BatchSize::ONE).await?;
    let m = conn
        .set_vt::<Value>("orders", id, VisibilityTimeout::Seconds(0))
        .await?
        .expect("exists");
    assert!(m.vt <= Utc::now() + ChronoDuration::seconds(1));
    assert_eq!(
        conn.read::<Value>("orders", VT, BatchSize::ONE)
            .await?
            .len(),
        1
    );
    assert!(
        conn.set_vt::<Value>("orders", 424_242, VisibilityTimeout::Seconds(5))
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn pop_reads_and_deletes() -> R {
    let (_db, conn) = setup().await?;
    conn.send_batch("orders", &[json!(1), json!(2), json!(3)])
        .await?;
    let popped = conn.pop::<i32>("orders", batch(2)).await?;
    assert_eq!(
        popped.iter().map(|m| m.message).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(queue_len(&conn, "orders").await, 1);
    Ok(())
}

#[tokio::test]
async fn read_with_poll_times_out_empty_and_sees_new_messages() -> R {
    let (_db, conn) = setup().await?;
    let poll = PollOptions::new(Duration::from_secs(1), Duration::from_millis(50));
    let start = std::time::Instant::now();
    let got = conn
        .read_with_poll::<Value>("orders", VT, BatchSize::ONE, poll)
        .await?;
    assert!(got.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(900));
    conn.send("orders", &json!({"x": 1})).await?;
    let got = conn
        .read_with_poll::<Value>("orders", VT, BatchSize::ONE, poll)
        .await?;
    assert_eq!(got.len(), 1);
    Ok(())
}

#[tokio::test]
async fn queue_lifecycle_create_list_metrics_purge_drop() -> R {
    let (_db, conn) = setup().await?;
    conn.create_unlogged_queue("fast").await?;
    let q = QueueName::new("jobs")?;
    conn.create_queue(&q).await?;
    let mut names: Vec<_> = conn
        .list_queues()
        .await?
        .into_iter()
        .map(|i| (i.queue_name, i.is_unlogged))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("fast".into(), true),
            ("jobs".into(), false),
            ("orders".into(), false)
        ]
    );
    conn.send_batch(&q, &[json!(1), json!(2)]).await?;
    let all = conn.metrics_all().await?;
    assert_eq!(all.len(), 3);
    let jobs = all.iter().find(|m| m.queue_name == "jobs").expect("jobs");
    assert_eq!((jobs.queue_length, jobs.total_messages), (2, 2));
    assert_eq!(conn.purge_queue(&q).await?, 2);
    assert_eq!(queue_len(&conn, "jobs").await, 0);
    assert!(conn.drop_queue(&q).await?);
    assert_eq!(conn.list_queues().await?.len(), 2);
    conn.enable_notify_insert("orders", Duration::from_millis(100))
        .await?;
    conn.disable_notify_insert("orders").await?;
    Ok(())
}

#[tokio::test]
async fn topics_route_to_bound_queues() -> R {
    let (_db, conn) = setup().await?;
    conn.create_queue("audit").await?;
    conn.bind_topic("orders.*", "orders").await?;
    conn.bind_topic("#", "audit").await?;
    let n = conn
        .send_topic::<_, Value>("orders.created", &json!({"id": 1}), None, Delay::Seconds(0))
        .await?;
    assert_eq!(n, 2);
    assert_eq!(queue_len(&conn, "orders").await, 1);
    assert_eq!(queue_len(&conn, "audit").await, 1);
    let stmt = query::test_routing("orders.created");
    let matches = conn.query_all(&stmt).await?;
    assert_eq!(matches.len(), 2);
    Ok(())
}

#[tokio::test]
async fn decode_error_keeps_raw_json_and_message_in_queue() -> R {
    let (_db, conn) = setup().await?;
    let id = conn.send("orders", &json!({"unexpected": true})).await?;
    let mut read = conn
        .read::<OrderCreated>("orders", VisibilityTimeout::Seconds(0), BatchSize::ONE)
        .await?;
    assert!(read.is_empty(), "payload does not match");
    let e = read.take_undecodable().remove(0);
    assert_eq!(e.msg_id, id);
    assert_eq!(e.message.to_value()?, json!({"unexpected": true}));
    assert_eq!(queue_len(&conn, "orders").await, 1);
    let again = conn.read::<Value>("orders", VT, BatchSize::ONE).await?;
    assert_eq!(again[0].msg_id, id);
    Ok(())
}

#[tokio::test]
async fn invalid_queue_name_fails_before_any_sql() -> R {
    // Rejected by name validation, so nothing reaches the server.
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    let err = conn.send("Bad-Name", &json!(1)).await.expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::InvalidQueueName);
    let err = conn.create_queue("has space").await.expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::InvalidQueueName);
    assert!(matches!(
        Queue::<Value>::new("UPPER"),
        Err(Error::InvalidQueueName(_))
    ));
    // Nothing was created.
    assert!(conn.list_queues().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn missing_queue_is_queue_missing() -> R {
    let (_db, conn) = setup().await?;
    let err = conn.send("nope", &json!(1)).await.expect_err("missing");
    assert!(
        matches!(&err, Error::QueueMissing { queue, .. } if queue == "nope"),
        "{err:?}"
    );
    let err = conn
        .read::<Value>("nope", VT, BatchSize::ONE)
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::QueueMissing);
    Ok(())
}

#[tokio::test]
async fn round_trip_inside_a_transaction() -> R {
    let (_db, conn) = setup().await?;
    let txn = conn.begin().await?;
    let id = txn.send("orders", &json!({"t": 1})).await?;
    let got = txn.read::<Value>("orders", VT, BatchSize::ONE).await?;
    assert_eq!(got[0].msg_id, id);
    assert!(
        txn.set_vt::<Value>("orders", id, VisibilityTimeout::Seconds(0))
            .await?
            .is_some()
    );
    assert_eq!(txn.pop::<Value>("orders", BatchSize::ONE).await?.len(), 1);
    let id2 = txn.send("orders", &json!({"t": 2})).await?;
    assert!(txn.archive("orders", id2).await?);
    assert_eq!(txn.metrics("orders").await?.queue_length, 0);
    assert_eq!(txn.purge_queue("orders").await?, 0);
    txn.commit().await?;
    Ok(())
}

#[tokio::test]
async fn message_commits_with_active_model_insert() -> R {
    let (_db, conn) = setup().await?;
    let txn = conn.begin().await?;
    let row = order::ActiveModel {
        item: Set("book".into()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.send(
        "orders",
        &OrderCreated {
            order_id: row.id,
            item: row.item.clone(),
        },
    )
    .await?;
    // Not visible outside the transaction before commit.
    assert_eq!(queue_len(&conn, "orders").await, 0);
    txn.commit().await?;
    assert_eq!(order::Entity::find().count(&conn).await?, 1);
    let got = conn
        .read::<OrderCreated>("orders", VT, BatchSize::ONE)
        .await?;
    assert_eq!(got[0].message.order_id, row.id);
    Ok(())
}

#[tokio::test]
async fn message_disappears_with_rolled_back_insert() -> R {
    let (_db, conn) = setup().await?;
    let txn = conn.begin().await?;
    order::ActiveModel {
        item: Set("book".into()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.send("orders", &json!({"order": "book"})).await?;
    assert_eq!(queue_len(&txn, "orders").await, 1);
    txn.rollback().await?;
    assert_eq!(order::Entity::find().count(&conn).await?, 0);
    assert_eq!(queue_len(&conn, "orders").await, 0);
    Ok(())
}

#[tokio::test]
async fn transaction_closure_commits_on_ok_and_rolls_back_on_err() -> R {
    let (_db, conn) = setup().await?;
    let orders: Queue<OrderCreated> = Queue::new("orders")?;
    let q = orders.clone();
    conn.transaction::<_, (), DbErr>(move |txn| {
        Box::pin(async move {
            let row = order::ActiveModel {
                item: Set("pen".into()),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            q.send(
                txn,
                &OrderCreated {
                    order_id: row.id,
                    item: row.item,
                },
            )
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
            Ok(())
        })
    })
    .await?;
    assert_eq!(order::Entity::find().count(&conn).await?, 1);
    assert_eq!(queue_len(&conn, "orders").await, 1);

    let q = orders.clone();
    let res = conn
        .transaction::<_, (), DbErr>(move |txn| {
            Box::pin(async move {
                order::ActiveModel {
                    item: Set("cup".into()),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                q.send(
                    txn,
                    &OrderCreated {
                        order_id: 0,
                        item: "cup".into(),
                    },
                )
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
                Err(DbErr::Custom("abort".into()))
            })
        })
        .await;
    assert!(res.is_err());
    assert_eq!(order::Entity::find().count(&conn).await?, 1);
    assert_eq!(queue_len(&conn, "orders").await, 1);
    Ok(())
}

#[tokio::test]
async fn a_transaction_closure_mixes_entity_and_pgmq_calls_with_either_error_type() -> R {
    use sea_orm::TransactionError;
    let (_db, conn) = setup().await?;
    let pen = || order::ActiveModel {
        item: Set("pen".into()),
        ..Default::default()
    };

    // The pgmq error type: `?` on the entity insert (DbErr) and on the send alike.
    conn.transaction::<_, (), Error>(move |txn| {
        Box::pin(async move {
            let row = pen().insert(txn).await?;
            txn.send("orders", &json!({ "order_id": row.id })).await?;
            Ok(())
        })
    })
    .await?;
    // SeaORM's error type, the same closure.
    conn.transaction::<_, (), DbErr>(move |txn| {
        Box::pin(async move {
            let row = pen().insert(txn).await?;
            txn.send("orders", &json!({ "order_id": row.id })).await?;
            Ok(())
        })
    })
    .await?;
    assert_eq!(order::Entity::find().count(&conn).await?, 2);
    assert_eq!(queue_len(&conn, "orders").await, 2);

    // A pgmq failure (no such queue) rolls the insert back, and keeps its kind through
    // either error type.
    let res = conn
        .transaction::<_, (), Error>(move |txn| {
            Box::pin(async move {
                pen().insert(txn).await?;
                txn.send("no_such_queue", &json!({})).await?;
                Ok(())
            })
        })
        .await;
    let Err(TransactionError::Transaction(e)) = res else {
        panic!("expected the closure's error, got {res:?}")
    };
    assert_eq!(e.kind(), ErrorKind::QueueMissing);
    let res = conn
        .transaction::<_, (), DbErr>(move |txn| {
            Box::pin(async move {
                pen().insert(txn).await?;
                txn.send("no_such_queue", &json!({})).await?;
                Ok(())
            })
        })
        .await;
    let Err(TransactionError::Transaction(e)) = res else {
        panic!("expected the closure's error, got {res:?}")
    };
    assert_eq!(Error::from(e).kind(), ErrorKind::QueueMissing);
    assert_eq!(order::Entity::find().count(&conn).await?, 2);
    assert_eq!(queue_len(&conn, "orders").await, 2);
    Ok(())
}

#[tokio::test]
async fn typed_queue_round_trip_with_headers() -> R {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Meta {
        tenant: String,
    }
    let (_db, conn) = setup().await?;
    let orders: Queue<OrderCreated, Meta> = Queue::new("orders")?;
    let ev = OrderCreated {
        order_id: 5,
        item: "lamp".into(),
    };
    let meta = Meta {
        tenant: "acme".into(),
    };
    let id = orders
        .send_with(&conn, &ev, Some(&meta), Delay::default())
        .await?;
    let ids = orders.send_batch(&conn, &[ev.clone(), ev.clone()]).await?;
    let got = orders.read(&conn, VT, batch(3)).await?;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].msg_id, id);
    assert_eq!(got[0].headers, Some(meta));
    assert!(got[1].headers.is_none());
    assert!(orders.delete(&conn, id).await?);
    assert_eq!(orders.archive_batch(&conn, &ids).await?.len(), 2);
    assert_eq!(orders.metrics(&conn).await?.queue_length, 0);
    Ok(())
}

#[tokio::test]
async fn function_calls_compose_into_user_statements() -> R {
    let (_db, conn) = setup().await?;
    let q = QueueName::from_static("orders");
    // Send three messages in one statement, from a user-built SELECT.
    let stmt = Query::select()
        .expr_as(functions::send(&q, json!({"k": 1})), Alias::new("a"))
        .expr_as(functions::send(&q, json!({"k": 2})), Alias::new("b"))
        .to_owned();
    conn.query_one(&stmt).await?;
    let stmt = Query::select()
        .expr_as(
            functions::send_batch_with(
                &q,
                vec![json!({"k": 3}), json!({"k": 4})],
                Some(vec![json!({"h": 3}), json!({"h": 4})]),
                Delay::Seconds(0),
            ),
            Alias::new("msg_id"),
        )
        .to_owned();
    assert_eq!(conn.query_all(&stmt).await?.len(), 2);
    // A filtered read of the payloads with k >= 2, through our row type.
    let read = query::read(&q, VT, batch(10))
        .and_where(Expr::cust("(message->>'k')::int").gte(2))
        .to_owned();
    let rows = conn.query_all(&read).await?;
    assert_eq!(rows.len(), 3);
    Ok(())
}

#[tokio::test]
async fn overloads_sharing_a_connection_do_not_collide_in_statement_cache() -> R {
    // A single-connection pool: every call reuses the same prepared-statement cache.
    let db = TestDb::new();
    let mut opts = sea_orm::ConnectOptions::new(db.url().to_owned());
    opts.max_connections(1);
    let conn = Database::connect(opts).await?;
    conn.create_queue("orders").await?;
    let ids = conn
        .send_batch("orders", &[json!(1), json!(2), json!(3), json!(4)])
        .await?;
    assert!(conn.delete("orders", ids[0]).await?);
    assert_eq!(conn.delete_batch("orders", &[ids[1]]).await?, vec![ids[1]]);
    assert!(conn.archive("orders", ids[2]).await?);
    assert_eq!(conn.archive_batch("orders", &[ids[3]]).await?, vec![ids[3]]);
    let id = conn
        .send_with::<_, Value>("orders", &json!(5), None, Delay::Seconds(0))
        .await?;
    conn.send_with::<_, Value>("orders", &json!(6), None, Delay::Until(Utc::now()))
        .await?;
    assert!(
        conn.set_vt::<Value>("orders", id, VisibilityTimeout::Seconds(10))
            .await?
            .is_some()
    );
    assert!(
        conn.set_vt::<Value>("orders", id, VisibilityTimeout::Until(Utc::now()))
            .await?
            .is_some()
    );
    let rows = conn
        .query_all(&query::set_vt_batch(
            &QueueName::from_static("orders"),
            &[id],
            VisibilityTimeout::Seconds(0),
        ))
        .await?;
    assert_eq!(rows.len(), 1);
    Ok(())
}

#[tokio::test]
async fn grouped_reads_and_topic_bindings_through_query_rows() -> R {
    use sea_orm::FromQueryResult;
    use sea_orm_pgmq::query::{MessageRow, TopicBindingRow};
    let (_db, conn) = setup().await?;
    let q = QueueName::from_static("orders");
    for (group, n) in [("a", 1), ("a", 2), ("b", 3)] {
        conn.send_with(
            "orders",
            &json!(n),
            Some(&json!({"x-pgmq-group": group})),
            Delay::Seconds(0),
        )
        .await?;
    }
    let rows = conn
        .query_all(&query::read_grouped_rr(&q, VT, batch(2)))
        .await?;
    let got: Vec<i32> = rows
        .iter()
        .map(|r| MessageRow::from_query_result(r, "").map(|m| m.decode::<i32, Value>()))
        .collect::<Result<Result<Vec<_>, _>, _>>()??
        .into_iter()
        .map(|m| m.message)
        .collect();
    assert_eq!(got, vec![1, 3], "round robin takes one per group first");

    conn.bind_topic("orders.#", "orders").await?;
    let rows = conn
        .query_all(&query::list_topic_bindings(Some(&q)))
        .await?;
    let bindings: Vec<sea_orm_pgmq::TopicBinding> = rows
        .iter()
        .map(|r| TopicBindingRow::from_query_result(r, "").map(Into::into))
        .collect::<Result<_, _>>()?;
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].pattern, "orders.#");
    Ok(())
}

#[tokio::test]
async fn typed_queue_pop_set_vt_poll_purge_and_drop() -> R {
    let (_db, conn) = setup().await?;
    let orders: Queue<OrderCreated> = Queue::new("orders")?;
    let ev = OrderCreated {
        order_id: 9,
        item: "mug".into(),
    };
    let id = orders.send(&conn, &ev).await?;
    let m = orders
        .set_vt(&conn, id, VisibilityTimeout::Seconds(60))
        .await?
        .expect("exists");
    assert_eq!(m.message, ev);
    let poll = PollOptions::new(Duration::from_millis(200), Duration::from_millis(50));
    assert!(
        orders
            .read_with_poll(&conn, VT, BatchSize::ONE, poll)
            .await?
            .is_empty()
    );
    orders
        .set_vt(&conn, id, VisibilityTimeout::Seconds(0))
        .await?;
    assert_eq!(orders.pop(&conn, BatchSize::ONE).await?[0].message, ev);
    orders.send(&conn, &ev).await?;
    assert_eq!(orders.purge(&conn).await?, 1);
    assert!(orders.drop_queue(&conn).await?);
    let err = orders.send(&conn, &ev).await.expect_err("dropped");
    assert_eq!(err.kind(), ErrorKind::QueueMissing);
    Ok(())
}

#[tokio::test]
async fn delete_rolled_back_keeps_the_message() -> R {
    let (_db, conn) = setup().await?;
    let id = conn.send("orders", &json!({"keep": true})).await?;
    let txn = conn.begin().await?;
    let got = txn
        .read::<Value>("orders", VisibilityTimeout::Seconds(0), BatchSize::ONE)
        .await?;
    assert_eq!(got[0].msg_id, id);
    assert!(txn.delete("orders", id).await?);
    txn.rollback().await?;
    let again = conn.read::<Value>("orders", VT, BatchSize::ONE).await?;
    assert_eq!(again[0].msg_id, id);
    Ok(())
}

#[tokio::test]
async fn missing_pgmq_is_pgmq_missing() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute_unprepared("DROP EXTENSION IF EXISTS pgmq CASCADE")
        .await?;
    conn.execute_unprepared("DROP SCHEMA IF EXISTS pgmq CASCADE")
        .await?;
    let err = conn.create_queue("orders").await.expect_err("no pgmq");
    assert_eq!(err.kind(), ErrorKind::PgmqMissing, "{err:?}");
    Ok(())
}

#[tokio::test]
async fn batch_topic_and_headerless_delayed_batches() -> R {
    use sea_orm::FromQueryResult;
    use sea_orm_pgmq::query::TopicMessageIdRow;
    let (_db, conn) = setup().await?;
    conn.create_queue("audit").await?;
    conn.bind_topic("orders.*", "orders").await?;
    conn.bind_topic("#", "audit").await?;
    let stmt = query::send_batch_topic(
        "orders.paid",
        vec![json!(1), json!(2)],
        None,
        Delay::Seconds(0),
    );
    let rows = conn.query_all(&stmt).await?;
    let ids: Vec<sea_orm_pgmq::TopicMessageId> = rows
        .iter()
        .map(|r| TopicMessageIdRow::from_query_result(r, "").map(Into::into))
        .collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), 4, "two messages to two queues");
    let stmt = query::send_batch_topic(
        "orders.paid",
        vec![json!(3)],
        Some(vec![json!({"h": 1})]),
        Delay::Until(Utc::now() + ChronoDuration::minutes(1)),
    );
    assert_eq!(conn.query_all(&stmt).await?.len(), 2);

    let q = QueueName::from_static("orders");
    let stmt = query::send_batch_with(
        &q,
        vec![json!(4), json!(5)],
        None,
        Delay::Until(Utc::now() + ChronoDuration::minutes(1)),
    );
    assert_eq!(conn.query_all(&stmt).await?.len(), 2);
    let m = conn.metrics("orders").await?;
    assert_eq!((m.queue_length, m.queue_visible_length), (5, 2));
    Ok(())
}

/// Payloads are bound as JSON text and cast by the server: what is stored must be the
/// JSON values themselves (objects, strings, numbers), never a JSON string of the text.
#[tokio::test]
async fn sends_store_json_values_not_their_text() -> R {
    let (_db, conn) = setup().await?;
    conn.create_queue("wire").await?;
    let payloads = vec![
        json!({"quote": "she said \"hi\"\n", "unicode": "żółw 🐢", "nested": {"a": [1, 2.5, null]}}),
        json!("just a string"),
        json!(12345678901234_i64),
    ];
    let headers = vec![json!({"x-pgmq-group": "é"}), json!(null), json!({})];
    let mut ids = conn
        .send_batch_with("wire", &payloads, Some(&headers), Delay::Seconds(0))
        .await?;
    // Single sends go the same way.
    ids.push(conn.send("wire", &payloads[0]).await?);
    ids.push(
        conn.send_with("wire", &payloads[1], Some(&headers[0]), Delay::Seconds(0))
            .await?,
    );
    let kinds: Vec<(String, String)> = <KindRow as sea_orm::FromQueryResult>::find_by_statement(
        sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT jsonb_typeof(message) AS message, coalesce(jsonb_typeof(headers), 'sql null') AS headers \
             FROM pgmq.q_wire ORDER BY msg_id",
        ),
    )
    .all(&conn)
    .await?
    .into_iter()
    .map(|r| (r.message, r.headers))
    .collect();
    assert_eq!(
        kinds,
        [
            ("object", "object"),
            ("string", "null"),
            ("number", "object"),
            ("object", "sql null"),
            ("string", "object"),
        ]
        .map(|(m, h)| (m.to_owned(), h.to_owned()))
    );
    let read = conn
        .read::<Value>("wire", VisibilityTimeout::Seconds(30), BatchSize::new(10)?)
        .await?;
    assert_eq!(read.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids);
    let mut expected = payloads.clone();
    expected.extend([payloads[0].clone(), payloads[1].clone()]);
    assert_eq!(
        read.into_iter().map(|m| m.message).collect::<Vec<_>>(),
        expected
    );
    Ok(())
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct KindRow {
    message: String,
    headers: String,
}

/// `functions` take expressions: one statement sends a message per row of an app table,
/// another archives every queued message matching a filter.
#[tokio::test]
async fn functions_take_expressions_for_a_send_per_row_and_an_archive_by_filter() -> R {
    use sea_orm::sea_query::Func;
    let (_db, conn) = setup().await?;
    conn.execute_unprepared(
        "CREATE TABLE shop_orders (id bigint PRIMARY KEY, status text NOT NULL);
         INSERT INTO shop_orders SELECT g, CASE WHEN g % 2 = 0 THEN 'pending' ELSE 'done' END
         FROM generate_series(1, 10) g",
    )
    .await?;
    let q = QueueName::new("orders")?;
    let payload = Func::cust("jsonb_build_object")
        .arg("order_id")
        .arg(Expr::col((Alias::new("shop_orders"), Alias::new("id"))));
    let per_row = Query::select()
        .expr(functions::send(&q, payload))
        .from(Alias::new("shop_orders"))
        .and_where(Expr::col(Alias::new("status")).eq("pending"))
        .to_owned();
    assert_eq!(conn.execute(&per_row).await?.rows_affected(), 5);
    let mut sent: Vec<i64> = conn
        .read::<Value>("orders", VisibilityTimeout::Seconds(0), BatchSize::new(20)?)
        .await?
        .iter()
        .map(|m| m.message["order_id"].as_i64().unwrap())
        .collect();
    sent.sort_unstable();
    assert_eq!(sent, [2, 4, 6, 8, 10]);

    // Archive every queued message whose order id is above 5, in one statement.
    let by_filter = Query::select()
        .expr(functions::archive(&q, Expr::col(Alias::new("msg_id"))))
        .from((Alias::new("pgmq"), Alias::new("q_orders")))
        .and_where(Expr::cust("(message->>'order_id')::bigint > 5"))
        .to_owned();
    assert_eq!(conn.execute(&by_filter).await?.rows_affected(), 3);
    assert_eq!(conn.metrics("orders").await?.queue_length, 2);
    // And the ids of a subquery delete the rest.
    let ids = Query::select()
        .expr(Func::cust("array_agg").arg(Expr::col(Alias::new("msg_id"))))
        .from((Alias::new("pgmq"), Alias::new("q_orders")))
        .to_owned();
    let delete = Query::select()
        .expr(functions::delete_batch(&q, ids))
        .to_owned();
    assert_eq!(conn.execute(&delete).await?.rows_affected(), 2);
    assert_eq!(conn.metrics("orders").await?.queue_length, 0);
    Ok(())
}
