//! The software provider (id 1). Upstream configs select it with `provider_type = "MbedCrypto"`
//! (or our own name, `"Software"`), so upstream clients reach it as they reach upstream's.
//!
//! Keys live in the key store (material sealed at rest); a bounded cache keeps recently used keys
//! parsed, so a signature does not re-parse its key. Each operation below names the usage flag
//! it needs and the algorithm the key's policy must permit; the engines ([`asym`], [`sym`])
//! check that the algorithm fits the key type and do the cryptography ([`crate::engine`]).

use std::sync::Arc;

use parsec_keystore::{KeyId, KeyRecord, KeyStore, StoreError};
use parsec_psa::ops::{self, CheckType};
use parsec_psa::{Algorithm, KeyAttributes, OpResult, Operation, Secret};
use parsec_wire::{Opcode, ProviderId, Status};

use super::{Provider, ProviderInfo};
use crate::auth::AppId;
use crate::engine::{asym, sym};
use crate::providers::cache::Cache;
use crate::providers::policy::{fits, uses_deprecated, Usage};

/// A key ready for use.
struct Key {
    attributes: KeyAttributes,
    loaded: Loaded,
}

/// Parsed material.
enum Loaded {
    Asym(asym::AsymKey),
    Sym(Secret),
}

/// Upstream's UUID for its software (Mbed Crypto) provider: clients parse and may compare it.
pub const SOFTWARE_UUID: &str = "1c1139dc-ad7c-47dc-ad6b-db6fdb466552";

/// Longest key name accepted, in bytes.
pub const MAX_KEY_NAME_LEN: usize = 1024;

const OPCODES: &[Opcode] = &[
    Opcode::PsaGenerateKey,
    Opcode::PsaDestroyKey,
    Opcode::PsaSignHash,
    Opcode::PsaVerifyHash,
    Opcode::PsaImportKey,
    Opcode::PsaExportPublicKey,
    Opcode::PsaAsymmetricEncrypt,
    Opcode::PsaAsymmetricDecrypt,
    Opcode::PsaExportKey,
    Opcode::PsaGenerateRandom,
    Opcode::PsaHashCompute,
    Opcode::PsaHashCompare,
    Opcode::PsaAeadEncrypt,
    Opcode::PsaAeadDecrypt,
    Opcode::PsaRawKeyAgreement,
    Opcode::PsaCipherEncrypt,
    Opcode::PsaCipherDecrypt,
    Opcode::PsaMacCompute,
    Opcode::PsaMacVerify,
    Opcode::PsaSignMessage,
    Opcode::PsaVerifyMessage,
    Opcode::CanDoCrypto,
];

/// The software provider.
pub struct Software {
    info: ProviderInfo,
    store: Arc<dyn KeyStore>,
    cache: Cache<Key>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
}

/// The status a store failure is reported with.
pub fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::AlreadyExists => Status::PsaErrorAlreadyExists,
        StoreError::Corrupt => Status::PsaErrorDataCorrupt,
        StoreError::QuotaExceeded { .. } => Status::PsaErrorInsufficientStorage,
        StoreError::Full => {
            tracing::error!("the key store's disk is full");
            Status::PsaErrorInsufficientStorage
        }
        other => {
            tracing::error!("{other}");
            Status::PsaErrorStorageFailure
        }
    }
}

/// The store identity of `app`'s key `name`.
pub fn key_id(app: &AppId, name: &str) -> KeyId {
    KeyId {
        auth: app.auth.store_tag(),
        app: app.name.clone(),
        name: name.to_string(),
    }
}

fn is_asymmetric(attributes: &KeyAttributes) -> bool {
    use parsec_psa::KeyType as T;
    matches!(
        attributes.key_type,
        T::RsaKeyPair
            | T::RsaPublicKey
            | T::EccKeyPair { .. }
            | T::EccPublicKey { .. }
            | T::DhKeyPair { .. }
            | T::DhPublicKey { .. }
    )
}

/// Refuses an empty or overlong key name.
pub fn check_name(name: &str) -> Result<(), Status> {
    if name.is_empty() || name.len() > MAX_KEY_NAME_LEN {
        return Err(Status::PsaErrorInvalidArgument);
    }
    Ok(())
}

impl Software {
    pub fn new(
        store: Arc<dyn KeyStore>,
        allow_deprecated: bool,
        buffer_size_limit: usize,
    ) -> Software {
        Software {
            info: ProviderInfo {
                id: ProviderId::MbedCrypto,
                uuid: SOFTWARE_UUID,
                description: "Software provider: PSA Crypto operations in this process, keys sealed in the key store".into(),
                vendor: "Parsec in Rust".into(),
                version: (0, 1, 0),
            },
            store,
            cache: Cache::new(),
            allow_deprecated,
            buffer_size_limit,
        }
    }

