//! Tests of the batch module: round trips through every codec, corruption and truncation
//! detection, hostile input, stamping, the cleaner's encoder.

use bytes::Bytes;
use proptest::prelude::*;

use super::builder::finish;
use super::varint::write_varint;
use super::*;

const LIMIT: usize = 1 << 20;

type Hdr = (Vec<u8>, Option<Vec<u8>>);
type In = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<Hdr>);

fn build(codec: Compression, input: &[In]) -> Bytes {
    let mut b = BatchBuilder::new(codec).producer(42, 3, 100);
    for (ts, k, v, hs) in input {
        let hs: Vec<(&[u8], Option<&[u8]>)> =
            hs.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
        b.append(*ts, k.as_deref(), v.as_deref(), &hs);
    }
    b.build().unwrap()
}

fn sample(codec: Compression) -> Bytes {
    build(
        codec,
        &[
            (1000, Some(b"k1".to_vec()), Some(b"v1".repeat(20)), vec![]),
            (999, None, Some(b"v2".to_vec()), vec![(b"h".to_vec(), None)]),
            (
                1005,
                Some(b"k3".to_vec()),
                None,
                vec![(b"a".to_vec(), Some(b"b".to_vec()))],
            ),
        ],
    )
}

fn header(codec: Compression, records_count: i32, last_offset_delta: i32) -> BatchHeader {
    BatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: -1,
        magic: MAGIC_V2,
        crc: 0,
        attributes: codec.attribute(),
        last_offset_delta,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count,
    }
}

/// A batch with a valid header and CRC around an arbitrary (uncompressed) records payload.
fn raw_batch(records_count: i32, last_offset_delta: i32, payload: &[u8]) -> RecordBatch {
    let h = header(Compression::None, records_count, last_offset_delta);
    RecordBatch::validate(finish(&h, payload).unwrap()).unwrap()
}

fn record(offset_delta: i32, ts: i64, value: &[u8]) -> Record {
    Record {
        offset_delta,
        timestamp_delta: ts,
        key: Some(Bytes::from(format!("key{offset_delta}"))),
        value: Some(Bytes::copy_from_slice(value)),
        headers: vec![],
    }
}

fn encoded(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        r.encode(&mut out).unwrap();
    }
    out
}

#[test]
fn crc32c_golden() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn builder_header_fields() {
    for codec in Compression::ALL {
        let batch = RecordBatch::validate(sample(codec)).unwrap();
        let h = batch.header();
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.partition_leader_epoch, -1);
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!((h.records_count, h.last_offset_delta), (3, 2));
        assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1005));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, 100)
        );
        assert_eq!(h.last_sequence(), 102);
        assert_eq!(batch.total_size(), h.total_size());
        assert!(!h.is_transactional() && !h.is_control() && !h.has_delete_horizon());
        batch.validate_client_records(LIMIT).unwrap();
        let recs = batch.records(LIMIT).unwrap();
        assert_eq!(recs[1].timestamp(h.base_timestamp), 999);
        assert_eq!(recs[2].offset(h.base_offset), 2);
        assert!(recs[2].is_tombstone());
    }
    let b = BatchBuilder::new(Compression::None).transactional(true);
    assert_eq!(b.build(), Err(BatchError::EmptyBatch));
    let mut b = b;
    b.append(1, None, None, &[]);
    let batch = RecordBatch::validate(b.build().unwrap()).unwrap();
    assert!(batch.header().is_transactional());
    assert!(!batch.header().has_producer_id());
}

#[test]
fn every_flipped_byte_is_detected() {
    for codec in Compression::ALL {
        let good = sample(codec);
        for pos in 0..good.len() {
            let mut bad = good.to_vec();
            bad[pos] ^= 0x5a;
            let result = RecordBatch::validate(Bytes::from(bad));
            match pos {
                // baseOffset and partitionLeaderEpoch sit outside the CRC.
                0..=7 | 12..=15 => assert!(result.is_ok(), "{codec:?} pos {pos}"),
                8..=11 => assert!(
                    matches!(
                        result,
                        Err(BatchError::Truncated { .. }
                            | BatchError::TrailingBytes { .. }
                            | BatchError::InvalidBatchLength(_))
                    ),
                    "{codec:?} pos {pos}: {result:?}"
                ),
                16 => assert!(matches!(result, Err(BatchError::UnsupportedMagic(_)))),
                _ => assert!(
                    matches!(result, Err(BatchError::CrcMismatch { .. })),
                    "{codec:?} pos {pos}: {result:?}"
                ),
            }
        }
    }
}

