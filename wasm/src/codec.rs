//! Canonical binary primitives: little-endian fixed-width integers, fixed
//! byte arrays, and u32-length-prefixed byte strings. Every byte string has
//! exactly one encoding, so decoding then encoding gives the input back.

use crate::error::{fail, Code, Error, Result};

#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn fixed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    /// A u32 length prefix, then the bytes. Callers check their own limit
    /// first, so the length always fits in u32.
    pub fn var(&mut self, bytes: &[u8]) {
        self.u32(bytes.len() as u32);
        self.buf.extend_from_slice(bytes);
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// What is being decoded, for messages ("transaction", "vertex").
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let remaining = self.buf.len() - self.pos;
        if n > remaining {
            fail!(
                Truncated,
                "Cannot decode {}: field {} needs {} bytes at offset {}, only {} remain",
                self.what,
                field,
                n,
                self.pos,
                remaining
            );
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.take(1, field)?[0])
    }

    pub fn u32(&mut self, field: &str) -> Result<u32> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, field: &str) -> Result<u64> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn hash(&mut self, field: &str) -> Result<[u8; 32]> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32, field)?);
        Ok(a)
    }

    pub fn fixed(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        self.take(n, field)
    }

    /// A u32-length-prefixed byte string of at most `max` bytes. The limit is
    /// checked before the bytes are looked at, so an over-long prefix is
    /// reported as `limit_code`, not as truncation.
    pub fn var(&mut self, field: &str, max: usize, limit_code: Code) -> Result<&'a [u8]> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(Error::new(
                limit_code,
                format!("Cannot decode {}: {} is {} bytes, the limit is {}", self.what, field, len, max),
            ));
        }
        self.take(len, field)
    }

    /// A u32 element count of at most `max`.
    pub fn count(&mut self, field: &str, max: usize, limit_code: Code) -> Result<usize> {
        let n = self.u32(field)? as usize;
        if n > max {
            return Err(Error::new(
                limit_code,
                format!("Cannot decode {}: {} count is {}, the limit is {}", self.what, field, n, max),
            ));
        }
        Ok(n)
    }

    pub fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            fail!(
                TrailingBytes,
                "Cannot decode {}: {} trailing bytes after the end at offset {}",
                self.what,
                self.buf.len() - self.pos,
                self.pos
            );
        }
        Ok(())
    }
}

/// Lowercase hex, for messages that name ids.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian() {
        let mut w = Writer::new();
        w.u8(1);
        w.u32(0x0403_0201);
        w.u64(0x0c0b_0a09_0807_0605);
        w.var(b"xy");
        let bytes = w.into_bytes();
        assert_eq!(bytes, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 2, 0, 0, 0, b'x', b'y']);
        let mut r = Reader::new(&bytes, "test");
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u32("b").unwrap(), 0x0403_0201);
        assert_eq!(r.u64("c").unwrap(), 0x0c0b_0a09_0807_0605);
        assert_eq!(r.var("d", 2, Code::MemoTooLarge).unwrap(), b"xy");
        r.finish().unwrap();
    }

    #[test]
    fn limit_beats_truncation_and_trailing_is_rejected() {
        let bytes = [5u8, 0, 0, 0, 1];
        let mut r = Reader::new(&bytes, "test");
        assert_eq!(r.var("memo", 4, Code::MemoTooLarge).unwrap_err().code, Code::MemoTooLarge);
        let mut r = Reader::new(&bytes, "test");
        assert_eq!(r.var("memo", 8, Code::MemoTooLarge).unwrap_err().code, Code::Truncated);
        let mut r = Reader::new(&bytes, "test");
        r.u8("a").unwrap();
        assert_eq!(r.finish().unwrap_err().code, Code::TrailingBytes);
    }
}
