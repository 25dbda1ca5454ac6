//! The dispatcher: from a framed request to its response, with upstream's checks in
//! upstream's order (spec "Order of request checks").
//!
//! The rules that differ per operation (core or crypto, admin only, identity needed) come from
//! one table, [`parsec_wire::Opcode`]; what a provider serves comes from its declaration.

use std::sync::Arc;

use parsec_psa::{DecodeError, OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, RawHeader, RequestHeader, Response, ResponseHeader, Status};

use crate::auth::{AppId, Authenticators, Peer};
use crate::config::Config;
use crate::config::{ProviderConfig, ProviderSettings, ProviderType};
use crate::front::unix::Limits;
use crate::providers::core::Core;
use crate::providers::pkcs11;
use crate::providers::software::Software;
use crate::providers::Provider;
use anyhow::Context as _;
use parsec_keystore::KeyStore;

/// One configuration's worth of service: authenticators, providers (crypto providers in config
/// order, core last) and limits. Rebuilt whole on reload.
pub struct Service {
    auth: Authenticators,
    providers: Vec<Arc<dyn Provider>>,
    /// The hardware providers among them, with the settings they were opened with.
    hardware: Vec<(ProviderConfig, Arc<dyn Provider>)>,
    limits: Limits,
    buffer_size_limit: usize,
}

impl Service {
    /// Builds the service a configuration describes, over the store opened for it.
    pub fn new(config: &Config, store: Option<Arc<dyn KeyStore>>) -> anyhow::Result<Service> {
        Service::rebuild(config, store, None)
    }

    /// Like [`Service::new`], on reload: hardware providers of `previous` are kept (a device is
    /// opened once per process), with a warning when their settings changed.
    pub fn rebuild(
        config: &Config,
        store: Option<Arc<dyn KeyStore>>,
        previous: Option<&Service>,
    ) -> anyhow::Result<Service> {
        let auth = Authenticators::new(config.authenticators.clone());
        let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
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
                providers.push(provider.clone());
                hardware.push((old.clone(), provider.clone()));
                continue;
            }
            let (allow_deprecated, buffer_size_limit) =
                (config.core.allow_deprecated, config.core.buffer_size_limit);
            let provider: Arc<dyn Provider> = match (p.kind, &p.settings) {
                (ProviderType::Software, _) => Arc::new(Software::new(
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
                    let opened = crate::providers::tpm::open(
                        settings,
                        store.clone(),
                        allow_deprecated,
                        buffer_size_limit,
                    )
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
            providers.push(provider);
        }
        let core = Core::new(&providers, auth.infos(), store);
        providers.push(Arc::new(core));
        Ok(Service {
            auth,
            providers,
            hardware,
            limits: Limits {
                body_len: config.core.body_len_limit,
                timeout: config.listener.timeout,
            },
            buffer_size_limit: config.core.buffer_size_limit,
        })
    }

    /// The limits the front end applies to requests.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Answers one framed request.
    pub fn handle(&self, raw: &RawHeader, body: &[u8], auth: &[u8], peer: Peer) -> Response {
        let header = match raw.validate() {
            Ok(header) => header,
            Err(e) => return Response::header_error(e),
        };
        match self.process(&header, body, auth, peer) {
            Ok(body) => Response {
                header: ResponseHeader::echo(&header, Status::Success),
                body,
            },
            Err(status) => Response {
                header: ResponseHeader::echo(&header, status),
                body: Vec::new(),
            },
        }
    }

    /// Whether `opcode` may take long in any provider: key generation (RSA takes up to
    /// seconds), or any operation of a slow device (a TPM).
    pub fn may_block(&self, opcode: Opcode) -> bool {
        self.providers.iter().any(|p| p.blocks(opcode))
    }

    fn provider(&self, id: ProviderId) -> Option<&Arc<dyn Provider>> {
        self.providers.iter().find(|p| p.info().id == id)
    }

    fn process(
        &self,
        header: &RequestHeader,
        body: &[u8],
        auth: &[u8],
        peer: Peer,
    ) -> Result<Vec<u8>, Status> {
        let opcode = header.opcode;
        let app = self.auth.authenticate(header.auth_type, auth, peer)?;
        let provider = self
            .provider(header.provider)
            .ok_or(Status::ProviderNotRegistered)?;
        if opcode.is_core() != (header.provider == ProviderId::Core) {
            return Err(Status::PsaErrorNotSupported);
        }
        if opcode.is_admin() {
            let app = app.as_ref().ok_or(Status::NotAuthenticated)?;
            if !self.auth.is_admin(app) {
                return Err(Status::AdminOperation);
            }
        }
        let operation =
            parsec_psa::decode_operation(opcode, body).map_err(|e: DecodeError| e.status())?;
        if app.is_none() && !opcode.runs_without_identity() {
            return Err(Status::NotAuthenticated);
        }
        let result = run(provider, app.as_ref(), operation)?;
        let body = parsec_psa::encode_result(&result);
        if body.len() > self.buffer_size_limit {
            return Err(Status::ResponseTooLarge);
        }
        Ok(body)
    }
}

impl Service {
    /// Runs an operation for a remote application (Parsec.1), authenticated by its session.
    /// Crypto operations go to `provider`, or to the first crypto provider; core operations to
    /// the core provider. Remote applications are never administrators.
    pub fn execute_remote(
        &self,
        app: &AppId,
        provider: Option<ProviderId>,
        operation: Operation,
    ) -> Result<OpResult, Status> {
        let opcode = operation.opcode();
        if opcode.is_admin() {
            return Err(Status::AdminOperation);
        }
        let provider = if opcode.is_core() {
            self.provider(ProviderId::Core)
        } else {
            match provider {
                Some(ProviderId::Core) => return Err(Status::PsaErrorNotSupported),
                Some(id) => self.provider(id),
                None => self
                    .providers
                    .first()
                    .filter(|p| p.info().id != ProviderId::Core),
            }
        }
        .ok_or(Status::ProviderNotRegistered)?;
        run(provider, Some(app), operation)
    }
}

/// The last step of every request: the provider must declare the operation.
fn run(
    provider: &Arc<dyn Provider>,
    app: Option<&AppId>,
    operation: Operation,
) -> Result<OpResult, Status> {
    if !provider.opcodes().contains(&operation.opcode()) {
        return Err(Status::PsaErrorNotSupported);
    }
    provider.execute(app, operation)
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
