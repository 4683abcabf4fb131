//! A certification request held to a profile: its key, its subject, its
//! names. What passes becomes the certificate's subject and SANs; the first
//! rule broken is named in the refusal. The request's parts are read with
//! rasn's typed structures (RFC 5280 `Name`, `GeneralNames`).

use super::Profile;
use super::names::{KeyType, SanType};
use cartorio_pkix::csr::VerifiedCsr;
use rasn::types::{Ia5String, ObjectIdentifier, OctetString, SetOf};
use rasn_pkix::{AttributeTypeAndValue, GeneralName, Name, RelativeDistinguishedName};
use std::net::IpAddr;

/// What a request may have under its profile.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The certificate's subject (DER Name): the attributes copied.
    pub subject: Vec<u8>,
    /// The certificate's subjectAltNames, in the request's order.
    pub names: Vec<GeneralName>,
    pub common_name: Option<String>,
    pub key_type: KeyType,
}

/// The rule a request broke, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile {profile:?}: {rule}: {detail}")]
pub struct Refusal {
    pub profile: String,
    /// The profile setting that refused it (`san.dns_suffixes`, ...).
    pub rule: String,
    pub detail: String,
}

fn refuse(profile: &Profile, rule: &str, detail: impl Into<String>) -> Refusal {
    Refusal { profile: profile.name.clone(), rule: rule.to_owned(), detail: detail.into() }
}

/// Holds `csr` to `profile`.
pub fn check(profile: &Profile, csr: &VerifiedCsr) -> Result<Approved, Refusal> {
    check_parts(profile, csr.spki(), csr.canonical_subject(), csr.canonical_san())
}

/// [`check`] on a request's parts: its key, its subject and requested SANs
/// with their SETs sorted (or why they could not be).
pub fn check_parts(
    profile: &Profile,
    spki: &[u8],
    subject: Result<Vec<u8>, cartorio_pkix::der::DerError>,
    san: Option<Result<Vec<u8>, cartorio_pkix::der::DerError>>,
) -> Result<Approved, Refusal> {
    let key_type = KeyType::of(spki)
        .ok_or_else(|| refuse(profile, "key_types", "the request's key is of no type Cartorio knows"))?;
    if !profile.key_types.contains(&key_type) {
        let allowed: Vec<String> = profile.key_types.iter().map(|k| k.name()).collect();
        return Err(refuse(
            profile,
            "key_types",
            format!("a {} key; this profile takes {}", key_type.name(), allowed.join(", ")),
        ));
    }
    let subject = subject.map_err(|e| refuse(profile, "subject", e.to_string()))?;
    let (subject, common_name) = subject_of(profile, &subject)?;
    let requested = match san {
        Some(der) => {
            let der = der.map_err(|e| refuse(profile, "san", e.to_string()))?;
            rasn::der::decode::<Vec<GeneralName>>(&der)
                .map_err(|e| refuse(profile, "san", format!("the subjectAltName is not valid: {e}")))?
        }
        None => Vec::new(),
    };
    let mut names = Vec::with_capacity(requested.len());
    for name in requested {
        names.push(allowed_name(profile, name)?);
    }
    if names.is_empty()
        && profile.san.from_common_name
        && let Some(cn) = common_name.as_deref().filter(|cn| dns_name(cn, false))
    {
        names.push(allowed_name(profile, GeneralName::DnsName(ia5(cn)?))?);
    }
    if profile.san.required && names.is_empty() {
        return Err(refuse(profile, "san.required", "this profile needs at least one subjectAltName"));
    }
    if profile.san.common_name_in_san
        && let Some(cn) = &common_name
    {
        let listed = names.iter().any(|n| match n {
            GeneralName::DnsName(d) => d.to_string().eq_ignore_ascii_case(cn),
            GeneralName::IpAddress(ip) => ip_of(ip).is_some_and(|ip| ip.to_string() == *cn),
            _ => false,
        });
        if !listed {
            return Err(refuse(
                profile,
                "san.common_name_in_san",
                format!("commonName {cn:?} is not one of the subjectAltNames"),
            ));
        }
    }
    Ok(Approved { subject, names, common_name, key_type })
}

