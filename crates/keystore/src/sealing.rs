//! Encryption at rest: AES-256-GCM under a master key, with the record's identity and its
//! attributes as associated data, so a sealed blob moved to another key's row, or altered, or
//! its record's attributes (usage flags, permitted algorithms) changed, fails to open.
//!
//! Version 1 blobs (written before the attributes were bound) authenticate the identity only;
//! they are still read where a store allows them (SQLite), never written.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use crate::files::io_error;
use crate::{KeyId, StoreError};

const MASTER_KEY_LEN: usize = 32;
/// Length of the AES-GCM tag at the end of every sealed blob.
const TAG_LEN: usize = 16;
/// Version byte in front of a sealed blob: identity only (read, no longer written).
const SEAL_V1: u8 = 1;
/// Version byte in front of a sealed blob: identity and attributes.
const SEAL_V2: u8 = 2;

/// Which sealed versions [`MasterKey::open`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Version 2 only: a store that never held version 1 blobs.
    Current,
    /// Version 1 too, for records written before version 2.
    Legacy,
}

/// The key that seals every record's material.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

impl MasterKey {
    /// A master key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, StoreError> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(StoreError::Io(format!(
                "a master key is {MASTER_KEY_LEN} bytes, not {}",
                bytes.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Io("unusable master key".into()))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Reads the master key file, or creates it (mode 0600, fresh random bytes) when missing.
    /// An existing file readable or writable by others is refused. The service itself uses
    /// [`MasterKey::load`] and [`MasterKey::create`], creating only for an empty store.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, StoreError> {
        match MasterKey::load(path)? {
            Some(key) => Ok(key),
            None => MasterKey::create(path),
        }
    }

    /// Reads the master key file; `None` when there is no file at `path`. A file readable or
    /// writable by others is refused.
    pub fn load(path: &Path) -> Result<Option<MasterKey>, StoreError> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot inspect", path, e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::Io(format!(
                "the master key file {} has mode {mode:o}: only its owner may read it (chmod 600)",
                path.display()
            )));
        }
        let bytes =
            Zeroizing::new(std::fs::read(path).map_err(|e| io_error("cannot read", path, e))?);
        MasterKey::from_bytes(&bytes).map(Some)
    }

    /// Creates a new master key file (mode 0600 from the start, its directory 0700 when
    /// missing). Never overwrites a file: fails if one appeared meanwhile.
    pub fn create(path: &Path) -> Result<MasterKey, StoreError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        // Straight from the kernel: seeding aws-lc's generator costs tens of milliseconds,
        // which would otherwise delay a first start.
        getrandom::getrandom(&mut bytes[..])
            .map_err(|e| StoreError::Io(format!("no randomness for the master key: {e}")))?;
        crate::files::create_private_parent(path)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io_error("cannot create", path, e))?;
        file.write_all(&bytes[..])
            .map_err(|e| io_error("cannot write", path, e))?;
        file.sync_all()
            .map_err(|e| io_error("cannot sync", path, e))?;
        MasterKey::from_bytes(&bytes[..])
    }

    /// Seals `material` for the record `id` of `provider` with `attributes`.
    pub(crate) fn seal(
        &self,
        id: &KeyId,
        provider: u8,
        attributes: &[u8],
        material: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| StoreError::Io("no randomness".into()))?;
        // Sealed in place in a buffer of its final size: no copy of the material is made, or
        // left behind by a buffer growing.
        let mut out = Zeroizing::new(Vec::with_capacity(1 + NONCE_LEN + material.len() + TAG_LEN));
        out.push(SEAL_V2);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(material);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(SEAL_V2, id, provider, attributes)),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| StoreError::Io("sealing failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        // Sealed now: what it holds is no longer secret.
        Ok(std::mem::take(&mut *out))
    }

    /// Opens a sealed blob of the record `id` of `provider` with `attributes`.
    pub(crate) fn open(
        &self,
        id: &KeyId,
        provider: u8,
        attributes: &[u8],
        sealed: &[u8],
        accept: Accept,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let (&version, rest) = sealed.split_first().ok_or(StoreError::Corrupt)?;
        let known = version == SEAL_V2 || (version == SEAL_V1 && accept == Accept::Legacy);
        if !known || rest.len() < NONCE_LEN {
            return Err(StoreError::Corrupt);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Corrupt)?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain_len = self
            .key
            .open_in_place(
                nonce,
                Aad::from(associated_data(version, id, provider, attributes)),
                &mut body,
            )
            .map_err(|_| StoreError::Corrupt)?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }
}

