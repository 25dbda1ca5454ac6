//! Hashes: `psa_hash_compute` / `psa_hash_compare`.

use aws_lc_rs::digest;
use parsec_psa::Hash;
use parsec_wire::Status;
use sha2::Digest;

use super::ct_eq;

/// MD2 and MD4 are not implemented (as Mbed TLS 3); the deprecated hashes of
/// [`Hash::is_deprecated`] (MD5, SHA-1) need `allow_deprecated`.
fn check(alg: Hash, allow_deprecated: bool) -> Result<(), Status> {
    match alg {
        Hash::Md2 | Hash::Md4 => Err(Status::PsaErrorNotSupported),
        _ if alg.is_deprecated() && !allow_deprecated => Err(Status::DeprecatedPrimitive),
        _ => Ok(()),
    }
}

/// `psa_hash_compute`.
pub fn hash_compute(alg: Hash, input: &[u8], allow_deprecated: bool) -> Result<Vec<u8>, Status> {
    check(alg, allow_deprecated)?;
    digest_of(alg, input)
}

/// `psa_hash_compare`: a digest that differs, or has the wrong length, is
/// `PsaErrorInvalidSignature` (as Mbed TLS).
pub fn hash_compare(
    alg: Hash,
    input: &[u8],
    hash: &[u8],
    allow_deprecated: bool,
) -> Result<(), Status> {
    let actual = hash_compute(alg, input, allow_deprecated)?;
    if ct_eq(&actual, hash) {
        Ok(())
    } else {
        Err(Status::PsaErrorInvalidSignature)
    }
}

/// The digest of `input`, with no deprecation check.
pub(super) fn digest_of(alg: Hash, input: &[u8]) -> Result<Vec<u8>, Status> {
    let aws = |alg: &'static digest::Algorithm| digest::digest(alg, input).as_ref().to_vec();
    Ok(match alg {
        Hash::Md2 | Hash::Md4 => return Err(Status::PsaErrorNotSupported),
        Hash::Md5 => md5::Md5::digest(input).to_vec(),
        Hash::Ripemd160 => ripemd::Ripemd160::digest(input).to_vec(),
        Hash::Sha1 => aws(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        Hash::Sha224 => aws(&digest::SHA224),
        Hash::Sha256 => aws(&digest::SHA256),
        Hash::Sha384 => aws(&digest::SHA384),
        Hash::Sha512 => aws(&digest::SHA512),
        Hash::Sha512_224 => sha2::Sha512_224::digest(input).to_vec(),
        Hash::Sha512_256 => aws(&digest::SHA512_256),
        Hash::Sha3_224 => sha3::Sha3_224::digest(input).to_vec(),
        Hash::Sha3_256 => aws(&digest::SHA3_256),
        Hash::Sha3_384 => aws(&digest::SHA3_384),
        Hash::Sha3_512 => aws(&digest::SHA3_512),
    })
}
