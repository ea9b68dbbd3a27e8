//! The records the log crash tests write and check: shared by the `log_writer` child and the
//! tests that kill it, so both sides compute the same values.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// The most records one batch of `log_writer` holds.
pub const MAX_BATCH_RECORDS: u64 = 20;

/// The deterministic value of the record at `offset`: `value-<offset, 12 digits>:` followed by
/// lowercase letters derived from the offset, `len` bytes in all (longer if the prefix is).
pub fn value_for(offset: i64, len: usize) -> Vec<u8> {
    let mut value = format!("value-{offset:012}:").into_bytes();
    let mut i = 0u64;
    while value.len() < len {
        let letter = (offset as u64).wrapping_mul(31).wrapping_add(i * 7) % 26;
        value.push(b'a' + letter as u8);
        i += 1;
    }
    value
}

/// A generator seeded from the environment variable `var` if it holds a number, else from the
/// clock; the seed is printed so a failing run can be repeated.
pub fn seeded_rng(var: &str, test: &str) -> StdRng {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    eprintln!("{test}: {var}={seed}");
    StdRng::seed_from_u64(seed)
}
