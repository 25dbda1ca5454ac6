//! Key attributes: protobuf <-> typed.

use crate::error::{invalid, required, DecodeError};
use crate::proto::psa_key_attributes as pk;
use crate::types::{DhFamily, EccFamily, KeyAttributes, KeyType, Policy, UsageFlags};

use pk::key_type::{DhFamily as DhProto, EccFamily as EccProto, Variant as V};

fn ecc_family_from_i32(value: i32) -> Result<EccFamily, DecodeError> {
    Ok(match EccProto::try_from(value) {
        Ok(EccProto::SecpK1) => EccFamily::SecpK1,
        Ok(EccProto::SecpR1) => EccFamily::SecpR1,
        Ok(EccProto::SecpR2) => EccFamily::SecpR2,
        Ok(EccProto::SectK1) => EccFamily::SectK1,
        Ok(EccProto::SectR1) => EccFamily::SectR1,
        Ok(EccProto::SectR2) => EccFamily::SectR2,
        Ok(EccProto::BrainpoolPR1) => EccFamily::BrainpoolPR1,
        Ok(EccProto::Frp) => EccFamily::Frp,
        Ok(EccProto::Montgomery) => EccFamily::Montgomery,
        Ok(EccProto::None) => return invalid("ECC family is none"),
        Err(_) => return invalid("unknown ECC family"),
    })
}

fn ecc_family_to_i32(family: EccFamily) -> i32 {
    let proto = match family {
        EccFamily::SecpK1 => EccProto::SecpK1,
        EccFamily::SecpR1 => EccProto::SecpR1,
        EccFamily::SecpR2 => EccProto::SecpR2,
        EccFamily::SectK1 => EccProto::SectK1,
        EccFamily::SectR1 => EccProto::SectR1,
        EccFamily::SectR2 => EccProto::SectR2,
        EccFamily::BrainpoolPR1 => EccProto::BrainpoolPR1,
        EccFamily::Frp => EccProto::Frp,
        EccFamily::Montgomery => EccProto::Montgomery,
    };
    proto as i32
}

fn dh_family_from_i32(value: i32) -> Result<DhFamily, DecodeError> {
    match DhProto::try_from(value) {
        Ok(DhProto::Rfc7919) => Ok(DhFamily::Rfc7919),
        Err(_) => invalid("unknown DH family"),
    }
}

fn dh_family_to_i32(family: DhFamily) -> i32 {
    match family {
        DhFamily::Rfc7919 => DhProto::Rfc7919 as i32,
    }
}

impl TryFrom<pk::KeyType> for KeyType {
    type Error = DecodeError;
    fn try_from(proto: pk::KeyType) -> Result<Self, DecodeError> {
        Ok(match required(proto.variant, "key type variant missing")? {
            V::RawData(_) => KeyType::RawData,
            V::Hmac(_) => KeyType::Hmac,
            V::Derive(_) => KeyType::Derive,
            V::Aes(_) => KeyType::Aes,
            V::Des(_) => KeyType::Des,
            V::Camellia(_) => KeyType::Camellia,
            V::Arc4(_) => KeyType::Arc4,
            V::Chacha20(_) => KeyType::Chacha20,
            V::RsaPublicKey(_) => KeyType::RsaPublicKey,
            V::RsaKeyPair(_) => KeyType::RsaKeyPair,
            V::EccKeyPair(k) => KeyType::EccKeyPair {
                curve_family: ecc_family_from_i32(k.curve_family)?,
            },
            V::EccPublicKey(k) => KeyType::EccPublicKey {
                curve_family: ecc_family_from_i32(k.curve_family)?,
            },
            V::DhKeyPair(k) => KeyType::DhKeyPair {
                group_family: dh_family_from_i32(k.group_family)?,
            },
            V::DhPublicKey(k) => KeyType::DhPublicKey {
                group_family: dh_family_from_i32(k.group_family)?,
            },
        })
    }
}

