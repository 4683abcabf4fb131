//! Server-side request forgery: a URL whose host is this machine, its
//! private network or a cloud metadata service, in any spelling an URL
//! parser accepts. Not a regex over spellings (`127.1`, `0x7f000001`,
//! `2130706433`, `0177.0.0.1`, `[::ffff:127.0.0.1]`, `[0:0::1]`,
//! `127.0.0.1.nip.io` ...): the host is parsed as `inet_aton` and an IPv6
//! parser would, and the address it names is checked against the ranges a
//! server can reach but the internet cannot.

use super::rules::{CRITICAL, Rule, Scope, View};
use super::{Class, Location};
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A URL to an internal address. Headers are left out: a `Referer` or
/// `Origin` naming an internal host is what browsers on an intranet send.
pub static INTERNAL_URL: Rule = Rule {
    id: 9530,
    class: Class::Ssrf,
    score: CRITICAL,
    view: View::Norm,
    scope: Scope::NotHeader,
    pattern: Cow::Borrowed(""),
};

/// Schemes a server-side fetch, include or proxy may follow.
const SCHEMES: [&str; 16] = [
    "http", "https", "ftp", "ftps", "sftp", "tftp", "gopher", "dict", "ldap", "ldaps", "ws", "wss", "smtp",
    "telnet", "netdoc", "jar",
];

/// Names that resolve to loopback or to metadata services wherever they are
/// looked up (public wildcard DNS for `127.0.0.1` included).
const INTERNAL_NAMES: [&str; 9] = [
    "localhost",
    "metadata",
    "instance-data",
    "metadata.google.internal",
    "localtest.me",
    "lvh.me",
    "vcap.me",
    "lacolhost.com",
    "kubernetes.default",
];

/// Suffixes of names that are never public: reserved (`.localhost`,
/// `.home.arpa`), service discovery's (`.svc`, `.consul`), and the private
/// ones ICANN will not delegate (`.corp`, `.lan`, `.intranet`).
const INTERNAL_SUFFIXES: [&str; 11] = [
    ".localhost",
    ".internal",
    ".localdomain",
    ".local",
    ".svc",
    ".cluster.local",
    ".consul",
    ".home.arpa",
    ".corp",
    ".lan",
    ".intranet",
];

/// Public DNS services that answer with the address written in the name
/// (`10.0.0.1.nip.io`, `app-127-0-0-1.sslip.io`, `7f000001.nip.io`).
const ADDRESS_IN_NAME: [&str; 4] = [".nip.io", ".sslip.io", ".xip.io", ".nip.direct"];

/// Longest authority read after a scheme: no host name is longer.
const MAX_AUTHORITY: usize = 256;

/// Most URLs read in one value: the work stays linear in its size.
const MAX_URLS: usize = 64;

/// Whether a value holds a URL to an internal address. Hosts are read from
/// the normalised value and, as the URL standard does, from the decoded
/// value with its tabs and line breaks removed (`localh%09ost`).
pub fn targets_internal(norm: &str, raw: &str, location: Location) -> bool {
    let url_like = norm.contains(':') || norm.contains("//") || norm.contains("\\\\");
    if !INTERNAL_URL.scope.allows(location) || !url_like {
        return false;
    }
    if hosts(norm).any(|h| host_is_internal(&h)) {
        return true;
    }
    // An ASCII value without tabs or line breaks reads the same both ways
    // (the normalised value only lowercases it, drops controls and joins
    // spaces, none of which can hide a host): one pass is enough.
    if raw.is_ascii() && !raw.contains(['\t', '\r', '\n']) {
        return false;
    }
    let whatwg: String =
        raw.chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect::<String>().to_lowercase();
    whatwg != norm && hosts(&whatwg).any(|h| host_is_internal(&h))
}

