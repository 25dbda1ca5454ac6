//! The keyed-provider layer: everything a provider with keys does the same way, written once.
//!
//! Key records in the key store, the cache of keys ready for use, the policy checks (usage
//! flags, permitted algorithm, deprecated primitives), generate/import/destroy with rollback,
//! CanDoCrypto and the dispatch of every operation are here. What differs is a [`Backend`]:
//! the software engine (`software.rs`) or a device (`hardware.rs`, for PKCS#11 and the TPM).
//! A backend declares the operation families it serves ([`Serves`]); ListOpcodes, CanDoCrypto
//! and execution all follow from that one declaration.

use std::sync::Arc;

use parsec_keystore::{KeyId, KeyRecord, KeyStore, StoreError};
use parsec_psa::ops::{self, CheckType};
use parsec_psa::{
    Aead, Algorithm, AsymmetricEncryption, AsymmetricSignature, Cipher, Hash, KeyAgreement,
    KeyAttributes, Mac, OpResult, Operation, RawKeyAgreement, Secret, UsageFlags,
};
use parsec_wire::{Opcode, Status};
use zeroize::Zeroizing;

use super::cache::Cache;
use super::policy::{fits, fits_at_creation, uses_deprecated, Usage};
use super::{Provider, ProviderInfo};
use crate::auth::AppId;
use crate::engine::{asym, sym};

/// Longest key name accepted, in bytes.
pub const MAX_KEY_NAME_LEN: usize = 1024;

/// The families of operations a backend may serve. Key management (generate, import, destroy,
/// export of the public key) and CanDoCrypto are served by every keyed provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Serves {
    /// SignHash, VerifyHash, SignMessage, VerifyMessage.
    pub signatures: bool,
    /// AsymmetricEncrypt, AsymmetricDecrypt.
    pub asymmetric_encryption: bool,
    /// ExportKey.
    pub export: bool,
    /// GenerateRandom.
    pub random: bool,
    /// HashCompute, HashCompare.
    pub hashes: bool,
    /// AeadEncrypt, AeadDecrypt.
    pub aead: bool,
    /// CipherEncrypt, CipherDecrypt.
    pub ciphers: bool,
    /// MacCompute, MacVerify.
    pub macs: bool,
    /// RawKeyAgreement.
    pub key_agreement: bool,
}

impl Serves {
    /// Every family.
    pub const ALL: Serves = Serves {
        signatures: true,
        asymmetric_encryption: true,
        export: true,
        random: true,
        hashes: true,
        aead: true,
        ciphers: true,
        macs: true,
        key_agreement: true,
    };

    /// The opcodes of the families served, in opcode order.
    pub fn opcodes(&self) -> Vec<Opcode> {
        let families: [(bool, &[Opcode]); 10] = [
            (
                true,
                &[
                    Opcode::PsaGenerateKey,
                    Opcode::PsaDestroyKey,
                    Opcode::PsaImportKey,
                    Opcode::PsaExportPublicKey,
                    Opcode::CanDoCrypto,
                ],
            ),
            (
                self.signatures,
                &[
                    Opcode::PsaSignHash,
                    Opcode::PsaVerifyHash,
                    Opcode::PsaSignMessage,
                    Opcode::PsaVerifyMessage,
                ],
            ),
            (
                self.asymmetric_encryption,
                &[Opcode::PsaAsymmetricEncrypt, Opcode::PsaAsymmetricDecrypt],
            ),
            (self.export, &[Opcode::PsaExportKey]),
            (self.random, &[Opcode::PsaGenerateRandom]),
            (
                self.hashes,
                &[Opcode::PsaHashCompute, Opcode::PsaHashCompare],
            ),
            (self.aead, &[Opcode::PsaAeadEncrypt, Opcode::PsaAeadDecrypt]),
            (
                self.ciphers,
                &[Opcode::PsaCipherEncrypt, Opcode::PsaCipherDecrypt],
            ),
            (self.macs, &[Opcode::PsaMacCompute, Opcode::PsaMacVerify]),
            (self.key_agreement, &[Opcode::PsaRawKeyAgreement]),
        ];
        let mut opcodes: Vec<Opcode> = families
            .iter()
            .filter(|(served, _)| *served)
            .flat_map(|(_, opcodes)| opcodes.iter().copied())
            .collect();
        opcodes.sort_by_key(|o| o.to_u32());
        opcodes
    }
}

