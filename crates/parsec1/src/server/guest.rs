//! The guest commands (spec §5.3), which anyone may send: `info`, `requestSCK`,
//! `registerSCK`, `createTSK` and `getServiceContract`.

use std::net::IpAddr;
use std::sync::Arc;

use parsec_boss::{Time, Value};

use super::pending::{Full, NonceRefused, Pending};
use super::state::{LiveKeys, PendingLimits};
use super::{
    internal, random, sck_address, session_id, session_not_found, sessions, signature_error,
    store_error, RequestInfo, Server, ServiceContract, Session, SessionStore, StoreError,
    MAX_NONCES_PER_SESSION,
};
use crate::message::{self, bin_arg, codes, str_arg, RemoteError};
use crate::{pow, KeyAddress, SignedRecord, SymmetricKey};

impl<S: SessionStore> Server<S> {
    pub(super) fn info(&self, now: u64) -> Value {
        Value::dict([
            (
                "parsecVersions",
                Value::List(
                    ServiceContract::versions(self.service_contract().as_deref())
                        .iter()
                        .map(|v| Value::Text(v.to_string()))
                        .collect(),
                ),
            ),
            (
                "serviceName",
                Value::Text(self.settings.service_name.clone()),
            ),
            (
                "serviceVersion",
                Value::Text(self.settings.service_version.clone()),
            ),
            ("localTime", Value::Time(Time(now))),
            (
                "serviceKeyAddress",
                Value::Text(self.service_address.to_string()),
            ),
        ])
    }

