//! Certificate profiles as data: what a certificate of each kind says and
//! which requests may have one. `[profiles.NAME]` tables in the control
//! plane's TOML; the built-ins ([`builtin`]) when none is given.
//!
//! A profile names its issuing CA, the validity, the key usage (always
//! critical), the extended key usages, the keys it takes, the names it
//! allows (SAN types, DNS suffixes, wildcards, IP ranges, e-mail domains),
//! which subject attributes are copied, required or forbidden, its
//! certificate policies, and which revocation pointers the certificate
//! carries (none at all for short-lived ones: RFC 9608 noRevAvail).
//! [`check`] holds a request to it; [`extensions`] builds what it says.

pub mod check;
pub mod extensions;
mod names;

pub use check::{Approved, Refusal, check};

use anyhow::{Context, bail};
use cartorio_pkix::oid;
use serde::Deserialize;
use std::collections::BTreeMap;

const DAY: i64 = 24 * 3600;

/// RFC 9608: a certificate without revocation information lives at most
/// seven days (and the built-in `short-lived` six, as Let's Encrypt's).
pub const NO_REVOCATION_MAX_SECS: i64 = 7 * DAY;

/// One `[profiles.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The issuing CA (a name of the hierarchy: `tls`, `documents`, ...).
    pub issuer: String,
    #[serde(default)]
    pub validity_days: Option<i64>,
    #[serde(default)]
    pub validity_secs: Option<i64>,
    /// digitalSignature, nonRepudiation (contentCommitment), keyEncipherment,
    /// dataEncipherment, keyAgreement. Always a critical extension.
    pub key_usage: Vec<String>,
    /// serverAuth, clientAuth, codeSigning, emailProtection, timeStamping,
    /// OCSPSigning, documentSigning (RFC 9336), or dotted OIDs.
    #[serde(default)]
    pub extended_key_usage: Vec<String>,
    /// Marked critical (RFC 3161 wants it so for time-stamping).
    #[serde(default)]
    pub extended_key_usage_critical: bool,
    /// ecdsa-p256, ecdsa-p384, ecdsa-p521, rsa-2048, rsa-3072, rsa-4096, ed25519.
    #[serde(default = "default_key_types")]
    pub key_types: Vec<String>,
    #[serde(default)]
    pub san: SanRules,
    #[serde(default)]
    pub subject: SubjectRules,
    /// Certificate policy OIDs (dotted).
    #[serde(default)]
    pub policies: Vec<String>,
    /// A CPS URI, qualifying every policy.
    #[serde(default)]
    pub cps_uri: Option<String>,
    #[serde(default = "yes")]
    pub aia_ocsp: bool,
    #[serde(default = "yes")]
    pub aia_ca_issuers: bool,
    #[serde(default = "yes")]
    pub crl_distribution_points: bool,
    /// RFC 9608: noRevAvail, no OCSP or CRL pointer, at most 7 days.
    #[serde(default)]
    pub no_revocation_info: bool,
}

/// Which names a certificate of the profile may carry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanRules {
    /// At least one subjectAltName.
    #[serde(default)]
    pub required: bool,
    /// Which kinds: dns, ip, email, uri.
    #[serde(default)]
    pub types: Vec<String>,
    /// DNS names must end in one of these (at a label boundary); empty: any.
    #[serde(default)]
    pub dns_suffixes: Vec<String>,
    /// `*.example.com` (a whole leftmost label) allowed.
    #[serde(default)]
    pub wildcards: bool,
    /// IP addresses must lie in one of these; empty: any.
    #[serde(default)]
    pub ip_ranges: Vec<ipnet::IpNet>,
    /// E-mail addresses must be at one of these domains; empty: any.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Without a SAN, a DNS-name commonName becomes the SAN.
    #[serde(default)]
    pub from_common_name: bool,
    /// A commonName copied into the subject must be one of the SANs
    /// (Baseline Requirements 7.1.4.3).
    #[serde(default)]
    pub common_name_in_san: bool,
}

impl Default for SanRules {
    fn default() -> Self {
        Self {
            required: false,
            types: vec!["dns".into()],
            dns_suffixes: vec![],
            wildcards: false,
            ip_ranges: vec![],
            email_domains: vec![],
            from_common_name: false,
            common_name_in_san: false,
        }
    }
}

/// What of the request's subject reaches the certificate, by attribute
/// short name (CN, O, OU, C, ST, L, serialNumber, emailAddress, givenName,
/// surname, title, DC, organizationIdentifier).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRules {
    /// Copied, in the request's order; others are left out.
    #[serde(default = "default_copy")]
    pub copy: Vec<String>,
    /// Must be in the request.
    #[serde(default)]
    pub required: Vec<String>,
    /// The request is refused when it has one.
    #[serde(default)]
    pub forbidden: Vec<String>,
}

impl Default for SubjectRules {
    fn default() -> Self {
        Self { copy: default_copy(), required: vec![], forbidden: vec![] }
    }
}

fn default_copy() -> Vec<String> {
    vec!["CN".into()]
}

