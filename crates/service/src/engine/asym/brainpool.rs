//! brainpoolP256r1 (RFC 5639) keys: ECDH, and ECDSA (randomized, and deterministic as RFC 6979
//! with the request's hash), on RustCrypto `bp256` and `ecdsa` (aws-lc-rs has no Brainpool
//! curves).

use bp256::r1::ecdsa::Signature;
use bp256::r1::{BrainpoolP256r1, NonZeroScalar, SecretKey};
use ecdsa_bp::hazmat::{sign_prehashed, verify_prehashed};
use elliptic_curve::PublicKey;
use parsec_psa::{AsymmetricSignature, Hash, Secret};
use parsec_wire::Status;
use zeroize::Zeroizing;

use super::ecc_ops::{bits2int, rfc6979_k};
use super::{Inner, BAD_SIGNATURE, GENERIC, INVALID};

/// The group order n (RFC 5639 §3.4), big-endian.
const ORDER: [u8; 32] = [
    0xA9, 0xFB, 0x57, 0xDB, 0xA1, 0xEE, 0xA9, 0xBC, 0x3E, 0x66, 0x0A, 0x90, 0x9D, 0x83, 0x8D, 0x71,
    0x8C, 0x39, 0x7A, 0xA3, 0xB5, 0x61, 0xA6, 0xF7, 0x90, 0x1E, 0x0E, 0x82, 0x97, 0x48, 0x56, 0xA7,
];

/// A key pair: the scalar, and the public point (uncompressed) computed once.
pub(super) struct Pair {
    secret: SecretKey,
    pub(super) public: Vec<u8>,
}

/// A new key pair's scalar, uniformly below the group order.
pub(super) fn generate() -> Result<Secret, Status> {
    loop {
        let mut scalar = zeroize::Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut scalar[..]).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
        // Rejection sampling: out-of-range and zero scalars are refused by from_slice.
        if SecretKey::from_slice(&scalar[..]).is_ok() {
            return Ok(Secret::from(&scalar[..]));
        }
    }
}

/// A key pair from its 32-byte big-endian scalar (0 < scalar < n).
pub(super) fn pair(data: &[u8]) -> Result<(Secret, Inner), Status> {
    if data.len() != 32 {
        return Err(INVALID);
    }
    let secret = SecretKey::from_slice(data).map_err(|_| INVALID)?;
    let public = secret.public_key().to_sec1_bytes().to_vec();
    Ok((
        Secret::from(data),
        Inner::BrainpoolPair(Box::new(Pair { secret, public })),
    ))
}

fn parse_point(data: &[u8]) -> Result<PublicKey<BrainpoolP256r1>, Status> {
    // PSA's format is the uncompressed point only.
    if data.len() != 65 || data[0] != 0x04 {
        return Err(INVALID);
    }
    PublicKey::<BrainpoolP256r1>::from_sec1_bytes(data).map_err(|_| INVALID)
}

/// A public key from its uncompressed point (checked to be on the curve).
pub(super) fn public(data: &[u8]) -> Result<(Secret, Inner), Status> {
    parse_point(data)?;
    Ok((Secret::from(data), Inner::BrainpoolPublic))
}

fn scalar(bytes: &[u8]) -> Option<NonZeroScalar> {
    NonZeroScalar::try_from(bytes).ok()
}

/// ECDSA of `hash` (a `hash_alg` hash; any bytes for the "any" scheme), as `r || s`.
pub(super) fn sign(
    pair: &Pair,
    d: &[u8],
    alg: AsymmetricSignature,
    hash_alg: Option<Hash>,
    hash: &[u8],
) -> Result<Vec<u8>, Status> {
    if hash.is_empty() || hash.len() > super::MAX_HASH_LEN {
        return Err(INVALID);
    }
    let z = bits2int(hash, 256);
    let d_scalar = Zeroizing::new(pair.secret.to_nonzero_scalar());
    loop {
        let k = match (alg, hash_alg) {
            (AsymmetricSignature::DeterministicEcdsa { .. }, Some(h)) => {
                with_digest!(h, D => rfc6979_k::<D>(d, &ORDER, 256, hash))?
            }
            (AsymmetricSignature::Ecdsa { .. } | AsymmetricSignature::EcdsaAny, _) => {
                let mut k = Zeroizing::new(vec![0u8; 32]);
                aws_lc_rs::rand::fill(&mut k[..])
                    .map_err(|_| Status::PsaErrorInsufficientEntropy)?;
                k
            }
            _ => return Err(INVALID),
        };
        // A random k out of range is drawn again; RFC 6979 gives one in range.
        let Some(k) = scalar(&k).map(Zeroizing::new) else {
            continue;
        };
        match sign_prehashed::<BrainpoolP256r1>(&d_scalar, &k, &z) {
            Ok((signature, _)) => return Ok(signature.to_bytes().to_vec()),
            // r or s zero: negligible; the deterministic k would repeat, so give up then.
            Err(_) if matches!(alg, AsymmetricSignature::DeterministicEcdsa { .. }) => {
                return Err(GENERIC)
            }
            Err(_) => continue,
        }
    }
}

