//! Universa containers and extended signatures come from a service or from nodes: reading and
//! verifying never panic, and a container that reads has the HashId of its sealed bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec1::universa::{self, Sealed};

fuzz_target!(|data: &[u8]| {
    if let Ok(sealed) = Sealed::read(data) {
        assert_eq!(sealed.hash_id, parsec1::hash_id::hash_id(&sealed.bytes));
        for sig in &sealed.signatures {
            let _ = universa::verify(sig, &sealed.data, &[]);
        }
        let _ = universa::open(&sealed);
    }
    let _ = universa::verify(data, b"contract", &[]);
    let _ = universa::Contract::parse(data);
});
