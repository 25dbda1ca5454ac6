//! The EtA symmetric cipher of Parsec.1 sessions (spec §4.7). **Not standard AES-CTR**:
//!
//! ```text
//! etaEncrypt(K, P) = IV (16 random bytes) ‖ C ‖ HMAC-SHA256(K, C)     (the tag skips the IV)
//! C = P XOR keystream; block i = AES-256_K(IV with its last 4 bytes XOR big-endian u32(i))
//! ```
//! The counter is XORed into the IV, not added: standard CTR agrees only while no carry
//! happens, so half of all short messages would seem to work with the wrong mode.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub const KEY_LEN: usize = 32;
pub const IV_LEN: usize = 16;
pub const TAG_LEN: usize = 32;
/// Bytes added to every message: IV and tag.
pub const OVERHEAD: usize = IV_LEN + TAG_LEN;

/// Keystream blocks made per call into AES (1 KiB): lets AES-NI pipeline.
const BATCH: usize = 64;

/// A 32-byte EtA key (zeroed when dropped).
#[derive(Clone)]
pub struct SymmetricKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    aes: Aes256,
    /// HMAC-SHA256 under the same key.
    mac: mac::Key,
}

impl std::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymmetricKey(..)")
    }
}

impl SymmetricKey {
    pub fn new(key: &[u8; KEY_LEN]) -> SymmetricKey {
        SymmetricKey {
            key: Zeroizing::new(*key),
            aes: Aes256::new(key.into()),
            mac: mac::Key::new(key),
        }
    }

    /// A key of exactly 32 bytes, from a slice.
    pub fn from_slice(key: &[u8]) -> Result<SymmetricKey> {
        let key: &[u8; KEY_LEN] = key
            .try_into()
            .map_err(|_| Error::BadKey("symmetric key must be 32 bytes"))?;
        Ok(Self::new(key))
    }

    /// A fresh random key.
    pub fn random() -> Result<SymmetricKey> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.try_fill_bytes(&mut *k).map_err(|_| Error::Random)?;
        Ok(Self::new(&k))
    }

    /// The key bytes (secret).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Encrypts with a fresh random IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut iv = [0u8; IV_LEN];
        OsRng.try_fill_bytes(&mut iv).map_err(|_| Error::Random)?;
        Ok(self.encrypt_with_iv(plaintext, &iv))
    }

    /// Encrypts with the given IV (tests and vectors; never reuse an IV with one key).
    pub fn encrypt_with_iv(&self, plaintext: &[u8], iv: &[u8; IV_LEN]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(iv);
        out.extend_from_slice(plaintext);
        self.apply_keystream(iv, &mut out[IV_LEN..]);
        let tag = self.mac.sign(&out[IV_LEN..]);
        out.extend_from_slice(&tag);
        out
    }

    /// Checks the tag (in constant time) and decrypts.
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() < OVERHEAD {
            return Err(Error::Authentication);
        }
        let (iv, rest) = data.split_at(IV_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        // Constant-time comparison.
        if !self.mac.verify(ciphertext, tag) {
            return Err(Error::Authentication);
        }
        let mut plain = ciphertext.to_vec();
        self.apply_keystream(iv.try_into().expect("16 bytes"), &mut plain);
        Ok(plain)
    }

    /// XORs the keystream into `data`. Messages are far below 2^32 blocks (64 GiB); the
    /// counter wraps there as the Java and JavaScript implementations' 32-bit counters do.
    fn apply_keystream(&self, iv: &[u8; IV_LEN], data: &mut [u8]) {
        let iv_low = u32::from_be_bytes([iv[12], iv[13], iv[14], iv[15]]);
        let mut counter: u32 = 0;
        let mut blocks = [aes::Block::default(); BATCH];
        for chunk in data.chunks_mut(16 * BATCH) {
            let n = chunk.len().div_ceil(16);
            for block in &mut blocks[..n] {
                block[..12].copy_from_slice(&iv[..12]);
                block[12..].copy_from_slice(&(iv_low ^ counter).to_be_bytes());
                counter = counter.wrapping_add(1);
            }
            self.aes.encrypt_blocks(&mut blocks[..n]);
            // Whole blocks as 128-bit words, then the tail byte by byte.
            let mut whole = chunk.chunks_exact_mut(16);
            for (d, k) in (&mut whole).zip(&blocks) {
                let x = u128::from_ne_bytes((&*d).try_into().expect("16 bytes"))
                    ^ u128::from_ne_bytes((*k).into());
                d.copy_from_slice(&x.to_ne_bytes());
            }
            let tail = whole.into_remainder();
            for (d, k) in tail.iter_mut().zip(&blocks[n - 1]) {
                *d ^= k;
            }
        }
    }
}

/// The IV of an EtA message (its first 16 bytes), if it is long enough to be one.
pub fn iv_of(data: &[u8]) -> Option<&[u8; IV_LEN]> {
    data.get(..IV_LEN)?.try_into().ok()
}

/// HMAC-SHA256 by aws-lc: its SHA-256 is three times faster than the size-optimised build of
/// the `sha2` crate in our release profile (BENCHMARKS.md).
#[cfg(feature = "aws-lc")]
mod mac {
    use aws_lc_rs::hmac;

    #[derive(Clone)]
    pub struct Key(hmac::Key);

    impl Key {
        pub fn new(key: &[u8]) -> Key {
            Key(hmac::Key::new(hmac::HMAC_SHA256, key))
        }

        pub fn sign(&self, data: &[u8]) -> [u8; super::TAG_LEN] {
            let mut tag = [0u8; super::TAG_LEN];
            tag.copy_from_slice(hmac::sign(&self.0, data).as_ref());
            tag
        }

        /// Compares in constant time.
        pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
            hmac::verify(&self.0, data, tag).is_ok()
        }
    }
}

/// HMAC-SHA256 by RustCrypto, where aws-lc does not build (WebAssembly).
#[cfg(not(feature = "aws-lc"))]
mod mac {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    #[derive(Clone)]
    pub struct Key(Hmac<Sha256>);

    impl Key {
        pub fn new(key: &[u8]) -> Key {
            Key(Hmac::new_from_slice(key).expect("HMAC takes keys of any length"))
        }

        pub fn sign(&self, data: &[u8]) -> [u8; super::TAG_LEN] {
            let mut mac = self.0.clone();
            mac.update(data);
            mac.finalize().into_bytes().into()
        }

        /// Compares in constant time (`verify_slice` uses `subtle`).
        pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
            let mut mac = self.0.clone();
            mac.update(data);
            mac.verify_slice(tag).is_ok()
        }
    }
}
