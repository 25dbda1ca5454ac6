//! The token authenticators against the real daemon: JWT from an identity provider (auth type
//! 2, keys from a JWK set file) and JWT-SVID (auth type 4, bundles from a stand-in SPIFFE
//! Workload API over gRPC, or from a bundle file). Tokens are minted by the tests (RSA and EC
//! keys); every forged, stale or misdirected one is refused with AuthenticationError while the
//! daemon goes on serving the others.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::spiffe::Agent;
use common::tokens::{claims, hmac_signed, jwks, now, tampered, unsigned, write_key_file, TestKey};
use common::{raw_call_as, Daemon};
use parsec_psa::{OpResult, Operation};
use parsec_wire::Status;
use serde_json::json;

const JWT: u8 = 2;
const JWT_SVID: u8 = 4;
const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "parsec-test";

fn generate(name: &str) -> Operation {
    Operation::PsaGenerateKey(parsec_psa::ops::GenerateKey {
        key_name: name.into(),
        attributes: common::ecc_p256_attributes(),
    })
}

fn list_keys() -> Operation {
    Operation::ListKeys(parsec_psa::ops::ListKeys { pattern: None })
}

/// The names of the keys `token` lists (auth type `auth`), or the status refusing it.
fn keys_of(socket: &Path, auth: u8, token: &str) -> Result<Vec<String>, Status> {
    match raw_call_as(socket, 0, auth, token.as_bytes(), &list_keys())? {
        OpResult::ListKeys(r) => {
            let mut names: Vec<String> = r.keys.into_iter().map(|k| k.name).collect();
            names.sort();
            Ok(names)
        }
        other => panic!("{other:?}"),
    }
}

fn create(socket: &Path, auth: u8, token: &str, key: &str) -> Result<(), Status> {
    raw_call_as(socket, 1, auth, token.as_bytes(), &generate(key)).map(|_| ())
}

fn config(socket: &Path, state: &Path, auth: &str) -> String {
    common::software_config(socket, state, auth)
}

