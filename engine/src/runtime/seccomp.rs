//! Seccomp: Docker's default profile semantics as Rust data, and a reader for Docker's JSON
//! profile format (`--security-opt seccomp=profile.json`).
//!
//! A Docker profile is not an OCI `LinuxSeccomp` yet: its rules carry conditions (the
//! container's capabilities, the host's architecture and kernel) that are resolved when a
//! container's bundle is written. [`SeccompProfile::resolve`] does that, as Docker does when
//! it creates a container: a rule whose `includes.caps` are all in the container's *bounding*
//! set is kept, one with any of its `excludes.caps` there is dropped, and likewise for the
//! architecture (libseccomp's native name: `amd64`, `arm64`, ...) and the minimum kernel.
//!
//! The default allow-list is a fact about Docker's profile (moby's `profiles/seccomp`), ported
//! here in our own form; see `docs/runtime-spec.md` for where it deliberately differs.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use serde::{Deserialize, Deserializer};

use super::spec::{capability_name, docker_capabilities, SpecError};

/// Profiles bigger than this are refused (Docker's default profile is about 13 KiB).
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// `errno` values the default profile returns.
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// Address families the default profile refuses to `socket(2)`.
const AF_ALG: u64 = 38;
const AF_VSOCK: u64 = 40;

/// Namespace flags `clone(2)` may not carry without CAP_SYS_ADMIN: NEWNS | NEWCGROUP |
/// NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (0x7E020000, Docker's 2114060288).
const CLONE_NAMESPACE_FLAGS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/// Syscalls every default container may make, whatever its capabilities.
const ALWAYS_ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_hwprobe",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls a capability unlocks (Docker's `includes.caps` groups), in the profile's order.
const CAPABILITY_GATED: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "lsm_set_self_attr",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Architecture-specific syscalls: (libseccomp arch names, syscalls).
const ARCH_SPECIFIC: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// `personality(2)` domains allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and the query value 0xffffffff.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Docker's archMap: a native architecture and the sub-architectures a filter also covers.
const ARCH_MAP: &[(&str, &[&str])] = &[
    ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
    (
        "SCMP_ARCH_MIPS64",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
    ),
    (
        "SCMP_ARCH_MIPS64N32",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
    ),
    (
        "SCMP_ARCH_MIPSEL64",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
    ),
    (
        "SCMP_ARCH_MIPSEL64N32",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
    ),
    ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_RISCV64", &[]),
];

/// A profile in Docker's JSON format, before its conditions are resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    #[serde(default, deserialize_with = "null_default")]
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// Used as is when given (exclusive with `arch_map`).
    #[serde(default, deserialize_with = "null_default")]
    pub architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub arch_map: Vec<ArchMapEntry>,
    #[serde(default, deserialize_with = "null_default")]
    pub flags: Vec<String>,
    #[serde(default)]
    pub listener_path: Option<String>,
    #[serde(default)]
    pub listener_metadata: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub syscalls: Vec<ProfileSyscall>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    pub sub_architectures: Vec<String>,
}

/// One rule: `names` (or the legacy single `name`), an action, argument conditions, and the
/// `includes`/`excludes` filters that decide whether the rule applies to a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSyscall {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_default")]
    pub args: Vec<ProfileArg>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub includes: Option<ProfileFilter>,
    #[serde(default)]
    pub excludes: Option<ProfileFilter>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileArg {
    pub index: u32,
    #[serde(default)]
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub op: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileFilter {
    #[serde(default, deserialize_with = "null_default")]
    pub caps: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub arches: Vec<String>,
    /// "<kernel>.<major>", e.g. "4.8".
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// JSON `null` where a list or string is expected reads as empty, as Go's decoder does.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The host facts a profile's conditions are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeccompHost {
    /// libseccomp's name of the native architecture: "amd64", "arm64", "x86", ...
    pub arch: String,
    /// (version, major revision) of the running kernel, e.g. (6, 8).
    pub kernel: (u64, u64),
}

impl SeccompHost {
    /// The machine this code runs on.
    pub fn current() -> Self {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        SeccompHost {
            arch: native_arch().to_string(),
            // An unreadable release counts as new: rules gated on an old minimum apply.
            kernel: parse_kernel_version(release.trim()).unwrap_or((u64::MAX, 0)),
        }
    }
}

/// libseccomp's name of the architecture this binary was built for.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// libseccomp arch name -> the OCI architecture it filters.
fn seccomp_arch_of(native: &str) -> Option<&'static str> {
    Some(match native {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "x32" => "SCMP_ARCH_X32",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64n32" => "SCMP_ARCH_MIPS64N32",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "mipsel64n32" => "SCMP_ARCH_MIPSEL64N32",
        "mipsel" => "SCMP_ARCH_MIPSEL",
        "ppc" => "SCMP_ARCH_PPC",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => return None,
    })
}

