//! Issuance: a verified CSR and a profile become a signed certificate,
//! committed to the registry before anyone sees it.

use crate::ca::{CaMaterial, random_serial};
use crate::registry::{NewCertificate, Registry};
use cartorio_pkix::cert::extensions::{self as ext, key_usage};
use cartorio_pkix::cert::{CertificateTemplate, CertificateView, build_certificate, key_id, serial_hex};
use cartorio_pkix::csr::VerifiedCsr;
use cartorio_pkix::oid;
use std::sync::{Mutex, mpsc};
use thiserror::Error;

const DAY: i64 = 24 * 3600;

#[derive(Debug, Error)]
pub enum IssueError {
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The certificate profiles this CA issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// TLS server: 90 days, digitalSignature, serverAuth, SAN required.
    Server,
    /// RFC 3161 time-stamping unit: 3 years, digitalSignature, EKU
    /// id-kp-timeStamping only and critical (RFC 3161 §2.3).
    Tsa,
}

impl Profile {
    pub fn from_name(name: &str) -> Result<Self, IssueError> {
        match name {
            "server" => Ok(Self::Server),
            "tsa" => Ok(Self::Tsa),
            other => Err(IssueError::BadRequest(format!("unknown profile {other:?} (known: server, tsa)"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Tsa => "tsa",
        }
    }

    fn lifetime(self) -> i64 {
        match self {
            Self::Server => 90 * DAY,
            Self::Tsa => 3 * 365 * DAY,
        }
    }

    fn extensions(self, csr: &VerifiedCsr) -> Result<Vec<Vec<u8>>, IssueError> {
        match self {
            Self::Server => {
                let san = match (csr.requested_san(), csr.common_name()) {
                    (Some(_), _) => ext::subject_alt_raw(&canonical(csr.canonical_san())?),
                    (None, Some(cn)) if looks_like_dns_name(&cn) => ext::subject_alt_dns(&[&cn]),
                    _ => {
                        return Err(IssueError::BadRequest(
                            "the server profile needs a subjectAltName or a DNS name as commonName".into(),
                        ));
                    }
                };
                Ok(vec![
                    ext::basic_constraints(false, None),
                    ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
                    ext::extended_key_usage(&[oid::KP_SERVER_AUTH], false),
                    san,
                ])
            }
            Self::Tsa => Ok(vec![
                ext::basic_constraints(false, None),
                ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
                ext::extended_key_usage(&[oid::KP_TIME_STAMPING], true),
            ]),
        }
    }
}

/// A CSR part re-encoded as DER requires (its SETs sorted), or the
/// refusal of a part that cannot be.
fn canonical(part: Option<Result<Vec<u8>, cartorio_pkix::der::DerError>>) -> Result<Vec<u8>, IssueError> {
    match part {
        Some(Ok(der)) => Ok(der),
        Some(Err(e)) => Err(IssueError::BadRequest(format!("the CSR's names are not valid DER: {e}"))),
        None => Err(IssueError::BadRequest("the CSR has no such part".into())),
    }
}

fn looks_like_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
        })
}

pub struct Issued {
    pub serial: String,
    pub der: Vec<u8>,
}

/// A certificate signed, not yet recorded.
struct Signed {
    serial: String,
    der: Vec<u8>,
    profile: Profile,
    subject: Option<String>,
    not_before: i64,
    not_after: i64,
}

fn sign(
    ca: &CaMaterial,
    csr: &VerifiedCsr,
    profile: Profile,
    ocsp_url: &str,
    now: i64,
) -> Result<Signed, IssueError> {
    let issuer = CertificateView::parse(&ca.issuer_der).map_err(anyhow::Error::from)?;
    let mut extensions = vec![
        ext::subject_key_id(&key_id(csr.spki()).map_err(|e| IssueError::BadRequest(e.to_string()))?),
        ext::authority_key_id(&key_id(issuer.spki).map_err(anyhow::Error::from)?),
        ext::aia_ocsp(ocsp_url),
    ];
    extensions.extend(profile.extensions(csr)?);
    let serial = random_serial()?;
    if let Some(sharding) = &ca.crl_sharding {
        extensions.push(ext::crl_distribution_points(
            &sharding.shard_url(&ca.issuer_id, sharding.shard_of(&serial)),
        ));
    }
    let not_after = (now + profile.lifetime()).min(issuer.not_after);
    let template = CertificateTemplate {
        serial,
        issuer: issuer.subject.to_vec(),
        subject: canonical(Some(csr.canonical_subject()))?,
        not_before: now,
        not_after,
        spki: csr.spki().to_vec(),
        extensions,
    };
    let der = build_certificate(&template, &*ca.issuer_signer).map_err(anyhow::Error::from)?;
    let serial = serial_hex(&template.serial);
    Ok(Signed { serial, der, profile, subject: csr.common_name(), not_before: now, not_after })
}

