//! The transactional outbox: one statement (`enqueue`: the insert and its `pgmq.send` in
//! one CTE) against two (`INSERT ... RETURNING`, then `pgmq.send` of an event built from
//! the returned row), each in its own transaction, for diesel-pgmq (sync and async) and
//! sea-orm-pgmq; and the one statement alone, without the explicit transaction it does not
//! need. Both forms send the same event: the order's id, item and total, plus a
//! constant `type`.
//!
//! Measured like the other ops: workers connect and warm up (one transaction of each form),
//! pass a barrier together, and the time runs to the last worker's finish. Forms and ORMs
//! rotate across rounds; the report gives median transactions/s and the ratios to the
//! two-statement form.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Runtime;
use tokio::sync::Barrier;

use crate::report::median;

const QUEUE: &str = "bench_outbox";
const TABLE: &str = "bench_orders";
const ITEM: &str = "a book about message queues, in hardcover";

/// The event both forms send.
#[derive(Debug, Serialize)]
struct OrderCreated<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    order_id: i64,
    item: &'a str,
    total_cents: i32,
}

fn event(order_id: i64, item: &str, total_cents: i32) -> OrderCreated<'_> {
    OrderCreated {
        kind: "OrderCreated",
        order_id,
        item,
        total_cents,
    }
}

/// The one-statement form's outbox: the same event, computed by the server.
fn outbox() -> diesel_pgmq::Outbox {
    let payload = diesel_pgmq::Payload::fields([
        ("order_id", "id"),
        ("item", "item"),
        ("total_cents", "total_cents"),
    ])
    .and_then(|p| p.with("type", "OrderCreated"))
    .expect("payload");
    diesel_pgmq::Outbox::new(QUEUE)
        .expect("queue name")
        .payload(payload)
}

/// How the write and its event reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `BEGIN`, `INSERT ... RETURNING`, `pgmq.send`, `COMMIT`.
    TwoStatements,
    /// `BEGIN`, `enqueue` (one CTE), `COMMIT`: the same transaction shape, one
    /// statement fewer.
    OneStatement,
    /// `enqueue` alone: one statement is atomic by itself, so it needs no explicit
    /// transaction for the same guarantee.
    OneStatementAlone,
}

impl Form {
    const ALL: [Self; 3] = [
        Self::TwoStatements,
        Self::OneStatement,
        Self::OneStatementAlone,
    ];
}

/// Which of our crates (and which Diesel connection) runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    DieselSync,
    DieselAsync,
    SeaOrm,
}

impl Client {
    const ALL: [Self; 3] = [Self::DieselSync, Self::DieselAsync, Self::SeaOrm];

    fn label(self) -> &'static str {
        match self {
            Self::DieselSync => "diesel-pgmq sync",
            Self::DieselAsync => "diesel-pgmq async",
            Self::SeaOrm => "sea-orm-pgmq",
        }
    }
}

/// One row of the report: an ORM at a concurrency, every form measured.
#[derive(Debug)]
pub(crate) struct Row {
    orm: Client,
    clients: usize,
    /// Transactions/s of each round, per form in [`Form::ALL`] order.
    rates: [Vec<f64>; 3],
}

impl Row {
    fn median(&self, form: Form) -> f64 {
        median(&self.rates[form as usize])
    }

    /// `form`'s throughput relative to the two-statement form.
    fn ratio(&self, form: Form) -> f64 {
        self.median(form) / self.median(Form::TwoStatements).max(1e-9)
    }
}

/// Measures every ORM and form at each concurrency, `transactions` per measurement.
pub(crate) fn run(
    runtime: &Runtime,
    url: &str,
    rounds: usize,
    concurrency: &[usize],
    transactions: usize,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for &clients in concurrency {
        for orm in Client::ALL {
            let mut row = Row {
                orm,
                clients,
                rates: Default::default(),
            };
            for round in 0..rounds {
                // Rotate which form goes first, so warmth and bloat favour none.
                for i in 0..Form::ALL.len() {
                    let form = Form::ALL[(i + round) % Form::ALL.len()];
                    let took = runtime.block_on(measure(url, orm, form, clients, transactions));
                    row.rates[form as usize]
                        .push(transactions as f64 / took.as_secs_f64().max(1e-9));
                }
            }
            eprintln!(
                "outbox {:<18} {clients} clients: two statements {:.0} tx/s, one statement {:.0} tx/s ({:.2}x), alone {:.0} tx/s ({:.2}x)",
                orm.label(),
                row.median(Form::TwoStatements),
                row.median(Form::OneStatement),
                row.ratio(Form::OneStatement),
                row.median(Form::OneStatementAlone),
                row.ratio(Form::OneStatementAlone),
            );
            rows.push(row);
        }
    }
    rows
}

