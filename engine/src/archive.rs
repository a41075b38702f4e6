//! Image archives: `save` (a tar that is both a docker-archive and an OCI image layout, as
//! Docker 25+ writes), `load` (either format) and `import` (a rootfs tarball as a one-layer
//! image). Archive members are never unpacked onto the filesystem by name: regular files are
//! copied into a private ingest entry under generated names, then read by content.

use crate::config::EngineConfig;
use crate::digest::{chain_ids, Digest};
use crate::error::{Error, Result};
use crate::images;
use crate::layer;
use crate::oci::{
    self, media, Descriptor, ImageConfigFile, ImageManifest, ParsedManifest, Platform,
};
use crate::options::ImportImageOptions;
use crate::reference::{familiarize, Reference};
use crate::store::{ImageRecord, Store};
use crate::unpack::UnpackLimits;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

fn archive_err(what: &str, message: impl std::fmt::Display) -> Error {
    Error::Archive {
        what: what.to_string(),
        message: message.to_string(),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DockerArchiveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn unpack_limits(config: &EngineConfig) -> UnpackLimits {
    UnpackLimits {
        max_bytes: config.limits.max_layer_bytes,
        max_entries: config.limits.max_layer_entries,
    }
}

/// The manifest we write for an image: its config and the blobs its layers came from.
fn manifest_for(store: &Store, rec: &ImageRecord) -> Result<(Vec<u8>, Vec<Descriptor>)> {
    let config_size = std::fs::metadata(store.blob_path(&rec.id))
        .map_err(|e| archive_err("config blob", e))?
        .len();
    let mut layers = Vec::new();
    for chain in &rec.layers {
        let meta = store.layers().meta(chain)?;
        let blob = meta.blob.ok_or_else(|| {
            archive_err(
                &format!("layer {chain}"),
                "its original blob is not in the store; pull the image again",
            )
        })?;
        layers.push(Descriptor {
            media_type: blob.media_type,
            digest: blob.digest.to_string(),
            size: blob.size as i64,
            urls: None,
            platform: None,
            annotations: None,
        });
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: media::OCI_CONFIG.into(),
            digest: rec.id.to_string(),
            size: config_size as i64,
            urls: None,
            platform: None,
            annotations: None,
        },
        layers: layers.clone(),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((bytes, layers))
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, bytes)
        .map_err(|e| archive_err("writing archive", e))
}

fn append_blob<W: Write>(
    tar: &mut tar::Builder<W>,
    store: &Store,
    digest: &Digest,
    written: &mut Vec<Digest>,
) -> Result<()> {
    if written.contains(digest) {
        return Ok(());
    }
    let path = store.blob_path(digest);
    let mut f = File::open(&path)
        .map_err(|_| archive_err(&format!("blob {digest}"), "missing from the store"))?;
    let len = f.metadata().map_err(|e| archive_err("blob", e))?.len();
    let mut h = tar::Header::new_ustar();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, format!("blobs/sha256/{}", digest.hex()), &mut f)
        .map_err(|e| archive_err("writing archive", e))?;
    written.push(digest.clone());
    Ok(())
}

