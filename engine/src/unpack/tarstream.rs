//! Streaming tar framing for layer unpacking.
//!
//! The `tar` crate is used only to decode the fields of one 512-byte header. The framing (which
//! blocks are headers, which are data), PAX records and GNU long names are handled here because
//! `tar` 0.4 splits PAX bodies on newlines before honouring each record's length prefix (binary
//! `SCHILY.xattr.security.capability` values that contain 0x0A fail, and a crafted value can even
//! invent `path`/`linkpath` records), and because it reads extension bodies into memory without
//! a bound. The rules follow Go's `archive/tar`, which is what Docker and containerd use, so the
//! archive unpacked here is the same archive that registries and scanners see:
//!
//! * PAX records are parsed by their length prefix; `path`, `linkpath`, `size`, `uid`, `gid`,
//!   `mtime`, `atime` and `SCHILY.xattr.*` are honoured; GNU long names override PAX paths;
//! * header-only types (links, directories, devices, fifos) carry no data whatever their size
//!   field says;
//! * a `'\0'` type flag with a trailing `/` is a directory;
//! * global PAX headers (`g`) are ignored;
//! * old GNU sparse files (`S`) are supported; PAX sparse formats are refused.

use std::io::{self, Read};

/// Largest body accepted for an extension header (PAX `x`/`g`, GNU `L`/`K`) and for the sparse
/// map of one entry. Real ones are a few hundred bytes.
const MAX_META_BODY: u64 = 1 << 20;

const BLOCK: usize = 512;

/// What one tar entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Regular,
    Directory,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
    /// Any other type flag (the byte is kept for the error message).
    Other(u8),
}

/// One chunk of an old-GNU sparse file: `length` bytes of archive data go at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chunk {
    pub offset: u64,
    pub length: u64,
}

/// A seconds/nanoseconds timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// The decoded header of one entry (extension headers already applied).
#[derive(Debug)]
pub(super) struct EntryHeader {
    pub path: Vec<u8>,
    pub link: Option<Vec<u8>>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Time,
    pub atime: Option<Time>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Bytes of data that follow the header in the archive.
    pub size: u64,
    /// For sparse files: the chunks and the logical file size.
    pub sparse: Option<(Vec<Chunk>, u64)>,
    /// `SCHILY.xattr.*` records, name without the prefix, in archive order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EntryHeader {
    /// Logical size of a regular file's contents.
    pub fn file_size(&self) -> u64 {
        match &self.sparse {
            Some((_, real)) => *real,
            None => self.size,
        }
    }
}

#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: Option<Time>,
    atime: Option<Time>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Default)]
struct Pending {
    pax: Option<Pax>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.pax.is_none() && self.long_name.is_none() && self.long_link.is_none()
    }
}

