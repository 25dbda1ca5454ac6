//! A test CA made by openssl, and server certificates it signs, for the HTTPS endpoint of the
//! Parsec.1 front (rustls and browsers refuse a self-signed server certificate even when it is
//! trusted, so there is always a CA).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA: its certificate and key (PEM files).
pub struct TestCa {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A server certificate and its key (PEM files).
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

const NEW_P256_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

impl TestCa {
    /// A new CA named `name`, its files in `dir` (`<name>.pem`, `<name>-key.pem`).
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}-key.pem"));
        let subject = format!("/CN={name}");
        let mut args = vec!["req", "-x509"];
        args.extend(NEW_P256_KEY);
        args.extend([
            "-keyout",
            text(&key),
            "-out",
            text(&cert),
            "-days",
            "2",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&args);
        TestCa { cert, key }
    }

    /// A certificate for 127.0.0.1 and localhost signed by this CA, as `<name>.pem` and
    /// `<name>-key.pem` in `dir`.
    pub fn issue(&self, dir: &Path, name: &str) -> ServerCert {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}-key.pem"));
        let csr = dir.join(format!("{name}.csr"));
        let ext = dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let mut args = vec!["req"];
        args.extend(NEW_P256_KEY);
        args.extend([
            "-keyout",
            text(&key),
            "-out",
            text(&csr),
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(&args);
        openssl(&[
            "x509",
            "-req",
            "-in",
            text(&csr),
            "-CA",
            text(&self.cert),
            "-CAkey",
            text(&self.key),
            "-CAcreateserial",
            "-out",
            text(&cert),
            "-days",
            "2",
            "-extfile",
            text(&ext),
        ]);
        ServerCert { cert, key }
    }
}

impl ServerCert {
    /// The `[parsec1]` keys serving this certificate on a free loopback port.
    pub fn parsec1_keys(&self) -> String {
        format!(
            "tls_listen = \"127.0.0.1:0\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
            self.cert.display(),
            self.key.display()
        )
    }
}
