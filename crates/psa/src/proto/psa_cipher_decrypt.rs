//! `psa_cipher_decrypt.proto`. The initialisation vector travels inside the ciphertext.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
    #[prost(enumeration = "super::psa_algorithm::algorithm::Cipher", tag = "2")]
    pub alg: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub ciphertext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    pub plaintext: Vec<u8>,
}
