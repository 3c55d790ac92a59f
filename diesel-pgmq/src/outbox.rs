//! The transactional outbox in one round trip: send a message for every row an
//! `INSERT`, `UPDATE` or `DELETE` returns, in the same statement.
//!
//! The usual outbox costs two statements per write: the insert, then `pgmq.send` with
//! the event. [`OutboxExt::enqueue`] wraps Diesel's write statement into one:
//!
//! ```sql
//! WITH "pgmq_written" AS (INSERT INTO "orders" ... RETURNING ...)
//! SELECT "pgmq_written".*, pgmq.send($q, <payload>, $headers::jsonb, $delay::integer) AS "__pgmq_outbox_msg_id"
//! FROM "pgmq_written"
//! ```
//!
//! Each returned row comes back paired with its message id: load `(YourRow, i64)`.
//! Being one statement, it is atomic by itself, and inside your `conn.transaction(..)` it
//! commits or rolls back with the rest of your writes. A write that returns no rows
//! sends nothing. The payload is the whole returned row by default (keys are the
//! returned column names); [`Payload`] picks columns and adds constant fields such as an
//! event `type`, and [`OutboxExt::enqueue_with`] takes any Diesel `Jsonb` expression
//! over the returned columns. Queue name, headers, delay and payload keys are bound
//! parameters.
//!
//! It is a plain Diesel query: `.get_results(conn)` / `.load(conn)` on a sync
//! `PgConnection`, and the same calls with diesel-async's `RunQueryDsl` on an
//! `AsyncPgConnection` or a bb8 pooled connection.
//!
//! ```
//! # #[cfg(feature = "sync")] {
//! use diesel::prelude::*;
//! use diesel_pgmq::outbox::{Outbox, OutboxExt, Payload};
//! use diesel_pgmq::PgmqConnectionExt;
//!
//! diesel::table! { orders (id) { id -> Int4, item -> Text } }
//!
//! #[derive(Queryable, Debug)]
//! struct Order { id: i32, item: String }
//!
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)").execute(&mut conn)?;
//! conn.create_queue("order_events")?;
//! let outbox = Outbox::new("order_events")?
//!     .payload(Payload::fields([("order_id", "id")])?.with("type", "OrderCreated")?);
//!
//! let sent: Vec<(Order, i64)> = conn.transaction(|conn| {
//!     diesel::insert_into(orders::table)
//!         .values(&vec![orders::item.eq("book"), orders::item.eq("pen")])
//!         .returning((orders::id, orders::item))
//!         .enqueue(&outbox)
//!         .get_results(conn)
//! })?;
//! assert_eq!(sent.len(), 2);
//! let msgs = conn.read::<serde_json::Value>("order_events", 30.into(), 10.try_into()?)?;
//! assert_eq!(msgs[0].message["type"], "OrderCreated");
//! assert_eq!(msgs[0].message["order_id"], sent[0].0.id);
//! assert_eq!(msgs[0].msg_id, sent[0].1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
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
//! # #[cfg(feature = "sync")] {
//! use diesel::prelude::*;
//! use diesel_pgmq::outbox::{Outbox, OutboxExt};
//! use diesel_pgmq::PgmqConnectionExt;
//! diesel::table! { orders (id) { id -> Int4, request_id -> Text } }
//!
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, request_id text NOT NULL UNIQUE)").execute(&mut conn)?;
//! conn.create_queue("order_events")?;
//! let outbox = Outbox::new("order_events")?;
//! let mut place = |request_id: &str| {
//!     diesel::insert_into(orders::table)
//!         .values(orders::request_id.eq(request_id))
//!         .on_conflict(orders::request_id)
//!         .do_nothing()
//!         .returning((orders::id, orders::request_id))
//!         .enqueue(&outbox)
//!         .get_results::<((i32, String), i64)>(&mut conn)
//! };
//! assert_eq!(place("req-1")?.len(), 1);
//! assert_eq!(place("req-1")?.len(), 0); // the retry: no row, no message
//! assert_eq!(conn.metrics("order_events")?.queue_length, 1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use diesel::Expression;
use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{
    AsQuery, AstPass, DeleteStatement, InsertStatement, Query, QueryFragment, QueryId,
    UpdateStatement,
};
use diesel::query_source::QuerySource;
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};
use pgmq_orm_core::outbox::{CLOSE, OPEN, SELECT, SqlPart};
pub use pgmq_orm_core::outbox::{MSG_ID, Outbox, Payload, WRITTEN};

