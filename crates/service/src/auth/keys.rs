//! The token authenticators' public keys, kept fresh in the background so that checking a
//! token never waits on the network: a JWK set (a file, or an identity provider's over HTTPS)
//! or SPIFFE JWT bundles (a file, or streamed by the Workload API).
//!
//! Files and HTTPS sources are fetched every refresh interval, and again when a token names a
//! key the service does not know, at most once per minimum interval; the request that asks
//! waits for that one fetch (bounded by [`FETCH_TIMEOUT`]), and requests that come meanwhile
//! are refused at once. The Workload API pushes each change itself. A failed fetch keeps the
//! keys held, and says so in the log.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use super::token::{KeySet, KeySets, KeyUse, MAX_KEY_SET_BYTES};

/// Longest wait for one fetch of keys.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The name under which an identity provider's one key set is kept.
pub const PROVIDER: &str = "";

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JWK set in a file (`jwks_path`).
    JwksFile(PathBuf),
    /// An OpenID Connect issuer's JWK set, found through its discovery document (`issuer`).
    Discovery(String),
    /// SPIFFE JWT bundles in a file: a JSON object from trust domain names to bundles
    /// (`jwt_bundles_path`).
    BundleFile(PathBuf),
    /// The SPIFFE Workload API (`workload_endpoint`).
    WorkloadApi(String),
}

/// How often keys are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    /// Every this long, in the background.
    pub every: Duration,
    /// At most once per this long, when a token names an unknown key.
    pub min_gap: Duration,
}

struct Shared {
    source: Source,
    current: RwLock<Arc<KeySets>>,
    /// When keys were last fetched (held only to read or set it, never across a fetch: the
    /// background task takes it on the runtime's thread).
    last_fetch: Mutex<Instant>,
    /// Whether a request is fetching keys now.
    fetching: AtomicBool,
    min_gap: Duration,
    handle: Handle,
}

/// Keys kept fresh; the background task ends when this is dropped.
pub struct Keys {
    shared: Arc<Shared>,
    task: AbortHandle,
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Keys {
    /// Reads a file source now (an error stops start-up, naming the file), or starts fetching
    /// from the network in the background. Needs the daemon's runtime.
    pub fn start(source: Source, refresh: Refresh) -> Result<Keys, String> {
        let handle = Handle::try_current()
            .map_err(|_| "the token authenticators need the service's runtime".to_string())?;
        let initial = match &source {
            Source::JwksFile(_) | Source::BundleFile(_) => read_file(&source)?,
            Source::Discovery(_) | Source::WorkloadApi(_) => KeySets::new(),
        };
        let shared = Arc::new(Shared {
            source,
            current: RwLock::new(Arc::new(initial)),
            // As if fetched a minimum interval ago: a token may start a fetch at once.
            last_fetch: Mutex::new(
                Instant::now()
                    .checked_sub(refresh.min_gap)
                    .unwrap_or_else(Instant::now),
            ),
            fetching: AtomicBool::new(false),
            min_gap: refresh.min_gap,
            handle: handle.clone(),
        });
        let task = match &shared.source {
            Source::WorkloadApi(endpoint) => handle.spawn(super::workload::follow_bundles(
                endpoint.clone(),
                Arc::downgrade(&shared).into(),
            )),
            _ => handle.spawn(refresh_every(Arc::downgrade(&shared), refresh)),
        };
        Ok(Keys {
            shared,
            task: task.abort_handle(),
        })
    }

    /// After a reload that kept this authenticator: a file is read again now (an error keeps
    /// the keys held, and is logged), and an identity provider's keys are fetched again in the
    /// background, so that a key the operator removed is dropped at once.
    pub fn reload(&self) {
        let s = &self.shared;
        match &s.source {
            Source::JwksFile(_) | Source::BundleFile(_) => match read_file(&s.source) {
                Ok(sets) => s.store(sets),
                Err(e) => tracing::warn!("reading the keys again: {e}; the keys held are kept"),
            },
            Source::Discovery(_) => {
                let shared = Arc::downgrade(&self.shared);
                s.handle.spawn(async move {
                    let Some(s) = shared.upgrade() else { return };
                    match tokio::time::timeout(FETCH_TIMEOUT, fetch(&s.source)).await {
                        Ok(Ok(sets)) => s.store(sets),
                        _ => tracing::warn!(
                            "fetching the keys from {} after the reload failed",
                            s.source
                        ),
                    }
                });
            }
            Source::WorkloadApi(_) => {}
        }
    }

    /// The keys held now.
    pub fn current(&self) -> Arc<KeySets> {
        self.shared.current()
    }

    /// The keys fetched again, after a token named a key the service does not know; `None`
    /// when that is not allowed now (fetched too recently, another request is fetching, or
    /// the source pushes its changes itself).
    pub fn fetch_again(&self) -> Option<Arc<KeySets>> {
        let s = &self.shared;
        if matches!(s.source, Source::WorkloadApi(_)) || Handle::try_current().is_ok() {
            return None;
        }
        {
            let mut last = s.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() < s.min_gap
                || s.fetching
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                return None;
            }
            *last = Instant::now();
        }
        let fetched = s
            .handle
            .block_on(async { tokio::time::timeout(FETCH_TIMEOUT, fetch(&s.source)).await });
        s.fetching.store(false, Ordering::Release);
        match fetched {
            Ok(Ok(sets)) => {
                s.store(sets);
            }
            Ok(Err(e)) => tracing::warn!("fetching the keys again from {}: {e}", s.source),
            Err(_) => tracing::warn!("fetching the keys again from {}: timed out", s.source),
        }
        Some(s.current())
    }
}

