//! trailsight-core: the pure domain of trailsight.
//!
//! Everything here is free of AWS SDKs and I/O beyond `std::io::Read`: S3 key
//! classification, the streaming CloudTrail reader, per-API-minute counting,
//! the baseline model and detector, the risky-change rules, and the ports
//! (traits) that the Lambda functions and the CLI implement with adapters.
//!
//! Grouped by concept: [`log`] (object keys, reader, counting), [`ingest`] (notifications,
//! pipeline, de-duplication, the exactly-once flow), [`store`] (ports, journal, contract suite,
//! in-memory fakes), [`detect`], [`policy`] (is a resource policy public), [`rules`],
//! [`remediate`], [`events`], [`schemas`] (the JSON Schemas of what is emitted) and [`api`]
//! (the key of one API).

pub mod api;
pub mod detect;
pub mod events;
pub mod ingest;
pub mod log;
pub mod policy;
pub mod remediate;
pub mod rules;
pub mod schemas;
pub mod store;