/// The property the `profile_names` fuzz target checks (and `cargo test`
/// replays its corpus through): any subject and SAN bytes a client could
/// send, held to the built-in `server` profile, never panic, and what is
/// approved has a subject that is canonical DER.
///
/// Input layout: one octet `n`, then `n` octets of subject, then the SAN.
pub fn fuzz_check(data: &[u8]) {
    use std::sync::LazyLock;
    static SERVER: LazyLock<Option<Profile>> = LazyLock::new(|| {
        let profiles = crate::profile::Profiles::compile(&Default::default(), &["tls", "documents"]).ok()?;
        profiles.get("server").cloned()
    });
    static KEY: LazyLock<Option<Vec<u8>>> = LazyLock::new(|| {
        use cartorio_pkix::{EcCurve, EcdsaSigner, Signer};
        let pkcs8 = EcdsaSigner::generate_pkcs8(EcCurve::P256).ok()?;
        Some(EcdsaSigner::from_pkcs8(EcCurve::P256, &pkcs8).ok()?.spki().to_vec())
    });
    let (Some(profile), Some(key)) = (SERVER.as_ref(), KEY.as_ref()) else { return };
    let (&n, rest) = match data.split_first() {
        Some(split) => split,
        None => return,
    };
    let (subject, san) = rest.split_at(usize::from(n).min(rest.len()));
    let subject = cartorio_pkix::der::encode::sort_sets(subject);
    let san = (!san.is_empty()).then(|| cartorio_pkix::der::encode::sort_sets(san));
    if let Ok(approved) = check_parts(profile, key, subject, san) {
        assert!(
            cartorio_pkix::der::single(&approved.subject, 0x30).is_ok(),
            "an approved subject is one Name"
        );
    }
}

fn ia5(text: &str) -> Result<Ia5String, Refusal> {
    Ia5String::try_from(text.to_owned()).map_err(|_| Refusal {
        profile: String::new(),
        rule: "san".into(),
        detail: "not IA5".into(),
    })
}

