//! Certificate requests and self-signed certificates signed by the service (RFC 2986,
//! RFC 5280).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use parsec_psa::{Algorithm, AsymmetricSignature, EccFamily, Hash, KeyType, SignHash};
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
}
