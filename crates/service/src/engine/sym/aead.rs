//! AEAD: `psa_aead_encrypt` / `psa_aead_decrypt` (one-shot; output is ciphertext || tag).
//!
//! Sizes follow PSA Crypto API 1.0 and Mbed TLS 3 (`psa_aead_check_nonce_length`, `mbedtls_gcm`,
//! `mbedtls_ccm`):
//!
//! | Algorithm | Key | Nonce (bytes) | Tag (bytes) |
//! |---|---|---|---|
//! | GCM | AES-128/192/256 | 1 or more (12 recommended) | 4, 8, 12, 13, 14, 15, 16 |
//! | CCM | AES-128/192/256 | 7 to 13 | 4, 6, 8, 10, 12, 14, 16 |
//! | ChaCha20-Poly1305 | ChaCha20 | 12 (8: NotSupported) | 16 (shorter: NotSupported) |

use aws_lc_rs::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_192_GCM, AES_256_GCM, CHACHA20_POLY1305,
};
use parsec_psa::{Aead, AeadWithDefaultLengthTag, KeyAttributes, KeyType, Secret};
use parsec_wire::Status;
use zeroize::Zeroizing;

use super::aead_rc::{ccm_by_size, gcm_by_size};
use super::{aes_size, chacha_key, into_secret, AesSize, INCOMPATIBLE};

pub(super) const FULL_TAG: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gcm(AesSize),
    Ccm(AesSize),
    ChaCha20Poly1305,
}

/// Checks the algorithm against the key, the tag length and the nonce; returns the
/// implementation and the tag length in bytes.
fn check(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Aead,
    nonce: &[u8],
) -> Result<(Kind, usize), Status> {
    use AeadWithDefaultLengthTag as A;
    let base = alg.base();
    match (attrs.key_type, base) {
        (KeyType::Aes | KeyType::Camellia, A::Gcm | A::Ccm) => {}
        (KeyType::Chacha20, A::Chacha20Poly1305) => {}
        _ => return Err(INCOMPATIBLE),
    }
    if attrs.key_type == KeyType::Camellia {
        return Err(Status::PsaErrorNotSupported);
    }
    let tag_len = match alg {
        Aead::AeadWithDefaultLengthTag(_) => FULL_TAG,
        Aead::AeadWithShortenedTag { tag_length, .. } => {
            usize::try_from(tag_length).map_err(|_| Status::PsaErrorInvalidArgument)?
        }
    };
    let kind = match base {
        A::Gcm => {
            if !matches!(tag_len, 4 | 8 | 12..=16) || nonce.is_empty() {
                return Err(Status::PsaErrorInvalidArgument);
            }
            Kind::Gcm(aes_size(key)?)
        }
        A::Ccm => {
            if !(4..=16).contains(&tag_len) || tag_len % 2 != 0 || !(7..=13).contains(&nonce.len())
            {
                return Err(Status::PsaErrorInvalidArgument);
            }
            Kind::Ccm(aes_size(key)?)
        }
        A::Chacha20Poly1305 => {
            if tag_len != FULL_TAG {
                return Err(Status::PsaErrorNotSupported);
            }
            match nonce.len() {
                12 => {}
                8 => return Err(Status::PsaErrorNotSupported),
                _ => return Err(Status::PsaErrorInvalidArgument),
            }
            chacha_key(key)?;
            Kind::ChaCha20Poly1305
        }
    };
    Ok((kind, tag_len))
}

