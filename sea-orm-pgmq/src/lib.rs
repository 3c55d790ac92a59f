//! PGMQ for SeaORM 2: every pgmq function as a sea-query expression, run on any
//! `ConnectionTrait` (a `DatabaseConnection` or your `DatabaseTransaction`).
//!
//! The full API arrives with its own issue; today the crate re-exports the shared core.
//!
//! ```
//! let q = sea_orm_pgmq::QueueName::new("orders")?;
//! assert_eq!(q.archive_table_name(), "a_orders");
//! # Ok::<(), sea_orm_pgmq::QueueNameError>(())
//! ```

pub use pgmq_orm_core::*;

mod connection;
mod error;
pub mod functions;
pub mod query;
mod queue;

pub use connection::PgmqConnectionExt;
pub use error::into_pgmq_error;
pub use queue::Queue;

pub mod entity;
#[cfg(feature = "migration")]
pub mod migration;
