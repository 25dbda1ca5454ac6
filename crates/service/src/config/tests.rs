use super::*;
use std::time::Duration;

/// The shape of upstream's config template, with its comments' keys filled in.
const UPSTREAM: &str = r#"
[core_settings]
allow_root = false
thread_pool_size = 8
idle_listener_sleep_duration = 10 # in milliseconds
log_level = "warn"
log_timestamp = false
body_len_limit = 1048576
log_error_details = false
buffer_size_limit = 1048576
allow_deprecated = false

[listener]
listener_type = "DomainSocket"
timeout = 200 # in milliseconds
socket_path = "/run/parsec/parsec.sock"

[authenticator]
auth_type = "UnixPeerCredentials"
admins = [ { name = "0" }, { name = "1000" } ]

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "/var/lib/parsec/kim.sqlite3"

[[provider]]
name = "mbed-crypto-provider"
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"

[[provider]]
provider_type = "Pkcs11"
key_info_manager = "sqlite-manager"
library_path = "/usr/lib/softhsm/libsofthsm2.so"
slot_number = 123456789
user_pin = "123456"
"#;

#[test]
fn upstream_config_loads_without_warnings() {
    let loaded = Config::parse(UPSTREAM).unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let c = loaded.config;
    assert_eq!(c.core.thread_pool_size, Some(8));
    assert_eq!(c.listener.timeout, Duration::from_millis(200));
    assert_eq!(
        c.listener.socket_path,
        PathBuf::from("/run/parsec/parsec.sock")
    );
    assert_eq!(c.authenticators.len(), 1);
    assert_eq!(c.authenticators[0].kind, AuthKind::UnixPeerCredentials);
    assert_eq!(c.authenticators[0].admins, ["0", "1000"]);
    assert_eq!(c.providers.len(), 2);
    assert_eq!(c.providers[0].kind, ProviderType::Software);
    assert_eq!(c.providers[1].name, "pkcs11-provider");
    let ProviderSettings::Pkcs11(p) = &c.providers[1].settings else {
        panic!("PKCS#11 settings expected");
    };
    assert_eq!(p.slot_number, Some(123456789));
}

fn warnings_of(text: &str) -> Vec<String> {
    Config::parse(text).unwrap().warnings
}

fn error_of(text: &str) -> ConfigError {
    Config::parse(text).unwrap_err()
}

const MINIMAL: &str = "[authenticator]\nauth_type = \"Direct\"\n";

#[test]
fn store_path_under_sqlite_manager_is_named() {
    let w = warnings_of(&format!(
        "{MINIMAL}[[key_manager]]\nname = \"m\"\nmanager_type = \"SQLite\"\nstore_path = \"/x\"\n"
    ));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("`key_manager[0].store_path`"), "{w:?}");
    assert!(w[0].contains("sqlite_db_path"), "{w:?}");
}

#[test]
fn unknown_and_misplaced_keys_are_named() {
    let w = warnings_of(&format!(
        "{MINIMAL}[listener]\nallow_root = true\nsocket_pth = \"/x\"\n[extra]\nx = 1\n"
    ));
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter()
            .any(|m| m.contains("`listener.allow_root` is misplaced")
                && m.contains("[core_settings]"))
    );
    assert!(w
        .iter()
        .any(|m| m.contains("`listener.socket_pth` is unknown")));
    assert!(w.iter().any(|m| m.contains("`extra` is unknown")));
}

