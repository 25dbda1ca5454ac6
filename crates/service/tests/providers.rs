//! One test suite for every crypto provider: software, PKCS#11 on a SoftHSM2 token, TPM 2.0 on
//! swtpm. Each case runs against the real daemon through the crates.io `parsec-client`, and
//! checks results with an independent implementation (aws-lc-rs) where one exists.
//!
//! A case for an operation the provider does not declare (ListOpcodes) checks that the
//! operation is refused, prints why, and stops there: that is the only kind of skip.

mod common;

use common::backends::{start_daemon, Device, Kind};
use common::{direct_client, Daemon};
use parsec_client::core::interface::operations::can_do_crypto::CheckType;
use parsec_client::core::interface::operations::psa_algorithm::{
    Algorithm, AsymmetricEncryption, AsymmetricSignature, Hash, SignHash,
};
use parsec_client::core::interface::operations::psa_key_attributes::{
    Attributes, EccFamily, Lifetime, Policy, Type, UsageFlags,
};
use parsec_client::core::interface::requests::{Opcode, ResponseStatus};
use parsec_client::error::Error;
use parsec_client::BasicClient;

/// A daemon over a fresh device, with its store in a temp directory.
struct Bench {
    kind: Kind,
    device: Device,
    state: tempfile::TempDir,
    daemon: Daemon,
}

impl Bench {
    fn new(kind: Kind) -> Bench {
        let device = kind.device();
        let state = tempfile::tempdir().unwrap();
        let daemon = start_daemon(&device, state.path());
        Bench {
            kind,
            device,
            state,
            daemon,
        }
    }

    fn client(&self, app: &str) -> BasicClient {
        let mut client = direct_client(&self.daemon.socket, app);
        client.set_implicit_provider(self.kind.id());
        client
    }

    /// Stops the daemon and starts another over the same device and store.
    fn restart(&mut self) {
        self.daemon.signal("TERM");
        self.daemon.wait_exit();
        self.daemon = start_daemon(&self.device, self.state.path());
    }

    /// Whether the provider must offer `opcode` (its row of [`offered`], which the discovery
    /// case checks against ListOpcodes exactly); if not, checks that a call is refused.
    fn declares(&self, opcode: Opcode, call: impl FnOnce() -> Result<(), Error>) -> bool {
        if offered(self.kind).contains(&opcode) {
            return true;
        }
        assert_eq!(
            status_of(call()),
            ResponseStatus::PsaErrorNotSupported,
            "an operation the {:?} provider does not offer is refused",
            self.kind
        );
        false
    }
}

/// What each provider must list in ListOpcodes, in opcode order: the software provider; the
/// PKCS#11 provider on SoftHSM2 (what its mechanisms allow); the TPM provider on swtpm.
fn offered(kind: Kind) -> Vec<Opcode> {
    use Opcode as O;
    // Upstream's PKCS#11 and TPM providers' operations, with message signatures.
    let mut ops = vec![
        O::PsaGenerateKey,
        O::PsaDestroyKey,
        O::PsaSignHash,
        O::PsaVerifyHash,
        O::PsaImportKey,
        O::PsaExportPublicKey,
        O::PsaAsymmetricEncrypt,
        O::PsaAsymmetricDecrypt,
        O::PsaGenerateRandom,
        O::PsaSignMessage,
        O::PsaVerifyMessage,
        O::CanDoCrypto,
    ];
    // On the token: AES-GCM, hashes and ECDH (SoftHSM2 has the mechanisms).
    let token = [
        O::PsaHashCompute,
        O::PsaHashCompare,
        O::PsaAeadEncrypt,
        O::PsaAeadDecrypt,
        O::PsaRawKeyAgreement,
    ];
    match kind {
        Kind::Software => {
            ops.extend(token);
            ops.extend([O::PsaExportKey, O::PsaCipherEncrypt, O::PsaCipherDecrypt]);
        }
        Kind::Pkcs11 => ops.extend(token),
        Kind::Tpm => {}
    }
    ops.sort_by_key(|o| *o as u32);
    ops
}

