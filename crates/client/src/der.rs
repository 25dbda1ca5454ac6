//! The little DER that public keys, signatures and certificates need (X.690), written here
//! rather than pulled in: a writer of the few types used, and the standard key encodings.

use parsec_psa::{EccFamily, KeyAttributes, KeyType};

use crate::Error;

/// Universal tags.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0C;
    /// PrintableString.
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (and SEQUENCE OF), with the constructed bit set.
    pub const SEQUENCE: u8 = 0x30;
    /// SET (and SET OF), with the constructed bit set.
    pub const SET: u8 = 0x31;
}

/// One element: tag, length, contents.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// A SEQUENCE (or another constructed tag) of already encoded elements.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// A SEQUENCE of already encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// An INTEGER from big-endian unsigned bytes (leading zeros dropped, a zero added when the
/// top bit is set).
pub fn unsigned_integer(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let digits = &be[skip..];
    let mut contents = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        contents.push(0);
    }
    contents.extend_from_slice(digits);
    tlv(tag::INTEGER, &contents)
}

/// A BIT STRING of whole bytes.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut contents = Vec::with_capacity(bytes.len() + 1);
    contents.push(0);
    contents.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &contents)
}

/// An OBJECT IDENTIFIER from its arcs.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut contents = Vec::new();
    let mut put = |mut v: u64| {
        let mut stack = vec![(v & 0x7F) as u8];
        v >>= 7;
        while v > 0 {
            stack.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        contents.extend(stack.iter().rev());
    };
    if arcs.len() >= 2 {
        put(arcs[0] * 40 + arcs[1]);
        arcs[2..].iter().for_each(|a| put(*a));
    }
    tlv(tag::OID, &contents)
}

