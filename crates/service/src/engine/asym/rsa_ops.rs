//! RSA signatures and encryption (see the library table in `asym.rs`).

use aws_lc_rs::{digest, rsa as lc_rsa, signature as lc_sig};
use parsec_psa::{AsymmetricEncryption, AsymmetricSignature, Hash, Secret};
use parsec_wire::Status;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, Pss};

use crate::engine::oaep;
use zeroize::Zeroizing;

use super::{
    hash_supported, lc_digest, rsa_modulus_bits, LcRng, RsaPair, RsaPub, BAD_SIGNATURE, GENERIC,
    INVALID, UNSUPPORTED,
};

/// `DigestInfo` up to the hash value (RFC 8017 §9.2), for the `rsa` crate.
pub(super) fn pkcs1_scheme(hash: Hash) -> Result<Pkcs1v15Sign, Status> {
    // 1.3.14.3.2.26 and 2.16.840.1.101.3.4.2.n
    const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    const NIST: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    let nist = |n: u8| NIST.iter().copied().chain([n]).collect::<Vec<u8>>();
    let oid = match hash {
        Hash::Sha1 => SHA1.to_vec(),
        Hash::Sha256 => nist(1),
        Hash::Sha384 => nist(2),
        Hash::Sha512 => nist(3),
        Hash::Sha224 => nist(4),
        Hash::Sha512_224 => nist(5),
        Hash::Sha512_256 => nist(6),
        Hash::Sha3_224 => nist(7),
        Hash::Sha3_256 => nist(8),
        Hash::Sha3_384 => nist(9),
        Hash::Sha3_512 => nist(10),
        _ => return Err(UNSUPPORTED),
    };
    let hash_len = hash.output_len();
    // SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING (hash) }; every length fits one byte.
    let alg_id_len = oid.len() + 4;
    let mut prefix = vec![
        0x30,
        (alg_id_len + 4 + hash_len) as u8,
        0x30,
        alg_id_len as u8,
    ];
    prefix.extend_from_slice(&[0x06, oid.len() as u8]);
    prefix.extend_from_slice(&oid);
    prefix.extend_from_slice(&[0x05, 0x00, 0x04, hash_len as u8]);
    Ok(Pkcs1v15Sign {
        hash_len: Some(hash_len),
        prefix: prefix.into_boxed_slice(),
    })
}

/// PSA's PSS salt: the hash length, or the most the key allows if that is less.
fn pss_salt_len(key: &rsa::RsaPublicKey, hash: Hash) -> Result<usize, Status> {
    let em_len = (key.n().bits() - 1).div_ceil(8);
    let hash_len = hash.output_len();
    let room = em_len.checked_sub(hash_len + 2).ok_or(INVALID)?;
    Ok(room.min(hash_len))
}

/// An aws-lc-rs signing encoding and its verification parameters.
type LcScheme = (
    &'static lc_sig::RsaSignatureEncoding,
    &'static lc_sig::RsaParameters,
);

fn lc_pkcs1(hash: Hash) -> Option<LcScheme> {
    match hash {
        Hash::Sha256 => Some((
            &lc_sig::RSA_PKCS1_SHA256,
            &lc_sig::RSA_PKCS1_2048_8192_SHA256,
        )),
        Hash::Sha384 => Some((
            &lc_sig::RSA_PKCS1_SHA384,
            &lc_sig::RSA_PKCS1_2048_8192_SHA384,
        )),
        Hash::Sha512 => Some((
            &lc_sig::RSA_PKCS1_SHA512,
            &lc_sig::RSA_PKCS1_2048_8192_SHA512,
        )),
        _ => None,
    }
}

fn lc_pss(hash: Hash) -> Option<LcScheme> {
    match hash {
        Hash::Sha256 => Some((&lc_sig::RSA_PSS_SHA256, &lc_sig::RSA_PSS_2048_8192_SHA256)),
        Hash::Sha384 => Some((&lc_sig::RSA_PSS_SHA384, &lc_sig::RSA_PSS_2048_8192_SHA384)),
        Hash::Sha512 => Some((&lc_sig::RSA_PSS_SHA512, &lc_sig::RSA_PSS_2048_8192_SHA512)),
        _ => None,
    }
}

