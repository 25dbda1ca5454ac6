//! Algorithms: protobuf <-> typed. Decoding refuses placeholder and unknown enumeration values
//! and absent oneofs; encoding cannot fail.

use crate::error::{invalid, required, DecodeError};
use crate::proto::psa_algorithm::algorithm as pa;
use crate::proto::psa_algorithm::Algorithm as AlgorithmProto;
use crate::types::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature, Cipher,
    FullLengthMac, Hash, KeyAgreement, KeyDerivation, Mac, RawKeyAgreement, SignHash,
};

use pa::aead::AeadWithDefaultLengthTag as AeadTagProto;
use pa::asymmetric_signature as sig;
use pa::key_agreement::Raw as RawProto;
use pa::mac::full_length as full;
use pa::Cipher as CipherProto;
use pa::Hash as HashProto;

/// A hash enumeration value; 0 (none) and unknown values are refused.
pub(crate) fn hash_from_i32(value: i32) -> Result<Hash, DecodeError> {
    Ok(match HashProto::try_from(value) {
        Ok(HashProto::Md2) => Hash::Md2,
        Ok(HashProto::Md4) => Hash::Md4,
        Ok(HashProto::Md5) => Hash::Md5,
        Ok(HashProto::Ripemd160) => Hash::Ripemd160,
        Ok(HashProto::Sha1) => Hash::Sha1,
        Ok(HashProto::Sha224) => Hash::Sha224,
        Ok(HashProto::Sha256) => Hash::Sha256,
        Ok(HashProto::Sha384) => Hash::Sha384,
        Ok(HashProto::Sha512) => Hash::Sha512,
        Ok(HashProto::Sha512224) => Hash::Sha512_224,
        Ok(HashProto::Sha512256) => Hash::Sha512_256,
        Ok(HashProto::Sha3224) => Hash::Sha3_224,
        Ok(HashProto::Sha3256) => Hash::Sha3_256,
        Ok(HashProto::Sha3384) => Hash::Sha3_384,
        Ok(HashProto::Sha3512) => Hash::Sha3_512,
        Ok(HashProto::None) => return invalid("hash algorithm is none"),
        Err(_) => return invalid("unknown hash algorithm"),
    })
}

pub(crate) fn hash_to_i32(hash: Hash) -> i32 {
    let proto = match hash {
        Hash::Md2 => HashProto::Md2,
        Hash::Md4 => HashProto::Md4,
        Hash::Md5 => HashProto::Md5,
        Hash::Ripemd160 => HashProto::Ripemd160,
        Hash::Sha1 => HashProto::Sha1,
        Hash::Sha224 => HashProto::Sha224,
        Hash::Sha256 => HashProto::Sha256,
        Hash::Sha384 => HashProto::Sha384,
        Hash::Sha512 => HashProto::Sha512,
        Hash::Sha512_224 => HashProto::Sha512224,
        Hash::Sha512_256 => HashProto::Sha512256,
        Hash::Sha3_224 => HashProto::Sha3224,
        Hash::Sha3_256 => HashProto::Sha3256,
        Hash::Sha3_384 => HashProto::Sha3384,
        Hash::Sha3_512 => HashProto::Sha3512,
    };
    proto as i32
}

/// A cipher enumeration value; 0 (none) and unknown values are refused.
pub(crate) fn cipher_from_i32(value: i32) -> Result<Cipher, DecodeError> {
    Ok(match CipherProto::try_from(value) {
        Ok(CipherProto::StreamCipher) => Cipher::StreamCipher,
        Ok(CipherProto::Ctr) => Cipher::Ctr,
        Ok(CipherProto::Cfb) => Cipher::Cfb,
        Ok(CipherProto::Ofb) => Cipher::Ofb,
        Ok(CipherProto::Xts) => Cipher::Xts,
        Ok(CipherProto::EcbNoPadding) => Cipher::EcbNoPadding,
        Ok(CipherProto::CbcNoPadding) => Cipher::CbcNoPadding,
        Ok(CipherProto::CbcPkcs7) => Cipher::CbcPkcs7,
        Ok(CipherProto::None) => return invalid("cipher algorithm is none"),
        Err(_) => return invalid("unknown cipher algorithm"),
    })
}

