//! Key policy rules shared by every operation: usage flags, algorithm-to-key-type fit,
//! deprecated primitives.

use parsec_psa::{
    AeadWithDefaultLengthTag as AeadBase, Algorithm, AsymmetricEncryption, AsymmetricSignature,
    FullLengthMac, KeyAgreement, KeyDerivation, KeyType, RawKeyAgreement, SignHash, UsageFlags,
};
use parsec_psa::{EccFamily, Hash};

/// The usage an operation makes of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Needs no flag (exporting a public key).
    None,
    Export,
    SignHash,
    VerifyHash,
    /// Message signatures and MACs.
    SignMessage,
    VerifyMessage,
    Encrypt,
    Decrypt,
    Derive,
}

impl Usage {
    /// Whether `flags` allow this usage. A hash-signing flag also allows signing messages (and
    /// MACs), as PSA implementations set the message flag along with the hash flag.
    pub(crate) fn allowed_by(self, f: &UsageFlags) -> bool {
        match self {
            Usage::None => true,
            Usage::Export => f.export,
            Usage::SignHash => f.sign_hash,
            Usage::VerifyHash => f.verify_hash,
            Usage::SignMessage => f.sign_message || f.sign_hash,
            Usage::VerifyMessage => f.verify_message || f.verify_hash,
            Usage::Encrypt => f.encrypt,
            Usage::Decrypt => f.decrypt,
            Usage::Derive => f.derive,
        }
    }
}

fn sign_hash_deprecated(h: SignHash) -> bool {
    matches!(h, SignHash::Specific(h) if h.is_deprecated())
}

fn kdf_hash(k: KeyDerivation) -> Hash {
    match k {
        KeyDerivation::Hkdf { hash_alg }
        | KeyDerivation::Tls12Prf { hash_alg }
        | KeyDerivation::Tls12PskToMs { hash_alg } => hash_alg,
    }
}

/// Whether `alg` relies on a deprecated primitive (MD2, MD4, MD5, SHA-1).
pub(crate) fn uses_deprecated(alg: Algorithm) -> bool {
    use AsymmetricSignature as S;
    match alg {
        Algorithm::None | Algorithm::Cipher(_) | Algorithm::Aead(_) => false,
        Algorithm::Hash(h) => h.is_deprecated(),
        Algorithm::Mac(m) => {
            matches!(m.full_length(), FullLengthMac::Hmac { hash_alg } if hash_alg.is_deprecated())
        }
        Algorithm::AsymmetricSignature(s) => match s {
            S::RsaPkcs1v15Sign { hash_alg }
            | S::RsaPss { hash_alg }
            | S::Ecdsa { hash_alg }
            | S::DeterministicEcdsa { hash_alg } => sign_hash_deprecated(hash_alg),
            S::RsaPkcs1v15SignRaw | S::EcdsaAny => false,
        },
        Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaOaep { hash_alg }) => {
            hash_alg.is_deprecated()
        }
        Algorithm::AsymmetricEncryption(_) => false,
        Algorithm::KeyAgreement(KeyAgreement::WithKeyDerivation { kdf_alg, .. }) => {
            kdf_hash(kdf_alg).is_deprecated()
        }
        Algorithm::KeyAgreement(_) => false,
        Algorithm::KeyDerivation(k) => kdf_hash(k).is_deprecated(),
    }
}

/// Whether a key of `key_type` can be used with `alg` at all (PSA's compatibility rules).
/// `Algorithm::None` fits every key: such a key can only be exported.
pub(crate) fn fits(key_type: KeyType, alg: Algorithm) -> bool {
    use AsymmetricSignature as S;
    use KeyType as T;
    let rsa = matches!(key_type, T::RsaKeyPair | T::RsaPublicKey);
    let weierstrass = matches!(
        key_type,
        T::EccKeyPair { curve_family } | T::EccPublicKey { curve_family }
            if curve_family != EccFamily::Montgomery
    );
    let ecc = matches!(key_type, T::EccKeyPair { .. } | T::EccPublicKey { .. });
    let dh = matches!(key_type, T::DhKeyPair { .. } | T::DhPublicKey { .. });
    match alg {
        Algorithm::None => true,
        Algorithm::Hash(_) => false,
        Algorithm::Mac(m) => match m.full_length() {
            FullLengthMac::Hmac { .. } => key_type == T::Hmac,
            FullLengthMac::Cmac | FullLengthMac::CbcMac => {
                matches!(key_type, T::Aes | T::Des | T::Camellia)
            }
        },
        Algorithm::Cipher(c) => match c {
            parsec_psa::Cipher::StreamCipher => matches!(key_type, T::Chacha20 | T::Arc4),
            _ => matches!(key_type, T::Aes | T::Des | T::Camellia),
        },
        Algorithm::Aead(a) => match a.base() {
            AeadBase::Chacha20Poly1305 => key_type == T::Chacha20,
            AeadBase::Gcm | AeadBase::Ccm => matches!(key_type, T::Aes | T::Camellia),
        },
        Algorithm::AsymmetricSignature(s) => match s {
            S::RsaPkcs1v15Sign { .. } | S::RsaPkcs1v15SignRaw | S::RsaPss { .. } => rsa,
            S::Ecdsa { .. } | S::EcdsaAny | S::DeterministicEcdsa { .. } => weierstrass,
        },
        Algorithm::AsymmetricEncryption(_) => rsa,
        Algorithm::KeyAgreement(
            KeyAgreement::Raw(raw) | KeyAgreement::WithKeyDerivation { ka_alg: raw, .. },
        ) => match raw {
            RawKeyAgreement::Ecdh => ecc,
            RawKeyAgreement::Ffdh => dh,
        },
        Algorithm::KeyDerivation(_) => key_type == T::Derive,
    }
}

/// Whether a key of `key_type` may be created with the policy algorithm `alg`: as [`fits`],
/// except that an ECDSA policy is accepted on every ECC key, Montgomery ones included, as
/// upstream's compatibility check (psa-crypto) and Mbed TLS accept it when they create a key.
/// Such a key cannot sign: its use is refused with InvalidArgument, and CanDoCrypto's Use
/// check answers NotSupported.
pub(crate) fn fits_at_creation(key_type: KeyType, alg: Algorithm) -> bool {
    match alg {
        Algorithm::AsymmetricSignature(s) if s.is_ecc() => matches!(
            key_type,
            KeyType::EccKeyPair { .. } | KeyType::EccPublicKey { .. }
        ),
        _ => fits(key_type, alg),
    }
}
