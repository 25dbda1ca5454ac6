//! A daemon serving Parsec.1 on a free loopback port, for the Parsec.1 tests.

use std::time::{Duration, Instant};

use parsec1::KeyAddress;

use super::backends::Device;
use super::{software_config, Daemon};

/// Direct authentication with one administrator, `admin`.
pub const ADMIN_DIRECT: &str =
    "[authenticator]\nauth_type = \"Direct\"\nadmins = [{ name = \"admin\" }]\n";

/// A daemon with the software provider and Parsec.1 on a free loopback port.
pub struct P1 {
    pub daemon: Daemon,
    pub url: String,
    /// The HTTPS endpoint, when `tls_listen` is set.
    pub https: Option<String>,
    pub service_key: KeyAddress,
}

pub fn start(parsec1_extra: &str) -> P1 {
    start_at(None, parsec1_extra)
}

/// Like [`start`]; with `Some(socket)`, on another daemon's socket path and so its state.
pub fn start_at(socket: Option<std::path::PathBuf>, parsec1_extra: &str) -> P1 {
    start_with(socket, &Device::Software, parsec1_extra)
}

/// Like [`start_at`], with `device`'s provider after the software provider (none for
/// `Device::Software`).
pub fn start_with(socket: Option<std::path::PathBuf>, device: &Device, parsec1_extra: &str) -> P1 {
    let extra = parsec1_extra.to_string();
    let hardware = match device {
        Device::Software => String::new(),
        device => device.provider_section("sqlite-manager"),
    };
    let daemon = Daemon::start_at(
        socket,
        move |socket| {
            let state = socket.parent().unwrap().parent().unwrap().join("state");
            format!(
                "{}\n{hardware}\n[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\n\
             test_pow_difficulty = 8\npow_difficulty = 12\n{extra}\n",
                software_config(socket, &state, ADMIN_DIRECT)
            )
        },
        |cmd| device.environment(cmd),
    );
    serving(daemon)
}

/// Waits until `daemon` prints its Parsec.1 endpoint and service key.
pub fn serving(daemon: Daemon) -> P1 {
    let start = Instant::now();
    loop {
        let out = daemon.stdout();
        let value = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::to_string)
        };
        if let (Some(url), Some(key)) = (value("PARSEC1_ENDPOINT="), value("PARSEC1_SERVICE_KEY="))
        {
            return P1 {
                url,
                https: value("PARSEC1_HTTPS_ENDPOINT="),
                service_key: KeyAddress::parse(&key).unwrap(),
                daemon,
            };
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no Parsec.1 endpoint:\n{}",
            daemon.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl P1 {
    /// host:port of the endpoint.
    pub fn authority(&self) -> String {
        self.url
            .strip_prefix("http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// Sends raw bytes to the endpoint's server; everything it answers until it closes.
    pub fn http(&self, request: &[u8]) -> String {
        super::http(&self.authority(), request)
    }
}