pub(crate) fn cipher_to_i32(cipher: Cipher) -> i32 {
    let proto = match cipher {
        Cipher::StreamCipher => CipherProto::StreamCipher,
        Cipher::Ctr => CipherProto::Ctr,
        Cipher::Cfb => CipherProto::Cfb,
        Cipher::Ofb => CipherProto::Ofb,
        Cipher::Xts => CipherProto::Xts,
        Cipher::EcbNoPadding => CipherProto::EcbNoPadding,
        Cipher::CbcNoPadding => CipherProto::CbcNoPadding,
        Cipher::CbcPkcs7 => CipherProto::CbcPkcs7,
    };
    proto as i32
}

fn aead_tag_from_i32(value: i32) -> Result<AeadWithDefaultLengthTag, DecodeError> {
    Ok(match AeadTagProto::try_from(value) {
        Ok(AeadTagProto::Ccm) => AeadWithDefaultLengthTag::Ccm,
        Ok(AeadTagProto::Gcm) => AeadWithDefaultLengthTag::Gcm,
        Ok(AeadTagProto::Chacha20Poly1305) => AeadWithDefaultLengthTag::Chacha20Poly1305,
        Ok(AeadTagProto::None) => return invalid("AEAD algorithm is none"),
        Err(_) => return invalid("unknown AEAD algorithm"),
    })
}

fn aead_tag_to_i32(alg: AeadWithDefaultLengthTag) -> i32 {
    let proto = match alg {
        AeadWithDefaultLengthTag::Ccm => AeadTagProto::Ccm,
        AeadWithDefaultLengthTag::Gcm => AeadTagProto::Gcm,
        AeadWithDefaultLengthTag::Chacha20Poly1305 => AeadTagProto::Chacha20Poly1305,
    };
    proto as i32
}

/// A raw key agreement enumeration value; 0 (none) and unknown values are refused.
pub(crate) fn raw_key_agreement_from_i32(value: i32) -> Result<RawKeyAgreement, DecodeError> {
    Ok(match RawProto::try_from(value) {
        Ok(RawProto::Ffdh) => RawKeyAgreement::Ffdh,
        Ok(RawProto::Ecdh) => RawKeyAgreement::Ecdh,
        Ok(RawProto::None) => return invalid("key agreement algorithm is none"),
        Err(_) => return invalid("unknown key agreement algorithm"),
    })
}

pub(crate) fn raw_key_agreement_to_i32(alg: RawKeyAgreement) -> i32 {
    let proto = match alg {
        RawKeyAgreement::Ffdh => RawProto::Ffdh,
        RawKeyAgreement::Ecdh => RawProto::Ecdh,
    };
    proto as i32
}

impl TryFrom<sig::SignHash> for SignHash {
    type Error = DecodeError;
    fn try_from(proto: sig::SignHash) -> Result<Self, DecodeError> {
        match required(proto.variant, "sign hash variant missing")? {
            sig::sign_hash::Variant::Any(_) => Ok(SignHash::Any),
            sig::sign_hash::Variant::Specific(hash) => Ok(SignHash::Specific(hash_from_i32(hash)?)),
        }
    }
}

impl From<SignHash> for sig::SignHash {
    fn from(hash: SignHash) -> Self {
        let variant = match hash {
            SignHash::Any => sig::sign_hash::Variant::Any(sig::sign_hash::Any {}),
            SignHash::Specific(hash) => sig::sign_hash::Variant::Specific(hash_to_i32(hash)),
        };
        sig::SignHash {
            variant: Some(variant),
        }
    }
}

impl TryFrom<pa::mac::FullLength> for FullLengthMac {
    type Error = DecodeError;
    fn try_from(proto: pa::mac::FullLength) -> Result<Self, DecodeError> {
        Ok(match required(proto.variant, "MAC variant missing")? {
            full::Variant::Hmac(hmac) => FullLengthMac::Hmac {
                hash_alg: hash_from_i32(hmac.hash_alg)?,
            },
            full::Variant::CbcMac(_) => FullLengthMac::CbcMac,
            full::Variant::Cmac(_) => FullLengthMac::Cmac,
        })
    }
}

