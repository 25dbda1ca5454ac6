//! Tests of the asymmetric engine. Fixed keys (made with `openssl genpkey`) live in
//! `testdata/asym/`; the cross-checks call the `openssl` command line tool when it is installed
//! and say so on stderr when it is not.

use super::*;
use ecdsa::elliptic_curve::point::AffineCoordinates;
use ecdsa::elliptic_curve::{CurveArithmetic, FieldBytes, PrimeCurve};
use ecdsa::SignatureSize;
use parsec_psa::{Algorithm, Policy, UsageFlags};
use std::io::Write;
use std::process::Command;

use AsymmetricSignature as S;

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
/// returns its stdout and whether it succeeded, or `None` when openssl is not installed.
fn openssl(args: &[&str], inputs: &[&[u8]]) -> Option<(bool, Vec<u8>)> {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl is not installed: cross-check skipped");
        return None;
    }
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
    Some((output.status.success(), output.stdout))
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
        (EccFamily::BrainpoolPR1, 256),
        (EccFamily::Frp, 256),
        (EccFamily::Montgomery, 448),
        (EccFamily::BrainpoolPR1, 0),
    ] {
        assert!(!supports_type(ecc_pair(family), bits), "{family:?} {bits}");
    }
    assert!(!supports_type(KeyType::Aes, 128));
    assert!(!supports_type(
        KeyType::DhKeyPair {
            group_family: parsec_psa::DhFamily::Rfc7919
        },
        2048
    ));
}

#[test]
fn rsa_import_export_round_trips() {
    for (der, public_der, bits) in [
        (RSA1024, RSA1024_PUB, 1024),
        (RSA2048, RSA2048_PUB, 2048),
        (RSA4096, RSA4096_PUB, 4096),
    ] {
        let (got_bits, material) = import(&attrs(RSA_PAIR, 0), der).unwrap();
        assert_eq!(got_bits, bits);
        assert_eq!(material.expose(), der, "canonical PKCS#1 is kept as is");
        assert_eq!(import(&attrs(RSA_PAIR, bits), der).unwrap().1, material);
        assert_eq!(
            import(&attrs(RSA_PAIR, bits + 8), der).unwrap_err(),
            INVALID
        );
        let pair = key(RSA_PAIR, der);
        assert_eq!((pair.key_type(), pair.bits()), (RSA_PAIR, bits));
        assert_eq!(export(&pair).unwrap().expose(), der);
        assert_eq!(export_public(&pair).unwrap(), public_der);
        let public = key(RSA_PUB, public_der);
        assert_eq!(public.bits(), bits);
        assert_eq!(export(&public).unwrap().expose(), public_der);
        assert_eq!(export_public(&public).unwrap(), public_der);
        assert_eq!(
            import(&attrs(RSA_PUB, bits - 8), public_der).unwrap_err(),
            INVALID
        );

        // PKCS#8 and SubjectPublicKeyInfo are accepted and stored as PKCS#1.
        let rc = rsa::RsaPrivateKey::from_pkcs1_der(der).unwrap();
        let pkcs8 = rc.to_pkcs8_der().unwrap();
        assert_eq!(
            import(&attrs(RSA_PAIR, 0), pkcs8.as_bytes())
                .unwrap()
                .1
                .expose(),
            der
        );
        let spki = rc.to_public_key().to_public_key_der().unwrap();
        assert_eq!(
            import(&attrs(RSA_PUB, 0), spki.as_bytes())
                .unwrap()
                .1
                .expose(),
            public_der
        );

        // Damaged encodings.
        for bad in [
            &der[..der.len() - 1],
            &[der, &[0][..]].concat(),
            &der[1..],
            public_der,
        ] {
            assert_eq!(import(&attrs(RSA_PAIR, 0), bad).unwrap_err(), INVALID);
        }
        assert_eq!(import(&attrs(RSA_PUB, 0), der).unwrap_err(), INVALID);
        assert_eq!(
            import(&attrs(RSA_PUB, 0), &public_der[2..]).unwrap_err(),
            INVALID
        );
        // A key pair whose primes do not match the modulus.
        let mut wrong = der.to_vec();
        let last = wrong.len() - 1;
        wrong[last] ^= 0x02; // inside qInv
        let mut wrong_prime = der.to_vec();
        wrong_prime[der.len() / 2] ^= 0x10;
        assert_eq!(
            import(&attrs(RSA_PAIR, 0), &wrong_prime).unwrap_err(),
            INVALID
        );
        // The CRT values are recomputed, so a damaged qInv is repaired rather than used.
        assert_eq!(import(&attrs(RSA_PAIR, 0), &wrong).unwrap().1.expose(), der);
    }
    // Corrupt stored material.
    assert_eq!(
        load(&attrs(RSA_PAIR, 2048), &RSA2048[..100]).unwrap_err(),
        Status::PsaErrorDataCorrupt
    );
}

