//! The vectors of spec/parsec1.md §4, and the properties each primitive must have.

use parsec1::{pow, KeyAddress, PrivateKey, PublicKey, SignedRecord, SymmetricKey};
use parsec_boss::Value;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- EtA (§4.7) ---------------------------------------------------------------------------

fn eta_vector_key() -> SymmetricKey {
    let k: [u8; 32] = std::array::from_fn(|i| i as u8);
    SymmetricKey::new(&k)
}

#[test]
fn eta_vector() {
    let plain = hex("171b636d647367657453657373696f6e496e666f236172677307");
    let iv: [u8; 16] = hex("0697bc6fa5254b82bc3c23b340f4e747").try_into().unwrap();
    let expected = hex("0697bc6fa5254b82bc3c23b340f4e747
         1665c0bdf420a6f8a7235b0fecc9ba3cd88fb88f3a173a801a6f
         85cce7768bca3185b5e99ce1bb30a5bbb281b96ac8fcf28329de181c38c3f1f1");
    let key = eta_vector_key();
    assert_eq!(key.encrypt_with_iv(&plain, &iv), expected);
    assert_eq!(key.decrypt(&expected).unwrap(), plain);
}

#[test]
fn eta_counter_is_xored_not_added() {
    // With an IV whose last byte is odd, standard CTR's second block (IV + 1) differs from the
    // XOR scheme's (IV ^ 1). Keystream block 1 must equal block 0 of a message encrypted
    // under the IV with its last bit flipped.
    let key = eta_vector_key();
    let iv = [0x11u8; 16];
    let zeros = [0u8; 48];
    let c = key.encrypt_with_iv(&zeros, &iv);
    let mut flipped = iv;
    flipped[15] ^= 1;
    let c1 = key.encrypt_with_iv(&zeros[..16], &flipped);
    assert_eq!(c[16 + 16..16 + 32], c1[16..32], "block 1 = AES(IV ^ 1)");
    let mut plus_one = iv;
    plus_one[15] = plus_one[15].wrapping_add(1);
    let c_add = key.encrypt_with_iv(&zeros[..16], &plus_one);
    assert_ne!(c[16 + 16..16 + 32], c_add[16..32], "not AES(IV + 1)");
    // Block 2 = AES(IV ^ 2).
    let mut x2 = iv;
    x2[15] ^= 2;
    assert_eq!(
        c[16 + 32..16 + 48],
        key.encrypt_with_iv(&zeros[..16], &x2)[16..32]
    );
}

#[test]
fn eta_rejects_any_tampering_and_short_input() {
    let key = SymmetricKey::random().unwrap();
    let plain: Vec<u8> = (0..100u8).collect();
    let c = key.encrypt(&plain).unwrap();
    assert_eq!(c.len(), plain.len() + parsec1::eta::OVERHEAD);
    assert_eq!(key.decrypt(&c).unwrap(), plain);
    // Any bit of the ciphertext or the tag: refused. (The IV is not covered by the tag, as in
    // every implementation: flipping it only changes the plaintext.)
    for i in 16..c.len() {
        let mut t = c.clone();
        t[i] ^= 0x01;
        assert!(key.decrypt(&t).is_err(), "byte {i}");
    }
    for n in 0..parsec1::eta::OVERHEAD {
        assert!(key.decrypt(&c[..n]).is_err(), "{n} bytes");
    }
    // Another key: refused, with the text clients look for.
    let err = SymmetricKey::random().unwrap().decrypt(&c).unwrap_err();
    assert!(err.to_string().contains("HMAC"), "{err}");
    // Two encryptions of one message differ (random IV).
    assert_ne!(key.encrypt(&plain).unwrap(), c);
    // Messages of every length around block and batch boundaries.
    for n in [0, 1, 15, 16, 17, 127, 128, 129, 1000] {
        let p = vec![0xA5u8; n];
        assert_eq!(key.decrypt(&key.encrypt(&p).unwrap()).unwrap(), p, "{n}");
    }
}

// ---- Key addresses (§4.2) -----------------------------------------------------------------

const ZERO_SHORT: &str = "yNb7j1viLcZunrTHozyfJPTZJrprRSPpY485Lwzq1CFK3sFQ3S";
const ZERO_LONG: &str = "Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw4m";

#[test]
fn java_zero_addresses() {
    for (text, len) in [(ZERO_SHORT, 37), (ZERO_LONG, 53)] {
        let a = KeyAddress::parse(text).unwrap();
        assert_eq!(a.as_bytes().len(), len);
        assert_eq!(a.as_bytes()[0], 0x1D);
        assert_eq!(a.type_mark(), 13);
        assert!(a.as_bytes()[1..len - 4].iter().all(|&b| b == 0));
        assert_eq!(a.to_string(), text, "Safe58 round trip");
        assert_eq!(a.is_long(), len == 53);
    }
}

#[test]
fn uparsecjs_service_key_addresses_are_valid() {
    let a = KeyAddress::from_bytes(&hex(
        "10c6e13e1d09db6b7411f2137573a11e70761ca5bda01ab1b086d653b881cc63b8fcddb4c7cdf794be76ecf06f57f65252744e9eab",
    ))
    .unwrap();
    assert!(a.is_long());
    let b = KeyAddress::parse(
        "J1VHgsR6coVpG4HVEDmR9y2fX9x6gz7M1p6sAK5Byok9wWp54bKsZxHMMezmQG3W9PgrKQRf",
    )
    .unwrap();
    assert!(b.is_long());
    assert_ne!(a, b);
}

#[test]
fn address_checks() {
    let good = KeyAddress::parse(ZERO_LONG).unwrap().as_bytes().to_vec();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        assert!(KeyAddress::from_bytes(&bad).is_err(), "byte {i}");
    }
    assert!(KeyAddress::from_bytes(&good[..52]).is_err());
    // Strict parsing refuses characters outside the alphabet; lenient parsing maps them.
    assert!(ZERO_SHORT.contains('1'));
    let typed = ZERO_SHORT.replace('1', "l");
    assert!(KeyAddress::parse(&typed).is_err());
    assert_eq!(
        KeyAddress::parse_lenient(&format!(" {typed} "))
            .unwrap()
            .to_string(),
        ZERO_SHORT
    );
    assert!(KeyAddress::parse("0OIl").is_err());
    assert!(KeyAddress::parse(&"z".repeat(500)).is_err());
}

