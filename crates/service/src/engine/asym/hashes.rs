//! The hashes of the signature and encryption code: which are supported, aws-lc-rs's where it
//! has them, and the `with_digest!` macro naming the RustCrypto type of any other.

use aws_lc_rs::digest;
use parsec_psa::{AsymmetricSignature, Hash, SignHash};
use parsec_wire::Status;
use sha2::Digest as _;

use super::{INVALID, UNSUPPORTED};

/// Runs `$body` with `$d` bound to the RustCrypto type of `$hash`; unsupported hashes give
/// NotSupported.
macro_rules! with_digest {
    ($hash:expr, $d:ident => $body:expr) => {
        match $hash {
            Hash::Sha1 => {
                type $d = sha1::Sha1;
                $body
            }
            Hash::Sha224 => {
                type $d = sha2::Sha224;
                $body
            }
            Hash::Sha256 => {
                type $d = sha2::Sha256;
                $body
            }
            Hash::Sha384 => {
                type $d = sha2::Sha384;
                $body
            }
            Hash::Sha512 => {
                type $d = sha2::Sha512;
                $body
            }
            Hash::Sha512_224 => {
                type $d = sha2::Sha512_224;
                $body
            }
            Hash::Sha512_256 => {
                type $d = sha2::Sha512_256;
                $body
            }
            Hash::Sha3_224 => {
                type $d = sha3::Sha3_224;
                $body
            }
            Hash::Sha3_256 => {
                type $d = sha3::Sha3_256;
                $body
            }
            Hash::Sha3_384 => {
                type $d = sha3::Sha3_384;
                $body
            }
            Hash::Sha3_512 => {
                type $d = sha3::Sha3_512;
                $body
            }
            Hash::Md2 | Hash::Md4 | Hash::Md5 | Hash::Ripemd160 => {
                Err(parsec_wire::Status::PsaErrorNotSupported)
            }
        }
    };
}

pub(super) fn hash_supported(hash: Hash) -> Result<(), Status> {
    match hash {
        Hash::Md2 | Hash::Md4 | Hash::Md5 | Hash::Ripemd160 => Err(UNSUPPORTED),
        _ => Ok(()),
    }
}

pub(super) fn lc_digest(hash: Hash) -> Option<&'static digest::Algorithm> {
    Some(match hash {
        Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha224 => &digest::SHA224,
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
        Hash::Sha512_256 => &digest::SHA512_256,
        Hash::Sha3_256 => &digest::SHA3_256,
        Hash::Sha3_384 => &digest::SHA3_384,
        Hash::Sha3_512 => &digest::SHA3_512,
        _ => return None,
    })
}

pub(super) fn hash_message(hash: Hash, message: &[u8]) -> Result<Vec<u8>, Status> {
    match lc_digest(hash) {
        Some(alg) => Ok(digest::digest(alg, message).as_ref().to_vec()),
        None => with_digest!(hash, D => Ok(D::digest(message).to_vec())),
    }
}

/// The hash of a request's hash-and-sign algorithm: a wildcard is for policies only.
pub(super) fn request_hash(alg: AsymmetricSignature) -> Result<Option<Hash>, Status> {
    match alg.hash() {
        None => Ok(None),
        Some(SignHash::Any) => Err(INVALID),
        Some(SignHash::Specific(hash)) => hash_supported(hash).map(|()| Some(hash)),
    }
}
