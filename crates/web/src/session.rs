//! A Parsec.1 session, driven from a page: the flow of `parsec_rs_client::parsec1::Session`
//! (spec §5.5) over the page's `fetch` and storage, with the protocol steps of
//! [`parsec1::client`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use parsec1::client::{self as p1, ClientError};
use parsec1::message::codes;
use parsec1::{KeyAddress, PrivateKey, RemoteError, SymmetricKey};
use parsec_boss::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use zeroize::Zeroizing;

use crate::universa::{ContractSource, Network};
use crate::value::{from_js, to_js};

/// Storage keys, as uparsecjs and our Rust client name them.
const SID: &str = ".p1.SID";
const TSK: &str = ".p1.TSK";
const SCK: &str = ".p1.SCK";
/// The address of the service key that made the stored TSK: a TSK is resumed only while that
/// key is still trusted.
const SIGNER: &str = ".p1.TSK.signer";

/// Longest proof of work done for a service: it runs on the page's thread, and the
/// `requestSCK` answer that asks for it is not authenticated (20 bits: about a second).
const MAX_POW: u32 = 20;

/// How long a checked contract's keys are trusted before the service and the network are
/// asked again (as the Rust client's default): a key the owner rotated out stops being
/// trusted by long-lived pages.
const RECHECK_MS: f64 = 300_000.0;

/// Why a call failed, as the page sees it: an `Error` whose `code` is one of these, and, for
/// `remote`, whose `remoteCode` is the service's error code.
#[derive(Debug)]
enum Failure {
    /// The service has none of the trusted keys (after one refresh of the key list).
    UnknownServiceKey(String),
    /// No answer: the network, CORS, TLS, or the service is down.
    Unreachable(String),
    /// The command ran and the service answered with an error.
    Remote(RemoteError),
    /// The answer broke the protocol (not BOSS, a bad signature, a wrong nonce).
    Protocol(String),
    /// The service's contract is not trusted (Parsec 1.2): the reason in words.
    NotTrusted(String),
    /// The page's storage or key generator failed.
    Page(String),
    /// The caller's arguments.
    Argument(String),
}

impl Failure {
    fn into_js(self) -> JsValue {
        let (code, message, remote) = match self {
            Failure::UnknownServiceKey(m) => ("unknown_service_key", m, None),
            Failure::Unreachable(m) => ("unreachable", m, None),
            Failure::Remote(e) => (
                "remote",
                format!("{}: {}", e.code, e.text),
                Some(e.code.clone()),
            ),
            Failure::Protocol(m) => ("protocol", m, None),
            Failure::NotTrusted(m) => ("not_trusted", m, None),
            Failure::Page(m) => ("page", m, None),
            Failure::Argument(m) => ("argument", m, None),
        };
        let error = js_sys::Error::new(&message);
        let _ = Reflect::set(&error, &"code".into(), &code.into());
        if let Some(remote) = remote {
            let _ = Reflect::set(&error, &"remoteCode".into(), &remote.into());
        }
        error.into()
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Remote(r) => Failure::Remote(r),
            other => Failure::Protocol(other.to_string()),
        }
    }
}

impl From<parsec1::Error> for Failure {
    fn from(e: parsec1::Error) -> Failure {
        Failure::Protocol(e.to_string())
    }
}

/// The live TSK of the session.
struct Live {
    session_id: String,
    tsk: SymmetricKey,
}

struct Inner {
    /// `post(Uint8Array) → Promise<Uint8Array>`: one HTTP POST to the service.
    post: Function,
    /// `{get(key) → string|null, set(key, value), remove(key)}`.
    storage: JsValue,
    /// The trusted service keys.
    keys: RefCell<Vec<KeyAddress>>,
    /// `() → Promise<string[]>`: a fresh list after the service refused ours.
    refresh_keys: Option<Function>,
    /// Parsec 1.2: the keys come from the service's contract, checked with the network.
    contract: Option<ContractSource>,
    /// The key this page is known by to the Universa nodes (made on first use, never stored).
    network_key: RefCell<Option<PrivateKey>>,
    /// When the contract's keys were last checked (`Date.now()`, ms).
    checked_at: Cell<f64>,
    /// `(bits) → Promise<{e, p, q}>`: a new session key (WebCrypto is much faster than RSA
    /// key generation in WebAssembly); without it the key is made here.
    generate_key: Option<Function>,
    key_bits: usize,
    test_mode: bool,
    live: RefCell<Option<Live>>,
    /// A call is under way: calls are made one at a time (the JavaScript API queues them).
    busy: Cell<bool>,
}

