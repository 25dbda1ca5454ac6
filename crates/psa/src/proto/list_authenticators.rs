//! `list_authenticators.proto`: the configured authenticators.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthenticatorInfo {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(uint32, tag = "2")]
    pub version_maj: u32,
    #[prost(uint32, tag = "3")]
    pub version_min: u32,
    #[prost(uint32, tag = "4")]
    pub version_rev: u32,
    #[prost(uint32, tag = "5")]
    pub id: u32,
}

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(message, repeated, tag = "1")]
    pub authenticators: Vec<AuthenticatorInfo>,
}
