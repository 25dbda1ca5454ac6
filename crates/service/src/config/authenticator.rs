//! `[authenticator]` (one table, or several in order of preference): the authenticators and
//! their admins.

use std::time::Duration;

use super::reader::Section;
use super::{unknown_key_warning, AuthKind, AuthenticatorConfig, ConfigError};
use crate::auth::jwt::JwtConfig;
use crate::auth::jwt_svid::{JwtSvidConfig, DEFAULT_AUDIENCE};
use crate::auth::keys::{Refresh, Source};
use crate::auth::token::{parse_algorithm, Policy, DEFAULT_ALGORITHMS};
use crate::auth::TokenSettings;

/// Clock skew allowed on a token's `exp` and `nbf` unless `clock_skew` says (seconds).
pub const DEFAULT_CLOCK_SKEW: u64 = 30;
/// Longest token lifetime accepted unless `max_token_lifetime` says (seconds): a day.
pub const DEFAULT_MAX_TOKEN_LIFETIME: u64 = 24 * 3600;
/// How often an identity provider's keys are fetched unless `jwks_refresh_interval` says.
pub const DEFAULT_JWKS_REFRESH: u64 = 900;
/// Least time between fetches on an unknown `kid` unless `jwks_min_refresh_interval` says.
pub const DEFAULT_JWKS_MIN_REFRESH: u64 = 30;
/// How often a SPIFFE bundle file is read unless `jwt_bundles_refresh_interval` says.
pub const DEFAULT_BUNDLES_REFRESH: u64 = 10;
/// Least time between reads of a bundle file on an unknown `kid`.
pub const BUNDLES_MIN_REFRESH: Duration = Duration::from_secs(1);

/// The keys only the token authenticators read.
pub(super) const TOKEN_KEYS: &[&str] = &[
    "workload_endpoint",
    "jwt_bundles_path",
    "jwt_bundles_refresh_interval",
    "jwks_path",
    "issuer",
    "audience",
    "application_claim",
    "algorithms",
    "clock_skew",
    "max_token_lifetime",
    "jwks_refresh_interval",
    "jwks_min_refresh_interval",
];

pub(super) fn read_authenticators(
    root: &mut Section<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<AuthenticatorConfig>, ConfigError> {
    let tables = root.tables("authenticator")?;
    let single = tables.len() == 1;
    let mut out: Vec<AuthenticatorConfig> = Vec::new();
    for (i, table) in tables.into_iter().enumerate() {
        let path = if single {
            "authenticator".to_string()
        } else {
            format!("authenticator[{i}]")
        };
        let mut s = Section::new(path, table);
        let kind = match s.required_string("auth_type")? {
            "Direct" => AuthKind::Direct,
            "UnixPeerCredentials" => AuthKind::UnixPeerCredentials,
            "JwtSvid" => AuthKind::JwtSvid,
            "Jwt" => AuthKind::Jwt,
            other => {
                return Err(s.error(
                    "auth_type",
                    format!(
                        "`{other}` is not one of \"Direct\", \"UnixPeerCredentials\", \"JwtSvid\", \"Jwt\""
                    ),
                ))
            }
        };
        let tokens = match kind {
            AuthKind::Jwt => Some(TokenSettings::Jwt(read_jwt(&mut s)?)),
            AuthKind::JwtSvid => Some(TokenSettings::JwtSvid(read_jwt_svid(&mut s)?)),
            _ => {
                for key in TOKEN_KEYS {
                    if s.ignore(key) {
                        warnings.push(format!(
                            "config key `{}` is ignored: it is used only by the Jwt and JwtSvid authenticators",
                            s.key_path(key)
                        ));
                    }
                }
                None
            }
        };
        for key in TOKEN_KEYS {
            // Those of the other token authenticator.
            if s.ignore(key) && !read_by(kind, key) {
                warnings.push(format!(
                    "config key `{}` is ignored: the {} authenticator does not use it",
                    s.key_path(key),
                    kind.config_name()
                ));
            }
        }
        let admins = read_admins(&mut s, kind)?;
        if out.iter().any(|a| a.kind == kind) {
            return Err(s.error(
                "auth_type",
                format!("{} is configured twice", kind.config_name()),
            ));
        }
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(AuthenticatorConfig {
            kind,
            admins,
            tokens,
        });
    }
    if out.is_empty() {
        return Err(ConfigError {
            key: "authenticator".into(),
            reason: "is required: name at least one auth_type".into(),
        });
    }
    Ok(out)
}

fn read_admins(s: &mut Section<'_>, kind: AuthKind) -> Result<Vec<String>, ConfigError> {
    let Some(value) = s.value("admins") else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| s.error("admins", "expected an array of { name = \"...\" } tables"))?;
    let mut admins = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("admins[{i}]");
        let name = item
            .as_table()
            .and_then(|t| if t.len() == 1 { t.get("name") } else { None })
            .and_then(|n| n.as_str())
            .ok_or_else(|| s.error(&key, "expected a table { name = \"...\" }"))?;
        if name.is_empty() {
            return Err(s.error(&key, "the admin name must not be empty"));
        }
        if kind == AuthKind::UnixPeerCredentials && name.parse::<u32>().is_err() {
            return Err(s.error(
                &key,
                format!("`{name}` is not a UID: UnixPeerCredentials admins are decimal UIDs"),
            ));
        }
        admins.push(name.to_string());
    }
    Ok(admins)
}

