//! A Universa network double: several nodes on loopback, one topology, speaking the node
//! client protocol as Universa's nodes do (the real network cannot be reached from the tests).
//! That it speaks the real protocol is checked by npm universa-core's own client
//! (`universa_network_double_answers_universa_core` in tests/universa_trust.rs).
//!
//! - `POST /connect`, `/get_token`, `/command`: parameters as the multipart file field
//!   `requestData` or JSON `{requestData64}`; answers `{result: "ok", response}` or
//!   `{result: "error", error}`; commands under EtA with the session key; the token signed by
//!   the node's key (RSA-PSS SHA-512) and the session key sent by RSA-OAEP to the client's.
//! - Commands: `hello`, `getState {itemId}` (the state the test set for that HashId, else
//!   UNDEFINED), `queryNameContract {name}` (the contract the test registered, else `{}`).
//! - `GET /topology`: the node list, with an extended signature by the node's key.
//! - A node set `down` answers nothing useful (HTTP 503, not BOSS).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parsec1::universa;
use parsec1::{PrivateKey, PssHash, PublicKey, SymmetricKey};
use parsec_boss::{Time, Value};
use parsec_service::front::parsec1::multipart;

/// What one node answers; the test changes it at will.
#[derive(Default)]
pub struct Control {
    /// HashId → state (`APPROVED`, `REVOKED`, `PENDING_POSITIVE`, …).
    pub states: HashMap<Vec<u8>, String>,
    /// UNS2 name → packed contract.
    pub names: HashMap<String, Vec<u8>>,
    /// Answer nothing useful.
    pub down: bool,
}

struct NodeSession {
    client_key: PublicKey,
    server_nonce: Vec<u8>,
    sk: Option<SymmetricKey>,
}

struct NodeState {
    number: usize,
    key: PrivateKey,
    control: Arc<Mutex<Control>>,
    sessions: Mutex<HashMap<i64, NodeSession>>,
    next_session: AtomicI64,
    topology: Mutex<Value>,
    commands: AtomicUsize,
    connects: AtomicUsize,
}

/// One node of the double.
pub struct NodeDouble {
    pub url: String,
    pub key: PrivateKey,
    pub control: Arc<Mutex<Control>>,
    state: Arc<NodeState>,
}

impl NodeDouble {
    /// Commands this node has run.
    pub fn commands(&self) -> usize {
        self.state.commands.load(Ordering::SeqCst)
    }

    /// Sessions clients have opened with this node.
    pub fn connects(&self) -> usize {
        self.state.connects.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.control.lock().unwrap().down = down;
    }
}

/// The network: its nodes, their topology file, and the runtime serving them.
pub struct UniversaNet {
    pub nodes: Vec<NodeDouble>,
    pub topology_file: PathBuf,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn boss(v: &Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // Pages of any origin may read the answers (a browser client asks the nodes).
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        parsec_boss::encode(v).unwrap(),
    )
        .into_response()
}

fn ok(response: Value) -> Response {
    boss(&Value::dict([
        ("result", Value::Text("ok".into())),
        ("response", response),
    ]))
}

fn refused(text: &str) -> Response {
    boss(&Value::dict([
        ("result", Value::Text("error".into())),
        ("error", Value::Text(text.into())),
        ("errorClass", Value::Text("NodeDoubleError".into())),
    ]))
}

/// The BOSS parameters of a request: multipart `requestData` or JSON `{requestData64}`.
fn params(headers: &HeaderMap, body: &[u8]) -> Result<Value, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bytes = if let Some(boundary) = multipart::boundary(content_type) {
        multipart::field(body, boundary, "requestData")
            .ok_or("no requestData field")?
            .to_vec()
    } else {
        let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let text = json["requestData64"].as_str().ok_or("no requestData64")?;
        BASE64.decode(text).map_err(|e| e.to_string())?
    };
    parsec_boss::decode(&bytes).map_err(|e| e.to_string())
}

fn bin<'a>(v: &'a Value, key: &str) -> Result<&'a [u8], String> {
    v.get(key)
        .and_then(Value::as_bytes)
        .ok_or_else(|| format!("no {key}"))
}

fn session_id(v: &Value) -> Result<i64, String> {
    match v.get("session_id") {
        Some(Value::Int(i)) => i64::try_from(*i).map_err(|e| e.to_string()),
        Some(Value::Text(t)) => t.parse().map_err(|_| "bad session_id".into()),
        _ => Err("no session_id".into()),
    }
}