/// Reads a tar stream entry by entry.
pub(super) struct TarStream<R> {
    r: R,
    /// Data bytes of the current entry not yet consumed.
    remaining: u64,
    /// Padding after the current entry's data.
    pad: u64,
    done: bool,
    scratch: Vec<u8>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "layer tar is truncated")
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl<R: Read> TarStream<R> {
    pub fn new(r: R) -> Self {
        TarStream {
            r,
            remaining: 0,
            pad: 0,
            done: false,
            scratch: vec![0; 64 * 1024],
        }
    }

    /// Reads as many bytes as fit in `buf`; returns how many (less only at EOF).
    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        while n > 0 {
            let want = n.min(self.scratch.len() as u64) as usize;
            let mut scratch = std::mem::take(&mut self.scratch);
            let got = self.read_full(&mut scratch[..want]);
            self.scratch = scratch;
            let got = got?;
            if got < want {
                return Err(truncated());
            }
            n -= got as u64;
        }
        Ok(())
    }

    /// Skips what is left of the current entry's data and its padding.
    fn finish_entry(&mut self) -> io::Result<()> {
        let n = self.remaining + self.pad;
        self.remaining = 0;
        self.pad = 0;
        self.skip(n)
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> io::Result<bool> {
        match self.read_full(block)? {
            0 => Ok(false),
            BLOCK => Ok(true),
            _ => Err(truncated()),
        }
    }

    /// Reads the body of an extension header (bounded) and its padding.
    fn read_body(&mut self, size: u64, what: &str) -> io::Result<Vec<u8>> {
        if size > MAX_META_BODY {
            return Err(bad(format!(
                "{what} of {size} bytes exceeds the {MAX_META_BODY}-byte limit"
            )));
        }
        let mut body = vec![0; size as usize];
        if self.read_full(&mut body)? < body.len() {
            return Err(truncated());
        }
        self.skip(padding(size))?;
        Ok(body)
    }

    /// The data of the current entry (what `next_header` last returned).
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { s: self }
    }

    /// Advances to the next entry, skipping whatever is left of the current one.
    /// Returns `None` at the end-of-archive marker or at a clean EOF.
    pub fn next_header(&mut self) -> io::Result<Option<EntryHeader>> {
        self.finish_entry()?;
        if self.done {
            return Ok(None);
        }
        let mut pending = Pending::default();
        let mut header = tar::Header::new_old();
        loop {
            let block = header.as_mut_bytes();
            if !self.read_block(block)? {
                self.done = true;
                if !pending.is_empty() {
                    return Err(bad("extension header at end of archive without an entry"));
                }
                return Ok(None);
            }
            if block.iter().all(|b| *b == 0) {
                self.done = true;
                if !pending.is_empty() {
                    return Err(bad("extension header followed by end of archive"));
                }
                // Like Go's archive/tar: the second block of the end marker must be zero too
                // (if present at all; the caller drains anything after the archive).
                let mut second = [0u8; BLOCK];
                let n = self.read_full(&mut second)?;
                if n == BLOCK && second.iter().any(|b| *b != 0) {
                    return Err(bad("a single zero block is followed by more data"));
                }
                return Ok(None);
            }
            verify_checksum(&header)?;
            let typeflag = header.as_bytes()[156];
            let hsize = header
                .entry_size()
                .map_err(|e| bad(format!("bad size field: {e}")))?;
            match typeflag {
                b'x' => {
                    let body = self.read_body(hsize, "PAX extended header")?;
                    // As in Go, a second `x` header replaces the first.
                    pending.pax = Some(parse_pax(&body)?);
                }
                b'g' => {
                    // Global headers are ignored (Docker and containerd do the same), but
                    // must still be well formed.
                    let body = self.read_body(hsize, "PAX global header")?;
                    parse_pax(&body)?;
                }
                b'L' => {
                    let body = self.read_body(hsize, "GNU long name")?;
                    pending.long_name = Some(trim_nul(body));
                }
                b'K' => {
                    let body = self.read_body(hsize, "GNU long link name")?;
                    pending.long_link = Some(trim_nul(body));
                }
                _ => return self.entry(&header, typeflag, hsize, pending).map(Some),
            }
        }
    }

    fn entry(
        &mut self,
        header: &tar::Header,
        typeflag: u8,
        hsize: u64,
        pending: Pending,
    ) -> io::Result<EntryHeader> {
        let pax = pending.pax.unwrap_or_default();
        let path = match (pending.long_name, pax.path) {
            (Some(p), _) => p,
            (None, Some(p)) => p,
            (None, None) => header.path_bytes().into_owned(),
        };
        let field_err = |field: &str, e: io::Error| {
            bad(format!("entry {:?}: bad {field} field: {e}", lossy(&path)))
        };
        let link = match (pending.long_link, pax.linkpath) {
            (Some(l), _) => Some(l),
            (None, Some(l)) => Some(l),
            (None, None) => header.link_name_bytes().map(|l| l.into_owned()),
        };
        let kind = match typeflag {
            b'\0' if path.ends_with(b"/") => Kind::Directory,
            b'\0' | b'0' | b'7' | b'S' => Kind::Regular,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' => Kind::Directory,
            b'6' => Kind::Fifo,
            other => Kind::Other(other),
        };
        let mode = header.mode().map_err(|e| field_err("mode", e))?;
        let uid = match pax.uid {
            Some(u) => u,
            None => id32(header.uid().map_err(|e| field_err("uid", e))?, "uid", &path)?,
        };
        let gid = match pax.gid {
            Some(g) => g,
            None => id32(header.gid().map_err(|e| field_err("gid", e))?, "gid", &path)?,
        };
        let mtime = match pax.mtime {
            Some(t) => t,
            None => {
                let s = header.mtime().map_err(|e| field_err("mtime", e))?;
                Time {
                    sec: i64::try_from(s).unwrap_or(i64::MAX),
                    nsec: 0,
                }
            }
        };
        let (dev_major, dev_minor) = if matches!(kind, Kind::Char | Kind::Block) {
            (
                header
                    .device_major()
                    .map_err(|e| field_err("devmajor", e))?
                    .unwrap_or(0),
                header
                    .device_minor()
                    .map_err(|e| field_err("devminor", e))?
                    .unwrap_or(0),
            )
        } else {
            (0, 0)
        };
        // Header-only types carry no data, whatever the size field says (Go's rule).
        let header_only = !matches!(kind, Kind::Regular | Kind::Other(_));
        let size = if header_only {
            0
        } else {
            pax.size.unwrap_or(hsize)
        };
        let sparse = if typeflag == b'S' {
            Some(self.sparse_map(header, size, &path)?)
        } else {
            None
        };
        self.remaining = size;
        self.pad = padding(size);
        Ok(EntryHeader {
            path,
            link,
            kind,
            mode,
            uid,
            gid,
            mtime,
            atime: pax.atime,
            dev_major,
            dev_minor,
            size,
            sparse,
            xattrs: pax.xattrs,
        })
    }

    /// Reads the sparse map of an old-GNU sparse entry (header plus extension blocks).
    fn sparse_map(
        &mut self,
        header: &tar::Header,
        size: u64,
        path: &[u8],
    ) -> io::Result<(Vec<Chunk>, u64)> {
        let err = |msg: String| bad(format!("sparse entry {:?}: {msg}", lossy(path)));
        let gnu = header
            .as_gnu()
            .ok_or_else(|| err("sparse type flag on a non-GNU header".into()))?;
        let real = gnu.real_size().map_err(|e| err(e.to_string()))?;
        let mut chunks = Vec::new();
        let mut add = |s: &tar::GnuSparseHeader| -> io::Result<()> {
            if s.is_empty() {
                return Ok(());
            }
            let offset = s.offset().map_err(|e| err(e.to_string()))?;
            let length = s.length().map_err(|e| err(e.to_string()))?;
            chunks.push(Chunk { offset, length });
            Ok(())
        };
        for s in gnu.sparse.iter() {
            add(s)?;
        }
        let mut extended = gnu.is_extended();
        let mut ext_blocks = 0u64;
        while extended {
            ext_blocks += 1;
            if ext_blocks * BLOCK as u64 > MAX_META_BODY {
                return Err(err("sparse map is too large".into()));
            }
            let mut ext = tar::GnuExtSparseHeader::new();
            if !self.read_block(ext.as_mut_bytes())? {
                return Err(truncated());
            }
            for s in ext.sparse().iter() {
                add(s)?;
            }
            extended = ext.is_extended();
        }
        // The chunks must be in order, inside the file, and account for all the data.
        let mut end = 0u64;
        let mut total = 0u64;
        for c in &chunks {
            let stop = c
                .offset
                .checked_add(c.length)
                .ok_or_else(|| err("sparse chunk overflows".into()))?;
            if c.offset < end || stop > real {
                return Err(err("sparse chunks overlap or exceed the file size".into()));
            }
            end = stop;
            total += c.length;
        }
        if total != size {
            return Err(err(format!(
                "sparse chunks hold {total} bytes but the entry has {size}"
            )));
        }
        Ok((chunks, real))
    }
}