    fn load(attributes: KeyAttributes, material: &[u8]) -> Result<Loaded, Status> {
        if is_asymmetric(&attributes) {
            Ok(Loaded::Asym(asym::load(&attributes, material)?))
        } else {
            Ok(Loaded::Sym(Secret::new(material.to_vec())))
        }
    }

    /// The key `name` of `app`, checked for `usage` and for `alg` against its policy.
    fn key(
        &self,
        app: &AppId,
        name: &str,
        usage: Usage,
        alg: Option<Algorithm>,
    ) -> Result<Arc<Key>, Status> {
        let id = key_id(app, name);
        let key = self.cache.get_or_load(&id, || {
            let record = self
                .store
                .get(&id)
                .map_err(store_status)?
                .filter(|r| r.provider == ProviderId::MbedCrypto as u8)
                .ok_or(Status::PsaErrorDoesNotExist)?;
            let attributes = parsec_psa::decode_key_attributes(&record.attributes)
                .map_err(|_| Status::PsaErrorDataCorrupt)?;
            Ok(Key {
                loaded: Software::load(attributes, &record.material)?,
                attributes,
            })
        })?;
        if !usage.allowed_by(&key.attributes.policy.usage_flags) {
            return Err(Status::PsaErrorNotPermitted);
        }
        if let Some(alg) = alg {
            if !key.attributes.policy.permitted_algorithms.permits(alg) {
                return Err(Status::PsaErrorNotPermitted);
            }
        }
        Ok(key)
    }

    fn create(
        &self,
        app: &AppId,
        name: &str,
        attributes: KeyAttributes,
        material: Secret,
    ) -> Result<(), Status> {
        let record = KeyRecord {
            provider: ProviderId::MbedCrypto as u8,
            attributes: parsec_psa::encode_key_attributes(&attributes),
            material: zeroize::Zeroizing::new(material.expose().to_vec()),
        };
        self.store
            .create(&key_id(app, name), &record)
            .map_err(store_status)
    }

