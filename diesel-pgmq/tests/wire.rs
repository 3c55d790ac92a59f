//! What crosses the wire: payloads and headers go to `jsonb` and back as JSON text (no
//! `serde_json::Value` in between) and must come back exactly, a payload that does not
//! decode keeps its raw JSON in the error, and every statement is prepared once per
//! connection (sync Diesel and diesel-async alike).
#![cfg(all(feature = "sync", feature = "async"))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_pgmq::{
    BatchSize, DecodedPart, Delay, Error, PgmqAsyncConnectionExt, PgmqConnectionExt,
    VisibilityTimeout,
};
use pgmq_harness::TestDb;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const VT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

/// Text that needs escaping or is outside ASCII, and numbers at the edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Awkward {
    text: String,
    big: u64,
    small: i64,
    ratio: f64,
    tags: BTreeMap<String, Vec<Option<bool>>>,
}

fn awkward(i: u64) -> Awkward {
    Awkward {
        text: format!(
            "quote \" backslash \\ newline \n tab \t nul-ish \u{1} é 漢字 🦀 \u{2028} #{i}"
        ),
        big: u64::MAX - i,
        small: i64::MIN,
        ratio: 0.1 + i as f64,
        tags: BTreeMap::from([
            ("ключ".to_owned(), vec![Some(true), None]),
            ("\"quoted\"".to_owned(), vec![]),
        ]),
    }
}

fn setup() -> (TestDb, PgConnection) {
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.create_queue("orders").unwrap();
    (db, conn)
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    text: String,
    #[diesel(sql_type = Text)]
    header: String,
}

