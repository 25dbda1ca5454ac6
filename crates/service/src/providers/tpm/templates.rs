//! What TPM keys are made from and give back: the mapping of PSA algorithms, hashes and
//! curves to the TPM's, the templates of the storage key and of our keys, and a key's public
//! part in PSA export format.

use parsec_psa::{
    Algorithm, AsymmetricEncryption, AsymmetricSignature, EccFamily, Hash, KeyAttributes, KeyType,
    SignHash,
};
use parsec_wire::Status;
use rsa::pkcs1::EncodeRsaPublicKey;
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::structures::{
    EccParameter, EccPoint, EccScheme, HashScheme, Public, PublicBuilder,
    PublicEccParametersBuilder, PublicKeyRsa, PublicRsaParametersBuilder, RsaExponent, RsaScheme,
    SignatureScheme, SymmetricDefinitionObject,
};

use super::tpm_error;

pub(super) fn rsa_key_bits(bits: u32) -> Option<RsaKeyBits> {
    Some(match bits {
        1024 => RsaKeyBits::Rsa1024,
        2048 => RsaKeyBits::Rsa2048,
        3072 => RsaKeyBits::Rsa3072,
        4096 => RsaKeyBits::Rsa4096,
        _ => return None,
    })
}

pub(super) fn storage_key_template() -> Result<Public, tss_esapi::Error> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(true)
        .with_restricted(true)
        .with_no_da(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

pub(super) fn hashing(hash: Hash) -> Option<HashingAlgorithm> {
    Some(match hash {
        Hash::Sha256 => HashingAlgorithm::Sha256,
        Hash::Sha384 => HashingAlgorithm::Sha384,
        Hash::Sha512 => HashingAlgorithm::Sha512,
        _ => return None,
    })
}

pub(super) fn curve(family: EccFamily, bits: u32) -> Option<EccCurve> {
    match (family, bits) {
        (EccFamily::SecpR1, 256) => Some(EccCurve::NistP256),
        (EccFamily::SecpR1, 384) => Some(EccCurve::NistP384),
        (EccFamily::SecpR1, 521) => Some(EccCurve::NistP521),
        _ => None,
    }
}

pub(super) fn signature_scheme(alg: AsymmetricSignature) -> Option<SignatureScheme> {
    use AsymmetricSignature as S;
    let (hash, make): (SignHash, fn(HashScheme) -> SignatureScheme) = match alg {
        S::RsaPkcs1v15Sign { hash_alg } => {
            (hash_alg, |h| SignatureScheme::RsaSsa { hash_scheme: h })
        }
        S::RsaPss { hash_alg } => (hash_alg, |h| SignatureScheme::RsaPss { hash_scheme: h }),
        S::Ecdsa { hash_alg } => (hash_alg, |h| SignatureScheme::EcDsa { hash_scheme: h }),
        _ => return None,
    };
    match hash {
        SignHash::Specific(h) => Some(make(HashScheme::new(hashing(h)?))),
        SignHash::Any => Some(make(HashScheme::new(HashingAlgorithm::Sha256))),
    }
}

pub(super) fn supports_alg(alg: Algorithm) -> bool {
    match alg {
        Algorithm::None => true,
        Algorithm::AsymmetricSignature(s) => signature_scheme(s).is_some(),
        Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaPkcs1v15Crypt) => true,
        Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaOaep { hash_alg }) => {
            hashing(hash_alg).is_some() || hash_alg == Hash::Sha1
        }
        _ => false,
    }
}

fn template_error(e: tss_esapi::Error) -> Status {
    tracing::error!("TPM key template: {e}");
    Status::PsaErrorGenericError
}

/// The ECDSA scheme fixed in an ECC key (tss-esapi makes signing keys name one): the policy's
/// hash, SHA-256 for a wildcard.
fn ecdsa_scheme(alg: Algorithm) -> EccScheme {
    let hash = match alg {
        Algorithm::AsymmetricSignature(AsymmetricSignature::Ecdsa {
            hash_alg: SignHash::Specific(h),
        }) => hashing(h),
        _ => None,
    };
    EccScheme::EcDsa(HashScheme::new(hash.unwrap_or(HashingAlgorithm::Sha256)))
}

