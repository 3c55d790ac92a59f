//! Issue 17, "nothing interpolated, nothing unchecked": rendered migration SQL, queue
//! names in the functions layer, the outbox's own column and option values, each against
//! a real PostgreSQL with real pgmq. RELIABILITY.md ("Security") lists which test proves
//! which finding.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use diesel_pgmq::migrations::{PgmqMigrations, QueueSpec};
use pgmq_harness::TestDb;
use pgmq_orm_core::migrate::{Bind, Statement, render};
use pgmq_orm_core::{ErrorKind, QueueName};
use proptest::prelude::*;

use crate::support::Res;

/// A table any injected SQL would try to drop.
fn create_canary(conn: &mut PgConnection) -> Res {
    conn.batch_execute("CREATE TABLE canary (x int); INSERT INTO canary VALUES (42)")?;
    Ok(())
}

fn canary_alive(conn: &mut PgConnection) -> bool {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM canary WHERE x = 42")
        .get_result::<N>(conn)
        .is_ok_and(|r| r.n == 1)
}

/// Strings built from the pieces that break hand-made quoting, mixed with arbitrary
/// unicode (NUL included now and then).
fn hostile_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_owned()),
        Just("''".to_owned()),
        Just("\\".to_owned()),
        Just("\\'".to_owned()),
        Just("E'".to_owned()),
        Just("$1".to_owned()),
        Just("$2".to_owned()),
        Just("$3".to_owned()),
        Just("$10".to_owned()),
        Just("$$".to_owned()),
        Just("$q$".to_owned()),
        Just(";".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just(", 4) WHERE false; DROP TABLE canary; --".to_owned()),
        Just("\n".to_owned()),
        Just("\0".to_owned()),
        "\\PC{0,4}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

/// The exact reproduction of issue 17.1: a `$2` inside an inlined value was replaced again
/// and the quoting broke, so `DROP TABLE canary` ran.
#[test]
fn issue17_1_rendered_migration_sql_does_not_drop_the_canary() -> Res {
    let tdb = TestDb::new();
    let mut conn = PgConnection::establish(tdb.url())?;
    create_canary(&mut conn)?;
    let spec = QueueSpec::new(QueueName::new("rq")?)
        .partitioned(", 4) WHERE false; DROP TABLE canary; --", "$2");
    let sql = PgmqMigrations::new().create_queue(spec).steps()[0]
        .up_sql()?
        .expect("a queue step");
    // The hostile interval reaches pgmq as one value, which it refuses; nothing else runs.
    let result = conn.batch_execute(&sql);
    let err = result.expect_err("not an interval");
    assert!(!err.to_string().contains("syntax error"), "{err}: {sql}");
    assert!(canary_alive(&mut conn), "{sql}");
    Ok(())
}

/// Runs `values` through [`render`] as `INSERT INTO got ... VALUES ($1), ($2), ...` and
/// reads them back, in order.
fn round_trip(conn: &mut PgConnection, values: &[String]) -> Result<Vec<String>, String> {
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("({i}, ${i})")).collect();
    let st = Statement {
        sql: format!("INSERT INTO got (i, v) VALUES {}", placeholders.join(", ")),
        binds: values.iter().cloned().map(Bind::Text).collect(),
    };
    let sql = render(&[st]).map_err(|e| format!("render: {e}"))?;
    conn.batch_execute(&format!("TRUNCATE got; {sql}"))
        .map_err(|e| format!("{e}: {sql}"))?;
    diesel::sql_query("SELECT v FROM got ORDER BY i")
        .load::<V>(conn)
        .map(|rows| rows.into_iter().map(|r| r.v).collect())
        .map_err(|e| e.to_string())
}

