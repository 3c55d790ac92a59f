//! SeaORM's [`DbErr`] and the core [`Error`], both ways (feature `sea-orm`), so a SeaORM
//! transaction closure can use `?` on pgmq calls and on entity queries alike, whichever
//! of the two error types it returns. The impls live here because Rust lets only the
//! crate that defines [`Error`] implement conversions between it and a foreign type.

use std::fmt;
use std::sync::{Arc, Mutex};

use sea_orm::{DbErr, RuntimeErr, sqlx};

use crate::Error;

/// A SeaORM error as the core [`Error`], classified by SQLSTATE: a missing
/// `pgmq.q_<name>` table is [`Error::QueueMissing`], a missing pgmq schema or function
/// [`Error::PgmqMissing`], pool exhaustion [`Error::Pool`], anything else
/// [`Error::Database`] (with its SQLSTATE when the server sent one) keeping the `DbErr`
/// as its source. A pgmq error that went through `From<Error> for DbErr` comes back as
/// it was.
///
/// ```
/// use pgmq_orm_core::{Error, ErrorKind};
/// use sea_orm::{ConnAcquireErr, DbErr};
/// assert_eq!(Error::from(DbErr::Custom("boom".into())).kind(), ErrorKind::Database);
/// let e = Error::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
/// assert_eq!(e.kind(), ErrorKind::Pool);
/// ```
impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if let DbErr::TryIntoErr { source, .. } = &err
            && let Some(carried) = source.downcast_ref::<Carried>()
            && let Some(inner) = carried.take()
        {
            return inner;
        }
        let sqlx_err = match &err {
            DbErr::ConnectionAcquire(_) => return Self::Pool(Box::new(err)),
            DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e))
            | DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(Arc::clone(e)),
            _ => None,
        };
        match sqlx_err.as_deref() {
            Some(sqlx::Error::Database(db)) => {
                let code = db.code().map(|c| c.into_owned());
                let message = db.message().to_owned();
                Self::from_database(code.as_deref(), &message, err)
            }
            Some(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => Self::Pool(Box::new(err)),
            _ => {
                let message = err.to_string();
                Self::from_database(None, &message, err)
            }
        }
    }
}

/// The core [`Error`] as a SeaORM error, for `?` inside a closure that returns `DbErr`
/// (such as `db.transaction::<_, _, DbErr>(..)`): a database or pool error gives back the
/// `DbErr` it came from (a serialization failure is still one, for a retry loop); any
/// other is carried whole (as `DbErr::TryIntoErr` from `pgmq_orm_core::Error`, its
/// message the pgmq error's) and converts back unchanged.
///
/// ```
/// use pgmq_orm_core::{Error, ErrorKind};
/// use sea_orm::DbErr;
/// let db_err: DbErr = Error::InvalidArgument("empty batch".into()).into();
/// assert!(db_err.to_string().contains("empty batch"));
/// assert_eq!(Error::from(db_err).kind(), ErrorKind::InvalidArgument);
/// let db = Error::from(DbErr::RecordNotInserted);
/// assert!(matches!(DbErr::from(db), DbErr::RecordNotInserted));
/// ```
impl From<Error> for DbErr {
    fn from(err: Error) -> Self {
        match err {
            Error::Database { source, .. } | Error::Pool(source) if source.is::<Self>() => {
                *source.downcast::<Self>().expect("checked with is")
            }
            other => Self::TryIntoErr {
                from: "pgmq_orm_core::Error",
                into: "sea_orm::DbErr",
                source: Arc::new(Carried(Mutex::new(Some(other)))),
            },
        }
    }
}

/// A pgmq error travelling inside a `DbErr`, taken out whole when it converts back.
struct Carried(Mutex<Option<Error>>);

impl Carried {
    fn take(&self) -> Option<Error> {
        self.0.lock().ok()?.take()
    }
}

impl fmt::Debug for Carried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.lock().as_deref() {
            Ok(Some(err)) => fmt::Debug::fmt(err, f),
            _ => f.write_str("pgmq error (already taken)"),
        }
    }
}

impl fmt::Display for Carried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.lock().as_deref() {
            Ok(Some(err)) => fmt::Display::fmt(err, f),
            _ => f.write_str("pgmq error (already taken)"),
        }
    }
}

impl std::error::Error for Carried {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use sea_orm::ConnAcquireErr;

    #[test]
    fn pool_acquire_failures_are_pool_errors() {
        let e = Error::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert_eq!(e.kind(), ErrorKind::Pool);
        let e = Error::from(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
            sqlx::Error::PoolTimedOut,
        ))));
        assert_eq!(e.kind(), ErrorKind::Pool);
    }

    #[test]
    fn non_database_errors_are_database_errors_without_code() {
        let e = Error::from(DbErr::Query(RuntimeErr::Internal("bad row".into())));
        assert!(matches!(e, Error::Database { code: None, .. }));
    }

    #[test]
    fn a_pgmq_error_survives_a_round_trip_through_db_err() {
        let name_err = crate::QueueName::new("bad name").unwrap_err();
        let db_err = DbErr::from(Error::from(name_err));
        assert_eq!(Error::from(db_err).kind(), ErrorKind::InvalidQueueName);
    }
}
