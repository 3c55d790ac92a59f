//! Proves the harness: a real server, the real pgmq functions, through a plain driver.

use pgmq_harness::PgmqVersions;
use sqlx::{Connection, PgConnection, Row};

#[tokio::test]
async fn harness_runs_real_pgmq_send_read_delete() {
    let db = pgmq_harness::TestDb::new();
    let mut conn = PgConnection::connect(db.url()).await.unwrap();

    sqlx::query("SELECT pgmq.create($1)")
        .bind("smoke")
        .execute(&mut conn)
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar("SELECT * FROM pgmq.send($1, $2)")
        .bind("smoke")
        .bind(serde_json::json!({"hello": "world"}))
        .fetch_one(&mut conn)
        .await
        .unwrap();

    let row = sqlx::query("SELECT msg_id, read_ct, message FROM pgmq.read($1, 30, 10)")
        .bind("smoke")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>("msg_id"), id);
    assert_eq!(row.get::<i32, _>("read_ct"), 1);
    assert_eq!(
        row.get::<serde_json::Value, _>("message"),
        serde_json::json!({"hello": "world"})
    );

    let deleted: bool = sqlx::query_scalar("SELECT pgmq.delete($1, $2)")
        .bind("smoke")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(deleted);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pgmq.q_smoke")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn each_test_database_is_isolated_and_has_pgmq() {
    let a = pgmq_harness::TestDb::new();
    let b = pgmq_harness::TestDb::new();
    assert_ne!(a.url(), b.url());
    let version: pgmq_orm_core::PgmqVersion = pgmq_harness::pgmq_version().parse().unwrap();
    assert!(version.check().is_ok(), "pgmq {version} is too old");
}

#[test]
fn dropped_test_database_is_gone() {
    let db = pgmq_harness::TestDb::new();
    let name = db.name().to_owned();
    let url = db.url().to_owned();
    drop(db);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(PgConnection::connect(&url)).unwrap_err();
    assert!(err.to_string().contains(&name), "{err}");
}

#[tokio::test]
async fn every_installable_pgmq_version_installs_and_reports_itself() {
    let versions = pgmq_harness::pgmq_versions();
    for claimed in ["1.11.0", "1.12.0", "1.13.0"] {
        assert!(
            versions.iter().any(|v| v == claimed),
            "{claimed} missing in {versions:?}"
        );
    }
    for version in &versions {
        let db = pgmq_harness::TestDb::with_pgmq_version(version);
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        let recorded: Vec<String> =
            sqlx::query_scalar("SELECT version FROM pgmq.__pgmq_migrations")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let installed = pgmq_orm_core::PgmqVersion::installed(None, &recorded).unwrap();
        assert_eq!(installed.to_string(), *version);
        // A real pgmq of that version: send and read work through its functions.
        sqlx::query("SELECT pgmq.create($1)")
            .bind("v")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("SELECT pgmq.send($1, $2)")
            .bind("v")
            .bind(serde_json::json!({"v": version}))
            .execute(&mut conn)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pgmq.read($1, 30, 10)")
            .bind("v")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

/// A missing optional extension is a reported skip, or, with the CI variable set, a
/// failure; a present one is created.
#[test]
fn a_missing_optional_extension_skips_or_fails_as_the_ci_variable_says() {
    let db = pgmq_harness::TestDb::new();
    assert!(db.optional_extension("plpgsql", "smoke"), "always there");
    let required =
        std::env::var_os(pgmq_harness::REQUIRE_EXTENSIONS_VAR).is_some_and(|v| !v.is_empty());
    let got = std::panic::catch_unwind(|| {
        db.optional_extension("pgmq_harness_no_such_extension", "smoke")
    });
    match got {
        Ok(created) => assert!(!required && !created, "skipped only when not required"),
        Err(_) => assert!(required, "a failure only when required"),
    }
}
