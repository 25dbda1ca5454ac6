//! Universa sealed contracts, read without I/O (spec §6, issue 17): the two containers, the
//! HashId of the exact sealed bytes, and extended signatures.
//!
//! - A container is a `TransactionPack` (its `contract` bytes are the sealed contract) or a
//!   bare sealed `unicapsule` (`{type: "unicapsule", version ≥ 3, data, signatures}`).
//! - The HashId is computed over the sealed bytes as they are, never re-encoded.
//! - An extended signature is BOSS `{exts, sign, sign2?, sign3?}`; `exts` is BOSS
//!   `{key: 0x07 ‖ SHA-256(e ‖ n), sha512: SHA-512(data), sha3_384?, created_at, pub_key?}`;
//!   `sign`, `sign2`, `sign3` are RSA-PSS over the `exts` bytes with SHA-512, SHA3-256 and
//!   SHA3-384 (MGF1-SHA-1, maximum salt). Every signature present must verify and every digest
//!   present must match `data`.

use parsec_boss::{Limits, Value};
use sha2::Digest;

use crate::address::KeyAddress;
use crate::error::{Error, Result};
use crate::hash_id;
use crate::keys::{PssHash, PublicKey};

/// Largest container read (the largest real contract seen is under 20 KiB).
pub const MAX_CONTAINER: usize = 1 << 20;

/// A sealed contract: the exact sealed bytes, their HashId, and what the capsule holds.
#[derive(Clone, Debug)]
pub struct Sealed {
    /// The sealed unicapsule, byte for byte.
    pub bytes: Vec<u8>,
    /// SHA-512/256 ‖ SHA3-256 ‖ Streebog-256 of `bytes`.
    pub hash_id: Vec<u8>,
    /// The signed contract (BOSS).
    pub data: Vec<u8>,
    /// The extended signatures, each as its BOSS bytes.
    pub signatures: Vec<Vec<u8>>,
}

fn bad(what: &str) -> Error {
    Error::Contract(format!("Universa contract: {what}"))
}

fn decode(bytes: &[u8]) -> Result<Value> {
    if bytes.len() > MAX_CONTAINER {
        return Err(bad("larger than any contract"));
    }
    parsec_boss::decode_with(bytes, Limits::default()).map_err(|e| bad(&e.to_string()))
}

impl Sealed {
    /// Reads a `TransactionPack` (taking its `contract`) or a bare sealed unicapsule.
    pub fn read(container: &[u8]) -> Result<Sealed> {
        let outer = decode(container)?;
        if outer.get("__type").and_then(Value::as_str) == Some("TransactionPack")
            || outer.get("__t").and_then(Value::as_str) == Some("TransactionPack")
        {
            let contract = outer
                .get("contract")
                .and_then(Value::as_bytes)
                .ok_or_else(|| bad("a TransactionPack without `contract` bytes"))?;
            return Sealed::from_capsule(contract);
        }
        Sealed::from_capsule(container)
    }

    /// Reads a sealed unicapsule.
    pub fn from_capsule(bytes: &[u8]) -> Result<Sealed> {
        let capsule = decode(bytes)?;
        if capsule.get("type").and_then(Value::as_str) != Some("unicapsule") {
            return Err(bad("not a unicapsule"));
        }
        match capsule.get("version").and_then(Value::as_int) {
            Some(v) if v >= 3 => {}
            _ => return Err(bad("a unicapsule older than version 3")),
        }
        let data = capsule
            .get("data")
            .and_then(Value::as_bytes)
            .ok_or_else(|| bad("`data` is not binary"))?
            .to_vec();
        let signatures = match capsule.get("signatures") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => v
                .as_list()
                .ok_or_else(|| bad("`signatures` is not a list"))?
                .iter()
                .map(|s| s.as_bytes().map(<[u8]>::to_vec))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("a signature is not binary"))?,
        };
        Ok(Sealed {
            bytes: bytes.to_vec(),
            hash_id: hash_id::hash_id(bytes),
            data,
            signatures,
        })
    }
}

