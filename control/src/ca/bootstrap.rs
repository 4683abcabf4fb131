//! Creating what is missing in `DIR/pki` and loading the hierarchy: the
//! root, every issuing CA (those planned, and any already there) with its
//! delegated OCSP signer, and Cartorio's own TSA and TLS certificates.

use super::own::{Own, Renewal};
use super::{DEFAULT_ISSUER, Files, Hierarchy, IssuingCa, Layout, OcspSigning, Spec, ensure_cert, read_cert};
use crate::keys::Keyring;
use crate::paths::{DataDir, write_public};
use anyhow::Context;
use cartorio_pkix::Signer;
use cartorio_pkix::cert::{CertificateView, to_pem};
use std::sync::Arc;

/// An issuing CA to create when it does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerPlan {
    pub name: String,
    pub common_name: String,
    pub lifetime_days: i64,
}

/// What `up` creates on first start: a TLS CA and a Document Signing CA,
/// as a digital notary runs them. (The TLS CA keeps the name it had when
/// it was the only one.)
pub fn default_plan() -> Vec<IssuerPlan> {
    vec![
        IssuerPlan {
            name: DEFAULT_ISSUER.into(),
            common_name: "Cartorio Demo Issuing CA".into(),
            lifetime_days: 3650,
        },
        IssuerPlan {
            name: "documents".into(),
            common_name: "Cartorio Demo Document Signing CA".into(),
            lifetime_days: 3650,
        },
    ]
}

/// The issuing CAs already in `DIR/pki`.
fn on_disk(pki: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    if pki.join("issuer.pem").exists() {
        names.push(DEFAULT_ISSUER.to_owned());
    }
    let mut others: Vec<String> = std::fs::read_dir(pki.join("issuers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".pem").map(str::to_owned))
        .filter(|n| super::valid_issuer_name(n) && n != DEFAULT_ISSUER)
        .collect();
    others.sort();
    names.extend(others);
    names
}

/// The issuing CAs of the hierarchy in `dir` once `plan` is carried out:
/// those there, then those planned; the default one first (it certifies
/// Cartorio's own TSA and TLS).
pub fn issuer_names(dir: &DataDir, plan: &[IssuerPlan]) -> Vec<String> {
    let mut names = on_disk(&dir.pki());
    for planned in plan {
        if !names.contains(&planned.name) {
            names.push(planned.name.clone());
        }
    }
    names.sort_by_key(|n| n != DEFAULT_ISSUER);
    names
}

/// Creates what is missing under `DIR/pki` and loads it all, with the keys
/// of `keys` (software files, or a PKCS#11 token after a ceremony): the CAs
/// of `plan` not there yet (the root key signs only then), and Cartorio's
/// own certificates, renewed when due. Returns what was renewed.
pub fn bootstrap(
    dir: &DataDir,
    keys: &Keyring,
    plan: &[IssuerPlan],
    lifetimes: &super::own::Lifetimes,
    now: i64,
) -> anyhow::Result<(Hierarchy, Vec<Renewal>)> {
    let pki = dir.pki();
    std::fs::create_dir_all(pki.join("issuers"))?;
    let files = Files { dir: &pki };
    for planned in plan {
        anyhow::ensure!(
            super::valid_issuer_name(&planned.name),
            "{:?} cannot name an issuing CA",
            planned.name
        );
    }
    let names = issuer_names(dir, plan);
    anyhow::ensure!(!names.is_empty(), "{} holds no issuing CA and none is planned", pki.display());

    // The root key is touched only to create the root or a new CA: a root
    // on a token stays idle at every ordinary start.
    let mut root_key: Option<Arc<dyn Signer>> = None;
    let mut root_signer = || -> anyhow::Result<Arc<dyn Signer>> {
        if root_key.is_none() {
            root_key = Some(keys.signer("root")?);
        }
        root_key.clone().context("root key")
    };
    let root_der = match read_cert(&files.cert("root"))? {
        Some(der) => der,
        None => {
            ensure_cert(&files, Spec::root("Cartorio Demo Root CA", 20 * 365), &*root_signer()?, None, now)?
        }
    };

    let mut issuers = Vec::with_capacity(names.len());
    let mut renewed = Vec::new();
    for name in &names {
        let layout = Layout::of(name);
        let signer = keys.signer(&layout.stem)?;
        let cert = match read_cert(&files.cert(&layout.stem))? {
            Some(der) => {
                let view =
                    CertificateView::parse(&der).with_context(|| format!("the {name} CA's certificate"))?;
                anyhow::ensure!(
                    view.spki == signer.spki(),
                    "the {name} CA's certificate does not match its key"
                );
                der
            }
            None => {
                let planned =
                    plan.iter().find(|p| p.name == *name).context("an issuing CA without a plan")?;
                let spec = Spec::issuer(&layout.stem, &planned.common_name, planned.lifetime_days);
                let root = root_signer()?;
                ensure_cert(&files, spec, &*signer, Some((&root_der, &*root)), now)?
            }
        };
        write_public(
            &pki.join(format!("issuers/{name}-chain.pem")),
            (to_pem(&cert) + &to_pem(&root_der)).as_bytes(),
        )?;
        if name == DEFAULT_ISSUER {
            write_public(&pki.join("issuers/tls.pem"), to_pem(&cert).as_bytes())?;
            write_public(&pki.join("chain.pem"), (to_pem(&cert) + &to_pem(&root_der)).as_bytes())?;
        }
        let ocsp =
            super::own::ensure(dir, keys, &Own::Ocsp(name.clone()), lifetimes, (&cert, &*signer), now)?;
        renewed.extend(ocsp.renewed);
        let ocsp = OcspSigning::new(ocsp.signer, ocsp.der)?;
        issuers.push(Arc::new(IssuingCa::new(name, cert, signer, ocsp)?));
    }

    // Cartorio's own certificates from the default CA: issued, or renewed
    // when due.
    let default = issuers.first().context("no issuing CA")?.clone();
    anyhow::ensure!(
        keys.label("tsa").is_none(),
        "the responder signs time-stamps with DIR/pki/tsa-key.pk8; a TSA key on the token is not supported yet"
    );
    for own in [Own::Tsa, Own::ResponderTls] {
        let ensured = super::own::ensure(dir, keys, &own, lifetimes, (&default.cert, &*default.signer), now)?;
        renewed.extend(ensured.renewed);
    }

    let audit_signer = keys.signer("audit")?;
    // What `cartorio audit verify` checks with (also exported beside the
    // checkpoints): the public half only.
    write_public(
        &pki.join(crate::audit::PUBLIC_KEY_FILE),
        cartorio_pkix::cert::public_key_pem(audit_signer.spki()).as_bytes(),
    )?;
    let hierarchy = Hierarchy { root_der, issuers, audit_signer };
    Ok((hierarchy, renewed))
}

/// Every key stem a hierarchy of `names` uses (for auditing new keys).
pub fn key_stems(names: &[&str]) -> Vec<String> {
    let mut stems: Vec<String> = ["root", "tsa", "responder-tls", "audit"].map(String::from).to_vec();
    for name in names {
        let layout = Layout::of(name);
        stems.push(layout.stem);
        stems.push(layout.ocsp_stem);
    }
    stems
}