#[test]
fn bad_values_name_the_key_and_the_reason() {
    let cases = [
        (
            "[listener]\ntimeout = \"fast\"\n",
            "listener.timeout",
            "expected an integer",
        ),
        ("[listener]\ntimeout = 0\n", "listener.timeout", "outside"),
        (
            "[listener]\nlistener_type = \"Tcp\"\n",
            "listener.listener_type",
            "not supported",
        ),
        (
            "[core_settings]\nallow_root = 1\n",
            "core_settings.allow_root",
            "true or false",
        ),
        (
            "[core_settings]\nlog_level = \"loud\"\n",
            "core_settings.log_level",
            "not one of",
        ),
        (
            "[core_settings]\nbody_len_limit = -5\n",
            "core_settings.body_len_limit",
            "outside",
        ),
        (
            "[[provider]]\nprovider_type = \"Magic\"\n",
            "provider[0].provider_type",
            "not one of",
        ),
        (
            "[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"nope\"\n",
            "provider[0].key_info_manager",
            "no [[key_manager]]",
        ),
    ];
    for (section, key, reason) in cases {
        let err = error_of(&format!("{MINIMAL}{section}"));
        assert_eq!(err.key, key, "{section}");
        assert!(err.reason.contains(reason), "{section}: {err}");
    }
    let err = error_of("[authenticator]\nauth_type = \"Password\"\n");
    assert_eq!(err.key, "authenticator.auth_type");
    let err = error_of("[core_settings]\n");
    assert_eq!(err.key, "authenticator");
    let err = error_of(
        "[authenticator]\nauth_type = \"UnixPeerCredentials\"\nadmins = [{name = \"root\"}]\n",
    );
    assert_eq!(err.key, "authenticator.admins[0]");
    assert!(err.reason.contains("not a UID"));
}

#[test]
fn a_postgresql_key_manager_is_read_and_its_password_never_shown() {
    let pg = "[[key_manager]]\nname = \"shared\"\nmanager_type = \"PostgreSQL\"\n\
              url = \"postgresql://parsec:hunter2@db.example/parsec\"\n\
              master_key_path = \"/etc/parsec/master.key\"\n";
    let c = Config::parse(&format!("{MINIMAL}{pg}connections = 3\n"))
        .unwrap()
        .config;
    let KeyManagerKind::Postgres {
        url, connections, ..
    } = &c.key_managers[0].kind
    else {
        panic!("{:?}", c.key_managers[0].kind);
    };
    assert_eq!(*connections, 3);
    assert_eq!(url.0, "postgresql://parsec:hunter2@db.example/parsec");
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("postgresql://parsec:***@db.example/parsec"),
        "{shown}"
    );
    let url = |u: &str| format!("{:?}", DatabaseUrl(u.to_string()));
    assert_eq!(
        url("postgres://u@h/db?password=s3cr:et@x&sslmode=disable"),
        "\"postgres://u@h/db?password=***&sslmode=disable\""
    );
    assert_eq!(url("postgres://u:p@ss@h/db"), "\"postgres://u:***@h/db\"");
    let cases = [
        (
            pg.replace("postgresql://", "mysql://"),
            "key_manager[0].url",
            "postgres://",
        ),
        (
            pg.replace("master_key_path", "#master_key_path"),
            "key_manager[0].master_key_path",
            "same on every node",
        ),
        (
            format!("{pg}connections = 0\n"),
            "key_manager[0].connections",
            "outside",
        ),
        (
            format!("{pg}connections = 65\n"),
            "key_manager[0].connections",
            "outside",
        ),
        (pg.replace("url = ", "#url = "), "key_manager[0].url", ""),
    ];
    for (section, key, reason) in cases {
        let err = error_of(&format!("{MINIMAL}{section}"));
        assert_eq!(err.key, key, "{section}");
        assert!(err.reason.contains(reason), "{section}: {err}");
    }
}

#[test]
fn several_authenticators_in_preference_order() {
    let c = Config::parse(
        "[[authenticator]]\nauth_type = \"UnixPeerCredentials\"\nadmins = [{name = \"0\"}]\n\
         [[authenticator]]\nauth_type = \"Direct\"\nadmins = [{name = \"boss\"}]\n",
    )
    .unwrap()
    .config;
    let kinds: Vec<_> = c.authenticators.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AuthKind::UnixPeerCredentials, AuthKind::Direct]);
    assert_eq!(c.authenticators[1].admins, ["boss"]);
    let err = error_of(
        "[[authenticator]]\nauth_type = \"Direct\"\n[[authenticator]]\nauth_type = \"Direct\"\n",
    );
    assert_eq!(err.key, "authenticator[1].auth_type");
}

