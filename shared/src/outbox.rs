//! The transactional outbox in one statement: what to send for each row a write returns.
//!
//! The outbox pattern writes a domain row and the event announcing it in one transaction,
//! so the event exists exactly when the row does. Done naively it costs two round trips
//! (`INSERT ... RETURNING`, then `SELECT pgmq.send(...)`). Both ORM crates instead wrap the
//! write in a data-modifying CTE and call `pgmq.send` once per returned row:
//!
//! ```sql
//! WITH "pgmq_written" AS (INSERT INTO orders ... RETURNING ...)
//! SELECT "pgmq_written".*,
//!        pgmq.send($queue, <payload>, $headers::jsonb, $delay::integer) AS "__pgmq_outbox_msg_id"
//! FROM "pgmq_written"
//! ```
//!
//! One statement is atomic on its own and joins the caller's transaction like any other;
//! a write that returns no rows sends nothing; every returned row comes back paired with
//! the id of its message.
//!
//! This module holds what is the same for every ORM: the [`Outbox`] options (queue,
//! [`Payload`], headers, [`Delay`]) and the SQL pieces ([`SqlPart`]) each ORM crate
//! renders with its own bind mechanism. Nothing is ever spliced into SQL text except
//! fixed keywords and column identifiers, which are validated and quoted.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::message::{encode_headers, encode_message};
use crate::queue_name::{IntoQueueName, QueueName};
use crate::timing::Delay;

/// The name of the CTE holding the written rows. Payload expressions may refer to the
/// returned columns as `"pgmq_written"."<column>"` (or unqualified, since it is the only
/// table in scope).
///
/// ```
/// assert_eq!(pgmq_orm_core::outbox::WRITTEN, "pgmq_written");
/// ```
pub const WRITTEN: &str = "pgmq_written";

/// The name of the message-id column the outbox adds to the returned columns: reserved
/// and unlikely, so it does not collide with a column of your own table (`msg_id`,
/// `pgmq_msg_id`, ...). Neither crate looks it up by name anyway: Diesel decodes the row
/// by position, and SeaORM puts it first and reads it by position, so even a column of
/// your own with this very name keeps its value.
///
/// ```
/// assert_eq!(pgmq_orm_core::outbox::MSG_ID, "__pgmq_outbox_msg_id");
/// ```
pub const MSG_ID: &str = "__pgmq_outbox_msg_id";

/// SQL text that opens the statement, before the user's write.
///
/// ```
/// assert_eq!(pgmq_orm_core::outbox::OPEN, r#"WITH "pgmq_written" AS ("#);
/// ```
pub const OPEN: &str = r#"WITH "pgmq_written" AS ("#;

/// SQL text between the user's write and the send call.
///
/// ```
/// assert!(pgmq_orm_core::outbox::SELECT.ends_with(r#""pgmq_written".*, "#));
/// ```
pub const SELECT: &str = r#") SELECT "pgmq_written".*, "#;

/// SQL text that closes the statement, after the send call.
///
/// ```
/// assert!(pgmq_orm_core::outbox::CLOSE.contains(r#"AS "__pgmq_outbox_msg_id""#));
/// ```
pub const CLOSE: &str = r#" AS "__pgmq_outbox_msg_id" FROM "pgmq_written""#;

/// PostgreSQL's `jsonb_build_object` takes at most 100 arguments: 50 key/value pairs.
const MAX_FIELDS: usize = 50;

