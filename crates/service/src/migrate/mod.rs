//! `parsec migrate`: takes over the keys of an upstream parsec-service installation, read from
//! the same `config.toml`, while upstream is stopped.
//!
//! Upstream's key info manager (its SQLite database or its on-disk `mappings/` tree) names
//! every key: its application (with the authenticator's naming), provider, name, attributes
//! and the provider's ID for it. For the software provider (upstream's Mbed Crypto), that ID
//! names a PSA key file in upstream's working directory, whose material is imported into our
//! key store, sealed as ours are, through the provider's own import: the same application,
//! name and attributes. A PKCS#11 key is the same token objects, found by the `CKA_ID`
//! upstream gave them; a TPM key is upstream's record (the key's wrapped blobs and auth
//! value), which our TPM provider keeps and loads under upstream's storage key.
//!
//! Nothing of upstream's is written: its database is opened read-only, and our store goes
//! beside it (`parsec-keys.sqlite3`). Running it twice is safe: a key already present is
//! reported and left as it is. Each key is imported whole or not at all, and every key that
//! could not be taken over is reported with its name and why, and makes the exit status
//! non-zero. `--dry-run` reads and checks everything and writes nothing.

pub mod format;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use parsec_psa::{KeyAttributes, OpResult, Operation};
use parsec_wire::{ProviderId, Status};
use zeroize::Zeroizing;

use crate::auth::{AppId, AuthKind};
use crate::config::{Config, KeyManagerKind};

/// Upstream's provider UUIDs, as its SQLite key info manager records them.
const PROVIDER_UUIDS: &[(&str, ProviderId)] = &[
    (
        "1c1139dc-ad7c-47dc-ad6b-db6fdb466552",
        ProviderId::MbedCrypto,
    ),
    ("30e39502-eba6-4d60-a4af-c518b7f5e38f", ProviderId::Pkcs11),
    ("1e4954a4-ff21-46d3-ab0c-661eeb667e1d", ProviderId::Tpm),
];

/// One key of upstream's, as its key info manager names it.
#[derive(Clone)]
pub struct UpstreamKey {
    /// The wire auth type its application was authenticated with.
    pub auth: u8,
    pub app: String,
    pub name: String,
    pub provider: ProviderId,
    /// The provider's ID of the key (bincode, as upstream stored it). A TPM key's holds its
    /// auth value.
    pub key_id: Zeroizing<Vec<u8>>,
    /// Upstream's attributes, or why they do not decode.
    pub attributes: Result<KeyAttributes, String>,
}

/// Without the key ID, which may hold a secret.
impl fmt::Debug for UpstreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamKey")
            .field("auth", &self.auth)
            .field("app", &self.app)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for UpstreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match self.auth {
            1 => "Direct",
            3 => "UnixPeerCredentials",
            4 => "JwtSvid",
            255 => "internal",
            _ => "auth type ?",
        };
        // Escaped: the names come from upstream's clients.
        write!(
            f,
            "key `{}` of {auth} application `{}` ({:?})",
            self.name.escape_debug(),
            self.app.escape_debug(),
            self.provider
        )
    }
}

/// What became of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported,
    /// `--dry-run`: it would be imported.
    WouldImport,
    /// Our store already has a key of that application and name.
    Present,
    /// Not an application's key (upstream's own): nothing to take over.
    NotApplications(String),
    /// It could not be taken over: why.
    Failed(String),
}

/// Where the upstream installation is.
pub struct Options {
    pub dry_run: bool,
    /// Upstream's working directory, where its Mbed Crypto provider keeps its key files.
    pub upstream_dir: PathBuf,
}

