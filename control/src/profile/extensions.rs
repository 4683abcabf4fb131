//! The extensions a profile gives a certificate. The ones this module adds
//! (subjectAltName from checked names, certificatePolicies, AIA with OCSP
//! and caIssuers, cRLDistributionPoints, noRevAvail) are built with rasn's
//! typed structures; the small fixed ones come from `cartorio_pkix`.

use super::{Approved, Profile};
use cartorio_pkix::cert::extensions::{self as ext, extension};
use rasn::types::{Any, Ia5String, ObjectIdentifier};
use rasn_pkix::{
    AccessDescription, DistributionPoint, DistributionPointName, GeneralName, PolicyInformation,
    PolicyQualifierInfo,
};

/// Where a certificate's revocation status and issuer are published.
#[derive(Debug, Clone, Default)]
pub struct Pointers {
    pub ocsp: Option<String>,
    pub ca_issuers: Option<String>,
    pub crl: Option<String>,
}

const ID_QT_CPS: &str = "1.3.6.1.5.5.7.2.1";
const ID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const ID_AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
const ID_CE_CERTIFICATE_POLICIES: &str = "2.5.29.32";
/// RFC 9608.
const ID_CE_NO_REV_AVAIL: &str = "2.5.29.56";

fn oid(dotted: &str) -> anyhow::Result<ObjectIdentifier> {
    let der = cartorio_pkix::oid::from_dotted(dotted).ok_or_else(|| anyhow::anyhow!("bad OID {dotted}"))?;
    rasn::der::decode(&der).map_err(|e| anyhow::anyhow!("OID {dotted}: {e}"))
}

fn der_oid(dotted: &str) -> anyhow::Result<Vec<u8>> {
    cartorio_pkix::oid::from_dotted(dotted).ok_or_else(|| anyhow::anyhow!("bad OID {dotted}"))
}

fn uri(url: &str) -> anyhow::Result<GeneralName> {
    Ok(GeneralName::Uri(
        Ia5String::try_from(url.to_owned()).map_err(|_| anyhow::anyhow!("{url:?} is not IA5"))?,
    ))
}

fn encode<T: rasn::Encode>(value: &T) -> anyhow::Result<Vec<u8>> {
    rasn::der::encode(value).map_err(|e| anyhow::anyhow!("encoding an extension: {e}"))
}

/// Every extension of an end-entity certificate under `profile`.
pub fn for_profile(
    profile: &Profile,
    approved: &Approved,
    subject_key_id: &[u8],
    authority_key_id: &[u8],
    pointers: &Pointers,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = vec![
        ext::subject_key_id(subject_key_id),
        ext::authority_key_id(authority_key_id),
        ext::basic_constraints(false, None),
        ext::key_usage(&profile.key_usage),
    ];
    if !profile.extended_key_usage.is_empty() {
        let purposes: Vec<&[u8]> = profile.extended_key_usage.iter().map(Vec::as_slice).collect();
        out.push(ext::extended_key_usage(&purposes, profile.extended_key_usage_critical));
    }
    if !approved.names.is_empty() {
        // RFC 5280 §4.2.1.6: critical when the subject is empty.
        let subject_empty = approved.subject.get(1) == Some(&0);
        out.push(extension(&der_oid("2.5.29.17")?, subject_empty, &encode(&approved.names)?));
    }
    if !profile.policies.is_empty() {
        let qualifiers = match &profile.cps_uri {
            Some(cps) => {
                let value =
                    Ia5String::try_from(cps.clone()).map_err(|_| anyhow::anyhow!("cps_uri is not IA5"))?;
                Some(vec![PolicyQualifierInfo { id: oid(ID_QT_CPS)?, qualifier: Any::new(encode(&value)?) }])
            }
            None => None,
        };
        let policies = profile
            .policies
            .iter()
            .map(|der| {
                let policy_identifier =
                    rasn::der::decode(der).map_err(|e| anyhow::anyhow!("policy OID: {e}"))?;
                anyhow::Ok(PolicyInformation { policy_identifier, policy_qualifiers: qualifiers.clone() })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.push(extension(&der_oid(ID_CE_CERTIFICATE_POLICIES)?, false, &encode(&policies)?));
    }
    let mut access = Vec::new();
    if let (true, Some(url)) = (profile.aia_ocsp, &pointers.ocsp) {
        access.push(AccessDescription { access_method: oid(ID_AD_OCSP)?, access_location: uri(url)? });
    }
    if let (true, Some(url)) = (profile.aia_ca_issuers, &pointers.ca_issuers) {
        access.push(AccessDescription { access_method: oid(ID_AD_CA_ISSUERS)?, access_location: uri(url)? });
    }
    if !access.is_empty() {
        out.push(extension(cartorio_pkix::oid::AUTHORITY_INFO_ACCESS, false, &encode(&access)?));
    }
    if let (true, Some(url)) = (profile.crl_distribution_points, &pointers.crl) {
        let point = DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        };
        out.push(extension(cartorio_pkix::oid::CRL_DISTRIBUTION_POINTS, false, &encode(&vec![point])?));
    }
    if profile.no_revocation_info {
        out.push(extension(&der_oid(ID_CE_NO_REV_AVAIL)?, false, &cartorio_pkix::der::encode::null()));
    }
    Ok(out)
}