#[test]
fn rsa_keys_outside_the_supported_sizes_are_not_supported() {
    let small = rsa::RsaPrivateKey::new(&mut LcRng, 512).unwrap();
    let der = small.to_pkcs1_der().unwrap();
    assert_eq!(
        import(&attrs(RSA_PAIR, 0), der.as_bytes()).unwrap_err(),
        UNSUPPORTED
    );
    let public = small.to_public_key().to_pkcs1_der().unwrap();
    assert_eq!(
        import(&attrs(RSA_PUB, 0), public.as_bytes()).unwrap_err(),
        UNSUPPORTED
    );
    for bits in [512, 1000, 8192] {
        assert_eq!(
            generate(&attrs(RSA_PAIR, bits)).unwrap_err(),
            UNSUPPORTED,
            "{bits}"
        );
    }
    assert_eq!(generate(&attrs(RSA_PAIR, 0)).unwrap_err(), INVALID);
}

#[test]
fn rsa_generation_with_both_libraries() {
    for bits in [1024, 2048] {
        let pair = generated(RSA_PAIR, bits);
        assert_eq!(pair.bits(), bits);
        let material = export(&pair).unwrap();
        assert_eq!(
            import(&attrs(RSA_PAIR, bits), material.expose()).unwrap(),
            (bits, material)
        );
        let hash = sha(Hash::Sha256, b"generated");
        let alg = S::RsaPkcs1v15Sign {
            hash_alg: Hash::Sha256.into(),
        };
        let signature = sign_hash(&pair, alg, &hash).unwrap();
        verify_hash(&public_of(&pair), alg, &hash, &signature).unwrap();
    }
}

#[test]
fn rsa_signatures_with_every_hash_round_trip() {
    for der in [RSA1024, RSA2048] {
        let pair = key(RSA_PAIR, der);
        let public = public_of(&pair);
        let size = pair.bits() as usize / 8;
        for hash_alg in HASHES {
            for alg in [
                S::RsaPkcs1v15Sign {
                    hash_alg: hash_alg.into(),
                },
                S::RsaPss {
                    hash_alg: hash_alg.into(),
                },
            ] {
                let what = format!("{} {alg:?}", pair.bits());
                let hash = sha(hash_alg, b"message");
                let signature = sign_hash(&pair, alg, &hash).expect(&what);
                assert_eq!(signature.len(), size, "{what}");
                verify_hash(&pair, alg, &hash, &signature).expect(&what);
                verify_hash(&public, alg, &hash, &signature).expect(&what);
                verify_message(&public, alg, b"message", &signature).expect(&what);
                let bad = verify_hash(&public, alg, &hash, &flipped(&signature));
                assert_eq!(bad, Err(BAD_SIGNATURE), "{what}");
                let bad = verify_hash(&public, alg, &flipped(&hash), &signature);
                assert_eq!(bad, Err(BAD_SIGNATURE), "{what}");
                let bad = verify_hash(&public, alg, &hash, &signature[1..]);
                assert_eq!(bad, Err(BAD_SIGNATURE), "{what}");
                assert_eq!(sign_hash(&pair, alg, &hash[1..]), Err(INVALID), "{what}");
                assert_eq!(
                    verify_hash(&public, alg, &hash[1..], &signature),
                    Err(INVALID)
                );
                let from_message = sign_message(&pair, alg, b"message").expect(&what);
                verify_hash(&public, alg, &hash, &from_message).expect(&what);
            }
        }
    }
}

