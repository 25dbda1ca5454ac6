//! `parsec-tool parsec1 …`: service contracts for Parsec 1.2 and 1.3.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use parsec1::hash_id;
use parsec1::universa::{self, NewContract, Pack, ParsecSection, Sealed};
use parsec1::{KeyAddress, PrivateKey};
use parsec_boss::{Time, Value};
use parsec_rs_client::parsec1::HttpTransport;
use parsec_rs_client::universa::{check_contract, Network, NetworkOptions, Topology};
use parsec_rs_client::{Endpoint, Error};
use zeroize::Zeroizing;

use crate::args::{Parsec1Command, SectionArgs};
use crate::output::{Json, Log};

/// Largest contract or key file read.
const MAX_FILE: u64 = 1 << 20;

fn input(what: impl std::fmt::Display) -> Error {
    Error::InvalidInput(what.to_string())
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| input(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(input(format!(
            "{}: too large for a contract or a key",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Whether the key in this endpoint's `info` answer can be believed: the answer came over
/// TLS, or from this machine. Over plain HTTP from elsewhere anyone on the path could answer.
fn believable(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return url.starts_with("https://");
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Writes a new file (never over an existing one) with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| input(format!("{}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| input(format!("{}: {e}", path.display())))
}

fn read_key(path: &Path) -> Result<PrivateKey, Error> {
    let bytes = Zeroizing::new(read(path)?);
    PrivateKey::unpack(&bytes).map_err(|e| {
        input(format!(
            "{}: not a Universa private key: {e}",
            path.display()
        ))
    })
}

fn address(text: &str, what: &str) -> Result<KeyAddress, Error> {
    let a: KeyAddress = text
        .parse()
        .map_err(|e| input(format!("{what} `{text}`: {e}")))?;
    if !a.is_long() {
        return Err(input(format!(
            "{what} `{text}`: a short address; use the long one"
        )));
    }
    Ok(a)
}

/// The service at PARSEC_SERVICE_ENDPOINT, as its `info` describes it: URL, key address, name.
fn service_info() -> Result<(String, KeyAddress, String), Error> {
    let url =
        match Endpoint::from_env()? {
            Endpoint::Parsec1(url) => url,
            _ => return Err(input(
                "give --service-key and --url, or set PARSEC_SERVICE_ENDPOINT to the service's \
                 http:// endpoint to take them from its info",
            )),
        };
    let transport = HttpTransport::new(&url).map_err(parsec_rs_client::parsec1::Error::from)?;
    let runtime = runtime()?;
    let answer = runtime
        .block_on(transport.send(&parsec1::message::encode_call(
            "info",
            Value::dict::<&str>([]),
        )))
        .map_err(parsec_rs_client::parsec1::Error::from)?;
    let info = parsec1::message::decode_answer(&answer)
        .map_err(|e| input(format!("{url}: not a Parsec.1 answer: {e}")))?
        .map_err(|e| input(format!("{url}: info: {}: {}", e.code, e.text)))?;
    let key = info
        .get("serviceKeyAddress")
        .and_then(Value::as_str)
        .ok_or_else(|| input(format!("{url}: its info gives no serviceKeyAddress")))?;
    let name = info
        .get("serviceName")
        .and_then(Value::as_str)
        .unwrap_or("parsec")
        .to_string();
    Ok((url, address(key, "the service's key")?, name))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| input(format!("cannot start the runtime: {e}")))
}

/// The section `args` describe, over `base` (a previous revision's, or the defaults).
fn section(args: &SectionArgs, base: ParsecSection) -> Result<ParsecSection, Error> {
    let mut s = base;
    if !args.service_keys.is_empty() || !args.test_keys.is_empty() {
        let mut keys = Vec::new();
        for k in &args.service_keys {
            keys.push((address(k, "--service-key")?, false));
        }
        for k in &args.test_keys {
            keys.push((address(k, "--test-key")?, true));
        }
        s.service_key_addresses = keys;
    }
    for u in args.urls.iter() {
        if !u.starts_with("http://") {
            return Err(input(format!("--url `{u}`: an http:// URL")));
        }
    }
    for u in args.https_urls.iter() {
        if !u.starts_with("https://") {
            return Err(input(format!("--https-url `{u}`: an https:// URL")));
        }
    }
    if !args.urls.is_empty() {
        s.http = args.urls.clone();
    }
    if !args.https_urls.is_empty() {
        s.https = args.https_urls.clone();
    }
    if let Some(n) = &args.service_name {
        s.service_name = n.clone();
    }
    if let Some(n) = &args.short_name {
        s.short_service_name = Some(n.clone());
    }
    if let Some(d) = &args.description {
        s.service_description = Some(d.clone());
    }
    if s.service_key_addresses.iter().all(|(_, test)| *test) {
        return Err(input(
            "the contract would list no non-test service key: clients would trust nothing",
        ));
    }
    if s.http.is_empty() && s.https.is_empty() {
        return Err(input("the contract would list no URL"));
    }
    Ok(s)
}

pub fn run(command: &Parsec1Command, json: bool, log: &Log) -> Result<(), Error> {
    match command {
        Parsec1Command::CreateKey { out, bits } => {
            if ![2048, 3072, 4096].contains(bits) {
                return Err(input("--bits: 2048, 3072 or 4096"));
            }
            let key = PrivateKey::generate(*bits).map_err(|e| input(e.to_string()))?;
            write_new(out, &key.pack(), 0o600)?;
            let address = key
                .public_key()
                .long_address()
                .map_err(|e| input(e.to_string()))?;
            log.info(&format!("Key written to {}", out.display()));
            print_fields(json, vec![("address", address.to_string())]);
        }
        Parsec1Command::CreateContract {
            issuer_key,
            owner,
            uns2_name,
            expires_days,
            section: args,
            out,
        } => {
            let issuer = read_key(issuer_key)?;
            let owner = match owner {
                Some(o) => address(o, "--owner")?,
                None => issuer
                    .public_key()
                    .long_address()
                    .map_err(|e| input(e.to_string()))?,
            };
            let needs_service = args.service_keys.is_empty()
                || (args.urls.is_empty() && args.https_urls.is_empty())
                || args.service_name.is_none();
            let base = if needs_service {
                let (url, key, name) = service_info()?;
                if args.service_keys.is_empty() && !believable(&url) {
                    return Err(input(format!(
                        "give --service-key: the key {url} names in its info came over plain \
                         HTTP from another machine, and anyone on the way could have answered"
                    )));
                }
                ParsecSection {
                    service_name: name,
                    short_service_name: None,
                    service_description: None,
                    service_key_addresses: vec![(key, false)],
                    http: if url.starts_with("http://") {
                        vec![url.clone()]
                    } else {
                        Vec::new()
                    },
                    https: if url.starts_with("https://") {
                        vec![url]
                    } else {
                        Vec::new()
                    },
                }
            } else {
                ParsecSection {
                    service_name: String::new(),
                    short_service_name: None,
                    service_description: None,
                    service_key_addresses: Vec::new(),
                    http: Vec::new(),
                    https: Vec::new(),
                }
            };
            let now = Time::now();
            let spec = NewContract {
                parsec: section(args, base)?,
                owner,
                uns2_name: uns2_name.as_ref().map(|n| (n.clone(), None)),
                created_at: now,
                expires_at: now.plus_seconds(expires_days.saturating_mul(86400)),
            };
            let bytes = universa::create(&spec, &issuer).map_err(|e| input(e.to_string()))?;
            write_new(out, &bytes, 0o644)?;
            let sealed = Sealed::read(&bytes).map_err(|e| input(e.to_string()))?;
            log.info(&format!("Contract written to {}", out.display()));
            let mut fields = vec![
                ("origin", hash_id::to_base64(&sealed.hash_id)),
                ("hash_id", hash_id::to_base64(&sealed.hash_id)),
            ];
            fields.extend(section_fields(&spec.parsec));
            print_fields(json, fields);
        }
        Parsec1Command::ReviseContract {
            contract,
            owner_key,
            section: args,
            out,
        } => {
            let pack = Pack::read(&read(contract)?).map_err(|e| input(e.to_string()))?;
            let (current, _) = check_contract(&pack, None).map_err(|e| input(e.to_string()))?;
            let base = current
                .parsec
                .as_ref()
                .ok_or_else(|| input("the contract has no parsec section"))
                .and_then(|p| ParsecSection::read(p).map_err(|e| input(e.to_string())))?;
            let owner = read_key(owner_key)?;
            let next = section(args, base)?;
            let bytes = universa::revise(&pack.contract, &next, &owner, Time::now())
                .map_err(|e| input(e.to_string()))?;
            write_new(out, &bytes, 0o644)?;
            let sealed = Sealed::read(&bytes).map_err(|e| input(e.to_string()))?;
            log.info(&format!("Revision written to {}", out.display()));
            let mut fields = vec![
                (
                    "origin",
                    hash_id::to_base64(&current.origin_of(&pack.contract)),
                ),
                ("hash_id", hash_id::to_base64(&sealed.hash_id)),
                ("revision", current.revision.saturating_add(1).to_string()),
            ];
            fields.extend(section_fields(&next));
            print_fields(json, fields);
        }
        Parsec1Command::Inspect { file } => inspect(&read(file)?, json)?,
        Parsec1Command::Check {
            file,
            topology,
            trust,
        } => {
            let pack = Pack::read(&read(file)?).map_err(|e| input(e.to_string()))?;
            let (contract, _) = check_contract(&pack, None).map_err(|e| input(e.to_string()))?;
            let topology = match topology {
                Some(path) => Topology::load(path),
                None => Topology::from_env(),
            }
            .map_err(|e| input(e.to_string()))?;
            let mut options = NetworkOptions::from_env().map_err(|e| input(e.to_string()))?;
            if let Some(t) = trust {
                if !(*t > 0.0 && *t <= 1.0) {
                    return Err(input("--trust: a number above 0, at most 1"));
                }
                options.trust = *t;
            }
            let runtime = runtime()?;
            let verdict = runtime.block_on(async {
                let network = Network::new(topology, options).await?;
                network.check_approved(&pack.contract.hash_id).await
            });
            verdict.map_err(|e| input(format!("not trusted: {e}")))?;
            log.info("The contract is APPROVED by the network");
            print_fields(
                json,
                vec![
                    (
                        "origin",
                        hash_id::to_base64(&contract.origin_of(&pack.contract)),
                    ),
                    ("hash_id", hash_id::to_base64(&pack.contract.hash_id)),
                    ("state", "APPROVED".into()),
                ],
            );
        }
    }
    Ok(())
}

/// What a section lists, for the operator to check before the contract is registered.
fn section_fields(s: &ParsecSection) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    for (a, test) in &s.service_key_addresses {
        fields.push((
            if *test { "test key" } else { "service key" },
            a.to_string(),
        ));
    }
    for u in s.http.iter().chain(&s.https) {
        fields.push(("url", u.clone()));
    }
    fields
}

/// Prints `name: value` lines, or one JSON object (a name given several times becomes a list).
fn print_fields(json: bool, fields: Vec<(&'static str, String)>) {
    if json {
        let mut object: Vec<(&'static str, Vec<String>)> = Vec::new();
        for (k, v) in fields {
            match object.iter_mut().find(|(name, _)| *name == k) {
                Some((_, values)) => values.push(v),
                None => object.push((k, vec![v])),
            }
        }
        Json::Object(
            object
                .into_iter()
                .map(|(k, mut v)| {
                    let value = if v.len() == 1 {
                        Json::Str(v.remove(0))
                    } else {
                        Json::List(v.into_iter().map(Json::Str).collect())
                    };
                    (k, value)
                })
                .collect(),
        )
        .print();
    } else {
        for (k, v) in fields {
            println!("{k}: {v}");
        }
    }
}

fn inspect(bytes: &[u8], json: bool) -> Result<(), Error> {
    let pack = Pack::read(bytes).map_err(|e| input(e.to_string()))?;
    let sealed = &pack.contract;
    let (contract, signers) = universa::open(sealed).map_err(|e| input(e.to_string()))?;
    let previous = contract
        .parent
        .as_deref()
        .and_then(|p| pack.find(p))
        .and_then(|p| universa::open(p).ok())
        .map(|(c, _)| c);
    let roles = if contract.origin.is_some() && previous.is_none() {
        "not checked here: the file does not carry the previous revision (the network checks \
         them when it registers the revision)"
            .to_string()
    } else {
        match contract.check_signers(&signers, previous.as_ref()) {
            Ok(()) => "the signers play the roles that allow them".to_string(),
            Err(e) => e.to_string(),
        }
    };
    let signer_list: Vec<String> = signers
        .iter()
        .map(|s| {
            s.key
                .long_address()
                .map(|a| a.to_string())
                .unwrap_or_default()
        })
        .collect();
    let section = contract.parsec.as_ref().map(ParsecSection::read);
    let (keys, urls) = match &section {
        Some(Ok(s)) => (
            s.service_key_addresses
                .iter()
                .map(|(a, test)| format!("{a}{}", if *test { " (test)" } else { "" }))
                .collect::<Vec<_>>(),
            s.http.iter().chain(&s.https).cloned().collect::<Vec<_>>(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let section_state = match &section {
        None => "none".to_string(),
        Some(Ok(s)) => s.service_name.clone(),
        Some(Err(e)) => format!("unreadable: {e}"),
    };
    let names: Vec<String> = contract.names.iter().map(|n| n.name.clone()).collect();
    if json {
        let strs = |v: &[String]| Json::List(v.iter().map(|s| Json::str(s.clone())).collect());
        Json::Object(vec![
            ("hash_id", Json::str(hash_id::to_base64(&sealed.hash_id))),
            (
                "origin",
                Json::str(hash_id::to_base64(&contract.origin_of(sealed))),
            ),
            ("revision", Json::str(contract.revision.to_string())),
            ("type", Json::str(&contract.kind)),
            ("uns2", Json::Bool(contract.is_uns2())),
            ("names", strs(&names)),
            ("signers", strs(&signer_list)),
            ("roles", Json::str(roles)),
            ("service", Json::str(section_state)),
            ("service_keys", strs(&keys)),
            ("urls", strs(&urls)),
        ])
        .print();
    } else {
        println!("HashId: {}", hash_id::to_base64(&sealed.hash_id));
        println!(
            "origin: {}",
            hash_id::to_base64(&contract.origin_of(sealed))
        );
        println!("revision: {}", contract.revision);
        println!(
            "type: {}{}",
            contract.kind,
            if contract.is_uns2() { " (UNS2)" } else { "" }
        );
        for n in &names {
            println!("name: {n}");
        }
        for s in &signer_list {
            println!("signed by: {s} (signature verified)");
        }
        println!("roles: {roles}");
        println!("service: {section_state}");
        for k in &keys {
            println!("service key: {k}");
        }
        for u in &urls {
            println!("url: {u}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_or_tls_info_answers_name_the_service_key() {
        for url in [
            "http://127.0.0.1:8373/api/p1",
            "http://localhost:1/api/p1",
            "http://[::1]:8373/api/p1",
            "https://service.example/api/p1",
        ] {
            assert!(believable(url), "{url}");
        }
        for url in [
            "http://192.0.2.7:8373/api/p1",
            "http://service.example/api/p1",
            "http://127.0.0.1.example:80/",
        ] {
            assert!(!believable(url), "{url}");
        }
    }
}
