//! What the hardware providers (PKCS#11, TPM 2.0) share: key records, policy checks and the
//! operations that need no hardware.
//!
//! A hardware key lives in its device; our key store keeps the key's attributes, the device's
//! reference to it (a PKCS#11 object id, a TPM key blob) and its public key. So exporting the
//! public key never reaches the device, and verification and encryption may run here, with
//! the public key (the backend says whether it does them itself). Imported public keys never
//! reach the device at all. A [`Backend`] does only what needs the private key or the device.

use std::sync::Arc;

use parsec_keystore::{KeyRecord, KeyStore};
use parsec_psa::ops::{self, CheckType};
use parsec_psa::{
    Aead, Algorithm, AsymmetricEncryption, AsymmetricSignature, Hash, KeyAgreement, KeyAttributes,
    Mac, OpResult, Operation, RawKeyAgreement, Secret, UsageFlags,
};
use parsec_wire::{Opcode, Status};

use super::cache::Cache;
use super::policy::{fits, uses_deprecated, Usage};
use super::software::{check_name, key_id, store_status};
use super::{Provider, ProviderInfo};
use crate::auth::AppId;
use crate::engine::{asym, sym};

/// What a backend made: its reference to the key and the public key (PSA export format).
pub struct Created {
    pub handle: Vec<u8>,
    pub public: Vec<u8>,
}

