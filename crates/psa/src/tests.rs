//! Unit tests of the typed layer: rejections of invalid values, the opcode table, and the MAC
//! operations (which upstream's typed model lacks, so the interop tests cannot cover them).

use parsec_wire::Opcode;
use prost::Message;

use crate::proto::psa_algorithm::algorithm as pa;
use crate::proto::psa_key_attributes as pk;
use crate::*;

fn invalid(r: Result<impl std::fmt::Debug, DecodeError>) {
    match r {
        Err(e @ DecodeError::InvalidEncoding(_)) => assert_eq!(e.status().to_u16(), 16),
        other => panic!("expected InvalidEncoding, got {other:?}"),
    }
}

fn alg(variant: pa::Variant) -> proto::psa_algorithm::Algorithm {
    proto::psa_algorithm::Algorithm {
        variant: Some(variant),
    }
}

#[test]
fn placeholder_and_unknown_enumeration_values_are_refused() {
    for value in [0, 16, -1, i32::MAX] {
        invalid(Algorithm::try_from(alg(pa::Variant::Hash(value))));
        invalid(AsymmetricEncryption::try_from(pa::AsymmetricEncryption {
            variant: Some(pa::asymmetric_encryption::Variant::RsaOaep(
                pa::asymmetric_encryption::RsaOaep { hash_alg: value },
            )),
        }));
        invalid(KeyDerivation::try_from(pa::KeyDerivation {
            variant: Some(pa::key_derivation::Variant::Tls12Prf(
                pa::key_derivation::Tls12Prf { hash_alg: value },
            )),
        }));
        invalid(SignHash::try_from(pa::asymmetric_signature::SignHash {
            variant: Some(pa::asymmetric_signature::sign_hash::Variant::Specific(
                value,
            )),
        }));
    }
    for value in [0, 9, -3] {
        invalid(Algorithm::try_from(alg(pa::Variant::Cipher(value))));
    }
    for value in [0, 4] {
        invalid(Aead::try_from(pa::Aead {
            variant: Some(pa::aead::Variant::AeadWithDefaultLengthTag(value)),
        }));
        invalid(Aead::try_from(pa::Aead {
            variant: Some(pa::aead::Variant::AeadWithShortenedTag(
                pa::aead::AeadWithShortenedTag {
                    aead_alg: value,
                    tag_length: 8,
                },
            )),
        }));
    }
    for value in [0, 3] {
        invalid(KeyAgreement::try_from(pa::KeyAgreement {
            variant: Some(pa::key_agreement::Variant::Raw(value)),
        }));
    }
    for value in [0, 10] {
        invalid(KeyType::try_from(pk::KeyType {
            variant: Some(pk::key_type::Variant::EccKeyPair(
                pk::key_type::EccKeyPair {
                    curve_family: value,
                },
            )),
        }));
    }
    invalid(KeyType::try_from(pk::KeyType {
        variant: Some(pk::key_type::Variant::DhPublicKey(
            pk::key_type::DhPublicKey { group_family: 1 },
        )),
    }));
    let hmac_none = pa::mac::FullLength {
        variant: Some(pa::mac::full_length::Variant::Hmac(
            pa::mac::full_length::Hmac { hash_alg: 0 },
        )),
    };
    invalid(FullLengthMac::try_from(hmac_none));
    let check_none = proto::can_do_crypto::Operation {
        check_type: 0,
        attributes: Some(sample_attributes().into()),
    };
    invalid(decode_operation(
        Opcode::CanDoCrypto,
        &check_none.encode_to_vec(),
    ));
}