/// What a contract says of itself: its place in its chain, the keys its roles name, and its
/// `parsec` section.
#[derive(Clone, Debug)]
pub struct Contract {
    /// `state.revision` (1 for a root).
    pub revision: i128,
    /// `state.origin`: the root's HashId; `None` for a root, whose origin is its own HashId.
    pub origin: Option<Vec<u8>>,
    /// `state.parent`: the previous revision's HashId; `None` for a root.
    pub parent: Option<Vec<u8>>,
    /// Every RSA public key the contract's roles hold (KeyRecords), for signatures that name
    /// their key by fingerprint only.
    pub keys: Vec<PublicKey>,
    /// `state.data.parsec`, if any.
    pub parsec: Option<Value>,
}

/// A `{__type: "HashId", composite3: BIN(96)}`; `None` for null.
fn hash_id_of(v: Option<&Value>) -> Result<Option<Vec<u8>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .get("composite3")
            .and_then(Value::as_bytes)
            .filter(|b| b.len() == hash_id::LEN)
            .map(|b| Some(b.to_vec()))
            .ok_or_else(|| bad("a HashId that is not 96 bytes of composite3")),
    }
}

/// Every `{__type: "RSAPublicKey", packed}` under `v` (depth-limited by the decoder already).
fn collect_keys(v: &Value, out: &mut Vec<PublicKey>) {
    match v {
        Value::Dict(pairs) => {
            if v.get("__type").and_then(Value::as_str) == Some("RSAPublicKey") {
                if let Some(key) = v
                    .get("packed")
                    .and_then(Value::as_bytes)
                    .and_then(|p| PublicKey::unpack(p).ok())
                {
                    if !out.contains(&key) {
                        out.push(key);
                    }
                }
                return;
            }
            for (_, item) in pairs {
                collect_keys(item, out);
            }
        }
        Value::List(items) => items.iter().for_each(|i| collect_keys(i, out)),
        _ => {}
    }
}

impl Contract {
    /// Reads the signed `data` of a sealed contract.
    pub fn parse(data: &[u8]) -> Result<Contract> {
        let transaction = decode(data)?;
        let contract = transaction
            .get("contract")
            .ok_or_else(|| bad("no `contract` in the sealed data"))?;
        let state = contract
            .get("state")
            .ok_or_else(|| bad("no `state` in the contract"))?;
        let revision = state
            .get("revision")
            .and_then(Value::as_int)
            .ok_or_else(|| bad("`state.revision` is not a number"))?;
        let mut keys = Vec::new();
        collect_keys(contract, &mut keys);
        Ok(Contract {
            revision,
            origin: hash_id_of(state.get("origin"))?,
            parent: hash_id_of(state.get("parent"))?,
            keys,
            parsec: state
                .get("data")
                .and_then(|d| d.get("parsec"))
                .filter(|p| !p.is_null())
                .cloned(),
        })
    }

    /// The chain's origin: `state.origin`, or the contract's own HashId for a root.
    pub fn origin_of(&self, sealed: &Sealed) -> Vec<u8> {
        self.origin
            .clone()
            .unwrap_or_else(|| sealed.hash_id.clone())
    }
}

/// Reads a sealed contract's data and verifies every signature on it (keys embedded, or
/// named by fingerprint among the contract's own role keys).
pub fn open(sealed: &Sealed) -> Result<(Contract, Vec<Signer>)> {
    let contract = Contract::parse(&sealed.data)?;
    let signers = sealed
        .signatures
        .iter()
        .map(|s| verify(s, &sealed.data, &contract.keys))
        .collect::<Result<Vec<_>>>()?;
    Ok((contract, signers))
}

/// The `parsec` section of a service contract (spec §6.2): how to reach the service and which
/// keys it signs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsecSection {
    pub service_name: String,
    pub short_service_name: Option<String>,
    pub service_description: Option<String>,
    /// The service's key addresses, each with whether it is a test key.
    pub service_key_addresses: Vec<(KeyAddress, bool)>,
    /// `http` URLs (with IP hosts).
    pub http: Vec<String>,
    /// `https` URLs, if any.
    pub https: Vec<String>,
}

