//! The BOSS arguments of the service's Parsec.1 commands: reading them never panics, and what
//! is accepted is written back to arguments that read the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_wire::Opcode;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let opcode = Opcode::ALL[usize::from(selector) % Opcode::ALL.len()];
    let Ok(mut de) = parsec_boss::Deserializer::new(body) else {
        return;
    };
    let Ok(op) = parsec_psa::deserialize_operation(opcode, &mut de) else {
        return;
    };
    let mut ser = parsec_boss::Serializer::new(parsec_boss::EncodeOptions {
        allow_large_integers: true,
        ..Default::default()
    });
    parsec_psa::serialize_operation(&op, &mut ser).unwrap();
    let bytes = ser.into_inner();
    let mut de = parsec_boss::Deserializer::new(&bytes).unwrap();
    let again = parsec_psa::deserialize_operation(opcode, &mut de).unwrap();
    assert_eq!(op, again);
});