/// Wraps a Diesel write statement so every row it returns is also sent to a queue, in
/// the same statement. Implemented for `insert_into(..)`, `update(..)` and `delete(..)`
/// statements; without an explicit `.returning(..)` they return all the table's
/// columns, as Diesel's own `get_results` does.
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use diesel::prelude::*;
/// use diesel_pgmq::outbox::{Outbox, OutboxExt};
/// diesel::table! { orders (id) { id -> Int4, item -> Text } }
///
/// let outbox = Outbox::new("order_events")?;
/// let stmt = diesel::update(orders::table.find(1))
///     .set(orders::item.eq("lamp"))
///     .enqueue(&outbox);
/// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
/// assert!(sql.starts_with(r#"WITH "pgmq_written" AS (UPDATE "orders" SET"#));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait OutboxExt: AsQuery + Sized {
    /// Sends one message per returned row, built as `outbox`'s [`Payload`] says (the
    /// whole row by default). Load the result as `(Row, i64)`: the returned row and the
    /// id of its message.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// use diesel_pgmq::PgmqConnectionExt;
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    ///
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)").execute(&mut conn)?;
    /// conn.create_queue("order_events")?;
    /// let (row, msg_id): ((i32, String), i64) = diesel::insert_into(orders::table)
    ///     .values(orders::item.eq("book"))
    ///     .enqueue(&Outbox::new("order_events")?)
    ///     .get_result(&mut conn)?;
    /// let msg = conn.read::<serde_json::Value>("order_events", 30.into(), 1.try_into()?)?.strict()?.remove(0);
    /// assert_eq!(msg.msg_id, msg_id);
    /// assert_eq!(msg.message, serde_json::json!({"id": row.0, "item": "book"}));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn enqueue(self, outbox: &Outbox) -> Enqueue<Self::Query> {
        Enqueue {
            write: self.as_query(),
            outbox: outbox.for_send().into_owned(),
            payload: OutboxPayload,
        }
    }

    /// Like [`enqueue`](Self::enqueue), with the payload computed by your own `jsonb`
    /// expression over the returned columns (the outbox's [`Payload`] is ignored). The
    /// returned row is in scope as `"pgmq_written"` ([`WRITTEN`]); its columns can be
    /// named unqualified.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel::sql_types::Jsonb;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// use diesel_pgmq::PgmqConnectionExt;
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    ///
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)").execute(&mut conn)?;
    /// conn.create_queue("order_events")?;
    /// let event = diesel::dsl::sql::<Jsonb>("jsonb_build_object('order_id', id, 'label', upper(item))");
    /// let (_, msg_id): ((i32, String), i64) = diesel::insert_into(orders::table)
    ///     .values(orders::item.eq("book"))
    ///     .enqueue_with(&Outbox::new("order_events")?, event)
    ///     .get_result(&mut conn)?;
    /// let msg = conn.read::<serde_json::Value>("order_events", 30.into(), 1.try_into()?)?.strict()?.remove(0);
    /// assert_eq!((msg.msg_id, &msg.message["label"]), (msg_id, &serde_json::json!("BOOK")));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn enqueue_with<E>(self, outbox: &Outbox, payload: E) -> Enqueue<Self::Query, E>
    where
        E: Expression<SqlType = Jsonb> + QueryFragment<Pg>,
    {
        Enqueue {
            write: self.as_query(),
            outbox: outbox.for_send().into_owned(),
            payload,
        }
    }
}

impl<T: QuerySource, U, Op, Ret> OutboxExt for InsertStatement<T, U, Op, Ret> where Self: AsQuery {}
impl<T: QuerySource, U, V, Ret> OutboxExt for UpdateStatement<T, U, V, Ret> where Self: AsQuery {}
impl<T: QuerySource, U, Ret> OutboxExt for DeleteStatement<T, U, Ret> where Self: AsQuery {}

/// The payload an [`Outbox`] describes ([`Payload`]), as [`Enqueue`]'s default payload.
///
/// ```
/// use diesel_pgmq::outbox::{Enqueue, OutboxPayload};
/// fn default_payload<Q>(_: &Enqueue<Q, OutboxPayload>) {}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxPayload;

