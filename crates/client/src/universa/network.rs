//! Asking many nodes, and deciding as Universa's own clients decide (issue 17):
//!
//! - with N nodes, a contract is approved when APPROVED answers reach max(1, ⌈N·trust⌉);
//! - it is refused when negative answers (UNDEFINED, REVOKED, DECLINED, …) reach ⌊N·0.1⌋+1;
//! - PENDING and LOCKED states are asked again (after a pause), until the deadline;
//! - a node that fails, or answers `itemResult.errors`, is not counted either way; when too
//!   few are left to reach the quorum, the check fails as "not enough nodes".
//!
//! All nodes are asked at once, each with its own timeout, under one overall deadline. Every
//! check opens new sessions with the nodes: a node's answers carry nothing that ties them to
//! the question, so within a kept session an attacker on the path could replay an earlier
//! APPROVED answer to a later question. A new session's key is bound to our nonce and signed
//! by the node's key, so answers of another session do not decrypt.

use std::sync::Arc;
use std::time::Duration;

use parsec1::universa::node::{state_vote, Tally, Verdict, Vote};
use parsec1::PrivateKey;
use parsec_boss::Value;
use tokio::task::JoinSet;

use super::node::{Node, NodeError};
use super::topology::{NodeInfo, Topology};
use super::TrustError;

/// The environment variable with the trust level (a number in (0, 1]; default 0.5).
pub const TRUST_VARIABLE: &str = "UNIVERSA_TRUST_LEVEL";

/// How the network is asked.
#[derive(Clone, Debug)]
pub struct NetworkOptions {
    /// The share of the nodes whose APPROVED answer is needed, in (0, 1].
    pub trust: f64,
    /// Time allowed for one node request.
    pub request_timeout: Duration,
    /// Time allowed for a whole check.
    pub deadline: Duration,
    /// Pause before asking again a node that answered PENDING or LOCKED.
    pub pending_pause: Duration,
}

impl Default for NetworkOptions {
    fn default() -> NetworkOptions {
        NetworkOptions {
            trust: 0.5,
            request_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            pending_pause: Duration::from_secs(1),
        }
    }
}

impl NetworkOptions {
    /// The defaults, with the trust level of `UNIVERSA_TRUST_LEVEL` if set.
    pub fn from_env() -> Result<NetworkOptions, TrustError> {
        let mut options = NetworkOptions::default();
        if let Some(text) = std::env::var(TRUST_VARIABLE).ok().filter(|t| !t.is_empty()) {
            options.trust = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| *t > 0.0 && *t <= 1.0)
                .ok_or_else(|| {
                    TrustError::Topology(format!(
                        "{TRUST_VARIABLE}=`{text}`: expected a number above 0, at most 1"
                    ))
                })?;
        }
        Ok(options)
    }
}

/// The Universa network, as a topology's nodes.
pub struct Network {
    nodes: Vec<NodeInfo>,
    key: Arc<PrivateKey>,
    options: NetworkOptions,
}

impl Network {
    /// A network of the topology's nodes. Makes the client key its nodes know us by (an RSA
    /// key of this process, never stored).
    pub async fn new(topology: Topology, options: NetworkOptions) -> Result<Network, TrustError> {
        if !(options.trust > 0.0 && options.trust <= 1.0) {
            return Err(TrustError::Topology(format!(
                "trust level {}: expected a number above 0, at most 1",
                options.trust
            )));
        }
        let key = tokio::task::spawn_blocking(|| PrivateKey::generate(2048))
            .await
            .map_err(|e| TrustError::Topology(e.to_string()))?
            .map_err(|e| TrustError::Topology(format!("cannot make the client key: {e}")))?;
        // Every node must be reachable at a URL we can use.
        for info in &topology.nodes {
            let url = info.urls.first().map_or("", String::as_str);
            crate::parsec1::HttpTransport::new(url)
                .map_err(|e| TrustError::Topology(format!("node {}: {e}", info.number)))?;
        }
        Ok(Network {
            nodes: topology.nodes,
            key: Arc::new(key),
            options,
        })
    }

    /// New connections to every node, with sessions made on their first command.
    fn connect(&self) -> Vec<Arc<Node>> {
        self.nodes
            .iter()
            .filter_map(|info| {
                Node::new(info.clone(), self.key.clone(), self.options.request_timeout).ok()
            })
            .map(Arc::new)
            .collect()
    }

