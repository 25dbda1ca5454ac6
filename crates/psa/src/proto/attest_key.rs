//! `attest_key.proto`: attest a key with another (TPM ActivateCredential).

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AttestationMechanismParams {
    #[prost(oneof = "attestation_mechanism_params::Mechanism", tags = "1")]
    pub mechanism: Option<attestation_mechanism_params::Mechanism>,
}

pub mod attestation_mechanism_params {
    #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ActivateCredential {
        #[prost(bytes = "vec", tag = "1")]
        #[serde(with = "serde_bytes")]
        pub credential_blob: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        #[serde(with = "serde_bytes")]
        pub secret: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Oneof, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Mechanism {
        #[prost(message, tag = "1")]
        ActivateCredential(ActivateCredential),
    }
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    #[prost(string, tag = "1")]
    pub attested_key_name: String,
    #[prost(message, optional, tag = "2")]
    pub parameters: Option<AttestationMechanismParams>,
    /// Empty means the provider's default attesting key.
    #[prost(string, tag = "3")]
    pub attesting_key_name: String,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AttestationOutput {
    #[prost(oneof = "attestation_output::Mechanism", tags = "1")]
    pub mechanism: Option<attestation_output::Mechanism>,
}

pub mod attestation_output {
    #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ActivateCredential {
        #[prost(bytes = "vec", tag = "1")]
        #[serde(with = "serde_bytes")]
        pub credential: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Oneof, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Mechanism {
        #[prost(message, tag = "1")]
        ActivateCredential(ActivateCredential),
    }
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Result {
    #[prost(message, optional, tag = "1")]
    pub output: Option<AttestationOutput>,
}
