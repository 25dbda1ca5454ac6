//! Unauthenticated ciphers: `psa_cipher_encrypt` / `psa_cipher_decrypt` (one-shot, IV first).

use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128,
    AES_192, AES_256,
};
use aws_lc_rs::iv::FixedLength;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use parsec_psa::{Cipher, KeyAttributes, KeyType, Secret};
use parsec_wire::Status;
use zeroize::Zeroizing;

use super::{aes_size, chacha_key, into_secret, AesSize, INCOMPATIBLE};

const BLOCK: usize = 16;
/// `PSA_CIPHER_IV_LENGTH(PSA_KEY_TYPE_CHACHA20, PSA_ALG_STREAM_CIPHER)`: a 12-byte nonce, block
/// counter starting at 0 (RFC 8439 layout).
const CHACHA20_IV: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AesMode {
    Ctr,
    Cfb,
    Ofb,
    Ecb,
    Cbc,
    CbcPkcs7,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Engine {
    Aes(AesSize, AesMode),
    ChaCha20,
}

impl Engine {
    /// Checks the algorithm against the key (type, then size) and picks the implementation.
    pub(super) fn new(attrs: &KeyAttributes, key: &[u8], alg: Cipher) -> Result<Self, Status> {
        // Compatibility first (the parsec-interface table): block-cipher modes need a block
        // cipher key, the stream cipher a stream cipher key.
        let stream = alg == Cipher::StreamCipher;
        match attrs.key_type {
            KeyType::Aes | KeyType::Camellia | KeyType::Des if !stream => {}
            KeyType::Chacha20 | KeyType::Arc4 if stream => {}
            _ => return Err(INCOMPATIBLE),
        }
        match attrs.key_type {
            KeyType::Aes => {
                let mode = match alg {
                    Cipher::Ctr => AesMode::Ctr,
                    Cipher::Cfb => AesMode::Cfb,
                    Cipher::Ofb => AesMode::Ofb,
                    Cipher::EcbNoPadding => AesMode::Ecb,
                    Cipher::CbcNoPadding => AesMode::Cbc,
                    Cipher::CbcPkcs7 => AesMode::CbcPkcs7,
                    Cipher::Xts => return Err(Status::PsaErrorNotSupported),
                    Cipher::StreamCipher => return Err(INCOMPATIBLE),
                };
                Ok(Engine::Aes(aes_size(key)?, mode))
            }
            KeyType::Chacha20 => {
                chacha_key(key)?;
                Ok(Engine::ChaCha20)
            }
            _ => Err(Status::PsaErrorNotSupported),
        }
    }

    /// IV length in bytes (`PSA_CIPHER_IV_LENGTH`).
    pub(super) fn iv_len(self) -> usize {
        match self {
            Engine::Aes(_, AesMode::Ecb) => 0,
            Engine::Aes(..) => BLOCK,
            Engine::ChaCha20 => CHACHA20_IV,
        }
    }

    /// Whether the data must be whole blocks (modes without padding).
    fn needs_whole_blocks(self) -> bool {
        matches!(self, Engine::Aes(_, AesMode::Ecb | AesMode::Cbc))
    }

    /// Encrypts `plaintext` with the given IV; returns the ciphertext only.
    pub(super) fn encrypt(
        self,
        key: &[u8],
        iv: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Status> {
        if iv.len() != self.iv_len() {
            return Err(Status::PsaErrorInvalidArgument);
        }
        if self.needs_whole_blocks() && plaintext.len() % BLOCK != 0 {
            return Err(Status::PsaErrorInvalidArgument);
        }
        // Holds plaintext until encrypted: wiped if anything fails on the way.
        // Room for PKCS#7 padding, so that no reallocation leaves a copy behind.
        let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + BLOCK));
        buf.extend_from_slice(plaintext);
        match self {
            Engine::Aes(size, AesMode::CbcPkcs7) => {
                let pad = BLOCK - plaintext.len() % BLOCK;
                buf.resize(plaintext.len() + pad, pad as u8);
                aes_apply(size, AesMode::Cbc, true, key, iv, &mut buf)?;
            }
            Engine::Aes(size, mode) => aes_apply(size, mode, true, key, iv, &mut buf)?,
            Engine::ChaCha20 => chacha20_apply(key, iv, 0, &mut buf)?,
        }
        Ok(std::mem::take(&mut *buf))
    }

    /// Decrypts `ciphertext` (without IV) with the given IV.
    pub(super) fn decrypt(
        self,
        key: &[u8],
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, Status> {
        if iv.len() != self.iv_len() {
            return Err(Status::PsaErrorInvalidArgument);
        }
        let padded = matches!(self, Engine::Aes(_, AesMode::CbcPkcs7));
        if (self.needs_whole_blocks() || padded) && ciphertext.len() % BLOCK != 0 {
            return Err(Status::PsaErrorInvalidArgument);
        }
        if padded && ciphertext.is_empty() {
            // Mbed TLS: MBEDTLS_ERR_CIPHER_FULL_BLOCK_EXPECTED.
            return Err(Status::PsaErrorInvalidArgument);
        }
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        match self {
            Engine::Aes(size, AesMode::CbcPkcs7) => {
                aes_apply(size, AesMode::Cbc, false, key, iv, &mut buf)?;
                let len = pkcs7_unpadded_len(&buf).ok_or(Status::PsaErrorInvalidPadding)?;
                buf.truncate(len);
            }
            Engine::Aes(size, mode) => aes_apply(size, mode, false, key, iv, &mut buf)?,
            Engine::ChaCha20 => chacha20_apply(key, iv, 0, &mut buf)?,
        }
        Ok(into_secret(buf))
    }
}

/// `psa_cipher_encrypt`: a fresh random IV, returned in front of the ciphertext.
pub fn cipher_encrypt(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Cipher,
    plaintext: &[u8],
) -> Result<Vec<u8>, Status> {
    let engine = Engine::new(attrs, key, alg)?;
    let mut iv = [0u8; BLOCK];
    let iv = &mut iv[..engine.iv_len()];
    aws_lc_rs::rand::fill(iv).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
    let ciphertext = engine.encrypt(key, iv, plaintext)?;
    let mut out = Vec::with_capacity(iv.len() + ciphertext.len());
    out.extend_from_slice(iv);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// `psa_cipher_decrypt`: the input is IV || ciphertext.
pub fn cipher_decrypt(
    attrs: &KeyAttributes,
    key: &[u8],
    alg: Cipher,
    ciphertext: &[u8],
) -> Result<Secret, Status> {
    let engine = Engine::new(attrs, key, alg)?;
    if ciphertext.len() < engine.iv_len() {
        return Err(Status::PsaErrorInvalidArgument);
    }
    let (iv, body) = ciphertext.split_at(engine.iv_len());
    engine.decrypt(key, iv, body)
}

/// The length of `buf` once its PKCS#7 padding is removed, or `None` when the padding is bad.
/// Runs in time independent of the padding bytes. `buf` is one or more whole blocks.
fn pkcs7_unpadded_len(buf: &[u8]) -> Option<usize> {
    let last = buf.len().checked_sub(BLOCK)?;
    let tail = &buf[last..];
    let pad = tail[BLOCK - 1];
    // bad != 0 when pad is 0 or above 16, or when a byte inside the padding differs from it.
    let mut bad = u8::from(pad == 0) | u8::from(pad as usize > BLOCK);
    for (i, byte) in tail.iter().rev().enumerate() {
        // inside = 0xff when i < pad, else 0 (no branch on pad).
        let inside = ((i as u16).wrapping_sub(u16::from(pad)) >> 8) as u8;
        bad |= inside & (byte ^ pad);
    }
    if std::hint::black_box(bad) == 0 {
        Some(buf.len() - pad as usize)
    } else {
        None
    }
}

/// Runs one AES mode in place with aws-lc (no padding; `buf` is whole blocks for ECB and CBC).
fn aes_apply(
    size: AesSize,
    mode: AesMode,
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), Status> {
    if buf.is_empty() {
        return Ok(());
    }
    let alg = match size {
        AesSize::Aes128 => &AES_128,
        AesSize::Aes192 => &AES_192,
        AesSize::Aes256 => &AES_256,
    };
    let failed = |_| Status::PsaErrorGenericError;
    let unbound = UnboundCipherKey::new(alg, key).map_err(|_| Status::PsaErrorInvalidArgument)?;
    let iv: Option<[u8; BLOCK]> = if mode == AesMode::Ecb {
        None
    } else {
        Some(iv.try_into().map_err(|_| Status::PsaErrorInvalidArgument)?)
    };
    if encrypt {
        let key = match mode {
            AesMode::Ctr => EncryptingKey::ctr(unbound),
            AesMode::Cfb => EncryptingKey::cfb128(unbound),
            AesMode::Ofb => EncryptingKey::ofb(unbound),
            AesMode::Ecb => EncryptingKey::ecb(unbound),
            AesMode::Cbc | AesMode::CbcPkcs7 => EncryptingKey::cbc(unbound),
        }
        .map_err(failed)?;
        let context = match iv {
            Some(iv) => EncryptionContext::Iv128(FixedLength::from(iv)),
            None => EncryptionContext::None,
        };
        key.less_safe_encrypt(buf, context).map_err(failed)?;
    } else {
        let key = match mode {
            AesMode::Ctr => DecryptingKey::ctr(unbound),
            AesMode::Cfb => DecryptingKey::cfb128(unbound),
            AesMode::Ofb => DecryptingKey::ofb(unbound),
            AesMode::Ecb => DecryptingKey::ecb(unbound),
            AesMode::Cbc | AesMode::CbcPkcs7 => DecryptingKey::cbc(unbound),
        }
        .map_err(failed)?;
        let context = match iv {
            Some(iv) => DecryptionContext::Iv128(FixedLength::from(iv)),
            None => DecryptionContext::None,
        };
        key.decrypt(buf, context).map_err(failed)?;
    }
    Ok(())
}

/// XORs `buf` with the ChaCha20 key stream (RFC 8439: 12-byte nonce, 32-bit block counter
/// starting at `counter`).
pub(super) fn chacha20_apply(
    key: &[u8],
    nonce: &[u8],
    counter: u32,
    buf: &mut [u8],
) -> Result<(), Status> {
    let key = chacha_key(key)?;
    let nonce: &[u8; CHACHA20_IV] = nonce
        .try_into()
        .map_err(|_| Status::PsaErrorInvalidArgument)?;
    let mut stream = chacha20::ChaCha20::new(key.into(), nonce.into());
    stream
        .try_seek(u64::from(counter) * 64)
        .map_err(|_| Status::PsaErrorInvalidArgument)?;
    // At most 2^32 blocks from the start: longer inputs cannot be encrypted under one nonce.
    stream
        .try_apply_keystream(buf)
        .map_err(|_| Status::PsaErrorInvalidArgument)
}
