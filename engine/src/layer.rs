//! Making a layer from a blob stream, shared by pull, load and import: one pass that saves
//! and hashes the blob, decompresses, hashes the diff and unpacks it into a staging dir in
//! an ingest entry; then, once the caller has verified the digests and holds the layer's
//! lock, a commit that publishes layer and blob together.

use crate::digest::{Digest, HashingReader, TeeReader};
use crate::error::{Error, Result};
use crate::oci::Compression;
use crate::store::{Ingest, LayerBlob, LayerMeta, Store};
use crate::unpack::{unpack_layer, UnpackError, UnpackLimits};
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

/// A layer unpacked into an ingest entry, not yet visible.
pub(crate) struct StagedLayer {
    pub ingest: Ingest,
    pub dir: PathBuf,
    pub blob_path: PathBuf,
    /// Digest and length of the bytes as received (the blob).
    pub blob_digest: Digest,
    pub blob_size: u64,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Regular-file bytes written.
    pub size: u64,
}

pub(crate) enum StageError {
    Io(io::Error),
    Unpack(UnpackError),
    Store(Error),
}

/// Why staging failed, and, when the rest of the input could still be read, the digest and
/// length of the whole blob: corrupt bytes then read as what they are (a digest mismatch),
/// not as the tar error they caused.
pub(crate) struct StageFailure {
    pub error: StageError,
    pub blob: Option<(Digest, u64)>,
}

impl StageFailure {
    pub fn into_error(self, layer: &str, expected: Option<(&Digest, u64)>) -> Error {
        if let (Some((got, got_size)), Some((want, want_size))) = (&self.blob, expected) {
            if got_size != &want_size {
                return Error::Layer { layer: layer.to_string(), message: format!("blob is truncated or oversized: got {got_size} bytes, expected {want_size}") };
            }
            if got != want {
                return Error::Layer {
                    layer: layer.to_string(),
                    message: format!("content does not match its digest (got {got})"),
                };
            }
        }
        match self.error {
            StageError::Io(e) => Error::Layer {
                layer: layer.to_string(),
                message: format!("cannot read layer: {e}"),
            },
            StageError::Unpack(source) => Error::Unpack {
                layer: layer.to_string(),
                source,
            },
            StageError::Store(e) => e,
        }
    }
}

impl From<StageError> for StageFailure {
    fn from(error: StageError) -> Self {
        StageFailure { error, blob: None }
    }
}

/// Guesses compression from the first bytes, for archives that do not say (docker-archive,
/// `import`).
pub(crate) fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

pub(crate) fn media_type_for(c: Compression) -> &'static str {
    match c {
        Compression::None => crate::oci::media::OCI_LAYER,
        Compression::Gzip => crate::oci::media::OCI_LAYER_GZIP,
        Compression::Zstd => crate::oci::media::OCI_LAYER_ZSTD,
    }
}

/// The one pass over a layer's bytes. Blocking.
pub(crate) fn stage(
    store: &Store,
    input: impl Read,
    compression: Compression,
    limits: &UnpackLimits,
) -> std::result::Result<StagedLayer, StageFailure> {
    let ingest = store
        .new_ingest()
        .map_err(|e| StageError::Store(e.into()))?;
    let staged = store
        .layers()
        .prepare_in(ingest.dir())
        .map_err(|e| StageError::Store(e.into()))?;
    let (blob, blob_path) = ingest
        .create_file("blob")
        .map_err(|e| StageError::Store(e.into()))?;
    let mut compressed = HashingReader::new(TeeReader::new(
        input,
        BufWriter::with_capacity(256 << 10, blob),
    ));
    let unpacked = (|| {
        let decoder: Box<dyn Read + '_> = match compression {
            Compression::None => Box::new(&mut compressed),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(128 << 10, &mut compressed),
            )),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(&mut compressed).map_err(StageError::Io)?)
            }
        };
        let mut diff = HashingReader::new(decoder);
        let stats =
            unpack_layer(&mut diff, &staged.join("diff"), limits).map_err(StageError::Unpack)?;
        // Whatever follows the tar's end-of-archive still counts toward the digests.
        let (diff_id, _, _) = diff.finish().map_err(StageError::Io)?;
        Ok((diff_id, stats.size))
    })();
    let (diff_id, size) = match unpacked {
        Ok(v) => v,
        Err(error) => {
            // Read the rest so the caller can tell corrupt bytes from a malformed layer.
            let blob = compressed.finish().ok().map(|(d, n, _)| (d, n));
            return Err(StageFailure { error, blob });
        }
    };
    let (blob_digest, blob_size, tee) = compressed.finish().map_err(StageError::Io)?;
    let (_, mut writer) = tee.into_parts();
    writer.flush().map_err(StageError::Io)?;
    Ok(StagedLayer {
        ingest,
        dir: staged,
        blob_path,
        blob_digest,
        blob_size,
        diff_id,
        size,
    })
}

/// Publishes a verified staged layer under `chain_id` (caller holds its exclusive lock).
/// If the layer already exists, keeps the existing one.
pub(crate) fn commit(
    store: &Store,
    staged: StagedLayer,
    chain_id: &Digest,
    parent: Option<&Digest>,
    media_type: &str,
) -> Result<LayerMeta> {
    let layers = store.layers();
    if layers.is_complete(chain_id) {
        return Ok(layers.meta(chain_id)?);
    }
    let blob = LayerBlob {
        digest: staged.blob_digest.clone(),
        media_type: media_type.to_string(),
        size: staged.blob_size,
    };
    if !store.has_blob(&blob.digest) {
        store.commit_blob_file(&staged.blob_path, &blob.digest)?;
    }
    let meta = LayerMeta {
        chain_id: chain_id.clone(),
        diff_id: staged.diff_id.clone(),
        parent: parent.cloned(),
        size: staged.size,
        link: String::new(),
        blob: Some(blob),
    };
    let meta = layers.commit(&staged.dir, meta)?;
    drop(staged.ingest);
    Ok(meta)
}
