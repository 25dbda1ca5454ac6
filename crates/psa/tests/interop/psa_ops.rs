//! The PSA operations and their results, every algorithm shape at least once.

use super::*;
use zeroize::Zeroizing;

#[test]
fn key_management() {
    let attrs = upstream_attributes(uk::Type::RsaKeyPair, ua::Algorithm::None, 2048);
    check_op(
        NO::PsaImportKey(up::psa_import_key::Operation {
            key_name: "imported".into(),
            attributes: attrs,
            data: UpSecret::new(bytes(7, 40)),
        }),
        Operation::PsaImportKey(ops::ImportKey {
            key_name: "imported".into(),
            attributes: attributes(attrs),
            data: Secret::new(bytes(7, 40)),
        }),
    );
    check_op(
        NO::PsaDestroyKey(up::psa_destroy_key::Operation {
            key_name: "gone".into(),
        }),
        Operation::PsaDestroyKey(ops::DestroyKey {
            key_name: "gone".into(),
        }),
    );
    check_op(
        NO::PsaExportPublicKey(up::psa_export_public_key::Operation {
            key_name: "pub".into(),
        }),
        Operation::PsaExportPublicKey(ops::ExportPublicKey {
            key_name: "pub".into(),
        }),
    );
    check_op(
        NO::PsaExportKey(up::psa_export_key::Operation {
            key_name: "".into(),
        }),
        Operation::PsaExportKey(ops::ExportKey {
            key_name: "".into(),
        }),
    );
    check_result(
        NR::PsaGenerateKey(up::psa_generate_key::Result),
        OpResult::PsaGenerateKey,
    );
    check_result(
        NR::PsaImportKey(up::psa_import_key::Result),
        OpResult::PsaImportKey,
    );
    check_result(
        NR::PsaDestroyKey(up::psa_destroy_key::Result),
        OpResult::PsaDestroyKey,
    );
    check_result(
        NR::PsaExportPublicKey(up::psa_export_public_key::Result {
            data: Zeroizing::new(bytes(4, 65)),
        }),
        OpResult::PsaExportPublicKey(ops::ExportPublicKeyResult { data: bytes(4, 65) }),
    );
    check_result(
        NR::PsaExportKey(up::psa_export_key::Result {
            data: UpSecret::new(bytes(9, 32)),
        }),
        OpResult::PsaExportKey(ops::ExportKeyResult {
            data: Secret::new(bytes(9, 32)),
        }),
    );
    check_result(
        NR::CanDoCrypto(up::can_do_crypto::Result),
        OpResult::CanDoCrypto,
    );
}

#[test]
fn signatures_with_every_shape() {
    for (i, alg) in all_signatures().into_iter().enumerate() {
        let ours = signature(alg);
        let digest = bytes(i as u8, 32);
        let sig = bytes(100 + i as u8, 64);
        check_op(
            NO::PsaSignHash(up::psa_sign_hash::Operation {
                key_name: "signer".into(),
                alg,
                hash: Zeroizing::new(digest.clone()),
            }),
            Operation::PsaSignHash(ops::SignHash {
                key_name: "signer".into(),
                alg: ours,
                hash: digest.clone(),
            }),
        );
        check_op(
            NO::PsaVerifyHash(up::psa_verify_hash::Operation {
                key_name: "signer".into(),
                alg,
                hash: Zeroizing::new(digest.clone()),
                signature: Zeroizing::new(sig.clone()),
            }),
            Operation::PsaVerifyHash(ops::VerifyHash {
                key_name: "signer".into(),
                alg: ours,
                hash: digest.clone(),
                signature: sig.clone(),
            }),
        );
        check_op(
            NO::PsaSignMessage(up::psa_sign_message::Operation {
                key_name: "m".into(),
                alg,
                message: Zeroizing::new(b"message".to_vec()),
            }),
            Operation::PsaSignMessage(ops::SignMessage {
                key_name: "m".into(),
                alg: ours,
                message: b"message".to_vec(),
            }),
        );
        check_op(
            NO::PsaVerifyMessage(up::psa_verify_message::Operation {
                key_name: "m".into(),
                alg,
                message: Zeroizing::new(vec![]),
                signature: Zeroizing::new(sig.clone()),
            }),
            Operation::PsaVerifyMessage(ops::VerifyMessage {
                key_name: "m".into(),
                alg: ours,
                message: vec![],
                signature: sig.clone(),
            }),
        );
    }
    check_result(
        NR::PsaSignHash(up::psa_sign_hash::Result {
            signature: Zeroizing::new(bytes(1, 71)),
        }),
        OpResult::PsaSignHash(ops::SignHashResult {
            signature: bytes(1, 71),
        }),
    );
    check_result(
        NR::PsaSignMessage(up::psa_sign_message::Result {
            signature: Zeroizing::new(bytes(2, 256)),
        }),
        OpResult::PsaSignMessage(ops::SignMessageResult {
            signature: bytes(2, 256),
        }),
    );
    check_result(
        NR::PsaVerifyHash(up::psa_verify_hash::Result),
        OpResult::PsaVerifyHash,
    );
    check_result(
        NR::PsaVerifyMessage(up::psa_verify_message::Result),
        OpResult::PsaVerifyMessage,
    );
}

