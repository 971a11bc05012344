//! The organization's traffic mix: most accounts of an organization are quiet (sandboxes,
//! parked and security accounts), a few carry its workloads. Each account belongs to a class
//! with a volume (trafficgen's rate scale: 1 is the typical account of `make bench-ingest`,
//! about 600 records per 5-minute file in its home region), and its regions carry a falling
//! share of it: the home region all of it, the others a quarter and a tenth.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A class of accounts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Class {
    /// Its name in the report.
    pub name: &'static str,
    /// Accounts of the class per 1,000.
    pub per_mille: u32,
    /// Volume in the home region (trafficgen's rate scale).
    pub rate_scale: f64,
}

/// The classes, quietest first. The busiest account is one of its own, as busy as the busy
/// account of `make bench-ingest` (about 20,000 records per file).
pub const CLASSES: [Class; 5] = [
    Class { name: "quiet", per_mille: 700, rate_scale: 0.02 },
    Class { name: "light", per_mille: 200, rate_scale: 0.1 },
    Class { name: "typical", per_mille: 80, rate_scale: 1.0 },
    Class { name: "busy", per_mille: 19, rate_scale: 8.0 },
    Class { name: "busiest", per_mille: 1, rate_scale: 33.0 },
];

/// Share of an account's volume in its first, second, third and further regions.
pub const REGION_WEIGHTS: [f64; 4] = [1.0, 0.25, 0.1, 0.1];

/// One account and region of the organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Index into [`CLASSES`].
    pub class: usize,
    /// trafficgen's rate scale for this stream (the class's, times the region's weight).
    pub rate_scale: f64,
}

/// The streams of `accounts` accounts over `regions`: each class's share of the accounts
/// (at least one account for a class with any share, rounding the quiet class down), the
/// classes shuffled over the account ids by `seed`.
pub fn streams(accounts: u32, regions: &[String], seed: u64) -> Vec<Stream> {
    let mut classes: Vec<usize> = Vec::with_capacity(accounts as usize);
    for (i, c) in CLASSES.iter().enumerate().skip(1) {
        let n = (u64::from(accounts) * u64::from(c.per_mille) / 1000).max(1);
        classes.extend(std::iter::repeat_n(i, n as usize));
    }
    classes.truncate(accounts as usize);
    classes.resize(accounts as usize, 0);
    classes.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut out = Vec::with_capacity(classes.len() * regions.len());
    for (a, class) in classes.into_iter().enumerate() {
        let account = trailsight_trafficgen::gen::account_id(u32::try_from(a).unwrap_or(u32::MAX));
        for (r, region) in regions.iter().enumerate() {
            let weight = REGION_WEIGHTS[r.min(REGION_WEIGHTS.len() - 1)];
            out.push(Stream {
                account: account.clone(),
                region: region.clone(),
                class,
                rate_scale: CLASSES[class].rate_scale * weight,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_accounts_split_into_the_classes_shares_over_every_region() {
        // Given 1,000 accounts over four regions
        let regions: Vec<String> = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"].map(String::from).to_vec();
        // When the organization's streams are drawn
        let streams = streams(1000, &regions, 7);
        // Then there are 4,000, and each class has its share of the accounts
        assert_eq!(streams.len(), 4000);
        let accounts_of = |c: usize| streams.iter().filter(|s| s.class == c && s.region == "us-east-1").count();
        assert_eq!((0..CLASSES.len()).map(accounts_of).collect::<Vec<_>>(), vec![700, 200, 80, 19, 1]);
        // And a region's volume is the class's times the region's weight
        let busiest: Vec<f64> = streams.iter().filter(|s| s.class == 4).map(|s| s.rate_scale).collect();
        assert_eq!(busiest, vec![33.0, 8.25, 3.3000000000000003, 3.3000000000000003]);
    }

    #[test]
    fn a_small_organization_still_has_one_account_of_each_busy_class() {
        // Given 10 accounts in one region, then the busiest, busy and typical classes have one
        // each, the light class its share (two), and the rest are quiet
        let streams = streams(10, &["us-east-1".to_owned()], 1);
        let mut classes: Vec<usize> = streams.iter().map(|s| s.class).collect();
        classes.sort_unstable();
        assert_eq!(classes, vec![0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
    }
}
