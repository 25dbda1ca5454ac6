//! The [`Device`] implementation: keys made in the TPM and kept as blobs in our store,
//! signatures, decryption and random bytes, each run on the TPM thread.

use parsec_psa::ops::CheckType;
use parsec_psa::{
    AsymmetricEncryption, AsymmetricSignature, EccFamily, KeyAttributes, KeyType, Secret, SignHash,
};
use parsec_wire::{Opcode, Status};
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::structures::{
    Data, Digest, HashScheme, HashcheckTicket, Private, Public, PublicKeyRsa, RsaDecryptionScheme,
    Signature,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;

use super::templates::{
    export_public, hashing, key_template, signature_scheme, supports_alg, upstream_key_public,
};
use super::thread::is;
use super::{tpm_error, TpmBackend, TpmKey};
use crate::engine::oaep;
use crate::providers::hardware::{Created, Device, HwKey};
use crate::providers::keyed::Serves;

/// Bytes asked of TPM2_GetRandom at a time (a TPM returns at most one digest's worth).
const RANDOM_CHUNK: usize = 32;

/// What a TPM serves: signatures and RSA encryption with its keys, and random bytes.
const SERVES: Serves = Serves {
    signatures: true,
    asymmetric_encryption: true,
    export: false,
    random: true,
    hashes: false,
    aead: false,
    ciphers: false,
    macs: false,
    key_agreement: false,
};

/// Blob layout: the marshalled public area's length (u16, big-endian), the public area, the
/// private blob. A key taken over from upstream is prefixed with `0xFF 0x01`, its auth value's
/// length (u8) and the auth value: a u16 length of a public area never starts with `0xFF`.
fn encode_blob(key: &TpmKey) -> Result<Vec<u8>, Status> {
    let public = key
        .public
        .marshall()
        .map_err(tpm_error("marshalling a key"))?;
    let len = u16::try_from(public.len()).map_err(|_| Status::PsaErrorGenericError)?;
    let mut out = Vec::new();
    if let Some(auth) = &key.upstream_auth {
        let auth_len = u8::try_from(auth.len()).map_err(|_| Status::PsaErrorGenericError)?;
        out.extend_from_slice(&[UPSTREAM_KEY, 1, auth_len]);
        out.extend_from_slice(auth);
    }
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&public);
    out.extend_from_slice(key.private.value());
    Ok(out)
}

/// The first byte of the blob of a key taken over from upstream.
const UPSTREAM_KEY: u8 = 0xFF;

fn decode_blob(blob: &[u8]) -> Option<TpmKey> {
    let (upstream_auth, blob) = match blob.first()? {
        &UPSTREAM_KEY => {
            if *blob.get(1)? != 1 {
                return None;
            }
            let len = usize::from(*blob.get(2)?);
            let auth = blob.get(3..3 + len)?;
            (
                Some(zeroize::Zeroizing::new(auth.to_vec())),
                blob.get(3 + len..)?,
            )
        }
        _ => (None, blob),
    };
    let len = usize::from(u16::from_be_bytes(blob.get(..2)?.try_into().ok()?));
    let public = Public::unmarshall(blob.get(2..2 + len)?).ok()?;
    let private = Private::try_from(blob.get(2 + len..)?.to_vec()).ok()?;
    Some(TpmKey {
        public,
        private,
        upstream_auth,
    })
}

impl Device for TpmBackend {
    type Loaded = TpmKey;

    fn identity(&self) -> [u8; 32] {
        self.identity
    }

    fn describe(&self) -> &str {
        &self.described
    }

