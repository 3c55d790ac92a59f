//! The one error type of diesel-pgmq and sea-orm-pgmq.

use std::fmt;

use crate::message::RawJson;
use crate::queue_name::QueueNameError;
use crate::version::PgmqVersion;

/// A boxed error from the driver or pool underneath (Diesel, diesel-async, SeaORM, bb8, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong talking to pgmq, whichever ORM is underneath.
///
/// Branch on [`Error::kind`] (or match the variants) instead of matching strings:
///
/// ```
/// use pgmq_orm_core::{Error, ErrorKind, QueueName};
///
/// let err: Error = QueueName::new("Orders").unwrap_err().into();
/// assert_eq!(err.kind(), ErrorKind::InvalidQueueName);
/// assert!(err.to_string().contains("use `orders`"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The queue name was rejected before any SQL was built.
    #[error(transparent)]
    InvalidQueueName(#[from] QueueNameError),
    /// pgmq reported that the queue's table does not exist.
    #[error("queue `{queue}` does not exist")]
    QueueMissing {
        /// The queue, as named in the database's error.
        queue: String,
        /// The database error.
        #[source]
        source: BoxError,
    },
    /// The pgmq schema or function is absent from this database.
    #[error("pgmq is not installed in this database (or lacks a function this crate calls)")]
    PgmqMissing {
        /// The database error that revealed it, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// pgmq is installed but older than this crate, or the function called, needs.
    #[error(
        "pgmq {found} is installed; {} needs pgmq {required} or newer",
        function.as_deref().map_or_else(|| "this crate".to_owned(), |f| format!("`{f}`"))
    )]
    PgmqTooOld {
        /// The installed version.
        found: PgmqVersion,
        /// The version needed: [`crate::MIN_PGMQ_VERSION`], or the version that added
        /// `function`.
        required: PgmqVersion,
        /// The pgmq function (as the server named it, with its argument types) that the
        /// installed version lacks; `None` when the whole crate needs a newer pgmq.
        function: Option<String>,
    },
    /// A message's payload or headers did not decode into the requested type. The error
    /// keeps the exact JSON text. Reads never return it for a whole batch: they set such
    /// messages apart in [`Messages::undecodable`](crate::Batch::undecodable);
    /// [`Batch::strict`](crate::Batch::strict) turns the first into this error.
    #[error(transparent)]
    Decode(Box<DecodeError>),
    /// A payload or headers value could not be serialized to JSON.
    #[error("could not serialize the {part} to JSON: {source}")]
    Encode {
        /// What was being serialized.
        part: DecodedPart,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// An argument is outside what pgmq accepts (for example an empty batch, or headers
    /// that are not a JSON object).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Any other database error.
    #[error("database error{}: {source}", code.as_deref().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default())]
    Database {
        /// The SQLSTATE code, when the driver exposes it.
        code: Option<String>,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The connection pool could not hand out a connection (timeout, broken server, ...).
    #[error("connection pool error: {0}")]
    Pool(#[source] BoxError),
    /// A client-side time limit ran out before the database answered (a lock wait, a
    /// frozen server, a dead network); the statement's outcome is unknown.
    #[error("{what} did not finish within {after:?}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// The limit.
        after: std::time::Duration,
    },
}

/// The category of an [`Error`], for callers that branch on what went wrong.
///
/// ```
/// # use pgmq_orm_core::{Error, ErrorKind};
/// let e = Error::InvalidArgument("empty batch".into());
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::InvalidQueueName`].
    InvalidQueueName,
    /// See [`Error::QueueMissing`].
    QueueMissing,
    /// See [`Error::PgmqMissing`].
    PgmqMissing,
    /// See [`Error::PgmqTooOld`].
    PgmqTooOld,
    /// See [`Error::Decode`].
    Decode,
    /// See [`Error::Encode`].
    Encode,
    /// See [`Error::InvalidArgument`].
    InvalidArgument,
    /// See [`Error::Database`].
    Database,
    /// See [`Error::Pool`].
    Pool,
    /// See [`Error::Timeout`].
    Timeout,
}

/// Which part of a message a decode or encode error is about.
///
/// ```
/// # use pgmq_orm_core::DecodedPart;
/// assert_eq!(DecodedPart::Headers.to_string(), "headers");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodedPart {
    /// The payload (`message` column).
    Message,
    /// The headers (`headers` column).
    Headers,
}

