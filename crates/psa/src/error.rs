//! Decoding errors and their wire statuses.

use parsec_wire::Status;

/// Why a body could not be turned into a typed value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a protobuf encoding of the expected message.
    #[error("the body is not valid protobuf")]
    NotProtobuf,
    /// The message decodes but holds a value the contract does not allow (unknown or placeholder
    /// enumeration value, missing required oneof or message, out-of-range number).
    #[error("invalid encoding: {0}")]
    InvalidEncoding(&'static str),
    /// The structured (serde, e.g. BOSS) form of the message does not fit the contract: a field
    /// of the wrong type, or a value that is not a dictionary.
    #[error("the arguments do not fit the operation: {0}")]
    Fields(String),
}

impl DecodeError {
    /// The response status upstream gives for this error.
    pub const fn status(&self) -> Status {
        match self {
            DecodeError::NotProtobuf => Status::DeserializingBodyFailed,
            DecodeError::InvalidEncoding(_) => Status::InvalidEncoding,
            DecodeError::Fields(_) => Status::DeserializingBodyFailed,
        }
    }
}

impl From<prost::DecodeError> for DecodeError {
    fn from(_: prost::DecodeError) -> Self {
        DecodeError::NotProtobuf
    }
}

/// Shorthand for an [`DecodeError::InvalidEncoding`] result.
pub(crate) fn invalid<T>(what: &'static str) -> Result<T, DecodeError> {
    Err(DecodeError::InvalidEncoding(what))
}

/// A required message or oneof that must be present.
pub(crate) fn required<T>(value: Option<T>, what: &'static str) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::InvalidEncoding(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(DecodeError::NotProtobuf.status().to_u16(), 7);
        assert_eq!(DecodeError::InvalidEncoding("x").status().to_u16(), 16);
    }
}