#[test]
fn every_truncation_is_a_typed_error() {
    for codec in Compression::ALL {
        let good = sample(codec);
        for len in 0..good.len() {
            let cut = good.slice(..len);
            let err = RecordBatch::validate(cut.clone()).unwrap_err();
            assert!(
                matches!(err, BatchError::Truncated { .. }),
                "{len}: {err:?}"
            );
            let mut it = split_batches(&cut);
            if len == 0 {
                assert!(it.next().is_none());
            } else {
                let err = it.next().unwrap().unwrap_err();
                assert!(matches!(err, BatchError::At { position: 0, .. }), "{err:?}");
                assert!(matches!(err.root(), BatchError::Truncated { .. }));
                assert!(it.next().is_none());
            }
        }
    }
}

#[test]
fn header_checks() {
    let good = sample(Compression::None);
    // Extra bytes after one batch.
    let mut long = good.to_vec();
    long.push(0);
    assert!(matches!(
        RecordBatch::validate(Bytes::from(long)),
        Err(BatchError::TrailingBytes { .. })
    ));
    // Negative count, negative lastOffsetDelta, count beyond lastOffsetDelta + 1, codec 5..7.
    let bad = [
        header(Compression::None, -1, 0),
        header(Compression::None, 1, -1),
        header(Compression::None, 3, 1),
    ];
    for h in bad {
        let b = finish(&h, b"").unwrap();
        assert!(RecordBatch::validate(b).is_err(), "{h:?}");
    }
    // A gap (compacted batch) is fine.
    let gap = finish(&header(Compression::None, 1, 9), b"").unwrap();
    assert!(RecordBatch::validate(gap).is_ok());
    for codec in 5..8u8 {
        let mut b = finish(&header(Compression::None, 0, 0), b"")
            .unwrap()
            .to_vec();
        b[22] = codec;
        let crc = compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            RecordBatch::validate(Bytes::from(b)),
            Err(BatchError::UnknownCompression(codec))
        );
    }
}

#[test]
fn stamping_keeps_the_batch_valid() {
    for codec in Compression::ALL {
        let good = sample(codec);
        let mut b = good.to_vec();
        stamp(&mut b, 123_456_789, 17);
        let batch = RecordBatch::validate(Bytes::from(b)).unwrap();
        assert_eq!(batch.header().base_offset, 123_456_789);
        assert_eq!(batch.header().partition_leader_epoch, 17);
        assert_eq!(batch.header().last_offset(), 123_456_791);
        batch.validate_client_records(LIMIT).unwrap();
        let prefix = stamped_prefix(&good, 5, 6);
        let joined = [&prefix[..], &good[CRC_OFFSET..]].concat();
        let batch = RecordBatch::validate(Bytes::from(joined)).unwrap();
        assert_eq!(
            (
                batch.header().base_offset,
                batch.header().partition_leader_epoch
            ),
            (5, 6)
        );
    }
}

#[test]
fn split_batches_walks_and_reports_positions() {
    let parts: Vec<Bytes> = Compression::ALL.iter().map(|c| sample(*c)).collect();
    let all = Bytes::from(parts.concat());
    let batches: Vec<RecordBatch> = split_batches(&all).collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.len(), 5);
    for (b, p) in batches.iter().zip(&parts) {
        assert_eq!(b.bytes(), p);
        assert_eq!(b.compression(), b.header().compression().unwrap());
    }
    // Corrupt the third batch's CRC region: the first two come out, then an error at its position.
    let third = parts[0].len() + parts[1].len();
    let mut bad = all.to_vec();
    bad[third + 40] ^= 1;
    let results: Vec<_> = split_batches(&Bytes::from(bad)).collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok());
    match &results[2] {
        Err(BatchError::At { position, source }) => {
            assert_eq!(*position, third);
            assert!(matches!(**source, BatchError::CrcMismatch { .. }));
        }
        other => panic!("{other:?}"),
    }
    // A batchLength below the minimum stops the walk.
    let mut bad = all.to_vec();
    bad[third + 8..third + 12].copy_from_slice(&10i32.to_be_bytes());
    let results: Vec<_> = split_batches(&Bytes::from(bad)).collect();
    assert_eq!(
        results[2].as_ref().unwrap_err().root(),
        &BatchError::InvalidBatchLength(10)
    );
}

