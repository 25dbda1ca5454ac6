//! Our client library (crates/client) against our daemon, against upstream parsec-service
//! 1.5.0, and over Parsec.1: the calls with defaults, the typed operations, discovery of the
//! authenticator and provider, kept connections, concurrency, and identity separation.

mod common;

use std::sync::Arc;

use parsec_psa::ops::CheckType;
use parsec_psa::{AsymmetricSignature, Hash, SignHash};
use parsec_rs_client::easy::kinds;
use parsec_rs_client::{Auth, AuthType, Client, Endpoint, Error, ProviderId, Status};

use common::backends::{start_daemon, Device};
use common::upstream::Upstream;

fn direct(socket: &std::path::Path, app: &str) -> Client {
    Client::builder()
        .endpoint(Endpoint::Unix(socket.to_path_buf()))
        .app_name(app)
        .build()
        .unwrap()
}

/// What every service must do for the library: the defaults, sign and verify, encryption,
/// public keys, listing by pattern.
fn exercise(client: &Client, aes: bool) {
    assert_eq!(client.ping().unwrap(), (1, 0));
    client.create_signing_key("lib/sign/ecc").unwrap();
    let sig = client.sign("lib/sign/ecc", b"message").unwrap();
    assert_eq!(sig.len(), 64);
    client.verify("lib/sign/ecc", b"message", &sig).unwrap();
    let e = client.verify("lib/sign/ecc", b"massage", &sig).unwrap_err();
    assert_eq!(e.status(), Some(Status::PsaErrorInvalidSignature), "{e}");
    assert!(e.hint().is_some());

    client.create_encryption_key("lib/enc/rsa").unwrap();
    let ct = client.encrypt("lib/enc/rsa", b"secret").unwrap();
    assert_eq!(
        client.decrypt("lib/enc/rsa", &ct).unwrap().expose(),
        b"secret"
    );
    let public = client.public_key("lib/enc/rsa").unwrap();
    assert!(public.pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));

    if aes {
        client.create_aes_key("lib/enc/aes").unwrap();
        let a = client.encrypt("lib/enc/aes", b"twice").unwrap();
        let b = client.encrypt("lib/enc/aes", b"twice").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(
            client.decrypt("lib/enc/aes", &a).unwrap().expose(),
            b"twice"
        );
        let mut tampered = a.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(client.decrypt("lib/enc/aes", &tampered).is_err());
    }

    let names: Vec<String> = client
        .list_keys_matching(Some("lib/sign/*"))
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["lib/sign/ecc"]);
    // A name with pattern characters is found as itself.
    client.create_signing_key("lib/odd*name?").unwrap();
    client.sign("lib/odd*name?", b"x").unwrap();

    // The wrong kind of key: a clear error, nothing sent that could do harm.
    let e = client.sign("lib/enc/rsa", b"x").unwrap_err();
    assert!(matches!(e, Error::UnsuitableKey { .. }), "{e:?}");
    let e = client.sign("lib/absent", b"x").unwrap_err();
    assert_eq!(e.status(), Some(Status::PsaErrorDoesNotExist));

    for name in ["lib/sign/ecc", "lib/enc/rsa", "lib/odd*name?"] {
        client.psa_destroy_key(name).unwrap();
    }
    if aes {
        client.psa_destroy_key("lib/enc/aes").unwrap();
    }
    assert!(client.list_keys().unwrap().is_empty());
}

#[test]
fn against_our_daemon() {
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&Device::Software, state.path());
    let client = direct(&d.socket, "lib-app");
    exercise(&client, true);
    assert!(client.keeps_connections());
    assert!(matches!(client.auth().unwrap(), Auth::Direct(n) if n == "lib-app"));
    assert_eq!(client.provider().unwrap(), Some(ProviderId::MbedCrypto));
}

#[test]
fn against_upstream_parsec_service() {
    let up = Upstream::start();
    let client = direct(&up.socket, "lib-app");
    // Upstream's Mbed Crypto provider has AES-GCM too.
    exercise(&client, true);
    // Upstream closes each connection after its answer: the client noticed and stopped
    // keeping them, and every call above was answered anyway.
    assert!(!client.keeps_connections());
    let _ = up.stderr();
}