/// A Parsec.1 session with one service. Made by `js/parsec1.js`'s `connect`; see there.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<Inner>,
}

fn get(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn function(object: &JsValue, name: &str) -> Option<Function> {
    get(object, name).dyn_into::<Function>().ok()
}

fn page_error(what: &str, e: JsValue) -> Failure {
    let text = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    Failure::Page(format!("{what}: {text}"))
}

fn addresses(list: &JsValue) -> Result<Vec<KeyAddress>, Failure> {
    if !Array::is_array(list) {
        return Err(Failure::Argument(
            "service keys must be an array of key addresses".into(),
        ));
    }
    let mut out = Vec::new();
    for item in Array::from(list).iter() {
        let text = item
            .as_string()
            .ok_or_else(|| Failure::Argument("a service key address is not a string".into()))?;
        let address = KeyAddress::parse(text.trim())
            .map_err(|e| Failure::Argument(format!("service key address `{text}`: {e}")))?;
        out.push(address);
    }
    if out.is_empty() {
        return Err(Failure::Argument("no service key address given".into()));
    }
    Ok(out)
}

#[wasm_bindgen]
impl Session {
    /// `options`: `{post, storage, serviceKeys: string[], refreshKeys?, generateKey?,
    /// keyBits?: 2048|4096 (default 2048), testMode?: boolean}`; for Parsec 1.2 instead of
    /// `serviceKeys`: `contract` (the origin's HashId, Base64), `topology` (`{list: [...]}`),
    /// `postFile(url, bytes) → Promise<Uint8Array>`, `trustLevel?` (default 0.5),
    /// `networkDeadlineMs?` (default 30000).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Session, JsValue> {
        let post = function(&options, "post")
            .ok_or_else(|| Failure::Argument("options.post must be a function".into()).into_js())?;
        let storage = get(&options, "storage");
        for method in ["get", "set", "remove"] {
            if function(&storage, method).is_none() {
                return Err(Failure::Argument(format!(
                    "options.storage must have a method {method}"
                ))
                .into_js());
            }
        }
        let contract = match get(&options, "contract").as_string() {
            None => None,
            Some(origin) => {
                let post_file = function(&options, "postFile").ok_or_else(|| {
                    Failure::Argument("options.postFile must be a function".into()).into_js()
                })?;
                let number = |name: &str, default: f64, max: f64| -> Result<f64, JsValue> {
                    let v = get(&options, name);
                    if v.is_undefined() {
                        return Ok(default);
                    }
                    v.as_f64()
                        .filter(|n| n.is_finite() && *n > 0.0 && *n <= max)
                        .ok_or_else(|| {
                            Failure::Argument(format!(
                                "{name} must be a number above 0, at most {max}"
                            ))
                            .into_js()
                        })
                };
                let network = Network::new(
                    &get(&options, "topology"),
                    number("trustLevel", 0.5, 1.0)?,
                    number("networkDeadlineMs", 30_000.0, 600_000.0)?,
                    post_file,
                )
                .map_err(|e| Failure::Argument(format!("Universa topology: {e}")).into_js())?;
                Some(
                    ContractSource::new(&origin, network)
                        .map_err(|e| Failure::Argument(e).into_js())?,
                )
            }
        };
        let keys = match (&contract, get(&options, "serviceKeys")) {
            (Some(_), list) if list.is_undefined() => Vec::new(),
            (_, list) => addresses(&list).map_err(Failure::into_js)?,
        };
        let key_bits = match get(&options, "keyBits").as_f64() {
            None => 2048,
            Some(b) if b == 2048.0 || b == 4096.0 => b as usize,
            Some(b) => {
                return Err(Failure::Argument(format!(
                    "keyBits {b}: session keys have 2048 or 4096 bits"
                ))
                .into_js())
            }
        };
        Ok(Session {
            inner: Rc::new(Inner {
                post,
                storage,
                keys: RefCell::new(keys),
                refresh_keys: function(&options, "refreshKeys"),
                contract,
                network_key: RefCell::new(None),
                checked_at: Cell::new(f64::NEG_INFINITY),
                generate_key: function(&options, "generateKey"),
                key_bits,
                test_mode: get(&options, "testMode").as_bool().unwrap_or(false),
                live: RefCell::new(None),
                busy: Cell::new(false),
            }),
        })
    }

    /// A session command (`psaSignHash`, …) with its arguments (an object); resolves to its
    /// result. Connects first when needed.
    pub fn call(&self, command: String, args: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let args = Zeroizing::new(from_js(&args).map_err(|e| Failure::Argument(e).into_js())?);
            let _busy = Busy::take(&inner).map_err(Failure::into_js)?;
            let result = inner
                .call_value(&command, &args)
                .await
                .map_err(Failure::into_js)?;
            Ok(to_js(&Zeroizing::new(result)))
        })
    }

    /// A guest command (no session), e.g. `info`.
    pub fn guest(&self, command: String, args: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let args = from_js(&args).map_err(|e| Failure::Argument(e).into_js())?;
            let answer = inner
                .post(&parsec1::message::encode_call(&command, args))
                .await
                .map_err(Failure::into_js)?;
            let result = parsec1::message::decode_answer(&answer)
                .map_err(|e| Failure::Protocol(e.to_string()).into_js())?
                .map_err(|e| Failure::Remote(e).into_js())?;
            Ok(to_js(&result))
        })
    }

    /// Ends the session on the service (its answer ignored) and forgets its state.
    pub fn destroy(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let _busy = Busy::take(&inner).map_err(Failure::into_js)?;
            let _ = inner
                .call_value("destroySession", &Value::dict::<&str>([]))
                .await;
            *inner.live.borrow_mut() = None;
            for key in [TSK, SIGNER, SID, SCK] {
                inner.remove(key).map_err(Failure::into_js)?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The session's id (`null` before the first call made it live).
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> Option<String> {
        self.inner
            .live
            .borrow()
            .as_ref()
            .map(|l| l.session_id.clone())
    }
}

/// Marks the session busy for one call.
struct Busy(Rc<Inner>);

impl Busy {
    fn take(inner: &Rc<Inner>) -> Result<Busy, Failure> {
        if inner.busy.replace(true) {
            return Err(Failure::Argument(
                "another call of this session is under way (calls are made one at a time)".into(),
            ));
        }
        Ok(Busy(inner.clone()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.set(false);
    }
}

impl Inner {
    async fn post(&self, block: &[u8]) -> Result<Vec<u8>, Failure> {
        let body = Uint8Array::from(block);
        let promise = self
            .post
            .call1(&JsValue::NULL, &body)
            .map_err(|e| Failure::Unreachable(describe(&e)))?;
        let answer = JsFuture::from(Promise::resolve(&promise))
            .await
            .map_err(|e| Failure::Unreachable(describe(&e)))?;
        if let Some(bytes) = answer.dyn_ref::<Uint8Array>() {
            return Ok(bytes.to_vec());
        }
        if let Some(buffer) = answer.dyn_ref::<js_sys::ArrayBuffer>() {
            return Ok(Uint8Array::new(buffer).to_vec());
        }
        Err(Failure::Page("post must resolve to a Uint8Array".into()))
    }

    fn storage_get(&self, key: &str) -> Option<String> {
        let get = function(&self.storage, "get")?;
        get.call1(&self.storage, &key.into()).ok()?.as_string()
    }

    fn set(&self, key: &str, value: &str) -> Result<(), Failure> {
        let set = function(&self.storage, "set")
            .ok_or_else(|| Failure::Page("storage.set is gone".into()))?;
        set.call2(&self.storage, &key.into(), &value.into())
            .map(drop)
            .map_err(|e| page_error("storage.set", e))
    }

    fn remove(&self, key: &str) -> Result<(), Failure> {
        let remove = function(&self.storage, "remove")
            .ok_or_else(|| Failure::Page("storage.remove is gone".into()))?;
        remove
            .call1(&self.storage, &key.into())
            .map(drop)
            .map_err(|e| page_error("storage.remove", e))
    }

    /// Runs a session command; connects first when needed, and makes a new TSK once when the
    /// service lost ours.
    async fn call_value(&self, cmd: &str, args: &Value) -> Result<Value, Failure> {
        for attempt in 0..2 {
            let live = self.live.borrow_mut().take();
            let live = match live {
                Some(live) => live,
                None => self.establish().await?,
            };
            let sealed = p1::seal(&live.tsk, &live.session_id, cmd, args.clone())?;
            let answer = self.post(&sealed).await;
            let opened = answer.map(|answer| p1::open(&live.tsk, &answer));
            *self.live.borrow_mut() = Some(live);
            match opened? {
                Ok(inner) => return inner.map_err(Failure::Remote),
                Err(e) if e.needs_new_tsk() && attempt == 0 => {
                    *self.live.borrow_mut() = None;
                    self.remove(TSK)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Steps 2–4 of spec §5.5.
    async fn establish(&self) -> Result<Live, Failure> {
        // 1.2: the contract's keys first (checked once per page and again when stale), so that
        // a stored TSK made by one of them can be resumed.
        self.contract_keys_if_stale(false).await?;
        // 2. Resume a stored TSK, made by a key that is still trusted.
        if let (Some(sid), Some(tsk)) = (self.storage_get(SID), self.storage_get(TSK)) {
            let signer = self
                .storage_get(SIGNER)
                .and_then(|text| KeyAddress::parse(&text).ok());
            let trusted = signer.is_some_and(|s| self.keys.borrow().contains(&s));
            if let (true, Some(tsk)) = (trusted, decode_tsk(&tsk)) {
                let sealed = p1::seal(&tsk, &sid, "getSessionInfo", Value::dict::<&str>([]))?;
                match p1::open(&tsk, &self.post(&sealed).await?) {
                    Ok(Ok(_)) => {
                        return Ok(Live {
                            session_id: sid,
                            tsk,
                        })
                    }
                    Ok(Err(_)) | Err(ClientError::Remote(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.remove(TSK)?;
        }
        // 3. A new TSK for the stored session key.
        let stored = self.storage_get(SCK).and_then(|text| decode_sck(&text));
        if let (Some(sid), Some(sck)) = (self.storage_get(SID), &stored) {
            match self.new_tsk(sck, &sid).await {
                Ok(live) => return Ok(live),
                // The service lost the session: register the same key again (step 4), which
                // keeps the remote application's identity, and so its keys.
                Err(Failure::Remote(e)) if e.code == codes::SESSION_NOT_FOUND => {
                    self.remove(SID)?;
                }
                // Anything else (a busy service, no answer) is reported: an unauthenticated
                // error answer must never cost the session key.
                Err(e) => return Err(e),
            }
        }
        // 4. A session for the stored session key, else for a new one.
        let sck = match stored {
            Some(sck) => sck,
            None => self.new_session_key().await?,
        };
        let (state, call) = p1::register_with_max_pow(sck, self.test_mode, MAX_POW)?;
        let answer = self.post(&call).await?;
        let (state, call) = state.receive(&answer)?;
        let registered = state.receive(&self.post(&call).await?)?;
        self.set(SCK, &BASE64.encode(&*registered.sck.pack()))?;
        self.set(SID, &registered.session_id)?;
        self.new_tsk(&registered.sck, &registered.session_id).await
    }

    async fn new_session_key(&self) -> Result<PrivateKey, Failure> {
        self.new_key(self.key_bits).await
    }

    /// With a contract (Parsec 1.2): checks it when never checked, stale, or `force`d, and
    /// trusts its keys from then on.
    async fn contract_keys_if_stale(&self, force: bool) -> Result<(), Failure> {
        let Some(source) = &self.contract else {
            return Ok(());
        };
        let now = js_sys::Date::now();
        if force || self.keys.borrow().is_empty() || now - self.checked_at.get() > RECHECK_MS {
            let keys = self.contract_keys(source).await?;
            *self.keys.borrow_mut() = keys;
            self.checked_at.set(now);
        }
        Ok(())
    }

    /// The service's keys from its contract (Parsec 1.2), checked with the network.
    async fn contract_keys(&self, source: &ContractSource) -> Result<Vec<KeyAddress>, Failure> {
        let call = parsec1::message::encode_call("getServiceContract", Value::dict::<&str>([]));
        let answer = parsec1::message::decode_answer(&self.post(&call).await?)
            .map_err(|e| Failure::Protocol(e.to_string()))?
            .map_err(|e| {
                Failure::NotTrusted(format!("the service's contract: {}: {}", e.code, e.text))
            })?;
        let existing = self.network_key.borrow_mut().take();
        let key = match existing {
            Some(key) => key,
            None => self.new_key(2048).await?,
        };
        let checked = source.check(&answer, &key, self.test_mode).await;
        *self.network_key.borrow_mut() = Some(key);
        checked.map_err(Failure::NotTrusted)
    }

    async fn new_key(&self, bits: usize) -> Result<PrivateKey, Failure> {
        let Some(generate) = &self.generate_key else {
            return Ok(PrivateKey::generate(bits)?);
        };
        let promise = generate
            .call1(&JsValue::NULL, &JsValue::from_f64(bits as f64))
            .map_err(|e| page_error("generateKey", e))?;
        let parts = JsFuture::from(Promise::resolve(&promise))
            .await
            .map_err(|e| page_error("generateKey", e))?;
        let part = |name: &str| -> Result<Value, Failure> {
            get(&parts, name)
                .dyn_into::<Uint8Array>()
                .map(|a| Value::Bin(a.to_vec()))
                .map_err(|_| Failure::Page(format!("generateKey: `{name}` is not a Uint8Array")))
        };
        let list = Zeroizing::new(Value::List(vec![
            Value::Int(0),
            part("e")?,
            part("p")?,
            part("q")?,
        ]));
        let key = PrivateKey::from_value(&list)?;
        if key.public_key().bits() != bits {
            return Err(Failure::Page(format!(
                "generateKey made a key of {} bits, not {bits}",
                key.public_key().bits(),
            )));
        }
        Ok(key)
    }

    /// `createTSK`, asking for a fresh list of keys once if the service refuses ours.
    async fn new_tsk(&self, sck: &PrivateKey, sid: &str) -> Result<Live, Failure> {
        let mut refused = String::new();
        for refresh in [false, true] {
            if self.contract.is_some() {
                // Again when the service refused the keys (a revision may have rotated them).
                self.contract_keys_if_stale(refresh).await?;
            } else if refresh {
                let Some(refresh_keys) = &self.refresh_keys else {
                    break;
                };
                let promise = refresh_keys
                    .call0(&JsValue::NULL)
                    .map_err(|e| page_error("refreshKeys", e))?;
                let list = JsFuture::from(Promise::resolve(&promise))
                    .await
                    .map_err(|e| page_error("refreshKeys", e))?;
                *self.keys.borrow_mut() = addresses(&list)?;
            }
            let trusted = self.keys.borrow().clone();
            let (state, call) = p1::create_tsk(sck, sid, &trusted)?;
            match state.receive(&self.post(&call).await?) {
                Ok(tsk) => {
                    self.set(TSK, &BASE64.encode(tsk.key.as_bytes()))?;
                    self.set(SIGNER, &tsk.service_address.to_string())?;
                    return Ok(Live {
                        session_id: sid.to_string(),
                        tsk: tsk.key,
                    });
                }
                Err(e) if e.is_unknown_service_key() => refused = e.to_string(),
                Err(ClientError::UntrustedServiceKey(a)) => {
                    refused = format!("the service signed with {a}")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::UnknownServiceKey(format!(
            "the service does not have any of the trusted service keys ({refused})"
        )))
    }
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the request failed".into())
}

fn decode_tsk(text: &str) -> Option<SymmetricKey> {
    let bytes = Zeroizing::new(BASE64.decode(text).ok()?);
    SymmetricKey::from_slice(&bytes).ok()
}

fn decode_sck(text: &str) -> Option<PrivateKey> {
    let bytes = Zeroizing::new(BASE64.decode(text).ok()?);
    PrivateKey::unpack(&bytes).ok()
}
