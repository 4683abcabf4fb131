//! The certificates Cartorio issues to itself (each issuing CA's
//! delegated OCSP signer, the TSA's and the responder's TLS certificate):
//! issued when missing, and again two thirds into their validity (a new
//! key for the OCSP signer and TLS; the TSA keeps its key). `bootstrap`
//! calls [`ensure`] at start, `crate::renewal` every so often.
//!
//! A renewal in `DIR/pki` holds an exclusive lock there, so processes
//! sharing the directory (`up`, the CLI, a second control node) never
//! interleave a key and a certificate; each re-checks under the lock.

use super::{Files, Spec, issue_cert, read_cert, write_chain};
use crate::keys::Keyring;
use crate::paths::DataDir;
use anyhow::Context;
use cartorio_pkix::Signer;
use cartorio_pkix::cert::CertificateView;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 24 * 3600;

/// A certificate Cartorio issues to itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Own {
    /// The delegated OCSP signer of an issuing CA (by name).
    Ocsp(String),
    Tsa,
    ResponderTls,
}

impl Own {
    /// Its key and file stem in `DIR/pki`.
    pub fn stem(&self) -> String {
        match self {
            Own::Ocsp(issuer) => super::Layout::of(issuer).ocsp_stem,
            Own::Tsa => "tsa".into(),
            Own::ResponderTls => "responder-tls".into(),
        }
    }

    /// Its label in logs, the audit trail and metrics (`ocsp:tls`, `tsa`).
    pub fn label(&self) -> String {
        match self {
            Own::Ocsp(issuer) => format!("ocsp:{issuer}"),
            Own::Tsa => "tsa".into(),
            Own::ResponderTls => "responder-tls".into(),
        }
    }

    /// Whether a renewal brings a new key. The TSA keeps its key: tokens it
    /// signed name it, and it may live where keys are not made at will.
    fn rotates_key(&self) -> bool {
        !matches!(self, Own::Tsa)
    }

    /// What a first certificate says; `issuer_cn` names the CA it serves.
    fn spec(&self, issuer_cn: &str, lifetime_secs: i64) -> Spec {
        match self {
            Own::Ocsp(issuer) if issuer == super::DEFAULT_ISSUER => {
                Spec::ocsp(&self.stem(), "Cartorio Demo OCSP Responder", 0)
            }
            Own::Ocsp(_) => Spec::ocsp(&self.stem(), &format!("{issuer_cn} OCSP Responder"), 0),
            Own::Tsa => Spec::tsa("Cartorio Demo Time-Stamping Authority", 0),
            Own::ResponderTls => Spec::responder_tls(0),
        }
        .lifetime_secs(lifetime_secs)
    }

    /// Which chain file carries it beside the issuing CA, if any.
    fn chain(&self) -> Option<&'static str> {
        match self {
            Own::Ocsp(_) => None,
            Own::Tsa => Some("tsa"),
            Own::ResponderTls => Some("responder-tls"),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Own::Ocsp(_) => Kind::Ocsp,
            Own::Tsa => Kind::Tsa,
            Own::ResponderTls => Kind::Tls,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Ocsp,
    Tsa,
    Tls,
}

/// How long Cartorio's own certificates live (`[own_certificates]` in the
/// control plane's TOML). Unset: the lifetime the current certificate
/// had, or the default for a first one (OCSP signer 14 days, TSA 3 years,
/// TLS 90 days).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetimes {
    #[serde(default)]
    pub ocsp_secs: Option<i64>,
    #[serde(default)]
    pub tsa_secs: Option<i64>,
    #[serde(default)]
    pub tls_secs: Option<i64>,
}

impl Lifetimes {
    /// Every one the same: for trying renewal out in minutes.
    pub fn all(secs: i64) -> Self {
        Self { ocsp_secs: Some(secs), tsa_secs: Some(secs), tls_secs: Some(secs) }
    }

    fn configured(&self, kind: Kind) -> Option<i64> {
        match kind {
            Kind::Ocsp => self.ocsp_secs,
            Kind::Tsa => self.tsa_secs,
            Kind::Tls => self.tls_secs,
        }
    }

