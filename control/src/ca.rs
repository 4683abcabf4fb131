//! The CA hierarchy of the embedded default: a demo root, an issuing CA and
//! a delegated OCSP responder certificate, created on first start and reused.

use crate::keys::Keyring;
use crate::paths::{DataDir, write_public};
use anyhow::Context;
use arc_swap::ArcSwap;
use cartorio_pkix::cert::extensions::{self as ext, key_usage};
use cartorio_pkix::cert::{CertificateTemplate, CertificateView, build_certificate, key_id, name, to_pem};
use cartorio_pkix::ocsp::{IssuerHashes, ResponderTemplate};
use cartorio_pkix::{Signer, hash::sha256_hex, oid};
use ring::rand::{SecureRandom, SystemRandom};
use std::path::Path;
use std::sync::Arc;

const DAY: i64 = 24 * 3600;
const ORGANIZATION: &str = "Cartorio Demo";

/// Everything the control plane signs with, loaded from `DIR/pki`.
pub struct CaMaterial {
    pub root_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub issuer_signer: Arc<dyn Signer>,
    /// Hex SHA-256 of the issuer SPKI: its id in the registry and segments.
    pub issuer_id: String,
    pub issuer_hashes: IssuerHashes,
    /// The delegated OCSP signer: swapped when it is renewed.
    pub ocsp: ArcSwap<OcspSigning>,
    /// Signs the audit log's checkpoints.
    pub audit_signer: Arc<dyn Signer>,
    /// CRL partitioning (certificates then point at their shard).
    pub crl_sharding: Option<crate::crl::CrlSharding>,
}

/// The delegated OCSP signer as the pre-signer uses it.
pub struct OcspSigning {
    pub signer: Arc<dyn Signer>,
    pub template: ResponderTemplate,
    /// Its certificate (DER), which every response carries.
    pub cert: Vec<u8>,
    /// The certificate's notAfter: no response may outlive it.
    pub not_after: i64,
}

impl OcspSigning {
    pub fn new(signer: Arc<dyn Signer>, cert: Vec<u8>) -> anyhow::Result<Self> {
        let view = CertificateView::parse(&cert)?;
        anyhow::ensure!(view.spki == signer.spki(), "the OCSP signer certificate does not match its key");
        let not_after = view.not_after;
        Ok(Self { template: ResponderTemplate::new(&cert, signer.spki())?, signer, cert, not_after })
    }
}

/// The keys `bootstrap` keeps under `DIR/pki` as `{stem}-key.pk8`.
pub const KEY_STEMS: [&str; 6] = ["root", "issuer", "ocsp", "tsa", "responder-tls", "audit"];

/// Where the key named `stem` lives.
pub fn key_path(dir: &DataDir, stem: &str) -> std::path::PathBuf {
    dir.pki().join(format!("{stem}-key.pk8"))
}

/// A random, positive 18-octet serial (144 bits, 143 of them random).
pub fn random_serial() -> anyhow::Result<Vec<u8>> {
    let mut serial = vec![0u8; 18];
    SystemRandom::new().fill(&mut serial).map_err(|_| anyhow::anyhow!("system RNG failed"))?;
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7f).max(1);
    }
    Ok(serial)
}

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
pub(crate) struct Spec<'a> {
    pub stem: &'a str,
    pub organization: &'a str,
    pub subject_cn: &'a str,
    /// The subject as it was (a renewal keeps it); else O and CN above.
    pub subject: Option<Vec<u8>>,
    pub lifetime_secs: i64,
    pub extensions: Vec<Vec<u8>>,
}

impl<'a> Spec<'a> {
    fn new(stem: &'a str, subject_cn: &'a str, lifetime_days: i64, extensions: Vec<Vec<u8>>) -> Self {
        let lifetime_secs = lifetime_days * DAY;
        Self { stem, organization: ORGANIZATION, subject_cn, subject: None, lifetime_secs, extensions }
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
    pub fn root(subject_cn: &'a str, lifetime_days: i64) -> Self {
        Self::new("root", subject_cn, lifetime_days, vec![ext::basic_constraints(true, None), ca_usage()])
    }

    /// An issuing CA: no CA below it.
    pub fn issuer(subject_cn: &'a str, lifetime_days: i64) -> Self {
        Self::new(
            "issuer",
            subject_cn,
            lifetime_days,
            vec![ext::basic_constraints(true, Some(0)), ca_usage()],
        )
    }

    /// The delegated OCSP responder (RFC 6960 §4.2.2.2), with id-pkix-ocsp-nocheck.
    pub fn ocsp(subject_cn: &'a str, lifetime_days: i64) -> Self {
        let extensions = vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_OCSP_SIGNING], false),
            ext::ocsp_nocheck(),
        ];
        Self::new("ocsp", subject_cn, lifetime_days, extensions)
    }

    /// RFC 3161 §2.3: extendedKeyUsage id-kp-timeStamping only, critical.
    pub fn tsa(subject_cn: &'a str, lifetime_days: i64) -> Self {
        let extensions = vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_TIME_STAMPING], true),
        ];
        Self::new("tsa", subject_cn, lifetime_days, extensions)
    }

    pub fn organization(self, organization: &'a str) -> Self {
        Self { organization, ..self }
    }
}

