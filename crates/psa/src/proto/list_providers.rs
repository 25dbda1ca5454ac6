//! `list_providers.proto`: the configured providers.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProviderInfo {
    #[prost(string, tag = "1")]
    pub uuid: String,
    #[prost(string, tag = "2")]
    pub description: String,
    #[prost(string, tag = "3")]
    pub vendor: String,
    #[prost(uint32, tag = "4")]
    pub version_maj: u32,
    #[prost(uint32, tag = "5")]
    pub version_min: u32,
    #[prost(uint32, tag = "6")]
    pub version_rev: u32,
    #[prost(uint32, tag = "7")]
    pub id: u32,
}

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(message, repeated, tag = "1")]
    pub providers: Vec<ProviderInfo>,
}
