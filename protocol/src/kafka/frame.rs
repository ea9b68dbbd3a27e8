//! Kafka framing: every request and response is a big-endian `i32` length followed by that many
//! bytes.

use bytes::{Buf, Bytes, BytesMut};

use crate::ProtocolError;

/// Length of the frame-size prefix.
pub(crate) const LENGTH_PREFIX: usize = 4;

/// Splits a byte stream into Kafka frames, with an upper bound on a frame's size.
///
/// Stateless: it reads the length prefix each time, so it works over a `BytesMut` the caller
/// fills from a socket (a manual read loop or a tokio codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max_frame_bytes` (the length prefix not counted;
    /// Kafka's `socket.request.max.bytes` is 100 MiB). Values above `i32::MAX` mean `i32::MAX`.
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes: max_frame_bytes.min(i32::MAX as usize),
        }
    }

    /// The largest frame accepted.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Takes the next whole frame (without its length prefix) off the front of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed; `buf` is then left as it was, with room reserved
    /// for the rest of the announced frame (never more than the limit plus the prefix). A
    /// negative or oversized length is an error and consumes nothing: the stream cannot be
    /// resynchronized, so the caller should close the connection.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, ProtocolError> {
        let Some(prefix) = buf.first_chunk::<LENGTH_PREFIX>() else {
            return Ok(None);
        };
        let length = i32::from_be_bytes(*prefix);
        let Ok(length) = usize::try_from(length) else {
            return Err(ProtocolError::NegativeFrameLength {
                length,
                limit: self.max_frame_bytes,
            });
        };
        if length > self.max_frame_bytes {
            return Err(ProtocolError::FrameTooLarge {
                length,
                limit: self.max_frame_bytes,
            });
        }
        let total = LENGTH_PREFIX + length;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX);
        Ok(Some(buf.split_to(length).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let decoder = FrameDecoder::new(1024);
        let whole = framed(b"hello world");
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(decoder.decode(&mut buf), Ok(None), "cut at {cut}");
            assert_eq!(&buf[..], &whole[..cut], "nothing consumed at {cut}");
        }
        let mut buf = BytesMut::from(&whole[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Some(Bytes::from_static(b"hello world")))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn byte_by_byte_feeding_yields_the_frame_once() {
        let decoder = FrameDecoder::new(1024);
        let whole = framed(b"abc");
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for &byte in &whole {
            buf.extend_from_slice(&[byte]);
            if let Some(frame) = decoder.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames, vec![Bytes::from_static(b"abc")]);
    }

    #[test]
    fn two_frames_in_one_buffer_and_a_partial_third() {
        let decoder = FrameDecoder::new(1024);
        let mut bytes = framed(b"first");
        bytes.extend(framed(b"second"));
        bytes.extend(&framed(b"third")[..6]);
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(decoder.decode(&mut buf).unwrap().unwrap(), "first");
        assert_eq!(decoder.decode(&mut buf).unwrap().unwrap(), "second");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 6);
    }

    #[test]
    fn empty_frame_is_a_frame() {
        let decoder = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0][..]);
        assert_eq!(decoder.decode(&mut buf), Ok(Some(Bytes::new())));
    }

    #[test]
    fn frame_at_the_limit_is_accepted_one_above_is_not() {
        let decoder = FrameDecoder::new(8);
        let mut buf = BytesMut::from(&framed(&[7; 8])[..]);
        assert_eq!(decoder.decode(&mut buf).unwrap().unwrap().len(), 8);

        let mut buf = BytesMut::from(&framed(&[7; 9])[..]);
        let err = decoder.decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::FrameTooLarge {
                length: 9,
                limit: 8
            }
        );
        let message = err.to_string();
        assert!(message.contains('9') && message.contains('8'), "{message}");
        assert_eq!(buf.len(), 13, "nothing consumed");
    }

    #[test]
    fn oversized_announcement_reserves_nothing() {
        let decoder = FrameDecoder::new(1 << 20);
        let mut buf = BytesMut::with_capacity(8);
        buf.extend_from_slice(&i32::MAX.to_be_bytes());
        let capacity = buf.capacity();
        assert!(matches!(
            decoder.decode(&mut buf),
            Err(ProtocolError::FrameTooLarge { length, limit: 1_048_576 }) if length == i32::MAX as usize
        ));
        assert_eq!(buf.capacity(), capacity);
    }

    #[test]
    fn partial_frame_reserves_only_what_it_announced() {
        let decoder = FrameDecoder::new(1 << 20);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&1000i32.to_be_bytes());
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= 1004);
        assert!(buf.capacity() < 1 << 20, "{}", buf.capacity());
    }

    #[test]
    fn negative_length_is_an_error() {
        let decoder = FrameDecoder::new(1024);
        for length in [-1i32, i32::MIN] {
            let mut buf = BytesMut::from(&length.to_be_bytes()[..]);
            let err = decoder.decode(&mut buf).unwrap_err();
            assert_eq!(
                err,
                ProtocolError::NegativeFrameLength {
                    length,
                    limit: 1024
                }
            );
            assert!(err.to_string().contains(&length.to_string()));
        }
    }

    #[test]
    fn limit_is_capped_at_i32_max() {
        assert_eq!(
            FrameDecoder::new(usize::MAX).max_frame_bytes(),
            i32::MAX as usize
        );
    }
}