#[test]
fn asymmetric_encryption_with_and_without_salt() {
    let algs = [
        ua::AsymmetricEncryption::RsaPkcs1v15Crypt,
        ua::AsymmetricEncryption::RsaOaep {
            hash_alg: ua::Hash::Sha256,
        },
    ];
    for alg in algs {
        for salt in [None, Some(b"label".to_vec())] {
            check_op(
                NO::PsaAsymmetricEncrypt(up::psa_asymmetric_encrypt::Operation {
                    key_name: "rsa".into(),
                    alg,
                    plaintext: Zeroizing::new(b"secret".to_vec()),
                    salt: salt.clone().map(Zeroizing::new),
                }),
                Operation::PsaAsymmetricEncrypt(ops::AsymmetricEncrypt {
                    key_name: "rsa".into(),
                    alg: encryption(alg),
                    plaintext: Secret::new(b"secret".to_vec()),
                    salt: salt.clone(),
                }),
            );
            check_op(
                NO::PsaAsymmetricDecrypt(up::psa_asymmetric_decrypt::Operation {
                    key_name: "rsa".into(),
                    alg,
                    ciphertext: Zeroizing::new(bytes(3, 256)),
                    salt: salt.clone().map(Zeroizing::new),
                }),
                Operation::PsaAsymmetricDecrypt(ops::AsymmetricDecrypt {
                    key_name: "rsa".into(),
                    alg: encryption(alg),
                    ciphertext: bytes(3, 256),
                    salt: salt.clone(),
                }),
            );
        }
    }
    check_result(
        NR::PsaAsymmetricEncrypt(up::psa_asymmetric_encrypt::Result {
            ciphertext: Zeroizing::new(bytes(5, 256)),
        }),
        OpResult::PsaAsymmetricEncrypt(ops::AsymmetricEncryptResult {
            ciphertext: bytes(5, 256),
        }),
    );
    check_result(
        NR::PsaAsymmetricDecrypt(up::psa_asymmetric_decrypt::Result {
            plaintext: Zeroizing::new(b"secret".to_vec()),
        }),
        OpResult::PsaAsymmetricDecrypt(ops::AsymmetricDecryptResult {
            plaintext: Secret::new(b"secret".to_vec()),
        }),
    );
}

