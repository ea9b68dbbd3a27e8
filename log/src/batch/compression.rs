//! The five codecs of a v2 batch behind one interface. Decompression is bounded: output is read
//! incrementally and stops with [`BatchError::DecompressedTooLarge`] as soon as it would pass the
//! caller's limit, whatever size the compressed stream claims.

use std::io::{Read, Write};

use super::BatchError;

/// The codecs Kafka clients send, by their attribute value (bits 0-2 of `attributes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

/// The magic that opens the xerial snappy framing Java clients write (`SnappyOutputStream`).
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Bytes of the xerial header: magic, version i32, compatible version i32.
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial block, as the Java client writes (32 KiB).
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// The zstd level Kafka producers use by default.
const ZSTD_LEVEL: i32 = 3;
/// Largest zstd window accepted (2^27 = 128 MiB, zstd's own default limit, which zstd-jni and so
/// Kafka also apply). Level 22 producers declare this window even for small batches.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

impl Compression {
    /// All codecs, in attribute order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec for an attribute value (bits 0-2).
    pub fn from_attribute(value: u8) -> Result<Self, BatchError> {
        Ok(match value {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => return Err(BatchError::UnknownCompression(other)),
        })
    }

    /// The attribute value (bits 0-2) of this codec.
    pub fn attribute(self) -> i16 {
        self as i16
    }

    /// Kafka's name for the codec (`compression.type`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Compress `data` as a Kafka client of this codec would: gzip at the default level, snappy in
    /// xerial framing with 32 KiB blocks, an LZ4 frame with independent 64 KiB blocks, zstd level 3.
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>, BatchError> {
        let codec = *self;
        let err = move |e: std::io::Error| BatchError::codec(codec, e);
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 2 + 32),
                    flate2::Compression::default(),
                );
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(err)
            }
            Compression::Snappy => xerial_compress(data),
            Compression::Lz4 => {
                let info = lz4_flex::frame::FrameInfo::new()
                    .block_size(lz4_flex::frame::BlockSize::Max64KB)
                    .block_mode(lz4_flex::frame::BlockMode::Independent);
                let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(
                    info,
                    Vec::with_capacity(data.len() / 2 + 32),
                );
                enc.write_all(data).map_err(err)?;
                enc.finish()
                    .map_err(|e| BatchError::codec(codec, std::io::Error::other(e)))
            }
            Compression::Zstd => zstd::stream::encode_all(data, ZSTD_LEVEL).map_err(err),
        }
    }

    /// Decompress `data`, failing with [`BatchError::DecompressedTooLarge`] if the output would
    /// exceed `limit` bytes. Snappy input may be raw or xerial-framed.
    pub fn decompress(&self, data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
        let codec = *self;
        match self {
            Compression::None => {
                if data.len() > limit {
                    return Err(BatchError::DecompressedTooLarge { limit });
                }
                Ok(data.to_vec())
            }
            Compression::Gzip => {
                read_bounded(codec, flate2::read::MultiGzDecoder::new(data), limit)
            }
            Compression::Snappy => {
                if data.starts_with(&XERIAL_MAGIC) {
                    xerial_decompress(data, limit)
                } else {
                    let mut out = Vec::new();
                    snappy_block(data, limit, &mut out)?;
                    Ok(out)
                }
            }
            Compression::Lz4 => {
                read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data), limit)
            }
            Compression::Zstd => {
                let mut dec = zstd::stream::read::Decoder::new(data)
                    .map_err(|e| BatchError::codec(codec, e))?;
                dec.window_log_max(ZSTD_WINDOW_LOG_MAX)
                    .map_err(|e| BatchError::codec(codec, e))?;
                read_bounded(codec, dec, limit)
            }
        }
    }
}

/// Read all of `reader`, but never more than `limit` bytes.
fn read_bounded(
    codec: Compression,
    reader: impl Read,
    limit: usize,
) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| BatchError::codec(codec, e))?;
    if out.len() > limit {
        return Err(BatchError::DecompressedTooLarge { limit });
    }
    Ok(out)
}

