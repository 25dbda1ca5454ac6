//! Asymmetric keys in and out: which types and sizes are supported, generation, parsing and
//! checking of imported or stored material (RSA PKCS#1 and PKCS#8 DER, ECC scalars and points,
//! Montgomery u-coordinates), and export.

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{agreement, rsa as lc_rsa, signature as lc_sig};
use parsec_psa::{EccFamily, KeyAttributes, KeyType, RawKeyAgreement, Secret};
use parsec_wire::Status;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::BigUint;
use zeroize::Zeroizing;

use super::{
    brainpool, x448, AsymKey, Curve, EcPair, EcPub, Inner, LcRng, RsaPair, RsaPub, X25519Pair,
    GENERIC, INVALID, RSA_BITS, RSA_LC_MIN_BITS, UNSUPPORTED,
};

enum Ecc {
    Weierstrass(Curve),
    X25519,
    X448,
    Brainpool256,
}

fn ecc_kind(family: EccFamily, bits: u32) -> Result<Ecc, Status> {
    Ok(match (family, bits) {
        (EccFamily::SecpR1, 256) => Ecc::Weierstrass(Curve::P256),
        (EccFamily::SecpR1, 384) => Ecc::Weierstrass(Curve::P384),
        (EccFamily::SecpR1, 521) => Ecc::Weierstrass(Curve::P521),
        (EccFamily::SecpK1, 256) => Ecc::Weierstrass(Curve::K256),
        (EccFamily::Montgomery, 255) => Ecc::X25519,
        (EccFamily::Montgomery, 448) => Ecc::X448,
        (EccFamily::BrainpoolPR1, 256) => Ecc::Brainpool256,
        _ => return Err(UNSUPPORTED),
    })
}

/// The key size implied by the length of ECC key data (import with `bits` = 0).
fn ecc_bits_from_len(family: EccFamily, key_pair: bool, len: usize) -> Result<u32, Status> {
    if family == EccFamily::Montgomery {
        return match len {
            32 => Ok(255),
            56 => Ok(448),
            _ => Err(INVALID),
        };
    }
    if !matches!(
        family,
        EccFamily::SecpR1 | EccFamily::SecpK1 | EccFamily::BrainpoolPR1
    ) {
        return Err(UNSUPPORTED);
    }
    let field_len = match key_pair {
        true => len,
        false if len % 2 == 1 => len / 2,
        false => return Err(INVALID),
    };
    match (family, field_len) {
        (EccFamily::SecpR1 | EccFamily::SecpK1 | EccFamily::BrainpoolPR1, 32) => Ok(256),
        (EccFamily::SecpR1, 48) => Ok(384),
        (EccFamily::SecpR1, 66) => Ok(521),
        (_, 24 | 28) => Err(UNSUPPORTED),
        _ => Err(INVALID),
    }
}

fn rsa_bits_ok(bits: u32) -> bool {
    RSA_BITS.contains(&bits) && bits % 8 == 0
}

/// Whether keys of this type and size can be used with `alg` here: Brainpool keys serve ECDH
/// and ECDSA.
pub fn supports_alg(key_type: KeyType, alg: parsec_psa::Algorithm) -> bool {
    use parsec_psa::{Algorithm, KeyAgreement};
    match key_type {
        KeyType::EccKeyPair {
            curve_family: EccFamily::BrainpoolPR1,
        }
        | KeyType::EccPublicKey {
            curve_family: EccFamily::BrainpoolPR1,
        } => match alg {
            Algorithm::None | Algorithm::KeyAgreement(KeyAgreement::Raw(RawKeyAgreement::Ecdh)) => {
                true
            }
            Algorithm::AsymmetricSignature(signature) => signature.is_ecc(),
            _ => false,
        },
        _ => true,
    }
}

/// Whether keys of this type and size can be used here (`bits` = 0: some size can).
pub fn supports_type(key_type: KeyType, bits: u32) -> bool {
    match key_type {
        KeyType::RsaKeyPair | KeyType::RsaPublicKey => bits == 0 || rsa_bits_ok(bits),
        KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
            if bits == 0 {
                matches!(
                    curve_family,
                    EccFamily::SecpR1
                        | EccFamily::SecpK1
                        | EccFamily::Montgomery
                        | EccFamily::BrainpoolPR1
                )
            } else {
                ecc_kind(curve_family, bits).is_ok()
            }
        }
        _ => false,
    }
}

