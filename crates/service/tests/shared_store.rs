//! Several daemons on one PostgreSQL key store (`manager_type = "PostgreSQL"`), driven through
//! upstream's client library, against a real server (see `keystore/tests/pg/mod.rs`).

mod common;
// Shared with the key store's own tests; not every helper is used here.
#[allow(dead_code)]
#[path = "../../keystore/tests/pg/mod.rs"]
mod pg;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{config, ecdsa_p256, Daemon, ECDSA_SHA256};
use parsec_client::core::interface::requests::ProviderId;
use parsec_client::core::interface::requests::ResponseStatus;
use parsec_client::BasicClient;
use pg::Cluster;

const ADMIN_DIRECT: &str =
    "[authenticator]\nauth_type = \"Direct\"\nadmins = [ { name = \"admin\" } ]\n";

/// A client of the software provider through `socket`, as Direct application `app`.
fn direct_client(socket: &Path, app: &str) -> BasicClient {
    let mut client = common::direct_client(socket, app);
    client.set_implicit_provider(ProviderId::MbedCrypto);
    client
}

/// A daemon config on `url`, with the password and master key files in `dir`.
fn node_config(socket: &Path, url: &str, dir: &Path) -> String {
    let key_manager = format!(
        "[[key_manager]]\nname = \"shared\"\nmanager_type = \"PostgreSQL\"\nurl = \"{url}\"\n\
         password_file = \"{}\"\nmaster_key_path = \"{}\"\n\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"shared\"\n",
        dir.join("password").display(),
        dir.join("master.key").display()
    );
    config(socket, 3000, ADMIN_DIRECT, &key_manager)
}

fn write_password(dir: &Path) {
    let path = dir.join("password");
    std::fs::write(&path, format!("{}\n", pg::PASSWORD)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_key_made_through_one_node_is_used_through_the_other() {
    let cluster = Cluster::start();
    let url = cluster.create_db("nodes");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let a = Daemon::start(|s| node_config(s, &url, shared.path()));
    let b = Daemon::start(|s| node_config(s, &url, shared.path()));
    let (alice_a, alice_b) = (
        direct_client(&a.socket, "alice"),
        direct_client(&b.socket, "alice"),
    );
    alice_a.psa_generate_key("k", ecdsa_p256()).unwrap();
    let hash = [7u8; 32];
    let signature = alice_b.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
    alice_a
        .psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
        .unwrap();
    let listed: Vec<String> = alice_b
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(listed, ["k"]);
    // Names are unique across the nodes, and applications stay apart.
    assert!(matches!(
        alice_b.psa_generate_key("k", ecdsa_p256()),
        Err(parsec_client::error::Error::Service(
            ResponseStatus::PsaErrorAlreadyExists
        ))
    ));
    let bob_b = direct_client(&b.socket, "bob");
    assert!(bob_b.psa_sign_hash("k", &hash, ECDSA_SHA256).is_err());
}

#[test]
fn start_up_is_refused_with_a_clear_error_for_bad_settings() {
    let cluster = Cluster::start();
    let url = cluster.create_db("refusals");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let socket_in = |dir: &Path| dir.join("run").join("parsec.sock");
    // Unreachable: names where it looked, not the password.
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!(
        "postgresql://parsec:{}@localhost/x?host={}",
        pg::PASSWORD,
        dir.path().join("nowhere").display()
    );
    let text = node_config(&socket_in(dir.path()), &nowhere, shared.path());
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("nowhere"), "{err}");
    assert!(!err.contains(pg::PASSWORD), "{err}");
    // A password file others may read.
    let loose = tempfile::tempdir().unwrap();
    std::fs::write(loose.path().join("password"), pg::PASSWORD).unwrap();
    std::fs::set_permissions(
        loose.path().join("password"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let text = node_config(&socket_in(dir.path()), &url, loose.path());
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("readable or writable by others"), "{err}");
    // No master_key_path.
    let text = node_config(&socket_in(dir.path()), &url, shared.path())
        .replace("master_key_path", "#master_key_path");
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("master_key_path"), "{err}");
    // A second node whose master key is another: refused before it serves.
    let first = Daemon::start(|s| node_config(s, &url, shared.path()));
    first.stop();
    let other = tempfile::tempdir().unwrap();
    write_password(other.path());
    let text = node_config(&socket_in(dir.path()), &url, other.path());
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("same master key"), "{err}");
}

/// A key node A has kept loaded is not used once node B's destroy has answered; a key made
/// again under the same name through B is the one A then uses.
#[test]
fn a_destroy_through_one_node_holds_at_once_on_the_other() {
    let cluster = Cluster::start();
    let url = cluster.create_db("coherence");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let a = Daemon::start(|s| node_config(s, &url, shared.path()));
    let b = Daemon::start(|s| node_config(s, &url, shared.path()));
    let (on_a, on_b) = (
        direct_client(&a.socket, "app"),
        direct_client(&b.socket, "app"),
    );
    let hash = [9u8; 32];
    for round in 0..3 {
        on_a.psa_generate_key("k", ecdsa_p256()).unwrap();
        // A uses (and keeps) the key.
        let signature = on_a.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
        on_b.psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
            .unwrap();
        on_b.psa_destroy_key("k").unwrap();
        assert!(
            matches!(
                on_a.psa_sign_hash("k", &hash, ECDSA_SHA256),
                Err(parsec_client::error::Error::Service(
                    ResponseStatus::PsaErrorDoesNotExist
                ))
            ),
            "round {round}"
        );
        // Made again through B: A signs with the new key, which B's public key verifies.
        on_b.psa_generate_key("k", ecdsa_p256()).unwrap();
        let public = on_b.psa_export_public_key("k").unwrap();
        let signature = on_a.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
        assert_eq!(on_a.psa_export_public_key("k").unwrap(), public);
        on_b.psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
            .unwrap();
        on_b.psa_destroy_key("k").unwrap();
    }
    // Deleting a client through B holds on A too.
    on_a.psa_generate_key("k2", ecdsa_p256()).unwrap();
    on_a.psa_sign_hash("k2", &hash, ECDSA_SHA256).unwrap();
    direct_client(&b.socket, "admin")
        .delete_client("app")
        .unwrap();
    assert!(on_a.psa_sign_hash("k2", &hash, ECDSA_SHA256).is_err());
}
