//! The PKCS#11 provider (id 2): keys are token objects, found by a random `CKA_ID` that our
//! key store records with the key's attributes and public key.
//!
//! Which mechanism serves which PSA algorithm (each offered only if the token lists it):
//!
//! | PSA | Token mechanism |
//! |---|---|
//! | RSA PKCS#1 v1.5 signature (SHA-1/224/256/384/512, raw) | `CKM_RSA_PKCS` over the DigestInfo (or the raw input) |
//! | RSA-PSS (same hashes, salt = hash length) | `CKM_RSA_PKCS_PSS` |
//! | ECDSA (SECP R1 256/384/521, SECP K1 256; any hash) | `CKM_ECDSA` over the hash |
//! | RSA PKCS#1 v1.5 encryption | `CKM_RSA_PKCS` |
//! | RSA-OAEP (same hashes, any label) | `CKM_RSA_PKCS_OAEP`; where the token refuses the parameters (SoftHSM2 takes only SHA-1 without a label), `CKM_RSA_X_509` and constant-time decoding here ([`oaep`](crate::engine::oaep)) for decryption, the public key here for encryption |
//! | message signatures | the hash computed here, then as above |
//! | random | `C_GenerateRandom` |
//! | AES keys (128/192/256): AEAD with GCM (tags of 4, 8, 12 to 16 bytes) | `CKM_AES_KEY_GEN`, `CKM_AES_GCM` |
//! | HMAC keys: MACs with SHA-1/224/256/384/512, truncated to 4 bytes or more | `CKM_GENERIC_SECRET_KEY_GEN`, `CKM_SHA*_HMAC` |
//! | hashes (same five) | `C_Digest` |
//! | raw ECDH | `CKM_ECDH1_DERIVE` into a session object, read, destroyed |
//!
//! Each operation is listed only if the token has its mechanism. With
//! `software_public_operations`, verification and encryption use the recorded public key in
//! this process. Deterministic ECDSA, other curves, other ciphers and AEADs, and exporting a
//! token's private or secret keys are not offered.
//!
//! The provider's parts: `mechanisms` (which mechanism serves what), `keys` (a key's objects
//! on the token), `ops` (operations with them) and `token` (the library, slot, login and
//! sessions). The [`Device`] implementation here hands each call to them.

mod keys;
mod mechanisms;
mod ops;
mod token;

use std::sync::Arc;

use cryptoki::mechanism::MechanismType;
use cryptoki::object::ObjectHandle;
use parsec_keystore::KeyStore;
use parsec_psa::ops::CheckType;
use parsec_psa::{
    Aead, AsymmetricEncryption, AsymmetricSignature, Hash, KeyAttributes, KeyType, Mac,
    RawKeyAgreement, Secret,
};
use parsec_wire::{ProviderId, Status};

use super::hardware::{Created, Device, Hardware, HwKey};
use super::keyed::Serves;
use super::ProviderInfo;
use crate::config::Pkcs11Config;
use token::Token;

/// Upstream's UUID for its PKCS#11 provider.
pub const PKCS11_UUID: &str = "30e39502-eba6-4d60-a4af-c518b7f5e38f";

/// Length of the random `CKA_ID` given to each key's objects.
const ID_LEN: usize = 16;

/// The PKCS#11 side of the provider.
pub struct Pkcs11Backend {
    token: Token,
    software_public: bool,
    allow_export: bool,
    serves: Serves,
}

/// A key's objects on the token.
pub struct P11Key {
    private: ObjectHandle,
    public: Option<ObjectHandle>,
}

