//! The cluster CIDR cut into node-sized blocks, each used at most once
//! (upstream's pkg/controller/nodeipam/ipam/cidrset).

use std::collections::BTreeSet;

use api::cidr::Ipv4Cidr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrSetError {
    #[error("--node-cidr-mask-size {mask} must be at least the --cluster-cidr {cluster} prefix and at most 30")]
    BadMask { cluster: Ipv4Cidr, mask: u8 },
    #[error("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")]
    Full,
    #[error("cidr {cidr} is out the range of cluster cidr {cluster}")]
    OutOfRange { cidr: Ipv4Cidr, cluster: Ipv4Cidr },
}

#[derive(Debug)]
pub struct CidrSet {
    cluster: Ipv4Cidr,
    mask: u8,
    used: BTreeSet<u64>,
    /// Where the next search starts (upstream's nextCandidate): a released
    /// block is not handed out again at once.
    next: u64,
}

impl CidrSet {
    pub fn new(cluster: Ipv4Cidr, mask: u8) -> Result<Self, CidrSetError> {
        // A /31 or /32 per node leaves no address for pods besides the gateway.
        if mask < cluster.prefix() || mask > 30 {
            return Err(CidrSetError::BadMask { cluster, mask });
        }
        Ok(CidrSet { cluster, mask, used: BTreeSet::new(), next: 0 })
    }

    pub fn allocate(&mut self) -> Result<Ipv4Cidr, CidrSetError> {
        let n = self.cluster.subnet_count(self.mask);
        for i in 0..n {
            let idx = (self.next + i) % n;
            if self.used.insert(idx) {
                self.next = (idx + 1) % n;
                return Ok(self.cluster.subnet(self.mask, idx).expect("index below subnet count"));
            }
        }
        Err(CidrSetError::Full)
    }

    fn index(&self, cidr: &Ipv4Cidr) -> Result<u64, CidrSetError> {
        let out = || CidrSetError::OutOfRange { cidr: *cidr, cluster: self.cluster };
        if cidr.prefix() != self.mask {
            return Err(out());
        }
        self.cluster.subnet_index(cidr).ok_or_else(out)
    }

    /// Marks a block a node already has as taken.
    pub fn occupy(&mut self, cidr: &Ipv4Cidr) -> Result<(), CidrSetError> {
        let i = self.index(cidr)?;
        self.used.insert(i);
        Ok(())
    }

    pub fn release(&mut self, cidr: &Ipv4Cidr) {
        if let Ok(i) = self.index(cidr) {
            self.used.remove(&i);
        }
    }

    pub fn is_used(&self, cidr: &Ipv4Cidr) -> bool {
        self.index(cidr).map(|i| self.used.contains(&i)).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_each_block_once_and_reuses_released_ones_last() {
        let mut s = CidrSet::new("10.244.0.0/22".parse().unwrap(), 24).unwrap();
        s.occupy(&"10.244.1.0/24".parse().unwrap()).unwrap();
        let a = s.allocate().unwrap();
        let b = s.allocate().unwrap();
        let c = s.allocate().unwrap();
        assert_eq!([a, b, c].map(|c| c.to_string()), ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]);
        assert_eq!(s.allocate(), Err(CidrSetError::Full));
        s.release(&b);
        assert_eq!(s.allocate().unwrap(), b);
        assert!(s.occupy(&"10.245.0.0/24".parse().unwrap()).is_err());
        assert!(s.occupy(&"10.244.0.0/25".parse().unwrap()).is_err());
        assert!(CidrSet::new("10.244.0.0/16".parse().unwrap(), 8).is_err());
    }
}
