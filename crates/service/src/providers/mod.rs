//! Providers: where operations are carried out.
//!
//! A provider declares what it is ([`ProviderInfo`]) and which operations it serves
//! ([`Provider::opcodes`]); ListProviders and ListOpcodes are derived from those declarations,
//! and the dispatcher refuses an operation a provider does not declare.

pub(crate) mod cache;
pub mod core;
pub mod hardware;
pub mod keyed;
pub mod pkcs11;
pub(crate) mod policy;
pub mod software;
#[cfg(feature = "tpm")]
pub mod tpm;

use std::sync::Arc;

use anyhow::Context as _;
use parsec_keystore::KeyStore;
use parsec_psa::{OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, Status};

use crate::auth::{AppId, AuthenticatorInfo};
use crate::config::{Config, ProviderConfig, ProviderSettings, ProviderType};

/// What ListProviders reports for one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub id: ProviderId,
    pub uuid: &'static str,
    pub description: String,
    pub vendor: String,
    pub version: (u32, u32, u32),
}

/// A provider of operations.
pub trait Provider: Send + Sync {
    /// Identity and version.
    fn info(&self) -> &ProviderInfo;
    /// The operations this provider serves.
    fn opcodes(&self) -> &[Opcode];
    /// Carries out `op` for `app` (`None` for operations that need no identity).
    fn execute(&self, app: Option<&AppId>, op: Operation) -> Result<OpResult, Status>;
    /// Whether `opcode` may take long enough (key generation, a slow device) that it must
    /// not hold up the thread that serves other connections.
    fn blocks(&self, opcode: Opcode) -> bool {
        opcode == Opcode::PsaGenerateKey
    }
    /// Called after every key of `app` was deleted from the store (DeleteClient): forget
    /// anything held about them.
    fn delete_client(&self, _app: &AppId) {}
    /// Releases what the provider's device holds for this process, at exit (see
    /// [`keyed::Backend::close`]).
    fn close(&self) {}
    /// Records, as `app`'s key `name`, a key its device already holds under `handle` (an
    /// upstream installation's, for `parsec migrate`). Nothing is written to the device, and
    /// nothing of it is removed if the record cannot be stored.
    fn adopt(
        &self,
        _app: &AppId,
        _name: &str,
        _attributes: &parsec_psa::KeyAttributes,
        _handle: &[u8],
    ) -> Result<(), Status> {
        Err(Status::PsaErrorNotSupported)
    }
}

/// The providers of one configuration: crypto providers in config order, core last.
pub struct Providers {
    all: Vec<Arc<dyn Provider>>,
    /// The hardware providers among them, with the settings they were opened with.
    hardware: Vec<(ProviderConfig, Arc<dyn Provider>)>,
}

impl Providers {
    /// Opens the providers `config` names over `store`, and the core provider that reports
    /// them and `authenticators`. On reload, the hardware providers of `previous` are kept (a
    /// device is opened once per process), with a warning when their settings changed.
    pub fn open(
        config: &Config,
        store: Option<Arc<dyn KeyStore>>,
        authenticators: Vec<AuthenticatorInfo>,
        previous: Option<&Providers>,
    ) -> anyhow::Result<Providers> {
        let mut all: Vec<Arc<dyn Provider>> = Vec::new();
        let mut hardware = Vec::new();
        for p in &config.providers {
            let Some(store) = &store else {
                anyhow::bail!("provider `{}` needs a key store", p.name)
            };
            let kept = previous.and_then(|s| s.hardware.iter().find(|(c, _)| c.kind == p.kind));
            if let Some((old, provider)) = kept {
                if old.settings != p.settings {
                    tracing::warn!(
                        "provider `{}`: changes to its settings take effect only after a restart",
                        p.name
                    );
                }
                all.push(provider.clone());
                hardware.push((old.clone(), provider.clone()));
                continue;
            }
            let (allow_deprecated, buffer_size_limit) =
                (config.core.allow_deprecated, config.core.buffer_size_limit);
            let provider: Arc<dyn Provider> = match (p.kind, &p.settings) {
                (ProviderType::Software, _) => Arc::new(software::open(
                    store.clone(),
                    allow_deprecated,
                    buffer_size_limit,
                )),
                (ProviderType::Pkcs11, ProviderSettings::Pkcs11(settings)) => {
                    let provider =
                        pkcs11::open(settings, store.clone(), allow_deprecated, buffer_size_limit)
                            .with_context(|| format!("provider `{}`", p.name))?;
                    let provider: Arc<dyn Provider> = Arc::new(provider);
                    hardware.push((p.clone(), provider.clone()));
                    provider
                }
                #[cfg(feature = "tpm")]
                (ProviderType::Tpm, ProviderSettings::Tpm(settings)) => {
                    let opened =
                        tpm::open(settings, store.clone(), allow_deprecated, buffer_size_limit)
                            .with_context(|| format!("provider `{}`", p.name))?;
                    let Some(provider) = opened else { continue };
                    let provider: Arc<dyn Provider> = Arc::new(provider);
                    hardware.push((p.clone(), provider.clone()));
                    provider
                }
                #[cfg(not(feature = "tpm"))]
                (ProviderType::Tpm, _) => anyhow::bail!(
                    "provider `{}`: this build has no TPM provider; build with \
                     `cargo build --release --features tpm` (needs libtss2-dev)",
                    p.name
                ),
                _ => {
                    tracing::warn!(
                        "provider `{}` ({:?}) is not available in this version of the service: skipped",
                        p.name,
                        p.kind
                    );
                    continue;
                }
            };
            all.push(provider);
        }
        let core = core::Core::new(&all, authenticators, store);
        all.push(Arc::new(core));
        Ok(Providers { all, hardware })
    }

    /// Every provider, crypto providers in config order, core last.
    pub fn all(&self) -> &[Arc<dyn Provider>] {
        &self.all
    }

    /// Closes every provider (at exit).
    pub fn close(&self) {
        for provider in &self.all {
            provider.close();
        }
    }

    /// The provider of `id`.
    pub fn get(&self, id: ProviderId) -> Option<&Arc<dyn Provider>> {
        self.all.iter().find(|p| p.info().id == id)
    }
}

/// Opcodes a provider may list: those an upstream client can parse.
pub fn listable(opcodes: &[Opcode]) -> Vec<Opcode> {
    opcodes
        .iter()
        .copied()
        .filter(|op| op.upstream_client_knows())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_upstream_clients_cannot_parse_are_never_listed() {
        let served = [
            Opcode::PsaSignHash,
            Opcode::PsaMacCompute,
            Opcode::PsaMacVerify,
            Opcode::CanDoCrypto,
        ];
        assert_eq!(
            listable(&served),
            [Opcode::PsaSignHash, Opcode::CanDoCrypto]
        );
    }
}
