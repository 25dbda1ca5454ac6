//! `[authenticator]` (one table, or several in order of preference): the authenticators and
//! their admins.

use super::reader::Section;
use super::{unknown_key_warning, AuthKind, AuthenticatorConfig, ConfigError};

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
            other => {
                return Err(s.error(
                    "auth_type",
                    format!(
                        "`{other}` is not one of \"Direct\", \"UnixPeerCredentials\", \"JwtSvid\""
                    ),
                ))
            }
        };
        if kind == AuthKind::JwtSvid {
            return Err(s.error(
                "auth_type",
                "\"JwtSvid\" is not available in this version of the service",
            ));
        }
        if s.ignore("workload_endpoint") {
            warnings.push(format!(
                "config key `{}` is ignored: it is used only by the JwtSvid authenticator",
                s.key_path("workload_endpoint")
            ));
        }
        let admins = read_admins(&mut s, kind)?;
        if out.iter().any(|a| a.kind == kind) {
            return Err(s.error(
                "auth_type",
                format!("{} is configured twice", kind.config_name()),
            ));
        }
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(AuthenticatorConfig { kind, admins });
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