    fn serves(&self) -> Serves {
        SERVES
    }

    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool {
        let sized = match attributes.key_type {
            KeyType::RsaKeyPair | KeyType::RsaPublicKey => {
                self.sizes.rsa.contains(&attributes.bits)
            }
            KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
                curve_family == EccFamily::SecpR1 && self.sizes.ecc.contains(&attributes.bits)
            }
            _ => false,
        };
        sized && check != CheckType::Import && supports_alg(attributes.policy.permitted_algorithms)
    }

    fn generate(&self, attributes: &KeyAttributes) -> Result<Created, Status> {
        let template = key_template(attributes)?;
        let bits = attributes.bits;
        self.run(move |state| {
            let created = state
                .with_room(|state| {
                    let template = template.clone();
                    state
                        .context
                        .create(state.primary, template, None, None, None, None)
                })
                .map_err(tpm_error("making a key"))?;
            Ok(Created {
                public: export_public(&created.out_public, bits)?,
                handle: encode_blob(&TpmKey {
                    public: created.out_public,
                    private: created.out_private,
                    upstream_auth: None,
                })?,
            })
        })
    }

    /// A key pair of upstream's TPM provider: `handle` is its record (tss-esapi's
    /// `PasswordContext`). The key is loaded under upstream's storage key once, which shows
    /// this TPM (its owner hierarchy, not cleared since) is the one that made it.
    fn adopt(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<Created, Status> {
        if !attributes.key_type.is_key_pair() || !self.supports(attributes, CheckType::Use) {
            return Err(Status::PsaErrorNotSupported);
        }
        let record =
            crate::migrate::format::tpm_record(handle).map_err(|_| Status::PsaErrorDataCorrupt)?;
        if record.private.is_empty() {
            return Err(Status::PsaErrorNotSupported);
        }
        let key = TpmKey {
            public: upstream_key_public(attributes, &record.public)?,
            private: Private::try_from(record.private.to_vec())
                .map_err(|_| Status::PsaErrorDataCorrupt)?,
            upstream_auth: Some(record.auth_value.clone()),
        };
        let public = export_public(&key.public, attributes.bits)?;
        let handle = encode_blob(&key)?;
        self.run(move |state| {
            state.check_upstream(&key).map_err(|e| {
                use tss_esapi::constants::response_code::Tss2ResponseCodeKind as Rc;
                tracing::warn!("TPM: a key of upstream's fails its check: {e}");
                if [Rc::Integrity, Rc::Binding].iter().any(|k| is(&e, *k)) {
                    Status::PsaErrorDoesNotExist
                } else if [Rc::AuthFail, Rc::BadAuth].iter().any(|k| is(&e, *k)) {
                    Status::PsaErrorNotPermitted
                } else {
                    Status::PsaErrorHardwareFailure
                }
            })
        })?;
        Ok(Created { handle, public })
    }

    fn import(&self, _attributes: &KeyAttributes, _material: &[u8]) -> Result<Created, Status> {
        Err(Status::PsaErrorNotSupported)
    }

    fn load(&self, _attributes: &KeyAttributes, handle: &[u8]) -> Result<TpmKey, Status> {
        decode_blob(handle).ok_or(Status::PsaErrorDataCorrupt)
    }

    fn destroy(&self, _attributes: &KeyAttributes, handle: &[u8]) -> Result<(), Status> {
        // The blob in the store was the key; only a loaded copy may remain in the TPM.
        let Some(key) = decode_blob(handle) else {
            return Ok(());
        };
        self.run(move |state| {
            state.forget(&key);
            Ok(())
        })
    }

    fn sign_hash(
        &self,
        key: &HwKey<TpmKey>,
        loaded: &TpmKey,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let scheme = signature_scheme(alg).ok_or(Status::PsaErrorNotSupported)?;
        if matches!(alg.hash(), Some(SignHash::Any) | None) {
            return Err(Status::PsaErrorNotSupported);
        }
        let digest =
            Digest::try_from(hash.to_vec()).map_err(|_| Status::PsaErrorInvalidArgument)?;
        let len = usize::try_from(key.attributes.bits.div_ceil(8)).unwrap_or(0);
        self.with_key(loaded, move |context, handle| {
            let validation = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
                tag: TPM2_ST_HASHCHECK,
                hierarchy: TPM2_RH_NULL,
                digest: Default::default(),
            })
            .map_err(tpm_error("making a hash check ticket"))?;
            let signature = context
                .sign(handle, digest, scheme, validation)
                .map_err(tpm_error("signing"))?;
            match signature {
                Signature::RsaSsa(s) | Signature::RsaPss(s) => Ok(s.signature().value().to_vec()),
                Signature::EcDsa(s) => {
                    let mut out = Vec::with_capacity(2 * len);
                    for part in [s.signature_r().value(), s.signature_s().value()] {
                        if part.len() > len {
                            return Err(Status::PsaErrorHardwareFailure);
                        }
                        out.resize(out.len() + len - part.len(), 0);
                        out.extend_from_slice(part);
                    }
                    Ok(out)
                }
                _ => Err(Status::PsaErrorHardwareFailure),
            }
        })
    }

    fn decrypt(
        &self,
        key: &HwKey<TpmKey>,
        loaded: &TpmKey,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        let label = salt.unwrap_or_default().to_vec();
        let k = usize::try_from(key.attributes.bits.div_ceil(8)).unwrap_or(0);
        if ciphertext.len() != k {
            return Err(Status::PsaErrorInvalidPadding);
        }
        let (scheme, software_oaep) = match alg {
            AsymmetricEncryption::RsaPkcs1v15Crypt => (RsaDecryptionScheme::RsaEs, None),
            AsymmetricEncryption::RsaOaep { hash_alg } => match hashing(hash_alg) {
                Some(h) if label.is_empty() => {
                    (RsaDecryptionScheme::Oaep(HashScheme::new(h)), None)
                }
                // A label, or SHA-1: raw RSA in the TPM, the padding removed here.
                _ => (RsaDecryptionScheme::Null, Some(hash_alg)),
            },
        };
        let ciphertext = PublicKeyRsa::try_from(ciphertext.to_vec())
            .map_err(|_| Status::PsaErrorInvalidArgument)?;
        let out = self.with_key(loaded, move |context, handle| {
            context
                .rsa_decrypt(handle, ciphertext, scheme, Data::default())
                .map(|m| zeroize::Zeroizing::new(m.value().to_vec()))
                .map_err(|e| {
                    tracing::debug!("TPM: decryption failed: {e}");
                    Status::PsaErrorInvalidPadding
                })
        })?;
        match software_oaep {
            None => Ok(Secret::new(out.to_vec())),
            Some(hash) => {
                let mut padded = zeroize::Zeroizing::new(vec![0u8; k.saturating_sub(out.len())]);
                padded.extend_from_slice(&out);
                oaep::decode(hash, &label, &padded, k)
            }
        }
    }

    fn generate_random(&self, size: usize) -> Result<Secret, Status> {
        self.run(move |state| {
            let mut out = zeroize::Zeroizing::new(Vec::with_capacity(size));
            while out.len() < size {
                let want = (size - out.len()).min(RANDOM_CHUNK);
                // TPM2_GetRandom takes no authorisation session.
                let bytes = state
                    .context
                    .execute_without_session(|c| c.get_random(want))
                    .map_err(tpm_error("getting random bytes"))?;
                if bytes.value().is_empty() {
                    return Err(Status::PsaErrorInsufficientEntropy);
                }
                let take = bytes.value().len().min(want);
                out.extend_from_slice(&bytes.value()[..take]);
            }
            Ok(Secret::new(std::mem::take(&mut *out)))
        })
    }

    fn close(&self) {
        self.end_thread();
    }

    fn blocks(&self, _opcode: Opcode) -> bool {
        // Every command is a round trip to a device that may take milliseconds to seconds.
        true
    }
}