    fn generate(&self, app: &AppId, op: ops::GenerateKey) -> Result<(), Status> {
        check_name(&op.key_name)?;
        let attributes = op.attributes;
        if !self.allow_deprecated && uses_deprecated(attributes.policy.permitted_algorithms) {
            return Err(Status::DeprecatedPrimitive);
        }
        if !fits(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        // A key its one permitted algorithm cannot use here (an ECC key for an RSA scheme) is not
        // made, as CanDoCrypto answers.
        if is_asymmetric(&attributes)
            && !asym::supports_alg(attributes.key_type, attributes.policy.permitted_algorithms)
        {
            return Err(Status::PsaErrorNotSupported);
        }
        // Refuse a taken name before spending time on generation; create re-checks atomically.
        if self
            .store
            .get(&key_id(app, &op.key_name))
            .map_err(store_status)?
            .is_some()
        {
            return Err(Status::PsaErrorAlreadyExists);
        }
        let material = if is_asymmetric(&attributes) {
            asym::generate(&attributes)?
        } else {
            sym::generate(&attributes)?
        };
        self.create(app, &op.key_name, attributes, material)
    }

    fn import(&self, app: &AppId, op: ops::ImportKey) -> Result<(), Status> {
        check_name(&op.key_name)?;
        let mut attributes = op.attributes;
        if uses_deprecated(attributes.policy.permitted_algorithms) {
            tracing::warn!(
                "key `{}` of {} is imported for a deprecated algorithm",
                op.key_name,
                app.name
            );
        }
        if !fits(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        let (bits, material) = if is_asymmetric(&attributes) {
            asym::import(&attributes, op.data.expose())?
        } else {
            sym::import(&attributes, op.data.expose())?
        };
        attributes.bits = bits;
        self.create(app, &op.key_name, attributes, material)
    }

    fn destroy(&self, app: &AppId, name: &str) -> Result<(), Status> {
        let id = key_id(app, name);
        match self.store.get(&id).map_err(store_status)? {
            Some(r) if r.provider == ProviderId::MbedCrypto as u8 => {}
            _ => return Err(Status::PsaErrorDoesNotExist),
        }
        let deleted = self.store.delete(&id).map_err(store_status)?;
        self.cache.evict(&id);
        if deleted {
            Ok(())
        } else {
            Err(Status::PsaErrorDoesNotExist)
        }
    }

    /// CanDoCrypto, with upstream's answers: 0 when this provider could do it, else
    /// NotSupported (a key without usage flags or without algorithm cannot be used; a
    /// public-key type cannot be generated; an algorithm must fit the key type).
    fn can_do(&self, op: &ops::CanDoCrypto) -> Result<(), Status> {
        let attributes = &op.attributes;
        let alg = attributes.policy.permitted_algorithms;
        let supported = if is_asymmetric(attributes) {
            asym::supports_type(attributes.key_type, attributes.bits)
                && asym::supports_alg(attributes.key_type, alg)
        } else {
            sym::supports_type(attributes.key_type, attributes.bits)
        };
        let possible = supported
            && fits(attributes.key_type, alg)
            && (self.allow_deprecated || !uses_deprecated(alg))
            && match op.check_type {
                CheckType::Use => {
                    attributes.policy.usage_flags != parsec_psa::UsageFlags::default()
                        && alg != Algorithm::None
                }
                CheckType::Generate => !attributes.key_type.is_public_key(),
                CheckType::Import => true,
                CheckType::Derive => false,
            };
        if possible {
            Ok(())
        } else {
            Err(Status::PsaErrorNotSupported)
        }
    }

    fn asym_key(key: &Key) -> Result<&asym::AsymKey, Status> {
        match &key.loaded {
            Loaded::Asym(k) => Ok(k),
            Loaded::Sym(_) => Err(Status::PsaErrorInvalidArgument),
        }
    }

    fn sym_key(key: &Key) -> Result<&[u8], Status> {
        match &key.loaded {
            Loaded::Sym(k) => Ok(k.expose()),
            Loaded::Asym(_) => Err(Status::PsaErrorInvalidArgument),
        }
    }
}

impl Provider for Software {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn opcodes(&self) -> &[Opcode] {
        OPCODES
    }

    fn delete_client(&self, app: &AppId) {
        self.cache.evict_app(app.auth.store_tag(), &app.name);
    }

    fn execute(&self, app: Option<&AppId>, op: Operation) -> Result<OpResult, Status> {
        let app = || app.ok_or(Status::NotAuthenticated);
        use Algorithm as A;
        Ok(match op {
            Operation::PsaGenerateKey(op) => {
                self.generate(app()?, op)?;
                OpResult::PsaGenerateKey
            }
            Operation::PsaImportKey(op) => {
                self.import(app()?, op)?;
                OpResult::PsaImportKey
            }
            Operation::PsaDestroyKey(op) => {
                self.destroy(app()?, &op.key_name)?;
                OpResult::PsaDestroyKey
            }
            Operation::PsaExportPublicKey(op) => {
                let key = self.key(app()?, &op.key_name, Usage::None, None)?;
                let data = asym::export_public(Software::asym_key(&key)?)?;
                OpResult::PsaExportPublicKey(ops::ExportPublicKeyResult { data })
            }
            Operation::PsaExportKey(op) => {
                let app = app()?;
                // PSA: a public key is always exportable; anything secret needs the flag.
                let key = self.key(app, &op.key_name, Usage::None, None)?;
                if !key.attributes.key_type.is_public_key()
                    && !Usage::Export.allowed_by(&key.attributes.policy.usage_flags)
                {
                    return Err(Status::PsaErrorNotPermitted);
                }
                let data = match &key.loaded {
                    Loaded::Asym(k) => asym::export(k)?,
                    Loaded::Sym(k) => k.clone(),
                };
                OpResult::PsaExportKey(ops::ExportKeyResult { data })
            }
            Operation::PsaSignHash(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::SignHash,
                    Some(A::AsymmetricSignature(op.alg)),
                )?;
                let signature = asym::sign_hash(Software::asym_key(&key)?, op.alg, &op.hash)?;
                OpResult::PsaSignHash(ops::SignHashResult { signature })
            }
            Operation::PsaVerifyHash(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::VerifyHash,
                    Some(A::AsymmetricSignature(op.alg)),
                )?;
                asym::verify_hash(Software::asym_key(&key)?, op.alg, &op.hash, &op.signature)?;
                OpResult::PsaVerifyHash
            }
            Operation::PsaSignMessage(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::SignMessage,
                    Some(A::AsymmetricSignature(op.alg)),
                )?;
                let signature = asym::sign_message(Software::asym_key(&key)?, op.alg, &op.message)?;
                OpResult::PsaSignMessage(ops::SignMessageResult { signature })
            }
            Operation::PsaVerifyMessage(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::VerifyMessage,
                    Some(A::AsymmetricSignature(op.alg)),
                )?;
                asym::verify_message(
                    Software::asym_key(&key)?,
                    op.alg,
                    &op.message,
                    &op.signature,
                )?;
                OpResult::PsaVerifyMessage
            }
            Operation::PsaAsymmetricEncrypt(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::Encrypt,
                    Some(A::AsymmetricEncryption(op.alg)),
                )?;
                let ciphertext = asym::encrypt(
                    Software::asym_key(&key)?,
                    op.alg,
                    op.plaintext.expose(),
                    op.salt.as_deref(),
                )?;
                OpResult::PsaAsymmetricEncrypt(ops::AsymmetricEncryptResult { ciphertext })
            }
            Operation::PsaAsymmetricDecrypt(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::Decrypt,
                    Some(A::AsymmetricEncryption(op.alg)),
                )?;
                let plaintext = asym::decrypt(
                    Software::asym_key(&key)?,
                    op.alg,
                    &op.ciphertext,
                    op.salt.as_deref(),
                )?;
                OpResult::PsaAsymmetricDecrypt(ops::AsymmetricDecryptResult { plaintext })
            }
            Operation::PsaRawKeyAgreement(op) => {
                let alg = A::KeyAgreement(parsec_psa::KeyAgreement::Raw(op.alg));
                let key = self.key(app()?, &op.private_key_name, Usage::Derive, Some(alg))?;
                let shared_secret =
                    asym::raw_key_agreement(Software::asym_key(&key)?, op.alg, &op.peer_key)?;
                OpResult::PsaRawKeyAgreement(ops::RawKeyAgreementResult { shared_secret })
            }
            Operation::PsaAeadEncrypt(op) => {
                let key = self.key(app()?, &op.key_name, Usage::Encrypt, Some(A::Aead(op.alg)))?;
                let ciphertext = sym::aead_encrypt(
                    &key.attributes,
                    Software::sym_key(&key)?,
                    op.alg,
                    &op.nonce,
                    &op.additional_data,
                    op.plaintext.expose(),
                )?;
                OpResult::PsaAeadEncrypt(ops::AeadEncryptResult { ciphertext })
            }
            Operation::PsaAeadDecrypt(op) => {
                let key = self.key(app()?, &op.key_name, Usage::Decrypt, Some(A::Aead(op.alg)))?;
                let plaintext = sym::aead_decrypt(
                    &key.attributes,
                    Software::sym_key(&key)?,
                    op.alg,
                    &op.nonce,
                    &op.additional_data,
                    &op.ciphertext,
                )?;
                OpResult::PsaAeadDecrypt(ops::AeadDecryptResult { plaintext })
            }
            Operation::PsaCipherEncrypt(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::Encrypt,
                    Some(A::Cipher(op.alg)),
                )?;
                let ciphertext = sym::cipher_encrypt(
                    &key.attributes,
                    Software::sym_key(&key)?,
                    op.alg,
                    op.plaintext.expose(),
                )?;
                OpResult::PsaCipherEncrypt(ops::CipherEncryptResult { ciphertext })
            }
            Operation::PsaCipherDecrypt(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::Decrypt,
                    Some(A::Cipher(op.alg)),
                )?;
                let plaintext = sym::cipher_decrypt(
                    &key.attributes,
                    Software::sym_key(&key)?,
                    op.alg,
                    &op.ciphertext,
                )?;
                OpResult::PsaCipherDecrypt(ops::CipherDecryptResult { plaintext })
            }
            Operation::PsaMacCompute(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::SignMessage,
                    Some(A::Mac(op.alg)),
                )?;
                let mac =
                    sym::mac_compute(&key.attributes, Software::sym_key(&key)?, op.alg, &op.input)?;
                OpResult::PsaMacCompute(ops::MacComputeResult { mac })
            }
            Operation::PsaMacVerify(op) => {
                let key = self.key(
                    app()?,
                    &op.key_name,
                    Usage::VerifyMessage,
                    Some(A::Mac(op.alg)),
                )?;
                sym::mac_verify(
                    &key.attributes,
                    Software::sym_key(&key)?,
                    op.alg,
                    &op.input,
                    &op.mac,
                )?;
                OpResult::PsaMacVerify
            }
            Operation::PsaHashCompute(op) => {
                let hash = sym::hash_compute(op.alg, &op.input, self.allow_deprecated)?;
                OpResult::PsaHashCompute(ops::HashComputeResult { hash })
            }
            Operation::PsaHashCompare(op) => {
                sym::hash_compare(op.alg, &op.input, &op.hash, self.allow_deprecated)?;
                OpResult::PsaHashCompare
            }
            Operation::PsaGenerateRandom(op) => {
                let size = usize::try_from(op.size).unwrap_or(usize::MAX);
                if size > self.buffer_size_limit {
                    return Err(Status::ResponseTooLarge);
                }
                let random_bytes = sym::generate_random(size)?;
                OpResult::PsaGenerateRandom(ops::GenerateRandomResult { random_bytes })
            }
            Operation::CanDoCrypto(op) => {
                self.can_do(&op)?;
                OpResult::CanDoCrypto
            }
            _ => return Err(Status::PsaErrorNotSupported),
        })
    }
}

#[cfg(test)]
mod tests;