/// Retries `f` for up to 20 s (keys fetched in the background arrive a little later).
fn eventually<T: std::fmt::Debug>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what}: never");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn jwts_of_an_identity_provider_name_isolated_applications_and_forgeries_are_refused() {
    let rsa = TestKey::rsa("rsa-1");
    let ec = TestKey::ec("ec-1");
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    write_key_file(&jwks_path, &jwks(&[&rsa, &ec], Some("sig")));
    let auth = format!(
        "[[authenticator]]\nauth_type = \"Jwt\"\njwks_path = \"{}\"\nissuer = \"{ISSUER}\"\n\
         audience = \"{AUDIENCE}\"\njwks_min_refresh_interval = 1\n\
         admins = [{{ name = \"ops\" }}]\n\n[[authenticator]]\nauth_type = \"Direct\"\n",
        jwks_path.display()
    );
    let state = dir.path().to_path_buf();
    let d = Daemon::start(|s| config(s, &state, &auth));
    let s = d.socket.as_path();

    // Valid tokens, RSA and EC, name two applications with keys of their own.
    let alice = rsa.token(&claims("alice", Some(ISSUER), AUDIENCE));
    let bob = ec.token(&claims("bob", Some(ISSUER), AUDIENCE));
    create(s, JWT, &alice, "alice-key").unwrap();
    create(s, JWT, &bob, "bob-key").unwrap();
    assert_eq!(keys_of(s, JWT, &alice).unwrap(), ["alice-key"]);
    assert_eq!(keys_of(s, JWT, &bob).unwrap(), ["bob-key"]);
    // The same name under another authenticator is another application.
    assert_eq!(keys_of(s, 1, "alice").unwrap(), Vec::<String>::new());
    // An `aud` array holding the audience is accepted too.
    let mut aud_array = claims("alice", Some(ISSUER), AUDIENCE);
    aud_array["aud"] = json!(["other", AUDIENCE]);
    assert_eq!(
        keys_of(s, JWT, &rsa.token(&aud_array)).unwrap(),
        ["alice-key"]
    );

    // Every bad token is refused with AuthenticationError; bob is served after each.
    let t = now();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims("mallory", Some(ISSUER), AUDIENCE);
        f(&mut c);
        c
    };
    let stranger = TestKey::ec("ec-1"); // the same kid, another key
    let unknown = TestKey::ec("nobody");
    let rsa_n = rsa.jwk(None)["n"].as_str().unwrap().to_string();
    let good = claims("mallory", Some(ISSUER), AUDIENCE);
    let oversized = with(&|c| c["pad"] = json!("x".repeat(20_000)));
    let bad: Vec<(&str, String)> = vec![
        (
            "expired",
            rsa.token(&with(&|c| {
                c["iat"] = json!(t - 4000);
                c["exp"] = json!(t - 3000)
            })),
        ),
        (
            "not yet valid",
            rsa.token(&with(&|c| c["nbf"] = json!(t + 3000))),
        ),
        (
            "wrong audience",
            rsa.token(&with(&|c| c["aud"] = json!("someone-else"))),
        ),
        (
            "no audience",
            rsa.token(&with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            })),
        ),
        (
            "wrong issuer",
            rsa.token(&with(&|c| c["iss"] = json!("https://evil.example"))),
        ),
        (
            "no expiry",
            rsa.token(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "too long a lifetime",
            rsa.token(&with(&|c| c["exp"] = json!(t + 400 * 24 * 3600))),
        ),
        ("unknown key", unknown.token(&good)),
        ("another key under a known kid", stranger.token(&good)),
        ("alg none", unsigned(&good)),
        (
            "HMAC with the public key as secret",
            hmac_signed("rsa-1", &good, rsa_n.as_bytes()),
        ),
        (
            "HMAC with the JWK as secret",
            hmac_signed("rsa-1", &good, rsa.jwk(None).to_string().as_bytes()),
        ),
        (
            "RS256 key named by an ES256 header",
            rsa.token_with_header(&json!({"alg": "ES256", "kid": "rsa-1"}), &good),
        ),
        (
            "tampered payload",
            tampered(&alice, &claims("bob", Some(ISSUER), AUDIENCE)),
        ),
        ("oversized", rsa.token(&oversized)),
        ("not a JWT", "garbage".to_string()),
        ("empty", String::new()),
        (
            "a reserved name",
            rsa.token(&claims("parsec1:2bXmWfz", Some(ISSUER), AUDIENCE)),
        ),
        (
            "a name with a newline",
            rsa.token(&claims("alice\nforged log line", Some(ISSUER), AUDIENCE)),
        ),
        (
            "issued in the future",
            rsa.token(&with(&|c| {
                c["iat"] = json!(t + 3000);
                c["exp"] = json!(t + 3600)
            })),
        ),
    ];
    for (what, token) in &bad {
        assert_eq!(
            keys_of(s, JWT, token),
            Err(Status::AuthenticationError),
            "{what} was not refused"
        );
        assert_eq!(keys_of(s, JWT, &bob).unwrap(), ["bob-key"], "after {what}");
    }
    let non_utf8 = raw_call_as(s, 0, JWT, &[0xff, 0xfe, 0x2e], &list_keys()).unwrap_err();
    assert_eq!(non_utf8, Status::AuthenticationError);

    // Admin rights follow the authenticator's own list.
    let list_clients = Operation::ListClients;
    let ops = rsa.token(&claims("ops", Some(ISSUER), AUDIENCE));
    let clients = raw_call_as(s, 0, JWT, ops.as_bytes(), &list_clients).unwrap();
    let OpResult::ListClients(clients) = clients else {
        panic!()
    };
    let mut clients = clients.clients;
    clients.sort();
    assert_eq!(clients, ["alice", "bob"]);
    assert_eq!(
        raw_call_as(s, 0, JWT, alice.as_bytes(), &list_clients).unwrap_err(),
        Status::AdminOperation
    );
    assert_eq!(
        raw_call_as(s, 0, 1, b"ops", &list_clients).unwrap_err(),
        Status::AdminOperation
    );

    // ListAuthenticators names both, in the configured order.
    let listed = raw_call_as(s, 0, 0, b"", &Operation::ListAuthenticators).unwrap();
    let OpResult::ListAuthenticators(listed) = listed else {
        panic!()
    };
    let ids: Vec<u8> = listed.authenticators.iter().map(|a| a.id).collect();
    assert_eq!(ids, [JWT, 1]);

    // A key added to the provider's set (a rotation) is fetched when a token first names it.
    let next = TestKey::ec("ec-2");
    write_key_file(&jwks_path, &jwks(&[&rsa, &ec, &next], Some("sig")));
    let carol = next.token(&claims("carol", Some(ISSUER), AUDIENCE));
    eventually("the rotated key", || keys_of(s, JWT, &carol).ok());
    assert!(!d.stderr().contains(&alice), "a token was logged");
    d.stop();
}

