//! What the hardware providers (PKCS#11, TPM 2.0) share: the keyed-provider layer's backend
//! for a device ([`OnDevice`]), over a driver of that device ([`Device`]).
//!
//! A hardware key lives in its device; our key store keeps the key's attributes, the device's
//! reference to it (a PKCS#11 object id, a TPM key blob) and its public key. So exporting the
//! public key never reaches the device, and verification and encryption may run here, with
//! the public key (the driver says whether it does them itself). Imported public keys never
//! reach the device at all. A [`Device`] does only what needs the private key or the device.

use std::sync::Arc;

use parsec_keystore::KeyStore;
use parsec_psa::ops::CheckType;
use parsec_psa::{
    Aead, AsymmetricEncryption, AsymmetricSignature, Hash, KeyAttributes, Mac, RawKeyAgreement,
    Secret,
};
use parsec_wire::{Opcode, Status};
use zeroize::Zeroizing;

use super::keyed::{is_asymmetric, Backend, Key, Keyed, Material, NameFree, Serves};
use super::ProviderInfo;
use crate::engine::{asym, sym};

/// What a device made: its reference to the key and the public key (PSA export format).
pub struct Created {
    pub handle: Vec<u8>,
    pub public: Vec<u8>,
}

/// The driver of a device: the part of a hardware provider that talks to it.
pub trait Device: Send + Sync + 'static {
    /// What the driver keeps about a key between operations (object handles, a parsed blob).
    type Loaded: Send + Sync + 'static;

    /// Names this device (a digest, [`device_identity`]): a key record keeps it, and a node
    /// whose device is another refuses the key instead of asking its own device for it.
    fn identity(&self) -> [u8; 32];
    /// The device, for messages.
    fn describe(&self) -> &str;
    /// The families of operations the device serves.
    fn serves(&self) -> Serves;
    /// Whether the device can generate (`Generate`), import (`Import`) or use (`Use`) a key
    /// with these attributes (type, size and algorithm; policy rules are checked here).
    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool;
    /// Makes a key (pair) in the device.
    fn generate(&self, attributes: &KeyAttributes) -> Result<Created, Status>;
    /// Puts a key pair or secret key into the device: `material` is in PSA export format,
    /// already checked.
    fn import(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Created, Status>;
    /// A key the device already holds under `handle` (another installation's): its public
    /// key, read from the device, which is left as it is.
    fn adopt(&self, _attributes: &KeyAttributes, _handle: &[u8]) -> Result<Created, Status> {
        Err(Status::PsaErrorNotSupported)
    }
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
    /// Releases what the device holds for this process (objects loaded in a TPM), at exit:
    /// without a resource manager between, they would outlive the process. Later operations
    /// fail.
    fn close(&self) {}
}

/// A key ready for use.
pub struct HwKey<L> {
    pub attributes: KeyAttributes,
    /// The public key of an asymmetric key, parsed, and in PSA export format.
    pub public: Option<asym::AsymKey>,
    pub public_data: Vec<u8>,
    /// The driver's state; `None` for an imported public key, which the device never saw,
    /// and for a key in another node's device.
    loaded: Option<L>,
    /// The key lives in a device this node does not reach (see [`OnDevice::reachable`]).
    elsewhere: bool,
}

impl<L> HwKey<L> {
    /// The device's key: a key pair or secret key.
    fn pair(&self) -> Result<&L, Status> {
        match &self.loaded {
            Some(loaded) => Ok(loaded),
            None if self.elsewhere => Err(Status::PsaErrorCommunicationFailure),
            None => Err(Status::PsaErrorInvalidArgument),
        }
    }

    fn public(&self) -> Result<&asym::AsymKey, Status> {
        self.public.as_ref().ok_or(Status::PsaErrorInvalidArgument)
    }
}

