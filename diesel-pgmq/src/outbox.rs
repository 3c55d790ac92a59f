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
//! over the returned columns, named through a typed [`Written`] handle. Queue name,
//! headers, delay and payload keys are bound parameters.
//!
//! The columns of [`Payload::fields`] are checked against the columns the write returns
//! when the statement is built ([`Payload::check_returned`]), wherever its `RETURNING`
//! list is plain columns (Diesel's default, a tuple of columns, `as_returning()`): a
//! misspelt or unreturned column fails with [`Error::InvalidArgument`](crate::Error) before
//! anything reaches the server.
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

use std::marker::PhantomData;

use diesel::expression::{AppearsOnTable, ValidGrouping, is_aggregate};
use diesel::pg::{Pg, PgQueryBuilder};
use diesel::query_builder::{
    AsQuery, AstPass, DeleteStatement, InsertStatement, Query, QueryBuilder, QueryFragment,
    QueryId, UpdateStatement,
};
use diesel::query_source::{Column, QuerySource};
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel::{Expression, QueryResult};
use pgmq_orm_core::Error;
use pgmq_orm_core::outbox::{CLOSE, OPEN, SELECT, SqlPart, returning_columns};
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
    /// The table written to, whose columns [`Written`] names.
    type Table;

    /// Sends one message per returned row, built as `outbox`'s [`Payload`] says (the
    /// whole row by default). Load the result as `(Row, i64)`: the returned row and the
    /// id of its message.
    ///
    /// The columns of [`Payload::fields`] are checked against a `RETURNING` list of
    /// plain columns here: the statement then fails with [`Error::InvalidArgument`]
    /// before it reaches the server.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt, Payload};
    /// use diesel_pgmq::{ErrorKind, PgmqConnectionExt};
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
    ///
    /// // A payload column the write does not return: refused before any SQL runs.
    /// let typo = Outbox::new("order_events")?.payload(Payload::fields([("order_id", "idd")])?);
    /// let err = diesel::insert_into(orders::table)
    ///     .values(orders::item.eq("pen"))
    ///     .returning(orders::id)
    ///     .enqueue(&typo)
    ///     .get_result::<(i32, i64)>(&mut conn)
    ///     .unwrap_err();
    /// assert_eq!(diesel_pgmq::Error::from(err).kind(), ErrorKind::InvalidArgument);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn enqueue(self, outbox: &Outbox) -> Enqueue<Self::Query>
    where
        Self::Query: QueryFragment<Pg>,
    {
        let write = self.as_query();
        let invalid = check_fields(&write, outbox);
        Enqueue {
            write,
            outbox: outbox.for_send().into_owned(),
            payload: OutboxPayload,
            invalid,
        }
    }

    /// Like [`enqueue`](Self::enqueue), with the payload computed by your own `jsonb`
    /// expression over the returned row (the outbox's [`Payload`] is ignored). The
    /// closure gets the [`Written`] row: `w.col(orders::id)` is the returned `id`, typed
    /// like `orders::id`, and [`Written::object`] builds a JSON object from such
    /// expressions. The table's own columns (`orders::id`) are not in scope in the
    /// statement's outer `SELECT`, so they do not compile here; raw SQL
    /// (`diesel::dsl::sql::<Jsonb>`) may name the returned columns unqualified.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// use diesel_pgmq::PgmqConnectionExt;
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    /// #[diesel::declare_sql_function]
    /// extern "SQL" { fn upper(x: diesel::sql_types::Text) -> diesel::sql_types::Text; }
    ///
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)").execute(&mut conn)?;
    /// conn.create_queue("order_events")?;
    /// let (_, msg_id): ((i32, String), i64) = diesel::insert_into(orders::table)
    ///     .values(orders::item.eq("book"))
    ///     .enqueue_with(&Outbox::new("order_events")?, |w| {
    ///         w.object()
    ///             .field("order_id", w.col(orders::id))
    ///             .field("label", upper(w.col(orders::item)))
    ///     })
    ///     .get_result(&mut conn)?;
    /// let msg = conn.read::<serde_json::Value>("order_events", 30.into(), 1.try_into()?)?.strict()?.remove(0);
    /// assert_eq!(msg.msg_id, msg_id);
    /// assert_eq!(msg.message, serde_json::json!({"order_id": 1, "label": "BOOK"}));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A column of the written table itself, rather than of the returned row, is
    /// refused at compile time (PostgreSQL would say `missing FROM-clause entry`):
    ///
    /// ```compile_fail
    /// use diesel::prelude::*;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    /// let outbox = Outbox::new("order_events").unwrap();
    /// let _ = diesel::delete(orders::table)
    ///     .enqueue_with(&outbox, |w| w.object().field("order_id", orders::id));
    /// ```
    fn enqueue_with<F, E>(self, outbox: &Outbox, payload: F) -> Enqueue<Self::Query, E>
    where
        F: FnOnce(Written<Self::Table>) -> E,
        E: Expression<SqlType = Jsonb> + AppearsOnTable<Written<Self::Table>> + QueryFragment<Pg>,
    {
        Enqueue {
            write: self.as_query(),
            outbox: outbox.for_send().into_owned(),
            payload: payload(Written { table: PhantomData }),
            invalid: None,
        }
    }
}

