//! Operations with a key on the token: signatures and their verification, RSA encryption
//! and decryption, AEAD, MACs, hashes, ECDH and random bytes.

use cryptoki::error::Error;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass};
use parsec_psa::{
    Aead, AsymmetricEncryption, AsymmetricSignature, Hash, KeyType, Mac, RawKeyAgreement, Secret,
};
use parsec_wire::Status;

use super::mechanisms::{
    coordinate_len, digest_mechanism, gcm_tag_len, hmac_len, hmac_mechanism, oaep_params,
    refused_parameters, signature_mechanism,
};
use super::{P11Key, Pkcs11Backend};
use crate::engine::oaep;
use crate::providers::hardware::HwKey;

impl Pkcs11Backend {
    pub(super) fn sign_hash_on_token(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let (mechanism, data) = signature_mechanism(alg, hash)?;
        let signature = self
            .token
            .with_session(|s| s.sign(&mechanism, loaded.private, &data))?;
        if alg.is_ecc() && signature.len() != 2 * coordinate_len(key.attributes.bits) {
            tracing::error!(
                "{} returned an ECDSA signature of {} bytes",
                self.token.description,
                signature.len()
            );
            return Err(Status::PsaErrorHardwareFailure);
        }
        Ok(signature)
    }

    pub(super) fn verify_hash_on_token(
        &self,
        _key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricSignature,
        hash: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), Status>> {
        let public = loaded.public.filter(|_| !self.software_public)?;
        Some(
            signature_mechanism(alg, hash).and_then(|(mechanism, data)| {
                self.token
                    .with_session(|s| s.verify(&mechanism, public, &data, signature))
            }),
        )
    }

    pub(super) fn encrypt_on_token(
        &self,
        _key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricEncryption,
        plaintext: &[u8],
        salt: Option<&[u8]>,
    ) -> Option<Result<Vec<u8>, Status>> {
        let public = loaded.public.filter(|_| !self.software_public)?;
        let label = salt.unwrap_or_default();
        let mechanism = match alg {
            AsymmetricEncryption::RsaPkcs1v15Crypt => Mechanism::RsaPkcs,
            AsymmetricEncryption::RsaOaep { hash_alg } => {
                Mechanism::RsaPkcsOaep(oaep_params(hash_alg, label)?)
            }
        };
        // Parameters the token refuses: encrypt here with the public key instead.
        self.token
            .with_session(|s| match s.encrypt(&mechanism, public, plaintext) {
                Err(e) if refused_parameters(&e) => Ok(None),
                other => other.map(Some),
            })
            .transpose()
    }

    pub(super) fn decrypt_on_token(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        let private = loaded.private;
        let hash = match alg {
            AsymmetricEncryption::RsaPkcs1v15Crypt => {
                // Tokens report a bad padding as invalid encrypted data or (SoftHSM2) as a
                // general failure: with the key and mechanism checked, both are the padding's.
                return self
                    .token
                    .with_session(|s| s.decrypt(&Mechanism::RsaPkcs, private, ciphertext))
                    .map(Secret::new)
                    .map_err(|e| match e {
                        Status::PsaErrorGenericError => Status::PsaErrorInvalidPadding,
                        other => other,
                    });
            }
            AsymmetricEncryption::RsaOaep { hash_alg } => hash_alg,
        };
        let label = salt.unwrap_or_default();
        let params = oaep_params(hash, label).ok_or(Status::PsaErrorNotSupported)?;
        let k = coordinate_len(key.attributes.bits);
        let try_token = self.token.mechanism(MechanismType::RSA_PKCS_OAEP).is_some();
        let decrypted = self
            .token
            .with_session(|s| -> Result<Result<Secret, Status>, Error> {
                if try_token {
                    match s.decrypt(&Mechanism::RsaPkcsOaep(params), private, ciphertext) {
                        Err(e) if refused_parameters(&e) => {}
                        other => return other.map(|p| Ok(Secret::new(p))),
                    }
                }
                // The token lacks these OAEP parameters: raw RSA there, the padding removed here.
                if ciphertext.len() != k {
                    return Ok(Err(Status::PsaErrorInvalidPadding));
                }
                let em =
                    zeroize::Zeroizing::new(s.decrypt(&Mechanism::RsaX509, private, ciphertext)?);
                let mut padded = zeroize::Zeroizing::new(vec![0u8; k.saturating_sub(em.len())]);
                padded.extend_from_slice(&em);
                Ok(oaep::decode(hash, label, &padded, k))
            })?;
        decrypted
    }