/// Every key upstream's key info manager of `config` names.
pub fn read_upstream(config: &Config) -> anyhow::Result<Vec<UpstreamKey>> {
    let manager = config
        .store_manager()
        .context("the config names no [[key_manager]] a provider uses: nothing to migrate")?;
    match &manager.kind {
        KeyManagerKind::Sqlite { path } => read_sqlite(path),
        KeyManagerKind::OnDisk { path } => {
            // Upstream's on-disk manager does not record the auth type: its keys are the first
            // configured authenticator's.
            let auth = config
                .authenticators
                .first()
                .and_then(|a| a.kind.auth_type())
                .context("no authenticator is configured")?;
            read_on_disk(path, auth as u8)
        }
        KeyManagerKind::Postgres { .. } => {
            bail!("the key manager is PostgreSQL (ours): there is no upstream store to read")
        }
    }
}

fn read_sqlite(path: &Path) -> anyhow::Result<Vec<UpstreamKey>> {
    let rows = parsec_keystore::read_upstream_mappings(path).map_err(|e| {
        anyhow::anyhow!(
            "upstream's key info manager database {}: {e}",
            path.display()
        )
    })?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let provider = PROVIDER_UUIDS
            .iter()
            .find(|(uuid, _)| *uuid == row.provider_uuid)
            .map(|(_, id)| *id);
        let attributes = if row.key_attributes_version != 1 || row.key_id_version != 1 {
            Err(format!(
                "version {}/{} of upstream's key records: only 1 is known",
                row.key_id_version, row.key_attributes_version
            ))
        } else {
            format::attributes(&row.key_attributes)
        };
        let Ok(auth) = u8::try_from(row.authenticator_id) else {
            bail!(
                "{}: a mapping with authenticator {}",
                path.display(),
                row.authenticator_id
            );
        };
        keys.push(UpstreamKey {
            auth,
            app: row.application_name,
            name: row.key_name,
            provider: provider.unwrap_or(ProviderId::Core),
            key_id: Zeroizing::new(row.key_id),
            attributes: match provider {
                Some(_) => attributes,
                None => Err(format!(
                    "provider {} ({}) is not one this service serves",
                    row.provider_name, row.provider_uuid
                )),
            },
        });
    }
    Ok(keys)
}

/// Upstream's `mappings/<base64url(app)>/<provider id>/<base64url(key)>` tree; each file is
/// bincode of `KeyInfo { id: Vec<u8>, attributes }`. Its `parsec/` folder holds upstream's
/// own keys.
fn read_on_disk(root: &Path, auth: u8) -> anyhow::Result<Vec<UpstreamKey>> {
    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine;
    let list = |dir: &Path| -> anyhow::Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
            let entry = entry.with_context(|| format!("{}", dir.display()))?;
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
        out.sort();
        Ok(out)
    };
    let decode = |what: &str, path: &Path| -> anyhow::Result<String> {
        let bytes = URL_SAFE
            .decode(what)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        bytes.with_context(|| format!("{}: not a base64url name", path.display()))
    };
    if !root.is_dir() {
        bail!(
            "upstream's key mappings {}: no such directory",
            root.display()
        );
    }
    let mut keys = Vec::new();
    for (app_dir, app_path) in list(root)? {
        if app_dir == "parsec" || !app_path.is_dir() {
            continue;
        }
        let app = decode(&app_dir, &app_path)?;
        for (provider_dir, provider_path) in list(&app_path)? {
            let provider = match provider_dir
                .parse::<u8>()
                .ok()
                .and_then(ProviderId::from_u8)
            {
                Some(p) if p != ProviderId::Core => p,
                _ => bail!("{}: not a provider's folder", provider_path.display()),
            };
            for (key_file, key_path) in list(&provider_path)? {
                let name = decode(&key_file, &key_path)?;
                let bytes = read_capped(&key_path, 64 * 1024)?;
                let (key_id, attributes) = match format::key_info(&bytes) {
                    Ok((id, attributes)) => (id, attributes),
                    Err(e) => (Vec::new(), Err(e)),
                };
                keys.push(UpstreamKey {
                    auth,
                    app: app.clone(),
                    name,
                    provider,
                    key_id: Zeroizing::new(key_id),
                    attributes: attributes.map_err(|e| {
                        format!("its mapping {} does not decode: {e}", key_path.display())
                    }),
                });
            }
        }
    }
    Ok(keys)
}

