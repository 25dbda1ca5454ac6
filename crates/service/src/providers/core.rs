//! The core provider (id 0): discovery and administration.

use std::sync::Arc;

use parsec_psa::ops::{
    AuthenticatorInfo, KeyInfo, ListAuthenticatorsResult, ListClientsResult, ListKeysResult,
    ListOpcodesResult, ListProvidersResult, PingResult,
};
use parsec_psa::{OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, Status};

use super::{Provider, ProviderInfo};
use crate::auth::{self, AppId};
use crate::dispatch::listable;
use crate::keys::KeyIndex;

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
    keys: Arc<dyn KeyIndex>,
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
        keys: Arc<dyn KeyIndex>,
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
            keys,
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

    fn list_keys(&self, app: &AppId) -> Result<ListKeysResult, Status> {
        let keys = self
            .keys
            .list_keys(app)?
            .into_iter()
            .map(|k| KeyInfo {
                provider_id: k.provider as u8,
                name: k.name,
                attributes: k.attributes,
            })
            .collect();
        Ok(ListKeysResult { keys })
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
            Operation::ListKeys(_) => OpResult::ListKeys(self.list_keys(app()?)?),
            Operation::ListClients => {
                let clients = self.keys.list_clients(app()?.auth)?;
                OpResult::ListClients(ListClientsResult { clients })
            }
            Operation::DeleteClient(op) => {
                let target = AppId {
                    auth: app()?.auth,
                    name: op.client,
                };
                self.keys.delete_client(&target)?;
                OpResult::DeleteClient
            }
            _ => return Err(Status::PsaErrorNotSupported),
        })
    }
}