impl From<FullLengthMac> for pa::mac::FullLength {
    fn from(alg: FullLengthMac) -> Self {
        let variant = match alg {
            FullLengthMac::Hmac { hash_alg } => full::Variant::Hmac(full::Hmac {
                hash_alg: hash_to_i32(hash_alg),
            }),
            FullLengthMac::CbcMac => full::Variant::CbcMac(full::CbcMac {}),
            FullLengthMac::Cmac => full::Variant::Cmac(full::Cmac {}),
        };
        pa::mac::FullLength {
            variant: Some(variant),
        }
    }
}

impl TryFrom<pa::Mac> for Mac {
    type Error = DecodeError;
    fn try_from(proto: pa::Mac) -> Result<Self, DecodeError> {
        Ok(match required(proto.variant, "MAC variant missing")? {
            pa::mac::Variant::FullLength(alg) => Mac::FullLength(alg.try_into()?),
            pa::mac::Variant::Truncated(truncated) => Mac::Truncated {
                mac_alg: required(truncated.mac_alg, "truncated MAC without algorithm")?
                    .try_into()?,
                mac_length: truncated.mac_length,
            },
        })
    }
}

impl From<Mac> for pa::Mac {
    fn from(alg: Mac) -> Self {
        let variant = match alg {
            Mac::FullLength(alg) => pa::mac::Variant::FullLength(alg.into()),
            Mac::Truncated {
                mac_alg,
                mac_length,
            } => pa::mac::Variant::Truncated(pa::mac::Truncated {
                mac_alg: Some(mac_alg.into()),
                mac_length,
            }),
        };
        pa::Mac {
            variant: Some(variant),
        }
    }
}

impl TryFrom<pa::Aead> for Aead {
    type Error = DecodeError;
    fn try_from(proto: pa::Aead) -> Result<Self, DecodeError> {
        Ok(match required(proto.variant, "AEAD variant missing")? {
            pa::aead::Variant::AeadWithDefaultLengthTag(alg) => {
                Aead::AeadWithDefaultLengthTag(aead_tag_from_i32(alg)?)
            }
            pa::aead::Variant::AeadWithShortenedTag(short) => Aead::AeadWithShortenedTag {
                aead_alg: aead_tag_from_i32(short.aead_alg)?,
                tag_length: short.tag_length,
            },
        })
    }
}

impl From<Aead> for pa::Aead {
    fn from(alg: Aead) -> Self {
        let variant = match alg {
            Aead::AeadWithDefaultLengthTag(alg) => {
                pa::aead::Variant::AeadWithDefaultLengthTag(aead_tag_to_i32(alg))
            }
            Aead::AeadWithShortenedTag {
                aead_alg,
                tag_length,
            } => pa::aead::Variant::AeadWithShortenedTag(pa::aead::AeadWithShortenedTag {
                aead_alg: aead_tag_to_i32(aead_alg),
                tag_length,
            }),
        };
        pa::Aead {
            variant: Some(variant),
        }
    }
}

fn sign_hash_field(hash: Option<sig::SignHash>) -> Result<SignHash, DecodeError> {
    required(hash, "signature algorithm without hash")?.try_into()
}

impl TryFrom<pa::AsymmetricSignature> for AsymmetricSignature {
    type Error = DecodeError;
    fn try_from(proto: pa::AsymmetricSignature) -> Result<Self, DecodeError> {
        use sig::Variant as V;
        Ok(
            match required(proto.variant, "signature algorithm variant missing")? {
                V::RsaPkcs1v15Sign(a) => AsymmetricSignature::RsaPkcs1v15Sign {
                    hash_alg: sign_hash_field(a.hash_alg)?,
                },
                V::RsaPkcs1v15SignRaw(_) => AsymmetricSignature::RsaPkcs1v15SignRaw,
                V::RsaPss(a) => AsymmetricSignature::RsaPss {
                    hash_alg: sign_hash_field(a.hash_alg)?,
                },
                V::Ecdsa(a) => AsymmetricSignature::Ecdsa {
                    hash_alg: sign_hash_field(a.hash_alg)?,
                },
                V::EcdsaAny(_) => AsymmetricSignature::EcdsaAny,
                V::DeterministicEcdsa(a) => AsymmetricSignature::DeterministicEcdsa {
                    hash_alg: sign_hash_field(a.hash_alg)?,
                },
            },
        )
    }
}

