//! MACs: `psa_mac_compute` / `psa_mac_verify`.
//!
//! HMAC over every hash but MD2 and MD4; CMAC over AES. CBC-MAC is `PsaErrorNotSupported`, as in
//! Mbed TLS 3's PSA core. A truncated MAC is at least 4 bytes (shorter: NotSupported, as Mbed TLS)
//! and at most the full length (longer: InvalidArgument); a `mac_length` of 0 means the full
//! length, as `PSA_ALG_TRUNCATED_MAC(alg, 0)` encodes the untruncated algorithm.

use aws_lc_rs::{cmac, hmac as aws_hmac};
use hmac::digest::KeyInit;
use hmac::Hmac;
use parsec_psa::{FullLengthMac, Hash, KeyAttributes, KeyType, Mac};
use parsec_wire::Status;

use super::{aes_size, ct_eq, AesSize, INCOMPATIBLE};

/// Shortest MAC accepted (Mbed TLS `psa_mac_finalize_alg_and_key_validation`).
const MIN_MAC_LEN: usize = 4;
const CMAC_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Hmac(Hash),
    Cmac(AesSize),
}

/// Checks the algorithm against the key; returns the engine and the output length.
fn check(attrs: &KeyAttributes, key: &[u8], alg: Mac) -> Result<(Engine, usize), Status> {
    let full = alg.full_length();
    match (attrs.key_type, full) {
        (KeyType::Hmac, FullLengthMac::Hmac { .. }) => {}
        (
            KeyType::Aes | KeyType::Camellia | KeyType::Des,
            FullLengthMac::CbcMac | FullLengthMac::Cmac,
        ) => {}
        _ => return Err(INCOMPATIBLE),
    }
    let (engine, full_len) = match full {
        FullLengthMac::Hmac {
            hash_alg: Hash::Md2 | Hash::Md4,
        }
        | FullLengthMac::CbcMac => return Err(Status::PsaErrorNotSupported),
        FullLengthMac::Hmac { hash_alg } => (Engine::Hmac(hash_alg), hash_alg.output_len()),
        FullLengthMac::Cmac if attrs.key_type == KeyType::Aes => {
            (Engine::Cmac(aes_size(key)?), CMAC_LEN)
        }
        FullLengthMac::Cmac => return Err(Status::PsaErrorNotSupported),
    };
    let len = match alg {
        Mac::FullLength(_) | Mac::Truncated { mac_length: 0, .. } => full_len,
        Mac::Truncated { mac_length, .. } => {
            usize::try_from(mac_length).map_err(|_| Status::PsaErrorInvalidArgument)?
        }
    };
    if len < MIN_MAC_LEN {
        return Err(Status::PsaErrorNotSupported);
    }
    if len > full_len {
        return Err(Status::PsaErrorInvalidArgument);
    }
    Ok((engine, len))
}

/// `psa_mac_compute`.
pub fn mac_compute(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Mac,
    input: &[u8],
) -> Result<Vec<u8>, Status> {
    let (engine, len) = check(attrs, key, alg)?;
    let mut mac = full_mac(engine, key, input)?;
    mac.truncate(len);
    Ok(mac)
}

/// `psa_mac_verify`: a MAC that differs, or has the wrong length, is
/// `PsaErrorInvalidSignature`. The comparison runs in constant time.
pub fn mac_verify(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Mac,
    input: &[u8],
    mac: &[u8],
) -> Result<(), Status> {
    let expected = mac_compute(attrs, key, alg, input)?;
    if ct_eq(&expected, mac) {
        Ok(())
    } else {
        Err(Status::PsaErrorInvalidSignature)
    }
}

/// The untruncated MAC.
fn full_mac(engine: Engine, key: &[u8], input: &[u8]) -> Result<Vec<u8>, Status> {
    let aws = |alg: aws_hmac::Algorithm| {
        aws_hmac::sign(&aws_hmac::Key::new(alg, key), input)
            .as_ref()
            .to_vec()
    };
    Ok(match engine {
        Engine::Hmac(hash) => match hash {
            Hash::Md2 | Hash::Md4 => return Err(Status::PsaErrorNotSupported),
            Hash::Md5 => rust_crypto::<Hmac<md5::Md5>>(key, input)?,
            Hash::Ripemd160 => rust_crypto::<Hmac<ripemd::Ripemd160>>(key, input)?,
            Hash::Sha1 => aws(aws_hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            Hash::Sha224 => aws(aws_hmac::HMAC_SHA224),
            Hash::Sha256 => aws(aws_hmac::HMAC_SHA256),
            Hash::Sha384 => aws(aws_hmac::HMAC_SHA384),
            Hash::Sha512 => aws(aws_hmac::HMAC_SHA512),
            Hash::Sha512_224 => rust_crypto::<Hmac<sha2::Sha512_224>>(key, input)?,
            Hash::Sha512_256 => rust_crypto::<Hmac<sha2::Sha512_256>>(key, input)?,
            Hash::Sha3_224 => rust_crypto::<Hmac<sha3::Sha3_224>>(key, input)?,
            Hash::Sha3_256 => rust_crypto::<Hmac<sha3::Sha3_256>>(key, input)?,
            Hash::Sha3_384 => rust_crypto::<Hmac<sha3::Sha3_384>>(key, input)?,
            Hash::Sha3_512 => rust_crypto::<Hmac<sha3::Sha3_512>>(key, input)?,
        },
        Engine::Cmac(size) => {
            let alg = match size {
                AesSize::Aes128 => cmac::AES_128,
                AesSize::Aes192 => cmac::AES_192,
                AesSize::Aes256 => cmac::AES_256,
            };
            let key = cmac::Key::new(alg, key).map_err(|_| Status::PsaErrorInvalidArgument)?;
            cmac::sign(&key, input)
                .map_err(|_| Status::PsaErrorGenericError)?
                .as_ref()
                .to_vec()
        }
    })
}

/// HMAC with a RustCrypto hash.
fn rust_crypto<M: hmac::Mac + KeyInit>(key: &[u8], input: &[u8]) -> Result<Vec<u8>, Status> {
    let mut mac =
        <M as hmac::Mac>::new_from_slice(key).map_err(|_| Status::PsaErrorInvalidArgument)?;
    mac.update(input);
    Ok(mac.finalize().into_bytes().to_vec())
}