    pub(super) fn request_sck(
        &self,
        args: &Value,
        peer: IpAddr,
        now: u64,
    ) -> Result<Value, RemoteError> {
        let address = sck_address(args)?;
        let test = args
            .get("testMode")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let length = if test {
            self.settings.test_pow_length
        } else {
            self.settings.pow_length
        };
        let source = random::<32>()?;
        let context = random::<16>()?;
        let pending = Pending::new(
            address,
            source,
            length,
            test,
            now.saturating_add(self.settings.pending_lifetime),
            peer,
        );
        let limits = PendingLimits {
            total: self.settings.max_pending,
            per_client: self.settings.max_pending_per_address,
        };
        let kept = self
            .state
            .add_pending(context, pending, limits, now)
            .map_err(store_error)?;
        match kept {
            Ok(()) => {}
            Err(Full::Client) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_REQUESTS,
                    "too many session requests in progress from this address: finish them \
                     (registerSCK) or wait for them to expire",
                ))
            }
            Err(Full::Total) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_REQUESTS,
                    "too many session requests in progress: try again later",
                ))
            }
        }
        let task = Value::dict([
            ("type", Value::Int(1)),
            ("length", Value::Int(length.into())),
            ("source", Value::Bin(source.to_vec())),
            // The KB's names for the same two fields (spec §5.3); clients read the above.
            ("count", Value::Int(length.into())),
            ("salt", Value::Bin(source.to_vec())),
        ]);
        Ok(Value::dict([
            ("context", Value::Bin(context.to_vec())),
            ("POWTask", task),
        ]))
    }

    pub(super) fn register_sck(
        &self,
        args: &Value,
        info: RequestInfo,
    ) -> Result<Value, RemoteError> {
        let now = info.now;
        let unknown = || {
            RemoteError::new(
                codes::UNKNOWN_CONTEXT,
                "unknown, used or expired context: call requestSCK again",
            )
        };
        let context: [u8; 16] = bin_arg(args, "context")?
            .try_into()
            .map_err(|_| unknown())?;
        let record = bin_arg(args, "signedRecord")?;
        // Single use: taken before anything is checked, so a failed attempt cannot be retried.
        let pending = self
            .state
            .take_pending(&context)
            .map_err(store_error)?
            .ok_or_else(unknown)?;
        if pending.expires_at <= now {
            return Err(unknown());
        }
        let record =
            SignedRecord::unpack_with(record, self.guest_limits()).map_err(signature_error)?;
        let key = record.key();
        let address = key.long_address().map_err(signature_error)?;
        if address != pending.address {
            return Err(RemoteError::new(
                codes::BAD_SIGNATURE,
                "the record is not signed by the key named in requestSCK",
            ));
        }
        let solution = bin_arg(record.payload(), "POWResult")?;
        if !pow::check(solution, &pending.source, pending.length) {
            return Err(RemoteError::new(
                codes::BAD_POW,
                format!(
                    "the proof of work does not have {} leading zero bits",
                    pending.length
                ),
            ));
        }
        if !self.registrations.allow(info.peer, info.now_ms) {
            return Err(RemoteError::new(
                codes::TOO_MANY_REQUESTS,
                format!(
                    "this address has registered {} sessions in the last hour: try again later",
                    self.settings.registrations_per_hour
                ),
            ));
        }
        let session = Session {
            id: session_id()?,
            key: key.clone(),
            address,
            test: pending.test,
            created_at: now,
            expires_at: now.saturating_add(self.settings.session_lifetime),
        };
        match self.store.create(
            &session,
            sessions::Limits {
                per_key: self.settings.max_sessions_per_key,
                total: self.settings.max_sessions,
            },
            now,
        ) {
            Ok(()) => {}
            Err(StoreError::TooManySessions(n)) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_SESSIONS,
                    format!("this session key already has {n} sessions"),
                ))
            }
            Err(StoreError::Full(n)) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_SESSIONS,
                    format!("the service holds {n} sessions, the most it keeps: try again later"),
                ))
            }
            Err(e) => return Err(store_error(e)),
        }
        Ok(Value::dict([("sessionId", Value::Text(session.id))]))
    }

    pub(super) fn create_tsk(&self, args: &Value, now: u64) -> Result<Value, RemoteError> {
        let record = SignedRecord::unpack_with(bin_arg(args, "signedRecord")?, self.guest_limits())
            .map_err(signature_error)?;
        let payload = record.payload();
        let session_id = str_arg(payload, "sessionId")?;
        let client_nonce = bin_arg(payload, "clientNonce")?;
        if client_nonce.len() > 1024 {
            return Err(RemoteError::bad_argument(
                "clientNonce",
                "at most 1024 bytes",
            ));
        }
        let session = self
            .store
            .get(session_id, now)
            .map_err(store_error)?
            .ok_or_else(session_not_found)?;
        if record.key() != &session.key {
            return Err(RemoteError::new(
                codes::BAD_SIGNATURE,
                "the record is not signed by this session's key",
            ));
        }
        let known = payload
            .get("knownServiceKeys")
            .and_then(Value::as_list)
            .ok_or_else(|| RemoteError::bad_argument("knownServiceKeys", "a list"))?;
        let ours = known.iter().any(|k| {
            k.as_bytes()
                .and_then(|b| KeyAddress::from_bytes(b).ok())
                .is_some_and(|a| a == self.service_address)
        });
        if !ours {
            return Err(RemoteError::new(
                codes::UNKNOWN_SERVICE_KEY,
                format!(
                    "none of the {} known service keys is this service's key {}",
                    known.len(),
                    self.service_address
                ),
            ));
        }
        let lifetime = if session.test {
            self.settings.test_tsk_lifetime
        } else {
            self.settings.tsk_lifetime
        };
        let expires_at = now.saturating_add(lifetime).min(session.expires_at);
        // The record travels in the clear: without this, anyone who saw it could send it again
        // and replace the session's live TSK with one only the session key can read.
        match self
            .state
            .use_nonce(&session.id, client_nonce, expires_at, now)
            .map_err(store_error)?
        {
            Ok(()) => {}
            Err(NonceRefused::Replayed) => return Err(RemoteError::new(
                codes::REPLAYED_MESSAGE,
                "this createTSK record was already used: sign a new one with a fresh clientNonce",
            )),
            Err(NonceRefused::NoSession) => return Err(session_not_found()),
            Err(NonceRefused::TooMany) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_REQUESTS,
                    format!(
                    "this session has made {MAX_NONCES_PER_SESSION} TSKs within one TSK lifetime"
                ),
                ))
            }
        }
        let tsk = SymmetricKey::random().map_err(internal)?;
        let secret = zeroize::Zeroizing::new(message::encode(&Value::dict([
            ("TSK", Value::Bin(tsk.as_bytes().to_vec())),
            ("TSKExpiresAt", Value::Time(Time(expires_at))),
        ])));
        let encrypted = session.key.encrypt_oaep(&secret).map_err(internal)?;
        let answer = Value::dict([
            ("clientNonce", Value::Bin(client_nonce.to_vec())),
            ("encryptedResult", Value::Bin(encrypted)),
        ]);
        let mut signed = None;
        self.offload(&mut || {
            signed = Some(SignedRecord::pack(
                &self.service_key,
                Some(client_nonce),
                &answer,
            ))
        });
        let signed = signed
            .ok_or_else(|| internal("signing did not run"))?
            .map_err(internal)?;
        let keys = Arc::new(LiveKeys {
            id: random::<16>()?,
            tsk,
            address_text: session.address.to_string(),
            address: session.address,
            test: session.test,
        });
        if !self
            .state
            .set_tsk(&session.id, keys, expires_at, session.expires_at)
            .map_err(store_error)?
        {
            return Err(session_not_found());
        }
        Ok(Value::dict([("signedEncryptedResult", Value::Bin(signed))]))
    }

    pub(super) fn get_service_contract(&self, args: &Value) -> Result<Value, RemoteError> {
        let Some(contract) = self.service_contract() else {
            return Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                "this service has no service contract (Parsec 1.1 only)",
            ));
        };
        let known = args.get("knownHashId");
        let known = known
            .and_then(Value::as_str)
            .and_then(crate::hash_id::from_base64)
            .or_else(|| known.and_then(Value::as_bytes).map(<[u8]>::to_vec));
        if known.as_deref() == Some(&contract.hash_id[..]) {
            return Ok(Value::dict::<&str>([]));
        }
        Ok(Value::dict([(
            "serviceContract",
            Value::Bin(contract.bytes.clone()),
        )]))
    }
}
