//! Runnable examples for `diesel-pgmq` and `sea-orm-pgmq`; see `src/bin/`. Each starts a
//! throwaway PostgreSQL with pgmq when `DATABASE_URL` is not set. Batch-style runs use the
//! library's `Consumer::run_until_empty`.
//!
//! [`orders`] is the order service of the `diesel_orders` example, kept in the library so
//! that `tests/orders.rs` tests it with the test kit (`pgmq-orm-test`).

pub mod orders;