fn status_of<T: std::fmt::Debug>(result: Result<T, Error>) -> ResponseStatus {
    match result {
        Err(Error::Service(status)) => status,
        other => panic!("expected a service error, got {other:?}"),
    }
}

fn attributes(key_type: Type, bits: usize, usage: UsageFlags, alg: Algorithm) -> Attributes {
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type,
        bits,
        policy: Policy {
            usage_flags: usage,
            permitted_algorithms: alg,
        },
    }
}

fn signing() -> UsageFlags {
    let mut u = UsageFlags::default();
    u.set_sign_hash()
        .set_verify_hash()
        .set_sign_message()
        .set_verify_message();
    u
}

fn crypting() -> UsageFlags {
    let mut u = UsageFlags::default();
    u.set_encrypt().set_decrypt();
    u
}

const ECDSA_SHA256: AsymmetricSignature = AsymmetricSignature::Ecdsa {
    hash_alg: SignHash::Specific(Hash::Sha256),
};

fn ecc(bits: usize) -> Attributes {
    let curve_family = EccFamily::SecpR1;
    attributes(
        Type::EccKeyPair { curve_family },
        bits,
        signing(),
        ECDSA_SHA256.into(),
    )
}

fn rsa(bits: usize, usage: UsageFlags, alg: Algorithm) -> Attributes {
    attributes(Type::RsaKeyPair, bits, usage, alg)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// The DER SubjectPublicKeyInfo-free forms aws-lc-rs verifies: PSA exports RSA keys as PKCS#1
/// `RSAPublicKey` and ECC keys as uncompressed points, which is what `UnparsedPublicKey` takes.
fn verify(
    alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
    public: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, public)
        .verify(message, signature)
        .is_ok()
}

// ---------------------------------------------------------------------------------------------
// The cases

fn discovery(kind: Kind) {
    let b = Bench::new(kind);
    let client = b.client("a");
    let providers = client.list_providers().unwrap();
    assert_eq!(
        providers[0].id,
        kind.id(),
        "the configured provider comes first"
    );
    assert_eq!(providers[0].uuid.to_string(), kind.uuid());
    let opcodes = client.list_opcodes(kind.id()).unwrap();
    let mut listed: Vec<Opcode> = opcodes.iter().copied().collect();
    listed.sort_by_key(|o| *o as u32);
    assert_eq!(listed, offered(kind), "{kind:?} offers exactly its table");
}

fn ecdsa_signatures(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    app.psa_generate_key("ecc", ecc(256)).unwrap();
    let public = app.psa_export_public_key("ecc").unwrap();
    assert_eq!(public.len(), 65);
    let message = b"a message to sign";
    let hash = sha256(message);
    let signature = app.psa_sign_hash("ecc", &hash, ECDSA_SHA256).unwrap();
    assert_eq!(signature.len(), 64, "PSA ECDSA signatures are r || s");
    assert!(verify(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &public,
        message,
        &signature
    ));
    app.psa_verify_hash("ecc", &hash, ECDSA_SHA256, &signature)
        .unwrap();
    let mut bad = signature.clone();
    bad[10] ^= 1;
    assert_eq!(
        status_of(app.psa_verify_hash("ecc", &hash, ECDSA_SHA256, &bad)),
        ResponseStatus::PsaErrorInvalidSignature
    );
    assert_eq!(
        status_of(app.psa_sign_hash("ecc", &hash[..20], ECDSA_SHA256)),
        ResponseStatus::PsaErrorInvalidArgument,
        "a hash of the wrong length"
    );
    if b.declares(Opcode::PsaSignMessage, || {
        app.psa_sign_message("ecc", message, ECDSA_SHA256).map(drop)
    }) {
        let signature = app.psa_sign_message("ecc", message, ECDSA_SHA256).unwrap();
        assert!(verify(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &public,
            message,
            &signature
        ));
        app.psa_verify_message("ecc", message, ECDSA_SHA256, &signature)
            .unwrap();
    }
    // P-384 as well.
    let p384 = attributes(
        Type::EccKeyPair {
            curve_family: EccFamily::SecpR1,
        },
        384,
        signing(),
        AsymmetricSignature::Ecdsa {
            hash_alg: SignHash::Specific(Hash::Sha384),
        }
        .into(),
    );
    app.psa_generate_key("p384", p384).unwrap();
    let public = app.psa_export_public_key("p384").unwrap();
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, message);
    let alg = AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha384),
    };
    let signature = app.psa_sign_hash("p384", hash.as_ref(), alg).unwrap();
    assert!(verify(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
        &public,
        message,
        &signature
    ));
}

