//! The browser client in a real Chromium: Debian's `/usr/bin/chromium`, headless, driven by
//! playwright-core (crates/web/tests/browser_driver.cjs) through the example page
//! examples/browser/index.html, against the daemon's Parsec.1 front over HTTPS (a test CA
//! trusted by the browser profile's NSS database) and over plain HTTP on 127.0.0.1. Every page
//! is of another origin than the endpoint, so each call passes a CORS preflight; a page of an
//! origin the service does not allow is refused. The signatures the page shows are checked with
//! openssl against the public key the page exported; a screenshot of the signed page is kept in
//! target/test-artifacts/.
//!
//! Needs PARSEC_WEB_BUNDLE (the built parsec1.js, crates/web/build.sh) and PARSEC_WEB_TOOLS
//! (node_modules with playwright-core, crates/web/tools/install.sh); ./test.sh sets both.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use common::tls::TestCa;
use serde_json::Value;

fn env_path(name: &str) -> PathBuf {
    let value = std::env::var_os(name).unwrap_or_else(|| {
        panic!("{name} is not set: run ./test.sh, which builds the browser client and its tools")
    });
    PathBuf::from(value)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A browser profile home whose NSS database trusts `ca` for TLS servers.
fn profile_trusting(home: &Path, ca: &Path) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
    run(Command::new("certutil")
        .args(["-A", "-d", &db, "-t", "C,,", "-n", "parsec test CA", "-i"])
        .arg(ca));
}

/// DER of one INTEGER holding the unsigned big-endian `n`.
fn der_integer(n: &[u8]) -> Vec<u8> {
    let mut n = n;
    while n.len() > 1 && n[0] == 0 && n[1] < 0x80 {
        n = &n[1..];
    }
    let pad = n[0] >= 0x80;
    let mut out = vec![0x02, (n.len() + usize::from(pad)) as u8];
    if pad {
        out.push(0);
    }
    out.extend_from_slice(n);
    out
}

/// Whether openssl verifies the ECDSA P-256 / SHA-256 signature `r ‖ s` of `message` with the
/// uncompressed point `public`.
fn openssl_verifies(dir: &Path, public: &[u8], signature: &[u8], message: &[u8]) -> bool {
    assert_eq!(public.len(), 65, "an uncompressed P-256 point");
    assert_eq!(signature.len(), 64, "r ‖ s");
    // SubjectPublicKeyInfo of an id-ecPublicKey on prime256v1: a fixed prefix, then the point.
    let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(public);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        BASE64.encode(&spki)
    );
    let mut body = der_integer(&signature[..32]);
    body.extend(der_integer(&signature[32..]));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    let (key, sig, msg) = (
        dir.join("pub.pem"),
        dir.join("sig.der"),
        dir.join("msg.txt"),
    );
    std::fs::write(&key, pem).unwrap();
    std::fs::write(&sig, der).unwrap();
    std::fs::write(&msg, message).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&key)
        .arg("-signature")
        .arg(&sig)
        .arg(&msg)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_default()
}

/// Checks a scenario that signed: the signature verifies with the exported key, and not for
/// another text.
fn check_signed(name: &str, r: &Value, dir: &Path) {
    assert_eq!(text(r, "state"), "signed", "{name}: {r}");
    assert_eq!(text(r, "error"), "", "{name}: {r}");
    let signature = BASE64.decode(text(r, "signature")).unwrap();
    let public = BASE64.decode(text(r, "publicKey")).unwrap();
    let message = text(r, "message").as_bytes();
    assert!(
        openssl_verifies(dir, &public, &signature, message),
        "{name}: openssl does not verify the page's signature: {r}"
    );
    assert!(
        !openssl_verifies(dir, &public, &signature, b"another text"),
        "{name}: the signature verifies another text too"
    );
}

/// Runs the Chromium driver with `config` (written into `dir`); what the page showed.
fn run_driver(dir: &Path, config: &Value) -> Value {
    let path = dir.join("driver.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser_driver.cjs");
    let out = Command::new("node")
        .arg(&driver)
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "driver failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("driver output: {e}: {stderr}"))
}

