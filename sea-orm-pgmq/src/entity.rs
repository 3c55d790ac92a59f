//! SeaORM entities for a queue's `pgmq.q_<name>` and `pgmq.a_<name>` tables, so you can
//! query a queue and its archive with SeaORM: peek without claiming, count, find by
//! `msg_id`, join with your own entities.
//!
//! Declare them with [`pgmq_entities!`](crate::pgmq_entities). Reading these tables never
//! changes a message's visibility; to claim messages use pgmq's functions (`pgmq.read`),
//! which keep the visibility-timeout contract. Insert and update through the entities
//! only if you know what pgmq expects of its rows; `pgmq.send` is the way to enqueue.
//!
//! ```
//! use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, ColumnTrait};
//!
//! sea_orm_pgmq::pgmq_entities! {
//!     /// The `orders` queue.
//!     pub mod orders { queue: "q_orders", archive: "a_orders" }
//! }
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! # let test_db = pgmq_harness::TestDb::new();
//! let db = sea_orm::Database::connect(test_db.url()).await?;
//! db.execute_unprepared("SELECT pgmq.create('orders')").await?;
//! db.execute_unprepared(r#"SELECT pgmq.send('orders', '{"id": 1}')"#).await?;
//!
//! // Peek: the oldest visible messages, without claiming them.
//! let visible = orders::queue::Entity::find()
//!     .filter(orders::queue::Column::Vt.lte(chrono::Utc::now()))
//!     .order_by_asc(orders::queue::Column::MsgId)
//!     .all(&db)
//!     .await?;
//! assert_eq!(visible[0].message, Some(serde_json::json!({"id": 1})));
//! assert_eq!(orders::archive::Entity::find().count(&db).await?, 0);
//! assert_eq!(orders::QUEUE.as_str(), "orders");
//! # Ok::<(), sea_orm::DbErr>(()) }).unwrap();
//! ```
//!
//! # Joining with your own tables
//!
//! The entities carry the `pgmq` schema (`schema_name`), and SeaORM keeps it wherever it
//! takes the table from the entity: declare a `Relation` from your entity to
//! `<queue>::queue::Entity` (`belongs_to = "..::queue::Entity"`, with `impl Related`) and
//! `inner_join`, `find_also_related` and `find_with_related` join `"pgmq"."q_<name>"`.
//! In plain sea-query, name the table with `Entity.table_ref()` (trait `EntityName`),
//! never with the bare entity: the entity as an `Iden` is the table name alone, which
//! PostgreSQL then looks up outside `pgmq` (`relation "q_<name>" does not exist`).
//! Columns qualified by the entity (`(Entity, Column::MsgId)`) resolve either way. Tested
//! in `sea-orm-pgmq/tests/entity_join.rs`.
//!
//! ```
//! use sea_orm::sea_query::{Alias, Expr, ExprTrait, PostgresQueryBuilder, Query};
//! use sea_orm::EntityName;
//!
//! sea_orm_pgmq::pgmq_entities! {
//!     /// Order events.
//!     pub mod order_events { queue: "q_order_events", archive: "a_order_events" }
//! }
//! use order_events::queue::{Column, Entity};
//!
//! let sql = Query::select()
//!     .column((Alias::new("orders"), Alias::new("item")))
//!     .column((Entity, Column::ReadCt))
//!     .from(Alias::new("orders"))
//!     .inner_join(
//!         Entity.table_ref(),
//!         Expr::col((Alias::new("orders"), Alias::new("msg_id"))).equals((Entity, Column::MsgId)),
//!     )
//!     .to_string(PostgresQueryBuilder);
//! assert!(sql.contains(r#"INNER JOIN "pgmq"."q_order_events" ON"#), "{sql}");
//!
//! // The bare entity loses the schema:
//! let bare = Query::select().column(Column::MsgId).from(Entity).to_string(PostgresQueryBuilder);
//! assert!(bare.ends_with(r#"FROM "q_order_events""#), "{bare}");
//! ```

