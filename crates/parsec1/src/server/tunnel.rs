//! The encrypted tunnel (`cmd`, spec §5.3): a session's commands under its TSK, with the
//! replay set, and the session commands of the protocol itself.

use parsec_boss::{Time, Value};
use zeroize::Zeroizing;

use super::state::{LiveTsk, Remembered};
use super::{
    internal, missing_tsk, session_not_found, store_error, too_large, too_many_requests, Caller,
    RequestInfo, Server, SessionStore,
};
use crate::eta;
use crate::message::{self, bin_arg, codes, str_arg, RemoteError};

/// What a client reads as "this TSK is not the one the service has": it then makes a new one.
fn hmac_error() -> RemoteError {
    RemoteError::new(
        codes::UNKNOWN_EXCEPTION,
        "HMAC authentication failed, data corrupted",
    )
}

impl<S: SessionStore> Server<S> {
    /// `cmd`: the encrypted tunnel (spec §5.3). Tunnel errors go in the plain answer; the
    /// command's own answer travels encrypted.
    pub(super) fn tunnel(&self, args: &Value, info: RequestInfo) -> Result<Value, RemoteError> {
        let now = info.now;
        let session_id = str_arg(args, "authToken")?;
        let params = bin_arg(args, "params")?;
        // A TSK this node knows saves reading it: `remember` below checks that it is still the
        // session's live TSK before anything runs.
        let (mut live, mut fresh) = match self.state.cached_tsk(session_id) {
            Some(live) => (live, false),
            None => (self.live_tsk(session_id, info)?, true),
        };
        let plain = loop {
            self.check_live(session_id, &live, now)?;
            // The command in the clear: key material or a plaintext, wiped when dropped.
            match live.keys.tsk.decrypt(params) {
                Ok(plain) => break Zeroizing::new(plain),
                // Perhaps a TSK made since, through another node: the live one is read.
                Err(_) if !fresh => {
                    let read = self.live_tsk(session_id, info)?;
                    fresh = true;
                    if read.keys.id == live.keys.id {
                        return Err(hmac_error());
                    }
                    live = read;
                }
                Err(_) => return Err(hmac_error()),
            }
        };
        let keys = live.keys;
        let max_seen = self.settings.max_messages_per_tsk.saturating_mul(2);
        // Only authenticated messages enter the replay set, so nobody without the TSK can fill
        // it. The EtA tag does not cover the IV (spec §4.7): a captured message resent with
        // another IV still authenticates, so the tag is remembered as well.
        let iv = *eta::iv_of(params).ok_or_else(|| internal("short ciphertext"))?;
        let tag: [u8; 16] = params[params.len() - eta::TAG_LEN..][..16]
            .try_into()
            .map_err(internal)?;
        match self
            .state
            .remember(session_id, &keys, iv, tag, max_seen)
            .map_err(store_error)?
        {
            Remembered::Fresh => {}
            Remembered::Replayed => {
                return Err(RemoteError::new(
                    codes::REPLAYED_MESSAGE,
                    "this message was already received in this session",
                ))
            }
            // Filled by messages read at the same time: this TSK is done.
            Remembered::Full => {
                self.state
                    .drop_tsk_if(session_id, &keys)
                    .map_err(store_error)?;
                return Err(missing_tsk());
            }
            // Dropped or replaced while this message was being read, or the session is gone
            // (read again to tell which).
            Remembered::Gone => {
                return Err(match self.live_tsk(session_id, info) {
                    Ok(_) => missing_tsk(),
                    Err(e) => e,
                })
            }
        }
        let caller = Caller {
            session_id,
            address: &keys.address,
            address_text: &keys.address_text,
            test: keys.test,
        };
        // The answer in the clear may carry exported keys or plaintexts: wiped once encrypted.
        let mut answer = self.session_command(&caller, &plain, now);
        let mut bytes = Zeroizing::new(message::encode_answer(&answer));
        if let Ok(value) = &mut answer {
            zeroize::Zeroize::zeroize(value);
        }
        if bytes.len() + eta::OVERHEAD > self.settings.max_message_size {
            bytes = Zeroizing::new(message::encode_answer(&Err(too_large(
                "answer",
                bytes.len(),
            ))));
        }
        let encrypted = keys.tsk.encrypt(&bytes).map_err(internal)?;
        Ok(Value::dict([("result", Value::Bin(encrypted))]))
    }

