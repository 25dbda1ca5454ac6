//! `psa_aead_encrypt.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
    #[prost(message, optional, tag = "2")]
    pub alg: Option<super::psa_algorithm::algorithm::Aead>,
    #[prost(bytes = "vec", tag = "3")]
    pub nonce: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub additional_data: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub plaintext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    pub ciphertext: Vec<u8>,
}
