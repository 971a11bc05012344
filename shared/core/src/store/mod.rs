//! State and delivery behind the ports: the port traits and the types they exchange
//! ([`ports`]), the journal and checkpoints a journaling store keeps ([`journal`]), the contract
//! suite every store passes ([`contract`], feature `contract-tests`), the in-memory fakes
//! ([`memory`], feature `testing`) and a store wrapper that lets tests and tools step in around
//! loads and commits ([`hooked`], feature `testing`).

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
#[cfg(any(test, feature = "testing"))]
pub mod hooked;
pub mod journal;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod ports;