fn rsa_signatures(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    let message = b"an RSA-signed message";
    let hash = sha256(message);
    for (name, alg, check) in [
        (
            "pkcs1",
            AsymmetricSignature::RsaPkcs1v15Sign {
                hash_alg: SignHash::Specific(Hash::Sha256),
            },
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256
                as &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
        ),
        (
            "pss",
            AsymmetricSignature::RsaPss {
                hash_alg: SignHash::Specific(Hash::Sha256),
            },
            &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
        ),
    ] {
        app.psa_generate_key(name, rsa(2048, signing(), alg.into()))
            .unwrap();
        let public = app.psa_export_public_key(name).unwrap();
        let signature = app.psa_sign_hash(name, &hash, alg).unwrap();
        assert_eq!(signature.len(), 256);
        assert!(verify(check, &public, message, &signature), "{name}");
        app.psa_verify_hash(name, &hash, alg, &signature).unwrap();
        let mut bad = signature;
        bad[0] ^= 1;
        assert_eq!(
            status_of(app.psa_verify_hash(name, &hash, alg, &bad)),
            ResponseStatus::PsaErrorInvalidSignature
        );
    }
}

fn rsa_encryption(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    let oaep = AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha256,
    };
    let pkcs1 = AsymmetricEncryption::RsaPkcs1v15Crypt;
    for (name, alg) in [("oaep", oaep), ("pkcs1", pkcs1)] {
        app.psa_generate_key(name, rsa(2048, crypting(), alg.into()))
            .unwrap();
        let ciphertext = app
            .psa_asymmetric_encrypt(name, alg, b"secret", None)
            .unwrap();
        assert_eq!(ciphertext.len(), 256);
        let plaintext = app
            .psa_asymmetric_decrypt(name, alg, &ciphertext, None)
            .unwrap();
        assert_eq!(plaintext, b"secret");
        let mut bad = ciphertext;
        bad[100] ^= 1;
        assert_eq!(
            status_of(app.psa_asymmetric_decrypt(name, alg, &bad, None)),
            ResponseStatus::PsaErrorInvalidPadding,
            "{kind:?} {name}"
        );
    }
    // A ciphertext made elsewhere (aws-lc-rs), with OAEP and SHA-256.
    let public = app.psa_export_public_key("oaep").unwrap();
    let public = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&public_key_info(&public)).unwrap();
    let encrypting = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(public).unwrap();
    let mut ciphertext = vec![0u8; 256];
    let ciphertext = encrypting
        .encrypt(
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            b"from elsewhere",
            &mut ciphertext,
            None,
        )
        .unwrap()
        .to_vec();
    let plaintext = app
        .psa_asymmetric_decrypt("oaep", oaep, &ciphertext, None)
        .unwrap();
    assert_eq!(plaintext, b"from elsewhere");
    // An OAEP label (PSA's salt) must match.
    let labelled = app
        .psa_asymmetric_encrypt("oaep", oaep, b"labelled", Some(b"label"))
        .unwrap();
    assert_eq!(
        app.psa_asymmetric_decrypt("oaep", oaep, &labelled, Some(b"label"))
            .unwrap(),
        b"labelled"
    );
    assert_eq!(
        status_of(app.psa_asymmetric_decrypt("oaep", oaep, &labelled, Some(b"other"))),
        ResponseStatus::PsaErrorInvalidPadding,
        "{kind:?}: a wrong label"
    );
}

/// A DER SubjectPublicKeyInfo around a PKCS#1 RSAPublicKey.
fn public_key_info(rsa_public_key: &[u8]) -> Vec<u8> {
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend_from_slice(&[0x81, len as u8]);
        } else {
            out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(rsa_public_key);
    let mut content = algorithm.to_vec();
    content.extend(der(0x03, &bits));
    der(0x30, &content)
}