    pub(super) fn aead_on_token(
        &self,
        loaded: &P11Key,
        alg: Aead,
        encrypt: bool,
        nonce: &[u8],
        additional_data: &[u8],
        input: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let tag_len = gcm_tag_len(alg).ok_or(Status::PsaErrorNotSupported)?;
        if nonce.is_empty() || (!encrypt && input.len() < tag_len) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        let tag_bits = u64::try_from(tag_len * 8).unwrap_or(0).into();
        let key = loaded.private;
        let result = self.token.with_session(|s| {
            let mut iv = nonce.to_vec();
            let mechanism = Mechanism::AesGcm(GcmParams::new(&mut iv, additional_data, tag_bits)?);
            if encrypt {
                s.encrypt(&mechanism, key, input)
            } else {
                s.decrypt(&mechanism, key, input)
            }
        });
        // A tag that does not match is PSA's invalid signature. Tokens report it as invalid
        // encrypted data, or (SoftHSM2) as a general failure: with the key, nonce and tag
        // length checked above, a failed decryption is the tag's.
        result.map_err(|e| match e {
            Status::PsaErrorInvalidPadding | Status::PsaErrorGenericError if !encrypt => {
                Status::PsaErrorInvalidSignature
            }
            other => other,
        })
    }

    pub(super) fn mac_on_token(
        &self,
        loaded: &P11Key,
        alg: Mac,
        input: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let (hash, len) = hmac_len(alg).ok_or(Status::PsaErrorNotSupported)?;
        let (_, mechanism) = hmac_mechanism(hash).ok_or(Status::PsaErrorNotSupported)?;
        let mut mac = self
            .token
            .with_session(|s| s.sign(&mechanism, loaded.private, input))?;
        mac.truncate(len);
        Ok(mac)
    }

    pub(super) fn hash_on_token(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        let (m, mechanism) = digest_mechanism(alg).ok_or(Status::PsaErrorNotSupported)?;
        if !self.has(m) {
            return Err(Status::PsaErrorNotSupported);
        }
        self.token.with_session(|s| s.digest(&mechanism, input))
    }

    pub(super) fn key_agreement_on_token(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: RawKeyAgreement,
        peer: &[u8],
    ) -> Result<Secret, Status> {
        let len = coordinate_len(key.attributes.bits);
        if alg != RawKeyAgreement::Ecdh
            || !matches!(key.attributes.key_type, KeyType::EccKeyPair { .. })
        {
            return Err(Status::PsaErrorNotSupported);
        }
        if peer.len() != 1 + 2 * len || peer[0] != 0x04 {
            return Err(Status::PsaErrorInvalidArgument);
        }
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(CkKeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::ValueLen(u64::try_from(len).unwrap_or(0).into()),
        ];
        let value = self.token.with_session(|s| {
            let mechanism = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer));
            let shared = s.derive_key(&mechanism, loaded.private, &template)?;
            let value = s.get_attributes(shared, &[AttributeType::Value]);
            let _ = s.destroy_object(shared);
            Ok(value?.into_iter().find_map(|a| match a {
                Attribute::Value(v) => Some(Secret::new(v)),
                _ => None,
            }))
        })?;
        value.ok_or(Status::PsaErrorHardwareFailure)
    }

    pub(super) fn generate_random_on_token(&self, size: usize) -> Result<Secret, Status> {
        if size == 0 {
            return Ok(Secret::default());
        }
        let size = u32::try_from(size).map_err(|_| Status::PsaErrorInvalidArgument)?;
        self.token
            .with_session(|s| s.generate_random_vec(size))
            .map(Secret::new)
    }
}
