//! The certificate files of `DIR/pki` and how each of the hierarchy's
//! certificates is made: what it says ([`Spec`]), reading, issuing,
//! chains.

use super::random_serial;
use crate::paths::write_public;
use anyhow::Context;
use cartorio_pkix::cert::extensions::{self as ext, key_usage};
use cartorio_pkix::cert::{CertificateTemplate, CertificateView, build_certificate, key_id, name, to_pem};
use cartorio_pkix::{Signer, oid};
use std::path::Path;

const DAY: i64 = 24 * 3600;
const ORGANIZATION: &str = "Cartorio Demo";

pub(crate) struct Files<'a> {
    pub dir: &'a Path,
}

impl Files<'_> {
    pub fn cert(&self, stem: &str) -> std::path::PathBuf {
        self.dir.join(format!("{stem}.pem"))
    }
}

pub(crate) fn read_cert(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let der = cartorio_pkix::cert::from_pem_chain(&text).into_iter().next();
    der.map(Some).with_context(|| format!("{} holds no certificate", path.display()))
}

/// One certificate of the hierarchy.
pub(crate) struct Spec {
    /// The file stem in `DIR/pki` (`issuer`, `issuers/documents`, ...).
    pub stem: String,
    pub organization: String,
    pub subject_cn: String,
    /// The subject as it was (a renewal keeps it); else O and CN above.
    pub subject: Option<Vec<u8>>,
    pub lifetime_secs: i64,
    pub extensions: Vec<Vec<u8>>,
}

impl Spec {
    fn new(stem: &str, subject_cn: &str, lifetime_days: i64, extensions: Vec<Vec<u8>>) -> Self {
        Self {
            stem: stem.to_owned(),
            organization: ORGANIZATION.to_owned(),
            subject_cn: subject_cn.to_owned(),
            subject: None,
            lifetime_secs: lifetime_days * DAY,
            extensions,
        }
    }

    /// The responder's TLS certificate (HTTPS, HTTP/2 and HTTP/3 on loopback).
    pub fn responder_tls(lifetime_days: i64) -> Self {
        let extensions = vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_SERVER_AUTH], false),
            ext::subject_alt_names(&["localhost"], &[std::net::Ipv4Addr::LOCALHOST.into()]),
        ];
        Self::new("responder-tls", "localhost", lifetime_days, extensions)
    }

    pub fn lifetime_secs(self, lifetime_secs: i64) -> Self {
        Self { lifetime_secs, ..self }
    }

    pub fn subject(self, subject: Vec<u8>) -> Self {
        Self { subject: Some(subject), ..self }
    }

    /// A root CA.
    pub fn root(subject_cn: &str, lifetime_days: i64) -> Self {
        Self::new("root", subject_cn, lifetime_days, vec![ext::basic_constraints(true, None), ca_usage()])
    }

    /// An issuing CA (file stem `stem`): no CA below it.
    pub fn issuer(stem: &str, subject_cn: &str, lifetime_days: i64) -> Self {
        Self::new(stem, subject_cn, lifetime_days, vec![ext::basic_constraints(true, Some(0)), ca_usage()])
    }

    /// The delegated OCSP responder (RFC 6960 §4.2.2.2), with id-pkix-ocsp-nocheck.
    pub fn ocsp(stem: &str, subject_cn: &str, lifetime_days: i64) -> Self {
        let extensions = vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_OCSP_SIGNING], false),
            ext::ocsp_nocheck(),
        ];
        Self::new(stem, subject_cn, lifetime_days, extensions)
    }

    /// RFC 3161 §2.3: extendedKeyUsage id-kp-timeStamping only, critical.
    pub fn tsa(subject_cn: &str, lifetime_days: i64) -> Self {
        let extensions = vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_TIME_STAMPING], true),
        ];
        Self::new("tsa", subject_cn, lifetime_days, extensions)
    }

    pub fn organization(self, organization: &str) -> Self {
        Self { organization: organization.to_owned(), ..self }
    }
}

fn ca_usage() -> Vec<u8> {
    ext::key_usage(&[key_usage::KEY_CERT_SIGN, key_usage::CRL_SIGN])
}

/// Issues (or reuses) the certificate `stem.pem` for `key`; self-signed
/// when `issuer` is `None`.
pub(crate) fn ensure_cert(
    files: &Files<'_>,
    spec: Spec,
    key: &dyn Signer,
    issuer: Option<(&[u8], &dyn Signer)>,
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let path = files.cert(&spec.stem);
    if let Some(der) = read_cert(&path)? {
        let view =
            CertificateView::parse(&der).with_context(|| format!("{} is malformed", path.display()))?;
        anyhow::ensure!(view.spki == key.spki(), "{} does not match its key", path.display());
        return Ok(der);
    }
    issue_cert(files, spec, key, issuer, now)
}

/// Issues the certificate `stem.pem` for `key` now, replacing any there;
/// self-signed when `issuer` is `None`.
pub(crate) fn issue_cert(
    files: &Files<'_>,
    spec: Spec,
    key: &dyn Signer,
    issuer: Option<(&[u8], &dyn Signer)>,
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let Spec { stem, organization, subject_cn, subject, lifetime_secs, extensions } = spec;
    let path = files.cert(&stem);
    let subject = subject
        .unwrap_or_else(|| name(&[(oid::ORGANIZATION, &organization), (oid::COMMON_NAME, &subject_cn)]));
    let (issuer_name, signer): (Vec<u8>, &dyn Signer) = match issuer {
        Some((issuer_der, issuer_key)) => (CertificateView::parse(issuer_der)?.subject.to_vec(), issuer_key),
        None => (subject.clone(), key),
    };
    let mut all = vec![ext::subject_key_id(&key_id(key.spki())?)];
    all.push(ext::authority_key_id(&key_id(signer.spki())?));
    all.extend(extensions);
    let template = CertificateTemplate {
        serial: random_serial()?,
        issuer: issuer_name,
        subject,
        // Backdated a little, for relying parties whose clock is behind.
        not_before: now - backdating(lifetime_secs),
        not_after: now + lifetime_secs,
        spki: key.spki().to_vec(),
        extensions: all,
    };
    let der = build_certificate(&template, signer)?;
    write_public(&path, to_pem(&der).as_bytes())?;
    tracing::info!(certificate = %path.display(), "created");
    Ok(der)
}

/// How far before its issue a certificate of `lifetime_secs` starts: a
/// minute, or a tenth of a short lifetime.
pub(crate) fn backdating(lifetime_secs: i64) -> i64 {
    (lifetime_secs / 10).clamp(0, 60)
}

/// The lifetime a certificate spanning `span` seconds was issued with.
pub(crate) fn lifetime_of(span: i64) -> i64 {
    match span {
        660.. => span - 60,
        _ => span * 10 / 11,
    }
}

/// `{stem}-chain.pem`: a certificate, then the CA that issued it.
pub(crate) fn write_chain(pki: &Path, stem: &str, cert: &[u8], issuer: &[u8]) -> anyhow::Result<()> {
    write_public(&pki.join(format!("{stem}-chain.pem")), (to_pem(cert) + &to_pem(issuer)).as_bytes())?;
    Ok(())
}
