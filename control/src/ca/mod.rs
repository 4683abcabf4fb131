//! The CA as data: a root, issuing CAs (by default `tls` and `documents`,
//! as a digital notary runs them), each with its certificate, its key
//! handle and its delegated OCSP signer. Issuance, CRL and OCSP signing take
//! an [`IssuingCa`] as input; nothing here signs on its own.
//!
//! Files in `DIR/pki` ([`Layout`]): `root.pem`; the `tls` CA at
//! `issuer.pem` (as before several CAs existed) and `issuers/tls.pem`,
//! its OCSP signer at `ocsp.pem`; any other CA `NAME` at
//! `issuers/NAME.pem`, its OCSP signer at `issuers/NAME-ocsp.pem`; each
//! key beside its certificate as `{stem}-key.pk8`, or on the token.

mod bootstrap;
mod files;
pub mod own;

pub use bootstrap::{IssuerPlan, bootstrap, default_plan, issuer_names, key_stems};
#[cfg(test)]
pub(crate) use files::backdating;
pub(crate) use files::{Files, Spec, ensure_cert, issue_cert, lifetime_of, read_cert, write_chain};

use arc_swap::ArcSwap;
use cartorio_pkix::Signer;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::ocsp::{IssuerHashes, ResponderTemplate};
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::Arc;

/// The name of the CA that is `DIR/pki/issuer.pem`, and the issuer of
/// Cartorio's own TSA and TLS certificates.
pub const DEFAULT_ISSUER: &str = "tls";

/// Where an issuing CA's files and keys are in `DIR/pki`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    /// Stem of its certificate and key.
    pub stem: String,
    /// Stem of its delegated OCSP signer's certificate and key.
    pub ocsp_stem: String,
}

impl Layout {
    pub fn of(name: &str) -> Self {
        match name {
            DEFAULT_ISSUER => Self { name: name.into(), stem: "issuer".into(), ocsp_stem: "ocsp".into() },
            _ => Self {
                name: name.into(),
                stem: format!("issuers/{name}"),
                ocsp_stem: format!("issuers/{name}-ocsp"),
            },
        }
    }
}

/// Whether `name` may name an issuing CA: it names files and URL paths.
pub fn valid_issuer_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with("-ocsp")
        && !name.ends_with("-chain")
}

/// One issuing CA, as issuance, CRLs and the pre-signer use it.
pub struct IssuingCa {
    pub name: String,
    pub cert: Vec<u8>,
    pub signer: Arc<dyn Signer>,
    /// Hex SHA-256 of its SubjectPublicKeyInfo: its id in the registry,
    /// the manifest and segments.
    pub id: String,
    pub hashes: IssuerHashes,
    /// Its subject Name (DER) and key identifier, as certificates it
    /// issues name it.
    pub subject: Vec<u8>,
    pub key_id: Vec<u8>,
    pub not_after: i64,
    /// Its delegated OCSP signer: swapped when renewed.
    pub ocsp: ArcSwap<OcspSigning>,
}

impl IssuingCa {
    pub fn new(
        name: &str,
        cert: Vec<u8>,
        signer: Arc<dyn Signer>,
        ocsp: OcspSigning,
    ) -> anyhow::Result<Self> {
        let view = CertificateView::parse(&cert)?;
        anyhow::ensure!(view.spki == signer.spki(), "the {name} CA's certificate does not match its key");
        Ok(Self {
            name: name.to_owned(),
            id: cartorio_pkix::hash::sha256_hex(view.spki),
            hashes: IssuerHashes::of(&view)?,
            subject: view.subject.to_vec(),
            key_id: cartorio_pkix::cert::key_id(view.spki)?,
            not_after: view.not_after,
            ocsp: ArcSwap::from_pointee(ocsp),
            cert,
            signer,
        })
    }
}

/// Everything the control plane signs with, loaded from `DIR/pki`.
pub struct Hierarchy {
    pub root_der: Vec<u8>,
    /// The issuing CAs; the default ([`DEFAULT_ISSUER`]) first.
    pub issuers: Vec<Arc<IssuingCa>>,
    /// Signs the audit log's checkpoints.
    pub audit_signer: Arc<dyn Signer>,
}

impl Hierarchy {
    pub fn issuer(&self, name: &str) -> Option<&Arc<IssuingCa>> {
        self.issuers.iter().find(|i| i.name == name)
    }

    pub fn by_id(&self, id: &str) -> Option<&Arc<IssuingCa>> {
        self.issuers.iter().find(|i| i.id == id)
    }

    /// The CA Cartorio's own TSA and TLS certificates come from.
    pub fn default_issuer(&self) -> anyhow::Result<&Arc<IssuingCa>> {
        self.issuers.first().ok_or_else(|| anyhow::anyhow!("the hierarchy has no issuing CA"))
    }

    pub fn names(&self) -> Vec<&str> {
        self.issuers.iter().map(|i| i.name.as_str()).collect()
    }
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

/// A random, positive 18-octet serial (144 bits, 143 of them random).
pub fn random_serial() -> anyhow::Result<Vec<u8>> {
    let mut serial = vec![0u8; 18];
    SystemRandom::new().fill(&mut serial).map_err(|_| anyhow::anyhow!("system RNG failed"))?;
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7f).max(1);
    }
    Ok(serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_keep_the_tls_ca_where_it_was() {
        assert_eq!(Layout::of("tls").stem, "issuer");
        assert_eq!(Layout::of("tls").ocsp_stem, "ocsp");
        assert_eq!(Layout::of("documents").stem, "issuers/documents");
        assert_eq!(Layout::of("documents").ocsp_stem, "issuers/documents-ocsp");
        assert!(valid_issuer_name("documents") && valid_issuer_name("tls-2027"));
        for bad in ["", "Documents", "a/b", "x-ocsp", "x-chain", "a.b"] {
            assert!(!valid_issuer_name(bad), "{bad}");
        }
    }
}
