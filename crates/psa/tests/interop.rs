//! Interoperability with the upstream contracts: every operation and result that
//! parsec-interface 0.29.1 knows is encoded by upstream, decoded by us and checked field by
//! field, then encoded by us (byte for byte the same as upstream) and decoded by upstream again.
//! Malformed bodies get the same status from both sides.

#![allow(deprecated)]

mod common;

use std::collections::HashSet;

use common::*;
use parsec_interface::operations::psa_algorithm as ua;
use parsec_interface::operations::psa_key_attributes as uk;
use parsec_interface::operations::{
    self as up, Convert, NativeOperation as NO, NativeResult as NR,
};
use parsec_interface::operations_protobuf::ProtobufConverter;
use parsec_interface::requests::{AuthType, Opcode as UpOpcode, ProviderId, ResponseStatus};
use parsec_interface::secrecy::Secret as UpSecret;
use parsec_psa::{
    decode_operation, decode_result, encode_operation, encode_result, ops, DecodeError, OpResult,
    Operation, Secret,
};
use parsec_wire::Opcode;

fn our_opcode(op: UpOpcode) -> Opcode {
    Opcode::from_u32(op as u32).expect("every upstream opcode is ours too")
}

/// Upstream encodes `native`; we must decode exactly `expected`, and re-encode the same bytes,
/// which upstream must decode back to the same value.
fn check_op(native: NO, expected: Operation) {
    let conv = ProtobufConverter;
    let up_opcode = native.opcode();
    let opcode = our_opcode(up_opcode);
    assert_eq!(expected.opcode(), opcode);
    let theirs = conv.operation_to_body(native).unwrap().bytes().to_vec();
    let decoded = decode_operation(opcode, &theirs).unwrap();
    assert_eq!(decoded, expected, "decoding upstream's {opcode:?} body");
    let ours = encode_operation(&expected);
    assert_eq!(ours, theirs, "our {opcode:?} body differs from upstream's");
    let back = conv
        .body_to_operation(request_body(opcode.to_u32(), &ours), up_opcode)
        .unwrap();
    let again = conv.operation_to_body(back).unwrap().bytes().to_vec();
    assert_eq!(
        again, theirs,
        "upstream did not read back our {opcode:?} body"
    );
}

/// Same as [`check_op`] for results.
fn check_result(native: NR, expected: OpResult) {
    let conv = ProtobufConverter;
    let up_opcode = native.opcode();
    let opcode = our_opcode(up_opcode);
    assert_eq!(expected.opcode(), opcode);
    let theirs = conv.result_to_body(native).unwrap().bytes().to_vec();
    let decoded = decode_result(opcode, &theirs).unwrap();
    assert_eq!(decoded, expected, "decoding upstream's {opcode:?} result");
    let ours = encode_result(&expected);
    assert_eq!(
        ours, theirs,
        "our {opcode:?} result differs from upstream's"
    );
    let back = conv
        .body_to_result(response_body(opcode.to_u32(), &ours), up_opcode)
        .unwrap();
    let again = conv.result_to_body(back).unwrap().bytes().to_vec();
    assert_eq!(
        again, theirs,
        "upstream did not read back our {opcode:?} result"
    );
}

