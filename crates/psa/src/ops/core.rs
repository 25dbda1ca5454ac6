//! The core provider's operations: discovery and administration.

use parsec_wire::Opcode;

use super::Contract;
use crate::error::{invalid, required, DecodeError};
use crate::proto;
use crate::types::KeyAttributes;

fn small_id(value: u32, what: &'static str) -> Result<u8, DecodeError> {
    u8::try_from(value).or(invalid(what))
}

/// Ping's answer: the highest wire protocol version supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingResult {
    pub wire_protocol_version_maj: u8,
    pub wire_protocol_version_min: u8,
}

impl Contract for PingResult {
    type Proto = proto::ping::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(PingResult {
            wire_protocol_version_maj: small_id(p.wire_protocol_version_maj, "version > 255")?,
            wire_protocol_version_min: small_id(p.wire_protocol_version_min, "version > 255")?,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::ping::Result {
            wire_protocol_version_maj: self.wire_protocol_version_maj.into(),
            wire_protocol_version_min: self.wire_protocol_version_min.into(),
        }
    }
}

/// One provider, as ListProviders describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The provider's UUID in its hyphenated text form (clients parse it).
    pub uuid: String,
    pub description: String,
    pub vendor: String,
    pub version_maj: u32,
    pub version_min: u32,
    pub version_rev: u32,
    pub id: u8,
}

/// ListProviders' answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListProvidersResult {
    pub providers: Vec<ProviderInfo>,
}

impl Contract for ListProvidersResult {
    type Proto = proto::list_providers::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        let providers = p
            .providers
            .into_iter()
            .map(|info| {
                Ok(ProviderInfo {
                    uuid: info.uuid,
                    description: info.description,
                    vendor: info.vendor,
                    version_maj: info.version_maj,
                    version_min: info.version_min,
                    version_rev: info.version_rev,
                    id: small_id(info.id, "provider id > 255")?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(ListProvidersResult { providers })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_providers::Result {
            providers: self
                .providers
                .iter()
                .map(|info| proto::list_providers::ProviderInfo {
                    uuid: info.uuid.clone(),
                    description: info.description.clone(),
                    vendor: info.vendor.clone(),
                    version_maj: info.version_maj,
                    version_min: info.version_min,
                    version_rev: info.version_rev,
                    id: info.id.into(),
                })
                .collect(),
        }
    }
}

/// ListOpcodes: the opcodes of one provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListOpcodes {
    pub provider_id: u8,
}

impl Contract for ListOpcodes {
    type Proto = proto::list_opcodes::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(ListOpcodes {
            provider_id: small_id(p.provider_id, "provider id > 255")?,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_opcodes::Operation {
            provider_id: self.provider_id.into(),
        }
    }
}

/// ListOpcodes' answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOpcodesResult {
    pub opcodes: Vec<Opcode>,
}

impl Contract for ListOpcodesResult {
    type Proto = proto::list_opcodes::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        let opcodes = p
            .opcodes
            .into_iter()
            .map(|op| Opcode::from_u32(op).ok_or(DecodeError::InvalidEncoding("unknown opcode")))
            .collect::<Result<_, _>>()?;
        Ok(ListOpcodesResult { opcodes })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_opcodes::Result {
            opcodes: self.opcodes.iter().map(|op| op.to_u32()).collect(),
        }
    }
}

/// One authenticator, as ListAuthenticators describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatorInfo {
    pub description: String,
    pub version_maj: u32,
    pub version_min: u32,
    pub version_rev: u32,
    /// The auth type of the wire header (0..=4 upstream).
    pub id: u8,
}

/// ListAuthenticators' answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListAuthenticatorsResult {
    pub authenticators: Vec<AuthenticatorInfo>,
}

impl Contract for ListAuthenticatorsResult {
    type Proto = proto::list_authenticators::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        let authenticators = p
            .authenticators
            .into_iter()
            .map(|info| {
                Ok(AuthenticatorInfo {
                    description: info.description,
                    version_maj: info.version_maj,
                    version_min: info.version_min,
                    version_rev: info.version_rev,
                    id: small_id(info.id, "authenticator id > 255")?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(ListAuthenticatorsResult { authenticators })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_authenticators::Result {
            authenticators: self
                .authenticators
                .iter()
                .map(|info| proto::list_authenticators::AuthenticatorInfo {
                    description: info.description.clone(),
                    version_maj: info.version_maj,
                    version_min: info.version_min,
                    version_rev: info.version_rev,
                    id: info.id.into(),
                })
                .collect(),
        }
    }
}

/// ListKeys: the keys of the calling application, optionally only those whose name matches a
/// glob pattern (this service's extension; see [`proto::list_keys::Operation`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListKeys {
    pub pattern: Option<String>,
}

impl Contract for ListKeys {
    type Proto = proto::list_keys::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(ListKeys {
            pattern: Some(p.pattern).filter(|p| !p.is_empty()),
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_keys::Operation {
            pattern: self.pattern.clone().unwrap_or_default(),
        }
    }
}

/// One key, as ListKeys describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub provider_id: u8,
    pub name: String,
    pub attributes: KeyAttributes,
}

/// ListKeys' answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListKeysResult {
    pub keys: Vec<KeyInfo>,
}

impl Contract for ListKeysResult {
    type Proto = proto::list_keys::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        let keys = p
            .keys
            .into_iter()
            .map(|info| {
                Ok(KeyInfo {
                    provider_id: small_id(info.provider_id, "provider id > 255")?,
                    name: info.name,
                    attributes: required(info.attributes, "key info without attributes")?
                        .try_into()?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(ListKeysResult { keys })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_keys::Result {
            keys: self
                .keys
                .iter()
                .map(|info| proto::list_keys::KeyInfo {
                    provider_id: info.provider_id.into(),
                    name: info.name.clone(),
                    attributes: Some(info.attributes.into()),
                })
                .collect(),
        }
    }
}

/// ListClients' answer: the applications that own keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListClientsResult {
    pub clients: Vec<String>,
}

impl Contract for ListClientsResult {
    type Proto = proto::list_clients::Result;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(ListClientsResult { clients: p.clients })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::list_clients::Result {
            clients: self.clients.clone(),
        }
    }
}

/// DeleteClient: remove an application and all its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteClient {
    pub client: String,
}

impl Contract for DeleteClient {
    type Proto = proto::delete_client::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(DeleteClient { client: p.client })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::delete_client::Operation {
            client: self.client.clone(),
        }
    }
}