fn policies_are_enforced(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    let mut verify_only = UsageFlags::default();
    verify_only.set_verify_hash();
    app.psa_generate_key(
        "verify-only",
        attributes(
            Type::EccKeyPair {
                curve_family: EccFamily::SecpR1,
            },
            256,
            verify_only,
            ECDSA_SHA256.into(),
        ),
    )
    .unwrap();
    let hash = sha256(b"x");
    assert_eq!(
        status_of(app.psa_sign_hash("verify-only", &hash, ECDSA_SHA256)),
        ResponseStatus::PsaErrorNotPermitted
    );
    app.psa_generate_key("ecc", ecc(256)).unwrap();
    let sha384 = AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha384),
    };
    assert_eq!(
        status_of(app.psa_sign_hash("ecc", &[0u8; 48], sha384)),
        ResponseStatus::PsaErrorNotPermitted,
        "an algorithm the policy does not permit"
    );
    assert_eq!(
        status_of(app.psa_generate_key("ecc", ecc(256))),
        ResponseStatus::PsaErrorAlreadyExists
    );
    assert_eq!(
        status_of(app.psa_sign_hash("missing", &hash, ECDSA_SHA256)),
        ResponseStatus::PsaErrorDoesNotExist
    );
    // Another application sees none of it.
    let other = b.client("other");
    assert_eq!(
        status_of(other.psa_sign_hash("ecc", &hash, ECDSA_SHA256)),
        ResponseStatus::PsaErrorDoesNotExist
    );
    other.psa_generate_key("ecc", ecc(256)).unwrap();
    assert_ne!(
        other.psa_export_public_key("ecc").unwrap(),
        app.psa_export_public_key("ecc").unwrap()
    );
}

fn imported_keys(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    // A public key made elsewhere verifies signatures made elsewhere.
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
    )
    .unwrap();
    use aws_lc_rs::signature::KeyPair as _;
    let point = pair.public_key().as_ref().to_vec();
    let mut verify_usage = UsageFlags::default();
    verify_usage.set_verify_hash();
    let public_attributes = attributes(
        Type::EccPublicKey {
            curve_family: EccFamily::SecpR1,
        },
        256,
        verify_usage,
        ECDSA_SHA256.into(),
    );
    app.psa_import_key("imported", &point, public_attributes)
        .unwrap();
    assert_eq!(app.psa_export_public_key("imported").unwrap(), point);
    let message = b"signed elsewhere";
    let signature = pair.sign(&rng, message).unwrap();
    app.psa_verify_hash(
        "imported",
        &sha256(message),
        ECDSA_SHA256,
        signature.as_ref(),
    )
    .unwrap();
    assert_eq!(
        status_of(app.psa_sign_hash("imported", &sha256(message), ECDSA_SHA256)),
        ResponseStatus::PsaErrorNotPermitted,
        "{kind:?}: signing with a public key"
    );
    // A key pair, where the provider takes them: its signatures verify with the known point.
    let scalar = {
        use aws_lc_rs::encoding::AsBigEndian as _;
        let be: aws_lc_rs::encoding::EcPrivateKeyBin = pair.private_key().as_be_bytes().unwrap();
        be.as_ref().to_vec()
    };
    if app.can_do_crypto(CheckType::Import, ecc(256)).is_ok() {
        app.psa_import_key("pair", &scalar, ecc(256)).unwrap();
        assert_eq!(app.psa_export_public_key("pair").unwrap(), point);
        let signature = app
            .psa_sign_hash("pair", &sha256(message), ECDSA_SHA256)
            .unwrap();
        assert!(verify(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &point,
            message,
            &signature
        ));
    } else {
        assert_eq!(
            status_of(app.psa_import_key("pair", &scalar, ecc(256))),
            ResponseStatus::PsaErrorNotSupported
        );
        eprintln!("skipped: the {kind:?} provider does not import ECC key pairs (CanDoCrypto)");
    }
}

