//! Eviction signals measured on this node and upstream's hard thresholds
//! (`--eviction-hard`, default memory.available<100Mi, nodefs.available<10%,
//! nodefs.inodesFree<5%, imagefs.available<15%, imagefs.inodesFree<5%), which
//! decide the node's MemoryPressure, DiskPressure and PIDPressure conditions.
//! Nothing is evicted yet: the conditions tell the truth, the scheduler acts on them.

use api::Quantity;
use std::collections::BTreeMap;
use std::path::Path;

pub const DEFAULT_HARD: &[&str] =
    &["memory.available<100Mi", "nodefs.available<10%", "nodefs.inodesFree<5%", "imagefs.available<15%", "imagefs.inodesFree<5%"];

/// A threshold: an absolute quantity or a percentage of the signal's capacity.
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    Quantity(i64),
    Percent(f64),
}

/// `signal<value` pairs.
pub fn parse_thresholds(items: &[String]) -> Result<BTreeMap<String, Threshold>, String> {
    let mut out = BTreeMap::new();
    for it in items.iter().filter(|s| !s.trim().is_empty()) {
        let (signal, v) = it.split_once('<').ok_or_else(|| format!("invalid eviction threshold {it:?}: want signal<value"))?;
        let t = match v.trim().strip_suffix('%') {
            Some(p) => Threshold::Percent(p.parse::<f64>().map_err(|_| format!("invalid percentage in {it:?}"))?),
            None => Threshold::Quantity(Quantity::parse(v.trim()).ok().map(|q| q.value()).ok_or_else(|| format!("invalid quantity in {it:?}"))?),
        };
        out.insert(signal.trim().to_string(), t);
    }
    Ok(out)
}

/// One measured signal: what is available out of what capacity.
#[derive(Debug, Clone, Copy)]
pub struct Signal {
    pub available: i64,
    pub capacity: i64,
}

/// Every signal measured now (absent: not measurable here).
pub fn measure(root_dir: &Path, image_dir: &Path) -> BTreeMap<&'static str, Signal> {
    let mut m = BTreeMap::new();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| meminfo.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
    if let (Some(avail), Some(total)) = (kb("MemAvailable:"), kb("MemTotal:")) {
        m.insert("memory.available", Signal { available: avail * 1024, capacity: total * 1024 });
    }
    for (prefix, dir) in [("nodefs", root_dir), ("imagefs", image_dir)] {
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let Ok(p) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else { continue };
        if unsafe { libc::statvfs(p.as_ptr(), &mut st) } != 0 {
            continue;
        }
        let bytes = |n: u64| (n as i64).saturating_mul(st.f_frsize as i64);
        let (avail, total) = (bytes(st.f_bavail), bytes(st.f_blocks));
        m.insert(if prefix == "nodefs" { "nodefs.available" } else { "imagefs.available" }, Signal { available: avail, capacity: total });
        if st.f_files > 0 {
            let s = Signal { available: st.f_favail as i64, capacity: st.f_files as i64 };
            m.insert(if prefix == "nodefs" { "nodefs.inodesFree" } else { "imagefs.inodesFree" }, s);
        }
    }
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse::<i64>().ok());
    let procs = std::fs::read_dir("/proc").map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())).count() as i64);
    if let (Some(max), Ok(n)) = (pid_max, procs) {
        m.insert("pid.available", Signal { available: max - n, capacity: max });
    }
    m
}

fn breached(s: &Signal, t: &Threshold) -> bool {
    let limit = match t {
        Threshold::Quantity(q) => *q,
        Threshold::Percent(p) => (s.capacity as f64 * p / 100.0) as i64,
    };
    s.available < limit
}

/// Pressure per condition: Some(breached) where its signals were measured
/// (a signal without a threshold is never breached), None where none was.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pressure {
    pub memory: Option<bool>,
    pub disk: Option<bool>,
    pub pid: Option<bool>,
}

pub fn pressure(signals: &BTreeMap<&'static str, Signal>, thresholds: &BTreeMap<String, Threshold>) -> Pressure {
    let check = |names: &[&str]| -> Option<bool> {
        let mut seen = None;
        for n in names {
            if let Some(s) = signals.get(n) {
                seen = Some(seen.unwrap_or(false) || thresholds.get(*n).is_some_and(|t| breached(s, t)));
            }
        }
        seen
    };
    Pressure {
        memory: check(&["memory.available"]),
        disk: check(&["nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree"]),
        pid: check(&["pid.available"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_against_signals() {
        let t = parse_thresholds(&DEFAULT_HARD.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        assert_eq!(t["memory.available"], Threshold::Quantity(100 << 20));
        assert_eq!(t["imagefs.available"], Threshold::Percent(15.0));
        let mut s = BTreeMap::new();
        s.insert("memory.available", Signal { available: 99 << 20, capacity: 1 << 30 });
        s.insert("nodefs.available", Signal { available: 20, capacity: 100 });
        s.insert("imagefs.available", Signal { available: 14, capacity: 100 });
        s.insert("pid.available", Signal { available: 10, capacity: 100 });
        let p = pressure(&s, &t);
        assert_eq!(p, Pressure { memory: Some(true), disk: Some(true), pid: Some(false) }, "no pid threshold by default");
        s.insert("imagefs.available", Signal { available: 16, capacity: 100 });
        s.insert("memory.available", Signal { available: 101 << 20, capacity: 1 << 30 });
        assert_eq!(pressure(&s, &t), Pressure { memory: Some(false), disk: Some(false), pid: Some(false) });
        assert_eq!(pressure(&BTreeMap::new(), &t), Pressure::default(), "nothing measured: no condition");
        let t = parse_thresholds(&["pid.available<20%".to_string()]).unwrap();
        assert_eq!(pressure(&s, &t).pid, Some(true));
        assert!(parse_thresholds(&["memory.available=1".to_string()]).is_err());
    }

    #[test]
    fn this_machine_is_measured() {
        let s = measure(Path::new("/"), Path::new("/"));
        for k in ["memory.available", "nodefs.available", "imagefs.available", "pid.available"] {
            let v = s.get(k).unwrap_or_else(|| panic!("{k} not measured"));
            assert!(v.available > 0 && v.available <= v.capacity, "{k}: {v:?}");
        }
    }
}