fn read_capped(path: &Path, max: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}", path.display()))?;
    if bytes.len() > max {
        bail!("{}: larger than {max} bytes", path.display());
    }
    Ok(bytes)
}

/// The key material of an upstream Mbed Crypto key, checked against its attributes.
fn mbed_crypto_material(
    key: &UpstreamKey,
    attributes: &mut KeyAttributes,
    dir: &Path,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let id = format::u32_key_id(&key.key_id)?;
    let path = dir.join(format!("{id:016x}.psa_its"));
    let bytes = read_capped(&path, format::MAX_KEY_FILE).map_err(|e| format!("{e:#}"))?;
    let file = format::psa_key_file(&bytes)
        .map_err(|e| format!("its key file {} does not parse: {e}", path.display()))?;
    if format::psa_type_number(attributes.key_type) != Some(file.psa_type) {
        return Err(format!(
            "its key file {} holds a key of type {:#06x}, not the {:?} upstream recorded",
            path.display(),
            file.psa_type,
            attributes.key_type
        ));
    }
    // The file must be this key's: its usage too (a key file of another installation, with
    // the same number, would not be).
    if file.usage != format::psa_usage_bits(&attributes.policy.usage_flags) {
        return Err(format!(
            "its key file {} has other usage flags ({:#x}) than upstream recorded: it is not this key's",
            path.display(),
            file.usage
        ));
    }
    // Upstream records 0 bits for some imported keys: the file has the size.
    if attributes.bits == 0 {
        attributes.bits = u32::from(file.bits);
    } else if attributes.bits != u32::from(file.bits) {
        return Err(format!(
            "its key file {} holds a {}-bit key, not {} bits",
            path.display(),
            file.bits,
            attributes.bits
        ));
    }
    Ok(file.material)
}

/// Takes over `keys` into the service `service` opened (or, with `--dry-run`, checks them
/// and says what would be done): one outcome per key, in order.
pub fn migrate(
    keys: &[UpstreamKey],
    service: Option<&crate::service::Service>,
    options: &Options,
) -> Vec<Outcome> {
    keys.iter()
        .map(|key| migrate_one(key, service, options))
        .collect()
}

