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
//! Not offered: key pair import (a TPM imports only duplicated blobs), ECDSA without a hash,
//! deterministic ECDSA, other curves. The sizes are asked of the TPM at start-up (TPM2_TestParms).

use std::str::FromStr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use parsec_keystore::KeyStore;
use parsec_psa::ops::CheckType;
use parsec_psa::{
    Algorithm, AsymmetricEncryption, AsymmetricSignature, EccFamily, Hash, KeyAttributes, KeyType,
    Secret, SignHash,
};
use parsec_wire::{Opcode, ProviderId, Status};
use rsa::pkcs1::EncodeRsaPublicKey;
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Auth, Data, Digest, EccPoint, EccScheme, HashScheme, HashcheckTicket, Private, Public,
    PublicBuilder, PublicEccParametersBuilder, PublicKeyRsa, PublicParameters,
    PublicRsaParametersBuilder, RsaDecryptionScheme, RsaExponent, RsaScheme, Signature,
    SignatureScheme, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};

use super::hardware::{Created, Device, Hardware, HwKey};
use super::keyed::Serves;
use super::ProviderInfo;
use crate::config::TpmConfig;
use crate::engine::oaep;

/// Upstream's UUID for its TPM provider.
pub const TPM_UUID: &str = "1e4954a4-ff21-46d3-ab0c-661eeb667e1d";

/// Bytes asked of TPM2_GetRandom at a time (a TPM returns at most one digest's worth).
const RANDOM_CHUNK: usize = 32;

/// What a TPM serves: signatures and RSA encryption with its keys, and random bytes.
const SERVES: Serves = Serves {
    signatures: true,
    asymmetric_encryption: true,
    export: false,
    random: true,
    hashes: false,
    aead: false,
    ciphers: false,
    macs: false,
    key_agreement: false,
};

/// What the TPM thread owns.
struct State {
    context: Context,
    primary: KeyHandle,
    /// Keys left loaded, most recently used first, by private blob: a key used again needs no
    /// TPM2_Load. At most [`LOADED_KEYS`]; a TPM's object slots are few (swtpm: 3, one for the
    /// storage key).
    loaded: Vec<(Vec<u8>, KeyHandle)>,
}

/// Keys kept loaded in the TPM between operations.
const LOADED_KEYS: usize = 2;

impl State {
    /// The handle of `key`, loading it (and unloading the least recently used) if needed.
    fn handle(&mut self, key: &TpmKey) -> Result<KeyHandle, Status> {
        if let Some(i) = self
            .loaded
            .iter()
            .position(|(b, _)| b == key.private.value())
        {
            let entry = self.loaded.remove(i);
            let handle = entry.1;
            self.loaded.insert(0, entry);
            return Ok(handle);
        }
        if self.loaded.len() >= LOADED_KEYS {
            self.unload_last();
        }
        let handle = self
            .with_room(|state| {
                state
                    .context
                    .load(state.primary, key.private.clone(), key.public.clone())
            })
            .map_err(tpm_error("loading a key"))?;
        self.loaded
            .insert(0, (key.private.value().to_vec(), handle));
        Ok(handle)
    }

