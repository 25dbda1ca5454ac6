//! X448 (RFC 7748): Curve448 key pairs and key agreement. aws-lc-rs has no Curve448; the
//! ladder below follows RFC 7748 §5 step by step over the field arithmetic that fiat-crypto
//! generates and proves correct (`p448_solinas_64`). Every step runs in constant time: the
//! scalar's bits choose only through `selectznz`, never a branch or an index.

use fiat_crypto::p448_solinas_64::{
    fiat_p448_add, fiat_p448_carry, fiat_p448_carry_mul, fiat_p448_carry_square,
    fiat_p448_from_bytes, fiat_p448_loose_field_element as Loose, fiat_p448_relax,
    fiat_p448_selectznz, fiat_p448_sub, fiat_p448_tight_field_element as Tight, fiat_p448_to_bytes,
};
use parsec_psa::Secret;
use parsec_wire::Status;
use zeroize::{Zeroize, Zeroizing};

use super::{Inner, INVALID};

/// Scalars, u-coordinates and shared secrets are 56 bytes, little-endian.
pub(super) const LEN: usize = 56;

/// A key pair: the public u-coordinate, computed once (the scalar is the key's material).
pub(super) struct Pair {
    pub(super) public: [u8; LEN],
}

fn tight(bytes: &[u8; LEN]) -> Tight {
    let mut out = Tight([0; 8]);
    fiat_p448_from_bytes(&mut out, bytes);
    out
}

fn loose(a: &Tight) -> Loose {
    let mut out = Loose([0; 8]);
    fiat_p448_relax(&mut out, a);
    out
}

fn mul(a: &Tight, b: &Tight) -> Tight {
    let mut out = Tight([0; 8]);
    fiat_p448_carry_mul(&mut out, &loose(a), &loose(b));
    out
}

fn square(a: &Tight) -> Tight {
    let mut out = Tight([0; 8]);
    fiat_p448_carry_square(&mut out, &loose(a));
    out
}

fn add(a: &Tight, b: &Tight) -> Tight {
    let (mut sum, mut out) = (Loose([0; 8]), Tight([0; 8]));
    fiat_p448_add(&mut sum, a, b);
    fiat_p448_carry(&mut out, &sum);
    out
}

fn sub(a: &Tight, b: &Tight) -> Tight {
    let (mut difference, mut out) = (Loose([0; 8]), Tight([0; 8]));
    fiat_p448_sub(&mut difference, a, b);
    fiat_p448_carry(&mut out, &difference);
    out
}

/// Swaps `a` and `b` when `swap` is 1, in constant time.
fn cswap(swap: u8, a: &mut Tight, b: &mut Tight) {
    let (mut new_a, mut new_b) = ([0u64; 8], [0u64; 8]);
    fiat_p448_selectznz(&mut new_a, swap, &a.0, &b.0);
    fiat_p448_selectznz(&mut new_b, swap, &b.0, &a.0);
    a.0 = new_a;
    b.0 = new_b;
}

/// `a^(p-2)` = `1/a` (0 for 0). The exponent is public: its bits may branch.
fn invert(a: &Tight) -> Tight {
    // p - 2 = 2^448 - 2^224 - 3, little-endian.
    let mut exponent = [0xffu8; LEN];
    exponent[0] = 0xfd;
    exponent[28] = 0xfe;
    let mut one = [0u8; LEN];
    one[0] = 1;
    let mut result = tight(&one);
    for bit in (0..448).rev() {
        result = square(&result);
        if (exponent[bit / 8] >> (bit % 8)) & 1 == 1 {
            result = mul(&result, a);
        }
    }
    result
}

/// RFC 7748 §5 `decodeScalar448`: the two low bits cleared, the top bit set.
fn clamp(scalar: &mut [u8; LEN]) {
    scalar[0] &= 0xfc;
    scalar[55] |= 0x80;
}

/// The X448 function: `k` (clamped here) times the point of u-coordinate `u`.
fn x448(k: &[u8; LEN], u: &[u8; LEN]) -> Zeroizing<[u8; LEN]> {
    let mut k = Zeroizing::new(*k);
    clamp(&mut k);
    let mut a24_bytes = [0u8; LEN];
    a24_bytes[..3].copy_from_slice(&39081u32.to_le_bytes()[..3]);
    let a24 = tight(&a24_bytes);
    let mut one = [0u8; LEN];
    one[0] = 1;
    let x1 = tight(u);
    let (mut x2, mut z2, mut x3, mut z3) = (tight(&one), Tight([0; 8]), x1, tight(&one));
    let mut swap = 0u8;
    for t in (0..448).rev() {
        let bit = (k[t / 8] >> (t % 8)) & 1;
        swap ^= bit;
        cswap(swap, &mut x2, &mut x3);
        cswap(swap, &mut z2, &mut z3);
        swap = bit;
        let a = add(&x2, &z2);
        let aa = square(&a);
        let b = sub(&x2, &z2);
        let bb = square(&b);
        let e = sub(&aa, &bb);
        let c = add(&x3, &z3);
        let d = sub(&x3, &z3);
        let da = mul(&d, &a);
        let cb = mul(&c, &b);
        x3 = square(&add(&da, &cb));
        z3 = mul(&x1, &square(&sub(&da, &cb)));
        x2 = mul(&aa, &bb);
        z2 = mul(&e, &add(&aa, &mul(&a24, &e)));
    }
    cswap(swap, &mut x2, &mut x3);
    cswap(swap, &mut z2, &mut z3);
    let mut out = Zeroizing::new([0u8; LEN]);
    fiat_p448_to_bytes(&mut out, &mul(&x2, &invert(&z2)));
    for element in [&mut x2, &mut z2, &mut x3, &mut z3] {
        element.0.zeroize();
    }
    out
}

