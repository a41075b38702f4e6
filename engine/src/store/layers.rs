//! Unpacked layers, keyed by ChainID: `layers/<chain-hex>/{diff/, meta.json, link, complete}`
//! plus `layers/l/<short>` -> `../<chain-hex>/diff`, so overlay `lowerdir` option strings stay
//! short (the kernel caps mount options at one page). `complete` is written last; a layer
//! without it is invisible and swept on open.

use super::fsutil::{self, FileLock};
use super::{io_err, StoreError};
use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

const COMPLETE: &str = "complete";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerMeta {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Bytes of regular-file content in the diff.
    pub size: u64,
    /// Short name under `layers/l/`.
    pub link: String,
    /// The compressed (or plain) blob this layer was unpacked from, kept in `blobs/` for as
    /// long as the layer lives so `save` can write it out unchanged.
    #[serde(default)]
    pub blob: Option<LayerBlob>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerBlob {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
    locks: PathBuf,
    sync: bool,
}

impl LayerStore {
    pub(super) fn new(dir: PathBuf, locks: PathBuf, sync: bool) -> Self {
        LayerStore { dir, locks, sync }
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn links_dir(&self) -> PathBuf {
        self.dir.join("l")
    }
    pub fn layer_dir(&self, chain: &Digest) -> PathBuf {
        self.dir.join(chain.hex())
    }
    pub fn diff_dir(&self, chain: &Digest) -> PathBuf {
        self.layer_dir(chain).join("diff")
    }
    pub fn is_complete(&self, chain: &Digest) -> bool {
        self.layer_dir(chain).join(COMPLETE).exists()
    }

    pub fn meta(&self, chain: &Digest) -> Result<LayerMeta, StoreError> {
        let p = self.layer_dir(chain).join("meta.json");
        let bytes = fs::read(&p).map_err(io_err("cannot read layer metadata", &p))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: p,
            message: e.to_string(),
        })
    }

    fn lock_path(&self, chain: &Digest) -> PathBuf {
        self.locks.join(format!("layer-{}", chain.hex()))
    }
    /// Held while a layer is being created (one unpacker per ChainID at a time).
    pub fn lock_exclusive(&self, chain: &Digest) -> Result<FileLock, StoreError> {
        let p = self.lock_path(chain);
        FileLock::exclusive(&p).map_err(io_err("cannot lock layer", &p))
    }
    /// Held by a pull from the moment it relies on a layer until the image is indexed, so a
    /// concurrent prune cannot free it in between.
    pub fn lock_shared(&self, chain: &Digest) -> Result<FileLock, StoreError> {
        let p = self.lock_path(chain);
        FileLock::shared(&p).map_err(io_err("cannot lock layer", &p))
    }
    pub fn try_lock_exclusive(&self, chain: &Digest) -> Result<Option<FileLock>, StoreError> {
        let p = self.lock_path(chain);
        FileLock::try_exclusive(&p).map_err(io_err("cannot lock layer", &p))
    }

    /// Creates `<ingest>/layer/diff` to unpack into; returns the `layer` dir.
    pub fn prepare_in(&self, ingest_dir: &Path) -> Result<PathBuf, StoreError> {
        let layer = ingest_dir.join("layer");
        let diff = layer.join("diff");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&diff)
            .map_err(io_err("cannot create", &diff))?;
        Ok(layer)
    }

    /// Publishes an unpacked layer: metadata, short link, (with `[store] sync_layers`) one
    /// syncfs, the completion marker,
    /// then an atomic rename into place. Caller holds the layer's exclusive lock.
    pub fn commit(&self, staged: &Path, mut meta: LayerMeta) -> Result<LayerMeta, StoreError> {
        let link = fsutil::random_hex(6);
        meta.link = link.clone();
        let chain_id = &meta.chain_id.clone();
        let meta_path = staged.join("meta.json");
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| StoreError::Corrupt {
            path: meta_path.clone(),
            message: e.to_string(),
        })?;
        fs::write(&meta_path, json).map_err(io_err("cannot write", &meta_path))?;
        fs::write(staged.join("link"), &link).map_err(io_err("cannot write", staged))?;
        if self.sync {
            // One syncfs for the whole unpacked tree instead of an fsync per file.
            fsutil::syncfs(staged).map_err(io_err("cannot sync", staged))?;
        }
        let marker = staged.join(COMPLETE);
        fs::write(&marker, b"").map_err(io_err("cannot write", &marker))?;
        let dst = self.layer_dir(chain_id);
        if dst.exists() {
            // Left over from a removal that crashed: it has no marker (or we would not be here).
            fsutil::remove_tree(&dst).map_err(io_err("cannot remove stale layer", &dst))?;
        }
        fs::rename(staged, &dst).map_err(io_err("cannot publish layer", &dst))?;
        let link_path = self.links_dir().join(&link);
        std::os::unix::fs::symlink(format!("../{}/diff", chain_id.hex()), &link_path)
            .map_err(io_err("cannot create layer link", &link_path))?;
        fsutil::sync_dir(&self.dir).map_err(io_err("cannot sync", &self.dir))?;
        Ok(meta)
    }

    /// Removes a layer: marker first, so a crash half-way leaves an incomplete layer that
    /// the next open sweeps. Caller holds the metadata lock and the layer's exclusive lock.
    pub fn remove(&self, chain: &Digest) -> Result<(), StoreError> {
        let dir = self.layer_dir(chain);
        let link = fs::read_to_string(dir.join("link")).ok();
        match fs::remove_file(dir.join(COMPLETE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err("cannot remove", &dir)(e))
            }
            _ => {}
        }
        if let Some(link) =
            link.filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit()))
        {
            let _ = fs::remove_file(self.links_dir().join(link));
        }
        fsutil::remove_tree(&dir).map_err(io_err("cannot remove layer", &dir))?;
        let _ = fs::remove_file(self.lock_path(chain));
        Ok(())
    }

    /// Every complete layer.
    pub fn list(&self) -> Result<Vec<LayerMeta>, StoreError> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(io_err("cannot list", &self.dir))?;
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(chain) = name.to_str().and_then(|n| Digest::from_hex(n).ok()) else {
                continue;
            };
            if self.is_complete(&chain) {
                out.push(self.meta(&chain)?);
            }
        }
        Ok(out)
    }

    pub(super) fn sweep_incomplete(&self) -> Result<(), StoreError> {
        let rd = fs::read_dir(&self.dir).map_err(io_err("cannot list", &self.dir))?;
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(chain) = name.to_str().and_then(|n| Digest::from_hex(n).ok()) else {
                continue;
            };
            if !self.is_complete(&chain) {
                if let Some(_held) = self.try_lock_exclusive(&chain)? {
                    self.remove(&chain)?;
                }
            }
        }
        // Dangling short links (their layer went away mid-removal).
        if let Ok(rd) = fs::read_dir(self.links_dir()) {
            for entry in rd.flatten() {
                if !entry.path().exists() {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    #[test]
    fn commit_publishes_and_remove_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r"), &dir.path().join("u")).unwrap();
        let layers = store.layers();
        let ingest = store.new_ingest().unwrap();
        let staged = layers.prepare_in(ingest.dir()).unwrap();
        fs::write(staged.join("diff/hello"), b"hi").unwrap();
        let chain = Digest::of(b"layer");
        let _lock = layers.lock_exclusive(&chain).unwrap();
        let meta = LayerMeta {
            chain_id: chain.clone(),
            diff_id: chain.clone(),
            parent: None,
            size: 2,
            link: String::new(),
            blob: None,
        };
        let meta = layers.commit(&staged, meta).unwrap();
        assert!(layers.is_complete(&chain));
        assert_eq!(
            fs::read(layers.links_dir().join(&meta.link).join("hello")).unwrap(),
            b"hi"
        );
        assert_eq!(layers.list().unwrap(), vec![meta.clone()]);
        layers.remove(&chain).unwrap();
        assert!(!layers.layer_dir(&chain).exists());
        assert!(!layers.links_dir().join(&meta.link).exists());
    }

    #[test]
    fn incomplete_layers_are_swept_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (r, u) = (dir.path().join("r"), dir.path().join("u"));
        let store = Store::open(&r, &u).unwrap();
        let chain = Digest::of(b"half");
        fs::create_dir_all(store.layers().diff_dir(&chain)).unwrap();
        Store::open(&r, &u).unwrap();
        assert!(!store.layers().layer_dir(&chain).exists());
    }
}
