//! The guard against server-side request forgery: whether a guest's outbound request
//! may leave, decided on the addresses it would connect to.
//!
//! Why addresses and not names: a name the function is allowed to reach may resolve to
//! anything its owner likes, the cloud's metadata address included. So the guard
//! resolves the name once, refuses the request if any address it got is in a range no
//! function may reach (unless a rule names that address literally, or the operator
//! allowed the range), and hands back exactly those addresses to connect to: the
//! connection never looks the name up a second time, so a resolver that answers
//! differently the second time (DNS rebinding) gains nothing.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use async_trait::async_trait;
use fn_core::{Destination, OutboundRule, OutboundScheme};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why a request may not leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The URL cannot be judged: no scheme or host, a scheme other than http(s), or a
    /// host written in a form resolvers disagree on (a zone id, `2130706433`).
    InvalidUri(String),
    /// No rule of the function allows this scheme, host and port.
    NotAllowed {
        /// `scheme://host:port` as requested.
        destination: String,
    },
    /// The host is or resolves to an address in a prohibited range.
    Prohibited {
        /// The address.
        address: IpAddr,
        /// The range's name: `loopback`, `private (RFC 1918)`, …
        range: &'static str,
    },
    /// The name did not resolve.
    Dns {
        /// The name.
        name: String,
        /// What the resolver said.
        reason: String,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::InvalidUri(why) => write!(f, "the request's URL is refused: {why}"),
            Refused::NotAllowed { destination } => {
                write!(
                    f,
                    "{destination} is not among the function's allowed destinations"
                )
            }
            Refused::Prohibited { address, range } => {
                write!(
                    f,
                    "{address} is a {range} address, which functions may not reach"
                )
            }
            Refused::Dns { name, reason } => write!(f, "{name} did not resolve: {reason}"),
        }
    }
}

impl std::error::Error for Refused {}

/// Resolves names to addresses: the system's resolver in production
/// ([`SystemResolver`]), a table in tests.
#[async_trait]
pub trait Resolve: Send + Sync + fmt::Debug {
    /// Every address `name` resolves to.
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolve for SystemResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let addresses = tokio::net::lookup_host((name, 0)).await?;
        Ok(addresses.map(|address| address.ip()).collect())
    }
}

/// A request the guard let through: where to connect, and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vetted {
    /// `http` or `https`.
    pub scheme: OutboundScheme,
    /// The host as the request names it (for TLS and the `host` header).
    pub destination: Destination,
    /// The port.
    pub port: u16,
    /// The addresses checked, in the resolver's order: connect to these only.
    pub addresses: Vec<SocketAddr>,
}

/// The guard: the ranges no function may reach, less those the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allowed_ranges: Vec<IpNet>,
}

impl Guard {
    /// A guard refusing every prohibited range but `allowed_ranges` (the server's
    /// setting, for a private network its functions are meant to reach).
    pub fn new(allowed_ranges: Vec<IpNet>) -> Guard {
        Guard { allowed_ranges }
    }

