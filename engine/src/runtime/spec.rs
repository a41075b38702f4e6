//! The OCI runtime bundle's `config.json` for a container: an image's config plus
//! `docker run`-style options, with Docker's defaults (capabilities, mounts, masked paths,
//! device rules, seccomp). Pure logic over the inputs, plus a few reads of the host (the
//! capabilities it has, `/dev` for `--privileged`, sysctls that exist) and of the rootfs
//! (`/etc/passwd`, symlinks of the working directory), always inside the rootfs.
//!
//! Design notes and where this differs from Docker: `docs/runtime-spec.md`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDevice,
    LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, LinuxSeccomp, Mount, MountBuilder, ProcessBuilder,
    RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::seccomp::{default_profile, load_profile};
use super::user::{resolve_user, RootDir};

/// Everything that can be wrong with a container's configuration.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no command specified")]
    NoCommand,
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkingDir(String),
    #[error(
        "the working directory '{dir}' resolves to '{resolved}', a /proc file-descriptor or \
         process link that would leak a host directory into the container (CVE-2024-21626); \
         use a directory of the container's filesystem"
    )]
    UnsafeWorkingDir { dir: String, resolved: String },
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    #[error("uids and gids must be in range 0-2147483647")]
    IdRange,
    #[error("cannot open the container's root filesystem {path}: {source}")]
    Rootfs {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path} in the container's root filesystem ({rootfs}): {source}")]
    RootfsFile {
        rootfs: PathBuf,
        path: String,
        source: std::io::Error,
    },
    #[error("unknown capability: \"{0}\"")]
    UnknownCapability(String),
    #[error(
        "capability not supported by your kernel or not available in the current environment: \
         \"{0}\""
    )]
    UnavailableCapability(String),
    #[error(
        "invalid --security-opt {0:?}: expected seccomp=unconfined|builtin|PROFILE.json, \
         no-new-privileges[=true|false], systempaths=unconfined, writable-cgroups=true|false, \
         apparmor=PROFILE or label=..."
    )]
    InvalidSecurityOpt(String),
    #[error("seccomp profile {origin}: {message}")]
    SeccompProfile { origin: String, message: String },
    #[error("sysctl '{0}' is not allowed")]
    SysctlNotAllowed(String),
    #[error("sysctl '{0}' is not allowed in the host's network namespace (--network host)")]
    SysctlHostNetwork(String),
    #[error("{0}")]
    Resources(String),
    #[error("Invalid signal: {0}")]
    InvalidSignal(String),
    #[error("invalid environment variable: {0:?}")]
    InvalidEnv(String),
    #[error("invalid hostname {0:?}: at most 64 bytes, no '/' or NUL")]
    InvalidHostname(String),
    #[error("--init: the init binary must be given as an absolute host path, got {0:?}")]
    InvalidInit(PathBuf),
    #[error("invalid mount destination {0:?}: it must be an absolute path")]
    InvalidMountDestination(PathBuf),
    #[error("cannot list the host's devices for --privileged: {0}")]
    HostDevices(std::io::Error),
    #[error("building the OCI spec: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

