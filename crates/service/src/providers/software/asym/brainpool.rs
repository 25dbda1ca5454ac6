//! brainpoolP256r1 (RFC 5639) keys, for ECDH only: RustCrypto `bp256` (aws-lc-rs has no
//! Brainpool curves). Signatures on these keys are not supported.

use bp256::r1::{BrainpoolP256r1, SecretKey};
use elliptic_curve::PublicKey;
use parsec_psa::Secret;
use parsec_wire::Status;

use super::{Inner, GENERIC, INVALID};

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
}
