//! Frame body compression, as STARTUP negotiates it (spec v4 §5): `lz4` (the body is a 4-byte
//! big-endian uncompressed length followed by one raw LZ4 block) or `snappy` (one raw Snappy
//! block). Decompression is bounded: a body that claims to expand beyond the frame limit is
//! refused before anything is allocated for it.

use bytes::{BufMut, Bytes, BytesMut};

/// The body compression of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Bodies as they are (before STARTUP, and after a STARTUP without COMPRESSION).
    #[default]
    None,
    /// LZ4 with Cassandra's 4-byte length prefix.
    Lz4,
    /// Snappy.
    Snappy,
}

/// The algorithms SUPPORTED lists, in STARTUP's spelling.
pub const SUPPORTED_COMPRESSION: [&str; 2] = ["lz4", "snappy"];

impl Compression {
    /// The algorithm STARTUP's `COMPRESSION` value names (case-insensitive, as Cassandra
    /// reads it); `None` for a name this node does not speak.
    pub fn from_startup(name: &str) -> Option<Compression> {
        match name.to_ascii_lowercase().as_str() {
            "lz4" => Some(Compression::Lz4),
            "snappy" => Some(Compression::Snappy),
            _ => None,
        }
    }

    /// Compress `body` onto the end of `out` (an error only for a body over 4 GiB, which no
    /// frame reaches).
    pub fn compress_into(self, body: &[u8], out: &mut BytesMut) -> Result<(), String> {
        let start = out.len();
        let written = match self {
            Compression::None => {
                out.extend_from_slice(body);
                return Ok(());
            }
            Compression::Lz4 => {
                let length = u32::try_from(body.len())
                    .map_err(|_| format!("a body of {} bytes is too large", body.len()))?;
                out.put_u32(length);
                out.resize(
                    start + 4 + lz4_flex::block::get_maximum_output_size(body.len()),
                    0,
                );
                lz4_flex::block::compress_into(body, &mut out[start + 4..])
                    .map(|n| 4 + n)
                    .map_err(|e| e.to_string())
            }
            Compression::Snappy => {
                out.resize(start + snap::raw::max_compress_len(body.len()), 0);
                snap::raw::Encoder::new()
                    .compress(body, &mut out[start..])
                    .map_err(|e| e.to_string())
            }
        };
        match written {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(format!("cannot compress a response body: {e}"))
            }
        }
    }

    /// Decompress a request body, refusing one that would expand beyond `limit` bytes.
    pub fn decompress(self, body: &Bytes, limit: usize) -> Result<Bytes, String> {
        match self {
            Compression::None => Ok(body.clone()),
            Compression::Lz4 => {
                let Some((prefix, block)) = body.split_first_chunk::<4>() else {
                    return Err("lz4 body shorter than its 4-byte length".to_string());
                };
                let length = u32::from_be_bytes(*prefix) as usize;
                if length > limit {
                    return Err(format!(
                        "lz4 body claims {length} uncompressed bytes, more than the frame limit of {limit}"
                    ));
                }
                let mut out = vec![0; length];
                match lz4_flex::block::decompress_into(block, &mut out) {
                    Ok(written) if written == length => Ok(Bytes::from(out)),
                    Ok(written) => Err(format!(
                        "lz4 body decompressed to {written} bytes, not the {length} it claims"
                    )),
                    Err(e) => Err(format!("corrupt lz4 body: {e}")),
                }
            }
            Compression::Snappy => {
                let length = snap::raw::decompress_len(body)
                    .map_err(|e| format!("corrupt snappy body: {e}"))?;
                if length > limit {
                    return Err(format!(
                        "snappy body claims {length} uncompressed bytes, more than the frame limit of {limit}"
                    ));
                }
                let mut out = vec![0; length];
                match snap::raw::Decoder::new().decompress(body, &mut out) {
                    Ok(written) => {
                        out.truncate(written);
                        Ok(Bytes::from(out))
                    }
                    Err(e) => Err(format!("corrupt snappy body: {e}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(compression: Compression, body: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        compression.compress_into(body, &mut out).unwrap();
        let out = out.freeze();
        assert_eq!(
            compression.decompress(&out, body.len()).unwrap(),
            body,
            "{compression:?}"
        );
        out
    }

    #[test]
    fn lz4_and_snappy_round_trip_every_size() {
        let text: Vec<u8> = b"SELECT * FROM system.local WHERE key='local' "
            .iter()
            .cycle()
            .take(10_000)
            .copied()
            .collect();
        for len in [0, 1, 17, 1000, 10_000] {
            for compression in [Compression::None, Compression::Lz4, Compression::Snappy] {
                round_trip(compression, &text[..len]);
            }
        }
        let packed = round_trip(Compression::Lz4, &text);
        assert!(packed.len() < 1000, "{}", packed.len());
        assert_eq!(&packed[..4], &10_000u32.to_be_bytes(), "the length prefix");
    }

    #[test]
    fn a_body_claiming_more_than_the_limit_is_refused_unread() {
        let mut lz4 = BytesMut::new();
        Compression::Lz4.compress_into(&[7; 100], &mut lz4).unwrap();
        let err = Compression::Lz4.decompress(&lz4.freeze(), 99).unwrap_err();
        assert!(err.contains("100") && err.contains("99"), "{err}");
        // Five bytes claiming 4 GiB.
        let bomb = Bytes::from_static(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00]);
        assert!(Compression::Lz4.decompress(&bomb, 1 << 20).is_err());

        let mut snappy = BytesMut::new();
        Compression::Snappy
            .compress_into(&[7; 100], &mut snappy)
            .unwrap();
        let err = Compression::Snappy
            .decompress(&snappy.freeze(), 99)
            .unwrap_err();
        assert!(err.contains("100"), "{err}");
    }

    #[test]
    fn corrupt_bodies_are_errors() {
        let lz4_lies = Bytes::from_static(&[0, 0, 0, 10, 0x10, b'a']);
        assert!(Compression::Lz4.decompress(&lz4_lies, 1024).is_err());
        assert!(Compression::Lz4
            .decompress(&Bytes::from_static(&[0, 0]), 1024)
            .is_err());
        let snappy_garbage = Bytes::from_static(&[0x05, 0xFF, 0xFF]);
        assert!(Compression::Snappy
            .decompress(&snappy_garbage, 1024)
            .is_err());
    }

    #[test]
    fn startup_names_are_case_insensitive() {
        assert_eq!(Compression::from_startup("LZ4"), Some(Compression::Lz4));
        assert_eq!(
            Compression::from_startup("snappy"),
            Some(Compression::Snappy)
        );
        assert_eq!(Compression::from_startup("zstd"), None);
        for name in SUPPORTED_COMPRESSION {
            assert!(Compression::from_startup(name).is_some());
        }
    }
}
