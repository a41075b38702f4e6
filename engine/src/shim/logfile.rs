//! The container log in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`. Lines are
//! split at newlines, and at 16 KiB like Docker's, so one huge line never needs huge memory.

use std::fs::File;
use std::io::Write;
use std::path::Path;

const MAX_LINE: usize = 16 * 1024;

pub struct LogWriter {
    file: Option<File>,
    partial: [Vec<u8>; 2],
}

#[derive(serde::Serialize)]
struct Line<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

impl LogWriter {
    pub fn open(path: &Path) -> LogWriter {
        let file = File::options().create(true).append(true).open(path).ok();
        LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
        }
    }

    /// A writer that drops everything.
    pub fn disabled() -> LogWriter {
        LogWriter {
            file: None,
            partial: [Vec::new(), Vec::new()],
        }
    }

    fn idx(stream: &str) -> usize {
        usize::from(stream == "stderr")
    }

    pub fn write(&mut self, stream: &str, mut data: &[u8]) {
        let i = Self::idx(stream);
        while !data.is_empty() {
            let room = MAX_LINE - self.partial[i].len();
            let (take, line_done) = match data.iter().position(|&b| b == b'\n') {
                Some(p) if p < room => (p + 1, true),
                _ if data.len() >= room => (room, true),
                _ => (data.len(), false),
            };
            self.partial[i].extend_from_slice(&data[..take]);
            data = &data[take..];
            if line_done {
                self.emit(stream);
            }
        }
    }

    pub fn flush_partial(&mut self, stream: &str) {
        if !self.partial[Self::idx(stream)].is_empty() {
            self.emit(stream);
        }
    }

    fn emit(&mut self, stream: &str) {
        let i = Self::idx(stream);
        let bytes = std::mem::take(&mut self.partial[i]);
        let text = String::from_utf8_lossy(&bytes);
        let line = Line {
            log: &text,
            stream,
            time: crate::now_rfc3339(),
        };
        if let (Some(f), Ok(mut json)) = (&mut self.file, serde_json::to_vec(&line)) {
            json.push(b'\n');
            let _ = f.write_all(&json);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_long_output() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&p);
        w.write("stdout", b"hello\nwor");
        w.write("stderr", b"oops\n");
        w.write("stdout", b"ld\n");
        w.write("stdout", &vec![b'x'; MAX_LINE + 10]);
        w.flush_partial("stdout");
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["log"], "hello\n");
        assert_eq!(lines[1]["stream"], "stderr");
        assert_eq!(lines[2]["log"], "world\n");
        assert_eq!(lines[3]["log"].as_str().unwrap().len(), MAX_LINE);
        assert_eq!(lines[4]["log"].as_str().unwrap().len(), 10);
    }
}
