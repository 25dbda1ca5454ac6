//! Reading BOSS: the item reader shared by [`Value`] decoding and the serde deserializer,
//! with the back-reference cache of spec §3.7 and the limits.
//!
//! The cache holds input offsets, not copies: a reference is resolved by reading the cached
//! item again from its offset ("replay"), with caching switched off. Nothing is copied unless
//! referenced, and every replayed item is charged to the same element and byte budgets as
//! the original, so a chain of references that doubles at every step hits a limit instead of
//! memory.

use crate::error::{Error, ErrorKind, Result};
use crate::value::{BigInt, Time, Value};
use crate::{BIN, CREF, DICT, EXTRA, INT, LIST, NINT, TEXT};

/// Decoder limits. Every count and length read from the input is checked against them (and
/// against the bytes left) before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists and dicts (references to containers count their depth).
    pub max_depth: usize,
    /// Largest input, and the most text, binary and big-integer bytes produced, references
    /// included.
    pub max_size: usize,
    /// Most items produced, references counting every item they copy.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: crate::DEFAULT_MAX_DEPTH,
            max_size: 16 << 20,
            max_elements: 1 << 20,
        }
    }
}

/// One item as read from the input. Containers come as their length; their items follow.
pub(crate) enum Item<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Big(BigInt),
    Float(f64),
    Time(u64),
    Text(&'a str),
    Bin(&'a [u8]),
    /// A list of `len` items; `slot` is its cache entry, to be [`Reader::finish`]ed.
    List {
        len: usize,
        slot: Option<usize>,
    },
    /// A dict of `len` pairs.
    Dict {
        len: usize,
        slot: Option<usize>,
    },
    /// A reference to the item cached at input offset `offset`: replay it.
    Ref {
        offset: usize,
    },
}

struct CacheEntry {
    offset: usize,
    /// False while a container is still being read.
    done: bool,
}

/// A header's value V: a u64, or the sign and magnitude of a `0xF8`-form integer beyond it.
enum Num {
    Small(u64),
    Big { negative: bool, magnitude: Vec<u8> },
}

pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    cache: Vec<CacheEntry>,
    /// After the stream marker nothing is cached (spec §3.8).
    stream: bool,
    replaying: bool,
    depth: usize,
    elements_left: usize,
    bytes_left: usize,
    limits: Limits,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8], limits: Limits) -> Result<Self> {
        if input.len() > limits.max_size {
            return Err(Error::at(ErrorKind::SizeLimit, 0));
        }
        Ok(Reader {
            input,
            pos: 0,
            cache: Vec::new(),
            stream: false,
            replaying: false,
            depth: 0,
            elements_left: limits.max_elements,
            bytes_left: limits.max_size,
            limits,
        })
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Fails unless every byte has been read.
    pub(crate) fn end(&self) -> Result<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(Error::at(ErrorKind::TrailingBytes, self.pos))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::at(ErrorKind::UnexpectedEnd, self.input.len()));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// The next header byte, without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7F);
            if shift == 63 && bits > 1 {
                break;
            }
            v |= bits << shift;
            if b & 0x80 != 0 {
                return Ok(v);
            }
        }
        Err(Error::at(ErrorKind::LengthOverflow, start))
    }

    fn charge_bytes(&mut self, n: usize) -> Result<()> {
        self.bytes_left = self
            .bytes_left
            .checked_sub(n)
            .ok_or(Error::at(ErrorKind::SizeLimit, self.pos))?;
        Ok(())
    }

    fn header_value(&mut self, v: u8) -> Result<Num> {
        Ok(match v {
            0..=22 => Num::Small(u64::from(v)),
            23..=30 => {
                let n = usize::from(v - 22);
                let mut buf = [0u8; 8];
                buf[..n].copy_from_slice(self.take(n)?);
                Num::Small(u64::from_le_bytes(buf))
            }
            _ => {
                let n = self.varint()?;
                let n = usize::try_from(n)
                    .map_err(|_| Error::at(ErrorKind::LengthOverflow, self.pos))?;
                if n > self.remaining() {
                    return Err(Error::at(ErrorKind::UnexpectedEnd, self.input.len()));
                }
                self.charge_bytes(n)?;
                let raw = self.take(n)?;
                let negative = raw.last().is_some_and(|&b| b & 0x80 != 0);
                let mut magnitude = raw.to_vec();
                if negative {
                    // Two's complement: the magnitude is the inverse plus one.
                    let mut carry = true;
                    for b in &mut magnitude {
                        let (x, c) = (!*b).overflowing_add(u8::from(carry));
                        *b = x;
                        carry = c;
                    }
                }
                let len = magnitude.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                if !negative && len <= 8 {
                    let mut buf = [0u8; 8];
                    buf[..len].copy_from_slice(&magnitude[..len]);
                    Num::Small(u64::from_le_bytes(buf))
                } else {
                    magnitude.truncate(len);
                    Num::Big {
                        negative,
                        magnitude,
                    }
                }
            }
        })
    }

    fn length(&mut self, v: u8, start: usize) -> Result<usize> {
        match self.header_value(v)? {
            Num::Small(n) => {
                usize::try_from(n).map_err(|_| Error::at(ErrorKind::LengthOverflow, start))
            }
            Num::Big { .. } => Err(Error::at(ErrorKind::LengthOverflow, start)),
        }
    }

    fn integer(&mut self, v: u8, negate: bool) -> Result<Item<'a>> {
        let (negative, magnitude) = match self.header_value(v)? {
            Num::Small(m) => {
                let m = i128::from(m);
                return Ok(Item::Int(if negate { -m } else { m }));
            }
            Num::Big {
                negative,
                magnitude,
            } => (negative != negate, magnitude),
        };
        Ok(match BigInt::from_magnitude(negative, &magnitude) {
            Some(big) => Item::Big(big),
            None => {
                let mut buf = [0u8; 16];
                buf[..magnitude.len()].copy_from_slice(&magnitude);
                let m = u128::from_le_bytes(buf);
                // from_magnitude said it fits: m ≤ 2^127 when negative, < 2^127 otherwise.
                Item::Int(if negative {
                    0i128.wrapping_sub_unsigned(m)
                } else {
                    m as i128
                })
            }
        })
    }

    fn push_cache(&mut self, offset: usize, done: bool) -> Option<usize> {
        if self.stream || self.replaying {
            return None;
        }
        self.cache.push(CacheEntry { offset, done });
        Some(self.cache.len() - 1)
    }

    /// Marks a container's cache entry complete, so that references to it become valid.
    pub(crate) fn finish(&mut self, slot: Option<usize>) {
        if let Some(entry) = slot.and_then(|s| self.cache.get_mut(s)) {
            entry.done = true;
        }
    }

    /// Reads one item's header (and the payload of scalars, text and binary), past any stream
    /// markers before it (in a loop: a run of markers costs no stack).
    pub(crate) fn next_item(&mut self) -> Result<Item<'a>> {
        loop {
            if let Some(item) = self.item_or_marker()? {
                return Ok(item);
            }
            // A stream marker is not an item: it gives back the element it was charged.
            self.elements_left += 1;
        }
    }

    /// One item, or `None` for a stream marker (consumed).
    fn item_or_marker(&mut self) -> Result<Option<Item<'a>>> {
        let start = self.pos;
        self.elements_left = self
            .elements_left
            .checked_sub(1)
            .ok_or(Error::at(ErrorKind::ElementLimit, start))?;
        let b = self.byte()?;
        let (code, v) = (b & 0x07, b >> 3);
        let item = match code {
            INT => self.integer(v, false)?,
            NINT => self.integer(v, true)?,
            EXTRA => return self.extra(v, start),
            TEXT | BIN => {
                let len = self.length(v, start)?;
                if len > self.remaining() {
                    return Err(Error::at(ErrorKind::UnexpectedEnd, self.input.len()));
                }
                self.charge_bytes(len)?;
                let bytes = self.take(len)?;
                self.push_cache(start, true);
                if code == BIN {
                    Item::Bin(bytes)
                } else {
                    Item::Text(
                        std::str::from_utf8(bytes).map_err(|_| Error::at(ErrorKind::InvalidUtf8, start))?,
                    )
                }
            }
            LIST | DICT => {
                let len = self.length(v, start)?;
                let per_item = if code == DICT { 2 } else { 1 };
                let items = len
                    .checked_mul(per_item)
                    .ok_or(Error::at(ErrorKind::LengthOverflow, start))?;
                // Every item takes at least one byte (of input, or of a reference).
                if items > self.remaining() {
                    return Err(Error::at(ErrorKind::UnexpectedEnd, self.input.len()));
                }
                if items > self.elements_left {
                    return Err(Error::at(ErrorKind::ElementLimit, start));
                }
                let slot = self.push_cache(start, false);
                if code == DICT {
                    Item::Dict { len, slot }
                } else {
                    Item::List { len, slot }
                }
            }
            _ /* CREF */ => {
                debug_assert_eq!(code, CREF);
                let index = match self.header_value(v)? {
                    Num::Small(i) => i,
                    Num::Big { .. } => return Err(Error::at(ErrorKind::LengthOverflow, start)),
                };
                if index == 0 {
                    return Ok(Some(Item::Null));
                }
                let entry = usize::try_from(index - 1)
                    .ok()
                    .and_then(|i| self.cache.get(i))
                    .ok_or(Error::at(ErrorKind::BadReference(index), start))?;
                if !entry.done {
                    return Err(Error::at(ErrorKind::CyclicReference(index), start));
                }
                Item::Ref { offset: entry.offset }
            }
        };
        Ok(Some(item))
    }

    fn extra(&mut self, v: u8, start: usize) -> Result<Option<Item<'a>>> {
        let sub = match self.header_value(v)? {
            Num::Small(s) if s <= 31 => s as u8,
            _ => return Err(Error::at(ErrorKind::UnsupportedExtra(31), start)),
        };
        Ok(Some(match sub {
            0 | 1 => Item::Float(0.0),
            2 | 3 => Item::Float(1.0),
            4 | 5 => Item::Float(-1.0),
            6 => {
                let b = self.take(4)?;
                Item::Float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            7 => {
                let b = self.take(8)?;
                let mut buf = [0u8; 8];
                buf.copy_from_slice(b);
                Item::Float(f64::from_le_bytes(buf))
            }
            12 => Item::Bool(true),
            13 => Item::Bool(false),
            15 => Item::Time(self.varint()?),
            16 if !self.replaying => {
                // Stream mode: forget the cache, cache nothing more, read the next object in
                // this position. The marker itself is not an item.
                self.cache.clear();
                self.stream = true;
                return Ok(None);
            }
            other => return Err(Error::at(ErrorKind::UnsupportedExtra(other), start)),
        }))
    }

    /// Moves to the item cached at `offset`, to read it again with caching off. Returns what
    /// [`Reader::end_replay`] needs to come back.
    pub(crate) fn begin_replay(&mut self, offset: usize) -> (usize, bool) {
        let saved = (self.pos, self.replaying);
        self.pos = offset;
        self.replaying = true;
        saved
    }

    pub(crate) fn end_replay(&mut self, saved: (usize, bool)) {
        (self.pos, self.replaying) = saved;
    }

    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.depth >= self.limits.max_depth {
            return Err(Error::at(ErrorKind::DepthLimit, self.pos));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Reads one complete value.
    pub(crate) fn value(&mut self) -> Result<Value> {
        Ok(match self.next_item()? {
            Item::Null => Value::Null,
            Item::Bool(b) => Value::Bool(b),
            Item::Int(i) => Value::Int(i),
            Item::Big(b) => Value::BigInt(b),
            Item::Float(x) => Value::Float(x),
            Item::Time(t) => Value::Time(Time(t)),
            Item::Text(s) => Value::Text(s.to_owned()),
            Item::Bin(b) => Value::Bin(b.to_vec()),
            Item::List { len, slot } => {
                self.enter()?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.value()?);
                }
                self.leave();
                self.finish(slot);
                Value::List(items)
            }
            Item::Dict { len, slot } => {
                self.enter()?;
                let mut pairs = Vec::with_capacity(len);
                for _ in 0..len {
                    let k = self.value()?;
                    let v = self.value()?;
                    pairs.push((k, v));
                }
                self.leave();
                self.finish(slot);
                Value::Dict(pairs)
            }
            Item::Ref { offset } => {
                let saved = self.begin_replay(offset);
                let v = self.value();
                self.end_replay(saved);
                v?
            }
        })
    }
}