fn migrate_one(
    key: &UpstreamKey,
    service: Option<&crate::service::Service>,
    options: &Options,
) -> Outcome {
    let mut attributes = match &key.attributes {
        Ok(a) => *a,
        Err(e) => return Outcome::Failed(e.clone()),
    };
    let kind = match key.auth {
        255 => {
            return Outcome::NotApplications(
                "upstream's own key (its TPM root key record), not an application's".into(),
            )
        }
        1 => AuthKind::Direct,
        3 => AuthKind::UnixPeerCredentials,
        4 => AuthKind::JwtSvid,
        n => {
            return Outcome::Failed(format!(
                "auth type {n} is none of upstream's authenticators (with an on-disk manager, \
                 the first authenticator of the config names the keys' applications)"
            ))
        }
    };
    // Names this service would refuse from a client (empty, too long, of the form ListClients
    // gives remote applications) are not taken over under a name no client can use.
    if key.app.is_empty()
        || key.app.len() > crate::auth::direct::MAX_APP_NAME_LEN
        || key.app.starts_with(crate::auth::parsec1::REMOTE_PREFIX)
    {
        return Outcome::Failed("its application name is one this service refuses".into());
    }
    let app = AppId {
        auth: kind,
        name: key.app.clone(),
    };
    // What the key is made of: its material (software), or the device's handle to it.
    let taken = match key.provider {
        ProviderId::MbedCrypto => {
            match mbed_crypto_material(key, &mut attributes, &options.upstream_dir) {
                Ok(m) => Taken::Material(m),
                Err(e) => return Outcome::Failed(e),
            }
        }
        // Upstream's PKCS#11 objects carry its u32 key ID, big-endian, as their CKA_ID.
        ProviderId::Pkcs11 => match format::u32_key_id(&key.key_id) {
            Ok(id) => Taken::Handle(Zeroizing::new(id.to_be_bytes().to_vec()), None),
            Err(e) => return Outcome::Failed(e),
        },
        // Upstream's TPM record holds the key's blobs and auth value: our TPM provider takes
        // the record; an imported public key (no private blob) is imported as one.
        ProviderId::Tpm => match format::tpm_record(&key.key_id) {
            Ok(record) => match tpm_public(&record.public, &mut attributes) {
                Ok(public) if record.private.is_empty() => {
                    if !attributes.key_type.is_public_key() {
                        return Outcome::Failed(format!(
                            "upstream's record of this {:?} holds no private part",
                            attributes.key_type
                        ));
                    }
                    Taken::Material(Zeroizing::new(public))
                }
                Ok(public) => Taken::Handle(key.key_id.clone(), Some(public)),
                Err(e) => return Outcome::Failed(e),
            },
            Err(e) => return Outcome::Failed(format!("its TPM record does not decode: {e}")),
        },
        other => {
            return Outcome::Failed(format!(
                "upstream's {other:?} provider is not one whose keys can be taken over"
            ))
        }
    };
    let Some(service) = service.filter(|_| !options.dry_run) else {
        return Outcome::WouldImport;
    };
    let dispatcher = service.dispatcher().get();
    // Already there (whichever provider holds it): the same key only if it is where upstream
    // kept it, with the same attributes; another key of that name is not this one.
    let present = dispatcher.execute_remote(
        &app,
        Some(ProviderId::Core),
        Operation::ListKeys(parsec_psa::ops::ListKeys { pattern: None }),
    );
    if let Ok(OpResult::ListKeys(listed)) = &present {
        if let Some(ours) = listed.keys.iter().find(|k| k.name == key.name) {
            // Upstream may record an imported public key with 0 bits; ours has its size.
            let sized = KeyAttributes {
                bits: ours.attributes.bits,
                ..attributes
            };
            let same = ours.provider_id == key.provider as u8
                && (ours.attributes == attributes
                    || (attributes.bits == 0 && ours.attributes == sized))
                && same_public_key(&dispatcher, &app, key, &attributes, &taken);
            return if same {
                Outcome::Present
            } else {
                Outcome::Failed(
                    "this service already holds another key of that name for that application"
                        .into(),
                )
            };
        }
    }
    let done = match taken {
        Taken::Material(material) => {
            let import = Operation::PsaImportKey(parsec_psa::ops::ImportKey {
                key_name: key.name.clone(),
                attributes,
                data: parsec_psa::Secret::new(material.to_vec()),
            });
            dispatcher
                .execute_remote(&app, Some(key.provider), import)
                .map(drop)
        }
        Taken::Handle(handle, _) => match dispatcher.providers().get(key.provider) {
            Some(provider) => provider.adopt(&app, &key.name, &attributes, &handle),
            None => {
                return Outcome::Failed(format!(
                    "the config has no {:?} provider to take it",
                    key.provider
                ))
            }
        },
    };
    match done {
        Ok(()) => Outcome::Imported,
        Err(Status::PsaErrorAlreadyExists) => Outcome::Present,
        Err(Status::PsaErrorDoesNotExist) if key.provider == ProviderId::Tpm => Outcome::Failed(
            "the TPM does not load it under upstream's storage key: this is another TPM, or \
             its owner hierarchy was cleared"
                .into(),
        ),
        Err(Status::PsaErrorDoesNotExist) => {
            Outcome::Failed("the device does not hold its object".into())
        }
        Err(Status::PsaErrorNotPermitted) if key.provider == ProviderId::Tpm => Outcome::Failed(
            "the TPM refuses the auth value upstream recorded for it (this counts as one failed \
             try against the TPM's dictionary-attack lockout)"
                .into(),
        ),
        Err(status) => Outcome::Failed(format!("our provider refused it: {status}")),
    }
}

