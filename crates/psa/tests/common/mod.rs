//! Shared by the interop tests: a mapping from the upstream typed model (psa-crypto, through
//! parsec-interface) to ours that does not go through protobuf, the representative values, and
//! framing so that our bytes can be handed to the upstream converter.

#![allow(deprecated, dead_code)]

use parsec_interface::operations::psa_algorithm as ua;
use parsec_interface::operations::psa_key_attributes as uk;
use parsec_interface::requests::request::RequestBody;
use parsec_interface::requests::response::ResponseBody;
use parsec_interface::requests::{Request, Response};
use parsec_psa as psa;

pub fn hash(h: ua::Hash) -> psa::Hash {
    use ua::Hash as U;
    match h {
        U::Md2 => psa::Hash::Md2,
        U::Md4 => psa::Hash::Md4,
        U::Md5 => psa::Hash::Md5,
        U::Ripemd160 => psa::Hash::Ripemd160,
        U::Sha1 => psa::Hash::Sha1,
        U::Sha224 => psa::Hash::Sha224,
        U::Sha256 => psa::Hash::Sha256,
        U::Sha384 => psa::Hash::Sha384,
        U::Sha512 => psa::Hash::Sha512,
        U::Sha512_224 => psa::Hash::Sha512_224,
        U::Sha512_256 => psa::Hash::Sha512_256,
        U::Sha3_224 => psa::Hash::Sha3_224,
        U::Sha3_256 => psa::Hash::Sha3_256,
        U::Sha3_384 => psa::Hash::Sha3_384,
        U::Sha3_512 => psa::Hash::Sha3_512,
    }
}

pub fn sign_hash(h: ua::SignHash) -> psa::SignHash {
    match h {
        ua::SignHash::Any => psa::SignHash::Any,
        ua::SignHash::Specific(h) => psa::SignHash::Specific(hash(h)),
    }
}

pub fn full_mac(m: ua::FullLengthMac) -> psa::FullLengthMac {
    match m {
        ua::FullLengthMac::Hmac { hash_alg } => psa::FullLengthMac::Hmac {
            hash_alg: hash(hash_alg),
        },
        ua::FullLengthMac::CbcMac => psa::FullLengthMac::CbcMac,
        ua::FullLengthMac::Cmac => psa::FullLengthMac::Cmac,
    }
}

pub fn mac(m: ua::Mac) -> psa::Mac {
    match m {
        ua::Mac::FullLength(m) => psa::Mac::FullLength(full_mac(m)),
        ua::Mac::Truncated {
            mac_alg,
            mac_length,
        } => psa::Mac::Truncated {
            mac_alg: full_mac(mac_alg),
            mac_length: mac_length.try_into().unwrap(),
        },
    }
}

pub fn cipher(c: ua::Cipher) -> psa::Cipher {
    use ua::Cipher as U;
    match c {
        U::StreamCipher => psa::Cipher::StreamCipher,
        U::Ctr => psa::Cipher::Ctr,
        U::Cfb => psa::Cipher::Cfb,
        U::Ofb => psa::Cipher::Ofb,
        U::Xts => psa::Cipher::Xts,
        U::EcbNoPadding => psa::Cipher::EcbNoPadding,
        U::CbcNoPadding => psa::Cipher::CbcNoPadding,
        U::CbcPkcs7 => psa::Cipher::CbcPkcs7,
    }
}

fn aead_base(a: ua::AeadWithDefaultLengthTag) -> psa::AeadWithDefaultLengthTag {
    use ua::AeadWithDefaultLengthTag as U;
    match a {
        U::Ccm => psa::AeadWithDefaultLengthTag::Ccm,
        U::Gcm => psa::AeadWithDefaultLengthTag::Gcm,
        U::Chacha20Poly1305 => psa::AeadWithDefaultLengthTag::Chacha20Poly1305,
    }
}

pub fn aead(a: ua::Aead) -> psa::Aead {
    match a {
        ua::Aead::AeadWithDefaultLengthTag(a) => psa::Aead::AeadWithDefaultLengthTag(aead_base(a)),
        ua::Aead::AeadWithShortenedTag {
            aead_alg,
            tag_length,
        } => psa::Aead::AeadWithShortenedTag {
            aead_alg: aead_base(aead_alg),
            tag_length: tag_length.try_into().unwrap(),
        },
    }
}