    fn default_for(kind: Kind) -> i64 {
        match kind {
            // The signer carries id-pkix-ocsp-nocheck: relying parties never
            // ask whether it was revoked, so its lifetime is the longest a
            // rotated or compromised signer's key stays trusted (RFC 6960,
            // 4.2.2.2.1: "a very short lifetime and renew it frequently";
            // two weeks, as AD CS's OCSP Response Signing template). Renewed
            // at two thirds, it leaves the control plane four days' slack.
            Kind::Ocsp => 14 * DAY,
            Kind::Tsa => 3 * 365 * DAY,
            Kind::Tls => 90 * DAY,
        }
    }

    /// How often to look for a due renewal: a thirtieth of the shortest
    /// lifetime, between a second and ten minutes.
    pub fn check_interval(&self) -> Duration {
        let kinds = [Kind::Ocsp, Kind::Tsa, Kind::Tls];
        let shortest = kinds.iter().map(|k| self.configured(*k).unwrap_or(Self::default_for(*k))).min();
        let secs = shortest.unwrap_or(DAY) / 30;
        Duration::from_secs(u64::try_from(secs.clamp(1, 600)).unwrap_or(600))
    }
}

/// When a certificate is due: two thirds into its validity.
pub fn renewal_time(not_before: i64, not_after: i64) -> i64 {
    not_before + (not_after - not_before) * 2 / 3
}

/// An own certificate as it is now.
pub struct Ensured {
    pub der: Vec<u8>,
    pub signer: Arc<dyn Signer>,
    /// What changed, when this call issued it anew.
    pub renewed: Option<Renewal>,
}

/// A renewal, for the log and the audit trail.
#[derive(Debug, Clone)]
pub struct Renewal {
    pub own: Own,
    pub serial: String,
    pub not_after: i64,
    pub new_key: bool,
    /// Why: `missing`, `due`, `expired`, `key_mismatch` or `forced`.
    pub reason: &'static str,
}

/// Why `der` (for `key`) must be issued anew at `now`, if it must.
fn due(der: Option<&[u8]>, key: &dyn Signer, now: i64) -> anyhow::Result<Option<&'static str>> {
    let Some(der) = der else { return Ok(Some("missing")) };
    let view = CertificateView::parse(der)?;
    Ok(if view.spki != key.spki() {
        Some("key_mismatch")
    } else if now >= view.not_after {
        Some("expired")
    } else if now >= renewal_time(view.not_before, view.not_after) {
        Some("due")
    } else {
        None
    })
}

/// When [`renew`] issues a certificate anew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// When missing, not for its key, or due.
    Due,
    /// Now, due or not: an operator's rotation (`forced`), after a
    /// suspected compromise of its key.
    Now,
}

/// The certificate of `own` in `DIR/pki`, issued anew by `issuer`
/// (certificate and key; after a new key, where it rotates) when missing,
/// not for its key, or due.
pub fn ensure(
    dir: &DataDir,
    keys: &Keyring,
    own: &Own,
    lifetimes: &Lifetimes,
    issuer: (&[u8], &dyn Signer),
    now: i64,
) -> anyhow::Result<Ensured> {
    renew(dir, keys, own, lifetimes, issuer, now, When::Due)
}

