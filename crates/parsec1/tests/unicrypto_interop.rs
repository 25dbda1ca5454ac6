//! Interop with the npm package unicrypto 1.14.1, an independent implementation (spec §7.1),
//! run under Node by `tests/node/unicrypto_peer.cjs`. In both directions: BOSS values encoded
//! on one side decode equal on the other; EtA and OAEP ciphertexts decrypt, PSS signatures,
//! SignedRecords and key addresses made on one side verify or match on the other.
//!
//! Needs `node` and `PARSEC_NODE_MODULES` (a node_modules holding unicrypto); `./test.sh`
//! installs both. Without them these tests fail and say so: they are never skipped.

#[path = "../../boss/tests/gen/mod.rs"]
mod gen;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use gen::{Rng, Shape};
use parsec1::{KeyAddress, PrivateKey, PublicKey, SignedRecord, SymmetricKey};
use parsec_boss::{Time, Value};
use serde_json::{json, Value as Json};

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Peer {
        let modules = std::env::var("PARSEC_NODE_MODULES").expect(
            "PARSEC_NODE_MODULES must name a node_modules directory with unicrypto 1.14.1; \
             ./test.sh installs it (npm ci of crates/parsec1/tests/node/package-lock.json)",
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/unicrypto_peer.cjs");
        let mut child = Command::new("node")
            .arg("--no-experimental-fetch")
            .arg(script)
            .env("PARSEC_NODE_MODULES", modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed (./test.sh installs nodejs)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one request; returns the response, whether ok or not.
    fn try_call(&mut self, request: Json) -> Json {
        writeln!(self.stdin, "{request}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the unicrypto peer exited (see its stderr above)"
        );
        serde_json::from_str(&line).unwrap()
    }

    /// Sends one request that must succeed.
    fn call(&mut self, request: Json) -> Json {
        let r = self.try_call(request.clone());
        assert_eq!(
            r["ok"], true,
            "unicrypto failed {}: {}",
            request["op"], r["error"]
        );
        r
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(v: &Json) -> Vec<u8> {
    let s = v.as_str().unwrap_or_else(|| panic!("not hex: {v}"));
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Our value in the peer's tagged JSON.
fn tagged(v: &Value) -> Json {
    match v {
        Value::Null => json!({"t": "null"}),
        Value::Bool(b) => json!({"t": "bool", "v": b}),
        Value::Int(i) => json!({"t": "int", "v": i.to_string()}),
        Value::Float(x) => json!({"t": "float", "v": x}),
        Value::Text(s) => json!({"t": "text", "v": s}),
        Value::Bin(b) => json!({"t": "bin", "v": hex(b)}),
        Value::Time(t) => json!({"t": "time", "v": t.0}),
        Value::List(l) => json!({"t": "list", "v": l.iter().map(tagged).collect::<Vec<_>>()}),
        Value::Dict(d) => {
            json!({"t": "dict", "v": d.iter().map(|(k, v)| json!([tagged(k), tagged(v)])).collect::<Vec<_>>()})
        }
        Value::BigInt(_) => panic!("no big integers for JavaScript"),
    }
}

/// The peer's tagged JSON as our value.
fn untagged(j: &Json) -> Value {
    let v = &j["v"];
    match j["t"].as_str().unwrap() {
        "null" => Value::Null,
        "bool" => Value::Bool(v.as_bool().unwrap()),
        "int" => Value::Int(v.as_str().unwrap().parse().unwrap()),
        "float" => Value::Float(v.as_f64().unwrap()),
        "text" => Value::Text(v.as_str().unwrap().into()),
        "bin" => Value::Bin(unhex(v)),
        "time" => Value::Time(Time(v.as_u64().unwrap())),
        "list" => Value::List(v.as_array().unwrap().iter().map(untagged).collect()),
        "dict" => Value::Dict(
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| (untagged(&p[0]), untagged(&p[1])))
                .collect(),
        ),
        other => panic!("unknown tag {other}"),
    }
}

const JS: Shape = Shape {
    js: true,
    max_depth: 4,
};

#[test]
fn boss_values_cross_in_both_directions() {
    let mut peer = Peer::start();
    for seed in 0..400 {
        let mut rng = Rng::new(seed);
        let v = gen::value(&mut rng, JS, 0);
        // Ours -> unicrypto.
        let bytes = parsec_boss::encode(&v).unwrap();
        let r = peer.call(json!({"op": "boss_decode", "hex": hex(&bytes)}));
        assert_eq!(
            untagged(&r["value"]),
            v,
            "unicrypto read our bytes, seed {seed}"
        );
        // unicrypto -> ours (its writer uses references for repeated texts and binaries).
        let r = peer.call(json!({"op": "boss_encode", "value": tagged(&v)}));
        let theirs = unhex(&r["hex"]);
        assert_eq!(
            parsec_boss::decode(&theirs).unwrap(),
            v,
            "we read unicrypto's bytes, seed {seed}"
        );
    }
    // Repeats, so that unicrypto's writer emits references to texts, binaries and the same
    // text once more as binary (its text/binary confusion, spec §3.7).
    let v = Value::List(vec![
        "abc".into(),
        "abc".into(),
        Value::Bin(vec![1, 2]),
        Value::Bin(vec![1, 2]),
    ]);
    let theirs = unhex(&peer.call(json!({"op": "boss_encode", "value": tagged(&v)}))["hex"]);
    assert!(
        theirs.len() < parsec_boss::encode(&v).unwrap().len(),
        "references were used"
    );
    assert_eq!(parsec_boss::decode(&theirs).unwrap(), v);
    let confused = Value::List(vec!["abc".into(), Value::Bin(b"abc".to_vec())]);
    let theirs = unhex(&peer.call(json!({"op": "boss_encode", "value": tagged(&confused)}))["hex"]);
    let ours = parsec_boss::decode(&theirs).unwrap();
    assert_eq!(ours.as_list().unwrap()[1].as_bytes(), Some(&b"abc"[..]));
    // A typical command, byte for byte the same on both sides.
    let cmd = Value::dict([("cmd", "info".into()), ("args", Value::Dict(vec![]))]);
    let r = peer.call(json!({"op": "boss_encode", "value": tagged(&cmd)}));
    assert_eq!(unhex(&r["hex"]), parsec_boss::encode(&cmd).unwrap());
}

#[test]
fn eta_in_both_directions() {
    let mut peer = Peer::start();
    let mut rng = Rng::new(7);
    // Not 0: unicrypto's WASM aborts on an HMAC of empty input (LTC_ARGCHK 'in != NULL') and
    // is unusable afterwards. Parsec.1 never encrypts an empty message (a BOSS object is at
    // least one byte); our side handles it (tests/vectors.rs).
    for n in [
        1usize, 15, 16, 17, 31, 33, 48, 100, 127, 128, 129, 255, 1000, 4099,
    ] {
        let key = SymmetricKey::random().unwrap();
        let plain = rng.bytes(n);
        let k = hex(key.as_bytes());
        let ours = key.encrypt(&plain).unwrap();
        let r = peer.call(json!({"op": "eta_decrypt", "key": k, "cipher": hex(&ours)}));
        assert_eq!(
            unhex(&r["plain"]),
            plain,
            "unicrypto decrypts ours, {n} bytes"
        );
        let r = peer.call(json!({"op": "eta_encrypt", "key": k, "plain": hex(&plain)}));
        assert_eq!(
            key.decrypt(&unhex(&r["hex"])).unwrap(),
            plain,
            "we decrypt unicrypto's, {n} bytes"
        );
        let mut tampered = ours.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let r = peer.try_call(json!({"op": "eta_decrypt", "key": k, "cipher": hex(&tampered)}));
        assert_eq!(r["ok"], false, "unicrypto refuses a bad tag too");
    }
}

/// What unicrypto makes of one of our public keys: its addresses.
fn their_addresses(peer: &mut Peer, key: &PublicKey) -> (Vec<u8>, String, Vec<u8>) {
    let packed = hex(&key.pack());
    let long = peer.call(json!({"op": "address", "public": packed, "long": true}));
    let short = peer.call(json!({"op": "address", "public": packed, "long": false}));
    (
        unhex(&long["hex"]),
        long["text"].as_str().unwrap().to_owned(),
        unhex(&short["hex"]),
    )
}

#[test]
fn rsa_keys_signatures_records_and_addresses_in_both_directions() {
    let mut peer = Peer::start();
    let ours = PrivateKey::generate(2048).unwrap();
    let r = peer.call(json!({"op": "rsa_generate", "bits": 2048}));
    let theirs = PrivateKey::unpack(&unhex(&r["private"])).unwrap();
    assert_eq!(
        theirs.public_key(),
        &PublicKey::unpack(&unhex(&r["public"])).unwrap()
    );
    // Their key packs the same way ours does.
    assert_eq!(&theirs.pack()[..], &unhex(&r["private"])[..]);

    for (name, key) in [("our key", &ours), ("their key", &theirs)] {
        let public = key.public_key();
        let packed_pub = hex(&public.pack());
        let packed_priv = hex(&key.pack());

        // Addresses: same bytes, same text, and each side matches the other's.
        let (long, text, short) = their_addresses(&mut peer, public);
        let our_long = public.long_address().unwrap();
        assert_eq!(long, our_long.as_bytes(), "{name}: long address");
        assert_eq!(text, our_long.to_string(), "{name}: Safe58");
        assert_eq!(
            short,
            public.short_address().unwrap().as_bytes(),
            "{name}: short address"
        );
        let r = peer.call(json!({"op": "address_parse", "text": our_long.to_string()}));
        assert_eq!(
            (r["valid"].as_bool(), unhex(&r["hex"])),
            (Some(true), long.clone())
        );
        let r = peer.call(json!({"op": "address_match", "address": hex(our_long.as_bytes()), "public": packed_pub}));
        assert_eq!(r["matches"], true, "{name}");
        assert!(KeyAddress::from_bytes(&long).unwrap().matches(public));

        // OAEP: each side decrypts what the other encrypted.
        let secret = [0x5Au8; 100];
        let r =
            peer.call(json!({"op": "oaep_encrypt", "public": packed_pub, "plain": hex(&secret)}));
        assert_eq!(
            &key.decrypt_oaep(&unhex(&r["hex"])).unwrap()[..],
            &secret,
            "{name}: we decrypt"
        );
        let c = public.encrypt_oaep(&secret).unwrap();
        let r = peer.call(json!({"op": "oaep_decrypt", "private": packed_priv, "cipher": hex(&c)}));
        assert_eq!(unhex(&r["plain"]), secret, "{name}: unicrypto decrypts");

        // PSS: each side verifies the other's signature, and refuses a wrong message.
        let data = b"Parsec.1 signed data";
        let r = peer.call(json!({"op": "pss_sign", "private": packed_priv, "data": hex(data)}));
        public.verify_pss(data, &unhex(&r["hex"])).unwrap();
        assert!(public.verify_pss(b"other", &unhex(&r["hex"])).is_err());
        let sig = key.sign_pss(data).unwrap();
        let r = peer.call(
            json!({"op": "pss_verify", "public": packed_pub, "data": hex(data), "sig": hex(&sig)}),
        );
        assert_eq!(r["valid"], true, "{name}: unicrypto verifies ours");
        let r = peer.call(json!({"op": "pss_verify", "public": packed_pub, "data": hex(b"other"), "sig": hex(&sig)}));
        assert_eq!(r["valid"], false, "{name}: and refuses a wrong message");

        // SignedRecord, with and without nonce.
        let payload = Value::dict([
            ("clientNonce", Value::Bin(vec![3; 32])),
            ("sessionId", "session-1".into()),
            (
                "knownServiceKeys",
                Value::List(vec![Value::Bin(long.clone())]),
            ),
        ]);
        for nonce in [None, Some(vec![9u8; 32])] {
            let packed = SignedRecord::pack(key, nonce.as_deref(), &payload).unwrap();
            let r = peer.call(json!({"op": "sr_unpack", "hex": hex(&packed)}));
            assert_eq!(r["valid"], true, "{name}: unicrypto verifies our record");
            assert_eq!(untagged(&r["payload"]), payload);
            assert_eq!(unhex(&r["long_address"]), long);
            match &nonce {
                Some(n) => assert_eq!(&unhex(&r["nonce"]), n),
                None => assert!(r["nonce"].is_null()),
            }
            let mut tampered = packed.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            let r = peer.call(json!({"op": "sr_unpack", "hex": hex(&tampered)}));
            assert_eq!(
                r["valid"], false,
                "{name}: unicrypto refuses a tampered record"
            );

            let nonce_json = nonce.as_ref().map_or(Json::Null, |n| json!(hex(n)));
            let r = peer.call(json!({"op": "sr_pack", "private": packed_priv, "nonce": nonce_json, "payload": tagged(&payload)}));
            let theirs = unhex(&r["hex"]);
            let sr = SignedRecord::unpack(&theirs).unwrap();
            assert_eq!(sr.payload(), &payload, "{name}: we read unicrypto's record");
            assert_eq!(sr.nonce(), nonce.as_deref());
            assert_eq!(sr.key(), public);
            let mut tampered = theirs;
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert!(
                SignedRecord::unpack(&tampered).is_err(),
                "{name}: we refuse a tampered record"
            );
        }
    }
}
