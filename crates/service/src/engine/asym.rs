//! Asymmetric keys of the software provider: RSA, ECC (Weierstrass and Montgomery).
//!
//! Pure functions: no I/O and no key store. Key material goes in and out in the PSA export
//! format: RSA key pair = DER `RSAPrivateKey`, RSA public key = DER `RSAPublicKey` (both
//! PKCS#1); Weierstrass key pair = the private scalar, big-endian, `ceil(bits/8)` bytes;
//! Weierstrass public key = `04 || X || Y`; Montgomery key pair and public key = 32 bytes
//! (X25519) or 56 bytes (X448), little-endian (RFC 7748). Import also takes PKCS#8 / SubjectPublicKeyInfo DER for RSA,
//! as Mbed TLS does, and stores the canonical PKCS#1 form. Signatures are PSA's: RSA = one
//! modulus-sized block, ECDSA = `r || s`, each `ceil(bits/8)` bytes.
//!
//! Which library does what. Timings: release build on the 2-core development machine, from
//! the ignored test `bench_libraries` in `asym/tests.rs`.
//!
//! | Algorithm | Library | Why |
//! |---|---|---|
//! | RSA >= 2048 bits, SHA-256/384/512: PKCS#1 v1.5 and PSS signing; PKCS#1 v1.5 and OAEP (also SHA-1) decryption | aws-lc-rs | constant time (the `rsa` crate is open to the Marvin timing attack, RUSTSEC-2023-0071); 2048-bit sign 0.36 ms vs 1.6 ms, OAEP decrypt 0.36 ms vs 2.0 ms |
//! | RSA >= 2048 bits, same schemes: verification, encryption | aws-lc-rs | verify 22 µs vs 156 µs, OAEP encrypt 19 µs vs 159 µs |
//! | RSA: SHA-1/224, SHA-512/224, SHA-512/256 and SHA3-* signatures, SHA-224/512-x/SHA3 OAEP, raw PKCS#1 v1.5 signing, every operation on 1024..2047-bit keys | `rsa` 0.9 | aws-lc-rs has no API for these hashes or for raw signing, and refuses keys below 2048 bits |
//! | RSA generation 2048/3072/4096 | aws-lc-rs | fast; other sizes (1024, ...) with `rsa`, as aws-lc-rs generates only those three |
//! | ECDSA with random k, P-256/384/521 and secp256k1, any hash; all ECDSA verification | aws-lc-rs | P-256 sign 20 µs, verify 66 µs (RustCrypto `p256`: 149 µs, 246 µs). The hash is first brought to the curve's native digest length by bits2int, which leaves ECDSA unchanged |
//! | Deterministic ECDSA (RFC 6979), same curves, any hash | own HMAC-DRBG (`hmac` + `sha1`/`sha2`/`sha3`) and `ecdsa` hazmat over `p256`/`p384`/`p521`/`k256` | aws-lc-rs has no RFC 6979; the `rfc6979` crate needs hash length = field length (so no P-521, no SHA-384 on P-256) |
//! | ECDH P-256/384/521, X25519 | aws-lc-rs | fastest; secp256k1 ECDH with `k256`, as aws-lc-rs agreement lacks that curve |
//! | X448 (Curve448 keys) | own RFC 7748 ladder (`asym/x448.rs`) over `fiat-crypto`'s proven p448 field arithmetic | aws-lc-rs has no Curve448; RustCrypto's `x448` is a pre-release |
//! | brainpoolP256r1: ECDH, ECDSA (random k, and RFC 6979 with the own HMAC-DRBG above) | `bp256` and `ecdsa` 0.17 hazmat | aws-lc-rs has no Brainpool curves |
//! | Hashing for sign/verify message | aws-lc-rs; `sha2`/`sha3` for SHA-512/224 and SHA3-224 | aws-lc-rs lacks those two |
//!
//! Not supported (PsaErrorNotSupported): ECC families SECP_R2, SECT_*, FRP, Brainpool other
//! than P256r1;
//! SECP_R1 192/224, SECP_K1 192/224; RSA sizes outside 1024..=4096 or not a multiple
//! of 8 (Mbed TLS refuses those too); MD2/MD4/MD5/RIPEMD-160 in any scheme; OAEP labels that are
//! not UTF-8 where the `rsa` crate does the work (keys below 2048 bits, or OAEP with SHA-224,
//! SHA-512/x or SHA3), since its label type is a `String`; FFDH.

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{agreement, digest, rsa as lc_rsa, signature as lc_sig};
use parsec_psa::{
    AsymmetricEncryption, AsymmetricSignature, EccFamily, Hash, KeyAttributes, KeyType,
    RawKeyAgreement, Secret, SignHash,
};
use parsec_wire::Status;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::BigUint;
use sha2::Digest as _;
use zeroize::Zeroizing;

