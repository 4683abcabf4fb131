//! Allow and deny lists of networks: a file of CIDRs (or bare addresses),
//! one per line, `#` comments; reloaded when the file changes. Lookup masks
//! the address once per prefix length the list holds and probes a hash set,
//! so a list of 100,000 networks costs a few probes, not a scan.

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use ipnet::IpNet;
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A set of networks.
#[derive(Debug, Default)]
pub struct NetSet {
    /// (is IPv4, prefix length, network addresses of that length).
    by_length: Vec<(bool, u8, HashSet<u128, foldhash::fast::FixedState>)>,
    networks: usize,
}

/// An address as 128 bits, IPv4 in the low 32 (tagged apart by `is_v4`).
fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (true, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // A v4-mapped peer (dual-stack socket) is its IPv4 address.
            Some(v4) => (true, u128::from(u32::from(v4))),
            None => (false, u128::from(v6)),
        },
    }
}

fn masked(value: u128, is_v4: bool, length: u8) -> u128 {
    let width = if is_v4 { 32 } else { 128 };
    let host_bits = u32::from(width - length.min(width));
    if host_bits >= 128 { 0 } else { (value >> host_bits) << host_bits }
}

impl NetSet {
    /// Parses a list: one network per line (`10.0.0.0/8`, `2001:db8::/32`,
    /// or an address alone for itself); blank lines and `#` comments skipped.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut set = Self::default();
        for (n, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => bail!("line {}: {entry:?} is not a network or an address", n + 1),
                },
            };
            set.insert(net);
        }
        Ok(set)
    }

    fn insert(&mut self, net: IpNet) {
        let (is_v4, value) = bits(net.network());
        let length = net.prefix_len();
        let key = masked(value, is_v4, length);
        match self.by_length.iter_mut().find(|(v4, l, _)| *v4 == is_v4 && *l == length) {
            Some((_, _, set)) => {
                set.insert(key);
            }
            None => self.by_length.push((is_v4, length, HashSet::from_iter([key]))),
        }
        self.networks += 1;
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (is_v4, value) = bits(ip);
        self.by_length
            .iter()
            .filter(|(v4, _, _)| *v4 == is_v4)
            .any(|(_, length, set)| set.contains(&masked(value, is_v4, *length)))
    }

    pub fn len(&self) -> usize {
        self.networks
    }

    pub fn is_empty(&self) -> bool {
        self.networks == 0
    }
}

/// A list read from a file, swapped whole when the file changes.
pub struct ListFile {
    path: PathBuf,
    set: ArcSwap<NetSet>,
    /// The file's modification time and length when last read.
    seen: Mutex<Option<(SystemTime, u64)>>,
}

impl ListFile {
    /// Reads `path`; a missing or malformed file stops the start.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let list = Self {
            path: path.to_owned(),
            set: ArcSwap::from_pointee(NetSet::default()),
            seen: Mutex::new(None),
        };
        list.reload().with_context(|| format!("network list {}", path.display()))?;
        Ok(list)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.set.load().contains(ip)
    }

    /// Reads the file again if it changed; `Ok(true)` when it was swapped.
    /// A file that no longer parses keeps the previous list (and says why).
    pub fn reload(&self) -> anyhow::Result<bool> {
        let meta = std::fs::metadata(&self.path)?;
        let stamp = (meta.modified()?, meta.len());
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if *seen == Some(stamp) {
            return Ok(false);
        }
        let text = std::fs::read_to_string(&self.path)?;
        let set = NetSet::parse(&text)?;
        self.set.store(Arc::new(set));
        *seen = Some(stamp);
        Ok(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A deny list and an allow list, either optional: denied when in the deny
/// list, or when an allow list exists and the address is not in it.
#[derive(Default)]
pub struct Lists {
    pub allow: Option<ListFile>,
    pub deny: Option<ListFile>,
}

/// Why [`Lists::check`] refused an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Denied,
    NotAllowed,
}

impl Lists {
    pub fn open(allow: Option<&Path>, deny: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self {
            allow: allow.map(ListFile::open).transpose()?,
            deny: deny.map(ListFile::open).transpose()?,
        })
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), Listed> {
        if self.deny.as_ref().is_some_and(|d| d.contains(ip)) {
            return Err(Listed::Denied);
        }
        if self.allow.as_ref().is_some_and(|a| !a.contains(ip)) {
            return Err(Listed::NotAllowed);
        }
        Ok(())
    }

    /// Re-reads changed files, logging what changed or could not be read.
    pub fn reload(&self) {
        for list in self.allow.iter().chain(self.deny.iter()) {
            match list.reload() {
                Ok(true) => {
                    tracing::info!(path = %list.path().display(), networks = list.set.load().len(), "network list reloaded")
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(path = %list.path().display(), error = format!("{error:#}"), "network list not reloaded; the previous one stays")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn networks_and_addresses_match_by_prefix() {
        let set = NetSet::parse("# ops\n10.0.0.0/8\n192.0.2.7 # one host\n\n2001:db8::/32\n198.51.100.0/24")
            .expect("list");
        assert_eq!(set.len(), 4);
        for hit in ["10.200.1.1", "192.0.2.7", "2001:db8:ffff::1", "198.51.100.255", "::ffff:10.1.2.3"] {
            assert!(set.contains(ip(hit)), "{hit}");
        }
        for miss in ["11.0.0.1", "192.0.2.8", "2001:db9::1", "198.51.101.0", "::a00:1"] {
            assert!(!set.contains(ip(miss)), "{miss}");
        }
        assert!(NetSet::parse("10.0.0.0/33").is_err());
        assert!(NetSet::parse("not-an-address").is_err());
        assert!(NetSet::parse("0.0.0.0/0").expect("all").contains(ip("203.0.113.1")));
        assert!(!NetSet::parse("0.0.0.0/0").expect("all v4").contains(ip("2001:db8::1")));
    }

    #[test]
    fn deny_wins_and_an_allow_list_admits_only_its_networks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (allow, deny) = (dir.path().join("allow"), dir.path().join("deny"));
        std::fs::write(&allow, "10.0.0.0/8\n").expect("write");
        std::fs::write(&deny, "10.9.0.0/16\n").expect("write");
        let lists = Lists::open(Some(&allow), Some(&deny)).expect("lists");
        assert_eq!(lists.check(ip("10.1.1.1")), Ok(()));
        assert_eq!(lists.check(ip("10.9.1.1")), Err(Listed::Denied));
        assert_eq!(lists.check(ip("192.0.2.1")), Err(Listed::NotAllowed));
        // Changed on disk: swapped; broken: the previous list stays.
        std::fs::write(&deny, "10.9.0.0/16\n10.1.0.0/16\n").expect("write");
        lists.reload();
        assert_eq!(lists.check(ip("10.1.1.1")), Err(Listed::Denied));
        std::fs::write(&deny, "garbage that is longer\n").expect("write");
        lists.reload();
        assert_eq!(lists.check(ip("10.1.1.1")), Err(Listed::Denied));
    }
}
