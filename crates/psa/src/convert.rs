//! Conversions between the protobuf messages and the typed values.

pub(crate) mod algorithm;
mod key;
