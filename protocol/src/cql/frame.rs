//! CQL v4 framing: a 9-byte header (`version flags stream:i16 opcode length:u32`, big-endian)
//! and a body of `length` bytes (spec v4 §2).
//!
//! [`FrameDecoder`] takes whole frames off the bytes a connection read, bounded by
//! `native.transport.max.frame.size.bytes`: a larger frame is skipped as its bytes arrive
//! (never buffered) and reported once, as Cassandra does, so the connection goes on. A frame
//! of another protocol version is reported as soon as its stream id is readable: the node
//! answers it (in a v4 header; drivers then step down) and closes.

use bytes::{Buf, BytesMut};

use super::error::CqlFrameError;

/// The header's length.
pub const HEADER_BYTES: usize = 9;
/// The protocol version this node speaks.
pub const VERSION: u8 = 4;
/// The version byte of a response: the version with the direction bit.
pub const RESPONSE_VERSION: u8 = 0x80 | VERSION;
/// The stream of server-pushed EVENT frames.
pub const EVENT_STREAM: i16 = -1;

/// Header flags (spec v4 §2.2).
pub mod flags {
    /// The body is compressed with the connection's algorithm.
    pub const COMPRESSION: u8 = 0x01;
    /// The client asks for tracing (ignored: the node does not trace).
    pub const TRACING: u8 = 0x02;
    /// A `[bytes map]` custom payload opens the body.
    pub const CUSTOM_PAYLOAD: u8 = 0x04;
    /// A `[string list]` of warnings opens a response body.
    pub const WARNING: u8 = 0x08;
}

/// The message kinds (spec v4 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    Error = 0x00,
    Startup = 0x01,
    Ready = 0x02,
    Authenticate = 0x03,
    Options = 0x05,
    Supported = 0x06,
    Query = 0x07,
    Result = 0x08,
    Prepare = 0x09,
    Execute = 0x0A,
    Register = 0x0B,
    Event = 0x0C,
    Batch = 0x0D,
    AuthChallenge = 0x0E,
    AuthResponse = 0x0F,
    AuthSuccess = 0x10,
}

impl Opcode {
    /// The opcode of `byte`, if it is one.
    pub fn from_byte(byte: u8) -> Option<Opcode> {
        use Opcode::*;
        Some(match byte {
            0x00 => Error,
            0x01 => Startup,
            0x02 => Ready,
            0x03 => Authenticate,
            0x05 => Options,
            0x06 => Supported,
            0x07 => Query,
            0x08 => Result,
            0x09 => Prepare,
            0x0A => Execute,
            0x0B => Register,
            0x0C => Event,
            0x0D => Batch,
            0x0E => AuthChallenge,
            0x0F => AuthResponse,
            0x10 => AuthSuccess,
            _ => return None,
        })
    }

    /// The message's name as Cassandra writes it in errors and as metrics label it.
    pub fn name(self) -> &'static str {
        use Opcode::*;
        match self {
            Error => "ERROR",
            Startup => "STARTUP",
            Ready => "READY",
            Authenticate => "AUTHENTICATE",
            Options => "OPTIONS",
            Supported => "SUPPORTED",
            Query => "QUERY",
            Result => "RESULT",
            Prepare => "PREPARE",
            Execute => "EXECUTE",
            Register => "REGISTER",
            Event => "EVENT",
            Batch => "BATCH",
            AuthChallenge => "AUTH_CHALLENGE",
            AuthResponse => "AUTH_RESPONSE",
            AuthSuccess => "AUTH_SUCCESS",
        }
    }

    /// Whether clients send this message (the rest are responses).
    pub fn is_request(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            Startup | Options | Query | Prepare | Execute | Register | Batch | AuthResponse
        )
    }
}

/// One whole request frame, its body as sent (compressed if its flag says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header's flags.
    pub flags: u8,
    /// The stream to answer on.
    pub stream: i16,
    /// The opcode byte, unchecked ([`super::decode_request`] checks it).
    pub opcode: u8,
    /// The body.
    pub body: bytes::Bytes,
}

