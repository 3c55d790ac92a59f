//! The transactional outbox in one round trip: send a message for every row an
//! `INSERT`, `UPDATE` or `DELETE` returns, in the same statement.
//!
//! The usual outbox costs two statements per write: the insert, then `pgmq.send` with
//! the event. [`OutboxExt::enqueue`] wraps the write into one sea-query [`WithQuery`]:
//!
//! ```sql
//! WITH "pgmq_written" AS (INSERT INTO "orders" ... RETURNING ...)
//! SELECT pgmq.send($q, <payload>, $headers::jsonb, $delay::integer) AS "__pgmq_outbox_msg_id",
//!        "pgmq_written".*
//! FROM "pgmq_written"
//! ```
//!
//! [`Enqueue::all`] runs it on any `ConnectionTrait` (a `DatabaseConnection` or your
//! `DatabaseTransaction`) and returns each returned row, decoded with
//! [`FromQueryResult`] (an entity's `Model`, or your own row type), paired with its
//! message id. Being one statement, it is atomic by itself, and inside a transaction it
//! commits or rolls back with the rest of your writes. A write that returns no rows
//! sends nothing. The payload is the whole returned row by default (keys are the
//! returned column names); [`Payload`] picks columns and adds constant fields such as an
//! event `type`, and [`OutboxExt::enqueue_with`] takes any sea-query `jsonb`
//! expression over the returned columns. Queue name, headers, delay and payload keys are
//! bound parameters.
//!
//! The columns of [`Payload::fields`] are checked against the columns the write returns
//! ([`OutboxExt::returned_columns`]: an entity's, or a sea-query `RETURNING` list of
//! plain columns), so a misspelt or unreturned column fails with
//! [`Error::InvalidArgument`] before anything reaches the server.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = pgmq_harness::TestDb::new();
//! # let conn = sea_orm::Database::connect(db.url()).await?;
//! use sea_orm::{ConnectionTrait, Set, TransactionTrait};
//! use sea_orm_pgmq::outbox::{Outbox, OutboxExt, Payload};
//! use sea_orm_pgmq::{BatchSize, PgmqConnectionExt, VisibilityTimeout};
//!
//! mod order {
//!     use sea_orm::entity::prelude::*;
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "orders")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i32,
//!         pub item: String,
//!     }
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//! use sea_orm::EntityTrait;
//!
//! conn.execute_unprepared("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)").await?;
//! conn.create_queue("order_events").await?;
//! let outbox = Outbox::new("order_events")?
//!     .payload(Payload::fields([("order_id", "id")])?.with("type", "OrderCreated")?);
//!
//! let txn = conn.begin().await?;
//! let sent: Vec<(order::Model, i64)> = order::Entity::insert(order::ActiveModel {
//!     item: Set("book".into()),
//!     ..Default::default()
//! })
//! .enqueue(&outbox)
//! .all(&txn)
//! .await?;
//! txn.commit().await?;
//!
//! let msgs = conn.read::<serde_json::Value>("order_events", VisibilityTimeout::Seconds(30), BatchSize::ONE).await?;
//! assert_eq!(msgs[0].msg_id, sent[0].1);
//! assert_eq!(msgs[0].message, serde_json::json!({"order_id": sent[0].0.id, "type": "OrderCreated"}));
//! # Ok(())
//! # }
//! ```
//!
//! # Deduplication: idempotent producers
//!
//! A write that returns no row sends nothing, so an `INSERT .. ON CONFLICT DO NOTHING ..
//! RETURNING` sends exactly for the rows it actually inserted: give the table a unique
//! key the producer controls (a request id, an order number) and a redelivered or
//! retried request writes nothing and sends nothing, without a separate lookup.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = pgmq_harness::TestDb::new();
//! # let conn = sea_orm::Database::connect(db.url()).await?;
//! use sea_orm::sea_query::OnConflict;
//! use sea_orm::{ConnectionTrait, EntityTrait, Set};
//! use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
//! use sea_orm_pgmq::PgmqConnectionExt;
//!
//! mod order {
//!     use sea_orm::entity::prelude::*;
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "orders")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i32,
//!         pub request_id: String,
//!     }
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//!
//! conn.execute_unprepared(
//!     "CREATE TABLE orders (id serial PRIMARY KEY, request_id text NOT NULL UNIQUE)",
//! ).await?;
//! conn.create_queue("order_events").await?;
//! let outbox = Outbox::new("order_events")?;
//! let place = |request_id: &str| {
//!     order::Entity::insert(order::ActiveModel {
//!         request_id: Set(request_id.to_owned()),
//!         ..Default::default()
//!     })
//!     .on_conflict(OnConflict::column(order::Column::RequestId).do_nothing().to_owned())
//!     .enqueue(&outbox)
//! };
//! let sent: Vec<(order::Model, i64)> = place("req-1").all(&conn).await?;
//! assert_eq!(sent.len(), 1);
//! let retry: Vec<(order::Model, i64)> = place("req-1").all(&conn).await?;
//! assert!(retry.is_empty()); // no row, no message
//! assert_eq!(conn.metrics("order_events").await?.queue_length, 1);
//! # Ok(())
//! # }
//! ```