/// The hosts a URL parser could connect to, for every `scheme://` (any
/// scheme), every `scheme:host` of the fetched schemes, and a value opening
/// with `//host` or a UNC path's `\\host` (which Windows fetches over SMB).
/// Where parsers disagree (`a.com\@127.0.0.1`, `a.com#@127.0.0.1`: the URL
/// standard reads `a.com`, RFC 3986 parsers such as PHP's and urllib3 read
/// `127.0.0.1`), both are given.
fn hosts(text: &str) -> impl Iterator<Item = String> + '_ {
    let opening = text.trim_start();
    let relative = opening.strip_prefix("//").or_else(|| opening.strip_prefix("\\\\")).map(authority_hosts);
    let absolute = text.match_indices(':').filter_map(move |(colon, _)| {
        let before = text.get(..colon)?;
        let scheme_start =
            before.rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')));
        let scheme = before.get(scheme_start.map_or(0, |i| i + 1)..)?;
        let after = text.get(colon + 1..)?;
        let slashed = after.starts_with("//") || after.starts_with("\\\\") || after.starts_with("/\\");
        let valid = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
        (valid && (slashed || SCHEMES.contains(&scheme)))
            .then(|| authority_hosts(after.trim_start_matches(['/', '\\', ' '])))
    });
    relative.into_iter().chain(absolute.take(MAX_URLS)).flatten()
}

/// The candidate hosts of the text after `scheme://`.
fn authority_hosts(rest: &str) -> Vec<String> {
    let window: String = rest.chars().take(MAX_AUTHORITY).collect();
    let window = window.split_whitespace().next().unwrap_or_default();
    let end = window.find(['/', '?', '#', '\\', '"', '\'', '<', '>']).unwrap_or(window.len());
    let authority = window.get(..end).unwrap_or_default();
    let mut hosts = vec![strip_port(authority.rsplit_once('@').map_or(authority, |(_, h)| h)).to_string()];
    if let Some((_, after_at)) = window.rsplit_once('@') {
        let end = after_at.find(['/', '?', '#', '\\']).unwrap_or(after_at.len());
        hosts.push(strip_port(after_at.get(..end).unwrap_or_default()).to_string());
    }
    hosts
}

/// The host of `host[:port]`: inside the brackets of an IPv6 literal, or
/// before the first colon (`127.0.0.1:80:8080` is 127.0.0.1 to Python).
pub(super) fn strip_port(host_port: &str) -> &str {
    if let Some(inner) = host_port.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn host_is_internal(host: &str) -> bool {
    // Full-width digits and dots, circled letters...: as a resolver sees them.
    let ascii = if host.is_ascii() { None } else { idna::domain_to_ascii(host).ok() };
    let host = ascii.as_deref().unwrap_or(host).trim_end_matches('.');
    if host.is_empty() {
        return false;
    }
    let is_or_under =
        |name: &str| host.strip_suffix(name).is_some_and(|head| head.is_empty() || head.ends_with('.'));
    if INTERNAL_NAMES.iter().any(|n| is_or_under(n)) || INTERNAL_SUFFIXES.iter().any(|s| host.ends_with(s)) {
        return true;
    }
    if let Some(named) = ADDRESS_IN_NAME.iter().find_map(|s| host.strip_suffix(s)) {
        return address_in_name(named).is_some_and(v4_is_internal);
    }
    if let Some(v4) = inet_aton(host) {
        return v4_is_internal(v4);
    }
    let v6 = host.split('%').next().unwrap_or(host);
    v6.parse::<Ipv6Addr>().is_ok_and(v6_is_internal)
}

/// The address a wildcard-DNS name carries: its last four dotted or dashed
/// numbers, or a last label of eight hex digits.
fn address_in_name(name: &str) -> Option<Ipv4Addr> {
    let last = name.rsplit(['.', '-']).take(4).collect::<Vec<_>>();
    if let [d, c, b, a] = last.as_slice()
        && let Ok(v4) = format!("{a}.{b}.{c}.{d}").parse()
    {
        return Some(v4);
    }
    let label = name.rsplit('.').next()?;
    let label = label.rsplit('-').next()?;
    (label.len() == 8).then(|| u32::from_str_radix(label, 16).ok().map(Ipv4Addr::from)).flatten()
}

/// An IPv4 address as `inet_aton` (and so curl, browsers' URL parsers and
/// most HTTP clients) reads it: one to four parts, each decimal, octal
/// (`0` prefix) or hexadecimal (`0x`), the last filling the remaining bytes.
fn inet_aton(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        values.push(number(part)?);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 255) {
        return None;
    }
    let spare_bytes = 4 - leading.len();
    if spare_bytes < 4 && u64::from(*last) >= 1u64 << (8 * spare_bytes) {
        return None;
    }
    let mut addr: u32 = 0;
    for (i, v) in leading.iter().enumerate() {
        addr |= v << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(addr | last))
}