impl From<AsymmetricSignature> for pa::AsymmetricSignature {
    fn from(alg: AsymmetricSignature) -> Self {
        use sig::Variant as V;
        let variant = match alg {
            AsymmetricSignature::RsaPkcs1v15Sign { hash_alg } => {
                V::RsaPkcs1v15Sign(sig::RsaPkcs1v15Sign {
                    hash_alg: Some(hash_alg.into()),
                })
            }
            AsymmetricSignature::RsaPkcs1v15SignRaw => {
                V::RsaPkcs1v15SignRaw(sig::RsaPkcs1v15SignRaw {})
            }
            AsymmetricSignature::RsaPss { hash_alg } => V::RsaPss(sig::RsaPss {
                hash_alg: Some(hash_alg.into()),
            }),
            AsymmetricSignature::Ecdsa { hash_alg } => V::Ecdsa(sig::Ecdsa {
                hash_alg: Some(hash_alg.into()),
            }),
            AsymmetricSignature::EcdsaAny => V::EcdsaAny(sig::EcdsaAny {}),
            AsymmetricSignature::DeterministicEcdsa { hash_alg } => {
                V::DeterministicEcdsa(sig::DeterministicEcdsa {
                    hash_alg: Some(hash_alg.into()),
                })
            }
        };
        pa::AsymmetricSignature {
            variant: Some(variant),
        }
    }
}

impl TryFrom<pa::AsymmetricEncryption> for AsymmetricEncryption {
    type Error = DecodeError;
    fn try_from(proto: pa::AsymmetricEncryption) -> Result<Self, DecodeError> {
        use pa::asymmetric_encryption::Variant as V;
        Ok(
            match required(proto.variant, "encryption algorithm variant missing")? {
                V::RsaPkcs1v15Crypt(_) => AsymmetricEncryption::RsaPkcs1v15Crypt,
                V::RsaOaep(oaep) => AsymmetricEncryption::RsaOaep {
                    hash_alg: hash_from_i32(oaep.hash_alg)?,
                },
            },
        )
    }
}

impl From<AsymmetricEncryption> for pa::AsymmetricEncryption {
    fn from(alg: AsymmetricEncryption) -> Self {
        use pa::asymmetric_encryption as enc;
        let variant = match alg {
            AsymmetricEncryption::RsaPkcs1v15Crypt => {
                enc::Variant::RsaPkcs1v15Crypt(enc::RsaPkcs1v15Crypt {})
            }
            AsymmetricEncryption::RsaOaep { hash_alg } => enc::Variant::RsaOaep(enc::RsaOaep {
                hash_alg: hash_to_i32(hash_alg),
            }),
        };
        pa::AsymmetricEncryption {
            variant: Some(variant),
        }
    }
}

impl TryFrom<pa::KeyDerivation> for KeyDerivation {
    type Error = DecodeError;
    fn try_from(proto: pa::KeyDerivation) -> Result<Self, DecodeError> {
        use pa::key_derivation::Variant as V;
        Ok(
            match required(proto.variant, "key derivation variant missing")? {
                V::Hkdf(a) => KeyDerivation::Hkdf {
                    hash_alg: hash_from_i32(a.hash_alg)?,
                },
                V::Tls12Prf(a) => KeyDerivation::Tls12Prf {
                    hash_alg: hash_from_i32(a.hash_alg)?,
                },
                V::Tls12PskToMs(a) => KeyDerivation::Tls12PskToMs {
                    hash_alg: hash_from_i32(a.hash_alg)?,
                },
            },
        )
    }
}

