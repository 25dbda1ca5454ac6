//! Parsec 1.2 and 1.3 end to end: the real daemon serving a service contract, a Universa
//! network double (several loopback nodes, one topology: the real network cannot be reached
//! here), and our client trusting the service through them. The double is checked against
//! npm universa-core's own node client.
//!
//! The universa-core test needs `node` and `PARSEC_NODE_MODULES`; `./test.sh` installs both.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::p1::{start, P1};
use common::universa::UniversaNet;
use parsec1::universa::{self, NewContract, ParsecSection, Sealed};
use parsec1::{hash_id, KeyAddress, PrivateKey};
use parsec_boss::{Time, Value};
use parsec_rs_client::parsec1::{Error, HttpTransport, MemoryStorage, Options, Session};
use parsec_rs_client::universa::{ContractKeys, Network, NetworkOptions, Topology, TrustError};
use parsec_rs_client::{Client, Endpoint};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Short enough for the "pending past the deadline" case, long enough for a check while the
/// other tests load both cores (3 s was seen to run out there).
fn net_options() -> NetworkOptions {
    NetworkOptions {
        trust: 0.5,
        request_timeout: Duration::from_secs(5),
        deadline: Duration::from_secs(8),
        pending_pause: Duration::from_millis(100),
    }
}

fn section(keys: &[(KeyAddress, bool)], urls: &[&str]) -> ParsecSection {
    ParsecSection {
        service_name: "parsec-rs under test".into(),
        short_service_name: None,
        service_description: None,
        service_key_addresses: keys.to_vec(),
        http: urls.iter().map(|u| u.to_string()).collect(),
        https: Vec::new(),
    }
}

/// The daemon, the network double, and the contract's owner (also its issuer).
struct Setup {
    p1: P1,
    net: UniversaNet,
    owner: PrivateKey,
    contract_path: PathBuf,
}

impl Setup {
    /// A daemon serving a root contract that lists `listed` (default: the daemon's own key),
    /// APPROVED on every node.
    fn start(nodes: usize, listed: Option<KeyAddress>) -> (Setup, Sealed) {
        let net = UniversaNet::start(nodes);
        let p1 = start("");
        let owner = PrivateKey::generate(2048).unwrap();
        let now = Time::now();
        let listed = listed.unwrap_or_else(|| p1.service_key.clone());
        let spec = NewContract {
            parsec: section(&[(listed, false)], &[&p1.url]),
            owner: owner.public_key().long_address().unwrap(),
            uns2_name: None,
            created_at: now,
            expires_at: now.plus_seconds(86400),
        };
        let bytes = universa::create(&spec, &owner).unwrap();
        let contract_path = p1.daemon.dir.path().join("service-contract.unicon");
        std::fs::write(&contract_path, &bytes).unwrap();
        let root = Sealed::read(&bytes).unwrap();
        net.set_state(&root.hash_id, "APPROVED");
        let setup = Setup {
            p1,
            net,
            owner,
            contract_path,
        };
        let config = std::fs::read_to_string(&setup.p1.daemon.config_path).unwrap();
        setup.p1.daemon.reload(&format!(
            "{config}\nservice_contract = {:?}\n",
            setup.contract_path
        ));
        (setup, root)
    }

    /// Serves `bytes` from now on (SIGHUP).
    fn serve(&self, bytes: &[u8]) {
        std::fs::write(&self.contract_path, bytes).unwrap();
        let config = std::fs::read_to_string(&self.p1.daemon.config_path).unwrap();
        self.p1.daemon.reload(&config);
    }

    fn keys(&self, rt: &tokio::runtime::Runtime, origin: &[u8]) -> ContractKeys {
        let topology = Topology::load(&self.net.topology_file).unwrap();
        let network = rt.block_on(Network::new(topology, net_options())).unwrap();
        ContractKeys::new(
            origin.to_vec(),
            HttpTransport::new(&self.p1.url).unwrap(),
            network,
            false,
            None,
        )
    }

    fn session(&self, keys: ContractKeys) -> Session<MemoryStorage, ContractKeys> {
        Session::new(
            HttpTransport::new(&self.p1.url).unwrap(),
            MemoryStorage::new(),
            keys,
            Options {
                key_bits: 2048,
                test_mode: false,
            },
        )
    }

