//! Image verbs over the store: list, inspect, history, tag, remove, prune, and the
//! index update a pull or load ends with. All index writes happen under the metadata lock.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::ImageConfigFile;
use crate::reference::{familiarize, Reference};
use crate::store::{ImageRecord, Store};
use bollard_stubs::models::{
    DriverData, HistoryResponseItem, ImageConfig, ImageDeleteResponseItem, ImageInspect,
    ImageInspectMetadata, ImageInspectRootFs, ImagePruneResponse, ImageSummary,
};
use std::collections::{BTreeSet, HashMap, HashSet};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// How a user's name for an image matched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Id,
    Tag(String),
    Digest(String),
}

/// Finds an image by full ID, tag or digest reference, or unique ID prefix (Docker's order).
pub(crate) fn find(records: &[ImageRecord], name: &str) -> Result<(usize, Match)> {
    if let Ok(d) = name.parse::<Digest>() {
        if let Some(i) = records.iter().position(|r| r.id == d) {
            return Ok((i, Match::Id));
        }
    }
    if let Ok(r) = Reference::parse(name) {
        if let Some(d) = &r.digest {
            let full = format!("{}@{}", r.name(), d);
            if let Some(i) = records
                .iter()
                .position(|rec| rec.repo_digests.contains(&full))
            {
                return Ok((i, Match::Digest(full)));
            }
        } else if let Some(tagged) = r.tagged() {
            if let Some(i) = records
                .iter()
                .position(|rec| rec.repo_tags.contains(&tagged))
            {
                return Ok((i, Match::Tag(tagged)));
            }
        }
    }
    let prefix = name.strip_prefix("sha256:").unwrap_or(name);
    if !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        let hits: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.id.hex().starts_with(prefix))
            .map(|(i, _)| i)
            .collect();
        match hits.len() {
            1 => return Ok((hits[0], Match::Id)),
            n if n > 1 => {
                return Err(Error::Conflict(format!(
                    "{name} matches {n} images; give more of the ID"
                )))
            }
            _ => {}
        }
    }
    Err(Error::NoSuchImage(not_found_name(name)))
}

/// Docker's "No such image: busybox:latest" spelling.
fn not_found_name(name: &str) -> String {
    match Reference::parse(name) {
        Ok(r) if !name.starts_with("sha256:") && !looks_like_id(name) => r.familiar(),
        _ => name.to_string(),
    }
}

