//! Rows written by other producers (pgmq-py, the upstream crate, plain SQL): JSON null
//! headers, SQL NULL payloads, other shapes, JSON deeper than serde_json's default limit,
//! numbers beyond `f64`. Through every client of both crates and every read path, no
//! good message is lost or hidden because another in its batch does not decode, and an
//! undecodable one reaches the caller with its msg_id and exact text.

use std::collections::HashMap;
use std::time::Duration;

use diesel::{Connection, PgConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use pgmq_harness::TestDb;
use pgmq_orm_core::{BatchSize, ErrorKind, Messages, PollOptions, VisibilityTimeout};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::support::{Job, Res, seaorm};

const NOW: VisibilityTimeout = VisibilityTimeout::Seconds(0);
const HIDE: VisibilityTimeout = VisibilityTimeout::Seconds(30);

/// Every client the crates offer, on one database.
struct Clients {
    _db: TestDb,
    sea: DatabaseConnection,
    pinned: sea_orm_pgmq::PinnedConnection,
    sync: PgConnection,
    asynch: AsyncPgConnection,
}

const CLIENTS: [&str; 4] = [
    "diesel sync",
    "diesel-async",
    "sea-orm pool",
    "sea-orm pinned",
];

impl Clients {
    async fn new() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let db = TestDb::new();
        let sea = seaorm(db.url(), 2).await?;
        Ok(Self {
            pinned: sea_orm_pgmq::PinnedConnection::acquire(&sea).await?,
            sync: PgConnection::establish(db.url())?,
            asynch: AsyncPgConnection::establish(db.url()).await?,
            sea,
            _db: db,
        })
    }

    /// Runs `sql` as another producer would (plain SQL, no crate involved).
    async fn raw(&self, sql: &str) -> Res {
        self.sea.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Reads `q` with `client` as `how` says (`read`, `poll` for `read_with_poll`, `pop`),
    /// both halves of the batch in msg_id order (pgmq returns a batch in no set order).
    async fn call<T: DeserializeOwned>(
        &mut self,
        client: usize,
        how: &str,
        q: &str,
    ) -> Result<Messages<T>, pgmq_orm_core::Error> {
        let (mut ok, mut bad) = self.call_unsorted(client, how, q).await?.into_parts();
        ok.sort_by_key(|m| m.msg_id);
        bad.sort_by_key(|e| e.msg_id);
        Ok(Messages::from_parts(ok, bad))
    }

    async fn call_unsorted<T: DeserializeOwned>(
        &mut self,
        client: usize,
        how: &str,
        q: &str,
    ) -> Result<Messages<T>, pgmq_orm_core::Error> {
        let n = BatchSize::new(100).unwrap();
        let poll = PollOptions::new(Duration::from_millis(200), Duration::from_millis(50));
        match client {
            0 => {
                use diesel_pgmq::PgmqConnectionExt;
                match how {
                    "read" => self.sync.read(q, HIDE, n),
                    "poll" => self.sync.read_with_poll(q, HIDE, n, poll),
                    _ => self.sync.pop(q, n),
                }
            }
            1 => {
                use diesel_pgmq::PgmqAsyncConnectionExt;
                match how {
                    "read" => self.asynch.read(q, HIDE, n).await,
                    "poll" => self.asynch.read_with_poll(q, HIDE, n, poll).await,
                    _ => self.asynch.pop(q, n).await,
                }
            }
            2 => {
                use sea_orm_pgmq::PgmqConnectionExt;
                match how {
                    "read" => self.sea.read(q, HIDE, n).await,
                    "poll" => self.sea.read_with_poll(q, HIDE, n, poll).await,
                    _ => self.sea.pop(q, n).await,
                }
            }
            _ => {
                use sea_orm_pgmq::PgmqConnectionExt;
                match how {
                    "read" => self.pinned.read(q, HIDE, n).await,
                    "poll" => self.pinned.read_with_poll(q, HIDE, n, poll).await,
                    _ => self.pinned.pop(q, n).await,
                }
            }
        }
    }

    async fn count(&self, sql: &str) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
        use sea_orm::{DbBackend, Statement};
        let row = self
            .sea
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await?
            .ok_or("no row")?;
        Ok(row.try_get_by_index(0)?)
    }
}

