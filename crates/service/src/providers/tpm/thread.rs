//! The thread that owns the ESAPI context (which is not thread-safe): starting it, what it
//! keeps (the storage key, the keys left loaded), the sizes it was found to take, and running
//! the backend's jobs on it.

use std::str::FromStr;
use std::sync::mpsc;

use parsec_psa::EccFamily;
use parsec_wire::Status;
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Auth, EccScheme, HashScheme, PublicEccParametersBuilder, PublicParameters,
    PublicRsaParametersBuilder, RsaExponent, RsaScheme, SymmetricCipherParameters,
    SymmetricDefinitionObject,
};
use tss_esapi::utils::TpmsContext;
use tss_esapi::{Context, TctiNameConf};

use super::templates::{curve, rsa_key_bits, storage_key_template};
use super::{tpm_error, TpmBackend, TpmKey};
use crate::config::TpmConfig;

/// What the TPM thread owns.
pub(super) struct State {
    pub(super) context: Context,
    pub(super) primary: KeyHandle,
    /// Names this TPM's owner hierarchy: a digest of the storage key's public area, which
    /// the hierarchy's seed determines (another TPM, or this one cleared, has another).
    pub(super) identity: [u8; 32],
    /// Keys left loaded, most recently used first: a key used again needs no TPM2_Load. At
    /// most [`LOADED_KEYS`]; a TPM's object slots are few (swtpm: 3, one for the storage key).
    /// Found by the whole key (public area, private blob, auth value): records from
    /// upstream's store may share a private blob with another public area or auth value.
    loaded: Vec<(TpmKey, KeyHandle)>,
    /// Upstream's storage key, saved out of the TPM once made (it is loaded only to load one
    /// of its keys).
    upstream_parent: Option<TpmsContext>,
}

/// Keys kept loaded in the TPM between operations.
const LOADED_KEYS: usize = 2;

impl State {
    /// The handle of `key`, loading it (and unloading the least recently used) if needed.
    pub(super) fn handle(&mut self, key: &TpmKey) -> Result<KeyHandle, Status> {
        if let Some(i) = self.loaded.iter().position(|(k, _)| k == key) {
            let entry = self.loaded.remove(i);
            let handle = entry.1;
            self.loaded.insert(0, entry);
            return Ok(handle);
        }
        // A key taken over from upstream needs a slot for upstream's storage key too.
        let keep = LOADED_KEYS - usize::from(key.upstream_auth.is_some());
        while self.loaded.len() >= keep {
            self.unload_last();
        }
        let handle = self
            .with_room(|state| state.load(key))
            .map_err(tpm_error("loading a key"))?;
        self.loaded.insert(0, (key.clone(), handle));
        Ok(handle)
    }

    /// Loads `key` under its parent: our storage key, or upstream's for a key taken over.
    fn load(&mut self, key: &TpmKey) -> Result<KeyHandle, tss_esapi::Error> {
        match &key.upstream_auth {
            None => self
                .context
                .load(self.primary, key.private.clone(), key.public.clone()),
            Some(_) => self.load_upstream(key, false),
        }
    }

    /// Loads a key taken over from upstream under upstream's storage key (loaded only for
    /// this) and gives the TPM context its auth value. With `check_auth`, the auth value is
    /// also shown to be the key's, while the storage key is loaded: TPM2_ObjectChangeAuth to
    /// the same value needs it (the new blob is not kept).
    fn load_upstream(
        &mut self,
        key: &TpmKey,
        check_auth: bool,
    ) -> Result<KeyHandle, tss_esapi::Error> {
        let auth = Auth::try_from(key.upstream_auth.as_deref().cloned().unwrap_or_default())?;
        let parent = self.upstream_parent()?;
        let loaded = self
            .context
            .load(parent, key.private.clone(), key.public.clone())
            .and_then(|handle| {
                let ready = self
                    .context
                    .tr_set_auth(handle.into(), auth.clone())
                    .and_then(|()| match check_auth {
                        true => self
                            .context
                            .object_change_auth(handle.into(), parent.into(), auth)
                            .map(drop),
                        false => Ok(()),
                    });
                if ready.is_err() {
                    let _ = self.context.flush_context(handle.into());
                }
                ready.map(|()| handle)
            });
        if let Err(e) = self.context.flush_context(parent.into()) {
            tracing::error!("TPM: unloading upstream's storage key failed: {e}");
        }
        loaded
    }

