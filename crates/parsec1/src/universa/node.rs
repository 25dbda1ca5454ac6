//! The Universa node client protocol, without I/O: the bodies a client sends and what it checks
//! in the answers. The caller sends each request to the node's URL and path, as the BOSS
//! multipart file field `requestData` (every answer is `{result: "ok", response}`):
//!
//! 1. `/connect` [`connect_params`] → `{server_nonce, session_id}`;
//! 2. `/get_token` [`get_token`]: `{data: BOSS{client_nonce, server_nonce, client_version,
//!    server_version}, signature, session_id}`, signed by the client's key (RSA-PSS SHA-512) →
//!    `{data: BOSS{client_nonce, encrypted_token}, signature}` signed by the node's key from the
//!    topology; `encrypted_token` is RSA-OAEP (SHA-1) of `BOSS{sk}` to the client's key
//!    ([`TokenRequest::receive`]);
//! 3. `/command` [`NodeSession::command_params`]: `{command: "command", params: EtA(sk,
//!    BOSS{command, params}), session_id}` → `{result: EtA(sk, BOSS{result} | BOSS{error})}`
//!    ([`NodeSession::open`]).
//!
//! Answers say nothing that ties them to the question: a session must not be kept from one
//! check to the next (see the client's `universa::network`).

use parsec_boss::{Limits, Value};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::{PrivateKey, PssHash, PublicKey, SymmetricKey};

/// The protocol version this client speaks.
pub const CLIENT_VERSION: i128 = 3;
/// Largest node answer decoded (a contract is under 64 KiB; a node limits its own).
pub const MAX_ANSWER: usize = 1 << 20;
/// Most items a node answer decodes to (a packed contract is one binary item).
pub const MAX_ITEMS: usize = 4096;
/// The multipart file field of every request.
pub const FIELD: &str = "requestData";

/// Decodes a node's BOSS within the answer limits.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let limits = Limits {
        max_size: MAX_ANSWER,
        max_elements: MAX_ITEMS,
        ..Limits::default()
    };
    parsec_boss::decode_with(bytes, limits).map_err(|e| format!("an answer that is not BOSS: {e}"))
}

/// The BOSS bytes of a request's parameters.
pub fn encode(v: &Value) -> Result<Vec<u8>, String> {
    parsec_boss::encode(v).map_err(|e| e.to_string())
}

fn bin<'a>(v: &'a Value, key: &str) -> Result<&'a [u8], String> {
    v.get(key)
        .and_then(Value::as_bytes)
        .ok_or_else(|| format!("`{key}` missing from the answer"))
}