impl fmt::Display for DecodedPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Message => "message",
            Self::Headers => "headers",
        })
    }
}

/// A message that was read but did not decode. Everything pgmq returned is kept, as the
/// exact JSON text it stored.
///
/// ```
/// # use pgmq_orm_core::{Error, RawMessage};
/// # use chrono::Utc;
/// # let raw = RawMessage { msg_id: 3, read_ct: 1, enqueued_at: Utc::now(), last_read_at: None,
/// #     vt: Utc::now(), message: serde_json::json!("text"), headers: None };
/// if let Err(Error::Decode(e)) = raw.decode::<i32, serde_json::Value>() {
///     // Park it somewhere, or log it: the raw JSON is all here.
///     assert_eq!((e.msg_id, e.message.as_bytes()), (3, &b"\"text\""[..]));
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("message {msg_id}: the {part} does not decode into the requested type: {source}")]
pub struct DecodeError {
    /// The message's id. After a read the message is still in its queue (visible again
    /// after its visibility timeout); after a pop this error holds its only copy.
    pub msg_id: i64,
    /// The message's read count at the failed read.
    pub read_ct: i32,
    /// Whether the payload or the headers failed.
    pub part: DecodedPart,
    /// The payload's JSON text exactly as pgmq returned it ([`RawJson::is_sql_null`] for a
    /// SQL `NULL` payload).
    ///
    /// [`RawJson::is_sql_null`]: crate::RawJson::is_sql_null
    pub message: RawJson,
    /// The headers' JSON text, if any.
    pub headers: Option<RawJson>,
    /// serde's error.
    #[source]
    pub source: serde_json::Error,
}

/// SQLSTATE `42P01`, `undefined_table`.
const UNDEFINED_TABLE: &str = "42P01";
/// SQLSTATE `42883`, `undefined_function`.
const UNDEFINED_FUNCTION: &str = "42883";
/// SQLSTATE `3F000`, `invalid_schema_name`.
const INVALID_SCHEMA_NAME: &str = "3F000";
/// SQLSTATE `42703`, `undefined_column`.
const UNDEFINED_COLUMN: &str = "42703";

