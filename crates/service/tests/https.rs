//! HTTPS on the Parsec.1 front (`[parsec1] tls_listen`, `tls_certificate`, `tls_private_key`):
//! served beside plain HTTP, the certificate pair read again on SIGHUP (a bad pair keeps the
//! one served), bad files stop start-up with the reason, and a client that stalls its TLS
//! handshake holds up no one.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::tls::TestCa;
use parsec_rs_client::{Client, Endpoint};

/// A client of `url` trusting `ca` only, with a session of its own.
fn client(p1: &common::p1::P1, url: &str, ca: &Path) -> Client {
    Client::builder()
        .endpoint(Endpoint::parse(url).unwrap())
        .service_keys(vec![p1.service_key.clone()])
        .tls_ca_file(ca)
        .session_in_memory()
        .build()
        .unwrap()
}

#[test]
fn https_beside_http_and_a_new_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestCa::new(dir.path(), "first-ca");
    let second = TestCa::new(dir.path(), "second-ca");
    let served = first.issue(dir.path(), "server");
    let p1 = common::p1::start(&served.parsec1_keys());
    let https = p1.https.clone().expect("PARSEC1_HTTPS_ENDPOINT printed");
    assert!(
        p1.daemon
            .stdout()
            .contains(&format!("PARSEC1_ENDPOINT={}", p1.url)),
        "the HTTP endpoint is printed too"
    );

    client(&p1, &https, &first.cert).ping().unwrap();
    let plain = Client::builder()
        .endpoint(Endpoint::parse(&p1.url).unwrap())
        .service_keys(vec![p1.service_key.clone()])
        .session_in_memory()
        .build()
        .unwrap();
    plain.ping().unwrap();
    let e = client(&p1, &https, &second.cert).ping().unwrap_err();
    assert!(e.to_string().contains("TLS"), "{e}");

    // The operator renews the certificate, from another CA, into the same files.
    let renewed = second.issue(dir.path(), "renewed");
    std::fs::copy(&renewed.cert, &served.cert).unwrap();
    std::fs::copy(&renewed.key, &served.key).unwrap();
    let config = std::fs::read_to_string(&p1.daemon.config_path).unwrap();
    p1.daemon.reload(&config);
    client(&p1, &https, &second.cert).ping().unwrap();
    let e = client(&p1, &https, &first.cert).ping().unwrap_err();
    assert!(e.to_string().contains("TLS"), "{e}");

    // A key that does not match the certificate: refused, the pair served is kept.
    let other = first.issue(dir.path(), "other");
    std::fs::copy(&other.key, &served.key).unwrap();
    p1.daemon.reload(&config);
    assert!(
        p1.daemon
            .stderr()
            .contains("does not match the certificate"),
        "{}",
        p1.daemon.stderr()
    );
    client(&p1, &https, &second.cert).ping().unwrap();
    plain.ping().unwrap();
}

#[test]
fn bad_certificate_files_stop_start_up_with_the_reason() {
    let run = tempfile::tempdir().unwrap();
    let ca = TestCa::new(run.path(), "ca");
    let good = ca.issue(run.path(), "good");
    let other = ca.issue(run.path(), "other");
    let garbage = run.path().join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").unwrap();
    let missing = run.path().join("missing.pem");
    let cases = [
        (&missing, &good.key, "cannot read the TLS certificate"),
        (&good.cert, &missing, "cannot read the TLS private key"),
        (&garbage, &good.key, "holds no CERTIFICATE"),
        (&good.cert, &garbage, "no usable PEM private key"),
        // A certificate where the key should be.
        (&good.cert, &good.cert, "no usable PEM private key"),
        (&good.cert, &other.key, "does not match the certificate"),
    ];
    for (i, (cert, key, reason)) in cases.into_iter().enumerate() {
        let socket = run.path().join(format!("sock{i}/parsec.sock"));
        let text = format!(
            "{}\n[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\n\
             tls_listen = \"127.0.0.1:0\"\ntls_certificate = {:?}\ntls_private_key = {:?}\n",
            common::software_config(
                &socket,
                &run.path().join(format!("state{i}")),
                common::p1::ADMIN_DIRECT
            ),
            cert.display().to_string(),
            key.display().to_string(),
        );
        let stderr = common::Daemon::start_failure(run.path(), &text, &[]);
        assert!(stderr.contains(reason), "case {i}: {stderr}");
    }
}

/// host:port of an https:// URL.
fn authority_of(url: &str) -> String {
    let rest = url.strip_prefix("https://").unwrap();
    rest.split('/').next().unwrap().to_string()
}

/// Reads until the server closes; how long that took.
fn closed_after(mut stream: TcpStream) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn a_stalled_handshake_holds_up_no_one_and_is_closed_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let served = ca.issue(dir.path(), "server");
    let p1 = common::p1::start(&format!(
        "{}header_timeout = 2\nidle_timeout = 30\n",
        served.parsec1_keys()
    ));
    let https = p1.https.clone().unwrap();
    let authority = authority_of(&https);
    // Silent connections, and one that sends half a ClientHello and stops.
    let silent: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&authority).unwrap())
        .collect();
    let mut half = TcpStream::connect(&authority).unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
        .unwrap();
    // Others are served meanwhile, over HTTPS and HTTP.
    client(&p1, &https, &ca.cert).ping().unwrap();
    let garbage = TcpStream::connect(&authority).unwrap();
    (&garbage)
        .write_all(b"POST /api/p1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(
        closed_after(garbage) < Duration::from_secs(5),
        "plain HTTP on the TLS port"
    );
    // The stalled ones are closed by the header limit (2 s), not the idle one (30 s).
    let waited = closed_after(half);
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    for s in silent {
        let waited = closed_after(s);
        assert!(waited < Duration::from_secs(10), "{waited:?}");
    }
    client(&p1, &https, &ca.cert).ping().unwrap();
}

/// HTTP and HTTPS share one set of connection limits: a client holding its share on one port
/// gets no more on the other.
#[test]
fn http_and_https_share_the_connection_limits() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let served = ca.issue(dir.path(), "server");
    let p1 = common::p1::start(&format!(
        "{}max_connections_per_address = 2\nidle_timeout = 30\nheader_timeout = 30\n",
        served.parsec1_keys()
    ));
    let https = p1.https.clone().unwrap();
    let tls_authority = authority_of(&https);
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(p1.authority()).unwrap())
        .collect();
    // Give the front time to accept and count both.
    std::thread::sleep(Duration::from_millis(300));
    let third = TcpStream::connect(&tls_authority).unwrap();
    let waited = closed_after(third);
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    client(&p1, &https, &ca.cert).ping().unwrap();
}