/// The base point's u-coordinate, 5.
fn base() -> [u8; LEN] {
    let mut u = [0u8; LEN];
    u[0] = 5;
    u
}

/// A new key pair's scalar, clamped as stored.
pub(super) fn generate() -> Result<Secret, Status> {
    let mut scalar = Zeroizing::new([0u8; LEN]);
    aws_lc_rs::rand::fill(&mut scalar[..]).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
    clamp(&mut scalar);
    Ok(Secret::from(&scalar[..]))
}

/// A key pair from its 56-byte scalar; the stored form is clamped, as for X25519.
pub(super) fn pair(data: &[u8]) -> Result<(Secret, Inner), Status> {
    let scalar: &[u8; LEN] = data.try_into().map_err(|_| INVALID)?;
    let mut clamped = Zeroizing::new(*scalar);
    clamp(&mut clamped);
    let public = *x448(&clamped, &base());
    Ok((
        Secret::from(&clamped[..]),
        Inner::X448Pair(Box::new(Pair { public })),
    ))
}

/// A public key: a 56-byte u-coordinate (every value is one, as RFC 7748 takes them).
pub(super) fn public(data: &[u8]) -> Result<(Secret, Inner), Status> {
    if data.len() != LEN {
        return Err(INVALID);
    }
    Ok((Secret::from(data), Inner::X448Public))
}

/// Key agreement with the peer's u-coordinate. An all-zero result (a peer point of small
/// order) is refused, as RFC 7748 §6.2 allows and Mbed TLS does.
pub(super) fn agree(scalar: &[u8], peer: &[u8]) -> Result<Secret, Status> {
    let scalar: &[u8; LEN] = scalar.try_into().map_err(|_| INVALID)?;
    let peer: &[u8; LEN] = peer.try_into().map_err(|_| INVALID)?;
    let shared = x448(scalar, peer);
    if shared.iter().all(|&b| b == 0) {
        return Err(INVALID);
    }
    Ok(Secret::from(&shared[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex: &str) -> [u8; LEN] {
        let v: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// RFC 7748 §5.2, the first X448 vector.
    #[test]
    fn rfc7748_function_vector() {
        let k = bytes("3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3");
        let u = bytes("06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086");
        let out = bytes("ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaadeb445fc66a01b0779d98223961111e21766282f73dd96b6f");
        assert_eq!(*x448(&k, &u), out);
    }

    /// RFC 7748 §5.2, the iterated vector after 1 and 1000 iterations.
    #[test]
    fn rfc7748_iterated_vectors() {
        let mut k = base();
        let mut u = base();
        for i in 1..=1000 {
            let out = *x448(&k, &u);
            u = k;
            k = out;
            if i == 1 {
                assert_eq!(k, bytes("3f482c8a9f19b01e6c46ee9711d9dc14fd4bf67af30765c2ae2b846a4d23a8cd0db897086239492caf350b51f833868b9bc2b3bca9cf4113"));
            }
        }
        assert_eq!(k, bytes("aa3b4749d55b9daf1e5b00288826c467274ce3ebbdd5c17b975e09d4af6c67cf10d087202db88286e2b79fceea3ec353ef54faa26e219f38"));
    }

    /// RFC 7748 §6.2: Alice's and Bob's keys and their shared secret.
    #[test]
    fn rfc7748_diffie_hellman() {
        let alice = bytes("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b");
        let bob = bytes("1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d");
        let (_, Inner::X448Pair(a)) = pair(&alice).unwrap() else {
            panic!("not a pair")
        };
        let (_, Inner::X448Pair(b)) = pair(&bob).unwrap() else {
            panic!("not a pair")
        };
        assert_eq!(a.public, bytes("9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0"));
        assert_eq!(b.public, bytes("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609"));
        let shared = bytes("07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d");
        assert_eq!(agree(&alice, &b.public).unwrap().expose(), shared);
        assert_eq!(agree(&bob, &a.public).unwrap().expose(), shared);
    }

    #[test]
    fn small_order_points_and_bad_lengths_are_refused() {
        let k = generate().unwrap();
        // u = 0 and u = 1 are of small order: the output is all zeros.
        let mut one = [0u8; LEN];
        one[0] = 1;
        assert!(matches!(agree(k.expose(), &[0u8; LEN]), Err(INVALID)));
        assert!(matches!(agree(k.expose(), &one), Err(INVALID)));
        assert!(matches!(agree(k.expose(), &one[..55]), Err(INVALID)));
        assert!(matches!(pair(&[1u8; 32]), Err(INVALID)));
        assert!(matches!(public(&[1u8; 57]), Err(INVALID)));
        // Generated scalars are stored clamped.
        assert_eq!(k.expose()[0] & 3, 0);
        assert_eq!(k.expose()[55] & 0x80, 0x80);
    }
}