/// Generates a key pair; returns it in PSA export format.
pub fn generate(attrs: &KeyAttributes) -> Result<Secret, Status> {
    let bits = attrs.bits;
    match attrs.key_type {
        KeyType::RsaKeyPair if bits == 0 => Err(INVALID),
        KeyType::RsaKeyPair if !rsa_bits_ok(bits) => Err(UNSUPPORTED),
        KeyType::RsaKeyPair => {
            let size = match bits {
                2048 => Some(lc_rsa::KeySize::Rsa2048),
                3072 => Some(lc_rsa::KeySize::Rsa3072),
                4096 => Some(lc_rsa::KeySize::Rsa4096),
                _ => None,
            };
            let key = match size {
                Some(size) => {
                    let pair = lc_rsa::KeyPair::generate(size).map_err(|_| GENERIC)?;
                    let pkcs8 = pair.as_der().map_err(|_| GENERIC)?;
                    rsa::pkcs8::DecodePrivateKey::from_pkcs8_der(pkcs8.as_ref())
                        .map_err(|_| GENERIC)?
                }
                None => rsa::RsaPrivateKey::new(&mut LcRng, bits as usize).map_err(|_| GENERIC)?,
            };
            rsa_private_der(&key)
        }
        KeyType::EccKeyPair { .. } if bits == 0 => Err(INVALID),
        KeyType::EccKeyPair { curve_family } => match ecc_kind(curve_family, bits)? {
            Ecc::Weierstrass(curve) => {
                let pair = lc_sig::EcdsaKeyPair::generate(curve.signing()).map_err(|_| GENERIC)?;
                let scalar = pair.private_key().as_be_bytes().map_err(|_| GENERIC)?;
                let scalar = scalar.as_ref();
                if scalar.len() > curve.len() {
                    return Err(GENERIC);
                }
                let mut out = vec![0u8; curve.len()];
                out[curve.len() - scalar.len()..].copy_from_slice(scalar);
                Ok(Secret::new(out))
            }
            Ecc::X25519 => {
                let mut out = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut out).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
                clamp_x25519(&mut out);
                Ok(Secret::new(out))
            }
            Ecc::X448 => x448::generate(),
            Ecc::Brainpool256 => brainpool::generate(),
        },
        KeyType::RsaPublicKey | KeyType::EccPublicKey { .. } => Err(INVALID),
        _ => Err(UNSUPPORTED),
    }
}

/// Checks and imports key data; returns the size in bits and the canonical PSA export form.
pub fn import(attrs: &KeyAttributes, data: &[u8]) -> Result<(u32, Secret), Status> {
    let key = parse(attrs.key_type, attrs.bits, data)?;
    Ok((key.bits, key.material))
}

/// Parses stored material (as returned by [`generate`] or [`import`]). Material that no longer
/// parses gives `PsaErrorDataCorrupt`.
pub fn load(attrs: &KeyAttributes, material: &[u8]) -> Result<AsymKey, Status> {
    parse(attrs.key_type, attrs.bits, material).map_err(|status| match status {
        INVALID => Status::PsaErrorDataCorrupt,
        other => other,
    })
}

/// The public key in PSA export format.
pub fn export_public(key: &AsymKey) -> Result<Vec<u8>, Status> {
    Ok(match &key.inner {
        Inner::RsaPair(pair) => pair.public.der.clone(),
        Inner::RsaPublic(public) => public.der.clone(),
        Inner::EcPair(pair) => pair.public.point.clone(),
        Inner::EcPublic(public) => public.point.clone(),
        Inner::X25519Pair(pair) => pair.public.to_vec(),
        Inner::BrainpoolPair(pair) => pair.public.clone(),
        Inner::X448Pair(pair) => pair.public.to_vec(),
        Inner::X25519Public | Inner::X448Public | Inner::BrainpoolPublic => {
            key.material.expose().to_vec()
        }
    })
}

/// The key (pair or public) in PSA export format.
pub fn export(key: &AsymKey) -> Result<Secret, Status> {
    Ok(key.material.clone())
}