#[cfg(test)]
mod tests;

const INVALID: Status = Status::PsaErrorInvalidArgument;
const UNSUPPORTED: Status = Status::PsaErrorNotSupported;
const GENERIC: Status = Status::PsaErrorGenericError;
const BAD_SIGNATURE: Status = Status::PsaErrorInvalidSignature;

/// RSA sizes this engine accepts (Mbed TLS: up to 4096, byte-aligned).
const RSA_BITS: std::ops::RangeInclusive<u32> = 1024..=4096;
/// aws-lc-rs refuses smaller RSA keys.
const RSA_LC_MIN_BITS: u32 = 2048;
/// The longest input `EcdsaAny` takes: the longest PSA hash.
const MAX_HASH_LEN: usize = 64;

/// A parsed asymmetric key, ready to use. Holds the library key objects, so repeated use does
/// not parse again.
pub struct AsymKey {
    key_type: KeyType,
    bits: u32,
    /// The key in PSA export format (canonical).
    material: Secret,
    inner: Inner,
}

enum Inner {
    RsaPair(Box<RsaPair>),
    RsaPublic(Box<RsaPub>),
    EcPair(Box<EcPair>),
    EcPublic(Box<EcPub>),
    X25519Pair(Box<X25519Pair>),
    X25519Public,
    X448Pair(Box<x448::Pair>),
    X448Public,
    BrainpoolPair(Box<brainpool::Pair>),
    BrainpoolPublic,
}

struct RsaPub {
    rc: rsa::RsaPublicKey,
    /// DER `RSAPublicKey`.
    der: Vec<u8>,
    /// Keys of 2048 bits and more.
    lc: Option<lc_rsa::PublicEncryptingKey>,
}

struct RsaPair {
    public: RsaPub,
    /// Keys of 2048 bits and more: signing and decryption objects.
    lc: Option<(lc_rsa::KeyPair, lc_rsa::PrivateDecryptingKey)>,
    /// Every private operation aws-lc-rs does not offer (the key size, hash or label): the raw
    /// operation in constant time, the padding done in `rsa_ops`.
    raw: rsa_raw::PrivateKey,
}

struct EcPub {
    curve: Curve,
    point: Vec<u8>,
    verifier: lc_sig::ParsedPublicKey,
}

struct EcPair {
    public: EcPub,
    signer: lc_sig::EcdsaKeyPair,
    /// Built on first use (most keys only sign).
    ecdh: OnceLock<Option<agreement::PrivateKey>>,
}

struct X25519Pair {
    private: agreement::PrivateKey,
    public: [u8; 32],
}

impl AsymKey {
    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key size in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }
}

impl std::fmt::Debug for AsymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsymKey")
            .field("key_type", &self.key_type)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

/// The Weierstrass curves supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
    K256,
}

impl Curve {
    /// Bytes of a scalar or coordinate.
    const fn len(self) -> usize {
        match self {
            Curve::P256 | Curve::K256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Bits of the group order.
    const fn qbits(self) -> usize {
        match self {
            Curve::P256 | Curve::K256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    fn signing(self) -> &'static lc_sig::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &lc_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            Curve::P384 => &lc_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            Curve::P521 => &lc_sig::ECDSA_P521_SHA512_FIXED_SIGNING,
            Curve::K256 => &lc_sig::ECDSA_P256K1_SHA256_FIXED_SIGNING,
        }
    }

    fn verifying(self) -> &'static lc_sig::EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &lc_sig::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &lc_sig::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &lc_sig::ECDSA_P521_SHA512_FIXED,
            Curve::K256 => &lc_sig::ECDSA_P256K1_SHA256_FIXED,
        }
    }

    /// The digest aws-lc-rs pairs with the curve; every hash is brought to its length.
    fn native_digest(self) -> &'static digest::Algorithm {
        match self {
            Curve::P256 | Curve::K256 => &digest::SHA256,
            Curve::P384 => &digest::SHA384,
            Curve::P521 => &digest::SHA512,
        }
    }

    fn ecdh(self) -> Option<&'static agreement::Algorithm> {
        match self {
            Curve::P256 => Some(&agreement::ECDH_P256),
            Curve::P384 => Some(&agreement::ECDH_P384),
            Curve::P521 => Some(&agreement::ECDH_P521),
            Curve::K256 => None,
        }
    }
}