/// Whether the authenticator of `kind` reads `key`.
fn read_by(kind: AuthKind, key: &str) -> bool {
    let both = ["audience", "algorithms", "clock_skew", "max_token_lifetime"];
    match kind {
        AuthKind::Jwt => {
            both.contains(&key)
                || [
                    "jwks_path",
                    "issuer",
                    "application_claim",
                    "jwks_refresh_interval",
                    "jwks_min_refresh_interval",
                ]
                .contains(&key)
        }
        AuthKind::JwtSvid => {
            both.contains(&key)
                || [
                    "workload_endpoint",
                    "jwt_bundles_path",
                    "jwt_bundles_refresh_interval",
                ]
                .contains(&key)
        }
        _ => false,
    }
}

/// `[authenticator]` with `auth_type = "Jwt"`.
fn read_jwt(s: &mut Section<'_>) -> Result<JwtConfig, ConfigError> {
    let issuer = s.required_string("issuer")?.to_string();
    if issuer.is_empty() {
        return Err(s.error("issuer", "must not be empty"));
    }
    let audience = s
        .string("audience")?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| s.error("audience", "is required: the audience tokens must be for"))?
        .to_string();
    let source = match s.path_value("jwks_path")? {
        Some(path) => Source::JwksFile(path),
        None if issuer.starts_with("https://") => Source::Discovery(issuer.clone()),
        None => {
            return Err(s.error(
                "jwks_path",
                "is required unless `issuer` is an https:// URL, whose discovery document names the keys",
            ))
        }
    };
    let application_claim = match s.string("application_claim")? {
        None => "sub".to_string(),
        Some("") => return Err(s.error("application_claim", "must not be empty")),
        Some(c) => c.to_string(),
    };
    let every = s
        .integer("jwks_refresh_interval", 1, 7 * 24 * 3600)?
        .unwrap_or(DEFAULT_JWKS_REFRESH);
    let min_gap = s
        .integer("jwks_min_refresh_interval", 1, 24 * 3600)?
        .unwrap_or(DEFAULT_JWKS_MIN_REFRESH);
    Ok(JwtConfig {
        source,
        policy: read_policy(s, audience, Some(issuer))?,
        application_claim,
        refresh: Refresh {
            every: Duration::from_secs(every),
            min_gap: Duration::from_secs(min_gap),
        },
    })
}

/// `[authenticator]` with `auth_type = "JwtSvid"`.
fn read_jwt_svid(s: &mut Section<'_>) -> Result<JwtSvidConfig, ConfigError> {
    let endpoint = s.string("workload_endpoint")?;
    let bundles = s.path_value("jwt_bundles_path")?;
    let source = match (endpoint, bundles) {
        (Some(e), None) => {
            if !e.starts_with("unix:") {
                return Err(s.error(
                    "workload_endpoint",
                    format!("`{e}` is not a unix: address: the agent is reached over its Unix socket (a TCP Workload API is unauthenticated plaintext)"),
                ));
            }
            spiffe::transport::Endpoint::parse(e).map_err(|why| {
                s.error(
                    "workload_endpoint",
                    format!("`{e}` is not a SPIFFE Workload API address (unix:///path/to/agent.sock): {why}"),
                )
            })?;
            Source::WorkloadApi(e.to_string())
        }
        (None, Some(path)) => Source::BundleFile(path),
        (Some(_), Some(_)) => {
            return Err(s.error(
                "jwt_bundles_path",
                "give either workload_endpoint or jwt_bundles_path, not both",
            ))
        }
        (None, None) => {
            return Err(s.error(
                "workload_endpoint",
                "is required (the SPIFFE agent's socket), or jwt_bundles_path on a host without an agent",
            ))
        }
    };
    let audience = match s.string("audience")? {
        None => DEFAULT_AUDIENCE.to_string(),
        Some("") => return Err(s.error("audience", "must not be empty")),
        Some(a) => a.to_string(),
    };
    let every = s
        .integer("jwt_bundles_refresh_interval", 1, 24 * 3600)?
        .unwrap_or(DEFAULT_BUNDLES_REFRESH);
    Ok(JwtSvidConfig {
        source,
        policy: read_policy(s, audience, None)?,
        refresh: Refresh {
            every: Duration::from_secs(every),
            min_gap: BUNDLES_MIN_REFRESH,
        },
    })
}

/// The checks both token authenticators make: algorithms, clock skew, maximum lifetime.
fn read_policy(
    s: &mut Section<'_>,
    audience: String,
    issuer: Option<String>,
) -> Result<Policy, ConfigError> {
    let algorithms = match s.value("algorithms") {
        None => DEFAULT_ALGORITHMS.to_vec(),
        Some(v) => {
            let items = v
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| s.error("algorithms", "expected a non-empty array of names"))?;
            let mut algorithms = Vec::with_capacity(items.len());
            for item in items {
                let name = item
                    .as_str()
                    .ok_or_else(|| s.error("algorithms", "expected names, as \"ES256\""))?;
                algorithms.push(parse_algorithm(name).map_err(|why| s.error("algorithms", why))?);
            }
            algorithms
        }
    };
    Ok(Policy {
        algorithms,
        audience,
        issuer,
        leeway: s
            .integer("clock_skew", 0, 600)?
            .unwrap_or(DEFAULT_CLOCK_SKEW),
        max_lifetime: Some(
            s.integer("max_token_lifetime", 1, 366 * 24 * 3600)?
                .unwrap_or(DEFAULT_MAX_TOKEN_LIFETIME),
        ),
    })
}
