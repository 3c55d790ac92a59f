//! Diesel's error and the core [`Error`], both ways (feature `diesel`), so a Diesel
//! transaction closure can use `?` on pgmq calls and on Diesel queries alike, whichever
//! of the two error types it returns. The impls live here because Rust lets only the
//! crate that defines [`Error`] implement conversions between it and a foreign type.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::Error;

/// A Diesel error as the core [`Error`]: a missing queue is [`Error::QueueMissing`], a
/// missing pgmq [`Error::PgmqMissing`], anything else [`Error::Database`] keeping the
/// Diesel error as its source. A pgmq error that went through
/// `From<Error> for diesel::result::Error` comes back as it was.
///
/// Diesel exposes no SQLSTATE, so the code is recovered from Diesel's error kind and,
/// for the errors pgmq raises about missing relations, functions and schemas, from the
/// server's message.
///
/// ```
/// use diesel::result::{DatabaseErrorKind, Error as DieselError};
/// use pgmq_orm_core::{Error, ErrorKind};
/// let e = Error::from(DieselError::DatabaseError(DatabaseErrorKind::Unknown,
///     Box::new("relation \"pgmq.q_jobs\" does not exist".to_owned())));
/// assert_eq!(e.kind(), ErrorKind::QueueMissing);
/// ```
impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        let (code, message) = match &err {
            DieselError::QueryBuilderError(inner) if inner.is::<Self>() => {
                let DieselError::QueryBuilderError(inner) = err else {
                    unreachable!("matched just above")
                };
                return *inner.downcast::<Self>().expect("checked with is");
            }
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_owned();
                (sqlstate(*kind, &message), message)
            }
            other => (None, other.to_string()),
        };
        Self::from_database(code, &message, err)
    }
}

/// The core [`Error`] as a Diesel error, for `?` inside a closure that returns
/// `diesel::result::Error` (such as `conn.transaction(|tx| ...)`): a database error keeps
/// the Diesel error it came from (a serialization failure is still one, for a retry
/// loop); any other is carried whole as `QueryBuilderError` and converts back unchanged.
///
/// ```
/// use pgmq_orm_core::{Error, ErrorKind};
/// let diesel_err: diesel::result::Error = Error::InvalidArgument("empty batch".into()).into();
/// assert_eq!(Error::from(diesel_err).kind(), ErrorKind::InvalidArgument);
/// let db = Error::from(diesel::result::Error::NotFound);
/// assert!(matches!(diesel::result::Error::from(db), diesel::result::Error::NotFound));
/// ```
impl From<Error> for DieselError {
    fn from(err: Error) -> Self {
        match err {
            Error::Database { source, .. } if source.is::<Self>() => {
                *source.downcast::<Self>().expect("checked with is")
            }
            other => Self::QueryBuilderError(Box::new(other)),
        }
    }
}

fn sqlstate(kind: DatabaseErrorKind, message: &str) -> Option<&'static str> {
    Some(match kind {
        DatabaseErrorKind::UniqueViolation => "23505",
        DatabaseErrorKind::ForeignKeyViolation => "23503",
        DatabaseErrorKind::SerializationFailure => "40001",
        DatabaseErrorKind::ReadOnlyTransaction => "25006",
        DatabaseErrorKind::NotNullViolation => "23502",
        DatabaseErrorKind::CheckViolation => "23514",
        _ if message.starts_with("relation ") && message.ends_with("does not exist") => "42P01",
        _ if message.starts_with("function ") && message.ends_with("does not exist") => "42883",
        _ if message.starts_with("schema ") && message.ends_with("does not exist") => "3F000",
        _ if message.starts_with("column ") && message.ends_with("does not exist") => "42703",
        _ => return None,
    })
}
