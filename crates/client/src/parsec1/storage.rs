//! Where a session keeps its state between runs: string values under uparsecjs's keys
//! (`.p1.SID`, `.p1.TSK`, `.p1.SCK`, spec §5.5), so the layouts agree.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{pbkdf2, rand};
use parsec_boss::Value;
use zeroize::Zeroizing;

/// String storage for session state.
pub trait Storage: Send + Sync {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`, replacing any value there.
    fn set(&self, key: &str, value: &str) -> io::Result<()>;
    /// Removes the value under `key`; removing a missing key is not an error.
    fn remove(&self, key: &str) -> io::Result<()>;
}

/// State in memory: the session lasts as long as the process.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    values: Mutex<BTreeMap<String, Zeroizing<String>>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Storage for MemoryStorage {
    fn get(&self, key: &str) -> Option<String> {
        lock(&self.values).get(key).map(|v| v.to_string())
    }
    fn set(&self, key: &str, value: &str) -> io::Result<()> {
        lock(&self.values).insert(key.into(), Zeroizing::new(value.into()));
        Ok(())
    }
    fn remove(&self, key: &str) -> io::Result<()> {
        lock(&self.values).remove(key);
        Ok(())
    }
}

/// State in a file (mode 0600), rewritten whole and atomically on every change: in the clear
/// ([`FileStorage::open`]; protect the file), or encrypted with a key derived from a password
/// ([`FileStorage::open_encrypted`]: PBKDF2-HMAC-SHA256, salted, [`PBKDF2_ROUNDS`] rounds, and
/// AES-256-GCM), for permanent sessions. uparsecjs's EncryptedSessionStorage serves the same
/// purpose; the file formats differ.
pub struct FileStorage {
    path: PathBuf,
    values: Mutex<BTreeMap<String, Zeroizing<String>>>,
    sealer: Option<Sealer>,
}

impl std::fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStorage")
            .field("path", &self.path)
            .field("encrypted", &self.sealer.is_some())
            .finish_non_exhaustive()
    }
}

/// Largest storage file read (the state is a few kilobytes).
const MAX_FILE: u64 = 1 << 20;

fn read_file(path: &Path) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_FILE => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {MAX_FILE} bytes", path.display()),
        )),
        Ok(_) => Ok(Some(Zeroizing::new(std::fs::read(path)?))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

fn encode_map(values: &BTreeMap<String, Zeroizing<String>>) -> Zeroizing<Vec<u8>> {
    let dict = Value::Dict(
        values
            .iter()
            .map(|(k, v)| (Value::Text(k.clone()), Value::Text(v.to_string())))
            .collect(),
    );
    Zeroizing::new(parsec_boss::encode(&dict).unwrap_or_default())
}

fn decode_map(path: &Path, bytes: &[u8]) -> io::Result<BTreeMap<String, Zeroizing<String>>> {
    let v = parsec_boss::decode(bytes).map_err(|_| invalid(path, "not a session state file"))?;
    v.as_dict()
        .ok_or_else(|| invalid(path, "not a session state file"))?
        .iter()
        .map(|(k, v)| match (k.as_str(), v.as_str()) {
            (Some(k), Some(v)) => Ok((k.to_string(), Zeroizing::new(v.to_string()))),
            _ => Err(invalid(path, "entries must be strings")),
        })
        .collect()
}

impl FileStorage {
    /// Opens the state in `path`, in the clear (the file is created at the first change).
    pub fn open(path: impl Into<PathBuf>) -> io::Result<FileStorage> {
        let path = path.into();
        let values = match read_file(&path)? {
            Some(bytes) => decode_map(&path, &bytes)?,
            None => BTreeMap::new(),
        };
        Ok(FileStorage {
            path,
            values: Mutex::new(values),
            sealer: None,
        })
    }

    /// Opens the state in `path`, encrypted under `password`. A wrong password or an altered
    /// file is an `InvalidData` error.
    pub fn open_encrypted(path: impl Into<PathBuf>, password: &str) -> io::Result<FileStorage> {
        let path = path.into();
        let Some(bytes) = read_file(&path)? else {
            let mut salt = [0u8; 16];
            rand::fill(&mut salt).map_err(|_| io::Error::other("no randomness"))?;
            return Ok(FileStorage {
                sealer: Some(Sealer::new(password, salt, PBKDF2_ROUNDS)?),
                path,
                values: Mutex::new(BTreeMap::new()),
            });
        };
        let (sealer, values) = Sealer::open(&path, &bytes, password)?;
        Ok(FileStorage {
            path,
            values: Mutex::new(values),
            sealer: Some(sealer),
        })
    }

    fn change(&self, f: impl FnOnce(&mut BTreeMap<String, Zeroizing<String>>)) -> io::Result<()> {
        let mut values = lock(&self.values);
        let mut next = values.clone();
        f(&mut next);
        let plain = encode_map(&next);
        match &self.sealer {
            None => write_file(&self.path, &plain)?,
            Some(sealer) => write_file(&self.path, &sealer.seal(plain)?)?,
        }
        *values = next;
        Ok(())
    }
}

impl Storage for FileStorage {
    fn get(&self, key: &str) -> Option<String> {
        lock(&self.values).get(key).map(|v| v.to_string())
    }
    fn set(&self, key: &str, value: &str) -> io::Result<()> {
        self.change(|m| {
            m.insert(key.into(), Zeroizing::new(value.into()));
        })
    }
    fn remove(&self, key: &str) -> io::Result<()> {
        self.change(|m| {
            m.remove(key);
        })
    }
}

/// PBKDF2 rounds for new files (OWASP's 2023 figure for HMAC-SHA256).
pub const PBKDF2_ROUNDS: u32 = 600_000;
/// Fewest rounds accepted from a file (so a tampered file cannot make the password cheap).
const MIN_ROUNDS: u32 = 100_000;
const MAX_ROUNDS: u32 = 10_000_000;
const AAD: &[u8] = b"parsec-rs session state";

/// The password-derived key of an encrypted state file, and its salt.
struct Sealer {
    key: LessSafeKey,
    salt: [u8; 16],
    rounds: u32,
}

impl Sealer {
    fn new(password: &str, salt: [u8; 16], rounds: u32) -> io::Result<Sealer> {
        let mut key = Zeroizing::new([0u8; 32]);
        let rounds = std::num::NonZeroU32::new(rounds).unwrap_or(std::num::NonZeroU32::MIN);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            password.as_bytes(),
            &mut key[..],
        );
        let unbound =
            UnboundKey::new(&AES_256_GCM, &key[..]).map_err(|_| io::Error::other("aes"))?;
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
            salt,
            rounds: rounds.get(),
        })
    }

    /// Reads a file written by [`Sealer::seal`].
    fn open(
        path: &Path,
        bytes: &[u8],
        password: &str,
    ) -> io::Result<(Sealer, BTreeMap<String, Zeroizing<String>>)> {
        let v =
            parsec_boss::decode(bytes).map_err(|_| invalid(path, "not an encrypted state file"))?;
        let field = |k| v.get(k).and_then(Value::as_bytes);
        let (Some(salt), Some(nonce), Some(sealed), Some(rounds)) = (
            field("salt"),
            field("nonce"),
            field("data"),
            v.get("rounds").and_then(Value::as_int),
        ) else {
            return Err(invalid(path, "not an encrypted state file"));
        };
        let salt: [u8; 16] = salt.try_into().map_err(|_| invalid(path, "bad salt"))?;
        let rounds = u32::try_from(rounds)
            .ok()
            .filter(|r| (MIN_ROUNDS..=MAX_ROUNDS).contains(r))
            .ok_or_else(|| invalid(path, "bad PBKDF2 rounds"))?;
        let sealer = Sealer::new(password, salt, rounds)?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid(path, "bad nonce"))?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain = sealer
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut buf)
            .map_err(|_| invalid(path, "wrong password, or the file was altered"))?;
        let values = decode_map(path, plain)?;
        // Later writes use the current number of rounds if the file had fewer.
        let sealer = if rounds < PBKDF2_ROUNDS {
            Sealer::new(password, salt, PBKDF2_ROUNDS)?
        } else {
            sealer
        };
        Ok((sealer, values))
    }

    fn seal(&self, mut plain: Zeroizing<Vec<u8>>) -> io::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| io::Error::other("no randomness"))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut *plain,
            )
            .map_err(|_| io::Error::other("encryption failed"))?;
        let file = Value::dict([
            ("rounds", Value::Int(self.rounds.into())),
            ("salt", Value::Bin(self.salt.to_vec())),
            ("nonce", Value::Bin(nonce.to_vec())),
            ("data", Value::Bin(plain.to_vec())),
        ]);
        parsec_boss::encode(&file).map_err(io::Error::other)
    }
}

impl<T: Storage + ?Sized> Storage for Box<T> {
    fn get(&self, key: &str) -> Option<String> {
        (**self).get(key)
    }
    fn set(&self, key: &str, value: &str) -> io::Result<()> {
        (**self).set(key, value)
    }
    fn remove(&self, key: &str) -> io::Result<()> {
        (**self).remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_storage_persists_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let s = FileStorage::open(&path).unwrap();
        assert_eq!(s.get(".p1.SID"), None);
        s.set(".p1.SID", "abc").unwrap();
        s.set(".p1.TSK", "xyz").unwrap();
        s.remove(".p1.TSK").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = FileStorage::open(&path).unwrap();
        assert_eq!(again.get(".p1.SID").as_deref(), Some("abc"));
        assert_eq!(again.get(".p1.TSK"), None);
        std::fs::write(&path, b"junk").unwrap();
        assert_eq!(
            FileStorage::open(&path).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn encrypted_storage_needs_the_password_and_detects_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.enc");
        let s = FileStorage::open_encrypted(&path, "correct horse").unwrap();
        s.set(".p1.SCK", "secret-key-material").unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert!(
            !raw.windows(6).any(|w| w == b"secret"),
            "stored in the clear"
        );
        let again = FileStorage::open_encrypted(&path, "correct horse").unwrap();
        assert_eq!(again.get(".p1.SCK").as_deref(), Some("secret-key-material"));
        let e = FileStorage::open_encrypted(&path, "wrong").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut altered = raw.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        std::fs::write(&path, &altered).unwrap();
        assert!(FileStorage::open_encrypted(&path, "correct horse").is_err());
    }
}