    /// The session's live TSK as the state has it; the error to answer when there is none.
    fn live_tsk(&self, session_id: &str, info: RequestInfo) -> Result<LiveTsk, RemoteError> {
        if let Some(live) = self.state.tsk(session_id).map_err(store_error)? {
            return Ok(live);
        }
        // No TSK: tell apart a session without one from no session. That reads the store, so
        // it counts as a guest request (a made-up authToken costs the sender nothing).
        if !self.limiter.allow(info.peer, info.now_ms) {
            return Err(too_many_requests());
        }
        match self.store.get(session_id, info.now).map_err(store_error)? {
            Some(_) => Err(missing_tsk()),
            None => Err(session_not_found()),
        }
    }

    /// Refuses a TSK or session expired at `now` (dropping the TSK), or a TSK whose replay
    /// set is full.
    fn check_live(&self, session_id: &str, live: &LiveTsk, now: u64) -> Result<(), RemoteError> {
        if live.session_expires_at <= now {
            self.state
                .drop_tsk_if(session_id, &live.keys)
                .map_err(store_error)?;
            return Err(session_not_found());
        }
        let max_seen = self.settings.max_messages_per_tsk.saturating_mul(2);
        if live.tsk_expires_at <= now || live.seen >= max_seen {
            self.state
                .drop_tsk_if(session_id, &live.keys)
                .map_err(store_error)?;
            return Err(missing_tsk());
        }
        Ok(())
    }

    fn session_command(
        &self,
        caller: &Caller<'_>,
        plain: &[u8],
        now: u64,
    ) -> Result<Value, RemoteError> {
        let session_id = caller.session_id;
        let call = parsec_boss::decode_with(plain, self.session_limits(plain.len()))
            .map_err(|e| RemoteError::new(codes::BAD_REQUEST, format!("not a BOSS call: {e}")))?;
        let (cmd, args) = message::decode_call(call)?;
        match cmd.as_str() {
            "getSessionInfo" => {
                let session = self
                    .store
                    .get(session_id, now)
                    .map_err(store_error)?
                    .ok_or_else(session_not_found)?;
                Ok(Value::dict([
                    ("expiresAt", Value::Time(Time(session.expires_at))),
                    ("isTest", Value::Bool(session.test)),
                    ("SCKAddress", Value::Text(session.address.to_string())),
                ]))
            }
            // The seed authors' services offer these two; their client makes a new TSK by
            // itself on the next call. The answer still travels under the dropped TSK.
            "logout" => {
                self.state.drop_tsk(session_id).map_err(store_error)?;
                Ok(Value::dict::<&str>([]))
            }
            "sessionDropTSK" if caller.test => {
                self.state.drop_tsk(session_id).map_err(store_error)?;
                Ok(Value::dict::<&str>([]))
            }
            "sessionDropTSK" => Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                "`sessionDropTSK` is offered to test-mode sessions only",
            )),
            "destroySession" => {
                self.state.forget_session(session_id).map_err(store_error)?;
                self.store.delete(session_id).map_err(store_error)?;
                Ok(Value::dict::<&str>([]))
            }
            _ if self.commands.is_heavy(&cmd) => {
                let mut answer = None;
                let mut args = Some(args);
                self.offload(&mut || {
                    if let Some(args) = args.take() {
                        answer = Some(self.commands.call(caller, &cmd, args));
                    }
                });
                answer.unwrap_or_else(|| Err(internal("the command did not run")))
            }
            _ => self.commands.call(caller, &cmd, args),
        }
    }
}
