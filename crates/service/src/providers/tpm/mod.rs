//! The TPM 2.0 provider (id 3), on tss-esapi over tpm2-tss: keys are made in the TPM under a
//! primary storage key of the owner hierarchy, and kept outside it as their wrapped blobs
//! (`TPM2B_PUBLIC` and `TPM2B_PRIVATE`) in our key store; the TPM loads a key for each
//! operation and forgets it after.
//!
//! The storage key is an ECC P-256 key derived from the owner seed with the standard template,
//! so the TPM makes the same one at every start (an ECC key takes milliseconds where RSA takes
//! seconds on swtpm). The ESAPI context is not thread-safe: one thread owns it and runs the
//! requests in turn.
//!
//! | PSA | TPM |
//! |---|---|
//! | RSA (the sizes the TPM takes, of 1024/2048/3072/4096): PKCS#1 v1.5 and PSS signatures with SHA-256/384/512 | `TPM2_Sign`, RSASSA / RSAPSS |
//! | ECDSA on the SECP R1 curves the TPM takes (P-256/384/521) with SHA-256/384/512 | `TPM2_Sign`, ECDSA |
//! | RSA PKCS#1 v1.5 and OAEP decryption | `TPM2_RSA_Decrypt`, RSAES / OAEP; an OAEP label (which the TPM would end with a zero byte) through raw RSA and decoding here |
//! | verification, encryption | here, with the recorded public key |
//! | random | `TPM2_GetRandom` |
//!
//! Keys taken over from upstream's TPM provider (`parsec migrate`) stay wrapped by upstream's
//! storage key, an RSA-2048 primary key of the same owner hierarchy, which is made again when
//! one of them is first used; each has the authorisation value upstream gave it.
//!
//! Not offered: key pair import (a TPM imports only duplicated blobs), ECDSA without a hash,
//! deterministic ECDSA, other curves. The sizes are asked of the TPM at start-up (TPM2_TestParms).
//!
//! The provider's parts: `thread` (the thread owning the ESAPI context), `templates` (key
//! templates and the mapping of algorithms) and `device` (the [`Device`](super::hardware::Device)
//! implementation).

mod device;
mod templates;
mod thread;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use parsec_keystore::KeyStore;
use parsec_wire::{ProviderId, Status};
use tss_esapi::structures::{Private, Public};

use super::hardware::Hardware;
use super::ProviderInfo;
use crate::config::TpmConfig;
use thread::{probe, start, Failed, Job, Sizes, StartError, Unreachable};

/// Upstream's UUID for its TPM provider.
pub const TPM_UUID: &str = "1e4954a4-ff21-46d3-ab0c-661eeb667e1d";

/// The TPM side of the provider: a channel to the thread that owns the ESAPI context.
pub struct TpmBackend {
    /// `None` once the provider is being dropped.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Closed when the TPM thread has ended (and its context flushed what it loaded).
    ended: Mutex<mpsc::Receiver<()>>,
    thread: std::thread::ThreadId,
    sizes: Sizes,
    identity: [u8; 32],
    described: String,
}

impl TpmBackend {
    /// Ends the TPM thread: it runs the jobs already queued, then its context unloads what
    /// it loaded. Waits for that (at most 20 s: a queued key generation may take seconds),
    /// unless called on that thread.
    pub(super) fn end_thread(&self) {
        drop(self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take());
        if std::thread::current().id() == self.thread {
            return;
        }
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        let _ = ended.recv_timeout(std::time::Duration::from_secs(20));
    }
}

impl Drop for TpmBackend {
    fn drop(&mut self) {
        self.end_thread();
    }
}

/// A key's wrapped blobs, parsed.
#[derive(Clone)]
pub struct TpmKey {
    public: Public,
    private: Private,
    /// A key taken over from upstream's TPM provider: its authorisation value. Such a key is
    /// wrapped by upstream's storage key, not ours (see `thread::State::upstream_parent`).
    upstream_auth: Option<zeroize::Zeroizing<Vec<u8>>>,
}

/// The same key: public area, private blob and auth value (compared in constant time).
impl PartialEq for TpmKey {
    fn eq(&self, other: &TpmKey) -> bool {
        let auth = match (&self.upstream_auth, &other.upstream_auth) {
            (None, None) => true,
            (Some(a), Some(b)) => crate::engine::sym::ct_eq(a, b),
            _ => false,
        };
        // Both sides are evaluated: no early exit on the auth value.
        auth & (self.public == other.public) & (self.private == other.private)
    }
}

fn tpm_error(what: &str) -> impl Fn(tss_esapi::Error) -> Status + '_ {
    move |e| {
        tracing::error!("TPM: {what} failed: {e}");
        Status::PsaErrorHardwareFailure
    }
}

/// Connects to the TPM `config` names, makes the storage key and builds the provider. `Ok(None)`
/// when the TPM cannot be reached and `skip_if_no_tpm` is set.
pub fn open(
    config: &TpmConfig,
    store: Arc<dyn KeyStore>,
    allow_deprecated: bool,
    buffer_size_limit: usize,
) -> anyhow::Result<Option<Hardware<TpmBackend>>> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(Sizes, [u8; 32]), StartError>>();
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (ended_tx, ended_rx) = mpsc::channel::<()>();
    let settings = config.clone();
    let thread = std::thread::Builder::new()
        .name("tpm".into())
        .spawn(move || {
            let mut state = match start(&settings) {
                Ok(mut state) => {
                    let _ = ready_tx.send(Ok((probe(&mut state.context), state.identity)));
                    state
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // Ends when every sender is gone (the provider was dropped).
            for job in jobs_rx {
                job(&mut state);
            }
            // The context flushes the storage keys and the keys left loaded: without a
            // resource manager (a simulator, /dev/tpm0), they would stay in the TPM's few
            // object slots after this process ends.
            drop(state);
            drop(ended_tx);
        })?;
    let (sizes, identity) = match ready_rx.recv() {
        Ok(Ok(ready)) => ready,
        Ok(Err(Unreachable(e))) if config.skip_if_no_tpm => {
            tracing::warn!("TPM provider skipped (skip_if_no_tpm): {e:#}");
            return Ok(None);
        }
        Ok(Err(Unreachable(e) | Failed(e))) => return Err(e),
        Err(_) => anyhow::bail!("the TPM thread ended at start-up"),
    };
    tracing::info!(
        "TPM provider: RSA sizes {:?}, SECP R1 curves {:?}",
        sizes.rsa,
        sizes.ecc
    );
    let info = ProviderInfo {
        id: ProviderId::Tpm,
        uuid: TPM_UUID,
        description: "TPM provider: keys wrapped by the TPM's storage key".into(),
        vendor: "Trusted Computing Group (TCG)".into(),
        version: (0, 1, 0),
    };
    let backend = TpmBackend {
        jobs: Mutex::new(Some(jobs_tx)),
        thread: thread.thread().id(),
        ended: Mutex::new(ended_rx),
        sizes,
        identity,
        described: format!("the TPM at `{}`", config.tcti),
    };
    Ok(Some(super::hardware::provider(
        info,
        backend,
        store,
        allow_deprecated,
        buffer_size_limit,
    )))
}
