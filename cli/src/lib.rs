//! The `trailsight` command's library: argument parsing, the replay and its local adapters
//! (files, the embedded store, output), and the HTML report. The binary (`main.rs`) only
//! parses arguments and runs them; tools and examples reuse the parts.

pub mod args;
#[cfg(feature = "aws")]
pub mod backfill;
pub mod config;
pub mod engine;
pub mod files;
pub mod order;
pub mod output;
pub mod replay;
pub mod report;
pub mod run;
#[cfg(feature = "aws")]
pub mod setup;
pub mod store;
