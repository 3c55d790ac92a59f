//! What a dead-lettered message carries about its failure, and how to read it back.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::message::decode_parts;
use crate::{Batch, DecodeError, Message, QueueName, RawJsonMessage};

/// The header under which a dead-lettered message records why it left its queue.
pub const DEAD_LETTER_HEADER: &str = "x-pgmq-dead-letter";

/// The failure record written under [`DEAD_LETTER_HEADER`]: source queue, original msg_id,
/// read count, error and time. The move itself adds the message's original headers
/// (`"headers"`, exactly as they were, `null` for none) in SQL, so a requeue restores
/// them exactly and user headers are never confused with the record.
///
/// The error text is [`sanitize_error`]d: Postgres refuses some text in `jsonb`, and a
/// failure record must always be writable.
///
/// ```
/// use pgmq_orm_core::QueueName;
/// use pgmq_orm_core::consumer::failure_record;
/// let r = failure_record(&QueueName::new("orders").unwrap(), 7, 3, "boom\0tail");
/// assert_eq!((r["msg_id"].as_i64(), r["error"].as_str()), (Some(7), Some("boom\u{fffd}tail")));
/// ```
pub fn failure_record(source: &QueueName, msg_id: i64, read_ct: i32, error: &str) -> Value {
    json!({
        "source_queue": source.as_str(),
        "msg_id": msg_id,
        "read_ct": read_ct,
        "error": sanitize_error(error),
        "failed_at": chrono::Utc::now(),
    })
}

/// Error text made storable in `jsonb`: NUL characters (which Postgres text and `jsonb`
/// cannot hold) become U+FFFD. Rust strings are valid UTF-8, so no other escape that
/// `jsonb` refuses (a lone UTF-16 surrogate) can occur; a backslash sequence such as
/// `\ud800` in the text is kept as the literal characters.
///
/// ```
/// use pgmq_orm_core::consumer::sanitize_error;
/// assert_eq!(sanitize_error("a\0b"), "a\u{fffd}b");
/// assert_eq!(sanitize_error(r"\ud800"), r"\ud800");
/// ```
pub fn sanitize_error(error: &str) -> std::borrow::Cow<'_, str> {
    if error.contains('\0') {
        std::borrow::Cow::Owned(error.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(error)
    }
}

/// The headers a dead-lettered copy of a message with `original` headers carries: the
/// original object's keys (for FIFO groups and tracing) plus [`DEAD_LETTER_HEADER`] with
/// the `record` and the exact original headers. This is what the consumer's move writes
/// in SQL ([`dead_letter_sql::move_to_queue`](super::dead_letter_sql::move_to_queue));
/// here for building dead letters by hand, in tests or tools.
///
/// ```
/// use pgmq_orm_core::QueueName;
/// use pgmq_orm_core::consumer::{dead_letter_headers, failure_record, DeadLetterInfo};
/// let q = QueueName::new("orders").unwrap();
/// let h = dead_letter_headers(None, failure_record(&q, 7, 3, "boom"));
/// let info = DeadLetterInfo::from_headers(Some(&h)).unwrap();
/// assert_eq!((info.source_queue.as_str(), info.msg_id, info.error.as_str()), ("orders", 7, "boom"));
/// ```
pub fn dead_letter_headers(original: Option<&Value>, mut record: Value) -> Value {
    let mut headers = match original {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Value::Object(r) = &mut record {
        r.insert(
            "headers".to_owned(),
            original.cloned().unwrap_or(Value::Null),
        );
    }
    headers.insert(DEAD_LETTER_HEADER.to_owned(), record);
    Value::Object(headers)
}

/// The failure record of a dead-lettered message, parsed from its headers.
///
/// ```
/// use pgmq_orm_core::consumer::DeadLetterInfo;
/// assert!(DeadLetterInfo::from_headers(None).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterInfo {
    /// The queue the message was read from.
    pub source_queue: String,
    /// Its msg_id there.
    pub msg_id: i64,
    /// How many times it was read there.
    pub read_ct: i32,
    /// The last error.
    pub error: String,
    /// When it was moved, if recorded.
    pub failed_at: Option<DateTime<Utc>>,
}

impl DeadLetterInfo {
    /// Reads the record from a dead-lettered message's headers; `None` if absent.
    ///
    /// ```
    /// use pgmq_orm_core::consumer::DeadLetterInfo;
    /// let h = serde_json::json!({"x-pgmq-dead-letter": {"source_queue": "q", "msg_id": 1, "read_ct": 2, "error": "e"}});
    /// assert_eq!(DeadLetterInfo::from_headers(Some(&h)).unwrap().read_ct, 2);
    /// ```
    pub fn from_headers(headers: Option<&Value>) -> Option<Self> {
        let rec = headers?.get(DEAD_LETTER_HEADER)?;
        Some(Self {
            source_queue: rec.get("source_queue")?.as_str()?.to_owned(),
            msg_id: rec.get("msg_id")?.as_i64()?,
            read_ct: i32::try_from(rec.get("read_ct")?.as_i64()?).ok()?,
            error: rec.get("error")?.as_str()?.to_owned(),
            failed_at: rec
                .get("failed_at")
                .and_then(|t| serde_json::from_value(t.clone()).ok()),
        })
    }
}

