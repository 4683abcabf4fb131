//! Issuance: a verified CSR and a profile become a signed certificate,
//! committed to the registry before anyone sees it.

use crate::ca::{CaMaterial, random_serial};
use crate::registry::{NewCertificate, Registry};
use cartorio_pkix::cert::extensions::{self as ext, key_usage};
use cartorio_pkix::cert::{CertificateTemplate, CertificateView, build_certificate, key_id, serial_hex};
use cartorio_pkix::csr::VerifiedCsr;
use cartorio_pkix::oid;
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
                    (Some(raw), _) => ext::subject_alt_raw(raw),
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
    let not_after = (now + profile.lifetime()).min(issuer.not_after);
    let template = CertificateTemplate {
        serial: random_serial()?,
        issuer: issuer.subject.to_vec(),
        subject: csr.subject().to_vec(),
        not_before: now,
        not_after,
        spki: csr.spki().to_vec(),
        extensions,
    };
    let der = build_certificate(&template, &*ca.issuer_signer).map_err(anyhow::Error::from)?;
    let serial = serial_hex(&template.serial);
    Ok(Signed { serial, der, profile, subject: csr.common_name(), not_before: now, not_after })
}

pub fn issue(
    ca: &CaMaterial,
    registry: &mut Registry,
    csr: &VerifiedCsr,
    profile: Profile,
    ocsp_url: &str,
    now: i64,
) -> Result<Issued, IssueError> {
    let mut issued = issue_batch(ca, registry, &[csr], profile, ocsp_url, now)?;
    issued.pop().ok_or_else(|| IssueError::Internal(anyhow::anyhow!("nothing was issued")))
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
    let records: Vec<NewCertificate<'_>> = signed
        .iter()
        .map(|s| NewCertificate {
            serial: &s.serial,
            issuer_id: &ca.issuer_id,
            profile: s.profile.name(),
            subject: s.subject.as_deref(),
            not_before: s.not_before,
            not_after: s.not_after,
            der: &s.der,
            issued_at: now,
        })
        .collect();
    registry.insert_certificates(&records)?;
    metrics::counter!("cartorio_certificates_issued_total", "profile" => profile.name())
        .increment(signed.len() as u64);
    Ok(signed.into_iter().map(|s| Issued { serial: s.serial, der: s.der }).collect())
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
