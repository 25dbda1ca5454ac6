//! `psa_hash_compare.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(enumeration = "super::psa_algorithm::algorithm::Hash", tag = "1")]
    pub alg: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub input: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub hash: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Result {}
