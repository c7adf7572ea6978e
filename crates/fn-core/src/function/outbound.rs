//! Outbound HTTP rules: the destinations a function may send requests to, each written
//! `scheme://host[:port]` (`fnd deploy --allow-outbound`). Nothing is allowed by
//! default.
//!
//! Why the rules are parsed here and the addresses checked elsewhere: a rule is part
//! of a definition, checked at deploy like every other field; whether the address a
//! name resolves to may be reached is the host's decision at connect time (fn-host's
//! guard), which this crate, free of I/O, cannot make.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most outbound rules a function may have.
pub const MAX_OUTBOUND_RULES: usize = 32;

/// The longest rule accepted, in bytes.
pub const MAX_OUTBOUND_RULE_BYTES: usize = 300;

/// The scheme of an outbound rule or request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboundScheme {
    /// `http`, port 80 unless one is given.
    Http,
    /// `https`, port 443 unless one is given.
    Https,
}

impl OutboundScheme {
    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            OutboundScheme::Http => 80,
            OutboundScheme::Https => 443,
        }
    }

    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundScheme::Http => "http",
            OutboundScheme::Https => "https",
        }
    }
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: any host name or address (the host's guard still refuses private
    /// addresses).
    Any,
    /// `*.example.com`: any name under `example.com`, not `example.com` itself; kept
    /// as `example.com`.
    Subdomains(String),
    /// `api.example.com`: that name exactly (lower case, no trailing dot).
    Name(String),
    /// `10.0.0.5` or `[fd00::5]`: that address. A rule naming an address literally is
    /// what lets a function reach a private one.
    Ip(IpAddr),
}

/// The port part of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortPattern {
    /// `:*`: any port.
    Any,
    /// One port: the one written, or the scheme's default when none is.
    Port(u16),
}

/// One destination a function may reach: `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutboundRule {
    /// `http` or `https`.
    pub scheme: OutboundScheme,
    /// Which hosts.
    pub host: HostPattern,
    /// Which ports.
    pub port: PortPattern,
}

/// A request's destination as a rule sees it: the host lower-cased without a trailing
/// dot, or the address it is written as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A name, to be resolved.
    Name(String),
    /// An address literal.
    Ip(IpAddr),
}

impl OutboundRule {
    /// Whether a request to `host` on `port` with `scheme` is within this rule.
    pub fn allows(&self, scheme: OutboundScheme, host: &Destination, port: u16) -> bool {
        if scheme != self.scheme {
            return false;
        }
        if let PortPattern::Port(allowed) = self.port
            && allowed != port
        {
            return false;
        }
        match (&self.host, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Name(name), Destination::Name(host)) => name == host,
            (HostPattern::Subdomains(parent), Destination::Name(host)) => host
                .strip_suffix(parent.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            (HostPattern::Ip(ip), Destination::Ip(host)) => same_address(*ip, *host),
            _ => false,
        }
    }

    /// Whether this rule names `ip` literally: what allows a private address.
    pub fn names(&self, ip: IpAddr) -> bool {
        matches!(self.host, HostPattern::Ip(named) if same_address(named, ip))
    }
}

