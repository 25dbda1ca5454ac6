//! One Universa node, as its client protocol reaches it (over HTTP, parameters as the BOSS
//! multipart file field `requestData`; every answer `{result: "ok", response}`):
//!
//! 1. `/connect {client_key, client_version: 3}` → `{server_nonce, session_id}`;
//! 2. `/get_token {data: BOSS{client_nonce, server_nonce, client_version, server_version},
//!    signature, session_id}`, signed by our key (RSA-PSS SHA-512) → `{data: BOSS{client_nonce,
//!    encrypted_token}, signature}` signed by the node's key from the topology;
//!    `encrypted_token` is RSA-OAEP (SHA-1) of `BOSS{sk}` to our key;
//! 3. `/command {command: "command", params: EtA(sk, BOSS{command, params}), session_id}` →
//!    `{result: EtA(sk, BOSS{result} | BOSS{error})}`.

use std::sync::Arc;
use std::time::Duration;

use parsec1::{PrivateKey, PssHash, SymmetricKey};
use parsec_boss::{Limits, Value};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::topology::NodeInfo;
use crate::parsec1::HttpTransport;

const CLIENT_VERSION: i128 = 3;
/// Largest node answer decoded (a contract is under 64 KiB; a node limits its own).
const MAX_ANSWER: usize = 1 << 20;
/// Most items a node answer decodes to (a packed contract is one binary item).
const MAX_ITEMS: usize = 4096;

/// Why a node did not answer usefully. Never a verdict on a contract: the network decides by
/// the answers of many nodes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("node {node}: {reason}")]
pub struct NodeError {
    /// The node's name (or number and address).
    pub node: String,
    /// What went wrong.
    pub reason: String,
}

struct NodeSession {
    id: Value,
    sk: SymmetricKey,
}

/// A connection to one node: its session is made on the first command and kept.
pub struct Node {
    /// The node, as the topology lists it.
    pub info: NodeInfo,
    transport: HttpTransport,
    client_key: Arc<PrivateKey>,
    session: Mutex<Option<NodeSession>>,
}

fn decode(bytes: &[u8]) -> Result<Value, String> {
    let limits = Limits {
        max_size: MAX_ANSWER,
        max_elements: MAX_ITEMS,
        ..Limits::default()
    };
    parsec_boss::decode_with(bytes, limits).map_err(|e| format!("an answer that is not BOSS: {e}"))
}

fn encode(v: &Value) -> Result<Vec<u8>, String> {
    parsec_boss::encode(v).map_err(|e| e.to_string())
}

fn bin<'a>(v: &'a Value, key: &str) -> Result<&'a [u8], String> {
    v.get(key)
        .and_then(Value::as_bytes)
        .ok_or_else(|| format!("`{key}` missing from the answer"))
}

impl Node {
    /// A node reached at its first URL, within `timeout` per request.
    pub fn new(
        info: NodeInfo,
        client_key: Arc<PrivateKey>,
        timeout: Duration,
    ) -> Result<Node, NodeError> {
        let url = info.urls.first().cloned().unwrap_or_default();
        let transport = HttpTransport::new(&url)
            .map_err(|e| NodeError {
                node: info.name.clone(),
                reason: e.to_string(),
            })?
            .with_timeout(timeout);
        Ok(Node {
            info,
            transport,
            client_key,
            session: Mutex::new(None),
        })
    }

    fn error(&self, reason: impl Into<String>) -> NodeError {
        let node = if self.info.name.is_empty() {
            format!("#{} ({})", self.info.number, self.transport.authority())
        } else {
            self.info.name.clone()
        };
        NodeError {
            node,
            reason: reason.into(),
        }
    }

    /// One request: `params` as BOSS in the file field `requestData` → the `response`.
    async fn request(&self, path: &str, params: Value) -> Result<Value, String> {
        let body = encode(&params)?;
        let answer = self
            .transport
            .post_file(Some(path), "requestData", &body)
            .await
            .map_err(|e| e.to_string())?;
        let answer = decode(&answer)?;
        match answer.get("result").and_then(Value::as_str) {
            Some("ok") => answer
                .get("response")
                .cloned()
                .ok_or_else(|| "`response` missing".to_string()),
            _ => {
                let text = answer
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                Err(format!("refused /{path}: {text}"))
            }
        }
    }