/// Decompress one raw snappy block, appending to `out`; the block's declared length is checked
/// against what `limit` leaves before anything is allocated.
fn snappy_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), BatchError> {
    let err = |e: snap::Error| BatchError::codec(Compression::Snappy, std::io::Error::other(e));
    let len = snap::raw::decompress_len(block).map_err(err)?;
    let start = out.len();
    if len > limit.saturating_sub(start) {
        return Err(BatchError::DecompressedTooLarge { limit });
    }
    out.resize(start + len, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let n = snap::raw::Decoder::new()
        .decompress(block, dst)
        .map_err(err)?;
    out.truncate(start + n);
    Ok(())
}

/// Decode the xerial framing: magic, version and compatible version (i32 BE each, ignored as the
/// Java reader does), then `[length i32 BE, raw snappy block]*` to the end.
fn xerial_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let bad = |what: &str| {
        BatchError::codec(
            Compression::Snappy,
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("xerial: {what}")),
        )
    };
    let mut rest = data
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| bad("short header"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len_bytes, tail) = rest
            .split_at_checked(4)
            .ok_or_else(|| bad("short block length"))?;
        let mut len = [0u8; 4];
        len.copy_from_slice(len_bytes);
        let len =
            usize::try_from(i32::from_be_bytes(len)).map_err(|_| bad("negative block length"))?;
        let (block, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| bad("block past the end"))?;
        snappy_block(block, limit, &mut out)?;
        rest = tail;
    }
    Ok(out)
}

/// Encode as Java's `SnappyOutputStream` does: header (version 1, compatible 1), then each
/// 32 KiB chunk as a length-prefixed raw snappy block.
fn xerial_compress(data: &[u8]) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + data.len() / 2 + 16);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    for chunk in data.chunks(XERIAL_BLOCK_SIZE) {
        let block = enc
            .compress_vec(chunk)
            .map_err(|e| BatchError::codec(Compression::Snappy, std::io::Error::other(e)))?;
        let len = i32::try_from(block.len()).map_err(|_| BatchError::TooLarge("snappy block"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn round_trip_every_codec() {
        let data = sample();
        for codec in Compression::ALL {
            let c = codec.compress(&data).unwrap();
            assert_eq!(codec.decompress(&c, data.len()).unwrap(), data, "{codec:?}");
            assert_eq!(
                codec.decompress(&c, data.len() - 1),
                Err(BatchError::DecompressedTooLarge {
                    limit: data.len() - 1
                }),
                "{codec:?}"
            );
            let empty = codec.compress(&[]).unwrap();
            assert_eq!(codec.decompress(&empty, 0).unwrap(), Vec::<u8>::new());
        }
    }

    #[test]
    fn xerial_hand_built_frame() {
        let a = b"hello hello hello hello, ";
        let b = b"kafka snappy xerial";
        let mut frame = XERIAL_MAGIC.to_vec();
        frame.extend_from_slice(&1i32.to_be_bytes());
        frame.extend_from_slice(&1i32.to_be_bytes());
        for part in [&a[..], &b[..]] {
            let block = snap::raw::Encoder::new().compress_vec(part).unwrap();
            frame.extend_from_slice(&(block.len() as i32).to_be_bytes());
            frame.extend_from_slice(&block);
        }
        let expected = [&a[..], &b[..]].concat();
        let out = Compression::Snappy.decompress(&frame, 1024).unwrap();
        assert_eq!(out, expected);
        // A header with no blocks is an empty payload.
        assert_eq!(
            Compression::Snappy.decompress(&frame[..16], 10).unwrap(),
            b""
        );
        // A block cut short is an error, not a panic.
        assert!(Compression::Snappy
            .decompress(&frame[..frame.len() - 1], 1024)
            .is_err());
        assert!(Compression::Snappy.decompress(&frame[..18], 1024).is_err());
    }

    #[test]
    fn raw_snappy_is_accepted() {
        let data = sample();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            Compression::Snappy.decompress(&raw, data.len()).unwrap(),
            data
        );
        assert_eq!(
            Compression::Snappy.decompress(&raw, 10),
            Err(BatchError::DecompressedTooLarge { limit: 10 })
        );
    }

    #[test]
    fn hostile_declared_sizes_are_bounded() {
        // Raw snappy claiming ~4 GiB of output.
        let lie = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert_eq!(
            Compression::Snappy.decompress(&lie, 1 << 20),
            Err(BatchError::DecompressedTooLarge { limit: 1 << 20 })
        );
        // Garbage in each codec is a typed error.
        for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
            assert!(codec
                .decompress(b"definitely not compressed", 1 << 20)
                .is_err());
        }
    }
}
