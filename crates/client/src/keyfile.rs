//! Key files as `openssl` and others write them, read into the PSA import format: PEM or
//! DER; SubjectPublicKeyInfo, PKCS#1 RSA public and private keys, PKCS#8 private keys and
//! SEC 1 EC private keys. The bytes come from a file the user names: nothing here panics or
//! allocates beyond the input, and secrets are held in [`Secret`]s.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parsec_psa::{EccFamily, KeyType, Secret};

use crate::der::{self, oids, tag, Reader};
use crate::Error;

/// A key read from a file, in the PSA import format.
pub struct ParsedKey {
    /// The key's type, as its file says.
    pub key_type: KeyType,
    /// 0: the service takes the size from the data.
    pub bits: u32,
    /// The key in the PSA import format of its type.
    pub data: Secret,
}

/// Reads a PEM or DER key: SubjectPublicKeyInfo, PKCS#1 RSA public or private key, PKCS#8
/// private key, or a SEC 1 EC private key.
pub fn parse(bytes: &[u8]) -> Result<ParsedKey, Error> {
    let bad = |why: &str| Error::InvalidInput(format!("not a key file this tool reads: {why}"));
    let Some(text) = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.contains("-----BEGIN "))
    else {
        return parse_der(None, bytes).ok_or_else(|| bad("not DER of a known key form"));
    };
    // Every PEM block in turn (`openssl ecparam -genkey` writes EC PARAMETERS first).
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or_else(|| bad("bad PEM header"))?;
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end = body.find("-----END ").ok_or_else(|| bad("no PEM end"))?;
        let b64 = zeroize::Zeroizing::new(
            body[..end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        );
        let der = Secret::new(
            BASE64
                .decode(b64.as_bytes())
                .map_err(|_| bad("bad Base64 in the PEM block"))?,
        );
        if let Some(key) = parse_der(Some(label), der.expose()) {
            return Ok(key);
        }
        rest = &body[end + 9..];
    }
    Err(bad(
        "expected a public key, an RSA key, a PKCS#8 key or an EC key",
    ))
}

/// A key of the form `label` names (any form without a label).
fn parse_der(label: Option<&str>, der: &[u8]) -> Option<ParsedKey> {
    let is = |l: &str| label.is_none_or(|label| label == l);
    if is("PUBLIC KEY") {
        if let Some(k) = spki(der) {
            return Some(k);
        }
    }
    if is("RSA PUBLIC KEY") && rsa_public(der) {
        return Some(ParsedKey {
            key_type: KeyType::RsaPublicKey,
            bits: 0,
            data: Secret::from(der),
        });
    }
    if is("RSA PRIVATE KEY") && rsa_private(der) {
        return Some(ParsedKey {
            key_type: KeyType::RsaKeyPair,
            bits: 0,
            data: Secret::from(der),
        });
    }
    if is("PRIVATE KEY") {
        if let Some(k) = pkcs8(der) {
            return Some(k);
        }
    }
    if is("EC PRIVATE KEY") {
        return ec_private(der, None);
    }
    None
}

fn curve_of(oid_contents: &[u8]) -> Option<(EccFamily, u32)> {
    let candidates = [
        (EccFamily::SecpR1, 256),
        (EccFamily::SecpR1, 384),
        (EccFamily::SecpR1, 521),
        (EccFamily::SecpR1, 224),
        (EccFamily::SecpR1, 192),
        (EccFamily::SecpK1, 256),
        (EccFamily::BrainpoolPR1, 256),
        (EccFamily::BrainpoolPR1, 384),
        (EccFamily::BrainpoolPR1, 512),
    ];
    candidates.into_iter().find(|(family, bits)| {
        der::curve_oid(*family, *bits).is_some_and(|arcs| der::oid(arcs)[2..] == *oid_contents)
    })
}

fn oid_is(contents: &[u8], arcs: &[u64]) -> bool {
    der::oid(arcs)[2..] == *contents
}

fn spki(der_bytes: &[u8]) -> Option<ParsedKey> {
    let mut outer = Reader::new(der_bytes);
    let mut seq = Reader::new(outer.take(tag::SEQUENCE)?);
    outer.end()?;
    let mut alg = Reader::new(seq.take(tag::SEQUENCE)?);
    let bits = seq.take(tag::BIT_STRING)?;
    seq.end()?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    let alg_oid = alg.take(tag::OID)?;
    if oid_is(alg_oid, oids::RSA_ENCRYPTION) {
        return rsa_public(key).then(|| ParsedKey {
            key_type: KeyType::RsaPublicKey,
            bits: 0,
            data: Secret::from(key),
        });
    }
    if oid_is(alg_oid, oids::EC_PUBLIC_KEY) {
        let (curve_family, _) = curve_of(alg.take(tag::OID)?)?;
        return Some(ParsedKey {
            key_type: KeyType::EccPublicKey { curve_family },
            bits: 0,
            data: Secret::from(key),
        });
    }
    None
}

fn rsa_public(der_bytes: &[u8]) -> bool {
    let mut outer = Reader::new(der_bytes);
    let Some(seq) = outer.take(tag::SEQUENCE) else {
        return false;
    };
    let mut seq = Reader::new(seq);
    outer.end().is_some()
        && seq.take(tag::INTEGER).is_some()
        && seq.take(tag::INTEGER).is_some()
        && seq.end().is_some()
}

fn rsa_private(der_bytes: &[u8]) -> bool {
    let mut outer = Reader::new(der_bytes);
    let Some(seq) = outer.take(tag::SEQUENCE) else {
        return false;
    };
    let mut seq = Reader::new(seq);
    outer.end().is_some() && (0..9).all(|_| seq.take(tag::INTEGER).is_some())
}

fn pkcs8(der_bytes: &[u8]) -> Option<ParsedKey> {
    let mut outer = Reader::new(der_bytes);
    let mut seq = Reader::new(outer.take(tag::SEQUENCE)?);
    outer.end()?;
    seq.take(tag::INTEGER)?;
    let mut alg = Reader::new(seq.take(tag::SEQUENCE)?);
    let private = seq.take(tag::OCTET_STRING)?;
    let alg_oid = alg.take(tag::OID)?;
    if oid_is(alg_oid, oids::RSA_ENCRYPTION) {
        return rsa_private(private).then(|| ParsedKey {
            key_type: KeyType::RsaKeyPair,
            bits: 0,
            data: Secret::from(private),
        });
    }
    if oid_is(alg_oid, oids::EC_PUBLIC_KEY) {
        let curve = curve_of(alg.take(tag::OID)?)?;
        return ec_private(private, Some(curve));
    }
    None
}

/// SEC 1 ECPrivateKey: `SEQUENCE { 1, OCTET STRING d, [0] curve OPTIONAL, [1] point OPTIONAL }`.
fn ec_private(der_bytes: &[u8], curve: Option<(EccFamily, u32)>) -> Option<ParsedKey> {
    let mut outer = Reader::new(der_bytes);
    let mut seq = Reader::new(outer.take(tag::SEQUENCE)?);
    outer.end()?;
    seq.take(tag::INTEGER)?;
    let d = seq.take(tag::OCTET_STRING)?;
    let curve = match seq.take(0xA0) {
        Some(params) => curve_of(Reader::new(params).take(tag::OID)?)?,
        None => curve?,
    };
    Some(ParsedKey {
        key_type: KeyType::EccKeyPair {
            curve_family: curve.0,
        },
        bits: curve.1,
        data: Secret::from(d),
    })
}
