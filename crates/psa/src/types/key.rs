//! PSA key attributes: type, size and policy.

use super::algorithm::Algorithm;

/// Elliptic curve families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EccFamily {
    SecpK1,
    SecpR1,
    SecpR2,
    SectK1,
    SectR1,
    SectR2,
    BrainpoolPR1,
    Frp,
    Montgomery,
}

impl EccFamily {
    /// Every family, in wire order.
    pub const ALL: [EccFamily; 9] = [
        EccFamily::SecpK1,
        EccFamily::SecpR1,
        EccFamily::SecpR2,
        EccFamily::SectK1,
        EccFamily::SectR1,
        EccFamily::SectR2,
        EccFamily::BrainpoolPR1,
        EccFamily::Frp,
        EccFamily::Montgomery,
    ];
}

/// Finite-field Diffie-Hellman group families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhFamily {
    Rfc7919,
}

/// The 14 key types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    RawData,
    Hmac,
    Derive,
    Aes,
    Des,
    Camellia,
    Arc4,
    Chacha20,
    RsaPublicKey,
    RsaKeyPair,
    EccKeyPair { curve_family: EccFamily },
    EccPublicKey { curve_family: EccFamily },
    DhKeyPair { group_family: DhFamily },
    DhPublicKey { group_family: DhFamily },
}

impl KeyType {
    /// Whether the key holds a private or secret part (everything except public keys).
    pub const fn has_secret(self) -> bool {
        !self.is_public_key()
    }

    /// Whether this is the public half of an asymmetric key.
    pub const fn is_public_key(self) -> bool {
        matches!(
            self,
            KeyType::RsaPublicKey | KeyType::EccPublicKey { .. } | KeyType::DhPublicKey { .. }
        )
    }

    /// Whether this is an asymmetric key pair.
    pub const fn is_key_pair(self) -> bool {
        matches!(
            self,
            KeyType::RsaKeyPair | KeyType::EccKeyPair { .. } | KeyType::DhKeyPair { .. }
        )
    }

    /// The public key type that matches this key pair (or this public key).
    pub const fn public_counterpart(self) -> Option<KeyType> {
        match self {
            KeyType::RsaKeyPair | KeyType::RsaPublicKey => Some(KeyType::RsaPublicKey),
            KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
                Some(KeyType::EccPublicKey { curve_family })
            }
            KeyType::DhKeyPair { group_family } | KeyType::DhPublicKey { group_family } => {
                Some(KeyType::DhPublicKey { group_family })
            }
            _ => None,
        }
    }
}

/// What a key may be used for. Each flag is one boolean of the wire message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UsageFlags {
    pub export: bool,
    pub copy: bool,
    pub cache: bool,
    pub encrypt: bool,
    pub decrypt: bool,
    pub sign_message: bool,
    pub verify_message: bool,
    pub sign_hash: bool,
    pub verify_hash: bool,
    pub derive: bool,
}

/// The usage flags and the one algorithm a key may be used with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    pub usage_flags: UsageFlags,
    pub permitted_algorithms: Algorithm,
}

/// The attributes of a key. Every key is persistent: the wire format has no lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyAttributes {
    pub key_type: KeyType,
    /// Size in bits; 0 means "take it from the key data" on import.
    pub bits: u32,
    pub policy: Policy,
}