/// The `response` of an answer body to `/path`, or the node's refusal.
pub fn response(path: &str, body: &[u8]) -> Result<Value, String> {
    let answer = decode(body)?;
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

/// The `/connect` parameters for the client key.
pub fn connect_params(client_key: &PrivateKey) -> Value {
    Value::dict([
        ("client_key", Value::Bin(client_key.public_key().pack())),
        ("client_version", Value::Int(CLIENT_VERSION)),
    ])
}

/// Waits for the `/get_token` answer.
pub struct TokenRequest {
    client_nonce: [u8; 47],
    session_id: Value,
}

/// After the `/connect` response `hello`: the `/get_token` parameters.
pub fn get_token(hello: &Value, client_key: &PrivateKey) -> Result<(TokenRequest, Value), String> {
    let server_nonce = bin(hello, "server_nonce")?.to_vec();
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
    OsRng
        .try_fill_bytes(&mut client_nonce)
        .map_err(|_| "the system random generator failed")?;
    let data = encode(&Value::dict([
        ("client_nonce", Value::Bin(client_nonce.to_vec())),
        ("server_nonce", Value::Bin(server_nonce)),
        ("client_version", Value::Int(CLIENT_VERSION)),
        ("server_version", Value::Int(server_version)),
    ]))?;
    let signature = client_key
        .sign_pss_with(PssHash::Sha512, &data)
        .map_err(|e| e.to_string())?;
    let params = Value::dict([
        ("data", Value::Bin(data)),
        ("signature", Value::Bin(signature)),
        ("session_id", session_id.clone()),
    ]);
    Ok((
        TokenRequest {
            client_nonce,
            session_id,
        },
        params,
    ))
}

impl TokenRequest {
    /// Checks the `/get_token` response (signed by `node_key`, for our nonce) and opens the
    /// session key it carries.
    pub fn receive(
        self,
        token: &Value,
        node_key: &PublicKey,
        client_key: &PrivateKey,
    ) -> Result<NodeSession, String> {
        let signed = bin(token, "data")?;
        node_key
            .verify_pss_with(PssHash::Sha512, signed, bin(token, "signature")?)
            .map_err(|_| "its token is not signed by the node's key in the topology")?;
        let inner = decode(signed)?;
        if bin(&inner, "client_nonce")? != self.client_nonce {
            return Err("its token answers another nonce".into());
        }
        let token = client_key
            .decrypt_oaep(bin(&inner, "encrypted_token")?)
            .map_err(|e| format!("its token does not decrypt: {e}"))?;
        let token = Zeroizing::new(decode(&token)?);
        let sk = SymmetricKey::from_slice(bin(&token, "sk")?).map_err(|e| e.to_string())?;
        Ok(NodeSession {
            id: self.session_id,
            sk,
        })
    }
}

/// A session with one node.
pub struct NodeSession {
    id: Value,
    sk: SymmetricKey,
}

impl NodeSession {
    /// The `/command` parameters of command `name`.
    pub fn command_params(&self, name: &str, params: Value) -> Result<Value, String> {
        let call = encode(&Value::dict([
            ("command", Value::Text(name.to_string())),
            ("params", params),
        ]))?;
        let sealed = self.sk.encrypt(&call).map_err(|e| e.to_string())?;
        Ok(Value::dict([
            ("command", Value::Text("command".into())),
            ("params", Value::Bin(sealed)),
            ("session_id", self.id.clone()),
        ]))
    }

    /// The `/command` response of command `name`: `Ok(Ok(result))`, `Ok(Err(refusal))` when
    /// the node answered with an error, `Err` when the answer does not open (the session is of
    /// no more use).
    pub fn open(&self, name: &str, response: &Value) -> Result<Result<Value, String>, String> {
        let result = bin(response, "result")?;
        let plain = self
            .sk
            .decrypt(result)
            .map_err(|_| "an answer that fails its MAC".to_string())?;
        let inner = decode(&plain)?;
        if let Some(result) = inner.get("result") {
            return Ok(Ok(result.clone()));
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
        Ok(Err(format!("`{name}` refused: {error}")))
    }
}

/// What one node said of an item's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vote {
    Approved,
    /// UNDEFINED, REVOKED, DECLINED, …
    Negative(String),
    /// The node failed, or its query failed: counted neither way.
    Failed(String),
    /// PENDING or LOCKED: ask again after a pause.
    Pending,
}

/// What a `getState` result says.
pub fn state_vote(node: &str, answer: &Value) -> Vote {
    let Some(item) = answer.get("itemResult") else {
        return Vote::Failed(format!("{node}: no itemResult"));
    };
    if item
        .get("errors")
        .and_then(Value::as_list)
        .is_some_and(|e| !e.is_empty())
    {
        return Vote::Failed(format!("{node}: the query failed"));
    }
    let Some(state) = item.get("state").and_then(Value::as_str) else {
        return Vote::Failed(format!("{node}: no state"));
    };
    match state {
        "APPROVED" => Vote::Approved,
        s if s.starts_with("PENDING") || s.starts_with("LOCKED") => Vote::Pending,
        s => Vote::Negative(s.to_string()),
    }
}

/// The quorum rule of Universa's own clients, over the answers of `n` nodes: approved when
/// APPROVED answers reach max(1, ⌈n·trust⌉), refused when negative answers reach ⌊n/10⌋+1.
#[derive(Debug, Clone)]
pub struct Tally {
    n: usize,
    needed: usize,
    refusing: usize,
    approved: usize,
    negative: Vec<String>,
    failed: Vec<String>,
}

/// Where a tally stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    /// The state most negative answers gave, and how many negative answers there were.
    Refused {
        state: String,
        votes: usize,
    },
    /// Too many nodes failed for the rest to reach the quorum.
    NotEnough {
        approved: usize,
        needed: usize,
        failed: usize,
        of: usize,
        last: String,
    },
    /// Not decided yet.
    Open,
}

