//! Address access list checked when a connection is accepted, before a byte of it is read.
//!
//! Same meaning as Asterisk's `permit`/`deny` lists: every rule is tried in order and the **last** one that matches
//! the peer decides; a peer no rule matches is let in. So `deny 0.0.0.0/0, permit 10.0.0.0/8` lets only 10/8 in
//! over IPv4. IPv4 peers seen as IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are matched as IPv4.

use std::fmt;
use std::net::IpAddr;

/// One `permit`/`deny` rule: a network written as an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclRule {
    /// `true` for `permit`, `false` for `deny`.
    pub permit: bool,
    /// Network address (host bits cleared).
    pub net: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix: u8,
}

impl AclRule {
    fn matches(&self, peer: IpAddr) -> bool {
        match (self.net, unmap(peer)) {
            (IpAddr::V4(n), IpAddr::V4(p)) => mask_v4(u32::from(p), self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(p)) => mask_v6(u128::from(p), self.prefix) == u128::from(n),
            _ => false,
        }
    }
}

impl fmt::Display for AclRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sense = if self.permit { "permit" } else { "deny" };
        write!(f, "{sense} {}/{}", self.net, self.prefix)
    }
}

/// An ordered list of rules; empty lets every peer in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    /// Rules in the order written.
    pub rules: Vec<AclRule>,
}

impl Acl {
    /// Whether `peer` may connect: the sense of the last rule that matches it, else yes.
    #[must_use]
    pub fn allows(&self, peer: IpAddr) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|r| r.matches(peer))
            .is_none_or(|r| r.permit)
    }

    /// Parse `permit NET, deny NET, ...`; NET is an address with an optional `/prefix` (no prefix: the single
    /// address). Rules are separated by commas or semicolons. The error says what is allowed (no value echoed).
    pub fn parse(text: &str) -> Result<Acl, String> {
        const USAGE: &str = "expected rules like \"deny 0.0.0.0/0, permit 10.0.0.0/8, permit 127.0.0.1\" \
                             (permit or deny, then an IPv4 or IPv6 address with an optional /prefix; \
                             the last rule that matches a peer decides)";
        let mut rules = Vec::new();
        for (n, item) in text.split([',', ';']).map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let mut words = item.split_whitespace();
            let (Some(sense), Some(net), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!(
                    "rule {} is not \"permit NET\" or \"deny NET\"; {USAGE}",
                    n + 1
                ));
            };
            let permit = if sense.eq_ignore_ascii_case("permit") {
                true
            } else if sense.eq_ignore_ascii_case("deny") {
                false
            } else {
                return Err(format!(
                    "rule {} starts with neither permit nor deny; {USAGE}",
                    n + 1
                ));
            };
            let rule = parse_net(net)
                .map(|(net, prefix)| AclRule {
                    permit,
                    net,
                    prefix,
                })
                .map_err(|what| format!("rule {}: {what}; {USAGE}", n + 1))?;
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(format!("no rule given; {USAGE}"));
        }
        Ok(Acl { rules })
    }
}

fn parse_net(text: &str) -> Result<(IpAddr, u8), &'static str> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| "not an IP address")?;
    let addr = unmap(addr);
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse::<u8>()
            .ok()
            .filter(|&p| p <= max)
            .ok_or("prefix length out of range")?,
        Some(_) => return Err("the prefix after '/' must be a number of bits"),
    };
    let net = match addr {
        IpAddr::V4(a) => IpAddr::from(mask_v4(u32::from(a), prefix).to_be_bytes()),
        IpAddr::V6(a) => IpAddr::from(mask_v6(u128::from(a), prefix).to_be_bytes()),
    };
    Ok((net, prefix))
}

fn unmap(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

fn mask_v4(a: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => a & (u32::MAX << (32 - u32::from(p.min(32)))),
    }
}

fn mask_v6(a: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => a & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn last_match_wins_and_default_is_permit() {
        let acl = Acl::parse("deny 0.0.0.0/0, permit 10.1.0.0/16; deny 10.1.2.3").unwrap();
        assert!(!acl.allows(ip("192.168.1.1")));
        assert!(acl.allows(ip("10.1.9.9")));
        assert!(!acl.allows(ip("10.1.2.3")));
        assert!(acl.allows(ip("::ffff:10.1.9.9")), "mapped IPv4 is IPv4");
        assert!(acl.allows(ip("::1")), "no IPv6 rule: permitted");
        assert!(Acl::default().allows(ip("1.2.3.4")));
        let v6 = Acl::parse("deny ::/0, permit fe80::/10, permit ::1").unwrap();
        assert!(v6.allows(ip("fe80::1234")) && v6.allows(ip("::1")));
        assert!(!v6.allows(ip("2001:db8::1")) && v6.allows(ip("127.0.0.1")));
        assert_eq!(
            Acl::parse("permit 10.9.8.7/8").unwrap().rules[0].to_string(),
            "permit 10.0.0.0/8"
        );
    }

    #[test]
    fn refusals_say_what_is_allowed() {
        for bad in [
            "",
            " , ",
            "allow 1.2.3.4",
            "permit",
            "permit 1.2.3.4 x",
            "deny 1.2.3.4/33",
            "deny ::/129",
            "deny 1.2.3.4/",
            "deny 1.2.3.4/-1",
            "permit host.example",
            "deny 1.2.3.4/0x8",
        ] {
            let e = Acl::parse(bad).unwrap_err();
            assert!(e.contains("expected rules like"), "{bad}: {e}");
        }
    }
}
