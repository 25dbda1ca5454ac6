//! The software provider through the crates.io `parsec-client`, against the real daemon with an
//! upstream-style config (MbedCrypto provider, SQLite key manager).

mod common;

use std::io::Write;

use common::{direct_client, ecdsa_p256, read_response, software_config, Daemon, ECDSA_SHA256};
use parsec_client::core::interface::operations::psa_algorithm::{
    Aead, AeadWithDefaultLengthTag, Algorithm, AsymmetricEncryption, AsymmetricSignature, Hash,
    SignHash,
};
use parsec_client::core::interface::operations::psa_key_attributes::{
    Attributes, Lifetime, Policy, Type, UsageFlags,
};
use parsec_client::core::interface::requests::{ProviderId, ResponseStatus};
use parsec_client::error::Error;
use parsec_client::BasicClient;
use parsec_wire::{Opcode, RawHeader, Status};

/// A daemon whose store lives in `state` (kept across restarts by the caller).
fn daemon_in(state: &std::path::Path) -> Daemon {
    let state = state.to_path_buf();
    Daemon::start(move |s| {
        software_config(
            s,
            &state,
            "[authenticator]\nauth_type = \"Direct\"\nadmins = [{ name = \"admin\" }]\n",
        )
    })
}

fn app(d: &Daemon, name: &str) -> BasicClient {
    let mut client = direct_client(&d.socket, name);
    client.set_implicit_provider(ProviderId::MbedCrypto);
    client
}

fn status_of<T: std::fmt::Debug>(result: Result<T, Error>) -> ResponseStatus {
    match result {
        Err(Error::Service(status)) => status,
        other => panic!("expected a service error, got {other:?}"),
    }
}

const ECDSA: AsymmetricSignature = ECDSA_SHA256;

#[test]
fn discovery_lists_the_software_provider_first() {
    let state = tempfile::tempdir().unwrap();
    let d = daemon_in(state.path());
    let client = direct_client(&d.socket, "a");
    let providers = client.list_providers().unwrap();
    assert_eq!(providers[0].id, ProviderId::MbedCrypto);
    assert_eq!(
        providers[0].uuid.to_string(),
        "1c1139dc-ad7c-47dc-ad6b-db6fdb466552"
    );
    assert_eq!(providers.last().unwrap().id, ProviderId::Core);
    let opcodes = client.list_opcodes(ProviderId::MbedCrypto).unwrap();
    assert_eq!(
        opcodes.len(),
        20,
        "every PSA operation but MacCompute/MacVerify: {opcodes:?}"
    );
}

#[test]
fn keys_are_used_per_policy_and_isolated_per_application() {
    let state = tempfile::tempdir().unwrap();
    let d = daemon_in(state.path());
    let alice = app(&d, "alice");
    alice
        .psa_generate_key("/keys/ecc/signer", ecdsa_p256())
        .unwrap();
    let hash = [7u8; 32];
    let signature = alice
        .psa_sign_hash("/keys/ecc/signer", &hash, ECDSA)
        .unwrap();
    assert_eq!(signature.len(), 64, "PSA ECDSA signatures are r||s");
    alice
        .psa_verify_hash("/keys/ecc/signer", &hash, ECDSA, &signature)
        .unwrap();
    let mut bad = signature.clone();
    bad[5] ^= 1;
    assert_eq!(
        status_of(alice.psa_verify_hash("/keys/ecc/signer", &hash, ECDSA, &bad)),
        ResponseStatus::PsaErrorInvalidSignature
    );
    // The name is taken for alice, free for bob; bob cannot use alice's key.
    assert_eq!(
        status_of(alice.psa_generate_key("/keys/ecc/signer", ecdsa_p256())),
        ResponseStatus::PsaErrorAlreadyExists
    );
    let bob = app(&d, "bob");
    assert_eq!(
        status_of(bob.psa_sign_hash("/keys/ecc/signer", &hash, ECDSA)),
        ResponseStatus::PsaErrorDoesNotExist
    );
    bob.psa_generate_key("/keys/ecc/signer", ecdsa_p256())
        .unwrap();
    // Policy: another algorithm, or a usage the flags do not allow.
    let other = AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha384),
    };
    assert_eq!(
        status_of(alice.psa_sign_hash("/keys/ecc/signer", &[0u8; 48], other)),
        ResponseStatus::PsaErrorNotPermitted
    );
    assert_eq!(
        status_of(alice.psa_export_key("/keys/ecc/signer")),
        ResponseStatus::PsaErrorNotPermitted
    );
    let public = alice.psa_export_public_key("/keys/ecc/signer").unwrap();
    assert_eq!((public.len(), public[0]), (65, 0x04));
    // ListKeys shows each application its own keys only.
    let names = |c: &BasicClient| {
        c.list_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&alice), ["/keys/ecc/signer"]);
    assert_eq!(names(&bob), ["/keys/ecc/signer"]);
    alice.psa_destroy_key("/keys/ecc/signer").unwrap();
    assert!(names(&alice).is_empty());
    assert_eq!(names(&bob), ["/keys/ecc/signer"]);
    assert_eq!(
        status_of(alice.psa_destroy_key("/keys/ecc/signer")),
        ResponseStatus::PsaErrorDoesNotExist
    );
}