/// Issue 17.1 as a property, under both `standard_conforming_strings` settings: any
/// string arrives exactly (or is the typed NUL error), and any queue step's rendered SQL
/// either runs or fails as pgmq refusing a value, never as broken SQL, and the canary
/// survives.
#[test]
fn issue17_1_rendered_values_arrive_exactly_under_both_quoting_settings() -> Res {
    let tdb = TestDb::new();
    let mut conn = PgConnection::establish(tdb.url())?;
    create_canary(&mut conn)?;
    conn.batch_execute("CREATE TABLE got (i int, v text)")?;
    // With pg_partman the intervals reach its parser too (best effort: the server may lack it).
    let _ = conn.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_partman");
    let conn = std::cell::RefCell::new(conn);
    for setting in ["on", "off"] {
        conn.borrow_mut()
            .batch_execute(&format!("SET standard_conforming_strings = {setting}"))?;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let strategy = (hostile_string(), hostile_string(), hostile_string());
        runner
            .run(&strategy, |(a, b, c)| {
                let conn = &mut *conn.borrow_mut();
                let values = vec![a.clone(), b.clone(), c];
                match round_trip(conn, &values) {
                    Ok(got) => prop_assert_eq!(got, values),
                    Err(e) => {
                        prop_assert!(values.iter().any(|v| v.contains('\0')), "{}", e);
                        let st = Statement {
                            sql: "SELECT $1".into(),
                            binds: vec![Bind::Text(values.concat())],
                        };
                        let err = render(&[st]).expect_err("NUL");
                        prop_assert_eq!(err.kind(), ErrorKind::InvalidArgument);
                    }
                }
                let spec = QueueSpec::new(QueueName::from_static("rq")).partitioned(a, b);
                let step = PgmqMigrations::new().create_queue(spec);
                match step.steps()[0].up_sql() {
                    Ok(sql) => {
                        let sql = sql.expect("a queue step");
                        if let Err(e) = conn.batch_execute(&sql) {
                            prop_assert!(!e.to_string().contains("syntax error"), "{}: {}", e, sql);
                        }
                    }
                    Err(e) => prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument),
                }
                prop_assert!(canary_alive(conn));
                Ok(())
            })
            .map_err(|e| format!("standard_conforming_strings = {setting}: {e}"))?;
    }
    Ok(())
}

diesel::table! {
    own_ids (id) {
        id -> Int4,
        pgmq_msg_id -> Int8,
        __pgmq_outbox_msg_id -> Int8,
    }
}

/// Issue 17.3: a table with its own `pgmq_msg_id` column (and, for good measure, one named
/// like the outbox's own alias) keeps its values in the returned rows of both crates, and
/// the message id comes back beside them.
#[tokio::test]
async fn issue17_3_outbox_never_overwrites_a_users_own_msg_id_column() -> Res {
    use diesel_pgmq::PgmqConnectionExt as _;
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectionTrait, FromQueryResult};

    #[derive(Debug, PartialEq, FromQueryResult)]
    struct Row {
        id: i32,
        pgmq_msg_id: i64,
        __pgmq_outbox_msg_id: i64,
    }

    let tdb = TestDb::new();
    let mut conn = PgConnection::establish(tdb.url())?;
    conn.batch_execute(
        "CREATE TABLE own_ids (id int PRIMARY KEY, pgmq_msg_id bigint NOT NULL, \
         __pgmq_outbox_msg_id bigint NOT NULL)",
    )?;
    conn.create_queue("events")?;
    let outbox = diesel_pgmq::Outbox::new("events")?;

    // Diesel.
    use diesel::ExpressionMethods;
    use diesel_pgmq::OutboxExt as _;
    let ((id, own, own2), msg_id): ((i32, i64, i64), i64) = diesel::insert_into(own_ids::table)
        .values((
            own_ids::id.eq(1),
            own_ids::pgmq_msg_id.eq(888),
            own_ids::__pgmq_outbox_msg_id.eq(999),
        ))
        .enqueue(&outbox)
        .get_result(&mut conn)?;
    assert_eq!((id, own, own2), (1, 888, 999));
    assert_eq!(msg_id, 1);

    // SeaORM.
    use sea_orm_pgmq::OutboxExt as _;
    let sea = crate::support::seaorm(tdb.url(), 1).await?;
    let rows: Vec<(Row, i64)> = Query::insert()
        .into_table(Alias::new("own_ids"))
        .columns([
            Alias::new("id"),
            Alias::new("pgmq_msg_id"),
            Alias::new("__pgmq_outbox_msg_id"),
        ])
        .values_panic([2.into(), 888_i64.into(), 999_i64.into()])
        .returning_all()
        .to_owned()
        .enqueue(&outbox)
        .all(&sea)
        .await?;
    assert_eq!(
        rows,
        [(
            Row {
                id: 2,
                pgmq_msg_id: 888,
                __pgmq_outbox_msg_id: 999
            },
            2
        )]
    );
    // The stored rows were never touched.
    let stored = sea
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT id, pgmq_msg_id, __pgmq_outbox_msg_id FROM own_ids ORDER BY id",
        ))
        .await?;
    let stored: Vec<Row> = stored
        .iter()
        .map(|r| Row::from_query_result(r, ""))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        stored.iter().map(|r| r.pgmq_msg_id).collect::<Vec<_>>(),
        [888, 888]
    );
    Ok(())
}

