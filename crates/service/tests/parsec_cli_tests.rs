//! parsec-tool's own black-box script (`tests/parsec-cli-tests.sh` of the crates.io
//! parsec-tool 0.7.0 crate), once per provider: RSA PKCS#1 v1.5 and OAEP round trips with
//! openssl on the other end, ECC and RSA signatures checked by openssl, CSRs, key sizes.
//! ./test.sh installs parsec-tool and names the script in PARSEC_CLI_TESTS.
//!
//! Run with upstream's parsec-tool 0.7.0 against our daemon, and with our parsec-tool (crates/cli)
//! as `PARSEC_TOOL` against our daemon and against upstream parsec-service 1.5.0.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::backends::{start_daemon, Kind};
use common::upstream::{our_parsec_tool, Upstream};

fn upstream_tool() -> PathBuf {
    std::env::var("PARSEC_TOOL")
        .expect("PARSEC_TOOL must name parsec-tool 0.7.0")
        .into()
}

/// Runs the script with `tool` for provider `id` only (its `-N` flag) against the service at
/// `socket`, checks it exits 0 and exercised the provider; returns the daemon's log on failure.
fn script_passes(tool: &Path, socket: &Path, id: u8, name: &str, daemon_log: impl Fn() -> String) {
    let script = std::env::var("PARSEC_CLI_TESTS").expect(
        "PARSEC_CLI_TESTS must name parsec-tool 0.7.0's parsec-cli-tests.sh (./test.sh sets it)",
    );
    let out = Command::new("sh")
        .arg(&script)
        .arg(format!("-{id}"))
        .env(
            "PARSEC_SERVICE_ENDPOINT",
            format!("unix:{}", socket.display()),
        )
        .env("PARSEC_TOOL", tool)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "parsec-cli-tests.sh with {} exited {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- daemon\n{}",
        tool.display(),
        out.status,
        daemon_log()
    );
    // The script really exercised the provider (it skips providers it cannot reach), OAEP
    // included.
    assert!(stdout.contains(&format!("Testing {name}")), "{stdout}");
    assert!(stdout.contains("RSA OAEP algorithm"), "{stdout}");
    assert!(
        stdout.contains("Using openssl and the exported public ECC key"),
        "{stdout}"
    );
}

fn script_passes_for(kind: Kind, tool: &Path) {
    let device = kind.device();
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let name = match kind {
        Kind::Software => "Mbed Crypto provider",
        Kind::Pkcs11 => "PKCS #11 provider",
        Kind::Tpm => "TPM provider",
    };
    script_passes(tool, &d.socket, kind.id() as u8, name, || d.stderr());
}

#[test]
fn software_provider_passes() {
    script_passes_for(Kind::Software, &upstream_tool());
}

#[test]
fn pkcs11_provider_passes() {
    script_passes_for(Kind::Pkcs11, &upstream_tool());
}

#[cfg(feature = "tpm")]
#[test]
fn tpm_provider_passes() {
    script_passes_for(Kind::Tpm, &upstream_tool());
}

#[test]
fn our_tool_passes_on_the_software_provider() {
    script_passes_for(Kind::Software, &our_parsec_tool());
}

#[test]
fn our_tool_passes_on_the_pkcs11_provider() {
    script_passes_for(Kind::Pkcs11, &our_parsec_tool());
}

#[cfg(feature = "tpm")]
#[test]
fn our_tool_passes_on_the_tpm_provider() {
    script_passes_for(Kind::Tpm, &our_parsec_tool());
}

#[test]
fn our_tool_passes_against_upstream_parsec_service() {
    let up = Upstream::start();
    script_passes(
        &our_parsec_tool(),
        &up.socket,
        1,
        "Mbed Crypto provider",
        || up.stderr(),
    );
}
