//! Messages as pgmq returns them, typed through serde.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{DecodeError, DecodedPart, Error};
use crate::queue_name::QueueName;

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
    /// On failure nothing is lost: the [`Error::Decode`] carries the msg_id, the exact
    /// text of payload and headers, and which of the two failed. Headers that are JSON
    /// `null` decode as none. The reads of the ORM crates decode every message this way,
    /// on its own, into a [`Messages`](crate::Messages) batch.
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
    /// assert_eq!(e.message.to_value().unwrap(), serde_json::json!({"oops": true}));
    /// ```
    pub fn decode<T: DeserializeOwned, H: DeserializeOwned>(self) -> Result<Message<T, H>, Error> {
        decode_parts(&self).map_err(Error::Decode)
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

/// Serializes a payload to the JSON value pgmq stores. A NaN or infinite float anywhere
/// in it is an [`Error::Encode`] (JSON cannot hold one; serde_json would write `null`).
///
/// ```
/// # use pgmq_orm_core::{encode_message, Error};
/// assert!(matches!(encode_message(&[1.0, f64::NAN]), Err(Error::Encode { .. })));
/// ```
///
/// ```
/// # use pgmq_orm_core::encode_message;
/// assert_eq!(encode_message(&[1, 2])?, serde_json::json!([1, 2]));
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn encode_message<T: Serialize + ?Sized>(message: &T) -> Result<Value, Error> {
    let value = message
        .serialize(serde_stacker::Serializer::new(
            serde_json::value::Serializer,
        ))
        .map_err(|source| Error::Encode {
            part: DecodedPart::Message,
            source,
        })?;
    if contains_null(&value) {
        check_finite(message, DecodedPart::Message)?;
    }
    Ok(value)
}

/// Whether `value` holds a `null` anywhere: the only place serde_json puts a NaN or an
/// infinity, so the (slower) finiteness walk runs only then.
fn contains_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.iter().any(contains_null),
        Value::Object(m) => m.values().any(contains_null),
        _ => false,
    }
}

