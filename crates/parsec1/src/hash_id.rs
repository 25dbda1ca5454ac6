//! Universa's HashId (spec §6.2): SHA-512/256 ‖ SHA3-256 ‖ Streebog-256 of a sealed contract,
//! 96 bytes, usually shown in Base64. Used by `getServiceContract(knownHashId)`.

use base64::Engine;
use sha2::Digest;

/// Length of a HashId in bytes.
pub const LEN: usize = 96;

/// The HashId of `data`.
pub fn hash_id(data: &[u8]) -> Vec<u8> {
    let mut id = Vec::with_capacity(LEN);
    id.extend_from_slice(&sha2::Sha512_256::digest(data));
    id.extend_from_slice(&sha3::Sha3_256::digest(data));
    id.extend_from_slice(&streebog::Streebog256::digest(data));
    id
}

/// Reads a HashId from Base64 (standard or URL-safe alphabet, padded or not). `None` if it is
/// not Base64 of 96 bytes.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    if text.len() > 2 * LEN {
        return None;
    }
    let text = text.trim_end_matches('=');
    let bytes = STANDARD_NO_PAD
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()?;
    (bytes.len() == LEN).then_some(bytes)
}

/// A HashId in standard Base64.
pub fn to_base64(id: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn parts_in_order_with_known_digests() {
        let id = hash_id(b"abc");
        assert_eq!(id.len(), LEN);
        // FIPS 180-4 SHA-512/256("abc") and FIPS 202 SHA3-256("abc").
        assert_eq!(
            hex(&id[..32]),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        assert_eq!(
            hex(&id[32..64]),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        // RFC 6986 §10.1, example 1 (its bytes are printed there in reverse order).
        let m1 = b"012345678901234567890123456789012345678901234567890123456789012";
        assert_eq!(
            hex(&hash_id(m1)[64..]),
            "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
        );
    }

    #[test]
    fn base64_both_alphabets_and_length_checked() {
        let id = hash_id(b"contract");
        let text = to_base64(&id);
        assert_eq!(text.len(), 128);
        assert_eq!(from_base64(&text).as_deref(), Some(&id[..]));
        let url = text.replace('+', "-").replace('/', "_");
        assert_eq!(from_base64(&url).as_deref(), Some(&id[..]));
        assert_eq!(from_base64("AAAA"), None, "3 bytes is not a HashId");
        assert_eq!(from_base64("not base64!"), None);
    }
}