pub fn signature(s: ua::AsymmetricSignature) -> psa::AsymmetricSignature {
    use ua::AsymmetricSignature as U;
    match s {
        U::RsaPkcs1v15Sign { hash_alg } => psa::AsymmetricSignature::RsaPkcs1v15Sign {
            hash_alg: sign_hash(hash_alg),
        },
        U::RsaPkcs1v15SignRaw => psa::AsymmetricSignature::RsaPkcs1v15SignRaw,
        U::RsaPss { hash_alg } => psa::AsymmetricSignature::RsaPss {
            hash_alg: sign_hash(hash_alg),
        },
        U::Ecdsa { hash_alg } => psa::AsymmetricSignature::Ecdsa {
            hash_alg: sign_hash(hash_alg),
        },
        U::EcdsaAny => psa::AsymmetricSignature::EcdsaAny,
        U::DeterministicEcdsa { hash_alg } => psa::AsymmetricSignature::DeterministicEcdsa {
            hash_alg: sign_hash(hash_alg),
        },
    }
}

pub fn encryption(e: ua::AsymmetricEncryption) -> psa::AsymmetricEncryption {
    match e {
        ua::AsymmetricEncryption::RsaPkcs1v15Crypt => psa::AsymmetricEncryption::RsaPkcs1v15Crypt,
        ua::AsymmetricEncryption::RsaOaep { hash_alg } => psa::AsymmetricEncryption::RsaOaep {
            hash_alg: hash(hash_alg),
        },
    }
}

pub fn raw_agreement(r: ua::RawKeyAgreement) -> psa::RawKeyAgreement {
    match r {
        ua::RawKeyAgreement::Ffdh => psa::RawKeyAgreement::Ffdh,
        ua::RawKeyAgreement::Ecdh => psa::RawKeyAgreement::Ecdh,
    }
}

pub fn derivation(k: ua::KeyDerivation) -> psa::KeyDerivation {
    match k {
        ua::KeyDerivation::Hkdf { hash_alg } => psa::KeyDerivation::Hkdf {
            hash_alg: hash(hash_alg),
        },
        ua::KeyDerivation::Tls12Prf { hash_alg } => psa::KeyDerivation::Tls12Prf {
            hash_alg: hash(hash_alg),
        },
        ua::KeyDerivation::Tls12PskToMs { hash_alg } => psa::KeyDerivation::Tls12PskToMs {
            hash_alg: hash(hash_alg),
        },
    }
}

pub fn agreement(k: ua::KeyAgreement) -> psa::KeyAgreement {
    match k {
        ua::KeyAgreement::Raw(r) => psa::KeyAgreement::Raw(raw_agreement(r)),
        ua::KeyAgreement::WithKeyDerivation { ka_alg, kdf_alg } => {
            psa::KeyAgreement::WithKeyDerivation {
                ka_alg: raw_agreement(ka_alg),
                kdf_alg: derivation(kdf_alg),
            }
        }
    }
}

pub fn algorithm(a: ua::Algorithm) -> psa::Algorithm {
    use ua::Algorithm as U;
    match a {
        U::None => psa::Algorithm::None,
        U::Hash(h) => psa::Algorithm::Hash(hash(h)),
        U::Mac(m) => psa::Algorithm::Mac(mac(m)),
        U::Cipher(c) => psa::Algorithm::Cipher(cipher(c)),
        U::Aead(a) => psa::Algorithm::Aead(aead(a)),
        U::AsymmetricSignature(s) => psa::Algorithm::AsymmetricSignature(signature(s)),
        U::AsymmetricEncryption(e) => psa::Algorithm::AsymmetricEncryption(encryption(e)),
        U::KeyAgreement(k) => psa::Algorithm::KeyAgreement(agreement(k)),
        U::KeyDerivation(k) => psa::Algorithm::KeyDerivation(derivation(k)),
    }
}

fn ecc(f: uk::EccFamily) -> psa::EccFamily {
    use uk::EccFamily as U;
    match f {
        U::SecpK1 => psa::EccFamily::SecpK1,
        U::SecpR1 => psa::EccFamily::SecpR1,
        U::SecpR2 => psa::EccFamily::SecpR2,
        U::SectK1 => psa::EccFamily::SectK1,
        U::SectR1 => psa::EccFamily::SectR1,
        U::SectR2 => psa::EccFamily::SectR2,
        U::BrainpoolPR1 => psa::EccFamily::BrainpoolPR1,
        U::Frp => psa::EccFamily::Frp,
        U::Montgomery => psa::EccFamily::Montgomery,
    }
}

