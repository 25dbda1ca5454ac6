//! `list_clients.proto`: every application that owns keys (admin only).

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Operation {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    #[prost(string, repeated, tag = "1")]
    pub clients: Vec<String>,
}
