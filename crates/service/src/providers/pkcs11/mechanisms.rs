//! Which token mechanism serves which PSA algorithm: the hash, HMAC and digest tables, the
//! DER constants (DigestInfo prefixes, curve parameters, EC points), and what the token's
//! mechanisms let the provider serve.

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use parsec_psa::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature,
    EccFamily, FullLengthMac, Hash, KeyAgreement, KeyAttributes, KeyType, Mac, RawKeyAgreement,
    SignHash,
};
use parsec_wire::Status;

use super::Pkcs11Backend;
use crate::engine::oaep;
use crate::providers::keyed::Serves;

fn hash_mechanism(hash: Hash) -> Option<(MechanismType, PkcsMgfType)> {
    Some(match hash {
        Hash::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        Hash::Sha224 => (MechanismType::SHA224, PkcsMgfType::MGF1_SHA224),
        Hash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        Hash::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        Hash::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        _ => return None,
    })
}

/// The token's HMAC and digest mechanisms for a hash.
pub(super) fn hmac_mechanism(hash: Hash) -> Option<(MechanismType, Mechanism<'static>)> {
    Some(match hash {
        Hash::Sha1 => (MechanismType::SHA1_HMAC, Mechanism::Sha1Hmac),
        Hash::Sha224 => (MechanismType::SHA224_HMAC, Mechanism::Sha224Hmac),
        Hash::Sha256 => (MechanismType::SHA256_HMAC, Mechanism::Sha256Hmac),
        Hash::Sha384 => (MechanismType::SHA384_HMAC, Mechanism::Sha384Hmac),
        Hash::Sha512 => (MechanismType::SHA512_HMAC, Mechanism::Sha512Hmac),
        _ => return None,
    })
}

pub(super) fn digest_mechanism(hash: Hash) -> Option<(MechanismType, Mechanism<'static>)> {
    Some(match hash {
        Hash::Sha1 => (MechanismType::SHA1, Mechanism::Sha1),
        Hash::Sha224 => (MechanismType::SHA224, Mechanism::Sha224),
        Hash::Sha256 => (MechanismType::SHA256, Mechanism::Sha256),
        Hash::Sha384 => (MechanismType::SHA384, Mechanism::Sha384),
        Hash::Sha512 => (MechanismType::SHA512, Mechanism::Sha512),
        _ => return None,
    })
}

/// The tag length of an AES-GCM algorithm, if PSA allows it.
pub(super) fn gcm_tag_len(alg: Aead) -> Option<usize> {
    let len = match alg {
        Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm) => 16,
        Aead::AeadWithShortenedTag {
            aead_alg: AeadWithDefaultLengthTag::Gcm,
            tag_length,
        } => usize::try_from(tag_length).ok()?,
        _ => return None,
    };
    matches!(len, 4 | 8 | 12..=16).then_some(len)
}

/// The HMAC hash and output length of a MAC algorithm (truncations of 4 bytes or more).
pub(super) fn hmac_len(alg: Mac) -> Option<(Hash, usize)> {
    let FullLengthMac::Hmac { hash_alg } = alg.full_length() else {
        return None;
    };
    let full = hash_alg.output_len();
    let len = match alg {
        Mac::FullLength(_) | Mac::Truncated { mac_length: 0, .. } => full,
        Mac::Truncated { mac_length, .. } => usize::try_from(mac_length).ok()?,
    };
    (4..=full).contains(&len).then_some((hash_alg, len))
}

/// The DER DigestInfo prefix of PKCS#1 v1.5 signatures (RFC 8017 §9.2 note 1).
fn digest_info(hash: Hash) -> Option<&'static [u8]> {
    Some(match hash {
        Hash::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        Hash::Sha224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x04, 0x05, 0x00, 0x04, 0x1c,
        ],
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => return None,
    })
}

/// The DER `ECParameters` (a named curve OID) of a curve.
pub(super) fn ec_params(family: EccFamily, bits: u32) -> Option<&'static [u8]> {
    Some(match (family, bits) {
        (EccFamily::SecpR1, 256) => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        (EccFamily::SecpR1, 384) => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        (EccFamily::SecpR1, 521) => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        (EccFamily::SecpK1, 256) => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
        _ => return None,
    })
}