enum Ecc {
    Weierstrass(Curve),
    X25519,
    X448,
    Brainpool256,
}

fn ecc_kind(family: EccFamily, bits: u32) -> Result<Ecc, Status> {
    Ok(match (family, bits) {
        (EccFamily::SecpR1, 256) => Ecc::Weierstrass(Curve::P256),
        (EccFamily::SecpR1, 384) => Ecc::Weierstrass(Curve::P384),
        (EccFamily::SecpR1, 521) => Ecc::Weierstrass(Curve::P521),
        (EccFamily::SecpK1, 256) => Ecc::Weierstrass(Curve::K256),
        (EccFamily::Montgomery, 255) => Ecc::X25519,
        (EccFamily::Montgomery, 448) => Ecc::X448,
        (EccFamily::BrainpoolPR1, 256) => Ecc::Brainpool256,
        _ => return Err(UNSUPPORTED),
    })
}

/// The key size implied by the length of ECC key data (import with `bits` = 0).
fn ecc_bits_from_len(family: EccFamily, key_pair: bool, len: usize) -> Result<u32, Status> {
    if family == EccFamily::Montgomery {
        return match len {
            32 => Ok(255),
            56 => Ok(448),
            _ => Err(INVALID),
        };
    }
    if !matches!(
        family,
        EccFamily::SecpR1 | EccFamily::SecpK1 | EccFamily::BrainpoolPR1
    ) {
        return Err(UNSUPPORTED);
    }
    let field_len = match key_pair {
        true => len,
        false if len % 2 == 1 => len / 2,
        false => return Err(INVALID),
    };
    match (family, field_len) {
        (EccFamily::SecpR1 | EccFamily::SecpK1 | EccFamily::BrainpoolPR1, 32) => Ok(256),
        (EccFamily::SecpR1, 48) => Ok(384),
        (EccFamily::SecpR1, 66) => Ok(521),
        (_, 24 | 28) => Err(UNSUPPORTED),
        _ => Err(INVALID),
    }
}

fn rsa_bits_ok(bits: u32) -> bool {
    RSA_BITS.contains(&bits) && bits % 8 == 0
}

/// Whether keys of this type and size can be used with `alg` here: Brainpool keys serve ECDH
/// and ECDSA.
pub fn supports_alg(key_type: KeyType, alg: parsec_psa::Algorithm) -> bool {
    use parsec_psa::{Algorithm, KeyAgreement};
    match key_type {
        KeyType::EccKeyPair {
            curve_family: EccFamily::BrainpoolPR1,
        }
        | KeyType::EccPublicKey {
            curve_family: EccFamily::BrainpoolPR1,
        } => match alg {
            Algorithm::None | Algorithm::KeyAgreement(KeyAgreement::Raw(RawKeyAgreement::Ecdh)) => {
                true
            }
            Algorithm::AsymmetricSignature(signature) => signature.is_ecc(),
            _ => false,
        },
        _ => true,
    }
}

/// Whether keys of this type and size can be used here (`bits` = 0: some size can).
pub fn supports_type(key_type: KeyType, bits: u32) -> bool {
    match key_type {
        KeyType::RsaKeyPair | KeyType::RsaPublicKey => bits == 0 || rsa_bits_ok(bits),
        KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
            if bits == 0 {
                matches!(
                    curve_family,
                    EccFamily::SecpR1
                        | EccFamily::SecpK1
                        | EccFamily::Montgomery
                        | EccFamily::BrainpoolPR1
                )
            } else {
                ecc_kind(curve_family, bits).is_ok()
            }
        }
        _ => false,
    }
}