use chrono::{DateTime, Utc};
use pgmq_orm_core::Error;
pub use pgmq_orm_core::outbox::{MSG_ID, Outbox, Payload, WRITTEN};
use pgmq_orm_core::outbox::{SqlPart, returning_columns};
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, DeleteStatement, Expr, InsertStatement,
    PostgresQueryBuilder, Query, ReturningClause, SubQueryStatement, UpdateStatement, Value,
    WithClause, WithQuery,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DeleteMany, EntityName, EntityTrait,
    FromQueryResult, Insert, InsertMany, Iterable, QueryTrait, UpdateMany,
};
use serde_json::Value as Json;

use crate::error::into_pgmq_error;

/// Wraps a write so every row it returns is also sent to a queue, in the same
/// statement.
///
/// Implemented for sea-query's [`InsertStatement`], [`UpdateStatement`] and
/// [`DeleteStatement`] (which must carry a `RETURNING` clause: `.returning_all()` or
/// `.returning(..)`; without one PostgreSQL refuses the statement and nothing is
/// written), and for SeaORM's [`Insert`], [`InsertMany`], [`UpdateMany`] and
/// [`DeleteMany`], which return all of the entity's columns so the rows decode into its
/// `Model`.
///
/// ```
/// use sea_orm::sea_query::{Alias, Expr, PostgresQueryBuilder, Query};
/// use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
///
/// let stmt = Query::update()
///     .table(Alias::new("orders"))
///     .value(Alias::new("item"), "lamp")
///     .returning_all()
///     .to_owned()
///     .enqueue(&Outbox::new("order_events")?);
/// let (sql, _) = stmt.query().unwrap().build(PostgresQueryBuilder);
/// assert!(sql.starts_with(r#"WITH "pgmq_written" AS (UPDATE "orders" SET "item" = $1 RETURNING *)"#));
/// # Ok::<(), sea_orm_pgmq::Error>(())
/// ```
pub trait OutboxExt: Sized {
    /// The write, with its `RETURNING` clause, as the statement the CTE wraps; `None`
    /// when there is nothing to write (an `insert_many` of no models), so nothing runs.
    ///
    /// ```
    /// use sea_orm::sea_query::{Alias, Query, SubQueryStatement};
    /// use sea_orm_pgmq::outbox::OutboxExt;
    /// let write = Query::delete().from_table(Alias::new("orders")).returning_all().to_owned();
    /// assert!(matches!(write.into_write(), Some(SubQueryStatement::DeleteStatement(_))));
    /// ```
    fn into_write(self) -> Option<SubQueryStatement>;

    /// The names of the columns the write returns, where they are known before it runs:
    /// an entity's columns for SeaORM's writes, a `RETURNING` list of plain columns for
    /// sea-query statements; `None` otherwise (`RETURNING *`, expressions).
    /// [`enqueue`](Self::enqueue) checks [`Payload::fields`] against them
    /// ([`Payload::check_returned`]), so a misspelt or unreturned column fails with
    /// [`Error::InvalidArgument`] before anything reaches the server.
    ///
    /// ```
    /// use sea_orm::sea_query::{Alias, Query};
    /// use sea_orm_pgmq::outbox::OutboxExt;
    /// let write = Query::delete()
    ///     .from_table(Alias::new("orders"))
    ///     .returning(Query::returning().columns([Alias::new("id"), Alias::new("item")]))
    ///     .to_owned();
    /// assert_eq!(write.returned_columns(), Some(vec!["id".to_owned(), "item".to_owned()]));
    /// let all = Query::delete().from_table(Alias::new("orders")).returning_all().to_owned();
    /// assert_eq!(all.returned_columns(), None);
    /// ```
    fn returned_columns(&self) -> Option<Vec<String>>;

