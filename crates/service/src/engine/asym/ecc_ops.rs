//! ECDSA (random and deterministic) and ECDH (see the library table in `asym.rs`).

use aws_lc_rs::{agreement, digest};
use ecdsa::elliptic_curve::ff::PrimeField;
use ecdsa::elliptic_curve::point::AffineCoordinates;
use ecdsa::elliptic_curve::{
    CurveArithmetic, FieldBytes, FieldBytesEncoding, NonZeroScalar, PrimeCurve, Scalar,
};
use ecdsa::SignatureSize;
use hmac::{Mac, SimpleHmac};
use parsec_psa::{AsymmetricSignature, Hash, Secret};
use parsec_wire::Status;
use zeroize::Zeroizing;

use super::{Curve, EcPair, EcPub, X25519Pair, BAD_SIGNATURE, GENERIC, INVALID, MAX_HASH_LEN};

/// The hash as aws-lc-rs takes it: `bits2int(hash)` written in the curve's native digest
/// length. Longer hashes keep their leftmost bytes (the order of P-256, P-384 and secp256k1 is a
/// whole number of bytes); shorter ones get leading zeros. Both leave the integer unchanged.
fn ec_digest(curve: Curve, hash: &[u8]) -> Result<digest::Digest, Status> {
    let alg = curve.native_digest();
    let n = alg.output_len();
    if hash.is_empty() || hash.len() > MAX_HASH_LEN {
        return Err(INVALID);
    }
    let mut buf = [0u8; MAX_HASH_LEN];
    if hash.len() >= n {
        buf[..n].copy_from_slice(&hash[..n]);
    } else {
        buf[n - hash.len()..n].copy_from_slice(hash);
    }
    digest::Digest::import_less_safe(&buf[..n], alg).map_err(|_| GENERIC)
}

pub(super) fn sign(
    pair: &EcPair,
    scalar: &[u8],
    alg: AsymmetricSignature,
    hash_alg: Option<Hash>,
    hash: &[u8],
) -> Result<Vec<u8>, Status> {
    let curve = pair.public.curve;
    match (alg, hash_alg) {
        (AsymmetricSignature::Ecdsa { .. } | AsymmetricSignature::EcdsaAny, _) => {
            let digest = ec_digest(curve, hash)?;
            let signature = pair.signer.sign_digest(&digest).map_err(|_| GENERIC)?;
            Ok(signature.as_ref().to_vec())
        }
        (AsymmetricSignature::DeterministicEcdsa { .. }, Some(h)) => match curve {
            Curve::P256 => deterministic_sign::<p256::NistP256>(h, scalar, hash, curve.qbits()),
            Curve::P384 => deterministic_sign::<p384::NistP384>(h, scalar, hash, curve.qbits()),
            Curve::P521 => deterministic_sign::<p521::NistP521>(h, scalar, hash, curve.qbits()),
            Curve::K256 => deterministic_sign::<k256::Secp256k1>(h, scalar, hash, curve.qbits()),
        },
        _ => Err(INVALID),
    }
}

pub(super) fn verify(
    public: &EcPub,
    alg: AsymmetricSignature,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    if !matches!(
        alg,
        AsymmetricSignature::Ecdsa { .. }
            | AsymmetricSignature::EcdsaAny
            | AsymmetricSignature::DeterministicEcdsa { .. }
    ) {
        return Err(INVALID);
    }
    let digest = ec_digest(public.curve, hash)?;
    if signature.len() != 2 * public.curve.len() {
        return Err(BAD_SIGNATURE);
    }
    public
        .verifier
        .verify_digest_sig(&digest, signature)
        .map_err(|_| BAD_SIGNATURE)
}

/// RFC 6979 §2.3.2: the leftmost `qbits` bits of `bits` as an integer, `ceil(qbits/8)` bytes.
pub(super) fn bits2int(bits: &[u8], qbits: usize) -> Vec<u8> {
    let rlen = qbits.div_ceil(8);
    if bits.len() * 8 <= qbits {
        let mut out = vec![0u8; rlen - bits.len()];
        out.extend_from_slice(bits);
        return out;
    }
    let mut out = bits[..rlen].to_vec();
    let shift = rlen * 8 - qbits;
    if shift > 0 {
        for i in (0..rlen).rev() {
            let carry = if i > 0 { out[i - 1] << (8 - shift) } else { 0 };
            out[i] = (out[i] >> shift) | carry;
        }
    }
    out
}

/// Big-endian `a < b` for equal lengths (the loop does not stop early).
fn be_less(a: &[u8], b: &[u8]) -> bool {
    let mut result = std::cmp::Ordering::Equal;
    for (x, y) in a.iter().zip(b) {
        result = result.then(x.cmp(y));
    }
    result == std::cmp::Ordering::Less
}

/// Big-endian `a - b` in place, equal lengths, `a >= b`.
fn be_sub(a: &mut [u8], b: &[u8]) {
    let mut borrow = 0i16;
    for (x, y) in a.iter_mut().zip(b).rev() {
        let d = i16::from(*x) - i16::from(*y) - borrow;
        borrow = i16::from(d < 0);
        *x = (d + 256 * borrow) as u8;
    }
}

