//! Complete DER `Extension`s for the profiles we issue.

use crate::der::encode::{boolean, ia5_string, integer_u64, named_bits, null, octet_string, retag, seq, tlv};
use crate::oid;

/// One `Extension`: its OID (complete DER), criticality and value (DER).
pub fn extension(id: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical { seq(&[id, &boolean(true), &octet_string(value)]) } else { seq(&[id, &octet_string(value)]) }
}

pub fn basic_constraints(ca: bool, path_len: Option<u64>) -> Vec<u8> {
    let ca_part = if ca { boolean(true) } else { Vec::new() };
    let len_part = path_len.map(integer_u64).unwrap_or_default();
    extension(oid::BASIC_CONSTRAINTS, true, &seq(&[&ca_part, &len_part]))
}

/// KeyUsage bit numbers (RFC 5280 §4.2.1.3).
pub mod key_usage {
    pub const DIGITAL_SIGNATURE: u8 = 0;
    pub const KEY_CERT_SIGN: u8 = 5;
    pub const CRL_SIGN: u8 = 6;
}

pub fn key_usage(bits: &[u8]) -> Vec<u8> {
    extension(oid::KEY_USAGE, true, &named_bits(bits))
}

pub fn extended_key_usage(purposes: &[&[u8]], critical: bool) -> Vec<u8> {
    extension(oid::EXT_KEY_USAGE, critical, &seq(purposes))
}

pub fn subject_key_id(key_id: &[u8]) -> Vec<u8> {
    extension(oid::SUBJECT_KEY_ID, false, &octet_string(key_id))
}

pub fn authority_key_id(key_id: &[u8]) -> Vec<u8> {
    // keyIdentifier [0] IMPLICIT OCTET STRING
    extension(oid::AUTHORITY_KEY_ID, false, &seq(&[&tlv(0x80, &[key_id])]))
}

/// Authority Information Access with one OCSP URI.
pub fn aia_ocsp(url: &str) -> Vec<u8> {
    // accessLocation uniformResourceIdentifier [6] IMPLICIT IA5String
    let location = tlv(0x86, &[url.as_bytes()]);
    extension(oid::AUTHORITY_INFO_ACCESS, false, &seq(&[&seq(&[oid::AD_OCSP, &location])]))
}

/// `DistributionPointName` with one URI: `[0] { fullName [0] { [6] uri } }`
/// (the CHOICE makes the outer tag explicit).
pub(crate) fn distribution_point_name(url: &str) -> Vec<u8> {
    tlv(0xa0, &[&tlv(0xa0, &[&tlv(0x86, &[url.as_bytes()])])])
}

/// cRLDistributionPoints with one URI: where this certificate's CRL
/// (shard) is published.
pub fn crl_distribution_points(url: &str) -> Vec<u8> {
    extension(oid::CRL_DISTRIBUTION_POINTS, false, &seq(&[&seq(&[&distribution_point_name(url)])]))
}

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): the value is NULL.
pub fn ocsp_nocheck() -> Vec<u8> {
    extension(oid::OCSP_NOCHECK, false, &null())
}

/// subjectAltName from a list of DNS names.
pub fn subject_alt_dns(names: &[&str]) -> Vec<u8> {
    subject_alt_names(names, &[])
}

/// subjectAltName with DNS names and IP addresses.
pub fn subject_alt_names(dns: &[&str], ips: &[std::net::IpAddr]) -> Vec<u8> {
    let mut entries: Vec<Vec<u8>> = dns.iter().map(|n| retag(ia5_string(n), 0x82)).collect();
    for ip in ips {
        // iPAddress [7] IMPLICIT OCTET STRING: 4 or 16 octets.
        let octets = match ip {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        entries.push(tlv(0x87, &[&octets]));
    }
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    extension(oid::SUBJECT_ALT_NAME, false, &seq(&refs))
}

/// subjectAltName carrying an already encoded GeneralNames value (copied from a CSR).
pub fn subject_alt_raw(general_names: &[u8]) -> Vec<u8> {
    extension(oid::SUBJECT_ALT_NAME, false, general_names)
}