/// `psa_aead_encrypt`: returns ciphertext || tag.
pub fn aead_encrypt(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Aead,
    nonce: &[u8],
    additional_data: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Status> {
    let (kind, tag_len) = check(attrs, key, alg, nonce)?;
    // Holds plaintext until encrypted: wiped if anything fails on the way.
    let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + FULL_TAG));
    buf.extend_from_slice(plaintext);
    let tag = match kind {
        Kind::Gcm(size) if nonce.len() == 12 => {
            aws_seal(aws_gcm(size), key, nonce, additional_data, &mut buf)?
        }
        Kind::Gcm(size) => gcm_by_size(size, key, nonce, additional_data, &mut buf, None)?,
        Kind::Ccm(size) => ccm_by_size(size, key, nonce, additional_data, &mut buf, tag_len, None)?,
        Kind::ChaCha20Poly1305 => {
            aws_seal(&CHACHA20_POLY1305, key, nonce, additional_data, &mut buf)?
        }
    };
    // GCM tags are truncated from the left-most bytes (SP 800-38D §5.2.1.2).
    buf.extend_from_slice(&tag[..tag_len]);
    Ok(std::mem::take(&mut *buf))
}

/// `psa_aead_decrypt`: the input is ciphertext || tag; a wrong tag is `PsaErrorInvalidSignature`.
pub fn aead_decrypt(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Aead,
    nonce: &[u8],
    additional_data: &[u8],
    ciphertext: &[u8],
) -> Result<Secret, Status> {
    let (kind, tag_len) = check(attrs, key, alg, nonce)?;
    let body_len = ciphertext
        .len()
        .checked_sub(tag_len)
        .ok_or(Status::PsaErrorInvalidArgument)?;
    let (body, tag) = ciphertext.split_at(body_len);
    let mut buf = Zeroizing::new(body.to_vec());
    match kind {
        Kind::Gcm(size) if nonce.len() == 12 && tag_len == FULL_TAG => {
            aws_open(aws_gcm(size), key, nonce, additional_data, tag, &mut buf)?
        }
        Kind::Gcm(size) => {
            gcm_by_size(size, key, nonce, additional_data, &mut buf, Some(tag))?;
        }
        Kind::Ccm(size) => {
            ccm_by_size(
                size,
                key,
                nonce,
                additional_data,
                &mut buf,
                tag_len,
                Some(tag),
            )?;
        }
        Kind::ChaCha20Poly1305 => aws_open(
            &CHACHA20_POLY1305,
            key,
            nonce,
            additional_data,
            tag,
            &mut buf,
        )?,
    }
    Ok(into_secret(buf))
}

fn aws_gcm(size: AesSize) -> &'static aws_lc_rs::aead::Algorithm {
    match size {
        AesSize::Aes128 => &AES_128_GCM,
        AesSize::Aes192 => &AES_192_GCM,
        AesSize::Aes256 => &AES_256_GCM,
    }
}

fn aws_key(alg: &'static aws_lc_rs::aead::Algorithm, key: &[u8]) -> Result<LessSafeKey, Status> {
    UnboundKey::new(alg, key)
        .map(LessSafeKey::new)
        .map_err(|_| Status::PsaErrorInvalidArgument)
}

fn aws_nonce(nonce: &[u8]) -> Result<Nonce, Status> {
    Nonce::try_assume_unique_for_key(nonce).map_err(|_| Status::PsaErrorInvalidArgument)
}

/// Encrypts in place with aws-lc; returns the full 16-byte tag.
fn aws_seal(
    alg: &'static aws_lc_rs::aead::Algorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; FULL_TAG], Status> {
    let tag = aws_key(alg, key)?
        .seal_in_place_separate_tag(aws_nonce(nonce)?, Aad::from(aad), buf)
        .map_err(|_| Status::PsaErrorInvalidArgument)?;
    tag.as_ref()
        .try_into()
        .map_err(|_| Status::PsaErrorGenericError)
}

/// Decrypts in place with aws-lc, checking the full 16-byte tag.
fn aws_open(
    alg: &'static aws_lc_rs::aead::Algorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    tag: &[u8],
    buf: &mut [u8],
) -> Result<(), Status> {
    aws_key(alg, key)?
        .open_in_place_separate_tag(aws_nonce(nonce)?, Aad::from(aad), tag, buf)
        .map(|_| ())
        .map_err(|_| Status::PsaErrorInvalidSignature)
}
