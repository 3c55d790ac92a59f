//! Bad input: hostile queue names, payloads that do not fit `T`, huge payloads, NaN-like
//! numbers, headers that are not objects. Each is a typed error or a verbatim round
//! trip; nothing is lost and nothing reaches SQL as text.

use diesel::{Connection, PgConnection, RunQueryDsl};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use pgmq_harness::TestDb;
use pgmq_orm_core::{
    Batch, BatchSize, DecodedPart, Delay, Error, ErrorKind, QueueName, QueueNameError,
    VisibilityTimeout,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::support::{Job, Res, seaorm, sqlstate};

/// Visible again at once: reads here inspect, they do not hold.
const NOW: VisibilityTimeout = VisibilityTimeout::Seconds(0);

/// Names `QueueName` must refuse, with the reason it must give.
fn hostile_names() -> Vec<(String, ErrorKind)> {
    let names = [
        "",
        "orders'",
        "orders\"",
        "orders; DROP TABLE canary; --",
        "x'); DROP TABLE canary; --",
        "\"q_orders\"",
        "pgmq.q_orders",
        "orders-1",
        "orders 1",
        " orders",
        "orders\n",
        "orders\0",
        "$1",
        "%I",
        "Orders",
        "SELECT",
        "NULL",
        "ünïcødé",
        "очередь",
        "队列",
        "crab_🦀",
        "orders\u{202e}",
    ];
    let mut all: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    all.push("a".repeat(48));
    all.push("a".repeat(10_000));
    all.into_iter()
        .map(|n| (n, ErrorKind::InvalidQueueName))
        .collect()
}

/// A table any injected SQL would try to drop.
fn canary_exists(conn: &mut PgConnection) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    diesel::sql_query("SELECT to_regclass('public.canary') IS NOT NULL AS found")
        .get_result::<Found>(conn)
        .map(|f| f.found)
        .unwrap_or(false)
}

#[tokio::test]
async fn hostile_queue_names_are_typed_errors_before_any_sql_in_every_client() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let mut sync = PgConnection::establish(tdb.url())?;
    let mut asynch = AsyncPgConnection::establish(tdb.url()).await?;
    let sea = seaorm(tdb.url(), 2).await?;
    diesel::sql_query("CREATE TABLE canary (x int)").execute(&mut sync)?;
    sync.create_queue("orders")?;
    sync.send("orders", &Job { id: 1 })?;

    let names = hostile_names();
    let mut tried = 0;
    for (name, kind) in &names {
        assert!(
            QueueName::new(name.as_str()).is_err(),
            "{name:?} was accepted"
        );
        let name = name.as_str();
        let results: Vec<Result<(), Error>> = vec![
            sync.create_queue(name),
            sync.send(name, &Job { id: 2 }).map(drop),
            sync.read::<Job>(name, NOW, BatchSize::ONE).map(drop),
            sync.drop_queue(name).map(drop),
            {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                asynch.create_queue(name).await
            },
            {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                asynch.send(name, &Job { id: 2 }).await.map(drop)
            },
            {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.create_queue(name).await
            },
            {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.send(name, &Job { id: 2 }).await.map(drop)
            },
            {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.purge_queue(name).await.map(drop)
            },
        ];
        for r in results {
            assert_eq!(r.map_err(|e| e.kind()), Err(*kind), "{name:?}");
            tried += 1;
        }
    }
    assert!(canary_exists(&mut sync));
    let queues: Vec<String> = sync
        .list_queues()?
        .into_iter()
        .map(|q| q.queue_name)
        .collect();
    assert_eq!(queues, ["orders"]);
    assert_eq!(sync.metrics("orders")?.queue_length, 1);
    eprintln!(
        "bad names: {} names, {tried} calls, all InvalidQueueName",
        names.len()
    );
    Ok(())
}

#[test]
fn queue_name_errors_say_what_is_wrong() {
    assert_eq!(QueueName::new(""), Err(QueueNameError::Empty));
    assert_eq!(
        QueueName::new("a".repeat(48)),
        Err(QueueNameError::TooLong { len: 48, max: 47 })
    );
    assert!(matches!(
        QueueName::new("orders; DROP"),
        Err(QueueNameError::InvalidCharacter { ch: ';', index: 6 })
    ));
    assert!(matches!(
        QueueName::new("ünï"),
        Err(QueueNameError::InvalidCharacter { ch: 'ü', index: 0 })
    ));
    assert_eq!(
        QueueName::new("SELECT"),
        Err(QueueNameError::UpperCase {
            lowercase: "select".into()
        })
    );
}

