//! The software provider (id 1): the keyed-provider layer ([`super::keyed`]) over the crypto
//! engines ([`crate::engine`]). Upstream configs select it with `provider_type = "MbedCrypto"`
//! (or our own name, `"Software"`), so upstream clients reach it as they reach upstream's.
//!
//! A key's record keeps its material in PSA export format (sealed at rest by the key store);
//! loading parses it once, and the layer's cache keeps it parsed, so a signature does not
//! re-parse its key.

use std::sync::Arc;

use parsec_keystore::KeyStore;
use parsec_psa::ops::CheckType;
use parsec_psa::{
    Aead, AsymmetricEncryption, AsymmetricSignature, Cipher, Hash, KeyAttributes, Mac,
    RawKeyAgreement, Secret,
};
use parsec_wire::{ProviderId, Status};
use zeroize::Zeroizing;

use super::keyed::{is_asymmetric, Backend, Key, Keyed, Material, NameFree, Serves};
use super::ProviderInfo;
use crate::engine::{asym, sym};

/// Upstream's UUID for its software (Mbed Crypto) provider: clients parse and may compare it.
pub const SOFTWARE_UUID: &str = "1c1139dc-ad7c-47dc-ad6b-db6fdb466552";

/// The software provider.
pub type Software = Keyed<Engine>;

/// Opens the software provider over `store`.
pub fn open(
    store: Arc<dyn KeyStore>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
) -> Software {
    let info = ProviderInfo {
        id: ProviderId::MbedCrypto,
        uuid: SOFTWARE_UUID,
        description:
            "Software provider: PSA Crypto operations in this process, keys sealed in the key store"
                .into(),
        vendor: "Parsec in Rust".into(),
        version: (0, 1, 0),
    };
    Keyed::new(info, Engine, store, allow_deprecated, buffer_size_limit)
}

/// The software backend: every operation in the engines.
pub struct Engine;

/// Parsed material.
pub enum Loaded {
    Asym(asym::AsymKey),
    Sym(Secret),
}

fn asym_key(key: &Key<Loaded>) -> Result<&asym::AsymKey, Status> {
    match &key.loaded {
        Loaded::Asym(k) => Ok(k),
        Loaded::Sym(_) => Err(Status::PsaErrorInvalidArgument),
    }
}

fn sym_key(key: &Key<Loaded>) -> Result<&[u8], Status> {
    match &key.loaded {
        Loaded::Sym(k) => Ok(k.expose()),
        Loaded::Asym(_) => Err(Status::PsaErrorInvalidArgument),
    }
}

fn material(secret: Secret) -> Material {
    Zeroizing::new(secret.expose().to_vec())
}

impl Backend for Engine {
    type Loaded = Loaded;

    fn serves(&self) -> Serves {
        Serves::ALL
    }

    fn supports(&self, attributes: &KeyAttributes, _check: CheckType) -> bool {
        if is_asymmetric(attributes) {
            asym::supports_type(attributes.key_type, attributes.bits)
                && asym::supports_alg(attributes.key_type, attributes.policy.permitted_algorithms)
        } else {
            sym::supports_type(attributes.key_type, attributes.bits)
        }
    }

    /// A key its one permitted algorithm cannot use here (an ECC key for an RSA scheme) is not
    /// made, as CanDoCrypto answers; other refusals are the engines' (sizes, types).
    fn check_generate(&self, attributes: &KeyAttributes) -> Result<(), Status> {
        if is_asymmetric(attributes)
            && !asym::supports_alg(attributes.key_type, attributes.policy.permitted_algorithms)
        {
            return Err(Status::PsaErrorNotSupported);
        }
        Ok(())
    }

    fn generate(&self, attributes: &KeyAttributes) -> Result<Material, Status> {
        let secret = if is_asymmetric(attributes) {
            asym::generate(attributes)?
        } else {
            sym::generate(attributes)?
        };
        Ok(material(secret))
    }