#[test]
fn safe58_leading_zeros() {
    use parsec1::address::{safe58_decode, safe58_encode};
    for data in [&[][..], &[0], &[0, 0, 1], &[0xFF; 20], &[0, 0x3A, 0, 7]] {
        let text = safe58_encode(data);
        assert_eq!(safe58_decode(&text).unwrap(), data, "{text}");
    }
    assert_eq!(safe58_encode(&[0, 0, 1]), "112");
    assert_eq!(safe58_encode(b"hello world"), "StV1DL6CwTryKyV");
}

// ---- RSA, SignedRecord (§4.1, §4.4–§4.6) --------------------------------------------------

fn key() -> &'static PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(2048).unwrap())
}

#[test]
fn uparsecjs_historic_signed_record_verifies() {
    let bytes = hex(include_str!("../testdata/uparsecjs_signed_record.hex"));
    let sr = SignedRecord::unpack(&bytes).unwrap();
    assert_eq!(sr.key().bits(), 2048);
    assert_eq!(sr.nonce(), None);
    let pow = sr
        .payload()
        .get("POWResult")
        .and_then(Value::as_bytes)
        .unwrap();
    assert_eq!(pow.len(), 8);
    // One bit off in the signed data: refused.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(SignedRecord::unpack(&bad).is_err());
}

#[test]
fn key_packing() {
    let k = key();
    let public = k.public_key();
    let packed = public.pack();
    assert_eq!(
        packed[..9],
        hex("1E 08 1C 01 00 01 C4 00 01")[..],
        "[1, e, n] with a 256-byte n"
    );
    assert_eq!(&PublicKey::unpack(&packed).unwrap(), public);
    let private = k.pack();
    assert_eq!(private[..6], hex("26 00 1C 01 00 01")[..], "[0, e, p, q]");
    let again = PrivateKey::unpack(&private).unwrap();
    assert_eq!(again.public_key(), public);
    assert_eq!(public.long_address().unwrap().as_bytes().len(), 53);
    assert_eq!(public.short_address().unwrap().as_bytes().len(), 37);
    assert!(public.long_address().unwrap().matches(public));
    assert!(!KeyAddress::parse(ZERO_LONG).unwrap().matches(public));
    // Malformed keys.
    for bad in [
        &b""[..],
        &hex("05"),
        &hex("1E 08 1C 01 00 01 04"),
        &hex("16 08 04"),
    ] {
        assert!(PublicKey::unpack(bad).is_err(), "{bad:02x?}");
    }
    assert!(
        PrivateKey::unpack(&packed).is_err(),
        "a public key is not a private key"
    );
}