/// The subject the certificate gets: the request's attributes the profile
/// copies, in its order; a forbidden one refuses it, a required one missing
/// too. Also its first commonName.
fn subject_of(profile: &Profile, der: &[u8]) -> Result<(Vec<u8>, Option<String>), Refusal> {
    let Name::RdnSequence(rdns) = rasn::der::decode::<Name>(der)
        .map_err(|e| refuse(profile, "subject", format!("not a valid Name: {e}")))?;
    let oid_der = |oid: &ObjectIdentifier| rasn::der::encode(oid).unwrap_or_default();
    let present: Vec<Vec<u8>> =
        rdns.iter().flat_map(|rdn| rdn.iter().map(|atv| oid_der(&atv.r#type))).collect();
    if let Some((short, _)) = profile.subject_forbidden.iter().find(|(_, oid)| present.contains(oid)) {
        return Err(refuse(
            profile,
            "subject.forbidden",
            format!("the request's subject has {short}, which this profile forbids"),
        ));
    }
    if let Some((short, _)) = profile.subject_required.iter().find(|(_, oid)| !present.contains(oid)) {
        return Err(refuse(profile, "subject.required", format!("the request's subject has no {short}")));
    }
    let kept: Vec<RelativeDistinguishedName> = rdns
        .iter()
        .map(|rdn| {
            let atvs: Vec<AttributeTypeAndValue> = rdn
                .iter()
                .filter(|atv| profile.subject_copy.contains(&oid_der(&atv.r#type)))
                .cloned()
                .collect();
            RelativeDistinguishedName::from(SetOf::from_vec(atvs))
        })
        .filter(|rdn| !rdn.is_empty())
        .collect();
    let encoded = rasn::der::encode(&Name::RdnSequence(kept))
        .map_err(|e| refuse(profile, "subject", format!("cannot encode the subject: {e}")))?;
    // rasn writes each SET OF in DER order; re-sorted anyway, so a change
    // there could never make a certificate strict verifiers refuse.
    let subject = cartorio_pkix::der::encode::sort_sets(&encoded)
        .map_err(|e| refuse(profile, "subject", format!("cannot encode the subject: {e}")))?;
    Ok((subject.clone(), cartorio_pkix::csr::common_name(&subject)))
}

/// Whether `profile` issues for `name` (ACME's identifier policy: an
/// order is refused before any validation when the certificate could not be).
pub fn allows(profile: &Profile, name: GeneralName) -> Result<(), Refusal> {
    allowed_name(profile, name).map(|_| ())
}

/// One requested name, if the profile allows it (lowercased DNS names).
fn allowed_name(profile: &Profile, name: GeneralName) -> Result<GeneralName, Refusal> {
    let kind = match &name {
        GeneralName::DnsName(_) => SanType::Dns,
        GeneralName::IpAddress(_) => SanType::Ip,
        GeneralName::Rfc822Name(_) => SanType::Email,
        GeneralName::Uri(_) => SanType::Uri,
        _ => return Err(refuse(profile, "san.types", "only DNS, IP, e-mail and URI names are issued")),
    };
    if !profile.san_types.contains(&kind) {
        return Err(refuse(profile, "san.types", format!("{} names are not allowed here", kind.name())));
    }
    let rules = &profile.san;
    match name {
        GeneralName::DnsName(dns) => {
            let dns = dns.to_string().to_ascii_lowercase();
            if !dns_name(&dns, true) {
                return Err(refuse(profile, "san.dns", format!("{dns:?} is not a DNS name")));
            }
            if dns.starts_with("*.") && !rules.wildcards {
                return Err(refuse(
                    profile,
                    "san.wildcards",
                    format!("{dns:?}: wildcards are not allowed here"),
                ));
            }
            if !rules.dns_suffixes.is_empty() && !rules.dns_suffixes.iter().any(|s| under(&dns, s)) {
                let detail = format!("{dns:?} is not under {}", rules.dns_suffixes.join(", "));
                return Err(refuse(profile, "san.dns_suffixes", detail));
            }
            Ok(GeneralName::DnsName(ia5(&dns)?))
        }
        GeneralName::IpAddress(ip) => {
            let addr =
                ip_of(&ip).ok_or_else(|| refuse(profile, "san.ip", "an IP address is 4 or 16 octets"))?;
            if !rules.ip_ranges.is_empty() && !rules.ip_ranges.iter().any(|net| net.contains(&addr)) {
                return Err(refuse(
                    profile,
                    "san.ip_ranges",
                    format!("{addr} is outside the allowed ranges"),
                ));
            }
            Ok(GeneralName::IpAddress(ip))
        }
        GeneralName::Rfc822Name(email) => {
            let email = email.to_string();
            let domain = email.rsplit_once('@').map(|(local, domain)| (local, domain.to_ascii_lowercase()));
            let Some((local, domain)) = domain.filter(|(l, d)| !l.is_empty() && dns_name(d, false)) else {
                return Err(refuse(profile, "san.email", format!("{email:?} is not an e-mail address")));
            };
            if !rules.email_domains.is_empty() && !rules.email_domains.contains(&domain) {
                let detail = format!("{email:?} is not at {}", rules.email_domains.join(", "));
                return Err(refuse(profile, "san.email_domains", detail));
            }
            Ok(GeneralName::Rfc822Name(ia5(&format!("{local}@{domain}"))?))
        }
        GeneralName::Uri(uri) => {
            let text = uri.to_string();
            if !text.contains(':') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(refuse(profile, "san.uri", format!("{text:?} is not a URI")));
            }
            Ok(GeneralName::Uri(uri))
        }
        _ => Err(refuse(profile, "san.types", "unsupported name")),
    }
}

fn ip_of(octets: &OctetString) -> Option<IpAddr> {
    match octets.len() {
        4 => <[u8; 4]>::try_from(octets.as_ref()).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(octets.as_ref()).ok().map(IpAddr::from),
        _ => None,
    }
}

/// `name` is `suffix` or ends in `.suffix`.
fn under(name: &str, suffix: &str) -> bool {
    name == suffix || name.strip_suffix(suffix).is_some_and(|head| head.ends_with('.'))
}

/// A preferred-syntax DNS name (RFC 1034 letters, digits, hyphens; 63 per
/// label, 253 in all), optionally with a whole `*` leftmost label.
pub fn dns_name(name: &str, wildcard_allowed: bool) -> bool {
    let body = match name.strip_prefix("*.") {
        Some(rest) if wildcard_allowed => rest,
        _ => name,
    };
    !body.is_empty()
        && name.len() <= 253
        && body.split('.').count() >= 2
        && body.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ProfileConfig, Profiles};
    use cartorio_pkix::Signer;
    use cartorio_pkix::der::encode::{bit_string, integer_u64, octet_string, seq, set_of, tlv};

    /// A CSR for `subject` (attribute OID, value) pairs and `sans`
    /// (GeneralName DER each), signed by a fresh P-256 key.
    fn csr(subject: &[(&[u8], &str)], sans: &[Vec<u8>]) -> VerifiedCsr {
        let key = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
        let name = cartorio_pkix::cert::name(subject);
        let attributes = match sans.is_empty() {
            true => vec![0xa0, 0x00],
            false => {
                let refs: Vec<&[u8]> = sans.iter().map(Vec::as_slice).collect();
                let san = seq(&[cartorio_pkix::oid::SUBJECT_ALT_NAME, &octet_string(&seq(&refs))]);
                let request =
                    seq(&[cartorio_pkix::oid::PKCS9_EXTENSION_REQUEST, &set_of(vec![seq(&[&san])])]);
                tlv(0xa0, &[&request])
            }
        };
        let info = seq(&[&integer_u64(0), &name, key.spki(), &attributes]);
        let signature = key.sign(&info).expect("sign");
        VerifiedCsr::from_der(seq(&[&info, key.algorithm(), &bit_string(&signature)])).expect("CSR")
    }

    fn dns(name: &str) -> Vec<u8> {
        tlv(0x82, &[name.as_bytes()])
    }

    fn email(addr: &str) -> Vec<u8> {
        tlv(0x81, &[addr.as_bytes()])
    }

    fn ip(octets: &[u8]) -> Vec<u8> {
        tlv(0x87, &[octets])
    }

    fn profile(toml_text: &str) -> Profile {
        let text = format!(
            "[p]\nissuer = \"tls\"\nvalidity_days = 1\nkey_usage = [\"digitalSignature\"]\n{toml_text}"
        );
        let table: std::collections::BTreeMap<String, ProfileConfig> = toml::from_str(&text).expect("toml");
        Profiles::compile(&table, &["tls"]).expect("profile").get("p").cloned().expect("p")
    }

    fn rule(result: Result<Approved, Refusal>) -> String {
        result.map(|_| "ok".to_owned()).unwrap_or_else(|r| r.rule)
    }

    const CN: &[u8] = cartorio_pkix::oid::COMMON_NAME;

    #[test]
    fn name_rules_are_held_one_by_one() {
        let p = profile(
            r#"san = { types = ["dns", "ip", "email"], dns_suffixes = ["example.com"], ip_ranges = ["10.0.0.0/8"], email_domains = ["example.com"] }"#,
        );
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[dns("a.example.com")]))), "ok");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[dns("a.badexample.com")]))), "san.dns_suffixes");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[dns("*.example.com")]))), "san.wildcards");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[dns("a_b.example.com")]))), "san.dns");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[ip(&[10, 1, 2, 3])]))), "ok");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[ip(&[192, 168, 0, 1])]))), "san.ip_ranges");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[ip(&[1, 2, 3])]))), "san.ip");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[email("m@EXAMPLE.com")]))), "ok");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[email("m@other.org")]))), "san.email_domains");
        assert_eq!(rule(check(&p, &csr(&[(CN, "x")], &[tlv(0x86, &[b"https://x"])]))), "san.types");
        let wild = profile(r#"san = { types = ["dns"], wildcards = true }"#);
        assert_eq!(rule(check(&wild, &csr(&[(CN, "x")], &[dns("*.example.com")]))), "ok");
        assert_eq!(rule(check(&wild, &csr(&[(CN, "x")], &[dns("a.*.example.com")]))), "san.dns");
    }

    #[test]
    fn subject_templates_copy_require_and_forbid() {
        let o = cartorio_pkix::oid::ORGANIZATION;
        let p = profile(r#"subject = { copy = ["CN"], required = ["CN"], forbidden = ["C"] }"#);
        let approved = check(&p, &csr(&[(CN, "kept"), (o, "dropped")], &[])).expect("approved");
        assert_eq!(approved.subject, cartorio_pkix::cert::name(&[(CN, "kept")]), "only CN copied");
        assert_eq!(approved.common_name.as_deref(), Some("kept"));
        assert_eq!(rule(check(&p, &csr(&[(o, "no cn")], &[]))), "subject.required");
        let c = cartorio_pkix::oid::COUNTRY;
        assert_eq!(rule(check(&p, &csr(&[(CN, "x"), (c, "BR")], &[]))), "subject.forbidden");
        // A DNS commonName becomes the SAN, and must be among the SANs.
        let server = profile(
            r#"san = { required = true, types = ["dns"], from_common_name = true, common_name_in_san = true }"#,
        );
        let approved = check(&server, &csr(&[(CN, "www.example.com")], &[])).expect("approved");
        assert_eq!(approved.names.len(), 1);
        assert_eq!(rule(check(&server, &csr(&[(CN, "Jane Doe")], &[]))), "san.required");
        assert_eq!(
            rule(check(&server, &csr(&[(CN, "a.example.com")], &[dns("b.example.com")]))),
            "san.common_name_in_san"
        );
    }

    #[test]
    fn dns_names_and_suffixes() {
        assert!(dns_name("a.example.test", false));
        assert!(!dns_name("*.example.test", false) && dns_name("*.example.test", true));
        assert!(!dns_name("localhost", false), "one label");
        assert!(!dns_name("a..b", false) && !dns_name("-a.b", false) && !dns_name("a_b.c", false));
        assert!(under("x.example.com", "example.com") && under("example.com", "example.com"));
        assert!(!under("badexample.com", "example.com"));
    }
}
