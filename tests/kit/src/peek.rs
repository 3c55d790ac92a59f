//! What the `sent` / `assert_sent` / `assert_not_sent` helpers of every connection type
//! share: the statement, the decoding and the assertions. The ORM modules only run the
//! statement on their connection.

use std::fmt::Write as _;

use pgmq_orm_core::{Error, IntoQueueName, Message, QueueName, RawJson, RawJsonMessage};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// The queue's messages, oldest first, as one JSON array in one text column `rows`.
///
/// A plain `SELECT` on the queue's table: it reads rows without taking them (no `read_ct`
/// or visibility change, so the code under test sees the queue as it left it), includes
/// messages that are not visible yet (delayed, or being processed), and runs on the
/// caller's connection, so inside an open transaction it sees that transaction's own
/// uncommitted sends. The table name comes from a validated [`QueueName`], quoted; there
/// are no values to bind.
pub(crate) fn statement(queue: &QueueName) -> String {
    format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(q) ORDER BY q.msg_id), '[]')::text AS rows \
         FROM {} AS q",
        queue.quoted_table_name()
    )
}

/// Validates `queue` and returns it with its statement.
pub(crate) fn prepare(queue: impl IntoQueueName) -> Result<(QueueName, String), Error> {
    let queue = queue.into_queue_name()?;
    let sql = statement(&queue);
    Ok((queue, sql))
}

/// Parses the statement's text into messages whose payload and headers are still JSON
/// text (so numbers keep their exact digits until decoded into the caller's type).
pub(crate) fn parse(rows: &str) -> Result<Vec<RawJsonMessage>, Error> {
    let rows: Vec<Message<Box<RawValue>, Box<RawValue>>> =
        serde_json::from_str(rows).map_err(|e| {
            Error::InvalidArgument(format!(
                "pgmq-orm-test: the queue's rows did not parse: {e}"
            ))
        })?;
    Ok(rows
        .into_iter()
        .map(|m| RawJsonMessage {
            msg_id: m.msg_id,
            read_ct: m.read_ct,
            enqueued_at: m.enqueued_at,
            last_read_at: m.last_read_at,
            vt: m.vt,
            message: RawJson::from_text(m.message.get().as_bytes().to_vec()),
            headers: m
                .headers
                .map(|h| RawJson::from_text(h.get().as_bytes().to_vec())),
        })
        .collect())
}

/// Every message decoded into `T`; the first that does not decode is the error.
pub(crate) fn decode_all<T: DeserializeOwned>(
    rows: Vec<RawJsonMessage>,
) -> Result<Vec<Message<T>>, Error> {
    rows.into_iter().map(RawJsonMessage::decode).collect()
}

/// The first message that decodes into `T` and satisfies `predicate`; panics listing what
/// the queue holds when none does.
pub(crate) fn find<T: DeserializeOwned>(
    queue: &QueueName,
    rows: Vec<RawJsonMessage>,
    predicate: impl Fn(&Message<T>) -> bool,
) -> Message<T> {
    let listing = listing::<T>(&rows);
    rows.into_iter()
        .filter_map(|raw| raw.decode::<T, serde_json::Value>().ok())
        .find(|m| predicate(m))
        .unwrap_or_else(|| {
            panic!("assert_sent: no message in queue `{queue}` matches the predicate;{listing}")
        })
}

/// Panics listing the offending messages if any message decodes into `T` and satisfies
/// `predicate`.
pub(crate) fn none<T: DeserializeOwned>(
    queue: &QueueName,
    rows: Vec<RawJsonMessage>,
    predicate: impl Fn(&Message<T>) -> bool,
) {
    let matching: Vec<RawJsonMessage> = rows
        .into_iter()
        .filter(|raw| {
            raw.clone()
                .decode::<T, serde_json::Value>()
                .is_ok_and(|m| predicate(&m))
        })
        .collect();
    if !matching.is_empty() {
        let listing = listing::<T>(&matching);
        panic!(
            "assert_not_sent: {} message(s) in queue `{queue}` match the predicate;{listing}",
            matching.len()
        );
    }
}

/// What a failed assertion prints: each message's id, payload and headers as stored, and
/// whether it decodes into `T`.
fn listing<T: DeserializeOwned>(rows: &[RawJsonMessage]) -> String {
    if rows.is_empty() {
        return " the queue is empty".to_owned();
    }
    let mut out = format!(" the queue holds {}:", rows.len());
    for raw in rows {
        let text = |j: &RawJson| String::from_utf8_lossy(j.as_bytes()).into_owned();
        let _ = write!(out, "\n  msg_id {}: {}", raw.msg_id, text(&raw.message));
        if let Some(h) = &raw.headers {
            let _ = write!(out, " headers {}", text(h));
        }
        if let Err(e) = raw.clone().decode::<T, serde_json::Value>() {
            let _ = write!(
                out,
                " (does not decode as {}: {e})",
                std::any::type_name::<T>()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_quotes_the_table_and_reads_without_taking() {
        let q = QueueName::existing("Dot.Name").unwrap();
        let sql = statement(&q);
        assert!(sql.contains(r#"FROM pgmq."q_dot.name" AS q"#), "{sql}");
        assert!(!sql.contains("pgmq.read"), "{sql}");
    }

    #[test]
    fn an_invalid_name_never_reaches_sql() {
        assert!(prepare("no'; DROP TABLE x; --").is_err());
    }

    #[test]
    fn rows_keep_exact_payload_text_and_decode() {
        let rows = parse(
            r#"[{"msg_id": 3, "read_ct": 0, "enqueued_at": "2026-01-02T03:04:05.123456+00:00",
                 "vt": "2026-01-02T03:04:05+00:00", "message": {"n": 12345678901234567890},
                 "headers": null}]"#,
        )
        .unwrap();
        assert_eq!(
            rows[0].message.as_bytes(),
            br#"{"n": 12345678901234567890}"#
        );
        assert!(rows[0].headers.is_none() && rows[0].last_read_at.is_none());
        let q = QueueName::new("q").unwrap();
        let found = find(&q, rows.clone(), |m: &Message<serde_json::Value>| {
            m.msg_id == 3
        });
        assert_eq!(found.read_ct, 0);
        let panicked = std::panic::catch_unwind(|| {
            find(&q, rows.clone(), |m: &Message<serde_json::Value>| {
                m.msg_id == 4
            })
        });
        assert!(panicked.is_err());
        none(&q, rows, |m: &Message<u8>| m.msg_id == 3); // does not decode as u8
    }
}