/// What a key's record keeps besides its attributes (sealed at rest by the key store).
pub type Material = Zeroizing<Vec<u8>>;

/// Whether the name of a key being made is still free (see [`Backend::import`]).
pub type NameFree<'a> = &'a dyn Fn() -> Result<(), Status>;

/// A key ready for use: its attributes and what the backend made of its record.
pub struct Key<L> {
    pub attributes: KeyAttributes,
    pub loaded: L,
}

/// What makes one keyed provider differ from another. Every operation of a family the backend
/// does not declare keeps its default, which is never called: the dispatcher refuses
/// operations a provider does not list.
pub trait Backend: Send + Sync + 'static {
    /// What the backend keeps about a key between operations (parsed material, a device's
    /// handles).
    type Loaded: Send + Sync + 'static;

    /// The families of operations served.
    fn serves(&self) -> Serves;
    /// Whether a key with these attributes (type, size, algorithm) could be generated, imported
    /// or used here; the layer has checked the policy rules already.
    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool;
    /// The checks before a name is taken for a new key: NotSupported for what cannot be made.
    fn check_generate(&self, attributes: &KeyAttributes) -> Result<(), Status> {
        if self.supports(attributes, CheckType::Generate) {
            Ok(())
        } else {
            Err(Status::PsaErrorNotSupported)
        }
    }
    /// Makes a key; returns what its record keeps.
    fn generate(&self, attributes: &KeyAttributes) -> Result<Material, Status>;
    /// Takes a key as the client sent it: its size and what its record keeps. `name_free` says
    /// whether the name is still free; a backend calls it before any work it would have to
    /// undo (the record's creation checks again).
    fn import(
        &self,
        attributes: &KeyAttributes,
        data: &[u8],
        name_free: NameFree,
    ) -> Result<(u32, Material), Status>;
    /// What the record of a key the device already holds under `handle` keeps (a device's
    /// backend reads its public key there), and the key's size (for a public key recorded
    /// with 0 bits); NotSupported where keys live in no device.
    fn adopt(
        &self,
        _attributes: &KeyAttributes,
        _handle: &[u8],
    ) -> Result<(u32, Material), Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// Prepares a stored key for use.
    fn load(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Self::Loaded, Status>;
    /// Removes the key from where it lives besides the record (a device). Called before the
    /// record is deleted, and when a new key's record could not be stored.
    fn destroy(&self, _attributes: &KeyAttributes, _material: &[u8]) -> Result<(), Status> {
        Ok(())
    }
    /// Whether an operation may take long enough that it must not run on a network thread.
    fn blocks(&self, opcode: Opcode) -> bool {
        opcode == Opcode::PsaGenerateKey
    }
    /// Releases what the device holds for this process (objects loaded in a TPM), at exit:
    /// without a resource manager between, they would outlive the process. Later operations
    /// fail.
    fn close(&self) {}

    /// The public key, in PSA export format.
    fn export_public(&self, key: &Key<Self::Loaded>) -> Result<Vec<u8>, Status>;
    /// The key's material (a public key, or a key allowed to be exported).
    fn export(&self, _key: &Key<Self::Loaded>) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// Signs a hash whose length fits the algorithm's hash.
    fn sign_hash(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: AsymmetricSignature,
        _hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn verify_hash(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: AsymmetricSignature,
        _hash: &[u8],
        _signature: &[u8],
    ) -> Result<(), Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn encrypt(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: AsymmetricEncryption,
        _plaintext: &[u8],
        _salt: Option<&[u8]>,
    ) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn decrypt(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: AsymmetricEncryption,
        _ciphertext: &[u8],
        _salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// AEAD encryption: ciphertext || tag.
    fn aead_encrypt(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: Aead,
        _nonce: &[u8],
        _additional_data: &[u8],
        _plaintext: &[u8],
    ) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn aead_decrypt(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: Aead,
        _nonce: &[u8],
        _additional_data: &[u8],
        _ciphertext: &[u8],
    ) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn cipher_encrypt(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: Cipher,
        _plaintext: &[u8],
    ) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn cipher_decrypt(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: Cipher,
        _ciphertext: &[u8],
    ) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn mac_compute(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: Mac,
        _input: &[u8],
    ) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    /// Checks a MAC; by default computes it and compares in constant time.
    fn mac_verify(
        &self,
        key: &Key<Self::Loaded>,
        alg: Mac,
        input: &[u8],
        mac: &[u8],
    ) -> Result<(), Status> {
        let computed = self.mac_compute(key, alg, input)?;
        if sym::ct_eq(&computed, mac) {
            Ok(())
        } else {
            Err(Status::PsaErrorInvalidSignature)
        }
    }
    /// A hash (deprecated hashes are refused by the layer unless allowed).
    fn hash(&self, _alg: Hash, _input: &[u8]) -> Result<Vec<u8>, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn key_agreement(
        &self,
        _key: &Key<Self::Loaded>,
        _alg: RawKeyAgreement,
        _peer: &[u8],
    ) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
    fn generate_random(&self, _size: usize) -> Result<Secret, Status> {
        Err(Status::PsaErrorNotSupported)
    }
}

/// The status a store failure is reported with.
pub fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::AlreadyExists => Status::PsaErrorAlreadyExists,
        StoreError::Corrupt => Status::PsaErrorDataCorrupt,
        StoreError::QuotaExceeded { .. } => Status::PsaErrorInsufficientStorage,
        StoreError::OutcomeUnknown(why) => {
            tracing::error!("key store: {why}; the outcome is unknown");
            Status::PsaErrorCommunicationFailure
        }
        StoreError::Unavailable(why) => {
            tracing::error!("key store unavailable: {why}");
            Status::PsaErrorCommunicationFailure
        }
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

/// Refuses an empty or overlong key name.
pub fn check_name(name: &str) -> Result<(), Status> {
    // NUL: PostgreSQL's text cannot hold it, so no store may be given it.
    if name.is_empty() || name.len() > MAX_KEY_NAME_LEN || name.contains('\0') {
        return Err(Status::PsaErrorInvalidArgument);
    }
    Ok(())
}

/// Whether a key type is an asymmetric one (key pair or public key).
pub fn is_asymmetric(attributes: &KeyAttributes) -> bool {
    attributes.key_type.is_key_pair() || attributes.key_type.is_public_key()
}

/// A keyed provider: the layer over its backend.
pub struct Keyed<B: Backend> {
    info: ProviderInfo,
    opcodes: Vec<Opcode>,
    backend: B,
    store: Arc<dyn KeyStore>,
    cache: Cache<Key<B::Loaded>>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
}

impl<B: Backend> Keyed<B> {
    pub fn new(
        info: ProviderInfo,
        backend: B,
        store: Arc<dyn KeyStore>,
        allow_deprecated: bool,
        buffer_size_limit: usize,
    ) -> Keyed<B> {
        Keyed {
            info,
            opcodes: backend.serves().opcodes(),
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
    ) -> Result<Arc<Key<B::Loaded>>, Status> {
        let id = key_id(app, name);
        let current = || self.store.version(&id).map_err(store_status);
        let check: Option<&dyn Fn() -> Result<Option<u64>, Status>> = if self.store.shared() {
            Some(&current)
        } else {
            None
        };
        let key = self.cache.get_or_load(&id, check, || {
            let (record, version) = self
                .store
                .get_versioned(&id)
                .map_err(store_status)?
                .filter(|(r, _)| r.provider == self.provider())
                .ok_or(Status::PsaErrorDoesNotExist)?;
            let attributes = parsec_psa::decode_key_attributes(&record.attributes)
                .map_err(|_| Status::PsaErrorDataCorrupt)?;
            let loaded = self
                .backend
                .load(&attributes, &record.material)
                .inspect_err(|_| {
                    tracing::error!(
                        "key `{name}` of {}: the {} cannot load it",
                        app.name,
                        self.info.description
                    )
                })?;
            Ok((version, Key { attributes, loaded }))
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

    /// Refuses a name that is taken before any work is done; the record's creation re-checks.
    fn check_free(&self, app: &AppId, name: &str) -> Result<(), Status> {
        match self.store.get(&key_id(app, name)).map_err(store_status)? {
            Some(_) => Err(Status::PsaErrorAlreadyExists),
            None => Ok(()),
        }
    }

    /// Records a new key; if that fails, the backend removes what it made.
    fn record(
        &self,
        app: &AppId,
        name: &str,
        attributes: &KeyAttributes,
        material: Material,
    ) -> Result<(), Status> {
        let record = KeyRecord {
            provider: self.provider(),
            attributes: parsec_psa::encode_key_attributes(attributes),
            material,
        };
        let stored = self.store.create(&key_id(app, name), &record);
        if let Err(StoreError::OutcomeUnknown(why)) = &stored {
            // The record may exist: the device's key stays, so that it never points at
            // nothing. The client is told the creation failed; the name may be taken.
            tracing::error!(
                "key `{name}` of {}: whether its record was stored is unknown ({why}); the \
                 device keeps the key",
                app.name
            );
            return Err(Status::PsaErrorCommunicationFailure);
        }
        let stored = stored.map_err(store_status);
        if stored.is_err() {
            if let Err(e) = self.backend.destroy(attributes, &record.material) {
                tracing::error!(
                    "key `{name}` of {}: the device kept a key that was not recorded ({e:?})",
                    app.name
                );
            }
        }
        stored
    }

    fn generate(&self, app: &AppId, op: ops::GenerateKey) -> Result<(), Status> {
        check_name(&op.key_name)?;
        let attributes = op.attributes;
        if !self.allow_deprecated && uses_deprecated(attributes.policy.permitted_algorithms) {
            return Err(Status::DeprecatedPrimitive);
        }
        if !fits_at_creation(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        if attributes.key_type.is_public_key() {
            return Err(Status::PsaErrorNotSupported);
        }
        self.backend.check_generate(&attributes)?;
        self.check_free(app, &op.key_name)?;
        let material = self.backend.generate(&attributes)?;
        self.record(app, &op.key_name, &attributes, material)
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
        if !fits_at_creation(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        let name_free = || self.check_free(app, &op.key_name);
        let (bits, material) = self
            .backend
            .import(&attributes, op.data.expose(), &name_free)?;
        attributes.bits = bits;
        self.record(app, &op.key_name, &attributes, material)
    }

    fn destroy(&self, app: &AppId, name: &str) -> Result<(), Status> {
        let id = key_id(app, name);
        let record = match self.store.get(&id).map_err(store_status)? {
            Some(r) if r.provider == self.provider() => r,
            _ => return Err(Status::PsaErrorDoesNotExist),
        };
        // Where the key lives goes first: a failure leaves the key whole and usable.
        match parsec_psa::decode_key_attributes(&record.attributes) {
            Ok(attributes) => self.backend.destroy(&attributes, &record.material)?,
            Err(_) => tracing::error!("key `{name}` of {}: unreadable record, removed", app.name),
        }
        // The record goes before the cached copy: a request that loads the key meanwhile
        // then sees the removal and does not cache it (see `Cache`).
        let deleted = self.store.delete(&id).map_err(store_status);
        self.cache.evict(&id);
        if deleted? {
            Ok(())
        } else {
            Err(Status::PsaErrorDoesNotExist)
        }
    }

    /// CanDoCrypto, with upstream's answers: 0 when this provider could do it, else
    /// NotSupported (a key without usage flags or without algorithm cannot be used; a
    /// public-key type cannot be generated; to be used, an algorithm must fit the key type; to
    /// be created, it must be one a key of that type may be created with).
    fn can_do(&self, op: &ops::CanDoCrypto) -> Result<(), Status> {
        let attributes = &op.attributes;
        let alg = attributes.policy.permitted_algorithms;
        let possible = (self.allow_deprecated || !uses_deprecated(alg))
            && match op.check_type {
                CheckType::Use => {
                    fits(attributes.key_type, alg)
                        && attributes.policy.usage_flags != UsageFlags::default()
                        && alg != Algorithm::None
                }
                CheckType::Generate => {
                    fits_at_creation(attributes.key_type, alg)
                        && !attributes.key_type.is_public_key()
                }
                CheckType::Import => fits_at_creation(attributes.key_type, alg),
                CheckType::Derive => false,
            }
            && self.backend.supports(attributes, op.check_type);
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
        if let Some(parsec_psa::SignHash::Specific(h)) = alg.hash() {
            if h.output_len() != hash.len() {
                return Err(Status::PsaErrorInvalidArgument);
            }
        }
        self.backend.sign_hash(&key, alg, hash)
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
        self.backend.verify_hash(&key, alg, hash, signature)
    }

    /// A hash, with the rule on deprecated hashes.
    fn hash(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        if matches!(alg, Hash::Md2 | Hash::Md4) {
            return Err(Status::PsaErrorNotSupported);
        }
        if alg.is_deprecated() && !self.allow_deprecated {
            return Err(Status::DeprecatedPrimitive);
        }
        self.backend.hash(alg, input)
    }
}

impl<B: Backend> Provider for Keyed<B> {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn adopt(
        &self,
        app: &AppId,
        name: &str,
        attributes: &KeyAttributes,
        handle: &[u8],
    ) -> Result<(), Status> {
        check_name(name)?;
        if !fits_at_creation(attributes.key_type, attributes.policy.permitted_algorithms) {
            return Err(Status::PsaErrorInvalidArgument);
        }
        self.check_free(app, name)?;
        let (bits, material) = self.backend.adopt(attributes, handle)?;
        let attributes = KeyAttributes {
            bits,
            ..*attributes
        };
        let record = KeyRecord {
            provider: self.provider(),
            attributes: parsec_psa::encode_key_attributes(&attributes),
            material,
        };
        // Unlike a new key's, the device's object is not removed when this fails: it is the
        // one the other installation still uses.
        self.store
            .create(&key_id(app, name), &record)
            .map_err(store_status)
    }

    fn opcodes(&self) -> &[Opcode] {
        &self.opcodes
    }

    fn blocks(&self, opcode: Opcode) -> bool {
        self.backend.blocks(opcode)
    }

    fn close(&self) {
        self.backend.close();
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
                let data = self.backend.export_public(&key)?;
                OpResult::PsaExportPublicKey(ops::ExportPublicKeyResult { data })
            }
            Operation::PsaExportKey(op) => {
                // PSA: a public key is always exportable; anything secret needs the flag.
                let key = self.key(app()?, &op.key_name, Usage::None, None)?;
                if !key.attributes.key_type.is_public_key()
                    && !Usage::Export.allowed_by(&key.attributes.policy.usage_flags)
                {
                    return Err(Status::PsaErrorNotPermitted);
                }
                let data = self.backend.export(&key)?;
                OpResult::PsaExportKey(ops::ExportKeyResult { data })
            }
            Operation::PsaSignHash(op) => {
                let signature =
                    self.sign(app()?, &op.key_name, Usage::SignHash, op.alg, &op.hash)?;
                OpResult::PsaSignHash(ops::SignHashResult { signature })
            }
            Operation::PsaVerifyHash(op) => {
                let (name, alg, usage) = (&op.key_name, op.alg, Usage::VerifyHash);
                self.verify(app()?, name, usage, alg, &op.hash, &op.signature)?;
                OpResult::PsaVerifyHash
            }
            Operation::PsaSignMessage(op) => {
                // The key is checked before the message is hashed, as upstream orders it.
                let alg = Some(A::AsymmetricSignature(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::SignMessage, alg)?;
                let hash = asym::message_hash(op.alg, &op.message)?;
                let signature = self.backend.sign_hash(&key, op.alg, &hash)?;
                OpResult::PsaSignMessage(ops::SignMessageResult { signature })
            }
            Operation::PsaVerifyMessage(op) => {
                let alg = Some(A::AsymmetricSignature(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::VerifyMessage, alg)?;
                let hash = asym::message_hash(op.alg, &op.message)?;
                self.backend
                    .verify_hash(&key, op.alg, &hash, &op.signature)?;
                OpResult::PsaVerifyMessage
            }
            Operation::PsaAsymmetricEncrypt(op) => {
                let alg = A::AsymmetricEncryption(op.alg);
                let key = self.key(app()?, &op.key_name, Usage::Encrypt, Some(alg))?;
                let ciphertext = self.backend.encrypt(
                    &key,
                    op.alg,
                    op.plaintext.expose(),
                    op.salt.as_deref(),
                )?;
                OpResult::PsaAsymmetricEncrypt(ops::AsymmetricEncryptResult { ciphertext })
            }
            Operation::PsaAsymmetricDecrypt(op) => {
                let alg = A::AsymmetricEncryption(op.alg);
                let key = self.key(app()?, &op.key_name, Usage::Decrypt, Some(alg))?;
                let plaintext =
                    self.backend
                        .decrypt(&key, op.alg, &op.ciphertext, op.salt.as_deref())?;
                OpResult::PsaAsymmetricDecrypt(ops::AsymmetricDecryptResult { plaintext })
            }
            Operation::PsaRawKeyAgreement(op) => {
                let alg = A::KeyAgreement(KeyAgreement::Raw(op.alg));
                let key = self.key(app()?, &op.private_key_name, Usage::Derive, Some(alg))?;
                let shared_secret = self.backend.key_agreement(&key, op.alg, &op.peer_key)?;
                OpResult::PsaRawKeyAgreement(ops::RawKeyAgreementResult { shared_secret })
            }
            Operation::PsaAeadEncrypt(op) => {
                let key = self.key(app()?, &op.key_name, Usage::Encrypt, Some(A::Aead(op.alg)))?;
                let (nonce, ad) = (&op.nonce, &op.additional_data);
                let ciphertext =
                    self.backend
                        .aead_encrypt(&key, op.alg, nonce, ad, op.plaintext.expose())?;
                OpResult::PsaAeadEncrypt(ops::AeadEncryptResult { ciphertext })
            }
            Operation::PsaAeadDecrypt(op) => {
                let key = self.key(app()?, &op.key_name, Usage::Decrypt, Some(A::Aead(op.alg)))?;
                let (nonce, ad) = (&op.nonce, &op.additional_data);
                let plaintext =
                    self.backend
                        .aead_decrypt(&key, op.alg, nonce, ad, &op.ciphertext)?;
                OpResult::PsaAeadDecrypt(ops::AeadDecryptResult { plaintext })
            }
            Operation::PsaCipherEncrypt(op) => {
                let alg = Some(A::Cipher(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::Encrypt, alg)?;
                let ciphertext =
                    self.backend
                        .cipher_encrypt(&key, op.alg, op.plaintext.expose())?;
                OpResult::PsaCipherEncrypt(ops::CipherEncryptResult { ciphertext })
            }
            Operation::PsaCipherDecrypt(op) => {
                let alg = Some(A::Cipher(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::Decrypt, alg)?;
                let plaintext = self.backend.cipher_decrypt(&key, op.alg, &op.ciphertext)?;
                OpResult::PsaCipherDecrypt(ops::CipherDecryptResult { plaintext })
            }
            Operation::PsaMacCompute(op) => {
                let alg = Some(A::Mac(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::SignMessage, alg)?;
                let mac = self.backend.mac_compute(&key, op.alg, &op.input)?;
                OpResult::PsaMacCompute(ops::MacComputeResult { mac })
            }
            Operation::PsaMacVerify(op) => {
                let alg = Some(A::Mac(op.alg));
                let key = self.key(app()?, &op.key_name, Usage::VerifyMessage, alg)?;
                self.backend.mac_verify(&key, op.alg, &op.input, &op.mac)?;
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
            // Core operations (provider 0) and key attestation: not a keyed provider's, and
            // never listed by one, so the dispatcher does not send them here.
            _ => return Err(Status::PsaErrorNotSupported),
        })
    }
}

#[cfg(test)]
mod tests;
