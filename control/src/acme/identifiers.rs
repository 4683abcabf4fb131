//! Order identifiers: their canonical form, the profile's policy over them,
//! the CSR a finalize brings held to them, and the registered domain rate
//! limits count by.

use super::problem::{AcmeResult, Kind, Problem};
use crate::profile::{Approved, Profile};
use crate::registry::acme::Identifier;
use rasn::types::{Ia5String, OctetString};
use rasn_pkix::{Certificate, Extension, GeneralName, SubjectAltName};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// An identifier in canonical form: DNS names lowercased without a
/// trailing dot, IP addresses in their shortest text (RFC 5952).
pub fn canonical(id: &Identifier) -> AcmeResult<Identifier> {
    let rejected = |detail: String| Problem::new(Kind::RejectedIdentifier, detail);
    match id.kind.as_str() {
        "dns" => {
            let name = id.value.to_ascii_lowercase();
            if name.ends_with('.') {
                return Err(rejected(format!("{:?}: a DNS identifier has no trailing dot", id.value)));
            }
            if !crate::profile::check::dns_name(&name, true) {
                return Err(Problem::malformed(format!("{:?} is not a DNS name", id.value)));
            }
            Ok(Identifier { kind: "dns".into(), value: name })
        }
        "ip" => {
            let addr: IpAddr = id
                .value
                .parse()
                .map_err(|_| Problem::malformed(format!("{:?} is not an IP address", id.value)))?;
            Ok(Identifier { kind: "ip".into(), value: addr.to_string() })
        }
        other => {
            Err(Problem::new(Kind::UnsupportedIdentifier, format!("identifier type {other:?} (dns, ip)")))
        }
    }
}

/// The subjectAltName `id` stands for.
fn general_name(id: &Identifier) -> Option<GeneralName> {
    match id.kind.as_str() {
        "dns" => Ia5String::try_from(id.value.clone()).ok().map(GeneralName::DnsName),
        "ip" => {
            let addr: IpAddr = id.value.parse().ok()?;
            let octets = match addr {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            Some(GeneralName::IpAddress(OctetString::from(octets)))
        }
        _ => None,
    }
}

/// Refuses an order whose identifiers the profile would not issue for,
/// every one named (subproblems).
pub fn check_policy(profile: &Profile, ids: &[Identifier]) -> AcmeResult<()> {
    let mut subproblems = Vec::new();
    for id in ids {
        let refused = match general_name(id) {
            Some(name) => crate::profile::check::allows(profile, name).err().map(|r| r.to_string()),
            None => Some("not a name a certificate can carry".into()),
        };
        if let Some(detail) = refused {
            subproblems.push((Kind::RejectedIdentifier, detail, serde_json::json!(id)));
        }
    }
    if subproblems.is_empty() {
        return Ok(());
    }
    let detail = match subproblems.as_slice() {
        [(_, one, _)] => format!("the server will not issue for this identifier: {one}"),
        many => format!("the server will not issue for {} of the identifiers", many.len()),
    };
    Err(Problem::new(Kind::RejectedIdentifier, detail).with_subproblems(subproblems))
}

/// The identifiers a CSR's approved names stand for.
fn approved_identifiers(approved: &Approved) -> AcmeResult<BTreeSet<(String, String)>> {
    approved
        .names
        .iter()
        .map(|name| match name {
            GeneralName::DnsName(dns) => Ok(("dns".to_owned(), dns.to_string().to_ascii_lowercase())),
            GeneralName::IpAddress(ip) => ip_of(ip)
                .map(|a| ("ip".to_owned(), a.to_string()))
                .ok_or_else(|| Problem::new(Kind::BadCsr, "an IP address is 4 or 16 octets")),
            _ => Err(Problem::new(
                Kind::BadCsr,
                "the CSR names something other than DNS names and IP addresses",
            )),
        })
        .collect()
}

/// The CSR must ask for exactly the order's identifiers (RFC 8555 §7.4).
pub fn csr_matches(approved: &Approved, ids: &[Identifier]) -> AcmeResult<()> {
    let asked = approved_identifiers(approved)?;
    let ordered: BTreeSet<(String, String)> = ids.iter().map(|i| (i.kind.clone(), i.value.clone())).collect();
    if asked == ordered {
        return Ok(());
    }
    let show =
        |set: &BTreeSet<(String, String)>| set.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", ");
    Err(Problem::new(
        Kind::BadCsr,
        format!("the CSR names {}; the order is for {}", show(&asked), show(&ordered)),
    ))
}

