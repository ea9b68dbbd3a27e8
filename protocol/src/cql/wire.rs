//! The protocol's notations (spec v4 §3): `[int]`, `[short]`, `[string]`, `[long string]`,
//! `[bytes]`, `[short bytes]`, `[value]`, `[string list]`, `[string map]`, `[bytes map]`,
//! read from a request body and written to a response body.
//!
//! The reader never allocates more than the bytes it has: every length and count is checked
//! against what is left before anything is taken, and values are zero-copy slices of the body.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// A `[value]` of a request: length -1 is null, -2 (v4) is "unset".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Length -1.
    Null,
    /// Length -2: leave the column as it is.
    Unset,
    /// The value's bytes.
    Set(Bytes),
}

/// Reads notations off the front of a request body.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    body: Bytes,
}

pub(crate) type ReadResult<T> = Result<T, String>;

impl Reader {
    pub(crate) fn new(body: Bytes) -> Reader {
        Reader { body }
    }

    fn need(&self, n: usize, what: &str) -> ReadResult<()> {
        if self.body.remaining() < n {
            return Err(format!(
                "Not enough bytes to read {what} ({n} needed, {} left)",
                self.body.remaining()
            ));
        }
        Ok(())
    }

    pub(crate) fn byte(&mut self, what: &str) -> ReadResult<u8> {
        self.need(1, what)?;
        Ok(self.body.get_u8())
    }

    pub(crate) fn short(&mut self, what: &str) -> ReadResult<u16> {
        self.need(2, what)?;
        Ok(self.body.get_u16())
    }

    pub(crate) fn int(&mut self, what: &str) -> ReadResult<i32> {
        self.need(4, what)?;
        Ok(self.body.get_i32())
    }

    pub(crate) fn long(&mut self, what: &str) -> ReadResult<i64> {
        self.need(8, what)?;
        Ok(self.body.get_i64())
    }

    fn take(&mut self, n: usize, what: &str) -> ReadResult<Bytes> {
        self.need(n, what)?;
        Ok(self.body.split_to(n))
    }

    fn utf8(bytes: Bytes, what: &str) -> ReadResult<String> {
        String::from_utf8(bytes.to_vec())
            .map_err(|e| format!("Cannot decode string as UTF8 for {what}: {e}"))
    }

    /// `[string]`: a `[short]` length and that many bytes of UTF-8.
    pub(crate) fn string(&mut self, what: &str) -> ReadResult<String> {
        let n = self.short(what)?;
        let bytes = self.take(usize::from(n), what)?;
        Self::utf8(bytes, what)
    }

    /// `[long string]`: an `[int]` length and that many bytes of UTF-8.
    pub(crate) fn long_string(&mut self, what: &str) -> ReadResult<String> {
        let n = self.int(what)?;
        let n = usize::try_from(n).map_err(|_| format!("Negative length {n} for {what}"))?;
        let bytes = self.take(n, what)?;
        Self::utf8(bytes, what)
    }

