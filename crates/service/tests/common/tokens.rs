//! Tokens minted by the tests: JWS compact form, signed here with aws-lc (ES256, RS256), and
//! the JWK sets that hold their public keys. Hostile forms (unsigned, HMAC over the public key,
//! tampered) are made from the same parts.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signing key of the tests.
pub enum Signer {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

pub struct TestKey {
    pub kid: String,
    pub signer: Signer,
}

impl TestKey {
    pub fn ec(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            signer: Signer::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()),
        }
    }

    pub fn rsa(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            signer: Signer::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()),
        }
    }

    pub fn alg(&self) -> &'static str {
        match self.signer {
            Signer::Ec(_) => "ES256",
            Signer::Rsa(_) => "RS256",
        }
    }

    /// The public JWK, with `use` (`sig`, `jwt-svid`) when given.
    pub fn jwk(&self, use_: Option<&str>) -> Value {
        let mut jwk = match &self.signer {
            Signer::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
            Signer::Rsa(k) => {
                let (n, e) = rsa_public_numbers(KeyPair::public_key(k).as_ref());
                json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
            }
        };
        jwk["kid"] = json!(self.kid);
        if let Some(u) = use_ {
            jwk["use"] = json!(u);
        }
        jwk
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Ec(k) => k.sign(&rng, message).unwrap().as_ref().to_vec(),
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig).unwrap();
                sig
            }
        }
    }

    /// A token of `claims`, signed with this key (header: its `alg` and `kid`).
    pub fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid});
        self.token_with_header(&header, claims)
    }

    pub fn token_with_header(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64(&signature))
    }
}

/// The modulus and exponent of a PKCS#1 RSAPublicKey (DER: a sequence of two integers),
/// without their leading zero bytes.
fn rsa_public_numbers(der: &[u8]) -> (&[u8], &[u8]) {
    // A tag, then a length (short form, or 0x81/0x82 and one or two bytes).
    fn item(der: &[u8]) -> (&[u8], &[u8]) {
        let (len, at) = match der[1] {
            l if l < 0x80 => (usize::from(l), 2),
            0x81 => (usize::from(der[2]), 3),
            _ => (usize::from(der[2]) << 8 | usize::from(der[3]), 4),
        };
        (&der[at..at + len], &der[at + len..])
    }
    let (sequence, _) = item(der);
    let (n, rest) = item(sequence);
    let (e, _) = item(rest);
    let trim = |v: &[u8]| -> usize { v.iter().take_while(|&&b| b == 0).count() };
    (&n[trim(n)..], &e[trim(e)..])
}

/// A JWK set of `keys`.
pub fn jwks(keys: &[&TestKey], use_: Option<&str>) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk(use_)).collect::<Vec<_>>()}).to_string()
}

/// Claims valid now for `sub`, issued by `iss` (when given) for `aud`, for ten minutes.
pub fn claims(sub: &str, iss: Option<&str>, aud: &str) -> Value {
    let now = now();
    let mut c = json!({"sub": sub, "aud": aud, "iat": now, "exp": now + 600});
    if let Some(iss) = iss {
        c["iss"] = json!(iss);
    }
    c
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// A token "signed" with HS256 using `secret` (an attacker's use of a public key as the
/// shared secret).
pub fn hmac_signed(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(tag.as_ref()))
}

/// `token` with its payload replaced by `claims`, keeping the original signature.
pub fn tampered(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// Writes a key file as an operator would: writable by its owner only (the service refuses
/// one that others may write, whatever the umask of the test run).
pub fn write_key_file(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}
