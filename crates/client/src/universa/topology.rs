//! Universa node lists: the format of universa-core's `mainnet.json`,
//! `{list: [{number, name, key: <Base64 packed RSA public key>, direct_urls, domain_urls}]}`.
//!
//! A copy of the public mainnet list (33 nodes, as universa-core 1.6.4 ships it) is built in;
//! `UNIVERSA_TOPOLOGY` names another file.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parsec1::PublicKey;

use super::TrustError;

/// The environment variable naming a topology file that replaces the built-in mainnet list.
pub const TOPOLOGY_VARIABLE: &str = "UNIVERSA_TOPOLOGY";

/// Largest topology file read.
const MAX_FILE: u64 = 1 << 20;
/// Most nodes taken from a topology (the mainnet has 33).
const MAX_NODES: usize = 256;

const MAINNET: &str = include_str!("mainnet.json");

/// One node: its number and name, the key it signs with, and where to reach it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Its number in the network.
    pub number: i64,
    /// Its name (a host name on the mainnet).
    pub name: String,
    /// The key it signs its answers with.
    pub key: PublicKey,
    /// `direct_urls` first (plain HTTP to an IP address), then `domain_urls`.
    pub urls: Vec<String>,
}

/// A list of nodes.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The nodes, in the file's order.
    pub nodes: Vec<NodeInfo>,
}

fn bad(what: impl std::fmt::Display) -> TrustError {
    TrustError::Topology(what.to_string())
}

impl Topology {
    /// The built-in copy of the public mainnet list.
    pub fn mainnet() -> Topology {
        Topology::parse(MAINNET).expect("the built-in topology parses")
    }

    /// The file of `UNIVERSA_TOPOLOGY` if set, else the mainnet list.
    pub fn from_env() -> Result<Topology, TrustError> {
        match std::env::var_os(TOPOLOGY_VARIABLE).filter(|v| !v.is_empty()) {
            Some(path) => Topology::load(Path::new(&path)),
            None => Ok(Topology::mainnet()),
        }
    }

    /// Reads a topology file.
    pub fn load(path: &Path) -> Result<Topology, TrustError> {
        let size = std::fs::metadata(path)
            .map_err(|e| bad(format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_FILE {
            return Err(bad(format!(
                "{}: {size} bytes, more than a topology",
                path.display()
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        Topology::parse(&text).map_err(|e| bad(format!("{}: {e}", path.display())))
    }

    /// Reads a topology from its JSON text.
    pub fn parse(text: &str) -> Result<Topology, TrustError> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let list = json
            .get("list")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad("no `list` of nodes"))?;
        if list.is_empty() || list.len() > MAX_NODES {
            return Err(bad(format!(
                "{} nodes; a topology has 1 to {MAX_NODES}",
                list.len()
            )));
        }
        let nodes = list
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let number = node
                    .get("number")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(i as i64 + 1);
                let name = node
                    .get("name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let key = node
                    .get("key")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|k| BASE64.decode(k).ok())
                    .and_then(|k| PublicKey::unpack(&k).ok())
                    .ok_or_else(|| bad(format!("node {number}: `key` is not a packed RSA key")))?;
                let mut urls = Vec::new();
                for field in ["direct_urls", "domain_urls"] {
                    for url in node
                        .get(field)
                        .and_then(serde_json::Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                    {
                        if let Some(url) = url.as_str().filter(|u| !u.is_empty()) {
                            urls.push(url.to_string());
                        }
                    }
                }
                if urls.is_empty() {
                    return Err(bad(format!("node {number}: no URL")));
                }
                Ok(NodeInfo {
                    number,
                    name,
                    key,
                    urls,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // One node listed twice would vote twice.
        for (i, n) in nodes.iter().enumerate() {
            for other in &nodes[..i] {
                if other.key == n.key || other.urls.iter().any(|u| n.urls.contains(u)) {
                    return Err(bad(format!(
                        "nodes {} and {} share a key or a URL: one node would count twice",
                        other.number, n.number
                    )));
                }
            }
        }
        Ok(Topology { nodes })
    }

    /// The topology as JSON, in the same format.
    pub fn to_json(&self) -> String {
        let list: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| {
                let (direct, domain): (Vec<&String>, Vec<&String>) =
                    n.urls.iter().partition(|u| u.starts_with("http://"));
                serde_json::json!({
                    "number": n.number,
                    "name": n.name,
                    "key": BASE64.encode(n.key.pack()),
                    "direct_urls": direct,
                    "domain_urls": if domain.is_empty() { direct.clone() } else { domain },
                })
            })
            .collect();
        serde_json::json!({ "list": list }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_mainnet_list_reads() {
        let t = Topology::mainnet();
        assert_eq!(t.nodes.len(), 33);
        assert!(t.nodes.iter().all(|n| n.key.bits() >= 2048));
        assert!(t.nodes[0].urls[0].starts_with("http://"));
        let again = Topology::parse(&t.to_json()).unwrap();
        assert_eq!(again.nodes.len(), 33);
        assert_eq!(again.nodes[5].key, t.nodes[5].key);
    }

    #[test]
    fn bad_topologies_are_refused_with_the_reason() {
        for (text, reason) in [
            ("", "not JSON"),
            ("{}", "list"),
            (r#"{"list": []}"#, "1 to"),
            (
                r#"{"list": [{"number": 4, "key": "AAAA", "direct_urls": ["http://x"]}]}"#,
                "node 4",
            ),
        ] {
            let e = Topology::parse(text).unwrap_err().to_string();
            assert!(e.contains(reason), "{text}: {e}");
        }
        let key = BASE64.encode(Topology::mainnet().nodes[0].key.pack());
        let twice = format!(
            r#"{{"list": [{{"number": 1, "key": "{key}", "direct_urls": ["http://192.0.2.1:1"]}},
                          {{"number": 2, "key": "{key}", "direct_urls": ["http://192.0.2.2:1"]}}]}}"#
        );
        assert!(Topology::parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("count twice"));
        let no_url = format!(r#"{{"list": [{{"number": 2, "key": "{key}"}}]}}"#);
        assert!(Topology::parse(&no_url)
            .unwrap_err()
            .to_string()
            .contains("no URL"));
    }
}
