//! TLS as validation speaks it: the server's certificate is not checked
//! against any root (RFC 8555 §8.3 for https redirects; RFC 8737 for
//! tls-alpn-01, whose certificate is self-signed), but the handshake's
//! signature is: the peer must hold the key of the certificate it shows.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
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
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
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
