//! `--user` resolution against the image's own `/etc/passwd` and `/etc/group`.
//!
//! The files are read from inside the container's root filesystem, never through the host's
//! path resolution: an image may ship `/etc/passwd` as a symlink to `/etc/shadow` (absolute,
//! meant for the container) or to `../../../../etc/shadow`. Every lookup goes through
//! `openat2(RESOLVE_IN_ROOT)` from a descriptor of the rootfs, so `..` and absolute symlinks
//! are clamped to the rootfs, and only regular files of bounded size are read.
//!
//! The semantics are runc's / Docker's (`GetExecUser`): "name", "uid", "name:group",
//! "uid:gid", "name:gid", "uid:group"; a numeric uid absent from passwd is used as is with
//! gid 0; supplementary groups come from `/etc/group` membership only when no group was given.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{self, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode};

use super::spec::SpecError;

/// `/etc/passwd` and `/etc/group` larger than this are refused.
pub const MAX_USER_DB_BYTES: u64 = 1 << 20;

/// Highest uid/gid Docker accepts (2^31 - 1).
const MAX_ID: i64 = i32::MAX as i64;

/// How many times an openat2 that reports a concurrent rename (EAGAIN) is retried.
const OPENAT2_RETRIES: usize = 32;

/// Symlinks followed at most while resolving one path (the kernel's MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// The process identity a `--user` value resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups from `/etc/group` (only when no group was named).
    pub additional_gids: Vec<u32>,
    /// The passwd entry's home, or "/" when there is none.
    pub home: String,
}

/// Resolves `user` ("", "name", "uid", "name:group", "uid:gid", ...) in the rootfs.
/// An empty `user` means root (uid 0), as in Docker.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, SpecError> {
    let root = RootDir::open(rootfs)?;
    let passwd = root.read_file("etc/passwd", MAX_USER_DB_BYTES)?;
    let group = root.read_file("etc/group", MAX_USER_DB_BYTES)?;
    resolve_user_in(user, passwd.as_deref(), group.as_deref())
}

struct PasswdEntry {
    name: String,
    uid: i64,
    gid: i64,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: i64,
    members: Vec<String>,
}

