//! Files that hold secrets: created private from the first instant, never widened afterwards.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::StoreError;

pub(crate) fn io_error(what: &str, path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

/// Creates the missing directories above `path`, each mode 0700 (before the umask, which can
/// only narrow it). An existing directory is left as it is.
pub fn create_private_parent(path: &Path) -> Result<(), StoreError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("cannot create the directory", dir, e))
}

/// Makes sure the file at `path` exists, creating it mode 0600 (and its directories 0700) when
/// missing, so that a database library opening it afterwards never creates it with its own
/// mode. An existing file is not changed.
pub fn create_private_file(path: &Path) -> Result<(), StoreError> {
    create_private_parent(path)?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error("cannot create", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a").join("b").join("db.sqlite3");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a").join("b")), 0o700);
        assert_eq!(mode(&file), 0o600);
        // An existing file keeps its content and mode.
        std::fs::write(&file, b"data").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        create_private_file(&file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"data");
        assert_eq!(mode(&file), 0o640);
    }
}
