//! trafficgen as a library: the simulated account ([`profile`]), the trail writer ([`gen`],
//! including [`gen::benign_file`], one stream's file in memory, which `bench-org` uses to
//! simulate an organization without writing it to disk) and the scorer ([`score`]). The
//! `trafficgen` binary is its command line.

pub mod gen;
pub mod profile;
pub mod score;
