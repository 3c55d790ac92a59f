//! Diesel's errors as the core [`Error`], so a missing queue is [`Error::QueueMissing`]
//! whether you call the extension traits or run [`crate::query`] statements yourself.

use diesel::result::Error as DieselError;
use pgmq_orm_core::Error;

/// Converts a Diesel error into the core [`Error`] (the same as `Error::from`: the core
/// implements `From` both ways, so `?` works in a Diesel transaction closure whichever of
/// the two error types it returns).
///
/// Diesel exposes no SQLSTATE, so the code is recovered from Diesel's error kind and,
/// for the errors pgmq raises about missing relations, functions and schemas, from the
/// server's message.
///
/// ```
/// use diesel::result::{DatabaseErrorKind, Error as DieselError};
/// use diesel_pgmq::{error::from_diesel, ErrorKind};
/// let e = from_diesel(DieselError::DatabaseError(DatabaseErrorKind::Unknown,
///     Box::new("relation \"pgmq.q_jobs\" does not exist".to_owned())));
/// assert_eq!(e.kind(), ErrorKind::QueueMissing);
/// ```
pub fn from_diesel(err: DieselError) -> Error {
    // The classification lives with the `From` impls in the core (feature `diesel`).
    Error::from(err)
}

/// The same as [`from_diesel`], under the name the rest of the workspace uses.
///
/// ```
/// let e = diesel_pgmq::error::into_pgmq_error(diesel::result::Error::NotFound);
/// assert_eq!(e.kind(), diesel_pgmq::ErrorKind::Database);
/// ```
pub fn into_pgmq_error(err: DieselError) -> Error {
    from_diesel(err)
}

/// `.map_pgmq_err()` on any `Result<_, diesel::result::Error>`.
///
/// ```
/// use diesel_pgmq::error::DieselResultExt;
/// let r: Result<(), diesel::result::Error> = Err(diesel::result::Error::NotFound);
/// assert_eq!(r.map_pgmq_err().unwrap_err().kind(), diesel_pgmq::ErrorKind::Database);
/// ```
pub trait DieselResultExt<T> {
    /// Maps the error with [`from_diesel`].
    fn map_pgmq_err(self) -> Result<T, Error>;
}

impl<T> DieselResultExt<T> for Result<T, DieselError> {
    fn map_pgmq_err(self) -> Result<T, Error> {
        self.map_err(from_diesel)
    }
}

/// Converts an r2d2 pool error into [`Error::Pool`].
///
/// ```
/// # #[cfg(feature = "sync")] {
/// use diesel::r2d2::{ConnectionManager, Pool};
/// use diesel::PgConnection;
/// let pool = Pool::builder().connection_timeout(std::time::Duration::from_millis(10))
///     .build_unchecked(ConnectionManager::<PgConnection>::new("postgres://nobody@127.0.0.1:1/x"));
/// let Err(err) = pool.get() else { panic!("nothing listens on port 1") };
/// let e = diesel_pgmq::error::from_r2d2(err);
/// assert_eq!(e.kind(), diesel_pgmq::ErrorKind::Pool);
/// # }
/// ```
#[cfg(feature = "sync")]
pub fn from_r2d2(err: diesel::r2d2::PoolError) -> Error {
    Error::Pool(Box::new(err))
}

/// Converts a bb8 error of diesel-async's pool into the core error: database errors keep
/// their meaning, everything else is [`Error::Pool`].
///
/// ```
/// let e = diesel_pgmq::error::from_bb8(bb8::RunError::TimedOut);
/// assert_eq!(e.kind(), diesel_pgmq::ErrorKind::Pool);
/// ```
#[cfg(feature = "bb8")]
pub fn from_bb8(err: bb8::RunError<diesel_async::pooled_connection::PoolError>) -> Error {
    match err {
        bb8::RunError::User(diesel_async::pooled_connection::PoolError::QueryError(e)) => {
            from_diesel(e)
        }
        other => Error::Pool(Box::new(other)),
    }
}