fn parse(key_type: KeyType, bits: u32, data: &[u8]) -> Result<AsymKey, Status> {
    let check_bits = |actual: u32| match bits {
        0 => Ok(actual),
        b if b == actual => Ok(actual),
        _ => Err(INVALID),
    };
    let (bits, material, inner) = match key_type {
        KeyType::RsaKeyPair => {
            let rc = rsa_private_from_der(data, bits)?;
            let bits = check_bits(rsa_modulus_bits(rc.n()))?;
            let material = rsa_private_der(&rc)?;
            let public = rsa_public(rc.to_public_key())?;
            let lc = if bits >= RSA_LC_MIN_BITS {
                let pkcs8 = rc.to_pkcs8_der().map_err(|_| INVALID)?;
                let signer = lc_rsa::KeyPair::from_der(material.expose()).map_err(|_| INVALID)?;
                let decrypter = lc_rsa::PrivateDecryptingKey::from_pkcs8(pkcs8.as_bytes())
                    .map_err(|_| INVALID)?;
                Some((signer, decrypter))
            } else {
                None
            };
            let raw =
                rsa_raw::PrivateKey::from_pkcs1_der(material.expose()).map_err(|_| INVALID)?;
            let pair = RsaPair { public, lc, raw };
            (bits, material, Inner::RsaPair(Box::new(pair)))
        }
        KeyType::RsaPublicKey => {
            let rc = rsa_public_from_der(data, bits)?;
            let bits = check_bits(rsa_modulus_bits(rc.n()))?;
            let public = rsa_public(rc)?;
            let material = Secret::from(public.der.as_slice());
            (bits, material, Inner::RsaPublic(Box::new(public)))
        }
        KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
            let key_pair = key_type.is_key_pair();
            let bits = match bits {
                0 => ecc_bits_from_len(curve_family, key_pair, data.len())?,
                // Data of the wrong length for the declared size is the caller's error
                // (InvalidArgument), whether or not that size is supported here.
                b if data.len() != ecc_data_len(curve_family, key_pair, b) => return Err(INVALID),
                b => b,
            };
            let (material, inner) = match (ecc_kind(curve_family, bits)?, key_pair) {
                (Ecc::Weierstrass(curve), true) => (Secret::from(data), ec_pair(curve, data)?),
                (Ecc::Weierstrass(curve), false) => {
                    let public = ec_public(curve, data)?;
                    (Secret::from(data), Inner::EcPublic(Box::new(public)))
                }
                (Ecc::X25519, _) if data.len() != 32 => return Err(INVALID),
                (Ecc::X25519, true) => x25519_pair(data)?,
                (Ecc::X25519, false) => (Secret::from(data), Inner::X25519Public),
                (Ecc::X448, true) => x448::pair(data)?,
                (Ecc::X448, false) => x448::public(data)?,
                (Ecc::Brainpool256, true) => brainpool::pair(data)?,
                (Ecc::Brainpool256, false) => brainpool::public(data)?,
            };
            (bits, material, inner)
        }
        _ => return Err(UNSUPPORTED),
    };
    Ok(AsymKey {
        key_type,
        bits,
        material,
        inner,
    })
}

/// An X25519 key pair from its 32 bytes; the stored form is clamped.
fn x25519_pair(data: &[u8]) -> Result<(Secret, Inner), Status> {
    let mut clamped = Zeroizing::new(data.to_vec());
    clamp_x25519(&mut clamped);
    let private = agreement::PrivateKey::from_private_key(&agreement::X25519, &clamped)
        .map_err(|_| INVALID)?;
    let public = private.compute_public_key().map_err(|_| INVALID)?;
    let public = public.as_ref().try_into().map_err(|_| GENERIC)?;
    let pair = X25519Pair { private, public };
    Ok((
        Secret::from(clamped.as_slice()),
        Inner::X25519Pair(Box::new(pair)),
    ))
}

/// RFC 7748 §5 clamping, as Mbed TLS applies on import and generation.
pub(super) fn clamp_x25519(scalar: &mut [u8]) {
    scalar[0] &= 0xf8;
    scalar[31] &= 0x7f;
    scalar[31] |= 0x40;
}

fn ec_pair(curve: Curve, scalar: &[u8]) -> Result<Inner, Status> {
    if scalar.len() != curve.len() || scalar.iter().all(|&b| b == 0) {
        return Err(INVALID);
    }
    // RFC 5915 ECPrivateKey without the optional fields: the curve comes from the algorithm and
    // the public key is computed. The library checks 0 < scalar < n.
    let mut der = Zeroizing::new(Vec::with_capacity(scalar.len() + 7));
    let len = u8::try_from(scalar.len()).map_err(|_| INVALID)?;
    der.extend_from_slice(&[0x30, len + 5, 0x02, 0x01, 0x01, 0x04, len]);
    der.extend_from_slice(scalar);
    let signer =
        lc_sig::EcdsaKeyPair::from_private_key_der(curve.signing(), &der).map_err(|_| INVALID)?;
    let public = ec_public(curve, signer.public_key().as_ref())?;
    let pair = EcPair {
        public,
        signer,
        ecdh: OnceLock::new(),
    };
    Ok(Inner::EcPair(Box::new(pair)))
}

