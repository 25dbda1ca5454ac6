//! The dynamic BOSS value.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Any BOSS value.
///
/// Integers that fit in `i128` are [`Value::Int`] whatever header form carried them (the Java
/// writer puts even `5` in the big-integer form when it came from a `BigInteger`); only
/// larger ones are [`Value::BigInt`]. Dicts keep their pairs in the order read or built; keys
/// may be any value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`: the reference to cache entry 0.
    Null,
    Bool(bool),
    Int(i128),
    /// An integer outside the range of `i128`.
    BigInt(BigInt),
    /// A double (floats read from the float32 forms are widened).
    Float(f64),
    Text(String),
    Bin(Vec<u8>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A point in time, to the second.
    Time(Time),
}

/// Overwrites every byte the value holds (texts, binaries, big integers, at any depth), for
/// values that carried secrets; wrap them in `zeroize::Zeroizing` to do it on drop.
impl zeroize::Zeroize for Value {
    fn zeroize(&mut self) {
        match self {
            Value::Text(t) => t.zeroize(),
            Value::Bin(b) => b.zeroize(),
            Value::BigInt(b) => b.magnitude.zeroize(),
            Value::List(items) => items.iter_mut().for_each(zeroize::Zeroize::zeroize),
            Value::Dict(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.zeroize();
                v.zeroize();
            }),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Time(_) => {}
        }
    }
}

/// An integer too large for `i128`, kept as a sign and a magnitude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigInt {
    negative: bool,
    /// Little-endian, no high zero bytes, never all zero.
    magnitude: Vec<u8>,
}

impl BigInt {
    /// Builds from a sign and a little-endian magnitude. Returns `None` when the value would
    /// fit in `i128`, which is always a [`Value::Int`].
    pub fn from_magnitude(negative: bool, magnitude_le: &[u8]) -> Option<BigInt> {
        let len = magnitude_le
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        let magnitude = &magnitude_le[..len];
        if len <= 16 {
            let mut buf = [0u8; 16];
            buf[..len].copy_from_slice(magnitude);
            let m = u128::from_le_bytes(buf);
            let fits = if negative {
                m <= 1u128 << 127
            } else {
                m < 1u128 << 127
            };
            if fits {
                return None;
            }
        }
        Some(BigInt {
            negative,
            magnitude: magnitude.to_vec(),
        })
    }
    /// True for values below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }
    /// The absolute value, little-endian, without high zero bytes.
    pub fn magnitude_le(&self) -> &[u8] {
        &self.magnitude
    }
}

/// A BOSS time: whole seconds since the Unix epoch (fractions are not carried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// The current time, to the second.
    pub fn now() -> Time {
        Time::from(SystemTime::now())
    }
    /// Seconds since the Unix epoch.
    pub fn seconds(self) -> u64 {
        self.0
    }
    /// This time plus `secs` seconds (saturating).
    pub fn plus_seconds(self, secs: u64) -> Time {
        Time(self.0.saturating_add(secs))
    }
}

impl From<SystemTime> for Time {
    /// Times before the epoch become the epoch.
    fn from(t: SystemTime) -> Time {
        Time(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }
}

impl From<Time> for SystemTime {
    fn from(t: Time) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(t.0)
    }
}

impl Value {
    /// A dict with text keys, in the given order.
    pub fn dict<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::Text(k.into()), v))
                .collect(),
        )
    }

    /// The value of the first pair whose key is the text `key`, if this is a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    /// The bytes of a BIN, or of a TEXT: the JavaScript writer sends binary data as a
    /// reference to an equal text that came earlier in the same message (spec §3.7).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bin(b) => Some(b),
            Value::Text(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
    pub fn as_time(&self) -> Option<Time> {
        match self {
            Value::Time(t) => Some(*t),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
macro_rules! from_int {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Int(i128::from(v)) }
        }
    )*};
}
from_int!(i8 i16 i32 i64 u8 u16 u32 u64);
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bin(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bin(v.to_vec())
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::List(v)
    }
}
impl From<Time> for Value {
    fn from(v: Time) -> Value {
        Value::Time(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl fmt::Display for Value {
    /// A compact, JSON-like rendering for logs and test failures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::BigInt(b) => {
                f.write_str(if b.negative { "-0x" } else { "0x" })?;
                b.magnitude
                    .iter()
                    .rev()
                    .try_for_each(|x| write!(f, "{x:02x}"))
            }
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Bin(b) => {
                f.write_str("b\"")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))?;
                f.write_str("\"")
            }
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Dict(d) => {
                f.write_str("{")?;
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Time(t) => write!(f, "time({})", t.0),
        }
    }
}

#[cfg(test)]
mod wipe_tests {
    use super::*;

    #[test]
    fn zeroize_empties_every_buffer_at_any_depth() {
        let mut v = Value::dict([
            ("key", Value::Bin(vec![1, 2, 3])),
            (
                "nested",
                Value::List(vec![Value::Text("secret".into()), Value::Int(7)]),
            ),
        ]);
        zeroize::Zeroize::zeroize(&mut v);
        let Value::Dict(entries) = &v else {
            panic!("still a dictionary")
        };
        assert!(entries.iter().all(|(k, _)| k.as_str() == Some("")));
        assert_eq!(entries[0].1, Value::Bin(vec![]));
        assert_eq!(
            entries[1].1,
            Value::List(vec![Value::Text(String::new()), Value::Int(7)])
        );
    }
}