#[test]
fn missing_oneofs_and_messages_are_refused() {
    invalid(Algorithm::try_from(proto::psa_algorithm::Algorithm {
        variant: None,
    }));
    invalid(Mac::try_from(pa::Mac { variant: None }));
    invalid(FullLengthMac::try_from(pa::mac::FullLength {
        variant: None,
    }));
    invalid(Mac::try_from(pa::Mac {
        variant: Some(pa::mac::Variant::Truncated(pa::mac::Truncated {
            mac_alg: None,
            mac_length: 8,
        })),
    }));
    invalid(SignHash::try_from(pa::asymmetric_signature::SignHash {
        variant: None,
    }));
    invalid(AsymmetricSignature::try_from(pa::AsymmetricSignature {
        variant: Some(pa::asymmetric_signature::Variant::DeterministicEcdsa(
            pa::asymmetric_signature::DeterministicEcdsa { hash_alg: None },
        )),
    }));
    invalid(AsymmetricEncryption::try_from(pa::AsymmetricEncryption {
        variant: None,
    }));
    invalid(KeyAgreement::try_from(pa::KeyAgreement {
        variant: Some(pa::key_agreement::Variant::WithKeyDerivation(
            pa::key_agreement::WithKeyDerivation {
                ka_alg: 1,
                kdf_alg: None,
            },
        )),
    }));
    invalid(KeyDerivation::try_from(pa::KeyDerivation { variant: None }));
    invalid(KeyType::try_from(pk::KeyType { variant: None }));
    let full: pk::KeyAttributes = sample_attributes().into();
    let mut no_type = full.clone();
    no_type.key_type = None;
    invalid(KeyAttributes::try_from(no_type));
    let mut no_policy = full.clone();
    no_policy.key_policy = None;
    invalid(KeyAttributes::try_from(no_policy));
    let mut no_flags = full.clone();
    no_flags.key_policy.as_mut().unwrap().key_usage_flags = None;
    invalid(KeyAttributes::try_from(no_flags));
    let mut no_alg = full;
    no_alg.key_policy.as_mut().unwrap().key_algorithm = None;
    invalid(KeyAttributes::try_from(no_alg));

    // Operations that need an algorithm or attributes refuse an empty body.
    for opcode in [
        Opcode::PsaGenerateKey,
        Opcode::PsaImportKey,
        Opcode::PsaSignHash,
        Opcode::PsaVerifyMessage,
        Opcode::PsaAsymmetricEncrypt,
        Opcode::PsaAeadDecrypt,
        Opcode::PsaCipherEncrypt,
        Opcode::PsaMacCompute,
        Opcode::PsaMacVerify,
        Opcode::PsaHashCompare,
        Opcode::PsaRawKeyAgreement,
        Opcode::CanDoCrypto,
        Opcode::AttestKey,
        Opcode::PrepareKeyAttestation,
    ] {
        invalid(decode_operation(opcode, &[]));
    }
    for opcode in [Opcode::AttestKey, Opcode::PrepareKeyAttestation] {
        invalid(decode_result(opcode, &[]));
    }
    let key_without_attributes = proto::list_keys::Result {
        keys: vec![proto::list_keys::KeyInfo {
            provider_id: 1,
            name: "k".into(),
            attributes: None,
        }],
    };
    invalid(decode_result(
        Opcode::ListKeys,
        &key_without_attributes.encode_to_vec(),
    ));
}

#[test]
fn out_of_range_numbers_are_refused() {
    let list_opcodes = |provider_id| proto::list_opcodes::Operation { provider_id }.encode_to_vec();
    assert_eq!(
        decode_operation(Opcode::ListOpcodes, &list_opcodes(255)).unwrap(),
        Operation::ListOpcodes(ops::ListOpcodes { provider_id: 255 })
    );
    invalid(decode_operation(Opcode::ListOpcodes, &list_opcodes(256)));
    let key = |provider_id| {
        proto::list_keys::Result {
            keys: vec![proto::list_keys::KeyInfo {
                provider_id,
                name: "k".into(),
                attributes: Some(sample_attributes().into()),
            }],
        }
        .encode_to_vec()
    };
    assert!(decode_result(Opcode::ListKeys, &key(255)).is_ok());
    invalid(decode_result(Opcode::ListKeys, &key(256)));
    let ping = proto::ping::Result {
        wire_protocol_version_maj: 256,
        wire_protocol_version_min: 0,
    };
    invalid(decode_result(Opcode::Ping, &ping.encode_to_vec()));
    let provider = proto::list_providers::Result {
        providers: vec![proto::list_providers::ProviderInfo {
            id: 300,
            ..Default::default()
        }],
    };
    invalid(decode_result(
        Opcode::ListProviders,
        &provider.encode_to_vec(),
    ));
    let authenticator = proto::list_authenticators::Result {
        authenticators: vec![proto::list_authenticators::AuthenticatorInfo {
            id: 1 << 20,
            ..Default::default()
        }],
    };
    invalid(decode_result(
        Opcode::ListAuthenticators,
        &authenticator.encode_to_vec(),
    ));
    for unknown in [0u32, 0x1D, 0x21, u32::MAX] {
        let body = proto::list_opcodes::Result {
            opcodes: vec![1, unknown],
        };
        invalid(decode_result(Opcode::ListOpcodes, &body.encode_to_vec()));
    }
}

fn sample_attributes() -> KeyAttributes {
    KeyAttributes {
        key_type: KeyType::Hmac,
        bits: 256,
        policy: Policy {
            usage_flags: UsageFlags {
                sign_message: true,
                verify_message: true,
                ..Default::default()
            },
            permitted_algorithms: Algorithm::Mac(Mac::Truncated {
                mac_alg: FullLengthMac::Hmac {
                    hash_alg: Hash::Sha384,
                },
                mac_length: 16,
            }),
        },
    }
}

