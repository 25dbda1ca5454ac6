//! RSA keys as Parsec.1 packs them (spec §4.1), and the two RSA schemes it uses:
//! OAEP with SHA-1 and MGF1-SHA-1 (§4.4), PSS with SHA3-384, MGF1-SHA-1 and the maximum salt
//! (§4.5). PSS is encoded here over raw RSA (no crate offers a separate MGF1 digest).
//!
//! With the `aws-lc` feature (the default), every private-key operation runs in aws-lc, in
//! constant time: OAEP decryption through aws-lc-rs, the PSS signature's raw operation through
//! `rsa_raw`. The `rsa` crate only holds the key's numbers and does public-key operations
//! (RUSTSEC-2023-0071: its private operations leak timing).
//!
//! Without it (WebAssembly, where aws-lc does not build) the `rsa` crate does the private
//! operations too, blinded: see [`backend`] for what that means for a client.

use parsec_boss::Value;
use rand_core::{OsRng, RngCore};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Oaep, RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha3::{Digest, Sha3_384};
use zeroize::Zeroizing;

use crate::address::KeyAddress;
use crate::error::{Error, Result};

/// Smallest and largest moduli accepted from a peer. Parsec.1 addresses exist for 2048, 4096
/// and 8192 bits; the upper bound caps the cost of a verification a peer can ask for.
pub const MIN_BITS: usize = 2048;
pub const MAX_BITS: usize = 8192;

const TYPE_PRIVATE: i128 = 0;
const TYPE_PUBLIC: i128 = 1;

/// The hashes of RSA-PSS signatures in Parsec.1 (SHA3-384) and in Universa's extended
/// signatures (`sign`: SHA-512, `sign2`: SHA3-256, `sign3`: SHA3-384).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PssHash {
    Sha512,
    Sha3_256,
    Sha3_384,
}

/// An RSA public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: RsaPublicKey,
}

/// An RSA private key (its material is zeroed when dropped, by the `rsa` crate and aws-lc).
#[derive(Clone)]
pub struct PrivateKey {
    key: RsaPrivateKey,
    public: PublicKey,
    /// What does the private operations.
    backend: backend::Backend,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(RSA-{}", self.bits())?;
        match self.long_address() {
            Ok(a) => write!(f, ", {a})"),
            Err(_) => f.write_str(")"),
        }
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(public: {:?})", self.public)
    }
}

/// Unsigned big-endian bytes without leading zeros, as BOSS carries RSA numbers.
fn be(n: &BigUint) -> Vec<u8> {
    n.to_bytes_be()
}

fn number(v: &Value, max_len: usize) -> Result<BigUint> {
    let b = v
        .as_bytes()
        .ok_or(Error::BadKey("a number is not binary"))?;
    if b.is_empty() || b.len() > max_len {
        return Err(Error::BadKey("a number has a bad length"));
    }
    Ok(BigUint::from_bytes_be(b))
}

fn key_list(bytes: &[u8]) -> Result<Vec<Value>> {
    let limits = parsec_boss::Limits {
        max_depth: 1,
        max_size: 4096,
        max_elements: 8,
    };
    match parsec_boss::decode_with(bytes, limits)? {
        Value::List(items) => Ok(items),
        _ => Err(Error::BadKey("not a list")),
    }
}

impl PublicKey {
    fn new(n: BigUint, e: BigUint) -> Result<PublicKey> {
        let key = RsaPublicKey::new_with_max_size(n, e, MAX_BITS)
            .map_err(|_| Error::BadKey("RSA refuses it"))?;
        if key.n().bits() < MIN_BITS {
            return Err(Error::BadKey("modulus shorter than 2048 bits"));
        }
        Ok(PublicKey { key })
    }

    /// Reads the BOSS list `[1, e, n]`.
    pub fn from_value(v: &Value) -> Result<PublicKey> {
        match v.as_list() {
            Some([t, e, n]) if t.as_int() == Some(TYPE_PUBLIC) => {
                Self::new(number(n, MAX_BITS / 8)?, number(e, 8)?)
            }
            _ => Err(Error::BadKey("not [1, e, n]")),
        }
    }

    /// Reads packed BOSS bytes of `[1, e, n]`.
    pub fn unpack(bytes: &[u8]) -> Result<PublicKey> {
        Self::from_value(&Value::List(key_list(bytes)?))
    }

    /// The BOSS list `[1, e, n]`.
    pub fn to_value(&self) -> Value {
        Value::List(vec![
            Value::Int(TYPE_PUBLIC),
            Value::Bin(be(self.key.e())),
            Value::Bin(be(self.key.n())),
        ])
    }