/// Generates a key pair; returns it in PSA export format.
pub fn generate(attrs: &KeyAttributes) -> Result<Secret, Status> {
    let bits = attrs.bits;
    match attrs.key_type {
        KeyType::RsaKeyPair if bits == 0 => Err(INVALID),
        KeyType::RsaKeyPair if !rsa_bits_ok(bits) => Err(UNSUPPORTED),
        KeyType::RsaKeyPair => {
            let size = match bits {
                2048 => Some(lc_rsa::KeySize::Rsa2048),
                3072 => Some(lc_rsa::KeySize::Rsa3072),
                4096 => Some(lc_rsa::KeySize::Rsa4096),
                _ => None,
            };
            let key = match size {
                Some(size) => {
                    let pair = lc_rsa::KeyPair::generate(size).map_err(|_| GENERIC)?;
                    let pkcs8 = pair.as_der().map_err(|_| GENERIC)?;
                    rsa::pkcs8::DecodePrivateKey::from_pkcs8_der(pkcs8.as_ref())
                        .map_err(|_| GENERIC)?
                }
                None => rsa::RsaPrivateKey::new(&mut LcRng, bits as usize).map_err(|_| GENERIC)?,
            };
            rsa_private_der(&key)
        }
        KeyType::EccKeyPair { .. } if bits == 0 => Err(INVALID),
        KeyType::EccKeyPair { curve_family } => match ecc_kind(curve_family, bits)? {
            Ecc::Weierstrass(curve) => {
                let pair = lc_sig::EcdsaKeyPair::generate(curve.signing()).map_err(|_| GENERIC)?;
                let scalar = pair.private_key().as_be_bytes().map_err(|_| GENERIC)?;
                let scalar = scalar.as_ref();
                if scalar.len() > curve.len() {
                    return Err(GENERIC);
                }
                let mut out = vec![0u8; curve.len()];
                out[curve.len() - scalar.len()..].copy_from_slice(scalar);
                Ok(Secret::new(out))
            }
            Ecc::X25519 => {
                let mut out = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut out).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
                clamp_x25519(&mut out);
                Ok(Secret::new(out))
            }
            Ecc::X448 => x448::generate(),
            Ecc::Brainpool256 => brainpool::generate(),
        },
        KeyType::RsaPublicKey | KeyType::EccPublicKey { .. } => Err(INVALID),
        _ => Err(UNSUPPORTED),
    }
}

/// Checks and imports key data; returns the size in bits and the canonical PSA export form.
pub fn import(attrs: &KeyAttributes, data: &[u8]) -> Result<(u32, Secret), Status> {
    let key = parse(attrs.key_type, attrs.bits, data)?;
    Ok((key.bits, key.material))
}

/// Parses stored material (as returned by [`generate`] or [`import`]). Material that no longer
/// parses gives `PsaErrorDataCorrupt`.
pub fn load(attrs: &KeyAttributes, material: &[u8]) -> Result<AsymKey, Status> {
    parse(attrs.key_type, attrs.bits, material).map_err(|status| match status {
        INVALID => Status::PsaErrorDataCorrupt,
        other => other,
    })
}

/// The public key in PSA export format.
pub fn export_public(key: &AsymKey) -> Result<Vec<u8>, Status> {
    Ok(match &key.inner {
        Inner::RsaPair(pair) => pair.public.der.clone(),
        Inner::RsaPublic(public) => public.der.clone(),
        Inner::EcPair(pair) => pair.public.point.clone(),
        Inner::EcPublic(public) => public.point.clone(),
        Inner::X25519Pair(pair) => pair.public.to_vec(),
        Inner::BrainpoolPair(pair) => pair.public.clone(),
        Inner::X448Pair(pair) => pair.public.to_vec(),
        Inner::X25519Public | Inner::X448Public | Inner::BrainpoolPublic => {
            key.material.expose().to_vec()
        }
    })
}

/// The key (pair or public) in PSA export format.
pub fn export(key: &AsymKey) -> Result<Secret, Status> {
    Ok(key.material.clone())
}

