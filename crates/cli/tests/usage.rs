//! The command line itself, without a service: upstream's subcommands and flags exist, usage
//! errors exit 1 as upstream 0.7.0's do, and a missing service is named. The commands against
//! real services are tested in crates/service/tests (parsec_tool.rs, parsec_cli_tests.rs).

use std::process::{Command, Output};

fn tool(args: &[&str], endpoint: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parsec-tool"))
        .args(args)
        .env("PARSEC_SERVICE_ENDPOINT", endpoint)
        .output()
        .unwrap()
}

#[test]
fn every_upstream_subcommand_and_flag_exists() {
    let help = tool(&["--help"], "unix:/nonexistent");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for sub in [
        "ping",
        "list-providers",
        "list-authenticators",
        "list-opcodes",
        "list-keys",
        "generate-random",
        "export-public-key",
        "create-rsa-key",
        "create-ecc-key",
        "decrypt",
        "sign",
        "delete-key",
        "list-clients",
        "delete-client",
        "create-csr",
        "encrypt",
        // Ours.
        "verify",
        "import-key",
        "create-certificate",
        "completions",
    ] {
        assert!(
            text.contains(&format!("  {sub} ")),
            "{sub} missing:\n{text}"
        );
    }
    let flags: [(&str, &[&str]); 6] = [
        (
            "create-rsa-key",
            &[
                "--key-name",
                "--for-signing",
                "--for-signing-pss",
                "--bits",
                "--oaep",
            ],
        ),
        (
            "create-csr",
            &[
                "--cn",
                "--l",
                "--o",
                "--ou",
                "--st",
                "--c",
                "--serialNumber",
                "--san",
            ],
        ),
        ("export-public-key", &["--key-name", "--pkcs1"]),
        ("generate-random", &["--nbytes"]),
        ("delete-client", &["--client"]),
        ("list-keys", &["--pattern"]),
    ];
    for (sub, names) in flags {
        let help = tool(&[sub, "--help"], "unix:/nonexistent");
        let text = String::from_utf8_lossy(&help.stdout);
        for name in names {
            assert!(text.contains(name), "{sub} {name} missing:\n{text}");
        }
    }
    // The short forms upstream's scripts use.
    let out = tool(
        &[
            "create-rsa-key",
            "-k",
            "x",
            "-s",
            "-r",
            "-o",
            "-b",
            "3072",
            "--help",
        ],
        "unix:/x",
    );
    assert!(out.status.success());
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let out = tool(&["no-such-command"], "unix:/nonexistent");
    assert_eq!(out.status.code(), Some(1));
    let out = tool(&["sign"], "unix:/nonexistent");
    assert_eq!(out.status.code(), Some(1), "a missing --key-name");
    let out = tool(&["--version"], "unix:/nonexistent");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_missing_service_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let out = tool(&["ping"], &format!("unix:{}", socket.display()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&socket.display().to_string()), "{err}");
    assert!(err.contains("PARSEC_SERVICE_ENDPOINT"), "{err}");

    let out = tool(&["ping"], "tcp://example");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an endpoint"), "{err}");
}

#[test]
fn completions_are_generated_for_bash() {
    let out = tool(&["completions", "bash"], "unix:/nonexistent");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("complete") && script.contains("create-ecc-key"),
        "{script}"
    );
}
