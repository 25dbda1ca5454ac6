//! Key management, capability discovery and key attestation.

use zeroize::Zeroize;

use super::Contract;
use crate::error::{invalid, required, DecodeError};
use crate::proto;
use crate::secret::Secret;
use crate::types::KeyAttributes;

fn attributes(
    p: Option<proto::psa_key_attributes::KeyAttributes>,
) -> Result<KeyAttributes, DecodeError> {
    required(p, "key attributes missing")?.try_into()
}

/// PsaGenerateKey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateKey {
    pub key_name: String,
    pub attributes: KeyAttributes,
}

impl Contract for GenerateKey {
    type Proto = proto::psa_generate_key::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(GenerateKey {
            key_name: p.key_name,
            attributes: attributes(p.attributes)?,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_generate_key::Operation {
            key_name: self.key_name.clone(),
            attributes: Some(self.attributes.into()),
        }
    }
}

/// PsaImportKey. `data` uses the PSA export format of the key type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportKey {
    pub key_name: String,
    pub attributes: KeyAttributes,
    pub data: Secret,
}

impl Contract for ImportKey {
    type Proto = proto::psa_import_key::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        // Wrapped first so that it is wiped even if a later field is refused.
        let data = Secret::new(p.data);
        Ok(ImportKey {
            key_name: p.key_name,
            attributes: attributes(p.attributes)?,
            data,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_import_key::Operation {
            key_name: self.key_name.clone(),
            attributes: Some(self.attributes.into()),
            data: self.data.expose().to_vec(),
        }
    }
    fn wipe(p: &mut Self::Proto) {
        p.data.zeroize();
    }
}

/// Declares an operation that only names a key.
macro_rules! key_name_only {
    ($(#[$meta:meta])* $name:ident, $module:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub key_name: String,
        }

        impl Contract for $name {
            type Proto = proto::$module::Operation;
            fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
                Ok($name { key_name: p.key_name })
            }
            fn to_proto(&self) -> Self::Proto {
                proto::$module::Operation {
                    key_name: self.key_name.clone(),
                }
            }
        }
    };
}

key_name_only!(
    /// PsaDestroyKey.
    DestroyKey,
    psa_destroy_key
);
key_name_only!(
    /// PsaExportPublicKey.
    ExportPublicKey,
    psa_export_public_key
);
key_name_only!(
    /// PsaExportKey.
    ExportKey,
    psa_export_key
);

/// PsaExportPublicKey's answer (DER `RSAPublicKey` or an uncompressed EC point).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportPublicKeyResult {
    pub data: Vec<u8>,
}

impl Contract for ExportPublicKeyResult {
    type Proto = proto::psa_export_public_key::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(ExportPublicKeyResult { data: p.data })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_export_public_key::Result {
            data: self.data.clone(),
        }
    }
}

/// PsaExportKey's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportKeyResult {
    pub data: Secret,
}

impl Contract for ExportKeyResult {
    type Proto = proto::psa_export_key::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(ExportKeyResult {
            data: Secret::new(p.data),
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_export_key::Result {
            data: self.data.expose().to_vec(),
        }
    }
    fn wipe(p: &mut Self::Proto) {
        p.data.zeroize();
    }
}

/// What CanDoCrypto asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckType {
    Use,
    Generate,
    Import,
    Derive,
}

/// CanDoCrypto: whether a key with these attributes could be used, generated, imported or
/// derived. The answer is the response status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanDoCrypto {
    pub check_type: CheckType,
    pub attributes: KeyAttributes,
}

impl Contract for CanDoCrypto {
    type Proto = proto::can_do_crypto::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        use proto::can_do_crypto::CheckType as C;
        let check_type = match C::try_from(p.check_type) {
            Ok(C::Use) => CheckType::Use,
            Ok(C::Generate) => CheckType::Generate,
            Ok(C::Import) => CheckType::Import,
            Ok(C::Derive) => CheckType::Derive,
            Ok(C::ChecktypeNone) => return invalid("check type is none"),
            Err(_) => return invalid("unknown check type"),
        };
        Ok(CanDoCrypto {
            check_type,
            attributes: attributes(p.attributes)?,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        use proto::can_do_crypto::CheckType as C;
        let check_type = match self.check_type {
            CheckType::Use => C::Use,
            CheckType::Generate => C::Generate,
            CheckType::Import => C::Import,
            CheckType::Derive => C::Derive,
        };
        proto::can_do_crypto::Operation {
            check_type: check_type as i32,
            attributes: Some(self.attributes.into()),
        }
    }
}

fn optional_name(name: String) -> Option<String> {
    (!name.is_empty()).then_some(name)
}

/// PrepareKeyAttestation: what a verifier needs before AttestKey. An absent attesting key
/// name selects the provider's default attesting key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrepareKeyAttestation {
    ActivateCredential {
        attested_key_name: String,
        attesting_key_name: Option<String>,
    },
}