fn parse(key_type: KeyType, bits: u32, data: &[u8]) -> Result<AsymKey, Status> {
    let check_bits = |actual: u32| match bits {
        0 => Ok(actual),
        b if b == actual => Ok(actual),
        _ => Err(INVALID),
    };
    let (bits, material, inner) = match key_type {
        KeyType::RsaKeyPair => {
            let rc = rsa_private_from_der(data, bits)?;
            let bits = check_bits(rsa_modulus_bits(rc.n()))?;
            let material = rsa_private_der(&rc)?;
            let public = rsa_public(rc.to_public_key())?;
            let lc = if bits >= RSA_LC_MIN_BITS {
                let pkcs8 = rc.to_pkcs8_der().map_err(|_| INVALID)?;
                let signer = lc_rsa::KeyPair::from_der(material.expose()).map_err(|_| INVALID)?;
                let decrypter = lc_rsa::PrivateDecryptingKey::from_pkcs8(pkcs8.as_bytes())
                    .map_err(|_| INVALID)?;
                Some((signer, decrypter))
            } else {
                None
            };
            let raw =
                rsa_raw::PrivateKey::from_pkcs1_der(material.expose()).map_err(|_| INVALID)?;
            let pair = RsaPair { public, lc, raw };
            (bits, material, Inner::RsaPair(Box::new(pair)))
        }
        KeyType::RsaPublicKey => {
            let rc = rsa_public_from_der(data, bits)?;
            let bits = check_bits(rsa_modulus_bits(rc.n()))?;
            let public = rsa_public(rc)?;
            let material = Secret::from(public.der.as_slice());
            (bits, material, Inner::RsaPublic(Box::new(public)))
        }
        KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
            let key_pair = key_type.is_key_pair();
            let bits = match bits {
                0 => ecc_bits_from_len(curve_family, key_pair, data.len())?,
                // Data of the wrong length for the declared size is the caller's error
                // (InvalidArgument), whether or not that size is supported here.
                b if data.len() != ecc_data_len(curve_family, key_pair, b) => return Err(INVALID),
                b => b,
            };
            let (material, inner) = match (ecc_kind(curve_family, bits)?, key_pair) {
                (Ecc::Weierstrass(curve), true) => (Secret::from(data), ec_pair(curve, data)?),
                (Ecc::Weierstrass(curve), false) => {
                    let public = ec_public(curve, data)?;
                    (Secret::from(data), Inner::EcPublic(Box::new(public)))
                }
                (Ecc::X25519, _) if data.len() != 32 => return Err(INVALID),
                (Ecc::X25519, true) => x25519_pair(data)?,
                (Ecc::X25519, false) => (Secret::from(data), Inner::X25519Public),
                (Ecc::X448, true) => x448::pair(data)?,
                (Ecc::X448, false) => x448::public(data)?,
                (Ecc::Brainpool256, true) => brainpool::pair(data)?,
                (Ecc::Brainpool256, false) => brainpool::public(data)?,
            };
            (bits, material, inner)
        }
        _ => return Err(UNSUPPORTED),
    };
    Ok(AsymKey {
        key_type,
        bits,
        material,
        inner,
    })
}

/// An X25519 key pair from its 32 bytes; the stored form is clamped.
fn x25519_pair(data: &[u8]) -> Result<(Secret, Inner), Status> {
    let mut clamped = Zeroizing::new(data.to_vec());
    clamp_x25519(&mut clamped);
    let private = agreement::PrivateKey::from_private_key(&agreement::X25519, &clamped)
        .map_err(|_| INVALID)?;
    let public = private.compute_public_key().map_err(|_| INVALID)?;
    let public = public.as_ref().try_into().map_err(|_| GENERIC)?;
    let pair = X25519Pair { private, public };
    Ok((
        Secret::from(clamped.as_slice()),
        Inner::X25519Pair(Box::new(pair)),
    ))
}

/// RFC 7748 §5 clamping, as Mbed TLS applies on import and generation.
fn clamp_x25519(scalar: &mut [u8]) {
    scalar[0] &= 0xf8;
    scalar[31] &= 0x7f;
    scalar[31] |= 0x40;
}

fn ec_pair(curve: Curve, scalar: &[u8]) -> Result<Inner, Status> {
    if scalar.len() != curve.len() || scalar.iter().all(|&b| b == 0) {
        return Err(INVALID);
    }
    // RFC 5915 ECPrivateKey without the optional fields: the curve comes from the algorithm and
    // the public key is computed. The library checks 0 < scalar < n.
    let mut der = Zeroizing::new(Vec::with_capacity(scalar.len() + 7));
    let len = u8::try_from(scalar.len()).map_err(|_| INVALID)?;
    der.extend_from_slice(&[0x30, len + 5, 0x02, 0x01, 0x01, 0x04, len]);
    der.extend_from_slice(scalar);
    let signer =
        lc_sig::EcdsaKeyPair::from_private_key_der(curve.signing(), &der).map_err(|_| INVALID)?;
    let public = ec_public(curve, signer.public_key().as_ref())?;
    let pair = EcPair {
        public,
        signer,
        ecdh: OnceLock::new(),
    };
    Ok(Inner::EcPair(Box::new(pair)))
}