/// Reader over the data of the current entry; fails on truncation.
pub(super) struct EntryData<'a, R> {
    s: &'a mut TarStream<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.s.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.s.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.s.r.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        if n == 0 {
            return Err(truncated());
        }
        self.s.remaining -= n as u64;
        Ok(n)
    }
}

fn verify_checksum(header: &tar::Header) -> io::Result<()> {
    let bytes = header.as_bytes();
    let want = header
        .cksum()
        .map_err(|e| bad(format!("bad header checksum field: {e}")))?;
    let mut unsigned: u32 = 0;
    let mut signed: i32 = 0;
    for (i, b) in bytes.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    if want == unsigned || i64::from(want) == i64::from(signed) {
        Ok(())
    } else {
        Err(bad(format!(
            "header checksum mismatch (entry name {:?})",
            lossy(&header.path_bytes())
        )))
    }
}

fn id32(v: u64, what: &str, path: &[u8]) -> io::Result<u32> {
    u32::try_from(v).map_err(|_| {
        bad(format!(
            "entry {:?}: {what} {v} is out of range",
            lossy(path)
        ))
    })
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// Parses a PAX body: records `"<len> <key>=<value>\n"` walked by their length prefix.
fn parse_pax(body: &[u8]) -> io::Result<Pax> {
    let mut pax = Pax::default();
    let mut rest = body;
    while !rest.is_empty() {
        let sp = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or_else(|| bad("malformed PAX record: no length"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("malformed PAX record: bad length"))?;
        if len < sp + 3 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("malformed PAX record: length does not match"));
        }
        let kv = &rest[sp + 1..len - 1];
        rest = &rest[len..];
        let eq = kv
            .iter()
            .position(|b| *b == b'=')
            .ok_or_else(|| bad("malformed PAX record: no '='"))?;
        let (key, value) = (&kv[..eq], &kv[eq + 1..]);
        let text = || std::str::from_utf8(value).ok();
        let num = |what: &str| -> io::Result<Option<u64>> {
            if value.is_empty() {
                return Ok(None);
            }
            text()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| bad(format!("malformed PAX {what} record")))
        };
        let opt = |v: &[u8]| (!v.is_empty()).then(|| v.to_vec());
        match key {
            b"path" => pax.path = opt(value),
            b"linkpath" => pax.linkpath = opt(value),
            b"size" => pax.size = num("size")?,
            b"uid" | b"gid" => {
                let id = match num("uid/gid")? {
                    Some(v) => Some(
                        u32::try_from(v)
                            .map_err(|_| bad(format!("PAX uid/gid {v} is out of range")))?,
                    ),
                    None => None,
                };
                if key == b"uid" {
                    pax.uid = id;
                } else {
                    pax.gid = id;
                }
            }
            b"mtime" => pax.mtime = parse_time(value),
            b"atime" => pax.atime = parse_time(value),
            _ if key.starts_with(b"GNU.sparse.") => {
                return Err(bad("PAX sparse files (GNU.sparse.*) are not supported"));
            }
            _ => {
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    pax.xattrs.retain(|(n, _)| n.as_slice() != name);
                    pax.xattrs.push((name.to_vec(), value.to_vec()));
                }
            }
        }
    }
    Ok(pax)
}

