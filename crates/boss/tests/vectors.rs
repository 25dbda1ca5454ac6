//! The byte vectors of spec/parsec1.md §3 (Java reference writer and unicrypto), both ways
//! where our encoder writes that form, and decode-only for the forms we read but never write.

use parsec_boss::{decode, encode, encode_with, Decoder, EncodeOptions, ErrorKind, Time, Value};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

const LARGE: EncodeOptions = EncodeOptions {
    allow_large_integers: true,
    max_depth: 64,
};

/// Encodes to exactly `bytes` and decodes back to `v`.
#[track_caller]
fn both_ways(v: Value, bytes: &str) {
    let bytes = hex(bytes);
    assert_eq!(encode_with(&v, LARGE).unwrap(), bytes, "encoding {v}");
    assert_eq!(decode(&bytes).unwrap(), v, "decoding {bytes:02x?}");
}

#[test]
fn integers() {
    both_ways(Value::Int(0), "00");
    both_ways(Value::Int(7), "38");
    both_ways(Value::Int(22), "B0");
    both_ways(Value::Int(23), "B8 17");
    both_ways(Value::Int(99), "B8 63");
    both_ways(Value::Int(331), "C0 4B 01");
    both_ways(Value::Int(70000), "C8 70 11 01");
    both_ways(Value::Int(-7), "3A");
    both_ways(Value::Int(-99), "BA 63");
    both_ways(Value::Int(-331), "C2 4B 01");
    both_ways(Value::Int(13457559825), "D8 11 11 22 22 03");
    both_ways(Value::Int(2147483647), "D0 FF FF FF 7F");
    both_ways(Value::Int(u64::MAX.into()), "F0 FF FF FF FF FF FF FF FF");
}

#[test]
fn big_integer_form() {
    // Java writes every BigInteger in the 0xF8 form, even 5.
    assert_eq!(decode(&hex("F8 81 05")).unwrap(), Value::Int(5));
    // 97152833356252188945 does not fit in u64: we write it in the 0xF8 form too.
    both_ways(
        Value::Int(97152833356252188945),
        "F8 89 11 11 22 22 33 33 44 44 05",
    );
    both_ways(
        Value::Int(-97152833356252188945),
        "FA 89 11 11 22 22 33 33 44 44 05",
    );
    // A top bit set in the magnitude takes a zero byte, or it would read as negative.
    both_ways(
        Value::Int(0x80 << 64),
        "F8 8A 00 00 00 00 00 00 00 00 80 00",
    );
    // Two's complement: an INT whose bytes are negative is negative.
    assert_eq!(decode(&hex("F8 81 FB")).unwrap(), Value::Int(-5));
    // Beyond i128.
    let v = decode(&hex(
        "F8 91 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01",
    ))
    .unwrap();
    match &v {
        Value::BigInt(b) => {
            assert!(!b.is_negative());
            assert_eq!(b.magnitude_le().len(), 17);
        }
        other => panic!("{other}"),
    }
    let again = encode_with(&v, LARGE).unwrap();
    assert_eq!(decode(&again).unwrap(), v);
}

#[test]
fn javascript_safe_integers_by_default() {
    assert_eq!(
        encode(&Value::Int(2147483647)).unwrap(),
        hex("D0 FF FF FF 7F")
    );
    assert_eq!(
        encode(&Value::Int(-2147483647)).unwrap(),
        hex("D2 FF FF FF 7F")
    );
    for v in [1i128 << 31, -(1i128 << 31), 13457559825, 1 << 100] {
        let err = encode(&Value::Int(v)).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::IntegerUnsafeForJavaScript, "{v}");
    }
}

#[test]
fn scalars() {
    both_ways(Value::Bool(true), "61");
    both_ways(Value::Bool(false), "69");
    both_ways(Value::Null, "05");
    both_ways(Value::Float(1.5), "39 00 00 00 00 00 00 F8 3F");
    both_ways(Value::Float(-2.25), "39 00 00 00 00 00 00 02 C0");
    both_ways(Value::Float(0.0), "09");
    both_ways(Value::Float(1.0), "11");
    both_ways(Value::Float(-1.0), "21");
    both_ways(Value::Time(Time(1375965738)), "79 2A 24 0E 10 85");
    both_ways(text("Hello"), "2B 48 65 6C 6C 6F");
    both_ways(text("Абв"), "33 D0 90 D0 B1 D0 B2");
    both_ways(text(""), "03");
    both_ways(Value::Bin(vec![]), "04");
    both_ways(Value::Bin(vec![0, 1, 2, 3, 4, 5]), "34 00 01 02 03 04 05");
    // -0.0 is not 0.0: it keeps its eight bytes.
    let neg_zero = encode(&Value::Float(-0.0)).unwrap();
    assert_eq!(neg_zero, hex("39 00 00 00 00 00 00 00 80"));
    assert!(decode(&neg_zero).unwrap().to_string().starts_with('-'));
}

