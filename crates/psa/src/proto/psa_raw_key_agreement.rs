//! `psa_raw_key_agreement.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(
        enumeration = "super::psa_algorithm::algorithm::key_agreement::Raw",
        tag = "1"
    )]
    pub alg: i32,
    #[prost(string, tag = "2")]
    pub private_key_name: String,
    #[prost(bytes = "vec", tag = "3")]
    pub peer_key: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    pub shared_secret: Vec<u8>,
}