fn destroyed_keys_are_gone(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    app.psa_generate_key("k", ecc(256)).unwrap();
    let first = app.psa_export_public_key("k").unwrap();
    app.psa_destroy_key("k").unwrap();
    let hash = sha256(b"x");
    assert_eq!(
        status_of(app.psa_sign_hash("k", &hash, ECDSA_SHA256)),
        ResponseStatus::PsaErrorDoesNotExist
    );
    assert_eq!(
        status_of(app.psa_destroy_key("k")),
        ResponseStatus::PsaErrorDoesNotExist
    );
    app.psa_generate_key("k", ecc(256)).unwrap();
    assert_ne!(app.psa_export_public_key("k").unwrap(), first);
    // DeleteClient removes every key of the client.
    b.client("admin").delete_client("app").unwrap();
    assert!(app.list_keys().unwrap().is_empty());
    app.psa_generate_key("k", ecc(256)).unwrap();
}

fn keys_survive_a_restart(kind: Kind) {
    let mut b = Bench::new(kind);
    let app = b.client("app");
    app.psa_generate_key("k", ecc(256)).unwrap();
    let public = app.psa_export_public_key("k").unwrap();
    b.restart();
    let app = b.client("app");
    assert_eq!(app.psa_export_public_key("k").unwrap(), public);
    let message = b"after a restart";
    let signature = app
        .psa_sign_hash("k", &sha256(message), ECDSA_SHA256)
        .unwrap();
    assert!(verify(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &public,
        message,
        &signature
    ));
}

fn random_bytes(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    assert!(app.psa_generate_random(0).unwrap().is_empty());
    let a = app.psa_generate_random(32).unwrap();
    let c = app.psa_generate_random(32).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, c);
    assert_eq!(app.psa_generate_random(1000).unwrap().len(), 1000);
}

/// CanDoCrypto's Generate answer agrees with what GenerateKey does.
fn can_do_crypto_tells_the_truth(kind: Kind) {
    let b = Bench::new(kind);
    let app = b.client("app");
    let candidates = [
        ecc(256),
        ecc(384),
        rsa(
            2048,
            signing(),
            AsymmetricSignature::RsaPkcs1v15Sign {
                hash_alg: SignHash::Specific(Hash::Sha256),
            }
            .into(),
        ),
        rsa(
            2048,
            crypting(),
            AsymmetricEncryption::RsaOaep {
                hash_alg: Hash::Sha256,
            }
            .into(),
        ),
        attributes(
            Type::EccKeyPair {
                curve_family: EccFamily::SecpR1,
            },
            256,
            signing(),
            AsymmetricSignature::DeterministicEcdsa {
                hash_alg: SignHash::Specific(Hash::Sha256),
            }
            .into(),
        ),
        attributes(
            Type::EccKeyPair {
                curve_family: EccFamily::BrainpoolPR1,
            },
            256,
            signing(),
            ECDSA_SHA256.into(),
        ),
    ];
    for (i, attributes) in candidates.into_iter().enumerate() {
        let can = app.can_do_crypto(CheckType::Generate, attributes).is_ok();
        let did = app.psa_generate_key(&format!("k{i}"), attributes).is_ok();
        assert_eq!(
            can, did,
            "{kind:?}: CanDoCrypto and GenerateKey disagree on {attributes:?}"
        );
    }
}

