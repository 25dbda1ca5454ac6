//! `[[provider]]`: the provider types of upstream files, their common keys, and the hardware
//! providers' own keys (read in `hardware.rs`).

use super::reader::Section;
use super::{
    unknown_key_warning, ConfigError, KeyManagerConfig, Pkcs11Config, ProviderSettings, TpmConfig,
};

/// Provider types of upstream config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    /// Upstream's `MbedCrypto`; ours is the software provider (`Software` selects it too).
    Software,
    Pkcs11,
    Tpm,
    TrustedService,
    CryptoAuthLib,
}

impl ProviderType {
    fn parse(name: &str) -> Option<ProviderType> {
        Some(match name {
            "MbedCrypto" | "Software" => ProviderType::Software,
            "Pkcs11" => ProviderType::Pkcs11,
            "Tpm" => ProviderType::Tpm,
            "TrustedService" => ProviderType::TrustedService,
            "CryptoAuthLib" => ProviderType::CryptoAuthLib,
            _ => return None,
        })
    }

    /// Upstream's default provider name.
    pub fn default_name(self) -> &'static str {
        match self {
            ProviderType::Software => "mbed-crypto-provider",
            ProviderType::Pkcs11 => "pkcs11-provider",
            ProviderType::Tpm => "tpm-provider",
            ProviderType::TrustedService => "trusted-service-provider",
            ProviderType::CryptoAuthLib => "cryptoauthlib-provider",
        }
    }

    /// The keys of this provider type besides the common ones.
    fn keys(self) -> &'static [&'static str] {
        match self {
            ProviderType::Software | ProviderType::TrustedService => &[],
            ProviderType::Pkcs11 => &[
                "library_path",
                "slot_number",
                "serial_number",
                "user_pin",
                "software_public_operations",
                "allow_export",
                "token_label",
            ],
            ProviderType::Tpm => &[
                "tcti",
                "owner_hierarchy_auth",
                "endorsement_hierarchy_auth",
                "skip_if_no_tpm",
            ],
            ProviderType::CryptoAuthLib => &[
                "device_type",
                "iface_type",
                "wake_delay",
                "rx_retries",
                "slave_address",
                "bus",
                "baud",
                "access_key_file_name",
            ],
        }
    }
}

/// One `[[provider]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub kind: ProviderType,
    pub name: String,
    pub key_info_manager: Option<String>,
    /// The provider's own keys.
    pub settings: ProviderSettings,
}

pub(super) fn read_providers(
    root: &mut Section<'_>,
    managers: &[KeyManagerConfig],
    warnings: &mut Vec<String>,
) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out: Vec<ProviderConfig> = Vec::new();
    for (i, table) in root.tables("provider")?.into_iter().enumerate() {
        let mut s = Section::new(format!("provider[{i}]"), table);
        let type_name = s.required_string("provider_type")?;
        let kind = ProviderType::parse(type_name).ok_or_else(|| {
            s.error(
                "provider_type",
                format!("`{type_name}` is not one of \"MbedCrypto\" (or \"Software\"), \"Pkcs11\", \"Tpm\", \"TrustedService\", \"CryptoAuthLib\""),
            )
        })?;
        let name = s
            .string("name")?
            .map_or_else(|| kind.default_name().to_string(), str::to_string);
        if name.is_empty() {
            return Err(s.error("name", "must not be empty"));
        }
        if out.iter().any(|p| p.name == name) {
            return Err(s.error("name", format!("`{name}` names two providers")));
        }
        if out.iter().any(|p| p.kind == kind) {
            return Err(s.error(
                "provider_type",
                format!("`{type_name}` is configured twice"),
            ));
        }
        let key_info_manager = s.string("key_info_manager")?.map(str::to_string);
        if let Some(m) = &key_info_manager {
            if !managers.iter().any(|km| &km.name == m) {
                return Err(s.error(
                    "key_info_manager",
                    format!("no [[key_manager]] is named `{m}`"),
                ));
            }
            let other = out
                .iter()
                .find_map(|p| p.key_info_manager.as_ref().filter(|o| *o != m));
            if let Some(other) = other {
                return Err(s.error(
                    "key_info_manager",
                    format!(
                        "`{m}` differs from `{other}`: this service keeps all keys in one store, \
                         so every provider must name the same key manager"
                    ),
                ));
            }
        }
        let settings = match kind {
            ProviderType::Pkcs11 => ProviderSettings::Pkcs11(Pkcs11Config::read(&mut s)?),
            ProviderType::Tpm => ProviderSettings::Tpm(TpmConfig::read(&mut s)?),
            other => {
                // Upstream keys of providers this service does not have: known, unused.
                for key in other.keys() {
                    s.ignore(key);
                }
                ProviderSettings::None
            }
        };
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(ProviderConfig {
            kind,
            name,
            key_info_manager,
            settings,
        });
    }
    Ok(out)
}
