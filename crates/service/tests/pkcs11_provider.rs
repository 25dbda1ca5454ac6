//! What is particular to the PKCS#11 provider (the shared suite is in providers.rs): start-up
//! errors that say what is wrong, token objects that follow the keys, reloads.

mod common;

use common::backends::{self, start_daemon, Device, Kind, SoftHsm};
use common::{direct_client, ECDSA_SHA256, PARSEC};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use parsec_client::core::interface::requests::ProviderId;

/// Starts the daemon with a PKCS#11 section made of `keys` on `hsm`'s tokens, expects it to
/// fail at start-up, and returns what it printed.
fn start_up_failure(hsm: &SoftHsm, keys: &str) -> String {
    backends::start_up_failure("Pkcs11", keys, &[("SOFTHSM2_CONF", &hsm.conf)])
}

#[test]
fn start_up_errors_name_the_problem() {
    let hsm = SoftHsm::new();
    let module = hsm.module.display().to_string();
    let wrong_pin = start_up_failure(
        &hsm,
        &format!("library_path = \"{module}\"\nuser_pin = \"000000\"\n"),
    );
    assert!(
        wrong_pin.contains("user PIN of slot") && wrong_pin.contains("is incorrect"),
        "{wrong_pin}"
    );
    assert!(wrong_pin.contains("check `user_pin`"), "{wrong_pin}");
    let wrong_label = start_up_failure(
        &hsm,
        &format!("library_path = \"{module}\"\ntoken_label = \"nope\"\nuser_pin = \"123456\"\n"),
    );
    assert!(
        wrong_label.contains("no initialised token matches token_label = \"nope\"")
            && wrong_label.contains(&format!("(label \"{}\"", SoftHsm::LABEL)),
        "names the tokens present: {wrong_label}"
    );
    let wrong_serial = start_up_failure(
        &hsm,
        &format!("library_path = \"{module}\"\nserial_number = \"0\"\nuser_pin = \"123456\"\n"),
    );
    assert!(
        wrong_serial.contains("serial_number = \"0\""),
        "{wrong_serial}"
    );
    let no_library = start_up_failure(&hsm, "library_path = \"/nonexistent/libpkcs11.so\"\n");
    assert!(
        no_library.contains("cannot read the PKCS#11 library `/nonexistent/libpkcs11.so`"),
        "{no_library}"
    );
    let not_a_library = start_up_failure(&hsm, &format!("library_path = \"{PARSEC}\"\n"));
    assert!(
        not_a_library.contains("as a PKCS#11 library"),
        "{not_a_library}"
    );
}

/// The number of key objects on the token, seen through a second PKCS#11 application.
fn objects_on_token(hsm: &SoftHsm) -> usize {
    // Only this test of the binary loads SoftHSM2 in-process, so the variable is ours.
    std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
    let lib = Pkcs11::new(&hsm.module).unwrap();
    let _ = lib.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = lib.get_slots_with_initialized_token().unwrap()[0];
    let session = lib.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(SoftHsm::PIN)))
        .unwrap();
    session.find_objects(&[]).unwrap().len()
}

fn ecc_attributes() -> parsec_client::core::interface::operations::psa_key_attributes::Attributes {
    common::ecdsa_p256()
}

#[test]
fn token_objects_follow_the_keys() {
    let device = Kind::Pkcs11.device();
    let Device::SoftHsm(hsm) = &device else {
        unreachable!()
    };
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let mut app = direct_client(&d.socket, "app");
    app.set_implicit_provider(ProviderId::Pkcs11);
    assert_eq!(objects_on_token(hsm), 0);
    app.psa_generate_key("a", ecc_attributes())
        .unwrap_or_else(|e| panic!("{e:?}\n--- daemon\n{}", d.stderr()));
    assert_eq!(
        objects_on_token(hsm),
        2,
        "a private and a public key object"
    );
    app.psa_generate_key("b", ecc_attributes()).unwrap();
    assert_eq!(objects_on_token(hsm), 4);
    app.psa_destroy_key("a").unwrap();
    assert_eq!(objects_on_token(hsm), 2);
    // A name already taken makes no object.
    assert!(matches!(
        app.psa_generate_key("b", ecc_attributes()),
        Err(parsec_client::error::Error::Service(
            parsec_client::core::interface::requests::ResponseStatus::PsaErrorAlreadyExists
        ))
    ));
    assert_eq!(objects_on_token(hsm), 2);
    direct_client(&d.socket, "admin")
        .delete_client("app")
        .unwrap();
    assert_eq!(
        objects_on_token(hsm),
        0,
        "DeleteClient removes the token objects"
    );
}