/// [`Payload::check_returned`] against the columns `write` returns, when its SQL text
/// lists them plainly; the error's message if a payload column is not among them.
fn check_fields<Q: QueryFragment<Pg>>(write: &Q, outbox: &Outbox) -> Option<String> {
    if outbox.payload_spec() == &Payload::row() {
        return None;
    }
    let mut sql = PgQueryBuilder::default();
    write.to_sql(&mut sql, &Pg).ok()?;
    let returned = returning_columns(&sql.finish())?;
    match outbox.payload_spec().check_returned(returned) {
        Err(Error::InvalidArgument(msg)) => Some(msg),
        _ => None,
    }
}

/// The row a write returns, as the payload closure of [`OutboxExt::enqueue_with`] sees
/// it: its columns are those of the written table `T`, read from the statement's
/// [`WRITTEN`] row rather than from `T` itself.
///
/// ```
/// use diesel_pgmq::outbox::Written;
/// fn names_columns_of<T>(_: &Written<T>) {}
/// ```
pub struct Written<T> {
    table: PhantomData<T>,
}

impl<T> std::fmt::Debug for Written<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Written")
    }
}

impl<T> Written<T> {
    /// The returned value of `column`, as `"pgmq_written"."<column>"`, with the
    /// column's SQL type: usable in any Diesel expression of the payload.
    ///
    /// ```
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    /// let stmt = diesel::delete(orders::table)
    ///     .enqueue_with(&Outbox::new("order_events")?, |w| diesel::dsl::to_jsonb(w.col(orders::item)));
    /// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
    /// assert!(sql.contains(r#"pgmq.send($1, to_jsonb("pgmq_written"."item"), "#), "{sql}");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn col<C: Column<Table = T>>(&self, column: C) -> WrittenColumn<C> {
        WrittenColumn(column)
    }

    /// The whole returned row as a JSON object (`to_jsonb("pgmq_written")`), to extend
    /// with `.concat(..)`.
    ///
    /// ```
    /// use diesel::prelude::*;
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    /// let stmt = diesel::delete(orders::table).enqueue_with(&Outbox::new("order_events")?, |w| {
    ///     w.row().concat(w.object().constant("type", serde_json::json!("OrderDeleted")))
    /// });
    /// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
    /// assert!(sql.contains(r#"(to_jsonb("pgmq_written") || jsonb_build_object($2::text, $3))"#), "{sql}");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn row(&self) -> WrittenRow {
        WrittenRow
    }

    /// An empty JSON object to add fields to with [`JsonObject::field`]:
    /// `jsonb_build_object(key, value, ...)`, keys bound as parameters.
    ///
    /// ```
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// diesel::table! { orders (id) { id -> Int4, item -> Text } }
    /// let stmt = diesel::delete(orders::table).enqueue_with(&Outbox::new("order_events")?, |w| {
    ///     w.object().field("order_id", w.col(orders::id)).field("item", w.col(orders::item))
    /// });
    /// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
    /// assert!(sql.contains(r#"jsonb_build_object($2::text, "pgmq_written"."id", $3::text, "pgmq_written"."item")"#), "{sql}");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn object(&self) -> JsonObject<()> {
        JsonObject(())
    }
}

