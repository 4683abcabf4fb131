//! Stage 1, identify: who is on the other end. The peer address, unless the
//! peer is a trusted proxy, in which case `X-Forwarded-For` is walked from
//! the right (each proxy appends the address it saw) to the first hop that
//! is not a trusted proxy. Anything else in the header is the client's own
//! claim and is ignored.

use ipnet::IpNet;
use std::net::IpAddr;

pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(list) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in list.rsplit(',') {
        // A hop we cannot read ends the walk: what lies left of it is unknowable.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let xff = Some("203.0.113.9, 10.1.1.1");
        assert_eq!(client_ip(ip("198.51.100.7"), xff, &trusted), ip("198.51.100.7"), "untrusted peer");
        assert_eq!(client_ip(ip("10.2.2.2"), xff, &trusted), ip("203.0.113.9"), "through two proxies");
        assert_eq!(client_ip(ip("10.2.2.2"), None, &trusted), ip("10.2.2.2"));
        // The client's own prefix is spoofable: the rightmost untrusted hop wins.
        assert_eq!(client_ip(ip("10.2.2.2"), Some("1.1.1.1, 203.0.113.9"), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.2.2.2"), Some("garbage, 10.1.1.1"), &trusted), ip("10.1.1.1"));
        assert_eq!(client_ip(ip("10.2.2.2"), Some("2001:db8::1"), &trusted), ip("2001:db8::1"));
    }
}
