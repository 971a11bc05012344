//! trafficgen: writes realistic CloudTrail log files (being written).
fn main() {}