impl Error {
    /// The category of this error.
    ///
    /// ```
    /// # use pgmq_orm_core::{Error, ErrorKind};
    /// assert_eq!(Error::PgmqMissing { source: None }.kind(), ErrorKind::PgmqMissing);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidQueueName(_) => ErrorKind::InvalidQueueName,
            Self::QueueMissing { .. } => ErrorKind::QueueMissing,
            Self::PgmqMissing { .. } => ErrorKind::PgmqMissing,
            Self::PgmqTooOld { .. } => ErrorKind::PgmqTooOld,
            Self::Decode(_) => ErrorKind::Decode,
            Self::Encode { .. } => ErrorKind::Encode,
            Self::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Self::Database { .. } => ErrorKind::Database,
            Self::Pool(_) => ErrorKind::Pool,
            Self::Timeout { .. } => ErrorKind::Timeout,
        }
    }

    /// Classifies a database error by its SQLSTATE `code` and server `message`: a missing
    /// `pgmq.q_<name>` table is [`Error::QueueMissing`], a missing pgmq schema or function
    /// is [`Error::PgmqMissing`], anything else is [`Error::Database`]. Each ORM crate
    /// calls this once, so the rules live here.
    ///
    /// ```
    /// # use pgmq_orm_core::{Error, ErrorKind};
    /// let e = Error::from_database(
    ///     Some("42P01"),
    ///     r#"relation "pgmq.q_orders" does not exist"#,
    ///     std::io::Error::other("driver error"),
    /// );
    /// assert!(matches!(&e, Error::QueueMissing { queue, .. } if queue == "orders"));
    /// let e = Error::from_database(Some("23505"), "duplicate key", std::io::Error::other("x"));
    /// assert_eq!(e.kind(), ErrorKind::Database);
    /// ```
    pub fn from_database(code: Option<&str>, message: &str, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        // pgmq's own check (`enable_notify_insert` and others raise it before touching
        // the table), whatever SQLSTATE the driver reports.
        if let Some(queue) = pgmq_queue_missing(message) {
            return Self::QueueMissing { queue, source };
        }
        match code {
            Some(UNDEFINED_TABLE) => match missing_queue(message) {
                Some(queue) => Self::QueueMissing { queue, source },
                None => Self::database(code, source),
            },
            Some(INVALID_SCHEMA_NAME) if message.contains("\"pgmq\"") => Self::PgmqMissing {
                source: Some(source),
            },
            Some(UNDEFINED_FUNCTION) if message.contains("pgmq.") => Self::PgmqMissing {
                source: Some(source),
            },
            _ => Self::database(code, source),
        }
    }

    /// Whether this error may mean that the installed pgmq is older than the operation
    /// needs: a pgmq function that does not exist ([`Error::PgmqMissing`] from SQLSTATE
    /// `42883`), or a column that does not exist (`42703`, as pgmq before 1.10 lacks
    /// `last_read_at`). Both ORM crates then look the installed version up (one query, on
    /// this error path only, never on success) and pass it to
    /// [`Error::for_installed_version`].
    ///
    /// ```
    /// # use pgmq_orm_core::Error;
    /// let e = Error::from_database(Some("42883"),
    ///     "function pgmq.read_grouped_head_with_poll(text, integer, integer, integer, integer) does not exist",
    ///     std::io::Error::other("x"));
    /// assert!(e.may_need_newer_pgmq());
    /// let e = Error::from_database(Some("23505"), "duplicate key", std::io::Error::other("x"));
    /// assert!(!e.may_need_newer_pgmq());
    /// ```
    pub fn may_need_newer_pgmq(&self) -> bool {
        match self {
            Self::PgmqMissing { source: Some(_) } => true,
            Self::Database { code, .. } => code.as_deref() == Some(UNDEFINED_COLUMN),
            _ => false,
        }
    }

    /// This error, knowing the installed pgmq version (`None`: pgmq is not installed), for
    /// an error that [`may_need_newer_pgmq`](Self::may_need_newer_pgmq):
    ///
    /// - no pgmq: [`Error::PgmqMissing`];
    /// - older than [`crate::MIN_PGMQ_VERSION`]: [`Error::PgmqTooOld`] with the minimum;
    /// - older than the missing function needs (see [`crate::sql::function::SINCE`]):
    ///   [`Error::PgmqTooOld`] naming the function, the installed and the needed version;
    /// - otherwise the error unchanged.
    ///
    /// ```
    /// use pgmq_orm_core::{Error, PgmqVersion};
    /// // The driver's error renders the server's message, as Diesel's and SeaORM's do.
    /// let msg = "function pgmq.read_grouped_head_with_poll(text, integer, integer, integer, integer) does not exist";
    /// let missing = || Error::from_database(Some("42883"), msg, std::io::Error::other(msg));
    /// let e = missing().for_installed_version(Some(PgmqVersion::new(1, 11, 1)));
    /// assert!(matches!(&e, Error::PgmqTooOld { required, function: Some(f), .. }
    ///     if *required == PgmqVersion::new(1, 12, 0) && f.starts_with("pgmq.read_grouped_head_with_poll(")));
    /// let e = missing().for_installed_version(Some(PgmqVersion::new(1, 9, 0)));
    /// assert!(matches!(e, Error::PgmqTooOld { required: pgmq_orm_core::MIN_PGMQ_VERSION, .. }));
    /// assert!(matches!(missing().for_installed_version(None), Error::PgmqMissing { .. }));
    /// ```
    pub fn for_installed_version(self, installed: Option<PgmqVersion>) -> Self {
        if !self.may_need_newer_pgmq() {
            return self;
        }
        let Some(found) = installed else {
            return match self {
                Self::PgmqMissing { source } => Self::PgmqMissing { source },
                Self::Database { source, .. } => Self::PgmqMissing {
                    source: Some(source),
                },
                other => other,
            };
        };
        let text = self.source_text();
        let function = missing_function(&text);
        if found < crate::MIN_PGMQ_VERSION {
            return Self::PgmqTooOld {
                found,
                required: crate::MIN_PGMQ_VERSION,
                function,
            };
        }
        let needed = function.as_deref().and_then(|f| {
            crate::sql::function::SINCE
                .iter()
                .find(|(signature, _)| f.starts_with(signature))
                .map(|&(_, since)| since)
        });
        match needed {
            Some(required) if found < required => Self::PgmqTooOld {
                found,
                required,
                function,
            },
            _ => self,
        }
    }

    /// The server's message as the driver's error renders it (Diesel's and SeaORM's
    /// errors include it).
    fn source_text(&self) -> String {
        match self {
            Self::PgmqMissing { source: Some(s) } | Self::Database { source: s, .. } => {
                s.to_string()
            }
            _ => String::new(),
        }
    }

    fn database(code: Option<&str>, source: BoxError) -> Self {
        Self::Database {
            code: code.map(str::to_owned),
            source,
        }
    }
}