/// The non-empty, whitespace-trimmed lines of a colon-separated database.
fn db_lines(data: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    data.split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .map(|l| l.split(|b| *b == b':').collect())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn number(b: Option<&&[u8]>) -> Option<i64> {
    std::str::from_utf8(b?).ok()?.trim().parse().ok()
}

/// Lines whose ids do not parse are skipped (runc would read them as id 0).
fn parse_passwd(data: &[u8]) -> Vec<PasswdEntry> {
    db_lines(data)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: text(f.first()?),
                uid: number(f.get(2))?,
                gid: number(f.get(3))?,
                home: f.get(5).map(|h| text(h)).unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_group(data: &[u8]) -> Vec<GroupEntry> {
    db_lines(data)
        .filter_map(|f| {
            Some(GroupEntry {
                name: text(f.first()?),
                gid: number(f.get(2))?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(|b| *b == b',')
                            .map(|s| text(s.trim_ascii()))
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn in_range(id: i64) -> Result<u32, SpecError> {
    if (0..=MAX_ID).contains(&id) {
        Ok(id as u32)
    } else {
        Err(SpecError::IdRange)
    }
}

/// The resolution itself, over the file contents (`None`: the file does not exist).
pub(crate) fn resolve_user_in(
    spec: &str,
    passwd: Option<&[u8]>,
    group: Option<&[u8]>,
) -> Result<ResolvedUser, SpecError> {
    // "user[:group]"; anything after a second ':' is ignored, as runc does.
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_arg: Option<i64> = user_arg.parse().ok();
    let gid_arg: Option<i64> = group_arg.parse().ok();

    let users = passwd.map(parse_passwd).unwrap_or_default();
    let matched = users.iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if let Some(uid) = uid_arg {
            u.uid == uid
        } else {
            u.name == user_arg
        }
    });

    // Root (uid 0, gid 0, home "/") unless the passwd file says otherwise.
    let (mut uid, mut gid, mut home) = (0u32, 0u32, String::new());
    let mut matched_name: Option<&str> = None;
    match matched {
        Some(u) => {
            uid = in_range(u.uid)?;
            gid = in_range(u.gid)?;
            home = u.home.clone();
            matched_name = Some(u.name.as_str());
        }
        None if user_arg.is_empty() => {}
        // A numeric uid with no passwd entry is used as is (gid 0).
        None => match uid_arg {
            Some(n) => uid = in_range(n)?,
            None => return Err(SpecError::UnknownUser(user_arg.to_string())),
        },
    }

    let mut additional_gids = Vec::new();
    if !group_arg.is_empty() || matched_name.is_some() {
        let groups = group.map(parse_group).unwrap_or_default();
        if !group_arg.is_empty() {
            let found = groups.iter().find(|g| match gid_arg {
                Some(n) => g.gid == n,
                None => g.name == group_arg,
            });
            gid = match (found, gid_arg) {
                (Some(g), _) => in_range(g.gid)?,
                (None, Some(n)) => in_range(n)?,
                (None, None) => return Err(SpecError::UnknownGroup(group_arg.to_string())),
            };
        } else if let Some(name) = matched_name {
            for g in groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m == name))
            {
                additional_gids.push(in_range(g.gid)?);
            }
        }
    }

    if home.is_empty() {
        home = "/".to_string();
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// A descriptor of a container's root filesystem; paths under it are resolved by the kernel
/// as if it were `/` (`RESOLVE_IN_ROOT`), magic links refused.
pub(crate) struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open/openat2 and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

impl RootDir {
    pub(crate) fn open(rootfs: &Path) -> Result<RootDir, SpecError> {
        let fd = fcntl::open(
            rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(owned)
        .map_err(|e| SpecError::Rootfs {
            path: rootfs.to_path_buf(),
            source: e.into(),
        })?;
        Ok(RootDir {
            fd,
            path: rootfs.to_path_buf(),
        })
    }

    /// openat2 under the root; `rel` is a container path (leading '/' allowed).
    pub(crate) fn open_in_root(&self, rel: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
        let rel = rel.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match fcntl::openat2(self.fd.as_raw_fd(), rel, how) {
                Ok(fd) => return Ok(owned(fd)),
                Err(Errno::EAGAIN) if tries < OPENAT2_RETRIES => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a regular file under the root, at most `limit` bytes; `Ok(None)` if it does not
    /// exist (or a path component is not a directory).
    pub(crate) fn read_file(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, SpecError> {
        let shown = format!("/{}", rel.trim_start_matches('/'));
        let io_err = |e: std::io::Error| SpecError::RootfsFile {
            rootfs: self.path.clone(),
            path: shown.clone(),
            source: e,
        };
        // O_PATH first: opening a device node or FIFO for reading could block or act.
        let pfd = match self.open_in_root(rel, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(io_err(e.into())),
        };
        let st = fstat(pfd.as_raw_fd()).map_err(|e| io_err(e.into()))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(io_err(std::io::Error::other("not a regular file")));
        }
        // Reopen the very inode read-only through its O_PATH descriptor.
        let file =
            std::fs::File::open(format!("/proc/self/fd/{}", pfd.as_raw_fd())).map_err(io_err)?;
        let mut data = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut data)
            .map_err(io_err)?;
        if data.len() as u64 > limit {
            return Err(io_err(std::io::Error::other(format!(
                "larger than {limit} bytes"
            ))));
        }
        Ok(Some(data))
    }

    /// Resolves `path` (absolute, container view) following the rootfs's own symlinks as the
    /// container will see them, without ever leaving the rootfs. Components that do not
    /// exist are kept as written. Returns a clean absolute path.
    pub(crate) fn resolve_path(&self, path: &str) -> String {
        let mut pending: Vec<String> = path
            .split('/')
            .rev()
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        let mut exists = true;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            if exists && links < MAX_SYMLINKS {
                match self.readlink_in(&done, &comp) {
                    Ok(Some(target)) => {
                        links += 1;
                        let target = target.to_string_lossy().into_owned();
                        if target.starts_with('/') {
                            done.clear();
                        }
                        pending.extend(
                            target
                                .split('/')
                                .rev()
                                .filter(|c| !c.is_empty())
                                .map(str::to_string),
                        );
                        continue;
                    }
                    Ok(None) => {}
                    Err(_) => exists = false,
                }
            }
            done.push(comp);
        }
        format!("/{}", done.join("/"))
    }

    /// `Ok(Some(target))` if `dir/name` is a symlink, `Ok(None)` if it is something else,
    /// `Err` if it cannot be looked at (missing).
    fn readlink_in(&self, dir: &[String], name: &str) -> Result<Option<OsString>, Errno> {
        let dfd = self.open_in_root(&dir.join("/"), OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        match fcntl::readlinkat(Some(dfd.as_raw_fd()), name) {
            Ok(t) => Ok(Some(OsString::from_vec(t.into_vec()))),
            Err(Errno::EINVAL) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment line
bad:x:notanumber:1::/:
app:x:1000:1000:App User:/home/app:/bin/sh
nohome:x:1001:1001::
";
    const GROUP: &str = "\
root:x:0:root
bin:x:1:root,bin,daemon
wheel:x:10:root, app
staff:x:50:
app:x:1000:
audio:x:29:app
";

    fn resolve(spec: &str) -> Result<ResolvedUser, SpecError> {
        resolve_user_in(spec, Some(PASSWD.as_bytes()), Some(GROUP.as_bytes()))
    }

    #[test]
    fn by_name_uid_and_defaults() {
        let root = resolve("").unwrap();
        assert_eq!(
            root,
            ResolvedUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![0, 1, 10],
                home: "/root".into()
            }
        );
        let app = resolve("app").unwrap();
        assert_eq!(
            (app.uid, app.gid, app.home.as_str()),
            (1000, 1000, "/home/app")
        );
        assert_eq!(app.additional_gids, vec![10, 29]);
        assert_eq!(resolve("1000").unwrap(), app);
        let nohome = resolve("nohome").unwrap();
        assert_eq!(nohome.home, "/");
    }

    #[test]
    fn with_group() {
        let u = resolve("app:staff").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert!(
            u.additional_gids.is_empty(),
            "explicit group: no supplementary groups"
        );
        let u = resolve("1000:50").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        let u = resolve("daemon:4242").unwrap();
        assert_eq!((u.uid, u.gid), (1, 4242));
        let u = resolve("4242:4343").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 4343, "/"));
    }

    #[test]
    fn numeric_ids_absent_from_passwd() {
        let u = resolve("4242").unwrap();
        assert_eq!(
            u,
            ResolvedUser {
                uid: 4242,
                gid: 0,
                additional_gids: vec![],
                home: "/".into()
            }
        );
        // No passwd at all: numeric works, names do not.
        let u = resolve_user_in("77:88", None, None).unwrap();
        assert_eq!((u.uid, u.gid), (77, 88));
        assert_eq!(resolve_user_in("", None, None).unwrap().uid, 0);
        assert!(resolve_user_in("app", None, None).is_err());
    }

    #[test]
    fn unknown_names_and_ranges_are_errors() {
        assert_eq!(
            resolve("nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("app:nogroup").unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert_eq!(
            resolve("4294967296").unwrap_err().to_string(),
            "uids and gids must be in range 0-2147483647"
        );
        assert!(resolve("-1").is_err());
        // A malformed line is not a match (runc would have read uid 0).
        assert!(resolve("bad").is_err());
    }

    fn rootfs_with(passwd: &str, group: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/passwd"), passwd).unwrap();
        fs::write(dir.path().join("etc/group"), group).unwrap();
        dir
    }

    #[test]
    fn reads_the_rootfs_files() {
        let dir = rootfs_with(PASSWD, GROUP);
        let u = resolve_user(dir.path(), "app").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
    }

    #[test]
    fn absolute_symlinks_resolve_inside_the_rootfs() {
        // rootfs/etc/passwd -> /etc/passwd.real -> /data/../data/pw (a chain of absolute and
        // relative links). Resolved on the host, "/etc/passwd.real" does not exist, and a
        // link to /etc/passwd would read the host's: the user must come from the rootfs.
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("data")).unwrap();
        fs::write(
            r.join("data/pw"),
            "rdesk-sentinel:x:4711:4712:sentinel:/sentinel:/bin/sh\n",
        )
        .unwrap();
        symlink("/data/../data/pw", r.join("etc/passwd.real")).unwrap();
        symlink("/etc/passwd.real", r.join("etc/passwd")).unwrap();
        let u = resolve_user(r, "rdesk-sentinel").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4711, 4712, "/sentinel"));
        // The host's root entry must not be visible.
        assert_eq!(resolve_user(r, "").unwrap().home, "/");
    }

    #[test]
    fn link_to_host_passwd_does_not_read_the_host() {
        // rootfs/etc/passwd -> /etc/passwd: the host has "root" in its passwd; the rootfs
        // does not have the target, so nothing is found.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        symlink("/etc/passwd", dir.path().join("etc/passwd")).unwrap();
        let err = resolve_user(dir.path(), "root").unwrap_err().to_string();
        assert!(err.contains("/etc/passwd"), "{err}");
        // And ".." cannot climb out either.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        symlink(
            "../../../../../../../../../../etc/passwd",
            dir.path().join("etc/passwd"),
        )
        .unwrap();
        assert!(resolve_user(dir.path(), "root").is_err());
    }

    #[test]
    fn oversized_and_special_files_are_refused() {
        let big = "x".repeat(MAX_USER_DB_BYTES as usize + 10);
        let dir = rootfs_with(&big, "");
        let err = resolve_user(dir.path(), "root").unwrap_err().to_string();
        assert!(err.contains("larger than"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc/passwd")).unwrap();
        let err = resolve_user(dir.path(), "root").unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn resolve_path_stays_in_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("srv/app")).unwrap();
        symlink("/srv/app", r.join("work")).unwrap();
        symlink("../../proc/self/fd/7", r.join("srv/evil")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let root = RootDir::open(r).unwrap();
        assert_eq!(root.resolve_path("/work/x"), "/srv/app/x");
        assert_eq!(root.resolve_path("/srv/evil"), "/proc/self/fd/7");
        assert_eq!(root.resolve_path("/../../etc"), "/etc");
        assert_eq!(root.resolve_path("/a/./b/../c"), "/a/c");
        assert_eq!(root.resolve_path("/loop"), "/loop");
    }
}