#[tokio::test]
async fn sql_keywords_are_ordinary_queue_names() -> Res {
    use sea_orm_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    for name in [
        "select", "drop", "table", "user", "where", "order", "null", "pgmq", "q_a", "_",
    ] {
        let q = QueueName::new(name)?;
        db.create_queue(&q).await?;
        let id = db.send(&q, &Job { id: 1 }).await?;
        let got = db.read::<Job>(&q, NOW, BatchSize::ONE).await?;
        assert_eq!(
            (got[0].msg_id, got[0].message),
            (id, Job { id: 1 }),
            "{name}"
        );
        assert!(db.archive(&q, id).await?);
        assert!(db.drop_queue(&q).await?, "{name}");
    }
    assert!(db.list_queues().await?.is_empty());
    Ok(())
}

/// Text that would break SQL if it were ever spliced into a statement.
fn hostile_text() -> Vec<String> {
    let mut all: Vec<String> = [
        "'); DROP TABLE canary; --",
        "\"; DROP TABLE canary; --",
        "$1 $2 $$ $q$",
        "%s %I %L",
        "\\x00 \\ \\\\",
        "ünïcødé 🦀 \u{202e}reversed \u{feff}",
        "\u{1}\u{7f}\t\r\n",
        "",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    all.push("'".repeat(10_000));
    all
}

#[tokio::test]
async fn sql_in_payloads_and_headers_round_trips_verbatim_in_every_client() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let mut sync = PgConnection::establish(tdb.url())?;
    let mut asynch = AsyncPgConnection::establish(tdb.url()).await?;
    let sea = seaorm(tdb.url(), 2).await?;
    diesel::sql_query("CREATE TABLE canary (x int)").execute(&mut sync)?;
    sync.create_queue("texts")?;
    let texts = hostile_text();
    for text in &texts {
        let headers = json!({ "x-evil": text, text.clone(): 1 });
        let ids = [
            sync.send_with("texts", text, Some(&headers), Delay::default())?,
            {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                asynch
                    .send_with("texts", text, Some(&headers), Delay::default())
                    .await?
            },
            {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.send_with("texts", text, Some(&headers), Delay::default())
                    .await?
            },
        ];
        let got = sync.read::<String>("texts", NOW, BatchSize::new(3)?)?;
        assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids);
        for m in &got {
            assert_eq!(&m.message, text);
            assert_eq!(m.headers.as_ref(), Some(&headers));
        }
        sync.delete_batch("texts", &ids)?;
    }
    assert!(canary_exists(&mut sync));
    assert_eq!(sync.metrics("texts")?.queue_length, 0);
    Ok(())
}

#[tokio::test]
async fn a_nul_character_is_a_typed_database_error_and_nothing_is_sent() -> Res {
    use sea_orm_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    db.create_queue("texts").await?;
    // jsonb cannot store U+0000; Postgres says so (22P05), typed.
    let err = db
        .send("texts", &"before\0after")
        .await
        .expect_err("jsonb has no NUL");
    assert_eq!(
        (err.kind(), sqlstate(&err)),
        (ErrorKind::Database, Some("22P05"))
    );
    let err = db
        .send_batch("texts", &["fine", "not\0fine"])
        .await
        .expect_err("jsonb has no NUL");
    assert_eq!(sqlstate(&err), Some("22P05"));
    assert_eq!(
        db.metrics("texts").await?.queue_length,
        0,
        "a batch is all or nothing"
    );
    Ok(())
}

