//! `psa_export_public_key.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}
