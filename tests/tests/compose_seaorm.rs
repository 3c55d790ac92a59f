//! Composing sea-query statements with pgmq: `QueueName` constants as queue arguments,
//! statements built once and run later, and one transaction closure using `?` on SeaORM
//! and pgmq errors alike, against a real server and real pgmq.

use pgmq_harness::TestDb;
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{ConnectionTrait, Database, DbErr, TransactionError, TransactionTrait};
use sea_orm_pgmq::{PgmqConnectionExt, QueueName, functions, query};
use serde_json::json;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const JOBS: QueueName = QueueName::from_static("jobs");
static EVENTS: QueueName = QueueName::from_static("events");

#[tokio::test]
async fn queue_name_constants_are_queue_arguments_of_functions_and_query() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute(&Query::select().expr(functions::create(&JOBS)).to_owned())
        .await?;
    conn.execute(&query::create(&EVENTS)).await?;
    // Built first, run later: the statements own their bound names.
    let stored = Query::select()
        .expr(functions::send(&JOBS, json!({"n": 1})))
        .to_owned();
    let stored_query = query::send(&EVENTS, json!({"n": 2}));
    conn.execute(&stored).await?;
    conn.execute(&stored_query).await?;
    assert_eq!(conn.metrics(&JOBS).await?.queue_length, 1);
    assert_eq!(conn.metrics(&EVENTS).await?.queue_length, 1);
    Ok(())
}

/// One error type for the closure, `?` on a SeaORM statement and on a pgmq call: with
/// `sea_orm_pgmq::Error` and with `DbErr`; a failing pgmq call rolls back the insert.
#[tokio::test]
async fn a_seaorm_transaction_closure_mixes_seaorm_and_pgmq_calls_with_either_error_type() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.execute_unprepared("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)")
        .await?;
    conn.create_queue(&JOBS).await?;
    let insert = |item: &str| {
        Query::insert()
            .into_table(Alias::new("orders"))
            .columns([Alias::new("item")])
            .values_panic([item.into()])
            .to_owned()
    };
    let (a, b) = (insert("book"), insert("pen"));
    conn.transaction::<_, (), sea_orm_pgmq::Error>(move |tx| {
        Box::pin(async move {
            tx.execute(&a).await?; // DbErr -> sea_orm_pgmq::Error
            tx.send(&JOBS, &json!({"item": "book"})).await?;
            Ok(())
        })
    })
    .await?;
    conn.transaction::<_, (), DbErr>(move |tx| {
        Box::pin(async move {
            tx.execute(&b).await?;
            tx.send(&JOBS, &json!({"item": "pen"})).await?; // sea_orm_pgmq::Error -> DbErr
            Ok(())
        })
    })
    .await?;
    let c = insert("lamp");
    let failed = conn
        .transaction::<_, (), sea_orm_pgmq::Error>(move |tx| {
            Box::pin(async move {
                tx.execute(&c).await?;
                tx.send("no_such_queue", &json!({})).await?;
                Ok(())
            })
        })
        .await
        .unwrap_err();
    match failed {
        TransactionError::Transaction(e) => {
            assert_eq!(e.kind(), sea_orm_pgmq::ErrorKind::QueueMissing, "{e}")
        }
        other => panic!("the closure's own error, not {other:?}"),
    }
    let count = conn
        .query_one(
            &Query::select()
                .expr(Func::count(Expr::col(Alias::new("id"))))
                .from(Alias::new("orders"))
                .to_owned(),
        )
        .await?
        .expect("one row")
        .try_get_by_index::<i64>(0)?;
    assert_eq!(count, 2, "the lamp rolled back with its failed send");
    assert_eq!(conn.metrics(&JOBS).await?.queue_length, 2);
    Ok(())
}
