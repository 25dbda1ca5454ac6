//! Tests of the asymmetric engine. Fixed keys (made with `openssl genpkey`) live in
//! `testdata/asym/`; the cross-checks call the `openssl` command line tool when it is installed
//! and say so on stderr when it is not.

use super::keys::clamp_x25519;
use super::*;
use ecdsa::elliptic_curve::point::AffineCoordinates;
use ecdsa::elliptic_curve::{CurveArithmetic, FieldBytes, PrimeCurve};
use ecdsa::SignatureSize;
use parsec_psa::{
    Algorithm, AsymmetricEncryption, AsymmetricSignature, EccFamily, Hash, KeyAttributes, Policy,
    RawKeyAgreement, SignHash, UsageFlags,
};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use std::io::Write;
use std::process::Command;

use AsymmetricSignature as S;

mod ecc_cases;
mod rsa_cases;

const RSA1024: &[u8] = include_bytes!("../testdata/asym/rsa1024.der");
const RSA1024_PUB: &[u8] = include_bytes!("../testdata/asym/rsa1024_pub.der");
const RSA2048: &[u8] = include_bytes!("../testdata/asym/rsa2048.der");
const RSA2048_PUB: &[u8] = include_bytes!("../testdata/asym/rsa2048_pub.der");
const RSA4096: &[u8] = include_bytes!("../testdata/asym/rsa4096.der");
const RSA4096_PUB: &[u8] = include_bytes!("../testdata/asym/rsa4096_pub.der");

/// Every hash the engine supports.
const HASHES: [Hash; 11] = [
    Hash::Sha1,
    Hash::Sha224,
    Hash::Sha256,
    Hash::Sha384,
    Hash::Sha512,
    Hash::Sha512_224,
    Hash::Sha512_256,
    Hash::Sha3_224,
    Hash::Sha3_256,
    Hash::Sha3_384,
    Hash::Sha3_512,
];

const RSA_PAIR: KeyType = KeyType::RsaKeyPair;
const RSA_PUB: KeyType = KeyType::RsaPublicKey;

fn ecc_pair(curve_family: EccFamily) -> KeyType {
    KeyType::EccKeyPair { curve_family }
}

fn ecc_pub(curve_family: EccFamily) -> KeyType {
    KeyType::EccPublicKey { curve_family }
}

/// The four Weierstrass curves as (family, bits).
const CURVES: [(EccFamily, u32); 4] = [
    (EccFamily::SecpR1, 256),
    (EccFamily::SecpR1, 384),
    (EccFamily::SecpR1, 521),
    (EccFamily::SecpK1, 256),
];

fn attrs(key_type: KeyType, bits: u32) -> KeyAttributes {
    let policy = Policy {
        usage_flags: UsageFlags::default(),
        permitted_algorithms: Algorithm::None,
    };
    KeyAttributes {
        key_type,
        bits,
        policy,
    }
}

fn key(key_type: KeyType, data: &[u8]) -> AsymKey {
    let (bits, material) = import(&attrs(key_type, 0), data).expect("import");
    load(&attrs(key_type, bits), material.expose()).expect("load")
}

fn generated(key_type: KeyType, bits: u32) -> AsymKey {
    let material = generate(&attrs(key_type, bits)).expect("generate");
    load(&attrs(key_type, bits), material.expose()).expect("load")
}

/// The public half of a key pair, as its own key.
fn public_of(pair: &AsymKey) -> AsymKey {
    let public_type = pair.key_type().public_counterpart().expect("asymmetric");
    key(public_type, &export_public(pair).expect("export public"))
}

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// `bytes` with one bit changed in its first byte (a hash longer than the curve order is
/// truncated, so a change at the end may not count).
fn flipped_first(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[0] ^= 0x80;
    out
}

fn flipped(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let last = out.len() - 1;
    out[last] ^= 0x01;
    out
}

fn sha(hash: Hash, message: &[u8]) -> Vec<u8> {
    hash_message(hash, message).unwrap()
}

