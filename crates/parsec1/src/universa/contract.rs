//! What a contract says of itself: its place in its chain, its roles and permissions, its
//! `parsec` section and, for a UNS2 contract, its names.

use parsec_boss::Value;

use super::roles::Role;
use super::signature::{verify, Signer};
use super::{bad, decode, type_of, Sealed};
use crate::address::KeyAddress;
use crate::error::Result;
use crate::hash_id;
use crate::keys::PublicKey;

/// Most role keys, roles and permissions one contract may hold (real ones hold a handful).
pub const MAX_PARTS: usize = 64;

/// A permission of `definition.permissions`: what it allows (its `__type`), to whom, and for a
/// `ModifyDataPermission` which fields of `state.data`.
#[derive(Clone, Debug, PartialEq)]
pub struct Permission {
    /// `ChangeOwnerPermission`, `ModifyDataPermission`, `RevokePermission`, …
    pub kind: String,
    pub role: Role,
    /// The fields a `ModifyDataPermission` lets its role change.
    pub fields: Vec<String>,
}

/// A name a UNS contract holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsName {
    pub name: String,
    /// The name as the network reduced it (`"/" + name` for UNS2).
    pub reduced: String,
    pub description: Option<String>,
}

/// A contract, as its signed data describes it.
#[derive(Clone, Debug)]
pub struct Contract {
    /// The contract's `__type`: `UniversaContract`, `UnsContract`, …
    pub kind: String,
    /// `definition.extended_type` (`"UNS2"` for a UNS2 name contract).
    pub extended_type: Option<String>,
    /// `state.revision` (1 for a root).
    pub revision: i128,
    /// `state.origin`: the root's HashId; `None` for a root, whose origin is its own HashId.
    pub origin: Option<Vec<u8>>,
    /// `state.parent`: the previous revision's HashId; `None` for a root.
    pub parent: Option<Vec<u8>>,
    /// Every RSA public key the contract's roles hold (KeyRecords), for signatures that name
    /// their key by fingerprint only.
    pub keys: Vec<PublicKey>,
    /// The roles by name: `issuer`, `owner`, `creator`, and those of `state.roles`.
    pub roles: Vec<(String, Role)>,
    /// `definition.permissions`.
    pub permissions: Vec<Permission>,
    /// `state.data.parsec` (or, in a UNS contract, the first entry's `data.parsec`), if any.
    pub parsec: Option<Value>,
    /// The names of a UNS contract (`state.data.names_list` and its companions).
    pub names: Vec<UnsName>,
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

/// Every `{__type: "RSAPublicKey", packed}` under `v` (depth-limited by the decoder already),
/// at most [`MAX_PARTS`] distinct ones.
fn collect_keys(v: &Value, out: &mut Vec<PublicKey>) -> Result<()> {
    match v {
        Value::Dict(pairs) => {
            if type_of(v) == Some("RSAPublicKey") {
                if let Some(key) = v
                    .get("packed")
                    .and_then(Value::as_bytes)
                    .and_then(|p| PublicKey::unpack(p).ok())
                {
                    if !out.contains(&key) {
                        if out.len() == MAX_PARTS {
                            return Err(bad("more role keys than any contract holds"));
                        }
                        out.push(key);
                    }
                }
                return Ok(());
            }
            for (_, item) in pairs {
                collect_keys(item, out)?;
            }
            Ok(())
        }
        Value::List(items) => items.iter().try_for_each(|i| collect_keys(i, out)),
        _ => Ok(()),
    }
}

fn texts(v: Option<&Value>) -> Vec<Option<String>> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|t| t.as_str().map(str::to_string))
        .collect()
}

fn names_of(data: &Value) -> Result<Vec<UnsName>> {
    let names = texts(data.get("names_list"));
    let reduced = texts(data.get("reduce_names_list"));
    let descriptions = texts(data.get("descriptions_list"));
    if names.len() != reduced.len() {
        return Err(bad("names_list and reduce_names_list differ in length"));
    }
    names
        .into_iter()
        .zip(reduced)
        .enumerate()
        .map(|(i, (name, reduced))| match (name, reduced) {
            (Some(name), Some(reduced)) => Ok(UnsName {
                name,
                reduced,
                description: descriptions.get(i).cloned().flatten(),
            }),
            _ => Err(bad("a UNS name that is not text")),
        })
        .collect()
}

