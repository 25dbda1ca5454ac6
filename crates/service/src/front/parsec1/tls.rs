//! HTTPS on the Parsec.1 front (`[parsec1] tls_listen`): rustls with aws-lc, the certificate
//! chain and key read from PEM files at start-up and again on SIGHUP.
//!
//! The protocol does not need TLS: clients check the service's key themselves. Browsers do: a
//! page served over HTTPS may only call HTTPS endpoints.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// Largest PEM file read (a chain of a few certificates is a few KiB).
const MAX_PEM: u64 = 1024 * 1024;

/// The certificate and key served, replaced by [`Certificates::reload`].
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// The HTTPS endpoint's certificate and key, and where they are read from.
pub struct Certificates {
    current: Arc<Current>,
    certificate: PathBuf,
    private_key: PathBuf,
}

impl Certificates {
    /// Reads the pair of `config`; an error says which file and why.
    pub fn load(config: &TlsConfig) -> anyhow::Result<Certificates> {
        let pair = read_pair(&config.certificate, &config.private_key)?;
        Ok(Certificates {
            current: Arc::new(Current(RwLock::new(Arc::new(pair)))),
            certificate: config.certificate.clone(),
            private_key: config.private_key.clone(),
        })
    }

    /// The acceptor of the HTTPS listener: TLS 1.2 and 1.3, HTTP/1.1, no client certificates,
    /// always the pair loaded last.
    pub fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Reads the files again (SIGHUP). On an error the pair served so far is kept.
    pub fn reload(&self) {
        match read_pair(&self.certificate, &self.private_key) {
            Ok(pair) => {
                *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
                tracing::info!(
                    "Parsec.1 HTTPS: certificate {} reloaded",
                    self.certificate.display()
                );
            }
            Err(e) => tracing::error!("Parsec.1 HTTPS: keeping the certificate served: {e:#}"),
        }
    }
}

fn read_capped(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PEM + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if bytes.len() as u64 > MAX_PEM {
        bail!(
            "the {what} {} is larger than {MAX_PEM} bytes",
            path.display()
        );
    }
    Ok(bytes)
}

/// The chain and key of two PEM files, checked to belong together.
fn read_pair(certificate: &Path, private_key: &Path) -> anyhow::Result<CertifiedKey> {
    let pem = read_capped(certificate, "TLS certificate (tls_certificate)")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "the TLS certificate {} is not PEM (tls_certificate)",
                certificate.display()
            )
        })?;
    if chain.is_empty() {
        bail!(
            "the TLS certificate {} holds no CERTIFICATE block (tls_certificate)",
            certificate.display()
        );
    }
    let pem = zeroize::Zeroizing::new(read_capped(
        private_key,
        "TLS private key (tls_private_key)",
    )?);
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        anyhow::anyhow!(
            "the TLS private key {} holds no usable PEM private key (tls_private_key): {e}",
            private_key.display()
        )
    })?;
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).map_err(|e| {
        anyhow::anyhow!(
            "the TLS private key {} cannot sign (tls_private_key): {e}",
            private_key.display()
        )
    })?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().map_err(|e| {
        anyhow::anyhow!(
            "the TLS private key {} does not match the certificate {} ({e})",
            private_key.display(),
            certificate.display()
        )
    })?;
    Ok(pair)
}
