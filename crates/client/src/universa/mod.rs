//! Parsec 1.2 and 1.3: trusting a service through the Universa network (issue 17).
//!
//! - 1.2, [`ContractKeys`]: the client knows the origin (HashId) of the service's contract. It
//!   asks the service for the contract's current revision (`getServiceContract`), checks its
//!   origin, its signatures and its signers' roles, and that the network holds that revision
//!   APPROVED, then trusts the contract's non-test service keys (test ones in test mode).
//! - 1.3, [`NameKeys`]: the client knows a UNS2 name. It asks the nodes for the name's
//!   contract (`queryNameContract`), checks it as above and that it holds the name, and takes
//!   the service's URLs and keys from it.
//! - [`Network`]: the nodes of a [`Topology`] (built in: the public mainnet list;
//!   `UNIVERSA_TOPOLOGY` names another) and the quorum rule.
//!
//! Every refusal is a [`TrustError`] that names its reason.

mod network;
mod node;
mod topology;
mod trust;

pub use network::{Network, NetworkOptions, TRUST_VARIABLE};
pub use node::{Node, NodeError};
pub use topology::{NodeInfo, Topology, TOPOLOGY_VARIABLE};
pub use trust::{check_contract, ContractKeys, NameKeys, Trust, DEFAULT_RECHECK};

use std::time::Duration;

/// The environment variable with the origin (Base64 HashId) of the service contract to trust
/// (Parsec 1.2).
pub const SERVICE_CONTRACT_VARIABLE: &str = "PARSEC1_SERVICE_CONTRACT";
/// The environment variable with the UNS2 name of the service to reach (Parsec 1.3).
pub const SERVICE_NAME_VARIABLE: &str = "PARSEC1_SERVICE_NAME";

/// Why a service was not trusted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The topology (or the trust level) could not be used.
    #[error("Universa topology: {0}")]
    Topology(String),
    /// The contract is of another chain than the one trusted.
    #[error(
        "wrong origin: the service's contract belongs to {got}, not to the trusted {expected}"
    )]
    WrongOrigin {
        /// The trusted origin (Base64).
        expected: String,
        /// The contract's origin (Base64).
        got: String,
    },
    /// A signature does not verify, or the contract cannot be read.
    #[error("bad signature or contract: {0}")]
    BadContract(String),
    /// The network answered with a negative state (REVOKED, DECLINED, UNDEFINED, …).
    #[error("{}", describe_refusal(.state, *.votes))]
    Refused {
        /// The state most nodes gave.
        state: String,
        /// How many nodes gave a negative state.
        votes: usize,
    },
    /// Too few nodes answered to reach the quorum.
    #[error(
        "not enough nodes: {approved} approved of the {needed} needed, {failed} of {of} nodes \
         failed (last: {last})"
    )]
    NotEnoughNodes {
        /// APPROVED answers.
        approved: usize,
        /// APPROVED answers needed.
        needed: usize,
        /// Nodes that failed.
        failed: usize,
        /// Nodes asked.
        of: usize,
        /// The last failure.
        last: String,
    },
    /// The quorum was not reached in time (nodes kept answering PENDING, or were slow).
    #[error("not approved within {after:?}: {approved} of {needed} APPROVED answers")]
    Timeout {
        /// APPROVED answers.
        approved: usize,
        /// APPROVED answers needed.
        needed: usize,
        /// The deadline.
        after: Duration,
    },
    /// The contract names no service key this client may use.
    #[error("no usable key: the contract lists no {0} service key address")]
    NoUsableKey(&'static str),
    /// No node knows the name.
    #[error("unknown name `{0}`: no node holds a contract for it")]
    UnknownName(String),
    /// The service did not give its contract.
    #[error("the service's contract: {0}")]
    Service(String),
}

fn describe_refusal(state: &str, votes: usize) -> String {
    let what = match state {
        "REVOKED" => "revoked",
        "DECLINED" => "declined",
        "UNDEFINED" => "not approved (unknown to the network)",
        _ => "not approved",
    };
    format!("{what}: {votes} node(s) answered {state}")
}