/// The SPIFFE ID of the test workload, and its trust domain's bundles as an agent serves them.
const WORKLOAD: &str = "spiffe://example.org/workload";

fn bundles(domain: &str, keys: &[&TestKey]) -> BTreeMap<String, String> {
    BTreeMap::from([(domain.to_string(), jwks(keys, Some("jwt-svid")))])
}

#[test]
fn jwt_svids_are_checked_against_the_workload_apis_bundles_and_a_rotation_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestKey::ec("first");
    let agent = Agent::start(
        &dir.path().join("agent.sock"),
        bundles("example.org", &[&first]),
    );
    let auth = format!(
        "[[authenticator]]\nauth_type = \"JwtSvid\"\nworkload_endpoint = \"{}\"\n\
         admins = [{{ name = \"spiffe://example.org/admin\" }}]\n\n\
         [[authenticator]]\nauth_type = \"Direct\"\n",
        agent.endpoint()
    );
    let state = dir.path().to_path_buf();
    let d = Daemon::start(|s| config(s, &state, &auth));
    let s = d.socket.as_path();
    let svid = |key: &TestKey, sub: &str, aud: &str| key.token(&claims(sub, None, aud));

    let workload = svid(&first, WORKLOAD, "parsec");
    eventually("the first bundle", || {
        create(s, JWT_SVID, &workload, "w").ok()
    });
    assert_eq!(keys_of(s, JWT_SVID, &workload).unwrap(), ["w"]);
    let other = svid(&first, "spiffe://example.org/other", "parsec");
    assert_eq!(keys_of(s, JWT_SVID, &other).unwrap(), Vec::<String>::new());
    // The same name through Direct is another application.
    assert_eq!(keys_of(s, 1, WORKLOAD).unwrap(), Vec::<String>::new());

    let t = now();
    let mut expired = claims(WORKLOAD, None, "parsec");
    expired["exp"] = json!(t - 3600);
    expired["iat"] = json!(t - 4000);
    let no_kid = first.token_with_header(
        &json!({"alg": "ES256", "typ": "JWT"}),
        &claims(WORKLOAD, None, "parsec"),
    );
    let bad: Vec<(&str, String)> = vec![
        ("wrong audience", svid(&first, WORKLOAD, "not-parsec")),
        (
            "another trust domain",
            svid(&first, "spiffe://evil.org/workload", "parsec"),
        ),
        ("not a SPIFFE ID", svid(&first, "workload", "parsec")),
        ("expired", first.token(&expired)),
        ("no kid", no_kid),
        (
            "unknown key",
            svid(&TestKey::ec("stranger"), WORKLOAD, "parsec"),
        ),
        ("alg none", unsigned(&claims(WORKLOAD, None, "parsec"))),
        (
            "tampered",
            tampered(
                &workload,
                &claims("spiffe://example.org/admin", None, "parsec"),
            ),
        ),
    ];
    for (what, token) in &bad {
        assert_eq!(
            keys_of(s, JWT_SVID, token),
            Err(Status::AuthenticationError),
            "{what} was not refused"
        );
        assert_eq!(
            keys_of(s, JWT_SVID, &workload).unwrap(),
            ["w"],
            "after {what}"
        );
    }

    // The admin list holds SPIFFE IDs.
    let admin = svid(&first, "spiffe://example.org/admin", "parsec");
    let clients = raw_call_as(s, 0, JWT_SVID, admin.as_bytes(), &Operation::ListClients).unwrap();
    let OpResult::ListClients(clients) = clients else {
        panic!()
    };
    assert_eq!(clients.clients, [WORKLOAD]);

    // ListAuthenticators: JwtSvid (4), then Direct, as configured.
    let listed = raw_call_as(s, 0, 0, b"", &Operation::ListAuthenticators).unwrap();
    let OpResult::ListAuthenticators(listed) = listed else {
        panic!()
    };
    let ids: Vec<u8> = listed.authenticators.iter().map(|a| a.id).collect();
    assert_eq!(ids, [JWT_SVID, 1]);

    // A reload with the same token settings keeps the authenticator and the bundles it holds
    // (no new stream; tokens work at once), while its admin list changes.
    let streams = *agent.streams.lock().unwrap();
    d.reload(&config(
        s,
        &state,
        &auth.replace("spiffe://example.org/admin", "spiffe://example.org/ops"),
    ));
    assert_eq!(keys_of(s, JWT_SVID, &workload).unwrap(), ["w"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        *agent.streams.lock().unwrap(),
        streams,
        "the reload kept the stream"
    );
    assert_eq!(
        raw_call_as(s, 0, JWT_SVID, admin.as_bytes(), &Operation::ListClients).unwrap_err(),
        Status::AdminOperation
    );

    // The agent rotates: the new key is followed, the old one refused from then on.
    let second = TestKey::rsa("second");
    agent.set_bundles(bundles("example.org", &[&second]));
    let rotated = svid(&second, WORKLOAD, "parsec");
    eventually("the rotated bundle", || keys_of(s, JWT_SVID, &rotated).ok());
    assert_eq!(
        keys_of(s, JWT_SVID, &svid(&first, WORKLOAD, "parsec")),
        Err(Status::AuthenticationError)
    );
    assert_eq!(
        *agent.streams.lock().unwrap(),
        streams,
        "the rotation came over the open stream"
    );
    d.stop();
}