impl From<KeyDerivation> for pa::KeyDerivation {
    fn from(alg: KeyDerivation) -> Self {
        use pa::key_derivation as kd;
        let variant = match alg {
            KeyDerivation::Hkdf { hash_alg } => kd::Variant::Hkdf(kd::Hkdf {
                hash_alg: hash_to_i32(hash_alg),
            }),
            KeyDerivation::Tls12Prf { hash_alg } => kd::Variant::Tls12Prf(kd::Tls12Prf {
                hash_alg: hash_to_i32(hash_alg),
            }),
            KeyDerivation::Tls12PskToMs { hash_alg } => {
                kd::Variant::Tls12PskToMs(kd::Tls12PskToMs {
                    hash_alg: hash_to_i32(hash_alg),
                })
            }
        };
        pa::KeyDerivation {
            variant: Some(variant),
        }
    }
}

impl TryFrom<pa::KeyAgreement> for KeyAgreement {
    type Error = DecodeError;
    fn try_from(proto: pa::KeyAgreement) -> Result<Self, DecodeError> {
        use pa::key_agreement::Variant as V;
        Ok(
            match required(proto.variant, "key agreement variant missing")? {
                V::Raw(raw) => KeyAgreement::Raw(raw_key_agreement_from_i32(raw)?),
                V::WithKeyDerivation(with) => KeyAgreement::WithKeyDerivation {
                    ka_alg: raw_key_agreement_from_i32(with.ka_alg)?,
                    kdf_alg: required(with.kdf_alg, "key agreement without derivation")?
                        .try_into()?,
                },
            },
        )
    }
}

impl From<KeyAgreement> for pa::KeyAgreement {
    fn from(alg: KeyAgreement) -> Self {
        use pa::key_agreement as ka;
        let variant = match alg {
            KeyAgreement::Raw(raw) => ka::Variant::Raw(raw_key_agreement_to_i32(raw)),
            KeyAgreement::WithKeyDerivation { ka_alg, kdf_alg } => {
                ka::Variant::WithKeyDerivation(ka::WithKeyDerivation {
                    ka_alg: raw_key_agreement_to_i32(ka_alg),
                    kdf_alg: Some(kdf_alg.into()),
                })
            }
        };
        pa::KeyAgreement {
            variant: Some(variant),
        }
    }
}

impl TryFrom<AlgorithmProto> for Algorithm {
    type Error = DecodeError;
    fn try_from(proto: AlgorithmProto) -> Result<Self, DecodeError> {
        use pa::Variant as V;
        Ok(
            match required(proto.variant, "algorithm variant missing")? {
                V::None(_) => Algorithm::None,
                V::Hash(hash) => Algorithm::Hash(hash_from_i32(hash)?),
                V::Mac(alg) => Algorithm::Mac(alg.try_into()?),
                V::Cipher(cipher) => Algorithm::Cipher(cipher_from_i32(cipher)?),
                V::Aead(alg) => Algorithm::Aead(alg.try_into()?),
                V::AsymmetricSignature(alg) => Algorithm::AsymmetricSignature(alg.try_into()?),
                V::AsymmetricEncryption(alg) => Algorithm::AsymmetricEncryption(alg.try_into()?),
                V::KeyAgreement(alg) => Algorithm::KeyAgreement(alg.try_into()?),
                V::KeyDerivation(alg) => Algorithm::KeyDerivation(alg.try_into()?),
            },
        )
    }
}

impl From<Algorithm> for AlgorithmProto {
    fn from(alg: Algorithm) -> Self {
        use pa::Variant as V;
        let variant = match alg {
            Algorithm::None => V::None(pa::None {}),
            Algorithm::Hash(hash) => V::Hash(hash_to_i32(hash)),
            Algorithm::Mac(alg) => V::Mac(alg.into()),
            Algorithm::Cipher(cipher) => V::Cipher(cipher_to_i32(cipher)),
            Algorithm::Aead(alg) => V::Aead(alg.into()),
            Algorithm::AsymmetricSignature(alg) => V::AsymmetricSignature(alg.into()),
            Algorithm::AsymmetricEncryption(alg) => V::AsymmetricEncryption(alg.into()),
            Algorithm::KeyAgreement(alg) => V::KeyAgreement(alg.into()),
            Algorithm::KeyDerivation(alg) => V::KeyDerivation(alg.into()),
        };
        AlgorithmProto {
            variant: Some(variant),
        }
    }
}