#[test]
fn keys_survive_a_restart_and_material_is_sealed_on_disk() {
    let state = tempfile::tempdir().unwrap();
    let (hash, signature, public) = {
        let d = daemon_in(state.path());
        let alice = app(&d, "alice");
        alice.psa_generate_key("persistent", ecdsa_p256()).unwrap();
        let hash = [9u8; 32];
        let signature = alice.psa_sign_hash("persistent", &hash, ECDSA).unwrap();
        let public = alice.psa_export_public_key("persistent").unwrap();
        d.stop();
        (hash, signature, public)
    };
    let d = daemon_in(state.path());
    let alice = app(&d, "alice");
    assert_eq!(alice.psa_export_public_key("persistent").unwrap(), public);
    alice
        .psa_verify_hash("persistent", &hash, ECDSA, &signature)
        .unwrap();
    let key_file = state.path().join("keys.sqlite3.master-key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

/// A master key file that is missing (its storage not mounted) or not the store's own stops
/// start-up with a message naming it, and changes nothing: with the file back, every key works.
#[test]
fn a_missing_or_wrong_master_key_stops_start_up_and_changes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let key_file = state.path().join("keys.sqlite3.master-key");
    let public = {
        let d = daemon_in(state.path());
        let alice = app(&d, "alice");
        alice.psa_generate_key("kept", ecdsa_p256()).unwrap();
        let public = alice.psa_export_public_key("kept").unwrap();
        d.stop();
        public
    };
    let original = std::fs::read(&key_file).unwrap();
    let attempt = |what: &str| {
        let run = tempfile::tempdir().unwrap();
        let text = software_config(
            &run.path().join("parsec.sock"),
            state.path(),
            "[authenticator]\nauth_type = \"Direct\"\n",
        );
        let stderr = Daemon::start_failure(run.path(), &text, &[]);
        assert!(
            stderr.contains(&key_file.display().to_string()),
            "{what}: the message names the file:\n{stderr}"
        );
        assert!(
            !run.path().join("parsec.sock").exists(),
            "{what}: no socket"
        );
        stderr
    };

    std::fs::remove_file(&key_file).unwrap();
    let stderr = attempt("missing");
    assert!(stderr.contains("is missing"), "{stderr}");
    assert!(!key_file.exists(), "no new master key was made");

    std::fs::write(&key_file, [0x5au8; 32]).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let stderr = attempt("wrong");
    assert!(stderr.contains("opens none"), "{stderr}");

    std::fs::write(&key_file, &original).unwrap();
    let d = daemon_in(state.path());
    assert_eq!(
        app(&d, "alice").psa_export_public_key("kept").unwrap(),
        public
    );
}

/// One application could fill the disk with keys. Now it holds max_keys_per_application at
/// most, and others are not affected.
#[test]
fn an_application_holds_at_most_max_keys_per_application() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_path_buf();
    let d = Daemon::start(move |s| {
        software_config(s, &dir, "[authenticator]\nauth_type = \"Direct\"\n").replace(
            "[core_settings]\n",
            "[core_settings]\nmax_keys_per_application = 3\n",
        )
    });
    let alice = app(&d, "alice");
    for name in ["a", "b", "c"] {
        alice.psa_generate_key(name, ecdsa_p256()).unwrap();
    }
    assert_eq!(
        status_of(alice.psa_generate_key("d", ecdsa_p256())),
        ResponseStatus::PsaErrorInsufficientStorage
    );
    app(&d, "bob").psa_generate_key("d", ecdsa_p256()).unwrap();
    alice.psa_destroy_key("a").unwrap();
    alice.psa_generate_key("d", ecdsa_p256()).unwrap();
}

/// The state directory and every file in it are private from the start: the directory 0700
/// (the master key, made first, used to create it 0755), the files 0600.
#[test]
fn the_state_directory_is_0700_and_its_files_0600() {
    let parent = tempfile::tempdir().unwrap();
    let state = parent.path().join("state");
    let d = daemon_in(&state);
    app(&d, "alice")
        .psa_generate_key("k", ecdsa_p256())
        .unwrap();
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&state), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&state).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert!(files >= 3, "the master key, the database and its WAL");
}