/// Secret keys (AES-GCM), hashes and ECDH, checked against aws-lc-rs, where the provider
/// declares them.
fn secret_keys_hashes_and_key_agreement(kind: Kind) {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    use parsec_client::core::interface::operations::psa_algorithm::{
        Aead, AeadWithDefaultLengthTag, RawKeyAgreement,
    };
    let b = Bench::new(kind);
    let app = b.client("app");
    let gcm = Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm);
    let nonce = [7u8; 12];
    let declares_aead = b.declares(Opcode::PsaAeadEncrypt, || {
        app.psa_aead_encrypt("none", gcm, &nonce, b"", b"x")
            .map(drop)
    });
    if declares_aead {
        let key = [0x42u8; 32];
        let aes = attributes(Type::Aes, 256, crypting(), gcm.into());
        app.psa_import_key("aes", &key, aes).unwrap();
        let ciphertext = app
            .psa_aead_encrypt("aes", gcm, &nonce, b"aad", b"plaintext")
            .unwrap();
        let theirs = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
        let mut buf = ciphertext;
        let opened = theirs
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(b"aad"),
                &mut buf,
            )
            .unwrap();
        assert_eq!(opened, b"plaintext");
        let mut sealed = b"from aws-lc".to_vec();
        theirs
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .unwrap();
        assert_eq!(
            app.psa_aead_decrypt("aes", gcm, &nonce, b"", &sealed)
                .unwrap(),
            b"from aws-lc"
        );
        sealed[0] ^= 1;
        assert_eq!(
            status_of(app.psa_aead_decrypt("aes", gcm, &nonce, b"", &sealed)),
            ResponseStatus::PsaErrorInvalidSignature
        );
        let generated = attributes(Type::Aes, 128, crypting(), gcm.into());
        app.psa_generate_key("aes-128", generated).unwrap();
        let ciphertext = app
            .psa_aead_encrypt("aes-128", gcm, &nonce, b"", b"round trip")
            .unwrap();
        assert_eq!(
            app.psa_aead_decrypt("aes-128", gcm, &nonce, b"", &ciphertext)
                .unwrap(),
            b"round trip"
        );
    }
    let declares_hash = b.declares(Opcode::PsaHashCompute, || {
        app.psa_hash_compute(Hash::Sha256, b"x").map(drop)
    });
    if declares_hash {
        assert_eq!(
            app.psa_hash_compute(Hash::Sha256, b"hash me").unwrap(),
            sha256(b"hash me")
        );
        app.psa_hash_compare(Hash::Sha256, b"hash me", &sha256(b"hash me"))
            .unwrap();
        assert_eq!(
            status_of(app.psa_hash_compare(Hash::Sha256, b"hash me", &sha256(b"other"))),
            ResponseStatus::PsaErrorInvalidSignature
        );
    }
    let declares_ecdh = b.declares(Opcode::PsaRawKeyAgreement, || {
        app.psa_raw_key_agreement(RawKeyAgreement::Ecdh, "none", &[4u8; 65])
            .map(drop)
    });
    if declares_ecdh {
        let mut derive = UsageFlags::default();
        derive.set_derive();
        let ecdh = attributes(
            Type::EccKeyPair {
                curve_family: EccFamily::SecpR1,
            },
            256,
            derive,
            Algorithm::KeyAgreement(
                parsec_client::core::interface::operations::psa_algorithm::KeyAgreement::Raw(
                    RawKeyAgreement::Ecdh,
                ),
            ),
        );
        app.psa_generate_key("ecdh", ecdh).unwrap();
        let ours = app.psa_export_public_key("ecdh").unwrap();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let theirs = aws_lc_rs::agreement::EphemeralPrivateKey::generate(
            &aws_lc_rs::agreement::ECDH_P256,
            &rng,
        )
        .unwrap();
        let their_public = theirs.compute_public_key().unwrap().as_ref().to_vec();
        let shared = app
            .psa_raw_key_agreement(RawKeyAgreement::Ecdh, "ecdh", &their_public)
            .unwrap();
        let expected = aws_lc_rs::agreement::agree_ephemeral(
            theirs,
            aws_lc_rs::agreement::UnparsedPublicKey::new(&aws_lc_rs::agreement::ECDH_P256, &ours),
            (),
            |secret| Ok(secret.to_vec()),
        )
        .unwrap();
        assert_eq!(shared, expected);
    }
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod software {
            $( #[test] fn $case() { super::$case(super::Kind::Software) } )*
        }
        mod pkcs11 {
            $( #[test] fn $case() { super::$case(super::Kind::Pkcs11) } )*
        }
        #[cfg(feature = "tpm")]
        mod tpm {
            $( #[test] fn $case() { super::$case(super::Kind::Tpm) } )*
        }
    };
}

suite!(
    discovery,
    ecdsa_signatures,
    rsa_signatures,
    rsa_encryption,
    policies_are_enforced,
    imported_keys,
    destroyed_keys_are_gone,
    keys_survive_a_restart,
    random_bytes,
    can_do_crypto_tells_the_truth,
    secret_keys_hashes_and_key_agreement,
);