/// Issue 17.4: option values that make no sense cannot be written (negative seconds do not
/// compile; see the `compile_fail` examples on `VisibilityTimeout` and `Delay`), are refused
/// by name when converted from a signed count, and a consumer with a NaN retry jitter
/// refuses to start instead of panicking in `backoff` later.
#[tokio::test]
async fn issue17_4_nonsense_option_values_are_refused_naming_the_option() -> Res {
    use pgmq_orm_core::consumer::RetryPolicy;
    use pgmq_orm_core::{Delay, VisibilityTimeout};
    use sea_orm_pgmq::consumer::{Consumer, ConsumerConfig, SeaOrmBackend};

    let vt = VisibilityTimeout::try_from(-10_i32).expect_err("negative vt");
    assert_eq!(vt.kind(), ErrorKind::InvalidArgument);
    assert!(vt.to_string().contains("visibility timeout"), "{vt}");
    let delay = Delay::try_from(-1_i32).expect_err("negative delay");
    assert!(delay.to_string().contains("delay"), "{delay}");

    let tdb = TestDb::new();
    let db = crate::support::seaorm(tdb.url(), 2).await?;
    let queue = QueueName::new("jobs")?;
    {
        use sea_orm_pgmq::PgmqConnectionExt;
        db.create_queue(&queue).await?;
        db.send(&queue, &1).await?;
    }
    for (name, retry) in [
        (
            "jitter",
            RetryPolicy {
                jitter: f64::NAN,
                ..RetryPolicy::default()
            },
        ),
        (
            "jitter",
            RetryPolicy {
                jitter: -0.5,
                ..RetryPolicy::default()
            },
        ),
        (
            "multiplier",
            RetryPolicy {
                multiplier: f64::INFINITY,
                ..RetryPolicy::default()
            },
        ),
        (
            "multiplier",
            RetryPolicy {
                multiplier: -2.0,
                ..RetryPolicy::default()
            },
        ),
        (
            "max_attempts",
            RetryPolicy {
                max_attempts: -1,
                ..RetryPolicy::default()
            },
        ),
    ] {
        let handled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = handled.clone();
        let consumer = Consumer::new(
            SeaOrmBackend::new(db.clone()),
            ConsumerConfig::new(queue.clone()).with_retry(retry),
            move |_: pgmq_orm_core::Message<i32>| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Err::<(), pgmq_orm_core::BoxError>("fails".into()) }
            },
        );
        let cancel = sea_orm_pgmq::consumer::CancellationToken::new();
        let run = tokio::time::timeout(std::time::Duration::from_secs(5), consumer.run(cancel));
        let err = run.await?.expect_err("refused at start");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name}: {err}");
        assert!(
            err.to_string().contains(&format!("RetryPolicy::{name}")),
            "{err}"
        );
        assert_eq!(
            handled.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{name}"
        );
    }
    Ok(())
}

/// What a log entry of the statement-logging server says, after [`LOG_PREFIX`].
const LOG_PREFIX: &str = "@@pgmq-orm-log@@ ";

/// The SQL text the server received, entry by entry: `LOG:  statement: ...`,
/// `LOG:  execute <name>: ...` and `STATEMENT:  ...` (a failed statement's text), with
/// their continuation lines. Bind parameters (`DETAIL:  parameters: ...`) and error
/// messages are not SQL text.
fn statement_texts(log: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for line in log.lines() {
        match line.strip_prefix(LOG_PREFIX) {
            Some(entry) => entries.push(entry.to_owned()),
            None => {
                if let Some(last) = entries.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
            }
        }
    }
    entries
        .into_iter()
        .filter(|e| {
            e.starts_with("LOG:  statement: ")
                || e.starts_with("LOG:  execute ")
                || e.starts_with("STATEMENT:  ")
        })
        .collect()
}

