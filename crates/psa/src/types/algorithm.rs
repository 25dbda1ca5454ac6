//! PSA algorithm identifiers.

/// A hash algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hash {
    Md2,
    Md4,
    Md5,
    Ripemd160,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl Hash {
    /// Every hash, in wire order.
    pub const ALL: [Hash; 15] = [
        Hash::Md2,
        Hash::Md4,
        Hash::Md5,
        Hash::Ripemd160,
        Hash::Sha1,
        Hash::Sha224,
        Hash::Sha256,
        Hash::Sha384,
        Hash::Sha512,
        Hash::Sha512_224,
        Hash::Sha512_256,
        Hash::Sha3_224,
        Hash::Sha3_256,
        Hash::Sha3_384,
        Hash::Sha3_512,
    ];

    /// The size of the digest in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Hash::Md2 | Hash::Md4 | Hash::Md5 => 16,
            Hash::Ripemd160 | Hash::Sha1 => 20,
            Hash::Sha224 | Hash::Sha512_224 | Hash::Sha3_224 => 28,
            Hash::Sha256 | Hash::Sha512_256 | Hash::Sha3_256 => 32,
            Hash::Sha384 | Hash::Sha3_384 => 48,
            Hash::Sha512 | Hash::Sha3_512 => 64,
        }
    }

    /// MD2, MD4, MD5 and SHA-1: refused for key generation unless deprecated primitives are
    /// allowed (status 22).
    pub const fn is_deprecated(self) -> bool {
        matches!(self, Hash::Md2 | Hash::Md4 | Hash::Md5 | Hash::Sha1)
    }
}

/// A MAC algorithm at its natural length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FullLengthMac {
    Hmac { hash_alg: Hash },
    CbcMac,
    Cmac,
}

/// A MAC algorithm, possibly truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mac {
    FullLength(FullLengthMac),
    /// `mac_length` is in bytes.
    Truncated {
        mac_alg: FullLengthMac,
        mac_length: u32,
    },
}

impl Mac {
    /// The untruncated algorithm.
    pub const fn full_length(self) -> FullLengthMac {
        match self {
            Mac::FullLength(alg) | Mac::Truncated { mac_alg: alg, .. } => alg,
        }
    }
}

/// An unauthenticated cipher mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    StreamCipher,
    Ctr,
    Cfb,
    Ofb,
    Xts,
    EcbNoPadding,
    CbcNoPadding,
    CbcPkcs7,
}

/// An AEAD algorithm with its default tag length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AeadWithDefaultLengthTag {
    Ccm,
    Gcm,
    Chacha20Poly1305,
}

/// An AEAD algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aead {
    AeadWithDefaultLengthTag(AeadWithDefaultLengthTag),
    /// `tag_length` is in bytes.
    AeadWithShortenedTag {
        aead_alg: AeadWithDefaultLengthTag,
        tag_length: u32,
    },
}

impl Aead {
    /// The algorithm without its tag length.
    pub const fn base(self) -> AeadWithDefaultLengthTag {
        match self {
            Aead::AeadWithDefaultLengthTag(alg)
            | Aead::AeadWithShortenedTag { aead_alg: alg, .. } => alg,
        }
    }
}

/// The hash of a hash-and-sign algorithm. `Any` is a wildcard, valid only in key policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignHash {
    Specific(Hash),
    Any,
}

impl SignHash {
    /// Whether an operation with `alg` is allowed by this policy value. `Any` as the operation's
    /// hash is never allowed.
    pub fn permits(self, alg: SignHash) -> bool {
        match (self, alg) {
            (_, SignHash::Any) => false,
            (SignHash::Any, SignHash::Specific(_)) => true,
            (SignHash::Specific(policy), SignHash::Specific(used)) => policy == used,
        }
    }
}

impl From<Hash> for SignHash {
    fn from(hash: Hash) -> Self {
        SignHash::Specific(hash)
    }
}