#[tokio::test]
async fn payload_not_valid_for_t_is_a_decode_error_and_the_message_stays_in_every_client() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let mut sync = PgConnection::establish(tdb.url())?;
    let mut asynch = AsyncPgConnection::establish(tdb.url()).await?;
    let sea = seaorm(tdb.url(), 2).await?;
    sync.create_queue("jobs")?;
    let bad = [
        json!({"id": "seven"}),
        json!({"ident": 7}),
        json!({"id": 9_223_372_036_854_775_808_u64}),
        json!({"id": 1.5}),
        json!([]),
        json!("7"),
        json!(null),
    ];
    for payload in &bad {
        let id = sync.send("jobs", payload)?;
        let errors = [
            sync.read::<Job>("jobs", NOW, BatchSize::ONE)
                .and_then(Batch::strict)
                .map(drop),
            {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                asynch
                    .read::<Job>("jobs", NOW, BatchSize::ONE)
                    .await
                    .and_then(Batch::strict)
                    .map(drop)
            },
            {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.read::<Job>("jobs", NOW, BatchSize::ONE)
                    .await
                    .and_then(Batch::strict)
                    .map(drop)
            },
        ];
        for (n, e) in errors.into_iter().enumerate() {
            let Err(Error::Decode(e)) = e else {
                panic!("{payload}: client {n} gave {e:?}");
            };
            assert_eq!(
                (e.msg_id, e.part, &e.message.to_value()?),
                (id, DecodedPart::Message, payload)
            );
            assert_eq!(e.read_ct, n as i32 + 1, "each read is counted");
        }
        // Still there, intact.
        let raw = sync.read::<Value>("jobs", NOW, BatchSize::new(10)?)?;
        assert_eq!(raw.len(), 1);
        assert_eq!((raw[0].msg_id, &raw[0].message), (id, payload));
        assert!(sync.delete("jobs", id)?);
    }
    Ok(())
}

