//! The backfill worker Lambda's library: typed configuration and the handler, kept out of
//! `main.rs` so unit tests (in-memory ports) and integration tests (moto) call the same code.

pub mod config;
pub mod handler;
