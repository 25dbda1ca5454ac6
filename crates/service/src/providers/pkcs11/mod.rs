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
//! | RSA-OAEP (same hashes, any label) | `CKM_RSA_PKCS_OAEP`; where the token refuses the parameters (SoftHSM2 takes only SHA-1 without a label), `CKM_RSA_X_509` and constant-time decoding here ([`oaep`]) for decryption, the public key here for encryption |
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

mod token;

use std::sync::Arc;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use parsec_keystore::KeyStore;
use parsec_psa::ops::CheckType;
use parsec_psa::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature,
    EccFamily, FullLengthMac, Hash, KeyAgreement, KeyAttributes, KeyType, Mac, RawKeyAgreement,
    Secret, SignHash,
};
use parsec_wire::{ProviderId, Status};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

use super::hardware::{Created, Device, Hardware, HwKey};
use super::keyed::Serves;
use super::ProviderInfo;
use crate::config::Pkcs11Config;
use crate::engine::oaep;
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

fn hash_mechanism(hash: Hash) -> Option<(MechanismType, PkcsMgfType)> {
    Some(match hash {
        Hash::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        Hash::Sha224 => (MechanismType::SHA224, PkcsMgfType::MGF1_SHA224),
        Hash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        Hash::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        Hash::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        _ => return None,
    })
}

/// The token's HMAC and digest mechanisms for a hash.
fn hmac_mechanism(hash: Hash) -> Option<(MechanismType, Mechanism<'static>)> {
    Some(match hash {
        Hash::Sha1 => (MechanismType::SHA1_HMAC, Mechanism::Sha1Hmac),
        Hash::Sha224 => (MechanismType::SHA224_HMAC, Mechanism::Sha224Hmac),
        Hash::Sha256 => (MechanismType::SHA256_HMAC, Mechanism::Sha256Hmac),
        Hash::Sha384 => (MechanismType::SHA384_HMAC, Mechanism::Sha384Hmac),
        Hash::Sha512 => (MechanismType::SHA512_HMAC, Mechanism::Sha512Hmac),
        _ => return None,
    })
}

fn digest_mechanism(hash: Hash) -> Option<(MechanismType, Mechanism<'static>)> {
    Some(match hash {
        Hash::Sha1 => (MechanismType::SHA1, Mechanism::Sha1),
        Hash::Sha224 => (MechanismType::SHA224, Mechanism::Sha224),
        Hash::Sha256 => (MechanismType::SHA256, Mechanism::Sha256),
        Hash::Sha384 => (MechanismType::SHA384, Mechanism::Sha384),
        Hash::Sha512 => (MechanismType::SHA512, Mechanism::Sha512),
        _ => return None,
    })
}

/// The tag length of an AES-GCM algorithm, if PSA allows it.
fn gcm_tag_len(alg: Aead) -> Option<usize> {
    let len = match alg {
        Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm) => 16,
        Aead::AeadWithShortenedTag {
            aead_alg: AeadWithDefaultLengthTag::Gcm,
            tag_length,
        } => usize::try_from(tag_length).ok()?,
        _ => return None,
    };
    matches!(len, 4 | 8 | 12..=16).then_some(len)
}

/// The HMAC hash and output length of a MAC algorithm (truncations of 4 bytes or more).
fn hmac_len(alg: Mac) -> Option<(Hash, usize)> {
    let FullLengthMac::Hmac { hash_alg } = alg.full_length() else {
        return None;
    };
    let full = hash_alg.output_len();
    let len = match alg {
        Mac::FullLength(_) | Mac::Truncated { mac_length: 0, .. } => full,
        Mac::Truncated { mac_length, .. } => usize::try_from(mac_length).ok()?,
    };
    (4..=full).contains(&len).then_some((hash_alg, len))
}

/// The DER DigestInfo prefix of PKCS#1 v1.5 signatures (RFC 8017 §9.2 note 1).
fn digest_info(hash: Hash) -> Option<&'static [u8]> {
    Some(match hash {
        Hash::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        Hash::Sha224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x04, 0x05, 0x00, 0x04, 0x1c,
        ],
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => return None,
    })
}