#[test]
fn the_provider_is_chosen_by_what_it_can_do_and_identities_stay_apart() {
    // PKCS#11 (SoftHSM2) listed first, the software provider second.
    let hsm = Device::SoftHsm(common::backends::SoftHsm::new());
    let sections = format!(
        "{}\n{}",
        hsm.provider_section("kim"),
        Device::Software.provider_section("kim")
    );
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("keys.sqlite3");
    let d = common::Daemon::start_with(
        |socket| {
            common::config(
                socket,
                5000,
                common::p1::ADMIN_DIRECT,
                &format!(
                    "[[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\n\
                     sqlite_db_path = \"{}\"\n\n{sections}",
                    db.display()
                ),
            )
        },
        |cmd| hsm.environment(cmd),
    );
    let alice = direct(&d.socket, "alice");
    // The default is the first crypto provider; the choice by attributes takes the first
    // whose CanDoCrypto accepts them: SoftHSM2 has no ChaCha20, the software provider has.
    assert_eq!(alice.provider().unwrap(), Some(ProviderId::Pkcs11));
    assert_eq!(
        alice
            .provider_for(CheckType::Generate, kinds::ecc_signing())
            .unwrap(),
        ProviderId::Pkcs11
    );
    let chacha = parsec_psa::KeyAttributes {
        key_type: parsec_psa::KeyType::Chacha20,
        bits: 256,
        policy: parsec_psa::Policy {
            usage_flags: parsec_psa::UsageFlags {
                encrypt: true,
                decrypt: true,
                ..Default::default()
            },
            permitted_algorithms: parsec_psa::Aead::AeadWithDefaultLengthTag(
                parsec_psa::AeadWithDefaultLengthTag::Chacha20Poly1305,
            )
            .into(),
        },
    };
    let p = alice.provider_for(CheckType::Generate, chacha).unwrap();
    assert_eq!(p, ProviderId::MbedCrypto);
    let on_software = Client::builder()
        .endpoint(Endpoint::Unix(d.socket.clone()))
        .app_name("alice")
        .provider(p)
        .build()
        .unwrap();
    on_software.psa_generate_key("chacha", chacha).unwrap();
    let ct = on_software.encrypt("chacha", b"stream").unwrap();
    assert_eq!(
        on_software.decrypt("chacha", &ct).unwrap().expose(),
        b"stream"
    );

    // The typed operations on the HSM.
    alice.create_signing_key("k").unwrap();
    let hash = parsec_rs_client::easy::digest_of(Hash::Sha256, b"m").unwrap();
    let alg = AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    };
    let sig = alice.psa_sign_hash("k", &hash, alg).unwrap();
    alice.psa_verify_hash("k", &hash, alg, &sig).unwrap();
    assert_eq!(alice.psa_generate_random(32).unwrap().len(), 32);
    // Bob sees none of Alice's keys and cannot use them.
    let bob = direct(&d.socket, "bob");
    assert!(bob.list_keys().unwrap().is_empty());
    let e = bob.psa_sign_hash("k", &hash, alg).unwrap_err();
    assert!(matches!(e, Error::Service { .. }), "{e:?}");
    // Administrators' operations: refused for Alice, with the status kept.
    let e = alice.list_clients().unwrap_err();
    assert_eq!(e.status(), Some(Status::AdminOperation));
    let admin = direct(&d.socket, "admin");
    assert_eq!(admin.list_clients().unwrap(), ["alice"]);
    assert_eq!(alice.auth().unwrap().auth_type(), AuthType::Direct);
}

#[test]
fn a_key_replaced_by_another_client_is_looked_up_again() {
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&Device::Software, state.path());
    let first = direct(&d.socket, "app");
    let second = direct(&d.socket, "app");
    first.create_signing_key("k").unwrap();
    first.sign("k", b"m").unwrap(); // what `first` knows of "k" is kept
                                    // Another client of the same application replaces "k" with an RSA-PSS key.
    second.psa_destroy_key("k").unwrap();
    second.create_rsa_signing_key("k").unwrap();
    // `first` fails once with the service's status (its ECDSA request does not fit the new
    // key), forgets what it kept, and the next call uses the new key.
    let e = first.sign("k", b"m").unwrap_err();
    assert!(matches!(e, Error::Service { .. }), "{e:?}");
    let sig = first.sign("k", b"m").unwrap();
    assert_eq!(sig.len(), 256, "an RSA-2048 signature");
    second.verify("k", b"m", &sig).unwrap();
}

