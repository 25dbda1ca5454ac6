//! Universa sealed contracts without I/O (spec §6, issue 17): the two containers, the HashId
//! of the exact sealed bytes, extended signatures, what a contract says (roles, permissions,
//! its `parsec` section, UNS2 names), and new contracts and revisions.
//!
//! - A container is a `TransactionPack` (its `contract` bytes are the sealed contract) or a
//!   bare sealed `unicapsule` (`{type: "unicapsule", version ≥ 3, data, signatures}`).
//! - The HashId is computed over the sealed bytes as they are, never re-encoded.
//! - An extended signature is BOSS `{exts, sign, sign2?, sign3?}`; `exts` is BOSS
//!   `{key: 0x07 ‖ SHA-256(e ‖ n), sha512: SHA-512(data), sha3_384?, created_at, pub_key?}`;
//!   `sign`, `sign2`, `sign3` are RSA-PSS over the `exts` bytes with SHA-512, SHA3-256 and
//!   SHA3-384 (MGF1-SHA-1, maximum salt). Every signature present must verify and every digest
//!   present must match `data`.

mod check;
mod contract;
pub mod node;
mod roles;
mod signature;
mod write;

use parsec_boss::{Limits, Value};

use crate::error::{Error, Result};
use crate::hash_id;

pub use check::{check_contract, Refusal};
pub use contract::{open, Contract, ParsecSection, Permission, UnsName};
pub use roles::{Quorum, Role};
pub use signature::{fingerprint, sign, verify, Signer};
pub use write::{create, hash_id_value, revise, NewContract};

/// Largest container read (the largest real contract seen is under 20 KiB).
pub const MAX_CONTAINER: usize = 1 << 20;
/// Most signatures on one contract (real ones carry one to three).
pub const MAX_SIGNATURES: usize = 32;

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

pub(crate) fn bad(what: &str) -> Error {
    Error::Contract(format!("Universa contract: {what}"))
}

/// A typed dictionary's type: `__type`, or `__t` as universa-core writes it.
pub(crate) fn type_of(v: &Value) -> Option<&str> {
    v.get("__type")
        .or_else(|| v.get("__t"))
        .and_then(Value::as_str)
}

/// Most items one container may decode to (the largest real contract seen has about a
/// thousand).
pub const MAX_ITEMS: usize = 65_536;

/// Decodes contract bytes: within [`MAX_CONTAINER`] bytes produced (back-references
/// included) and [`MAX_ITEMS`] items, and with no dictionary naming a key twice. Universa's
/// readers keep the last of two equal keys and ours would see the first: a contract that
/// says two things is refused rather than read one way here and another on the network.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value> {
    if bytes.len() > MAX_CONTAINER {
        return Err(bad("larger than any contract"));
    }
    let limits = Limits {
        max_size: MAX_CONTAINER,
        max_elements: MAX_ITEMS,
        ..Limits::default()
    };
    let value = parsec_boss::decode_with(bytes, limits).map_err(|e| bad(&e.to_string()))?;
    if has_duplicate_keys(&value) {
        return Err(bad("a dictionary names the same key twice"));
    }
    Ok(value)
}

fn has_duplicate_keys(v: &Value) -> bool {
    match v {
        Value::Dict(pairs) => {
            let mut texts = std::collections::HashSet::new();
            for (i, (k, _)) in pairs.iter().enumerate() {
                let repeated = match k.as_str() {
                    Some(t) => !texts.insert(t),
                    // Keys other than text are rare: compared one by one.
                    None => pairs[..i].iter().any(|(other, _)| other == k),
                };
                if repeated {
                    return true;
                }
            }
            pairs.iter().any(|(_, item)| has_duplicate_keys(item))
        }
        Value::List(items) => items.iter().any(has_duplicate_keys),
        _ => false,
    }
}

impl Sealed {
    /// Reads a `TransactionPack` (taking its `contract`) or a bare sealed unicapsule.
    pub fn read(container: &[u8]) -> Result<Sealed> {
        let outer = decode(container)?;
        if type_of(&outer) == Some("TransactionPack") {
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
                .ok_or_else(|| bad("`signatures` is not a list"))
                .and_then(|list| {
                    if list.len() > MAX_SIGNATURES {
                        Err(bad("more signatures than any contract carries"))
                    } else {
                        Ok(list)
                    }
                })?
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

/// A container with the other capsules it carries (a pack's `subItems` and `references`), where
/// a revision's parent may be found.
#[derive(Clone, Debug)]
pub struct Pack {
    pub contract: Sealed,
    pub items: Vec<Sealed>,
}

impl Pack {
    /// Reads a `TransactionPack` or a bare sealed unicapsule (which carries no other items).
    pub fn read(container: &[u8]) -> Result<Pack> {
        let outer = decode(container)?;
        let contract = Sealed::read(container)?;
        let mut items = Vec::new();
        for field in ["subItems", "references"] {
            if let Some(list) = outer.get(field).and_then(Value::as_list) {
                for item in list {
                    let bytes = item
                        .as_bytes()
                        .ok_or_else(|| bad(&format!("a pack's {field} holds a non-binary item")))?;
                    items.push(Sealed::from_capsule(bytes)?);
                }
            }
        }
        Ok(Pack { contract, items })
    }

    /// The item whose HashId is `id`.
    pub fn find(&self, id: &[u8]) -> Option<&Sealed> {
        self.items.iter().find(|s| s.hash_id == id)
    }
}
