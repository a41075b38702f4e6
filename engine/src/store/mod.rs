//! The on-disk store (see docs/store.md): content-addressed blobs, an ingest area for
//! downloads in progress, unpacked layers keyed by ChainID, and the image index.

pub mod fsutil;
pub mod images;
pub mod layers;

use crate::digest::Digest;
use fsutil::{mkdir_private, FileLock};
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use images::{ImageIndex, ImageRecord};
pub use layers::{LayerBlob, LayerMeta, LayerStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store root {0} must be an absolute path")]
    RelativeRoot(PathBuf),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("blob {0} is not in the store")]
    BlobMissing(Digest),
    #[error("blob {digest} is larger than the {limit}-byte limit for its kind")]
    BlobTooLarge { digest: Digest, limit: u64 },
    #[error("store file {path} is corrupt: {message}; remove it or restore it from a backup")]
    Corrupt { path: PathBuf, message: String },
}

pub(crate) fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Handle on one store root and run dir. Cheap to clone; every operation re-reads disk
/// state, since other rdesk processes share it.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    runroot: PathBuf,
    /// `syncfs` each unpacked layer before it is marked complete (see docs/store.md).
    sync_layers: bool,
}

impl Store {
    /// Opens (creating if needed) the store and sweeps what crashed processes left behind:
    /// ingest entries nobody holds and layers without their completion marker.
    pub fn open(root: &Path, runroot: &Path) -> Result<Store, StoreError> {
        for p in [root, runroot] {
            if !p.is_absolute() {
                return Err(StoreError::RelativeRoot(p.to_path_buf()));
            }
        }
        let store = Store {
            root: root.to_path_buf(),
            runroot: runroot.to_path_buf(),
            sync_layers: false,
        };
        for dir in [root, runroot] {
            mkdir_private(dir).map_err(io_err("cannot create store directory", dir))?;
            // The root holds image content and, later, container filesystems: owner only.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(io_err("cannot set mode of", dir))?;
        }
        for dir in [
            store.blobs_dir(),
            store.ingest_dir(),
            store.layers().dir().to_path_buf(),
            store.layers().links_dir(),
            store.locks_dir(),
        ] {
            mkdir_private(&dir).map_err(io_err("cannot create store directory", &dir))?;
        }
        store.sweep()?;
        Ok(store)
    }

    /// Makes layer commits durable against power loss (one `syncfs` per layer).
    pub fn with_sync_layers(mut self, sync: bool) -> Store {
        self.sync_layers = sync;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn runroot(&self) -> &Path {
        &self.runroot
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }
    pub fn layers(&self) -> LayerStore {
        LayerStore::new(self.root.join("layers"), self.locks_dir(), self.sync_layers)
    }
    pub fn images(&self) -> ImageIndex {
        ImageIndex::new(self.root.join("images.json"))
    }

    /// The metadata lock: guards images.json and layer removal.
    pub fn lock_meta(&self) -> Result<FileLock, StoreError> {
        let p = self.locks_dir().join("meta");
        FileLock::exclusive(&p).map_err(io_err("cannot lock", &p))
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a blob, verifying its digest (the store is trusted, but a bit flip or a hand
    /// edit must not become a wrong image).
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, StoreError> {
        let p = self.blob_path(digest);
        let f = match fs::File::open(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::BlobMissing(digest.clone()))
            }
            other => other.map_err(io_err("cannot open blob", &p))?,
        };
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(io_err("cannot read blob", &p))?;
        if buf.len() as u64 > limit {
            return Err(StoreError::BlobTooLarge {
                digest: digest.clone(),
                limit,
            });
        }
        if Digest::of(&buf) != *digest {
            return Err(StoreError::Corrupt {
                path: p,
                message: "content does not match its digest".into(),
            });
        }
        Ok(buf)
    }

    /// Stores bytes whose digest the caller computed or verified.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        let p = self.blob_path(&digest);
        if !p.exists() {
            fsutil::write_atomic(&p, bytes).map_err(io_err("cannot write blob", &p))?;
        }
        Ok(digest)
    }

