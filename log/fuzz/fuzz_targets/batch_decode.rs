//! Fuzz target: the input is a record set as a Produce request or a segment read would carry it.
//! Split it into batches and, for each valid one, walk its records (decompressing with a small
//! limit) through every validation path. Then repair the input's `batchLength`, magic and CRC and
//! do the same to it as one batch, so mutations reach the record parser and the codecs instead of
//! dying at the CRC check. Nothing may panic, hang or allocate without bound.
#![no_main]

use bytes::Bytes;
use fastdata_log::batch::{compute_crc, split_batches, RecordBatch, CRC_OFFSET, LOG_OVERHEAD};
use libfuzzer_sys::fuzz_target;

/// Small, so hostile compressed payloads hit the limit quickly.
const LIMIT: usize = 64 * 1024;

fn check(batch: &RecordBatch) {
    let checked = batch.validate_records(LIMIT);
    let _ = batch.validate_client_records(LIMIT);
    match batch.records(LIMIT) {
        Ok(records) => {
            // Whatever validates must also parse, with the count the header claims.
            assert!(checked.is_ok());
            assert_eq!(records.len(), batch.header().records_count as usize);
        }
        Err(_) => assert!(checked.is_err()),
    }
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    for batch in split_batches(&bytes) {
        let Ok(batch) = batch else { break };
        check(&batch);
    }

    // The same bytes as one batch with a consistent length, magic and CRC.
    if data.len() >= 61 && data.len() - LOG_OVERHEAD <= i32::MAX as usize {
        let mut fixed = data.to_vec();
        fixed[8..12].copy_from_slice(&((data.len() - LOG_OVERHEAD) as i32).to_be_bytes());
        fixed[16] = 2;
        let crc = compute_crc(&fixed);
        fixed[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        if let Ok(batch) = RecordBatch::validate(Bytes::from(fixed)) {
            check(&batch);
        }
    }
});
