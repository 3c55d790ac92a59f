//! From SeaORM's [`DbErr`] to the shared [`pgmq_orm_core::Error`].

use pgmq_orm_core::Error;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

/// Converts a [`DbErr`] into the core [`Error`], classifying database errors by SQLSTATE:
/// a missing `pgmq.q_<name>` table becomes [`Error::QueueMissing`], a missing pgmq schema
/// or function [`Error::PgmqMissing`], pool exhaustion [`Error::Pool`], anything else
/// [`Error::Database`] (with its SQLSTATE when the server sent one).
///
/// ```
/// use sea_orm::DbErr;
/// use sea_orm_pgmq::{ErrorKind, into_pgmq_error};
/// let e = into_pgmq_error(DbErr::Custom("boom".into()));
/// assert_eq!(e.kind(), ErrorKind::Database);
/// ```
pub fn into_pgmq_error(err: DbErr) -> Error {
    let sqlx_err = match &err {
        DbErr::ConnectionAcquire(_) => return Error::Pool(Box::new(err)),
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(e.clone()),
        _ => None,
    };
    match sqlx_err.as_deref() {
        Some(sqlx::Error::Database(db)) => {
            let code = db.code().map(|c| c.into_owned());
            let message = db.message().to_owned();
            Error::from_database(code.as_deref(), &message, err)
        }
        Some(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => Error::Pool(Box::new(err)),
        _ => {
            let message = err.to_string();
            Error::from_database(None, &message, err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgmq_orm_core::ErrorKind;
    use sea_orm::ConnAcquireErr;
    use std::sync::Arc;

    #[test]
    fn pool_acquire_failures_are_pool_errors() {
        let e = into_pgmq_error(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert_eq!(e.kind(), ErrorKind::Pool);
        let e = into_pgmq_error(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
            sqlx::Error::PoolTimedOut,
        ))));
        assert_eq!(e.kind(), ErrorKind::Pool);
    }

    #[test]
    fn non_database_errors_are_database_errors_without_code() {
        let e = into_pgmq_error(DbErr::Query(RuntimeErr::Internal("bad row".into())));
        assert!(matches!(e, Error::Database { code: None, .. }));
    }
}