/// The DER `ECParameters` (a named curve OID) of a curve.
fn ec_params(family: EccFamily, bits: u32) -> Option<&'static [u8]> {
    Some(match (family, bits) {
        (EccFamily::SecpR1, 256) => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        (EccFamily::SecpR1, 384) => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        (EccFamily::SecpR1, 521) => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        (EccFamily::SecpK1, 256) => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
        _ => return None,
    })
}

/// Bytes of one coordinate (and of r and s in a signature).
fn coordinate_len(bits: u32) -> usize {
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// A DER OCTET STRING around `content` (how `CKA_EC_POINT` holds a point).
fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    match u8::try_from(content.len()) {
        Ok(n) if n < 0x80 => out.push(n),
        Ok(n) => out.extend_from_slice(&[0x81, n]),
        Err(_) => out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The uncompressed point in a `CKA_EC_POINT` value: DER-wrapped as the standard says, or
/// bare as some tokens return it (upstream issue parsec#599).
fn ec_point(value: &[u8], bits: u32) -> Option<Vec<u8>> {
    let point_len = 1 + 2 * coordinate_len(bits);
    let point = if value.len() == point_len {
        value
    } else {
        let wrapped = der_octet_string(value.get(value.len().checked_sub(point_len)?..)?);
        if wrapped != value {
            return None;
        }
        &value[value.len() - point_len..]
    };
    (point.first() == Some(&0x04)).then(|| point.to_vec())
}

/// Whether the token refused a mechanism's parameters (not the data).
fn refused_parameters(e: &Error) -> bool {
    matches!(
        e,
        Error::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid,
            _
        )
    )
}

fn oaep_params(hash: Hash, label: &[u8]) -> Option<PkcsOaepParams<'_>> {
    let (hash, mgf) = hash_mechanism(hash)?;
    let source = if label.is_empty() {
        PkcsOaepSource::empty()
    } else {
        PkcsOaepSource::data_specified(label)
    };
    Some(PkcsOaepParams::new(hash, mgf, source))
}

impl Pkcs11Backend {
    fn has(&self, m: MechanismType) -> bool {
        self.token.mechanism(m).is_some()
    }

    /// What the token's mechanisms let this provider serve.
    fn derive_serves(&self) -> Serves {
        let rsa = self.has(MechanismType::RSA_PKCS_KEY_PAIR_GEN);
        let any = |hashes: fn(Hash) -> Option<(MechanismType, Mechanism<'static>)>| {
            Hash::ALL
                .iter()
                .filter_map(|h| hashes(*h))
                .any(|(m, _)| self.has(m))
        };
        Serves {
            signatures: self.has(MechanismType::ECDSA)
                || self.has(MechanismType::RSA_PKCS)
                || self.has(MechanismType::RSA_PKCS_PSS),
            asymmetric_encryption: rsa
                && (self.has(MechanismType::RSA_PKCS)
                    || self.has(MechanismType::RSA_PKCS_OAEP)
                    || self.has(MechanismType::RSA_X_509)),
            random: true,
            aead: self.has(MechanismType::AES_GCM),
            macs: any(hmac_mechanism),
            hashes: any(digest_mechanism),
            key_agreement: self.has(MechanismType::ECDH1_DERIVE),
            ..Serves::default()
        }
    }

    fn hash_ok(h: SignHash) -> bool {
        match h {
            SignHash::Any => true,
            SignHash::Specific(h) => hash_mechanism(h).is_some(),
        }
    }