fn default_key_types() -> Vec<String> {
    ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"].map(String::from).to_vec()
}

fn yes() -> bool {
    true
}

/// A profile checked and compiled: OIDs resolved, names lowercased.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub issuer: String,
    pub validity_secs: i64,
    /// KeyUsage bit numbers.
    pub key_usage: Vec<u8>,
    /// Complete DER OIDs.
    pub extended_key_usage: Vec<Vec<u8>>,
    pub extended_key_usage_critical: bool,
    pub key_types: Vec<names::KeyType>,
    pub san: SanRules,
    pub san_types: Vec<names::SanType>,
    /// Complete DER OIDs of the attributes copied, required, forbidden.
    pub subject_copy: Vec<Vec<u8>>,
    pub subject_required: Vec<(String, Vec<u8>)>,
    pub subject_forbidden: Vec<(String, Vec<u8>)>,
    /// Complete DER OIDs.
    pub policies: Vec<Vec<u8>>,
    pub cps_uri: Option<String>,
    pub aia_ocsp: bool,
    pub aia_ca_issuers: bool,
    pub crl_distribution_points: bool,
    pub no_revocation_info: bool,
}

/// Every profile the control plane issues under, by name.
#[derive(Debug, Clone)]
pub struct Profiles {
    by_name: BTreeMap<String, Profile>,
}

