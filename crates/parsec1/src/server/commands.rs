//! Application commands: what a session's `cmd` tunnel carries besides the protocol's own
//! `getSessionInfo`, `destroySession`, `logout` and `sessionDropTSK`.
//!
//! An application registers each command once, with typed arguments and result (serde through
//! BOSS), or as a raw handler over [`Value`]s. Its errors reach the caller as remote exceptions
//! `{code, text}`.

use std::collections::HashMap;

use parsec_boss::Value;
use serde::{de::DeserializeOwned, Serialize};

use crate::message::{codes, RemoteError};
use crate::KeyAddress;

/// Who is calling: the session and its key.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub session_id: &'a str,
    /// The long address of the session's SCK: the remote application's identity.
    pub address: &'a KeyAddress,
    /// The same address in Safe58 (computed once per TSK: the conversion is quadratic).
    pub address_text: &'a str,
    /// The session was made in test mode.
    pub test: bool,
}

type HandlerFn = dyn Fn(&Caller<'_>, Value) -> Result<Value, RemoteError> + Send + Sync;

struct Handler {
    run: Box<HandlerFn>,
    heavy: bool,
}

/// The commands a server offers inside sessions.
#[derive(Default)]
pub struct Commands {
    handlers: HashMap<String, Handler>,
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.handlers.keys().collect();
        names.sort();
        f.debug_struct("Commands").field("names", &names).finish()
    }
}

impl Commands {
    pub fn new() -> Commands {
        Commands::default()
    }

    /// Registers a command with typed arguments and result. Arguments that do not fit `A`
    /// answer `parsec_bad_arguments`, naming the problem.
    ///
    /// # Panics
    /// If `name` is already registered or is one of the protocol's session commands: both are
    /// programming errors found at start-up.
    pub fn register<A, R, F>(&mut self, name: &str, handler: F)
    where
        A: DeserializeOwned,
        R: Serialize,
        F: Fn(&Caller<'_>, A) -> Result<R, RemoteError> + Send + Sync + 'static,
    {
        self.register_raw(name, move |caller, args| {
            let args: A = parsec_boss::from_value(&args)
                .map_err(|e| RemoteError::new(codes::BAD_ARGUMENTS, e.to_string()))?;
            let result = handler(caller, args)?;
            parsec_boss::to_value(&result).map_err(|e| {
                RemoteError::new(codes::INTERNAL, format!("result cannot be encoded: {e}"))
            })
        });
    }

    /// Registers a command over raw values.
    ///
    /// # Panics
    /// As [`Commands::register`].
    pub fn register_raw<F>(&mut self, name: &str, handler: F)
    where
        F: Fn(&Caller<'_>, Value) -> Result<Value, RemoteError> + Send + Sync + 'static,
    {
        self.register_raw_with(name, false, handler);
    }

    /// Registers a command over raw values; a `heavy` one (seconds of CPU, such as RSA key
    /// generation) runs through the server's offload hook (see `Server::set_offload`).
    ///
    /// # Panics
    /// As [`Commands::register`].
    pub fn register_raw_with<F>(&mut self, name: &str, heavy: bool, handler: F)
    where
        F: Fn(&Caller<'_>, Value) -> Result<Value, RemoteError> + Send + Sync + 'static,
    {
        assert!(
            !matches!(
                name,
                "getSessionInfo" | "destroySession" | "logout" | "sessionDropTSK"
            ),
            "`{name}` is a protocol command"
        );
        let previous = self.handlers.insert(
            name.to_string(),
            Handler {
                run: Box::new(handler),
                heavy,
            },
        );
        assert!(previous.is_none(), "command `{name}` registered twice");
    }

    /// Whether a command of this name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// Whether the command was registered as heavy.
    pub fn is_heavy(&self, name: &str) -> bool {
        self.handlers.get(name).is_some_and(|h| h.heavy)
    }

    /// Runs a command.
    pub fn call(&self, caller: &Caller<'_>, name: &str, args: Value) -> Result<Value, RemoteError> {
        match self.handlers.get(name) {
            Some(handler) => (handler.run)(caller, args),
            None => Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                format!("unknown command `{name}`"),
            )),
        }
    }
}