/// Verifies an ECDSA signature (`r || s`) of `hash` with the uncompressed point `point`.
pub(super) fn verify(point: &[u8], hash: &[u8], signature: &[u8]) -> Result<(), Status> {
    if hash.is_empty() || hash.len() > super::MAX_HASH_LEN {
        return Err(INVALID);
    }
    let public = parse_point(point)?;
    if signature.len() != 64 {
        return Err(BAD_SIGNATURE);
    }
    let signature = Signature::from_slice(signature).map_err(|_| BAD_SIGNATURE)?;
    verify_prehashed::<BrainpoolP256r1>(&public.to_projective(), &bits2int(hash, 256), &signature)
        .map_err(|_| BAD_SIGNATURE)
}

/// ECDH: the x-coordinate of the shared point.
pub(super) fn ecdh(pair: &Pair, peer: &[u8]) -> Result<Secret, Status> {
    let peer = parse_point(peer)?;
    let shared =
        elliptic_curve::ecdh::diffie_hellman(pair.secret.to_nonzero_scalar(), peer.as_affine());
    let bytes = shared.raw_secret_bytes();
    if bytes.len() != 32 {
        return Err(GENERIC);
    }
    Ok(Secret::from(&bytes[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_and_bad_points_are_refused() {
        let a = pair(generate().unwrap().expose()).unwrap();
        let b = pair(generate().unwrap().expose()).unwrap();
        let (Inner::BrainpoolPair(a), Inner::BrainpoolPair(b)) = (a.1, b.1) else {
            panic!("not brainpool pairs");
        };
        let ab = ecdh(&a, &b.public).unwrap();
        let ba = ecdh(&b, &a.public).unwrap();
        assert_eq!(ab.expose(), ba.expose());
        let mut off_curve = a.public.clone();
        off_curve[64] ^= 1;
        assert!(matches!(ecdh(&a, &off_curve), Err(INVALID)));
        assert!(matches!(pair(&[0u8; 32]), Err(INVALID)));
        assert!(matches!(pair(&[0xffu8; 32]), Err(INVALID)));
        assert!(matches!(public(&a.public[1..]), Err(INVALID)));
    }

    fn sha256(data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
            .as_ref()
            .to_vec()
    }

    #[test]
    fn ecdsa_signs_and_verifies_randomized_and_deterministic() {
        let secret = generate().unwrap();
        let (_, Inner::BrainpoolPair(pair)) = pair(secret.expose()).unwrap() else {
            panic!("not a brainpool pair");
        };
        let hash = sha256(b"message");
        let random = AsymmetricSignature::Ecdsa {
            hash_alg: parsec_psa::SignHash::Specific(Hash::Sha256),
        };
        let deterministic = AsymmetricSignature::DeterministicEcdsa {
            hash_alg: parsec_psa::SignHash::Specific(Hash::Sha256),
        };
        let d = secret.expose();
        let r1 = sign(&pair, d, random, Some(Hash::Sha256), &hash).unwrap();
        let r2 = sign(&pair, d, random, Some(Hash::Sha256), &hash).unwrap();
        assert_ne!(r1, r2, "a fresh k each time");
        let d1 = sign(&pair, d, deterministic, Some(Hash::Sha256), &hash).unwrap();
        let d2 = sign(&pair, d, deterministic, Some(Hash::Sha256), &hash).unwrap();
        assert_eq!(d1, d2, "RFC 6979: the same k for the same key and hash");
        for signature in [&r1, &d1] {
            assert_eq!(signature.len(), 64);
            verify(&pair.public, &hash, signature).unwrap();
            let mut bad = signature.clone();
            bad[10] ^= 1;
            assert!(matches!(
                verify(&pair.public, &hash, &bad),
                Err(BAD_SIGNATURE)
            ));
            let other = sha256(b"other message");
            assert!(matches!(
                verify(&pair.public, &other, signature),
                Err(BAD_SIGNATURE)
            ));
        }
        assert!(matches!(
            verify(&pair.public, &hash, &r1[..63]),
            Err(BAD_SIGNATURE)
        ));
        assert!(matches!(verify(&pair.public, &[], &r1), Err(INVALID)));
    }

    /// OpenSSL, an independent implementation, verifies our signatures; and ours verifies one
    /// OpenSSL made with our key.
    #[test]
    fn openssl_agrees_with_our_ecdsa() {
        use std::process::Command;
        let secret = generate().unwrap();
        let (_, Inner::BrainpoolPair(pair)) = pair(secret.expose()).unwrap() else {
            panic!("not a brainpool pair");
        };
        let dir = tempfile::tempdir().unwrap();
        // SEC 1 ECPrivateKey with the brainpoolP256r1 OID and the public point.
        let oid = [
            0x06, 0x09, 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
        ];
        let mut body = vec![0x02, 0x01, 0x01, 0x04, 0x20];
        body.extend_from_slice(secret.expose());
        body.extend_from_slice(&[0xA0, oid.len() as u8]);
        body.extend_from_slice(&oid);
        body.extend_from_slice(&[0xA1, 0x44, 0x03, 0x42, 0x00]);
        body.extend_from_slice(&pair.public);
        let mut der = vec![0x30, 0x81, body.len() as u8];
        der.extend_from_slice(&body);
        let key = dir.path().join("key.der");
        std::fs::write(&key, &der).unwrap();
        let hash = sha256(b"checked by openssl");
        let hash_file = dir.path().join("hash");
        std::fs::write(&hash_file, &hash).unwrap();
        let to_der = |rs: &[u8]| {
            let int = |x: &[u8]| {
                let x: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
                let mut out = vec![0x02];
                if x.first().is_some_and(|&b| b & 0x80 != 0) {
                    out.push(x.len() as u8 + 1);
                    out.push(0);
                } else {
                    out.push(x.len() as u8);
                }
                out.extend_from_slice(&x);
                out
            };
            let mut seq = int(&rs[..32]);
            seq.extend(int(&rs[32..]));
            let mut out = vec![0x30, seq.len() as u8];
            out.extend(seq);
            out
        };
        let alg = AsymmetricSignature::DeterministicEcdsa {
            hash_alg: parsec_psa::SignHash::Specific(Hash::Sha256),
        };
        let ours = sign(&pair, secret.expose(), alg, Some(Hash::Sha256), &hash).unwrap();
        let sig_file = dir.path().join("sig");
        std::fs::write(&sig_file, to_der(&ours)).unwrap();
        let verified = Command::new("openssl")
            .args(["pkeyutl", "-verify", "-keyform", "DER", "-inkey"])
            .arg(&key)
            .arg("-in")
            .arg(&hash_file)
            .arg("-sigfile")
            .arg(&sig_file)
            .output()
            .expect("openssl runs (the test command installs it)");
        assert!(
            verified.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&verified.stderr)
        );
        let theirs = Command::new("openssl")
            .args(["pkeyutl", "-sign", "-keyform", "DER", "-inkey"])
            .arg(&key)
            .arg("-in")
            .arg(&hash_file)
            .output()
            .unwrap();
        assert!(theirs.status.success());
        // DER → r || s.
        let der = theirs.stdout;
        let (mut at, mut rs) = (2, Vec::new());
        for _ in 0..2 {
            let len = der[at + 1] as usize;
            let int = &der[at + 2..at + 2 + len];
            let int = &int[int.len().saturating_sub(32)..];
            rs.extend(std::iter::repeat_n(0u8, 32 - int.len()));
            rs.extend_from_slice(int);
            at += 2 + len;
        }
        verify(&pair.public, &hash, &rs).unwrap();
    }
}