#[test]
fn reload_keeps_the_token_and_warns_about_changed_settings() {
    let device = Kind::Pkcs11.device();
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let mut app = direct_client(&d.socket, "app");
    app.set_implicit_provider(ProviderId::Pkcs11);
    app.psa_generate_key("k", ecc_attributes()).unwrap();
    let sign = |app: &parsec_client::BasicClient| {
        app.psa_sign_hash("k", &[1u8; 32], ECDSA_SHA256).unwrap();
    };
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    d.reload(&text);
    sign(&app);
    assert!(!d.stderr().contains("after a restart"), "{}", d.stderr());
    d.reload(&text.replace("user_pin = \"123456\"", "user_pin = \"654321\""));
    assert!(
        d.stderr()
            .contains("changes to its settings take effect only after a restart"),
        "{}",
        d.stderr()
    );
    sign(&app);
}

/// HMAC on the token (MacCompute/MacVerify, which `parsec-client` cannot send: our codec does),
/// checked against aws-lc-rs; truncated MACs; a generated HMAC key.
#[test]
fn hmac_on_the_token() {
    use parsec_client::core::interface::operations::psa_algorithm::{
        Algorithm, FullLengthMac, Hash, Mac,
    };
    use parsec_client::core::interface::operations::psa_key_attributes::{
        Attributes, Lifetime, Policy, Type, UsageFlags,
    };
    use parsec_psa::ops::{MacCompute, MacVerify};
    use parsec_psa::{OpResult, Operation};

    let device = Kind::Pkcs11.device();
    let state = tempfile::tempdir().unwrap();
    let d = start_daemon(&device, state.path());
    let mut app = direct_client(&d.socket, "app");
    app.set_implicit_provider(ProviderId::Pkcs11);
    let mut usage = UsageFlags::default();
    usage.set_sign_message().set_verify_message();
    let hmac = |bits| Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::Hmac,
        bits,
        policy: Policy {
            usage_flags: usage,
            permitted_algorithms: Algorithm::Mac(Mac::Truncated {
                mac_alg: FullLengthMac::Hmac {
                    hash_alg: Hash::Sha256,
                },
                mac_length: 16,
            }),
        },
    };
    let key = [0x0bu8; 32];
    app.psa_import_key("hmac", &key, hmac(0)).unwrap();
    app.psa_generate_key("hmac-gen", hmac(256)).unwrap();
    let alg = parsec_psa::Mac::Truncated {
        mac_alg: parsec_psa::FullLengthMac::Hmac {
            hash_alg: parsec_psa::Hash::Sha256,
        },
        mac_length: 16,
    };
    let compute = |name: &str, input: &[u8]| {
        let op = Operation::PsaMacCompute(MacCompute {
            key_name: name.into(),
            alg,
            input: input.to_vec(),
        });
        match common::raw_call(&d.socket, 2, "app", &op) {
            Ok(OpResult::PsaMacCompute(r)) => r.mac,
            other => panic!("{other:?}"),
        }
    };
    let verify = |name: &str, input: &[u8], mac: &[u8]| {
        let op = Operation::PsaMacVerify(MacVerify {
            key_name: name.into(),
            alg,
            input: input.to_vec(),
            mac: mac.to_vec(),
        });
        common::raw_call(&d.socket, 2, "app", &op).map(drop)
    };
    let mac = compute("hmac", b"message");
    let expected = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key),
        b"message",
    );
    assert_eq!(mac, expected.as_ref()[..16]);
    verify("hmac", b"message", &mac).unwrap();
    let mut bad = mac.clone();
    bad[3] ^= 1;
    assert_eq!(
        verify("hmac", b"message", &bad),
        Err(parsec_wire::Status::PsaErrorInvalidSignature)
    );
    let generated = compute("hmac-gen", b"message");
    assert_eq!(generated.len(), 16);
    assert_ne!(generated, mac);
    verify("hmac-gen", b"message", &generated).unwrap();
}
