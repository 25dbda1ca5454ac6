//! `list_clients.proto`: every application that owns keys (admin only).

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(string, repeated, tag = "1")]
    pub clients: Vec<String>,
}