fn lc_import_digest(hash: Hash, value: &[u8]) -> Result<digest::Digest, Status> {
    let alg = lc_digest(hash).ok_or(UNSUPPORTED)?;
    digest::Digest::import_less_safe(value, alg).map_err(|_| INVALID)
}

pub(super) fn sign(
    pair: &RsaPair,
    alg: AsymmetricSignature,
    hash_alg: Option<Hash>,
    hash: &[u8],
) -> Result<Vec<u8>, Status> {
    let k = pair.raw.size();
    let (hash_alg, pss) = match (alg, hash_alg) {
        (AsymmetricSignature::RsaPkcs1v15SignRaw, _) => {
            return raw_sign(pair, &emsa_pkcs1(&[], hash, k)?);
        }
        (AsymmetricSignature::RsaPkcs1v15Sign { .. }, Some(h)) => (h, false),
        (AsymmetricSignature::RsaPss { .. }, Some(h)) => (h, true),
        _ => return Err(INVALID),
    };
    if hash.len() != hash_alg.output_len() {
        return Err(INVALID);
    }
    let lc_scheme = if pss {
        lc_pss(hash_alg)
    } else {
        lc_pkcs1(hash_alg)
    };
    if let (Some((signer, _)), Some((encoding, _))) = (&pair.lc, lc_scheme) {
        let digest = lc_import_digest(hash_alg, hash)?;
        let mut signature = vec![0u8; signer.public_modulus_len()];
        signer
            .sign_digest(encoding, &digest, &mut signature)
            .map_err(|_| GENERIC)?;
        return Ok(signature);
    }
    // Other sizes and hashes: the padding here, the private operation by aws-lc (constant
    // time), never by the `rsa` crate (RUSTSEC-2023-0071).
    let em = if pss {
        let em_bits = rsa_modulus_bits(pair.public.rc.n()) as usize - 1;
        let salt = pss_salt_len(&pair.public.rc, hash_alg)?;
        with_digest!(hash_alg, D => emsa_pss::<D>(hash, em_bits, salt))?
    } else {
        emsa_pkcs1(&pkcs1_scheme(hash_alg)?.prefix, hash, k)?
    };
    raw_sign(pair, &em)
}

/// The private operation on an encoded block (left-padded with zeros to the modulus length).
fn raw_sign(pair: &RsaPair, em: &[u8]) -> Result<Vec<u8>, Status> {
    let k = pair.raw.size();
    let mut block = Zeroizing::new(vec![0u8; k.checked_sub(em.len()).ok_or(INVALID)?]);
    block.extend_from_slice(em);
    let signature = pair.raw.raw(&block).map_err(|_| GENERIC)?;
    Ok(signature.to_vec())
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): `00 01 FF..FF 00 || prefix || hash` in `k` bytes.
fn emsa_pkcs1(prefix: &[u8], hash: &[u8], k: usize) -> Result<Vec<u8>, Status> {
    let t_len = prefix.len() + hash.len();
    if t_len + 11 > k {
        return Err(INVALID);
    }
    let mut em = vec![0xffu8; k];
    em[0] = 0;
    em[1] = 1;
    em[k - t_len - 1] = 0;
    em[k - t_len..k - hash.len()].copy_from_slice(prefix);
    em[k - hash.len()..].copy_from_slice(hash);
    Ok(em)
}

