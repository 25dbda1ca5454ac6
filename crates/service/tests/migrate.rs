//! `parsec migrate` against a real upstream installation: upstream parsec-service 1.5.0 (from
//! crates.io, as the interop tests) creates keys for two applications, through upstream's
//! parsec-tool 0.7.0 and upstream's client crate, on its software provider, on SoftHSM2 and on
//! swtpm, with either of its key info managers; it is stopped, its keys are taken over, and our
//! daemon, started on the same config.toml in the same directory, serves them to the same
//! tools: each application lists only its own, signatures made now verify with the public keys
//! upstream exported, and ciphertexts upstream made decrypt. Upstream's files are left as they
//! were, a second run imports nothing again, and upstream started again still serves its keys.
//! Bad input (a missing or corrupt store, a key file that does not parse, a token without the
//! object, another TPM, TPM records that lie) is reported by key, and nothing is half taken.

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

/// The first initialised token's serial number (upstream finds its token by it).
fn token_serial(h: &common::backends::SoftHsm) -> String {
    let out = Command::new("softhsm2-util")
        .arg("--show-slots")
        .env("SOFTHSM2_CONF", &h.conf)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Serial number:"))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .expect("a token with a serial number")
        .to_string()
}

/// Upstream's `[[provider]]` section for `device` (upstream finds a token by serial number).
fn provider_section(device: &common::backends::Device) -> String {
    match device {
        common::backends::Device::SoftHsm(h) => format!(
            "[[provider]]\nprovider_type = \"Pkcs11\"\nkey_info_manager = \"kim\"\n\
             library_path = \"{}\"\nserial_number = \"{}\"\nuser_pin = \"{}\"\n",
            h.module.display(),
            token_serial(h),
            common::backends::SoftHsm::PIN
        ),
        other => other.provider_section("kim"),
    }
}

fn upstream_config(dir: &Path, kim: &str) -> String {
    upstream_config_with(dir, kim, &common::backends::Device::Software)
}

fn upstream_config_with(dir: &Path, kim: &str, device: &common::backends::Device) -> String {
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
         [[key_manager]]\nname = \"kim\"\nmanager_type = \"{kim}\"\n{store}\n\n{}",
        dir.join("parsec.sock").display(),
        provider_section(device)
    )
}

/// A daemon (upstream's or ours) run on `config` in `dir`, its working directory.
struct Running(std::process::Child);

thread_local! {
    /// SoftHSM2's config file, when the test's upstream uses a token: every process started
    /// here (upstream, `parsec migrate`, ours) is given it.
    static SOFTHSM2_CONF: std::cell::RefCell<Option<PathBuf>> =
        const { std::cell::RefCell::new(None) };
}

fn device_env(cmd: &mut Command) -> &mut Command {
    if let Some(conf) = SOFTHSM2_CONF.with(|c| c.borrow().clone()) {
        cmd.env("SOFTHSM2_CONF", conf);
    }
    cmd
}