/// What the image says about running it: the image config's `config` object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageRuntimeConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A JSON string list that may also be a single string (Docker's `StrSlice`).
fn str_slice(v: Option<&serde_json::Value>) -> Option<Vec<String>> {
    match v? {
        serde_json::Value::String(s) => Some(vec![s.clone()]),
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn non_empty_str(v: Option<&serde_json::Value>) -> Option<String> {
    v?.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

impl ImageRuntimeConfig {
    /// From the image config's `config` object (Docker's PascalCase keys). Missing keys,
    /// nulls and a null object are tolerated.
    pub fn from_config_json(config: &serde_json::Value) -> Self {
        let get = |k: &str| config.get(k);
        ImageRuntimeConfig {
            entrypoint: str_slice(get("Entrypoint")),
            cmd: str_slice(get("Cmd")),
            env: str_slice(get("Env")).unwrap_or_default(),
            working_dir: non_empty_str(get("WorkingDir")),
            user: non_empty_str(get("User")),
            stop_signal: non_empty_str(get("StopSignal")),
            labels: get("Labels")
                .and_then(|l| l.as_object())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// `docker run` options that shape the bundle.
#[derive(Default, Clone, Debug)]
pub struct RunOptions {
    /// `--entrypoint`; `--entrypoint ""` (clear it) is `Some(vec![])`.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments after the image.
    pub cmd: Option<Vec<String>>,
    /// `-e` / `--env-file`, as KEY=VALUE (a bare KEY removes KEY).
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub read_only: bool,
    pub privileged: bool,
    /// Docker spelling: "NET_ADMIN", "CAP_NET_ADMIN", "ALL", any case.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// Bytes.
    pub memory: Option<i64>,
    /// Bytes of memory plus swap; -1 unlimited; unset: twice `memory`.
    pub memory_swap: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    /// Host path of a static init (tini-static) run as PID 1 (`--init`).
    pub init: Option<PathBuf>,
    pub security_opt: Vec<String>,
    /// Volumes and binds prepared by the caller, mounted after the defaults.
    pub mounts: Vec<Mount>,
    pub sysctls: BTreeMap<String, String>,
}

/// Everything [`build_spec`] needs for one container.
#[derive(Debug)]
pub struct BundleInput<'a> {
    /// The 64-hex container id.
    pub id: &'a str,
    /// Absolute host path of the container's merged rootfs. It must be mounted when
    /// `build_spec` runs: `--user` and the working directory are resolved in it.
    pub rootfs: &'a Path,
    pub image: &'a ImageRuntimeConfig,
    pub options: &'a RunOptions,
    /// Host files in the container's own directory, bind-mounted over /etc/...
    pub etc_hosts: &'a Path,
    pub etc_resolv_conf: &'a Path,
    pub etc_hostname: &'a Path,
    /// e.g. "/rdesk/<id>" (cgroupfs manager path).
    pub cgroups_path: String,
    /// Some: join this network namespace; None: a new, empty one.
    pub netns_path: Option<PathBuf>,
}

/// Docker's default `PATH`.
pub const DEFAULT_PATH_ENV: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `--init` puts the init binary in the container (Docker's path).
pub const INIT_PATH_IN_CONTAINER: &str = "/sbin/docker-init";

/// Docker's default /dev/shm size (64 MiB).
const SHM_SIZE: u64 = 64 << 20;

/// Docker's minimum `--memory` (6 MiB).
const MIN_MEMORY: i64 = 6 << 20;

/// CFS period Docker uses for `--cpus` (100 ms).
const CPU_PERIOD: u64 = 100_000;

// ---------------------------------------------------------------------------------------
// Capabilities

/// Every capability the OCI types know, with its kernel bit number.
const CAPABILITIES: &[(Capability, &str, u8)] = &[
    (Capability::Chown, "CAP_CHOWN", 0),
    (Capability::DacOverride, "CAP_DAC_OVERRIDE", 1),
    (Capability::DacReadSearch, "CAP_DAC_READ_SEARCH", 2),
    (Capability::Fowner, "CAP_FOWNER", 3),
    (Capability::Fsetid, "CAP_FSETID", 4),
    (Capability::Kill, "CAP_KILL", 5),
    (Capability::Setgid, "CAP_SETGID", 6),
    (Capability::Setuid, "CAP_SETUID", 7),
    (Capability::Setpcap, "CAP_SETPCAP", 8),
    (Capability::LinuxImmutable, "CAP_LINUX_IMMUTABLE", 9),
    (Capability::NetBindService, "CAP_NET_BIND_SERVICE", 10),
    (Capability::NetBroadcast, "CAP_NET_BROADCAST", 11),
    (Capability::NetAdmin, "CAP_NET_ADMIN", 12),
    (Capability::NetRaw, "CAP_NET_RAW", 13),
    (Capability::IpcLock, "CAP_IPC_LOCK", 14),
    (Capability::IpcOwner, "CAP_IPC_OWNER", 15),
    (Capability::SysModule, "CAP_SYS_MODULE", 16),
    (Capability::SysRawio, "CAP_SYS_RAWIO", 17),
    (Capability::SysChroot, "CAP_SYS_CHROOT", 18),
    (Capability::SysPtrace, "CAP_SYS_PTRACE", 19),
    (Capability::SysPacct, "CAP_SYS_PACCT", 20),
    (Capability::SysAdmin, "CAP_SYS_ADMIN", 21),
    (Capability::SysBoot, "CAP_SYS_BOOT", 22),
    (Capability::SysNice, "CAP_SYS_NICE", 23),
    (Capability::SysResource, "CAP_SYS_RESOURCE", 24),
    (Capability::SysTime, "CAP_SYS_TIME", 25),
    (Capability::SysTtyConfig, "CAP_SYS_TTY_CONFIG", 26),
    (Capability::Mknod, "CAP_MKNOD", 27),
    (Capability::Lease, "CAP_LEASE", 28),
    (Capability::AuditWrite, "CAP_AUDIT_WRITE", 29),
    (Capability::AuditControl, "CAP_AUDIT_CONTROL", 30),
    (Capability::Setfcap, "CAP_SETFCAP", 31),
    (Capability::MacOverride, "CAP_MAC_OVERRIDE", 32),
    (Capability::MacAdmin, "CAP_MAC_ADMIN", 33),
    (Capability::Syslog, "CAP_SYSLOG", 34),
    (Capability::WakeAlarm, "CAP_WAKE_ALARM", 35),
    (Capability::BlockSuspend, "CAP_BLOCK_SUSPEND", 36),
    (Capability::AuditRead, "CAP_AUDIT_READ", 37),
    (Capability::Perfmon, "CAP_PERFMON", 38),
    (Capability::Bpf, "CAP_BPF", 39),
    (Capability::CheckpointRestore, "CAP_CHECKPOINT_RESTORE", 40),
];

/// Docker's default capability set, in Docker's order.
const DOCKER_DEFAULT_CAPS: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The 14 capabilities Docker gives a container.
pub fn docker_capabilities() -> Vec<Capability> {
    DOCKER_DEFAULT_CAPS.to_vec()
}

/// "CAP_SYS_ADMIN" for `Capability::SysAdmin`.
pub fn capability_name(c: Capability) -> &'static str {
    CAPABILITIES
        .iter()
        .find(|(cap, _, _)| *cap == c)
        .map(|(_, n, _)| *n)
        .expect("every Capability is in the table")
}

/// The kernel bit of a capability (CAP_CHOWN = 0, ...).
pub fn capability_bit(c: Capability) -> u8 {
    CAPABILITIES
        .iter()
        .find(|(cap, _, _)| *cap == c)
        .map(|(_, _, b)| *b)
        .expect("every Capability is in the table")
}

/// The bitmask `/proc/PID/status` shows for a set (CapEff etc.).
pub fn capability_mask<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> u64 {
    caps.into_iter()
        .fold(0, |m, c| m | 1u64 << capability_bit(*c))
}

fn capability_by_name(name: &str) -> Option<Capability> {
    CAPABILITIES
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(c, _, _)| *c)
}

/// Capabilities this environment can grant: those the running kernel knows
/// (`cap_last_cap`) and, when this process has any effective capabilities, only those (as
/// Docker: a privileged container gets what its engine has, e.g. no CAP_SYS_RESOURCE where
/// the engine runs without it).
pub fn available_capabilities() -> Vec<Capability> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(u8::MAX);
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    CAPABILITIES
        .iter()
        .filter(|(_, _, bit)| *bit <= last && (effective == 0 || effective & (1 << bit) != 0))
        .map(|(c, _, _)| *c)
        .collect()
}

/// Docker's "ALL" or a normalized "CAP_..." name, checked.
enum CapArg {
    All,
    Cap(Capability),
}

fn normalize_caps(
    names: &[String],
    available: &[Capability],
    check_available: bool,
) -> Result<Vec<CapArg>, SpecError> {
    let mut out = Vec::new();
    for raw in names {
        let up = raw.trim().to_ascii_uppercase();
        if up == "ALL" {
            out.push(CapArg::All);
            continue;
        }
        let name = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        let cap = capability_by_name(&name).ok_or(SpecError::UnknownCapability(name.clone()))?;
        if check_available && !available.contains(&cap) {
            return Err(SpecError::UnavailableCapability(name));
        }
        out.push(CapArg::Cap(cap));
    }
    Ok(out)
}

/// Docker's capability arithmetic (`TweakCapabilities`): privileged gets everything
/// available; `--cap-add ALL` is everything but the drops; `--cap-drop ALL` keeps only the
/// adds; otherwise defaults minus drops plus adds.
pub fn container_capabilities(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
    available: &[Capability],
) -> Result<Vec<Capability>, SpecError> {
    if privileged {
        return Ok(available.to_vec());
    }
    // Dropping a capability the environment lacks is harmless, so only adds must be
    // available (Docker refuses both).
    let drops = normalize_caps(cap_drop, available, false)?;
    let adds = normalize_caps(cap_add, available, true)?;
    let has_all = |v: &[CapArg]| v.iter().any(|c| matches!(c, CapArg::All));
    let caps_of = |v: &[CapArg]| -> Vec<Capability> {
        v.iter()
            .filter_map(|c| match c {
                CapArg::Cap(c) => Some(*c),
                CapArg::All => None,
            })
            .collect()
    };
    let (drop_caps, add_caps) = (caps_of(&drops), caps_of(&adds));
    let mut out: Vec<Capability> = if has_all(&adds) {
        available
            .iter()
            .copied()
            .filter(|c| !drop_caps.contains(c))
            .collect()
    } else if has_all(&drops) {
        add_caps
    } else {
        let mut v: Vec<Capability> = DOCKER_DEFAULT_CAPS
            .iter()
            .copied()
            .filter(|c| !drop_caps.contains(c))
            .collect();
        v.extend(add_caps);
        v
    };
    let mut seen = HashSet::new();
    out.retain(|c| seen.insert(*c));
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Signals

/// Signal names as Docker accepts them (without "SIG"), Linux numbering.
const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("UNUSED", 31),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

/// "SIGTERM", "term", "15", "SIGRTMIN+3" -> the signal number.
pub fn parse_signal(raw: &str) -> Result<i32, SpecError> {
    let bad = || SpecError::InvalidSignal(raw.to_string());
    if let Ok(n) = raw.parse::<i64>() {
        return if (1..=SIGRTMAX as i64).contains(&n) {
            Ok(n as i32)
        } else {
            Err(bad())
        };
    }
    let up = raw.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().ok()?
        };
        let n = base + sign * off;
        (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
    };
    let n = if let Some(rest) = name.strip_prefix("RTMIN") {
        match rest.strip_prefix('+') {
            Some(off) => rt(SIGRTMIN, off, 1),
            None if rest.is_empty() => Some(SIGRTMIN),
            None => None,
        }
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        match rest.strip_prefix('-') {
            Some(off) => rt(SIGRTMAX, off, -1),
            None if rest.is_empty() => Some(SIGRTMAX),
            None => None,
        }
    } else {
        None
    };
    n.ok_or_else(bad)
}

/// The image's stop signal (Docker's default: SIGTERM).
pub fn stop_signal(image: &ImageRuntimeConfig) -> Result<i32, SpecError> {
    match image.stop_signal.as_deref() {
        None | Some("") => Ok(15),
        Some(s) => parse_signal(s),
    }
}

// ---------------------------------------------------------------------------------------
// Process

/// Docker's rule: the entrypoint is the option's, else the image's; the command is the
/// option's if given, else the image's only when the entrypoint was not overridden.
pub fn process_args(
    image: &ImageRuntimeConfig,
    options: &RunOptions,
) -> Result<Vec<String>, SpecError> {
    let overridden = options.entrypoint.is_some();
    let mut entrypoint = match &options.entrypoint {
        Some(e) => e.clone(),
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    // `[""]` is Docker's spelling of "no entrypoint".
    if entrypoint.len() == 1 && entrypoint[0].is_empty() {
        entrypoint.clear();
    }
    let cmd = match &options.cmd {
        Some(c) if !c.is_empty() => c.clone(),
        _ if !overridden => image.cmd.clone().unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut args = entrypoint;
    args.extend(cmd);
    if args.is_empty() || args[0].is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

fn validate_env(e: &str) -> Result<(), SpecError> {
    if env_key(e).is_empty() || e.contains('\0') {
        return Err(SpecError::InvalidEnv(e.to_string()));
    }
    Ok(())
}

/// Sets or replaces `entry`'s key in `env` (a bare KEY removes it).
fn replace_or_append(env: &mut Vec<String>, entry: &str) {
    let key = env_key(entry);
    let pos = env.iter().position(|e| env_key(e) == key);
    match (pos, entry.contains('=')) {
        (Some(i), true) => env[i] = entry.to_string(),
        (Some(i), false) => {
            env.remove(i);
        }
        (None, true) => env.push(entry.to_string()),
        (None, false) => {}
    }
}

/// Docker's environment: PATH, HOSTNAME (and TERM with a tty) first, overridden in place by
/// the options' variables then the image's (options win over the image by key); HOME from
/// the user's passwd entry when still unset.
pub fn process_env(
    image_env: &[String],
    options_env: &[String],
    hostname: &str,
    tty: bool,
    home: &str,
) -> Result<Vec<String>, SpecError> {
    for e in image_env.iter().chain(options_env) {
        validate_env(e)?;
    }
    let mut env = vec![
        format!("PATH={DEFAULT_PATH_ENV}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    let user_keys: HashSet<&str> = options_env.iter().map(|e| env_key(e)).collect();
    let merged = options_env
        .iter()
        .chain(image_env.iter().filter(|e| !user_keys.contains(env_key(e))));
    for e in merged {
        replace_or_append(&mut env, e);
    }
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    Ok(env)
}

/// Lexical clean of an absolute path (Go's `filepath.Clean` for absolute paths).
fn clean_abs(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// A path under /proc/<pid|self|thread-self>/ that goes through a process's fd, cwd, root or
/// exe links (the magic links CVE-2024-21626 used to reach a host directory).
fn is_proc_magic_link(clean: &str) -> bool {
    let comps: Vec<&str> = clean.split('/').filter(|c| !c.is_empty()).collect();
    if comps.first() != Some(&"proc") || comps.len() < 3 {
        return false;
    }
    let pid = comps[1];
    if !(pid == "self" || pid == "thread-self" || pid.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    comps[2..]
        .iter()
        .any(|c| matches!(*c, "fd" | "cwd" | "root" | "exe" | "map_files" | "fdinfo"))
}

/// The process's working directory: absolute, clean, and not a /proc magic link, neither
/// as written nor after following the rootfs's symlinks.
pub fn working_dir(
    rootfs: Option<&Path>,
    image: &ImageRuntimeConfig,
    options: &RunOptions,
) -> Result<String, SpecError> {
    let raw = options
        .working_dir
        .as_deref()
        .filter(|w| !w.is_empty())
        .or(image.working_dir.as_deref().filter(|w| !w.is_empty()))
        .unwrap_or("/");
    if !raw.starts_with('/') {
        return Err(SpecError::RelativeWorkingDir(raw.to_string()));
    }
    let clean = clean_abs(raw);
    let unsafe_dir = |resolved: &str| SpecError::UnsafeWorkingDir {
        dir: raw.to_string(),
        resolved: resolved.to_string(),
    };
    if is_proc_magic_link(&clean) {
        return Err(unsafe_dir(&clean));
    }
    if let Some(rootfs) = rootfs {
        let resolved = RootDir::open(rootfs)?.resolve_path(&clean);
        if is_proc_magic_link(&resolved) {
            return Err(unsafe_dir(&resolved));
        }
    }
    Ok(clean)
}

// ---------------------------------------------------------------------------------------
// Security options

#[derive(Debug, Clone, PartialEq, Eq)]
enum SeccompChoice {
    Builtin,
    Unconfined,
    Profile(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SecurityOpts {
    seccomp: SeccompChoice,
    no_new_privileges: bool,
    systempaths_unconfined: bool,
    writable_cgroups: bool,
}

/// Go's strconv.ParseBool.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, SpecError> {
    let mut out = SecurityOpts {
        seccomp: SeccompChoice::Builtin,
        no_new_privileges: false,
        systempaths_unconfined: false,
        writable_cgroups: false,
    };
    for opt in opts {
        let bad = || SpecError::InvalidSecurityOpt(opt.clone());
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        // Docker accepts "key=value" and the deprecated "key:value".
        let (k, v) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .ok_or_else(bad)?;
        match k {
            "seccomp" => {
                out.seccomp = match v {
                    "unconfined" => SeccompChoice::Unconfined,
                    "builtin" | "" => SeccompChoice::Builtin,
                    path => SeccompChoice::Profile(PathBuf::from(path)),
                }
            }
            "no-new-privileges" => out.no_new_privileges = parse_bool(v).ok_or_else(bad)?,
            "systempaths" if v == "unconfined" => out.systempaths_unconfined = true,
            "writable-cgroups" => out.writable_cgroups = parse_bool(v).ok_or_else(bad)?,
            // AppArmor and SELinux are not applied by rdesk; accepted for compatibility.
            "apparmor" | "label" => {}
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Mounts

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// Docker's default mounts, in Docker's order.
fn default_mounts() -> Result<Vec<Mount>, SpecError> {
    let shm_size = format!("size={SHM_SIZE}");
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        )?,
    ])
}

fn clear_readonly(m: &mut Mount) {
    if let Some(opts) = m.options().clone() {
        m.set_options(Some(opts.into_iter().filter(|o| o != "ro").collect()));
    }
}

fn add_readonly(m: &mut Mount) {
    let mut opts = m.options().clone().unwrap_or_default();
    if !opts.iter().any(|o| o == "ro") {
        opts.push("ro".to_string());
    }
    m.set_options(Some(opts));
}

fn depth(p: &Path) -> usize {
    clean_abs(&p.to_string_lossy())
        .split('/')
        .filter(|c| !c.is_empty())
        .count()
}

struct MountPlan<'a> {
    options: &'a RunOptions,
    read_only_rootfs: bool,
    privileged: bool,
    writable_cgroups: bool,
}

/// Defaults (minus those a caller mount replaces), the init binary, then the /etc files and
/// the caller's mounts sorted by depth so that a parent is mounted before what is under it.
fn build_mounts(plan: &MountPlan, input: &BundleInput) -> Result<Vec<Mount>, SpecError> {
    let user_dests: HashSet<String> = plan
        .options
        .mounts
        .iter()
        .map(|m| {
            let d = m.destination();
            if !d.is_absolute() {
                return Err(SpecError::InvalidMountDestination(d.clone()));
            }
            Ok(clean_abs(&d.to_string_lossy()))
        })
        .collect::<Result<_, _>>()?;
    let user_has_dev = user_dests.contains("/dev");
    let replaced =
        |dest: &str| user_dests.contains(dest) || (user_has_dev && dest.starts_with("/dev/"));

    let mut mounts: Vec<Mount> = default_mounts()?
        .into_iter()
        .filter(|m| !replaced(&m.destination().to_string_lossy()))
        .collect();
    if let Some(init) = &plan.options.init {
        if !init.is_absolute() {
            return Err(SpecError::InvalidInit(init.clone()));
        }
        if !replaced(INIT_PATH_IN_CONTAINER) {
            mounts.push(mount(
                INIT_PATH_IN_CONTAINER,
                "bind",
                &init.to_string_lossy(),
                &["bind", "ro"],
            )?);
        }
    }
    // Docker: everything but the kernel filesystems goes read-only with --read-only.
    if plan.read_only_rootfs {
        for m in &mut mounts {
            let d = m.destination().to_string_lossy();
            if !matches!(
                d.as_ref(),
                "/proc" | "/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/dev"
            ) {
                add_readonly(m);
            }
        }
    }
    for m in &mut mounts {
        let d = m.destination().to_string_lossy().into_owned();
        if (plan.privileged && d == "/sys")
            || ((plan.privileged || plan.writable_cgroups) && m.typ().as_deref() == Some("cgroup"))
        {
            clear_readonly(m);
        }
    }

    // The /etc files: writable unless the rootfs is read-only (Docker's NetworkMounts).
    let mut later: Vec<Mount> = Vec::new();
    for (dest, src) in [
        ("/etc/resolv.conf", input.etc_resolv_conf),
        ("/etc/hostname", input.etc_hostname),
        ("/etc/hosts", input.etc_hosts),
    ] {
        if replaced(dest) {
            continue;
        }
        let opts: &[&str] = if plan.read_only_rootfs {
            &["rbind", "ro", "rprivate"]
        } else {
            &["rbind", "rprivate"]
        };
        later.push(mount(dest, "bind", &src.to_string_lossy(), opts)?);
    }
    later.extend(plan.options.mounts.iter().cloned());
    later.sort_by_key(|m| depth(m.destination()));
    mounts.extend(later);
    Ok(mounts)
}

// ---------------------------------------------------------------------------------------
// Linux

/// Docker's default masked paths (plus the per-CPU thermal_throttle directories that exist
/// on this host, as Docker adds them).
pub fn masked_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/devices/virtual/powercap",
        "/sys/firmware",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    for cpu in parse_cpu_list(possible.trim()) {
        let p = format!("/sys/devices/system/cpu/cpu{cpu}/thermal_throttle");
        if Path::new(&p).exists() {
            paths.push(p);
        }
    }
    paths
}

/// "0-3,6" -> 0,1,2,3,6 (bounded to 4096 CPUs).
fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
            out.extend((a..=b.min(4095)).take(4096));
        }
    }
    out
}

/// Docker's read-only paths.
pub fn readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn dev_rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup, SpecError> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access(access);
    if let Some(t) = typ {
        b = b.typ(t);
    }
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    Ok(b.build()?)
}

/// The device cgroup rules: deny all, Docker's allows, Docker's fuse deny, then the rules
/// runc and youki add to every container anyway (written out so the bundle says it all).
pub fn default_device_rules() -> Result<Vec<LinuxDeviceCgroup>, SpecError> {
    use LinuxDeviceType::{B, C};
    let c = |major: i64, minor: i64| dev_rule(true, Some(C), Some(major), Some(minor), "rwm");
    Ok(vec![
        dev_rule(false, None, None, None, "rwm")?,
        // Docker's defaults: zero, null, urandom, random, tty, console; deny fuse.
        c(1, 5)?,
        c(1, 3)?,
        c(1, 9)?,
        c(1, 8)?,
        c(5, 0)?,
        c(5, 1)?,
        dev_rule(false, Some(C), Some(10), Some(229), "rwm")?,
        // The runtime's built-ins: mknod of any device, full, ptys, ptmx, tun/tap.
        dev_rule(true, Some(C), None, None, "m")?,
        dev_rule(true, Some(B), None, None, "m")?,
        c(1, 7)?,
        dev_rule(true, Some(C), Some(136), None, "rwm")?,
        c(5, 2)?,
        c(10, 200)?,
    ])
}

/// Every char and block device under the host's /dev (for `--privileged`), skipping the
/// per-container filesystems Docker skips.
pub fn host_devices() -> Result<Vec<LinuxDevice>, SpecError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from("/dev")];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == Path::new("/dev") => return Err(SpecError::HostDevices(e)),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(md) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let ft = md.file_type();
            if ft.is_dir() {
                let name = entry.file_name();
                let skip = dir == Path::new("/dev")
                    && matches!(
                        name.to_str(),
                        Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev")
                    );
                if !skip {
                    stack.push(path);
                }
                continue;
            }
            let typ = if ft.is_char_device() {
                LinuxDeviceType::C
            } else if ft.is_block_device() {
                LinuxDeviceType::B
            } else {
                continue;
            };
            if path == Path::new("/dev/console") {
                continue;
            }
            let rdev = md.rdev();
            out.push(
                LinuxDeviceBuilder::default()
                    .path(path)
                    .typ(typ)
                    .major(nix::sys::stat::major(rdev) as i64)
                    .minor(nix::sys::stat::minor(rdev) as i64)
                    .file_mode(md.mode() & 0o7777)
                    .uid(md.uid())
                    .gid(md.gid())
                    .build()?,
            );
        }
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}

/// Namespaced sysctls Docker lets a container set.
fn sysctl_allowed(key: &str) -> bool {
    matches!(
        key,
        "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
            | "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
    ) || key.starts_with("net.")
        || key.starts_with("fs.mqueue.")
}

/// Is `path` the host's own network namespace (`--network host`)?
fn is_host_netns(path: &Path) -> bool {
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    match id(path) {
        Some(ns) => [Path::new("/proc/1/ns/net"), Path::new("/proc/self/ns/net")]
            .iter()
            .any(|h| id(h) == Some(ns)),
        None => false,
    }
}

/// Does this process run inside a user namespace (its uid map is not the identity)?
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            let f: Vec<&str> = m.split_whitespace().collect();
            f != ["0", "0", "4294967295"]
        })
        .unwrap_or(false)
}

