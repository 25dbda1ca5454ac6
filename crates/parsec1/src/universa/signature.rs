//! Extended signatures: `{exts, sign, sign2?, sign3?}` over a contract's data.

use parsec_boss::{Time, Value};
use sha2::Digest;

use super::{bad, decode};
use crate::error::Result;
use crate::keys::{PrivateKey, PssHash, PublicKey};

/// A verified extended signature: who signed, and when.
#[derive(Clone, Debug)]
pub struct Signer {
    pub key: PublicKey,
    /// `created_at`, seconds since the epoch.
    pub created_at: Option<u64>,
}

/// `0x07 ‖ SHA-256(e ‖ n)`, with `e` and `n` as minimal big-endian bytes (a packed modulus's
/// leading zero byte is not part of it).
pub fn fingerprint(key: &PublicKey) -> Vec<u8> {
    let value = key.to_value();
    let part = |i: usize| -> Vec<u8> {
        let bytes = value
            .as_list()
            .and_then(|l| l.get(i))
            .and_then(Value::as_bytes)
            .unwrap_or_default();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        bytes[skip..].to_vec()
    };
    let mut d = sha2::Sha256::new();
    d.update(part(1));
    d.update(part(2));
    let mut out = vec![0x07];
    out.extend_from_slice(&d.finalize());
    out
}

/// Verifies one extended signature over `data`. The key is the embedded `pub_key`, or, when
/// there is none, the one of `known` whose fingerprint `exts.key` names.
pub fn verify(signature: &[u8], data: &[u8], known: &[PublicKey]) -> Result<Signer> {
    let sig = decode(signature)?;
    let exts_bytes = sig
        .get("exts")
        .and_then(Value::as_bytes)
        .ok_or_else(|| bad("a signature without `exts`"))?;
    let exts = decode(exts_bytes)?;
    let wanted = exts
        .get("key")
        .and_then(Value::as_bytes)
        .ok_or_else(|| bad("`exts.key` is missing"))?;
    let key = match exts.get("pub_key").and_then(Value::as_bytes) {
        Some(packed) => PublicKey::unpack(packed)?,
        None => known
            .iter()
            .find(|k| fingerprint(k) == wanted)
            .cloned()
            .ok_or_else(|| bad("signed by a key that is neither embedded nor known"))?,
    };
    if fingerprint(&key) != wanted {
        return Err(bad("`exts.key` is not the fingerprint of the signing key"));
    }
    let sha512 = exts
        .get("sha512")
        .and_then(Value::as_bytes)
        .ok_or_else(|| bad("`exts.sha512` is missing"))?;
    if sha512 != &sha2::Sha512::digest(data)[..] {
        return Err(bad("`exts.sha512` is not the digest of the contract"));
    }
    if let Some(d) = exts.get("sha3_384").and_then(Value::as_bytes) {
        if d != &sha3::Sha3_384::digest(data)[..] {
            return Err(bad("`exts.sha3_384` is not the digest of the contract"));
        }
    }
    let mut checked = 0;
    for (field, hash) in [
        ("sign", PssHash::Sha512),
        ("sign2", PssHash::Sha3_256),
        ("sign3", PssHash::Sha3_384),
    ] {
        if let Some(s) = sig.get(field).and_then(Value::as_bytes) {
            key.verify_pss_with(hash, exts_bytes, s)?;
            checked += 1;
        }
    }
    // `sign` (SHA-512) is the one every Universa reader checks: it must be there, as bytes.
    if checked == 0 || sig.get("sign").and_then(Value::as_bytes).is_none() {
        return Err(bad("a signature without `sign`"));
    }
    let created_at = exts
        .get("created_at")
        .and_then(Value::as_time)
        .map(|t| t.seconds());
    Ok(Signer { key, created_at })
}

/// Makes an extended signature over `data`, as current Universa clients do: `sign`
/// (SHA-512) and `sign3` (SHA3-384), the key embedded, both digests in `exts`.
pub fn sign(key: &PrivateKey, data: &[u8], created_at: Time) -> Result<Vec<u8>> {
    let public = key.public_key();
    let exts = Value::dict([
        ("key", Value::Bin(fingerprint(public))),
        ("sha512", Value::Bin(sha2::Sha512::digest(data).to_vec())),
        (
            "sha3_384",
            Value::Bin(sha3::Sha3_384::digest(data).to_vec()),
        ),
        ("created_at", Value::Time(created_at)),
        ("pub_key", Value::Bin(public.pack())),
    ]);
    let exts = parsec_boss::encode(&exts).map_err(|e| bad(&e.to_string()))?;
    let signature = Value::dict([
        (
            "sign",
            Value::Bin(key.sign_pss_with(PssHash::Sha512, &exts)?),
        ),
        (
            "sign3",
            Value::Bin(key.sign_pss_with(PssHash::Sha3_384, &exts)?),
        ),
        ("exts", Value::Bin(exts)),
    ]);
    parsec_boss::encode(&signature).map_err(|e| bad(&e.to_string()))
}
