//! From an announced log file to committed state and sent events: how a delivery is announced
//! ([`notify`]), the in-order merge with de-duplication, detection and the rules
//! ([`pipeline`], [`dedup`]), and the exactly-once flow over a store ([`flow`], whose entry
//! point [`ingest`] is re-exported here).

pub mod archive;
pub mod dedup;
pub mod flow;
pub mod notify;
pub mod pipeline;

pub use flow::{ingest, Disposition, IngestError, IngestReport, MAX_ATTEMPTS};