/// EMSA-PSS encoding (RFC 8017 §9.1.1) of the hash `m_hash` with a random salt of `salt_len`
/// bytes, MGF1 with the same hash, in `ceil(em_bits / 8)` bytes.
fn emsa_pss<D: sha2::Digest>(
    m_hash: &[u8],
    em_bits: usize,
    salt_len: usize,
) -> Result<Vec<u8>, Status> {
    let h_len = <D as sha2::Digest>::output_size();
    let em_len = em_bits.div_ceil(8);
    if m_hash.len() != h_len || em_len < h_len + salt_len + 2 {
        return Err(INVALID);
    }
    let mut salt = vec![0u8; salt_len];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| GENERIC)?;
    let h = D::new()
        .chain_update([0u8; 8])
        .chain_update(m_hash)
        .chain_update(&salt)
        .finalize();
    let db_len = em_len - h_len - 1;
    let mut em = vec![0u8; em_len];
    em[db_len - salt_len - 1] = 1;
    em[db_len - salt_len..db_len].copy_from_slice(&salt);
    for (counter, chunk) in em[..db_len].chunks_mut(h_len).enumerate() {
        let c = u32::try_from(counter).map_err(|_| INVALID)?.to_be_bytes();
        let mask = D::new().chain_update(&h).chain_update(c).finalize();
        for (byte, m) in chunk.iter_mut().zip(mask.iter()) {
            *byte ^= m;
        }
    }
    em[0] &= 0xff >> (8 * em_len - em_bits);
    em[db_len..em_len - 1].copy_from_slice(&h);
    em[em_len - 1] = 0xbc;
    Ok(em)
}

pub(super) fn verify(
    public: &RsaPub,
    alg: AsymmetricSignature,
    hash_alg: Option<Hash>,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    let (hash_alg, pss) = match (alg, hash_alg) {
        (AsymmetricSignature::RsaPkcs1v15SignRaw, _) => {
            if hash.len() + 11 > public.rc.size() {
                return Err(INVALID);
            }
            if signature.len() != public.rc.size() {
                return Err(BAD_SIGNATURE);
            }
            let scheme = Pkcs1v15Sign::new_unprefixed();
            return public
                .rc
                .verify(scheme, hash, signature)
                .map_err(|_| BAD_SIGNATURE);
        }
        (AsymmetricSignature::RsaPkcs1v15Sign { .. }, Some(h)) => (h, false),
        (AsymmetricSignature::RsaPss { .. }, Some(h)) => (h, true),
        _ => return Err(INVALID),
    };
    let lc_scheme = if pss {
        lc_pss(hash_alg)
    } else {
        lc_pkcs1(hash_alg)
    };
    if signature.len() != public.rc.size() {
        return Err(BAD_SIGNATURE);
    }
    if let (Some(_), Some((_, params))) = (&public.lc, lc_scheme) {
        let digest = lc_import_digest(hash_alg, hash)?;
        let key = lc_sig::UnparsedPublicKey::new(params, &public.der);
        return key
            .verify_digest(&digest, signature)
            .map_err(|_| BAD_SIGNATURE);
    }
    let result = if pss {
        let salt = pss_salt_len(&public.rc, hash_alg)?;
        with_digest!(hash_alg, D => Ok(public.rc.verify(Pss::new_with_salt::<D>(salt), hash, signature)))?
    } else {
        public.rc.verify(pkcs1_scheme(hash_alg)?, hash, signature)
    };
    result.map_err(|_| BAD_SIGNATURE)
}

fn lc_oaep(hash: Hash) -> Option<&'static lc_rsa::OaepAlgorithm> {
    match hash {
        Hash::Sha1 => Some(&lc_rsa::OAEP_SHA1_MGF1SHA1),
        Hash::Sha256 => Some(&lc_rsa::OAEP_SHA256_MGF1SHA256),
        Hash::Sha384 => Some(&lc_rsa::OAEP_SHA384_MGF1SHA384),
        Hash::Sha512 => Some(&lc_rsa::OAEP_SHA512_MGF1SHA512),
        _ => None,
    }
}

/// OAEP for the `rsa` crate, whose label is a `String`.
fn rc_oaep<D>(label: &[u8]) -> Result<Oaep, Status>
where
    D: 'static + sha2::Digest + sha2::digest::DynDigest + Send + Sync,
{
    if label.is_empty() {
        return Ok(Oaep::new::<D>());
    }
    let label = std::str::from_utf8(label).map_err(|_| UNSUPPORTED)?;
    Ok(Oaep::new_with_label::<D, _>(label))
}