/// The part of a hardware provider that talks to the device.
pub trait Backend: Send + Sync + 'static {
    /// What the backend keeps about a key between operations (object handles, a parsed blob).
    type Loaded: Send + Sync + 'static;

    /// The opcodes served, besides those this layer serves alone (none: every opcode needs a
    /// check of what the device can do).
    fn opcodes(&self) -> &[Opcode];
    /// Whether the device can generate (`Generate`), import (`Import`) or use (`Use`) a key
    /// with these attributes (type, size and algorithm; policy rules are checked here).
    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool;
    /// Makes a key (pair) in the device.
    fn generate(&self, attributes: &KeyAttributes) -> Result<Created, Status>;
    /// Puts a key pair or secret key into the device: `material` is in PSA export format,
    /// already checked.
    fn import(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Created, Status>;
    /// Prepares a stored key for use.
    fn load(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<Self::Loaded, Status>;
    /// Removes a key from the device. A key the device no longer has is not an error.
    fn destroy(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<(), Status>;
    /// Signs a hash (checked against the algorithm's length) with a key pair.
    fn sign_hash(
        &self,
        key: &HwKey<Self::Loaded>,
        loaded: &Self::Loaded,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status>;
    /// Verifies on the device, or `None` to verify here with the public key.
    fn verify_hash(
        &self,
        _key: &HwKey<Self::Loaded>,
        _loaded: &Self::Loaded,
        _alg: AsymmetricSignature,
        _hash: &[u8],
        _signature: &[u8],
    ) -> Option<Result<(), Status>> {
        None
    }
    /// Encrypts on the device, or `None` to encrypt here with the public key.
    fn encrypt(
        &self,
        _key: &HwKey<Self::Loaded>,
        _loaded: &Self::Loaded,
        _alg: AsymmetricEncryption,
        _plaintext: &[u8],
        _salt: Option<&[u8]>,
    ) -> Option<Result<Vec<u8>, Status>> {
        None
    }
    /// Decrypts with a key pair.
    fn decrypt(
        &self,
        key: &HwKey<Self::Loaded>,
        loaded: &Self::Loaded,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status>;
    /// Random bytes from the device.
    fn generate_random(&self, size: usize) -> Result<Secret, Status>;
    /// AEAD encryption (ciphertext || tag) or decryption with a secret key.
    fn aead(
        &self,
        _loaded: &Self::Loaded,
        _alg: Aead,
        _encrypt: bool,
        _nonce: &[u8],
        _additional_data: &[u8],
        _input: &[u8],
    ) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// A MAC, at the algorithm's length, with a secret key.
    fn mac(&self, _loaded: &Self::Loaded, _alg: Mac, _input: &[u8]) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// A hash computed by the device.
    fn hash(&self, _alg: Hash, _input: &[u8]) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// Raw key agreement with a key pair; `peer` in public key export format.
    fn key_agreement(
        &self,
        _key: &HwKey<Self::Loaded>,
        _loaded: &Self::Loaded,
        _alg: RawKeyAgreement,
        _peer: &[u8],
    ) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// Whether an operation may take long enough that it must not run on a network thread.
    fn blocks(&self, opcode: Opcode) -> bool {
        opcode == Opcode::PsaGenerateKey
    }
}

/// A key ready for use.
pub struct HwKey<L> {
    pub attributes: KeyAttributes,
    /// The public key of an asymmetric key, parsed, and in PSA export format.
    pub public: Option<asym::AsymKey>,
    pub public_data: Vec<u8>,
    /// The backend's state; `None` for an imported public key, which the device never saw.
    loaded: Option<L>,
}

impl<L> HwKey<L> {
    /// The device's key: a key pair or secret key.
    fn pair(&self) -> Result<&L, Status> {
        self.loaded.as_ref().ok_or(Status::PsaErrorInvalidArgument)
    }

    fn public(&self) -> Result<&asym::AsymKey, Status> {
        self.public.as_ref().ok_or(Status::PsaErrorInvalidArgument)
    }
}

fn is_asymmetric(attributes: &KeyAttributes) -> bool {
    attributes.key_type.is_key_pair() || attributes.key_type.is_public_key()
}

/// Record material: version 1, the handle's length (u32, big-endian), the handle, the public
/// key.
const MATERIAL_VERSION: u8 = 1;

fn encode_material(handle: &[u8], public: &[u8]) -> Vec<u8> {
    let len = u32::try_from(handle.len()).expect("a handle is small");
    let mut out = Vec::with_capacity(5 + handle.len() + public.len());
    out.push(MATERIAL_VERSION);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(handle);
    out.extend_from_slice(public);
    out
}

fn decode_material(material: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&version, rest) = material.split_first()?;
    if version != MATERIAL_VERSION || rest.len() < 4 {
        return None;
    }
    let (len, rest) = rest.split_at(4);
    let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// The public-key attributes matching a key's (same size and policy).
fn public_attributes(attributes: &KeyAttributes) -> Result<KeyAttributes, Status> {
    Ok(KeyAttributes {
        key_type: attributes
            .key_type
            .public_counterpart()
            .ok_or(Status::PsaErrorInvalidArgument)?,
        ..*attributes
    })
}

/// Parses a public key in PSA export format.
fn parse_public(attributes: &KeyAttributes, public: &[u8]) -> Result<asym::AsymKey, Status> {
    let attributes = public_attributes(attributes)?;
    let (_, material) = asym::import(&attributes, public)?;
    asym::load(&attributes, material.expose())
}

/// A hardware provider: the shared layer over a backend.
pub struct Hardware<B: Backend> {
    info: ProviderInfo,
    backend: B,
    store: Arc<dyn KeyStore>,
    cache: Cache<HwKey<B::Loaded>>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
}

impl<B: Backend> Hardware<B> {
    pub fn new(
        info: ProviderInfo,
        backend: B,
        store: Arc<dyn KeyStore>,
        allow_deprecated: bool,
        buffer_size_limit: usize,
    ) -> Hardware<B> {
        Hardware {
            info,
            backend,
            store,
            cache: Cache::new(),
            allow_deprecated,
            buffer_size_limit,
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn provider(&self) -> u8 {
        self.info.id as u8
    }

    /// The key `name` of `app`, checked for `usage` and for `alg` against its policy.
    fn key(
        &self,
        app: &AppId,
        name: &str,
        usage: Usage,
        alg: Option<Algorithm>,
    ) -> Result<Arc<HwKey<B::Loaded>>, Status> {
        let id = key_id(app, name);
        let key = self.cache.get_or_load(&id, || {
            let record = self
                .store
                .get(&id)
                .map_err(store_status)?
                .filter(|r| r.provider == self.provider())
                .ok_or(Status::PsaErrorDoesNotExist)?;
            let attributes = parsec_psa::decode_key_attributes(&record.attributes)
                .map_err(|_| Status::PsaErrorDataCorrupt)?;
            let (handle, public) =
                decode_material(&record.material).ok_or(Status::PsaErrorDataCorrupt)?;
            let loaded = if !attributes.key_type.is_public_key() {
                Some(self.backend.load(&attributes, handle).inspect_err(|_| {
                    tracing::error!(
                        "key `{name}` of {}: the {} cannot load it",
                        app.name,
                        self.info.description
                    )
                })?)
            } else {
                None
            };
            let parsed = if is_asymmetric(&attributes) {
                Some(parse_public(&attributes, public).map_err(|_| Status::PsaErrorDataCorrupt)?)
            } else {
                None
            };
            Ok(HwKey {
                public: parsed,
                public_data: public.to_vec(),
                attributes,
                loaded,
            })
        })?;
        if !usage.allowed_by(&key.attributes.policy.usage_flags) {
            return Err(Status::PsaErrorNotPermitted);
        }
        if let Some(alg) = alg {
            if !key.attributes.policy.permitted_algorithms.permits(alg) {
                return Err(Status::PsaErrorNotPermitted);
            }
            if !fits(key.attributes.key_type, alg) {
                return Err(Status::PsaErrorInvalidArgument);
            }
        }
        Ok(key)
    }

    /// Refuses a name that is taken before the device does any work; `store` re-checks.
    fn check_free(&self, app: &AppId, name: &str) -> Result<(), Status> {
        check_name(name)?;
        match self.store.get(&key_id(app, name)).map_err(store_status)? {
            Some(_) => Err(Status::PsaErrorAlreadyExists),
            None => Ok(()),
        }
    }

    /// Records a key; if that fails, the device's key is removed again.
    fn store(
        &self,
        app: &AppId,
        name: &str,
        attributes: &KeyAttributes,
        created: Created,
    ) -> Result<(), Status> {
        let record = KeyRecord {
            provider: self.provider(),
            attributes: parsec_psa::encode_key_attributes(attributes),
            material: zeroize::Zeroizing::new(encode_material(&created.handle, &created.public)),
        };
        let stored = self
            .store
            .create(&key_id(app, name), &record)
            .map_err(store_status);
        if stored.is_err() && !created.handle.is_empty() {
            if let Err(e) = self.backend.destroy(attributes, &created.handle) {
                tracing::error!(
                    "key `{name}` of {}: the device kept a key that was not recorded ({e:?})",
                    app.name
                );
            }
        }
        stored
    }

    fn generate(&self, app: &AppId, op: ops::GenerateKey) -> Result<(), Status> {
        let attributes = op.attributes;
        if !self.allow_deprecated && uses_deprecated(attributes.policy.permitted_algorithms) {
            return Err(Status::DeprecatedPrimitive);
        }
        if !fits(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        if attributes.key_type.is_public_key()
            || !self.backend.supports(&attributes, CheckType::Generate)
        {
            return Err(Status::PsaErrorNotSupported);
        }
        if !is_asymmetric(&attributes) {
            sym::validate_bits(attributes.key_type, attributes.bits)?;
        }
        self.check_free(app, &op.key_name)?;
        let created = self.backend.generate(&attributes)?;
        self.store(app, &op.key_name, &attributes, created)
    }

    fn import(&self, app: &AppId, op: ops::ImportKey) -> Result<(), Status> {
        let mut attributes = op.attributes;
        if !fits(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        let is_public = attributes.key_type.is_public_key();
        if !is_asymmetric(&attributes) {
            // A secret key: checked here, kept by the device.
            let (bits, material) = sym::import(&attributes, op.data.expose())?;
            attributes.bits = bits;
            if !self.backend.supports(&attributes, CheckType::Import) {
                return Err(Status::PsaErrorNotSupported);
            }
            self.check_free(app, &op.key_name)?;
            let created = self.backend.import(&attributes, material.expose())?;
            return self.store(app, &op.key_name, &attributes, created);
        }
        if !asym::supports_type(attributes.key_type, attributes.bits)
            || !(is_public || self.backend.supports(&attributes, CheckType::Import))
        {
            return Err(Status::PsaErrorNotSupported);
        }
        check_name(&op.key_name)?;
        // Parsed and checked here first: the device sees only well-formed keys.
        let (bits, material) = asym::import(&attributes, op.data.expose())?;
        attributes.bits = bits;
        let created = if is_public {
            Created {
                handle: Vec::new(),
                public: material.expose().to_vec(),
            }
        } else {
            let public = asym::export_public(&asym::load(&attributes, material.expose())?)?;
            self.check_free(app, &op.key_name)?;
            let mut created = self.backend.import(&attributes, material.expose())?;
            created.public = public;
            created
        };
        self.store(app, &op.key_name, &attributes, created)
    }

    fn destroy(&self, app: &AppId, name: &str) -> Result<(), Status> {
        let id = key_id(app, name);
        let record = match self.store.get(&id).map_err(store_status)? {
            Some(r) if r.provider == self.provider() => r,
            _ => return Err(Status::PsaErrorDoesNotExist),
        };
        // The device's key goes first: a failure leaves the key whole and usable.
        if let (Ok(attributes), Some((handle, _))) = (
            parsec_psa::decode_key_attributes(&record.attributes),
            decode_material(&record.material),
        ) {
            if !handle.is_empty() {
                self.backend.destroy(&attributes, handle)?;
            }
        } else {
            tracing::error!("key `{name}` of {}: unreadable record, removed", app.name);
        }
        self.cache.evict(&id);
        if self.store.delete(&id).map_err(store_status)? {
            Ok(())
        } else {
            Err(Status::PsaErrorDoesNotExist)
        }
    }

    /// CanDoCrypto, with the software provider's rules and the device's abilities.
    fn can_do(&self, op: &ops::CanDoCrypto) -> Result<(), Status> {
        let attributes = &op.attributes;
        let alg = attributes.policy.permitted_algorithms;
        let possible = fits(attributes.key_type, alg)
            && (self.allow_deprecated || !uses_deprecated(alg))
            && match op.check_type {
                CheckType::Use => {
                    attributes.policy.usage_flags != UsageFlags::default()
                        && alg != Algorithm::None
                        && self.backend.supports(attributes, CheckType::Use)
                }
                CheckType::Generate => {
                    !attributes.key_type.is_public_key()
                        && self.backend.supports(attributes, CheckType::Generate)
                }
                CheckType::Import if is_asymmetric(attributes) => {
                    asym::supports_type(attributes.key_type, attributes.bits)
                        && (attributes.key_type.is_public_key()
                            || self.backend.supports(attributes, CheckType::Import))
                }
                CheckType::Import => {
                    sym::supports_type(attributes.key_type, attributes.bits)
                        && self.backend.supports(attributes, CheckType::Import)
                }
                CheckType::Derive => false,
            };
        if possible {
            Ok(())
        } else {
            Err(Status::PsaErrorNotSupported)
        }
    }

    fn sign(
        &self,
        app: &AppId,
        name: &str,
        usage: Usage,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let key = self.key(app, name, usage, Some(Algorithm::AsymmetricSignature(alg)))?;
        let loaded = key.pair()?;
        if alg
            .hash()
            .and_then(specific)
            .is_some_and(|h| h.output_len() != hash.len())
        {
            return Err(Status::PsaErrorInvalidArgument);
        }
        self.backend.sign_hash(&key, loaded, alg, hash)
    }

    fn verify(
        &self,
        app: &AppId,
        name: &str,
        usage: Usage,
        alg: AsymmetricSignature,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<(), Status> {
        let key = self.key(app, name, usage, Some(Algorithm::AsymmetricSignature(alg)))?;
        if let Some(loaded) = &key.loaded {
            if let Some(done) = self.backend.verify_hash(&key, loaded, alg, hash, signature) {
                return done;
            }
        }
        asym::verify_hash(key.public()?, alg, hash, signature)
    }

    /// A hash by the device, with the same deprecation rule as the software provider.
    fn hash(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        if alg.is_deprecated() && !self.allow_deprecated {
            return Err(Status::DeprecatedPrimitive);
        }
        self.backend.hash(alg, input)
    }

    /// The hash of `message` under the algorithm's hash (message signatures).
    fn hash_message(&self, alg: AsymmetricSignature, message: &[u8]) -> Result<Vec<u8>, Status> {
        let hash = alg
            .hash()
            .and_then(specific)
            .ok_or(Status::PsaErrorInvalidArgument)?;
        sym::hash_compute(hash, message, true)
    }
}

fn specific(h: parsec_psa::SignHash) -> Option<parsec_psa::Hash> {
    match h {
        parsec_psa::SignHash::Specific(h) => Some(h),
        parsec_psa::SignHash::Any => None,
    }
}

impl<B: Backend> Provider for Hardware<B> {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn opcodes(&self) -> &[Opcode] {
        self.backend.opcodes()
    }

    fn blocks(&self, opcode: Opcode) -> bool {
        self.backend.blocks(opcode)
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
                key.public()?;
                OpResult::PsaExportPublicKey(ops::ExportPublicKeyResult {
                    data: key.public_data.clone(),
                })
            }
            Operation::PsaSignHash(op) => {
                let signature =
                    self.sign(app()?, &op.key_name, Usage::SignHash, op.alg, &op.hash)?;
                OpResult::PsaSignHash(ops::SignHashResult { signature })
            }
            Operation::PsaVerifyHash(op) => {
                let (name, alg) = (&op.key_name, op.alg);
                self.verify(
                    app()?,
                    name,
                    Usage::VerifyHash,
                    alg,
                    &op.hash,
                    &op.signature,
                )?;
                OpResult::PsaVerifyHash
            }
            Operation::PsaSignMessage(op) => {
                let hash = self.hash_message(op.alg, &op.message)?;
                let signature =
                    self.sign(app()?, &op.key_name, Usage::SignMessage, op.alg, &hash)?;
                OpResult::PsaSignMessage(ops::SignMessageResult { signature })
            }
            Operation::PsaVerifyMessage(op) => {
                let hash = self.hash_message(op.alg, &op.message)?;
                let (name, alg) = (&op.key_name, op.alg);
                self.verify(
                    app()?,
                    name,
                    Usage::VerifyMessage,
                    alg,
                    &hash,
                    &op.signature,
                )?;
                OpResult::PsaVerifyMessage
            }
            Operation::PsaAsymmetricEncrypt(op) => {
                let alg = A::AsymmetricEncryption(op.alg);
                let key = self.key(app()?, &op.key_name, Usage::Encrypt, Some(alg))?;
                let (plaintext, salt) = (op.plaintext.expose(), op.salt.as_deref());
                let on_device = key
                    .loaded
                    .as_ref()
                    .and_then(|loaded| self.backend.encrypt(&key, loaded, op.alg, plaintext, salt));
                let ciphertext = match on_device {
                    Some(done) => done?,
                    None => asym::encrypt(key.public()?, op.alg, plaintext, salt)?,
                };
                OpResult::PsaAsymmetricEncrypt(ops::AsymmetricEncryptResult { ciphertext })
            }
            Operation::PsaAsymmetricDecrypt(op) => {
                let alg = A::AsymmetricEncryption(op.alg);
                let key = self.key(app()?, &op.key_name, Usage::Decrypt, Some(alg))?;
                let plaintext = self.backend.decrypt(
                    &key,
                    key.pair()?,
                    op.alg,
                    &op.ciphertext,
                    op.salt.as_deref(),
                )?;
                OpResult::PsaAsymmetricDecrypt(ops::AsymmetricDecryptResult { plaintext })
            }
            Operation::PsaGenerateRandom(op) => {
                let size = usize::try_from(op.size).unwrap_or(usize::MAX);
                if size > self.buffer_size_limit {
                    return Err(Status::ResponseTooLarge);
                }
                let random_bytes = self.backend.generate_random(size)?;
                OpResult::PsaGenerateRandom(ops::GenerateRandomResult { random_bytes })
            }
            Operation::CanDoCrypto(op) => {
                self.can_do(&op)?;
                OpResult::CanDoCrypto
            }
            Operation::PsaAeadEncrypt(op) => {
                let key = self.key(app()?, &op.key_name, Usage::Encrypt, Some(A::Aead(op.alg)))?;
                let ciphertext = self.backend.aead(
                    key.pair()?,
                    op.alg,
                    true,
                    &op.nonce,
                    &op.additional_data,
                    op.plaintext.expose(),
                )?;
                OpResult::PsaAeadEncrypt(ops::AeadEncryptResult { ciphertext })
            }
            Operation::PsaAeadDecrypt(op) => {
                let key = self.key(app()?, &op.key_name, Usage::Decrypt, Some(A::Aead(op.alg)))?;
                let plaintext = self.backend.aead(
                    key.pair()?,
                    op.alg,
                    false,
                    &op.nonce,
                    &op.additional_data,
                    &op.ciphertext,
                )?;
                OpResult::PsaAeadDecrypt(ops::AeadDecryptResult {
                    plaintext: Secret::new(plaintext),
                })
            }
            Operation::PsaMacCompute(op) => {
                let alg = Some(A::Mac(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::SignMessage, alg)?;
                let mac = self.backend.mac(key.pair()?, op.alg, &op.input)?;
                OpResult::PsaMacCompute(ops::MacComputeResult { mac })
            }
            Operation::PsaMacVerify(op) => {
                let alg = Some(A::Mac(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::VerifyMessage, alg)?;
                let mac = self.backend.mac(key.pair()?, op.alg, &op.input)?;
                if !sym::ct_eq(&mac, &op.mac) {
                    return Err(Status::PsaErrorInvalidSignature);
                }
                OpResult::PsaMacVerify
            }
            Operation::PsaHashCompute(op) => {
                let hash = self.hash(op.alg, &op.input)?;
                OpResult::PsaHashCompute(ops::HashComputeResult { hash })
            }
            Operation::PsaHashCompare(op) => {
                let hash = self.hash(op.alg, &op.input)?;
                if !sym::ct_eq(&hash, &op.hash) {
                    return Err(Status::PsaErrorInvalidSignature);
                }
                OpResult::PsaHashCompare
            }
            Operation::PsaRawKeyAgreement(op) => {
                let alg = A::KeyAgreement(KeyAgreement::Raw(op.alg));
                let key = self.key(app()?, &op.private_key_name, Usage::Derive, Some(alg))?;
                let shared_secret =
                    self.backend
                        .key_agreement(&key, key.pair()?, op.alg, &op.peer_key)?;
                OpResult::PsaRawKeyAgreement(ops::RawKeyAgreementResult { shared_secret })
            }
            _ => return Err(Status::PsaErrorNotSupported),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_round_trips_and_rejects_garbage() {
        let m = encode_material(b"handle", b"\x04public");
        assert_eq!(
            decode_material(&m),
            Some((&b"handle"[..], &b"\x04public"[..]))
        );
        assert_eq!(
            decode_material(&encode_material(b"", b"p")),
            Some((&b""[..], &b"p"[..]))
        );
        assert_eq!(decode_material(&m[..4]), None);
        let mut wrong_version = m.clone();
        wrong_version[0] = 2;
        assert_eq!(decode_material(&wrong_version), None);
        let mut too_long = m;
        too_long[4] = 200;
        assert_eq!(decode_material(&too_long), None);
    }
}