    /// Runs a command that needs a free object slot (TPM2_Load, TPM2_Create); if it fails while
    /// keys are kept loaded, unloads them all and runs it again.
    fn with_room<T>(
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

    /// Unloads `private`'s key if it is loaded (the key was destroyed).
    fn forget(&mut self, private: &[u8]) {
        if let Some(i) = self.loaded.iter().position(|(b, _)| b == private) {
            let (_, handle) = self.loaded.remove(i);
            if let Err(e) = self.context.flush_context(handle.into()) {
                tracing::error!("TPM: unloading a key failed: {e}");
            }
        }
    }
}

/// The key sizes this TPM takes (asked with TPM2_TestParms at start-up).
#[derive(Debug, Clone, Default)]
struct Sizes {
    rsa: Vec<u32>,
    ecc: Vec<u32>,
}

fn rsa_key_bits(bits: u32) -> Option<RsaKeyBits> {
    Some(match bits {
        1024 => RsaKeyBits::Rsa1024,
        2048 => RsaKeyBits::Rsa2048,
        3072 => RsaKeyBits::Rsa3072,
        4096 => RsaKeyBits::Rsa4096,
        _ => return None,
    })
}

/// Asks the TPM which RSA sizes and SECP R1 curves it supports.
fn probe(context: &mut Context) -> Sizes {
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

type Job = Box<dyn FnOnce(&mut State) + Send>;

/// The TPM side of the provider: a channel to the thread that owns the ESAPI context.
pub struct TpmBackend {
    jobs: Mutex<mpsc::Sender<Job>>,
    sizes: Sizes,
}

/// A key's wrapped blobs, parsed.
pub struct TpmKey {
    public: Public,
    private: Private,
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
    let (ready_tx, ready_rx) = mpsc::channel::<Result<Sizes, StartError>>();
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let settings = config.clone();
    std::thread::Builder::new()
        .name("tpm".into())
        .spawn(move || {
            let mut state = match start(&settings) {
                Ok(mut state) => {
                    let _ = ready_tx.send(Ok(probe(&mut state.context)));
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
        })?;
    let sizes = match ready_rx.recv() {
        Ok(Ok(sizes)) => sizes,
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
        jobs: Mutex::new(jobs_tx),
        sizes,
    };
    Ok(Some(super::hardware::provider(
        info,
        backend,
        store,
        allow_deprecated,
        buffer_size_limit,
    )))
}

/// Why the provider did not start: the TPM could not be reached (what `skip_if_no_tpm` skips),
/// or anything else.
enum StartError {
    Unreachable(anyhow::Error),
    Failed(anyhow::Error),
}
use StartError::{Failed, Unreachable};

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

fn start(config: &TpmConfig) -> Result<State, StartError> {
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
    let primary = context
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
        })?
        .key_handle;
    Ok(State {
        context,
        primary,
        loaded: Vec::new(),
    })
}

fn storage_key_template() -> Result<Public, tss_esapi::Error> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(true)
        .with_restricted(true)
        .with_no_da(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

fn hashing(hash: Hash) -> Option<HashingAlgorithm> {
    Some(match hash {
        Hash::Sha256 => HashingAlgorithm::Sha256,
        Hash::Sha384 => HashingAlgorithm::Sha384,
        Hash::Sha512 => HashingAlgorithm::Sha512,
        _ => return None,
    })
}

fn curve(family: EccFamily, bits: u32) -> Option<EccCurve> {
    match (family, bits) {
        (EccFamily::SecpR1, 256) => Some(EccCurve::NistP256),
        (EccFamily::SecpR1, 384) => Some(EccCurve::NistP384),
        (EccFamily::SecpR1, 521) => Some(EccCurve::NistP521),
        _ => None,
    }
}

fn signature_scheme(alg: AsymmetricSignature) -> Option<SignatureScheme> {
    use AsymmetricSignature as S;
    let (hash, make): (SignHash, fn(HashScheme) -> SignatureScheme) = match alg {
        S::RsaPkcs1v15Sign { hash_alg } => {
            (hash_alg, |h| SignatureScheme::RsaSsa { hash_scheme: h })
        }
        S::RsaPss { hash_alg } => (hash_alg, |h| SignatureScheme::RsaPss { hash_scheme: h }),
        S::Ecdsa { hash_alg } => (hash_alg, |h| SignatureScheme::EcDsa { hash_scheme: h }),
        _ => return None,
    };
    match hash {
        SignHash::Specific(h) => Some(make(HashScheme::new(hashing(h)?))),
        SignHash::Any => Some(make(HashScheme::new(HashingAlgorithm::Sha256))),
    }
}

fn supports_alg(alg: Algorithm) -> bool {
    match alg {
        Algorithm::None => true,
        Algorithm::AsymmetricSignature(s) => signature_scheme(s).is_some(),
        Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaPkcs1v15Crypt) => true,
        Algorithm::AsymmetricEncryption(AsymmetricEncryption::RsaOaep { hash_alg }) => {
            hashing(hash_alg).is_some() || hash_alg == Hash::Sha1
        }
        _ => false,
    }
}

fn template_error(e: tss_esapi::Error) -> Status {
    tracing::error!("TPM key template: {e}");
    Status::PsaErrorGenericError
}

/// The ECDSA scheme fixed in an ECC key (tss-esapi makes signing keys name one): the policy's
/// hash, SHA-256 for a wildcard.
fn ecdsa_scheme(alg: Algorithm) -> EccScheme {
    let hash = match alg {
        Algorithm::AsymmetricSignature(AsymmetricSignature::Ecdsa {
            hash_alg: SignHash::Specific(h),
        }) => hashing(h),
        _ => None,
    };
    EccScheme::EcDsa(HashScheme::new(hash.unwrap_or(HashingAlgorithm::Sha256)))
}

/// The template of a key with these attributes (usage limited to what the policy allows).
fn key_template(attributes: &KeyAttributes) -> Result<Public, Status> {
    let f = attributes.policy.usage_flags;
    let decrypt = f.decrypt && attributes.key_type == KeyType::RsaKeyPair;
    // A TPM key must be able to sign or decrypt; a verify-only key gets the signing attribute
    // (the policy still refuses to sign with it).
    let sign = f.sign_hash || f.sign_message || !decrypt;
    let object = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_sign_encrypt(sign)
        .with_decrypt(decrypt)
        .build()
        .map_err(template_error)?;
    let builder = PublicBuilder::new()
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(object);
    let built = match attributes.key_type {
        KeyType::RsaKeyPair => {
            let bits = rsa_key_bits(attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
            builder
                .with_public_algorithm(PublicAlgorithm::Rsa)
                .with_rsa_parameters(
                    PublicRsaParametersBuilder::new()
                        .with_scheme(RsaScheme::Null)
                        .with_key_bits(bits)
                        .with_exponent(RsaExponent::default())
                        .with_is_signing_key(sign)
                        .with_is_decryption_key(decrypt)
                        .with_restricted(false)
                        .build()
                        .map_err(template_error)?,
                )
                .with_rsa_unique_identifier(PublicKeyRsa::default())
                .build()
        }
        KeyType::EccKeyPair { curve_family } => {
            let curve = curve(curve_family, attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
            builder
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new()
                        .with_ecc_scheme(ecdsa_scheme(attributes.policy.permitted_algorithms))
                        .with_curve(curve)
                        .with_key_derivation_function_scheme(
                            tss_esapi::structures::KeyDerivationFunctionScheme::Null,
                        )
                        .with_is_signing_key(sign)
                        .with_is_decryption_key(false)
                        .with_restricted(false)
                        .build()
                        .map_err(template_error)?,
                )
                .with_ecc_unique_identifier(EccPoint::default())
                .build()
        }
        _ => return Err(Status::PsaErrorNotSupported),
    };
    built.map_err(|e| {
        tracing::error!("TPM key template: {e}");
        Status::PsaErrorGenericError
    })
}

/// The public key of a TPM key, in PSA export format.
fn export_public(public: &Public, bits: u32) -> Result<Vec<u8>, Status> {
    match tss_esapi::utils::PublicKey::try_from(public.clone()) {
        Ok(tss_esapi::utils::PublicKey::Rsa(n)) => rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from(65537u32),
        )
        .ok()
        .and_then(|k| k.to_pkcs1_der().ok())
        .map(|der| der.as_bytes().to_vec())
        .ok_or(Status::PsaErrorHardwareFailure),
        Ok(tss_esapi::utils::PublicKey::Ecc { x, y }) => {
            let len = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
            if x.len() > len || y.len() > len {
                return Err(Status::PsaErrorHardwareFailure);
            }
            let mut point = vec![0x04];
            for c in [x, y] {
                point.resize(point.len() + len - c.len(), 0);
                point.extend_from_slice(&c);
            }
            Ok(point)
        }
        Err(e) => Err(tpm_error("reading a public key")(e)),
    }
}

/// Blob layout: the marshalled public area's length (u16, big-endian), the public area, the
/// private blob.
fn encode_blob(public: &Public, private: &Private) -> Result<Vec<u8>, Status> {
    let public = public.marshall().map_err(tpm_error("marshalling a key"))?;
    let len = u16::try_from(public.len()).map_err(|_| Status::PsaErrorGenericError)?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&public);
    out.extend_from_slice(private.value());
    Ok(out)
}

fn decode_blob(blob: &[u8]) -> Option<TpmKey> {
    let len = usize::from(u16::from_be_bytes(blob.get(..2)?.try_into().ok()?));
    let public = Public::unmarshall(blob.get(2..2 + len)?).ok()?;
    let private = Private::try_from(blob.get(2 + len..)?.to_vec()).ok()?;
    Some(TpmKey { public, private })
}

impl TpmBackend {
    /// Runs `f` on the TPM thread and waits for its answer.
    fn run<T: Send + 'static>(
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
            .send(job)
            .map_err(|_| Status::PsaErrorHardwareFailure)?;
        rx.recv().map_err(|_| Status::PsaErrorHardwareFailure)?
    }