#[test]
fn concurrent_callers_share_one_client() {
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&Device::Software, state.path());
    let client = Arc::new(direct(&d.socket, "busy"));
    client.create_signing_key("shared").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let c = client.clone();
            std::thread::spawn(move || {
                for j in 0..50 {
                    let msg = format!("{i}-{j}");
                    let sig = c.sign("shared", msg.as_bytes()).unwrap();
                    c.verify("shared", msg.as_bytes(), &sig).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn no_usable_authenticator_is_an_error_that_names_them() {
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&Device::Software, state.path());
    // Direct only, and no application name given: nothing this client can use.
    let client = Client::builder()
        .endpoint(Endpoint::Unix(d.socket.clone()))
        .build()
        .unwrap();
    let e = client.list_keys().unwrap_err();
    assert!(matches!(e, Error::NoAuthenticator { .. }), "{e:?}");
    assert!(e.to_string().contains("Direct"), "{e}");
    // The calls that need no identity still work.
    assert_eq!(client.ping().unwrap(), (1, 0));
}

#[test]
fn remotely_the_same_calls_under_the_session_identity() {
    let p1 = common::p1::start("");
    let remote = Client::builder()
        .endpoint(Endpoint::parse(&p1.url).unwrap())
        .service_keys(vec![p1.service_key.clone()])
        .session_in_memory()
        .build()
        .unwrap();
    assert!(remote.is_remote());
    remote.create_signing_key("r").unwrap();
    let sig = remote.sign("r", b"remote").unwrap();
    remote.verify("r", b"remote", &sig).unwrap();
    // Admin operations fail before they are sent.
    assert!(matches!(remote.list_clients(), Err(Error::NotRemote(_))));
    // The local application of the same name sees nothing of it, and the reverse.
    let local = direct(&p1.daemon.socket, "r-local");
    local.create_signing_key("l").unwrap();
    assert!(local.list_keys().unwrap().iter().all(|k| k.name != "r"));
    let names: Vec<_> = remote
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["r"]);
    // Inside an async runtime, the blocking remote calls refuse rather than panic.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let e = rt.block_on(async { remote.ping() }).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    // A remote error keeps its status.
    let e = remote.sign("absent", b"x").unwrap_err();
    assert_eq!(e.status(), Some(Status::PsaErrorDoesNotExist), "{e:?}");
}

#[test]
fn remotely_over_https_with_the_certificate_checked() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common::tls::TestCa::new(dir.path(), "test-ca");
    let server = ca.issue(dir.path(), "server");
    let p1 = common::p1::start(&server.parsec1_keys());
    let cert = ca.cert.clone();
    let url = p1.https.clone().expect("PARSEC1_HTTPS_ENDPOINT printed");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let remote = Client::builder()
        .endpoint(Endpoint::parse(&url).unwrap())
        .service_keys(vec![p1.service_key.clone()])
        .tls_ca_file(&cert)
        .session_in_memory()
        .build()
        .unwrap();
    remote.create_signing_key("over-tls").unwrap();
    let sig = remote.sign("over-tls", b"m").unwrap();
    remote.verify("over-tls", b"m", &sig).unwrap();
    // Without the certificate trusted, the TLS handshake fails, with words.
    let untrusting = Client::builder()
        .endpoint(Endpoint::parse(&url).unwrap())
        .service_keys(vec![p1.service_key.clone()])
        .session_in_memory()
        .build()
        .unwrap();
    let e = untrusting.ping().unwrap_err();
    assert!(e.to_string().contains("TLS"), "{e}");
    // parsec-tool over https, the CA named by PARSEC1_TLS_CA; its session (kept in a file)
    // is an application of its own, which does not see the library's key.
    let tool = |args: &[&str]| {
        std::process::Command::new(common::upstream::our_parsec_tool())
            .args(args)
            .env("PARSEC_SERVICE_ENDPOINT", &url)
            .env("PARSEC1_SERVICE_KEY", p1.service_key.to_string())
            .env("PARSEC1_TLS_CA", &cert)
            .env("XDG_DATA_HOME", dir.path())
            .output()
            .unwrap()
    };
    let out = tool(&["create-ecc-key", "-k", "tool-key"]);
    assert!(out.status.success(), "{out:?}");
    let out = tool(&["sign", "-k", "tool-key", "via the tool"]);
    assert!(out.status.success(), "{out:?}");
    let out = tool(&["sign", "-k", "over-tls", "via the tool"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