/// One piece of SQL to render: fixed text, or a value each ORM crate binds as a
/// parameter of the named SQL type. Values are borrowed from the [`Outbox`], so a
/// Diesel `QueryFragment` can bind them for as long as it lives.
///
/// ```
/// use pgmq_orm_core::outbox::{Outbox, SqlPart};
///
/// let outbox = Outbox::new("order_events")?;
/// let parts = outbox.send_call();
/// assert!(matches!(parts[1], SqlPart::Text("order_events")));
/// assert!(parts.contains(&SqlPart::Payload));
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SqlPart<'a> {
    /// SQL text, written as it is (fixed text and quoted identifiers only).
    Sql(Cow<'a, str>),
    /// A `text` parameter.
    Text(&'a str),
    /// A `jsonb` parameter.
    Json(&'a Value),
    /// A nullable `jsonb` parameter.
    OptJson(&'a Option<Value>),
    /// An `integer` parameter.
    Int(&'a i32),
    /// A `timestamptz` parameter.
    Time(&'a DateTime<Utc>),
    /// Where the payload expression goes: [`Payload::parts`], or an ORM expression of
    /// the caller's.
    Payload,
}

fn sql(s: &'static str) -> SqlPart<'static> {
    SqlPart::Sql(Cow::Borrowed(s))
}

/// What each returned row becomes as a message: the whole row as a JSON object (the
/// default), or chosen columns under chosen keys; either one optionally merged with
/// constant fields, such as an event `type`.
///
/// The payload is computed by PostgreSQL from the returned row, so generated values (a
/// `serial` id, a `DEFAULT now()` timestamp) are in the event. Keys and constants are
/// bound parameters; column names are validated and quoted as identifiers.
///
/// ```
/// use pgmq_orm_core::outbox::Payload;
/// use serde_json::json;
///
/// // {"order_id": <id>, "total": <total_cents>, "type": "OrderCreated"}
/// let p = Payload::fields([("order_id", "id"), ("total", "total_cents")])?
///     .with("type", "OrderCreated")?;
/// assert_eq!(p.constants(), Some(&json!({"type": "OrderCreated"})));
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Payload {
    /// `(key, column name)`, the name checked by [`check_column`]; `None` means the
    /// whole row.
    fields: Option<Vec<(String, String)>>,
    /// Constant fields merged over the row's (they win on equal keys).
    constants: Option<Value>,
}

impl Payload {
    /// The whole returned row as a JSON object whose keys are the returned column names
    /// (`to_jsonb(row)`). This is the default.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Payload;
    /// assert_eq!(Payload::row(), Payload::default());
    /// ```
    pub fn row() -> Self {
        Self::default()
    }

    /// A JSON object built from returned columns: each `(key, column)` pair puts the
    /// value of `column` under `key` (`jsonb_build_object(key, column, ...)`). At most 50
    /// pairs; a column name must be non-empty, at most 63 bytes and free of NUL
    /// characters ([`Error::InvalidArgument`] otherwise). Column names are matched
    /// exactly as PostgreSQL reports them (lower case unless created quoted).
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Payload;
    /// assert!(Payload::fields([("order_id", "id")]).is_ok());
    /// assert!(Payload::fields([("order_id", "")]).is_err());
    /// ```
    pub fn fields<I, K, C>(fields: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, C)>,
        K: Into<String>,
        C: AsRef<str>,
    {
        let fields = fields
            .into_iter()
            .map(|(key, column)| {
                let column = column.as_ref();
                check_column(column)?;
                Ok((key.into(), column.to_owned()))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if fields.len() > MAX_FIELDS {
            return Err(Error::InvalidArgument(format!(
                "an outbox payload takes at most {MAX_FIELDS} fields, got {}",
                fields.len()
            )));
        }
        Ok(Self {
            fields: Some(fields),
            constants: None,
        })
    }

    /// Adds a constant field to every message, for example the event's `type`. A
    /// constant replaces a row field of the same key.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Payload;
    /// let p = Payload::row().with("type", "OrderCreated")?.with("version", &2)?;
    /// assert_eq!(p.constants(), Some(&serde_json::json!({"type": "OrderCreated", "version": 2})));
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn with<V: Serialize + ?Sized>(
        mut self,
        key: impl Into<String>,
        value: &V,
    ) -> Result<Self, Error> {
        let value = encode_message(value)?;
        let constants = self
            .constants
            .get_or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = constants {
            map.insert(key.into(), value);
        }
        Ok(self)
    }

    /// The constant fields, as one JSON object, if any were added.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Payload;
    /// assert_eq!(Payload::row().constants(), None);
    /// ```
    pub fn constants(&self) -> Option<&Value> {
        self.constants.as_ref()
    }

    /// Checks that every column [`Payload::fields`] names is among `returned`, the
    /// columns the write returns, so a misspelt or unreturned column fails before the
    /// statement runs, with the names at hand, instead of at the server. The whole row
    /// ([`Payload::row`]) fits any write. The ORM crates call it where they know the
    /// returned columns (an entity's, a `RETURNING` list of plain columns).
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Payload;
    /// let p = Payload::fields([("order_id", "id"), ("total", "totl")])?;
    /// assert!(p.check_returned(["id", "item", "total"]).unwrap_err().to_string().contains("`totl`"));
    /// assert!(p.check_returned(["id", "totl"]).is_ok());
    /// assert!(Payload::row().check_returned(["id"]).is_ok());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn check_returned<I, S>(&self, returned: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let Some(fields) = &self.fields else {
            return Ok(());
        };
        let returned: Vec<S> = returned.into_iter().collect();
        let is_returned = |c: &str| returned.iter().any(|r| r.as_ref() == c);
        match fields.iter().find(|(_, c)| !is_returned(c)) {
            None => Ok(()),
            Some((key, column)) => Err(Error::InvalidArgument(format!(
                "outbox payload field `{key}`: column `{column}` is not among the columns the write returns ({})",
                returned
                    .iter()
                    .map(AsRef::as_ref)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The payload as SQL pieces over the [`WRITTEN`] row.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::{Payload, SqlPart};
    /// let payload = Payload::row();
    /// let parts = payload.parts();
    /// assert_eq!(parts, [SqlPart::Sql(r#"to_jsonb("pgmq_written")"#.into())]);
    /// ```
    pub fn parts(&self) -> Vec<SqlPart<'_>> {
        let mut parts = Vec::new();
        if self.constants.is_some() {
            parts.push(sql("("));
        }
        match &self.fields {
            None => parts.push(sql(r#"to_jsonb("pgmq_written")"#)),
            Some(fields) => {
                parts.push(sql("jsonb_build_object("));
                for (i, (key, column)) in fields.iter().enumerate() {
                    if i > 0 {
                        parts.push(sql(", "));
                    }
                    parts.push(SqlPart::Text(key));
                    parts.push(SqlPart::Sql(Cow::Owned(format!(
                        r#"::text, "pgmq_written".{}"#,
                        quote_ident(column)
                    ))));
                }
                parts.push(sql(")"));
            }
        }
        if let Some(constants) = &self.constants {
            parts.push(sql(" || "));
            parts.push(SqlPart::Json(constants));
            parts.push(sql("::jsonb)"));
        }
        parts
    }
}

/// Refuses what cannot be a PostgreSQL column name.
fn check_column(column: &str) -> Result<(), Error> {
    if column.is_empty() || column.len() > 63 || column.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "`{}` is not a column name (1 to 63 bytes, no NUL)",
            column.escape_debug()
        )));
    }
    Ok(())
}

/// Quotes a (checked) column name as a PostgreSQL identifier (`"a""b"` for `a"b`).
fn quote_ident(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

/// Where and how the rows a write returns are sent: the queue, the [`Payload`], headers
/// and a [`Delay`]. Built once and reused; the ORM crates' `enqueue` methods take it.
///
/// ```
/// use pgmq_orm_core::outbox::{Outbox, Payload};
/// use pgmq_orm_core::Delay;
/// use serde_json::json;
///
/// let outbox = Outbox::new("order_events")?
///     .payload(Payload::fields([("order_id", "id")])?.with("type", "OrderCreated")?)
///     .headers(&json!({"source": "checkout"}))?
///     .delay(Delay::Seconds(5));
/// assert_eq!(outbox.queue().as_str(), "order_events");
/// assert!(Outbox::new("Order Events").is_err());
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    queue: QueueName,
    payload: Payload,
    headers: Option<Value>,
    delay: Delay,
    /// The seconds of [`Delay::Seconds`] as the `integer` bound for it (borrowed by
    /// [`SqlPart::Int`]).
    delay_secs: i32,
}

impl Outbox {
    /// Sends to `queue` (validated: [`Error::InvalidQueueName`]), the whole row as the
    /// payload, no headers, no delay.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::{Outbox, Payload};
    /// let outbox = Outbox::new("order_events")?;
    /// assert_eq!(outbox.payload_spec(), &Payload::row());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn new(queue: impl IntoQueueName) -> Result<Self, Error> {
        Ok(Self {
            queue: queue.into_queue_name()?,
            payload: Payload::row(),
            headers: None,
            delay: Delay::default(),
            delay_secs: 0,
        })
    }

    /// Uses `payload` to build each message.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::{Outbox, Payload};
    /// let p = Payload::row().with("type", "OrderCreated")?;
    /// assert_eq!(Outbox::new("events")?.payload(p.clone()).payload_spec(), &p);
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    #[must_use]
    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    /// Sends every message with these headers. They must serialize to a JSON object
    /// ([`Error::InvalidArgument`] otherwise); `null` means no headers.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Outbox;
    /// let o = Outbox::new("events")?.headers(&serde_json::json!({"x-pgmq-group": "a"}))?;
    /// assert!(o.headers_json().is_some());
    /// assert!(Outbox::new("events")?.headers(&[1, 2]).is_err());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn headers<H: Serialize + ?Sized>(mut self, headers: &H) -> Result<Self, Error> {
        self.headers = match encode_headers(headers)? {
            Value::Null => None,
            object => Some(object),
        };
        Ok(self)
    }

    /// Makes every message visible only after `delay` (seconds from the send, or a
    /// moment).
    ///
    /// ```
    /// use pgmq_orm_core::{outbox::Outbox, Delay};
    /// let o = Outbox::new("events")?.delay(std::time::Duration::from_secs(10));
    /// assert_eq!(o.delay_value(), Delay::Seconds(10));
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    #[must_use]
    pub fn delay(mut self, delay: impl Into<Delay>) -> Self {
        self.delay = delay.into();
        self.delay_secs = match self.delay {
            Delay::Seconds(s) => crate::timing::__int_seconds(s),
            Delay::Until(_) => 0,
        };
        self
    }

    /// The queue messages go to.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Outbox;
    /// assert_eq!(Outbox::new("events")?.queue().table_name(), "q_events");
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn queue(&self) -> &QueueName {
        &self.queue
    }

    /// How each row becomes a message.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::{Outbox, Payload};
    /// assert_eq!(Outbox::new("events")?.payload_spec(), &Payload::row());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn payload_spec(&self) -> &Payload {
        &self.payload
    }

    /// The headers every message gets, as JSON.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Outbox;
    /// assert_eq!(Outbox::new("events")?.headers_json(), None);
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn headers_json(&self) -> Option<&Value> {
        self.headers.as_ref()
    }

    /// The delay every message gets.
    ///
    /// ```
    /// use pgmq_orm_core::{outbox::Outbox, Delay};
    /// assert_eq!(Outbox::new("events")?.delay_value(), Delay::Seconds(0));
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn delay_value(&self) -> Delay {
        self.delay
    }

    /// The outbox as a statement built now sends it: with the feature `opentelemetry`,
    /// the current span's W3C trace context is merged into the headers (the caller's
    /// keys kept; a caller's own `traceparent` wins), so every message the statement
    /// sends continues the trace it was built in. Otherwise, and without a current span,
    /// the outbox itself. Both ORM crates' `enqueue` call it.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::Outbox;
    /// let outbox = Outbox::new("events")?.headers(&serde_json::json!({"source": "web"}))?;
    /// // No span is current here: nothing to add.
    /// assert_eq!(outbox.for_send().headers_json(), outbox.headers_json());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn for_send(&self) -> Cow<'_, Self> {
        match crate::observe::outbox_headers(self.headers.as_ref()) {
            Some(headers) => Cow::Owned(Self {
                headers: Some(headers),
                ..self.clone()
            }),
            None => Cow::Borrowed(self),
        }
    }

    /// The per-row send call, `pgmq.send($queue, <payload>, $headers::jsonb,
    /// $delay::integer)` (or `::timestamptz` for [`Delay::Until`]), with
    /// [`SqlPart::Payload`] where the payload goes. The four-argument overload takes both
    /// headers (`NULL` for none) and a delay, so the SQL text depends only on the delay's
    /// kind; the casts keep the two texts apart for statement caches keyed by text.
    ///
    /// ```
    /// use pgmq_orm_core::outbox::{Outbox, SqlPart};
    /// let outbox = Outbox::new("events")?;
    /// let parts = outbox.send_call();
    /// assert_eq!(parts.first(), Some(&SqlPart::Sql("pgmq.send(".into())));
    /// assert_eq!(parts.last(), Some(&SqlPart::Sql("::integer)".into())));
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn send_call(&self) -> Vec<SqlPart<'_>> {
        let (delay, cast) = match &self.delay {
            Delay::Seconds(_) => (SqlPart::Int(&self.delay_secs), "::integer)"),
            Delay::Until(at) => (SqlPart::Time(at), "::timestamptz)"),
        };
        vec![
            sql(SEND_OPEN),
            SqlPart::Text(self.queue.as_str()),
            sql(", "),
            SqlPart::Payload,
            sql(", "),
            SqlPart::OptJson(&self.headers),
            sql("::jsonb, "),
            delay,
            sql(cast),
        ]
    }
}

/// The names of the columns a write's SQL text returns, when its last top-level
/// `RETURNING` list is made of plain (optionally qualified, optionally aliased) columns:
/// the names the outbox's [`WRITTEN`] row has. `None` when there is no such list or an
/// item is anything else (`*`, an expression), which leaves [`Payload::check_returned`]
/// to the server. Quoted identifiers keep their case, unquoted ones fold to lower case,
/// as PostgreSQL reads them.
///
/// ```
/// use pgmq_orm_core::outbox::returning_columns;
/// let sql = r#"INSERT INTO "orders" ("item") VALUES ($1) RETURNING "orders"."id", "orders"."item" AS "Name""#;
/// assert_eq!(returning_columns(sql), Some(vec!["id".to_owned(), "Name".to_owned()]));
/// assert_eq!(returning_columns(r#"DELETE FROM "orders" RETURNING *"#), None);
/// assert_eq!(returning_columns(r#"DELETE FROM "orders" RETURNING "id" + 1"#), None);
/// ```
pub fn returning_columns(sql: &str) -> Option<Vec<String>> {
    let tokens = tokenize(sql)?;
    let start = tokens
        .iter()
        .rposition(|t| matches!(t, Token::Word(w, 0) if w == "returning"))?;
    let mut names = Vec::new();
    for item in tokens[start + 1..].split(|t| *t == Token::Comma) {
        // ident (. ident)* [AS ident]
        let (path, alias) = match item {
            [path @ .., Token::Word(kw, 0), alias] if kw == "as" => (path, Some(alias)),
            path => (path, None),
        };
        let mut last = None;
        for (i, t) in path.iter().enumerate() {
            match (i % 2, t) {
                (0, Token::Word(w, _) | Token::Quoted(w)) => last = Some(w),
                (1, Token::Dot) => {}
                _ => return None,
            }
        }
        if path.len() % 2 == 0 {
            return None;
        }
        let name = match alias {
            Some(Token::Word(w, _) | Token::Quoted(w)) => w,
            Some(_) => return None,
            None => last?,
        };
        names.push(name.clone());
    }
    Some(names)
}

/// A lexical token of [`returning_columns`]: a word (folded to lower case, with its
/// parenthesis depth), a quoted identifier, `.`, `,` at depth 0, or anything else.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String, usize),
    Quoted(String),
    Dot,
    Comma,
    Other,
}

/// Splits SQL text into [`Token`]s, skipping string literals; `None` on an unterminated
/// quote. Only the top level after `RETURNING` matters, so nested text is `Other`.
fn tokenize(sql: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut ident = String::new();
                loop {
                    match chars.next()? {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            ident.push('"');
                        }
                        '"' => break,
                        c => ident.push(c),
                    }
                }
                tokens.push(if depth == 0 {
                    Token::Quoted(ident)
                } else {
                    Token::Other
                });
            }
            '\'' => {
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                        }
                        '\'' => break,
                        _ => {}
                    }
                }
                tokens.push(Token::Other);
            }
            '(' => {
                depth += 1;
                tokens.push(Token::Other);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                tokens.push(Token::Other);
            }
            '.' if depth == 0 => tokens.push(Token::Dot),
            ',' if depth == 0 => tokens.push(Token::Comma),
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() || c == '_' => {
                let mut word = c.to_lowercase().collect::<String>();
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || n == '_' || n == '$' {
                        word.extend(n.to_lowercase());
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word, depth));
            }
            _ => tokens.push(Token::Other),
        }
    }
    Some(tokens)
}

