//! The ingest Lambda's library: typed configuration and the handler, kept out of `main.rs`
//! so that unit tests (in-memory ports) and integration tests (moto) call the same code.

pub mod config;
pub mod handler;
