//! Docker's mount grammar, parsed and validated as Docker does it, with Docker's messages:
//!
//! - `-v` / `--volume` as the docker CLI splits it (`cli/compose/loader.ParseVolume`): a spec
//!   with a source goes to `HostConfig.Binds`, a bare path to `Config.Volumes` (anonymous);
//! - `HostConfig.Binds` as the daemon parses them (`volume/mounts` `ParseMountRaw`);
//! - `--mount` as the docker CLI reads it (`opts/mount.go`, CSV `key=value` fields) into the
//!   API's `Mount`, then validated as the daemon does (`ParseMountSpec`: a missing bind source
//!   is an error there, where `-v` creates it).
//!
//! Everything here is pure (no store access) so the TUI's run form can use it as the CLI does.

use crate::error::{Error, Result};
use bollard_stubs::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountTypeEnum,
    MountVolumeOptions,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a `-v` value is, once the CLI has split it (Docker's client-side step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeFlag {
    /// `SRC:DST[:MODE]`: kept verbatim (a relative `./src` made absolute) for `HostConfig.Binds`.
    Bind(String),
    /// `DST`: an anonymous volume (`Config.Volumes`).
    Anonymous(String),
}

/// The kind of a mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    #[default]
    Volume,
    Bind,
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// A validated mount of a container (Docker's `MountPoint`), as create records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MountPoint {
    pub kind: MountKind,
    /// The volume's name (volumes; generated at create for anonymous ones).
    pub name: String,
    /// The host path (binds).
    pub source: String,
    /// The path in the container, cleaned.
    pub destination: String,
    pub rw: bool,
    /// The `-v` mode string as given (`ro`, `rw,nocopy`, ...), empty for `--mount`.
    pub mode: String,
    /// Bind propagation (`rprivate` by default for binds), empty for others.
    pub propagation: String,
    /// Copy the image's content at the destination into an empty volume.
    pub copy_data: bool,
    /// An anonymous volume: removed with the container by `rm -v` / `--rm`.
    pub anonymous: bool,
    /// From `-v` (a missing bind source is created) rather than `--mount` (an error).
    pub from_bind_flag: bool,
    /// Bind only this mount, not the mounts below its source (`bind-nonrecursive`).
    pub non_recursive: bool,
    pub tmpfs_size: Option<i64>,
    pub tmpfs_mode: Option<u32>,
    /// Labels to put on a volume created for this mount (`volume-label`).
    pub volume_labels: HashMap<String, String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

// ---------------------------------------------------------------------------------------
// -v, the client side

/// Splits a `-v` value as the docker CLI does; `cwd` makes a `./relative` source absolute.
pub fn parse_volume_flag(spec: &str, cwd: Option<&std::path::Path>) -> Result<VolumeFlag> {
    let chars: Vec<char> = spec.chars().collect();
    match chars.len() {
        0 => return Err(invalid("invalid empty volume spec")),
        1 | 2 => return Ok(VolumeFlag::Anonymous(spec.to_string())),
        _ => {}
    }
    let (mut source, mut target) = (String::new(), String::new());
    let mut buffer = String::new();
    let n = chars.len();
    for (i, c) in chars
        .iter()
        .copied()
        .chain(std::iter::once('\0'))
        .enumerate()
    {
        let end = i == n;
        if c != ':' && !end {
            buffer.push(c);
            continue;
        }
        let err = |m: &str| invalid(format!("invalid spec: {spec}: {m}"));
        if buffer.is_empty() {
            return Err(err("empty section between colons"));
        }
        if source.is_empty() && end {
            target = std::mem::take(&mut buffer);
        } else if source.is_empty() {
            source = std::mem::take(&mut buffer);
        } else if target.is_empty() {
            target = std::mem::take(&mut buffer);
        } else if c == ':' {
            return Err(err("too many colons"));
        } else {
            buffer.clear(); // the mode: the daemon validates it
        }
    }
    let _ = target;
    if source.is_empty() {
        return Ok(VolumeFlag::Anonymous(spec.to_string()));
    }
    // A `./x` or `../x` host path is made absolute against the caller's directory.
    if source.starts_with('.') {
        if let (Some(cwd), Some((host, rest))) = (cwd, spec.split_once(':')) {
            let abs = clean_path(&format!("{}/{host}", cwd.display()));
            return Ok(VolumeFlag::Bind(format!("{abs}:{rest}")));
        }
    }
    Ok(VolumeFlag::Bind(spec.to_string()))
}

