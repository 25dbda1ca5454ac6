//! What a client checks in a service contract itself (the network's APPROVED is asked apart,
//! see [`super::node`]).

use super::{open, Contract, Pack, ParsecSection};

/// Why a contract is not the one a client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It belongs to another origin.
    WrongOrigin { expected: Vec<u8>, got: Vec<u8> },
    /// It does not read, a signature does not verify, a signer does not play a role that
    /// allows it, or it has no readable `parsec` section.
    Bad(String),
}

/// The checks made here on a contract: it reads, every signature verifies, it belongs to
/// `origin` (when given), it has a readable `parsec` section, and its signers play the roles
/// that allow them: a root's issuer; for a revision, the owner or a permission's role of the
/// revision before it when the pack carries it (when it does not, the network's approval
/// stands for that check: it approves only what the previous revision allowed).
pub fn check_contract(
    pack: &Pack,
    origin: Option<&[u8]>,
) -> Result<(Contract, ParsecSection), Refusal> {
    let sealed = &pack.contract;
    let (contract, signers) = open(sealed).map_err(|e| Refusal::Bad(e.to_string()))?;
    if let Some(expected) = origin {
        let got = contract.origin_of(sealed);
        if got != expected {
            return Err(Refusal::WrongOrigin {
                expected: expected.to_vec(),
                got,
            });
        }
    }
    let previous = match contract.parent.as_deref().and_then(|id| pack.find(id)) {
        Some(p) => Some(
            open(p)
                .map_err(|e| Refusal::Bad(format!("the previous revision: {e}")))?
                .0,
        ),
        None => None,
    };
    if contract.origin.is_none() || previous.is_some() {
        contract
            .check_signers(&signers, previous.as_ref())
            .map_err(|e| Refusal::Bad(e.to_string()))?;
    }
    let section = contract
        .parsec
        .as_ref()
        .ok_or_else(|| Refusal::Bad("the contract has no parsec section".into()))?;
    let section = ParsecSection::read(section).map_err(|e| Refusal::Bad(e.to_string()))?;
    Ok((contract, section))
}
