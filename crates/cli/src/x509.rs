//! Certificate requests and self-signed certificates signed by the service (RFC 2986,
//! RFC 5280), and reading key files for `import-key`.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parsec_psa::{Algorithm, AsymmetricSignature, EccFamily, Hash, KeyType, Secret, SignHash};
use parsec_rs_client::der::{self, oids, tag};
use parsec_rs_client::{Client, Error};

use crate::args::Subject;

/// The X.509 signature algorithm for a key's policy, and the signing call to make.
struct Scheme {
    alg: AsymmetricSignature,
    hash: Hash,
    identifier: Vec<u8>,
}

fn unsupported(name: &str, why: impl Into<String>) -> Error {
    Error::UnsuitableKey {
        key: name.to_string(),
        why: why.into(),
    }
}

fn scheme(client: &Client, name: &str) -> Result<Scheme, Error> {
    let attributes = client.key_info(name)?.attributes;
    let Algorithm::AsymmetricSignature(alg) = attributes.policy.permitted_algorithms else {
        return Err(unsupported(
            name,
            "not an asymmetric signing key, which certificates need",
        ));
    };
    let pick = |hash_alg: SignHash, default: Hash| match hash_alg {
        SignHash::Specific(h) => h,
        SignHash::Any => default,
    };
    let null = der::tlv(tag::NULL, &[]);
    match alg {
        AsymmetricSignature::RsaPkcs1v15Sign { hash_alg } => {
            let hash = pick(hash_alg, Hash::Sha256);
            let oid = match hash {
                Hash::Sha256 => oids::SHA256_WITH_RSA,
                Hash::Sha384 => oids::SHA384_WITH_RSA,
                Hash::Sha512 => oids::SHA512_WITH_RSA,
                h => {
                    return Err(unsupported(
                        name,
                        format!("{h:?} is not used in certificates"),
                    ))
                }
            };
            Ok(Scheme {
                alg: AsymmetricSignature::RsaPkcs1v15Sign {
                    hash_alg: SignHash::Specific(hash),
                },
                hash,
                identifier: der::sequence(&[&der::oid(oid), &null]),
            })
        }
        AsymmetricSignature::RsaPss { hash_alg } => {
            let hash = pick(hash_alg, Hash::Sha256);
            let (hash_oid, salt) = match hash {
                Hash::Sha256 => (oids::SHA256, 32u8),
                Hash::Sha384 => (oids::SHA384, 48),
                Hash::Sha512 => (oids::SHA512, 64),
                h => {
                    return Err(unsupported(
                        name,
                        format!("{h:?} is not used in certificates"),
                    ))
                }
            };
            let hash_id = der::sequence(&[&der::oid(hash_oid), &null]);
            let params = der::sequence(&[
                &der::tlv(0xA0, &hash_id),
                &der::tlv(0xA1, &der::sequence(&[&der::oid(oids::MGF1), &hash_id])),
                &der::tlv(0xA2, &der::unsigned_integer(&[salt])),
            ]);
            Ok(Scheme {
                alg: AsymmetricSignature::RsaPss {
                    hash_alg: SignHash::Specific(hash),
                },
                hash,
                identifier: der::sequence(&[&der::oid(oids::RSASSA_PSS), &params]),
            })
        }
        AsymmetricSignature::Ecdsa { hash_alg } => {
            let KeyType::EccKeyPair {
                curve_family: EccFamily::SecpR1,
            } = attributes.key_type
            else {
                return Err(unsupported(name, "certificates need a SecpR1 (NIST) curve"));
            };
            let default = match attributes.bits {
                384 => Hash::Sha384,
                521 => Hash::Sha512,
                _ => Hash::Sha256,
            };
            let hash = pick(hash_alg, default);
            let oid = match hash {
                Hash::Sha256 => oids::ECDSA_WITH_SHA256,
                Hash::Sha384 => oids::ECDSA_WITH_SHA384,
                Hash::Sha512 => oids::ECDSA_WITH_SHA512,
                h => {
                    return Err(unsupported(
                        name,
                        format!("{h:?} is not used in certificates"),
                    ))
                }
            };
            Ok(Scheme {
                alg: AsymmetricSignature::Ecdsa {
                    hash_alg: SignHash::Specific(hash),
                },
                hash,
                identifier: der::sequence(&[&der::oid(oid)]),
            })
        }
        other => Err(unsupported(
            name,
            format!("{other:?} is not supported for certificates"),
        )),
    }
}

