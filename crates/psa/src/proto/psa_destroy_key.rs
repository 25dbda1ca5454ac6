//! `psa_destroy_key.proto`.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
}

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {}
