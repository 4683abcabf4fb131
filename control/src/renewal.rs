//! Cartorio renews the certificates it issues to itself before they
//! expire (see [`crate::ca::own`] for what and when). This is the loop
//! (`Control::renew_own_certificates`) and its body: renew what is due, have
//! the pre-signer sign with a renewed OCSP signer, and export every
//! certificate's time to expiry as the gauge
//! `cartorio_certificate_expiry_seconds{certificate}`; and the operator's
//! rotation of an OCSP signer at once (`Control::rotate_ocsp_signer`). After an OCSP signer
//! renewal every response is re-signed by the new signer, long before the
//! old one expires, and no response is ever signed to outlive its signer's
//! certificate (see the pre-signer).

pub use crate::ca::own::{Lifetimes, Own, Renewal};

use crate::ca::own::{When, ensure, renew};
use crate::ca::{Files, OcspSigning, read_cert};
use crate::issuance::IssueError;
use crate::keys::Keyring;
use crate::paths::DataDir;
use crate::{Control, registry};
use anyhow::Context;
use cartorio_pkix::cert::CertificateView;
use cartorio_platform::Shutdown;
use cartorio_platform::clock::unix_seconds;
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
/// `issuer:NAME`, `ocsp:NAME`, `tsa`, `responder-tls`; and how long each
/// lives, `cartorio_certificate_lifetime_seconds{certificate}`, which the
/// alerts weigh the time left against (a two-week OCSP signer is renewed
/// with five days left; a ten-year CA with that left is overdue).
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
            metrics::gauge!("cartorio_certificate_expiry_seconds", "certificate" => label.clone())
                .set((view.not_after - now) as f64);
            metrics::gauge!("cartorio_certificate_lifetime_seconds", "certificate" => label)
                .set((view.not_after - view.not_before) as f64);
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

/// What a rotation issued, as the admin API answers it and the command
/// line prints it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Rotated {
    pub certificate: String,
    pub serial: String,
    /// Unix seconds.
    pub not_after: i64,
    pub new_key: bool,
}

impl From<&Renewal> for Rotated {
    fn from(r: &Renewal) -> Self {
        Self {
            certificate: r.own.label(),
            serial: r.serial.clone(),
            not_after: r.not_after,
            new_key: r.new_key,
        }
    }
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
    let own = Own::Ocsp(ca.name.clone());
    let ensured = renew(dir, keys, &own, lifetimes, (&ca.cert, &*ca.signer), now, When::Now)?;
    ca.ocsp.store(Arc::new(OcspSigning::new(ensured.signer, ensured.der)?));
    export_expiry(dir, &hierarchy.names(), now);
    ensured.renewed.context("the signer was not renewed")
}

impl Control {
    /// Renews Cartorio's own certificates when due (see this module),
    /// audits each renewal, and has every response re-signed when the OCSP
    /// signer changed; until shutdown.
    pub(crate) async fn renew_own_certificates(self, shutdown: Shutdown) {
        let interval = self.inner.config.own_certificates.check_interval();
        loop {
            if let Err(error) = self.renew_once().await {
                metrics::counter!("cartorio_renewal_failures_total").increment(1);
                tracing::error!(
                    error = format!("{error:#}"),
                    "renewing Cartorio's own certificates failed; will retry"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    async fn renew_once(&self) -> anyhow::Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let now = unix_seconds();
            let (dir, lifetimes) = (&inner.config.data_dir, &inner.config.own_certificates);
            let (renewed, signer_changed) = check(dir, &inner.keyring, &inner.ca, lifetimes, now)?;
            let mut registry = registry::lock(&inner.registry);
            for r in &renewed {
                registry.audited(&audit_event(r), now, |_| Ok(()))?;
            }
            if signer_changed {
                // Every response re-signed by the new signer, now: the old
                // one has a third of its life left, and no response it
                // signed outlives it.
                let due = registry.refresh_all(now)?;
                tracing::info!(responses = due, "new OCSP signer: re-signing every response");
                inner.presign.notify_one();
            }
            anyhow::Ok(())
        })
        .await?
    }

    /// Rotates the OCSP signer of the issuing CA `issuer` (default: the
    /// default one) now, on a new key, audited, and has every response
    /// re-signed by it at once: for a suspected compromise of the signer's
    /// key. Another process sharing the data directory takes the new
    /// signer at its next renewal check (see this module).
    pub async fn rotate_ocsp_signer(&self, issuer: Option<String>) -> Result<Renewal, IssueError> {
        let name = self.issuing_ca(issuer.as_deref())?.name.clone();
        let inner = self.inner.clone();
        let rotated = tokio::task::spawn_blocking(move || {
            let now = unix_seconds();
            let name = name.as_str();
            let (dir, lifetimes) = (&inner.config.data_dir, &inner.config.own_certificates);
            let renewed = rotate_ocsp_signer(dir, &inner.keyring, &inner.ca, lifetimes, name, now)?;
            let mut registry = registry::lock(&inner.registry);
            registry.audited(&audit_event(&renewed), now, |_| Ok(()))?;
            let due = registry.refresh_all(now)?;
            tracing::warn!(issuer = name, serial = renewed.serial, responses = due, "OCSP signer rotated");
            inner.presign.notify_one();
            anyhow::Ok(renewed)
        })
        .await;
        rotated.map_err(anyhow::Error::from).and_then(|r| r).map_err(IssueError::Internal)
    }
}