/// `docker save`: every named image (by tag, digest or ID) into one tar.
pub fn save(store: &Store, names: &[String], out: &mut dyn Write) -> Result<()> {
    let records = store.images().load()?;
    let mut chosen: Vec<(usize, Option<String>)> = Vec::new();
    for name in names {
        let (i, how) = images::find(&records, name)?;
        let tag = match how {
            images::Match::Tag(t) => Some(t),
            _ => None,
        };
        chosen.push((i, tag));
    }
    let mut tar = tar::Builder::new(out);
    let mut written = Vec::new();
    let mut docker_manifest: Vec<DockerArchiveEntry> = Vec::new();
    let mut index_entries = Vec::new();
    for (i, tag) in &chosen {
        let rec = &records[*i];
        let (manifest, layers) = manifest_for(store, rec)?;
        let manifest_digest = Digest::of(&manifest);
        append_blob(&mut tar, store, &rec.id, &mut written)?;
        for l in &layers {
            append_blob(&mut tar, store, &l.digest()?, &mut written)?;
        }
        if !written.contains(&manifest_digest) {
            append_bytes(
                &mut tar,
                &format!("blobs/sha256/{}", manifest_digest.hex()),
                &manifest,
            )?;
            written.push(manifest_digest.clone());
        }
        // Saving by ID keeps every tag, by tag only that one (as Docker).
        let tags: Vec<String> = match tag {
            Some(t) => vec![t.clone()],
            None => rec.repo_tags.clone(),
        };
        let entry = docker_manifest
            .iter_mut()
            .find(|e| e.config == format!("blobs/sha256/{}", rec.id.hex()));
        match entry {
            Some(e) => e
                .repo_tags
                .get_or_insert_with(Vec::new)
                .extend(tags.iter().map(|t| familiarize(t))),
            None => docker_manifest.push(DockerArchiveEntry {
                config: format!("blobs/sha256/{}", rec.id.hex()),
                repo_tags: Some(tags.iter().map(|t| familiarize(t)).collect()),
                layers: layers
                    .iter()
                    .map(|l| format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:")))
                    .collect(),
            }),
        }
        let descriptor = |annotations: Option<BTreeMap<String, String>>| Descriptor {
            media_type: media::OCI_MANIFEST.into(),
            digest: manifest_digest.to_string(),
            size: manifest.len() as i64,
            urls: None,
            platform: None,
            annotations,
        };
        if tags.is_empty() {
            index_entries.push(descriptor(None));
        }
        for t in &tags {
            let mut a = BTreeMap::new();
            a.insert("io.containerd.image.name".to_string(), t.clone());
            if let Ok(r) = Reference::parse(t) {
                a.insert(
                    "org.opencontainers.image.ref.name".to_string(),
                    r.tag.unwrap_or_default(),
                );
            }
            index_entries.push(descriptor(Some(a)));
        }
    }
    let index = oci::ImageIndexManifest {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        manifests: index_entries,
    };
    append_bytes(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&index).map_err(|e| Error::Internal(e.to_string()))?,
    )?;
    append_bytes(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&docker_manifest).map_err(|e| Error::Internal(e.to_string()))?,
    )?;
    append_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    tar.into_inner()
        .and_then(|w| w.flush())
        .map_err(|e| archive_err("writing archive", e))?;
    Ok(())
}

/// Members of an archive copied into an ingest entry, looked up by their (normalized) name.
struct Members {
    _ingest: crate::store::Ingest,
    files: HashMap<String, PathBuf>,
}

impl Members {
    fn read(input: impl Read, store: &Store) -> Result<Members> {
        let ingest = store.new_ingest()?;
        let mut files = HashMap::new();
        let mut archive = tar::Archive::new(input);
        let entries = archive.entries().map_err(|e| archive_err("archive", e))?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| archive_err("archive", e))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| archive_err("archive", e))?
                .into_owned();
            let Some(name) = normalize_member(&path) else {
                continue;
            };
            let dst = ingest.dir().join(format!("m{n}"));
            let mut f = File::create(&dst).map_err(|e| archive_err("ingest", e))?;
            io::copy(&mut entry, &mut f).map_err(|e| archive_err("archive", e))?;
            files.insert(name, dst);
        }
        Ok(Members {
            _ingest: ingest,
            files,
        })
    }

    fn get(&self, name: &str) -> Option<&PathBuf> {
        normalize_member(Path::new(name)).and_then(|n| self.files.get(&n))
    }

    fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let p = self
            .get(name)
            .ok_or_else(|| archive_err("archive", format!("member {name} is missing")))?;
        let mut buf = Vec::new();
        File::open(p)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
            .map_err(|e| archive_err(name, e))?;
        if buf.len() as u64 > limit {
            return Err(archive_err(
                name,
                format!("larger than the {limit}-byte limit"),
            ));
        }
        Ok(buf)
    }

    fn blob(&self, digest: &Digest) -> Option<&PathBuf> {
        self.files.get(&format!("blobs/sha256/{}", digest.hex()))
    }
}

