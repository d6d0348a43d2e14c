//! Which peer may tell us the client's address, and how it is read from
//! `X-Forwarded-For`.
//!
//! A proxy appends the address it received the request from, so the entries to the right
//! were written by proxies we trust and the leftmost ones by the client, who can write
//! anything. The client address is therefore the **rightmost** entry that is not one of the
//! trusted proxies (`trusted_proxies`), and the header counts only when the direct peer is
//! itself trusted (a listed proxy, or any peer with `trust_forwarded_for`, for a single proxy
//! whose address is not fixed). Otherwise the peer's own address is the client's.

use std::net::IpAddr;

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `192.0.2.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.addr), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxy policy (request data set from the configuration).
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    /// Trust the direct peer's `X-Forwarded-For` whatever its address.
    pub trust_any_peer: bool,
    /// Trusted proxy addresses and blocks.
    pub trusted: Vec<Net>,
}

impl Proxies {
    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// The client's address, from the direct `peer` and the `X-Forwarded-For` values.
    pub fn client_addr(&self, peer: Option<IpAddr>, forwarded: &[&str]) -> Option<IpAddr> {
        let peer_trusted = peer.is_some_and(|p| self.trust_any_peer || self.is_trusted(p));
        if !peer_trusted || forwarded.is_empty() {
            return peer.map(canonical);
        }
        let mut hops = forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rev();
        let mut client = peer;
        for hop in hops.by_ref() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Garbage in the chain: the last hop we could read is all we know.
                break;
            };
            client = Some(ip);
            if !self.is_trusted(ip) {
                break;
            }
        }
        client.map(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks() {
        let n = Net::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.200.1.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.1.1")));
        assert!(Net::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("proxy.local").is_err());
    }

    #[test]
    fn rightmost_untrusted_entry() {
        let p = Proxies {
            trust_any_peer: false,
            trusted: vec![Net::parse("10.0.0.0/8").unwrap()],
        };
        let proxy = Some(ip("10.0.0.5"));
        // The client wrote a fake first entry; our proxy appended the real address.
        assert_eq!(
            p.client_addr(proxy, &["1.2.3.4, 203.0.113.7"]),
            Some(ip("203.0.113.7"))
        );
        // Two trusted hops in front of the client.
        assert_eq!(
            p.client_addr(proxy, &["203.0.113.7, 10.0.0.9"]),
            Some(ip("203.0.113.7"))
        );
        // Several header lines count as one list.
        assert_eq!(
            p.client_addr(proxy, &["9.9.9.9", "203.0.113.8"]),
            Some(ip("203.0.113.8"))
        );
        // A peer that is not a trusted proxy: its header is ignored.
        assert_eq!(
            p.client_addr(Some(ip("198.51.100.1")), &["203.0.113.7"]),
            Some(ip("198.51.100.1"))
        );
        // Garbage at the right end: the proxy itself is all we know.
        assert_eq!(p.client_addr(proxy, &["203.0.113.7, junk"]), proxy);
        let any = Proxies {
            trust_any_peer: true,
            trusted: vec![],
        };
        assert_eq!(
            any.client_addr(Some(ip("192.0.2.1")), &["6.6.6.6, 203.0.113.7"]),
            Some(ip("203.0.113.7"))
        );
    }
}
