//! pgmq's row-returning functions (`pgmq.read`, `pgmq.metrics`, `pgmq.list_queues`, ...)
//! as typed Diesel query sources: tables whose `FROM` item is the function call, with
//! typed columns, so the DSL selects, filters, orders, joins and nests them in
//! subqueries like any table.
//!
//! Each source module is named after the rows it yields and holds a `table` type and its
//! columns; the function of the same name makes one from a [`crate::query`] statement,
//! which fixes the pgmq function and binds its arguments:
//!
//! | source | made from | columns |
//! |---|---|---|
//! | [`messages()`] | `query::read`, `read_conditional`, `read_with_poll`, `read_grouped*`, `pop`, `set_vt`, `set_vt_batch` | `msg_id`, `read_ct`, `enqueued_at`, `last_read_at`, `vt`, `message`, `headers` |
//! | [`metrics()`] | `query::metrics`, `metrics_all` | `queue_name`, `queue_length`, ..., `default_partition_length` |
//! | [`queues()`] | `query::list_queues` | `queue_name`, `is_partitioned`, `is_unlogged`, `created_at` |
//! | [`topic_bindings()`] | `query::list_topic_bindings`, `list_topic_bindings_for` | `pattern`, `queue_name`, `bound_at`, `compiled_regex` |
//! | [`routes()`] | `query::test_routing` | `pattern`, `queue_name`, `compiled_regex` |
//! | [`notify_throttles()`] | `query::list_notify_insert_throttles` | `queue_name`, `throttle_interval_ms`, `last_notified_at` |
//!
//! The call is rendered as `pgmq.read($1, $2, $3) AS "pgmq_messages"` and the columns
//! as `"pgmq_messages"."msg_id"`; every argument stays a bound parameter. The sources
//! join each other without further ado; to join one with your own tables (or a queue's
//! [`pgmq_tables!`](crate::pgmq_tables)), declare the pair with
//! [`allow_pgmq_sources_in_same_query!`](crate::allow_pgmq_sources_in_same_query)
//! (Diesel's `allow_tables_to_appear_in_same_query!` also emits impls for Postgres'
//! `ONLY` and `TABLESAMPLE` wrappers, which Rust's orphan rule forbids for a table of
//! another crate).
//!
//! ```
//! # #[cfg(feature = "sync")] {
//! use diesel::prelude::*;
//! use diesel_pgmq::sources::{self, messages, metrics, queues};
//! use diesel_pgmq::{query, BatchSize, PgmqConnectionExt, QueueName};
//! use serde_json::json;
//!
//! diesel::table! { orders (id) { id -> Int4, item -> Text, msg_id -> Int8 } }
//! diesel_pgmq::allow_pgmq_sources_in_same_query!(orders, messages);
//!
//! # let db = pgmq_harness::TestDb::new();
//! let mut conn = PgConnection::establish(db.url())?;
//! # diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, msg_id bigint NOT NULL)").execute(&mut conn)?;
//! let jobs = QueueName::new("jobs")?;
//! conn.create_queue(&jobs)?;
//! for item in ["book", "pen"] {
//!     let msg_id = conn.send(&jobs, &json!({"item": item}))?;
//!     diesel::insert_into(orders::table)
//!         .values((orders::item.eq(item), orders::msg_id.eq(msg_id)))
//!         .execute(&mut conn)?;
//! }
//!
//! // Claim up to 10 messages and join each with its order, in one statement.
//! let claimed = sources::messages(query::read(&jobs, 30.into(), BatchSize::new(10)?));
//! let rows: Vec<(String, i32)> = orders::table
//!     .inner_join(claimed.on(messages::msg_id.eq(orders::msg_id)))
//!     .select((orders::item, messages::read_ct))
//!     .order(orders::id)
//!     .load(&mut conn)?;
//! assert_eq!(rows, [("book".to_owned(), 1), ("pen".to_owned(), 1)]);
//!
//! // Every queue with its length: two pgmq functions joined in the DSL.
//! let lengths: Vec<(String, i64)> = sources::queues(query::list_queues())
//!     .inner_join(sources::metrics(query::metrics_all()).on(metrics::queue_name.eq(queues::queue_name)))
//!     .select((queues::queue_name, metrics::queue_length))
//!     .load(&mut conn)?;
//! assert_eq!(lengths, [("jobs".to_owned(), 2)]);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What to keep in mind:
//!
//! - The function runs as Postgres runs a function in `FROM`: once, whole, before any
//!   `WHERE`, `LIMIT` or join condition of yours. A `read` source claims (and a `pop`
//!   source deletes) its `qty` messages even when your filter then drops some of them;
//!   filter inside pgmq instead (`query::read_conditional`) when only matching messages
//!   may be claimed.
//! - A source type appears once per query: two message sources (a `read` joined with a
//!   `pop`) do not compile, as a table joined with itself without an alias does not.
//!   Run them as two statements, or compose them in SQL.
//! - `metrics::default_partition_length` came with pgmq 1.13; on earlier versions it
//!   reads as `NULL` (looked up by name in the row), like in [`crate::query::metrics`].
//! - A `message` column loads as a `serde_json::Value` (Diesel parses it); to keep each
//!   message's exact text and decode it on its own, load `messages::all_columns` into
//!   [`crate::query::MessageRow`].

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, sql_types};

