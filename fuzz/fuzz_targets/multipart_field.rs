//! The multipart reader of the Parsec.1 front: never panics, and a field it finds is a slice
//! of the body followed by a delimiter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_service::front::parsec1::multipart;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (head, body) = rest.split_at(usize::from(n).min(rest.len()));
    let Ok(content_type) = std::str::from_utf8(head) else {
        return;
    };
    let Some(boundary) = multipart::boundary(content_type) else {
        return;
    };
    if let Some(field) = multipart::field(body, boundary, "cmd") {
        let start = field.as_ptr() as usize - body.as_ptr() as usize;
        let after = &body[start + field.len()..];
        assert!(after.starts_with(format!("\r\n--{boundary}").as_bytes()));
    }
});
