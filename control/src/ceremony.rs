//! The key ceremony: one TOML file in, a CA hierarchy out. The root and
//! every issuing CA (`[issuers.NAME]`; `[issuer]` alone is the `tls` CA)
//! get keys generated inside the HSM, or in software for an issuing CA
//! without a `key_label`; each issuing CA's OCSP responder and the TSA get
//! certificates from it (their keys on the token too when a label is
//! given, else software keys under `DIR/pki`). The result is a
//! data directory that `cartorio up` / `cartorio control` start from, with
//! `DIR/pki/hsm.toml` binding the key stems to token labels, a transcript in
//! `DIR/pki/ceremony.json`, and every step in the audit log.

use crate::audit;
use crate::ca::{DEFAULT_ISSUER, Files, Layout, Spec, ensure_cert, write_chain};
use crate::hsm::keys::{self as token_keys, KeyInfo, parse_curve};
use crate::hsm::{HsmConfig, Token};
use crate::keys::{HsmBinding, Keyring};
use crate::paths::{DataDir, write_public};
use crate::registry::{Database, Registry};
use anyhow::Context;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::hash::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyConfig {
    /// The CA's data directory; must not hold a CA yet.
    pub data_dir: PathBuf,
    /// The registry that records the ceremony (default: SQLite in data_dir).
    #[serde(default)]
    pub database_url: Option<String>,
    /// Organization (O) of every subject.
    pub organization: String,
    pub hsm: HsmConfig,
    pub root: CaKey,
    /// The `tls` CA (as ceremonies before several CAs wrote it), with
    /// `ocsp` its responder; or none, and `issuers` only.
    #[serde(default)]
    pub issuer: Option<CaKey>,
    #[serde(default)]
    pub ocsp: Option<DelegatedSigner>,
    /// Issuing CAs by name (`tls`, `documents`, ...), each with its OCSP
    /// responder.
    #[serde(default)]
    pub issuers: BTreeMap<String, IssuingCaConfig>,
    pub tsa: DelegatedSigner,
}

/// A CA whose key is generated on the token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaKey {
    pub key_label: String,
    #[serde(default = "default_curve")]
    pub curve: String,
    pub common_name: String,
    pub lifetime_days: i64,
}

/// One `[issuers.NAME]`: its key on the token (`key_label`) or in
/// software, and its OCSP responder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuingCaConfig {
    #[serde(default)]
    pub key_label: Option<String>,
    #[serde(default = "default_curve")]
    pub curve: String,
    pub common_name: String,
    pub lifetime_days: i64,
    pub ocsp: DelegatedSigner,
}

impl CeremonyConfig {
    /// Every issuing CA by name, `[issuer]` and `[ocsp]` as `tls`.
    pub fn issuing_cas(&self) -> anyhow::Result<BTreeMap<String, IssuingCaConfig>> {
        let mut all = self.issuers.clone();
        match (&self.issuer, &self.ocsp) {
            (Some(issuer), Some(ocsp)) => {
                let tls = IssuingCaConfig {
                    key_label: Some(issuer.key_label.clone()),
                    curve: issuer.curve.clone(),
                    common_name: issuer.common_name.clone(),
                    lifetime_days: issuer.lifetime_days,
                    ocsp: ocsp.clone(),
                };
                anyhow::ensure!(
                    all.insert(DEFAULT_ISSUER.into(), tls).is_none(),
                    "[issuer] and [issuers.tls] both given"
                );
            }
            (None, None) => {}
            _ => anyhow::bail!("[issuer] and [ocsp] go together"),
        }
        anyhow::ensure!(
            all.contains_key(DEFAULT_ISSUER),
            "the hierarchy needs a tls CA ([issuers.tls] or [issuer])"
        );
        for name in all.keys() {
            anyhow::ensure!(crate::ca::valid_issuer_name(name), "{name:?} cannot name an issuing CA");
        }
        Ok(all)
    }
}

/// A delegated signer (OCSP responder, TSA) certified by the issuing CA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegatedSigner {
    pub common_name: String,
    pub lifetime_days: i64,
    /// Generate the key on the token under this label (OCSP only: the
    /// responder signs time-stamps with a software key for now).
    #[serde(default)]
    pub key_label: Option<String>,
}

fn default_curve() -> String {
    "p256".into()
}

/// What the ceremony made, as written to `DIR/pki/ceremony.json`.
#[derive(Debug, Serialize)]
pub struct Transcript {
    pub at: i64,
    pub token: String,
    pub keys: Vec<KeyInfo>,
    /// Stem -> SHA-256 fingerprint of the certificate.
    pub certificates: BTreeMap<String, String>,
}

