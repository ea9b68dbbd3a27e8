//! Cassandra's Murmur3Partitioner tokens, bit for bit: the first 64 bits of MurmurHash3
//! x64-128 (seed 0) with Cassandra's sign-extended tail bytes, the empty key at the ring's
//! minimum and a computed minimum moved to the maximum (kv.md §2.1). Composite partition keys
//! are hashed over their CompositeType encoding ([`composite_key`]).
//!
//! The `murmur3` crate implements the reference algorithm (unsigned tail bytes) and gives other
//! tokens for keys whose tail holds a byte ≥ 0x80, so it is not used.

/// The ring's minimum token: never a key's token, only the start of the ring.
pub const MIN_TOKEN: i64 = i64::MIN;

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// The first 64 bits of Cassandra's `MurmurHash.hash3_x64_128(key, 0)`.
fn hash3_x64_128_h1(key: &[u8]) -> i64 {
    let (mut h1, mut h2) = (0u64, 0u64);
    let blocks = key.chunks_exact(16);
    let tail = blocks.remainder();
    for block in blocks {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(&block[..8]);
        let k1 = u64::from_le_bytes(lane);
        lane.copy_from_slice(&block[8..]);
        let k2 = u64::from_le_bytes(lane);
        h1 ^= mix_k1(k1);
        h1 = h1.rotate_left(27).wrapping_add(h2);
        h1 = h1.wrapping_mul(5).wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(k2);
        h2 = h2.rotate_left(31).wrapping_add(h1);
        h2 = h2.wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    // Cassandra reads tail bytes as Java bytes: sign-extended to 64 bits before the shift.
    let lane = |bytes: &[u8]| {
        bytes.iter().enumerate().fold(0u64, |acc, (i, &b)| {
            acc ^ ((i64::from(b as i8) as u64) << (i * 8))
        })
    };
    if tail.len() > 8 {
        h2 ^= mix_k2(lane(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(lane(&tail[..tail.len().min(8)]));
    }
    let len = key.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h1 as i64
}

/// The Murmur3Partitioner token of a partition key's bytes (the serialized value for a
/// single-column key, [`composite_key`] for a composite one).
pub fn token(key: &[u8]) -> i64 {
    if key.is_empty() {
        return MIN_TOKEN;
    }
    match hash3_x64_128_h1(key) {
        i64::MIN => i64::MAX,
        t => t,
    }
}

/// The CompositeType encoding of a composite partition key's components: for each, its length
/// (u16, big-endian), its bytes and an end-of-component byte 0.
pub fn composite_key<'a>(components: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for c in components {
        let len = u16::try_from(c.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&c[..usize::from(len)]);
        out.push(0);
    }
    out
}

/// The components of a CompositeType-encoded key, or `None` if the bytes are not one.
pub fn split_composite_key(mut key: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !key.is_empty() {
        let (len, rest) = key.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len + 1 {
            return None;
        }
        out.push(&rest[..len]);
        key = &rest[len + 1..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Every row of the vector file (`vectors/murmur3_tokens.tsv`).
    #[test]
    fn tokens_match_every_shared_vector() {
        let text = include_str!("../../vectors/murmur3_tokens.tsv");
        let mut rows = 0;
        for line in text.lines() {
            if line.starts_with('#') || line.starts_with("key_hex") || line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('\t');
            let key = unhex(fields.next().unwrap());
            let want: i64 = fields.next().unwrap().parse().unwrap();
            let what = fields.next().unwrap_or("");
            assert_eq!(token(&key), want, "{what}");
            rows += 1;
        }
        assert!(rows >= 24, "only {rows} vectors read");
    }

    #[test]
    fn empty_key_is_the_ring_minimum() {
        assert_eq!(token(&[]), i64::MIN);
    }

    #[test]
    fn composite_keys_encode_and_split() {
        let key = composite_key([&[0u8, 0, 0, 1][..], b"a"]);
        assert_eq!(key, unhex("0004000000010000016100"));
        assert_eq!(token(&key), 6516349416904725244);
        assert_eq!(
            split_composite_key(&key).unwrap(),
            vec![&[0u8, 0, 0, 1][..], b"a"]
        );
        assert!(split_composite_key(&[0, 5, 1]).is_none());
    }
}