/// `a/./b/../c` -> `a/c`; names that leave the archive root are dropped.
fn normalize_member(p: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// One image found in an archive: its config and its layer files, in order.
struct ArchiveImage {
    config: Vec<u8>,
    layers: Vec<PathBuf>,
    tags: Vec<String>,
}

/// `docker load`: a docker-archive (manifest.json) or an OCI image layout (index.json).
pub fn load(store: &Store, config: &EngineConfig, input: &Path) -> Result<Vec<String>> {
    let file = File::open(input).map_err(|e| archive_err(&input.display().to_string(), e))?;
    let members = Members::read(decompressed(BufReader::new(file))?, store)?;
    let mut found = Vec::new();
    if members.get("manifest.json").is_some() {
        let bytes = members.read_small("manifest.json", config.limits.max_manifest_bytes)?;
        let entries: Vec<DockerArchiveEntry> =
            serde_json::from_slice(&bytes).map_err(|e| archive_err("manifest.json", e))?;
        for e in entries {
            let config_bytes = members.read_small(&e.config, config.limits.max_config_bytes)?;
            let layers = e
                .layers
                .iter()
                .map(|l| {
                    members.get(l).cloned().ok_or_else(|| {
                        archive_err(
                            "archive",
                            format!("layer {l} named in manifest.json is missing"),
                        )
                    })
                })
                .collect::<Result<_>>()?;
            found.push(ArchiveImage {
                config: config_bytes,
                layers,
                tags: e.repo_tags.unwrap_or_default(),
            });
        }
    } else if members.get("index.json").is_some() {
        let bytes = members.read_small("index.json", config.limits.max_manifest_bytes)?;
        let index = match oci::parse_manifest(&bytes, Some(media::OCI_INDEX))? {
            ParsedManifest::Index(i) => i,
            ParsedManifest::Image(_) => {
                return Err(archive_err("index.json", "is not an image index"))
            }
        };
        for desc in &index.manifests {
            let tag = desc
                .annotations
                .as_ref()
                .and_then(|a| {
                    a.get("io.containerd.image.name")
                        .or_else(|| a.get("org.opencontainers.image.ref.name"))
                })
                .filter(|n| Reference::parse(n).is_ok() && (n.contains('/') || n.contains(':')))
                .cloned();
            let image = load_oci_manifest(&members, config, desc, 0)?;
            found.push(ArchiveImage {
                tags: tag.into_iter().collect(),
                ..image
            });
        }
    } else {
        return Err(archive_err(&input.display().to_string(), "is neither a docker-archive (no manifest.json) nor an OCI image layout (no index.json)"));
    }
    let mut loaded = Vec::new();
    for image in found {
        let id = store_image(
            store,
            config,
            &image.config,
            &image.layers,
            &image.tags,
            None,
        )?;
        if image.tags.is_empty() {
            loaded.push(format!("ID: {id}"));
        }
        loaded.extend(image.tags.iter().map(|t| {
            familiarize(
                &Reference::parse(t)
                    .map(|r| r.to_string())
                    .unwrap_or_else(|_| t.clone()),
            )
        }));
    }
    Ok(loaded)
}

fn load_oci_manifest(
    members: &Members,
    config: &EngineConfig,
    desc: &Descriptor,
    depth: u8,
) -> Result<ArchiveImage> {
    let digest = desc.digest()?;
    let path = members
        .blob(&digest)
        .ok_or_else(|| archive_err("archive", format!("blob {digest} is missing")))?;
    let bytes = members.read_small(&path_name(members, path), config.limits.max_manifest_bytes)?;
    if Digest::of(&bytes) != digest {
        return Err(archive_err(
            &format!("manifest {digest}"),
            "does not match its digest",
        ));
    }
    match oci::parse_manifest(&bytes, Some(&desc.media_type))? {
        ParsedManifest::Index(i) if depth == 0 => {
            let d = oci::select_platform(&i, &Platform::host())?.clone();
            load_oci_manifest(members, config, &d, 1)
        }
        ParsedManifest::Index(_) => Err(archive_err(
            "archive",
            "nested image indexes are not supported",
        )),
        ParsedManifest::Image(m) => {
            let cd = m.config.digest()?;
            let cpath = members
                .blob(&cd)
                .ok_or_else(|| archive_err("archive", format!("config blob {cd} is missing")))?;
            let config_bytes =
                members.read_small(&path_name(members, cpath), config.limits.max_config_bytes)?;
            if Digest::of(&config_bytes) != cd {
                return Err(archive_err(
                    &format!("config {cd}"),
                    "does not match its digest",
                ));
            }
            let layers =
                m.layers
                    .iter()
                    .map(|l| {
                        let d = l.digest()?;
                        members.blob(&d).cloned().ok_or_else(|| {
                            archive_err("archive", format!("layer blob {d} is missing"))
                        })
                    })
                    .collect::<Result<_>>()?;
            Ok(ArchiveImage {
                config: config_bytes,
                layers,
                tags: vec![],
            })
        }
    }
}

fn path_name(members: &Members, p: &Path) -> String {
    members
        .files
        .iter()
        .find(|(_, v)| v.as_path() == p)
        .map(|(k, _)| k.clone())
        .unwrap_or_default()
}

/// Looks at the first bytes for a compression magic, then rewinds.
fn sniff<R: Read + Seek>(r: &mut R, what: &str) -> Result<oci::Compression> {
    let mut head = [0u8; 4];
    let n = r.read(&mut head).map_err(|e| archive_err(what, e))?;
    r.seek(io::SeekFrom::Start(0))
        .map_err(|e| archive_err(what, e))?;
    Ok(layer::sniff_compression(&head[..n]))
}

/// Accepts a gzip- or zstd-compressed archive as Docker's load does.
fn decompressed<R: Read + Seek + Send + 'static>(mut r: R) -> Result<Box<dyn Read + Send>> {
    Ok(match sniff(&mut r, "archive")? {
        oci::Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        oci::Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(r).map_err(|e| archive_err("archive", e))?)
        }
        oci::Compression::None => Box::new(r),
    })
}