#[test]
fn the_shipped_reference_config_loads_cleanly() {
    let text = include_str!("../../../../config/config.toml");
    let loaded = Config::parse(text).unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
}

/// `text` with its commented-out keys and sections switched on (`#key = ...`, `#[...]`); the
/// comments, and alternatives shown indented (`#   key = ...`), stay comments.
fn switched_on(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reference config's commented-out provider sections, switched on, load with the values
/// they show.
#[test]
fn the_shipped_hardware_provider_examples_load() {
    let text = include_str!("../../../../config/config.toml");
    let switched_on: Vec<String> = text
        .split("\n\n")
        .map(|paragraph| {
            if paragraph.contains("#[[provider]]") {
                switched_on(paragraph)
            } else {
                paragraph.to_string()
            }
        })
        .collect();
    let loaded = Config::parse(&switched_on.join("\n\n")).unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let kinds: Vec<_> = loaded.config.providers.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProviderType::Software,
            ProviderType::Pkcs11,
            ProviderType::Tpm
        ]
    );
    let ProviderSettings::Pkcs11(p) = &loaded.config.providers[1].settings else {
        panic!("PKCS#11 settings expected");
    };
    assert_eq!(p.token_label.as_deref(), Some("parsec"));
    assert_eq!(
        p.user_pin.as_ref().map(|p| p.expose()),
        Some(&b"123456"[..])
    );
    let ProviderSettings::Tpm(t) = &loaded.config.providers[2].settings else {
        panic!("TPM settings expected");
    };
    assert_eq!(t.tcti, "device:/dev/tpmrm0");
    assert!(!t.skip_if_no_tpm);
}

/// The reference config's `[parsec1]` example, switched on, loads without a warning and shows
/// the defaults (bar the example paths and provider), so every key it documents exists and
/// says what the service does without it.
#[test]
fn the_shipped_parsec1_example_shows_the_defaults() {
    let text = include_str!("../../../../config/config.toml");
    let at = text.find("#[parsec1]").unwrap();
    let example = switched_on(&text[at..]);
    let loaded = Config::parse(&format!(
        "{MINIMAL}[[provider]]\nprovider_type = \"MbedCrypto\"\n{example}"
    ))
    .unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let shown = loaded.config.parsec1.unwrap();
    assert!(shown.session_store.is_some() && shown.service_contract.is_some());
    assert!(shown.tls.is_some(), "the example shows HTTPS");
    let expected = Parsec1Config {
        tls: shown.tls.clone(),
        session_store: shown.session_store.clone(),
        service_contract: shown.service_contract.clone(),
        provider: Some(1),
        ..Parsec1Config::defaults()
    };
    assert_eq!(shown, expected);
}