impl Profiles {
    /// The profiles of `configured` (the built-ins when it is empty), each
    /// checked against the issuing CAs `issuers` there are.
    pub fn compile(configured: &BTreeMap<String, ProfileConfig>, issuers: &[&str]) -> anyhow::Result<Self> {
        let builtins = configured.is_empty();
        let table = match builtins {
            true => builtin(),
            false => configured.clone(),
        };
        let mut by_name = BTreeMap::new();
        for (name, config) in &table {
            let profile = compile(name, config).with_context(|| format!("profile {name:?}"))?;
            // A hierarchy without a documents CA (a ceremony's) has no
            // document-signing built-ins; a configured profile must fit.
            if builtins && !issuers.contains(&profile.issuer.as_str()) {
                tracing::info!(
                    profile = name,
                    issuer = profile.issuer,
                    "built-in profile left out: no such CA here"
                );
                continue;
            }
            anyhow::ensure!(
                issuers.contains(&profile.issuer.as_str()),
                "profile {name:?} names the issuing CA {:?}, which this hierarchy has not (it has {})",
                profile.issuer,
                issuers.join(", ")
            );
            by_name.insert(name.clone(), profile);
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

fn compile(name: &str, c: &ProfileConfig) -> anyhow::Result<Profile> {
    let validity_secs = match (c.validity_days, c.validity_secs) {
        (Some(days), None) => days.checked_mul(DAY).context("validity_days out of range")?,
        (None, Some(secs)) => secs,
        _ => bail!("set one of validity_days and validity_secs"),
    };
    anyhow::ensure!(validity_secs > 0, "the validity must be positive");
    if c.no_revocation_info {
        anyhow::ensure!(
            validity_secs <= NO_REVOCATION_MAX_SECS,
            "no_revocation_info allows at most 7 days of validity (RFC 9608)"
        );
    }
    let key_usage =
        c.key_usage.iter().map(|n| names::key_usage_bit(n)).collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!key_usage.is_empty(), "key_usage lists nothing");
    let extended_key_usage =
        c.extended_key_usage.iter().map(|n| names::purpose_oid(n)).collect::<anyhow::Result<_>>()?;
    let key_types =
        c.key_types.iter().map(|n| names::KeyType::parse(n)).collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!key_types.is_empty(), "key_types lists nothing");
    let san_types =
        c.san.types.iter().map(|n| names::SanType::parse(n)).collect::<anyhow::Result<Vec<_>>>()?;
    let attribute = |n: &String| names::attribute_oid(n).map(|oid| (n.clone(), oid));
    let subject_copy: Vec<Vec<u8>> =
        c.subject.copy.iter().map(|n| names::attribute_oid(n)).collect::<anyhow::Result<_>>()?;
    let subject_required = c.subject.required.iter().map(attribute).collect::<anyhow::Result<Vec<_>>>()?;
    let subject_forbidden = c.subject.forbidden.iter().map(attribute).collect::<anyhow::Result<Vec<_>>>()?;
    for (short, oid) in &subject_required {
        anyhow::ensure!(subject_copy.contains(oid), "subject attribute {short} is required but not copied");
    }
    let policies = c
        .policies
        .iter()
        .map(|d| oid::from_dotted(d).with_context(|| format!("policy {d:?} is not a dotted OID")))
        .collect::<anyhow::Result<_>>()?;
    let mut san = c.san.clone();
    san.dns_suffixes =
        san.dns_suffixes.iter().map(|s| s.trim_start_matches('.').to_ascii_lowercase()).collect();
    san.email_domains = san.email_domains.iter().map(|s| s.to_ascii_lowercase()).collect();
    Ok(Profile {
        name: name.to_owned(),
        issuer: c.issuer.clone(),
        validity_secs,
        key_usage,
        extended_key_usage,
        extended_key_usage_critical: c.extended_key_usage_critical,
        key_types,
        san,
        san_types,
        subject_copy,
        subject_required,
        subject_forbidden,
        policies,
        cps_uri: c.cps_uri.clone(),
        aia_ocsp: c.aia_ocsp && !c.no_revocation_info,
        aia_ca_issuers: c.aia_ca_issuers,
        crl_distribution_points: c.crl_distribution_points && !c.no_revocation_info,
        no_revocation_info: c.no_revocation_info,
    })
}

/// The built-in profiles, as TOML would state them.
pub fn builtin() -> BTreeMap<String, ProfileConfig> {
    toml::from_str(BUILTIN).unwrap_or_default()
}

/// The built-ins, as an operator would write them (and may copy).
pub const BUILTIN: &str = r#"
[server]
issuer = "tls"
validity_days = 90
key_usage = ["digitalSignature"]
extended_key_usage = ["serverAuth"]
key_types = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"]
san = { required = true, types = ["dns", "ip"], wildcards = true, from_common_name = true, common_name_in_san = true }
subject = { copy = ["CN"] }

[client]
issuer = "tls"
validity_days = 365
key_usage = ["digitalSignature"]
extended_key_usage = ["clientAuth"]
san = { types = ["dns", "email", "uri"] }
subject = { copy = ["CN", "O", "OU", "C"], required = ["CN"] }

[document-signing]
issuer = "documents"
validity_days = 1095
key_usage = ["digitalSignature", "nonRepudiation"]
extended_key_usage = ["documentSigning", "emailProtection"]
san = { types = ["email"] }
subject = { copy = ["CN", "O", "OU", "C", "serialNumber", "givenName", "surname"], required = ["CN"] }

[code-signing]
issuer = "documents"
validity_days = 1095
key_usage = ["digitalSignature"]
extended_key_usage = ["codeSigning"]
san = { types = [] }
subject = { copy = ["CN", "O", "OU", "C", "ST", "L"], required = ["CN"] }

[smime]
issuer = "documents"
validity_days = 730
key_usage = ["digitalSignature", "nonRepudiation"]
extended_key_usage = ["emailProtection"]
san = { required = true, types = ["email"] }
subject = { copy = ["CN", "emailAddress"] }

[short-lived]
issuer = "tls"
validity_days = 6
key_usage = ["digitalSignature"]
extended_key_usage = ["serverAuth"]
san = { required = true, types = ["dns", "ip"], wildcards = true, from_common_name = true, common_name_in_san = true }
no_revocation_info = true

[tsa]
issuer = "tls"
validity_days = 1095
key_usage = ["digitalSignature"]
extended_key_usage = ["timeStamping"]
extended_key_usage_critical = true
san = { types = [] }
subject = { copy = ["CN", "O", "OU", "C"], required = ["CN"] }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_compile_against_the_default_hierarchy() {
        let profiles = Profiles::compile(&BTreeMap::new(), &["tls", "documents"]).expect("built-ins");
        let names: Vec<&str> = profiles.names().collect();
        assert_eq!(
            names,
            ["client", "code-signing", "document-signing", "server", "short-lived", "smime", "tsa"]
        );
        let short = profiles.get("short-lived").expect("short-lived");
        assert!(short.no_revocation_info && !short.aia_ocsp && !short.crl_distribution_points);
        assert_eq!(short.validity_secs, 6 * DAY);
        assert_eq!(profiles.get("document-signing").map(|p| p.issuer.as_str()), Some("documents"));
        let tls_only = Profiles::compile(&BTreeMap::new(), &["tls"]).expect("built-ins");
        assert!(tls_only.get("document-signing").is_none() && tls_only.get("server").is_some());
        let table: BTreeMap<String, ProfileConfig> = toml::from_str(
            "[p]\nissuer = \"documents\"\nvalidity_days = 1\nkey_usage = [\"digitalSignature\"]",
        )
        .expect("toml");
        assert!(Profiles::compile(&table, &["tls"]).is_err(), "a configured profile must fit the hierarchy");
    }

    #[test]
    fn bad_profiles_are_refused_at_load() {
        let parse = |extra: &str| -> anyhow::Result<Profiles> {
            let text = format!("[p]\nissuer = \"tls\"\nkey_usage = [\"digitalSignature\"]\n{extra}");
            let table: BTreeMap<String, ProfileConfig> = toml::from_str(&text)?;
            Profiles::compile(&table, &["tls"])
        };
        assert!(parse("validity_days = 1").is_ok());
        assert!(parse("").is_err(), "no validity");
        assert!(parse("validity_days = 8\nno_revocation_info = true").is_err(), "RFC 9608");
        assert!(parse("validity_days = 1\nextended_key_usage = [\"nope\"]").is_err());
        assert!(parse("validity_days = 1\nkey_types = [\"rsa-1024\"]").is_err());
        assert!(parse("validity_days = 1\nsubject = { copy = [\"O\"], required = [\"CN\"] }").is_err());
        assert!(parse("validity_days = 1\nbogus = 1").is_err(), "unknown keys");
    }
}