fn looks_like_id(name: &str) -> bool {
    name.len() >= 12 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Adds or merges an image into the index, moving its tags off any other image.
/// Returns the stored record and whether anything changed.
pub(crate) fn index_image(store: &Store, mut record: ImageRecord) -> Result<(ImageRecord, bool)> {
    let _meta = store.lock_meta()?;
    let index = store.images();
    let mut records = index.load()?;
    let mut changed = false;
    for other in records.iter_mut().filter(|r| r.id != record.id) {
        let before = other.repo_tags.len();
        other.repo_tags.retain(|t| !record.repo_tags.contains(t));
        changed |= other.repo_tags.len() != before;
    }
    let result = match records.iter_mut().find(|r| r.id == record.id) {
        Some(existing) => {
            for t in &record.repo_tags {
                if !existing.repo_tags.contains(t) {
                    existing.repo_tags.push(t.clone());
                    existing.last_tag_time = Some(crate::now_rfc3339());
                    changed = true;
                }
            }
            for d in &record.repo_digests {
                if !existing.repo_digests.contains(d) {
                    existing.repo_digests.push(d.clone());
                }
            }
            if existing.manifest.is_none() {
                existing.manifest = record.manifest.clone();
            }
            existing.clone()
        }
        None => {
            changed = true;
            if !record.repo_tags.is_empty() {
                record.last_tag_time = Some(crate::now_rfc3339());
            }
            records.push(record.clone());
            record
        }
    };
    index.save(&records)?;
    Ok((result, changed))
}

pub(crate) fn load_config(
    store: &Store,
    id: &Digest,
) -> Result<(ImageConfigFile, serde_json::Value)> {
    let bytes = store.read_blob(id, 64 << 20)?;
    let parsed = ImageConfigFile::parse(&bytes)?;
    let raw: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((parsed, raw))
}

pub(crate) fn unix_time(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

pub(crate) fn list(
    store: &Store,
    opts: &crate::options::ListImagesOptions,
) -> Result<Vec<ImageSummary>> {
    let records = store.images().load()?;
    let wanted = opts
        .reference
        .as_deref()
        .map(Reference::parse_name_only)
        .transpose()?;
    let mut out = Vec::new();
    for rec in &records {
        if let Some(d) = opts.dangling {
            if d != rec.repo_tags.is_empty() {
                continue;
            }
        }
        let mut tags = rec.repo_tags.clone();
        if let Some(w) = &wanted {
            tags.retain(|t| {
                Reference::parse(t).is_ok_and(|r| {
                    r.name() == w.name()
                        && w.tag.as_ref().is_none_or(|wt| r.tag.as_ref() == Some(wt))
                })
            });
            if tags.is_empty() {
                continue;
            }
        }
        let (config, _) = load_config(store, &rec.id)?;
        let labels: HashMap<String, String> = config
            .config
            .as_ref()
            .and_then(|c| c.get("Labels"))
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        out.push(ImageSummary {
            id: rec.id.to_string(),
            parent_id: String::new(),
            repo_tags: tags.iter().map(|t| familiarize(t)).collect(),
            repo_digests: rec.repo_digests.iter().map(|t| familiarize(t)).collect(),
            created: unix_time(config.created.as_deref()),
            size: rec.size as i64,
            shared_size: -1,
            virtual_size: Some(rec.size as i64),
            labels,
            containers: -1,
            manifests: None,
            descriptor: None,
        });
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    Ok(out)
}

pub(crate) fn inspect(store: &Store, name: &str) -> Result<ImageInspect> {
    let records = store.images().load()?;
    let (i, _) = find(&records, name)?;
    let rec = &records[i];
    let (config, _raw) = load_config(store, &rec.id)?;
    let image_config: Option<ImageConfig> = config
        .config
        .clone()
        .and_then(|c| serde_json::from_value(c).ok());
    let layers = store.layers();
    let diffs: Vec<String> = rec
        .layers
        .iter()
        .rev()
        .map(|c| layers.diff_dir(c).display().to_string())
        .collect();
    let mut data = HashMap::new();
    if let Some((upper, lower)) = diffs.split_first() {
        data.insert("UpperDir".to_string(), upper.clone());
        if !lower.is_empty() {
            data.insert("LowerDir".to_string(), lower.join(":"));
        }
    }
    Ok(ImageInspect {
        id: Some(rec.id.to_string()),
        repo_tags: Some(rec.repo_tags.iter().map(|t| familiarize(t)).collect()),
        repo_digests: Some(rec.repo_digests.iter().map(|t| familiarize(t)).collect()),
        parent: Some(String::new()),
        comment: Some(config.comment.clone().unwrap_or_default()),
        created: config.created.clone(),
        docker_version: Some(config.docker_version.clone().unwrap_or_default()),
        author: Some(config.author.clone().unwrap_or_default()),
        config: image_config,
        architecture: Some(config.architecture.clone()),
        variant: config.variant.clone(),
        os: Some(config.os.clone()),
        size: Some(rec.size as i64),
        graph_driver: Some(DriverData {
            name: "overlay2".into(),
            data,
        }),
        root_fs: Some(ImageInspectRootFs {
            typ: "layers".into(),
            layers: Some(config.rootfs.diff_ids.clone()),
        }),
        metadata: Some(ImageInspectMetadata {
            last_tag_time: Some(
                rec.last_tag_time
                    .clone()
                    .unwrap_or_else(|| ZERO_TIME.into()),
            ),
        }),
        ..Default::default()
    })
}

pub(crate) fn history(store: &Store, name: &str) -> Result<Vec<HistoryResponseItem>> {
    let records = store.images().load()?;
    let (i, _) = find(&records, name)?;
    let rec = &records[i];
    let (config, _) = load_config(store, &rec.id)?;
    let layers = store.layers();
    let sizes: Vec<i64> = rec
        .layers
        .iter()
        .map(|c| layers.meta(c).map(|m| m.size as i64).unwrap_or(0))
        .collect();
    let mut rows = Vec::new();
    let mut layer_idx = 0;
    if config.history.is_empty() {
        // Imported images may carry no history: one row per layer.
        for size in &sizes {
            rows.push(HistoryResponseItem {
                id: "<missing>".into(),
                created: unix_time(config.created.as_deref()),
                created_by: String::new(),
                tags: vec![],
                size: *size,
                comment: String::new(),
            });
        }
    }
    for h in &config.history {
        let size = if h.empty_layer {
            0
        } else {
            let s = sizes.get(layer_idx).copied().unwrap_or(0);
            layer_idx += 1;
            s
        };
        rows.push(HistoryResponseItem {
            id: "<missing>".into(),
            created: unix_time(h.created.as_deref()),
            created_by: h.created_by.clone().unwrap_or_default(),
            tags: vec![],
            size,
            comment: h.comment.clone().unwrap_or_default(),
        });
    }
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top.id = rec.id.to_string();
        top.tags = rec.repo_tags.iter().map(|t| familiarize(t)).collect();
    }
    Ok(rows)
}

pub(crate) fn tag(store: &Store, source: &str, target: &str) -> Result<()> {
    let target = Reference::parse(target)?;
    if target.digest.is_some() {
        return Err(Error::InvalidArgument(format!(
            "refusing to create a tag with a digest reference: {target}"
        )));
    }
    let tagged = target
        .tagged()
        .ok_or_else(|| Error::InvalidArgument("target needs a tag".into()))?;
    let _meta = store.lock_meta()?;
    let index = store.images();
    let mut records = index.load()?;
    let (i, _) = find(&records, source)?;
    for (j, r) in records.iter_mut().enumerate() {
        if j != i {
            r.repo_tags.retain(|t| *t != tagged);
        }
    }
    let rec = &mut records[i];
    if !rec.repo_tags.contains(&tagged) {
        rec.repo_tags.push(tagged);
    }
    rec.last_tag_time = Some(crate::now_rfc3339());
    let id = rec.id.to_string();
    index.save(&records)?;
    crate::events::append(
        store,
        "image",
        "tag",
        &id,
        &familiarize(&target.to_string()),
        "",
    );
    Ok(())
}

/// Image events for what a removal did (Docker's "untag" and "delete").
fn removal_events(store: &Store, items: &[ImageDeleteResponseItem]) {
    for i in items {
        if let Some(u) = &i.untagged {
            crate::events::append(store, "image", "untag", u, u, "");
        }
        if let Some(d) = &i.deleted {
            crate::events::append(store, "image", "delete", d, "", "");
        }
    }
}

/// What other images still need: layers, and config/manifest blobs. (A layer's own blob
/// lives and dies with the layer.)
fn references_of(records: &[ImageRecord]) -> (HashSet<Digest>, HashSet<Digest>) {
    let mut layers = HashSet::new();
    let mut blobs = HashSet::new();
    for r in records {
        layers.extend(r.layers.iter().cloned());
        blobs.insert(r.id.clone());
        blobs.extend(repo_digest_blobs(r));
        blobs.extend(r.manifest.iter().cloned());
    }
    (layers, blobs)
}

fn repo_digest_blobs(r: &ImageRecord) -> impl Iterator<Item = Digest> + '_ {
    r.repo_digests
        .iter()
        .filter_map(|d| d.rsplit_once('@'))
        .filter_map(|(_, d)| d.parse::<Digest>().ok())
}

/// Removes a layer nobody holds, with its blob unless another layer came from the same blob.
/// Returns the bytes freed, or None when somebody holds it.
fn free_layer(store: &Store, chain: &Digest) -> Result<Option<u64>> {
    let layers = store.layers();
    let Some(_held) = layers.try_lock_exclusive(chain)? else {
        return Ok(None);
    };
    if !layers.is_complete(chain) {
        return Ok(None);
    }
    let meta = layers.meta(chain)?;
    layers.remove(chain)?;
    if let Some(blob) = &meta.blob {
        let shared = layers
            .list()?
            .iter()
            .any(|m| m.blob.as_ref().is_some_and(|b| b.digest == blob.digest));
        if !shared {
            store.remove_blob(&blob.digest)?;
        }
    }
    Ok(Some(meta.size))
}

/// Deletes `victim` (already removed from `remaining`) and whatever only it used.
/// Caller holds the metadata lock and has saved the index.
fn free_image(
    store: &Store,
    victim: &ImageRecord,
    remaining: &[ImageRecord],
    out: &mut Vec<ImageDeleteResponseItem>,
) -> Result<u64> {
    let (used_layers, used_blobs) = references_of(remaining);
    let mut blobs: BTreeSet<Digest> = BTreeSet::new();
    blobs.insert(victim.id.clone());
    blobs.extend(repo_digest_blobs(victim));
    blobs.extend(victim.manifest.iter().cloned());
    out.push(ImageDeleteResponseItem {
        untagged: None,
        deleted: Some(victim.id.to_string()),
    });
    let mut freed = 0;
    for chain in victim.layers.iter().rev() {
        if used_layers.contains(chain) {
            continue;
        }
        // A pull or a container holding it keeps it.
        if let Some(size) = free_layer(store, chain)? {
            freed += size;
            out.push(ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(chain.to_string()),
            });
        }
    }
    for b in blobs.iter().filter(|b| !used_blobs.contains(b)) {
        store.remove_blob(b)?;
    }
    Ok(freed)
}