#[test]
fn record_level_faults() {
    let recs = [record(0, 0, b"a"), record(1, 5, b"b")];
    let payload = encoded(&recs);
    raw_batch(2, 1, &payload).validate_records(LIMIT).unwrap();

    // Fewer records than recordsCount.
    assert_eq!(
        raw_batch(3, 2, &payload).validate_records(LIMIT),
        Err(BatchError::RecordCountMismatch {
            expected: 3,
            actual: 2
        })
    );
    // Bytes after the last record.
    let mut extra = payload.clone();
    extra.push(0);
    assert_eq!(
        raw_batch(2, 1, &extra).validate_records(LIMIT),
        Err(BatchError::TrailingRecordBytes { count: 1 })
    );
    // offsetDelta beyond lastOffsetDelta, repeated, or decreasing.
    for deltas in [[0, 5], [1, 1], [1, 0], [-1, 0]] {
        let p = encoded(&[record(deltas[0], 0, b"a"), record(deltas[1], 0, b"b")]);
        let err = raw_batch(2, 3, &p).validate_records(LIMIT).unwrap_err();
        assert!(
            matches!(err, BatchError::InvalidRecord { .. }),
            "{deltas:?}: {err:?}"
        );
        assert!(raw_batch(2, 3, &p).records(LIMIT).is_err());
    }
    // A gap is fine for validate_records, not for a client batch.
    let gap = encoded(&[record(0, 0, b"a"), record(2, 0, b"b")]);
    raw_batch(2, 2, &gap).validate_records(LIMIT).unwrap();
    assert!(matches!(
        raw_batch(2, 2, &gap).validate_client_records(LIMIT),
        Err(BatchError::InvalidClientBatch(_))
    ));
    let gap = encoded(&[record(0, 0, b"a"), record(2, 0, b"b")]);
    assert_eq!(
        raw_batch(2, 1, &gap)
            .validate_client_records(LIMIT)
            .unwrap_err(),
        BatchError::ClientOffsetDelta {
            index: 1,
            expected: 1,
            actual: 2
        }
    );
    // Hostile lengths inside a record: key length, header count, record length.
    let mut p = Vec::new();
    let mut body = vec![0u8, 0, 0]; // attributes, timestampDelta 0, offsetDelta 0
    write_varint(&mut body, 1_000_000); // key length far past the end
    write_varint(&mut p, body.len() as i32);
    p.extend_from_slice(&body);
    assert!(matches!(
        raw_batch(1, 0, &p).validate_records(LIMIT),
        Err(BatchError::InvalidRecord { index: 0, .. })
    ));
    let mut p = Vec::new();
    let mut body = vec![0u8, 0, 0, 1, 1]; // null key, null value
    write_varint(&mut body, i32::MAX); // headers count
    write_varint(&mut p, body.len() as i32);
    p.extend_from_slice(&body);
    assert!(raw_batch(1, 0, &p).records(LIMIT).is_err());
    let mut p = Vec::new();
    write_varint(&mut p, i32::MAX);
    assert!(raw_batch(1, 0, &p).records(LIMIT).is_err());
    // A null header key is invalid.
    let mut p = Vec::new();
    let mut body = vec![0u8, 0, 0, 1, 1, 2, 1, 1]; // one header, key length -1, value -1
    write_varint(&mut p, body.len() as i32);
    p.append(&mut body);
    assert!(raw_batch(1, 0, &p).records(LIMIT).is_err());
}

#[test]
fn client_rules() {
    // Control batch.
    let mut h = header(Compression::None, 1, 0);
    h.attributes |= super::header::attributes::CONTROL;
    let b = RecordBatch::validate(finish(&h, &encoded(&[record(0, 0, b"")])).unwrap()).unwrap();
    b.validate_records(LIMIT).unwrap();
    assert!(b.validate_client_records(LIMIT).is_err());
    // Producer id without a base sequence.
    let mut h = header(Compression::None, 1, 0);
    h.producer_id = 5;
    let b = RecordBatch::validate(finish(&h, &encoded(&[record(0, 0, b"")])).unwrap()).unwrap();
    assert!(b.validate_client_records(LIMIT).is_err());
    // Empty batch.
    let b = raw_batch(0, 0, b"");
    b.validate_records(LIMIT).unwrap();
    assert!(b.validate_client_records(LIMIT).is_err());
}

