//! Kafka's zigzag varints (`varint` for i32, `varlong` for i64), as `ByteUtils` reads and writes
//! them. Readers never panic: they return `None` on a truncated or over-long encoding.

/// Longest encoding of a zigzag i32.
pub const MAX_VARINT_LEN: usize = 5;
/// Longest encoding of a zigzag i64.
pub const MAX_VARLONG_LEN: usize = 10;

/// Read a zigzag varint (i32) from the front of `buf`: the value and the bytes it used.
/// `None` if `buf` ends inside it or it runs past 5 bytes (Kafka's "varint is too long").
pub fn read_varint(buf: &[u8]) -> Option<(i32, usize)> {
    let mut raw: u32 = 0;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        // Bits shifted past 32 are dropped, as in Kafka's `ByteUtils.readVarint`.
        raw |= u32::from(b & 0x7f) << (7 * i as u32);
        if b & 0x80 == 0 {
            return Some((((raw >> 1) as i32) ^ -((raw & 1) as i32), i + 1));
        }
    }
    None
}

/// Read a zigzag varlong (i64) from the front of `buf`: the value and the bytes it used.
/// `None` if `buf` ends inside it or it runs past 10 bytes.
pub fn read_varlong(buf: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARLONG_LEN) {
        raw |= u64::from(b & 0x7f) << (7 * i as u32);
        if b & 0x80 == 0 {
            return Some((((raw >> 1) as i64) ^ -((raw & 1) as i64), i + 1));
        }
    }
    None
}

/// Append the zigzag varint encoding of `value`.
pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    let mut v = ((value << 1) ^ (value >> 31)) as u32;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append the zigzag varlong encoding of `value`.
pub fn write_varlong(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes `write_varint(value)` appends.
pub fn varint_len(value: i32) -> usize {
    let v = ((value << 1) ^ (value >> 31)) as u32;
    (32 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Values from Kafka's ByteUtilsTest.
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, enc) in cases {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out, enc, "encoding {v}");
            assert_eq!(read_varint(enc), Some((v, enc.len())));
            assert_eq!(varint_len(v), enc.len());
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(read_varint(&[]), None);
        assert_eq!(read_varint(&[0x80]), None);
        assert_eq!(read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), None);
        assert_eq!(read_varlong(&[0xff; 11]), None);
        assert_eq!(read_varlong(&[0x80; 3]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn varint_round_trip(v in any::<i32>()) {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            prop_assert_eq!(read_varint(&out), Some((v, out.len())));
        }

        #[test]
        fn varlong_round_trip(v in any::<i64>()) {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            prop_assert_eq!(read_varlong(&out), Some((v, out.len())));
        }
    }
}