    /// `[bytes]`: an `[int]` length (negative: null) and that many bytes.
    pub(crate) fn bytes(&mut self, what: &str) -> ReadResult<Option<Bytes>> {
        let n = self.int(what)?;
        match usize::try_from(n) {
            Ok(n) => self.take(n, what).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// `[short bytes]`: a `[short]` length and that many bytes.
    pub(crate) fn short_bytes(&mut self, what: &str) -> ReadResult<Bytes> {
        let n = self.short(what)?;
        self.take(usize::from(n), what)
    }

    /// `[value]`: `[bytes]` where -1 is null and -2 is unset; other negative lengths are errors.
    pub(crate) fn value(&mut self, what: &str) -> ReadResult<Value> {
        let n = self.int(what)?;
        match n {
            -1 => Ok(Value::Null),
            -2 => Ok(Value::Unset),
            n if n < 0 => Err(format!("Invalid length {n} for {what}")),
            n => self.take(n as usize, what).map(Value::Set),
        }
    }

    /// A `[short]` count of items, each at least `min_item_bytes` long: a count the rest of
    /// the body cannot hold is refused before anything is allocated for it.
    pub(crate) fn count(&mut self, min_item_bytes: usize, what: &str) -> ReadResult<usize> {
        let n = usize::from(self.short(what)?);
        if n.saturating_mul(min_item_bytes) > self.body.remaining() {
            return Err(format!(
                "Not enough bytes to read {n} {what} ({} left)",
                self.body.remaining()
            ));
        }
        Ok(n)
    }

    /// `[string list]`.
    pub(crate) fn string_list(&mut self, what: &str) -> ReadResult<Vec<String>> {
        let n = self.count(2, what)?;
        (0..n).map(|_| self.string(what)).collect()
    }

    /// `[string map]`, in the order sent.
    pub(crate) fn string_map(&mut self, what: &str) -> ReadResult<Vec<(String, String)>> {
        let n = self.count(4, what)?;
        (0..n)
            .map(|_| Ok((self.string(what)?, self.string(what)?)))
            .collect()
    }

    /// `[bytes map]` (a custom payload), read past: the node has no use for one.
    pub(crate) fn skip_bytes_map(&mut self, what: &str) -> ReadResult<()> {
        let n = self.count(6, what)?;
        for _ in 0..n {
            self.string(what)?;
            self.bytes(what)?;
        }
        Ok(())
    }
}

/// `[string]`.
pub(crate) fn put_string(out: &mut BytesMut, s: &str) {
    // A [string] longer than a [short] cannot be sent; names never come near it, and a
    // message that long is cut at a character boundary rather than mis-framed.
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.put_u16(end as u16);
    out.put_slice(&s.as_bytes()[..end]);
}

/// `[string list]`.
pub(crate) fn put_string_list<S: AsRef<str>>(out: &mut BytesMut, list: &[S]) {
    out.put_u16(u16::try_from(list.len()).unwrap_or(u16::MAX));
    for s in list.iter().take(usize::from(u16::MAX)) {
        put_string(out, s.as_ref());
    }
}

/// `[bytes]`, `None` as null.
pub(crate) fn put_bytes(out: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            out.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
            out.put_slice(b);
        }
        None => out.put_i32(-1),
    }
}

/// `[short bytes]`.
pub(crate) fn put_short_bytes(out: &mut BytesMut, bytes: &[u8]) {
    let n = bytes.len().min(usize::from(u16::MAX));
    out.put_u16(n as u16);
    out.put_slice(&bytes[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_null_unset_empty_and_set() {
        let mut body = BytesMut::new();
        body.put_i32(-1);
        body.put_i32(-2);
        body.put_i32(0);
        body.put_i32(3);
        body.put_slice(b"abc");
        body.put_i32(-3);
        let mut r = Reader::new(body.freeze());
        assert_eq!(r.value("v").unwrap(), Value::Null);
        assert_eq!(r.value("v").unwrap(), Value::Unset);
        assert_eq!(r.value("v").unwrap(), Value::Set(Bytes::new()));
        assert_eq!(
            r.value("v").unwrap(),
            Value::Set(Bytes::from_static(b"abc"))
        );
        assert!(r.value("v").unwrap_err().contains("-3"));
    }

    #[test]
    fn lengths_beyond_the_body_are_refused() {
        let mut r = Reader::new(Bytes::from_static(&[0x7F, 0xFF, 0xFF, 0xFF, 1, 2]));
        let err = r.value("the first value").unwrap_err();
        assert!(err.contains("the first value"), "{err}");
        let mut r = Reader::new(Bytes::from_static(&[0xFF, 0xFF, 0, 1]));
        assert!(r.string_list("events").is_err(), "65535 strings in 2 bytes");
        let mut r = Reader::new(Bytes::from_static(&[0xFF, 0xFF, 0xFF, 0xF0]));
        assert!(r.long_string("query").unwrap_err().contains("Negative"));
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut r = Reader::new(Bytes::from_static(&[0, 2, 0xC3, 0x28]));
        assert!(r.string("name").unwrap_err().contains("UTF8"));
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let s = "é".repeat(40_000);
        let mut out = BytesMut::new();
        put_string(&mut out, &s);
        let mut r = Reader::new(out.freeze());
        let back = r.string("s").unwrap();
        assert!(back.len() <= usize::from(u16::MAX) && s.starts_with(&back));
    }
}
