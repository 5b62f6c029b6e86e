//! pods/log: container logs read from the CRI log files the monitor writes, with
//! upstream's options (tail, since, timestamps, limitBytes, previous, follow).
//! A reader thread per call sends chunks through a bounded channel: a slow
//! client stops the reader.

use super::{bad_request, find_pod, BoxStream, LocalPod, CHANNEL_FRAMES, FRAME_BYTES};
use crate::context::Kubelet;
use crate::runtime::manager::shim_alive;
use crate::runtime::shim_state::{ShimState, ShimStatus};
use chrono::{DateTime, Utc};
use client::proto::v1::{LogChunk, LogRequest};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::Status;

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// One CRI log entry.
pub struct Entry<'a> {
    pub ts: &'a [u8],
    pub stream: &'a [u8],
    /// False for a partial (`P`) entry: the line goes on in the next one.
    pub full: bool,
    pub content: &'a [u8],
}

/// `<ts> <stream> <P|F> <content>\n`
pub fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut it = line.splitn(4, |b| *b == b' ');
    let ts = it.next()?;
    let stream = it.next()?;
    let tag = it.next()?;
    Some(Entry { ts, stream, full: tag != b"P", content: it.next().unwrap_or(b"") })
}

/// Where reading starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The last n lines (0 = none, only what comes later).
    Tail(u64),
    /// Everything.
    Beginning,
}

/// Byte offset where the last `n` full lines start.
fn tail_offset(path: &Path, n: u64) -> std::io::Result<u64> {
    let mut r = BufReader::new(std::fs::File::open(path)?);
    let mut starts: VecDeque<u64> = VecDeque::with_capacity(n.min(100_000) as usize + 1);
    let (mut pos, mut line_start) = (0u64, true);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let got = r.read_until(b'\n', &mut buf)?;
        if got == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        if line_start {
            starts.push_back(pos);
            if starts.len() as u64 > n {
                starts.pop_front();
            }
        }
        line_start = parse(&buf).map(|e| e.full).unwrap_or(true);
        pos += got as u64;
    }
    Ok(if n == 0 { pos } else { starts.front().copied().unwrap_or(pos) })
}

