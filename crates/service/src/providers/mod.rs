//! Providers: where operations are carried out.
//!
//! A provider declares what it is ([`ProviderInfo`]) and which operations it serves
//! ([`Provider::opcodes`]); ListProviders and ListOpcodes are derived from those declarations,
//! and the dispatcher refuses an operation a provider does not declare.

pub(crate) mod cache;
pub mod core;
pub mod hardware;
pub mod oaep;
pub mod pkcs11;
pub(crate) mod policy;
pub mod software;
#[cfg(feature = "tpm")]
pub mod tpm;

use parsec_psa::{OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, Status};

use crate::auth::AppId;

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
}