/// Runs `openssl` with files written from `inputs` (named by `{0}`, `{1}`, ... in `args`);
/// returns whether it succeeded, and its stdout. The openssl command is required (./test.sh
/// installs it): these are the independent cross-checks.
fn openssl(args: &[&str], inputs: &[&[u8]]) -> (bool, Vec<u8>) {
    assert!(
        Command::new("openssl").arg("version").output().is_ok(),
        "the openssl command is needed for these cross-checks (./test.sh installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let path = dir.path().join(format!("in{i}"));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(input)
            .unwrap();
        paths.push(path.to_str().unwrap().to_owned());
    }
    let args: Vec<String> = args
        .iter()
        .map(|arg| {
            let mut arg = (*arg).to_owned();
            for (i, path) in paths.iter().enumerate() {
                arg = arg.replace(&format!("{{{i}}}"), path);
            }
            arg
        })
        .collect();
    let output = Command::new("openssl").args(&args).output().unwrap();
    (output.status.success(), output.stdout)
}

fn openssl_digest_name(hash: Hash) -> &'static str {
    match hash {
        Hash::Sha1 => "sha1",
        Hash::Sha224 => "sha224",
        Hash::Sha256 => "sha256",
        Hash::Sha384 => "sha384",
        Hash::Sha512 => "sha512",
        Hash::Sha512_224 => "sha512-224",
        Hash::Sha512_256 => "sha512-256",
        Hash::Sha3_224 => "sha3-224",
        Hash::Sha3_256 => "sha3-256",
        Hash::Sha3_384 => "sha3-384",
        Hash::Sha3_512 => "sha3-512",
        _ => unreachable!(),
    }
}

#[test]
fn keys_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<AsymKey>();
}

#[test]
fn supports_the_listed_types_and_sizes_only() {
    for bits in [0, 1024, 2048, 3072, 4096, 1536] {
        assert!(supports_type(RSA_PAIR, bits), "{bits}");
        assert!(supports_type(RSA_PUB, bits), "{bits}");
    }
    for bits in [512, 1020, 1025, 8192] {
        assert!(!supports_type(RSA_PAIR, bits), "{bits}");
    }
    for (family, bits) in CURVES.into_iter().chain([(EccFamily::Montgomery, 255)]) {
        assert!(supports_type(ecc_pair(family), bits));
        assert!(supports_type(ecc_pub(family), bits));
        assert!(supports_type(ecc_pair(family), 0));
    }
    for (family, bits) in [
        (EccFamily::SecpR1, 224),
        (EccFamily::SecpR1, 192),
        (EccFamily::SecpK1, 224),
        (EccFamily::SecpR2, 160),
        (EccFamily::SectK1, 283),
        (EccFamily::SectR1, 233),
        (EccFamily::SectR2, 163),
        (EccFamily::BrainpoolPR1, 384),
        (EccFamily::Frp, 256),
        (EccFamily::Montgomery, 512),
    ] {
        assert!(!supports_type(ecc_pair(family), bits), "{family:?} {bits}");
    }
    assert!(supports_type(ecc_pair(EccFamily::Montgomery), 448));
    // brainpoolP256r1 serves ECDH and ECDSA, nothing else.
    let bp = ecc_pair(EccFamily::BrainpoolPR1);
    assert!(supports_type(bp, 256) && supports_type(bp, 0));
    let ecdh =
        parsec_psa::Algorithm::KeyAgreement(parsec_psa::KeyAgreement::Raw(RawKeyAgreement::Ecdh));
    assert!(supports_alg(bp, ecdh));
    let ecdsa = parsec_psa::Algorithm::AsymmetricSignature(AsymmetricSignature::EcdsaAny);
    assert!(supports_alg(bp, ecdsa));
    let pkcs1 = parsec_psa::Algorithm::AsymmetricSignature(AsymmetricSignature::RsaPkcs1v15SignRaw);
    assert!(!supports_alg(bp, pkcs1));
    assert!(supports_alg(ecc_pair(EccFamily::SecpR1), ecdsa));
    assert!(!supports_type(KeyType::Aes, 128));
    assert!(!supports_type(
        KeyType::DhKeyPair {
            group_family: parsec_psa::DhFamily::Rfc7919
        },
        2048
    ));
}