/// The registered domain (public suffix + 1) of a DNS name; an IP address
/// stands for itself.
pub fn registered_domain(id: &Identifier) -> String {
    if id.kind != "dns" {
        return id.value.clone();
    }
    let name = id.value.trim_start_matches("*.");
    psl::domain_str(name).unwrap_or(name).to_owned()
}

/// id-ce-subjectAltName, 2.5.29.17.
const SUBJECT_ALT_NAME: [u32; 4] = [2, 5, 29, 17];

/// A certificate's extension `oid`, if it has it.
pub fn extension<'a>(cert: &'a Certificate, oid: &[u32]) -> Option<&'a Extension> {
    cert.tbs_certificate.extensions.as_ref()?.iter().find(|e| {
        let id: &[u32] = &e.extn_id;
        id == oid
    })
}

/// A certificate's subjectAltNames (none when it has no valid extension).
pub fn subject_alt_names(cert: &Certificate) -> Vec<GeneralName> {
    extension(cert, &SUBJECT_ALT_NAME)
        .and_then(|san| rasn::der::decode::<SubjectAltName>(&san.extn_value).ok())
        .unwrap_or_default()
}

/// The DNS names and IP addresses a certificate names, as identifiers.
pub fn of_certificate(der: &[u8]) -> Vec<Identifier> {
    let Ok(cert) = rasn::der::decode::<Certificate>(der) else { return Vec::new() };
    subject_alt_names(&cert)
        .iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => Some(Identifier { kind: "dns".into(), value: dns.to_string() }),
            GeneralName::IpAddress(ip) => {
                ip_of(ip).map(|a| Identifier { kind: "ip".into(), value: a.to_string() })
            }
            _ => None,
        })
        .collect()
}

fn ip_of(octets: &OctetString) -> Option<IpAddr> {
    match octets.len() {
        4 => <[u8; 4]>::try_from(octets.as_ref()).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(octets.as_ref()).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The name a wildcard identifier is validated for (its base domain).
pub fn validated_name(id: &Identifier) -> (&str, bool) {
    match id.value.strip_prefix("*.") {
        Some(base) if id.kind == "dns" => (base, true),
        _ => (id.value.as_str(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, value: &str) -> Identifier {
        Identifier { kind: kind.into(), value: value.into() }
    }

    #[test]
    fn identifiers_are_canonical_or_refused() {
        assert_eq!(canonical(&id("dns", "WWW.Example.ORG")).expect("dns").value, "www.example.org");
        assert_eq!(canonical(&id("ip", "::ffff:0:1")).expect("ip").value, "::ffff:0.0.0.1");
        assert_eq!(canonical(&id("ip", "2001:DB8::0:1")).expect("ip").value, "2001:db8::1");
        assert_eq!(canonical(&id("dns", "a.example.")).unwrap_err().kind, Kind::RejectedIdentifier);
        assert_eq!(canonical(&id("dns", "a_b.example")).unwrap_err().kind, Kind::Malformed);
        assert_eq!(canonical(&id("email", "a@b.c")).unwrap_err().kind, Kind::UnsupportedIdentifier);
    }

    #[test]
    fn rate_limits_count_by_registered_domain() {
        assert_eq!(registered_domain(&id("dns", "a.b.example.co.uk")), "example.co.uk");
        assert_eq!(registered_domain(&id("dns", "*.www.example.com")), "example.com");
        assert_eq!(registered_domain(&id("ip", "192.0.2.1")), "192.0.2.1");
        assert_eq!(validated_name(&id("dns", "*.example.com")), ("example.com", true));
    }
}
