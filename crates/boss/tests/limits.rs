//! Limits and malformed input: typed errors, checked before allocating, never a panic.

use parsec_boss::{decode, decode_with, encode, ErrorKind, Limits, Value};

fn limits(max_depth: usize, max_size: usize, max_elements: usize) -> Limits {
    Limits {
        max_depth,
        max_size,
        max_elements,
    }
}

#[test]
fn huge_announced_lengths_fail_without_allocating() {
    // A list of 2^64-1 items, a text of 2^64-1 bytes, a dict of 2^62 pairs: each in a few bytes.
    for bytes in [
        &[0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..],
        &[0xF3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        &[0xF7, 0, 0, 0, 0, 0, 0, 0, 0x40],
        &[0xBE, 0xFF],
    ] {
        let err = decode(bytes).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::UnexpectedEnd | ErrorKind::LengthOverflow
            ),
            "{bytes:02x?}: {err}"
        );
    }
    // The big-integer form announcing more bytes than there are.
    assert_eq!(
        decode(&[0xF8, 0xFF, 0xFF, 0x83]).unwrap_err().kind(),
        &ErrorKind::UnexpectedEnd
    );
    // ... or a length in that form.
    let mut bytes = vec![0xFB, 0x89];
    bytes.extend_from_slice(&[0xFF; 9]);
    assert_eq!(
        decode(&bytes).unwrap_err().kind(),
        &ErrorKind::LengthOverflow
    );
}

#[test]
fn truncated_input_is_an_error_at_every_cut() {
    let v = Value::dict([
        ("cmd", Value::from("psaSignHash")),
        (
            "args",
            Value::List(vec![
                Value::from(vec![7u8; 40]),
                Value::Float(2.5),
                Value::Int(-70000),
            ]),
        ),
    ]);
    let bytes = encode(&v).unwrap();
    for cut in 0..bytes.len() {
        let err = decode(&bytes[..cut]).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::UnexpectedEnd, "cut at {cut}");
    }
    assert_eq!(decode(&bytes).unwrap(), v);
}

#[test]
fn depth_limit() {
    let mut bytes = vec![0x0E; 65]; // 65 nested one-item lists
    bytes.push(0x00);
    assert_eq!(decode(&bytes).unwrap_err().kind(), &ErrorKind::DepthLimit);
    assert!(decode(&bytes[1..]).is_ok(), "64 levels are allowed");
    // The encoder refuses what the decoder would refuse.
    let mut v = Value::Null;
    for _ in 0..65 {
        v = Value::List(vec![v]);
    }
    assert_eq!(encode(&v).unwrap_err().kind(), &ErrorKind::DepthLimit);
}

/// A one-byte-value header (V < 256).
fn header(code: u8, v: usize) -> Vec<u8> {
    if v < 23 {
        vec![(v as u8) << 3 | code]
    } else {
        vec![23 << 3 | code, v as u8]
    }
}

/// A chain of lists, each holding two references to the previous: 2^n items from 4n bytes.
fn doubling_chain(n: usize) -> Vec<u8> {
    let mut bytes = header(6, n + 1); // root list: 0, then n sublists
    bytes.push(0x00);
    // Root is #1. The first sublist [0, 0] is #2; sublist k (#k+2) holds two refs to #k+1.
    bytes.extend_from_slice(&[0x16, 0x00, 0x00]);
    for k in 1..n {
        bytes.push(0x16);
        bytes.extend(header(5, k + 1));
        bytes.extend(header(5, k + 1));
    }
    bytes
}

#[test]
fn references_cannot_multiply_past_the_element_limit() {
    let bytes = doubling_chain(10);
    let v = decode(&bytes).unwrap();
    assert_eq!(v.as_list().unwrap().len(), 11);
    // 30 doublings would be a billion items; the element limit stops it early.
    let bytes = doubling_chain(30);
    assert_eq!(decode(&bytes).unwrap_err().kind(), &ErrorKind::ElementLimit);
}

#[test]
fn references_cannot_multiply_bytes_past_the_size_limit() {
    // One 1000-byte binary and 100 references to it: 101,000 bytes produced.
    let mut bytes = vec![0xC6, 101, 0];
    bytes.extend_from_slice(&[0xC4, 0xE8, 0x03]);
    bytes.extend_from_slice(&[0xAA; 1000]);
    bytes.extend(std::iter::repeat_n(0x15, 100));
    assert!(decode_with(&bytes, limits(8, 200_000, 1000)).is_ok());
    assert_eq!(
        decode_with(&bytes, limits(8, 100_000, 1000))
            .unwrap_err()
            .kind(),
        &ErrorKind::SizeLimit
    );
}

#[test]
fn input_larger_than_the_limit_is_refused_up_front() {
    let bytes = vec![0u8; 101];
    assert_eq!(
        decode_with(&bytes, limits(8, 100, 1000))
            .unwrap_err()
            .kind(),
        &ErrorKind::SizeLimit
    );
}

#[test]
fn bad_utf8_and_bad_varints() {
    assert_eq!(
        decode(&[0x0B, 0xFF]).unwrap_err().kind(),
        &ErrorKind::InvalidUtf8
    );
    let mut time = vec![0x79];
    time.extend_from_slice(&[0x7F; 11]);
    time.push(0x81);
    assert_eq!(
        decode(&time).unwrap_err().kind(),
        &ErrorKind::LengthOverflow
    );
    // The largest time that fits in 64 bits reads; one bit more does not.
    let mut max = vec![0x79];
    max.extend_from_slice(&[0x7F; 9]);
    max.push(0x81);
    assert_eq!(
        decode(&max).unwrap(),
        Value::Time(parsec_boss::Time(u64::MAX))
    );
    max[10] = 0x82;
    assert_eq!(decode(&max).unwrap_err().kind(), &ErrorKind::LengthOverflow);
}

#[test]
fn errors_say_where() {
    let err = decode(&[0x16, 0x00, 0x0B, 0xFF]).unwrap_err();
    assert_eq!(err.offset(), Some(2));
    assert!(err.to_string().contains("at byte 2"), "{err}");
}

/// Stream markers used to be read by recursion: a message of nothing but markers (one byte
/// each) could overflow the stack of whoever decoded it. Now any run of them is a loop.
#[test]
fn a_long_run_of_stream_markers_is_no_deeper_than_one() {
    let mut bytes = vec![0x81u8; 1 << 20];
    bytes.push(0x00); // the integer 0
    let v = decode_with(&bytes, limits(4, 2 << 20, 16)).unwrap();
    assert_eq!(v, parsec_boss::Value::Int(0));
    // Markers cost no element: the budget counts items only.
    let v = decode_with(&bytes, limits(4, 2 << 20, 1)).unwrap();
    assert_eq!(v, parsec_boss::Value::Int(0));
}
