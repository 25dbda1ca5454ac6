//! Parsec 1.2 in the page: the service is trusted by the origin of its Universa contract. The
//! service sends the contract (`getServiceContract`), it is checked here
//! ([`parsec1::universa::check_contract`]: origin, signatures, signers' roles, the `parsec`
//! section), and the Universa nodes of a topology are asked whether that revision is APPROVED
//! (the node protocol and quorum of [`parsec1::universa::node`], over the page's `fetch`); the
//! contract's non-test key addresses (test ones in test mode) are then the trusted keys.
//!
//! Every check opens new sessions with the nodes (an answer recorded in one session cannot be
//! replayed into the next), asks them all at once, and ends at the quorum, at a refusal, or at
//! the deadline.

use std::pin::pin;

use futures_util::future::{select, Either};
use futures_util::stream::{FuturesUnordered, StreamExt};
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use parsec1::universa::node::{self as protocol, state_vote, Tally, Verdict, Vote};
use parsec1::universa::{check_contract, hash_id_value, Pack, Refusal};
use parsec1::{hash_id, KeyAddress, PrivateKey, PublicKey};
use parsec_boss::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Most nodes taken from a topology (the mainnet has 33).
const MAX_NODES: usize = 256;
/// Largest contract accepted from a service.
const MAX_CONTRACT: usize = 256 << 10;

/// One node of the topology.
struct NodeInfo {
    name: String,
    key: PublicKey,
    url: String,
}

/// The Universa network as the page reaches it.
pub struct Network {
    nodes: Vec<NodeInfo>,
    trust: f64,
    deadline_ms: f64,
    pause_ms: f64,
    /// `(url, bytes) → Promise<Uint8Array>`: POST `bytes` as the multipart file `requestData`.
    post_file: Function,
}

fn text_of(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| "the request failed".into())
}

fn get(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Resolves after `ms` milliseconds (the page's `setTimeout`).
async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _| {
        let set_timeout = get(&js_sys::global(), "setTimeout");
        if let Some(f) = set_timeout.dyn_ref::<Function>() {
            let _ = f.call2(&JsValue::NULL, &resolve, &JsValue::from_f64(ms));
        }
    });
    let _ = JsFuture::from(promise).await;
}

impl Network {
    /// The nodes of a topology object (`{list: [{number, name, key, direct_urls,
    /// domain_urls}]}`, universa-core's `mainnet.json` format).
    pub fn new(
        topology: &JsValue,
        trust: f64,
        deadline_ms: f64,
        post_file: Function,
    ) -> Result<Network, String> {
        let list = get(topology, "list");
        if !Array::is_array(&list) {
            return Err("the topology has no `list` of nodes".into());
        }
        let list = Array::from(&list);
        let count = list.length() as usize;
        if count == 0 || count > MAX_NODES {
            return Err(format!("{count} nodes; a topology has 1 to {MAX_NODES}"));
        }
        let mut nodes: Vec<NodeInfo> = Vec::new();
        for (i, node) in list.iter().enumerate() {
            let number = get(&node, "number").as_f64().unwrap_or(i as f64 + 1.0);
            let name = get(&node, "name")
                .as_string()
                .unwrap_or_else(|| format!("#{number}"));
            let key = get(&node, "key")
                .as_string()
                .and_then(|k| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(k).ok()
                })
                .and_then(|k| PublicKey::unpack(&k).ok())
                .ok_or_else(|| format!("node {number}: `key` is not a packed RSA key"))?;
            let urls: Vec<String> = ["direct_urls", "domain_urls"]
                .iter()
                .flat_map(|field| {
                    let urls = get(&node, field);
                    if Array::is_array(&urls) {
                        Array::from(&urls).iter().collect::<Vec<_>>()
                    } else {
                        Vec::new()
                    }
                })
                .filter_map(|u| u.as_string())
                .filter(|u| !u.is_empty())
                .collect();
            // HTTPS first: an HTTPS page may not call plain HTTP, and plain HTTP is open to
            // anyone on the path (the answers are signed and encrypted, but can be withheld).
            let url = urls
                .iter()
                .find(|u| u.starts_with("https://"))
                .or_else(|| urls.first())
                .cloned()
                .ok_or_else(|| format!("node {number}: no URL"))?;
            // One node listed twice would vote twice.
            if nodes.iter().any(|n| n.key == key || n.url == url) {
                return Err(format!(
                    "node {number} shares a key or a URL with another: it would count twice"
                ));
            }
            nodes.push(NodeInfo { name, key, url });
        }
        if !(trust > 0.0 && trust <= 1.0) {
            return Err(format!("trust level {trust}: expected above 0, at most 1"));
        }
        Ok(Network {
            nodes,
            trust,
            deadline_ms,
            pause_ms: 1000.0,
            post_file,
        })
    }

    async fn request(&self, node: &NodeInfo, path: &str, params: Value) -> Result<Value, String> {
        let body = protocol::encode(&params)?;
        let url = format!("{}/{path}", node.url.trim_end_matches('/'));
        let promise = self
            .post_file
            .call2(
                &JsValue::NULL,
                &url.into(),
                &Uint8Array::from(body.as_slice()),
            )
            .map_err(|e| text_of(&e))?;
        let answer = JsFuture::from(Promise::resolve(&promise))
            .await
            .map_err(|e| format!("{}: {}", node.name, text_of(&e)))?;
        let bytes = answer
            .dyn_into::<Uint8Array>()
            .map_err(|_| "postFile must resolve to a Uint8Array".to_string())?
            .to_vec();
        protocol::response(path, &bytes).map_err(|e| format!("{}: {e}", node.name))
    }

    /// One command on a new session with `node`.
    async fn command(
        &self,
        node: &NodeInfo,
        key: &PrivateKey,
        name: &str,
        params: Value,
    ) -> Result<Value, String> {
        let hello = self
            .request(node, "connect", protocol::connect_params(key))
            .await?;
        let (pending, p) = protocol::get_token(&hello, key)?;
        let token = self.request(node, "get_token", p).await?;
        let session = pending
            .receive(&token, &node.key, key)
            .map_err(|e| format!("{}: {e}", node.name))?;
        let call = session.command_params(name, params)?;
        let response = self.request(node, "command", call).await?;
        match session.open(name, &response) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(refusal)) | Err(refusal) => Err(format!("{}: {refusal}", node.name)),
        }
    }

    async fn ask_state(&self, node: &NodeInfo, key: &PrivateKey, params: &Value) -> Vote {
        loop {
            match self.command(node, key, "getState", params.clone()).await {
                Err(e) => return Vote::Failed(e),
                Ok(answer) => match state_vote(&node.name, &answer) {
                    Vote::Pending => sleep(self.pause_ms).await,
                    vote => return vote,
                },
            }
        }
    }

    /// Whether the quorum holds the item `id` APPROVED; the reason in words when not.
    pub async fn check_approved(&self, id: &[u8], key: &PrivateKey) -> Result<(), String> {
        let mut tally = Tally::new(self.nodes.len(), self.trust);
        let params = Value::dict([("itemId", hash_id_value(id))]);
        let mut asks: FuturesUnordered<_> = self
            .nodes
            .iter()
            .map(|node| self.ask_state(node, key, &params))
            .collect();
        let counting = async {
            while let Some(vote) = asks.next().await {
                match tally.add(vote) {
                    Verdict::Open => {}
                    decided => return decided,
                }
            }
            tally.not_enough()
        };
        let verdict = match select(pin!(counting), pin!(sleep(self.deadline_ms))).await {
            Either::Left((verdict, _)) => verdict,
            Either::Right(((), _)) => {
                return Err(format!(
                    "not approved within {} s",
                    (self.deadline_ms / 1000.0).round()
                ))
            }
        };
        describe(verdict)
    }
}

