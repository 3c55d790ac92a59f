//! From SeaORM's [`DbErr`] to the shared [`pgmq_orm_core::Error`].

use pgmq_orm_core::Error;
use sea_orm::DbErr;

/// Converts a [`DbErr`] into the core [`Error`] (the same as `Error::from`: the core
/// implements `From` both ways, so `?` works in a SeaORM transaction closure whichever of
/// the two error types it returns). Database errors are classified by SQLSTATE: a missing
/// `pgmq.q_<name>` table becomes [`Error::QueueMissing`], a missing pgmq schema or
/// function [`Error::PgmqMissing`], pool exhaustion [`Error::Pool`], anything else
/// [`Error::Database`] (with its SQLSTATE when the server sent one).
///
/// ```
/// use sea_orm::DbErr;
/// use sea_orm_pgmq::{ErrorKind, into_pgmq_error};
/// let e = into_pgmq_error(DbErr::Custom("boom".into()));
/// assert_eq!(e.kind(), ErrorKind::Database);
/// ```
pub fn into_pgmq_error(err: DbErr) -> Error {
    // The classification lives with the `From` impls in the core (feature `sea-orm`).
    Error::from(err)
}
