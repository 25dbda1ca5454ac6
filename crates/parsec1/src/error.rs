//! Errors of the Parsec.1 primitives.

/// What went wrong. Messages name the problem, never secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Boss(#[from] parsec_boss::Error),
    /// A packed key that is not `[1, e, n]` / `[0, e, p, q]`, or that RSA refuses.
    #[error("bad RSA key: {0}")]
    BadKey(&'static str),
    /// A key address of the wrong length, with a bad checksum, or bad Safe58 text.
    #[error("bad key address: {0}")]
    BadAddress(&'static str),
    /// A key that has no Parsec.1 address (e ≠ 65537, or not 2048, 4096 or 8192 bits).
    #[error(
        "key has no address: only RSA keys with e = 65537 of 2048, 4096 or 8192 bits have one"
    )]
    NoAddress,
    /// A SignedRecord that is not `[type, key, signature, data]` with `data = [nonce, payload]`.
    #[error("bad signed record: {0}")]
    BadRecord(&'static str),
    /// A SignedRecord type other than 0 (SHA3-384).
    #[error("unsupported signed record type {0}")]
    UnsupportedRecordType(i128),
    /// A signature that does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// EtA: too short, or the HMAC does not match ("HMAC authentication failed" is what
    /// clients look for, spec §5.6).
    #[error("HMAC authentication failed, data corrupted")]
    Authentication,
    /// RSA-OAEP decryption failed, or the plaintext is too long for the key.
    #[error("RSA-OAEP: {0}")]
    Oaep(&'static str),
    /// The operating system's random generator failed.
    #[error("random generator failed")]
    Random,
    /// A Universa contract or extended signature that is not what it should be.
    #[error("{0}")]
    Contract(String),
}

pub type Result<T> = std::result::Result<T, Error>;
