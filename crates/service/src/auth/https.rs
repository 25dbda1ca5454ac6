//! OpenID Connect discovery over HTTPS: the issuer's
//! `/.well-known/openid-configuration`, then the JWK set its `jwks_uri` names. Only `https://`
//! is fetched, with the system's roots (and `SSL_CERT_FILE`/`SSL_CERT_DIR`, which the system
//! store reader honours); every answer is capped, and a redirect is not followed.

use std::sync::Arc;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::token::MAX_KEY_SET_BYTES;

/// The issuer's JWK set, found through its discovery document, whose `issuer` must be the
/// configured one (OpenID Connect Discovery 1.0, section 4.3).
pub async fn fetch_jwks(issuer: &str) -> Result<Vec<u8>, String> {
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let connector = connector()?;
    let document = get(&connector, &discovery).await?;
    let document: serde_json::Value =
        serde_json::from_slice(&document).map_err(|e| format!("{discovery}: not JSON: {e}"))?;
    if document.get("issuer").and_then(|i| i.as_str()) != Some(issuer) {
        return Err(format!(
            "{discovery}: its `issuer` is not {issuer}, so its keys are not that issuer's"
        ));
    }
    let jwks_uri = document
        .get("jwks_uri")
        .and_then(|u| u.as_str())
        .ok_or_else(|| format!("{discovery}: no `jwks_uri`"))?;
    get(&connector, jwks_uri).await
}

/// The body of a `GET` of an `https://` URL, answered 200 within [`MAX_KEY_SET_BYTES`].
async fn get(connector: &tokio_rustls::TlsConnector, url: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("`{url}` is not an https:// URL");
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let (name, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']').ok_or_else(bad)?;
            (host, rest.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = port.map_or(Ok(443), str::parse::<u16>).map_err(|_| bad())?;
    let server_name =
        rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|_| bad())?;
    let tcp = tokio::net::TcpStream::connect((name, port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let tls = connector
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("{url}: TLS: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status() != hyper::StatusCode::OK {
        return Err(format!("{url}: answered {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_KEY_SET_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(body.to_bytes().to_vec())
}

fn connector() -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if roots.is_empty() {
        return Err("no trusted root certificates on this system".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
