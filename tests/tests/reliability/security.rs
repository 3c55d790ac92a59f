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
