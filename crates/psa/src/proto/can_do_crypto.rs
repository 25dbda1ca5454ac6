//! `can_do_crypto.proto`: capability discovery. The answer is the response status.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(enumeration = "CheckType", tag = "1")]
    pub check_type: i32,
    #[prost(message, optional, tag = "2")]
    pub attributes: Option<super::psa_key_attributes::KeyAttributes>,
}

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {}

/// Value 0 is a placeholder that decoders refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CheckType {
    ChecktypeNone = 0,
    Use = 1,
    Generate = 2,
    Import = 3,
    Derive = 4,
}