#[test]
fn the_example_page_signs_in_chromium_over_https_and_http() {
    let bundle = env_path("PARSEC_WEB_BUNDLE");
    let modules = env_path("PARSEC_WEB_TOOLS");
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "browser-test-ca");
    let server = ca.issue(dir.path(), "server");
    let (http_page_port, https_page_port) = (free_port(), free_port());
    let p1 = common::p1::start(&format!(
        "{}allowed_origins = [\"https://localhost:{https_page_port}\", \
         \"http://127.0.0.1:{http_page_port}\"]\n",
        server.parsec1_keys()
    ));
    let home = dir.path().join("home");
    profile_trusting(&home, &ca.cert);
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("browser-signature.png");
    let _ = std::fs::remove_file(&screenshot);
    let other_key = parsec1::PrivateKey::generate(2048)
        .unwrap()
        .public_key()
        .long_address()
        .unwrap();
    let config = serde_json::json!({
        "modules": modules,
        "page_dir": Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/browser"),
        "bundle": bundle,
        "home": home,
        "http_page_port": http_page_port,
        "https_page_port": https_page_port,
        "server_cert": server.cert,
        "server_key": server.key,
        "http_endpoint": p1.url,
        "https_endpoint": p1.https.clone().unwrap(),
        "service_key": p1.service_key.to_string(),
        "other_key": other_key.to_string(),
        "dead_endpoint": format!("http://127.0.0.1:{}/api/p1", free_port()),
        "screenshot": screenshot,
    });
    let results = run_driver(dir.path(), &config);

    // Over HTTPS and over HTTP, the page signs; openssl checks each signature.
    for name in [
        "https",
        "http",
        "http_again",
        "tab_a",
        "tab_b",
        "password",
        "password_again",
    ] {
        check_signed(name, &results[name], dir.path());
    }
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a screenshot of the signed page"
    );
    // The same profile resumes its stored session: same session, same key.
    let (first, again) = (&results["http"], &results["http_again"]);
    assert_eq!(first["sessionId"], again["sessionId"], "{first} {again}");
    assert_eq!(first["publicKey"], again["publicKey"]);
    // Two tabs opening one stored session at once share it (Web Locks serialise them).
    let (a, b) = (&results["tab_a"], &results["tab_b"]);
    assert_eq!(a["sessionId"], b["sessionId"], "{a} {b}");
    assert_eq!(a["publicKey"], b["publicKey"]);
    // Another origin's profile has a session (and so a key) of its own.
    assert_ne!(results["https"]["sessionId"], first["sessionId"]);
    assert_ne!(results["https"]["publicKey"], first["publicKey"]);
    // Without a password the session is kept in clear (uparsecjs's keys); with one, only a
    // sealed blob is stored, and the wrong password is refused in words.
    let stored = results["http_storage"].to_string();
    assert!(
        stored.contains(".p1.TSK") && stored.contains(".p1.SID"),
        "{stored}"
    );
    let sealed = results["password_storage"].to_string();
    assert!(
        sealed.contains("sealed") && !sealed.contains(".p1.TSK"),
        "{sealed}"
    );
    assert_eq!(
        results["password"]["sessionId"], results["password_again"]["sessionId"],
        "the encrypted session is resumed with its password"
    );
    let wrong = &results["password_wrong"];
    assert_eq!(text(wrong, "state"), "error", "{wrong}");
    assert!(text(wrong, "error").contains("wrong password"), "{wrong}");

    // Errors in words.
    let wrong_key = &results["wrong_key"];
    assert_eq!(text(wrong_key, "state"), "error", "{wrong_key}");
    assert!(
        text(wrong_key, "error").starts_with("Wrong service key"),
        "{wrong_key}"
    );
    assert_eq!(text(wrong_key, "signature"), "");
    // Both failures look alike to a page (fetch says only "Failed to fetch"); the browser's
    // console tells them apart: nothing listening, and a preflight the service refused.
    let console = |name: &str| results[name]["console"].to_string();
    let unreachable = &results["unreachable"];
    assert!(
        text(unreachable, "error").starts_with("Service unreachable"),
        "{unreachable}"
    );
    assert!(
        console("unreachable").contains("ERR_CONNECTION_REFUSED"),
        "{unreachable}"
    );
    // A page of an origin the service does not list: the preflight fails, nothing is sent.
    let refused = &results["origin_refused"];
    assert!(
        text(refused, "error").starts_with("Service unreachable"),
        "{refused}"
    );
    assert!(
        console("origin_refused").contains("CORS policy"),
        "{refused}"
    );
    for name in ["https", "http", "wrong_key"] {
        assert!(!console(name).contains("CORS"), "{name}: {}", console(name));
    }
    // The daemon still serves everyone else.
    assert!(p1.daemon.stderr().contains("Parsec.1 over HTTPS"));
}