/// The nonce k of RFC 6979 §3.2 with HMAC over `D`; `x` and `q` are `ceil(qbits/8)` bytes.
pub(super) fn rfc6979_k<D>(
    x: &[u8],
    q: &[u8],
    qbits: usize,
    h1: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Status>
where
    D: sha2::Digest + sha2::digest::core_api::BlockSizeUser + Clone,
{
    let mac = |key: &[u8], parts: &[&[u8]]| -> Result<Zeroizing<Vec<u8>>, Status> {
        let mut mac = <SimpleHmac<D> as Mac>::new_from_slice(key).map_err(|_| GENERIC)?;
        for part in parts {
            mac.update(part);
        }
        Ok(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
    };
    let mut h1 = bits2int(h1, qbits);
    if !be_less(&h1, q) {
        be_sub(&mut h1, q);
    }
    let hlen = <D as sha2::Digest>::output_size();
    let mut v = Zeroizing::new(vec![1u8; hlen]);
    let mut k = Zeroizing::new(vec![0u8; hlen]);
    k = mac(&k, &[&v, &[0], x, &h1])?;
    v = mac(&k, &[&v])?;
    k = mac(&k, &[&v, &[1], x, &h1])?;
    v = mac(&k, &[&v])?;
    loop {
        let mut t = Zeroizing::new(Vec::with_capacity(qbits / 8 + hlen));
        while t.len() * 8 < qbits {
            v = mac(&k, &[&v])?;
            t.extend_from_slice(&v);
        }
        let candidate = Zeroizing::new(bits2int(&t, qbits));
        if candidate.iter().any(|&b| b != 0) && be_less(&candidate, q) {
            return Ok(candidate);
        }
        k = mac(&k, &[&v, &[0]])?;
        v = mac(&k, &[&v])?;
    }
}

/// Deterministic ECDSA (RFC 6979) of `h1`, a `hash_alg` hash, with the private scalar `d`.
// generic-array 0.14 deprecates `ArrayLength`, which the bounds of `ecdsa` 0.16 still name.
#[allow(deprecated)]
fn deterministic_sign<C>(
    hash_alg: Hash,
    d: &[u8],
    h1: &[u8],
    qbits: usize,
) -> Result<Vec<u8>, Status>
where
    C: PrimeCurve + CurveArithmetic,
    SignatureSize<C>: ecdsa::elliptic_curve::generic_array::ArrayLength<u8>,
{
    let q = <C::Uint as FieldBytesEncoding<C>>::encode_field_bytes(&C::ORDER);
    let k = with_digest!(hash_alg, D => rfc6979_k::<D>(d, &q, qbits, h1))?;
    let field = |bytes: &[u8]| {
        let mut out = FieldBytes::<C>::default();
        out.copy_from_slice(bytes);
        out
    };
    let d =
        Option::<NonZeroScalar<C>>::from(NonZeroScalar::<C>::from_repr(field(d))).ok_or(GENERIC)?;
    let d = Zeroizing::new(*d);
    let k = Option::<Scalar<C>>::from(Scalar::<C>::from_repr(field(&k))).ok_or(GENERIC)?;
    let z = field(&bits2int(h1, qbits));
    let (signature, _) =
        ecdsa::hazmat::sign_prehashed::<C, Scalar<C>>(&d, k, &z).map_err(|_| GENERIC)?;
    Ok(signature.to_bytes().to_vec())
}

/// ECDH on a Weierstrass curve: the x-coordinate of the shared point. The peer key is an
/// uncompressed point.
pub(super) fn ecdh(pair: &EcPair, scalar: &[u8], peer: &[u8]) -> Result<Secret, Status> {
    let curve = pair.public.curve;
    if peer.len() != 1 + 2 * curve.len() || peer[0] != 0x04 {
        return Err(INVALID);
    }
    let Some(alg) = curve.ecdh() else {
        return ecdh_k256(scalar, peer);
    };
    let private = pair
        .ecdh
        .get_or_init(|| agreement::PrivateKey::from_private_key(alg, scalar).ok())
        .as_ref()
        .ok_or(GENERIC)?;
    let peer = agreement::UnparsedPublicKey::new(alg, peer);
    agreement::agree(private, peer, INVALID, |shared| Ok(Secret::from(shared)))
}

/// X25519 (RFC 7748); the peer key is 32 bytes.
pub(super) fn x25519(pair: &X25519Pair, peer: &[u8]) -> Result<Secret, Status> {
    if peer.len() != 32 {
        return Err(INVALID);
    }
    let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
    agreement::agree(&pair.private, peer, INVALID, |shared| {
        Ok(Secret::from(shared))
    })
}

/// aws-lc-rs has no secp256k1 agreement.
fn ecdh_k256(scalar: &[u8], peer: &[u8]) -> Result<Secret, Status> {
    let d = Zeroizing::new(k256::NonZeroScalar::try_from(scalar).map_err(|_| GENERIC)?);
    let peer = k256::PublicKey::from_sec1_bytes(peer).map_err(|_| INVALID)?;
    let shared = (peer.to_projective() * **d).to_affine();
    Ok(Secret::from(shared.x().to_vec()))
}