impl ParsecSection {
    /// Reads `{serviceName, shortServiceName?, serviceDescription?, serviceKeyAddresses:
    /// [{address, isTest?}], http: [..], https?: [..]}`.
    pub fn read(v: &Value) -> Result<ParsecSection> {
        let text = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
        let urls = |name: &str| -> Result<Vec<String>> {
            match v.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(list) => list
                    .as_list()
                    .ok_or_else(|| bad(&format!("parsec.{name} is not a list")))?
                    .iter()
                    .map(|u| {
                        u.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(&format!("parsec.{name} holds a non-text URL")))
                    })
                    .collect(),
            }
        };
        let service_key_addresses = v
            .get("serviceKeyAddresses")
            .and_then(Value::as_list)
            .ok_or_else(|| bad("parsec.serviceKeyAddresses is not a list"))?
            .iter()
            .map(|entry| {
                let address = entry
                    .get("address")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("a service key address without `address`"))?;
                let address = KeyAddress::parse(address)?;
                let is_test = entry
                    .get("isTest")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                Ok((address, is_test))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ParsecSection {
            service_name: text("serviceName")
                .ok_or_else(|| bad("parsec.serviceName is missing"))?,
            short_service_name: text("shortServiceName"),
            service_description: text("serviceDescription"),
            service_key_addresses,
            http: urls("http")?,
            https: urls("https")?,
        })
    }

    /// The addresses a client may trust: the non-test ones, and in test mode the test ones too.
    pub fn trusted_addresses(&self, test_mode: bool) -> Vec<KeyAddress> {
        self.service_key_addresses
            .iter()
            .filter(|(_, is_test)| test_mode || !is_test)
            .map(|(a, _)| a.clone())
            .collect()
    }
}

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
    if checked == 0 || sig.get("sign").is_none() {
        return Err(bad("a signature without `sign`"));
    }
    let created_at = exts
        .get("created_at")
        .and_then(Value::as_time)
        .map(|t| t.seconds());
    Ok(Signer { key, created_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(bits: usize) -> KeyAddress {
        crate::PrivateKey::generate(bits)
            .unwrap()
            .public_key()
            .long_address()
            .unwrap()
    }

    #[test]
    fn parsec_sections_read_and_test_keys_are_kept_apart() {
        let (live, test) = (address(2048), address(2048));
        let section = Value::dict([
            ("serviceName", Value::Text("Example service".into())),
            ("shortServiceName", Value::Text("example".into())),
            (
                "serviceKeyAddresses",
                Value::List(vec![
                    Value::dict([("address", Value::Text(live.to_string()))]),
                    Value::dict([
                        ("address", Value::Text(test.to_string())),
                        ("isTest", Value::Bool(true)),
                    ]),
                ]),
            ),
            (
                "http",
                Value::List(vec![Value::Text("http://192.0.2.1:8373/api/p1".into())]),
            ),
        ]);
        let read = ParsecSection::read(&section).unwrap();
        assert_eq!(read.service_name, "Example service");
        assert_eq!(read.short_service_name.as_deref(), Some("example"));
        assert_eq!(read.http, ["http://192.0.2.1:8373/api/p1"]);
        assert!(read.https.is_empty());
        assert_eq!(read.trusted_addresses(false), std::slice::from_ref(&live));
        assert_eq!(read.trusted_addresses(true), [live, test]);
        // A bad address, a missing name, a non-list: refused with the field named.
        let bad_address = Value::dict([
            ("serviceName", Value::Text("x".into())),
            (
                "serviceKeyAddresses",
                Value::List(vec![Value::dict([("address", Value::Text("nope".into()))])]),
            ),
        ]);
        assert!(ParsecSection::read(&bad_address).is_err());
        let e = ParsecSection::read(&Value::dict([("serviceKeyAddresses", Value::List(vec![]))]))
            .unwrap_err();
        assert!(e.to_string().contains("serviceName"), "{e}");
    }
}