    /// Sends one message per returned row, built as `outbox`'s [`Payload`] says (the
    /// whole row by default).
    ///
    /// ```
    /// use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query};
    /// use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
    /// let stmt = Query::insert()
    ///     .into_table(Alias::new("orders"))
    ///     .columns([Alias::new("item")])
    ///     .values_panic(["book".into()])
    ///     .returning_all()
    ///     .to_owned()
    ///     .enqueue(&Outbox::new("order_events")?);
    /// let (sql, values) = stmt.query().unwrap().build(PostgresQueryBuilder);
    /// assert!(sql.ends_with(r#"SELECT pgmq.send($2, to_jsonb("pgmq_written"), $3::jsonb, $4::integer) AS "__pgmq_outbox_msg_id", "pgmq_written".* FROM "pgmq_written""#));
    /// assert_eq!(values.0.len(), 4);
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    fn enqueue(self, outbox: &Outbox) -> Enqueue {
        let checked = match self.returned_columns() {
            Some(columns) => outbox.payload_spec().check_returned(columns),
            None => Ok(()),
        };
        let payload = parts_expr(&outbox.payload_spec().parts(), None);
        let mut enqueue = Enqueue::new(self.into_write(), &outbox.for_send(), payload);
        if let Err(Error::InvalidArgument(msg)) = checked {
            enqueue.invalid = Some(msg);
        }
        enqueue
    }

    /// Like [`enqueue`](Self::enqueue), with the payload computed by your own `jsonb`
    /// expression over the returned columns (the outbox's [`Payload`] is ignored). The
    /// returned row is in scope as `"pgmq_written"` ([`WRITTEN`]); its columns can be
    /// named unqualified.
    ///
    /// ```
    /// use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, PostgresQueryBuilder, Query};
    /// use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
    /// let event = Func::cust("jsonb_build_object")
    ///     .arg(Expr::val("order_id").cast_as("text"))
    ///     .arg(Expr::col(Alias::new("id")));
    /// let stmt = Query::delete()
    ///     .from_table(Alias::new("orders"))
    ///     .returning_all()
    ///     .to_owned()
    ///     .enqueue_with(&Outbox::new("order_events")?, event.into());
    /// let (sql, _) = stmt.query().unwrap().build(PostgresQueryBuilder);
    /// assert!(sql.contains(r#"pgmq.send($1, jsonb_build_object(CAST($2 AS text), "id"), $3::jsonb"#));
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    fn enqueue_with(self, outbox: &Outbox, payload: Expr) -> Enqueue {
        Enqueue::new(self.into_write(), &outbox.for_send(), payload)
    }
}

impl OutboxExt for InsertStatement {
    fn into_write(self) -> Option<SubQueryStatement> {
        Some(self.into())
    }
    fn returned_columns(&self) -> Option<Vec<String>> {
        returning_columns(&self.to_string(PostgresQueryBuilder))
    }
}

impl OutboxExt for UpdateStatement {
    fn into_write(self) -> Option<SubQueryStatement> {
        Some(self.into())
    }
    fn returned_columns(&self) -> Option<Vec<String>> {
        returning_columns(&self.to_string(PostgresQueryBuilder))
    }
}

impl OutboxExt for DeleteStatement {
    fn into_write(self) -> Option<SubQueryStatement> {
        Some(self.into())
    }
    fn returned_columns(&self) -> Option<Vec<String>> {
        returning_columns(&self.to_string(PostgresQueryBuilder))
    }
}

/// `RETURNING` every column of `E`, cast as SeaORM casts them for its own
/// `exec_with_returning` (enum columns as text), so the rows decode into `E::Model`.
fn entity_returning<E: EntityTrait>() -> ReturningClause {
    Query::returning().exprs(E::Column::iter().map(|c| c.select_as(Expr::col(c))))
}

/// The names of [`entity_returning`]'s columns.
fn entity_columns<E: EntityTrait>() -> Option<Vec<String>> {
    Some(
        E::Column::iter()
            .map(|c| sea_orm::IdenStatic::as_str(&c).to_owned())
            .collect(),
    )
}

impl<A: ActiveModelTrait> OutboxExt for Insert<A> {
    fn returned_columns(&self) -> Option<Vec<String>> {
        entity_columns::<A::Entity>()
    }