    /// Moves a verified file from an ingest entry into the content store.
    pub fn commit_blob_file(&self, file: &Path, digest: &Digest) -> Result<(), StoreError> {
        let dst = self.blob_path(digest);
        fs::rename(file, &dst).map_err(io_err("cannot commit blob", &dst))?;
        Ok(())
    }

    pub fn remove_blob(&self, digest: &Digest) -> Result<(), StoreError> {
        let p = self.blob_path(digest);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_err("cannot remove blob", &p)(e))
            }
            _ => Ok(()),
        }
    }

    /// A fresh ingest entry, locked for as long as the returned value lives.
    pub fn new_ingest(&self) -> Result<Ingest, StoreError> {
        let name = fsutil::random_hex(12);
        let dir = self.ingest_dir().join(&name);
        mkdir_private(&dir).map_err(io_err("cannot create ingest entry", &dir))?;
        let lock_path = dir.join("lock");
        let lock = FileLock::exclusive(&lock_path)
            .map_err(io_err("cannot lock ingest entry", &lock_path))?;
        Ok(Ingest { dir, _lock: lock })
    }

    fn sweep(&self) -> Result<(), StoreError> {
        let ingest = self.ingest_dir();
        let entries = fs::read_dir(&ingest).map_err(io_err("cannot list", &ingest))?;
        for entry in entries.flatten() {
            let dir = entry.path();
            let lock_path = dir.join("lock");
            if !lock_path.exists() {
                // Maybe being created this instant: leave young entries alone.
                let young = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|t| {
                        SystemTime::now().duration_since(t).unwrap_or_default()
                            < Duration::from_secs(60)
                    })
                    .unwrap_or(true);
                if !young {
                    let _ = fsutil::remove_tree(&dir);
                }
                continue;
            }
            if let Ok(Some(_held)) = FileLock::try_exclusive(&lock_path) {
                let _ = fsutil::remove_tree(&dir);
            }
        }
        self.layers().sweep_incomplete()
    }
}

/// A download in progress: a private directory under `ingest/`, locked while it lives and
/// removed when dropped (whatever was not committed out of it is garbage).
#[derive(Debug)]
pub struct Ingest {
    dir: PathBuf,
    _lock: FileLock,
}

impl Ingest {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn create_file(&self, name: &str) -> Result<(fs::File, PathBuf), StoreError> {
        let p = self.dir.join(name);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(io_err("cannot create", &p))?;
        Ok((f, p))
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = fsutil::remove_tree(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_private_layout_and_sweeps_abandoned_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let run = dir.path().join("run");
        let store = Store::open(&root, &run).unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );

        let held = store.new_ingest().unwrap();
        let abandoned = store.ingest_dir().join("dead");
        fs::create_dir(&abandoned).unwrap();
        fs::write(abandoned.join("lock"), b"").unwrap();
        fs::write(abandoned.join("blob"), b"partial").unwrap();

        Store::open(&root, &run).unwrap();
        assert!(!abandoned.exists(), "an entry nobody holds is swept");
        assert!(
            held.dir().exists(),
            "an entry a live download holds is kept"
        );
        drop(held);
    }

    #[test]
    fn blobs_are_verified_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r"), &dir.path().join("u")).unwrap();
        let d = store.put_blob(b"{}").unwrap();
        assert_eq!(store.read_blob(&d, 10).unwrap(), b"{}");
        assert!(matches!(
            store.read_blob(&d, 1),
            Err(StoreError::BlobTooLarge { .. })
        ));
        fs::write(store.blob_path(&d), b"[]").unwrap();
        assert!(matches!(
            store.read_blob(&d, 10),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(Store::open(Path::new("rel"), Path::new("/run/x")).is_err());
    }
}