#[test]
fn rsa_pkcs1_is_deterministic_and_pss_is_not() {
    let pair = key(RSA_PAIR, RSA2048);
    let hash = sha(Hash::Sha256, b"x");
    for (alg, same) in [
        (
            S::RsaPkcs1v15Sign {
                hash_alg: Hash::Sha256.into(),
            },
            true,
        ),
        (
            S::RsaPss {
                hash_alg: Hash::Sha256.into(),
            },
            false,
        ),
    ] {
        let a = sign_hash(&pair, alg, &hash).unwrap();
        assert_eq!(a == sign_hash(&pair, alg, &hash).unwrap(), same);
    }
}

#[test]
fn rsa_raw_pkcs1_signs_the_given_bytes() {
    for der in [RSA1024, RSA2048] {
        let pair = key(RSA_PAIR, der);
        let data = [0x5au8; 36]; // as TLS 1.1 signs MD5 || SHA-1
        let signature = sign_hash(&pair, S::RsaPkcs1v15SignRaw, &data).unwrap();
        verify_hash(&public_of(&pair), S::RsaPkcs1v15SignRaw, &data, &signature).unwrap();
        let bad = verify_hash(&pair, S::RsaPkcs1v15SignRaw, &flipped(&data), &signature);
        assert_eq!(bad, Err(BAD_SIGNATURE));
        let too_long = vec![1u8; pair.bits() as usize / 8 - 10];
        assert_eq!(
            sign_hash(&pair, S::RsaPkcs1v15SignRaw, &too_long),
            Err(INVALID)
        );
        assert_eq!(
            sign_message(&pair, S::RsaPkcs1v15SignRaw, b"m"),
            Err(INVALID)
        );
        let Some((ok, _)) = openssl(
            &[
                "pkeyutl", "-verify", "-keyform", "DER", "-inkey", "{0}", "-in", "{1}", "-sigfile",
                "{2}",
            ],
            &[der, &data, &signature],
        ) else {
            return;
        };
        assert!(ok, "openssl accepts the raw PKCS#1 v1.5 signature");
    }
}

#[test]
fn rsa_signatures_agree_with_openssl() {
    // One case per library path: aws-lc-rs (2048 with SHA-2/256+) and the `rsa` crate.
    let cases = [
        (RSA2048, Hash::Sha256, false),
        (RSA2048, Hash::Sha384, true),
        (RSA2048, Hash::Sha3_256, false),
        (RSA2048, Hash::Sha3_512, true),
        (RSA1024, Hash::Sha512_224, false),
        (RSA1024, Hash::Sha1, true),
        (RSA1024, Hash::Sha512, true), // salt shortened to 62 bytes: PSA's "largest possible"
    ];
    for (der, hash_alg, pss) in cases {
        let pair = key(RSA_PAIR, der);
        let alg = match pss {
            true => S::RsaPss {
                hash_alg: hash_alg.into(),
            },
            false => S::RsaPkcs1v15Sign {
                hash_alg: hash_alg.into(),
            },
        };
        let hash = sha(hash_alg, b"cross-check");
        let signature = sign_hash(&pair, alg, &hash).unwrap();
        let digest = format!("digest:{}", openssl_digest_name(hash_alg));
        let mut args = vec!["pkeyutl", "-verify", "-keyform", "DER", "-inkey", "{0}"];
        args.extend(["-in", "{1}", "-sigfile", "{2}", "-pkeyopt", &digest]);
        if pss {
            args.extend([
                "-pkeyopt",
                "rsa_padding_mode:pss",
                "-pkeyopt",
                "rsa_pss_saltlen:-2",
            ]);
        }
        let Some((ok, _)) = openssl(&args, &[der, &hash, &signature]) else {
            return;
        };
        assert!(ok, "openssl verifies {} {alg:?}", pair.bits());
    }
}

#[test]
fn rsa_pss_verification_wants_the_hash_length_salt() {
    for der in [RSA1024, RSA2048] {
        let pair = key(RSA_PAIR, der);
        let alg = S::RsaPss {
            hash_alg: Hash::Sha256.into(),
        };
        let hash = sha(Hash::Sha256, b"salted");
        for (salt, accepted) in [("32", true), ("20", false), ("0", false)] {
            let saltlen = format!("rsa_pss_saltlen:{salt}");
            let args = [
                "pkeyutl",
                "-sign",
                "-keyform",
                "DER",
                "-inkey",
                "{0}",
                "-in",
                "{1}",
                "-pkeyopt",
                "digest:sha256",
                "-pkeyopt",
                "rsa_padding_mode:pss",
                "-pkeyopt",
                &saltlen,
            ];
            let Some((ok, signature)) = openssl(&args, &[der, &hash]) else {
                return;
            };
            assert!(ok);
            let result = verify_hash(&pair, alg, &hash, &signature);
            assert_eq!(
                result.is_ok(),
                accepted,
                "{} salt {salt}: {result:?}",
                pair.bits()
            );
        }
    }
}

