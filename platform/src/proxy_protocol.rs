//! The PROXY protocol (HAProxy, versions 1 and 2), sans I/O: a load balancer
//! sends it first on each connection to say whom it is relaying. Listeners
//! configured for it refuse a connection whose header is missing or
//! malformed; a `LOCAL` (v2) or `UNKNOWN` (v1) header means the balancer's
//! own connection (health checks): the TCP peer stands.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 header, CRLF included.
pub const V1_MAX: usize = 107;
/// Longest v2 address block accepted (TLVs included).
pub const V2_MAX_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// Neither signature: the client skipped the header.
    Missing,
    Malformed(&'static str),
}

/// What the first octets of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Which version the first 8 octets announce.
pub fn version(first8: &[u8]) -> Result<Version, ProxyError> {
    if first8.starts_with(b"PROXY ") {
        Ok(Version::V1)
    } else if first8.len() >= 8 && V2_SIGNATURE.starts_with(first8) {
        Ok(Version::V2)
    } else {
        Err(ProxyError::Missing)
    }
}

/// Parses a complete v1 line (`PROXY TCP4 src dst sport dport\r\n`).
/// `None` for `UNKNOWN`.
pub fn parse_v1(line: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let line = line.strip_suffix(b"\r\n").ok_or(ProxyError::Malformed("v1 line without CRLF"))?;
    let line = std::str::from_utf8(line).map_err(|_| ProxyError::Malformed("v1 not ASCII"))?;
    let mut fields = line.split(' ');
    if fields.next() != Some("PROXY") {
        return Err(ProxyError::Malformed("v1 prefix"));
    }
    let family = fields.next().ok_or(ProxyError::Malformed("v1 family"))?;
    if family == "UNKNOWN" {
        return Ok(None);
    }
    let (Some(src), Some(_dst), Some(sport), Some(_dport), None) =
        (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(ProxyError::Malformed("v1 field count"));
    };
    let ip: IpAddr = match family {
        "TCP4" => src.parse::<Ipv4Addr>().map(IpAddr::V4),
        "TCP6" => src.parse::<Ipv6Addr>().map(IpAddr::V6),
        _ => return Err(ProxyError::Malformed("v1 family")),
    }
    .map_err(|_| ProxyError::Malformed("v1 source address"))?;
    let port = sport.parse::<u16>().map_err(|_| ProxyError::Malformed("v1 source port"))?;
    Ok(Some(SocketAddr::new(ip, port)))
}

/// The length of the address block that follows a 16-octet v2 header.
pub fn v2_len(header: &[u8; 16]) -> Result<usize, ProxyError> {
    if header[..12] != V2_SIGNATURE {
        return Err(ProxyError::Missing);
    }
    if header[12] >> 4 != 2 {
        return Err(ProxyError::Malformed("v2 version"));
    }
    let len = usize::from(u16::from_be_bytes([header[14], header[15]]));
    if len > V2_MAX_LEN {
        return Err(ProxyError::Malformed("v2 length"));
    }
    Ok(len)
}

/// Parses a v2 header and its address block. `None` for `LOCAL` and for
/// families other than TCP/UDP over IPv4/IPv6 (the peer stands).
pub fn parse_v2(header: &[u8; 16], block: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let len = v2_len(header)?;
    if block.len() != len {
        return Err(ProxyError::Malformed("v2 block length"));
    }
    match header[12] & 0x0f {
        0 => return Ok(None),
        1 => {}
        _ => return Err(ProxyError::Malformed("v2 command")),
    }
    let octets =
        |range: std::ops::Range<usize>| block.get(range).ok_or(ProxyError::Malformed("v2 address block"));
    match header[13] >> 4 {
        1 => {
            let a = octets(0..12)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Ok(Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be_bytes([a[8], a[9]]))))
        }
        2 => {
            let a = octets(0..36)?;
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&a[..16]);
            Ok(Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), u16::from_be_bytes([a[32], a[33]]))))
        }
        _ => Ok(None),
    }
}

/// Property checked by the `proxy_header` fuzz target: any input is refused
/// or parsed, never a panic.
pub fn fuzz_check(data: &[u8]) {
    let _ = version(data.get(..8).unwrap_or(data));
    let _ = parse_v1(data);
    if let Some((head, block)) = data.split_first_chunk::<16>() {
        let _ = parse_v2(head, block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().expect("addr"))
    }

    #[test]
    fn v1_lines() {
        assert_eq!(parse_v1(b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n"), Ok(addr("203.0.113.7:51000")));
        assert_eq!(
            parse_v1(b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 443\r\n"),
            Ok(addr("[2001:db8::1]:4000"))
        );
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n"), Ok(None));
        for bad in [
            &b"PROXY TCP4 203.0.113.7 10.0.0.1 51000\r\n"[..],
            b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 70000 443\r\n",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\n",
            b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
        ] {
            assert!(parse_v1(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(version(b"GET / HT"), Err(ProxyError::Missing));
        assert_eq!(version(b"PROXY TC"), Ok(Version::V1));
    }

    #[test]
    fn v2_headers() {
        let mut head = [0u8; 16];
        head[..12].copy_from_slice(&V2_SIGNATURE);
        head[12] = 0x21; // v2, PROXY
        head[13] = 0x11; // TCP over IPv4
        head[14..].copy_from_slice(&12u16.to_be_bytes());
        let block = [203, 0, 113, 7, 10, 0, 0, 1, 0xc7, 0x38, 0x01, 0xbb];
        assert_eq!(version(&head[..8]), Ok(Version::V2));
        assert_eq!(parse_v2(&head, &block), Ok(addr("203.0.113.7:51000")));
        head[12] = 0x20; // LOCAL
        assert_eq!(parse_v2(&head, &block), Ok(None));
        head[12] = 0x31;
        assert!(parse_v2(&head, &block).is_err(), "version 3");
        head[12] = 0x21;
        assert!(parse_v2(&head, &block[..8]).is_err(), "short block");
        head[14..].copy_from_slice(&4000u16.to_be_bytes());
        assert_eq!(v2_len(&head), Err(ProxyError::Malformed("v2 length")));
    }
}
