//! Universa containers, contracts and extended signatures come from a service or from nodes:
//! reading, verifying and checking roles, UNS names and parsec sections never panic, and a
//! container that reads has the HashId of its sealed bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec1::universa::{self, Pack, ParsecSection, Sealed};

fuzz_target!(|data: &[u8]| {
    if let Ok(pack) = Pack::read(data) {
        let sealed = &pack.contract;
        assert_eq!(sealed.hash_id, parsec1::hash_id::hash_id(&sealed.bytes));
        for sig in &sealed.signatures {
            let _ = universa::verify(sig, &sealed.data, &[]);
        }
        if let Ok((contract, signers)) = universa::open(sealed) {
            let _ = contract.check_signers(&signers, None);
            let _ = contract.holds_name("name");
            if let Some(section) = &contract.parsec {
                let _ = ParsecSection::read(section);
            }
        }
    }
    let _ = Sealed::read(data);
    let _ = universa::verify(data, b"contract", &[]);
    if let Ok(contract) = universa::Contract::parse(data) {
        // Roles of any shape, played by nobody: never a panic, never a loop.
        let _ = contract.check_signers(&[], None);
        let _ = contract.is_uns2();
    }
    if let Ok(v) = parsec_boss::decode(data) {
        let _ = ParsecSection::read(&v);
        let _ = universa::Role::read(&v).played_by(&[], &|_| None);
    }
});