/// A device's identity: SHA-256 over its kind and the length-prefixed facts that name it.
pub fn device_identity(kind: &str, facts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in std::iter::once(kind.as_bytes()).chain(facts.iter().copied()) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Record material, version 2: the device's identity (32 bytes), the handle's length (u32,
/// big-endian), the handle, the public key. Version 1 (written before several nodes shared a
/// store) has no identity.
const MATERIAL_V1: u8 = 1;
const MATERIAL_V2: u8 = 2;

fn encode_material(device: &[u8; 32], handle: &[u8], public: &[u8]) -> Vec<u8> {
    let len = u32::try_from(handle.len()).expect("a handle is small");
    let mut out = Vec::with_capacity(37 + handle.len() + public.len());
    out.push(MATERIAL_V2);
    out.extend_from_slice(device);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(handle);
    out.extend_from_slice(public);
    out
}

/// A record's material: the device it names (none in version 1), the handle, the public key.
struct Stored<'a> {
    device: Option<&'a [u8]>,
    handle: &'a [u8],
    public: &'a [u8],
}

fn decode_material(material: &[u8]) -> Option<Stored<'_>> {
    let (&version, rest) = material.split_first()?;
    let (device, rest) = match version {
        MATERIAL_V1 => (None, rest),
        MATERIAL_V2 if rest.len() >= 32 => {
            let (device, rest) = rest.split_at(32);
            (Some(device), rest)
        }
        _ => return None,
    };
    if rest.len() < 4 {
        return None;
    }
    let (len, rest) = rest.split_at(4);
    let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
    if len > rest.len() {
        return None;
    }
    let (handle, public) = rest.split_at(len);
    Some(Stored {
        device,
        handle,
        public,
    })
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

/// A hardware provider: the keyed-provider layer over a device.
pub type Hardware<D> = Keyed<OnDevice<D>>;

/// Opens the keyed provider of `device`.
pub fn provider<D: Device>(
    info: ProviderInfo,
    device: D,
    store: Arc<dyn KeyStore>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
) -> Hardware<D> {
    Keyed::new(
        info,
        OnDevice(device),
        store,
        allow_deprecated,
        buffer_size_limit,
    )
}

/// The keyed-provider layer's backend for a device: records keep the device's handle and the
/// public key; the public-key operations run here unless the device does them.
pub struct OnDevice<D>(pub D);

impl<D: Device> OnDevice<D> {
    pub fn device(&self) -> &D {
        &self.0
    }
}

impl<D: Device> OnDevice<D> {
    fn record(&self, created: &Created) -> Material {
        Zeroizing::new(encode_material(
            &self.0.identity(),
            &created.handle,
            &created.public,
        ))
    }

    /// Refuses a key that lives in another device than this node's (several nodes on one key
    /// store, each with its own device): `PsaErrorCommunicationFailure`, the PSA status for
    /// a cryptoprocessor that cannot be reached. Public keys live in no device. Operations
    /// that need only the public key (export, verification, encryption done here) still run.
    fn reachable(&self, attributes: &KeyAttributes, stored: &Stored<'_>) -> Result<(), Status> {
        match stored.device {
            Some(device) if !attributes.key_type.is_public_key() && device != self.0.identity() => {
                tracing::warn!(
                    "a key of this provider lives in another device than {}: only the nodes \
                     that reach that device serve it",
                    self.0.describe()
                );
                Err(Status::PsaErrorCommunicationFailure)
            }
            _ => Ok(()),
        }
    }
}

impl<D: Device> Backend for OnDevice<D> {
    type Loaded = HwKey<D::Loaded>;

    fn serves(&self) -> Serves {
        self.0.serves()
    }

    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool {
        match check {
            CheckType::Import if is_asymmetric(attributes) => {
                asym::supports_type(attributes.key_type, attributes.bits)
                    && (attributes.key_type.is_public_key()
                        || self.0.supports(attributes, CheckType::Import))
            }
            CheckType::Import => {
                sym::supports_type(attributes.key_type, attributes.bits)
                    && self.0.supports(attributes, CheckType::Import)
            }
            check => self.0.supports(attributes, check),
        }
    }

    fn check_generate(&self, attributes: &KeyAttributes) -> Result<(), Status> {
        if !self.0.supports(attributes, CheckType::Generate) {
            return Err(Status::PsaErrorNotSupported);
        }
        if !is_asymmetric(attributes) {
            sym::validate_bits(attributes.key_type, attributes.bits)?;
        }
        Ok(())
    }

    fn adopt(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<(u32, Material), Status> {
        let created = self.0.adopt(attributes, handle)?;
        // A public key is checked (and sized) as an imported one is.
        let bits = if attributes.key_type.is_public_key() {
            asym::import(attributes, &created.public)?.0
        } else {
            attributes.bits
        };
        Ok((bits, self.record(&created)))
    }

    fn generate(&self, attributes: &KeyAttributes) -> Result<Material, Status> {
        Ok(self.record(&self.0.generate(attributes)?))
    }

    fn import(
        &self,
        attributes: &KeyAttributes,
        data: &[u8],
        name_free: NameFree,
    ) -> Result<(u32, Material), Status> {
        let mut attributes = *attributes;
        if !is_asymmetric(&attributes) {
            // A secret key: checked here, kept by the device.
            let (bits, material) = sym::import(&attributes, data)?;
            attributes.bits = bits;
            if !self.0.supports(&attributes, CheckType::Import) {
                return Err(Status::PsaErrorNotSupported);
            }
            name_free()?;
            let created = self.0.import(&attributes, material.expose())?;
            return Ok((bits, self.record(&created)));
        }
        let is_public = attributes.key_type.is_public_key();
        if !self.supports(&attributes, CheckType::Import) {
            return Err(Status::PsaErrorNotSupported);
        }
        // Parsed and checked here first: the device sees only well-formed keys.
        let (bits, material) = asym::import(&attributes, data)?;
        attributes.bits = bits;
        let created = if is_public {
            Created {
                handle: Vec::new(),
                public: material.expose().to_vec(),
            }
        } else {
            let public = asym::export_public(&asym::load(&attributes, material.expose())?)?;
            name_free()?;
            let mut created = self.0.import(&attributes, material.expose())?;
            created.public = public;
            created
        };
        Ok((bits, self.record(&created)))
    }

    fn load(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Self::Loaded, Status> {
        let stored = decode_material(material).ok_or(Status::PsaErrorDataCorrupt)?;
        let elsewhere = self.reachable(attributes, &stored).is_err();
        let public = stored.public;
        let loaded = if attributes.key_type.is_public_key() || elsewhere {
            None
        } else {
            Some(self.0.load(attributes, stored.handle)?)
        };
        let parsed = if is_asymmetric(attributes) {
            Some(parse_public(attributes, public).map_err(|_| Status::PsaErrorDataCorrupt)?)
        } else {
            None
        };
        Ok(HwKey {
            attributes: *attributes,
            public: parsed,
            public_data: public.to_vec(),
            loaded,
            elsewhere,
        })
    }

    fn destroy(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<(), Status> {
        match decode_material(material) {
            Some(stored) if !stored.handle.is_empty() => {
                // Another node's key stays whole: only a node that reaches its device can
                // remove it from there.
                self.reachable(attributes, &stored)?;
                self.0.destroy(attributes, stored.handle)
            }
            Some(_) => Ok(()),
            None => {
                tracing::error!("a key record with unreadable material: removed");
                Ok(())
            }
        }
    }

    fn blocks(&self, opcode: Opcode) -> bool {
        self.0.blocks(opcode)
    }

    fn close(&self) {
        self.0.close();
    }

    fn export_public(&self, key: &Key<Self::Loaded>) -> Result<Vec<u8>, Status> {
        key.loaded.public()?;
        Ok(key.loaded.public_data.clone())
    }

    fn sign_hash(
        &self,
        key: &Key<Self::Loaded>,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let hw = &key.loaded;
        self.0.sign_hash(hw, hw.pair()?, alg, hash)
    }

    fn verify_hash(
        &self,
        key: &Key<Self::Loaded>,
        alg: AsymmetricSignature,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<(), Status> {
        let hw = &key.loaded;
        if let Some(loaded) = &hw.loaded {
            if let Some(done) = self.0.verify_hash(hw, loaded, alg, hash, signature) {
                return done;
            }
        }
        asym::verify_hash(hw.public()?, alg, hash, signature)
    }

    fn encrypt(
        &self,
        key: &Key<Self::Loaded>,
        alg: AsymmetricEncryption,
        plaintext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Vec<u8>, Status> {
        let hw = &key.loaded;
        let on_device = hw
            .loaded
            .as_ref()
            .and_then(|loaded| self.0.encrypt(hw, loaded, alg, plaintext, salt));
        match on_device {
            Some(done) => done,
            None => asym::encrypt(hw.public()?, alg, plaintext, salt),
        }
    }

    fn decrypt(
        &self,
        key: &Key<Self::Loaded>,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        let hw = &key.loaded;
        self.0.decrypt(hw, hw.pair()?, alg, ciphertext, salt)
    }

    fn aead_encrypt(
        &self,
        key: &Key<Self::Loaded>,
        alg: Aead,
        nonce: &[u8],
        additional_data: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let loaded = key.loaded.pair()?;
        self.0
            .aead(loaded, alg, true, nonce, additional_data, plaintext)
    }

    fn aead_decrypt(
        &self,
        key: &Key<Self::Loaded>,
        alg: Aead,
        nonce: &[u8],
        additional_data: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, Status> {
        let loaded = key.loaded.pair()?;
        self.0
            .aead(loaded, alg, false, nonce, additional_data, ciphertext)
            .map(Secret::new)
    }

    fn mac_compute(
        &self,
        key: &Key<Self::Loaded>,
        alg: Mac,
        input: &[u8],
    ) -> Result<Vec<u8>, Status> {
        self.0.mac(key.loaded.pair()?, alg, input)
    }

    fn hash(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        self.0.hash(alg, input)
    }

    fn key_agreement(
        &self,
        key: &Key<Self::Loaded>,
        alg: RawKeyAgreement,
        peer: &[u8],
    ) -> Result<Secret, Status> {
        let hw = &key.loaded;
        self.0.key_agreement(hw, hw.pair()?, alg, peer)
    }

    fn generate_random(&self, size: usize) -> Result<Secret, Status> {
        self.0.generate_random(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The device, handle and public key of a record's material.
    type Parts = (Option<Vec<u8>>, Vec<u8>, Vec<u8>);

    fn parts(m: &[u8]) -> Option<Parts> {
        decode_material(m).map(|s| {
            (
                s.device.map(<[u8]>::to_vec),
                s.handle.to_vec(),
                s.public.to_vec(),
            )
        })
    }

    #[test]
    fn material_round_trips_and_rejects_garbage() {
        let device = [9u8; 32];
        let m = encode_material(&device, b"handle", b"\x04public");
        assert_eq!(
            parts(&m),
            Some((
                Some(device.to_vec()),
                b"handle".to_vec(),
                b"\x04public".to_vec()
            ))
        );
        assert_eq!(
            parts(&encode_material(&device, b"", b"p")),
            Some((Some(device.to_vec()), Vec::new(), b"p".to_vec()))
        );
        // Version 1 (no device) is still read.
        let v1 = [&[1u8][..], &6u32.to_be_bytes(), b"handle", b"pub"].concat();
        assert_eq!(
            parts(&v1),
            Some((None, b"handle".to_vec(), b"pub".to_vec()))
        );
        assert_eq!(parts(&m[..4]), None);
        assert_eq!(parts(&m[..36]), None);
        let mut wrong_version = m.clone();
        wrong_version[0] = 3;
        assert_eq!(parts(&wrong_version), None);
        let mut too_long = m;
        too_long[33] = 200;
        assert_eq!(parts(&too_long), None);
    }

    #[test]
    fn device_identities_are_length_prefixed() {
        assert_ne!(
            device_identity("pkcs11", &[b"ab", b"c"]),
            device_identity("pkcs11", &[b"a", b"bc"])
        );
        assert_ne!(
            device_identity("tpm", &[b"x"]),
            device_identity("pkcs11", &[b"x"])
        );
    }
}