/// Parses a PAX time (`[-]seconds[.fraction]`); `None` if malformed or empty.
fn parse_time(v: &[u8]) -> Option<Time> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = int.parse().ok()?;
    let mut nsec: u32 = 0;
    for (i, d) in frac.bytes().take(9).enumerate() {
        nsec += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(if !neg {
        Time { sec, nsec }
    } else if nsec == 0 {
        Time { sec: -sec, nsec: 0 }
    } else {
        Time {
            sec: -sec - 1,
            nsec: 1_000_000_000 - nsec,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_with_newlines_in_values() {
        let value = b"\x01\x00\x00\x02\x02\x00\x0a\x00\n22 linkpath=/etc/evil\n";
        let mut rec = Vec::new();
        let key = b"SCHILY.xattr.security.capability=";
        let base = 1 + key.len() + value.len() + 1;
        let len = base + base.to_string().len();
        rec.extend_from_slice(format!("{len} ").as_bytes());
        rec.extend_from_slice(key);
        rec.extend_from_slice(value);
        rec.push(b'\n');
        assert_eq!(rec.len(), len);
        let pax = parse_pax(&rec).expect("parse");
        assert_eq!(pax.linkpath, None);
        assert_eq!(
            pax.xattrs,
            vec![(b"security.capability".to_vec(), value.to_vec())]
        );
    }

    #[test]
    fn pax_malformed() {
        assert!(parse_pax(b"5 a=b\n").is_err());
        assert!(parse_pax(b"x a=b\n").is_err());
        assert!(parse_pax(b"7 ab\n").is_err());
        assert!(parse_pax(b"30 path=a\n").is_err());
    }

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_time(b"12.5"),
            Some(Time {
                sec: 12,
                nsec: 500_000_000
            })
        );
        assert_eq!(parse_time(b"12"), Some(Time { sec: 12, nsec: 0 }));
        assert_eq!(
            parse_time(b"1.123456789123"),
            Some(Time {
                sec: 1,
                nsec: 123_456_789
            })
        );
        assert_eq!(
            parse_time(b"-1.5"),
            Some(Time {
                sec: -2,
                nsec: 500_000_000
            })
        );
        assert_eq!(parse_time(b"abc"), None);
        assert_eq!(parse_time(b""), None);
    }
}