async fn serve(
    State(node): State<Arc<NodeState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if node.control.lock().unwrap().down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let answer = params(&headers, &body).and_then(|p| match uri.path() {
        "/connect" => connect(&node, &p),
        "/get_token" => get_token(&node, &p),
        "/command" => command(&node, &p),
        other => Err(format!("no such path {other}")),
    });
    match answer {
        Ok(v) => ok(v),
        Err(e) => refused(&e),
    }
}

fn connect(node: &NodeState, p: &Value) -> Result<Value, String> {
    let client_key = PublicKey::unpack(bin(p, "client_key")?).map_err(|e| e.to_string())?;
    let id = node.next_session.fetch_add(1, Ordering::SeqCst);
    node.connects.fetch_add(1, Ordering::SeqCst);
    let mut server_nonce = vec![0u8; 48];
    aws_lc_rs::rand::fill(&mut server_nonce).unwrap();
    node.sessions.lock().unwrap().insert(
        id,
        NodeSession {
            client_key,
            server_nonce: server_nonce.clone(),
            sk: None,
        },
    );
    Ok(Value::dict([
        ("server_nonce", Value::Bin(server_nonce)),
        ("session_id", Value::Int(id.into())),
        ("server_version", Value::Int(3)),
    ]))
}

fn get_token(node: &NodeState, p: &Value) -> Result<Value, String> {
    let id = session_id(p)?;
    let mut sessions = node.sessions.lock().unwrap();
    let session = sessions.get_mut(&id).ok_or("bad session number")?;
    let data = bin(p, "data")?;
    session
        .client_key
        .verify_pss_with(PssHash::Sha512, data, bin(p, "signature")?)
        .map_err(|_| "bad signature")?;
    let signed = parsec_boss::decode(data).map_err(|e| e.to_string())?;
    if bin(&signed, "server_nonce")? != session.server_nonce {
        return Err("server_nonce mismatch".into());
    }
    let sk = SymmetricKey::random().unwrap();
    let token =
        parsec_boss::encode(&Value::dict([("sk", Value::Bin(sk.as_bytes().to_vec()))])).unwrap();
    let encrypted = session
        .client_key
        .encrypt_oaep(&token)
        .map_err(|e| e.to_string())?;
    session.sk = Some(sk);
    let inner = parsec_boss::encode(&Value::dict([
        (
            "client_nonce",
            Value::Bin(bin(&signed, "client_nonce")?.to_vec()),
        ),
        ("encrypted_token", Value::Bin(encrypted)),
    ]))
    .unwrap();
    let signature = node.key.sign_pss_with(PssHash::Sha512, &inner).unwrap();
    Ok(Value::dict([
        ("data", Value::Bin(inner)),
        ("signature", Value::Bin(signature)),
    ]))
}

fn command(node: &NodeState, p: &Value) -> Result<Value, String> {
    let id = session_id(p)?;
    let sk = {
        let sessions = node.sessions.lock().unwrap();
        sessions
            .get(&id)
            .and_then(|s| s.sk.clone())
            .ok_or("bad session number")?
    };
    let plain = sk
        .decrypt(bin(p, "params")?)
        .map_err(|_| "HMAC authentication failed")?;
    let call = parsec_boss::decode(&plain).map_err(|e| e.to_string())?;
    let name = call.get("command").and_then(Value::as_str).unwrap_or("");
    let args = call.get("params").cloned().unwrap_or(Value::Null);
    node.commands.fetch_add(1, Ordering::SeqCst);
    let answer = match run(node, name, &args) {
        Ok(result) => Value::dict([("result", result)]),
        Err(message) => Value::dict([(
            "error",
            Value::dict([
                ("__type", Value::Text("ErrorRecord".into())),
                ("error", Value::Text("COMMAND_FAILED".into())),
                ("object", Value::Text(name.into())),
                ("message", Value::Text(message)),
            ]),
        )]),
    };
    let sealed = sk.encrypt(&parsec_boss::encode(&answer).unwrap()).unwrap();
    Ok(Value::dict([("result", Value::Bin(sealed))]))
}