/// Bytes of one coordinate (and of r and s in a signature).
pub(super) fn coordinate_len(bits: u32) -> usize {
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// A DER OCTET STRING around `content` (how `CKA_EC_POINT` holds a point).
pub(super) fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    match u8::try_from(content.len()) {
        Ok(n) if n < 0x80 => out.push(n),
        Ok(n) => out.extend_from_slice(&[0x81, n]),
        Err(_) => out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The uncompressed point in a `CKA_EC_POINT` value: DER-wrapped as the standard says, or
/// bare as some tokens return it (upstream issue parsec#599).
pub(super) fn ec_point(value: &[u8], bits: u32) -> Option<Vec<u8>> {
    let point_len = 1 + 2 * coordinate_len(bits);
    let point = if value.len() == point_len {
        value
    } else {
        let wrapped = der_octet_string(value.get(value.len().checked_sub(point_len)?..)?);
        if wrapped != value {
            return None;
        }
        &value[value.len() - point_len..]
    };
    (point.first() == Some(&0x04)).then(|| point.to_vec())
}

/// Whether the token refused a mechanism's parameters (not the data).
pub(super) fn refused_parameters(e: &Error) -> bool {
    matches!(
        e,
        Error::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid,
            _
        )
    )
}

pub(super) fn oaep_params(hash: Hash, label: &[u8]) -> Option<PkcsOaepParams<'_>> {
    let (hash, mgf) = hash_mechanism(hash)?;
    let source = if label.is_empty() {
        PkcsOaepSource::empty()
    } else {
        PkcsOaepSource::data_specified(label)
    };
    Some(PkcsOaepParams::new(hash, mgf, source))
}

impl Pkcs11Backend {
    pub(super) fn has(&self, m: MechanismType) -> bool {
        self.token.mechanism(m).is_some()
    }

    /// What the token's mechanisms let this provider serve.
    pub(super) fn derive_serves(&self) -> Serves {
        let rsa = self.has(MechanismType::RSA_PKCS_KEY_PAIR_GEN);
        let any = |hashes: fn(Hash) -> Option<(MechanismType, Mechanism<'static>)>| {
            Hash::ALL
                .iter()
                .filter_map(|h| hashes(*h))
                .any(|(m, _)| self.has(m))
        };
        Serves {
            signatures: self.has(MechanismType::ECDSA)
                || self.has(MechanismType::RSA_PKCS)
                || self.has(MechanismType::RSA_PKCS_PSS),
            asymmetric_encryption: rsa
                && (self.has(MechanismType::RSA_PKCS)
                    || self.has(MechanismType::RSA_PKCS_OAEP)
                    || self.has(MechanismType::RSA_X_509)),
            random: true,
            aead: self.has(MechanismType::AES_GCM),
            macs: any(hmac_mechanism),
            hashes: any(digest_mechanism),
            key_agreement: self.has(MechanismType::ECDH1_DERIVE),
            ..Serves::default()
        }
    }

    fn hash_ok(h: SignHash) -> bool {
        match h {
            SignHash::Any => true,
            SignHash::Specific(h) => hash_mechanism(h).is_some(),
        }
    }