    async fn handshake(&self) -> Result<NodeSession, String> {
        let client_public = self.client_key.public_key();
        let hello = self
            .request(
                "connect",
                Value::dict([
                    ("client_key", Value::Bin(client_public.pack())),
                    ("client_version", Value::Int(CLIENT_VERSION)),
                ]),
            )
            .await?;
        let server_nonce = bin(&hello, "server_nonce")?.to_vec();
        let session_id = hello
            .get("session_id")
            .cloned()
            .ok_or("`session_id` missing")?;
        let server_version = hello
            .get("server_version")
            .and_then(Value::as_int)
            .unwrap_or(1);
        if server_version < 2 {
            // Version 1 sessions are AES-CTR without a MAC: refused.
            return Err(format!(
                "protocol version {server_version}, which has no authentication of commands"
            ));
        }
        let mut client_nonce = [0u8; 47];
        aws_lc_rs::rand::fill(&mut client_nonce)
            .map_err(|_| "the system random generator failed")?;
        let data = encode(&Value::dict([
            ("client_nonce", Value::Bin(client_nonce.to_vec())),
            ("server_nonce", Value::Bin(server_nonce)),
            ("client_version", Value::Int(CLIENT_VERSION)),
            ("server_version", Value::Int(server_version)),
        ]))?;
        let signature = self
            .client_key
            .sign_pss_with(PssHash::Sha512, &data)
            .map_err(|e| e.to_string())?;
        let token = self
            .request(
                "get_token",
                Value::dict([
                    ("data", Value::Bin(data)),
                    ("signature", Value::Bin(signature)),
                    ("session_id", session_id.clone()),
                ]),
            )
            .await?;
        let signed = bin(&token, "data")?;
        self.info
            .key
            .verify_pss_with(PssHash::Sha512, signed, bin(&token, "signature")?)
            .map_err(|_| "its token is not signed by the node's key in the topology")?;
        let inner = decode(signed)?;
        if bin(&inner, "client_nonce")? != client_nonce {
            return Err("its token answers another nonce".into());
        }
        let token = self
            .client_key
            .decrypt_oaep(bin(&inner, "encrypted_token")?)
            .map_err(|e| format!("its token does not decrypt: {e}"))?;
        let token = Zeroizing::new(decode(&token)?);
        let sk = SymmetricKey::from_slice(bin(&token, "sk")?).map_err(|e| e.to_string())?;
        Ok(NodeSession { id: session_id, sk })
    }

    /// Runs a command: `Ok(result)`, or the node's refusal or failure as an error.
    pub async fn command(&self, name: &str, params: Value) -> Result<Value, NodeError> {
        let mut session = self.session.lock().await;
        // A kept session that fails gets one replacement: the node may have dropped it.
        let mut retry = session.is_some();
        loop {
            if session.is_none() {
                *session = Some(self.handshake().await.map_err(|e| self.error(e))?);
            }
            let s = session.as_ref().expect("made above");
            let call = encode(&Value::dict([
                ("command", Value::Text(name.to_string())),
                ("params", params.clone()),
            ]))
            .map_err(|e| self.error(e))?;
            let sealed = s.sk.encrypt(&call).map_err(|e| self.error(e.to_string()))?;
            let answer = self
                .request(
                    "command",
                    Value::dict([
                        ("command", Value::Text("command".into())),
                        ("params", Value::Bin(sealed)),
                        ("session_id", s.id.clone()),
                    ]),
                )
                .await;
            let opened = answer.and_then(|a| {
                let result = bin(&a, "result")?;
                let plain =
                    s.sk.decrypt(result)
                        .map_err(|_| "an answer that fails its MAC".to_string())?;
                decode(&plain)
            });
            match opened {
                Ok(inner) => {
                    if let Some(result) = inner.get("result") {
                        return Ok(result.clone());
                    }
                    let error = inner.get("error").map_or_else(
                        || "an answer with neither result nor error".to_string(),
                        |e| {
                            let text = |k| e.get(k).and_then(Value::as_str).unwrap_or("");
                            format!("{} {} {}", text("error"), text("object"), text("message"))
                                .trim()
                                .to_string()
                        },
                    );
                    return Err(self.error(format!("`{name}` refused: {error}")));
                }
                Err(_) if retry => {
                    retry = false;
                    *session = None;
                }
                Err(e) => {
                    *session = None;
                    return Err(self.error(e));
                }
            }
        }
    }
}
