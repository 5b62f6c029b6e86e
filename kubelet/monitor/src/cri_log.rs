//! CRI log format writer: `<RFC3339Nano> <stream> <P|F> <content>\n`, one entry per
//! line, long lines split into partial (`P`) entries like containerd does.

use std::io::Write;

/// Longest content per entry before a line is split (containerd's default buffer).
pub const MAX_ENTRY: usize = 16 * 1024;

/// Buffers one stream's bytes and emits complete CRI entries.
pub struct CriStream {
    name: &'static str,
    pending: Vec<u8>,
}

impl CriStream {
    pub fn new(name: &'static str) -> Self {
        CriStream { name, pending: Vec::new() }
    }

    /// Feed bytes read from the container; writes every finished entry to `out`.
    pub fn feed(&mut self, data: &[u8], ts: &str, out: &mut impl Write) -> std::io::Result<()> {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) if i <= MAX_ENTRY => {
                    write_entry(out, ts, self.name, 'F', &rest[..i])?;
                    start += i + 1;
                }
                _ if rest.len() > MAX_ENTRY => {
                    write_entry(out, ts, self.name, 'P', &rest[..MAX_ENTRY])?;
                    start += MAX_ENTRY;
                }
                _ => break,
            }
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// At end of stream, emit what is left (a last line without newline).
    pub fn finish(&mut self, ts: &str, out: &mut impl Write) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            write_entry(out, ts, self.name, 'F', &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }
}

fn write_entry(out: &mut impl Write, ts: &str, stream: &str, tag: char, content: &[u8]) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(ts.len() + stream.len() + content.len() + 5);
    line.extend_from_slice(ts.as_bytes());
    line.push(b' ');
    line.extend_from_slice(stream.as_bytes());
    line.push(b' ');
    line.push(tag as u8);
    line.push(b' ');
    line.extend_from_slice(content);
    line.push(b'\n');
    // One write per entry, so concurrent readers never see a torn line.
    out.write_all(&line)
}

/// Parse one CRI log line into (timestamp, stream, partial, content).
pub fn parse_line(line: &str) -> Option<(&str, &str, bool, &str)> {
    let mut it = line.splitn(4, ' ');
    let ts = it.next()?;
    let stream = it.next()?;
    let tag = it.next()?;
    let content = it.next().unwrap_or("");
    Some((ts, stream, tag == "P", content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_partial_tail() {
        let mut s = CriStream::new("stdout");
        let mut out = Vec::new();
        s.feed(b"hello\nwor", "T", &mut out).unwrap();
        assert_eq!(out, b"T stdout F hello\n");
        s.feed(b"ld\n", "T", &mut out).unwrap();
        assert_eq!(out, b"T stdout F hello\nT stdout F world\n");
        s.feed(b"tail", "T", &mut out).unwrap();
        s.finish("T", &mut out).unwrap();
        assert!(out.ends_with(b"T stdout F tail\n"));
    }

    #[test]
    fn long_lines_become_partial_entries() {
        let mut s = CriStream::new("stderr");
        let mut out = Vec::new();
        let mut data = vec![b'x'; MAX_ENTRY + 10];
        data.push(b'\n');
        s.feed(&data, "T", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("T stderr P xxx"));
        assert_eq!(lines[1], format!("T stderr F {}", "x".repeat(10)));
        assert_eq!(parse_line(lines[1]).unwrap(), ("T", "stderr", false, "xxxxxxxxxx"));
    }
}
