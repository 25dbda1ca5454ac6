//! Response decoding (client side): never panics, and round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_wire::Response;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = Response::decode(data, 4096) {
        let bytes = response.encode().expect("a decoded response fits its fields");
        assert_eq!(Response::decode(&bytes, 4096), Ok(response));
    }
});
