//! Calls with safe defaults: make a key of a common kind, and sign, verify, encrypt and
//! decrypt with whatever algorithm the key's policy names (hashing messages here).

use aws_lc_rs::digest;
use parsec_psa::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature,
    EccFamily, Hash, KeyAttributes, KeyType, Policy, Secret, SignHash, UsageFlags,
};

use crate::{der, Client, Error};

/// Length of the nonce [`Client::encrypt`] puts before an AEAD ciphertext.
pub const AEAD_NONCE_LEN: usize = 12;

/// Attributes of the common kinds of key.
pub mod kinds {
    use super::*;

    fn signing() -> UsageFlags {
        UsageFlags {
            sign_hash: true,
            sign_message: true,
            verify_hash: true,
            verify_message: true,
            ..UsageFlags::default()
        }
    }

    fn encrypting() -> UsageFlags {
        UsageFlags {
            encrypt: true,
            decrypt: true,
            ..UsageFlags::default()
        }
    }

    /// ECC P-256 signing with ECDSA over SHA-256 (parsec-tool's `create-ecc-key`).
    pub fn ecc_signing() -> KeyAttributes {
        KeyAttributes {
            key_type: KeyType::EccKeyPair {
                curve_family: EccFamily::SecpR1,
            },
            bits: 256,
            policy: Policy {
                usage_flags: signing(),
                permitted_algorithms: AsymmetricSignature::Ecdsa {
                    hash_alg: SignHash::Specific(Hash::Sha256),
                }
                .into(),
            },
        }
    }

    /// RSA-2048 signing with PSS over SHA-256.
    pub fn rsa_signing() -> KeyAttributes {
        rsa(
            signing(),
            AsymmetricSignature::RsaPss {
                hash_alg: SignHash::Specific(Hash::Sha256),
            }
            .into(),
        )
    }

    /// RSA-2048 encryption with OAEP over SHA-256.
    pub fn rsa_encryption() -> KeyAttributes {
        rsa(
            encrypting(),
            AsymmetricEncryption::RsaOaep {
                hash_alg: Hash::Sha256,
            }
            .into(),
        )
    }

    /// AES-256 with GCM.
    pub fn aes_gcm() -> KeyAttributes {
        KeyAttributes {
            key_type: KeyType::Aes,
            bits: 256,
            policy: Policy {
                usage_flags: encrypting(),
                permitted_algorithms: Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm)
                    .into(),
            },
        }
    }

    /// RSA of 2048 bits with this use and algorithm.
    pub fn rsa(usage_flags: UsageFlags, alg: Algorithm) -> KeyAttributes {
        KeyAttributes {
            key_type: KeyType::RsaKeyPair,
            bits: 2048,
            policy: Policy {
                usage_flags,
                permitted_algorithms: alg,
            },
        }
    }
}

/// A public key in the PSA format and as an X.509 SubjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// The key's attributes (type, size, policy), as the service reports them.
    pub attributes: KeyAttributes,
    /// RSA: PKCS#1 RSAPublicKey (DER); ECC: the uncompressed point.
    pub psa: Vec<u8>,
    /// SubjectPublicKeyInfo (DER).
    pub spki: Vec<u8>,
}

impl PublicKey {
    /// The SubjectPublicKeyInfo in PEM (`PUBLIC KEY`), as OpenSSL reads it.
    pub fn pem(&self) -> String {
        der::pem("PUBLIC KEY", &self.spki)
    }
}

impl Client {
    /// Makes an ECC P-256 signing key (ECDSA with SHA-256).
    ///
    /// ```no_run
    /// let client = parsec_rs_client::Client::new()?;
    /// client.create_signing_key("app/signing")?;
    /// let signature = client.sign("app/signing", b"hello")?;
    /// client.verify("app/signing", b"hello", &signature)?;
    /// # Ok::<(), parsec_rs_client::Error>(())
    /// ```
    pub fn create_signing_key(&self, name: &str) -> Result<(), Error> {
        self.psa_generate_key(name, kinds::ecc_signing())
    }

    /// Makes an RSA-2048 signing key (PSS with SHA-256).
    pub fn create_rsa_signing_key(&self, name: &str) -> Result<(), Error> {
        self.psa_generate_key(name, kinds::rsa_signing())
    }

    /// Makes an RSA-2048 encryption key (OAEP with SHA-256).
    pub fn create_encryption_key(&self, name: &str) -> Result<(), Error> {
        self.psa_generate_key(name, kinds::rsa_encryption())
    }

    /// Makes an AES-256 key for GCM.
    pub fn create_aes_key(&self, name: &str) -> Result<(), Error> {
        self.psa_generate_key(name, kinds::aes_gcm())
    }

    /// Signs `message` with the algorithm of the key's policy, hashing it here. A policy that
    /// allows any hash is used with SHA-256. ECDSA signatures are PSA's `r ‖ s`
    /// ([`der::ecdsa_signature`] makes the X9.62 form).
    pub fn sign(&self, name: &str, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.keyed(name, || {
            let (alg, hash) = self.signature_alg(name, Hash::Sha256)?;
            self.psa_sign_hash(name, &digest_of(hash, message)?, alg)
        })
    }

    /// Like [`Client::sign`] with `default_hash` where the policy allows any hash.
    pub fn sign_with_default_hash(
        &self,
        name: &str,
        message: &[u8],
        default_hash: Hash,
    ) -> Result<Vec<u8>, Error> {
        self.keyed(name, || {
            let (alg, hash) = self.signature_alg(name, default_hash)?;
            self.psa_sign_hash(name, &digest_of(hash, message)?, alg)
        })
    }

