//! BOSS, the binary object serialization of Universa, as Parsec.1 speaks it.
//!
//! The whole format of `spec/parsec1.md` §3: every header form (including the big-integer
//! form), all EXTRA sub-codes on decode, text, binary, lists, dicts with keys of any type,
//! time, the back-reference cache (references to containers, and the JavaScript writer's
//! text-for-binary references), stream mode, and several objects in one buffer.
//!
//! Two ways in: the dynamic [`Value`] ([`decode`], [`encode`]), and serde ([`to_vec`],
//! [`from_slice`]) so that application structs map to BOSS directly.
//!
//! The encoder writes only what every reader accepts: the shortest headers, no references but
//! null, no stream marker, doubles 0.0, 1.0 and −1.0 as their one-byte codes; and by default it
//! refuses integers the JavaScript reader misreads (|v| ≥ 2^31, spec §3.10).
//!
//! The decoder checks every length and count against its [`Limits`] and the bytes left before
//! allocating, rejects trailing bytes, and never panics.
//!
//! No I/O here.
//!
//! Its one job: the BOSS codec. Imports no crate of the workspace; no I/O.

mod de;
mod decode;
mod encode;
mod error;
mod ser;
mod serde_impls;
mod value;

pub use de::Deserializer;
pub use decode::{decode, decode_with, Decoder, Limits};
pub use encode::{encode, encode_with, EncodeOptions};
pub use error::{Error, ErrorKind, Result};
pub use ser::Serializer;
pub use serde_impls::{bytes, Bytes};
pub use value::{BigInt, Time, Value};

/// Default deepest nesting, on both sides.
pub const DEFAULT_MAX_DEPTH: usize = 64;

// Type codes: the low three bits of a header byte.
const INT: u8 = 0;
const EXTRA: u8 = 1;
const NINT: u8 = 2;
const TEXT: u8 = 3;
const BIN: u8 = 4;
const CREF: u8 = 5;
const LIST: u8 = 6;
const DICT: u8 = 7;

// Whole header bytes.
const NULL: u8 = 0x05;
const EXTRA_DOUBLE: u8 = 0x39;
const EXTRA_TRUE: u8 = 0x61;
const EXTRA_FALSE: u8 = 0x69;
const EXTRA_TIME: u8 = 0x79;

// How times and big integers travel through serde (see `de`).
const TIME_TOKEN: &str = "$boss::Time";
const BIGINT_TOKEN: &str = "$boss::BigInt";
const TIME_KEY: &str = "$__boss_time";
const BIGINT_KEY: &str = "$__boss_bigint";

/// Serializes a Rust value to BOSS with the default, JavaScript-safe options.
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    to_vec_with(value, EncodeOptions::default())
}

/// Serializes a Rust value to BOSS.
pub fn to_vec_with<T: serde::Serialize + ?Sized>(
    value: &T,
    opts: EncodeOptions,
) -> Result<Vec<u8>> {
    let mut ser = Serializer::new(opts);
    value.serialize(&mut ser)?;
    Ok(ser.into_inner())
}

/// Deserializes exactly one BOSS object into a Rust value, with the default limits.
pub fn from_slice<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    from_slice_with(bytes, Limits::default())
}

/// Deserializes exactly one BOSS object into a Rust value.
pub fn from_slice_with<'de, T: serde::Deserialize<'de>>(
    bytes: &'de [u8],
    limits: Limits,
) -> Result<T> {
    let mut de = Deserializer::with_limits(bytes, limits)?;
    let v = T::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Converts a [`Value`] into a Rust type (for example the `args` of a command).
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T> {
    let opts = EncodeOptions {
        allow_large_integers: true,
        max_depth: usize::MAX,
    };
    let bytes = encode_with(value, opts)?;
    from_slice_with(
        &bytes,
        Limits {
            max_depth: usize::MAX,
            max_size: usize::MAX,
            max_elements: usize::MAX,
        },
    )
}

/// Converts a Rust value into a [`Value`].
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value> {
    let bytes = to_vec_with(
        value,
        EncodeOptions {
            allow_large_integers: true,
            max_depth: usize::MAX,
        },
    )?;
    decode_with(
        &bytes,
        Limits {
            max_depth: usize::MAX,
            max_size: usize::MAX,
            max_elements: usize::MAX,
        },
    )
}