    /// The time allowed for one check.
    pub fn deadline(&self) -> Duration {
        self.options.deadline
    }

    /// The nodes' number.
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// APPROVED answers needed.
    pub fn needed(&self) -> usize {
        self.tally().needed()
    }

    /// Negative answers that refuse.
    pub fn refusing(&self) -> usize {
        self.tally().refusing()
    }

    fn tally(&self) -> Tally {
        Tally::new(self.nodes.len(), self.options.trust)
    }

    /// Checks that the item of HashId `id` is APPROVED by the quorum.
    pub async fn check_approved(&self, id: &[u8]) -> Result<(), TrustError> {
        let mut tally = self.tally();
        let params = Value::dict([("itemId", parsec1::universa::hash_id_value(id))]);
        let pause = self.options.pending_pause;
        let mut asks = JoinSet::new();
        for node in self.connect() {
            let params = params.clone();
            asks.spawn(async move { ask_state(&node, params, pause).await });
        }
        let deadline = tokio::time::Instant::now() + self.options.deadline;
        let verdict = loop {
            let joined = match tokio::time::timeout_at(deadline, asks.join_next()).await {
                Ok(Some(joined)) => joined,
                Ok(None) => break tally.not_enough(),
                Err(_) => {
                    return Err(TrustError::Timeout {
                        approved: tally.approved(),
                        needed: tally.needed(),
                        after: self.options.deadline,
                    })
                }
            };
            match tally.add(joined.unwrap_or_else(|e| Vote::Failed(e.to_string()))) {
                Verdict::Open => {}
                decided => break decided,
            }
        };
        match verdict {
            Verdict::Approved => Ok(()),
            Verdict::Refused { state, votes } => Err(TrustError::Refused { state, votes }),
            Verdict::NotEnough {
                approved,
                needed,
                failed,
                of,
                last,
            } => Err(TrustError::NotEnoughNodes {
                approved,
                needed,
                failed,
                of,
                last,
            }),
            Verdict::Open => unreachable!("the loop ends on a decision"),
        }
    }

    /// The name contracts the nodes hold for `name` (`queryNameContract {name, type: "UNS2"}`),
    /// each packed as a node returned it, distinct ones only, and why nodes failed.
    pub async fn name_contracts(&self, name: &str) -> (Vec<Vec<u8>>, Vec<NodeError>) {
        let params = Value::dict([
            ("name", Value::Text(name.to_string())),
            ("type", Value::Text("UNS2".into())),
        ]);
        let mut asks = JoinSet::new();
        for node in self.connect() {
            let params = params.clone();
            asks.spawn(async move { node.command("queryNameContract", params).await });
        }
        let (mut found, mut failed) = (Vec::<Vec<u8>>::new(), Vec::new());
        let _ = tokio::time::timeout(self.options.deadline, async {
            while let Some(joined) = asks.join_next().await {
                match joined {
                    Ok(Ok(answer)) => {
                        if let Some(packed) = answer.get("packedContract").and_then(Value::as_bytes)
                        {
                            if !found.iter().any(|f| f == packed) {
                                found.push(packed.to_vec());
                            }
                        }
                    }
                    Ok(Err(e)) => failed.push(e),
                    Err(e) => failed.push(NodeError {
                        node: "?".into(),
                        reason: e.to_string(),
                    }),
                }
            }
        })
        .await;
        (found, failed)
    }
}

/// Asks one node for an item's state, again while it is pending or locked.
async fn ask_state(node: &Node, params: Value, pause: Duration) -> Vote {
    loop {
        let answer = match node.command("getState", params.clone()).await {
            Ok(a) => a,
            Err(e) => return Vote::Failed(e.to_string()),
        };
        match state_vote(&node.info.name, &answer) {
            Vote::Pending => tokio::time::sleep(pause).await,
            vote => return vote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trust_levels_out_of_range_are_refused() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let options = NetworkOptions {
                trust: bad,
                ..NetworkOptions::default()
            };
            let e = Network::new(Topology::mainnet(), options).await.err();
            assert!(
                matches!(e, Some(TrustError::Topology(ref t)) if t.contains("trust level")),
                "{bad}: {e:?}"
            );
        }
    }
}