#[test]
fn extra_forms_read_but_never_written() {
    for (bytes, v) in [
        ("01", 0.0),
        ("19", 1.0),
        ("29", -1.0),
        ("31 00 00 C0 3F", 1.5),
    ] {
        assert_eq!(decode(&hex(bytes)).unwrap(), Value::Float(v), "{bytes}");
    }
    for bytes in ["41", "49", "51", "59", "71", "89"] {
        let err = decode(&hex(bytes)).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::UnsupportedExtra(_)),
            "{bytes}: {err}"
        );
    }
}

#[test]
fn lists_and_dicts() {
    both_ways(
        Value::List(vec![
            Value::Int(0),
            Value::Int(1),
            Value::Int(-1),
            Value::Int(7),
            Value::Int(-7),
        ]),
        "2E 00 08 0A 38 3A",
    );
    both_ways(
        Value::dict([("cmd", text("info")), ("args", Value::Dict(vec![]))]),
        "17 1B 63 6D 64 23 69 6E 66 6F 23 61 72 67 73 07",
    );
    // Keys of any type.
    both_ways(
        Value::Dict(vec![
            (text("one"), text("two")),
            (text("Great"), Value::Bool(true)),
            (Value::Int(172), Value::Bool(false)),
        ]),
        "1F 1B 6F 6E 65 1B 74 77 6F 2B 47 72 65 61 74 61 B8 AC 69",
    );
    let code = "parsec_session_not_found";
    let mut bytes = "0F 2B 65 72 72 6F 72 17 23 63 6F 64 65 BB 18".to_string();
    for b in code.bytes() {
        bytes += &format!(" {b:02x}");
    }
    bytes += " 23 74 65 78 74 0B 78";
    both_ways(
        Value::dict([(
            "error",
            Value::dict([("code", text(code)), ("text", text("x"))]),
        )]),
        &bytes,
    );
}

#[test]
fn references_as_javascript_writes_them() {
    // The root list is #1 and "Hello" #2.
    assert_eq!(
        decode(&hex("26 2B 48 65 6C 6C 6F 2B 57 6F 72 6C 64 15 15")).unwrap(),
        Value::List(vec![
            text("Hello"),
            text("World"),
            text("Hello"),
            text("Hello")
        ])
    );
}

#[test]
fn references_to_containers_as_java_writes_them() {
    let sub = Value::List(vec![text("Hello"), Value::Int(1), Value::Int(2)]);
    assert_eq!(
        decode(&hex("3E 50 05 1E 2B 48 65 6C 6C 6F 08 10 1D 05 15 15")).unwrap(),
        Value::List(vec![
            Value::Int(10),
            Value::Null,
            sub.clone(),
            text("Hello"),
            Value::Null,
            sub.clone(),
            sub
        ])
    );
    // Two equal empty maps: the second is a reference to the first.
    assert_eq!(
        decode(&hex("16 07 15")).unwrap(),
        Value::List(vec![Value::Dict(vec![]), Value::Dict(vec![])])
    );
}

#[test]
fn javascript_text_for_binary_confusion() {
    // unicrypto writes ["abc", bytes "abc"] with the bytes as a reference to the text.
    let v = decode(&hex("16 1B 61 62 63 15")).unwrap();
    let items = v.as_list().unwrap();
    assert_eq!(items[1], text("abc"));
    assert_eq!(items[1].as_bytes(), Some(&b"abc"[..]));
}

#[test]
fn bad_references() {
    // A reference to the list being read (cyclic data).
    let err = decode(&hex("16 0D 00")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::CyclicReference(1));
    // Beyond the cache.
    let err = decode(&hex("16 1B 61 62 63 1D")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::BadReference(3));
    // Numbers, booleans and doubles take no cache index: the first text is #2.
    let v = decode(&hex("26 08 61 1B 61 62 63 15")).unwrap();
    assert_eq!(v.as_list().unwrap()[3], text("abc"));
}

#[test]
fn stream_mode() {
    // Java: "abc", "abc", ["x", "x"] in stream mode.
    let bytes = hex("81 1B 61 62 63 1B 61 62 63 16 0B 78 0B 78");
    let mut d = Decoder::new(&bytes).unwrap();
    assert_eq!(d.next().unwrap().unwrap(), text("abc"));
    assert_eq!(d.next().unwrap().unwrap(), text("abc"));
    assert_eq!(
        d.next().unwrap().unwrap(),
        Value::List(vec![text("x"), text("x")])
    );
    assert!(d.next().is_none());
    // After the marker the cache is gone: a reference to what came before fails.
    let err = decode(&hex("16 1B 61 62 63 81 0D")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::BadReference(1));
}

#[test]
fn concatenated_objects_share_one_cache() {
    let bytes = hex("1B 61 62 63 0D 0D");
    let mut d = Decoder::new(&bytes).unwrap();
    let all: Vec<Value> = std::iter::from_fn(|| d.next())
        .map(Result::unwrap)
        .collect();
    assert_eq!(all, vec![text("abc"), text("abc"), text("abc")]);
    // `decode` wants exactly one.
    assert_eq!(
        decode(&bytes).unwrap_err().kind(),
        &ErrorKind::TrailingBytes
    );
}