    /// Checks a key of upstream's before it is taken over: it loads under upstream's storage
    /// key (so this TPM's owner hierarchy made it), and its auth value is the key's. Nothing
    /// is left loaded.
    pub(super) fn check_upstream(&mut self, key: &TpmKey) -> Result<(), tss_esapi::Error> {
        while !self.loaded.is_empty() {
            self.unload_last();
        }
        let handle = self.load_upstream(key, true)?;
        let _ = self.context.flush_context(handle.into());
        Ok(())
    }

    /// Upstream's storage key, loaded: its saved context, or made again from the owner
    /// hierarchy with upstream's template (tss-esapi's transient key context: RSA-2048,
    /// restricted decryption, AES-256-CFB or, where the TPM lacks it, AES-128-CFB, exponent
    /// 0). Its authorisation value, which upstream picks at random at each start, is not part
    /// of what the key is derived from.
    fn upstream_parent(&mut self) -> Result<KeyHandle, tss_esapi::Error> {
        if let Some(saved) = self.upstream_parent.clone() {
            match self.context.context_load(saved) {
                Ok(handle) => return Ok(handle.into()),
                // No room: the caller makes some and tries again.
                Err(e) if is(&e, Tss2ResponseCodeKind::ObjectMemory) => return Err(e),
                Err(e) => {
                    tracing::debug!("TPM: upstream's storage key is made again ({e})");
                    self.upstream_parent = None;
                }
            }
        }
        let cipher = [
            SymmetricDefinitionObject::AES_256_CFB,
            SymmetricDefinitionObject::AES_128_CFB,
        ]
        .into_iter()
        .find(|cipher| {
            let params = PublicParameters::SymCipher(SymmetricCipherParameters::new(*cipher));
            self.context
                .execute_without_session(|c| c.test_parms(params))
                .is_ok()
        })
        .unwrap_or(SymmetricDefinitionObject::AES_128_CFB);
        let template = tss_esapi::utils::create_restricted_decryption_rsa_public(
            cipher,
            RsaKeyBits::Rsa2048,
            RsaExponent::ZERO_EXPONENT,
        )?;
        let handle = self
            .context
            .create_primary(Hierarchy::Owner, template, None, None, None, None)?
            .key_handle;
        match self.context.context_save(handle.into()) {
            Ok(saved) => self.upstream_parent = Some(saved),
            Err(e) => tracing::warn!("TPM: saving upstream's storage key failed: {e}"),
        }
        Ok(handle)
    }

    /// Runs a command that needs a free object slot (TPM2_Load, TPM2_Create); if it fails while
    /// keys are kept loaded, unloads them all and runs it again.
    pub(super) fn with_room<T>(
        &mut self,
        command: impl Fn(&mut State) -> Result<T, tss_esapi::Error>,
    ) -> Result<T, tss_esapi::Error> {
        match command(self) {
            Err(_) if !self.loaded.is_empty() => {
                while !self.loaded.is_empty() {
                    self.unload_last();
                }
                command(self)
            }
            other => other,
        }
    }

    fn unload_last(&mut self) {
        if let Some((_, handle)) = self.loaded.pop() {
            if let Err(e) = self.context.flush_context(handle.into()) {
                tracing::error!("TPM: unloading a key failed: {e}");
            }
        }
    }

    /// Unloads `key` if it is loaded (the key was destroyed).
    pub(super) fn forget(&mut self, key: &TpmKey) {
        if let Some(i) = self.loaded.iter().position(|(k, _)| k == key) {
            let (_, handle) = self.loaded.remove(i);
            if let Err(e) = self.context.flush_context(handle.into()) {
                tracing::error!("TPM: unloading a key failed: {e}");
            }
        }
    }
}

/// Whether `e` is the TPM's response code `kind`.
pub(super) fn is(e: &tss_esapi::Error, kind: Tss2ResponseCodeKind) -> bool {
    matches!(e, tss_esapi::Error::Tss2Error(rc) if rc.kind() == Some(kind))
}

/// The key sizes this TPM takes (asked with TPM2_TestParms at start-up).
#[derive(Debug, Clone, Default)]
pub(super) struct Sizes {
    pub(super) rsa: Vec<u32>,
    pub(super) ecc: Vec<u32>,
}