/// Reads the entries of `path` from `start`, calling `emit` for each; with
/// `follow`, waits for more until `alive` says the writer is gone (then reads
/// what is left). `emit` gets None each time reading caught up with the writer
/// (time to flush). Stops early when `emit` returns false.
pub fn read_entries(path: &Path, start: Start, follow: bool, alive: impl Fn() -> bool, mut emit: impl FnMut(Option<Entry>) -> bool) -> std::io::Result<()> {
    let offset = match start {
        Start::Beginning => 0,
        Start::Tail(n) => tail_offset(path, n)?,
    };
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut r = BufReader::with_capacity(64 * 1024, f);
    let mut line = Vec::new();
    let mut last_look = false;
    loop {
        let got = r.read_until(b'\n', &mut line)?;
        if got > 0 && line.last() == Some(&b'\n') {
            if let Some(e) = parse(&line) {
                if !emit(Some(e)) {
                    return Ok(());
                }
            }
            line.clear();
            continue;
        }
        // End of what is written so far (`line` may hold a torn entry: keep it).
        if !emit(None) {
            return Ok(());
        }
        if !follow || last_look {
            return Ok(());
        }
        if !alive() {
            // One more pass picks up what was written before the writer ended.
            last_look = true;
            continue;
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

/// Is the container attempt whose state file is `state` still writing its log?
pub fn attempt_alive(state: &Path) -> bool {
    ShimState::load(state).map(|s| s.status == ShimStatus::Running && shim_alive(&s)).unwrap_or(false)
}

struct Opts {
    start: Start,
    since: Option<DateTime<Utc>>,
    timestamps: bool,
    limit: Option<u64>,
    follow: bool,
}

fn options(r: &LogRequest) -> Result<Opts, Status> {
    let since = match (r.since_seconds, r.since_time.as_str()) {
        (Some(s), _) if s <= 0 => return Err(bad_request("sinceSeconds: Invalid value: must be greater than 0")),
        (Some(s), _) => Some(Utc::now() - chrono::Duration::seconds(s)),
        (None, "") => None,
        (None, t) => Some(DateTime::parse_from_rfc3339(t).map_err(|e| bad_request(format!("sinceTime: Invalid value: {t:?}: {e}")))?.with_timezone(&Utc)),
    };
    let start = match r.tail_lines {
        Some(n) if n < 0 => return Err(bad_request("tailLines: Invalid value: must be greater than or equal to 0")),
        Some(n) => Start::Tail(n as u64),
        None => Start::Beginning,
    };
    let limit = match r.limit_bytes {
        Some(n) if n < 1 => return Err(bad_request("limitBytes: Invalid value: must be greater than 0")),
        Some(n) => Some(n as u64),
        None => None,
    };
    Ok(Opts { start, since, timestamps: r.timestamps, limit, follow: r.follow })
}

/// The log file and state file of the attempt `previous` names.
fn attempt_files(kl: &Kubelet, p: &LocalPod, container: &str, previous: bool) -> Result<(PathBuf, PathBuf), Status> {
    let attempts = kl.runtime.attempts(&p.uid, container);
    let chosen = if previous {
        let cur = attempts.last();
        let prev = cur.and_then(|c| attempts.iter().rev().find(|a| a.n < c.n));
        prev.ok_or_else(|| bad_request(format!("previous terminated container {container:?} in pod {:?} not found", p.name())))?
    } else {
        attempts.last().ok_or_else(|| bad_request(format!("container {container:?} in pod {:?} is waiting to start: ContainerCreating", p.name())))?
    };
    Ok((p.log_path(kl, container, chosen.n), chosen.dir.join("state.json")))
}

pub fn logs(kl: Arc<Kubelet>, req: LogRequest) -> Result<BoxStream<LogChunk>, Status> {
    let pod = find_pod(&kl, req.target.as_ref())?;
    let container = pod.container(req.target.as_ref().map(|t| t.container.as_str()).unwrap_or(""))?;
    let opts = options(&req)?;
    let (log, state) = attempt_files(&kl, &pod, &container, req.previous)?;
    if !log.exists() {
        return Err(bad_request(format!("container {container:?} in pod {:?} has no log yet", pod.name())));
    }
    let (tx, rx) = mpsc::channel::<Result<LogChunk, Status>>(CHANNEL_FRAMES);
    // A thread of its own: file reads and follow polling block.
    std::thread::Builder::new()
        .name("pod-logs".into())
        .spawn(move || {
            let follow = opts.follow && !req.previous;
            let mut buf = Vec::with_capacity(FRAME_BYTES);
            let mut left = opts.limit.unwrap_or(u64::MAX);
            let mut skipping = opts.since.is_some();
            let mut line_start = true;
            let flush = |buf: &mut Vec<u8>| tx.blocking_send(Ok(LogChunk { data: std::mem::take(buf) })).is_ok();
            let res = read_entries(&log, opts.start, follow, || attempt_alive(&state), |e| {
                let Some(e) = e else {
                    return buf.is_empty() || flush(&mut buf);
                };
                if skipping {
                    let ts = std::str::from_utf8(e.ts).ok().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    match (ts, opts.since) {
                        (Some(ts), Some(since)) if ts < since => return true,
                        _ => skipping = false,
                    }
                }
                let before = buf.len();
                if opts.timestamps && line_start {
                    buf.extend_from_slice(e.ts);
                    buf.push(b' ');
                }
                buf.extend_from_slice(e.content);
                if e.full {
                    buf.push(b'\n');
                }
                line_start = e.full;
                let added = (buf.len() - before) as u64;
                if added >= left {
                    buf.truncate(before + left as usize);
                    let _ = flush(&mut buf);
                    return false;
                }
                left -= added;
                if buf.len() >= FRAME_BYTES {
                    return flush(&mut buf);
                }
                true
            });
            if !buf.is_empty() {
                let _ = flush(&mut buf);
            }
            if let Err(e) = res {
                let _ = tx.blocking_send(Err(Status::internal(format!("reading {}: {e}", log.display()))));
            }
        })
        .map_err(|e| Status::internal(format!("starting a log reader: {e}")))?;
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(path: &Path, start: Start) -> Vec<String> {
        let mut out = Vec::new();
        read_entries(path, start, false, || false, |e| {
            if let Some(e) = e {
                out.push(format!("{} {}", String::from_utf8_lossy(e.stream), String::from_utf8_lossy(e.content)));
            }
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn tail_counts_whole_lines_across_partial_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        let ts = "2026-01-01T00:00:00.000000000Z";
        std::fs::write(&p, format!("{ts} stdout F one\n{ts} stdout P tw\n{ts} stdout F o\n{ts} stderr F three\n{ts} stdout F four")).unwrap();
        // The torn last entry (no newline yet) is not read.
        assert_eq!(collect(&p, Start::Beginning), ["stdout one", "stdout tw", "stdout o", "stderr three"]);
        assert_eq!(collect(&p, Start::Tail(2)), ["stdout tw", "stdout o", "stderr three"]);
        assert_eq!(collect(&p, Start::Tail(1)), ["stderr three"]);
        assert!(collect(&p, Start::Tail(0)).is_empty());
        assert_eq!(collect(&p, Start::Tail(10)).len(), 4);
    }

    #[test]
    fn options_are_checked_as_upstream() {
        let bad = |r: LogRequest| options(&r).err().map(|s| s.message().to_string()).unwrap_or_default();
        assert_eq!(bad(LogRequest { tail_lines: Some(-1), ..Default::default() }), "tailLines: Invalid value: must be greater than or equal to 0");
        assert_eq!(bad(LogRequest { limit_bytes: Some(0), ..Default::default() }), "limitBytes: Invalid value: must be greater than 0");
        assert!(bad(LogRequest { since_time: "yesterday".into(), ..Default::default() }).starts_with("sinceTime: Invalid value"));
    }
}