#[test]
fn decompression_limit_applies() {
    let big = vec![7u8; 100_000];
    for codec in Compression::ALL.into_iter().skip(1) {
        let mut b = BatchBuilder::new(codec);
        b.append(0, None, Some(&big), &[]);
        let batch = RecordBatch::validate(b.build().unwrap()).unwrap();
        assert!(batch.total_size() < 10_000, "{codec:?} compresses");
        assert_eq!(
            batch.validate_records(50_000),
            Err(BatchError::DecompressedTooLarge { limit: 50_000 })
        );
        batch.validate_records(200_000).unwrap();
    }
}

#[test]
fn xerial_snappy_batch_from_a_hand_built_frame() {
    let recs = [record(0, 0, b"java"), record(1, 1, b"client")];
    let payload = encoded(&recs);
    let (a, b) = payload.split_at(5);
    let mut frame = XERIAL_MAGIC.to_vec();
    frame.extend_from_slice(&1i32.to_be_bytes());
    frame.extend_from_slice(&1i32.to_be_bytes());
    for part in [a, b] {
        let block = snap::raw::Encoder::new().compress_vec(part).unwrap();
        frame.extend_from_slice(&(block.len() as i32).to_be_bytes());
        frame.extend_from_slice(&block);
    }
    // Assemble by hand: header with codec snappy around the frame.
    let h = header(Compression::Snappy, 2, 1);
    let mut bytes = finish(&header(Compression::None, 2, 1), b"")
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(&frame);
    let len = (bytes.len() - LOG_OVERHEAD) as i32;
    bytes[8..12].copy_from_slice(&len.to_be_bytes());
    bytes[21..23].copy_from_slice(&h.attributes.to_be_bytes());
    let crc = compute_crc(&bytes);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    let batch = RecordBatch::validate(Bytes::from(bytes)).unwrap();
    assert_eq!(batch.records(LIMIT).unwrap(), recs);
}

#[test]
fn cleaner_encoder_keeps_the_template() {
    for codec in Compression::ALL {
        let original = RecordBatch::validate(sample(codec)).unwrap();
        let mut template = *original.header();
        template.base_offset = 1000;
        template.partition_leader_epoch = 4;
        let kept: Vec<Record> = original
            .records(LIMIT)
            .unwrap()
            .into_iter()
            .filter(|r| r.offset_delta != 1)
            .collect();
        let out = RecordBatch::validate(encode_batch(&template, &kept).unwrap()).unwrap();
        let h = out.header();
        assert_eq!(h.records_count, 2);
        assert_eq!(h.last_offset_delta, template.last_offset_delta);
        assert_eq!(h.base_offset, 1000);
        assert_eq!(h.partition_leader_epoch, 4);
        assert_eq!(h.max_timestamp, template.max_timestamp);
        assert_eq!(h.base_timestamp, template.base_timestamp);
        assert_eq!(h.attributes, template.attributes);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, 100)
        );
        out.validate_records(LIMIT).unwrap();
        assert_eq!(out.records(LIMIT).unwrap(), kept);

        // Delete horizon: bit 6 set, base timestamp = horizon, absolute timestamps unchanged.
        let horizon = 5_000_000;
        let out = RecordBatch::validate(
            encode_batch_with_delete_horizon(&template, &kept, horizon).unwrap(),
        )
        .unwrap();
        assert!(out.header().has_delete_horizon());
        assert_eq!(out.header().base_timestamp, horizon);
        assert_eq!(out.compression(), codec);
        let ts: Vec<i64> = out
            .records(LIMIT)
            .unwrap()
            .iter()
            .map(|r| r.timestamp(horizon))
            .collect();
        assert_eq!(ts, vec![1000, 1005]);

        // Empty (all records removed) is allowed; bad deltas are refused.
        let empty = RecordBatch::validate(encode_batch(&template, &[]).unwrap()).unwrap();
        empty.validate_records(LIMIT).unwrap();
        let mut bad = kept.clone();
        bad[1].offset_delta = 99;
        assert!(encode_batch(&template, &bad).is_err());
    }
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn arb_input() -> impl Strategy<Value = Vec<In>> {
    let header = (arb_bytes(8), prop::option::of(arb_bytes(8)));
    let rec = (
        any::<i64>().prop_map(|t| t >> 20),
        prop::option::of(arb_bytes(40)),
        prop::option::of(arb_bytes(300)),
        prop::collection::vec(header, 0..3),
    );
    prop::collection::vec(rec, 1..12)
}

