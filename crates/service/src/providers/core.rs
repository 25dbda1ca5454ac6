//! The core provider (id 0): discovery and administration.

use std::sync::Arc;

use parsec_keystore::KeyStore;
use parsec_psa::ops::{
    AuthenticatorInfo, KeyInfo, ListAuthenticatorsResult, ListClientsResult, ListKeysResult,
    ListOpcodesResult, ListProvidersResult, PingResult,
};
use parsec_psa::{OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, Status};

use super::listable;
use super::{Provider, ProviderInfo};
use crate::auth::{self, AppId, AuthKind};
use parsec_psa::glob::Pattern;

use crate::providers::keyed::store_status;

/// Upstream's UUID for the core provider (clients parse it).
pub const CORE_UUID: &str = "47049873-2a43-4845-9d72-831eab668784";

const CORE_OPCODES: &[Opcode] = &[
    Opcode::Ping,
    Opcode::ListProviders,
    Opcode::ListOpcodes,
    Opcode::ListAuthenticators,
    Opcode::ListKeys,
    Opcode::ListClients,
    Opcode::DeleteClient,
];

/// The core provider. It holds a snapshot of the other providers' declarations, taken when the
/// service is built (and rebuilt on reload).
pub struct Core {
    info: ProviderInfo,
    /// Every provider, crypto providers in config order and core last: (info, opcodes).
    providers: Vec<(ProviderInfo, Vec<Opcode>)>,
    authenticators: Vec<auth::AuthenticatorInfo>,
    /// The crypto providers, told when a client's keys are deleted.
    crypto: Vec<Arc<dyn Provider>>,
    /// The key store, when a provider uses one.
    store: Option<Arc<dyn KeyStore>>,
}

fn version() -> (u32, u32, u32) {
    let part = |s: &str| s.parse().unwrap_or(0);
    (
        part(env!("CARGO_PKG_VERSION_MAJOR")),
        part(env!("CARGO_PKG_VERSION_MINOR")),
        part(env!("CARGO_PKG_VERSION_PATCH")),
    )
}

impl Core {
    pub fn new(
        crypto: &[Arc<dyn Provider>],
        authenticators: Vec<auth::AuthenticatorInfo>,
        store: Option<Arc<dyn KeyStore>>,
    ) -> Core {
        let info = ProviderInfo {
            id: ProviderId::Core,
            uuid: CORE_UUID,
            description: "Software provider that implements only administrative (i.e. no cryptographic) operations".into(),
            vendor: String::new(),
            version: version(),
        };
        let mut providers: Vec<_> = crypto
            .iter()
            .map(|p| (p.info().clone(), p.opcodes().to_vec()))
            .collect();
        providers.push((info.clone(), CORE_OPCODES.to_vec()));
        Core {
            info,
            providers,
            authenticators,
            crypto: crypto.to_vec(),
            store,
        }
    }

    fn list_providers(&self) -> ListProvidersResult {
        let providers = self
            .providers
            .iter()
            .map(|(info, _)| parsec_psa::ops::ProviderInfo {
                uuid: info.uuid.to_string(),
                description: info.description.clone(),
                vendor: info.vendor.clone(),
                version_maj: info.version.0,
                version_min: info.version.1,
                version_rev: info.version.2,
                id: info.id as u8,
            })
            .collect();
        ListProvidersResult { providers }
    }

    fn list_opcodes(&self, provider_id: u8) -> Result<ListOpcodesResult, Status> {
        let (_, opcodes) = self
            .providers
            .iter()
            .find(|(info, _)| info.id as u8 == provider_id)
            .ok_or(Status::ProviderNotRegistered)?;
        Ok(ListOpcodesResult {
            opcodes: listable(opcodes),
        })
    }

    fn list_authenticators(&self) -> ListAuthenticatorsResult {
        let (maj, min, rev) = version();
        let authenticators = self
            .authenticators
            .iter()
            .map(|a| AuthenticatorInfo {
                description: a.description.to_string(),
                version_maj: maj,
                version_min: min,
                version_rev: rev,
                id: a.id as u8,
            })
            .collect();
        ListAuthenticatorsResult { authenticators }
    }