/// The subject Name: one RDN per field given, in upstream's order.
fn name(subject: &Subject) -> Vec<u8> {
    // The last flag: PrintableString required (countryName, serialNumber: RFC 5280 appendix
    // A); the others are UTF8String, as RFC 5280 recommends.
    let fields: [(&[u64], &Option<String>, bool); 7] = [
        (oids::COMMON_NAME, &subject.common_name, false),
        (
            oids::ORGANIZATIONAL_UNIT,
            &subject.organizational_unit,
            false,
        ),
        (oids::ORGANIZATION, &subject.organization, false),
        (oids::LOCALITY, &subject.locality, false),
        (oids::STATE, &subject.state, false),
        (oids::COUNTRY, &subject.country, true),
        (oids::SERIAL_NUMBER, &subject.serial_number, true),
    ];
    let rdns: Vec<Vec<u8>> = fields
        .iter()
        .filter_map(|(oid, value, printable_required)| {
            let value = value.as_ref()?;
            // A value PrintableString cannot hold goes as UTF8String rather than as bad DER.
            let string_tag = if *printable_required && value.chars().all(printable) {
                tag::PRINTABLE_STRING
            } else {
                tag::UTF8_STRING
            };
            let atv = der::sequence(&[&der::oid(oid), &der::tlv(string_tag, value.as_bytes())]);
            Some(der::constructed(tag::SET, &[&atv]))
        })
        .collect();
    let parts: Vec<&[u8]> = rdns.iter().map(Vec::as_slice).collect();
    der::sequence(&parts)
}

/// PrintableString's characters (X.680 §41.4).
fn printable(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// Whether no field of the subject is given (then SANs must be critical, RFC 5280 §4.2.1.6).
fn empty_subject(subject: &Subject) -> bool {
    [
        &subject.common_name,
        &subject.organizational_unit,
        &subject.organization,
        &subject.locality,
        &subject.state,
        &subject.country,
        &subject.serial_number,
    ]
    .iter()
    .all(|f| f.is_none())
}

/// The subjectAltName extension, if any names are given: IP addresses as iPAddress, other
/// names as dNSName (which must be non-empty ASCII).
fn san_extension(subject: &Subject) -> Result<Option<Vec<u8>>, Error> {
    if subject.subject_alternative_name.is_empty() {
        return Ok(None);
    }
    let names = subject
        .subject_alternative_name
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Ok(der::tlv(0x87, &ip.octets())),
            Ok(IpAddr::V6(ip)) => Ok(der::tlv(0x87, &ip.octets())),
            Err(_) if !n.is_empty() && n.is_ascii() && !n.contains(char::is_whitespace) => {
                Ok(der::tlv(0x82, n.as_bytes()))
            }
            Err(_) => Err(Error::InvalidInput(format!(
                "--san `{n}`: a DNS name is ASCII without spaces (IDNs in their xn-- form)"
            ))),
        })
        .collect::<Result<Vec<Vec<u8>>, Error>>()?;
    let parts: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    let general_names = der::sequence(&parts);
    let oid = der::oid(oids::SUBJECT_ALT_NAME);
    let value = der::tlv(tag::OCTET_STRING, &general_names);
    Ok(Some(if empty_subject(subject) {
        der::sequence(&[&oid, &der::tlv(tag::BOOLEAN, &[0xFF]), &value])
    } else {
        der::sequence(&[&oid, &value])
    }))
}

/// Signs `tbs` with the key and wraps it: `SEQUENCE { tbs, algorithm, BIT STRING signature }`.
fn signed(client: &Client, key: &str, scheme: &Scheme, tbs: &[u8]) -> Result<Vec<u8>, Error> {
    let digest = parsec_rs_client::easy::digest_of(scheme.hash, tbs)?;
    let mut signature = client.psa_sign_hash(key, &digest, scheme.alg)?;
    if scheme.alg.is_ecc() {
        signature = der::ecdsa_signature(&signature);
    }
    Ok(der::sequence(&[
        tbs,
        &scheme.identifier,
        &der::bit_string(&signature),
    ]))
}

/// A PKCS#10 certificate request for the key, signed by the service (PEM).
pub fn create_csr(client: &Client, key: &str, subject: &Subject) -> Result<String, Error> {
    let scheme = scheme(client, key)?;
    let spki = client.public_key(key)?.spki;
    let attributes = match san_extension(subject)? {
        Some(ext) => {
            let extensions = der::sequence(&[&ext]);
            let attribute = der::sequence(&[
                &der::oid(oids::EXTENSION_REQUEST),
                &der::constructed(tag::SET, &[&extensions]),
            ]);
            der::tlv(0xA0, &attribute)
        }
        None => der::tlv(0xA0, &[]),
    };
    let info = der::sequence(&[
        &der::unsigned_integer(&[0]),
        &name(subject),
        &spki,
        &attributes,
    ]);
    Ok(der::pem(
        "CERTIFICATE REQUEST",
        &signed(client, key, &scheme, &info)?,
    ))
}