/// An asymmetric signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsymmetricSignature {
    RsaPkcs1v15Sign { hash_alg: SignHash },
    RsaPkcs1v15SignRaw,
    RsaPss { hash_alg: SignHash },
    Ecdsa { hash_alg: SignHash },
    EcdsaAny,
    DeterministicEcdsa { hash_alg: SignHash },
}

impl AsymmetricSignature {
    /// The hash, for hash-and-sign algorithms.
    pub const fn hash(self) -> Option<SignHash> {
        match self {
            AsymmetricSignature::RsaPkcs1v15Sign { hash_alg }
            | AsymmetricSignature::RsaPss { hash_alg }
            | AsymmetricSignature::Ecdsa { hash_alg }
            | AsymmetricSignature::DeterministicEcdsa { hash_alg } => Some(hash_alg),
            AsymmetricSignature::RsaPkcs1v15SignRaw | AsymmetricSignature::EcdsaAny => None,
        }
    }

    /// Whether an operation with `alg` is allowed by this policy value (wildcard hashes
    /// included).
    pub fn permits(self, alg: AsymmetricSignature) -> bool {
        use AsymmetricSignature as S;
        match (self, alg) {
            (S::RsaPkcs1v15Sign { hash_alg: p }, S::RsaPkcs1v15Sign { hash_alg: u })
            | (S::RsaPss { hash_alg: p }, S::RsaPss { hash_alg: u })
            | (S::Ecdsa { hash_alg: p }, S::Ecdsa { hash_alg: u })
            | (S::DeterministicEcdsa { hash_alg: p }, S::DeterministicEcdsa { hash_alg: u }) => {
                p.permits(u)
            }
            (policy, used) => policy == used && policy.hash().is_none(),
        }
    }

    /// Whether this is an RSA scheme.
    pub const fn is_rsa(self) -> bool {
        matches!(
            self,
            AsymmetricSignature::RsaPkcs1v15Sign { .. }
                | AsymmetricSignature::RsaPkcs1v15SignRaw
                | AsymmetricSignature::RsaPss { .. }
        )
    }

    /// Whether this is an ECDSA scheme.
    pub const fn is_ecc(self) -> bool {
        !self.is_rsa()
    }
}

/// An asymmetric encryption algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsymmetricEncryption {
    RsaPkcs1v15Crypt,
    RsaOaep { hash_alg: Hash },
}

/// A raw key agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawKeyAgreement {
    Ffdh,
    Ecdh,
}

/// A key agreement, alone or followed by a key derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAgreement {
    Raw(RawKeyAgreement),
    WithKeyDerivation {
        ka_alg: RawKeyAgreement,
        kdf_alg: KeyDerivation,
    },
}

/// A key derivation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyDerivation {
    Hkdf { hash_alg: Hash },
    Tls12Prf { hash_alg: Hash },
    Tls12PskToMs { hash_alg: Hash },
}

/// Any algorithm, as found in a key policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// No cryptographic use (the key can still be exported if the flags allow it).
    None,
    Hash(Hash),
    Mac(Mac),
    Cipher(Cipher),
    Aead(Aead),
    AsymmetricSignature(AsymmetricSignature),
    AsymmetricEncryption(AsymmetricEncryption),
    KeyAgreement(KeyAgreement),
    KeyDerivation(KeyDerivation),
}

impl Algorithm {
    /// Whether a key whose policy names `self` may be used with `requested`. Only signature
    /// policies have wildcards (a policy hash of `Any`); a request is never a wildcard.
    pub fn permits(self, requested: Algorithm) -> bool {
        match (self, requested) {
            (Algorithm::AsymmetricSignature(policy), Algorithm::AsymmetricSignature(alg)) => {
                policy.permits(alg)
            }
            (policy, alg) => policy == alg,
        }
    }
}

macro_rules! into_algorithm {
    ($($family:ident),*) => {$(
        impl From<$family> for Algorithm {
            fn from(alg: $family) -> Self {
                Algorithm::$family(alg)
            }
        }
    )*};
}

into_algorithm!(
    Hash,
    Mac,
    Cipher,
    Aead,
    AsymmetricSignature,
    AsymmetricEncryption,
    KeyAgreement,
    KeyDerivation
);