/// The reference config's token authenticator examples, switched on, load without a warning
/// and show the defaults (bar the example addresses), so every key they document exists.
#[test]
fn the_shipped_token_authenticator_examples_show_the_defaults() {
    use crate::auth::jwt_svid::JwtSvidConfig;
    use crate::auth::keys::{Refresh, Source};
    use crate::auth::token::{Policy, DEFAULT_ALGORITHMS};
    use crate::auth::TokenSettings;
    use std::time::Duration;
    let text = include_str!("../../../../config/config.toml");
    let examples: Vec<String> = text
        .split("\n\n")
        .filter(|p| p.contains("#auth_type = \"Jwt"))
        .map(switched_on)
        .collect();
    assert_eq!(examples.len(), 2);
    let socket = "[listener]\nlistener_type = \"DomainSocket\"\ntimeout = 200\n\
                  socket_path = \"/tmp/p.sock\"\n";
    let loaded = Config::parse(&format!("{socket}{}", examples.join("\n\n"))).unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let auth = &loaded.config.authenticators;
    assert_eq!(auth.len(), 2);
    let policy = |audience: &str, issuer: Option<&str>| Policy {
        algorithms: DEFAULT_ALGORITHMS.to_vec(),
        audience: audience.into(),
        issuer: issuer.map(str::to_string),
        leeway: 30,
        max_lifetime: Some(86400),
    };
    assert_eq!(
        auth[0].tokens,
        Some(TokenSettings::JwtSvid(JwtSvidConfig {
            source: Source::WorkloadApi("unix:///run/spire/sockets/agent.sock".into()),
            policy: policy("parsec", None),
            refresh: Refresh {
                every: Duration::from_secs(10),
                min_gap: Duration::from_secs(1)
            },
        }))
    );
    assert_eq!(auth[0].admins, ["spiffe://example.org/admin"]);
    let Some(TokenSettings::Jwt(jwt)) = &auth[1].tokens else {
        panic!("{:?}", auth[1]);
    };
    let issuer = "https://idp.example.org/realms/parsec";
    assert_eq!(jwt.source, Source::Discovery(issuer.into()));
    assert_eq!(jwt.policy, policy("parsec", Some(issuer)));
    assert_eq!(jwt.application_claim, "sub");
    assert_eq!(
        jwt.refresh,
        Refresh {
            every: Duration::from_secs(900),
            min_gap: Duration::from_secs(30)
        }
    );
}

#[test]
fn software_is_our_name_for_upstreams_mbed_crypto() {
    for name in ["MbedCrypto", "Software"] {
        let c = Config::parse(&format!(
            "{MINIMAL}[[provider]]\nprovider_type = \"{name}\"\n"
        ))
        .unwrap()
        .config;
        assert_eq!(c.providers[0].kind, ProviderType::Software, "{name}");
    }
    // All providers share one store: naming two key managers is refused.
    let err = error_of(&format!(
        "{MINIMAL}[[key_manager]]\nname = \"a\"\nmanager_type = \"SQLite\"\n\
         [[key_manager]]\nname = \"b\"\nmanager_type = \"SQLite\"\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"a\"\n\
         [[provider]]\nprovider_type = \"Pkcs11\"\nkey_info_manager = \"b\"\n"
    ));
    assert_eq!(err.key, "provider[1].key_info_manager");
}

#[test]
fn parsec1_is_off_in_upstream_files_and_on_in_the_embedded_default() {
    assert_eq!(Config::parse(UPSTREAM).unwrap().config.parsec1, None);
    let embedded = Config::embedded().parsec1.unwrap();
    assert!(embedded.listen.ip().is_loopback());
    assert_eq!(embedded.path, "/api/p1");
}

