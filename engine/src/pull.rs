//! Pull: manifest resolution, then every missing layer downloaded in parallel and streamed
//! in one pass through the compressed-digest check, decompression, the diff-ID check and
//! the safe unpacker, straight into the layer store. Nothing becomes visible until verified;
//! the image enters the index last.

use crate::digest::{chain_ids, Digest};
use crate::error::{Error, Result};
use crate::layer;
use crate::oci::{self, Descriptor, ImageConfigFile, ParsedManifest, Platform};
use crate::reference::Reference;
use crate::registry::{error_chain, RegistryClient};
use crate::store::fsutil::FileLock;
use crate::store::{ImageRecord, Store};
use crate::unpack::UnpackLimits;
use crate::EngineInner;
use bollard_stubs::models::{CreateImageInfo, ProgressDetail};
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// The progress stream `create_image` returns: bollard's `CreateImageInfo` messages, then
/// the end of the stream, or one `Err` that ends it.
pub struct PullStream {
    rx: mpsc::Receiver<Result<CreateImageInfo>>,
}

impl futures_util::Stream for PullStream {
    type Item = Result<CreateImageInfo>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

#[derive(Clone)]
struct Progress {
    tx: mpsc::Sender<Result<CreateImageInfo>>,
}

impl Progress {
    async fn status(&self, id: Option<&str>, status: &str) {
        let _ = self
            .tx
            .send(Ok(CreateImageInfo {
                id: id.map(str::to_string),
                status: Some(status.to_string()),
                ..Default::default()
            }))
            .await;
    }
    async fn bytes(&self, id: &str, status: &str, current: u64, total: u64) {
        let info = CreateImageInfo {
            id: Some(id.to_string()),
            status: Some(status.to_string()),
            progress_detail: Some(ProgressDetail {
                current: Some(current as i64),
                total: Some(total as i64),
            }),
            ..Default::default()
        };
        let _ = self.tx.send(Ok(info)).await;
    }
}

pub(crate) fn start(
    engine: Arc<EngineInner>,
    reference: Reference,
    platform: Platform,
) -> PullStream {
    let (tx, rx) = mpsc::channel(256);
    let progress = Progress { tx: tx.clone() };
    tokio::spawn(async move {
        if let Err(e) = pull(&engine, &reference, &platform, &progress).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    PullStream { rx }
}

/// Whether a layer's content had to be fetched or was already in the store.
struct LayerPlan {
    desc: Descriptor,
    digest: Digest,
    diff_id: Digest,
    chain_id: Digest,
    parent: Option<Digest>,
    short: String,
}

async fn pull(
    engine: &EngineInner,
    r: &Reference,
    platform: &Platform,
    progress: &Progress,
) -> Result<ImageRecord> {
    let store = &engine.store;
    let limits = &engine.config.limits;
    let shown_ref = r.tag.clone().unwrap_or_else(|| r.registry_reference());
    progress
        .status(Some(&shown_ref), &format!("Pulling from {}", r.repository))
        .await;

    let client = RegistryClient::new(&engine.config, &r.registry)?;
    let top = client
        .get_manifest(r, &r.registry_reference(), limits.max_manifest_bytes)
        .await?;
    let mut manifest_bytes = top.bytes.clone();
    let mut manifest_digest = top.digest.clone();
    let manifest = match oci::parse_manifest(&top.bytes, top.content_type.as_deref())? {
        ParsedManifest::Image(m) => m,
        ParsedManifest::Index(index) => {
            let desc = oci::select_platform(&index, platform)?;
            let digest = desc.digest()?;
            let child = client
                .get_manifest(r, &digest.to_string(), limits.max_manifest_bytes)
                .await?;
            manifest_bytes = child.bytes.clone();
            manifest_digest = child.digest.clone();
            match oci::parse_manifest(
                &child.bytes,
                child
                    .content_type
                    .as_deref()
                    .or(Some(desc.media_type.as_str())),
            )? {
                ParsedManifest::Image(m) => m,
                ParsedManifest::Index(_) => {
                    return Err(Error::Manifest(oci::ManifestError::UnsupportedManifest(
                        "nested image index".into(),
                    )))
                }
            }
        }
    };

    // The config: small, fetched whole, verified, stored.
    let config_digest = manifest.config.digest()?;
    let config_bytes = if store.has_blob(&config_digest) {
        store.read_blob(&config_digest, limits.max_config_bytes)?
    } else {
        let b = client
            .get_blob_bytes(&r.repository, &config_digest, limits.max_config_bytes)
            .await?;
        store.put_blob(&b)?;
        b.to_vec()
    };
    let config = ImageConfigFile::parse(&config_bytes)?;
    let diff_ids = config.diff_ids()?;
    if diff_ids.len() != manifest.layers.len() {
        return Err(oci::ManifestError::LayerCount {
            diff_ids: diff_ids.len(),
            layers: manifest.layers.len(),
        }
        .into());
    }
    let chains = chain_ids(&diff_ids);
    let plans: Vec<LayerPlan> = manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, desc)| {
            let digest = desc.digest()?;
            Ok(LayerPlan {
                short: digest.short().to_string(),
                desc: desc.clone(),
                digest,
                diff_id: diff_ids[i].clone(),
                chain_id: chains[i].clone(),
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
            })
        })
        .collect::<Result<_>>()?;

    // Lock every layer of the image in ChainID order (no two pulls can wait on each other),
    // exclusive for the ones to download, shared for the ones we reuse.
    let (locks, missing) = lock_layers(store, &plans).await?;
    for p in &plans {
        if missing.contains(&p.chain_id) {
            progress.status(Some(&p.short), "Pulling fs layer").await;
        } else {
            progress.status(Some(&p.short), "Already exists").await;
        }
    }

    let client = Arc::new(client);
    let semaphore = Arc::new(Semaphore::new(
        engine.config.registries.max_concurrent_downloads.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for p in plans.iter().filter(|p| missing.contains(&p.chain_id)) {
        let (client, semaphore, progress, store) = (
            client.clone(),
            semaphore.clone(),
            progress.clone(),
            store.clone(),
        );
        let repo = r.repository.clone();
        let unpack_limits = UnpackLimits {
            max_bytes: limits.max_layer_bytes,
            max_entries: limits.max_layer_entries,
        };
        let plan = LayerPlan {
            desc: p.desc.clone(),
            digest: p.digest.clone(),
            diff_id: p.diff_id.clone(),
            chain_id: p.chain_id.clone(),
            parent: p.parent.clone(),
            short: p.short.clone(),
        };
        tasks.spawn(async move {
            let _permit = semaphore
                .acquire_owned()
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
            fetch_layer(&client, &repo, &store, &plan, unpack_limits, &progress).await
        });
    }
    let mut first_err = None;
    while let Some(res) = tasks.join_next().await {
        let res = res
            .map_err(|e| Error::Internal(format!("layer task failed: {e}")))
            .and_then(|r| r);
        if let Err(e) = res {
            if first_err.is_none() {
                first_err = Some(e);
                // Stop the other downloads: the image cannot be completed.
                tasks.abort_all();
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }

    if progress.tx.is_closed() {
        return Err(Error::Internal("the pull was cancelled".into()));
    }
    // Manifests into the content store, then the image into the index.
    store.put_blob(&manifest_bytes)?;
    if manifest_digest != top.digest {
        store.put_blob(&top.bytes)?;
    }
    let size: u64 = plans
        .iter()
        .map(|p| store.layers().meta(&p.chain_id).map(|m| m.size))
        .sum::<std::result::Result<u64, _>>()?;
    let repo_digest = format!("{}@{}", r.name(), top.digest);
    let (record, updated) = {
        let store = store.clone();
        let tagged = r.tagged();
        let record = ImageRecord {
            id: config_digest.clone(),
            manifest: Some(manifest_digest.clone()),
            repo_tags: tagged.into_iter().collect(),
            repo_digests: vec![repo_digest],
            layers: chains.clone(),
            size,
            added: crate::now_rfc3339(),
            last_tag_time: None,
        };
        tokio::task::spawn_blocking(move || crate::images::index_image(&store, record))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    drop(locks);
    crate::events::append(store, "image", "pull", &r.familiar(), &r.familiar(), "");
    progress
        .status(None, &format!("Digest: {}", top.digest))
        .await;
    let familiar = r.familiar();
    if updated || !missing.is_empty() {
        progress
            .status(
                None,
                &format!("Status: Downloaded newer image for {familiar}"),
            )
            .await;
    } else {
        progress
            .status(None, &format!("Status: Image is up to date for {familiar}"))
            .await;
    }
    Ok(record)
}

/// Takes the layer locks in ChainID order; returns them and the ChainIDs to download.
async fn lock_layers(store: &Store, plans: &[LayerPlan]) -> Result<(Vec<FileLock>, Vec<Digest>)> {
    let store = store.clone();
    let mut chains: Vec<Digest> = plans.iter().map(|p| p.chain_id.clone()).collect();
    chains.sort();
    chains.dedup();
    tokio::task::spawn_blocking(move || {
        let layers = store.layers();
        'retry: for _ in 0..5 {
            let mut locks = Vec::new();
            let mut missing = Vec::new();
            for chain in &chains {
                if layers.is_complete(chain) {
                    let lock = layers.lock_shared(chain)?;
                    if !layers.is_complete(chain) {
                        // Removed while we waited: start over, asking for it exclusively.
                        continue 'retry;
                    }
                    locks.push(lock);
                } else {
                    let lock = layers.lock_exclusive(chain)?;
                    // Another pull may have finished it while we waited.
                    if !layers.is_complete(chain) {
                        missing.push(chain.clone());
                    }
                    locks.push(lock);
                }
            }
            return Ok((locks, missing));
        }
        Err(Error::Internal(
            "layers kept changing while locking them; try the pull again".into(),
        ))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// Turns the async body stream into a blocking `Read` for the unpack thread.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(b)) => self.current = b,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

async fn fetch_layer(
    client: &RegistryClient,
    repo: &str,
    store: &Store,
    plan: &LayerPlan,
    limits: UnpackLimits,
    progress: &Progress,
) -> Result<()> {
    let layer_err = |message: String| Error::Layer {
        layer: plan.digest.to_string(),
        message,
    };
    let compression = oci::layer_compression(&plan.desc.media_type)?;
    let expected_size = plan.desc.size()?;

    let resp = client.get_blob(repo, &plan.digest).await?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(32);
    let store2 = store.clone();
    let unpack = tokio::task::spawn_blocking(move || {
        layer::stage(
            &store2,
            ChannelReader {
                rx,
                current: Bytes::new(),
            },
            compression,
            &limits,
        )
    });

    let mut body = resp.bytes_stream();
    let mut received: u64 = 0;
    let mut last_report = Instant::now() - Duration::from_secs(1);
    let mut transfer_error = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > expected_size {
                    let msg = format!(
                        "registry sent more than the {expected_size} bytes the manifest declares"
                    );
                    let _ = tx.send(Err(io::Error::other(msg.clone()))).await;
                    transfer_error = Some(layer_err(msg));
                    break;
                }
                if progress.tx.is_closed() {
                    // Nobody listens any more (the TUI cancelled): stop, keep nothing.
                    let msg = "the pull was cancelled".to_string();
                    let _ = tx.send(Err(io::Error::other(msg.clone()))).await;
                    transfer_error = Some(layer_err(msg));
                    break;
                }
                if tx.send(Ok(chunk)).await.is_err() {
                    break; // the unpacker failed; its error is reported below
                }
                if last_report.elapsed() >= Duration::from_millis(100) {
                    last_report = Instant::now();
                    progress
                        .bytes(&plan.short, "Downloading", received, expected_size)
                        .await;
                }
            }
            Err(e) => {
                let msg = format!(
                    "download interrupted after {received} of {expected_size} bytes: {}",
                    error_chain(&e)
                );
                let _ = tx.send(Err(io::Error::other(msg.clone()))).await;
                transfer_error = Some(layer_err(msg));
                break;
            }
        }
    }
    drop(tx);
    let staged = unpack.await.map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(e) = transfer_error {
        return Err(e);
    }
    let staged = staged.map_err(|e| {
        e.into_error(
            &plan.digest.to_string(),
            Some((&plan.digest, expected_size)),
        )
    })?;
    progress
        .bytes(&plan.short, "Downloading", received, expected_size)
        .await;
    progress
        .status(Some(&plan.short), "Verifying Checksum")
        .await;
    if staged.blob_size != expected_size {
        return Err(layer_err(format!(
            "blob is truncated or oversized: got {} bytes, the manifest declares {expected_size}",
            staged.blob_size
        )));
    }
    if staged.blob_digest != plan.digest {
        return Err(layer_err(format!(
            "downloaded content does not match its digest (got {})",
            staged.blob_digest
        )));
    }
    if staged.diff_id != plan.diff_id {
        return Err(layer_err(format!(
            "uncompressed content {} does not match the diff_id {} in the image config",
            staged.diff_id, plan.diff_id
        )));
    }
    progress
        .status(Some(&plan.short), "Download complete")
        .await;
    let (store2, chain, parent, media_type) = (
        store.clone(),
        plan.chain_id.clone(),
        plan.parent.clone(),
        plan.desc.media_type.clone(),
    );
    tokio::task::spawn_blocking(move || {
        layer::commit(&store2, staged, &chain, parent.as_ref(), &media_type)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    progress.status(Some(&plan.short), "Pull complete").await;
    Ok(())
}

/// A stream that only reports `e` (bad arguments to `create_image`).
pub(crate) fn failed(e: Error) -> PullStream {
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(Err(e));
    PullStream { rx }
}