impl Shared {
    fn current(&self) -> Arc<KeySets> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, sets: KeySets) {
        let sets = Arc::new(sets);
        match self.current.write() {
            Ok(mut c) => *c = sets,
            Err(poisoned) => *poisoned.into_inner() = sets,
        }
    }
}

/// Where the Workload API task puts each bundle set it receives.
pub struct BundleSink(std::sync::Weak<Shared>);

impl From<std::sync::Weak<Shared>> for BundleSink {
    fn from(w: std::sync::Weak<Shared>) -> Self {
        BundleSink(w)
    }
}

impl BundleSink {
    /// Replaces the keys; false once the authenticator is gone.
    pub fn put(&self, sets: KeySets) -> bool {
        match self.0.upgrade() {
            Some(shared) => {
                shared.store(sets);
                true
            }
            None => false,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::JwksFile(p) | Source::BundleFile(p) => write!(f, "{}", p.display()),
            Source::Discovery(issuer) => write!(f, "the issuer {issuer}"),
            Source::WorkloadApi(endpoint) => write!(f, "the Workload API at {endpoint}"),
        }
    }
}

async fn refresh_every(shared: std::sync::Weak<Shared>, refresh: Refresh) {
    // A source fetched over the network is fetched at once, then retried every minimum
    // interval until it answers.
    let mut wait = match shared.upgrade().map(|s| s.source.clone()) {
        Some(Source::Discovery(_)) => Duration::ZERO,
        _ => refresh.every,
    };
    loop {
        tokio::time::sleep(wait).await;
        let Some(s) = shared.upgrade() else { return };
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, fetch(&s.source)).await;
        *s.last_fetch.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        wait = refresh.every;
        match fetched {
            Ok(Ok(sets)) => s.store(sets),
            Ok(Err(e)) => tracing::warn!("fetching the keys from {}: {e}", s.source),
            Err(_) => tracing::warn!("fetching the keys from {}: timed out", s.source),
        }
        if s.current().is_empty() {
            // Nothing to check tokens with yet: try again soon.
            wait = refresh.min_gap;
        }
    }
}

async fn fetch(source: &Source) -> Result<KeySets, String> {
    match source {
        // Off the runtime's threads: a file on a slow or hung mount must not stall them.
        Source::JwksFile(_) | Source::BundleFile(_) => {
            let source = source.clone();
            tokio::task::spawn_blocking(move || read_file(&source))
                .await
                .map_err(|e| e.to_string())?
        }
        Source::Discovery(issuer) => {
            let jwks = super::https::fetch_jwks(issuer).await?;
            one_set(&jwks, source)
        }
        Source::WorkloadApi(_) => Ok(KeySets::new()),
    }
}

fn read_file(source: &Source) -> Result<KeySets, String> {
    let (Source::JwksFile(path) | Source::BundleFile(path)) = source else {
        return Ok(KeySets::new());
    };
    let bytes = read_capped(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match source {
        Source::JwksFile(_) => one_set(&bytes, source),
        _ => bundle_sets(&bytes).map_err(|e| format!("{}: {e}", path.display())),
    }
}

/// A key file's bytes: a regular file (opened without waiting, so a FIFO cannot stall the
/// service) that only its owner may write (keys anyone else could write would let them name
/// any application), within [`MAX_KEY_SET_BYTES`].
fn read_capped(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by its group or by anyone (mode {:o}): make it writable by its owner only",
            meta.mode() & 0o777
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_SET_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() > MAX_KEY_SET_BYTES {
        return Err(format!("larger than the {MAX_KEY_SET_BYTES} bytes read"));
    }
    Ok(bytes)
}

/// An identity provider's JWK set, kept under [`PROVIDER`].
fn one_set(jwks: &[u8], source: &Source) -> Result<KeySets, String> {
    let (set, skipped) = KeySet::from_jwks(jwks, KeyUse::Signature)?;
    for why in skipped.0 {
        tracing::debug!("a key of {source} is not used: {why}");
    }
    if set.is_empty() {
        return Err("no usable signing key".into());
    }
    Ok(KeySets::from([(PROVIDER.to_string(), set)]))
}

/// SPIFFE JWT bundles by trust domain: a JSON object whose values are bundles (JWK sets), or
/// as the Workload API sends them (trust domain → bundle bytes).
pub fn bundle_sets(json: &[u8]) -> Result<KeySets, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or("expected an object from trust domain names to JWT bundles")?;
    let mut sets = KeySets::new();
    for (domain, bundle) in object {
        let bundle = serde_json::to_vec(bundle).map_err(|e| e.to_string())?;
        let td = spiffe::TrustDomain::new(domain)
            .map_err(|e| format!("`{domain}` is not a trust domain name: {e}"))?;
        sets.insert(td.as_str().to_string(), bundle_set(td.as_str(), &bundle)?);
    }
    Ok(sets)
}

/// One trust domain's bundle.
pub fn bundle_set(domain: &str, bundle: &[u8]) -> Result<KeySet, String> {
    let td = spiffe::TrustDomain::new(domain)
        .map_err(|e| format!("`{domain}` is not a trust domain name: {e}"))?;
    let (set, skipped) = KeySet::from_jwks(bundle, KeyUse::JwtSvid)
        .map_err(|e| format!("the bundle of {td}: {e}"))?;
    for why in skipped.0 {
        tracing::debug!("a key of the bundle of {td} is not used: {why}");
    }
    Ok(set)
}
