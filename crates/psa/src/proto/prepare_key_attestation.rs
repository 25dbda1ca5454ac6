//! `prepare_key_attestation.proto`: fetch what a verifier needs before AttestKey.

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PrepareKeyAttestationParams {
    #[prost(oneof = "prepare_key_attestation_params::Mechanism", tags = "1")]
    pub mechanism: Option<prepare_key_attestation_params::Mechanism>,
}

pub mod prepare_key_attestation_params {
    #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ActivateCredential {
        #[prost(string, tag = "1")]
        pub attested_key_name: String,
        /// Empty means the provider's default attesting key.
        #[prost(string, tag = "2")]
        pub attesting_key_name: String,
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
    #[prost(message, optional, tag = "1")]
    pub parameters: Option<PrepareKeyAttestationParams>,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PrepareKeyAttestationOutput {
    #[prost(oneof = "prepare_key_attestation_output::Mechanism", tags = "1")]
    pub mechanism: Option<prepare_key_attestation_output::Mechanism>,
}

pub mod prepare_key_attestation_output {
    #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ActivateCredential {
        #[prost(bytes = "vec", tag = "1")]
        #[serde(with = "serde_bytes")]
        pub name: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        #[serde(with = "serde_bytes")]
        pub public: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        #[serde(with = "serde_bytes")]
        pub attesting_key_pub: Vec<u8>,
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
    pub output: Option<PrepareKeyAttestationOutput>,
}
