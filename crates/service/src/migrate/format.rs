//! Upstream's encodings, read with every size checked: the bincode of its key attributes
//! (psa-crypto's `Attributes`: little-endian fixed-width integers, u32 enum tags, u64
//! lengths) and of its key IDs, and Mbed Crypto's persistent key files (`<id>.psa_its`: the
//! ITS header, then the PSA key storage format, whose material is the PSA export format).

use parsec_psa::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature, Cipher,
    DhFamily, EccFamily, FullLengthMac, Hash, KeyAgreement, KeyAttributes, KeyDerivation, KeyType,
    Mac, Policy, RawKeyAgreement, SignHash, UsageFlags,
};
use zeroize::Zeroizing;

/// A bounded little-endian reader.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.bytes.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> R<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| "truncated")?,
        ))
    }

    pub fn u32(&mut self) -> R<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "truncated")?,
        ))
    }

    pub fn u64(&mut self) -> R<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "truncated")?,
        ))
    }

    fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("{b} is not a bool")),
        }
    }

    /// A bincode `Vec<u8>`: a u64 length, then the bytes (within what is left).
    pub fn bytes(&mut self) -> R<&'a [u8]> {
        let len = usize::try_from(self.u64()?).map_err(|_| "too long")?;
        self.take(len)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn tag<T: Copy>(r: &mut Reader<'_>, what: &str, all: &[T]) -> R<T> {
    let t = r.u32()?;
    all.get(t as usize)
        .copied()
        .ok_or_else(|| format!("{t} is not a {what}"))
}

fn hash(r: &mut Reader<'_>) -> R<Hash> {
    tag(r, "hash", &Hash::ALL)
}

fn sign_hash(r: &mut Reader<'_>) -> R<SignHash> {
    match r.u32()? {
        0 => Ok(SignHash::Specific(hash(r)?)),
        1 => Ok(SignHash::Any),
        t => Err(format!("{t} is not a sign hash")),
    }
}

fn full_length_mac(r: &mut Reader<'_>) -> R<FullLengthMac> {
    match r.u32()? {
        0 => Ok(FullLengthMac::Hmac { hash_alg: hash(r)? }),
        1 => Ok(FullLengthMac::CbcMac),
        2 => Ok(FullLengthMac::Cmac),
        t => Err(format!("{t} is not a MAC")),
    }
}

fn length(r: &mut Reader<'_>) -> R<u32> {
    u32::try_from(r.u64()?).map_err(|_| "a length out of range".to_string())
}

fn aead_default(r: &mut Reader<'_>) -> R<AeadWithDefaultLengthTag> {
    tag(
        r,
        "AEAD",
        &[
            AeadWithDefaultLengthTag::Ccm,
            AeadWithDefaultLengthTag::Gcm,
            AeadWithDefaultLengthTag::Chacha20Poly1305,
        ],
    )
}

fn raw_key_agreement(r: &mut Reader<'_>) -> R<RawKeyAgreement> {
    tag(
        r,
        "key agreement",
        &[RawKeyAgreement::Ffdh, RawKeyAgreement::Ecdh],
    )
}

fn key_derivation(r: &mut Reader<'_>) -> R<KeyDerivation> {
    match r.u32()? {
        0 => Ok(KeyDerivation::Hkdf { hash_alg: hash(r)? }),
        1 => Ok(KeyDerivation::Tls12Prf { hash_alg: hash(r)? }),
        2 => Ok(KeyDerivation::Tls12PskToMs { hash_alg: hash(r)? }),
        t => Err(format!("{t} is not a key derivation")),
    }
}