/// Object identifiers used in keys, signatures, names and certificate requests, as arcs
/// for [`oid`](crate::der::oid).
pub mod oids {
    /// rsaEncryption (PKCS #1), 1.2.840.113549.1.1.1.
    pub const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
    /// id-RSASSA-PSS (PKCS #1), 1.2.840.113549.1.1.10.
    pub const RSASSA_PSS: &[u64] = &[1, 2, 840, 113549, 1, 1, 10];
    /// sha256WithRSAEncryption (PKCS #1), 1.2.840.113549.1.1.11.
    pub const SHA256_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
    /// sha384WithRSAEncryption (PKCS #1), 1.2.840.113549.1.1.12.
    pub const SHA384_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 12];
    /// sha512WithRSAEncryption (PKCS #1), 1.2.840.113549.1.1.13.
    pub const SHA512_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 13];
    /// id-mgf1 (PKCS #1), 1.2.840.113549.1.1.8.
    pub const MGF1: &[u64] = &[1, 2, 840, 113549, 1, 1, 8];
    /// id-ecPublicKey (X9.62, RFC 5480), 1.2.840.10045.2.1.
    pub const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
    /// ecdsa-with-SHA256 (X9.62, RFC 5758), 1.2.840.10045.4.3.2.
    pub const ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
    /// ecdsa-with-SHA384 (X9.62, RFC 5758), 1.2.840.10045.4.3.3.
    pub const ECDSA_WITH_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
    /// ecdsa-with-SHA512 (X9.62, RFC 5758), 1.2.840.10045.4.3.4.
    pub const ECDSA_WITH_SHA512: &[u64] = &[1, 2, 840, 10045, 4, 3, 4];
    /// id-sha256 (NIST), 2.16.840.1.101.3.4.2.1.
    pub const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
    /// id-sha384 (NIST), 2.16.840.1.101.3.4.2.2.
    pub const SHA384: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 2];
    /// id-sha512 (NIST), 2.16.840.1.101.3.4.2.3.
    pub const SHA512: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 3];
    /// secp192r1 (prime192v1, NIST P-192), 1.2.840.10045.3.1.1.
    pub const SECP192R1: &[u64] = &[1, 2, 840, 10045, 3, 1, 1];
    /// secp224r1 (NIST P-224), 1.3.132.0.33.
    pub const SECP224R1: &[u64] = &[1, 3, 132, 0, 33];
    /// secp256r1 (prime256v1, NIST P-256), 1.2.840.10045.3.1.7.
    pub const SECP256R1: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
    /// secp384r1 (NIST P-384), 1.3.132.0.34.
    pub const SECP384R1: &[u64] = &[1, 3, 132, 0, 34];
    /// secp521r1 (NIST P-521), 1.3.132.0.35.
    pub const SECP521R1: &[u64] = &[1, 3, 132, 0, 35];
    /// secp192k1 (SEC 2), 1.3.132.0.31.
    pub const SECP192K1: &[u64] = &[1, 3, 132, 0, 31];
    /// secp224k1 (SEC 2), 1.3.132.0.32.
    pub const SECP224K1: &[u64] = &[1, 3, 132, 0, 32];
    /// secp256k1 (SEC 2), 1.3.132.0.10.
    pub const SECP256K1: &[u64] = &[1, 3, 132, 0, 10];
    /// brainpoolP256r1 (RFC 5639), 1.3.36.3.3.2.8.1.1.7.
    pub const BRAINPOOL_P256R1: &[u64] = &[1, 3, 36, 3, 3, 2, 8, 1, 1, 7];
    /// brainpoolP384r1 (RFC 5639), 1.3.36.3.3.2.8.1.1.11.
    pub const BRAINPOOL_P384R1: &[u64] = &[1, 3, 36, 3, 3, 2, 8, 1, 1, 11];
    /// brainpoolP512r1 (RFC 5639), 1.3.36.3.3.2.8.1.1.13.
    pub const BRAINPOOL_P512R1: &[u64] = &[1, 3, 36, 3, 3, 2, 8, 1, 1, 13];
    /// id-at-commonName (X.520), 2.5.4.3.
    pub const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
    /// id-at-serialNumber (X.520), 2.5.4.5.
    pub const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
    /// id-at-countryName (X.520), 2.5.4.6.
    pub const COUNTRY: &[u64] = &[2, 5, 4, 6];
    /// id-at-localityName (X.520), 2.5.4.7.
    pub const LOCALITY: &[u64] = &[2, 5, 4, 7];
    /// id-at-stateOrProvinceName (X.520), 2.5.4.8.
    pub const STATE: &[u64] = &[2, 5, 4, 8];
    /// id-at-organizationName (X.520), 2.5.4.10.
    pub const ORGANIZATION: &[u64] = &[2, 5, 4, 10];
    /// id-at-organizationalUnitName (X.520), 2.5.4.11.
    pub const ORGANIZATIONAL_UNIT: &[u64] = &[2, 5, 4, 11];
    /// pkcs-9-at-extensionRequest (PKCS #9), 1.2.840.113549.1.9.14.
    pub const EXTENSION_REQUEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 14];
    /// id-ce-subjectAltName (RFC 5280), 2.5.29.17.
    pub const SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
    /// id-ce-basicConstraints (RFC 5280), 2.5.29.19.
    pub const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
    /// id-ce-keyUsage (RFC 5280), 2.5.29.15.
    pub const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
}

/// The named curve of an ECC key, by family and size.
pub fn curve_oid(family: EccFamily, bits: u32) -> Option<&'static [u64]> {
    Some(match (family, bits) {
        (EccFamily::SecpR1, 192) => oids::SECP192R1,
        (EccFamily::SecpR1, 224) => oids::SECP224R1,
        (EccFamily::SecpR1, 256) => oids::SECP256R1,
        (EccFamily::SecpR1, 384) => oids::SECP384R1,
        (EccFamily::SecpR1, 521) => oids::SECP521R1,
        (EccFamily::SecpK1, 192) => oids::SECP192K1,
        (EccFamily::SecpK1, 224) => oids::SECP224K1,
        (EccFamily::SecpK1, 256) => oids::SECP256K1,
        (EccFamily::BrainpoolPR1, 256) => oids::BRAINPOOL_P256R1,
        (EccFamily::BrainpoolPR1, 384) => oids::BRAINPOOL_P384R1,
        (EccFamily::BrainpoolPR1, 512) => oids::BRAINPOOL_P512R1,
        // SEC 2 binary curves (their OIDs, 1.3.132.0.n, as upstream's tool writes them).
        (EccFamily::SectK1, 233) => &[1, 3, 132, 0, 26],
        (EccFamily::SectK1, 283) => &[1, 3, 132, 0, 16],
        (EccFamily::SectK1, 409) => &[1, 3, 132, 0, 36],
        (EccFamily::SectK1, 571) => &[1, 3, 132, 0, 38],
        (EccFamily::SectR1, 233) => &[1, 3, 132, 0, 27],
        (EccFamily::SectR1, 283) => &[1, 3, 132, 0, 17],
        (EccFamily::SectR1, 409) => &[1, 3, 132, 0, 37],
        (EccFamily::SectR1, 571) => &[1, 3, 132, 0, 39],
        _ => return None,
    })
}