    /// Runs `f` with `key` loaded under the storage key.
    fn with_key<T: Send + 'static>(
        &self,
        key: &TpmKey,
        f: impl FnOnce(&mut Context, KeyHandle) -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let key = TpmKey {
            public: key.public.clone(),
            private: key.private.clone(),
        };
        self.run(move |state| {
            let handle = state.handle(&key)?;
            f(&mut state.context, handle)
        })
    }
}

impl Device for TpmBackend {
    type Loaded = TpmKey;

    fn serves(&self) -> Serves {
        SERVES
    }

    fn supports(&self, attributes: &KeyAttributes, check: CheckType) -> bool {
        let sized = match attributes.key_type {
            KeyType::RsaKeyPair | KeyType::RsaPublicKey => {
                self.sizes.rsa.contains(&attributes.bits)
            }
            KeyType::EccKeyPair { curve_family } | KeyType::EccPublicKey { curve_family } => {
                curve_family == EccFamily::SecpR1 && self.sizes.ecc.contains(&attributes.bits)
            }
            _ => false,
        };
        sized && check != CheckType::Import && supports_alg(attributes.policy.permitted_algorithms)
    }

    fn generate(&self, attributes: &KeyAttributes) -> Result<Created, Status> {
        let template = key_template(attributes)?;
        let bits = attributes.bits;
        self.run(move |state| {
            let created = state
                .with_room(|state| {
                    let template = template.clone();
                    state
                        .context
                        .create(state.primary, template, None, None, None, None)
                })
                .map_err(tpm_error("making a key"))?;
            Ok(Created {
                public: export_public(&created.out_public, bits)?,
                handle: encode_blob(&created.out_public, &created.out_private)?,
            })
        })
    }

