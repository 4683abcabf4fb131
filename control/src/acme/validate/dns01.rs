//! DNS for validation: the addresses http-01 and tls-alpn-01 connect to,
//! and dns-01 (RFC 8555 §8.4): a TXT record at `_acme-challenge.{name}`
//! holding base64url(SHA-256(key authorization)). Nothing is cached: a
//! record the client just published must be seen.

use crate::acme::jws::b64_encode;
use crate::acme::problem::{Kind, Problem};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A resolver asking `server` (the system's name servers without one).
pub fn resolver(server: Option<SocketAddr>) -> anyhow::Result<TokioResolver> {
    let mut builder = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut ns.connections {
                connection.port = addr.port();
            }
            let config = ResolverConfig::from_parts(None, Vec::new(), vec![ns]);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        }
        None => TokioResolver::builder_tokio()?,
    };
    let options = builder.options_mut();
    options.cache_size = 0;
    options.timeout = Duration::from_secs(5);
    options.attempts = 2;
    options.use_hosts_file = ResolveHosts::Never;
    Ok(builder.build()?)
}

fn dns_problem(detail: String) -> Problem {
    Problem::new(Kind::Dns, detail)
}

fn no_resolver() -> Problem {
    dns_problem("the server has no DNS resolver configured".into())
}

/// A name's IPv6 and IPv4 addresses.
pub async fn addresses(resolver: Option<&TokioResolver>, name: &str) -> Result<Vec<IpAddr>, Problem> {
    let resolver = resolver.ok_or_else(no_resolver)?;
    let found = resolver
        .lookup_ip(format!("{name}."))
        .await
        .map_err(|e| dns_problem(format!("no address for {name}: {e}")))?;
    let addresses: Vec<IpAddr> = found.iter().collect();
    if addresses.is_empty() {
        return Err(dns_problem(format!("no address for {name}")));
    }
    Ok(addresses)
}

pub async fn validate(
    resolver: Option<&TokioResolver>,
    name: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    let resolver = resolver.ok_or_else(no_resolver)?;
    let record = format!("_acme-challenge.{name}.");
    let expected =
        b64_encode(ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes()).as_ref());
    let found = resolver.txt_lookup(record.as_str()).await.map_err(|e| {
        if e.is_no_records_found() {
            Problem::new(Kind::Unauthorized, format!("no TXT record at {record}"))
        } else {
            dns_problem(format!("looking up TXT {record}: {e}"))
        }
    })?;
    let matches = found.answers().iter().any(|answer| match &answer.data {
        RData::TXT(txt) => txt.txt_data.concat() == expected.as_bytes(),
        _ => false,
    });
    if matches {
        return Ok(());
    }
    Err(Problem::new(Kind::Unauthorized, format!("no TXT record at {record} holds the expected value")))
}
