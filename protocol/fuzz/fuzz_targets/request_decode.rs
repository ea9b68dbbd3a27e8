//! Fuzz target: untrusted bytes from a Kafka client, through everything the broker runs on them
//! before its own logic. Nothing may panic, hang or allocate without bound, and:
//!
//! 1. The input as a frame payload: `decode_request` returns a request or a typed error. A
//!    request survives `encode_request` and decodes again to the same value (so nothing was
//!    dropped or invented), with one tolerated exception: `kafka-protocol` 0.18.0 drops tagged
//!    fields whose tag is above `i32::MAX` when it re-encodes (it stores them under negative
//!    keys and writes only keys from 0 up, while still counting them), so when the decoded
//!    request holds such a tag, anywhere, a re-decode that fails or differs is accepted (the
//!    re-encoded frame must still be one whole frame). The broker never
//!    re-encodes a request; the ignored test `tagged_fields_above_i32_max_survive_a_round_trip`
//!    in `protocol/src/kafka/request.rs` keeps the bug on record.
//! 2. The input framed (length prefix added) and fed to `FrameDecoder` in two chunks split where
//!    the input says: the decoder yields exactly the payload, once.
//! 3. The input as a raw stream: `FrameDecoder` (small limit) takes frames off it until it needs
//!    more bytes or errs (negative or oversized lengths), and each frame is decoded.
//!
//! An ApiVersions request at an unserved version must still be answerable (the v0 fallback).
//!
//! The target installs the allocator the broker installs ([`LazyHugeAllocator`], with a lower
//! threshold, see [`ALLOCATOR`]): without it, any huge array count (`kafka-protocol` allocates
//! it before reading an element) is reported as out-of-memory; with it, such a count costs a
//! lazy mapping and the decode fails when the frame runs out, as in the broker.
#![no_main]

use bytes::{BufMut, Bytes, BytesMut};
use fastdata_protocol::alloc::LazyHugeAllocator;
use fastdata_protocol::kafka::{
    api_versions_response, decode_request, encode_request, encode_response, FrameDecoder, Request,
};
use fastdata_protocol::kafka_protocol::messages::ApiKey;
use fastdata_protocol::ProtocolError;
use libfuzzer_sys::fuzz_target;

/// The broker's allocator with a lower threshold. Under AddressSanitizer a freed allocation of
/// the system allocator has its shadow memory (an eighth of its size) written, to catch use
/// after free, so a hostile count just under the broker's 1 GiB threshold, free in the broker
/// (glibc maps it lazily and nothing touches it), would cost the fuzzer a memset of up to
/// 128 MiB per input. From 16 MiB up, far above what any input of this target legitimately
/// allocates, counts take the lazy-mapping path instead.
#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator::with_threshold(16 << 20);

const LIMIT: usize = 64 * 1024;

/// Whether `request` holds an unknown tagged field with a tag above `i32::MAX`, which
/// `kafka-protocol` keeps under a negative key. Every message struct derives `Debug` and prints
/// its map as `unknown_tagged_fields: {...}`, whose keys are sorted, so a negative key, at any
/// depth, shows as `unknown_tagged_fields: {-`.
fn holds_tag_above_i32_max(request: &Request) -> bool {
    format!("{request:?}").contains("unknown_tagged_fields: {-")
}

fn check(frame: Bytes) {
    match decode_request(frame) {
        Ok(request) => {
            assert_eq!(request.body.api_key(), request.api_key);
            let encoded = encode_request(&request).expect("a decoded request re-encodes");
            let mut buf = BytesMut::from(&encoded[..]);
            let again = FrameDecoder::new(usize::MAX)
                .decode(&mut buf)
                .expect("a frame")
                .expect("a whole frame");
            assert!(buf.is_empty());
            let again = decode_request(again);
            // The Debug walk is costly: only when the trip changed something.
            if again.as_ref() != Ok(&request) {
                assert!(
                    holds_tag_above_i32_max(&request),
                    "the round trip changed the request\n{request:?}\ninto\n{again:?}"
                );
            }
        }
        Err(ProtocolError::UnsupportedVersion {
            api_key: ApiKey::ApiVersions,
            api_version,
            correlation_id,
            ..
        }) => {
            let answer =
                encode_response(api_version, correlation_id, &api_versions_response().into())
                    .expect("the ApiVersions fallback always encodes");
            assert_eq!(&answer[4..8], &correlation_id.to_be_bytes());
        }
        Err(err) => {
            // Every error must render (the server logs it).
            let _ = err.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);

    // 1. The input as one frame.
    check(payload.clone());

    // 2. Framed and fed in two chunks.
    if data.len() <= LIMIT {
        let mut stream = BytesMut::with_capacity(4 + data.len());
        stream.put_i32(data.len() as i32);
        stream.put_slice(data);
        let cut = data.last().map_or(0, |&b| usize::from(b)) % (stream.len() + 1);
        let decoder = FrameDecoder::new(LIMIT);
        let mut buf = BytesMut::from(&stream[..cut]);
        let first = decoder.decode(&mut buf).expect("a valid length");
        buf.extend_from_slice(&stream[cut..]);
        let frame = match first {
            Some(frame) => frame,
            None => decoder
                .decode(&mut buf)
                .expect("a valid length")
                .expect("whole"),
        };
        assert_eq!(frame, payload);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
    }

    // 3. The input as a stream of frames.
    let decoder = FrameDecoder::new(LIMIT);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        check(frame);
    }
});
