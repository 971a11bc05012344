//! IP ranges as sets: whether some CIDRs, taken together, cover the whole IPv4 or IPv6
//! internet. World-open is a question of coverage, not of a string: `0.0.0.0/1` and
//! `128.0.0.0/1` in one call open the internet as surely as `0.0.0.0/0`, and so does any `/0`
//! whatever its address bits (`10.0.0.0/0`).

use std::net::{Ipv4Addr, Ipv6Addr};

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// A parsed CIDR: its family, prefix length and the first and last address it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// IPv4 or IPv6.
    pub family: Family,
    /// Prefix length.
    pub prefix: u8,
    /// First address (as a number).
    pub first: u128,
    /// Last address.
    pub last: u128,
}

/// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a /32 or /128); `None` for anything else.
pub fn parse(cidr: &str) -> Option<Range> {
    let cidr = cidr.trim();
    let (addr, prefix) = match cidr.split_once('/') {
        Some((a, p)) => (a, Some(p.trim().parse::<u8>().ok()?)),
        None => (cidr, None),
    };
    let (family, bits, value) = if let Ok(a) = addr.parse::<Ipv4Addr>() {
        (Family::V4, 32u8, u128::from(u32::from(a)))
    } else {
        let a = addr.parse::<Ipv6Addr>().ok()?;
        (Family::V6, 128u8, u128::from(a))
    };
    let prefix = prefix.unwrap_or(bits);
    if prefix > bits {
        return None;
    }
    let host_bits = u32::from(bits - prefix);
    let span: u128 = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    let first = value & !span;
    let top = if bits == 32 { u128::from(u32::MAX) } else { u128::MAX };
    Some(Range { family, prefix, first: first & top, last: (first | span) & top })
}

/// Whether one CIDR is a whole address space by itself: any `/0`.
pub fn is_world(cidr: &str) -> bool {
    parse(cidr).is_some_and(|r| r.prefix == 0)
}

/// Whether the CIDRs together cover every IPv4 address, or every IPv6 address.
pub fn covers_world<'a>(cidrs: impl IntoIterator<Item = &'a str>) -> bool {
    let mut v4 = vec![];
    let mut v6 = vec![];
    for r in cidrs.into_iter().filter_map(parse) {
        match r.family {
            Family::V4 => v4.push((r.first, r.last)),
            Family::V6 => v6.push((r.first, r.last)),
        }
    }
    covers(v4, u128::from(u32::MAX)) || covers(v6, u128::MAX)
}

fn covers(mut ranges: Vec<(u128, u128)>, top: u128) -> bool {
    ranges.sort_unstable();
    let mut next: u128 = 0;
    for (first, last) in ranges {
        if first > next {
            return false;
        }
        if last >= next {
            if last == top {
                return true;
            }
            next = last + 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_of_the_internet_in_one_call_cover_it() {
        assert!(covers_world(["0.0.0.0/1", "128.0.0.0/1"]));
        assert!(covers_world(["::/1", "8000::/1"]));
        assert!(covers_world(["0.0.0.0/0"]));
        assert!(covers_world(["10.0.0.0/0"]));
        assert!(covers_world(["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"]));
    }

    #[test]
    fn a_gap_or_a_single_half_does_not_cover_the_internet() {
        assert!(!covers_world(["0.0.0.0/1"]));
        assert!(!covers_world(["0.0.0.0/1", "128.0.0.0/2"]));
        assert!(!covers_world(["0.0.0.0/1", "8000::/1"]));
        assert!(!covers_world(["10.0.0.0/8", "not a cidr"]));
        assert!(!covers_world([]));
    }

    #[test]
    fn any_slash_zero_is_the_world_whatever_its_address_bits() {
        assert!(is_world("0.0.0.0/0"));
        assert!(is_world("1.2.3.4/0"));
        assert!(is_world("::/0"));
        assert!(is_world("2001:db8::/0"));
        assert!(!is_world("0.0.0.0/1"));
        assert!(!is_world("0.0.0.0"));
        assert!(!is_world("0.0.0.0/33"));
    }
}