fn run(node: &NodeState, name: &str, args: &Value) -> Result<Value, String> {
    let control = node.control.lock().unwrap();
    match name {
        "hello" => Ok(Value::dict([
            ("status", Value::Text("OK".into())),
            (
                "message",
                Value::Text(format!("node double {}", node.number)),
            ),
        ])),
        "getState" => {
            let id = args
                .get("itemId")
                .and_then(|i| i.get("composite3"))
                .and_then(Value::as_bytes)
                .ok_or("itemId is not a HashId")?;
            let state = control
                .states
                .get(id)
                .cloned()
                .unwrap_or_else(|| "UNDEFINED".into());
            let now = Time::now();
            Ok(Value::dict([(
                "itemResult",
                Value::dict([
                    ("__type", Value::Text("ItemResult".into())),
                    ("state", Value::Text(state)),
                    ("haveCopy", Value::Bool(false)),
                    ("createdAt", Value::Time(now)),
                    ("expiresAt", Value::Time(now.plus_seconds(86400))),
                    ("isTestnet", Value::Bool(false)),
                    ("errors", Value::List(Vec::new())),
                    ("extra", Value::dict::<&str>([])),
                    ("lockedById", Value::Null),
                ]),
            )]))
        }
        "queryNameContract" => {
            let name = args.get("name").and_then(Value::as_str).ok_or("no name")?;
            Ok(match control.names.get(name) {
                Some(packed) => Value::dict([("packedContract", Value::Bin(packed.clone()))]),
                None => Value::dict::<&str>([]),
            })
        }
        other => Err(format!("unknown command {other}")),
    }
}

async fn topology(State(node): State<Arc<NodeState>>) -> Response {
    if node.control.lock().unwrap().down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let packed = parsec_boss::encode(&Value::dict([
        ("version", Value::Text("node double".into())),
        ("number", Value::Int(node.number as i128)),
        ("nodes", node.topology.lock().unwrap().clone()),
    ]))
    .unwrap();
    let signature = universa::sign(&node.key, &packed, Time::now()).unwrap();
    ok(Value::dict([
        ("packed_data", Value::Bin(packed)),
        ("signature", Value::Bin(signature)),
    ]))
}

impl UniversaNet {
    /// `count` nodes on loopback, and their topology file.
    pub fn start(count: usize) -> UniversaNet {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut nodes = Vec::new();
        let mut states = Vec::new();
        for number in 1..=count {
            let key = PrivateKey::generate(2048).unwrap();
            let state = Arc::new(NodeState {
                number,
                key: key.clone(),
                control: Arc::new(Mutex::new(Control::default())),
                sessions: Mutex::new(HashMap::new()),
                next_session: AtomicI64::new(1000 * number as i64),
                topology: Mutex::new(Value::Null),
                commands: AtomicUsize::new(0),
                connects: AtomicUsize::new(0),
            });
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            let app = Router::new()
                .route("/connect", post(serve))
                .route("/get_token", post(serve))
                .route("/command", post(serve))
                .route("/topology", get(topology))
                .with_state(state.clone());
            runtime.spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            nodes.push(NodeDouble {
                url: format!("http://{addr}"),
                key,
                control: state.control.clone(),
                state: state.clone(),
            });
            states.push(state);
        }
        let infos: Vec<Value> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Value::dict([
                    ("number", Value::Int(i as i128 + 1)),
                    ("name", Value::Text(format!("node-double-{}", i + 1))),
                    ("key", Value::Bin(n.key.public_key().pack())),
                    ("direct_urls", Value::List(vec![Value::Text(n.url.clone())])),
                    ("domain_urls", Value::List(vec![Value::Text(n.url.clone())])),
                ])
            })
            .collect();
        for s in &states {
            *s.topology.lock().unwrap() = Value::List(infos.clone());
        }
        let list: Vec<serde_json::Value> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                serde_json::json!({
                    "number": i + 1,
                    "name": format!("node-double-{}", i + 1),
                    "key": BASE64.encode(n.key.public_key().pack()),
                    "direct_urls": [n.url],
                    "domain_urls": [n.url],
                })
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let topology_file = dir.path().join("topology.json");
        std::fs::write(
            &topology_file,
            serde_json::json!({ "list": list, "updated": 0 }).to_string(),
        )
        .unwrap();
        UniversaNet {
            nodes,
            topology_file,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// Sets the state every node gives for `id`.
    pub fn set_state(&self, id: &[u8], state: &str) {
        for n in &self.nodes {
            n.control
                .lock()
                .unwrap()
                .states
                .insert(id.to_vec(), state.to_string());
        }
    }

    /// Sets the state node `i` gives for `id`.
    pub fn set_state_on(&self, i: usize, id: &[u8], state: &str) {
        self.nodes[i]
            .control
            .lock()
            .unwrap()
            .states
            .insert(id.to_vec(), state.to_string());
    }

    /// Registers a name contract on every node.
    pub fn set_name(&self, name: &str, packed: &[u8]) {
        for n in &self.nodes {
            n.control
                .lock()
                .unwrap()
                .names
                .insert(name.to_string(), packed.to_vec());
        }
    }
}
