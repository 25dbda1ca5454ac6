//! The daemon driven by independent upstream implementations: the crates.io `parsec-client`
//! (BasicClient) and `parsec-tool` 0.7.0 (installed by ./test.sh, path in PARSEC_TOOL).

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::{
    config, direct_client, discovering_client, naked_client, try_discovering_client, Daemon, DIRECT,
};
use parsec_client::core::interface::requests::{Opcode, ProviderId, ResponseStatus};
use parsec_client::error::Error;

fn direct_daemon() -> Daemon {
    Daemon::start(|s| config(s, 3000, DIRECT, ""))
}

fn status_of<T: std::fmt::Debug>(result: Result<T, Error>) -> ResponseStatus {
    match result {
        Err(Error::Service(status)) => status,
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[test]
fn basic_client_discovery_operations() {
    let d = direct_daemon();
    let client = naked_client(&d.socket);
    assert_eq!(client.ping().unwrap(), (1, 0));

    let providers = client.list_providers().unwrap();
    let last = providers.last().unwrap();
    assert_eq!(last.id, ProviderId::Core, "core must come last");
    assert_eq!(
        last.uuid.to_string(),
        "47049873-2a43-4845-9d72-831eab668784"
    );

    let authenticators = client.list_authenticators().unwrap();
    assert_eq!(authenticators.len(), 1);
    assert_eq!(
        authenticators[0].id,
        parsec_client::core::interface::requests::AuthType::Direct
    );

    let opcodes = client.list_opcodes(ProviderId::Core).unwrap();
    let expected: HashSet<Opcode> = [
        Opcode::Ping,
        Opcode::ListProviders,
        Opcode::ListOpcodes,
        Opcode::ListAuthenticators,
        Opcode::ListKeys,
        Opcode::ListClients,
        Opcode::DeleteClient,
    ]
    .into_iter()
    .collect();
    assert_eq!(opcodes, expected);
    // A provider that is not configured.
    assert_eq!(
        status_of(client.list_opcodes(ProviderId::Tpm)),
        ResponseStatus::ProviderNotRegistered
    );
    d.stop();
}

#[test]
fn basic_client_as_applications_build_it() {
    let d = direct_daemon();
    let client = discovering_client(&d.socket, Some("app-1"));
    assert_eq!(client.list_keys().unwrap(), vec![]);
    // Without an application name, Direct cannot be chosen.
    assert!(try_discovering_client(&d.socket, None).is_err());
}

#[test]
fn admin_operations_need_an_admin() {
    let d = Daemon::start(|s| {
        config(
            s,
            3000,
            "[authenticator]\nauth_type = \"Direct\"\nadmins = [ { name = \"boss\" } ]\n",
            "",
        )
    });
    let boss = direct_client(&d.socket, "boss");
    assert_eq!(boss.list_clients().unwrap(), Vec::<String>::new());
    // Deleting a client without keys succeeds, as upstream.
    boss.delete_client("nobody").unwrap();

    let app = direct_client(&d.socket, "app");
    assert_eq!(
        status_of(app.list_clients()),
        ResponseStatus::AdminOperation
    );
    assert_eq!(
        status_of(app.delete_client("boss")),
        ResponseStatus::AdminOperation
    );

    let anonymous = naked_client(&d.socket);
    assert_eq!(
        status_of(anonymous.list_clients()),
        ResponseStatus::NotAuthenticated
    );
    assert_eq!(
        status_of(anonymous.delete_client("app")),
        ResponseStatus::NotAuthenticated
    );
    assert_eq!(
        status_of(anonymous.list_keys()),
        ResponseStatus::NotAuthenticated
    );
}

#[test]
fn several_authenticators_preferred_first() {
    let d = Daemon::start(|s| {
        config(
            s,
            3000,
            "[[authenticator]]\nauth_type = \"UnixPeerCredentials\"\n\
             [[authenticator]]\nauth_type = \"Direct\"\n",
            "",
        )
    });
    let client = naked_client(&d.socket);
    let ids: Vec<_> = client
        .list_authenticators()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    use parsec_client::core::interface::requests::AuthType;
    assert_eq!(ids, [AuthType::UnixPeerCredentials, AuthType::Direct]);
    // Each request is checked by the authenticator its auth type names.
    let mut by_uid = naked_client(&d.socket);
    by_uid.set_auth_data(parsec_client::auth::Authentication::UnixPeerCredentials);
    by_uid.list_keys().unwrap();
    direct_client(&d.socket, "someone").list_keys().unwrap();
    // An application discovering the service picks the preferred one (peer credentials).
    let discovered = discovering_client(&d.socket, None);
    assert_eq!(
        discovered.auth_data(),
        parsec_client::auth::Authentication::UnixPeerCredentials
    );
}

fn parsec_tool(d: &Daemon, args: &[&str]) -> String {
    let tool = std::env::var("PARSEC_TOOL")
        .expect("PARSEC_TOOL must name parsec-tool 0.7.0; ./test.sh installs it and sets it");
    let out = Command::new(tool)
        .args(args)
        .env(
            "PARSEC_SERVICE_ENDPOINT",
            format!("unix:{}", d.socket.display()),
        )
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "parsec-tool {args:?} failed:\n{text}");
    text
}

#[test]
fn parsec_tool_discovery_subcommands() {
    let d = direct_daemon();
    let ping = parsec_tool(&d, &["ping"]);
    assert!(ping.contains("1.0"), "{ping}");

    let providers = parsec_tool(&d, &["list-providers"]);
    assert!(
        providers.contains("47049873-2a43-4845-9d72-831eab668784"),
        "{providers}"
    );
    assert!(
        providers.contains("ID: 0x00 (Core provider)"),
        "{providers}"
    );

    let auths = parsec_tool(&d, &["list-authenticators"]);
    assert!(auths.contains("Direct"), "{auths}");

    let opcodes = parsec_tool(&d, &["list-opcodes", "--provider", "0"]);
    for name in [
        "Ping",
        "ListProviders",
        "ListOpcodes",
        "ListAuthenticators",
        "ListKeys",
    ] {
        assert!(opcodes.contains(name), "{name} missing from:\n{opcodes}");
    }
    // list-keys authenticates (Direct, as application "parsec-tool").
    let keys = parsec_tool(&d, &["list-keys"]);
    assert!(keys.contains("No keys currently available"), "{keys}");
    d.stop();
}