/// Decodes exactly one object, with the default limits; trailing bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    decode_with(bytes, Limits::default())
}

/// Decodes exactly one object; trailing bytes are an error.
pub fn decode_with(bytes: &[u8], limits: Limits) -> Result<Value> {
    let mut r = Reader::new(bytes, limits)?;
    let v = r.value()?;
    r.end()?;
    Ok(v)
}

/// Reads several objects concatenated in one buffer. In tree mode they share one cache, as
/// the Java writer produces them (spec §3.8); the limits apply to the whole buffer.
pub struct Decoder<'a> {
    de: crate::de::Deserializer<'a>,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        Self::with_limits(bytes, Limits::default())
    }
    pub fn with_limits(bytes: &'a [u8], limits: Limits) -> Result<Self> {
        Ok(Decoder {
            de: crate::de::Deserializer::with_limits(bytes, limits)?,
        })
    }
    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.de.reader().at_end()
    }
    /// Reads the next object, or `None` at the end of the input.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Value>> {
        if self.is_empty() {
            None
        } else {
            Some(self.de.reader_mut().value())
        }
    }
    /// Reads the next object into a Rust type, or `None` at the end of the input.
    pub fn next_as<T: serde::Deserialize<'a>>(&mut self) -> Option<Result<T>> {
        if self.is_empty() {
            None
        } else {
            Some(T::deserialize(&mut self.de))
        }
    }
}
