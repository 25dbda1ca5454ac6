//! The service's Unix socket, bound as upstream deployments expect: the socket systemd passed
//! (socket activation), or a path whose directory is created and whose stale socket is
//! replaced, never a live one.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// A listening socket and whether we own its path (and so remove it on exit).
pub struct Listener {
    pub listener: UnixListener,
    /// The path we bound, or `None` when systemd passed the socket to us.
    pub bound_path: Option<PathBuf>,
}

/// Takes the socket systemd passed (`LISTEN_FDS`), or binds `path`.
pub fn listen(path: &Path) -> anyhow::Result<Listener> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() > 0 {
        let std_listener = fds
            .take_unix_listener(0)
            .context("LISTEN_FDS is set but descriptor 3 is not a Unix stream socket")?
            .context("LISTEN_FDS is set but descriptor 3 was already taken")?;
        tracing::info!("using the socket passed by systemd");
        return Ok(Listener {
            listener: std_listener,
            bound_path: None,
        });
    }
    prepare_directory(path)?;
    remove_stale_socket(path)?;
    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot bind the socket {}", path.display()))?;
    // Access control rests on the directory (upstream deployment rule); the socket is 0666.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    Ok(Listener {
        listener,
        bound_path: Some(path.to_path_buf()),
    })
}

/// Creates the socket's directory (0755) if missing; warns when others may write to it.
fn prepare_directory(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode();
            if mode & 0o022 != 0 && mode & 0o1000 == 0 {
                tracing::warn!(
                    "the socket directory {} is writable by other users (mode {:o}): they could replace the socket",
                    dir.display(),
                    mode & 0o7777
                );
            }
            Ok(())
        }
        Ok(_) => bail!("{} exists and is not a directory", dir.display()),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the socket directory {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", dir.display())),
    }
}

/// Removes a socket left by a service that is gone. Refuses to touch anything that is not a
/// socket, or a socket that a live service still answers on.
fn remove_stale_socket(path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", path.display())),
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{} exists and is not a socket: refusing to replace it",
            path.display()
        );
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => bail!("another service is already listening on {}", path.display()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            tracing::info!("removing the stale socket {}", path.display());
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale socket {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot check the socket {}", path.display())),
    }
}