#[test]
fn algorithms_that_do_not_fit_the_key_are_refused() {
    let rsa = key(RSA_PAIR, RSA2048);
    let ec = generated(ecc_pair(EccFamily::SecpR1), 256);
    let h256 = sha(Hash::Sha256, b"m");
    let sha256 = SignHash::Specific(Hash::Sha256);
    for (key, alg) in [
        (&rsa, S::Ecdsa { hash_alg: sha256 }),
        (&rsa, S::EcdsaAny),
        (&rsa, S::DeterministicEcdsa { hash_alg: sha256 }),
        (&ec, S::RsaPss { hash_alg: sha256 }),
        (&ec, S::RsaPkcs1v15Sign { hash_alg: sha256 }),
        (&ec, S::RsaPkcs1v15SignRaw),
    ] {
        assert_eq!(sign_hash(key, alg, &h256), Err(INVALID), "{alg:?}");
        assert_eq!(
            verify_hash(key, alg, &h256, &[0; 64]),
            Err(INVALID),
            "{alg:?}"
        );
    }
    for (key, alg) in [
        (
            &rsa,
            S::RsaPss {
                hash_alg: SignHash::Any,
            },
        ),
        (
            &ec,
            S::Ecdsa {
                hash_alg: SignHash::Any,
            },
        ),
    ] {
        assert_eq!(
            sign_hash(key, alg, &h256),
            Err(INVALID),
            "wildcard in a request"
        );
        assert_eq!(sign_message(key, alg, b"m"), Err(INVALID));
    }
    for (key, alg) in [
        (
            &rsa,
            S::RsaPkcs1v15Sign {
                hash_alg: Hash::Md5.into(),
            },
        ),
        (
            &ec,
            S::Ecdsa {
                hash_alg: Hash::Ripemd160.into(),
            },
        ),
    ] {
        assert_eq!(sign_hash(key, alg, &[0; 16]), Err(UNSUPPORTED), "{alg:?}");
        assert_eq!(sign_message(key, alg, b"m"), Err(UNSUPPORTED), "{alg:?}");
    }
    let rsa_public = public_of(&rsa);
    let ec_public = public_of(&ec);
    let pss = S::RsaPss { hash_alg: sha256 };
    assert_eq!(sign_hash(&rsa_public, pss, &h256), Err(INVALID));
    assert_eq!(
        sign_hash(&ec_public, S::Ecdsa { hash_alg: sha256 }, &h256),
        Err(INVALID)
    );
    let oaep = AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha256,
    };
    assert_eq!(encrypt(&ec, oaep, b"m", None), Err(INVALID));
    assert_eq!(decrypt(&ec, oaep, &[0; 256], None).unwrap_err(), INVALID);
    assert_eq!(
        decrypt(&rsa_public, oaep, &[0; 256], None).unwrap_err(),
        INVALID
    );
    let point = export_public(&ec).unwrap();
    assert_eq!(
        raw_key_agreement(&rsa, RawKeyAgreement::Ecdh, &point).unwrap_err(),
        INVALID
    );
}