    fn list_keys(&self, app: &AppId, pattern: Option<&str>) -> Result<ListKeysResult, Status> {
        let pattern = pattern
            .map(|p| Pattern::new(p).ok_or(Status::PsaErrorInvalidArgument))
            .transpose()?;
        let Some(store) = &self.store else {
            return Ok(ListKeysResult::default());
        };
        let mut keys = Vec::new();
        for listed in store
            .list(app.auth.store_tag(), &app.name)
            .map_err(store_status)?
        {
            if pattern.as_ref().is_some_and(|p| !p.matches(&listed.name)) {
                continue;
            }
            let attributes = match parsec_psa::decode_key_attributes(&listed.attributes) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(
                        "stored attributes of key `{}` of {} do not decode: {e}",
                        listed.name,
                        app.name
                    );
                    continue;
                }
            };
            keys.push(KeyInfo {
                provider_id: listed.provider,
                name: listed.name,
                attributes,
            });
        }
        Ok(ListKeysResult { keys })
    }

    /// The applications of the admin's authenticator that hold keys, then the remote
    /// (Parsec.1) applications that do, as `parsec1:<session key address>`.
    fn list_clients(&self, admin: &AppId) -> Result<Vec<String>, Status> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let mut clients = store
            .list_clients(admin.auth.store_tag())
            .map_err(store_status)?;
        let remote = store
            .list_clients(AuthKind::Parsec1.store_tag())
            .map_err(store_status)?;
        clients.extend(remote.iter().map(|r| auth::parsec1::listed(r)));
        Ok(clients)
    }

    /// Destroys every key of `client` in every provider: an application of the admin's
    /// authenticator, or a remote one named `parsec1:<session key address>`. Succeeds when it
    /// has none, as upstream.
    fn delete_client(&self, admin: &AppId, client: String) -> Result<(), Status> {
        let target = match auth::parsec1::from_listed(&client) {
            Some(remote) => remote,
            None => AppId {
                auth: admin.auth,
                name: client,
            },
        };
        if let Some(store) = &self.store {
            // Each key through its provider, so a device's key goes with its record.
            let keys = store
                .list(target.auth.store_tag(), &target.name)
                .map_err(store_status)?;
            for key in keys {
                let Some(provider) = self
                    .crypto
                    .iter()
                    .find(|p| p.info().id as u8 == key.provider)
                else {
                    continue;
                };
                let destroy = Operation::PsaDestroyKey(parsec_psa::ops::DestroyKey {
                    key_name: key.name.clone(),
                });
                match provider.execute(Some(&target), destroy) {
                    Ok(_) | Err(Status::PsaErrorDoesNotExist) => {}
                    Err(e) => {
                        tracing::error!(
                            "DeleteClient {}: key `{}` could not be destroyed: {e:?}",
                            target.name,
                            key.name
                        );
                        return Err(e);
                    }
                }
            }
            // What is left belongs to providers no longer configured: only records remain.
            let orphans = store
                .delete_client(target.auth.store_tag(), &target.name)
                .map_err(store_status)?;
            if orphans > 0 {
                tracing::warn!(
                    "DeleteClient {}: removed {orphans} key records of providers not configured; \
                     their devices may still hold the keys",
                    target.name
                );
            }
        }
        for provider in &self.crypto {
            provider.delete_client(&target);
        }
        Ok(())
    }
}

impl Provider for Core {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn opcodes(&self) -> &[Opcode] {
        CORE_OPCODES
    }

    fn execute(&self, app: Option<&AppId>, op: Operation) -> Result<OpResult, Status> {
        let app = || app.ok_or(Status::NotAuthenticated);
        Ok(match op {
            Operation::Ping => OpResult::Ping(PingResult {
                wire_protocol_version_maj: 1,
                wire_protocol_version_min: 0,
            }),
            Operation::ListProviders => OpResult::ListProviders(self.list_providers()),
            Operation::ListOpcodes(op) => OpResult::ListOpcodes(self.list_opcodes(op.provider_id)?),
            Operation::ListAuthenticators => {
                OpResult::ListAuthenticators(self.list_authenticators())
            }
            Operation::ListKeys(op) => {
                OpResult::ListKeys(self.list_keys(app()?, op.pattern.as_deref())?)
            }
            Operation::ListClients => OpResult::ListClients(ListClientsResult {
                clients: self.list_clients(app()?)?,
            }),
            Operation::DeleteClient(op) => {
                self.delete_client(app()?, op.client)?;
                OpResult::DeleteClient
            }
            _ => return Err(Status::PsaErrorNotSupported),
        })
    }
}