#[test]
fn parsec1_section_reads_every_key() {
    let text = format!(
        "{MINIMAL}\n[[provider]]\nprovider_type = \"Software\"\n\n[parsec1]\n\
         listen = \"0.0.0.0:9000\"\ntls_listen = \"[::]:9443\"\n\
         tls_certificate = \"/etc/p/chain.pem\"\ntls_private_key = \"/etc/p/key.pem\"\n\
         path = \"/p1\"\nservice_key_bits = 2048\n\
         pow_difficulty = 20\ntsk_lifetime = 60\nsession_lifetime = 600\n\
         session_store = \":memory:\"\nmax_message_size = 4096\nmax_sessions_per_key = 2\n\
         max_connections = 8\nidle_timeout = 5\nmax_connections_per_address = 2\n\
         header_timeout = 3\nrequest_timeout = 4\nshutdown_timeout = 0\n\
         max_pending_per_address = 7\nmax_sessions = 9\nmax_keys_per_session_key = 10\n\
         registrations_per_address_per_hour = 12\n\
         max_remote_keys = 11\nguest_requests_per_second = 0\nallowed_origins = [\"https://a.example\"]\n\
         service_name = \"svc\"\nprovider = 1\n"
    );
    let loaded = Config::parse(&text).unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let p = loaded.config.parsec1.unwrap();
    assert_eq!(p.listen, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(p.path, "/p1");
    let tls = p.tls.as_ref().unwrap();
    assert_eq!(tls.listen, "[::]:9443".parse().unwrap());
    assert_eq!(tls.certificate, Path::new("/etc/p/chain.pem"));
    assert_eq!(tls.private_key, Path::new("/etc/p/key.pem"));
    assert_eq!(p.service_key_bits, 2048);
    assert_eq!(
        (p.pow_difficulty, p.test_pow_difficulty),
        (20, 16),
        "test mode: 4 bits easier"
    );
    assert_eq!((p.tsk_lifetime, p.session_lifetime), (60, 600));
    assert_eq!(
        p.session_store,
        Some(SessionStoreConfig::File(":memory:".into()))
    );
    assert_eq!((p.max_message_size, p.max_sessions_per_key), (4096, 2));
    assert_eq!(p.guest_requests_per_second, 0);
    assert_eq!((p.max_connections, p.idle_timeout), (8, 5));
    assert_eq!(p.max_connections_per_address, 2);
    assert_eq!(
        (p.header_timeout, p.request_timeout, p.shutdown_timeout),
        (3, 4, 0)
    );
    assert_eq!(p.max_pending_per_address, 7);
    assert_eq!(
        (
            p.max_sessions,
            p.max_keys_per_session_key,
            p.max_remote_keys
        ),
        (9, 10, 11)
    );
    assert_eq!(p.allowed_origins, ["https://a.example"]);
    assert_eq!((p.service_name.as_str(), p.provider), ("svc", Some(1)));

    let off = format!(
        "{MINIMAL}\n[[provider]]\nprovider_type = \"Software\"\n[parsec1]\nenabled = false\n"
    );
    assert_eq!(Config::parse(&off).unwrap().config.parsec1, None);
}

#[test]
fn parsec1_bad_values_name_the_key() {
    let with = |body: &str| {
        format!("{MINIMAL}\n[[provider]]\nprovider_type = \"Software\"\n[parsec1]\n{body}\n")
    };
    for (body, key) in [
        ("listen = \"localhost\"", "parsec1.listen"),
        ("tls_listen = \"localhost:1\"", "parsec1.tls_listen"),
        (
            "max_connections = 1\ntls_listen = \"127.0.0.1:9443\"\n\
             tls_certificate = \"c.pem\"\ntls_private_key = \"k.pem\"",
            "parsec1.max_connections",
        ),
        (
            "tls_certificate = \"c.pem\"\ntls_private_key = \"k.pem\"",
            "parsec1.tls_listen",
        ),
        (
            "tls_listen = \"127.0.0.1:9443\"\ntls_private_key = \"k.pem\"",
            "parsec1.tls_certificate",
        ),
        (
            "tls_listen = \"127.0.0.1:9443\"\ntls_certificate = \"c.pem\"",
            "parsec1.tls_private_key",
        ),
        (
            "listen = \"127.0.0.1:9443\"\ntls_listen = \"127.0.0.1:9443\"\n\
             tls_certificate = \"c.pem\"\ntls_private_key = \"k.pem\"",
            "parsec1.tls_listen",
        ),
        ("path = \"api\"", "parsec1.path"),
        ("service_key_bits = 3072", "parsec1.service_key_bits"),
        ("pow_difficulty = 40", "parsec1.pow_difficulty"),
        ("tsk_lifetime = 0", "parsec1.tsk_lifetime"),
        ("max_message_size = 1000000", "parsec1.max_message_size"),
        ("allowed_origins = \"*\"", "parsec1.allowed_origins"),
        ("provider = 0", "parsec1.provider"),
        ("header_timeout = 0", "parsec1.header_timeout"),
        (
            "max_connections_per_address = 0",
            "parsec1.max_connections_per_address",
        ),
    ] {
        let e = error_of(&with(body));
        assert_eq!(e.key, key, "{body}: {e}");
        assert!(!e.reason.is_empty());
    }
    assert!(warnings_of(&with("colour = 1"))
        .iter()
        .any(|w| w.contains("parsec1.colour")));
    let e = error_of(&format!("{MINIMAL}\n[parsec1]\n"));
    assert_eq!(e.key, "parsec1");
    assert!(e.reason.contains("provider"), "{e}");
}

#[test]
fn connections_per_uid_default_to_a_quarter_and_never_exceed_the_total() {
    let listener = |keys: &str| {
        Config::parse(&format!(
            "{MINIMAL}[listener]\nsocket_path = \"/s\"\n{keys}"
        ))
        .unwrap()
        .config
        .listener
    };
    let l = listener("");
    assert_eq!((l.max_connections, l.max_connections_per_uid), (256, 64));
    let core = |text: &str| Config::parse(&format!("{MINIMAL}[core_settings]\n{text}"));
    assert_eq!(
        core("").unwrap().config.core.max_keys_per_application,
        10_000
    );
    let c = core("max_keys_per_application = 5\n").unwrap().config;
    assert_eq!(c.core.max_keys_per_application, 5);
    let e = core("max_keys_per_application = 0\n").unwrap_err();
    assert!(e.to_string().contains("max_keys_per_application"), "{e}");
    let l = listener("max_connections = 10\n");
    assert_eq!(l.max_connections_per_uid, 2);
    let l = listener("max_connections = 10\nmax_connections_per_uid = 7\n");
    assert_eq!(l.max_connections_per_uid, 7);
    let l = listener("max_connections = 10\nmax_connections_per_uid = 70\n");
    assert_eq!(l.max_connections_per_uid, 10);
    let e = error_of(&format!(
        "{MINIMAL}[listener]\nsocket_path = \"/s\"\nmax_connections_per_uid = 0\n"
    ));
    assert_eq!(e.key, "listener.max_connections_per_uid");
}

/// `session_store` is a file or a PostgreSQL URL; the URL's own keys are refused beside a file,
/// and the URL's password never shows in Debug.
#[test]
fn a_session_store_on_postgres_takes_its_own_password_file_and_connections() {
    let parse = |extra: &str| {
        Config::parse(&format!(
            "{MINIMAL}\n[[provider]]\nprovider_type = \"Software\"\n\n\
             [parsec1]\nlisten = \"127.0.0.1:0\"\n{extra}"
        ))
    };
    let loaded = parse(
        "session_store = \"postgresql://parsec:secret@db.example/p1\"\n\
         session_store_password_file = \"/etc/parsec/pg\"\nsession_store_connections = 3\n",
    )
    .unwrap();
    let store = loaded.config.parsec1.unwrap().session_store.unwrap();
    assert_eq!(
        store,
        SessionStoreConfig::Postgres {
            url: DatabaseUrl("postgresql://parsec:secret@db.example/p1".into()),
            password_file: Some("/etc/parsec/pg".into()),
            connections: 3,
        }
    );
    assert!(!format!("{store:?}").contains("secret"));
    let defaults = parse("session_store = \"postgres://db.example/p1\"\n").unwrap();
    assert!(matches!(
        defaults.config.parsec1.unwrap().session_store,
        Some(SessionStoreConfig::Postgres {
            connections: 8,
            password_file: None,
            ..
        })
    ));
    for bad in [
        "session_store = \"/var/lib/p1.sqlite3\"\nsession_store_connections = 2\n",
        "session_store_password_file = \"/etc/parsec/pg\"\n",
        "session_store = \"postgres://db/p1\"\nsession_store_connections = 0\n",
        "session_store = \"postgres://db/p1\"\nsession_store_connections = 65\n",
    ] {
        let e = parse(bad).unwrap_err().to_string();
        assert!(e.contains("session_store_"), "{bad}: {e}");
    }
}