    /// The packed BOSS bytes of `[1, e, n]`.
    pub fn pack(&self) -> Vec<u8> {
        parsec_boss::encode(&self.to_value()).expect("small integers and binaries always encode")
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// `e ‖ n`, unsigned big-endian: what key addresses digest.
    pub(crate) fn e_n(&self) -> Vec<u8> {
        let mut v = be(self.key.e());
        v.extend(be(self.key.n()));
        v
    }

    pub(crate) fn is_e_65537(&self) -> bool {
        *self.key.e() == BigUint::from(65537u32)
    }

    /// The 53-byte long address.
    pub fn long_address(&self) -> Result<KeyAddress> {
        KeyAddress::of(self, true)
    }

    /// The 37-byte short address.
    pub fn short_address(&self) -> Result<KeyAddress> {
        KeyAddress::of(self, false)
    }

    /// RSA-OAEP with SHA-1 and MGF1-SHA-1, empty label.
    pub fn encrypt_oaep(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.key
            .encrypt(&mut OsRng, Oaep::new::<Sha1>(), plaintext)
            .map_err(|_| Error::Oaep("plaintext too long for the key"))
    }

    /// Verifies an RSA-PSS signature (SHA3-384, MGF1-SHA-1, the maximum salt length).
    pub fn verify_pss(&self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.verify_pss_with(PssHash::Sha3_384, data, signature)
    }

    /// Verifies an RSA-PSS signature with `hash` (MGF1-SHA-1, the maximum salt length), as
    /// Universa's extended signatures use them.
    pub fn verify_pss_with(&self, hash: PssHash, data: &[u8], signature: &[u8]) -> Result<()> {
        let k = self.key.size();
        if signature.len() != k {
            return Err(Error::BadSignature);
        }
        let s = BigUint::from_bytes_be(signature);
        if &s >= self.key.n() {
            return Err(Error::BadSignature);
        }
        let m = rsa::hazmat::rsa_encrypt(&self.key, &s).map_err(|_| Error::BadSignature)?;
        let em_bits = self.bits() - 1;
        let em_len = em_bits.div_ceil(8);
        let m = m.to_bytes_be();
        if m.len() > em_len {
            return Err(Error::BadSignature);
        }
        let mut em = vec![0u8; em_len - m.len()];
        em.extend_from_slice(&m);
        let valid = match hash {
            PssHash::Sha512 => {
                emsa_pss_verify::<sha2::Sha512>(&sha2::Sha512::digest(data), &em, em_bits)
            }
            PssHash::Sha3_256 => {
                emsa_pss_verify::<sha3::Sha3_256>(&sha3::Sha3_256::digest(data), &em, em_bits)
            }
            PssHash::Sha3_384 => emsa_pss_verify::<Sha3_384>(&Sha3_384::digest(data), &em, em_bits),
        };
        if valid {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

impl PrivateKey {
    /// Generates a key with e = 65537 (2048, 3072, 4096 or 8192 bits).
    pub fn generate(bits: usize) -> Result<PrivateKey> {
        if ![2048, 3072, 4096, 8192].contains(&bits) {
            return Err(Error::BadKey(
                "key size must be 2048, 3072, 4096 or 8192 bits",
            ));
        }
        Self::from_rsa(backend::generate(bits)?)
    }

    fn from_rsa(key: RsaPrivateKey) -> Result<PrivateKey> {
        let public = PublicKey::new(key.n().clone(), key.e().clone())?;
        let backend = backend::Backend::new(&key)?;
        Ok(PrivateKey {
            key,
            public,
            backend,
        })
    }

    /// Reads the BOSS list `[0, e, p, q]`.
    pub fn from_value(v: &Value) -> Result<PrivateKey> {
        match v.as_list() {
            Some([t, e, p, q]) if t.as_int() == Some(TYPE_PRIVATE) => {
                let half = MAX_BITS / 16 + 1;
                let key =
                    RsaPrivateKey::from_p_q(number(p, half)?, number(q, half)?, number(e, 8)?)
                        .map_err(|_| Error::BadKey("RSA refuses it"))?;
                key.validate()
                    .map_err(|_| Error::BadKey("inconsistent primes"))?;
                Self::from_rsa(key)
            }
            _ => Err(Error::BadKey("not [0, e, p, q]")),
        }
    }

    /// Reads packed BOSS bytes of `[0, e, p, q]`.
    pub fn unpack(bytes: &[u8]) -> Result<PrivateKey> {
        let v = Value::List(key_list(bytes)?);
        let key = Self::from_value(&v);
        wipe(v);
        key
    }

    /// The packed BOSS bytes of `[0, e, p, q]` (secret: zeroed when dropped).
    pub fn pack(&self) -> Zeroizing<Vec<u8>> {
        let primes = self.key.primes();
        let v = Value::List(vec![
            Value::Int(TYPE_PRIVATE),
            Value::Bin(be(self.key.e())),
            Value::Bin(be(&primes[0])),
            Value::Bin(be(&primes[1])),
        ]);
        let packed = Zeroizing::new(
            parsec_boss::encode(&v).expect("small integers and binaries always encode"),
        );
        wipe(v);
        packed
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// RSA-OAEP decryption (SHA-1, MGF1-SHA-1).
    pub fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.backend.decrypt_oaep(&self.key, ciphertext)
    }

    /// RSA-PSS signature: SHA3-384, MGF1-SHA-1, salt of the maximum length (spec §4.5).
    pub fn sign_pss(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.sign_pss_with(PssHash::Sha3_384, data)
    }

    /// RSA-PSS signature with `hash`, MGF1-SHA-1 and the maximum salt length, as Universa's
    /// extended signatures make them.
    pub fn sign_pss_with(&self, hash: PssHash, data: &[u8]) -> Result<Vec<u8>> {
        let em_bits = self.public.bits() - 1;
        let em = match hash {
            PssHash::Sha512 => {
                emsa_pss_encode::<sha2::Sha512>(&sha2::Sha512::digest(data), em_bits)?
            }
            PssHash::Sha3_256 => {
                emsa_pss_encode::<sha3::Sha3_256>(&sha3::Sha3_256::digest(data), em_bits)?
            }
            PssHash::Sha3_384 => emsa_pss_encode::<Sha3_384>(&Sha3_384::digest(data), em_bits)?,
        };
        let k = self.key.size();
        let mut block = vec![0u8; k - em.len()];
        block.extend_from_slice(&em);
        self.backend.raw(&self.key, &block)
    }
}

/// The private-key operations by aws-lc: constant time, blinded, and every signature checked
/// against the public key (a fault must not leak a prime).
#[cfg(feature = "aws-lc")]
mod backend {
    use std::sync::Arc;

    use rsa::RsaPrivateKey;
    use zeroize::Zeroizing;

    use crate::error::{Error, Result};

    /// The same key in aws-lc.
    #[derive(Clone)]
    pub(super) struct Backend {
        raw: Arc<rsa_raw::PrivateKey>,
        decrypting: aws_lc_rs::rsa::PrivateDecryptingKey,
    }

    pub(super) fn generate(bits: usize) -> Result<RsaPrivateKey> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use rsa::pkcs8::DecodePrivateKey;
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => KeySize::Rsa8192,
        };
        let pair = KeyPair::generate(size).map_err(|_| Error::Random)?;
        let der = pair
            .as_der()
            .map_err(|_| Error::BadKey("aws-lc cannot export it"))?;
        RsaPrivateKey::from_pkcs8_der(der.as_ref()).map_err(|_| Error::BadKey("PKCS#8 from aws-lc"))
    }

    impl Backend {
        pub(super) fn new(key: &RsaPrivateKey) -> Result<Backend> {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::pkcs8::EncodePrivateKey;
            let pkcs1 = key
                .to_pkcs1_der()
                .map_err(|_| Error::BadKey("cannot encode it"))?;
            let raw = rsa_raw::PrivateKey::from_pkcs1_der(pkcs1.as_bytes())
                .map_err(|_| Error::BadKey("aws-lc refuses it"))?;
            let pkcs8 = key
                .to_pkcs8_der()
                .map_err(|_| Error::BadKey("cannot encode it"))?;
            let decrypting = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(pkcs8.as_bytes())
                .map_err(|_| Error::BadKey("aws-lc refuses it"))?;
            Ok(Backend {
                raw: Arc::new(raw),
                decrypting,
            })
        }

        pub(super) fn decrypt_oaep(
            &self,
            key: &RsaPrivateKey,
            ciphertext: &[u8],
        ) -> Result<Zeroizing<Vec<u8>>> {
            use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, OAEP_SHA1_MGF1SHA1};
            use rsa::traits::PublicKeyParts;
            let failed = |_| Error::Oaep("decryption failed");
            let oaep = OaepPrivateDecryptingKey::new(self.decrypting.clone()).map_err(failed)?;
            let mut out = Zeroizing::new(vec![0u8; key.size()]);
            let len = oaep
                .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
                .map_err(failed)?
                .len();
            out.truncate(len);
            Ok(out)
        }

        pub(super) fn raw(&self, _key: &RsaPrivateKey, block: &[u8]) -> Result<Vec<u8>> {
            let signature = self
                .raw
                .raw(block)
                .map_err(|_| Error::BadKey("RSA private operation failed"))?;
            Ok(signature.to_vec())
        }
    }
}

/// The private-key operations by the `rsa` crate, where aws-lc does not build (WebAssembly):
/// blinded with a fresh random factor each time, signatures checked against the public key,
/// but not constant time (RUSTSEC-2023-0071, the Marvin attack on its decryption). A browser
/// client decrypts one OAEP ciphertext per TSK, and only after the service's signature over it
/// verified, so an attacker cannot feed it ciphertexts to time; the service itself could, but it
/// already holds everything the session key protects.
#[cfg(not(feature = "aws-lc"))]
mod backend {
    use rand_core::OsRng;
    use rsa::{BigUint, Oaep, RsaPrivateKey};
    use sha1::Sha1;
    use zeroize::Zeroizing;