pub fn key_type(t: uk::Type) -> psa::KeyType {
    use uk::Type as U;
    match t {
        U::RawData => psa::KeyType::RawData,
        U::Hmac => psa::KeyType::Hmac,
        U::Derive => psa::KeyType::Derive,
        U::Aes => psa::KeyType::Aes,
        U::Des => psa::KeyType::Des,
        U::Camellia => psa::KeyType::Camellia,
        U::Arc4 => psa::KeyType::Arc4,
        U::Chacha20 => psa::KeyType::Chacha20,
        U::RsaPublicKey => psa::KeyType::RsaPublicKey,
        U::RsaKeyPair => psa::KeyType::RsaKeyPair,
        U::EccKeyPair { curve_family } => psa::KeyType::EccKeyPair {
            curve_family: ecc(curve_family),
        },
        U::EccPublicKey { curve_family } => psa::KeyType::EccPublicKey {
            curve_family: ecc(curve_family),
        },
        U::DhKeyPair {
            group_family: uk::DhFamily::Rfc7919,
        } => psa::KeyType::DhKeyPair {
            group_family: psa::DhFamily::Rfc7919,
        },
        U::DhPublicKey {
            group_family: uk::DhFamily::Rfc7919,
        } => psa::KeyType::DhPublicKey {
            group_family: psa::DhFamily::Rfc7919,
        },
    }
}

pub fn attributes(a: uk::Attributes) -> psa::KeyAttributes {
    let f = a.policy.usage_flags;
    psa::KeyAttributes {
        key_type: key_type(a.key_type),
        bits: a.bits.try_into().unwrap(),
        policy: psa::Policy {
            usage_flags: psa::UsageFlags {
                export: f.export(),
                copy: f.copy(),
                cache: f.cache(),
                encrypt: f.encrypt(),
                decrypt: f.decrypt(),
                sign_message: f.sign_message(),
                verify_message: f.verify_message(),
                sign_hash: f.sign_hash(),
                verify_hash: f.verify_hash(),
                derive: f.derive(),
            },
            permitted_algorithms: algorithm(a.policy.permitted_algorithms),
        },
    }
}

/// Every hash.
pub fn all_hashes() -> Vec<ua::Hash> {
    use ua::Hash::*;
    vec![
        Md2, Md4, Md5, Ripemd160, Sha1, Sha224, Sha256, Sha384, Sha512, Sha512_224, Sha512_256,
        Sha3_224, Sha3_256, Sha3_384, Sha3_512,
    ]
}

/// Every signature shape, wildcard hashes included.
pub fn all_signatures() -> Vec<ua::AsymmetricSignature> {
    use ua::AsymmetricSignature as S;
    use ua::Hash as H;
    use ua::SignHash::{Any, Specific};
    vec![
        S::RsaPkcs1v15Sign { hash_alg: Any },
        S::RsaPkcs1v15Sign {
            hash_alg: Specific(H::Sha256),
        },
        S::RsaPkcs1v15SignRaw,
        S::RsaPss { hash_alg: Any },
        S::RsaPss {
            hash_alg: Specific(H::Sha384),
        },
        S::Ecdsa { hash_alg: Any },
        S::Ecdsa {
            hash_alg: Specific(H::Sha512),
        },
        S::EcdsaAny,
        S::DeterministicEcdsa { hash_alg: Any },
        S::DeterministicEcdsa {
            hash_alg: Specific(H::Sha3_256),
        },
    ]
}

/// Every AEAD shape.
pub fn all_aeads() -> Vec<ua::Aead> {
    use ua::AeadWithDefaultLengthTag::*;
    vec![
        ua::Aead::AeadWithDefaultLengthTag(Ccm),
        ua::Aead::AeadWithDefaultLengthTag(Gcm),
        ua::Aead::AeadWithDefaultLengthTag(Chacha20Poly1305),
        ua::Aead::AeadWithShortenedTag {
            aead_alg: Ccm,
            tag_length: 8,
        },
        ua::Aead::AeadWithShortenedTag {
            aead_alg: Gcm,
            tag_length: 12,
        },
    ]
}

/// Every cipher mode.
pub fn all_ciphers() -> Vec<ua::Cipher> {
    use ua::Cipher::*;
    vec![
        StreamCipher,
        Ctr,
        Cfb,
        Ofb,
        Xts,
        EcbNoPadding,
        CbcNoPadding,
        CbcPkcs7,
    ]
}

/// Every MAC shape.
pub fn all_macs() -> Vec<ua::Mac> {
    use ua::FullLengthMac as F;
    vec![
        ua::Mac::FullLength(F::Hmac {
            hash_alg: ua::Hash::Sha256,
        }),
        ua::Mac::FullLength(F::CbcMac),
        ua::Mac::FullLength(F::Cmac),
        ua::Mac::Truncated {
            mac_alg: F::Hmac {
                hash_alg: ua::Hash::Sha1,
            },
            mac_length: 10,
        },
        ua::Mac::Truncated {
            mac_alg: F::CbcMac,
            mac_length: 4,
        },
        ua::Mac::Truncated {
            mac_alg: F::Cmac,
            mac_length: 8,
        },
    ]
}

