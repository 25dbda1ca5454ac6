//! The keys of the hardware providers' `[[provider]]` sections: PKCS#11 and TPM 2.0. Upstream's
//! keys keep upstream's meaning and defaults; ours are marked.

use std::path::PathBuf;

use super::reader::Section;
use super::ConfigError;

/// A PIN or hierarchy password from the config: kept out of `Debug` output, wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(zeroize::Zeroizing<Vec<u8>>);

impl Pin {
    pub fn new(bytes: Vec<u8>) -> Pin {
        Pin(zeroize::Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// A validated `provider_type = "Pkcs11"` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Pkcs11Config {
    /// The token's PKCS#11 module (shared library).
    pub library_path: PathBuf,
    /// The token is chosen by any of these that are set (all must match the same token); with
    /// none, the first slot holding an initialised token.
    pub slot_number: Option<u64>,
    pub serial_number: Option<String>,
    /// Ours: the token's label.
    pub token_label: Option<String>,
    /// The user PIN; without it only public objects can be used.
    pub user_pin: Option<Pin>,
    /// Verify and encrypt with the public key in this process instead of on the token.
    pub software_public_operations: bool,
    /// Whether keys whose policy has the export flag are made extractable on the token.
    pub allow_export: bool,
}

/// A validated `provider_type = "Tpm"` section.
#[derive(Debug, Clone, PartialEq)]
pub struct TpmConfig {
    /// The TCTI configuration string: `device:/dev/tpmrm0`, `mssim:host=...,port=...`,
    /// `swtpm:host=...,port=...`, `tabrmd:...`.
    pub tcti: String,
    pub owner_hierarchy_auth: Pin,
    pub endorsement_hierarchy_auth: Option<Pin>,
    /// When the TPM cannot be reached at start-up: skip this provider instead of failing.
    pub skip_if_no_tpm: bool,
}

/// The provider-specific part of a `[[provider]]`.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderSettings {
    None,
    Pkcs11(Pkcs11Config),
    Tpm(TpmConfig),
}

/// Longest PIN or password accepted from the config.
const MAX_SECRET_LEN: usize = 256;

impl Pkcs11Config {
    pub(super) fn read(s: &mut Section<'_>) -> Result<Pkcs11Config, ConfigError> {
        let library_path = s
            .path_value("library_path")?
            .ok_or_else(|| s.error("library_path", "is required"))?;
        let slot_number = s.integer("slot_number", 0, u64::from(u32::MAX))?;
        let serial_number = non_empty(s, "serial_number")?;
        let token_label = non_empty(s, "token_label")?;
        let user_pin = match s.string("user_pin")? {
            None => None,
            Some(p) if p.len() > MAX_SECRET_LEN => {
                return Err(s.error("user_pin", format!("longer than {MAX_SECRET_LEN} bytes")))
            }
            Some(p) => Some(Pin::new(p.as_bytes().to_vec())),
        };
        Ok(Pkcs11Config {
            library_path,
            slot_number,
            serial_number,
            token_label,
            user_pin,
            software_public_operations: s.bool("software_public_operations")?.unwrap_or(false),
            allow_export: s.bool("allow_export")?.unwrap_or(true),
        })
    }
}

impl TpmConfig {
    pub(super) fn read(s: &mut Section<'_>) -> Result<TpmConfig, ConfigError> {
        let tcti = s.required_string("tcti")?;
        if tcti.is_empty() {
            return Err(s.error("tcti", "must not be empty"));
        }
        let owner_hierarchy_auth = hierarchy_auth(s, "owner_hierarchy_auth")?
            .ok_or_else(|| s.error("owner_hierarchy_auth", "is required (\"\" for none)"))?;
        Ok(TpmConfig {
            tcti: tcti.to_string(),
            owner_hierarchy_auth,
            endorsement_hierarchy_auth: hierarchy_auth(s, "endorsement_hierarchy_auth")?,
            skip_if_no_tpm: s.bool("skip_if_no_tpm")?.unwrap_or(false),
        })
    }
}

fn non_empty(s: &mut Section<'_>, key: &'static str) -> Result<Option<String>, ConfigError> {
    match s.string(key)? {
        Some("") => Err(s.error(key, "must not be empty")),
        other => Ok(other.map(str::to_string)),
    }
}

/// A hierarchy password as upstream writes it: `hex:` then hex digits, `str:` then text, or
/// plain text.
fn hierarchy_auth(s: &mut Section<'_>, key: &'static str) -> Result<Option<Pin>, ConfigError> {
    let Some(text) = s.string(key)? else {
        return Ok(None);
    };
    let bytes = if let Some(hex) = text.strip_prefix("hex:") {
        decode_hex(hex).ok_or_else(|| s.error(key, "`hex:` must be followed by hex digit pairs"))?
    } else {
        text.strip_prefix("str:")
            .unwrap_or(text)
            .as_bytes()
            .to_vec()
    };
    if bytes.len() > MAX_SECRET_LEN {
        return Err(s.error(key, format!("longer than {MAX_SECRET_LEN} bytes")));
    }
    Ok(Some(Pin::new(bytes)))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn pkcs11_keys_and_defaults() {
        let t = section(
            "library_path = \"/usr/lib/softhsm/libsofthsm2.so\"\nserial_number = \"abc\"\n\
             user_pin = \"1234\"\n",
        );
        let c = Pkcs11Config::read(&mut Section::new("provider[0]", &t)).unwrap();
        assert_eq!(c.serial_number.as_deref(), Some("abc"));
        assert_eq!(c.user_pin.as_ref().unwrap().expose(), b"1234");
        assert!(!c.software_public_operations);
        assert!(c.allow_export);
        assert!(
            !format!("{c:?}").contains("1234"),
            "the PIN is not in Debug output"
        );
        let t = section("slot_number = 1\n");
        let e = Pkcs11Config::read(&mut Section::new("provider[0]", &t)).unwrap_err();
        assert_eq!(e.key, "provider[0].library_path");
        let t = section("library_path = \"x\"\nslot_number = -1\n");
        let e = Pkcs11Config::read(&mut Section::new("provider[0]", &t)).unwrap_err();
        assert_eq!(e.key, "provider[0].slot_number");
    }

    #[test]
    fn tpm_hierarchy_auth_forms() {
        let read = |text: &str| TpmConfig::read(&mut Section::new("provider[1]", &section(text)));
        let c = read("tcti = \"mssim\"\nowner_hierarchy_auth = \"hex:00ff\"\n").unwrap();
        assert_eq!(c.owner_hierarchy_auth.expose(), [0, 255]);
        let c = read("tcti = \"mssim\"\nowner_hierarchy_auth = \"str:hex:1\"\n").unwrap();
        assert_eq!(c.owner_hierarchy_auth.expose(), b"hex:1");
        let c = read("tcti = \"mssim\"\nowner_hierarchy_auth = \"\"\n").unwrap();
        assert!(c.owner_hierarchy_auth.expose().is_empty());
        assert!(!c.skip_if_no_tpm);
        let e = read("tcti = \"mssim\"\nowner_hierarchy_auth = \"hex:0\"\n").unwrap_err();
        assert_eq!(e.key, "provider[1].owner_hierarchy_auth");
        let e = read("tcti = \"mssim\"\n").unwrap_err();
        assert_eq!(e.key, "provider[1].owner_hierarchy_auth");
        let e = read("owner_hierarchy_auth = \"\"\n").unwrap_err();
        assert_eq!(e.key, "provider[1].tcti");
    }
}
