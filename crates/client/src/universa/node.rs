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

use parsec1::universa::node::{self as protocol, NodeSession};
use parsec1::PrivateKey;
use parsec_boss::Value;
use tokio::sync::Mutex;

use super::topology::NodeInfo;
use crate::parsec1::HttpTransport;

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

/// A connection to one node: its session is made on the first command and kept.
pub struct Node {
    /// The node, as the topology lists it.
    pub info: NodeInfo,
    transport: HttpTransport,
    client_key: Arc<PrivateKey>,
    session: Mutex<Option<NodeSession>>,
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
        let body = protocol::encode(&params)?;
        let answer = self
            .transport
            .post_file(Some(path), protocol::FIELD, &body)
            .await
            .map_err(|e| e.to_string())?;
        protocol::response(path, &answer)
    }

    async fn handshake(&self) -> Result<NodeSession, String> {
        let hello = self
            .request("connect", protocol::connect_params(&self.client_key))
            .await?;
        let (pending, params) = protocol::get_token(&hello, &self.client_key)?;
        let token = self.request("get_token", params).await?;
        pending.receive(&token, &self.info.key, &self.client_key)
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
            let call = s
                .command_params(name, params.clone())
                .map_err(|e| self.error(e))?;
            let opened = match self.request("command", call).await {
                Ok(response) => s.open(name, &response),
                Err(e) => Err(e),
            };
            match opened {
                Ok(Ok(result)) => return Ok(result),
                Ok(Err(refusal)) => return Err(self.error(refusal)),
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
