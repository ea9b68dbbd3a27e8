//! The records inside a v2 batch (after decompression): parsing them zero-copy out of a `Bytes`
//! payload, and encoding them. Layout of one record:
//!
//! `length varint, attributes i8, timestampDelta varlong, offsetDelta varint, keyLength varint
//! (-1 = null), key, valueLength varint (-1 = null), value, headersCount varint,
//! [headerKeyLength varint, headerKey, headerValueLength varint (-1 = null), headerValue]*`
//!
//! Every length is checked against the bytes that remain before anything is sliced or allocated.

use bytes::Bytes;

use super::varint::{read_varint, read_varlong, write_varint, write_varlong};
use super::BatchError;

/// Smallest possible encoded record: length, attributes, timestampDelta, offsetDelta, keyLength,
/// valueLength and headersCount, one byte each.
pub const MIN_RECORD_LEN: usize = 7;

/// One record header; the key is never null, the value may be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// One record of a v2 batch. Offsets and timestamps are deltas from the batch's `base_offset`
/// and `base_timestamp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

impl Record {
    /// The record's absolute offset in a batch whose base offset is `base_offset`.
    pub fn offset(&self, base_offset: i64) -> i64 {
        base_offset.wrapping_add(i64::from(self.offset_delta))
    }

    /// The record's timestamp in a batch whose base timestamp is `base_timestamp`.
    pub fn timestamp(&self, base_timestamp: i64) -> i64 {
        base_timestamp.wrapping_add(self.timestamp_delta)
    }

    /// Whether this is a tombstone (null value) for compaction.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Append this record's encoding (with its length prefix) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), BatchError> {
        let mut body = Vec::with_capacity(
            16 + self.key.as_ref().map_or(0, Bytes::len)
                + self.value.as_ref().map_or(0, Bytes::len),
        );
        body.push(0); // attributes: unused in v2
        write_varlong(&mut body, self.timestamp_delta);
        write_varint(&mut body, self.offset_delta);
        write_nullable(&mut body, self.key.as_deref(), "record key")?;
        write_nullable(&mut body, self.value.as_deref(), "record value")?;
        write_varint(
            &mut body,
            len_i32(self.headers.len(), "record headers count")?,
        );
        for h in &self.headers {
            write_varint(&mut body, len_i32(h.key.len(), "record header key")?);
            body.extend_from_slice(&h.key);
            write_nullable(&mut body, h.value.as_deref(), "record header value")?;
        }
        write_varint(out, len_i32(body.len(), "record")?);
        out.extend_from_slice(&body);
        Ok(())
    }
}

fn len_i32(len: usize, what: &'static str) -> Result<i32, BatchError> {
    i32::try_from(len).map_err(|_| BatchError::TooLarge(what))
}

fn write_nullable(
    out: &mut Vec<u8>,
    v: Option<&[u8]>,
    what: &'static str,
) -> Result<(), BatchError> {
    match v {
        None => write_varint(out, -1),
        Some(v) => {
            write_varint(out, len_i32(v.len(), what)?);
            out.extend_from_slice(v);
        }
    }
    Ok(())
}

/// Whether a record walk builds each record's key, value and headers, or only checks their
/// bounds (validation on the append path, which then allocates nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fields {
    Build,
    Check,
}

/// A cursor over one record's bytes; every read checks the remaining length.
struct Cursor<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
    index: usize,
    fields: Fields,
}

