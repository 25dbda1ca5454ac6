//! `list_opcodes.proto`: the opcodes one provider supports.

#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(uint32, tag = "1")]
    pub provider_id: u32,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(uint32, repeated, tag = "1")]
    pub opcodes: Vec<u32>,
}
