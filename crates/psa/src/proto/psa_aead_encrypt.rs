//! `psa_aead_encrypt.proto`.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
    #[prost(message, optional, tag = "2")]
    pub alg: Option<super::psa_algorithm::algorithm::Aead>,
    #[prost(bytes = "vec", tag = "3")]
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    #[serde(with = "serde_bytes")]
    pub additional_data: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    #[serde(with = "serde_bytes")]
    pub plaintext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}