    /// Checks a signature made by [`Client::sign`]; an invalid one is
    /// `PsaErrorInvalidSignature`.
    pub fn verify(&self, name: &str, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        self.keyed(name, || {
            let (alg, hash) = self.signature_alg(name, Hash::Sha256)?;
            self.psa_verify_hash(name, &digest_of(hash, message)?, alg, signature)
        })
    }

    /// Encrypts with the algorithm of the key's policy: RSA (PKCS#1 v1.5 or OAEP), or an
    /// AEAD, whose output is a fresh random nonce of [`AEAD_NONCE_LEN`] bytes followed by the
    /// ciphertext and tag.
    pub fn encrypt(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.keyed(name, || {
            match self.key_info(name)?.attributes.policy.permitted_algorithms {
                Algorithm::AsymmetricEncryption(alg) => {
                    self.psa_asymmetric_encrypt(name, alg, plaintext, None)
                }
                Algorithm::Aead(alg) => {
                    let mut nonce = [0u8; AEAD_NONCE_LEN];
                    aws_lc_rs::rand::fill(&mut nonce)
                        .map_err(|_| Error::InvalidInput("no randomness for a nonce".into()))?;
                    let mut out = nonce.to_vec();
                    out.extend(self.psa_aead_encrypt(name, alg, &nonce, &[], plaintext)?);
                    Ok(out)
                }
                other => Err(unsuitable(
                    name,
                    format!("its algorithm {other:?} does not encrypt"),
                )),
            }
        })
    }

    /// Decrypts what [`Client::encrypt`] made (or any ciphertext of the key's algorithm).
    pub fn decrypt(&self, name: &str, ciphertext: &[u8]) -> Result<Secret, Error> {
        self.keyed(name, || {
            match self.key_info(name)?.attributes.policy.permitted_algorithms {
                Algorithm::AsymmetricEncryption(alg) => {
                    self.psa_asymmetric_decrypt(name, alg, ciphertext, None)
                }
                Algorithm::Aead(alg) => {
                    if ciphertext.len() < AEAD_NONCE_LEN {
                        return Err(Error::InvalidInput(
                            "the ciphertext is shorter than its nonce".into(),
                        ));
                    }
                    let (nonce, rest) = ciphertext.split_at(AEAD_NONCE_LEN);
                    self.psa_aead_decrypt(name, alg, nonce, &[], rest)
                }
                other => Err(unsuitable(
                    name,
                    format!("its algorithm {other:?} does not decrypt"),
                )),
            }
        })
    }

    /// The key's public part, in the PSA format and as a SubjectPublicKeyInfo.
    pub fn public_key(&self, name: &str) -> Result<PublicKey, Error> {
        self.keyed(name, || {
            let attributes = self.key_info(name)?.attributes;
            let psa = self.psa_export_public_key(name)?;
            let spki = der::subject_public_key_info(&attributes, &psa)?;
            Ok(PublicKey {
                attributes,
                psa,
                spki,
            })
        })
    }

    /// The signature algorithm of the key's policy with a specific hash, and that hash.
    pub fn signature_alg(
        &self,
        name: &str,
        default_hash: Hash,
    ) -> Result<(AsymmetricSignature, Hash), Error> {
        let alg = match self.key_info(name)?.attributes.policy.permitted_algorithms {
            Algorithm::AsymmetricSignature(alg) => alg,
            other => {
                return Err(unsuitable(
                    name,
                    format!("its algorithm {other:?} does not sign"),
                ))
            }
        };
        let hash = match alg.hash() {
            Some(SignHash::Specific(h)) => h,
            Some(SignHash::Any) => default_hash,
            None => {
                return Err(unsuitable(
                    name,
                    format!("{alg:?} signs a caller's digest: use psa_sign_hash"),
                ))
            }
        };
        let specific = SignHash::Specific(hash);
        let alg = match alg {
            AsymmetricSignature::RsaPkcs1v15Sign { .. } => {
                AsymmetricSignature::RsaPkcs1v15Sign { hash_alg: specific }
            }
            AsymmetricSignature::RsaPss { .. } => {
                AsymmetricSignature::RsaPss { hash_alg: specific }
            }
            AsymmetricSignature::Ecdsa { .. } => AsymmetricSignature::Ecdsa { hash_alg: specific },
            AsymmetricSignature::DeterministicEcdsa { .. } => {
                AsymmetricSignature::DeterministicEcdsa { hash_alg: specific }
            }
            other => other,
        };
        Ok((alg, hash))
    }
}

impl Client {
    /// Runs a call on key `name`; when the service refuses it, what [`Client::key_info`] kept
    /// of the key is dropped (another client may have replaced the key), so the next call
    /// looks again.
    fn keyed<T>(&self, name: &str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let result = f();
        if matches!(result, Err(Error::Service { .. })) {
            self.forget_key(name);
        }
        result
    }
}

fn unsuitable(name: &str, why: String) -> Error {
    Error::UnsuitableKey {
        key: name.to_string(),
        why,
    }
}

/// The digest of `message` (the hashes X.509 and the PSA defaults use).
pub fn digest_of(hash: Hash, message: &[u8]) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha224 => &digest::SHA224,
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
        Hash::Sha512_256 => &digest::SHA512_256,
        Hash::Sha3_256 => &digest::SHA3_256,
        Hash::Sha3_384 => &digest::SHA3_384,
        Hash::Sha3_512 => &digest::SHA3_512,
        other => {
            return Err(Error::InvalidInput(format!(
                "{other:?} is not a hash this client computes"
            )))
        }
    };
    Ok(digest::digest(alg, message).as_ref().to_vec())
}