    /// Checked and brought to the canonical form by the engines; the record's creation is the
    /// one check of the name that matters (nothing here needs undoing).
    fn import(
        &self,
        attributes: &KeyAttributes,
        data: &[u8],
        _name_free: NameFree,
    ) -> Result<(u32, Material), Status> {
        let (bits, secret) = if is_asymmetric(attributes) {
            asym::import(attributes, data)?
        } else {
            sym::import(attributes, data)?
        };
        Ok((bits, material(secret)))
    }

    fn load(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Loaded, Status> {
        if is_asymmetric(attributes) {
            Ok(Loaded::Asym(asym::load(attributes, material)?))
        } else {
            Ok(Loaded::Sym(Secret::new(material.to_vec())))
        }
    }

    fn export_public(&self, key: &Key<Loaded>) -> Result<Vec<u8>, Status> {
        asym::export_public(asym_key(key)?)
    }

    fn export(&self, key: &Key<Loaded>) -> Result<Secret, Status> {
        match &key.loaded {
            Loaded::Asym(k) => asym::export(k),
            Loaded::Sym(k) => Ok(k.clone()),
        }
    }

    fn sign_hash(
        &self,
        key: &Key<Loaded>,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        asym::sign_hash(asym_key(key)?, alg, hash)
    }

    fn verify_hash(
        &self,
        key: &Key<Loaded>,
        alg: AsymmetricSignature,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<(), Status> {
        asym::verify_hash(asym_key(key)?, alg, hash, signature)
    }

    fn encrypt(
        &self,
        key: &Key<Loaded>,
        alg: AsymmetricEncryption,
        plaintext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Vec<u8>, Status> {
        asym::encrypt(asym_key(key)?, alg, plaintext, salt)
    }

    fn decrypt(
        &self,
        key: &Key<Loaded>,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        asym::decrypt(asym_key(key)?, alg, ciphertext, salt)
    }

    fn aead_encrypt(
        &self,
        key: &Key<Loaded>,
        alg: Aead,
        nonce: &[u8],
        additional_data: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let secret = sym_key(key)?;
        sym::aead_encrypt(
            &key.attributes,
            secret,
            alg,
            nonce,
            additional_data,
            plaintext,
        )
    }

    fn aead_decrypt(
        &self,
        key: &Key<Loaded>,
        alg: Aead,
        nonce: &[u8],
        additional_data: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, Status> {
        let secret = sym_key(key)?;
        sym::aead_decrypt(
            &key.attributes,
            secret,
            alg,
            nonce,
            additional_data,
            ciphertext,
        )
    }

    fn cipher_encrypt(
        &self,
        key: &Key<Loaded>,
        alg: Cipher,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Status> {
        sym::cipher_encrypt(&key.attributes, sym_key(key)?, alg, plaintext)
    }

    fn cipher_decrypt(
        &self,
        key: &Key<Loaded>,
        alg: Cipher,
        ciphertext: &[u8],
    ) -> Result<Secret, Status> {
        sym::cipher_decrypt(&key.attributes, sym_key(key)?, alg, ciphertext)
    }

    fn mac_compute(&self, key: &Key<Loaded>, alg: Mac, input: &[u8]) -> Result<Vec<u8>, Status> {
        sym::mac_compute(&key.attributes, sym_key(key)?, alg, input)
    }

    fn mac_verify(
        &self,
        key: &Key<Loaded>,
        alg: Mac,
        input: &[u8],
        mac: &[u8],
    ) -> Result<(), Status> {
        sym::mac_verify(&key.attributes, sym_key(key)?, alg, input, mac)
    }

    /// Deprecated hashes reach here only when allowed.
    fn hash(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        sym::hash_compute(alg, input, true)
    }

    fn key_agreement(
        &self,
        key: &Key<Loaded>,
        alg: RawKeyAgreement,
        peer: &[u8],
    ) -> Result<Secret, Status> {
        asym::raw_key_agreement(asym_key(key)?, alg, peer)
    }

    fn generate_random(&self, size: usize) -> Result<Secret, Status> {
        sym::generate_random(size)
    }
}