impl Running {
    fn start(binary: &Path, dir: &Path, config: &Path, log: &str) -> Running {
        let mut child = device_env(&mut Command::new(binary))
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
    let out = device_env(&mut Command::new(common::PARSEC))
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

/// Alice: the application upstream's parsec-tool is under Direct authentication.
const ALICE: &str = "parsec-tool";

/// Runs upstream's parsec-tool 0.7.0 against the daemon at `socket`, on `provider`; its
/// output.
fn parsec_tool(
    socket: &Path,
    provider: parsec_client::core::interface::requests::ProviderId,
    args: &[&str],
) -> String {
    let tool = std::env::var("PARSEC_TOOL")
        .expect("PARSEC_TOOL must name parsec-tool 0.7.0 (./test.sh installs it)");
    let out = Command::new(tool)
        .env(
            "PARSEC_SERVICE_ENDPOINT",
            format!("unix:{}", socket.display()),
        )
        .args(["-p", &(provider as u8).to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "parsec-tool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
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

fn oaep() -> AsymmetricEncryption {
    AsymmetricEncryption::RsaOaep {
        hash_alg: Hash::Sha256,
    }
}

fn gcm() -> Aead {
    Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm)
}

/// A P-256 public key, to verify ECDSA-SHA256 signatures; imported with 0 bits (its size
/// taken from the key), which upstream may record as it is.
fn ecc_public_key() -> Attributes {
    let mut attributes = common::ecdsa_p256();
    attributes.bits = 0;
    attributes.key_type = Type::EccPublicKey {
        curve_family:
            parsec_client::core::interface::operations::psa_key_attributes::EccFamily::SecpR1,
    };
    attributes.policy.usage_flags = UsageFlags::default();
    attributes.policy.usage_flags.set_verify_hash();
    attributes
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

fn takes_over(kim: &str, kind: common::backends::Kind) {
    use common::backends::{Device, Kind};
    let upstream = PathBuf::from(std::env::var("PARSEC_UPSTREAM_SERVICE").expect(
        "PARSEC_UPSTREAM_SERVICE must name upstream parsec-service 1.5.0 (./test.sh installs it)",
    ));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("kim")).unwrap();
    let config = dir.join("config.toml");
    let device = kind.device();
    if let Device::SoftHsm(h) = &device {
        SOFTHSM2_CONF.with(|c| *c.borrow_mut() = Some(h.conf.clone()));
    }
    std::fs::write(&config, upstream_config_with(dir, kim, &device)).unwrap();
    let socket = dir.join("parsec.sock");
    let provider = kind.id();
    let client = |socket: &Path, app: &str| {
        let mut c = common::direct_client(socket, app);
        c.set_implicit_provider(provider);
        c
    };
    // SoftHSM2 has RSA-OAEP with SHA-1 only; upstream's PKCS#11 and TPM providers have no
    // AES.
    let (encryption, has_aes) = match kind {
        Kind::Pkcs11 => (AsymmetricEncryption::RsaPkcs1v15Crypt, false),
        Kind::Tpm => (oaep(), false),
        Kind::Software => (oaep(), true),
    };
    let mut keys = vec!["enc", "pub", "sig"];
    if has_aes {
        keys.insert(0, "aes");
    }

    // Upstream makes the keys, and what the checks compare with: alice's through upstream's
    // parsec-tool (whose Direct application is `parsec-tool`), with upstream's client crate
    // for what the tool lacks (AES, importing a public key); bob's through the client crate.
    let daemon = Running::start(&upstream, dir, &config, "upstream.log");
    let alice = client(&socket, ALICE);
    let bob = client(&socket, "bob");
    let tool = |args: &[&str]| parsec_tool(&socket, provider, args);
    tool(&["create-ecc-key", "-k", "sig"]);
    if encryption == oaep() {
        tool(&["create-rsa-key", "-k", "enc", "--oaep"]);
    } else {
        tool(&["create-rsa-key", "-k", "enc"]);
    }
    let sig_pem = tool(&["export-public-key", "-k", "sig"]);
    if has_aes {
        alice.psa_generate_key("aes", aes_gcm()).unwrap();
    }
    bob.psa_generate_key("sig", common::ecdsa_p256()).unwrap();
    let alice_public = alice.psa_export_public_key("sig").unwrap();
    let bob_public = bob.psa_export_public_key("sig").unwrap();
    // Alice keeps bob's public key, imported.
    alice
        .psa_import_key("pub", &bob_public, ecc_public_key())
        .unwrap();
    let rsa_ciphertext = tool(&["encrypt", "-k", "enc", "for alice"]);
    let nonce = [9u8; 12];
    let aes_ciphertext = has_aes.then(|| {
        alice
            .psa_aead_encrypt("aes", gcm(), &nonce, b"aad", b"sealed by upstream")
            .unwrap()
    });
    let total = keys.len() + 1;
    // Upstream's TPM provider records its storage key's name in its SQLite database, as an
    // internal key: skipped.
    let internal = usize::from(kind == Kind::Tpm && kim == KIM_SQLITE);
    let records = total + internal;
    daemon.stop();
    std::fs::remove_file(&socket).ok();
    let before = snapshot(dir);

    // A dry run writes nothing.
    let (ok, out) = migrate(dir, &["--dry-run"]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("would import: ").count(), total, "{out}");
    assert_eq!(snapshot(dir), before, "the dry run wrote something");

    let (ok, out) = migrate(dir, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "{records} keys: {total} imported, 0 already present, {internal} skipped, 0 not"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "imported: key `sig` of Direct application `bob` ({provider:?})"
        )),
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
        out.contains(&format!(
            "{records} keys: 0 imported, {total} already present, {internal} skipped, 0 not"
        )),
        "{out}"
    );

    // Ours, on the same config in the same directory, serves them; from its own file beside
    // upstream's database, even with that database moved away.
    let kim_db = dir.join("kim").join("sqlite-key-info-manager.sqlite3");
    let moved = dir.join("kim-moved.sqlite3");
    if kim == KIM_SQLITE {
        std::fs::rename(&kim_db, &moved).unwrap();
    }
    let ours = Running::start(Path::new(common::PARSEC), dir, &config, "ours.log");
    let alice = client(&socket, ALICE);
    let bob = client(&socket, "bob");
    let names = |c: &parsec_client::BasicClient| {
        let mut n: Vec<String> = c.list_keys().unwrap().into_iter().map(|k| k.name).collect();
        n.sort();
        n
    };
    assert_eq!(names(&alice), keys);
    assert_eq!(names(&bob), ["sig"]);
    assert!(names(&client(&socket, "carol")).is_empty());
    let listed = alice.list_keys().unwrap();
    let imported = listed.iter().find(|k| k.name == "pub").unwrap();
    assert_eq!(imported.attributes.bits, 256, "sized from the key");
    let message = b"signed after the upgrade";
    for (client, public) in [(&alice, &alice_public), (&bob, &bob_public)] {
        let signature = client
            .psa_sign_hash("sig", &sha256(message), common::ECDSA_SHA256)
            .unwrap_or_else(|e| panic!("{e}; ours logged:\n{}", log(dir, "ours.log")));
        assert!(verifies(public, message, &signature));
        assert_eq!(&client.psa_export_public_key("sig").unwrap(), public);
    }
    // Upstream's parsec-tool, unchanged, on ours: the same public key, a signature that
    // verifies with upstream's, and upstream's ciphertext decrypted.
    let tool = |args: &[&str]| parsec_tool(&socket, provider, args);
    assert_eq!(tool(&["export-public-key", "-k", "sig"]), sig_pem);
    let signed = tool(&["sign", "-k", "sig", "signed after the upgrade"]);
    // parsec-tool gives ECDSA signatures DER-encoded.
    assert!(aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        &alice_public
    )
    .verify(message, &base64_decode(signed.trim()))
    .is_ok());
    assert_eq!(
        tool(&["decrypt", "-k", "enc", rsa_ciphertext.trim()]).trim(),
        "for alice"
    );
    assert_ne!(alice_public, bob_public);
    let by_bob = bob
        .psa_sign_hash("sig", &sha256(message), common::ECDSA_SHA256)
        .unwrap();
    alice
        .psa_verify_hash("pub", &sha256(message), common::ECDSA_SHA256, &by_bob)
        .unwrap();
    assert_eq!(alice.psa_export_public_key("pub").unwrap(), bob_public);
    // Upstream's keys and one made through ours take turns (on a TPM, under two storage keys,
    // in three object slots).
    alice
        .psa_generate_key("mine", common::ecdsa_p256())
        .unwrap();
    let mine = alice.psa_export_public_key("mine").unwrap();
    for round in 0..3 {
        for (client, name, public) in [
            (&alice, "mine", &mine),
            (&alice, "sig", &alice_public),
            (&bob, "sig", &bob_public),
        ] {
            let signature = client
                .psa_sign_hash(name, &sha256(message), common::ECDSA_SHA256)
                .unwrap_or_else(|e| panic!("{name}, round {round}: {e}"));
            assert!(
                verifies(public, message, &signature),
                "{name}, round {round}"
            );
        }
    }
    assert_eq!(
        alice
            .psa_asymmetric_decrypt(
                "enc",
                encryption,
                &base64_decode(rsa_ciphertext.trim()),
                None
            )
            .unwrap(),
        b"for alice"
    );
    if let Some(aes_ciphertext) = &aes_ciphertext {
        assert_eq!(
            alice
                .psa_aead_decrypt("aes", gcm(), &nonce, b"aad", aes_ciphertext)
                .unwrap(),
            b"sealed by upstream"
        );
    }
    ours.stop();
    std::fs::remove_file(&socket).ok();
    if kim == KIM_SQLITE {
        assert!(!kim_db.exists(), "ours made a store at upstream's path");
        std::fs::rename(&moved, &kim_db).unwrap();
    }

    // Rolling back: upstream, started again, still serves its keys.
    let daemon = Running::start(&upstream, dir, &config, "upstream-again.log");
    let alice = client(&socket, ALICE);
    assert_eq!(names(&alice), keys);
    let signature = alice
        .psa_sign_hash("sig", &sha256(message), common::ECDSA_SHA256)
        .unwrap();
    assert!(verifies(&alice_public, message, &signature));
    daemon.stop();
}

#[test]
fn software_keys_are_taken_over_from_upstreams_sqlite_key_info_manager() {
    takes_over(KIM_SQLITE, common::backends::Kind::Software);
}

#[test]
fn software_keys_are_taken_over_from_upstreams_on_disk_key_mappings() {
    takes_over(KIM_ON_DISK, common::backends::Kind::Software);
}

#[test]
fn pkcs11_keys_are_taken_over_from_upstreams_sqlite_key_info_manager() {
    takes_over(KIM_SQLITE, common::backends::Kind::Pkcs11);
}

#[test]
fn pkcs11_keys_are_taken_over_from_upstreams_on_disk_key_mappings() {
    takes_over(KIM_ON_DISK, common::backends::Kind::Pkcs11);
}

#[test]
fn tpm_keys_are_taken_over_from_upstreams_sqlite_key_info_manager() {
    takes_over(KIM_SQLITE, common::backends::Kind::Tpm);
}

#[test]
fn tpm_keys_are_taken_over_from_upstreams_on_disk_key_mappings() {
    takes_over(KIM_ON_DISK, common::backends::Kind::Tpm);
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
    let k2_file = std::fs::read(its(3)).unwrap();
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
    // Meanwhile a client makes another key named k2 through ours; once k2's file is whole
    // again, upstream's k2 is not taken for it, nor it for upstream's.
    client(&socket, "alice")
        .psa_generate_key("k2", common::ecdsa_p256())
        .unwrap();
    ours.stop();
    std::fs::remove_file(&socket).ok();
    std::fs::write(its(3), &k2_file).unwrap();
    let (ok, out) = migrate(dir, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("already present, left as it is: key `k1`"),
        "{out}"
    );
    assert!(
        out.contains("NOT TAKEN OVER: key `k2`")
            && out.contains("already holds another key of that name"),
        "{out}"
    );

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

/// Upstream, on `device` with key info manager `kim` in `dir`, makes alice's ECDSA key `name`
/// and is stopped; its config file.
fn upstream_makes_a_key(
    dir: &Path,
    kim: &str,
    device: &common::backends::Device,
    kind: common::backends::Kind,
    name: &str,
) -> PathBuf {
    let upstream = PathBuf::from(std::env::var("PARSEC_UPSTREAM_SERVICE").unwrap());
    std::fs::create_dir_all(dir.join("kim")).unwrap();
    if let common::backends::Device::SoftHsm(h) = device {
        SOFTHSM2_CONF.with(|c| *c.borrow_mut() = Some(h.conf.clone()));
    }
    let config = dir.join("config.toml");
    std::fs::write(&config, upstream_config_with(dir, kim, device)).unwrap();
    let socket = dir.join("parsec.sock");
    let daemon = Running::start(&upstream, dir, &config, "upstream.log");
    let mut alice = common::direct_client(&socket, "alice");
    alice.set_implicit_provider(kind.id());
    alice.psa_generate_key(name, common::ecdsa_p256()).unwrap();
    daemon.stop();
    std::fs::remove_file(&socket).ok();
    config
}

/// Ours, started on `config` in `dir`, holds no key of `app`'s.
fn ours_holds_nothing_of(dir: &Path, config: &Path, app: &str) {
    let ours = Running::start(Path::new(common::PARSEC), dir, config, "ours.log");
    let listed = common::direct_client(&dir.join("parsec.sock"), app)
        .list_keys()
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    ours.stop();
}

#[test]
fn a_token_that_lost_the_object_is_reported_and_nothing_is_recorded() {
    use common::backends::{Device, Kind};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let device = Kind::Pkcs11.device();
    let config = upstream_makes_a_key(dir, KIM_SQLITE, &device, Kind::Pkcs11, "k");
    let Device::SoftHsm(h) = &device else {
        unreachable!()
    };
    // The token loses its key objects (SoftHSM2 keeps one file per object).
    let tokens = h.conf.parent().unwrap().join("tokens");
    let mut removed = 0;
    for token in std::fs::read_dir(&tokens).unwrap() {
        for object in std::fs::read_dir(token.unwrap().path()).unwrap() {
            let path = object.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".object") && name != "token.object" {
                std::fs::remove_file(&path).unwrap();
                removed += 1;
            }
        }
    }
    assert_eq!(removed, 2, "the key pair's two objects");
    let (ok, out) = migrate(dir, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("NOT TAKEN OVER: key `k` of Direct application `alice` (Pkcs11)")
            && out.contains("the device does not hold its object"),
        "{out}"
    );
    ours_holds_nothing_of(dir, &config, "alice");
}

/// Upstream's TPM keys load only in the TPM (owner hierarchy) that made them: pointed at
/// another, migrate names each key and records nothing.
#[test]
fn tpm_keys_of_another_tpm_are_reported_and_nothing_is_recorded() {
    use common::backends::Kind;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let made_on = Kind::Tpm.device();
    let config = upstream_makes_a_key(dir, KIM_SQLITE, &made_on, Kind::Tpm, "k");
    drop(made_on);

    let another = Kind::Tpm.device();
    std::fs::write(&config, upstream_config_with(dir, KIM_SQLITE, &another)).unwrap();
    let (ok, out) = migrate(dir, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("NOT TAKEN OVER: key `k` of Direct application `alice` (Tpm)")
            && out.contains("does not load it under upstream's storage key"),
        "{out}"
    );
    ours_holds_nothing_of(dir, &config, "alice");
}

/// A hostile or damaged on-disk store: records that reuse a real TPM key's private blob with
/// another public key, or carry another auth value, are refused, even right after the real
/// key was checked (and loaded) in the same run.
#[test]
fn tpm_records_that_lie_are_refused() {
    use base64::Engine;
    use common::backends::Kind;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let device = Kind::Tpm.device();
    let config = upstream_makes_a_key(dir, KIM_ON_DISK, &device, Kind::Tpm, "sig");
    let socket = dir.join("parsec.sock");

    // The mapping file: bincode KeyInfo { id, attributes }; id = TPMS_CONTEXT (24 bytes),
    // auth value (u64 length 32, bytes), public key (u32 tag 1, u64 length, x, ...).
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
    let mappings = dir.join("mappings");
    let real = std::fs::read(mappings.join(b64("alice")).join("3").join(b64("sig"))).unwrap();
    assert_eq!(real[32..40], 32u64.to_le_bytes(), "the auth value's length");
    assert_eq!(real[72..76], 1u32.to_le_bytes(), "an ECC public key");
    let mallory = mappings.join(b64("mallory")).join("3");
    std::fs::create_dir_all(&mallory).unwrap();
    let mut wrong_auth = real.clone();
    wrong_auth[45] ^= 1;
    std::fs::write(mallory.join(b64("wrong-auth")), &wrong_auth).unwrap();
    let mut other_public = real.clone();
    other_public[90] ^= 1;
    std::fs::write(mallory.join(b64("other-public")), &other_public).unwrap();

    let (ok, out) = migrate(dir, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("imported: key `sig` of Direct application `alice`"),
        "{out}"
    );
    assert!(
        out.contains("NOT TAKEN OVER: key `wrong-auth` of Direct application `mallory`")
            && out.contains("refuses the auth value"),
        "{out}"
    );
    assert!(
        out.contains("NOT TAKEN OVER: key `other-public` of Direct application `mallory`")
            && out.contains("does not load it under upstream's storage key"),
        "{out}"
    );
    let ours = Running::start(Path::new(common::PARSEC), dir, &config, "ours.log");
    assert!(common::direct_client(&socket, "mallory")
        .list_keys()
        .unwrap()
        .is_empty());
    let mut alice = common::direct_client(&socket, "alice");
    alice.set_implicit_provider(Kind::Tpm.id());
    alice
        .psa_sign_hash("sig", &sha256(b"m"), common::ECDSA_SHA256)
        .unwrap();
    ours.stop();
}

/// Upstream's naming of Unix peer credentials applications (the decimal UID) is kept: a key
/// parsec-tool made under upstream's UnixPeerCredentials authenticator is the same
/// application's under ours, with either key info manager.
#[test]
fn unix_peer_credentials_applications_keep_their_keys() {
    for kim in [KIM_SQLITE, KIM_ON_DISK] {
        let upstream = PathBuf::from(std::env::var("PARSEC_UPSTREAM_SERVICE").unwrap());
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir(dir.join("kim")).unwrap();
        let config = dir.join("config.toml");
        let text = upstream_config(dir, kim).replace(
            "auth_type = \"Direct\"",
            "auth_type = \"UnixPeerCredentials\"",
        );
        std::fs::write(&config, text).unwrap();
        let socket = dir.join("parsec.sock");
        let software = parsec_client::core::interface::requests::ProviderId::MbedCrypto;
        let daemon = Running::start(&upstream, dir, &config, "upstream.log");
        parsec_tool(&socket, software, &["create-ecc-key", "-k", "mine"]);
        let pem = parsec_tool(&socket, software, &["export-public-key", "-k", "mine"]);
        daemon.stop();
        std::fs::remove_file(&socket).ok();

        let (ok, out) = migrate(dir, &[]);
        assert!(ok, "{out}");
        let uid = rustix::process::geteuid().as_raw();
        assert!(
            out.contains(&format!(
                "imported: key `mine` of UnixPeerCredentials application `{uid}`"
            )),
            "{kim}: {out}"
        );
        let ours = Running::start(Path::new(common::PARSEC), dir, &config, "ours.log");
        assert_eq!(
            parsec_tool(&socket, software, &["export-public-key", "-k", "mine"]),
            pem
        );
        assert!(parsec_tool(&socket, software, &["list-keys"]).contains("mine"));
        parsec_tool(&socket, software, &["sign", "-k", "mine", "by uid"]);
        ours.stop();
    }
}