fn ec_public(curve: Curve, point: &[u8]) -> Result<EcPub, Status> {
    if point.len() != 1 + 2 * curve.len() || point[0] != 0x04 {
        return Err(INVALID);
    }
    let verifier = lc_sig::ParsedPublicKey::new(curve.verifying(), point).map_err(|_| INVALID)?;
    Ok(EcPub {
        curve,
        point: point.to_vec(),
        verifier,
    })
}

fn rsa_modulus_bits(n: &BigUint) -> u32 {
    u32::try_from(n.bits()).unwrap_or(u32::MAX)
}

/// Bits of a big-endian unsigned integer.
/// The length of a PSA-format ECC key of `bits`: a scalar, an uncompressed point, or a
/// Montgomery u-coordinate.
fn ecc_data_len(family: EccFamily, key_pair: bool, bits: u32) -> usize {
    let bytes = (bits as usize).div_ceil(8);
    match (family, key_pair) {
        (EccFamily::Montgomery, _) | (_, true) => bytes,
        (_, false) => 1 + 2 * bytes,
    }
}

fn be_bits(bytes: &[u8]) -> u32 {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX / 8);
    (len - 1) * 8 + (8 - bytes[0].leading_zeros())
}

/// The modulus size of a parsed key against the size the attributes declare (0: any): a
/// mismatch is the caller's error (InvalidArgument), checked before whether the size is one this
/// provider supports (NotSupported), as Mbed TLS orders them.
fn rsa_size_check(declared: u32, modulus: &[u8]) -> Result<(), Status> {
    let actual = be_bits(modulus);
    if declared != 0 && declared != actual {
        return Err(INVALID);
    }
    if !rsa_bits_ok(actual) {
        return Err(UNSUPPORTED);
    }
    Ok(())
}

fn rsa_private_from_der(data: &[u8], declared: u32) -> Result<rsa::RsaPrivateKey, Status> {
    // PKCS#1 first; PKCS#8 (rsaEncryption) as Mbed TLS also takes it.
    let pkcs1 = match rsa::pkcs1::RsaPrivateKey::try_from(data) {
        Ok(_) => data,
        Err(_) => {
            let info = rsa::pkcs8::PrivateKeyInfo::try_from(data).map_err(|_| INVALID)?;
            if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
                return Err(INVALID);
            }
            info.private_key
        }
    };
    let parsed = rsa::pkcs1::RsaPrivateKey::try_from(pkcs1).map_err(|_| INVALID)?;
    rsa_size_check(declared, parsed.modulus.as_bytes())?;
    // Checks n = pq and de = 1 mod (p-1), (q-1).
    rsa::RsaPrivateKey::from_pkcs1_der(pkcs1).map_err(|_| INVALID)
}

fn rsa_public_from_der(data: &[u8], declared: u32) -> Result<rsa::RsaPublicKey, Status> {
    let pkcs1 = match rsa::pkcs1::RsaPublicKey::try_from(data) {
        Ok(key) => key,
        Err(_) => {
            let spki = rsa::pkcs8::SubjectPublicKeyInfoRef::try_from(data).map_err(|_| INVALID)?;
            if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
                return Err(INVALID);
            }
            let inner = spki.subject_public_key.as_bytes().ok_or(INVALID)?;
            rsa::pkcs1::RsaPublicKey::try_from(inner).map_err(|_| INVALID)?
        }
    };
    rsa_size_check(declared, pkcs1.modulus.as_bytes())?;
    let n = BigUint::from_bytes_be(pkcs1.modulus.as_bytes());
    let e = BigUint::from_bytes_be(pkcs1.public_exponent.as_bytes());
    rsa::RsaPublicKey::new(n, e).map_err(|_| INVALID)
}

fn rsa_private_der(key: &rsa::RsaPrivateKey) -> Result<Secret, Status> {
    let der = key.to_pkcs1_der().map_err(|_| GENERIC)?;
    Ok(Secret::from(der.as_bytes()))
}

fn rsa_public(rc: rsa::RsaPublicKey) -> Result<RsaPub, Status> {
    let der = rc.to_pkcs1_der().map_err(|_| INVALID)?.into_vec();
    let lc = if rsa_modulus_bits(rc.n()) >= RSA_LC_MIN_BITS {
        let spki = rc.to_public_key_der().map_err(|_| INVALID)?;
        Some(lc_rsa::PublicEncryptingKey::from_der(spki.as_bytes()).map_err(|_| INVALID)?)
    } else {
        None
    };
    Ok(RsaPub { rc, der, lc })
}