/// One round of hostile public inputs through every client. `valid` values carry `mark`
/// and must reach the server only as bound parameters; the invalid queue name carries
/// `bad_mark` and must not reach it at all.
async fn hostile_round(
    url: &str,
    sea: &sea_orm::DatabaseConnection,
    text: &str,
    mark: &str,
    bad_mark: &str,
) -> Res {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use diesel_pgmq::{PgmqAsyncConnectionExt as _, PgmqConnectionExt as _};
    use pgmq_orm_core::{BatchSize, Delay, VisibilityTimeout};
    use serde_json::json;

    let value = format!("{mark}{text}");
    let bad_name = format!("{bad_mark}{text}");
    let payload = json!({ "v": value, value.clone(): [value] });
    let headers = json!({ value.clone(): value, "x-pgmq-group": value });
    let q = QueueName::new("hostile")?;
    let now = VisibilityTimeout::Seconds(0);
    let mut sync = PgConnection::establish(url)?;
    let mut asynch = AsyncPgConnection::establish(url).await?;

    // Invalid names: typed errors in every client, before any SQL.
    assert!(QueueName::new(bad_name.as_str()).is_err());
    assert!(sync.create_queue(bad_name.as_str()).is_err());
    assert!(sync.send(bad_name.as_str(), &payload).is_err());
    assert!(
        asynch
            .read::<serde_json::Value>(bad_name.as_str(), now, BatchSize::ONE)
            .await
            .is_err()
    );
    assert!(sync.bind_topic("a.b", bad_name.as_str()).is_err());
    {
        use sea_orm_pgmq::PgmqConnectionExt as _;
        assert!(sea.create_queue(bad_name.as_str()).await.is_err());
        assert!(sea.purge_queue(bad_name.as_str()).await.is_err());
        assert!(diesel_pgmq::Outbox::new(bad_name.as_str()).is_err());
    }

    // Valid names, hostile values: payloads, header keys and values, delays, topics.
    // Errors are fine (pgmq refuses a NUL, a bad routing key): what matters is the log.
    let _ = sync.send_with(&q, &payload, Some(&headers), Delay::Seconds(0));
    let _ = asynch
        .send_batch_with(
            &q,
            &[&payload, &payload],
            Some(&[&headers, &headers][..]),
            Delay::Seconds(1),
        )
        .await;
    let _ = sync.bind_topic(&value, &q);
    let _ = sync.send_topic(&value, &payload, Some(&headers), Delay::Seconds(0));
    let _ = diesel::select(diesel_pgmq::functions::send_headers(
        &q,
        payload.clone(),
        Some(headers.clone()),
    ))
    .get_result::<i64>(&mut sync);
    {
        use sea_orm_pgmq::PgmqConnectionExt as _;
        let _ = sea
            .send_with(&q, &payload, Some(&headers), Delay::Seconds(0))
            .await;
        let _ = sea.unbind_topic(&value, &q).await;
        let _ = sea
            .send_topic(&value, &payload, Some(&headers), Delay::Seconds(0))
            .await;
        let _ = sea
            .read_conditional::<serde_json::Value, _>(&q, now, BatchSize::ONE, &payload)
            .await;
    }
    // Outbox: payload keys and constants, headers.
    {
        use diesel::ExpressionMethods;
        use diesel_pgmq::OutboxExt as _;
        let outbox = diesel_pgmq::Outbox::new(&q)?
            .payload(diesel_pgmq::Payload::fields([(value.as_str(), "id")])?.with(&value, &value)?)
            .headers(&headers)?;
        let _ = diesel::insert_into(own_ids::table)
            .values((
                own_ids::id.eq(diesel::dsl::sql::<diesel::sql_types::Int4>(
                    "(SELECT coalesce(max(id), 0) + 1 FROM own_ids)",
                )),
                own_ids::pgmq_msg_id.eq(0),
                own_ids::__pgmq_outbox_msg_id.eq(0),
            ))
            .enqueue(&outbox)
            .get_result::<((i32, i64, i64), i64)>(&mut sync);
    }
    // Migrations run by the harness: intervals are bound.
    {
        use diesel_pgmq::migrations::MigrationHarness;
        let spec = QueueSpec::new(QueueName::from_static("hostile_parted"))
            .partitioned(value.as_str(), value.as_str());
        let _ = sync.run_pending_migrations(PgmqMigrations::new().create_queue(spec));
    }
    let _ = sync.purge_queue(&q);
    Ok(())
}

