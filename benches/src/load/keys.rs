//! Which record an operation touches: YCSB's request distributions. `uniform` picks any of
//! the records with equal chance; `zipfian` makes a few records hot (constant 0.99, ranks
//! scattered over the key space by an FNV-1a hash as YCSB's `ScrambledZipfianGenerator` does,
//! so the hot records are not neighbours); `latest` favours the most recently inserted records
//! (workload D).

use std::str::FromStr;

use rand::Rng;
use rand_distr::{Distribution, Zipf};

/// YCSB's Zipfian constant.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;

/// A request distribution over the record numbers `0..records`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDistribution {
    /// Every record equally likely.
    Uniform,
    /// A few records hot, scattered over the key space.
    Zipfian,
    /// The newest records hottest.
    Latest,
}

impl FromStr for KeyDistribution {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "uniform" => Ok(KeyDistribution::Uniform),
            "zipfian" => Ok(KeyDistribution::Zipfian),
            "latest" => Ok(KeyDistribution::Latest),
            other => Err(format!("{other:?} is not uniform, zipfian or latest")),
        }
    }
}

/// Picks record numbers by a [`KeyDistribution`].
#[derive(Clone, Debug)]
pub struct KeyChooser {
    distribution: KeyDistribution,
    zipf: Zipf<f64>,
}

/// FNV-1a of a number's little-endian bytes (YCSB scatters Zipfian ranks with FNV).
fn fnv1a(n: u64) -> u64 {
    n.to_le_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

impl KeyChooser {
    /// A chooser over `records` records (at least one).
    pub fn new(distribution: KeyDistribution, records: u64) -> KeyChooser {
        let zipf = Zipf::new(records.max(1), ZIPFIAN_CONSTANT)
            .or_else(|_| Zipf::new(1, ZIPFIAN_CONSTANT))
            .expect("a Zipf distribution over one element is valid");
        KeyChooser { distribution, zipf }
    }

    /// A record number below `records` (for `latest`, `records` is the count inserted so far,
    /// and the newest is `records - 1`).
    pub fn choose(&self, records: u64, rng: &mut impl Rng) -> u64 {
        let records = records.max(1);
        match self.distribution {
            KeyDistribution::Uniform => rng.gen_range(0..records),
            KeyDistribution::Zipfian => fnv1a(self.rank(rng)) % records,
            KeyDistribution::Latest => records - 1 - self.rank(rng).min(records - 1),
        }
    }

    /// A Zipfian rank from 0 (the hottest).
    fn rank(&self, rng: &mut impl Rng) -> u64 {
        (self.zipf.sample(rng) as u64).saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn counts(distribution: KeyDistribution, records: u64, draws: usize) -> Vec<u64> {
        let chooser = KeyChooser::new(distribution, records);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = vec![0u64; records as usize];
        for _ in 0..draws {
            let k = chooser.choose(records, &mut rng);
            counts[k as usize] += 1;
        }
        counts
    }

    #[test]
    fn uniform_touches_every_record_about_equally() {
        let c = counts(KeyDistribution::Uniform, 100, 100_000);
        assert!(c.iter().all(|&n| (800..1200).contains(&n)), "{c:?}");
    }

    #[test]
    fn zipfian_makes_few_records_hot_and_scatters_them() {
        let c = counts(KeyDistribution::Zipfian, 1000, 100_000);
        let mut sorted = c.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let top10: u64 = sorted[..10].iter().sum();
        // With s = 0.99 over 1000 ranks, the ten hottest draw about 39% of requests.
        assert!(top10 > 30_000 && top10 < 50_000, "top 10 drew {top10}");
        let hottest = c.iter().position(|&n| n == sorted[0]).unwrap_or(0);
        assert_ne!(hottest, 0, "the hottest record is scattered, not record 0");
    }

    #[test]
    fn latest_favours_the_newest_records() {
        let c = counts(KeyDistribution::Latest, 1000, 100_000);
        assert!(c[999] > c[0] * 50, "newest {} vs oldest {}", c[999], c[0]);
        assert!(c[999] >= *c.iter().max().unwrap_or(&0));
    }

    #[test]
    fn names_parse() {
        assert_eq!("zipfian".parse(), Ok(KeyDistribution::Zipfian));
        assert!("pareto".parse::<KeyDistribution>().is_err());
    }
}
