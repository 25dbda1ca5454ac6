//! Request framing: decoding never panics, and what decodes re-encodes to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_wire::Request;

fuzz_target!(|data: &[u8]| {
    let limit = 4096;
    if let Ok(request) = Request::decode(data, limit) {
        let bytes = request.encode().expect("a decoded request fits its fields");
        assert_eq!(Request::decode(&bytes, limit), Ok(request));
    }
});
