//! The cluster zone as answered: every Service's names (see [`records`])
//! with their wire records built once, reverse entries, and the empty
//! non-terminals between them and the zone apex (answered NOERROR without
//! records, not NXDOMAIN). Updated per Service as informers report changes;
//! read by every query under a read lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parking_lot::RwLock;

use crate::records::{NameData, ServiceRecords};

/// The TTL of cluster answers (CoreDNS' kubernetes plugin default).
pub const TTL: u32 = 5;

/// A query's outcome inside the zone.
#[derive(Debug)]
pub enum Answer {
    Records { answers: Vec<Record>, additionals: Vec<Record> },
    /// The name exists, without records of that type.
    NoData,
    NxDomain,
    /// Not a name this zone answers for (forward it).
    NotOurs,
}

#[derive(Default)]
struct Entry {
    a: Vec<Record>,
    aaaa: Vec<Record>,
    cname: Option<Record>,
    srv: Vec<Record>,
    /// The A/AAAA records of SRV targets.
    srv_additional: Vec<Record>,
}

#[derive(Default)]
struct Tables {
    names: HashMap<String, Entry>,
    /// Empty non-terminals with how many names lie below them.
    ents: HashMap<String, usize>,
    ptr: HashMap<IpAddr, (String, Record)>,
    /// Service key -> what it put in.
    services: HashMap<String, ServiceRecords>,
}

pub struct Zone {
    domain: String,
    soa: Record,
    tables: RwLock<Tables>,
}

impl Zone {
    /// An empty zone for `domain` (e.g. "cluster.local").
    pub fn new(domain: &str) -> Self {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let apex = fqdn(&domain);
        let soa = SOA::new(fqdn(&format!("ns.dns.{domain}")), fqdn(&format!("hostmaster.{domain}")), 1, 7200, 1800, 86400, TTL);
        let soa = Record::from_rdata(apex, TTL, RData::SOA(soa));
        Zone { domain, soa, tables: Default::default() }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The SOA record negative answers carry.
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// Number of Services with names in the zone.
    pub fn services(&self) -> usize {
        self.tables.read().services.len()
    }

    /// Replaces what Service `key` answers (None: it is gone).
    pub fn set_service(&self, key: &str, records: Option<ServiceRecords>) {
        let mut t = self.tables.write();
        if let Some(old) = t.services.remove(key) {
            if records.as_ref() == Some(&old) {
                t.services.insert(key.to_string(), old);
                return;
            }
            for name in old.names.keys() {
                t.names.remove(name);
                self.walk_parents(name, |p| dec(&mut t.ents, p));
            }
            for (ip, name) in &old.ptrs {
                if t.ptr.get(ip).is_some_and(|(n, _)| n == name) {
                    t.ptr.remove(ip);
                }
            }
        }
        let Some(new) = records else { return };
        for (name, data) in &new.names {
            t.names.insert(name.clone(), entry(name, data, &new.names));
            self.walk_parents(name, |p| *t.ents.entry(p.to_string()).or_default() += 1);
        }
        for (ip, name) in &new.ptrs {
            let rec = Record::from_rdata(reverse_name(ip), TTL, RData::PTR(PTR(fqdn(name))));
            t.ptr.insert(*ip, (name.clone(), rec));
        }
        t.services.insert(key.to_string(), new);
    }

    /// Calls `f` with each proper ancestor of `name` below the zone apex.
    fn walk_parents(&self, name: &str, mut f: impl FnMut(&str)) {
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            if parent.len() <= self.domain.len() {
                break;
            }
            f(parent);
            rest = parent;
        }
    }

    /// The answer to `qtype` for `name` (lowercase, without the trailing dot).
    pub fn lookup(&self, name: &str, qtype: RecordType) -> Answer {
        if let Some(ip) = parse_reverse(name) {
            return match self.tables.read().ptr.get(&ip) {
                Some((_, rec)) if matches!(qtype, RecordType::PTR | RecordType::ANY) => Answer::Records { answers: vec![rec.clone()], additionals: vec![] },
                Some(_) => Answer::NoData,
                None => Answer::NotOurs,
            };
        }
        let Some(rel) = self.relative(name) else { return Answer::NotOurs };
        let t = self.tables.read();
        if let Some(e) = t.names.get(name) {
            let mut answers = Vec::new();
            let mut additionals = Vec::new();
            if let Some(c) = &e.cname {
                // A CNAME answers every type (the client follows it).
                answers.push(c.clone());
            } else {
                match qtype {
                    RecordType::A => answers.extend(e.a.iter().cloned()),
                    RecordType::AAAA => answers.extend(e.aaaa.iter().cloned()),
                    RecordType::SRV => {
                        answers.extend(e.srv.iter().cloned());
                        additionals.extend(e.srv_additional.iter().cloned());
                    }
                    RecordType::ANY => {
                        answers.extend(e.a.iter().chain(&e.aaaa).chain(&e.srv).cloned());
                    }
                    _ => {}
                }
            }
            return if answers.is_empty() { Answer::NoData } else { Answer::Records { answers, additionals } };
        }
        if let Some(rec) = pod_record(rel, name, qtype) {
            return rec;
        }
        if rel.is_empty() || rel == "svc" || rel == "pod" || t.ents.contains_key(name) {
            return Answer::NoData;
        }
        Answer::NxDomain
    }

    /// `name` relative to the zone ("" for the apex), if it is inside it.
    fn relative<'a>(&self, name: &'a str) -> Option<&'a str> {
        if name == self.domain {
            return Some("");
        }
        let rel = name.strip_suffix(self.domain.as_str())?;
        rel.strip_suffix('.')
    }
}