/// A column of the returned row: see [`Written::col`].
///
/// ```
/// use diesel_pgmq::outbox::WrittenColumn;
/// fn is_expression<E: diesel::Expression>(_: &E) {}
/// diesel::table! { orders (id) { id -> Int4 } }
/// # fn check(c: WrittenColumn<orders::id>) { is_expression(&c) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WrittenColumn<C>(C);

impl<C: Column> Expression for WrittenColumn<C> {
    type SqlType = C::SqlType;
}

impl<C: Column> QueryFragment<Pg> for WrittenColumn<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_identifier(WRITTEN)?;
        out.push_sql(".");
        out.push_identifier(C::NAME)
    }
}

impl<C: Column> AppearsOnTable<Written<C::Table>> for WrittenColumn<C> {}

impl<C, GB> ValidGrouping<GB> for WrittenColumn<C> {
    type IsAggregate = is_aggregate::No;
}

impl<C> QueryId for WrittenColumn<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// `+ - * /` on a numeric returned column, as on Diesel's own columns.
macro_rules! written_column_ops {
    ($($op:ident $fn:ident),*) => {$(
        impl<C, Rhs> std::ops::$op<Rhs> for WrittenColumn<C>
        where
            C: Column,
            C::SqlType: diesel::sql_types::ops::$op,
            <C::SqlType as diesel::sql_types::ops::$op>::Rhs: diesel::sql_types::SingleValue,
            Rhs: diesel::expression::AsExpression<
                <C::SqlType as diesel::sql_types::ops::$op>::Rhs,
            >,
        {
            type Output = diesel::internal::table_macro::ops::$op<Self, Rhs::Expression>;
            fn $fn(self, rhs: Rhs) -> Self::Output {
                diesel::internal::table_macro::ops::$op::new(self, rhs.as_expression())
            }
        }
    )*};
}

written_column_ops!(Add add, Sub sub, Mul mul, Div div);

/// The whole returned row as JSON: see [`Written::row`].
///
/// ```
/// use diesel_pgmq::outbox::WrittenRow;
/// fn is_jsonb<E: diesel::Expression<SqlType = diesel::sql_types::Jsonb>>(_: &E) {}
/// # fn check(r: WrittenRow) { is_jsonb(&r) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WrittenRow;

impl Expression for WrittenRow {
    type SqlType = Jsonb;
}

impl QueryFragment<Pg> for WrittenRow {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("to_jsonb(");
        out.push_identifier(WRITTEN)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<T> AppearsOnTable<Written<T>> for WrittenRow {}

impl<GB> ValidGrouping<GB> for WrittenRow {
    type IsAggregate = is_aggregate::No;
}

impl QueryId for WrittenRow {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// A JSON object built from expressions over the returned row: see [`Written::object`].
/// `F` is the list of fields so far: `()`, then `(previous, (key, value))`.
///
/// ```
/// use diesel_pgmq::outbox::JsonObject;
/// fn is_jsonb<E: diesel::Expression<SqlType = diesel::sql_types::Jsonb>>(_: &E) {}
/// # fn check(o: JsonObject<()>) { is_jsonb(&o) }
/// ```
#[derive(Debug, Clone)]
pub struct JsonObject<F>(F);

impl<F> JsonObject<F> {
    /// Adds `key` (a bound parameter) with the value of `value`, a Diesel expression
    /// over the returned row (`w.col(..)`, functions of it) or any other expression.
    ///
    /// ```
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// diesel::table! { orders (id) { id -> Int4 } }
    /// let stmt = diesel::delete(orders::table).enqueue_with(&Outbox::new("events")?, |w| {
    ///     w.object().field("id", w.col(orders::id))
    /// });
    /// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
    /// assert!(sql.contains(r#"jsonb_build_object($2::text, "pgmq_written"."id")"#), "{sql}");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn field<V: Expression>(
        self,
        key: impl Into<String>,
        value: V,
    ) -> JsonObject<(F, (String, V))> {
        JsonObject((self.0, (key.into(), value)))
    }

