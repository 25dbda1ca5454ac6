//! `psa_destroy_key.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Result {}