fn number(part: &str) -> Option<u32> {
    if let Some(hex) = part.strip_prefix("0x") {
        return if hex.is_empty() { Some(0) } else { u32::from_str_radix(hex, 16).ok() };
    }
    if part.len() > 1 && part.starts_with('0') {
        return u32::from_str_radix(part, 8).ok();
    }
    part.parse().ok()
}

/// Of 0.0.0.0/8 only 0.0.0.0 itself reaches this host; the rest is not
/// routed here (`HTTP:80/png`, a health-check target, reads as a URL to
/// 0.0.0.80 in the URL standard's lenient parse).
fn v4_is_internal(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, Alibaba's metadata
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
}

/// The IPv4 address two IPv6 segments carry.
fn v4_of(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

fn v6_is_internal(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_internal(v4);
    }
    let embedded_low = v4_of(seg[6], seg[7]);
    let compat = seg[..6].iter().all(|s| *s == 0) && seg[6] != 0;
    let nat64 = seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0);
    if compat || nat64 {
        return v4_is_internal(embedded_low);
    }
    if seg[0] == 0x2002 {
        return v4_is_internal(v4_of(seg[1], seg[2]));
    }
    // Teredo (2001:0::/32): the client's address, inverted, in the low bits.
    if seg[0] == 0x2001 && seg[1] == 0 {
        return v4_is_internal(v4_of(!seg[6], !seg[7]));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local, AWS's fd00:ec2::254
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] & 0xffc0) == 0xfec0 // site-local, deprecated but routed by some stacks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(value: &str) -> bool {
        targets_internal(&super::super::decode::normalize(value), value, Location::Query)
    }

    #[test]
    fn internal_hosts_in_any_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/admin",
            "http://0/",
            "http://0.0.0.0:8080/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0x0.0x0.0x1/",
            "http://0177.0.0.01/",
            "http://017700000001/",
            "http://[::1]:22/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://[2001:0000:4136:e378:8000:63bf:3f57:fdf2]/",
            "http://[fe80::1%25eth0]/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.100.100.200/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://localhost:6379/",
            "http://app.localhost/",
            "http://evil.example@127.0.0.1/",
            "http://user:pass@10.0.0.5:8443/x",
            "http://192.168.0.1/",
            "http://172.16.5.4/",
            "http://127.0.0.1.nip.io/",
            "http://app-10-0-0-1.sslip.io/",
            "http://7f000001.nip.io/",
            "http://localtest.me/",
            "gopher://127.0.0.1:6379/_info",
            "dict://localhost:11211/stat",
            "http:127.0.0.1",
            "http:/\\127.0.0.1/",
            "see http://localhost./x",
            "url=https://10.1.2.3",
            "http://evil.com\\@127.0.0.1/",
            "http://evil.com#@127.0.0.1/",
            "http://localh\tost/",
            "http://127.0.0.1:80:8080/",
            "imap://127.0.0.1/",
            "//169.254.169.254/latest/meta-data/",
            "\\\\127.0.0.1\\share",
            "http://consul.service.consul:8500/",
            "http://\u{ff11}\u{ff12}\u{ff17}\u{ff0e}\u{ff10}\u{ff0e}\u{ff10}\u{ff0e}\u{ff11}/",
            "HTTP://LOCALHOST/",
        ] {
            assert!(internal(url), "{url}");
        }
    }

    #[test]
    fn public_hosts_and_non_urls_are_not() {
        for value in [
            "https://0.gravatar.com/avatar/b68de5ae?d=https%3a%2f%2fidenticons.github.com%2ff.png",
            "https://api.github.com/users/stale%5bbot%5d",
            "http://8.8.8.8/",
            "http://[2001:db8::1]/",
            "http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/",
            "http://1.2.3.4.example.com/",
            "http://10.example.com/",
            "http://172.32.0.1/",
            "https://example.com:8443/path?x=127.0.0.1",
            "version 127.0.0.1 was released",
            "ratio 10:1",
            "mailto:user@localhost",
            "http://256.1.1.1/",
            "http://8.8.8.8.nip.io/",
        ] {
            assert!(!internal(value), "{value}");
        }
        assert!(!targets_internal("http://localhost/", "http://localhost/", Location::Header));
    }
}