/// Declares SeaORM entities for a queue: a module named after the queue holding
/// `queue` (entity of `pgmq.q_<name>`), `archive` (entity of `pgmq.a_<name>`) and the
/// const `QUEUE`, a [`QueueName`](crate::QueueName).
///
/// The table names are spelled out (SeaORM's derive needs literals) and checked at
/// compile time against the module name, as is the queue name itself. Your crate needs
/// `sea_orm` as a dependency (SeaORM's derives refer to it).
///
/// Each module has the usual `Entity`, `Model`, `Column`, `ActiveModel`, `PrimaryKey`
/// and `Relation`. Columns: `msg_id` (primary key), `read_ct`, `enqueued_at`,
/// `last_read_at`, `vt`, `message`, `headers`, and in the archive also `archived_at`.
///
/// ```
/// sea_orm_pgmq::pgmq_entities! {
///     /// Billing events.
///     pub mod billing_events { queue: "q_billing_events", archive: "a_billing_events" }
/// }
/// use sea_orm::{EntityTrait, QueryTrait};
/// let sql = billing_events::queue::Entity::find_by_id(7_i64)
///     .build(sea_orm::DbBackend::Postgres)
///     .to_string();
/// assert!(sql.contains(r#""pgmq"."q_billing_events""#), "{sql}");
/// ```
///
/// A mismatch does not compile:
///
/// ```compile_fail
/// sea_orm_pgmq::pgmq_entities! { pub mod orders { queue: "q_order", archive: "a_orders" } }
/// ```
#[macro_export]
macro_rules! pgmq_entities {
    ($(#[$attr:meta])* $vis:vis mod $queue:ident { queue: $q:tt, archive: $a:tt $(,)? }) => {
        $(#[$attr])*
        $vis mod $queue {
            /// The queue's name.
            pub const QUEUE: $crate::QueueName =
                $crate::QueueName::from_static(::core::stringify!($queue));

            const _: () = ::core::assert!(
                $crate::__table_matches($q, "q_", ::core::stringify!($queue)),
                "pgmq_entities!: the queue table must be named \"q_<module name>\""
            );
            const _: () = ::core::assert!(
                $crate::__table_matches($a, "a_", ::core::stringify!($queue)),
                "pgmq_entities!: the archive table must be named \"a_<module name>\""
            );

            /// The queue table: one row per message not yet deleted or archived.
            #[allow(missing_docs)]
            pub mod queue {
                use ::sea_orm::entity::prelude::*;

                /// A row of the queue table.
                #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
                #[sea_orm(schema_name = "pgmq", table_name = $q)]
                pub struct Model {
                    /// The message id.
                    #[sea_orm(primary_key)]
                    pub msg_id: i64,
                    /// How often the message was read.
                    pub read_ct: i32,
                    /// When it was sent.
                    pub enqueued_at: DateTimeUtc,
                    /// When it was last read.
                    pub last_read_at: Option<DateTimeUtc>,
                    /// When it becomes visible.
                    pub vt: DateTimeUtc,
                    /// The payload.
                    pub message: Option<Json>,
                    /// The headers.
                    pub headers: Option<Json>,
                }

                /// No relations.
                #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
                pub enum Relation {}

                impl ActiveModelBehavior for ActiveModel {}
            }

            /// The archive table: messages moved there by `pgmq.archive`.
            #[allow(missing_docs)]
            pub mod archive {
                use ::sea_orm::entity::prelude::*;

                /// A row of the archive table.
                #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
                #[sea_orm(schema_name = "pgmq", table_name = $a)]
                pub struct Model {
                    /// The message id.
                    #[sea_orm(primary_key, auto_increment = false)]
                    pub msg_id: i64,
                    /// How often the message was read.
                    pub read_ct: i32,
                    /// When it was sent.
                    pub enqueued_at: DateTimeUtc,
                    /// When it was last read.
                    pub last_read_at: Option<DateTimeUtc>,
                    /// When it was archived.
                    pub archived_at: DateTimeUtc,
                    /// Its visibility timeout when archived.
                    pub vt: DateTimeUtc,
                    /// The payload.
                    pub message: Option<Json>,
                    /// The headers.
                    pub headers: Option<Json>,
                }

                /// No relations.
                #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
                pub enum Relation {}

                impl ActiveModelBehavior for ActiveModel {}
            }
        }
    };
}