fn bytes(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

#[test]
fn core_operations() {
    check_op(NO::Ping(up::ping::Operation), Operation::Ping);
    check_op(
        NO::ListProviders(up::list_providers::Operation),
        Operation::ListProviders,
    );
    check_op(
        NO::ListAuthenticators(up::list_authenticators::Operation),
        Operation::ListAuthenticators,
    );
    check_op(
        NO::ListKeys(up::list_keys::Operation),
        Operation::ListKeys(ops::ListKeys { pattern: None }),
    );
    check_op(
        NO::ListClients(up::list_clients::Operation),
        Operation::ListClients,
    );
    for (provider, id) in [
        (ProviderId::Core, 0),
        (ProviderId::Tpm, 3),
        (ProviderId::CryptoAuthLib, 5),
    ] {
        check_op(
            NO::ListOpcodes(up::list_opcodes::Operation {
                provider_id: provider,
            }),
            Operation::ListOpcodes(ops::ListOpcodes { provider_id: id }),
        );
    }
    check_op(
        NO::DeleteClient(up::delete_client::Operation {
            client: "app-ü".into(),
        }),
        Operation::DeleteClient(ops::DeleteClient {
            client: "app-ü".into(),
        }),
    );
}

#[test]
fn core_results() {
    check_result(
        NR::Ping(up::ping::Result {
            wire_protocol_version_maj: 1,
            wire_protocol_version_min: 0,
        }),
        OpResult::Ping(ops::PingResult {
            wire_protocol_version_maj: 1,
            wire_protocol_version_min: 0,
        }),
    );
    let uuid = up::list_providers::Uuid::parse_str("1c1139dc-ad7c-47dc-ad6b-db6fdb466552").unwrap();
    check_result(
        NR::ListProviders(up::list_providers::Result {
            providers: vec![up::list_providers::ProviderInfo {
                uuid,
                description: "software".into(),
                vendor: "us".into(),
                version_maj: 1,
                version_min: 2,
                version_rev: 3,
                id: ProviderId::MbedCrypto,
            }],
        }),
        OpResult::ListProviders(ops::ListProvidersResult {
            providers: vec![ops::ProviderInfo {
                uuid: "1c1139dc-ad7c-47dc-ad6b-db6fdb466552".into(),
                description: "software".into(),
                vendor: "us".into(),
                version_maj: 1,
                version_min: 2,
                version_rev: 3,
                id: 1,
            }],
        }),
    );
    check_result(
        NR::ListAuthenticators(up::list_authenticators::Result {
            authenticators: vec![
                up::list_authenticators::AuthenticatorInfo {
                    description: "unix peer".into(),
                    version_maj: 0,
                    version_min: 1,
                    version_rev: 0,
                    id: AuthType::UnixPeerCredentials,
                },
                up::list_authenticators::AuthenticatorInfo {
                    description: "direct".into(),
                    version_maj: 2,
                    version_min: 0,
                    version_rev: 7,
                    id: AuthType::Direct,
                },
            ],
        }),
        OpResult::ListAuthenticators(ops::ListAuthenticatorsResult {
            authenticators: vec![
                ops::AuthenticatorInfo {
                    description: "unix peer".into(),
                    version_maj: 0,
                    version_min: 1,
                    version_rev: 0,
                    id: 3,
                },
                ops::AuthenticatorInfo {
                    description: "direct".into(),
                    version_maj: 2,
                    version_min: 0,
                    version_rev: 7,
                    id: 1,
                },
            ],
        }),
    );
    check_result(
        NR::ListClients(up::list_clients::Result {
            clients: vec!["a".into(), "".into(), "c".into()],
        }),
        OpResult::ListClients(ops::ListClientsResult {
            clients: vec!["a".into(), "".into(), "c".into()],
        }),
    );
    check_result(
        NR::DeleteClient(up::delete_client::Result),
        OpResult::DeleteClient,
    );
}

/// Upstream keeps opcodes in a HashSet, so its byte order is not fixed: compare as sets.
#[test]
fn list_opcodes_result() {
    let conv = ProtobufConverter;
    let upstream: HashSet<UpOpcode> = [
        UpOpcode::Ping,
        UpOpcode::PsaSignHash,
        UpOpcode::CanDoCrypto,
        UpOpcode::ListClients,
    ]
    .into_iter()
    .collect();
    let native = NR::ListOpcodes(up::list_opcodes::Result {
        opcodes: upstream.clone(),
    });
    let theirs = conv.result_to_body(native).unwrap().bytes().to_vec();
    let OpResult::ListOpcodes(ours) = decode_result(Opcode::ListOpcodes, &theirs).unwrap() else {
        panic!("wrong variant");
    };
    let ours_set: HashSet<Opcode> = ours.opcodes.iter().copied().collect();
    let expected: HashSet<Opcode> = upstream.iter().map(|op| our_opcode(*op)).collect();
    assert_eq!(ours_set, expected);
    let body = encode_result(&OpResult::ListOpcodes(ours));
    let back = conv
        .body_to_result(
            response_body(Opcode::ListOpcodes.to_u32(), &body),
            UpOpcode::ListOpcodes,
        )
        .unwrap();
    let NR::ListOpcodes(back) = back else {
        panic!("wrong variant");
    };
    assert_eq!(back.opcodes, upstream);
}

#[test]
fn every_key_type_and_algorithm_in_key_attributes() {
    let mut cases = Vec::new();
    for key_type in all_key_types() {
        cases.push((key_type, ua::Algorithm::None, 256));
    }
    for alg in all_algorithms() {
        cases.push((uk::Type::RsaKeyPair, alg, 2048));
    }
    for (i, (key_type, alg, bits)) in cases.into_iter().enumerate() {
        let attrs = upstream_attributes(key_type, alg, bits);
        let name = format!("key-{i}");
        check_op(
            NO::PsaGenerateKey(up::psa_generate_key::Operation {
                key_name: name.clone(),
                attributes: attrs,
            }),
            Operation::PsaGenerateKey(ops::GenerateKey {
                key_name: name.clone(),
                attributes: attributes(attrs),
            }),
        );
        check_op(
            NO::CanDoCrypto(up::can_do_crypto::Operation {
                check_type: up::can_do_crypto::CheckType::Generate,
                attributes: attrs,
            }),
            Operation::CanDoCrypto(ops::CanDoCrypto {
                check_type: ops::CheckType::Generate,
                attributes: attributes(attrs),
            }),
        );
    }
}

#[test]
fn usage_flags_one_by_one() {
    type Setter = fn(&mut uk::UsageFlags) -> &mut uk::UsageFlags;
    let setters: [Setter; 10] = [
        uk::UsageFlags::set_export,
        uk::UsageFlags::set_copy,
        uk::UsageFlags::set_cache,
        uk::UsageFlags::set_encrypt,
        uk::UsageFlags::set_decrypt,
        uk::UsageFlags::set_sign_message,
        uk::UsageFlags::set_verify_message,
        uk::UsageFlags::set_sign_hash,
        uk::UsageFlags::set_verify_hash,
        uk::UsageFlags::set_derive,
    ];
    for set in setters {
        let mut attrs = upstream_attributes(uk::Type::Aes, ua::Algorithm::None, 128);
        attrs.policy.usage_flags = uk::UsageFlags::default();
        set(&mut attrs.policy.usage_flags);
        check_op(
            NO::PsaImportKey(up::psa_import_key::Operation {
                key_name: "k".into(),
                attributes: attrs,
                data: UpSecret::new(bytes(1, 16)),
            }),
            Operation::PsaImportKey(ops::ImportKey {
                key_name: "k".into(),
                attributes: attributes(attrs),
                data: Secret::new(bytes(1, 16)),
            }),
        );
    }
}

#[test]
fn check_types() {
    use up::can_do_crypto::CheckType as U;
    let attrs = upstream_attributes(uk::Type::Hmac, ua::Algorithm::None, 256);
    for (up_check, check) in [
        (U::Use, ops::CheckType::Use),
        (U::Generate, ops::CheckType::Generate),
        (U::Import, ops::CheckType::Import),
        (U::Derive, ops::CheckType::Derive),
    ] {
        check_op(
            NO::CanDoCrypto(up::can_do_crypto::Operation {
                check_type: up_check,
                attributes: attrs,
            }),
            Operation::CanDoCrypto(ops::CanDoCrypto {
                check_type: check,
                attributes: attributes(attrs),
            }),
        );
    }
}

#[test]
fn list_keys_result() {
    let keys: Vec<(ProviderId, u8, uk::Attributes)> = vec![
        (
            ProviderId::MbedCrypto,
            1,
            upstream_attributes(
                uk::Type::EccKeyPair {
                    curve_family: uk::EccFamily::SecpR1,
                },
                ua::Algorithm::AsymmetricSignature(ua::AsymmetricSignature::Ecdsa {
                    hash_alg: ua::SignHash::Any,
                }),
                256,
            ),
        ),
        (
            ProviderId::Pkcs11,
            2,
            upstream_attributes(
                uk::Type::Aes,
                ua::Algorithm::Cipher(ua::Cipher::CbcPkcs7),
                128,
            ),
        ),
    ];
    let native = NR::ListKeys(up::list_keys::Result {
        keys: keys
            .iter()
            .enumerate()
            .map(|(i, (provider_id, _, attrs))| up::list_keys::KeyInfo {
                provider_id: *provider_id,
                name: format!("key {i}"),
                attributes: *attrs,
            })
            .collect(),
    });
    let expected = OpResult::ListKeys(ops::ListKeysResult {
        keys: keys
            .iter()
            .enumerate()
            .map(|(i, (_, id, attrs))| ops::KeyInfo {
                provider_id: *id,
                name: format!("key {i}"),
                attributes: attributes(*attrs),
            })
            .collect(),
    });
    check_result(native, expected);
    check_result(
        NR::ListKeys(up::list_keys::Result { keys: vec![] }),
        OpResult::ListKeys(ops::ListKeysResult::default()),
    );
}

#[path = "interop/errors.rs"]
mod errors;
#[path = "interop/psa_ops.rs"]
mod psa_ops;
