//! The token: its library (loaded once per process), the slot chosen from the config, the
//! login, and a pool of sessions so no request logs in or opens a session.
//!
//! Start-up errors name what is wrong and what to check: the library file, the token
//! (listing those present), the PIN, the permissions of the user the service runs as (upstream
//! issues parsec#611, #730).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::{MechanismInfo, MechanismType};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use parsec_wire::Status;

use crate::config::Pkcs11Config;

/// Sessions kept open for reuse at most; more are opened under load and closed after use.
const POOL_SIZE: usize = 32;

/// The process's handle on each PKCS#11 library. `C_Initialize` may run once per process
/// and `C_Finalize` would end every session, so a library stays loaded until exit, shared by
/// the provider instances of successive configurations.
fn library(path: &Path) -> anyhow::Result<Pkcs11> {
    static LIBRARIES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut libraries = LIBRARIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(lib) = libraries.get(path) {
        return Ok(lib.clone());
    }
    match std::fs::metadata(path) {
        Err(e) => anyhow::bail!(
            "cannot read the PKCS#11 library `{}` ({e}): check `library_path` and that user {} may read it",
            path.display(),
            rustix::process::geteuid().as_raw()
        ),
        Ok(meta) if !meta.is_file() => {
            anyhow::bail!("the PKCS#11 library `{}` is not a file", path.display())
        }
        Ok(_) => {}
    }
    let lib = Pkcs11::new(path).map_err(|e| {
        anyhow::anyhow!("cannot load `{}` as a PKCS#11 library: {e}", path.display())
    })?;
    match lib.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => anyhow::bail!(
            "the PKCS#11 library `{}` failed to initialise ({e}). Its own configuration may be \
             unreadable by user {}: for SoftHSM2, the file SOFTHSM2_CONF names (default \
             /etc/softhsm/softhsm2.conf) and its `directories.tokendir`",
            path.display(),
            rustix::process::geteuid().as_raw()
        ),
    }
    libraries.insert(path.to_path_buf(), lib.clone());
    Ok(lib)
}

/// One token, logged in, with its sessions.
pub struct Token {
    lib: Pkcs11,
    slot: Slot,
    /// Keeps the login: a token logs an application out when its last session closes.
    _anchor: Mutex<Session>,
    pool: Mutex<Vec<Session>>,
    /// The token's mechanisms and their key size ranges.
    mechanisms: HashMap<u64, MechanismInfo>,
    /// What the token is, for messages.
    pub description: String,
    /// Names the token: a digest of its manufacturer, model and serial number.
    pub identity: [u8; 32],
}

fn describe(lib: &Pkcs11, slot: Slot) -> String {
    match lib.get_token_info(slot) {
        Ok(t) => format!(
            "slot {} (label \"{}\", serial number \"{}\", {} {})",
            slot.id(),
            t.label().trim_end(),
            t.serial_number().trim_end(),
            t.manufacturer_id().trim_end(),
            t.model().trim_end()
        ),
        Err(e) => format!("slot {} (no token information: {e})", slot.id()),
    }
}

/// The digest naming the token of `slot` (see [`Token::identity`]): its manufacturer, model
/// and serial number, which no one changes (a label may be).
fn identity(lib: &Pkcs11, slot: Slot) -> anyhow::Result<[u8; 32]> {
    let t = lib
        .get_token_info(slot)
        .map_err(|e| anyhow::anyhow!("cannot read the token's information: {e}"))?;
    Ok(crate::providers::hardware::device_identity(
        "pkcs11",
        &[
            t.manufacturer_id().trim_end().as_bytes(),
            t.model().trim_end().as_bytes(),
            t.serial_number().trim_end().as_bytes(),
        ],
    ))
}

