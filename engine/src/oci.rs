//! Image manifests, indexes and configs as registries serve them: OCI image manifest and
//! index, Docker v2 schema 2 and manifest list. Parsed leniently (unknown fields kept out of
//! the way) but validated strictly where it matters: media types, digests, sizes.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYER_ND: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    pub const OCI_LAYER_ND_GZIP: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    pub const OCI_LAYER_ND_ZSTD: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_FOREIGN: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// What we ask registries for, best first.
    pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("image manifest uses Docker's schema 1, which rdesk (like current Docker) no longer supports; push the image again with a current client so it gets a schema 2 or OCI manifest")]
    Schema1,
    #[error("unsupported manifest media type {0:?}: rdesk reads OCI image manifests and indexes and Docker schema 2 manifests and lists")]
    UnsupportedManifest(String),
    #[error("unsupported {kind} media type {media_type:?}")]
    UnsupportedMedia {
        kind: &'static str,
        media_type: String,
    },
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("manifest descriptor has an invalid digest {0:?}")]
    BadDigest(String),
    #[error("manifest descriptor for {0} has a negative size")]
    BadSize(String),
    #[error(
        "no matching manifest for {wanted} in the manifest list entries (available: {available})"
    )]
    NoPlatform { wanted: String, available: String },
    #[error("image config is invalid: {0}")]
    Config(String),
    #[error("image config lists {diff_ids} layer diff IDs but the manifest has {layers} layers")]
    LayerCount { diff_ids: usize, layers: usize },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// The platform this process runs on, in OCI terms.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            architecture: architecture.into(),
            os: "linux".into(),
            variant: variant.map(str::to_string),
            os_version: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    pub fn digest(&self) -> Result<Digest, ManifestError> {
        self.digest
            .parse()
            .map_err(|_| ManifestError::BadDigest(self.digest.clone()))
    }
    pub fn size(&self) -> Result<u64, ManifestError> {
        u64::try_from(self.size).map_err(|_| ManifestError::BadSize(self.digest.clone()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndexManifest {
    pub schema_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

// Parsed once per pull and matched at once; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ParsedManifest {
    Image(ImageManifest),
    Index(ImageIndexManifest),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

/// Parses a manifest or index; `content_type` is the registry's Content-Type header.
pub fn parse_manifest(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<ParsedManifest, ManifestError> {
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty());
    if probe.schema_version == Some(1) {
        return Err(ManifestError::Schema1);
    }
    let media_type = probe
        .media_type
        .clone()
        .or(header.clone())
        .unwrap_or_default();
    let kind = match media_type.as_str() {
        media::DOCKER_SCHEMA1 | media::DOCKER_SCHEMA1_SIGNED => return Err(ManifestError::Schema1),
        media::OCI_INDEX | media::DOCKER_LIST => "index",
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => "image",
        // OCI allows omitting mediaType (and some registries send application/json):
        // tell the two apart by shape, as containerd does.
        "" | "application/json" | "text/plain" | "application/octet-stream" => {
            if probe.manifests.is_some() {
                "index"
            } else {
                "image"
            }
        }
        other => return Err(ManifestError::UnsupportedManifest(other.to_string())),
    };
    if probe.schema_version != Some(2) {
        return Err(ManifestError::Json(format!(
            "schemaVersion {:?} (expected 2)",
            probe.schema_version
        )));
    }
    let parsed = if kind == "index" {
        ParsedManifest::Index(
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?,
        )
    } else {
        let m: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        match m.config.media_type.as_str() {
            media::OCI_CONFIG | media::DOCKER_CONFIG => {}
            other => {
                return Err(ManifestError::UnsupportedMedia {
                    kind: "image config",
                    media_type: other.to_string(),
                })
            }
        }
        for l in &m.layers {
            layer_compression(&l.media_type)?;
            l.digest()?;
            l.size()?;
        }
        m.config.digest()?;
        m.config.size()?;
        ParsedManifest::Image(m)
    };
    Ok(parsed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn layer_compression(media_type: &str) -> Result<Compression, ManifestError> {
    use media::*;
    Ok(match media_type {
        OCI_LAYER | OCI_LAYER_ND => Compression::None,
        OCI_LAYER_GZIP | OCI_LAYER_ND_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN => {
            Compression::Gzip
        }
        OCI_LAYER_ZSTD | OCI_LAYER_ND_ZSTD => Compression::Zstd,
        other => {
            return Err(ManifestError::UnsupportedMedia {
                kind: "layer",
                media_type: other.to_string(),
            })
        }
    })
}

/// Picks the host's entry from an index: same OS and architecture, the same variant
/// preferred, attestation entries (`unknown/unknown`) skipped.
pub fn select_platform<'a>(
    index: &'a ImageIndexManifest,
    want: &Platform,
) -> Result<&'a Descriptor, ManifestError> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            matches!(
                d.media_type.as_str(),
                media::OCI_MANIFEST | media::DOCKER_MANIFEST | ""
            )
        })
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
        })
        .collect();
    let variant_of = |d: &Descriptor| d.platform.as_ref().and_then(|p| p.variant.clone());
    let exact = candidates.iter().find(|d| variant_of(d) == want.variant);
    let fallback = candidates
        .iter()
        .find(|d| match (&want.variant, variant_of(d)) {
            // An entry with no variant runs anywhere its architecture does.
            (_, None) => true,
            // arm64 images are v8 unless they say otherwise.
            (Some(w), Some(v)) => w == "v8" && v == "v8",
            (None, Some(_)) => want.architecture == "amd64",
        });
    match exact.or(fallback) {
        Some(d) => Ok(d),
        None => Err(ManifestError::NoPlatform {
            wanted: want.to_string(),
            available: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The parts of an image config the engine uses; the whole JSON is kept for inspect.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct ImageConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub typ: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct HistoryEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfigFile {
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let cfg: ImageConfigFile =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Config(e.to_string()))?;
        if cfg.rootfs.typ != "layers" {
            return Err(ManifestError::Config(format!(
                "rootfs.type is {:?}, expected \"layers\"",
                cfg.rootfs.typ
            )));
        }
        cfg.diff_ids()?;
        Ok(cfg)
    }
    pub fn diff_ids(&self) -> Result<Vec<Digest>, ManifestError> {
        self.rootfs
            .diff_ids
            .iter()
            .map(|d| {
                d.parse()
                    .map_err(|_| ManifestError::Config(format!("invalid diff_id {d:?}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(mt: &str, arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: mt.into(),
            digest: Digest::of(format!("{arch}{variant:?}").as_bytes()).to_string(),
            size: 1,
            urls: None,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(Into::into),
                os_version: None,
            }),
            annotations: None,
        }
    }

    #[test]
    fn schema1_is_refused_clearly() {
        let body = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        assert_eq!(
            parse_manifest(body, Some(media::DOCKER_SCHEMA1_SIGNED)).unwrap_err(),
            ManifestError::Schema1
        );
        assert_eq!(
            parse_manifest(body, None).unwrap_err(),
            ManifestError::Schema1
        );
    }

    #[test]
    fn unknown_media_types_are_refused() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#;
        assert!(matches!(
            parse_manifest(body, None),
            Err(ManifestError::UnsupportedManifest(_))
        ));
        let d = Digest::of(b"x");
        let body = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{d}","size":2}},"layers":[{{"mediaType":"application/x-rar","digest":"{d}","size":1}}]}}"#,
            media::OCI_CONFIG
        );
        assert!(matches!(
            parse_manifest(body.as_bytes(), Some(media::OCI_MANIFEST)),
            Err(ManifestError::UnsupportedMedia { kind: "layer", .. })
        ));
    }

    #[test]
    fn picks_the_host_platform_with_variant() {
        let index = ImageIndexManifest {
            schema_version: 2,
            media_type: None,
            manifests: vec![
                desc(media::OCI_MANIFEST, "arm", Some("v6")),
                desc(media::OCI_MANIFEST, "arm", Some("v7")),
                desc(media::OCI_MANIFEST, "arm64", Some("v8")),
                desc(media::OCI_MANIFEST, "amd64", None),
            ],
        };
        let pick = |arch: &str, v: Option<&str>| {
            select_platform(
                &index,
                &Platform {
                    architecture: arch.into(),
                    os: "linux".into(),
                    variant: v.map(Into::into),
                    os_version: None,
                },
            )
            .map(|d| d.platform.clone().unwrap().to_string())
        };
        assert_eq!(pick("arm", Some("v7")).unwrap(), "linux/arm/v7");
        assert_eq!(pick("arm64", Some("v8")).unwrap(), "linux/arm64/v8");
        assert_eq!(pick("amd64", None).unwrap(), "linux/amd64");
        let err = pick("s390x", None).unwrap_err().to_string();
        assert!(
            err.contains("no matching manifest for linux/s390x"),
            "{err}"
        );
    }
}
