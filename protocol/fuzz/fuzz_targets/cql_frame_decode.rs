//! Fuzz target: untrusted bytes from a CQL client, through everything the node runs on them
//! before its own logic. Nothing may panic, hang or allocate without bound, and:
//!
//! 1. The input as a connection's byte stream: `FrameDecoder` (64 KiB limit) takes frames
//!    off it until it needs more bytes or meets another protocol version (where the node
//!    closes), and every frame goes through `decode_request` with each compression. Every
//!    decoder step makes progress (consumes bytes, or ends), every error renders and names
//!    the stream of the frame it came from.
//! 2. The same stream fed in two chunks, split where the input says, yields exactly the same
//!    outcomes: framing does not depend on how reads split the bytes.
//! 3. Each outcome is answered as the node would (an ERROR carrying the decoder's message, a
//!    Rows result of a request's values) with each compression; the frame's length field
//!    matches its body, and a compressed body decompresses to the uncompressed encoding.
//!
//! The target installs the allocator the node's process installs ([`LazyHugeAllocator`],
//! with the lower threshold `request_decode` explains): the CQL decoders allocate nothing
//! beyond the bytes they are given, and the guard keeps it so should that ever change.
#![no_main]

use bytes::{Bytes, BytesMut};
use fastdata_protocol::alloc::LazyHugeAllocator;
use fastdata_protocol::cql::{
    decode_request, encode_response, ColumnSpec, ColumnType, Compression, CqlFrameError,
    ErrorBody, FrameDecoder, Request, Response, ResultBody, RowsColumns, RowsResult, Value,
    Values, HEADER_BYTES,
};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator::with_threshold(16 << 20);

const LIMIT: usize = 64 * 1024;

const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Snappy];

/// What the node would make of one frame.
#[derive(Debug, PartialEq)]
enum Outcome {
    Frame(i16, [Result<Request, CqlFrameError>; 3]),
    Error(CqlFrameError),
}

/// Run the decoder over `chunks` fed one after the other, as reads would deliver them.
fn outcomes(chunks: &[&[u8]]) -> Vec<Outcome> {
    let mut decoder = FrameDecoder::new(LIMIT);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                None => break,
                Some(Ok(frame)) => {
                    assert!(buf.len() < before, "a frame consumes its bytes");
                    let decoded =
                        COMPRESSIONS.map(|c| decode_request(&frame, c, decoder.max_frame_bytes()));
                    for result in &decoded {
                        if let Err(e) = result {
                            assert_eq!(e.stream(), frame.stream);
                            assert!(!e.closes_connection());
                            let _ = e.to_string();
                        }
                    }
                    out.push(Outcome::Frame(frame.stream, decoded));
                }
                Some(Err(e)) => {
                    let _ = e.to_string();
                    let closes = e.closes_connection();
                    out.push(Outcome::Error(e));
                    if closes {
                        assert_eq!(buf.len(), before, "nothing consumed before closing");
                        return out;
                    }
                }
            }
        }
    }
    out
}

/// Frame `response` with each compression and check the frame against its body.
fn check_answer(stream: i16, response: &Response) {
    let mut plain = BytesMut::new();
    response.encode_body(&mut plain);
    for compression in COMPRESSIONS {
        let mut out = BytesMut::new();
        encode_response(&mut out, stream, response, compression).expect("small bodies frame");
        assert_eq!(out[0], 0x84);
        assert_eq!(&out[2..4], &stream.to_be_bytes());
        let length = u32::from_be_bytes([out[5], out[6], out[7], out[8]]) as usize;
        assert_eq!(length, out.len() - HEADER_BYTES);
        let body = Bytes::copy_from_slice(&out[HEADER_BYTES..]);
        let back = compression
            .decompress(&body, usize::MAX)
            .expect("our compression decompresses");
        assert_eq!(back, plain, "{compression:?}");
    }
}

fn values_row(values: &Values) -> Vec<Option<Bytes>> {
    let value = |v: &Value| match v {
        Value::Set(b) => Some(b.clone()),
        Value::Null | Value::Unset => None,
    };
    match values {
        Values::None => Vec::new(),
        Values::Positional(v) => v.iter().map(value).collect(),
        Values::Named(v) => v.iter().map(|(_, v)| value(v)).collect(),
    }
}

fn answer(outcome: &Outcome) {
    match outcome {
        Outcome::Error(e) => {
            check_answer(e.stream(), &Response::Error(ErrorBody::new(e.code(), e.to_string())))
        }
        Outcome::Frame(stream, decoded) => {
            for result in decoded {
                let response = match result {
                    Err(e) => Response::Error(ErrorBody::new(e.code(), e.to_string())),
                    Ok(Request::Query { params, .. }) | Ok(Request::Execute { params, .. }) => {
                        let row = values_row(&params.values);
                        let columns = if params.skip_metadata {
                            RowsColumns::Count(row.len())
                        } else {
                            RowsColumns::Specs(
                                (0..row.len())
                                    .map(|i| ColumnSpec {
                                        keyspace: "ks".to_string(),
                                        table: "t".to_string(),
                                        name: format!("c{i}"),
                                        ty: ColumnType::Native(0x0003),
                                    })
                                    .collect(),
                            )
                        };
                        Response::Result(ResultBody::Rows(RowsResult {
                            columns,
                            rows: vec![row],
                            paging_state: params.paging_state.clone(),
                        }))
                    }
                    Ok(_) => Response::Result(ResultBody::Void),
                };
                check_answer(*stream, &response);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. The input as one read.
    let whole = outcomes(&[data]);
    // 2. The same bytes in two reads.
    let cut = data.first().map_or(0, |&b| usize::from(b)) * data.len() / 256;
    let split = outcomes(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole, split, "split at {cut}");
    // 3. Answers.
    for outcome in &whole {
        answer(outcome);
    }
});
