//! The image index, `images.json`: which images exist, their references and layers.
//! Read freely; written only under the store's metadata lock, atomically.

use super::fsutil;
use super::{io_err, StoreError};
use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image ID: the digest of its config blob, as Docker's.
    pub id: Digest,
    /// The (single-platform) manifest the image was pulled or loaded with, kept in `blobs/`.
    #[serde(default)]
    pub manifest: Option<Digest>,
    /// Full names, `docker.io/library/busybox:latest`.
    #[serde(default)]
    pub repo_tags: Vec<String>,
    /// Full names with the manifest digest, `docker.io/library/busybox@sha256:..`.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// ChainIDs of its layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Digest>,
    /// Sum of the layers' unpacked sizes.
    #[serde(default)]
    pub size: u64,
    /// When it entered this store (RFC 3339).
    pub added: String,
    #[serde(default)]
    pub last_tag_time: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    images: Vec<ImageRecord>,
}

#[derive(Debug, Clone)]
pub struct ImageIndex {
    path: PathBuf,
}

impl ImageIndex {
    pub(super) fn new(path: PathBuf) -> Self {
        ImageIndex { path }
    }

    pub fn load(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(io_err("cannot read", &self.path))?,
        };
        let file: IndexFile = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        Ok(file.images)
    }

    /// Caller holds the metadata lock.
    pub fn save(&self, images: &[ImageRecord]) -> Result<(), StoreError> {
        let file = IndexFile {
            version: 1,
            images: images.to_vec(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        fsutil::write_atomic(&self.path, &json).map_err(io_err("cannot write", &self.path))
    }
}