    use crate::error::{Error, Result};

    #[derive(Clone)]
    pub(super) struct Backend;

    pub(super) fn generate(bits: usize) -> Result<RsaPrivateKey> {
        RsaPrivateKey::new(&mut OsRng, bits).map_err(|_| Error::Random)
    }

    impl Backend {
        pub(super) fn new(_key: &RsaPrivateKey) -> Result<Backend> {
            Ok(Backend)
        }

        pub(super) fn decrypt_oaep(
            &self,
            key: &RsaPrivateKey,
            ciphertext: &[u8],
        ) -> Result<Zeroizing<Vec<u8>>> {
            key.decrypt_blinded(&mut OsRng, Oaep::new::<Sha1>(), ciphertext)
                .map(Zeroizing::new)
                .map_err(|_| Error::Oaep("decryption failed"))
        }

        pub(super) fn raw(&self, key: &RsaPrivateKey, block: &[u8]) -> Result<Vec<u8>> {
            use rsa::traits::PublicKeyParts;
            let c = BigUint::from_bytes_be(block);
            let m = rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut OsRng), &c)
                .map_err(|_| Error::BadKey("RSA private operation failed"))?;
            let bytes = m.to_bytes_be();
            let mut out = vec![0u8; key.size() - bytes.len()];
            out.extend_from_slice(&bytes);
            Ok(out)
        }
    }
}