fn ec_public(curve: Curve, point: &[u8]) -> Result<EcPub, Status> {
    if point.len() != 1 + 2 * curve.len() || point[0] != 0x04 {
        return Err(INVALID);
    }
    let verifier = lc_sig::ParsedPublicKey::new(curve.verifying(), point).map_err(|_| INVALID)?;
    Ok(EcPub {
        curve,
        point: point.to_vec(),
        verifier,
    })
}

pub(super) fn rsa_modulus_bits(n: &BigUint) -> u32 {
    u32::try_from(n.bits()).unwrap_or(u32::MAX)
}

/// Bits of a big-endian unsigned integer.
/// The length of a PSA-format ECC key of `bits`: a scalar, an uncompressed point, or a
/// Montgomery u-coordinate.
fn ecc_data_len(family: EccFamily, key_pair: bool, bits: u32) -> usize {
    let bytes = (bits as usize).div_ceil(8);
    match (family, key_pair) {
        (EccFamily::Montgomery, _) | (_, true) => bytes,
        (_, false) => 1 + 2 * bytes,
    }
}

fn be_bits(bytes: &[u8]) -> u32 {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX / 8);
    (len - 1) * 8 + (8 - bytes[0].leading_zeros())
}

/// The modulus size of a parsed key against the size the attributes declare (0: any): a
/// mismatch is the caller's error (InvalidArgument), checked before whether the size is one this
/// provider supports (NotSupported), as Mbed TLS orders them.
fn rsa_size_check(declared: u32, modulus: &[u8]) -> Result<(), Status> {
    let actual = be_bits(modulus);
    if declared != 0 && declared != actual {
        return Err(INVALID);
    }
    if !rsa_bits_ok(actual) {
        return Err(UNSUPPORTED);
    }
    Ok(())
}

fn rsa_private_from_der(data: &[u8], declared: u32) -> Result<rsa::RsaPrivateKey, Status> {
    // PKCS#1 first; PKCS#8 (rsaEncryption) as Mbed TLS also takes it.
    let pkcs1 = match rsa::pkcs1::RsaPrivateKey::try_from(data) {
        Ok(_) => data,
        Err(_) => {
            let info = rsa::pkcs8::PrivateKeyInfo::try_from(data).map_err(|_| INVALID)?;
            if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
                return Err(INVALID);
            }
            info.private_key
        }
    };
    let parsed = rsa::pkcs1::RsaPrivateKey::try_from(pkcs1).map_err(|_| INVALID)?;
    rsa_size_check(declared, parsed.modulus.as_bytes())?;
    // Checks n = pq and de = 1 mod (p-1), (q-1).
    rsa::RsaPrivateKey::from_pkcs1_der(pkcs1).map_err(|_| INVALID)
}

fn rsa_public_from_der(data: &[u8], declared: u32) -> Result<rsa::RsaPublicKey, Status> {
    let pkcs1 = match rsa::pkcs1::RsaPublicKey::try_from(data) {
        Ok(key) => key,
        Err(_) => {
            let spki = rsa::pkcs8::SubjectPublicKeyInfoRef::try_from(data).map_err(|_| INVALID)?;
            if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
                return Err(INVALID);
            }
            let inner = spki.subject_public_key.as_bytes().ok_or(INVALID)?;
            rsa::pkcs1::RsaPublicKey::try_from(inner).map_err(|_| INVALID)?
        }
    };
    rsa_size_check(declared, pkcs1.modulus.as_bytes())?;
    let n = BigUint::from_bytes_be(pkcs1.modulus.as_bytes());
    let e = BigUint::from_bytes_be(pkcs1.public_exponent.as_bytes());
    rsa::RsaPublicKey::new(n, e).map_err(|_| INVALID)
}

fn rsa_private_der(key: &rsa::RsaPrivateKey) -> Result<Secret, Status> {
    let der = key.to_pkcs1_der().map_err(|_| GENERIC)?;
    Ok(Secret::from(der.as_bytes()))
}

fn rsa_public(rc: rsa::RsaPublicKey) -> Result<RsaPub, Status> {
    let der = rc.to_pkcs1_der().map_err(|_| INVALID)?.into_vec();
    let lc = if rsa_modulus_bits(rc.n()) >= RSA_LC_MIN_BITS {
        let spki = rc.to_public_key_der().map_err(|_| INVALID)?;
        Some(lc_rsa::PublicEncryptingKey::from_der(spki.as_bytes()).map_err(|_| INVALID)?)
    } else {
        None
    };
    Ok(RsaPub { rc, der, lc })
}