fn algorithm(r: &mut Reader<'_>) -> R<Algorithm> {
    Ok(match r.u32()? {
        0 => Algorithm::None,
        1 => Algorithm::Hash(hash(r)?),
        2 => Algorithm::Mac(match r.u32()? {
            0 => Mac::FullLength(full_length_mac(r)?),
            1 => Mac::Truncated {
                mac_alg: full_length_mac(r)?,
                mac_length: length(r)?,
            },
            t => return Err(format!("{t} is not a MAC kind")),
        }),
        3 => Algorithm::Cipher(tag(
            r,
            "cipher",
            &[
                Cipher::StreamCipher,
                Cipher::Ctr,
                Cipher::Cfb,
                Cipher::Ofb,
                Cipher::Xts,
                Cipher::EcbNoPadding,
                Cipher::CbcNoPadding,
                Cipher::CbcPkcs7,
            ],
        )?),
        4 => Algorithm::Aead(match r.u32()? {
            0 => Aead::AeadWithDefaultLengthTag(aead_default(r)?),
            1 => Aead::AeadWithShortenedTag {
                aead_alg: aead_default(r)?,
                tag_length: length(r)?,
            },
            t => return Err(format!("{t} is not an AEAD kind")),
        }),
        5 => Algorithm::AsymmetricSignature(match r.u32()? {
            0 => AsymmetricSignature::RsaPkcs1v15Sign {
                hash_alg: sign_hash(r)?,
            },
            1 => AsymmetricSignature::RsaPkcs1v15SignRaw,
            2 => AsymmetricSignature::RsaPss {
                hash_alg: sign_hash(r)?,
            },
            3 => AsymmetricSignature::Ecdsa {
                hash_alg: sign_hash(r)?,
            },
            4 => AsymmetricSignature::EcdsaAny,
            5 => AsymmetricSignature::DeterministicEcdsa {
                hash_alg: sign_hash(r)?,
            },
            t => return Err(format!("{t} is not a signature algorithm")),
        }),
        6 => Algorithm::AsymmetricEncryption(match r.u32()? {
            0 => AsymmetricEncryption::RsaPkcs1v15Crypt,
            1 => AsymmetricEncryption::RsaOaep { hash_alg: hash(r)? },
            t => return Err(format!("{t} is not an encryption algorithm")),
        }),
        7 => Algorithm::KeyAgreement(match r.u32()? {
            0 => KeyAgreement::Raw(raw_key_agreement(r)?),
            1 => KeyAgreement::WithKeyDerivation {
                ka_alg: raw_key_agreement(r)?,
                kdf_alg: key_derivation(r)?,
            },
            t => return Err(format!("{t} is not a key agreement kind")),
        }),
        8 => Algorithm::KeyDerivation(key_derivation(r)?),
        t => return Err(format!("{t} is not an algorithm")),
    })
}

/// Upstream's key attributes (bincode of psa-crypto's `Attributes`); the lifetime is read and
/// dropped (every key of ours is persistent).
pub fn attributes(bytes: &[u8]) -> R<KeyAttributes> {
    let mut r = Reader::new(bytes);
    match r.u32()? {
        0 | 1 => {}
        2 => {
            r.u32()?;
        }
        t => return Err(format!("{t} is not a lifetime")),
    }
    let key_type = match r.u32()? {
        t @ 0..=9 => [
            KeyType::RawData,
            KeyType::Hmac,
            KeyType::Derive,
            KeyType::Aes,
            KeyType::Des,
            KeyType::Camellia,
            KeyType::Arc4,
            KeyType::Chacha20,
            KeyType::RsaPublicKey,
            KeyType::RsaKeyPair,
        ][t as usize],
        10 => KeyType::EccKeyPair {
            curve_family: tag(&mut r, "curve family", &EccFamily::ALL)?,
        },
        11 => KeyType::EccPublicKey {
            curve_family: tag(&mut r, "curve family", &EccFamily::ALL)?,
        },
        12 => KeyType::DhKeyPair {
            group_family: tag(&mut r, "group family", &[DhFamily::Rfc7919])?,
        },
        13 => KeyType::DhPublicKey {
            group_family: tag(&mut r, "group family", &[DhFamily::Rfc7919])?,
        },
        t => return Err(format!("{t} is not a key type")),
    };
    let bits = u32::try_from(r.u64()?).map_err(|_| "a key size out of range")?;
    let usage_flags = UsageFlags {
        export: r.bool()?,
        copy: r.bool()?,
        cache: r.bool()?,
        encrypt: r.bool()?,
        decrypt: r.bool()?,
        sign_message: r.bool()?,
        verify_message: r.bool()?,
        sign_hash: r.bool()?,
        verify_hash: r.bool()?,
        derive: r.bool()?,
    };
    let permitted_algorithms = algorithm(&mut r)?;
    Ok(KeyAttributes {
        key_type,
        bits,
        policy: Policy {
            usage_flags,
            permitted_algorithms,
        },
    })
}

