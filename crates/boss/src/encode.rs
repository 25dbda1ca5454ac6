//! Writing BOSS. The writer emits no back-references (other than null) and never the stream
//! marker, which every reader accepts (spec §3.7, §3.8); signatures cover the bytes sent, so
//! nothing is gained by de-duplicating.

use crate::error::{Error, ErrorKind, Result};
use crate::value::{BigInt, Value};
use crate::{BIN, DICT, EXTRA_DOUBLE, EXTRA_FALSE, EXTRA_TIME, EXTRA_TRUE, INT, LIST, NINT, TEXT};

/// Encoder settings. The default is safe for JavaScript peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Allow integers with a magnitude of 2^31 or more. The unicrypto reader misreads them
    /// (spec §3.10), so they are refused unless the peer is known to be Java, Kotlin or Rust.
    pub allow_large_integers: bool,
    /// Deepest nesting of lists and dicts accepted from the caller.
    pub max_depth: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            allow_large_integers: false,
            max_depth: crate::DEFAULT_MAX_DEPTH,
        }
    }
}

/// The byte writer shared by [`Value`] encoding and the serde serializer.
/// The encoder's output. When it must grow it moves to a larger buffer and wipes the old one:
/// what is encoded may be secret (keys, plaintexts), and a growing `Vec` frees its old buffer
/// as it was.
#[derive(Default)]
pub(crate) struct Out(Vec<u8>);

impl Out {
    /// Makes room for `extra` more bytes, moving (and wiping what it leaves) if needed.
    fn room(&mut self, extra: usize) {
        let need = self.0.len().saturating_add(extra);
        if need > self.0.capacity() {
            let mut bigger = Vec::with_capacity(need.max(2 * self.0.capacity()).max(64));
            bigger.extend_from_slice(&self.0);
            zeroize::Zeroize::zeroize(&mut self.0);
            self.0 = bigger;
        }
    }