/// The template of a key with these attributes (usage limited to what the policy allows).
pub(super) fn key_template(attributes: &KeyAttributes) -> Result<Public, Status> {
    let f = attributes.policy.usage_flags;
    let decrypt = f.decrypt && attributes.key_type == KeyType::RsaKeyPair;
    // A TPM key must be able to sign or decrypt; a verify-only key gets the signing attribute
    // (the policy still refuses to sign with it).
    let sign = f.sign_hash || f.sign_message || !decrypt;
    let object = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_sign_encrypt(sign)
        .with_decrypt(decrypt)
        .build()
        .map_err(template_error)?;
    let builder = PublicBuilder::new()
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(object);
    let built = match attributes.key_type {
        KeyType::RsaKeyPair => {
            let bits = rsa_key_bits(attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
            builder
                .with_public_algorithm(PublicAlgorithm::Rsa)
                .with_rsa_parameters(
                    PublicRsaParametersBuilder::new()
                        .with_scheme(RsaScheme::Null)
                        .with_key_bits(bits)
                        .with_exponent(RsaExponent::default())
                        .with_is_signing_key(sign)
                        .with_is_decryption_key(decrypt)
                        .with_restricted(false)
                        .build()
                        .map_err(template_error)?,
                )
                .with_rsa_unique_identifier(PublicKeyRsa::default())
                .build()
        }
        KeyType::EccKeyPair { curve_family } => {
            let curve = curve(curve_family, attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
            builder
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new()
                        .with_ecc_scheme(ecdsa_scheme(attributes.policy.permitted_algorithms))
                        .with_curve(curve)
                        .with_key_derivation_function_scheme(
                            tss_esapi::structures::KeyDerivationFunctionScheme::Null,
                        )
                        .with_is_signing_key(sign)
                        .with_is_decryption_key(false)
                        .with_restricted(false)
                        .build()
                        .map_err(template_error)?,
                )
                .with_ecc_unique_identifier(EccPoint::default())
                .build()
        }
        _ => return Err(Status::PsaErrorNotSupported),
    };
    built.map_err(|e| {
        tracing::error!("TPM key template: {e}");
        Status::PsaErrorGenericError
    })
}

/// The public key of a TPM key, in PSA export format.
pub(super) fn export_public(public: &Public, bits: u32) -> Result<Vec<u8>, Status> {
    match tss_esapi::utils::PublicKey::try_from(public.clone()) {
        Ok(tss_esapi::utils::PublicKey::Rsa(n)) => rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from(65537u32),
        )
        .ok()
        .and_then(|k| k.to_pkcs1_der().ok())
        .map(|der| der.as_bytes().to_vec())
        .ok_or(Status::PsaErrorHardwareFailure),
        Ok(tss_esapi::utils::PublicKey::Ecc { x, y }) => {
            let len = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
            if x.len() > len || y.len() > len {
                return Err(Status::PsaErrorHardwareFailure);
            }
            let mut point = vec![0x04];
            for c in [x, y] {
                point.resize(point.len() + len - c.len(), 0);
                point.extend_from_slice(&c);
            }
            Ok(point)
        }
        Err(e) => Err(tpm_error("reading a public key")(e)),
    }
}

/// The public area upstream's TPM provider gave a key with these attributes (through
/// tss-esapi's transient key context), with the public key upstream recorded: what the key's
/// private blob is bound to. Signing and decryption both allowed, the policy's signature
/// scheme fixed, exponent 0.
pub(super) fn upstream_key_public(
    attributes: &KeyAttributes,
    public: &crate::migrate::format::TpmPublic,
) -> Result<Public, Status> {
    use crate::migrate::format::TpmPublic;
    use AsymmetricSignature as S;
    let hash = |h: SignHash| match h {
        SignHash::Specific(h) => hashing(h).map(HashScheme::new),
        SignHash::Any => None,
    };
    let alg = attributes.policy.permitted_algorithms;
    let decrypt = matches!(alg, Algorithm::AsymmetricEncryption(_));
    let object = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(decrypt)
        .with_sign_encrypt(true)
        .with_restricted(false)
        .build()
        .map_err(template_error)?;
    let builder = PublicBuilder::new()
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(object);
    let built = match (attributes.key_type, public) {
        (KeyType::RsaKeyPair, TpmPublic::Rsa(n)) => {
            let scheme = match alg {
                Algorithm::AsymmetricSignature(S::RsaPkcs1v15Sign { hash_alg }) => {
                    RsaScheme::RsaSsa(hash(hash_alg).ok_or(Status::PsaErrorNotSupported)?)
                }
                Algorithm::AsymmetricSignature(S::RsaPss { hash_alg }) => {
                    RsaScheme::RsaPss(hash(hash_alg).ok_or(Status::PsaErrorNotSupported)?)
                }
                Algorithm::AsymmetricEncryption(_) => RsaScheme::Null,
                _ => return Err(Status::PsaErrorNotSupported),
            };
            let bits = rsa_key_bits(attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
            builder
                .with_public_algorithm(PublicAlgorithm::Rsa)
                .with_rsa_parameters(
                    PublicRsaParametersBuilder::new()
                        .with_scheme(scheme)
                        .with_key_bits(bits)
                        .with_exponent(RsaExponent::default())
                        .with_is_signing_key(true)
                        .with_is_decryption_key(decrypt)
                        .with_restricted(false)
                        .build()
                        .map_err(template_error)?,
                )
                .with_rsa_unique_identifier(
                    PublicKeyRsa::try_from(n.clone()).map_err(|_| Status::PsaErrorDataCorrupt)?,
                )
                .build()
        }
        (KeyType::EccKeyPair { curve_family }, TpmPublic::Ecc { x, y }) => {
            let Algorithm::AsymmetricSignature(S::Ecdsa { hash_alg }) = alg else {
                return Err(Status::PsaErrorNotSupported);
            };
            let scheme = EccScheme::EcDsa(hash(hash_alg).ok_or(Status::PsaErrorNotSupported)?);
            let curve = curve(curve_family, attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
            let coordinate = |c: &Vec<u8>| {
                EccParameter::try_from(c.clone()).map_err(|_| Status::PsaErrorDataCorrupt)
            };
            builder
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new_unrestricted_signing_key(scheme, curve)
                        .build()
                        .map_err(template_error)?,
                )
                .with_ecc_unique_identifier(EccPoint::new(coordinate(x)?, coordinate(y)?))
                .build()
        }
        _ => return Err(Status::PsaErrorDataCorrupt),
    };
    built.map_err(template_error)
}