/// An on-disk mapping file: bincode of upstream's `KeyInfo { id: Vec<u8>, attributes }`: the
/// provider's key ID, and the attributes (or why they do not decode).
pub fn key_info(bytes: &[u8]) -> R<(Vec<u8>, R<KeyAttributes>)> {
    let mut r = Reader::new(bytes);
    let id = r.bytes()?.to_vec();
    Ok((id, attributes(r.bytes)))
}

/// A u32 key ID as upstream's Mbed Crypto and PKCS#11 providers store it (bincode: 4 bytes,
/// little endian).
pub fn u32_key_id(bytes: &[u8]) -> R<u32> {
    let id: [u8; 4] = bytes
        .try_into()
        .map_err(|_| format!("a key ID of {} bytes, not 4", bytes.len()))?;
    Ok(u32::from_le_bytes(id))
}

/// The public part of an upstream TPM key (tss-esapi's `PublicKey`): an RSA modulus, or an EC
/// point's coordinates, big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmPublic {
    Rsa(Vec<u8>),
    Ecc { x: Vec<u8>, y: Vec<u8> },
}

/// An upstream TPM key record: what its TPM provider stores as the key ID (bincode of its
/// `PasswordContext`).
pub struct TpmRecord {
    /// The key's authorisation value (upstream makes 32 random bytes for each key pair).
    pub auth_value: Zeroizing<Vec<u8>>,
    pub public: TpmPublic,
    /// The key's `TPM2B_PRIVATE` contents, wrapped by upstream's storage key; empty for an
    /// imported public key.
    pub private: Zeroizing<Vec<u8>>,
}

/// Largest part of a TPM key record read (a TPM2B buffer holds at most 2 KiB or so).
const MAX_TPM_FIELD: usize = 4096;

/// Upstream's TPM key record: a `TPMS_CONTEXT` kept for older versions (u64 sequence, u32
/// handle, u32 hierarchy, bytes), the auth value (bytes), then tss-esapi's `KeyMaterial`: the
/// public key (u32 tag: 0 RSA modulus bytes, 1 ECC x and y bytes) and the private blob (bytes).
/// A record of before upstream 1.0 (a saved TPM context, without key material) is refused:
/// a saved context does not outlive a reset of the TPM.
pub fn tpm_record(bytes: &[u8]) -> R<TpmRecord> {
    let mut r = Reader::new(bytes);
    let field = |r: &mut Reader<'_>| -> R<Vec<u8>> {
        let b = r.bytes()?;
        if b.len() > MAX_TPM_FIELD {
            return Err(format!("a field of {} bytes", b.len()));
        }
        Ok(b.to_vec())
    };
    r.u64()?;
    r.u32()?;
    r.u32()?;
    let context = field(&mut r)?;
    let auth_value = Zeroizing::new(field(&mut r)?);
    if r.is_empty() {
        return Err(if context.is_empty() {
            "truncated".into()
        } else {
            "a record of upstream before 1.0 (a saved TPM context, no key material)".into()
        });
    }
    let public = match r.u32()? {
        0 => TpmPublic::Rsa(field(&mut r)?),
        1 => TpmPublic::Ecc {
            x: field(&mut r)?,
            y: field(&mut r)?,
        },
        t => return Err(format!("{t} is not a TPM public key")),
    };
    let private = Zeroizing::new(field(&mut r)?);
    if !r.is_empty() {
        return Err("bytes after the record".into());
    }
    Ok(TpmRecord {
        auth_value,
        public,
        private,
    })
}

