//! New contracts and revisions, laid out as Universa's own clients lay them out (api level 4,
//! sealed in a version-3 unicapsule, signed with `sign` and `sign3`).
//!
//! - [`create`]: a root service contract (or a UNS2-style name contract) whose `state.data`
//!   holds a `parsec` section, issued by one key and owned by an address, with a
//!   `ModifyDataPermission` on `parsec` for the owner (so the owner alone can rotate keys and
//!   URLs), `ChangeOwnerPermission` and `RevokePermission` for the owner.
//! - [`revise`]: the next revision with another `parsec` section, signed by the owner.
//!
//! Registering either on the Universa network is done with Universa's own tools (it costs U).

use parsec_boss::{Time, Value};

use super::contract::{Contract, ParsecSection};
use super::signature::sign;
use super::{bad, decode, Sealed};
use crate::address::{safe58_encode, KeyAddress};
use crate::error::Result;
use crate::keys::{PrivateKey, PublicKey};

/// What a new contract says.
#[derive(Clone, Debug)]
pub struct NewContract {
    /// The section clients read.
    pub parsec: ParsecSection,
    /// Who may change it later (the owner role's one address).
    pub owner: KeyAddress,
    /// A UNS2 name to hold (makes a `UnsContract` of extended type `UNS2`), with an optional
    /// description.
    pub uns2_name: Option<(String, Option<String>)>,
    pub created_at: Time,
    pub expires_at: Time,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

/// `{__type: "HashId", composite3: <96 bytes>}`.
pub fn hash_id_value(id: &[u8]) -> Value {
    Value::dict([
        ("__type", text("HashId")),
        ("composite3", Value::Bin(id.to_vec())),
    ])
}

fn key_record(key: &PublicKey) -> Value {
    Value::dict([
        ("__type", text("KeyRecord")),
        (
            "key",
            Value::dict([
                ("__type", text("RSAPublicKey")),
                ("packed", Value::Bin(key.pack())),
            ]),
        ),
    ])
}

fn simple_role(name: &str, keys: Vec<Value>, addresses: Vec<Value>) -> Value {
    Value::dict([
        ("__type", text("SimpleRole")),
        ("name", text(name)),
        ("keys", list(keys)),
        ("addresses", list(addresses)),
        ("anonIds", list(Vec::new())),
    ])
}

fn role_link(name: &str, target: &str) -> Value {
    Value::dict([
        ("__type", text("RoleLink")),
        ("name", text(name)),
        ("target_name", text(target)),
    ])
}

fn permission(kind: &str, name: &str, target: &str, fields: Option<&[&str]>) -> Value {
    let mut pairs = vec![
        ("__type", text(kind)),
        ("name", text(name)),
        ("role", role_link(&format!("@{name}"), target)),
    ];
    if let Some(fields) = fields {
        pairs.push((
            "fields",
            Value::Dict(fields.iter().map(|f| (text(f), Value::Null)).collect()),
        ));
    }
    Value::dict(pairs)
}

/// A permission's id: six random Safe58 characters, as Universa's clients make them.
fn permission_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut bytes)
        .map_err(|_| crate::Error::Random)?;
    Ok(safe58_encode(&bytes).chars().take(6).collect())
}

impl ParsecSection {
    /// The section as a contract holds it.
    pub fn to_value(&self) -> Value {
        let mut pairs = vec![("serviceName", text(&self.service_name))];
        if let Some(s) = &self.short_service_name {
            pairs.push(("shortServiceName", text(s)));
        }
        if let Some(s) = &self.service_description {
            pairs.push(("serviceDescription", text(s)));
        }
        pairs.push((
            "serviceKeyAddresses",
            list(
                self.service_key_addresses
                    .iter()
                    .map(|(a, test)| {
                        Value::dict([
                            ("address", text(&a.to_string())),
                            ("isTest", Value::Bool(*test)),
                        ])
                    })
                    .collect(),
            ),
        ));
        let urls = |u: &[String]| list(u.iter().map(|u| text(u)).collect());
        pairs.push(("http", urls(&self.http)));
        if !self.https.is_empty() {
            pairs.push(("https", urls(&self.https)));
        }
        Value::dict(pairs)
    }
}

/// Seals signed contract data: `{type: "unicapsule", version: 3, data, signatures}`.
fn seal(data: Vec<u8>, signer: &PrivateKey, at: Time) -> Result<Vec<u8>> {
    let signature = sign(signer, &data, at)?;
    let capsule = Value::dict([
        ("type", text("unicapsule")),
        ("version", Value::Int(3)),
        ("data", Value::Bin(data)),
        ("signatures", list(vec![Value::Bin(signature)])),
    ]);
    parsec_boss::encode(&capsule).map_err(|e| bad(&e.to_string()))
}