#[test]
fn rsa_encryption_round_trips() {
    let oaep_hashes = [
        Hash::Sha1,
        Hash::Sha224,
        Hash::Sha256,
        Hash::Sha384,
        Hash::Sha512,
        Hash::Sha3_256,
    ];
    for der in [RSA1024, RSA2048] {
        let pair = key(RSA_PAIR, der);
        let public = public_of(&pair);
        let size = pair.bits() as usize / 8;
        let mut cases = vec![(AsymmetricEncryption::RsaPkcs1v15Crypt, None)];
        for hash_alg in oaep_hashes {
            for label in [None, Some(&b"label"[..])] {
                cases.push((AsymmetricEncryption::RsaOaep { hash_alg }, label));
            }
        }
        for (alg, label) in cases {
            let what = format!("{} {alg:?} {label:?}", pair.bits());
            if let AsymmetricEncryption::RsaOaep { hash_alg } = alg {
                if 2 * hash_alg.output_len() + 2 > size {
                    // OAEP with SHA-512 needs a modulus of more than 130 bytes.
                    assert_eq!(encrypt(&public, alg, b"", label), Err(INVALID), "{what}");
                    continue;
                }
            }
            let ciphertext = encrypt(&public, alg, b"secret", label).expect(&what);
            assert_eq!(ciphertext.len(), size);
            assert_ne!(
                ciphertext,
                encrypt(&pair, alg, b"secret", label).unwrap(),
                "randomized"
            );
            assert_eq!(
                decrypt(&pair, alg, &ciphertext, label)
                    .expect(&what)
                    .expose(),
                b"secret"
            );
            let bad = decrypt(&pair, alg, &flipped(&ciphertext), label);
            assert_eq!(bad.unwrap_err(), Status::PsaErrorInvalidPadding, "{what}");
            assert_eq!(
                decrypt(&pair, alg, &ciphertext[1..], label).unwrap_err(),
                INVALID
            );
            assert_eq!(
                decrypt(&public, alg, &ciphertext, label).unwrap_err(),
                INVALID
            );
            if let AsymmetricEncryption::RsaOaep { hash_alg } = alg {
                let bad = decrypt(&pair, alg, &ciphertext, Some(b"other"));
                assert_eq!(bad.unwrap_err(), Status::PsaErrorInvalidPadding, "{what}");
                let longest = vec![7u8; size - 2 * hash_alg.output_len() - 2];
                let ciphertext = encrypt(&public, alg, &longest, label).expect(&what);
                assert_eq!(
                    decrypt(&pair, alg, &ciphertext, label).unwrap().expose(),
                    longest
                );
                assert_eq!(
                    encrypt(&public, alg, &[longest, vec![0]].concat(), label),
                    Err(INVALID)
                );
            }
        }
        let pkcs1 = AsymmetricEncryption::RsaPkcs1v15Crypt;
        assert_eq!(encrypt(&public, pkcs1, b"x", Some(b"salt")), Err(INVALID));
        assert_eq!(
            encrypt(&public, pkcs1, &vec![1; size - 10], None),
            Err(INVALID)
        );
        assert_eq!(
            encrypt(&public, pkcs1, b"x", Some(b"")).map(|c| c.len()),
            Ok(size)
        );
    }
    // Labels that are not UTF-8: fine with aws-lc-rs (2048, SHA-256); not with the `rsa` crate.
    let label = Some(&[0xff, 0xfe][..]);
    let sha256 = AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha256,
    };
    let big = key(RSA_PAIR, RSA2048);
    let ciphertext = encrypt(&big, sha256, b"m", label).unwrap();
    assert_eq!(
        decrypt(&big, sha256, &ciphertext, label).unwrap().expose(),
        b"m"
    );
    assert_eq!(
        encrypt(&key(RSA_PAIR, RSA1024), sha256, b"m", label),
        Err(UNSUPPORTED)
    );
    let md5 = AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Md5,
    };
    assert_eq!(encrypt(&big, md5, b"m", None), Err(UNSUPPORTED));
}

