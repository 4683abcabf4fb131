//! Stage 0, admission by address, for every ingest request before it
//! authenticates and before its body is read: the listener's deny and allow
//! lists, GCRA per client address and per network prefix (/24 and /64 by
//! default: one host's neighbours share a budget, so rotating through a
//! subnet does not multiply it), and a cap on requests in flight that have
//! not authenticated yet. The address is the client's after the PROXY
//! protocol and trusted `X-Forwarded-For`.

use crate::netlist::{Listed, Lists};
use crate::ratelimit::{Decision, Gcra, Limiter};
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `[addresses]` in the gateway's TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressConfig {
    /// Requests per second per client address (absent: no per-address limit).
    #[serde(default)]
    pub rate_per_sec: Option<f64>,
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Requests per second per network prefix (absent: none).
    #[serde(default)]
    pub prefix_rate_per_sec: Option<f64>,
    #[serde(default = "default_prefix_burst")]
    pub prefix_burst: u32,
    #[serde(default = "default_ipv4_prefix")]
    pub ipv4_prefix: u8,
    #[serde(default = "default_ipv6_prefix")]
    pub ipv6_prefix: u8,
    /// Networks allowed (one per line); absent: every address.
    #[serde(default)]
    pub allow_file: Option<PathBuf>,
    /// Networks refused (one per line); wins over the allow list.
    #[serde(default)]
    pub deny_file: Option<PathBuf>,
    /// Requests in flight that have not authenticated yet; beyond, 503.
    #[serde(default = "default_max_unauthenticated")]
    pub max_unauthenticated_in_flight: usize,
}

fn default_burst() -> u32 {
    100
}
fn default_prefix_burst() -> u32 {
    1000
}
fn default_ipv4_prefix() -> u8 {
    24
}
fn default_ipv6_prefix() -> u8 {
    64
}
fn default_max_unauthenticated() -> usize {
    1024
}

impl Default for AddressConfig {
    fn default() -> Self {
        Self {
            rate_per_sec: None,
            burst: default_burst(),
            prefix_rate_per_sec: None,
            prefix_burst: default_prefix_burst(),
            ipv4_prefix: default_ipv4_prefix(),
            ipv6_prefix: default_ipv6_prefix(),
            allow_file: None,
            deny_file: None,
            max_unauthenticated_in_flight: default_max_unauthenticated(),
        }
    }
}

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Listed(Listed),
    /// Over the per-address (`prefix: false`) or per-prefix limit; ns to wait.
    RateLimited {
        prefix: bool,
        retry_after: u64,
    },
    /// Too many unauthenticated requests in flight.
    Busy,
}

/// The compiled `[addresses]`, with its state.
pub struct Addresses {
    pub lists: Lists,
    per_address: Option<Gcra>,
    per_prefix: Option<Gcra>,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
    limiter: Limiter,
    unauthenticated: Arc<AtomicUsize>,
    max_unauthenticated: usize,
}

fn gcra(rate: Option<f64>, burst: u32, what: &str) -> anyhow::Result<Option<Gcra>> {
    match rate {
        Some(r) if r.is_nan() || r <= 0.0 || burst == 0 => {
            anyhow::bail!("[addresses] {what}: the rate and burst must be positive")
        }
        Some(r) => Ok(Some(Gcra::new(r, burst))),
        None => Ok(None),
    }
}