    /// Whether the token can run `alg`.
    fn supports_alg(&self, alg: Algorithm) -> bool {
        use AsymmetricSignature as S;
        match alg {
            Algorithm::None => true,
            Algorithm::AsymmetricSignature(s) => match s {
                S::RsaPkcs1v15Sign { hash_alg } => {
                    self.has(MechanismType::RSA_PKCS) && Self::hash_ok(hash_alg)
                }
                S::RsaPkcs1v15SignRaw => self.has(MechanismType::RSA_PKCS),
                S::RsaPss { hash_alg } => {
                    self.has(MechanismType::RSA_PKCS_PSS) && Self::hash_ok(hash_alg)
                }
                S::Ecdsa { .. } | S::EcdsaAny => self.has(MechanismType::ECDSA),
                S::DeterministicEcdsa { .. } => false,
            },
            Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaPkcs1v15Crypt) => {
                self.has(MechanismType::RSA_PKCS)
            }
            Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaOaep { hash_alg }) => {
                oaep::supported(hash_alg)
                    && (self.has(MechanismType::RSA_PKCS_OAEP)
                        || self.has(MechanismType::RSA_X_509))
            }
            Algorithm::Aead(a) => gcm_tag_len(a).is_some() && self.has(MechanismType::AES_GCM),
            Algorithm::Mac(m) => hmac_len(m)
                .and_then(|(h, _)| hmac_mechanism(h))
                .is_some_and(|(m, _)| self.has(m)),
            Algorithm::KeyAgreement(KeyAgreement::Raw(RawKeyAgreement::Ecdh)) => {
                self.has(MechanismType::ECDH1_DERIVE)
            }
            _ => false,
        }
    }

    /// Whether the token takes keys of this type and size (for `generator`, if it makes them).
    fn supports_key(&self, attributes: &KeyAttributes, generator: Option<MechanismType>) -> bool {
        let bits = attributes.bits;
        let (sized, mechanism) = match attributes.key_type {
            KeyType::RsaKeyPair | KeyType::RsaPublicKey => (
                (1024..=4096).contains(&bits) && bits % 8 == 0,
                generator.or(Some(MechanismType::RSA_PKCS)),
            ),
            KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => (
                ec_params(curve_family, bits).is_some(),
                generator.or(Some(MechanismType::ECDSA)),
            ),
            // Secret keys: sizes as PSA allows (checked by the caller); the token's ranges for
            // these mechanisms mix bits and bytes, so only the generator's presence is checked.
            KeyType::Aes | KeyType::Hmac => return generator.is_none_or(|m| self.has(m)),
            _ => return false,
        };
        sized
            && mechanism.is_some_and(|m| {
                self.token.mechanism(m).is_some_and(|info| {
                    let bits = usize::try_from(bits).unwrap_or(usize::MAX);
                    // Tokens give EC sizes in bits, RSA sizes in bits; 0..0 means "no limit".
                    (info.min_key_size() == 0 && info.max_key_size() == 0)
                        || (info.min_key_size()..=info.max_key_size()).contains(&bits)
                })
            })
    }

    /// The usage attributes of a key's two objects.
    fn usage(&self, attributes: &KeyAttributes) -> (Vec<Attribute>, Vec<Attribute>) {
        let f = attributes.policy.usage_flags;
        let rsa = attributes.key_type == KeyType::RsaKeyPair;
        let mut private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(self.allow_export && f.export),
            Attribute::Sign(f.sign_hash || f.sign_message),
        ];
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(f.verify_hash || f.verify_message),
        ];
        if rsa {
            private.push(Attribute::Decrypt(f.decrypt));
            public.push(Attribute::Encrypt(f.encrypt));
        } else {
            private.push(Attribute::Derive(f.derive));
        }
        (private, public)
    }

    /// The attributes of a secret key object (AES or HMAC) with this policy.
    fn secret_template(&self, attributes: &KeyAttributes) -> Result<Vec<Attribute>, Status> {
        let f = attributes.policy.usage_flags;
        let key_type = match attributes.key_type {
            KeyType::Aes => CkKeyType::AES,
            KeyType::Hmac => CkKeyType::GENERIC_SECRET,
            _ => return Err(Status::PsaErrorNotSupported),
        };
        Ok(vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(self.allow_export && f.export),
            Attribute::Encrypt(f.encrypt),
            Attribute::Decrypt(f.decrypt),
            Attribute::Sign(f.sign_message || f.sign_hash),
            Attribute::Verify(f.verify_message || f.verify_hash),
        ])
    }

    /// Makes a secret key object with `make` under a fresh id.
    fn create_secret(
        &self,
        make: impl FnOnce(&Session, Vec<u8>) -> Result<ObjectHandle, Error>,
    ) -> Result<Created, Status> {
        let mut id = vec![0u8; ID_LEN];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
        self.token.with_session(|s| make(s, id.clone()))?;
        Ok(Created {
            handle: id,
            public: Vec::new(),
        })
    }

    /// The public key of a freshly made key, in PSA export format.
    fn read_public(
        session: &Session,
        public: ObjectHandle,
        attributes: &KeyAttributes,
    ) -> Result<Result<Vec<u8>, Status>, Error> {
        Ok(match attributes.key_type {
            KeyType::RsaKeyPair => {
                let values = session.get_attributes(
                    public,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )?;
                let (mut n, mut e) = (None, None);
                for v in values {
                    match v {
                        Attribute::Modulus(m) => n = Some(m),
                        Attribute::PublicExponent(x) => e = Some(x),
                        _ => {}
                    }
                }
                let (Some(n), Some(e)) = (n, e) else {
                    return Ok(Err(Status::PsaErrorHardwareFailure));
                };
                rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                )
                .ok()
                .filter(|k| k.n().bits() == usize::try_from(attributes.bits).unwrap_or(0))
                .and_then(|k| k.to_pkcs1_der().ok())
                .map(|der| der.as_bytes().to_vec())
                .ok_or(Status::PsaErrorHardwareFailure)
            }
            _ => {
                let values = session.get_attributes(public, &[AttributeType::EcPoint])?;
                values
                    .into_iter()
                    .find_map(|v| match v {
                        Attribute::EcPoint(p) => ec_point(&p, attributes.bits),
                        _ => None,
                    })
                    .ok_or(Status::PsaErrorHardwareFailure)
            }
        })
    }

    fn find(session: &Session, id: &[u8], class: ObjectClass) -> Result<Vec<ObjectHandle>, Error> {
        session.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
    }

    /// Makes both objects with `make`, reads the public key, and removes the objects again if
    /// anything after their creation fails.
    fn create(
        &self,
        attributes: &KeyAttributes,
        make: impl FnOnce(&Session, Vec<u8>) -> Result<(ObjectHandle, ObjectHandle), Error>,
    ) -> Result<Created, Status> {
        let mut id = vec![0u8; ID_LEN];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
        let public = self.token.with_session(|s| {
            let (public, private) = make(s, id.clone())?;
            let read = Self::read_public(s, public, attributes);
            if !matches!(read, Ok(Ok(_))) {
                let _ = s.destroy_object(private);
                let _ = s.destroy_object(public);
            }
            read
        })??;
        Ok(Created { handle: id, public })
    }
}