/// Asks the TPM which RSA sizes and SECP R1 curves it supports.
pub(super) fn probe(context: &mut Context) -> Sizes {
    let mut sizes = Sizes::default();
    for bits in [1024, 2048, 3072, 4096] {
        let params = rsa_key_bits(bits).and_then(|b| {
            PublicRsaParametersBuilder::new()
                .with_scheme(RsaScheme::Null)
                .with_key_bits(b)
                .with_exponent(RsaExponent::default())
                .with_is_signing_key(true)
                .with_restricted(false)
                .build()
                .ok()
        });
        if let Some(p) = params {
            let ok = context.execute_without_session(|c| c.test_parms(PublicParameters::Rsa(p)));
            if ok.is_ok() {
                sizes.rsa.push(bits);
            }
        }
    }
    for bits in [256, 384, 521] {
        let Some(curve) = curve(EccFamily::SecpR1, bits) else {
            continue;
        };
        let params = PublicEccParametersBuilder::new_unrestricted_signing_key(
            EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256)),
            curve,
        )
        .build();
        if let Ok(p) = params {
            let ok = context.execute_without_session(|c| c.test_parms(PublicParameters::Ecc(p)));
            if ok.is_ok() {
                sizes.ecc.push(bits);
            }
        }
    }
    sizes
}

pub(super) type Job = Box<dyn FnOnce(&mut State) + Send>;

/// Why the provider did not start: the TPM could not be reached (what `skip_if_no_tpm` skips),
/// or anything else.
pub(super) enum StartError {
    Unreachable(anyhow::Error),
    Failed(anyhow::Error),
}
pub(super) use StartError::{Failed, Unreachable};

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        Failed(e)
    }
}

impl From<tss_esapi::Error> for StartError {
    fn from(e: tss_esapi::Error) -> Self {
        Failed(e.into())
    }
}

pub(super) fn start(config: &TpmConfig) -> Result<State, StartError> {
    let tcti = TctiNameConf::from_str(&config.tcti).map_err(|e| {
        anyhow::anyhow!(
            "`tcti = \"{}\"` is not a TCTI configuration: {e}",
            config.tcti
        )
    })?;
    let mut context = Context::new(tcti).map_err(|e| {
        Unreachable(anyhow::anyhow!(
            "cannot connect to the TPM through `{}`: {e}. For a device, user {} needs read and \
             write access to it (often the `tss` group); for a simulator, check that it runs",
            config.tcti,
            rustix::process::geteuid().as_raw()
        ))
    })?;
    let owner_auth = Auth::try_from(config.owner_hierarchy_auth.expose().to_vec())
        .map_err(|e| anyhow::anyhow!("`owner_hierarchy_auth` is not usable: {e}"))?;
    context
        .tr_set_auth(Hierarchy::Owner.into(), owner_auth)
        .map_err(|e| anyhow::anyhow!("cannot set the owner hierarchy's authorisation: {e}"))?;
    context.set_sessions((Some(AuthSession::Password), None, None));
    let template = storage_key_template()?;
    let created = context
        .create_primary(Hierarchy::Owner, template, None, None, None, None)
        .map_err(|e| {
            let hint = if format!("{e}").to_lowercase().contains("auth") {
                ": check `owner_hierarchy_auth`"
            } else {
                ""
            };
            anyhow::anyhow!(
                "the TPM refused to make the storage key under the owner hierarchy ({e}){hint}"
            )
        })?;
    let public = tss_esapi::traits::Marshall::marshall(&created.out_public)
        .map_err(|e| anyhow::anyhow!("cannot read the storage key's public area: {e}"))?;
    let identity = crate::providers::hardware::device_identity("tpm", &[&public]);
    Ok(State {
        context,
        primary: created.key_handle,
        identity,
        loaded: Vec::new(),
        upstream_parent: None,
    })
}

impl TpmBackend {
    /// Runs `f` on the TPM thread and waits for its answer.
    pub(super) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |state| {
            let _ = tx.send(f(state));
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .ok_or(Status::PsaErrorHardwareFailure)?
            .send(job)
            .map_err(|_| Status::PsaErrorHardwareFailure)?;
        rx.recv().map_err(|_| Status::PsaErrorHardwareFailure)?
    }

    /// Runs `f` with `key` loaded under the storage key.
    pub(super) fn with_key<T: Send + 'static>(
        &self,
        key: &TpmKey,
        f: impl FnOnce(&mut Context, KeyHandle) -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let key = key.clone();
        self.run(move |state| {
            let handle = state.handle(&key)?;
            f(&mut state.context, handle)
        })
    }
}