fn ca_usage() -> Vec<u8> {
    ext::key_usage(&[key_usage::KEY_CERT_SIGN, key_usage::CRL_SIGN])
}

/// Issues (or reuses) the certificate `stem.pem` for `key`; self-signed
/// when `issuer` is `None`.
pub(crate) fn ensure_cert(
    files: &Files<'_>,
    spec: Spec<'_>,
    key: &dyn Signer,
    issuer: Option<(&[u8], &dyn Signer)>,
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let path = files.cert(spec.stem);
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
    spec: Spec<'_>,
    key: &dyn Signer,
    issuer: Option<(&[u8], &dyn Signer)>,
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let Spec { stem, organization, subject_cn, subject, lifetime_secs, extensions } = spec;
    let path = files.cert(stem);
    let subject =
        subject.unwrap_or_else(|| name(&[(oid::ORGANIZATION, organization), (oid::COMMON_NAME, subject_cn)]));
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

/// The chains a relying party needs besides the root.
pub(crate) fn write_chains(pki: &Path, root: &[u8], issuer: &[u8], tsa: &[u8]) -> anyhow::Result<()> {
    write_public(&pki.join("chain.pem"), (to_pem(issuer) + &to_pem(root)).as_bytes())?;
    write_public(&pki.join("tsa-chain.pem"), (to_pem(tsa) + &to_pem(issuer)).as_bytes())?;
    Ok(())
}

/// `{stem}-chain.pem`: a certificate, then the issuing CA's.
pub(crate) fn write_chain(pki: &Path, stem: &str, cert: &[u8], issuer: &[u8]) -> anyhow::Result<()> {
    write_public(&pki.join(format!("{stem}-chain.pem")), (to_pem(cert) + &to_pem(issuer)).as_bytes())?;
    Ok(())
}

/// Creates what is missing under `DIR/pki` and loads it all, with the keys
/// of `keys` (software files, or a PKCS#11 token after a ceremony); renews
/// Cartorio's own certificates that are due. Returns what was renewed.
pub fn bootstrap(
    dir: &DataDir,
    keys: &Keyring,
    lifetimes: &crate::renewal::Lifetimes,
    now: i64,
) -> anyhow::Result<(CaMaterial, Vec<crate::renewal::Renewal>)> {
    let pki = dir.pki();
    std::fs::create_dir_all(&pki)?;
    let files = Files { dir: &pki };
    let issuer_signer = keys.signer("issuer")?;
    let issuer = Spec::issuer("Cartorio Demo Issuing CA", 10 * 365);
    let (root_der, issuer_der) = match (read_cert(&files.cert("root"))?, read_cert(&files.cert("issuer"))?) {
        // The root key signs nothing once the issuing CA exists: a root on
        // a token is not touched at every start.
        (Some(root_der), Some(_)) => {
            let issuer_der = ensure_cert(&files, issuer, &*issuer_signer, None, now)?;
            (root_der, issuer_der)
        }
        _ => {
            let root_key = keys.signer("root")?;
            let root = Spec::root("Cartorio Demo Root CA", 20 * 365);
            let root_der = ensure_cert(&files, root, &*root_key, None, now)?;
            let issuer_der =
                ensure_cert(&files, issuer, &*issuer_signer, Some((&root_der, &*root_key)), now)?;
            (root_der, issuer_der)
        }
    };
    // Cartorio's own certificates: issued, or renewed when due.
    let issuer_pair = (issuer_der.as_slice(), &*issuer_signer);
    anyhow::ensure!(
        keys.label("tsa").is_none(),
        "the responder signs time-stamps with DIR/pki/tsa-key.pk8; a TSA key on the token is not supported yet"
    );
    let own = |which| crate::renewal::ensure(dir, keys, which, lifetimes, issuer_pair, now);
    let ocsp = own(crate::renewal::Own::Ocsp)?;
    let mut renewed: Vec<_> = ocsp.renewed.iter().cloned().collect();
    renewed.extend(own(crate::renewal::Own::Tsa)?.renewed);
    renewed.extend(own(crate::renewal::Own::ResponderTls)?.renewed);
    write_public(&pki.join("chain.pem"), (to_pem(&issuer_der) + &to_pem(&root_der)).as_bytes())?;

    let audit_signer = keys.signer("audit")?;
    // What `cartorio audit verify` checks with (also exported beside the
    // checkpoints): the public half only.
    write_public(
        &pki.join(crate::audit::PUBLIC_KEY_FILE),
        cartorio_pkix::cert::public_key_pem(audit_signer.spki()).as_bytes(),
    )?;
    let issuer_view = CertificateView::parse(&issuer_der)?;
    let material = CaMaterial {
        issuer_id: sha256_hex(issuer_view.spki),
        issuer_hashes: IssuerHashes::of(&issuer_view)?,
        ocsp: ArcSwap::from_pointee(OcspSigning::new(ocsp.signer, ocsp.der)?),
        root_der,
        issuer_der,
        issuer_signer,
        audit_signer,
        crl_sharding: None,
    };
    Ok((material, renewed))
}
