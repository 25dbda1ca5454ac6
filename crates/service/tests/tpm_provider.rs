//! What is particular to the TPM provider (the shared suite is in providers.rs): start-up
//! errors, `skip_if_no_tpm`, reloads that keep the one connection to the TPM, and a stopped
//! daemon that leaves nothing loaded in it.
#![cfg(feature = "tpm")]

mod common;

use common::backends::{self, start_daemon, Kind, Swtpm};
use common::{config, direct_client, Daemon, ECDSA_SHA256};
use parsec_client::core::interface::requests::ProviderId;

/// A config whose only provider is a TPM section made of `keys`.
fn tpm_config(socket: &std::path::Path, state: &std::path::Path, keys: &str) -> String {
    config(
        socket,
        3000,
        common::DIRECT,
        &format!(
            "[[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\nsqlite_db_path = \"{}\"\n\
             [[provider]]\nprovider_type = \"Tpm\"\nkey_info_manager = \"kim\"\n{keys}",
            state.join("keys.sqlite3").display()
        ),
    )
}

/// Starts the daemon with a TPM section made of `keys`, expects it to fail at start-up, and
/// returns what it printed.
fn start_up_failure(keys: &str) -> String {
    backends::start_up_failure("Tpm", keys, &[])
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn start_up_errors_name_the_problem() {
    let port = closed_port();
    let unreachable = start_up_failure(&format!(
        "tcti = \"swtpm:host=127.0.0.1,port={port}\"\nowner_hierarchy_auth = \"\"\n"
    ));
    assert!(
        unreachable.contains(&format!(
            "cannot connect to the TPM through `swtpm:host=127.0.0.1,port={port}`"
        )),
        "{unreachable}"
    );
    let tpm = Swtpm::start();
    let wrong_auth = start_up_failure(&format!(
        "tcti = \"{}\"\nowner_hierarchy_auth = \"not the password\"\n",
        tpm.tcti()
    ));
    assert!(
        wrong_auth.contains("check `owner_hierarchy_auth`"),
        "{wrong_auth}"
    );
    let bad_tcti = start_up_failure("tcti = \"carrier-pigeon\"\nowner_hierarchy_auth = \"\"\n");
    assert!(bad_tcti.contains("carrier-pigeon"), "{bad_tcti}");
}

#[test]
fn skip_if_no_tpm_starts_without_the_provider() {
    let port = closed_port();
    let state = tempfile::tempdir().unwrap();
    let keys = format!(
        "tcti = \"swtpm:host=127.0.0.1,port={port}\"\nowner_hierarchy_auth = \"\"\n\
         skip_if_no_tpm = true\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"kim\"\n"
    );
    let d = Daemon::start(|s| tpm_config(s, state.path(), &keys));
    let providers = direct_client(&d.socket, "a").list_providers().unwrap();
    let ids: Vec<_> = providers.iter().map(|p| p.id).collect();
    assert_eq!(ids, [ProviderId::MbedCrypto, ProviderId::Core]);
    assert!(
        d.stderr().contains("TPM provider skipped (skip_if_no_tpm)"),
        "{}",
        d.stderr()
    );
}

#[test]
fn reload_keeps_the_connection_to_the_tpm() {
    let device = Kind::Tpm.device();
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let mut app = direct_client(&d.socket, "app");
    app.set_implicit_provider(ProviderId::Tpm);
    app.psa_generate_key("k", common::ecdsa_p256()).unwrap();
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    for _ in 0..2 {
        // swtpm serves one connection at a time: a second context would wait forever.
        d.reload(&text);
        app.psa_sign_hash("k", &[3u8; 32], ECDSA_SHA256).unwrap();
    }
    assert!(
        d.stderr().contains("configuration reloaded"),
        "{}",
        d.stderr()
    );
}

/// More keys than the TPM keeps loaded, used in turns: each is loaded again when needed, and a
/// destroyed key's loaded copy goes too.
#[test]
fn many_keys_take_turns_in_the_tpm() {
    let device = Kind::Tpm.device();
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let mut app = direct_client(&d.socket, "app");
    app.set_implicit_provider(ProviderId::Tpm);
    let names = ["a", "b", "c", "d", "e"];
    let mut publics = Vec::new();
    for name in names {
        app.psa_generate_key(name, common::ecdsa_p256()).unwrap();
        publics.push(app.psa_export_public_key(name).unwrap());
    }
    let message = b"turns";
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    for round in 0..3 {
        for (name, public) in names.iter().zip(&publics) {
            let signature = app
                .psa_sign_hash(name, hash.as_ref(), ECDSA_SHA256)
                .unwrap();
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                public,
            )
            .verify(message, &signature)
            .unwrap_or_else(|_| panic!("key {name}, round {round}"));
        }
        app.psa_destroy_key(names[round]).unwrap();
        app.psa_generate_key(names[round], common::ecdsa_p256())
            .unwrap();
        publics[round] = app.psa_export_public_key(names[round]).unwrap();
    }
}

/// swtpm reached directly has no resource manager: what a process leaves loaded stays in the
/// TPM's three object slots. The daemon unloads its storage key and its keys when it stops, so
/// it can be started again (and another program can use the TPM) any number of times.
#[test]
fn a_stopped_daemon_leaves_nothing_loaded_in_the_tpm() {
    let device = Kind::Tpm.device();
    let state = tempfile::tempdir().unwrap();
    for round in 0..4 {
        let d = start_daemon(&device, state.path());
        let mut app = direct_client(&d.socket, "app");
        app.set_implicit_provider(ProviderId::Tpm);
        for name in ["a", "b"] {
            if round == 0 {
                app.psa_generate_key(name, common::ecdsa_p256()).unwrap();
            }
            app.psa_sign_hash(name, &[round; 32], ECDSA_SHA256)
                .unwrap_or_else(|e| panic!("round {round}: {e}\n{}", d.stderr()));
        }
        d.stop();
    }
}