/// Extracts `<name>` from pgmq's `Queue "<name>" does not exist. ...`.
fn pgmq_queue_missing(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Queue \"")?;
    let (name, after) = rest.split_once('"')?;
    after
        .starts_with(" does not exist")
        .then(|| name.to_owned())
}

/// Extracts `pgmq.<name>(<argument types>)` from `function pgmq.<name>(..) does not exist`.
fn missing_function(message: &str) -> Option<String> {
    let start = message.find("function pgmq.")? + "function ".len();
    let rest = &message[start..];
    let end = rest.find(" does not exist")?;
    Some(rest[..end].to_owned())
}

/// Extracts `<name>` from `relation "pgmq.q_<name>" does not exist` (or `a_<name>`).
fn missing_queue(message: &str) -> Option<String> {
    let start = message.find("\"pgmq.")? + "\"pgmq.".len();
    let rest = &message[start..];
    let rest = rest
        .strip_prefix("q_")
        .or_else(|| rest.strip_prefix("a_"))?;
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> std::io::Error {
        std::io::Error::other("x")
    }

    #[test]
    fn classification_follows_sqlstate_and_message() {
        let e = Error::from_database(
            Some("42P01"),
            "relation \"pgmq.a_jobs\" does not exist",
            src(),
        );
        assert!(matches!(e, Error::QueueMissing { ref queue, .. } if queue == "jobs"));
        let e = Error::from_database(
            Some("42P01"),
            "relation \"public.orders\" does not exist",
            src(),
        );
        assert_eq!(e.kind(), ErrorKind::Database);
        let e = Error::from_database(Some("3F000"), "schema \"pgmq\" does not exist", src());
        assert_eq!(e.kind(), ErrorKind::PgmqMissing);
        let e = Error::from_database(
            Some("42883"),
            "function pgmq.read_grouped(text, integer, integer) does not exist",
            src(),
        );
        assert_eq!(e.kind(), ErrorKind::PgmqMissing);
        let e = Error::from_database(
            None,
            "Queue \"jbos\" does not exist. Create it first using pgmq.create()",
            src(),
        );
        assert!(matches!(e, Error::QueueMissing { ref queue, .. } if queue == "jbos"));
        let e = Error::from_database(None, "connection reset", src());
        assert!(matches!(e, Error::Database { code: None, .. }));
    }

    #[test]
    fn version_errors_name_the_function_and_both_versions() {
        let v = PgmqVersion::new;
        // Drivers render the server's message in their error, as here.
        let msg = "function pgmq.create_partitioned(text, text, text, integer) does not exist";
        let missing = || Error::from_database(Some("42883"), msg, std::io::Error::other(msg));
        let e = missing().for_installed_version(Some(v(1, 12, 0)));
        assert_eq!(
            e.to_string(),
            "pgmq 1.12.0 is installed; `pgmq.create_partitioned(text, text, text, integer)` \
             needs pgmq 1.13.0 or newer"
        );
        // Installed new enough: the function is missing for another reason.
        let e = missing().for_installed_version(Some(v(1, 13, 0)));
        assert_eq!(e.kind(), ErrorKind::PgmqMissing);
        // Older than the minimum: a missing column is a version error too.
        let column = || {
            Error::from_database(
                Some("42703"),
                "column \"last_read_at\" does not exist",
                src(),
            )
        };
        assert!(column().may_need_newer_pgmq());
        let e = column().for_installed_version(Some(v(1, 9, 0)));
        assert!(matches!(
            e,
            Error::PgmqTooOld { found, required, function: None }
                if found == v(1, 9, 0) && required == crate::MIN_PGMQ_VERSION
        ));
        assert_eq!(
            column().for_installed_version(Some(v(1, 13, 0))).kind(),
            ErrorKind::Database
        );
        assert_eq!(
            column().for_installed_version(None).kind(),
            ErrorKind::PgmqMissing
        );
    }

    #[test]
    fn database_error_display_names_the_sqlstate() {
        let e = Error::from_database(Some("40001"), "serialization failure", src());
        assert_eq!(e.to_string(), "database error (SQLSTATE 40001): x");
    }
}
