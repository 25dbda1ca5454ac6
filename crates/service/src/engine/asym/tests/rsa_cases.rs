//! RSA: formats, signatures, encryption, and cross-checks with openssl.

use super::*;

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
        let (ok, _) = openssl(
            &[
                "pkeyutl", "-verify", "-keyform", "DER", "-inkey", "{0}", "-in", "{1}", "-sigfile",
                "{2}",
            ],
            &[der, &data, &signature],
        );
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
        let (ok, _) = openssl(&args, &[der, &hash, &signature]);
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
            let (ok, signature) = openssl(&args, &[der, &hash]);
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
        let (ok, plain) = openssl(&args, &[der, &ciphertext]);
        assert!(ok && plain == b"to openssl");
        let args = [
            "pkeyutl", "-encrypt", "-keyform", "DER", "-inkey", "{0}", "-in", "{1}",
        ];
        let (ok, ciphertext) = openssl(&args, &[der, b"from openssl"]);
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