/// A new root contract, signed by `issuer` (its issuer and creator).
pub fn create(spec: &NewContract, issuer: &PrivateKey) -> Result<Vec<u8>> {
    let mut state_data = vec![("parsec", spec.parsec.to_value())];
    let mut modifiable = vec!["parsec"];
    let (kind, extended_type) = match &spec.uns2_name {
        Some((name, description)) => {
            state_data.extend([
                ("names_list", list(vec![text(name)])),
                ("reduce_names_list", list(vec![text(&format!("/{name}"))])),
                (
                    "descriptions_list",
                    list(vec![description.as_deref().map_or(Value::Null, text)]),
                ),
                ("entries", list(Vec::new())),
            ]);
            modifiable.extend([
                "names_list",
                "reduce_names_list",
                "descriptions_list",
                "entries",
            ]);
            ("UnsContract", Some("UNS2"))
        }
        None => ("UniversaContract", None),
    };
    let permissions = [
        permission(
            "ModifyDataPermission",
            "modify_data",
            "owner",
            Some(&modifiable),
        ),
        permission("ChangeOwnerPermission", "change_owner", "owner", None),
        permission("RevokePermission", "revoke", "owner", None),
    ]
    .into_iter()
    .map(|p| Ok((text(&permission_id()?), p)))
    .collect::<Result<Vec<_>>>()?;
    let mut definition = vec![
        (
            "issuer",
            simple_role("issuer", vec![key_record(issuer.public_key())], Vec::new()),
        ),
        ("created_at", Value::Time(spec.created_at)),
        (
            "data",
            Value::dict([("name", text(&spec.parsec.service_name))]),
        ),
        ("permissions", Value::Dict(permissions)),
        ("references", list(Vec::new())),
    ];
    if let Some(t) = extended_type {
        definition.push(("extended_type", text(t)));
    }
    let owner_address = Value::dict([
        ("__type", text("KeyAddress")),
        ("uaddress", Value::Bin(spec.owner.as_bytes().to_vec())),
    ]);
    let state = Value::dict([
        ("revision", Value::Int(1)),
        ("origin", Value::Null),
        ("parent", Value::Null),
        ("branch_id", Value::Null),
        ("created_at", Value::Time(spec.created_at)),
        ("expires_at", Value::Time(spec.expires_at)),
        ("created_by", role_link("creator", "issuer")),
        (
            "owner",
            simple_role("owner", Vec::new(), vec![owner_address]),
        ),
        ("data", Value::dict(state_data)),
        ("roles", Value::dict::<&str>([])),
        ("references", list(Vec::new())),
    ]);
    let contract = Value::dict([
        ("__type", text(kind)),
        ("api_level", Value::Int(4)),
        ("definition", Value::dict(definition)),
        ("state", state),
        ("transactional", Value::Null),
    ]);
    let transaction = Value::dict([
        ("contract", contract),
        ("revoking", list(Vec::new())),
        ("new", list(Vec::new())),
    ]);
    let data = parsec_boss::encode(&transaction).map_err(|e| bad(&e.to_string()))?;
    seal(data, issuer, spec.created_at)
}

fn get_mut<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Value> {
    match v {
        Value::Dict(pairs) => pairs
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .ok_or_else(|| bad(&format!("no `{key}`"))),
        _ => Err(bad(&format!("`{key}` looked up in a non-dictionary"))),
    }
}

fn set(v: &mut Value, key: &str, value: Value) -> Result<()> {
    match v {
        Value::Dict(pairs) => {
            match pairs.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
                Some((_, old)) => *old = value,
                None => pairs.push((text(key), value)),
            }
            Ok(())
        }
        _ => Err(bad(&format!("`{key}` set in a non-dictionary"))),
    }
}

/// The next revision of `previous` with `parsec` as its section, signed by `owner` (who must
/// play the owner role: checked before signing).
pub fn revise(
    previous: &Sealed,
    parsec: &ParsecSection,
    owner: &PrivateKey,
    at: Time,
) -> Result<Vec<u8>> {
    let parsed = Contract::parse(&previous.data)?;
    let owner_role = parsed
        .role("owner")
        .ok_or_else(|| bad("the contract has no owner"))?;
    if !parsed.played_by(owner_role, std::slice::from_ref(owner.public_key())) {
        return Err(bad("this key does not play the contract's owner role"));
    }
    let origin = parsed.origin_of(previous);
    let mut transaction = decode(&previous.data)?;
    {
        let contract = get_mut(&mut transaction, "contract")?;
        let state = get_mut(contract, "state")?;
        let next = parsed
            .revision
            .checked_add(1)
            .ok_or_else(|| bad("the revision number cannot grow"))?;
        set(state, "revision", Value::Int(next))?;
        set(state, "origin", hash_id_value(&origin))?;
        set(state, "parent", hash_id_value(&previous.hash_id))?;
        set(state, "created_at", Value::Time(at))?;
        set(state, "created_by", role_link("creator", "owner"))?;
        set(get_mut(state, "data")?, "parsec", parsec.to_value())?;
    }
    set(
        &mut transaction,
        "revoking",
        list(vec![hash_id_value(&previous.hash_id)]),
    )?;
    set(&mut transaction, "new", list(Vec::new()))?;
    let data = parsec_boss::encode(&transaction).map_err(|e| bad(&e.to_string()))?;
    seal(data, owner, at)
}
