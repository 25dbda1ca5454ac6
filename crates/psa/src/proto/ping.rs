//! `ping.proto`: the highest wire protocol version the service speaks.

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {}

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    /// Fits in a u8.
    #[prost(uint32, tag = "1")]
    pub wire_protocol_version_maj: u32,
    /// Fits in a u8.
    #[prost(uint32, tag = "2")]
    pub wire_protocol_version_min: u32,
}
