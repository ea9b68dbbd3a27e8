//! The Java client's default partitioner, so keyed records land where a Java producer puts
//! them: `toPositive(murmur2(key)) % partitions`, and sticky partitioning (KIP-480) for records
//! without a key.
//!
//! [`murmur2`] is `org.apache.kafka.common.utils.Utils.murmur2` (seed `0x9747b28c`, the
//! little-endian 4-byte reads and the fall-through tail of the Java code); [`partition_for_key`]
//! masks the sign bit as `Utils.toPositive` does. `StickyPartitions` keeps one partition per
//! topic for keyless records and moves to another, chosen at random among the partitions with a
//! leader, each time a batch for it is closed.

use std::collections::HashMap;

use rand::Rng;

/// Kafka's murmur2 hash of `data`, exactly as the Java client computes it.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let length = data.len();
    // Java's `int length` wraps the same way for arrays over 2 GiB, which Java cannot have.
    let mut h = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// `Utils.toPositive`: the sign bit cleared (not `abs`, which overflows on `i32::MIN`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client's default partitioner picks for `key` among `partitions`
/// partitions (all of them, available or not). `partitions` must be positive.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    debug_assert!(partitions > 0);
    to_positive(murmur2(key)) % partitions.max(1)
}

/// The sticky partition of each topic for records without a key.
#[derive(Debug, Default)]
pub(crate) struct StickyPartitions {
    current: HashMap<String, i32>,
}

impl StickyPartitions {
    /// The topic's sticky partition, choosing one if it has none (or the topic shrank).
    /// `available` lists partitions with a leader (called only to choose); `partitions` is the
    /// topic's count.
    pub(crate) fn partition(
        &mut self,
        topic: &str,
        partitions: i32,
        available: &dyn Fn() -> Vec<i32>,
    ) -> i32 {
        if let Some(&p) = self.current.get(topic) {
            if p < partitions {
                return p;
            }
        }
        let p = choose(partitions, &available(), None);
        self.current.insert(topic.to_owned(), p);
        p
    }

    /// A batch for `previous` was closed: move the topic to another partition (KIP-480's
    /// `onNewBatch`). Only moves if `previous` is still the sticky one.
    pub(crate) fn next(
        &mut self,
        topic: &str,
        previous: i32,
        partitions: i32,
        available: &dyn Fn() -> Vec<i32>,
    ) {
        if self.current.get(topic) == Some(&previous) {
            let p = choose(partitions, &available(), Some(previous));
            self.current.insert(topic.to_owned(), p);
        }
    }
}

/// A random partition among `available` (else among all), other than `avoid` when there is a
/// choice.
fn choose(partitions: i32, available: &[i32], avoid: Option<i32>) -> i32 {
    let mut rng = rand::thread_rng();
    let candidates: Vec<i32> = if available.is_empty() {
        (0..partitions.max(1)).collect()
    } else {
        available.to_vec()
    };
    if candidates.len() == 1 {
        return candidates[0];
    }
    loop {
        let p = candidates[rng.gen_range(0..candidates.len())];
        if Some(p) != avoid {
            return p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_clients_utils_test_vectors() {
        // org.apache.kafka.common.utils.UtilsTest#testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn keyed_partition_masks_the_sign_bit_like_to_positive() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
        // murmur2("foobar") = -790332482 → toPositive = 1357151166.
        assert_eq!(to_positive(murmur2(b"foobar")), 1_357_151_166);
        assert_eq!(partition_for_key(b"foobar", 8), 1_357_151_166 % 8);
        assert_eq!(
            partition_for_key(b"21", 10),
            (-973_932_308i32 & 0x7fff_ffff) % 10
        );
        // The same key always lands on the same partition, whatever else was sent.
        for _ in 0..3 {
            assert_eq!(partition_for_key(b"abc", 3), 479_470_107 % 3);
        }
    }

    #[test]
    fn sticky_partition_holds_until_its_batch_closes() {
        let mut sticky = StickyPartitions::default();
        let available: Vec<i32> = (0..8).collect();
        let first = sticky.partition("t", 8, &|| available.clone());
        for _ in 0..10 {
            assert_eq!(sticky.partition("t", 8, &|| available.clone()), first);
        }
        sticky.next("t", first, 8, &|| available.clone());
        let second = sticky.partition("t", 8, &|| available.clone());
        assert_ne!(second, first, "a closed batch moves the topic elsewhere");
        // A stale notification (for a partition no longer sticky) changes nothing.
        sticky.next("t", first, 8, &|| available.clone());
        assert_eq!(sticky.partition("t", 8, &|| available.clone()), second);
    }

    #[test]
    fn sticky_partition_prefers_partitions_with_a_leader() {
        let mut sticky = StickyPartitions::default();
        for _ in 0..20 {
            let p = sticky.partition("t", 4, &|| vec![2]);
            assert_eq!(p, 2);
            sticky.next("t", p, 4, &|| vec![2]);
        }
        // With no leader anywhere, any partition will do.
        let p = sticky.partition("u", 4, &Vec::new);
        assert!((0..4).contains(&p));
    }

    #[test]
    fn sticky_choices_spread_over_the_partitions() {
        let mut sticky = StickyPartitions::default();
        let available: Vec<i32> = (0..4).collect();
        let mut seen = [0u32; 4];
        let mut p = sticky.partition("t", 4, &|| available.clone());
        for _ in 0..400 {
            seen[p as usize] += 1;
            sticky.next("t", p, 4, &|| available.clone());
            p = sticky.partition("t", 4, &|| available.clone());
        }
        assert!(seen.iter().all(|&n| n > 40), "{seen:?}");
    }
}
