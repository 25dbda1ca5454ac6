//! Operation and result bodies: the first byte picks the opcode, the rest is the body. Decoding
//! never panics, and a decoded value re-encodes to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_psa::{decode_operation, decode_result, encode_operation, encode_result};
use parsec_wire::Opcode;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let opcode = Opcode::ALL[usize::from(pick) % Opcode::ALL.len()];
    if let Ok(op) = decode_operation(opcode, body) {
        assert_eq!(op.opcode(), opcode);
        assert_eq!(decode_operation(opcode, &encode_operation(&op)), Ok(op));
    }
    if let Ok(result) = decode_result(opcode, body) {
        assert_eq!(result.opcode(), opcode);
        assert_eq!(decode_result(opcode, &encode_result(&result)), Ok(result));
    }
});