/// "6.8.0-45-generic" -> (6, 8).
fn parse_kernel_version(release: &str) -> Option<(u64, u64)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let kernel = parts.next()?.parse().ok()?;
    let major = parts.next()?.parse().ok()?;
    Some((kernel, major))
}

/// "4.8" (Docker's minKernel form) -> (4, 8).
fn parse_min_kernel(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid kernel version {s:?}, expected \"<kernel>.<major>\"");
    let (k, m) = s.split_once('.').ok_or_else(bad)?;
    let k: u64 = k.parse().map_err(|_| bad())?;
    let m: u64 = m.parse().map_err(|_| bad())?;
    if k == 0 && m == 0 {
        return Err(format!(
            "invalid kernel version {s:?}: version cannot be 0.0"
        ));
    }
    Ok((k, m))
}

fn allow(names: &[&str]) -> ProfileSyscall {
    ProfileSyscall {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: "SCMP_ACT_ALLOW".into(),
        ..Default::default()
    }
}

fn arg(index: u32, value: u64, op: &str) -> ProfileArg {
    ProfileArg {
        index,
        value,
        value_two: 0,
        op: op.into(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Docker's default profile, with its conditions still to be resolved.
pub fn default_profile() -> SeccompProfile {
    let mut rules = vec![allow(ALWAYS_ALLOWED)];
    // ptrace and process_vm_* became safe to allow with Linux 4.8 (seccomp is re-checked
    // after a ptrace stop there); older kernels need CAP_SYS_PTRACE.
    rules.push(ProfileSyscall {
        includes: Some(ProfileFilter {
            min_kernel: Some("4.8".into()),
            ..Default::default()
        }),
        ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
    });
    // socket(2) with any family but AF_ALG (CVE-2026-31431) and AF_VSOCK (host VMs): the
    // three ranges below, 38 and 40, fall through to the default EPERM.
    for (value, op) in [
        (AF_ALG, "SCMP_CMP_LT"),
        (AF_ALG + 1, "SCMP_CMP_EQ"),
        (AF_VSOCK, "SCMP_CMP_GT"),
    ] {
        rules.push(ProfileSyscall {
            args: vec![arg(0, value, op)],
            ..allow(&["socket"])
        });
    }
    for &persona in PERSONALITIES {
        rules.push(ProfileSyscall {
            args: vec![arg(0, persona, "SCMP_CMP_EQ")],
            ..allow(&["personality"])
        });
    }
    for (arches, names) in ARCH_SPECIFIC {
        rules.push(ProfileSyscall {
            includes: Some(ProfileFilter {
                arches: strings(arches),
                ..Default::default()
            }),
            ..allow(names)
        });
    }
    let gated = |cap: &str, names: &[&str]| ProfileSyscall {
        includes: Some(ProfileFilter {
            caps: vec![cap.to_string()],
            ..Default::default()
        }),
        ..allow(names)
    };
    let (first, rest) = CAPABILITY_GATED.split_at(2);
    for (cap, names) in first {
        rules.push(gated(cap, names));
    }
    // Without CAP_SYS_ADMIN, clone(2) is allowed only without namespace flags (the flags are
    // the second argument on s390), and clone3(2) — whose flags seccomp cannot see — fails
    // with ENOSYS so that libc falls back to clone(2).
    rules.push(ProfileSyscall {
        args: vec![arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")],
        excludes: Some(ProfileFilter {
            caps: strings(&["CAP_SYS_ADMIN"]),
            arches: strings(&["s390", "s390x"]),
            ..Default::default()
        }),
        ..allow(&["clone"])
    });
    rules.push(ProfileSyscall {
        args: vec![arg(1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")],
        comment: Some("s390 parameter ordering for clone is different".into()),
        includes: Some(ProfileFilter {
            arches: strings(&["s390", "s390x"]),
            ..Default::default()
        }),
        excludes: Some(ProfileFilter {
            caps: strings(&["CAP_SYS_ADMIN"]),
            ..Default::default()
        }),
        ..allow(&["clone"])
    });
    rules.push(ProfileSyscall {
        names: strings(&["clone3"]),
        action: "SCMP_ACT_ERRNO".into(),
        errno_ret: Some(ENOSYS),
        excludes: Some(ProfileFilter {
            caps: strings(&["CAP_SYS_ADMIN"]),
            ..Default::default()
        }),
        ..Default::default()
    });
    for (cap, names) in rest {
        rules.push(gated(cap, names));
    }
    SeccompProfile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(EPERM),
        arch_map: ARCH_MAP
            .iter()
            .map(|(arch, subs)| ArchMapEntry {
                architecture: arch.to_string(),
                sub_architectures: strings(subs),
            })
            .collect(),
        syscalls: rules,
        ..Default::default()
    }
}

/// Docker's default profile resolved for a root container with Docker's default
/// capabilities on this machine.
pub fn default_seccomp() -> LinuxSeccomp {
    default_profile()
        .resolve(&docker_capabilities())
        .expect("the built-in profile is valid")
        .expect("the built-in profile is not empty")
}

/// Parses a profile in Docker's JSON format. `origin` names it in errors (a path).
pub fn parse_profile(json: &[u8], origin: &str) -> Result<SeccompProfile, SpecError> {
    let profile: SeccompProfile =
        serde_json::from_slice(json).map_err(|e| SpecError::SeccompProfile {
            origin: origin.to_string(),
            message: format!("decoding seccomp profile failed: {e}"),
        })?;
    // Check now what resolving would check, so a bad profile fails at `run`, not later.
    let probe = SeccompHost::current();
    profile
        .resolve_for(&BTreeSet::new(), &probe)
        .map_err(|message| SpecError::SeccompProfile {
            origin: origin.to_string(),
            message,
        })?;
    Ok(profile)
}

/// Reads and parses a Docker JSON profile from a file (`--security-opt seccomp=PATH`).
pub fn load_profile(path: &Path) -> Result<SeccompProfile, SpecError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let open_err = |e: std::io::Error| SpecError::SeccompProfile {
        origin: origin.clone(),
        message: format!("opening seccomp profile failed: {e}"),
    };
    let file = std::fs::File::open(path).map_err(open_err)?;
    let mut data = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(open_err)?;
    if data.len() as u64 > MAX_PROFILE_BYTES {
        return Err(SpecError::SeccompProfile {
            origin,
            message: format!("the profile is larger than {MAX_PROFILE_BYTES} bytes"),
        });
    }
    parse_profile(&data, &origin)
}

fn parse_action(s: &str) -> Result<LinuxSeccompAction, String> {
    LinuxSeccompAction::from_str(s).map_err(|_| {
        format!(
            "unknown action {s:?} (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, \
             SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE, \
             SCMP_ACT_LOG or SCMP_ACT_NOTIFY)"
        )
    })
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    Arch::from_str(s).map_err(|_| format!("unknown architecture {s:?} (e.g. SCMP_ARCH_X86_64)"))
}

fn parse_op(s: &str) -> Result<LinuxSeccompOperator, String> {
    LinuxSeccompOperator::from_str(s).map_err(|_| {
        format!(
            "unknown operator {s:?} (expected SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, \
             SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT or SCMP_CMP_MASKED_EQ)"
        )
    })
}

/// "sys_admin" / "CAP_SYS_ADMIN" -> "CAP_SYS_ADMIN".
fn normalize_cap(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

impl SeccompProfile {
    /// Resolves the profile for a container whose bounding set is `bounding`, on this host.
    /// `Ok(None)` means the profile disables seccomp (no default action and no rules, as
    /// Docker reads it).
    pub fn resolve(&self, bounding: &[Capability]) -> Result<Option<LinuxSeccomp>, SpecError> {
        let caps: BTreeSet<String> = bounding
            .iter()
            .map(|c| capability_name(*c).to_string())
            .collect();
        self.resolve_for(&caps, &SeccompHost::current())
            .map_err(|message| SpecError::SeccompProfile {
                origin: "seccomp profile".into(),
                message,
            })
    }

    /// As [`resolve`](Self::resolve), against explicit host facts; `bounding` holds
    /// "CAP_..." names.
    pub fn resolve_for(
        &self,
        bounding: &BTreeSet<String>,
        host: &SeccompHost,
    ) -> Result<Option<LinuxSeccomp>, String> {
        if self.default_action.is_empty() && self.syscalls.is_empty() {
            return Ok(None);
        }
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(
                "both 'architectures' and 'archMap' are specified in the seccomp \
                        profile, use either 'architectures' or 'archMap'"
                    .into(),
            );
        }
        let default_action = if self.default_action.is_empty() {
            return Err("the profile has rules but no defaultAction".into());
        } else {
            parse_action(&self.default_action).map_err(|e| format!("defaultAction: {e}"))?
        };

        let mut architectures = Vec::new();
        for a in &self.architectures {
            architectures.push(parse_arch(a).map_err(|e| format!("architectures: {e}"))?);
        }
        // Every archMap entry must be valid, even those for other machines.
        let native = seccomp_arch_of(&host.arch);
        for entry in &self.arch_map {
            let arch = parse_arch(&entry.architecture).map_err(|e| format!("archMap: {e}"))?;
            let mut subs = Vec::new();
            for s in &entry.sub_architectures {
                subs.push(parse_arch(s).map_err(|e| format!("archMap: {e}"))?);
            }
            if Some(entry.architecture.as_str()) == native && architectures.is_empty() {
                architectures.push(arch);
                architectures.extend(subs);
            }
        }

        let mut flags = Vec::new();
        for f in &self.flags {
            flags.push(
                LinuxSeccompFilterFlag::from_str(f)
                    .map_err(|_| format!("flags: unknown seccomp filter flag {f:?}"))?,
            );
        }

        let mut syscalls = Vec::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            let at = |e: String| format!("syscalls[{i}]: {e}");
            let names = match (&rule.name, rule.names.is_empty()) {
                (Some(n), true) if !n.is_empty() => vec![n.clone()],
                (Some(n), false) if !n.is_empty() => {
                    return Err(at("both 'name' and 'names' are specified in the seccomp \
                                   profile, use either 'name' or 'names'"
                        .into()))
                }
                _ => rule.names.clone(),
            };
            let action = parse_action(&rule.action).map_err(at)?;
            let mut args = Vec::new();
            for a in &rule.args {
                if a.index > 5 {
                    return Err(at(format!(
                        "argument index {} is out of range (a syscall has arguments 0 to 5)",
                        a.index
                    )));
                }
                let mut b = LinuxSeccompArgBuilder::default()
                    .index(a.index as usize)
                    .value(a.value)
                    .op(parse_op(&a.op).map_err(at)?);
                if a.value_two != 0 {
                    b = b.value_two(a.value_two);
                }
                args.push(b.build().map_err(|e| at(e.to_string()))?);
            }
            if !self
                .applies(rule.includes.as_ref(), true, bounding, host)
                .map_err(at)?
                || self
                    .applies(rule.excludes.as_ref(), false, bounding, host)
                    .map_err(at)?
            {
                continue;
            }
            let mut sc = LinuxSyscall::default();
            sc.set_names(names);
            sc.set_action(action);
            sc.set_errno_ret(rule.errno_ret);
            if !args.is_empty() {
                sc.set_args(Some(args));
            }
            syscalls.push(sc);
        }

        let mut out = LinuxSeccomp::default();
        out.set_default_action(default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        if !architectures.is_empty() {
            out.set_architectures(Some(architectures));
        }
        if !flags.is_empty() {
            out.set_flags(Some(flags));
        }
        out.set_listener_path(self.listener_path.as_ref().map(Into::into));
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls(Some(syscalls));
        Ok(Some(out))
    }

    /// For `includes` (`all_must_hold`): does every condition hold? For `excludes`: does any?
    fn applies(
        &self,
        filter: Option<&ProfileFilter>,
        all_must_hold: bool,
        bounding: &BTreeSet<String>,
        host: &SeccompHost,
    ) -> Result<bool, String> {
        let Some(f) = filter else {
            // No includes: the rule applies; no excludes: nothing excludes it.
            return Ok(all_must_hold);
        };
        let kernel_ok = match &f.min_kernel {
            Some(v) if !v.is_empty() => Some(host.kernel >= parse_min_kernel(v)?),
            _ => None,
        };
        if all_must_hold {
            let arch_ok = f.arches.is_empty() || f.arches.contains(&host.arch);
            let caps_ok = f.caps.iter().all(|c| bounding.contains(&normalize_cap(c)));
            Ok(arch_ok && caps_ok && kernel_ok.unwrap_or(true))
        } else {
            let arch_hit = f.arches.contains(&host.arch);
            let caps_hit = f.caps.iter().any(|c| bounding.contains(&normalize_cap(c)));
            Ok(arch_hit || caps_hit || kernel_ok.unwrap_or(false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64() -> SeccompHost {
        SeccompHost {
            arch: "amd64".into(),
            kernel: (6, 8),
        }
    }

    fn caps(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn defaults() -> BTreeSet<String> {
        docker_capabilities()
            .into_iter()
            .map(|c| capability_name(c).to_string())
            .collect()
    }

    /// Names allowed unconditionally (rules without argument conditions).
    fn allowed(s: &LinuxSeccomp) -> BTreeSet<String> {
        s.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|r| {
                r.action() == LinuxSeccompAction::ScmpActAllow
                    && r.args().as_ref().is_none_or(|a| a.is_empty())
            })
            .flat_map(|r| r.names().clone())
            .collect()
    }

    fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|r| r.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn default_action_is_eperm_and_arches_are_x86_family() {
        let s = default_profile()
            .resolve_for(&defaults(), &amd64())
            .unwrap()
            .unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().clone().unwrap(),
            vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        let arm = SeccompHost {
            arch: "arm64".into(),
            kernel: (6, 8),
        };
        let s = default_profile()
            .resolve_for(&defaults(), &arm)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.architectures().clone().unwrap(),
            vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        assert!(allowed(&s).contains("set_tls"));
        assert!(!allowed(&s).contains("arch_prctl"));
    }

    #[test]
    fn default_container_cannot_unshare_mount_or_use_keyrings() {
        let s = default_profile()
            .resolve_for(&defaults(), &amd64())
            .unwrap()
            .unwrap();
        let ok = allowed(&s);
        for denied in [
            "unshare",
            "mount",
            "umount2",
            "setns",
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "perf_event_open",
            "ptrace_nonexistent",
            "kexec_load",
            "init_module",
            "reboot",
            "io_uring_setup",
            "open_by_handle_at",
            "clock_settime",
            "syslog",
        ] {
            assert!(!ok.contains(denied), "{denied} must not be allowed");
            assert!(rules_for(&s, denied).is_empty() || denied == "clone3");
        }
        for fine in ["read", "openat2", "chroot", "ptrace", "arch_prctl", "statx"] {
            assert!(ok.contains(fine), "{fine} must be allowed");
        }
        // clone: only the masked rule (no namespace flags); clone3: ENOSYS.
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1);
        let a = &clone[0].args().as_ref().unwrap()[0];
        assert_eq!(
            (a.index(), a.value(), a.op()),
            (0, 2114060288, LinuxSeccompOperator::ScmpCmpMaskedEq)
        );
        let clone3 = rules_for(&s, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3[0].errno_ret(), Some(38));
    }

    #[test]
    fn sys_admin_unlocks_mount_and_unshare() {
        let mut c = defaults();
        c.insert("CAP_SYS_ADMIN".into());
        let s = default_profile()
            .resolve_for(&c, &amd64())
            .unwrap()
            .unwrap();
        let ok = allowed(&s);
        for name in ["mount", "unshare", "setns", "clone", "clone3", "umount2"] {
            assert!(ok.contains(name), "{name}");
        }
        // The restricted clone rule and the clone3 ENOSYS rule are gone.
        assert!(rules_for(&s, "clone3")
            .iter()
            .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow));
        assert!(rules_for(&s, "clone").iter().all(|r| r.args().is_none()));
    }

    #[test]
    fn capability_groups_follow_the_bounding_set() {
        let s = default_profile()
            .resolve_for(
                &caps(&["CAP_SYS_PTRACE", "CAP_SYS_TIME", "CAP_BPF"]),
                &amd64(),
            )
            .unwrap()
            .unwrap();
        let ok = allowed(&s);
        assert!(ok.contains("process_vm_writev") && ok.contains("kcmp"));
        assert!(ok.contains("clock_settime") && ok.contains("bpf"));
        // Without SYS_CHROOT in the bounding set chroot is denied.
        assert!(!ok.contains("chroot"));
    }

    #[test]
    fn min_kernel_gates_ptrace() {
        let old = SeccompHost {
            arch: "amd64".into(),
            kernel: (4, 4),
        };
        let s = default_profile()
            .resolve_for(&defaults(), &old)
            .unwrap()
            .unwrap();
        assert!(!allowed(&s).contains("ptrace"));
        let s = default_profile()
            .resolve_for(&defaults(), &amd64())
            .unwrap()
            .unwrap();
        assert!(allowed(&s).contains("ptrace"));
    }

    #[test]
    fn socket_excludes_af_alg_and_af_vsock() {
        let s = default_profile()
            .resolve_for(&defaults(), &amd64())
            .unwrap()
            .unwrap();
        let rules = rules_for(&s, "socket");
        // Evaluate the rules as the kernel would for each family.
        let allowed_family = |family: u64| {
            rules.iter().any(|r| {
                r.args().as_ref().unwrap().iter().all(|a| match a.op() {
                    LinuxSeccompOperator::ScmpCmpLt => family < a.value(),
                    LinuxSeccompOperator::ScmpCmpEq => family == a.value(),
                    LinuxSeccompOperator::ScmpCmpGt => family > a.value(),
                    _ => false,
                })
            })
        };
        for fam in [1, 2, 10, 16, 17, 37, 39, 41, 44] {
            assert!(allowed_family(fam), "family {fam}");
        }
        assert!(!allowed_family(38) && !allowed_family(40));
    }

    #[test]
    fn personality_values() {
        let s = default_profile()
            .resolve_for(&defaults(), &amd64())
            .unwrap()
            .unwrap();
        let vals: Vec<u64> = rules_for(&s, "personality")
            .iter()
            .map(|r| r.args().as_ref().unwrap()[0].value())
            .collect();
        assert_eq!(vals, vec![0, 8, 131072, 131080, 4294967295]);
    }

    #[test]
    fn default_seccomp_serializes_as_oci() {
        let v = serde_json::to_value(default_seccomp()).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        let first = &v["syscalls"][0];
        assert_eq!(first["action"], "SCMP_ACT_ALLOW");
        assert!(first["names"].as_array().unwrap().len() > 300);
    }

    const SMALL: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}
        ],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "args": null},
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
             "comment": "x", "excludes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "99.0"}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "3.0"}}
        ]
    }"#;

    #[test]
    fn parses_a_docker_json_profile() {
        let p = parse_profile(SMALL.as_bytes(), "small.json").unwrap();
        assert_eq!(p.syscalls.len(), 6);
        assert_eq!(p.syscalls[1].name.as_deref(), Some("mkdir"));
        let s = p.resolve_for(&caps(&[]), &amd64()).unwrap().unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(
            v["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let names: Vec<String> = s
            .syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| r.names().join(","))
            .collect();
        // mount (no SYS_ADMIN) and clone (kernel >= 3.0 excludes it) are gone.
        assert_eq!(
            names,
            vec![
                "read,write,exit_group",
                "mkdir",
                "arch_prctl",
                "personality"
            ]
        );
        assert_eq!(v["syscalls"][1]["errnoRet"], 13);
        assert_eq!(v["syscalls"][3]["args"][0]["op"], "SCMP_CMP_EQ");
        let with_admin = p
            .resolve_for(&caps(&["CAP_SYS_ADMIN"]), &amd64())
            .unwrap()
            .unwrap();
        let n: Vec<String> = with_admin
            .syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| r.names().join(","))
            .collect();
        assert!(n.contains(&"mount".to_string()) && !n.contains(&"personality".to_string()));
    }

    #[test]
    fn explicit_architectures_are_kept() {
        let p = parse_profile(
            br#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86_64"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[]}"#,
            "p",
        )
        .unwrap();
        let s = p.resolve_for(&caps(&[]), &amd64()).unwrap().unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActKillProcess);
        assert_eq!(
            s.architectures().clone().unwrap(),
            vec![Arch::ScmpArchX86_64]
        );
        assert_eq!(
            s.flags().clone().unwrap(),
            vec![LinuxSeccompFilterFlag::SeccompFilterFlagLog]
        );
    }

    #[test]
    fn empty_profile_disables_seccomp() {
        let p = parse_profile(b"{}", "empty.json").unwrap();
        assert_eq!(p.resolve_for(&caps(&[]), &amd64()).unwrap(), None);
    }

    #[test]
    fn profile_errors_are_clear() {
        let cases: &[(&str, &str)] = &[
            ("{", "decoding seccomp profile failed"),
            (
                r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
                "defaultAction: unknown action \"SCMP_ACT_NOPE\"",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#,
                "use either 'architectures' or 'archMap'",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]}"#,
                "unknown architecture \"SCMP_ARCH_Z80\"",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
                "syscalls[0]: both 'name' and 'names'",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
                "syscalls[0]: argument index 9 is out of range",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"EQ"}]}]}"#,
                "syscalls[0]: unknown operator \"EQ\"",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"ALLOW"}]}"#,
                "syscalls[0]: unknown action \"ALLOW\"",
            ),
            (
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4"}}]}"#,
                "syscalls[0]: invalid kernel version \"4\"",
            ),
            (
                r#"{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"}]}"#,
                "no defaultAction",
            ),
        ];
        for (json, want) in cases {
            let err = parse_profile(json.as_bytes(), "/tmp/p.json")
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{json}: {err}");
            assert!(err.contains("/tmp/p.json"), "{err}");
        }
    }

    #[test]
    fn load_profile_reads_files_and_names_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, SMALL).unwrap();
        assert_eq!(load_profile(&path).unwrap().syscalls.len(), 6);
        let err = load_profile(&dir.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("opening seccomp profile failed") && err.contains("nope.json"));
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v595"), Some((6, 18)));
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("junk"), None);
        assert_eq!(parse_min_kernel("4.8"), Ok((4, 8)));
        assert!(parse_min_kernel("0.0").is_err());
    }
}