// ---------------------------------------------------------------------------------------
// --mount, the client side

/// Splits one CSV record (Go's encoding/csv: `"` quotes a field, `""` is a quote).
fn csv_fields(value: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = value.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' => {
                return Err(invalid(format!(
                    "parse error on line 1, column {}: bare \" in non-quoted-field",
                    value.find('"').map(|i| i + 1).unwrap_or(1)
                )))
            }
            ',' => {
                out.push(std::mem::take(&mut field));
                at_start = true;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(invalid(
            "parse error on line 1, column 0: extraneous or missing \" in quoted-field",
        ));
    }
    out.push(field);
    Ok(out)
}

fn parse_bool(key: &str, val: &str) -> Result<bool> {
    match val {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(invalid(format!("invalid value for {key}: {val}"))),
    }
}

/// docker's `units.RAMInBytes`: `64m`, `1g`, `512k`, `100` (bytes), `1.5GiB`.
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    if n < 0.0 {
        return None;
    }
    Some((n * mult) as i64)
}

/// Reads a `--mount` value into the API's `Mount`, with the docker CLI's messages.
pub fn parse_mount_flag(value: &str, cwd: Option<&std::path::Path>) -> Result<Mount> {
    let fields = csv_fields(value)?;
    let mut m = Mount {
        typ: Some(MountTypeEnum::VOLUME),
        ..Default::default()
    };
    fn vol(m: &mut Mount) -> &mut MountVolumeOptions {
        m.volume_options.get_or_insert_with(Default::default)
    }
    fn bind(m: &mut Mount) -> &mut MountBindOptions {
        m.bind_options.get_or_insert_with(Default::default)
    }
    fn tmpfs(m: &mut Mount) -> &mut MountTmpfsOptions {
        m.tmpfs_options.get_or_insert_with(Default::default)
    }
    let mut type_name = "volume".to_string();
    for field in &fields {
        let Some((key, val)) = field.split_once('=') else {
            match field.as_str() {
                "readonly" | "ro" => m.read_only = Some(true),
                "volume-nocopy" => vol(&mut m).no_copy = Some(true),
                "bind-nonrecursive" => bind(&mut m).non_recursive = Some(true),
                _ => {
                    return Err(invalid(format!(
                        "invalid field '{field}' must be a key=value pair"
                    )))
                }
            }
            continue;
        };
        match key {
            "type" => {
                type_name = val.to_ascii_lowercase();
                m.typ = match type_name.as_str() {
                    "volume" => Some(MountTypeEnum::VOLUME),
                    "bind" => Some(MountTypeEnum::BIND),
                    "tmpfs" => Some(MountTypeEnum::TMPFS),
                    "" => Some(MountTypeEnum::EMPTY),
                    "image" => Some(MountTypeEnum::IMAGE),
                    "npipe" => Some(MountTypeEnum::NPIPE),
                    "cluster" => Some(MountTypeEnum::CLUSTER),
                    _ => None,
                };
            }
            "source" | "src" => {
                let mut s = val.to_string();
                if s == "." || s.starts_with("./") {
                    if let Some(cwd) = cwd {
                        s = clean_path(&format!("{}/{s}", cwd.display()));
                    }
                }
                m.source = Some(s);
            }
            "target" | "dst" | "destination" => m.target = Some(val.to_string()),
            "readonly" | "ro" => m.read_only = Some(parse_bool(key, val)?),
            "consistency" => m.consistency = Some(val.to_ascii_lowercase()),
            "bind-propagation" => {
                // The CLI takes any word; the daemon refuses an unknown one (same message).
                let p = propagation_enum(&val.to_ascii_lowercase()).ok_or_else(|| {
                    invalid(config_err(
                        "bind",
                        format!("invalid propagation mode: {val}"),
                    ))
                })?;
                bind(&mut m).propagation = Some(p);
            }
            "bind-nonrecursive" => bind(&mut m).non_recursive = Some(parse_bool(key, val)?),
            "volume-nocopy" => {
                vol(&mut m).no_copy = Some(
                    parse_bool(key, val)
                        .map_err(|_| invalid(format!("invalid value for volume-nocopy: {val}")))?,
                )
            }
            "volume-label" => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                if !k.is_empty() {
                    vol(&mut m)
                        .labels
                        .get_or_insert_with(HashMap::new)
                        .insert(k.to_string(), v.to_string());
                }
            }
            "volume-driver" => {
                vol(&mut m)
                    .driver_config
                    .get_or_insert_with(Default::default)
                    .name = Some(val.to_string())
            }
            "volume-opt" => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                if !k.is_empty() {
                    vol(&mut m)
                        .driver_config
                        .get_or_insert_with(Default::default)
                        .options
                        .get_or_insert_with(HashMap::new)
                        .insert(k.to_string(), v.to_string());
                }
            }
            "tmpfs-size" => {
                let n = ram_in_bytes(val)
                    .ok_or_else(|| invalid(format!("invalid value for {key}: {val}")))?;
                tmpfs(&mut m).size_bytes = Some(n);
            }
            "tmpfs-mode" => {
                let n = u32::from_str_radix(val, 8)
                    .map_err(|_| invalid(format!("invalid value for {key}: {val}")))?;
                tmpfs(&mut m).mode = Some(n as i64);
            }
            _ => return Err(invalid(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    if type_name.is_empty() {
        return Err(invalid("type is required"));
    }
    if m.target.as_deref().unwrap_or("").is_empty() {
        return Err(invalid("target is required"));
    }
    if m.volume_options.is_some() && type_name != "volume" {
        return Err(invalid(format!(
            "cannot mix 'volume-*' options with mount type '{type_name}'"
        )));
    }
    if m.bind_options.is_some() && type_name != "bind" {
        return Err(invalid(format!(
            "cannot mix 'bind-*' options with mount type '{type_name}'"
        )));
    }
    if m.tmpfs_options.is_some() && type_name != "tmpfs" {
        return Err(invalid(format!(
            "cannot mix 'tmpfs-*' options with mount type '{type_name}'"
        )));
    }
    if m.typ.is_none() {
        return Err(invalid(format!(
            "invalid mount config for type \"{type_name}\": mount type unknown"
        )));
    }
    Ok(m)
}

fn propagation_enum(s: &str) -> Option<MountBindOptionsPropagationEnum> {
    use MountBindOptionsPropagationEnum::*;
    Some(match s {
        "private" => PRIVATE,
        "rprivate" => RPRIVATE,
        "shared" => SHARED,
        "rshared" => RSHARED,
        "slave" => SLAVE,
        "rslave" => RSLAVE,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// the daemon side

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];
const RW_MODES: [&str; 5] = ["rw", "ro", "ro-non-recursive", "ro-force-recursive", "rro"];

/// Docker's `linuxValidMountMode`: each option known, at most one of each class.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let class = if RW_MODES.contains(&o) {
            0
        } else if o == "z" || o == "Z" {
            1
        } else if PROPAGATIONS.contains(&o) {
            2
        } else if o == "nocopy" {
            3
        } else if matches!(o, "consistent" | "cached" | "delegated") {
            4
        } else {
            return false;
        };
        counts[class] += 1;
    }
    counts.iter().all(|c| *c <= 1)
}

/// Lexical clean of an absolute or relative path (Go's `path.Clean`).
pub fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn config_err(kind: &str, msg: impl std::fmt::Display) -> String {
    format!("invalid mount config for type \"{kind}\": {msg}")
}

fn validate_target(kind: &str, target: &str) -> std::result::Result<(), String> {
    if target.is_empty() {
        return Err(config_err(kind, "field Target must not be empty"));
    }
    if clean_path(target) == "/" {
        return Err(config_err(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    if !target.starts_with('/') {
        return Err(config_err(
            kind,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    Ok(())
}

/// Docker's `ParseMountRaw` of one `HostConfig.Binds` entry (`SRC:DST[:MODE]`).
pub fn parse_bind(raw: &str) -> Result<MountPoint> {
    let spec_err = || invalid(format!("invalid volume specification: '{raw}'"));
    let arr: Vec<&str> = raw.splitn(4, ':').collect();
    if arr[0].is_empty() {
        return Err(spec_err());
    }
    let (source, target, mode) = match arr.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => {
            if valid_mode(t) {
                return Err(spec_err());
            }
            (*s, *t, "")
        }
        [s, t, m] => (*s, *t, *m),
        _ => return Err(spec_err()),
    };
    if !valid_mode(mode) {
        return Err(invalid(format!("invalid mode: {mode}")));
    }
    let opts: Vec<&str> = mode.split(',').filter(|o| !o.is_empty()).collect();
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    let read_only = opts.iter().any(|o| o.starts_with("ro") || *o == "rro");
    let nocopy = opts.contains(&"nocopy");
    let propagation = opts.iter().find(|o| PROPAGATIONS.contains(o)).copied();
    let wrap = |m: String| invalid(format!("invalid volume specification: '{raw}': {m}"));
    validate_target(kind.as_str(), target).map_err(wrap)?;
    match kind {
        MountKind::Bind => {
            if nocopy {
                return Err(wrap(config_err(
                    "bind",
                    "field VolumeOptions must not be specified",
                )));
            }
        }
        _ => {
            if propagation.is_some() {
                return Err(wrap(config_err(
                    "volume",
                    "field BindOptions must not be specified",
                )));
            }
            if source.is_empty() && read_only {
                return Err(wrap(config_err(
                    "volume",
                    "must not set ReadOnly mode when using anonymous volumes",
                )));
            }
        }
    }
    let mut mp = MountPoint {
        kind,
        destination: clean_path(target),
        rw: !read_only,
        mode: mode.to_string(),
        from_bind_flag: true,
        ..Default::default()
    };
    match kind {
        MountKind::Bind => {
            mp.source = clean_path(source);
            mp.propagation = propagation.unwrap_or("rprivate").to_string();
        }
        _ => {
            mp.name = source.to_string();
            mp.anonymous = source.is_empty();
            mp.copy_data = !nocopy;
        }
    }
    Ok(mp)
}

/// An anonymous volume from `Config.Volumes` (`-v /path`).
pub fn parse_anonymous(target: &str) -> Result<MountPoint> {
    validate_target("volume", target)
        .map_err(|m| invalid(format!("invalid volume specification: '{target}': {m}")))?;
    Ok(MountPoint {
        kind: MountKind::Volume,
        destination: clean_path(target),
        rw: true,
        copy_data: true,
        anonymous: true,
        ..Default::default()
    })
}

/// Docker's `ParseMountSpec` of one `HostConfig.Mounts` entry (a bind source must exist).
pub fn parse_mount(m: &Mount) -> Result<MountPoint> {
    let kind_name = m.typ.map(|t| t.to_string()).unwrap_or_default();
    let fail = |msg: &str| invalid(config_err(&kind_name, msg));
    let target = m.target.clone().unwrap_or_default();
    validate_target(&kind_name, &target).map_err(invalid)?;
    let source = m.source.clone().unwrap_or_default();
    let read_only = m.read_only.unwrap_or(false);
    let mut mp = MountPoint {
        destination: clean_path(&target),
        rw: !read_only,
        ..Default::default()
    };
    match m.typ {
        Some(MountTypeEnum::BIND) => {
            if source.is_empty() {
                return Err(fail("field Source must not be empty"));
            }
            if m.volume_options.is_some() {
                return Err(fail("field VolumeOptions must not be specified"));
            }
            if !source.starts_with('/') {
                return Err(fail(&format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            let create = m
                .bind_options
                .as_ref()
                .and_then(|b| b.create_mountpoint)
                .unwrap_or(false);
            if !create && std::fs::symlink_metadata(&source).is_err() {
                return Err(fail(&format!(
                    "bind mount source path does not exist: {source}"
                )));
            }
            mp.kind = MountKind::Bind;
            mp.source = clean_path(&source);
            mp.from_bind_flag = create;
            mp.propagation = m
                .bind_options
                .as_ref()
                .and_then(|b| b.propagation)
                .filter(|p| *p != MountBindOptionsPropagationEnum::EMPTY)
                .map(|p| p.to_string())
                .unwrap_or_else(|| "rprivate".into());
            mp.non_recursive = m
                .bind_options
                .as_ref()
                .and_then(|b| b.non_recursive)
                .unwrap_or(false);
        }
        Some(MountTypeEnum::VOLUME) => {
            if m.bind_options.is_some() {
                return Err(fail("field BindOptions must not be specified"));
            }
            if source.is_empty() && read_only {
                return Err(fail(
                    "must not set ReadOnly mode when using anonymous volumes",
                ));
            }
            let vo = m.volume_options.clone().unwrap_or_default();
            if let Some(d) = vo.driver_config.as_ref().and_then(|d| d.name.as_deref()) {
                if !d.is_empty() && d != "local" {
                    return Err(invalid(format!(
                        "error looking up volume plugin {d}: plugin \"{d}\" not found"
                    )));
                }
            }
            if vo.subpath.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(fail("volume subpaths are not supported by rdesk"));
            }
            mp.kind = MountKind::Volume;
            mp.name = source.clone();
            mp.anonymous = source.is_empty();
            mp.copy_data = !vo.no_copy.unwrap_or(false);
            mp.volume_labels = vo.labels.unwrap_or_default();
        }
        Some(MountTypeEnum::TMPFS) => {
            if m.bind_options.is_some() {
                return Err(fail("field BindOptions must not be specified"));
            }
            if !source.is_empty() {
                return Err(fail("field Source must not be specified"));
            }
            let t = m.tmpfs_options.clone().unwrap_or_default();
            if let Some(opts) = &t.options {
                for o in opts {
                    if o.is_empty() || o.len() > 2 {
                        return Err(fail("invalid option array length"));
                    }
                    if o[0] != "exec" && o[0] != "noexec" {
                        return Err(fail(&format!("invalid option: {}", o[0])));
                    }
                }
            }
            mp.kind = MountKind::Tmpfs;
            mp.tmpfs_size = t.size_bytes.filter(|s| *s > 0);
            mp.tmpfs_mode = t.mode.filter(|m| *m > 0).map(|m| m as u32);
        }
        _ => return Err(fail("mount type unknown")),
    }
    Ok(mp)
}

/// Docker's volume names for the local driver.
pub fn valid_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Docker's message for a name the local driver refuses.
pub fn invalid_name_error(name: &str) -> Error {
    invalid(format!(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    ))
}

/// Docker's tmpfs options for a tmpfs mount: `nosuid,nodev,noexec`, then size and mode.
pub fn tmpfs_options(mp: &MountPoint) -> Vec<String> {
    let mut o = vec!["nosuid".to_string(), "nodev".into(), "noexec".into()];
    if !mp.rw {
        o.insert(0, "ro".into());
    }
    if let Some(mode) = mp.tmpfs_mode {
        o.push(format!("mode={mode:o}"));
    }
    if let Some(size) = mp.tmpfs_size {
        let mut s = format!("size={size}");
        for (suffix, div) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
            if size % div == 0 {
                s = format!("size={}{suffix}", size / div);
                break;
            }
        }
        o.push(s);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn volume_flag_split_as_the_docker_cli() {
        assert_eq!(
            parse_volume_flag("/data", None).unwrap(),
            VolumeFlag::Anonymous("/data".into())
        );
        assert_eq!(
            parse_volume_flag("todo-db:/data", None).unwrap(),
            VolumeFlag::Bind("todo-db:/data".into())
        );
        assert_eq!(
            parse_volume_flag("./src:/x:ro", Some(std::path::Path::new("/home/u"))).unwrap(),
            VolumeFlag::Bind("/home/u/src:/x:ro".into())
        );
        assert_eq!(
            err(parse_volume_flag("", None)),
            "invalid empty volume spec"
        );
        assert_eq!(
            err(parse_volume_flag("a::/b", None)),
            "invalid spec: a::/b: empty section between colons"
        );
        assert_eq!(
            err(parse_volume_flag("a:/b:ro:x", None)),
            "invalid spec: a:/b:ro:x: too many colons"
        );
    }

    #[test]
    fn binds_parsed_as_the_daemon() {
        let m = parse_bind("todo-db:/data").unwrap();
        assert_eq!(
            (
                m.kind,
                m.name.as_str(),
                m.destination.as_str(),
                m.rw,
                m.copy_data
            ),
            (MountKind::Volume, "todo-db", "/data", true, true)
        );
        let m = parse_bind("/host/dir/:/x/:ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.destination.as_str(), m.rw),
            (MountKind::Bind, "/host/dir", "/x", false)
        );
        assert_eq!(m.propagation, "rprivate");
        assert_eq!(parse_bind("/h:/x:rshared").unwrap().propagation, "rshared");
        assert!(!parse_bind("v1:/x:nocopy").unwrap().copy_data);
        assert_eq!(err(parse_bind("/h:/x:zz")), "invalid mode: zz");
        assert_eq!(
            err(parse_bind("/x:rw")),
            "invalid volume specification: '/x:rw'"
        );
        assert_eq!(
            err(parse_bind("a:b:c:d")),
            "invalid volume specification: 'a:b:c:d'"
        );
        assert_eq!(
            err(parse_bind("myvol:x")),
            "invalid volume specification: 'myvol:x': invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be absolute"
        );
        assert_eq!(
            err(parse_bind("/h:/")),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            err(parse_bind("/h:/x:nocopy")),
            "invalid volume specification: '/h:/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"
        );
        assert_eq!(
            err(parse_bind("v:/x:rprivate")),
            "invalid volume specification: 'v:/x:rprivate': invalid mount config for type \"volume\": field BindOptions must not be specified"
        );
        assert_eq!(err(parse_bind("/h:/x:ro,rw")), "invalid mode: ro,rw");
        assert_eq!(
            err(parse_anonymous("data")),
            "invalid volume specification: 'data': invalid mount config for type \"volume\": invalid mount path: 'data' mount path must be absolute"
        );
    }

    #[test]
    fn mount_flag_as_the_docker_cli_and_daemon() {
        let m = parse_mount_flag("type=bind,src=/tmp,dst=/data,readonly", None).unwrap();
        let mp = parse_mount(&m).unwrap();
        assert_eq!(
            (mp.kind, mp.source.as_str(), mp.destination.as_str(), mp.rw),
            (MountKind::Bind, "/tmp", "/data", false)
        );
        let mp = parse_mount(&parse_mount_flag("source=v1,target=/d,volume-nocopy", None).unwrap())
            .unwrap();
        assert_eq!(
            (mp.kind, mp.name.as_str(), mp.copy_data),
            (MountKind::Volume, "v1", false)
        );
        let mp = parse_mount(
            &parse_mount_flag(
                "type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770",
                None,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (mp.tmpfs_size, mp.tmpfs_mode),
            (Some(64 << 20), Some(0o1770))
        );
        assert_eq!(
            tmpfs_options(&mp),
            ["nosuid", "nodev", "noexec", "mode=1770", "size=64m"]
        );
        assert_eq!(
            err(parse_mount(
                &parse_mount_flag("type=bind,src=/nonexistent-rdesk,dst=/x", None).unwrap()
            )),
            "invalid mount config for type \"bind\": bind mount source path does not exist: /nonexistent-rdesk"
        );
        assert_eq!(
            err(parse_mount(&parse_mount_flag("type=volume,src=v,dst=x", None).unwrap())),
            "invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be absolute"
        );
        assert_eq!(
            err(parse_mount(
                &parse_mount_flag("type=tmpfs,src=a,dst=/x", None).unwrap()
            )),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        assert_eq!(
            err(parse_mount(&parse_mount_flag("type=volume,dst=/x,ro", None).unwrap())),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
        );
        assert_eq!(
            err(parse_mount_flag("type=bind,src=/tmp", None)),
            "target is required"
        );
        assert_eq!(
            err(parse_mount_flag("type=bind,foo=bar,dst=/x", None)),
            "unexpected key 'foo' in 'foo=bar'"
        );
        assert_eq!(
            err(parse_mount_flag("type=bind,bogus,dst=/x", None)),
            "invalid field 'bogus' must be a key=value pair"
        );
        assert_eq!(
            err(parse_mount_flag("type=tmpfs,dst=/x,tmpfs-size=lots", None)),
            "invalid value for tmpfs-size: lots"
        );
        assert_eq!(
            err(parse_mount_flag(
                "type=bind,src=/tmp,dst=/x,volume-nocopy",
                None
            )),
            "cannot mix 'volume-*' options with mount type 'bind'"
        );
        assert_eq!(
            err(parse_mount_flag("type=volume,dst=/x,tmpfs-size=1m", None)),
            "cannot mix 'tmpfs-*' options with mount type 'volume'"
        );
        assert_eq!(
            err(parse_mount_flag(
                "type=bind,src=/tmp,dst=/x,readonly=maybe",
                None
            )),
            "invalid value for readonly: maybe"
        );
        assert_eq!(
            err(parse_mount_flag("type=weird,dst=/x", None)),
            "invalid mount config for type \"weird\": mount type unknown"
        );
        let m = parse_mount_flag("type=bind,\"src=/tmp\",dst=/x", None).unwrap();
        assert_eq!(m.source.as_deref(), Some("/tmp"));
    }

    #[test]
    fn names_and_sizes() {
        assert!(valid_volume_name("todo-db"));
        assert!(valid_volume_name("a.b_c-1"));
        assert!(!valid_volume_name("a"));
        assert!(!valid_volume_name("-ab"));
        assert!(!valid_volume_name("a/b"));
        assert!(!valid_volume_name("../x"));
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1GiB"), Some(1 << 30));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("x"), None);
        assert_eq!(clean_path("/a/../../b/./c/"), "/b/c");
    }
}