impl Contract {
    /// Reads the signed `data` of a sealed contract.
    pub fn parse(data: &[u8]) -> Result<Contract> {
        let transaction = decode(data)?;
        let contract = transaction
            .get("contract")
            .ok_or_else(|| bad("no `contract` in the sealed data"))?;
        let definition = contract
            .get("definition")
            .ok_or_else(|| bad("no `definition` in the contract"))?;
        let state = contract
            .get("state")
            .ok_or_else(|| bad("no `state` in the contract"))?;
        let revision = state
            .get("revision")
            .and_then(Value::as_int)
            .ok_or_else(|| bad("`state.revision` is not a number"))?;
        let mut keys = Vec::new();
        collect_keys(contract, &mut keys)?;

        let mut roles = Vec::new();
        for (name, v) in [
            ("issuer", definition.get("issuer")),
            ("owner", state.get("owner")),
            ("creator", state.get("created_by")),
        ] {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                roles.push((name.to_string(), Role::read(v)));
            }
        }
        for section in [definition.get("roles"), state.get("roles")] {
            for (name, v) in section.and_then(Value::as_dict).unwrap_or_default() {
                if let Some(name) = name.as_str() {
                    if !roles.iter().any(|(n, _)| n == name) {
                        roles.push((name.to_string(), Role::read(v)));
                    }
                }
            }
        }
        if roles.len() > MAX_PARTS {
            return Err(bad("more roles than any contract holds"));
        }
        let permissions = definition
            .get("permissions")
            .and_then(Value::as_dict)
            .unwrap_or_default();
        if permissions.len() > MAX_PARTS {
            return Err(bad("more permissions than any contract holds"));
        }
        let permissions = permissions
            .iter()
            .map(|(_, p)| Permission {
                kind: type_of(p).unwrap_or("").to_string(),
                role: p.get("role").map_or(Role::Other("none".into()), Role::read),
                fields: p
                    .get("fields")
                    .and_then(Value::as_dict)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|(k, _)| k.as_str().map(str::to_string))
                    .collect(),
            })
            .collect();

        let kind = type_of(contract).unwrap_or("").to_string();
        let data = state.get("data").cloned().unwrap_or(Value::Null);
        let names = if kind == "UnsContract" {
            names_of(&data)?
        } else {
            Vec::new()
        };
        let parsec = data
            .get("parsec")
            .filter(|p| !p.is_null())
            .or_else(|| {
                // A UNS contract may carry it in an entry's data instead.
                (kind == "UnsContract")
                    .then(|| data.get("entries").and_then(Value::as_list))
                    .flatten()
                    .unwrap_or_default()
                    .iter()
                    .find_map(|e| {
                        e.get("data")
                            .and_then(|d| d.get("parsec"))
                            .filter(|p| !p.is_null())
                    })
            })
            .cloned();
        Ok(Contract {
            kind,
            extended_type: definition
                .get("extended_type")
                .and_then(Value::as_str)
                .map(str::to_string),
            revision,
            origin: hash_id_of(state.get("origin"))?,
            parent: hash_id_of(state.get("parent"))?,
            keys,
            roles,
            permissions,
            parsec,
            names,
        })
    }

    /// The chain's origin: `state.origin`, or the contract's own HashId for a root.
    pub fn origin_of(&self, sealed: &Sealed) -> Vec<u8> {
        self.origin
            .clone()
            .unwrap_or_else(|| sealed.hash_id.clone())
    }

    /// The role of this name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    /// Whether `signers` play the role `name` of this contract.
    pub fn played_by(&self, role: &Role, signers: &[PublicKey]) -> bool {
        role.played_by(signers, &|name| self.role(name))
    }

    /// A UNS2 name contract: `UnsContract` with `definition.extended_type` `"UNS2"`.
    pub fn is_uns2(&self) -> bool {
        self.kind == "UnsContract" && self.extended_type.as_deref() == Some("UNS2")
    }

    /// Whether this is a UNS2 contract holding `name`, reduced as UNS2 reduces (`"/" + name`).
    pub fn holds_name(&self, name: &str) -> bool {
        self.is_uns2()
            && self
                .names
                .iter()
                .any(|n| n.name == name && n.reduced.strip_prefix('/') == Some(name))
    }

    /// Checks that the signers could make this contract: a root must be signed by its issuer;
    /// a revision by the owner of the revision before it (`previous`) or by the role of one of
    /// that revision's permissions. A revision cannot be checked without its previous
    /// revision (its own roles are what it claims, not what allowed it): that is an error
    /// here, and callers without the previous revision rely on the network, which approves
    /// only revisions its rules allow.
    pub fn check_signers(&self, signers: &[Signer], previous: Option<&Contract>) -> Result<()> {
        let keys: Vec<PublicKey> = signers.iter().map(|s| s.key.clone()).collect();
        if self.origin.is_none() {
            let issuer = self
                .role("issuer")
                .ok_or_else(|| bad("a root contract without an issuer"))?;
            return if self.played_by(issuer, &keys) {
                Ok(())
            } else {
                Err(bad("a root contract not signed by its issuer"))
            };
        }
        let rules = previous.ok_or_else(|| {
            bad("the previous revision is needed to check who may sign a revision")
        })?;
        let owner = rules
            .role("owner")
            .is_some_and(|r| rules.played_by(r, &keys));
        let permitted = rules
            .permissions
            .iter()
            .any(|p| rules.played_by(&p.role, &keys));
        if owner || permitted {
            Ok(())
        } else {
            Err(bad(
                "a revision signed by no key of its owner or of a permission's role",
            ))
        }
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
                let is_test = match entry.get("isTest") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(bad("a service key's isTest is not true or false")),
                };
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
        // isTest that is not a boolean is refused, not read as a live key.
        let vague = Value::dict([
            ("serviceName", Value::Text("x".into())),
            (
                "serviceKeyAddresses",
                Value::List(vec![Value::dict([
                    ("address", Value::Text(address(2048).to_string())),
                    ("isTest", Value::Text("yes".into())),
                ])]),
            ),
        ]);
        let e = ParsecSection::read(&vague).unwrap_err();
        assert!(e.to_string().contains("isTest"), "{e}");
        let e = ParsecSection::read(&Value::dict([("serviceKeyAddresses", Value::List(vec![]))]))
            .unwrap_err();
        assert!(e.to_string().contains("serviceName"), "{e}");
    }
}
