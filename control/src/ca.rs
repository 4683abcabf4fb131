//! The CA hierarchy of the embedded default: a demo root, an issuing CA and
//! a delegated OCSP responder certificate, created on first start and reused.

use crate::keys::Keyring;
use crate::paths::{DataDir, write_public};
use anyhow::Context;
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
    pub ocsp_signer: Arc<dyn Signer>,
    pub ocsp_template: ResponderTemplate,
    /// Signs the audit log's checkpoints.
    pub audit_signer: Arc<dyn Signer>,
    /// CRL partitioning (certificates then point at their shard).
    pub crl_sharding: Option<crate::crl::CrlSharding>,
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

/// One certificate of the hierarchy.
pub(crate) struct Spec<'a> {
    pub stem: &'a str,
    pub organization: &'a str,
    pub subject_cn: &'a str,
    pub lifetime_days: i64,
    pub extensions: Vec<Vec<u8>>,
}

impl<'a> Spec<'a> {
    fn new(stem: &'a str, subject_cn: &'a str, lifetime_days: i64, extensions: Vec<Vec<u8>>) -> Self {
        Self { stem, organization: ORGANIZATION, subject_cn, lifetime_days, extensions }
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
    let Spec { stem, organization, subject_cn, lifetime_days, extensions } = spec;
    let path = files.cert(stem);
    if let Some(der) = read_cert(&path)? {
        let view =
            CertificateView::parse(&der).with_context(|| format!("{} is malformed", path.display()))?;
        anyhow::ensure!(view.spki == key.spki(), "{} does not match its key", path.display());
        return Ok(der);
    }
    let subject = name(&[(oid::ORGANIZATION, organization), (oid::COMMON_NAME, subject_cn)]);
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

/// The chains a relying party needs besides the root.
pub(crate) fn write_chains(pki: &Path, root: &[u8], issuer: &[u8], tsa: &[u8]) -> anyhow::Result<()> {
    write_public(&pki.join("chain.pem"), (to_pem(issuer) + &to_pem(root)).as_bytes())?;
    write_public(&pki.join("tsa-chain.pem"), (to_pem(tsa) + &to_pem(issuer)).as_bytes())?;
    Ok(())
}

/// Creates what is missing under `DIR/pki` and loads it all, with the keys
/// of `keys` (software files, or a PKCS#11 token after a ceremony).
pub fn bootstrap(dir: &DataDir, keys: &Keyring, now: i64) -> anyhow::Result<CaMaterial> {
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
    let ocsp_signer = keys.signer("ocsp")?;
    let ocsp = Spec::ocsp("Cartorio Demo OCSP Responder", 365);
    let ocsp_der = ensure_cert(&files, ocsp, &*ocsp_signer, Some((&issuer_der, &*issuer_signer)), now)?;
    anyhow::ensure!(
        keys.label("tsa").is_none(),
        "the responder signs time-stamps with DIR/pki/tsa-key.pk8; a TSA key on the token is not supported yet"
    );
    let tsa_key = keys.signer("tsa")?;
    let tsa = Spec::tsa("Cartorio Demo Time-Stamping Authority", 3 * 365);
    let tsa_der = ensure_cert(&files, tsa, &*tsa_key, Some((&issuer_der, &*issuer_signer)), now)?;
    // The responder's TLS certificate (HTTPS and HTTP/2 by ALPN on loopback).
    let tls_key = keys.signer("responder-tls")?;
    let tls = Spec::new(
        "responder-tls",
        "localhost",
        90,
        vec![
            ext::basic_constraints(false, None),
            ext::key_usage(&[key_usage::DIGITAL_SIGNATURE]),
            ext::extended_key_usage(&[oid::KP_SERVER_AUTH], false),
            ext::subject_alt_names(&["localhost"], &[std::net::Ipv4Addr::LOCALHOST.into()]),
        ],
    );
    let tls_der = ensure_cert(&files, tls, &*tls_key, Some((&issuer_der, &*issuer_signer)), now)?;
    write_public(&pki.join("responder-tls-chain.pem"), (to_pem(&tls_der) + &to_pem(&issuer_der)).as_bytes())?;
    write_chains(&pki, &root_der, &issuer_der, &tsa_der)?;

    let audit_signer = keys.signer("audit")?;
    // What `cartorio audit verify` checks with (also exported beside the
    // checkpoints): the public half only.
    write_public(
        &pki.join(crate::audit::PUBLIC_KEY_FILE),
        cartorio_pkix::cert::public_key_pem(audit_signer.spki()).as_bytes(),
    )?;
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
        crl_sharding: None,
    })
}