#[test]
fn jwt_svids_from_a_bundle_file_and_the_token_configs_that_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = TestKey::rsa("k1");
    let path = dir.path().join("bundles.json");
    let write = |keys: &[&TestKey]| {
        let sets: BTreeMap<String, serde_json::Value> = bundles("example.org", keys)
            .into_iter()
            .map(|(d, j)| (d, serde_json::from_str(&j).unwrap()))
            .collect();
        write_key_file(&path, &serde_json::to_string(&sets).unwrap());
    };
    write(&[&key]);
    let auth = format!(
        "[authenticator]\nauth_type = \"JwtSvid\"\njwt_bundles_path = \"{}\"\n\
         audience = \"my-audience\"\nalgorithms = [\"RS256\", \"ES256\"]\n",
        path.display()
    );
    let state = dir.path().to_path_buf();
    let d = Daemon::start(|s| config(s, &state, &auth));
    let s = d.socket.as_path();
    let token = key.token(&claims(WORKLOAD, None, "my-audience"));
    create(s, JWT_SVID, &token, "k").unwrap();
    assert_eq!(
        keys_of(s, JWT_SVID, &key.token(&claims(WORKLOAD, None, "parsec"))),
        Err(Status::AuthenticationError),
        "the configured audience replaces the default"
    );
    // A rewritten file is read again when a token names a key it did not hold.
    let next = TestKey::ec("k2");
    write(&[&key, &next]);
    let token2 = next.token(&claims(WORKLOAD, None, "my-audience"));
    eventually("the rewritten bundle file", || {
        keys_of(s, JWT_SVID, &token2).ok()
    });
    // A key the operator removes is refused as soon as the config is reloaded (SIGHUP).
    write(&[&next]);
    d.reload(&config(s, &state, &auth));
    assert_eq!(
        keys_of(s, JWT_SVID, &token),
        Err(Status::AuthenticationError)
    );
    assert!(keys_of(s, JWT_SVID, &token2).is_ok());
    // Auth type 2 is not configured here.
    assert_eq!(
        keys_of(s, JWT, &token),
        Err(Status::AuthenticatorNotRegistered)
    );
    d.stop();

    // Configs that must not start, each saying why.
    let bad_dir = tempfile::tempdir().unwrap();
    let writable = bad_dir.path().join("writable.json");
    std::fs::copy(&path, &writable).unwrap();
    std::fs::set_permissions(
        &writable,
        std::os::unix::fs::PermissionsExt::from_mode(0o664),
    )
    .unwrap();
    let sock = bad_dir.path().join("s.sock");
    let refused = [
        ("auth_type = \"JwtSvid\"\n", "workload_endpoint"),
        (
            &*format!("auth_type = \"JwtSvid\"\nworkload_endpoint = \"unix:///x\"\njwt_bundles_path = \"{}\"\n", path.display()),
            "not both",
        ),
        ("auth_type = \"JwtSvid\"\nworkload_endpoint = \"http://agent\"\n", "workload_endpoint"),
        ("auth_type = \"JwtSvid\"\nworkload_endpoint = \"tcp://127.0.0.1:8081\"\n", "Unix socket"),
        (&*format!("auth_type = \"JwtSvid\"\njwt_bundles_path = \"{}\"\n", writable.display()), "writable by its group"),
        ("auth_type = \"JwtSvid\"\njwt_bundles_path = \"/nonexistent/bundles.json\"\n", "/nonexistent/bundles.json"),
        ("auth_type = \"Jwt\"\njwks_path = \"/x\"\naudience = \"a\"\n", "issuer"),
        ("auth_type = \"Jwt\"\njwks_path = \"/x\"\nissuer = \"i\"\n", "audience"),
        ("auth_type = \"Jwt\"\nissuer = \"http://idp\"\naudience = \"a\"\n", "jwks_path"),
        (
            &*format!("auth_type = \"Jwt\"\njwks_path = \"{}\"\nissuer = \"i\"\naudience = \"a\"\nalgorithms = [\"HS256\"]\n", path.display()),
            "HMAC",
        ),
        (
            &*format!("auth_type = \"Jwt\"\njwks_path = \"{}\"\nissuer = \"i\"\naudience = \"a\"\nalgorithms = [\"none\"]\n", path.display()),
            "unsigned",
        ),
    ];
    for (section, says) in refused {
        let text = common::config(&sock, 1000, &format!("[authenticator]\n{section}"), "");
        let err = Daemon::start_failure(bad_dir.path(), &text, &[]);
        assert!(err.contains(says), "{section}: {err}");
    }
}