#[test]
fn oaep_round_trip_and_limits() {
    let k = key();
    let c = k.public_key().encrypt_oaep(&[7; 214]).unwrap();
    assert_eq!(c.len(), 256);
    assert_eq!(&k.decrypt_oaep(&c).unwrap()[..], &[7; 214]);
    assert!(
        k.public_key().encrypt_oaep(&[7; 215]).is_err(),
        "214 bytes at most for 2048 bits"
    );
    let mut bad = c.clone();
    bad[100] ^= 1;
    assert!(k.decrypt_oaep(&bad).is_err());
}

#[test]
fn pss_sign_and_verify() {
    let k = key();
    let sig = k.sign_pss(b"data").unwrap();
    assert_eq!(sig.len(), 256);
    k.public_key().verify_pss(b"data", &sig).unwrap();
    assert!(k.public_key().verify_pss(b"datA", &sig).is_err());
    let mut bad = sig.clone();
    bad[0] ^= 0x40;
    assert!(k.public_key().verify_pss(b"data", &bad).is_err());
    assert!(k.public_key().verify_pss(b"data", &sig[1..]).is_err());
    // Randomised salt: two signatures differ, both verify.
    let sig2 = k.sign_pss(b"data").unwrap();
    assert_ne!(sig, sig2);
    k.public_key().verify_pss(b"data", &sig2).unwrap();
}

#[test]
fn signed_record_round_trip() {
    let k = key();
    let payload = Value::dict([
        ("clientNonce", Value::Bin(vec![1; 32])),
        ("sessionId", "s".into()),
    ]);
    for nonce in [None, Some(&[9u8; 32][..])] {
        let packed = SignedRecord::pack(k, nonce, &payload).unwrap();
        let sr = SignedRecord::unpack(&packed).unwrap();
        assert_eq!(sr.nonce(), nonce);
        assert_eq!(sr.payload(), &payload);
        assert_eq!(sr.key(), k.public_key());
    }
    // Another type, another shape: refused.
    let packed = SignedRecord::pack(k, None, &payload).unwrap();
    let mut outer = parsec_boss::decode(&packed).unwrap();
    if let Value::List(items) = &mut outer {
        items[0] = Value::Int(1);
    }
    let err = SignedRecord::unpack(&outer.to_bytes().unwrap()).unwrap_err();
    assert!(
        matches!(err, parsec1::Error::UnsupportedRecordType(1)),
        "{err}"
    );
    assert!(SignedRecord::unpack(&parsec_boss::encode(&Value::List(vec![])).unwrap()).is_err());
    // A record re-signed by another key carries that key: verification passes, and the
    // caller sees a different key.
    let other = PrivateKey::generate(2048).unwrap();
    let sr = SignedRecord::unpack(&SignedRecord::pack(&other, None, &payload).unwrap()).unwrap();
    assert_ne!(sr.key(), k.public_key());
}

// ---- Proof of work (§4.8) -----------------------------------------------------------------

#[test]
fn pow_vector() {
    let solution = hex("6210000000000000");
    assert!(pow::check(&solution, b"powsource", 12));
    assert!(pow::check(&solution, b"powsource", 11));
    assert!(!pow::check(&solution, b"powsource", 13));
    assert!(!pow::check(&solution[..7], b"powsource", 12));
    assert_eq!(pow::leading_zero_bits(&[0x00, 0x30, 0x03]), 12);
}

#[test]
fn pow_solve() {
    for length in [0, 4, 10] {
        let s = pow::solve(b"foobar", length).unwrap();
        assert!(pow::check(&s, b"foobar", length));
        assert!(
            !pow::check(&s, b"foobar", length + 1),
            "exactly {length} zeros, then a one"
        );
    }
    assert!(pow::solve(b"x", 384).is_none());
}
