//! BOSS decoding never panics; what decodes re-encodes to bytes that decode to the same value
//! (compared as bytes, so NaN is equal to itself), and the serde path reads the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_boss::{decode_with, encode_with, from_slice_with, Decoder, EncodeOptions, Limits, Value};

const LIMITS: Limits = Limits {
    max_depth: 32,
    max_size: 1 << 16,
    max_elements: 1 << 12,
};
const ANY: EncodeOptions = EncodeOptions {
    allow_large_integers: true,
    max_depth: 32,
};

fuzz_target!(|data: &[u8]| {
    let decoded = decode_with(data, LIMITS);
    let via_serde = from_slice_with::<Value>(data, LIMITS);
    assert_eq!(decoded.is_ok(), via_serde.is_ok(), "{decoded:?} / {via_serde:?}");
    if let Ok(v) = decoded {
        let bytes = encode_with(&v, ANY).expect("a decoded value encodes");
        assert_eq!(encode_with(&via_serde.unwrap(), ANY).unwrap(), bytes);
        let again = decode_with(&bytes, LIMITS).expect("what we write, we read");
        assert_eq!(encode_with(&again, ANY).unwrap(), bytes, "stable");
    }
    // Several objects in one buffer.
    if let Ok(mut d) = Decoder::with_limits(data, LIMITS) {
        while let Some(Ok(_)) = d.next() {}
    }
});
