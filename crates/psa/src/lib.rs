//! PSA Crypto types and the Parsec operation contracts.
//!
//! Two layers:
//!
//! - [`proto`]: the protobuf messages of every operation, written by hand with prost. Package,
//!   message and field names, field numbers, types, oneofs and enumeration values are the same
//!   as the `parsec-operations` contracts, so bodies are byte-compatible with every upstream
//!   client.
//! - The typed layer: [`types`] (key attributes, algorithms), [`ops`] (one struct per operation
//!   and result) and the [`Operation`] / [`OpResult`] enums. Converting from protobuf checks
//!   every value; a typed value is always valid, so encoding cannot fail.
//!
//! [`decode_operation`] and [`decode_result`] never panic. A body that is not protobuf gives
//! [`DecodeError::NotProtobuf`] (status 7); a body that decodes but breaks the contract (unknown
//! or placeholder enumeration value, missing required oneof or message, out-of-range id) gives
//! [`DecodeError::InvalidEncoding`] (status 16). Secret bytes are held in [`Secret`], which is
//! wiped on drop.
//!
//! Its one job: the operation contracts and PSA types. Imports `parsec-wire` only (upstream's
//! `parsec-interface` in its conformance tests).

mod codec;
mod convert;
mod error;
pub mod glob;
pub mod ops;
pub mod proto;
mod secret;
pub mod types;

#[cfg(test)]
mod tests;

pub use codec::{
    decode_operation, decode_result, deserialize_operation, deserialize_result, encode_operation,
    encode_result, serialize_operation, serialize_result, OpResult, Operation,
};
pub use error::DecodeError;
pub use secret::Secret;
pub use types::*;

/// Encodes key attributes as their protobuf message (for storage).
pub fn encode_key_attributes(attributes: &KeyAttributes) -> Vec<u8> {
    use prost::Message;
    proto::psa_key_attributes::KeyAttributes::from(*attributes).encode_to_vec()
}

/// Decodes key attributes encoded by [`encode_key_attributes`], checking every value.
pub fn decode_key_attributes(bytes: &[u8]) -> Result<KeyAttributes, DecodeError> {
    use prost::Message;
    proto::psa_key_attributes::KeyAttributes::decode(bytes)?.try_into()
}
