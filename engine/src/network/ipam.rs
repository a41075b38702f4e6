//! IPv4 address management: subnets, the pool free subnets are picked from, and the
//! allocation of container addresses (under the networks lock, so several rdesk processes
//! never hand out one address twice).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        Ok(Cidr { addr, prefix })
    }
    pub fn mask(&self) -> u32 {
        u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0)
    }
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) | !self.mask())
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }
    /// The canonical form `network/prefix`.
    pub fn canonical(&self) -> Cidr {
        Cidr {
            addr: self.network(),
            prefix: self.prefix,
        }
    }
    /// First usable host address (the default gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) + 1)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Docker's default address pools: 172.17-31.0.0/16, then 192.168.0-240.0/20.
pub fn default_pool() -> Vec<Cidr> {
    let mut v: Vec<Cidr> = (17..=31)
        .map(|b| Cidr {
            addr: Ipv4Addr::new(172, b, 0, 0),
            prefix: 16,
        })
        .collect();
    v.extend((0..16).map(|i| Cidr {
        addr: Ipv4Addr::new(192, 168, i * 16, 0),
        prefix: 20,
    }));
    v
}

/// The first subnet of `pool` that overlaps neither a subnet in use nor a host route.
pub fn pick_subnet(pool: &[Cidr], taken: &[Cidr]) -> Option<Cidr> {
    pool.iter()
        .copied()
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
}

/// The next free address of `range` (inside `subnet`) after `last`, skipping the network,
/// broadcast and gateway addresses and those in `used`; wraps around once.
pub fn allocate(
    subnet: &Cidr,
    range: &Cidr,
    gateway: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
    last: Option<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let lo = u32::from(range.network()).max(u32::from(subnet.network()));
    let hi = u32::from(range.broadcast()).min(u32::from(subnet.broadcast()));
    if lo > hi {
        return None;
    }
    let ok = |n: u32| {
        let ip = Ipv4Addr::from(n);
        ip != subnet.network()
            && (ip != subnet.broadcast() || subnet.prefix >= 31)
            && ip != gateway
            && !used.contains(&ip)
    };
    let start = last
        .map(u32::from)
        .filter(|l| (lo..=hi).contains(l))
        .map(|l| if l == hi { lo } else { l + 1 })
        .unwrap_or(lo);
    (start..=hi)
        .chain(lo..start)
        .find(|n| ok(*n))
        .map(Ipv4Addr::from)
}

/// Docker's MAC for an address: 02:42 followed by the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.1.2.3/24").unwrap();
        assert_eq!(c.network(), Ipv4Addr::new(10, 1, 2, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 1, 2, 255));
        assert_eq!(c.canonical().to_string(), "10.1.2.0/24");
        assert!(c.contains(Ipv4Addr::new(10, 1, 2, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 1, 3, 1)));
        assert!(c.overlaps(&Cidr::parse("10.0.0.0/8").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.1.3.0/24").unwrap()));
        assert!(Cidr::parse("10.1.2.3").is_err());
        assert!(Cidr::parse("10.1.2.3/33").is_err());
        assert!(Cidr::parse("nope/8").is_err());
    }

    #[test]
    fn picks_a_subnet_nobody_uses() {
        let taken = vec![
            Cidr::parse("172.17.0.0/16").unwrap(),
            Cidr::parse("172.16.0.0/12").unwrap(),
        ];
        assert_eq!(
            pick_subnet(&default_pool(), &taken).unwrap().to_string(),
            "192.168.0.0/20"
        );
        let one = vec![Cidr::parse("172.17.5.0/24").unwrap()];
        assert_eq!(
            pick_subnet(&default_pool(), &one).unwrap().to_string(),
            "172.18.0.0/16"
        );
    }

    #[test]
    fn allocates_distinct_addresses_and_wraps() {
        let s = Cidr::parse("10.9.0.0/29").unwrap();
        let gw = s.first_host();
        let mut used = BTreeSet::new();
        let mut last = None;
        let mut got = vec![];
        while let Some(ip) = allocate(&s, &s, gw, &used, last) {
            used.insert(ip);
            last = Some(ip);
            got.push(ip.to_string());
        }
        // .0 network, .1 gateway, .7 broadcast are never handed out.
        assert_eq!(
            got,
            ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
        );
        used.remove(&Ipv4Addr::new(10, 9, 0, 3));
        assert_eq!(
            allocate(&s, &s, gw, &used, last),
            Some(Ipv4Addr::new(10, 9, 0, 3))
        );
        // The next one after the last, not the lowest free one (no quick reuse).
        used.remove(&Ipv4Addr::new(10, 9, 0, 2));
        assert_eq!(
            allocate(&s, &s, gw, &used, Some(Ipv4Addr::new(10, 9, 0, 2))),
            Some(Ipv4Addr::new(10, 9, 0, 3))
        );
        let range = Cidr::parse("10.9.0.4/30").unwrap();
        assert_eq!(
            allocate(&s, &range, gw, &BTreeSet::new(), None),
            Some(Ipv4Addr::new(10, 9, 0, 4))
        );
    }
}
