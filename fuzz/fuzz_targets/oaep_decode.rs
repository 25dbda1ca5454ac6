//! OAEP decoding of raw RSA output (what a device returns for an attacker's ciphertext): never
//! panics, a message it accepts fits the block, and what `encode` makes decodes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_psa::Hash;
use parsec_service::engine::oaep;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let hash = [Hash::Sha1, Hash::Sha224, Hash::Sha256, Hash::Sha384, Hash::Sha512, Hash::Md5]
        [usize::from(selector % 6)];
    let label_len = usize::from(selector / 6).min(rest.len());
    let (label, em) = rest.split_at(label_len);
    if let Ok(message) = oaep::decode(hash, label, em, em.len()) {
        assert!(message.len() + 2 * hash.output_len() + 2 <= em.len());
    }
    assert!(oaep::decode(hash, label, em, em.len() + 1).is_err());
    // Round trip: the rest of the input as seed then message, in a 1024-bit block.
    let h = hash.output_len();
    if em.len() >= h {
        let (seed, message) = em.split_at(h);
        if let Some(encoded) = oaep::encode(hash, label, message, seed, 128) {
            let decoded = oaep::decode(hash, label, &encoded, 128).unwrap();
            assert_eq!(decoded.expose(), message);
        }
    }
});
