//! `psa_import_key.proto`.

#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub key_name: String,
    #[prost(message, optional, tag = "2")]
    pub attributes: Option<super::psa_key_attributes::KeyAttributes>,
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Result {}