/// Encrypts with an RSA public key; `label` is the OAEP label.
pub(super) fn encrypt(
    public: &RsaPub,
    alg: AsymmetricEncryption,
    plaintext: &[u8],
    label: &[u8],
) -> Result<Vec<u8>, Status> {
    let k = public.rc.size();
    let mut out = vec![0u8; k];
    match alg {
        AsymmetricEncryption::RsaPkcs1v15Crypt => {
            if !label.is_empty() || plaintext.len() + 11 > k {
                return Err(INVALID);
            }
            if let Some(lc) = &public.lc {
                let enc = lc_rsa::Pkcs1PublicEncryptingKey::new(lc.clone()).map_err(|_| GENERIC)?;
                let ct = enc.encrypt(plaintext, &mut out).map_err(|_| GENERIC)?;
                return Ok(ct.to_vec());
            }
            public
                .rc
                .encrypt(&mut LcRng, Pkcs1v15Encrypt, plaintext)
                .map_err(|_| GENERIC)
        }
        AsymmetricEncryption::RsaOaep { hash_alg } => {
            hash_supported(hash_alg)?;
            let hash_len = hash_alg.output_len();
            if plaintext.len() + 2 * hash_len + 2 > k {
                return Err(INVALID);
            }
            if let (Some(lc), Some(oaep)) = (&public.lc, lc_oaep(hash_alg)) {
                let enc = lc_rsa::OaepPublicEncryptingKey::new(lc.clone()).map_err(|_| GENERIC)?;
                let label = (!label.is_empty()).then_some(label);
                let ct = enc
                    .encrypt(oaep, plaintext, &mut out, label)
                    .map_err(|_| GENERIC)?;
                return Ok(ct.to_vec());
            }
            with_digest!(hash_alg, D => public.rc.encrypt(&mut LcRng, rc_oaep::<D>(label)?, plaintext).map_err(|_| GENERIC))
        }
    }
}

/// Decrypts with an RSA key pair; `label` is the OAEP label.
pub(super) fn decrypt(
    pair: &RsaPair,
    alg: AsymmetricEncryption,
    ciphertext: &[u8],
    label: &[u8],
) -> Result<Secret, Status> {
    let k = pair.raw.size();
    if ciphertext.len() != k {
        return Err(INVALID);
    }
    let mut out = Zeroizing::new(vec![0u8; k]);
    match alg {
        AsymmetricEncryption::RsaPkcs1v15Crypt => {
            if !label.is_empty() {
                return Err(INVALID);
            }
            if let Some((_, lc)) = &pair.lc {
                let dec =
                    lc_rsa::Pkcs1PrivateDecryptingKey::new(lc.clone()).map_err(|_| GENERIC)?;
                let plain = dec.decrypt(ciphertext, &mut out).map_err(padding_err)?;
                return Ok(Secret::from(&*plain));
            }
            // Keys under 2048 bits: aws-lc all the same (constant-time padding check).
            let plain = pair.raw.decrypt_pkcs1v15(ciphertext).map_err(padding_err)?;
            Ok(Secret::from(&plain[..]))
        }
        AsymmetricEncryption::RsaOaep { hash_alg } => {
            hash_supported(hash_alg)?;
            if let (Some((_, lc)), Some(oaep)) = (&pair.lc, lc_oaep(hash_alg)) {
                let dec = lc_rsa::OaepPrivateDecryptingKey::new(lc.clone()).map_err(|_| GENERIC)?;
                let label = (!label.is_empty()).then_some(label);
                let plain = dec
                    .decrypt(oaep, ciphertext, &mut out, label)
                    .map_err(padding_err)?;
                return Ok(Secret::from(&*plain));
            }
            // Other hashes, labels with a key aws-lc-rs cannot load: the raw operation by
            // aws-lc, the padding removed here in constant time.
            if !oaep::supported(hash_alg) {
                return Err(UNSUPPORTED);
            }
            let em = pair.raw.raw(ciphertext).map_err(padding_err)?;
            oaep::decode(hash_alg, label, &em, k)
        }
    }
}

fn padding_err<E>(_: E) -> Status {
    Status::PsaErrorInvalidPadding
}
