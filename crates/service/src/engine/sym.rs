//! Symmetric keys and keyless operations of the software provider.
//!
//! Pure functions: no I/O, no key store. The provider checks usage flags and that the key policy
//! permits the algorithm; this module checks that the algorithm fits the key type, the key size,
//! and nonce / IV / tag / input sizes, then runs the primitive.
//!
//! | Algorithm | Library | Why |
//! |---|---|---|
//! | AES-GCM, 12-byte nonce (full tag; shortened tag on encryption) | aws-lc-rs `aead` | 7x RustCrypto `aes-gcm` at 1 MiB (8.0 vs 1.1 GB/s) |
//! | AES-GCM, other nonce lengths; shortened-tag decryption | `aes` + `ctr` (`Ctr32BE`) + `ghash` | aws-lc-rs takes only 12-byte nonces and verifies only 16-byte tags |
//! | AES-CCM, every tag and nonce length | `ccm` over `aes` | not in aws-lc-rs |
//! | ChaCha20-Poly1305 | aws-lc-rs `aead` | 1.8x RustCrypto at 1 MiB |
//! | AES CTR, CFB-128, OFB, CBC, ECB (PKCS#7 done here, in constant time) | aws-lc-rs `cipher` | on a par with RustCrypto in bulk (+-10 %, noise); no extra crates |
//! | ChaCha20 (`StreamCipher`) | `chacha20` | aws-lc-rs does not expose raw ChaCha20 |
//! | CMAC-AES | aws-lc-rs `cmac` | 1.6x RustCrypto `cmac` at 1 MiB |
//! | HMAC-SHA-1/224/256/384/512 | aws-lc-rs `hmac` | on a par with `hmac`+`sha2`; already linked |
//! | HMAC over SHA-512/224, SHA-512/256, SHA3-*, MD5, RIPEMD-160 | `hmac` + `sha2` / `sha3` / `md-5` / `ripemd` | aws-lc-rs `hmac` lacks them |
//! | SHA-1, SHA-224/256/384/512, SHA-512/256, SHA3-256/384/512 | aws-lc-rs `digest` | SHA-256 on a par, SHA-512 1.2-1.5x `sha2` |
//! | SHA-512/224, SHA3-224, MD5, RIPEMD-160 | `sha2`, `sha3`, `md-5`, `ripemd` | not in aws-lc-rs |
//! | random bytes, constant-time compare | aws-lc-rs `rand::fill`, `constant_time` | |
//!
//! Measured on the 2-core dev machine with a throw-away release binary (64 B and 1 MiB inputs).
//! Below ~1 KiB RustCrypto is faster by a few hundred nanoseconds per call (aws-lc-rs sets up an
//! EVP context per call), which is noise next to a socket round trip.
//!
//! Not supported (`PsaErrorNotSupported`): CBC-MAC (Mbed TLS's PSA core does not implement it
//! either), XTS, key types DES, Camellia and ARC4, MD2 and MD4, ChaCha20-Poly1305 with a tag
//! shorter than 16 bytes or an 8-byte nonce (as Mbed TLS), truncated MACs shorter than 4 bytes
//! (as Mbed TLS).
//!
//! Errors follow PSA Crypto API 1.0 and Mbed TLS 3 (the upstream provider): an algorithm that does
//! not fit the key type is [`INCOMPATIBLE`] (`PsaErrorInvalidArgument`, PSA 1.0 §10 "key is not
//! compatible with alg"); a failed tag, MAC or hash comparison is `PsaErrorInvalidSignature`;
//! bad PKCS#7 padding is `PsaErrorInvalidPadding`; wrong sizes are `PsaErrorInvalidArgument`.

mod aead;
mod aead_rc;
mod cipher;
mod hash;
mod mac;
#[cfg(test)]
mod tests;

use parsec_psa::{KeyAttributes, KeyType, Secret};
use parsec_wire::Status;
use zeroize::Zeroizing;

pub use aead::{aead_decrypt, aead_encrypt};
pub use cipher::{cipher_decrypt, cipher_encrypt};
pub use hash::{hash_compare, hash_compute};
pub use mac::{mac_compute, mac_verify};

/// Status for an algorithm that does not fit the key type (e.g. GCM with an HMAC key).
///
/// PSA Crypto API 1.0 gives `PSA_ERROR_INVALID_ARGUMENT` ("key is not compatible with alg").
/// Upstream parsec 1.5.0 answers `PsaErrorNotPermitted` instead (parsec-interface
/// `KeyAttributes::compatible_with_alg`), which is also what CanDoCrypto reports; change this one
/// constant to follow upstream.
pub const INCOMPATIBLE: Status = Status::PsaErrorInvalidArgument;

