//! Messages as pgmq returns them, typed through serde.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{DecodeError, DecodedPart, Error};

/// A message read from a queue (a row of pgmq's `message_record`).
///
/// `T` is the payload, `H` the headers; both default to raw JSON. Each ORM crate decodes
/// rows **by column name** into a [`RawMessage`] and then calls [`RawMessage::decode`], so
/// a change in the column order of pgmq's record type (as `last_read_at` in pgmq 1.10)
/// cannot shift fields.
///
/// ```
/// use pgmq_orm_core::{Message, RawMessage};
/// use serde::Deserialize;
/// # use chrono::Utc;
///
/// #[derive(Debug, Deserialize, PartialEq)]
/// struct OrderCreated { order_id: i64 }
///
/// let raw = RawMessage {
///     msg_id: 7, read_ct: 1, enqueued_at: Utc::now(), last_read_at: Some(Utc::now()),
///     vt: Utc::now(), message: serde_json::json!({"order_id": 42}), headers: None,
/// };
/// let msg: Message<OrderCreated> = raw.decode()?;
/// assert_eq!(msg.message, OrderCreated { order_id: 42 });
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message<T = Value, H = Value> {
    /// The message id, unique within its queue.
    pub msg_id: i64,
    /// How many times the message has been read (pgmq counts the current read).
    pub read_ct: i32,
    /// When the message was sent.
    pub enqueued_at: DateTime<Utc>,
    /// When the message was last read, if ever (pgmq 1.10+).
    pub last_read_at: Option<DateTime<Utc>>,
    /// When the message becomes visible to readers again.
    pub vt: DateTime<Utc>,
    /// The payload.
    pub message: T,
    /// The headers, if the message was sent with any.
    pub headers: Option<H>,
}

/// A message whose payload and headers are still JSON, as it comes off the wire.
pub type RawMessage = Message<Value, Value>;

impl RawMessage {
    /// Decodes the payload into `T` and the headers into `H`.
    ///
    /// On failure nothing is lost: the [`Error::Decode`] carries the msg_id, the raw
    /// payload and headers, and which of the two failed. The message itself stays in the
    /// queue (reading never deletes it), and becomes visible again after its visibility
    /// timeout.
    ///
    /// ```
    /// use pgmq_orm_core::{Error, RawMessage};
    /// # use chrono::Utc;
    /// let raw = RawMessage {
    ///     msg_id: 9, read_ct: 1, enqueued_at: Utc::now(), last_read_at: None,
    ///     vt: Utc::now(), message: serde_json::json!({"oops": true}), headers: None,
    /// };
    /// let Err(Error::Decode(e)) = raw.decode::<u64, serde_json::Value>() else { panic!() };
    /// assert_eq!(e.msg_id, 9);
    /// assert_eq!(e.message, serde_json::json!({"oops": true}));
    /// ```
    pub fn decode<T: DeserializeOwned, H: DeserializeOwned>(self) -> Result<Message<T, H>, Error> {
        let message = match T::deserialize(&self.message) {
            Ok(m) => m,
            Err(source) => return Err(self.decode_error(DecodedPart::Message, source)),
        };
        let headers = match &self.headers {
            None => None,
            Some(h) => match H::deserialize(h) {
                Ok(h) => Some(h),
                Err(source) => return Err(self.decode_error(DecodedPart::Headers, source)),
            },
        };
        Ok(Message {
            msg_id: self.msg_id,
            read_ct: self.read_ct,
            enqueued_at: self.enqueued_at,
            last_read_at: self.last_read_at,
            vt: self.vt,
            message,
            headers,
        })
    }

    fn decode_error(self, part: DecodedPart, source: serde_json::Error) -> Error {
        Error::Decode(Box::new(DecodeError {
            msg_id: self.msg_id,
            read_ct: self.read_ct,
            part,
            message: self.message,
            headers: self.headers,
            source,
        }))
    }
}

impl<T, H> Message<T, H> {
    /// Replaces the payload with `f(payload)`, keeping every other field.
    ///
    /// ```
    /// # use pgmq_orm_core::Message;
    /// # use chrono::Utc;
    /// let m: Message<i32> = Message { msg_id: 1, read_ct: 1, enqueued_at: Utc::now(),
    ///     last_read_at: None, vt: Utc::now(), message: 20, headers: None };
    /// assert_eq!(m.map(|n| n + 1).message, 21);
    /// ```
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Message<U, H> {
        Message {
            msg_id: self.msg_id,
            read_ct: self.read_ct,
            enqueued_at: self.enqueued_at,
            last_read_at: self.last_read_at,
            vt: self.vt,
            message: f(self.message),
            headers: self.headers,
        }
    }
}

