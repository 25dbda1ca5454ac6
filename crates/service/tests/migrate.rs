//! `parsec migrate` against a real upstream installation: upstream parsec-service 1.5.0 (from
//! crates.io, as the interop tests) creates keys through upstream's client crate for two
//! applications on its software provider, with either of its key info managers; it is stopped,
//! its keys are taken over, and our daemon, started on the same config.toml in the same
//! directory, serves them: each application lists only its own, signatures made now verify
//! with the public keys upstream exported, and ciphertexts upstream made decrypt. Upstream's
//! files are left as they were, and a second run imports nothing again.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parsec_client::core::interface::operations::psa_algorithm::{
    Aead, AeadWithDefaultLengthTag, AsymmetricEncryption, Hash,
};
use parsec_client::core::interface::operations::psa_key_attributes::{
    Attributes, Lifetime, Policy, Type, UsageFlags,
};

const KIM_SQLITE: &str = "SQLite";
const KIM_ON_DISK: &str = "OnDisk";

fn upstream_config(dir: &Path, kim: &str) -> String {
    let store = match kim {
        KIM_SQLITE => format!(
            "sqlite_db_path = \"{}\"",
            dir.join("kim")
                .join("sqlite-key-info-manager.sqlite3")
                .display()
        ),
        _ => format!("store_path = \"{}\"", dir.join("mappings").display()),
    };
    format!(
        "[core_settings]\nallow_root = true\n\n[listener]\nlistener_type = \"DomainSocket\"\n\
         timeout = 2000\nsocket_path = \"{}\"\n\n[authenticator]\nauth_type = \"Direct\"\n\n\
         [[key_manager]]\nname = \"kim\"\nmanager_type = \"{kim}\"\n{store}\n\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"kim\"\n",
        dir.join("parsec.sock").display()
    )
}

/// A daemon (upstream's or ours) run on `config` in `dir`, its working directory.
struct Running(std::process::Child);

impl Running {
    fn start(binary: &Path, dir: &Path, config: &Path, log: &str) -> Running {
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(config)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(log)).unwrap())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(dir.join("parsec.sock")).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status}:\n{}",
                    binary.display(),
                    std::fs::read_to_string(dir.join(log)).unwrap_or_default()
                );
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Running(child)
    }

    /// SIGTERM, and wait for it to exit.
    fn stop(mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Direct client of the software provider.
fn client(socket: &Path, app: &str) -> parsec_client::BasicClient {
    let mut c = common::direct_client(socket, app);
    c.set_implicit_provider(parsec_client::core::interface::requests::ProviderId::MbedCrypto);
    c
}

fn migrate(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(common::PARSEC)
        .arg("migrate")
        .arg("-c")
        .arg(dir.join("config.toml"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every file under `dir` and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn rsa_oaep() -> Attributes {
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_encrypt().set_decrypt();
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::RsaKeyPair,
        bits: 2048,
        policy: Policy {
            usage_flags,
            permitted_algorithms: oaep().into(),
        },
    }
}

fn oaep() -> AsymmetricEncryption {
    AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha256,
    }
}

fn gcm() -> Aead {
    Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm)
}

fn aes_gcm() -> Attributes {
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_encrypt().set_decrypt();
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::Aes,
        bits: 256,
        policy: Policy {
            usage_flags,
            permitted_algorithms: gcm().into(),
        },
    }
}

/// Checks an ECDSA P-256 / SHA-256 signature with aws-lc, apart from either daemon.
fn verifies(public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
        .verify(message, signature)
        .is_ok()
}

fn sha256(message: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message)
        .as_ref()
        .to_vec()
}