#[test]
fn escaped_and_unicode_payloads_round_trip_and_are_stored_as_jsonb_objects() -> R {
    let (_db, mut conn) = setup();
    let header = json!({"x-pgmq-group": "grüppe \"1\"", "emoji": "🦀"});
    let id = conn.send_with("orders", &awkward(0), Some(&header), Delay::default())?;

    // The server sees an object (not a JSON string holding one): its fields are reachable.
    let stored: Stored = diesel::sql_query(
        "SELECT message->>'text' AS text, headers->>'x-pgmq-group' AS header \
         FROM pgmq.q_orders WHERE msg_id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(&mut conn)?;
    assert_eq!(stored.text, awkward(0).text);
    assert_eq!(stored.header, "grüppe \"1\"");

    let msgs = conn.read::<Awkward>("orders", VisibilityTimeout::Seconds(0), BatchSize::ONE)?;
    assert_eq!(msgs[0].message, awkward(0));
    assert_eq!(msgs[0].headers, Some(header.clone()));
    let as_value = conn.read::<Value>("orders", VT, BatchSize::ONE)?;
    assert_eq!(as_value[0].message, serde_json::to_value(awkward(0))?);
    Ok(())
}

#[test]
fn batches_with_headers_round_trip_in_order() -> R {
    let (_db, mut conn) = setup();
    let payloads: Vec<Awkward> = (0..5).map(awkward).collect();
    let headers: Vec<Value> = (0..5).map(|i| json!({"n": i, "s": "é\"\\"})).collect();
    let ids = conn.send_batch_with("orders", &payloads, Some(&headers), Delay::default())?;
    let msgs = conn.read::<Awkward>("orders", VT, BatchSize::new(10)?)?;
    assert_eq!(msgs.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids);
    assert_eq!(
        msgs.iter().map(|m| m.message.clone()).collect::<Vec<_>>(),
        payloads
    );
    assert_eq!(
        msgs.into_iter()
            .map(|m| m.headers.unwrap())
            .collect::<Vec<_>>(),
        headers
    );
    Ok(())
}

#[test]
fn json_null_headers_read_back_as_no_headers() -> R {
    // The upstream crate writes JSON null headers; pgmq-py reads them as none. So do we.
    let (_db, mut conn) = setup();
    conn.send_with("orders", &1, Some(&Value::Null), Delay::default())?;
    let msgs = conn.pop::<i32>("orders", BatchSize::ONE)?;
    assert_eq!((msgs[0].message, msgs[0].headers.clone()), (1, None));
    Ok(())
}

#[test]
fn undecodable_payload_and_headers_keep_their_raw_json() -> R {
    let (_db, mut conn) = setup();
    let payload = json!({"text": "é \"x\"", "big": -1});
    let id = conn.send_with(
        "orders",
        &payload,
        Some(&json!({"k": [1]})),
        Delay::default(),
    )?;

    let Err(Error::Decode(e)) = conn
        .read::<Awkward>("orders", VisibilityTimeout::Seconds(0), BatchSize::ONE)?
        .strict()
    else {
        panic!("expected a decode error for the payload")
    };
    assert_eq!((e.msg_id, e.read_ct, e.part), (id, 1, DecodedPart::Message));
    assert_eq!(e.message.to_value()?, payload);
    assert_eq!(
        e.headers.map(|h| h.to_value()).transpose()?,
        Some(json!({"k": [1]}))
    );

    let typed = diesel_pgmq::Queue::<Value, BTreeMap<String, String>>::new("orders")?;
    let Err(Error::Decode(e)) = typed
        .read(VisibilityTimeout::Seconds(0), BatchSize::ONE)
        .run(&mut conn)?
        .strict()
    else {
        panic!("expected a decode error for the headers")
    };
    assert_eq!((e.msg_id, e.read_ct, e.part), (id, 2, DecodedPart::Headers));
    assert_eq!(e.message.to_value()?, payload);

    // Nothing was lost: the message is still there, whole.
    let msgs = conn.pop::<Value>("orders", BatchSize::ONE)?;
    assert_eq!((msgs[0].msg_id, &msgs[0].message), (id, &payload));
    Ok(())
}

/// Counts, per SQL text, how often a connection prepared a statement into its cache, and
/// how many statements it ran.
#[derive(Debug, Clone, Default)]
struct PrepareLog(Arc<Mutex<(BTreeMap<String, usize>, usize)>>);

impl PrepareLog {
    fn instrumentation(&self) -> impl Instrumentation {
        let log = Arc::clone(&self.0);
        move |event: InstrumentationEvent<'_>| {
            let mut log = log.lock().unwrap();
            match event {
                InstrumentationEvent::CacheQuery { sql, .. } => {
                    *log.0.entry(sql.to_owned()).or_default() += 1;
                }
                InstrumentationEvent::StartQuery { .. } => log.1 += 1,
                _ => {}
            }
        }
    }

    /// (statements prepared per SQL text, statements run) since the last call.
    fn take(&self) -> (BTreeMap<String, usize>, usize) {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Runs every per-message operation once, on a sync connection or an async one.
macro_rules! every_op {
    ($conn:expr $(, $aw:ident)?) => {{
        let conn = $conn;
        let h = json!({"x-pgmq-group": "a"});
        let id = conn.send("orders", &awkward(1))$(.$aw)?.unwrap();
        conn.send_with("orders", &awkward(2), Some(&h), Delay::Seconds(0))$(.$aw)?.unwrap();
        let ids = conn.send_batch("orders", &[awkward(3), awkward(4)])$(.$aw)?.unwrap();
        conn.send_batch_with("orders", &[1, 2], Some(&[h.clone(), h.clone()]), Delay::Seconds(0))
            $(.$aw)?.unwrap();
        let read = conn.read::<Value>("orders", VisibilityTimeout::Seconds(0), BatchSize::new(10).unwrap())
            $(.$aw)?.unwrap();
        assert_eq!(read.len(), 6);
        conn.set_vt::<Value>("orders", id, VisibilityTimeout::Seconds(0))$(.$aw)?.unwrap();
        assert!(conn.archive("orders", id)$(.$aw)?.unwrap());
        assert_eq!(conn.delete_batch("orders", &ids)$(.$aw)?.unwrap(), ids);
        let popped = conn.pop::<Value>("orders", BatchSize::ONE)$(.$aw)?.unwrap();
        assert!(conn.delete("orders", popped[0].msg_id + 1000)$(.$aw)?.is_ok());
        let rest: Vec<i64> = conn
            .read::<Value>("orders", VT, BatchSize::new(10).unwrap())$(.$aw)?.unwrap()
            .iter().map(|m| m.msg_id).collect();
        assert_eq!(conn.archive_batch("orders", &rest)$(.$aw)?.unwrap(), rest);
        assert_eq!(conn.metrics("orders")$(.$aw)?.unwrap().queue_length, 0);
    }};
}

/// Distinct SQL texts [`every_op!`] runs (`read` and `delete` have two shapes each) and
/// how many statements it runs.
const DISTINCT_STATEMENTS: usize = 12;
const STATEMENTS_RUN: usize = 13;

/// First round: each distinct SQL text is prepared exactly once.
fn assert_each_prepared_once((prepared, ran): (BTreeMap<String, usize>, usize)) {
    assert_eq!(prepared.len(), DISTINCT_STATEMENTS, "{prepared:#?}");
    assert_eq!(ran, STATEMENTS_RUN);
    for (sql, n) in &prepared {
        assert_eq!(*n, 1, "prepared {n} times: {sql}");
    }
}

/// A later round: the same statements run, none is prepared again.
fn assert_none_prepared((prepared, ran): (BTreeMap<String, usize>, usize)) {
    assert!(prepared.is_empty(), "prepared again: {prepared:#?}");
    assert_eq!(ran, STATEMENTS_RUN);
}

#[test]
fn every_statement_is_prepared_once_on_a_sync_connection() {
    let (_db, mut conn) = setup();
    let log = PrepareLog::default();
    conn.set_instrumentation(log.instrumentation());
    every_op!(&mut conn);
    assert_each_prepared_once(log.take());
    every_op!(&mut conn);
    assert_none_prepared(log.take());
}

#[tokio::test]
async fn every_statement_is_prepared_once_on_an_async_connection() {
    let db = TestDb::new();
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.create_queue("orders").await.unwrap();
    let log = PrepareLog::default();
    conn.set_instrumentation(log.instrumentation());
    every_op!(&mut conn, await);
    assert_each_prepared_once(log.take());
    every_op!(&mut conn, await);
    assert_none_prepared(log.take());
}

#[tokio::test]
async fn async_payloads_round_trip_and_bad_ones_keep_raw_json() -> R {
    let db = TestDb::new();
    let mut conn = AsyncPgConnection::establish(db.url()).await?;
    conn.create_queue("orders").await?;
    let ids = conn.send_batch("orders", &[awkward(7), awkward(8)]).await?;
    let msgs = conn
        .read::<Awkward>("orders", VisibilityTimeout::Seconds(0), BatchSize::new(2)?)
        .await?;
    assert_eq!(msgs.iter().map(|m| m.msg_id).collect::<Vec<_>>(), ids);
    assert_eq!(
        (msgs[0].message.clone(), msgs[1].message.clone()),
        (awkward(7), awkward(8))
    );

    // pop deletes as it reads: the undecodable message's exact text is handed back.
    let Err(Error::Decode(e)) = conn.pop::<u8>("orders", BatchSize::ONE).await?.strict() else {
        panic!("expected a decode error")
    };
    assert_eq!(e.msg_id, ids[0]);
    assert_eq!(e.message.to_value()?, serde_json::to_value(awkward(7))?);
    Ok(())
}