    /// Whether a request to `uri` may leave under `rules`, and where to connect.
    ///
    /// # Errors
    ///
    /// [`Refused`], saying why.
    pub async fn vet(
        &self,
        rules: &[OutboundRule],
        uri: &http::Uri,
        resolver: &dyn Resolve,
    ) -> Result<Vetted, Refused> {
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => OutboundScheme::Http,
            Some("https") => OutboundScheme::Https,
            Some(other) => {
                return Err(Refused::InvalidUri(format!(
                    "the scheme `{other}` is not http or https"
                )));
            }
            None => return Err(Refused::InvalidUri("the URL has no scheme".into())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Refused::InvalidUri("the URL has no host".into()))?;
        if authority.as_str().contains('@') {
            return Err(Refused::InvalidUri("a user in the URL is refused".into()));
        }
        let destination = Destination::parse(authority.host()).map_err(Refused::InvalidUri)?;
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let allowing: Vec<&OutboundRule> = rules
            .iter()
            .filter(|rule| rule.allows(scheme, &destination, port))
            .collect();
        if allowing.is_empty() {
            return Err(Refused::NotAllowed {
                destination: format!("{}://{destination}:{port}", scheme.as_str()),
            });
        }
        let addresses = match &destination {
            Destination::Ip(ip) => vec![*ip],
            Destination::Name(name) => {
                let addresses = resolver.resolve(name).await.map_err(|e| Refused::Dns {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
                if addresses.is_empty() {
                    return Err(Refused::Dns {
                        name: name.clone(),
                        reason: "no address".into(),
                    });
                }
                addresses
            }
        };
        // Every address, not the first: a connection may fall back to any of them.
        for address in &addresses {
            self.check(&allowing, *address)?;
        }
        Ok(Vetted {
            scheme,
            destination,
            port,
            addresses: addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
        })
    }

    /// Whether `address` may be connected to under the rules `allowing` the request:
    /// refused when it is in a prohibited range that none of them names literally (a
    /// rule naming it for another port does not count) and the operator did not allow.
    fn check(&self, allowing: &[&OutboundRule], address: IpAddr) -> Result<(), Refused> {
        let Some(range) = prohibited(address) else {
            return Ok(());
        };
        let canonical = address.to_canonical();
        if allowing.iter().any(|rule| rule.names(address))
            || self
                .allowed_ranges
                .iter()
                .any(|net| net.contains(&address) || net.contains(&canonical))
        {
            return Ok(());
        }
        Err(Refused::Prohibited { address, range })
    }
}

/// The IPv4 ranges no function may reach unless allowed, with their names.
const V4: [(Ipv4Addr, u8, &str); 16] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (0/8)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private (RFC 1918)"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared (CGNAT, RFC 6598)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link-local (cloud metadata)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private (RFC 1918)"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private (RFC 1918)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "broadcast"),
];

/// The IPv6 ranges no function may reach unless allowed. The forms that carry an
/// IPv4 address inside (mapped, compatible, NAT64, 6to4) are judged by that address
/// first ([`embedded_v4`]).
const V6: [(Ipv6Addr, u8, &str); 12] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, "unspecified"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback"),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use NAT64",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only",
    ),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "Teredo"),
    (
        Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0),
        48,
        "benchmarking",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique-local",
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
];

/// The prohibited range `address` is in, by name; `None` for a public address.
pub fn prohibited(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => V4
            .iter()
            .find(|(net, prefix, _)| within_v4(v4, *net, *prefix))
            .map(|(_, _, name)| *name),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return prohibited(IpAddr::V4(v4));
            }
            V6.iter()
                .find(|(net, prefix, _)| within_v6(v6, *net, *prefix))
                .map(|(_, _, name)| *name)
        }
    }
}

/// The IPv4 address an IPv6 one carries, for the forms that reach it: mapped
/// (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`, but not `::` or `::1`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = v6.octets();
    let last4 = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    let segments = v6.segments();
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if segments[..6] == [0; 6] && u32::from(last4) > 1 {
        return Some(last4);
    }
    if within_v6(v6, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        return Some(last4);
    }
    if segments[0] == 0x2002 {
        return Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    None
}

fn within_v4(address: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    Ipv4Net::new(net, prefix).is_ok_and(|net| net.contains(&address))
}

fn within_v6(address: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    Ipv6Net::new(net, prefix).is_ok_and(|net| net.contains(&address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_not_prohibited() {
        for address in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(prohibited(ip), None, "{address}");
        }
    }

    #[test]
    fn an_embedded_ipv4_address_is_judged_as_itself() {
        for (address, range) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),
            ("2002:0a00:0001::1", "private (RFC 1918)"),
            ("::", "unspecified"),
            ("::1", "loopback"),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(prohibited(ip), Some(range), "{address}");
        }
    }
}