/// The report's outbox section.
pub(crate) fn markdown(rows: &[Row], rounds: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Transactional outbox: one statement against two\n");
    let _ = writeln!(
        s,
        "Transactions per second (median of {rounds} rounds), each inserting one order row and \
         sending its `OrderCreated` event. Two statements: `BEGIN`, `INSERT ... RETURNING`, \
         `pgmq.send` of the event built from the returned row, `COMMIT`. One statement: \
         `BEGIN`, `enqueue` (a CTE that inserts and calls `pgmq.send` per returned row; the \
         same event, built by the server), `COMMIT`. Alone: `enqueue` without an explicit \
         transaction, which one statement does not need to be atomic.\n"
    );
    let _ = writeln!(
        s,
        "| ORM | clients | two statements | one statement | one / two | alone | alone / two |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.0} | {:.2}x | {:.0} | {:.2}x |",
            r.orm.label(),
            r.clients,
            r.median(Form::TwoStatements),
            r.median(Form::OneStatement),
            r.ratio(Form::OneStatement),
            r.median(Form::OneStatementAlone),
            r.ratio(Form::OneStatementAlone),
        );
    }
    s
}

/// Empties the table and the queue (creating them on first use), outside the timing.
async fn prepare(url: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("admin connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, item text NOT NULL, \
             total_cents int4 NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ))
        .await
        .expect("orders table");
    // One statement each: a multi-statement batch runs as one transaction, and VACUUM
    // refuses to run inside one.
    for sql in [format!("TRUNCATE {TABLE}"), format!("VACUUM {TABLE}")] {
        client.batch_execute(&sql).await.expect("reset orders");
    }
    client
        .execute("SELECT pgmq.create($1)", &[&QUEUE])
        .await
        .expect("create");
    client
        .execute("SELECT pgmq.purge_queue($1)", &[&QUEUE])
        .await
        .expect("purge");
    client
        .batch_execute(&format!("VACUUM pgmq.q_{QUEUE}"))
        .await
        .expect("vacuum");
}

/// Times `total` transactions of `form` run by `clients` workers of `orm`.
async fn measure(url: &str, orm: Client, form: Form, clients: usize, total: usize) -> Duration {
    prepare(url).await;
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let share = total / clients + usize::from(i < total % clients);
        let (url, barrier) = (url.to_owned(), barrier.clone());
        tasks.push(match orm {
            Client::DieselSync => {
                let runtime = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let mut w = diesel_sync::Worker::connect(&url);
                    runtime.block_on(barrier.wait());
                    (0..share).for_each(|n| w.order(form, n));
                    Instant::now()
                })
            }
            Client::DieselAsync => tokio::spawn(async move {
                let mut w = diesel_async_worker::Worker::connect(&url).await;
                barrier.wait().await;
                for n in 0..share {
                    w.order(form, n).await;
                }
                Instant::now()
            }),
            Client::SeaOrm => tokio::spawn(async move {
                let w = sea_orm_worker::Worker::connect(&url).await;
                barrier.wait().await;
                for n in 0..share {
                    w.order(form, n).await;
                }
                Instant::now()
            }),
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut end = start;
    for t in tasks {
        end = end.max(t.await.expect("worker panicked"));
    }
    end - start
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn total_cents(n: usize) -> i32 {
    i32::try_from(n % 10_000).expect("small") + 100
}

diesel::table! {
    /// The domain table of the outbox benchmark.
    bench_orders (id) {
        /// `bigserial` key.
        id -> Int8,
        /// What was ordered.
        item -> Text,
        /// The total, in cents.
        total_cents -> Int4,
    }
}

/// The columns both Diesel forms return.
type OrderCols = (i64, String, i32);

mod diesel_sync {
    use diesel::prelude::*;
    use diesel_pgmq::{OutboxExt, PgmqConnectionExt};

    use super::{BoxError, Form, OrderCols, QUEUE, bench_orders as o, event, total_cents};

    pub(super) struct Worker {
        conn: PgConnection,
        outbox: diesel_pgmq::Outbox,
    }

    impl Worker {
        pub(super) fn connect(url: &str) -> Self {
            let mut w = Self {
                conn: PgConnection::establish(url).expect("diesel connect"),
                outbox: super::outbox(),
            };
            Form::ALL.into_iter().for_each(|f| w.order(f, 0));
            w
        }

        pub(super) fn order(&mut self, form: Form, n: usize) {
            let outbox = &self.outbox;
            let insert = diesel::insert_into(o::table)
                .values((o::item.eq(super::ITEM), o::total_cents.eq(total_cents(n))))
                .returning((o::id, o::item, o::total_cents));
            if form == Form::OneStatementAlone {
                let _: (OrderCols, i64) = insert
                    .enqueue(outbox)
                    .get_result(&mut self.conn)
                    .expect("diesel enqueue");
                return;
            }
            self.conn
                .transaction::<_, BoxError, _>(|c| {
                    match form {
                        Form::TwoStatements => {
                            let (id, item, total): OrderCols = insert.get_result(c)?;
                            c.send(QUEUE, &event(id, &item, total))?;
                        }
                        Form::OneStatement | Form::OneStatementAlone => {
                            let _: (OrderCols, i64) = insert.enqueue(outbox).get_result(c)?;
                        }
                    }
                    Ok(())
                })
                .expect("diesel outbox transaction");
        }
    }
}

mod diesel_async_worker {
    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use diesel_pgmq::{OutboxExt, PgmqAsyncConnectionExt};

    use super::{BoxError, Form, OrderCols, QUEUE, bench_orders as o, event, total_cents};

    pub(super) struct Worker {
        conn: AsyncPgConnection,
        outbox: diesel_pgmq::Outbox,
    }

    impl Worker {
        pub(super) async fn connect(url: &str) -> Self {
            let mut w = Self {
                conn: AsyncPgConnection::establish(url)
                    .await
                    .expect("diesel-async connect"),
                outbox: super::outbox(),
            };
            for f in Form::ALL {
                w.order(f, 0).await;
            }
            w
        }

        pub(super) async fn order(&mut self, form: Form, n: usize) {
            let outbox = &self.outbox;
            let insert = diesel::insert_into(o::table)
                .values((o::item.eq(super::ITEM), o::total_cents.eq(total_cents(n))))
                .returning((o::id, o::item, o::total_cents));
            if form == Form::OneStatementAlone {
                let _: (OrderCols, i64) = insert
                    .enqueue(outbox)
                    .get_result(&mut self.conn)
                    .await
                    .expect("diesel-async enqueue");
                return;
            }
            self.conn
                .transaction::<_, BoxError, _>(async |c| {
                    match form {
                        Form::TwoStatements => {
                            let (id, item, total): OrderCols = insert.get_result(c).await?;
                            c.send(QUEUE, &event(id, &item, total)).await?;
                        }
                        Form::OneStatement | Form::OneStatementAlone => {
                            let _: (OrderCols, i64) = insert.enqueue(outbox).get_result(c).await?;
                        }
                    }
                    Ok(())
                })
                .await
                .expect("diesel-async outbox transaction");
        }
    }
}

mod sea_orm_worker {
    use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
    use sea_orm_pgmq::{OutboxExt, PgmqConnectionExt};

    use super::{Form, QUEUE, event, total_cents};

    pub(super) mod order {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "bench_orders")]
        pub(crate) struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub item: String,
            pub total_cents: i32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub(crate) enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(super) struct Worker {
        conn: sea_orm::DatabaseConnection,
        outbox: sea_orm_pgmq::Outbox,
    }

    impl Worker {
        pub(super) async fn connect(url: &str) -> Self {
            let mut options = sea_orm::ConnectOptions::new(url.to_owned());
            options
                .max_connections(1)
                .min_connections(1)
                .sqlx_logging(false);
            let w = Self {
                conn: sea_orm::Database::connect(options)
                    .await
                    .expect("sea-orm connect"),
                outbox: super::outbox(),
            };
            for f in Form::ALL {
                w.order(f, 0).await;
            }
            w
        }

        pub(super) async fn order(&self, form: Form, n: usize) {
            let insert = order::Entity::insert(order::ActiveModel {
                item: Set(super::ITEM.to_owned()),
                total_cents: Set(total_cents(n)),
                ..Default::default()
            });
            if form == Form::OneStatementAlone {
                let sent: Vec<(order::Model, i64)> = insert
                    .enqueue(&self.outbox)
                    .all(&self.conn)
                    .await
                    .expect("enqueue");
                assert_eq!(sent.len(), 1);
                return;
            }
            let txn = self.conn.begin().await.expect("begin");
            match form {
                Form::TwoStatements => {
                    let row = insert.exec_with_returning(&txn).await.expect("insert");
                    txn.send(QUEUE, &event(row.id, &row.item, row.total_cents))
                        .await
                        .expect("send");
                }
                Form::OneStatement | Form::OneStatementAlone => {
                    let sent: Vec<(order::Model, i64)> = insert
                        .enqueue(&self.outbox)
                        .all(&txn)
                        .await
                        .expect("enqueue");
                    assert_eq!(sent.len(), 1);
                }
            }
            txn.commit().await.expect("commit");
        }
    }
}