#[test]
fn an_issuers_keys_come_from_its_discovery_document_over_https_and_unknown_kids_cannot_flood_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common::tls::TestCa::new(dir.path(), "ca");
    let cert = ca.issue(dir.path(), "idp");
    let first = TestKey::ec("first");
    let idp = common::idp::IdentityProvider::start(&cert, jwks(&[&first], None));
    let auth = format!(
        "[authenticator]\nauth_type = \"Jwt\"\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\n\
         application_claim = \"email\"\njwks_min_refresh_interval = 2\n",
        idp.issuer
    );
    let state = dir.path().to_path_buf();
    let d = Daemon::start_with(
        |s| config(s, &state, &auth),
        |cmd| {
            cmd.env("SSL_CERT_FILE", &ca.cert);
        },
    );
    let s = d.socket.as_path();
    let mut c = claims("user-1234", Some(&idp.issuer), AUDIENCE);
    c["email"] = json!("alice@example.org");
    let alice = first.token(&c);
    eventually("the issuer's keys", || create(s, JWT, &alice, "a").ok());
    assert_eq!(keys_of(s, JWT, &alice).unwrap(), ["a"]);
    // The application is the configured claim's value, not `sub`.
    let listed = raw_call_as(
        s,
        0,
        JWT,
        alice.as_bytes(),
        &Operation::ListKeys(parsec_psa::ops::ListKeys { pattern: None }),
    );
    assert!(listed.is_ok());
    let no_email = first.token(&claims("user-1234", Some(&idp.issuer), AUDIENCE));
    assert_eq!(keys_of(s, JWT, &no_email), Err(Status::AuthenticationError));

    // A flood of tokens naming unknown keys fetches the set at most once per minimum interval.
    let before = idp.fetches();
    let start = Instant::now();
    for i in 0..40 {
        let stranger = TestKey::ec(&format!("stranger-{i}"));
        let token = stranger.token(&claims("x", Some(&idp.issuer), AUDIENCE));
        assert_eq!(keys_of(s, JWT, &token), Err(Status::AuthenticationError));
        assert_eq!(keys_of(s, JWT, &alice).unwrap(), ["a"]);
    }
    let windows = start.elapsed().as_secs() / 2 + 1;
    let fetched = idp.fetches() - before;
    assert!(
        fetched as u64 <= windows,
        "{fetched} fetches in {} windows of the minimum interval",
        windows
    );

    // A key the issuer adds is fetched when a token first names it.
    let second = TestKey::rsa("second");
    idp.set_jwks(jwks(&[&first, &second], None));
    let mut c2 = claims("user-5678", Some(&idp.issuer), AUDIENCE);
    c2["email"] = json!("bob@example.org");
    let bob = second.token(&c2);
    eventually("the issuer's new key", || keys_of(s, JWT, &bob).ok());
    d.stop();

    // Without the CA, the issuer's certificate is not trusted, and no token is accepted.
    let state2 = dir.path().join("untrusting");
    std::fs::create_dir(&state2).unwrap();
    let d = Daemon::start(|s| config(s, &state2, &auth));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        keys_of(&d.socket, JWT, &alice),
        Err(Status::AuthenticationError)
    );
    assert!(d.stderr().contains("fetching the keys"), "{}", d.stderr());
    d.stop();
}

