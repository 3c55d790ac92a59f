//! PGMQ for Diesel: every pgmq function as a typed, composable Diesel query, for sync
//! Diesel (`PgConnection`, r2d2) and diesel-async (`AsyncPgConnection`, bb8).
//!
//! The full API arrives with its own issue; today the crate re-exports the shared core.
//!
//! ```
//! let q = diesel_pgmq::QueueName::new("orders")?;
//! assert_eq!(q.table_name(), "q_orders");
//! # Ok::<(), diesel_pgmq::QueueNameError>(())
//! ```

pub use pgmq_orm_core::*;

pub mod connection;
pub mod error;
pub mod functions;
pub mod query;
pub mod queue;

#[cfg(feature = "async")]
pub use connection::PgmqAsyncConnectionExt;
#[cfg(feature = "sync")]
pub use connection::PgmqConnectionExt;
pub use queue::Queue;

#[cfg(feature = "migrations")]
pub mod migrations;
pub mod schema;