#[tokio::test]
async fn one_undecodable_message_is_set_apart_and_its_batch_still_read() -> Res {
    use sea_orm_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    db.create_queue("jobs").await?;
    db.send("jobs", &Job { id: 1 }).await?;
    let bad = db.send("jobs", &json!({"id": "two"})).await?;
    db.send("jobs", &Job { id: 3 }).await?;
    let (good, undecodable) = db
        .read::<Job>("jobs", NOW, BatchSize::new(10)?)
        .await?
        .into_parts();
    assert_eq!(
        good.iter().map(|m| m.message.id).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(undecodable.len(), 1);
    assert_eq!(undecodable[0].msg_id, bad);
    let all = db.read::<Value>("jobs", NOW, BatchSize::new(10)?).await?;
    assert_eq!(all.len(), 3);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Blob {
    id: i64,
    data: String,
}

#[tokio::test]
async fn ten_megabyte_payloads_round_trip_through_every_client() -> Res {
    use diesel_pgmq::PgmqConnectionExt;
    const SIZE: usize = 10 * 1024 * 1024;
    let tdb = TestDb::new();
    let mut sync = PgConnection::establish(tdb.url())?;
    let mut asynch = AsyncPgConnection::establish(tdb.url()).await?;
    let sea = seaorm(tdb.url(), 2).await?;
    sync.create_queue("blobs")?;
    let blob = |id: i64| Blob {
        id,
        data: (0..SIZE)
            .map(|i| char::from(b'a' + ((i as i64 + id) % 26) as u8))
            .collect(),
    };
    let (a, b, c) = (blob(1), blob(2), blob(3));
    let ids = [
        sync.send("blobs", &a)?,
        {
            use diesel_pgmq::PgmqAsyncConnectionExt;
            asynch.send("blobs", &b).await?
        },
        {
            use sea_orm_pgmq::PgmqConnectionExt;
            sea.send("blobs", &c).await?
        },
    ];
    let got_sync = sync.read::<Blob>("blobs", NOW, BatchSize::new(3)?)?;
    let got_async = {
        use diesel_pgmq::PgmqAsyncConnectionExt;
        asynch
            .read::<Blob>("blobs", NOW, BatchSize::new(3)?)
            .await?
    };
    let got_sea = {
        use sea_orm_pgmq::PgmqConnectionExt;
        sea.read::<Blob>("blobs", NOW, BatchSize::new(3)?).await?
    };
    for got in [got_sync, got_async, got_sea] {
        assert_eq!(got.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids);
        assert!(got[0].message == a && got[1].message == b && got[2].message == c);
    }
    assert_eq!(sync.delete_batch("blobs", &ids)?, ids);
    Ok(())
}

#[tokio::test]
async fn non_finite_floats_are_refused_at_send_and_their_spellings_stay_text() -> Res {
    use sea_orm_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    db.create_queue("floats").await?;
    // JSON has no NaN or infinity: serde_json would write them as null. Every send
    // refuses them before any SQL, with a typed encode error; nothing is stored.
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = db.send("floats", &x).await.expect_err("non-finite");
        assert_eq!(err.kind(), ErrorKind::Encode, "{err}");
        let err = db.send("floats", &json!({"ok": null, "x": [x]})).await;
        assert!(
            err.is_ok(),
            "a Value holds no NaN: serde_json made it null already"
        );
        let err = db
            .send_batch("floats", &[1.0, x])
            .await
            .expect_err("non-finite in a batch");
        assert_eq!(err.kind(), ErrorKind::Encode, "{err}");
    }
    assert_eq!(db.purge_queue("floats").await?, 3);
    // NaN spelled as text is text, not a number.
    for text in ["NaN", "Infinity", "-Infinity", "1e400"] {
        let id = db.send("floats", &text).await?;
        let err = db
            .read::<f64>("floats", NOW, BatchSize::ONE)
            .await?
            .strict()
            .expect_err(text);
        assert_eq!(err.kind(), ErrorKind::Decode);
        let back = db.read::<String>("floats", NOW, BatchSize::ONE).await?;
        assert_eq!((back[0].msg_id, back[0].message.as_str()), (id, text));
        assert!(db.delete("floats", id).await?);
    }
    // Extremes that are numbers survive exactly.
    let extremes = [
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        -0.0,
        1e18,
        0.1 + 0.2,
    ];
    for x in extremes {
        db.send("floats", &x).await?;
    }
    let got = db.read::<f64>("floats", NOW, BatchSize::new(10)?).await?;
    let got: Vec<u64> = got.iter().map(|m| m.message.to_bits()).collect();
    let want: Vec<u64> = extremes
        .iter()
        .map(|x| if *x == 0.0 { 0 } else { x.to_bits() })
        .collect();
    assert_eq!(
        got, want,
        "-0.0 comes back as 0.0 (numeric has no negative zero)"
    );
    Ok(())
}

#[tokio::test]
async fn a_number_beyond_f64_from_another_producer_is_a_typed_error_and_stays_queued() -> Res {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    use sea_orm_pgmq::PgmqConnectionExt;
    let tdb = TestDb::new();
    let db = seaorm(tdb.url(), 2).await?;
    db.create_queue("floats").await?;
    // Not sendable through this crate (serde_json has no such number); plain SQL can.
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pgmq.send('floats', $1::jsonb)",
        ["{\"x\": 1e400}".into()],
    ))
    .await?;
    // Typed reads parse the payload's text straight into `T`: a typed decode error that
    // keeps the raw text (as a JSON string), never a panic, and the message stays.
    let check = |err: Error| {
        let Error::Decode(e) = &err else {
            panic!("want a decode error, got {err:?}")
        };
        assert!(e.source.to_string().contains("out of range"), "{err}");
        let raw = std::str::from_utf8(e.message.as_bytes()).expect("the exact text");
        assert!(raw.starts_with("{\"x\": 1000") && raw.len() > 400, "{raw}");
    };
    check(
        db.read::<Value>("floats", NOW, BatchSize::ONE)
            .await?
            .strict()
            .expect_err("1e400"),
    );
    {
        use diesel_pgmq::PgmqConnectionExt;
        let mut diesel = PgConnection::establish(tdb.url())?;
        check(
            diesel
                .read::<Value>("floats", NOW, BatchSize::ONE)?
                .strict()
                .expect_err("1e400"),
        );
    }
    assert_eq!(db.metrics("floats").await?.queue_length, 1);
    Ok(())
}

#[tokio::test]
async fn headers_that_are_not_objects_are_rejected_before_sending() -> Res {
    let tdb = TestDb::new();
    let mut sync = PgConnection::establish(tdb.url())?;
    let mut asynch = AsyncPgConnection::establish(tdb.url()).await?;
    let sea = seaorm(tdb.url(), 2).await?;
    {
        use diesel_pgmq::PgmqConnectionExt;
        sync.create_queue("jobs")?;
    }
    for headers in [
        json!([1, 2]),
        json!("x-trace"),
        json!(42),
        json!(true),
        json!(1.5),
    ] {
        let job = Job { id: 1 };
        let results = [
            {
                use diesel_pgmq::PgmqConnectionExt;
                sync.send_with("jobs", &job, Some(&headers), Delay::default())
            },
            {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                asynch
                    .send_with("jobs", &job, Some(&headers), Delay::default())
                    .await
            },
            {
                use sea_orm_pgmq::PgmqConnectionExt;
                sea.send_with("jobs", &job, Some(&headers), Delay::default())
                    .await
            },
        ];
        for r in results {
            assert_eq!(
                r.map_err(|e| e.kind()),
                Err(ErrorKind::InvalidArgument),
                "{headers}"
            );
        }
    }
    use diesel_pgmq::PgmqConnectionExt;
    assert_eq!(sync.metrics("jobs")?.total_messages, 0, "nothing was sent");
    Ok(())
}