/// Equal addresses, an IPv4 address and the same written as IPv4-mapped IPv6 alike.
fn same_address(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

impl Destination {
    /// The destination a URL's host names: an address literal (IPv6 in brackets), or a
    /// name, lower-cased without its trailing dot.
    ///
    /// # Errors
    ///
    /// Why the host is refused: empty, a zone id (`%`), or a number that is not a
    /// dotted-quad address (`2130706433`, `0177.0.0.1`, `127.1`, `0x7f.1`): resolvers
    /// read those as addresses in ways that differ, so no rule can be judged on them.
    pub fn parse(host: &str) -> Result<Destination, String> {
        if host.is_empty() {
            return Err("the host is empty".into());
        }
        if host.contains('%') {
            return Err(format!("`{host}` has a zone id, which is refused"));
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return inner
                .parse()
                .map(Destination::Ip)
                .map_err(|_| format!("`{host}` is not an IPv6 address"));
        }
        let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
            return Ok(Destination::Ip(IpAddr::V4(ip)));
        }
        // The last label decides: a name whose last label is all digits, or hex
        // written `0x…`, is a number some resolver reads as an address.
        let last = name.rsplit('.').next().unwrap_or_default();
        let numeric = !last.is_empty()
            && (last.bytes().all(|b| b.is_ascii_digit())
                || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit())));
        if numeric {
            return Err(format!(
                "`{host}` is a number but not an address written a.b.c.d, which is refused"
            ));
        }
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            || name.split('.').any(str::is_empty)
        {
            return Err(format!("`{host}` is not a host name"));
        }
        Ok(Destination::Name(name))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Name(name) => f.write_str(name),
            Destination::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Destination::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl FromStr for OutboundRule {
    type Err = String;

    /// Parses `scheme://host[:port]`: the scheme `http` or `https`; the host `*`,
    /// `*.name`, a name, an IPv4 address or an IPv6 address in brackets; the port a
    /// number, `*`, or none for the scheme's default. Nothing else: no path, user or
    /// query.
    fn from_str(rule: &str) -> Result<OutboundRule, String> {
        if rule.len() > MAX_OUTBOUND_RULE_BYTES {
            return Err(format!(
                "a rule of {} bytes, more than {MAX_OUTBOUND_RULE_BYTES}",
                rule.len()
            ));
        }
        let (scheme, rest) = rule
            .split_once("://")
            .ok_or_else(|| format!("`{rule}` is not scheme://host[:port]"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => OutboundScheme::Http,
            "https" => OutboundScheme::Https,
            other => {
                return Err(format!(
                    "`{rule}`: the scheme `{other}` is not http or https"
                ));
            }
        };
        if rest.contains(['/', '@', '?', '#']) {
            return Err(format!(
                "`{rule}`: a rule is scheme://host[:port], without a path, user or query"
            ));
        }
        // The port follows the last `:` after an IPv6 literal's closing bracket.
        let split = match rest.rfind(']') {
            Some(end) => rest[end..].find(':').map(|i| end + i),
            None => rest.rfind(':'),
        };
        let (host, port) = match split {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let port = match port {
            None => PortPattern::Port(scheme.default_port()),
            Some("*") => PortPattern::Any,
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port > 0 => PortPattern::Port(port),
                _ => return Err(format!("`{rule}`: `{port}` is not a port (1..=65535 or *)")),
            },
        };
        let host = match host {
            "*" => HostPattern::Any,
            _ if host.starts_with("*.") => match Destination::parse(&host[2..]) {
                Ok(Destination::Name(parent)) => HostPattern::Subdomains(parent),
                Ok(Destination::Ip(_)) => {
                    return Err(format!("`{rule}`: `*.` goes before a name, not an address"));
                }
                Err(why) => return Err(format!("`{rule}`: {why}")),
            },
            _ if host.contains('*') => {
                return Err(format!(
                    "`{rule}`: `*` is the whole host or the first label (`*.example.com`)"
                ));
            }
            _ => match Destination::parse(host).map_err(|why| format!("`{rule}`: {why}"))? {
                Destination::Name(name) => HostPattern::Name(name),
                Destination::Ip(ip) => HostPattern::Ip(ip),
            },
        };
        Ok(OutboundRule { scheme, host, port })
    }
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Subdomains(parent) => write!(f, "*.{parent}")?,
            HostPattern::Name(name) => f.write_str(name)?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            HostPattern::Ip(ip) => write!(f, "{ip}")?,
        }
        match self.port {
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Port(port) if port == self.scheme.default_port() => Ok(()),
            PortPattern::Port(port) => write!(f, ":{port}"),
        }
    }
}

impl Serialize for OutboundRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OutboundRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OutboundRule, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> OutboundRule {
        text.parse().unwrap()
    }

    fn name(host: &str) -> Destination {
        Destination::parse(host).unwrap()
    }

    #[test]
    fn rules_parse_and_print_back() {
        for text in [
            "https://api.example.com",
            "http://api.example.com:8080",
            "https://*.example.com",
            "http://*:*",
            "http://127.0.0.1:8081",
            "https://[fd00::5]:8443",
            "http://[::1]",
        ] {
            assert_eq!(rule(text).to_string(), text);
        }
        assert_eq!(
            rule("HTTPS://API.Example.COM.:443").to_string(),
            "https://api.example.com"
        );
    }

    #[test]
    fn a_malformed_rule_says_what_is_wrong() {
        for (text, says) in [
            ("api.example.com", "scheme://host"),
            ("ftp://example.com", "`ftp` is not http or https"),
            ("https://example.com/path", "without a path"),
            ("https://user@example.com", "without a path, user"),
            ("https://example.com:0", "is not a port"),
            ("https://example.com:99999", "is not a port"),
            ("https://ex*ample.com", "the whole host or the first label"),
            ("https://*.10.0.0.1", "goes before a name, not an address"),
            ("https://", "the host is empty"),
            ("https://[fe80::1%25eth0]", "zone id"),
            ("http://2130706433", "is a number"),
            ("http://ex ample.com", "is not a host name"),
        ] {
            let error = text.parse::<OutboundRule>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn a_rule_allows_its_scheme_host_and_port_only() {
        let api = rule("https://api.example.com");
        assert!(api.allows(OutboundScheme::Https, &name("api.example.com"), 443));
        assert!(api.allows(OutboundScheme::Https, &name("API.example.com."), 443));
        assert!(!api.allows(OutboundScheme::Http, &name("api.example.com"), 443));
        assert!(!api.allows(OutboundScheme::Https, &name("api.example.com"), 8443));
        assert!(!api.allows(OutboundScheme::Https, &name("x.api.example.com"), 443));
        assert!(!api.allows(
            OutboundScheme::Https,
            &name("api.example.com.evil.net"),
            443
        ));

        let subdomains = rule("https://*.example.com:*");
        assert!(subdomains.allows(OutboundScheme::Https, &name("a.example.com"), 1));
        assert!(subdomains.allows(OutboundScheme::Https, &name("a.b.example.com"), 443));
        assert!(!subdomains.allows(OutboundScheme::Https, &name("example.com"), 443));
        assert!(!subdomains.allows(OutboundScheme::Https, &name("badexample.com"), 443));

        let literal = rule("http://127.0.0.1:8081");
        let loopback = Destination::parse("127.0.0.1").unwrap();
        assert!(literal.allows(OutboundScheme::Http, &loopback, 8081));
        assert!(!literal.allows(OutboundScheme::Http, &name("localhost"), 8081));
        assert!(literal.names("127.0.0.1".parse().unwrap()));
        assert!(literal.names("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!rule("http://*:*").names("127.0.0.1".parse().unwrap()));
    }
}