    pub(crate) fn push(&mut self, byte: u8) {
        self.room(1);
        self.0.push(byte);
    }

    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.room(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    /// Inserts `bytes` at `at` (a container's header, once its length is known).
    pub(crate) fn insert_at(&mut self, at: usize, bytes: &[u8]) {
        self.room(bytes.len());
        self.0.splice(at..at, bytes.iter().copied());
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

pub(crate) struct Writer {
    pub(crate) out: Out,
    pub(crate) opts: EncodeOptions,
}

const JS_LIMIT: u128 = 1 << 31;

impl Writer {
    pub(crate) fn new(opts: EncodeOptions) -> Self {
        Writer {
            out: Out::default(),
            opts,
        }
    }

    /// A header carrying `v`: inline below 23, else the shortest 1..8-byte form.
    pub(crate) fn header(&mut self, code: u8, v: u64) {
        if v < 23 {
            self.out.push(code | (v as u8) << 3);
        } else {
            let n = 8 - (v.leading_zeros() / 8) as usize; // 1..=8 bytes
            self.out.push(code | ((22 + n) as u8) << 3);
            self.out.extend_from_slice(&v.to_le_bytes()[..n]);
        }
    }

    /// Length headers are `usize`; a length that does not fit in u64 cannot occur.
    pub(crate) fn len_header(&mut self, code: u8, len: usize) {
        self.header(code, len as u64);
    }

    pub(crate) fn int(&mut self, v: i128) -> Result<()> {
        let magnitude = v.unsigned_abs();
        if magnitude >= JS_LIMIT && !self.opts.allow_large_integers {
            return Err(Error::new(ErrorKind::IntegerUnsafeForJavaScript));
        }
        let code = if v < 0 { NINT } else { INT };
        match u64::try_from(magnitude) {
            Ok(m) => self.header(code, m),
            Err(_) => self.big_form(code, &magnitude.to_le_bytes()),
        }
        Ok(())
    }

    pub(crate) fn u128(&mut self, v: u128) -> Result<()> {
        match i128::try_from(v) {
            Ok(i) => self.int(i),
            Err(_) if self.opts.allow_large_integers => {
                self.big_form(INT, &v.to_le_bytes());
                Ok(())
            }
            Err(_) => Err(Error::new(ErrorKind::IntegerUnsafeForJavaScript)),
        }
    }

    pub(crate) fn bigint(&mut self, b: &BigInt) -> Result<()> {
        if !self.opts.allow_large_integers {
            return Err(Error::new(ErrorKind::IntegerUnsafeForJavaScript));
        }
        let code = if b.is_negative() { NINT } else { INT };
        self.big_form(code, b.magnitude_le());
        Ok(())
    }

    /// The `0xF8` form: a varint byte count, then the magnitude as a non-negative
    /// two's-complement little-endian integer (a zero byte is added when the top bit is set).
    fn big_form(&mut self, code: u8, magnitude_le: &[u8]) {
        let len = magnitude_le
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        let m = &magnitude_le[..len];
        let pad = m.last().is_some_and(|&b| b & 0x80 != 0);
        self.out.push(code | 0xF8);
        self.varint(len as u64 + u64::from(pad));
        self.out.extend_from_slice(m);
        if pad {
            self.out.push(0);
        }
    }

    /// BOSS's varint: 7 bits per byte, little-endian, the high bit marks the last byte.
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v & 0x7F) as u8);
            v >>= 7;
        }
        self.out.push(v as u8 | 0x80);
    }

    pub(crate) fn float(&mut self, v: f64) {
        // Exact bit patterns: -0.0 is not 0.0 and keeps its 8 bytes.
        match v.to_bits() {
            b if b == 0f64.to_bits() => self.out.push(0x09),
            b if b == 1f64.to_bits() => self.out.push(0x11),
            b if b == (-1f64).to_bits() => self.out.push(0x21),
            _ => {
                self.out.push(EXTRA_DOUBLE);
                self.out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.out.push(if v { EXTRA_TRUE } else { EXTRA_FALSE });
    }

    pub(crate) fn null(&mut self) {
        self.out.push(crate::NULL);
    }

    pub(crate) fn time(&mut self, seconds: u64) {
        self.out.push(EXTRA_TIME);
        self.varint(seconds);
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.len_header(TEXT, s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn bin(&mut self, b: &[u8]) {
        self.len_header(BIN, b.len());
        self.out.extend_from_slice(b);
    }

    pub(crate) fn value(&mut self, v: &Value, depth: usize) -> Result<()> {
        match v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i)?,
            Value::BigInt(b) => self.bigint(b)?,
            Value::Float(x) => self.float(*x),
            Value::Text(s) => self.text(s),
            Value::Bin(b) => self.bin(b),
            Value::Time(t) => self.time(t.0),
            Value::List(items) => {
                let depth = self.enter(depth)?;
                self.len_header(LIST, items.len());
                for item in items {
                    self.value(item, depth)?;
                }
            }
            Value::Dict(pairs) => {
                let depth = self.enter(depth)?;
                self.len_header(DICT, pairs.len());
                for (k, v) in pairs {
                    self.value(k, depth)?;
                    self.value(v, depth)?;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn enter(&self, depth: usize) -> Result<usize> {
        if depth >= self.opts.max_depth {
            return Err(Error::new(ErrorKind::DepthLimit));
        }
        Ok(depth + 1)
    }
}

/// Encodes one value with the default, JavaScript-safe options.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    encode_with(value, EncodeOptions::default())
}

/// Encodes one value.
pub fn encode_with(value: &Value, opts: EncodeOptions) -> Result<Vec<u8>> {
    let mut w = Writer::new(opts);
    w.value(value, 0)?;
    Ok(w.out.into_vec())
}

impl Value {
    /// Encodes this value with the default, JavaScript-safe options.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }
}