    /// The session's first call, through a fresh client of `origin`.
    fn try_session(&self, rt: &tokio::runtime::Runtime, origin: &[u8]) -> Result<Value, Error> {
        let s = self.session(self.keys(rt, origin));
        rt.block_on(s.call_value("getSessionInfo", Value::dict::<&str>([])))
    }
}

fn trust_error(r: Result<Value, Error>) -> TrustError {
    match r {
        Err(Error::Trust(e)) => e,
        other => panic!("expected a trust error, got {other:?}"),
    }
}

#[test]
fn an_approved_contract_is_trusted_and_every_refusal_names_its_reason() {
    let (setup, root) = Setup::start(4, None);
    let rt = runtime();
    let origin = root.hash_id.clone();
    // info offers 1.2 now.
    let info = common::http(
        &setup.p1.authority(),
        &common::parsec1_info_request("/api/p1"),
    );
    assert!(info.contains("1.2"), "{info}");

    // Approved: the session works.
    let info = setup.try_session(&rt, &origin).unwrap();
    assert_eq!(info.get("isTest"), Some(&Value::Bool(false)));

    // Every check opens new node sessions: an answer recorded in one session cannot be
    // replayed to a question of the next.
    let keys = setup.keys(&rt, &origin);
    let connects = || setup.net.nodes.iter().map(|n| n.connects()).sum::<usize>();
    let before = connects();
    rt.block_on(keys.check()).unwrap();
    let once = connects() - before;
    assert!(once >= 2, "a check asks at least the quorum: {once}");
    rt.block_on(keys.check()).unwrap();
    // At least the quorum's worth again (how many more nodes connected before the check
    // stopped waiting for them varies from run to run).
    let second = connects() - before - once;
    assert!(
        second >= 2,
        "the second check made sessions of its own: {second}"
    );

    // Revoked, declined, unknown to the network: refused, with the reason.
    for (state, reason) in [
        ("REVOKED", "revoked"),
        ("DECLINED", "declined"),
        ("UNDEFINED", "unknown to the network"),
    ] {
        setup.net.set_state(&root.hash_id, state);
        let e = trust_error(setup.try_session(&rt, &origin));
        assert!(e.to_string().contains(reason), "{state}: {e}");
    }
    // One negative answer of four nodes refuses (⌊4·0.1⌋+1 = 1) unless two APPROVED came
    // first: with one APPROVED node, one REVOKED and two down, it always refuses.
    setup.net.set_state(&root.hash_id, "APPROVED");
    setup.net.set_state_on(1, &root.hash_id, "REVOKED");
    setup.net.nodes[2].set_down(true);
    setup.net.nodes[3].set_down(true);
    let e = trust_error(setup.try_session(&rt, &origin));
    assert!(e.to_string().contains("revoked"), "{e}");
    setup.net.nodes[2].set_down(false);
    setup.net.nodes[3].set_down(false);
    setup.net.set_state(&root.hash_id, "APPROVED");

    // Too few nodes answering: three of four down, the 2 APPROVED needed cannot come (the
    // check ends as soon as that is sure).
    for i in 1..4 {
        setup.net.nodes[i].set_down(true);
    }
    let e = trust_error(setup.try_session(&rt, &origin));
    assert!(
        matches!(
            e,
            TrustError::NotEnoughNodes {
                needed: 2,
                failed: 3,
                of: 4,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not enough nodes"), "{e}");
    // One node down of four: the quorum (2) is still reached.
    for i in 1..3 {
        setup.net.nodes[i].set_down(false);
    }
    setup.try_session(&rt, &origin).unwrap();
    setup.net.nodes[3].set_down(false);

    // Pending on every node for longer than the deadline: refused in time.
    setup.net.set_state(&root.hash_id, "PENDING_POSITIVE");
    let e = trust_error(setup.try_session(&rt, &origin));
    assert!(matches!(e, TrustError::Timeout { .. }), "{e}");
    setup.net.set_state(&root.hash_id, "APPROVED");

    // Another chain's origin: refused before the network is asked.
    let other = hash_id::hash_id(b"another contract");
    let e = trust_error(setup.try_session(&rt, &other));
    assert!(e.to_string().contains("wrong origin"), "{e}");

    // A revision that lists the service key as a test key only: no usable key.
    let test_only = section(&[(setup.p1.service_key.clone(), true)], &[&setup.p1.url]);
    let rev = universa::revise(&root, &test_only, &setup.owner, Time::now()).unwrap();
    setup
        .net
        .set_state(&Sealed::read(&rev).unwrap().hash_id, "APPROVED");
    setup.serve(&rev);
    let e = trust_error(setup.try_session(&rt, &origin));
    assert!(e.to_string().contains("no usable key"), "{e}");

    // A contract the service serves with a broken signature is refused by the service
    // itself (kept the one it had) and, were it served, by the client.
    let mut broken = rev.clone();
    let at = broken.len() - 20;
    broken[at] ^= 1;
    setup.serve(&broken);
    assert!(setup.p1.daemon.stderr().contains("cannot be used"));
    let e = trust_error(setup.try_session(&rt, &origin));
    assert!(
        e.to_string().contains("no usable key"),
        "the old one is kept: {e}"
    );
}

#[test]
fn key_rotation_by_a_revision_recovers_through_unknown_service_key() {
    // The contract lists an old key; the service already signs with its new one.
    let old = PrivateKey::generate(2048)
        .unwrap()
        .public_key()
        .long_address()
        .unwrap();
    let (setup, root) = Setup::start(3, Some(old));
    assert!(
        setup
            .p1
            .daemon
            .stderr()
            .contains("not among the service contract"),
        "the service warns that clients will not trust it"
    );
    let rt = runtime();
    let keys = setup.keys(&rt, &root.hash_id);
    // The client checks the contract: it now trusts the old key.
    rt.block_on(keys.check()).unwrap();
    let session = setup.session(keys);

    // The owner rotates: revision 2 lists the service's key; the network approves it and
    // revokes revision 1; the service serves it (SIGHUP).
    let rotated = section(&[(setup.p1.service_key.clone(), false)], &[&setup.p1.url]);
    let rev2 = universa::revise(&root, &rotated, &setup.owner, Time::now()).unwrap();
    setup
        .net
        .set_state(&Sealed::read(&rev2).unwrap().hash_id, "APPROVED");
    setup.net.set_state(&root.hash_id, "REVOKED");
    setup.serve(&rev2);

    // The same client, not restarted: createTSK with the old key is refused with
    // parsec_unknown_service_key; it asks again, trusts revision 2, and goes on.
    let info = rt
        .block_on(session.call_value("getSessionInfo", Value::dict::<&str>([])))
        .unwrap();
    assert_eq!(info.get("isTest"), Some(&Value::Bool(false)));
}

/// A port nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/api/p1")
}

#[test]
fn a_uns2_name_finds_the_service_and_the_second_url_serves_when_the_first_is_down() {
    let net = UniversaNet::start(3);
    let p1 = start("");
    let owner = PrivateKey::generate(2048).unwrap();
    let now = Time::now();
    let name = "parsec-rs-under-test";
    let spec = NewContract {
        parsec: section(&[(p1.service_key.clone(), false)], &[&dead_url(), &p1.url]),
        owner: owner.public_key().long_address().unwrap(),
        uns2_name: Some((name.into(), None)),
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    let bytes = universa::create(&spec, &owner).unwrap();
    net.set_name(name, &bytes);
    let topology = Topology::load(&net.topology_file).unwrap();
    let client = |name: &str| {
        Client::builder()
            .endpoint(Endpoint::Name(name.into()))
            .universa_topology(topology.clone())
            .universa_options(net_options())
            .session_in_memory()
            .build()
    };
    // Not approved yet: refused.
    let e = client(name).err().expect("not approved");
    assert!(e.to_string().contains("unknown to the network"), "{e}");
    net.set_state(&Sealed::read(&bytes).unwrap().hash_id, "APPROVED");

    let c = client(name).unwrap();
    c.create_signing_key("via-uns2").unwrap();
    let signature = c.sign("via-uns2", b"found by name").unwrap();
    c.verify("via-uns2", b"found by name", &signature).unwrap();

    // A name no node holds.
    let e = client("nobody-has-this-name").err().expect("unknown name");
    assert!(e.to_string().contains("unknown name"), "{e}");
    // A node that answers with a contract that does not hold the name is not believed.
    net.set_name("stolen-name", &bytes);
    let e = client("stolen-name").err().expect("not its name");
    assert!(e.to_string().contains("not a UNS2 contract holding"), "{e}");
}

/// npm universa-core (tests/node/universa_peer.cjs in the parsec1 crate): one command, its
/// JSON answer.
fn universa_core(args: &[&str]) -> serde_json::Value {
    let modules = std::env::var("PARSEC_NODE_MODULES").expect(
        "PARSEC_NODE_MODULES must name the node_modules of crates/parsec1/tests/node \
         (universa-core compiled); ./test.sh installs it",
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parsec1/tests/node/universa_peer.cjs"
    );
    let out = Command::new("node")
        .arg("--no-experimental-fetch")
        .arg(script)
        .args(args)
        .env("PARSEC_NODE_MODULES", modules)
        .output()
        .expect("node must be installed (./test.sh installs nodejs)");
    assert!(
        out.status.success(),
        "universa-core {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn universa_network_double_answers_universa_core() {
    let net = UniversaNet::start(3);
    let owner = PrivateKey::generate(2048).unwrap();
    let now = Time::now();
    let spec = NewContract {
        parsec: section(
            &[(owner.public_key().long_address().unwrap(), false)],
            &["http://192.0.2.1:1/api/p1"],
        ),
        owner: owner.public_key().long_address().unwrap(),
        uns2_name: Some(("double-check".into(), None)),
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    let bytes = universa::create(&spec, &owner).unwrap();
    let sealed = Sealed::read(&bytes).unwrap();
    net.set_state(&sealed.hash_id, "APPROVED");
    net.set_name("double-check", &bytes);

    let network = [
        "network",
        net.topology_file.to_str().unwrap(),
        &hash_id::to_base64(&sealed.hash_id),
        "double-check",
    ];
    let answer = universa_core(&network);
    assert_eq!(answer["size"], 3, "{answer}");
    assert_eq!(answer["sessionVersion"], 3, "{answer}");
    assert_eq!(answer["approved"], true, "{answer}");
    assert!(answer["states"]["APPROVED"].as_u64() >= Some(2), "{answer}");
    assert_eq!(
        answer["namedHashId"],
        hash_id::to_base64(&sealed.hash_id),
        "{answer}"
    );
    assert!(net.nodes.iter().map(|n| n.commands()).sum::<usize>() >= 3);

    // And refused by universa-core when the nodes say so.
    net.set_state(&sealed.hash_id, "REVOKED");
    let answer = universa_core(&network);
    assert_eq!(answer["approved"], false, "{answer}");
}

/// Our parsec-tool, with a private data directory and `env`.
fn tool(data: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(common::upstream::our_parsec_tool());
    cmd.args(args)
        .env("XDG_DATA_HOME", data)
        .env_remove("PARSEC_SERVICE_ENDPOINT")
        .env_remove("PARSEC1_SERVICE_KEY")
        .env_remove("PARSEC1_SERVICE_CONTRACT")
        .env_remove("PARSEC1_SERVICE_NAME")
        .env_remove("UNIVERSA_TOPOLOGY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn field(out: &std::process::Output, name: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .to_string()
}

#[test]
fn parsec_tool_makes_revises_inspects_and_checks_contracts_and_trusts_them() {
    let net = UniversaNet::start(3);
    let p1 = start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).to_str().unwrap().to_string();
    let topology = net.topology_file.to_str().unwrap().to_string();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };

    // An issuer key, and a contract for the service at the endpoint (its key and URL from
    // its info).
    let out = ok(tool(
        d,
        &[],
        &[
            "parsec1",
            "create-key",
            "--bits",
            "2048",
            "--out",
            &path("issuer.unikey"),
        ],
    ));
    let issuer = field(&out, "address");
    let out = tool(
        d,
        &[],
        &["parsec1", "create-key", "--out", &path("issuer.unikey")],
    );
    assert!(
        !out.status.success(),
        "an existing key file is never overwritten"
    );
    let endpoint = [("PARSEC_SERVICE_ENDPOINT", p1.url.as_str())];
    let out = ok(tool(
        d,
        &endpoint,
        &[
            "parsec1",
            "create-contract",
            "--issuer-key",
            &path("issuer.unikey"),
            "--out",
            &path("rev1.unicon"),
        ],
    ));
    let origin = field(&out, "origin");
    let out = ok(tool(d, &[], &["parsec1", "inspect", &path("rev1.unicon")]));
    assert_eq!(field(&out, "HashId"), origin);
    assert_eq!(field(&out, "revision"), "1");
    assert_eq!(field(&out, "service key"), p1.service_key.to_string());
    assert_eq!(field(&out, "url"), p1.url);
    assert_eq!(
        field(&out, "signed by"),
        format!("{issuer} (signature verified)")
    );
    assert!(field(&out, "roles").contains("play the roles"));

    // Checked against the network: refused while unknown, accepted once approved.
    let check = |file: &str| {
        tool(
            d,
            &[],
            &["parsec1", "check", &path(file), "--topology", &topology],
        )
    };
    let out = check("rev1.unicon");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown to the network"));
    let id = hash_id::from_base64(&origin).unwrap();
    net.set_state(&id, "APPROVED");
    assert_eq!(field(&ok(check("rev1.unicon")), "state"), "APPROVED");

    // The daemon serves it; parsec-tool trusts the service through it (environment only).
    std::fs::copy(path("rev1.unicon"), path("served.unicon")).unwrap();
    let config = std::fs::read_to_string(&p1.daemon.config_path).unwrap();
    p1.daemon.reload(&format!(
        "{config}\nservice_contract = {:?}\n",
        path("served.unicon")
    ));
    let trusted = [
        ("PARSEC_SERVICE_ENDPOINT", p1.url.as_str()),
        ("PARSEC1_SERVICE_CONTRACT", origin.as_str()),
        ("UNIVERSA_TOPOLOGY", topology.as_str()),
    ];
    ok(tool(d, &trusted, &["create-ecc-key", "-k", "by-contract"]));
    let out = ok(tool(d, &trusted, &["list-keys"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("* by-contract"));

    // A revision with another URL, by the owner (the issuer here); a stranger cannot.
    let out = ok(tool(
        d,
        &[],
        &[
            "parsec1",
            "revise-contract",
            "--contract",
            &path("rev1.unicon"),
            "--owner-key",
            &path("issuer.unikey"),
            "--url",
            "http://192.0.2.9:8373/api/p1",
            "--url",
            &p1.url,
            "--out",
            &path("rev2.unicon"),
        ],
    ));
    assert_eq!(field(&out, "origin"), origin);
    assert_eq!(field(&out, "revision"), "2");
    let out = ok(tool(d, &[], &["parsec1", "inspect", &path("rev2.unicon")]));
    assert_eq!(field(&out, "url"), "http://192.0.2.9:8373/api/p1");
    assert_eq!(
        field(&out, "service key"),
        p1.service_key.to_string(),
        "kept"
    );
    // npm universa-core reads what the commands made: same HashIds, signatures verified.
    for (file, revision) in [("rev1.unicon", 1), ("rev2.unicon", 2)] {
        let theirs = universa_core(&["read", &path(file)]);
        let ours = ok(tool(d, &[], &["parsec1", "inspect", &path(file)]));
        assert_eq!(theirs["hashId"], field(&ours, "HashId"), "{file}");
        assert_eq!(theirs["revision"], revision, "{file}");
        let expected = if revision == 1 {
            serde_json::Value::Null
        } else {
            origin.clone().into()
        };
        assert_eq!(theirs["origin"], expected, "{file}");
        assert_eq!(theirs["signatures"][0]["valid"], true, "{file}: {theirs}");
        assert_eq!(theirs["signatures"][0]["signer"], issuer, "{file}");
    }
    ok(tool(
        d,
        &[],
        &[
            "parsec1",
            "create-key",
            "--bits",
            "2048",
            "--out",
            &path("stranger.unikey"),
        ],
    ));
    let out = tool(
        d,
        &[],
        &[
            "parsec1",
            "revise-contract",
            "--contract",
            &path("rev1.unicon"),
            "--owner-key",
            &path("stranger.unikey"),
            "--out",
            &path("rev2b.unicon"),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("owner"));

    // Revoked on the network: parsec-tool refuses the service, and says why.
    net.set_state(&id, "REVOKED");
    std::fs::remove_dir_all(d.join("parsec-rs")).unwrap();
    let out = tool(d, &trusted, &["list-keys"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("revoked"), "{stderr}");
    // Garbage is refused with a reason.
    std::fs::write(path("garbage.unicon"), b"not a contract").unwrap();
    let out = tool(d, &[], &["parsec1", "inspect", &path("garbage.unicon")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Universa contract"));
}
