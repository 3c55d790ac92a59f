//! What a dead-lettered message carries about its failure, and how to read it back.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::{Error, Message, QueueName, RawMessage};

/// The header under which a dead-lettered message records why it left its queue.
pub const DEAD_LETTER_HEADER: &str = "x-pgmq-dead-letter";

/// The headers for `message`'s copy in a dead-letter queue: its own headers (an object,
/// or kept under `"original"` otherwise) plus [`DEAD_LETTER_HEADER`] with the source queue,
/// original msg_id, attempts, error and time.
///
/// ```
/// use pgmq_orm_core::{QueueName, RawMessage};
/// use pgmq_orm_core::consumer::{dead_letter_headers, DeadLetterInfo};
/// let raw = RawMessage { msg_id: 7, read_ct: 3, enqueued_at: chrono::Utc::now(), last_read_at: None,
///     vt: chrono::Utc::now(), message: serde_json::json!(1), headers: None };
/// let h = dead_letter_headers(&raw, &QueueName::new("orders").unwrap(), "boom");
/// let info = DeadLetterInfo::from_headers(Some(&h)).unwrap();
/// assert_eq!((info.source_queue.as_str(), info.msg_id, info.error.as_str()), ("orders", 7, "boom"));
/// ```
pub fn dead_letter_headers(message: &RawMessage, source: &QueueName, error: &str) -> Value {
    let mut headers = match &message.headers {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => Map::from_iter([("original".to_owned(), other.clone())]),
        None => Map::new(),
    };
    headers.insert(
        DEAD_LETTER_HEADER.to_owned(),
        json!({
            "source_queue": source.as_str(),
            "msg_id": message.msg_id,
            "read_ct": message.read_ct,
            "error": error,
            "failed_at": chrono::Utc::now(),
        }),
    );
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
/// use pgmq_orm_core::RawMessage;
/// use pgmq_orm_core::consumer::DeadLetter;
/// let raw = RawMessage { msg_id: 3, read_ct: 0, enqueued_at: chrono::Utc::now(), last_read_at: None,
///     vt: chrono::Utc::now(), message: serde_json::json!(5),
///     headers: Some(serde_json::json!({"x-pgmq-dead-letter": {"source_queue": "q", "msg_id": 1, "read_ct": 2, "error": "e"}})) };
/// let dead = DeadLetter::<u8>::decode(raw)?;
/// assert_eq!((dead.message.message, dead.info.unwrap().error.as_str()), (5, "e"));
/// # Ok::<(), pgmq_orm_core::Error>(())
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
    /// Decodes a row of a dead-letter queue; a payload that is not a `T` is an
    /// [`Error::Decode`] naming the message.
    ///
    /// ```
    /// # use pgmq_orm_core::{RawMessage, consumer::DeadLetter};
    /// let raw = RawMessage { msg_id: 3, read_ct: 0, enqueued_at: chrono::Utc::now(), last_read_at: None,
    ///     vt: chrono::Utc::now(), message: serde_json::json!("text"), headers: None };
    /// assert!(DeadLetter::<u8>::decode(raw).is_err());
    /// ```
    pub fn decode(raw: RawMessage) -> Result<Self, Error> {
        let info = DeadLetterInfo::from_headers(raw.headers.as_ref());
        Ok(Self {
            message: raw.decode()?,
            info,
        })
    }
}

/// The headers to send a dead-lettered message back to its source with: the original
/// ones, without the failure record.
///
/// ```
/// use pgmq_orm_core::consumer::requeue_headers;
/// let h = serde_json::json!({"x-pgmq-dead-letter": {}, "trace": "t"});
/// assert_eq!(requeue_headers(Some(&h)), Some(serde_json::json!({"trace": "t"})));
/// ```
pub fn requeue_headers(headers: Option<&Value>) -> Option<Value> {
    let Some(Value::Object(m)) = headers else {
        return headers.cloned();
    };
    let mut m = m.clone();
    m.remove(DEAD_LETTER_HEADER);
    if let Some(original) = m.remove("original") {
        if m.is_empty() {
            return Some(original);
        }
        m.insert("original".to_owned(), original);
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(headers: Option<Value>) -> RawMessage {
        RawMessage {
            msg_id: 1,
            read_ct: 5,
            enqueued_at: chrono::Utc::now(),
            last_read_at: None,
            vt: chrono::Utc::now(),
            message: json!({"a": 1}),
            headers,
        }
    }

    #[test]
    fn object_headers_are_kept_beside_the_failure_record() {
        let q = QueueName::new("q").unwrap();
        let h = dead_letter_headers(&raw(Some(json!({"trace": "x"}))), &q, "bad");
        assert_eq!(h["trace"], "x");
        assert_eq!(h[DEAD_LETTER_HEADER]["error"], "bad");
        assert_eq!(h[DEAD_LETTER_HEADER]["read_ct"], 5);
    }

    #[test]
    fn requeue_restores_the_original_headers() {
        let q = QueueName::new("q").unwrap();
        for original in [None, Some(json!({"trace": "x"})), Some(json!([1, 2]))] {
            let h = dead_letter_headers(&raw(original.clone()), &q, "bad");
            assert_eq!(requeue_headers(Some(&h)), original);
        }
    }
}