fn record<'a>(ca: &'a CaMaterial, s: &'a Signed, now: i64) -> NewCertificate<'a> {
    NewCertificate {
        serial: &s.serial,
        issuer_id: &ca.issuer_id,
        profile: s.profile.name(),
        subject: s.subject.as_deref(),
        not_before: s.not_before,
        not_after: s.not_after,
        der: &s.der,
        issued_at: now,
    }
}

fn count_issued(profiles: impl Iterator<Item = Profile>) {
    for profile in profiles {
        metrics::counter!("cartorio_certificates_issued_total", "profile" => profile.name()).increment(1);
    }
}

/// Issues a certificate for each CSR, recorded in one registry transaction
/// with an audit entry each: all are committed, or none (one bad CSR
/// refuses the batch). One commit for many is what bulk issuance needs
/// when every commit waits for the disk.
pub fn issue_batch(
    ca: &CaMaterial,
    registry: &mut Registry,
    csrs: &[&VerifiedCsr],
    profile: Profile,
    ocsp_url: &str,
    now: i64,
) -> Result<Vec<Issued>, IssueError> {
    let signed =
        csrs.iter().map(|csr| sign(ca, csr, profile, ocsp_url, now)).collect::<Result<Vec<_>, _>>()?;
    let records: Vec<NewCertificate<'_>> = signed.iter().map(|s| record(ca, s, now)).collect();
    registry.insert_certificates(&records)?;
    count_issued(signed.iter().map(|s| s.profile));
    Ok(signed.into_iter().map(|s| Issued { serial: s.serial, der: s.der }).collect())
}

/// Group commit for issuances arriving one by one (the admin API): each is
/// signed without the registry, then waits here; whoever holds the
/// registry next records every waiting one in one transaction, an audit
/// entry each. Concurrent requests so share a commit (and its fsync)
/// instead of queueing for one each; a lone request commits alone.
#[derive(Default)]
pub struct GroupCommit {
    waiting: Mutex<Vec<Waiting>>,
}

struct Waiting {
    signed: Signed,
    now: i64,
    /// The outcome of the commit that took it.
    done: mpsc::SyncSender<Result<(), String>>,
}

impl GroupCommit {
    /// Signs `csr` (verified by the caller) and returns once its record is
    /// committed, by this call or by a concurrent one.
    pub fn issue(
        &self,
        ca: &CaMaterial,
        registry: &Mutex<Registry>,
        csr: &VerifiedCsr,
        profile: Profile,
        ocsp_url: &str,
        now: i64,
    ) -> Result<Issued, IssueError> {
        let signed = sign(ca, csr, profile, ocsp_url, now)?;
        let issued = Issued { serial: signed.serial.clone(), der: signed.der.clone() };
        let (done, outcome) = mpsc::sync_channel(1);
        lock_waiting(&self.waiting).push(Waiting { signed, now, done });
        self.commit_waiting(ca, &mut crate::registry::lock(registry));
        match outcome.recv() {
            Ok(Ok(())) => Ok(issued),
            Ok(Err(error)) => Err(IssueError::Internal(anyhow::anyhow!(error))),
            Err(_) => Err(IssueError::Internal(anyhow::anyhow!("the commit of this issuance was lost"))),
        }
    }

    /// Records everything waiting; called with the registry held.
    fn commit_waiting(&self, ca: &CaMaterial, registry: &mut Registry) {
        let batch = std::mem::take(&mut *lock_waiting(&self.waiting));
        if batch.is_empty() {
            return;
        }
        let records: Vec<_> = batch.iter().map(|w| record(ca, &w.signed, w.now)).collect();
        let outcome = registry.insert_certificates(&records).map_err(|e| format!("{e:#}"));
        if outcome.is_ok() {
            count_issued(batch.iter().map(|w| w.signed.profile));
        }
        for waiting in batch {
            let _ = waiting.done.send(outcome.clone());
        }
    }
}

/// A panic while the queue was held leaves it a plain list: still usable.
fn lock_waiting(waiting: &Mutex<Vec<Waiting>>) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
    waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::looks_like_dns_name;

    #[test]
    fn dns_names() {
        assert!(looks_like_dns_name("example.test"));
        assert!(looks_like_dns_name("*.example.test"));
        assert!(!looks_like_dns_name("Jane Doe"));
        assert!(!looks_like_dns_name("a..b"));
    }
}