/// Whether our key of that name has the public key upstream's gives, where it is known
/// (software keys, TPM keys and public keys); PKCS#11 key pairs are told apart by provider and
/// attributes only.
fn same_public_key(
    dispatcher: &crate::dispatch::Dispatcher,
    app: &AppId,
    key: &UpstreamKey,
    attributes: &KeyAttributes,
    taken: &Taken,
) -> bool {
    let upstream = match taken {
        Taken::Handle(_, None) => return true,
        Taken::Handle(_, Some(public)) => Ok(public.clone()),
        Taken::Material(material) if attributes.key_type.is_public_key() => Ok(material.to_vec()),
        Taken::Material(material) if attributes.key_type.is_key_pair() => {
            crate::engine::asym::load(attributes, material)
                .and_then(|k| crate::engine::asym::export_public(&k))
        }
        Taken::Material(_) => return true,
    };
    let ours = dispatcher.execute_remote(
        app,
        Some(key.provider),
        Operation::PsaExportPublicKey(parsec_psa::ops::ExportPublicKey {
            key_name: key.name.clone(),
        }),
    );
    match (upstream, ours) {
        (Ok(upstream), Ok(OpResult::PsaExportPublicKey(ours))) => upstream == ours.data,
        _ => false,
    }
}

/// An upstream TPM key's public key in PSA export format (an RSA exponent is always 65537
/// there), checked against the size upstream recorded (and giving it, where upstream recorded
/// 0 bits for an imported public key).
fn tpm_public(
    public: &format::TpmPublic,
    attributes: &mut KeyAttributes,
) -> Result<Vec<u8>, String> {
    use parsec_psa::KeyType;
    use rsa::pkcs1::EncodeRsaPublicKey;
    let (bits, key_type) = (attributes.bits, attributes.key_type);
    let mismatch = || format!("its TPM record's public key is not a {bits}-bit {key_type:?}");
    match (public, attributes.key_type) {
        (format::TpmPublic::Rsa(n), KeyType::RsaKeyPair | KeyType::RsaPublicKey) => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(n),
                rsa::BigUint::from(65537u32),
            )
            .map_err(|_| mismatch())?;
            let bits = u32::try_from(rsa::traits::PublicKeyParts::n(&key).bits()).unwrap_or(0);
            if attributes.bits == 0 {
                attributes.bits = bits;
            }
            if bits != attributes.bits {
                return Err(mismatch());
            }
            key.to_pkcs1_der()
                .map(|der| der.as_bytes().to_vec())
                .map_err(|_| mismatch())
        }
        (
            format::TpmPublic::Ecc { x, y },
            KeyType::EccKeyPair { .. } | KeyType::EccPublicKey { .. },
        ) => {
            if attributes.bits == 0 {
                attributes.bits = u32::try_from(x.len().max(y.len()) * 8).unwrap_or(0);
            }
            // Checked before anything is allocated for it: `bits` is upstream's record's.
            if !matches!(attributes.bits, 192 | 224 | 256 | 384 | 521) {
                return Err(mismatch());
            }
            let len = usize::try_from(attributes.bits.div_ceil(8)).unwrap_or(0);
            if x.len() > len || y.len() > len {
                return Err(mismatch());
            }
            let mut point = vec![0x04];
            for c in [x, y] {
                point.resize(point.len() + len - c.len(), 0);
                point.extend_from_slice(c);
            }
            Ok(point)
        }
        _ => Err(mismatch()),
    }
}

/// What a key is taken over as.
enum Taken {
    /// Its material (a software key, or a public key), imported through our provider.
    Material(Zeroizing<Vec<u8>>),
    /// The device's handle to it, which our hardware provider records; and its public key
    /// where upstream's record holds it.
    Handle(Zeroizing<Vec<u8>>, Option<Vec<u8>>),
}