    fn into_write(self) -> Option<SubQueryStatement> {
        let mut stmt = self.into_query();
        stmt.returning(entity_returning::<A::Entity>());
        Some(stmt.into())
    }
}

impl<A: ActiveModelTrait> OutboxExt for InsertMany<A> {
    fn returned_columns(&self) -> Option<Vec<String>> {
        entity_columns::<A::Entity>()
    }

    fn into_write(self) -> Option<SubQueryStatement> {
        let mut stmt = self.into_query();
        // SeaORM keeps an empty `insert_many` as an INSERT with neither columns nor
        // rows (which PostgreSQL rejects) and skips it when executing; do the same.
        // Its emptiness flag is private, so compare with the empty insert itself.
        let empty = Query::insert()
            .into_table(A::Entity::default().table_ref())
            .to_owned();
        if stmt.to_string(PostgresQueryBuilder) == empty.to_string(PostgresQueryBuilder) {
            return None;
        }
        stmt.returning(entity_returning::<A::Entity>());
        Some(stmt.into())
    }
}

impl<E: EntityTrait> OutboxExt for UpdateMany<E> {
    fn returned_columns(&self) -> Option<Vec<String>> {
        entity_columns::<E>()
    }

    fn into_write(self) -> Option<SubQueryStatement> {
        let mut stmt = self.into_query();
        stmt.returning(entity_returning::<E>());
        Some(stmt.into())
    }
}

impl<E: EntityTrait> OutboxExt for DeleteMany<E> {
    fn returned_columns(&self) -> Option<Vec<String>> {
        entity_columns::<E>()
    }

    fn into_write(self) -> Option<SubQueryStatement> {
        let mut stmt = self.into_query();
        stmt.returning(entity_returning::<E>());
        Some(stmt.into())
    }
}