impl Tally {
    /// A tally over `n` nodes with the trust level `trust` (in (0, 1]; anything else, NaN
    /// included, is taken as 1: every node must approve, never fewer than meant).
    pub fn new(n: usize, trust: f64) -> Tally {
        let trust = if trust > 0.0 && trust <= 1.0 {
            trust
        } else {
            1.0
        };
        Tally {
            n,
            needed: ((n as f64 * trust).ceil() as usize).max(1),
            refusing: n / 10 + 1,
            approved: 0,
            negative: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// APPROVED answers needed.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Negative answers that refuse.
    pub fn refusing(&self) -> usize {
        self.refusing
    }

    /// APPROVED answers so far.
    pub fn approved(&self) -> usize {
        self.approved
    }

    /// Counts a final vote (never [`Vote::Pending`], which is asked again) and says where the
    /// tally stands.
    pub fn add(&mut self, vote: Vote) -> Verdict {
        match vote {
            Vote::Approved => self.approved += 1,
            Vote::Negative(state) => self.negative.push(state),
            Vote::Failed(reason) => self.failed.push(reason),
            Vote::Pending => {}
        }
        if self.approved >= self.needed {
            return Verdict::Approved;
        }
        if self.negative.len() >= self.refusing {
            let mut best = (String::new(), 0);
            for s in &self.negative {
                let count = self.negative.iter().filter(|t| *t == s).count();
                if count > best.1 {
                    best = (s.clone(), count);
                }
            }
            return Verdict::Refused {
                state: best.0,
                votes: self.negative.len(),
            };
        }
        let open = self
            .n
            .saturating_sub(self.approved + self.negative.len() + self.failed.len());
        if self.approved + open < self.needed {
            return self.not_enough();
        }
        Verdict::Open
    }

    /// The verdict when no more answers will come.
    pub fn not_enough(&self) -> Verdict {
        Verdict::NotEnough {
            approved: self.approved,
            needed: self.needed,
            failed: self.failed.len(),
            of: self.n,
            last: self.failed.last().cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quorum_rule() {
        let mut t = Tally::new(4, 0.5);
        assert_eq!((t.needed(), t.refusing()), (2, 1));
        assert_eq!(t.add(Vote::Approved), Verdict::Open);
        assert_eq!(t.add(Vote::Approved), Verdict::Approved);
        let mut t = Tally::new(4, 0.5);
        assert!(matches!(
            t.add(Vote::Negative("REVOKED".into())),
            Verdict::Refused { ref state, votes: 1 } if state == "REVOKED"
        ));
        let mut t = Tally::new(4, 0.5);
        for _ in 0..2 {
            assert_eq!(t.add(Vote::Failed("down".into())), Verdict::Open);
        }
        assert!(matches!(
            t.add(Vote::Failed("down".into())),
            Verdict::NotEnough { failed: 3, .. }
        ));
        // Thirty-three nodes at 0.5: 17 approvals, 4 negatives.
        let t = Tally::new(33, 0.5);
        assert_eq!((t.needed(), t.refusing()), (17, 4));
        assert_eq!(Tally::new(1, 0.01).needed(), 1);
        // Out-of-range levels ask for every node, never fewer.
        for bad in [f64::NAN, 0.0, -1.0, 2.0] {
            assert_eq!(Tally::new(4, bad).needed(), 4, "{bad}");
        }
    }

    #[test]
    fn state_answers() {
        let item = |state: &str| {
            Value::dict([(
                "itemResult",
                Value::dict([("state", Value::Text(state.into()))]),
            )])
        };
        assert_eq!(state_vote("n", &item("APPROVED")), Vote::Approved);
        assert_eq!(state_vote("n", &item("PENDING_POSITIVE")), Vote::Pending);
        assert_eq!(state_vote("n", &item("LOCKED")), Vote::Pending);
        assert_eq!(
            state_vote("n", &item("REVOKED")),
            Vote::Negative("REVOKED".into())
        );
        let failed = Value::dict([(
            "itemResult",
            Value::dict([
                ("state", Value::Text("UNDEFINED".into())),
                ("errors", Value::List(vec![Value::Text("x".into())])),
            ]),
        )]);
        assert!(matches!(state_vote("n", &failed), Vote::Failed(_)));
        assert!(matches!(state_vote("n", &Value::Null), Vote::Failed(_)));
    }
}