#[test]
fn rsa_encryption_agrees_with_openssl() {
    for der in [RSA1024, RSA2048] {
        let pair = key(RSA_PAIR, der);
        let oaep = AsymmetricEncryption::RsaOaep {
            hash_alg: Hash::Sha256,
        };
        let ciphertext = encrypt(&pair, oaep, b"to openssl", Some(b"label")).unwrap();
        let args = [
            "pkeyutl",
            "-decrypt",
            "-keyform",
            "DER",
            "-inkey",
            "{0}",
            "-in",
            "{1}",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-pkeyopt",
            "rsa_oaep_label:6c6162656c",
        ];
        let Some((ok, plain)) = openssl(&args, &[der, &ciphertext]) else {
            return;
        };
        assert!(ok && plain == b"to openssl");
        let args = [
            "pkeyutl", "-encrypt", "-keyform", "DER", "-inkey", "{0}", "-in", "{1}",
        ];
        let (ok, ciphertext) = openssl(&args, &[der, b"from openssl"]).unwrap();
        assert!(ok);
        let plain = decrypt(
            &pair,
            AsymmetricEncryption::RsaPkcs1v15Crypt,
            &ciphertext,
            None,
        );
        assert_eq!(plain.unwrap().expose(), b"from openssl");
    }
}

/// Checks an ECDSA signature with RustCrypto alone (not aws-lc-rs).
#[allow(deprecated)] // generic-array 0.14's ArrayLength, named by the bounds of ecdsa 0.16
fn rustcrypto_verifies<C>(point: &[u8], hash: &[u8], signature: &[u8], qbits: usize) -> bool
where
    C: PrimeCurve + CurveArithmetic,
    SignatureSize<C>: ecdsa::elliptic_curve::generic_array::ArrayLength<u8>,
    ecdsa::elliptic_curve::AffinePoint<C>: ecdsa::elliptic_curve::sec1::FromEncodedPoint<C>
        + ecdsa::elliptic_curve::sec1::ToEncodedPoint<C>,
    ecdsa::elliptic_curve::FieldBytesSize<C>: ecdsa::elliptic_curve::sec1::ModulusSize,
{
    let public = ecdsa::elliptic_curve::PublicKey::<C>::from_sec1_bytes(point).unwrap();
    let Ok(signature) = ecdsa::Signature::<C>::from_slice(signature) else {
        return false;
    };
    let mut z = FieldBytes::<C>::default();
    z.copy_from_slice(&ecc_ops::bits2int(hash, qbits));
    ecdsa::hazmat::verify_prehashed::<C>(&public.to_projective(), &z, &signature).is_ok()
}

fn rustcrypto_check(curve: (EccFamily, u32), point: &[u8], hash: &[u8], signature: &[u8]) -> bool {
    match curve {
        (EccFamily::SecpR1, 256) => {
            rustcrypto_verifies::<p256::NistP256>(point, hash, signature, 256)
        }
        (EccFamily::SecpR1, 384) => {
            rustcrypto_verifies::<p384::NistP384>(point, hash, signature, 384)
        }
        (EccFamily::SecpR1, 521) => {
            rustcrypto_verifies::<p521::NistP521>(point, hash, signature, 521)
        }
        _ => rustcrypto_verifies::<k256::Secp256k1>(point, hash, signature, 256),
    }
}