/// Unpacks and verifies each layer file against the config's diff_ids, then indexes the image.
fn store_image(
    store: &Store,
    config: &EngineConfig,
    config_bytes: &[u8],
    layer_files: &[PathBuf],
    tags: &[String],
    manifest: Option<Digest>,
) -> Result<Digest> {
    let parsed = ImageConfigFile::parse(config_bytes)?;
    let diff_ids = parsed.diff_ids()?;
    if diff_ids.len() != layer_files.len() {
        return Err(oci::ManifestError::LayerCount {
            diff_ids: diff_ids.len(),
            layers: layer_files.len(),
        }
        .into());
    }
    let tags = tags
        .iter()
        .map(|t| Reference::parse(t).map(|r| r.tagged().unwrap_or_else(|| r.to_string())))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let chains = chain_ids(&diff_ids);
    let mut locks = Vec::new();
    let mut size = 0;
    for (i, file) in layer_files.iter().enumerate() {
        let chain = &chains[i];
        let layers = store.layers();
        locks.push(layers.lock_exclusive(chain)?);
        if !layers.is_complete(chain) {
            let mut f = File::open(file).map_err(|e| archive_err("layer", e))?;
            let compression = sniff(&mut f, "layer")?;
            let staged = layer::stage(
                store,
                BufReader::with_capacity(256 << 10, f),
                compression,
                &unpack_limits(config),
            )
            .map_err(|e| e.into_error(&diff_ids[i].to_string(), None))?;
            if staged.diff_id != diff_ids[i] {
                return Err(Error::Layer {
                    layer: diff_ids[i].to_string(),
                    message: format!(
                        "archive layer content {} does not match the diff_id in the image config",
                        staged.diff_id
                    ),
                });
            }
            layer::commit(
                store,
                staged,
                chain,
                i.checked_sub(1).map(|p| &chains[p]),
                layer::media_type_for(compression),
            )?;
        }
        size += layers.meta(chain)?.size;
    }
    let id = store.put_blob(config_bytes)?;
    let record = ImageRecord {
        id: id.clone(),
        manifest,
        repo_tags: tags,
        repo_digests: vec![],
        layers: chains,
        size,
        added: crate::now_rfc3339(),
        last_tag_time: None,
    };
    images::index_image(store, record)?;
    crate::events::append(store, "image", "load", &id.to_string(), "", "");
    drop(locks);
    Ok(id)
}

/// Applies `docker import --change` instructions to an image config's `config` object.
fn apply_change(cfg: &mut serde_json::Map<String, serde_json::Value>, change: &str) -> Result<()> {
    let change = change.trim();
    let (instr, rest) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let rest = rest.trim();
    let bad = |why: &str| Error::InvalidArgument(format!("invalid change {change:?}: {why}"));
    let list = |s: &str, shell: bool| -> Result<serde_json::Value> {
        if s.starts_with('[') {
            let v: Vec<String> =
                serde_json::from_str(s).map_err(|_| bad("not a JSON array of strings"))?;
            Ok(v.into())
        } else if shell {
            Ok(vec!["/bin/sh".to_string(), "-c".to_string(), s.to_string()].into())
        } else {
            Ok(s.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into())
        }
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            cfg.insert("Cmd".into(), list(rest, true)?);
        }
        "ENTRYPOINT" => {
            cfg.insert("Entrypoint".into(), list(rest, true)?);
        }
        "WORKDIR" => {
            cfg.insert("WorkingDir".into(), rest.into());
        }
        "USER" => {
            cfg.insert("User".into(), rest.into());
        }
        "STOPSIGNAL" => {
            cfg.insert("StopSignal".into(), rest.into());
        }
        "ENV" => {
            let (k, v) = rest.split_once('=').or_else(|| rest.split_once(' ')).ok_or_else(|| bad("ENV needs KEY=value"))?;
            let env = cfg.entry("Env").or_insert_with(|| serde_json::Value::Array(vec![]));
            if let Some(a) = env.as_array_mut() {
                a.retain(|e| e.as_str().is_none_or(|e| !e.starts_with(&format!("{}=", k.trim()))));
                a.push(format!("{}={}", k.trim(), v.trim().trim_matches('"')).into());
            }
        }
        "LABEL" => {
            let (k, v) = rest.split_once('=').ok_or_else(|| bad("LABEL needs key=value"))?;
            let labels = cfg.entry("Labels").or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let Some(o) = labels.as_object_mut() {
                o.insert(k.trim().trim_matches('"').into(), v.trim().trim_matches('"').into());
            }
        }
        "EXPOSE" => {
            let ports = cfg.entry("ExposedPorts").or_insert_with(|| serde_json::Value::Object(Default::default()));
            for p in rest.split_whitespace() {
                let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                if let Some(o) = ports.as_object_mut() {
                    o.insert(p, serde_json::json!({}));
                }
            }
        }
        "VOLUME" => {
            let vols = cfg.entry("Volumes").or_insert_with(|| serde_json::Value::Object(Default::default()));
            let paths: Vec<String> = match list(rest, false)? {
                serde_json::Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                _ => vec![],
            };
            for p in paths {
                if let Some(o) = vols.as_object_mut() {
                    o.insert(p, serde_json::json!({}));
                }
            }
        }
        other => return Err(bad(&format!("{other} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR"))),
    }
    Ok(())
}