/// Timings behind the library table in `asym.rs`. Run with
/// `cargo test --release -p parsec-service-rs --lib bench_libraries -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test: run it in a release build"]
fn bench_libraries() {
    fn time(name: &str, mut f: impl FnMut()) {
        let rounds = 200;
        f();
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            f();
        }
        eprintln!(
            "{name:<44} {:>9.1} µs",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
        );
    }
    let ec = generated(ecc_pair(EccFamily::SecpR1), 256);
    let h = sha(Hash::Sha256, b"bench");
    let ecdsa_alg = S::Ecdsa {
        hash_alg: Hash::Sha256.into(),
    };
    time("P-256 ECDSA sign, aws-lc-rs", || {
        drop(sign_hash(&ec, ecdsa_alg, &h).unwrap())
    });
    let det = S::DeterministicEcdsa {
        hash_alg: Hash::Sha256.into(),
    };
    time("P-256 deterministic ECDSA sign, p256", || {
        drop(sign_hash(&ec, det, &h).unwrap())
    });
    let signature = sign_hash(&ec, ecdsa_alg, &h).unwrap();
    time("P-256 ECDSA verify, aws-lc-rs", || {
        verify_hash(&ec, ecdsa_alg, &h, &signature).unwrap()
    });
    let point = export_public(&ec).unwrap();
    time("P-256 ECDSA verify, p256", || {
        assert!(ecc_cases::rustcrypto_check(
            (EccFamily::SecpR1, 256),
            &point,
            &h,
            &signature
        ))
    });

    let rsa = key(RSA_PAIR, RSA2048);
    let Inner::RsaPair(pair) = &rsa.inner else {
        unreachable!()
    };
    let pkcs1 = S::RsaPkcs1v15Sign {
        hash_alg: Hash::Sha256.into(),
    };
    time("RSA-2048 PKCS#1 SHA-256 sign, aws-lc-rs", || {
        drop(sign_hash(&rsa, pkcs1, &h).unwrap())
    });
    let scheme = || rsa_ops::pkcs1_scheme(Hash::Sha256).unwrap();
    let pkcs1_224 = S::RsaPkcs1v15Sign {
        hash_alg: Hash::Sha224.into(),
    };
    let h224 = [7u8; 28];
    time("RSA-2048 PKCS#1 SHA-224 sign, aws-lc raw", || {
        drop(sign_hash(&rsa, pkcs1_224, &h224).unwrap())
    });
    let signature = sign_hash(&rsa, pkcs1, &h).unwrap();
    time("RSA-2048 PKCS#1 SHA-256 verify, aws-lc-rs", || {
        verify_hash(&rsa, pkcs1, &h, &signature).unwrap()
    });
    time("RSA-2048 PKCS#1 SHA-256 verify, rsa", || {
        pair.public.rc.verify(scheme(), &h, &signature).unwrap()
    });
    let oaep = AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha256,
    };
    time("RSA-2048 OAEP encrypt, aws-lc-rs", || {
        drop(encrypt(&rsa, oaep, b"m", None).unwrap())
    });
    let rc_oaep = || rsa::Oaep::new::<sha2::Sha256>();
    time("RSA-2048 OAEP encrypt, rsa", || {
        drop(pair.public.rc.encrypt(&mut LcRng, rc_oaep(), b"m").unwrap())
    });
    let ciphertext = encrypt(&rsa, oaep, b"m", None).unwrap();
    time("RSA-2048 OAEP decrypt, aws-lc-rs", || {
        drop(decrypt(&rsa, oaep, &ciphertext, None).unwrap())
    });
    let oaep_224 = AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha224,
    };
    let ciphertext = encrypt(&rsa, oaep_224, b"m", None).unwrap();
    time("RSA-2048 OAEP SHA-224 decrypt, aws-lc raw", || {
        drop(decrypt(&rsa, oaep_224, &ciphertext, None).unwrap())
    });
}

/// X448 through the engine's API: generated keys load, export their public key, and agree
/// with each other; a 56-byte public key imports as a 448-bit Montgomery key.
#[test]
fn x448_keys_generate_load_export_and_agree() {
    let pair_type = ecc_pair(EccFamily::Montgomery);
    let a = attrs(pair_type, 448);
    let load_pair = || {
        let secret = generate(&a).unwrap();
        assert_eq!(secret.expose().len(), 56);
        load(&a, secret.expose()).unwrap()
    };
    let (alice, bob) = (load_pair(), load_pair());
    let (alice_pub, bob_pub) = (export_public(&alice).unwrap(), export_public(&bob).unwrap());
    assert_eq!(alice_pub.len(), 56);
    let ab = raw_key_agreement(&alice, RawKeyAgreement::Ecdh, &bob_pub).unwrap();
    let ba = raw_key_agreement(&bob, RawKeyAgreement::Ecdh, &alice_pub).unwrap();
    assert_eq!(ab.expose(), ba.expose());
    assert_ne!(ab.expose(), &[0u8; 56][..]);
    let public_type = KeyType::EccPublicKey {
        curve_family: EccFamily::Montgomery,
    };
    assert_eq!(import(&attrs(public_type, 0), &bob_pub).unwrap().0, 448);
    assert!(raw_key_agreement(&alice, RawKeyAgreement::Ecdh, &bob_pub[..32]).is_err());
}