/// `<a-b-c-d>.<ns>.pod.<zone>`: the address itself (CoreDNS' "pods insecure").
fn pod_record(rel: &str, name: &str, qtype: RecordType) -> Option<Answer> {
    let (label, rest) = rel.split_once('.')?;
    let (_ns, pod) = rest.split_once('.')?;
    if pod != "pod" {
        return None;
    }
    let ip = if label.matches('-').count() == 3 && !label.contains("--") {
        IpAddr::from_str(&label.replace('-', ".")).ok()?
    } else {
        IpAddr::from_str(&label.replace('-', ":")).ok()?
    };
    let rec = addr_record(&fqdn(name), ip);
    Some(match (qtype, ip) {
        (RecordType::A | RecordType::ANY, IpAddr::V4(_)) | (RecordType::AAAA | RecordType::ANY, IpAddr::V6(_)) => Answer::Records { answers: vec![rec], additionals: vec![] },
        _ => Answer::NoData,
    })
}

fn dec(ents: &mut HashMap<String, usize>, name: &str) {
    if let Some(n) = ents.get_mut(name) {
        *n -= 1;
        if *n == 0 {
            ents.remove(name);
        }
    }
}

fn entry(name: &str, d: &NameData, all: &std::collections::BTreeMap<String, NameData>) -> Entry {
    let n = fqdn(name);
    let mut e = Entry::default();
    for ip in &d.addrs {
        match ip {
            IpAddr::V4(_) => e.a.push(addr_record(&n, *ip)),
            IpAddr::V6(_) => e.aaaa.push(addr_record(&n, *ip)),
        }
    }
    e.cname = d.cname.as_ref().map(|c| Record::from_rdata(n.clone(), TTL, RData::CNAME(CNAME(fqdn(c)))));
    let weight = if d.srv.is_empty() { 0 } else { (100 / d.srv.len()).max(1) as u16 };
    for (port, target) in &d.srv {
        let t = fqdn(target);
        e.srv.push(Record::from_rdata(n.clone(), TTL, RData::SRV(SRV::new(0, weight, *port, t.clone()))));
        for ip in all.get(target).map(|d| d.addrs.as_slice()).unwrap_or(&[]) {
            e.srv_additional.push(addr_record(&t, *ip));
        }
    }
    e
}

/// An A or AAAA record.
pub(crate) fn addr_record(name: &Name, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(name.clone(), TTL, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(name.clone(), TTL, RData::AAAA(AAAA(v6))),
    }
}

/// A fully qualified name from a dotted string (invalid input: the root).
pub fn fqdn(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}

/// `d.c.b.a.in-addr.arpa` (or the nibble form under ip6.arpa) for `ip`.
pub fn reverse_name(ip: &IpAddr) -> Name {
    let s = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = v6.octets().iter().flat_map(|b| [format!("{:x}", b >> 4), format!("{:x}", b & 0xf)]).collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    };
    fqdn(&s)
}

/// The address a full reverse name stands for.
pub fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let o: Vec<u8> = rest.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        if o.len() != 4 {
            return None;
        }
        return Some(IpAddr::from([o[3], o[2], o[1], o[0]]));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest.split('.').map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 1)).collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.iter().rev().collect::<Vec<_>>().chunks(2).enumerate() {
        bytes[i] = (pair[0] << 4) | pair[1];
    }
    Some(IpAddr::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::NameData;

    fn records(names: &[(&str, &str)]) -> ServiceRecords {
        let mut r = ServiceRecords::default();
        for (n, ip) in names {
            r.names.insert(n.to_string(), NameData { addrs: vec![ip.parse().unwrap()], ..Default::default() });
            r.ptrs.push((ip.parse().unwrap(), n.to_string()));
        }
        r
    }

    #[test]
    fn names_ents_and_nxdomain() {
        let z = Zone::new("cluster.local");
        z.set_service("default/web", Some(records(&[("web.default.svc.cluster.local", "10.96.0.20")])));
        assert!(matches!(z.lookup("web.default.svc.cluster.local", RecordType::A), Answer::Records { .. }));
        assert!(matches!(z.lookup("web.default.svc.cluster.local", RecordType::AAAA), Answer::NoData));
        assert!(matches!(z.lookup("default.svc.cluster.local", RecordType::A), Answer::NoData));
        assert!(matches!(z.lookup("nope.default.svc.cluster.local", RecordType::A), Answer::NxDomain));
        assert!(matches!(z.lookup("example.com", RecordType::A), Answer::NotOurs));
        assert!(matches!(z.lookup("20.0.96.10.in-addr.arpa", RecordType::PTR), Answer::Records { .. }));
        z.set_service("default/web", None);
        assert!(matches!(z.lookup("web.default.svc.cluster.local", RecordType::A), Answer::NxDomain));
        assert!(matches!(z.lookup("default.svc.cluster.local", RecordType::A), Answer::NxDomain));
        assert!(matches!(z.lookup("20.0.96.10.in-addr.arpa", RecordType::PTR), Answer::NotOurs));
    }

    #[test]
    fn reverse_names_round_trip() {
        for ip in ["10.1.2.3", "fd00::1:2"] {
            let ip: IpAddr = ip.parse().unwrap();
            let n = reverse_name(&ip).to_string();
            assert_eq!(parse_reverse(n.trim_end_matches('.')), Some(ip));
        }
    }

    #[test]
    fn pod_names_answer_their_address() {
        let z = Zone::new("cluster.local");
        match z.lookup("10-244-1-5.default.pod.cluster.local", RecordType::A) {
            Answer::Records { answers, .. } => assert_eq!(&answers[0].data, &RData::A(A("10.244.1.5".parse().unwrap()))),
            other => panic!("{other:?}"),
        }
    }
}
