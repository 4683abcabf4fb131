//! Cartorio renews the certificates it issues to itself before they
//! expire (see [`crate::ca::own`] for what and when). This is the loop's
//! body: renew what is due, have the pre-signer sign with a renewed OCSP
//! signer, and export every certificate's time to expiry as the gauge
//! `cartorio_certificate_expiry_seconds{certificate}`. After an OCSP signer
//! renewal every response is re-signed by the new signer, long before the
//! old one expires, and no response is ever signed to outlive its signer's
//! certificate (see the pre-signer).

pub use crate::ca::own::{Lifetimes, Own, Renewal};

use crate::ca::own::{ensure, renew_now};
use crate::ca::{Files, OcspSigning, read_cert};
use crate::keys::Keyring;
use crate::paths::DataDir;
use anyhow::Context;
use cartorio_pkix::cert::CertificateView;
use std::sync::Arc;

/// The audit record of a renewal.
pub fn audit_event(r: &Renewal) -> crate::audit::Event<'static> {
    crate::audit::Event {
        kind: "certificate.renew",
        actor: "control",
        detail: serde_json::json!({"certificate": r.own.label(), "serial": r.serial,
            "not_after": r.not_after, "new_key": r.new_key, "reason": r.reason}),
    }
}

/// Seconds until each certificate of the hierarchy expires, as the gauge
/// `cartorio_certificate_expiry_seconds{certificate}`: `root`,
/// `issuer:NAME`, `ocsp:NAME`, `tsa`, `responder-tls`.
pub fn export_expiry(dir: &DataDir, issuers: &[&str], now: i64) {
    let files = Files { dir: &dir.pki() };
    let mut certificates = vec![("root".to_owned(), "root".to_owned())];
    for name in issuers {
        let layout = crate::ca::Layout::of(name);
        certificates.push((format!("issuer:{name}"), layout.stem));
        certificates.push((format!("ocsp:{name}"), layout.ocsp_stem));
    }
    certificates.push(("tsa".into(), "tsa".into()));
    certificates.push(("responder-tls".into(), "responder-tls".into()));
    for (label, stem) in certificates {
        if let Ok(Some(der)) = read_cert(&files.cert(&stem))
            && let Ok(view) = CertificateView::parse(&der)
        {
            metrics::gauge!("cartorio_certificate_expiry_seconds", "certificate" => label)
                .set((view.not_after - now) as f64);
        }
    }
}

/// One look: renews what is due, takes a signer another process renewed,
/// re-exports the expiry gauges. Returns the renewals made here, and
/// whether an OCSP signer in use changed (its responses are then to be
/// re-signed).
pub fn check(
    dir: &DataDir,
    keys: &Keyring,
    hierarchy: &crate::ca::Hierarchy,
    lifetimes: &Lifetimes,
    now: i64,
) -> anyhow::Result<(Vec<Renewal>, bool)> {
    let mut renewed = Vec::new();
    let mut signer_changed = false;
    for ca in &hierarchy.issuers {
        let own = Own::Ocsp(ca.name.clone());
        let ensured = ensure(dir, keys, &own, lifetimes, (&ca.cert, &*ca.signer), now)?;
        if ensured.der != ca.ocsp.load().cert {
            ca.ocsp.store(Arc::new(OcspSigning::new(ensured.signer, ensured.der)?));
            signer_changed = true;
        }
        renewed.extend(ensured.renewed);
    }
    let default = hierarchy.default_issuer()?;
    for own in [Own::Tsa, Own::ResponderTls] {
        renewed.extend(ensure(dir, keys, &own, lifetimes, (&default.cert, &*default.signer), now)?.renewed);
    }
    export_expiry(dir, &hierarchy.names(), now);
    Ok((renewed, signer_changed))
}

/// Rotates the OCSP signer of the issuing CA `name` now, on a new key
/// (after a suspected compromise of the old one), and has the hierarchy
/// sign with it. Every response is to be re-signed by the caller.
pub fn rotate_ocsp_signer(
    dir: &DataDir,
    keys: &Keyring,
    hierarchy: &crate::ca::Hierarchy,
    lifetimes: &Lifetimes,
    name: &str,
    now: i64,
) -> anyhow::Result<Renewal> {
    let ca = hierarchy.issuer(name).with_context(|| format!("no issuing CA {name:?}"))?;
    let ensured = renew_now(dir, keys, &Own::Ocsp(ca.name.clone()), lifetimes, (&ca.cert, &*ca.signer), now)?;
    ca.ocsp.store(Arc::new(OcspSigning::new(ensured.signer, ensured.der)?));
    export_expiry(dir, &hierarchy.names(), now);
    ensured.renewed.context("the signer was not renewed")
}