impl Cursor<'_> {
    fn fail(&self, reason: &'static str) -> BatchError {
        BatchError::InvalidRecord {
            index: self.index,
            reason,
        }
    }

    fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn varint(&mut self, what: &'static str) -> Result<i32, BatchError> {
        let (v, n) = read_varint(self.rest()).ok_or_else(|| self.fail(what))?;
        self.pos += n;
        Ok(v)
    }

    fn varlong(&mut self, what: &'static str) -> Result<i64, BatchError> {
        let (v, n) = read_varlong(self.rest()).ok_or_else(|| self.fail(what))?;
        self.pos += n;
        Ok(v)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, BatchError> {
        let b = *self.rest().first().ok_or_else(|| self.fail(what))?;
        self.pos += 1;
        Ok(b)
    }

    /// `len` bytes as a zero-copy slice (empty when only checking).
    fn take(&mut self, len: usize, what: &'static str) -> Result<Bytes, BatchError> {
        if len > self.remaining() {
            return Err(self.fail(what));
        }
        let b = match self.fields {
            Fields::Build => self.buf.slice(self.pos..self.pos + len),
            Fields::Check => Bytes::new(),
        };
        self.pos += len;
        Ok(b)
    }

    /// A length-prefixed field; -1 is null, other negatives are invalid.
    fn nullable(&mut self, what: &'static str) -> Result<Option<Bytes>, BatchError> {
        match self.varint(what)? {
            -1 => Ok(None),
            n if n < 0 => Err(self.fail(what)),
            n => self.take(n as usize, what).map(Some),
        }
    }
}

/// Parse the record at `*pos` in `buf` (the `index`th of its batch) and advance `*pos` past it.
pub(crate) fn parse_record(
    buf: &Bytes,
    pos: &mut usize,
    index: usize,
    fields: Fields,
) -> Result<Record, BatchError> {
    let mut c = Cursor {
        buf,
        pos: *pos,
        end: buf.len(),
        index,
        fields,
    };
    let len = c.varint("record length is malformed")?;
    let len = usize::try_from(len).map_err(|_| c.fail("record length is negative"))?;
    if len > c.remaining() {
        return Err(c.fail("record length runs past the end of the batch"));
    }
    c.end = c.pos + len;
    c.byte("record attributes missing")?;
    let timestamp_delta = c.varlong("timestampDelta is malformed")?;
    let offset_delta = c.varint("offsetDelta is malformed")?;
    let key = c.nullable("key length is invalid")?;
    let value = c.nullable("value length is invalid")?;
    let count = c.varint("headers count is malformed")?;
    let count = usize::try_from(count).map_err(|_| c.fail("headers count is negative"))?;
    // Each header takes at least two bytes: a hostile count cannot force a large allocation.
    if count > c.remaining() / 2 {
        return Err(c.fail("headers count exceeds the record's bytes"));
    }
    let build = fields == Fields::Build;
    let mut headers = Vec::with_capacity(if build { count } else { 0 });
    for _ in 0..count {
        let klen = c.varint("header key length is malformed")?;
        let klen = usize::try_from(klen).map_err(|_| c.fail("header key is null or negative"))?;
        let key = c.take(klen, "header key runs past the record")?;
        let value = c.nullable("header value length is invalid")?;
        if build {
            headers.push(RecordHeader { key, value });
        }
    }
    if c.pos != c.end {
        return Err(c.fail("record has bytes after its last header"));
    }
    *pos = c.end;
    Ok(Record {
        offset_delta,
        timestamp_delta,
        key,
        value,
        headers,
    })
}

/// Iterator over the records of a batch's (decompressed) payload. Yields exactly `records_count`
/// records and then checks that no bytes remain; after the first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct RecordIter {
    payload: Bytes,
    pos: usize,
    next_index: usize,
    expected: usize,
    done: bool,
    fields: Fields,
}

impl RecordIter {
    pub(crate) fn new(payload: Bytes, expected: usize, fields: Fields) -> Self {
        RecordIter {
            payload,
            pos: 0,
            next_index: 0,
            expected,
            done: false,
            fields,
        }
    }

    /// The decompressed records section this iterator walks.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.next_index == self.expected {
            self.done = true;
            let extra = self.payload.len().saturating_sub(self.pos);
            return (extra != 0).then_some(Err(BatchError::TrailingRecordBytes { count: extra }));
        }
        if self.pos >= self.payload.len() {
            self.done = true;
            return Some(Err(BatchError::RecordCountMismatch {
                expected: self.expected,
                actual: self.next_index,
            }));
        }
        let r = parse_record(&self.payload, &mut self.pos, self.next_index, self.fields);
        self.next_index += 1;
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.expected - self.next_index + 1))
        }
    }
}