/// Opens the token `config` names and builds the provider over it.
pub fn open(
    config: &Pkcs11Config,
    store: Arc<dyn KeyStore>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
) -> anyhow::Result<Hardware<Pkcs11Backend>> {
    let token = Token::open(config)?;
    tracing::info!("PKCS#11 provider: using {}", token.description);
    let mut backend = Pkcs11Backend {
        token,
        software_public: config.software_public_operations,
        allow_export: config.allow_export,
        serves: Serves::default(),
    };
    backend.serves = backend.derive_serves();
    let info = ProviderInfo {
        id: ProviderId::Pkcs11,
        uuid: PKCS11_UUID,
        description: format!("PKCS#11 provider: keys on {}", backend.token.description),
        vendor: "OASIS Standard.".into(),
        version: (0, 1, 0),
    };
    Ok(super::hardware::provider(
        info,
        backend,
        store,
        allow_deprecated,
        buffer_size_limit,
    ))
}

impl Device for Pkcs11Backend {
    type Loaded = P11Key;

    fn identity(&self) -> [u8; 32] {
        self.token.identity
    }

    fn describe(&self) -> &str {
        &self.token.description
    }

    fn serves(&self) -> Serves {
        self.serves
    }

    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool {
        let generator = match (check, attributes.key_type) {
            (CheckType::Generate, KeyType::RsaKeyPair) => {
                Some(MechanismType::RSA_PKCS_KEY_PAIR_GEN)
            }
            (CheckType::Generate, KeyType::EccKeyPair { .. }) => {
                Some(MechanismType::ECC_KEY_PAIR_GEN)
            }
            (CheckType::Generate, KeyType::Aes) => Some(MechanismType::AES_KEY_GEN),
            (CheckType::Generate, KeyType::Hmac) => Some(MechanismType::GENERIC_SECRET_KEY_GEN),
            (CheckType::Generate, _) => return false,
            _ => None,
        };
        self.supports_key(attributes, generator)
            && self.supports_alg(attributes.policy.permitted_algorithms)
    }

    fn generate(&self, attributes: &KeyAttributes) -> Result<Created, Status> {
        self.generate_on_token(attributes)
    }

    fn import(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Created, Status> {
        self.import_on_token(attributes, material)
    }

    fn adopt(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<Created, Status> {
        self.adopt_on_token(attributes, handle)
    }

    fn load(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<P11Key, Status> {
        self.load_on_token(attributes, handle)
    }

    fn destroy(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<(), Status> {
        self.destroy_on_token(attributes, handle)
    }

    fn sign_hash(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        self.sign_hash_on_token(key, loaded, alg, hash)
    }

    fn verify_hash(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricSignature,
        hash: &[u8],
        signature: &[u8],
    ) -> Option<Result<(), Status>> {
        self.verify_hash_on_token(key, loaded, alg, hash, signature)
    }

    fn encrypt(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricEncryption,
        plaintext: &[u8],
        salt: Option<&[u8]>,
    ) -> Option<Result<Vec<u8>, Status>> {
        self.encrypt_on_token(key, loaded, alg, plaintext, salt)
    }

    fn decrypt(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        self.decrypt_on_token(key, loaded, alg, ciphertext, salt)
    }

    fn aead(
        &self,
        loaded: &P11Key,
        alg: Aead,
        encrypt: bool,
        nonce: &[u8],
        additional_data: &[u8],
        input: &[u8],
    ) -> Result<Vec<u8>, Status> {
        self.aead_on_token(loaded, alg, encrypt, nonce, additional_data, input)
    }

    fn mac(&self, loaded: &P11Key, alg: Mac, input: &[u8]) -> Result<Vec<u8>, Status> {
        self.mac_on_token(loaded, alg, input)
    }

    fn hash(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        self.hash_on_token(alg, input)
    }

    fn key_agreement(
        &self,
        key: &HwKey<P11Key>,
        loaded: &P11Key,
        alg: RawKeyAgreement,
        peer: &[u8],
    ) -> Result<Secret, Status> {
        self.key_agreement_on_token(key, loaded, alg, peer)
    }

    fn generate_random(&self, size: usize) -> Result<Secret, Status> {
        self.generate_random_on_token(size)
    }
}
