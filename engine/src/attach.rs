//! The attach protocol between a container's monitor and its clients (`run -it`, `attach`,
//! the TUI): a unix socket (mode 0600) per container, frames of `[kind u8][len u32 BE][data]`.
//! Monitor to client: output and, at the end, the exit code. Client to monitor: input, window
//! size, end of input. Several clients may attach at once; all get the output.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Payload: the exit code, i32 big-endian. The last frame a client gets.
pub const EXIT: u8 = 3;
pub const STDIN: u8 = 10;
/// Payload: rows u16 BE, cols u16 BE.
pub const RESIZE: u8 = 11;
/// The client's input ended (closes the container's stdin when it is a pipe).
pub const CLOSE_STDIN: u8 = 12;

const MAX_FRAME: usize = 1 << 20;

/// `<runroot>/sock/<first 16 of the id>.<kind>`: short, since unix socket paths are capped
/// at 107 bytes.
pub fn socket_path(runroot: &Path, id: &str, kind: &str) -> PathBuf {
    runroot
        .join("sock")
        .join(format!("{}.{kind}", &id[..16.min(id.len())]))
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(kind);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)
}

pub fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let r = rows.to_be_bytes();
    let c = cols.to_be_bytes();
    [r[0], r[1], c[0], c[1]]
}

/// Reassembles frames from a byte stream.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame; `Err` for a frame larger than 1 MiB (a broken peer).
    pub fn next_frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "attach frame too large",
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }
}

/// Parses Docker's `--detach-keys` (`ctrl-p,ctrl-q`, `ctrl-a,x`) into the byte sequence.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let k = key.trim();
        let byte = if let Some(c) = k.strip_prefix("ctrl-") {
            match c {
                "@" => 0,
                "[" => 27,
                "\\" => 28,
                "]" => 29,
                "^" => 30,
                "_" => 31,
                c if c.len() == 1 && c.as_bytes()[0].is_ascii_lowercase() => {
                    c.as_bytes()[0] - b'a' + 1
                }
                _ => return Err(format!("invalid detach keys {spec:?}: unknown key {k:?}")),
            }
        } else if k.len() == 1 && k.is_ascii() {
            k.as_bytes()[0]
        } else {
            return Err(format!("invalid detach keys {spec:?}: unknown key {k:?}"));
        };
        out.push(byte);
    }
    if out.is_empty() {
        return Err(format!("invalid detach keys {spec:?}"));
    }
    Ok(out)
}

/// The client-side detach state machine: feed input bytes, get what to forward and whether
/// the sequence completed. A partial match is held back until it completes or fails.
pub struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

pub enum Detach {
    Forward(Vec<u8>),
    Detached,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> Self {
        DetachMatcher { keys, held: 0 }
    }

    /// True while a partial sequence is held back.
    pub fn holding(&self) -> bool {
        self.held > 0
    }

    /// Releases a held partial sequence (the caller's short timeout expired).
    pub fn flush(&mut self) -> Vec<u8> {
        let out = self.keys[..self.held].to_vec();
        self.held = 0;
        out
    }

    pub fn feed(&mut self, input: &[u8]) -> Detach {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    return Detach::Detached;
                }
            } else {
                out.extend_from_slice(&self.keys[..self.held]);
                self.held = 0;
                if b == self.keys[0] {
                    self.held = 1;
                } else {
                    out.push(b);
                }
            }
        }
        Detach::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_roundtrip_in_pieces() {
        let mut wire = Vec::new();
        write_frame(&mut wire, STDOUT, b"hello").unwrap();
        write_frame(&mut wire, EXIT, &3i32.to_be_bytes()).unwrap();
        let mut r = FrameReader::default();
        for chunk in wire.chunks(3) {
            r.push(chunk);
        }
        assert_eq!(r.next_frame().unwrap(), Some((STDOUT, b"hello".to_vec())));
        assert_eq!(r.next_frame().unwrap(), Some((EXIT, vec![0, 0, 0, 3])));
        assert_eq!(r.next_frame().unwrap(), None);
    }

    #[test]
    fn detach_keys_parse_and_match() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            vec![0x10, 0x11]
        );
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert!(parse_detach_keys("ctrl-foo").is_err());
        let mut m = DetachMatcher::new(vec![0x10, 0x11]);
        assert!(matches!(m.feed(b"ab\x10c"), Detach::Forward(v) if v == b"ab\x10c"));
        assert!(matches!(m.feed(b"x\x10"), Detach::Forward(v) if v == b"x"));
        assert!(m.holding());
        assert!(matches!(m.feed(b"\x11"), Detach::Detached));
        let mut m = DetachMatcher::new(vec![0x10, 0x11]);
        let _ = m.feed(b"\x10");
        assert_eq!(m.flush(), vec![0x10]);
    }
}