#[test]
fn aead_with_every_shape() {
    for alg in all_aeads() {
        check_op(
            NO::PsaAeadEncrypt(up::psa_aead_encrypt::Operation {
                key_name: "aes".into(),
                alg,
                nonce: Zeroizing::new(bytes(1, 12)),
                additional_data: Zeroizing::new(b"ad".to_vec()),
                plaintext: Zeroizing::new(b"plain".to_vec()),
            }),
            Operation::PsaAeadEncrypt(ops::AeadEncrypt {
                key_name: "aes".into(),
                alg: aead(alg),
                nonce: bytes(1, 12),
                additional_data: b"ad".to_vec(),
                plaintext: Secret::new(b"plain".to_vec()),
            }),
        );
        check_op(
            NO::PsaAeadDecrypt(up::psa_aead_decrypt::Operation {
                key_name: "aes".into(),
                alg,
                nonce: Zeroizing::new(bytes(1, 12)),
                additional_data: Zeroizing::new(vec![]),
                ciphertext: Zeroizing::new(bytes(9, 21)),
            }),
            Operation::PsaAeadDecrypt(ops::AeadDecrypt {
                key_name: "aes".into(),
                alg: aead(alg),
                nonce: bytes(1, 12),
                additional_data: vec![],
                ciphertext: bytes(9, 21),
            }),
        );
    }
    check_result(
        NR::PsaAeadEncrypt(up::psa_aead_encrypt::Result {
            ciphertext: Zeroizing::new(bytes(9, 21)),
        }),
        OpResult::PsaAeadEncrypt(ops::AeadEncryptResult {
            ciphertext: bytes(9, 21),
        }),
    );
    check_result(
        NR::PsaAeadDecrypt(up::psa_aead_decrypt::Result {
            plaintext: Zeroizing::new(b"plain".to_vec()),
        }),
        OpResult::PsaAeadDecrypt(ops::AeadDecryptResult {
            plaintext: Secret::new(b"plain".to_vec()),
        }),
    );
}

#[test]
fn ciphers_with_every_mode() {
    for alg in all_ciphers() {
        check_op(
            NO::PsaCipherEncrypt(up::psa_cipher_encrypt::Operation {
                key_name: "c".into(),
                alg,
                plaintext: Zeroizing::new(bytes(0, 16)),
            }),
            Operation::PsaCipherEncrypt(ops::CipherEncrypt {
                key_name: "c".into(),
                alg: cipher(alg),
                plaintext: Secret::new(bytes(0, 16)),
            }),
        );
        check_op(
            NO::PsaCipherDecrypt(up::psa_cipher_decrypt::Operation {
                key_name: "c".into(),
                alg,
                ciphertext: Zeroizing::new(bytes(0, 32)),
            }),
            Operation::PsaCipherDecrypt(ops::CipherDecrypt {
                key_name: "c".into(),
                alg: cipher(alg),
                ciphertext: bytes(0, 32),
            }),
        );
    }
    check_result(
        NR::PsaCipherEncrypt(up::psa_cipher_encrypt::Result {
            ciphertext: Zeroizing::new(bytes(0, 32)),
        }),
        OpResult::PsaCipherEncrypt(ops::CipherEncryptResult {
            ciphertext: bytes(0, 32),
        }),
    );
    check_result(
        NR::PsaCipherDecrypt(up::psa_cipher_decrypt::Result {
            plaintext: Zeroizing::new(bytes(0, 16)),
        }),
        OpResult::PsaCipherDecrypt(ops::CipherDecryptResult {
            plaintext: Secret::new(bytes(0, 16)),
        }),
    );
}

#[test]
fn hashes_with_every_algorithm() {
    for alg in all_hashes() {
        check_op(
            NO::PsaHashCompute(up::psa_hash_compute::Operation {
                alg,
                input: Zeroizing::new(b"abc".to_vec()),
            }),
            Operation::PsaHashCompute(ops::HashCompute {
                alg: hash(alg),
                input: b"abc".to_vec(),
            }),
        );
        check_op(
            NO::PsaHashCompare(up::psa_hash_compare::Operation {
                alg,
                input: Zeroizing::new(b"abc".to_vec()),
                hash: Zeroizing::new(bytes(0, 32)),
            }),
            Operation::PsaHashCompare(ops::HashCompare {
                alg: hash(alg),
                input: b"abc".to_vec(),
                hash: bytes(0, 32),
            }),
        );
    }
    check_result(
        NR::PsaHashCompute(up::psa_hash_compute::Result {
            hash: Zeroizing::new(bytes(0, 32)),
        }),
        OpResult::PsaHashCompute(ops::HashComputeResult { hash: bytes(0, 32) }),
    );
    check_result(
        NR::PsaHashCompare(up::psa_hash_compare::Result),
        OpResult::PsaHashCompare,
    );
}