/// The SubjectPublicKeyInfo (RFC 5280) of a key, from its PSA export: RSA keys export their
/// PKCS#1 RSAPublicKey, ECC keys their uncompressed point.
pub fn subject_public_key_info(
    attributes: &KeyAttributes,
    psa_public: &[u8],
) -> Result<Vec<u8>, Error> {
    match attributes.key_type {
        KeyType::RsaKeyPair | KeyType::RsaPublicKey => Ok(sequence(&[
            &sequence(&[&oid(oids::RSA_ENCRYPTION), &tlv(tag::NULL, &[])]),
            &bit_string(psa_public),
        ])),
        KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
            let curve = curve_oid(curve_family, attributes.bits).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "no X.509 name for {curve_family:?} curves of {} bits",
                    attributes.bits
                ))
            })?;
            Ok(sequence(&[
                &sequence(&[&oid(oids::EC_PUBLIC_KEY), &oid(curve)]),
                &bit_string(psa_public),
            ]))
        }
        other => Err(Error::InvalidInput(format!(
            "a {other:?} key has no public key to encode"
        ))),
    }
}

/// An ECDSA signature as X9.62 `Ecdsa-Sig-Value` DER, from PSA's `r ‖ s`.
pub fn ecdsa_signature(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    sequence(&[&unsigned_integer(r), &unsigned_integer(s)])
}

/// A PEM block (64-character lines, LF endings).
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
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

/// Reads DER elements in order (definite lengths only, as DER requires).
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// The contents of the next element if its tag is `tag` (`None`, and nothing consumed
    /// that matters, otherwise).
    pub fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
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

    /// `Some` when every element was read.
    pub fn end(&self) -> Option<()> {
        self.rest.is_empty().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_integers_and_oids() {
        assert_eq!(tlv(tag::OCTET_STRING, &[7; 3]), [0x04, 3, 7, 7, 7]);
        let long = tlv(tag::OCTET_STRING, &[0; 300]);
        assert_eq!(&long[..4], [0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(unsigned_integer(&[0, 0, 0x7F]), [0x02, 1, 0x7F]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), [0x02, 1, 0]);
        // 1.2.840.10045.3.1.7 (prime256v1), as every X.509 library writes it.
        assert_eq!(
            oid(oids::SECP256R1),
            [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        );
    }

    #[test]
    fn ecdsa_signatures_round_trip() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80;
        raw[31] = 5;
        raw[33] = 7;
        let der_sig = ecdsa_signature(&raw);
        assert_eq!(ecdsa_raw(&der_sig, 256).unwrap(), raw);
        assert!(ecdsa_raw(&der_sig[..der_sig.len() - 1], 256).is_none());
        assert!(ecdsa_raw(&der_sig, 128).is_none());
    }

    #[test]
    fn ecdsa_signatures_are_two_integers() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80;
        raw[63] = 1;
        let der = ecdsa_signature(&raw);
        assert_eq!(der[0], tag::SEQUENCE);
        assert_eq!(&der[2..5], [0x02, 33, 0]);
        assert_eq!(&der[der.len() - 3..], [0x02, 1, 1]);
    }
}