/// Serializes a payload to the JSON value pgmq stores.
///
/// ```
/// # use pgmq_orm_core::encode_message;
/// assert_eq!(encode_message(&[1, 2])?, serde_json::json!([1, 2]));
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn encode_message<T: Serialize + ?Sized>(message: &T) -> Result<Value, Error> {
    serde_json::to_value(message).map_err(|source| Error::Encode {
        part: DecodedPart::Message,
        source,
    })
}

/// Serializes headers; pgmq reads headers as a JSON object (FIFO groups live under
/// `x-pgmq-group`), so anything else but `null` is refused with [`Error::InvalidArgument`].
///
/// ```
/// # use pgmq_orm_core::{encode_headers, Error};
/// assert!(encode_headers(&serde_json::json!({"x-pgmq-group": "a"})).is_ok());
/// assert!(matches!(encode_headers(&[1, 2]), Err(Error::InvalidArgument(_))));
/// ```
pub fn encode_headers<H: Serialize + ?Sized>(headers: &H) -> Result<Value, Error> {
    let value = serde_json::to_value(headers).map_err(|source| Error::Encode {
        part: DecodedPart::Headers,
        source,
    })?;
    match value {
        Value::Object(_) | Value::Null => Ok(value),
        other => Err(Error::InvalidArgument(format!(
            "headers must serialize to a JSON object, got {}",
            json_kind(&other)
        ))),
    }
}

/// Serializes a batch: every payload, and the headers when given, which must hold one
/// entry per payload (else [`Error::InvalidArgument`], before anything reaches pgmq).
///
/// ```
/// # use pgmq_orm_core::{encode_batch, Error};
/// let (msgs, headers) = encode_batch(&[1, 2], Some(&[serde_json::json!({}), serde_json::json!({})]))?;
/// assert_eq!((msgs.len(), headers.map(|h| h.len())), (2, Some(2)));
/// assert!(matches!(encode_batch(&[1, 2], Some(&[serde_json::json!({})])), Err(Error::InvalidArgument(_))));
/// # Ok::<(), Error>(())
/// ```
pub fn encode_batch<T: Serialize, H: Serialize>(
    messages: &[T],
    headers: Option<&[H]>,
) -> Result<(Vec<Value>, Option<Vec<Value>>), Error> {
    if let Some(h) = headers
        && h.len() != messages.len()
    {
        return Err(Error::InvalidArgument(format!(
            "a batch of {} messages got {} headers",
            messages.len(),
            h.len()
        )));
    }
    let messages = messages
        .iter()
        .map(encode_message)
        .collect::<Result<_, _>>()?;
    let headers = headers
        .map(|h| h.iter().map(encode_headers).collect::<Result<_, _>>())
        .transpose()?;
    Ok((messages, headers))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(message: Value, headers: Option<Value>) -> RawMessage {
        RawMessage {
            msg_id: 5,
            read_ct: 2,
            enqueued_at: Utc::now(),
            last_read_at: None,
            vt: Utc::now(),
            message,
            headers,
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Event {
        id: u32,
    }

    #[test]
    fn decode_failure_keeps_id_payload_and_headers() {
        let Err(Error::Decode(e)) =
            raw(json!({"id": "x"}), Some(json!({"h": 1}))).decode::<Event, Value>()
        else {
            panic!("expected a decode error")
        };
        assert_eq!((e.msg_id, e.read_ct, e.part), (5, 2, DecodedPart::Message));
        assert_eq!(e.message, json!({"id": "x"}));
        assert_eq!(e.headers, Some(json!({"h": 1})));
    }

    #[test]
    fn header_decode_failure_names_headers() {
        let Err(Error::Decode(e)) =
            raw(json!({"id": 1}), Some(json!({"h": 1}))).decode::<Event, Vec<u8>>()
        else {
            panic!("expected a decode error")
        };
        assert_eq!(e.part, DecodedPart::Headers);
    }

    #[test]
    fn decode_success_maps_every_field() {
        let m = raw(json!({"id": 3}), None)
            .decode::<Event, Value>()
            .unwrap();
        assert_eq!((m.msg_id, m.read_ct, m.message.id), (5, 2, 3));
        assert_eq!(m.headers, None);
    }

    #[test]
    fn headers_must_be_objects() {
        for bad in [json!(1), json!("s"), json!([1]), json!(true)] {
            assert!(matches!(
                encode_headers(&bad),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert_eq!(encode_headers(&json!({"a": 1})).unwrap(), json!({"a": 1}));
    }
}
