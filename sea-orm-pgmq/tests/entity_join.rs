//! Queue entities (`pgmq_entities!`) joined with application entities, against a real
//! pgmq: the `pgmq` schema is kept in the join.

use pgmq_harness::TestDb;
use sea_orm::sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, EntityName, EntityTrait, FromQueryResult, QueryFilter,
    QueryTrait,
};
use sea_orm_pgmq::PgmqConnectionExt;
use serde_json::json;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

sea_orm_pgmq::pgmq_entities! {
    /// The queue the orders' events go to.
    pub mod order_events { queue: "q_order_events", archive: "a_order_events" }
}

mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub item: String,
        /// The message announcing the order.
        pub msg_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {
        #[sea_orm(
            belongs_to = "super::order_events::queue::Entity",
            from = "Column::MsgId",
            to = "super::order_events::queue::Column::MsgId"
        )]
        Event,
    }

    impl Related<super::order_events::queue::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Event.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[tokio::test]
async fn an_app_entity_joins_the_queue_entity_with_the_schema_kept() -> R {
    let db = TestDb::new();
    let conn = Database::connect(db.url()).await?;
    conn.create_queue("order_events").await?;
    conn.execute_unprepared(
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, msg_id bigint NOT NULL)",
    )
    .await?;
    let book = conn.send("order_events", &json!({"item": "book"})).await?;
    let pen = conn.send("order_events", &json!({"item": "pen"})).await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO orders (item, msg_id) VALUES ('book', {book}), ('pen', {pen})"
    ))
    .await?;

    // Through a SeaORM `Relation` from the app entity to the queue entity.
    let query = order::Entity::find()
        .inner_join(order_events::queue::Entity)
        .filter(order_events::queue::Column::MsgId.eq(pen));
    let sql = query.build(sea_orm::DbBackend::Postgres).to_string();
    assert!(
        sql.contains(r#"INNER JOIN "pgmq"."q_order_events""#),
        "{sql}"
    );
    let rows = query.all(&conn).await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].item, "pen");

    let pairs = order::Entity::find()
        .find_also_related(order_events::queue::Entity)
        .all(&conn)
        .await?;
    assert_eq!(pairs.len(), 2);
    assert!(
        pairs
            .iter()
            .all(|(o, m)| m.as_ref().is_some_and(|m| m.msg_id == o.msg_id))
    );

    // In plain sea-query, the entity's `table_ref()` carries the schema (the entity used
    // as a bare `Iden` would not); columns qualified by the entity then resolve.
    #[derive(Debug, FromQueryResult)]
    struct Row {
        item: String,
        read_ct: i32,
    }
    let q = order_events::queue::Entity;
    let stmt = Query::select()
        .column((order::Entity, order::Column::Item))
        .column((q, order_events::queue::Column::ReadCt))
        .from(order::Entity)
        .inner_join(
            q.table_ref(),
            Expr::col((order::Entity, order::Column::MsgId))
                .equals((q, order_events::queue::Column::MsgId)),
        )
        .and_where(Expr::col((q, order_events::queue::Column::MsgId)).eq(book))
        .to_owned();
    assert!(
        stmt.to_string(PostgresQueryBuilder)
            .contains(r#""pgmq"."q_order_events""#)
    );
    let rows = Row::find_by_statement(conn.get_database_backend().build(&stmt))
        .all(&conn)
        .await?;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].item.as_str(), rows[0].read_ct), ("book", 0));
    Ok(())
}
