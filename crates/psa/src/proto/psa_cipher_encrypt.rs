//! `psa_cipher_encrypt.proto`. The initialisation vector travels inside the ciphertext.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
    #[prost(enumeration = "super::psa_algorithm::algorithm::Cipher", tag = "2")]
    pub alg: i32,
    #[prost(bytes = "vec", tag = "3")]
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
