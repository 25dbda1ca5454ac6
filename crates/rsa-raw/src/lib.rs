//! RSA private-key operations in constant time, from aws-lc: the raw operation (`m^d mod n`)
//! and PKCS#1 v1.5 decryption, for the paddings and key sizes that aws-lc-rs's safe API does
//! not offer (PSS with SHA-3 or MGF1-SHA-1, OAEP with other hashes or labels, keys under 2048
//! bits). The callers encode or decode the padding; the secret exponent is only ever used here.
//!
//! aws-lc blinds every private operation, exponentiates in constant time (CRT with
//! `BN_mod_exp_mont_consttime`), and checks the result against the public key before returning
//! it, so a fault cannot leak a prime. Its PKCS#1 v1.5 padding check is constant-time too;
//! whether a padding was valid is still the caller's answer to give (PSA reports it).
//!
//! This is the workspace's only crate with `unsafe` code outside the hardware providers'
//! libraries: four calls into C, in [`ffi`].
//!
//! Its one job: the few RSA private operations above. Imports no crate of the workspace.

mod ffi;

pub use ffi::PrivateKey;

/// Why an operation failed. Deliberately without detail: which check failed is not told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key is not a valid PKCS#1 `RSAPrivateKey`, or its parts do not agree.
    BadKey,
    /// The input is not one block (the modulus's length) or not below the modulus.
    BadInput,
    /// The decrypted block is not PKCS#1 v1.5 padded.
    BadPadding,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::BadKey => "not a valid RSA private key",
            Error::BadInput => "not an RSA block of this key",
            Error::BadPadding => "the padding is not valid",
        })
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests;