/// The rule, written independently of `QueueName`.
fn is_valid_name(s: &str) -> bool {
    (1..=47).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_]{1,47}",
        "[a-z0-9_]{45,50}",
        "[a-zA-Z0-9_;'\" .$%\\-]{0,50}",
        "\\PC{0,50}",
        any::<String>(),
    ]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    text: String,
    int: i64,
    float: f64,
    list: Vec<u32>,
    flag: Option<bool>,
    nested: Option<Box<Self>>,
}

fn payload() -> impl Strategy<Value = Payload> {
    let float = prop_oneof![
        proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::POSITIVE,
        Just(0.0),
    ];
    let leaf = (
        "[^\u{0}]{0,40}",
        any::<i64>(),
        float,
        proptest::collection::vec(any::<u32>(), 0..8),
        any::<Option<bool>>(),
    )
        .prop_map(|(text, int, float, list, flag)| Payload {
            text,
            int,
            float,
            list,
            flag,
            nested: None,
        });
    (leaf.clone(), proptest::option::of(leaf)).prop_map(|(mut outer, inner)| {
        outer.nested = inner.map(Box::new);
        outer
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn prop_queue_names_are_validated_by_the_rule_and_never_reach_sql(names in proptest::collection::vec(any_name(), 1..8)) {
        use diesel_pgmq::PgmqConnectionExt;
        thread_local! {
            static DB: (TestDb, std::cell::RefCell<PgConnection>) = {
                let db = TestDb::new();
                let conn = PgConnection::establish(db.url()).expect("connect");
                (db, std::cell::RefCell::new(conn))
            };
        }
        for name in names {
            let valid = is_valid_name(&name);
            prop_assert_eq!(QueueName::new(name.as_str()).is_ok(), valid, "{:?}", name);
            // No queue exists: a valid name reaches pgmq and is reported missing; an invalid
            // one is refused before any SQL. Never a syntax or other database error.
            let got = DB.with(|(_, conn)| conn.borrow_mut().metrics(name.as_str()).map(drop));
            let want = if valid { ErrorKind::QueueMissing } else { ErrorKind::InvalidQueueName };
            prop_assert_eq!(got.map_err(|e| e.kind()), Err(want), "{:?}", name);
        }
    }

    #[test]
    fn prop_payloads_round_trip_exactly_and_a_wrong_type_is_a_decode_error(p in payload()) {
        use diesel_pgmq::PgmqConnectionExt;
        thread_local! {
            static DB: (TestDb, std::cell::RefCell<PgConnection>) = {
                let db = TestDb::new();
                let mut conn = PgConnection::establish(db.url()).expect("connect");
                conn.create_queue("props").expect("queue");
                (db, std::cell::RefCell::new(conn))
            };
        }
        DB.with(|(_, conn)| -> Result<(), TestCaseError> {
            let conn = &mut *conn.borrow_mut();
            // A failed case may leave its message behind; start each case empty.
            conn.purge_queue("props").map_err(|e| TestCaseError::fail(e.to_string()))?;
            let id = conn.send("props", &p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let wrong = conn.read::<Job>("props", NOW, BatchSize::ONE).and_then(Batch::strict);
            let Err(Error::Decode(e)) = wrong else {
                return Err(TestCaseError::fail(format!("decoded as Job: {wrong:?}")));
            };
            prop_assert_eq!(e.msg_id, id);
            let raw: Payload = e.message.decode()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&raw, &p);
            let back = conn.read::<Payload>("props", NOW, BatchSize::ONE)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!((back[0].msg_id, &back[0].message), (id, &p));
            prop_assert!(conn.delete("props", id).map_err(|e| TestCaseError::fail(e.to_string()))?);
            Ok(())
        })?;
    }
}