use crate::query::{
    Call, MessageSql, MetricsSql, NotifyThrottleSql, QueueInfoSql, RoutingMatchSql, Statement,
    TopicBindingSql,
};

/// Declares one source module: its `table` (a pgmq call aliased `$alias`), its columns,
/// and the function of the same name that makes the table from a `Statement<$sql>`.
macro_rules! source {
    (
        $(#[$doc:meta])*
        $module:ident: Statement<$sql:ident> as $alias:literal, key $key:ident {
            $($(#[$cdoc:meta])* $col:ident -> $ty:ty $(, late $late_ty:literal)?;)+
        }
    ) => {
        $(#[$doc])*
        pub fn $module(statement: Statement<$sql>) -> $module::table {
            $module::table(statement.into_call())
        }

        #[doc = ::core::concat!("The table and columns of [`", ::core::stringify!($module), "()`].")]
        #[allow(non_camel_case_types)]
        pub mod $module {
            use super::*;

            /// The source: the pgmq call of the statement it was made from, aliased
            #[doc = concat!("`\"", $alias, "\"`.")]
            #[derive(Debug, Clone)]
            pub struct table(pub(super) Call);

            /// The alias the call gets in `FROM`, which qualifies the columns.
            pub const ALIAS: &str = $alias;

            /// The SQL type of a whole row.
            pub type SqlType = $sql;

            /// Every column, in the order of the row type.
            #[allow(non_upper_case_globals)]
            pub const all_columns: ($($col,)+) = ($($col,)+);

            // The SQL text differs between the statements a source is made from (read,
            // pop, set_vt ...), so it must not share a prepared statement by type.
            impl QueryId for table {
                type QueryId = ();
                const HAS_STATIC_QUERY_ID: bool = false;
            }

            impl QueryFragment<Pg> for table {
                fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                    self.0.walk(out.reborrow())?;
                    out.push_sql(" AS ");
                    out.push_identifier(ALIAS)
                }
            }

            impl ::diesel::QuerySource for table {
                type FromClause = table;
                type DefaultSelection = ($($col,)+);
                fn from_clause(&self) -> table {
                    self.clone()
                }
                fn default_selection(&self) -> Self::DefaultSelection {
                    all_columns
                }
            }

            impl ::diesel::query_builder::AsQuery for table {
                type SqlType = $sql;
                type Query = ::diesel::internal::table_macro::SelectStatement<
                    ::diesel::internal::table_macro::FromClause<table>,
                >;
                fn as_query(self) -> Self::Query {
                    ::diesel::internal::table_macro::SelectStatement::simple(self)
                }
            }

            impl ::diesel::Table for table {
                type PrimaryKey = $key;
                type AllColumns = ($($col,)+);
                fn primary_key(&self) -> $key {
                    $key
                }
                fn all_columns() -> Self::AllColumns {
                    all_columns
                }
            }

            impl ::diesel::query_source::AppearsInFromClause<table> for table {
                type Count = ::diesel::query_source::Once;
            }

            impl ::diesel::query_source::AppearsInFromClause<table>
                for ::diesel::internal::table_macro::NoFromClause
            {
                type Count = ::diesel::query_source::Never;
            }

            $(source!(@column $(#[$cdoc])* $col -> $ty $(, late $late_ty)?);)+
        }
    };

    (@column $(#[$cdoc:meta])* $col:ident -> $ty:ty $(, late $late_ty:literal)?) => {
        $(#[$cdoc])*
        #[derive(Debug, Clone, Copy, Default, QueryId)]
        pub struct $col;

        impl ::diesel::Expression for $col {
            type SqlType = $ty;
        }

        impl QueryFragment<Pg> for $col {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                source!(@render out, $col $(, $late_ty)?)
            }
        }

        impl ::diesel::query_source::Column for $col {
            type Table = table;
            const NAME: &'static str = ::core::stringify!($col);
        }

        impl ::diesel::SelectableExpression<table> for $col {}

        impl<QS> ::diesel::AppearsOnTable<QS> for $col where
            QS: ::diesel::query_source::AppearsInFromClause<table, Count = ::diesel::query_source::Once>
        {
        }

        // On the nullable side of a left join only `Nullable<column>` is selectable,
        // as for Diesel's own tables.
        impl<Left, Right> ::diesel::SelectableExpression<
            ::diesel::internal::table_macro::Join<Left, Right, ::diesel::internal::table_macro::LeftOuter>,
        > for $col
        where
            $col: ::diesel::AppearsOnTable<
                ::diesel::internal::table_macro::Join<Left, Right, ::diesel::internal::table_macro::LeftOuter>,
            >,
            Self: ::diesel::SelectableExpression<Left>,
            Right: ::diesel::query_source::AppearsInFromClause<table, Count = ::diesel::query_source::Never>
                + ::diesel::QuerySource,
            Left: ::diesel::QuerySource,
        {
        }

        impl<Left, Right> ::diesel::SelectableExpression<
            ::diesel::internal::table_macro::Join<Left, Right, ::diesel::internal::table_macro::Inner>,
        > for $col
        where
            $col: ::diesel::AppearsOnTable<
                ::diesel::internal::table_macro::Join<Left, Right, ::diesel::internal::table_macro::Inner>,
            >,
            Left: ::diesel::query_source::AppearsInFromClause<table> + ::diesel::QuerySource,
            Right: ::diesel::query_source::AppearsInFromClause<table> + ::diesel::QuerySource,
            (Left::Count, Right::Count): ::diesel::internal::table_macro::Pick<Left, Right>,
            Self: ::diesel::SelectableExpression<
                <(Left::Count, Right::Count) as ::diesel::internal::table_macro::Pick<Left, Right>>::Selection,
            >,
        {
        }

        impl<J, On> ::diesel::SelectableExpression<::diesel::internal::table_macro::JoinOn<J, On>> for $col where
            $col: ::diesel::SelectableExpression<J>
                + ::diesel::AppearsOnTable<::diesel::internal::table_macro::JoinOn<J, On>>
        {
        }

        impl<From> ::diesel::SelectableExpression<
            ::diesel::internal::table_macro::SelectStatement<::diesel::internal::table_macro::FromClause<From>>,
        > for $col
        where
            From: ::diesel::QuerySource,
            $col: ::diesel::SelectableExpression<From>
                + ::diesel::AppearsOnTable<
                    ::diesel::internal::table_macro::SelectStatement<::diesel::internal::table_macro::FromClause<From>>,
                >,
        {
        }

        impl<GB> ::diesel::expression::ValidGrouping<GB> for $col
        where
            GB: ::diesel::expression::IsContainedInGroupBy<
                $col,
                Output = ::diesel::expression::is_contained_in_group_by::Yes,
            >,
        {
            type IsAggregate = ::diesel::expression::is_aggregate::Yes;
        }

        impl ::diesel::expression::ValidGrouping<()> for $col {
            type IsAggregate = ::diesel::expression::is_aggregate::No;
        }

        impl ::diesel::expression::IsContainedInGroupBy<$col> for $col {
            type Output = ::diesel::expression::is_contained_in_group_by::Yes;
        }
    };

    (@render $out:ident, $col:ident) => {{
        $out.push_identifier(ALIAS)?;
        $out.push_sql(".");
        $out.push_identifier(::core::stringify!($col))
    }};
    // A column some supported pgmq version lacks: looked up by name in the row as JSON,
    // so it reads as NULL there instead of failing the statement.
    (@render $out:ident, $col:ident, $late_ty:literal) => {{
        $out.push_sql("(to_jsonb(");
        $out.push_identifier(ALIAS)?;
        $out.push_sql(::core::concat!(") ->> '", ::core::stringify!($col), "')::", $late_ty));
        Ok(())
    }};
}

source! {
    /// Messages: what `pgmq.read` and its relatives, `pgmq.pop` and `pgmq.set_vt` return
    /// (`pgmq.message_record`).
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::sources::{self, messages};
    /// use diesel_pgmq::{query, BatchSize, PgmqConnectionExt, QueueName};
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// let jobs = QueueName::new("jobs")?;
    /// conn.create_queue(&jobs)?;
    /// conn.send(&jobs, &serde_json::json!({"n": 1}))?;
    /// conn.send(&jobs, &serde_json::json!({"n": 2}))?;
    /// // Pop both, keep the ids of the even ones: the pop itself took both.
    /// let even: Vec<i64> = sources::messages(query::pop(&jobs, BatchSize::new(2)?))
    ///     .filter(messages::message.retrieve_as_text("n").eq("2"))
    ///     .select(messages::msg_id)
    ///     .load(&mut conn)?;
    /// assert_eq!(even, [2]);
    /// assert_eq!(conn.metrics(&jobs)?.queue_length, 0);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    messages: Statement<MessageSql> as "pgmq_messages", key msg_id {
        /// `msg_id`
        msg_id -> sql_types::BigInt;
        /// `read_ct`
        read_ct -> sql_types::Integer;
        /// `enqueued_at`
        enqueued_at -> sql_types::Timestamptz;
        /// `last_read_at`
        last_read_at -> sql_types::Nullable<sql_types::Timestamptz>;
        /// `vt`
        vt -> sql_types::Timestamptz;
        /// `message`
        message -> sql_types::Nullable<sql_types::Jsonb>;
        /// `headers`
        headers -> sql_types::Nullable<sql_types::Jsonb>;
    }
}

source! {
    /// Queue metrics: what `pgmq.metrics` and `pgmq.metrics_all` return.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::sources::{self, metrics};
    /// use diesel_pgmq::{query, PgmqConnectionExt, QueueName};
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// for q in ["a", "b"] { conn.create_queue(q)?; }
    /// conn.send("b", &1)?;
    /// // Queues with messages waiting.
    /// let busy: Vec<String> = sources::metrics(query::metrics_all())
    ///     .filter(metrics::queue_length.gt(0))
    ///     .select(metrics::queue_name)
    ///     .load(&mut conn)?;
    /// assert_eq!(busy, ["b"]);
    /// let one: Option<i64> = sources::metrics(query::metrics(&QueueName::new("a")?))
    ///     .select(metrics::default_partition_length)
    ///     .first(&mut conn)?;
    /// assert_eq!(one, None); // not a partitioned queue
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    metrics: Statement<MetricsSql> as "pgmq_metrics", key queue_name {
        /// `queue_name`
        queue_name -> sql_types::Text;
        /// `queue_length`
        queue_length -> sql_types::BigInt;
        /// `newest_msg_age_sec`
        newest_msg_age_sec -> sql_types::Nullable<sql_types::Integer>;
        /// `oldest_msg_age_sec`
        oldest_msg_age_sec -> sql_types::Nullable<sql_types::Integer>;
        /// `total_messages`
        total_messages -> sql_types::BigInt;
        /// `scrape_time`
        scrape_time -> sql_types::Timestamptz;
        /// `queue_visible_length`
        queue_visible_length -> sql_types::BigInt;
        /// `default_partition_length` (pgmq 1.13; `NULL` before)
        default_partition_length -> sql_types::Nullable<sql_types::BigInt>, late "bigint";
    }
}

source! {
    /// Queues: what `pgmq.list_queues` returns (`pgmq.queue_record`).
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::sources::{self, queues};
    /// use diesel_pgmq::{query, PgmqConnectionExt};
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_queue("logged")?;
    /// diesel::sql_query("SELECT pgmq.create_unlogged('fast')").execute(&mut conn)?;
    /// let unlogged: Vec<String> = sources::queues(query::list_queues())
    ///     .filter(queues::is_unlogged)
    ///     .select(queues::queue_name)
    ///     .load(&mut conn)?;
    /// assert_eq!(unlogged, ["fast"]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    queues: Statement<QueueInfoSql> as "pgmq_queues", key queue_name {
        /// `queue_name`
        queue_name -> sql_types::Text;
        /// `is_partitioned`
        is_partitioned -> sql_types::Bool;
        /// `is_unlogged`
        is_unlogged -> sql_types::Bool;
        /// `created_at`
        created_at -> sql_types::Timestamptz;
    }
}

source! {
    /// Topic bindings: what `pgmq.list_topic_bindings` returns.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::sources::{self, queues, routes, topic_bindings};
    /// use diesel_pgmq::{query, PgmqConnectionExt};
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_queue("eu")?;
    /// conn.create_queue("us")?;
    /// conn.bind_topic("orders.eu.*", "eu")?;
    /// // Queues that no topic reaches.
    /// let bound = sources::topic_bindings(query::list_topic_bindings()).select(topic_bindings::queue_name);
    /// let unbound: Vec<String> = sources::queues(query::list_queues())
    ///     .filter(queues::queue_name.ne_all(bound))
    ///     .select(queues::queue_name)
    ///     .load(&mut conn)?;
    /// assert_eq!(unbound, ["us"]);
    /// // Where a routing key goes.
    /// let reached: Vec<String> = sources::routes(query::test_routing("orders.eu.created"))
    ///     .select(routes::queue_name)
    ///     .load(&mut conn)?;
    /// assert_eq!(reached, ["eu"]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    topic_bindings: Statement<TopicBindingSql> as "pgmq_topic_bindings", key pattern {
        /// `pattern`
        pattern -> sql_types::Text;
        /// `queue_name`
        queue_name -> sql_types::Text;
        /// `bound_at`
        bound_at -> sql_types::Timestamptz;
        /// `compiled_regex`
        compiled_regex -> sql_types::Text;
    }
}

source! {
    /// Routing matches: what `pgmq.test_routing` returns (see [`topic_bindings()`] for
    /// an example).
    routes: Statement<RoutingMatchSql> as "pgmq_routes", key pattern {
        /// `pattern`
        pattern -> sql_types::Text;
        /// `queue_name`
        queue_name -> sql_types::Text;
        /// `compiled_regex`
        compiled_regex -> sql_types::Text;
    }
}

source! {
    /// Insert-notification throttles: what `pgmq.list_notify_insert_throttles` returns.
    ///
    /// ```
    /// # #[cfg(feature = "sync")] {
    /// use diesel::prelude::*;
    /// use diesel_pgmq::sources::{self, notify_throttles};
    /// use diesel_pgmq::{query, PgmqConnectionExt};
    /// # let db = pgmq_harness::TestDb::new();
    /// let mut conn = PgConnection::establish(db.url())?;
    /// conn.create_queue("jobs")?;
    /// diesel::sql_query("SELECT pgmq.enable_notify_insert('jobs', 250)").execute(&mut conn)?;
    /// let slow: Vec<(String, i32)> = sources::notify_throttles(query::list_notify_insert_throttles())
    ///     .filter(notify_throttles::throttle_interval_ms.ge(100))
    ///     .select((notify_throttles::queue_name, notify_throttles::throttle_interval_ms))
    ///     .load(&mut conn)?;
    /// assert_eq!(slow, [("jobs".to_owned(), 250)]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    notify_throttles: Statement<NotifyThrottleSql> as "pgmq_notify_throttles", key queue_name {
        /// `queue_name`
        queue_name -> sql_types::Text;
        /// `throttle_interval_ms`
        throttle_interval_ms -> sql_types::Integer;
        /// `last_notified_at`
        last_notified_at -> sql_types::Timestamptz;
    }
}

/// Lets each pair of sources appear in one query (they are distinct types with distinct
/// aliases).
macro_rules! sources_in_same_query {
    ($first:ident $(, $rest:ident)*) => {
        $(
            impl ::diesel::query_source::TableNotEqual<$rest::table> for $first::table {}
            impl ::diesel::query_source::TableNotEqual<$first::table> for $rest::table {}
        )*
        sources_in_same_query!($($rest),*);
    };
    () => {};
}

sources_in_same_query!(
    messages,
    metrics,
    queues,
    topic_bindings,
    routes,
    notify_throttles
);

/// Lets a table of yours (or a queue table of [`pgmq_tables!`](crate::pgmq_tables))
/// appear in one query with [`sources`](crate::sources): the first argument is the
/// table's module (a path), the rest are source modules (`messages`, `metrics`,
/// `queues`, `topic_bindings`, `routes`, `notify_throttles`).
///
/// It is Diesel's `allow_tables_to_appear_in_same_query!` for a pair of tables from two
/// crates: Diesel's macro also emits impls for `ONLY` / `TABLESAMPLE` wrappers of the
/// other crate's table, which Rust's orphan rule rejects.
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use diesel::prelude::*;
/// use diesel_pgmq::sources::{self, metrics};
/// use diesel_pgmq::{query, PgmqConnectionExt};
///
/// diesel::table! { tenants (id) { id -> Int4, queue -> Text } }
/// diesel_pgmq::pgmq_tables! { pub mod jobs { queue: q_jobs, archive: a_jobs } }
/// diesel_pgmq::allow_pgmq_sources_in_same_query!(tenants, metrics);
/// diesel_pgmq::allow_pgmq_sources_in_same_query!(jobs::queue, metrics);
///
/// # let db = pgmq_harness::TestDb::new();
/// let mut conn = PgConnection::establish(db.url())?;
/// # diesel::sql_query("CREATE TABLE tenants (id int PRIMARY KEY, queue text NOT NULL)").execute(&mut conn)?;
/// # diesel::sql_query("INSERT INTO tenants VALUES (1, 'jobs')").execute(&mut conn)?;
/// conn.create_queue(jobs::QUEUE)?;
/// conn.send(jobs::QUEUE, &1)?;
/// // Each tenant with the length of its queue.
/// let lengths: Vec<(i32, i64)> = tenants::table
///     .inner_join(sources::metrics(query::metrics_all()).on(metrics::queue_name.eq(tenants::queue)))
///     .select((tenants::id, metrics::queue_length))
///     .load(&mut conn)?;
/// assert_eq!(lengths, [(1, 1)]);
/// // A queue table beside a source: each message with its queue's length.
/// let rows: Vec<(i64, i64)> = jobs::queue::table
///     .inner_join(sources::metrics(query::metrics(&jobs::QUEUE)).on(diesel::dsl::sql::<diesel::sql_types::Bool>("true")))
///     .select((jobs::queue::msg_id, metrics::queue_length))
///     .load(&mut conn)?;
/// assert_eq!(rows, [(1, 1)]);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! allow_pgmq_sources_in_same_query {
    ($($table:ident)::+ , $($source:ident),+ $(,)?) => {
        $crate::allow_pgmq_sources_in_same_query!(@each [$($table)::+] $($source),+);
    };
    (@each [$($table:tt)+] $source:ident $(, $rest:ident)*) => {
        impl ::diesel::query_source::TableNotEqual<$crate::sources::$source::table> for $($table)+::table {}
        impl ::diesel::query_source::TableNotEqual<$($table)+::table> for $crate::sources::$source::table {}
        $crate::allow_pgmq_sources_in_same_query!(@each [$($table)+] $($rest),*);
    };
    (@each [$($table:tt)+]) => {};
}
