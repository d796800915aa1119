//! Who the client is: the TCP peer, or what a trusted reverse proxy says it forwarded.
//!
//! `X-Forwarded-For` (or, without it, `Forwarded`) is read only when the peer is listed in
//! `TRUSTED_PROXIES`; otherwise any client could claim any address and dodge the limits.

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use std::net::IpAddr;

/// One address or network (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.trim().parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Network {
            address: canonical(address),
            prefix,
        })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.address, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                prefix_bits(u32::from(net).into(), 32, self.prefix)
                    == prefix_bits(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_bits(u128::from(net), 128, self.prefix)
                    == prefix_bits(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_bits(value: u128, width: u8, prefix: u8) -> u128 {
    match width - prefix {
        0 => value,
        shift if shift >= 128 => 0,
        shift => value >> shift,
    }
}

/// IPv4 written as IPv6 (`::ffff:192.0.2.1`, as a dual-stack socket reports it) is IPv4.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key a client is counted under by limits: IPv6 clients get a whole /64 network, as one
/// subscriber usually does; IPv4 clients their address.
pub fn network_of(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR networks.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match Network::parse(item) {
                Some(network) => networks.push(network),
                None => {
                    return Err(format!(
                        "'{item}' is not an IP address or a network such as 10.0.0.0/8"
                    ));
                }
            }
        }
        Ok(TrustedProxies(networks))
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(address))
    }

    /// The client behind `peer`: the nearest forwarded address that is not itself a trusted
    /// proxy, read right to left (entries on the left are the client's own claims).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(address) => {
                    client = canonical(*address);
                    if !self.contains(client) {
                        break;
                    }
                }
                // An entry we cannot read: stop at the last address vouched for.
                None => break,
            }
        }
        client
    }
}

/// The client address of a request, for limits and logs.
pub fn of_request(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    req.peer_addr()
        .map(|peer| trusted.client(peer.ip(), req.headers()))
}

/// The forwarded-for hops, left to right; `None` for one that does not parse.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !xff.is_empty() {
        return xff
            .iter()
            .flat_map(|v| v.split(','))
            .map(|hop| parse_hop(hop.trim()))
            .collect();
    }
    headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse() {
        return Some(address);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_and_addresses_are_parsed_and_matched() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7 ,fd00::/8").unwrap();
        assert!(trusted.contains(ip("10.200.3.4")));
        assert!(trusted.contains(ip("192.0.2.7")));
        assert!(trusted.contains(ip("::ffff:10.1.1.1")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(!trusted.contains(ip("192.0.2.8")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/x", "::/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TrustedProxies::parse(" , ").unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &xff), ip("203.0.113.9"));
        assert_eq!(trusted.client(ip("198.51.100.1"), &xff), ip("198.51.100.1"));
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, nonsense")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &garbage), ip("127.0.0.1"));
        let forwarded = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https",
        )]);
        assert_eq!(
            trusted.client(ip("10.1.2.3"), &forwarded),
            ip("2001:db8::17")
        );
        let none = headers(&[]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &none), ip("127.0.0.1"));
        let port = headers(&[("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &port), ip("203.0.113.9"));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(network_of(mapped), v4);
    }
}