    /// Adds `key` with a constant JSON `value` (both bound parameters), the same for
    /// every row: an event `type`, a schema version.
    ///
    /// ```
    /// use diesel_pgmq::outbox::{Outbox, OutboxExt};
    /// use serde_json::json;
    /// diesel::table! { orders (id) { id -> Int4 } }
    /// let stmt = diesel::delete(orders::table).enqueue_with(&Outbox::new("events")?, |w| {
    ///     w.object().field("id", w.col(orders::id)).constant("type", json!("OrderDeleted"))
    /// });
    /// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
    /// assert!(sql.contains("$3::text, $4)"), "{sql}");
    /// # Ok::<(), diesel_pgmq::Error>(())
    /// ```
    pub fn constant(
        self,
        key: impl Into<String>,
        value: serde_json::Value,
    ) -> JsonObject<(F, (String, JsonConstant))> {
        let value = diesel::expression::AsExpression::<Jsonb>::as_expression(value);
        JsonObject((self.0, (key.into(), value)))
    }
}

/// A constant JSON value bound as `jsonb`: see [`JsonObject::constant`].
pub type JsonConstant = diesel::dsl::AsExprOf<serde_json::Value, Jsonb>;

/// Writes the `key::text, value` pairs of a [`JsonObject`]'s field list.
#[doc(hidden)]
pub trait JsonFields {
    /// Writes the pairs, separated by commas; whether any was written.
    fn walk_fields<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<bool>;
}

impl JsonFields for () {
    fn walk_fields<'b>(&'b self, _: AstPass<'_, 'b, Pg>) -> QueryResult<bool> {
        Ok(false)
    }
}

impl<P: JsonFields, V: QueryFragment<Pg>> JsonFields for (P, (String, V)) {
    fn walk_fields<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<bool> {
        if self.0.walk_fields(out.reborrow())? {
            out.push_sql(", ");
        }
        out.push_bind_param::<Text, String>(&self.1.0)?;
        out.push_sql("::text, ");
        self.1.1.walk_ast(out)?;
        Ok(true)
    }
}

/// Whether every value of a field list may appear over `QS`.
#[doc(hidden)]
pub trait FieldsAppearOn<QS> {}

impl<QS> FieldsAppearOn<QS> for () {}

impl<QS, P: FieldsAppearOn<QS>, V: AppearsOnTable<QS>> FieldsAppearOn<QS> for (P, (String, V)) {}

impl<F> Expression for JsonObject<F> {
    type SqlType = Jsonb;
}

impl<F: JsonFields> QueryFragment<Pg> for JsonObject<F> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("jsonb_build_object(");
        self.0.walk_fields(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

impl<QS, F: FieldsAppearOn<QS>> AppearsOnTable<QS> for JsonObject<F> where Self: Expression {}

impl<F, GB> ValidGrouping<GB> for JsonObject<F> {
    type IsAggregate = is_aggregate::No;
}

impl<F> QueryId for JsonObject<F> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T: QuerySource, U, Op, Ret> OutboxExt for InsertStatement<T, U, Op, Ret>
where
    Self: AsQuery,
{
    type Table = T;
}
impl<T: QuerySource, U, V, Ret> OutboxExt for UpdateStatement<T, U, V, Ret>
where
    Self: AsQuery,
{
    type Table = T;
}
impl<T: QuerySource, U, Ret> OutboxExt for DeleteStatement<T, U, Ret>
where
    Self: AsQuery,
{
    type Table = T;
}

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
    /// Why the statement must not run ([`Payload::check_returned`]), reported when it
    /// is built into SQL, so before anything reaches the server.
    invalid: Option<String>,
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
        if let Some(msg) = &self.invalid {
            let err = Error::InvalidArgument(msg.clone());
            return Err(diesel::result::Error::QueryBuilderError(Box::new(err)));
        }
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
