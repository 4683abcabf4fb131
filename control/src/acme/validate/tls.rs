//! TLS as validation speaks it: the server's certificate is not checked
//! against any root (RFC 8555 §8.3 for https redirects; RFC 8737 for
//! tls-alpn-01, whose certificate is self-signed), but the handshake's
//! signature is: the peer must hold the key of the certificate it shows.

use cartorio_pkix::der::{self, Reader, tag};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, PeerMisbehaved, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_with_key(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 signs with neither PKCS#1 v1.5 nor SHA-1 (RFC 8446 §4.2.3).
        let legacy = matches!(
            dss.scheme,
            SignatureScheme::RSA_PKCS1_SHA1
                | SignatureScheme::ECDSA_SHA1_Legacy
                | SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
        );
        if legacy {
            return Err(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        }
        verify_with_key(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A certificate's key: its AlgorithmIdentifier's contents and its bits.
fn public_key(cert: &[u8]) -> Option<(&[u8], &[u8])> {
    let view = cartorio_pkix::cert::CertificateView::parse(cert).ok()?;
    let spki = der::single(view.spki, tag::SEQUENCE).ok()?;
    let mut fields = Reader::new(spki.value);
    let algorithm = fields.expect(tag::SEQUENCE).ok()?.value;
    let bits = fields.expect(tag::BIT_STRING).ok()?.value;
    match bits.split_first() {
        Some((0, key)) => Some((algorithm, key)),
        _ => None,
    }
}

/// Checks the handshake signature with the certificate's key alone.
/// rustls's own check parses the certificate with webpki, which refuses
/// the critical acmeIdentifier extension every tls-alpn-01 certificate has.
fn verify_with_key(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let (algorithm, key) =
        public_key(cert.as_ref()).ok_or(rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let verifies = algorithms
        .mapping
        .iter()
        .filter(|(scheme, _)| *scheme == dss.scheme)
        .flat_map(|(_, candidates)| candidates.iter())
        .any(|alg| {
            alg.public_key_alg_id().as_ref() == algorithm
                && alg.verify_signature(key, message, dss.signature()).is_ok()
        });
    match verifies {
        true => Ok(HandshakeSignatureValid::assertion()),
        false => Err(rustls::Error::InvalidCertificate(CertificateError::BadSignature)),
    }
}

/// A client configuration offering `alpn`, accepting any certificate whose
/// key signed the handshake.
pub fn client_config(alpn: &[&[u8]]) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name to connect to `host` by (https redirects): its DNS name, or
/// its address.
pub fn server_name(host: &super::Host) -> Option<ServerName<'static>> {
    match host {
        super::Host::Dns(name) => ServerName::try_from(name.clone()).ok(),
        super::Host::Ip(ip) => Some(ServerName::IpAddress((*ip).into())),
    }
}

/// The name to send as SNI for `host`: a DNS name as is, an IP address as
/// its reverse-mapping name (RFC 8738 §6).
pub fn sni(host: &super::Host) -> Option<ServerName<'static>> {
    let name = match host {
        super::Host::Dns(name) => name.clone(),
        super::Host::Ip(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        super::Host::Ip(std::net::IpAddr::V6(v6)) => {
            let nibbles: Vec<String> =
                v6.octets().iter().rev().flat_map(|b| [b & 0x0f, b >> 4]).map(|n| format!("{n:x}")).collect();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    };
    ServerName::try_from(name).ok()
}

#[cfg(test)]
mod tests {
    use super::super::Host;
    use super::*;

    #[test]
    fn ip_addresses_are_named_by_their_reverse_mapping() {
        let v4 = sni(&Host::Ip("192.0.2.10".parse().expect("ip"))).expect("name");
        assert_eq!(v4.to_str(), "10.2.0.192.in-addr.arpa");
        let v6 = sni(&Host::Ip("2001:db8::1".parse().expect("ip"))).expect("name");
        assert!(v6.to_str().starts_with("1.0.0.0.") && v6.to_str().ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
    }
}