impl Addresses {
    pub fn build(config: &AddressConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.ipv4_prefix <= 32 && config.ipv6_prefix <= 128,
            "[addresses] ipv4_prefix is at most 32 and ipv6_prefix at most 128"
        );
        Ok(Self {
            lists: Lists::open(config.allow_file.as_deref(), config.deny_file.as_deref())?,
            per_address: gcra(config.rate_per_sec, config.burst, "rate_per_sec")?,
            per_prefix: gcra(config.prefix_rate_per_sec, config.prefix_burst, "prefix_rate_per_sec")?,
            ipv4_prefix: config.ipv4_prefix,
            ipv6_prefix: config.ipv6_prefix,
            limiter: Limiter::default(),
            unauthenticated: Arc::new(AtomicUsize::new(0)),
            max_unauthenticated: config.max_unauthenticated_in_flight,
        })
    }

    /// Lists, then the address's limit, then its prefix's: an address
    /// over its own limit does not spend its neighbours' budget.
    pub fn admit(&self, ip: IpAddr, now_ns: u64) -> Result<(), Refused> {
        self.lists.check(ip).map_err(Refused::Listed)?;
        let ip = canonical(ip);
        if let Some(gcra) = &self.per_address
            && let Decision::Deny { retry_after } = self.limiter.check(&(0u8, ip), gcra, now_ns)
        {
            return Err(Refused::RateLimited { prefix: false, retry_after });
        }
        if let Some(gcra) = &self.per_prefix {
            let prefix = ipnet::IpNet::new(ip, self.prefix_len(ip)).map(|n| n.trunc()).ok();
            if let Decision::Deny { retry_after } = self.limiter.check(&(1u8, prefix), gcra, now_ns) {
                return Err(Refused::RateLimited { prefix: true, retry_after });
            }
        }
        Ok(())
    }

    fn prefix_len(&self, ip: IpAddr) -> u8 {
        if ip.is_ipv4() { self.ipv4_prefix } else { self.ipv6_prefix }
    }

    /// A place among the unauthenticated requests, held until the request
    /// authenticates (or is refused).
    pub fn enter_unauthenticated(&self) -> Result<Unauthenticated, Refused> {
        if self.unauthenticated.fetch_add(1, Ordering::AcqRel) >= self.max_unauthenticated {
            self.unauthenticated.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Busy);
        }
        Ok(Unauthenticated(self.unauthenticated.clone()))
    }

    /// Drops limiter keys whose TAT has passed.
    pub fn sweep(&self, now_ns: u64) {
        self.limiter.sweep(now_ns);
    }

    /// Limiter keys held (addresses and prefixes seen within their window).
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }
}

/// A v4-mapped IPv6 peer is its IPv4 address (one budget, one /24).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One unauthenticated request in flight; dropping it frees the place.
pub struct Unauthenticated(Arc<AtomicUsize>);

impl Drop for Unauthenticated {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn an_address_and_its_neighbours_share_the_prefix_budget() {
        let config = AddressConfig {
            rate_per_sec: Some(1.0),
            burst: 2,
            prefix_rate_per_sec: Some(1.0),
            prefix_burst: 5,
            ..AddressConfig::default()
        };
        let a = Addresses::build(&config).expect("build");
        let now = 10 * SECOND;
        assert_eq!(a.admit(ip("192.0.2.1"), now), Ok(()));
        assert_eq!(a.admit(ip("192.0.2.1"), now), Ok(()));
        assert!(matches!(a.admit(ip("192.0.2.1"), now), Err(Refused::RateLimited { prefix: false, .. })));
        // Its refused request was not charged to the /24: its neighbours
        // take the rest of the network's burst of 5, then all are refused.
        assert_eq!(a.admit(ip("192.0.2.2"), now), Ok(()));
        assert_eq!(a.admit(ip("::ffff:192.0.2.3"), now), Ok(()));
        assert_eq!(a.admit(ip("192.0.2.4"), now), Ok(()));
        assert!(matches!(a.admit(ip("192.0.2.5"), now), Err(Refused::RateLimited { prefix: true, .. })));
        assert_eq!(a.admit(ip("192.0.3.1"), now), Ok(()), "another /24");
        // IPv6: the /64 is the unit.
        for host in 1..=5 {
            assert_eq!(a.admit(ip(&format!("2001:db8:0:1::{host}")), now), Ok(()));
        }
        assert!(matches!(
            a.admit(ip("2001:db8:0:1::99"), now),
            Err(Refused::RateLimited { prefix: true, .. })
        ));
        assert_eq!(a.admit(ip("2001:db8:0:2::1"), now), Ok(()));
    }

    #[test]
    fn unauthenticated_places_are_capped_and_freed() {
        let a = Addresses::build(&AddressConfig { max_unauthenticated_in_flight: 2, ..Default::default() })
            .expect("build");
        let first = a.enter_unauthenticated().expect("first");
        let _second = a.enter_unauthenticated().expect("second");
        assert!(matches!(a.enter_unauthenticated(), Err(Refused::Busy)));
        drop(first);
        assert!(a.enter_unauthenticated().is_ok());
    }

    #[test]
    fn a_million_addresses_fit_in_tens_of_megabytes() {
        let config = AddressConfig { rate_per_sec: Some(10.0), burst: 20, ..Default::default() };
        let a = Addresses::build(&config).expect("build");
        for n in 0..1_000_000u32 {
            assert_eq!(a.admit(IpAddr::from(n.wrapping_mul(2_654_435_761).to_be_bytes()), SECOND), Ok(()));
        }
        assert_eq!(a.keys(), 1_000_000);
        a.sweep(10 * SECOND);
        assert_eq!(a.keys(), 0, "idle addresses leave the table");
    }
}
