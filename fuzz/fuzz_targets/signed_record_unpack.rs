//! SignedRecord and packed-key parsing never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec1::{PublicKey, SignedRecord};

fuzz_target!(|data: &[u8]| {
    if let Ok(sr) = SignedRecord::unpack(data) {
        // A record that verifies names a key with a long address or a clear error.
        let _ = sr.key().long_address();
    }
    let _ = PublicKey::unpack(data);
});
