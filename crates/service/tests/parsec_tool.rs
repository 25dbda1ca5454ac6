//! Our parsec-tool (crates/cli) against our daemon, beside upstream's parsec-tool 0.7.0:
//! each tool sees and uses the keys the other made, their outputs agree, and our additions
//! (certificates, imports, verify, patterns, JSON, the remote endpoint) do what they say,
//! checked with openssl.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::backends::{start_daemon, Device};
use common::upstream::our_parsec_tool;

fn run(tool: &Path, endpoint: &str, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .env("PARSEC_SERVICE_ENDPOINT", endpoint)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

/// Runs and expects success; returns standard output.
fn ok(tool: &Path, endpoint: &str, args: &[&str]) -> String {
    let out = run(tool, endpoint, args);
    assert!(
        out.status.success(),
        "{} {args:?} exited {}:\n{}",
        tool.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().unwrap()
}

fn upstream_tool() -> std::path::PathBuf {
    std::env::var("PARSEC_TOOL")
        .expect("PARSEC_TOOL must name parsec-tool 0.7.0")
        .into()
}

#[test]
fn both_tools_share_keys_and_agree_on_what_they_print() {
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&Device::Software, state.path());
    let ep = format!("unix:{}", d.socket.display());
    let (ours, theirs) = (our_parsec_tool(), upstream_tool());

    ok(&theirs, &ep, &["create-ecc-key", "-k", "made-by-upstream"]);
    ok(
        &ours,
        &ep,
        &["create-rsa-key", "-k", "made-by-ours", "--for-signing"],
    );
    for args in [
        &["list-keys"][..],
        &["ping"],
        &["list-providers"],
        &["list-authenticators"],
        &["export-public-key", "-k", "made-by-upstream"],
        &["export-public-key", "-k", "made-by-ours"],
        &["export-public-key", "-k", "made-by-ours", "--pkcs1"],
    ] {
        assert_eq!(ok(&ours, &ep, args), ok(&theirs, &ep, args), "{args:?}");
    }
    // list-opcodes: the core provider without -p, as upstream (which prints them in hash-set
    // order, so the lines are compared as sets).
    for args in [
        &["list-opcodes"][..],
        &["-p", "1", "list-opcodes"],
        &["list-opcodes", "-p", "1"],
    ] {
        let sorted = |out: String| {
            let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        let ours_out = sorted(ok(&ours, &ep, args));
        assert_eq!(ours_out, sorted(ok(&theirs, &ep, args)), "{args:?}");
        assert!(!ours_out.is_empty());
    }
    let core = ok(&ours, &ep, &["list-opcodes"]);
    assert!(
        core.contains("(ListKeys)") && !core.contains("(PsaSignHash)"),
        "{core}"
    );
    // Each signs with the other's key; openssl checks both with the exported public keys.
    let dir = tempfile::tempdir().unwrap();
    for (tool, key) in [(&ours, "made-by-upstream"), (&theirs, "made-by-ours")] {
        let pem = dir.path().join(format!("{key}.pem"));
        std::fs::write(&pem, ok(tool, &ep, &["export-public-key", "-k", key])).unwrap();
        let sig = ok(tool, &ep, &["sign", "-k", key, "a message"]);
        let bin = dir.path().join(format!("{key}.sig"));
        std::fs::write(&bin, base64_decode(sig.trim())).unwrap();
        let msg = dir.path().join("msg");
        std::fs::write(&msg, "a message").unwrap();
        let out = openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            pem.to_str().unwrap(),
            "-signature",
            bin.to_str().unwrap(),
            msg.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{key}: {out:?}");
    }
    // Upstream's tool deletes ours' key, and the reverse.
    ok(&theirs, &ep, &["delete-key", "-k", "made-by-ours"]);
    ok(&ours, &ep, &["delete-key", "-k", "made-by-upstream"]);
    assert_eq!(ok(&ours, &ep, &["list-keys"]), "");
}

fn base64_decode(text: &str) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["base64", "-d", "-A"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    out.stdout
}

#[test]
fn certificates_imports_verify_patterns_and_json() {
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&Device::Software, state.path());
    let ep = format!("unix:{}", d.socket.display());
    let tool = our_parsec_tool();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    // A self-signed certificate for an ECC key and for an RSA-PSS key: openssl checks the
    // signature, the subject and the names.
    ok(&tool, &ep, &["create-ecc-key", "-k", "app/tls/ecc"]);
    ok(&tool, &ep, &["create-rsa-key", "-k", "app/tls/pss", "-r"]);
    for key in ["app/tls/ecc", "app/tls/pss"] {
        let cert = ok(
            &tool,
            &ep,
            &[
                "create-certificate",
                "-k",
                key,
                "--cn",
                "host.test",
                "--san",
                "host.test",
                "--san",
                "10.0.0.1",
            ],
        );
        std::fs::write(path("cert.pem"), cert).unwrap();
        let out = openssl(&["verify", "-CAfile", &path("cert.pem"), &path("cert.pem")]);
        assert!(out.status.success(), "{key}: {out:?}");
        let text = openssl(&["x509", "-in", &path("cert.pem"), "-noout", "-text"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("CN = host.test") || text.contains("CN=host.test"),
            "{text}"
        );
        assert!(
            text.contains("DNS:host.test, IP Address:10.0.0.1"),
            "{text}"
        );
    }

    // Keys made by openssl, imported in each format; the service signs with the private
    // ones, openssl verifies with its own public key.
    assert!(openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &path("ec.pem")
    ])
    .status
    .success());
    assert!(openssl(&[
        "pkey",
        "-in",
        &path("ec.pem"),
        "-pubout",
        "-out",
        &path("ec.pub")
    ])
    .status
    .success());
    assert!(
        openssl(&["ec", "-in", &path("ec.pem"), "-out", &path("ec-sec1.pem")])
            .status
            .success()
    );
    assert!(openssl(&[
        "pkey",
        "-in",
        &path("ec.pem"),
        "-outform",
        "DER",
        "-out",
        &path("ec.der")
    ])
    .status
    .success());
    for (name, file) in [
        ("imp/p8", "ec.pem"),
        ("imp/sec1", "ec-sec1.pem"),
        ("imp/der", "ec.der"),
    ] {
        ok(&tool, &ep, &["import-key", "-k", name, "-f", &path(file)]);
        let sig = ok(&tool, &ep, &["sign", "-k", name, "imported"]);
        std::fs::write(path("sig"), base64_decode(sig.trim())).unwrap();
        std::fs::write(path("msg"), "imported").unwrap();
        let out = openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            &path("ec.pub"),
            "-signature",
            &path("sig"),
            &path("msg"),
        ]);
        assert!(out.status.success(), "{name}: {out:?}");
        // verify: the same signature passes, another message fails with exit 1.
        ok(
            &tool,
            &ep,
            &["verify", "-k", name, "--signature", sig.trim(), "imported"],
        );
        let bad = run(
            &tool,
            &ep,
            &["verify", "-k", name, "--signature", sig.trim(), "imported!"],
        );
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("PsaErrorInvalidSignature"));
    }
    ok(
        &tool,
        &ep,
        &["import-key", "-k", "imp/pub", "-f", &path("ec.pub")],
    );
    assert_eq!(
        ok(&tool, &ep, &["export-public-key", "-k", "imp/pub"]),
        std::fs::read_to_string(path("ec.pub")).unwrap()
    );
    // An RSA public key imported for OAEP: what ours encrypts, openssl's private key opens.
    assert!(openssl(&["genrsa", "-out", &path("rsa.pem"), "2048"])
        .status
        .success());
    assert!(openssl(&[
        "rsa",
        "-in",
        &path("rsa.pem"),
        "-pubout",
        "-out",
        &path("rsa.pub")
    ])
    .status
    .success());
    ok(
        &tool,
        &ep,
        &[
            "import-key",
            "-k",
            "imp/rsa-pub",
            "-f",
            &path("rsa.pub"),
            "--oaep",
        ],
    );
    let ct = ok(&tool, &ep, &["encrypt", "-k", "imp/rsa-pub", "for openssl"]);
    std::fs::write(path("ct"), base64_decode(ct.trim())).unwrap();
    let out = openssl(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        &path("rsa.pem"),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-in",
        &path("ct"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "for openssl",
        "{out:?}"
    );
    // `openssl ecparam -genkey` writes EC PARAMETERS before the key: the key is found.
    assert!(openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-out",
        &path("ecparam.pem")
    ])
    .status
    .success());
    ok(
        &tool,
        &ep,
        &[
            "import-key",
            "-k",
            "imp/ecparam",
            "-f",
            &path("ecparam.pem"),
        ],
    );
    // A file larger than any key is refused before it is read whole.
    std::fs::write(path("huge.pem"), vec![b'A'; 2 << 20]).unwrap();
    let out = run(
        &tool,
        &ep,
        &["import-key", "-k", "huge", "-f", &path("huge.pem")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than any key file"));
    // Garbage is refused with a clear error.
    std::fs::write(
        path("junk.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = run(
        &tool,
        &ep,
        &["import-key", "-k", "junk", "-f", &path("junk.pem")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a key file"));

    // Patterns: path-like names, `*` within a segment, `**` across.
    let names = |args: &[&str]| -> Vec<String> {
        ok(&tool, &ep, args)
            .lines()
            .map(|l| {
                l.trim_start_matches("* ")
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        names(&["list-keys", "--pattern", "app/tls/*"]),
        ["app/tls/ecc", "app/tls/pss"]
    );
    assert_eq!(names(&["list-keys", "--pattern", "imp/s*"]), ["imp/sec1"]);
    assert_eq!(
        names(&["list-keys", "--pattern", "*"]),
        Vec::<String>::new()
    );
    assert_eq!(names(&["list-keys", "--pattern", "**"]).len(), 8);

    // A CSR with names only: the subject is empty, so the names are critical (RFC 5280);
    // a country PrintableString cannot hold is written as UTF8String, and openssl reads both.
    let csr = ok(
        &tool,
        &ep,
        &["create-csr", "-k", "app/tls/ecc", "--san", "only.test"],
    );
    std::fs::write(path("names.csr"), csr).unwrap();
    let out = openssl(&[
        "req",
        "-in",
        &path("names.csr"),
        "-noout",
        "-text",
        "-verify",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("X509v3 Subject Alternative Name: critical"),
        "{text}"
    );
    let csr = ok(
        &tool,
        &ep,
        &[
            "create-csr",
            "-k",
            "app/tls/ecc",
            "--cn",
            "Zoë",
            "--c",
            "Ω_1",
        ],
    );
    std::fs::write(path("utf8.csr"), csr).unwrap();
    let out = openssl(&["req", "-in", &path("utf8.csr"), "-noout", "-verify"]);
    assert!(out.status.success(), "{out:?}");
    let out = run(
        &tool,
        &ep,
        &["create-csr", "-k", "app/tls/ecc", "--san", "bad name"],
    );
    assert_eq!(out.status.code(), Some(1));

    // JSON for scripts.
    let json = ok(&tool, &ep, &["--json", "list-keys", "--pattern", "app/**"]);
    assert!(
        json.starts_with("[{\"name\":\"app/tls/ecc\",\"provider_id\":1,"),
        "{json}"
    );
    assert_eq!(json.matches("\"name\"").count(), 2, "{json}");
    let json = ok(&tool, &ep, &["--json", "ping"]);
    assert_eq!(json, "{\"wire_protocol_version\":\"1.0\"}\n");
}

#[test]
fn the_remote_endpoint_serves_the_same_commands_with_its_own_keys() {
    let p1 = common::p1::start("");
    let tool = our_parsec_tool();
    let local = format!("unix:{}", p1.daemon.socket.display());
    let data = tempfile::tempdir().unwrap();
    let remote = |args: &[&str]| {
        Command::new(&tool)
            .args(args)
            .env("PARSEC_SERVICE_ENDPOINT", &p1.url)
            .env("PARSEC1_SERVICE_KEY", p1.service_key.to_string())
            .env("XDG_DATA_HOME", data.path())
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let out = remote(&["create-ecc-key", "-k", "remote-key"]);
    assert!(out.status.success(), "{out:?}\n{}", p1.daemon.stderr());
    // The session was kept in a file under the user's data directory, mode 0600.
    let sessions: Vec<_> = std::fs::read_dir(data.path().join("parsec-rs/sessions"))
        .unwrap()
        .collect();
    assert_eq!(sessions.len(), 1);
    let out = remote(&["sign", "-k", "remote-key", "over Parsec.1"]);
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(remote(&["list-keys"]).stdout).unwrap();
    assert!(listed.contains("* remote-key ("), "{listed}");
    // The local application parsec-tool (Direct) does not see the remote key, and the remote
    // session does not see a local one.
    ok(&tool, &local, &["create-ecc-key", "-k", "local-key"]);
    assert!(!ok(&tool, &local, &["list-keys"]).contains("remote-key"));
    let listed = String::from_utf8(remote(&["list-keys"]).stdout).unwrap();
    assert!(!listed.contains("local-key"), "{listed}");
    // Administrators' commands fail before anything is sent.
    let out = remote(&["list-clients"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be called over a Parsec.1 session"),
        "{out:?}"
    );
    // A wrong service key: refused with words, not a hang.
    let out = Command::new(&tool)
        .args(["ping"])
        .env("PARSEC_SERVICE_ENDPOINT", &p1.url)
        .env("PARSEC1_SERVICE_KEY", "nonsense")
        .env("XDG_DATA_HOME", data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PARSEC1_SERVICE_KEY"),
        "{out:?}"
    );
}