#[test]
fn our_client_and_parsec_tool_send_a_token_from_the_environment_a_file_or_the_workload_api() {
    use parsec_rs_client::tokens::WorkloadApiSvid;
    let dir = tempfile::tempdir().unwrap();
    let idp_key = TestKey::ec("idp");
    let jwks_path = dir.path().join("jwks.json");
    write_key_file(&jwks_path, &jwks(&[&idp_key], None));
    let agent_key = TestKey::ec("agent");
    let agent = Agent::start(
        &dir.path().join("agent.sock"),
        bundles("example.org", &[&agent_key]),
    );
    // The agent signs the SVIDs it issues with its bundle's key.
    agent.issue_svids(agent_key, "spiffe://example.org/tool");
    // Preference order: Jwt, then JwtSvid, then Unix peer credentials.
    let auth = format!(
        "[[authenticator]]\nauth_type = \"Jwt\"\njwks_path = \"{}\"\nissuer = \"{ISSUER}\"\n\
         audience = \"{AUDIENCE}\"\n\n[[authenticator]]\nauth_type = \"JwtSvid\"\n\
         workload_endpoint = \"{}\"\n\n[[authenticator]]\nauth_type = \"UnixPeerCredentials\"\n",
        jwks_path.display(),
        agent.endpoint()
    );
    let state = dir.path().to_path_buf();
    let d = Daemon::start(|s| config(s, &state, &auth));
    let s = d.socket.as_path();
    let endpoint = format!("unix:{}", s.display());
    let tool = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(common::upstream::our_parsec_tool());
        cmd.args(args)
            .env_remove("PARSEC_AUTH_TOKEN")
            .env_remove("PARSEC_AUTH_TOKEN_FILE")
            .env_remove("SPIFFE_ENDPOINT_SOCKET")
            .env("PARSEC_SERVICE_ENDPOINT", &endpoint);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?} {env:?}: {out:?}");
    };

    // PARSEC_AUTH_TOKEN: a JWT, sent because the service lists the JWT authenticator.
    let alice = idp_key.token(&claims("alice", Some(ISSUER), AUDIENCE));
    tool(
        &["create-ecc-key", "-k", "from-env"],
        &[("PARSEC_AUTH_TOKEN", &alice)],
    );
    // A token file, by flag and by PARSEC_AUTH_TOKEN_FILE.
    let bob = idp_key.token(&claims("bob", Some(ISSUER), AUDIENCE));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{bob}\n")).unwrap();
    let file = token_file.to_str().unwrap();
    tool(
        &["--auth-token-file", file, "create-ecc-key", "-k", "by-flag"],
        &[],
    );
    tool(
        &["create-ecc-key", "-k", "by-file"],
        &[("PARSEC_AUTH_TOKEN_FILE", file)],
    );
    assert_eq!(keys_of(s, JWT, &alice).unwrap(), ["from-env"]);
    assert_eq!(keys_of(s, JWT, &bob).unwrap(), ["by-file", "by-flag"]);

    // SPIFFE_ENDPOINT_SOCKET: a JWT-SVID from the agent, for audience `parsec`.
    // (The daemon follows the agent's bundles in the background: retried until it holds them.)
    let svid_env = agent.endpoint();
    eventually("a JWT-SVID accepted", || {
        let mut cmd = std::process::Command::new(common::upstream::our_parsec_tool());
        let out = cmd
            .args(["create-ecc-key", "-k", "from-spiffe"])
            .env_remove("PARSEC_AUTH_TOKEN")
            .env("SPIFFE_ENDPOINT_SOCKET", &svid_env)
            .env("PARSEC_SERVICE_ENDPOINT", &endpoint)
            .output()
            .unwrap();
        out.status.success().then_some(())
    });

    // The library, with the Workload API as its token source: one SVID serves many calls.
    let before = *agent.svids_issued.lock().unwrap();
    let client = parsec_rs_client::Client::builder()
        .endpoint(parsec_rs_client::Endpoint::parse(&endpoint).unwrap())
        .token_source(std::sync::Arc::new(WorkloadApiSvid::new(
            agent.endpoint(),
            "parsec",
        )))
        .build()
        .unwrap();
    for _ in 0..5 {
        let keys = client.list_keys().unwrap();
        let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["from-spiffe"]);
    }
    assert_eq!(*agent.svids_issued.lock().unwrap() - before, 1);
    assert!(matches!(
        client.auth().unwrap(),
        parsec_rs_client::Auth::Token(_)
    ));

    // Upstream's client skips the JWT authenticators it does not know and uses Unix peer
    // credentials.
    let upstream = common::discovering_client(s, None);
    assert!(upstream.list_keys().unwrap().is_empty());

    // Neither: Unix peer credentials, another application again.
    let uid_client = parsec_rs_client::Client::builder()
        .endpoint(parsec_rs_client::Endpoint::parse(&endpoint).unwrap())
        .token_source(std::sync::Arc::new(
            parsec_rs_client::tokens::StaticToken::new(
                parsec_rs_client::AuthType::Direct,
                "unused",
            ),
        ))
        .build()
        .unwrap();
    assert!(uid_client.list_keys().unwrap().is_empty());
    assert!(matches!(
        uid_client.auth().unwrap(),
        parsec_rs_client::Auth::UnixPeerCredentials
    ));
    d.stop();
}