/// Splits a connection's bytes into frames; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
    /// Bytes of an oversized frame still to skip.
    discarding: u64,
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max_frame_bytes`, header included
    /// (`native.transport.max.frame.size.bytes`; at least a header).
    pub fn new(max_frame_bytes: usize) -> FrameDecoder {
        FrameDecoder {
            max_frame_bytes: max_frame_bytes.max(HEADER_BYTES),
            discarding: 0,
        }
    }

    /// The largest frame accepted, header included.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// The length (header included) of the frame whose header opens `buf`, once that header
    /// is in, when it is a v4 frame within the limit: what the connection reserves from a
    /// node-wide budget before reading the rest. `None` otherwise (more bytes needed, or a
    /// frame [`decode`](Self::decode) will refuse).
    pub fn announced_frame_bytes(&self, buf: &[u8]) -> Option<usize> {
        if self.discarding > 0 {
            return None;
        }
        let header = buf.first_chunk::<HEADER_BYTES>()?;
        if header[0] & 0x7F != VERSION {
            return None;
        }
        let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
        Some(HEADER_BYTES + length).filter(|&total| total <= self.max_frame_bytes)
    }

    /// Take the next frame off the front of `buf`: `None` when more bytes are needed (room
    /// for the rest of an announced frame is then reserved, never more than the limit).
    ///
    /// An [`UnsupportedVersion`](CqlFrameError::UnsupportedVersion) consumes nothing (the
    /// caller answers and closes); a [`TooBig`](CqlFrameError::TooBig) is returned once, and
    /// the frame's bytes are skipped by this and later calls as they arrive; a
    /// [`Malformed`](CqlFrameError::Malformed) frame has been consumed whole.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<Result<Frame, CqlFrameError>> {
        if self.discarding > 0 {
            let skip = usize::try_from(self.discarding)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            buf.advance(skip);
            self.discarding -= skip as u64;
            if self.discarding > 0 {
                return None;
            }
        }
        let &first = buf.first()?;
        let version = first & 0x7F;
        if version != VERSION {
            // v1 and v2 have a one-byte stream; later versions a [short], as v4.
            let stream = if version < 3 {
                i16::from(*buf.get(2)? as i8)
            } else {
                i16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])
            };
            return Some(Err(CqlFrameError::UnsupportedVersion { version, stream }));
        }
        let header = buf.first_chunk::<HEADER_BYTES>()?;
        let stream = i16::from_be_bytes([header[2], header[3]]);
        let (flags, opcode) = (header[1], header[4]);
        let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        let total = HEADER_BYTES as u64 + u64::from(length);
        if total > self.max_frame_bytes as u64 {
            let skip = buf.len().min(HEADER_BYTES + length as usize);
            buf.advance(skip);
            self.discarding = total - skip as u64;
            return Some(Err(CqlFrameError::TooBig {
                stream,
                length: total,
                limit: self.max_frame_bytes,
            }));
        }
        let total = total as usize;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return None;
        }
        buf.advance(HEADER_BYTES);
        let body = buf.split_to(total - HEADER_BYTES).freeze();
        if first & 0x80 != 0 {
            return Some(Err(CqlFrameError::Malformed {
                stream,
                message: "Wrong protocol direction (expected REQUEST, got RESPONSE)".to_string(),
            }));
        }
        Some(Ok(Frame {
            flags,
            stream,
            opcode,
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes};

    fn frame(version: u8, stream: i16, opcode: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![version, 0];
        out.extend_from_slice(&stream.to_be_bytes());
        out.push(opcode);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn options_frame_golden_bytes() {
        // What every driver sends first: OPTIONS on stream 0, empty body.
        let wire = [0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00];
        let mut buf = BytesMut::from(&wire[..]);
        let frame = FrameDecoder::new(1024).decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                flags: 0,
                stream: 0,
                opcode: Opcode::Options as u8,
                body: Bytes::new()
            }
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn truncated_frames_wait_for_their_bytes() {
        let whole = frame(4, 7, 0x07, b"a query body");
        let mut decoder = FrameDecoder::new(1024);
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(decoder.decode(&mut buf), None, "cut at {cut}");
            assert_eq!(&buf[..], &whole[..cut], "nothing consumed at {cut}");
        }
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for &b in &whole {
            buf.put_u8(b);
            if let Some(f) = decoder.decode(&mut buf) {
                frames.push(f.unwrap());
            }
        }
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].stream, 7);
        assert_eq!(frames[0].body, &b"a query body"[..]);
    }

    #[test]
    fn an_oversized_frame_is_skipped_and_the_next_one_read() {
        let limit = 64;
        let big = frame(4, 3, 0x07, &[b'x'; 100]);
        let next = frame(4, 4, 0x05, b"");
        let mut decoder = FrameDecoder::new(limit);
        // The big frame arrives in pieces: reported once, with its stream and length.
        let mut buf = BytesMut::from(&big[..20]);
        let err = decoder.decode(&mut buf).unwrap().unwrap_err();
        assert_eq!(
            err,
            CqlFrameError::TooBig {
                stream: 3,
                length: 109,
                limit
            }
        );
        assert_eq!(
            err.to_string(),
            "Request is too big: length 109 exceeds maximum allowed length 64."
        );
        assert!(!err.closes_connection());
        assert!(buf.is_empty(), "skipped bytes are not kept");
        buf.extend_from_slice(&big[20..50]);
        assert_eq!(decoder.decode(&mut buf), None);
        assert!(buf.is_empty());
        buf.extend_from_slice(&big[50..]);
        buf.extend_from_slice(&next);
        let frame = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!((frame.stream, frame.opcode), (4, 0x05));
        // A frame exactly at the limit is accepted.
        let mut buf = BytesMut::from(&frame_of_total(limit)[..]);
        assert!(decoder.decode(&mut buf).unwrap().is_ok());
    }

    #[test]
    fn a_frames_length_is_known_once_its_header_is_in() {
        let decoder = FrameDecoder::new(64);
        let whole = frame(4, 1, 0x07, &[0; 20]);
        assert_eq!(decoder.announced_frame_bytes(&whole[..8]), None);
        assert_eq!(decoder.announced_frame_bytes(&whole[..9]), Some(29));
        assert_eq!(
            decoder.announced_frame_bytes(&frame(4, 1, 0x07, &[0; 56])),
            None,
            "too big"
        );
        assert_eq!(
            decoder.announced_frame_bytes(&frame(5, 1, 0x05, &[])),
            None,
            "not v4"
        );
    }

    fn frame_of_total(total: usize) -> Vec<u8> {
        frame(4, 1, 0x07, &vec![0; total - HEADER_BYTES])
    }

    #[test]
    fn a_length_near_u32_max_is_skipped_not_reserved() {
        let mut decoder = FrameDecoder::new(1 << 20);
        let mut buf = BytesMut::from(&[4u8, 0, 0, 9, 7, 0xFF, 0xFF, 0xFF, 0xFF][..]);
        let capacity = buf.capacity();
        let err = decoder.decode(&mut buf).unwrap().unwrap_err();
        assert!(
            matches!(err, CqlFrameError::TooBig { stream: 9, length, .. } if length == 9 + u64::from(u32::MAX))
        );
        assert!(buf.capacity() <= capacity);
    }

    #[test]
    fn other_versions_are_reported_with_their_stream_before_their_body_arrives() {
        let mut decoder = FrameDecoder::new(1024);
        // python-driver's first tries: DSE v2 (0x42), DSE v1 (0x41), v5; then v3 and v1.
        for (version, stream_bytes, stream) in [
            (0x42u8, [0u8, 0], 0i16),
            (0x41, [0, 1], 1),
            (0x05, [0x01, 0x00], 256),
            (0x03, [0xFF, 0xFF], -1),
        ] {
            let mut buf = BytesMut::from(&[version, 0, stream_bytes[0], stream_bytes[1]][..]);
            let err = decoder.decode(&mut buf).unwrap().unwrap_err();
            assert_eq!(err.stream(), stream, "version {version:#x}");
            assert_eq!(err.code(), 0x000A);
            assert!(err.closes_connection());
            assert!(
                err.to_string()
                    .starts_with("Invalid or unsupported protocol version"),
                "{err}"
            );
            assert_eq!(buf.len(), 4, "nothing consumed");
        }
        // v1/v2 headers carry a one-byte stream.
        let mut buf = BytesMut::from(&[0x02u8, 0, 0xFE][..]);
        let err = decoder.decode(&mut buf).unwrap().unwrap_err();
        assert_eq!(
            err,
            CqlFrameError::UnsupportedVersion {
                version: 2,
                stream: -2
            }
        );
        let err = CqlFrameError::UnsupportedVersion {
            version: 5,
            stream: 0,
        };
        assert_eq!(
            err.to_string(),
            "Invalid or unsupported protocol version (5); supported versions are (4/v4)"
        );
        assert_eq!(decoder.decode(&mut BytesMut::from(&[0x05u8][..])), None);
    }

    #[test]
    fn a_response_sent_as_a_request_is_malformed_but_delimited() {
        let mut bytes = frame(0x84, 5, 0x02, b"");
        bytes.extend(frame(4, 6, 0x05, b""));
        let mut buf = BytesMut::from(&bytes[..]);
        let mut decoder = FrameDecoder::new(1024);
        let err = decoder.decode(&mut buf).unwrap().unwrap_err();
        assert!(matches!(err, CqlFrameError::Malformed { stream: 5, .. }));
        assert_eq!(decoder.decode(&mut buf).unwrap().unwrap().stream, 6);
    }

    #[test]
    fn opcodes_round_trip_and_name_themselves() {
        let mut requests = 0;
        for byte in 0..=0x20u8 {
            if let Some(op) = Opcode::from_byte(byte) {
                assert_eq!(op as u8, byte);
                assert!(!op.name().is_empty());
                requests += usize::from(op.is_request());
            }
        }
        assert_eq!(requests, 8);
        assert_eq!(Opcode::from_byte(0x04), None);
        assert_eq!(Opcode::AuthResponse.name(), "AUTH_RESPONSE");
    }
}
