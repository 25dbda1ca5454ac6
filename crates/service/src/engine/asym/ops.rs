//! Operations with a parsed key, each handed to the code for its key's kind (`rsa_ops`,
//! `ecc_ops`, `brainpool`, `x448`): signatures of hashes and messages, RSA encryption and
//! decryption, raw key agreement.

use parsec_psa::{AsymmetricEncryption, AsymmetricSignature, RawKeyAgreement, Secret};
use parsec_wire::Status;

use super::{
    brainpool, ecc_ops, hash_message, request_hash, rsa_ops, x448, AsymKey, Inner, INVALID,
};

// ---------------------------------------------------------------------------------------------
// Signatures

/// Signs a hash (or, for the raw and "any" schemes, the given bytes).
pub fn sign_hash(key: &AsymKey, alg: AsymmetricSignature, hash: &[u8]) -> Result<Vec<u8>, Status> {
    let hash_alg = request_hash(alg)?;
    if hash_alg.is_some_and(|h| h.output_len() != hash.len()) {
        return Err(INVALID);
    }
    match &key.inner {
        Inner::RsaPair(pair) if alg.is_rsa() => rsa_ops::sign(pair, alg, hash_alg, hash),
        Inner::EcPair(pair) if alg.is_ecc() => {
            ecc_ops::sign(pair, key.material.expose(), alg, hash_alg, hash)
        }
        Inner::BrainpoolPair(pair) if alg.is_ecc() => {
            brainpool::sign(pair, key.material.expose(), alg, hash_alg, hash)
        }
        _ => Err(INVALID),
    }
}

/// Verifies a signature of a hash.
pub fn verify_hash(
    key: &AsymKey,
    alg: AsymmetricSignature,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    let hash_alg = request_hash(alg)?;
    if hash_alg.is_some_and(|h| h.output_len() != hash.len()) {
        return Err(INVALID);
    }
    match &key.inner {
        Inner::RsaPair(pair) if alg.is_rsa() => {
            rsa_ops::verify(&pair.public, alg, hash_alg, hash, signature)
        }
        Inner::RsaPublic(public) if alg.is_rsa() => {
            rsa_ops::verify(public, alg, hash_alg, hash, signature)
        }
        Inner::EcPair(pair) if alg.is_ecc() => ecc_ops::verify(&pair.public, alg, hash, signature),
        Inner::EcPublic(public) if alg.is_ecc() => ecc_ops::verify(public, alg, hash, signature),
        Inner::BrainpoolPair(pair) if alg.is_ecc() => {
            brainpool::verify(&pair.public, hash, signature)
        }
        Inner::BrainpoolPublic if alg.is_ecc() => {
            brainpool::verify(key.material.expose(), hash, signature)
        }
        _ => Err(INVALID),
    }
}

/// The hash that a message signature with `alg` signs: the message hashed with the
/// algorithm's hash (a wildcard or a scheme without a hash is refused).
pub fn message_hash(alg: AsymmetricSignature, message: &[u8]) -> Result<Vec<u8>, Status> {
    let hash = request_hash(alg)?.ok_or(INVALID)?;
    hash_message(hash, message)
}

/// Hashes the message with the algorithm's hash, then signs.
pub fn sign_message(
    key: &AsymKey,
    alg: AsymmetricSignature,
    message: &[u8],
) -> Result<Vec<u8>, Status> {
    sign_hash(key, alg, &message_hash(alg, message)?)
}

/// Hashes the message with the algorithm's hash, then verifies.
pub fn verify_message(
    key: &AsymKey,
    alg: AsymmetricSignature,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    verify_hash(key, alg, &message_hash(alg, message)?, signature)
}

// ---------------------------------------------------------------------------------------------
// Encryption

/// Encrypts with an RSA key (pair or public). `salt` is the OAEP label.
pub fn encrypt(
    key: &AsymKey,
    alg: AsymmetricEncryption,
    plaintext: &[u8],
    salt: Option<&[u8]>,
) -> Result<Vec<u8>, Status> {
    let public = match &key.inner {
        Inner::RsaPair(pair) => &pair.public,
        Inner::RsaPublic(public) => public,
        _ => return Err(INVALID),
    };
    rsa_ops::encrypt(public, alg, plaintext, salt.unwrap_or_default())
}

/// Decrypts with an RSA key pair. `salt` is the OAEP label.
pub fn decrypt(
    key: &AsymKey,
    alg: AsymmetricEncryption,
    ciphertext: &[u8],
    salt: Option<&[u8]>,
) -> Result<Secret, Status> {
    match &key.inner {
        Inner::RsaPair(pair) => rsa_ops::decrypt(pair, alg, ciphertext, salt.unwrap_or_default()),
        _ => Err(INVALID),
    }
}

// ---------------------------------------------------------------------------------------------
// Key agreement

/// Raw key agreement: the shared secret (ECDH: the x-coordinate; X25519 and X448: the RFC 7748
/// output).
/// The peer key is in public key export format.
pub fn raw_key_agreement(
    key: &AsymKey,
    alg: RawKeyAgreement,
    peer_public_key: &[u8],
) -> Result<Secret, Status> {
    match (&key.inner, alg) {
        (Inner::EcPair(pair), RawKeyAgreement::Ecdh) => {
            ecc_ops::ecdh(pair, key.material.expose(), peer_public_key)
        }
        (Inner::X25519Pair(pair), RawKeyAgreement::Ecdh) => ecc_ops::x25519(pair, peer_public_key),
        (Inner::X448Pair(_), RawKeyAgreement::Ecdh) => {
            x448::agree(key.material.expose(), peer_public_key)
        }
        (Inner::BrainpoolPair(pair), RawKeyAgreement::Ecdh) => {
            brainpool::ecdh(pair, peer_public_key)
        }
        _ => Err(INVALID),
    }
}
