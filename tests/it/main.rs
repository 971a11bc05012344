//! trailsight's integration tests, one binary: the real AWS SDK adapters and Lambda handlers
//! against the moto server (started by `scripts/with-moto.sh`, `make integration`), the real
//! Lambda binary under `cargo lambda watch`, and the SAM template against the code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod adversary;
mod backfill;
mod backfill_worker;
mod deny;
mod exposure;
mod ingest;
mod notifications;
mod remediate;
mod store;