#[test]
fn random_and_key_agreement() {
    for size in [0usize, 1, 32, 1 << 20] {
        check_op(
            NO::PsaGenerateRandom(up::psa_generate_random::Operation { size }),
            Operation::PsaGenerateRandom(ops::GenerateRandom { size: size as u64 }),
        );
    }
    check_result(
        NR::PsaGenerateRandom(up::psa_generate_random::Result {
            random_bytes: Zeroizing::new(bytes(42, 10)),
        }),
        OpResult::PsaGenerateRandom(ops::GenerateRandomResult {
            random_bytes: Secret::new(bytes(42, 10)),
        }),
    );
    for alg in [ua::RawKeyAgreement::Ecdh, ua::RawKeyAgreement::Ffdh] {
        check_op(
            NO::PsaRawKeyAgreement(up::psa_raw_key_agreement::Operation {
                alg,
                private_key_name: "mine".into(),
                peer_key: Zeroizing::new(bytes(4, 65)),
            }),
            Operation::PsaRawKeyAgreement(ops::RawKeyAgreement {
                alg: raw_agreement(alg),
                private_key_name: "mine".into(),
                peer_key: bytes(4, 65),
            }),
        );
    }
    check_result(
        NR::PsaRawKeyAgreement(up::psa_raw_key_agreement::Result {
            shared_secret: UpSecret::new(bytes(8, 32)),
        }),
        OpResult::PsaRawKeyAgreement(ops::RawKeyAgreementResult {
            shared_secret: Secret::new(bytes(8, 32)),
        }),
    );
}

#[test]
fn key_attestation() {
    for (up_name, name) in [
        (None, None),
        (Some("ak".to_string()), Some("ak".to_string())),
    ] {
        check_op(
            NO::PrepareKeyAttestation(up::prepare_key_attestation::Operation::ActivateCredential {
                attested_key_name: "attested".into(),
                attesting_key_name: up_name.clone(),
            }),
            Operation::PrepareKeyAttestation(ops::PrepareKeyAttestation::ActivateCredential {
                attested_key_name: "attested".into(),
                attesting_key_name: name.clone(),
            }),
        );
        check_op(
            NO::AttestKey(up::attest_key::Operation::ActivateCredential {
                attested_key_name: "attested".into(),
                attesting_key_name: up_name,
                credential_blob: Zeroizing::new(bytes(1, 50)),
                secret: Zeroizing::new(bytes(2, 30)),
            }),
            Operation::AttestKey(ops::AttestKey::ActivateCredential {
                attested_key_name: "attested".into(),
                attesting_key_name: name,
                credential_blob: Secret::new(bytes(1, 50)),
                secret: Secret::new(bytes(2, 30)),
            }),
        );
    }
    check_result(
        NR::PrepareKeyAttestation(up::prepare_key_attestation::Result::ActivateCredential {
            name: Zeroizing::new(bytes(1, 34)),
            public: Zeroizing::new(bytes(2, 90)),
            attesting_key_pub: Zeroizing::new(bytes(3, 60)),
        }),
        OpResult::PrepareKeyAttestation(ops::PrepareKeyAttestationResult::ActivateCredential {
            name: bytes(1, 34),
            public: bytes(2, 90),
            attesting_key_pub: bytes(3, 60),
        }),
    );
    check_result(
        NR::AttestKey(up::attest_key::Result::ActivateCredential {
            credential: Zeroizing::new(bytes(5, 16)),
        }),
        OpResult::AttestKey(ops::AttestKeyResult::ActivateCredential {
            credential: Secret::new(bytes(5, 16)),
        }),
    );
}
