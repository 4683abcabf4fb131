//! tls-alpn-01 (RFC 8737): a TLS handshake on the validation port offering
//! only ALPN `acme-tls/1`, with SNI the name validated, must present a
//! certificate naming exactly that name and carrying the critical
//! acmeIdentifier extension: the SHA-256 of the key authorization.

use super::{Host, Validator, tls};
use crate::acme::identifiers;
use crate::acme::problem::{Kind, Problem};
use rasn::types::OctetString;
use rasn_pkix::{Certificate, GeneralName};

const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
/// id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31.
const ACME_IDENTIFIER: [u32; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 31];

fn tls_problem(detail: String) -> Problem {
    Problem::new(Kind::Tls, detail)
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(Kind::Unauthorized, format!("tls-alpn-01: {detail}"))
}

pub async fn validate(v: &Validator, host: &Host, key_authorization: &str) -> Result<(), Problem> {
    let stream = v.connect(host, v.config.tls_port).await?;
    let name = tls::sni(host).ok_or_else(|| tls_problem("a name TLS cannot carry".into()))?;
    let config = tls::client_config(&[ACME_TLS_ALPN]).map_err(|e| Problem::internal(&e))?;
    let port = v.config.tls_port;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| tls_problem(format!("TLS with {}: {e}", host.authority(port, 443))))?;
    let (_, conn) = tls.get_ref();
    if conn.alpn_protocol() != Some(ACME_TLS_ALPN) {
        return Err(unauthorized("the server did not negotiate ALPN acme-tls/1"));
    }
    let cert = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or_else(|| unauthorized("the server sent no certificate"))?;
    check_certificate(cert.as_ref(), host, key_authorization)
}

/// The certificate names `host` alone and proves `key_authorization`.
pub fn check_certificate(der: &[u8], host: &Host, key_authorization: &str) -> Result<(), Problem> {
    let cert =
        rasn::der::decode::<Certificate>(der).map_err(|_| unauthorized("the certificate does not parse"))?;
    let names = identifiers::subject_alt_names(&cert);
    let names_host = match (names.as_slice(), host) {
        ([GeneralName::DnsName(dns)], Host::Dns(name)) => dns.to_string().eq_ignore_ascii_case(name),
        ([GeneralName::IpAddress(ip)], Host::Ip(addr)) => {
            let octets = match addr {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            ip.as_ref() == octets.as_slice()
        }
        _ => false,
    };
    if !names_host {
        return Err(unauthorized("the certificate must name exactly the identifier validated"));
    }
    let proof = identifiers::extension(&cert, &ACME_IDENTIFIER)
        .ok_or_else(|| unauthorized("the certificate has no acmeIdentifier"))?;
    if !proof.critical {
        return Err(unauthorized("the acmeIdentifier extension must be critical"));
    }
    let digest = rasn::der::decode::<OctetString>(&proof.extn_value)
        .map_err(|_| unauthorized("the acmeIdentifier is not an OCTET STRING"))?;
    let expected = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
    if digest.as_ref() != expected.as_ref() {
        return Err(unauthorized("the acmeIdentifier is not the SHA-256 of the key authorization"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartorio_pkix::cert::extensions::{extension, subject_alt_dns};
    use cartorio_pkix::cert::{CertificateTemplate, build_certificate, name};
    use cartorio_pkix::der::encode::octet_string;
    use cartorio_pkix::{EcCurve, Signer};

    /// A self-signed certificate as a tls-alpn-01 client makes it.
    fn challenge_cert(dns: &str, acme_identifier: Option<(bool, &[u8])>) -> Vec<u8> {
        let key = cartorio_testkit::pki::ec_key(EcCurve::P256);
        let mut extensions = vec![subject_alt_dns(&[dns])];
        if let Some((critical, digest)) = acme_identifier {
            let oid = cartorio_pkix::oid::from_dotted("1.3.6.1.5.5.7.1.31").expect("oid");
            extensions.push(extension(&oid, critical, &octet_string(digest)));
        }
        let template = CertificateTemplate {
            serial: vec![1],
            issuer: name(&[]),
            subject: name(&[]),
            not_before: 0,
            not_after: 3600,
            spki: key.spki().to_vec(),
            extensions,
        };
        build_certificate(&template, &key).expect("certificate")
    }

    #[test]
    fn the_certificate_must_prove_the_key_authorization_for_the_name() {
        let host = Host::Dns("a.example".into());
        let digest = ring::digest::digest(&ring::digest::SHA256, b"tok.thumb");
        let good = challenge_cert("a.example", Some((true, digest.as_ref())));
        assert!(check_certificate(&good, &host, "tok.thumb").is_ok());
        assert!(check_certificate(&good, &host, "tok.other").is_err(), "another key authorization");
        assert!(
            check_certificate(&good, &Host::Dns("b.example".into()), "tok.thumb").is_err(),
            "another name"
        );
        let lax = challenge_cert("a.example", Some((false, digest.as_ref())));
        assert!(check_certificate(&lax, &host, "tok.thumb").is_err(), "not critical");
        let bare = challenge_cert("a.example", None);
        assert!(check_certificate(&bare, &host, "tok.thumb").is_err(), "no acmeIdentifier");
    }
}