impl Device for Pkcs11Backend {
    type Loaded = P11Key;

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
        if matches!(attributes.key_type, KeyType::Aes | KeyType::Hmac) {
            let mut template = self.secret_template(attributes)?;
            let bytes = u64::from(attributes.bits / 8);
            template.push(Attribute::ValueLen(bytes.into()));
            let mechanism = if attributes.key_type == KeyType::Aes {
                Mechanism::AesKeyGen
            } else {
                Mechanism::GenericSecretKeyGen
            };
            return self.create_secret(|s, id| {
                template.push(Attribute::Id(id));
                s.generate_key(&mechanism, &template)
            });
        }
        let (mut private, mut public) = self.usage(attributes);
        let mechanism = match attributes.key_type {
            KeyType::RsaKeyPair => {
                public.push(Attribute::ModulusBits(u64::from(attributes.bits).into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
            KeyType::EccKeyPair { curve_family } => {
                let params =
                    ec_params(curve_family, attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
                public.push(Attribute::EcParams(params.to_vec()));
                Mechanism::EccKeyPairGen
            }
            _ => return Err(Status::PsaErrorNotSupported),
        };
        self.create(attributes, |s, id| {
            private.push(Attribute::Id(id.clone()));
            public.push(Attribute::Id(id));
            s.generate_key_pair(&mechanism, &public, &private)
        })
    }

    fn import(&self, attributes: &KeyAttributes, material: &[u8]) -> Result<Created, Status> {
        if matches!(attributes.key_type, KeyType::Aes | KeyType::Hmac) {
            let mut template = self.secret_template(attributes)?;
            template.push(Attribute::Value(material.to_vec()));
            let created = self.create_secret(|s, id| {
                template.push(Attribute::Id(id));
                s.create_object(&template)
            });
            for attribute in template.iter_mut() {
                if let Attribute::Value(v) = attribute {
                    zeroize::Zeroize::zeroize(v);
                }
            }
            return created;
        }
        let (mut private, mut public) = self.usage(attributes);
        match attributes.key_type {
            KeyType::RsaKeyPair => {
                let key = rsa::RsaPrivateKey::from_pkcs1_der(material)
                    .map_err(|_| Status::PsaErrorInvalidArgument)?;
                let [p, q] = key.primes() else {
                    return Err(Status::PsaErrorNotSupported);
                };
                let (Some(dp), Some(dq)) = (key.dp(), key.dq()) else {
                    return Err(Status::PsaErrorInvalidArgument);
                };
                let qinv = key
                    .crt_coefficient()
                    .ok_or(Status::PsaErrorInvalidArgument)?;
                let n = key.n().to_bytes_be();
                let e = key.e().to_bytes_be();
                let common = [
                    Attribute::KeyType(CkKeyType::RSA),
                    Attribute::Modulus(n),
                    Attribute::PublicExponent(e),
                ];
                public.extend(common.iter().cloned());
                public.push(Attribute::Class(ObjectClass::PUBLIC_KEY));
                private.extend(common);
                private.extend([
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::PrivateExponent(key.d().to_bytes_be()),
                    Attribute::Prime1(p.to_bytes_be()),
                    Attribute::Prime2(q.to_bytes_be()),
                    Attribute::Exponent1(dp.to_bytes_be()),
                    Attribute::Exponent2(dq.to_bytes_be()),
                    Attribute::Coefficient(qinv.to_bytes_be()),
                ]);
            }
            KeyType::EccKeyPair { curve_family } => {
                let params = ec_params(curve_family, attributes.bits)
                    .ok_or(Status::PsaErrorNotSupported)?
                    .to_vec();
                let key = crate::engine::asym::load(attributes, material)?;
                let point = crate::engine::asym::export_public(&key)?;
                public.extend([
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(CkKeyType::EC),
                    Attribute::EcParams(params.clone()),
                    Attribute::EcPoint(der_octet_string(&point)),
                ]);
                private.extend([
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(CkKeyType::EC),
                    Attribute::EcParams(params),
                    Attribute::Value(material.to_vec()),
                ]);
            }
            _ => return Err(Status::PsaErrorNotSupported),
        }
        let created = self.create(attributes, |s, id| {
            private.push(Attribute::Id(id.clone()));
            public.push(Attribute::Id(id));
            let public = s.create_object(&public)?;
            match s.create_object(&private) {
                Ok(private) => Ok((public, private)),
                Err(e) => {
                    let _ = s.destroy_object(public);
                    Err(e)
                }
            }
        });
        // The templates held the private key: wipe them.
        for attribute in private.iter_mut() {
            if let Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v)
            | Attribute::Value(v) = attribute
            {
                zeroize::Zeroize::zeroize(v);
            }
        }
        created
    }

    fn load(&self, attributes: &KeyAttributes, handle: &[u8]) -> Result<P11Key, Status> {
        let class = if attributes.key_type.is_key_pair() {
            ObjectClass::PRIVATE_KEY
        } else {
            ObjectClass::SECRET_KEY
        };
        let (private, public) = self.token.with_session(|s| {
            Ok((
                Self::find(s, handle, class)?,
                Self::find(s, handle, ObjectClass::PUBLIC_KEY)?,
            ))
        })?;
        match private.as_slice() {
            [private] => Ok(P11Key {
                private: *private,
                public: public.first().copied(),
            }),
            _ => {
                tracing::error!(
                    "{} has {} private keys with the recorded id: it was changed outside this service",
                    self.token.description,
                    private.len()
                );
                Err(Status::PsaErrorDataCorrupt)
            }
        }
    }

    fn destroy(&self, _attributes: &KeyAttributes, handle: &[u8]) -> Result<(), Status> {
        self.token.with_session(|s| {
            for class in [
                ObjectClass::PRIVATE_KEY,
                ObjectClass::PUBLIC_KEY,
                ObjectClass::SECRET_KEY,
            ] {
                for object in Self::find(s, handle, class)? {
                    s.destroy_object(object)?;
                }
            }
            Ok(())
        })
    }

    fn sign_hash(
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

    fn verify_hash(
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

    fn encrypt(
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

    fn decrypt(
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

    fn aead(
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

    fn mac(&self, loaded: &P11Key, alg: Mac, input: &[u8]) -> Result<Vec<u8>, Status> {
        let (hash, len) = hmac_len(alg).ok_or(Status::PsaErrorNotSupported)?;
        let (_, mechanism) = hmac_mechanism(hash).ok_or(Status::PsaErrorNotSupported)?;
        let mut mac = self
            .token
            .with_session(|s| s.sign(&mechanism, loaded.private, input))?;
        mac.truncate(len);
        Ok(mac)
    }

    fn hash(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
        let (m, mechanism) = digest_mechanism(alg).ok_or(Status::PsaErrorNotSupported)?;
        if !self.has(m) {
            return Err(Status::PsaErrorNotSupported);
        }
        self.token.with_session(|s| s.digest(&mechanism, input))
    }

    fn key_agreement(
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

    fn generate_random(&self, size: usize) -> Result<Secret, Status> {
        if size == 0 {
            return Ok(Secret::default());
        }
        let size = u32::try_from(size).map_err(|_| Status::PsaErrorInvalidArgument)?;
        self.token
            .with_session(|s| s.generate_random_vec(size))
            .map(Secret::new)
    }
}

/// The mechanism and the data to sign for a signature algorithm.
fn signature_mechanism(
    alg: AsymmetricSignature,
    hash: &[u8],
) -> Result<(Mechanism<'static>, Vec<u8>), Status> {
    use AsymmetricSignature as S;
    Ok(match alg {
        S::RsaPkcs1v15Sign {
            hash_alg: SignHash::Specific(h),
        } => {
            let mut data = digest_info(h).ok_or(Status::PsaErrorNotSupported)?.to_vec();
            data.extend_from_slice(hash);
            (Mechanism::RsaPkcs, data)
        }
        S::RsaPkcs1v15SignRaw => (Mechanism::RsaPkcs, hash.to_vec()),
        S::RsaPss {
            hash_alg: SignHash::Specific(h),
        } => {
            let (hash_alg, mgf) = hash_mechanism(h).ok_or(Status::PsaErrorNotSupported)?;
            let s_len = u64::try_from(h.output_len()).unwrap_or(0).into();
            (
                Mechanism::RsaPkcsPss(PkcsPssParams {
                    hash_alg,
                    mgf,
                    s_len,
                }),
                hash.to_vec(),
            )
        }
        S::Ecdsa { .. } | S::EcdsaAny => (Mechanism::Ecdsa, hash.to_vec()),
        _ => return Err(Status::PsaErrorNotSupported),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_bare_or_der_wrapped() {
        let point: Vec<u8> = std::iter::once(4).chain(1..=64).collect();
        assert_eq!(ec_point(&point, 256), Some(point.clone()));
        assert_eq!(
            ec_point(&der_octet_string(&point), 256),
            Some(point.clone())
        );
        let p521: Vec<u8> = std::iter::once(4)
            .chain((0..132).map(|i| i as u8))
            .collect();
        let wrapped = der_octet_string(&p521);
        assert_eq!(&wrapped[..3], [0x04, 0x81, 133]);
        assert_eq!(ec_point(&wrapped, 521), Some(p521));
        assert_eq!(ec_point(&point[1..], 256), None);
        assert_eq!(ec_point(&[0x03; 65], 256), None);
    }

    #[test]
    fn digest_info_ends_with_the_hash_length() {
        for h in [
            Hash::Sha1,
            Hash::Sha224,
            Hash::Sha256,
            Hash::Sha384,
            Hash::Sha512,
        ] {
            let prefix = digest_info(h).unwrap();
            assert_eq!(usize::from(*prefix.last().unwrap()), h.output_len());
            assert_eq!(usize::from(prefix[1]) + 2, prefix.len() + h.output_len());
        }
    }
}