/// Renders core SQL pieces as one sea-query expression: `$n` placeholders over bound
/// values, and `payload` where [`SqlPart::Payload`] stands.
fn parts_expr(parts: &[SqlPart<'_>], payload: Option<Expr>) -> Expr {
    let mut sql = String::new();
    let mut args = Vec::new();
    let mut payload = payload;
    for part in parts {
        let arg = match part {
            SqlPart::Sql(text) => {
                sql.push_str(text);
                continue;
            }
            SqlPart::Text(v) => Expr::val(Value::String(Some((*v).to_owned()))),
            SqlPart::Json(v) => Expr::val(json(Some(v))),
            SqlPart::OptJson(v) => Expr::val(json(v.as_ref())),
            SqlPart::Int(v) => Expr::val(Value::Int(Some(**v))),
            SqlPart::Time(v) => Expr::val(time(v)),
            SqlPart::Payload => payload.take().expect("one payload slot per send call"),
            _ => unreachable!("every SqlPart variant is rendered above"),
        };
        args.push(arg);
        sql.push_str(&format!("${}", args.len()));
    }
    Expr::cust_with_exprs(sql, args)
}

fn json(v: Option<&Json>) -> Value {
    Value::Json(v.map(|v| Box::new(v.clone())))
}

fn time(t: &DateTime<Utc>) -> Value {
    Value::ChronoDateTimeUtc(Some(*t))
}

/// A write whose returned rows are each sent to a queue, in one statement (see the
/// [module docs](self)). Made by [`OutboxExt`]; run it with [`Enqueue::all`], or take
/// the sea-query statement with [`Enqueue::query`].
///
/// ```
/// use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query};
/// use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
/// let stmt = Query::delete().from_table(Alias::new("orders")).returning_all().to_owned()
///     .enqueue(&Outbox::new("order_events")?.delay(chrono::Utc::now()));
/// assert!(stmt.query().unwrap().to_string(PostgresQueryBuilder).contains("::timestamptz)"));
/// # Ok::<(), sea_orm_pgmq::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a statement does nothing until it is executed"]
pub struct Enqueue {
    /// `None` when there is nothing to write.
    query: Option<WithQuery>,
    /// Why the statement must not run ([`Payload::check_returned`]): [`Enqueue::all`]
    /// reports it instead of running it.
    invalid: Option<String>,
}

impl Enqueue {
    fn new(write: Option<SubQueryStatement>, outbox: &Outbox, payload: Expr) -> Self {
        let Some(write) = write else {
            return Self {
                query: None,
                invalid: None,
            };
        };
        let send = parts_expr(&outbox.send_call(), Some(payload));
        let written = Alias::new(WRITTEN);
        let cte = CommonTableExpression::new()
            .query(write)
            .table_name(written.clone())
            .to_owned();
        // The message id goes first and is read by position: a returned column of the
        // same name (a user's own) comes later, so decoding the row by name finds that one.
        let query = Query::select()
            .expr_as(send, Alias::new(MSG_ID))
            .column((written.clone(), Asterisk))
            .from(written)
            .to_owned()
            .with(WithClause::new().cte(cte).to_owned());
        Self {
            query: Some(query),
            invalid: None,
        }
    }

    /// The statement, to inspect or to run yourself (`conn.query_all(q)`; the
    /// message id is the first column, [`MSG_ID`]); `None` when there is nothing to write (an
    /// `insert_many` of no models).
    ///
    /// ```
    /// use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query};
    /// use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
    /// let stmt = Query::delete().from_table(Alias::new("orders")).returning_all().to_owned()
    ///     .enqueue(&Outbox::new("order_events")?);
    /// assert!(stmt.query().unwrap().to_string(PostgresQueryBuilder).starts_with("WITH "));
    /// # Ok::<(), sea_orm_pgmq::Error>(())
    /// ```
    pub fn query(&self) -> Option<&WithQuery> {
        self.query.as_ref()
    }

    /// Runs the statement on `conn` and returns every written row, decoded into `M`
    /// (by column name), paired with the id of the message sent for it. Database and
    /// decode failures are the core [`Error`] (a missing queue is
    /// [`Error::QueueMissing`]); a failed statement writes nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = pgmq_harness::TestDb::new();
    /// # let conn = sea_orm::Database::connect(db.url()).await?;
    /// use sea_orm::sea_query::{Alias, Query};
    /// use sea_orm::{ConnectionTrait, FromQueryResult};
    /// use sea_orm_pgmq::outbox::{Outbox, OutboxExt};
    /// use sea_orm_pgmq::PgmqConnectionExt;
    ///
    /// #[derive(Debug, FromQueryResult)]
    /// struct OrderRow { id: i32, item: String }
    ///
    /// conn.execute_unprepared("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)").await?;
    /// conn.create_queue("order_events").await?;
    /// let sent: Vec<(OrderRow, i64)> = Query::insert()
    ///     .into_table(Alias::new("orders"))
    ///     .columns([Alias::new("item")])
    ///     .values_panic(["book".into()])
    ///     .values_panic(["pen".into()])
    ///     .returning_all()
    ///     .to_owned()
    ///     .enqueue(&Outbox::new("order_events")?)
    ///     .all(&conn)
    ///     .await?;
    /// assert_eq!(sent.len(), 2);
    /// assert_eq!(conn.metrics("order_events").await?.queue_length, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn all<M, C>(&self, conn: &C) -> Result<Vec<(M, i64)>, Error>
    where
        M: FromQueryResult,
        C: ConnectionTrait + ?Sized,
    {
        if let Some(msg) = &self.invalid {
            return Err(Error::InvalidArgument(msg.clone()));
        }
        let Some(query) = &self.query else {
            return Ok(Vec::new());
        };
        let rows = conn.query_all(query).await.map_err(into_pgmq_error)?;
        rows.iter()
            .map(|row| {
                let model = M::from_query_result(row, "").map_err(into_pgmq_error)?;
                let msg_id = row.try_get_by_index::<i64>(0).map_err(into_pgmq_error)?;
                Ok((model, msg_id))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_with_dollars_and_quotes_stay_identifiers() {
        let payload = Payload::fields([("a", "x$1"), ("b", "y\"$$z")])
            .and_then(|p| p.with("type", "T"))
            .expect("payload");
        let outbox = Outbox::new("events").expect("queue").payload(payload);
        let stmt = Query::delete()
            .from_table(Alias::new("t"))
            .returning_all()
            .to_owned()
            .enqueue(&outbox);
        let (sql, values) = stmt
            .query()
            .expect("a statement")
            .build(PostgresQueryBuilder);
        assert!(
            sql.contains(
                r#"jsonb_build_object($2::text, "pgmq_written"."x$1", $3::text, "pgmq_written"."y""$$z") || $4::jsonb"#
            ),
            "{sql}"
        );
        assert_eq!(values.0.len(), 6);
    }
}