/// What an Mbed Crypto key file holds.
pub struct PsaKeyFile {
    pub psa_type: u16,
    pub bits: u16,
    /// `psa_key_usage_t`.
    pub usage: u32,
    /// The key material, PSA export format.
    pub material: Zeroizing<Vec<u8>>,
}

/// Largest key file read (an RSA-4096 key pair's DER is about 2.4 KB).
pub const MAX_KEY_FILE: usize = 64 * 1024;

/// An Mbed Crypto persistent key file: `PSA\0ITS\0`, size, flags; then `PSA\0KEY\0`, version
/// 0, lifetime, type, bits, usage, alg, alg2, material length, material.
pub fn psa_key_file(bytes: &[u8]) -> R<PsaKeyFile> {
    let mut r = Reader::new(bytes);
    if r.take(8)? != b"PSA\0ITS\0" {
        return Err("not a PSA ITS file".into());
    }
    let size = r.u32()? as usize;
    let _flags = r.u32()?;
    let mut k = Reader::new(r.take(size)?);
    if k.take(8)? != b"PSA\0KEY\0" {
        return Err("not a PSA key".into());
    }
    if k.u32()? != 0 {
        return Err("an unknown key storage version".into());
    }
    let _lifetime = k.u32()?;
    let psa_type = k.u16()?;
    let bits = k.u16()?;
    let usage = k.u32()?;
    let (_alg, _alg2) = (k.u32()?, k.u32()?);
    let len = k.u32()? as usize;
    let material = Zeroizing::new(k.take(len)?.to_vec());
    Ok(PsaKeyFile {
        psa_type,
        bits,
        usage,
        material,
    })
}

/// The PSA usage bits (`psa_key_usage_t`) of `flags`, to check a key file against the
/// attributes upstream recorded.
pub fn psa_usage_bits(flags: &UsageFlags) -> u32 {
    [
        (flags.export, 0x0001),
        (flags.copy, 0x0002),
        (flags.cache, 0x0004),
        (flags.encrypt, 0x0100),
        (flags.decrypt, 0x0200),
        (flags.sign_message, 0x0400),
        (flags.verify_message, 0x0800),
        (flags.sign_hash, 0x1000),
        (flags.verify_hash, 0x2000),
        (flags.derive, 0x4000),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |bits, (_, bit)| bits | bit)
}

