//! What the tool prints: upstream's log lines on standard error and its names for providers
//! and authenticators, and JSON for `--json`.

use std::fmt::Write;

use parsec_rs_client::{AuthType, ProviderId};

/// Log lines on standard error, as upstream's env_logger prints them (`[INFO  parsec_tool] …`),
/// filtered by the level in `RUST_LOG` (default `info`).
pub struct Log {
    level: u8,
}

impl Log {
    pub fn from_env() -> Log {
        let text = std::env::var("RUST_LOG").unwrap_or_default();
        // A plain level, or a list of `target=level` (the last level given for any target).
        let level = text
            .split(',')
            .filter_map(|part| {
                let level = part.rsplit('=').next()?.trim().to_ascii_lowercase();
                Some(match level.as_str() {
                    "off" => 0,
                    "error" => 1,
                    "warn" => 2,
                    "info" => 3,
                    "debug" => 4,
                    "trace" => 5,
                    _ => return None,
                })
            })
            .next_back()
            .unwrap_or(3);
        Log { level }
    }

    pub fn info(&self, message: &str) {
        if self.level >= 3 {
            eprintln!("[INFO  parsec_tool] {message}");
        }
    }

    pub fn error(&self, message: &str) {
        if self.level >= 1 {
            eprintln!("[ERROR parsec_tool] {message}");
        }
    }
}

/// Upstream's name of a provider.
pub fn provider_name(id: u8) -> String {
    match ProviderId::from_u8(id) {
        Some(ProviderId::Core) => "Core provider".into(),
        Some(ProviderId::MbedCrypto) => "Mbed Crypto provider".into(),
        Some(ProviderId::Pkcs11) => "PKCS #11 provider".into(),
        Some(ProviderId::Tpm) => "TPM provider".into(),
        Some(ProviderId::TrustedService) => "Trusted Service provider".into(),
        Some(ProviderId::CryptoAuthLib) => "CryptoAuthentication Library provider".into(),
        None => format!("provider {id}"),
    }
}

/// Upstream's name of an authenticator.
pub fn authenticator_name(id: u8) -> String {
    match AuthType::from_u8(id) {
        Some(AuthType::NoAuth) => "No authentication".into(),
        Some(AuthType::Direct) => "Direct authentication".into(),
        Some(AuthType::Jwt) => "JSON Web Tokens authentication".into(),
        Some(AuthType::UnixPeerCredentials) => "Unix Peer Credentials authentication".into(),
        Some(AuthType::JwtSvid) => "JWT SPIFFE Verifiable Identity Document authentication".into(),
        None => format!("authenticator {id}"),
    }
}

/// A JSON value, written by hand (the tool prints a handful of shapes).
pub enum Json {
    Str(String),
    Num(u64),
    Bool(bool),
    List(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    pub fn str(text: impl Into<String>) -> Json {
        Json::Str(text.into())
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    Json::str(*name).write(out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Prints the document and a newline.
    pub fn print(&self) {
        let mut out = String::new();
        self.write(&mut out);
        println!("{out}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_strings() {
        let mut out = String::new();
        Json::Object(vec![
            ("name", Json::str("a\"b\\c\n\u{1}é")),
            ("n", Json::Num(7)),
            ("l", Json::List(vec![Json::Bool(true)])),
        ])
        .write(&mut out);
        assert_eq!(out, r#"{"name":"a\"b\\c\n\u0001é","n":7,"l":[true]}"#);
    }
}