/// [`Error::Encode`] if `value` holds a NaN or an infinity, which serde_json would
/// silently write as `null`.
fn check_finite<T: Serialize + ?Sized>(value: &T, part: DecodedPart) -> Result<(), Error> {
    crate::finite::check(value).map_err(|e| Error::Encode {
        part,
        source: serde::ser::Error::custom(e),
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
    // The rule lives once, in `encode_headers_json`; headers are small.
    encode_headers_json(headers)?
        .to_value()
        .map_err(|source| Error::Encode {
            part: DecodedPart::Headers,
            source,
        })
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
    encode_batch_with(messages, headers, encode_message, encode_headers)
}

/// What [`encode_batch`] and [`encode_batch_json`] share: the header count checked first,
/// then `message` on every payload and `header` on every header.
fn encode_batch_with<T, H, J>(
    messages: &[T],
    headers: Option<&[H]>,
    message: impl Fn(&T) -> Result<J, Error>,
    header: impl Fn(&H) -> Result<J, Error>,
) -> Result<(Vec<J>, Option<Vec<J>>), Error> {
    if let Some(h) = headers
        && h.len() != messages.len()
    {
        return Err(Error::InvalidArgument(format!(
            "a batch of {} messages got {} headers",
            messages.len(),
            h.len()
        )));
    }
    let messages = messages.iter().map(message).collect::<Result<_, _>>()?;
    let headers = headers
        .map(|h| h.iter().map(header).collect::<Result<_, _>>())
        .transpose()?;
    Ok((messages, headers))
}

/// JSON text, serialized once and not parsed: what a `jsonb` parameter carries and a
/// `jsonb` column returns, without a [`serde_json::Value`] tree in between.
///
/// The `encode_*_json` functions build it straight from a `Serialize` value; an ORM crate
/// fills it with the text of a `jsonb` column and decodes the payload from it with
/// [`RawJsonMessage::decode`]. [`RawJson::from_text`] does not check the text: decoding
/// does.
///
/// ```
/// # use pgmq_orm_core::{encode_message_json, RawJson};
/// let json = encode_message_json(&serde_json::json!({"id": 1}))?;
/// assert_eq!(json.as_bytes(), br#"{"id":1}"#);
/// assert_eq!(json.to_value()?, serde_json::json!({"id": 1}));
/// assert_eq!(RawJson::from_text(b"[1]".to_vec()).decode::<Vec<u8>>()?, [1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Vec<u8>);

impl RawJson {
    /// Wraps JSON text as it came from the database (`jsonb` output is UTF-8 JSON).
    ///
    /// ```
    /// # use pgmq_orm_core::RawJson;
    /// assert_eq!(RawJson::from_text(b"null".to_vec()).as_bytes(), b"null");
    /// ```
    pub fn from_text(text: Vec<u8>) -> Self {
        Self(text)
    }

    /// The stand-in for a SQL `NULL` where pgmq's column held no JSON at all (another
    /// producer's `pgmq.send(q, NULL)`): empty text, which no decode accepts.
    ///
    /// ```
    /// # use pgmq_orm_core::RawJson;
    /// let null = RawJson::sql_null();
    /// assert!(null.is_sql_null() && null.decode::<Option<u8>>().is_err());
    /// assert!(!RawJson::from_text(b"null".to_vec()).is_sql_null());
    /// ```
    pub fn sql_null() -> Self {
        Self(Vec::new())
    }

    /// Whether this is [`RawJson::sql_null`].
    ///
    /// ```
    /// # use pgmq_orm_core::RawJson;
    /// assert!(RawJson::sql_null().is_sql_null());
    /// ```
    pub fn is_sql_null(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the text is the JSON literal `null` (headers that say "no headers").
    pub(crate) fn is_json_null(&self) -> bool {
        self.0.trim_ascii() == b"null"
    }

    /// The JSON text.
    ///
    /// ```
    /// # use pgmq_orm_core::encode_message_json;
    /// assert_eq!(encode_message_json("é\"")?.as_bytes(), "\"é\\\"\"".as_bytes());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Deserializes the text into `T`, with no [`Value`] in between.
    ///
    /// Nesting has no depth limit (serde_json's default stops at 128 levels, which other
    /// producers exceed): the stack grows as needed instead. [`RawJson::sql_null`] is an
    /// error naming it.
    ///
    /// ```
    /// # use pgmq_orm_core::RawJson;
    /// let n: u32 = RawJson::from_text(b" 7 ".to_vec()).decode()?;
    /// assert_eq!(n, 7);
    /// assert!(RawJson::from_text(b"\"x\"".to_vec()).decode::<u32>().is_err());
    /// let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
    /// assert!(RawJson::from_text(deep.into_bytes()).decode::<serde_json::Value>().is_ok());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        if self.is_sql_null() {
            return Err(serde::de::Error::custom(
                "the column is SQL NULL, not JSON (written by another producer)",
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(&self.0);
        de.disable_recursion_limit();
        let value = T::deserialize(serde_stacker::Deserializer::new(&mut de))?;
        de.end()?;
        Ok(value)
    }

    /// Parses the text into a [`Value`].
    ///
    /// ```
    /// # use pgmq_orm_core::RawJson;
    /// assert_eq!(RawJson::from_text(b"[true]".to_vec()).to_value()?, serde_json::json!([true]));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        self.decode()
    }

    /// The text as a `String`, for drivers that bind JSON as text and let the server
    /// cast it (serialized JSON is always UTF-8; anything else is decoded lossily).
    ///
    /// ```
    /// # use pgmq_orm_core::encode_message_json;
    /// assert_eq!(encode_message_json(&[1, 2])?.into_text(), "[1,2]");
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn into_text(self) -> String {
        String::from_utf8(self.0)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RawJson")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

/// Undecoded JSON as a message carries it: a [`Value`] or [`RawJson`] text. One decode
/// routine ([`decode_parts`]) serves both kinds of raw message.
pub(crate) trait JsonPart {
    /// Deserializes into `T`.
    fn decode_into<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error>;
    /// Whether this is JSON `null`, which as headers means "no headers" (the upstream
    /// crate writes it when sending without headers; pgmq-py reads it so).
    fn is_null(&self) -> bool;
    /// The exact JSON text, for an error report.
    fn to_raw(&self) -> RawJson;
}

impl JsonPart for Value {
    fn decode_into<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self)
    }

    fn is_null(&self) -> bool {
        self.is_null()
    }

    fn to_raw(&self) -> RawJson {
        RawJson(serde_json::to_vec(self).unwrap_or_default())
    }
}

impl JsonPart for RawJson {
    fn decode_into<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.decode()
    }

    fn is_null(&self) -> bool {
        self.is_json_null()
    }

    fn to_raw(&self) -> RawJson {
        self.clone()
    }
}

/// Decodes payload and headers from `raw`, which stays whole; on failure the error keeps
/// the msg_id, which part failed and both parts' exact text (copied only then). Headers
/// that are JSON `null` decode as no headers.
pub(crate) fn decode_parts<P, T, H>(raw: &Message<P, P>) -> Result<Message<T, H>, Box<DecodeError>>
where
    P: JsonPart,
    T: DeserializeOwned,
    H: DeserializeOwned,
{
    let failed = |part, source| {
        Box::new(DecodeError {
            msg_id: raw.msg_id,
            read_ct: raw.read_ct,
            part,
            message: raw.message.to_raw(),
            headers: raw.headers.as_ref().map(JsonPart::to_raw),
            source,
        })
    };
    let message = raw
        .message
        .decode_into()
        .map_err(|source| failed(DecodedPart::Message, source))?;
    let headers = raw
        .headers
        .as_ref()
        .filter(|h| !h.is_null())
        .map(JsonPart::decode_into)
        .transpose()
        .map_err(|source| failed(DecodedPart::Headers, source))?;
    Ok(Message {
        msg_id: raw.msg_id,
        read_ct: raw.read_ct,
        enqueued_at: raw.enqueued_at,
        last_read_at: raw.last_read_at,
        vt: raw.vt,
        message,
        headers,
    })
}

/// A message whose payload and headers are still JSON text, as [`RawJson`]: what an ORM
/// crate loads when the caller wants a typed [`Message<T, H>`], so each payload is parsed
/// once, straight into `T`.
pub type RawJsonMessage = Message<RawJson, RawJson>;

impl RawJsonMessage {
    /// Decodes the payload into `T` and the headers into `H`, straight from the text.
    ///
    /// The error contract is [`RawMessage::decode`]'s: on failure the [`Error::Decode`]
    /// carries the msg_id, which part failed, and the payload and headers' exact text
    /// (a SQL `NULL` payload is [`RawJson::sql_null`] and always fails).
    ///
    /// ```
    /// use pgmq_orm_core::{Error, RawJson, RawJsonMessage};
    /// # use chrono::Utc;
    /// let raw = RawJsonMessage {
    ///     msg_id: 9, read_ct: 1, enqueued_at: Utc::now(), last_read_at: None, vt: Utc::now(),
    ///     message: RawJson::from_text(br#"{"oops": true}"#.to_vec()), headers: None,
    /// };
    /// assert!(raw.clone().decode::<serde_json::Value, serde_json::Value>().is_ok());
    /// let Err(Error::Decode(e)) = raw.decode::<u64, serde_json::Value>() else { panic!() };
    /// assert_eq!((e.msg_id, e.message.as_bytes()), (9, &br#"{"oops": true}"#[..]));
    /// ```
    pub fn decode<T: DeserializeOwned, H: DeserializeOwned>(self) -> Result<Message<T, H>, Error> {
        decode_parts(&self).map_err(Error::Decode)
    }
}

/// [`encode_message`] without the [`Value`] tree: serializes the payload straight to
/// JSON text; a NaN or infinite float is an [`Error::Encode`] here too.
///
/// ```
/// # use pgmq_orm_core::{encode_message_json, Error};
/// assert!(matches!(encode_message_json(&f32::INFINITY), Err(Error::Encode { .. })));
/// assert!(encode_message_json(&serde_json::json!({"none": null})).is_ok());
/// ```
///
/// ```
/// # use pgmq_orm_core::encode_message_json;
/// assert_eq!(encode_message_json(&[1, 2])?.as_bytes(), b"[1,2]");
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn encode_message_json<T: Serialize + ?Sized>(message: &T) -> Result<RawJson, Error> {
    to_raw_json(message, DecodedPart::Message)
}

/// [`encode_headers`] without the [`Value`] tree: the same rule, a JSON object or `null`
/// (else [`Error::InvalidArgument`]), checked on the text.
///
/// ```
/// # use pgmq_orm_core::{encode_headers_json, Error};
/// let h = encode_headers_json(&serde_json::json!({"x-pgmq-group": "a"}))?;
/// assert_eq!(h.as_bytes(), br#"{"x-pgmq-group":"a"}"#);
/// assert!(matches!(encode_headers_json("a"), Err(Error::InvalidArgument(_))));
/// # Ok::<(), Error>(())
/// ```
pub fn encode_headers_json<H: Serialize + ?Sized>(headers: &H) -> Result<RawJson, Error> {
    let json = to_raw_json(headers, DecodedPart::Headers)?;
    // serde_json writes no leading whitespace, so the first byte names the JSON kind.
    match json.0.first() {
        Some(b'{' | b'n') => Ok(json),
        first => Err(Error::InvalidArgument(format!(
            "headers must serialize to a JSON object, got {}",
            match first {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                _ => "a number",
            }
        ))),
    }
}

/// [`encode_batch`] without the [`Value`] trees: the same header-count check first, then
/// every payload and header serialized straight to JSON text.
///
/// ```
/// # use pgmq_orm_core::{encode_batch_json, Error};
/// let h = serde_json::json!({});
/// let (msgs, headers) = encode_batch_json(&["a", "b"], Some(&[h.clone(), h.clone()]))?;
/// assert_eq!(msgs[1].as_bytes(), br#""b""#);
/// assert_eq!(headers.map(|h| h.len()), Some(2));
/// assert!(matches!(encode_batch_json(&[1, 2], Some(&[h])), Err(Error::InvalidArgument(_))));
/// # Ok::<(), Error>(())
/// ```
pub fn encode_batch_json<T: Serialize, H: Serialize>(
    messages: &[T],
    headers: Option<&[H]>,
) -> Result<(Vec<RawJson>, Option<Vec<RawJson>>), Error> {
    encode_batch_with(messages, headers, encode_message_json, encode_headers_json)
}

/// Encodes one message for `pgmq.send` to `queue`: the payload as
/// [`encode_message_json`] and the headers as [`encode_headers_json`] do, then, with the
/// feature `opentelemetry`, the current span's W3C trace context merged into the headers
/// (added to the caller's; a caller's own `traceparent` is kept as it is), and with
/// `metrics`, the message counted as sent (see the `observe` module). With both
/// features off it is exactly those two encodings.
///
/// ```
/// # use pgmq_orm_core::{encode_send_json, QueueName};
/// let q = QueueName::new("jobs")?;
/// let (payload, headers) = encode_send_json(&q, &1, Some(&serde_json::json!({"a": 1})))?;
/// assert_eq!(payload.as_bytes(), b"1");
/// assert_eq!(headers.unwrap().to_value()?["a"], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_send_json<T: Serialize + ?Sized, H: Serialize + ?Sized>(
    queue: &QueueName,
    payload: &T,
    headers: Option<&H>,
) -> Result<(RawJson, Option<RawJson>), Error> {
    let payload = encode_message_json(payload)?;
    let headers = headers.map(encode_headers_json).transpose()?;
    Ok((payload, crate::observe::sending_one(queue, headers)))
}

/// Encodes a batch for `pgmq.send_batch` to `queue`: [`encode_batch_json`], then what
/// [`encode_send_json`] adds, on every message (headers are made, one per message, when
/// there is a trace context to carry and the caller gave none).
///
/// ```
/// # use pgmq_orm_core::{encode_send_batch_json, QueueName};
/// let q = QueueName::new("jobs")?;
/// let (payloads, headers) = encode_send_batch_json::<_, serde_json::Value>(&q, &[1, 2], None)?;
/// assert_eq!(payloads.len(), 2);
/// # #[cfg(not(feature = "opentelemetry"))]
/// assert!(headers.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_send_batch_json<T: Serialize, H: Serialize>(
    queue: &QueueName,
    payloads: &[T],
    headers: Option<&[H]>,
) -> Result<(Vec<RawJson>, Option<Vec<RawJson>>), Error> {
    let (payloads, headers) = encode_batch_json(payloads, headers)?;
    let headers = crate::observe::sending_batch(queue, payloads.len(), headers);
    Ok((payloads, headers))
}