/// The verdict in words, as the Rust client's `TrustError` says it.
fn describe(verdict: Verdict) -> Result<(), String> {
    match verdict {
        Verdict::Approved => Ok(()),
        Verdict::Refused { state, votes } => {
            let what = match state.as_str() {
                "REVOKED" => "revoked",
                "DECLINED" => "declined",
                "UNDEFINED" => "not approved (unknown to the network)",
                _ => "not approved",
            };
            Err(format!("{what}: {votes} node(s) answered {state}"))
        }
        Verdict::NotEnough {
            approved,
            needed,
            failed,
            of,
            last,
        } => Err(format!(
            "not enough nodes: {approved} approved of the {needed} needed, {failed} of {of} \
             nodes failed (last: {last})"
        )),
        Verdict::Open => Err("undecided".into()),
    }
}

/// What a contract check needs: the trusted origin and the network.
pub struct ContractSource {
    pub origin: Vec<u8>,
    pub network: Network,
}

impl ContractSource {
    /// Parses the origin (Base64 HashId).
    pub fn new(origin: &str, network: Network) -> Result<ContractSource, String> {
        let origin = hash_id::from_base64(origin.trim()).ok_or_else(|| {
            format!("contract origin `{origin}`: not the Base64 of a 96-byte HashId")
        })?;
        Ok(ContractSource { origin, network })
    }

    /// Checks the contract the service sent as `answer` to `getServiceContract`, and that the
    /// network approves it; its trusted key addresses.
    pub async fn check(
        &self,
        answer: &Value,
        key: &PrivateKey,
        test_mode: bool,
    ) -> Result<Vec<KeyAddress>, String> {
        let bytes = match answer.get("serviceContract").and_then(Value::as_bytes) {
            Some(b) if b.len() <= MAX_CONTRACT => b,
            Some(b) => {
                return Err(format!(
                    "the service sent a contract of {} bytes, more than any service contract",
                    b.len()
                ))
            }
            None => return Err("the service sent no contract".into()),
        };
        let pack = Pack::read(bytes).map_err(|e| format!("bad signature or contract: {e}"))?;
        let (_, section) = check_contract(&pack, Some(&self.origin)).map_err(|r| match r {
            Refusal::WrongOrigin { expected, got } => format!(
                "wrong origin: the service's contract belongs to {}, not to the trusted {}",
                hash_id::to_base64(&got),
                hash_id::to_base64(&expected)
            ),
            Refusal::Bad(reason) => format!("bad signature or contract: {reason}"),
        })?;
        self.network
            .check_approved(&pack.contract.hash_id, key)
            .await?;
        let addresses = section.trusted_addresses(test_mode);
        if addresses.is_empty() {
            return Err(format!(
                "no usable key: the contract lists no {} service key address",
                if test_mode {
                    "(test or live)"
                } else {
                    "non-test"
                }
            ));
        }
        Ok(addresses)
    }
}
