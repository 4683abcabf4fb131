//! The CA hierarchy of the embedded default: a demo root, an issuing CA and
//! a delegated OCSP responder certificate, created on first start and reused.

use crate::keys;
use crate::paths::{DataDir, write_public};
use anyhow::Context;
use cartorio_pkix::cert::extensions::{self as ext, key_usage};
use cartorio_pkix::cert::{CertificateTemplate, CertificateView, build_certificate, key_id, name, to_pem};
use cartorio_pkix::ocsp::{IssuerHashes, ResponderTemplate};
use cartorio_pkix::{EcdsaSigner, Signer, hash::sha256_hex, oid};
use ring::rand::{SecureRandom, SystemRandom};
use std::path::Path;

const DAY: i64 = 24 * 3600;
const ORGANIZATION: &str = "Cartorio Demo";

/// Everything the control plane signs with, loaded from `DIR/pki`.
pub struct CaMaterial {
    pub root_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub issuer_signer: EcdsaSigner,
    /// Hex SHA-256 of the issuer SPKI: its id in the registry and segments.
    pub issuer_id: String,
    pub issuer_hashes: IssuerHashes,
    pub ocsp_signer: EcdsaSigner,
    pub ocsp_template: ResponderTemplate,
    /// Signs the audit log's checkpoints.
    pub audit_signer: EcdsaSigner,
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

struct Files<'a> {
    dir: &'a Path,
}

impl Files<'_> {
    fn key(&self, stem: &str) -> std::path::PathBuf {
        self.dir.join(format!("{stem}-key.pk8"))
    }
    fn cert(&self, stem: &str) -> std::path::PathBuf {
        self.dir.join(format!("{stem}.pem"))
    }
}

fn read_cert(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let der = cartorio_pkix::cert::from_pem_chain(&text).into_iter().next();
    der.map(Some).with_context(|| format!("{} holds no certificate", path.display()))
}

/// One certificate of the demo hierarchy.
struct Spec<'a> {
    stem: &'a str,
    subject_cn: &'a str,
    lifetime_days: i64,
    extensions: Vec<Vec<u8>>,
}

/// Issues (or reuses) the certificate `stem.pem` for the key `stem-key.pk8`;
/// self-signed when `issuer` is `None`.
fn ensure_cert(
    files: &Files<'_>,
    spec: Spec<'_>,
    key: &EcdsaSigner,
    issuer: Option<(&[u8], &EcdsaSigner)>,
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let Spec { stem, subject_cn, lifetime_days, extensions } = spec;
    let path = files.cert(stem);
    if let Some(der) = read_cert(&path)? {
        let view =
            CertificateView::parse(&der).with_context(|| format!("{} is malformed", path.display()))?;
        anyhow::ensure!(view.spki == key.spki(), "{} does not match its key", path.display());
        return Ok(der);
    }
    let subject = name(&[(oid::ORGANIZATION, ORGANIZATION), (oid::COMMON_NAME, subject_cn)]);
    let (issuer_name, signer): (Vec<u8>, &EcdsaSigner) = match issuer {
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
        not_before: now - 60,
        not_after: now + lifetime_days * DAY,
        spki: key.spki().to_vec(),
        extensions: all,
    };
    let der = build_certificate(&template, signer)?;
    write_public(&path, to_pem(&der).as_bytes())?;
    tracing::info!(certificate = %path.display(), "created");
    Ok(der)
}

/// Creates what is missing under `DIR/pki` and loads it all.
pub fn bootstrap(dir: &DataDir, now: i64) -> anyhow::Result<CaMaterial> {
    let pki = dir.pki();
    std::fs::create_dir_all(&pki)?;
    let files = Files { dir: &pki };
    let root_key = keys::load_or_generate(&files.key("root"))?;
    let ca_usage = ext::key_usage(&[key_usage::KEY_CERT_SIGN, key_usage::CRL_SIGN]);
    let root = Spec {
        stem: "root",
        subject_cn: "Cartorio Demo Root CA",
        lifetime_days: 20 * 365,
        extensions: vec![ext::basic_constraints(true, None), ca_usage.clone()],
    };
    let root_der = ensure_cert(&files, root, &root_key, None, now)?;
    let issuer_signer = keys::load_or_generate(&files.key("issuer"))?;
    let issuer = Spec {
        stem: "issuer",
        subject_cn: "Cartorio Demo Issuing CA",
        lifetime_days: 10 * 365,
        extensions: vec![ext::basic_constraints(true, Some(0)), ca_usage],
    };
    let issuer_der = ensure_cert(&files, issuer, &issuer_signer, Some((&root_der, &root_key)), now)?;
    let ocsp_signer = keys::load_or_generate(&files.key("ocsp"))?;
    let ocsp = Spec {
        stem: "ocsp",
        subject_cn: "Cartorio Demo OCSP Responder",
        lifetime_days: 365,
        extensions: vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_OCSP_SIGNING], false),
            ext::ocsp_nocheck(),
        ],
    };
    let ocsp_der = ensure_cert(&files, ocsp, &ocsp_signer, Some((&issuer_der, &issuer_signer)), now)?;
    // RFC 3161 §2.3: extendedKeyUsage id-kp-timeStamping only, critical.
    let tsa_key = keys::load_or_generate(&files.key("tsa"))?;
    let tsa = Spec {
        stem: "tsa",
        subject_cn: "Cartorio Demo Time-Stamping Authority",
        lifetime_days: 3 * 365,
        extensions: vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_TIME_STAMPING], true),
        ],
    };
    let tsa_der = ensure_cert(&files, tsa, &tsa_key, Some((&issuer_der, &issuer_signer)), now)?;
    // The responder's TLS certificate (HTTPS and HTTP/2 by ALPN on loopback).
    let tls_key = keys::load_or_generate(&files.key("responder-tls"))?;
    let tls = Spec {
        stem: "responder-tls",
        subject_cn: "localhost",
        lifetime_days: 90,
        extensions: vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_SERVER_AUTH], false),
            ext::subject_alt_names(&["localhost"], &[std::net::Ipv4Addr::LOCALHOST.into()]),
        ],
    };
    let tls_der = ensure_cert(&files, tls, &tls_key, Some((&issuer_der, &issuer_signer)), now)?;
    write_public(&pki.join("responder-tls-chain.pem"), (to_pem(&tls_der) + &to_pem(&issuer_der)).as_bytes())?;
    // The chains a relying party needs besides the root.
    write_public(&pki.join("chain.pem"), (to_pem(&issuer_der) + &to_pem(&root_der)).as_bytes())?;
    write_public(&pki.join("tsa-chain.pem"), (to_pem(&tsa_der) + &to_pem(&issuer_der)).as_bytes())?;

    let audit_signer = keys::load_or_generate(&files.key("audit"))?;
    let issuer_view = CertificateView::parse(&issuer_der)?;
    Ok(CaMaterial {
        issuer_id: sha256_hex(issuer_view.spki),
        issuer_hashes: IssuerHashes::of(&issuer_view)?,
        ocsp_template: ResponderTemplate::new(&ocsp_der, ocsp_signer.spki())?,
        root_der,
        issuer_der,
        issuer_signer,
        ocsp_signer,
        audit_signer,
    })
}
