//! Integration tests for `rdesk_engine::unpack`. They need root (device nodes, chown,
//! `trusted.*` xattrs), like the project's other integration tests.
//!
//! Every hostile case unpacks into `outer/root` and then checks, with a snapshot taken before
//! (names, types, modes, owners, contents, link targets, mtimes, xattrs), that nothing in
//! `outer` outside `root` was created, changed or removed. Absolute paths in hostile entries
//! point into `outer`, never at the real host, so a broken unpacker cannot damage the machine.
//! The tests live in `mod unpack` so that `cargo test -p rdesk-engine unpack` selects them.

mod unpack {
    use nix::sys::stat::Mode;
    use rdesk_engine::unpack::{unpack_layer, UnpackError, UnpackLimits, UnpackStats};
    use std::collections::BTreeMap;
    use std::ffi::{CString, OsStr};
    use std::fs;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    // ---------------------------------------------------------------------------------------------
    // Raw tar writer: builds headers byte by byte so that names the `tar` crate's Builder refuses
    // (`..`, absolute, empty) can be written.

    #[derive(Clone)]
    struct E {
        name: Vec<u8>,
        typeflag: u8,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u64,
        link: Vec<u8>,
        dev: (u32, u32),
        data: Vec<u8>,
        /// Declared size, when it should differ from `data.len()`.
        size: Option<u64>,
        gnu: bool,
    }

    fn e(name: impl AsRef<[u8]>, typeflag: u8) -> E {
        E {
            name: name.as_ref().to_vec(),
            typeflag,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: Vec::new(),
            dev: (0, 0),
            data: Vec::new(),
            size: None,
            gnu: false,
        }
    }

    fn file(name: impl AsRef<[u8]>, data: impl AsRef<[u8]>) -> E {
        E {
            data: data.as_ref().to_vec(),
            ..e(name, b'0')
        }
    }

    fn dir(name: impl AsRef<[u8]>) -> E {
        E {
            mode: 0o755,
            ..e(name, b'5')
        }
    }

    fn symlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> E {
        E {
            mode: 0o777,
            link: target.as_ref().to_vec(),
            ..e(name, b'2')
        }
    }

    fn hardlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> E {
        E {
            link: target.as_ref().to_vec(),
            ..e(name, b'1')
        }
    }

    /// A whiteout as a layer tar carries it: an empty regular file.
    fn wh(name: impl AsRef<[u8]>) -> E {
        file(name, b"")
    }

    fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
        let base = key.len() + value.len() + 3;
        let mut len = base + 1;
        while len != base + len.to_string().len() {
            len = base + len.to_string().len();
        }
        let mut r = format!("{len} ").into_bytes();
        r.extend_from_slice(key);
        r.push(b'=');
        r.extend_from_slice(value);
        r.push(b'\n');
        assert_eq!(r.len(), len);
        r
    }

    fn pax(records: &[(&[u8], &[u8])]) -> E {
        let mut data = Vec::new();
        for (k, v) in records {
            data.extend_from_slice(&pax_record(k, v));
        }
        E {
            data,
            ..e("PaxHeaders/entry", b'x')
        }
    }

    fn gnu_long(typeflag: u8, value: &[u8]) -> E {
        let mut data = value.to_vec();
        data.push(0);
        E {
            data,
            gnu: true,
            ..e("././@LongLink", typeflag)
        }
    }

    impl E {
        fn mode(mut self, mode: u32) -> E {
            self.mode = mode;
            self
        }
        fn owner(mut self, uid: u32, gid: u32) -> E {
            self.uid = uid;
            self.gid = gid;
            self
        }
        fn mtime(mut self, mtime: u64) -> E {
            self.mtime = mtime;
            self
        }
        fn size(mut self, size: u64) -> E {
            self.size = Some(size);
            self
        }
    }

    fn octal(field: &mut [u8], v: u64) {
        let s = format!("{:0w$o}", v, w = field.len() - 1);
        assert!(s.len() < field.len(), "value {v} does not fit");
        field[..s.len()].copy_from_slice(s.as_bytes());
        field[s.len()] = 0;
    }

    fn header(en: &E) -> [u8; 512] {
        let mut h = [0u8; 512];
        assert!(
            en.name.len() <= 100,
            "use a GNU long name for {:?}",
            String::from_utf8_lossy(&en.name)
        );
        assert!(en.link.len() <= 100);
        h[..en.name.len()].copy_from_slice(&en.name);
        octal(&mut h[100..108], u64::from(en.mode));
        octal(&mut h[108..116], u64::from(en.uid));
        octal(&mut h[116..124], u64::from(en.gid));
        octal(&mut h[124..136], en.size.unwrap_or(en.data.len() as u64));
        octal(&mut h[136..148], en.mtime);
        h[156] = en.typeflag;
        h[157..157 + en.link.len()].copy_from_slice(&en.link);
        if en.gnu {
            h[257..265].copy_from_slice(b"ustar  \0");
        } else {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
        }
        h[265..269].copy_from_slice(b"root");
        h[297..301].copy_from_slice(b"root");
        octal(&mut h[329..337], u64::from(en.dev.0));
        octal(&mut h[337..345], u64::from(en.dev.1));
        checksum(&mut h);
        h
    }

    fn checksum(h: &mut [u8; 512]) {
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    fn push_data(out: &mut Vec<u8>, data: &[u8]) {
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    fn tar(entries: &[E]) -> Vec<u8> {
        let mut out = Vec::new();
        for en in entries {
            out.extend_from_slice(&header(en));
            push_data(&mut out, &en.data);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    // ---------------------------------------------------------------------------------------------
    // Fixture: `outer` with sentinels, `outer/root` as the destination.

    #[derive(Debug, PartialEq, Eq)]
    struct Node {
        kind: &'static str,
        mode: u32,
        uid: u32,
        gid: u32,
        rdev: u64,
        content: Option<Vec<u8>>,
        link: Option<PathBuf>,
        mtime: (i64, i64),
        xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    }

    type Snapshot = BTreeMap<PathBuf, Node>;

    fn cpath(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
    }

    fn xattrs(p: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let c = cpath(p);
        let mut names = vec![0u8; 64 * 1024];
        // SAFETY: `c` is NUL-terminated and `names` is writable for its length.
        let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        assert!(
            n >= 0,
            "llistxattr {}: {}",
            p.display(),
            io::Error::last_os_error()
        );
        names.truncate(n as usize);
        let mut out = BTreeMap::new();
        for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            let value = getxattr(p, name).expect("listed xattr");
            out.insert(name.to_vec(), value);
        }
        out
    }

    fn getxattr(p: &Path, name: &[u8]) -> Option<Vec<u8>> {
        let c = cpath(p);
        let n = CString::new(name).expect("xattr name");
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: `c` and `n` are NUL-terminated and `buf` is writable for its length.
        let r =
            unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            return None;
        }
        buf.truncate(r as usize);
        Some(buf)
    }

    fn setxattr(p: &Path, name: &[u8], value: &[u8]) {
        let c = cpath(p);
        let n = CString::new(name).expect("xattr name");
        // SAFETY: `c` and `n` are NUL-terminated; `value` is valid for its length.
        let r = unsafe {
            libc::lsetxattr(
                c.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        assert_eq!(
            r,
            0,
            "setxattr {}: {}",
            p.display(),
            io::Error::last_os_error()
        );
    }

    fn node(p: &Path) -> Node {
        let md = fs::symlink_metadata(p).expect("lstat");
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "other"
        };
        Node {
            kind,
            mode: md.mode(),
            uid: md.uid(),
            gid: md.gid(),
            rdev: md.rdev(),
            content: ft.is_file().then(|| fs::read(p).expect("read")),
            link: ft.is_symlink().then(|| fs::read_link(p).expect("readlink")),
            mtime: (md.mtime(), md.mtime_nsec()),
            xattrs: xattrs(p),
        }
    }

    /// Everything under `top` except a top-level `root` (the unpack destination).
    fn snapshot(top: &Path) -> Snapshot {
        fn walk(base: &Path, rel: &Path, out: &mut Snapshot) {
            let p = base.join(rel);
            let n = node(&p);
            let is_dir = n.kind == "dir";
            out.insert(rel.to_path_buf(), n);
            if is_dir {
                let mut names: Vec<_> = fs::read_dir(&p)
                    .expect("readdir")
                    .map(|d| d.expect("dirent").file_name())
                    .collect();
                names.sort();
                for name in names {
                    if rel.as_os_str().is_empty() && name == "root" {
                        continue;
                    }
                    walk(base, &rel.join(name), out);
                }
            }
        }
        let mut out = Snapshot::new();
        walk(top, Path::new(""), &mut out);
        out
    }

    /// More levels than the unpacker's tree-removal limit (512).
    const DEEPER_THAN_REMOVE_LIMIT: usize = 600;

    const VICTIM: &[u8] = b"victim: must never change";

    struct Fx {
        outer: tempfile::TempDir,
        root: PathBuf,
        before: Snapshot,
    }

    fn set_mtime(p: &Path, secs: u64) {
        let f = fs::File::open(p).expect("open for times");
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .expect("set mtime");
    }

    fn fx() -> Fx {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the unpack tests need root (mknod, chown, trusted.* xattrs)"
        );
        let outer = tempfile::tempdir().expect("tempdir");
        let o = outer.path();
        let root = o.join("root");
        fs::create_dir(&root).expect("mkdir root");
        fs::write(o.join("victim"), VICTIM).expect("victim");
        fs::set_permissions(o.join("victim"), fs::Permissions::from_mode(0o640)).expect("chmod");
        fs::write(o.join("perm400"), b"...").expect("perm400");
        fs::set_permissions(o.join("perm400"), fs::Permissions::from_mode(0o400)).expect("chmod");
        fs::create_dir(o.join("victimdir")).expect("victimdir");
        fs::write(o.join("victimdir/secret"), VICTIM).expect("secret");
        for p in ["victim", "perm400", "victimdir/secret", "victimdir"] {
            set_mtime(&o.join(p), 1_000_000_000);
        }
        set_mtime(o, 1_000_000_000);
        let before = snapshot(o);
        Fx {
            outer,
            root,
            before,
        }
    }

    impl Fx {
        fn o(&self) -> &Path {
            self.outer.path()
        }
        /// An absolute host path into `outer`, as a hostile entry would name `/etc/passwd`.
        fn abs(&self, rel: &str) -> Vec<u8> {
            self.o().join(rel).as_os_str().as_bytes().to_vec()
        }
        fn unpack(&self, entries: &[E]) -> Result<UnpackStats, UnpackError> {
            unpack_layer(
                tar(entries).as_slice(),
                &self.root,
                &UnpackLimits::default(),
            )
        }
        fn ok(&self, entries: &[E]) -> UnpackStats {
            let stats = self.unpack(entries).expect("unpack");
            self.check_outer();
            stats
        }
        fn fails(&self, entries: &[E]) -> UnpackError {
            let err = self.unpack(entries).expect_err("unpack should fail");
            self.check_outer();
            err
        }
        fn check_outer(&self) {
            assert_eq!(
                snapshot(self.o()),
                self.before,
                "something outside the root changed"
            );
        }
        fn r(&self, rel: &str) -> PathBuf {
            self.root.join(rel)
        }
        fn read(&self, rel: &str) -> Vec<u8> {
            fs::read(self.r(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
        }
        fn lstat(&self, rel: &str) -> fs::Metadata {
            fs::symlink_metadata(self.r(rel)).unwrap_or_else(|e| panic!("lstat {rel}: {e}"))
        }
        fn exists(&self, rel: &str) -> bool {
            fs::symlink_metadata(self.r(rel)).is_ok()
        }
        fn same_inode(&self, a: &str, b: &str) -> bool {
            let (a, b) = (self.lstat(a), self.lstat(b));
            a.dev() == b.dev() && a.ino() == b.ino()
        }
        fn is_whiteout(&self, rel: &str) -> bool {
            let md = self.lstat(rel);
            md.file_type().is_char_device() && md.rdev() == 0
        }
        fn is_opaque(&self, rel: &str) -> bool {
            getxattr(&self.r(rel), b"trusted.overlay.opaque").as_deref() == Some(b"y")
        }
        fn link(&self, rel: &str) -> PathBuf {
            fs::read_link(self.r(rel)).unwrap_or_else(|e| panic!("readlink {rel}: {e}"))
        }
        /// The entries of a directory under the root, sorted.
        fn names(&self, rel: &str) -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(self.r(rel))
                .expect("readdir")
                .map(|d| {
                    d.expect("dirent")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            v.sort();
            v
        }
    }

    /// A host path outside the fixture that a broken unpacker would create through `/`.
    struct HostCanary(PathBuf);

    impl HostCanary {
        fn new(tag: &str) -> HostCanary {
            HostCanary(PathBuf::from(format!(
                "/rdesk-unpack-canary-{}-{tag}",
                std::process::id()
            )))
        }
        fn name(&self) -> &[u8] {
            self.0.file_name().map(OsStr::as_bytes).unwrap_or_default()
        }
    }

    impl Drop for HostCanary {
        fn drop(&mut self) {
            let existed = fs::symlink_metadata(&self.0).is_ok();
            let _ = fs::remove_file(&self.0);
            let _ = fs::remove_dir_all(&self.0);
            if existed && !std::thread::panicking() {
                panic!("{} was created on the host", self.0.display());
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Breakouts: `..`, absolute names, symlinks (containerd's TestBreakouts and more).

    #[test]
    fn breakout_dotdot_file() {
        let f = fx();
        f.ok(&[
            file("../victim", "pwned"),
            file("../../../../victim2", "pwned"),
            file("a/../../victim3", "x"),
        ]);
        assert_eq!(f.read("victim"), b"pwned");
        assert_eq!(f.read("victim2"), b"pwned");
        assert_eq!(f.read("victim3"), b"x");
    }

    #[test]
    fn breakout_dotdot_dir() {
        let f = fx();
        f.ok(&[
            dir("../evil/"),
            file("../evil/f", "x"),
            dir("../../victimdir/sub"),
        ]);
        assert_eq!(f.read("evil/f"), b"x");
        assert!(f.lstat("victimdir/sub").is_dir());
    }

    #[test]
    fn breakout_absolute_name() {
        let f = fx();
        let name = f.abs("victim");
        f.ok(&[file(&name, "pwned")]);
        let inside = f.root.join(OsStr::from_bytes(&name[1..]));
        assert_eq!(fs::read(inside).expect("in-root copy"), b"pwned");
    }

    #[test]
    fn breakout_symlink_to_dotdot_then_write() {
        let f = fx();
        f.ok(&[
            symlink("link", ".."),
            file("link/victim", "pwned"),
            dir("link/victimdir"),
            file("link/victimdir/secret", "x"),
        ]);
        assert_eq!(f.link("link"), Path::new(".."));
        assert_eq!(f.read("victim"), b"pwned");
        assert_eq!(f.read("victimdir/secret"), b"x");
    }

    #[test]
    fn breakout_symlink_to_slash_then_write() {
        let f = fx();
        let canary = HostCanary::new("slash");
        let mut name = b"link/".to_vec();
        name.extend_from_slice(canary.name());
        f.ok(&[symlink("link", "/"), file(&name, "pwned")]);
        assert_eq!(f.read(&String::from_utf8_lossy(canary.name())), b"pwned");
    }

    #[test]
    fn breakout_symlink_to_outer_dir_then_write() {
        // The target is resolved inside the root, where it does not exist: refused.
        let f = fx();
        let err = f.fails(&[
            symlink("link", f.abs("victimdir")),
            file("link/secret", "pwned"),
        ]);
        assert!(
            matches!(err, UnpackError::ParentNotDirectory { .. }),
            "{err}"
        );
    }

    #[test]
    fn breakout_symlink_to_outer_file_replaced_by_file() {
        let f = fx();
        f.ok(&[
            symlink("link", f.abs("victim")),
            file("link", "pwned").mode(0o777),
        ]);
        assert!(f.lstat("link").is_file());
        assert_eq!(f.read("link"), b"pwned");
    }

    #[test]
    fn breakout_symlink_relative_to_victim_replaced_by_file() {
        let f = fx();
        f.ok(&[symlink("link", "../victim"), file("link", "pwned")]);
        assert!(f.lstat("link").is_file());
        assert_eq!(f.read("link"), b"pwned");
    }

    #[test]
    fn breakout_symlink_to_victim_then_other_types_replace_it() {
        let f = fx();
        f.ok(&[
            symlink("l1", f.abs("victim")),
            dir("l1"),
            symlink("l2", "../victim"),
            e("l2", b'6').mode(0o600),
            symlink("l3", "../victimdir"),
            symlink("l3", "elsewhere"),
        ]);
        assert!(f.lstat("l1").is_dir());
        assert!(f.lstat("l2").file_type().is_fifo());
        assert_eq!(f.link("l3"), Path::new("elsewhere"));
    }

    #[test]
    fn breakout_symlink_chain() {
        let f = fx();
        f.ok(&[
            symlink("a", "../../.."),
            symlink("a/b", "../../.."),
            file("a/b/victim", "pwned"),
            dir("a/b/c/d/"),
            symlink("a/b/e", "/../../a/b"),
            file("a/b/e/victim4", "y"),
        ]);
        assert_eq!(f.link("b"), Path::new("../../.."));
        assert_eq!(f.read("victim"), b"pwned");
        assert!(f.lstat("c/d").is_dir());
        assert_eq!(f.read("victim4"), b"y");
    }

    #[test]
    fn breakout_symlink_loop_is_refused() {
        let f = fx();
        f.fails(&[
            symlink("x", "y"),
            symlink("y", "x"),
            file("x/victim", "pwned"),
        ]);
    }

    // containerd TestBreakouts ports: each writes through symlinks that must stay in the root.

    #[test]
    fn symlink_absolute() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            symlink("localetc", "/etc"),
            file("/localetc/unbroken", "unbroken"),
        ]);
        assert_eq!(f.read("etc/unbroken"), b"unbroken");
    }

    #[test]
    fn symlink_up_and_out() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            dir("dummy"),
            symlink("localetc", "/dummy/../etc"),
            file("/localetc/unbroken", "unbroken"),
        ]);
        assert_eq!(f.read("etc/unbroken"), b"unbroken");
    }

    #[test]
    fn symlink_multiple_absolute() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            dir("dummy"),
            symlink("/dummy/etc", "/etc"),
            symlink("localetc", "/dummy/etc"),
            file("/dummy/etc/unbroken", "unbroken"),
        ]);
        assert_eq!(f.read("etc/unbroken"), b"unbroken");
    }

    #[test]
    fn symlink_multiple_relative() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            dir("dummy"),
            symlink("/dummy/etc", "/etc"),
            symlink("localetc", "./dummy/etc"),
            file("/dummy/etc/unbroken", "unbroken"),
        ]);
        assert_eq!(f.read("etc/unbroken"), b"unbroken");
    }

    #[test]
    fn symlink_empty_file() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("etc/emptied", "notempty"),
            symlink("localetc", "/etc"),
            file("/localetc/emptied", ""),
        ]);
        assert_eq!(f.read("etc/emptied"), b"");
    }

    #[test]
    fn symlink_parent_directory_name_is_skipped() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("..", "/etc/"),
            hardlink("localpasswd", "/etc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
        assert!(f.lstat("").is_dir());
    }

    #[test]
    fn symlink_empty_filename_is_skipped() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("", "/etc/"),
            hardlink("localpasswd", "/etc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
        assert!(f.lstat("").is_dir());
    }

    #[test]
    fn symlink_parent_relative() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("localetc/sub/..", "/etc/"),
            hardlink("/localetc/localpasswd", "/etc/passwd"),
        ]);
        assert_eq!(f.link("localetc"), Path::new("/etc/"));
        assert!(f.same_inode("etc/localpasswd", "etc/passwd"));
    }

    #[test]
    fn symlink_slash_ended() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            dir("localetc/"),
            hardlink("/localetc/localpasswd", "/etc/passwd"),
        ]);
        assert!(f.same_inode("localetc/localpasswd", "etc/passwd"));
    }

    // ---------------------------------------------------------------------------------------------
    // Hardlinks.

    #[test]
    fn hardlink_relative() {
        let f = fx();
        f.ok(&[
            dir("etc").mode(0o770),
            file("/etc/passwd", "inside"),
            dir("breakouts"),
            symlink("breakouts/d1", "../../etc"),
            hardlink("breakouts/mypasswd", "/breakouts/d1/passwd"),
        ]);
        assert!(f.same_inode("breakouts/mypasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_down_and_out() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            dir("breakouts"),
            dir("downandout"),
            symlink("breakouts/d1", "../downandout/../../etc"),
            hardlink("breakouts/mypasswd", "/breakouts/d1/passwd"),
        ]);
        assert!(f.same_inode("breakouts/mypasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_absolute() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("localetc", "/etc"),
            hardlink("localpasswd", "/localetc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_relative_long() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("localetc", "../../../../../../../etc"),
            hardlink("localpasswd", "/localetc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_relative_up_and_out() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            dir("upandout"),
            symlink("localetc", "upandout/../../../etc"),
            hardlink("localpasswd", "/localetc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_relative_up_and_out_through_missing_dir() {
        // containerd resolves `upandout/..` lexically; the kernel (and so the running container)
        // needs `upandout` to exist, so the symlink dangles and the link target is missing.
        let f = fx();
        let err = f.fails(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("localetc", "upandout/../../../etc"),
            hardlink("localpasswd", "/localetc/passwd"),
        ]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn hardlink_direct_relative() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            hardlink("localpasswd", "../../../../../etc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_direct_absolute() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            hardlink("localpasswd", "/etc/passwd"),
        ]);
        assert!(f.same_inode("localpasswd", "etc/passwd"));
    }

    #[test]
    fn hardlink_to_dotdot_victim_missing_in_root() {
        let f = fx();
        let err = f.fails(&[hardlink("hl", "../victim")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
        assert!(!f.exists("hl"));
    }

    #[test]
    fn hardlink_to_dotdot_victim_links_in_root_file() {
        let f = fx();
        f.ok(&[file("victim", "in-root"), hardlink("hl", "../victim")]);
        assert!(f.same_inode("hl", "victim"));
        assert_ne!(
            f.lstat("hl").ino(),
            fs::metadata(f.o().join("victim")).expect("stat").ino()
        );
    }

    #[test]
    fn hardlink_to_outer_absolute_path() {
        let f = fx();
        let err = f.fails(&[hardlink("hl", f.abs("victim"))]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn hardlink_through_symlink_to_outer_dir() {
        let f = fx();
        let err = f.fails(&[symlink("d", f.abs("victimdir")), hardlink("hl", "d/secret")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn hardlink_symlink_chmod() {
        // containerd's HardlinkSymlinkChmod, plus later entries of the same name with other modes.
        let f = fx();
        let target = f.abs("perm400");
        let ep = f.abs("also-exists-outside-root");
        f.ok(&[
            symlink(&ep, &target),
            hardlink("sketchylink", &ep).mode(0o777),
            hardlink("sketchylink", &ep).mode(0o4777).owner(1000, 1000),
            hardlink("sketchylink", "sketchylink").mode(0o777),
        ]);
        assert!(f.lstat("sketchylink").file_type().is_symlink());
        assert_eq!(
            f.link("sketchylink").as_os_str().as_bytes(),
            target.as_slice()
        );
    }

    #[test]
    fn hardlink_symlink_before_create_target() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            symlink("localpasswd", "/etc/passwd"),
            hardlink("localpasswd-dup", "localpasswd"),
            file("/etc/passwd", "after"),
        ]);
        assert!(f.same_inode("localpasswd-dup", "localpasswd"));
        assert_eq!(f.link("localpasswd-dup"), Path::new("/etc/passwd"));
    }

    #[test]
    fn hardlink_symlink_relative() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("passwdlink", "../../../../../etc/passwd"),
            hardlink("localpasswd", "/passwdlink"),
        ]);
        assert!(f.lstat("localpasswd").file_type().is_symlink());
        assert_eq!(f.link("localpasswd"), f.link("passwdlink"));
    }

    #[test]
    fn hardlink_symlink_absolute() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("/etc/passwd", "inside"),
            symlink("passwdlink", "/etc/passwd"),
            hardlink("localpasswd", "/passwdlink"),
        ]);
        assert!(f.lstat("localpasswd").file_type().is_symlink());
        assert_eq!(f.link("localpasswd"), Path::new("/etc/passwd"));
    }

    #[test]
    fn hardlink_to_directory_is_refused() {
        let f = fx();
        let err = f.fails(&[dir("d"), hardlink("hl", "d")]);
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn hardlink_metadata_applies_to_the_inode_and_keeps_capabilities() {
        let f = fx();
        let cap =
            b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        f.ok(&[
            pax(&[(b"SCHILY.xattr.security.capability", cap)]),
            file("bin/ping", "elf").mode(0o755),
            hardlink("bin/ping2", "bin/ping").mode(0o755),
            file("a", "x").mode(0o600),
            hardlink("b", "a").mode(0o640).owner(7, 8),
        ]);
        assert!(f.same_inode("bin/ping", "bin/ping2"));
        assert_eq!(
            getxattr(&f.r("bin/ping"), b"security.capability").as_deref(),
            Some(&cap[..])
        );
        let md = f.lstat("a");
        assert_eq!((md.mode() & 0o7777, md.uid(), md.gid()), (0o640, 7, 8));
    }

    #[test]
    fn hardlink_replaces_existing_entry() {
        let f = fx();
        f.ok(&[
            file("a", "a"),
            file("b", "b"),
            dir("c"),
            file("c/x", "x"),
            hardlink("b", "a"),
            hardlink("c", "a"),
        ]);
        assert!(f.same_inode("a", "b"));
        assert!(f.same_inode("a", "c"));
    }

    // ---------------------------------------------------------------------------------------------
    // Whiteouts and opaque markers.

    #[test]
    fn whiteout_plain() {
        let f = fx();
        f.ok(&[dir("etc"), wh("etc/.wh.passwd"), wh(".wh.gone")]);
        assert!(f.is_whiteout("etc/passwd"));
        assert!(f.is_whiteout("gone"));
        assert_eq!(f.names(""), ["etc", "gone"]);
    }

    #[test]
    fn whiteout_dotdot_victim() {
        let f = fx();
        f.ok(&[wh("../.wh.victim"), wh("../../.wh.victimdir")]);
        assert!(f.is_whiteout("victim"));
        assert!(f.is_whiteout("victimdir"));
    }

    #[test]
    fn whiteout_parent_dotdot_name_is_refused() {
        let f = fx();
        let err = f.fails(&[dir("etc"), file("etc/passwd", "x"), wh(".wh...")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
        assert_eq!(f.read("etc/passwd"), b"x");
    }

    #[test]
    fn whiteout_parent_in_subdir_is_refused() {
        let f = fx();
        let err = f.fails(&[dir("etc"), file("etc/passwd", "x"), wh("etc/.wh...")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn whiteout_root_dot_is_refused() {
        let f = fx();
        let err = f.fails(&[wh(".wh..")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn whiteout_current_directory_is_refused() {
        let f = fx();
        let err = f.fails(&[dir("etc"), wh("etc/.wh..")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn whiteout_empty_name_is_refused() {
        let f = fx();
        let err = f.fails(&[wh("etc/.wh.")]);
        assert!(matches!(err, UnpackError::Invalid { .. }), "{err}");
    }

    #[test]
    fn whiteout_through_symlink_to_outside() {
        let f = fx();
        f.ok(&[
            symlink("abs", f.abs("")),
            wh("abs/.wh.victim"),
            symlink("rel", "../.."),
            wh("rel/.wh.victim"),
            symlink("file", f.abs("victim")),
            wh("file/.wh.x"),
        ]);
        // `abs` points at a path that does not exist in the root: nothing to hide under it.
        assert!(f.lstat("abs").file_type().is_symlink());
        assert!(f.is_whiteout("victim"));
        assert_eq!(f.names(""), ["abs", "file", "rel", "victim"]);
    }

    #[test]
    fn whiteout_symlink_itself() {
        let f = fx();
        f.ok(&[
            wh(".wh.localetc"),
            dir("etc"),
            file("etc/passwd", "all users"),
        ]);
        assert!(f.is_whiteout("localetc"));
        assert_eq!(f.read("etc/passwd"), b"all users");
    }

    #[test]
    fn whiteout_dead_symlink_parent() {
        let f = fx();
        f.ok(&[
            dir("etc"),
            file("etc/passwd", "all users"),
            symlink("localetc", "/dne"),
            wh("localetc/.wh.etc"),
        ]);
        assert_eq!(f.read("etc/passwd"), b"all users");
        assert!(!f.exists("dne"));
    }

    #[test]
    fn whiteout_relative_path() {
        let f = fx();
        f.ok(&[wh("dne/../.wh.etc")]);
        assert!(f.is_whiteout("etc"));
        assert!(!f.exists("dne"));
    }

    #[test]
    fn whiteout_directory_name_is_a_plain_path() {
        let f = fx();
        f.ok(&[file(".wh.etc/somefile", "non-empty")]);
        assert_eq!(f.read(".wh.etc/somefile"), b"non-empty");
    }

    #[test]
    fn whiteout_then_real_file() {
        let f = fx();
        f.ok(&[wh(".wh.foo"), file("foo", "real").mode(0o640)]);
        assert!(f.lstat("foo").is_file());
        assert_eq!(f.read("foo"), b"real");
    }

    #[test]
    fn real_file_then_whiteout() {
        let f = fx();
        f.ok(&[
            file("foo", "real"),
            wh(".wh.foo"),
            symlink("bar", "foo"),
            wh(".wh.bar"),
        ]);
        assert_eq!(f.read("foo"), b"real");
        assert!(f.lstat("bar").file_type().is_symlink());
    }

    #[test]
    fn whiteout_then_real_dir_is_opaque() {
        let f = fx();
        f.ok(&[
            wh(".wh.d"),
            dir("d"),
            file("d/new", "x"),
            wh("e/.wh.f"),
            file("e/f/child", "y"),
        ]);
        assert!(f.lstat("d").is_dir());
        assert!(f.is_opaque("d"));
        assert_eq!(f.read("d/new"), b"x");
        assert!(f.lstat("e/f").is_dir());
        assert!(f.is_opaque("e/f"));
        assert!(!f.is_opaque("e"));
        assert_eq!(f.read("e/f/child"), b"y");
    }

    #[test]
    fn real_dir_then_whiteout_stays_and_is_opaque() {
        let f = fx();
        f.ok(&[
            dir("d"),
            file("d/new", "x"),
            file("e/child", "y"),
            wh(".wh.d"),
            wh(".wh.e"),
        ]);
        assert!(f.is_opaque("d"));
        assert!(f.is_opaque("e"));
        assert_eq!(f.read("d/new"), b"x");
        assert_eq!(f.read("e/child"), b"y");
    }

    #[test]
    fn opaque_marker_after_entries() {
        let f = fx();
        f.ok(&[
            dir("d"),
            file("d/a", "a"),
            dir("d/sub"),
            file("d/sub/b", "b"),
            wh("d/.wh..wh..opq"),
            file("d/c", "c"),
        ]);
        assert!(f.is_opaque("d"));
        assert!(!f.is_opaque("d/sub"));
        assert_eq!(f.names("d"), ["a", "c", "sub"]);
        assert_eq!(f.read("d/sub/b"), b"b");
    }

    #[test]
    fn opaque_marker_before_entries() {
        let f = fx();
        f.ok(&[
            dir("d"),
            wh("d/.wh..wh..opq"),
            file("d/a", "a"),
            dir("d"),
            wh("d/.wh.gone"),
        ]);
        assert!(f.is_opaque("d"));
        assert_eq!(f.read("d/a"), b"a");
        assert!(f.is_whiteout("d/gone"));
    }

    #[test]
    fn opaque_marker_creates_missing_dir() {
        let f = fx();
        f.ok(&[wh("x/y/.wh..wh..opq")]);
        assert!(f.is_opaque("x/y"));
        assert!(!f.is_opaque("x"));
        assert_eq!(f.lstat("x/y").mode() & 0o7777, 0o755);
    }

    #[test]
    fn opaque_marker_through_symlink_to_outside() {
        let f = fx();
        f.ok(&[
            symlink("abs", f.abs("victimdir")),
            wh("abs/.wh..wh..opq"),
            symlink("up", ".."),
            wh("up/.wh..wh..opq"),
            symlink("rel", "../victimdir"),
            wh("rel/.wh..wh..opq"),
        ]);
        // `up` is the root itself; `abs` and `rel` resolve inside the root, to directories that
        // do not exist there: nothing to mark.
        assert!(f.is_opaque(""));
        assert!(!f.exists("victimdir"));
        assert_eq!(f.names(""), ["abs", "rel", "up"]);
    }

    #[test]
    fn image_cannot_set_overlay_xattrs() {
        let f = fx();
        f.ok(&[
            pax(&[
                (b"SCHILY.xattr.trusted.overlay.opaque", b"y"),
                (b"SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
                (b"SCHILY.xattr.user.overlay.opaque", b"y"),
            ]),
            dir("d"),
            pax(&[(b"SCHILY.xattr.trusted.overlay.whiteout", b"y")]),
            file("f", ""),
        ]);
        assert!(xattrs(&f.r("d")).is_empty(), "{:?}", xattrs(&f.r("d")));
        assert!(xattrs(&f.r("f")).is_empty());
    }

    #[test]
    fn aufs_metadata_is_ignored() {
        let f = fx();
        f.ok(&[
            dir(".wh..wh.plnk"),
            file(".wh..wh.plnk/123.456", "x"),
            wh(".wh..wh.aufs"),
            dir("d"),
            wh("d/.wh..wh.orph"),
        ]);
        assert_eq!(f.names(""), ["d"]);
        assert!(f.names("d").is_empty());
    }

    // ---------------------------------------------------------------------------------------------
    // Replacement of existing entries.

    #[test]
    fn file_replaces_dir_tree_without_following_symlinks() {
        let f = fx();
        f.ok(&[
            dir("d"),
            symlink("d/abs", f.abs("victimdir")),
            symlink("d/rel", "../../victimdir"),
            symlink("d/file", f.abs("victim")),
            dir("d/sub/deeper"),
            file("d/sub/deeper/x", "x"),
            file("d", "now a file"),
        ]);
        assert_eq!(f.read("d"), b"now a file");
    }

    #[test]
    fn dir_replaces_file_and_symlink() {
        let f = fx();
        f.ok(&[
            file("a", "x"),
            dir("a"),
            symlink("b", f.abs("victimdir")),
            dir("b"),
            file("b/secret", "mine"),
        ]);
        assert!(f.lstat("a").is_dir());
        assert!(f.lstat("b").is_dir());
        assert_eq!(f.read("b/secret"), b"mine");
    }

    #[test]
    fn existing_dir_is_kept_and_metadata_updated() {
        let f = fx();
        f.ok(&[
            dir("d").mode(0o700),
            file("d/x", "x"),
            dir("d").mode(0o751).owner(5, 6),
        ]);
        let md = f.lstat("d");
        assert_eq!((md.mode() & 0o7777, md.uid(), md.gid()), (0o751, 5, 6));
        assert_eq!(f.read("d/x"), b"x");
    }

    #[test]
    fn entry_through_regular_file_parent_is_refused() {
        let f = fx();
        let err = f.fails(&[file("a", "x"), file("a/b", "y")]);
        assert!(
            matches!(err, UnpackError::ParentNotDirectory { .. }),
            "{err}"
        );
    }

    #[test]
    fn deep_tree_removal_is_bounded() {
        let f = fx();
        let shallow = format!("{}f", "s/".repeat(100));
        f.ok(&[
            gnu_long(b'L', shallow.as_bytes()),
            E {
                gnu: true,
                ..file("x", "x")
            },
            file("s", "replaced"),
        ]);
        assert_eq!(f.read("s"), b"replaced");
        let f = fx();
        let deep = format!("{}f", "d/".repeat(DEEPER_THAN_REMOVE_LIMIT));
        let err = f.fails(&[
            gnu_long(b'L', deep.as_bytes()),
            E {
                gnu: true,
                ..file("x", "x")
            },
            file("d", "replaced"),
        ]);
        assert!(err.to_string().contains("levels deep"), "{err}");
    }

    // ---------------------------------------------------------------------------------------------
    // Entry types and metadata.

    #[test]
    fn device_nodes() {
        let f = fx();
        f.ok(&[
            dir("dev"),
            E {
                dev: (1, 3),
                ..e("dev/null", b'3')
            }
            .mode(0o666),
            E {
                dev: (7, 0),
                ..e("dev/loop0", b'4')
            }
            .mode(0o660)
            .owner(0, 6),
            E {
                dev: (0, 0),
                ..e("dev/wh", b'3')
            }
            .mode(0),
        ]);
        let null = f.lstat("dev/null");
        assert!(null.file_type().is_char_device());
        assert_eq!(
            (null.rdev(), null.mode() & 0o7777),
            (libc::makedev(1, 3), 0o666)
        );
        let lp = f.lstat("dev/loop0");
        assert!(lp.file_type().is_block_device());
        assert_eq!(
            (lp.rdev(), lp.mode() & 0o7777, lp.gid()),
            (libc::makedev(7, 0), 0o660, 6)
        );
        assert!(f.is_whiteout("dev/wh"));
    }

    #[test]
    fn fifo() {
        let f = fx();
        f.ok(&[e("run/fifo", b'6')
            .mode(0o620)
            .owner(3, 4)
            .mtime(1_234_567_890)]);
        let md = f.lstat("run/fifo");
        assert!(md.file_type().is_fifo());
        assert_eq!(
            (md.mode() & 0o7777, md.uid(), md.gid(), md.mtime()),
            (0o620, 3, 4, 1_234_567_890)
        );
    }

    #[test]
    fn gnu_long_names() {
        let f = fx();
        let long_dir = format!("{}/{}", "d".repeat(120), "e".repeat(90));
        let long_file = format!("{long_dir}/{}", "f".repeat(110));
        let long_target = format!("../{}", "t".repeat(150));
        f.ok(&[
            gnu_long(b'L', long_dir.as_bytes()),
            E {
                gnu: true,
                ..dir("placeholder")
            },
            gnu_long(b'L', long_file.as_bytes()),
            E {
                gnu: true,
                ..file("placeholder", "long")
            },
            gnu_long(b'L', format!("{long_dir}/link").as_bytes()),
            gnu_long(b'K', long_target.as_bytes()),
            E {
                gnu: true,
                ..symlink("placeholder", "placeholder")
            },
            gnu_long(b'K', long_file.as_bytes()),
            E {
                gnu: true,
                ..hardlink("hl", "placeholder")
            },
        ]);
        assert_eq!(f.read(&long_file), b"long");
        assert_eq!(f.link(&format!("{long_dir}/link")), Path::new(&long_target));
        assert!(f.same_inode("hl", &long_file));
        assert!(!f.exists("placeholder"));
    }

    #[test]
    fn pax_path_linkpath_and_owner() {
        let f = fx();
        let long = format!("{}/file", "p".repeat(200));
        f.ok(&[
            pax(&[
                (b"path", long.as_bytes()),
                (b"uid", b"3000000"),
                (b"gid", b"3000001"),
            ]),
            file("short", "pax"),
            pax(&[
                (b"linkpath", b"target with spaces\nand a newline"),
                (b"path", b"sym"),
            ]),
            symlink("ignored", "ignored"),
        ]);
        assert_eq!(f.read(&long), b"pax");
        let md = f.lstat(&long);
        assert_eq!((md.uid(), md.gid()), (3_000_000, 3_000_001));
        assert_eq!(
            f.link("sym"),
            Path::new("target with spaces\nand a newline")
        );
        assert!(!f.exists("short"));
    }

    #[test]
    fn pax_xattrs() {
        let f = fx();
        // A file capability whose value contains 0x0A (the tar crate's PAX parser splits on it).
        let cap =
            b"\x01\x00\x00\x02\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        f.ok(&[
            pax(&[
                (b"SCHILY.xattr.user.test", b"value"),
                (b"SCHILY.xattr.security.capability", cap),
            ]),
            file("bin/tool", "elf").mode(0o755).owner(0, 0),
            pax(&[(b"SCHILY.xattr.trusted.test", b"on a symlink")]),
            symlink("link", "bin/tool"),
            pax(&[
                (b"SCHILY.xattr.user.dir", b"d"),
                (b"SCHILY.xattr.user.empty", b""),
            ]),
            dir("d"),
            pax(&[(b"SCHILY.xattr.trusted.dev", b"dev")]),
            e("fifo", b'6'),
        ]);
        let x = xattrs(&f.r("bin/tool"));
        assert_eq!(
            x.get(&b"user.test"[..]).map(Vec::as_slice),
            Some(&b"value"[..])
        );
        assert_eq!(
            x.get(&b"security.capability"[..]).map(Vec::as_slice),
            Some(&cap[..])
        );
        assert_eq!(
            getxattr(&f.r("link"), b"trusted.test").as_deref(),
            Some(&b"on a symlink"[..])
        );
        assert_eq!(getxattr(&f.r("bin/tool"), b"trusted.test"), None);
        assert_eq!(getxattr(&f.r("d"), b"user.dir").as_deref(), Some(&b"d"[..]));
        assert_eq!(
            getxattr(&f.r("d"), b"user.empty").as_deref(),
            Some(&b""[..])
        );
        assert_eq!(
            getxattr(&f.r("fifo"), b"trusted.dev").as_deref(),
            Some(&b"dev"[..])
        );
    }

    #[test]
    fn pax_mtime_with_nanoseconds() {
        let f = fx();
        f.ok(&[
            pax(&[(b"mtime", b"1500000000.123456789")]),
            file("f", "x"),
            pax(&[(b"mtime", b"1400000000.5"), (b"atime", b"1450000000.25")]),
            dir("d"),
        ]);
        let md = f.lstat("f");
        assert_eq!((md.mtime(), md.mtime_nsec()), (1_500_000_000, 123_456_789));
        let md = f.lstat("d");
        assert_eq!((md.mtime(), md.mtime_nsec()), (1_400_000_000, 500_000_000));
        assert_eq!((md.atime(), md.atime_nsec()), (1_450_000_000, 250_000_000));
    }

    #[test]
    fn mtimes_preserved_on_files_dirs_and_symlinks() {
        let f = fx();
        f.ok(&[
            dir("d").mtime(1_111_111_111),
            dir("d/sub").mtime(1_222_222_222),
            file("d/sub/f", "x").mtime(1_333_333_333),
            symlink("d/l", "sub/f").mtime(1_444_444_444),
            file("d/g", "y").mtime(1_555_555_555),
            wh("d/.wh.old"),
            wh("d/.wh..wh..opq"),
            dir(".").mtime(1_666_666_666),
            file("top", "z"),
        ]);
        assert_eq!(f.lstat("d").mtime(), 1_111_111_111);
        assert_eq!(f.lstat("d/sub").mtime(), 1_222_222_222);
        assert_eq!(f.lstat("d/sub/f").mtime(), 1_333_333_333);
        assert_eq!(f.lstat("d/l").mtime(), 1_444_444_444);
        assert_eq!(f.lstat("d/g").mtime(), 1_555_555_555);
        assert_eq!(f.lstat("").mtime(), 1_666_666_666);
    }

    #[test]
    fn setuid_setgid_sticky_preserved_after_chown() {
        let f = fx();
        f.ok(&[
            file("bin/su", "elf").mode(0o4755).owner(1000, 1000),
            file("bin/wall", "elf").mode(0o2755).owner(0, 5),
            dir("tmp").mode(0o1777).owner(1000, 1000),
            dir("shared").mode(0o2775).owner(1000, 1000),
            hardlink("bin/su2", "bin/su").mode(0o4755).owner(1000, 1000),
        ]);
        let su = f.lstat("bin/su");
        assert_eq!(
            (su.mode() & 0o7777, su.uid(), su.gid()),
            (0o4755, 1000, 1000)
        );
        assert_eq!(f.lstat("bin/wall").mode() & 0o7777, 0o2755);
        assert_eq!(f.lstat("tmp").mode() & 0o7777, 0o1777);
        assert_eq!(f.lstat("shared").mode() & 0o7777, 0o2775);
    }

    #[test]
    fn ownership_on_symlinks_and_files() {
        let f = fx();
        f.ok(&[
            file("f", "x").owner(1, 2),
            symlink("l", "/nowhere").owner(3, 4),
            dir("d").owner(5, 6),
        ]);
        let ids = |rel: &str| {
            let md = f.lstat(rel);
            (md.uid(), md.gid())
        };
        assert_eq!((ids("f"), ids("l"), ids("d")), ((1, 2), (3, 4), (5, 6)));
    }

    #[test]
    fn implicit_parents_are_0755() {
        let f = fx();
        f.ok(&[file("a/b/c/f", "x").mode(0o600)]);
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(f.lstat(d).mode() & 0o7777, 0o755, "{d}");
        }
        assert_eq!(f.lstat("a/b/c/f").mode() & 0o7777, 0o600);
    }

    #[test]
    fn root_entry_sets_root_metadata() {
        let f = fx();
        f.ok(&[
            dir("./").mode(0o751).owner(0, 0),
            file("./x", "x"),
            symlink(".", "/etc"),
            file("/", ""),
        ]);
        assert_eq!(f.lstat("").mode() & 0o7777, 0o751);
        assert!(f.lstat("").is_dir());
        assert_eq!(f.read("x"), b"x");
    }

    #[test]
    fn old_style_directory_with_trailing_slash() {
        let f = fx();
        f.ok(&[e("olddir/", 0).mode(0o750)]);
        assert!(f.lstat("olddir").is_dir());
        assert_eq!(f.lstat("olddir").mode() & 0o7777, 0o750);
    }

    #[test]
    fn header_only_types_carry_no_data() {
        // As in Go's archive/tar: a symlink's size field is ignored, so the next header follows
        // immediately.
        let f = fx();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&header(&symlink("l", "t").size(512)));
        bytes.extend_from_slice(&header(&file("f", "data")));
        push_data(&mut bytes, b"data");
        bytes.extend_from_slice(&[0u8; 1024]);
        unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect("unpack");
        assert_eq!(f.read("f"), b"data");
        assert_eq!(f.link("l"), Path::new("t"));
    }

    #[test]
    fn gnu_sparse_file() {
        let f = fx();
        let mut h = header(&E {
            gnu: true,
            size: Some(1024),
            ..e("sparse", b'S')
        });
        // Two chunks: 512 bytes at 0, 512 bytes at 8192; real size 16384.
        octal(&mut h[386..398], 0);
        octal(&mut h[398..410], 512);
        octal(&mut h[410..422], 8192);
        octal(&mut h[422..434], 512);
        octal(&mut h[483..495], 16384);
        checksum(&mut h);
        let mut bytes = h.to_vec();
        bytes.extend_from_slice(&[b'a'; 512]);
        bytes.extend_from_slice(&[b'b'; 512]);
        bytes.extend_from_slice(&[0u8; 1024]);
        let stats =
            unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect("unpack");
        let data = f.read("sparse");
        assert_eq!(data.len(), 16384);
        assert!(data[..512].iter().all(|b| *b == b'a'));
        assert!(data[512..8192].iter().all(|b| *b == 0));
        assert!(data[8192..8704].iter().all(|b| *b == b'b'));
        assert!(data[8704..].iter().all(|b| *b == 0));
        assert_eq!(stats.size, 16384);
    }

    #[test]
    fn unsupported_type_is_refused() {
        let f = fx();
        let err = f.fails(&[e("vol", b'V')]);
        assert!(err.to_string().contains("unsupported"), "{err}");
    }

    // ---------------------------------------------------------------------------------------------
    // Stream errors, limits, destination.

    #[test]
    fn stats_count_entries_and_file_bytes() {
        let f = fx();
        let stats = f.ok(&[
            dir("d"),
            file("d/a", "12345"),
            file("d/b", "678"),
            symlink("l", "d"),
            hardlink("h", "d/a"),
            wh(".wh.x"),
        ]);
        assert_eq!((stats.entries, stats.size), (6, 8));
    }

    #[test]
    fn limit_declared_size_fails_before_writing() {
        let f = fx();
        let limits = UnpackLimits {
            max_bytes: 1000,
            ..UnpackLimits::default()
        };
        // Declares 1 GiB but carries no data: the check must come before any read or write.
        let mut bytes = header(&file("big", "").size(1 << 30)).to_vec();
        bytes.extend_from_slice(&[0u8; 1024]);
        let err = unpack_layer(bytes.as_slice(), &f.root, &limits).expect_err("too big");
        assert!(
            matches!(err, UnpackError::SizeLimit { limit: 1000, .. }),
            "{err}"
        );
        assert!(!f.exists("big"));
    }

    #[test]
    fn limit_total_size() {
        let f = fx();
        let limits = UnpackLimits {
            max_bytes: 1000,
            ..UnpackLimits::default()
        };
        let entries = [
            file("a", [1u8; 600]),
            file("b", [2u8; 400]),
            file("c", [3u8; 1]),
        ];
        let err = unpack_layer(tar(&entries).as_slice(), &f.root, &limits).expect_err("too big");
        assert!(
            matches!(&err, UnpackError::SizeLimit { path, .. } if path == "c"),
            "{err}"
        );
        assert!(f.exists("b"));
        assert!(!f.exists("c"));
        let f = fx();
        let stats =
            unpack_layer(tar(&entries[..2]).as_slice(), &f.root, &limits).expect("at the limit");
        assert_eq!(stats.size, 1000);
    }

    #[test]
    fn limit_entries() {
        let f = fx();
        let limits = UnpackLimits {
            max_entries: 3,
            ..UnpackLimits::default()
        };
        let entries = [dir("a"), dir("b"), file("c", ""), file("d", "")];
        let err = unpack_layer(tar(&entries).as_slice(), &f.root, &limits).expect_err("too many");
        assert!(
            matches!(&err, UnpackError::EntryLimit { path, limit: 3 } if path == "d"),
            "{err}"
        );
        let f = fx();
        unpack_layer(tar(&entries[..3]).as_slice(), &f.root, &limits).expect("at the limit");
    }

    #[test]
    fn oversized_extension_header_is_refused() {
        let f = fx();
        let mut bytes = header(&E {
            size: Some(64 << 20),
            ..e("././@LongLink", b'L')
        })
        .to_vec();
        bytes.extend_from_slice(&[b'a'; 4096]);
        let err =
            unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect_err("refused");
        assert!(matches!(err, UnpackError::Tar { .. }), "{err}");
    }

    #[test]
    fn truncated_tar_fails() {
        let f = fx();
        let bytes = tar(&[file("a", vec![7u8; 3000])]);
        let err = unpack_layer(&bytes[..512 + 1000], &f.root, &UnpackLimits::default())
            .expect_err("truncated");
        assert!(
            matches!(&err, UnpackError::Io { path, .. } if path == "a"),
            "{err}"
        );
        let f = fx();
        let err = unpack_layer(&bytes[..300], &f.root, &UnpackLimits::default())
            .expect_err("truncated header");
        assert!(matches!(err, UnpackError::Tar { .. }), "{err}");
    }

    #[test]
    fn bad_checksum_fails() {
        let f = fx();
        let mut bytes = tar(&[file("a", "x")]);
        bytes[0] = b'b';
        let err = unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default())
            .expect_err("checksum");
        assert!(matches!(err, UnpackError::Tar { .. }), "{err}");
    }

    #[test]
    fn stops_at_end_marker_and_accepts_missing_one() {
        let f = fx();
        let mut bytes = tar(&[file("a", "x")]);
        bytes.extend_from_slice(b"trailing bytes the caller drains");
        unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect("unpack");
        let f = fx();
        let bytes = tar(&[file("a", "x")]);
        unpack_layer(&bytes[..1024], &f.root, &UnpackLimits::default()).expect("no end marker");
        assert_eq!(f.read("a"), b"x");
    }

    #[test]
    fn destination_must_be_empty() {
        let f = fx();
        fs::write(f.r("existing"), b"x").expect("write");
        let err = f.unpack(&[file("a", "x")]).expect_err("not empty");
        assert!(
            matches!(err, UnpackError::DestinationNotEmpty { .. }),
            "{err}"
        );
    }

    #[test]
    fn error_messages_name_the_entry() {
        let f = fx();
        let err = f.fails(&[hardlink("some/link", "missing/target")]);
        let msg = err.to_string();
        assert!(
            msg.contains("some/link") && msg.contains("missing/target"),
            "{msg}"
        );
    }

    // ---------------------------------------------------------------------------------------------
    // Interoperability: archives written by real tools.

    /// A source tree with most entry kinds (`etc/passwd` and `etc/passwd.hl` are hardlinked).
    fn source_tree(src: &Path) {
        let long = src.join("l".repeat(90)).join("o".repeat(90));
        fs::create_dir_all(&long).expect("mkdir");
        fs::write(long.join(format!("{}.txt", "n".repeat(120))), b"long name").expect("write");
        fs::create_dir(src.join("etc")).expect("mkdir");
        fs::write(src.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").expect("write");
        fs::hard_link(src.join("etc/passwd"), src.join("etc/passwd.hl")).expect("link");
        std::os::unix::fs::symlink("/etc/passwd", src.join("etc/abs")).expect("symlink");
        std::os::unix::fs::symlink("../../../../etc", src.join("up")).expect("symlink");
        fs::write(src.join("suid"), b"elf").expect("write");
        std::os::unix::fs::chown(src.join("suid"), Some(1234), Some(4321)).expect("chown");
        fs::set_permissions(src.join("suid"), fs::Permissions::from_mode(0o4751)).expect("chmod");
        fs::create_dir(src.join("shared")).expect("mkdir");
        fs::set_permissions(src.join("shared"), fs::Permissions::from_mode(0o2775)).expect("chmod");
        nix::unistd::mkfifo(&src.join("fifo"), Mode::from_bits_truncate(0o640)).expect("mkfifo");
        let sparse = fs::File::create(src.join("sparse")).expect("create");
        sparse.set_len(1 << 20).expect("set_len");
        std::os::unix::fs::FileExt::write_all_at(&sparse, b"head", 0).expect("pwrite");
        std::os::unix::fs::FileExt::write_all_at(&sparse, b"middle", 300_000).expect("pwrite");
        set_mtime(&src.join("etc/passwd"), 1_500_000_000);
    }

    fn gnu_tar(src: &Path, args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("tar")
            .args(args)
            .arg("-C")
            .arg(src)
            .args(["-cf", "-", "."])
            .output()
            .expect("run GNU tar");
        assert!(
            out.status.success(),
            "tar: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Compares trees; with `whole_seconds`, mtimes are compared to the second (GNU format).
    fn assert_same_tree(src: &Path, dest: &Path, whole_seconds: bool) {
        let strip = |mut s: Snapshot| {
            for n in s.values_mut() {
                if whole_seconds {
                    n.mtime.1 = 0;
                }
            }
            s
        };
        let (a, b) = (strip(snapshot(src)), strip(snapshot(dest)));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (k, v) in &a {
            assert_eq!(Some(v), b.get(k), "{}", k.display());
        }
        let ino = |p: PathBuf| fs::symlink_metadata(p).expect("lstat").ino();
        assert_eq!(
            ino(dest.join("etc/passwd")),
            ino(dest.join("etc/passwd.hl"))
        );
    }

    #[test]
    fn gnu_tar_posix_format_with_xattrs() {
        let src = tempfile::tempdir().expect("tempdir");
        source_tree(src.path());
        // A file capability whose bytes include 0x0A, as in composefs/tar-rs#428.
        let cap =
            b"\x01\x00\x00\x02\x02\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        setxattr(&src.path().join("etc/passwd"), b"security.capability", cap);
        setxattr(&src.path().join("shared"), b"user.note", b"line1\nline2");
        let bytes = gnu_tar(
            src.path(),
            &[
                "--format=posix",
                "--xattrs",
                "--xattrs-include=*",
                "--numeric-owner",
            ],
        );
        let f = fx();
        unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect("unpack");
        f.check_outer();
        assert_same_tree(src.path(), &f.root, false);
        assert_eq!(
            getxattr(&f.r("etc/passwd"), b"security.capability").as_deref(),
            Some(&cap[..])
        );
    }

    #[test]
    fn gnu_tar_gnu_format_long_names_and_sparse() {
        let src = tempfile::tempdir().expect("tempdir");
        source_tree(src.path());
        let bytes = gnu_tar(src.path(), &["--format=gnu", "--sparse", "--numeric-owner"]);
        assert!(
            bytes.chunks(512).any(|b| b.len() == 512 && b[156] == b'S'),
            "no sparse entry"
        );
        assert!(
            bytes.chunks(512).any(|b| b.len() == 512 && b[156] == b'L'),
            "no long name"
        );
        let f = fx();
        unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect("unpack");
        f.check_outer();
        assert_same_tree(src.path(), &f.root, true);
    }

    #[test]
    fn tar_crate_builder_round_trip() {
        let src = tempfile::tempdir().expect("tempdir");
        source_tree(src.path());
        fs::remove_file(src.path().join("fifo")).expect("rm fifo"); // the Builder cannot store fifos
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        b.mode(tar::HeaderMode::Complete);
        b.append_dir_all(".", src.path()).expect("append");
        let bytes = b.into_inner().expect("finish");
        let f = fx();
        unpack_layer(bytes.as_slice(), &f.root, &UnpackLimits::default()).expect("unpack");
        f.check_outer();
        let a = snapshot(src.path());
        let d = snapshot(&f.root);
        for (k, v) in &a {
            if k.as_os_str().is_empty() {
                continue; // the Builder does not archive the top directory itself
            }
            let got = d
                .get(k)
                .unwrap_or_else(|| panic!("{} missing", k.display()));
            assert_eq!(
                (v.kind, v.mode, v.uid, v.gid, &v.content, &v.link),
                (
                    got.kind,
                    got.mode,
                    got.uid,
                    got.gid,
                    &got.content,
                    &got.link
                ),
                "{}",
                k.display()
            );
            assert_eq!(v.mtime.0, got.mtime.0, "{}", k.display());
        }
    }
}