    fn import(&self, _attributes: &KeyAttributes, _material: &[u8]) -> Result<Created, Status> {
        Err(Status::PsaErrorNotSupported)
    }

    fn load(&self, _attributes: &KeyAttributes, handle: &[u8]) -> Result<TpmKey, Status> {
        decode_blob(handle).ok_or(Status::PsaErrorDataCorrupt)
    }

    fn destroy(&self, _attributes: &KeyAttributes, handle: &[u8]) -> Result<(), Status> {
        // The blob in the store was the key; only a loaded copy may remain in the TPM.
        let Some(key) = decode_blob(handle) else {
            return Ok(());
        };
        self.run(move |state| {
            state.forget(key.private.value());
            Ok(())
        })
    }

    fn sign_hash(
        &self,
        key: &HwKey<TpmKey>,
        loaded: &TpmKey,
        alg: AsymmetricSignature,
        hash: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let scheme = signature_scheme(alg).ok_or(Status::PsaErrorNotSupported)?;
        if matches!(alg.hash(), Some(SignHash::Any) | None) {
            return Err(Status::PsaErrorNotSupported);
        }
        let digest =
            Digest::try_from(hash.to_vec()).map_err(|_| Status::PsaErrorInvalidArgument)?;
        let len = usize::try_from(key.attributes.bits.div_ceil(8)).unwrap_or(0);
        self.with_key(loaded, move |context, handle| {
            let validation = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
                tag: TPM2_ST_HASHCHECK,
                hierarchy: TPM2_RH_NULL,
                digest: Default::default(),
            })
            .map_err(tpm_error("making a hash check ticket"))?;
            let signature = context
                .sign(handle, digest, scheme, validation)
                .map_err(tpm_error("signing"))?;
            match signature {
                Signature::RsaSsa(s) | Signature::RsaPss(s) => Ok(s.signature().value().to_vec()),
                Signature::EcDsa(s) => {
                    let mut out = Vec::with_capacity(2 * len);
                    for part in [s.signature_r().value(), s.signature_s().value()] {
                        if part.len() > len {
                            return Err(Status::PsaErrorHardwareFailure);
                        }
                        out.resize(out.len() + len - part.len(), 0);
                        out.extend_from_slice(part);
                    }
                    Ok(out)
                }
                _ => Err(Status::PsaErrorHardwareFailure),
            }
        })
    }

    fn decrypt(
        &self,
        key: &HwKey<TpmKey>,
        loaded: &TpmKey,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Status> {
        let label = salt.unwrap_or_default().to_vec();
        let k = usize::try_from(key.attributes.bits.div_ceil(8)).unwrap_or(0);
        if ciphertext.len() != k {
            return Err(Status::PsaErrorInvalidPadding);
        }
        let (scheme, software_oaep) = match alg {
            AsymmetricEncryption::RsaPkcs1v15Crypt => (RsaDecryptionScheme::RsaEs, None),
            AsymmetricEncryption::RsaOaep { hash_alg } => match hashing(hash_alg) {
                Some(h) if label.is_empty() => {
                    (RsaDecryptionScheme::Oaep(HashScheme::new(h)), None)
                }
                // A label, or SHA-1: raw RSA in the TPM, the padding removed here.
                _ => (RsaDecryptionScheme::Null, Some(hash_alg)),
            },
        };
        let ciphertext = PublicKeyRsa::try_from(ciphertext.to_vec())
            .map_err(|_| Status::PsaErrorInvalidArgument)?;
        let out = self.with_key(loaded, move |context, handle| {
            context
                .rsa_decrypt(handle, ciphertext, scheme, Data::default())
                .map(|m| zeroize::Zeroizing::new(m.value().to_vec()))
                .map_err(|e| {
                    tracing::debug!("TPM: decryption failed: {e}");
                    Status::PsaErrorInvalidPadding
                })
        })?;
        match software_oaep {
            None => Ok(Secret::new(out.to_vec())),
            Some(hash) => {
                let mut padded = zeroize::Zeroizing::new(vec![0u8; k.saturating_sub(out.len())]);
                padded.extend_from_slice(&out);
                oaep::decode(hash, &label, &padded, k)
            }
        }
    }

    fn generate_random(&self, size: usize) -> Result<Secret, Status> {
        self.run(move |state| {
            let mut out = zeroize::Zeroizing::new(Vec::with_capacity(size));
            while out.len() < size {
                let want = (size - out.len()).min(RANDOM_CHUNK);
                // TPM2_GetRandom takes no authorisation session.
                let bytes = state
                    .context
                    .execute_without_session(|c| c.get_random(want))
                    .map_err(tpm_error("getting random bytes"))?;
                if bytes.value().is_empty() {
                    return Err(Status::PsaErrorInsufficientEntropy);
                }
                let take = bytes.value().len().min(want);
                out.extend_from_slice(&bytes.value()[..take]);
            }
            Ok(Secret::new(std::mem::take(&mut *out)))
        })
    }

    fn blocks(&self, _opcode: Opcode) -> bool {
        // Every command is a round trip to a device that may take milliseconds to seconds.
        true
    }
}
