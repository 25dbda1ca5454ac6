//! Universa contracts, both ways with npm universa-core 1.6.4 (an independent implementation,
//! run under Node by `tests/node/universa_peer.cjs`): contracts it makes open here (same
//! HashId, signatures and roles accepted, parsec section read), and contracts made here are
//! read there (same HashId, every signature verified by its own code, same chain links).
//!
//! Needs `node` and `PARSEC_NODE_MODULES` (the node_modules of tests/node, universa-core
//! compiled); `./test.sh` installs both. Without them these tests fail and say so.

use std::path::Path;
use std::process::Command;

use parsec1::hash_id;
use parsec1::universa::{self, NewContract, ParsecSection, Sealed};
use parsec1::PrivateKey;
use parsec_boss::Time;
use serde_json::Value as Json;

fn peer(args: &[&str]) -> Json {
    let modules = std::env::var("PARSEC_NODE_MODULES").expect(
        "PARSEC_NODE_MODULES must name the node_modules of crates/parsec1/tests/node \
         (unicrypto and a compiled universa-core); ./test.sh installs it",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/universa_peer.cjs");
    let out = Command::new("node")
        .arg("--no-experimental-fetch")
        .arg(script)
        .args(args)
        .env("PARSEC_NODE_MODULES", modules)
        .output()
        .expect("node must be installed (./test.sh installs nodejs)");
    assert!(
        out.status.success(),
        "universa_peer {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn address(key: &PrivateKey) -> String {
    key.public_key().long_address().unwrap().to_string()
}

#[test]
fn contracts_universa_core_makes_open_here() {
    let dir = tempfile::tempdir().unwrap();
    let service = PrivateKey::generate(2048).unwrap();
    let made = peer(&[
        "make",
        dir.path().to_str().unwrap(),
        &address(&service),
        "http://192.0.2.1:8373/api/p1",
    ]);
    let read = |name: &str| Sealed::read(&std::fs::read(dir.path().join(name)).unwrap()).unwrap();
    let (root, rev2) = (read("root.unicon"), read("rev2.unicon"));
    assert_eq!(hash_id::to_base64(&root.hash_id), made["root"]);
    assert_eq!(hash_id::to_base64(&rev2.hash_id), made["rev2"]);

    let (root_contract, root_signers) = universa::open(&root).unwrap();
    root_contract.check_signers(&root_signers, None).unwrap();
    assert_eq!(
        root_signers[0].key.long_address().unwrap().to_string(),
        made["issuer"]
    );
    let (rev, rev_signers) = universa::open(&rev2).unwrap();
    rev.check_signers(&rev_signers, Some(&root_contract))
        .unwrap();
    assert_eq!(
        rev_signers[0].key.long_address().unwrap().to_string(),
        made["owner"]
    );
    assert_eq!(rev.origin_of(&rev2), root.hash_id);
    assert_eq!(rev.parent.as_deref(), Some(&root.hash_id[..]));
    let section = ParsecSection::read(rev.parsec.as_ref().unwrap()).unwrap();
    assert_eq!(
        section.trusted_addresses(false),
        [service.public_key().long_address().unwrap()]
    );
    assert_eq!(section.http, ["http://192.0.2.1:8373/api/p1/2"]);
    // The issuer is not the owner: a revision it signed would be refused.
    assert!(rev
        .check_signers(&root_signers, Some(&root_contract))
        .is_err());
}

fn ours(dir: &Path, uns2: bool) -> (PrivateKey, PrivateKey, PrivateKey, Sealed, Sealed) {
    let issuer = PrivateKey::generate(2048).unwrap();
    let owner = PrivateKey::generate(2048).unwrap();
    let service = PrivateKey::generate(2048).unwrap();
    let section = |url: &str| ParsecSection {
        service_name: "made by parsec-rs".into(),
        short_service_name: None,
        service_description: Some("interop".into()),
        service_key_addresses: vec![(service.public_key().long_address().unwrap(), false)],
        http: vec![url.into()],
        https: Vec::new(),
    };
    let now = Time::now();
    let spec = NewContract {
        parsec: section("http://192.0.2.7:8373/api/p1"),
        owner: owner.public_key().long_address().unwrap(),
        uns2_name: uns2.then(|| ("parsec-rs-interop".to_string(), None)),
        created_at: now,
        expires_at: now.plus_seconds(86400 * 30),
    };
    let root = universa::create(&spec, &issuer).unwrap();
    std::fs::write(dir.join("root.unicon"), &root).unwrap();
    let root = Sealed::read(&root).unwrap();
    let rev2 =
        universa::revise(&root, &section("http://192.0.2.8:8373/api/p1"), &owner, now).unwrap();
    std::fs::write(dir.join("rev2.unicon"), &rev2).unwrap();
    (issuer, owner, service, root, Sealed::read(&rev2).unwrap())
}

#[test]
fn contracts_made_here_are_read_by_universa_core() {
    for uns2 in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, owner, service, root, rev2) = ours(dir.path(), uns2);
        let theirs = peer(&["read", dir.path().join("root.unicon").to_str().unwrap()]);
        assert_eq!(theirs["hashId"], hash_id::to_base64(&root.hash_id));
        assert_eq!(theirs["revision"], 1);
        assert_eq!(theirs["origin"], Json::Null);
        assert_eq!(theirs["signatures"][0]["valid"], true, "{theirs}");
        assert_eq!(theirs["signatures"][0]["signer"], address(&issuer));
        assert_eq!(
            theirs["parsec"]["serviceKeyAddresses"][0]["address"],
            address(&service)
        );

        let theirs = peer(&["read", dir.path().join("rev2.unicon").to_str().unwrap()]);
        assert_eq!(theirs["hashId"], hash_id::to_base64(&rev2.hash_id));
        assert_eq!(theirs["revision"], 2);
        assert_eq!(theirs["origin"], hash_id::to_base64(&root.hash_id));
        assert_eq!(theirs["parent"], hash_id::to_base64(&root.hash_id));
        assert_eq!(theirs["signatures"][0]["valid"], true, "{theirs}");
        assert_eq!(theirs["signatures"][0]["signer"], address(&owner));
        assert_eq!(theirs["parsec"]["http"][0], "http://192.0.2.8:8373/api/p1");

        // A changed byte inside our signature: universa-core refuses it too.
        let mut bytes = std::fs::read(dir.path().join("rev2.unicon")).unwrap();
        let at = bytes.len() - 20;
        bytes[at] ^= 1;
        std::fs::write(dir.path().join("bad.unicon"), &bytes).unwrap();
        let theirs = peer(&["read", dir.path().join("bad.unicon").to_str().unwrap()]);
        assert_eq!(theirs["signatures"][0]["valid"], false, "{theirs}");
        assert!(Sealed::read(&bytes)
            .and_then(|s| universa::open(&s))
            .is_err());
    }
}
