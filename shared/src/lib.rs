//! trailsight-core: the pure domain of trailsight.
//!
//! Everything here is free of AWS SDKs and I/O beyond `std::io::Read`: S3 key
//! classification, the streaming CloudTrail reader, per-API-minute counting,
//! the baseline model and detector, the risky-change rules, and the ports
//! (traits) that the Lambda functions and the CLI implement with adapters.

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
pub mod count;
pub mod dedup;
pub mod detect;
pub mod events;
pub mod ingest;
pub mod journal;
pub mod key;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod notify;
pub mod pipeline;
pub mod ports;
pub mod reader;
pub mod remediate;
pub mod rules;