    /// Whether the token can run `alg`.
    pub(super) fn supports_alg(&self, alg: Algorithm) -> bool {
        use AsymmetricSignature as S;
        match alg {
            Algorithm::None => true,
            Algorithm::AsymmetricSignature(s) => match s {
                S::RsaPkcs1v15Sign { hash_alg } => {
                    self.has(MechanismType::RSA_PKCS) && Self::hash_ok(hash_alg)
                }
                S::RsaPkcs1v15SignRaw => self.has(MechanismType::RSA_PKCS),
                S::RsaPss { hash_alg } => {
                    self.has(MechanismType::RSA_PKCS_PSS) && Self::hash_ok(hash_alg)
                }
                S::Ecdsa { .. } | S::EcdsaAny => self.has(MechanismType::ECDSA),
                S::DeterministicEcdsa { .. } => false,
            },
            Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaPkcs1v15Crypt) => {
                self.has(MechanismType::RSA_PKCS)
            }
            Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaOaep { hash_alg }) => {
                oaep::supported(hash_alg)
                    && (self.has(MechanismType::RSA_PKCS_OAEP)
                        || self.has(MechanismType::RSA_X_509))
            }
            Algorithm::Aead(a) => gcm_tag_len(a).is_some() && self.has(MechanismType::AES_GCM),
            Algorithm::Mac(m) => hmac_len(m)
                .and_then(|(h, _)| hmac_mechanism(h))
                .is_some_and(|(m, _)| self.has(m)),
            Algorithm::KeyAgreement(KeyAgreement::Raw(RawKeyAgreement::Ecdh)) => {
                self.has(MechanismType::ECDH1_DERIVE)
            }
            _ => false,
        }
    }

    /// Whether the token takes keys of this type and size (for `generator`, if it makes them).
    pub(super) fn supports_key(
        &self,
        attributes: &KeyAttributes,
        generator: Option<MechanismType>,
    ) -> bool {
        let bits = attributes.bits;
        let (sized, mechanism) = match attributes.key_type {
            KeyType::RsaKeyPair | KeyType::RsaPublicKey => (
                (1024..=4096).contains(&bits) && bits % 8 == 0,
                generator.or(Some(MechanismType::RSA_PKCS)),
            ),
            KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => (
                ec_params(curve_family, bits).is_some(),
                generator.or(Some(MechanismType::ECDSA)),
            ),
            // Secret keys: sizes as PSA allows (checked by the caller); the token's ranges for
            // these mechanisms mix bits and bytes, so only the generator's presence is checked.
            KeyType::Aes | KeyType::Hmac => return generator.is_none_or(|m| self.has(m)),
            _ => return false,
        };
        sized
            && mechanism.is_some_and(|m| {
                self.token.mechanism(m).is_some_and(|info| {
                    let bits = usize::try_from(bits).unwrap_or(usize::MAX);
                    // Tokens give EC sizes in bits, RSA sizes in bits; 0..0 means "no limit".
                    (info.min_key_size() == 0 && info.max_key_size() == 0)
                        || (info.min_key_size()..=info.max_key_size()).contains(&bits)
                })
            })
    }
}

/// The mechanism and the data to sign for a signature algorithm.
pub(super) fn signature_mechanism(
    alg: AsymmetricSignature,
    hash: &[u8],
) -> Result<(Mechanism<'static>, Vec<u8>), Status> {
    use AsymmetricSignature as S;
    Ok(match alg {
        S::RsaPkcs1v15Sign {
            hash_alg: SignHash::Specific(h),
        } => {
            let mut data = digest_info(h).ok_or(Status::PsaErrorNotSupported)?.to_vec();
            data.extend_from_slice(hash);
            (Mechanism::RsaPkcs, data)
        }
        S::RsaPkcs1v15SignRaw => (Mechanism::RsaPkcs, hash.to_vec()),
        S::RsaPss {
            hash_alg: SignHash::Specific(h),
        } => {
            let (hash_alg, mgf) = hash_mechanism(h).ok_or(Status::PsaErrorNotSupported)?;
            let s_len = u64::try_from(h.output_len()).unwrap_or(0).into();
            (
                Mechanism::RsaPkcsPss(PkcsPssParams {
                    hash_alg,
                    mgf,
                    s_len,
                }),
                hash.to_vec(),
            )
        }
        S::Ecdsa { .. } | S::EcdsaAny => (Mechanism::Ecdsa, hash.to_vec()),
        _ => return Err(Status::PsaErrorNotSupported),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_bare_or_der_wrapped() {
        let point: Vec<u8> = std::iter::once(4).chain(1..=64).collect();
        assert_eq!(ec_point(&point, 256), Some(point.clone()));
        assert_eq!(
            ec_point(&der_octet_string(&point), 256),
            Some(point.clone())
        );
        let p521: Vec<u8> = std::iter::once(4)
            .chain((0..132).map(|i| i as u8))
            .collect();
        let wrapped = der_octet_string(&p521);
        assert_eq!(&wrapped[..3], [0x04, 0x81, 133]);
        assert_eq!(ec_point(&wrapped, 521), Some(p521));
        assert_eq!(ec_point(&point[1..], 256), None);
        assert_eq!(ec_point(&[0x03; 65], 256), None);
    }

    #[test]
    fn digest_info_ends_with_the_hash_length() {
        for h in [
            Hash::Sha1,
            Hash::Sha224,
            Hash::Sha256,
            Hash::Sha384,
            Hash::Sha512,
        ] {
            let prefix = digest_info(h).unwrap();
            assert_eq!(usize::from(*prefix.last().unwrap()), h.output_len());
            assert_eq!(usize::from(prefix[1]) + 2, prefix.len() + h.output_len());
        }
    }
}
