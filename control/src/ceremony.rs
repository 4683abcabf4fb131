//! The key ceremony: one TOML file in, a CA hierarchy out. The root and the
//! issuing CA get keys generated inside the HSM; the OCSP responder and the
//! TSA get certificates from the issuing CA (their keys on the token too when
//! a label is given, else software keys under `DIR/pki`). The result is a
//! data directory that `cartorio up` / `cartorio control` start from, with
//! `DIR/pki/hsm.toml` binding the key stems to token labels, a transcript in
//! `DIR/pki/ceremony.json`, and every step in the audit log.

use crate::audit;
use crate::ca::{Files, Spec, ensure_cert, write_chains};
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
    pub issuer: CaKey,
    pub ocsp: DelegatedSigner,
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

    let mut wanted = vec![("root", &config.root.key_label, &config.root.curve)];
    wanted.push(("issuer", &config.issuer.key_label, &config.issuer.curve));
    let p256 = default_curve();
    if let Some(label) = &config.ocsp.key_label {
        wanted.push(("ocsp", label, &p256));
    }
    let mut keys = Vec::new();
    let mut binding = BTreeMap::new();
    for (stem, label, curve) in wanted {
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

    let certificates = certify(config, &dir, now, &mut registry)?;
    let transcript = Transcript { at: now, token: config.hsm.token_label.clone(), keys, certificates };
    write_public(&pki.join("ceremony.json"), serde_json::to_string_pretty(&transcript)?.as_bytes())?;
    Ok(transcript)
}

/// Issues the four certificates with the keys now bound in `dir`.
fn certify(
    config: &CeremonyConfig,
    dir: &DataDir,
    now: i64,
    registry: &mut Registry,
) -> anyhow::Result<BTreeMap<String, String>> {
    let pki = dir.pki();
    let files = Files { dir: &pki };
    let keyring = Keyring::open(dir)?;
    let org = config.organization.as_str();
    let (root, issuer, ocsp, tsa) = (&config.root, &config.issuer, &config.ocsp, &config.tsa);

    let root_key = keyring.signer("root")?;
    let root_spec = Spec::root(&root.common_name, root.lifetime_days).organization(org);
    let root_der = ensure_cert(&files, root_spec, &*root_key, None, now)?;
    let issuer_key = keyring.signer("issuer")?;
    let issuer_spec = Spec::issuer(&issuer.common_name, issuer.lifetime_days).organization(org);
    let issuer_der = ensure_cert(&files, issuer_spec, &*issuer_key, Some((&root_der, &*root_key)), now)?;
    let by_issuer = Some((issuer_der.as_slice(), &*issuer_key));
    let ocsp_key = keyring.signer("ocsp")?;
    let ocsp_spec = Spec::ocsp(&ocsp.common_name, ocsp.lifetime_days).organization(org);
    let ocsp_der = ensure_cert(&files, ocsp_spec, &*ocsp_key, by_issuer, now)?;
    let tsa_key = keyring.signer("tsa")?;
    let tsa_spec = Spec::tsa(&tsa.common_name, tsa.lifetime_days).organization(org);
    let tsa_der = ensure_cert(&files, tsa_spec, &*tsa_key, by_issuer, now)?;
    write_chains(&pki, &root_der, &issuer_der, &tsa_der)?;

    let mut fingerprints = BTreeMap::new();
    for (stem, der) in [("root", &root_der), ("issuer", &issuer_der), ("ocsp", &ocsp_der), ("tsa", &tsa_der)]
    {
        let view = CertificateView::parse(der)?;
        let event = audit::Event {
            kind: "certificate.issue",
            actor: "ceremony",
            detail: serde_json::json!({"stem": stem, "serial": cartorio_pkix::cert::serial_hex(view.serial),
                "sha256": sha256_hex(der), "key": keyring.store(stem)}),
        };
        registry.audited(&event, now, |_| Ok(()))?;
        fingerprints.insert(stem.to_owned(), sha256_hex(der));
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
        assert_eq!(config.issuer.curve, "p256");
        assert!(config.ocsp.key_label.is_some() && config.tsa.key_label.is_none());
        assert!(config.hsm.pin_file.is_some());
    }
}