impl Contract for PrepareKeyAttestation {
    type Proto = proto::prepare_key_attestation::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        use proto::prepare_key_attestation::prepare_key_attestation_params::Mechanism;
        let params = required(p.parameters, "attestation parameters missing")?;
        match required(params.mechanism, "attestation mechanism missing")? {
            Mechanism::ActivateCredential(a) => Ok(PrepareKeyAttestation::ActivateCredential {
                attested_key_name: a.attested_key_name,
                attesting_key_name: optional_name(a.attesting_key_name),
            }),
        }
    }
    fn to_proto(&self) -> Self::Proto {
        use proto::prepare_key_attestation::{
            prepare_key_attestation_params as params, PrepareKeyAttestationParams,
        };
        let mechanism = match self {
            PrepareKeyAttestation::ActivateCredential {
                attested_key_name,
                attesting_key_name,
            } => params::Mechanism::ActivateCredential(params::ActivateCredential {
                attested_key_name: attested_key_name.clone(),
                attesting_key_name: attesting_key_name.clone().unwrap_or_default(),
            }),
        };
        proto::prepare_key_attestation::Operation {
            parameters: Some(PrepareKeyAttestationParams {
                mechanism: Some(mechanism),
            }),
        }
    }
}

/// PrepareKeyAttestation's answer (TPM names and public areas).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrepareKeyAttestationResult {
    ActivateCredential {
        name: Vec<u8>,
        public: Vec<u8>,
        attesting_key_pub: Vec<u8>,
    },
}

impl Contract for PrepareKeyAttestationResult {
    type Proto = proto::prepare_key_attestation::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        use proto::prepare_key_attestation::prepare_key_attestation_output::Mechanism;
        let output = required(p.output, "attestation output missing")?;
        match required(output.mechanism, "attestation mechanism missing")? {
            Mechanism::ActivateCredential(a) => {
                Ok(PrepareKeyAttestationResult::ActivateCredential {
                    name: a.name,
                    public: a.public,
                    attesting_key_pub: a.attesting_key_pub,
                })
            }
        }
    }
    fn to_proto(&self) -> Self::Proto {
        use proto::prepare_key_attestation::{
            prepare_key_attestation_output as out, PrepareKeyAttestationOutput,
        };
        let mechanism = match self {
            PrepareKeyAttestationResult::ActivateCredential {
                name,
                public,
                attesting_key_pub,
            } => out::Mechanism::ActivateCredential(out::ActivateCredential {
                name: name.clone(),
                public: public.clone(),
                attesting_key_pub: attesting_key_pub.clone(),
            }),
        };
        proto::prepare_key_attestation::Result {
            output: Some(PrepareKeyAttestationOutput {
                mechanism: Some(mechanism),
            }),
        }
    }
}

/// AttestKey: attest `attested_key_name` with the attesting key (TPM ActivateCredential).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestKey {
    ActivateCredential {
        attested_key_name: String,
        attesting_key_name: Option<String>,
        credential_blob: Secret,
        secret: Secret,
    },
}

impl Contract for AttestKey {
    type Proto = proto::attest_key::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        use proto::attest_key::attestation_mechanism_params::Mechanism;
        let params = required(p.parameters, "attestation parameters missing")?;
        match required(params.mechanism, "attestation mechanism missing")? {
            Mechanism::ActivateCredential(a) => Ok(AttestKey::ActivateCredential {
                attested_key_name: p.attested_key_name,
                attesting_key_name: optional_name(p.attesting_key_name),
                credential_blob: Secret::new(a.credential_blob),
                secret: Secret::new(a.secret),
            }),
        }
    }
    fn to_proto(&self) -> Self::Proto {
        use proto::attest_key::{
            attestation_mechanism_params as params, AttestationMechanismParams,
        };
        match self {
            AttestKey::ActivateCredential {
                attested_key_name,
                attesting_key_name,
                credential_blob,
                secret,
            } => proto::attest_key::Operation {
                attested_key_name: attested_key_name.clone(),
                parameters: Some(AttestationMechanismParams {
                    mechanism: Some(params::Mechanism::ActivateCredential(
                        params::ActivateCredential {
                            credential_blob: credential_blob.expose().to_vec(),
                            secret: secret.expose().to_vec(),
                        },
                    )),
                }),
                attesting_key_name: attesting_key_name.clone().unwrap_or_default(),
            },
        }
    }
    fn wipe(p: &mut Self::Proto) {
        use proto::attest_key::attestation_mechanism_params::Mechanism;
        if let Some(Mechanism::ActivateCredential(a)) = p
            .parameters
            .as_mut()
            .and_then(|params| params.mechanism.as_mut())
        {
            a.credential_blob.zeroize();
            a.secret.zeroize();
        }
    }
}

/// AttestKey's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestKeyResult {
    ActivateCredential { credential: Secret },
}

impl Contract for AttestKeyResult {
    type Proto = proto::attest_key::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        use proto::attest_key::attestation_output::Mechanism;
        let output = required(p.output, "attestation output missing")?;
        match required(output.mechanism, "attestation mechanism missing")? {
            Mechanism::ActivateCredential(a) => Ok(AttestKeyResult::ActivateCredential {
                credential: Secret::new(a.credential),
            }),
        }
    }
    fn to_proto(&self) -> Self::Proto {
        use proto::attest_key::{attestation_output as out, AttestationOutput};
        match self {
            AttestKeyResult::ActivateCredential { credential } => proto::attest_key::Result {
                output: Some(AttestationOutput {
                    mechanism: Some(out::Mechanism::ActivateCredential(
                        out::ActivateCredential {
                            credential: credential.expose().to_vec(),
                        },
                    )),
                }),
            },
        }
    }
    fn wipe(p: &mut Self::Proto) {
        use proto::attest_key::attestation_output::Mechanism;
        if let Some(Mechanism::ActivateCredential(a)) =
            p.output.as_mut().and_then(|out| out.mechanism.as_mut())
        {
            a.credential.zeroize();
        }
    }
}
