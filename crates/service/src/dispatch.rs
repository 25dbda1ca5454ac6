//! The dispatcher: from a framed request to its response, with upstream's checks in
//! upstream's order (spec "Order of request checks").
//!
//! The rules that differ per operation (core or crypto, admin only, identity needed) come from
//! one table, [`parsec_wire::Opcode`]; what a provider serves comes from its declaration.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use parsec_psa::{DecodeError, OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, RawHeader, RequestHeader, Response, ResponseHeader, Status};

use crate::auth::{AppId, Authenticators, Peer};
use crate::config::Config;
use crate::providers::{Provider, Providers};

/// The limits a front end applies to one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_len: usize,
    pub timeout: Duration,
}

/// One configuration's worth of dispatching: authenticators, providers (crypto providers in
/// config order, core last) and limits. Rebuilt whole on reload.
pub struct Dispatcher {
    auth: Authenticators,
    providers: Providers,
    limits: Limits,
    buffer_size_limit: usize,
}

impl Dispatcher {
    /// Dispatches to `providers` (opened by [`Providers::open`] for the same `config`), with
    /// `auth` authenticating requests.
    pub fn new(config: &Config, auth: Authenticators, providers: Providers) -> Dispatcher {
        Dispatcher {
            auth,
            providers,
            limits: Limits {
                body_len: config.core.body_len_limit,
                timeout: config.listener.timeout,
            },
            buffer_size_limit: config.core.buffer_size_limit,
        }
    }

    /// The providers dispatched to, for a rebuild that keeps their devices open.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn authenticators(&self) -> &Authenticators {
        &self.auth
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
        self.providers.all().iter().any(|p| p.blocks(opcode))
    }

    fn provider(&self, id: ProviderId) -> Option<&Arc<dyn Provider>> {
        self.providers.get(id)
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

impl Dispatcher {
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
                    .all()
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

/// The dispatcher in force, swapped whole on reload. Requests in flight keep the snapshot they
/// started with.
pub struct Current {
    current: RwLock<Arc<Dispatcher>>,
}

impl Current {
    pub fn new(dispatcher: Dispatcher) -> Current {
        Current {
            current: RwLock::new(Arc::new(dispatcher)),
        }
    }

    /// The dispatcher for the next request.
    pub fn get(&self) -> Arc<Dispatcher> {
        // A poisoned lock only means a panic elsewhere while swapping: the Arc is still whole.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the dispatcher for all later requests.
    pub fn replace(&self, dispatcher: Dispatcher) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(dispatcher);
    }
}