#[test]
fn mac_compute_matches_a_hand_encoded_body() {
    let op = Operation::PsaMacCompute(ops::MacCompute {
        key_name: "k".into(),
        alg: Mac::FullLength(FullLengthMac::Cmac),
        input: vec![1, 2],
    });
    // key_name (1) "k"; alg (2) = Mac { full_length (1) = FullLength { cmac (3) = {} } };
    // input (3) = 01 02.
    let expected = [
        0x0A, 0x01, b'k', 0x12, 0x04, 0x0A, 0x02, 0x1A, 0x00, 0x1A, 0x02, 0x01, 0x02,
    ];
    assert_eq!(encode_operation(&op), expected);
    assert_eq!(
        decode_operation(Opcode::PsaMacCompute, &expected).unwrap(),
        op
    );
}

#[test]
fn mac_operations_round_trip_with_every_shape() {
    let fulls = [
        FullLengthMac::CbcMac,
        FullLengthMac::Cmac,
        FullLengthMac::Hmac {
            hash_alg: Hash::Sha3_512,
        },
    ];
    for full in fulls {
        for alg in [
            Mac::FullLength(full),
            Mac::Truncated {
                mac_alg: full,
                mac_length: 4,
            },
        ] {
            let ops = [
                Operation::PsaMacCompute(ops::MacCompute {
                    key_name: "mac".into(),
                    alg,
                    input: b"data".to_vec(),
                }),
                Operation::PsaMacVerify(ops::MacVerify {
                    key_name: "mac".into(),
                    alg,
                    input: b"data".to_vec(),
                    mac: vec![9; 16],
                }),
            ];
            for op in ops {
                let body = encode_operation(&op);
                assert_eq!(decode_operation(op.opcode(), &body).unwrap(), op);
            }
        }
    }
    let results = [
        OpResult::PsaMacCompute(ops::MacComputeResult { mac: vec![7; 32] }),
        OpResult::PsaMacVerify,
    ];
    for result in results {
        let body = encode_result(&result);
        assert_eq!(decode_result(result.opcode(), &body).unwrap(), result);
    }
}

#[test]
fn every_opcode_has_a_contract_in_both_directions() {
    for opcode in Opcode::ALL {
        for outcome in [
            decode_operation(opcode, &[]).map(|op| op.opcode()),
            decode_result(opcode, &[]).map(|res| res.opcode()),
        ] {
            match outcome {
                Ok(decoded) => assert_eq!(decoded, opcode),
                Err(DecodeError::InvalidEncoding(why)) => {
                    assert_ne!(why, "opcode without a contract", "{opcode:?}")
                }
                Err(e) => panic!("{opcode:?}: {e}"),
            }
        }
    }
}

#[test]
fn hash_values_follow_the_wire_order() {
    for (i, hash) in Hash::ALL.into_iter().enumerate() {
        let wire = i32::try_from(i + 1).unwrap();
        let decoded = Algorithm::try_from(alg(pa::Variant::Hash(wire))).unwrap();
        assert_eq!(decoded, Algorithm::Hash(hash));
        assert_eq!(
            proto::psa_algorithm::Algorithm::from(Algorithm::Hash(hash)),
            alg(pa::Variant::Hash(wire))
        );
    }
}

#[test]
fn decoding_never_panics_on_short_random_bodies() {
    // A small deterministic generator: every body of up to 3 bytes over a few interesting
    // bytes, for every opcode, in both directions.
    let alphabet = [0x00, 0x01, 0x08, 0x0A, 0x12, 0x1A, 0x7F, 0x80, 0xFF];
    let mut bodies = vec![vec![]];
    for len in 1..=3 {
        let mut next = Vec::new();
        for body in bodies.iter().filter(|b| b.len() == len - 1) {
            for &byte in &alphabet {
                let mut b = body.clone();
                b.push(byte);
                next.push(b);
            }
        }
        bodies.extend(next);
    }
    for opcode in Opcode::ALL {
        for body in &bodies {
            if let Ok(op) = decode_operation(opcode, body) {
                let again = encode_operation(&op);
                assert_eq!(decode_operation(opcode, &again).unwrap(), op);
            }
            if let Ok(res) = decode_result(opcode, body) {
                let again = encode_result(&res);
                assert_eq!(decode_result(opcode, &again).unwrap(), res);
            }
        }
    }
}
