//! Pod addresses from the node's podCIDR (upstream's host-local IPAM plugin):
//! one file per address under `<root-dir>/network/ipam/`, created with
//! O_EXCL and holding the owning pod's record, so an address is never
//! handed out twice, survives kubelet restarts, and a crashed kubelet's
//! leftovers can be found and released.

use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use api::cidr::Ipv4Cidr;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// What is recorded for an address: the pod that holds it and what the
/// node programmed for it (so teardown after a crash knows what to remove).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Record {
    pub uid: String,
    /// `<namespace>/<name>`, for logs.
    #[serde(default)]
    pub pod: String,
    #[serde(default, rename = "hostPorts")]
    pub host_ports: Vec<super::hostport::HostPort>,
}

#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    #[error("no IP addresses available in range set: {0}")]
    Exhausted(Ipv4Cidr),
    #[error("ipam record {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

pub struct Ipam {
    dir: PathBuf,
    cidr: Ipv4Cidr,
    /// ip -> record, mirrors the files; the lock also serialises allocation.
    state: Mutex<State>,
}

struct State {
    by_ip: HashMap<Ipv4Addr, Record>,
    /// Where the next search starts (host-local's last_reserved_ip): a freed
    /// address is not reused at once.
    next: u64,
}

impl Ipam {
    /// Opens (creating) the record directory and loads what it holds.
    pub fn open(dir: &Path, cidr: Ipv4Cidr) -> Result<Ipam, IpamError> {
        std::fs::create_dir_all(dir).map_err(|e| IpamError::Io(dir.to_path_buf(), e))?;
        let mut by_ip = HashMap::new();
        for e in std::fs::read_dir(dir).map_err(|e| IpamError::Io(dir.to_path_buf(), e))?.flatten() {
            let Some(ip) = e.file_name().to_str().and_then(|n| n.parse::<Ipv4Addr>().ok()) else { continue };
            if let Ok(r) = std::fs::read(e.path()).map(|b| serde_json::from_slice::<Record>(&b).unwrap_or_default()) {
                by_ip.insert(ip, r);
            }
        }
        let next = by_ip.keys().filter_map(|ip| cidr.index_of(*ip)).max().map(|i| i + 1).unwrap_or(2);
        Ok(Ipam { dir: dir.to_path_buf(), cidr, state: Mutex::new(State { by_ip, next }) })
    }

    pub fn cidr(&self) -> Ipv4Cidr {
        self.cidr
    }

    /// The bridge's address: the first of the range (as the CNI bridge plugin's gateway).
    pub fn gateway(&self) -> Ipv4Addr {
        self.cidr.nth(1).expect("a node CIDR has at least 4 addresses")
    }

    pub fn get(&self, uid: &str) -> Option<Ipv4Addr> {
        self.state.lock().by_ip.iter().find(|(_, r)| r.uid == uid).map(|(ip, _)| *ip)
    }

    pub fn record(&self, uid: &str) -> Option<(Ipv4Addr, Record)> {
        self.state.lock().by_ip.iter().find(|(_, r)| r.uid == uid).map(|(ip, r)| (*ip, r.clone()))
    }

    /// Every address held, with its record.
    pub fn all(&self) -> Vec<(Ipv4Addr, Record)> {
        self.state.lock().by_ip.iter().map(|(ip, r)| (*ip, r.clone())).collect()
    }

    fn path(&self, ip: Ipv4Addr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    /// The pod's address: the one it holds, else a free one, recorded.
    pub fn allocate(&self, rec: &Record) -> Result<Ipv4Addr, IpamError> {
        let mut st = self.state.lock();
        if let Some((ip, _)) = st.by_ip.iter().find(|(_, r)| r.uid == rec.uid) {
            return Ok(*ip);
        }
        // Usable: .2 .. broadcast-1 (network, gateway and broadcast excluded).
        let (first, last) = (2u64, self.cidr.size() - 2);
        let span = last - first + 1;
        let start = if (first..=last).contains(&st.next) { st.next } else { first };
        for i in 0..span {
            let idx = first + (start - first + i) % span;
            let ip = self.cidr.nth(idx).expect("index inside the range");
            if st.by_ip.contains_key(&ip) {
                continue;
            }
            let path = self.path(ip);
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(&serde_json::to_vec(rec).expect("record serialises")).map_err(|e| IpamError::Io(path.clone(), e))?;
                    f.sync_all().map_err(|e| IpamError::Io(path.clone(), e))?;
                    st.by_ip.insert(ip, rec.clone());
                    st.next = idx + 1;
                    return Ok(ip);
                }
                // A file we did not know of (another writer): not ours to take.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(IpamError::Io(path, e)),
            }
        }
        Err(IpamError::Exhausted(self.cidr))
    }

    /// Rewrite the record of an address the pod holds (e.g. its host ports).
    pub fn update(&self, rec: &Record) -> Result<(), IpamError> {
        let mut st = self.state.lock();
        let Some(ip) = st.by_ip.iter().find(|(_, r)| r.uid == rec.uid).map(|(ip, _)| *ip) else { return Ok(()) };
        if st.by_ip.get(&ip) == Some(rec) {
            return Ok(());
        }
        let path = self.path(ip);
        let tmp = self.dir.join(format!(".{ip}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(rec).expect("record serialises")).map_err(|e| IpamError::Io(tmp.clone(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| IpamError::Io(path, e))?;
        st.by_ip.insert(ip, rec.clone());
        Ok(())
    }

    /// Free the pod's address (no-op if it holds none).
    pub fn release(&self, uid: &str) -> Option<Ipv4Addr> {
        let mut st = self.state.lock();
        let ip = st.by_ip.iter().find(|(_, r)| r.uid == uid).map(|(ip, _)| *ip)?;
        let _ = std::fs::remove_file(self.path(ip));
        st.by_ip.remove(&ip);
        Some(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(uid: &str) -> Record {
        Record { uid: uid.into(), ..Default::default() }
    }

    #[test]
    fn addresses_are_unique_durable_and_not_reused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let cidr: Ipv4Cidr = "10.244.1.0/29".parse().unwrap();
        let ipam = Ipam::open(dir.path(), cidr).unwrap();
        assert_eq!(ipam.gateway().to_string(), "10.244.1.1");
        let a = ipam.allocate(&rec("a")).unwrap();
        let b = ipam.allocate(&rec("b")).unwrap();
        assert_eq!((a.to_string().as_str(), b.to_string().as_str()), ("10.244.1.2", "10.244.1.3"));
        assert_eq!(ipam.allocate(&rec("a")).unwrap(), a, "same pod, same address");
        // A restarted kubelet sees the same allocations.
        drop(ipam);
        let ipam = Ipam::open(dir.path(), cidr).unwrap();
        assert_eq!(ipam.get("b"), Some(b));
        assert_eq!(ipam.release("a"), Some(a));
        let c = ipam.allocate(&rec("c")).unwrap();
        assert_eq!(c.to_string(), "10.244.1.4", "a freed address waits its turn");
        for u in ["d", "e"] {
            ipam.allocate(&rec(u)).unwrap();
        }
        // .2 (freed) is the only one left of .2-.6.
        assert_eq!(ipam.allocate(&rec("f")).unwrap(), a);
        assert!(matches!(ipam.allocate(&rec("g")), Err(IpamError::Exhausted(_))));
    }
}