#[test]
fn the_cors_preflight_admits_only_the_configured_origins() {
    let p1 = common::p1::start("allowed_origins = [\"https://app.example\"]\n");
    let preflight = |origin: &str| {
        p1.http(
            format!(
                "OPTIONS /api/p1 HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\n\
                 Access-Control-Request-Method: POST\r\n\
                 Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n",
                p1.authority()
            )
            .as_bytes(),
        )
        .to_ascii_lowercase()
    };
    let allowed = preflight("https://app.example");
    assert!(
        allowed.contains("access-control-allow-origin: https://app.example"),
        "{allowed}"
    );
    assert!(
        allowed.contains("access-control-allow-methods"),
        "{allowed}"
    );
    assert!(allowed.contains("content-type"), "{allowed}");
    let other = preflight("https://evil.example");
    assert!(!other.contains("access-control-allow-origin"), "{other}");
}

/// Parsec 1.2 in the page: the service is trusted by the origin of its Universa contract,
/// which the page checks (signatures, origin, roles) and asks the test's Universa nodes about
/// (a double of four loopback nodes speaking the node protocol, with CORS). Approved: the page
/// signs; revoked, or another origin: refused in words.
#[test]
fn the_example_page_trusts_a_service_by_its_contract() {
    use parsec1::universa::{self, NewContract, ParsecSection, Sealed};
    let bundle = env_path("PARSEC_WEB_BUNDLE");
    let modules = env_path("PARSEC_WEB_TOOLS");
    let dir = tempfile::tempdir().unwrap();
    let net = common::universa::UniversaNet::start(4);
    let p1 = common::p1::start("");
    let owner = parsec1::PrivateKey::generate(2048).unwrap();
    let now = parsec_boss::Time::now();
    let spec = NewContract {
        parsec: ParsecSection {
            service_name: "parsec-rs under a browser test".into(),
            short_service_name: None,
            service_description: None,
            service_key_addresses: vec![(p1.service_key.clone(), false)],
            http: vec![p1.url.clone()],
            https: Vec::new(),
        },
        owner: owner.public_key().long_address().unwrap(),
        uns2_name: None,
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    let bytes = universa::create(&spec, &owner).unwrap();
    let contract_path = dir.path().join("service.unicon");
    std::fs::write(&contract_path, &bytes).unwrap();
    let config = std::fs::read_to_string(&p1.daemon.config_path).unwrap();
    p1.daemon
        .reload(&format!("{config}\nservice_contract = {contract_path:?}\n"));
    let root = Sealed::read(&bytes).unwrap();
    net.set_state(&root.hash_id, "APPROVED");

    let page = |origin: &[u8]| -> Value {
        let config = serde_json::json!({
            "modules": modules,
            "page_dir": Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/browser"),
            "bundle": bundle,
            "home": dir.path(),
            "http_page_port": free_port(),
            "http_endpoint": p1.url,
            "contract": parsec1::hash_id::to_base64(origin),
            "topology_file": net.topology_file,
        });
        run_driver(dir.path(), &config)["contract"].clone()
    };

    // Approved on the network: the page trusts the contract's key and signs.
    let approved = page(&root.hash_id);
    check_signed("contract", &approved, dir.path());
    let asked: usize = net.nodes.iter().map(|n| n.connects()).sum();
    assert!(asked >= 2, "the page asked at least the quorum: {asked}");
    // Another origin: refused before the network is asked.
    let other = page(&parsec1::hash_id::hash_id(b"another contract"));
    assert_eq!(text(&other, "state"), "error", "{other}");
    assert!(text(&other, "error").starts_with("Not trusted"), "{other}");
    assert!(text(&other, "error").contains("wrong origin"), "{other}");
    // Revoked on the network: refused, with the reason.
    net.set_state(&root.hash_id, "REVOKED");
    let revoked = page(&root.hash_id);
    assert_eq!(text(&revoked, "state"), "error", "{revoked}");
    assert!(
        text(&revoked, "error").starts_with("Not trusted"),
        "{revoked}"
    );
    assert!(text(&revoked, "error").contains("revoked"), "{revoked}");
    assert_eq!(text(&revoked, "signature"), "");
}
