//! The trust sources of Parsec 1.2 (a service contract's origin) and 1.3 (a UNS2 name), and
//! the enum the client's sessions hold.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parsec1::hash_id;
use parsec1::message;
use parsec1::universa::{self, Contract, Pack, ParsecSection};
use parsec1::KeyAddress;
use parsec_boss::Value;
use tokio::sync::Mutex;

use super::network::Network;
use super::TrustError;
use crate::parsec1::{Error, FixedServiceKeys, HttpTransport, ServiceKeys};

/// Largest contract accepted from a service or a node.
const MAX_CONTRACT: usize = 256 << 10;
/// Most distinct name contracts checked for one name.
const MAX_CANDIDATES: usize = 4;

/// The cached contract, if the file is there and not larger than a contract.
fn read_cache(path: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_CONTRACT as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() <= MAX_CONTRACT).then_some(bytes)
}

/// Replaces the cache file through a new file of a name of its own (never an existing file
/// or link), renamed over it.
fn write_cache(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut suffix = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut suffix).is_err() {
        return;
    }
    let tag: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension(format!("contract.{tag}.tmp"));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes));
    if written.is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The checks made here on a contract (see [`universa::check_contract`]; the network's
/// APPROVED is checked apart), as a [`TrustError`].
pub fn check_contract(
    pack: &Pack,
    origin: Option<&[u8]>,
) -> Result<(Contract, ParsecSection), TrustError> {
    universa::check_contract(pack, origin).map_err(|refusal| match refusal {
        universa::Refusal::WrongOrigin { expected, got } => TrustError::WrongOrigin {
            expected: hash_id::to_base64(&expected),
            got: hash_id::to_base64(&got),
        },
        universa::Refusal::Bad(reason) => TrustError::BadContract(reason),
    })
}

fn usable(section: &ParsecSection, test_mode: bool) -> Result<Vec<KeyAddress>, TrustError> {
    let addresses = section.trusted_addresses(test_mode);
    if addresses.is_empty() {
        return Err(TrustError::NoUsableKey(if test_mode {
            "(test or live)"
        } else {
            "non-test"
        }));
    }
    Ok(addresses)
}

/// How long a checked contract is trusted before the service and the network are asked
/// again, by default (a `parsec_unknown_service_key` answer asks at once).
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(300);

/// Parsec 1.2: the keys of the service contract whose origin the client trusts.
pub struct ContractKeys {
    origin: Vec<u8>,
    service: HttpTransport,
    network: Network,
    test_mode: bool,
    recheck: Duration,
    /// The last contract that passed every check, as the service sent it, and when it passed
    /// (`None`: read from the cache file, not checked yet in this process).
    cached: Mutex<Option<(Vec<u8>, Option<Instant>)>>,
    cache_file: Option<PathBuf>,
}

impl ContractKeys {
    /// Trusts the contract of `origin` (its root's HashId), as the service at `service` serves
    /// it and `network` approves it. `cache_file` keeps the last good contract between runs
    /// (so the service need not send it again); the network is asked every time.
    pub fn new(
        origin: Vec<u8>,
        service: HttpTransport,
        network: Network,
        test_mode: bool,
        cache_file: Option<PathBuf>,
    ) -> ContractKeys {
        let cached = cache_file
            .as_ref()
            .and_then(|p| read_cache(p))
            .map(|bytes| (bytes, None));
        ContractKeys {
            origin,
            service,
            network,
            test_mode,
            recheck: DEFAULT_RECHECK,
            cached: Mutex::new(cached),
            cache_file,
        }
    }

    /// How long a checked contract is used before it is checked again (default
    /// [`DEFAULT_RECHECK`]; zero: before every new TSK).
    pub fn with_recheck(mut self, recheck: Duration) -> ContractKeys {
        self.recheck = recheck;
        self
    }

    /// The section of the last contract checked, if it was checked less than the recheck
    /// interval ago.
    async fn recent(&self) -> Option<ParsecSection> {
        let cached = self.cached.lock().await;
        let (bytes, Some(at)) = cached.as_ref()? else {
            return None;
        };
        if at.elapsed() >= self.recheck {
            return None;
        }
        let pack = Pack::read(bytes).ok()?;
        check_contract(&pack, Some(&self.origin))
            .ok()
            .map(|(_, s)| s)
    }

    /// Gets the contract from the service (or hears that ours is current), checks it, and
    /// returns its section.
    pub async fn check(&self) -> Result<ParsecSection, TrustError> {
        let mut cached = self.cached.lock().await;
        let known = cached.as_ref().and_then(|(c, _)| Pack::read(c).ok());
        let mut args = Vec::new();
        if let Some(known) = &known {
            args.push(("knownHashId", Value::Bin(known.contract.hash_id.clone())));
        }
        let call = message::encode_call("getServiceContract", Value::dict(args));
        let answer = self
            .service
            .send(&call)
            .await
            .map_err(|e| TrustError::Service(e.to_string()))?;
        let answer = message::decode_answer(&answer)
            .map_err(|e| TrustError::Service(e.to_string()))?
            .map_err(|e| TrustError::Service(format!("{}: {}", e.code, e.text)))?;
        let (bytes, pack) = match answer.get("serviceContract").and_then(Value::as_bytes) {
            Some(bytes) if bytes.len() <= MAX_CONTRACT => {
                let pack = Pack::read(bytes).map_err(|e| TrustError::BadContract(e.to_string()))?;
                (bytes.to_vec(), pack)
            }
            Some(bytes) => {
                return Err(TrustError::Service(format!(
                    "a contract of {} bytes, more than any service contract",
                    bytes.len()
                )))
            }
            None => match (cached.as_ref().map(|(b, _)| b.clone()), known) {
                // `{}`: the copy we named is current. Checked again all the same.
                (Some(bytes), Some(pack)) => (bytes, pack),
                _ => return Err(TrustError::Service("the service sent no contract".into())),
            },
        };
        let (_, section) = check_contract(&pack, Some(&self.origin))?;
        self.network.check_approved(&pack.contract.hash_id).await?;
        if cached.as_ref().map(|(b, _)| &b[..]) != Some(&bytes[..]) {
            if let Some(path) = &self.cache_file {
                // The cache only saves a transfer: failing to write it is not an error.
                write_cache(path, &bytes);
            }
        }
        *cached = Some((bytes, Some(Instant::now())));
        Ok(section)
    }
}

impl ServiceKeys for ContractKeys {
    async fn addresses(&self, refresh: bool) -> Result<Vec<KeyAddress>, Error> {
        // Asked once per new TSK: a contract checked recently serves; after
        // `parsec_unknown_service_key` (refresh) the service and the network are asked again.
        let recent = if refresh { None } else { self.recent().await };
        let section = match recent {
            Some(section) => section,
            None => self.check().await?,
        };
        Ok(usable(&section, self.test_mode)?)
    }
}

/// Parsec 1.3: the keys and URLs of the UNS2 contract holding a name.
pub struct NameKeys {
    name: String,
    network: Network,
    test_mode: bool,
    /// A section resolved before the session started (for its URLs), used by the first
    /// request for keys instead of asking the network twice.
    primed: Mutex<Option<ParsecSection>>,
}

impl NameKeys {
    /// Trusts what the network's UNS2 contract for `name` says.
    pub fn new(name: String, network: Network, test_mode: bool) -> NameKeys {
        NameKeys {
            name,
            network,
            test_mode,
            primed: Mutex::new(None),
        }
    }

    /// Resolves the name now and keeps the answer for the first [`ServiceKeys::addresses`].
    pub async fn prime(&self) -> Result<ParsecSection, TrustError> {
        let section = self.resolve().await?;
        *self.primed.lock().await = Some(section.clone());
        Ok(section)
    }

    /// Finds the name's contract on the nodes and checks it; the first candidate that passes
    /// every check wins (a node that lies only delays the answer).
    pub async fn resolve(&self) -> Result<ParsecSection, TrustError> {
        // The query and the checks of the candidates: twice one check's time in all.
        let deadline = self.network.deadline() * 2;
        tokio::time::timeout(deadline, self.resolve_now())
            .await
            .unwrap_or(Err(TrustError::Timeout {
                approved: 0,
                needed: self.network.needed(),
                after: deadline,
            }))
    }

    async fn resolve_now(&self) -> Result<ParsecSection, TrustError> {
        let (candidates, failed) = self.network.name_contracts(&self.name).await;
        if candidates.is_empty() {
            if failed.len() == self.network.size() {
                return Err(TrustError::NotEnoughNodes {
                    approved: 0,
                    needed: self.network.needed(),
                    failed: failed.len(),
                    of: self.network.size(),
                    last: failed.last().map(|e| e.to_string()).unwrap_or_default(),
                });
            }
            return Err(TrustError::UnknownName(self.name.clone()));
        }
        let mut last = TrustError::UnknownName(self.name.clone());
        // Nodes that lie can offer many contracts: the first few distinct ones are checked,
        // each against the network.
        for candidate in candidates.into_iter().take(MAX_CANDIDATES) {
            if candidate.len() > MAX_CONTRACT {
                continue;
            }
            let checked = Pack::read(&candidate)
                .map_err(|e| TrustError::BadContract(e.to_string()))
                .and_then(|pack| {
                    let (contract, section) = check_contract(&pack, None)?;
                    if contract.holds_name(&self.name) {
                        Ok((pack.contract, section))
                    } else {
                        Err(TrustError::BadContract(format!(
                            "the node's contract is not a UNS2 contract holding `{}`",
                            self.name
                        )))
                    }
                });
            match checked {
                Ok((sealed, section)) => match self.network.check_approved(&sealed.hash_id).await {
                    Ok(()) => return Ok(section),
                    Err(e) => last = e,
                },
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The keys this client may trust in `section`.
    pub fn usable(&self, section: &ParsecSection) -> Result<Vec<KeyAddress>, TrustError> {
        usable(section, self.test_mode)
    }
}

impl ServiceKeys for NameKeys {
    async fn addresses(&self, refresh: bool) -> Result<Vec<KeyAddress>, Error> {
        let primed = self.primed.lock().await.take();
        let section = match primed {
            Some(section) if !refresh => section,
            _ => self.resolve().await?,
        };
        Ok(usable(&section, self.test_mode)?)
    }
}

/// Where a session's trusted service keys come from.
pub enum Trust {
    /// Parsec 1.1: addresses known in advance.
    Keys(FixedServiceKeys),
    /// Parsec 1.2: a service contract's origin.
    Contract(Box<ContractKeys>),
    /// Parsec 1.3: a UNS2 name.
    Name(Box<NameKeys>),
}

impl ServiceKeys for Trust {
    async fn addresses(&self, refresh: bool) -> Result<Vec<KeyAddress>, Error> {
        match self {
            Trust::Keys(k) => k.addresses(refresh).await,
            Trust::Contract(k) => k.addresses(refresh).await,
            Trust::Name(k) => k.addresses(refresh).await,
        }
    }
}
