//! Roles: who may sign a contract or a change to it.
//!
//! - `SimpleRole {keys: [KeyRecord {key}], addresses: [KeyAddress {uaddress}]}`: played by a
//!   set of signers holding every key and a key for every address.
//! - `RoleLink {name, target_name}`: the contract's role of that name.
//! - `ListRole {roles, mode: ALL | ANY | QUORUM, quorumSize}`.
//!
//! Anything else (QuorumVoteRole, anonymous ids, roles that require references) is read but
//! never played: a check that cannot be made here refuses rather than guesses.

use parsec_boss::Value;

use crate::address::KeyAddress;
use crate::keys::PublicKey;

/// How deep links and lists may nest before a role counts as unplayable (cycles included).
const MAX_DEPTH: usize = 8;
/// How many roles one check may visit: links to lists of links multiply, so depth alone
/// does not bound the work a hostile contract asks for.
const MAX_VISITS: usize = 4096;

/// A role, as read from a contract.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    Simple {
        keys: Vec<PublicKey>,
        addresses: Vec<KeyAddress>,
        /// Anonymous ids or required references: conditions not checked here.
        conditional: bool,
    },
    /// The contract's role of this name.
    Link(String),
    /// All of the roles, any one, or at least `n` of them.
    List { roles: Vec<Role>, quorum: Quorum },
    /// A role of a kind not understood here (its `__type`): never played.
    Other(String),
}

/// How many roles of a `ListRole` must be played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    All,
    Any,
    AtLeast(usize),
}

fn non_empty_list(v: Option<&Value>) -> bool {
    match v {
        Some(Value::List(items)) => !items.is_empty(),
        Some(Value::Dict(items)) => !items.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

impl Role {
    /// Reads a role dictionary; a malformed role reads as one never played.
    pub fn read(v: &Value) -> Role {
        let kind = super::type_of(v).unwrap_or("");
        match kind {
            "SimpleRole" => {
                let mut keys = Vec::new();
                let mut addresses = Vec::new();
                let mut malformed = false;
                for record in v.get("keys").and_then(Value::as_list).unwrap_or_default() {
                    match record
                        .get("key")
                        .and_then(|k| k.get("packed"))
                        .and_then(Value::as_bytes)
                        .map(PublicKey::unpack)
                    {
                        Some(Ok(key)) => keys.push(key),
                        _ => malformed = true,
                    }
                }
                for a in v
                    .get("addresses")
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                {
                    match a
                        .get("uaddress")
                        .and_then(Value::as_bytes)
                        .map(KeyAddress::from_bytes)
                    {
                        Some(Ok(address)) => addresses.push(address),
                        _ => malformed = true,
                    }
                }
                if malformed {
                    return Role::Other("SimpleRole with an unreadable key or address".into());
                }
                let conditional = non_empty_list(v.get("anonIds"))
                    || non_empty_list(v.get("requiredAllConstraints"))
                    || non_empty_list(v.get("requiredAnyConstraints"))
                    || non_empty_list(v.get("requiredAllReferences"))
                    || non_empty_list(v.get("requiredAnyReferences"));
                Role::Simple {
                    keys,
                    addresses,
                    conditional,
                }
            }
            "RoleLink" => match v.get("target_name").and_then(Value::as_str) {
                Some(target) => Role::Link(target.to_string()),
                None => Role::Other("RoleLink without target_name".into()),
            },
            "ListRole" => {
                let roles: Vec<Role> = v
                    .get("roles")
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                    .iter()
                    .map(Role::read)
                    .collect();
                let quorum = match v.get("mode").and_then(Value::as_str) {
                    Some("ALL") => Quorum::All,
                    Some("ANY") => Quorum::Any,
                    Some("QUORUM") => match v.get("quorumSize").and_then(Value::as_int) {
                        Some(n) if n >= 1 => {
                            Quorum::AtLeast(usize::try_from(n).unwrap_or(usize::MAX))
                        }
                        _ => return Role::Other("ListRole without a quorum size".into()),
                    },
                    _ => return Role::Other("ListRole of an unknown mode".into()),
                };
                Role::List { roles, quorum }
            }
            other => Role::Other(other.to_string()),
        }
    }

    /// Whether `signers` play this role; links are looked up with `resolve`.
    pub fn played_by<'a>(
        &'a self,
        signers: &[PublicKey],
        resolve: &dyn Fn(&str) -> Option<&'a Role>,
    ) -> bool {
        let visits = std::cell::Cell::new(0);
        self.played(signers, resolve, 0, &visits)
    }

    fn played<'a>(
        &'a self,
        signers: &[PublicKey],
        resolve: &dyn Fn(&str) -> Option<&'a Role>,
        depth: usize,
        visits: &std::cell::Cell<usize>,
    ) -> bool {
        visits.set(visits.get() + 1);
        if depth > MAX_DEPTH || visits.get() > MAX_VISITS {
            return false;
        }
        match self {
            Role::Simple {
                keys,
                addresses,
                conditional,
            } => {
                // An empty role would be played by anybody: never.
                let empty = keys.is_empty() && addresses.is_empty();
                !conditional
                    && !empty
                    && keys.iter().all(|k| signers.contains(k))
                    && addresses
                        .iter()
                        .all(|a| signers.iter().any(|k| a.matches(k)))
            }
            Role::Link(target) => {
                resolve(target).is_some_and(|r| r.played(signers, resolve, depth + 1, visits))
            }
            Role::List { roles, quorum } => {
                let played = roles
                    .iter()
                    .filter(|r| r.played(signers, resolve, depth + 1, visits))
                    .count();
                match quorum {
                    Quorum::All => !roles.is_empty() && played == roles.len(),
                    Quorum::Any => played >= 1,
                    Quorum::AtLeast(n) => played >= *n,
                }
            }
            Role::Other(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target: &str) -> Value {
        Value::dict([
            ("__type", Value::Text("RoleLink".into())),
            ("target_name", Value::Text(target.into())),
        ])
    }

    #[test]
    fn cycles_and_fan_outs_end_unplayed() {
        // a → a: a cycle.
        let cycle = Role::read(&link("a"));
        assert!(!cycle.played_by(&[], &|_| Some(&cycle)));
        // A list of 64 links to itself, any mode: 64^8 paths without a budget.
        let fan = Role::read(&Value::dict([
            ("__type", Value::Text("ListRole".into())),
            ("mode", Value::Text("ANY".into())),
            ("roles", Value::List((0..64).map(|_| link("fan")).collect())),
        ]));
        let started = std::time::Instant::now();
        assert!(!fan.played_by(&[], &|_| Some(&fan)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Unknown kinds and empty roles are never played.
        assert!(!Role::read(&Value::dict([(
            "__type",
            Value::Text("QuorumVoteRole".into())
        )]))
        .played_by(&[], &|_| None));
        let empty = Role::read(&Value::dict([("__type", Value::Text("SimpleRole".into()))]));
        assert!(!empty.played_by(&[], &|_| None));
    }
}