fn takes_over(kim: &str) {
    let upstream = PathBuf::from(std::env::var("PARSEC_UPSTREAM_SERVICE").expect(
        "PARSEC_UPSTREAM_SERVICE must name upstream parsec-service 1.5.0 (./test.sh installs it)",
    ));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("kim")).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, upstream_config(dir, kim)).unwrap();
    let socket = dir.join("parsec.sock");

    // Upstream makes the keys, and what the checks compare with.
    let daemon = Running::start(&upstream, dir, &config, "upstream.log");
    let alice = client(&socket, "alice");
    let bob = client(&socket, "bob");
    alice.psa_generate_key("sig", common::ecdsa_p256()).unwrap();
    alice.psa_generate_key("enc", rsa_oaep()).unwrap();
    alice.psa_generate_key("aes", aes_gcm()).unwrap();
    bob.psa_generate_key("sig", common::ecdsa_p256()).unwrap();
    let alice_public = alice.psa_export_public_key("sig").unwrap();
    let bob_public = bob.psa_export_public_key("sig").unwrap();
    let rsa_ciphertext = alice
        .psa_asymmetric_encrypt("enc", oaep(), b"for alice", None)
        .unwrap();
    let nonce = [9u8; 12];
    let aes_ciphertext = alice
        .psa_aead_encrypt("aes", gcm(), &nonce, b"aad", b"sealed by upstream")
        .unwrap();
    daemon.stop();
    std::fs::remove_file(&socket).ok();
    let before = snapshot(dir);

    // A dry run writes nothing.
    let (ok, out) = migrate(dir, &["--dry-run"]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("would import: ").count(), 4, "{out}");
    assert_eq!(snapshot(dir), before, "the dry run wrote something");

    let (ok, out) = migrate(dir, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("4 keys: 4 imported, 0 already present"),
        "{out}"
    );
    assert!(
        out.contains("imported: key `sig` of Direct application `bob` (MbedCrypto)"),
        "{out}"
    );
    // Upstream's files are as they were (ours are new files beside them).
    let after = snapshot(dir);
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
    }
    // A second run takes nothing twice.
    let (ok, out) = migrate(dir, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("4 keys: 0 imported, 4 already present"),
        "{out}"
    );

    // Ours, on the same config in the same directory, serves them.
    let ours = Running::start(Path::new(common::PARSEC), dir, &config, "ours.log");
    let alice = client(&socket, "alice");
    let bob = client(&socket, "bob");
    let names = |c: &parsec_client::BasicClient| {
        let mut n: Vec<String> = c.list_keys().unwrap().into_iter().map(|k| k.name).collect();
        n.sort();
        n
    };
    assert_eq!(names(&alice), ["aes", "enc", "sig"]);
    assert_eq!(names(&bob), ["sig"]);
    assert!(names(&client(&socket, "carol")).is_empty());
    let message = b"signed after the upgrade";
    for (client, public) in [(&alice, &alice_public), (&bob, &bob_public)] {
        let signature = client
            .psa_sign_hash("sig", &sha256(message), common::ECDSA_SHA256)
            .unwrap();
        assert!(verifies(public, message, &signature));
        assert_eq!(&client.psa_export_public_key("sig").unwrap(), public);
    }
    assert_ne!(alice_public, bob_public);
    assert_eq!(
        alice
            .psa_asymmetric_decrypt("enc", oaep(), &rsa_ciphertext, None)
            .unwrap(),
        b"for alice"
    );
    assert_eq!(
        alice
            .psa_aead_decrypt("aes", gcm(), &nonce, b"aad", &aes_ciphertext)
            .unwrap(),
        b"sealed by upstream"
    );
    ours.stop();
    std::fs::remove_file(&socket).ok();

    // Rolling back: upstream, started again, still serves its keys.
    let daemon = Running::start(&upstream, dir, &config, "upstream-again.log");
    let alice = client(&socket, "alice");
    assert_eq!(names(&alice), ["aes", "enc", "sig"]);
    let signature = alice
        .psa_sign_hash("sig", &sha256(message), common::ECDSA_SHA256)
        .unwrap();
    assert!(verifies(&alice_public, message, &signature));
    daemon.stop();
}

#[test]
fn software_keys_are_taken_over_from_upstreams_sqlite_key_info_manager() {
    takes_over(KIM_SQLITE);
}

#[test]
fn software_keys_are_taken_over_from_upstreams_on_disk_key_mappings() {
    takes_over(KIM_ON_DISK);
}

#[test]
fn bad_upstream_input_is_reported_by_key_and_nothing_is_half_imported() {
    let upstream = PathBuf::from(std::env::var("PARSEC_UPSTREAM_SERVICE").unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("kim")).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, upstream_config(dir, KIM_SQLITE)).unwrap();
    let socket = dir.join("parsec.sock");
    let daemon = Running::start(&upstream, dir, &config, "upstream.log");
    let alice = client(&socket, "alice");
    for name in ["k1", "k2", "k3"] {
        alice.psa_generate_key(name, common::ecdsa_p256()).unwrap();
    }
    // While upstream runs, migrate refuses to read its keys.
    let (ok, out) = migrate(dir, &[]);
    assert!(!ok && out.contains("stop it first"), "{out}");
    daemon.stop();
    std::fs::remove_file(&socket).ok();

    // Upstream's Mbed Crypto numbers its keys from 2, in order: k2's file is garbled, k3's is
    // gone.
    let its = |id: u32| dir.join(format!("{id:016x}.psa_its"));
    assert!(its(2).is_file() && its(3).is_file() && its(4).is_file());
    std::fs::write(its(3), b"PSA\0ITS\0garbage").unwrap();
    std::fs::remove_file(its(4)).unwrap();
    let (ok, out) = migrate(dir, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("imported: key `k1`"), "{out}");
    assert!(
        out.contains("NOT TAKEN OVER: key `k2` of Direct application `alice`")
            && out.contains("does not parse"),
        "{out}"
    );
    assert!(out.contains("NOT TAKEN OVER: key `k3`"), "{out}");
    assert!(
        out.contains("3 keys: 1 imported, 0 already present, 0 skipped, 2 not taken over"),
        "{out}"
    );
    let ours = Running::start(Path::new(common::PARSEC), dir, &config, "ours.log");
    let names: Vec<String> = client(&socket, "alice")
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["k1"], "only the whole key was taken over");
    ours.stop();
    std::fs::remove_file(&socket).ok();

    // A missing or corrupt upstream store is named, and nothing is done.
    let kim = dir.join("kim").join("sqlite-key-info-manager.sqlite3");
    std::fs::rename(&kim, dir.join("moved")).unwrap();
    let (ok, out) = migrate(dir, &[]);
    assert!(
        !ok && out.contains("sqlite-key-info-manager.sqlite3"),
        "{out}"
    );
    std::fs::write(
        &kim,
        b"not a database at all, but long enough to be read as one",
    )
    .unwrap();
    let (ok, out) = migrate(dir, &[]);
    assert!(
        !ok && out.contains("sqlite-key-info-manager.sqlite3"),
        "{out}"
    );
    // A corrupt on-disk mapping names its key.
    let mappings = dir.join("mappings");
    let key_dir = mappings.join("YWxpY2U=").join("1");
    std::fs::create_dir_all(&key_dir).unwrap();
    std::fs::write(key_dir.join("Ynk="), b"\x04\0\0").unwrap();
    std::fs::write(&config, upstream_config(dir, KIM_ON_DISK)).unwrap();
    let (ok, out) = migrate(dir, &["--dry-run"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("NOT TAKEN OVER: key `by` of Direct application `alice`")
            && out.contains("does not decode"),
        "{out}"
    );
}