/// Every key derivation shape.
pub fn all_derivations() -> Vec<ua::KeyDerivation> {
    use ua::KeyDerivation as K;
    vec![
        K::Hkdf {
            hash_alg: ua::Hash::Sha256,
        },
        K::Tls12Prf {
            hash_alg: ua::Hash::Sha384,
        },
        K::Tls12PskToMs {
            hash_alg: ua::Hash::Sha224,
        },
    ]
}

/// Every algorithm family and every shape inside it.
pub fn all_algorithms() -> Vec<ua::Algorithm> {
    use ua::Algorithm as A;
    let mut algs = vec![A::None];
    algs.extend(all_hashes().into_iter().map(A::Hash));
    algs.extend(all_macs().into_iter().map(A::Mac));
    algs.extend(all_ciphers().into_iter().map(A::Cipher));
    algs.extend(all_aeads().into_iter().map(A::Aead));
    algs.extend(all_signatures().into_iter().map(A::AsymmetricSignature));
    algs.push(A::AsymmetricEncryption(
        ua::AsymmetricEncryption::RsaPkcs1v15Crypt,
    ));
    algs.extend(
        all_hashes().into_iter().map(|hash_alg| {
            A::AsymmetricEncryption(ua::AsymmetricEncryption::RsaOaep { hash_alg })
        }),
    );
    algs.push(A::KeyAgreement(ua::KeyAgreement::Raw(
        ua::RawKeyAgreement::Ffdh,
    )));
    algs.push(A::KeyAgreement(ua::KeyAgreement::Raw(
        ua::RawKeyAgreement::Ecdh,
    )));
    for (ka_alg, kdf_alg) in [ua::RawKeyAgreement::Ecdh, ua::RawKeyAgreement::Ffdh]
        .into_iter()
        .zip(all_derivations())
    {
        algs.push(A::KeyAgreement(ua::KeyAgreement::WithKeyDerivation {
            ka_alg,
            kdf_alg,
        }));
    }
    algs.extend(all_derivations().into_iter().map(A::KeyDerivation));
    algs
}

/// Every key type, with every curve family.
pub fn all_key_types() -> Vec<uk::Type> {
    use uk::EccFamily as E;
    use uk::Type as T;
    let mut types = vec![
        T::RawData,
        T::Hmac,
        T::Derive,
        T::Aes,
        T::Des,
        T::Camellia,
        T::Arc4,
        T::Chacha20,
        T::RsaPublicKey,
        T::RsaKeyPair,
        T::DhKeyPair {
            group_family: uk::DhFamily::Rfc7919,
        },
        T::DhPublicKey {
            group_family: uk::DhFamily::Rfc7919,
        },
    ];
    for curve_family in [
        E::SecpK1,
        E::SecpR1,
        E::SecpR2,
        E::SectK1,
        E::SectR1,
        E::SectR2,
        E::BrainpoolPR1,
        E::Frp,
        E::Montgomery,
    ] {
        types.push(T::EccKeyPair { curve_family });
        types.push(T::EccPublicKey { curve_family });
    }
    types
}

/// Upstream attributes with the given type and algorithm and a mix of flags.
pub fn upstream_attributes(key_type: uk::Type, alg: ua::Algorithm, bits: usize) -> uk::Attributes {
    let mut usage_flags = uk::UsageFlags::default();
    usage_flags.set_export().set_sign_hash().set_derive();
    uk::Attributes {
        lifetime: uk::Lifetime::Persistent,
        key_type,
        bits,
        policy: uk::Policy {
            usage_flags,
            permitted_algorithms: alg,
        },
    }
}

/// A 36-byte wire header (provider 0, no auth) followed by `body`.
fn frame(opcode: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(36 + body.len());
    out.extend_from_slice(&0x5EC0_A710u32.to_le_bytes());
    out.extend_from_slice(&30u16.to_le_bytes());
    out.extend_from_slice(&[1, 0]); // version 1.0
    out.extend_from_slice(&0u16.to_le_bytes()); // flags
    out.push(0); // provider
    out.extend_from_slice(&0u64.to_le_bytes()); // session
    out.extend_from_slice(&[0, 0, 0]); // content type, accept type, auth type
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // auth length
    out.extend_from_slice(&opcode.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // status
    out.extend_from_slice(&[0, 0]); // reserved
    out.extend_from_slice(body);
    out
}

/// Hands `body` to upstream as a request body.
pub fn request_body(opcode: u32, body: &[u8]) -> RequestBody {
    let bytes = frame(opcode, body);
    Request::read_from_stream(&mut bytes.as_slice(), usize::MAX)
        .expect("upstream reads the framed request")
        .body
}

/// Hands `body` to upstream as a response body.
pub fn response_body(opcode: u32, body: &[u8]) -> ResponseBody {
    let bytes = frame(opcode, body);
    Response::read_from_stream(&mut bytes.as_slice(), usize::MAX)
        .expect("upstream reads the framed response")
        .body
}