/// A message in a dead-letter queue, with its failure record decoded: what the
/// dead-letter toolkits of the ORM crates list and inspect.
///
/// ```
/// use pgmq_orm_core::{RawJson, RawJsonMessage};
/// use pgmq_orm_core::consumer::DeadLetter;
/// let text = |t: &str| RawJson::from_text(t.as_bytes().to_vec());
/// let raw = RawJsonMessage { msg_id: 3, read_ct: 0, enqueued_at: chrono::Utc::now(), last_read_at: None,
///     vt: chrono::Utc::now(), message: text("5"),
///     headers: Some(text(r#"{"x-pgmq-dead-letter": {"source_queue": "q", "msg_id": 1, "read_ct": 2, "error": "e"}}"#)) };
/// let dead = DeadLetter::<u8>::decode(&raw)?;
/// assert_eq!((dead.message.message, dead.info.unwrap().error.as_str()), (5, "e"));
/// # Ok::<(), Box<pgmq_orm_core::DecodeError>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter<T = Value> {
    /// The message as it sits in the dead-letter queue (`msg_id` is its id there; the
    /// headers still hold the failure record).
    pub message: Message<T>,
    /// The failure record; `None` for a message put there by something else.
    pub info: Option<DeadLetterInfo>,
}

impl<T: DeserializeOwned> DeadLetter<T> {
    /// Decodes a row of a dead-letter queue (payload and headers as JSON text); a payload
    /// that is not a `T` is a [`DecodeError`] naming the message, with its exact text.
    ///
    /// ```
    /// # use pgmq_orm_core::{RawJson, RawJsonMessage, consumer::DeadLetter};
    /// let raw = RawJsonMessage { msg_id: 3, read_ct: 0, enqueued_at: chrono::Utc::now(), last_read_at: None,
    ///     vt: chrono::Utc::now(), message: RawJson::from_text(br#""text""#.to_vec()), headers: None };
    /// assert!(DeadLetter::<u8>::decode(&raw).is_err());
    /// assert!(DeadLetter::<String>::decode(&raw).is_ok());
    /// ```
    pub fn decode(raw: &RawJsonMessage) -> Result<Self, Box<DecodeError>> {
        let message: Message<T> = decode_parts(raw)?;
        let info = DeadLetterInfo::from_headers(message.headers.as_ref());
        Ok(Self { message, info })
    }
}

/// Decodes every row of a dead-letter queue on its own: one entry that does not decode
/// (a number beyond `f64` from another producer) is kept raw in
/// [`Batch::undecodable`] and never hides the others.
///
/// ```
/// # use pgmq_orm_core::{RawJson, RawJsonMessage, consumer::decode_dead_letters};
/// let row = |id, text: &str| RawJsonMessage { msg_id: id, read_ct: 0, enqueued_at: chrono::Utc::now(),
///     last_read_at: None, vt: chrono::Utc::now(), message: RawJson::from_text(text.into()), headers: None };
/// let (ok, bad) = decode_dead_letters::<serde_json::Value>(&[row(1, "1"), row(2, "[1e400]")]).into_parts();
/// assert_eq!((ok.len(), bad[0].msg_id, bad[0].message.as_bytes()), (1, 2, &b"[1e400]"[..]));
/// ```
pub fn decode_dead_letters<T: DeserializeOwned>(rows: &[RawJsonMessage]) -> Batch<DeadLetter<T>> {
    rows.iter().map(DeadLetter::decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_headers_are_kept_beside_the_failure_record() {
        let q = QueueName::new("q").unwrap();
        let h = dead_letter_headers(
            Some(&json!({"trace": "x"})),
            failure_record(&q, 1, 5, "bad"),
        );
        assert_eq!(h["trace"], "x");
        assert_eq!(h[DEAD_LETTER_HEADER]["error"], "bad");
        assert_eq!(h[DEAD_LETTER_HEADER]["read_ct"], 5);
        assert_eq!(h[DEAD_LETTER_HEADER]["headers"], json!({"trace": "x"}));
    }

    #[test]
    fn a_user_header_named_like_the_record_fields_stays_the_users() {
        let q = QueueName::new("q").unwrap();
        let original = json!({"original": {"x": 1}, "headers": 2});
        let h = dead_letter_headers(Some(&original), failure_record(&q, 1, 5, "bad"));
        assert_eq!(h["original"], json!({"x": 1}));
        assert_eq!(h[DEAD_LETTER_HEADER]["headers"], original);
    }
}