/// Issue 17.2 and the statement-log target: hostile public inputs (queue names, payloads,
/// header keys and values, routing keys and patterns, outbox payload keys, partition
/// intervals) through diesel sync, diesel-async, the diesel functions layer and SeaORM,
/// against a server that logs every statement. An invalid name never reaches the server
/// at all; every other value reaches it only as a bound parameter, never in SQL text. A
/// spliced control value proves the log does show SQL text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_2_the_statement_log_never_holds_an_unbound_value() -> Res {
    use sea_orm::ConnectionTrait;

    let cluster = pgmq_harness::PrivateCluster::start();
    let admin = crate::support::seaorm(&cluster.admin_url(), 1).await?;
    for sql in [
        format!("ALTER SYSTEM SET log_line_prefix = '{LOG_PREFIX}'"),
        "SELECT pg_reload_conf()".to_owned(),
        "ALTER DATABASE pgmq SET log_statement = 'all'".to_owned(),
        // Bind parameters are logged in full (`DETAIL:  parameters: ...`): a value that
        // reached the server shows up there, so an absent one never reached it.
        "ALTER DATABASE pgmq SET log_parameter_max_length = -1".to_owned(),
        // A value the server refuses while binding it (a NUL in text or jsonb) is never
        // logged as a statement's parameter, only in the error's context, and there
        // only with this: without it a round whose text holds a NUL left no trace.
        "ALTER DATABASE pgmq SET log_parameter_max_length_on_error = -1".to_owned(),
    ] {
        admin.execute_unprepared(&sql).await?;
    }
    // The reload reaches new backends once the postmaster has handled SIGHUP.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let url = cluster.url().to_owned();
    let sea = crate::support::seaorm(&url, 2).await?;
    {
        let mut conn = PgConnection::establish(&url)?;
        conn.batch_execute(
            "CREATE TABLE own_ids (id int PRIMARY KEY, pgmq_msg_id bigint NOT NULL, \
             __pgmq_outbox_msg_id bigint NOT NULL)",
        )?;
        diesel_pgmq::PgmqConnectionExt::create_queue(&mut conn, "hostile")?;
        // The control: a value spliced into SQL text, which the check must see.
        conn.batch_execute("SELECT 'zqcontrolzq'")?;
    }

    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let cases = std::sync::Mutex::new(Vec::new());
    runner.run(&hostile_string(), |text| {
        cases.lock().expect("cases").push(text);
        Ok(())
    })?;
    let cases = cases.into_inner().expect("cases");
    let mut marks = Vec::new();
    for (i, text) in cases.iter().enumerate() {
        let mark = format!("zqvalue{i}zq");
        let bad_mark = format!("ZqBad{i}zq");
        hostile_round(&url, &sea, text, &mark, &bad_mark).await?;
        marks.push((mark, bad_mark));
    }
    sea.close().await?;
    // The server writes its log behind the statements; under load that takes a while, so
    // wait (bounded) until the last round's statements are there before judging the log.
    let last = marks.last().map(|(m, _)| m.clone()).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut log = cluster.server_log();
    while !log.contains(&last) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        log = cluster.server_log();
    }
    let statements = statement_texts(&log);
    assert!(
        statements.iter().any(|s| s.contains("zqcontrolzq")),
        "the check must see spliced SQL text; log:\n{log}"
    );
    assert!(
        statements.iter().any(|s| s.contains("pgmq.send")),
        "statements were logged"
    );
    for ((mark, bad_mark), text) in marks.iter().zip(&cases) {
        assert!(
            log.contains(mark.as_str()),
            "{mark} reached the server as a parameter; its text: {text:?}; log tail:\n{}",
            &log[log.floor_char_boundary(log.len().saturating_sub(3000))..]
        );
        let bad_lower = bad_mark.to_lowercase();
        assert!(
            !log.contains(bad_mark.as_str()) && !log.contains(&bad_lower),
            "an invalid queue name reached the server: {bad_mark}"
        );
        for s in &statements {
            assert!(!s.contains(mark.as_str()), "a value in SQL text: {s}");
        }
    }
    eprintln!(
        "statement log: {} statements checked, {} hostile rounds",
        statements.len(),
        marks.len()
    );
    Ok(())
}
