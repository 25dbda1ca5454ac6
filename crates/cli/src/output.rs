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
        Log {
            level: level_for_this_tool(&text),
        }
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

/// The level `RUST_LOG` gives this tool, as env_logger reads it: a `parsec_tool=LEVEL`
/// entry, else the last plain `LEVEL`, else `info`. Entries for other targets do not count.
fn level_for_this_tool(text: &str) -> u8 {
    let level = |name: &str| {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "off" => 0,
            "error" => 1,
            "warn" => 2,
            "info" => 3,
            "debug" => 4,
            "trace" => 5,
            _ => return None,
        })
    };
    let mut plain = None;
    let mut ours = None;
    for part in text.split(',') {
        match part.split_once('=') {
            Some((target, l)) if target.trim().starts_with("parsec_tool") => ours = level(l),
            Some(_) => {}
            None => plain = level(part).or(plain),
        }
    }
    ours.or(plain).unwrap_or(3)
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
    fn rust_log_levels() {
        assert_eq!(level_for_this_tool(""), 3);
        assert_eq!(level_for_this_tool("error"), 1);
        assert_eq!(level_for_this_tool("info,hyper=off"), 3);
        assert_eq!(level_for_this_tool("warn,parsec_tool=trace"), 5);
        assert_eq!(level_for_this_tool("parsec_tool=off,debug"), 0);
    }

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