#[test]
#[allow(deprecated)] // MD5 and SHA-1 are named on purpose: to check they are refused.
fn imported_keys_and_symmetric_operations() {
    let state = tempfile::tempdir().unwrap();
    let d = daemon_in(state.path());
    let c = app(&d, "sym");
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_encrypt().set_decrypt().set_export();
    let gcm = Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm);
    let attributes = Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::Aes,
        bits: 0,
        policy: Policy {
            usage_flags,
            permitted_algorithms: Algorithm::Aead(gcm),
        },
    };
    let key = [0x42u8; 32];
    c.psa_import_key("aes", &key, attributes).unwrap();
    assert_eq!(c.psa_export_key("aes").unwrap(), key);
    assert_eq!(c.key_attributes("aes").unwrap().bits, 256);
    let nonce = [1u8; 12];
    let ciphertext = c
        .psa_aead_encrypt("aes", gcm, &nonce, b"ad", b"hello")
        .unwrap();
    assert_eq!(ciphertext.len(), 5 + 16);
    assert_eq!(
        c.psa_aead_decrypt("aes", gcm, &nonce, b"ad", &ciphertext)
            .unwrap(),
        b"hello"
    );
    assert_eq!(
        status_of(c.psa_aead_decrypt("aes", gcm, &nonce, b"other", &ciphertext)),
        ResponseStatus::PsaErrorInvalidSignature
    );
    // Keyless operations.
    let digest = c.psa_hash_compute(Hash::Sha256, b"abc").unwrap();
    assert_eq!(digest[..4], [0xba, 0x78, 0x16, 0xbf]);
    c.psa_hash_compare(Hash::Sha256, b"abc", &digest).unwrap();
    assert_eq!(c.psa_generate_random(33).unwrap().len(), 33);
    assert_eq!(
        status_of(c.psa_generate_random(2 << 20)),
        ResponseStatus::ResponseTooLarge
    );
    // Deprecated primitives are refused unless allowed.
    assert_eq!(
        status_of(c.psa_hash_compute(Hash::Md5, b"abc")),
        ResponseStatus::DeprecatedPrimitive
    );
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_encrypt().set_decrypt();
    let sha1_oaep = Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::RsaKeyPair,
        bits: 1024,
        policy: Policy {
            usage_flags,
            permitted_algorithms: AsymmetricEncryption::RsaOaep {
                hash_alg: Hash::Sha1,
            }
            .into(),
        },
    };
    assert_eq!(
        status_of(c.psa_generate_key("old", sha1_oaep)),
        ResponseStatus::DeprecatedPrimitive
    );
}

/// ListKeys with a name pattern (our extension field), sent raw since upstream clients have no
/// such field; without it, every key.
#[test]
fn list_keys_with_a_path_pattern() {
    let state = tempfile::tempdir().unwrap();
    let d = daemon_in(state.path());
    let c = app(&d, "tree");
    for name in [
        "/keys/rsa/a",
        "/keys/rsa/b",
        "/keys/rsa/deep/c",
        "/keys/ecc/d",
    ] {
        c.psa_generate_key(name, ecdsa_p256()).unwrap();
    }
    let list = |pattern: Option<&str>| -> Vec<String> {
        let op = parsec_psa::Operation::ListKeys(parsec_psa::ops::ListKeys {
            pattern: pattern.map(str::to_string),
        });
        let body = parsec_psa::encode_operation(&op);
        let raw = RawHeader {
            version_maj: 1,
            auth_type: 1,
            body_len: body.len() as u32,
            auth_len: 4,
            opcode: Opcode::ListKeys.to_u32(),
            ..RawHeader::default()
        };
        let mut s = d.connect();
        s.write_all(&raw.encode()).unwrap();
        s.write_all(&body).unwrap();
        s.write_all(b"tree").unwrap();
        let response = read_response(&mut s).unwrap();
        assert_eq!(response.header.status, Status::Success);
        match parsec_psa::decode_result(Opcode::ListKeys, &response.body).unwrap() {
            parsec_psa::OpResult::ListKeys(r) => r.keys.into_iter().map(|k| k.name).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(list(Some("/keys/rsa/*")), ["/keys/rsa/a", "/keys/rsa/b"]);
    assert_eq!(list(Some("/keys/**")).len(), 4);
    assert_eq!(list(Some("/keys/*/d")), ["/keys/ecc/d"]);
    assert_eq!(list(None).len(), 4);
    assert!(list(Some("/nothing/*")).is_empty());
}

#[test]
fn admins_delete_clients_with_their_keys() {
    let state = tempfile::tempdir().unwrap();
    let d = daemon_in(state.path());
    app(&d, "victim")
        .psa_generate_key("k", ecdsa_p256())
        .unwrap();
    let admin = direct_client(&d.socket, "admin");
    assert_eq!(admin.list_clients().unwrap(), ["victim"]);
    admin.delete_client("victim").unwrap();
    assert!(admin.list_clients().unwrap().is_empty());
    let victim = app(&d, "victim");
    assert!(victim.list_keys().unwrap().is_empty());
    assert_eq!(
        status_of(victim.psa_sign_hash("k", &[0u8; 32], ECDSA)),
        ResponseStatus::PsaErrorDoesNotExist
    );
}

#[test]
fn concurrent_creates_of_one_name_give_one_success() {
    let state = tempfile::tempdir().unwrap();
    let d = daemon_in(state.path());
    for round in 0..10 {
        let name = format!("race-{round}");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let results: Vec<_> = (0..4)
            .map(|_| {
                let client = app(&d, "racer");
                let (barrier, name) = (barrier.clone(), name.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    client.psa_generate_key(&name, ecdsa_p256())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let exists = results
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Err(Error::Service(ResponseStatus::PsaErrorAlreadyExists))
                )
            })
            .count();
        assert_eq!((ok, exists), (1, 3), "round {round}: {results:?}");
    }
    assert_eq!(app(&d, "racer").list_keys().unwrap().len(), 10);
}