/// Largest unstructured key (RawData, HMAC, Derive) in bits: Mbed TLS's `PSA_MAX_KEY_BITS`
/// (0xfff8, 8191 bytes). Bigger keys are `PsaErrorNotSupported`, as upstream.
pub const MAX_KEY_BITS: u32 = 0xfff8;

/// Whether keys of this type and size can be generated or imported here. `bits == 0` asks about
/// the type alone.
pub fn supports_type(key_type: KeyType, bits: u32) -> bool {
    match key_type {
        KeyType::Aes => matches!(bits, 0 | 128 | 192 | 256),
        KeyType::Chacha20 => matches!(bits, 0 | 256),
        KeyType::RawData | KeyType::Hmac | KeyType::Derive => bits % 8 == 0 && bits <= MAX_KEY_BITS,
        _ => false,
    }
}

/// Checks that `bits` is a valid size for a symmetric key of `key_type` (Mbed TLS
/// `psa_validate_unstructured_key_bit_size`).
pub fn validate_bits(key_type: KeyType, bits: u32) -> Result<(), Status> {
    match key_type {
        KeyType::Aes if !matches!(bits, 128 | 192 | 256) => Err(Status::PsaErrorInvalidArgument),
        KeyType::Chacha20 if bits != 256 => Err(Status::PsaErrorInvalidArgument),
        KeyType::Aes | KeyType::Chacha20 => Ok(()),
        KeyType::RawData | KeyType::Hmac | KeyType::Derive => {
            if bits == 0 || bits % 8 != 0 {
                Err(Status::PsaErrorInvalidArgument)
            } else if bits > MAX_KEY_BITS {
                Err(Status::PsaErrorNotSupported)
            } else {
                Ok(())
            }
        }
        _ => Err(Status::PsaErrorNotSupported),
    }
}

/// A random key of `attrs.bits` bits.
pub fn generate(attrs: &KeyAttributes) -> Result<Secret, Status> {
    validate_bits(attrs.key_type, attrs.bits)?;
    generate_random((attrs.bits / 8) as usize)
}

/// Checks key material given by a client; returns its size in bits and a copy. `attrs.bits == 0`
/// takes the size from the data; any other value must match it.
pub fn import(attrs: &KeyAttributes, data: &[u8]) -> Result<(u32, Secret), Status> {
    if !supports_type(attrs.key_type, 0) {
        return Err(Status::PsaErrorNotSupported);
    }
    if data.is_empty() {
        return Err(Status::PsaErrorInvalidArgument);
    }
    let bits = u32::try_from(data.len())
        .ok()
        .and_then(|len| len.checked_mul(8))
        .filter(|bits| *bits <= MAX_KEY_BITS)
        .ok_or(Status::PsaErrorNotSupported)?;
    if attrs.bits != 0 && attrs.bits != bits {
        return Err(Status::PsaErrorInvalidArgument);
    }
    validate_bits(attrs.key_type, bits)?;
    Ok((bits, Secret::from(data)))
}

/// `size` random bytes from aws-lc's DRBG.
pub fn generate_random(size: usize) -> Result<Secret, Status> {
    let mut bytes = Zeroizing::new(vec![0u8; size]);
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
    Ok(Secret::new(std::mem::take(&mut *bytes)))
}

/// AES key sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AesSize {
    Aes128,
    Aes192,
    Aes256,
}

/// The AES variant for this key; the key must be 16, 24 or 32 bytes.
fn aes_size(key: &[u8]) -> Result<AesSize, Status> {
    match key.len() {
        16 => Ok(AesSize::Aes128),
        24 => Ok(AesSize::Aes192),
        32 => Ok(AesSize::Aes256),
        _ => Err(Status::PsaErrorInvalidArgument),
    }
}

/// The key must be a 32-byte ChaCha20 key.
fn chacha_key(key: &[u8]) -> Result<&[u8; 32], Status> {
    key.try_into().map_err(|_| Status::PsaErrorInvalidArgument)
}

/// Constant-time equality (time depends on the lengths only).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Moves a wiped-on-drop work buffer into a [`Secret`] without copying.
fn into_secret(mut buf: Zeroizing<Vec<u8>>) -> Secret {
    Secret::new(std::mem::take(&mut *buf))
}