/// How an [`Enqueue`] writes its payload expression: [`OutboxPayload`], or any Diesel
/// expression of SQL type `Jsonb`.
///
/// ```
/// use diesel_pgmq::outbox::{OutboxPayload, PayloadSql};
/// fn is_payload<P: PayloadSql>(_: &P) {}
/// is_payload(&OutboxPayload);
/// is_payload(&diesel::dsl::sql::<diesel::sql_types::Jsonb>("'{}'::jsonb"));
/// ```
pub trait PayloadSql {
    /// Writes the payload expression; `outbox` is the statement's outbox.
    fn walk_payload<'b>(&'b self, outbox: &'b Outbox, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl PayloadSql for OutboxPayload {
    fn walk_payload<'b>(
        &'b self,
        outbox: &'b Outbox,
        mut out: AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        for part in outbox.payload_spec().parts() {
            push_part(part, out.reborrow())?;
        }
        Ok(())
    }
}

impl<E> PayloadSql for E
where
    E: Expression<SqlType = Jsonb> + QueryFragment<Pg>,
{
    fn walk_payload<'b>(&'b self, _: &'b Outbox, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk_ast(out)
    }
}

fn push_part<'b>(part: SqlPart<'b>, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
    match part {
        SqlPart::Sql(sql) => out.push_sql(&sql),
        SqlPart::Text(v) => out.push_bind_param::<Text, _>(v)?,
        SqlPart::Json(v) => out.push_bind_param::<Jsonb, _>(v)?,
        SqlPart::OptJson(v) => out.push_bind_param::<Nullable<Jsonb>, _>(v)?,
        SqlPart::Int(v) => out.push_bind_param::<Integer, _>(v)?,
        SqlPart::Time(v) => out.push_bind_param::<Timestamptz, _>(v)?,
        // The payload is written by the caller; `Payload::parts` never yields this.
        SqlPart::Payload => {}
        _ => unreachable!("every SqlPart variant is rendered above"),
    }
    Ok(())
}

/// A write statement whose returned rows are each sent to a queue, in one statement
/// (see the [module docs](self)). Made by [`OutboxExt`]; run it with `RunQueryDsl`
/// (sync Diesel or diesel-async) and load `(Row, i64)`.
///
/// Its SQL type is `(write's row type, BigInt)`. The SQL text varies with the payload
/// and the delay's kind, so it has no static query id; Diesel still caches the prepared
/// statement by its text.
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use diesel::prelude::*;
/// use diesel_pgmq::outbox::{Outbox, OutboxExt};
/// diesel::table! { orders (id) { id -> Int4, item -> Text } }
///
/// let stmt = diesel::delete(orders::table.filter(orders::id.eq(3)))
///     .returning(orders::id)
///     .enqueue(&Outbox::new("order_events")?);
/// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
/// assert!(sql.contains(r#"pgmq.send($2, to_jsonb("pgmq_written"), $3::jsonb, $4::integer) AS "__pgmq_outbox_msg_id""#));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a statement does nothing until it is executed"]
pub struct Enqueue<Q, P = OutboxPayload> {
    write: Q,
    outbox: Outbox,
    payload: P,
}

impl<Q, P> Enqueue<Q, P> {
    /// The outbox this statement sends to.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    /// let stmt = diesel::delete(orders::table).enqueue(&Outbox::new("order_events")?);
    /// assert_eq!(stmt.outbox().queue().as_str(), "order_events");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

impl<Q, P> QueryId for Enqueue<Q, P> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query, P> Query for Enqueue<Q, P> {
    type SqlType = (Q::SqlType, BigInt);
}

impl<Q, P> QueryFragment<Pg> for Enqueue<Q, P>
where
    Q: QueryFragment<Pg>,
    P: PayloadSql,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(OPEN);
        self.write.walk_ast(out.reborrow())?;
        out.push_sql(SELECT);
        for part in self.outbox.send_call() {
            match part {
                SqlPart::Payload => self.payload.walk_payload(&self.outbox, out.reborrow())?,
                other => push_part(other, out.reborrow())?,
            }
        }
        out.push_sql(CLOSE);
        Ok(())
    }
}

#[cfg(feature = "sync")]
impl<Q, P, C> diesel::RunQueryDsl<C> for Enqueue<Q, P> {}