pub fn load(path: &Path) -> anyhow::Result<CeremonyConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Runs the ceremony of `config`.
pub fn run(config: &CeremonyConfig, now: i64) -> anyhow::Result<Transcript> {
    let dir = DataDir::new(&config.data_dir);
    let pki = dir.pki();
    for existing in ["root.pem", "issuer.pem", "hsm.toml"] {
        anyhow::ensure!(
            !pki.join(existing).exists(),
            "{} already exists: a ceremony never replaces a CA",
            pki.join(existing).display()
        );
    }
    anyhow::ensure!(
        config.tsa.key_label.is_none(),
        "the TSA key must be a software key for now (no key_label)"
    );
    std::fs::create_dir_all(&pki)?;
    let database = Database::select(config.database_url.as_deref(), &dir)?;
    let mut registry = Registry::open(&database)?;
    let token = Token::open(config.hsm.clone()).context("opening the token")?;

    let cas = config.issuing_cas()?;
    let mut wanted = vec![("root".to_owned(), &config.root.key_label, &config.root.curve)];
    let p256 = default_curve();
    for (name, ca) in &cas {
        let layout = Layout::of(name);
        if let Some(label) = &ca.key_label {
            wanted.push((layout.stem.clone(), label, &ca.curve));
        }
        if let Some(label) = &ca.ocsp.key_label {
            wanted.push((layout.ocsp_stem.clone(), label, &p256));
        }
    }
    let mut keys = Vec::new();
    let mut binding = BTreeMap::new();
    for (stem, label, curve) in wanted {
        let stem = stem.as_str();
        let curve = parse_curve(curve)?;
        let event = audit::Event {
            kind: "key.generate",
            actor: "ceremony",
            detail: serde_json::json!({"key": stem, "store": format!("pkcs11:{label}"), "token": config.hsm.token_label}),
        };
        let info = registry.audited(&event, now, |_| token_keys::generate(&token, label, curve))?;
        tracing::info!(stem, label, spki_sha256 = info.spki_sha256, "key generated on the token");
        keys.push(info);
        binding.insert(stem.to_owned(), label.clone());
    }
    let bound = HsmBinding { hsm: config.hsm.clone(), keys: binding };
    write_public(&HsmBinding::path(&dir), toml::to_string(&bound)?.as_bytes())?;

    let certificates = certify(config, &cas, &dir, now, &mut registry)?;
    let transcript = Transcript { at: now, token: config.hsm.token_label.clone(), keys, certificates };
    write_public(&pki.join("ceremony.json"), serde_json::to_string_pretty(&transcript)?.as_bytes())?;
    Ok(transcript)
}

/// Issues the hierarchy's certificates with the keys now bound in `dir`.
fn certify(
    config: &CeremonyConfig,
    cas: &BTreeMap<String, IssuingCaConfig>,
    dir: &DataDir,
    now: i64,
    registry: &mut Registry,
) -> anyhow::Result<BTreeMap<String, String>> {
    let pki = dir.pki();
    std::fs::create_dir_all(pki.join("issuers"))?;
    let files = Files { dir: &pki };
    let keyring = Keyring::open(dir)?;
    let org = config.organization.as_str();
    let root = &config.root;
    let root_key = keyring.signer("root")?;
    let root_spec = Spec::root(&root.common_name, root.lifetime_days).organization(org);
    let root_der = ensure_cert(&files, root_spec, &*root_key, None, now)?;
    let mut made = vec![("root".to_owned(), root_der.clone())];
    for (name, ca) in cas {
        let layout = Layout::of(name);
        let key = keyring.signer(&layout.stem)?;
        let spec = Spec::issuer(&layout.stem, &ca.common_name, ca.lifetime_days).organization(org);
        let der = ensure_cert(&files, spec, &*key, Some((&root_der, &*root_key)), now)?;
        let ocsp_key = keyring.signer(&layout.ocsp_stem)?;
        let ocsp_spec =
            Spec::ocsp(&layout.ocsp_stem, &ca.ocsp.common_name, ca.ocsp.lifetime_days).organization(org);
        let ocsp_der = ensure_cert(&files, ocsp_spec, &*ocsp_key, Some((&der, &*key)), now)?;
        if name == DEFAULT_ISSUER {
            let tsa_key = keyring.signer("tsa")?;
            let tsa_spec = Spec::tsa(&config.tsa.common_name, config.tsa.lifetime_days).organization(org);
            let tsa_der = ensure_cert(&files, tsa_spec, &*tsa_key, Some((&der, &*key)), now)?;
            write_chain(&pki, "tsa", &tsa_der, &der)?;
            made.push(("tsa".into(), tsa_der));
        }
        made.push((layout.stem, der));
        made.push((layout.ocsp_stem, ocsp_der));
    }

    let mut fingerprints = BTreeMap::new();
    for (stem, der) in made {
        let view = CertificateView::parse(&der)?;
        let event = audit::Event {
            kind: "certificate.issue",
            actor: "ceremony",
            detail: serde_json::json!({"stem": stem, "serial": cartorio_pkix::cert::serial_hex(view.serial),
                "sha256": sha256_hex(&der), "key": keyring.store(&stem)}),
        };
        registry.audited(&event, now, |_| Ok(()))?;
        fingerprints.insert(stem, sha256_hex(&der));
    }
    Ok(fingerprints)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_example_parses() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config-examples/ceremony.toml");
        let config = super::load(&path).expect("ceremony.toml");
        assert_eq!(config.root.curve, "p384");
        let cas = config.issuing_cas().expect("issuing CAs");
        assert_eq!(cas.keys().collect::<Vec<_>>(), ["documents", "tls"]);
        assert!(cas["tls"].ocsp.key_label.is_some() && config.tsa.key_label.is_none());
        assert!(cas["documents"].key_label.is_some());
        assert!(config.hsm.pin_file.is_some());
    }
}