/// `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image.
pub fn import(
    store: &Store,
    config: &EngineConfig,
    input: &Path,
    opts: &ImportImageOptions,
) -> Result<String> {
    let tag = opts
        .reference
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    let mut cfg = serde_json::Map::new();
    for c in &opts.changes {
        apply_change(&mut cfg, c)?;
    }
    let mut f = File::open(input).map_err(|e| archive_err(&input.display().to_string(), e))?;
    let compression = sniff(&mut f, "import")?;
    let staged = layer::stage(
        store,
        BufReader::with_capacity(256 << 10, f),
        compression,
        &unpack_limits(config),
    )
    .map_err(|e| e.into_error("import", None))?;
    let diff_id = staged.diff_id.clone();
    let chain = diff_id.clone();
    let lock = store.layers().lock_exclusive(&chain)?;
    let meta = layer::commit(
        store,
        staged,
        &chain,
        None,
        layer::media_type_for(compression),
    )?;
    let now = crate::now_rfc3339();
    let platform = Platform::host();
    let source = if input == Path::new("/dev/stdin") {
        "-".to_string()
    } else {
        input.display().to_string()
    };
    let config_json = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": now,
        "comment": opts.message.clone().unwrap_or_else(|| format!("Imported from {source}")),
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [{"created": now, "comment": opts.message.clone().unwrap_or_else(|| format!("Imported from {source}"))}],
    });
    let config_bytes =
        serde_json::to_vec(&config_json).map_err(|e| Error::Internal(e.to_string()))?;
    let id = store.put_blob(&config_bytes)?;
    let record = ImageRecord {
        id: id.clone(),
        manifest: None,
        repo_tags: tag.and_then(|t| t.tagged()).into_iter().collect(),
        repo_digests: vec![],
        layers: vec![chain],
        size: meta.size,
        added: now,
        last_tag_time: None,
    };
    images::index_image(store, record)?;
    crate::events::append(store, "image", "import", &id.to_string(), "", "");
    drop(lock);
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_never_leave_the_archive() {
        assert_eq!(
            normalize_member(Path::new("./blobs/sha256/ab")).as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(
            normalize_member(Path::new("/manifest.json")).as_deref(),
            Some("manifest.json")
        );
        assert_eq!(normalize_member(Path::new("a/../b")).as_deref(), Some("b"));
        assert_eq!(normalize_member(Path::new("../x")), None);
        assert_eq!(normalize_member(Path::new(".")), None);
    }

    #[test]
    fn import_changes_follow_dockerfile_syntax() {
        let mut cfg = serde_json::Map::new();
        apply_change(&mut cfg, r#"CMD ["sh", "-c", "echo hi"]"#).unwrap();
        apply_change(&mut cfg, "ENTRYPOINT /bin/app --flag").unwrap();
        apply_change(&mut cfg, "ENV A=b").unwrap();
        apply_change(&mut cfg, "ENV A=c").unwrap();
        apply_change(&mut cfg, "EXPOSE 80 53/udp").unwrap();
        assert_eq!(cfg["Cmd"], serde_json::json!(["sh", "-c", "echo hi"]));
        assert_eq!(
            cfg["Entrypoint"],
            serde_json::json!(["/bin/sh", "-c", "/bin/app --flag"])
        );
        assert_eq!(cfg["Env"], serde_json::json!(["A=c"]));
        assert!(
            cfg["ExposedPorts"].get("80/tcp").is_some()
                && cfg["ExposedPorts"].get("53/udp").is_some()
        );
        assert!(apply_change(&mut cfg, "RUN rm -rf /").is_err());
    }
}
