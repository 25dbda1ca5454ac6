//! Real sealed Universa contracts (testdata/universa, from public repositories): containers
//! read, HashIds as independent implementations computed them, extended signatures verified,
//! and a changed byte of the contract or of a signature refused.

use parsec1::hash_id;
use parsec1::universa::{self, Sealed};

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/testdata/universa/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Each file, and the HashId of its contract (Base64) as the test data's README gives it.
const HASH_IDS: [(&str, &str); 8] = [
    ("utn-rev1739.unicon", "eDvx+XaJwRAguNtIPPCnxShChrG4s//emmQu2kApPKTJbviiGZ0ssTh1gKCQn4fuu2COoEW+7U1rCJeOsy/IbNa28GXm2J6Y2kA0zKcc7rEMuJtb1J8OKfLiWTwewGT5"),
    ("u8-testcontract.unicon", "4k2G/6llnmaLUEXBEMFUTo3p1E837IH9+sjDToKtAGh/ycGzGV8Q0Wal8gdgULVht5sCRrK4haCbpXcFcyQGO2fMaNs05QPDcOLssWBHFSsZaS5lr+MaXIeF9x4M0AzS"),
    ("u8-sc.unicon", "QhhPXAPmakRJ/FGA/RpWf2ix+rzbQ4kbJKPGX9mhPOTA++okuGu7rPNiOtgKNytePLx5Q7Jjxp+61Y9FG8toJLhNRAkgQ6q4DVaq2kYjCZ57I6kBMWKX1J3yehb0k2d0"),
    ("binaryContract.unc", "Q1XWFTQsXr6Q8cCzAyVjJ9vALDHkY01j4iPVI0AYOyP6NX+TQHbASXKnk4oSdf3jb4ty+6MFnrz+ZgiTnukrR5Rab2BBSfW1+xVYjiXo2Nc2F0sVQKLGp3W9UsDS3JLO"),
    ("realToken.unicon", "3zKLEsDC51nK+ceKtIFWTUfySWRego206Cfj1cxO/pg5q+muYqBYDFib0omYXbivff+f/KBJZy6QrT+wKV1vLeK2Z+kvSUMPq3zFARACHQN8I/7BrbRYSSLrZH5o1T9+"),
    ("testtranspack_1.unicon", "E0c5E0dPuNtW7zjpiMUhCFFvh//wTPoXYl86ZmyHQhTb1OuG+E+4j7mxdZzHKGQj4pR1SXHsKXyfqcJ3IXdStED2ZJHR0HZL1maNd3CwElTILG50e0fxXMcaVwdk7fRn"),
    ("node_config_contract.unicon", "QqwNOM61yzd1MJyLI9P9w4RKptOjnn6UmiN7jtj3mDlivnVMbjrvEP3M2FSrIEH9pZ+K45cfur/EWE3xs9jFwMpx6G0ZP2cyA6Fgn3k6uf1Cv6w5tGHsVZ/8Fs+WaQ/S"),
    ("test_access_rev3.unicon", "w0XH6U53jE+QlpLl1XfddBqrlzjNdnKClXrnwyqYZZX/bXFBolZLPutj0mUKT7EEUYDaWp2SJFBlZi3yE9EJB48zBxr6qZada5J+CbTzZAFJ+xo7FG27ktfqZVyz2lDT"),
];

/// Contracts whose signatures embed their key (`pub_key`), and how many they carry.
const EMBEDDED: [(&str, usize); 5] = [
    ("utn-rev1739.unicon", 3),
    ("u8-testcontract.unicon", 1),
    ("u8-sc.unicon", 1),
    ("binaryContract.unc", 1),
    ("testtranspack_1.unicon", 1),
];