impl From<KeyType> for pk::KeyType {
    fn from(key_type: KeyType) -> Self {
        use pk::key_type as kt;
        let variant = match key_type {
            KeyType::RawData => V::RawData(kt::RawData {}),
            KeyType::Hmac => V::Hmac(kt::Hmac {}),
            KeyType::Derive => V::Derive(kt::Derive {}),
            KeyType::Aes => V::Aes(kt::Aes {}),
            KeyType::Des => V::Des(kt::Des {}),
            KeyType::Camellia => V::Camellia(kt::Camellia {}),
            KeyType::Arc4 => V::Arc4(kt::Arc4 {}),
            KeyType::Chacha20 => V::Chacha20(kt::Chacha20 {}),
            KeyType::RsaPublicKey => V::RsaPublicKey(kt::RsaPublicKey {}),
            KeyType::RsaKeyPair => V::RsaKeyPair(kt::RsaKeyPair {}),
            KeyType::EccKeyPair { curve_family } => V::EccKeyPair(kt::EccKeyPair {
                curve_family: ecc_family_to_i32(curve_family),
            }),
            KeyType::EccPublicKey { curve_family } => V::EccPublicKey(kt::EccPublicKey {
                curve_family: ecc_family_to_i32(curve_family),
            }),
            KeyType::DhKeyPair { group_family } => V::DhKeyPair(kt::DhKeyPair {
                group_family: dh_family_to_i32(group_family),
            }),
            KeyType::DhPublicKey { group_family } => V::DhPublicKey(kt::DhPublicKey {
                group_family: dh_family_to_i32(group_family),
            }),
        };
        pk::KeyType {
            variant: Some(variant),
        }
    }
}

impl From<pk::UsageFlags> for UsageFlags {
    fn from(p: pk::UsageFlags) -> Self {
        UsageFlags {
            export: p.export,
            copy: p.copy,
            cache: p.cache,
            encrypt: p.encrypt,
            decrypt: p.decrypt,
            sign_message: p.sign_message,
            verify_message: p.verify_message,
            sign_hash: p.sign_hash,
            verify_hash: p.verify_hash,
            derive: p.derive,
        }
    }
}

impl From<UsageFlags> for pk::UsageFlags {
    fn from(f: UsageFlags) -> Self {
        pk::UsageFlags {
            export: f.export,
            copy: f.copy,
            cache: f.cache,
            encrypt: f.encrypt,
            decrypt: f.decrypt,
            sign_message: f.sign_message,
            verify_message: f.verify_message,
            sign_hash: f.sign_hash,
            verify_hash: f.verify_hash,
            derive: f.derive,
        }
    }
}

impl TryFrom<pk::KeyPolicy> for Policy {
    type Error = DecodeError;
    fn try_from(proto: pk::KeyPolicy) -> Result<Self, DecodeError> {
        Ok(Policy {
            usage_flags: required(proto.key_usage_flags, "key policy without usage flags")?.into(),
            permitted_algorithms: required(proto.key_algorithm, "key policy without algorithm")?
                .try_into()?,
        })
    }
}

impl From<Policy> for pk::KeyPolicy {
    fn from(policy: Policy) -> Self {
        pk::KeyPolicy {
            key_usage_flags: Some(policy.usage_flags.into()),
            key_algorithm: Some(policy.permitted_algorithms.into()),
        }
    }
}

impl TryFrom<pk::KeyAttributes> for KeyAttributes {
    type Error = DecodeError;
    fn try_from(proto: pk::KeyAttributes) -> Result<Self, DecodeError> {
        Ok(KeyAttributes {
            key_type: required(proto.key_type, "key attributes without key type")?.try_into()?,
            bits: proto.key_bits,
            policy: required(proto.key_policy, "key attributes without policy")?.try_into()?,
        })
    }
}

impl From<KeyAttributes> for pk::KeyAttributes {
    fn from(attributes: KeyAttributes) -> Self {
        pk::KeyAttributes {
            key_type: Some(attributes.key_type.into()),
            key_bits: attributes.bits,
            key_policy: Some(attributes.policy.into()),
        }
    }
}
