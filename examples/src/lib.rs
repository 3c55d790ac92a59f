//! Runnable examples for `diesel-pgmq` and `sea-orm-pgmq`; see `src/bin/`. Each starts a
//! throwaway PostgreSQL with pgmq when `DATABASE_URL` is not set. Batch-style runs use the
//! library's `Consumer::run_until_empty`.