/// A self-signed X.509 v3 certificate for the key, valid from now for `days` (PEM).
pub fn create_certificate(
    client: &Client,
    key: &str,
    subject: &Subject,
    days: u32,
) -> Result<String, Error> {
    let scheme = scheme(client, key)?;
    let spki = client.public_key(key)?.spki;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // RFC 5280's latest time, 9999-12-31 23:59:59 UTC.
    let not_after = now
        .saturating_add(u64::from(days) * 86_400)
        .min(253_402_300_799);
    let mut serial = client
        .psa_generate_random(16)
        .ok()
        .map_or_else(|| now.to_be_bytes().to_vec(), |s| s.expose().to_vec());
    serial[0] &= 0x7F; // positive
    serial[0] |= 0x01; // and no leading zero byte
    let name = name(subject);
    let mut extensions: Vec<Vec<u8>> = Vec::new();
    if let Some(san) = san_extension(subject)? {
        extensions.push(san);
    }
    let mut tbs_parts: Vec<Vec<u8>> = vec![
        der::tlv(0xA0, &der::unsigned_integer(&[2])),
        der::unsigned_integer(&serial),
        scheme.identifier.clone(),
        name.clone(),
        der::sequence(&[&time(now), &time(not_after)]),
        name,
        spki,
    ];
    if !extensions.is_empty() {
        let parts: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
        tbs_parts.push(der::tlv(0xA3, &der::sequence(&parts)));
    }
    let parts: Vec<&[u8]> = tbs_parts.iter().map(Vec::as_slice).collect();
    let tbs = der::sequence(&parts);
    Ok(der::pem(
        "CERTIFICATE",
        &signed(client, key, &scheme, &tbs)?,
    ))
}

/// UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
fn time(unix: u64) -> Vec<u8> {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if year < 2050 {
        let text = format!("{:02}{month:02}{day:02}{h:02}{m:02}{s:02}Z", year % 100);
        der::tlv(tag::UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{year:04}{month:02}{day:02}{h:02}{m:02}{s:02}Z");
        der::tlv(tag::GENERALIZED_TIME, text.as_bytes())
    }
}

/// An X9.62 DER ECDSA signature as PSA's `r ‖ s` for a curve of `bits`.
pub fn ecdsa_raw(der_signature: &[u8], bits: u32) -> Option<Vec<u8>> {
    let size = (bits as usize).div_ceil(8);
    let mut outer = Reader::new(der_signature);
    let mut seq = Reader::new(outer.take(tag::SEQUENCE)?);
    outer.end()?;
    let mut out = Vec::with_capacity(2 * size);
    for _ in 0..2 {
        let int = seq.take(tag::INTEGER)?;
        let skip = int.iter().take_while(|b| **b == 0).count();
        let digits = &int[skip..];
        if digits.len() > size {
            return None;
        }
        out.extend(std::iter::repeat_n(0, size - digits.len()));
        out.extend_from_slice(digits);
    }
    seq.end()?;
    Some(out)
}

/// A key read from a file, in the PSA import format.
pub struct ParsedKey {
    pub key_type: KeyType,
    /// 0: the service takes the size from the data.
    pub bits: u32,
    pub data: Secret,
}

/// Reads a PEM or DER key: SubjectPublicKeyInfo, PKCS#1 RSA public or private key, PKCS#8
/// private key, or a SEC 1 EC private key.
pub fn parse_key_file(bytes: &[u8]) -> Result<ParsedKey, Error> {
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

/// Reads DER elements in order (definite lengths only, as DER requires).
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// The contents of the next element if its tag is `tag`.
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&t, rest) = self.rest.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (contents, after) = rest.split_at(len);
        self.rest = after;
        Some(contents)
    }

    fn end(&self) -> Option<()> {
        self.rest.is_empty().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_then_generalized() {
        // 2026-12-05 16:00:13 UTC.
        assert_eq!(&time(1_796_486_413)[2..], b"261205160013Z");
        assert_eq!(time(0)[2..], *b"700101000000Z");
        // 2050-01-01 00:00:00 UTC.
        assert_eq!(&time(2_524_608_000)[2..], b"20500101000000Z");
    }

    #[test]
    fn ecdsa_signatures_round_trip() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80;
        raw[31] = 5;
        raw[32] = 0;
        raw[33] = 7;
        let der_sig = der::ecdsa_signature(&raw);
        assert_eq!(ecdsa_raw(&der_sig, 256).unwrap(), raw);
        assert!(ecdsa_raw(&der_sig[..der_sig.len() - 1], 256).is_none());
        assert!(ecdsa_raw(&der_sig, 128).is_none());
    }
}