pub(crate) fn remove(
    store: &Store,
    name: &str,
    force: bool,
) -> Result<Vec<ImageDeleteResponseItem>> {
    let _meta = store.lock_meta()?;
    // Containers are created under the metadata lock, so this view cannot go stale.
    let users = image_users(store);
    let index = store.images();
    let mut records = index.load()?;
    let (i, how) = find(&records, name)?;
    let mut out = Vec::new();
    let untag = |t: &String| ImageDeleteResponseItem {
        untagged: Some(familiarize(t)),
        deleted: None,
    };
    match &how {
        Match::Tag(t) if records[i].repo_tags.len() > 1 => {
            records[i].repo_tags.retain(|x| x != t);
            index.save(&records)?;
            let out = vec![untag(t)];
            removal_events(store, &out);
            return Ok(out);
        }
        Match::Digest(d) if !records[i].repo_tags.is_empty() => {
            records[i].repo_digests.retain(|x| x != d);
            index.save(&records)?;
            let out = vec![untag(d)];
            removal_events(store, &out);
            return Ok(out);
        }
        Match::Id if !force => {
            let repos: BTreeSet<String> = records[i]
                .repo_tags
                .iter()
                .filter_map(|t| Reference::parse(t).ok())
                .map(|r| r.name())
                .collect();
            if repos.len() > 1 {
                return Err(Error::Conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    records[i].id.short()
                )));
            }
        }
        _ => {}
    }
    // An image a container uses stays (Docker): refused, or with -f only untagged.
    if let Some((cid, running)) = users.get(&records[i].id) {
        let short = &cid[..12];
        let state = if *running { "running" } else { "stopped" };
        if *running || !force {
            let what = match &how {
                Match::Tag(t) => format!("remove repository reference \"{}\"", familiarize(t)),
                _ => format!("delete {}", records[i].id.short()),
            };
            let forced = if *running {
                "cannot be forced"
            } else {
                "must be forced"
            };
            return Err(Error::Conflict(format!(
                "conflict: unable to {what} ({forced}) - image is being used by {state} container {short}"
            )));
        }
        let rec = &mut records[i];
        out.extend(rec.repo_tags.iter().map(untag));
        rec.repo_tags.clear();
        index.save(&records)?;
        removal_events(store, &out);
        return Ok(out);
    }
    let victim = records.remove(i);
    out.extend(victim.repo_tags.iter().map(untag));
    out.extend(victim.repo_digests.iter().map(untag));
    index.save(&records)?;
    free_image(store, &victim, &records, &mut out)?;
    removal_events(store, &out);
    Ok(out)
}

