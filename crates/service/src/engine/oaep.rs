//! RSAES-OAEP decoding (RFC 8017 §7.1.2 step 3), for devices that decrypt OAEP only with some
//! hashes or without labels (SoftHSM2: SHA-1, no label; a TPM ends labels with a zero byte).
//! The device does the raw RSA operation (`CKM_RSA_X_509`, `TPM2_RSA_Decrypt` with the null
//! scheme) and this removes the padding.
//!
//! The checks run in time independent of the decrypted bytes, and every failure is the same
//! error, so the padding gives no oracle (Manger's attack). Only the message length, which the
//! caller receives anyway, is visible in timing.

use parsec_psa::{Hash, Secret};
use parsec_wire::Status;
use zeroize::Zeroizing;

/// The hashes this module knows.
pub fn supported(hash: Hash) -> bool {
    matches!(
        hash,
        Hash::Sha1
            | Hash::Sha224
            | Hash::Sha256
            | Hash::Sha384
            | Hash::Sha512
            | Hash::Sha512_224
            | Hash::Sha512_256
            | Hash::Sha3_224
            | Hash::Sha3_256
            | Hash::Sha3_384
            | Hash::Sha3_512
    )
}

fn digest(hash: Hash, parts: &[&[u8]]) -> Vec<u8> {
    fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    match hash {
        Hash::Sha1 => run::<sha1::Sha1>(parts),
        Hash::Sha224 => run::<sha2::Sha224>(parts),
        Hash::Sha384 => run::<sha2::Sha384>(parts),
        Hash::Sha512 => run::<sha2::Sha512>(parts),
        Hash::Sha512_224 => run::<sha2::Sha512_224>(parts),
        Hash::Sha512_256 => run::<sha2::Sha512_256>(parts),
        Hash::Sha3_224 => run::<sha3::Sha3_224>(parts),
        Hash::Sha3_256 => run::<sha3::Sha3_256>(parts),
        Hash::Sha3_384 => run::<sha3::Sha3_384>(parts),
        Hash::Sha3_512 => run::<sha3::Sha3_512>(parts),
        _ => run::<sha2::Sha256>(parts),
    }
}

/// XORs MGF1(seed) into `out`.
fn mgf1_xor(hash: Hash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(hash.output_len()).enumerate() {
        let c = u32::try_from(counter).unwrap_or(u32::MAX).to_be_bytes();
        let mask = Zeroizing::new(digest(hash, &[seed, &c]));
        for (o, m) in chunk.iter_mut().zip(mask.iter()) {
            *o ^= m;
        }
    }
}

/// 0xFF if `a == b`, else 0, without a branch.
fn eq_mask(a: u8, b: u8) -> u8 {
    let x = u16::from(a ^ b);
    (x.wrapping_sub(1) >> 8) as u8
}

/// Removes OAEP padding from `em`, the raw RSA output (`k` bytes, `k` = the modulus length).
pub fn decode(hash: Hash, label: &[u8], em: &[u8], k: usize) -> Result<Secret, Status> {
    let h = hash.output_len();
    if !supported(hash) || em.len() != k || k < 2 * h + 2 {
        return Err(Status::PsaErrorInvalidPadding);
    }
    let mut em = Zeroizing::new(em.to_vec());
    let (y, rest) = em.split_at_mut(1);
    let (seed, db) = rest.split_at_mut(h);
    mgf1_xor(hash, db, seed);
    mgf1_xor(hash, seed, db);
    let label_hash = digest(hash, &[label]);
    let mut good = eq_mask(y[0], 0);
    for (a, b) in db[..h].iter().zip(&label_hash) {
        good &= eq_mask(*a, *b);
    }
    // After the label hash: zeros, one 0x01, the message. Find the 0x01 in constant time.
    let mut looking = 0xFFu8;
    let mut start = 0usize;
    for (i, &byte) in db[h..].iter().enumerate() {
        let one = eq_mask(byte, 1);
        let zero = eq_mask(byte, 0);
        // All ones at the first 0x01, else zero.
        let mask = 0usize.wrapping_sub(usize::from(looking & one & 1));
        start = (start & !mask) | ((i + 1) & mask);
        good &= !(looking & !one & !zero);
        looking &= !one;
    }
    good &= !looking;
    if good != 0xFF {
        return Err(Status::PsaErrorInvalidPadding);
    }
    Ok(Secret::new(db[h + start..].to_vec()))
}

