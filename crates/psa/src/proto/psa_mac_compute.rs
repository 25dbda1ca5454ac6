//! `psa_mac_compute.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
    #[prost(message, optional, tag = "2")]
    pub alg: Option<super::psa_algorithm::algorithm::Mac>,
    #[prost(bytes = "vec", tag = "3")]
    pub input: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    pub mac: Vec<u8>,
}