/// The slot whose token matches every selector the config sets (the first token if none).
fn choose_slot(lib: &Pkcs11, config: &Pkcs11Config) -> anyhow::Result<Slot> {
    let slots = lib
        .get_slots_with_initialized_token()
        .map_err(|e| anyhow::anyhow!("cannot list the PKCS#11 slots: {e}"))?;
    let present = || {
        if slots.is_empty() {
            "none (initialise one, e.g. `softhsm2-util --init-token --free --label <label>`)"
                .to_string()
        } else {
            slots
                .iter()
                .map(|s| describe(lib, *s))
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let matches = |slot: &Slot| -> bool {
        let Ok(info) = lib.get_token_info(*slot) else {
            return false;
        };
        config.slot_number.is_none_or(|n| slot.id() == n)
            && config
                .serial_number
                .as_deref()
                .is_none_or(|s| info.serial_number().trim_end() == s)
            && config
                .token_label
                .as_deref()
                .is_none_or(|l| info.label().trim_end() == l)
    };
    let chosen: Vec<Slot> = slots.iter().copied().filter(matches).collect();
    match chosen.as_slice() {
        [] => {
            let mut wanted = Vec::new();
            if let Some(n) = config.slot_number {
                wanted.push(format!("slot_number = {n}"));
            }
            if let Some(s) = &config.serial_number {
                wanted.push(format!("serial_number = \"{s}\""));
            }
            if let Some(l) = &config.token_label {
                wanted.push(format!("token_label = \"{l}\""));
            }
            anyhow::bail!(
                "no initialised token matches {}; tokens present: {}",
                if wanted.is_empty() {
                    "(any)".into()
                } else {
                    wanted.join(", ")
                },
                present()
            )
        }
        [one] => Ok(*one),
        [first, ..] => {
            tracing::warn!(
                "several tokens match the PKCS#11 provider's settings; using {}. Set \
                 `serial_number` or `token_label` to choose. Present: {}",
                describe(lib, *first),
                present()
            );
            Ok(*first)
        }
    }
}

fn login(session: &Session, pin: &[u8], token: &str) -> anyhow::Result<()> {
    let pin = RawAuthPin::new(Box::new(pin.to_vec()));
    match session.login_with_raw(UserType::User, &pin) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(Error::Pkcs11(RvError::PinIncorrect, _)) => {
            anyhow::bail!("the user PIN of {token} is incorrect: check `user_pin`")
        }
        Err(Error::Pkcs11(RvError::PinLocked, _)) => anyhow::bail!(
            "the user PIN of {token} is locked after too many wrong attempts: the token's \
             security officer must unlock it"
        ),
        Err(Error::Pkcs11(RvError::UserPinNotInitialized, _)) => anyhow::bail!(
            "{token} has no user PIN yet: set one (e.g. `softhsm2-util --init-token` sets both)"
        ),
        Err(e) => anyhow::bail!("cannot log in to {token}: {e}"),
    }
}

impl Token {
    /// Loads the library, finds the token and logs in.
    pub fn open(config: &Pkcs11Config) -> anyhow::Result<Token> {
        let lib = library(&config.library_path)?;
        let slot = choose_slot(&lib, config)?;
        let description = describe(&lib, slot);
        let anchor = lib.open_rw_session(slot).map_err(|e| match e {
            Error::Pkcs11(RvError::TokenWriteProtected, _) => {
                anyhow::anyhow!("{description} is write-protected: keys cannot be created on it")
            }
            e => anyhow::anyhow!(
                "cannot open a session on {description}: {e}. For SoftHSM2, user {} needs \
                 read and write access to the token directory",
                rustix::process::geteuid().as_raw()
            ),
        })?;
        match &config.user_pin {
            Some(pin) => login(&anchor, pin.expose(), &description)?,
            None => tracing::warn!(
                "no `user_pin` for {description}: only keys that need no login can be used"
            ),
        }
        let mut mechanisms = HashMap::new();
        for m in lib
            .get_mechanism_list(slot)
            .map_err(|e| anyhow::anyhow!("cannot list the mechanisms of {description}: {e}"))?
        {
            if let Ok(info) = lib.get_mechanism_info(slot, m) {
                mechanisms.insert(u64::from(m), info);
            }
        }
        let identity = identity(&lib, slot)?;
        Ok(Token {
            lib,
            slot,
            _anchor: Mutex::new(anchor),
            pool: Mutex::new(Vec::new()),
            mechanisms,
            identity,
            description,
        })
    }

    /// The token's information about `mechanism`, if it has it.
    pub fn mechanism(&self, mechanism: MechanismType) -> Option<&MechanismInfo> {
        self.mechanisms.get(&u64::from(mechanism))
    }

    /// Runs `f` with a session from the pool (opened if none is free). A session that failed in
    /// a way that may have broken it is closed instead of returned.
    pub fn with_session<T>(
        &self,
        f: impl FnOnce(&Session) -> Result<T, Error>,
    ) -> Result<T, Status> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let session = match pooled {
            Some(s) => s,
            None => self.lib.open_rw_session(self.slot).map_err(|e| {
                tracing::error!("cannot open a session on {}: {e}", self.description);
                status(&e)
            })?,
        };
        let result = f(&session);
        let broken = matches!(
            &result,
            Err(Error::Pkcs11(
                RvError::SessionClosed
                    | RvError::SessionHandleInvalid
                    | RvError::DeviceRemoved
                    | RvError::TokenNotPresent
                    | RvError::DeviceError
                    | RvError::OperationActive,
                _
            ))
        );
        if !broken {
            let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOL_SIZE {
                pool.push(session);
            }
        }
        result.map_err(|e| {
            let status = status(&e);
            if matches!(
                status,
                Status::PsaErrorHardwareFailure
                    | Status::PsaErrorCommunicationFailure
                    | Status::PsaErrorGenericError
                    | Status::PsaErrorNotPermitted
                    | Status::PsaErrorDataCorrupt
            ) {
                tracing::error!("{}: {e}", self.description);
            } else {
                tracing::debug!("{}: {e}", self.description);
            }
            status
        })
    }
}

/// The status a token error is reported with.
pub fn status(e: &Error) -> Status {
    let Error::Pkcs11(rv, _) = e else {
        return Status::PsaErrorGenericError;
    };
    use RvError as R;
    match rv {
        R::HostMemory | R::DeviceMemory => Status::PsaErrorInsufficientMemory,
        R::DataInvalid
        | R::DataLenRange
        | R::ArgumentsBad
        | R::KeySizeRange
        | R::PublicKeyInvalid => Status::PsaErrorInvalidArgument,
        R::EncryptedDataInvalid | R::EncryptedDataLenRange => Status::PsaErrorInvalidPadding,
        R::SignatureInvalid | R::SignatureLenRange => Status::PsaErrorInvalidSignature,
        R::MechanismInvalid
        | R::MechanismParamInvalid
        | R::CurveNotSupported
        | R::FunctionNotSupported => Status::PsaErrorNotSupported,
        R::KeyFunctionNotPermitted
        | R::KeyTypeInconsistent
        | R::UserNotLoggedIn
        | R::PinExpired
        | R::PinLocked
        | R::TokenWriteProtected
        | R::ActionProhibited => Status::PsaErrorNotPermitted,
        R::KeyHandleInvalid | R::ObjectHandleInvalid => Status::PsaErrorDataCorrupt,
        R::DeviceError | R::DeviceRemoved | R::TokenNotPresent | R::TokenNotRecognized => {
            Status::PsaErrorHardwareFailure
        }
        R::BufferTooSmall => Status::PsaErrorBufferTooSmall,
        R::RandomNoRng => Status::PsaErrorInsufficientEntropy,
        _ => Status::PsaErrorGenericError,
    }
}
