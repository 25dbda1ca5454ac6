//! `psa_raw_key_agreement.proto`.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(
        enumeration = "super::psa_algorithm::algorithm::key_agreement::Raw",
        tag = "1"
    )]
    pub alg: i32,
    #[prost(string, tag = "2")]
    pub private_key_name: String,
    #[prost(bytes = "vec", tag = "3")]
    #[serde(with = "serde_bytes")]
    pub peer_key: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    #[serde(with = "serde_bytes")]
    pub shared_secret: Vec<u8>,
}
