//! Key files (parsec-tool import-key reads any file it is given): reading never panics, and an
//! ECDSA signature in DER that converts to `r ‖ s` converts back to the same `r ‖ s`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_rs_client::{der, keyfile};

fuzz_target!(|data: &[u8]| {
    let _ = keyfile::parse(data);
    if let Some((&bits, rest)) = data.split_first() {
        let bits = u32::from(bits) * 4;
        if let Some(raw) = der::ecdsa_raw(rest, bits) {
            assert_eq!(der::ecdsa_raw(&der::ecdsa_signature(&raw), bits), Some(raw));
        }
    }
});
