//! The PSA Crypto types the operations carry, checked: every value here is valid.

mod algorithm;
mod key;

pub use algorithm::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature, Cipher,
    FullLengthMac, Hash, KeyAgreement, KeyDerivation, Mac, RawKeyAgreement, SignHash,
};
pub use key::{DhFamily, EccFamily, KeyAttributes, KeyType, Policy, UsageFlags};
