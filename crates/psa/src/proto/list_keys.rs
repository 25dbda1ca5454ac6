//! `list_keys.proto`: the keys of the calling application.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyInfo {
    #[prost(uint32, tag = "1")]
    pub provider_id: u32,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, optional, tag = "3")]
    pub attributes: Option<super::psa_key_attributes::KeyAttributes>,
}

/// Upstream's message is empty. Field 1 is this service's extension (an optional field, allowed
/// by the contracts' open-closed rules): a glob pattern over key names; unset or empty lists
/// every key, as upstream. Old services ignore it.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub pattern: String,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(message, repeated, tag = "1")]
    pub keys: Vec<KeyInfo>,
}
