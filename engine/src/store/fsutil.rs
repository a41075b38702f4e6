//! Small filesystem primitives the store is built on: atomic writes, directory fsync,
//! random names and advisory file locks (std `File::lock`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a
/// torn file, also across a crash: temp file in the same dir, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("atomic write target has no parent"))?;
    let tmp = dir.join(format!(".tmp-{}", random_hex(8)));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes the whole filesystem holding `path` (one `syncfs` instead of an fsync per file:
/// the policy for unpacked layers, see docs/store.md).
pub fn syncfs(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    use std::os::fd::AsRawFd;
    nix::unistd::syncfs(f.as_raw_fd()).map_err(io::Error::from)
}

pub fn mkdir_private(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_err()
    {
        // /dev/urandom missing is not a reason to fail; names only need to be unique.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = nanos ^ (std::process::id() as u128) << 64;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8;
        }
    }
    hex::encode(buf)
}

/// An advisory lock on a lock file, released on drop. Lock order (see docs/store.md):
/// layer locks, then the metadata lock, then ingest locks.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
    }

    pub fn exclusive(path: &Path) -> io::Result<FileLock> {
        let f = Self::open(path)?;
        f.lock()?;
        Ok(FileLock {
            _file: f,
            path: path.to_path_buf(),
        })
    }

    pub fn shared(path: &Path) -> io::Result<FileLock> {
        let f = Self::open(path)?;
        f.lock_shared()?;
        Ok(FileLock {
            _file: f,
            path: path.to_path_buf(),
        })
    }

    /// `Ok(None)` when somebody else holds it.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<FileLock>> {
        let f = Self::open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(FileLock {
                _file: f,
                path: path.to_path_buf(),
            })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes a directory tree that the store owns. Symlinks inside are removed, not followed
/// (`remove_dir_all` does not follow them).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

pub fn dir_builder_private() -> fs::DirBuilder {
    let mut b = fs::DirBuilder::new();
    b.mode(0o700);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn try_lock_sees_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let held = FileLock::exclusive(&p).unwrap();
        assert!(FileLock::try_exclusive(&p).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_exclusive(&p).unwrap().is_some());
    }
}