// ---------------------------------------------------------------------------------------------
// Hashes

/// Runs `$body` with `$d` bound to the RustCrypto type of `$hash`; unsupported hashes give
/// NotSupported.
macro_rules! with_digest {
    ($hash:expr, $d:ident => $body:expr) => {
        match $hash {
            Hash::Sha1 => {
                type $d = sha1::Sha1;
                $body
            }
            Hash::Sha224 => {
                type $d = sha2::Sha224;
                $body
            }
            Hash::Sha256 => {
                type $d = sha2::Sha256;
                $body
            }
            Hash::Sha384 => {
                type $d = sha2::Sha384;
                $body
            }
            Hash::Sha512 => {
                type $d = sha2::Sha512;
                $body
            }
            Hash::Sha512_224 => {
                type $d = sha2::Sha512_224;
                $body
            }
            Hash::Sha512_256 => {
                type $d = sha2::Sha512_256;
                $body
            }
            Hash::Sha3_224 => {
                type $d = sha3::Sha3_224;
                $body
            }
            Hash::Sha3_256 => {
                type $d = sha3::Sha3_256;
                $body
            }
            Hash::Sha3_384 => {
                type $d = sha3::Sha3_384;
                $body
            }
            Hash::Sha3_512 => {
                type $d = sha3::Sha3_512;
                $body
            }
            Hash::Md2 | Hash::Md4 | Hash::Md5 | Hash::Ripemd160 => {
                Err(parsec_wire::Status::PsaErrorNotSupported)
            }
        }
    };
}

mod brainpool;
mod ecc_ops;
mod rsa_ops;
mod x448;

fn hash_supported(hash: Hash) -> Result<(), Status> {
    match hash {
        Hash::Md2 | Hash::Md4 | Hash::Md5 | Hash::Ripemd160 => Err(UNSUPPORTED),
        _ => Ok(()),
    }
}

fn lc_digest(hash: Hash) -> Option<&'static digest::Algorithm> {
    Some(match hash {
        Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha224 => &digest::SHA224,
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
        Hash::Sha512_256 => &digest::SHA512_256,
        Hash::Sha3_256 => &digest::SHA3_256,
        Hash::Sha3_384 => &digest::SHA3_384,
        Hash::Sha3_512 => &digest::SHA3_512,
        _ => return None,
    })
}

fn hash_message(hash: Hash, message: &[u8]) -> Result<Vec<u8>, Status> {
    match lc_digest(hash) {
        Some(alg) => Ok(digest::digest(alg, message).as_ref().to_vec()),
        None => with_digest!(hash, D => Ok(D::digest(message).to_vec())),
    }
}