/// Images containers use: image ID -> (a container ID, whether any user is running).
pub(crate) fn image_users(store: &Store) -> HashMap<Digest, (String, bool)> {
    let mut users: HashMap<Digest, (String, bool)> = HashMap::new();
    for (record, state) in crate::container::ContainerStore::new(store).all() {
        let entry = users
            .entry(record.image_id.clone())
            .or_insert((record.id.clone(), false));
        if state.status.is_live() && !entry.1 {
            *entry = (record.id.clone(), true);
        }
    }
    users
}

pub(crate) fn prune(store: &Store, all: bool) -> Result<ImagePruneResponse> {
    let _meta = store.lock_meta()?;
    let in_use: HashSet<Digest> = image_users(store).into_keys().collect();
    let index = store.images();
    let mut records = index.load()?;
    let mut deleted = Vec::new();
    let mut space = 0u64;
    while let Some(i) = records
        .iter()
        .position(|r| (all || r.repo_tags.is_empty()) && !in_use.contains(&r.id))
    {
        let victim = records.remove(i);
        deleted.extend(
            victim
                .repo_tags
                .iter()
                .chain(victim.repo_digests.iter())
                .map(|t| ImageDeleteResponseItem {
                    untagged: Some(familiarize(t)),
                    deleted: None,
                }),
        );
        index.save(&records)?;
        space += free_image(store, &victim, &records, &mut deleted)?;
    }
    // Layers no image references (a pull that failed after some layers landed).
    let (used, _) = references_of(&records);
    for meta in store.layers().list()? {
        if used.contains(&meta.chain_id) {
            continue;
        }
        if let Some(size) = free_layer(store, &meta.chain_id)? {
            space += size;
            deleted.push(ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(meta.chain_id.to_string()),
            });
        }
    }
    removal_events(store, &deleted);
    Ok(ImagePruneResponse {
        images_deleted: Some(deleted),
        space_reclaimed: Some(space as i64),
    })
}