/// The PSA key type number (`psa_key_type_t`) of `key_type`, to check a key file against the
/// attributes upstream recorded.
pub fn psa_type_number(key_type: KeyType) -> Option<u16> {
    let ecc = |f: EccFamily| match f {
        EccFamily::SecpK1 => 0x17,
        EccFamily::SecpR1 => 0x12,
        EccFamily::SecpR2 => 0x1b,
        EccFamily::SectK1 => 0x27,
        EccFamily::SectR1 => 0x22,
        EccFamily::SectR2 => 0x2b,
        EccFamily::BrainpoolPR1 => 0x30,
        EccFamily::Frp => 0x33,
        EccFamily::Montgomery => 0x41,
    };
    Some(match key_type {
        KeyType::RawData => 0x1001,
        KeyType::Hmac => 0x1100,
        KeyType::Derive => 0x1200,
        KeyType::Aes => 0x2400,
        KeyType::Des => 0x2301,
        KeyType::Camellia => 0x2403,
        KeyType::Arc4 => 0x2002,
        KeyType::Chacha20 => 0x2004,
        KeyType::RsaPublicKey => 0x4001,
        KeyType::RsaKeyPair => 0x7001,
        KeyType::EccKeyPair { curve_family } => 0x7100 | ecc(curve_family),
        KeyType::EccPublicKey { curve_family } => 0x4100 | ecc(curve_family),
        KeyType::DhKeyPair { .. } => 0x7203,
        KeyType::DhPublicKey { .. } => 0x4203,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The helper's worked example: an Mbed Crypto P-256 key with ID 2, ECDSA-SHA256.
    #[test]
    fn upstreams_key_info_reads() {
        let mut bytes = Vec::new();
        bytes.extend(4u64.to_le_bytes());
        bytes.extend(2u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes()); // persistent
        bytes.extend(10u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes()); // ECC key pair, SecpR1
        bytes.extend(256u64.to_le_bytes());
        bytes.extend([0, 0, 0, 0, 0, 1, 1, 1, 1, 0]);
        bytes.extend(5u32.to_le_bytes());
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(6u32.to_le_bytes());
        assert_eq!(bytes.len(), 58);
        let mut r = Reader::new(&bytes);
        let id = r.bytes().unwrap();
        assert_eq!(u32_key_id(id).unwrap(), 2);
        let a = attributes(&bytes[12..]).unwrap();
        assert_eq!(
            a.key_type,
            KeyType::EccKeyPair {
                curve_family: EccFamily::SecpR1
            }
        );
        assert_eq!(a.bits, 256);
        assert!(a.policy.usage_flags.sign_hash && a.policy.usage_flags.verify_message);
        assert_eq!(
            a.policy.permitted_algorithms,
            Algorithm::AsymmetricSignature(AsymmetricSignature::Ecdsa {
                hash_alg: SignHash::Specific(Hash::Sha256)
            })
        );
        assert_eq!(psa_type_number(a.key_type), Some(0x7112));
        // Truncated anywhere: an error, never a panic.
        for n in 0..bytes.len() - 12 {
            assert!(attributes(&bytes[12..12 + n]).is_err(), "{n}");
        }
    }

    #[test]
    fn a_tpm_record_reads_and_bad_ones_are_refused() {
        let mut bytes = vec![0u8; 24];
        bytes.extend(32u64.to_le_bytes());
        bytes.extend([5u8; 32]);
        bytes.extend(1u32.to_le_bytes());
        for c in [1u8, 2] {
            bytes.extend(32u64.to_le_bytes());
            bytes.extend([c; 32]);
        }
        bytes.extend(3u64.to_le_bytes());
        bytes.extend([7u8; 3]);
        let k = tpm_record(&bytes).unwrap();
        assert_eq!(&k.auth_value[..], &[5u8; 32]);
        assert_eq!(
            k.public,
            TpmPublic::Ecc {
                x: vec![1; 32],
                y: vec![2; 32]
            }
        );
        assert_eq!(&k.private[..], &[7u8; 3]);
        for n in 0..bytes.len() {
            assert!(tpm_record(&bytes[..n]).is_err(), "{n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(tpm_record(&longer).is_err());
        // A record of before 1.0: a saved context and an auth value only.
        let mut legacy = vec![0u8; 16];
        legacy.extend(4u64.to_le_bytes());
        legacy.extend([1u8; 4]);
        legacy.extend(0u64.to_le_bytes());
        assert!(matches!(tpm_record(&legacy), Err(e) if e.contains("before 1.0")));
    }

    #[test]
    fn a_key_file_reads_and_bad_ones_are_refused() {
        let mut key = b"PSA\0KEY\0".to_vec();
        key.extend(0u32.to_le_bytes());
        key.extend(1u32.to_le_bytes());
        key.extend(0x2400u16.to_le_bytes());
        key.extend(128u16.to_le_bytes());
        key.extend([0u8; 12]);
        key.extend(16u32.to_le_bytes());
        key.extend([7u8; 16]);
        let mut file = b"PSA\0ITS\0".to_vec();
        file.extend(u32::try_from(key.len()).unwrap().to_le_bytes());
        file.extend(0u32.to_le_bytes());
        file.extend(&key);
        let k = psa_key_file(&file).unwrap();
        assert_eq!((k.psa_type, k.bits), (0x2400, 128));
        assert_eq!(&k.material[..], &[7u8; 16]);
        for n in 0..file.len() {
            assert!(psa_key_file(&file[..n]).is_err(), "{n}");
        }
        let mut bad = file.clone();
        bad[0] = b'X';
        assert!(psa_key_file(&bad).is_err());
    }
}
