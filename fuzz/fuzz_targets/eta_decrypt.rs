//! EtA decryption never panics, and whatever it accepts re-encrypts (same IV) to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec1::{eta, SymmetricKey};

fuzz_target!(|data: &[u8]| {
    let key = SymmetricKey::new(&[7; 32]);
    if let Ok(plain) = key.decrypt(data) {
        let iv = eta::iv_of(data).expect("an accepted message has an IV");
        assert_eq!(key.encrypt_with_iv(&plain, iv), data);
    }
});