#[test]
fn hash_ids_match_independent_implementations() {
    for (name, expected) in HASH_IDS {
        let sealed = Sealed::read(&file(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hash_id::to_base64(&sealed.hash_id), expected, "{name}");
    }
}

#[test]
fn embedded_key_signatures_verify_and_a_changed_byte_is_refused() {
    for (name, count) in EMBEDDED {
        let sealed = Sealed::read(&file(name)).unwrap();
        assert_eq!(sealed.signatures.len(), count, "{name}");
        for sig in &sealed.signatures {
            let signer =
                universa::verify(sig, &sealed.data, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(signer.created_at.is_some(), "{name}");
            // One byte of the contract changed: its digest no longer matches.
            let mut data = sealed.data.clone();
            let middle = data.len() / 2;
            data[middle] ^= 1;
            assert!(universa::verify(sig, &data, &[]).is_err(), "{name}");
            // One byte near the end of the signature (inside `sign`) changed.
            let mut bad = sig.clone();
            let at = bad.len() - 10;
            bad[at] ^= 1;
            assert!(universa::verify(&bad, &sealed.data, &[]).is_err(), "{name}");
        }
    }
}

#[test]
fn the_extended_signature_vector_verifies() {
    let bytes = file("u8-es-bytes.bin");
    let signer = universa::verify(&file("u8-es-signature.bin"), &bytes, &[]).unwrap();
    assert_eq!(signer.key.bits(), 2048);
    assert!(universa::verify(&file("u8-es-signature.bin"), &bytes[1..], &[]).is_err());
}

#[test]
fn a_signature_without_an_embedded_key_is_checked_with_the_role_keys() {
    // realToken's signature names its key by fingerprint only: without the role keys it is
    // refused, with a reason; with them (`open`), it verifies.
    let sealed = Sealed::read(&file("realToken.unicon")).unwrap();
    let e = universa::verify(&sealed.signatures[0], &sealed.data, &[]).unwrap_err();
    assert!(e.to_string().contains("neither embedded nor known"), "{e}");
    let (contract, signers) = universa::open(&sealed).unwrap();
    assert_eq!(signers.len(), 1);
    assert_eq!(contract.revision, 1);
    assert_eq!(
        contract.origin_of(&sealed),
        sealed.hash_id,
        "a root is its own origin"
    );
    // The signer's long address, as the test data's README gives it.
    assert_eq!(
        signers[0].key.long_address().unwrap().to_string(),
        "HzBhuHt16LP1CmJgtKGzDF9rSmFoSup6py1ZngX6aFGm2zFHe6YnibMg84j7HhJPFEVZGvEc"
    );
}

#[test]
fn revisions_name_their_origin_and_parent() {
    // test_access_rev3: revision 4 of a chain whose revisions 1-3 are in the pack's
    // `references`; origin = revision 1, parent = revision 3, each signed with a role key.
    let bytes = file("test_access_rev3.unicon");
    let pack = parsec_boss::decode(&bytes).unwrap();
    let references: Vec<Sealed> = pack
        .get("references")
        .and_then(|r| r.as_list())
        .unwrap()
        .iter()
        .map(|c| Sealed::from_capsule(c.as_bytes().unwrap()).unwrap())
        .collect();
    let sealed = Sealed::read(&bytes).unwrap();
    let (contract, signers) = universa::open(&sealed).unwrap();
    assert_eq!(contract.revision, 4);
    assert!(!signers.is_empty());
    assert_eq!(contract.origin.as_deref(), Some(&references[0].hash_id[..]));
    assert_eq!(contract.parent.as_deref(), Some(&references[1].hash_id[..]));
    for reference in &references {
        let (c, signers) = universa::open(reference).unwrap();
        assert!(!signers.is_empty());
        assert_eq!(c.origin_of(reference), references[0].hash_id);
    }
    assert!(
        contract.parsec.is_none(),
        "no real contract has a parsec section"
    );
}

#[test]
fn every_signed_real_contract_opens() {
    for (name, _) in HASH_IDS {
        let sealed = Sealed::read(&file(name)).unwrap();
        let (_, signers) = universa::open(&sealed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(signers.len(), sealed.signatures.len(), "{name}");
    }
}

#[test]
fn garbage_is_refused() {
    assert!(Sealed::read(b"").is_err());
    assert!(Sealed::read(&[0xFF; 64]).is_err());
    assert!(universa::verify(&[0x1F; 16], b"x", &[]).is_err());
}

/// The real packs whose contract is a revision with its parent inside: the parent's owner (or a
/// permission's role) signed each, and each root was signed by its issuer.
#[test]
fn signers_hold_the_roles_that_allow_them() {
    for name in [
        "utn-rev1739.unicon",
        "u8-sc.unicon",
        "testtranspack_1.unicon",
        "test_access_rev3.unicon",
    ] {
        let pack = universa::Pack::read(&file(name)).unwrap();
        let mut chain = vec![pack.contract.clone()];
        // Walk back through the parents the pack carries.
        loop {
            let (c, _) = universa::open(chain.last().unwrap()).unwrap();
            match c.parent.as_deref().and_then(|p| pack.find(p)) {
                Some(parent) => chain.push(parent.clone()),
                None => break,
            }
        }
        assert!(chain.len() >= 2, "{name}: the parent is in the pack");
        for pair in chain.windows(2) {
            let (revision, signers) = universa::open(&pair[0]).unwrap();
            let (parent, _) = universa::open(&pair[1]).unwrap();
            revision
                .check_signers(&signers, Some(&parent))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // Signed by a stranger instead: refused.
            let stranger = stranger();
            let e = revision
                .check_signers(&stranger, Some(&parent))
                .unwrap_err();
            assert!(e.to_string().contains("owner"), "{name}: {e}");
        }
        let root = chain.last().unwrap();
        let (c, signers) = universa::open(root).unwrap();
        if c.origin.is_none() {
            c.check_signers(&signers, None)
                .unwrap_or_else(|e| panic!("{name} root: {e}"));
            let e = c.check_signers(&stranger(), None).unwrap_err();
            assert!(e.to_string().contains("issuer"), "{name}: {e}");
        }
    }
    for name in [
        "u8-testcontract.unicon",
        "binaryContract.unc",
        "realToken.unicon",
    ] {
        let sealed = Sealed::read(&file(name)).unwrap();
        let (c, signers) = universa::open(&sealed).unwrap();
        c.check_signers(&signers, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(c.check_signers(&[], None).is_err(), "{name}: unsigned");
    }
    // An unsigned root (its issuer is a short address) is refused.
    let sealed = Sealed::read(&file("node_config_contract.unicon")).unwrap();
    let (c, signers) = universa::open(&sealed).unwrap();
    assert!(signers.is_empty());
    assert!(c.check_signers(&signers, None).is_err());
    assert!(c.role("name_service").is_some(), "state.roles are read");
}

fn stranger() -> Vec<universa::Signer> {
    vec![universa::Signer {
        key: parsec1::PrivateKey::generate(2048)
            .unwrap()
            .public_key()
            .clone(),
        created_at: None,
    }]
}

fn section(keys: &[&parsec1::PrivateKey], url: &str) -> universa::ParsecSection {
    universa::ParsecSection {
        service_name: "Example service".into(),
        short_service_name: Some("example".into()),
        service_description: None,
        service_key_addresses: keys
            .iter()
            .map(|k| (k.public_key().long_address().unwrap(), false))
            .collect(),
        http: vec![url.into()],
        https: Vec::new(),
    }
}

#[test]
fn contracts_we_make_open_and_their_revisions_chain() {
    use parsec_boss::Time;
    let issuer = parsec1::PrivateKey::generate(2048).unwrap();
    let owner = parsec1::PrivateKey::generate(2048).unwrap();
    let (service_a, service_b) = (
        parsec1::PrivateKey::generate(2048).unwrap(),
        parsec1::PrivateKey::generate(2048).unwrap(),
    );
    let now = Time::now();
    let spec = universa::NewContract {
        parsec: section(&[&service_a], "http://192.0.2.1:8373/api/p1"),
        owner: owner.public_key().long_address().unwrap(),
        uns2_name: None,
        created_at: now,
        expires_at: now.plus_seconds(365 * 86400),
    };
    let root = Sealed::read(&universa::create(&spec, &issuer).unwrap()).unwrap();
    let (c, signers) = universa::open(&root).unwrap();
    assert_eq!((c.revision, c.origin.as_ref()), (1, None));
    c.check_signers(&signers, None).unwrap();
    assert!(!c.is_uns2());
    let read = universa::ParsecSection::read(c.parsec.as_ref().unwrap()).unwrap();
    assert_eq!(read, spec.parsec);
    assert!(c
        .permissions
        .iter()
        .any(|p| p.kind == "ModifyDataPermission" && p.fields == ["parsec"]));

    // Revision 2 rotates the service key; signed by the owner.
    let rotated = section(&[&service_b], "http://192.0.2.2:8373/api/p1");
    let rev2 = Sealed::read(&universa::revise(&root, &rotated, &owner, now).unwrap()).unwrap();
    let (c2, signers2) = universa::open(&rev2).unwrap();
    assert_eq!(c2.revision, 2);
    assert_eq!(c2.origin.as_deref(), Some(&root.hash_id[..]));
    assert_eq!(c2.parent.as_deref(), Some(&root.hash_id[..]));
    c2.check_signers(&signers2, Some(&c)).unwrap();
    // Without the revision before it, a revision cannot be checked: its own roles are what it
    // claims, not what allowed it.
    let e = c2.check_signers(&signers2, None).unwrap_err();
    assert!(e.to_string().contains("previous revision"), "{e}");
    assert_eq!(
        universa::ParsecSection::read(c2.parsec.as_ref().unwrap()).unwrap(),
        rotated
    );
    // Revision 3 chains to 2 and keeps the origin.
    let rev3 = Sealed::read(&universa::revise(&rev2, &spec.parsec, &owner, now).unwrap()).unwrap();
    let (c3, _) = universa::open(&rev3).unwrap();
    assert_eq!(c3.revision, 3);
    assert_eq!(c3.origin.as_deref(), Some(&root.hash_id[..]));
    assert_eq!(c3.parent.as_deref(), Some(&rev2.hash_id[..]));
    // Only the owner may revise; the issuer is not the owner here.
    let e = universa::revise(&root, &rotated, &issuer, now).unwrap_err();
    assert!(e.to_string().contains("owner"), "{e}");
    // A revision signed by the issuer instead (made by hand) fails the role check.
    let (_, issuer_signed) = universa::open(&root).unwrap();
    assert!(c2.check_signers(&issuer_signed, Some(&c)).is_err());
}

#[test]
fn uns2_contracts_hold_their_name() {
    use parsec_boss::Time;
    let key = parsec1::PrivateKey::generate(2048).unwrap();
    let now = Time::now();
    let spec = universa::NewContract {
        parsec: section(&[&key], "http://192.0.2.1:8373/api/p1"),
        owner: key.public_key().long_address().unwrap(),
        uns2_name: Some(("example-service".into(), Some("An example".into()))),
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    let sealed = Sealed::read(&universa::create(&spec, &key).unwrap()).unwrap();
    let (c, signers) = universa::open(&sealed).unwrap();
    c.check_signers(&signers, None).unwrap();
    assert!(c.is_uns2());
    assert!(c.holds_name("example-service"));
    assert!(!c.holds_name("example"));
    assert!(!c.holds_name("/example-service"));
    assert_eq!(c.names[0].description.as_deref(), Some("An example"));
    assert!(c.parsec.is_some());
}

/// A sealed capsule of `transaction` (a BOSS value) signed by `key`, with `signature`
/// replacing the signature when given.
fn seal(transaction: &parsec_boss::Value, key: &parsec1::PrivateKey) -> Vec<u8> {
    use parsec_boss::Value;
    let data = parsec_boss::encode(transaction).unwrap();
    let signature = universa::sign(key, &data, parsec_boss::Time::now()).unwrap();
    parsec_boss::encode(&Value::dict([
        ("type", Value::Text("unicapsule".into())),
        ("version", Value::Int(3)),
        ("data", Value::Bin(data)),
        ("signatures", Value::List(vec![Value::Bin(signature)])),
    ]))
    .unwrap()
}

#[test]
fn contracts_that_say_two_things_or_too_much_are_refused() {
    use parsec_boss::Value;
    let key = parsec1::PrivateKey::generate(2048).unwrap();
    let now = parsec_boss::Time::now();
    let spec = universa::NewContract {
        parsec: section(&[&key], "http://192.0.2.1:8373/api/p1"),
        owner: key.public_key().long_address().unwrap(),
        uns2_name: None,
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    let good = Sealed::read(&universa::create(&spec, &key).unwrap()).unwrap();
    let transaction = parsec_boss::decode(&good.data).unwrap();

    // `state.origin` twice: Universa's readers keep the last, ours would see the first.
    let mut twice = transaction.clone();
    if let Value::Dict(pairs) = &mut twice {
        let contract = &mut pairs
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some("contract"))
            .unwrap()
            .1;
        if let Value::Dict(pairs) = contract {
            let state = &mut pairs
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some("state"))
                .unwrap()
                .1;
            if let Value::Dict(pairs) = state {
                pairs.insert(
                    0,
                    (
                        Value::Text("origin".into()),
                        universa::hash_id_value(&parsec1::hash_id::hash_id(b"another chain")),
                    ),
                );
            }
        }
    }
    let sealed = Sealed::read(&seal(&twice, &key)).unwrap();
    let e = universa::open(&sealed).unwrap_err();
    assert!(e.to_string().contains("same key twice"), "{e}");
    // The same contract without the duplicate opens.
    universa::open(&Sealed::read(&seal(&transaction, &key)).unwrap()).unwrap();

    // More signatures than any contract carries.
    let data = parsec_boss::encode(&transaction).unwrap();
    let one = universa::sign(&key, &data, now).unwrap();
    let many = parsec_boss::encode(&Value::dict([
        ("type", Value::Text("unicapsule".into())),
        ("version", Value::Int(3)),
        ("data", Value::Bin(data.clone())),
        (
            "signatures",
            Value::List(vec![Value::Bin(one.clone()); universa::MAX_SIGNATURES + 1]),
        ),
    ]))
    .unwrap();
    let e = Sealed::read(&many).unwrap_err();
    assert!(e.to_string().contains("more signatures"), "{e}");

    // `sign` present but null, with a valid `sign2`: `sign` is required as bytes.
    let sig = parsec_boss::decode(&one).unwrap();
    let exts = sig.get("exts").unwrap().as_bytes().unwrap().to_vec();
    let sign2 = key
        .sign_pss_with(parsec1::PssHash::Sha3_256, &exts)
        .unwrap();
    let forged = parsec_boss::encode(&Value::dict([
        ("exts", Value::Bin(exts)),
        ("sign", Value::Null),
        ("sign2", Value::Bin(sign2)),
    ]))
    .unwrap();
    let e = universa::verify(&forged, &data, &[]).unwrap_err();
    assert!(e.to_string().contains("without `sign`"), "{e}");
}
