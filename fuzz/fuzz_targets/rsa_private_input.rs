//! Ciphertexts and signature inputs reach aws-lc's private operation from clients: any bytes
//! give an answer or an error, never a panic or a crash in C, and every failure is one of the
//! two errors that tell nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsa_raw::{Error, PrivateKey};

const RSA1024: &[u8] =
    include_bytes!("../../crates/service/src/engine/testdata/asym/rsa1024.der");

fuzz_target!(|data: &[u8]| {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| PrivateKey::from_pkcs1_der(RSA1024).unwrap());
    match key.raw(data) {
        Ok(out) => assert_eq!(out.len(), key.size()),
        Err(e) => assert_eq!(e, Error::BadInput),
    }
    match key.decrypt_pkcs1v15(data) {
        Ok(out) => assert!(out.len() + 11 <= key.size()),
        Err(e) => assert!(matches!(e, Error::BadInput | Error::BadPadding)),
    }
    // Key bytes from a store that was tampered with: refused or accepted, never a crash.
    let _ = PrivateKey::from_pkcs1_der(data);
});
