//! parsec-tool's own black-box script (`tests/parsec-cli-tests.sh` of the crates.io
//! parsec-tool 0.7.0 crate) against our daemon: RSA PKCS#1 v1.5 and OAEP round trips with
//! openssl on the other end, ECC and RSA signatures checked by openssl, CSRs, key sizes.
//! ./test.sh installs parsec-tool and names the script in PARSEC_CLI_TESTS.

mod common;

use std::process::Command;

use common::{software_config, Daemon};

#[test]
fn parsec_cli_tests_script_passes() {
    let script = std::env::var("PARSEC_CLI_TESTS").expect(
        "PARSEC_CLI_TESTS must name parsec-tool 0.7.0's parsec-cli-tests.sh (./test.sh sets it)",
    );
    let tool = std::env::var("PARSEC_TOOL").expect("PARSEC_TOOL must name parsec-tool 0.7.0");
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(|s| {
        software_config(s, state.path(), "[authenticator]\nauth_type = \"Direct\"\n")
    });
    let out = Command::new("sh")
        .arg(&script)
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
    // The script really exercised the provider (it skips providers it cannot reach).
    assert!(
        stdout.contains("Testing Mbed Crypto provider") || stdout.contains("provider"),
        "{stdout}"
    );
}