#[test]
fn ecdsa_with_every_curve_and_hash() {
    for curve in CURVES {
        let (family, bits) = curve;
        let pair = generated(ecc_pair(family), bits);
        let public = public_of(&pair);
        let point = export_public(&pair).unwrap();
        let size = 2 * (bits as usize).div_ceil(8);
        for hash_alg in HASHES {
            let hash = sha(hash_alg, b"message");
            for alg in [
                S::Ecdsa {
                    hash_alg: hash_alg.into(),
                },
                S::DeterministicEcdsa {
                    hash_alg: hash_alg.into(),
                },
            ] {
                let what = format!("{curve:?} {alg:?}");
                let signature = sign_hash(&pair, alg, &hash).expect(&what);
                assert_eq!(signature.len(), size, "{what}");
                verify_hash(&public, alg, &hash, &signature).expect(&what);
                verify_hash(&pair, alg, &hash, &signature).expect(&what);
                assert!(rustcrypto_check(curve, &point, &hash, &signature), "{what}");
                let again = sign_hash(&pair, alg, &hash).unwrap();
                let deterministic = matches!(alg, S::DeterministicEcdsa { .. });
                assert_eq!(again == signature, deterministic, "{what}");
                let bad = verify_hash(&public, alg, &hash, &flipped(&signature));
                assert_eq!(bad, Err(BAD_SIGNATURE), "{what}");
                let bad = verify_hash(&public, alg, &flipped_first(&hash), &signature);
                assert_eq!(bad, Err(BAD_SIGNATURE), "{what}");
                let bad = verify_hash(&public, alg, &hash, &signature[1..]);
                assert_eq!(bad, Err(BAD_SIGNATURE), "{what}");
                assert_eq!(sign_hash(&pair, alg, &hash[1..]), Err(INVALID), "{what}");
                let from_message = sign_message(&pair, alg, b"message").unwrap();
                verify_hash(&public, alg, &hash, &from_message).expect(&what);
                verify_message(&public, alg, b"message", &signature).expect(&what);
            }
        }
        // EcdsaAny signs whatever bytes it is given, up to the longest hash.
        for len in [1, 20, 32, 48, 64] {
            let data = vec![0xa5u8; len];
            let signature = sign_hash(&pair, S::EcdsaAny, &data).unwrap();
            verify_hash(&public, S::EcdsaAny, &data, &signature).unwrap();
            assert!(
                rustcrypto_check(curve, &point, &data, &signature),
                "{curve:?} {len}"
            );
        }
        for len in [0, 65] {
            assert_eq!(sign_hash(&pair, S::EcdsaAny, &vec![1; len]), Err(INVALID));
        }
        assert_eq!(sign_message(&pair, S::EcdsaAny, b"m"), Err(INVALID));
    }
}

#[test]
fn deterministic_ecdsa_matches_rfc6979_vectors() {
    // RFC 6979 appendix A.2.5 (P-256), A.2.6 (P-384), A.2.7 (P-521), message "sample".
    let p256 = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
    let p384 = "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D8\
                96D5724E4C70A825F872C9EA60D2EDF5";
    let p521 = "00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75CA\
                A896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538";
    let vectors = [
        (
            p256,
            Hash::Sha224,
            "53B2FFF5D1752B2C689DF257C04C40A587FABABB3F6FC2702F1343AF7CA9AA3F\
                              B9AFB64FDC03DC1A131C7D2386D11E349F070AA432A4ACC918BEA988BF75C74C",
        ),
        (
            p256,
            Hash::Sha256,
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
                              F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
        ),
        (
            p256,
            Hash::Sha384,
            "0EAFEA039B20E9B42309FB1D89E213057CBF973DC0CFC8F129EDDDC800EF7719\
                              4861F0491E6998B9455193E34E7B0D284DDD7149A74B95B9261F13ABDE940954",
        ),
        (
            p384,
            Hash::Sha384,
            "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C\
                              81A648152E44ACF96E36DD1E80FABE46\
                              99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F\
                              A329C145786E679E7B82C71A38628AC8",
        ),
        (
            p521,
            Hash::Sha256,
            "01511BB4D675114FE266FC4372B87682BAECC01D3CC62CF2303C92B3526012659D\
                              16876E25C7C1E57648F23B73564D67F61C6F14D527D54972810421E7D87589E1A7\
                              004A171143A83163D6DF460AAF61522695F207A58B95C0644D87E52AA1A347916E\
                              4F7A72930B1BC06DBE22CE3F58264AFD23704CBB63B29B931F7DE6C9D949A7ECFC",
        ),
        (
            p521,
            Hash::Sha512,
            "00C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F17\
                              4E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA\
                              00617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF28\
                              2623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A",
        ),
    ];
    for (scalar, hash_alg, expected) in vectors {
        let pair = key(ecc_pair(EccFamily::SecpR1), &hex(scalar));
        let alg = S::DeterministicEcdsa {
            hash_alg: hash_alg.into(),
        };
        let signature = sign_message(&pair, alg, b"sample").unwrap();
        assert_eq!(signature, hex(expected), "{} {hash_alg:?}", pair.bits());
        verify_message(&public_of(&pair), alg, b"sample", &signature).unwrap();
        // The same signature is a valid randomized-ECDSA signature.
        let random = S::Ecdsa {
            hash_alg: hash_alg.into(),
        };
        verify_message(&pair, random, b"sample", &signature).unwrap();
    }
}

