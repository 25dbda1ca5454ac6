//! ECC: formats, ECDSA (random and RFC 6979), ECDH and X25519.

use super::*;

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

pub(super) fn rustcrypto_check(
    curve: (EccFamily, u32),
    point: &[u8],
    hash: &[u8],
    signature: &[u8],
) -> bool {
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
    // 56 bytes are an X448 key; other lengths are no Montgomery key.
    assert_eq!(import(&attrs(montgomery, 0), &[1; 56]).unwrap().0, 448);
    assert_eq!(
        import(&attrs(montgomery, 448), &[1; 32]).unwrap_err(),
        INVALID
    );
    assert_eq!(
        import(&attrs(montgomery, 0), &[1; 40]).unwrap_err(),
        INVALID
    );
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
