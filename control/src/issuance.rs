//! Issuance: a verified CSR held to its profile becomes a certificate
//! signed by the profile's issuing CA, committed to the registry before
//! anyone sees it.

use crate::ca::{IssuingCa, random_serial};
use crate::profile::extensions::Pointers;
use crate::profile::{Profile, Refusal};
use crate::registry::{AcmeIssue, NewCertificate, Registry};
use cartorio_pkix::cert::{CertificateTemplate, build_certificate, key_id, serial_hex};
use cartorio_pkix::csr::VerifiedCsr;
use std::sync::{Mutex, mpsc};
use thiserror::Error;

/// Why a certificate was not issued, by whose fault.
#[derive(Debug, Error)]
pub enum IssueError {
    /// The request itself is unusable (not a CSR, bad signature).
    #[error("{0}")]
    BadRequest(String),
    /// No such profile or issuing CA.
    #[error("{0}")]
    Unknown(String),
    /// The request breaks its profile (the rule is named).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// Where certificates point relying parties (AIA, CRLDP).
#[derive(Debug, Clone)]
pub struct Urls {
    /// The OCSP responder (AIA id-ad-ocsp).
    pub ocsp: String,
    /// The base under which `/crl/{issuer}.crl` and `/ca/{issuer}.cer` are
    /// served (the responder, or a CDN in front of the store).
    pub revocation_base: String,
}

impl Urls {
    fn pointers(
        &self,
        ca: &IssuingCa,
        sharding: Option<&crate::crl::CrlSharding>,
        serial: &[u8],
    ) -> Pointers {
        let base = self.revocation_base.trim_end_matches('/');
        let crl = match sharding {
            Some(sharding) => sharding.shard_url(&ca.name, sharding.shard_of(serial)),
            None => format!("{base}/crl/{}.crl", ca.name),
        };
        Pointers {
            ocsp: Some(self.ocsp.clone()),
            ca_issuers: Some(format!("{base}/ca/{}.cer", ca.name)),
            crl: Some(crl),
        }
    }
}

pub struct Issued {
    pub serial: String,
    pub der: Vec<u8>,
    pub issuer: String,
}

/// A certificate signed, not yet recorded.
struct Signed {
    serial: String,
    der: Vec<u8>,
    profile: String,
    issuer_id: String,
    issuer: String,
    subject: Option<String>,
    not_before: i64,
    not_after: i64,
    acme: Option<AcmeIssue>,
}

/// What a signing needs besides the request.
pub struct Order<'a> {
    pub ca: &'a IssuingCa,
    pub profile: &'a Profile,
    pub urls: &'a Urls,
    pub sharding: Option<&'a crate::crl::CrlSharding>,
    /// The ACME order the certificate completes, if any.
    pub acme: Option<&'a AcmeIssue>,
}

fn sign(order: &Order<'_>, csr: &VerifiedCsr, now: i64) -> Result<Signed, IssueError> {
    let Order { ca, profile, urls, sharding, acme } = order;
    let approved = crate::profile::check(profile, csr)?;
    let serial = random_serial()?;
    let pointers = urls.pointers(ca, *sharding, &serial);
    let subject_key_id = key_id(csr.spki()).map_err(|e| IssueError::BadRequest(e.to_string()))?;
    let extensions =
        crate::profile::extensions::for_profile(profile, &approved, &subject_key_id, &ca.key_id, &pointers)?;
    let not_after = (now + profile.validity_secs).min(ca.not_after);
    let template = CertificateTemplate {
        serial,
        issuer: ca.subject.clone(),
        subject: approved.subject,
        not_before: now,
        not_after,
        spki: csr.spki().to_vec(),
        extensions,
    };
    let der = build_certificate(&template, &*ca.signer).map_err(anyhow::Error::from)?;
    Ok(Signed {
        serial: serial_hex(&template.serial),
        der,
        profile: profile.name.clone(),
        issuer_id: ca.id.clone(),
        issuer: ca.name.clone(),
        subject: approved.common_name,
        not_before: now,
        not_after,
        acme: acme.cloned(),
    })
}

fn record(s: &Signed, now: i64) -> NewCertificate<'_> {
    NewCertificate {
        serial: &s.serial,
        issuer_id: &s.issuer_id,
        profile: &s.profile,
        subject: s.subject.as_deref(),
        not_before: s.not_before,
        not_after: s.not_after,
        der: &s.der,
        issued_at: now,
        acme: s.acme.as_ref(),
    }
}

fn count_issued<'a>(signed: impl Iterator<Item = &'a Signed>) {
    for s in signed {
        metrics::counter!("cartorio_certificates_issued_total", "profile" => s.profile.clone(), "issuer" => s.issuer.clone())
            .increment(1);
    }
}

fn issued(s: Signed) -> Issued {
    Issued { serial: s.serial, der: s.der, issuer: s.issuer }
}

/// Issues a certificate for each CSR, recorded in one registry transaction
/// with an audit entry each: all are committed, or none (one bad CSR
/// refuses the batch). One commit for many is what bulk issuance needs
/// when every commit waits for the disk.
pub fn issue_batch(
    order: &Order<'_>,
    registry: &mut Registry,
    csrs: &[&VerifiedCsr],
    now: i64,
) -> Result<Vec<Issued>, IssueError> {
    let signed = csrs.iter().map(|csr| sign(order, csr, now)).collect::<Result<Vec<_>, _>>()?;
    let records: Vec<NewCertificate<'_>> = signed.iter().map(|s| record(s, now)).collect();
    registry.insert_certificates(&records)?;
    count_issued(signed.iter());
    Ok(signed.into_iter().map(issued).collect())
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
        order: &Order<'_>,
        registry: &Mutex<Registry>,
        csr: &VerifiedCsr,
        now: i64,
    ) -> Result<Issued, IssueError> {
        let signed = sign(order, csr, now)?;
        let issued =
            Issued { serial: signed.serial.clone(), der: signed.der.clone(), issuer: signed.issuer.clone() };
        let (done, outcome) = mpsc::sync_channel(1);
        lock_waiting(&self.waiting).push(Waiting { signed, now, done });
        self.commit_waiting(&mut crate::registry::lock(registry));
        match outcome.recv() {
            Ok(Ok(())) => Ok(issued),
            Ok(Err(error)) => Err(IssueError::Internal(anyhow::anyhow!(error))),
            Err(_) => Err(IssueError::Internal(anyhow::anyhow!("the commit of this issuance was lost"))),
        }
    }

    /// Records everything waiting; called with the registry held.
    fn commit_waiting(&self, registry: &mut Registry) {
        let batch = std::mem::take(&mut *lock_waiting(&self.waiting));
        if batch.is_empty() {
            return;
        }
        let records: Vec<_> = batch.iter().map(|w| record(&w.signed, w.now)).collect();
        let outcome = registry.insert_certificates(&records).map_err(|e| format!("{e:#}"));
        if outcome.is_ok() {
            count_issued(batch.iter().map(|w| &w.signed));
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