#[test]
fn ecc_keys_import_export_round_trip() {
    for (family, bits) in CURVES.into_iter().chain([(EccFamily::Montgomery, 255)]) {
        let what = format!("{family:?} {bits}");
        let pair = generated(ecc_pair(family), bits);
        let material = export(&pair).unwrap();
        let len = (bits as usize).div_ceil(8);
        assert_eq!(material.len(), len, "{what}");
        assert_eq!(
            import(&attrs(ecc_pair(family), 0), material.expose()).unwrap(),
            (bits, material.clone())
        );
        assert_eq!(
            import(&attrs(ecc_pair(family), bits), material.expose())
                .unwrap()
                .0,
            bits
        );
        let public = export_public(&pair).unwrap();
        let public_len = if family == EccFamily::Montgomery {
            32
        } else {
            1 + 2 * len
        };
        assert_eq!(public.len(), public_len, "{what}");
        assert_eq!(
            import(&attrs(ecc_pub(family), 0), &public).unwrap(),
            (bits, Secret::from(&public[..]))
        );
        let reloaded = key(ecc_pair(family), material.expose());
        assert_eq!(export_public(&reloaded).unwrap(), public, "{what}");
        assert_eq!(
            export(&key(ecc_pub(family), &public)).unwrap().expose(),
            public
        );
        assert_eq!(
            export_public(&key(ecc_pub(family), &public)).unwrap(),
            public
        );
        // Sizes that do not match the data.
        let other_bits = if bits == 384 { 256 } else { 384 };
        let wrong = import(&attrs(ecc_pair(family), other_bits), material.expose()).unwrap_err();
        assert!(wrong == INVALID || wrong == UNSUPPORTED, "{what}");
        assert_eq!(
            import(&attrs(ecc_pair(family), bits), &material.expose()[1..]).unwrap_err(),
            INVALID
        );
        assert_eq!(
            import(&attrs(ecc_pub(family), bits), &public[1..]).unwrap_err(),
            INVALID
        );
    }
}

#[test]
fn ecc_import_rejects_bad_keys_and_unsupported_curves() {
    let r1 = ecc_pair(EccFamily::SecpR1);
    let order = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    for scalar in [vec![0u8; 32], order.clone(), vec![0xff; 32], vec![1; 31]] {
        assert_eq!(import(&attrs(r1, 256), &scalar).unwrap_err(), INVALID);
    }
    let mut below = order.clone();
    below[31] -= 1;
    import(&attrs(r1, 256), &below).unwrap();
    let point = export_public(&generated(r1, 256)).unwrap();
    let r1_pub = ecc_pub(EccFamily::SecpR1);
    let mut compressed = vec![0x02 | (point[64] & 1)];
    compressed.extend_from_slice(&point[1..33]);
    for bad in [
        flipped(&point),
        compressed,
        [&[0x05][..], &point[1..]].concat(),
        vec![0x04; 65],
    ] {
        assert_eq!(import(&attrs(r1_pub, 0), &bad).unwrap_err(), INVALID);
    }
    assert_eq!(import(&attrs(r1, 0), &[1; 28]).unwrap_err(), UNSUPPORTED); // P-224
    assert_eq!(import(&attrs(r1, 0), &[1; 40]).unwrap_err(), INVALID);
    assert_eq!(import(&attrs(r1, 224), &[1; 28]).unwrap_err(), UNSUPPORTED);
    for family in [
        EccFamily::SecpR2,
        EccFamily::SectK1,
        EccFamily::SectR1,
        EccFamily::SectR2,
        EccFamily::BrainpoolPR1,
        EccFamily::Frp,
    ] {
        for bits in [0, 256] {
            assert_eq!(
                import(&attrs(ecc_pair(family), bits), &[1; 32]).unwrap_err(),
                UNSUPPORTED
            );
            assert_eq!(
                generate(&attrs(ecc_pair(family), 256)).unwrap_err(),
                UNSUPPORTED
            );
        }
    }
    let montgomery = ecc_pair(EccFamily::Montgomery);
    assert_eq!(
        import(&attrs(montgomery, 0), &[1; 56]).unwrap_err(),
        UNSUPPORTED
    ); // X448
    assert_eq!(
        import(&attrs(montgomery, 255), &[1; 31]).unwrap_err(),
        INVALID
    );
    assert_eq!(generate(&attrs(r1, 0)).unwrap_err(), INVALID);
    assert_eq!(generate(&attrs(r1_pub, 256)).unwrap_err(), INVALID);
    assert_eq!(generate(&attrs(RSA_PUB, 2048)).unwrap_err(), INVALID);
    assert_eq!(
        generate(&attrs(KeyType::Aes, 128)).unwrap_err(),
        UNSUPPORTED
    );
    assert_eq!(
        import(&attrs(KeyType::Hmac, 0), &[1; 32]).unwrap_err(),
        UNSUPPORTED
    );
}