/// `depth` nested arrays around `1`, as text.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// Fills `q` with good jobs around every kind of foreign row; returns the ids of the good
/// ones and of the bad ones (in send order).
async fn mixed_batch(
    c: &Clients,
    q: &str,
) -> Result<(Vec<i64>, Vec<i64>), Box<dyn std::error::Error + Send + Sync>> {
    c.raw(&format!("SELECT pgmq.create('{q}')")).await?;
    let rows = [
        (true, r#"'{"id": 1}'::jsonb"#.to_owned()),
        (false, r#"'{"ident": "another service"}'::jsonb"#.to_owned()),
        (true, r#"'{"id": 2}'::jsonb"#.to_owned()),
        (false, "NULL::jsonb".to_owned()),
        (false, format!("'{}'::jsonb", nested(200))),
        (true, r#"'{"id": 3}'::jsonb"#.to_owned()),
        (false, r#"'{"id": 1e400}'::jsonb"#.to_owned()),
        (
            false,
            r#"'{"id": 123456789012345678901234567890}'::jsonb"#.to_owned(),
        ),
        (true, r#"'{"id": 4}'::jsonb"#.to_owned()),
    ];
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for (ok, payload) in rows {
        let id = c
            .count(&format!("SELECT pgmq.send('{q}', {payload})"))
            .await?;
        if ok { good.push(id) } else { bad.push(id) }
    }
    Ok((good, bad))
}

#[tokio::test]
async fn one_undecodable_message_never_hides_the_rest_of_its_batch() -> Res {
    let mut c = Clients::new().await?;
    for (client, who) in CLIENTS.iter().enumerate() {
        for how in ["read", "poll", "pop"] {
            let q = format!("mixed_{client}_{how}");
            let (good, bad) = mixed_batch(&c, &q).await?;
            let (decoded, undecodable) = c.call::<Job>(client, how, &q).await?.into_parts();
            let who = format!("{who} {how}");
            assert_eq!(
                decoded.iter().map(|m| m.msg_id).collect::<Vec<_>>(),
                good,
                "{who}"
            );
            assert_eq!(
                decoded.iter().map(|m| m.message.id).collect::<Vec<_>>(),
                [1, 2, 3, 4]
            );
            // pgmq's pop does not count reads; a read counts this one.
            let read_ct = i32::from(how != "pop");
            assert!(
                decoded.iter().all(|m| m.read_ct == read_ct),
                "{who}: read once, returned once"
            );
            assert_eq!(
                undecodable.iter().map(|e| e.msg_id).collect::<Vec<_>>(),
                bad,
                "{who}"
            );
            // Each comes back with its exact stored text.
            assert_eq!(
                undecodable[0].message.to_value()?,
                json!({"ident": "another service"})
            );
            assert!(undecodable[1].message.is_sql_null(), "{who}");
            assert_eq!(
                undecodable[2].message.as_bytes(),
                nested(200).as_bytes(),
                "{who}"
            );
            let big = std::str::from_utf8(undecodable[3].message.as_bytes())?;
            assert!(
                big.starts_with("{\"id\": 1000") && big.len() > 400,
                "{who}: {big}"
            );
            assert_eq!(
                undecodable[4].message.as_bytes(),
                br#"{"id": 123456789012345678901234567890}"#,
                "{who}"
            );
            let left = c.count(&format!("SELECT count(*) FROM pgmq.q_{q}")).await?;
            if how == "pop" {
                // pop deletes as it reads: the undecodable rows' only copy is in the result.
                assert_eq!(left, 0, "{who}");
            } else {
                assert_eq!(left, 9, "{who}: nothing deleted");
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn payloads_other_producers_write_read_back_as_values_and_raw_text() -> Res {
    let mut c = Clients::new().await?;
    c.raw("SELECT pgmq.create('foreign')").await?;
    // Deeper than serde_json's default limit of 128, as a Python producer writes it.
    c.raw(&format!(
        "SELECT pgmq.send('foreign', '{}'::jsonb)",
        nested(300)
    ))
    .await?;
    c.raw(r#"SELECT pgmq.send('foreign', '{"n": 123456789012345678901234567890}'::jsonb)"#)
        .await?;
    for (client, who) in CLIENTS.iter().enumerate() {
        let values = c.call::<Value>(client, "poll", "foreign").await?;
        // The deep one decodes as a Value. The big integer has no exact `Value` (serde_json
        // gives the nearest f64); a `RawValue` reader gets its text exactly.
        assert_eq!(values.len(), 2, "{who}");
        assert_eq!(
            values[1].message["n"].as_f64(),
            Some(1.234_567_890_123_456_8e29),
            "{who}"
        );
        assert_eq!(
            serde_json::to_string(&values[0].message)?,
            nested(300),
            "{who}"
        );
        std::mem::forget(values);
        c.raw("UPDATE pgmq.q_foreign SET vt = now()").await?;
        let raw = c
            .call::<Box<serde_json::value::RawValue>>(client, "read", "foreign")
            .await?;
        assert_eq!(raw.len(), 2, "{who}");
        assert_eq!(
            raw[1].message.get(),
            r#"{"n": 123456789012345678901234567890}"#,
            "{who}"
        );
        c.raw("UPDATE pgmq.q_foreign SET vt = now()").await?;
    }
    Ok(())
}

#[tokio::test]
async fn json_null_headers_are_no_headers_for_untyped_and_typed_readers() -> Res {
    let mut c = Clients::new().await?;
    c.raw("SELECT pgmq.create('hdr')").await?;
    // The upstream crate's `send` without headers writes JSON null; pgmq-py SQL NULL.
    c.raw(r#"SELECT pgmq.send('hdr', '{"id": 1}'::jsonb, 'null'::jsonb)"#)
        .await?;
    c.raw(r#"SELECT pgmq.send('hdr', '{"id": 2}'::jsonb)"#)
        .await?;
    for (client, who) in CLIENTS.iter().enumerate() {
        let untyped = c.call::<Job>(client, "read", "hdr").await?;
        assert_eq!(untyped.len(), 2, "{}", who);
        assert!(untyped.iter().all(|m| m.headers.is_none()), "{}", who);
        c.raw("UPDATE pgmq.q_hdr SET vt = now()").await?;
    }
    use diesel_pgmq::PgmqConnectionExt;
    let typed = diesel_pgmq::Queue::<Job, HashMap<String, String>>::new("hdr")?
        .read(NOW, BatchSize::new(10)?)
        .run(&mut c.sync)?
        .strict()?;
    assert_eq!(typed.len(), 2);
    assert!(typed.iter().all(|m| m.headers.is_none()));
    let sea_typed = sea_orm_pgmq::Queue::<Job, HashMap<String, String>>::new("hdr")?
        .read(&c.sea, NOW, BatchSize::new(10)?)
        .await?
        .strict()?;
    assert!(sea_typed.iter().all(|m| m.headers.is_none()));
    assert_eq!(c.sync.metrics("hdr")?.queue_length, 2);
    Ok(())
}

#[tokio::test]
async fn a_deep_value_sent_through_the_crate_reads_back_equal() -> Res {
    let mut c = Clients::new().await?;
    let deep_text = nested(200);
    let deep: Value = pgmq_orm_core::RawJson::from_text(deep_text.clone().into_bytes()).decode()?;
    {
        use diesel_pgmq::PgmqConnectionExt;
        c.sync.create_queue("deep")?;
        c.sync.send("deep", &deep)?;
    }
    {
        use diesel_pgmq::PgmqAsyncConnectionExt;
        c.asynch.send("deep", &deep).await?;
    }
    {
        use sea_orm_pgmq::PgmqConnectionExt;
        c.sea.send("deep", &deep).await?;
        c.pinned.send("deep", &deep).await?;
    }
    for (client, who) in CLIENTS.iter().enumerate() {
        let back = c.call::<Value>(client, "read", "deep").await?.strict()?;
        assert_eq!(back.len(), 4, "{}", who);
        for m in &back {
            assert_eq!(serde_json::to_string(&m.message)?, deep_text);
        }
        std::mem::forget(back);
        c.raw("UPDATE pgmq.q_deep SET vt = now()").await?;
    }
    std::mem::forget(deep);
    Ok(())
}

#[tokio::test]
async fn non_finite_floats_are_encode_errors_on_every_send_path_and_nothing_is_stored() -> Res {
    let mut c = Clients::new().await?;
    #[derive(serde::Serialize)]
    struct Reading {
        at: i64,
        value: f64,
    }
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let r = Reading { at: 1, value: x };
        let batch = [Reading { at: 2, value: 1.0 }, Reading { at: 3, value: x }];
        let headers = HashMap::from([("ratio", x)]);
        let mut kinds = Vec::new();
        {
            use diesel_pgmq::PgmqConnectionExt;
            c.sync.create_queue("floats")?;
            kinds.push(c.sync.send("floats", &r).map(drop));
            kinds.push(c.sync.send_batch("floats", &batch).map(drop));
            kinds.push(
                c.sync
                    .send_with("floats", &1, Some(&headers), Default::default())
                    .map(drop),
            );
            kinds.push(
                diesel_pgmq::Queue::<Reading>::new("floats")?
                    .send(&r)
                    .map(drop),
            );
        }
        {
            use diesel_pgmq::PgmqAsyncConnectionExt;
            kinds.push(c.asynch.send("floats", &r).await.map(drop));
            kinds.push(c.asynch.send_batch("floats", &batch).await.map(drop));
        }
        {
            use sea_orm_pgmq::PgmqConnectionExt;
            kinds.push(c.sea.send("floats", &r).await.map(drop));
            kinds.push(c.sea.send_batch("floats", &batch).await.map(drop));
            kinds.push(
                c.sea
                    .send_with("floats", &1, Some(&headers), Default::default())
                    .await
                    .map(drop),
            );
            kinds.push(c.pinned.send("floats", &r).await.map(drop));
        }
        for (n, k) in kinds.into_iter().enumerate() {
            assert_eq!(
                k.map_err(|e| e.kind()),
                Err(ErrorKind::Encode),
                "send path {n}, {x}"
            );
        }
    }
    assert_eq!(c.count("SELECT count(*) FROM pgmq.q_floats").await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_query_runners_load_every_row_and_decode_each_on_its_own() -> Res {
    let mut c = Clients::new().await?;
    let (good, bad) = mixed_batch(&c, "runner").await?;
    let q = pgmq_orm_core::QueueName::new("runner")?;
    // Diesel: load the statement's rows (no JSON is parsed on load), then decode.
    let rows: Vec<diesel_pgmq::query::MessageRow> = diesel::RunQueryDsl::load(
        diesel_pgmq::query::read(&q, NOW, BatchSize::new(20)?),
        &mut c.sync,
    )?;
    assert_eq!(
        rows.len(),
        9,
        "a SQL NULL or 1e400 payload does not fail the load"
    );
    let (ok, undecodable) = diesel_pgmq::query::decode_rows::<Job, Value>(rows).into_parts();
    assert_eq!(ok.iter().map(|m| m.msg_id).collect::<Vec<_>>(), good);
    assert_eq!(
        undecodable.iter().map(|e| e.msg_id).collect::<Vec<_>>(),
        bad
    );
    // SeaORM: the same through the query module's statement and row type.
    use sea_orm::{DbBackend, FromQueryResult};
    let stmt = DbBackend::Postgres.build(&sea_orm_pgmq::query::read(&q, NOW, BatchSize::new(20)?));
    let rows = sea_orm_pgmq::query::MessageRow::find_by_statement(stmt)
        .all(&c.sea)
        .await?;
    assert_eq!(rows.len(), 9);
    let (ok, undecodable) = sea_orm_pgmq::query::decode_rows::<Job, Value>(rows).into_parts();
    assert_eq!(ok.iter().map(|m| m.msg_id).collect::<Vec<_>>(), good);
    assert_eq!(
        undecodable.iter().map(|e| e.msg_id).collect::<Vec<_>>(),
        bad
    );
    Ok(())
}

/// `Queue::pop` of both crates (sync and async Diesel, SeaORM) hands back every message of
/// a mixed batch: the good ones decoded, the foreign ones with their exact text (their only
/// copy, since pop deletes as it reads); nothing stays behind and nothing is lost.
#[tokio::test]
async fn queue_pop_in_both_crates_hands_back_every_message_of_a_mixed_batch() -> Res {
    let mut c = Clients::new().await?;
    let n = BatchSize::new(20)?;
    for (i, q) in ["qpop_sync", "qpop_async", "qpop_sea"]
        .into_iter()
        .enumerate()
    {
        let (good, bad) = mixed_batch(&c, q).await?;
        let batch = match i {
            0 => diesel_pgmq::Queue::<Job>::new(q)?.pop(n).run(&mut c.sync)?,
            1 => {
                diesel_pgmq::Queue::<Job>::new(q)?
                    .pop(n)
                    .run_async(&mut c.asynch)
                    .await?
            }
            _ => sea_orm_pgmq::Queue::<Job>::new(q)?.pop(&c.sea, n).await?,
        };
        let (mut ok, mut undecodable) = batch.into_parts();
        ok.sort_by_key(|m| m.msg_id);
        undecodable.sort_by_key(|e| e.msg_id);
        assert_eq!(ok.iter().map(|m| m.msg_id).collect::<Vec<_>>(), good, "{q}");
        assert_eq!(
            undecodable.iter().map(|e| e.msg_id).collect::<Vec<_>>(),
            bad,
            "{q}"
        );
        assert!(undecodable[1].message.is_sql_null(), "{q}");
        assert_eq!(
            undecodable[4].message.as_bytes(),
            br#"{"id": 123456789012345678901234567890}"#,
            "{q}"
        );
        let left = c.count(&format!("SELECT count(*) FROM pgmq.q_{q}")).await?;
        assert_eq!(left, 0, "{q}");
    }
    Ok(())
}
