//! The `ipaddr` and `decimal` extension types.

use std::fmt;
use std::net::IpAddr;

/// An `ipaddr` value: an IPv4 or IPv6 address with a prefix length
/// (`ip("10.0.0.1")` is a /32, `ip("10.0.0.0/8")` a range).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or one with `/n`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                if p.len() > 1 && p.starts_with('0') {
                    return None;
                }
                let n: u8 = p.parse().ok()?;
                if n > max {
                    return None;
                }
                n
            }
        };
        Some(IpNet { addr, prefix })
    }

    /// The address part.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn bits(&self) -> (u128, u32) {
        match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// The first and last address of the range, and the address width.
    fn range(&self) -> (u128, u128, u32) {
        let (v, width) = self.bits();
        let host_bits = width.saturating_sub(u32::from(self.prefix));
        let mask: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        (v & !mask, v | mask, width)
    }

    /// Whether this is an IPv4 value.
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether this is an IPv6 value.
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// Whether every address of this range lies within `other`'s range.
    pub fn is_in_range(&self, other: &IpNet) -> bool {
        let (lo, hi, w) = self.range();
        let (olo, ohi, ow) = other.range();
        w == ow && olo <= lo && hi <= ohi
    }

    /// Whether the range lies in the loopback range (`127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        let lb = match self.addr {
            IpAddr::V4(_) => IpNet {
                addr: IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            IpAddr::V6(_) => IpNet {
                addr: IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        };
        self.is_in_range(&lb)
    }

    /// Whether the range lies in the multicast range (`224.0.0.0/4`, `ff00::/8`).
    pub fn is_multicast(&self) -> bool {
        let mc = match self.addr {
            IpAddr::V4(_) => IpNet {
                addr: IpAddr::V4(std::net::Ipv4Addr::new(224, 0, 0, 0)),
                prefix: 4,
            },
            IpAddr::V6(_) => IpNet {
                addr: IpAddr::V6(std::net::Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)),
                prefix: 8,
            },
        };
        self.is_in_range(&mc)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A `decimal` value: a fixed-point number with four fractional digits,
/// in the range of an `i64` divided by 10,000.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Decimal(i64);

impl Decimal {
    /// Parses Cedar's decimal syntax: `-?digits.digits` with one to four
    /// fractional digits.
    pub fn parse(s: &str) -> Option<Decimal> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.')?;
        if int.is_empty()
            || frac.is_empty()
            || frac.len() > 4
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut v: i64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            v = v.checked_mul(10)?;
            let d = i64::from(b - b'0');
            v = if neg {
                v.checked_sub(d)?
            } else {
                v.checked_add(d)?
            };
        }
        for _ in frac.len()..4 {
            v = v.checked_mul(10)?;
        }
        Some(Decimal(v))
    }

    /// The value times 10,000.
    pub fn scaled(&self) -> i64 {
        self.0
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:04}", a / 10_000, a % 10_000)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges() {
        let a = IpNet::parse("10.1.2.3").unwrap();
        let r = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(a.is_in_range(&r));
        assert!(!r.is_in_range(&a));
        assert!(r.is_in_range(&r));
        assert!(!IpNet::parse("192.168.1.1").unwrap().is_in_range(&r));
        assert!(IpNet::parse("127.0.0.1").unwrap().is_loopback());
        assert!(IpNet::parse("::1").unwrap().is_loopback());
        assert!(IpNet::parse("224.1.1.1").unwrap().is_multicast());
        assert!(IpNet::parse("ff02::1").unwrap().is_multicast());
        assert!(!IpNet::parse("::1").unwrap().is_in_range(&r));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        assert!(IpNet::parse("010.0.0.1").is_none());
        assert!(IpNet::parse("1.2.3.4/").is_none());
        assert!(IpNet::parse("::/0").unwrap().is_ipv6());
    }

    #[test]
    fn decimals() {
        assert_eq!(Decimal::parse("1.5").unwrap().scaled(), 15000);
        assert_eq!(Decimal::parse("-0.0001").unwrap().scaled(), -1);
        assert_eq!(Decimal::parse("-1.23").unwrap().to_string(), "-1.2300");
        assert!(Decimal::parse("1.23456").is_none());
        assert!(Decimal::parse("1").is_none());
        assert!(Decimal::parse(".1").is_none());
        assert!(Decimal::parse("922337203685477.5807").is_some());
        assert!(Decimal::parse("922337203685477.5808").is_none());
        assert!(Decimal::parse("-922337203685477.5808").is_some());
    }
}
