//! Application structs to and from BOSS through serde.

use std::collections::BTreeMap;

use parsec_boss::{decode, from_slice, to_vec, Bytes, ErrorKind, Time, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTsk {
    client_nonce: Bytes,
    session_id: String,
    known_service_keys: Vec<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    comment: Option<String>,
    expires_at: Time,
    extra: Value,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Reply {
    Ok,
    Count(u32),
    Pair(i8, String),
    Error { code: String, text: String },
}

fn sample() -> CreateTsk {
    CreateTsk {
        client_nonce: Bytes(vec![9; 32]),
        session_id: "s-123".into(),
        known_service_keys: vec![Bytes(vec![0x10; 53]), Bytes(vec![0x20; 53])],
        comment: None,
        expires_at: Time(1_700_000_000),
        extra: Value::List(vec![Value::Null, Value::Float(0.5)]),
    }
}

#[test]
fn a_struct_is_a_dict_with_text_keys() {
    let bytes = to_vec(&sample()).unwrap();
    let v = decode(&bytes).unwrap();
    assert_eq!(v.get("sessionId"), Some(&Value::from("s-123")));
    assert_eq!(v.get("clientNonce"), Some(&Value::Bin(vec![9; 32])));
    assert_eq!(v.get("expiresAt"), Some(&Value::Time(Time(1_700_000_000))));
    assert_eq!(
        v.get("comment"),
        None,
        "skipped, and the dict's count says so"
    );
    assert_eq!(v.as_dict().unwrap().len(), 5);
    assert_eq!(from_slice::<CreateTsk>(&bytes).unwrap(), sample());
}

#[test]
fn option_some_and_none() {
    let mut s = sample();
    s.comment = Some("hi".into());
    let bytes = to_vec(&s).unwrap();
    assert_eq!(from_slice::<CreateTsk>(&bytes).unwrap(), s);
    // An explicit null reads as None.
    let mut v = decode(&to_vec(&sample()).unwrap()).unwrap();
    if let Value::Dict(pairs) = &mut v {
        pairs.push((Value::from("comment"), Value::Null));
    }
    let back: CreateTsk = from_slice(&v.to_bytes().unwrap()).unwrap();
    assert_eq!(back.comment, None);
}

#[test]
fn enums() {
    for r in [
        Reply::Ok,
        Reply::Count(7),
        Reply::Pair(-3, "x".into()),
        Reply::Error {
            code: "parsec_missing_tsk".into(),
            text: "no TSK".into(),
        },
    ] {
        let bytes = to_vec(&r).unwrap();
        assert_eq!(from_slice::<Reply>(&bytes).unwrap(), r);
    }
    assert_eq!(
        decode(&to_vec(&Reply::Ok).unwrap()).unwrap(),
        Value::from("Ok")
    );
    assert_eq!(
        decode(&to_vec(&Reply::Count(7)).unwrap()).unwrap(),
        Value::dict([("Count", Value::Int(7))])
    );
}

#[test]
fn maps_of_unknown_length_get_their_count_afterwards() {
    #[derive(Serialize)]
    struct Outer {
        a: u8,
        #[serde(flatten)]
        rest: BTreeMap<String, i32>,
    }
    let o = Outer {
        a: 1,
        rest: [("b".to_string(), 2), ("c".to_string(), -3)].into(),
    };
    let v = decode(&to_vec(&o).unwrap()).unwrap();
    assert_eq!(
        v,
        Value::dict([
            ("a", Value::Int(1)),
            ("b", Value::Int(2)),
            ("c", Value::Int(-3))
        ])
    );
}

#[test]
fn borrowed_text_even_through_references() {
    #[derive(Deserialize)]
    struct Args<'a> {
        #[serde(borrow)]
        first: &'a str,
        second: &'a str,
    }
    // {first: "abc", second: ref #2}: the dict is #1, "first" #2, "abc" #3.
    let bytes = [
        0x17, 0x2B, b'f', b'i', b'r', b's', b't', 0x1B, b'a', b'b', b'c', 0x33, b's', b'e', b'c',
        b'o', b'n', b'd', 0x1D,
    ];
    let a: Args = from_slice(&bytes).unwrap();
    assert_eq!((a.first, a.second), ("abc", "abc"));
}

#[test]
fn binary_fields_accept_the_javascript_text_reference() {
    #[derive(Deserialize)]
    struct Args {
        name: String,
        data: Bytes,
        #[serde(with = "parsec_boss::bytes")]
        other: Vec<u8>,
        plain: Vec<u8>,
    }
    // {name: "abc", data: ref "abc", other: ref "abc", plain: BIN 01 02}
    let v = Value::dict([
        ("name", Value::from("abc")),
        ("data", Value::from("abc")),
        ("other", Value::from("abc")),
        ("plain", Value::Bin(vec![1, 2])),
    ]);
    let a: Args = from_slice(&v.to_bytes().unwrap()).unwrap();
    assert_eq!(
        (a.name.as_str(), &a.data[..], &a.other[..]),
        ("abc", &b"abc"[..], &b"abc"[..])
    );
    assert_eq!(a.plain, vec![1, 2], "a Vec<u8> reads a BIN");
}

#[test]
fn shape_errors_are_typed_messages() {
    let bytes = Value::dict([("sessionId", Value::Int(5))])
        .to_bytes()
        .unwrap();
    let err = from_slice::<CreateTsk>(&bytes).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Message(_)), "{err}");
    // Unknown fields are skipped, trailing bytes are not.
    #[derive(Debug, Deserialize)]
    struct Small {
        a: i32,
    }
    let bytes = Value::dict([("z", Value::List(vec![Value::Null])), ("a", Value::Int(4))])
        .to_bytes()
        .unwrap();
    assert_eq!(from_slice::<Small>(&bytes).unwrap().a, 4);
    let mut more = bytes.clone();
    more.push(0);
    assert_eq!(
        from_slice::<Small>(&more).unwrap_err().kind(),
        &ErrorKind::TrailingBytes
    );
}

#[test]
fn javascript_unsafe_integers_are_refused_by_default() {
    assert_eq!(
        to_vec(&(1u64 << 31)).unwrap_err().kind(),
        &ErrorKind::IntegerUnsafeForJavaScript
    );
    assert!(to_vec(&((1u64 << 31) - 1)).is_ok());
    // Time values are not integers and may be large.
    assert!(to_vec(&Time(u64::MAX)).is_ok());
}

#[test]
fn value_conversions() {
    let v = parsec_boss::to_value(&sample()).unwrap();
    assert_eq!(parsec_boss::from_value::<CreateTsk>(&v).unwrap(), sample());
}

/// A dictionary whose key is the name serde uses internally for times stays a dictionary
/// (found by the `boss_decode` fuzz target: the two paths disagreed).
#[test]
fn dicts_with_the_reserved_keys_stay_dicts() {
    for value in [Value::Int(-13), Value::Int(5), Value::Text("x".into())] {
        for key in ["$__boss_time", "$__boss_bigint"] {
            let dict = Value::dict([(key, value.clone())]);
            let bytes = parsec_boss::encode(&dict).unwrap();
            assert_eq!(parsec_boss::from_slice::<Value>(&bytes).unwrap(), dict);
            assert_eq!(parsec_boss::decode(&bytes).unwrap(), dict);
        }
    }
    let time = parsec_boss::encode(&Value::Time(parsec_boss::Time(1_700_000_000))).unwrap();
    assert_eq!(
        parsec_boss::from_slice::<Value>(&time).unwrap(),
        Value::Time(parsec_boss::Time(1_700_000_000))
    );
}