/// The hash of a request's hash-and-sign algorithm: a wildcard is for policies only.
fn request_hash(alg: AsymmetricSignature) -> Result<Option<Hash>, Status> {
    match alg.hash() {
        None => Ok(None),
        Some(SignHash::Any) => Err(INVALID),
        Some(SignHash::Specific(hash)) => hash_supported(hash).map(|()| Some(hash)),
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures

/// Signs a hash (or, for the raw and "any" schemes, the given bytes).
pub fn sign_hash(key: &AsymKey, alg: AsymmetricSignature, hash: &[u8]) -> Result<Vec<u8>, Status> {
    let hash_alg = request_hash(alg)?;
    if hash_alg.is_some_and(|h| h.output_len() != hash.len()) {
        return Err(INVALID);
    }
    match &key.inner {
        Inner::RsaPair(pair) if alg.is_rsa() => rsa_ops::sign(pair, alg, hash_alg, hash),
        Inner::EcPair(pair) if alg.is_ecc() => {
            ecc_ops::sign(pair, key.material.expose(), alg, hash_alg, hash)
        }
        Inner::BrainpoolPair(pair) if alg.is_ecc() => {
            brainpool::sign(pair, key.material.expose(), alg, hash_alg, hash)
        }
        _ => Err(INVALID),
    }
}

/// Verifies a signature of a hash.
pub fn verify_hash(
    key: &AsymKey,
    alg: AsymmetricSignature,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    let hash_alg = request_hash(alg)?;
    if hash_alg.is_some_and(|h| h.output_len() != hash.len()) {
        return Err(INVALID);
    }
    match &key.inner {
        Inner::RsaPair(pair) if alg.is_rsa() => {
            rsa_ops::verify(&pair.public, alg, hash_alg, hash, signature)
        }
        Inner::RsaPublic(public) if alg.is_rsa() => {
            rsa_ops::verify(public, alg, hash_alg, hash, signature)
        }
        Inner::EcPair(pair) if alg.is_ecc() => ecc_ops::verify(&pair.public, alg, hash, signature),
        Inner::EcPublic(public) if alg.is_ecc() => ecc_ops::verify(public, alg, hash, signature),
        Inner::BrainpoolPair(pair) if alg.is_ecc() => {
            brainpool::verify(&pair.public, hash, signature)
        }
        Inner::BrainpoolPublic if alg.is_ecc() => {
            brainpool::verify(key.material.expose(), hash, signature)
        }
        _ => Err(INVALID),
    }
}

/// The hash that a message signature with `alg` signs: the message hashed with the
/// algorithm's hash (a wildcard or a scheme without a hash is refused).
pub fn message_hash(alg: AsymmetricSignature, message: &[u8]) -> Result<Vec<u8>, Status> {
    let hash = request_hash(alg)?.ok_or(INVALID)?;
    hash_message(hash, message)
}

/// Hashes the message with the algorithm's hash, then signs.
pub fn sign_message(
    key: &AsymKey,
    alg: AsymmetricSignature,
    message: &[u8],
) -> Result<Vec<u8>, Status> {
    sign_hash(key, alg, &message_hash(alg, message)?)
}

/// Hashes the message with the algorithm's hash, then verifies.
pub fn verify_message(
    key: &AsymKey,
    alg: AsymmetricSignature,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    verify_hash(key, alg, &message_hash(alg, message)?, signature)
}

// ---------------------------------------------------------------------------------------------
// Encryption

/// Encrypts with an RSA key (pair or public). `salt` is the OAEP label.
pub fn encrypt(
    key: &AsymKey,
    alg: AsymmetricEncryption,
    plaintext: &[u8],
    salt: Option<&[u8]>,
) -> Result<Vec<u8>, Status> {
    let public = match &key.inner {
        Inner::RsaPair(pair) => &pair.public,
        Inner::RsaPublic(public) => public,
        _ => return Err(INVALID),
    };
    rsa_ops::encrypt(public, alg, plaintext, salt.unwrap_or_default())
}

/// Decrypts with an RSA key pair. `salt` is the OAEP label.
pub fn decrypt(
    key: &AsymKey,
    alg: AsymmetricEncryption,
    ciphertext: &[u8],
    salt: Option<&[u8]>,
) -> Result<Secret, Status> {
    match &key.inner {
        Inner::RsaPair(pair) => rsa_ops::decrypt(pair, alg, ciphertext, salt.unwrap_or_default()),
        _ => Err(INVALID),
    }
}

// ---------------------------------------------------------------------------------------------
// Key agreement

/// Raw key agreement: the shared secret (ECDH: the x-coordinate; X25519 and X448: the RFC 7748
/// output).
/// The peer key is in public key export format.
pub fn raw_key_agreement(
    key: &AsymKey,
    alg: RawKeyAgreement,
    peer_public_key: &[u8],
) -> Result<Secret, Status> {
    match (&key.inner, alg) {
        (Inner::EcPair(pair), RawKeyAgreement::Ecdh) => {
            ecc_ops::ecdh(pair, key.material.expose(), peer_public_key)
        }
        (Inner::X25519Pair(pair), RawKeyAgreement::Ecdh) => ecc_ops::x25519(pair, peer_public_key),
        (Inner::X448Pair(_), RawKeyAgreement::Ecdh) => {
            x448::agree(key.material.expose(), peer_public_key)
        }
        (Inner::BrainpoolPair(pair), RawKeyAgreement::Ecdh) => {
            brainpool::ecdh(pair, peer_public_key)
        }
        _ => Err(INVALID),
    }
}

// ---------------------------------------------------------------------------------------------

/// The aws-lc-rs system RNG, for the `rsa` crate (padding, salts, blinding, generation).
pub(crate) struct LcRng;

impl rand_core::RngCore for LcRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The trait cannot fail; the system RNG does not fail once it has been seeded.
        aws_lc_rs::rand::fill(dest).expect("system RNG failed");
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        aws_lc_rs::rand::fill(dest).map_err(rand_core::Error::new)
    }
}

impl rand_core::CryptoRng for LcRng {}
