//! Container resource usage from the cgroup files (v1, v2 and hybrid hosts), in the Docker
//! API's `ContainerStatsResponse` shape, for `rdesk stats` and the TUI's graphs. Cheap: a
//! handful of small file reads per sample, no process is asked anything.

use crate::container::{self, ContainerStore};
use crate::error::{Error, Result};
use crate::store::Store;
use bollard_stubs::models::{
    ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats, ContainerPidsStats,
    ContainerStatsResponse,
};
use std::path::{Path, PathBuf};

/// Where each controller of this host lives: a cgroup v1 hierarchy per controller, or the
/// unified (v2) mount. Hybrid hosts have both; v1 controllers win, as runtimes place them
/// there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLayout {
    pub memory: Option<(PathBuf, bool)>,
    pub cpu: Option<(PathBuf, bool)>,
    pub pids: Option<(PathBuf, bool)>,
}

/// Cgroup mode of a host, from its mountinfo: "v1", "v2" or "hybrid".
pub fn cgroup_mode(mountinfo: &str) -> &'static str {
    let mut v1 = false;
    let mut v2 = false;
    for line in mountinfo.lines() {
        match line.split(" - ").nth(1).and_then(|r| r.split(' ').next()) {
            Some("cgroup") => v1 = true,
            Some("cgroup2") => v2 = true,
            _ => {}
        }
    }
    match (v1, v2) {
        (true, true) => "hybrid",
        (false, true) => "v2",
        _ => "v1",
    }
}

/// Parses mountinfo: `(controller hierarchy, is_v2)` for memory, cpu accounting, pids.
pub fn layout(mountinfo: &str) -> CgroupLayout {
    let mut l = CgroupLayout {
        memory: None,
        cpu: None,
        pids: None,
    };
    let mut unified = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mountpoint = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let fs = r.next().unwrap_or("");
        let options = r.nth(1).unwrap_or("");
        match fs {
            "cgroup2" => unified = Some(PathBuf::from(mountpoint)),
            "cgroup" => {
                let opts: Vec<&str> = options.split(',').collect();
                if opts.contains(&"memory") {
                    l.memory = Some((PathBuf::from(mountpoint), false));
                }
                if opts.contains(&"cpuacct") {
                    l.cpu = Some((PathBuf::from(mountpoint), false));
                }
                if opts.contains(&"pids") {
                    l.pids = Some((PathBuf::from(mountpoint), false));
                }
            }
            _ => {}
        }
    }
    if let Some(u) = unified {
        // Only a pure v2 host (no v1 controllers) keeps controllers in the unified tree.
        if l.memory.is_none() && l.cpu.is_none() && l.pids.is_none() {
            l.memory = Some((u.clone(), true));
            l.cpu = Some((u.clone(), true));
            l.pids = Some((u, true));
        }
    }
    l
}

fn read_u64(p: &Path) -> Option<u64> {
    let s = std::fs::read_to_string(p).ok()?;
    let t = s.trim();
    if t == "max" {
        return Some(u64::MAX);
    }
    t.parse().ok()
}

/// Total CPU time of the host in nanoseconds (Docker's `system_cpu_usage`), and CPU count.
fn system_cpu() -> (Option<u64>, u32) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(|b| b.is_ascii_digit()))
        .count() as u32;
    // SAFETY: sysconf has no memory side effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total = stat
        .lines()
        .next()
        .filter(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
        });
    (total.map(|t| t * 1_000_000_000 / hz), cpus.max(1))
}

/// One sample of a running container's usage.
pub(crate) fn sample(store: &Store, id: &str) -> Result<ContainerStatsResponse> {
    let cs = ContainerStore::new(store);
    let record = cs.record(id)?;
    let state = cs.state(id)?;
    if !state.status.is_live() {
        return Err(Error::Conflict(format!(
            "container {} is not running",
            &id[..12]
        )));
    }
    let rel = format!("{}/{id}", container::cgroup_parent(store));
    let rel = rel.trim_start_matches('/');
    let l = layout(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    let (memory, limit) = match &l.memory {
        Some((m, false)) => (
            read_u64(&m.join(rel).join("memory.usage_in_bytes")),
            read_u64(&m.join(rel).join("memory.limit_in_bytes")),
        ),
        Some((m, true)) => (
            read_u64(&m.join(rel).join("memory.current")),
            read_u64(&m.join(rel).join("memory.max")),
        ),
        None => (None, None),
    };
    let cpu_ns = match &l.cpu {
        Some((m, false)) => read_u64(&m.join(rel).join("cpuacct.usage")),
        Some((m, true)) => std::fs::read_to_string(m.join(rel).join("cpu.stat"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("usage_usec ")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
            })
            .map(|us| us * 1000),
        None => None,
    };
    let (pids, pids_max) = match &l.pids {
        Some((m, _)) => (
            read_u64(&m.join(rel).join("pids.current")),
            read_u64(&m.join(rel).join("pids.max")),
        ),
        None => (None, None),
    };
    let (system, cpus) = system_cpu();
    Ok(ContainerStatsResponse {
        name: Some(format!("/{}", record.name)),
        id: Some(id.to_string()),
        read: Some(crate::now_rfc3339()),
        cpu_stats: Some(ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: cpu_ns,
                ..Default::default()
            }),
            system_cpu_usage: system,
            online_cpus: Some(cpus),
            ..Default::default()
        }),
        memory_stats: Some(ContainerMemoryStats {
            usage: memory,
            limit: limit.map(|l| l.min(host_memory())),
            ..Default::default()
        }),
        pids_stats: Some(ContainerPidsStats {
            current: pids,
            limit: pids_max.filter(|m| *m != u64::MAX),
        }),
        ..Default::default()
    })
}

/// The host's memory (an unlimited cgroup reports a huge number; Docker shows the host's).
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:").map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                        * 1024
                })
            })
        })
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate";
    const V2: &str = "30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";
    const V1: &str = "25 18 0:22 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
26 18 0:23 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
27 18 0:24 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids";

    #[test]
    fn modes_and_controllers_from_recorded_mountinfo() {
        assert_eq!(cgroup_mode(HYBRID), "hybrid");
        assert_eq!(cgroup_mode(V2), "v2");
        assert_eq!(cgroup_mode(V1), "v1");
        let h = layout(HYBRID);
        assert_eq!(
            h.memory,
            Some((PathBuf::from("/sys/fs/cgroup/memory"), false))
        );
        assert_eq!(
            h.cpu,
            Some((PathBuf::from("/sys/fs/cgroup/cpuacct"), false))
        );
        let v2 = layout(V2);
        assert_eq!(v2.memory, Some((PathBuf::from("/sys/fs/cgroup"), true)));
        assert_eq!(v2.pids, Some((PathBuf::from("/sys/fs/cgroup"), true)));
        let v1 = layout(V1);
        assert_eq!(
            v1.cpu,
            Some((PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"), false))
        );
    }
}