#[test]
fn ecdh_both_sides_agree() {
    for (family, bits) in CURVES.into_iter().chain([(EccFamily::Montgomery, 255)]) {
        let what = format!("{family:?} {bits}");
        let (a, b) = (
            generated(ecc_pair(family), bits),
            generated(ecc_pair(family), bits),
        );
        let a_pub = export_public(&a).unwrap();
        let ab = raw_key_agreement(&a, RawKeyAgreement::Ecdh, &export_public(&b).unwrap()).unwrap();
        let ba = raw_key_agreement(&b, RawKeyAgreement::Ecdh, &a_pub).unwrap();
        assert_eq!(ab, ba, "{what}");
        assert_eq!(ab.len(), (bits as usize).div_ceil(8), "{what}");
        let bad_peer = [
            flipped(&a_pub),
            a_pub[1..].to_vec(),
            vec![0x04; a_pub.len()],
        ];
        for peer in bad_peer
            .iter()
            .filter(|p| family != EccFamily::Montgomery || p.len() != 32)
        {
            assert_eq!(
                raw_key_agreement(&b, RawKeyAgreement::Ecdh, peer).unwrap_err(),
                INVALID
            );
        }
        assert_eq!(
            raw_key_agreement(&b, RawKeyAgreement::Ffdh, &a_pub).unwrap_err(),
            INVALID
        );
        let public = public_of(&b);
        assert_eq!(
            raw_key_agreement(&public, RawKeyAgreement::Ecdh, &a_pub).unwrap_err(),
            INVALID
        );
    }
    // P-256 against RustCrypto arithmetic.
    let (a, b) = (
        generated(ecc_pair(EccFamily::SecpR1), 256),
        generated(ecc_pair(EccFamily::SecpR1), 256),
    );
    let scalar = p256::NonZeroScalar::try_from(export(&a).unwrap().expose()).unwrap();
    let peer = p256::PublicKey::from_sec1_bytes(&export_public(&b).unwrap()).unwrap();
    let expected = (peer.to_projective() * *scalar).to_affine().x().to_vec();
    let shared = raw_key_agreement(&a, RawKeyAgreement::Ecdh, &export_public(&b).unwrap()).unwrap();
    assert_eq!(shared.expose(), expected);
}

#[test]
fn x25519_matches_rfc7748() {
    // RFC 7748 §6.1.
    let alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let bob_public = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let pair = key(ecc_pair(EccFamily::Montgomery), &alice);
    assert_eq!(
        export_public(&pair).unwrap(),
        hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    let mut clamped = alice.clone();
    clamp_x25519(&mut clamped);
    assert_eq!(
        export(&pair).unwrap().expose(),
        clamped,
        "stored clamped, as Mbed TLS does"
    );
    let shared = raw_key_agreement(&pair, RawKeyAgreement::Ecdh, &bob_public).unwrap();
    let expected = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(shared.expose(), expected);
    let sha256 = S::Ecdsa {
        hash_alg: Hash::Sha256.into(),
    };
    assert_eq!(sign_hash(&pair, sha256, &[0; 32]), Err(INVALID));
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
        assert!(rustcrypto_check(
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
    time("RSA-2048 PKCS#1 SHA-256 sign, rsa", || {
        drop(pair.rc.sign_with_rng(&mut LcRng, scheme(), &h).unwrap())
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
    time("RSA-2048 OAEP decrypt, rsa", || {
        drop(
            pair.rc
                .decrypt_blinded(&mut LcRng, rc_oaep(), &ciphertext)
                .unwrap(),
        )
    });
}