/// Zeroes the binaries of a list that held key material.
fn wipe(v: Value) {
    if let Value::List(items) = v {
        for item in items {
            if let Value::Bin(mut b) = item {
                zeroize::Zeroize::zeroize(&mut b);
            }
        }
    }
}

/// MGF1 with SHA-1, XORed into `out`.
fn mgf1_sha1_xor(seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(20).enumerate() {
        let mut h = Sha1::new();
        h.update(seed);
        h.update((counter as u32).to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(h.finalize()) {
            *o ^= m;
        }
    }
}

/// The top bits of the first byte that lie outside `em_bits`.
fn top_mask(em_len: usize, em_bits: usize) -> u8 {
    0xFF >> (8 * em_len - em_bits)
}

/// EMSA-PSS encoding (RFC 8017 §9.1.1) with hash `D`, MGF1-SHA-1 and the maximum salt:
/// `em_len − hLen − 2` bytes.
fn emsa_pss_encode<D: Digest>(m_hash: &[u8], em_bits: usize) -> Result<Vec<u8>> {
    let hash_len = <D as Digest>::output_size();
    let em_len = em_bits.div_ceil(8);
    let salt_len = em_len - hash_len - 2;
    let mut salt = Zeroizing::new(vec![0u8; salt_len]);
    OsRng.try_fill_bytes(&mut salt).map_err(|_| Error::Random)?;
    let h = {
        let mut d = D::new();
        d.update([0u8; 8]);
        d.update(m_hash);
        d.update(&*salt);
        d.finalize()
    };
    // DB = PS (empty with the maximum salt) ‖ 0x01 ‖ salt
    let db_len = em_len - hash_len - 1;
    let mut em = Vec::with_capacity(em_len);
    em.push(0x01);
    em.extend_from_slice(&salt);
    debug_assert_eq!(em.len(), db_len);
    mgf1_sha1_xor(&h, &mut em);
    em[0] &= top_mask(em_len, em_bits);
    em.extend_from_slice(&h);
    em.push(0xBC);
    Ok(em)
}

/// EMSA-PSS verification with hash `D`, MGF1-SHA-1 and the maximum salt (RFC 8017 §9.1.2).
fn emsa_pss_verify<D: Digest>(m_hash: &[u8], em: &[u8], em_bits: usize) -> bool {
    let hash_len = <D as Digest>::output_size();
    let em_len = em.len();
    if em_len < hash_len + 2 || em[em_len - 1] != 0xBC {
        return false;
    }
    let db_len = em_len - hash_len - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let h = &rest[..hash_len];
    if masked_db[0] & !top_mask(em_len, em_bits) != 0 {
        return false;
    }
    let mut db = masked_db.to_vec();
    mgf1_sha1_xor(h, &mut db);
    db[0] &= top_mask(em_len, em_bits);
    // Maximum salt: no zero padding, the 0x01 separator first.
    if db[0] != 0x01 {
        return false;
    }
    let salt = &db[1..];
    let mut d = D::new();
    d.update([0u8; 8]);
    d.update(m_hash);
    d.update(salt);
    d.finalize()[..] == *h
}
