//! CRLs per issuer: every revoked, unexpired certificate with its reason,
//! signed by the issuing CA. Published beside the OCSP segments whenever a
//! batch carries revocations, and at least daily; `cartorio crl` makes one
//! on demand.

use crate::ca::CaMaterial;
use crate::registry::Registry;
use anyhow::Context;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::crl::{CrlTemplate, RevokedEntry, build_crl};

/// nextUpdate - thisUpdate: 7 days (the Baseline Requirements allow 10).
pub const CRL_VALIDITY_SECS: i64 = 7 * 24 * 3600;
/// A CRL is re-published at least this often, revocations or not.
pub const CRL_REFRESH_SECS: i64 = 24 * 3600;

/// Object-store key of an issuer's full CRL (DER).
pub fn crl_key(issuer_id: &str) -> String {
    format!("crl/{issuer_id}.crl")
}

/// A signed CRL and how many certificates it lists.
pub struct IssuedCrl {
    pub der: Vec<u8>,
    pub entries: usize,
}

/// The issuer's full CRL at `now`. The CRL number is the issue time
/// in microseconds: strictly increasing without shared state, as Boulder
/// derives it.
pub fn issue(registry: &mut Registry, ca: &CaMaterial, now_micros: i64) -> anyhow::Result<IssuedCrl> {
    let now = now_micros.div_euclid(1_000_000);
    let revoked = registry
        .revoked(&ca.issuer_id, now)?
        .into_iter()
        .map(|(serial, revoked_at, reason)| {
            let serial = hex::decode(&serial).with_context(|| format!("serial {serial} is not hex"))?;
            Ok(RevokedEntry { serial, revoked_at, reason })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let issuer = CertificateView::parse(&ca.issuer_der).context("issuer certificate")?;
    let key_id = cartorio_pkix::cert::key_id(issuer.spki)?;
    let template = CrlTemplate {
        issuer: issuer.subject,
        issuer_key_id: &key_id,
        this_update: now,
        next_update: now + CRL_VALIDITY_SECS,
        number: u64::try_from(now_micros).unwrap_or(0),
        revoked: &revoked,
    };
    let der = build_crl(&template, &*ca.issuer_signer)?;
    let event = crate::audit::Event {
        kind: "crl.issue",
        actor: "control",
        detail: serde_json::json!({"issuer": ca.issuer_id, "number": template.number, "entries": revoked.len()}),
    };
    registry.audited(&event, now, |_| Ok(()))?;
    metrics::counter!("cartorio_crl_issued_total").increment(1);
    metrics::gauge!("cartorio_crl_entries").set(revoked.len() as f64);
    Ok(IssuedCrl { der, entries: revoked.len() })
}