fn sysctls(options: &RunOptions, host_netns: bool) -> Result<BTreeMap<String, String>, SpecError> {
    let mut out = BTreeMap::new();
    // Docker's defaults for a container with its own network namespace: ping without
    // CAP_NET_RAW, and any port without CAP_NET_BIND_SERVICE.
    if !host_netns {
        let exists = |k: &str| Path::new("/proc/sys").join(k.replace('.', "/")).exists();
        if !in_user_namespace() && exists("net.ipv4.ping_group_range") {
            out.insert(
                "net.ipv4.ping_group_range".to_string(),
                "0 2147483647".to_string(),
            );
        }
        if exists("net.ipv4.ip_unprivileged_port_start") {
            out.insert(
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "0".to_string(),
            );
        }
    }
    for (k, v) in &options.sysctls {
        if !sysctl_allowed(k) {
            return Err(SpecError::SysctlNotAllowed(format!("{k}={v}")));
        }
        if host_netns && k.starts_with("net.") {
            return Err(SpecError::SysctlHostNetwork(k.clone()));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

fn resources(
    options: &RunOptions,
    privileged: bool,
) -> Result<oci_spec::runtime::LinuxResources, SpecError> {
    let res = |m: &str| SpecError::Resources(m.to_string());
    let memory = options.memory.filter(|m| *m != 0);
    let swap = options.memory_swap.filter(|s| *s != 0);
    if let Some(m) = memory {
        if m < MIN_MEMORY {
            return Err(res("Minimum memory limit allowed is 6MB"));
        }
    }
    match (memory, swap) {
        (None, Some(s)) if s > 0 => {
            return Err(res(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ))
        }
        (Some(m), Some(s)) if s > 0 && s < m => {
            return Err(res(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ))
        }
        (_, Some(s)) if s < -1 => {
            return Err(SpecError::Resources(format!(
                "invalid --memory-swap {s}: use -1 for unlimited swap"
            )))
        }
        _ => {}
    }
    let mut rb = LinuxResourcesBuilder::default();
    if let Some(m) = memory {
        let mut mb = LinuxMemoryBuilder::default().limit(m);
        // Docker: swap defaults to twice the memory; -1 is unlimited (left unset).
        match swap {
            None => mb = mb.swap(m.saturating_mul(2)),
            Some(s) if s > 0 => mb = mb.swap(s),
            Some(_) => {}
        }
        rb = rb.memory(mb.build()?);
    }
    if let Some(cpus) = options.cpus {
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        let nano = (cpus * 1e9).round();
        if !cpus.is_finite() || nano < 1e7 || nano > ncpu as f64 * 1e9 {
            return Err(SpecError::Resources(format!(
                "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )));
        }
        let quota = (nano as i64) * CPU_PERIOD as i64 / 1_000_000_000;
        rb = rb.cpu(
            LinuxCpuBuilder::default()
                .period(CPU_PERIOD)
                .quota(quota)
                .build()?,
        );
    }
    if let Some(p) = options.pids_limit {
        // Docker: zero or negative means unlimited (-1).
        rb = rb.pids(
            LinuxPidsBuilder::default()
                .limit(if p > 0 { p } else { -1 })
                .build()?,
        );
    }
    let devices = if privileged {
        vec![LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwm")
            .build()?]
    } else {
        default_device_rules()?
    };
    Ok(rb.devices(devices).build()?)
}

fn namespaces(netns: Option<&Path>) -> Result<Vec<LinuxNamespace>, SpecError> {
    use LinuxNamespaceType::*;
    let mut out = Vec::new();
    for t in [Mount, Network, Uts, Pid, Ipc, Cgroup] {
        let mut b = LinuxNamespaceBuilder::default().typ(t);
        if t == Network {
            if let Some(p) = netns {
                b = b.path(p);
            }
        }
        out.push(b.build()?);
    }
    Ok(out)
}

fn validate_hostname(h: &str) -> Result<(), SpecError> {
    if h.len() > 64 || h.contains('/') || h.contains('\0') {
        return Err(SpecError::InvalidHostname(h.to_string()));
    }
    Ok(())
}

/// The bundle's `config.json` for one container.
pub fn build_spec(input: &BundleInput) -> Result<Spec, SpecError> {
    let options = input.options;
    let image = input.image;
    let security = parse_security_opts(&options.security_opt)?;

    // Process arguments, with the init in front.
    let mut args = process_args(image, options)?;
    if let Some(init) = &options.init {
        if !init.is_absolute() {
            return Err(SpecError::InvalidInit(init.clone()));
        }
        let mut with_init = vec![INIT_PATH_IN_CONTAINER.to_string(), "--".to_string()];
        with_init.append(&mut args);
        args = with_init;
    }

    let hostname = options
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| input.id.chars().take(12).collect());
    validate_hostname(&hostname)?;
    if let Some(d) = &options.domainname {
        validate_hostname(d)?;
    }

    let user_spec = options
        .user
        .as_deref()
        .or(image.user.as_deref())
        .unwrap_or("");
    let user = resolve_user(input.rootfs, user_spec)?;
    let env = process_env(&image.env, &options.env, &hostname, options.tty, &user.home)?;
    let cwd = working_dir(Some(input.rootfs), image, options)?;

    // Capabilities: bounding = effective = permitted (Docker 25+: no inheritable, no
    // ambient, so CapEff of a root process is exactly the set).
    let available = available_capabilities();
    let caps = container_capabilities(
        &options.cap_add,
        &options.cap_drop,
        options.privileged,
        &available,
    )?;
    let cap_set: oci_spec::runtime::Capabilities = caps.iter().copied().collect();
    let mut capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(cap_set.clone())
        .effective(cap_set.clone())
        .permitted(cap_set)
        .build()?;
    // oci-spec's default fills these two; Docker leaves them empty (CVE-2022-24769).
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);

    let mut oci_user = UserBuilder::default().uid(user.uid).gid(user.gid);
    if !user.additional_gids.is_empty() {
        oci_user = oci_user.additional_gids(user.additional_gids.clone());
    }
    let process = ProcessBuilder::default()
        .terminal(options.tty)
        .user(oci_user.build()?)
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(capabilities)
        // Docker writes 0: the container does not inherit the shim's own score.
        .oom_score_adj(0);
    let mut process = process.build()?;
    // The builder starts from oci-spec's `Process::default()`, which sets an rlimit and
    // no_new_privileges: this spec sets neither unless asked.
    process.set_rlimits(None);
    process.set_no_new_privileges(security.no_new_privileges.then_some(true));

    let host_netns = input.netns_path.as_deref().is_some_and(is_host_netns);
    let seccomp: Option<LinuxSeccomp> = if options.privileged {
        None
    } else {
        match &security.seccomp {
            SeccompChoice::Unconfined => None,
            SeccompChoice::Builtin => default_profile().resolve(&caps)?,
            SeccompChoice::Profile(path) => load_profile(path)?.resolve(&caps)?,
        }
    };

    let plan = MountPlan {
        options,
        read_only_rootfs: options.read_only,
        privileged: options.privileged,
        writable_cgroups: security.writable_cgroups,
    };
    let mounts = build_mounts(&plan, input)?;

    let unconfined_paths = options.privileged || security.systempaths_unconfined;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces(input.netns_path.as_deref())?)
        .masked_paths(if unconfined_paths {
            Vec::new()
        } else {
            masked_paths()
        })
        .readonly_paths(if unconfined_paths {
            Vec::new()
        } else {
            readonly_paths()
        })
        .devices(if options.privileged {
            host_devices()?
        } else {
            Vec::new()
        })
        .resources(resources(options, options.privileged)?)
        .cgroups_path(PathBuf::from(&input.cgroups_path))
        .sysctl(
            sysctls(options, host_netns)?
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    if let Some(s) = seccomp {
        linux = linux.seccomp(s);
    }

    let mut spec = SpecBuilder::default()
        .version(oci_spec::runtime::VERSION)
        .root(
            RootBuilder::default()
                .path(input.rootfs)
                .readonly(options.read_only)
                .build()?,
        )
        .process(process)
        .hostname(hostname)
        .mounts(mounts)
        .linux(linux.build()?);
    if let Some(d) = options.domainname.as_ref().filter(|d| !d.is_empty()) {
        spec = spec.domainname(d.clone());
    }
    let mut spec = spec.build()?;
    spec.set_annotations(None);
    Ok(spec)
}

/// Sorted capability names of a set (config.json serializes sets in hash order).
pub fn sorted_names(caps: &oci_spec::runtime::Capabilities) -> Vec<&'static str> {
    let set: BTreeSet<&'static str> = caps.iter().map(|c| capability_name(*c)).collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("rootfs");
            fs::create_dir_all(root.join("etc")).unwrap();
            fs::write(
                root.join("etc/passwd"),
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            )
            .unwrap();
            fs::write(root.join("etc/group"), "root:x:0:\nwheel:x:10:app\n").unwrap();
            for f in ["hosts", "resolv.conf", "hostname"] {
                fs::write(dir.path().join(f), "").unwrap();
            }
            Fixture { dir }
        }
        fn rootfs(&self) -> PathBuf {
            self.dir.path().join("rootfs")
        }
        fn build(
            &self,
            image: &ImageRuntimeConfig,
            options: &RunOptions,
        ) -> Result<Spec, SpecError> {
            self.build_net(image, options, None)
        }
        fn build_net(
            &self,
            image: &ImageRuntimeConfig,
            options: &RunOptions,
            netns: Option<PathBuf>,
        ) -> Result<Spec, SpecError> {
            let rootfs = self.rootfs();
            let (hosts, resolv, hostname) = (
                self.dir.path().join("hosts"),
                self.dir.path().join("resolv.conf"),
                self.dir.path().join("hostname"),
            );
            build_spec(&BundleInput {
                id: ID,
                rootfs: &rootfs,
                image,
                options,
                etc_hosts: &hosts,
                etc_resolv_conf: &resolv,
                etc_hostname: &hostname,
                cgroups_path: format!("/rdesk/{ID}"),
                netns_path: netns,
            })
        }
    }

    fn img(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageRuntimeConfig {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        ImageRuntimeConfig {
            entrypoint: entrypoint.map(v),
            cmd: cmd.map(v),
            ..Default::default()
        }
    }

    fn sv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn json(spec: &Spec) -> serde_json::Value {
        serde_json::to_value(spec).unwrap()
    }

    #[test]
    fn image_config_from_json() {
        let c = ImageRuntimeConfig::from_config_json(&serde_json::json!({
            "Entrypoint": "/entry.sh",
            "Cmd": ["a", "b"],
            "Env": ["PATH=/x", "A=1"],
            "WorkingDir": "/srv",
            "User": "app:wheel",
            "StopSignal": "SIGQUIT",
            "Labels": {"k": "v", "n": null},
            "ExposedPorts": {"80/tcp": {}}
        }));
        assert_eq!(c.entrypoint, Some(sv(&["/entry.sh"])));
        assert_eq!(c.cmd, Some(sv(&["a", "b"])));
        assert_eq!(c.env, sv(&["PATH=/x", "A=1"]));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.user.as_deref(), Some("app:wheel"));
        assert_eq!(stop_signal(&c).unwrap(), 3);
        assert_eq!(c.labels.get("k").map(String::as_str), Some("v"));
        assert_eq!(c.labels.len(), 1);
        let empty = ImageRuntimeConfig::from_config_json(&serde_json::Value::Null);
        assert_eq!(empty, ImageRuntimeConfig::default());
        let nulls = ImageRuntimeConfig::from_config_json(&serde_json::json!({
            "Entrypoint": null, "Cmd": null, "Env": null, "WorkingDir": "", "Labels": null
        }));
        assert_eq!(nulls, ImageRuntimeConfig::default());
    }

    #[test]
    fn stop_signals() {
        let s = |v: &str| {
            stop_signal(&ImageRuntimeConfig {
                stop_signal: Some(v.into()),
                ..Default::default()
            })
        };
        assert_eq!(stop_signal(&ImageRuntimeConfig::default()).unwrap(), 15);
        assert_eq!(s("SIGTERM").unwrap(), 15);
        assert_eq!(s("TERM").unwrap(), 15);
        assert_eq!(s("term").unwrap(), 15);
        assert_eq!(s("15").unwrap(), 15);
        assert_eq!(s("SIGKILL").unwrap(), 9);
        assert_eq!(s("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(s("RTMAX-1").unwrap(), 63);
        assert_eq!(s("SIGWINCH").unwrap(), 28);
        assert_eq!(
            s("SIGFOO").unwrap_err().to_string(),
            "Invalid signal: SIGFOO"
        );
        assert!(s("0").is_err() && s("65").is_err() && s("RTMIN+40").is_err());
    }

    #[test]
    fn args_entrypoint_cmd_matrix() {
        let run = |e: Option<&[&str]>, c: Option<&[&str]>| RunOptions {
            entrypoint: e.map(sv),
            cmd: c.map(sv),
            ..Default::default()
        };
        let both = img(Some(&["/ep", "-x"]), Some(&["def"]));
        // Nothing overridden: entrypoint + image cmd.
        assert_eq!(
            process_args(&both, &run(None, None)).unwrap(),
            sv(&["/ep", "-x", "def"])
        );
        // Args replace the image cmd, keep the entrypoint.
        assert_eq!(
            process_args(&both, &run(None, Some(&["a"]))).unwrap(),
            sv(&["/ep", "-x", "a"])
        );
        // --entrypoint drops the image cmd.
        assert_eq!(
            process_args(&both, &run(Some(&["/bin/sh"]), None)).unwrap(),
            sv(&["/bin/sh"])
        );
        assert_eq!(
            process_args(&both, &run(Some(&["/bin/sh"]), Some(&["-c", "x"]))).unwrap(),
            sv(&["/bin/sh", "-c", "x"])
        );
        // --entrypoint "" clears both; args become the command.
        assert_eq!(
            process_args(&both, &run(Some(&[]), Some(&["ls"]))).unwrap(),
            sv(&["ls"])
        );
        assert_eq!(
            process_args(&both, &run(Some(&[""]), Some(&["ls"]))).unwrap(),
            sv(&["ls"])
        );
        assert!(matches!(
            process_args(&both, &run(Some(&[]), None)),
            Err(SpecError::NoCommand)
        ));
        // Empty args are "not given".
        assert_eq!(
            process_args(&both, &run(None, Some(&[]))).unwrap(),
            sv(&["/ep", "-x", "def"])
        );
        // Image with only a cmd.
        let cmd_only = img(None, Some(&["sh"]));
        assert_eq!(
            process_args(&cmd_only, &run(None, None)).unwrap(),
            sv(&["sh"])
        );
        assert_eq!(
            process_args(&cmd_only, &run(None, Some(&["ls", "/"]))).unwrap(),
            sv(&["ls", "/"])
        );
        // An image entrypoint of [""] is no entrypoint.
        let blank = img(Some(&[""]), Some(&["echo"]));
        assert_eq!(
            process_args(&blank, &run(None, None)).unwrap(),
            sv(&["echo"])
        );
        // Nothing at all.
        let none = img(None, None);
        let err = process_args(&none, &run(None, None)).unwrap_err();
        assert_eq!(err.to_string(), "no command specified");
    }

    #[test]
    fn init_wraps_the_command_and_is_mounted() {
        let f = Fixture::new();
        let o = RunOptions {
            init: Some("/usr/bin/tini-static".into()),
            ..Default::default()
        };
        let s = f.build(&img(None, Some(&["sleep", "1"])), &o).unwrap();
        let v = json(&s);
        assert_eq!(
            v["process"]["args"],
            serde_json::json!(["/sbin/docker-init", "--", "sleep", "1"])
        );
        let m = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sbin/docker-init")
            .unwrap();
        assert_eq!(m["source"], "/usr/bin/tini-static");
        assert_eq!(m["type"], "bind");
        assert_eq!(m["options"], serde_json::json!(["bind", "ro"]));
        let rel = RunOptions {
            init: Some("tini".into()),
            ..Default::default()
        };
        assert!(matches!(
            f.build(&img(None, Some(&["x"])), &rel),
            Err(SpecError::InvalidInit(_))
        ));
    }

    #[test]
    fn env_merge() {
        let env = process_env(
            &sv(&["PATH=/img/bin", "A=image", "B=image", "GONE=x"]),
            &sv(&["B=user", "C=user", "GONE"]),
            "myhost",
            true,
            "/root",
        )
        .unwrap();
        assert_eq!(
            env,
            sv(&[
                "PATH=/img/bin",
                "HOSTNAME=myhost",
                "TERM=xterm",
                "B=user",
                "C=user",
                "A=image",
                "HOME=/root"
            ])
        );
        // Defaults when the image has nothing; TERM only with a tty; HOME kept if set.
        let env = process_env(&[], &sv(&["HOME=/h", "TERM=dumb"]), "h", true, "/root").unwrap();
        assert_eq!(
            env,
            sv(&[
                &format!("PATH={DEFAULT_PATH_ENV}"),
                "HOSTNAME=h",
                "TERM=dumb",
                "HOME=/h"
            ])
        );
        let env = process_env(&[], &[], "h", false, "/").unwrap();
        assert!(!env.iter().any(|e| e.starts_with("TERM=")));
        assert!(env.contains(&"HOME=/".to_string()));
        assert!(matches!(
            process_env(&[], &sv(&["=x"]), "h", false, "/"),
            Err(SpecError::InvalidEnv(_))
        ));
    }

    #[test]
    fn working_dir_rules() {
        let f = Fixture::new();
        let w = |opt: Option<&str>, image: Option<&str>| {
            working_dir(
                Some(&f.rootfs()),
                &ImageRuntimeConfig {
                    working_dir: image.map(str::to_string),
                    ..Default::default()
                },
                &RunOptions {
                    working_dir: opt.map(str::to_string),
                    ..Default::default()
                },
            )
        };
        assert_eq!(w(None, None).unwrap(), "/");
        assert_eq!(w(None, Some("/srv/")).unwrap(), "/srv");
        assert_eq!(w(Some("/a/../b/./c"), Some("/srv")).unwrap(), "/b/c");
        assert_eq!(
            w(Some("rel"), None).unwrap_err().to_string(),
            "the working directory 'rel' is invalid, it needs to be an absolute path"
        );
        for evil in [
            "/proc/self/fd/7",
            "/proc/self/fd/7/../../../..",
            "/proc/thread-self/fd/3",
            "/proc/1/cwd",
            "/proc/42/root/etc",
            "/proc/self/task/1/fd/5",
            "/proc//self/./fd/9",
        ] {
            // "/proc/self/fd/7/../../../.." cleans to "/" and is fine.
            if evil.ends_with("..") {
                continue;
            }
            let err = w(Some(evil), None).unwrap_err();
            assert!(
                matches!(err, SpecError::UnsafeWorkingDir { .. }),
                "{evil}: {err}"
            );
            assert!(err.to_string().contains("CVE-2024-21626"));
        }
        assert_eq!(w(Some("/proc/self/fd/7/../../../.."), None).unwrap(), "/");
        assert_eq!(w(Some("/proc"), None).unwrap(), "/proc");
        assert_eq!(w(Some("/procfs/self/fd"), None).unwrap(), "/procfs/self/fd");
        // An image symlink that leads to a magic link is refused too.
        std::os::unix::fs::symlink("/proc/self/fd/7", f.rootfs().join("work")).unwrap();
        assert!(matches!(
            w(None, Some("/work")),
            Err(SpecError::UnsafeWorkingDir { .. })
        ));
    }

    #[test]
    fn default_spec_snapshot() {
        let f = Fixture::new();
        let image = ImageRuntimeConfig {
            cmd: Some(sv(&["sh"])),
            env: sv(&["PATH=/usr/bin:/bin"]),
            ..Default::default()
        };
        let s = f.build(&image, &RunOptions::default()).unwrap();
        let v = json(&s);
        assert_eq!(v["ociVersion"], oci_spec::runtime::VERSION);
        assert_eq!(v["root"]["path"], f.rootfs().to_string_lossy().as_ref());
        assert_eq!(v["root"]["readonly"], false);
        assert_eq!(v["hostname"], "0123456789ab");
        assert!(v.get("domainname").is_none());
        let p = &v["process"];
        assert_eq!(p["terminal"], false);
        assert_eq!(p["args"], serde_json::json!(["sh"]));
        assert_eq!(p["cwd"], "/");
        assert_eq!(p["user"], serde_json::json!({"uid": 0, "gid": 0}));
        assert_eq!(
            p["env"],
            serde_json::json!(["PATH=/usr/bin:/bin", "HOSTNAME=0123456789ab", "HOME=/root"])
        );
        assert!(p.get("noNewPrivileges").is_none());
        assert!(p.get("rlimits").is_none());
        assert_eq!(p["oomScoreAdj"], 0);
        assert!(p["capabilities"].get("inheritable").is_none());
        assert!(p["capabilities"].get("ambient").is_none());
        let l = &v["linux"];
        assert_eq!(l["cgroupsPath"], format!("/rdesk/{ID}"));
        assert_eq!(l["devices"], serde_json::json!([]));
        assert!(l.get("rootfsPropagation").is_none());
        let ns: Vec<&str> = l["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["mount", "network", "uts", "pid", "ipc", "cgroup"]);
        assert!(l["namespaces"][1].get("path").is_none());
        assert_eq!(l["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(l["seccomp"]["defaultErrnoRet"], 1);
        // No memory/cpu/pids unless asked.
        let r = &l["resources"];
        assert!(r.get("memory").is_none() && r.get("cpu").is_none() && r.get("pids").is_none());
    }

    #[test]
    fn capabilities_default_mask() {
        let f = Fixture::new();
        let s = f
            .build(&img(None, Some(&["sh"])), &RunOptions::default())
            .unwrap();
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        let eff = caps.effective().as_ref().unwrap();
        assert_eq!(format!("{:016x}", capability_mask(eff)), "00000000a80425fb");
        assert_eq!(caps.bounding(), caps.effective());
        assert_eq!(caps.permitted(), caps.effective());
        assert!(caps.inheritable().is_none() && caps.ambient().is_none());
        assert_eq!(sorted_names(eff).len(), 14);
        assert_eq!(capability_mask(&docker_capabilities()), 0xa80425fb);
    }

    #[test]
    fn capability_add_drop_all() {
        let all: Vec<Capability> = CAPABILITIES.iter().map(|c| c.0).collect();
        let t =
            |add: &[&str], drop: &[&str]| container_capabilities(&sv(add), &sv(drop), false, &all);
        let names = |v: Vec<Capability>| -> Vec<&str> {
            let mut n: Vec<&str> = v.into_iter().map(capability_name).collect();
            n.sort();
            n
        };
        assert_eq!(names(t(&["ALL"], &[]).unwrap()).len(), CAPABILITIES.len());
        assert_eq!(
            names(t(&["net_admin"], &["ALL"]).unwrap()),
            vec!["CAP_NET_ADMIN"]
        );
        assert_eq!(names(t(&[], &["all"]).unwrap()), Vec::<&str>::new());
        let v = names(t(&["CAP_SYS_ADMIN", "NET_ADMIN"], &["chown", "CAP_NET_RAW"]).unwrap());
        assert!(v.contains(&"CAP_SYS_ADMIN") && v.contains(&"CAP_NET_ADMIN"));
        assert!(!v.contains(&"CAP_CHOWN") && !v.contains(&"CAP_NET_RAW"));
        assert_eq!(v.len(), 14);
        let v = names(t(&["ALL"], &["SYS_ADMIN"]).unwrap());
        assert!(!v.contains(&"CAP_SYS_ADMIN") && v.len() == CAPABILITIES.len() - 1);
        // Adding one already there changes nothing.
        assert_eq!(t(&["CHOWN"], &[]).unwrap().len(), 14);
        assert_eq!(
            t(&["NET_FOO"], &[]).unwrap_err().to_string(),
            "unknown capability: \"CAP_NET_FOO\""
        );
        assert!(t(&[], &["BOGUS"]).is_err());
        // Unavailable here: an add fails, a drop is fine.
        let few = vec![Capability::Chown, Capability::Kill];
        let err = container_capabilities(&sv(&["SYS_ADMIN"]), &[], false, &few).unwrap_err();
        assert!(
            err.to_string().contains("not supported by your kernel"),
            "{err}"
        );
        assert!(container_capabilities(&[], &sv(&["SYS_ADMIN"]), false, &few).is_ok());
        // Privileged: all available ones.
        assert_eq!(container_capabilities(&[], &[], true, &few).unwrap(), few);
    }

    #[test]
    fn non_root_user_spec() {
        let f = Fixture::new();
        let o = RunOptions {
            user: Some("app".into()),
            ..Default::default()
        };
        let s = f.build(&img(None, Some(&["id"])), &o).unwrap();
        let v = json(&s);
        assert_eq!(
            v["process"]["user"],
            serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [10]})
        );
        assert!(v["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("HOME=/home/app")));
        // Same sets as root (Docker 25+): the kernel clears CapEff at exec for a non-root uid.
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(
            capability_mask(caps.bounding().as_ref().unwrap()),
            0xa80425fb
        );
        // The image's user is used when the option is unset; the option wins.
        let image = ImageRuntimeConfig {
            user: Some("1000:10".into()),
            cmd: Some(sv(&["id"])),
            ..Default::default()
        };
        let v = json(&f.build(&image, &RunOptions::default()).unwrap());
        assert_eq!(
            v["process"]["user"],
            serde_json::json!({"uid": 1000, "gid": 10})
        );
        let err = f
            .build(
                &img(None, Some(&["id"])),
                &RunOptions {
                    user: Some("ghost".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
    }

    #[test]
    fn masked_and_readonly_paths() {
        let f = Fixture::new();
        let s = f
            .build(&img(None, Some(&["sh"])), &RunOptions::default())
            .unwrap();
        let l = s.linux().as_ref().unwrap();
        let masked = l.masked_paths().clone().unwrap();
        let design = [
            "/proc/acpi",
            "/proc/asound",
            "/proc/interrupts",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/sys/devices/virtual/powercap",
            "/sys/firmware",
        ];
        assert_eq!(&masked[..12], design);
        assert!(masked[12..]
            .iter()
            .all(|p| p.ends_with("/thermal_throttle")));
        assert_eq!(
            l.readonly_paths().clone().unwrap(),
            sv(&[
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ])
        );
        let sp = RunOptions {
            security_opt: sv(&["systempaths=unconfined"]),
            ..Default::default()
        };
        let s = f.build(&img(None, Some(&["sh"])), &sp).unwrap();
        let l = s.linux().as_ref().unwrap();
        assert_eq!(l.masked_paths().clone().unwrap(), Vec::<String>::new());
    }

    fn mount_summary(s: &Spec) -> Vec<(String, String, String, Vec<String>)> {
        s.mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m.destination().to_string_lossy().into_owned(),
                    m.typ().clone().unwrap_or_default(),
                    m.source()
                        .as_ref()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    m.options().clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn mounts_order_and_options() {
        let f = Fixture::new();
        let s = f
            .build(&img(None, Some(&["sh"])), &RunOptions::default())
            .unwrap();
        let d = f.dir.path().to_string_lossy().into_owned();
        let m = mount_summary(&s);
        let want: Vec<(String, String, String, Vec<String>)> = vec![
            ("/proc", "proc", "proc", vec!["nosuid", "noexec", "nodev"]),
            (
                "/dev",
                "tmpfs",
                "tmpfs",
                vec!["nosuid", "strictatime", "mode=755", "size=65536k"],
            ),
            (
                "/dev/pts",
                "devpts",
                "devpts",
                vec![
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            ),
            (
                "/sys",
                "sysfs",
                "sysfs",
                vec!["nosuid", "noexec", "nodev", "ro"],
            ),
            (
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                vec!["ro", "nosuid", "noexec", "nodev"],
            ),
            (
                "/dev/mqueue",
                "mqueue",
                "mqueue",
                vec!["nosuid", "noexec", "nodev"],
            ),
            (
                "/dev/shm",
                "tmpfs",
                "shm",
                vec!["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
            ),
            (
                "/etc/resolv.conf",
                "bind",
                &format!("{d}/resolv.conf"),
                vec!["rbind", "rprivate"],
            ),
            (
                "/etc/hostname",
                "bind",
                &format!("{d}/hostname"),
                vec!["rbind", "rprivate"],
            ),
            (
                "/etc/hosts",
                "bind",
                &format!("{d}/hosts"),
                vec!["rbind", "rprivate"],
            ),
        ]
        .into_iter()
        .map(|(a, b, c, o)| (a.to_string(), b.to_string(), c.to_string(), sv(&o)))
        .collect();
        assert_eq!(m, want);
    }

    #[test]
    fn caller_mounts_read_only_and_privileged() {
        let f = Fixture::new();
        let vol = |dest: &str, src: &str| {
            MountBuilder::default()
                .destination(dest)
                .typ("bind")
                .source(src)
                .options(sv(&["rbind", "rprivate"]))
                .build()
                .unwrap()
        };
        let o = RunOptions {
            read_only: true,
            mounts: vec![
                vol("/data/sub", "/v/sub"),
                vol("/data", "/v/data"),
                vol("/dev/shm", "/v/shm"),
            ],
            ..Default::default()
        };
        let s = f.build(&img(None, Some(&["sh"])), &o).unwrap();
        assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
        let m = mount_summary(&s);
        let dests: Vec<&str> = m.iter().map(|x| x.0.as_str()).collect();
        // Caller mounts and /etc files are sorted by depth (stable), so /data comes
        // before /data/sub; the caller's /dev/shm replaces the default one.
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/data",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts",
                "/data/sub",
                "/dev/shm",
            ]
        );
        assert_eq!(m[11].2, "/v/shm");
        // Read-only rootfs: /etc files ro (as Docker), kernel filesystems and caller
        // mounts untouched, /sys and cgroup stay ro.
        assert_eq!(m[7].3, sv(&["rbind", "ro", "rprivate"]));
        assert_eq!(m[0].3, sv(&["nosuid", "noexec", "nodev"]));
        assert_eq!(m[6].3, sv(&["rbind", "rprivate"]));
        assert_eq!(m[3].3, sv(&["nosuid", "noexec", "nodev", "ro"]));

        // Privileged: /sys and the cgroup mount writable, all devices, no seccomp or masks.
        let p = RunOptions {
            privileged: true,
            ..Default::default()
        };
        let s = f.build(&img(None, Some(&["sh"])), &p).unwrap();
        let m = mount_summary(&s);
        assert_eq!(m[3].3, sv(&["nosuid", "noexec", "nodev"]));
        assert_eq!(m[4].3, sv(&["nosuid", "noexec", "nodev"]));
        let v = json(&s);
        assert!(v["linux"].get("seccomp").is_none());
        assert_eq!(v["linux"]["maskedPaths"], serde_json::json!([]));
        assert_eq!(v["linux"]["readonlyPaths"], serde_json::json!([]));
        assert_eq!(
            v["linux"]["resources"]["devices"],
            serde_json::json!([{"allow": true, "access": "rwm"}])
        );
        let devs = v["linux"]["devices"].as_array().unwrap();
        assert!(devs.iter().any(|d| d["path"] == "/dev/null"
            && d["type"] == "c"
            && d["major"] == 1
            && d["minor"] == 3));
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        let want = capability_mask(&available_capabilities());
        assert_eq!(capability_mask(caps.effective().as_ref().unwrap()), want);
        assert!(want & 0xa80425fb == 0xa80425fb);
        // writable-cgroups alone.
        let wc = RunOptions {
            security_opt: sv(&["writable-cgroups=true"]),
            ..Default::default()
        };
        let s = f.build(&img(None, Some(&["sh"])), &wc).unwrap();
        assert_eq!(mount_summary(&s)[4].3, sv(&["nosuid", "noexec", "nodev"]));
    }

    #[test]
    fn resources_math_and_limits() {
        let r = |o: RunOptions| resources(&o, false);
        let x = r(RunOptions {
            cpus: Some(1.5),
            memory: Some(64 << 20),
            pids_limit: Some(100),
            ..Default::default()
        });
        // 1.5 CPUs may exceed a 1-CPU machine: only check the math where it fits.
        if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
            let x = x.unwrap();
            let cpu = x.cpu().as_ref().unwrap();
            assert_eq!((cpu.quota(), cpu.period()), (Some(150000), Some(100000)));
            let mem = x.memory().as_ref().unwrap();
            assert_eq!(mem.limit(), Some(64 << 20));
            assert_eq!(mem.swap(), Some(128 << 20));
            assert_eq!(x.pids().as_ref().unwrap().limit(), 100);
        }
        let x = r(RunOptions {
            cpus: Some(0.5),
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            pids_limit: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(x.cpu().as_ref().unwrap().quota(), Some(50000));
        assert_eq!(x.memory().as_ref().unwrap().swap(), None);
        assert_eq!(x.pids().as_ref().unwrap().limit(), -1);
        let x = r(RunOptions {
            memory: Some(64 << 20),
            memory_swap: Some(100 << 20),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(x.memory().as_ref().unwrap().swap(), Some(100 << 20));
        let err = |o: RunOptions| r(o).unwrap_err().to_string();
        assert_eq!(
            err(RunOptions {
                memory: Some(1 << 20),
                ..Default::default()
            }),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(err(RunOptions {
            memory: Some(64 << 20),
            memory_swap: Some(32 << 20),
            ..Default::default()
        })
        .contains("larger than memory limit"));
        assert!(err(RunOptions {
            memory_swap: Some(64 << 20),
            ..Default::default()
        })
        .contains("always set the Memory limit"));
        assert!(err(RunOptions {
            cpus: Some(0.001),
            ..Default::default()
        })
        .starts_with("Range of CPUs is from 0.01 to"));
        assert!(err(RunOptions {
            cpus: Some(10_000.0),
            ..Default::default()
        })
        .starts_with("Range of CPUs"));
    }

    #[test]
    fn device_rules() {
        let rules = default_device_rules().unwrap();
        let text: Vec<String> = rules
            .iter()
            .map(|r| format!("{} {}", if r.allow() { "allow" } else { "deny" }, r))
            .collect();
        assert_eq!(
            text,
            [
                "deny a *:* rwm",
                "allow c 1:5 rwm",
                "allow c 1:3 rwm",
                "allow c 1:9 rwm",
                "allow c 1:8 rwm",
                "allow c 5:0 rwm",
                "allow c 5:1 rwm",
                "deny c 10:229 rwm",
                "allow c *:* m",
                "allow b *:* m",
                "allow c 1:7 rwm",
                "allow c 136:* rwm",
                "allow c 5:2 rwm",
                "allow c 10:200 rwm",
            ]
        );
        let v = serde_json::to_value(&rules[0]).unwrap();
        assert_eq!(v, serde_json::json!({"allow": false, "access": "rwm"}));
    }

    #[test]
    fn seccomp_in_the_spec() {
        let f = Fixture::new();
        let names = |s: &Spec| -> BTreeSet<String> {
            s.linux()
                .as_ref()
                .unwrap()
                .seccomp()
                .as_ref()
                .unwrap()
                .syscalls()
                .as_ref()
                .unwrap()
                .iter()
                .filter(|r| r.args().is_none())
                .flat_map(|r| r.names().clone())
                .collect()
        };
        let base = f
            .build(&img(None, Some(&["sh"])), &RunOptions::default())
            .unwrap();
        let n = names(&base);
        assert!(!n.contains("unshare") && !n.contains("mount") && !n.contains("keyctl"));
        let admin = f
            .build(
                &img(None, Some(&["sh"])),
                &RunOptions {
                    cap_add: sv(&["SYS_ADMIN"]),
                    ..Default::default()
                },
            )
            .unwrap();
        let n = names(&admin);
        assert!(n.contains("mount") && n.contains("unshare"));
        let unconfined = f
            .build(
                &img(None, Some(&["sh"])),
                &RunOptions {
                    security_opt: sv(&["seccomp=unconfined", "apparmor=unconfined"]),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(unconfined.linux().as_ref().unwrap().seccomp().is_none());
        // A profile file.
        let prof = f.dir.path().join("p.json");
        fs::write(
            &prof,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let custom = f
            .build(
                &img(None, Some(&["sh"])),
                &RunOptions {
                    security_opt: vec![
                        format!("seccomp={}", prof.display()),
                        "no-new-privileges".into(),
                    ],
                    ..Default::default()
                },
            )
            .unwrap();
        let v = json(&custom);
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(
            v["linux"]["seccomp"]["syscalls"][0]["names"],
            serde_json::json!(["mkdir"])
        );
        assert_eq!(v["process"]["noNewPrivileges"], true);
    }

    #[test]
    fn security_opt_parsing() {
        let p = |o: &[&str]| parse_security_opts(&sv(o));
        assert!(p(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(p(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(p(&["no-new-privileges=1"]).unwrap().no_new_privileges);
        assert!(!p(&["no-new-privileges=false"]).unwrap().no_new_privileges);
        assert_eq!(
            p(&["seccomp:unconfined"]).unwrap().seccomp,
            SeccompChoice::Unconfined
        );
        assert_eq!(
            p(&["seccomp=builtin"]).unwrap().seccomp,
            SeccompChoice::Builtin
        );
        assert_eq!(
            p(&["seccomp=/x.json"]).unwrap().seccomp,
            SeccompChoice::Profile("/x.json".into())
        );
        assert!(p(&["apparmor=docker-default", "label=disable"]).is_ok());
        for bad in ["nonsense", "foo=bar", "no-new-privileges=maybe"] {
            let e = p(&[bad]).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --security-opt {bad:?}")),
                "{e}"
            );
        }
    }

    #[test]
    fn sysctls_and_network() {
        let f = Fixture::new();
        let o = |k: &str| RunOptions {
            sysctls: [(k.to_string(), "1".to_string())].into(),
            ..Default::default()
        };
        let s = f
            .build(&img(None, Some(&["sh"])), &o("net.ipv4.ip_forward"))
            .unwrap();
        let sc = s.linux().as_ref().unwrap().sysctl().clone().unwrap();
        assert_eq!(sc.get("net.ipv4.ip_forward").map(String::as_str), Some("1"));
        if Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start").exists() {
            assert_eq!(sc["net.ipv4.ip_unprivileged_port_start"], "0");
        }
        for ok in ["kernel.shmmax", "fs.mqueue.msg_max", "kernel.sem"] {
            assert!(f.build(&img(None, Some(&["sh"])), &o(ok)).is_ok(), "{ok}");
        }
        let err = f
            .build(&img(None, Some(&["sh"])), &o("kernel.panic"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "sysctl 'kernel.panic=1' is not allowed");
        // Joining a namespace by path; the host's own namespace refuses net.* sysctls and
        // gets no network defaults.
        let other = f.dir.path().join("netns");
        fs::write(&other, "").unwrap();
        let s = f
            .build_net(
                &img(None, Some(&["sh"])),
                &RunOptions::default(),
                Some(other.clone()),
            )
            .unwrap();
        assert_eq!(
            json(&s)["linux"]["namespaces"][1],
            serde_json::json!({"type": "network", "path": other.to_string_lossy()})
        );
        let host = PathBuf::from("/proc/self/ns/net");
        let err = f
            .build_net(
                &img(None, Some(&["sh"])),
                &o("net.ipv4.ip_forward"),
                Some(host.clone()),
            )
            .unwrap_err();
        assert!(matches!(err, SpecError::SysctlHostNetwork(_)), "{err}");
        let s = f
            .build_net(
                &img(None, Some(&["sh"])),
                &RunOptions::default(),
                Some(host),
            )
            .unwrap();
        assert!(s
            .linux()
            .as_ref()
            .unwrap()
            .sysctl()
            .clone()
            .unwrap_or_default()
            .is_empty());
    }

    #[test]
    fn hostname_domainname_tty() {
        let f = Fixture::new();
        let o = RunOptions {
            hostname: Some("web".into()),
            domainname: Some("example.org".into()),
            tty: true,
            ..Default::default()
        };
        let v = json(&f.build(&img(None, Some(&["sh"])), &o).unwrap());
        assert_eq!(v["hostname"], "web");
        assert_eq!(v["domainname"], "example.org");
        assert_eq!(v["process"]["terminal"], true);
        let env = v["process"]["env"].as_array().unwrap();
        assert!(env.contains(&serde_json::json!("HOSTNAME=web")));
        assert!(env.contains(&serde_json::json!("TERM=xterm")));
        let long = RunOptions {
            hostname: Some("x".repeat(65)),
            ..Default::default()
        };
        assert!(matches!(
            f.build(&img(None, Some(&["sh"])), &long),
            Err(SpecError::InvalidHostname(_))
        ));
    }

    #[test]
    fn spec_round_trips_through_json() {
        let f = Fixture::new();
        let s = f
            .build(&img(None, Some(&["sh"])), &RunOptions::default())
            .unwrap();
        let text = serde_json::to_string_pretty(&s).unwrap();
        let back: Spec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
