//! The client address of a request, computed once by the outermost layer
//! and read by everything that cares (the gate's IP allowlist and public
//! rate limits, the login lockout, the survey and webhook per-address
//! limits, audit rows, the request span).
//!
//! It is the TCP peer, unless the peer is one of `OCHRE_TRUSTED_PROXIES`:
//! then `X-Forwarded-For` (every instance of the header, comma lists, in
//! order) is walked from the right and the first address that is not itself
//! a trusted proxy is the client. An entry that is not an address stops the
//! walk at the last trusted hop (garbage is never trusted). A header from a
//! peer that is not a trusted proxy is ignored entirely: anyone can send one.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    task::{Context, Poll},
};

use ipnet::IpNet;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

/// The header a proxy appends the address it received a request from to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address of a request (canonical: an IPv4-mapped IPv6 address
/// is its IPv4 address), a request extension set by [`ClientAddrLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// The address, canonical.
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// The client address of a request, if the layer ran.
    pub fn of<B>(request: &http::Request<B>) -> Option<IpAddr> {
        Self::from_extensions(request.extensions())
    }

    /// The client address recorded in request extensions (tonic handlers
    /// read `request.extensions()`).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<IpAddr> {
        extensions.get::<ClientAddr>().map(|c| c.0)
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`OCHRE_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs (a bare address is a /32 or
    /// /128). Empty: no proxy is trusted. The error names the bad entry's
    /// position, never its text.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for (i, entry) in list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "entry {} is not a CIDR range (like 10.0.0.0/8 or 2001:db8::/32)",
                        i + 1
                    )
                })?;
            nets.push(canonical_net(net.trunc()));
        }
        Ok(TrustedProxies { nets })
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// True when some range covers every address of its family (`0.0.0.0/0`
    /// or `::/0`): any client can then choose its own address.
    pub fn has_catch_all(&self) -> bool {
        self.nets.iter().any(|n| n.prefix_len() == 0)
    }

    /// True when `ip` (canonical) is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from `peer` with `headers`.
    pub fn resolve(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        let mut hop = peer.to_canonical();
        if !self.contains(hop) {
            return hop;
        }
        for value in headers.get_all(FORWARDED_FOR).iter().rev() {
            let Ok(text) = value.to_str() else {
                return hop;
            };
            for entry in text.rsplit(',') {
                let Some(ip) = parse_hop(entry.trim()) else {
                    return hop;
                };
                hop = ip;
                if !self.contains(hop) {
                    return hop;
                }
            }
        }
        hop
    }
}

/// An IPv4-mapped IPv6 range written for IPv4 clients matches them.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`) as some proxies write it.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The TCP peer of a request: what tonic recorded for a plain connection,
/// or for a TLS one (see [`super::incoming`]).
fn peer_of(extensions: &http::Extensions) -> Option<IpAddr> {
    // The one reader of the connection's address.
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .map(|addr| addr.ip())
}

/// Installs [`ClientAddrService`].
#[derive(Debug, Clone)]
pub struct ClientAddrLayer {
    trusted: Arc<TrustedProxies>,
}

impl ClientAddrLayer {
    pub fn new(trusted: TrustedProxies) -> Self {
        ClientAddrLayer {
            trusted: Arc::new(trusted),
        }
    }
}

impl<S> Layer<S> for ClientAddrLayer {
    type Service = ClientAddrService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ClientAddrService {
            inner,
            trusted: self.trusted.clone(),
        }
    }
}

/// Inserts the request's [`ClientAddr`] (see the module documentation).
#[derive(Debug, Clone)]
pub struct ClientAddrService<S> {
    inner: S,
    trusted: Arc<TrustedProxies>,
}

impl<S, B> Service<http::Request<B>> for ClientAddrService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if let Some(peer) = peer_of(req.extensions()) {
            let client = self.trusted.resolve(peer, req.headers());
            req.extensions_mut().insert(ClientAddr(client));
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, http::HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_header_from_an_untrusted_peer_is_ignored() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(t.resolve(ip("198.51.100.9"), &h), ip("198.51.100.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.resolve(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8, 2001:db8::/32").unwrap();
        let h = forwarded(&["6.6.6.6, 203.0.113.7", "10.1.1.1"]);
        assert_eq!(t.resolve(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        let h = forwarded(&["203.0.113.7, 2001:db8::5"]);
        assert_eq!(t.resolve(ip("2001:db8::1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = forwarded(&["203.0.113.7, unknown, 10.2.2.2"]);
        assert_eq!(t.resolve(ip("10.0.0.1"), &h), ip("10.2.2.2"));
        let h = forwarded(&["203.0.113.7,,"]);
        assert_eq!(t.resolve(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = forwarded(&["nonsense"]);
        assert_eq!(t.resolve(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn ports_and_mapped_addresses_are_read_as_addresses() {
        let t = TrustedProxies::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(t.contains(ip("10.9.9.9")));
        let h = forwarded(&["[2001:db8::7]:443, ::ffff:10.3.3.3"]);
        assert_eq!(t.resolve(ip("::ffff:10.0.0.1"), &h), ip("2001:db8::7"));
        let h = forwarded(&["203.0.113.7:5555"]);
        assert_eq!(t.resolve(ip("10.0.0.1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn only_cidr_lists_parse_and_catch_alls_are_noticed() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        let err = TrustedProxies::parse("10.0.0.0/8, proxy.internal").unwrap_err();
        assert!(err.contains("entry 2") && !err.contains("proxy.internal"));
        assert!(TrustedProxies::parse("0.0.0.0/0").unwrap().has_catch_all());
        assert!(!TrustedProxies::parse("127.0.0.1").unwrap().has_catch_all());
    }
}
