//! `psa_hash_compute.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(enumeration = "super::psa_algorithm::algorithm::Hash", tag = "1")]
    pub alg: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub input: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    pub hash: Vec<u8>,
}
