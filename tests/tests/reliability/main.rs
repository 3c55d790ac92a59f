//! The reliability and security suite (issue #10): load, injected faults, timeouts, bad
//! input and least privilege, each against a real PostgreSQL with real pgmq. See
//! RELIABILITY.md at the repository root for the claims and the figures.

mod bad_input;
mod cluster;
mod dead_network;
mod faults;
mod foreign_rows;
mod health;
mod load;
mod roles;
mod security;
mod storage;
mod support;
mod timeouts;