/// `pgmq.send(`; a unit test checks it against the one list of function names.
const SEND_OPEN: &str = "pgmq.send(";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::function;
    use serde_json::json;

    /// Renders parts with `$n` placeholders, as a reader would see them.
    fn render(parts: &[SqlPart<'_>], payload: &[SqlPart<'_>]) -> String {
        let mut out = String::new();
        let mut n = 0;
        let mut push = |p: &SqlPart<'_>, out: &mut String| match p {
            SqlPart::Sql(s) => out.push_str(s),
            SqlPart::Payload => unreachable!(),
            _ => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
        };
        for p in parts {
            if *p == SqlPart::Payload {
                for q in payload {
                    push(q, &mut out);
                }
            } else {
                push(p, &mut out);
            }
        }
        out
    }

    #[test]
    fn send_call_names_pgmq_send() {
        assert_eq!(SEND_OPEN, format!("{}(", function::SEND));
    }

    #[test]
    fn whole_row_send_call_renders_the_four_argument_overload() {
        let o = Outbox::new("events").unwrap();
        let payload = o.payload_spec().parts();
        assert_eq!(
            render(&o.send_call(), &payload),
            r#"pgmq.send($1, to_jsonb("pgmq_written"), $2::jsonb, $3::integer)"#
        );
    }

    #[test]
    fn fields_with_constants_bind_keys_and_quote_columns() {
        let o = Outbox::new("events")
            .unwrap()
            .payload(
                Payload::fields([("id", "Id"), ("n", "we\"ird")])
                    .unwrap()
                    .with("type", "T")
                    .unwrap(),
            )
            .delay(Delay::Until(Utc::now()));
        let payload = o.payload_spec().parts();
        assert_eq!(
            render(&o.send_call(), &payload),
            r#"pgmq.send($1, (jsonb_build_object($2::text, "pgmq_written"."Id", $3::text, "pgmq_written"."we""ird") || $4::jsonb), $5::jsonb, $6::timestamptz)"#
        );
    }

    #[test]
    fn bad_columns_headers_and_too_many_fields_are_refused() {
        assert!(Payload::fields([("k", "a\0b")]).is_err());
        assert!(Payload::fields([("k", "x".repeat(64))]).is_err());
        let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), "c")).collect();
        assert!(matches!(
            Payload::fields(many),
            Err(Error::InvalidArgument(_))
        ));
        let o = Outbox::new("events").unwrap();
        assert!(matches!(
            o.clone().headers(&"text"),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(o.headers(&json!(null)).unwrap().headers_json(), None);
    }

    #[test]
    fn returning_lists_of_plain_columns_give_their_names() {
        let cases: [(&str, Option<&[&str]>); 8] = [
            (
                r#"UPDATE "t" SET "a" = $1 RETURNING "t"."a", "t"."b""#,
                Some(&["a", "b"]),
            ),
            (
                r#"INSERT INTO t (x) VALUES ('RETURNING y') RETURNING x"#,
                Some(&["x"]),
            ),
            (
                r#"DELETE FROM t RETURNING Id AS "Key", s.t.u"#,
                Some(&["Key", "u"]),
            ),
            (r#"DELETE FROM t RETURNING "we""ird""#, Some(&["we\"ird"])),
            (r#"DELETE FROM t RETURNING lower(x)"#, None),
            (r#"DELETE FROM t RETURNING t.*"#, None),
            (r#"DELETE FROM t"#, None),
            (r#"DELETE FROM t RETURNING "unterminated"#, None),
        ];
        for (sql, want) in cases {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(returning_columns(sql), want, "{sql}");
        }
    }

    #[test]
    fn check_returned_names_the_missing_column() {
        let p = Payload::fields([("a", "id"), ("b", "Name")]).unwrap();
        assert!(p.check_returned(["id", "Name"]).is_ok());
        let err = p.check_returned(["id", "name"]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("field `b`: column `Name`")),
            "{err}"
        );
    }
}