/// [`ensure`], or the certificate issued anew now with [`When::Now`].
pub fn renew(
    dir: &DataDir,
    keys: &Keyring,
    own: &Own,
    lifetimes: &Lifetimes,
    issuer: (&[u8], &dyn Signer),
    now: i64,
    when: When,
) -> anyhow::Result<Ensured> {
    let pki = dir.pki();
    let files = Files { dir: &pki };
    let stem = own.stem();
    let path = files.cert(&stem);
    let reason = |current: Option<&[u8]>, signer: &dyn Signer| match due(current, signer, now)? {
        None if when == When::Now => Ok(Some("forced")),
        reason => anyhow::Ok(reason),
    };
    let signer = keys.signer(&stem)?;
    let current = read_cert(&path)?;
    if reason(current.as_deref(), &*signer)?.is_none() {
        return Ok(Ensured { der: current.unwrap_or_default(), signer, renewed: None });
    }
    // Under the lock, and looked at again: another process may have renewed.
    let _lock = lock(&pki)?;
    let signer = keys.signer(&stem)?;
    let current = read_cert(&path)?;
    let Some(reason) = reason(current.as_deref(), &*signer)? else {
        return Ok(Ensured { der: current.unwrap_or_default(), signer, renewed: None });
    };
    let previous = current.as_deref().map(CertificateView::parse).transpose()?;
    let (signer, new_key) = match (reason, own.rotates_key(), previous.is_some()) {
        // A first certificate, or one that lost its key: the key there is new.
        ("missing" | "key_mismatch", _, _) | (_, false, _) | (_, _, false) => (signer, false),
        _ => match keys.rotate(&stem)? {
            Some(fresh) => (fresh, true),
            None => {
                tracing::warn!(
                    key = stem,
                    "the key is on the token: the certificate is renewed for the same key"
                );
                (signer, false)
            }
        },
    };
    let lifetime = lifetimes
        .configured(own.kind())
        .or_else(|| previous.as_ref().map(|v| super::lifetime_of(v.not_after - v.not_before)))
        .unwrap_or(Lifetimes::default_for(own.kind()));
    let issuer_view = CertificateView::parse(issuer.0)?;
    let issuer_cn = cartorio_pkix::csr::common_name(issuer_view.subject).unwrap_or_default();
    let spec = match &previous {
        Some(view) => own.spec(&issuer_cn, lifetime).subject(view.subject.to_vec()),
        None => own.spec(&issuer_cn, lifetime),
    };
    let der = issue_cert(&files, spec, &*signer, Some(issuer), now)?;
    if let Some(stem) = own.chain() {
        write_chain(&pki, stem, &der, issuer.0)?;
    }
    let view = CertificateView::parse(&der)?;
    let renewal = Renewal {
        own: own.clone(),
        serial: cartorio_pkix::cert::serial_hex(view.serial),
        not_after: view.not_after,
        new_key,
        reason,
    };
    if previous.is_some() {
        tracing::info!(
            certificate = own.label(),
            serial = renewal.serial,
            not_after = renewal.not_after,
            new_key,
            reason,
            "renewed"
        );
    }
    Ok(Ensured { der, signer, renewed: Some(renewal) })
}

/// An exclusive lock on `DIR/pki/.renewal.lock`, held until dropped.
fn lock(pki: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = pki.join(".renewal.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.lock().with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_two_thirds_in_and_never_kept_past_expiry_or_for_another_key() {
        assert_eq!(renewal_time(0, 90), 60);
        let key = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
        let other = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
        let template = |spki: &[u8]| cartorio_pkix::cert::CertificateTemplate {
            serial: vec![1],
            issuer: cartorio_pkix::cert::name(&[(cartorio_pkix::oid::COMMON_NAME, "x")]),
            subject: cartorio_pkix::cert::name(&[(cartorio_pkix::oid::COMMON_NAME, "x")]),
            not_before: 1000,
            not_after: 1900,
            spki: spki.to_vec(),
            extensions: vec![],
        };
        let cert = cartorio_pkix::cert::build_certificate(&template(key.spki()), &key).expect("cert");
        let at = |now| due(Some(&cert), &key, now).expect("parse");
        assert_eq!((at(1599), at(1600), at(1900)), (None, Some("due"), Some("expired")));
        assert_eq!(due(Some(&cert), &other, 1100).expect("parse"), Some("key_mismatch"));
        assert_eq!(due(None, &key, 0).expect("none"), Some("missing"));
        assert_eq!(Lifetimes::all(30).check_interval(), Duration::from_secs(1));
        for lifetime in [30, 600, 659, 660, 90 * DAY] {
            let span = lifetime + super::super::backdating(lifetime);
            assert_eq!(super::super::lifetime_of(span), lifetime, "{lifetime}");
        }
        assert_eq!(Lifetimes::default().check_interval(), Duration::from_secs(600));
    }
}
