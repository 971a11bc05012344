//! State and delivery behind the ports: the port traits and the types they exchange
//! ([`ports`]), the journal and checkpoints a journaling store keeps ([`journal`]), the contract
//! suite every store passes ([`contract`], feature `contract-tests`) and the in-memory fakes
//! ([`memory`], feature `testing`).

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
pub mod journal;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod ports;
