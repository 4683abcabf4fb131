//! Key management on the token: generate an EC key pair inside it (the
//! private half never leaves: sensitive, not extractable), list what it holds.

use super::Token;
use super::signer::public_key;
use anyhow::Context;
use cartorio_pkix::EcCurve;
use cartorio_pkix::hash::sha256_hex;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;
use ring::rand::SecureRandom;
use serde::Serialize;

/// One key pair on the token, as `cartorio keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub label: String,
    pub curve: &'static str,
    /// Hex SHA-256 of the SubjectPublicKeyInfo (the issuer id, for a CA key).
    pub spki_sha256: String,
}

pub fn curve_name(curve: EcCurve) -> &'static str {
    match curve {
        EcCurve::P256 => "p256",
        EcCurve::P384 => "p384",
    }
}

pub fn parse_curve(name: &str) -> anyhow::Result<EcCurve> {
    match name.to_ascii_lowercase().as_str() {
        "p256" | "p-256" | "secp256r1" | "prime256v1" => Ok(EcCurve::P256),
        "p384" | "p-384" | "secp384r1" => Ok(EcCurve::P384),
        other => anyhow::bail!("unsupported curve {other:?} (p256 or p384)"),
    }
}

/// Generates a key pair labelled `label`; refuses to shadow an existing one.
pub fn generate(token: &Token, label: &str, curve: EcCurve) -> anyhow::Result<KeyInfo> {
    anyhow::ensure!(!label.is_empty(), "a key needs a label");
    let mut id = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut id).map_err(|_| anyhow::anyhow!("system RNG failed"))?;
    let common = |class| {
        vec![
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ]
    };
    let mut public = common(ObjectClass::PUBLIC_KEY);
    public.extend([Attribute::EcParams(curve.oid().to_vec()), Attribute::Verify(true)]);
    let mut private = common(ObjectClass::PRIVATE_KEY);
    private.extend([
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
    ]);
    token.run_exclusive(|session, _| {
        if labelled(session, label)? {
            return Ok(Err(anyhow::anyhow!("the token already holds a key labelled {label:?}")));
        }
        session.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)?;
        Ok(Ok(()))
    })??;
    info(token, label)?.with_context(|| format!("the key {label:?} vanished after generation"))
}

/// Every EC key pair on the token, by label.
pub fn list(token: &Token) -> anyhow::Result<Vec<KeyInfo>> {
    let labels = token.run(|session, _| {
        let keys = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])?;
        let mut labels = Vec::with_capacity(keys.len());
        for key in keys {
            for attribute in session.get_attributes(key, &[AttributeType::Label])? {
                if let Attribute::Label(label) = attribute {
                    labels.push(String::from_utf8_lossy(&label).into_owned());
                }
            }
        }
        Ok(labels)
    })?;
    let mut keys = Vec::with_capacity(labels.len());
    for label in labels {
        keys.extend(info(token, &label)?);
    }
    keys.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(keys)
}

fn info(token: &Token, label: &str) -> anyhow::Result<Option<KeyInfo>> {
    let public = token.run(|session, _| public_key(session, label))?;
    Ok(public.map(|(curve, point)| KeyInfo {
        label: label.to_owned(),
        curve: curve_name(curve),
        spki_sha256: sha256_hex(&curve.spki(&point)),
    }))
}

fn labelled(session: &Session, label: &str) -> Result<bool, cryptoki::error::Error> {
    Ok(!session.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])?.is_empty())
}

/// `cartorio keys generate`: a key pair on the token of `hsm`, recorded in
/// the audit log of `dir`'s registry in the same transaction.
pub fn generate_audited(
    dir: &crate::paths::DataDir,
    hsm: super::HsmConfig,
    label: &str,
    curve: EcCurve,
) -> anyhow::Result<KeyInfo> {
    let database = crate::registry::Database::select(crate::cli::database_url().as_deref(), dir)?;
    let mut registry = crate::registry::Registry::open(&database)?;
    let event = crate::audit::Event {
        kind: "key.generate",
        actor: "cli",
        detail: serde_json::json!({"store": format!("pkcs11:{label}"), "token": hsm.token_label, "curve": curve_name(curve)}),
    };
    let token = Token::open(hsm)?;
    registry.audited(&event, cartorio_platform::clock::unix_seconds(), |_| generate(&token, label, curve))
}
