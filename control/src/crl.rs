//! CRLs per issuing CA: every revoked, unexpired certificate with its
//! reason, signed by the CA that issued it. Published beside the OCSP
//! segments whenever a batch carries revocations, and at least daily;
//! `cartorio crl` makes one on demand. The responder serves them at
//! `/crl/{issuer}.crl` and `/crl/{issuer}/{shard}.crl`.

use crate::ca::IssuingCa;
use crate::registry::Registry;
use anyhow::Context;
use cartorio_pkix::crl::{CrlTemplate, RevokedEntry, build_crl};

/// nextUpdate - thisUpdate: 7 days (the Baseline Requirements allow 10).
pub const CRL_VALIDITY_SECS: i64 = 7 * 24 * 3600;
/// A CRL is re-published at least this often, revocations or not.
pub const CRL_REFRESH_SECS: i64 = 24 * 3600;

/// Object-store key of an issuing CA's full CRL (DER), by its name.
pub fn crl_key(issuer: &str) -> String {
    format!("crl/{issuer}.crl")
}

/// Object-store key of an issuing CA's certificate (DER), by its name.
pub fn ca_key(issuer: &str) -> String {
    format!("ca/{issuer}.cer")
}

/// CRLs partitioned by serial: each certificate names its shard's URL in
/// cRLDistributionPoints, each shard CRL names the same URL in its critical
/// issuingDistributionPoint. Serials are random, so shards stay even. The
/// shards are published under `crl/{issuer_id}/{shard}.crl`; `url` is where
/// the operator serves that prefix (a CDN in front of the bucket, as Boulder
/// does), so the URL of a shard is `{url}/{issuer_id}/{shard}.crl`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlSharding {
    pub shards: u32,
    pub url: String,
}

impl CrlSharding {
    /// The shard of a serial (big-endian magnitude): its low 64 bits mod shards.
    pub fn shard_of(&self, serial: &[u8]) -> u32 {
        let low = serial.iter().rev().take(8).rev().fold(0u64, |n, b| (n << 8) | u64::from(*b));
        u32::try_from(low % u64::from(self.shards.max(1))).unwrap_or(0)
    }

    pub fn shard_url(&self, issuer: &str, shard: u32) -> String {
        format!("{}/{issuer}/{shard}.crl", self.url.trim_end_matches('/'))
    }

    pub fn shard_key(issuer: &str, shard: u32) -> String {
        format!("crl/{issuer}/{shard}.crl")
    }
}

/// A signed CRL and how many certificates it lists.
pub struct IssuedCrl {
    pub der: Vec<u8>,
    pub entries: usize,
}

/// The issuer's full CRL at `now`. The CRL number is the issue time
/// in microseconds: strictly increasing without shared state, as Boulder
/// derives it.
pub fn issue(registry: &mut Registry, ca: &IssuingCa, now_micros: i64) -> anyhow::Result<IssuedCrl> {
    let revoked = revoked(registry, ca, now_micros)?;
    sign(registry, ca, now_micros, &revoked, None)
}

/// Every shard's CRL at `now` (shard number, CRL), when the CA shards.
pub fn issue_shards(
    registry: &mut Registry,
    ca: &IssuingCa,
    sharding: Option<&CrlSharding>,
    now_micros: i64,
) -> anyhow::Result<Vec<(u32, IssuedCrl)>> {
    let Some(sharding) = sharding else { return Ok(Vec::new()) };
    let mut by_shard: Vec<Vec<RevokedEntry>> = vec![Vec::new(); sharding.shards.max(1) as usize];
    for entry in revoked(registry, ca, now_micros)? {
        if let Some(shard) = by_shard.get_mut(sharding.shard_of(&entry.serial) as usize) {
            shard.push(entry);
        }
    }
    let mut out = Vec::with_capacity(by_shard.len());
    for (shard, entries) in (0u32..).zip(by_shard) {
        let url = sharding.shard_url(&ca.name, shard);
        out.push((shard, sign(registry, ca, now_micros, &entries, Some(&url))?));
    }
    Ok(out)
}

/// One shard's CRL at `now` under `sharding` (`cartorio crl --shard`).
pub fn issue_shard(
    registry: &mut Registry,
    ca: &IssuingCa,
    sharding: &CrlSharding,
    shard: u32,
    now_micros: i64,
) -> anyhow::Result<IssuedCrl> {
    anyhow::ensure!(shard < sharding.shards, "shard {shard} of {}: shards count from 0", sharding.shards);
    let mut entries = revoked(registry, ca, now_micros)?;
    entries.retain(|e| sharding.shard_of(&e.serial) == shard);
    sign(registry, ca, now_micros, &entries, Some(&sharding.shard_url(&ca.name, shard)))
}

fn revoked(registry: &mut Registry, ca: &IssuingCa, now_micros: i64) -> anyhow::Result<Vec<RevokedEntry>> {
    registry
        .revoked(&ca.id, now_micros.div_euclid(1_000_000))?
        .into_iter()
        .map(|(serial, revoked_at, reason)| {
            let serial = hex::decode(&serial).with_context(|| format!("serial {serial} is not hex"))?;
            Ok(RevokedEntry { serial, revoked_at, reason })
        })
        .collect()
}

/// Signs one CRL over `revoked` (a shard when `distribution_point` is set)
/// and records it in the audit log.
fn sign(
    registry: &mut Registry,
    ca: &IssuingCa,
    now_micros: i64,
    revoked: &[RevokedEntry],
    distribution_point: Option<&str>,
) -> anyhow::Result<IssuedCrl> {
    let now = now_micros.div_euclid(1_000_000);
    let template = CrlTemplate {
        issuer: &ca.subject,
        issuer_key_id: &ca.key_id,
        this_update: now,
        next_update: now + CRL_VALIDITY_SECS,
        number: u64::try_from(now_micros).unwrap_or(0),
        revoked,
        distribution_point,
    };
    let der = build_crl(&template, &*ca.signer)?;
    let event = crate::audit::Event {
        kind: "crl.issue",
        actor: "control",
        detail: serde_json::json!({"issuer": ca.name, "number": template.number, "entries": revoked.len(),
            "distribution_point": distribution_point}),
    };
    registry.audited(&event, now, |_| Ok(()))?;
    metrics::counter!("cartorio_crl_issued_total", "issuer" => ca.name.clone()).increment(1);
    if distribution_point.is_none() {
        metrics::gauge!("cartorio_crl_entries", "issuer" => ca.name.clone()).set(revoked.len() as f64);
        metrics::gauge!("cartorio_crl_this_update_seconds", "issuer" => ca.name.clone()).set(now as f64);
    }
    Ok(IssuedCrl { der, entries: revoked.len() })
}

#[cfg(test)]
mod tests {
    use super::CrlSharding;

    #[test]
    fn serials_spread_over_every_shard_and_stay_put() {
        let sharding = CrlSharding { shards: 8, url: "http://crl.example.test/".into() };
        let mut seen = [0u32; 8];
        for i in 0u64..8_000 {
            let serial = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_be_bytes();
            let shard = sharding.shard_of(&serial);
            assert_eq!(shard, sharding.shard_of(&serial));
            seen[shard as usize] += 1;
        }
        assert!(seen.iter().all(|n| (800..1200).contains(n)), "{seen:?}");
        assert_eq!(sharding.shard_url("ab", 3), "http://crl.example.test/ab/3.crl");
        assert_eq!(CrlSharding { shards: 0, ..sharding }.shard_of(&[1, 2, 3]), 0);
    }
}
