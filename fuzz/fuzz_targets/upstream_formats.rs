//! `parsec migrate`'s decoders of an upstream installation's files: its key attributes
//! (bincode of psa-crypto's `Attributes`), an on-disk mapping (bincode `KeyInfo`) and an Mbed
//! Crypto key file (`<id>.psa_its`) and a TPM key record. Nothing panics; a key file that reads gives material within
//! the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_service::migrate::format;

fuzz_target!(|data: &[u8]| {
    let _ = format::attributes(data);
    let _ = format::u32_key_id(data);
    let _ = format::key_info(data);
    if let Ok(file) = format::psa_key_file(data) {
        assert!(file.material.len() <= data.len());
    }
    if let Ok(record) = format::tpm_record(data) {
        assert!(record.private.len() + record.auth_value.len() <= data.len());
    }
});
