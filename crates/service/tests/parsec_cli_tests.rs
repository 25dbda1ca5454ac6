//! parsec-tool's own black-box script (`tests/parsec-cli-tests.sh` of the crates.io
//! parsec-tool 0.7.0 crate) against our daemon, once per provider: RSA PKCS#1 v1.5 and OAEP
//! round trips with openssl on the other end, ECC and RSA signatures checked by openssl, CSRs,
//! key sizes. ./test.sh installs parsec-tool and names the script in PARSEC_CLI_TESTS.

mod common;

use std::process::Command;

use common::backends::{start_daemon, Kind};

/// Runs the script for the provider of `kind` only (its `-N` flag) and checks it exits 0.
fn script_passes_for(kind: Kind) {
    let script = std::env::var("PARSEC_CLI_TESTS").expect(
        "PARSEC_CLI_TESTS must name parsec-tool 0.7.0's parsec-cli-tests.sh (./test.sh sets it)",
    );
    let tool = std::env::var("PARSEC_TOOL").expect("PARSEC_TOOL must name parsec-tool 0.7.0");
    let device = kind.device();
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let id = kind.id() as u8;
    let out = Command::new("sh")
        .arg(&script)
        .arg(format!("-{id}"))
        .env(
            "PARSEC_SERVICE_ENDPOINT",
            format!("unix:{}", d.socket.display()),
        )
        .env("PARSEC_TOOL", &tool)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "parsec-cli-tests.sh exited {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- daemon\n{}",
        out.status,
        d.stderr()
    );
    // The script really exercised the provider (it skips providers it cannot reach), OAEP
    // included.
    let name = match kind {
        Kind::Software => "Mbed Crypto provider",
        Kind::Pkcs11 => "PKCS #11 provider",
        Kind::Tpm => "TPM provider",
    };
    assert!(stdout.contains(&format!("Testing {name}")), "{stdout}");
    assert!(stdout.contains("RSA OAEP algorithm"), "{stdout}");
    assert!(
        stdout.contains("Using openssl and the exported public ECC key"),
        "{stdout}"
    );
}

#[test]
fn software_provider_passes() {
    script_passes_for(Kind::Software);
}

#[test]
fn pkcs11_provider_passes() {
    script_passes_for(Kind::Pkcs11);
}

#[cfg(feature = "tpm")]
#[test]
fn tpm_provider_passes() {
    script_passes_for(Kind::Tpm);
}