/// Length-prefixed identity and provider (and, from version 2, attributes): no two records
/// share it.
fn associated_data(version: u8, id: &KeyId, provider: u8, attributes: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(40 + id.app.len() + id.name.len() + attributes.len());
    ad.extend_from_slice(if version == SEAL_V1 {
        b"parsec-key-v1"
    } else {
        b"parsec-key-v2"
    });
    ad.push(id.auth);
    ad.push(provider);
    let mut parts = vec![id.app.as_bytes(), id.name.as_bytes()];
    if version != SEAL_V1 {
        parts.push(attributes);
    }
    for part in parts {
        ad.extend_from_slice(&(part.len() as u64).to_le_bytes());
        ad.extend_from_slice(part);
    }
    ad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> KeyId {
        KeyId {
            auth: 1,
            app: "app".into(),
            name: name.into(),
        }
    }

    #[test]
    fn sealed_material_opens_only_for_its_own_record() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal(&id("a"), 1, b"attrs", b"secret").unwrap();
        assert_eq!(
            &key.open(&id("a"), 1, b"attrs", &sealed, Accept::Current)
                .unwrap()[..],
            b"secret"
        );
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert!(matches!(
            key.open(&id("b"), 1, b"attrs", &sealed, Accept::Current),
            Err(StoreError::Corrupt)
        ));
        assert!(matches!(
            key.open(&id("a"), 2, b"attrs", &sealed, Accept::Current),
            Err(StoreError::Corrupt)
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            key.open(&id("a"), 1, b"attrs", &tampered, Accept::Current),
            Err(StoreError::Corrupt)
        ));
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(matches!(
            other.open(&id("a"), 1, b"attrs", &sealed, Accept::Current),
            Err(StoreError::Corrupt)
        ));
        assert!(matches!(
            key.open(&id("a"), 1, b"attrs", &[], Accept::Current),
            Err(StoreError::Corrupt)
        ));
    }

    #[test]
    fn changed_attributes_do_not_open_and_old_blobs_open_only_where_allowed() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal(&id("a"), 1, b"sign only", b"secret").unwrap();
        assert!(matches!(
            key.open(&id("a"), 1, b"sign and export", &sealed, Accept::Legacy),
            Err(StoreError::Corrupt)
        ));
        // Its version byte set back to 1: the tag was made over version 2's data.
        let mut downgraded = sealed.clone();
        downgraded[0] = SEAL_V1;
        assert!(matches!(
            key.open(&id("a"), 1, b"sign only", &downgraded, Accept::Legacy),
            Err(StoreError::Corrupt)
        ));
        // A version 1 blob, as written before: read where legacy blobs are allowed.
        let mut nonce = [0u8; NONCE_LEN];
        nonce[0] = 9;
        let mut body = b"old secret".to_vec();
        let tag = key
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(SEAL_V1, &id("a"), 1, b"")),
                &mut body,
            )
            .unwrap();
        let old: Vec<u8> = [&[SEAL_V1][..], &nonce, &body, tag.as_ref()].concat();
        assert_eq!(
            &key.open(&id("a"), 1, b"any", &old, Accept::Legacy).unwrap()[..],
            b"old secret"
        );
        assert!(matches!(
            key.open(&id("a"), 1, b"any", &old, Accept::Current),
            Err(StoreError::Corrupt)
        ));
    }

    #[test]
    fn master_key_file_is_created_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = first.seal(&id("k"), 1, b"", b"m").unwrap();
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(
            &again
                .open(&id("k"), 1, b"", &sealed, Accept::Current)
                .unwrap()[..],
            b"m"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