fn to_raw_json<T: Serialize + ?Sized>(value: &T, part: DecodedPart) -> Result<RawJson, Error> {
    // Serialized through serde_stacker, as decoding is, so any depth a decode accepts
    // can be sent back (a handler forwarding a deep payload) without overflowing.
    let mut text = Vec::with_capacity(128);
    value
        .serialize(serde_stacker::Serializer::new(
            &mut serde_json::Serializer::new(&mut text),
        ))
        .map_err(|source| Error::Encode { part, source })?;
    // A non-finite float was written as `null`; the text is scanned only for the word.
    if text.windows(4).any(|w| w == b"null") {
        check_finite(value, part)?;
    }
    Ok(RawJson(text))
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
        assert_eq!(e.message.to_value().unwrap(), json!({"id": "x"}));
        assert_eq!(e.headers.unwrap().to_value().unwrap(), json!({"h": 1}));
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

    #[test]
    fn json_headers_follow_the_value_rule() {
        let samples = [
            json!(1),
            json!(-2.5),
            json!("s"),
            json!([1]),
            json!(true),
            json!(false),
            json!(null),
            json!({}),
            json!({"x-pgmq-group": "a"}),
        ];
        for h in samples {
            match (encode_headers(&h), encode_headers_json(&h)) {
                (Ok(v), Ok(text)) => assert_eq!(text.to_value().unwrap(), v),
                (Err(Error::InvalidArgument(a)), Err(Error::InvalidArgument(b))) => {
                    assert_eq!(a, b)
                }
                (a, b) => panic!("{h}: {a:?} against {b:?}"),
            }
        }
    }

    #[test]
    fn json_batch_checks_header_count_like_value_batch() {
        let h = [json!({})];
        let Err(Error::InvalidArgument(a)) = encode_batch(&[1, 2], Some(&h)) else {
            panic!("expected a count error")
        };
        let Err(Error::InvalidArgument(b)) = encode_batch_json(&[1, 2], Some(&h)) else {
            panic!("expected a count error")
        };
        assert_eq!(a, b);
        let (msgs, headers) = encode_batch_json::<_, Value>(&["é", "\"\n"], None).unwrap();
        assert_eq!(msgs[0].to_value().unwrap(), json!("é"));
        assert_eq!(msgs[1].to_value().unwrap(), json!("\"\n"));
        assert!(headers.is_none());
    }

    fn raw_json(message: &[u8], headers: Option<&[u8]>) -> RawJsonMessage {
        RawJsonMessage {
            msg_id: 5,
            read_ct: 2,
            enqueued_at: Utc::now(),
            last_read_at: None,
            vt: Utc::now(),
            message: RawJson::from_text(message.to_vec()),
            headers: headers.map(|h| RawJson::from_text(h.to_vec())),
        }
    }

    #[test]
    fn json_decode_failure_keeps_id_payload_and_headers_as_values() {
        let Err(Error::Decode(e)) =
            raw_json(br#"{"id": "x"}"#, Some(br#"{"h": 1}"#)).decode::<Event, Value>()
        else {
            panic!("expected a decode error")
        };
        assert_eq!((e.msg_id, e.read_ct, e.part), (5, 2, DecodedPart::Message));
        assert_eq!(e.message.to_value().unwrap(), json!({"id": "x"}));
        assert_eq!(e.headers.unwrap().to_value().unwrap(), json!({"h": 1}));
        let Err(Error::Decode(e)) =
            raw_json(br#"{"id": 1}"#, Some(br#"[1]"#)).decode::<Event, Vec<String>>()
        else {
            panic!("expected a decode error")
        };
        assert_eq!(e.part, DecodedPart::Headers);
        assert_eq!(e.headers.unwrap().as_bytes(), b"[1]");
    }

    #[test]
    fn json_text_that_is_not_json_is_kept_as_a_string() {
        let Err(Error::Decode(e)) = raw_json(b"{oops", None).decode::<Value, Value>() else {
            panic!("expected a decode error")
        };
        assert_eq!(e.message.as_bytes(), b"{oops");
    }

    #[test]
    fn json_decode_success_maps_every_field() {
        let m = raw_json(br#"{"id": 3}"#, Some(br#"{"h": 1}"#))
            .decode::<Event, Value>()
            .unwrap();
        assert_eq!((m.msg_id, m.read_ct, m.message.id), (5, 2, 3));
        assert_eq!(m.headers, Some(json!({"h": 1})));
    }

    /// The upstream crate writes JSON `null` headers when sending without headers;
    /// pgmq-py treats them as none. So do we, for untyped and typed headers alike.
    #[test]
    fn json_null_headers_are_no_headers() {
        let typed = raw_json(br#"{"id": 3}"#, Some(b" null "))
            .decode::<Event, std::collections::HashMap<String, String>>()
            .unwrap();
        assert_eq!(typed.headers, None);
        let untyped = raw(json!({"id": 3}), Some(Value::Null))
            .decode::<Value, Value>()
            .unwrap();
        assert_eq!(untyped.headers, None);
    }

    #[test]
    fn a_sql_null_payload_is_a_decode_error_of_its_message() {
        let mut r = raw_json(b"", None);
        r.message = RawJson::sql_null();
        let Err(Error::Decode(e)) = r.decode::<Option<Value>, Value>() else {
            panic!("expected a decode error")
        };
        assert!(e.message.is_sql_null());
        assert!(e.to_string().contains("SQL NULL"), "{e}");
    }

    /// serde_json stops at 128 levels by default; other producers go deeper.
    #[test]
    fn deep_nesting_decodes_and_round_trips() {
        for depth in [129, 200, 5000] {
            let text = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let v: Value = RawJson::from_text(text.clone().into_bytes())
                .decode()
                .unwrap();
            assert_eq!(encode_message_json(&v).unwrap().as_bytes(), text.as_bytes());
            // Dropping a deep Value recurses; keep it from overflowing the test thread.
            std::mem::forget(v);
        }
    }

    #[test]
    fn non_finite_floats_are_encode_errors_on_every_encoder() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let payload = json!({"ok": [1, null]});
            assert!(encode_message_json(&payload).is_ok());
            let with_bad = (1, vec![bad]);
            assert!(matches!(
                encode_message(&with_bad),
                Err(Error::Encode { .. })
            ));
            assert!(matches!(
                encode_message_json(&with_bad),
                Err(Error::Encode { .. })
            ));
            let headers = std::collections::HashMap::from([("n", bad)]);
            assert!(matches!(
                encode_headers_json(&headers),
                Err(Error::Encode { .. })
            ));
            assert!(matches!(
                encode_batch_json::<_, Value>(&[1.0, bad], None),
                Err(Error::Encode { .. })
            ));
        }
    }

    #[test]
    fn raw_value_payloads_keep_the_exact_text() {
        let text = br#"{"n":123456789012345678901234567890,"f":1e400}"#;
        let raw: Box<serde_json::value::RawValue> =
            RawJson::from_text(text.to_vec()).decode().unwrap();
        assert_eq!(raw.get().as_bytes(), text);
        assert_eq!(encode_message_json(&raw).unwrap().as_bytes(), text);
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn json_text_round_trips_like_the_value(v in any_json()) {
            let text = encode_message_json(&v).unwrap();
            proptest::prop_assert_eq!(text.to_value().unwrap(), encode_message(&v).unwrap());
            proptest::prop_assert_eq!(text.decode::<Value>().unwrap(), v);
        }
    }
}
