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

use aws_lc_rs::{agreement, digest, rsa as lc_rsa, signature as lc_sig};
use parsec_psa::{KeyType, Secret};
use parsec_wire::Status;

#[macro_use]
mod hashes;
mod keys;
mod ops;

mod brainpool;
mod ecc_ops;
mod rsa_ops;
mod x448;

#[cfg(test)]
mod tests;

pub use keys::{export, export_public, generate, import, load, supports_alg, supports_type};
pub use ops::{
    decrypt, encrypt, message_hash, raw_key_agreement, sign_hash, sign_message, verify_hash,
    verify_message,
};

// Shared by the parts of the engine, which name them `super::...`.
use hashes::{hash_message, hash_supported, lc_digest, request_hash};
use keys::rsa_modulus_bits;

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