fn arb_codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(codec in arb_codec(), input in arb_input()) {
        let bytes = build(codec, &input);
        let batch = RecordBatch::validate(bytes).unwrap();
        batch.validate_client_records(LIMIT).unwrap();
        let h = *batch.header();
        prop_assert_eq!(h.max_timestamp, input.iter().map(|r| r.0).max().unwrap());
        let recs = batch.records(LIMIT).unwrap();
        prop_assert_eq!(recs.len(), input.len());
        for (i, (r, (ts, k, v, hs))) in recs.iter().zip(&input).enumerate() {
            prop_assert_eq!(r.offset(h.base_offset), i as i64);
            prop_assert_eq!(r.timestamp(h.base_timestamp), *ts);
            prop_assert_eq!(r.key.as_deref(), k.as_deref());
            prop_assert_eq!(r.value.as_deref(), v.as_deref());
            let got: Vec<Hdr> = r
                .headers
                .iter()
                .map(|h| (h.key.to_vec(), h.value.as_ref().map(|v| v.to_vec())))
                .collect();
            prop_assert_eq!(&got, hs);
        }
        // The cleaner's encoder reproduces the same records.
        let again = RecordBatch::validate(encode_batch(&h, &recs).unwrap()).unwrap();
        prop_assert_eq!(again.records(LIMIT).unwrap(), recs);
    }

    #[test]
    fn garbage_never_panics(data in arb_bytes(400)) {
        let bytes = Bytes::from(data);
        let _ = RecordBatch::validate(bytes.clone());
        for b in split_batches(&bytes).flatten() {
            let _ = b.validate_records(4096);
            let _ = b.records(4096);
        }
    }

    /// Garbage behind a valid header and CRC, so the record parser and the codecs see it.
    #[test]
    fn garbage_payload_never_panics(
        codec in arb_codec(),
        count in 0i32..6,
        payload in arb_bytes(300),
    ) {
        let b = finish(&header(codec, count, 8), &payload).unwrap();
        let batch = RecordBatch::validate(b).unwrap();
        let _ = batch.validate_records(4096);
        let _ = batch.validate_client_records(4096);
        let _ = batch.records(4096);
        // Also with the payload stored as-is under a compression attribute.
        let mut raw = finish(&header(Compression::None, count, 8), &payload).unwrap().to_vec();
        raw[22] = codec.attribute() as u8;
        let crc = compute_crc(&raw);
        raw[17..21].copy_from_slice(&crc.to_be_bytes());
        let batch = RecordBatch::validate(Bytes::from(raw)).unwrap();
        let _ = batch.records(4096);
    }

    #[test]
    fn truncated_records_are_errors(codec in arb_codec(), input in arb_input(), cut in any::<prop::sample::Index>()) {
        let batch = RecordBatch::validate(build(codec, &input)).unwrap();
        let payload = batch.decompressed_records(LIMIT).unwrap();
        let len = cut.index(payload.len());
        let h = header(Compression::None, input.len() as i32, input.len() as i32 - 1);
        let short = RecordBatch::validate(finish(&h, &payload[..len]).unwrap()).unwrap();
        prop_assert!(short.validate_records(LIMIT).is_err());
        prop_assert!(short.records(LIMIT).is_err());
    }
}

/// Writes the fuzz seed corpus (one valid batch per codec, plus all five concatenated) to
/// `log/fuzz/seeds/batch_decode/`. Run with `cargo test -p fastdata-log write_fuzz_seeds --
/// --ignored`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/batch_decode");
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = Vec::new();
    for codec in Compression::ALL {
        let b = sample(codec);
        std::fs::write(dir.join(format!("{}.bin", codec.name())), &b).unwrap();
        all.extend_from_slice(&b);
    }
    std::fs::write(dir.join("all_codecs.bin"), all).unwrap();
}