/// OAEP encoding with a given seed (`hash.output_len()` bytes): the inverse of [`decode`], for
/// tests and the fuzz target (encryption itself uses the public key in software).
pub fn encode(hash: Hash, label: &[u8], message: &[u8], seed: &[u8], k: usize) -> Option<Vec<u8>> {
    let h = hash.output_len();
    if !supported(hash) || seed.len() != h || k < 2 * h + 2 || message.len() > k - 2 * h - 2 {
        return None;
    }
    let mut em = vec![0u8; k];
    let (_, rest) = em.split_at_mut(1);
    let (masked_seed, db) = rest.split_at_mut(h);
    db[..h].copy_from_slice(&digest(hash, &[label]));
    let one = db.len() - message.len() - 1;
    db[one] = 1;
    db[one + 1..].copy_from_slice(message);
    masked_seed.copy_from_slice(seed);
    mgf1_xor(hash, masked_seed, db);
    mgf1_xor(hash, db, masked_seed);
    Some(em)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    use rsa::{BigUint, Oaep, RsaPrivateKey, RsaPublicKey};

    /// The raw RSA decryption a token would do.
    fn raw_decrypt(key: &RsaPrivateKey, ciphertext: &[u8]) -> Vec<u8> {
        let c = BigUint::from_bytes_be(ciphertext);
        let m = c.modpow(key.d(), key.n());
        let bytes = m.to_bytes_be();
        let mut out = vec![0u8; key.size() - bytes.len()];
        out.extend_from_slice(&bytes);
        out
    }

    #[test]
    fn decodes_what_rsa_encrypts_and_rejects_tampering() {
        let mut rng = crate::engine::asym::LcRng;
        let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let public = RsaPublicKey::from(&key);
        let k = key.size();
        for (hash, label, message) in [
            (Hash::Sha256, "", &b"hello"[..]),
            (Hash::Sha1, "label", &b""[..]),
            (Hash::Sha384, "", &[1u8; 20][..]),
        ] {
            let padding = match hash {
                Hash::Sha1 => Oaep::new_with_label::<sha1::Sha1, _>(label),
                Hash::Sha384 => Oaep::new_with_label::<sha2::Sha384, _>(label),
                _ => Oaep::new_with_label::<sha2::Sha256, _>(label),
            };
            let ciphertext = public.encrypt(&mut rng, padding, message).unwrap();
            let em = raw_decrypt(&key, &ciphertext);
            let plain = decode(hash, label.as_bytes(), &em, k).unwrap();
            assert_eq!(plain.expose(), message);
            // Another label, another hash, a flipped byte anywhere: the same single error.
            assert_eq!(
                decode(hash, b"other", &em, k).unwrap_err(),
                Status::PsaErrorInvalidPadding
            );
            for i in [0, 1, k / 2, k - 1] {
                let mut bad = em.clone();
                bad[i] ^= 1;
                assert_eq!(
                    decode(hash, label.as_bytes(), &bad, k).unwrap_err(),
                    Status::PsaErrorInvalidPadding
                );
            }
        }
        assert!(decode(Hash::Sha256, b"", &[0u8; 10], 10).is_err());
        // Our encoder agrees with the rsa crate's decoder side: what it encodes decodes.
        let em = encode(Hash::Sha256, b"l", b"msg", &[9u8; 32], k).unwrap();
        assert_eq!(decode(Hash::Sha256, b"l", &em, k).unwrap().expose(), b"msg");
    }
}
