//! IPv4 CIDR blocks (upstream's net.IPNet as the node IPAM and the pod
//! network use it): parsing `a.b.c.d/n`, the n-th subnet of a given size,
//! the n-th address, containment. IPv4 only: ferrokube's pod network is
//! single-stack.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR address: {0}")]
pub struct CidrError(pub String);

/// A network address and prefix length; the address is always the network's
/// first (host bits cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

impl Ipv4Cidr {
    /// The block containing `addr` with `prefix` bits (host bits cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, CidrError> {
        if prefix > 32 {
            return Err(CidrError(format!("{addr}/{prefix}")));
        }
        Ok(Ipv4Cidr { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)), prefix })
    }

    pub fn network(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses in the block.
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// Is `other` entirely inside this block?
    pub fn covers(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The `index`-th address of the block (0 = the network address).
    pub fn nth(&self, index: u64) -> Option<Ipv4Addr> {
        (index < self.size()).then(|| Ipv4Addr::from(u32::from(self.addr) + index as u32))
    }

    /// The offset of `ip` in the block.
    pub fn index_of(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip).then(|| (u32::from(ip) - u32::from(self.addr)) as u64)
    }

    /// How many `/new_prefix` subnets the block holds (0 if `new_prefix` is shorter).
    pub fn subnet_count(&self, new_prefix: u8) -> u64 {
        if new_prefix < self.prefix || new_prefix > 32 { 0 } else { 1u64 << (new_prefix - self.prefix) }
    }

    /// The `index`-th `/new_prefix` subnet of the block.
    pub fn subnet(&self, new_prefix: u8, index: u64) -> Option<Ipv4Cidr> {
        if index >= self.subnet_count(new_prefix) {
            return None;
        }
        let step = (index as u32).checked_shl(32 - new_prefix as u32).unwrap_or(0);
        let base = u32::from(self.addr) + step;
        Some(Ipv4Cidr { addr: Ipv4Addr::from(base), prefix: new_prefix })
    }

    /// Which `/new_prefix` subnet of this block `other` is, if it is one exactly.
    pub fn subnet_index(&self, other: &Ipv4Cidr) -> Option<u64> {
        if other.prefix < self.prefix || !self.contains(other.addr) {
            return None;
        }
        Some(((u32::from(other.addr) - u32::from(self.addr)) as u64) >> (32 - other.prefix as u32))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let bad = || CidrError(s.to_string());
        let (ip, len) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        Ipv4Cidr::new(ip, prefix).map_err(|_| bad())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_subnets() {
        let c: Ipv4Cidr = "10.244.7.9/16".parse().unwrap();
        assert_eq!(c.to_string(), "10.244.0.0/16");
        assert_eq!(c.subnet_count(24), 256);
        assert_eq!(c.subnet(24, 0).unwrap().to_string(), "10.244.0.0/24");
        assert_eq!(c.subnet(24, 255).unwrap().to_string(), "10.244.255.0/24");
        assert_eq!(c.subnet(24, 256), None);
        assert_eq!(c.subnet_index(&"10.244.3.0/24".parse().unwrap()), Some(3));
        assert_eq!(c.subnet_index(&"10.245.3.0/24".parse().unwrap()), None);
        let n: Ipv4Cidr = "10.244.3.0/24".parse().unwrap();
        assert_eq!(n.nth(1), Some(Ipv4Addr::new(10, 244, 3, 1)));
        assert_eq!(n.index_of(Ipv4Addr::new(10, 244, 3, 200)), Some(200));
        assert!(c.covers(&n) && !n.covers(&c));
        assert_eq!("10.0.0.0/32".parse::<Ipv4Cidr>().unwrap().subnet(32, 0).unwrap().to_string(), "10.0.0.0/32");
        assert!("10.0.0.0".parse::<Ipv4Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("fd00::/64".parse::<Ipv4Cidr>().is_err());
    }
}
